-- migrate:up
-- The parties of a document as it was issued (issue 15 point 2): the seller's and the
-- buyer's details and the seller's bank account printed on it, taken in the transaction
-- that numbers an invoice or a credit note, or sends a proposal (domain/parties.py,
-- IssuedParties). Everything rendered later from rows (the hosted page, the signing page,
-- a resend, a credit note's original part) reads these, not the live client and company
-- rows, which operators edit. NULL: a draft, or a document issued before this column
-- (those keep reading the live rows).
ALTER TABLE invoices ADD COLUMN issued_parties jsonb;
ALTER TABLE proposals ADD COLUMN issued_parties jsonb;
ALTER TABLE credit_notes ADD COLUMN issued_parties jsonb;

-- migrate:down
ALTER TABLE credit_notes DROP COLUMN issued_parties;
ALTER TABLE proposals DROP COLUMN issued_parties;
ALTER TABLE invoices DROP COLUMN issued_parties;
