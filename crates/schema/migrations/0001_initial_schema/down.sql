-- Down 0001: back to an empty public schema. Every row (audit_logs included) is archived first and restored by
-- the next up of 0001 with the same ids.
SELECT neurohub_archive.archive_table('public.audit_logs', 'v0001_audit_logs');
SELECT neurohub_archive.archive_table('public.process_data', 'v0001_process_data');
SELECT neurohub_archive.archive_table('public.serials', 'v0001_serials');
SELECT neurohub_archive.archive_table('public.lots', 'v0001_lots');
SELECT neurohub_archive.archive_table('public.users', 'v0001_users');
SELECT neurohub_archive.archive_table('public.processes', 'v0001_processes');
SELECT neurohub_archive.archive_table('public.product_models', 'v0001_product_models');

DROP TABLE audit_logs;  -- with its partitions
DROP TABLE process_data;
DROP TABLE serials;
DROP TABLE lots;
DROP TABLE users;
DROP TABLE processes;
DROP TABLE product_models;

DROP FUNCTION prevent_user_deletion();
DROP FUNCTION prevent_process_deletion();
DROP FUNCTION log_audit_event();
DROP FUNCTION prevent_audit_modification();
DROP FUNCTION update_timestamp();
