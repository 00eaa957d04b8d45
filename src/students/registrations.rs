//! Registrations: a student in an academic class for a session. One current class per
//! student per session; moving between arms closes the old row and keeps it as history.

use axum::{
    Json,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::{FromRow, PgConnection};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    academics,
    app::AppState,
    context::SchoolCtx,
    error::{AppError, AppResult, ErrorBody},
    http::{ApiJson, ApiPath},
    permissions::guard,
};

#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct Registration {
    pub id: i64,
    pub student_id: i64,
    pub admission_no: String,
    pub first_name: String,
    pub last_name: String,
    pub other_names: String,
    pub sex: String,
    pub registered_on: NaiveDate,
}

#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct ClassHistory {
    pub registration_id: i64,
    pub session_name: String,
    pub class_name: String,
    pub registered_on: NaiveDate,
    pub left_on: Option<NaiveDate>,
    pub is_current: bool,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterInput {
    pub student_id: i64,
}

/// (session id, academic class id) when the class belongs to the current session.
pub async fn current_session_class(
    conn: &mut PgConnection,
    academic_class_id: i64,
) -> Result<Option<(i64, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT ac.session_id, ac.id FROM academic_classes ac
           JOIN academic_sessions s ON s.id = ac.session_id AND s.is_current WHERE ac.id = $1",
    )
    .bind(academic_class_id)
    .fetch_optional(conn)
    .await
}

/// Registers a student in a class, moving them if they are in another class of the session.
/// Returns the current registration id.
pub async fn register(
    conn: &mut PgConnection,
    student_id: i64,
    session_id: i64,
    academic_class_id: i64,
    today: NaiveDate,
    now: DateTime<Utc>,
) -> AppResult<i64> {
    let existing: Option<(i64, i64)> = sqlx::query_as(
        "SELECT id, academic_class_id FROM registrations
          WHERE student_id = $1 AND session_id = $2 AND is_current FOR UPDATE",
    )
    .bind(student_id)
    .bind(session_id)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some((id, class)) = existing {
        if class == academic_class_id {
            return Ok(id);
        }
        sqlx::query("UPDATE registrations SET is_current = FALSE, left_on = $2 WHERE id = $1")
            .bind(id)
            .bind(today)
            .execute(&mut *conn)
            .await?;
    }
    let id = sqlx::query_scalar(
        "INSERT INTO registrations (student_id, session_id, academic_class_id, registered_on, created_at)
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(student_id)
    .bind(session_id)
    .bind(academic_class_id)
    .bind(today)
    .bind(now)
    .fetch_one(conn)
    .await?;
    Ok(id)
}

pub async fn class_list(
    conn: &mut PgConnection,
    academic_class_id: i64,
) -> Result<Vec<Registration>, sqlx::Error> {
    sqlx::query_as(
        "SELECT r.id, s.id AS student_id, s.admission_no, s.first_name, s.last_name, s.other_names, s.sex, r.registered_on
           FROM registrations r JOIN students s ON s.id = r.student_id
          WHERE r.academic_class_id = $1 AND r.is_current
          ORDER BY lower(s.last_name), lower(s.first_name), s.id",
    )
    .bind(academic_class_id)
    .fetch_all(conn)
    .await
}

pub async fn history(
    conn: &mut PgConnection,
    student_id: i64,
) -> Result<Vec<ClassHistory>, sqlx::Error> {
    sqlx::query_as(
        "SELECT r.id AS registration_id, se.name AS session_name, c.name AS class_name, r.registered_on,
                r.left_on, r.is_current
           FROM registrations r
           JOIN academic_sessions se ON se.id = r.session_id
           JOIN academic_classes ac ON ac.id = r.academic_class_id
           JOIN classes c ON c.id = ac.class_id
          WHERE r.student_id = $1
          ORDER BY se.starts_on DESC, r.registered_on DESC, r.id DESC",
    )
    .bind(student_id)
    .fetch_all(conn)
    .await
}

/// Pupils registered in a class now.
#[utoipa::path(get, path = "/api/v1/school/sessions/{id}/classes/{class_id}/registrations/", tag = "school-students",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Session id"), ("class_id" = i64, Path, description = "Academic class id")),
    responses((status = 200, description = "OK", body = Vec<Registration>), (status = 404, description = "Not found", body = ErrorBody)))]
async fn list_registrations(
    mut ctx: SchoolCtx,
    ApiPath((s, ac)): ApiPath<(i64, i64)>,
) -> AppResult<Json<Vec<Registration>>> {
    academics::academic_class(&mut ctx.tx, s, ac).await?;
    Ok(Json(class_list(&mut ctx.tx, ac).await?))
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
    let class = academics::academic_class(&mut ctx.tx, s, ac).await?;
    let reg = add(&mut ctx, &class, input.student_id).await?;
    ctx.commit().await?;
    Ok((StatusCode::CREATED, Json(reg)))
}

/// Shared by the API and the class page.
pub async fn add(
    ctx: &mut SchoolCtx,
    class: &academics::AcademicClass,
    student_id: i64,
) -> AppResult<Registration> {
    let student = match super::db::get(&mut ctx.tx, student_id).await {
        Ok(s) => s,
        Err(AppError::NotFound(_)) => {
            return Err(AppError::field("student_id", "There is no such student."));
        }
        Err(e) => return Err(e),
    };
    if student.status != "active" {
        return Err(AppError::field(
            "student_id",
            format!(
                "{} is {}; only active students can be registered.",
                student.full_name(),
                student.status
            ),
        ));
    }
    let today = ctx.now.date_naive();
    let id = register(
        &mut ctx.tx,
        student_id,
        class.session_id,
        class.id,
        today,
        ctx.now,
    )
    .await?;
    ctx.audit("register", "student", student_id, json!({"class": {"from": student.current_class, "to": class.class_name}, "registration_id": id})).await?;
    class_list(&mut ctx.tx, class.id)
        .await?
        .into_iter()
        .find(|r| r.id == id)
        .ok_or_else(AppError::not_found)
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
    let class = academics::academic_class(&mut ctx.tx, s, ac).await?;
    let student: Option<i64> = sqlx::query_scalar(
        "UPDATE registrations SET is_current = FALSE, left_on = $3 WHERE id = $1 AND academic_class_id = $2 AND is_current RETURNING student_id",
    )
    .bind(reg)
    .bind(ac)
    .bind(ctx.now.date_naive())
    .fetch_optional(&mut *ctx.tx)
    .await?;
    let student = student.ok_or_else(AppError::not_found)?;
    ctx.audit(
        "unregister",
        "student",
        student,
        json!({"class": {"from": class.class_name, "to": null}}),
    )
    .await?;
    ctx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
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
    let class = academics::academic_class(&mut ctx.tx, s, ac).await?;
    let rows = class_list(&mut ctx.tx, ac).await?;
    class_list_csv(&class, &rows)
}

pub fn class_list_csv(
    class: &academics::AcademicClass,
    rows: &[Registration],
) -> AppResult<Response> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let io = |e: csv::Error| AppError::Internal(e.into());
    w.write_record([
        "admission_no",
        "last_name",
        "first_name",
        "other_names",
        "sex",
        "class",
        "registered_on",
    ])
    .map_err(io)?;
    for r in rows {
        let date = r.registered_on.to_string();
        w.write_record([
            &r.admission_no,
            &r.last_name,
            &r.first_name,
            &r.other_names,
            &r.sex,
            &class.class_name,
            &date,
        ])
        .map_err(io)?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| AppError::Internal(anyhow::anyhow!("csv: {e}")))?;
    let filename = format!(
        "class-list-{}.csv",
        class
            .class_name
            .replace(|c: char| !c.is_ascii_alphanumeric(), "-")
    );
    Ok(csv_download(bytes, &filename))
}

pub fn csv_download(bytes: Vec<u8>, filename: &str) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
            (header::CACHE_CONTROL, "private, no-store".to_owned()),
        ],
        bytes,
    )
        .into_response()
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_registrations, register_student))
        .routes(routes!(end_registration))
        .routes(routes!(export_class_list))
        .layer(guard("registrations"))
}
