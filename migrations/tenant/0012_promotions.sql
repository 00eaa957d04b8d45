-- End of the school year (issue 11): where each class arm's pupils go next, the promotion
-- rules, the decisions taken for each pupil and the rollovers committed.

-- Each arm says which arm its pupils move to next session, or that it is a final class
-- (its pupils graduate). An arm with no row has not been confirmed: its pupils block a
-- commit until the school says where they go.
CREATE TABLE class_progressions (
    class_id      BIGINT PRIMARY KEY REFERENCES classes (id) ON DELETE CASCADE,
    next_class_id BIGINT REFERENCES classes (id) ON DELETE RESTRICT,
    is_final      BOOLEAN NOT NULL DEFAULT FALSE,
    updated_at    TIMESTAMPTZ NOT NULL,
    CONSTRAINT class_progressions_next_or_final CHECK (is_final = (next_class_id IS NULL)),
    CONSTRAINT class_progressions_not_itself CHECK (next_class_id IS DISTINCT FROM class_id)
);

-- The school's promotion rules: promote at or above `pass_average` (the session's
-- cumulative average); pupils below it by less than `margin` are flagged for a decision.
CREATE TABLE promotion_rules (
    id           SMALLINT PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    pass_average NUMERIC(5, 2) NOT NULL DEFAULT 40 CHECK (pass_average BETWEEN 0 AND 100),
    margin       NUMERIC(5, 2) NOT NULL DEFAULT 0 CHECK (margin BETWEEN 0 AND 100),
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
INSERT INTO promotion_rules (id) VALUES (1);

-- Subjects that must be passed (a grade above the scale's lowest band) to be promoted.
CREATE TABLE promotion_required_subjects (
    subject_id BIGINT PRIMARY KEY REFERENCES subjects (id) ON DELETE CASCADE
);

-- A rollover from one session to the next, once committed (one per session left).
CREATE TABLE promotion_runs (
    from_session_id BIGINT PRIMARY KEY REFERENCES academic_sessions (id) ON DELETE RESTRICT,
    to_session_id   BIGINT NOT NULL REFERENCES academic_sessions (id) ON DELETE RESTRICT,
    committed_by    BIGINT,
    committed_at    TIMESTAMPTZ NOT NULL,
    counts          JSONB NOT NULL,
    CONSTRAINT promotion_runs_two_sessions CHECK (from_session_id <> to_session_id)
);

-- One decision per pupil per session left: an override entered by a person (with a
-- reason) before the commit, and every outcome once committed (with who and why).
CREATE TABLE promotion_decisions (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    from_session_id BIGINT NOT NULL REFERENCES academic_sessions (id) ON DELETE RESTRICT,
    to_session_id   BIGINT NOT NULL REFERENCES academic_sessions (id) ON DELETE RESTRICT,
    student_id      BIGINT NOT NULL REFERENCES students (id) ON DELETE CASCADE,
    outcome         TEXT NOT NULL CHECK (outcome IN ('promote', 'repeat', 'graduate', 'leave')),
    -- The arm for promote and repeat.
    to_class_id     BIGINT REFERENCES classes (id) ON DELETE RESTRICT,
    reason          TEXT NOT NULL,
    -- Entered by a person (true) or the rules' proposal recorded at the commit (false).
    is_override     BOOLEAN NOT NULL,
    decided_by      BIGINT,
    decided_at      TIMESTAMPTZ NOT NULL,
    -- Set when applied: the registration made in the new session, if any.
    applied_at      TIMESTAMPTZ,
    registration_id BIGINT REFERENCES registrations (id) ON DELETE SET NULL,
    CONSTRAINT promotion_decisions_student_key UNIQUE (from_session_id, student_id),
    CONSTRAINT promotion_decisions_class CHECK ((outcome IN ('promote', 'repeat')) = (to_class_id IS NOT NULL))
);
CREATE INDEX promotion_decisions_to_idx ON promotion_decisions (to_session_id);
-- One rollover into a session: a second would move its pupils twice.
CREATE UNIQUE INDEX promotion_runs_one_into_each ON promotion_runs (to_session_id);
