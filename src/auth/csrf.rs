//! CSRF protection for cookie-authenticated pages: a per-session token that every
//! state-changing request must echo, as the `X-CSRF-Token` header (htmx sends it from
//! `hx-headers` on `<body>`) or the `csrf_token` form field.

use axum::{
    body::{Body, to_bytes},
    extract::{FromRequestParts, Request},
    http::{Method, header, request::Parts},
    middleware::Next,
    response::{IntoResponse, Response},
};
use base64::Engine;
use rand::RngCore;
use tower_sessions::Session;

use crate::error::AppError;

const SESSION_KEY: &str = "csrf_token";
pub const FIELD: &str = "csrf_token";
pub const HEADER: &str = "x-csrf-token";
/// Forms posted with urlencoded bodies are small; uploads send the header instead.
const MAX_FORM_BYTES: usize = 256 * 1024;

/// The session's CSRF token, created on first use. Templates put it into forms.
#[derive(Clone, Debug)]
pub struct CsrfToken(pub String);

impl<S: Send + Sync> FromRequestParts<S> for CsrfToken {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let session = Session::from_request_parts(parts, state)
            .await
            .map_err(|(_, msg)| AppError::Internal(anyhow::anyhow!("session missing: {msg}")))?;
        Ok(Self(token_for(&session).await?))
    }
}

pub async fn token_for(session: &Session) -> Result<String, AppError> {
    let existing: Option<String> = session
        .get(SESSION_KEY)
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("session read: {e}")))?;
    if let Some(token) = existing {
        return Ok(token);
    }
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    session
        .insert(SESSION_KEY, &token)
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("session write: {e}")))?;
    Ok(token)
}

/// Compares secrets without leaking where they differ through timing.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn refused() -> Response {
    AppError::Forbidden(
        "The form has expired or did not come from this site. Reload the page and try again."
            .into(),
    )
    .into_response()
}

/// A new token after signing in: a token seen before login (by anyone who planted the
/// session) is worthless after it.
pub async fn rotate(session: &Session) -> Result<(), AppError> {
    session
        .remove::<String>(SESSION_KEY)
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("session write: {e}")))?;
    Ok(())
}

/// Whether the browser says the request came from another site: `Sec-Fetch-Site` other than
/// same-origin (another school's host is "same-site", still another origin), or an `Origin`
/// that is not this host. Requests without either (older browsers, scripts) rely on the token.
fn cross_site(req: &Request) -> bool {
    let headers = req.headers();
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok())
        && !matches!(site, "same-origin" | "none")
    {
        return true;
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return false;
    };
    let Some(host) = headers.get(header::HOST).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let origin = origin.to_str().unwrap_or("null");
    let authority = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"));
    authority.is_none_or(|a| !a.eq_ignore_ascii_case(host))
}

/// Middleware for page routers (inside the session layer).
pub async fn verify(session: Session, req: Request, next: Next) -> Response {
    if matches!(
        *req.method(),
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    ) {
        return next.run(req).await;
    }
    if cross_site(&req) {
        return refused();
    }
    let expected: Option<String> = session.get(SESSION_KEY).await.ok().flatten();
    let Some(expected) = expected else {
        return refused();
    };
    if let Some(sent) = req.headers().get(HEADER).and_then(|v| v.to_str().ok()) {
        return if constant_time_eq(sent.as_bytes(), expected.as_bytes()) {
            next.run(req).await
        } else {
            refused()
        };
    }
    // Multipart uploads from plain forms carry the token in the action URL.
    if let Some(sent) = req
        .uri()
        .query()
        .and_then(|q| form_urlencoded_value(q.as_bytes(), FIELD))
    {
        return if constant_time_eq(sent.as_bytes(), expected.as_bytes()) {
            next.run(req).await
        } else {
            refused()
        };
    }
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return refused();
    }
    let (parts, body) = req.into_parts();
    let Ok(bytes) = to_bytes(body, MAX_FORM_BYTES).await else {
        return AppError::PayloadTooLarge.into_response();
    };
    let sent = form_urlencoded_value(&bytes, FIELD);
    match sent {
        Some(sent) if constant_time_eq(sent.as_bytes(), expected.as_bytes()) => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        _ => refused(),
    }
}

fn form_urlencoded_value(body: &[u8], key: &str) -> Option<String> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body).ok()?;
    pairs.into_iter().find(|(k, _)| k == key).map(|(_, v)| v)
}
