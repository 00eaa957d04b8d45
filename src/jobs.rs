//! Background jobs: an apalis queue in PostgreSQL (schema `apalis`, its own migrations
//! table there), so no other service is needed.
//!
//! A job names its school by schema in the payload; the worker opens the same kind of
//! school transaction a request does (`db::begin_school`). Jobs are pushed inside the
//! transaction that records what they are for, so a job never refers to a row that was
//! rolled back, and a committed request always has its job.

use std::time::Duration;

use apalis::prelude::*;
use apalis_postgres::{Config as QueueConfig, PostgresStorage, Pubsub};
use sqlx::{PgConnection, PgPool};

use crate::{
    assessment::batch::{self, ReportJob},
    error::{AppError, AppResult},
};

/// The report-card queue's name (stable whatever module the payload type lives in).
pub const REPORT_QUEUE: &str = "report_cards";
/// One try and two retries for transient failures; then the batch shows `failed`.
pub const REPORT_ATTEMPTS: usize = 3;

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

async fn run_report(
    job: ReportJob,
    pool: Data<PgPool>,
    attempt: Attempt,
) -> Result<(), BoxDynError> {
    let last = attempt.current() >= REPORT_ATTEMPTS;
    batch::run(&pool, &job, last).await.map_err(Into::into)
}

/// Runs the job workers until `shutdown` resolves. Woken by LISTEN/NOTIFY, with a one-second
/// poll as a fallback; `concurrency` jobs at a time.
pub async fn run_workers(
    pool: PgPool,
    concurrency: usize,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let strategy = Strategy::new()
        .stream(Pubsub::new(pool.clone(), REPORT_QUEUE.to_owned()))
        .interval(Duration::from_secs(1));
    let storage = PostgresStorage::<ReportJob>::new(&pool).with_config(
        QueueConfig::default()
            .queue(REPORT_QUEUE)
            .batch_size(concurrency)
            .heartbeat_interval(Duration::from_secs(10))
            .missed_heartbeats(3),
    );
    let worker = WorkerBuilder::new(format!("reports-{}", uuid::Uuid::new_v4()))
        .backend(storage.poll_with_strategy(strategy))
        .data(pool)
        .concurrency(concurrency)
        .build(run_report);
    worker
        .run_until(async move {
            shutdown.await;
            Ok::<(), std::io::Error>(())
        })
        .await?;
    Ok(())
}
