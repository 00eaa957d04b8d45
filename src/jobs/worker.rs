//! The worker loop: runs queued jobs with the handler the application gives it, wakes on
//! LISTEN/NOTIFY with a one-second tick, restarts after database errors, purges old rows.

use std::{future::Future, pin::Pin, sync::Arc, time::Duration};

use apalis::prelude::*;
use apalis_postgres::{Config as QueueConfig, PostgresStorage, Pubsub};
use sqlx::PgPool;

use super::queue::{REPORT_ATTEMPTS, REPORT_QUEUE, ReportJob, purge_finished};

/// What runs a report job: (pool, job, is this the last attempt).
pub type ReportHandler = Arc<
    dyn Fn(PgPool, ReportJob, bool) -> Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send>>
        + Send
        + Sync,
>;

async fn run_report(
    job: ReportJob,
    pool: Data<PgPool>,
    handler: Data<ReportHandler>,
    attempt: Attempt,
) -> Result<(), BoxDynError> {
    let last = attempt.current() >= REPORT_ATTEMPTS;
    (*handler)((*pool).clone(), job, last)
        .await
        .map_err(Into::into)
}

/// Runs the job workers until `shutdown` resolves: woken by LISTEN/NOTIFY within
/// milliseconds, with a one-second tick as a fallback; `concurrency` jobs at a time. A worker
/// that stops on a database error (apalis does not restart it) is started again.
pub async fn run_workers(
    pool: PgPool,
    concurrency: usize,
    handler: ReportHandler,
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
            .data(handler.clone())
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
