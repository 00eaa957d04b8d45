//! Answers to one inbound message: queued in the outbox of the schema they belong to, each
//! under a purpose derived from the message's wamid (so a reprocessed message never queues
//! its replies twice).

use serde_json::{Value, json};
use sqlx::PgConnection;

use super::outbox::{self, Outgoing};
use crate::error::AppResult;

/// The outbox purpose of a STOP confirmation (sent although the person opted out).
pub const STOP_PURPOSE: &str = "stop:";

/// Replies to one inbound message, queued in the outbox of the schema they belong to.
pub struct Replier {
    pub(super) schema: String,
    pub(super) number: String,
    pub(super) recipient: String,
    pub(super) wamid: String,
    pub(super) sent: u32,
}

impl Replier {
    pub async fn say(
        &mut self,
        conn: &mut PgConnection,
        message: Value,
        summary: &str,
        student_id: Option<i64>,
    ) -> AppResult<()> {
        self.sent += 1;
        let out = Outgoing {
            purpose: format!("reply:{}:{}", self.wamid, self.sent),
            recipient: self.recipient.clone(),
            phone_number_id: self.number.clone(),
            message: Some(message),
            template: None,
            student_id,
            summary: summary.to_owned(),
        };
        outbox::queue(conn, &self.schema, &out).await?;
        Ok(())
    }

    /// The confirmation of STOP: the one message that still goes to someone who opted out.
    pub async fn stopped(&mut self, conn: &mut PgConnection, body: &str) -> AppResult<()> {
        let out = Outgoing {
            purpose: format!("{STOP_PURPOSE}{}", self.wamid),
            recipient: self.recipient.clone(),
            phone_number_id: self.number.clone(),
            message: Some(outbox::text(body)),
            template: None,
            student_id: None,
            summary: "Stopped messages (STOP)".into(),
        };
        outbox::queue(conn, &self.schema, &out).await?;
        Ok(())
    }

    pub async fn text(&mut self, conn: &mut PgConnection, body: &str) -> AppResult<()> {
        self.say(conn, outbox::text(body), &first_line(body), None)
            .await
    }

    pub fn purpose(&self, what: &str) -> String {
        format!("{what}:{}", self.wamid)
    }
}

fn first_line(text: &str) -> String {
    text.lines()
        .next()
        .unwrap_or("")
        .chars()
        .take(120)
        .collect()
}

/// An interactive list message.
pub fn list(body: &str, button: &str, rows: Vec<Value>) -> Value {
    json!({
        "type": "interactive",
        "interactive": {
            "type": "list",
            "body": {"text": clip(body, 1024)},
            "action": {"button": clip(button, 20), "sections": [{"title": "Choose", "rows": rows}]}
        }
    })
}

pub fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}
