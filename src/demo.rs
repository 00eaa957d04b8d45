//! Demo data: two schools with realistic staff, so a newcomer can sign in at once.
//! Idempotent: running it again leaves existing rows alone.

use sqlx::PgPool;

use crate::{
    cli::{UserSpec, create_school_cli, create_user_cli},
    config::Config,
    tenancy::schools::{self, CreateSchool},
    users,
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
    if users::find_by_email_in_scope(&mut conn, PLATFORM_ADMIN, None)
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
            if users::find_by_email_in_scope(&mut conn, email, None)
                .await?
                .is_some()
            {
                continue;
            }
            let exists: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM public.users WHERE lower(email) = lower($1))",
            )
            .bind(email)
            .fetch_one(&mut *conn)
            .await?;
            if exists {
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
    }
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
    let session = academics::current_session(&mut tx)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no session after set-up"))?;
    let classes = academics::academic_classes(&mut tx, session.id).await?;
    let mut n = 0usize;
    for class in &classes {
        for _ in 0..6 {
            n += 1;
            let female = n % 2 == 0;
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
            let input = students::StudentInput {
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
            students::create(&mut tx, &input, today, now)
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
