-- Down 0009: back to the 0008 schema. The items' evidence_before values are archived (restored by the next up).
SET LOCAL row_security = off;
SELECT neurohub_archive.archive_table('public.punchlist_items', 'v0009_punchlist_items_cols', ARRAY['evidence_before']);
DROP INDEX idx_approver_absences_starts;
DROP INDEX idx_approver_overrides_created;
DROP TRIGGER trg_approver_overrides_no_overlap ON approver_overrides;
DROP TRIGGER trg_approver_absences_no_overlap ON approver_absences;
DROP FUNCTION guard_approver_override_overlap();
DROP FUNCTION guard_approver_absence_overlap();
ALTER TABLE punchlist_items DROP COLUMN evidence_before;
