//! The job workers with this application's handlers (top floor: it wires domains into the
//! job infrastructure).

use std::{future::Future, sync::Arc, time::Duration};

use sqlx::PgPool;

use crate::{
    assessment::batch,
    attendance::absences,
    auth::{throttle, tokens},
    chatbot::{alerts, inbound, sender, sender::Channel},
    config::WhatsAppConfig,
    db::Db,
    jobs::{
        queue::ChatJob,
        worker::{Handlers, run_workers},
    },
};

/// Runs the job workers and the hourly clean-up until `shutdown` resolves.
pub async fn run(
    db: Db,
    concurrency: usize,
    login_window: Duration,
    whatsapp: WhatsAppConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let channel = Arc::new(Channel::new(whatsapp)?);
    let handlers = Handlers {
        reports: Arc::new(|pool, job, last| {
            Box::pin(async move { batch::run(&pool, &job, last).await })
        }),
        absences: Arc::new(|pool, job, _last| {
            Box::pin(async move { absences::run_job(&pool, &job).await })
        }),
        chat: Arc::new(move |pool, job, last| {
            let channel = channel.clone();
            Box::pin(async move {
                match job {
                    ChatJob::Inbound(job) => {
                        inbound::run_job(pool.main(), &channel.config, &job, last).await
                    }
                    ChatJob::Send(job) => sender::run_job(&pool, &channel, &job, last).await,
                    ChatJob::Alert(job) => {
                        alerts::run_job(pool.main(), &channel.config, &job).await
                    }
                }
            })
        }),
    };
    let cleaner = tokio::spawn(clean_up_hourly(db.main().clone(), login_window));
    let outcome = run_workers(db, concurrency, handlers, shutdown).await;
    cleaner.abort();
    outcome
}

async fn clean_up_hourly(pool: PgPool, login_window: Duration) {
    let mut tick = tokio::time::interval(Duration::from_secs(3600));
    loop {
        tick.tick().await;
        clean_up(&pool, login_window).await;
    }
}

/// Deletes sign-in records nobody needs any more: expired refresh tokens and throttle
/// counters whose window has ended. Errors are logged; the next hour tries again.
pub async fn clean_up(pool: &PgPool, login_window: Duration) {
    let now = chrono::Utc::now();
    match tokens::purge_expired(pool, now).await {
        Ok(n) => tracing::debug!(deleted = n, "purged expired refresh tokens"),
        Err(e) => tracing::warn!(error = %e, "could not purge expired refresh tokens"),
    }
    match throttle::purge_stale(pool, login_window, now).await {
        Ok(n) => tracing::debug!(deleted = n, "purged old sign-in throttle counters"),
        Err(e) => tracing::warn!(error = %e, "could not purge sign-in throttle counters"),
    }
    match crate::chatbot::inbound::purge_processed(pool).await {
        Ok(n) => tracing::debug!(deleted = n, "purged processed WhatsApp deliveries"),
        Err(e) => tracing::warn!(error = %e, "could not purge WhatsApp deliveries"),
    }
    match crate::web::once::purge(pool).await {
        Ok(n) => tracing::debug!(deleted = n, "purged old form submissions"),
        Err(e) => tracing::warn!(error = %e, "could not purge form submissions"),
    }
}
