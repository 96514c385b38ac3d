-- migrate:up
-- The keyset orders of the lists (issue 15, point 7; db/keyset.py): each list reads its
-- page from an index in its order and stops after `limit` rows, instead of sorting the
-- whole table for every page (EXPLAIN on 20 000 invoices: a seq scan and a sort of all of
-- them before, an index scan of 51 rows after). Descending lists scan these backwards.
CREATE INDEX invoices_list_order_idx ON invoices (created_at, id);
CREATE INDEX proposals_list_order_idx ON proposals (created_at, id);
CREATE INDEX credit_notes_list_order_idx ON credit_notes (company_id, issued_at, id);
-- The open tasks list (the default) sorts undated tasks last as 'infinity'.
CREATE INDEX tasks_list_order_idx ON tasks (COALESCE(due_date, 'infinity'::date), created_at, id);

-- migrate:down
DROP INDEX tasks_list_order_idx;
DROP INDEX credit_notes_list_order_idx;
DROP INDEX proposals_list_order_idx;
DROP INDEX invoices_list_order_idx;
