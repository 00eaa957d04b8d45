//! SQL for the academic structure. Every function runs in the school's transaction.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{FromRow, PgConnection};
use utoipa::ToSchema;

use crate::error::{AppError, AppResult, Validator};

/// A foreign-key refusal becomes a 409 that says what is in the way.
pub fn in_use(message: &'static str) -> impl Fn(sqlx::Error) -> AppError {
    move |e| match &e {
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
            AppError::Conflict(message.to_owned())
        }
        _ => AppError::from(e),
    }
}

// ---- sessions ----

#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
#[schema(as = Session)]
pub struct AcademicSession {
    pub id: i64,
    #[schema(example = "2025/2026")]
    pub name: String,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    pub is_current: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = SessionInput)]
pub struct AcademicSessionInput {
    #[schema(min_length = 2, max_length = 50)]
    pub name: Option<String>,
    pub starts_on: Option<NaiveDate>,
    pub ends_on: Option<NaiveDate>,
    /// Making a session current makes every other one not current.
    pub is_current: Option<bool>,
}

const SESSION_COLS: &str = "id, name, starts_on, ends_on, is_current, created_at, updated_at";

pub async fn sessions(conn: &mut PgConnection) -> Result<Vec<AcademicSession>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {SESSION_COLS} FROM academic_sessions ORDER BY starts_on DESC, id DESC"
    )))
    .fetch_all(conn)
    .await
}

pub async fn session(conn: &mut PgConnection, id: i64) -> AppResult<AcademicSession> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {SESSION_COLS} FROM academic_sessions WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await?
    .ok_or_else(AppError::not_found)
}

pub async fn current_session(
    conn: &mut PgConnection,
) -> Result<Option<AcademicSession>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {SESSION_COLS} FROM academic_sessions WHERE is_current"
    )))
    .fetch_optional(conn)
    .await
}

fn validate_session(
    v: &mut Validator,
    name: &str,
    starts: Option<NaiveDate>,
    ends: Option<NaiveDate>,
) {
    v.text("name", name, 2, 50);
    match (starts, ends) {
        (None, _) => v.add("starts_on", "This field is required."),
        (_, None) => v.add("ends_on", "This field is required."),
        (Some(s), Some(e)) if e <= s => v.add("ends_on", "The session must end after it starts."),
        _ => {}
    }
}

const SESSION_NAME_TAKEN: &str = "A session with this name already exists.";

pub async fn save_session(
    conn: &mut PgConnection,
    id: Option<i64>,
    input: &AcademicSessionInput,
    now: DateTime<Utc>,
) -> AppResult<AcademicSession> {
    let before = match id {
        Some(id) => Some(session(conn, id).await?),
        None => None,
    };
    let name = input
        .name
        .clone()
        .or_else(|| before.as_ref().map(|b| b.name.clone()))
        .unwrap_or_default();
    let starts = input.starts_on.or(before.as_ref().map(|b| b.starts_on));
    let ends = input.ends_on.or(before.as_ref().map(|b| b.ends_on));
    let mut v = Validator::new();
    validate_session(&mut v, &name, starts, ends);
    v.finish()?;
    let current = input
        .is_current
        .unwrap_or(before.as_ref().is_some_and(|b| b.is_current));
    if current {
        sqlx::query("UPDATE academic_sessions SET is_current = FALSE WHERE is_current AND id IS DISTINCT FROM $1")
            .bind(id)
            .execute(&mut *conn)
            .await?;
    }
    let sql = match id {
        None => format!(
            "INSERT INTO academic_sessions (name, starts_on, ends_on, is_current, created_at, updated_at)
             VALUES ($2, $3, $4, $5, $6, $6) RETURNING {SESSION_COLS}"
        ),
        Some(_) => format!(
            "UPDATE academic_sessions SET name = $2, starts_on = $3, ends_on = $4, is_current = $5, updated_at = $6
              WHERE id = $1 RETURNING {SESSION_COLS}"
        ),
    };
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(name.trim())
        .bind(starts)
        .bind(ends)
        .bind(current)
        .bind(now)
        .fetch_one(conn)
        .await
        .map_err(|e| {
            AppError::from(e).on_constraint(
                "academic_sessions_name_key",
                "name",
                SESSION_NAME_TAKEN,
            )
        })
}

// ---- terms ----

#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct Term {
    pub id: i64,
    pub session_id: i64,
    /// 1, 2 or 3
    pub ordinal: i16,
    #[schema(example = "First Term")]
    pub name: String,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    pub next_term_begins: Option<NaiveDate>,
    pub is_current: bool,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TermInput {
    /// 1 (First), 2 (Second) or 3 (Third)
    #[schema(minimum = 1, maximum = 3)]
    pub ordinal: Option<i16>,
    /// Defaults to "First Term", "Second Term" or "Third Term".
    #[schema(min_length = 2, max_length = 50)]
    pub name: Option<String>,
    pub starts_on: Option<NaiveDate>,
    pub ends_on: Option<NaiveDate>,
    pub next_term_begins: Option<NaiveDate>,
    pub is_current: Option<bool>,
}

const TERM_COLS: &str =
    "id, session_id, ordinal, name, starts_on, ends_on, next_term_begins, is_current";

pub fn term_name(ordinal: i16) -> &'static str {
    match ordinal {
        1 => "First Term",
        2 => "Second Term",
        _ => "Third Term",
    }
}

pub async fn terms(conn: &mut PgConnection, session_id: i64) -> Result<Vec<Term>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {TERM_COLS} FROM terms WHERE session_id = $1 ORDER BY ordinal"
    )))
    .bind(session_id)
    .fetch_all(conn)
    .await
}

pub async fn all_terms(conn: &mut PgConnection) -> Result<Vec<Term>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {TERM_COLS} FROM terms ORDER BY session_id, ordinal"
    )))
    .fetch_all(conn)
    .await
}

pub async fn term(conn: &mut PgConnection, session_id: i64, id: i64) -> AppResult<Term> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {TERM_COLS} FROM terms WHERE session_id = $1 AND id = $2"
    )))
    .bind(session_id)
    .bind(id)
    .fetch_optional(conn)
    .await?
    .ok_or_else(AppError::not_found)
}

pub async fn current_term(conn: &mut PgConnection) -> Result<Option<Term>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {TERM_COLS} FROM terms WHERE is_current"
    )))
    .fetch_optional(conn)
    .await
}

pub async fn save_term(
    conn: &mut PgConnection,
    session: &AcademicSession,
    id: Option<i64>,
    input: &TermInput,
    now: DateTime<Utc>,
) -> AppResult<Term> {
    let before = match id {
        Some(id) => Some(term(conn, session.id, id).await?),
        None => None,
    };
    let ordinal = input.ordinal.or(before.as_ref().map(|b| b.ordinal));
    let starts = input.starts_on.or(before.as_ref().map(|b| b.starts_on));
    let ends = input.ends_on.or(before.as_ref().map(|b| b.ends_on));
    let next = match (&input.next_term_begins, &before) {
        (Some(n), _) => Some(*n),
        (None, Some(b)) => b.next_term_begins,
        (None, None) => None,
    };
    let mut v = Validator::new();
    match ordinal {
        Some(1..=3) => {}
        Some(_) => v.add("ordinal", "Use 1, 2 or 3."),
        None => v.add("ordinal", "This field is required."),
    }
    let name = input
        .name
        .clone()
        .or_else(|| before.as_ref().map(|b| b.name.clone()))
        .unwrap_or_else(|| term_name(ordinal.unwrap_or(1)).to_owned());
    v.text("name", &name, 2, 50);
    match (starts, ends) {
        (None, _) => v.add("starts_on", "This field is required."),
        (_, None) => v.add("ends_on", "This field is required."),
        (Some(s), Some(e)) => {
            if e <= s {
                v.add("ends_on", "The term must end after it starts.");
            }
            if s < session.starts_on || e > session.ends_on {
                v.add(
                    "starts_on",
                    format!(
                        "The term must fall within the session ({} to {}).",
                        session.starts_on, session.ends_on
                    ),
                );
            }
            if let Some(n) = next
                && n <= e
            {
                v.add(
                    "next_term_begins",
                    "The next term must begin after this term ends.",
                );
            }
        }
    }
    v.finish()?;
    let current = input
        .is_current
        .unwrap_or(before.as_ref().is_some_and(|b| b.is_current));
    if current {
        sqlx::query(
            "UPDATE terms SET is_current = FALSE WHERE is_current AND id IS DISTINCT FROM $1",
        )
        .bind(id)
        .execute(&mut *conn)
        .await?;
    }
    let sql = match id {
        None => format!(
            "INSERT INTO terms (session_id, ordinal, name, starts_on, ends_on, next_term_begins, is_current, created_at, updated_at)
             VALUES ($2, $3, $4, $5, $6, $7, $8, $9, $9) RETURNING {TERM_COLS}"
        ),
        Some(_) => format!(
            "UPDATE terms SET ordinal = $3, name = $4, starts_on = $5, ends_on = $6, next_term_begins = $7,
                    is_current = $8, updated_at = $9
              WHERE id = $1 AND session_id = $2 RETURNING {TERM_COLS}"
        ),
    };
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(session.id)
        .bind(ordinal)
        .bind(name.trim())
        .bind(starts)
        .bind(ends)
        .bind(next)
        .bind(current)
        .bind(now)
        .fetch_one(conn)
        .await
        .map_err(|e| {
            AppError::from(e).on_constraint(
                "terms_session_ordinal_key",
                "ordinal",
                "This session already has that term.",
            )
        })
}

// ---- forms (class levels) ----

#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
#[schema(as = Form)]
pub struct ClassLevel {
    pub id: i64,
    #[schema(example = "JSS 1")]
    pub name: String,
    /// Position in the school, lowest first.
    pub ordinal: i32,
    pub class_count: i64,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = FormInput)]
pub struct ClassLevelInput {
    #[schema(min_length = 1, max_length = 50)]
    pub name: Option<String>,
    #[schema(minimum = 0, maximum = 1000)]
    pub ordinal: Option<i32>,
}

const FORM_SELECT: &str = "SELECT f.id, f.name, f.ordinal,
        (SELECT count(*) FROM classes c WHERE c.form_id = f.id) AS class_count FROM forms f";

pub async fn forms(conn: &mut PgConnection) -> Result<Vec<ClassLevel>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{FORM_SELECT} ORDER BY f.ordinal, lower(f.name)"
    )))
    .fetch_all(conn)
    .await
}

pub async fn form(conn: &mut PgConnection, id: i64) -> AppResult<ClassLevel> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{FORM_SELECT} WHERE f.id = $1"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await?
    .ok_or_else(AppError::not_found)
}

pub async fn save_form(
    conn: &mut PgConnection,
    id: Option<i64>,
    input: &ClassLevelInput,
    now: DateTime<Utc>,
) -> AppResult<ClassLevel> {
    let before = match id {
        Some(id) => Some(form(conn, id).await?),
        None => None,
    };
    let name = input
        .name
        .clone()
        .or_else(|| before.as_ref().map(|b| b.name.clone()))
        .unwrap_or_default();
    let mut v = Validator::new();
    v.text("name", &name, 1, 50);
    let ordinal = match (input.ordinal, &before) {
        (Some(o), _) => o,
        (None, Some(b)) => b.ordinal,
        (None, None) => {
            sqlx::query_scalar::<_, i32>("SELECT COALESCE(max(ordinal), 0) + 1 FROM forms")
                .fetch_one(&mut *conn)
                .await?
        }
    };
    if !(0..=1000).contains(&ordinal) {
        v.add("ordinal", "Use a number from 0 to 1000.");
    }
    v.finish()?;
    let new_id: i64 = match id {
        None => sqlx::query_scalar(
            "INSERT INTO forms (name, ordinal, created_at, updated_at) VALUES ($1, $2, $3, $3) RETURNING id",
        )
        .bind(name.trim())
        .bind(ordinal)
        .bind(now)
        .fetch_one(&mut *conn)
        .await,
        Some(id) => sqlx::query_scalar(
            "UPDATE forms SET name = $2, ordinal = $3, updated_at = $4 WHERE id = $1 RETURNING id",
        )
        .bind(id)
        .bind(name.trim())
        .bind(ordinal)
        .bind(now)
        .fetch_one(&mut *conn)
        .await,
    }
    .map_err(|e| AppError::from(e).on_constraint("forms_name_key", "name", "A class level with this name already exists."))?;
    form(conn, new_id).await
}

// ---- class arms ----

#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct ClassArm {
    pub id: i64,
    #[schema(example = "JSS 1A")]
    pub name: String,
    pub form_id: i64,
    pub form_name: String,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClassArmInput {
    #[schema(min_length = 1, max_length = 50)]
    pub name: Option<String>,
    pub form_id: Option<i64>,
}

const ARM_SELECT: &str = "SELECT c.id, c.name, c.form_id, f.name AS form_name FROM classes c JOIN forms f ON f.id = c.form_id";

pub async fn class_arms(conn: &mut PgConnection) -> Result<Vec<ClassArm>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{ARM_SELECT} ORDER BY f.ordinal, lower(c.name)"
    )))
    .fetch_all(conn)
    .await
}

pub async fn class_arm(conn: &mut PgConnection, id: i64) -> AppResult<ClassArm> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("{ARM_SELECT} WHERE c.id = $1")))
        .bind(id)
        .fetch_optional(conn)
        .await?
        .ok_or_else(AppError::not_found)
}

pub async fn save_class_arm(
    conn: &mut PgConnection,
    id: Option<i64>,
    input: &ClassArmInput,
    now: DateTime<Utc>,
) -> AppResult<ClassArm> {
    let before = match id {
        Some(id) => Some(class_arm(conn, id).await?),
        None => None,
    };
    let name = input
        .name
        .clone()
        .or_else(|| before.as_ref().map(|b| b.name.clone()))
        .unwrap_or_default();
    let form_id = input.form_id.or(before.as_ref().map(|b| b.form_id));
    let mut v = Validator::new();
    v.text("name", &name, 1, 50);
    match form_id {
        None => v.add("form_id", "This field is required."),
        Some(f) => {
            if form(conn, f).await.is_err() {
                v.add("form_id", "There is no such class level.");
            }
        }
    }
    v.finish()?;
    let new_id: i64 = match id {
        None => sqlx::query_scalar(
            "INSERT INTO classes (name, form_id, created_at, updated_at) VALUES ($1, $2, $3, $3) RETURNING id",
        )
        .bind(name.trim())
        .bind(form_id)
        .bind(now)
        .fetch_one(&mut *conn)
        .await,
        Some(id) => sqlx::query_scalar(
            "UPDATE classes SET name = $2, form_id = $3, updated_at = $4 WHERE id = $1 RETURNING id",
        )
        .bind(id)
        .bind(name.trim())
        .bind(form_id)
        .bind(now)
        .fetch_one(&mut *conn)
        .await,
    }
    .map_err(|e| AppError::from(e).on_constraint("classes_name_key", "name", "A class with this name already exists."))?;
    class_arm(conn, new_id).await
}

// ---- subjects ----

#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct Subject {
    pub id: i64,
    #[schema(example = "Mathematics")]
    pub name: String,
    #[schema(example = "MTH")]
    pub code: String,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubjectInput {
    #[schema(min_length = 2, max_length = 80)]
    pub name: Option<String>,
    #[schema(max_length = 12)]
    pub code: Option<String>,
}

pub async fn subjects(conn: &mut PgConnection) -> Result<Vec<Subject>, sqlx::Error> {
    sqlx::query_as("SELECT id, name, code FROM subjects ORDER BY lower(name)")
        .fetch_all(conn)
        .await
}

pub async fn subject(conn: &mut PgConnection, id: i64) -> AppResult<Subject> {
    sqlx::query_as("SELECT id, name, code FROM subjects WHERE id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await?
        .ok_or_else(AppError::not_found)
}

/// A short code from a subject name: "Basic Science" -> "BAS".
pub fn subject_code_from(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(3)
        .collect::<String>()
        .to_uppercase()
}

pub async fn save_subject(
    conn: &mut PgConnection,
    id: Option<i64>,
    input: &SubjectInput,
    now: DateTime<Utc>,
) -> AppResult<Subject> {
    let before = match id {
        Some(id) => Some(subject(conn, id).await?),
        None => None,
    };
    let name = input
        .name
        .clone()
        .or_else(|| before.as_ref().map(|b| b.name.clone()))
        .unwrap_or_default();
    let code = input
        .code
        .clone()
        .filter(|c| !c.trim().is_empty())
        .or_else(|| before.as_ref().map(|b| b.code.clone()))
        .unwrap_or_else(|| subject_code_from(&name));
    let mut v = Validator::new();
    v.text("name", &name, 2, 80);
    v.text("code", &code, 1, 12);
    v.finish()?;
    let sql = match id {
        None => {
            "INSERT INTO subjects (name, code, created_at, updated_at) VALUES ($2, $3, $4, $4) RETURNING id, name, code"
        }
        Some(_) => {
            "UPDATE subjects SET name = $2, code = $3, updated_at = $4 WHERE id = $1 RETURNING id, name, code"
        }
    };
    sqlx::query_as(sql)
        .bind(id)
        .bind(name.trim())
        .bind(code.trim().to_uppercase())
        .bind(now)
        .fetch_one(conn)
        .await
        .map_err(|e| {
            AppError::from(e)
                .on_constraint(
                    "subjects_name_key",
                    "name",
                    "A subject with this name already exists.",
                )
                .on_constraint(
                    "subjects_code_key",
                    "code",
                    "Another subject uses this code.",
                )
        })
}

// ---- academic classes ----

#[derive(Debug, Clone, Serialize, Deserialize, FromRow, ToSchema)]
pub struct OfferedSubject {
    pub subject_id: i64,
    pub subject_name: String,
    pub teacher_id: Option<i64>,
    pub teacher_name: Option<String>,
    /// Taken only by pupils registered for it (streams, CRS or IRS).
    #[serde(default)]
    pub is_elective: bool,
}

#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct AcademicClass {
    pub id: i64,
    pub session_id: i64,
    pub class_id: i64,
    pub class_name: String,
    pub form_id: i64,
    pub form_name: String,
    pub class_teacher_id: Option<i64>,
    pub class_teacher_name: Option<String>,
    /// Pupils registered now.
    pub student_count: i64,
    #[sqlx(json)]
    pub subjects: Vec<OfferedSubject>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubjectTeacher {
    pub subject_id: i64,
    pub teacher_id: Option<i64>,
    /// An elective is taken only by pupils registered for it; the others by every pupil
    /// not exempted.
    #[serde(default)]
    pub is_elective: bool,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcademicClassInput {
    /// The class arm.
    pub class_id: Option<i64>,
    /// A staff user id of this school.
    pub class_teacher_id: Option<i64>,
    /// Replaces the subjects offered when given.
    pub subjects: Option<Vec<SubjectTeacher>>,
}

/// One query for the classes of a session with teachers, counts and subjects (no N+1).
const AC_SELECT: &str = "SELECT ac.id, ac.session_id, ac.class_id, c.name AS class_name, f.id AS form_id,
        f.name AS form_name, ac.class_teacher_id, ct.full_name AS class_teacher_name,
        (SELECT count(*) FROM registrations r WHERE r.academic_class_id = ac.id AND r.is_current) AS student_count,
        COALESCE((SELECT json_agg(json_build_object('subject_id', s.id, 'subject_name', s.name,
                          'teacher_id', acs.teacher_id, 'teacher_name', t.full_name,
                          'is_elective', acs.is_elective) ORDER BY lower(s.name))
                    FROM academic_class_subjects acs JOIN subjects s ON s.id = acs.subject_id
                    LEFT JOIN public.users t ON t.id = acs.teacher_id
                   WHERE acs.academic_class_id = ac.id), '[]'::json) AS subjects
   FROM academic_classes ac
   JOIN classes c ON c.id = ac.class_id
   JOIN forms f ON f.id = c.form_id
   LEFT JOIN public.users ct ON ct.id = ac.class_teacher_id";

pub async fn academic_classes(
    conn: &mut PgConnection,
    session_id: i64,
) -> Result<Vec<AcademicClass>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{AC_SELECT} WHERE ac.session_id = $1 ORDER BY f.ordinal, lower(c.name)"
    )))
    .bind(session_id)
    .fetch_all(conn)
    .await
}

pub async fn academic_class(
    conn: &mut PgConnection,
    session_id: i64,
    id: i64,
) -> AppResult<AcademicClass> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{AC_SELECT} WHERE ac.session_id = $1 AND ac.id = $2"
    )))
    .bind(session_id)
    .bind(id)
    .fetch_optional(conn)
    .await?
    .ok_or_else(AppError::not_found)
}

/// An academic class by id alone (any session).
pub async fn academic_class_by_id(conn: &mut PgConnection, id: i64) -> AppResult<AcademicClass> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("{AC_SELECT} WHERE ac.id = $1")))
        .bind(id)
        .fetch_optional(conn)
        .await?
        .ok_or_else(AppError::not_found)
}

/// Staff of this school, active: the only users who may teach here.
pub async fn unknown_staff(
    conn: &mut PgConnection,
    school_id: i64,
    ids: &[i64],
) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT x FROM unnest($2::bigint[]) x
          WHERE NOT EXISTS (SELECT 1 FROM public.users u WHERE u.id = x AND u.client_id = $1 AND u.is_active)",
    )
    .bind(school_id)
    .bind(ids)
    .fetch_all(conn)
    .await
}

pub async fn save_academic_class(
    conn: &mut PgConnection,
    school_id: i64,
    session: &AcademicSession,
    id: Option<i64>,
    input: &AcademicClassInput,
    now: DateTime<Utc>,
) -> AppResult<AcademicClass> {
    let before = match id {
        Some(id) => Some(academic_class(conn, session.id, id).await?),
        None => None,
    };
    let class_id = input.class_id.or(before.as_ref().map(|b| b.class_id));
    let teacher = match (&input.class_teacher_id, &before) {
        (Some(t), _) => Some(*t),
        (None, Some(b)) => b.class_teacher_id,
        (None, None) => None,
    };
    let mut v = Validator::new();
    match class_id {
        None => v.add("class_id", "This field is required."),
        Some(c) => {
            if class_arm(conn, c).await.is_err() {
                v.add("class_id", "There is no such class.");
            }
        }
    }
    if let Some(t) = teacher
        && !unknown_staff(conn, school_id, &[t]).await?.is_empty()
    {
        v.add("class_teacher_id", "Choose an active member of staff.");
    }
    if let Some(list) = &input.subjects {
        let subject_ids: Vec<i64> = list.iter().map(|s| s.subject_id).collect();
        let missing: Vec<i64> = sqlx::query_scalar(
            "SELECT x FROM unnest($1::bigint[]) x WHERE NOT EXISTS (SELECT 1 FROM subjects s WHERE s.id = x)",
        )
        .bind(&subject_ids)
        .fetch_all(&mut *conn)
        .await?;
        if !missing.is_empty() {
            v.add(
                "subjects",
                format!("These subjects do not exist: {missing:?}."),
            );
        }
        let mut seen = std::collections::HashSet::new();
        if subject_ids.iter().any(|s| !seen.insert(*s)) {
            v.add("subjects", "A subject is listed twice.");
        }
        let teachers: Vec<i64> = list.iter().filter_map(|s| s.teacher_id).collect();
        let bad = unknown_staff(conn, school_id, &teachers).await?;
        if !bad.is_empty() {
            v.add(
                "subjects",
                format!("These teachers are not active staff here: {bad:?}."),
            );
        }
    }
    v.finish()?;
    let ac_id: i64 = match id {
        None => sqlx::query_scalar(
            "INSERT INTO academic_classes (session_id, class_id, class_teacher_id, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $4) RETURNING id",
        )
        .bind(session.id)
        .bind(class_id)
        .bind(teacher)
        .bind(now)
        .fetch_one(&mut *conn)
        .await,
        Some(id) => sqlx::query_scalar(
            "UPDATE academic_classes SET class_id = $2, class_teacher_id = $3, updated_at = $4 WHERE id = $1 RETURNING id",
        )
        .bind(id)
        .bind(class_id)
        .bind(teacher)
        .bind(now)
        .fetch_one(&mut *conn)
        .await,
    }
    .map_err(|e| {
        AppError::from(e).on_constraint(
            "academic_classes_session_class_key",
            "class_id",
            "This class already exists in the session.",
        )
    })?;
    if let Some(list) = &input.subjects {
        let subject_ids: Vec<i64> = list.iter().map(|s| s.subject_id).collect();
        let teacher_ids: Vec<Option<i64>> = list.iter().map(|s| s.teacher_id).collect();
        let electives: Vec<bool> = list.iter().map(|s| s.is_elective).collect();
        // Subjects kept are updated in place: their exams (and marks) refer to them.
        sqlx::query(
            "DELETE FROM academic_class_subjects WHERE academic_class_id = $1 AND subject_id <> ALL($2::bigint[])",
        )
        .bind(ac_id)
        .bind(&subject_ids)
        .execute(&mut *conn)
        .await
        .map_err(|e| {
            AppError::from(e).on_constraint(
                "exams_subject_fkey",
                "subjects",
                "A subject you removed already has an exam in this class; keep it, or delete its exam first.",
            )
        })?;
        sqlx::query(
            "INSERT INTO academic_class_subjects (academic_class_id, subject_id, teacher_id, is_elective)
             SELECT $1, s, t, e FROM unnest($2::bigint[], $3::bigint[], $4::bool[]) AS x(s, t, e)
             ON CONFLICT (academic_class_id, subject_id)
             DO UPDATE SET teacher_id = EXCLUDED.teacher_id, is_elective = EXCLUDED.is_elective",
        )
        .bind(ac_id)
        .bind(&subject_ids)
        .bind(&teacher_ids)
        .bind(&electives)
        .execute(&mut *conn)
        .await?;
    }
    academic_class(conn, session.id, ac_id).await
}

/// Active staff of the school (id, name) for teacher pickers.
pub async fn staff_options(
    conn: &mut PgConnection,
    school_id: i64,
) -> Result<Vec<(i64, String)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, full_name FROM public.users WHERE client_id = $1 AND is_active ORDER BY lower(full_name)",
    )
    .bind(school_id)
    .fetch_all(conn)
    .await
}

/// A class of the current session for pickers: id and name only.
#[derive(sqlx::FromRow)]
pub struct ClassOption {
    pub id: i64,
    pub class_name: String,
}

/// The classes of the current session, by level then name (one light query).
pub async fn class_options(conn: &mut PgConnection) -> Result<Vec<ClassOption>, sqlx::Error> {
    sqlx::query_as(
        "SELECT ac.id, c.name AS class_name FROM academic_classes ac
           JOIN academic_sessions s ON s.id = ac.session_id AND s.is_current
           JOIN classes c ON c.id = ac.class_id
           JOIN forms f ON f.id = c.form_id
          ORDER BY f.ordinal, lower(c.name)",
    )
    .fetch_all(conn)
    .await
}

/// The class teacher of an academic class, if one is set.
pub async fn class_teacher_of(
    conn: &mut PgConnection,
    id: i64,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT class_teacher_id FROM academic_classes WHERE id = $1")
        .bind(id)
        .fetch_one(conn)
        .await
}

/// Terms that have no exam session yet: (id, "First Term 2025/2026"), current first.
pub async fn terms_without_exam_session(
    conn: &mut PgConnection,
) -> Result<Vec<(i64, String)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT t.id, t.name || ' ' || s.name FROM terms t JOIN academic_sessions s ON s.id = t.session_id
          WHERE NOT EXISTS (SELECT 1 FROM exam_sessions es WHERE es.term_id = t.id)
          ORDER BY t.is_current DESC, s.starts_on DESC, t.ordinal",
    )
    .fetch_all(conn)
    .await
}

/// The parts of the structure that can be deleted while nothing uses them.
#[derive(Clone, Copy, Debug)]
pub enum Deletable {
    Session,
    Term,
    ClassLevel,
    ClassArm,
    Subject,
}

/// Deletes a part and returns its name and the whole row as JSON (for the audit trail).
pub async fn delete_row(
    conn: &mut PgConnection,
    what: Deletable,
    id: i64,
) -> Result<Option<(String, serde_json::Value)>, sqlx::Error> {
    // Whole statements per table: no name is ever formatted into SQL.
    let sql = match what {
        Deletable::Session => {
            "DELETE FROM academic_sessions t WHERE t.id = $1 RETURNING t.name, to_jsonb(t)"
        }
        Deletable::Term => "DELETE FROM terms t WHERE t.id = $1 RETURNING t.name, to_jsonb(t)",
        Deletable::ClassLevel => {
            "DELETE FROM forms t WHERE t.id = $1 RETURNING t.name, to_jsonb(t)"
        }
        Deletable::ClassArm => {
            "DELETE FROM classes t WHERE t.id = $1 RETURNING t.name, to_jsonb(t)"
        }
        Deletable::Subject => {
            "DELETE FROM subjects t WHERE t.id = $1 RETURNING t.name, to_jsonb(t)"
        }
    };
    sqlx::query_as(sql).bind(id).fetch_optional(conn).await
}

/// Deletes a class of a session; refused while pupils are registered in it.
pub async fn delete_academic_class(conn: &mut PgConnection, id: i64) -> AppResult<()> {
    sqlx::query("DELETE FROM academic_classes WHERE id = $1")
        .bind(id)
        .execute(conn)
        .await
        .map_err(in_use(
            "Pupils are registered in this class; move them first.",
        ))?;
    Ok(())
}
