//! Marks: the sheet of one exam (every pupil of the class with their scores) and the bulk
//! save, which either stores every row or none.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::{FromRow, PgConnection};
use utoipa::ToSchema;

use super::{
    card::format_score,
    config::{self, GradingScale, is_half_step},
    exams::{self, Exam, ExamSession, ExamSessionStatus},
    taking::TAKES,
};
use crate::{
    audit::views::{Pupils, ViewKind},
    context::SchoolCtx,
    error::{AppError, AppResult, FieldErrors},
    students::names::LIST_NAME,
};

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MarkRow {
    /// The pupil's registration in the class: the key for saving.
    pub registration: i64,
    pub student_id: i64,
    pub admission_no: String,
    pub full_name: String,
    /// Component name → score (null: not entered).
    pub scores: BTreeMap<String, Option<f64>>,
    /// Sum of the scores entered; null when none is.
    pub total: Option<f64>,
    pub grade: Option<String>,
    pub remark: Option<String>,
    /// The subject teacher's remark for the report card (optional).
    pub teacher_remark: String,
    /// Absent from the exam (printed ABS); an absent pupil has no scores.
    pub absent: bool,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MarkSheet {
    pub exam: Exam,
    /// The exam session's status: marks may change only while it is `open`.
    pub status: ExamSessionStatus,
    /// Whether the current user may save marks for this exam now.
    pub can_edit: bool,
    pub rows: Vec<MarkRow>,
}

/// One pupil's scores to save: `{"registration": 12, "scores": {"CA1": 14.5, "Exam": null}}`.
/// A null score clears that component; components left out are unchanged.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MarkInput {
    pub registration: i64,
    #[schema(value_type = Object, example = json!({"CA1": 14.5, "CA2": 18, "Exam": 52}))]
    pub scores: BTreeMap<String, Value>,
    /// The subject teacher's remark on the report card; "" removes it, absent leaves it.
    #[serde(default)]
    pub teacher_remark: Option<String>,
    /// `true` marks the pupil absent from the exam (ABS; every score must then be empty),
    /// `false` clears ABS, absent leaves it.
    #[serde(default)]
    pub absent: Option<bool>,
    /// What the client last saw of the components it sends (null: empty). When given, a
    /// save whose seen value is no longer the stored one is refused (409) and nothing is
    /// saved, so a stale tab never undoes another person's save.
    #[serde(default)]
    #[schema(value_type = Option<Object>, example = json!({"CA1": 12}))]
    pub seen: Option<BTreeMap<String, Value>>,
    /// The remark the client last saw (with `teacher_remark`), checked like `seen`.
    #[serde(default)]
    pub seen_teacher_remark: Option<String>,
    /// Whether the client last saw the pupil marked ABS (with `absent`), checked like `seen`.
    #[serde(default)]
    pub seen_absent: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SaveSummary {
    /// Rows received.
    pub rows: usize,
    /// Scores that changed (set, changed or cleared).
    pub changed: usize,
}

#[derive(FromRow)]
struct PupilRow {
    registration: i64,
    student_id: i64,
    admission_no: String,
    full_name: String,
}

/// The pupils of an exam: registered in its class now and taking its subject, or holding
/// marks or ABS in it (they moved arm, left or changed subjects after sitting it).
async fn pupils(
    conn: &mut PgConnection,
    academic_class_id: i64,
    exam_id: i64,
) -> Result<Vec<PupilRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT r.id AS registration, s.id AS student_id, s.admission_no, {LIST_NAME} AS full_name
           FROM registrations r JOIN students s ON s.id = r.student_id
           JOIN exams e ON e.id = $2
           JOIN academic_class_subjects acs
             ON acs.academic_class_id = e.academic_class_id AND acs.subject_id = e.subject_id
          WHERE r.academic_class_id = $1
            AND ((r.is_current AND {TAKES})
                 OR EXISTS (SELECT 1 FROM marks m WHERE m.registration_id = r.id AND m.exam_id = $2)
                 OR EXISTS (SELECT 1 FROM exam_absences a WHERE a.registration_id = r.id AND a.exam_id = $2))
          ORDER BY s.last_name_key, s.first_name_key, s.id"
    )))
    .bind(academic_class_id)
    .bind(exam_id)
    .fetch_all(conn)
    .await
}

/// (component id, registration, score) of an exam.
async fn scores(
    conn: &mut PgConnection,
    exam_id: i64,
) -> Result<Vec<(i64, i64, f64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT component_id, registration_id, score::float8 FROM marks WHERE exam_id = $1",
    )
    .bind(exam_id)
    .fetch_all(conn)
    .await
}

/// Registrations marked absent (ABS) from an exam.
async fn absences(conn: &mut PgConnection, exam_id: i64) -> Result<HashSet<i64>, sqlx::Error> {
    Ok(
        sqlx::query_scalar("SELECT registration_id FROM exam_absences WHERE exam_id = $1")
            .bind(exam_id)
            .fetch_all(conn)
            .await?
            .into_iter()
            .collect(),
    )
}

/// May this user save marks for this exam? Its subject teacher, or anyone with change_marks.
pub fn may_enter(ctx: &SchoolCtx, exam: &Exam) -> bool {
    ctx.perms.has("change_marks")
        || (ctx.perms.has("add_marks") && exam.teacher_id == Some(ctx.user.id))
}

pub async fn sheet(ctx: &mut SchoolCtx, exam_id: i64) -> AppResult<MarkSheet> {
    Ok(sheet_in_session(ctx, exam_id).await?.0)
}

/// The sheet with its exam session and grading scale (the grid page shows both).
pub async fn sheet_in_session(
    ctx: &mut SchoolCtx,
    exam_id: i64,
) -> AppResult<(MarkSheet, ExamSession, GradingScale)> {
    let exam = exams::exam(&mut ctx.tx, exam_id).await?;
    let session = exams::exam_session(&mut ctx.tx, exam.exam_session_id).await?;
    let (scale, _) = config::for_exam_session(&mut ctx.tx, exam.exam_session_id).await?;
    let pupils = pupils(&mut ctx.tx, exam.academic_class_id, exam.id).await?;
    let mut by_cell: HashMap<(i64, i64), f64> = HashMap::new();
    for (component, registration, score) in scores(&mut ctx.tx, exam_id).await? {
        by_cell.insert((component, registration), score);
    }
    let mut remarks: HashMap<i64, String> =
        sqlx::query_as("SELECT registration_id, remark FROM subject_remarks WHERE exam_id = $1")
            .bind(exam_id)
            .fetch_all(&mut *ctx.tx)
            .await?
            .into_iter()
            .collect();
    let absent = absences(&mut ctx.tx, exam_id).await?;
    let rows: Vec<MarkRow> = pupils
        .into_iter()
        .map(|p| {
            let scores: BTreeMap<String, Option<f64>> = exam
                .components
                .iter()
                .map(|c| {
                    (
                        c.name.clone(),
                        by_cell.get(&(c.id, p.registration)).copied(),
                    )
                })
                .collect();
            let remark = remarks.remove(&p.registration).unwrap_or_default();
            let is_absent = absent.contains(&p.registration);
            mark_row(p, scores, remark, is_absent, &scale)
        })
        .collect();
    let can_edit = ensure_open(&session, &exam).is_ok() && may_enter(ctx, &exam);
    // Every read of a mark sheet shows each pupil's marks: recorded (the handler commits).
    let registrations: Vec<i64> = rows.iter().map(|r| r.registration).collect();
    ctx.record_view(
        ViewKind::Results,
        &format!(
            "Marks, {} {}, {} {}",
            exam.subject_name, exam.class_name, session.term_name, session.session_name
        ),
        Pupils::Registrations(&registrations),
    )
    .await?;
    let sheet = MarkSheet {
        status: session.status,
        can_edit,
        exam,
        rows,
    };
    Ok((sheet, session, scale))
}

fn mark_row(
    p: PupilRow,
    scores: BTreeMap<String, Option<f64>>,
    teacher_remark: String,
    absent: bool,
    scale: &GradingScale,
) -> MarkRow {
    let entered: Vec<f64> = scores.values().flatten().copied().collect();
    let total = (!entered.is_empty()).then(|| entered.iter().sum::<f64>());
    // Graded only once every component is in: a half-filled row is not an F9.
    let complete = entered.len() == scores.len();
    let (grade, remark) = match total.filter(|_| complete) {
        Some(t) => {
            let (g, r) = scale.grade(t);
            (Some(g), Some(r))
        }
        None => (None, None),
    };
    MarkRow {
        registration: p.registration,
        student_id: p.student_id,
        admission_no: p.admission_no,
        full_name: p.full_name,
        scores,
        total,
        grade,
        remark,
        teacher_remark,
        absent,
    }
}

/// (component id, registration, Some(score), or None to clear it)
type Cell = (i64, i64, Option<f64>);

/// Refuses changes unless the exam session is open, or closed with this exam reopened for
/// corrections.
pub fn ensure_open(session: &ExamSession, exam: &Exam) -> AppResult<()> {
    match session.status {
        ExamSessionStatus::Open => Ok(()),
        ExamSessionStatus::Closed if exam.reopened_at.is_some() => Ok(()),
        ExamSessionStatus::Draft => Err(AppError::Conflict(format!(
            "{} is not open for marks yet.",
            session.name
        ))),
        other => Err(AppError::Conflict(format!(
            "{} is {other}: marks can no longer be changed. Ask the head teacher to reopen {} in {} for corrections.",
            session.name, exam.subject_name, exam.class_name
        ))),
    }
}

/// Validates every row, then saves them all in the caller's transaction; any bad row → 422
/// naming `rows[i].field`, nothing saved.
pub async fn save(ctx: &mut SchoolCtx, exam_id: i64, rows: &[MarkInput]) -> AppResult<SaveSummary> {
    let exam = exams::exam(&mut ctx.tx, exam_id).await?;
    // FOR SHARE: a concurrent close waits for this save (and the other way round); the
    // session read after the lock is the one that counts.
    sqlx::query("SELECT 1 FROM exam_sessions WHERE id = $1 FOR SHARE")
        .bind(exam.exam_session_id)
        .execute(&mut *ctx.tx)
        .await?;
    let session = exams::exam_session(&mut ctx.tx, exam.exam_session_id).await?;
    if !may_enter(ctx, &exam) {
        return Err(AppError::Forbidden(format!(
            "You do not teach {} in {}; only staff allowed to change marks may enter them.",
            exam.subject_name, exam.class_name
        )));
    }
    ensure_open(&session, &exam)?;
    if rows.is_empty() {
        return Err(AppError::field("rows", "Send at least one row."));
    }
    if rows.len() > 500 {
        return Err(AppError::field("rows", "At most 500 rows at a time."));
    }

    let pupils = pupils(&mut ctx.tx, exam.academic_class_id, exam.id).await?;
    let in_class: HashMap<i64, &PupilRow> = pupils.iter().map(|p| (p.registration, p)).collect();
    let components: HashMap<String, &exams::ExamComponent> = exam
        .components
        .iter()
        .map(|c| (c.name.to_lowercase(), c))
        .collect();

    let before: HashMap<(i64, i64), f64> = scores(&mut ctx.tx, exam_id)
        .await?
        .into_iter()
        .map(|(c, r, s)| ((c, r), s))
        .collect();
    let absent_now = absences(&mut ctx.tx, exam_id).await?;
    // (registration, absent after the save) where a row changes it.
    let mut absence_changes: Vec<(i64, bool)> = Vec::new();

    let mut errors = FieldErrors::new();
    let mut add = |field: String, msg: String| errors.entry(field).or_default().push(msg);
    let mut seen = HashSet::new();
    // (component id, registration, Some(score) | None to clear)
    let mut cells: Vec<Cell> = Vec::new();
    // (row index, registration) of rows for pupils not on this sheet.
    let mut strangers: Vec<(usize, i64)> = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        let label = format!("Row {}", i + 1);
        match in_class.get(&row.registration) {
            None => {
                // Worded once the loop is done (one query tells who is in the class).
                strangers.push((i, row.registration));
                continue;
            }
            Some(_) if !seen.insert(row.registration) => {
                add(
                    format!("rows[{i}].registration"),
                    format!("{label}: this pupil appears twice."),
                );
                continue;
            }
            Some(_) => {}
        }
        if row
            .teacher_remark
            .as_ref()
            .is_some_and(|r| r.trim().chars().count() > 200)
        {
            add(
                format!("rows[{i}].teacher_remark"),
                format!("{label}: a remark is at most 200 characters."),
            );
        }
        let mut given = HashSet::new();
        for (name, value) in &row.scores {
            let field = format!("rows[{i}].scores.{name}");
            if !given.insert(name.trim().to_lowercase()) {
                add(field, format!("{label}: {name:?} is given twice."));
                continue;
            }
            let Some(component) = components.get(&name.trim().to_lowercase()) else {
                let known: Vec<&str> = exam.components.iter().map(|c| c.name.as_str()).collect();
                add(
                    field,
                    format!(
                        "{label}: unknown component {name:?}; this exam has {}.",
                        known.join(", ")
                    ),
                );
                continue;
            };
            let max = component.max_score;
            let out_of_range = || {
                format!(
                    "{label}: {} must be a number from 0 to {}, in whole or half marks.",
                    component.name,
                    format_score(max)
                )
            };
            match parse_score(value) {
                Ok(None) => cells.push((component.id, row.registration, None)),
                Ok(Some(score)) if (0.0..=max).contains(&score) && is_half_step(score) => {
                    cells.push((component.id, row.registration, Some(score)))
                }
                _ => add(field, out_of_range()),
            }
        }
        let was_absent = absent_now.contains(&row.registration);
        let absent = row.absent.unwrap_or(was_absent);
        if absent != was_absent {
            absence_changes.push((row.registration, absent));
        }
        if absent {
            // Any score left after this row (kept or newly given) contradicts ABS.
            let scored = exam.components.iter().any(|c| {
                match cells
                    .iter()
                    .rev()
                    .find(|(cid, r, _)| *cid == c.id && *r == row.registration)
                {
                    Some((_, _, s)) => s.is_some(),
                    None => before.contains_key(&(c.id, row.registration)),
                }
            });
            if scored {
                add(
                    format!("rows[{i}].absent"),
                    format!(
                        "{label}: a pupil marked ABS has no scores; clear the scores or untick ABS."
                    ),
                );
            }
        }
    }
    if !strangers.is_empty() {
        // In the class but not taking the subject, or not in the class at all.
        let regs: Vec<i64> = strangers.iter().map(|(_, r)| *r).collect();
        let in_class_now: HashSet<i64> = sqlx::query_scalar(
            "SELECT id FROM registrations WHERE academic_class_id = $1 AND is_current AND id = ANY($2)",
        )
        .bind(exam.academic_class_id)
        .bind(&regs)
        .fetch_all(&mut *ctx.tx)
        .await?
        .into_iter()
        .collect();
        for (i, registration) in strangers {
            let why = if in_class_now.contains(&registration) {
                format!(
                    "Row {}: this pupil does not take {} (see their subjects on the class page).",
                    i + 1,
                    exam.subject_name
                )
            } else {
                format!(
                    "Row {}: this pupil is not registered in {}.",
                    i + 1,
                    exam.class_name
                )
            };
            errors
                .entry(format!("rows[{i}].registration"))
                .or_default()
                .push(why);
        }
    }
    if !errors.is_empty() {
        return Err(AppError::Validation {
            detail: "Some rows are not valid; nothing was saved.".into(),
            errors,
        });
    }
    let stale = stale_rows(&mut ctx.tx, &exam, rows, &before, &absent_now, &in_class).await?;
    if !stale.is_empty() {
        return Err(AppError::Conflict(format!(
            "{} Nothing was saved: check the newer marks and type yours again if they are still right.",
            stale.join(" ")
        )));
    }

    let changed: Vec<&Cell> = cells
        .iter()
        .filter(|(c, r, s)| before.get(&(*c, *r)).copied() != *s)
        .collect();
    let (set, clear): (Vec<&Cell>, Vec<&Cell>) = changed.iter().partition(|(_, _, s)| s.is_some());
    if !set.is_empty() {
        let comp: Vec<i64> = set.iter().map(|c| c.0).collect();
        let reg: Vec<i64> = set.iter().map(|c| c.1).collect();
        let score: Vec<f64> = set.iter().map(|c| c.2.unwrap_or_default()).collect();
        sqlx::query(
            "INSERT INTO marks (component_id, registration_id, exam_id, score, updated_by, updated_at)
             SELECT c, r, $4, s, $5, $6 FROM UNNEST($1::bigint[], $2::bigint[], $3::float8[]) AS x(c, r, s)
             ON CONFLICT (component_id, registration_id)
             DO UPDATE SET score = EXCLUDED.score, updated_by = EXCLUDED.updated_by, updated_at = EXCLUDED.updated_at",
        )
        .bind(&comp)
        .bind(&reg)
        .bind(&score)
        .bind(exam_id)
        .bind(ctx.user.id)
        .bind(ctx.now)
        .execute(&mut *ctx.tx)
        .await?;
    }
    if !clear.is_empty() {
        let comp: Vec<i64> = clear.iter().map(|c| c.0).collect();
        let reg: Vec<i64> = clear.iter().map(|c| c.1).collect();
        sqlx::query(
            "DELETE FROM marks m USING UNNEST($1::bigint[], $2::bigint[]) AS x(c, r)
              WHERE m.component_id = x.c AND m.registration_id = x.r",
        )
        .bind(&comp)
        .bind(&reg)
        .execute(&mut *ctx.tx)
        .await?;
    }
    let remarks: Vec<(i64, &str)> = rows
        .iter()
        .filter_map(|r| {
            r.teacher_remark
                .as_deref()
                .map(|t| (r.registration, t.trim()))
        })
        .collect();
    if !remarks.is_empty() {
        let regs: Vec<i64> = remarks.iter().map(|r| r.0).collect();
        let texts: Vec<&str> = remarks.iter().map(|r| r.1).collect();
        sqlx::query(
            "WITH given AS (SELECT * FROM UNNEST($2::bigint[], $3::text[]) AS g(registration_id, remark)),
                  cleared AS (DELETE FROM subject_remarks s USING given g
                               WHERE g.remark = '' AND s.exam_id = $1 AND s.registration_id = g.registration_id)
             INSERT INTO subject_remarks (exam_id, registration_id, remark, updated_by, updated_at)
             SELECT $1, registration_id, remark, $4, $5 FROM given WHERE remark <> ''
             ON CONFLICT (exam_id, registration_id)
             DO UPDATE SET remark = EXCLUDED.remark, updated_by = EXCLUDED.updated_by, updated_at = EXCLUDED.updated_at",
        )
        .bind(exam_id)
        .bind(&regs)
        .bind(&texts)
        .bind(ctx.user.id)
        .bind(ctx.now)
        .execute(&mut *ctx.tx)
        .await?;
    }
    let now_absent: Vec<i64> = absence_changes
        .iter()
        .filter(|(_, absent)| *absent)
        .map(|(r, _)| *r)
        .collect();
    let no_longer: Vec<i64> = absence_changes
        .iter()
        .filter(|(_, absent)| !*absent)
        .map(|(r, _)| *r)
        .collect();
    if !now_absent.is_empty() {
        sqlx::query(
            "INSERT INTO exam_absences (exam_id, registration_id, updated_by, updated_at)
             SELECT $1, r, $3, $4 FROM UNNEST($2::bigint[]) AS x(r) ON CONFLICT DO NOTHING",
        )
        .bind(exam_id)
        .bind(&now_absent)
        .bind(ctx.user.id)
        .bind(ctx.now)
        .execute(&mut *ctx.tx)
        .await?;
    }
    if !no_longer.is_empty() {
        sqlx::query("DELETE FROM exam_absences WHERE exam_id = $1 AND registration_id = ANY($2)")
            .bind(exam_id)
            .bind(&no_longer)
            .execute(&mut *ctx.tx)
            .await?;
    }
    if !changed.is_empty() || !absence_changes.is_empty() {
        let names: HashMap<i64, &str> = exam
            .components
            .iter()
            .map(|c| (c.id, c.name.as_str()))
            .collect();
        let detail: Vec<Value> = changed
            .iter()
            .map(|(c, r, s)| {
                json!({
                    "admission_no": in_class.get(r).map(|p| p.admission_no.as_str()),
                    "component": names.get(c),
                    "from": before.get(&(*c, *r)),
                    "to": s,
                })
            })
            .collect();
        ctx.audit(
            "update",
            "marks",
            exam_id,
            json!({
                "exam": format!("{} {}", exam.class_name, exam.subject_name),
                "scores": detail,
                "absent": absence_changes.iter().map(|(r, a)| json!({
                    "admission_no": in_class.get(r).map(|p| p.admission_no.as_str()),
                    "absent": a,
                })).collect::<Vec<_>>(),
            }),
        )
        .await?;
    }
    Ok(SaveSummary {
        rows: rows.len(),
        changed: changed.len() + absence_changes.len(),
    })
}

/// Rows whose `seen` values are no longer what is stored: someone saved since the client
/// loaded the sheet. One sentence per row, naming each cell, its value now and who saved it.
async fn stale_rows(
    conn: &mut PgConnection,
    exam: &Exam,
    rows: &[MarkInput],
    stored: &HashMap<(i64, i64), f64>,
    absent_now: &HashSet<i64>,
    pupils: &HashMap<i64, &PupilRow>,
) -> AppResult<Vec<String>> {
    let checks_remark = rows.iter().any(|r| r.seen_teacher_remark.is_some());
    let remarks: HashMap<i64, String> = if checks_remark {
        sqlx::query_as("SELECT registration_id, remark FROM subject_remarks WHERE exam_id = $1")
            .bind(exam.id)
            .fetch_all(&mut *conn)
            .await?
            .into_iter()
            .collect()
    } else {
        HashMap::new()
    };
    let components: HashMap<String, &exams::ExamComponent> = exam
        .components
        .iter()
        .map(|c| (c.name.to_lowercase(), c))
        .collect();
    let mut stale = Vec::new();
    let mut stale_registrations = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        let mut cells = Vec::new();
        for (name, seen) in row.seen.iter().flatten() {
            let Some(c) = components.get(&name.trim().to_lowercase()) else {
                continue;
            };
            let now = stored.get(&(c.id, row.registration)).copied();
            // An unreadable seen value is treated as "empty".
            let seen = parse_score(seen).ok().flatten();
            if now != seen {
                let shown = now.map_or_else(|| "empty".to_owned(), format_score);
                cells.push(format!("{} is now {shown}", c.name));
            }
        }
        if let Some(seen) = &row.seen_teacher_remark {
            let now = remarks.get(&row.registration).map_or("", String::as_str);
            if now.trim() != seen.trim() {
                cells.push(format!("the remark is now {now:?}"));
            }
        }
        if let Some(seen) = row.seen_absent {
            let now = absent_now.contains(&row.registration);
            if now != seen {
                cells.push(
                    if now {
                        "they are now marked ABS"
                    } else {
                        "ABS was cleared"
                    }
                    .to_owned(),
                );
            }
        }
        if !cells.is_empty() {
            let who = pupils
                .get(&row.registration)
                .map_or(String::new(), |p| format!(" ({})", p.full_name));
            stale.push((i, who, cells));
            stale_registrations.push(row.registration);
        }
    }
    if stale.is_empty() {
        return Ok(Vec::new());
    }
    // Who saved last, per pupil, for the message.
    let savers: HashMap<i64, String> = sqlx::query_as(
        "SELECT DISTINCT ON (m.registration_id) m.registration_id, u.full_name
           FROM marks m JOIN public.users u ON u.id = m.updated_by
          WHERE m.exam_id = $1 AND m.registration_id = ANY($2)
          ORDER BY m.registration_id, m.updated_at DESC",
    )
    .bind(exam.id)
    .bind(&stale_registrations)
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .collect();
    Ok(stale
        .into_iter()
        .zip(stale_registrations)
        .map(|((i, who, cells), registration)| {
            let by = savers
                .get(&registration)
                .map_or(String::new(), |n| format!(" (last saved by {n})"));
            format!(
                "Row {}{who}: changed since you loaded the sheet — {}{by}.",
                i + 1,
                cells.join(", ")
            )
        })
        .collect())
}

/// A score from JSON: a number, a numeric string ("14.5"), or null/"" to clear.
fn parse_score(value: &Value) -> Result<Option<f64>, ()> {
    match value {
        Value::Null => Ok(None),
        Value::Number(n) => n.as_f64().map(Some).ok_or(()),
        Value::String(s) if s.trim().is_empty() => Ok(None),
        Value::String(s) => s.trim().parse::<f64>().map(Some).map_err(|_| ()),
        _ => Err(()),
    }
}
