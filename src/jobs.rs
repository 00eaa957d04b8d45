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

/// Runs the job workers until `shutdown` resolves: woken by LISTEN/NOTIFY within
/// milliseconds, with a one-second tick as a fallback; `concurrency` jobs at a time. A worker
/// that stops on a database error (apalis does not restart it) is started again.
pub async fn run_workers(
    pool: PgPool,
    concurrency: usize,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    let _janitor = AbortOnDrop(tokio::spawn(janitor(pool.clone())));
    loop {
        let mut stop = stop_rx.clone();
        if *stop.borrow() {
            return Ok(());
        }
        let storage = PostgresStorage::<ReportJob>::new(&pool).with_config(
            QueueConfig::default()
                .queue(REPORT_QUEUE)
                .batch_size(concurrency)
                .heartbeat_interval(Duration::from_secs(10))
                .missed_heartbeats(3),
        );
        // Names must be unique per start: apalis refuses a name that is still registered.
        let worker = WorkerBuilder::new(format!("reports-{}", uuid::Uuid::new_v4()))
            .backend(storage.poll_with_strategy(NotifyOrTick::new(
                &pool,
                REPORT_QUEUE,
                Duration::from_secs(1),
            )))
            .data(pool.clone())
            .concurrency(concurrency)
            .catch_panic()
            .build(run_report);
        // Spawned on its own (the compiler proves this future Send only when spawned
        // directly), and aborted if this function's future is dropped.
        let mut task = AbortOnDrop(tokio::spawn(worker.run_until(async move {
            while !*stop.borrow_and_update() {
                if stop.changed().await.is_err() {
                    break;
                }
            }
            Ok::<(), std::io::Error>(())
        })));
        let outcome = (&mut task.0).await;
        match outcome {
            Ok(Ok(())) => return Ok(()),
            Ok(Err(e)) => {
                tracing::error!(error = %e, "job worker stopped; restarting in 5 s");
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
            Err(e) => {
                tracing::error!(error = %e, "job worker stopped; restarting in 5 s");
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
        }
    }
}

/// Deletes finished jobs older than `age` from the queue (apalis keeps every row); our own
/// tables keep what users need to see. Returns how many went.
pub async fn purge_finished(pool: &PgPool, age: Duration) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "DELETE FROM apalis.jobs
          WHERE job_type = $1 AND done_at < now() - make_interval(secs => $2)
            AND (status IN ('Done', 'Killed') OR (status = 'Failed' AND attempts >= max_attempts))",
    )
    .bind(REPORT_QUEUE)
    .bind(age.as_secs_f64())
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

/// Hourly: finished jobs older than a week go.
async fn janitor(pool: PgPool) {
    let mut tick = tokio::time::interval(Duration::from_secs(3600));
    loop {
        tick.tick().await;
        if let Err(e) = purge_finished(&pool, Duration::from_secs(7 * 24 * 3600)).await {
            tracing::warn!(error = %e, "could not purge finished jobs");
        }
    }
}

struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Wakes the worker on a NOTIFY from the queue or every `every`, whichever comes first.
/// Each source is polled until it is pending, so a waker is always registered (apalis's
/// own interval strategy can lose one and then sleep until the next heartbeat).
struct NotifyOrTick {
    notify: Option<Pubsub>,
    tick: tokio::time::Interval,
}

impl NotifyOrTick {
    fn new(pool: &PgPool, queue: &str, every: Duration) -> Self {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        Self {
            notify: Some(Pubsub::new(pool.clone(), queue.to_owned())),
            tick,
        }
    }
}

impl PollStrategy for NotifyOrTick {
    fn poll_drive(
        &mut self,
        cx: &mut std::task::Context<'_>,
        _: &PollSnapshot,
    ) -> std::task::Poll<Option<()>> {
        use futures::StreamExt;
        use std::task::Poll;
        let mut fired = false;
        while self.tick.poll_tick(cx).is_ready() {
            fired = true;
        }
        if let Some(notify) = self.notify.as_mut() {
            loop {
                match notify.poll_next_unpin(cx) {
                    Poll::Ready(Some(_)) => fired = true,
                    // The listener gave up: the tick carries on alone.
                    Poll::Ready(None) => {
                        self.notify = None;
                        break;
                    }
                    Poll::Pending => break,
                }
            }
        }
        if fired {
            Poll::Ready(Some(()))
        } else {
            Poll::Pending
        }
    }
}
