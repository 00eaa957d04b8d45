//! Every message we send goes through the school's `whatsapp_outbox`: a row with a unique
//! purpose (kind, pupil, day or exam session, recipient), queued with its send job in the
//! caller's transaction. A purpose already queued is not queued again, so a retried job or
//! a second worker never sends twice.

use serde_json::Value;
use sqlx::PgConnection;

use crate::{
    error::AppResult,
    jobs::queue::{self, ChatJob, SendJob, Urgency},
};

/// A message to send.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// Unique within the school: e.g. `reply:<inbound wamid>:1`, `absence:<pupil>:<day>:<phone>`.
    pub purpose: String,
    /// E.164 phone, or a business-scoped user id when we have no phone.
    pub recipient: String,
    /// The business number that sends it.
    pub phone_number_id: String,
    /// A free-form Cloud API message body without `to`/`messaging_product`, e.g.
    /// `{"type": "text", "text": {"body": "…"}}`; sent only inside the 24-hour window.
    pub message: Option<Value>,
    /// A template message body (`{"type": "template", "template": {…}}`): sent outside the
    /// window, or when WhatsApp says the window is closed.
    pub template: Option<Value>,
    pub student_id: Option<i64>,
    /// One line for the staff page of recent conversations.
    pub summary: String,
}

/// Alerts to many parents wait behind answers someone is waiting for.
pub fn urgency_of(purpose: &str) -> Urgency {
    if purpose.starts_with("results:") || purpose.starts_with("absence:") {
        Urgency::Bulk
    } else {
        Urgency::Waiting
    }
}

/// A plain text message.
pub fn text(body: &str) -> Value {
    serde_json::json!({"type": "text", "text": {"body": body, "preview_url": false}})
}

/// Queues `out` in the school's transaction (search path set to `schema`) with its send
/// job. Returns the outbox id, or None when that purpose was queued before.
pub async fn queue(
    conn: &mut PgConnection,
    schema: &str,
    out: &Outgoing,
) -> AppResult<Option<i64>> {
    let id: Option<i64> = sqlx::query_scalar(
        "INSERT INTO whatsapp_outbox (purpose, recipient, phone_number_id, message, template, student_id)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (purpose) DO NOTHING RETURNING id",
    )
    .bind(&out.purpose)
    .bind(&out.recipient)
    .bind(&out.phone_number_id)
    .bind(&out.message)
    .bind(&out.template)
    .bind(out.student_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(id) = id else {
        return Ok(None);
    };
    sqlx::query(
        "INSERT INTO chatbot_messages (direction, wa_phone, summary) VALUES ('out', $1, $2)",
    )
    .bind(&out.recipient)
    .bind(&out.summary)
    .execute(&mut *conn)
    .await?;
    let job = SendJob {
        schema: schema.to_owned(),
        outbox_id: id,
    };
    queue::push_chat(conn, ChatJob::Send(job), urgency_of(&out.purpose), None).await?;
    Ok(Some(id))
}
