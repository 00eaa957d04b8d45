-- Issue 10, reports and absence events: whom to watch (absent N registers in a row, or
-- present at under X % this term) and how long a saved absence waits for a correction
-- before it is recorded for parents.
ALTER TABLE general_settings
    ADD COLUMN attendance_watch_run SMALLINT NOT NULL DEFAULT 4
        CHECK (attendance_watch_run BETWEEN 1 AND 100),
    ADD COLUMN attendance_watch_percentage SMALLINT NOT NULL DEFAULT 85
        CHECK (attendance_watch_percentage BETWEEN 0 AND 100),
    ADD COLUMN absence_grace_minutes SMALLINT NOT NULL DEFAULT 60
        CHECK (absence_grace_minutes BETWEEN 0 AND 1440);

-- One per pupil per day with an unexcused absence: pending until `due_at`, then recorded
-- (for parents), unless a correction in time cancelled it.
CREATE TABLE absence_events (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    student_id   BIGINT NOT NULL REFERENCES students (id) ON DELETE CASCADE,
    day          DATE NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('pending', 'recorded', 'cancelled')),
    due_at       TIMESTAMPTZ NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    recorded_at  TIMESTAMPTZ,
    cancelled_at TIMESTAMPTZ,
    UNIQUE (student_id, day)
);
CREATE INDEX absence_events_pending_idx ON absence_events (due_at) WHERE status = 'pending';

-- Built-in teaching roles made before registers existed were given "edit attendance", which
-- meant nothing then; now change_attendance corrects any class's register on any past day,
-- which is a head's. They keep reading and taking their own class's register; the built-in
-- Head gets the correction (as new schools' roles have it).
DELETE FROM role_permissions rp USING roles r
 WHERE rp.role_id = r.id AND r.is_builtin AND r.name IN ('Teacher', 'Class Teacher')
   AND rp.permission IN ('change_attendance', 'delete_attendance');
INSERT INTO role_permissions (role_id, permission)
SELECT r.id, p.permission FROM roles r
 CROSS JOIN (VALUES ('view_attendance'), ('add_attendance')) p(permission)
 WHERE r.is_builtin AND r.name IN ('Teacher', 'Class Teacher')
ON CONFLICT DO NOTHING;
INSERT INTO role_permissions (role_id, permission)
SELECT r.id, 'change_attendance' FROM roles r WHERE r.is_builtin AND r.name = 'Head'
ON CONFLICT DO NOTHING;
