-- Seeds one school for the attendance benchmark (search_path set by the caller): 40 class
-- arms of 60 pupils (2,400), two registers a day, a term that began 13 weeks ago with a
-- mid-term break, every weekday's two registers taken for the first class (60 pupils x
-- 2 x every school day so far) and this morning's register taken by half the classes.
UPDATE general_settings SET attendance_periods = 2 WHERE id = 1;
INSERT INTO academic_sessions (name, starts_on, ends_on, is_current, created_at, updated_at)
VALUES ('Bench year', current_date - 120, current_date + 240, TRUE, now(), now());
INSERT INTO terms (session_id, ordinal, name, starts_on, ends_on, is_current, created_at, updated_at)
VALUES ((SELECT id FROM academic_sessions), 1, 'First Term', current_date - 91, current_date + 10, TRUE, now(), now());
INSERT INTO closures (starts_on, ends_on, reason)
VALUES (current_date - 50, current_date - 46, 'Mid-term break');
INSERT INTO forms (name, ordinal, created_at, updated_at)
SELECT 'Level ' || f, f, now(), now() FROM generate_series(1, 8) f;
INSERT INTO classes (form_id, name, created_at, updated_at)
SELECT fo.id, fo.name || chr(64 + a), now(), now() FROM forms fo, generate_series(1, 5) a;
INSERT INTO academic_classes (session_id, class_id, created_at, updated_at)
SELECT (SELECT id FROM academic_sessions), c.id, now(), now() FROM classes c ORDER BY c.id;
INSERT INTO students (admission_no, first_name, last_name, sex, status, admission_date, created_at, updated_at)
SELECT 'ADM/' || lpad(i::text, 5, '0'),
       (ARRAY['Adaeze','Amina','Chidi','Emeka','Folake','Ibrahim','Kemi','Musa','Ngozi','Tunde'])[1 + i % 10],
       (ARRAY['Okafor','Adeyemi','Bello','Eze','Ogunleye','Nwosu','Abubakar'])[1 + (i * 7) % 7],
       CASE WHEN i % 2 = 0 THEN 'female' ELSE 'male' END, 'active', current_date - 120, now(), now()
  FROM generate_series(1, 2400) i;
INSERT INTO registrations (student_id, session_id, academic_class_id, registered_on, created_at)
SELECT s.id, (SELECT id FROM academic_sessions),
       (SELECT id FROM academic_classes ORDER BY id OFFSET ((s.id - 1) / 60) LIMIT 1), current_date - 120, now()
  FROM students s;
-- The first class: both registers of every school day up to yesterday.
INSERT INTO attendance_marks (registration_id, day, period, code_id, reason, marked_by, marked_at)
SELECT r.id, d::date, p,
       (SELECT id FROM attendance_codes WHERE code = CASE WHEN (r.id + extract(doy FROM d)::int) % 15 = 0 THEN 'A'
                                                           WHEN (r.id + p) % 11 = 0 THEN 'L' ELSE 'P' END),
       '', NULL, d + time '08:00'
  FROM registrations r, generate_series(current_date - 91, current_date - 1, '1 day') d, generate_series(1, 2) p
 WHERE r.academic_class_id = (SELECT min(id) FROM academic_classes)
   AND extract(isodow FROM d) < 6
   AND NOT EXISTS (SELECT 1 FROM closures c WHERE d::date BETWEEN c.starts_on AND c.ends_on);
-- This morning: every other class has taken its register.
INSERT INTO attendance_marks (registration_id, day, period, code_id, reason, marked_by, marked_at)
SELECT r.id, current_date, 1, (SELECT id FROM attendance_codes WHERE code = 'P'), '', NULL, now()
  FROM registrations r WHERE r.academic_class_id % 2 = 0;
-- Today is a school day whatever day the benchmark runs.
INSERT INTO weekend_openings (day, reason)
SELECT current_date, 'Benchmark' WHERE extract(isodow FROM current_date) >= 6;
ANALYZE;
