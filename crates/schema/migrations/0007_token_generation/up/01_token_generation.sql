-- 0007: revoke access tokens at once when an account is deactivated, demoted or given a new password.
--
-- Access tokens are short-lived JWTs checked without a query per request. Each carries the account's
-- `token_generation`; this trigger bumps the generation whenever `role`, `is_active` or `password_hash` changes, by
-- whatever path (the API, `neurohub admin reset-password`, SQL by hand), and announces it on channel
-- `neurohub_users` (payload `<user id>:<generation>`, delivered at commit). Every server keeps the generations in
-- memory, fed by LISTEN (a full reload after each reconnect), and refuses tokens of an older generation.
--
-- Expand-only: a nullable-free column with a constant default is a catalog change in PostgreSQL 11+ (no rewrite),
-- and the old binary ignores the column.
ALTER TABLE users ADD COLUMN token_generation INTEGER NOT NULL DEFAULT 0;

CREATE FUNCTION bump_token_generation() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.role IS DISTINCT FROM OLD.role
       OR NEW.is_active IS DISTINCT FROM OLD.is_active
       OR NEW.password_hash IS DISTINCT FROM OLD.password_hash THEN
        NEW.token_generation := OLD.token_generation + 1;
        PERFORM pg_notify('neurohub_users', NEW.id::text || ':' || NEW.token_generation::text);
    ELSE
        -- the generation is the trigger's alone
        NEW.token_generation := OLD.token_generation;
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER trg_users_token_generation
    BEFORE UPDATE ON users
    FOR EACH ROW EXECUTE FUNCTION bump_token_generation();
