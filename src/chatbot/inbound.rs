//! The job that processes what the webhook stored: each chat's rows in order, each exactly
//! once (the row is locked and marked processed in the transaction that queues the replies).

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{Acquire, FromRow, PgConnection, PgPool};

use super::{
    cloud_api::{Remedy, remedy_of},
    conversation,
    numbers::{self, PLATFORM_SCHEMA},
    outbox,
};
use crate::{
    config::WhatsAppConfig,
    db,
    error::AppResult,
    jobs::queue::{self, ChatJob, InboundJob, SendJob, Urgency},
};

#[derive(Debug, FromRow)]
struct Row {
    id: i64,
    dedupe_key: String,
    kind: String,
    phone_number_id: String,
    body: Value,
    attempts: i16,
    received_at: DateTime<Utc>,
}

/// Failed attempts before a delivery is given up (each waits longer: 2 s … about 4 min).
const MAX_ATTEMPTS: i16 = 8;

fn retry_delay(attempts: i16) -> chrono::Duration {
    chrono::Duration::seconds(1_i64 << attempts.clamp(1, 8))
}

pub async fn run_job(
    pool: &PgPool,
    config: &WhatsAppConfig,
    job: &InboundJob,
    _last_attempt: bool,
) -> anyhow::Result<()> {
    let mut tx = db::begin_platform(pool).await?;
    sqlx::query("SELECT set_config('statement_timeout', '30s', true)")
        .execute(&mut *tx)
        .await?;
    let chat_key: Option<String> = sqlx::query_scalar(
        "SELECT chat_key FROM whatsapp_inbound WHERE id = $1 AND processed_at IS NULL",
    )
    .bind(job.inbound_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(chat_key) = chat_key else {
        return Ok(());
    };
    // One chat at a time, oldest first: a parent's second message never overtakes the first.
    // A chat being processed elsewhere is not waited for (that would hold a worker): this
    // job comes back in a second.
    let locked: bool = sqlx::query_scalar(
        "SELECT pg_try_advisory_xact_lock(hashtextextended('whatsapp-chat:' || $1, 0))",
    )
    .bind(&chat_key)
    .fetch_one(&mut *tx)
    .await?;
    if !locked {
        queue::push_chat(
            &mut tx,
            ChatJob::Inbound(job.clone()),
            Urgency::Waiting,
            Some(Utc::now() + chrono::Duration::seconds(1)),
        )
        .await?;
        tx.commit().await?;
        return Ok(());
    }
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, dedupe_key, kind, phone_number_id, body, attempts, received_at
           FROM whatsapp_inbound
          WHERE chat_key = $1 AND id <= $2 AND processed_at IS NULL
          ORDER BY id FOR UPDATE",
    )
    .bind(&chat_key)
    .bind(job.inbound_id)
    .fetch_all(&mut *tx)
    .await?;
    for row in rows {
        let mut step = tx.begin().await?;
        let outcome = match process(&mut step, config, &row).await {
            Ok(outcome) => {
                step.commit().await?;
                Some(outcome)
            }
            Err(e) => {
                step.rollback().await?;
                if row.attempts + 1 >= MAX_ATTEMPTS {
                    tracing::error!(error = ?e, inbound = row.id, "whatsapp delivery given up");
                    Some(format!("failed: {e:?}").chars().take(500).collect())
                } else {
                    tracing::warn!(error = ?e, inbound = row.id, "whatsapp delivery will be retried");
                    None
                }
            }
        };
        reset_path(&mut tx).await?;
        match outcome {
            Some(outcome) => {
                sqlx::query(
                    "UPDATE whatsapp_inbound SET processed_at = now(), outcome = $2 WHERE id = $1",
                )
                .bind(row.id)
                .bind(outcome)
                .execute(&mut *tx)
                .await?;
            }
            None => {
                // Later, with a longer wait each time; the chat's later messages wait for it.
                let attempts = row.attempts + 1;
                sqlx::query("UPDATE whatsapp_inbound SET attempts = $2 WHERE id = $1")
                    .bind(row.id)
                    .bind(attempts)
                    .execute(&mut *tx)
                    .await?;
                let retry = InboundJob {
                    inbound_id: job.inbound_id.max(row.id),
                };
                queue::push_chat(
                    &mut tx,
                    ChatJob::Inbound(retry),
                    Urgency::Waiting,
                    Some(Utc::now() + retry_delay(attempts)),
                )
                .await?;
                break;
            }
        }
    }
    tx.commit().await?;
    Ok(())
}

async fn reset_path(conn: &mut PgConnection) -> sqlx::Result<()> {
    sqlx::query("SELECT set_config('search_path', 'public', true)")
        .execute(conn)
        .await?;
    Ok(())
}

async fn process(tx: &mut PgConnection, config: &WhatsAppConfig, row: &Row) -> AppResult<String> {
    match row.kind.as_str() {
        "message" => {
            conversation::handle(tx, config, &row.phone_number_id, &row.dedupe_key, &row.body).await
        }
        _ => apply_status(tx, &row.body, row.received_at).await,
    }
}

/// A delivery status: the outbox row that sent the message follows it (never backwards:
/// `read` stays `read` when a late `delivered` arrives). A failure is acted on by its code.
async fn apply_status(
    conn: &mut PgConnection,
    body: &Value,
    received_at: DateTime<Utc>,
) -> AppResult<String> {
    let status = body.get("status").cloned().unwrap_or(Value::Null);
    let wamid = status.get("id").and_then(Value::as_str).unwrap_or("");
    let state = status.get("status").and_then(Value::as_str).unwrap_or("");
    let sent: Option<(Option<i64>, i64)> =
        sqlx::query_as("SELECT school_id, outbox_id FROM public.whatsapp_sent WHERE wamid = $1")
            .bind(wamid)
            .fetch_optional(&mut *conn)
            .await?;
    let Some((school_id, outbox_id)) = sent else {
        // The sender may not have recorded the wamid yet (the status can overtake it): a
        // recent one is tried again later.
        if Utc::now() - received_at < chrono::Duration::minutes(10) {
            return Err(crate::error::AppError::Conflict(
                "a status of a message not recorded yet".into(),
            ));
        }
        return Ok("status of a message we did not send".into());
    };
    let schema = match school_id {
        Some(id) => match numbers::school(conn, id).await? {
            Some(s) => s.schema_name,
            None => return Ok("status: school gone".into()),
        },
        None => PLATFORM_SCHEMA.to_owned(),
    };
    conversation::enter(conn, &schema).await?;
    let error = status
        .get("errors")
        .and_then(Value::as_array)
        .and_then(|e| e.first())
        .cloned();
    let code = error
        .as_ref()
        .and_then(|e| e.get("code"))
        .and_then(Value::as_i64);
    let title = error
        .as_ref()
        .map(|e| {
            let title = e.get("title").and_then(Value::as_str).unwrap_or("");
            let details = e
                .pointer("/error_data/details")
                .and_then(Value::as_str)
                .unwrap_or("");
            format!("{title} {details}").trim().to_owned()
        })
        .filter(|t| !t.is_empty());
    match state {
        "sent" | "delivered" | "read" => {
            sqlx::query(
                "UPDATE whatsapp_outbox SET status = $3, updated_at = now()
                  WHERE id = $1 AND wamid = $2
                    AND array_position(ARRAY['sending','sent','delivered','read'], status)
                        < array_position(ARRAY['sending','sent','delivered','read'], $3::text)",
            )
            .bind(outbox_id)
            .bind(wamid)
            .bind(state)
            .execute(&mut *conn)
            .await?;
            Ok(format!("status: {state}"))
        }
        "failed" => {
            let code = code.unwrap_or(0);
            let remedy = remedy_of(code, 200);
            let row: Option<(String, String, bool, Option<String>, String)> = sqlx::query_as(
                "UPDATE whatsapp_outbox SET status = 'failed', error_code = $3, error_title = $4,
                        updated_at = now()
                  WHERE id = $1 AND wamid = $2
                  RETURNING recipient, phone_number_id, template IS NOT NULL, sent_as, purpose",
            )
            .bind(outbox_id)
            .bind(wamid)
            .bind(i32::try_from(code).unwrap_or(0))
            .bind(&title)
            .fetch_optional(&mut *conn)
            .await?;
            let Some((recipient, number, has_template, sent_as, purpose)) = row else {
                return Ok("status: failed (superseded)".into());
            };
            match remedy {
                Remedy::UseTemplate if has_template && sent_as.as_deref() != Some("template") => {
                    // The window had closed: the template goes instead.
                    sqlx::query(
                        "UPDATE whatsapp_outbox SET status = 'pending', sent_as = 'template',
                                next_attempt_at = now() WHERE id = $1",
                    )
                    .bind(outbox_id)
                    .execute(&mut *conn)
                    .await?;
                    let job = SendJob {
                        schema: schema.clone(),
                        outbox_id,
                    };
                    queue::push_chat(conn, ChatJob::Send(job), outbox::urgency_of(&purpose), None)
                        .await?;
                    Ok("status: failed, window closed: template queued".into())
                }
                Remedy::Undeliverable => {
                    super::sender::mark_undeliverable(conn, &number, &recipient, code).await?;
                    Ok(format!("status: failed {code}: contact marked"))
                }
                Remedy::SchoolSetup => {
                    super::sender::record_problem(conn, code, title.as_deref().unwrap_or(""))
                        .await?;
                    Ok(format!("status: failed {code}: school told"))
                }
                _ => Ok(format!("status: failed {code}")),
            }
        }
        other => Ok(format!("status: {other} ignored")),
    }
}

/// Processed deliveries are kept 30 days (Meta redelivers for up to a week, so a wamid is
/// still recognised), then deleted with their message text.
pub async fn purge_processed(pool: &PgPool) -> sqlx::Result<u64> {
    let done = sqlx::query(
        "DELETE FROM public.whatsapp_inbound WHERE processed_at < now() - interval '30 days'",
    )
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}
