//! `/api/v1/school/guardians/`.

use axum::{
    Json,
    http::{StatusCode, Uri},
};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    audit,
    context::SchoolCtx,
    error::{AppError, AppResult, ErrorBody},
    http::{ApiJson, ApiPath, ApiQuery, ListParams, Page},
    permissions::access::guard,
    state::AppState,
    students::{
        db,
        guardians::{
            self, Guardian, GuardianFilter, GuardianInput, get, insert_guardian, update_guardian,
        },
        service,
    },
};

/// Guardians, searchable by name, phone or email.
#[utoipa::path(get, path = "/api/v1/school/guardians/", tag = "school-students", security(("bearer" = [])),
    params(ListParams, GuardianFilter, ("ordering" = Option<String>, Query, description = "One of full_name, id; `-` in front for descending.", pattern = "^(-?(full_name|id))?$")),
    responses((status = 200, description = "OK", body = Page<Guardian>), (status = 403, description = "Not allowed", body = ErrorBody)))]
async fn list_guardians(
    mut ctx: SchoolCtx,
    uri: Uri,
    ApiQuery(params): ApiQuery<ListParams>,
    ApiQuery(filter): ApiQuery<GuardianFilter>,
) -> AppResult<Json<Page<Guardian>>> {
    let (rows, count) = guardians::list(&mut ctx.tx, &params, &filter).await?;
    Ok(Json(Page::new(rows, count, &params, &uri)?))
}

#[utoipa::path(post, path = "/api/v1/school/guardians/", tag = "school-students", security(("bearer" = [])),
    request_body = GuardianInput,
    responses((status = 201, description = "Created", body = Guardian), (status = 422, description = "Validation failed", body = ErrorBody)))]
async fn create_guardian(
    mut ctx: SchoolCtx,
    ApiJson(input): ApiJson<GuardianInput>,
) -> AppResult<(StatusCode, Json<Guardian>)> {
    let cc = guardians::country_code(&mut ctx.tx).await?;
    let mut problems = input.problems(&cc);
    match input.student_id {
        None => {
            problems
                .entry("student_id".into())
                .or_default()
                .push("This field is required.".into());
        }
        Some(id) => {
            if db::get(&mut ctx.tx, id).await.is_err() {
                problems
                    .entry("student_id".into())
                    .or_default()
                    .push("There is no such student.".into());
            }
        }
    }
    if !problems.is_empty() {
        return Err(AppError::fields(problems));
    }
    let student_id = input.student_id.unwrap_or_default();
    let g = insert_guardian(&mut ctx.tx, student_id, &input, ctx.now).await?;
    ctx.audit(
        "create",
        "guardian",
        g.id,
        audit::trail::created(&guardians::view(&g)),
    )
    .await?;
    ctx.commit().await?;
    Ok((StatusCode::CREATED, Json(g)))
}

#[utoipa::path(get, path = "/api/v1/school/guardians/{id}/", tag = "school-students", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Guardian id")),
    responses((status = 200, description = "OK", body = Guardian), (status = 404, description = "Not found", body = ErrorBody)))]
async fn get_guardian(mut ctx: SchoolCtx, ApiPath(id): ApiPath<i64>) -> AppResult<Json<Guardian>> {
    Ok(Json(get(&mut ctx.tx, id).await?))
}

async fn change(mut ctx: SchoolCtx, id: i64, input: GuardianInput) -> AppResult<Json<Guardian>> {
    let (before, after) = update_guardian(&mut ctx.tx, id, &input, ctx.now).await?;
    ctx.audit(
        "update",
        "guardian",
        id,
        audit::trail::diff(&guardians::view(&before), &guardians::view(&after)),
    )
    .await?;
    ctx.commit().await?;
    Ok(Json(after))
}

#[utoipa::path(put, path = "/api/v1/school/guardians/{id}/", tag = "school-students", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Guardian id")), request_body = GuardianInput,
    responses((status = 200, description = "OK", body = Guardian), (status = 404, description = "Not found", body = ErrorBody), (status = 422, description = "Validation failed", body = ErrorBody)))]
async fn put_guardian(
    ctx: SchoolCtx,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<GuardianInput>,
) -> AppResult<Json<Guardian>> {
    change(ctx, id, input).await
}

#[utoipa::path(patch, path = "/api/v1/school/guardians/{id}/", tag = "school-students", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Guardian id")), request_body = GuardianInput,
    responses((status = 200, description = "OK", body = Guardian), (status = 404, description = "Not found", body = ErrorBody), (status = 422, description = "Validation failed", body = ErrorBody)))]
async fn patch_guardian(
    ctx: SchoolCtx,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<GuardianInput>,
) -> AppResult<Json<Guardian>> {
    change(ctx, id, input).await
}

#[utoipa::path(delete, path = "/api/v1/school/guardians/{id}/", tag = "school-students", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Guardian id")),
    responses((status = 204, description = "Deleted"), (status = 404, description = "Not found", body = ErrorBody)))]
async fn remove_guardian(mut ctx: SchoolCtx, ApiPath(id): ApiPath<i64>) -> AppResult<StatusCode> {
    service::delete_guardian(&mut ctx, id).await?;
    ctx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_guardians, create_guardian))
        .routes(routes!(
            get_guardian,
            put_guardian,
            patch_guardian,
            remove_guardian
        ))
        .layer(guard("guardians"))
}
