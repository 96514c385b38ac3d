-- migrate:up

-- Reminder schedules. The company's is the default: offsets from the due date and an hour
-- (already there), now with "then every N days, at most M times" after the last offset.
ALTER TABLE companies
    ADD COLUMN reminder_repeat_days integer NOT NULL DEFAULT 0
        CHECK (reminder_repeat_days BETWEEN 0 AND 365),
    ADD COLUMN reminder_repeat_max integer NOT NULL DEFAULT 0
        CHECK (reminder_repeat_max BETWEEN 0 AND 1000),
    ADD CHECK ((reminder_repeat_days = 0) = (reminder_repeat_max = 0));

-- A client may override any part of it (NULL inherits the company's), and has its own time
-- zone for the hour reminders go out at (NULL: the company's).
ALTER TABLE clients
    ADD COLUMN time_zone text,
    ADD COLUMN reminder_offsets_days integer[],
    ADD COLUMN reminder_hour integer CHECK (reminder_hour BETWEEN 0 AND 23),
    ADD COLUMN reminder_repeat_days integer CHECK (reminder_repeat_days BETWEEN 0 AND 365),
    ADD COLUMN reminder_repeat_max integer CHECK (reminder_repeat_max BETWEEN 0 AND 1000),
    ADD CHECK ((reminder_repeat_days IS NULL) = (reminder_repeat_max IS NULL));

-- An invoice may override the client's. `reminder_plan` is the schedule in force, frozen
-- when the invoice is sent and again at each re-plan: offsets, hour, repeat, time zone,
-- `step_base` (its steps are step_base + 1, + 2, ...; a re-plan starts after the last step
-- of the plan it replaces, so outbox keys invoice:<id>:reminder:<step> are never reused) and
-- `planned_from` (nothing planned before that instant is sent). NULL on invoices sent before
-- this migration: the company's schedule, from sent_at, steps from 1, as before.
ALTER TABLE invoices
    ADD COLUMN reminder_offsets_days integer[],
    ADD COLUMN reminder_hour integer CHECK (reminder_hour BETWEEN 0 AND 23),
    ADD COLUMN reminder_repeat_days integer CHECK (reminder_repeat_days BETWEEN 0 AND 365),
    ADD COLUMN reminder_repeat_max integer CHECK (reminder_repeat_max BETWEEN 0 AND 1000),
    ADD CHECK ((reminder_repeat_days IS NULL) = (reminder_repeat_max IS NULL)),
    ADD COLUMN reminder_plan jsonb,
    -- Paused: no reminder goes out. Resumed: reminders planned before then are skipped.
    ADD COLUMN reminders_paused_at timestamptz,
    ADD COLUMN reminders_resumed_at timestamptz;

-- Money given back of a payment, idempotent by the refund's own reference. `from_invoice`
-- lowered the invoice's amount paid; `from_credit` came out of the over-payment credit the
-- payment had left (see client_credits, kind 'refunded').
CREATE TABLE refunds (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    invoice_id uuid NOT NULL REFERENCES invoices (id),
    payment_id uuid NOT NULL REFERENCES payments (id),
    amount numeric(20, 4) NOT NULL CHECK (amount > 0),
    from_invoice numeric(20, 4) NOT NULL CHECK (from_invoice >= 0),
    from_credit numeric(20, 4) NOT NULL CHECK (from_credit >= 0),
    currency char(3) NOT NULL,
    refunded_at date NOT NULL,
    reference text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (invoice_id, reference),
    CHECK (from_invoice + from_credit = amount)
);
CREATE INDEX refunds_payment_idx ON refunds (payment_id);

-- Credit paid back to the client by a refund ('refunded', negative), and credit given back
-- when a payment made from credit is refunded ('restored', positive).
ALTER TABLE client_credits DROP CONSTRAINT client_credits_kind_check;
ALTER TABLE client_credits ADD CONSTRAINT client_credits_kind_check
    CHECK (kind IN ('overpayment', 'applied', 'refunded', 'restored'));

-- migrate:down
ALTER TABLE client_credits DROP CONSTRAINT client_credits_kind_check;
DELETE FROM client_credits WHERE kind IN ('refunded', 'restored');
ALTER TABLE client_credits ADD CONSTRAINT client_credits_kind_check
    CHECK (kind IN ('overpayment', 'applied'));
DROP TABLE refunds;
ALTER TABLE invoices
    DROP COLUMN reminders_resumed_at,
    DROP COLUMN reminders_paused_at,
    DROP COLUMN reminder_plan,
    DROP COLUMN reminder_repeat_max,
    DROP COLUMN reminder_repeat_days,
    DROP COLUMN reminder_hour,
    DROP COLUMN reminder_offsets_days;
ALTER TABLE clients
    DROP COLUMN reminder_repeat_max,
    DROP COLUMN reminder_repeat_days,
    DROP COLUMN reminder_hour,
    DROP COLUMN reminder_offsets_days,
    DROP COLUMN time_zone;
ALTER TABLE companies
    DROP COLUMN reminder_repeat_max,
    DROP COLUMN reminder_repeat_days;
