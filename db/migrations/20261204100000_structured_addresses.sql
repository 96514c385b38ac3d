-- migrate:up
-- Addresses in parts (issue 14, e-Factura): CIUS-RO wants the street, city, postal code
-- and county (an ISO 3166-2 code, RO-CJ / RO-B) of both parties; `country` is already a
-- column. `address` stays the printed line. Bounds are CIUS-RO's (BR-RO-L150/L050/L020);
-- domain/addresses.py checks the values, these only keep the table honest.
ALTER TABLE companies
    ADD COLUMN street text NOT NULL DEFAULT '' CHECK (char_length(street) <= 150),
    ADD COLUMN city text NOT NULL DEFAULT '' CHECK (char_length(city) <= 50),
    ADD COLUMN postal_code text NOT NULL DEFAULT '' CHECK (char_length(postal_code) <= 20),
    ADD COLUMN county text NOT NULL DEFAULT '' CHECK (char_length(county) <= 6),
    ADD COLUMN address_needs_review boolean NOT NULL DEFAULT false;
ALTER TABLE clients
    ADD COLUMN street text NOT NULL DEFAULT '' CHECK (char_length(street) <= 150),
    ADD COLUMN city text NOT NULL DEFAULT '' CHECK (char_length(city) <= 50),
    ADD COLUMN postal_code text NOT NULL DEFAULT '' CHECK (char_length(postal_code) <= 20),
    ADD COLUMN county text NOT NULL DEFAULT '' CHECK (char_length(county) <= 6),
    ADD COLUMN address_needs_review boolean NOT NULL DEFAULT false;

-- Existing addresses are free text ("Str. X 1, Cluj-Napoca", "Москва, ул. ..."): no
-- pattern splits them without guessing, so none is split. The text stays as it was and
-- the row is flagged for an operator to enter the parts.
UPDATE companies SET address_needs_review = true WHERE btrim(address) <> '';
UPDATE clients SET address_needs_review = true WHERE btrim(address) <> '';

-- migrate:down
ALTER TABLE clients
    DROP COLUMN address_needs_review,
    DROP COLUMN county,
    DROP COLUMN postal_code,
    DROP COLUMN city,
    DROP COLUMN street;
ALTER TABLE companies
    DROP COLUMN address_needs_review,
    DROP COLUMN county,
    DROP COLUMN postal_code,
    DROP COLUMN city,
    DROP COLUMN street;
