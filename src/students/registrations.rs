//! Registrations: a student in an academic class for a session. One current class per
//! student per session; moving between arms closes the old row and keeps it as history.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{FromRow, PgConnection};
use utoipa::ToSchema;

use super::names::LIST_NAME;
use crate::error::{AppError, AppResult};

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
    // A move dates from today. A first place in the session dates from when the pupil
    // joined it (admitted, or the session began), so a pupil entered into Schoolyard late
    // is not shown as joining their class today; never a date still to come.
    let new_id = sqlx::query_scalar(
        "INSERT INTO registrations (student_id, session_id, academic_class_id, registered_on, created_at)
         SELECT $1, $2, $3,
                CASE WHEN $6 THEN $4 ELSE LEAST($4, GREATEST(s.admission_date, se.starts_on)) END, $5
           FROM students s, academic_sessions se
          WHERE s.id = $1 AND se.id = $2
         RETURNING id",
    )
    .bind(student_id)
    .bind(session_id)
    .bind(academic_class_id)
    .bind(today)
    .bind(now)
    .bind(existing.is_some())
    .fetch_one(&mut *conn)
    .await?;
    if let Some((old_id, old_class)) = existing {
        carry_term_records(conn, old_id, old_class, new_id, academic_class_id, now).await?;
    }
    Ok(new_id)
}

/// A pupil who moves arm keeps one set of marks: the records of exam sessions not yet
/// published (marks, ABS, subject remarks, comments, ratings) move from the old
/// registration to the new one, onto the new class's exam of the same subject (set up with
/// the old exam's components when missing). Published terms stay with the class the pupil
/// was in then. A mark that cannot follow (the new class does not offer the subject, or
/// its exam lacks the component) refuses the move, so nothing is left behind or lost.
///
/// The SQL touches the assessment tables: the move is a registration's, and students sit
/// below assessment, so it cannot call assessment's code.
async fn carry_term_records(
    conn: &mut PgConnection,
    old: i64,
    old_class: i64,
    new: i64,
    new_class: i64,
    now: DateTime<Utc>,
) -> AppResult<()> {
    // Marks in subjects the new class does not offer.
    let stranded: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT s.name || ' (' || es.name || ')'
           FROM marks m JOIN exams e ON e.id = m.exam_id
           JOIN exam_sessions es ON es.id = e.exam_session_id AND es.status <> 'published'
           JOIN subjects s ON s.id = e.subject_id
          WHERE m.registration_id = $1
            AND NOT EXISTS (SELECT 1 FROM academic_class_subjects acs
                             WHERE acs.academic_class_id = $2 AND acs.subject_id = e.subject_id)
          ORDER BY 1",
    )
    .bind(old)
    .bind(new_class)
    .fetch_all(&mut *conn)
    .await?;
    if !stranded.is_empty() {
        return Err(AppError::Conflict(format!(
            "This pupil has marks in {}, which the new class does not offer: add the subject to the class first (or clear those marks), so the marks can move with the pupil.",
            stranded.join(", ")
        )));
    }
    // The new class's exams for the subjects with the pupil's records, copying the old
    // exam's components where the exam is missing.
    sqlx::query(
        "WITH wanted AS (
             SELECT DISTINCT e.id AS old_exam, e.exam_session_id, e.subject_id
               FROM exams e JOIN exam_sessions es ON es.id = e.exam_session_id AND es.status <> 'published'
              WHERE e.academic_class_id = $2
                AND (EXISTS (SELECT 1 FROM marks m WHERE m.exam_id = e.id AND m.registration_id = $1)
                     OR EXISTS (SELECT 1 FROM exam_absences a WHERE a.exam_id = e.id AND a.registration_id = $1)
                     OR EXISTS (SELECT 1 FROM subject_remarks r WHERE r.exam_id = e.id AND r.registration_id = $1))),
         created AS (
             INSERT INTO exams (exam_session_id, academic_class_id, subject_id, created_at, updated_at)
             SELECT w.exam_session_id, $3, w.subject_id, $4, $4 FROM wanted w
             ON CONFLICT ON CONSTRAINT exams_session_class_subject_key DO NOTHING
             RETURNING id, exam_session_id, subject_id)
         INSERT INTO exam_components (exam_id, name, max_score, ordinal)
         SELECT c.id, ec.name, ec.max_score, ec.ordinal
           FROM created c JOIN wanted w ON w.exam_session_id = c.exam_session_id AND w.subject_id = c.subject_id
           JOIN exam_components ec ON ec.exam_id = w.old_exam",
    )
    .bind(old)
    .bind(old_class)
    .bind(new_class)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    // Old exam → new exam of the same session and subject.
    const PAIRS: &str = "SELECT eo.id AS old_exam, en.id AS new_exam
           FROM exams eo JOIN exam_sessions es ON es.id = eo.exam_session_id AND es.status <> 'published'
           JOIN exams en ON en.exam_session_id = eo.exam_session_id AND en.academic_class_id = $3
                        AND en.subject_id = eo.subject_id
          WHERE eo.academic_class_id = $2";
    let unmatched: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "WITH pairs AS ({PAIRS})
         SELECT DISTINCT s.name || ' ' || co.name
           FROM marks m JOIN pairs p ON p.old_exam = m.exam_id
           JOIN exam_components co ON co.id = m.component_id
           JOIN exams e ON e.id = m.exam_id JOIN subjects s ON s.id = e.subject_id
          WHERE m.registration_id = $1
            AND NOT EXISTS (SELECT 1 FROM exam_components cn
                             WHERE cn.exam_id = p.new_exam AND lower(cn.name) = lower(co.name))
          ORDER BY 1"
    )))
    .bind(old)
    .bind(old_class)
    .bind(new_class)
    .fetch_all(&mut *conn)
    .await?;
    if !unmatched.is_empty() {
        return Err(AppError::Conflict(format!(
            "The new class's exams have no component for this pupil's marks in {}: give those exams the same components first.",
            unmatched.join(", ")
        )));
    }
    for statement in [
        "UPDATE marks m SET registration_id = $4, exam_id = p.new_exam, component_id = cn.id
           FROM pairs p, exam_components co, exam_components cn
          WHERE m.registration_id = $1 AND m.exam_id = p.old_exam AND co.id = m.component_id
            AND cn.exam_id = p.new_exam AND lower(cn.name) = lower(co.name)",
        "UPDATE exam_absences a SET registration_id = $4, exam_id = p.new_exam
           FROM pairs p WHERE a.registration_id = $1 AND a.exam_id = p.old_exam",
        "UPDATE subject_remarks r SET registration_id = $4, exam_id = p.new_exam
           FROM pairs p WHERE r.registration_id = $1 AND r.exam_id = p.old_exam",
    ] {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "WITH pairs AS ({PAIRS}) {statement}"
        )))
        .bind(old)
        .bind(old_class)
        .bind(new_class)
        .bind(new)
        .execute(&mut *conn)
        .await?;
    }
    for table in ["report_comments", "ratings"] {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE {table} t SET registration_id = $2
               FROM exam_sessions es
              WHERE t.registration_id = $1 AND es.id = t.exam_session_id AND es.status <> 'published'"
        )))
        .bind(old)
        .bind(new)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
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

/// A pupil who left a class during its session: moved to another arm, or left the school.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct Departure {
    pub student_id: i64,
    pub full_name: String,
    pub left_on: Option<NaiveDate>,
    /// The class they are in now, when they moved arm within the session.
    pub moved_to: Option<String>,
}

/// Pupils who left `academic_class_id` during its session and are not back in it.
pub async fn departures(
    conn: &mut PgConnection,
    academic_class_id: i64,
) -> Result<Vec<Departure>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT DISTINCT ON (s.id) s.id AS student_id, {LIST_NAME} AS full_name, r.left_on,
                c.name AS moved_to
           FROM registrations r JOIN students s ON s.id = r.student_id
           LEFT JOIN registrations now ON now.student_id = r.student_id AND now.session_id = r.session_id AND now.is_current
           LEFT JOIN academic_classes ac ON ac.id = now.academic_class_id
           LEFT JOIN classes c ON c.id = ac.class_id
          WHERE r.academic_class_id = $1 AND NOT r.is_current
            AND now.academic_class_id IS DISTINCT FROM $1
          ORDER BY s.id, r.left_on DESC"
    )))
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
