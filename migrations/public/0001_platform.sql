-- Platform data: schools, their domains, all users, tokens, platform roles and audit.
-- Table names here must never also exist in a school schema (see DESIGN §2).

CREATE TABLE clients (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    schema_name    TEXT NOT NULL,
    name           TEXT NOT NULL,
    code           TEXT NOT NULL,
    setup_progress TEXT NOT NULL DEFAULT 'not_started',
    is_active      BOOLEAN NOT NULL DEFAULT TRUE,
    created_at     TIMESTAMPTZ NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL,
    CONSTRAINT clients_schema_name_key UNIQUE (schema_name),
    CONSTRAINT clients_code_key UNIQUE (code),
    CONSTRAINT clients_schema_name_check CHECK (
        schema_name ~ '^[a-z][a-z0-9_]{2,62}$'
        AND schema_name NOT IN ('public', 'apalis', 'information_schema')
        AND schema_name NOT LIKE 'pg\_%'),
    CONSTRAINT clients_setup_progress_check
        CHECK (setup_progress IN ('not_started', 'in_progress', 'completed'))
);
CREATE INDEX clients_name_lower_idx ON clients (lower(name));

CREATE TABLE domains (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    domain     TEXT NOT NULL,
    client_id  BIGINT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    is_primary BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMPTZ NOT NULL,
    CONSTRAINT domains_domain_key UNIQUE (domain)
);
CREATE INDEX domains_client_id_idx ON domains (client_id);
CREATE UNIQUE INDEX domains_one_primary_per_school ON domains (client_id) WHERE is_primary;

CREATE TABLE school_setups (
    client_id    BIGINT PRIMARY KEY REFERENCES clients (id) ON DELETE CASCADE,
    steps        JSONB NOT NULL DEFAULT '[]',
    contacted_by TEXT,
    updated_at   TIMESTAMPTZ NOT NULL
);

CREATE TABLE users (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email           TEXT NOT NULL,
    password_hash   TEXT NOT NULL,
    full_name       TEXT NOT NULL,
    client_id       BIGINT REFERENCES clients (id) ON DELETE CASCADE,
    is_superadmin   BOOLEAN NOT NULL DEFAULT FALSE,
    is_active       BOOLEAN NOT NULL DEFAULT TRUE,
    -- Bumped when the user is disabled or changes password: ends sessions and access tokens.
    session_version INTEGER NOT NULL DEFAULT 1,
    last_login      TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    CONSTRAINT users_superadmin_is_platform CHECK (NOT (is_superadmin AND client_id IS NOT NULL))
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));
CREATE INDEX users_client_id_idx ON users (client_id);

CREATE TABLE refresh_tokens (
    jti        UUID PRIMARY KEY,
    family_id  UUID NOT NULL,
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at TIMESTAMPTZ NOT NULL,
    used_at    TIMESTAMPTZ,
    revoked_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user_idx ON refresh_tokens (user_id);

-- Failed-login counters. Keys always carry the scope (school id or "platform").
CREATE TABLE login_throttle (
    key               TEXT PRIMARY KEY,
    failures          INTEGER NOT NULL,
    window_started_at TIMESTAMPTZ NOT NULL,
    locked_until      TIMESTAMPTZ
);

CREATE TABLE platform_roles (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    permissions TEXT[] NOT NULL DEFAULT '{}',
    created_at  TIMESTAMPTZ NOT NULL,
    CONSTRAINT platform_roles_name_key UNIQUE (name)
);

CREATE TABLE platform_user_roles (
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role_id BIGINT NOT NULL REFERENCES platform_roles (id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, role_id)
);

CREATE TABLE platform_audit_log (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    occurred_at TIMESTAMPTZ NOT NULL,
    actor_id    BIGINT,
    actor_email TEXT,
    action      TEXT NOT NULL,
    entity      TEXT NOT NULL,
    entity_id   TEXT,
    changes     JSONB NOT NULL DEFAULT '{}',
    client_ip   TEXT,
    request_id  TEXT
);
CREATE INDEX platform_audit_log_occurred_idx ON platform_audit_log (occurred_at DESC);

-- Application servers cache host -> school; any change to schools or domains tells them.
CREATE FUNCTION schoolyard_notify_tenancy_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('schoolyard_tenancy', TG_TABLE_NAME);
    RETURN NULL;
END
$$;
CREATE TRIGGER clients_tenancy_notify AFTER INSERT OR UPDATE OR DELETE ON clients
    FOR EACH STATEMENT EXECUTE FUNCTION schoolyard_notify_tenancy_change();
CREATE TRIGGER domains_tenancy_notify AFTER INSERT OR UPDATE OR DELETE ON domains
    FOR EACH STATEMENT EXECUTE FUNCTION schoolyard_notify_tenancy_change();

INSERT INTO platform_roles (name, description, permissions, created_at) VALUES
    ('Operator', 'Manages schools and their domains',
     ARRAY['view_schools', 'add_schools', 'change_schools', 'view_platform_users', 'view_platform_audit'], now()),
    ('Support', 'Reads schools for support calls',
     ARRAY['view_schools', 'view_platform_users'], now());
