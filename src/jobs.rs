//! Background jobs (TEMPORARY: runs in-process until the apalis queue is wired).

use crate::{app::AppState, assessment::batch::ReportJob, error::AppResult};

pub async fn enqueue_report(state: &AppState, job: ReportJob) -> AppResult<()> {
    let pool = state.db.clone();
    tokio::spawn(async move {
        let _ = crate::assessment::batch::run(&pool, &job).await;
    });
    Ok(())
}
