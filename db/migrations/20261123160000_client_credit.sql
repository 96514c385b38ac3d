-- migrate:up

-- Money a client has with us beyond what its invoices ask: an over-payment adds to it,
-- applying it to another invoice of the same client takes from it. The balance is the sum.
CREATE TABLE client_credits (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    client_id uuid NOT NULL REFERENCES clients (id),
    currency char(3) NOT NULL,
    amount numeric(20, 4) NOT NULL CHECK (amount <> 0),
    kind text NOT NULL CHECK (kind IN ('overpayment', 'applied')),
    invoice_id uuid NOT NULL REFERENCES invoices (id),
    reference text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (invoice_id, kind, reference)
);
CREATE INDEX client_credits_client_idx ON client_credits (client_id, currency);

-- Where a payment's money came from: a transfer from the client, or their credit with us.
ALTER TABLE payments ADD COLUMN source text NOT NULL DEFAULT 'transfer'
    CHECK (source IN ('transfer', 'credit'));

-- migrate:down
ALTER TABLE payments DROP COLUMN source;
DROP TABLE client_credits;
