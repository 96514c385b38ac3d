-- migrate:up

-- The audit trail is append-only: an UPDATE or DELETE of an event is refused. The hash
-- chain still detects a change made by someone who can switch this trigger off (a
-- superuser); the trigger stops the application, or a mistaken script, from making one.
-- TRUNCATE fires no row trigger, so wiping a test or dev database still works.
CREATE FUNCTION audit_events_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only: % of event % refused', TG_OP, OLD.id
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER audit_events_append_only
    BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();

-- migrate:down
DROP TRIGGER audit_events_append_only ON audit_events;
DROP FUNCTION audit_events_append_only();
