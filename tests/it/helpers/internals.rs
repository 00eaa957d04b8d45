//! The one file that names library internals. Tests reach `schoolyard::…` only through
//! here (besides `router`, `AppState` and `config::Config`), so when a function moves in
//! `src/`, this file is the only one to change.

use schoolyard::{
    academics::setup::{self, SetupForm},
    auth::password,
    db, jobs, migrate, provision,
    students::guardians,
    tenancy::schools::CreateSchool,
    workers,
};
use sqlx::{PgPool, Postgres, Transaction};

pub use schoolyard::{config::Config, db::Db};

use crate::helpers::PASSWORD;

/// The report card's data and its PDF renderer, for the renderer's own tests (`pdf.rs`);
/// the results computation and its settings, for figures no real class can reach; a class's
/// figures and its broadsheet, for the broadsheet's (`sheets.rs`).
pub use schoolyard::assessment::{broadsheet, card, config, exams, pdf, results};

pub type Tx = Transaction<'static, Postgres>;

/// What a test needs to know of a new school.
#[derive(Clone, Debug)]
pub struct SchoolRow {
    pub id: i64,
    pub schema_name: String,
}

pub async fn run_public_migrations(pool: &PgPool) -> usize {
    migrate::run_public(pool).await.expect("public migrations")
}

/// Tenant migrations over every school: (schema, newly applied or the error) per school.
pub async fn run_tenant_migrations(
    pool: &PgPool,
    concurrency: usize,
) -> Vec<(String, Result<usize, String>)> {
    migrate::run_tenants(pool, concurrency, |_| {})
        .await
        .expect("tenant migrations")
        .into_iter()
        .map(|m| (m.schema, m.result))
        .collect()
}

pub fn tenant_migration_count() -> usize {
    migrate::tenant_migration_count()
}

/// Sets the transaction's search_path to `schema` and applies the tenant migrations there.
pub async fn migrate_schema_in_tx(tx: &mut Tx, schema: &str) {
    db::set_school_search_path(tx, schema)
        .await
        .expect("search_path");
    let name = db::SchemaName::parse(schema).expect("schema name");
    migrate::apply_tenant_in_tx(tx, &name)
        .await
        .expect("tenant migrations in the transaction");
}

/// A link code's stored hash, and a sealed access token opened, for the WhatsApp tests
/// (`chatbot_staff.rs`).
pub use schoolyard::chatbot::{codes::hash as link_code_hash, sealing::open as open_sealed_token};

/// The register's search condition (`$?` the pattern), to check its plan uses the index.
pub use schoolyard::students::db::SEARCH_CONDITION as STUDENT_SEARCH_CONDITION;

/// A transaction in `schema`, as a request gets.
pub async fn begin_school(pool: &PgPool, schema: &str) -> Tx {
    db::begin_school(pool, schema)
        .await
        .expect("school transaction")
}

/// A school made the way the `create-school` command makes one.
pub async fn create_school(
    pool: &PgPool,
    config: &schoolyard::config::Config,
    code: &str,
) -> SchoolRow {
    let out = provision::create_school_cli(
        pool,
        config,
        CreateSchool {
            name: format!("{} School", capitalise(code)),
            code: code.to_owned(),
            ..Default::default()
        },
    )
    .await
    .expect("create school");
    SchoolRow {
        id: out.id,
        schema_name: out.schema_name,
    }
}

/// A user made the way the `create-user` command makes one, with the test password: a
/// staff member of school `school_code` holding `role`, or (without a school) a platform
/// user. Returns the user id.
pub async fn create_user(
    pool: &PgPool,
    email: &str,
    full_name: &str,
    school_code: Option<&str>,
    role: Option<&str>,
) -> i64 {
    provision::create_user_cli(
        pool,
        provision::UserSpec {
            email,
            password: PASSWORD,
            full_name,
            superadmin: school_code.is_none(),
            school_code,
            role,
        },
    )
    .await
    .expect("create user")
    .id
}

/// The school year of the guided set-up. `dates: None` takes the set-up's suggestion for
/// today; otherwise the session 2025/2026 with fixed term dates.
pub struct Year<'a> {
    pub forms: &'a str,
    pub arms: &'a str,
    pub subjects: &'a str,
    pub fixed_2025: bool,
}

/// Runs the guided set-up in the school's schema.
pub async fn set_up_year(pool: &PgPool, school: &SchoolRow, year: Year<'_>) {
    let today = chrono::Utc::now().date_naive();
    let dates = if year.fixed_2025 {
        SetupForm {
            session_name: "2025/2026".into(),
            session_starts: "2025-09-08".into(),
            session_ends: "2026-07-24".into(),
            term1_starts: "2025-09-08".into(),
            term1_ends: "2025-12-12".into(),
            term2_starts: "2026-01-05".into(),
            term2_ends: "2026-04-02".into(),
            term3_starts: "2026-04-20".into(),
            term3_ends: "2026-07-24".into(),
            next_session_begins: "2026-09-07".into(),
            ..SetupForm::suggested(today)
        }
    } else {
        SetupForm::suggested(today)
    };
    let form = SetupForm {
        forms: year.forms.into(),
        arms: year.arms.into(),
        subjects: year.subjects.into(),
        ..dates
    };
    let mut tx = begin_school(pool, &school.schema_name).await;
    setup::run(&mut tx, school.id, &form, chrono::Utc::now())
        .await
        .expect("guided set-up");
    tx.commit().await.expect("commit set-up");
}

/// Background job workers over the app's database (the caller aborts the task).
pub fn spawn_workers(db: db::Db) -> tokio::task::JoinHandle<anyhow::Result<()>> {
    spawn_workers_with(db, schoolyard::config::WhatsAppConfig::for_tests())
}

/// Background job workers whose WhatsApp client talks to `whatsapp.api_base`.
pub fn spawn_workers_with(
    db: db::Db,
    whatsapp: schoolyard::config::WhatsAppConfig,
) -> tokio::task::JoinHandle<anyhow::Result<()>> {
    tokio::spawn(workers::run(
        db,
        2,
        std::time::Duration::from_secs(900),
        whatsapp,
        std::future::pending(),
    ))
}

/// Purges the job queue's finished rows; returns how many went.
pub async fn purge_finished_jobs(pool: &PgPool) -> u64 {
    jobs::queue::purge_finished(pool, std::time::Duration::ZERO)
        .await
        .expect("purge")
}

/// Queues jobs naming school `schema` as the app does (a report batch and an absence run,
/// due in an hour so no worker takes them meanwhile).
pub async fn queue_school_jobs(pool: &PgPool, schema: &str) {
    let mut tx = pool.begin().await.expect("begin");
    jobs::queue::enqueue_report(
        &mut tx,
        &jobs::queue::ReportJob {
            schema: schema.to_owned(),
            batch_id: uuid::Uuid::new_v4(),
        },
    )
    .await
    .expect("report job");
    jobs::queue::enqueue_absences(
        &mut tx,
        &jobs::queue::AbsenceJob {
            schema: schema.to_owned(),
        },
        chrono::Utc::now() + chrono::Duration::hours(1),
    )
    .await
    .expect("absence job");
    tx.commit().await.expect("commit jobs");
}

/// Queues the processing of a stored WhatsApp delivery (`whatsapp_inbound` row), due in an
/// hour.
pub async fn queue_inbound_job(pool: &PgPool, inbound_id: i64) {
    let mut conn = pool.acquire().await.expect("connection");
    jobs::queue::push_chat(
        &mut conn,
        jobs::queue::ChatJob::Inbound(jobs::queue::InboundJob { inbound_id }),
        jobs::queue::Urgency::Waiting,
        Some(chrono::Utc::now() + chrono::Duration::hours(1)),
    )
    .await
    .expect("inbound job");
}

/// The real HTTP server on `listener`.
pub fn spawn_server(
    state: schoolyard::AppState,
    listener: tokio::net::TcpListener,
) -> tokio::task::JoinHandle<anyhow::Result<()>> {
    tokio::spawn(schoolyard::app::serve(state, listener))
}

pub fn password_policy_problems(password: &str, email: &str) -> Vec<String> {
    password::policy_problems(password, email)
}

pub fn hash_password(password: &str) -> String {
    password::hash_blocking(password).expect("hash")
}

pub fn normalise_phone(raw: &str, country_code: &str) -> Option<String> {
    guardians::normalise_phone(raw, country_code)
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

pub use schoolyard::chatbot;
pub use schoolyard::config::WhatsAppConfig;
pub use schoolyard::jobs::queue::SendJob;
pub use schoolyard::jobs::queue::{AlertJob, ParentAlert};
pub use schoolyard::tenancy::schools::{DISTRIBUTE_NEW_SCHEMAS, citus_present};
