//! Creating schools and users outside a request (the CLI, the demo, tests): the same
//! validation and audit as the API, with "cli" as the actor.

use chrono::Utc;

use crate::{
    audit::trail::Actor,
    auth::{
        account::{self, NewUser, User},
        password,
    },
    config::Config,
    db,
    error::{AppError, Validator},
    http::RequestMeta,
    permissions::roles,
    tenancy::schools::{self, CreateSchool},
};

fn cli_meta() -> RequestMeta {
    RequestMeta {
        request_id: "cli".to_owned(),
        client_ip: "local".to_owned(),
    }
}

fn cli_actor() -> Actor {
    Actor {
        id: None,
        email: Some("cli".to_owned()),
    }
}

fn report(e: AppError) -> anyhow::Error {
    match e {
        AppError::Validation { errors, .. } => {
            let lines: Vec<String> = errors
                .iter()
                .map(|(f, m)| format!("  {f}: {}", m.join(" ")))
                .collect();
            anyhow::anyhow!("invalid input:\n{}", lines.join("\n"))
        }
        other => anyhow::anyhow!("{other}: {:?}", other),
    }
}

pub async fn create_school_cli(
    pool: &sqlx::PgPool,
    config: &Config,
    input: CreateSchool,
) -> anyhow::Result<schools::SchoolOut> {
    let mut conn = pool.acquire().await?;
    let valid = schools::validate_create(&mut conn, &input, &config.main_domain)
        .await
        .map_err(report)?;
    drop(conn);
    schools::create(pool, valid, &cli_actor(), &cli_meta(), Utc::now())
        .await
        .map_err(report)
}

pub struct UserSpec<'a> {
    pub email: &'a str,
    pub password: &'a str,
    pub full_name: &'a str,
    pub superadmin: bool,
    pub school_code: Option<&'a str>,
    pub role: Option<&'a str>,
}

pub async fn create_user_cli(pool: &sqlx::PgPool, spec: UserSpec<'_>) -> anyhow::Result<User> {
    let problems = password::policy_problems(spec.password, spec.email);
    if !problems.is_empty() {
        anyhow::bail!("password: {}", problems.join(" "));
    }
    let mut v = Validator::new();
    v.email("email", spec.email);
    v.text("full_name", spec.full_name, 1, 200);
    v.finish().map_err(report)?;
    let hash = password::hash(spec.password.to_owned())
        .await
        .map_err(report)?;
    let now = Utc::now();
    match spec.school_code {
        None => {
            let mut tx = db::begin_platform(pool).await?;
            let user = account::insert(
                &mut tx,
                &NewUser {
                    email: spec.email,
                    password_hash: &hash,
                    full_name: spec.full_name,
                    client_id: None,
                    is_superadmin: spec.superadmin,
                },
                now,
            )
            .await
            .map_err(report)?;
            tx.commit().await?;
            Ok(user)
        }
        Some(code) => {
            let mut conn = pool.acquire().await?;
            let school = schools::get_by_code(&mut conn, code)
                .await?
                .ok_or_else(|| anyhow::anyhow!("no school has the code {code:?}"))?;
            drop(conn);
            let mut tx = db::begin_school(pool, &school.schema_name).await?;
            let role_name = spec.role.unwrap_or("Teacher");
            let role = roles::find_by_name(&mut tx, role_name)
                .await?
                .ok_or_else(|| anyhow::anyhow!("school {code} has no role {role_name:?}"))?;
            let user = account::insert(
                &mut tx,
                &NewUser {
                    email: spec.email,
                    password_hash: &hash,
                    full_name: spec.full_name,
                    client_id: Some(school.id),
                    is_superadmin: false,
                },
                now,
            )
            .await
            .map_err(report)?;
            roles::set_user_roles(&mut tx, user.id, &[role.id]).await?;
            tx.commit().await?;
            Ok(user)
        }
    }
}
