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
    .bind([REPORT_QUEUE, ABSENCE_QUEUE])
    .bind(age.as_secs_f64())
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}
