-- Seeds one benchmark school (search_path set by the caller): a session, 4 forms x 5 arms,
-- 1,000 students spread over the classes with a guardian each.
INSERT INTO academic_sessions (name, starts_on, ends_on, is_current, created_at, updated_at)
VALUES ('2025/2026', '2025-09-08', '2026-07-24', TRUE, now(), now());
INSERT INTO forms (name, ordinal, created_at, updated_at)
SELECT 'JSS ' || f, f, now(), now() FROM generate_series(1, 4) f;
INSERT INTO classes (form_id, name, created_at, updated_at)
SELECT fo.id, fo.name || chr(64 + a), now(), now() FROM forms fo, generate_series(1, 5) a;
INSERT INTO academic_classes (session_id, class_id, created_at, updated_at)
SELECT (SELECT id FROM academic_sessions), c.id, now(), now() FROM classes c;
INSERT INTO students (admission_no, first_name, last_name, other_names, sex, date_of_birth, address,
                      status, admission_date, created_at, updated_at)
SELECT 'ADM/2025/' || lpad(i::text, 4, '0'),
       (ARRAY['Adaeze','Amina','Chidi','Emeka','Folake','Ibrahim','Kemi','Musa','Ngozi','Tunde','Zainab','Segun'])[1 + i % 12],
       (ARRAY['Okafor','Adeyemi','Bello','Eze','Ogunleye','Nwosu','Abubakar','Olawale','Okonkwo','Danjuma','Lawal','Obi','Salami'])[1 + (i * 7) % 13],
       '', CASE WHEN i % 2 = 0 THEN 'female' ELSE 'male' END,
       date '2012-01-01' + (i % 1500), i || ' Allen Avenue, Ikeja', 'active', '2025-09-08', now(), now()
  FROM generate_series(1, 1000) i;
INSERT INTO guardians (student_id, full_name, relationship, phone, email, is_primary, created_at, updated_at)
SELECT id, 'Parent of ' || first_name, 'Mother', '+234803' || lpad(id::text, 7, '0'), '', TRUE, now(), now() FROM students;
INSERT INTO registrations (student_id, session_id, academic_class_id, registered_on, created_at)
SELECT s.id, (SELECT id FROM academic_sessions),
       (SELECT id FROM academic_classes ORDER BY id OFFSET (s.id % 20) LIMIT 1), '2025-09-08', now()
  FROM students s;
ANALYZE;
