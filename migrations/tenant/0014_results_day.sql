-- Results day (issue 15, item 3): what a published exam session shows is served from what was
-- computed once, not recomputed per request.
--
-- `published_results` holds a class's results exactly as the API serves them (the JSON body),
-- made when the session is published (or on the first request after a row was forgotten);
-- `published_cards` holds a pupil's report card PDF, rendered on its first request. Both carry
-- the publication they belong to (`published_at`): a row of an earlier publication is never
-- served, and unpublishing deletes them.
--
-- Stale figures must be impossible, whatever path writes: the triggers below forget the rows
-- a change can alter, in the transaction of the change. Rows are forgotten by exam session
-- (and, for third-term cumulative figures, the later terms of the same academic session), by
-- academic session, by term dates (attendance), or all of them for rare changes (names,
-- settings, the logo). A writer takes a shared advisory lock of the school and whoever stores
-- a row takes it exclusively before reading what it computes from, so a row is never stored
-- from figures a concurrent, uncommitted change is about to replace.

CREATE TABLE published_results (
    exam_session_id   BIGINT NOT NULL REFERENCES exam_sessions (id) ON DELETE CASCADE,
    academic_class_id BIGINT NOT NULL REFERENCES academic_classes (id) ON DELETE CASCADE,
    -- The exam session's academic session and term ordinal: a change to an earlier term's
    -- marks forgets the third term's cumulative figures.
    session_id        BIGINT NOT NULL,
    term_ordinal      SMALLINT NOT NULL,
    published_at      TIMESTAMPTZ NOT NULL,
    -- The response body, byte for byte.
    body              BYTEA NOT NULL,
    -- The pupils in it, for the record of who viewed their results.
    registrations     BIGINT[] NOT NULL,
    computed_at       TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (exam_session_id, academic_class_id)
);
CREATE INDEX published_results_session_idx ON published_results (session_id);

CREATE TABLE published_cards (
    exam_session_id BIGINT NOT NULL REFERENCES exam_sessions (id) ON DELETE CASCADE,
    registration_id BIGINT NOT NULL REFERENCES registrations (id) ON DELETE CASCADE,
    session_id      BIGINT NOT NULL,
    term_ordinal    SMALLINT NOT NULL,
    published_at    TIMESTAMPTZ NOT NULL,
    -- The school's name printed on it (kept in public.clients: a renamed school renders again).
    school_name     TEXT NOT NULL,
    admission_no    TEXT NOT NULL,
    -- Rendered before the term's last day, attendance counts "so far": good for that day only.
    -- NULL once the term was over.
    fresh_on        DATE,
    pdf             BYTEA NOT NULL,
    rendered_at     TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (exam_session_id, registration_id)
);
CREATE INDEX published_cards_session_idx ON published_cards (session_id);
-- Read far more often than written: kept uncompressed, so serving them costs no
-- decompression (a PDF is compressed already).
ALTER TABLE published_results ALTER COLUMN body SET STORAGE EXTERNAL;
ALTER TABLE published_cards ALTER COLUMN pdf SET STORAGE EXTERNAL;

-- Who viewed many pupils at once (a class's results, a broadsheet, a class list): one row
-- naming them all, where `record_views` has a row per pupil. Serving stored results costs
-- less than writing 125 audit rows with their index entries and foreign-key checks; the
-- pupil's list of views reads both tables. Erasing a pupil removes their id from these.
CREATE TABLE record_view_groups (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    occurred_at TIMESTAMPTZ NOT NULL,
    student_ids BIGINT[] NOT NULL,
    actor_id    BIGINT,
    actor_email TEXT,
    kind        TEXT NOT NULL,
    what        TEXT NOT NULL,
    client_ip   TEXT
);
CREATE INDEX record_view_groups_students_idx ON record_view_groups USING gin (student_ids);

-- Writers wait for a row being stored, and a row being stored waits for writers in flight.
CREATE FUNCTION results_day_writer_lock() RETURNS void LANGUAGE sql SET search_path FROM CURRENT AS
$$ SELECT pg_advisory_xact_lock_shared(1915, hashtext(current_schema())) $$;

-- Every stored row of the school, when a row changed (a statement trigger fires for none).
CREATE FUNCTION results_day_forget_all() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM changed) THEN
        PERFORM results_day_writer_lock();
        DELETE FROM published_results;
        DELETE FROM published_cards;
    END IF;
    RETURN NULL;
END $$;

-- The same from a row trigger (the settings row, for the columns printed on cards).
CREATE FUNCTION results_day_forget_all_row() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    PERFORM results_day_writer_lock();
    DELETE FROM published_results;
    DELETE FROM published_cards;
    RETURN NULL;
END $$;

-- Rows of the exam sessions in `changed.exam_session_id`, and of the later terms of their
-- academic sessions (cumulative figures).
CREATE FUNCTION results_day_forget_exam_sessions() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    PERFORM results_day_writer_lock();
    DELETE FROM published_results p
     USING (SELECT DISTINCT es.id, es.session_id, t.ordinal
              FROM changed c JOIN exam_sessions es ON es.id = c.exam_session_id
              JOIN terms t ON t.id = es.term_id) x
     WHERE p.exam_session_id = x.id OR (p.session_id = x.session_id AND p.term_ordinal > x.ordinal);
    DELETE FROM published_cards p
     USING (SELECT DISTINCT es.id, es.session_id, t.ordinal
              FROM changed c JOIN exam_sessions es ON es.id = c.exam_session_id
              JOIN terms t ON t.id = es.term_id) x
     WHERE p.exam_session_id = x.id OR (p.session_id = x.session_id AND p.term_ordinal > x.ordinal);
    RETURN NULL;
END $$;

-- The same for rows keyed by exam (`changed.exam_id`).
CREATE FUNCTION results_day_forget_exams() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    PERFORM results_day_writer_lock();
    DELETE FROM published_results p
     USING (SELECT DISTINCT es.id, es.session_id, t.ordinal
              FROM (SELECT DISTINCT exam_id FROM changed) c JOIN exams e ON e.id = c.exam_id
              JOIN exam_sessions es ON es.id = e.exam_session_id JOIN terms t ON t.id = es.term_id) x
     WHERE p.exam_session_id = x.id OR (p.session_id = x.session_id AND p.term_ordinal > x.ordinal);
    DELETE FROM published_cards p
     USING (SELECT DISTINCT es.id, es.session_id, t.ordinal
              FROM (SELECT DISTINCT exam_id FROM changed) c JOIN exams e ON e.id = c.exam_id
              JOIN exam_sessions es ON es.id = e.exam_session_id JOIN terms t ON t.id = es.term_id) x
     WHERE p.exam_session_id = x.id OR (p.session_id = x.session_id AND p.term_ordinal > x.ordinal);
    RETURN NULL;
END $$;

-- Rows of the academic sessions in `changed.session_id` (registrations, subject choices).
CREATE FUNCTION results_day_forget_sessions() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    PERFORM results_day_writer_lock();
    DELETE FROM published_results WHERE session_id IN (SELECT session_id FROM changed);
    DELETE FROM published_cards WHERE session_id IN (SELECT session_id FROM changed);
    RETURN NULL;
END $$;

-- Cards whose term holds a day in `changed.day` (attendance).
CREATE FUNCTION results_day_forget_days() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    PERFORM results_day_writer_lock();
    DELETE FROM published_cards p
     USING exam_sessions es, terms t
     WHERE es.id = p.exam_session_id AND t.id = es.term_id
       AND EXISTS (SELECT 1 FROM changed c WHERE c.day BETWEEN t.starts_on AND t.ends_on);
    RETURN NULL;
END $$;

-- An exam session's own changes (name, confirmation of outstanding marks): its rows and the
-- later terms'. Publishing stores afresh after this, in the same transaction.
CREATE FUNCTION results_day_forget_exam_session_rows() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    PERFORM results_day_writer_lock();
    DELETE FROM published_results p
     USING (SELECT c.id, c.session_id, t.ordinal FROM changed c JOIN terms t ON t.id = c.term_id) x
     WHERE p.exam_session_id = x.id OR (p.session_id = x.session_id AND p.term_ordinal > x.ordinal);
    DELETE FROM published_cards p
     USING (SELECT c.id, c.session_id, t.ordinal FROM changed c JOIN terms t ON t.id = c.term_id) x
     WHERE p.exam_session_id = x.id OR (p.session_id = x.session_id AND p.term_ordinal > x.ordinal);
    RETURN NULL;
END $$;

-- Transition tables allow one event per trigger: three triggers per targeted table.
DO $$
DECLARE
    spec RECORD;
    ev TEXT;
BEGIN
    FOR spec IN SELECT * FROM (VALUES
        ('marks', 'results_day_forget_exams'),
        ('exam_absences', 'results_day_forget_exams'),
        ('subject_remarks', 'results_day_forget_exams'),
        ('exam_components', 'results_day_forget_exams'),
        ('exams', 'results_day_forget_exam_sessions'),
        ('report_comments', 'results_day_forget_exam_sessions'),
        ('ratings', 'results_day_forget_exam_sessions'),
        ('registrations', 'results_day_forget_sessions'),
        ('subject_choices', 'results_day_forget_sessions'),
        ('attendance_marks', 'results_day_forget_days'),
        -- Rare changes that reach every card: names, the academic structure, settings.
        ('students', 'results_day_forget_all'),
        ('student_photos', 'results_day_forget_all'),
        ('academic_sessions', 'results_day_forget_all'),
        ('terms', 'results_day_forget_all'),
        ('classes', 'results_day_forget_all'),
        ('subjects', 'results_day_forget_all'),
        ('academic_classes', 'results_day_forget_all'),
        ('academic_class_subjects', 'results_day_forget_all'),
        ('rating_traits', 'results_day_forget_all'),
        ('school_logo', 'results_day_forget_all'),
        ('attendance_codes', 'results_day_forget_all'),
        ('closures', 'results_day_forget_all'),
        ('weekend_openings', 'results_day_forget_all')
    ) AS s(tbl, fn)
    LOOP
        FOREACH ev IN ARRAY ARRAY['INSERT', 'UPDATE', 'DELETE'] LOOP
            EXECUTE format(
                'CREATE TRIGGER %I AFTER %s ON %I REFERENCING %s TABLE AS changed
                   FOR EACH STATEMENT EXECUTE FUNCTION %I()',
                spec.tbl || '_results_day_' || lower(ev), ev, spec.tbl,
                CASE ev WHEN 'DELETE' THEN 'OLD' ELSE 'NEW' END, spec.fn);
        END LOOP;
    END LOOP;
END $$;

CREATE TRIGGER exam_sessions_results_day_update AFTER UPDATE ON exam_sessions
    REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION results_day_forget_exam_session_rows();

-- The settings row: only the columns printed on cards or counted in attendance (a new
-- admission number bumps this row too).
CREATE TRIGGER general_settings_results_day AFTER UPDATE ON general_settings FOR EACH ROW
    WHEN (OLD.address IS DISTINCT FROM NEW.address OR OLD.motto IS DISTINCT FROM NEW.motto
          OR OLD.attendance_periods IS DISTINCT FROM NEW.attendance_periods)
    EXECUTE FUNCTION results_day_forget_all_row();
