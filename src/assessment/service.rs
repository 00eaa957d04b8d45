//! Assessment rules shared by the JSON and HTML adapters.

use serde_json::json;

use super::{
    broadsheet::{self, Broadsheet, Paper},
    exams::{self, ExamSession, ExamSessionInput, ExamSessionStatus},
    pdf,
    progress::{self, ExamProgress},
    results, stored,
};
use crate::{
    audit::views::{Pupils, ViewKind},
    context::SchoolCtx,
    error::{AppError, AppResult},
};

/// Changes an exam session's name or status. Closing or publishing while marks are
/// outstanding needs `confirm_outstanding` (the refusal names what is outstanding); the
/// confirmation is recorded, and lets positions be given to pupils with outstanding marks.
/// Reopening (or back to draft) clears it.
pub async fn update_exam_session(
    ctx: &mut SchoolCtx,
    id: i64,
    input: &ExamSessionInput,
) -> AppResult<ExamSession> {
    exams::lock_exam_session(&mut ctx.tx, id).await?;
    let before = exams::exam_session(&mut ctx.tx, id).await?;
    let to = input.status.as_deref().and_then(ExamSessionStatus::parse);
    let mut confirmed_outstanding = None;
    if to == Some(ExamSessionStatus::Published) {
        let reopened: Vec<String> = sqlx::query_scalar(
            "SELECT c.name || ' ' || s.name FROM exams e
               JOIN academic_classes ac ON ac.id = e.academic_class_id JOIN classes c ON c.id = ac.class_id
               JOIN subjects s ON s.id = e.subject_id
              WHERE e.exam_session_id = $1 AND e.reopened_at IS NOT NULL
              ORDER BY 1",
        )
        .bind(id)
        .fetch_all(&mut *ctx.tx)
        .await?;
        if !reopened.is_empty() {
            return Err(AppError::Conflict(format!(
                "Reopened for corrections: {}. Close them again before publishing.",
                reopened.join(", ")
            )));
        }
    }
    if matches!(
        to,
        Some(ExamSessionStatus::Open | ExamSessionStatus::Draft | ExamSessionStatus::Closed)
    ) && to != Some(before.status)
    {
        // Reopening or closing the whole session ends any per-subject corrections.
        sqlx::query(
            "UPDATE exams SET reopened_at = NULL, reopened_by = NULL WHERE exam_session_id = $1",
        )
        .bind(id)
        .execute(&mut *ctx.tx)
        .await?;
    }
    match to {
        Some(status @ (ExamSessionStatus::Closed | ExamSessionStatus::Published))
            if status != before.status && before.outstanding_confirmed_at.is_none() =>
        {
            let all = progress::exams(&mut ctx.tx, id, None).await?;
            let outstanding: Vec<&ExamProgress> =
                all.iter().filter(|e| e.outstanding > 0).collect();
            if !outstanding.is_empty() {
                let what = progress::describe(&outstanding);
                if input.confirm_outstanding != Some(true) {
                    let verb = if status == ExamSessionStatus::Closed {
                        "close"
                    } else {
                        "publish"
                    };
                    return Err(AppError::Conflict(format!(
                        "{what} Enter them first, or confirm to {verb} anyway: pupils with outstanding marks are then ranked on the marks they have."
                    )));
                }
                sqlx::query(
                    "UPDATE exam_sessions SET outstanding_confirmed_at = $2, outstanding_confirmed_by = $3 WHERE id = $1",
                )
                .bind(id)
                .bind(ctx.now)
                .bind(ctx.user.id)
                .execute(&mut *ctx.tx)
                .await?;
                confirmed_outstanding = Some(what);
            }
        }
        Some(ExamSessionStatus::Open | ExamSessionStatus::Draft) => {
            sqlx::query(
                "UPDATE exam_sessions SET outstanding_confirmed_at = NULL, outstanding_confirmed_by = NULL WHERE id = $1",
            )
            .bind(id)
            .execute(&mut *ctx.tx)
            .await?;
        }
        _ => {}
    }
    let after = exams::save_exam_session(&mut ctx.tx, Some(id), input, ctx.now).await?;
    let mut changes = crate::audit::trail::diff(
        &serde_json::to_value(&before).unwrap_or_default(),
        &serde_json::to_value(&after).unwrap_or_default(),
    );
    if let (Some(what), Some(map)) = (confirmed_outstanding, changes.as_object_mut()) {
        map.insert("confirmed_outstanding".into(), json!(what));
    }
    ctx.audit("update", "exam_session", id, changes).await?;
    if after.status == ExamSessionStatus::Published && before.status != ExamSessionStatus::Published
    {
        // What publishing computed is what every reader gets until it is unpublished (the
        // update above forgot anything stored before, by trigger, as unpublishing does).
        stored::store_all_results(&mut ctx.tx, &after, ctx.now).await?;
        // Parents hear that results are out (WhatsApp), once the publication commits.
        let job = crate::jobs::queue::AlertJob {
            schema: ctx.school.schema.to_string(),
            alert: crate::jobs::queue::ParentAlert::ResultsOut {
                exam_session_id: id,
            },
        };
        crate::jobs::queue::push_chat(
            &mut ctx.tx,
            crate::jobs::queue::ChatJob::Alert(job),
            crate::jobs::queue::Urgency::Bulk,
            None,
        )
        .await?;
    }
    Ok(after)
}

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

/// One pupil's report card in exam session `id` as an A4 PDF and its file name: rendered
/// (off the async threads, like the batch), or as stored once the session is published.
pub async fn pupil_pdf(
    ctx: &mut SchoolCtx,
    id: i64,
    registration: i64,
) -> AppResult<(Vec<u8>, String)> {
    let es = exams::exam_session(&mut ctx.tx, id).await?;
    let today = ctx.local(ctx.now).date_naive();
    // A stored card was stored for a registration checked to be in this session.
    let card =
        match stored::stored_card(&mut ctx.tx, &es, registration, &ctx.school.name, today).await? {
            Some(card) => card,
            None => {
                let class = registration_class(ctx, &es, registration).await?;
                stored::card_pdf(
                    &mut ctx.tx,
                    &ctx.school.name,
                    &es,
                    class,
                    registration,
                    today,
                    ctx.now,
                )
                .await?
            }
        };
    ctx.record_view(
        ViewKind::ReportCard,
        &format!("Report card, {} {}", es.term_name, es.session_name),
        Pupils::Registrations(&[registration]),
    )
    .await?;
    let name = card.admission_no.replace(['/', '\\', '"'], "-");
    Ok((card.pdf, format!("report-{name}.pdf")))
}

/// Which exams a correction applies to: one exam, or every exam of one class.
#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CorrectionsInput {
    /// One subject of one class.
    #[serde(default)]
    pub exam_id: Option<i64>,
    /// Every subject of this class.
    #[serde(default)]
    pub academic_class_id: Option<i64>,
    /// `true` reopens for corrections, `false` closes again.
    pub open: bool,
}

/// Reopens exams of a closed exam session for corrections (or closes them again) without
/// reopening the whole session; audited per exam. Returns how many changed.
pub async fn corrections(
    ctx: &mut SchoolCtx,
    exam_session_id: i64,
    input: &CorrectionsInput,
) -> AppResult<usize> {
    exams::lock_exam_session(&mut ctx.tx, exam_session_id).await?;
    let es = exams::exam_session(&mut ctx.tx, exam_session_id).await?;
    if es.status != ExamSessionStatus::Closed {
        return Err(AppError::Conflict(format!(
            "{} is {}: only a closed exam session has subjects reopened one by one.",
            es.name, es.status
        )));
    }
    if input.exam_id.is_none() == input.academic_class_id.is_none() {
        return Err(AppError::field(
            "exam_id",
            "Give either an exam (one subject of a class) or a class.",
        ));
    }
    if let Some(exam) = input.exam_id {
        let e = exams::exam(&mut ctx.tx, exam).await?;
        if e.exam_session_id != exam_session_id {
            return Err(AppError::NotFound(
                "No such exam in this exam session.".into(),
            ));
        }
    }
    if let Some(class) = input.academic_class_id {
        ensure_class_in_session(ctx, &es, class).await?;
    }
    let changed = exams::set_reopened(
        &mut ctx.tx,
        exam_session_id,
        input.exam_id,
        input.academic_class_id,
        input.open,
        ctx.user.id,
        ctx.now,
    )
    .await?;
    let action = if input.open { "reopen" } else { "close" };
    for (id, exam) in &changed {
        ctx.audit(
            action,
            "exam",
            id,
            json!({"exam": exam, "exam_session": es.name}),
        )
        .await?;
    }
    Ok(changed.len())
}

/// The broadsheet of a class in exam session `id`; 404 for a class outside its academic
/// session.
pub async fn broadsheet(
    ctx: &mut SchoolCtx,
    id: i64,
    academic_class_id: i64,
) -> AppResult<Broadsheet> {
    let es = exams::exam_session(&mut ctx.tx, id).await?;
    ensure_class_in_session(ctx, &es, academic_class_id).await?;
    let generated_at = ctx.local(ctx.now);
    Ok(broadsheet::load(
        &mut ctx.tx,
        &ctx.school.name,
        es,
        academic_class_id,
        generated_at,
    )
    .await?)
}

/// A class's results (as stored once the session is published), recorded as viewed by this
/// user for each pupil in them. The caller checks the class is in the session.
pub async fn class_results(
    ctx: &mut SchoolCtx,
    es: &ExamSession,
    academic_class_id: i64,
) -> AppResult<results::ClassResults> {
    let results = stored::class_results(&mut ctx.tx, es, academic_class_id, ctx.now).await?;
    let registrations: Vec<i64> = results.pupils.iter().map(|p| p.registration).collect();
    record_results_view(ctx, es, &registrations).await?;
    Ok(results)
}

/// The JSON body of a class's results, as stored once the session is published (the bytes
/// go out as they are), recorded as viewed like [`class_results`]. 404 for a class outside
/// the session's academic session.
pub async fn class_results_body(
    ctx: &mut SchoolCtx,
    es: &ExamSession,
    academic_class_id: i64,
) -> AppResult<Vec<u8>> {
    // A stored row exists only for a class that was checked to be in the session.
    let body = match stored::stored_results(&mut ctx.tx, es, academic_class_id).await? {
        Some(body) => body,
        None => {
            ensure_class_in_session(ctx, es, academic_class_id).await?;
            stored::results_body(&mut ctx.tx, es, academic_class_id, ctx.now).await?
        }
    };
    record_results_view(ctx, es, &body.registrations).await?;
    Ok(body.body)
}

async fn record_results_view(
    ctx: &mut SchoolCtx,
    es: &ExamSession,
    registrations: &[i64],
) -> AppResult<()> {
    ctx.record_view(
        ViewKind::Results,
        &format!("Results, {} {}", es.term_name, es.session_name),
        Pupils::Registrations(registrations),
    )
    .await
}

async fn record_broadsheet(ctx: &mut SchoolCtx, sheet: &Broadsheet) -> AppResult<()> {
    let es = &sheet.exam_session;
    let registrations: Vec<i64> = sheet
        .results
        .pupils
        .iter()
        .map(|p| p.registration)
        .collect();
    ctx.record_view(
        ViewKind::Broadsheet,
        &format!("Broadsheet, {} {}", es.term_name, es.session_name),
        Pupils::Registrations(&registrations),
    )
    .await
}

/// The broadsheet as a landscape PDF (rendered off the async threads) and its file name.
pub async fn broadsheet_pdf(
    ctx: &mut SchoolCtx,
    id: i64,
    academic_class_id: i64,
    paper: Option<Paper>,
) -> AppResult<(Vec<u8>, String)> {
    let sheet = broadsheet(ctx, id, academic_class_id).await?;
    record_broadsheet(ctx, &sheet).await?;
    let name = sheet.file_name("pdf");
    let bytes = tokio::task::spawn_blocking(move || pdf::render_broadsheet(&sheet, paper))
        .await
        .map_err(|e| AppError::Internal(e.into()))?
        .map_err(|e| AppError::Internal(e.into()))?;
    Ok((bytes, name))
}

/// The broadsheet as an `.xlsx` workbook and its file name.
pub async fn broadsheet_xlsx(
    ctx: &mut SchoolCtx,
    id: i64,
    academic_class_id: i64,
) -> AppResult<(Vec<u8>, String)> {
    let sheet = broadsheet(ctx, id, academic_class_id).await?;
    record_broadsheet(ctx, &sheet).await?;
    let bytes = broadsheet::workbook(&sheet).map_err(|e| AppError::Internal(e.into()))?;
    Ok((bytes, sheet.file_name("xlsx")))
}
