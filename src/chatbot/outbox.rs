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
    let queued = queue_all(conn, schema, std::slice::from_ref(out)).await?;
    Ok(queued.first().map(|(id, _)| *id))
}

/// Queues many messages at once (an alert to every parent of a school): a few statements
/// whatever their number. Returns (outbox id, index in `outs`) of those queued now; a
/// purpose queued before is left out.
pub async fn queue_all(
    conn: &mut PgConnection,
    schema: &str,
    outs: &[Outgoing],
) -> AppResult<Vec<(i64, usize)>> {
    if outs.is_empty() {
        return Ok(Vec::new());
    }
    let column = |f: fn(&Outgoing) -> String| outs.iter().map(f).collect::<Vec<_>>();
    let purposes = column(|o| o.purpose.clone());
    let recipients = column(|o| o.recipient.clone());
    let numbers = column(|o| o.phone_number_id.clone());
    let summaries = column(|o| o.summary.clone());
    let messages: Vec<Option<Value>> = outs.iter().map(|o| o.message.clone()).collect();
    let templates: Vec<Option<Value>> = outs.iter().map(|o| o.template.clone()).collect();
    let students: Vec<Option<i64>> = outs.iter().map(|o| o.student_id).collect();
    // The index comes back with each row, so the caller knows which were new.
    let queued: Vec<(i64, i64)> = sqlx::query_as(
        "WITH given AS (
            SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::jsonb[], $5::jsonb[],
                                 $6::bigint[], $7::text[])
                   WITH ORDINALITY AS g(purpose, recipient, number, message, template, student_id,
                                        summary, n)),
          queued AS (
            INSERT INTO whatsapp_outbox (purpose, recipient, phone_number_id, message, template, student_id)
            SELECT purpose, recipient, number, message, template, student_id FROM given ORDER BY n
            ON CONFLICT (purpose) DO NOTHING
            RETURNING id, purpose),
          logged AS (
            INSERT INTO chatbot_messages (direction, wa_phone, summary)
            SELECT 'out', g.recipient, g.summary FROM given g JOIN queued q USING (purpose)
            ORDER BY g.n)
         SELECT q.id, g.n - 1 FROM queued q JOIN given g USING (purpose) ORDER BY g.n",
    )
    .bind(&purposes)
    .bind(&recipients)
    .bind(&numbers)
    .bind(&messages)
    .bind(&templates)
    .bind(&students)
    .bind(&summaries)
    .fetch_all(&mut *conn)
    .await?;
    let queued: Vec<(i64, usize)> = queued
        .into_iter()
        .map(|(id, n)| (id, usize::try_from(n).unwrap_or_default()))
        .collect();
    let tasks = queued
        .iter()
        .map(|&(outbox_id, i)| {
            let job = SendJob {
                schema: schema.to_owned(),
                outbox_id,
            };
            queue::chat_task(&ChatJob::Send(job), urgency_of(&outs[i].purpose), None)
        })
        .collect::<AppResult<Vec<_>>>()?;
    queue::push_chat_tasks(conn, tasks).await?;
    Ok(queued)
}
