-- migrate:up

-- Legal details (requisites), entered once and printed on every document. Which fields a
-- party uses depends on its country (domain/requisites.validate_party checks them):
-- RO: tax_id (CUI/CIF, with or without RO), registration_number (Reg. Com.), iban, bank;
-- RU: tax_id (ИНН), kpp, registration_number (ОГРН/ОГРНИП), bank, bik, settlement_account
-- (р/с), correspondent_account (к/с); EU: vat_id. Blank means "not set".
ALTER TABLE companies
    ADD COLUMN vat_id text NOT NULL DEFAULT '',
    ADD COLUMN kpp text NOT NULL DEFAULT '',
    ADD COLUMN bic text NOT NULL DEFAULT '',
    ADD COLUMN bik text NOT NULL DEFAULT '',
    ADD COLUMN settlement_account text NOT NULL DEFAULT '',
    ADD COLUMN correspondent_account text NOT NULL DEFAULT '',
    ADD COLUMN phone text NOT NULL DEFAULT '',
    ADD COLUMN director_name text NOT NULL DEFAULT '',
    ADD COLUMN accountant_name text NOT NULL DEFAULT '',
    -- Branding: a documents-table key or a file path for the logo, an accent colour
    -- (#rrggbb) and a footer line, used by the PDF templates.
    ADD COLUMN logo text NOT NULL DEFAULT '',
    ADD COLUMN accent_color text NOT NULL DEFAULT '#1f4e79'
        CHECK (accent_color ~ '^#[0-9a-fA-F]{6}$'),
    ADD COLUMN footer_text text NOT NULL DEFAULT '';

ALTER TABLE clients
    ADD COLUMN legal_form text NOT NULL DEFAULT '',
    ADD COLUMN vat_id text NOT NULL DEFAULT '',
    ADD COLUMN kpp text NOT NULL DEFAULT '',
    ADD COLUMN iban text NOT NULL DEFAULT '',
    ADD COLUMN bank_name text NOT NULL DEFAULT '',
    ADD COLUMN bic text NOT NULL DEFAULT '',
    ADD COLUMN bik text NOT NULL DEFAULT '',
    ADD COLUMN settlement_account text NOT NULL DEFAULT '',
    ADD COLUMN correspondent_account text NOT NULL DEFAULT '';

-- A company's bank accounts: several per currency, at most one default per currency (the
-- one printed on a document in that currency). An account is an IBAN (with a BIC) or a
-- Russian р/с with its bank's БИК and к/с.
CREATE TABLE company_bank_accounts (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    company_id uuid NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    currency char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    bank_name text NOT NULL DEFAULT '',
    iban text NOT NULL DEFAULT '',
    bic text NOT NULL DEFAULT '',
    settlement_account text NOT NULL DEFAULT '',
    bik text NOT NULL DEFAULT '',
    correspondent_account text NOT NULL DEFAULT '',
    is_default boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    CHECK (iban <> '' OR settlement_account <> '')
);
CREATE INDEX company_bank_accounts_company_idx ON company_bank_accounts (company_id, currency);
CREATE UNIQUE INDEX company_bank_accounts_one_default
    ON company_bank_accounts (company_id, currency) WHERE is_default;

-- migrate:down

DROP TABLE company_bank_accounts;
ALTER TABLE clients
    DROP COLUMN correspondent_account,
    DROP COLUMN settlement_account,
    DROP COLUMN bik,
    DROP COLUMN bic,
    DROP COLUMN bank_name,
    DROP COLUMN iban,
    DROP COLUMN kpp,
    DROP COLUMN vat_id,
    DROP COLUMN legal_form;
ALTER TABLE companies
    DROP COLUMN footer_text,
    DROP COLUMN accent_color,
    DROP COLUMN logo,
    DROP COLUMN accountant_name,
    DROP COLUMN director_name,
    DROP COLUMN phone,
    DROP COLUMN correspondent_account,
    DROP COLUMN settlement_account,
    DROP COLUMN bik,
    DROP COLUMN bic,
    DROP COLUMN kpp,
    DROP COLUMN vat_id;
