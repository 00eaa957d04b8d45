-- Seeds one school for the promotions benchmark (search_path set by the caller): a session
-- ending, 1,000 pupils in 40 class arms (8 levels x 5 arms, 25 pupils each), 10 subjects,
-- a third-term exam session with CA1/CA2/Exam marks for everyone (30,000 scores), so every
-- pupil has a session average the rules decide on.
INSERT INTO academic_sessions (name, starts_on, ends_on, is_current, created_at, updated_at)
VALUES ('2025/2026', '2025-09-08', '2026-07-24', TRUE, now(), now());
INSERT INTO terms (session_id, ordinal, name, starts_on, ends_on, is_current, created_at, updated_at)
SELECT (SELECT id FROM academic_sessions), o, (ARRAY['First Term','Second Term','Third Term'])[o],
       (ARRAY[date '2025-09-08', date '2026-01-05', date '2026-04-20'])[o],
       (ARRAY[date '2025-12-12', date '2026-04-02', date '2026-07-24'])[o], o = 3, now(), now()
  FROM generate_series(1, 3) o;
INSERT INTO forms (name, ordinal, created_at, updated_at)
SELECT 'Level ' || f, f, now(), now() FROM generate_series(1, 8) f;
INSERT INTO classes (form_id, name, created_at, updated_at)
SELECT fo.id, fo.name || chr(64 + a), now(), now() FROM forms fo, generate_series(1, 5) a;
INSERT INTO academic_classes (session_id, class_id, created_at, updated_at)
SELECT (SELECT id FROM academic_sessions), c.id, now(), now() FROM classes c ORDER BY c.id;
INSERT INTO subjects (name, code, created_at, updated_at)
SELECT n, upper(left(replace(n, ' ', ''), 4)) || i, now(), now()
  FROM unnest(ARRAY['English Language','Mathematics','Basic Science','Basic Technology','Social Studies',
                    'Civic Education','Agricultural Science','Computer Studies','French','Yoruba'])
       WITH ORDINALITY AS s(n, i);
INSERT INTO academic_class_subjects (academic_class_id, subject_id)
SELECT ac.id, s.id FROM academic_classes ac CROSS JOIN subjects s;
INSERT INTO students (admission_no, first_name, last_name, sex, status, admission_date, created_at, updated_at)
SELECT 'ADM/' || lpad(i::text, 4, '0'),
       (ARRAY['Adaeze','Amina','Chidi','Emeka','Folake','Ibrahim','Kemi','Musa','Ngozi','Tunde'])[1 + i % 10],
       (ARRAY['Okafor','Adeyemi','Bello','Eze','Ogunleye','Nwosu','Abubakar'])[1 + (i * 7) % 7],
       CASE WHEN i % 2 = 0 THEN 'female' ELSE 'male' END, 'active', '2025-09-08', now(), now()
  FROM generate_series(1, 1000) i;
INSERT INTO registrations (student_id, session_id, academic_class_id, registered_on, created_at)
SELECT s.id, (SELECT id FROM academic_sessions),
       (SELECT id FROM academic_classes ORDER BY id OFFSET ((s.id - 1) / 25) LIMIT 1), '2025-09-08', now()
  FROM students s;
INSERT INTO exam_sessions (session_id, term_id, name, status, created_at, updated_at)
SELECT session_id, id, 'Third Term Examination', 'open', now(), now() FROM terms WHERE ordinal = 3;
INSERT INTO exams (exam_session_id, academic_class_id, subject_id, created_at, updated_at)
SELECT (SELECT id FROM exam_sessions), academic_class_id, subject_id, now(), now() FROM academic_class_subjects;
INSERT INTO exam_components (exam_id, name, max_score, ordinal)
SELECT e.id, c.name, c.max_score, c.ordinal FROM exams e CROSS JOIN assessment_components c;
-- Each pupil has an ability (15 % to 75 %) plus up to 20 % of noise per score: most pupils
-- pass, some repeat, some sit on the margin.
INSERT INTO marks (component_id, registration_id, exam_id, score, updated_at)
SELECT ec.id, r.id, e.id,
       round((0.15 + (abs(hashtext('pupil/' || r.student_id::text)::bigint) % 1000) / 1000.0 * 0.6
                    + (abs(hashtext(ec.id::text || '/' || r.id::text)::bigint) % 1000) / 1000.0 * 0.2)
             * ec.max_score * 2) / 2, now()
  FROM exams e JOIN exam_components ec ON ec.exam_id = e.id
  JOIN registrations r ON r.academic_class_id = e.academic_class_id AND r.is_current;
ANALYZE;
