-- API keys for integrations (issue 13): issued by the platform for one school, with scopes
-- expanded to permissions. Only a SHA-256 of the key is stored (keys are 256-bit random, so
-- a fast hash is enough); the key is shown once. Each key acts through its own disabled
-- service account, so marks, audit rows and batches name the key as who did it.
CREATE TABLE api_keys (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    client_id    BIGINT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    user_id      BIGINT NOT NULL UNIQUE REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    prefix       TEXT NOT NULL UNIQUE,
    secret_hash  BYTEA NOT NULL UNIQUE,
    scopes       TEXT[] NOT NULL,
    permissions  TEXT[] NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    created_by   BIGINT REFERENCES users (id) ON DELETE SET NULL,
    last_used_at TIMESTAMPTZ,
    revoked_at   TIMESTAMPTZ
);
CREATE INDEX api_keys_client_idx ON api_keys (client_id, created_at DESC);
