-- Seeds one school for the assessment benchmark (search_path set by the caller):
-- 1,000 pupils in 17 classes (16 of 60 and one of 40), 15 subjects each, an open first-term
-- exam session with CA1/CA2/Exam marks for every pupil in every subject (45,000 scores),
-- comments and ratings. Some names are long, to exercise the report-card layout.
-- `psql -v per_class=125` puts 125 pupils in each class instead (8 classes of 125).
\if :{?per_class}
\else
\set per_class 60
\endif
INSERT INTO academic_sessions (name, starts_on, ends_on, is_current, created_at, updated_at)
VALUES ('2025/2026', '2025-09-08', '2026-07-24', TRUE, now(), now());
INSERT INTO terms (session_id, ordinal, name, starts_on, ends_on, next_term_begins, is_current, created_at, updated_at)
SELECT (SELECT id FROM academic_sessions), o, (ARRAY['First Term','Second Term','Third Term'])[o],
       (ARRAY[date '2025-09-08', date '2026-01-05', date '2026-04-20'])[o],
       (ARRAY[date '2025-12-12', date '2026-04-02', date '2026-07-24'])[o],
       (ARRAY[date '2026-01-05', date '2026-04-20', date '2026-09-07'])[o], o = 1, now(), now()
  FROM generate_series(1, 3) o;
INSERT INTO forms (name, ordinal, created_at, updated_at)
SELECT 'JSS ' || f, f, now(), now() FROM generate_series(1, 3) f;
INSERT INTO classes (form_id, name, created_at, updated_at)
SELECT fo.id, fo.name || chr(64 + a), now(), now() FROM forms fo, generate_series(1, 6) a
 ORDER BY fo.ordinal, a LIMIT 17;
INSERT INTO academic_classes (session_id, class_id, created_at, updated_at)
SELECT (SELECT id FROM academic_sessions), c.id, now(), now() FROM classes c ORDER BY c.id;
INSERT INTO subjects (name, code, created_at, updated_at)
SELECT n, upper(left(replace(n, ' ', ''), 4)) || i, now(), now()
  FROM unnest(ARRAY['English Language','Mathematics','Basic Science','Basic Technology','Social Studies',
                    'Civic Education','Christian Religious Studies','Agricultural Science','Computer Studies',
                    'Physical and Health Education','Business Studies','Home Economics','French',
                    'Cultural and Creative Arts','Yoruba']) WITH ORDINALITY AS s(n, i);
INSERT INTO academic_class_subjects (academic_class_id, subject_id)
SELECT ac.id, s.id FROM academic_classes ac CROSS JOIN subjects s;
INSERT INTO students (admission_no, first_name, last_name, other_names, sex, date_of_birth, address,
                      status, admission_date, created_at, updated_at)
SELECT 'ADM/2025/' || lpad(i::text, 4, '0'),
       (ARRAY['Adaeze','Amina','Chidi','Emeka','Folake','Ibrahim','Kemi','Musa','Ngozi','Tunde','Zainab','Oluwadamilare'])[1 + i % 12],
       (ARRAY['Okafor','Adeyemi','Bello','Eze','Ogunleye','Nwosu','Abubakar','Olawale','Okonkwo','Danjuma','Lawal','Obi','Adebayo-Williamson'])[1 + (i * 7) % 13],
       CASE WHEN i % 5 = 0 THEN 'Chukwuemeka Babatunde' ELSE '' END,
       CASE WHEN i % 2 = 0 THEN 'female' ELSE 'male' END,
       date '2012-01-01' + (i % 1500), i || ' Allen Avenue, Ikeja', 'active', '2025-09-08', now(), now()
  FROM generate_series(1, 1000) i;
INSERT INTO registrations (student_id, session_id, academic_class_id, registered_on, created_at)
SELECT s.id, (SELECT id FROM academic_sessions),
       (SELECT id FROM academic_classes ORDER BY id OFFSET ((s.id - 1) / :per_class) LIMIT 1), '2025-09-08', now()
  FROM students s;
INSERT INTO exam_sessions (session_id, term_id, name, status, created_at, updated_at)
SELECT session_id, id, 'First Term Examination', 'open', now(), now() FROM terms WHERE ordinal = 1;
INSERT INTO exams (exam_session_id, academic_class_id, subject_id, created_at, updated_at)
SELECT (SELECT id FROM exam_sessions), academic_class_id, subject_id, now(), now() FROM academic_class_subjects;
INSERT INTO exam_components (exam_id, name, max_score, ordinal)
SELECT e.id, c.name, c.max_score, c.ordinal FROM exams e CROSS JOIN assessment_components c;
INSERT INTO marks (component_id, registration_id, exam_id, score, updated_at)
SELECT ec.id, r.id, e.id,
       round((0.35 + (abs(hashtext(ec.id::text || '/' || r.id::text)) % 1000) / 1000.0 * 0.6) * ec.max_score * 2) / 2, now()
  FROM exams e JOIN exam_components ec ON ec.exam_id = e.id
  JOIN registrations r ON r.academic_class_id = e.academic_class_id AND r.is_current;
INSERT INTO report_comments (exam_session_id, registration_id, class_teacher_comment, head_teacher_comment, updated_at)
SELECT (SELECT id FROM exam_sessions), r.id, 'A hardworking and well-behaved pupil. Keep it up.',
       'A good result. Aim higher next term.', now() FROM registrations r;
INSERT INTO ratings (exam_session_id, registration_id, trait_id, value)
SELECT (SELECT id FROM exam_sessions), r.id, t.id, 2 + abs(hashtext(r.id::text || t.id::text)) % 4
  FROM registrations r CROSS JOIN rating_traits t;
ANALYZE;
