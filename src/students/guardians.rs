//! Guardians of a student: several per student, one primary. Phones in E.164 so the
//! WhatsApp chatbot can find parents later.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{FromRow, PgConnection};
use utoipa::{IntoParams, ToSchema};

use crate::{
    error::{AppError, AppResult, FieldErrors, Validator},
    http::ListParams,
};

#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct Guardian {
    pub id: i64,
    pub student_id: i64,
    #[schema(example = "Ngozi Okafor")]
    pub full_name: String,
    #[schema(example = "Mother")]
    pub relationship: String,
    /// E.164, e.g. `+2348031234567`
    pub phone: String,
    pub email: String,
    pub is_primary: bool,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GuardianInput {
    /// Required when creating through `/guardians/`.
    pub student_id: Option<i64>,
    #[schema(min_length = 2, max_length = 120)]
    pub full_name: Option<String>,
    #[schema(max_length = 40)]
    pub relationship: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub is_primary: Option<bool>,
}

/// Normalises a phone number to E.164 (`+` and 7 to 15 digits), ignoring spaces, dashes,
/// dots and brackets. A local number (`0803…`) gets the school's country code; `00` is `+`.
/// None when it is not a phone number.
pub fn normalise_phone(raw: &str, country_code: &str) -> Option<String> {
    let cleaned: String = raw
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
        .collect();
    let international = if let Some(rest) = cleaned.strip_prefix("00") {
        format!("+{rest}")
    } else if let Some(rest) = cleaned.strip_prefix('0') {
        format!("{country_code}{rest}")
    } else {
        cleaned
    };
    let digits = international.strip_prefix('+')?;
    let ok = (7..=15).contains(&digits.len())
        && digits.chars().all(|c| c.is_ascii_digit())
        && !digits.starts_with('0');
    ok.then(|| format!("+{digits}"))
}

/// The school's country code for local phone numbers.
pub async fn country_code(conn: &mut PgConnection) -> Result<String, sqlx::Error> {
    sqlx::query_scalar("SELECT phone_country_code FROM general_settings WHERE id = 1")
        .fetch_one(conn)
        .await
}

impl GuardianInput {
    /// Field problems of this guardian (used alone and inside a student's form).
    pub fn problems(&self, country_code: &str) -> FieldErrors {
        let mut v = Validator::new();
        v.text("full_name", self.full_name.as_deref().unwrap_or(""), 2, 120);
        v.text(
            "relationship",
            self.relationship.as_deref().unwrap_or(""),
            0,
            40,
        );
        let phone = self.phone.as_deref().unwrap_or("").trim();
        if !phone.is_empty() && normalise_phone(phone, country_code).is_none() {
            v.add(
                "phone",
                "Enter a phone number such as 0803 123 4567 or +234 803 123 4567.",
            );
        }
        let email = self.email.as_deref().unwrap_or("").trim();
        if !email.is_empty() {
            v.email("email", email);
        }
        v.into_errors()
    }
}

const COLS: &str = "id, student_id, full_name, relationship, phone, email, is_primary";

pub async fn insert_guardian(
    conn: &mut PgConnection,
    student_id: i64,
    g: &GuardianInput,
    now: DateTime<Utc>,
) -> AppResult<Guardian> {
    let has_any: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM guardians WHERE student_id = $1)")
            .bind(student_id)
            .fetch_one(&mut *conn)
            .await?;
    let primary = g.is_primary.unwrap_or(!has_any);
    if primary {
        sqlx::query("UPDATE guardians SET is_primary = FALSE WHERE student_id = $1 AND is_primary")
            .bind(student_id)
            .execute(&mut *conn)
            .await?;
    }
    let cc = country_code(conn).await?;
    let phone = g
        .phone
        .as_deref()
        .and_then(|p| normalise_phone(p, &cc))
        .unwrap_or_default();
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO guardians (student_id, full_name, relationship, phone, email, is_primary, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING {COLS}"
    )))
    .bind(student_id)
    .bind(g.full_name.as_deref().unwrap_or("").trim())
    .bind(g.relationship.as_deref().unwrap_or("").trim())
    .bind(phone)
    .bind(g.email.as_deref().unwrap_or("").trim().to_lowercase())
    .bind(primary)
    .bind(now)
    .fetch_one(conn)
    .await
    .map_err(Into::into)
}

pub async fn for_student(
    conn: &mut PgConnection,
    student_id: i64,
) -> Result<Vec<Guardian>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLS} FROM guardians WHERE student_id = $1 ORDER BY is_primary DESC, id"
    )))
    .bind(student_id)
    .fetch_all(conn)
    .await
}

pub async fn get(conn: &mut PgConnection, id: i64) -> AppResult<Guardian> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLS} FROM guardians WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await?
    .ok_or_else(AppError::not_found)
}

pub async fn update_guardian(
    conn: &mut PgConnection,
    id: i64,
    input: &GuardianInput,
    now: DateTime<Utc>,
) -> AppResult<(Guardian, Guardian)> {
    let before = get(conn, id).await?;
    if input.student_id.is_some_and(|s| s != before.student_id) {
        return Err(AppError::field(
            "student_id",
            "A guardian cannot move to another student.",
        ));
    }
    let merged = GuardianInput {
        student_id: Some(before.student_id),
        full_name: input.full_name.clone().or(Some(before.full_name.clone())),
        relationship: input
            .relationship
            .clone()
            .or(Some(before.relationship.clone())),
        phone: input.phone.clone().or(Some(before.phone.clone())),
        email: input.email.clone().or(Some(before.email.clone())),
        is_primary: input.is_primary.or(Some(before.is_primary)),
    };
    let cc = country_code(conn).await?;
    let problems = merged.problems(&cc);
    if !problems.is_empty() {
        return Err(AppError::fields(problems));
    }
    if merged.is_primary == Some(true) && !before.is_primary {
        sqlx::query("UPDATE guardians SET is_primary = FALSE WHERE student_id = $1 AND is_primary")
            .bind(before.student_id)
            .execute(&mut *conn)
            .await?;
    }
    let after = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE guardians SET full_name = $2, relationship = $3, phone = $4, email = $5, is_primary = $6, updated_at = $7
          WHERE id = $1 RETURNING {COLS}"
    )))
    .bind(id)
    .bind(merged.full_name.as_deref().unwrap_or("").trim())
    .bind(merged.relationship.as_deref().unwrap_or("").trim())
    .bind(merged.phone.as_deref().and_then(|p| normalise_phone(p, &cc)).unwrap_or_default())
    .bind(merged.email.as_deref().unwrap_or("").trim().to_lowercase())
    .bind(merged.is_primary.unwrap_or(false))
    .bind(now)
    .fetch_one(conn)
    .await?;
    Ok((before, after))
}

/// Guardian fields for the audit trail.
pub fn view(g: &Guardian) -> serde_json::Value {
    serde_json::to_value(g).unwrap_or_default()
}

/// Every guardian this pupil has or had, by the audit rows of guardians since deleted too.
pub async fn ids_ever_of(conn: &mut PgConnection, student_id: i64) -> sqlx::Result<Vec<i64>> {
    sqlx::query_scalar(
        "SELECT id FROM guardians WHERE student_id = $1
         UNION
         SELECT entity_id::bigint FROM audit_log
          WHERE entity = 'guardian' AND entity_id ~ '^[0-9]{1,18}$'
            AND (changes #>> '{student_id,to}' = $1::text
                 OR changes #>> '{deleted,student_id}' = $1::text)",
    )
    .bind(student_id)
    .fetch_all(conn)
    .await
}

/// Deletes a guardian; another guardian of the pupil, if any, becomes primary.
pub async fn delete(conn: &mut PgConnection, g: &Guardian) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM guardians WHERE id = $1")
        .bind(g.id)
        .execute(&mut *conn)
        .await?;
    if g.is_primary {
        sqlx::query(
            "UPDATE guardians SET is_primary = TRUE WHERE id = (SELECT id FROM guardians WHERE student_id = $1 ORDER BY id LIMIT 1)",
        )
        .bind(g.student_id)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct GuardianFilter {
    /// Only this student's guardians.
    pub student: Option<i64>,
}

/// A page of guardians and the count of all that match.
pub async fn list(
    conn: &mut PgConnection,
    params: &ListParams,
    filter: &GuardianFilter,
) -> AppResult<(Vec<Guardian>, i64)> {
    let (limit, offset) = params.limit_offset()?;
    let pattern = params.search_pattern()?;
    let order = params.order_by(
        &[("full_name", &["lower(full_name)"]), ("id", &["id"])],
        "lower(full_name) ASC",
    )?;
    let where_sql =
        "WHERE ($1::text IS NULL OR full_name ILIKE $1 OR phone ILIKE $1 OR email ILIKE $1)
                       AND ($2::bigint IS NULL OR student_id = $2)";
    let count: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT count(*) FROM guardians {where_sql}"
    )))
    .bind(&pattern)
    .bind(filter.student)
    .fetch_one(&mut *conn)
    .await?;
    let rows = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLS} FROM guardians {where_sql} ORDER BY {order}, id LIMIT $3 OFFSET $4"
    )))
    .bind(&pattern)
    .bind(filter.student)
    .bind(limit)
    .bind(offset)
    .fetch_all(&mut *conn)
    .await?;
    Ok((rows, count))
}

/// The primary (else first) guardian of each of `students`.
pub async fn primary_of(
    conn: &mut PgConnection,
    students: &[i64],
) -> Result<std::collections::HashMap<i64, Guardian>, sqlx::Error> {
    let rows: Vec<Guardian> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT DISTINCT ON (student_id) {COLS} FROM guardians
          WHERE student_id = ANY($1) ORDER BY student_id, is_primary DESC, id"
    )))
    .bind(students)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|g| (g.student_id, g)).collect())
}
