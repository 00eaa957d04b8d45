//! `/api/v1/school/attendance-codes/`, `/calendar/closures/` and `/attendance/`.

use axum::{
    Json,
    http::{StatusCode, Uri},
};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    absences::{self, AbsenceEvent},
    calendar::{self, Closure, ClosureInput, WeekendOpening, WeekendOpeningInput},
    codes::{self, AttendanceCode, AttendanceCodeInput, AttendanceReason, AttendanceReasonInput},
    registers::{self, HistoryEntry, Register, RegisterQuery, RegisterSave},
    reports::{self, ClassSummaryQuery, ClassTermSummary, PupilSummaryQuery, PupilTermSummary},
};
use crate::{
    context::SchoolCtx,
    error::AppResult,
    http::{ApiJson, ApiPath, ApiQuery, Page, PageParams},
    permissions::access::{Guard, guard},
    state::AppState,
};

// ---- codes ----

/// The school's attendance codes, in order (inactive ones too).
#[utoipa::path(get, path = "/api/v1/school/attendance-codes/", tag = "school-attendance", security(("bearer" = [])),
    params(PageParams),
    responses((status = 200, description = "OK", body = Page<AttendanceCode>)))]
async fn list_codes(
    mut ctx: SchoolCtx,
    uri: Uri,
    ApiQuery(paging): ApiQuery<PageParams>,
) -> AppResult<Json<Page<AttendanceCode>>> {
    let all = codes::all(&mut ctx.tx).await?;
    Ok(Json(Page::of_all(all, &paging, &uri)?))
}

/// Adds a code (school settings permission).
#[utoipa::path(post, path = "/api/v1/school/attendance-codes/", tag = "school-attendance", security(("bearer" = [])),
    request_body = AttendanceCodeInput,
    responses((status = 201, description = "Created", body = AttendanceCode)))]
async fn create_code(
    mut ctx: SchoolCtx,
    ApiJson(input): ApiJson<AttendanceCodeInput>,
) -> AppResult<(StatusCode, Json<AttendanceCode>)> {
    let code = codes::save_audited(&mut ctx, None, &input).await?;
    ctx.commit().await?;
    Ok((StatusCode::CREATED, Json(code)))
}

/// Renames, reorders, retires (`is_active: false`) or changes what a code counts as.
#[utoipa::path(patch, path = "/api/v1/school/attendance-codes/{id}/", tag = "school-attendance", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Code id")), request_body = AttendanceCodeInput,
    responses((status = 200, description = "OK", body = AttendanceCode)))]
async fn patch_code(
    mut ctx: SchoolCtx,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<AttendanceCodeInput>,
) -> AppResult<Json<AttendanceCode>> {
    let code = codes::save_audited(&mut ctx, Some(id), &input).await?;
    ctx.commit().await?;
    Ok(Json(code))
}

/// The reasons a mark may carry, in order (retired ones too).
#[utoipa::path(get, path = "/api/v1/school/attendance-reasons/", tag = "school-attendance", security(("bearer" = [])),
    params(PageParams),
    responses((status = 200, description = "OK", body = Page<AttendanceReason>)))]
async fn list_reasons(
    mut ctx: SchoolCtx,
    uri: Uri,
    ApiQuery(paging): ApiQuery<PageParams>,
) -> AppResult<Json<Page<AttendanceReason>>> {
    let all = codes::reasons(&mut ctx.tx).await?;
    Ok(Json(Page::of_all(all, &paging, &uri)?))
}

/// Adds a reason (school settings permission).
#[utoipa::path(post, path = "/api/v1/school/attendance-reasons/", tag = "school-attendance", security(("bearer" = [])),
    request_body = AttendanceReasonInput,
    responses((status = 201, description = "Created", body = AttendanceReason)))]
async fn create_reason(
    mut ctx: SchoolCtx,
    ApiJson(input): ApiJson<AttendanceReasonInput>,
) -> AppResult<(StatusCode, Json<AttendanceReason>)> {
    let reason = codes::save_reason_audited(&mut ctx, None, &input).await?;
    ctx.commit().await?;
    Ok((StatusCode::CREATED, Json(reason)))
}

/// Renames or retires (`is_active: false`) a reason; marks that carry it keep it.
#[utoipa::path(patch, path = "/api/v1/school/attendance-reasons/{id}/", tag = "school-attendance", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Reason id")), request_body = AttendanceReasonInput,
    responses((status = 200, description = "OK", body = AttendanceReason)))]
async fn patch_reason(
    mut ctx: SchoolCtx,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<AttendanceReasonInput>,
) -> AppResult<Json<AttendanceReason>> {
    let reason = codes::save_reason_audited(&mut ctx, Some(id), &input).await?;
    ctx.commit().await?;
    Ok(Json(reason))
}

// ---- calendar ----

/// Saturdays and Sundays the school opens, newest first.
#[utoipa::path(get, path = "/api/v1/school/calendar/weekend-openings/", tag = "school-attendance", security(("bearer" = [])),
    params(PageParams),
    responses((status = 200, description = "OK", body = Page<WeekendOpening>)))]
async fn list_weekend_openings(
    mut ctx: SchoolCtx,
    uri: Uri,
    ApiQuery(paging): ApiQuery<PageParams>,
) -> AppResult<Json<Page<WeekendOpening>>> {
    let all = calendar::weekend_openings(&mut ctx.tx).await?;
    Ok(Json(Page::of_all(all, &paging, &uri)?))
}

/// Opens the school on a Saturday or Sunday (terms permission): registers are taken that day.
#[utoipa::path(post, path = "/api/v1/school/calendar/weekend-openings/", tag = "school-attendance", security(("bearer" = [])),
    request_body = WeekendOpeningInput,
    responses((status = 201, description = "Created", body = WeekendOpening)))]
async fn create_weekend_opening(
    mut ctx: SchoolCtx,
    ApiJson(input): ApiJson<WeekendOpeningInput>,
) -> AppResult<(StatusCode, Json<WeekendOpening>)> {
    let opening = calendar::add_weekend_opening_audited(&mut ctx, &input).await?;
    ctx.commit().await?;
    Ok((StatusCode::CREATED, Json(opening)))
}

#[utoipa::path(delete, path = "/api/v1/school/calendar/weekend-openings/{day}/", tag = "school-attendance", security(("bearer" = [])),
    params(("day" = chrono::NaiveDate, Path, description = "The day, YYYY-MM-DD")),
    responses((status = 204, description = "Deleted")))]
async fn delete_weekend_opening(
    mut ctx: SchoolCtx,
    ApiPath(day): ApiPath<chrono::NaiveDate>,
) -> AppResult<StatusCode> {
    calendar::remove_weekend_opening_audited(&mut ctx, day).await?;
    ctx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Closures (holidays, breaks, days the school shut), newest first.
#[utoipa::path(get, path = "/api/v1/school/calendar/closures/", tag = "school-attendance", security(("bearer" = [])),
    params(PageParams),
    responses((status = 200, description = "OK", body = Page<Closure>)))]
async fn list_closures(
    mut ctx: SchoolCtx,
    uri: Uri,
    ApiQuery(paging): ApiQuery<PageParams>,
) -> AppResult<Json<Page<Closure>>> {
    let all = calendar::closures(&mut ctx.tx).await?;
    Ok(Json(Page::of_all(all, &paging, &uri)?))
}

/// Closes the school for a day or a range of days (terms permission).
#[utoipa::path(post, path = "/api/v1/school/calendar/closures/", tag = "school-attendance", security(("bearer" = [])),
    request_body = ClosureInput,
    responses((status = 201, description = "Created", body = Closure)))]
async fn create_closure(
    mut ctx: SchoolCtx,
    ApiJson(input): ApiJson<ClosureInput>,
) -> AppResult<(StatusCode, Json<Closure>)> {
    let closure = calendar::add_closure_audited(&mut ctx, &input).await?;
    ctx.commit().await?;
    Ok((StatusCode::CREATED, Json(closure)))
}

#[utoipa::path(delete, path = "/api/v1/school/calendar/closures/{id}/", tag = "school-attendance", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Closure id")),
    responses((status = 204, description = "Deleted")))]
async fn delete_closure(mut ctx: SchoolCtx, ApiPath(id): ApiPath<i64>) -> AppResult<StatusCode> {
    calendar::remove_closure_audited(&mut ctx, id).await?;
    ctx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- registers ----

/// A class's register for one day and period: every pupil in the class that day with their
/// mark (null until marked), who took it and when. Class teachers (`add_attendance`) see and
/// take their own class's within the school's window; `view_attendance` reads any;
/// `change_attendance` takes or corrects any class's on any past school day.
#[utoipa::path(get, path = "/api/v1/school/attendance/", tag = "school-attendance", security(("bearer" = [])),
    params(RegisterQuery),
    responses((status = 200, description = "OK", body = Register)))]
async fn get_register(
    mut ctx: SchoolCtx,
    ApiQuery(q): ApiQuery<RegisterQuery>,
) -> AppResult<Json<Register>> {
    Ok(Json(registers::load(&mut ctx, &q).await?))
}

/// Saves marks: every row is checked first (the pupil is in the class that day, the code is
/// active, the reason is one of the school's); any bad row is a 422 naming it and nothing is
/// saved. A mark changed after its first save is kept in the pupil's history.
#[utoipa::path(put, path = "/api/v1/school/attendance/", tag = "school-attendance", security(("bearer" = [])),
    params(RegisterQuery), request_body = RegisterSave,
    responses((status = 200, description = "The register as saved", body = Register)))]
async fn put_register(
    mut ctx: SchoolCtx,
    ApiQuery(q): ApiQuery<RegisterQuery>,
    ApiJson(input): ApiJson<RegisterSave>,
) -> AppResult<Json<Register>> {
    let register = registers::save(&mut ctx, &q, &input).await?;
    ctx.commit().await?;
    Ok(Json(register))
}

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct HistoryQuery {
    /// The pupil (student id).
    student: i64,
}

/// Every correction of a pupil's marks (who, when, from, to, why), newest first.
#[utoipa::path(get, path = "/api/v1/school/attendance/history/", tag = "school-attendance", security(("bearer" = [])),
    params(HistoryQuery, PageParams),
    responses((status = 200, description = "OK", body = Page<HistoryEntry>)))]
async fn pupil_history(
    mut ctx: SchoolCtx,
    uri: Uri,
    ApiQuery(q): ApiQuery<HistoryQuery>,
    ApiQuery(paging): ApiQuery<PageParams>,
) -> AppResult<Json<Page<HistoryEntry>>> {
    // 404 for a pupil who is not in this school, not an empty list.
    crate::students::db::get(&mut ctx.tx, q.student).await?;
    let all = registers::history(&mut ctx.tx, q.student).await?;
    Ok(Json(Page::of_all(all, &paging, &uri)?))
}

/// A pupil's absence events for parents, newest day first: pending (waiting out the
/// school's grace period), recorded, or cancelled by a correction in time.
#[utoipa::path(get, path = "/api/v1/school/attendance/absences/", tag = "school-attendance", security(("bearer" = [])),
    params(HistoryQuery, PageParams),
    responses((status = 200, description = "OK", body = Page<AbsenceEvent>)))]
async fn pupil_absences(
    mut ctx: SchoolCtx,
    uri: Uri,
    ApiQuery(q): ApiQuery<HistoryQuery>,
    ApiQuery(paging): ApiQuery<PageParams>,
) -> AppResult<Json<Page<AbsenceEvent>>> {
    crate::students::db::get(&mut ctx.tx, q.student).await?;
    let all = absences::of_pupil(&mut ctx.tx, q.student).await?;
    Ok(Json(Page::of_all(all, &paging, &uri)?))
}

/// A pupil's attendance in a term, as report cards print it: times school opened (school
/// days since they joined, up to today, × registers a day), present (late included), late,
/// absent (excused included), excused, not marked and the percentage present, over every
/// arm they were in that session.
#[utoipa::path(get, path = "/api/v1/school/attendance/summary/pupil/", tag = "school-attendance", security(("bearer" = [])),
    params(PupilSummaryQuery),
    responses((status = 200, description = "OK", body = PupilTermSummary)))]
async fn pupil_summary(
    mut ctx: SchoolCtx,
    ApiQuery(q): ApiQuery<PupilSummaryQuery>,
) -> AppResult<Json<PupilTermSummary>> {
    let pupil = crate::students::db::get(&mut ctx.tx, q.student).await?;
    let today = ctx.today();
    let mut summary = reports::pupil_term(&mut ctx.tx, q.student, q.term, today).await?;
    summary.full_name = pupil.sort_name();
    summary.admission_no = pupil.admission_no;
    Ok(Json(summary))
}

/// A class's term: the class as a whole (percentage = present marks ÷ (pupils × registers)),
/// week by week, each pupil, and the pupils to watch (absent the school's number of
/// registers in a row, or present under its percentage). The class teacher reads their own
/// class's; `view_attendance` reads any.
#[utoipa::path(get, path = "/api/v1/school/attendance/summary/", tag = "school-attendance", security(("bearer" = [])),
    params(ClassSummaryQuery),
    responses((status = 200, description = "OK", body = ClassTermSummary)))]
async fn class_summary(
    mut ctx: SchoolCtx,
    ApiQuery(q): ApiQuery<ClassSummaryQuery>,
) -> AppResult<Json<ClassTermSummary>> {
    registers::may_read_class(&mut ctx, q.academic_class).await?;
    let today = ctx.today();
    Ok(Json(
        reports::class_term(&mut ctx.tx, q.academic_class, q.term, today).await?,
    ))
}

pub fn router() -> OpenApiRouter<AppState> {
    // Registers check their own rules (class teacher, window, any class); reading the codes
    // and closures needs only a school account.
    let open = OpenApiRouter::new()
        .routes(routes!(get_register, put_register))
        .routes(routes!(list_codes))
        .routes(routes!(list_closures))
        .routes(routes!(list_reasons))
        .routes(routes!(list_weekend_openings))
        .routes(routes!(class_summary))
        .layer(axum::Extension(Guard::Authenticated));
    let codes = OpenApiRouter::new()
        .routes(routes!(create_code))
        .routes(routes!(patch_code))
        .routes(routes!(create_reason))
        .routes(routes!(patch_reason))
        .layer(crate::permissions::access::guard_exact(
            crate::permissions::catalogue::Action::Change,
            "settings",
        ));
    let closures = OpenApiRouter::new()
        .routes(routes!(create_closure))
        .routes(routes!(delete_closure))
        .routes(routes!(create_weekend_opening))
        .routes(routes!(delete_weekend_opening))
        .layer(guard("terms"));
    let history = OpenApiRouter::new()
        .routes(routes!(pupil_history))
        .routes(routes!(pupil_summary))
        .routes(routes!(pupil_absences))
        .layer(crate::permissions::access::guard_exact(
            crate::permissions::catalogue::Action::View,
            "attendance",
        ));
    open.merge(codes).merge(closures).merge(history)
}
