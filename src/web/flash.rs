//! One-time messages shown on the next page ("School created."), kept in the session by
//! `axum-messages`. A handler queues one; the next full page's context reads it and the layout
//! prints it in the message area. No response body is rewritten.

use axum_messages::{Level, Messages};

/// A message as the layout prints it.
#[derive(Clone, Debug)]
pub struct Flash {
    /// The CSS class: `ok` or `error`.
    pub kind: &'static str,
    pub text: String,
}

/// Queues a success message for the next page.
pub fn success(messages: &Messages, text: impl Into<String>) {
    messages.clone().success(text);
}

/// Queues an error message for the next page.
pub fn error(messages: &Messages, text: impl Into<String>) {
    messages.clone().error(text);
}

/// Takes the queued messages (they are shown once).
pub fn take(messages: Messages) -> Vec<Flash> {
    messages
        .map(|m| Flash {
            kind: if m.level >= Level::Warning {
                "error"
            } else {
                "ok"
            },
            text: m.message,
        })
        .collect()
}
