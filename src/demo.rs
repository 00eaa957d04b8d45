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
    }
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
