//! One application error type. It renders the JSON error shape of DESIGN §4; page routers
//! turn the same error into an HTML page (see `web::errors`).

use std::collections::BTreeMap;

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;
use utoipa::ToSchema;

/// Field name -> messages, as in `{"errors": {"email": ["…"]}}`.
pub type FieldErrors = BTreeMap<String, Vec<String>>;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{detail}")]
    Validation { detail: String, errors: FieldErrors },
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthenticated(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    SchoolDisabled(String),
    #[error("{0}")]
    NotFound(String),
    /// No school answers at this address (404 `not_found`, and no "home" to go back to).
    #[error("{0}")]
    NoSchool(String),
    #[error("This method is not allowed on this address.")]
    MethodNotAllowed,
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error(
        "This upload is too large: photos and logos may be at most 2 MB, and no upload more than 10 MB."
    )]
    PayloadTooLarge,
    #[error("The request was not received in time; please send it again.")]
    RequestTimeout,
    #[error("This address is too long.")]
    UriTooLong,
    /// The session store (Redis) is not answering: pages that need a signed-in session
    /// answer 503, never a sign-out.
    #[error(
        "Signed-in pages are unavailable for a moment (the session store is not answering). Nothing is lost; try again in a minute."
    )]
    SessionsUnavailable,
    /// The service could not finish in time (a retryable 503).
    #[error("The service is busy; please retry in a moment.")]
    Busy,
    #[error("too many attempts; try again in {retry_after} seconds")]
    TooManyRequests { retry_after: u64 },
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

pub type AppResult<T> = Result<T, AppError>;

/// The JSON error envelope.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorBody {
    #[schema(example = 422)]
    pub status_code: u16,
    #[schema(example = "validation_error")]
    pub code: String,
    #[schema(example = "Some fields are not valid.")]
    pub detail: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    #[schema(value_type = Option<BTreeMap<String, Vec<String>>>)]
    pub errors: FieldErrors,
}

impl AppError {
    pub fn not_found() -> Self {
        Self::NotFound("Not found.".into())
    }

    pub fn forbidden() -> Self {
        Self::Forbidden("You do not have permission to do this.".into())
    }

    /// One field error.
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        let mut errors = FieldErrors::new();
        errors.insert(field.to_owned(), vec![message.into()]);
        Self::Validation {
            detail: "Some fields are not valid.".into(),
            errors,
        }
    }

    pub fn fields(errors: FieldErrors) -> Self {
        Self::Validation {
            detail: "Some fields are not valid.".into(),
            errors,
        }
    }

    /// Maps a unique-constraint violation to a field error; other errors pass through.
    pub fn on_constraint(self, constraint: &str, field: &str, message: &str) -> Self {
        match &self {
            AppError::Database(sqlx::Error::Database(db))
                if db.constraint() == Some(constraint) =>
            {
                AppError::field(field, message)
            }
            _ => self,
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            AppError::Validation { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) | AppError::SchoolDisabled(_) => StatusCode::FORBIDDEN,
            AppError::NotFound(_) | AppError::NoSchool(_) => StatusCode::NOT_FOUND,
            AppError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            AppError::UriTooLong => StatusCode::URI_TOO_LONG,
            AppError::Busy | AppError::SessionsUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            AppError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Database(e) if is_retryable(e) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Database(e) if is_conflict(e) => StatusCode::CONFLICT,
            AppError::Database(_) | AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            AppError::Validation { .. } => "validation_error",
            AppError::BadRequest(_) => "bad_request",
            AppError::Unauthenticated(_) => "not_authenticated",
            AppError::Forbidden(_) => "permission_denied",
            AppError::SchoolDisabled(_) => "school_disabled",
            AppError::NotFound(_) | AppError::NoSchool(_) => "not_found",
            AppError::MethodNotAllowed => "method_not_allowed",
            AppError::Conflict(_) => "conflict",
            AppError::UnsupportedMediaType(_) => "unsupported_media_type",
            AppError::PayloadTooLarge => "payload_too_large",
            AppError::RequestTimeout => "request_timeout",
            AppError::UriTooLong => "uri_too_long",
            AppError::Busy | AppError::SessionsUnavailable => "retry",
            AppError::TooManyRequests { .. } => "throttled",
            AppError::Database(e) if is_retryable(e) => "retry",
            AppError::Database(e) if is_conflict(e) => "conflict",
            AppError::Database(_) | AppError::Internal(_) => "server_error",
        }
    }

    pub fn body(&self) -> ErrorBody {
        let status = self.status();
        let detail = match self {
            AppError::Database(e) if is_schema_change(e) => {
                "The school is being updated; please retry in a moment.".to_owned()
            }
            AppError::Database(e) if is_retryable(e) => {
                "The service is busy or briefly unavailable; please retry in a moment.".to_owned()
            }
            AppError::Database(e) if is_conflict(e) => {
                "This change conflicts with existing data.".to_owned()
            }
            // Never show internals to the client; they are logged with the request id.
            AppError::Database(_) | AppError::Internal(_) => {
                "Something went wrong on our side. It has been logged.".to_owned()
            }
            other => other.to_string(),
        };
        ErrorBody {
            status_code: status.as_u16(),
            code: self.code().to_owned(),
            detail,
            errors: match self {
                AppError::Validation { errors, .. } => errors.clone(),
                _ => FieldErrors::new(),
            },
        }
    }
}

/// Statement-cache failures while schools are being migrated.
fn is_schema_change(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db)
        if db.code().as_deref() == Some("0A000")
            || db.message().contains("cached plan must not change result type"))
}

/// Worth retrying: a migration under way, a serialization failure or deadlock, or the
/// database unreachable, restarting or out of connections (a connection killed mid-request
/// included). The client gets a 503 with `Retry-After`.
fn is_retryable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => {
            is_schema_change(e)
                // 40001 serialization, 40P01 deadlock, 57P01-03 shutdown / cannot connect
                // now, 57014 statement timeout, 25P03 idle-in-transaction timeout, 53300 too
                // many connections, 08xxx connection failures.
                || matches!(
                    db.code().as_deref(),
                    Some("40001" | "40P01" | "57P01" | "57P02" | "57P03" | "57014" | "25P03" | "53300")
                )
                || db.code().is_some_and(|c| c.starts_with("08"))
        }
        sqlx::Error::PoolTimedOut
        | sqlx::Error::Io(_)
        | sqlx::Error::PoolClosed
        | sqlx::Error::Protocol(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => true,
        _ => false,
    }
}

fn is_conflict(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_unique_violation() || db.is_foreign_key_violation())
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(error = ?self, "request failed");
        } else if matches!(
            self,
            AppError::PayloadTooLarge | AppError::UnsupportedMediaType(_) | AppError::UriTooLong
        ) {
            tracing::warn!(status = status.as_u16(), reason = %self, "request refused");
        }
        let body = self.body();
        let mut response = (status, Json(body.clone())).into_response();
        if let AppError::TooManyRequests { retry_after } = self
            && let Ok(value) = HeaderValue::from_str(&retry_after.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        // Page routers re-render this as HTML.
        let outside_a_school = matches!(self, AppError::NoSchool(_) | AppError::SchoolDisabled(_));
        response.extensions_mut().insert(RenderedError {
            body,
            outside_a_school,
        });
        response
    }
}

/// Marks a response as produced from an [`AppError`], so the HTML layer can re-render it.
#[derive(Clone, Debug)]
pub struct RenderedError {
    pub body: ErrorBody,
    /// The address has no usable school (unknown or disabled): the page offers no way "home".
    pub outside_a_school: bool,
}

/// Accumulates field errors while validating input.
#[derive(Default, Debug)]
pub struct Validator {
    errors: FieldErrors,
}

impl Validator {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.errors
            .entry(field.to_owned())
            .or_default()
            .push(message.into());
    }

    /// Required, trimmed, at most `max` characters.
    pub fn text(&mut self, field: &str, value: &str, min: usize, max: usize) {
        let len = value.trim().chars().count();
        if len == 0 && min > 0 {
            self.add(field, "This field is required.");
        } else if len < min {
            self.add(field, format!("Must be at least {min} characters."));
        } else if len > max {
            self.add(field, format!("Must be at most {max} characters."));
        }
    }

    pub fn email(&mut self, field: &str, value: &str) {
        let value = value.trim();
        if value.is_empty() {
            self.add(field, "This field is required.");
            return;
        }
        let valid = value.len() <= 254
            && value.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty()
                    && !domain.starts_with('.')
                    && domain.contains('.')
                    && !domain.ends_with('.')
                    && !value.contains(char::is_whitespace)
                    && value.matches('@').count() == 1
            });
        if !valid {
            self.add(field, "Enter a valid email address.");
        }
    }

    pub fn has(&self, field: &str) -> bool {
        self.errors.contains_key(field)
    }

    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    pub fn into_errors(self) -> FieldErrors {
        self.errors
    }

    pub fn finish(self) -> AppResult<()> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(AppError::fields(self.errors))
        }
    }
}
