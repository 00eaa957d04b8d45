-- The school day (issue 10): attendance codes and reasons, the calendar's closures and
-- weekend openings, registers (one mark per pupil per school day per period) with an
-- append-only history of every change after the first save.

CREATE TABLE attendance_codes (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code       TEXT NOT NULL,
    name       TEXT NOT NULL,
    -- What the mark counts as: present; late (counts as present); absent; excused (counts
    -- as absent, but excused).
    counts_as  TEXT NOT NULL CHECK (counts_as IN ('present', 'late', 'absent', 'excused')),
    is_active  BOOLEAN NOT NULL DEFAULT TRUE,
    position   INTEGER NOT NULL DEFAULT 0,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX attendance_codes_code_key ON attendance_codes (upper(code));
INSERT INTO attendance_codes (code, name, counts_as, position) VALUES
    ('P', 'Present', 'present', 1),
    ('L', 'Late', 'late', 2),
    ('A', 'Absent', 'absent', 3),
    ('E', 'Excused', 'excused', 4);

CREATE TABLE attendance_reasons (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       TEXT NOT NULL,
    is_active  BOOLEAN NOT NULL DEFAULT TRUE,
    position   INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX attendance_reasons_name_key ON attendance_reasons (lower(name));
INSERT INTO attendance_reasons (name, position) VALUES
    ('Sick', 1), ('Family', 2), ('Travel', 3), ('Religious observance', 4), ('Other', 5);

-- Days the school is closed inside a term: holidays, mid-term breaks, a day it shut.
CREATE TABLE closures (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    starts_on  DATE NOT NULL,
    ends_on    DATE NOT NULL,
    reason     TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK (ends_on >= starts_on)
);
CREATE INDEX closures_range_idx ON closures (starts_on, ends_on);

-- A Saturday or Sunday the school opens (a make-up day, an event).
CREATE TABLE weekend_openings (
    day        DATE PRIMARY KEY,
    reason     TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE attendance_marks (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    registration_id BIGINT NOT NULL REFERENCES registrations (id) ON DELETE CASCADE,
    day             DATE NOT NULL,
    period          SMALLINT NOT NULL CHECK (period IN (1, 2)),
    code_id         BIGINT NOT NULL REFERENCES attendance_codes (id) ON DELETE RESTRICT,
    reason          TEXT NOT NULL DEFAULT '',
    marked_by       BIGINT,
    marked_at       TIMESTAMPTZ NOT NULL,
    UNIQUE (registration_id, day, period)
);
CREATE INDEX attendance_marks_day_idx ON attendance_marks (day, period);

-- Every change after the first save: who, when, from what to what, and why.
CREATE TABLE attendance_history (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    registration_id BIGINT NOT NULL REFERENCES registrations (id) ON DELETE CASCADE,
    day             DATE NOT NULL,
    period          SMALLINT NOT NULL,
    from_code       TEXT NOT NULL,
    to_code         TEXT NOT NULL,
    from_reason     TEXT NOT NULL,
    to_reason       TEXT NOT NULL,
    changed_by      BIGINT,
    changed_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX attendance_history_pupil_day_idx ON attendance_history (registration_id, day);

ALTER TABLE general_settings
    ADD COLUMN attendance_periods SMALLINT NOT NULL DEFAULT 1 CHECK (attendance_periods IN (1, 2)),
    -- How many days back a class teacher may still take or correct their own register.
    ADD COLUMN attendance_window_days SMALLINT NOT NULL DEFAULT 3
        CHECK (attendance_window_days BETWEEN 0 AND 60);
