-- Academic structure, the student register, guardians and class registrations.

CREATE TABLE general_settings (
    id                       SMALLINT PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    address                  TEXT NOT NULL DEFAULT '',
    motto                    TEXT NOT NULL DEFAULT '',
    -- {YYYY} year of admission, {SEQ:n} running number padded to n digits.
    admission_number_pattern TEXT NOT NULL DEFAULT 'ADM/{YYYY}/{SEQ:4}',
    next_admission_seq       INTEGER NOT NULL DEFAULT 1,
    -- Local phone numbers (0803…) are stored in E.164 with this country code.
    phone_country_code       TEXT NOT NULL DEFAULT '+234',
    updated_at               TIMESTAMPTZ NOT NULL DEFAULT now()
);
INSERT INTO general_settings (id) VALUES (1);

CREATE TABLE academic_sessions (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       TEXT NOT NULL,
    starts_on  DATE NOT NULL,
    ends_on    DATE NOT NULL,
    is_current BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    CONSTRAINT academic_sessions_dates_check CHECK (ends_on > starts_on)
);
CREATE UNIQUE INDEX academic_sessions_name_key ON academic_sessions (lower(name));
CREATE UNIQUE INDEX academic_sessions_one_current ON academic_sessions (is_current) WHERE is_current;

CREATE TABLE terms (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    session_id       BIGINT NOT NULL REFERENCES academic_sessions (id) ON DELETE CASCADE,
    ordinal          SMALLINT NOT NULL CHECK (ordinal BETWEEN 1 AND 3),
    name             TEXT NOT NULL,
    starts_on        DATE NOT NULL,
    ends_on          DATE NOT NULL,
    next_term_begins DATE,
    is_current       BOOLEAN NOT NULL DEFAULT FALSE,
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL,
    CONSTRAINT terms_session_ordinal_key UNIQUE (session_id, ordinal),
    CONSTRAINT terms_dates_check CHECK (ends_on > starts_on)
);
CREATE UNIQUE INDEX terms_one_current ON terms (is_current) WHERE is_current;

CREATE TABLE forms (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       TEXT NOT NULL,
    ordinal    INTEGER NOT NULL DEFAULT 0,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX forms_name_key ON forms (lower(name));

CREATE TABLE classes (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    form_id    BIGINT NOT NULL REFERENCES forms (id) ON DELETE RESTRICT,
    name       TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX classes_name_key ON classes (lower(name));
CREATE INDEX classes_form_idx ON classes (form_id);

CREATE TABLE subjects (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       TEXT NOT NULL,
    code       TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX subjects_name_key ON subjects (lower(name));
CREATE UNIQUE INDEX subjects_code_key ON subjects (lower(code));

CREATE TABLE academic_classes (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    session_id       BIGINT NOT NULL REFERENCES academic_sessions (id) ON DELETE RESTRICT,
    class_id         BIGINT NOT NULL REFERENCES classes (id) ON DELETE RESTRICT,
    class_teacher_id BIGINT,
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL,
    CONSTRAINT academic_classes_session_class_key UNIQUE (session_id, class_id)
);

CREATE TABLE academic_class_subjects (
    academic_class_id BIGINT NOT NULL REFERENCES academic_classes (id) ON DELETE CASCADE,
    subject_id        BIGINT NOT NULL REFERENCES subjects (id) ON DELETE RESTRICT,
    teacher_id        BIGINT,
    PRIMARY KEY (academic_class_id, subject_id)
);

CREATE TABLE students (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    admission_no   TEXT NOT NULL,
    first_name     TEXT NOT NULL,
    last_name      TEXT NOT NULL,
    other_names    TEXT NOT NULL DEFAULT '',
    sex            TEXT NOT NULL CHECK (sex IN ('female', 'male')),
    date_of_birth  DATE,
    address        TEXT NOT NULL DEFAULT '',
    status         TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'withdrawn', 'graduated')),
    admission_date DATE NOT NULL,
    has_photo      BOOLEAN NOT NULL DEFAULT FALSE,
    created_at     TIMESTAMPTZ NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX students_admission_no_key ON students (lower(admission_no));
-- Search by any name or the admission number uses this trigram index.
CREATE INDEX students_search_idx ON students USING gin (
    (lower(admission_no || ' ' || first_name || ' ' || last_name || ' ' || other_names)) public.gin_trgm_ops);
CREATE INDEX students_name_order_idx ON students (lower(last_name), lower(first_name), id);
CREATE INDEX students_status_idx ON students (status);

CREATE TABLE student_photos (
    student_id   BIGINT PRIMARY KEY REFERENCES students (id) ON DELETE CASCADE,
    content_type TEXT NOT NULL,
    bytes        BYTEA NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL
);

CREATE TABLE guardians (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    student_id   BIGINT NOT NULL REFERENCES students (id) ON DELETE CASCADE,
    full_name    TEXT NOT NULL,
    relationship TEXT NOT NULL DEFAULT '',
    phone        TEXT NOT NULL DEFAULT '',
    email        TEXT NOT NULL DEFAULT '',
    is_primary   BOOLEAN NOT NULL DEFAULT FALSE,
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX guardians_student_idx ON guardians (student_id);
CREATE UNIQUE INDEX guardians_one_primary ON guardians (student_id) WHERE is_primary;
CREATE INDEX guardians_phone_idx ON guardians (phone);

-- A student's place in a class for a session. Moving between arms closes the old row
-- (is_current = false, left_on) and opens a new one: the history stays.
CREATE TABLE registrations (
    id                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    student_id        BIGINT NOT NULL REFERENCES students (id) ON DELETE CASCADE,
    session_id        BIGINT NOT NULL REFERENCES academic_sessions (id) ON DELETE RESTRICT,
    academic_class_id BIGINT NOT NULL REFERENCES academic_classes (id) ON DELETE RESTRICT,
    registered_on     DATE NOT NULL,
    left_on           DATE,
    is_current        BOOLEAN NOT NULL DEFAULT TRUE,
    created_at        TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX registrations_one_class_per_session ON registrations (student_id, session_id) WHERE is_current;
CREATE INDEX registrations_class_idx ON registrations (academic_class_id) WHERE is_current;
CREATE INDEX registrations_student_idx ON registrations (student_id);
