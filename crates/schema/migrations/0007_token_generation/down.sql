-- Down 0007: the generations only matter to a running server (the binary of 0006 does not read them), so the
-- column is dropped rather than archived.
DROP TRIGGER trg_users_token_generation ON users;
DROP FUNCTION bump_token_generation();
ALTER TABLE users DROP COLUMN token_generation;
