//! Demo data: two schools with realistic staff, so a newcomer can sign in at once.
//! Idempotent: running it again leaves existing rows alone.

use sqlx::PgPool;

use crate::{
    config::Config,
    provision::{UserSpec, create_school_cli, create_user_cli},
    tenancy::schools::{self, CreateSchool},
};

pub const DEMO_PASSWORD: &str = "Schoolyard-demo-2026";
pub const PLATFORM_ADMIN: &str = "ops@schoolyard.test";

struct DemoSchool {
    name: &'static str,
    code: &'static str,
    staff: &'static [(&'static str, &'static str, &'static str)],
}

const SCHOOLS: &[DemoSchool] = &[
    DemoSchool {
        name: "Greenwood Academy",
        code: "greenwood",
        staff: &[
            ("Adaeze Okonkwo", "admin@greenwood.test", "School Admin"),
            ("Babatunde Adeyemi", "head@greenwood.test", "Head"),
            ("Chiamaka Eze", "c.eze@greenwood.test", "Class Teacher"),
            ("Ibrahim Musa", "i.musa@greenwood.test", "Teacher"),
            ("Funke Alabi", "bursar@greenwood.test", "Bursar"),
        ],
    },
    DemoSchool {
        name: "Riverside College",
        code: "riverside",
        staff: &[
            ("Grace Mensah", "admin@riverside.test", "School Admin"),
            ("Kwame Boateng", "head@riverside.test", "Head"),
            ("Esther Wanjiru", "e.wanjiru@riverside.test", "Teacher"),
        ],
    },
];

pub async fn seed(pool: &PgPool, config: &Config) -> anyhow::Result<()> {
    let mut conn = pool.acquire().await?;
    if crate::auth::account::find_by_email_in_scope(&mut conn, PLATFORM_ADMIN, None)
        .await?
        .is_none()
    {
        drop(conn);
        create_user_cli(
            pool,
            UserSpec {
                email: PLATFORM_ADMIN,
                password: DEMO_PASSWORD,
                full_name: "Platform Operator",
                superadmin: true,
                school_code: None,
                role: None,
            },
        )
        .await?;
        println!("demo: created platform superadmin {PLATFORM_ADMIN}");
        conn = pool.acquire().await?;
    }
    for school in SCHOOLS {
        let existing = schools::get_by_code(&mut conn, school.code).await?;
        if existing.is_none() {
            create_school_cli(
                pool,
                config,
                CreateSchool {
                    name: school.name.to_owned(),
                    code: school.code.to_owned(),
                    ..Default::default()
                },
            )
            .await?;
            println!("demo: created {}", school.name);
        }
        let created = schools::get_by_code(&mut conn, school.code)
            .await?
            .ok_or_else(|| anyhow::anyhow!("demo school {} missing", school.code))?;
        for (full_name, email, role) in school.staff {
            if crate::auth::account::find_by_email_in_scope(&mut conn, email, Some(created.id))
                .await?
                .is_some()
            {
                continue;
            }
            create_user_cli(
                pool,
                UserSpec {
                    email,
                    password: DEMO_PASSWORD,
                    full_name,
                    superadmin: false,
                    school_code: Some(school.code),
                    role: Some(role),
                },
            )
            .await?;
        }
        seed_records(pool, &created.schema_name, created.id).await?;
        let teacher = school.staff.iter().find(|(_, _, role)| *role == "Teacher");
        seed_assessment(pool, &created.schema_name, teacher.map(|t| t.1)).await?;
        let head = school.staff.iter().find(|(_, _, role)| *role == "Head");
        seed_notices(pool, &created.schema_name, head.map(|h| h.1)).await?;
        seed_attendance(pool, &created.schema_name).await?;
    }
    Ok(())
}

/// Three weeks of morning registers up to yesterday (today's is left for the class teacher):
/// mostly present, a few late and absent, chosen by a fixed rule so a reseed gives the same.
async fn seed_attendance(pool: &PgPool, schema: &str) -> anyhow::Result<()> {
    let mut tx = crate::db::begin_school(pool, schema).await?;
    let any: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM attendance_marks)")
        .fetch_one(&mut *tx)
        .await?;
    if any {
        return Ok(());
    }
    let today = chrono::Utc::now()
        .with_timezone(&crate::tenancy::scope::DEFAULT_TIME_ZONE)
        .date_naive();
    // The demo's class teacher takes the first class's register.
    sqlx::query(
        "UPDATE academic_classes SET class_teacher_id = (
            SELECT u.id FROM public.users u
              JOIN public.clients c ON c.id = u.client_id AND c.schema_name = current_schema()
             WHERE u.email LIKE 'c.eze@%')
          WHERE id = (SELECT ac.id FROM academic_classes ac
                        JOIN academic_sessions s ON s.id = ac.session_id AND s.is_current
                        JOIN classes c ON c.id = ac.class_id
                       ORDER BY c.name, ac.id LIMIT 1)
            AND class_teacher_id IS NULL",
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO attendance_marks (registration_id, day, period, code_id, reason, marked_by, marked_at)
         SELECT r.id, d.day, 1, c.id,
                CASE WHEN c.code = 'A' AND (r.id + d.n) % 2 = 0 THEN 'Sick' ELSE '' END,
                ac.class_teacher_id, d.day + time '07:15'
           FROM (SELECT g::date AS day, extract(doy FROM g)::int AS n FROM terms t,
                        generate_series(GREATEST(t.starts_on, $1::date - 21), LEAST(t.ends_on, $1::date - 1), '1 day') g
                  WHERE t.is_current AND extract(isodow FROM g) < 6
                    AND NOT EXISTS (SELECT 1 FROM closures x WHERE g::date BETWEEN x.starts_on AND x.ends_on)) d
           JOIN registrations r ON r.registered_on <= d.day AND r.is_current
           JOIN students s ON s.id = r.student_id AND s.admission_date <= d.day
           JOIN academic_classes ac ON ac.id = r.academic_class_id
           JOIN academic_sessions se ON se.id = ac.session_id AND se.is_current
           JOIN attendance_codes c ON c.code = CASE WHEN (r.id * 7 + d.n) % 17 = 0 THEN 'A'
                                                    WHEN (r.id * 5 + d.n) % 13 = 0 THEN 'L'
                                                    ELSE 'P' END
         ON CONFLICT DO NOTHING",
    )
    .bind(today)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// A few notices: a pinned staff notice asking to be acknowledged, one for the parents of
/// the first class level, and a draft.
async fn seed_notices(pool: &PgPool, schema: &str, author: Option<&str>) -> anyhow::Result<()> {
    let mut tx = crate::db::begin_school(pool, schema).await?;
    let any: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM notices)")
        .fetch_one(&mut *tx)
        .await?;
    if any {
        return Ok(());
    }
    let author: Option<i64> =
        sqlx::query_scalar("SELECT id FROM public.users WHERE lower(email) = lower($1)")
            .bind(author)
            .fetch_optional(&mut *tx)
            .await?;
    let now = chrono::Utc::now();
    sqlx::query(
        "INSERT INTO notices (title, body, status, scope, form_id, for_parents, for_staff, pinned,
                needs_ack, publish_at, expires_at, author_id, published_at, published_by,
                created_at, updated_at)
         VALUES
           ('Staff meeting on Friday', E'All staff meet in the hall at 2 pm on Friday.\nAgenda: mid-term tests and the sports day.\n\nPlease acknowledge that you have read this.',
            'published', 'school', NULL, FALSE, TRUE, TRUE, TRUE, $1, $1 + interval '14 days', $2, $1, $2, $1, $1),
           ('Mid-term break', E'Dear parents,\nthe school closes for the mid-term break on Thursday and reopens on Monday.',
            'published', 'form', (SELECT id FROM forms ORDER BY ordinal, id LIMIT 1), TRUE, TRUE, FALSE, FALSE, $1, $1 + interval '30 days', $2, $1, $2, $1, $1),
           ('Sports day kit', E'Pupils wear their house colours on sports day.',
            'draft', 'school', NULL, TRUE, FALSE, FALSE, FALSE, NULL, NULL, $2, NULL, NULL, $1, $1)",
    )
    .bind(now)
    .bind(author)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The first term's exam session, open, with marks for every class but one subject of the
/// first class, which the demo teacher teaches and can fill in the grid.
async fn seed_assessment(
    pool: &PgPool,
    schema: &str,
    teacher_email: Option<&str>,
) -> anyhow::Result<()> {
    use crate::assessment::exams;
    let mut tx = crate::db::begin_school(pool, schema).await?;
    let seeded: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM exam_sessions)")
        .fetch_one(&mut *tx)
        .await?;
    if seeded {
        return Ok(());
    }
    let now = chrono::Utc::now();
    sqlx::query(
        "UPDATE general_settings SET address = '14 Unity Road, Ikeja, Lagos', motto = 'Knowledge, Discipline, Service'
          WHERE address = ''",
    )
    .execute(&mut *tx)
    .await?;
    let term: Option<i64> = sqlx::query_scalar(
        "SELECT t.id FROM terms t JOIN academic_sessions s ON s.id = t.session_id
          WHERE s.is_current ORDER BY t.ordinal LIMIT 1",
    )
    .fetch_optional(&mut *tx)
    .await?;
    let Some(term) = term else {
        return Ok(());
    };
    let input = exams::ExamSessionInput {
        term_id: Some(term),
        status: Some("open".into()),
        ..Default::default()
    };
    let es = exams::save_exam_session(&mut tx, None, &input, now)
        .await
        .map_err(|e| anyhow::anyhow!("demo exam session: {e:?}"))?;
    exams::create_all_exams(&mut tx, &es, None, now)
        .await
        .map_err(|e| anyhow::anyhow!("demo exams: {e:?}"))?;
    // The teacher's subject: Mathematics of the first class, left for the grid.
    let open_exam: Option<i64> = sqlx::query_scalar(
        "SELECT e.id FROM exams e JOIN subjects s ON s.id = e.subject_id
           JOIN academic_classes ac ON ac.id = e.academic_class_id JOIN classes c ON c.id = ac.class_id
           JOIN forms f ON f.id = c.form_id
          WHERE e.exam_session_id = $1 AND s.name = 'Mathematics'
          ORDER BY f.ordinal, lower(c.name) LIMIT 1",
    )
    .bind(es.id)
    .fetch_optional(&mut *tx)
    .await?;
    if let (Some(exam), Some(email)) = (open_exam, teacher_email) {
        sqlx::query(
            "UPDATE academic_class_subjects acs SET teacher_id = u.id
               FROM exams e, public.users u
              WHERE e.id = $1 AND acs.academic_class_id = e.academic_class_id
                AND acs.subject_id = e.subject_id AND lower(u.email) = lower($2)",
        )
        .bind(exam)
        .bind(email)
        .execute(&mut *tx)
        .await?;
    }
    // Plausible, repeatable marks: 35%–95% of each component, in half marks.
    sqlx::query(
        "INSERT INTO marks (component_id, registration_id, exam_id, score, updated_at)
         SELECT ec.id, r.id, e.id,
                round((0.35 + (abs(hashtext(ec.id::text || '/' || r.id::text)) % 1000) / 1000.0 * 0.6)
                      * ec.max_score * 2) / 2, now()
           FROM exams e JOIN exam_components ec ON ec.exam_id = e.id
           JOIN registrations r ON r.academic_class_id = e.academic_class_id AND r.is_current
          WHERE e.exam_session_id = $1 AND e.id IS DISTINCT FROM $2",
    )
    .bind(es.id)
    .bind(open_exam)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO report_comments (exam_session_id, registration_id, class_teacher_comment, head_teacher_comment, updated_at)
         SELECT $1, r.id,
                (ARRAY['A hardworking and well-behaved pupil. Keep it up.',
                       'Good progress this term; can do even better with more effort.',
                       'Needs to pay more attention in class and complete assignments.'])[1 + r.id % 3],
                (ARRAY['An excellent result. Well done.', 'A good result. Aim higher next term.',
                       'Below expectations. More effort is needed.'])[1 + r.id % 3], now()
           FROM registrations r WHERE r.is_current",
    )
    .bind(es.id)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO ratings (exam_session_id, registration_id, trait_id, value)
         SELECT $1, r.id, t.id, 2 + abs(hashtext(r.id::text || t.id::text)) % 4
           FROM registrations r CROSS JOIN rating_traits t WHERE r.is_current",
    )
    .bind(es.id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    println!("demo: {schema}: {} open, with marks", es.name);
    Ok(())
}

const FIRST_NAMES_F: &[&str] = &[
    "Adaeze", "Amina", "Chiamaka", "Folake", "Ifeoma", "Kemi", "Ngozi", "Nneka", "Tolu", "Zainab",
    "Aisha", "Blessing", "Chioma", "Esther", "Fatima", "Grace", "Halima", "Joy", "Mercy",
    "Temitope",
];
const FIRST_NAMES_M: &[&str] = &[
    "Adebayo", "Chidi", "Emeka", "Femi", "Ibrahim", "Kunle", "Musa", "Obinna", "Segun", "Tunde",
    "Abdul", "Daniel", "Ejike", "Gbenga", "Ikenna", "John", "Kayode", "Olumide", "Samuel", "Yusuf",
];
const SURNAMES: &[&str] = &[
    "Okafor", "Adeyemi", "Bello", "Eze", "Ogunleye", "Nwosu", "Abubakar", "Olawale", "Okonkwo",
    "Danjuma", "Adeleke", "Chukwu", "Ibekwe", "Lawal", "Obi", "Salami", "Uche", "Yakubu",
];

/// The school year and about six pupils per class, with a guardian each.
async fn seed_records(pool: &PgPool, schema: &str, school_id: i64) -> anyhow::Result<()> {
    use crate::{academics, students};
    let mut tx = crate::db::begin_school(pool, schema).await?;
    let has_session: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM academic_sessions)")
        .fetch_one(&mut *tx)
        .await?;
    if has_session {
        return Ok(());
    }
    let now = chrono::Utc::now();
    let today = now.date_naive();
    academics::setup::run(
        &mut tx,
        school_id,
        &academics::setup::SetupForm::suggested(today),
        now,
    )
    .await
    .map_err(|e| anyhow::anyhow!("demo set-up: {e:?}"))?;
    let session = academics::db::current_session(&mut tx)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no session after set-up"))?;
    let classes = academics::db::academic_classes(&mut tx, session.id).await?;
    let mut n = 0usize;
    for class in &classes {
        for _ in 0..6 {
            n += 1;
            let female = n.is_multiple_of(2);
            let first = if female {
                FIRST_NAMES_F[n % FIRST_NAMES_F.len()]
            } else {
                FIRST_NAMES_M[n % FIRST_NAMES_M.len()]
            };
            let last = SURNAMES[(n * 7) % SURNAMES.len()];
            let age = 10
                + (class
                    .form_name
                    .chars()
                    .filter(char::is_ascii_digit)
                    .collect::<String>()
                    .parse::<i64>()
                    .unwrap_or(1))
                + if class.form_name.starts_with("SS") {
                    3
                } else {
                    0
                };
            let dob = today - chrono::Duration::days(age * 365 + (n as i64 * 37) % 300);
            let parent = if female { "Mother" } else { "Father" };
            let parent_first = if female {
                FIRST_NAMES_F[(n + 3) % FIRST_NAMES_F.len()]
            } else {
                FIRST_NAMES_M[(n + 5) % FIRST_NAMES_M.len()]
            };
            let input = students::db::StudentInput {
                first_name: Some(first.to_owned()),
                last_name: Some(last.to_owned()),
                sex: Some(if female { "female" } else { "male" }.to_owned()),
                date_of_birth: Some(dob),
                address: Some(format!(
                    "{} {} Street, Ikeja, Lagos",
                    3 + n % 40,
                    SURNAMES[n % SURNAMES.len()]
                )),
                admission_date: Some(session.starts_on),
                academic_class_id: Some(class.id),
                guardians: Some(vec![students::guardians::GuardianInput {
                    full_name: Some(format!("{parent_first} {last}")),
                    relationship: Some(parent.to_owned()),
                    phone: Some(format!("+23480{:08}", 31_000_000 + n * 7919)),
                    email: Some(format!(
                        "{}.{}@example.com",
                        parent_first.to_lowercase(),
                        last.to_lowercase()
                    )),
                    is_primary: Some(true),
                    ..Default::default()
                }]),
                ..Default::default()
            };
            students::db::create(&mut tx, &input, today, now)
                .await
                .map_err(|e| anyhow::anyhow!("demo student: {e:?}"))?;
        }
    }
    tx.commit().await?;
    println!(
        "demo: {schema}: school year, {} classes and {n} students",
        classes.len()
    );
    Ok(())
}

pub fn print_welcome(config: &Config, bind: &str) {
    let port = bind.rsplit_once(':').map_or("8080", |(_, p)| p);
    let main = &config.main_domain;
    println!();
    println!("Schoolyard demo is ready. Password for every demo account: {DEMO_PASSWORD}");
    println!();
    println!("  Platform console   http://{main}:{port}/        {PLATFORM_ADMIN}");
    for school in SCHOOLS {
        println!(
            "  {:<18} http://{}.{main}:{port}/",
            school.name, school.code
        );
        for (name, email, role) in school.staff {
            println!("      {email:<28} {role:<14} {name}");
        }
    }
    println!();
    println!("  API docs           http://{main}:{port}/api/docs/");
    println!();
}
