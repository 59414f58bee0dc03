-- Down 0012: the notifications carry no data, so nothing is kept.
DROP TRIGGER trg_lots_activity ON lots;
DROP TRIGGER trg_process_data_activity ON process_data;
DROP FUNCTION notify_mes_activity();
