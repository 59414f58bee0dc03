-- 0002 refactoring (seed 001): every timestamp becomes TIMESTAMPTZ with a server default, and
-- process_data.measurements / defects become JSONB.
-- With TimeZone = UTC, PostgreSQL converts timestamp -> timestamptz without rewriting the table (the stored
-- values are read as UTC, which is how the server wrote them). JSON -> JSONB does need a rewrite of process_data.
SET LOCAL TimeZone = 'UTC';

ALTER TABLE product_models
    ALTER COLUMN created_at TYPE TIMESTAMPTZ,
    ALTER COLUMN created_at SET DEFAULT now(),
    ALTER COLUMN updated_at TYPE TIMESTAMPTZ,
    ALTER COLUMN updated_at SET DEFAULT now();

ALTER TABLE processes
    ALTER COLUMN created_at TYPE TIMESTAMPTZ,
    ALTER COLUMN created_at SET DEFAULT now(),
    ALTER COLUMN updated_at TYPE TIMESTAMPTZ,
    ALTER COLUMN updated_at SET DEFAULT now();

ALTER TABLE users
    ALTER COLUMN last_login_at TYPE TIMESTAMPTZ,
    ALTER COLUMN created_at TYPE TIMESTAMPTZ,
    ALTER COLUMN created_at SET DEFAULT now(),
    ALTER COLUMN updated_at TYPE TIMESTAMPTZ,
    ALTER COLUMN updated_at SET DEFAULT now();

ALTER TABLE lots
    ALTER COLUMN started_at TYPE TIMESTAMPTZ,
    ALTER COLUMN completed_at TYPE TIMESTAMPTZ,
    ALTER COLUMN closed_at TYPE TIMESTAMPTZ,
    ALTER COLUMN created_at TYPE TIMESTAMPTZ,
    ALTER COLUMN created_at SET DEFAULT now(),
    ALTER COLUMN updated_at TYPE TIMESTAMPTZ,
    ALTER COLUMN updated_at SET DEFAULT now();

ALTER TABLE serials
    ALTER COLUMN completed_at TYPE TIMESTAMPTZ,
    ALTER COLUMN created_at TYPE TIMESTAMPTZ,
    ALTER COLUMN created_at SET DEFAULT now(),
    ALTER COLUMN updated_at TYPE TIMESTAMPTZ,
    ALTER COLUMN updated_at SET DEFAULT now();

ALTER TABLE process_data
    ALTER COLUMN started_at TYPE TIMESTAMPTZ,
    ALTER COLUMN started_at SET DEFAULT now(),
    ALTER COLUMN completed_at TYPE TIMESTAMPTZ,
    ALTER COLUMN created_at TYPE TIMESTAMPTZ,
    ALTER COLUMN created_at SET DEFAULT now(),
    ALTER COLUMN updated_at TYPE TIMESTAMPTZ,
    ALTER COLUMN updated_at SET DEFAULT now(),
    ALTER COLUMN measurements TYPE JSONB USING measurements::jsonb,
    ALTER COLUMN defects TYPE JSONB USING defects::jsonb;
