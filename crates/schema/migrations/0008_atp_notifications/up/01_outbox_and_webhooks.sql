-- 0008 atp notifications, step 1 of 2: the notification outbox, webhook subscriptions and their deliveries, the
-- trigger that fills the outbox from workflow_stage_actions, RLS and privileges (docs/atp-flow.md, "Notifications").
--
-- Every assignment (ACTIVATE, REASSIGN, DELEGATE), decision (APPROVE, APPROVE_WITH_PUNCHLIST), rejection (REJECT),
-- SLA breach (SLA_BREACH) and escalation (ESCALATE) is already a workflow_stage_actions row written in the
-- statement that makes the change. One statement-level AFTER INSERT trigger turns those rows into outbox rows and
-- one webhook delivery per matching active subscription: same transaction by construction, for every writer
-- (the API, the SLA sweep, SQL by hand), and no extra statement per request.
--
-- Tenant-first keys like 0006: workspace_id leads every primary key, unique constraint and FK. The tables are new
-- (empty, or just restored) and nobody sees them before this commits, so FKs, CHECKs and indexes are inline here.

CREATE TABLE notification_outbox (
    workspace_id         UUID        NOT NULL,
    id                   UUID        NOT NULL DEFAULT gen_random_uuid(),
    event_type           VARCHAR(30) NOT NULL,
    workflow_instance_id UUID        NOT NULL,
    workflow_stage_id    UUID        NOT NULL,
    stage_action_id      UUID        NOT NULL,
    recipient_user_ids   BIGINT[]    NOT NULL DEFAULT '{}',
    payload              JSONB       NOT NULL,
    created_at           TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT notification_outbox_pkey PRIMARY KEY (workspace_id, id),
    -- one event per action
    CONSTRAINT uq_notification_outbox_action UNIQUE (workspace_id, stage_action_id),
    CONSTRAINT chk_notification_outbox_event_type CHECK (event_type IN
        ('STAGE_ASSIGNED', 'STAGE_DECIDED', 'STAGE_REJECTED', 'SLA_BREACHED', 'SLA_ESCALATED')),
    CONSTRAINT chk_notification_outbox_payload CHECK (jsonb_typeof(payload) = 'object'),
    CONSTRAINT fk_notification_outbox_workspace FOREIGN KEY (workspace_id)
        REFERENCES workspaces (id) ON DELETE RESTRICT,
    CONSTRAINT fk_notification_outbox_workflow_instance FOREIGN KEY (workspace_id, workflow_instance_id)
        REFERENCES workflow_instances (workspace_id, id) ON DELETE RESTRICT,
    CONSTRAINT fk_notification_outbox_workflow_stage FOREIGN KEY (workspace_id, workflow_stage_id)
        REFERENCES workflow_stages (workspace_id, id) ON DELETE RESTRICT,
    CONSTRAINT fk_notification_outbox_stage_action FOREIGN KEY (workspace_id, stage_action_id)
        REFERENCES workflow_stage_actions (workspace_id, id) ON DELETE RESTRICT
);
CREATE INDEX idx_notification_outbox_instance ON notification_outbox (workspace_id, workflow_instance_id, created_at);
CREATE INDEX idx_notification_outbox_stage ON notification_outbox (workspace_id, workflow_stage_id);

-- The secret signs deliveries (HMAC-SHA256), so it is stored as is (a hash could not sign); it is returned once,
-- by the create, never logged, and kept out of the audit log (the audit trigger's excluded column).
CREATE TABLE webhook_subscriptions (
    workspace_id   UUID          NOT NULL,
    id             UUID          NOT NULL DEFAULT gen_random_uuid(),
    url            VARCHAR(2000) NOT NULL,
    secret         VARCHAR(200)  NOT NULL,
    event_types    VARCHAR(30)[] NOT NULL,
    description    VARCHAR(200),
    is_active      BOOLEAN       NOT NULL DEFAULT TRUE,
    created_by     BIGINT        NOT NULL,
    deactivated_at TIMESTAMPTZ,
    created_at     TIMESTAMPTZ   NOT NULL DEFAULT now(),
    updated_at     TIMESTAMPTZ   NOT NULL DEFAULT now(),
    CONSTRAINT webhook_subscriptions_pkey PRIMARY KEY (workspace_id, id),
    CONSTRAINT chk_webhook_subscriptions_url CHECK (url ~ '^https?://[^[:space:]]+$'),
    CONSTRAINT chk_webhook_subscriptions_secret CHECK (char_length(secret) >= 32),
    CONSTRAINT chk_webhook_subscriptions_event_types CHECK (cardinality(event_types) > 0 AND event_types <@
        ARRAY['STAGE_ASSIGNED', 'STAGE_DECIDED', 'STAGE_REJECTED', 'SLA_BREACHED', 'SLA_ESCALATED']::VARCHAR(30)[]),
    -- deactivated (the API's delete) exactly when it has a deactivation time
    CONSTRAINT chk_webhook_subscriptions_deactivated CHECK (is_active = (deactivated_at IS NULL)),
    CONSTRAINT fk_webhook_subscriptions_workspace FOREIGN KEY (workspace_id)
        REFERENCES workspaces (id) ON DELETE RESTRICT,
    CONSTRAINT fk_webhook_subscriptions_created_by FOREIGN KEY (workspace_id, created_by)
        REFERENCES workspace_members (workspace_id, user_id) ON DELETE RESTRICT
);
-- the list (keyset on created_at, id)
CREATE INDEX idx_webhook_subscriptions_created ON webhook_subscriptions (workspace_id, created_at, id);
CREATE INDEX idx_webhook_subscriptions_created_by ON webhook_subscriptions (workspace_id, created_by);

-- One row per (event, subscription): its id is the delivery id the receiver de-duplicates on (every retry sends
-- the same id). PENDING until a 2xx (DELIVERED) or the last attempt failed (FAILED).
CREATE TABLE webhook_deliveries (
    workspace_id     UUID        NOT NULL,
    id               UUID        NOT NULL DEFAULT gen_random_uuid(),
    outbox_id        UUID        NOT NULL,
    subscription_id  UUID        NOT NULL,
    status           VARCHAR(20) NOT NULL DEFAULT 'PENDING',
    attempts         INTEGER     NOT NULL DEFAULT 0,
    next_attempt_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_attempt_at  TIMESTAMPTZ,
    last_status_code INTEGER,
    last_error       TEXT,
    delivered_at     TIMESTAMPTZ,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT webhook_deliveries_pkey PRIMARY KEY (workspace_id, id),
    CONSTRAINT uq_webhook_deliveries_event UNIQUE (workspace_id, outbox_id, subscription_id),
    CONSTRAINT chk_webhook_deliveries_status CHECK (status IN ('PENDING', 'DELIVERED', 'FAILED')),
    CONSTRAINT chk_webhook_deliveries_attempts CHECK (attempts >= 0),
    CONSTRAINT chk_webhook_deliveries_status_code CHECK (last_status_code BETWEEN 100 AND 599),
    CONSTRAINT chk_webhook_deliveries_last_error CHECK (char_length(last_error) <= 2000),
    -- delivered exactly when it has a delivery time; a finished delivery was attempted
    CONSTRAINT chk_webhook_deliveries_delivered CHECK (
        (status = 'DELIVERED') = (delivered_at IS NOT NULL)
        AND (status = 'PENDING' OR (attempts > 0 AND last_attempt_at IS NOT NULL))),
    CONSTRAINT fk_webhook_deliveries_workspace FOREIGN KEY (workspace_id)
        REFERENCES workspaces (id) ON DELETE RESTRICT,
    CONSTRAINT fk_webhook_deliveries_outbox FOREIGN KEY (workspace_id, outbox_id)
        REFERENCES notification_outbox (workspace_id, id) ON DELETE RESTRICT,
    CONSTRAINT fk_webhook_deliveries_subscription FOREIGN KEY (workspace_id, subscription_id)
        REFERENCES webhook_subscriptions (workspace_id, id) ON DELETE RESTRICT
);
-- the delivery worker's queue, across workspaces (it runs outside any workspace, docs/atp-flow.md)
CREATE INDEX idx_webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'PENDING';
CREATE INDEX idx_webhook_deliveries_subscription ON webhook_deliveries (workspace_id, subscription_id);

-- rows archived by `migrate down --to 7` come back before the triggers exist (a restore writes no audit rows)
DO $$
BEGIN
    IF to_regnamespace('neurohub_archive') IS NOT NULL THEN
        PERFORM neurohub_archive.restore_table('public.notification_outbox'::regclass, 'v0008_notification_outbox');
        PERFORM neurohub_archive.restore_table('public.webhook_subscriptions'::regclass, 'v0008_webhook_subscriptions');
        PERFORM neurohub_archive.restore_table('public.webhook_deliveries'::regclass, 'v0008_webhook_deliveries');
    END IF;
END;
$$;

-- The outbox writer: one INSERT per statement that appended actions (a transition table, not a row trigger).
-- Recipients: the assignee (assignment, breach), the latest revision's creator (decision, rejection), the
-- `notify` list the SLA sweep put in the ESCALATE action (the backup approver and the workspace admins).
CREATE FUNCTION enqueue_stage_notifications() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    WITH ev AS (
        SELECT a.workspace_id, a.id AS action_id, a.workflow_instance_id, a.workflow_stage_id, a.action,
               CASE a.action
                   WHEN 'ACTIVATE' THEN 'STAGE_ASSIGNED' WHEN 'REASSIGN' THEN 'STAGE_ASSIGNED'
                   WHEN 'DELEGATE' THEN 'STAGE_ASSIGNED'
                   WHEN 'APPROVE' THEN 'STAGE_DECIDED' WHEN 'APPROVE_WITH_PUNCHLIST' THEN 'STAGE_DECIDED'
                   WHEN 'REJECT' THEN 'STAGE_REJECTED'
                   WHEN 'SLA_BREACH' THEN 'SLA_BREACHED' WHEN 'ESCALATE' THEN 'SLA_ESCALATED' END AS event_type,
               CASE
                   WHEN a.action IN ('ACTIVATE', 'REASSIGN', 'DELEGATE', 'SLA_BREACH') THEN
                       array_remove(ARRAY[s.assigned_approver_id], NULL)
                   WHEN a.action = 'ESCALATE' THEN
                       ARRAY(SELECT jsonb_array_elements_text(COALESCE(a.payload -> 'notify', '[]'))::bigint)
                   ELSE array_remove(ARRAY[(SELECT r.created_by FROM atp_submissions AS r
                                             WHERE r.workspace_id = a.workspace_id
                                               AND r.workflow_instance_id = a.workflow_instance_id
                                             ORDER BY r.revision_number DESC LIMIT 1)], NULL)
               END AS recipients,
               jsonb_build_object(
                   'workspace_id', a.workspace_id, 'workflow_instance_id', a.workflow_instance_id,
                   'stage_id', a.workflow_stage_id, 'stage_number', s.stage_number, 'stage_name', s.stage_name,
                   'action', a.action, 'actor_user_id', a.actor_user_id, 'from_status', a.from_status,
                   'to_status', a.to_status, 'assigned_approver_id', s.assigned_approver_id, 'due_at', s.due_at,
                   'comment', a.comment, 'details', a.payload, 'occurred_at', a.created_at) AS payload
          FROM new_actions AS a
          JOIN workflow_stages AS s ON s.workspace_id = a.workspace_id AND s.id = a.workflow_stage_id
         WHERE a.action IN ('ACTIVATE', 'REASSIGN', 'DELEGATE', 'APPROVE', 'APPROVE_WITH_PUNCHLIST', 'REJECT',
                            'SLA_BREACH', 'ESCALATE')),
    ob AS (
        INSERT INTO notification_outbox (workspace_id, event_type, workflow_instance_id, workflow_stage_id,
                                         stage_action_id, recipient_user_ids, payload)
        SELECT ev.workspace_id, ev.event_type, ev.workflow_instance_id, ev.workflow_stage_id, ev.action_id,
               ev.recipients, ev.payload || jsonb_build_object('event_type', ev.event_type,
                                                               'recipient_user_ids', to_jsonb(ev.recipients))
          FROM ev
        RETURNING workspace_id, id, event_type)
    INSERT INTO webhook_deliveries (workspace_id, outbox_id, subscription_id)
    SELECT ob.workspace_id, ob.id, w.id
      FROM ob JOIN webhook_subscriptions AS w
        ON w.workspace_id = ob.workspace_id AND w.is_active AND ob.event_type = ANY (w.event_types);
    RETURN NULL;
END;
$$;

CREATE TRIGGER trg_workflow_stage_actions_notify AFTER INSERT ON workflow_stage_actions
    REFERENCING NEW TABLE AS new_actions FOR EACH STATEMENT EXECUTE FUNCTION enqueue_stage_notifications();

CREATE TRIGGER trg_webhook_subscriptions_updated_at BEFORE UPDATE ON webhook_subscriptions
    FOR EACH ROW EXECUTE FUNCTION update_timestamp();
CREATE TRIGGER trg_webhook_deliveries_updated_at BEFORE UPDATE ON webhook_deliveries
    FOR EACH ROW EXECUTE FUNCTION update_timestamp();
-- who created or deactivated a subscription (with user and IP); never its secret. The outbox and the deliveries
-- are not audited: the events are the stage actions (audited), the deliveries operational state.
CREATE TRIGGER trg_webhook_subscriptions_audit AFTER INSERT OR UPDATE OR DELETE ON webhook_subscriptions
    FOR EACH ROW EXECUTE FUNCTION log_audit_event('secret');

-- RLS like 0006's workspace tables: the context's workspace, for an active member of it. The SLA sweep and the
-- delivery worker run on the owner login outside any workspace (docs/atp-flow.md).
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['notification_outbox', 'webhook_subscriptions', 'webhook_deliveries'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY %I ON %I
            USING (workspace_id = (SELECT app_current_workspace_id())
                   AND (SELECT app_is_workspace_member(app_current_workspace_id())))
            WITH CHECK (workspace_id = (SELECT app_current_workspace_id())
                   AND (SELECT app_is_workspace_member(app_current_workspace_id())))',
            'p_' || t || '_workspace', t);
    END LOOP;
END;
$$;
-- requests append events and deliveries (the trigger) and manage subscriptions (deactivate, never delete: their
-- deliveries refer to them); only the worker (owner) updates deliveries
GRANT SELECT, INSERT ON notification_outbox TO neurohub_app;
GRANT SELECT, INSERT, UPDATE ON webhook_subscriptions TO neurohub_app;
GRANT SELECT, INSERT ON webhook_deliveries TO neurohub_app;

