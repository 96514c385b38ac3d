-- migrate:up
-- A matter (case, дело): the client's piece of work that a law firm files its contracts,
-- proposals, invoices and tasks under. Its reference is the firm's own file number, unique
-- in the company (compared case-blind and without surrounding spaces, so "2026/14" and
-- " 2026/14 " are one matter). Closed, not deleted: its documents keep naming it.
CREATE TABLE matters (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    company_id uuid NOT NULL REFERENCES companies (id),
    client_id uuid NOT NULL REFERENCES clients (id),
    title text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    reference text NOT NULL CHECK (length(reference) BETWEEN 1 AND 64),
    responsible text NOT NULL DEFAULT '' CHECK (length(responsible) <= 200),
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    updated_by text NOT NULL,
    closed_at timestamptz,
    closed_by text
);
CREATE UNIQUE INDEX matters_company_reference_key ON matters (company_id, lower(btrim(reference)));
CREATE INDEX matters_client_idx ON matters (client_id, created_at, id);

-- Documents may name a matter; NULL is "no matter". Each index is partial: most documents
-- of a firm without matters name none.
ALTER TABLE contracts ADD COLUMN matter_id uuid REFERENCES matters (id);
ALTER TABLE proposals ADD COLUMN matter_id uuid REFERENCES matters (id);
ALTER TABLE invoices ADD COLUMN matter_id uuid REFERENCES matters (id);
ALTER TABLE tasks ADD COLUMN matter_id uuid REFERENCES matters (id);
ALTER TABLE credit_notes ADD COLUMN matter_id uuid REFERENCES matters (id);
CREATE INDEX contracts_matter_idx ON contracts (matter_id) WHERE matter_id IS NOT NULL;
CREATE INDEX proposals_matter_idx ON proposals (matter_id) WHERE matter_id IS NOT NULL;
CREATE INDEX invoices_matter_idx ON invoices (matter_id) WHERE matter_id IS NOT NULL;
CREATE INDEX tasks_matter_idx ON tasks (matter_id) WHERE matter_id IS NOT NULL;
CREATE INDEX credit_notes_matter_idx ON credit_notes (matter_id) WHERE matter_id IS NOT NULL;

-- migrate:down
DROP INDEX credit_notes_matter_idx;
DROP INDEX tasks_matter_idx;
DROP INDEX invoices_matter_idx;
DROP INDEX proposals_matter_idx;
DROP INDEX contracts_matter_idx;
ALTER TABLE credit_notes DROP COLUMN matter_id;
ALTER TABLE tasks DROP COLUMN matter_id;
ALTER TABLE invoices DROP COLUMN matter_id;
ALTER TABLE proposals DROP COLUMN matter_id;
ALTER TABLE contracts DROP COLUMN matter_id;
DROP TABLE matters;
