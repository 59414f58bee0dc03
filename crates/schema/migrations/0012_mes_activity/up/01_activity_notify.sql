-- 0012: tell listeners that station work happened, so the supervisor dashboard updates the moment a record
-- commits instead of polling. One notification per statement (not per row: a batch completion of 500 units is
-- one event), on channel `neurohub_mes_activity` with the table name as payload; PostgreSQL delivers it at commit
-- and folds identical payloads of one transaction into one. Listeners (the web UI's live hub) re-read the
-- dashboard when told; nothing is lost by a listener that was away, it re-reads on reconnect.
CREATE FUNCTION notify_mes_activity() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('neurohub_mes_activity', TG_TABLE_NAME);
    RETURN NULL;
END
$$;

CREATE TRIGGER trg_process_data_activity
    AFTER INSERT OR UPDATE ON process_data
    FOR EACH STATEMENT EXECUTE FUNCTION notify_mes_activity();

CREATE TRIGGER trg_lots_activity
    AFTER INSERT OR UPDATE ON lots
    FOR EACH STATEMENT EXECUTE FUNCTION notify_mes_activity();
