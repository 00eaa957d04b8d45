//! Create forms are sent once. A form that creates something carries a random `form_key`
//! (`Layout::form_key`, a `csrf::new_token`); the first post with a key claims it, and when that post ends in a
//! redirect the redirect is remembered. A repeat with the same key (a double tap, the browser
//! resending on a slow connection) is sent to the same place instead of creating a second
//! record. A post that does not redirect (a form with errors) releases its key, so the
//! corrected form can be sent.

use std::time::Duration;

use crate::{
    auth::csrf::{form_urlencoded_value, is_urlencoded_form},
    error::AppError,
    state::AppState,
    web::htmx::see_other,
};
use axum::{
    body::{Body, to_bytes},
    extract::{Request, State},
    http::{Method, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};

pub const FIELD: &str = "form_key";

/// The form's key, if it carries a well-formed one.
fn form_key(body: &[u8]) -> Option<String> {
    form_urlencoded_value(body, FIELD).filter(|v| {
        (16..=64).contains(&v.len())
            && v.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

pub async fn send_once(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if req.method() != Method::POST || !is_urlencoded_form(&req) {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let Ok(bytes) = to_bytes(body, crate::http::limits::MAX_BODY_BYTES).await else {
        return AppError::PayloadTooLarge.into_response();
    };
    let Some(key) = form_key(&bytes) else {
        return next
            .run(Request::from_parts(parts, Body::from(bytes)))
            .await;
    };
    // Keys are random; the host keeps two schools' keys apart all the same.
    let host = parts
        .headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-");
    let key = format!("{host} {key}");
    let claimed = match sqlx::query(
        "INSERT INTO public.form_submissions (key, location, created_at) VALUES ($1, NULL, now())
         ON CONFLICT (key) DO NOTHING",
    )
    .bind(&key)
    .execute(state.db.main())
    .await
    {
        Ok(done) => done.rows_affected() == 1,
        Err(e) => return AppError::from(e).into_response(),
    };
    if !claimed {
        return repeat(&state, &parts.headers, &key).await;
    }
    let response = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    let location = (response.status() == StatusCode::SEE_OTHER
        || response.status() == StatusCode::FOUND)
        .then(|| response.headers().get(header::LOCATION))
        .flatten()
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let outcome = match location {
        Some(location) => {
            sqlx::query("UPDATE public.form_submissions SET location = $2 WHERE key = $1")
                .bind(&key)
                .bind(location)
                .execute(state.db.main())
                .await
        }
        None => {
            sqlx::query("DELETE FROM public.form_submissions WHERE key = $1")
                .bind(&key)
                .execute(state.db.main())
                .await
        }
    };
    if let Err(e) = outcome {
        tracing::warn!(error = %e, "could not record a form submission");
    }
    response
}

/// A repeat of a form already sent: where the first one led, once it has finished.
async fn repeat(state: &AppState, headers: &axum::http::HeaderMap, key: &str) -> Response {
    for _ in 0..20 {
        let location: Result<Option<Option<String>>, _> =
            sqlx::query_scalar("SELECT location FROM public.form_submissions WHERE key = $1")
                .bind(key)
                .fetch_optional(state.db.main())
                .await;
        match location {
            Ok(Some(Some(location))) => return see_other(headers, &location),
            // Released (the first post had errors): nothing was created; show the form again.
            Ok(None) => {
                return AppError::Conflict(
                    "This form was already sent and had a problem; go back, check it and send it again."
                        .into(),
                )
                .into_response();
            }
            Ok(Some(None)) => tokio::time::sleep(Duration::from_millis(250)).await,
            Err(e) => return AppError::from(e).into_response(),
        }
    }
    AppError::Conflict("This form is still being sent; wait a moment and reload the page.".into())
        .into_response()
}

/// Deletes remembered submissions older than a day (run on a schedule by the worker).
pub async fn purge(pool: &sqlx::PgPool) -> sqlx::Result<u64> {
    let done = sqlx::query(
        "DELETE FROM public.form_submissions WHERE created_at < now() - interval '1 day'",
    )
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}
