-- Who looked at a pupil's grades, report cards or exported their data (issue 13): one row
-- per pupil per view, listed on the pupil's page. Erasing the pupil erases these rows too.
CREATE TABLE record_views (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    occurred_at TIMESTAMPTZ NOT NULL,
    student_id  BIGINT NOT NULL REFERENCES students (id) ON DELETE CASCADE,
    actor_id    BIGINT,
    actor_email TEXT,
    kind        TEXT NOT NULL,
    what        TEXT NOT NULL,
    client_ip   TEXT
);
CREATE INDEX record_views_student_idx ON record_views (student_id, occurred_at DESC);
