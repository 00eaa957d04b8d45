//! Schools (`public.clients`), their domains and setup steps: SQL and the rules.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::{FromRow, PgConnection, PgPool};
use utoipa::ToSchema;

use crate::{
    audit::trail::{Actor, Entry, Trail},
    auth::{account::NewUser, password},
    context::PlatformCtx,
    db::{self, SchemaName},
    error::{AppError, AppResult, Validator},
    http::{ListParams, RequestMeta},
    migrate,
    permissions::roles,
};

#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct SchoolOut {
    pub id: i64,
    pub name: String,
    pub code: String,
    pub schema_name: String,
    /// `not_started`, `in_progress` or `completed`
    pub setup_progress: String,
    pub is_active: bool,
    pub primary_domain: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const SCHOOL_SELECT: &str = "SELECT c.id, c.name, c.code, c.schema_name, c.setup_progress, c.is_active,
        (SELECT d.domain FROM public.domains d WHERE d.client_id = c.id AND d.is_primary) AS primary_domain,
        c.created_at, c.updated_at
   FROM public.clients c";

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSchool {
    #[schema(example = "Greenwood Academy")]
    pub name: String,
    /// Short code: lower-case letters, digits and hyphens, e.g. `greenwood`.
    #[schema(example = "greenwood")]
    pub code: String,
    /// Defaults to the code with hyphens as underscores.
    pub schema_name: Option<String>,
    /// Defaults to `<code>.<main domain>`.
    pub domain: Option<String>,
    pub admin_email: Option<String>,
    pub admin_password: Option<String>,
    pub admin_full_name: Option<String>,
}

pub fn valid_code(code: &str) -> bool {
    let b = code.as_bytes();
    (2..=30).contains(&b.len())
        && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && !code.ends_with('-')
}

pub fn valid_domain(domain: &str) -> bool {
    domain.len() <= 253
        && domain.contains('.')
        && domain.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
        })
}

/// Default schema name from a code: hyphens become underscores, and a leading digit gets
/// a prefix so the name starts with a letter.
pub fn schema_from_code(code: &str) -> String {
    let s = code.replace('-', "_");
    if s.starts_with(|c: char| c.is_ascii_digit()) || s.len() < 3 {
        format!("school_{s}")
    } else {
        s
    }
}

pub struct ValidSchool {
    pub name: String,
    pub code: String,
    pub schema: SchemaName,
    pub domain: String,
    pub admin: Option<(String, String, String)>,
}

/// Checks shape and uniqueness; every problem is reported against its field.
pub async fn validate_create(
    conn: &mut PgConnection,
    input: &CreateSchool,
    main_domain: &str,
) -> AppResult<ValidSchool> {
    let mut v = Validator::new();
    v.text("name", &input.name, 2, 200);
    let code = input.code.trim().to_lowercase();
    if code.is_empty() {
        v.add("code", "This field is required.");
    } else if !valid_code(&code) {
        v.add(
            "code",
            "Use 2 to 30 characters: lower-case letters, digits and hyphens.",
        );
    }
    if !v.has("code") {
        let taken: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM public.clients WHERE code = $1)")
                .bind(&code)
                .fetch_one(&mut *conn)
                .await?;
        if taken {
            v.add("code", "Another school already uses this code.");
        }
    }
    // Schema and domain default to the code; when the code itself is wrong, only the code
    // is reported, not the values derived from it.
    let schema_given = input
        .schema_name
        .as_deref()
        .is_some_and(|s| !s.trim().is_empty());
    let domain_given = input
        .domain
        .as_deref()
        .is_some_and(|d| !d.trim().is_empty());
    let code_ok = !v.has("code");
    let schema_raw = input
        .schema_name
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .unwrap_or_else(|| schema_from_code(&code));
    let schema = match SchemaName::parse(&schema_raw) {
        Ok(s) => Some(s),
        Err(msg) => {
            if schema_given || code_ok {
                v.add("schema_name", msg);
            }
            None
        }
    };
    let domain = input
        .domain
        .as_deref()
        .map(|d| d.trim().to_lowercase())
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| format!("{code}.{main_domain}"));
    if !(domain_given || code_ok) {
        // Derived from a wrong code: nothing to say about it yet.
    } else if !valid_domain(&domain) {
        v.add("domain", "Enter a host name such as greenwood.example.com.");
    } else if domain == main_domain {
        v.add("domain", "This is the platform's own domain.");
    }
    let admin = match (
        input.admin_email.as_deref(),
        input.admin_password.as_deref(),
    ) {
        (None | Some(""), None | Some("")) => None,
        (Some(email), Some(pw)) if !email.trim().is_empty() && !pw.is_empty() => {
            v.email("admin_email", email);
            for problem in password::policy_problems(pw, email) {
                v.add("admin_password", problem);
            }
            let full_name = input
                .admin_full_name
                .as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .unwrap_or("School Administrator")
                .to_owned();
            v.text("admin_full_name", &full_name, 1, 200);
            Some((email.trim().to_lowercase(), pw.to_owned(), full_name))
        }
        (email, _) => {
            if email.is_none_or(|e| e.trim().is_empty()) {
                v.add("admin_email", "Give the admin's email with the password.");
            } else {
                v.add("admin_password", "Give a password for the admin.");
            }
            None
        }
    };

    if let Some(schema) = schema.as_ref().filter(|_| schema_given || code_ok) {
        let taken: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM public.clients WHERE schema_name = $1)
                 OR EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)",
        )
        .bind(schema.as_str())
        .fetch_one(&mut *conn)
        .await?;
        if taken {
            v.add("schema_name", "This schema name is already in use.");
        }
    }
    if !v.has("domain") && (domain_given || code_ok) {
        let taken: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM public.domains WHERE domain = $1)")
                .bind(&domain)
                .fetch_one(&mut *conn)
                .await?;
        if taken {
            v.add("domain", "This domain already belongs to a school.");
        }
    }
    v.finish()?;
    let schema = schema.ok_or_else(|| AppError::field("schema_name", "Invalid schema name."))?;
    Ok(ValidSchool {
        name: input.name.trim().to_owned(),
        code,
        schema,
        domain,
        admin,
    })
}

/// Most schools one bulk request may create: a school takes about a second to make (its
/// schema and migrations), so 50 stay well inside a request's 120 s time limit (ten
/// thousand schools are two hundred requests).
pub const BULK_MAX: usize = 50;

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSchools {
    /// Up to 50 schools, each as for a single creation.
    pub schools: Vec<CreateSchool>,
}

/// Checks every school of a bulk request before any is made: each as a single creation
/// would be, and against the others in the request. Problems are reported against
/// `schools[i].field`; one problem anywhere and nothing is created.
pub async fn validate_bulk(
    conn: &mut PgConnection,
    input: &CreateSchools,
    main_domain: &str,
) -> AppResult<Vec<ValidSchool>> {
    if input.schools.is_empty() || input.schools.len() > BULK_MAX {
        return Err(AppError::field(
            "schools",
            format!("Give between 1 and {BULK_MAX} schools."),
        ));
    }
    let mut errors = crate::error::FieldErrors::new();
    let mut valid = Vec::with_capacity(input.schools.len());
    let (mut codes, mut schemas, mut domains) = (
        std::collections::HashSet::new(),
        std::collections::HashSet::new(),
        std::collections::HashSet::new(),
    );
    for (i, school) in input.schools.iter().enumerate() {
        match validate_create(conn, school, main_domain).await {
            Ok(v) => {
                let mut repeated = |field: &str, fresh: bool| {
                    if !fresh {
                        errors.insert(
                            format!("schools[{i}].{field}"),
                            vec!["Another school in this request has the same value.".into()],
                        );
                    }
                };
                // Schema and domain usually derive from the code: a repeated code is the
                // one problem to report, not three.
                if codes.insert(v.code.clone()) {
                    repeated("schema_name", schemas.insert(v.schema.as_str().to_owned()));
                    repeated("domain", domains.insert(v.domain.clone()));
                } else {
                    repeated("code", false);
                }
                valid.push(v);
            }
            Err(AppError::Validation { errors: found, .. }) => {
                for (field, messages) in found {
                    errors.insert(format!("schools[{i}].{field}"), messages);
                }
            }
            Err(other) => return Err(other),
        }
    }
    if !errors.is_empty() {
        return Err(AppError::Validation {
            detail: "Some schools are not valid; none was created.".into(),
            errors,
        });
    }
    Ok(valid)
}

/// Creates validated schools one after another, each in its own transaction (a school's
/// creation takes locks on every table it makes; a thousand at once would exhaust
/// PostgreSQL's lock table). Should one fail, the ones this call made are deleted again,
/// so the request creates all of them or none.
pub async fn create_many(
    pool: &PgPool,
    schools: Vec<ValidSchool>,
    actor: &Actor,
    meta: &RequestMeta,
    now: DateTime<Utc>,
) -> AppResult<Vec<SchoolOut>> {
    let mut created = Vec::with_capacity(schools.len());
    for school in schools {
        match create(pool, school, actor, meta, now).await {
            Ok(made) => created.push(made),
            Err(e) => {
                for made in &created {
                    let mut conn = pool.acquire().await?;
                    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
                    delete(&mut tx, made).await?;
                    crate::audit::trail::record(
                        &mut tx,
                        Trail::Platform,
                        actor,
                        meta,
                        Entry {
                            action: "delete",
                            entity: "school",
                            entity_id: Some(made.id.to_string()),
                            changes: json!({"code": made.code, "reason": "bulk creation undone"}),
                        },
                        now,
                    )
                    .await?;
                    tx.commit().await?;
                }
                return Err(e);
            }
        }
    }
    Ok(created)
}

pub fn default_setup_steps() -> Value {
    json!([
        {"id": "academic_session", "title": "Create the first academic session and its terms", "status": "pending"},
        {"id": "classes", "title": "Add class levels and class arms", "status": "pending"},
        {"id": "subjects", "title": "Add subjects", "status": "pending"},
        {"id": "staff", "title": "Add staff accounts and roles", "status": "pending"},
        {"id": "students", "title": "Admit or import students", "status": "pending"}
    ])
}

/// What makes a schema created in this transaction a distributed schema on Citus 12+
/// (schema-based sharding), and nothing else: it ends with the transaction.
pub const DISTRIBUTE_NEW_SCHEMAS: &str = "SET LOCAL citus.enable_schema_based_sharding TO on";

/// Whether this database has the Citus extension.
pub async fn citus_present(conn: &mut sqlx::PgConnection) -> sqlx::Result<bool> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus')")
        .fetch_one(conn)
        .await
}

/// Creates a school in one transaction: client row, primary domain, setup steps, schema,
/// tenant migrations, built-in roles, optional first admin, audit row. Any failure rolls
/// everything back: no schema, no client, no domain.
pub async fn create(
    pool: &PgPool,
    valid: ValidSchool,
    actor: &Actor,
    meta: &RequestMeta,
    now: DateTime<Utc>,
) -> AppResult<SchoolOut> {
    // Hash before opening the transaction: argon2 is slow by design.
    let admin = match valid.admin {
        Some((email, pw, full_name)) => Some((email, password::hash(pw).await?, full_name)),
        None => None,
    };
    let mut tx = pool.begin().await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO public.clients (schema_name, name, code, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $4) RETURNING id",
    )
    .bind(valid.schema.as_str())
    .bind(&valid.name)
    .bind(&valid.code)
    .bind(now)
    .fetch_one(&mut *tx)
    .await
    .map_err(|e| {
        AppError::from(e)
            .on_constraint(
                "clients_code_key",
                "code",
                "Another school already uses this code.",
            )
            .on_constraint(
                "clients_schema_name_key",
                "schema_name",
                "This schema name is already in use.",
            )
    })?;
    sqlx::query(
        "INSERT INTO public.domains (domain, client_id, is_primary, created_at) VALUES ($1, $2, TRUE, $3)",
    )
    .bind(&valid.domain)
    .bind(id)
    .bind(now)
    .execute(&mut *tx)
    .await
    .map_err(|e| {
        AppError::from(e).on_constraint(
            "domains_domain_key",
            "domain",
            "This domain already belongs to a school.",
        )
    })?;
    sqlx::query(
        "INSERT INTO public.school_setups (client_id, steps, updated_at) VALUES ($1, $2, $3)",
    )
    .bind(id)
    .bind(default_setup_steps())
    .bind(now)
    .execute(&mut *tx)
    .await?;

    // On Citus the new schema is distributed (one school's tables live together on one
    // node). Only inside this transaction: on for the whole database it would also
    // distribute the job queue's own schema.
    if citus_present(&mut tx).await? {
        sqlx::query(DISTRIBUTE_NEW_SCHEMAS)
            .execute(&mut *tx)
            .await?;
    }
    // The one place (with migration and deletion) a schema name enters SQL text:
    // validated by SchemaName and quoted.
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "CREATE SCHEMA {}",
        valid.schema.quoted()
    )))
    .execute(&mut *tx)
    .await?;
    db::set_school_search_path(&mut tx, valid.schema.as_str()).await?;
    migrate::apply_tenant_in_tx(&mut tx, &valid.schema)
        .await
        .map_err(|e| AppError::Internal(e.context("tenant migrations for a new school")))?;
    roles::seed_builtin(&mut tx, now).await?;

    if let Some((email, hash, full_name)) = &admin {
        let user = crate::auth::account::insert(
            &mut tx,
            &NewUser {
                email,
                password_hash: hash,
                full_name,
                client_id: Some(id),
                is_superadmin: false,
            },
            now,
        )
        .await
        .map_err(|e| match e {
            AppError::Validation { errors, .. } if errors.contains_key("email") => {
                AppError::field("admin_email", "A user with this email already exists.")
            }
            other => other,
        })?;
        let admin_role = roles::find_by_name(&mut tx, "School Admin")
            .await?
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("School Admin role missing")))?;
        roles::set_user_roles(&mut tx, user.id, &[admin_role.id]).await?;
    }

    crate::audit::trail::record(
        &mut tx,
        Trail::Platform,
        actor,
        meta,
        Entry {
            action: "create",
            entity: "school",
            entity_id: Some(id.to_string()),
            changes: crate::audit::trail::created(&json!({
                "name": valid.name, "code": valid.code, "schema_name": valid.schema.as_str(),
                "domain": valid.domain, "admin_email": admin.as_ref().map(|a| a.0.clone()),
            })),
        },
        now,
    )
    .await?;
    let school = get(&mut tx, id).await?.ok_or_else(AppError::not_found)?;
    tx.commit().await?;
    Ok(school)
}

pub async fn get(conn: &mut PgConnection, id: i64) -> Result<Option<SchoolOut>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SCHOOL_SELECT} WHERE c.id = $1"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await
}

pub async fn get_by_code(
    conn: &mut PgConnection,
    code: &str,
) -> Result<Option<SchoolOut>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SCHOOL_SELECT} WHERE c.code = $1"
    )))
    .bind(code)
    .fetch_optional(conn)
    .await
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SchoolFilter {
    pub is_active: Option<bool>,
}

pub async fn list(
    conn: &mut PgConnection,
    params: &ListParams,
    filter: &SchoolFilter,
) -> AppResult<(Vec<SchoolOut>, i64)> {
    let (limit, offset) = params.limit_offset()?;
    let order = params.order_by(
        &[
            ("name", &["lower(c.name)"]),
            ("code", &["c.code"]),
            ("created_at", &["c.created_at"]),
            ("id", &["c.id"]),
        ],
        "lower(c.name) ASC",
    )?;
    let pattern = params.search_pattern()?;
    let where_sql = "WHERE ($1::text IS NULL OR c.name ILIKE $1 OR c.code ILIKE $1
             OR EXISTS (SELECT 1 FROM public.domains d WHERE d.client_id = c.id AND d.domain ILIKE $1))
        AND ($2::bool IS NULL OR c.is_active = $2)";
    let count: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT count(*) FROM public.clients c {where_sql}"
    )))
    .bind(&pattern)
    .bind(filter.is_active)
    .fetch_one(&mut *conn)
    .await?;
    let rows = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SCHOOL_SELECT} {where_sql} ORDER BY {order}, c.id LIMIT $3 OFFSET $4"
    )))
    .bind(&pattern)
    .bind(filter.is_active)
    .bind(limit)
    .bind(offset)
    .fetch_all(&mut *conn)
    .await?;
    Ok((rows, count))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateSchool {
    pub name: Option<String>,
    /// false disables the school: its users are refused, its data kept.
    pub is_active: Option<bool>,
}

pub async fn update(
    conn: &mut PgConnection,
    id: i64,
    input: &UpdateSchool,
    now: DateTime<Utc>,
) -> AppResult<(SchoolOut, SchoolOut)> {
    let before = get(conn, id).await?.ok_or_else(AppError::not_found)?;
    if let Some(name) = &input.name {
        let mut v = Validator::new();
        v.text("name", name, 2, 200);
        v.finish()?;
    }
    sqlx::query(
        "UPDATE public.clients SET name = COALESCE($2, name), is_active = COALESCE($3, is_active),
                updated_at = $4 WHERE id = $1",
    )
    .bind(id)
    .bind(input.name.as_deref().map(str::trim))
    .bind(input.is_active)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    let after = get(conn, id).await?.ok_or_else(AppError::not_found)?;
    Ok((before, after))
}

/// What deleting a school removed: rows per place (for the platform audit) and the users
/// whose sessions are to end once the deletion is committed.
#[derive(Debug, Default)]
pub struct Removed {
    pub counts: std::collections::BTreeMap<&'static str, u64>,
    pub user_ids: Vec<i64>,
}

/// Deletes a school so that nothing refers to it any more, in the caller's transaction:
/// its schema (every table, photo and PDF), its jobs in every queue, and every public row
/// about it — domains, set-up, users with their refresh tokens and platform roles, API
/// keys, login-throttle counters, its WhatsApp number with the chats and deliveries that
/// number received, the contacts and sent messages routed to it, chats that had chosen
/// it — then the school itself. Only the platform audit trail keeps its name and id.
/// Irreversible; callers require a confirmation. Sessions in Redis are ended by the caller
/// after the commit (`end_sessions`); the triggers on `clients` and `domains` tell every
/// server's tenant cache.
pub async fn delete(conn: &mut PgConnection, school: &SchoolOut) -> AppResult<Removed> {
    let schema = SchemaName::parse(&school.schema_name)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("stored schema name invalid: {e}")))?;
    let id = school.id;
    let mut removed = Removed::default();
    // The school's row first, locked: a concurrent change or second delete waits.
    sqlx::query("SELECT 1 FROM public.clients WHERE id = $1 FOR UPDATE")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    removed.user_ids = sqlx::query_scalar("SELECT id FROM public.users WHERE client_id = $1")
        .bind(id)
        .fetch_all(&mut *conn)
        .await?;
    let tables: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = $1 AND c.relkind IN ('r', 'p')",
    )
    .bind(schema.as_str())
    .fetch_one(&mut *conn)
    .await?;
    removed
        .counts
        .insert("schema_tables", u64::try_from(tables).unwrap_or_default());
    // The one place (with creation and migration) a schema name enters SQL text:
    // validated by SchemaName and quoted.
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP SCHEMA IF EXISTS {} CASCADE",
        schema.quoted()
    )))
    .execute(&mut *conn)
    .await?;

    // What the school's own WhatsApp number received, and the jobs processing it.
    let inbound_ids: Vec<i64> = sqlx::query_scalar(
        "DELETE FROM public.whatsapp_inbound
          WHERE phone_number_id IN (SELECT phone_number_id FROM public.whatsapp_numbers WHERE school_id = $1)
          RETURNING id",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    removed.counts.insert(
        "whatsapp_inbound",
        u64::try_from(inbound_ids.len()).unwrap_or_default(),
    );
    let jobs = crate::jobs::queue::delete_school_jobs(conn, schema.as_str(), &inbound_ids).await?;
    removed.counts.insert("jobs", jobs);

    let statements: [(&'static str, &str); 13] = [
        (
            "whatsapp_chats",
            "DELETE FROM public.whatsapp_chats
              WHERE phone_number_id IN (SELECT phone_number_id FROM public.whatsapp_numbers WHERE school_id = $1)",
        ),
        (
            "whatsapp_chats_unchosen",
            "UPDATE public.whatsapp_chats SET chosen_school_id = NULL WHERE chosen_school_id = $1",
        ),
        (
            "whatsapp_sent",
            "DELETE FROM public.whatsapp_sent WHERE school_id = $1",
        ),
        (
            "whatsapp_contacts",
            "DELETE FROM public.whatsapp_contacts WHERE school_id = $1",
        ),
        (
            "whatsapp_numbers",
            "DELETE FROM public.whatsapp_numbers WHERE school_id = $1",
        ),
        (
            "api_keys",
            "DELETE FROM public.api_keys WHERE client_id = $1",
        ),
        (
            "refresh_tokens",
            "DELETE FROM public.refresh_tokens
              WHERE user_id IN (SELECT id FROM public.users WHERE client_id = $1)",
        ),
        (
            "platform_user_roles",
            "DELETE FROM public.platform_user_roles
              WHERE user_id IN (SELECT id FROM public.users WHERE client_id = $1)",
        ),
        (
            // Keys carry the scope second: "acct:school:<id>:<email>", "addr:school:<id>:…".
            "login_throttle",
            "DELETE FROM public.login_throttle
              WHERE split_part(key, ':', 2) = 'school' AND split_part(key, ':', 3) = $1::text",
        ),
        ("users", "DELETE FROM public.users WHERE client_id = $1"),
        ("domains", "DELETE FROM public.domains WHERE client_id = $1"),
        (
            "school_setups",
            "DELETE FROM public.school_setups WHERE client_id = $1",
        ),
        ("clients", "DELETE FROM public.clients WHERE id = $1"),
    ];
    for (what, sql) in statements {
        let done = sqlx::query(sql).bind(id).execute(&mut *conn).await?;
        removed.counts.insert(what, done.rows_affected());
    }
    Ok(removed)
}

/// After a deletion is committed: ends the deleted users' sessions in Redis. Best effort:
/// a failure is logged (the sessions are refused anyway, their users being gone).
pub async fn end_sessions(
    redis: Option<&tower_sessions_redis_store::fred::prelude::Pool>,
    school_id: i64,
    users: &[i64],
) {
    let Some(redis) = redis else { return };
    match crate::auth::session::end_sessions_of(redis, users).await {
        Ok(ended) => tracing::info!(school_id, ended, "sessions of a deleted school ended"),
        Err(error) => tracing::warn!(
            school_id,
            %error,
            "sessions of a deleted school could not be ended in Redis (they are refused anyway)"
        ),
    }
}

#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct DomainOut {
    pub id: i64,
    pub domain: String,
    pub is_primary: bool,
    pub created_at: DateTime<Utc>,
}

pub async fn domains(
    conn: &mut PgConnection,
    client_id: i64,
) -> Result<Vec<DomainOut>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, domain, is_primary, created_at FROM public.domains
          WHERE client_id = $1 ORDER BY is_primary DESC, domain",
    )
    .bind(client_id)
    .fetch_all(conn)
    .await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateDomain {
    #[schema(example = "portal.greenwood.example.com")]
    pub domain: String,
    #[serde(default)]
    pub is_primary: bool,
}

pub async fn add_domain(
    conn: &mut PgConnection,
    client_id: i64,
    input: &CreateDomain,
    main_domain: &str,
    now: DateTime<Utc>,
) -> AppResult<DomainOut> {
    let domain = input.domain.trim().to_lowercase();
    if !valid_domain(&domain) {
        return Err(AppError::field(
            "domain",
            "Enter a host name such as greenwood.example.com.",
        ));
    }
    if domain == main_domain {
        return Err(AppError::field(
            "domain",
            "This is the platform's own domain.",
        ));
    }
    if input.is_primary {
        sqlx::query("UPDATE public.domains SET is_primary = FALSE WHERE client_id = $1")
            .bind(client_id)
            .execute(&mut *conn)
            .await?;
    }
    sqlx::query_as(
        "INSERT INTO public.domains (domain, client_id, is_primary, created_at) VALUES ($1, $2, $3, $4)
         RETURNING id, domain, is_primary, created_at",
    )
    .bind(&domain)
    .bind(client_id)
    .bind(input.is_primary)
    .bind(now)
    .fetch_one(conn)
    .await
    .map_err(|e| {
        AppError::from(e).on_constraint(
            "domains_domain_key",
            "domain",
            "This domain already belongs to a school.",
        )
    })
}

pub async fn remove_domain(
    conn: &mut PgConnection,
    client_id: i64,
    domain_id: i64,
) -> AppResult<DomainOut> {
    let domain: DomainOut = sqlx::query_as(
        "SELECT id, domain, is_primary, created_at FROM public.domains WHERE id = $1 AND client_id = $2",
    )
    .bind(domain_id)
    .bind(client_id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(AppError::not_found)?;
    if domain.is_primary {
        return Err(AppError::Conflict(
            "This is the school's primary domain. Make another domain primary first.".into(),
        ));
    }
    sqlx::query("DELETE FROM public.domains WHERE id = $1")
        .bind(domain_id)
        .execute(conn)
        .await?;
    Ok(domain)
}

pub async fn make_primary(
    conn: &mut PgConnection,
    client_id: i64,
    domain_id: i64,
) -> AppResult<DomainOut> {
    let exists: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM public.domains WHERE id = $1 AND client_id = $2)",
    )
    .bind(domain_id)
    .bind(client_id)
    .fetch_one(&mut *conn)
    .await?;
    if !exists {
        return Err(AppError::not_found());
    }
    sqlx::query("UPDATE public.domains SET is_primary = (id = $1) WHERE client_id = $2")
        .bind(domain_id)
        .bind(client_id)
        .execute(&mut *conn)
        .await?;
    sqlx::query_as("SELECT id, domain, is_primary, created_at FROM public.domains WHERE id = $1")
        .bind(domain_id)
        .fetch_one(conn)
        .await
        .map_err(Into::into)
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SetupStep {
    pub id: String,
    pub title: String,
    /// `pending`, `in_progress` or `done`
    pub status: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SetupOut {
    pub setup_progress: String,
    pub steps: Vec<SetupStep>,
    pub contacted_by: Option<String>,
}

pub async fn setup(conn: &mut PgConnection, client_id: i64) -> AppResult<SetupOut> {
    let row: Option<(Value, Option<String>, String)> = sqlx::query_as(
        "SELECT s.steps, s.contacted_by, c.setup_progress FROM public.school_setups s
           JOIN public.clients c ON c.id = s.client_id WHERE s.client_id = $1",
    )
    .bind(client_id)
    .fetch_optional(conn)
    .await?;
    let (steps, contacted_by, progress) = row.ok_or_else(AppError::not_found)?;
    Ok(SetupOut {
        setup_progress: progress,
        steps: serde_json::from_value(steps).unwrap_or_default(),
        contacted_by,
    })
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StepStatus {
    pub id: String,
    pub status: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateSetup {
    #[serde(default)]
    pub steps: Vec<StepStatus>,
    pub contacted_by: Option<String>,
}

/// Progress follows the steps: none started, some, or all done.
pub fn progress_of(steps: &[SetupStep]) -> &'static str {
    if !steps.is_empty() && steps.iter().all(|s| s.status == "done") {
        "completed"
    } else if steps.iter().all(|s| s.status == "pending") {
        "not_started"
    } else {
        "in_progress"
    }
}

pub async fn update_setup(
    conn: &mut PgConnection,
    client_id: i64,
    input: &UpdateSetup,
    now: DateTime<Utc>,
) -> AppResult<(SetupOut, SetupOut)> {
    let before = setup(conn, client_id).await?;
    let mut steps = before.steps.clone();
    let mut v = Validator::new();
    for change in &input.steps {
        if !matches!(change.status.as_str(), "pending" | "in_progress" | "done") {
            v.add(
                "steps",
                format!(
                    "Step {:?}: status must be pending, in_progress or done.",
                    change.id
                ),
            );
            continue;
        }
        match steps.iter_mut().find(|s| s.id == change.id) {
            Some(step) => step.status = change.status.clone(),
            None => v.add("steps", format!("There is no step {:?}.", change.id)),
        }
    }
    if let Some(c) = &input.contacted_by {
        v.text("contacted_by", c, 0, 200);
    }
    v.finish()?;
    let progress = progress_of(&steps);
    sqlx::query(
        "UPDATE public.school_setups SET steps = $2, contacted_by = COALESCE($3, contacted_by), updated_at = $4
          WHERE client_id = $1",
    )
    .bind(client_id)
    .bind(serde_json::to_value(&steps).map_err(|e| AppError::Internal(e.into()))?)
    .bind(input.contacted_by.as_deref().map(str::trim))
    .bind(now)
    .execute(&mut *conn)
    .await?;
    sqlx::query("UPDATE public.clients SET setup_progress = $2, updated_at = $3 WHERE id = $1")
        .bind(client_id)
        .bind(progress)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    let after = setup(conn, client_id).await?;
    Ok((before, after))
}

/// Marks a set-up step done when the school does what it asks (its first staff account, its
/// first pupils), so the console's progress follows the school and not only an operator's
/// ticks. A read only, once the step is done.
pub async fn step_done(
    conn: &mut PgConnection,
    client_id: i64,
    step: &str,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let pending: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM public.school_setups s, jsonb_array_elements(s.steps) st
                         WHERE s.client_id = $1 AND st->>'id' = $2 AND st->>'status' <> 'done')",
    )
    .bind(client_id)
    .bind(step)
    .fetch_one(&mut *conn)
    .await?;
    if pending {
        let input = UpdateSetup {
            steps: vec![StepStatus {
                id: step.to_owned(),
                status: "done".to_owned(),
            }],
            contacted_by: None,
        };
        update_setup(conn, client_id, &input, now).await?;
    }
    Ok(())
}

/// Deletes a school and its schema once `confirm` repeats the school's code; the platform
/// audit keeps what was deleted (name, code, schema) and how many rows went where. The one
/// path for the API and console; the caller commits, then calls `end_sessions`.
pub async fn delete_confirmed(
    ctx: &mut PlatformCtx,
    id: i64,
    confirm: &str,
    how_to_confirm: &str,
) -> AppResult<(SchoolOut, Removed)> {
    let school = get(&mut ctx.tx, id)
        .await?
        .ok_or_else(AppError::not_found)?;
    if confirm.trim() != school.code {
        return Err(AppError::field(
            "confirm",
            format!(
                "Deleting drops every record of this school. {how_to_confirm} ({}).",
                school.code
            ),
        ));
    }
    let removed = delete(&mut ctx.tx, &school).await?;
    ctx.audit(
        "delete",
        "school",
        id,
        json!({"name": school.name, "code": school.code, "schema_name": school.schema_name,
               "removed": removed.counts}),
    )
    .await?;
    Ok((school, removed))
}
