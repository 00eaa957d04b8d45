-- Notices (issue 10, items 9-11): a title and a plain-text body for the whole school, a
-- class level, a class arm or chosen pupils; for parents, staff or both. A notice is a
-- draft until published; a published notice is never edited, only withdrawn (or re-issued
-- as a new draft copied from it).

CREATE TABLE notices (
    id                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    title             TEXT NOT NULL,
    body              TEXT NOT NULL,
    status            TEXT NOT NULL DEFAULT 'draft'
                      CHECK (status IN ('draft', 'published', 'withdrawn')),
    -- Who it is about: the whole school, a class level (form), an arm (academic class) or
    -- the pupils in notice_pupils.
    scope             TEXT NOT NULL CHECK (scope IN ('school', 'form', 'arm', 'pupils')),
    form_id           BIGINT REFERENCES forms (id) ON DELETE RESTRICT,
    academic_class_id BIGINT REFERENCES academic_classes (id) ON DELETE RESTRICT,
    for_parents       BOOLEAN NOT NULL,
    for_staff         BOOLEAN NOT NULL,
    pinned            BOOLEAN NOT NULL DEFAULT FALSE,
    -- Staff are asked to acknowledge it.
    needs_ack         BOOLEAN NOT NULL DEFAULT FALSE,
    -- Seen from this moment (null on a draft: publishing sets it to the moment published).
    publish_at        TIMESTAMPTZ,
    expires_at        TIMESTAMPTZ,
    -- The notice this draft was re-issued from.
    reissued_from     BIGINT REFERENCES notices (id) ON DELETE SET NULL,
    -- public.users ids: no foreign key into another schema (DESIGN §2).
    author_id         BIGINT,
    published_at      TIMESTAMPTZ,
    published_by      BIGINT,
    withdrawn_at      TIMESTAMPTZ,
    withdrawn_by      BIGINT,
    created_at        TIMESTAMPTZ NOT NULL,
    updated_at        TIMESTAMPTZ NOT NULL,
    CONSTRAINT notices_someone CHECK (for_parents OR for_staff),
    CONSTRAINT notices_scope_target CHECK (
        (scope = 'form') = (form_id IS NOT NULL)
        AND (scope = 'arm') = (academic_class_id IS NOT NULL)),
    CONSTRAINT notices_expiry_after_publish CHECK (
        expires_at IS NULL OR publish_at IS NULL OR expires_at > publish_at),
    CONSTRAINT notices_published_has_time CHECK (status = 'draft' OR publish_at IS NOT NULL)
);
CREATE INDEX notices_status_idx ON notices (status, publish_at DESC);
CREATE INDEX notices_form_idx ON notices (form_id) WHERE form_id IS NOT NULL;
CREATE INDEX notices_arm_idx ON notices (academic_class_id) WHERE academic_class_id IS NOT NULL;

CREATE TABLE notice_pupils (
    notice_id  BIGINT NOT NULL REFERENCES notices (id) ON DELETE CASCADE,
    student_id BIGINT NOT NULL REFERENCES students (id) ON DELETE CASCADE,
    PRIMARY KEY (notice_id, student_id)
);
CREATE INDEX notice_pupils_student_idx ON notice_pupils (student_id);

-- One attachment per notice (a PDF or an image), checked by its content when uploaded.
CREATE TABLE notice_attachments (
    notice_id    BIGINT PRIMARY KEY REFERENCES notices (id) ON DELETE CASCADE,
    filename     TEXT NOT NULL,
    content_type TEXT NOT NULL,
    bytes        BYTEA NOT NULL,
    uploaded_at  TIMESTAMPTZ NOT NULL
);

-- A staff member's "I have read this" (once per notice and person).
CREATE TABLE notice_acknowledgements (
    notice_id       BIGINT NOT NULL REFERENCES notices (id) ON DELETE CASCADE,
    user_id         BIGINT NOT NULL,
    acknowledged_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (notice_id, user_id)
);
