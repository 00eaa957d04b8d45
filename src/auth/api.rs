//! Token endpoints: login, refresh (rotating), logout, and `me`.

use axum::{Extension, extract::State, http::StatusCode};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::login::record_login;
use crate::{
    auth::account::UserOut,
    auth::{
        account::User,
        login::check_credentials,
        tokens::{self, Audience, TokenType},
    },
    context::{SchoolCtx, TokenClaims},
    error::{AppError, AppResult, ErrorBody, Validator},
    http::{ApiJson, RequestMeta},
    permissions::{access::Guard, roles},
    state::AppState,
    tenancy::scope::Scope,
};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    #[schema(
        min_length = 1,
        max_length = 254,
        example = "head@greenwood.example.com"
    )]
    pub email: String,
    #[schema(min_length = 1, max_length = 1024)]
    pub password: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LoginResponse {
    pub access: String,
    pub refresh: String,
    pub user: UserOut,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    pub refresh: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SchoolBrief {
    pub id: i64,
    pub name: String,
    pub code: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RoleBrief {
    pub id: i64,
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MeResponse {
    pub user: UserOut,
    pub school: SchoolBrief,
    pub roles: Vec<RoleBrief>,
    /// Permission codenames the user holds in this school.
    pub permissions: Vec<String>,
    /// True for a platform superadmin acting in the school (holds every permission).
    pub all_permissions: bool,
}

fn validate_login(body: &LoginRequest) -> AppResult<()> {
    let mut v = Validator::new();
    v.text("email", &body.email, 1, 254);
    v.text("password", &body.password, 1, 1024);
    v.finish()
}

async fn login_response(
    state: &AppState,
    user: User,
    audience: Audience,
) -> AppResult<LoginResponse> {
    let mut conn = state.db.acquire().await?;
    let pair = state
        .jwt
        .issue_pair(&mut conn, &user, audience, None, Utc::now())
        .await?;
    let roles = match (audience, user.client_id) {
        (Audience::School, Some(_)) => Vec::new(),
        _ => roles::platform_role_ids(&mut conn, user.id).await?,
    };
    Ok(LoginResponse {
        access: pair.access,
        refresh: pair.refresh,
        user: UserOut::from_user(&user, roles),
    })
}

/// Platform login.
#[utoipa::path(post, path = "/api/v1/system/auth/login", tag = "system-auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in", body = LoginResponse),
        (status = 401, description = "Invalid email or password", body = ErrorBody),
        (status = 429, description = "Too many failed attempts", body = ErrorBody),
    ))]
async fn system_login(
    State(state): State<AppState>,
    meta: RequestMeta,
    ApiJson(body): ApiJson<LoginRequest>,
) -> AppResult<axum::Json<LoginResponse>> {
    validate_login(&body)?;
    let user =
        check_credentials(&state, None, &body.email, &body.password, &meta, Utc::now()).await?;
    record_login(&state, None, &user, &meta, "api").await?;
    Ok(axum::Json(
        login_response(&state, user, Audience::Platform).await?,
    ))
}

/// Staff login at the school's host.
#[utoipa::path(post, path = "/api/v1/school/auth/login", tag = "school-auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in", body = LoginResponse),
        (status = 401, description = "Invalid email or password", body = ErrorBody),
        (status = 404, description = "No school at this host", body = ErrorBody),
        (status = 429, description = "Too many failed attempts", body = ErrorBody),
    ))]
async fn school_login(
    State(state): State<AppState>,
    Extension(scope): Extension<Scope>,
    meta: RequestMeta,
    ApiJson(body): ApiJson<LoginRequest>,
) -> AppResult<axum::Json<LoginResponse>> {
    let Scope::School(school) = scope else {
        return Err(AppError::NotFound(
            "Sign in at your school's address.".into(),
        ));
    };
    validate_login(&body)?;
    let user = check_credentials(
        &state,
        Some(school.id),
        &body.email,
        &body.password,
        &meta,
        Utc::now(),
    )
    .await?;
    record_login(&state, Some(&school.schema), &user, &meta, "api").await?;
    let mut response = login_response(&state, user, Audience::School).await?;
    let mut tx = state.db.begin_school(&school.schema).await?;
    response.user.roles = roles::user_role_ids(&mut tx, response.user.id).await?;
    tx.commit().await?;
    Ok(axum::Json(response))
}

async fn refresh(
    state: &AppState,
    body: &RefreshRequest,
    audience: Audience,
) -> AppResult<tokens::TokenPair> {
    let claims = state
        .jwt
        .verify(&body.refresh, TokenType::Refresh, &[audience])?;
    let now = Utc::now();
    // No transaction on purpose: marking the token used, or revoking its family on
    // reuse, must stick even when this request fails afterwards.
    let mut conn = state.db.acquire().await?;
    tokens::consume_refresh(&mut conn, &claims, now).await?;
    let user = crate::auth::account::get(&mut conn, claims.user_id()?)
        .await?
        .filter(|u| u.is_active && u.session_version == claims.sv)
        .ok_or_else(|| AppError::Unauthenticated("This account can no longer sign in.".into()))?;
    state
        .jwt
        .issue_pair(&mut conn, &user, audience, Some(claims.fam), now)
        .await
}

/// Exchanges a refresh token for a new pair. Each refresh token works once; presenting a
/// used one revokes the whole family.
#[utoipa::path(post, path = "/api/v1/system/auth/refresh", tag = "system-auth",
    request_body = RefreshRequest,
    responses((status = 200, description = "OK", body = tokens::TokenPair), (status = 401, description = "Not authenticated", body = ErrorBody)))]
async fn system_refresh(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<RefreshRequest>,
) -> AppResult<axum::Json<tokens::TokenPair>> {
    Ok(axum::Json(
        refresh(&state, &body, Audience::Platform).await?,
    ))
}

#[utoipa::path(post, path = "/api/v1/school/auth/refresh", tag = "school-auth",
    request_body = RefreshRequest,
    responses((status = 200, description = "OK", body = tokens::TokenPair), (status = 401, description = "Not authenticated", body = ErrorBody)))]
async fn school_refresh(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<RefreshRequest>,
) -> AppResult<axum::Json<tokens::TokenPair>> {
    Ok(axum::Json(refresh(&state, &body, Audience::School).await?))
}

async fn logout(
    state: &AppState,
    principal: Option<Extension<TokenClaims>>,
) -> AppResult<StatusCode> {
    let Some(Extension(p)) = principal else {
        return Err(AppError::Unauthenticated(
            "Authentication credentials were not provided.".into(),
        ));
    };
    let mut conn = state.db.acquire().await?;
    tokens::revoke_family(&mut conn, p.claims.fam, Utc::now()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Ends this sign-in: the refresh token family and its access tokens stop working.
#[utoipa::path(post, path = "/api/v1/school/auth/logout", tag = "school-auth",
    security(("bearer" = [])),
    responses((status = 204, description = "Signed out"), (status = 401, description = "Not authenticated", body = ErrorBody)))]
async fn school_logout(
    State(state): State<AppState>,
    principal: Option<Extension<TokenClaims>>,
) -> AppResult<StatusCode> {
    logout(&state, principal).await
}

#[utoipa::path(post, path = "/api/v1/system/auth/logout", tag = "system-auth",
    security(("bearer" = [])),
    responses((status = 204, description = "Signed out"), (status = 401, description = "Not authenticated", body = ErrorBody)))]
async fn system_logout(
    State(state): State<AppState>,
    principal: Option<Extension<TokenClaims>>,
) -> AppResult<StatusCode> {
    logout(&state, principal).await
}

/// The signed-in user, their school, roles and permissions.
#[utoipa::path(get, path = "/api/v1/school/auth/me", tag = "school-auth",
    security(("bearer" = [])),
    responses((status = 200, description = "OK", body = MeResponse), (status = 401, description = "Not authenticated", body = ErrorBody)))]
async fn me(mut ctx: SchoolCtx) -> AppResult<axum::Json<MeResponse>> {
    let role_ids = roles::user_role_ids(&mut ctx.tx, ctx.user.id).await?;
    let role_rows = roles::names(&mut ctx.tx, &role_ids).await?;
    Ok(axum::Json(MeResponse {
        user: UserOut::from_user(&ctx.user, role_ids),
        school: SchoolBrief {
            id: ctx.school.id,
            name: ctx.school.name.to_string(),
            code: ctx.school.code.to_string(),
        },
        roles: role_rows
            .into_iter()
            .map(|(id, name)| RoleBrief { id, name })
            .collect(),
        permissions: ctx.perms.codes(),
        all_permissions: ctx.perms.is_everything(),
    }))
}

pub fn system_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(system_login))
        .routes(routes!(system_refresh))
        .routes(routes!(system_logout))
}

pub fn school_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(school_login))
        .routes(routes!(school_refresh))
        .routes(routes!(school_logout))
        .routes(routes!(me))
        .layer(Extension(Guard::Authenticated))
}
