-- migrate:up
-- The metrics' outbox backlog (count and oldest of the pending emails, every few seconds)
-- reads only pending rows; without this it scanned every email ever sent.
CREATE INDEX email_outbox_pending_idx ON email_outbox (created_at) WHERE status = 'pending';

-- migrate:down
DROP INDEX email_outbox_pending_idx;
