-- migrate:up

-- Each document kind numbers in its own series (number_series kind 'proposal' and
-- 'credit_note'); these are the series a company's new proposals and credit notes use.
ALTER TABLE companies
    ADD COLUMN proposal_series text NOT NULL DEFAULT 'OF'
        CHECK (proposal_series ~ '^[A-Za-z0-9]{1,20}$'),
    ADD COLUMN credit_note_series text NOT NULL DEFAULT 'CN'
        CHECK (credit_note_series ~ '^[A-Za-z0-9]{1,20}$');

-- A proposal is numbered when it is first sent (a draft kept with send: false has none);
-- issue_date is that day in the company's time zone.
ALTER TABLE proposals
    ADD COLUMN series text,
    ADD COLUMN number text,
    ADD COLUMN issue_date date,
    ADD CONSTRAINT proposals_company_number_key UNIQUE (company_id, number);

-- A credit note (storno) cancels one issued invoice in full: at most one per invoice, ever.
-- Its amounts are the original's negated, per VAT group, frozen when it is issued; its
-- lines are the original's lines with the quantity and the net negated (read from
-- invoice_lines, which cannot change once an invoice is numbered).
CREATE TABLE credit_notes (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    company_id uuid NOT NULL REFERENCES companies (id),
    client_id uuid NOT NULL REFERENCES clients (id),
    invoice_id uuid NOT NULL UNIQUE REFERENCES invoices (id),
    series text NOT NULL,
    number text NOT NULL,
    issue_date date NOT NULL,
    currency char(3) NOT NULL,
    subtotal numeric(20, 4) NOT NULL CHECK (subtotal <= 0),
    vat_total numeric(20, 4) NOT NULL CHECK (vat_total <= 0),
    total numeric(20, 4) NOT NULL CHECK (total <= 0),
    -- [{"rate": "21", "category": "standard", "base": "-2500.00", "vat": "-525.00"}, ...]
    vat_groups jsonb NOT NULL,
    original_number text NOT NULL,
    original_issue_date date NOT NULL,
    reason text NOT NULL DEFAULT '',
    -- What the client had paid on the original (net of refunds) when it was voided: still
    -- recorded on the voided invoice, to be refunded (POST /api/v1/invoices/{id}/refunds).
    amount_received numeric(20, 4) NOT NULL DEFAULT 0 CHECK (amount_received >= 0),
    document_key text REFERENCES documents (key),
    issued_at timestamptz NOT NULL,
    sent_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (company_id, number)
);
CREATE INDEX credit_notes_client_idx ON credit_notes (client_id);

-- The other direction of the link, so every read of an invoice shows its credit note
-- (numbers never change, so the copy of the number cannot go stale).
ALTER TABLE invoices
    ADD COLUMN credit_note_id uuid UNIQUE REFERENCES credit_notes (id),
    ADD COLUMN credit_note_number text;

-- migrate:down
ALTER TABLE invoices DROP COLUMN credit_note_number, DROP COLUMN credit_note_id;
DROP TABLE credit_notes;
ALTER TABLE proposals
    DROP CONSTRAINT proposals_company_number_key,
    DROP COLUMN issue_date,
    DROP COLUMN number,
    DROP COLUMN series;
ALTER TABLE companies DROP COLUMN credit_note_series, DROP COLUMN proposal_series;
