//! CSRF protection for cookie-authenticated pages: a per-session token that every
//! state-changing request must echo, as the `X-CSRF-Token` header (htmx sends it from
//! `hx-headers` on `<body>`) or the `csrf_token` form field.
//!
//! Before signing in there is no session, and none is made: anonymous pages (the sign-in
//! form) never write to the session store, so they keep working while Redis is down. Their
//! token is a double-submit cookie instead: the form echoes the cookie's random value, which
//! another site can neither read nor set (and `Origin`/`Sec-Fetch-Site` are checked too).

use axum::{
    body::{Body, to_bytes},
    extract::{FromRequestParts, Request, State},
    http::{HeaderValue, Method, header, request::Parts},
    middleware::Next,
    response::{IntoResponse, Response},
};
use base64::Engine;
use rand::RngCore;
use tower_sessions::Session;

use crate::{error::AppError, state::AppState};

const SESSION_KEY: &str = "csrf_token";
pub const FIELD: &str = "csrf_token";
pub const HEADER: &str = "x-csrf-token";
/// Forms posted with urlencoded bodies are small; uploads send the header instead.
const MAX_FORM_BYTES: usize = 256 * 1024;

/// The session's CSRF token, created on first use. Templates put it into forms.
#[derive(Clone, Debug)]
pub struct CsrfToken(pub String);

/// The anonymous (cookie) token of this request, set by `verify` when there is no session.
#[derive(Clone, Debug)]
struct AnonymousToken(String);

impl<S: Send + Sync> FromRequestParts<S> for CsrfToken {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let session = Session::from_request_parts(parts, state)
            .await
            .map_err(|(_, msg)| AppError::Internal(anyhow::anyhow!("session missing: {msg}")))?;
        if session.id().is_none()
            && let Some(AnonymousToken(token)) = parts.extensions.get::<AnonymousToken>()
        {
            return Ok(Self(token.clone()));
        }
        Ok(Self(token_for(&session).await?))
    }
}

/// A random 256-bit token, URL-safe (CSRF tokens, form keys).
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn anonymous_cookie_name(secure: bool) -> &'static str {
    if secure {
        "__Host-schoolyard_csrf"
    } else {
        "schoolyard_csrf"
    }
}

fn cookie_value<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
        .filter(|v| {
            v.len() == 43
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

pub async fn token_for(session: &Session) -> Result<String, AppError> {
    let existing: Option<String> = session
        .get(SESSION_KEY)
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("session read: {e}")))?;
    if let Some(token) = existing {
        return Ok(token);
    }
    let token = new_token();
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
pub async fn verify(
    State(state): State<AppState>,
    session: Session,
    mut req: Request,
    next: Next,
) -> Response {
    let cookie_name = anonymous_cookie_name(state.config.secure_cookies);
    let anonymous = session.id().is_none();
    let cookie_token = cookie_value(&req, cookie_name).map(str::to_owned);
    if matches!(
        *req.method(),
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    ) {
        if !anonymous {
            return next.run(req).await;
        }
        // No session: the page's forms carry the cookie's token (a new one if none yet).
        let (token, is_new) = match cookie_token {
            Some(token) => (token, false),
            None => (new_token(), true),
        };
        req.extensions_mut().insert(AnonymousToken(token.clone()));
        let mut response = next.run(req).await;
        if is_new {
            let secure = if state.config.secure_cookies {
                "; Secure"
            } else {
                ""
            };
            let cookie =
                format!("{cookie_name}={token}; Path=/; HttpOnly; SameSite=Strict{secure}");
            if let Ok(value) = HeaderValue::from_str(&cookie) {
                response.headers_mut().append(header::SET_COOKIE, value);
            }
        }
        return response;
    }
    if cross_site(&req) {
        return refused();
    }
    let expected: Option<String> = if anonymous {
        // The page this post renders (a form with an error) keeps the same token.
        if let Some(token) = &cookie_token {
            req.extensions_mut().insert(AnonymousToken(token.clone()));
        }
        cookie_token
    } else {
        session.get(SESSION_KEY).await.ok().flatten()
    };
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
    if !is_urlencoded_form(&req) {
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

/// Whether the request carries an `application/x-www-form-urlencoded` body.
pub fn is_urlencoded_form(req: &Request) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"))
}

/// The value of field `key` in a urlencoded body.
pub fn form_urlencoded_value(body: &[u8], key: &str) -> Option<String> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body).ok()?;
    pairs.into_iter().find(|(k, _)| k == key).map(|(_, v)| v)
}
