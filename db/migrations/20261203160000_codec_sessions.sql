-- migrate:up
-- Sessions of the codec's login page (starter/api/routers/codec.py): the Temporal UI sends
-- no operator key, only the browser's cookie, so an operator logs in once with their key
-- and the cookie carries an opaque token. Only the token's SHA-256 is kept (256-bit random
-- tokens, as for keys). A session is valid while unexpired and not ended, and only while
-- its operator is unrevoked and has not rotated their key since it began.
CREATE TABLE codec_sessions (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    token_hash text NOT NULL UNIQUE,
    operator_id uuid NOT NULL REFERENCES operators (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    ended_at timestamptz
);
CREATE INDEX codec_sessions_operator ON codec_sessions (operator_id);

-- migrate:down
DROP TABLE codec_sessions;
