//! The Cloud API webhook: the verification handshake (GET) and deliveries (POST). A delivery
//! is checked against the app secret's HMAC over the raw body, and each message or status in
//! it stored with its processing job in one transaction before the 200. A message already
//! stored (Meta redelivers for days after any non-200) is acknowledged and not queued again.

use std::collections::HashMap;

use axum::{
    body::Bytes,
    extract::{Query, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::payload::{self, Item};
use crate::{
    auth::csrf::constant_time_eq,
    error::{AppError, AppResult},
    jobs::queue::{self, ChatJob, InboundJob, Urgency},
    state::AppState,
};

/// Meta's deliveries stay well under this (a batch holds up to 1,000 changes).
pub const MAX_DELIVERY_BYTES: usize = 3 * 1024 * 1024;

fn not_configured() -> AppError {
    AppError::NotFound("The WhatsApp channel is not configured on this server.".into())
}

/// The verification handshake: Meta sends `hub.mode=subscribe`, our verify token and a
/// challenge to echo.
#[utoipa::path(get, path = "/api/v1/chatbot/whatsapp/", tag = "chatbot",
    params(("hub.mode" = Option<String>, Query, description = "`subscribe`"),
           ("hub.verify_token" = Option<String>, Query, description = "The verify token configured on the server"),
           ("hub.challenge" = Option<String>, Query, description = "Echoed as the body when the token matches")),
    responses((status = 200, description = "The challenge", content_type = "text/plain", body = String),
              (status = 403, description = "Wrong mode or token", body = crate::error::ErrorBody),
              (status = 404, description = "The channel is not configured", body = crate::error::ErrorBody)))]
async fn verify(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
) -> AppResult<Response> {
    let Some(expected) = state.config.whatsapp.verify_token.as_deref() else {
        return Err(not_configured());
    };
    let mode = query.get("hub.mode").map(String::as_str);
    let token = query.get("hub.verify_token").map(String::as_str);
    let challenge = query.get("hub.challenge");
    match (mode, token, challenge) {
        (Some("subscribe"), Some(token), Some(challenge))
            if constant_time_eq(token.as_bytes(), expected.as_bytes()) =>
        {
            Ok((
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                challenge.clone(),
            )
                .into_response())
        }
        _ => Err(AppError::Forbidden(
            "The verify token does not match.".into(),
        )),
    }
}

/// Whether `signature` (`sha256=<hex>`) is the HMAC-SHA256 of `body` with `secret`,
/// compared in constant time.
pub fn signature_ok(secret: &str, body: &[u8], signature: Option<&str>) -> bool {
    let Some(hex_sig) = signature.and_then(|s| s.trim().strip_prefix("sha256=")) else {
        return false;
    };
    let Ok(expected) = hex::decode(hex_sig) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

/// A delivery of messages and statuses.
#[utoipa::path(post, path = "/api/v1/chatbot/whatsapp/", tag = "chatbot",
    params(("X-Hub-Signature-256" = String, Header, description = "`sha256=<hex>`: HMAC-SHA256 of the raw body with the app secret")),
    request_body(content = Object, description = "A WhatsApp Business Account notification", content_type = "application/json"),
    responses((status = 200, description = "Stored (or already stored): processed by a job"),
              (status = 400, description = "Not JSON", body = crate::error::ErrorBody),
              (status = 401, description = "Missing or wrong signature: nothing stored", body = crate::error::ErrorBody),
              (status = 404, description = "The channel is not configured", body = crate::error::ErrorBody),
              (status = 413, description = "Larger than 3 MB", body = crate::error::ErrorBody)))]
async fn receive(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> AppResult<StatusCode> {
    let Some(secret) = state.config.whatsapp.app_secret.as_deref() else {
        return Err(not_configured());
    };
    if body.len() > MAX_DELIVERY_BYTES {
        return Err(AppError::PayloadTooLarge);
    }
    let signature = headers
        .get("x-hub-signature-256")
        .and_then(|v| v.to_str().ok());
    if !signature_ok(secret, &body, signature) {
        return Err(AppError::Unauthenticated(
            "Missing or wrong X-Hub-Signature-256.".into(),
        ));
    }
    let value = serde_json::from_slice::<serde_json::Value>(&body)
        .map_err(|_| AppError::BadRequest("The body is not JSON.".into()))?;
    // Another kind of notification (another product's object) is acknowledged and ignored:
    // refusing it would only have Meta deliver it again for days.
    let items = payload::items(&value).unwrap_or_default();
    let stored = store(&state, items).await?;
    tracing::debug!(stored, "whatsapp delivery stored");
    Ok(StatusCode::OK)
}

/// Stores the items addressed to a number we serve, each new one with its job, in one
/// transaction; returns how many were new.
pub async fn store(state: &AppState, items: Vec<Item>) -> AppResult<usize> {
    if items.is_empty() {
        return Ok(0);
    }
    let mut numbers: Vec<&str> = items.iter().map(|i| i.phone_number_id.as_str()).collect();
    numbers.sort_unstable();
    numbers.dedup();
    let mut tx = crate::db::begin_platform(state.db.main()).await?;
    let mut served: Vec<String> = sqlx::query_scalar(
        "SELECT phone_number_id FROM whatsapp_numbers WHERE phone_number_id = ANY($1)",
    )
    .bind(&numbers)
    .fetch_all(&mut *tx)
    .await?;
    served.extend(state.config.whatsapp.shared_number_id.clone());
    // An unknown number's deliveries are acknowledged and ignored.
    let items: Vec<Item> = items
        .into_iter()
        .filter(|i| served.contains(&i.phone_number_id))
        .collect();
    if items.is_empty() {
        tx.commit().await?;
        return Ok(0);
    }
    let keys: Vec<String> = items
        .iter()
        .map(|i| i.dedupe_key.replace('\0', ""))
        .collect();
    let kinds: Vec<&str> = items.iter().map(|i| i.kind.as_str()).collect();
    let numbers: Vec<&str> = items.iter().map(|i| i.phone_number_id.as_str()).collect();
    let chats: Vec<String> = items.iter().map(|i| i.chat_key.replace('\0', "")).collect();
    // PostgreSQL's text and jsonb cannot hold U+0000: one such character would refuse the
    // whole batch (and Meta would deliver it again for days), so it is dropped.
    let bodies: Vec<serde_json::Value> = items.iter().map(|i| without_nul(&i.body)).collect();
    let ids: Vec<i64> = sqlx::query_scalar(
        "INSERT INTO whatsapp_inbound (dedupe_key, kind, phone_number_id, chat_key, body)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::jsonb[])
         ON CONFLICT (dedupe_key) DO NOTHING
         RETURNING id",
    )
    .bind(&keys)
    .bind(&kinds)
    .bind(&numbers)
    .bind(&chats)
    .bind(&bodies)
    .fetch_all(&mut *tx)
    .await?;
    if !ids.is_empty() {
        let tasks = ids
            .iter()
            .map(|&inbound_id| {
                queue::chat_task(
                    &ChatJob::Inbound(InboundJob { inbound_id }),
                    Urgency::Waiting,
                    None,
                )
            })
            .collect::<AppResult<Vec<_>>>()?;
        queue::push_chat_tasks(&mut tx, tasks).await?;
    }
    tx.commit().await?;
    Ok(ids.len())
}

fn without_nul(value: &serde_json::Value) -> serde_json::Value {
    let text = value.to_string();
    if !text.contains("\\u0000") {
        return value.clone();
    }
    serde_json::from_str(&text.replace("\\u0000", "")).unwrap_or(serde_json::Value::Null)
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(verify, receive))
}
