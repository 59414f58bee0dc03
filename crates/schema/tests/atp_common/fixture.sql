-- Two ATP workspaces, A (XLSMART-AVIAT, ids aaaaaaaa-0000-4000-8000-0000000000NN) and B (TEST-WS, bbbbbbbb-...),
-- each with two members and one row or more in EVERY workspace-scoped table, plus a global ADMIN (atp_admin) who
-- is a member of neither. NN: 00 workspace, 01 ACTIVE config (approval matrix), 02 scope, 03 vendor, 04 role,
-- 05 policy, 06 policy stage, 07 cluster, 08 cluster approver, 09 site, 10 workflow instance, 11 stage,
-- 12 override, 13 absence, 14 submission, 15 document, 16 punchlist, 17 punchlist item, 18 stage action,
-- 19 / 29 members (atp_<w> WORKSPACE_ADMIN, atp_<w>_qa APPROVER), 21 a DRAFT config (no masters), 22 webhook
-- subscription (0008: the action's trigger writes the outbox row and the delivery).
-- Loaded as the postgres superuser (RLS does not apply), with an audit context.
SELECT set_config('app.client_ip', '10.20.30.40', true), set_config('app.request_id', 'atp-fixture', true);
INSERT INTO users (username, full_name, password_hash, role)
VALUES ('atp_admin', 'ATP global admin', '$argon2id$x', 'ADMIN');
DO $$
DECLARE
    w  record;
    ws uuid;
    u  bigint;
    qa bigint;
BEGIN
    FOR w IN SELECT * FROM (VALUES ('a', 'XLSMART-AVIAT', 'aaaaaaaa-0000-4000-8000-'),
                                   ('b', 'TEST-WS', 'bbbbbbbb-0000-4000-8000-')) AS t(tag, code, p) LOOP
        ws := (w.p || '000000000000')::uuid;
        INSERT INTO users (username, full_name, password_hash, role)
        VALUES ('atp_' || w.tag, 'ATP admin ' || w.tag, '$argon2id$x', 'MANAGER') RETURNING id INTO u;
        INSERT INTO users (username, full_name, password_hash, role)
        VALUES ('atp_' || w.tag || '_qa', 'ATP QA ' || w.tag, '$argon2id$x', 'OPERATOR') RETURNING id INTO qa;
        INSERT INTO workspaces (id, code, name, customer, vendor_owner)
        VALUES (ws, w.code, 'Workspace ' || upper(w.tag), 'XLSMART', 'AVIAT');
        INSERT INTO workspace_members (workspace_id, id, user_id, member_role)
        VALUES (ws, (w.p || '000000000019')::uuid, u, 'WORKSPACE_ADMIN'),
               (ws, (w.p || '000000000029')::uuid, qa, 'APPROVER');
        INSERT INTO sites (workspace_id, id, site_id, site_name, region, city, cluster_code, ne_latitude, ne_longitude,
                           fe_latitude, fe_longitude, scope)
        VALUES (ws, (w.p || '000000000009')::uuid, 'JKT-' || upper(w.tag) || '-001', 'Jakarta hop ' || w.tag,
                'JABOTABEK', 'Jakarta', 'CL-01', -6.200000, 106.816666, -6.300000, 106.900000, 'MW link');
        INSERT INTO config_versions (workspace_id, id, source_type, version_number, validation_status,
                                     source_file_name, checksum, created_by)
        VALUES (ws, (w.p || '000000000001')::uuid, 'APPROVAL_MATRIX', 1, 'VALID', 'matrix_v1.xlsx', repeat('a', 64), u),
               (ws, (w.p || '000000000021')::uuid, 'APPROVAL_MATRIX', 2, 'VALID', 'matrix_v2.xlsx', repeat('b', 64), u);
        INSERT INTO atp_scope_master (workspace_id, id, config_version_id, scope_code, scope_name, scope_group,
                                      atp_category)
        VALUES (ws, (w.p || '000000000002')::uuid, (w.p || '000000000001')::uuid, 'MW-ATP', 'Microwave ATP',
                'MICROWAVE', 'RAN_MW');
        INSERT INTO vendor_master (workspace_id, id, config_version_id, vendor_code, vendor_name)
        VALUES (ws, (w.p || '000000000003')::uuid, (w.p || '000000000001')::uuid, 'AVIAT', 'Aviat Networks');
        INSERT INTO approval_role_master (workspace_id, id, config_version_id, role_code, role_name, stage_group,
                                          hierarchy_order, is_final_approver, vendor_id)
        VALUES (ws, (w.p || '000000000004')::uuid, (w.p || '000000000001')::uuid, 'QA', 'QA reviewer', 'QA', 1, TRUE,
                (w.p || '000000000003')::uuid);
        INSERT INTO approval_policy_master (workspace_id, id, config_version_id, policy_code, policy_name,
                                            atp_category, scope_id, vendor_id)
        VALUES (ws, (w.p || '000000000005')::uuid, (w.p || '000000000001')::uuid, 'POL-RAN-MW', 'RAN / MW policy',
                'RAN_MW', (w.p || '000000000002')::uuid, (w.p || '000000000003')::uuid);
        INSERT INTO approval_policy_stages (workspace_id, id, config_version_id, policy_id, stage_number, stage_name,
                                            sequence_order, role_id, sla_hours, assignment_mode, static_user_id)
        VALUES (ws, (w.p || '000000000006')::uuid, (w.p || '000000000001')::uuid, (w.p || '000000000005')::uuid, 1,
                'QA review', 1, (w.p || '000000000004')::uuid, 24, 'STATIC_USER', qa);
        INSERT INTO cluster_master (workspace_id, id, config_version_id, cluster_code, cluster_name, region, city,
                                    m_sequence)
        VALUES (ws, (w.p || '000000000007')::uuid, (w.p || '000000000001')::uuid, 'CL-01', 'Cluster 1', 'JABOTABEK',
                'Jakarta', 1);
        INSERT INTO cluster_approver_master (workspace_id, id, config_version_id, cluster_id, role_id,
                                             primary_user_id, backup_user_id, effective_from)
        VALUES (ws, (w.p || '000000000008')::uuid, (w.p || '000000000001')::uuid, (w.p || '000000000007')::uuid,
                (w.p || '000000000004')::uuid, qa, u, DATE '2026-01-01');
        UPDATE config_versions SET status = 'ACTIVE', activated_by = u, activated_at = now()
         WHERE workspace_id = ws AND id = (w.p || '000000000001')::uuid;
        INSERT INTO workflow_instances (workspace_id, id, config_version_id, site_id, scope_id, policy_id, vendor_id,
                                        cluster_id, cluster_code, atp_category, current_stage_number,
                                        routing_snapshot, sla_due_at, started_by)
        VALUES (ws, (w.p || '000000000010')::uuid, (w.p || '000000000001')::uuid, (w.p || '000000000009')::uuid,
                (w.p || '000000000002')::uuid, (w.p || '000000000005')::uuid, (w.p || '000000000003')::uuid,
                (w.p || '000000000007')::uuid, 'CL-01', 'RAN_MW', 1,
                jsonb_build_object('stages', jsonb_build_array(jsonb_build_object('stage', 1, 'approver', qa))),
                now() + interval '3 days', u);
        INSERT INTO workflow_stages (workspace_id, id, workflow_instance_id, policy_stage_id, role_id, stage_number,
                                     stage_name, sequence_order, assigned_approver_id, status, sla_hours,
                                     activated_at, due_at)
        VALUES (ws, (w.p || '000000000011')::uuid, (w.p || '000000000010')::uuid, (w.p || '000000000006')::uuid,
                (w.p || '000000000004')::uuid, 1, 'QA review', 1, qa, 'ACTIVE', 24, now(), now() + interval '24 hours');
        INSERT INTO atp_submissions (workspace_id, id, submission_code, site_id, scope_id, vendor_id,
                                     workflow_instance_id, atp_category, status, title, created_by, submitted_by,
                                     submitted_at)
        VALUES (ws, (w.p || '000000000014')::uuid, 'ATP-' || upper(w.tag) || '-0001', (w.p || '000000000009')::uuid,
                (w.p || '000000000002')::uuid, (w.p || '000000000003')::uuid, (w.p || '000000000010')::uuid,
                'RAN_MW', 'IN_APPROVAL', 'MW ATP ' || w.tag, u, u, now());
        INSERT INTO atp_submission_documents (workspace_id, id, submission_id, file_name, media_type, size_bytes,
                                              sha256, content, uploaded_by)
        VALUES (ws, (w.p || '000000000015')::uuid, (w.p || '000000000014')::uuid, 'atp.pdf', 'application/pdf', 4,
                encode(sha256('%PDF'::bytea), 'hex'), '%PDF'::bytea, u);
        INSERT INTO punchlists (workspace_id, id, workflow_instance_id, submission_id, raised_by)
        VALUES (ws, (w.p || '000000000016')::uuid, (w.p || '000000000010')::uuid, (w.p || '000000000014')::uuid, qa);
        INSERT INTO punchlist_items (workspace_id, id, punchlist_id, item_code, description, severity, status,
                                     evidence_document_id, closed_at)
        VALUES (ws, (w.p || '000000000017')::uuid, (w.p || '000000000016')::uuid, 'PL-001', 'label missing', 'MINOR',
                'CLOSED', (w.p || '000000000015')::uuid, now());
        INSERT INTO approver_overrides (workspace_id, id, override_type, workflow_instance_id, workflow_stage_id,
                                        from_user_id, to_user_id, reason, valid_to, requested_by)
        VALUES (ws, (w.p || '000000000012')::uuid, 'STAGE', (w.p || '000000000010')::uuid,
                (w.p || '000000000011')::uuid, qa, u, 'annual leave', now() + interval '2 days', u);
        INSERT INTO approver_absences (workspace_id, id, user_id, delegate_user_id, starts_at, ends_at, reason)
        VALUES (ws, (w.p || '000000000013')::uuid, qa, u, now(), now() + interval '2 days', 'annual leave');
        INSERT INTO webhook_subscriptions (workspace_id, id, url, secret, event_types, created_by)
        VALUES (ws, (w.p || '000000000022')::uuid, 'https://hooks.example.com/' || w.tag, repeat('s', 40),
                ARRAY['STAGE_ASSIGNED'], u);
        INSERT INTO workflow_stage_actions (workspace_id, id, workflow_instance_id, workflow_stage_id, action,
                                            from_status, to_status)
        VALUES (ws, (w.p || '000000000018')::uuid, (w.p || '000000000010')::uuid, (w.p || '000000000011')::uuid,
                'ACTIVATE', 'PENDING', 'ACTIVE');
    END LOOP;
END;
$$;
