-- migrate:up

-- Yearly reset: the year whose numbers the series is handing out, so the first approval of
-- a new year starts again at 1 (the pattern must then contain {year}, or numbers repeat).
ALTER TABLE number_series
    ADD COLUMN reset_yearly boolean NOT NULL DEFAULT false,
    ADD COLUMN current_year integer;

-- migrate:down
ALTER TABLE number_series DROP COLUMN reset_yearly, DROP COLUMN current_year;
