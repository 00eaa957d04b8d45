//! The web kit every page handler uses: htmx-aware redirects, form errors, safe redirect
//! targets.

use axum::{http::HeaderMap, response::Response};
use axum_messages::Messages;
use serde::Deserialize;

use super::{flash, htmx::see_other};
use crate::{
    context::SchoolCtx,
    error::{AppError, AppResult, FieldErrors},
};

/// Runs a change from a page form, then redirects back with its outcome as a flash
/// message: on success `done` words the message and the transaction commits; an error the
/// user can act on (invalid input, a conflict, a missing row, a refused permission) rolls back
/// and is shown on the page; anything else becomes the error page.
pub async fn act<T>(
    mut ctx: SchoolCtx,
    messages: &Messages,
    headers: &HeaderMap,
    back: &str,
    done: impl FnOnce(&T) -> String,
    change: impl AsyncFnOnce(&mut SchoolCtx) -> AppResult<T>,
) -> AppResult<Response> {
    match change(&mut ctx).await {
        Ok(value) => {
            let message = done(&value);
            ctx.commit().await?;
            flash::success(messages, message);
        }
        Err(
            e @ (AppError::Validation { .. }
            | AppError::Conflict(_)
            | AppError::NotFound(_)
            | AppError::Forbidden(_)),
        ) => flash::error(messages, message_of(&e)),
        Err(e) => return Err(e),
    }
    Ok(see_other(headers, back))
}

/// Only local redirect targets after login (no open redirects).
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        // A path of this site only: no `//host`, no backslash (browsers read `/\host` as
        // `//host`), no control characters (a tab or newline inside `//` is skipped).
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.contains('\\')
                && !n.chars().any(char::is_control) =>
        {
            n.to_owned()
        }
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
    /// The errors of one of a page's several forms, keyed `<form>.<field>` so each form shows
    /// its own.
    pub fn of_form(form: &str, errors: FieldErrors) -> Self {
        Self(
            errors
                .into_iter()
                .map(|(k, v)| (format!("{form}.{k}"), v))
                .collect(),
        )
    }

    /// 422 when a form came back with errors, else 200.
    pub fn status(&self) -> axum::http::StatusCode {
        if self.is_empty() {
            axum::http::StatusCode::OK
        } else {
            axum::http::StatusCode::UNPROCESSABLE_ENTITY
        }
    }

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
