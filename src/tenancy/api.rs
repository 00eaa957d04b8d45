//! System API for schools, their domains and setup steps (platform users only).

use axum::{
    Json,
    extract::State,
    http::{StatusCode, Uri},
    response::Response,
};
use serde::Deserialize;
use serde_json::json;
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::schools::{
    self, CreateDomain, CreateSchool, CreateSchools, DomainOut, SchoolFilter, SchoolOut, SetupOut,
    UpdateSchool, UpdateSetup,
};
use crate::{
    audit::trail::Actor,
    context::PlatformCtx,
    error::{AppError, AppResult, ErrorBody},
    http::{ApiJson, ApiPath, ApiQuery, ListParams, Page, PageParams},
    permissions::{
        access::{guard, guard_exact},
        catalogue::Action,
    },
    state::AppState,
};

/// Schools, searchable by name, code or domain.
#[utoipa::path(get, path = "/api/v1/system/schools/", tag = "system-schools",
    security(("bearer" = [])),
    params(ListParams, SchoolFilter, ("ordering" = Option<String>, Query, description = "One of name, code, created_at, id; `-` in front for descending.", pattern = "^(-?(name|code|created_at|id))?$")),
    responses((status = 200, description = "OK", body = Page<SchoolOut>), (status = 401, description = "Not authenticated", body = ErrorBody), (status = 403, description = "Not allowed", body = ErrorBody)))]
async fn list_schools(
    mut ctx: PlatformCtx,
    uri: Uri,
    ApiQuery(params): ApiQuery<ListParams>,
    ApiQuery(filter): ApiQuery<SchoolFilter>,
) -> AppResult<Json<Page<SchoolOut>>> {
    let (rows, count) = schools::list(&mut ctx.tx, &params, &filter).await?;
    Ok(Json(Page::new(rows, count, &params, &uri)?))
}

/// Creates a school: schema, migrations, built-in roles, primary domain and optional
/// first admin, all at once. Returns 201 once the school is ready.
#[utoipa::path(post, path = "/api/v1/system/schools/", tag = "system-schools",
    security(("bearer" = [])),
    request_body = CreateSchool,
    responses((status = 201, description = "Created", body = SchoolOut), (status = 422, description = "Validation failed", body = ErrorBody), (status = 403, description = "Not allowed", body = ErrorBody)))]
async fn create_school(
    State(state): State<AppState>,
    mut ctx: PlatformCtx,
    ApiJson(body): ApiJson<CreateSchool>,
) -> AppResult<(StatusCode, Json<SchoolOut>)> {
    let valid = schools::validate_create(&mut ctx.tx, &body, &state.config.main_domain).await?;
    let actor = Actor {
        id: Some(ctx.user.id),
        email: Some(ctx.user.email.clone()),
    };
    let (meta, now) = (ctx.meta.clone(), ctx.now);
    drop(ctx);
    let school = schools::create(&state.db, valid, &actor, &meta, now).await?;
    state.tenants.invalidate();
    Ok((StatusCode::CREATED, Json(school)))
}

/// Creates many schools at once (up to 50): all are checked first, and one invalid
/// school creates none (422, errors against `schools[i].field`). Returns 201 with the
/// schools once every one is ready.
#[utoipa::path(post, path = "/api/v1/system/schools/bulk/", tag = "system-schools",
    security(("bearer" = [])),
    request_body = CreateSchools,
    responses((status = 201, description = "Created", body = Vec<SchoolOut>), (status = 422, description = "Validation failed", body = ErrorBody), (status = 403, description = "Not allowed", body = ErrorBody)))]
async fn create_schools(
    State(state): State<AppState>,
    mut ctx: PlatformCtx,
    ApiJson(body): ApiJson<CreateSchools>,
) -> AppResult<(StatusCode, Json<Vec<SchoolOut>>)> {
    let valid = schools::validate_bulk(&mut ctx.tx, &body, &state.config.main_domain).await?;
    let actor = Actor {
        id: Some(ctx.user.id),
        email: Some(ctx.user.email.clone()),
    };
    let (meta, now) = (ctx.meta.clone(), ctx.now);
    drop(ctx);
    // On its own task: a client that goes away mid-way does not stop it half done.
    let pool = state.db.main().clone();
    let created =
        tokio::spawn(async move { schools::create_many(&pool, valid, &actor, &meta, now).await })
            .await
            .map_err(|e| AppError::Internal(anyhow::anyhow!("bulk creation stopped: {e}")))?;
    state.tenants.invalidate();
    Ok((StatusCode::CREATED, Json(created?)))
}

#[utoipa::path(get, path = "/api/v1/system/schools/{id}/", tag = "system-schools",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "School id")),
    responses((status = 200, description = "OK", body = SchoolOut), (status = 404, description = "Not found", body = ErrorBody)))]
async fn get_school(mut ctx: PlatformCtx, ApiPath(id): ApiPath<i64>) -> AppResult<Json<SchoolOut>> {
    let school = schools::get(&mut ctx.tx, id)
        .await?
        .ok_or_else(AppError::not_found)?;
    Ok(Json(school))
}

async fn change_school(
    state: AppState,
    mut ctx: PlatformCtx,
    id: i64,
    body: UpdateSchool,
) -> AppResult<Json<SchoolOut>> {
    let (before, after) = schools::update(&mut ctx.tx, id, &body, ctx.now).await?;
    let changes = crate::audit::trail::diff(
        &json!({"name": before.name, "is_active": before.is_active}),
        &json!({"name": after.name, "is_active": after.is_active}),
    );
    let action = match (before.is_active, after.is_active) {
        (true, false) => "deactivate",
        (false, true) => "activate",
        _ => "update",
    };
    ctx.audit(action, "school", id, changes).await?;
    ctx.commit().await?;
    state.tenants.invalidate();
    Ok(Json(after))
}

/// Replaces the editable fields (name, is_active).
#[utoipa::path(put, path = "/api/v1/system/schools/{id}/", tag = "system-schools",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "School id")),
    request_body = UpdateSchool,
    responses((status = 200, description = "OK", body = SchoolOut), (status = 404, description = "Not found", body = ErrorBody), (status = 422, description = "Validation failed", body = ErrorBody)))]
async fn put_school(
    State(state): State<AppState>,
    ctx: PlatformCtx,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<UpdateSchool>,
) -> AppResult<Json<SchoolOut>> {
    let mut v = crate::error::Validator::new();
    if body.name.is_none() {
        v.add("name", "This field is required.");
    }
    if body.is_active.is_none() {
        v.add("is_active", "This field is required.");
    }
    v.finish()?;
    change_school(state, ctx, id, body).await
}

/// Changes some fields; `{"is_active": false}` deactivates the school and keeps its data.
#[utoipa::path(patch, path = "/api/v1/system/schools/{id}/", tag = "system-schools",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "School id")),
    request_body = UpdateSchool,
    responses((status = 200, description = "OK", body = SchoolOut), (status = 404, description = "Not found", body = ErrorBody), (status = 422, description = "Validation failed", body = ErrorBody)))]
async fn patch_school(
    State(state): State<AppState>,
    ctx: PlatformCtx,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<UpdateSchool>,
) -> AppResult<Json<SchoolOut>> {
    change_school(state, ctx, id, body).await
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConfirmDelete {
    /// Must equal the school's code.
    pub confirm: Option<String>,
}

/// Deletes a school leaving nothing behind: its schema (every table and file), its jobs,
/// every public row about it (domains, users and their tokens, API keys, WhatsApp number,
/// contacts and chats, login counters) and its users' sessions. Only the platform audit
/// trail keeps it, with what was removed. Irreversible: `?confirm=<code>` is required.
#[utoipa::path(delete, path = "/api/v1/system/schools/{id}/", tag = "system-schools",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "School id"), ConfirmDelete),
    responses((status = 204, description = "Deleted"), (status = 404, description = "Not found", body = ErrorBody), (status = 422, description = "Validation failed", body = ErrorBody)))]
async fn delete_school(
    State(state): State<AppState>,
    mut ctx: PlatformCtx,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<ConfirmDelete>,
) -> AppResult<StatusCode> {
    let (_, removed) = schools::delete_confirmed(
        &mut ctx,
        id,
        q.confirm.as_deref().unwrap_or_default(),
        "Repeat its code as ?confirm= to proceed",
    )
    .await?;
    ctx.commit().await?;
    state.tenants.invalidate();
    schools::end_sessions(state.redis.as_ref(), id, &removed.user_ids).await;
    Ok(StatusCode::NO_CONTENT)
}

/// Downloads the school's whole data as a zip (offboarding): every table of its schema as
/// CSV (`tables/`), photos and PDFs as files (`files/`), the platform's records of it
/// (`school.json`, no credentials) and `manifest.json` (rows, sizes and SHA-256 of every
/// file). Streamed from one consistent snapshot; needs `view_school_data`. Recorded on the
/// platform trail (`export_started`, then `exported` with the counts).
#[utoipa::path(get, path = "/api/v1/system/schools/{id}/export/", tag = "system-schools",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "School id")),
    responses((status = 200, description = "application/zip"), (status = 403, description = "Not allowed", body = ErrorBody), (status = 404, description = "Not found", body = ErrorBody)))]
async fn export_school(
    State(state): State<AppState>,
    ctx: PlatformCtx,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Response> {
    super::export::start(&state.db, ctx, id).await
}

#[utoipa::path(get, path = "/api/v1/system/schools/{id}/domains/", tag = "system-schools",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "School id"), PageParams),
    responses((status = 200, description = "OK", body = Page<DomainOut>), (status = 404, description = "Not found", body = ErrorBody)))]
async fn list_domains(
    mut ctx: PlatformCtx,
    ApiPath(id): ApiPath<i64>,
    uri: Uri,
    ApiQuery(paging): ApiQuery<PageParams>,
) -> AppResult<Json<Page<DomainOut>>> {
    schools::get(&mut ctx.tx, id)
        .await?
        .ok_or_else(AppError::not_found)?;
    let all = schools::domains(&mut ctx.tx, id).await?;
    Ok(Json(Page::of_all(all, &paging, &uri)?))
}

#[utoipa::path(post, path = "/api/v1/system/schools/{id}/domains/", tag = "system-schools",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "School id")),
    request_body = CreateDomain,
    responses((status = 201, description = "Created", body = DomainOut), (status = 404, description = "Not found", body = ErrorBody), (status = 422, description = "Validation failed", body = ErrorBody)))]
async fn add_domain(
    State(state): State<AppState>,
    mut ctx: PlatformCtx,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<CreateDomain>,
) -> AppResult<(StatusCode, Json<DomainOut>)> {
    schools::get(&mut ctx.tx, id)
        .await?
        .ok_or_else(AppError::not_found)?;
    let domain =
        schools::add_domain(&mut ctx.tx, id, &body, &state.config.main_domain, ctx.now).await?;
    ctx.audit(
        "add_domain",
        "school",
        id,
        json!({"domain": {"to": domain.domain}, "is_primary": {"to": domain.is_primary}}),
    )
    .await?;
    ctx.commit().await?;
    state.tenants.invalidate();
    Ok((StatusCode::CREATED, Json(domain)))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchDomain {
    /// Only `true` is meaningful: makes this the primary domain.
    pub is_primary: bool,
}

#[utoipa::path(patch, path = "/api/v1/system/schools/{id}/domains/{domain_id}/", tag = "system-schools",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "School id"), ("domain_id" = i64, Path, description = "Domain id")),
    request_body = PatchDomain,
    responses((status = 200, description = "OK", body = DomainOut), (status = 404, description = "Not found", body = ErrorBody)))]
async fn patch_domain(
    State(state): State<AppState>,
    mut ctx: PlatformCtx,
    ApiPath((id, domain_id)): ApiPath<(i64, i64)>,
    ApiJson(body): ApiJson<PatchDomain>,
) -> AppResult<Json<DomainOut>> {
    if !body.is_primary {
        return Err(AppError::field(
            "is_primary",
            "Make another domain primary instead.",
        ));
    }
    let domain = schools::make_primary(&mut ctx.tx, id, domain_id).await?;
    ctx.audit(
        "set_primary_domain",
        "school",
        id,
        json!({"primary_domain": {"to": domain.domain}}),
    )
    .await?;
    ctx.commit().await?;
    state.tenants.invalidate();
    Ok(Json(domain))
}

#[utoipa::path(delete, path = "/api/v1/system/schools/{id}/domains/{domain_id}/", tag = "system-schools",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "School id"), ("domain_id" = i64, Path, description = "Domain id")),
    responses((status = 204, description = "Removed"), (status = 404, description = "Not found", body = ErrorBody), (status = 409, description = "Conflict", body = ErrorBody)))]
async fn delete_domain(
    State(state): State<AppState>,
    mut ctx: PlatformCtx,
    ApiPath((id, domain_id)): ApiPath<(i64, i64)>,
) -> AppResult<StatusCode> {
    let domain = schools::remove_domain(&mut ctx.tx, id, domain_id).await?;
    ctx.audit(
        "remove_domain",
        "school",
        id,
        json!({"domain": {"from": domain.domain}}),
    )
    .await?;
    ctx.commit().await?;
    state.tenants.invalidate();
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/system/schools/{id}/setup/", tag = "system-schools",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "School id")),
    responses((status = 200, description = "OK", body = SetupOut), (status = 404, description = "Not found", body = ErrorBody)))]
async fn get_setup(mut ctx: PlatformCtx, ApiPath(id): ApiPath<i64>) -> AppResult<Json<SetupOut>> {
    Ok(Json(schools::setup(&mut ctx.tx, id).await?))
}

/// Updates step statuses (`pending`, `in_progress`, `done`); the school's setup progress follows.
#[utoipa::path(put, path = "/api/v1/system/schools/{id}/setup/", tag = "system-schools",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "School id")),
    request_body = UpdateSetup,
    responses((status = 200, description = "OK", body = SetupOut), (status = 404, description = "Not found", body = ErrorBody), (status = 422, description = "Validation failed", body = ErrorBody)))]
async fn put_setup(
    mut ctx: PlatformCtx,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<UpdateSetup>,
) -> AppResult<Json<SetupOut>> {
    let (before, after) = schools::update_setup(&mut ctx.tx, id, &body, ctx.now).await?;
    let changes = crate::audit::trail::diff(
        &serde_json::to_value(&before.steps)
            .map(|s| json!({"steps": s, "progress": before.setup_progress}))
            .unwrap_or_default(),
        &serde_json::to_value(&after.steps)
            .map(|s| json!({"steps": s, "progress": after.setup_progress}))
            .unwrap_or_default(),
    );
    ctx.audit("update_setup", "school", id, changes).await?;
    ctx.commit().await?;
    Ok(Json(after))
}

pub fn router() -> OpenApiRouter<AppState> {
    // Its own guard (not the method's view_schools): an export holds every pupil's record.
    let export = OpenApiRouter::new()
        .routes(routes!(export_school))
        .layer(guard_exact(Action::View, "school_data"));
    OpenApiRouter::new()
        .routes(routes!(list_schools, create_school))
        .routes(routes!(create_schools))
        .routes(routes!(get_school, put_school, patch_school, delete_school))
        .routes(routes!(list_domains, add_domain))
        .routes(routes!(patch_domain, delete_domain))
        .routes(routes!(get_setup, put_setup))
        .layer(guard("schools"))
        .merge(export)
}
