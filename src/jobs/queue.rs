//! The job queue: an apalis queue in PostgreSQL (schema `apalis`, its own migrations
//! table there), so no other service is needed.
//!
//! A job names its school by schema in the payload; the worker opens the same kind of
//! school transaction a request does (`db::begin_school`). Jobs are pushed inside the
//! transaction that records what they are for, so a job never refers to a row that was
//! rolled back, and a committed request always has its job.

use std::time::Duration;

use apalis::prelude::*;
use apalis_postgres::PostgresStorage;
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::error::{AppError, AppResult};

/// A report batch to print: the school's schema and our `report_batches` row.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ReportJob {
    pub schema: String,
    pub batch_id: Uuid,
}

/// The report-card queue's name (stable whatever module the payload type lives in).
pub const REPORT_QUEUE: &str = "report_cards";
/// One try and two retries for transient failures; then the batch shows `failed`.
pub const REPORT_ATTEMPTS: usize = 3;

/// "Record the absences now due" for a school: pushed, to run when the grace period of a
/// saved absence ends. Running it early or twice does no harm (it records only what is due).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AbsenceJob {
    pub schema: String,
}

pub const ABSENCE_QUEUE: &str = "absence_events";
pub const ABSENCE_ATTEMPTS: usize = 5;

/// "Process what the WhatsApp webhook stored": one `whatsapp_inbound` row (and any earlier
/// unprocessed rows of the same chat, in order). A second run finds it processed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct InboundJob {
    pub inbound_id: i64,
}

pub const INBOUND_ATTEMPTS: usize = 8;

/// "Send this outbox message" for a school. The outbox row is claimed before the call, so a
/// retried or duplicated job never sends twice.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SendJob {
    pub schema: String,
    pub outbox_id: i64,
}

pub const SEND_ATTEMPTS: usize = 5;

/// What parents should hear about: a school's recorded absences, or an exam session's
/// results now published.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ParentAlert {
    Absences,
    ResultsOut { exam_session_id: i64 },
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AlertJob {
    pub schema: String,
    pub alert: ParentAlert,
}

pub const ALERT_ATTEMPTS: usize = 5;

/// The WhatsApp channel's jobs share one queue: each queue's worker holds a database
/// connection of its own for LISTEN, so fewer queues leave more connections to requests.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "job", rename_all = "snake_case")]
pub enum ChatJob {
    Inbound(InboundJob),
    Send(SendJob),
    Alert(AlertJob),
}

impl ChatJob {
    fn attempts(&self) -> usize {
        match self {
            Self::Inbound(_) => INBOUND_ATTEMPTS,
            Self::Send(_) => SEND_ATTEMPTS,
            Self::Alert(_) => ALERT_ATTEMPTS,
        }
    }
}

pub const CHAT_QUEUE: &str = "whatsapp";
/// The most attempts any chat job has (the worker's "last attempt" is counted against it).
pub const CHAT_ATTEMPTS: usize = INBOUND_ATTEMPTS;

/// Every queue's name, for the clean-up of finished jobs.
const QUEUES: [&str; 3] = [REPORT_QUEUE, ABSENCE_QUEUE, CHAT_QUEUE];

/// How soon a chat job should run among others due: a parent waiting for an answer goes
/// before a school-wide burst of alerts (apalis takes the highest priority first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Urgency {
    /// Someone is waiting: processing a message, sending its reply.
    Waiting,
    /// Alerts to many parents.
    Bulk,
}

/// The task of a chat job, to run at `at` (now when None).
pub fn chat_task(
    job: &ChatJob,
    urgency: Urgency,
    at: Option<chrono::DateTime<chrono::Utc>>,
) -> AppResult<apalis::prelude::Task<Vec<u8>>> {
    let payload = serde_json::to_vec(job).map_err(|e| AppError::Internal(e.into()))?;
    let priority = match urgency {
        Urgency::Waiting => 2,
        Urgency::Bulk => 0,
    };
    let mut task = TaskBuilder::new(payload)
        .max_attempts(job.attempts())
        .priority(priority);
    if let Some(at) = at {
        task = task.run_at_timestamp(u64::try_from(at.timestamp()).unwrap_or_default() + 1);
    }
    Ok(task.build())
}

/// Queues chat jobs in the caller's transaction.
pub async fn push_chat_tasks(
    conn: &mut PgConnection,
    tasks: Vec<apalis::prelude::Task<Vec<u8>>>,
) -> AppResult<()> {
    apalis_postgres::queries::push_tasks(conn, CHAT_QUEUE, tasks)
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("queue a WhatsApp job: {e}")))?;
    Ok(())
}

/// Queues one chat job in the caller's transaction, to run at `at` (now when None).
pub async fn push_chat(
    conn: &mut PgConnection,
    job: ChatJob,
    urgency: Urgency,
    at: Option<chrono::DateTime<chrono::Utc>>,
) -> AppResult<()> {
    let task = chat_task(&job, urgency, at)?;
    push_chat_tasks(conn, vec![task]).await
}

/// Creates or upgrades the queue's tables (idempotent; run with `migrate`).
pub async fn setup(pool: &PgPool) -> anyhow::Result<()> {
    PostgresStorage::<()>::setup(pool).await?;
    Ok(())
}

/// Queues a report batch in the caller's transaction.
pub async fn enqueue_report(conn: &mut PgConnection, job: &ReportJob) -> AppResult<()> {
    let payload = serde_json::to_vec(job).map_err(|e| AppError::Internal(e.into()))?;
    let task = TaskBuilder::new(payload)
        .max_attempts(REPORT_ATTEMPTS)
        .build();
    apalis_postgres::queries::push_tasks(conn, REPORT_QUEUE, vec![task])
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("queue a report job: {e}")))?;
    Ok(())
}

/// Queues the recording of a school's due absences at `at`, in the caller's transaction.
pub async fn enqueue_absences(
    conn: &mut PgConnection,
    job: &AbsenceJob,
    at: chrono::DateTime<chrono::Utc>,
) -> AppResult<()> {
    let payload = serde_json::to_vec(job).map_err(|e| AppError::Internal(e.into()))?;
    let task = TaskBuilder::new(payload)
        .max_attempts(ABSENCE_ATTEMPTS)
        // Whole seconds, rounded up: run a moment after the grace period, never before it.
        .run_at_timestamp(u64::try_from(at.timestamp()).unwrap_or_default() + 1)
        .build();
    apalis_postgres::queries::push_tasks(conn, ABSENCE_QUEUE, vec![task])
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("queue an absence job: {e}")))?;
    Ok(())
}

/// Deletes finished jobs older than `age` from the queue (apalis keeps every row); our own
/// tables keep what users need to see. Returns how many went.
pub async fn purge_finished(pool: &PgPool, age: Duration) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "DELETE FROM apalis.jobs
          WHERE job_type = ANY($1) AND done_at < now() - make_interval(secs => $2)
            AND (status IN ('Done', 'Killed') OR (status = 'Failed' AND attempts >= max_attempts))",
    )
    .bind(QUEUES)
    .bind(age.as_secs_f64())
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

/// Removes a deleted school's jobs from every queue, whatever their state: those whose
/// payload names its schema, and the processing of WhatsApp deliveries that were its
/// own (`inbound_ids`, removed with the school). Returns how many went.
pub async fn delete_school_jobs(
    conn: &mut PgConnection,
    schema: &str,
    inbound_ids: &[i64],
) -> Result<u64, sqlx::Error> {
    // Every payload of our queues is JSON (serde_json::to_vec above).
    let done = sqlx::query(
        "DELETE FROM apalis.jobs
          WHERE job_type = ANY($1)
            AND (convert_from(job, 'UTF8')::jsonb ->> 'schema' = $2
                 OR (job_type = $3
                     AND convert_from(job, 'UTF8')::jsonb ->> 'job' = 'inbound'
                     AND (convert_from(job, 'UTF8')::jsonb ->> 'inbound_id')::bigint = ANY($4)))",
    )
    .bind(QUEUES)
    .bind(schema)
    .bind(CHAT_QUEUE)
    .bind(inbound_ids)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}
