-- Down 0008: back to the 0007 schema. Outbox, subscriptions and deliveries are archived into
-- neurohub_archive.v0008_<table> (restored, same ids, by the next up of 0008) and dropped with the trigger.
-- row_security = off: the copies must see every row (see down 0006).
SET LOCAL row_security = off;
SELECT neurohub_archive.archive_table('public.notification_outbox', 'v0008_notification_outbox');
SELECT neurohub_archive.archive_table('public.webhook_subscriptions', 'v0008_webhook_subscriptions');
SELECT neurohub_archive.archive_table('public.webhook_deliveries', 'v0008_webhook_deliveries');

DROP INDEX uq_workflow_stage_actions_sla_once;
DROP TRIGGER trg_workflow_stage_actions_notify ON workflow_stage_actions;
DROP TABLE webhook_deliveries, webhook_subscriptions, notification_outbox;
DROP FUNCTION enqueue_stage_notifications();
