//! The worker loop: runs queued jobs with the handler the application gives it, wakes on
//! LISTEN/NOTIFY with a one-second tick, restarts after database errors, purges old rows.

use std::{future::Future, pin::Pin, sync::Arc, time::Duration};

use apalis::prelude::*;
use apalis_postgres::{Config as QueueConfig, PostgresStorage, Pubsub};
use sqlx::PgPool;

use crate::db::Db;

use serde::{Serialize, de::DeserializeOwned};

use super::queue::{
    ABSENCE_ATTEMPTS, ABSENCE_QUEUE, AbsenceJob, CHAT_ATTEMPTS, CHAT_QUEUE, ChatJob,
    REPORT_ATTEMPTS, REPORT_QUEUE, ReportJob, purge_finished,
};

/// What runs a job of type `J`: (database, job, is this the last attempt).
pub type Handler<J> = Arc<
    dyn Fn(Db, J, bool) -> Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send>> + Send + Sync,
>;
pub type ReportHandler = Handler<ReportJob>;
pub type AbsenceHandler = Handler<AbsenceJob>;

/// The handlers of every queue.
pub struct Handlers {
    pub reports: ReportHandler,
    pub absences: AbsenceHandler,
    pub chat: Handler<ChatJob>,
}

/// WhatsApp messages are small jobs that mostly wait on the network (a send holds no
/// database connection during its call): at 150 ms a call, 16 at once reach a number's
/// 80 messages a second where 4 reached 25 (BENCHMARKS.md).
const CHAT_CONCURRENCY: usize = 16;

/// How one queue is worked.
#[derive(Clone, Copy)]
struct QueueSpec {
    name: &'static str,
    attempts: usize,
}

async fn run_job<J>(
    job: J,
    db: Data<Db>,
    handler: Data<Handler<J>>,
    spec: Data<QueueSpec>,
    attempt: Attempt,
) -> Result<(), BoxDynError>
where
    J: Send + Sync + 'static,
{
    let last = attempt.current() >= spec.attempts;
    (*handler)((*db).clone(), job, last)
        .await
        .map_err(Into::into)
}

/// Runs the job workers until `shutdown` resolves: woken by LISTEN/NOTIFY within
/// milliseconds, with a one-second tick as a fallback; `concurrency` report jobs at a time
/// (absence jobs are small and run one at a time). A worker that stops on a database error
/// (apalis does not restart it) is started again.
pub async fn run_workers(
    db: Db,
    concurrency: usize,
    handlers: Handlers,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    let _janitor = AbortOnDrop(tokio::spawn(janitor(db.main().clone())));
    let reports = run_queue(
        db.clone(),
        QueueSpec {
            name: REPORT_QUEUE,
            attempts: REPORT_ATTEMPTS,
        },
        concurrency,
        handlers.reports,
        stop_rx.clone(),
    );
    let absences = run_queue(
        db.clone(),
        QueueSpec {
            name: ABSENCE_QUEUE,
            attempts: ABSENCE_ATTEMPTS,
        },
        1,
        handlers.absences,
        stop_rx.clone(),
    );

    let chat = run_queue(
        db,
        QueueSpec {
            name: CHAT_QUEUE,
            attempts: CHAT_ATTEMPTS,
        },
        CHAT_CONCURRENCY,
        handlers.chat,
        stop_rx,
    );
    let (r, a, c) = tokio::join!(reports, absences, chat);
    r.and(a).and(c)
}

async fn run_queue<J>(
    db: Db,
    spec: QueueSpec,
    concurrency: usize,
    handler: Handler<J>,
    stop_rx: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<()>
where
    J: Serialize + DeserializeOwned + Send + Sync + Unpin + 'static,
{
    loop {
        let mut stop = stop_rx.clone();
        if *stop.borrow() {
            return Ok(());
        }
        // The queue's own tables are on the main pool; jobs reach schools through `db`.
        let pool = db.main();
        let storage = PostgresStorage::<J>::new(pool).with_config(
            QueueConfig::default()
                .queue(spec.name)
                .batch_size(concurrency)
                .heartbeat_interval(Duration::from_secs(10))
                .missed_heartbeats(3),
        );
        // Names must be unique per start: apalis refuses a name that is still registered.
        let worker = WorkerBuilder::new(format!("{}-{}", spec.name, uuid::Uuid::new_v4()))
            .backend(storage.poll_with_strategy(NotifyOrTick::new(
                pool,
                spec.name,
                Duration::from_secs(1),
            )))
            .data(db.clone())
            .data(handler.clone())
            .data(spec)
            .concurrency(concurrency)
            .catch_panic()
            .build(run_job::<J>);
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
                tracing::error!(error = %e, queue = spec.name, "job worker stopped; restarting in 5 s");
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
            Err(e) => {
                tracing::error!(error = %e, queue = spec.name, "job worker stopped; restarting in 5 s");
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
