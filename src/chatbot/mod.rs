//! Parents on WhatsApp (issue 12): the Cloud API webhook, linking a parent's phone to a
//! pupil, the menu of results, report cards, attendance and notices, proactive messages
//! through approved templates, and the outbox every message goes through.
//!
//! Routing data (numbers, contacts on the shared number, chats, the inbound store) lives in
//! `public`; links, conversations and the outbox live in each school's schema. Messages of
//! the shared number that belong to no school yet go through the `whatsapp_platform` schema.
//!
//! Staff's side: a guardian's WhatsApp page (`staff_links`), Settings → WhatsApp
//! (`staff_settings`), their JSON API and pages; the platform's contacts API and console
//! page (`platform`).

pub mod alerts;
pub mod cloud_api;
pub mod codes;
mod console;
pub mod conversation;
pub mod flows;
pub mod inbound;
pub mod linking;
pub mod numbers;
pub mod outbox;
pub mod payload;
pub mod platform;
mod platform_api;
pub mod replies;
pub mod sealing;
pub mod sender;
mod staff_api;
pub mod staff_links;
mod staff_pages;
pub mod staff_settings;
pub mod webhook;

use axum::Router;
use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

/// The JSON endpoints: the webhook, the school's (staff) and the system's (platform).
pub fn api_router() -> OpenApiRouter<AppState> {
    webhook::router()
        .merge(staff_api::router())
        .merge(platform_api::router())
}

/// A school host's pages: a guardian's WhatsApp, Settings → WhatsApp.
pub fn pages_router() -> Router<AppState> {
    staff_pages::router()
}

/// The platform console's WhatsApp page.
pub fn console_router() -> Router<AppState> {
    console::router()
}
