-- 0006 atp (seeds 002-004): the ATP (acceptance test procedure) approval database of a rollout office.
-- Step 1 of 5: the tables, their keys and CHECKs, and the restore of rows archived by `migrate down --to 5`.
--
-- Tenant-first keys: every workspace-scoped table has workspace_id as the FIRST column of its primary key and of
-- every unique constraint, and every reference between workspace-scoped tables is a composite
-- (workspace_id, x_id) -> (workspace_id, id) FK (step 3), so a row of workspace A can never name a row of
-- workspace B, and the layout is the one Citus needs to distribute by tenant. Only `workspaces` and the MES
-- `users` table are global. People are referenced as members of the row's workspace
-- ((workspace_id, x_user_id) -> workspace_members (workspace_id, user_id)), so an approver, an uploader or an
-- actor is always a member of the same workspace; workspace_members.user_id -> users.id (BIGINT) is the one link
-- to the MES identity.
--
-- Ids are UUID (gen_random_uuid() is core since PostgreSQL 13: the seeds' pgcrypto pre-flight is not needed).
-- The tables are new (empty, or just restored) and nobody can see them before this commits, so their CHECKs are
-- declared inline; FKs are added NOT VALID in step 3 and validated in step 4, indexes are built in step 5.
-- Statuses and types are VARCHAR + a named CHECK (like the MES tables), never ENUM types: adding a value is a
-- constraint swap, not a type rewrite.

-- ---------------------------------------------------------------------------------------------------- global
CREATE TABLE workspaces (
    id           UUID         NOT NULL DEFAULT gen_random_uuid(),
    code         VARCHAR(50)  NOT NULL,
    name         VARCHAR(200) NOT NULL,
    customer     VARCHAR(200),
    vendor_owner VARCHAR(200),
    is_active    BOOLEAN      NOT NULL DEFAULT TRUE,
    created_at   TIMESTAMPTZ  NOT NULL DEFAULT now(),
    updated_at   TIMESTAMPTZ  NOT NULL DEFAULT now(),
    CONSTRAINT workspaces_pkey PRIMARY KEY (id),
    CONSTRAINT uq_workspaces_code UNIQUE (code),
    CONSTRAINT chk_workspaces_code CHECK (code ~ '^[A-Z0-9][A-Z0-9_-]{1,49}$')
);

-- ---------------------------------------------------------------------------------------- workspace scoped
CREATE TABLE workspace_members (
    workspace_id UUID        NOT NULL,
    id           UUID        NOT NULL DEFAULT gen_random_uuid(),
    user_id      BIGINT      NOT NULL,
    member_role  VARCHAR(30) NOT NULL,
    is_active    BOOLEAN     NOT NULL DEFAULT TRUE,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT workspace_members_pkey PRIMARY KEY (workspace_id, id),
    -- also the key every user reference of the workspace points at
    CONSTRAINT uq_workspace_members_user UNIQUE (workspace_id, user_id),
    CONSTRAINT chk_workspace_members_member_role
        CHECK (member_role IN ('WORKSPACE_ADMIN', 'DOC_CONTROL', 'VENDOR', 'QA', 'APPROVER', 'VIEWER'))
);

-- cluster_code is text on purpose: it is resolved against the ACTIVE cluster mapping when a workflow starts
-- (cluster_master rows are versioned, a site is not)
CREATE TABLE sites (
    workspace_id UUID         NOT NULL,
    id           UUID         NOT NULL DEFAULT gen_random_uuid(),
    site_id      VARCHAR(50)  NOT NULL,
    site_name    VARCHAR(200) NOT NULL,
    region       VARCHAR(100),
    city         VARCHAR(100),
    cluster_code VARCHAR(50),
    ne_latitude  NUMERIC(9, 6),
    ne_longitude NUMERIC(9, 6),
    fe_latitude  NUMERIC(9, 6),
    fe_longitude NUMERIC(9, 6),
    scope        VARCHAR(100),
    status       VARCHAR(20)  NOT NULL DEFAULT 'ACTIVE',
    created_at   TIMESTAMPTZ  NOT NULL DEFAULT now(),
    updated_at   TIMESTAMPTZ  NOT NULL DEFAULT now(),
    CONSTRAINT sites_pkey PRIMARY KEY (workspace_id, id),
    CONSTRAINT uq_sites_site_id UNIQUE (workspace_id, site_id),
    CONSTRAINT chk_sites_ne_latitude CHECK (ne_latitude BETWEEN -90 AND 90),
    CONSTRAINT chk_sites_ne_longitude CHECK (ne_longitude BETWEEN -180 AND 180),
    CONSTRAINT chk_sites_fe_latitude CHECK (fe_latitude BETWEEN -90 AND 90),
    CONSTRAINT chk_sites_fe_longitude CHECK (fe_longitude BETWEEN -180 AND 180),
    CONSTRAINT chk_sites_status CHECK (status IN ('ACTIVE', 'ON_HOLD', 'COMPLETED', 'CANCELLED'))
);

-- One uploaded configuration (approval matrix, cluster mapping or scope config) of a workspace. Lifecycle
-- DRAFT -> ACTIVE -> SUPERSEDED (-> ACTIVE again only as a rollback), ARCHIVED from DRAFT or SUPERSEDED; at most
-- one ACTIVE per (workspace, source type) (ux_config_versions_one_active_per_workspace, step 5); an ACTIVE version
-- is immutable and cannot be deleted (trigger, step 2); a version a workflow instance froze cannot be deleted
-- (fk_workflow_instances_config_version, RESTRICT).
CREATE TABLE config_versions (
    workspace_id        UUID         NOT NULL,
    id                  UUID         NOT NULL DEFAULT gen_random_uuid(),
    source_type         VARCHAR(30)  NOT NULL,
    version_number      INTEGER      NOT NULL,
    status              VARCHAR(20)  NOT NULL DEFAULT 'DRAFT',
    validation_status   VARCHAR(20)  NOT NULL DEFAULT 'PENDING',
    validation_errors   JSONB        NOT NULL DEFAULT '[]',
    source_file_name    VARCHAR(255),
    checksum            TEXT         NOT NULL,
    description         TEXT,
    previous_version_id UUID,
    superseded_by       UUID,
    is_rollback         BOOLEAN      NOT NULL DEFAULT FALSE,
    created_by          BIGINT,
    activated_by        BIGINT,
    activated_at        TIMESTAMPTZ,
    superseded_at       TIMESTAMPTZ,
    archived_at         TIMESTAMPTZ,
    created_at          TIMESTAMPTZ  NOT NULL DEFAULT now(),
    updated_at          TIMESTAMPTZ  NOT NULL DEFAULT now(),
    CONSTRAINT config_versions_pkey PRIMARY KEY (workspace_id, id),
    CONSTRAINT uq_config_versions_version UNIQUE (workspace_id, source_type, version_number),
    CONSTRAINT chk_config_versions_source_type
        CHECK (source_type IN ('APPROVAL_MATRIX', 'CLUSTER_MAPPING', 'SCOPE_CONFIG')),
    CONSTRAINT chk_config_versions_status CHECK (status IN ('DRAFT', 'ACTIVE', 'SUPERSEDED', 'ARCHIVED')),
    CONSTRAINT chk_config_versions_validation_status
        CHECK (validation_status IN ('PENDING', 'VALID', 'INVALID', 'WARNINGS')),
    CONSTRAINT chk_config_versions_version_number CHECK (version_number > 0),
    CONSTRAINT chk_config_versions_checksum CHECK (checksum ~ '^[0-9a-f]{64}$'),
    -- only a validated upload (VALID, or WARNINGS accepted) can ever have been activated
    CONSTRAINT chk_config_versions_activation_valid
        CHECK (status IN ('DRAFT', 'ARCHIVED') OR validation_status IN ('VALID', 'WARNINGS')),
    -- a SUPERSEDED version names its successor; DRAFT and ACTIVE ones name none (ARCHIVED keeps what it had)
    CONSTRAINT chk_config_versions_superseded_by CHECK (
        (status <> 'SUPERSEDED' OR superseded_by IS NOT NULL)
        AND (status NOT IN ('DRAFT', 'ACTIVE') OR superseded_by IS NULL)
    ),
    CONSTRAINT chk_config_versions_not_self
        CHECK (superseded_by IS DISTINCT FROM id AND previous_version_id IS DISTINCT FROM id)
);

-- ----------------------------------------------------------------- masters (rows of one config version each)
CREATE TABLE atp_scope_master (
    workspace_id      UUID         NOT NULL,
    id                UUID         NOT NULL DEFAULT gen_random_uuid(),
    config_version_id UUID         NOT NULL,
    scope_code        VARCHAR(50)  NOT NULL,
    scope_name        VARCHAR(200) NOT NULL,
    scope_group       VARCHAR(20)  NOT NULL,
    atp_category      VARCHAR(30)  NOT NULL,
    description       TEXT,
    is_active         BOOLEAN      NOT NULL DEFAULT TRUE,
    created_at        TIMESTAMPTZ  NOT NULL DEFAULT now(),
    updated_at        TIMESTAMPTZ  NOT NULL DEFAULT now(),
    CONSTRAINT atp_scope_master_pkey PRIMARY KEY (workspace_id, id),
    CONSTRAINT uq_atp_scope_master_code UNIQUE (workspace_id, config_version_id, scope_code),
    CONSTRAINT chk_atp_scope_master_scope_group CHECK (scope_group IN ('MICROWAVE', 'RAN', 'CME', 'PLN')),
    CONSTRAINT chk_atp_scope_master_atp_category
        CHECK (atp_category IN ('RAN_MW', 'PLN_UPGRADE', 'DISMANTLE_DROP', 'DISMANTLE_KEEP', 'SOFTWARE_LICENSE'))
);

CREATE TABLE vendor_master (
    workspace_id      UUID         NOT NULL,
    id                UUID         NOT NULL DEFAULT gen_random_uuid(),
    config_version_id UUID         NOT NULL,
    vendor_code       VARCHAR(50)  NOT NULL,
    vendor_name       VARCHAR(200) NOT NULL,
    vendor_type       VARCHAR(20)  NOT NULL DEFAULT 'VENDOR',
    contact_email     VARCHAR(255),
    is_active         BOOLEAN      NOT NULL DEFAULT TRUE,
    created_at        TIMESTAMPTZ  NOT NULL DEFAULT now(),
    updated_at        TIMESTAMPTZ  NOT NULL DEFAULT now(),
    CONSTRAINT vendor_master_pkey PRIMARY KEY (workspace_id, id),
    CONSTRAINT uq_vendor_master_code UNIQUE (workspace_id, config_version_id, vendor_code),
    CONSTRAINT chk_vendor_master_vendor_type CHECK (vendor_type IN ('VENDOR', 'SUBCONTRACTOR', 'OEM', 'CUSTOMER'))
);

CREATE TABLE approval_role_master (
    workspace_id      UUID         NOT NULL,
    id                UUID         NOT NULL DEFAULT gen_random_uuid(),
    config_version_id UUID         NOT NULL,
    role_code         VARCHAR(50)  NOT NULL,
    role_name         VARCHAR(200) NOT NULL,
    stage_group       VARCHAR(50)  NOT NULL,
    hierarchy_order   INTEGER      NOT NULL,
    is_final_approver BOOLEAN      NOT NULL DEFAULT FALSE,
    vendor_id         UUID,
    is_active         BOOLEAN      NOT NULL DEFAULT TRUE,
    created_at        TIMESTAMPTZ  NOT NULL DEFAULT now(),
    updated_at        TIMESTAMPTZ  NOT NULL DEFAULT now(),
    CONSTRAINT approval_role_master_pkey PRIMARY KEY (workspace_id, id),
    CONSTRAINT uq_approval_role_master_code UNIQUE (workspace_id, config_version_id, role_code),
    -- stage groups are the customer's own vocabulary (L1, QA, REGIONAL, ...): an upper-case code, not a list
    CONSTRAINT chk_approval_role_master_stage_group CHECK (stage_group ~ '^[A-Z][A-Z0-9_]{0,49}$'),
    CONSTRAINT chk_approval_role_master_hierarchy_order CHECK (hierarchy_order > 0)
);

CREATE TABLE approval_policy_master (
    workspace_id      UUID         NOT NULL,
    id                UUID         NOT NULL DEFAULT gen_random_uuid(),
    config_version_id UUID         NOT NULL,
    policy_code       VARCHAR(50)  NOT NULL,
    policy_name       VARCHAR(200) NOT NULL,
    atp_category      VARCHAR(30)  NOT NULL,
    scope_id          UUID,
    vendor_id         UUID,
    description       TEXT,
    is_active         BOOLEAN      NOT NULL DEFAULT TRUE,
    created_at        TIMESTAMPTZ  NOT NULL DEFAULT now(),
    updated_at        TIMESTAMPTZ  NOT NULL DEFAULT now(),
    CONSTRAINT approval_policy_master_pkey PRIMARY KEY (workspace_id, id),
    CONSTRAINT uq_approval_policy_master_code UNIQUE (workspace_id, config_version_id, policy_code),
    CONSTRAINT chk_approval_policy_master_atp_category
        CHECK (atp_category IN ('RAN_MW', 'PLN_UPGRADE', 'DISMANTLE_DROP', 'DISMANTLE_KEEP', 'SOFTWARE_LICENSE'))
);

-- The stages of a policy: stage_number orders them, stages sharing a parallel_group run at the same time.
CREATE TABLE approval_policy_stages (
    workspace_id      UUID         NOT NULL,
    id                UUID         NOT NULL DEFAULT gen_random_uuid(),
    config_version_id UUID         NOT NULL,
    policy_id         UUID         NOT NULL,
    stage_number      INTEGER      NOT NULL,
    stage_name        VARCHAR(200) NOT NULL,
    sequence_order    INTEGER      NOT NULL,
    role_id           UUID         NOT NULL,
    parallel_group    INTEGER,
    sla_hours         INTEGER      NOT NULL,
    assignment_mode   VARCHAR(20)  NOT NULL DEFAULT 'CLUSTER',
    assignment_rule   JSONB,
    static_user_id    BIGINT,
    is_mandatory      BOOLEAN      NOT NULL DEFAULT TRUE,
    created_at        TIMESTAMPTZ  NOT NULL DEFAULT now(),
    updated_at        TIMESTAMPTZ  NOT NULL DEFAULT now(),
    CONSTRAINT approval_policy_stages_pkey PRIMARY KEY (workspace_id, id),
    CONSTRAINT uq_approval_policy_stages_stage UNIQUE (workspace_id, policy_id, stage_number),
    CONSTRAINT chk_approval_policy_stages_stage_number CHECK (stage_number > 0),
    CONSTRAINT chk_approval_policy_stages_sequence_order CHECK (sequence_order > 0),
    CONSTRAINT chk_approval_policy_stages_parallel_group CHECK (parallel_group > 0),
    CONSTRAINT chk_approval_policy_stages_sla_hours CHECK (sla_hours > 0),
    CONSTRAINT chk_approval_policy_stages_assignment_mode
        CHECK (assignment_mode IN ('CLUSTER', 'STATIC_USER', 'RULE', 'AUTO')),
    -- the mode names where the approver comes from, so that source must be there
    CONSTRAINT chk_approval_policy_stages_assignment_source CHECK (
        (assignment_mode <> 'STATIC_USER' OR static_user_id IS NOT NULL)
        AND (assignment_mode <> 'RULE' OR jsonb_typeof(assignment_rule) = 'object')
    )
);

CREATE TABLE cluster_master (
    workspace_id      UUID         NOT NULL,
    id                UUID         NOT NULL DEFAULT gen_random_uuid(),
    config_version_id UUID         NOT NULL,
    cluster_code      VARCHAR(50)  NOT NULL,
    cluster_name      VARCHAR(200),
    region            VARCHAR(100) NOT NULL,
    city              VARCHAR(100),
    m_sequence        INTEGER,
    is_active         BOOLEAN      NOT NULL DEFAULT TRUE,
    created_at        TIMESTAMPTZ  NOT NULL DEFAULT now(),
    updated_at        TIMESTAMPTZ  NOT NULL DEFAULT now(),
    CONSTRAINT cluster_master_pkey PRIMARY KEY (workspace_id, id),
    CONSTRAINT uq_cluster_master_code UNIQUE (workspace_id, config_version_id, cluster_code),
    CONSTRAINT chk_cluster_master_m_sequence CHECK (m_sequence > 0)
);

CREATE TABLE cluster_approver_master (
    workspace_id      UUID        NOT NULL,
    id                UUID        NOT NULL DEFAULT gen_random_uuid(),
    config_version_id UUID        NOT NULL,
    cluster_id        UUID        NOT NULL,
    role_id           UUID        NOT NULL,
    primary_user_id   BIGINT      NOT NULL,
    backup_user_id    BIGINT,
    effective_from    DATE        NOT NULL DEFAULT CURRENT_DATE,
    effective_to      DATE,
    is_active         BOOLEAN     NOT NULL DEFAULT TRUE,
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT cluster_approver_master_pkey PRIMARY KEY (workspace_id, id),
    CONSTRAINT uq_cluster_approver_master_assignment
        UNIQUE (workspace_id, config_version_id, cluster_id, role_id, effective_from),
    CONSTRAINT chk_cluster_approver_master_effective_window
        CHECK (effective_to IS NULL OR effective_to >= effective_from),
    CONSTRAINT chk_cluster_approver_master_backup_differs CHECK (backup_user_id IS DISTINCT FROM primary_user_id)
);

-- ------------------------------------------------------------------------------------------------- runtime
-- A workflow freezes its configuration by reference: config_version_id (RESTRICT: the version can never be
-- deleted while referenced, and it cannot change, see step 2) plus the resolved routing in routing_snapshot.
CREATE TABLE workflow_instances (
    workspace_id         UUID        NOT NULL,
    id                   UUID        NOT NULL DEFAULT gen_random_uuid(),
    config_version_id    UUID        NOT NULL,
    site_id              UUID        NOT NULL,
    scope_id             UUID        NOT NULL,
    policy_id            UUID        NOT NULL,
    vendor_id            UUID,
    cluster_id           UUID,
    cluster_code         VARCHAR(50),
    atp_category         VARCHAR(30) NOT NULL,
    status               VARCHAR(30) NOT NULL DEFAULT 'IN_PROGRESS',
    current_stage_number INTEGER,
    routing_snapshot     JSONB       NOT NULL DEFAULT '{}',
    sla_due_at           TIMESTAMPTZ,
    sla_breached_at      TIMESTAMPTZ,
    started_by           BIGINT,
    started_at           TIMESTAMPTZ NOT NULL DEFAULT now(),
    completed_at         TIMESTAMPTZ,
    created_at           TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at           TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT workflow_instances_pkey PRIMARY KEY (workspace_id, id),
    CONSTRAINT chk_workflow_instances_status CHECK (status IN
        ('IN_PROGRESS', 'ON_HOLD', 'APPROVED', 'APPROVED_WITH_PUNCHLIST', 'REJECTED', 'CANCELLED', 'COMPLETED')),
    CONSTRAINT chk_workflow_instances_atp_category
        CHECK (atp_category IN ('RAN_MW', 'PLN_UPGRADE', 'DISMANTLE_DROP', 'DISMANTLE_KEEP', 'SOFTWARE_LICENSE')),
    CONSTRAINT chk_workflow_instances_current_stage_number CHECK (current_stage_number > 0),
    CONSTRAINT chk_workflow_instances_routing_snapshot CHECK (jsonb_typeof(routing_snapshot) = 'object'),
    -- running instances have no completion time, finished ones have one
    CONSTRAINT chk_workflow_instances_completion CHECK (
        (status NOT IN ('IN_PROGRESS', 'ON_HOLD') OR completed_at IS NULL)
        AND (status NOT IN ('APPROVED', 'APPROVED_WITH_PUNCHLIST', 'REJECTED', 'CANCELLED', 'COMPLETED')
             OR completed_at IS NOT NULL)
    )
);

CREATE TABLE workflow_stages (
    workspace_id         UUID         NOT NULL,
    id                   UUID         NOT NULL DEFAULT gen_random_uuid(),
    workflow_instance_id UUID         NOT NULL,
    policy_stage_id      UUID,
    role_id              UUID,
    stage_number         INTEGER      NOT NULL,
    stage_name           VARCHAR(200) NOT NULL,
    sequence_order       INTEGER      NOT NULL,
    parallel_group       INTEGER,
    assigned_approver_id BIGINT,
    status               VARCHAR(20)  NOT NULL DEFAULT 'PENDING',
    sla_hours            INTEGER      NOT NULL,
    activated_at         TIMESTAMPTZ,
    due_at               TIMESTAMPTZ,
    breached_at          TIMESTAMPTZ,
    decided_by           BIGINT,
    decided_at           TIMESTAMPTZ,
    decision             VARCHAR(30),
    decision_comment     TEXT,
    created_at           TIMESTAMPTZ  NOT NULL DEFAULT now(),
    updated_at           TIMESTAMPTZ  NOT NULL DEFAULT now(),
    CONSTRAINT workflow_stages_pkey PRIMARY KEY (workspace_id, id),
    CONSTRAINT uq_workflow_stages_stage UNIQUE (workspace_id, workflow_instance_id, stage_number),
    CONSTRAINT chk_workflow_stages_status
        CHECK (status IN ('PENDING', 'ACTIVE', 'APPROVED', 'REJECTED', 'CANCELLED', 'SKIPPED')),
    CONSTRAINT chk_workflow_stages_stage_number CHECK (stage_number > 0),
    CONSTRAINT chk_workflow_stages_sequence_order CHECK (sequence_order > 0),
    CONSTRAINT chk_workflow_stages_parallel_group CHECK (parallel_group > 0),
    CONSTRAINT chk_workflow_stages_sla_hours CHECK (sla_hours > 0),
    CONSTRAINT chk_workflow_stages_decision CHECK (decision IN ('APPROVE', 'APPROVE_WITH_PUNCHLIST', 'REJECT')),
    -- a decided stage (and only a decided one) says who decided and when, and its decision matches its status
    -- (the decision's vocabulary is chk_workflow_stages_decision's)
    CONSTRAINT chk_workflow_stages_decided CHECK (
        (status IN ('APPROVED', 'REJECTED'))
            = (decision IS NOT NULL AND decided_by IS NOT NULL AND decided_at IS NOT NULL)
        AND (status <> 'REJECTED' OR decision = 'REJECT')
        AND (status <> 'APPROVED' OR decision <> 'REJECT')
    ),
    CONSTRAINT chk_workflow_stages_active_assigned
        CHECK (status <> 'ACTIVE' OR (assigned_approver_id IS NOT NULL AND activated_at IS NOT NULL))
);

CREATE TABLE atp_submissions (
    workspace_id           UUID         NOT NULL,
    id                     UUID         NOT NULL DEFAULT gen_random_uuid(),
    submission_code        VARCHAR(50)  NOT NULL,
    revision_number        INTEGER      NOT NULL DEFAULT 1,
    previous_submission_id UUID,
    site_id                UUID         NOT NULL,
    scope_id               UUID         NOT NULL,
    vendor_id              UUID,
    workflow_instance_id   UUID,
    atp_category           VARCHAR(30)  NOT NULL,
    status                 VARCHAR(30)  NOT NULL DEFAULT 'DRAFT',
    title                  VARCHAR(200),
    payload                JSONB        NOT NULL DEFAULT '{}',
    remarks                TEXT,
    created_by             BIGINT,
    submitted_by           BIGINT,
    submitted_at           TIMESTAMPTZ,
    qa_reviewed_by         BIGINT,
    qa_reviewed_at         TIMESTAMPTZ,
    qa_comment             TEXT,
    completed_at           TIMESTAMPTZ,
    created_at             TIMESTAMPTZ  NOT NULL DEFAULT now(),
    updated_at             TIMESTAMPTZ  NOT NULL DEFAULT now(),
    CONSTRAINT atp_submissions_pkey PRIMARY KEY (workspace_id, id),
    CONSTRAINT uq_atp_submissions_revision UNIQUE (workspace_id, submission_code, revision_number),
    CONSTRAINT chk_atp_submissions_status CHECK (status IN ('DRAFT', 'SUBMITTED', 'QA_REVIEW', 'QA_REJECTED',
        'IN_APPROVAL', 'REJECTED', 'APPROVED_WITH_PUNCHLIST', 'COMPLETED', 'CANCELLED')),
    CONSTRAINT chk_atp_submissions_atp_category
        CHECK (atp_category IN ('RAN_MW', 'PLN_UPGRADE', 'DISMANTLE_DROP', 'DISMANTLE_KEEP', 'SOFTWARE_LICENSE')),
    CONSTRAINT chk_atp_submissions_revision_number CHECK (revision_number > 0),
    CONSTRAINT chk_atp_submissions_payload CHECK (jsonb_typeof(payload) = 'object'),
    -- anything past DRAFT was submitted by someone at some time
    CONSTRAINT chk_atp_submissions_submitted
        CHECK (status IN ('DRAFT', 'CANCELLED') OR (submitted_by IS NOT NULL AND submitted_at IS NOT NULL)),
    -- in or past approval means a workflow instance carries it
    CONSTRAINT chk_atp_submissions_workflow CHECK (
        status NOT IN ('IN_APPROVAL', 'REJECTED', 'APPROVED_WITH_PUNCHLIST', 'COMPLETED')
        OR workflow_instance_id IS NOT NULL
    ),
    CONSTRAINT chk_atp_submissions_previous_not_self CHECK (previous_submission_id IS DISTINCT FROM id)
);

-- A document is stored either inline (content) or in an object store (storage_path), never both, never neither.
CREATE TABLE atp_submission_documents (
    workspace_id  UUID         NOT NULL,
    id            UUID         NOT NULL DEFAULT gen_random_uuid(),
    submission_id UUID         NOT NULL,
    document_type VARCHAR(30)  NOT NULL DEFAULT 'ATP_REPORT',
    file_name     VARCHAR(255) NOT NULL,
    media_type    VARCHAR(127) NOT NULL,
    size_bytes    BIGINT       NOT NULL,
    sha256        TEXT         NOT NULL,
    content       BYTEA,
    storage_path  TEXT,
    uploaded_by   BIGINT,
    uploaded_at   TIMESTAMPTZ  NOT NULL DEFAULT now(),
    created_at    TIMESTAMPTZ  NOT NULL DEFAULT now(),
    updated_at    TIMESTAMPTZ  NOT NULL DEFAULT now(),
    CONSTRAINT atp_submission_documents_pkey PRIMARY KEY (workspace_id, id),
    CONSTRAINT chk_atp_submission_documents_document_type
        CHECK (document_type IN ('ATP_REPORT', 'PHOTO', 'DRAWING', 'EVIDENCE', 'CHECKLIST', 'OTHER')),
    CONSTRAINT chk_atp_submission_documents_size_bytes CHECK (size_bytes >= 0),
    CONSTRAINT chk_atp_submission_documents_sha256 CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    CONSTRAINT chk_atp_submission_documents_media_type CHECK (media_type ~ '^[a-z]+/[a-zA-Z0-9.+_-]+$'),
    CONSTRAINT chk_atp_submission_documents_storage CHECK (
        (content IS NOT NULL AND storage_path IS NULL AND octet_length(content) = size_bytes)
        OR (content IS NULL AND storage_path IS NOT NULL)
    )
);

CREATE TABLE punchlists (
    workspace_id         UUID        NOT NULL,
    id                   UUID        NOT NULL DEFAULT gen_random_uuid(),
    workflow_instance_id UUID        NOT NULL,
    submission_id        UUID,
    status               VARCHAR(20) NOT NULL DEFAULT 'OPEN',
    raised_by            BIGINT,
    raised_at            TIMESTAMPTZ NOT NULL DEFAULT now(),
    closed_by            BIGINT,
    closed_at            TIMESTAMPTZ,
    created_at           TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at           TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT punchlists_pkey PRIMARY KEY (workspace_id, id),
    CONSTRAINT chk_punchlists_status CHECK (status IN ('OPEN', 'IN_PROGRESS', 'CLOSED', 'CANCELLED')),
    CONSTRAINT chk_punchlists_closed CHECK ((status = 'CLOSED') = (closed_at IS NOT NULL))
);

CREATE TABLE punchlist_items (
    workspace_id         UUID        NOT NULL,
    id                   UUID        NOT NULL DEFAULT gen_random_uuid(),
    punchlist_id         UUID        NOT NULL,
    item_code            VARCHAR(50) NOT NULL,
    description          TEXT        NOT NULL,
    severity             VARCHAR(10) NOT NULL,
    status               VARCHAR(20) NOT NULL DEFAULT 'IDENTIFIED',
    evidence_document_id UUID,
    rectified_at         TIMESTAMPTZ,
    verified_by          BIGINT,
    verified_at          TIMESTAMPTZ,
    closed_at            TIMESTAMPTZ,
    rejection_reason     TEXT,
    created_at           TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at           TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT punchlist_items_pkey PRIMARY KEY (workspace_id, id),
    CONSTRAINT uq_punchlist_items_code UNIQUE (workspace_id, punchlist_id, item_code),
    CONSTRAINT chk_punchlist_items_severity CHECK (severity IN ('CRITICAL', 'MAJOR', 'MINOR')),
    CONSTRAINT chk_punchlist_items_status
        CHECK (status IN ('IDENTIFIED', 'RECTIFIED', 'VERIFIED', 'CLOSED', 'REJECTED')),
    -- an item is closed on evidence: the document that shows the rectification
    CONSTRAINT chk_punchlist_items_closed_evidence
        CHECK (status <> 'CLOSED' OR (evidence_document_id IS NOT NULL AND closed_at IS NOT NULL)),
    CONSTRAINT chk_punchlist_items_rejection_reason CHECK (status <> 'REJECTED' OR rejection_reason IS NOT NULL)
);

-- An override names exactly the target its type says: a stage, a submission, a cluster or a region.
CREATE TABLE approver_overrides (
    workspace_id         UUID         NOT NULL,
    id                   UUID         NOT NULL DEFAULT gen_random_uuid(),
    override_type        VARCHAR(20)  NOT NULL,
    workflow_instance_id UUID,
    workflow_stage_id    UUID,
    submission_id        UUID,
    cluster_id           UUID,
    region               VARCHAR(100),
    from_user_id         BIGINT,
    to_user_id           BIGINT       NOT NULL,
    reason               TEXT         NOT NULL,
    valid_from           TIMESTAMPTZ  NOT NULL DEFAULT now(),
    valid_to             TIMESTAMPTZ,
    approval_status      VARCHAR(20)  NOT NULL DEFAULT 'PENDING',
    requested_by         BIGINT,
    approved_by          BIGINT,
    approved_at          TIMESTAMPTZ,
    created_at           TIMESTAMPTZ  NOT NULL DEFAULT now(),
    updated_at           TIMESTAMPTZ  NOT NULL DEFAULT now(),
    CONSTRAINT approver_overrides_pkey PRIMARY KEY (workspace_id, id),
    CONSTRAINT chk_approver_overrides_override_type
        CHECK (override_type IN ('STAGE', 'SUBMISSION', 'CLUSTER', 'REGION')),
    -- the type's vocabulary is chk_approver_overrides_override_type's; this one matches type and target
    CONSTRAINT chk_approver_overrides_target CHECK (
        (override_type <> 'STAGE' OR (workflow_stage_id IS NOT NULL AND submission_id IS NULL
            AND cluster_id IS NULL AND region IS NULL))
        AND (override_type <> 'SUBMISSION' OR (submission_id IS NOT NULL AND workflow_stage_id IS NULL
            AND cluster_id IS NULL AND region IS NULL))
        AND (override_type <> 'CLUSTER' OR (cluster_id IS NOT NULL AND workflow_stage_id IS NULL
            AND submission_id IS NULL AND region IS NULL))
        AND (override_type <> 'REGION' OR (region IS NOT NULL AND workflow_stage_id IS NULL
            AND submission_id IS NULL AND cluster_id IS NULL))
    ),
    CONSTRAINT chk_approver_overrides_approval_status
        CHECK (approval_status IN ('PENDING', 'APPROVED', 'REJECTED', 'REVOKED')),
    CONSTRAINT chk_approver_overrides_valid_window CHECK (valid_to IS NULL OR valid_to > valid_from),
    CONSTRAINT chk_approver_overrides_users_differ CHECK (from_user_id IS DISTINCT FROM to_user_id),
    CONSTRAINT chk_approver_overrides_approved
        CHECK (approval_status <> 'APPROVED' OR (approved_by IS NOT NULL AND approved_at IS NOT NULL))
);

-- An approver's planned absence (leave, travel) and who stands in: part 2's assignment reads it.
CREATE TABLE approver_absences (
    workspace_id     UUID        NOT NULL,
    id               UUID        NOT NULL DEFAULT gen_random_uuid(),
    user_id          BIGINT      NOT NULL,
    delegate_user_id BIGINT,
    starts_at        TIMESTAMPTZ NOT NULL,
    ends_at          TIMESTAMPTZ NOT NULL,
    reason           TEXT,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT approver_absences_pkey PRIMARY KEY (workspace_id, id),
    CONSTRAINT chk_approver_absences_window CHECK (ends_at > starts_at),
    CONSTRAINT chk_approver_absences_delegate_differs CHECK (delegate_user_id IS DISTINCT FROM user_id)
);

-- The append-only history of every stage (step 2 refuses UPDATE / DELETE / TRUNCATE).
CREATE TABLE workflow_stage_actions (
    workspace_id         UUID        NOT NULL,
    id                   UUID        NOT NULL DEFAULT gen_random_uuid(),
    workflow_instance_id UUID        NOT NULL,
    workflow_stage_id    UUID        NOT NULL,
    action               VARCHAR(30) NOT NULL,
    actor_user_id        BIGINT,
    from_status          VARCHAR(20),
    to_status            VARCHAR(20),
    comment              TEXT,
    payload              JSONB       NOT NULL DEFAULT '{}',
    created_at           TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT workflow_stage_actions_pkey PRIMARY KEY (workspace_id, id),
    CONSTRAINT chk_workflow_stage_actions_action CHECK (action IN ('ACTIVATE', 'APPROVE', 'APPROVE_WITH_PUNCHLIST',
        'REJECT', 'REASSIGN', 'DELEGATE', 'COMMENT', 'ESCALATE', 'SLA_BREACH', 'SKIP', 'CANCEL')),
    CONSTRAINT chk_workflow_stage_actions_from_status
        CHECK (from_status IN ('PENDING', 'ACTIVE', 'APPROVED', 'REJECTED', 'CANCELLED', 'SKIPPED')),
    CONSTRAINT chk_workflow_stage_actions_to_status
        CHECK (to_status IN ('PENDING', 'ACTIVE', 'APPROVED', 'REJECTED', 'CANCELLED', 'SKIPPED')),
    -- only system actions (SLA breach, escalation, activation) have no human actor
    CONSTRAINT chk_workflow_stage_actions_actor
        CHECK (actor_user_id IS NOT NULL OR action IN ('ACTIVATE', 'ESCALATE', 'SLA_BREACH', 'SKIP', 'CANCEL'))
);

-- rows archived by `migrate down --to 5` (or lower) come back before FKs, guards and audit triggers exist, so a
-- restore writes no audit rows and trips no guard (FKs are added afterwards and validated over them)
DO $$
DECLARE
    t text;
BEGIN
    IF to_regnamespace('neurohub_archive') IS NOT NULL THEN
        FOREACH t IN ARRAY ARRAY['workspaces', 'workspace_members', 'sites', 'config_versions', 'atp_scope_master',
                                 'vendor_master', 'approval_role_master', 'approval_policy_master',
                                 'approval_policy_stages', 'cluster_master', 'cluster_approver_master',
                                 'workflow_instances', 'workflow_stages', 'atp_submissions',
                                 'atp_submission_documents', 'punchlists', 'punchlist_items', 'approver_overrides',
                                 'approver_absences', 'workflow_stage_actions'] LOOP
            PERFORM neurohub_archive.restore_table(format('public.%I', t)::regclass, 'v0006_' || t);
        END LOOP;
    END IF;
END;
$$;
