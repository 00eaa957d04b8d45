//! `/api/v1/school/sessions/{id}/classes/{class_id}/registrations/`.

use axum::{
    Json,
    http::{StatusCode, Uri},
    response::Response,
};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    academics,
    context::SchoolCtx,
    error::{AppResult, ErrorBody},
    http::{ApiJson, ApiPath, ApiQuery, Page, PageParams},
    permissions::access::guard,
    state::AppState,
    students::{
        registrations::{RegisterInput, Registration, class_list},
        service,
    },
};

/// Pupils registered in a class now.
#[utoipa::path(get, path = "/api/v1/school/sessions/{id}/classes/{class_id}/registrations/", tag = "school-students",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Session id"), ("class_id" = i64, Path, description = "Academic class id"), PageParams),
    responses((status = 200, description = "OK", body = Page<Registration>), (status = 404, description = "Not found", body = ErrorBody)))]
async fn list_registrations(
    mut ctx: SchoolCtx,
    ApiPath((s, ac)): ApiPath<(i64, i64)>,
    uri: Uri,
    ApiQuery(paging): ApiQuery<PageParams>,
) -> AppResult<Json<Page<Registration>>> {
    academics::db::academic_class(&mut ctx.tx, s, ac).await?;
    let all = class_list(&mut ctx.tx, ac).await?;
    Ok(Json(Page::of_all(all, &paging, &uri)?))
}

/// Registers a student here; a student in another class of the session is moved (the old
/// registration is kept as history).
#[utoipa::path(post, path = "/api/v1/school/sessions/{id}/classes/{class_id}/registrations/", tag = "school-students",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Session id"), ("class_id" = i64, Path, description = "Academic class id")),
    request_body = RegisterInput,
    responses((status = 201, description = "Created", body = Registration), (status = 404, description = "Not found", body = ErrorBody), (status = 422, description = "Validation failed", body = ErrorBody)))]
async fn register_student(
    mut ctx: SchoolCtx,
    ApiPath((s, ac)): ApiPath<(i64, i64)>,
    ApiJson(input): ApiJson<RegisterInput>,
) -> AppResult<(StatusCode, Json<Registration>)> {
    let class = academics::db::academic_class(&mut ctx.tx, s, ac).await?;
    let reg = service::register_pupil(&mut ctx, &class, input.student_id)
        .await?
        .registration;
    ctx.commit().await?;
    Ok((StatusCode::CREATED, Json(reg)))
}

/// The class list as CSV.
#[utoipa::path(get, path = "/api/v1/school/sessions/{id}/classes/{class_id}/registrations/export/", tag = "school-students",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Session id"), ("class_id" = i64, Path, description = "Academic class id")),
    responses((status = 200, description = "CSV of the class list", content_type = "text/csv"), (status = 404, description = "Not found", body = ErrorBody)))]
async fn export_class_list(
    mut ctx: SchoolCtx,
    ApiPath((s, ac)): ApiPath<(i64, i64)>,
) -> AppResult<Response> {
    let class = academics::db::academic_class(&mut ctx.tx, s, ac).await?;
    let rows = class_list(&mut ctx.tx, ac).await?;
    let response = service::class_list_csv(&mut ctx, &class, &rows).await?;
    ctx.commit().await?;
    Ok(response)
}

/// Ends a registration (the pupil leaves the class; the record stays in their history).
#[utoipa::path(delete, path = "/api/v1/school/sessions/{id}/classes/{class_id}/registrations/{registration_id}/", tag = "school-students",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Session id"), ("class_id" = i64, Path, description = "Academic class id"), ("registration_id" = i64, Path, description = "Registration id")),
    responses((status = 204, description = "Ended"), (status = 404, description = "Not found", body = ErrorBody)))]
async fn end_registration(
    mut ctx: SchoolCtx,
    ApiPath((s, ac, reg)): ApiPath<(i64, i64, i64)>,
) -> AppResult<StatusCode> {
    let class = academics::db::academic_class(&mut ctx.tx, s, ac).await?;
    service::end_registration(&mut ctx, &class, reg).await?;
    ctx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_registrations, register_student))
        .routes(routes!(end_registration))
        .routes(routes!(export_class_list))
        .layer(guard("registrations"))
}
