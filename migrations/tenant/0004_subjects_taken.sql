-- Which subjects a pupil takes, made explicit (it used to mean "subjects with marks").
--
-- A pupil takes every core subject of their class unless exempted (with a reason), and an
-- elective subject only when registered for it. Choices are per student and academic session,
-- so they follow a pupil who moves arm within the session.
ALTER TABLE academic_class_subjects ADD COLUMN is_elective BOOLEAN NOT NULL DEFAULT FALSE;

CREATE TABLE subject_choices (
    student_id BIGINT NOT NULL REFERENCES students (id) ON DELETE CASCADE,
    session_id BIGINT NOT NULL REFERENCES academic_sessions (id) ON DELETE RESTRICT,
    subject_id BIGINT NOT NULL REFERENCES subjects (id) ON DELETE RESTRICT,
    -- 'takes' registers an elective; 'exempt' excuses a core subject.
    choice     TEXT NOT NULL CHECK (choice IN ('takes', 'exempt')),
    reason     TEXT NOT NULL DEFAULT '',
    updated_by BIGINT,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (student_id, session_id, subject_id),
    CONSTRAINT subject_choices_reason_check CHECK (choice = 'takes' OR reason <> '')
);

-- A pupil absent from a subject's exam (printed ABS); they hold no scores in that exam.
CREATE TABLE exam_absences (
    exam_id         BIGINT NOT NULL REFERENCES exams (id) ON DELETE CASCADE,
    registration_id BIGINT NOT NULL REFERENCES registrations (id) ON DELETE CASCADE,
    updated_by      BIGINT,
    updated_at      TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (exam_id, registration_id)
);
CREATE INDEX exam_absences_registration_idx ON exam_absences (registration_id);

-- ABS counts as a 0 in the average, or is left out of it.
ALTER TABLE report_settings ADD COLUMN absent_counts_as TEXT NOT NULL DEFAULT 'zero'
    CHECK (absent_counts_as IN ('zero', 'left_out'));

-- Pupils with outstanding marks get no position until the head confirms the session's
-- results as they stand (when closing or publishing); reopening clears it.
ALTER TABLE exam_sessions
    ADD COLUMN outstanding_confirmed_at TIMESTAMPTZ,
    ADD COLUMN outstanding_confirmed_by BIGINT;
