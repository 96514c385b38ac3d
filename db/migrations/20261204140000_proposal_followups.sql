-- migrate:up
-- Proposal follow-ups (domain/followups.py): the company's schedule, in days after the
-- proposal was sent and days before its last valid day; a proposal may set its own (NULL
-- inherits the company's, an empty array sends none of that kind).
ALTER TABLE companies
    ADD COLUMN proposal_followup_days_after_sent integer[] NOT NULL DEFAULT '{3,7}',
    ADD COLUMN proposal_followup_days_before_expiry integer[] NOT NULL DEFAULT '{2}';
ALTER TABLE proposals
    ADD COLUMN followup_days_after_sent integer[],
    ADD COLUMN followup_days_before_expiry integer[],
    -- An unsigned proposal an operator turned into a draft invoice (POST
    -- /api/v1/proposals/{id}/invoice): when and by whom; its invoice is invoice_id.
    ADD COLUMN converted_at timestamptz,
    ADD COLUMN converted_by text;
ALTER TABLE proposals DROP CONSTRAINT proposals_status_check;
ALTER TABLE proposals ADD CONSTRAINT proposals_status_check
    CHECK (status IN ('draft', 'sent', 'signed', 'declined', 'expired', 'converted'));

-- migrate:down
ALTER TABLE proposals DROP CONSTRAINT proposals_status_check;
ALTER TABLE proposals ADD CONSTRAINT proposals_status_check
    CHECK (status IN ('draft', 'sent', 'signed', 'declined', 'expired'));
ALTER TABLE proposals
    DROP COLUMN converted_by,
    DROP COLUMN converted_at,
    DROP COLUMN followup_days_before_expiry,
    DROP COLUMN followup_days_after_sent;
ALTER TABLE companies
    DROP COLUMN proposal_followup_days_before_expiry,
    DROP COLUMN proposal_followup_days_after_sent;
