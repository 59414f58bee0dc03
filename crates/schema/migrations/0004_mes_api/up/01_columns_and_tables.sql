-- 0004 mes_api: what the MES API needs. Columns added to populated tables are nullable or have a constant
-- default (no table rewrite); their CHECKs are added NOT VALID in step 3 and validated in step 4.
ALTER TABLE users
    ADD COLUMN failed_login_count INTEGER NOT NULL DEFAULT 0,
    ADD COLUMN locked_until TIMESTAMPTZ;
ALTER TABLE serials
    ADD COLUMN rework_count INTEGER NOT NULL DEFAULT 0,
    ADD COLUMN scrap_reason TEXT;
-- why a unit was scrapped (set with status SCRAPPED by the scrap endpoints and by the rework limit)
ALTER TABLE wip_items
    ADD COLUMN scrap_reason TEXT;
ALTER TABLE process_data
    ADD COLUMN criteria_check JSONB,
    ADD COLUMN criteria_passed BOOLEAN,
    ADD COLUMN attempt INTEGER NOT NULL DEFAULT 1;

-- Refresh tokens are stored only as a hash; a family is one login, rotated on every refresh (reuse of a used
-- token revokes the family). Not audited: they are secrets. Deleting a user deletes its tokens.
CREATE TABLE refresh_tokens (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id    BIGINT      NOT NULL,
    family_id  UUID        NOT NULL,
    token_hash TEXT        NOT NULL,
    parent_id  BIGINT,
    issued_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at TIMESTAMPTZ NOT NULL,
    used_at    TIMESTAMPTZ,
    revoked_at TIMESTAMPTZ,
    client_ip  TEXT,
    CONSTRAINT uq_refresh_tokens_token_hash UNIQUE (token_hash),
    CONSTRAINT chk_refresh_tokens_expiry CHECK (expires_at > issued_at),
    CONSTRAINT fk_refresh_tokens_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE ON UPDATE CASCADE,
    -- SET NULL, not RESTRICT: purging expired tokens must never be blocked by their (also expired) children
    CONSTRAINT fk_refresh_tokens_parent FOREIGN KEY (parent_id) REFERENCES refresh_tokens (id)
        ON DELETE SET NULL ON UPDATE CASCADE
);
CREATE INDEX idx_refresh_tokens_user ON refresh_tokens (user_id);
CREATE INDEX idx_refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX idx_refresh_tokens_parent ON refresh_tokens (parent_id);
CREATE INDEX idx_refresh_tokens_expires_at ON refresh_tokens (expires_at);

-- A retried station write (same user, same Idempotency-Key) replays the stored reply instead of writing twice.
-- response_status / response_body are NULL while the first request is still in flight. Not audited.
CREATE TABLE idempotency_keys (
    user_id         BIGINT      NOT NULL,
    idempotency_key TEXT        NOT NULL,
    request_method  TEXT        NOT NULL,
    request_path    TEXT        NOT NULL,
    request_hash    TEXT        NOT NULL,
    response_status SMALLINT,
    response_body   JSONB,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    completed_at    TIMESTAMPTZ,
    CONSTRAINT idempotency_keys_pkey PRIMARY KEY (user_id, idempotency_key),
    CONSTRAINT chk_idempotency_keys_key_length CHECK (char_length(idempotency_key) BETWEEN 1 AND 255),
    CONSTRAINT chk_idempotency_keys_response_status CHECK (response_status IS NULL OR response_status BETWEEN 100 AND 599),
    CONSTRAINT fk_idempotency_keys_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE INDEX idx_idempotency_keys_created_at ON idempotency_keys (created_at);

-- The race-free lot counter: one row per (line, model, YYMM); INSERT ... ON CONFLICT DO UPDATE
-- SET last_seq = last_seq + 1 RETURNING last_seq. At most 99 lots per line, model and month.
CREATE TABLE lot_sequences (
    production_line_id BIGINT  NOT NULL,
    product_model_id   BIGINT  NOT NULL,
    year_month         CHAR(4) NOT NULL,
    last_seq           INTEGER NOT NULL,
    CONSTRAINT lot_sequences_pkey PRIMARY KEY (production_line_id, product_model_id, year_month),
    CONSTRAINT chk_lot_sequences_last_seq CHECK (last_seq BETWEEN 1 AND 99),
    CONSTRAINT chk_lot_sequences_year_month CHECK (year_month ~ '^[0-9]{2}(0[1-9]|1[0-2])$'),
    CONSTRAINT fk_lot_sequences_production_line FOREIGN KEY (production_line_id) REFERENCES production_lines (id)
        ON DELETE RESTRICT ON UPDATE CASCADE,
    CONSTRAINT fk_lot_sequences_product_model FOREIGN KEY (product_model_id) REFERENCES product_models (id)
        ON DELETE RESTRICT ON UPDATE CASCADE
);
CREATE INDEX idx_lot_sequences_product_model ON lot_sequences (product_model_id);

-- rows / values archived by `migrate down --to 3` (or lower) come back before the guards of step 2 exist
DO $$
BEGIN
    IF to_regnamespace('neurohub_archive') IS NOT NULL THEN
        PERFORM neurohub_archive.restore_columns('public.users', 'v0004_users_cols');
        PERFORM neurohub_archive.restore_columns('public.serials', 'v0004_serials_cols');
        PERFORM neurohub_archive.restore_columns('public.wip_items', 'v0004_wip_items_cols');
        PERFORM neurohub_archive.restore_columns('public.process_data', 'v0004_process_data_cols');
        PERFORM neurohub_archive.restore_table('public.refresh_tokens', 'v0004_refresh_tokens');
        PERFORM neurohub_archive.restore_table('public.idempotency_keys', 'v0004_idempotency_keys');
        PERFORM neurohub_archive.restore_table('public.lot_sequences', 'v0004_lot_sequences');
    END IF;
END;
$$;
