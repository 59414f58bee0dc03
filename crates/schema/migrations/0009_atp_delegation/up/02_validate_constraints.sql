-- 0009 atp delegation, step 2 of 3: validate step 1's CHECK (its own transaction: the scan does not block writes).
ALTER TABLE punchlist_items VALIDATE CONSTRAINT chk_punchlist_items_evidence_before;
