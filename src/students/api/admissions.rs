//! `/api/v1/school/admissions/`: the student register, photos, exports and CSV import.

use axum::{
    Json,
    body::Bytes,
    http::{HeaderMap, StatusCode, Uri, header},
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use serde_json::json;
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::students::{
    db::{self, Student, StudentFilter, StudentInput},
    import::{self, ImportPreview},
    photos,
    service::{self, ExportParams, StudentRecord},
};
use crate::{
    audit::views::{self, RecordView},
    context::SchoolCtx,
    error::{AppError, AppResult, ErrorBody},
    http::{ApiJson, ApiMultipart, ApiPath, ApiQuery, ListParams, Page, PageParams},
    permissions::{
        access::{guard, guard_exact},
        catalogue::Action,
    },
    state::AppState,
};

/// The register, searchable by name or admission number, filterable by class and status.
#[utoipa::path(get, path = "/api/v1/school/admissions/", tag = "school-students", security(("bearer" = [])),
    params(ListParams, StudentFilter, ("ordering" = Option<String>, Query, description = "One of last_name, first_name, admission_no, admission_date, created_at; `-` in front for descending.", pattern = "^(-?(last_name|first_name|admission_no|admission_date|created_at))?$")),
    responses((status = 200, description = "OK", body = Page<Student>), (status = 403, description = "Not allowed", body = ErrorBody)))]
async fn list_admissions(
    mut ctx: SchoolCtx,
    uri: Uri,
    ApiQuery(params): ApiQuery<ListParams>,
    ApiQuery(filter): ApiQuery<StudentFilter>,
) -> AppResult<Json<Page<Student>>> {
    let (rows, count) = db::list(&mut ctx.tx, &params, &filter).await?;
    Ok(Json(Page::new(rows, count, &params, &uri)?))
}

/// Admits a student (with guardians and a class, optionally). A blank admission number is
/// generated from the school's pattern.
#[utoipa::path(post, path = "/api/v1/school/admissions/", tag = "school-students", security(("bearer" = [])),
    request_body = StudentInput,
    responses((status = 201, description = "Created", body = Student), (status = 422, description = "Validation failed", body = ErrorBody)))]
async fn admit_student(
    mut ctx: SchoolCtx,
    ApiJson(input): ApiJson<StudentInput>,
) -> AppResult<(StatusCode, Json<Student>)> {
    let s = service::admit(&mut ctx, &input).await?;
    ctx.commit().await?;
    Ok((StatusCode::CREATED, Json(s)))
}

#[utoipa::path(get, path = "/api/v1/school/admissions/{id}/", tag = "school-students", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Student id")),
    responses((status = 200, description = "OK", body = Student), (status = 404, description = "Not found", body = ErrorBody)))]
async fn get_admission(mut ctx: SchoolCtx, ApiPath(id): ApiPath<i64>) -> AppResult<Json<Student>> {
    Ok(Json(db::get(&mut ctx.tx, id).await?))
}

#[utoipa::path(put, path = "/api/v1/school/admissions/{id}/", tag = "school-students", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Student id")), request_body = StudentInput,
    responses((status = 200, description = "OK", body = Student), (status = 404, description = "Not found", body = ErrorBody), (status = 422, description = "Validation failed", body = ErrorBody)))]
async fn put_admission(
    mut ctx: SchoolCtx,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<StudentInput>,
) -> AppResult<Json<Student>> {
    let mut v = crate::error::Validator::new();
    for (field, value) in [
        ("first_name", &input.first_name),
        ("last_name", &input.last_name),
        ("sex", &input.sex),
    ] {
        if value.is_none() {
            v.add(field, "This field is required.");
        }
    }
    v.finish()?;
    let s = service::change(&mut ctx, id, &input).await?;
    ctx.commit().await?;
    Ok(Json(s))
}

/// Changes some fields; `{"status": "withdrawn"}` withdraws the student and keeps the record.
#[utoipa::path(patch, path = "/api/v1/school/admissions/{id}/", tag = "school-students", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Student id")), request_body = StudentInput,
    responses((status = 200, description = "OK", body = Student), (status = 404, description = "Not found", body = ErrorBody), (status = 422, description = "Validation failed", body = ErrorBody)))]
async fn patch_admission(
    mut ctx: SchoolCtx,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<StudentInput>,
) -> AppResult<Json<Student>> {
    let s = service::change(&mut ctx, id, &input).await?;
    ctx.commit().await?;
    Ok(Json(s))
}

/// Deletes a record entered by mistake, with its guardians and registrations. To keep the
/// record of a pupil who left, set the status to `withdrawn` instead.
#[utoipa::path(delete, path = "/api/v1/school/admissions/{id}/", tag = "school-students", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Student id")),
    responses((status = 204, description = "Deleted"), (status = 404, description = "Not found", body = ErrorBody), (status = 409, description = "The pupil has marks or report comments: withdraw them instead", body = ErrorBody)))]
async fn delete_admission(mut ctx: SchoolCtx, ApiPath(id): ApiPath<i64>) -> AppResult<StatusCode> {
    service::remove(&mut ctx, id).await?;
    ctx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The student's photo.
#[utoipa::path(get, path = "/api/v1/school/admissions/{id}/photo/", tag = "school-students", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Student id")),
    responses((status = 200, description = "The image (JPEG, PNG or WebP)", content(("image/jpeg"), ("image/png"), ("image/webp"))), (status = 404, description = "Not found", body = ErrorBody)))]
async fn get_photo(mut ctx: SchoolCtx, ApiPath(id): ApiPath<i64>) -> AppResult<Response> {
    photos::load(&mut ctx, id).await
}

/// Uploads the photo (multipart field `photo`; JPEG, PNG or WebP, at most 2 MB, checked by
/// content).
#[utoipa::path(put, path = "/api/v1/school/admissions/{id}/photo/", tag = "school-students", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Student id")),
    request_body(content_type = "multipart/form-data", content = photos::PhotoUpload, description = "Field `photo`"),
    responses((status = 204, description = "Saved"), (status = 404, description = "Not found", body = ErrorBody), (status = 422, description = "Validation failed", body = ErrorBody)))]
async fn put_photo(
    mut ctx: SchoolCtx,
    ApiPath(id): ApiPath<i64>,
    ApiMultipart(multipart): ApiMultipart,
) -> AppResult<StatusCode> {
    let (bytes, kind) = photos::read_photo(multipart).await?;
    photos::save(&mut ctx, id, bytes, kind).await?;
    ctx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The student's full record (details, guardians, class history), for the parent or a
/// transfer.
#[utoipa::path(get, path = "/api/v1/school/admissions/{id}/record/", tag = "school-students", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Student id")),
    responses((status = 200, description = "OK", body = StudentRecord), (status = 404, description = "Not found", body = ErrorBody)))]
async fn full_record(
    mut ctx: SchoolCtx,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Json<StudentRecord>> {
    let record = service::record(&mut ctx, id).await?;
    ctx.commit().await?;
    Ok(Json(record))
}

/// Who viewed this pupil's results, report cards or broadsheets, or exported their data:
/// newest first. Needs permission to read the audit log.
#[utoipa::path(get, path = "/api/v1/school/admissions/{id}/views/", tag = "school-students", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Student id"), PageParams),
    responses((status = 200, description = "OK", body = Page<RecordView>), (status = 403, description = "Not allowed to read the audit log", body = ErrorBody), (status = 404, description = "Not found", body = ErrorBody)))]
async fn record_views(
    mut ctx: SchoolCtx,
    ApiPath(id): ApiPath<i64>,
    uri: Uri,
    ApiQuery(paging): ApiQuery<PageParams>,
) -> AppResult<Json<Page<RecordView>>> {
    // 404 for a pupil who does not exist here, not an empty list.
    crate::students::db::get(&mut ctx.tx, id).await?;
    let params = ListParams::from(&paging);
    let (limit, offset) = params.limit_offset()?;
    let (rows, count) = views::of_student(&mut ctx.tx, id, limit, offset).await?;
    Ok(Json(Page::new(rows, count, &params, &uri)?))
}

#[utoipa::path(get, path = "/api/v1/school/admissions/export/", tag = "school-students", security(("bearer" = [])),
    params(ExportParams),
    responses((status = 200, description = "The register as CSV (`format=csv`, the default) or JSON (`format=json`)", content((String = "text/csv"), (Vec<Student> = "application/json"))), (status = 422, description = "Validation failed", body = ErrorBody)))]
async fn export_register_api(
    mut ctx: SchoolCtx,
    ApiQuery(q): ApiQuery<ExportParams>,
) -> AppResult<Response> {
    let export = service::export_register(&mut ctx, &q).await?;
    ctx.commit().await?;
    Ok(export.into_response())
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportParams {
    /// Check the file and return the preview without saving.
    pub dry_run: Option<bool>,
}

/// Imports students from CSV (the request body, `Content-Type: text/csv`). Every row is
/// checked first; one bad row means nothing is created and the rows' problems are returned.
#[utoipa::path(post, path = "/api/v1/school/admissions/import/", tag = "school-students", security(("bearer" = [])),
    params(ImportParams),
    request_body(content_type = "text/csv", description = "Columns: admission_no, first_name, last_name, other_names, sex, date_of_birth, admission_date, address, class, guardian_name, guardian_relationship, guardian_phone, guardian_email"),
    responses((status = 201, description = "Created", body = ImportPreview), (status = 200, description = "Preview (dry run)", body = ImportPreview), (status = 422, description = "Validation failed", body = ErrorBody)))]
async fn import_csv(
    mut ctx: SchoolCtx,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<ImportParams>,
    body: Bytes,
) -> AppResult<Response> {
    let is_csv = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("text/csv") || ct.starts_with("text/plain"));
    if !is_csv {
        return Err(AppError::UnsupportedMediaType(
            "Send the file with `Content-Type: text/csv`.".into(),
        ));
    }
    let text = String::from_utf8(body.to_vec())
        .map_err(|_| AppError::field("file", "The file must be UTF-8 text."))?;
    if q.dry_run == Some(true) {
        let today = ctx.today();
        let checked = import::check(&mut ctx.tx, &text, today).await?;
        if !checked.is_clean() {
            return Err(import::refusal(&checked.preview));
        }
        return Ok(Json(checked.preview).into_response());
    }
    // The same check runs inside the commit, which writes nothing when any row has a problem.
    let today = ctx.today();
    let preview = match import::commit(&mut ctx.tx, &text, today, ctx.now).await? {
        import::Outcome::Imported(preview) => preview,
        import::Outcome::Refused(preview) => return Err(import::refusal(&preview)),
    };
    ctx.audit(
        "import",
        "student",
        "*",
        json!({"created": preview.created}),
    )
    .await?;
    crate::tenancy::schools::step_done(&mut ctx.tx, ctx.school.id, "students", ctx.now).await?;
    ctx.commit().await?;
    Ok((StatusCode::CREATED, Json(preview)).into_response())
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(
            OpenApiRouter::new()
                .routes(routes!(list_admissions, admit_student))
                .routes(routes!(
                    get_admission,
                    put_admission,
                    patch_admission,
                    delete_admission
                ))
                .routes(routes!(full_record))
                .routes(routes!(export_register_api))
                .layer(guard("students")),
        )
        .merge(
            OpenApiRouter::new()
                .routes(routes!(get_photo))
                .layer(guard_exact(Action::View, "students")),
        )
        .merge(
            OpenApiRouter::new()
                .routes(routes!(record_views))
                .layer(guard_exact(Action::View, "audit")),
        )
        .merge(
            OpenApiRouter::new()
                .routes(routes!(put_photo))
                .layer(guard_exact(Action::Change, "students")),
        )
        .merge(
            OpenApiRouter::new()
                .routes(routes!(import_csv))
                .layer(guard_exact(Action::Add, "students")),
        )
}
