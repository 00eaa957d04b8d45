-- WhatsApp channel (issue 12): what the platform needs before it knows the school.
-- Messages, links and conversations themselves live in each school's schema.

-- A school's own WhatsApp business number. The platform's shared number comes from the
-- environment and is not listed here. The access token is sealed (AES-256-GCM) with a
-- key from the environment; it is never shown again once saved.
CREATE TABLE whatsapp_numbers (
    phone_number_id     TEXT PRIMARY KEY,
    school_id           BIGINT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    access_token_sealed BYTEA NOT NULL,
    -- The number as parents dial it (E.164), to tell them where to send their link code.
    display_phone       TEXT,
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT whatsapp_numbers_one_per_school UNIQUE (school_id)
);

-- Which schools a sender reaches through the shared number: one row per linked pupil,
-- written when a parent links in a school and removed when the link ends. (ids of the
-- school's own rows carry no foreign key: DESIGN §2.)
CREATE TABLE whatsapp_contacts (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    wa_phone    TEXT NOT NULL CHECK (wa_phone ~ '^\+[1-9][0-9]{6,14}$'),
    school_id   BIGINT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    student_id  BIGINT NOT NULL,
    guardian_id BIGINT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT whatsapp_contacts_one_per_pupil UNIQUE (wa_phone, school_id, student_id)
);
CREATE INDEX whatsapp_contacts_school_idx ON whatsapp_contacts (school_id);

-- One WhatsApp user as seen by one business number: the 24-hour window, STOP, which school
-- they chose on the shared number, and a pending request for their phone number when
-- WhatsApp gave us only their business-scoped user id.
CREATE TABLE whatsapp_chats (
    id                     BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    phone_number_id        TEXT NOT NULL,
    wa_phone               TEXT,
    wa_user_id             TEXT,
    profile_name           TEXT NOT NULL DEFAULT '',
    last_inbound_at        TIMESTAMPTZ,
    opted_out_at           TIMESTAMPTZ,
    -- Set when a message to them failed as undeliverable (131026) or opted out (131050).
    undeliverable_at       TIMESTAMPTZ,
    undeliverable_code     INTEGER,
    chosen_school_id       BIGINT REFERENCES clients (id) ON DELETE SET NULL,
    contact_request_wamid  TEXT,
    created_at             TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK (wa_phone IS NOT NULL OR wa_user_id IS NOT NULL)
);
CREATE UNIQUE INDEX whatsapp_chats_phone_key ON whatsapp_chats (phone_number_id, wa_phone);
CREATE UNIQUE INDEX whatsapp_chats_user_key ON whatsapp_chats (phone_number_id, wa_user_id);

-- Everything the webhook accepted, stored before the 200 and processed by a job. `dedupe_key`
-- is the message's wamid (or, for a delivery status, wamid + status), so Meta's
-- redeliveries are acknowledged and never processed twice.
CREATE TABLE whatsapp_inbound (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    dedupe_key      TEXT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('message', 'status')),
    phone_number_id TEXT NOT NULL,
    -- The sender (phone in E.164 or business-scoped user id) the message came from, or the
    -- recipient a status is about; messages of one chat are processed in order.
    chat_key        TEXT NOT NULL,
    body            JSONB NOT NULL,
    received_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    processed_at    TIMESTAMPTZ,
    outcome         TEXT,
    -- Failed processing attempts; each retry waits longer, the eighth gives up.
    attempts        SMALLINT NOT NULL DEFAULT 0,
    CONSTRAINT whatsapp_inbound_dedupe_key UNIQUE (dedupe_key)
);
CREATE INDEX whatsapp_inbound_pending_idx ON whatsapp_inbound (chat_key, id)
    WHERE processed_at IS NULL;

-- Which school sent an outgoing message (null: the platform), so its delivery statuses reach
-- its outbox.
CREATE TABLE whatsapp_sent (
    wamid      TEXT PRIMARY KEY,
    school_id  BIGINT REFERENCES clients (id) ON DELETE CASCADE,
    outbox_id  BIGINT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- What the shared number says before a sender is linked to any school (how to link, which
-- school) belongs to no school: it goes through the same outbox, in a schema of its own
-- that the sender enters like a school's. No school may take this schema name.
CREATE SCHEMA whatsapp_platform;
ALTER TABLE clients DROP CONSTRAINT clients_schema_name_check;
ALTER TABLE clients ADD CONSTRAINT clients_schema_name_check CHECK (
    schema_name ~ '^[a-z][a-z0-9_]{2,62}$'
    AND schema_name NOT IN ('public', 'apalis', 'information_schema', 'whatsapp_platform')
    AND schema_name NOT LIKE 'pg\_%') NOT VALID;

CREATE TABLE whatsapp_platform.chatbot_settings (
    id                 SMALLINT PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    absence_template   TEXT NOT NULL DEFAULT 'absence_alert',
    results_template   TEXT NOT NULL DEFAULT 'results_out',
    template_language  TEXT NOT NULL DEFAULT 'en',
    problem            TEXT,
    problem_code       INTEGER,
    problem_at         TIMESTAMPTZ,
    updated_at         TIMESTAMPTZ NOT NULL DEFAULT now()
);
INSERT INTO whatsapp_platform.chatbot_settings (id) VALUES (1);

CREATE TABLE whatsapp_platform.chatbot_messages (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    direction  TEXT NOT NULL CHECK (direction IN ('in', 'out')),
    wa_phone   TEXT NOT NULL,
    summary    TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE whatsapp_platform.whatsapp_outbox (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    purpose         TEXT NOT NULL,
    recipient       TEXT NOT NULL,
    phone_number_id TEXT NOT NULL,
    message         JSONB,
    template        JSONB,
    student_id      BIGINT,
    status          TEXT NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'sending', 'sent', 'delivered', 'read',
                                      'failed', 'uncertain', 'skipped')),
    wamid           TEXT,
    sent_as         TEXT CHECK (sent_as IN ('message', 'template')),
    error_code      INTEGER,
    error_title     TEXT,
    attempts        SMALLINT NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    sent_at         TIMESTAMPTZ,
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT whatsapp_outbox_purpose_key UNIQUE (purpose),
    CHECK (message IS NOT NULL OR template IS NOT NULL)
);
CREATE UNIQUE INDEX whatsapp_outbox_wamid_key ON whatsapp_platform.whatsapp_outbox (wamid);
CREATE INDEX whatsapp_outbox_recipient_idx ON whatsapp_platform.whatsapp_outbox (recipient, sent_at);
CREATE INDEX whatsapp_outbox_in_flight_idx ON whatsapp_platform.whatsapp_outbox (recipient, id)
    WHERE status IN ('pending', 'sending');

CREATE TABLE whatsapp_platform.whatsapp_media (
    purpose      TEXT PRIMARY KEY,
    sha256       TEXT NOT NULL,
    media_id     TEXT NOT NULL,
    uploaded_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
