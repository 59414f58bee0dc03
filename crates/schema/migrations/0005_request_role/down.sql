-- Down 0005: take every privilege of neurohub_app in this database away. The role itself is cluster-wide and may
-- serve other NeuroHub databases of the same cluster, so it stays (it owns nothing and can do nothing here).
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM neurohub_app;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM neurohub_app;
REVOKE USAGE ON SCHEMA public FROM neurohub_app;
