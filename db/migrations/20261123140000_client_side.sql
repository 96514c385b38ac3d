-- migrate:up

-- The drawn signature (PNG) and the hash of the consent text the signer ticked.
ALTER TABLE signatures
    ADD COLUMN signature_image_key text REFERENCES documents (key),
    ADD COLUMN consent_sha256 text NOT NULL DEFAULT '';

-- The proposal PDF followed by its signature certificate page.
ALTER TABLE proposals ADD COLUMN signed_document_key text REFERENCES documents (key);

-- Inbound webhooks refused for a bad or stale signature: kept for operators, never acted on.
CREATE TABLE webhook_rejections (
    id bigserial PRIMARY KEY,
    source text NOT NULL,
    reason text NOT NULL,
    remote_ip text NOT NULL DEFAULT '',
    signature_header text NOT NULL DEFAULT '',
    body_sha256 text NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
);

-- Payments a provider reported that could not be applied: surfaced to operators, never dropped.
CREATE TABLE unmatched_payments (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    webhook_event_id bigint UNIQUE REFERENCES webhook_events (id),
    invoice_ref text NOT NULL,
    invoice_id uuid REFERENCES invoices (id),
    amount numeric(20, 4) NOT NULL,
    currency char(3) NOT NULL,
    reference text NOT NULL,
    paid_at timestamptz,
    reason text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    resolved_at timestamptz
);

-- migrate:down
DROP TABLE unmatched_payments, webhook_rejections;
ALTER TABLE proposals DROP COLUMN signed_document_key;
ALTER TABLE signatures DROP COLUMN signature_image_key, DROP COLUMN consent_sha256;
