//! `/api/v1/school/sessions/`, `/sessions/{id}/terms/`, `/forms/`, `/classes/`, `/subjects/`,
//! `/sessions/{id}/classes/`.

use axum::{
    Json,
    http::{StatusCode, Uri},
};
use serde_json::json;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    db::{self, *},
    service::{self, Deletable},
};
use crate::{
    audit,
    context::SchoolCtx,
    error::{AppResult, ErrorBody},
    http::{ApiJson, ApiPath, ApiQuery, Page, PageParams},
    permissions::access::guard,
    state::AppState,
};

fn to_value<T: serde::Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or_default()
}

/// Commits a change with its audit row: `created`, `updated` or `deleted`.
async fn audited<T: serde::Serialize>(
    mut ctx: SchoolCtx,
    action: &str,
    entity: &str,
    id: i64,
    before: Option<&T>,
    after: Option<&T>,
) -> AppResult<()> {
    let changes = match (before, after) {
        (None, Some(a)) => audit::trail::created(&to_value(a)),
        (Some(b), Some(a)) => audit::trail::diff(&to_value(b), &to_value(a)),
        (Some(b), None) => json!({"deleted": to_value(b)}),
        (None, None) => json!({}),
    };
    ctx.audit(action, entity, id, changes).await?;
    ctx.commit().await
}

// ---- sessions ----

#[utoipa::path(get, path = "/api/v1/school/sessions/", tag = "school-academics", security(("bearer" = [])),
    params(PageParams),
    responses((status = 200, description = "OK", body = Page<AcademicSession>), (status = 403, description = "Not allowed", body = ErrorBody)))]
async fn list_sessions(
    mut ctx: SchoolCtx,
    uri: Uri,
    ApiQuery(paging): ApiQuery<PageParams>,
) -> AppResult<Json<Page<AcademicSession>>> {
    let all = db::sessions(&mut ctx.tx).await?;
    Ok(Json(Page::of_all(all, &paging, &uri)?))
}

#[utoipa::path(post, path = "/api/v1/school/sessions/", tag = "school-academics", security(("bearer" = [])),
    request_body = AcademicSessionInput,
    responses((status = 201, description = "Created", body = AcademicSession), (status = 422, description = "Validation failed", body = ErrorBody)))]
async fn create_session(
    mut ctx: SchoolCtx,
    ApiJson(input): ApiJson<AcademicSessionInput>,
) -> AppResult<(StatusCode, Json<AcademicSession>)> {
    let s = save_session(&mut ctx.tx, None, &input, ctx.now).await?;
    audited(ctx, "create", "session", s.id, None, Some(&s)).await?;
    Ok((StatusCode::CREATED, Json(s)))
}

#[utoipa::path(get, path = "/api/v1/school/sessions/{id}/", tag = "school-academics", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Session id")),
    responses((status = 200, description = "OK", body = AcademicSession), (status = 404, description = "Not found", body = ErrorBody)))]
async fn get_session(
    mut ctx: SchoolCtx,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Json<AcademicSession>> {
    Ok(Json(db::session(&mut ctx.tx, id).await?))
}

async fn change_session(
    mut ctx: SchoolCtx,
    id: i64,
    input: AcademicSessionInput,
) -> AppResult<Json<AcademicSession>> {
    let before = db::session(&mut ctx.tx, id).await?;
    let after = save_session(&mut ctx.tx, Some(id), &input, ctx.now).await?;
    audited(ctx, "update", "session", id, Some(&before), Some(&after)).await?;
    Ok(Json(after))
}

#[utoipa::path(put, path = "/api/v1/school/sessions/{id}/", tag = "school-academics", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Session id")), request_body = AcademicSessionInput,
    responses((status = 200, description = "OK", body = AcademicSession), (status = 404, description = "Not found", body = ErrorBody), (status = 422, description = "Validation failed", body = ErrorBody)))]
async fn put_session(
    ctx: SchoolCtx,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<AcademicSessionInput>,
) -> AppResult<Json<AcademicSession>> {
    change_session(ctx, id, input).await
}

#[utoipa::path(patch, path = "/api/v1/school/sessions/{id}/", tag = "school-academics", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Session id")), request_body = AcademicSessionInput,
    responses((status = 200, description = "OK", body = AcademicSession), (status = 404, description = "Not found", body = ErrorBody), (status = 422, description = "Validation failed", body = ErrorBody)))]
async fn patch_session(
    ctx: SchoolCtx,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<AcademicSessionInput>,
) -> AppResult<Json<AcademicSession>> {
    change_session(ctx, id, input).await
}

/// Deletes a session that has no classes yet (its terms go with it).
#[utoipa::path(delete, path = "/api/v1/school/sessions/{id}/", tag = "school-academics", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Session id")),
    responses((status = 204, description = "Deleted"), (status = 404, description = "Not found", body = ErrorBody), (status = 409, description = "Conflict", body = ErrorBody)))]
async fn delete_session(mut ctx: SchoolCtx, ApiPath(id): ApiPath<i64>) -> AppResult<StatusCode> {
    service::delete(&mut ctx, Deletable::Session, id).await?;
    ctx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- terms ----

#[utoipa::path(get, path = "/api/v1/school/sessions/{id}/terms/", tag = "school-academics", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Session id"), PageParams),
    responses((status = 200, description = "OK", body = Page<Term>), (status = 404, description = "Not found", body = ErrorBody)))]
async fn list_terms(
    mut ctx: SchoolCtx,
    ApiPath(session_id): ApiPath<i64>,
    uri: Uri,
    ApiQuery(paging): ApiQuery<PageParams>,
) -> AppResult<Json<Page<Term>>> {
    db::session(&mut ctx.tx, session_id).await?;
    let all = db::terms(&mut ctx.tx, session_id).await?;
    Ok(Json(Page::of_all(all, &paging, &uri)?))
}

#[utoipa::path(post, path = "/api/v1/school/sessions/{id}/terms/", tag = "school-academics", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Session id")), request_body = TermInput,
    responses((status = 201, description = "Created", body = Term), (status = 404, description = "Not found", body = ErrorBody), (status = 422, description = "Validation failed", body = ErrorBody)))]
async fn create_term(
    mut ctx: SchoolCtx,
    ApiPath(session_id): ApiPath<i64>,
    ApiJson(input): ApiJson<TermInput>,
) -> AppResult<(StatusCode, Json<Term>)> {
    let session = db::session(&mut ctx.tx, session_id).await?;
    let t = save_term(&mut ctx.tx, &session, None, &input, ctx.now).await?;
    audited(ctx, "create", "term", t.id, None, Some(&t)).await?;
    Ok((StatusCode::CREATED, Json(t)))
}

#[utoipa::path(get, path = "/api/v1/school/sessions/{id}/terms/{term_id}/", tag = "school-academics", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Session id"), ("term_id" = i64, Path, description = "Term id")),
    responses((status = 200, description = "OK", body = Term), (status = 404, description = "Not found", body = ErrorBody)))]
async fn get_term(
    mut ctx: SchoolCtx,
    ApiPath((session_id, id)): ApiPath<(i64, i64)>,
) -> AppResult<Json<Term>> {
    Ok(Json(db::term(&mut ctx.tx, session_id, id).await?))
}

async fn change_term(
    mut ctx: SchoolCtx,
    session_id: i64,
    id: i64,
    input: TermInput,
) -> AppResult<Json<Term>> {
    let session = db::session(&mut ctx.tx, session_id).await?;
    let before = db::term(&mut ctx.tx, session_id, id).await?;
    let after = save_term(&mut ctx.tx, &session, Some(id), &input, ctx.now).await?;
    audited(ctx, "update", "term", id, Some(&before), Some(&after)).await?;
    Ok(Json(after))
}

#[utoipa::path(put, path = "/api/v1/school/sessions/{id}/terms/{term_id}/", tag = "school-academics", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Session id"), ("term_id" = i64, Path, description = "Term id")), request_body = TermInput,
    responses((status = 200, description = "OK", body = Term), (status = 404, description = "Not found", body = ErrorBody), (status = 422, description = "Validation failed", body = ErrorBody)))]
async fn put_term(
    ctx: SchoolCtx,
    ApiPath((s, id)): ApiPath<(i64, i64)>,
    ApiJson(input): ApiJson<TermInput>,
) -> AppResult<Json<Term>> {
    change_term(ctx, s, id, input).await
}

#[utoipa::path(patch, path = "/api/v1/school/sessions/{id}/terms/{term_id}/", tag = "school-academics", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Session id"), ("term_id" = i64, Path, description = "Term id")), request_body = TermInput,
    responses((status = 200, description = "OK", body = Term), (status = 404, description = "Not found", body = ErrorBody), (status = 422, description = "Validation failed", body = ErrorBody)))]
async fn patch_term(
    ctx: SchoolCtx,
    ApiPath((s, id)): ApiPath<(i64, i64)>,
    ApiJson(input): ApiJson<TermInput>,
) -> AppResult<Json<Term>> {
    change_term(ctx, s, id, input).await
}

#[utoipa::path(delete, path = "/api/v1/school/sessions/{id}/terms/{term_id}/", tag = "school-academics", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Session id"), ("term_id" = i64, Path, description = "Term id")),
    responses((status = 204, description = "Deleted"), (status = 404, description = "Not found", body = ErrorBody), (status = 409, description = "Conflict", body = ErrorBody)))]
async fn delete_term(
    mut ctx: SchoolCtx,
    ApiPath((s, id)): ApiPath<(i64, i64)>,
) -> AppResult<StatusCode> {
    db::term(&mut ctx.tx, s, id).await?;
    service::delete(&mut ctx, Deletable::Term, id).await?;
    ctx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- forms ----

#[utoipa::path(get, path = "/api/v1/school/forms/", tag = "school-academics", security(("bearer" = [])),
    params(PageParams),
    responses((status = 200, description = "OK", body = Page<ClassLevel>), (status = 403, description = "Not allowed", body = ErrorBody)))]
async fn list_forms(
    mut ctx: SchoolCtx,
    uri: Uri,
    ApiQuery(paging): ApiQuery<PageParams>,
) -> AppResult<Json<Page<ClassLevel>>> {
    let all = db::forms(&mut ctx.tx).await?;
    Ok(Json(Page::of_all(all, &paging, &uri)?))
}

#[utoipa::path(post, path = "/api/v1/school/forms/", tag = "school-academics", security(("bearer" = [])),
    request_body = ClassLevelInput,
    responses((status = 201, description = "Created", body = ClassLevel), (status = 422, description = "Validation failed", body = ErrorBody)))]
async fn create_form(
    mut ctx: SchoolCtx,
    ApiJson(input): ApiJson<ClassLevelInput>,
) -> AppResult<(StatusCode, Json<ClassLevel>)> {
    let f = save_form(&mut ctx.tx, None, &input, ctx.now).await?;
    audited(ctx, "create", "form", f.id, None, Some(&f)).await?;
    Ok((StatusCode::CREATED, Json(f)))
}

#[utoipa::path(get, path = "/api/v1/school/forms/{id}/", tag = "school-academics", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Form id")),
    responses((status = 200, description = "OK", body = ClassLevel), (status = 404, description = "Not found", body = ErrorBody)))]
async fn get_form(mut ctx: SchoolCtx, ApiPath(id): ApiPath<i64>) -> AppResult<Json<ClassLevel>> {
    Ok(Json(db::form(&mut ctx.tx, id).await?))
}

async fn change_form(
    mut ctx: SchoolCtx,
    id: i64,
    input: ClassLevelInput,
) -> AppResult<Json<ClassLevel>> {
    let before = db::form(&mut ctx.tx, id).await?;
    let after = save_form(&mut ctx.tx, Some(id), &input, ctx.now).await?;
    audited(ctx, "update", "form", id, Some(&before), Some(&after)).await?;
    Ok(Json(after))
}

#[utoipa::path(put, path = "/api/v1/school/forms/{id}/", tag = "school-academics", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Form id")), request_body = ClassLevelInput,
    responses((status = 200, description = "OK", body = ClassLevel), (status = 404, description = "Not found", body = ErrorBody), (status = 422, description = "Validation failed", body = ErrorBody)))]
async fn put_form(
    ctx: SchoolCtx,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<ClassLevelInput>,
) -> AppResult<Json<ClassLevel>> {
    change_form(ctx, id, input).await
}

#[utoipa::path(patch, path = "/api/v1/school/forms/{id}/", tag = "school-academics", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Form id")), request_body = ClassLevelInput,
    responses((status = 200, description = "OK", body = ClassLevel), (status = 404, description = "Not found", body = ErrorBody), (status = 422, description = "Validation failed", body = ErrorBody)))]
async fn patch_form(
    ctx: SchoolCtx,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<ClassLevelInput>,
) -> AppResult<Json<ClassLevel>> {
    change_form(ctx, id, input).await
}

#[utoipa::path(delete, path = "/api/v1/school/forms/{id}/", tag = "school-academics", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Form id")),
    responses((status = 204, description = "Deleted"), (status = 404, description = "Not found", body = ErrorBody), (status = 409, description = "Conflict", body = ErrorBody)))]
async fn delete_form(mut ctx: SchoolCtx, ApiPath(id): ApiPath<i64>) -> AppResult<StatusCode> {
    service::delete(&mut ctx, Deletable::ClassLevel, id).await?;
    ctx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- class arms ----

#[utoipa::path(get, path = "/api/v1/school/classes/", tag = "school-academics", security(("bearer" = [])),
    params(PageParams),
    responses((status = 200, description = "OK", body = Page<ClassArm>), (status = 403, description = "Not allowed", body = ErrorBody)))]
async fn list_arms(
    mut ctx: SchoolCtx,
    uri: Uri,
    ApiQuery(paging): ApiQuery<PageParams>,
) -> AppResult<Json<Page<ClassArm>>> {
    let all = db::class_arms(&mut ctx.tx).await?;
    Ok(Json(Page::of_all(all, &paging, &uri)?))
}

#[utoipa::path(post, path = "/api/v1/school/classes/", tag = "school-academics", security(("bearer" = [])),
    request_body = ClassArmInput,
    responses((status = 201, description = "Created", body = ClassArm), (status = 422, description = "Validation failed", body = ErrorBody)))]
async fn create_arm(
    mut ctx: SchoolCtx,
    ApiJson(input): ApiJson<ClassArmInput>,
) -> AppResult<(StatusCode, Json<ClassArm>)> {
    let c = save_class_arm(&mut ctx.tx, None, &input, ctx.now).await?;
    audited(ctx, "create", "class", c.id, None, Some(&c)).await?;
    Ok((StatusCode::CREATED, Json(c)))
}

#[utoipa::path(get, path = "/api/v1/school/classes/{id}/", tag = "school-academics", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Class id")),
    responses((status = 200, description = "OK", body = ClassArm), (status = 404, description = "Not found", body = ErrorBody)))]
async fn get_arm(mut ctx: SchoolCtx, ApiPath(id): ApiPath<i64>) -> AppResult<Json<ClassArm>> {
    Ok(Json(db::class_arm(&mut ctx.tx, id).await?))
}

async fn change_arm(
    mut ctx: SchoolCtx,
    id: i64,
    input: ClassArmInput,
) -> AppResult<Json<ClassArm>> {
    let before = db::class_arm(&mut ctx.tx, id).await?;
    let after = save_class_arm(&mut ctx.tx, Some(id), &input, ctx.now).await?;
    audited(ctx, "update", "class", id, Some(&before), Some(&after)).await?;
    Ok(Json(after))
}

#[utoipa::path(put, path = "/api/v1/school/classes/{id}/", tag = "school-academics", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Class id")), request_body = ClassArmInput,
    responses((status = 200, description = "OK", body = ClassArm), (status = 404, description = "Not found", body = ErrorBody), (status = 422, description = "Validation failed", body = ErrorBody)))]
async fn put_arm(
    ctx: SchoolCtx,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<ClassArmInput>,
) -> AppResult<Json<ClassArm>> {
    change_arm(ctx, id, input).await
}

#[utoipa::path(patch, path = "/api/v1/school/classes/{id}/", tag = "school-academics", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Class id")), request_body = ClassArmInput,
    responses((status = 200, description = "OK", body = ClassArm), (status = 404, description = "Not found", body = ErrorBody), (status = 422, description = "Validation failed", body = ErrorBody)))]
async fn patch_arm(
    ctx: SchoolCtx,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<ClassArmInput>,
) -> AppResult<Json<ClassArm>> {
    change_arm(ctx, id, input).await
}

#[utoipa::path(delete, path = "/api/v1/school/classes/{id}/", tag = "school-academics", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Class id")),
    responses((status = 204, description = "Deleted"), (status = 404, description = "Not found", body = ErrorBody), (status = 409, description = "Conflict", body = ErrorBody)))]
async fn delete_arm(mut ctx: SchoolCtx, ApiPath(id): ApiPath<i64>) -> AppResult<StatusCode> {
    service::delete(&mut ctx, Deletable::ClassArm, id).await?;
    ctx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- subjects ----

#[utoipa::path(get, path = "/api/v1/school/subjects/", tag = "school-academics", security(("bearer" = [])),
    params(PageParams),
    responses((status = 200, description = "OK", body = Page<Subject>), (status = 403, description = "Not allowed", body = ErrorBody)))]
async fn list_subjects(
    mut ctx: SchoolCtx,
    uri: Uri,
    ApiQuery(paging): ApiQuery<PageParams>,
) -> AppResult<Json<Page<Subject>>> {
    let all = db::subjects(&mut ctx.tx).await?;
    Ok(Json(Page::of_all(all, &paging, &uri)?))
}

#[utoipa::path(post, path = "/api/v1/school/subjects/", tag = "school-academics", security(("bearer" = [])),
    request_body = SubjectInput,
    responses((status = 201, description = "Created", body = Subject), (status = 422, description = "Validation failed", body = ErrorBody)))]
async fn create_subject(
    mut ctx: SchoolCtx,
    ApiJson(input): ApiJson<SubjectInput>,
) -> AppResult<(StatusCode, Json<Subject>)> {
    let s = save_subject(&mut ctx.tx, None, &input, ctx.now).await?;
    audited(ctx, "create", "subject", s.id, None, Some(&s)).await?;
    Ok((StatusCode::CREATED, Json(s)))
}

#[utoipa::path(get, path = "/api/v1/school/subjects/{id}/", tag = "school-academics", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Subject id")),
    responses((status = 200, description = "OK", body = Subject), (status = 404, description = "Not found", body = ErrorBody)))]
async fn get_subject(mut ctx: SchoolCtx, ApiPath(id): ApiPath<i64>) -> AppResult<Json<Subject>> {
    Ok(Json(db::subject(&mut ctx.tx, id).await?))
}

async fn change_subject(
    mut ctx: SchoolCtx,
    id: i64,
    input: SubjectInput,
) -> AppResult<Json<Subject>> {
    let before = db::subject(&mut ctx.tx, id).await?;
    let after = save_subject(&mut ctx.tx, Some(id), &input, ctx.now).await?;
    audited(ctx, "update", "subject", id, Some(&before), Some(&after)).await?;
    Ok(Json(after))
}

#[utoipa::path(put, path = "/api/v1/school/subjects/{id}/", tag = "school-academics", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Subject id")), request_body = SubjectInput,
    responses((status = 200, description = "OK", body = Subject), (status = 404, description = "Not found", body = ErrorBody), (status = 422, description = "Validation failed", body = ErrorBody)))]
async fn put_subject(
    ctx: SchoolCtx,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<SubjectInput>,
) -> AppResult<Json<Subject>> {
    change_subject(ctx, id, input).await
}

#[utoipa::path(patch, path = "/api/v1/school/subjects/{id}/", tag = "school-academics", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Subject id")), request_body = SubjectInput,
    responses((status = 200, description = "OK", body = Subject), (status = 404, description = "Not found", body = ErrorBody), (status = 422, description = "Validation failed", body = ErrorBody)))]
async fn patch_subject(
    ctx: SchoolCtx,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<SubjectInput>,
) -> AppResult<Json<Subject>> {
    change_subject(ctx, id, input).await
}

#[utoipa::path(delete, path = "/api/v1/school/subjects/{id}/", tag = "school-academics", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Subject id")),
    responses((status = 204, description = "Deleted"), (status = 404, description = "Not found", body = ErrorBody), (status = 409, description = "Conflict", body = ErrorBody)))]
async fn delete_subject(mut ctx: SchoolCtx, ApiPath(id): ApiPath<i64>) -> AppResult<StatusCode> {
    service::delete(&mut ctx, Deletable::Subject, id).await?;
    ctx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- academic classes ----

#[utoipa::path(get, path = "/api/v1/school/sessions/{id}/classes/", tag = "school-academics", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Session id"), PageParams),
    responses((status = 200, description = "OK", body = Page<AcademicClass>), (status = 404, description = "Not found", body = ErrorBody)))]
async fn list_academic_classes(
    mut ctx: SchoolCtx,
    ApiPath(session_id): ApiPath<i64>,
    uri: Uri,
    ApiQuery(paging): ApiQuery<PageParams>,
) -> AppResult<Json<Page<AcademicClass>>> {
    db::session(&mut ctx.tx, session_id).await?;
    let all = db::academic_classes(&mut ctx.tx, session_id).await?;
    Ok(Json(Page::of_all(all, &paging, &uri)?))
}

#[utoipa::path(post, path = "/api/v1/school/sessions/{id}/classes/", tag = "school-academics", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Session id")), request_body = AcademicClassInput,
    responses((status = 201, description = "Created", body = AcademicClass), (status = 404, description = "Not found", body = ErrorBody), (status = 422, description = "Validation failed", body = ErrorBody)))]
async fn create_academic_class(
    mut ctx: SchoolCtx,
    ApiPath(session_id): ApiPath<i64>,
    ApiJson(input): ApiJson<AcademicClassInput>,
) -> AppResult<(StatusCode, Json<AcademicClass>)> {
    let session = db::session(&mut ctx.tx, session_id).await?;
    let ac =
        save_academic_class(&mut ctx.tx, ctx.school.id, &session, None, &input, ctx.now).await?;
    audited(ctx, "create", "academic_class", ac.id, None, Some(&ac)).await?;
    Ok((StatusCode::CREATED, Json(ac)))
}

#[utoipa::path(get, path = "/api/v1/school/sessions/{id}/classes/{class_id}/", tag = "school-academics", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Session id"), ("class_id" = i64, Path, description = "Academic class id")),
    responses((status = 200, description = "OK", body = AcademicClass), (status = 404, description = "Not found", body = ErrorBody)))]
async fn get_academic_class(
    mut ctx: SchoolCtx,
    ApiPath((s, id)): ApiPath<(i64, i64)>,
) -> AppResult<Json<AcademicClass>> {
    Ok(Json(db::academic_class(&mut ctx.tx, s, id).await?))
}

async fn change_academic_class(
    mut ctx: SchoolCtx,
    s: i64,
    id: i64,
    input: AcademicClassInput,
) -> AppResult<Json<AcademicClass>> {
    let session = db::session(&mut ctx.tx, s).await?;
    let before = db::academic_class(&mut ctx.tx, s, id).await?;
    let after = save_academic_class(
        &mut ctx.tx,
        ctx.school.id,
        &session,
        Some(id),
        &input,
        ctx.now,
    )
    .await?;
    audited(
        ctx,
        "update",
        "academic_class",
        id,
        Some(&before),
        Some(&after),
    )
    .await?;
    Ok(Json(after))
}

#[utoipa::path(put, path = "/api/v1/school/sessions/{id}/classes/{class_id}/", tag = "school-academics", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Session id"), ("class_id" = i64, Path, description = "Academic class id")), request_body = AcademicClassInput,
    responses((status = 200, description = "OK", body = AcademicClass), (status = 404, description = "Not found", body = ErrorBody), (status = 422, description = "Validation failed", body = ErrorBody)))]
async fn put_academic_class(
    ctx: SchoolCtx,
    ApiPath((s, id)): ApiPath<(i64, i64)>,
    ApiJson(input): ApiJson<AcademicClassInput>,
) -> AppResult<Json<AcademicClass>> {
    change_academic_class(ctx, s, id, input).await
}

#[utoipa::path(patch, path = "/api/v1/school/sessions/{id}/classes/{class_id}/", tag = "school-academics", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Session id"), ("class_id" = i64, Path, description = "Academic class id")), request_body = AcademicClassInput,
    responses((status = 200, description = "OK", body = AcademicClass), (status = 404, description = "Not found", body = ErrorBody), (status = 422, description = "Validation failed", body = ErrorBody)))]
async fn patch_academic_class(
    ctx: SchoolCtx,
    ApiPath((s, id)): ApiPath<(i64, i64)>,
    ApiJson(input): ApiJson<AcademicClassInput>,
) -> AppResult<Json<AcademicClass>> {
    change_academic_class(ctx, s, id, input).await
}

#[utoipa::path(delete, path = "/api/v1/school/sessions/{id}/classes/{class_id}/", tag = "school-academics", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Session id"), ("class_id" = i64, Path, description = "Academic class id")),
    responses((status = 204, description = "Deleted"), (status = 404, description = "Not found", body = ErrorBody), (status = 409, description = "Conflict", body = ErrorBody)))]
async fn delete_academic_class(
    mut ctx: SchoolCtx,
    ApiPath((s, id)): ApiPath<(i64, i64)>,
) -> AppResult<StatusCode> {
    let before = db::academic_class(&mut ctx.tx, s, id).await?;
    db::delete_academic_class(&mut ctx.tx, id).await?;
    audited(ctx, "delete", "academic_class", id, Some(&before), None).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(
            OpenApiRouter::new()
                .routes(routes!(list_sessions, create_session))
                .routes(routes!(
                    get_session,
                    put_session,
                    patch_session,
                    delete_session
                ))
                .layer(guard("sessions")),
        )
        .merge(
            OpenApiRouter::new()
                .routes(routes!(list_terms, create_term))
                .routes(routes!(get_term, put_term, patch_term, delete_term))
                .layer(guard("terms")),
        )
        .merge(
            OpenApiRouter::new()
                .routes(routes!(list_forms, create_form))
                .routes(routes!(get_form, put_form, patch_form, delete_form))
                .layer(guard("forms")),
        )
        .merge(
            OpenApiRouter::new()
                .routes(routes!(list_arms, create_arm))
                .routes(routes!(get_arm, put_arm, patch_arm, delete_arm))
                .layer(guard("classes")),
        )
        .merge(
            OpenApiRouter::new()
                .routes(routes!(list_subjects, create_subject))
                .routes(routes!(
                    get_subject,
                    put_subject,
                    patch_subject,
                    delete_subject
                ))
                .layer(guard("subjects")),
        )
        .merge(
            OpenApiRouter::new()
                .routes(routes!(list_academic_classes, create_academic_class))
                .routes(routes!(
                    get_academic_class,
                    put_academic_class,
                    patch_academic_class,
                    delete_academic_class
                ))
                .layer(guard("academic_classes")),
        )
}
