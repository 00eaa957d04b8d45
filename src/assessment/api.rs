//! `/api/v1/school/exam-sessions/…`, `/exams/{id}/marks/`, results, report cards, comments
//! and the assessment settings.

use axum::{
    Json,
    http::{StatusCode, Uri, header},
    response::{IntoResponse, Response},
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    comments::{
        self, BankComment, BankCommentInput, PupilComments, PupilCommentsInput, RatingTrait,
        RatingTraitInput,
    },
    config::{self, Component, GradeBand, GradingScale, ReportSettings, ReportSettingsInput},
    exams::{self, Exam, ExamInput, ExamSession, ExamSessionInput},
    marks::{self, MarkInput, MarkSheet, SaveSummary},
    results::ClassResults,
    service,
    taking::{self, PupilSubjects, PupilSubjectsInput},
};
use crate::{
    audit,
    context::SchoolCtx,
    error::{AppResult, ErrorBody},
    http::download,
    http::{ApiJson, ApiPath, ApiQuery, Page, PageParams},
    permissions::{
        access::{guard, guard_exact},
        catalogue::Action,
    },
    state::AppState,
};

fn to_value<T: Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or_default()
}

// ---- subjects taken ----

/// The class's subjects with whether this pupil takes each: core subjects unless exempted,
/// electives when registered for them.
#[utoipa::path(get, path = "/api/v1/school/sessions/{id}/classes/{class_id}/registrations/{registration_id}/subjects/",
    tag = "school-students", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Session id"), ("class_id" = i64, Path, description = "Academic class id"), ("registration_id" = i64, Path, description = "Registration id")),
    responses((status = 200, description = "OK", body = PupilSubjects), (status = 404, description = "Not found", body = ErrorBody)))]
async fn get_pupil_subjects(
    mut ctx: SchoolCtx,
    ApiPath((s, ac, reg)): ApiPath<(i64, i64, i64)>,
) -> AppResult<Json<PupilSubjects>> {
    crate::academics::db::academic_class(&mut ctx.tx, s, ac).await?;
    Ok(Json(taking::pupil_subjects(&mut ctx.tx, ac, reg).await?))
}

/// Replaces the pupil's electives and exemptions among the class's subjects. Dropping a
/// subject that already holds the pupil's marks this session is refused (409).
#[utoipa::path(put, path = "/api/v1/school/sessions/{id}/classes/{class_id}/registrations/{registration_id}/subjects/",
    tag = "school-students", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Session id"), ("class_id" = i64, Path, description = "Academic class id"), ("registration_id" = i64, Path, description = "Registration id")),
    request_body = PupilSubjectsInput,
    responses((status = 200, description = "Saved", body = PupilSubjects), (status = 404, description = "Not found", body = ErrorBody),
        (status = 409, description = "The pupil has marks in a subject dropped, or has left the class", body = ErrorBody),
        (status = 422, description = "Validation failed", body = ErrorBody)))]
async fn put_pupil_subjects(
    mut ctx: SchoolCtx,
    ApiPath((s, ac, reg)): ApiPath<(i64, i64, i64)>,
    ApiJson(input): ApiJson<PupilSubjectsInput>,
) -> AppResult<Json<PupilSubjects>> {
    crate::academics::db::academic_class(&mut ctx.tx, s, ac).await?;
    let saved = taking::save(&mut ctx, ac, reg, &input).await?;
    ctx.commit().await?;
    Ok(Json(saved))
}

// ---- exam sessions ----

#[derive(Serialize, ToSchema)]
pub struct CorrectionsDone {
    /// Exams reopened (or closed again).
    pub changed: usize,
}

/// Reopens one subject of one class (`exam_id`), or every subject of one class
/// (`academic_class_id`), of a closed exam session for corrections — or closes them again
/// (`open: false`). Publishing waits until every correction is closed.
#[utoipa::path(post, path = "/api/v1/school/exam-sessions/{id}/corrections/", tag = "school-assessment", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Exam session id")),
    request_body = service::CorrectionsInput,
    responses((status = 200, description = "Done", body = CorrectionsDone), (status = 404, description = "Not found", body = ErrorBody),
        (status = 409, description = "The exam session is not closed", body = ErrorBody), (status = 422, description = "Validation failed", body = ErrorBody)))]
async fn post_corrections(
    mut ctx: SchoolCtx,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<service::CorrectionsInput>,
) -> AppResult<Json<CorrectionsDone>> {
    let changed = service::corrections(&mut ctx, id, &input).await?;
    ctx.commit().await?;
    Ok(Json(CorrectionsDone { changed }))
}

#[utoipa::path(get, path = "/api/v1/school/exam-sessions/", tag = "school-assessment", security(("bearer" = [])),
    params(PageParams),
    responses((status = 200, description = "OK", body = Page<ExamSession>), (status = 403, description = "Not allowed", body = ErrorBody)))]
async fn list_exam_sessions(
    mut ctx: SchoolCtx,
    uri: Uri,
    ApiQuery(paging): ApiQuery<PageParams>,
) -> AppResult<Json<Page<ExamSession>>> {
    let all = exams::exam_sessions(&mut ctx.tx).await?;
    Ok(Json(Page::of_all(all, &paging, &uri)?))
}

#[utoipa::path(post, path = "/api/v1/school/exam-sessions/", tag = "school-assessment", security(("bearer" = [])),
    request_body = ExamSessionInput,
    responses((status = 201, description = "Created", body = ExamSession), (status = 422, description = "Validation failed", body = ErrorBody)))]
async fn create_exam_session(
    mut ctx: SchoolCtx,
    ApiJson(input): ApiJson<ExamSessionInput>,
) -> AppResult<(StatusCode, Json<ExamSession>)> {
    let es = exams::save_exam_session(&mut ctx.tx, None, &input, ctx.now).await?;
    ctx.audit_created("exam_session", es.id, &es).await?;
    ctx.commit().await?;
    Ok((StatusCode::CREATED, Json(es)))
}

#[utoipa::path(get, path = "/api/v1/school/exam-sessions/{id}/", tag = "school-assessment", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Exam session id")),
    responses((status = 200, description = "OK", body = ExamSession), (status = 404, description = "Not found", body = ErrorBody)))]
async fn get_exam_session(
    mut ctx: SchoolCtx,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Json<ExamSession>> {
    Ok(Json(exams::exam_session(&mut ctx.tx, id).await?))
}

/// Renames the session or moves it through draft → open → closed → published (any step
/// back is allowed too, e.g. reopening to correct a mark).
#[utoipa::path(patch, path = "/api/v1/school/exam-sessions/{id}/", tag = "school-assessment", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Exam session id")), request_body = ExamSessionInput,
    responses((status = 200, description = "OK", body = ExamSession), (status = 404, description = "Not found", body = ErrorBody), (status = 409, description = "Marks are outstanding: the detail names them; send `confirm_outstanding`", body = ErrorBody), (status = 422, description = "Validation failed", body = ErrorBody)))]
async fn patch_exam_session(
    mut ctx: SchoolCtx,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<ExamSessionInput>,
) -> AppResult<Json<ExamSession>> {
    let after = service::update_exam_session(&mut ctx, id, &input).await?;
    ctx.commit().await?;
    Ok(Json(after))
}

#[utoipa::path(delete, path = "/api/v1/school/exam-sessions/{id}/", tag = "school-assessment", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Exam session id")),
    responses((status = 204, description = "Deleted"), (status = 404, description = "Not found", body = ErrorBody), (status = 409, description = "It has marks", body = ErrorBody)))]
async fn delete_exam_session(
    mut ctx: SchoolCtx,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<StatusCode> {
    let es = exams::delete_exam_session(&mut ctx.tx, id).await?;
    ctx.audit(
        "delete",
        "exam_session",
        id,
        json!({"deleted": to_value(&es)}),
    )
    .await?;
    ctx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- exams ----

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ClassFilter {
    /// An academic class id.
    pub academic_class: Option<i64>,
}

#[utoipa::path(get, path = "/api/v1/school/exam-sessions/{id}/exams/", tag = "school-assessment", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Exam session id"), ClassFilter, PageParams),
    responses((status = 200, description = "OK", body = Page<Exam>), (status = 404, description = "Not found", body = ErrorBody)))]
async fn list_exams(
    mut ctx: SchoolCtx,
    ApiPath(id): ApiPath<i64>,
    uri: Uri,
    ApiQuery(filter): ApiQuery<ClassFilter>,
    ApiQuery(paging): ApiQuery<PageParams>,
) -> AppResult<Json<Page<Exam>>> {
    exams::exam_session(&mut ctx.tx, id).await?;
    let all = exams::exams(&mut ctx.tx, id, filter.academic_class).await?;
    Ok(Json(Page::of_all(all, &paging, &uri)?))
}

#[utoipa::path(post, path = "/api/v1/school/exam-sessions/{id}/exams/", tag = "school-assessment", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Exam session id")), request_body = ExamInput,
    responses((status = 201, description = "Created", body = Exam), (status = 404, description = "Not found", body = ErrorBody), (status = 422, description = "Validation failed", body = ErrorBody)))]
async fn create_exam(
    mut ctx: SchoolCtx,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<ExamInput>,
) -> AppResult<(StatusCode, Json<Exam>)> {
    let es = exams::exam_session(&mut ctx.tx, id).await?;
    let exam = exams::create_exam(&mut ctx.tx, &es, &input, ctx.now).await?;
    ctx.audit_created("exam", exam.id, &exam).await?;
    ctx.commit().await?;
    Ok((StatusCode::CREATED, Json(exam)))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Generated {
    pub created: i64,
}

/// Sets up an exam for every subject of every class of the session (or of
/// `?academic_class=`), with the school's default components. Exams already there stay.
#[utoipa::path(post, path = "/api/v1/school/exam-sessions/{id}/exams/generate/", tag = "school-assessment", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Exam session id"), ClassFilter),
    responses((status = 200, description = "How many were created", body = Generated), (status = 404, description = "Not found", body = ErrorBody)))]
async fn generate_exams(
    mut ctx: SchoolCtx,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(filter): ApiQuery<ClassFilter>,
) -> AppResult<Json<Generated>> {
    let es = exams::exam_session(&mut ctx.tx, id).await?;
    let created = exams::create_all_exams(&mut ctx.tx, &es, filter.academic_class, ctx.now).await?;
    if created > 0 {
        ctx.audit("create", "exam", id, json!({"generated": created}))
            .await?;
    }
    ctx.commit().await?;
    Ok(Json(Generated { created }))
}

#[utoipa::path(get, path = "/api/v1/school/exams/{id}/", tag = "school-assessment", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Exam id")),
    responses((status = 200, description = "OK", body = Exam), (status = 404, description = "Not found", body = ErrorBody)))]
async fn get_exam(mut ctx: SchoolCtx, ApiPath(id): ApiPath<i64>) -> AppResult<Json<Exam>> {
    Ok(Json(exams::exam(&mut ctx.tx, id).await?))
}

#[utoipa::path(delete, path = "/api/v1/school/exams/{id}/", tag = "school-assessment", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Exam id")),
    responses((status = 204, description = "Deleted"), (status = 404, description = "Not found", body = ErrorBody), (status = 409, description = "It has marks", body = ErrorBody)))]
async fn delete_exam(mut ctx: SchoolCtx, ApiPath(id): ApiPath<i64>) -> AppResult<StatusCode> {
    let exam = exams::delete_exam(&mut ctx.tx, id).await?;
    ctx.audit("delete", "exam", id, json!({"deleted": to_value(&exam)}))
        .await?;
    ctx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- marks ----

#[utoipa::path(get, path = "/api/v1/school/exams/{id}/marks/", tag = "school-assessment", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Exam id")),
    responses((status = 200, description = "Every registered pupil with their scores", body = MarkSheet), (status = 404, description = "Not found", body = ErrorBody)))]
async fn get_marks(mut ctx: SchoolCtx, ApiPath(id): ApiPath<i64>) -> AppResult<Json<MarkSheet>> {
    let sheet = marks::sheet(&mut ctx, id).await?;
    ctx.commit().await?;
    Ok(Json(sheet))
}

/// Saves the scores of many pupils at once: every row is checked first and nothing is saved
/// if any is wrong (422 naming `rows[i].scores.<component>`). Needs the exam session open,
/// and the user to teach the subject or hold `change_marks`.
#[utoipa::path(post, path = "/api/v1/school/exams/{id}/marks/", tag = "school-assessment", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Exam id")), request_body = Vec<MarkInput>,
    responses((status = 200, description = "Saved", body = SaveSummary), (status = 403, description = "Not the subject teacher", body = ErrorBody),
        (status = 409, description = "Exam session not open", body = ErrorBody), (status = 422, description = "A row is not valid; nothing saved", body = ErrorBody)))]
async fn post_marks(
    mut ctx: SchoolCtx,
    ApiPath(id): ApiPath<i64>,
    ApiJson(rows): ApiJson<Vec<MarkInput>>,
) -> AppResult<Json<SaveSummary>> {
    let summary = marks::save(&mut ctx, id, &rows).await?;
    ctx.commit().await?;
    Ok(Json(summary))
}

// ---- results and report cards ----

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ResultsQuery {
    /// The academic class.
    pub academic_class: i64,
}

#[utoipa::path(get, path = "/api/v1/school/exam-sessions/{id}/results/", tag = "school-assessment", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Exam session id"), ResultsQuery),
    responses((status = 200, description = "The class's computed results", body = ClassResults), (status = 404, description = "Not found", body = ErrorBody)))]
async fn get_results(
    mut ctx: SchoolCtx,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<ResultsQuery>,
) -> AppResult<Response> {
    let es = exams::exam_session(&mut ctx.tx, id).await?;
    let body = service::class_results_body(&mut ctx, &es, q.academic_class).await?;
    ctx.commit().await?;
    // The body as stored (or just computed): the same bytes `Json` would write.
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// One pupil's report card as an A4 PDF.
#[utoipa::path(get, path = "/api/v1/school/exam-sessions/{id}/report-cards/{registration}/pdf/", tag = "school-assessment", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Exam session id"), ("registration" = i64, Path, description = "The pupil's registration")),
    responses((status = 200, description = "application/pdf", content_type = "application/pdf"), (status = 404, description = "Not found", body = ErrorBody)))]
async fn report_card_pdf(
    mut ctx: SchoolCtx,
    ApiPath((id, registration)): ApiPath<(i64, i64)>,
) -> AppResult<Response> {
    let (bytes, file_name) = service::pupil_pdf(&mut ctx, id, registration).await?;
    ctx.commit().await?;
    Ok(download::inline_pdf(&file_name, bytes))
}

// ---- comments and ratings ----

#[utoipa::path(get, path = "/api/v1/school/exam-sessions/{id}/comments/", tag = "school-assessment", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Exam session id"), ResultsQuery),
    responses((status = 200, description = "Comments and ratings of every pupil of the class", body = Vec<PupilComments>), (status = 404, description = "Not found", body = ErrorBody)))]
async fn get_comments(
    mut ctx: SchoolCtx,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<ResultsQuery>,
) -> AppResult<Json<Vec<PupilComments>>> {
    let es = exams::exam_session(&mut ctx.tx, id).await?;
    service::ensure_class_in_session(&mut ctx, &es, q.academic_class).await?;
    Ok(Json(
        comments::class_comments(&mut ctx.tx, id, q.academic_class).await?,
    ))
}

/// Saves comments and ratings of many pupils of one class; all or nothing.
#[utoipa::path(post, path = "/api/v1/school/exam-sessions/{id}/comments/", tag = "school-assessment", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Exam session id"), ResultsQuery), request_body = Vec<PupilCommentsInput>,
    responses((status = 200, description = "Saved", body = Vec<PupilComments>), (status = 403, description = "Not the class teacher", body = ErrorBody), (status = 422, description = "A row is not valid; nothing saved", body = ErrorBody)))]
async fn post_comments(
    mut ctx: SchoolCtx,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<ResultsQuery>,
    ApiJson(rows): ApiJson<Vec<PupilCommentsInput>>,
) -> AppResult<Json<Vec<PupilComments>>> {
    let es = exams::exam_session(&mut ctx.tx, id).await?;
    service::ensure_class_in_session(&mut ctx, &es, q.academic_class).await?;
    comments::save_class_comments(&mut ctx, &es, q.academic_class, &rows).await?;
    let saved = comments::class_comments(&mut ctx.tx, id, q.academic_class).await?;
    ctx.commit().await?;
    Ok(Json(saved))
}

#[utoipa::path(get, path = "/api/v1/school/comment-bank/", tag = "school-assessment", security(("bearer" = [])),
    params(PageParams),
    responses((status = 200, description = "Reusable comments", body = Page<BankComment>)))]
async fn list_bank(
    mut ctx: SchoolCtx,
    uri: Uri,
    ApiQuery(paging): ApiQuery<PageParams>,
) -> AppResult<Json<Page<BankComment>>> {
    let all = comments::bank(&mut ctx.tx).await?;
    Ok(Json(Page::of_all(all, &paging, &uri)?))
}

#[utoipa::path(post, path = "/api/v1/school/comment-bank/", tag = "school-assessment", security(("bearer" = [])),
    request_body = BankCommentInput,
    responses((status = 201, description = "Added", body = BankComment), (status = 422, description = "Validation failed", body = ErrorBody)))]
async fn add_bank(
    mut ctx: SchoolCtx,
    ApiJson(input): ApiJson<BankCommentInput>,
) -> AppResult<(StatusCode, Json<BankComment>)> {
    let c = comments::add_to_bank(&mut ctx, &input).await?;
    ctx.commit().await?;
    Ok((StatusCode::CREATED, Json(c)))
}

/// Replaces the comment bank (the texts offered when writing comments).
#[utoipa::path(put, path = "/api/v1/school/comment-bank/", tag = "school-assessment", security(("bearer" = [])),
    request_body = Vec<BankCommentInput>,
    responses((status = 200, description = "Saved", body = Vec<BankComment>), (status = 422, description = "Validation failed", body = ErrorBody)))]
async fn put_bank(
    mut ctx: SchoolCtx,
    ApiJson(list): ApiJson<Vec<BankCommentInput>>,
) -> AppResult<Json<Vec<BankComment>>> {
    let saved = comments::save_bank(&mut ctx.tx, &list, ctx.now).await?;
    ctx.audit("update", "comment_bank", 1, json!({"entries": saved.len()}))
        .await?;
    ctx.commit().await?;
    Ok(Json(saved))
}

/// Replaces the rated traits, in order. A trait with ratings cannot be dropped.
#[utoipa::path(put, path = "/api/v1/school/rating-traits/", tag = "school-assessment", security(("bearer" = [])),
    request_body = Vec<RatingTraitInput>,
    responses((status = 200, description = "Saved", body = Vec<RatingTrait>), (status = 422, description = "Validation failed", body = ErrorBody)))]
async fn put_traits(
    mut ctx: SchoolCtx,
    ApiJson(list): ApiJson<Vec<RatingTraitInput>>,
) -> AppResult<Json<Vec<RatingTrait>>> {
    let before = comments::traits(&mut ctx.tx).await?;
    let saved = comments::save_traits(&mut ctx.tx, &list).await?;
    ctx.audit(
        "update",
        "rating_traits",
        1,
        audit::trail::diff(&to_value(&before), &to_value(&saved)),
    )
    .await?;
    ctx.commit().await?;
    Ok(Json(saved))
}

#[utoipa::path(get, path = "/api/v1/school/rating-traits/", tag = "school-assessment", security(("bearer" = [])),
    params(PageParams),
    responses((status = 200, description = "Affective and psychomotor traits", body = Page<RatingTrait>)))]
async fn list_traits(
    mut ctx: SchoolCtx,
    uri: Uri,
    ApiQuery(paging): ApiQuery<PageParams>,
) -> AppResult<Json<Page<RatingTrait>>> {
    let all = comments::traits(&mut ctx.tx).await?;
    Ok(Json(Page::of_all(all, &paging, &uri)?))
}

// ---- settings ----

#[derive(Debug, Serialize, ToSchema)]
pub struct AssessmentSettings {
    /// Default components of a new exam.
    pub components: Vec<Component>,
    pub grading: GradingScale,
    pub report: ReportSettings,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssessmentSettingsInput {
    /// Replaces the default components (maximum scores adding up to 100).
    pub components: Option<Vec<Component>>,
    /// Replaces the grading scale (one band must start at 0).
    pub grading: Option<Vec<GradeBand>>,
    pub report: Option<ReportSettingsInput>,
}

async fn load_assessment_settings(ctx: &mut SchoolCtx) -> AppResult<AssessmentSettings> {
    Ok(AssessmentSettings {
        components: config::components(&mut ctx.tx).await?,
        grading: config::grading_scale(&mut ctx.tx).await?,
        report: config::report_settings(&mut ctx.tx).await?,
    })
}

#[utoipa::path(get, path = "/api/v1/school/settings/assessment/", tag = "school-settings", security(("bearer" = [])),
    responses((status = 200, description = "Components, grading scale and report settings", body = AssessmentSettings)))]
async fn get_assessment_settings(mut ctx: SchoolCtx) -> AppResult<Json<AssessmentSettings>> {
    Ok(Json(load_assessment_settings(&mut ctx).await?))
}

#[utoipa::path(patch, path = "/api/v1/school/settings/assessment/", tag = "school-settings", security(("bearer" = [])),
    request_body = AssessmentSettingsInput,
    responses((status = 200, description = "Saved", body = AssessmentSettings), (status = 422, description = "Validation failed", body = ErrorBody)))]
async fn patch_assessment_settings(
    mut ctx: SchoolCtx,
    ApiJson(input): ApiJson<AssessmentSettingsInput>,
) -> AppResult<Json<AssessmentSettings>> {
    config::lock(&mut ctx.tx).await?;
    let before = load_assessment_settings(&mut ctx).await?;
    if let Some(list) = &input.components {
        config::save_components(&mut ctx.tx, list).await?;
    }
    if let Some(bands) = &input.grading {
        config::save_grading_scale(&mut ctx.tx, bands).await?;
    }
    if let Some(report) = &input.report {
        config::save_report_settings(&mut ctx.tx, report, ctx.now).await?;
    }
    let after = load_assessment_settings(&mut ctx).await?;
    ctx.audit(
        "update",
        "assessment_settings",
        1,
        audit::trail::diff(&to_value(&before), &to_value(&after)),
    )
    .await?;
    ctx.commit().await?;
    Ok(Json(after))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(
            OpenApiRouter::new()
                .routes(routes!(list_exam_sessions, create_exam_session))
                .routes(routes!(
                    get_exam_session,
                    patch_exam_session,
                    delete_exam_session
                ))
                .layer(guard("exam_sessions")),
        )
        .merge(
            OpenApiRouter::new()
                .routes(routes!(post_corrections))
                .layer(guard_exact(Action::Change, "exam_sessions")),
        )
        .merge(
            OpenApiRouter::new()
                .routes(routes!(get_pupil_subjects, put_pupil_subjects))
                .layer(guard("registrations")),
        )
        .merge(
            OpenApiRouter::new()
                .routes(routes!(list_exams, create_exam))
                .routes(routes!(generate_exams))
                .routes(routes!(get_exam, delete_exam))
                .layer(guard("exams")),
        )
        .merge(
            // Saving is checked in `marks::save`: the subject teacher with add_marks, or
            // anyone with change_marks.
            OpenApiRouter::new()
                .routes(routes!(get_marks, post_marks))
                .layer(guard_exact(Action::View, "marks")),
        )
        .merge(
            OpenApiRouter::new()
                .routes(routes!(get_results))
                .routes(routes!(report_card_pdf))
                .layer(guard_exact(Action::View, "results")),
        )
        .merge(
            OpenApiRouter::new()
                .routes(routes!(get_comments, post_comments))
                .routes(routes!(list_bank, add_bank))
                .routes(routes!(list_traits))
                .layer(guard("comments")),
        )
        .merge(
            OpenApiRouter::new()
                .routes(routes!(get_assessment_settings, patch_assessment_settings))
                .layer(guard("settings")),
        )
        .merge(
            OpenApiRouter::new()
                .routes(routes!(put_bank))
                .routes(routes!(put_traits))
                .layer(guard_exact(Action::Change, "settings")),
        )
}
