//! Printouts over the API: a class's broadsheet (landscape PDF, `.xlsx`) and its results
//! meeting summary.

use axum::{Json, response::Response};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    broadsheet::{BroadsheetQuery, MeetingSummary},
    service,
};
use crate::{
    context::SchoolCtx,
    error::{AppResult, ErrorBody},
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

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(broadsheet_pdf))
        .routes(routes!(broadsheet_xlsx))
        .routes(routes!(results_summary))
        .layer(guard_exact(Action::View, "results"))
}
