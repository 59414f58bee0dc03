-- 0005: the role every API request runs as.
--
-- `neurohub_app` is neither SUPERUSER nor BYPASSRLS, so row-level security (the ATP's workspace isolation) applies
-- to every statement a request runs, and it holds only the privileges the API needs: read and write the domain
-- tables, read (never write) the migration bookkeeping, and only SELECT / INSERT on the audit log, so even a
-- compromised request cannot rewrite history (the immutability trigger is the second wall). The server's request
-- pools connect with the startup parameter `role=neurohub_app`; DATABASE_URL may still name the postgres superuser.
--
-- Roles are cluster-wide while this migration runs per database: creating it is idempotent and tolerates a
-- concurrent deploy into another database of the same cluster (the loser of the race sees the role as existing).
-- Later migrations GRANT on the tables they create (a catalog test asserts that every table is granted).
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'neurohub_app') THEN
        BEGIN
            CREATE ROLE neurohub_app NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE INHERIT;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL; -- created meanwhile by a deploy into another database
        END;
    END IF;
    -- The deploying login must be able to SET ROLE to it (a superuser always can).
    IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
       AND NOT pg_has_role(current_user, 'neurohub_app', 'MEMBER') THEN
        EXECUTE format('GRANT neurohub_app TO %I', current_user);
    END IF;
END
$$;

GRANT USAGE ON SCHEMA public TO neurohub_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO neurohub_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO neurohub_app;

-- Migration bookkeeping: readable (health, serve's "schema is behind" check), never writable by requests.
REVOKE INSERT, UPDATE, DELETE ON schema_migrations, schema_migration_steps FROM neurohub_app;

-- The audit log and every partition of it: append and read only.
DO $$
DECLARE
    t regclass;
BEGIN
    FOR t IN
        SELECT 'public.audit_logs'::regclass
        UNION ALL
        SELECT inhrelid::regclass FROM pg_inherits WHERE inhparent = 'public.audit_logs'::regclass
    LOOP
        EXECUTE format('REVOKE UPDATE, DELETE, TRUNCATE ON %s FROM neurohub_app', t);
    END LOOP;
END
$$;
