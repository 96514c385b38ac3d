-- migrate:up
-- A company's ANAF OAuth2 tokens (issue 14, point 6), encrypted at rest: each column holds
-- the 12-byte nonce and the AES-256-GCM ciphertext under the payload key `key_id`
-- (Q2C_PAYLOAD_KEYS, the same ring as Temporal's payloads, so one secret to manage and to
-- rotate). The company and the column name are authenticated with it, so a ciphertext
-- moved to another row or column does not decrypt. `oauth_url` is the OAuth server that
-- issued them: tokens of the local stand-in are never sent to ANAF.
CREATE TABLE efactura_tokens (
    company_id uuid PRIMARY KEY REFERENCES companies (id),
    key_id text NOT NULL,
    access_token bytea NOT NULL,
    refresh_token bytea NOT NULL,
    access_expires_at timestamptz NOT NULL,
    oauth_url text NOT NULL,
    connected_at timestamptz NOT NULL DEFAULT now(),
    connected_by text NOT NULL,
    refreshed_at timestamptz
);

-- The `state` of an authorization started by an operator (POST /api/v1/efactura/connect):
-- ANAF's redirect brings it back with the code, and only an unexpired, unused state of a
-- known operator may store tokens. Stored hashed, as every token q2c hands out.
CREATE TABLE efactura_oauth_states (
    state_hash text PRIMARY KEY,
    company_id uuid NOT NULL REFERENCES companies (id),
    operator_id uuid NOT NULL REFERENCES operators (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at timestamptz
);

-- migrate:down
DROP TABLE efactura_oauth_states;
DROP TABLE efactura_tokens;
