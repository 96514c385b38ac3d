-- migrate:up

-- The seller. Money columns are numeric everywhere; nothing money-like is a float.
CREATE TABLE companies (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name text NOT NULL,
    legal_form text NOT NULL DEFAULT '',
    address text NOT NULL DEFAULT '',
    country char(2) NOT NULL DEFAULT 'RO',
    email text NOT NULL DEFAULT '',
    tax_id text NOT NULL DEFAULT '',
    registration_number text NOT NULL DEFAULT '',
    iban text NOT NULL DEFAULT '',
    bank_name text NOT NULL DEFAULT '',
    default_currency char(3) NOT NULL DEFAULT 'RON',
    locale text NOT NULL DEFAULT 'ro',
    time_zone text NOT NULL DEFAULT 'Europe/Bucharest',
    payment_terms_days integer NOT NULL DEFAULT 14 CHECK (payment_terms_days >= 0),
    reminder_offsets_days integer[] NOT NULL DEFAULT '{-3,0,7,14,30}',
    reminder_hour integer NOT NULL DEFAULT 9 CHECK (reminder_hour BETWEEN 0 AND 23),
    invoice_series text NOT NULL DEFAULT 'INV',
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE clients (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    company_id uuid NOT NULL REFERENCES companies (id),
    name text NOT NULL,
    email text NOT NULL,
    country char(2) NOT NULL,
    locale text NOT NULL DEFAULT 'en',
    tax_id text NOT NULL DEFAULT '',
    registration_number text NOT NULL DEFAULT '',
    address text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX clients_company_idx ON clients (company_id);

-- One row per (company, document kind, series): the next number, locked while assigned.
CREATE TABLE number_series (
    company_id uuid NOT NULL REFERENCES companies (id),
    kind text NOT NULL CHECK (kind IN ('proposal', 'invoice', 'credit_note')),
    series text NOT NULL,
    pattern text NOT NULL DEFAULT '{series}-{year}-{seq:05}',
    next_seq bigint NOT NULL DEFAULT 1 CHECK (next_seq >= 1),
    PRIMARY KEY (company_id, kind, series)
);

CREATE TABLE documents (
    key text PRIMARY KEY,
    content_type text NOT NULL DEFAULT 'application/pdf',
    content bytea NOT NULL,
    sha256 text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE proposals (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    company_id uuid NOT NULL REFERENCES companies (id),
    client_id uuid NOT NULL REFERENCES clients (id),
    external_id text UNIQUE,
    status text NOT NULL DEFAULT 'sent'
        CHECK (status IN ('draft', 'sent', 'signed', 'declined', 'expired')),
    currency char(3) NOT NULL,
    valid_until date NOT NULL,
    payment_terms_days integer NOT NULL CHECK (payment_terms_days >= 0),
    notes text NOT NULL DEFAULT '',
    subtotal numeric(20, 4) NOT NULL,
    vat_total numeric(20, 4) NOT NULL,
    total numeric(20, 4) NOT NULL,
    document_key text REFERENCES documents (key),
    emailed_at timestamptz,
    signed_at timestamptz,
    declined_at timestamptz,
    decline_reason text,
    expired_at timestamptz,
    invoice_id uuid,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX proposals_client_idx ON proposals (client_id);

CREATE TABLE proposal_lines (
    proposal_id uuid NOT NULL REFERENCES proposals (id) ON DELETE CASCADE,
    position integer NOT NULL,
    description text NOT NULL,
    quantity numeric(20, 4) NOT NULL CHECK (quantity > 0),
    unit text NOT NULL DEFAULT '',
    unit_price numeric(20, 4) NOT NULL CHECK (unit_price >= 0),
    discount_percent numeric(7, 4) NOT NULL DEFAULT 0,
    vat_rate numeric(7, 4) NOT NULL,
    net_amount numeric(20, 4) NOT NULL,
    PRIMARY KEY (proposal_id, position)
);

CREATE TABLE invoices (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    company_id uuid NOT NULL REFERENCES companies (id),
    client_id uuid NOT NULL REFERENCES clients (id),
    proposal_id uuid UNIQUE REFERENCES proposals (id),
    series text NOT NULL,
    number text,
    status text NOT NULL DEFAULT 'draft' CHECK (status IN (
        'draft', 'awaiting_review', 'sent', 'partially_paid', 'paid', 'overdue', 'void')),
    overdue boolean NOT NULL DEFAULT false,
    currency char(3) NOT NULL,
    payment_terms_days integer NOT NULL CHECK (payment_terms_days >= 0),
    issue_date date,
    due_date date,
    notes text NOT NULL DEFAULT '',
    subtotal numeric(20, 4) NOT NULL,
    vat_total numeric(20, 4) NOT NULL,
    total numeric(20, 4) NOT NULL,
    amount_paid numeric(20, 4) NOT NULL DEFAULT 0,
    draft_document_key text REFERENCES documents (key),
    document_key text REFERENCES documents (key),
    approved_at timestamptz,
    sent_at timestamptz,
    paid_at timestamptz,
    voided_at timestamptz,
    void_reason text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (company_id, number)
);
CREATE INDEX invoices_status_idx ON invoices (company_id, status);
CREATE INDEX invoices_client_idx ON invoices (client_id);
ALTER TABLE proposals ADD FOREIGN KEY (invoice_id) REFERENCES invoices (id);

CREATE TABLE invoice_lines (
    invoice_id uuid NOT NULL REFERENCES invoices (id) ON DELETE CASCADE,
    position integer NOT NULL,
    description text NOT NULL,
    quantity numeric(20, 4) NOT NULL CHECK (quantity > 0),
    unit text NOT NULL DEFAULT '',
    unit_price numeric(20, 4) NOT NULL CHECK (unit_price >= 0),
    discount_percent numeric(7, 4) NOT NULL DEFAULT 0,
    vat_rate numeric(7, 4) NOT NULL,
    net_amount numeric(20, 4) NOT NULL,
    PRIMARY KEY (invoice_id, position)
);

CREATE TABLE invoice_status_changes (
    id bigserial PRIMARY KEY,
    invoice_id uuid NOT NULL REFERENCES invoices (id),
    from_status text,
    to_status text NOT NULL,
    cause text NOT NULL,
    occurred_at timestamptz NOT NULL
);
CREATE INDEX invoice_status_changes_invoice_idx ON invoice_status_changes (invoice_id);

CREATE TABLE payments (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    invoice_id uuid NOT NULL REFERENCES invoices (id),
    amount numeric(20, 4) NOT NULL CHECK (amount > 0),
    currency char(3) NOT NULL,
    paid_at date NOT NULL,
    reference text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (invoice_id, reference)
);

-- Links for signing and hosted pages: only the SHA-256 of the random token is kept.
CREATE TABLE access_tokens (
    token_hash text PRIMARY KEY,
    purpose text NOT NULL CHECK (purpose IN ('sign', 'invoice')),
    proposal_id uuid REFERENCES proposals (id),
    invoice_id uuid REFERENCES invoices (id),
    expires_at timestamptz NOT NULL,
    used_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    CHECK ((proposal_id IS NULL) <> (invoice_id IS NULL))
);

CREATE TABLE signatures (
    proposal_id uuid PRIMARY KEY REFERENCES proposals (id),
    signer_name text NOT NULL,
    signer_email text NOT NULL DEFAULT '',
    signed_at timestamptz NOT NULL,
    ip text NOT NULL DEFAULT '',
    user_agent text NOT NULL DEFAULT '',
    document_sha256 text NOT NULL,
    consent_text text NOT NULL,
    source text NOT NULL DEFAULT 'page'
);

-- Append-only; each row carries the hash of the one before it for the same document.
CREATE TABLE audit_events (
    id bigserial PRIMARY KEY,
    proposal_id uuid REFERENCES proposals (id),
    invoice_id uuid REFERENCES invoices (id),
    kind text NOT NULL,
    actor text NOT NULL,
    occurred_at timestamptz NOT NULL,
    ip text NOT NULL DEFAULT '',
    user_agent text NOT NULL DEFAULT '',
    data jsonb NOT NULL DEFAULT '{}',
    prev_hash text NOT NULL DEFAULT '',
    hash text NOT NULL
);
CREATE INDEX audit_events_proposal_idx ON audit_events (proposal_id, id);
CREATE INDEX audit_events_invoice_idx ON audit_events (invoice_id, id);

-- Every email is a row first; the key (document, kind, step) makes a retried send a no-op.
CREATE TABLE email_outbox (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    idempotency_key text NOT NULL UNIQUE,
    message_id text NOT NULL UNIQUE,
    kind text NOT NULL,
    proposal_id uuid REFERENCES proposals (id),
    invoice_id uuid REFERENCES invoices (id),
    to_address text NOT NULL,
    subject text NOT NULL,
    body_text text NOT NULL,
    attachments jsonb NOT NULL DEFAULT '[]',
    scheduled_for timestamptz,
    status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent')),
    attempts integer NOT NULL DEFAULT 0,
    last_error text,
    created_at timestamptz NOT NULL DEFAULT now(),
    sent_at timestamptz
);
CREATE INDEX email_outbox_invoice_idx ON email_outbox (invoice_id);

CREATE TABLE webhook_events (
    id bigserial PRIMARY KEY,
    source text NOT NULL,
    event_id text NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    payload jsonb NOT NULL,
    processed_at timestamptz,
    outcome text,
    UNIQUE (source, event_id)
);

CREATE TABLE tasks (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    company_id uuid NOT NULL REFERENCES companies (id),
    invoice_id uuid REFERENCES invoices (id),
    client_id uuid REFERENCES clients (id),
    kind text NOT NULL DEFAULT 'manual',
    title text NOT NULL,
    assignee text NOT NULL DEFAULT '',
    due_date date,
    done_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);
-- An automatic task is opened at most once per invoice and kind.
CREATE UNIQUE INDEX tasks_auto_once ON tasks (invoice_id, kind) WHERE kind <> 'manual';

-- migrate:down
DROP TABLE tasks, webhook_events, email_outbox, audit_events, signatures, access_tokens,
    payments, invoice_status_changes, invoice_lines, invoices, proposal_lines, proposals,
    documents, number_series, clients, companies CASCADE;
