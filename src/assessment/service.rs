//! Assessment rules shared by the JSON and HTML adapters.

use super::{
    exams::{self, ExamSession},
    pdf, report, results,
};
use crate::{
    context::SchoolCtx,
    error::{AppError, AppResult},
};

/// Refuses a class that is not in the exam session's academic session.
pub async fn ensure_class_in_session(
    ctx: &mut SchoolCtx,
    es: &ExamSession,
    academic_class_id: i64,
) -> AppResult<()> {
    let ok: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM academic_classes WHERE id = $1 AND session_id = $2)",
    )
    .bind(academic_class_id)
    .bind(es.session_id)
    .fetch_one(&mut *ctx.tx)
    .await?;
    if ok {
        Ok(())
    } else {
        Err(AppError::NotFound(
            "No such class in this exam session's academic session.".into(),
        ))
    }
}

/// The class of a registration, checked to be in the exam session's academic session.
pub async fn registration_class(
    ctx: &mut SchoolCtx,
    es: &ExamSession,
    registration: i64,
) -> AppResult<i64> {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT r.academic_class_id FROM registrations r
          WHERE r.id = $1 AND r.session_id = $3 AND {}",
        results::IN_EXAM_SESSION
    )))
    .bind(registration)
    .bind(es.id)
    .bind(es.session_id)
    .fetch_optional(&mut *ctx.tx)
    .await?
    .ok_or_else(|| AppError::NotFound("No such pupil in this exam session.".into()))
}

/// One pupil's report card in exam session `id` as an A4 PDF (rendered off the async
/// threads, like the batch) and its file name.
pub async fn pupil_pdf(
    ctx: &mut SchoolCtx,
    id: i64,
    registration: i64,
) -> AppResult<(Vec<u8>, String)> {
    let es = exams::exam_session(&mut ctx.tx, id).await?;
    let class = registration_class(ctx, &es, registration).await?;
    let (_, cards) = report::class_cards(
        &mut ctx.tx,
        &ctx.school.name,
        &es,
        class,
        Some(registration),
        true,
    )
    .await?;
    let name = cards
        .first()
        .map(|c| c.pupil.admission_no.replace(['/', '\\', '"'], "-"))
        .unwrap_or_default();
    let bytes = tokio::task::spawn_blocking(move || pdf::render_cards(&cards))
        .await
        .map_err(|e| AppError::Internal(e.into()))?
        .map_err(|e| AppError::Internal(e.into()))?;
    Ok((bytes, format!("report-{name}.pdf")))
}
