-- Assessment: components, grading, report settings, exam sessions, exams, marks, comments,
-- ratings and report-card batches.

-- The school's default assessment components; an exam copies them when it is created, so a
-- later change of the defaults never alters marks already entered.
CREATE TABLE assessment_components (
    id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name      TEXT NOT NULL,
    max_score NUMERIC(5, 1) NOT NULL CHECK (max_score > 0),
    ordinal   INTEGER NOT NULL
);
CREATE UNIQUE INDEX assessment_components_name_key ON assessment_components (lower(name));
INSERT INTO assessment_components (name, max_score, ordinal)
VALUES ('CA1', 20, 1), ('CA2', 20, 2), ('Exam', 60, 3);

-- Grade bands: a band covers scores from min_score up to the next band's min_score.
CREATE TABLE grade_bands (
    id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    grade     TEXT NOT NULL,
    min_score NUMERIC(5, 1) NOT NULL CHECK (min_score >= 0 AND min_score <= 100),
    remark    TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX grade_bands_min_key ON grade_bands (min_score);
CREATE UNIQUE INDEX grade_bands_grade_key ON grade_bands (lower(grade));
-- The WAEC scale.
INSERT INTO grade_bands (grade, min_score, remark) VALUES
    ('A1', 75, 'Excellent'), ('B2', 70, 'Very good'), ('B3', 65, 'Good'),
    ('C4', 60, 'Credit'), ('C5', 55, 'Credit'), ('C6', 50, 'Credit'),
    ('D7', 45, 'Pass'), ('E8', 40, 'Pass'), ('F9', 0, 'Fail');

CREATE TABLE report_settings (
    id                SMALLINT PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    show_position     BOOLEAN NOT NULL DEFAULT TRUE,
    show_class_stats  BOOLEAN NOT NULL DEFAULT TRUE,
    rank_by           TEXT NOT NULL DEFAULT 'average' CHECK (rank_by IN ('average', 'total')),
    -- Third term: 'none' (term figures only), 'average' of the terms, or 'weighted'.
    cumulative_method TEXT NOT NULL DEFAULT 'average' CHECK (cumulative_method IN ('none', 'average', 'weighted')),
    first_term_weight  SMALLINT NOT NULL DEFAULT 20 CHECK (first_term_weight >= 0),
    second_term_weight SMALLINT NOT NULL DEFAULT 30 CHECK (second_term_weight >= 0),
    third_term_weight  SMALLINT NOT NULL DEFAULT 50 CHECK (third_term_weight >= 0),
    updated_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT report_settings_weights_check
        CHECK (first_term_weight + second_term_weight + third_term_weight = 100)
);
INSERT INTO report_settings (id) VALUES (1);

-- The school's logo for report cards.
CREATE TABLE school_logo (
    id           SMALLINT PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    content_type TEXT NOT NULL,
    content      BYTEA NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL
);

-- One exam session per term: the term's examination whose results make the report cards.
CREATE TABLE exam_sessions (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    session_id   BIGINT NOT NULL REFERENCES academic_sessions (id) ON DELETE RESTRICT,
    term_id      BIGINT NOT NULL REFERENCES terms (id) ON DELETE RESTRICT,
    name         TEXT NOT NULL,
    status       TEXT NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'open', 'closed', 'published')),
    published_at TIMESTAMPTZ,
    -- While published: the grading scale and report settings the cards were published with,
    -- so a later change of the school's settings never rewrites what parents have seen.
    grading_snapshot JSONB,
    report_snapshot  JSONB,
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL,
    CONSTRAINT exam_sessions_term_key UNIQUE (term_id)
);

-- A subject of an academic class in an exam session.
CREATE TABLE exams (
    id                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    exam_session_id   BIGINT NOT NULL REFERENCES exam_sessions (id) ON DELETE CASCADE,
    academic_class_id BIGINT NOT NULL,
    subject_id        BIGINT NOT NULL,
    created_at        TIMESTAMPTZ NOT NULL,
    updated_at        TIMESTAMPTZ NOT NULL,
    CONSTRAINT exams_subject_fkey FOREIGN KEY (academic_class_id, subject_id)
        REFERENCES academic_class_subjects (academic_class_id, subject_id) ON DELETE RESTRICT,
    CONSTRAINT exams_session_class_subject_key UNIQUE (exam_session_id, academic_class_id, subject_id)
);
CREATE INDEX exams_class_idx ON exams (academic_class_id, exam_session_id);

CREATE TABLE exam_components (
    id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    exam_id   BIGINT NOT NULL REFERENCES exams (id) ON DELETE CASCADE,
    name      TEXT NOT NULL,
    max_score NUMERIC(5, 1) NOT NULL CHECK (max_score > 0),
    ordinal   INTEGER NOT NULL
);
CREATE UNIQUE INDEX exam_components_name_key ON exam_components (exam_id, lower(name));

-- One score per pupil per component; a subject total is the sum of its components' scores.
CREATE TABLE marks (
    component_id    BIGINT NOT NULL REFERENCES exam_components (id) ON DELETE CASCADE,
    registration_id BIGINT NOT NULL REFERENCES registrations (id) ON DELETE CASCADE,
    exam_id         BIGINT NOT NULL REFERENCES exams (id) ON DELETE CASCADE,
    -- Whole or half marks.
    score           NUMERIC(5, 1) NOT NULL CHECK (score >= 0 AND score * 2 = trunc(score * 2)),
    updated_by      BIGINT,
    updated_at      TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (component_id, registration_id)
);
CREATE INDEX marks_exam_idx ON marks (exam_id, registration_id);
-- A pupil's marks: deleting a registration, earlier terms of a pupil.
CREATE INDEX marks_registration_idx ON marks (registration_id);

-- Reusable comments offered when writing report comments.
CREATE TABLE comment_bank (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind       TEXT NOT NULL CHECK (kind IN ('class_teacher', 'head_teacher', 'subject')),
    text       TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX comment_bank_text_key ON comment_bank (kind, lower(text));
INSERT INTO comment_bank (kind, text, created_at) VALUES
    ('class_teacher', 'A hardworking and well-behaved pupil. Keep it up.', now()),
    ('class_teacher', 'Good progress this term; can do even better with more effort.', now()),
    ('class_teacher', 'Needs to pay more attention in class and complete assignments.', now()),
    ('head_teacher', 'An excellent result. Well done.', now()),
    ('head_teacher', 'A good result. Aim higher next term.', now()),
    ('head_teacher', 'Below expectations. More effort is needed.', now()),
    ('subject', 'Excellent grasp of the subject.', now()),
    ('subject', 'Good effort.', now()),
    ('subject', 'Needs more practice.', now());

-- Class teacher's and head teacher's comments per pupil per exam session.
CREATE TABLE report_comments (
    exam_session_id       BIGINT NOT NULL REFERENCES exam_sessions (id) ON DELETE CASCADE,
    registration_id       BIGINT NOT NULL REFERENCES registrations (id) ON DELETE CASCADE,
    class_teacher_comment TEXT NOT NULL DEFAULT '',
    class_teacher_by      BIGINT,
    head_teacher_comment  TEXT NOT NULL DEFAULT '',
    head_teacher_by       BIGINT,
    updated_at            TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (exam_session_id, registration_id)
);

-- Optional remark of the subject teacher per pupil per exam.
CREATE TABLE subject_remarks (
    exam_id         BIGINT NOT NULL REFERENCES exams (id) ON DELETE CASCADE,
    registration_id BIGINT NOT NULL REFERENCES registrations (id) ON DELETE CASCADE,
    remark          TEXT NOT NULL,
    updated_by      BIGINT,
    updated_at      TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (exam_id, registration_id)
);

CREATE TABLE rating_traits (
    id      BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind    TEXT NOT NULL CHECK (kind IN ('affective', 'psychomotor')),
    name    TEXT NOT NULL,
    ordinal INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX rating_traits_name_key ON rating_traits (lower(name));
INSERT INTO rating_traits (kind, name, ordinal) VALUES
    ('affective', 'Punctuality', 1), ('affective', 'Neatness', 2), ('affective', 'Politeness', 3),
    ('affective', 'Honesty', 4), ('affective', 'Attentiveness', 5),
    ('psychomotor', 'Handwriting', 1), ('psychomotor', 'Games', 2), ('psychomotor', 'Drawing', 3),
    ('psychomotor', 'Musical skills', 4);

-- Affective and psychomotor ratings, 1 (poor) to 5 (excellent).
CREATE TABLE ratings (
    exam_session_id BIGINT NOT NULL REFERENCES exam_sessions (id) ON DELETE CASCADE,
    registration_id BIGINT NOT NULL REFERENCES registrations (id) ON DELETE CASCADE,
    trait_id        BIGINT NOT NULL REFERENCES rating_traits (id) ON DELETE CASCADE,
    value           SMALLINT NOT NULL CHECK (value BETWEEN 1 AND 5),
    PRIMARY KEY (exam_session_id, registration_id, trait_id)
);

-- Report cards generated in the background: one row per request, one file per class.
CREATE TABLE report_batches (
    id                UUID PRIMARY KEY,
    exam_session_id   BIGINT NOT NULL REFERENCES exam_sessions (id) ON DELETE CASCADE,
    -- NULL: every class of the exam session.
    academic_class_id BIGINT REFERENCES academic_classes (id) ON DELETE CASCADE,
    status            TEXT NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'done', 'failed')),
    total             INTEGER NOT NULL DEFAULT 0,
    done              INTEGER NOT NULL DEFAULT 0,
    error             TEXT,
    attempts          INTEGER NOT NULL DEFAULT 0,
    requested_by      BIGINT,
    created_at        TIMESTAMPTZ NOT NULL,
    updated_at        TIMESTAMPTZ NOT NULL,
    finished_at       TIMESTAMPTZ
);
-- At most one batch in flight per exam session and scope: asking twice returns the same one.
CREATE UNIQUE INDEX report_batches_in_flight_key
    ON report_batches (exam_session_id, coalesce(academic_class_id, 0))
    WHERE status IN ('queued', 'running');

CREATE INDEX report_batches_scope_idx ON report_batches (exam_session_id, academic_class_id, created_at DESC);

CREATE TABLE report_batch_files (
    batch_id          UUID NOT NULL REFERENCES report_batches (id) ON DELETE CASCADE,
    academic_class_id BIGINT NOT NULL,
    file_name         TEXT NOT NULL,
    pupils            INTEGER NOT NULL,
    content           BYTEA NOT NULL,
    PRIMARY KEY (batch_id, academic_class_id)
);

-- Teachers enter marks for the subjects they teach (add_marks); change_marks lets a user
-- enter marks for any subject, so the built-in teaching roles no longer hold it.
DELETE FROM role_permissions
WHERE permission = 'change_marks'
  AND role_id IN (SELECT id FROM roles WHERE is_builtin AND name IN ('Teacher', 'Class Teacher'));
