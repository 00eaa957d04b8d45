-- Seeds one school for the spread-traffic benchmark (search_path set by the caller): a small
-- school, identical in every schema so the same ids exist everywhere: 200 pupils in 4 classes
-- of 50, 10 subjects, an open first-term exam session with CA1/CA2/Exam marks for everyone
-- (6,000 scores), a guardian each.
INSERT INTO academic_sessions (name, starts_on, ends_on, is_current, created_at, updated_at)
VALUES ('2025/2026', '2025-09-08', '2026-07-24', TRUE, now(), now());
INSERT INTO terms (session_id, ordinal, name, starts_on, ends_on, next_term_begins, is_current, created_at, updated_at)
SELECT (SELECT id FROM academic_sessions), o, (ARRAY['First Term','Second Term','Third Term'])[o],
       (ARRAY[date '2025-09-08', date '2026-01-05', date '2026-04-20'])[o],
       (ARRAY[date '2025-12-12', date '2026-04-02', date '2026-07-24'])[o],
       (ARRAY[date '2026-01-05', date '2026-04-20', date '2026-09-07'])[o], o = 1, now(), now()
  FROM generate_series(1, 3) o;
INSERT INTO forms (name, ordinal, created_at, updated_at)
SELECT 'JSS ' || f, f, now(), now() FROM generate_series(1, 2) f;
INSERT INTO classes (form_id, name, created_at, updated_at)
SELECT fo.id, fo.name || chr(64 + a), now(), now() FROM forms fo, generate_series(1, 2) a ORDER BY fo.ordinal, a;
INSERT INTO academic_classes (session_id, class_id, created_at, updated_at)
SELECT (SELECT id FROM academic_sessions), c.id, now(), now() FROM classes c ORDER BY c.id;
INSERT INTO subjects (name, code, created_at, updated_at)
SELECT n, upper(left(replace(n, ' ', ''), 4)) || i, now(), now()
  FROM unnest(ARRAY['English Language','Mathematics','Basic Science','Basic Technology','Social Studies',
                    'Civic Education','Agricultural Science','Computer Studies','French','Yoruba'])
       WITH ORDINALITY AS s(n, i);
INSERT INTO academic_class_subjects (academic_class_id, subject_id)
SELECT ac.id, s.id FROM academic_classes ac CROSS JOIN subjects s;
INSERT INTO students (admission_no, first_name, last_name, other_names, sex, date_of_birth, address,
                      status, admission_date, created_at, updated_at)
SELECT 'ADM/2025/' || lpad(i::text, 4, '0'),
       (ARRAY['Adaeze','Amina','Chidi','Emeka','Folake','Ibrahim','Kemi','Musa','Ngozi','Tunde','Zainab','Segun'])[1 + i % 12],
       (ARRAY['Okafor','Adeyemi','Bello','Eze','Ogunleye','Nwosu','Abubakar','Olawale','Okonkwo','Danjuma','Lawal','Obi','Salami'])[1 + (i * 7) % 13],
       '', CASE WHEN i % 2 = 0 THEN 'female' ELSE 'male' END,
       date '2012-01-01' + (i % 1500), i || ' Allen Avenue, Ikeja', 'active', '2025-09-08', now(), now()
  FROM generate_series(1, 200) i;
INSERT INTO guardians (student_id, full_name, relationship, phone, email, is_primary, created_at, updated_at)
SELECT id, 'Parent of ' || first_name, 'Mother', '+234803' || lpad(id::text, 7, '0'), '', TRUE, now(), now() FROM students;
INSERT INTO registrations (student_id, session_id, academic_class_id, registered_on, created_at)
SELECT s.id, (SELECT id FROM academic_sessions),
       (SELECT id FROM academic_classes ORDER BY id OFFSET ((s.id - 1) / 50) LIMIT 1), '2025-09-08', now()
  FROM students s;
INSERT INTO exam_sessions (session_id, term_id, name, status, created_at, updated_at)
SELECT session_id, id, 'First Term Examination', 'open', now(), now() FROM terms WHERE ordinal = 1;
INSERT INTO exams (exam_session_id, academic_class_id, subject_id, created_at, updated_at)
SELECT (SELECT id FROM exam_sessions), academic_class_id, subject_id, now(), now()
  FROM academic_class_subjects ORDER BY academic_class_id, subject_id;
INSERT INTO exam_components (exam_id, name, max_score, ordinal)
SELECT e.id, c.name, c.max_score, c.ordinal FROM exams e CROSS JOIN assessment_components c;
INSERT INTO marks (component_id, registration_id, exam_id, score, updated_at)
SELECT ec.id, r.id, e.id,
       round((0.35 + (abs(hashtext(ec.id::text || '/' || r.id::text)) % 1000) / 1000.0 * 0.6) * ec.max_score * 2) / 2, now()
  FROM exams e JOIN exam_components ec ON ec.exam_id = e.id
  JOIN registrations r ON r.academic_class_id = e.academic_class_id AND r.is_current;
ANALYZE students, guardians, registrations, exams, exam_components, marks, academic_classes, subjects;
