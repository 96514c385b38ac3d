-- migrate:up

-- What the signing page or a verified e-sign webhook recorded when a client answered a
-- proposal, written in the transaction that claims the signing link (or after the
-- provider's HMAC was checked). The workflow's `sign` / `decline` signal only names one of
-- these rows; the activity that applies it accepts it only if it matches, and consumes it,
-- so a signal sent from anywhere else (the Temporal UI) cannot make a signature.
CREATE TABLE proposal_answers (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    proposal_id uuid NOT NULL REFERENCES proposals (id),
    kind text NOT NULL CHECK (kind IN ('sign', 'decline')),
    source text NOT NULL CHECK (source IN ('page', 'esign')),
    -- The claimed signing link (page) or the provider's event id (esign).
    token_hash text,
    provider_event_id text,
    document_sha256 text NOT NULL DEFAULT '',
    signer_name text NOT NULL DEFAULT '',
    signer_email text NOT NULL DEFAULT '',
    consent_text text NOT NULL DEFAULT '',
    reason text NOT NULL DEFAULT '',
    ip text NOT NULL DEFAULT '',
    user_agent text NOT NULL DEFAULT '',
    signature_image_key text NOT NULL DEFAULT '',
    answered_at timestamptz NOT NULL,
    consumed_at timestamptz,
    CHECK ((source = 'page') = (token_hash IS NOT NULL)),
    CHECK ((source = 'esign') = (provider_event_id IS NOT NULL))
);

CREATE INDEX proposal_answers_proposal_idx ON proposal_answers (proposal_id);

-- migrate:down

DROP TABLE proposal_answers;
