-- migrate:up

-- Outbound events. A row is written in the transaction of the change it reports (a
-- transactional outbox), with one webhook_deliveries row per subscription it goes to.
-- `payload` holds ids, numbers, statuses and amounts (as strings), nothing more personal
-- than a receiver needs. `dedupe_key` makes an event that happens once (proposal.signed,
-- the first invoice.viewed, payment.recorded for one reference...) impossible to emit twice.
CREATE TABLE events (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    -- Insertion order; events of one document are written under its row lock, so this
    -- orders them.
    seq bigserial NOT NULL UNIQUE,
    type text NOT NULL,
    payload jsonb NOT NULL,
    proposal_id uuid REFERENCES proposals (id),
    invoice_id uuid REFERENCES invoices (id),
    dedupe_key text UNIQUE,
    occurred_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX events_occurred_at_idx ON events (occurred_at, seq);
CREATE INDEX events_type_idx ON events (type, seq);
CREATE INDEX events_invoice_idx ON events (invoice_id) WHERE invoice_id IS NOT NULL;
CREATE INDEX events_proposal_idx ON events (proposal_id) WHERE proposal_id IS NOT NULL;

-- Where events go. The secret signs every delivery (HMAC needs it in clear); it is shown
-- once, when the subscription is created. A deleted subscription is disabled, not removed,
-- so its delivery log stays.
CREATE TABLE webhook_subscriptions (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    url text NOT NULL CHECK (url ~ '^https?://'),
    -- Event types, or {'*'} for all of them.
    event_types text[] NOT NULL CHECK (cardinality(event_types) > 0),
    secret text NOT NULL,
    description text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    disabled_at timestamptz
);

-- One per (event, subscription): the idempotency of a delivery. Delivered by the workflow
-- `delivery-<id>`; the counters are the log a receiver's operator asks about.
CREATE TABLE webhook_deliveries (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    event_id uuid NOT NULL REFERENCES events (id),
    subscription_id uuid NOT NULL REFERENCES webhook_subscriptions (id),
    status text NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'delivered', 'failed', 'cancelled')),
    attempts integer NOT NULL DEFAULT 0,
    last_attempt_at timestamptz,
    last_status_code integer,
    last_error text NOT NULL DEFAULT '',
    delivered_at timestamptz,
    failed_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (event_id, subscription_id)
);
CREATE INDEX webhook_deliveries_subscription_idx ON webhook_deliveries (subscription_id, created_at);
CREATE INDEX webhook_deliveries_pending_idx ON webhook_deliveries (created_at)
    WHERE status = 'pending';

-- Every attempt: when, how long, the HTTP status or the error.
CREATE TABLE webhook_delivery_attempts (
    id bigserial PRIMARY KEY,
    delivery_id uuid NOT NULL REFERENCES webhook_deliveries (id),
    attempt integer NOT NULL,
    started_at timestamptz NOT NULL,
    duration_ms integer NOT NULL,
    status_code integer,
    error text NOT NULL DEFAULT '',
    UNIQUE (delivery_id, attempt)
);

-- migrate:down
DROP TABLE webhook_delivery_attempts, webhook_deliveries, webhook_subscriptions, events;
