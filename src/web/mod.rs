//! The browser front door: page routers for the platform console and school hosts, the
//! shared layout, static assets and HTML error pages.

pub mod assets;
pub mod errors;
pub mod flash;

use axum::{
    Router,
    http::{HeaderMap, HeaderValue},
    middleware,
    response::{IntoResponse, Redirect, Response},
};
use axum_login::AuthManagerLayerBuilder;
use serde::Deserialize;

use crate::{
    app::AppState,
    auth::{self, session::Backend},
    error::AppError,
    permissions::PermissionSet,
};

pub use assets::static_router;

/// Data every page's layout needs.
pub struct Layout {
    pub title: String,
    pub csrf: String,
    /// "Schoolyard" on the platform, the school's name at a school host.
    pub brand: String,
    pub user_name: Option<String>,
    pub nav: Vec<NavItem>,
    pub active: &'static str,
    pub is_platform: bool,
}

pub struct NavItem {
    pub key: &'static str,
    pub label: &'static str,
    pub href: &'static str,
}

impl Layout {
    pub fn anonymous(title: &str, brand: &str, csrf: String, is_platform: bool) -> Self {
        Self {
            title: title.to_owned(),
            csrf,
            brand: brand.to_owned(),
            user_name: None,
            nav: Vec::new(),
            active: "",
            is_platform,
        }
    }

    pub fn platform(title: &str, active: &'static str, csrf: String, user_name: &str) -> Self {
        Self {
            title: title.to_owned(),
            csrf,
            brand: "Schoolyard".to_owned(),
            user_name: Some(user_name.to_owned()),
            nav: vec![
                NavItem {
                    key: "schools",
                    label: "Schools",
                    href: "/schools",
                },
                NavItem {
                    key: "users",
                    label: "Platform users",
                    href: "/users",
                },
                NavItem {
                    key: "docs",
                    label: "API docs",
                    href: "/api/docs/",
                },
            ],
            active,
            is_platform: true,
        }
    }

    pub fn school(
        title: &str,
        active: &'static str,
        csrf: String,
        school_name: &str,
        user_name: &str,
        perms: &PermissionSet,
    ) -> Self {
        let mut nav = vec![NavItem {
            key: "dashboard",
            label: "Dashboard",
            href: "/",
        }];
        let items = [
            ("view_students", "students", "Students", "/students"),
            ("view_academic_classes", "classes", "Classes", "/classes"),
            ("view_exam_sessions", "exams", "Exams", "/exams"),
            ("view_sessions", "academics", "Academics", "/academics"),
            ("view_users", "staff", "Staff", "/staff"),
            ("view_roles", "roles", "Roles", "/roles"),
            ("view_audit", "audit", "Audit log", "/audit"),
            ("view_settings", "settings", "Settings", "/settings"),
        ];
        for (perm, key, label, href) in items {
            if perms.has(perm) {
                nav.push(NavItem { key, label, href });
            }
        }
        Self {
            title: title.to_owned(),
            csrf,
            brand: school_name.to_owned(),
            user_name: Some(user_name.to_owned()),
            nav,
            active,
            is_platform: false,
        }
    }

    pub fn css_url(&self) -> String {
        assets::url("app.css")
    }

    pub fn htmx_url(&self) -> String {
        assets::url("vendor/htmx.min.js")
    }

    pub fn js_url(&self) -> String {
        assets::url("app.js")
    }
}

/// Whether the request came from htmx (then the handler returns a partial).
pub fn is_htmx(headers: &HeaderMap) -> bool {
    headers.get("hx-request").is_some_and(|v| v == "true")
}

/// After a successful form post: a normal redirect, or `HX-Redirect` for htmx.
pub fn see_other(headers: &HeaderMap, to: &str) -> Response {
    if is_htmx(headers) {
        let mut r = axum::http::StatusCode::NO_CONTENT.into_response();
        if let Ok(v) = HeaderValue::from_str(to) {
            r.headers_mut().insert("hx-redirect", v);
        }
        r
    } else {
        Redirect::to(to).into_response()
    }
}

/// Only local redirect targets after login (no open redirects).
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.to_owned(),
        _ => "/".to_owned(),
    }
}

#[derive(Debug, Deserialize, Default)]
pub struct NextParam {
    pub next: Option<String>,
}

fn with_browser_layers(router: Router<AppState>, state: AppState) -> Router {
    let session_layer =
        auth::session::session_layer(state.sessions.clone(), state.config.secure_cookies);
    let auth_layer =
        AuthManagerLayerBuilder::new(Backend::new(state.db.clone()), session_layer).build();
    router
        .fallback(|| async { AppError::NotFound("This page does not exist.".into()) })
        .method_not_allowed_fallback(|| async { AppError::MethodNotAllowed })
        .layer(middleware::from_fn(flash::show))
        .layer(middleware::from_fn(auth::csrf::verify))
        .layer(auth_layer)
        .layer(middleware::from_fn(security_headers))
        .with_state(state)
}

pub fn platform_pages(state: AppState) -> Router {
    let router = Router::new()
        .merge(auth::pages::router())
        .merge(crate::tenancy::pages::router())
        .merge(crate::users::pages::platform_router());
    with_browser_layers(router, state)
}

pub fn school_pages(state: AppState) -> Router {
    let router = Router::new()
        .merge(auth::pages::router())
        .merge(crate::users::pages::school_router())
        .merge(crate::academics::pages::router())
        .merge(crate::students::pages::router())
        .merge(crate::permissions::pages::router())
        .merge(crate::audit::pages::router())
        .merge(crate::settings::pages_router())
        .merge(crate::assessment::pages::router())
        .merge(crate::assessment::batch::pages_router())
        .merge(crate::assessment::logo::pages_router());
    with_browser_layers(router, state)
}

async fn security_headers(req: axum::extract::Request, next: middleware::Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert("referrer-policy", HeaderValue::from_static("same-origin"));
    // Signed-in pages must not come back from the cache after sign-out.
    if !h.contains_key("cache-control") {
        h.insert("cache-control", HeaderValue::from_static("no-store"));
    }
    h.insert(
        "content-security-policy",
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; frame-ancestors 'none'",
        ),
    );
    res
}

/// Field errors for a re-rendered form.
#[derive(Default, Debug)]
pub struct FormErrors(pub crate::error::FieldErrors);

impl FormErrors {
    /// The messages for a field, joined; empty when the field is fine.
    pub fn get(&self, field: &str) -> String {
        self.0.get(field).map(|m| m.join(" ")).unwrap_or_default()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Errors that belong to no visible field.
    pub fn others(&self, shown: &[&str]) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| !shown.contains(&k.as_str()))
            .flat_map(|(_, v)| v.clone())
            .collect()
    }
}

impl crate::context::SchoolCtx {
    /// The layout of a school page for this user.
    pub fn layout(&self, title: &str, active: &'static str, csrf: &str) -> Layout {
        Layout::school(
            title,
            active,
            csrf.to_owned(),
            &self.school.name,
            &self.user.full_name,
            &self.perms,
        )
    }
}

/// An error as one line for a flash message: the field messages, or the detail.
pub fn message_of(e: &crate::error::AppError) -> String {
    match e {
        crate::error::AppError::Validation { errors, .. } => errors
            .values()
            .flatten()
            .cloned()
            .collect::<Vec<_>>()
            .join(" "),
        other => other.body().detail,
    }
}

/// Re-renders a form page with 422 when the error is a validation error; other errors pass.
pub fn field_errors(e: crate::error::AppError) -> Result<FormErrors, crate::error::AppError> {
    match e {
        crate::error::AppError::Validation { errors, .. } => Ok(FormErrors(errors)),
        other => Err(other),
    }
}

/// A response with its status set (422 for re-rendered forms).
pub fn with_status(mut response: Response, status: axum::http::StatusCode) -> Response {
    *response.status_mut() = status;
    response
}
