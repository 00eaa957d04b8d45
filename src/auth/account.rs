//! Accounts in `public.users`: platform users (no school) and school staff.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::{FromRow, PgConnection};
use utoipa::ToSchema;

use crate::error::{AppError, AppResult};

#[derive(Clone, FromRow)]
pub struct User {
    pub id: i64,
    pub email: String,
    pub password_hash: String,
    pub full_name: String,
    pub client_id: Option<i64>,
    pub is_superadmin: bool,
    pub is_active: bool,
    pub session_version: i32,
    pub last_login: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the password hash.
        f.debug_struct("User")
            .field("id", &self.id)
            .field("email", &self.email)
            .field("client_id", &self.client_id)
            .field("is_superadmin", &self.is_superadmin)
            .finish_non_exhaustive()
    }
}

impl User {
    pub fn is_platform(&self) -> bool {
        self.client_id.is_none()
    }

    /// Changes when the password changes or the user is disabled, ending cookie sessions.
    pub fn session_auth_hash(&self) -> Vec<u8> {
        let mut h = Sha256::new();
        h.update(self.password_hash.as_bytes());
        h.update(b":");
        h.update(self.session_version.to_be_bytes());
        h.finalize().to_vec()
    }
}

pub const USER_COLUMNS: &str = "id, email, password_hash, full_name, client_id, is_superadmin, \
     is_active, session_version, last_login, created_at, updated_at";
/// The same columns of `public.users u`, for queries that join.
pub const USER_COLUMNS_U: &str = "u.id, u.email, u.password_hash, u.full_name, u.client_id, \
     u.is_superadmin, u.is_active, u.session_version, u.last_login, u.created_at, u.updated_at";

pub async fn get(conn: &mut PgConnection, id: i64) -> Result<Option<User>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {USER_COLUMNS} FROM public.users WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// A user of one scope (a school, or the platform when `client_id` is None); never an API
/// key's service account, which no user page or endpoint may edit.
pub async fn get_in_scope(
    conn: &mut PgConnection,
    id: i64,
    client_id: Option<i64>,
) -> Result<Option<User>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {USER_COLUMNS} FROM public.users WHERE id = $1 AND client_id IS NOT DISTINCT FROM $2
           AND NOT EXISTS (SELECT 1 FROM public.api_keys k WHERE k.user_id = users.id)"
    )))
    .bind(id)
    .bind(client_id)
    .fetch_optional(conn)
    .await
}

pub async fn find_by_email_in_scope(
    conn: &mut PgConnection,
    email: &str,
    client_id: Option<i64>,
) -> Result<Option<User>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {USER_COLUMNS} FROM public.users \
          WHERE lower(email) = lower($1) AND client_id IS NOT DISTINCT FROM $2"
    )))
    .bind(email.trim())
    .bind(client_id)
    .fetch_optional(conn)
    .await
}

pub struct NewUser<'a> {
    pub email: &'a str,
    pub password_hash: &'a str,
    pub full_name: &'a str,
    pub client_id: Option<i64>,
    pub is_superadmin: bool,
}

pub async fn insert(
    conn: &mut PgConnection,
    new: &NewUser<'_>,
    now: DateTime<Utc>,
) -> AppResult<User> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO public.users (email, password_hash, full_name, client_id, is_superadmin, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING {USER_COLUMNS}"
    )))
    .bind(new.email.trim().to_lowercase())
    .bind(new.password_hash)
    .bind(new.full_name.trim())
    .bind(new.client_id)
    .bind(new.is_superadmin)
    .bind(now)
    .fetch_one(conn)
    .await
    .map_err(|e| {
        AppError::from(e).on_constraint(
            "users_email_scope_key",
            "email",
            "A user with this email already exists.",
        )
    })
}

/// Disables or re-enables an account. Disabling bumps the session version (ending cookie
/// sessions and access tokens) and revokes every refresh token.
pub async fn set_active(
    conn: &mut PgConnection,
    id: i64,
    active: bool,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE public.users SET is_active = $2, updated_at = $3,
                session_version = session_version + CASE WHEN $2 THEN 0 ELSE 1 END
          WHERE id = $1",
    )
    .bind(id)
    .bind(active)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    if !active {
        revoke_refresh_tokens(conn, id, now).await?;
    }
    Ok(())
}

/// Sets a new password hash; other sessions and tokens end.
pub async fn set_password(
    conn: &mut PgConnection,
    id: i64,
    password_hash: &str,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE public.users SET password_hash = $2, updated_at = $3,
                session_version = session_version + 1 WHERE id = $1",
    )
    .bind(id)
    .bind(password_hash)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    revoke_refresh_tokens(conn, id, now).await?;
    Ok(())
}

/// Revokes every refresh token of the user: a disabled account or a new password ends every
/// API session (access tokens carry the family and are refused with it).
async fn revoke_refresh_tokens(
    conn: &mut PgConnection,
    user_id: i64,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE public.refresh_tokens SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL",
    )
    .bind(user_id)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// The public view of a user.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UserOut {
    pub id: i64,
    pub email: String,
    pub full_name: String,
    pub is_active: bool,
    pub is_superadmin: bool,
    pub school_id: Option<i64>,
    pub last_login: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// Role ids (school roles for staff, platform roles for operators).
    pub roles: Vec<i64>,
}

impl UserOut {
    pub fn from_user(u: &User, roles: Vec<i64>) -> Self {
        Self {
            id: u.id,
            email: u.email.clone(),
            full_name: u.full_name.clone(),
            is_active: u.is_active,
            is_superadmin: u.is_superadmin,
            school_id: u.client_id,
            last_login: u.last_login,
            created_at: u.created_at,
            roles,
        }
    }
}
