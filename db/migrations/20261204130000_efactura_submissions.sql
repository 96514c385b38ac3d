-- migrate:up

-- RO e-Factura: one row per issued invoice or credit note of a Romanian seller (or one
-- marked not_required), what was uploaded to ANAF's SPV and what ANAF answered. The
-- upload intent (upload_started_at + xml_sha256) is committed before the upload, so a
-- worker that dies before recording the index finds its upload again in ANAF's message
-- list instead of uploading twice.
CREATE TABLE efactura_submissions (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    document_kind text NOT NULL CHECK (document_kind IN ('invoice', 'credit_note')),
    document_id uuid NOT NULL,
    company_id uuid NOT NULL REFERENCES companies (id),
    status text NOT NULL DEFAULT 'pending'
        CHECK (status IN ('not_required', 'pending', 'uploaded', 'accepted', 'rejected')),
    xml_key text REFERENCES documents (key),
    xml_sha256 text NOT NULL DEFAULT '',
    upload_index text CHECK (length(upload_index) <= 50),
    download_id text CHECK (length(download_id) <= 50),
    errors jsonb NOT NULL DEFAULT '[]',
    upload_started_at timestamptz,
    uploaded_at timestamptz,
    answered_at timestamptz,
    answer_key text REFERENCES documents (key),
    attempts integer NOT NULL DEFAULT 0,
    issued_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (document_kind, document_id)
);
CREATE INDEX efactura_submissions_open ON efactura_submissions (status)
    WHERE status IN ('pending', 'uploaded', 'rejected');

-- The operator tasks a submission opens: ANAF refused it, the 5-day deadline is near, q2c
-- is not connected to ANAF. A credit note's tasks hang on its invoice, as its refund does.
-- (tasks.kind is free text: no constraint to widen.)

-- migrate:down
DROP TABLE efactura_submissions;
