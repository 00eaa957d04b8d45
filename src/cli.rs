//! The `schoolyard` command line: one binary, subcommands that scripts rely on.

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::{
    app,
    config::Config,
    db, migrate,
    provision::{UserSpec, create_school_cli, create_user_cli},
    state::AppState,
    tenancy::schools::CreateSchool,
};

#[derive(Parser, Debug)]
#[command(name = "schoolyard", version, about = "Multi-tenant school management")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Apply public migrations, then tenant migrations to every school schema.
    Migrate,
    /// Run the HTTP server.
    Serve(ServeArgs),
    /// Run background job workers alone (no jobs are defined yet).
    Worker,
    /// Manage schools.
    School {
        #[command(subcommand)]
        command: SchoolCommand,
    },
    /// Manage users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Migrate, seed demo schools (idempotent), print URLs and logins, and serve.
    Demo(ServeArgs),
}

#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub bind: String,
    /// Do not start job workers in this process.
    #[arg(long)]
    pub no_workers: bool,
}

#[derive(Subcommand, Debug)]
pub enum SchoolCommand {
    /// Create a school: schema, migrations, built-in roles, domain, optional first admin.
    Create {
        #[arg(long)]
        name: String,
        #[arg(long)]
        code: String,
        #[arg(long)]
        schema_name: Option<String>,
        #[arg(long)]
        domain: Option<String>,
        #[arg(long, requires = "admin_password")]
        admin_email: Option<String>,
        #[arg(long, requires = "admin_email")]
        admin_password: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Create a platform superadmin or a school user with a role.
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        password: String,
        #[arg(long)]
        full_name: Option<String>,
        #[arg(long, conflicts_with_all = ["school", "role"])]
        superadmin: bool,
        /// School code.
        #[arg(long, requires = "role")]
        school: Option<String>,
        /// Role name in that school, e.g. "School Admin" or "Teacher".
        #[arg(long, requires = "school")]
        role: Option<String>,
    },
}

pub fn init_tracing(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,sqlx=warn,tower_sessions=warn".into());
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

/// Makes sure the configured database exists (development convenience).
async fn ensure_database(config: &Config) -> anyhow::Result<()> {
    use sqlx::{ConnectOptions, Connection, postgres::PgConnectOptions};
    use std::str::FromStr;
    let options = PgConnectOptions::from_str(&config.database_url)?;
    let Some(name) = options.get_database().map(str::to_owned) else {
        return Ok(());
    };
    if options.connect().await.is_ok() {
        return Ok(());
    }
    let admin = options.clone().database("postgres");
    let mut conn = admin.connect().await?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(&name)
            .fetch_one(&mut conn)
            .await?;
    if !exists {
        let quoted = format!("\"{}\"", name.replace('"', "\"\""));
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {quoted}")))
            .execute(&mut conn)
            .await?;
        println!("created database {name}");
    }
    conn.close().await?;
    Ok(())
}

/// `migrate`: prints progress per schema; false when any school failed.
pub async fn run_migrations(pool: &sqlx::PgPool, config: &Config) -> anyhow::Result<bool> {
    let applied = migrate::run_public(pool).await?;
    if applied == 0 {
        println!("public: up to date");
    } else {
        println!("public: applied {applied} migration(s)");
    }
    // Up-to-date schools are only counted: with ten thousand of them a line each would
    // bury the ones that changed. Each school migrated or failed is numbered as it ends.
    let mut finished = 0usize;
    let results = migrate::run_tenants(pool, config.migrate_concurrency, |done| {
        finished += 1;
        match &done.result {
            Ok(0) => {}
            Ok(n) => println!(
                "[{finished}] school {}: applied {n} migration(s)",
                done.schema
            ),
            Err(e) => println!("[{finished}] school {}: FAILED: {e}", done.schema),
        }
    })
    .await?;
    let failed: Vec<&str> = results
        .iter()
        .filter(|r| r.result.is_err())
        .map(|r| r.schema.as_str())
        .collect();
    let changed = results
        .iter()
        .filter(|r| matches!(r.result, Ok(n) if n > 0))
        .count();
    println!(
        "{} school(s): {} migrated, {} already up to date, {} failed{}",
        results.len(),
        changed,
        results.len() - changed - failed.len(),
        failed.len(),
        if failed.is_empty() {
            String::new()
        } else {
            format!(" ({})", failed.join(", "))
        }
    );
    Ok(failed.is_empty())
}

async fn serve(config: Config, pool: sqlx::PgPool, args: &ServeArgs) -> anyhow::Result<()> {
    if config.is_dev_secret() {
        tracing::warn!("JWT_SECRET is the development default; set it in production");
    }
    let listener = tokio::net::TcpListener::bind(&args.bind).await?;
    let workers = config.job_workers;
    let login_window = config.login_lockout;
    let whatsapp = config.whatsapp.clone();
    let state = AppState::build(config, pool).await?;
    tracing::info!(addr = %listener.local_addr()?, "serving");
    if args.no_workers {
        return app::serve(state, listener).await;
    }
    let jobs = tokio::spawn(crate::workers::run(
        state.db.clone(),
        workers,
        login_window,
        whatsapp,
        app::shutdown_signal(),
    ));
    app::serve(state, listener).await?;
    // Let running jobs finish their current class after the server stops.
    jobs.await??;
    Ok(())
}

pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let config = Config::from_env()?;
    init_tracing(config.json_logs);
    match cli.command {
        Command::Migrate => {
            ensure_database(&config).await?;
            let pool = db::connect(&config).await?;
            let ok = run_migrations(&pool, &config).await?;
            Ok(if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Serve(args) => {
            config.refuse_dev_secret()?;
            let pool = db::connect(&config).await?;
            serve(config, pool, &args).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Worker => {
            config.refuse_dev_secret()?;
            let pool = db::connect(&config).await?;
            tracing::info!(workers = config.job_workers, "running job workers");
            crate::workers::run(
                db::Db::new(&config, pool),
                config.job_workers,
                config.login_lockout,
                config.whatsapp.clone(),
                app::shutdown_signal(),
            )
            .await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::School {
            command:
                SchoolCommand::Create {
                    name,
                    code,
                    schema_name,
                    domain,
                    admin_email,
                    admin_password,
                },
        } => {
            let pool = db::connect(&config).await?;
            let school = create_school_cli(
                &pool,
                &config,
                CreateSchool {
                    name,
                    code,
                    schema_name,
                    domain,
                    admin_email,
                    admin_password,
                    admin_full_name: None,
                },
            )
            .await?;
            println!(
                "created school {} (id {}, schema {}, domain {})",
                school.name,
                school.id,
                school.schema_name,
                school.primary_domain.unwrap_or_default()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::User {
            command:
                UserCommand::Create {
                    email,
                    password,
                    full_name,
                    superadmin,
                    school,
                    role,
                },
        } => {
            if !superadmin && school.is_none() {
                anyhow::bail!("give either --superadmin or --school CODE --role ROLE");
            }
            let pool = db::connect(&config).await?;
            let full_name = full_name.unwrap_or_else(|| email.clone());
            let user = create_user_cli(
                &pool,
                UserSpec {
                    email: &email,
                    password: &password,
                    full_name: &full_name,
                    superadmin,
                    school_code: school.as_deref(),
                    role: role.as_deref(),
                },
            )
            .await?;
            println!("created user {} (id {})", user.email, user.id);
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo(args) => {
            ensure_database(&config).await?;
            let pool = db::connect(&config).await?;
            if !run_migrations(&pool, &config).await? {
                anyhow::bail!("migrations failed");
            }
            crate::demo::seed(&pool, &config).await?;
            crate::demo::print_welcome(&config, &args.bind);
            serve(config, pool, &args).await?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
