//! Students: SQL, validation and admission numbers.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{FromRow, PgConnection};
use utoipa::{IntoParams, ToSchema};

use super::guardians::{GuardianInput, insert_guardian};
use crate::{
    error::{AppError, AppResult, Validator},
    http::{ListParams, pagination::Conditions},
};

crate::text_enum::text_enum! {
    /// A pupil on the register: `active`, or left (the record stays).
    pub enum StudentStatus {
        Active = "active",
        Withdrawn = "withdrawn",
        Graduated = "graduated",
    }
}
pub const SEXES: &[&str] = &["female", "male"];

#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct Student {
    pub id: i64,
    #[schema(example = "ADM/2025/0042")]
    pub admission_no: String,
    pub first_name: String,
    pub last_name: String,
    pub other_names: String,
    /// `female` or `male`
    pub sex: String,
    pub date_of_birth: Option<NaiveDate>,
    pub address: String,
    pub status: StudentStatus,
    pub admission_date: NaiveDate,
    pub has_photo: bool,
    /// Academic class in the current session, if registered.
    pub current_class_id: Option<i64>,
    pub current_class: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Student {
    pub fn full_name(&self) -> String {
        let mut parts = vec![self.first_name.as_str()];
        if !self.other_names.is_empty() {
            parts.push(self.other_names.as_str());
        }
        parts.push(self.last_name.as_str());
        parts.join(" ")
    }

    /// "Okafor, Chidi" for sorted lists.
    pub fn sort_name(&self) -> String {
        format!("{}, {}", self.last_name, self.first_name)
    }
}

/// Students with their current class, in one select (no query per row).
const STUDENT_COLUMNS: &str = "s.id, s.admission_no, s.first_name, s.last_name, s.other_names, s.sex,
        s.date_of_birth, s.address, s.status, s.admission_date, s.has_photo,
        r.academic_class_id AS current_class_id, c.name AS current_class, s.created_at, s.updated_at";
const STUDENT_FROM: &str = "FROM students s
   LEFT JOIN registrations r ON r.student_id = s.id AND r.is_current
        AND r.session_id = (SELECT id FROM academic_sessions WHERE is_current)
   LEFT JOIN academic_classes ac ON ac.id = r.academic_class_id
   LEFT JOIN classes c ON c.id = ac.class_id";

/// The search over alias `s`, `$?` being the `%…%` pattern: what was typed, normalised as the
/// stored `search_key` is (`name_key`: lower case, accents and tone marks dropped), against that
/// key's trigram index `students_search_key_idx` (migration `tenant/0005_name_keys.sql`). So
/// "olakunle" finds "Ọlákúnlé", and so does "Ọlákúnlé" find "Olakunle".
pub const SEARCH_CONDITION: &str = "s.search_key LIKE name_key($?)";

#[derive(Debug, Default, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StudentFilter {
    /// `active`, `withdrawn` or `graduated`
    #[param(value_type = Option<StudentStatus>)]
    pub status: Option<String>,
    /// Academic class id (pupils registered there now).
    pub class: Option<i64>,
}

/// One page of matching students and how many match in all.
pub async fn list(
    conn: &mut PgConnection,
    params: &ListParams,
    filter: &StudentFilter,
) -> AppResult<(Vec<Student>, i64)> {
    let (limit, offset) = params.limit_offset()?;
    select(conn, params, filter, Some((limit, offset))).await
}

/// Every matching student in one statement (exports): no paging, no separate count.
pub async fn list_all(
    conn: &mut PgConnection,
    params: &ListParams,
    filter: &StudentFilter,
) -> AppResult<Vec<Student>> {
    Ok(select(conn, params, filter, None).await?.0)
}

async fn select(
    conn: &mut PgConnection,
    params: &ListParams,
    filter: &StudentFilter,
    page: Option<(i64, i64)>,
) -> AppResult<(Vec<Student>, i64)> {
    // Names sort by their keys (Ọ with O, Ẹ with E, Ṣ with S); the default walks
    // `students_name_key_order_idx`, forward or (`-last_name`) backward.
    let order = params.order_by(
        &[
            (
                "last_name",
                &["s.last_name_key", "s.first_name_key", "s.id"],
            ),
            (
                "first_name",
                &["s.first_name_key", "s.last_name_key", "s.id"],
            ),
            ("admission_no", &["lower(s.admission_no)", "s.id"]),
            ("admission_date", &["s.admission_date", "s.id"]),
            ("created_at", &["s.created_at", "s.id"]),
        ],
        "s.last_name_key ASC, s.first_name_key ASC, s.id ASC",
    )?;
    if let Some(status) = &filter.status
        && StudentStatus::parse(status).is_none()
    {
        return Err(AppError::field(
            "status",
            "Use active, withdrawn or graduated.",
        ));
    }
    let pattern = params.search_pattern()?;
    // Only the filters in use go into the statement: a catch-all `($1 IS NULL OR …)` made
    // the generic plan join every registration for each page (7 ms instead of 0.3 ms).
    let mut c = Conditions::default();
    if pattern.is_some() {
        c.push(SEARCH_CONDITION);
    }
    if filter.status.is_some() {
        c.push("s.status = $?");
    }
    if filter.class.is_some() {
        c.push(
            "EXISTS (SELECT 1 FROM registrations rr WHERE rr.student_id = s.id AND rr.is_current AND rr.academic_class_id = $?)",
        );
    }
    let where_sql = c.where_sql();
    let n = c.next_param();
    let limit_sql = match page {
        Some(_) => format!("LIMIT ${n} OFFSET ${}", n + 1),
        None => String::new(),
    };
    let mut count_query = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT count(*) FROM students s {where_sql}"
    )));
    let mut rows_query = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {STUDENT_COLUMNS} {STUDENT_FROM} {where_sql} ORDER BY {order} {limit_sql}"
    )));
    if let Some(p) = &pattern {
        count_query = count_query.bind(p.clone());
        rows_query = rows_query.bind(p.clone());
    }
    if let Some(status) = &filter.status {
        count_query = count_query.bind(status.clone());
        rows_query = rows_query.bind(status.clone());
    }
    if let Some(class) = filter.class {
        count_query = count_query.bind(class);
        rows_query = rows_query.bind(class);
    }
    let Some((limit, offset)) = page else {
        let rows: Vec<Student> = rows_query.fetch_all(&mut *conn).await?;
        let count = i64::try_from(rows.len()).unwrap_or(i64::MAX);
        return Ok((rows, count));
    };
    // Two statements on purpose: a window count(*) OVER () in the page query would make
    // PostgreSQL join and sort every matching row instead of walking the name index.
    let count: i64 = count_query.fetch_one(&mut *conn).await?;
    let rows = rows_query
        .bind(limit)
        .bind(offset)
        .fetch_all(&mut *conn)
        .await?;
    Ok((rows, count))
}

pub async fn get(conn: &mut PgConnection, id: i64) -> AppResult<Student> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {STUDENT_COLUMNS} {STUDENT_FROM} WHERE s.id = $1"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await?
    .ok_or_else(AppError::not_found)
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StudentInput {
    /// Left blank on create, it is generated from the school's pattern.
    #[schema(min_length = 1, max_length = 40)]
    pub admission_no: Option<String>,
    #[schema(min_length = 1, max_length = 80)]
    pub first_name: Option<String>,
    #[schema(min_length = 1, max_length = 80)]
    pub last_name: Option<String>,
    #[schema(max_length = 120)]
    pub other_names: Option<String>,
    #[schema(pattern = "^(female|male)$")]
    pub sex: Option<String>,
    pub date_of_birth: Option<NaiveDate>,
    #[schema(max_length = 500)]
    pub address: Option<String>,
    #[schema(value_type = Option<StudentStatus>)]
    pub status: Option<String>,
    /// Defaults to today.
    pub admission_date: Option<NaiveDate>,
    /// On create only: guardians to add with the student.
    pub guardians: Option<Vec<GuardianInput>>,
    /// On create only: register the student in this academic class of the current session.
    pub academic_class_id: Option<i64>,
}

/// The fields after merging an update onto the stored student.
struct Merged {
    admission_no: Option<String>,
    first_name: String,
    last_name: String,
    other_names: String,
    sex: String,
    date_of_birth: Option<NaiveDate>,
    address: String,
    status: String,
    admission_date: NaiveDate,
}

fn merge(input: &StudentInput, before: Option<&Student>, today: NaiveDate) -> Merged {
    let pick = |new: &Option<String>, old: Option<&String>| -> String {
        new.clone()
            .or_else(|| old.cloned())
            .unwrap_or_default()
            .trim()
            .to_owned()
    };
    Merged {
        admission_no: input
            .admission_no
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .or_else(|| before.map(|b| b.admission_no.clone())),
        first_name: pick(&input.first_name, before.map(|b| &b.first_name)),
        last_name: pick(&input.last_name, before.map(|b| &b.last_name)),
        other_names: pick(&input.other_names, before.map(|b| &b.other_names)),
        sex: pick(&input.sex, before.map(|b| &b.sex)).to_lowercase(),
        date_of_birth: input.date_of_birth.or(before.and_then(|b| b.date_of_birth)),
        address: pick(&input.address, before.map(|b| &b.address)),
        status: input
            .status
            .clone()
            .or_else(|| before.map(|b| b.status.as_str().to_owned()))
            .unwrap_or_else(|| "active".to_owned()),
        admission_date: input
            .admission_date
            .or(before.map(|b| b.admission_date))
            .unwrap_or(today),
    }
}

fn validate(v: &mut Validator, m: &Merged, today: NaiveDate) {
    if let Some(no) = &m.admission_no {
        v.text("admission_no", no, 1, 40);
    }
    v.text("first_name", &m.first_name, 1, 80);
    v.text("last_name", &m.last_name, 1, 80);
    v.text("other_names", &m.other_names, 0, 120);
    if !SEXES.contains(&m.sex.as_str()) {
        v.add("sex", "Choose female or male.");
    }
    if let Some(dob) = m.date_of_birth {
        if dob >= today {
            v.add("date_of_birth", "The date of birth must be in the past.");
        } else if today.year() - dob.year() > 40 {
            v.add("date_of_birth", "Check the year of birth.");
        }
    }
    v.text("address", &m.address, 0, 500);
    if StudentStatus::parse(&m.status).is_none() {
        v.add("status", "Use active, withdrawn or graduated.");
    }
    if m.admission_date > today + chrono::Duration::days(366) {
        v.add("admission_date", "The admission date is too far ahead.");
    }
}

/// The field problems of a new student, by the rules `create` applies (the CSV import checks
/// its rows with this, so its preview refuses what the commit would).
pub fn problems(input: &StudentInput, today: NaiveDate) -> crate::error::FieldErrors {
    let mut v = Validator::new();
    validate(&mut v, &merge(input, None, today), today);
    v.into_errors()
}

/// The next admission number from the school's pattern (`{YYYY}`, `{SEQ:n}`). The settings
/// row lock serialises concurrent admissions; numbers already taken are skipped.
pub async fn next_admission_no(conn: &mut PgConnection, admitted: NaiveDate) -> AppResult<String> {
    for _ in 0..1000 {
        let (pattern, seq): (String, i32) = sqlx::query_as(
            "UPDATE general_settings SET next_admission_seq = next_admission_seq + 1
              WHERE id = 1 RETURNING admission_number_pattern, next_admission_seq - 1",
        )
        .fetch_one(&mut *conn)
        .await?;
        let candidate = crate::settings::admission_number::render(&pattern, admitted.year(), seq);
        let taken: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM students WHERE lower(admission_no) = lower($1))",
        )
        .bind(&candidate)
        .fetch_one(&mut *conn)
        .await?;
        if !taken {
            return Ok(candidate);
        }
    }
    Err(AppError::Conflict(
        "Could not find a free admission number; check the admission number pattern.".into(),
    ))
}

const ADMISSION_TAKEN: &str = "Another student has this admission number.";

pub async fn create(
    conn: &mut PgConnection,
    input: &StudentInput,
    today: NaiveDate,
    now: DateTime<Utc>,
) -> AppResult<Student> {
    let m = merge(input, None, today);
    let mut v = Validator::new();
    validate(&mut v, &m, today);
    let guardians = input.guardians.clone().unwrap_or_default();
    if guardians.len() > 10 {
        v.add("guardians", "At most 10 guardians.");
    }
    let cc = super::guardians::country_code(conn).await?;
    for (i, g) in guardians.iter().enumerate() {
        for (field, messages) in g.problems(&cc) {
            for msg in messages {
                v.add(&format!("guardians[{i}].{field}"), msg);
            }
        }
    }
    let class = match input.academic_class_id {
        Some(ac) => match super::registrations::current_session_class(conn, ac).await? {
            Some(class) => Some(class),
            None => {
                v.add(
                    "academic_class_id",
                    "Choose a class of the current session.",
                );
                None
            }
        },
        None => None,
    };
    if let Some(no) = &m.admission_no {
        let taken: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM students WHERE lower(admission_no) = lower($1))",
        )
        .bind(no)
        .fetch_one(&mut *conn)
        .await?;
        if taken {
            v.add("admission_no", ADMISSION_TAKEN);
        }
    }
    v.finish()?;
    let admission_no = match m.admission_no.clone() {
        Some(no) => no,
        None => next_admission_no(conn, m.admission_date).await?,
    };
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO students (admission_no, first_name, last_name, other_names, sex, date_of_birth,
                               address, status, admission_date, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) RETURNING id",
    )
    .bind(&admission_no)
    .bind(&m.first_name)
    .bind(&m.last_name)
    .bind(&m.other_names)
    .bind(&m.sex)
    .bind(m.date_of_birth)
    .bind(&m.address)
    .bind(&m.status)
    .bind(m.admission_date)
    .bind(now)
    .fetch_one(&mut *conn)
    .await
    .map_err(|e| AppError::from(e).on_constraint("students_admission_no_key", "admission_no", ADMISSION_TAKEN))?;
    for (i, g) in guardians.iter().enumerate() {
        let mut g = g.clone();
        g.student_id = Some(id);
        if i == 0 && guardians.iter().all(|g| g.is_primary != Some(true)) {
            g.is_primary = Some(true);
        }
        insert_guardian(conn, id, &g, now).await?;
    }
    if let Some((session_id, ac_id)) = class {
        super::registrations::register(conn, id, session_id, ac_id, today, now).await?;
    }
    get(conn, id).await
}

pub async fn update(
    conn: &mut PgConnection,
    id: i64,
    input: &StudentInput,
    today: NaiveDate,
    now: DateTime<Utc>,
) -> AppResult<(Student, Student)> {
    let before = get(conn, id).await?;
    if input.guardians.is_some() || input.academic_class_id.is_some() {
        let mut v = Validator::new();
        if input.guardians.is_some() {
            v.add("guardians", "Change guardians through /guardians/.");
        }
        if input.academic_class_id.is_some() {
            v.add(
                "academic_class_id",
                "Change classes through the class registrations.",
            );
        }
        v.finish()?;
    }
    let m = merge(input, Some(&before), today);
    let mut v = Validator::new();
    validate(&mut v, &m, today);
    v.finish()?;
    sqlx::query(
        "UPDATE students SET admission_no = $2, first_name = $3, last_name = $4, other_names = $5, sex = $6,
                date_of_birth = $7, address = $8, status = $9, admission_date = $10, updated_at = $11
          WHERE id = $1",
    )
    .bind(id)
    .bind(m.admission_no.as_deref().unwrap_or(&before.admission_no))
    .bind(&m.first_name)
    .bind(&m.last_name)
    .bind(&m.other_names)
    .bind(&m.sex)
    .bind(m.date_of_birth)
    .bind(&m.address)
    .bind(&m.status)
    .bind(m.admission_date)
    .bind(now)
    .execute(&mut *conn)
    .await
    .map_err(|e| AppError::from(e).on_constraint("students_admission_no_key", "admission_no", ADMISSION_TAKEN))?;
    // Leaving the school closes the current class registration; the history stays.
    if m.status != "active" && before.status == "active" {
        sqlx::query(
            "UPDATE registrations SET is_current = FALSE, left_on = $2 WHERE student_id = $1 AND is_current",
        )
        .bind(id)
        .bind(today)
        .execute(&mut *conn)
        .await?;
    }
    let after = get(conn, id).await?;
    Ok((before, after))
}

/// The audit view of a student: the fields people change.
pub fn audit_view(s: &Student) -> serde_json::Value {
    serde_json::json!({
        "admission_no": s.admission_no, "first_name": s.first_name, "last_name": s.last_name,
        "other_names": s.other_names, "sex": s.sex, "date_of_birth": s.date_of_birth,
        "address": s.address, "status": s.status, "admission_date": s.admission_date,
    })
}

/// Whether the pupil has marks, report comments or attendance (such a record is withdrawn,
/// not deleted).
pub async fn has_results(conn: &mut PgConnection, id: i64) -> sqlx::Result<bool> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM marks m JOIN registrations r ON r.id = m.registration_id WHERE r.student_id = $1)
             OR EXISTS (SELECT 1 FROM report_comments c JOIN registrations r ON r.id = c.registration_id WHERE r.student_id = $1)
             OR EXISTS (SELECT 1 FROM attendance_marks a JOIN registrations r ON r.id = a.registration_id WHERE r.student_id = $1)",
    )
    .bind(id)
    .fetch_one(conn)
    .await
}

/// Sets a pupil's status (promotions graduate pupils and mark leavers withdrawn); true when
/// it changed.
pub async fn set_status(
    conn: &mut PgConnection,
    id: i64,
    status: StudentStatus,
    now: DateTime<Utc>,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE students SET status = $2, updated_at = $3 WHERE id = $1 AND status <> $2",
    )
    .bind(id)
    .bind(status.as_str())
    .bind(now)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() > 0)
}

pub async fn delete(conn: &mut PgConnection, id: i64) -> sqlx::Result<()> {
    crate::audit::views::forget_student(&mut *conn, id).await?;
    sqlx::query("DELETE FROM students WHERE id = $1")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// The student with this admission number (any case), if any.
pub async fn id_by_admission_no(
    conn: &mut PgConnection,
    admission_no: &str,
) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar("SELECT id FROM students WHERE lower(admission_no) = lower($1)")
        .bind(admission_no)
        .fetch_optional(conn)
        .await
}
