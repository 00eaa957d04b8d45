-- Parents on WhatsApp (issue 12): links between a guardian's phone and a pupil, one-time
-- link codes, conversation state, the outbox of every message we send, report-card media.

CREATE TABLE chatbot_settings (
    id                 SMALLINT PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    -- Approved message templates (their names in WhatsApp Manager) and their language.
    absence_template   TEXT NOT NULL DEFAULT 'absence_alert',
    results_template   TEXT NOT NULL DEFAULT 'results_out',
    template_language  TEXT NOT NULL DEFAULT 'en',
    -- What the last send found wrong with the school's number, token or templates.
    problem            TEXT,
    problem_code       INTEGER,
    problem_at         TIMESTAMPTZ,
    updated_at         TIMESTAMPTZ NOT NULL DEFAULT now()
);
INSERT INTO chatbot_settings (id) VALUES (1);

-- A one-time code the school office gives a guardian: single use, expiring, 5 tries.
CREATE TABLE chatbot_link_codes (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    guardian_id BIGINT NOT NULL REFERENCES guardians (id) ON DELETE CASCADE,
    code_hash   TEXT NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL,
    tries       SMALLINT NOT NULL DEFAULT 0,
    used_at     TIMESTAMPTZ,
    created_by  BIGINT,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX chatbot_link_codes_guardian_idx ON chatbot_link_codes (guardian_id);

-- A guardian's WhatsApp number linked to a pupil; ended, never deleted.
CREATE TABLE chatbot_links (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    guardian_id    BIGINT NOT NULL REFERENCES guardians (id) ON DELETE CASCADE,
    student_id     BIGINT NOT NULL REFERENCES students (id) ON DELETE CASCADE,
    wa_phone       TEXT NOT NULL,
    wa_user_id     TEXT,
    proof          TEXT NOT NULL CHECK (proof IN ('link_code', 'admission_no_and_birth_date')),
    linked_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    ended_at       TIMESTAMPTZ,
    -- public.users id of the staff member who ended it (null: the parent, or the system).
    ended_by       BIGINT,
    ended_reason   TEXT
);
CREATE UNIQUE INDEX chatbot_links_live_key ON chatbot_links (student_id, wa_phone)
    WHERE ended_at IS NULL;
CREATE INDEX chatbot_links_phone_idx ON chatbot_links (wa_phone) WHERE ended_at IS NULL;
CREATE INDEX chatbot_links_guardian_idx ON chatbot_links (guardian_id);

-- Which child a parent is looking at, and what the bot last asked.
CREATE TABLE chatbot_conversations (
    wa_phone           TEXT PRIMARY KEY,
    current_student_id BIGINT REFERENCES students (id) ON DELETE SET NULL,
    updated_at         TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Every message in and out, for the staff page of recent conversations.
CREATE TABLE chatbot_messages (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    direction  TEXT NOT NULL CHECK (direction IN ('in', 'out')),
    wa_phone   TEXT NOT NULL,
    summary    TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX chatbot_messages_recent_idx ON chatbot_messages (created_at DESC);

-- Every message we send: `purpose` is unique (kind, pupil, day or exam session, recipient),
-- so a retried job or a second worker never sends twice.
CREATE TABLE whatsapp_outbox (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    purpose         TEXT NOT NULL,
    -- E.164 phone, or a business-scoped user id when we have no phone.
    recipient       TEXT NOT NULL,
    phone_number_id TEXT NOT NULL,
    -- What to send: a free-form message (inside the 24-hour window) and/or a template.
    message         JSONB,
    template        JSONB,
    student_id      BIGINT REFERENCES students (id) ON DELETE SET NULL,
    status          TEXT NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'sending', 'sent', 'delivered', 'read',
                                      'failed', 'uncertain', 'skipped')),
    -- Set once WhatsApp accepted it.
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
CREATE UNIQUE INDEX whatsapp_outbox_wamid_key ON whatsapp_outbox (wamid);
CREATE INDEX whatsapp_outbox_due_idx ON whatsapp_outbox (next_attempt_at) WHERE status = 'pending';
CREATE INDEX whatsapp_outbox_recipient_idx ON whatsapp_outbox (recipient, sent_at);
-- "Is an earlier message to this person still on its way?" before every send.
CREATE INDEX whatsapp_outbox_in_flight_idx ON whatsapp_outbox (recipient, id)
    WHERE status IN ('pending', 'sending');

-- A report card uploaded to WhatsApp: its media id is reused while valid and the PDF is
-- unchanged.
CREATE TABLE whatsapp_media (
    purpose      TEXT PRIMARY KEY,
    sha256       TEXT NOT NULL,
    media_id     TEXT NOT NULL,
    uploaded_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
