-- migrate:up
-- A client is archived instead of deleted: it drops out of the client list and gets no new
-- proposals, invoices or contracts, while what it already has goes on. Who archived it is
-- kept with the time (`operator:<name>`), and who last brought it back.
ALTER TABLE clients
    ADD COLUMN archived_at timestamptz,
    ADD COLUMN archived_by text,
    ADD COLUMN unarchived_at timestamptz,
    ADD COLUMN unarchived_by text;

-- One tax id per client in a company is checked by the API under a lock (db/clients.py,
-- same_tax_id), not by a unique index: rows from before this check may already repeat a
-- tax id, and a UNIQUE index would make this migration fail on them (a partial expression
-- index cannot be a DEFERRABLE constraint either). This index only makes the check fast.
CREATE INDEX clients_tax_id_key_idx
    ON clients (company_id, (upper(regexp_replace(tax_id, '[^0-9A-Za-z]', '', 'g'))))
    WHERE tax_id <> '';
-- The client list's order (keyset paging on name, id).
CREATE INDEX clients_company_name_idx ON clients (company_id, name, id);

-- migrate:down
DROP INDEX clients_company_name_idx;
DROP INDEX clients_tax_id_key_idx;
ALTER TABLE clients DROP COLUMN unarchived_by, DROP COLUMN unarchived_at,
    DROP COLUMN archived_by, DROP COLUMN archived_at;
