//! Limits on what a client may send and how slowly. Request bodies are read in full, within
//! a time limit, before any handler runs: a slow or hostile client then never holds a
//! database connection (the school transaction opens in the handler's extractors, after
//! this), and one that stops sending gets a 408. Over-long addresses get a 414.

use std::time::Duration;

use axum::{
    body::{Body, HttpBody},
    extract::{Request, State},
    middleware::Next,
    response::{IntoResponse, Response},
};
use futures::StreamExt;

use crate::{error::AppError, state::AppState};

/// The largest body any endpoint takes (the CSV and spreadsheet imports).
pub const MAX_BODY_BYTES: usize = 10 * 1024 * 1024;
/// Beyond the limit the rest is still read (up to this much) and discarded, so the browser
/// sees our 413 page instead of a reset connection.
const DRAIN_BYTES: usize = 48 * 1024 * 1024;

pub async fn read_body_first(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    if body.size_hint().exact() == Some(0) {
        return next.run(Request::from_parts(parts, body)).await;
    }
    match tokio::time::timeout(state.config.body_read_timeout, read_all(body)).await {
        Err(_) => AppError::RequestTimeout.into_response(),
        Ok(Err(e)) => e.into_response(),
        Ok(Ok(bytes)) => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
    }
}

async fn read_all(body: Body) -> Result<Vec<u8>, AppError> {
    let mut stream = body.into_data_stream();
    let mut bytes = Vec::new();
    let mut total = 0usize;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk
            .map_err(|_| AppError::BadRequest("The request body could not be read.".into()))?;
        total = total.saturating_add(chunk.len());
        if total > DRAIN_BYTES {
            break;
        }
        if total <= MAX_BODY_BYTES {
            bytes.extend_from_slice(&chunk);
        }
    }
    if total > MAX_BODY_BYTES {
        return Err(AppError::PayloadTooLarge);
    }
    Ok(bytes)
}

/// Handlers that take longer than this are stopped (their transaction rolls back) and the
/// client gets a retryable 503.
pub const HANDLER_TIMEOUT: Duration = Duration::from_secs(120);

pub async fn limit_handler_time(req: Request, next: Next) -> Response {
    match tokio::time::timeout(HANDLER_TIMEOUT, next.run(req)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::error!("request stopped after {HANDLER_TIMEOUT:?}");
            AppError::Busy.into_response()
        }
    }
}

/// Longer addresses are refused (no page of ours needs one; logs and caches suffer).
pub const MAX_URI_BYTES: usize = 8 * 1024;

pub async fn refuse_long_uris(req: Request, next: Next) -> Response {
    let len = req.uri().path().len() + req.uri().query().map_or(0, str::len);
    if len > MAX_URI_BYTES {
        return AppError::UriTooLong.into_response();
    }
    next.run(req).await
}
