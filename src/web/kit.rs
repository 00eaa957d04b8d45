//! The web kit every page handler uses: htmx-aware redirects, form errors, safe redirect
//! targets.

use axum::{
    http::{HeaderMap, HeaderValue},
    response::{IntoResponse, Redirect, Response},
};
use serde::Deserialize;

use crate::error::{AppError, FieldErrors};

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

/// Field errors for a re-rendered form.
#[derive(Default, Debug)]
pub struct FormErrors(pub FieldErrors);

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

/// An error as one line for a flash message: the field messages, or the detail.
pub fn message_of(e: &AppError) -> String {
    match e {
        AppError::Validation { errors, .. } => errors
            .values()
            .flatten()
            .cloned()
            .collect::<Vec<_>>()
            .join(" "),
        other => other.body().detail,
    }
}

/// Re-renders a form page with 422 when the error is a validation error; other errors pass.
pub fn field_errors(e: AppError) -> Result<FormErrors, AppError> {
    match e {
        AppError::Validation { errors, .. } => Ok(FormErrors(errors)),
        other => Err(other),
    }
}

/// A response with its status set (422 for re-rendered forms).
pub fn with_status(mut response: Response, status: axum::http::StatusCode) -> Response {
    *response.status_mut() = status;
    response
}
