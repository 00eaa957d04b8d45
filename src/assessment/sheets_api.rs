//! Spreadsheets and printouts over the API: a class's broadsheet (landscape PDF, `.xlsx`)
//! and its meeting summary; an exam's mark sheet out (`.xlsx`, CSV) and back in.
//!
//! The upload is one endpoint: `POST /exams/{id}/marks/import` with the file as the body.
//! `?dry_run=true` checks it and answers with what saving would change; without it the
//! same checks run and, when every cell is fine, the marks are saved in one go. A bad cell
//! means nothing is saved and a 422 naming each cell ("C7") with its problem.

use axum::{
    Json,
    body::Body,
    http::{HeaderMap, header},
    response::Response,
};
use futures::StreamExt;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    broadsheet::{BroadsheetQuery, MeetingSummary},
    exams,
    mark_sheets::{self, MAX_FILE_BYTES, MarkImport, Mode, XLSX},
    marks, service,
};
use crate::{
    context::SchoolCtx,
    error::{AppError, AppResult, ErrorBody},
    http::{ApiPath, ApiQuery, download},
    permissions::{access::guard_exact, catalogue::Action},
    state::AppState,
};

/// The class's broadsheet as a landscape PDF: every pupil with every subject (abbreviated),
/// totals, averages, grades and positions, the subject statistics, then the results
/// meeting's summary. A4 unless the subjects need A3 (or `?paper=`).
#[utoipa::path(get, path = "/api/v1/school/exam-sessions/{id}/results/broadsheet.pdf", tag = "school-assessment", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Exam session id"), BroadsheetQuery),
    responses((status = 200, description = "application/pdf", content_type = "application/pdf"),
        (status = 404, description = "Not found", body = ErrorBody), (status = 422, description = "Bad paper", body = ErrorBody)))]
async fn broadsheet_pdf(
    mut ctx: SchoolCtx,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<BroadsheetQuery>,
) -> AppResult<Response> {
    let paper = q.paper()?;
    let (bytes, name) = service::broadsheet_pdf(&mut ctx, id, q.academic_class, paper).await?;
    ctx.commit().await?;
    Ok(download::inline_pdf(&name, bytes))
}

/// The class's broadsheet as an `.xlsx` workbook: sheet "Broadsheet" (figures as numbers)
/// and sheet "Summary".
#[utoipa::path(get, path = "/api/v1/school/exam-sessions/{id}/results/broadsheet.xlsx", tag = "school-assessment", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Exam session id"), BroadsheetQuery),
    responses((status = 200, description = "The workbook", content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        (status = 404, description = "Not found", body = ErrorBody)))]
async fn broadsheet_xlsx(
    mut ctx: SchoolCtx,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<BroadsheetQuery>,
) -> AppResult<Response> {
    let (bytes, name) = service::broadsheet_xlsx(&mut ctx, id, q.academic_class).await?;
    ctx.commit().await?;
    Ok(download::xlsx(&name, bytes))
}

/// The results meeting's summary of a class: per subject the pass rate and grade
/// distribution, the same over the pupils' averages, and the top pupils.
#[utoipa::path(get, path = "/api/v1/school/exam-sessions/{id}/results/summary/", tag = "school-assessment", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Exam session id"), BroadsheetQuery),
    responses((status = 200, description = "The summary", body = MeetingSummary), (status = 404, description = "Not found", body = ErrorBody)))]
async fn results_summary(
    mut ctx: SchoolCtx,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<BroadsheetQuery>,
) -> AppResult<Json<MeetingSummary>> {
    Ok(Json(
        service::broadsheet(&mut ctx, id, q.academic_class)
            .await?
            .summary,
    ))
}

/// The exam's mark sheet as an `.xlsx` workbook to fill in and upload back.
#[utoipa::path(get, path = "/api/v1/school/exams/{id}/marks/export.xlsx", tag = "school-assessment", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Exam id")),
    responses((status = 200, description = "The workbook", content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        (status = 404, description = "Not found", body = ErrorBody)))]
async fn export_xlsx(mut ctx: SchoolCtx, ApiPath(id): ApiPath<i64>) -> AppResult<Response> {
    let (sheet, es, _) = marks::sheet_in_session(&mut ctx, id).await?;
    ctx.commit().await?;
    let bytes = mark_sheets::to_xlsx(&sheet, &es).map_err(|e| AppError::Internal(e.into()))?;
    Ok(download::xlsx(
        &mark_sheets::file_name(&sheet.exam, &es, "xlsx"),
        bytes,
    ))
}

/// The exam's mark sheet as CSV (UTF-8), the same cells as the workbook.
#[utoipa::path(get, path = "/api/v1/school/exams/{id}/marks/export.csv", tag = "school-assessment", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Exam id")),
    responses((status = 200, description = "text/csv", content_type = "text/csv"), (status = 404, description = "Not found", body = ErrorBody)))]
async fn export_csv(mut ctx: SchoolCtx, ApiPath(id): ApiPath<i64>) -> AppResult<Response> {
    let (sheet, es, _) = marks::sheet_in_session(&mut ctx, id).await?;
    ctx.commit().await?;
    Ok(download::csv(
        &mark_sheets::file_name(&sheet.exam, &es, "csv"),
        mark_sheets::to_csv(&sheet, &es),
    ))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MarkImportParams {
    /// Check the file and answer with what saving it would change, saving nothing.
    pub dry_run: Option<bool>,
}

/// Content types an upload may come with (Windows labels CSV as `application/vnd.ms-excel`).
const UPLOAD_TYPES: [&str; 6] = [
    XLSX,
    "application/octet-stream",
    "text/csv",
    "text/plain",
    "application/csv",
    "application/vnd.ms-excel",
];

/// The request body, at most `MAX_FILE_BYTES`, with one of `UPLOAD_TYPES`.
async fn read_body(headers: &HeaderMap, body: Body) -> AppResult<Vec<u8>> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        });
    if !content_type.is_some_and(|ct| UPLOAD_TYPES.contains(&ct.as_str())) {
        return Err(AppError::UnsupportedMediaType(format!(
            "Send the file itself as the body, with `Content-Type: {XLSX}` for a workbook or `text/csv` for CSV."
        )));
    }
    let mut stream = body.into_data_stream();
    let mut bytes = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk =
            chunk.map_err(|_| AppError::BadRequest("The upload could not be read.".into()))?;
        if bytes.len() + chunk.len() > MAX_FILE_BYTES {
            return Err(AppError::PayloadTooLarge);
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// The problems of an upload as the 422 the API answers with.
fn problems(preview: MarkImport) -> AppError {
    let n = preview.errors.len();
    AppError::Validation {
        detail: format!(
            "{n} {} a problem; nothing was saved.",
            if n == 1 { "cell has" } else { "cells have" }
        ),
        errors: preview.errors,
    }
}

/// Uploads a filled-in mark sheet (`.xlsx` or CSV, at most 1 MB) as the request body.
/// Rows are matched by admission number; a component, ABS or Remark column present is
/// taken as the truth for its cells (a blank score clears it), a column left out changes
/// nothing, other columns are ignored. The rules of `POST /exams/{id}/marks/` apply: the
/// subject teacher or `change_marks`, the exam session open, every cell valid or nothing
/// saved (422 keyed by cell, e.g. `"C7"`).
#[utoipa::path(post, path = "/api/v1/school/exams/{id}/marks/import", tag = "school-assessment", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Exam id"), MarkImportParams),
    request_body(content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", description = "The mark sheet (as downloaded from export.xlsx or export.csv, filled in); CSV with `Content-Type: text/csv`"),
    responses((status = 200, description = "Saved, or (dry run) what would be saved", body = MarkImport),
        (status = 403, description = "Not the subject teacher", body = ErrorBody), (status = 409, description = "Exam session not open", body = ErrorBody),
        (status = 413, description = "Larger than 1 MB", body = ErrorBody), (status = 415, description = "Not a spreadsheet", body = ErrorBody),
        (status = 422, description = "Bad cells, named; nothing saved", body = ErrorBody)))]
async fn import_marks(
    mut ctx: SchoolCtx,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<MarkImportParams>,
    headers: HeaderMap,
    body: Body,
) -> AppResult<Json<MarkImport>> {
    // The exam first: an unknown one is a 404 whatever the body.
    exams::exam(&mut ctx.tx, id).await?;
    let bytes = read_body(&headers, body).await?;
    let grid = mark_sheets::read_file(&bytes)?;
    let mode = if q.dry_run == Some(true) {
        Mode::Preview
    } else {
        Mode::Save
    };
    let preview = mark_sheets::import(&mut ctx, id, &grid, mode).await?;
    if !preview.errors.is_empty() {
        return Err(problems(preview));
    }
    if preview.saved {
        ctx.commit().await?;
    }
    Ok(Json(preview))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(
            OpenApiRouter::new()
                .routes(routes!(broadsheet_pdf))
                .routes(routes!(broadsheet_xlsx))
                .routes(routes!(results_summary))
                .layer(guard_exact(Action::View, "results")),
        )
        .merge(
            // Saving is checked in `marks::save`, as for the grid.
            OpenApiRouter::new()
                .routes(routes!(export_xlsx))
                .routes(routes!(export_csv))
                .routes(routes!(import_marks))
                .layer(guard_exact(Action::View, "marks")),
        )
}
