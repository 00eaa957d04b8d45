//! JWT access and refresh tokens. HS256 only; every token carries a type, audience, expiry
//! and id. Refresh tokens rotate: each is recorded, usable once, and reuse revokes its family.

use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{auth::account::User, config::Config, error::AppError};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Audience {
    Platform,
    School,
}

impl Audience {
    pub fn as_str(self) -> &'static str {
        match self {
            Audience::Platform => "schoolyard:platform",
            Audience::School => "schoolyard:school",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenType {
    Access,
    Refresh,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Claims {
    /// User id.
    pub sub: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    pub jti: Uuid,
    pub typ: TokenType,
    /// Refresh-token family: logout or reuse revokes it, and the access tokens with it.
    pub fam: Uuid,
    /// The user's session version when issued; disabling the user invalidates the token.
    pub sv: i32,
    /// The user's school, so the tenant is known without a database round trip. The user is
    /// still loaded (and checked) inside the school's transaction.
    #[serde(default)]
    pub sch: Option<i64>,
    /// Platform superadmin when issued (re-checked against the stored user).
    #[serde(default)]
    pub sa: bool,
}

impl Claims {
    pub fn user_id(&self) -> Result<i64, AppError> {
        self.sub.parse().map_err(|_| invalid_token())
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenPair {
    pub access: String,
    pub refresh: String,
}

pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    pub access_ttl: chrono::Duration,
    pub refresh_ttl: chrono::Duration,
}

fn invalid_token() -> AppError {
    AppError::Unauthenticated("The token is invalid or has expired.".into())
}

impl JwtKeys {
    pub fn new(config: &Config) -> anyhow::Result<Self> {
        Ok(Self {
            encoding: EncodingKey::from_secret(config.jwt_secret.as_bytes()),
            decoding: DecodingKey::from_secret(config.jwt_secret.as_bytes()),
            access_ttl: chrono::Duration::from_std(config.access_token_ttl)?,
            refresh_ttl: chrono::Duration::from_std(config.refresh_token_ttl)?,
        })
    }

    fn encode(&self, claims: &Claims) -> Result<String, AppError> {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .map_err(|e| AppError::Internal(anyhow::anyhow!("encode jwt: {e}")))
    }

    /// Verifies signature (HS256 only), expiry, audience and type.
    pub fn verify(
        &self,
        token: &str,
        typ: TokenType,
        audiences: &[Audience],
    ) -> Result<Claims, AppError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        validation.leeway = 5;
        // A token not valid yet (`nbf` in the future) is refused, not accepted early.
        validation.validate_nbf = true;
        let auds: Vec<&str> = audiences.iter().map(|a| a.as_str()).collect();
        validation.set_audience(&auds);
        validation.set_required_spec_claims(&["exp", "aud", "sub"]);
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation)
            .map_err(|_| invalid_token())?;
        if data.claims.typ != typ {
            return Err(invalid_token());
        }
        Ok(data.claims)
    }

    pub fn audience_of(claims: &Claims) -> Option<Audience> {
        match claims.aud.as_str() {
            "schoolyard:platform" => Some(Audience::Platform),
            "schoolyard:school" => Some(Audience::School),
            _ => None,
        }
    }

    /// Issues an access token and a refresh token of a new or existing family, and records
    /// the refresh token.
    pub async fn issue_pair(
        &self,
        conn: &mut PgConnection,
        user: &User,
        audience: Audience,
        family: Option<Uuid>,
        now: DateTime<Utc>,
    ) -> Result<TokenPair, AppError> {
        let family = family.unwrap_or_else(Uuid::new_v4);
        let access = Claims {
            sub: user.id.to_string(),
            aud: audience.as_str().to_owned(),
            iat: now.timestamp(),
            exp: (now + self.access_ttl).timestamp(),
            jti: Uuid::new_v4(),
            typ: TokenType::Access,
            fam: family,
            sv: user.session_version,
            sch: user.client_id,
            sa: user.is_superadmin,
        };
        let refresh_expires = now + self.refresh_ttl;
        let refresh = Claims {
            jti: Uuid::new_v4(),
            typ: TokenType::Refresh,
            exp: refresh_expires.timestamp(),
            ..access.clone()
        };
        sqlx::query(
            "INSERT INTO public.refresh_tokens (jti, family_id, user_id, expires_at, created_at)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(refresh.jti)
        .bind(family)
        .bind(user.id)
        .bind(refresh_expires)
        .bind(now)
        .execute(conn)
        .await?;
        Ok(TokenPair {
            access: self.encode(&access)?,
            refresh: self.encode(&refresh)?,
        })
    }
}

/// Marks a refresh token used. If it was already used or revoked, the token is being
/// replayed: the whole family is revoked and the request refused.
pub async fn consume_refresh(
    conn: &mut PgConnection,
    claims: &Claims,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let consumed = sqlx::query(
        "UPDATE public.refresh_tokens SET used_at = $2
          WHERE jti = $1 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > $2",
    )
    .bind(claims.jti)
    .bind(now)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if consumed == 1 {
        return Ok(());
    }
    revoke_family(conn, claims.fam, now).await?;
    Err(AppError::Unauthenticated(
        "This refresh token was already used or revoked; sign in again.".into(),
    ))
}

pub async fn revoke_family(
    conn: &mut PgConnection,
    family: Uuid,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE public.refresh_tokens SET revoked_at = $2 WHERE family_id = $1 AND revoked_at IS NULL",
    )
    .bind(family)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Deletes refresh tokens that expired more than a day ago (run on a schedule by the worker).
/// A family's revocation stays visible while any of its tokens is unexpired, because
/// revoking marks every live token of the family.
pub async fn purge_expired(pool: &sqlx::PgPool, now: DateTime<Utc>) -> sqlx::Result<u64> {
    let done = sqlx::query("DELETE FROM public.refresh_tokens WHERE expires_at < $1")
        .bind(now - chrono::Duration::days(1))
        .execute(pool)
        .await?;
    Ok(done.rows_affected())
}

/// The `WHERE` that makes a token's user valid: active, same session version, family not
/// revoked. Shared by the platform and school loads so both check the same things.
pub const TOKEN_USER_CHECK: &str = "u.id = $1 AND u.is_active AND u.session_version = $2
    AND NOT EXISTS (SELECT 1 FROM public.refresh_tokens r WHERE r.family_id = $3 AND r.revoked_at IS NOT NULL)";

/// Loads the user behind an access token (platform requests). One round trip.
pub async fn load_token_user(conn: &mut PgConnection, claims: &Claims) -> Result<User, AppError> {
    let user_id = claims.user_id()?;
    let cols = crate::auth::account::USER_COLUMNS_U;
    let user: Option<User> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {cols} FROM public.users u WHERE {TOKEN_USER_CHECK}"
    )))
    .bind(user_id)
    .bind(claims.sv)
    .bind(claims.fam)
    .fetch_optional(conn)
    .await?;
    user.ok_or_else(invalid_token)
}

#[derive(sqlx::FromRow)]
struct UserWithPermissions {
    #[sqlx(flatten)]
    user: User,
    permissions: Vec<String>,
}

/// Inside a school transaction: the token's user and their permissions in this school, in
/// one round trip.
pub async fn load_school_token_user(
    conn: &mut PgConnection,
    claims: &Claims,
) -> Result<(User, Vec<String>), AppError> {
    let user_id = claims.user_id()?;
    let cols = crate::auth::account::USER_COLUMNS_U;
    let row: Option<UserWithPermissions> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {cols}, ARRAY(SELECT DISTINCT p.permission FROM user_roles ur
                               JOIN role_permissions p ON p.role_id = ur.role_id
                              WHERE ur.user_id = u.id) AS permissions
           FROM public.users u WHERE {TOKEN_USER_CHECK}"
    )))
    .bind(user_id)
    .bind(claims.sv)
    .bind(claims.fam)
    .fetch_optional(conn)
    .await?;
    row.map(|r| (r.user, r.permissions))
        .ok_or_else(invalid_token)
}
