-- 0009 atp delegation, step 1 of 3: the punchlist items' "evidence before" date, and the guards against
-- overlapping absences and overlapping approved overrides (docs/atp-flow.md "Overrides and absences").
--
-- Expand-only: a nullable column (no rewrite; the old binary ignores it) with a CHECK added NOT VALID (validated
-- in step 2), and two BEFORE triggers that refuse only new overlapping rows.

-- the date the submitter must show the rectification's evidence by; after the item was raised
ALTER TABLE punchlist_items ADD COLUMN evidence_before TIMESTAMPTZ;
ALTER TABLE punchlist_items
    ADD CONSTRAINT chk_punchlist_items_evidence_before CHECK (evidence_before IS NULL OR evidence_before > created_at)
    NOT VALID;

-- One user is absent at most once at any instant: two windows of one user may not overlap ([starts_at, ends_at)).
-- Concurrent writers for the same user are serialized by a transaction-scoped advisory lock, so the check (a new
-- snapshot per statement in READ COMMITTED) sees the other's committed row. SQLSTATE NH121.
CREATE FUNCTION guard_approver_absence_overlap() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended('approver_absences:' || NEW.workspace_id::text || ':'
                                                   || NEW.user_id::text, 0));
    IF EXISTS (SELECT 1 FROM approver_absences a
                WHERE a.workspace_id = NEW.workspace_id AND a.user_id = NEW.user_id AND a.id <> NEW.id
                  AND tstzrange(a.starts_at, a.ends_at) && tstzrange(NEW.starts_at, NEW.ends_at)) THEN
        RAISE EXCEPTION USING ERRCODE = 'NH121',
            MESSAGE = format('user %s already has an absence overlapping %s - %s', NEW.user_id, NEW.starts_at,
                             NEW.ends_at);
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER trg_approver_absences_no_overlap
    BEFORE INSERT OR UPDATE OF user_id, starts_at, ends_at ON approver_absences
    FOR EACH ROW EXECUTE FUNCTION guard_approver_absence_overlap();

-- Of one user's APPROVED overrides, two with the same type and target may not be valid at the same instant
-- ([valid_from, valid_to), NULL valid_to = open-ended): the delegate of a stage is never ambiguous. Overrides of
-- different targets may overlap (a STAGE override inside a REGION one): the most specific wins (docs). NH122.
CREATE FUNCTION guard_approver_override_overlap() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.approval_status <> 'APPROVED' THEN
        RETURN NEW;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtextextended('approver_overrides:' || NEW.workspace_id::text || ':'
                                                   || COALESCE(NEW.from_user_id::text, '-'), 0));
    IF EXISTS (SELECT 1 FROM approver_overrides o
                WHERE o.workspace_id = NEW.workspace_id AND o.id <> NEW.id AND o.approval_status = 'APPROVED'
                  AND o.from_user_id IS NOT DISTINCT FROM NEW.from_user_id
                  AND o.override_type = NEW.override_type
                  AND o.workflow_stage_id IS NOT DISTINCT FROM NEW.workflow_stage_id
                  AND o.submission_id IS NOT DISTINCT FROM NEW.submission_id
                  AND o.cluster_id IS NOT DISTINCT FROM NEW.cluster_id
                  AND o.region IS NOT DISTINCT FROM NEW.region
                  AND tstzrange(o.valid_from, o.valid_to) && tstzrange(NEW.valid_from, NEW.valid_to)) THEN
        RAISE EXCEPTION USING ERRCODE = 'NH122',
            MESSAGE = format('user %s already has an approved %s override of this target valid in %s - %s',
                             NEW.from_user_id, NEW.override_type, NEW.valid_from,
                             COALESCE(NEW.valid_to::text, 'open end'));
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER trg_approver_overrides_no_overlap
    BEFORE INSERT OR UPDATE ON approver_overrides
    FOR EACH ROW EXECUTE FUNCTION guard_approver_override_overlap();

-- a column archived by `migrate down --to 8` (or lower) comes back
DO $$
BEGIN
    IF to_regnamespace('neurohub_archive') IS NOT NULL THEN
        PERFORM neurohub_archive.restore_columns('public.punchlist_items', 'v0009_punchlist_items_cols');
    END IF;
END;
$$;
