-- migrate:up

-- The API and the worker connect as `q2c_app`: they read and write rows, and nothing else.
-- No DDL (no CREATE on the schema, and only a table's owner may ALTER, DROP or TRUNCATE it
-- or switch its triggers off), so neither a bug nor an injected statement can drop a
-- table, wipe one, or disable the append-only trigger of audit_events. Migrations run as
-- the owner (MIGRATION_DATABASE_URL). The role is created here without LOGIN, since a
-- migration cannot know a password; `q2c migrate` (starter/devstack/migrate.py) gives it
-- LOGIN and the password of DATABASE_URL when that URL names it.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'q2c_app') THEN
        CREATE ROLE q2c_app NOLOGIN;
    END IF;
END
$$;

-- Databases created before PostgreSQL 15 (or restored from one) still let everyone create
-- objects in `public`; from 15 on this is the default already.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO q2c_app;

GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO q2c_app;
-- serial/bigserial columns draw from sequences (nextval needs USAGE).
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO q2c_app;
-- dbmate's own bookkeeping is the owner's: the app must not mark a migration as applied.
REVOKE ALL ON schema_migrations FROM q2c_app;

-- Tables and sequences that later migrations create (as this same owner) get the same
-- grants without each migration having to remember them.
ALTER DEFAULT PRIVILEGES IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO q2c_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public
    GRANT USAGE, SELECT ON SEQUENCES TO q2c_app;

-- migrate:down
ALTER DEFAULT PRIVILEGES IN SCHEMA public
    REVOKE USAGE, SELECT ON SEQUENCES FROM q2c_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public
    REVOKE SELECT, INSERT, UPDATE, DELETE ON TABLES FROM q2c_app;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM q2c_app;
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM q2c_app;
REVOKE USAGE ON SCHEMA public FROM q2c_app;
-- The role itself stays: roles belong to the whole cluster, and other databases of it
-- may grant it privileges too.
