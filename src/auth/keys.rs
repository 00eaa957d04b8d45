//! API keys: the second credential of the seed design, for integrations. The platform
//! issues a key for one school with scopes; the key is `sy_<prefix>_<secret>`, shown once;
//! only its SHA-256 is stored. A request sends it as `X-API-Key` on `/api/v1/school/…` and
//! acts in the key's school only, with the key's permissions only, as the key's own
//! (disabled, password-less) service account so that every row it writes names it.

use chrono::{DateTime, Utc};
use rand::Rng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::{FromRow, PgConnection, PgPool};
use utoipa::{IntoParams, ToSchema};

use serde_json::json;

use crate::{
    auth::account::{self, NewUser},
    context::{KeyAuth, PlatformCtx},
    error::{AppError, AppResult, Validator},
    http::ListParams,
    permissions::catalogue::{self, Action, SCHOOL_RESOURCES},
};

#[derive(Debug, Serialize, FromRow, ToSchema)]
pub struct ApiKeyOut {
    pub id: i64,
    pub school_id: i64,
    pub school_name: String,
    pub name: String,
    /// The key's first characters (`sy_<prefix>_…`), to tell keys apart.
    pub prefix: String,
    /// As issued: `read`, a resource (every action on it) or a permission.
    pub scopes: Vec<String>,
    /// What the key may do.
    pub permissions: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub created_by: Option<String>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A new key with its secret, shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct IssuedKey {
    #[serde(flatten)]
    pub key: ApiKeyOut,
    /// Send as `X-API-Key`. Shown only now: store it safely.
    pub secret: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewApiKey {
    pub school_id: i64,
    /// What the key is for, e.g. "Accounting sync".
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    /// `read` (every view permission), a resource such as `students` (every action on
    /// it), or a permission such as `view_marks`.
    #[schema(min_items = 1)]
    pub scopes: Vec<String>,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct KeyFilter {
    /// Only this school's keys.
    pub school: Option<i64>,
}

const SELECT: &str =
    "SELECT k.id, k.client_id AS school_id, c.name AS school_name, k.name, k.prefix,
        k.scopes, k.permissions, k.created_at, u.email AS created_by, k.last_used_at, k.revoked_at
   FROM public.api_keys k
   JOIN public.clients c ON c.id = k.client_id
   LEFT JOIN public.users u ON u.id = k.created_by";

/// The permissions a list of scopes grants; unknown scopes are named.
pub fn expand_scopes(scopes: &[String]) -> Result<Vec<String>, Vec<String>> {
    let mut granted = std::collections::BTreeSet::new();
    let mut unknown = Vec::new();
    for scope in scopes {
        let scope = scope.trim();
        if scope == "read" {
            for (resource, _, _) in SCHOOL_RESOURCES {
                granted.insert(catalogue::codename(Action::View, resource));
            }
        } else if let Some((resource, _, actions)) =
            SCHOOL_RESOURCES.iter().find(|(r, _, _)| *r == scope)
        {
            for action in *actions {
                granted.insert(catalogue::codename(*action, resource));
            }
        } else if SCHOOL_RESOURCES.iter().any(|(resource, _, actions)| {
            actions
                .iter()
                .any(|a| catalogue::codename(*a, resource) == scope)
        }) {
            granted.insert(scope.to_owned());
        } else {
            unknown.push(scope.to_owned());
        }
    }
    if unknown.is_empty() {
        Ok(granted.into_iter().collect())
    } else {
        Err(unknown)
    }
}

fn digest(raw: &str) -> Vec<u8> {
    Sha256::digest(raw.as_bytes()).to_vec()
}

/// Stored as the service account's password: not a hash, so `password::verify` never
/// matches it.
const NO_PASSWORD: &str = "!api-key";

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill(&mut buf[..]);
    hex::encode(buf)
}

/// Issues a key in the request's platform transaction (the caller commits): validates,
/// creates the key's service account in the school, stores the hash, audits.
pub async fn issue(ctx: &mut PlatformCtx, input: &NewApiKey) -> AppResult<IssuedKey> {
    // A key acts inside a school (it may even manage its staff): only those who may act in
    // every school issue one, never an operator whose role merely lists API keys.
    if !ctx.user.is_superadmin {
        return Err(AppError::Forbidden(
            "Only platform superadmins may issue API keys: a key acts inside a school.".into(),
        ));
    }
    let mut v = Validator::new();
    let name = input.name.trim();
    if name.is_empty() {
        v.add("name", "Name the key after what will use it.");
    } else if name.chars().count() > 100 {
        v.add("name", "At most 100 characters.");
    }
    let school_exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM public.clients WHERE id = $1)")
            .bind(input.school_id)
            .fetch_one(&mut *ctx.tx)
            .await?;
    if input.school_id <= 0 {
        v.add("school_id", "Choose a school.");
    } else if !school_exists {
        v.add("school_id", "No such school.");
    }
    let permissions = match expand_scopes(&input.scopes) {
        Ok(p) if p.is_empty() => {
            v.add("scopes", "Give the key at least one scope.");
            p
        }
        Ok(p) => p,
        Err(unknown) => {
            v.add(
                "scopes",
                format!(
                    "Unknown scope {}: use read, a resource such as students, or a permission such as view_marks.",
                    unknown.join(", ")
                ),
            );
            Vec::new()
        }
    };
    v.finish()?;

    let prefix = random_hex(4);
    let secret = format!("sy_{prefix}_{}", random_hex(32));
    // The service account can never sign in: disabled, and its password "hash" is no hash
    // at all, so no password ever matches it.
    let user = account::insert(
        &mut ctx.tx,
        &NewUser {
            email: &format!("api-key-{prefix}@keys.invalid"),
            password_hash: NO_PASSWORD,
            full_name: &format!("API key: {name}"),
            client_id: Some(input.school_id),
            is_superadmin: false,
        },
        ctx.now,
    )
    .await?;
    sqlx::query("UPDATE public.users SET is_active = FALSE WHERE id = $1")
        .bind(user.id)
        .execute(&mut *ctx.tx)
        .await?;
    let scopes: Vec<String> = input.scopes.iter().map(|s| s.trim().to_owned()).collect();
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO public.api_keys (client_id, user_id, name, prefix, secret_hash, scopes, permissions, created_at, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
    )
    .bind(input.school_id)
    .bind(user.id)
    .bind(name)
    .bind(&prefix)
    .bind(digest(&secret))
    .bind(&scopes)
    .bind(&permissions)
    .bind(ctx.now)
    .bind(ctx.user.id)
    .fetch_one(&mut *ctx.tx)
    .await?;
    let key = get(&mut ctx.tx, id)
        .await?
        .ok_or_else(AppError::not_found)?;
    ctx.audit(
        "create",
        "api_key",
        key.id,
        json!({"school_id": key.school_id, "name": key.name, "prefix": key.prefix, "scopes": key.scopes}),
    )
    .await?;
    Ok(IssuedKey { key, secret })
}

pub async fn get(conn: &mut PgConnection, id: i64) -> sqlx::Result<Option<ApiKeyOut>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("{SELECT} WHERE k.id = $1")))
        .bind(id)
        .fetch_optional(conn)
        .await
}

pub async fn list(
    conn: &mut PgConnection,
    params: &ListParams,
    filter: &KeyFilter,
) -> AppResult<(Vec<ApiKeyOut>, i64)> {
    let (limit, offset) = params.limit_offset()?;
    let rows = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT} WHERE ($1::bigint IS NULL OR k.client_id = $1)
          ORDER BY k.revoked_at IS NOT NULL, k.created_at DESC, k.id DESC LIMIT $2 OFFSET $3"
    )))
    .bind(filter.school)
    .bind(limit)
    .bind(offset)
    .fetch_all(&mut *conn)
    .await?;
    let count = sqlx::query_scalar(
        "SELECT count(*) FROM public.api_keys WHERE ($1::bigint IS NULL OR client_id = $1)",
    )
    .bind(filter.school)
    .fetch_one(conn)
    .await?;
    Ok((rows, count))
}

/// Revokes a key at once (the next request with it is refused), audited; the caller
/// commits. Revoking twice is fine.
pub async fn revoke(ctx: &mut PlatformCtx, id: i64) -> AppResult<ApiKeyOut> {
    sqlx::query("UPDATE public.api_keys SET revoked_at = coalesce(revoked_at, $2) WHERE id = $1")
        .bind(id)
        .bind(ctx.now)
        .execute(&mut *ctx.tx)
        .await?;
    let key = get(&mut ctx.tx, id)
        .await?
        .ok_or_else(AppError::not_found)?;
    ctx.audit(
        "revoke",
        "api_key",
        id,
        json!({"school_id": key.school_id, "name": key.name, "prefix": key.prefix}),
    )
    .await?;
    Ok(key)
}

/// The key behind an `X-API-Key` value, if it is live; records its use (at most once a
/// minute, so a busy integration does not rewrite the row on every request).
pub async fn authenticate(
    pool: &PgPool,
    raw: &str,
    now: DateTime<Utc>,
) -> AppResult<Option<KeyAuth>> {
    let raw = raw.trim();
    if !raw.starts_with("sy_") || raw.len() > 100 {
        return Ok(None);
    }
    #[derive(FromRow)]
    struct Live {
        id: i64,
        client_id: i64,
        user_id: i64,
        permissions: Vec<String>,
        last_used_at: Option<DateTime<Utc>>,
    }
    let found: Option<Live> = sqlx::query_as(
        "SELECT id, client_id, user_id, permissions, last_used_at FROM public.api_keys
          WHERE secret_hash = $1 AND revoked_at IS NULL",
    )
    .bind(digest(raw))
    .fetch_optional(pool)
    .await?;
    let Some(key) = found else {
        return Ok(None);
    };
    if key
        .last_used_at
        .is_none_or(|t| now - t > chrono::Duration::minutes(1))
    {
        sqlx::query("UPDATE public.api_keys SET last_used_at = $2 WHERE id = $1")
            .bind(key.id)
            .bind(now)
            .execute(pool)
            .await?;
    }
    Ok(Some(KeyAuth {
        client_id: key.client_id,
        user_id: key.user_id,
        permissions: key.permissions,
    }))
}

#[cfg(test)]
mod tests {
    use crate::auth::keys::expand_scopes;

    #[test]
    fn scopes_expand_to_permissions_and_unknown_ones_are_named() {
        let read = expand_scopes(&["read".into()]).unwrap_or_default();
        assert!(read.contains(&"view_students".to_owned()));
        assert!(read.iter().all(|p| p.starts_with("view_")));
        let marks = expand_scopes(&["marks".into(), "view_students".into()]).unwrap_or_default();
        assert_eq!(
            marks,
            [
                "add_marks",
                "change_marks",
                "delete_marks",
                "view_marks",
                "view_students"
            ]
        );
        assert_eq!(
            expand_scopes(&["everything".into(), "view_marks".into()]),
            Err(vec!["everything".to_owned()])
        );
    }
}
