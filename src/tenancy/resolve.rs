//! Finds the tenant of each request, in the order of DESIGN §2: global paths, Bearer JWT,
//! an `X-API-Key` (its own school), `X-Schema-Name` (platform superadmins only), then the
//! Host header.

use axum::{
    extract::{Request, State},
    http::header,
    middleware::Next,
    response::{IntoResponse, Response},
};

use chrono::Utc;

use super::scope::{SchoolRef, Scope};
use crate::{
    auth::{
        keys,
        tokens::{Audience, JwtKeys, TokenType},
    },
    context::TokenClaims,
    error::{AppError, AppResult},
    state::AppState,
};

const GLOBAL_PREFIXES: &[&str] = &[
    "/api/v1/system/",
    "/api/v1/chatbot/",
    "/api/schema",
    "/api/docs",
    "/api/redoc",
    "/static/",
    "/media/",
];
const GLOBAL_EXACT: &[&str] = &["/healthz", "/readyz", "/metrics", "/favicon.ico"];

/// School paths that work without a token (and must not fail for a stale one).
fn needs_no_token(path: &str) -> bool {
    matches!(
        path,
        "/api/v1/school/auth/login" | "/api/v1/school/auth/refresh"
    )
}

pub fn is_global(path: &str) -> bool {
    GLOBAL_EXACT.contains(&path) || GLOBAL_PREFIXES.iter().any(|p| path.starts_with(p))
}

/// The request's host, port stripped, lower-cased.
pub fn request_host(req: &Request) -> Option<String> {
    let raw = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| req.uri().host())?;
    let host = if let Some(rest) = raw.strip_prefix('[') {
        // IPv6 literal
        rest.split(']').next().unwrap_or(rest)
    } else {
        raw.rsplit_once(':').map_or(raw, |(h, _)| h)
    };
    Some(host.trim_end_matches('.').to_ascii_lowercase())
}

fn bearer(req: &Request) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

fn active(school: SchoolRef) -> AppResult<Scope> {
    if school.is_active {
        Ok(Scope::School(school))
    } else {
        Err(AppError::SchoolDisabled(format!(
            "{} is disabled on Schoolyard. Its records are kept; contact the platform team to re-enable it.",
            school.name
        )))
    }
}

pub async fn resolve_tenant(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    match resolve(&state, &mut req).await {
        Ok(scope) => {
            let school = scope.school().cloned();
            if let Some(school) = &school {
                tracing::Span::current().record("school", tracing::field::display(&school.code));
            }
            req.extensions_mut().insert(scope);
            let mut response = next.run(req).await;
            // Error pages show the school's name.
            if let Some(school) = school {
                response.extensions_mut().insert(school);
            }
            response
        }
        Err(e) => e.into_response(),
    }
}

async fn resolve(state: &AppState, req: &mut Request) -> AppResult<Scope> {
    let path = req.uri().path().to_owned();
    // The token is verified here (signature, expiry, audience, type); its user is loaded
    // and checked in the request's transaction by the context extractors.
    let verified = bearer(req).map(|token| {
        let claims = state.jwt.verify(
            token,
            TokenType::Access,
            &[Audience::Platform, Audience::School],
        )?;
        let audience = JwtKeys::audience_of(&claims)
            .ok_or_else(|| AppError::Unauthenticated("The token is invalid.".into()))?;
        Ok::<_, AppError>(TokenClaims { claims, audience })
    });
    let token = match verified {
        Some(Ok(token)) => {
            req.extensions_mut().insert(token.clone());
            Some(token)
        }
        // An expired or bad token does not block what needs none: global paths, signing in
        // and refreshing (a client sends its old access token out of habit).
        Some(Err(_)) if is_global(&path) || needs_no_token(&path) => None,
        Some(Err(e)) => return Err(e),
        None => None,
    };

    // 1. Global paths stay on public, with no tenant.
    if is_global(&path) {
        return Ok(Scope::Global);
    }

    // An API key (issue 13) acts in its own school only, on the school API only. Sent with a
    // Bearer token it is not looked at: the request acts as the token's user, so the key can
    // neither add to nor take from what the token may do.
    if token.is_none()
        && let Some(raw) = req.headers().get("x-api-key")
    {
        if !path.starts_with("/api/v1/school/") {
            return Err(AppError::Forbidden(
                "API keys work on the school API (/api/v1/school/…) only.".into(),
            ));
        }
        let raw = raw
            .to_str()
            .map_err(|_| AppError::Unauthenticated("The API key is not valid.".into()))?;
        let key = keys::authenticate(&state.db, raw, Utc::now())
            .await?
            .ok_or_else(|| {
                AppError::Unauthenticated("The API key is not valid or was revoked.".into())
            })?;
        let school = state
            .tenants
            .by_id(&state.db, key.client_id)
            .await?
            .ok_or_else(|| AppError::Unauthenticated("The API key is not valid.".into()))?;
        let host = request_host(req).unwrap_or_default();
        if host != state.config.main_domain
            && let Some(at_host) = state.tenants.by_host(&state.db, &host).await?
            && at_host.id != school.id
        {
            return Err(AppError::Forbidden(
                "This API key belongs to another school; use it at that school's address.".into(),
            ));
        }
        req.extensions_mut().insert(key);
        return active(school);
    }

    // 3. X-Schema-Name: honoured only for an authenticated platform superadmin.
    if let Some(schema) = req.headers().get("x-schema-name") {
        let allowed = token
            .as_ref()
            .is_some_and(|t| t.claims.sa && t.audience == Audience::Platform);
        if !allowed {
            return Err(AppError::Forbidden(
                "X-Schema-Name is only accepted from platform superadmins.".into(),
            ));
        }
        let schema = schema
            .to_str()
            .map_err(|_| AppError::BadRequest("X-Schema-Name is not valid.".into()))?;
        let school = state
            .tenants
            .by_schema(&state.db, schema)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("No school has the schema {schema:?}.")))?;
        return active(school);
    }

    let host = request_host(req).unwrap_or_default();

    // 2. Bearer JWT: a school user's token selects that user's school on the main domain or
    // an API-only host; at another school's address it is refused, never quietly served.
    if let Some(t) = &token
        && let Some(client_id) = t.claims.sch
    {
        let school = state
            .tenants
            .by_id(&state.db, client_id)
            .await?
            .ok_or_else(|| AppError::Unauthenticated("The token is invalid.".into()))?;
        if host != state.config.main_domain
            && let Some(at_host) = state.tenants.by_host(&state.db, &host).await?
            && at_host.id != school.id
        {
            return Err(AppError::Forbidden(
                "This token belongs to another school; use it at that school's address.".into(),
            ));
        }
        return active(school);
    }

    // 4. Host.
    if host == state.config.main_domain {
        return Ok(Scope::Platform);
    }
    match state.tenants.by_host(&state.db, &host).await? {
        Some(school) => active(school),
        None => Err(AppError::NoSchool(format!(
            "There is no school at {host}. Check the address."
        ))),
    }
}
