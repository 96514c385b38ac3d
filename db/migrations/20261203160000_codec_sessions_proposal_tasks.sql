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

-- A proposal's automatic tasks (its PDF or its signed copy could not be rendered): at most
-- one per proposal and kind, as an invoice's.
ALTER TABLE tasks ADD COLUMN proposal_id uuid REFERENCES proposals (id);
CREATE UNIQUE INDEX tasks_auto_once_proposal ON tasks (proposal_id, kind)
    WHERE kind <> 'manual' AND proposal_id IS NOT NULL;

-- migrate:down
DROP INDEX tasks_auto_once_proposal;
ALTER TABLE tasks DROP COLUMN proposal_id;
DROP TABLE codec_sessions;
