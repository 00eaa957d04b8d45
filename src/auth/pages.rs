//! Sign-in and sign-out pages, at the main domain (platform) and at each school host (staff).

use crate::http::Form;
use askama::Template;
use askama_web::WebTemplate;
use axum::{
    Extension, Router,
    extract::{Query, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
};
use chrono::Utc;
use serde::Deserialize;

use crate::{
    auth::{
        csrf::CsrfToken,
        login::check_credentials,
        session::{AuthSession, SessionUser},
    },
    error::{AppError, AppResult},
    http::RequestMeta,
    state::AppState,
    tenancy::scope::Scope,
    web::{
        kit::{NextParam, safe_next},
        layout::Layout,
    },
};

#[derive(Template, WebTemplate)]
#[template(path = "pages/login.html")]
struct LoginPage {
    layout: Layout,
    heading: String,
    email: String,
    next: String,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    next: Option<String>,
}

fn scope_parts(scope: &Scope) -> AppResult<(Option<i64>, String, bool)> {
    match scope {
        Scope::Platform => Ok((None, "Schoolyard".to_owned(), true)),
        Scope::School(s) => Ok((Some(s.id), s.name.to_string(), false)),
        Scope::Global => Err(AppError::not_found()),
    }
}

/// Whether the session's user belongs to this host's scope.
fn belongs(user: &SessionUser, scope_id: Option<i64>) -> bool {
    user.user.client_id == scope_id
}

fn page(
    brand: &str,
    is_platform: bool,
    csrf: String,
    email: String,
    next: String,
    error: Option<String>,
) -> LoginPage {
    let heading = if is_platform {
        "Sign in to the platform console".to_owned()
    } else {
        format!("Sign in to {brand}")
    };
    LoginPage {
        layout: Layout::anonymous("Sign in", brand, csrf, is_platform),
        heading,
        email,
        next,
        error,
    }
}

async fn login_form(
    Extension(scope): Extension<Scope>,
    auth: AuthSession,
    CsrfToken(csrf): CsrfToken,
    Query(next): Query<NextParam>,
) -> AppResult<Response> {
    let (scope_id, brand, is_platform) = scope_parts(&scope)?;
    let next = safe_next(next.next.as_deref());
    if auth.user.as_ref().is_some_and(|u| belongs(u, scope_id)) {
        return Ok(Redirect::to(&next).into_response());
    }
    Ok(page(&brand, is_platform, csrf, String::new(), next, None).into_response())
}

async fn login_submit(
    State(state): State<AppState>,
    Extension(scope): Extension<Scope>,
    mut auth: AuthSession,
    CsrfToken(csrf): CsrfToken,
    meta: RequestMeta,
    Form(form): Form<LoginForm>,
) -> AppResult<Response> {
    let (scope_id, brand, is_platform) = scope_parts(&scope)?;
    let next = safe_next(form.next.as_deref());
    if form.email.trim().is_empty() || form.password.is_empty() {
        let mut r = page(
            &brand,
            is_platform,
            csrf,
            form.email,
            next,
            Some("Enter your email and password.".into()),
        )
        .into_response();
        *r.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
        return Ok(r);
    }
    match check_credentials(
        &state,
        scope_id,
        &form.email,
        &form.password,
        &meta,
        Utc::now(),
    )
    .await
    {
        Ok(user) => {
            let school_schema = scope.school().map(|s| s.schema.to_string());
            super::login::record_login(&state, school_schema.as_deref(), &user, &meta, "browser")
                .await?;
            auth.login(&SessionUser::from(user))
                .await
                .map_err(|e| AppError::Internal(anyhow::anyhow!("session login: {e}")))?;
            crate::auth::csrf::rotate(&auth.session).await?;
            Ok(Redirect::to(&next).into_response())
        }
        Err(e @ (AppError::Unauthenticated(_) | AppError::TooManyRequests { .. })) => {
            let status = e.status();
            let message = e.body().detail;
            let mut r =
                page(&brand, is_platform, csrf, form.email, next, Some(message)).into_response();
            *r.status_mut() = status;
            Ok(r)
        }
        Err(other) => Err(other),
    }
}

async fn logout(mut auth: AuthSession) -> AppResult<Redirect> {
    auth.logout()
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("session logout: {e}")))?;
    Ok(Redirect::to("/login"))
}

/// The session's CSRF token, for a page that outlived its sign-in: after signing in again in
/// another tab, the mark grid asks for the new session's token and saves what was typed.
/// Same-origin only (no CORS headers), and nothing is written for an anonymous visitor.
async fn session_csrf(auth: AuthSession, session: tower_sessions::Session) -> AppResult<Response> {
    if auth.user.is_none() {
        return Err(AppError::Unauthenticated(
            "Your sign-in has expired; sign in again.".into(),
        ));
    }
    let token = crate::auth::csrf::token_for(&session).await?;
    Ok((
        [(axum::http::header::CACHE_CONTROL, "no-store")],
        axum::Json(serde_json::json!({ "csrf": token })),
    )
        .into_response())
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/login", get(login_form).post(login_submit))
        .route("/logout", post(logout))
        .route("/session/csrf", get(session_csrf))
}
