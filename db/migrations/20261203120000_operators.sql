-- migrate:up
-- Operators: people with their own API key and a role. Only the SHA-256 of a key is kept
-- (keys are 256-bit random, so a plain hash is enough); a rotated key's hash moves to
-- retired_key_hashes so the bootstrap key, once rotated away, is never registered again.
CREATE TABLE operators (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name text NOT NULL,
    role text NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
    key_hash text NOT NULL UNIQUE,
    retired_key_hashes text[] NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    rotated_at timestamptz,
    revoked_at timestamptz,
    last_used_at timestamptz
);
-- A name is who did something in every record: one active operator per name.
CREATE UNIQUE INDEX operators_active_name ON operators (name) WHERE revoked_at IS NULL;

-- What the API asked a workflow to do, and for whom, written before the signal or update
-- is sent; the message carries only this row's id. The activity that acts on it takes the
-- actor from here (once): a message with no valid, unconsumed id came from elsewhere (the
-- Temporal UI) and is recorded as such, whatever name it claims.
CREATE TABLE operator_requests (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    operator_id uuid REFERENCES operators (id),
    actor text NOT NULL,
    action text NOT NULL,
    target text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    consumed_at timestamptz
);

-- Who made each change: 'operator:<name>', 'temporal-ui', a webhook source ('crm',
-- 'esign', 'payments'), 'client' or 'system'.
ALTER TABLE invoice_status_changes ADD COLUMN actor text NOT NULL DEFAULT 'system';
ALTER TABLE payments ADD COLUMN recorded_by text NOT NULL DEFAULT 'system';
ALTER TABLE refunds ADD COLUMN recorded_by text NOT NULL DEFAULT 'system';
ALTER TABLE tasks
    ADD COLUMN opened_by text NOT NULL DEFAULT 'system',
    ADD COLUMN closed_by text;
-- Who approved: the sending that follows an approval is theirs too.
ALTER TABLE invoices ADD COLUMN approved_by text;
-- Who had the proposal sent (the operator who created or sent it, or 'crm').
ALTER TABLE proposals ADD COLUMN sent_by text;

-- migrate:down
ALTER TABLE proposals DROP COLUMN sent_by;
ALTER TABLE invoices DROP COLUMN approved_by;
ALTER TABLE tasks DROP COLUMN opened_by, DROP COLUMN closed_by;
ALTER TABLE refunds DROP COLUMN recorded_by;
ALTER TABLE payments DROP COLUMN recorded_by;
ALTER TABLE invoice_status_changes DROP COLUMN actor;
DROP TABLE operator_requests, operators;
