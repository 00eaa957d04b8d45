-- Seeds one school for the WhatsApp benchmark (issue 12; search_path set by the caller to the
-- school's schema, then public). psql variables: `number` (the shared WhatsApp number id the
-- school sends from) and `window` ('open': every parent wrote within the hour, so alerts go
-- as free-form text; 'closed': their last message was two days ago, so alerts go as the
-- approved template).
--
-- 1,000 pupils in 40 class arms (8 levels x 5 arms x 25), 10 subjects, three terms, each with
-- a closed exam session with CA1/CA2/Exam marks for everyone (3 x 30,000 scores): one
-- session to publish per timed run. One guardian per pupil with a distinct phone
-- (+2348030000001 ...), linked on WhatsApp as the bot links them (chatbot_links, and
-- public.whatsapp_contacts for the shared number), and the chat of each on the shared
-- number (public.whatsapp_chats) with its 24-hour window as chosen.
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
INSERT INTO students (admission_no, first_name, last_name, sex, date_of_birth, status, admission_date,
                      created_at, updated_at)
SELECT 'ADM/' || lpad(i::text, 4, '0'),
       (ARRAY['Adaeze','Amina','Chidi','Emeka','Folake','Ibrahim','Kemi','Musa','Ngozi','Tunde'])[1 + i % 10],
       (ARRAY['Okafor','Adeyemi','Bello','Eze','Ogunleye','Nwosu','Abubakar'])[1 + (i * 7) % 7],
       CASE WHEN i % 2 = 0 THEN 'female' ELSE 'male' END, date '2012-01-01' + (i % 1500),
       'active', '2025-09-08', now(), now()
  FROM generate_series(1, 1000) i;
INSERT INTO registrations (student_id, session_id, academic_class_id, registered_on, created_at)
SELECT s.id, (SELECT id FROM academic_sessions),
       (SELECT id FROM academic_classes ORDER BY id OFFSET ((s.id - 1) / 25) LIMIT 1), '2025-09-08', now()
  FROM students s;
INSERT INTO exam_sessions (session_id, term_id, name, status, created_at, updated_at)
SELECT session_id, id, name || ' Examination', 'closed', now(), now() FROM terms ORDER BY ordinal;
INSERT INTO exams (exam_session_id, academic_class_id, subject_id, created_at, updated_at)
SELECT es.id, acs.academic_class_id, acs.subject_id, now(), now()
  FROM exam_sessions es CROSS JOIN academic_class_subjects acs;
INSERT INTO exam_components (exam_id, name, max_score, ordinal)
SELECT e.id, c.name, c.max_score, c.ordinal FROM exams e CROSS JOIN assessment_components c;
INSERT INTO marks (component_id, registration_id, exam_id, score, updated_at)
SELECT ec.id, r.id, e.id,
       round((0.35 + (abs(hashtext(ec.id::text || '/' || r.id::text)::bigint) % 1000) / 1000.0 * 0.6)
             * ec.max_score * 2) / 2, now()
  FROM exams e JOIN exam_components ec ON ec.exam_id = e.id
  JOIN registrations r ON r.academic_class_id = e.academic_class_id AND r.is_current;

-- One guardian per pupil, each with their own phone, linked as the bot links them.
INSERT INTO guardians (student_id, full_name, relationship, phone, is_primary, created_at, updated_at)
SELECT s.id, 'Parent of ' || s.first_name || ' ' || s.last_name, 'Mother',
       '+234803' || lpad(s.id::text, 7, '0'), TRUE, now(), now()
  FROM students s;
INSERT INTO chatbot_links (guardian_id, student_id, wa_phone, proof, linked_at)
SELECT g.id, g.student_id, g.phone, 'link_code', now() - interval '30 days' FROM guardians g;
INSERT INTO public.whatsapp_contacts (wa_phone, school_id, student_id, guardian_id)
SELECT l.wa_phone, (SELECT id FROM public.clients WHERE schema_name = current_schema()), l.student_id, l.guardian_id
  FROM chatbot_links l;
INSERT INTO public.whatsapp_chats (phone_number_id, wa_phone, profile_name, last_inbound_at)
SELECT :'number', g.phone, g.full_name,
       CASE WHEN :'window' = 'open' THEN now() - interval '5 minutes' ELSE now() - interval '2 days' END
  FROM guardians g;
ANALYZE;
