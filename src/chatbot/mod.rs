//! Parents on WhatsApp (issue 12): the Cloud API webhook, linking a parent's phone to a
//! pupil, the menu of results, report cards, attendance and notices, proactive messages
//! through approved templates, and the outbox every message goes through.
//!
//! Routing data (numbers, contacts on the shared number, chats, the inbound store) lives in
//! `public`; links, conversations and the outbox live in each school's schema.

pub mod cloud_api;
pub mod codes;
pub mod outbox;
pub mod sealing;
