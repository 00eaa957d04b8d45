//! `/api/v1/school/notices/` and `/api/v1/school/students/{id}/notices/`.

use axum::{
    Json,
    http::{StatusCode, Uri},
    response::Response,
};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    attachment::{self, AttachmentUpload},
    db::{self, Notice, NoticeFilter, ParentNotice},
    service::{self, NoticeInput},
};
use crate::{
    context::SchoolCtx,
    error::AppResult,
    http::{ApiJson, ApiMultipart, ApiPath, ApiQuery, ListParams, Page, PageParams},
    permissions::{
        access::{guard, guard_exact},
        catalogue::Action,
    },
    state::AppState,
};

/// Notices, pinned first, newest first. Those who add or change notices read every notice
/// (drafts first); anyone else reads only the published, unexpired notices addressed to
/// staff whose audience holds them.
#[utoipa::path(get, path = "/api/v1/school/notices/", tag = "school-notices", security(("bearer" = [])),
    params(NoticeFilter, ListParams, ("ordering" = Option<String>, Query, description = "One of publish_at, created_at, title; `-` in front for descending.", pattern = "^(-?(publish_at|created_at|title))?$")),
    responses((status = 200, description = "OK", body = Page<Notice>)))]
async fn list_notices(
    mut ctx: SchoolCtx,
    uri: Uri,
    ApiQuery(filter): ApiQuery<NoticeFilter>,
    ApiQuery(params): ApiQuery<ListParams>,
) -> AppResult<Json<Page<Notice>>> {
    let (limit, offset) = params.limit_offset()?;
    let search = params.search_pattern()?;
    let order = params.order_by(db::ORDERINGS, db::DEFAULT_ORDER)?;
    let reader = service::reader(&ctx);
    let (rows, count) = db::list(
        &mut ctx.tx,
        &reader,
        &filter,
        search.as_deref(),
        &order,
        limit,
        offset,
    )
    .await?;
    Ok(Json(Page::new(rows, count, &params, &uri)?))
}

/// Writes a draft.
#[utoipa::path(post, path = "/api/v1/school/notices/", tag = "school-notices", security(("bearer" = [])),
    request_body = NoticeInput,
    responses((status = 201, description = "Created", body = Notice)))]
async fn create_notice(
    mut ctx: SchoolCtx,
    ApiJson(input): ApiJson<NoticeInput>,
) -> AppResult<(StatusCode, Json<Notice>)> {
    let notice = service::create(&mut ctx, &input).await?;
    ctx.commit().await?;
    Ok((StatusCode::CREATED, Json(notice)))
}

/// One notice; 404 for one the user may not read (a draft, a parents-only or expired
/// notice for a teacher), as for one that does not exist.
#[utoipa::path(get, path = "/api/v1/school/notices/{id}/", tag = "school-notices", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Notice id")),
    responses((status = 200, description = "OK", body = Notice)))]
async fn get_notice(mut ctx: SchoolCtx, ApiPath(id): ApiPath<i64>) -> AppResult<Json<Notice>> {
    let reader = service::reader(&ctx);
    Ok(Json(db::get(&mut ctx.tx, &reader, id).await?))
}

/// Replaces a draft (every field; absent optional ones are cleared). A published or
/// withdrawn notice is a 409: withdraw it or re-issue it instead.
#[utoipa::path(put, path = "/api/v1/school/notices/{id}/", tag = "school-notices", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Notice id")), request_body = NoticeInput,
    responses((status = 200, description = "OK", body = Notice)))]
async fn put_notice(
    mut ctx: SchoolCtx,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<NoticeInput>,
) -> AppResult<Json<Notice>> {
    let notice = service::update(&mut ctx, id, &input).await?;
    ctx.commit().await?;
    Ok(Json(notice))
}

/// Deletes a draft; a published notice is a 409 (withdraw it instead).
#[utoipa::path(delete, path = "/api/v1/school/notices/{id}/", tag = "school-notices", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Notice id")),
    responses((status = 204, description = "Deleted")))]
async fn delete_notice(mut ctx: SchoolCtx, ApiPath(id): ApiPath<i64>) -> AppResult<StatusCode> {
    service::delete(&mut ctx, id).await?;
    ctx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Publishes a draft (`change_notices`): its audience sees it from its publish time (now
/// when empty or past) until its expiry.
#[utoipa::path(post, path = "/api/v1/school/notices/{id}/publish/", tag = "school-notices", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Notice id")),
    responses((status = 200, description = "Published", body = Notice)))]
async fn publish_notice(mut ctx: SchoolCtx, ApiPath(id): ApiPath<i64>) -> AppResult<Json<Notice>> {
    let notice = service::publish(&mut ctx, id).await?;
    ctx.commit().await?;
    Ok(Json(notice))
}

/// Withdraws a published notice (`change_notices`).
#[utoipa::path(post, path = "/api/v1/school/notices/{id}/withdraw/", tag = "school-notices", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Notice id")),
    responses((status = 200, description = "Withdrawn", body = Notice)))]
async fn withdraw_notice(mut ctx: SchoolCtx, ApiPath(id): ApiPath<i64>) -> AppResult<Json<Notice>> {
    let notice = service::withdraw(&mut ctx, id).await?;
    ctx.commit().await?;
    Ok(Json(notice))
}

/// Re-issues a published or withdrawn notice as a new draft copied from it.
#[utoipa::path(post, path = "/api/v1/school/notices/{id}/reissue/", tag = "school-notices", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Notice id")),
    responses((status = 201, description = "The new draft", body = Notice)))]
async fn reissue_notice(
    mut ctx: SchoolCtx,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<(StatusCode, Json<Notice>)> {
    let notice = service::reissue(&mut ctx, id).await?;
    ctx.commit().await?;
    Ok((StatusCode::CREATED, Json(notice)))
}

/// "I have read this", by a member of the notice's staff audience when it asks for it
/// (`needs_ack`). Sending it again changes nothing.
#[utoipa::path(post, path = "/api/v1/school/notices/{id}/acknowledge/", tag = "school-notices", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Notice id")),
    responses((status = 200, description = "Acknowledged", body = Notice)))]
async fn acknowledge_notice(
    mut ctx: SchoolCtx,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Json<Notice>> {
    let notice = service::acknowledge(&mut ctx, id).await?;
    ctx.commit().await?;
    Ok(Json(notice))
}

/// The notice's attachment, to those who may read the notice.
#[utoipa::path(get, path = "/api/v1/school/notices/{id}/attachment/", tag = "school-notices", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Notice id")),
    responses((status = 200, description = "The file (PDF or image)", content(("application/pdf"), ("image/jpeg"), ("image/png"), ("image/webp")))))]
async fn get_attachment(mut ctx: SchoolCtx, ApiPath(id): ApiPath<i64>) -> AppResult<Response> {
    let (filename, kind, bytes) = service::attachment(&mut ctx, id).await?;
    Ok(attachment::response(&filename, &kind, bytes))
}

/// Attaches a PDF or an image (at most 5 MB, checked by its content) to a draft,
/// replacing any before it.
#[utoipa::path(put, path = "/api/v1/school/notices/{id}/attachment/", tag = "school-notices", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Notice id")),
    request_body(content_type = "multipart/form-data", content = AttachmentUpload, description = "Field `file`"),
    responses((status = 200, description = "OK", body = Notice)))]
async fn put_attachment(
    mut ctx: SchoolCtx,
    ApiPath(id): ApiPath<i64>,
    ApiMultipart(multipart): ApiMultipart,
) -> AppResult<Json<Notice>> {
    let upload = attachment::read(multipart).await?;
    let notice = service::attach(&mut ctx, id, upload).await?;
    ctx.commit().await?;
    Ok(Json(notice))
}

/// Removes a draft's attachment.
#[utoipa::path(delete, path = "/api/v1/school/notices/{id}/attachment/", tag = "school-notices", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Notice id")),
    responses((status = 200, description = "OK", body = Notice)))]
async fn delete_attachment(
    mut ctx: SchoolCtx,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Json<Notice>> {
    let notice = service::detach(&mut ctx, id).await?;
    ctx.commit().await?;
    Ok(Json(notice))
}

/// The published, unexpired notices addressed to a pupil's parents: the whole school's,
/// the pupil's class level's and arm's this session, and those naming the pupil. Needs
/// `view_notices` and `view_students`.
#[utoipa::path(get, path = "/api/v1/school/students/{id}/notices/", tag = "school-notices", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Student id"), PageParams),
    responses((status = 200, description = "OK", body = Page<ParentNotice>)))]
async fn pupil_notices(
    mut ctx: SchoolCtx,
    uri: Uri,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(paging): ApiQuery<PageParams>,
) -> AppResult<Json<Page<ParentNotice>>> {
    let all = service::for_pupil(&mut ctx, id).await?;
    Ok(Json(Page::of_all(all, &paging, &uri)?))
}

/// The attachment of a notice addressed to the pupil's parents (as listed above).
#[utoipa::path(get, path = "/api/v1/school/students/{id}/notices/{notice_id}/attachment/", tag = "school-notices", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Student id"), ("notice_id" = i64, Path, description = "Notice id")),
    responses((status = 200, description = "The file (PDF or image)", content(("application/pdf"), ("image/jpeg"), ("image/png"), ("image/webp")))))]
async fn pupil_notice_attachment(
    mut ctx: SchoolCtx,
    ApiPath((id, notice_id)): ApiPath<(i64, i64)>,
) -> AppResult<Response> {
    let (filename, kind, bytes) = service::pupil_attachment(&mut ctx, id, notice_id).await?;
    Ok(attachment::response(&filename, &kind, bytes))
}

pub fn router() -> OpenApiRouter<AppState> {
    // GET view, POST add, PUT change, DELETE delete.
    let by_method = OpenApiRouter::new()
        .routes(routes!(list_notices, create_notice))
        .routes(routes!(get_notice, put_notice, delete_notice))
        .routes(routes!(reissue_notice))
        .layer(guard("notices"));
    let change = OpenApiRouter::new()
        .routes(routes!(publish_notice))
        .routes(routes!(withdraw_notice))
        .routes(routes!(put_attachment, delete_attachment))
        .layer(guard_exact(Action::Change, "notices"));
    // Reading is checked against the notice's audience.
    let read = OpenApiRouter::new()
        .routes(routes!(get_attachment))
        .routes(routes!(acknowledge_notice))
        .routes(routes!(pupil_notices))
        .routes(routes!(pupil_notice_attachment))
        .layer(guard_exact(Action::View, "notices"));
    by_method.merge(change).merge(read)
}
