-- 0001 initial_schema, seed 000 STEP 3 (group A): product_models, processes (+ the 8 processes), users.
-- This is the ORIGINAL schema of seed 000: timestamps are TIMESTAMP WITHOUT TIME ZONE here; 0002 converts them.
-- Audit triggers are attached in the audit_logs step, once audit_logs exists.
-- If a previous `migrate down` archived rows into neurohub_archive, they are restored here (same ids).

CREATE TABLE product_models (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    model_code     VARCHAR(3)   NOT NULL,
    model_name     VARCHAR(200) NOT NULL,
    category       VARCHAR(100),
    status         VARCHAR(20)  NOT NULL DEFAULT 'ACTIVE',
    specifications JSONB        NOT NULL DEFAULT '{}'::jsonb,
    created_at     TIMESTAMP    NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at     TIMESTAMP    NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT uq_product_models_model_code UNIQUE (model_code),
    CONSTRAINT chk_product_models_model_code CHECK (model_code ~ '^[A-Z0-9]{3}$'),
    CONSTRAINT chk_product_models_status CHECK (status IN ('ACTIVE', 'INACTIVE', 'DISCONTINUED'))
);
CREATE INDEX idx_product_models_status ON product_models (status);
CREATE INDEX idx_product_models_category ON product_models (category);
CREATE TRIGGER trg_product_models_updated_at BEFORE UPDATE ON product_models
    FOR EACH ROW EXECUTE FUNCTION update_timestamp();

CREATE TABLE processes (
    id                         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    process_number             INTEGER      NOT NULL,
    process_code               VARCHAR(50)  NOT NULL,
    process_name_ko            VARCHAR(200) NOT NULL,
    process_name_en            VARCHAR(200) NOT NULL,
    description                TEXT,
    estimated_duration_seconds INTEGER,
    quality_criteria           JSONB        NOT NULL DEFAULT '{}'::jsonb,
    is_active                  BOOLEAN      NOT NULL DEFAULT TRUE,
    created_at                 TIMESTAMP    NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at                 TIMESTAMP    NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT uq_processes_process_number UNIQUE (process_number),
    CONSTRAINT uq_processes_process_code UNIQUE (process_code),
    CONSTRAINT chk_processes_process_number CHECK (process_number BETWEEN 1 AND 8),
    CONSTRAINT chk_processes_estimated_duration CHECK (estimated_duration_seconds IS NULL OR estimated_duration_seconds > 0)
);
CREATE INDEX idx_processes_is_active ON processes (is_active, process_number);
CREATE TRIGGER trg_processes_updated_at BEFORE UPDATE ON processes
    FOR EACH ROW EXECUTE FUNCTION update_timestamp();
CREATE TRIGGER trg_processes_prevent_deletion BEFORE DELETE ON processes
    FOR EACH ROW EXECUTE FUNCTION prevent_process_deletion();

CREATE TABLE users (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username      VARCHAR(50)  NOT NULL,
    full_name     VARCHAR(100) NOT NULL,
    email         VARCHAR(255),
    password_hash TEXT         NOT NULL,
    role          VARCHAR(20)  NOT NULL DEFAULT 'OPERATOR',
    department    VARCHAR(100),
    is_active     BOOLEAN      NOT NULL DEFAULT TRUE,
    last_login_at TIMESTAMP,
    created_at    TIMESTAMP    NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at    TIMESTAMP    NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT uq_users_username UNIQUE (username),
    CONSTRAINT uq_users_email UNIQUE (email),
    CONSTRAINT chk_users_role CHECK (role IN ('ADMIN', 'MANAGER', 'OPERATOR', 'VIEWER'))
);
CREATE INDEX idx_users_role ON users (role);
CREATE INDEX idx_users_is_active ON users (is_active);
CREATE TRIGGER trg_users_updated_at BEFORE UPDATE ON users
    FOR EACH ROW EXECUTE FUNCTION update_timestamp();
CREATE TRIGGER trg_users_prevent_deletion BEFORE DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION prevent_user_deletion();

DO $$
BEGIN
    IF to_regclass('neurohub_archive.v0001_product_models') IS NOT NULL THEN
        PERFORM neurohub_archive.restore_table('public.product_models', 'v0001_product_models');
    END IF;
    IF to_regclass('neurohub_archive.v0001_users') IS NOT NULL THEN
        PERFORM neurohub_archive.restore_table('public.users', 'v0001_users');
    END IF;
    IF to_regclass('neurohub_archive.v0001_processes') IS NOT NULL THEN
        -- rows archived by `migrate down` (the seeded processes included) come back with their ids
        PERFORM neurohub_archive.restore_table('public.processes', 'v0001_processes');
    ELSE
        INSERT INTO processes (process_number, process_code, process_name_ko, process_name_en, description,
                               estimated_duration_seconds, quality_criteria)
        VALUES
        (1, 'LASER_MARKING', '레이저 마킹', 'Laser Marking', 'Laser-mark the LOT/serial identification on the housing', 60,
         '{"marking_depth_um": {"min": 20, "max": 50, "unit": "um", "required": true}, "legibility_score": {"min": 90, "max": 100, "unit": "%", "required": true}}'),
        (2, 'LMA_ASSEMBLY', 'LMA 조립', 'LMA Assembly', 'Assemble the linear motor actuator', 300,
         '{"torque_nm": {"min": 1.8, "max": 2.2, "unit": "Nm", "required": true}, "gap_mm": {"min": 0.05, "max": 0.15, "unit": "mm", "required": true}}'),
        (3, 'SENSOR_INSPECTION', '센서 검사', 'Sensor Inspection', 'Inspect and calibrate the sensors', 180,
         '{"offset_mv": {"min": -5, "max": 5, "unit": "mV", "required": true}, "noise_mv": {"min": 0, "max": 2, "unit": "mV", "required": true}}'),
        (4, 'FIRMWARE_UPLOAD', '펌웨어 업로드', 'Firmware Upload', 'Flash and verify the firmware image', 120,
         '{"checksum_ok": {"min": 1, "max": 1, "unit": "bool", "required": true}}'),
        (5, 'ROBOT_ASSEMBLY', '로봇 조립', 'Robot Assembly', 'Final robot assembly', 600,
         '{"screw_torque_nm": {"min": 0.8, "max": 1.2, "unit": "Nm", "required": true}}'),
        (6, 'PERFORMANCE_TEST', '성능 검사', 'Performance Test', 'End-of-line performance test', 900,
         '{"max_speed_rpm": {"min": 2900, "max": 3100, "unit": "rpm", "required": true}, "current_a": {"min": 0, "max": 2.5, "unit": "A", "required": true}}'),
        (7, 'LABEL_PRINTING', '라벨 프린팅', 'Label Printing', 'Print and attach the product label', 60,
         '{"barcode_grade": {"min": 3, "max": 4, "unit": "grade", "required": true}}'),
        (8, 'PACKAGING_INSPECTION', '포장 및 외관 검사', 'Packaging & Visual Inspection', 'Visual inspection and packaging', 240,
         '{"visual_defects": {"min": 0, "max": 0, "unit": "count", "required": true}}');
    END IF;
END;
$$;
