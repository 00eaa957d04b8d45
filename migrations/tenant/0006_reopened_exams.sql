-- Narrow corrections after mark entry is closed: the head reopens one subject of one class
-- (or every subject of one class) without reopening the whole exam session.
ALTER TABLE exams
    ADD COLUMN reopened_at TIMESTAMPTZ,
    ADD COLUMN reopened_by BIGINT;
