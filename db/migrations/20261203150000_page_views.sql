-- migrate:up

-- When a visitor's view of a client link (signing page, hosted invoice page) last went into
-- the audit trail: one row per document and visitor (client IP and a hash of the user
-- agent), so a reloaded or looped link adds at most one 'viewed' event per visitor per hour
-- and the audit trail (and the signature certificate that lists it) stays small.
CREATE TABLE page_views (
    id bigserial PRIMARY KEY,
    proposal_id uuid REFERENCES proposals (id) ON DELETE CASCADE,
    invoice_id uuid REFERENCES invoices (id) ON DELETE CASCADE,
    visitor text NOT NULL CHECK (length(visitor) <= 200),
    recorded_at timestamptz NOT NULL,
    CHECK ((proposal_id IS NULL) <> (invoice_id IS NULL))
);
CREATE UNIQUE INDEX page_views_proposal_visitor ON page_views (proposal_id, visitor)
    WHERE proposal_id IS NOT NULL;
CREATE UNIQUE INDEX page_views_invoice_visitor ON page_views (invoice_id, visitor)
    WHERE invoice_id IS NOT NULL;

-- migrate:down

DROP TABLE page_views;
