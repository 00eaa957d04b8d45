//! Registrations: a student in an academic class for a session. One current class per
//! student per session; moving between arms closes the old row and keeps it as history.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{FromRow, PgConnection};
use utoipa::ToSchema;

use crate::error::AppResult;

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
          ORDER BY s.last_name_key, s.first_name_key, s.id",
    )
    .bind(academic_class_id)
    .fetch_all(conn)
    .await
}

/// One registration with its pupil, as a class list shows it.
pub async fn get(conn: &mut PgConnection, id: i64) -> Result<Option<Registration>, sqlx::Error> {
    sqlx::query_as(
        "SELECT r.id, s.id AS student_id, s.admission_no, s.first_name, s.last_name, s.other_names, s.sex, r.registered_on
           FROM registrations r JOIN students s ON s.id = r.student_id
          WHERE r.id = $1",
    )
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// Closes a current registration; the pupil's id, if there was one.
pub async fn end(
    conn: &mut PgConnection,
    registration_id: i64,
    academic_class_id: i64,
    today: NaiveDate,
) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar(
        "UPDATE registrations SET is_current = FALSE, left_on = $3 WHERE id = $1 AND academic_class_id = $2 AND is_current RETURNING student_id",
    )
    .bind(registration_id)
    .bind(academic_class_id)
    .bind(today)
    .fetch_optional(conn)
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

/// The pupil of a registration and whether they have a photo.
pub async fn student_photo(
    conn: &mut PgConnection,
    registration_id: i64,
) -> Result<(i64, bool), sqlx::Error> {
    sqlx::query_as(
        "SELECT s.id, s.has_photo FROM registrations r JOIN students s ON s.id = r.student_id WHERE r.id = $1",
    )
    .bind(registration_id)
    .fetch_one(conn)
    .await
}
