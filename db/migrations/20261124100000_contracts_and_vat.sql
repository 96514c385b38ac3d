-- migrate:up

-- A contract with a client: invoices can be made from it directly (no proposal), with its
-- currency, payment terms and default lines (or rates: a line whose quantity the invoice
-- gives). Numbers are the parties' own, unique per company.
CREATE TABLE contracts (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    company_id uuid NOT NULL REFERENCES companies (id),
    client_id uuid NOT NULL REFERENCES clients (id),
    number text NOT NULL CHECK (number <> ''),
    contract_date date NOT NULL,
    subject text NOT NULL DEFAULT '',
    currency char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    payment_terms_days integer NOT NULL CHECK (payment_terms_days >= 0),
    prices_include_vat boolean NOT NULL DEFAULT false,
    discount_percent numeric(7, 4) NOT NULL DEFAULT 0
        CHECK (discount_percent BETWEEN 0 AND 100),
    notes text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (company_id, number)
);
CREATE INDEX contracts_client_idx ON contracts (client_id);

-- vat_category: domain.vat.VatCategory. NULL (rows written before this migration, or by
-- code that does not set it) reads as the rule: standard above 0 %, zero at 0 %.
-- vat_legal_basis: the provision an exempt line rests on, printed with its mention.
CREATE TABLE contract_lines (
    contract_id uuid NOT NULL REFERENCES contracts (id) ON DELETE CASCADE,
    position integer NOT NULL,
    description text NOT NULL,
    quantity numeric(20, 4) NOT NULL CHECK (quantity > 0),
    unit text NOT NULL DEFAULT '',
    unit_price numeric(20, 4) NOT NULL CHECK (unit_price >= 0),
    discount_percent numeric(7, 4) NOT NULL DEFAULT 0,
    vat_rate numeric(7, 4) NOT NULL,
    vat_category text CHECK (vat_category IN (
        'standard', 'reduced', 'zero', 'exempt', 'reverse_charge', 'not_subject')),
    vat_legal_basis text NOT NULL DEFAULT '',
    PRIMARY KEY (contract_id, position)
);

ALTER TABLE proposal_lines
    ADD COLUMN vat_category text CHECK (vat_category IN (
        'standard', 'reduced', 'zero', 'exempt', 'reverse_charge', 'not_subject')),
    ADD COLUMN vat_legal_basis text NOT NULL DEFAULT '';
ALTER TABLE invoice_lines
    ADD COLUMN vat_category text CHECK (vat_category IN (
        'standard', 'reduced', 'zero', 'exempt', 'reverse_charge', 'not_subject')),
    ADD COLUMN vat_legal_basis text NOT NULL DEFAULT '';

-- Prices entered with VAT (gross) or without; a discount on the whole document (percent,
-- per VAT group, before VAT). Proposals and their invoices may reference a contract.
ALTER TABLE proposals
    ADD COLUMN contract_id uuid REFERENCES contracts (id),
    ADD COLUMN prices_include_vat boolean NOT NULL DEFAULT false,
    ADD COLUMN discount_percent numeric(7, 4) NOT NULL DEFAULT 0
        CHECK (discount_percent BETWEEN 0 AND 100);

-- exchange_rate: lei per unit of the invoice's currency, recorded on a Romanian seller's
-- invoice in another currency (its VAT is printed in RON too, Codul fiscal art. 319).
-- approval_error: why the last approval was refused (the invoice stays in review).
ALTER TABLE invoices
    ADD COLUMN contract_id uuid REFERENCES contracts (id),
    ADD COLUMN prices_include_vat boolean NOT NULL DEFAULT false,
    ADD COLUMN discount_percent numeric(7, 4) NOT NULL DEFAULT 0
        CHECK (discount_percent BETWEEN 0 AND 100),
    ADD COLUMN exchange_rate numeric(20, 6) CHECK (exchange_rate > 0),
    ADD COLUMN approval_error text;
CREATE INDEX invoices_contract_idx ON invoices (contract_id) WHERE contract_id IS NOT NULL;

-- The Idempotency-Key of the request that made an invoice from a contract: a retried request
-- (a timeout, a double click) finds the invoice the first one made instead of a second one.
ALTER TABLE invoices ADD COLUMN request_key text;
CREATE UNIQUE INDEX invoices_request_key_idx ON invoices (company_id, request_key)
    WHERE request_key IS NOT NULL;

-- migrate:down
DROP INDEX invoices_request_key_idx;
ALTER TABLE invoices DROP COLUMN request_key;
DROP INDEX invoices_contract_idx;
ALTER TABLE invoices
    DROP COLUMN approval_error,
    DROP COLUMN exchange_rate,
    DROP COLUMN discount_percent,
    DROP COLUMN prices_include_vat,
    DROP COLUMN contract_id;
ALTER TABLE proposals
    DROP COLUMN discount_percent,
    DROP COLUMN prices_include_vat,
    DROP COLUMN contract_id;
ALTER TABLE invoice_lines DROP COLUMN vat_legal_basis, DROP COLUMN vat_category;
ALTER TABLE proposal_lines DROP COLUMN vat_legal_basis, DROP COLUMN vat_category;
DROP TABLE contract_lines, contracts;
