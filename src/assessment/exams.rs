//! Exam sessions (a term's examination) and exams (a subject of a class in one).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{FromRow, PgConnection};
use utoipa::ToSchema;

use super::config::{self, Component};
use crate::{
    academics::db as academics,
    error::{AppError, AppResult, Validator},
};

crate::text_enum::text_enum! {
    /// An exam session's state: marks are entered only while `open`; `published` shows the
    /// report cards to parents.
    pub enum ExamSessionStatus {
        Draft = "draft",
        Open = "open",
        Closed = "closed",
        Published = "published",
    }
}

/// The school's grading scale and report settings now, as stored in a published session.
const GRADING_NOW: &str =
    "(SELECT jsonb_agg(jsonb_build_object('grade', grade, 'min_score', min_score::float8,
                                   'remark', remark) ORDER BY min_score DESC) FROM grade_bands)";
const REPORT_NOW: &str = "(SELECT to_jsonb(r) - 'id' - 'updated_at' FROM report_settings r)";

#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct ExamSession {
    pub id: i64,
    pub session_id: i64,
    #[schema(example = "2025/2026")]
    pub session_name: String,
    pub term_id: i64,
    /// 1, 2 or 3.
    pub term_ordinal: i16,
    #[schema(example = "First Term")]
    pub term_name: String,
    #[schema(example = "First Term Examination")]
    pub name: String,
    pub status: ExamSessionStatus,
    pub published_at: Option<DateTime<Utc>>,
    /// When the head confirmed the results with marks outstanding (closing or publishing
    /// anyway); null otherwise. Pupils with outstanding marks are ranked only once confirmed.
    pub outstanding_confirmed_at: Option<DateTime<Utc>>,
    /// Exams (class subjects) set up in this session.
    pub exam_count: i64,
}

impl ExamSession {
    pub fn is_open(&self) -> bool {
        self.status == ExamSessionStatus::Open
    }
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExamSessionInput {
    /// The term examined (its academic session follows from it). Fixed once created.
    pub term_id: Option<i64>,
    /// Defaults to "<term> Examination".
    #[schema(min_length = 1, max_length = 100)]
    pub name: Option<String>,
    /// `draft`, `open`, `closed` or `published`.
    #[schema(value_type = Option<ExamSessionStatus>)]
    pub status: Option<String>,
    /// Closing or publishing while marks are outstanding is refused (409, naming them)
    /// unless this is `true`: pupils with outstanding marks are then ranked on the marks
    /// they have. Reopening clears the confirmation.
    #[serde(default)]
    pub confirm_outstanding: Option<bool>,
}

const ES_SELECT: &str = "SELECT es.id, es.session_id, s.name AS session_name, es.term_id,
        t.ordinal AS term_ordinal, t.name AS term_name, es.name, es.status, es.published_at,
        es.outstanding_confirmed_at,
        (SELECT count(*) FROM exams e WHERE e.exam_session_id = es.id) AS exam_count
   FROM exam_sessions es
   JOIN academic_sessions s ON s.id = es.session_id
   JOIN terms t ON t.id = es.term_id";

pub async fn exam_sessions(conn: &mut PgConnection) -> Result<Vec<ExamSession>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{ES_SELECT} ORDER BY s.starts_on DESC, t.ordinal DESC"
    )))
    .fetch_all(conn)
    .await
}

pub async fn exam_session(conn: &mut PgConnection, id: i64) -> AppResult<ExamSession> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("{ES_SELECT} WHERE es.id = $1")))
        .bind(id)
        .fetch_optional(conn)
        .await?
        .ok_or_else(|| AppError::NotFound("No such exam session.".into()))
}

pub async fn save_exam_session(
    conn: &mut PgConnection,
    id: Option<i64>,
    input: &ExamSessionInput,
    now: DateTime<Utc>,
) -> AppResult<ExamSession> {
    let mut v = Validator::new();
    if let Some(name) = &input.name {
        v.text("name", name, 1, 100);
    }
    if let Some(status) = &input.status
        && ExamSessionStatus::parse(status).is_none()
    {
        v.add("status", "Choose draft, open, closed or published.");
    }
    let id = match id {
        None => {
            let Some(term_id) = input.term_id else {
                return Err(AppError::field("term_id", "Choose the term."));
            };
            let term: Option<academics::Term> =
                sqlx::query_as("SELECT id, session_id, ordinal, name, starts_on, ends_on, next_term_begins, is_current FROM terms WHERE id = $1")
                    .bind(term_id)
                    .fetch_optional(&mut *conn)
                    .await?;
            let Some(term) = term else {
                return Err(AppError::field("term_id", "There is no such term."));
            };
            v.finish()?;
            let name = input
                .name
                .as_deref()
                .map(str::trim)
                .map(str::to_owned)
                .unwrap_or_else(|| format!("{} Examination", term.name));
            let status = input.status.as_deref().unwrap_or("draft");
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "INSERT INTO exam_sessions (session_id, term_id, name, status, published_at,
                        grading_snapshot, report_snapshot, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, CASE WHEN $4 = 'published' THEN $5 END,
                         CASE WHEN $4 = 'published' THEN {GRADING_NOW} END,
                         CASE WHEN $4 = 'published' THEN {REPORT_NOW} END, $5, $5) RETURNING id"
            )))
            .bind(term.session_id)
            .bind(term.id)
            .bind(&name)
            .bind(status)
            .bind(now)
            .fetch_one(&mut *conn)
            .await
            .map_err(|e| {
                AppError::from(e).on_constraint(
                    "exam_sessions_term_key",
                    "term_id",
                    "This term already has an exam session.",
                )
            })?
        }
        Some(id) => {
            let before = exam_session(conn, id).await?;
            if input.term_id.is_some_and(|t| t != before.term_id) {
                v.add("term_id", "The term of an exam session cannot change.");
            }
            v.finish()?;
            // Publishing freezes the grading scale and report settings of the cards;
            // unpublishing lets them follow the school's settings again.
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "UPDATE exam_sessions SET name = COALESCE($2, name), status = COALESCE($3, status),
                        published_at = CASE WHEN COALESCE($3, status) = 'published' THEN COALESCE(published_at, $4) END,
                        grading_snapshot = CASE WHEN COALESCE($3, status) = 'published'
                                                THEN COALESCE(grading_snapshot, {GRADING_NOW}) END,
                        report_snapshot = CASE WHEN COALESCE($3, status) = 'published'
                                               THEN COALESCE(report_snapshot, {REPORT_NOW}) END,
                        updated_at = $4
                  WHERE id = $1"
            )))
            .bind(id)
            .bind(input.name.as_deref().map(str::trim))
            .bind(input.status.as_deref())
            .bind(now)
            .execute(&mut *conn)
            .await?;
            id
        }
    };
    exam_session(conn, id).await
}

/// Locks an exam session against concurrent mark saves (which hold it FOR SHARE).
pub async fn lock_exam_session(conn: &mut PgConnection, id: i64) -> AppResult<()> {
    sqlx::query("SELECT 1 FROM exam_sessions WHERE id = $1 FOR UPDATE")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| AppError::NotFound("No such exam session.".into()))?;
    Ok(())
}

/// Deletes an exam session that holds no marks, comments or ratings yet.
pub async fn delete_exam_session(conn: &mut PgConnection, id: i64) -> AppResult<ExamSession> {
    lock_exam_session(conn, id).await?;
    let es = exam_session(conn, id).await?;
    let has_marks: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM marks m JOIN exams e ON e.id = m.exam_id WHERE e.exam_session_id = $1)
             OR EXISTS (SELECT 1 FROM report_comments WHERE exam_session_id = $1)
             OR EXISTS (SELECT 1 FROM ratings WHERE exam_session_id = $1)",
    )
    .bind(id)
    .fetch_one(&mut *conn)
    .await?;
    if has_marks {
        return Err(AppError::Conflict(
            "This exam session already has marks or comments; close it instead of deleting it."
                .into(),
        ));
    }
    sqlx::query("DELETE FROM exam_sessions WHERE id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(es)
}

// ---- exams ----

#[derive(Debug, Clone, Serialize, Deserialize, FromRow, ToSchema)]
pub struct ExamComponent {
    pub id: i64,
    #[schema(example = "CA1")]
    pub name: String,
    #[schema(example = 20)]
    pub max_score: f64,
}

#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct Exam {
    pub id: i64,
    pub exam_session_id: i64,
    pub academic_class_id: i64,
    #[schema(example = "JSS 1A")]
    pub class_name: String,
    pub subject_id: i64,
    #[schema(example = "Mathematics")]
    pub subject_name: String,
    /// The subject teacher of the class, who may enter its marks.
    pub teacher_id: Option<i64>,
    pub teacher_name: Option<String>,
    #[sqlx(json)]
    pub components: Vec<ExamComponent>,
    /// Pupils with at least one score.
    pub marked_count: i64,
    /// Pupils with a score in every component.
    pub complete_count: i64,
    /// Pupils registered in the class now.
    pub pupil_count: i64,
    /// Reopened for corrections while the exam session is closed: its marks may change
    /// until it is closed again.
    pub reopened_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExamInput {
    pub academic_class_id: i64,
    pub subject_id: i64,
    /// Defaults to the school's assessment components.
    pub components: Option<Vec<Component>>,
}

const EXAM_SELECT: &str = "SELECT e.id, e.exam_session_id, e.academic_class_id, c.name AS class_name,
        e.subject_id, s.name AS subject_name, acs.teacher_id, t.full_name AS teacher_name,
        COALESCE((SELECT json_agg(json_build_object('id', ec.id, 'name', ec.name, 'max_score', ec.max_score::float8)
                          ORDER BY ec.ordinal)
                    FROM exam_components ec WHERE ec.exam_id = e.id), '[]'::json) AS components,
        (SELECT count(DISTINCT m.registration_id) FROM marks m WHERE m.exam_id = e.id) AS marked_count,
        (SELECT count(*) FROM (SELECT 1 FROM marks m WHERE m.exam_id = e.id GROUP BY m.registration_id
                                HAVING count(*) = (SELECT count(*) FROM exam_components ec WHERE ec.exam_id = e.id)) full_rows) AS complete_count,
        (SELECT count(*) FROM registrations r WHERE r.academic_class_id = e.academic_class_id AND r.is_current) AS pupil_count,
        e.reopened_at
   FROM exams e
   JOIN academic_classes ac ON ac.id = e.academic_class_id
   JOIN classes c ON c.id = ac.class_id
   JOIN forms f ON f.id = c.form_id
   JOIN subjects s ON s.id = e.subject_id
   JOIN academic_class_subjects acs ON acs.academic_class_id = e.academic_class_id AND acs.subject_id = e.subject_id
   LEFT JOIN public.users t ON t.id = acs.teacher_id";

pub async fn exams(
    conn: &mut PgConnection,
    exam_session_id: i64,
    academic_class_id: Option<i64>,
) -> Result<Vec<Exam>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{EXAM_SELECT} WHERE e.exam_session_id = $1 AND ($2::bigint IS NULL OR e.academic_class_id = $2)
         ORDER BY f.ordinal, lower(c.name), lower(s.name)"
    )))
    .bind(exam_session_id)
    .bind(academic_class_id)
    .fetch_all(conn)
    .await
}

pub async fn exam(conn: &mut PgConnection, id: i64) -> AppResult<Exam> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{EXAM_SELECT} WHERE e.id = $1"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await?
    .ok_or_else(|| AppError::NotFound("No such exam.".into()))
}

async fn insert_exam(
    conn: &mut PgConnection,
    exam_session_id: i64,
    academic_class_id: i64,
    subject_id: i64,
    components: &[Component],
    now: DateTime<Utc>,
) -> Result<Option<i64>, sqlx::Error> {
    let id: Option<i64> = sqlx::query_scalar(
        "INSERT INTO exams (exam_session_id, academic_class_id, subject_id, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $4)
         ON CONFLICT ON CONSTRAINT exams_session_class_subject_key DO NOTHING RETURNING id",
    )
    .bind(exam_session_id)
    .bind(academic_class_id)
    .bind(subject_id)
    .bind(now)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(id) = id {
        let names: Vec<&str> = components.iter().map(|c| c.name.trim()).collect();
        let maxima: Vec<f64> = components.iter().map(|c| c.max_score).collect();
        sqlx::query(
            "INSERT INTO exam_components (exam_id, name, max_score, ordinal)
             SELECT $1, name, max_score, ordinal
               FROM UNNEST($2::text[], $3::float8[]) WITH ORDINALITY AS c(name, max_score, ordinal)",
        )
        .bind(id)
        .bind(&names)
        .bind(&maxima)
        .execute(&mut *conn)
        .await?;
    }
    Ok(id)
}

pub async fn create_exam(
    conn: &mut PgConnection,
    es: &ExamSession,
    input: &ExamInput,
    now: DateTime<Utc>,
) -> AppResult<Exam> {
    let mut v = Validator::new();
    let components = match &input.components {
        Some(list) => {
            config::validate_components(&mut v, "components", list);
            list.clone()
        }
        None => config::components(conn).await?,
    };
    let offered: Option<i64> = sqlx::query_scalar(
        "SELECT ac.session_id FROM academic_class_subjects acs
           JOIN academic_classes ac ON ac.id = acs.academic_class_id
          WHERE acs.academic_class_id = $1 AND acs.subject_id = $2",
    )
    .bind(input.academic_class_id)
    .bind(input.subject_id)
    .fetch_optional(&mut *conn)
    .await?;
    match offered {
        None => v.add(
            "subject_id",
            "This class does not offer this subject; add it to the class first.",
        ),
        Some(session) if session != es.session_id => v.add(
            "academic_class_id",
            "This class belongs to another academic session.",
        ),
        Some(_) => {}
    }
    v.finish()?;
    let id = insert_exam(
        conn,
        es.id,
        input.academic_class_id,
        input.subject_id,
        &components,
        now,
    )
    .await?
    .ok_or_else(|| {
        AppError::field(
            "subject_id",
            "This subject of this class already has an exam in this session.",
        )
    })?;
    exam(conn, id).await
}

/// Creates an exam for every subject offered by every class (or one class) of the session,
/// with the school's default components; existing exams are left alone. Returns how many
/// were created.
pub async fn create_all_exams(
    conn: &mut PgConnection,
    es: &ExamSession,
    academic_class_id: Option<i64>,
    now: DateTime<Utc>,
) -> AppResult<i64> {
    // Two statements whatever the school's size: the exams, then their components.
    let created: i64 = sqlx::query_scalar(
        "WITH new AS (
             INSERT INTO exams (exam_session_id, academic_class_id, subject_id, created_at, updated_at)
             SELECT $3, acs.academic_class_id, acs.subject_id, $4, $4
               FROM academic_class_subjects acs JOIN academic_classes ac ON ac.id = acs.academic_class_id
              WHERE ac.session_id = $1 AND ($2::bigint IS NULL OR ac.id = $2)
             ON CONFLICT ON CONSTRAINT exams_session_class_subject_key DO NOTHING
             RETURNING id),
         components AS (
             INSERT INTO exam_components (exam_id, name, max_score, ordinal)
             SELECT new.id, c.name, c.max_score, c.ordinal FROM new CROSS JOIN assessment_components c
             RETURNING exam_id)
         SELECT count(*) FROM new",
    )
    .bind(es.session_id)
    .bind(academic_class_id)
    .bind(es.id)
    .bind(now)
    .fetch_one(&mut *conn)
    .await?;
    Ok(created)
}

/// Deletes an exam without marks.
pub async fn delete_exam(conn: &mut PgConnection, id: i64) -> AppResult<Exam> {
    let e = exam(conn, id).await?;
    lock_exam_session(conn, e.exam_session_id).await?;
    let e = exam(conn, id).await?;
    if e.marked_count > 0 {
        return Err(AppError::Conflict(
            "This exam already has marks; it cannot be deleted.".into(),
        ));
    }
    sqlx::query("DELETE FROM exams WHERE id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(e)
}

/// Reopens (or closes again) exams of a closed exam session for corrections: one exam, or
/// every exam of one class. Returns (exam id, "JSS 1A Mathematics") of the exams changed.
pub async fn set_reopened(
    conn: &mut PgConnection,
    exam_session_id: i64,
    exam_id: Option<i64>,
    academic_class_id: Option<i64>,
    reopen: bool,
    by: i64,
    now: DateTime<Utc>,
) -> Result<Vec<(i64, String)>, sqlx::Error> {
    sqlx::query_as(
        "UPDATE exams e SET reopened_at = CASE WHEN $4 THEN $6 END, reopened_by = CASE WHEN $4 THEN $5 END
           FROM academic_classes ac, classes c, subjects s
          WHERE e.exam_session_id = $1 AND ($2::bigint IS NULL OR e.id = $2)
            AND ($3::bigint IS NULL OR e.academic_class_id = $3)
            AND (e.reopened_at IS NULL) = $4
            AND ac.id = e.academic_class_id AND c.id = ac.class_id AND s.id = e.subject_id
          RETURNING e.id, c.name || ' ' || s.name",
    )
    .bind(exam_session_id)
    .bind(exam_id)
    .bind(academic_class_id)
    .bind(reopen)
    .bind(by)
    .bind(now)
    .fetch_all(conn)
    .await
}
