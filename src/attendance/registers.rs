//! Registers: one per class arm per school day per period. Every pupil registered in the
//! class that day (not before their admission, not after they left) with their mark, who
//! took it and when. A save checks every row first and writes all or nothing; each change
//! after the first save is kept in `attendance_history` and in the audit log.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::{FromRow, PgConnection};
use utoipa::{IntoParams, ToSchema};

use super::{
    absences, calendar,
    codes::{self, AttendanceCode},
};
use crate::{
    context::SchoolCtx,
    error::{AppError, AppResult, FieldErrors},
    students::names::LIST_NAME,
};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RegisterQuery {
    /// The academic class (an arm in a session).
    pub academic_class: i64,
    /// The school day, `YYYY-MM-DD`.
    pub date: NaiveDate,
    /// 1 (morning, the default) or 2 (afternoon, where the school takes two registers).
    #[param(minimum = 1, maximum = 2)]
    pub period: Option<i16>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Register {
    pub academic_class: i64,
    pub class_name: String,
    pub date: NaiveDate,
    pub period: i16,
    /// Why no register is taken that day (closed, a weekend, not come yet); null on a school day.
    pub closed: Option<String>,
    /// Whether the person asking may save this register.
    pub can_save: bool,
    pub rows: Vec<RegisterRow>,
    /// The codes that may be marked.
    pub codes: Vec<AttendanceCode>,
    /// The reasons a mark may carry.
    pub reasons: Vec<String>,
}

#[derive(Debug, Serialize, FromRow, ToSchema)]
pub struct RegisterRow {
    pub registration: i64,
    pub student_id: i64,
    pub admission_no: String,
    pub full_name: String,
    /// Null until the pupil is marked.
    pub code: Option<String>,
    pub reason: String,
    pub marked_by: Option<String>,
    pub marked_at: Option<DateTime<Utc>>,
    /// This register's changes to the pupil's mark after its first save, oldest first.
    #[sqlx(skip)]
    pub corrections: Vec<HistoryEntry>,
}

/// More rows than any class holds: a save beyond it is refused before anything is looked up.
pub const MAX_ROWS: usize = 500;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterSave {
    #[schema(min_items = 1, max_items = 500)]
    pub rows: Vec<MarkInput>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MarkInput {
    pub registration: i64,
    /// An active code, e.g. `P` or `A`.
    #[schema(min_length = 1, max_length = 3)]
    pub code: String,
    /// One of the school's reasons, or empty.
    #[serde(default)]
    #[schema(max_length = 60)]
    pub reason: Option<String>,
}

struct ClassInfo {
    name: String,
    class_teacher_id: Option<i64>,
    /// The class's session: a class keeps registers only within it (last year's JSS 1A is
    /// not this year's).
    session_starts: NaiveDate,
    session_ends: NaiveDate,
}

async fn class_info(conn: &mut PgConnection, id: i64) -> AppResult<ClassInfo> {
    let row: Option<(String, Option<i64>, NaiveDate, NaiveDate)> = sqlx::query_as(
        "SELECT c.name, ac.class_teacher_id, se.starts_on, se.ends_on FROM academic_classes ac
           JOIN classes c ON c.id = ac.class_id
           JOIN academic_sessions se ON se.id = ac.session_id
          WHERE ac.id = $1",
    )
    .bind(id)
    .fetch_optional(conn)
    .await?;
    let (name, class_teacher_id, session_starts, session_ends) =
        row.ok_or_else(AppError::not_found)?;
    Ok(ClassInfo {
        name,
        class_teacher_id,
        session_starts,
        session_ends,
    })
}

/// Why `day` is no day of this class's registers (outside its session), if it is not.
fn outside_session(class: &ClassInfo, day: NaiveDate) -> Option<String> {
    (day < class.session_starts || day > class.session_ends).then(|| {
        format!(
            "{} keeps registers from {} to {}.",
            class.name, class.session_starts, class.session_ends
        )
    })
}

/// (periods a day, days back a class teacher may still take their register).
async fn rules(conn: &mut PgConnection) -> sqlx::Result<(i16, i16)> {
    sqlx::query_as(
        "SELECT attendance_periods, attendance_window_days FROM general_settings WHERE id = 1",
    )
    .fetch_one(conn)
    .await
}

/// Whether this user may save the class's register for `day`, and if not, why.
fn may_save(
    ctx: &SchoolCtx,
    class: &ClassInfo,
    day: NaiveDate,
    window_days: i16,
) -> Result<(), String> {
    if ctx.perms.has("change_attendance") {
        return Ok(());
    }
    if !ctx.perms.has("add_attendance") {
        return Err("You do not have permission to take registers.".into());
    }
    if class.class_teacher_id != Some(ctx.user.id) {
        return Err(format!(
            "Only the class teacher of {} takes its register.",
            class.name
        ));
    }
    if day < ctx.today() - Duration::days(i64::from(window_days)) {
        return Err(format!(
            "Registers more than {window_days} days old are corrected by someone allowed to \
             change attendance."
        ));
    }
    Ok(())
}

async fn rows(
    conn: &mut PgConnection,
    academic_class: i64,
    day: NaiveDate,
    period: i16,
) -> sqlx::Result<Vec<RegisterRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT r.id AS registration, s.id AS student_id, s.admission_no, {LIST_NAME} AS full_name,
                c.code, COALESCE(m.reason, '') AS reason, u.full_name AS marked_by, m.marked_at
           FROM registrations r
           JOIN students s ON s.id = r.student_id
           LEFT JOIN attendance_marks m
                  ON m.registration_id = r.id AND m.day = $2 AND m.period = $3
           LEFT JOIN attendance_codes c ON c.id = m.code_id
           LEFT JOIN public.users u ON u.id = m.marked_by
          WHERE r.academic_class_id = $1
            AND r.registered_on <= $2
            AND ((r.left_on IS NULL AND r.is_current) OR r.left_on > $2)
            AND s.admission_date <= $2
          ORDER BY s.last_name_key, s.first_name_key, s.id"
    )))
    .bind(academic_class)
    .bind(day)
    .bind(period)
    .fetch_all(conn)
    .await
}

fn checked_period(period: Option<i16>, periods: i16) -> AppResult<i16> {
    let period = period.unwrap_or(1);
    if !(1..=periods).contains(&period) {
        let message = if periods == 1 {
            "This school takes one register a day: use period 1.".to_owned()
        } else {
            format!("Use a period from 1 to {periods}.")
        };
        // Not a register this school keeps: nothing at that address.
        return Err(AppError::NotFound(message));
    }
    Ok(period)
}

/// Whether this user may read a class's registers and figures: `view_attendance` or
/// `change_attendance` for any class, `add_attendance` for the class they teach (any day,
/// even beyond the window in which they may still change it).
pub async fn may_read_class(ctx: &mut SchoolCtx, academic_class: i64) -> AppResult<()> {
    let class = class_info(&mut ctx.tx, academic_class).await?;
    if ctx.perms.has("view_attendance")
        || ctx.perms.has("change_attendance")
        || (ctx.perms.has("add_attendance") && class.class_teacher_id == Some(ctx.user.id))
    {
        Ok(())
    } else {
        Err(AppError::forbidden())
    }
}

/// The register as it stands.
pub async fn load(ctx: &mut SchoolCtx, q: &RegisterQuery) -> AppResult<Register> {
    // A reading, not a change: a day no school keeps has no register to find.
    calendar::check_date("date", q.date)
        .map_err(|_| AppError::NotFound("There is no register for that day.".into()))?;
    let class = class_info(&mut ctx.tx, q.academic_class).await?;
    let (periods, window) = rules(&mut ctx.tx).await?;
    let period = checked_period(q.period, periods)?;
    let can_save = may_save(ctx, &class, q.date, window).is_ok();
    let own_class = ctx.perms.has("add_attendance") && class.class_teacher_id == Some(ctx.user.id);
    if !can_save && !own_class && !ctx.perms.has("view_attendance") {
        return Err(AppError::forbidden());
    }
    let today = ctx.today();
    // Outside the class's session there is no one on its register; a closed day inside it
    // still shows who is in the class.
    let (closed, mut rows) = match outside_session(&class, q.date) {
        Some(why) => (Some(why), Vec::new()),
        None => (
            calendar::not_a_school_day(&mut ctx.tx, q.date, today).await?,
            rows(&mut ctx.tx, q.academic_class, q.date, period).await?,
        ),
    };
    let ids: Vec<i64> = rows.iter().map(|r| r.registration).collect();
    let mut corrections = day_history(&mut ctx.tx, &ids, q.date, period).await?;
    for row in &mut rows {
        row.corrections = corrections.remove(&row.registration).unwrap_or_default();
    }
    let codes = codes::all(&mut ctx.tx)
        .await?
        .into_iter()
        .filter(|c| c.is_active)
        .collect();
    let reasons = codes::reasons(&mut ctx.tx)
        .await?
        .into_iter()
        .filter(|r| r.is_active)
        .map(|r| r.name)
        .collect();
    Ok(Register {
        academic_class: q.academic_class,
        class_name: class.name,
        date: q.date,
        period,
        can_save: can_save && closed.is_none(),
        closed,
        rows,
        codes,
        reasons,
    })
}

/// Checks every row, then saves them together; answers the register as saved.
pub async fn save(
    ctx: &mut SchoolCtx,
    q: &RegisterQuery,
    input: &RegisterSave,
) -> AppResult<Register> {
    calendar::check_date("date", q.date)?;
    if input.rows.len() > MAX_ROWS {
        return Err(AppError::field(
            "rows",
            format!("Send at most {MAX_ROWS} rows."),
        ));
    }
    let class = class_info(&mut ctx.tx, q.academic_class).await?;
    let (periods, window) = rules(&mut ctx.tx).await?;
    let period = checked_period(q.period, periods)?;
    may_save(ctx, &class, q.date, window).map_err(AppError::Forbidden)?;
    let today = ctx.today();
    if let Some(why) = outside_session(&class, q.date) {
        return Err(AppError::field("date", why));
    }
    if let Some(why) = calendar::not_a_school_day(&mut ctx.tx, q.date, today).await? {
        return Err(AppError::field("date", why));
    }
    if input.rows.is_empty() {
        return Err(AppError::field("rows", "Send at least one row."));
    }
    // One save of a register at a time: two first saves at once would otherwise both see
    // no earlier mark, and the second would overwrite the first without a history row.
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
        // Advisory locks are database-wide: the key names the school.
        .bind(format!(
            "{}:attendance:{}:{}:{period}",
            ctx.school.schema, q.academic_class, q.date
        ))
        .execute(&mut *ctx.tx)
        .await?;

    let on_register: HashMap<i64, String> = rows(&mut ctx.tx, q.academic_class, q.date, period)
        .await?
        .into_iter()
        .map(|r| (r.registration, r.full_name))
        .collect();
    let active: HashMap<String, i64> = codes::all(&mut ctx.tx)
        .await?
        .into_iter()
        .filter(|c| c.is_active)
        .map(|c| (c.code.to_uppercase(), c.id))
        .collect();
    let reasons: HashMap<String, String> = codes::reasons(&mut ctx.tx)
        .await?
        .into_iter()
        .filter(|r| r.is_active)
        .map(|r| (r.name.to_lowercase(), r.name))
        .collect();

    // What is saved now (locked): a retired reason may stay on the mark that has it.
    let ids: Vec<i64> = input.rows.iter().map(|r| r.registration).collect();
    let before: HashMap<i64, (String, String)> = sqlx::query_as::<_, (i64, String, String)>(
        "SELECT m.registration_id, c.code, m.reason FROM attendance_marks m
           JOIN attendance_codes c ON c.id = m.code_id
          WHERE m.registration_id = ANY($1) AND m.day = $2 AND m.period = $3
          FOR UPDATE OF m",
    )
    .bind(&ids)
    .bind(q.date)
    .bind(period)
    .fetch_all(&mut *ctx.tx)
    .await?
    .into_iter()
    .map(|(id, code, reason)| (id, (code, reason)))
    .collect();

    let mut errors = FieldErrors::new();
    let mut seen = HashSet::new();
    let mut planned: Vec<(i64, i64, String, String)> = Vec::new();
    for (i, row) in input.rows.iter().enumerate() {
        let mut problem = |field: &str, message: String| {
            errors
                .entry(format!("rows[{i}].{field}"))
                .or_default()
                .push(message);
        };
        if !on_register.contains_key(&row.registration) {
            problem(
                "registration",
                format!("This pupil is not on {}'s register that day.", class.name),
            );
        } else if !seen.insert(row.registration) {
            problem("registration", "This pupil is listed twice.".into());
        }
        let code = row.code.trim().to_uppercase();
        let code_id = active.get(&code).copied();
        if code_id.is_none() {
            let mut known: Vec<&str> = active.keys().map(String::as_str).collect();
            known.sort_unstable();
            problem("code", format!("Use one of: {}.", known.join(", ")));
        }
        let reason = row.reason.as_deref().map(str::trim).unwrap_or_default();
        let kept = before
            .get(&row.registration)
            .map(|(_, r)| r.as_str())
            .filter(|r| !r.is_empty() && r.eq_ignore_ascii_case(reason));
        let reason = if reason.is_empty() {
            Some(String::new())
        } else if let Some(kept) = kept {
            Some(kept.to_owned())
        } else {
            reasons.get(&reason.to_lowercase()).cloned()
        };
        if reason.is_none() {
            let mut known: Vec<&str> = reasons.values().map(String::as_str).collect();
            known.sort_unstable();
            problem(
                "reason",
                format!("Leave it empty or use one of: {}.", known.join(", ")),
            );
        }
        if let (Some(code_id), Some(reason)) = (code_id, reason) {
            planned.push((row.registration, code_id, code, reason));
        }
    }
    if !errors.is_empty() {
        return Err(AppError::Validation {
            detail: "The register was not saved: no row was.".into(),
            errors,
        });
    }

    let changed: Vec<&(i64, i64, String, String)> = planned
        .iter()
        .filter(|(id, _, code, reason)| {
            before.get(id).is_none_or(|(c, r)| c != code || r != reason)
        })
        .collect();
    if changed.is_empty() {
        return load(ctx, q).await;
    }
    let c_ids: Vec<i64> = changed.iter().map(|p| p.0).collect();
    let c_codes: Vec<i64> = changed.iter().map(|p| p.1).collect();
    let c_reasons: Vec<&str> = changed.iter().map(|p| p.3.as_str()).collect();
    sqlx::query(
        "INSERT INTO attendance_marks (registration_id, day, period, code_id, reason, marked_by, marked_at)
         SELECT u.registration_id, $4, $5, u.code_id, u.reason, $6, $7
           FROM unnest($1::bigint[], $2::bigint[], $3::text[]) AS u(registration_id, code_id, reason)
         ON CONFLICT (registration_id, day, period) DO UPDATE
            SET code_id = excluded.code_id, reason = excluded.reason,
                marked_by = excluded.marked_by, marked_at = excluded.marked_at",
    )
    .bind(&c_ids)
    .bind(&c_codes)
    .bind(&c_reasons)
    .bind(q.date)
    .bind(period)
    .bind(ctx.user.id)
    .bind(ctx.now)
    .execute(&mut *ctx.tx)
    .await?;

    // Corrections (a mark that was there before) go to the append-only history.
    let corrections: Vec<(i64, &str, &str, &str, &str)> = changed
        .iter()
        .filter_map(|(id, _, code, reason)| {
            before
                .get(id)
                .map(|(c, r)| (*id, c.as_str(), code.as_str(), r.as_str(), reason.as_str()))
        })
        .collect();
    if !corrections.is_empty() {
        let h_ids: Vec<i64> = corrections.iter().map(|c| c.0).collect();
        let h_from: Vec<&str> = corrections.iter().map(|c| c.1).collect();
        let h_to: Vec<&str> = corrections.iter().map(|c| c.2).collect();
        let h_from_reason: Vec<&str> = corrections.iter().map(|c| c.3).collect();
        let h_to_reason: Vec<&str> = corrections.iter().map(|c| c.4).collect();
        sqlx::query(
            "INSERT INTO attendance_history (registration_id, day, period, from_code, to_code,
                                             from_reason, to_reason, changed_by, changed_at)
             SELECT u.id, $6, $7, u.from_code, u.to_code, u.from_reason, u.to_reason, $8, $9
               FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[])
                    AS u(id, from_code, to_code, from_reason, to_reason)",
        )
        .bind(&h_ids)
        .bind(&h_from)
        .bind(&h_to)
        .bind(&h_from_reason)
        .bind(&h_to_reason)
        .bind(q.date)
        .bind(period)
        .bind(ctx.user.id)
        .bind(ctx.now)
        .execute(&mut *ctx.tx)
        .await?;
    }
    // Unexcused absences wait out the grace period before parents hear of them; a
    // correction in time cancels them.
    let students: Vec<i64> =
        sqlx::query_scalar("SELECT DISTINCT student_id FROM registrations WHERE id = ANY($1)")
            .bind(&c_ids)
            .fetch_all(&mut *ctx.tx)
            .await?;
    if let Some(due) = absences::after_save(&mut ctx.tx, &students, q.date, ctx.now).await? {
        let job = crate::jobs::queue::AbsenceJob {
            schema: ctx.school.schema.to_string(),
        };
        crate::jobs::queue::enqueue_absences(&mut ctx.tx, &job, due).await?;
    }
    let changes: Vec<serde_json::Value> = corrections
        .iter()
        .map(|(id, from, to, _, reason)| {
            json!({
                "pupil": on_register.get(id),
                "from": from,
                "to": to,
                "reason": reason,
            })
        })
        .collect();
    ctx.audit(
        "update",
        "attendance",
        q.academic_class,
        json!({
            "class": class.name,
            "date": q.date,
            "period": period,
            "marked": changed.len() - corrections.len(),
            "changed": changes,
        }),
    )
    .await?;
    load(ctx, q).await
}

#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct HistoryEntry {
    pub day: NaiveDate,
    pub period: i16,
    pub from_code: String,
    pub to_code: String,
    pub from_reason: String,
    pub to_reason: String,
    pub changed_by: Option<String>,
    pub changed_at: DateTime<Utc>,
}

/// The corrections of one register (a day and period), per registration, oldest first.
async fn day_history(
    conn: &mut PgConnection,
    registrations: &[i64],
    day: NaiveDate,
    period: i16,
) -> sqlx::Result<HashMap<i64, Vec<HistoryEntry>>> {
    let found: Vec<(i64, HistoryEntry)> = sqlx::query_as::<_, HistoryRow>(
        "SELECT h.registration_id, h.day, h.period, h.from_code, h.to_code, h.from_reason,
                h.to_reason, u.full_name AS changed_by, h.changed_at
           FROM attendance_history h
           LEFT JOIN public.users u ON u.id = h.changed_by
          WHERE h.registration_id = ANY($1) AND h.day = $2 AND h.period = $3
          ORDER BY h.changed_at, h.id",
    )
    .bind(registrations)
    .bind(day)
    .bind(period)
    .fetch_all(conn)
    .await?
    .into_iter()
    .map(|r| (r.registration_id, r.entry))
    .collect();
    let mut by_registration: HashMap<i64, Vec<HistoryEntry>> = HashMap::new();
    for (id, entry) in found {
        by_registration.entry(id).or_default().push(entry);
    }
    Ok(by_registration)
}

#[derive(FromRow)]
struct HistoryRow {
    registration_id: i64,
    #[sqlx(flatten)]
    entry: HistoryEntry,
}

/// Every correction of a pupil's marks, newest first.
pub async fn history(conn: &mut PgConnection, student_id: i64) -> sqlx::Result<Vec<HistoryEntry>> {
    sqlx::query_as(
        "SELECT h.day, h.period, h.from_code, h.to_code, h.from_reason, h.to_reason,
                u.full_name AS changed_by, h.changed_at
           FROM attendance_history h
           JOIN registrations r ON r.id = h.registration_id
           LEFT JOIN public.users u ON u.id = h.changed_by
          WHERE r.student_id = $1
          ORDER BY h.changed_at DESC, h.id DESC",
    )
    .bind(student_id)
    .fetch_all(conn)
    .await
}

/// How far one class's register of a day has been taken.
#[derive(Debug, Clone, FromRow)]
pub struct RegisterStatus {
    pub academic_class: i64,
    pub class_name: String,
    pub class_teacher_id: Option<i64>,
    /// Pupils on the register that day.
    pub pupils: i64,
    pub marked: i64,
}

/// The morning register of `day` for every class of the current session.
pub async fn status_of_day(
    conn: &mut PgConnection,
    day: NaiveDate,
) -> sqlx::Result<Vec<RegisterStatus>> {
    // One pass over the session's registrations (not two subqueries per class): 40 classes
    // cost about what one does.
    sqlx::query_as(
        "WITH on_register AS (
            SELECT r.id, r.academic_class_id FROM registrations r
              JOIN students s ON s.id = r.student_id
              JOIN academic_sessions se ON se.id = r.session_id AND se.is_current
             WHERE r.registered_on <= $1
               AND ((r.left_on IS NULL AND r.is_current) OR r.left_on > $1)
               AND s.admission_date <= $1),
          counts AS (
            SELECT o.academic_class_id, count(*) AS pupils, count(m.id) AS marked
              FROM on_register o
              LEFT JOIN attendance_marks m
                     ON m.registration_id = o.id AND m.day = $1 AND m.period = 1
             GROUP BY o.academic_class_id)
         SELECT ac.id AS academic_class, c.name AS class_name, ac.class_teacher_id,
                COALESCE(k.pupils, 0) AS pupils, COALESCE(k.marked, 0) AS marked
           FROM academic_classes ac
           JOIN classes c ON c.id = ac.class_id
           JOIN academic_sessions se ON se.id = ac.session_id AND se.is_current
           LEFT JOIN counts k ON k.academic_class_id = ac.id
          ORDER BY lower(c.name), ac.id",
    )
    .bind(day)
    .fetch_all(conn)
    .await
}
