//! The job workers with this application's handlers (top floor: it wires domains into the
//! job infrastructure).

use std::{future::Future, sync::Arc};

use sqlx::PgPool;

use crate::{
    assessment::batch,
    jobs::worker::{ReportHandler, run_workers},
};

/// Runs the job workers until `shutdown` resolves.
pub async fn run(
    pool: PgPool,
    concurrency: usize,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let handler: ReportHandler =
        Arc::new(|pool, job, last| Box::pin(async move { batch::run(&pool, &job, last).await }));
    run_workers(pool, concurrency, handler, shutdown).await
}
