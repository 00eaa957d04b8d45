//! Parents on WhatsApp (issue 12): the Cloud API webhook, linking a parent's phone to a
//! pupil, the menu of results, report cards, attendance and notices, proactive messages
//! through approved templates, and the outbox every message goes through.
//!
//! Routing data (numbers, contacts on the shared number, chats, the inbound store) lives in
//! `public`; links, conversations and the outbox live in each school's schema. Messages of
//! the shared number that belong to no school yet go through the `whatsapp_platform` schema.

pub mod alerts;
pub mod cloud_api;
pub mod codes;
pub mod conversation;
pub mod flows;
pub mod inbound;
pub mod linking;
pub mod numbers;
pub mod outbox;
pub mod payload;
pub mod sealing;
pub mod sender;
pub mod webhook;

use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

pub fn api_router() -> OpenApiRouter<AppState> {
    webhook::router()
}
