//! The rules of the end of the school year: where each arm goes next, the promotion rules,
//! the preview (every pupil with a proposed outcome and its reason), overrides by a person
//! (with a reason), and the commit that registers every pupil in the new session in one
//! transaction. Nothing is ever decided silently: a pupil without a decision blocks the
//! commit and is named. Every change is audited in the request's transaction.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};

use super::{
    db::{self, NextClass, Outcome, PupilRow, Rules, Run},
    figures::{self, Figures},
};
use crate::{
    academics::db as academics,
    context::SchoolCtx,
    error::{AppError, AppResult, FieldErrors, Validator},
    students::{db::StudentStatus, registrations},
};

pub const MAX_REASON: usize = 500;
pub const MAX_ROWS: usize = 2000;

// ---- next classes ----

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NextClassItem {
    pub class_id: i64,
    /// The arm its pupils move to (a later class level).
    pub next_class_id: Option<i64>,
    /// Its pupils graduate. With neither this nor `next_class_id`, the arm is unconfirmed.
    #[serde(default)]
    pub is_final: bool,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NextClassesInput {
    /// The arms to set; arms not listed are left as they are.
    #[schema(max_items = 2000)]
    pub classes: Option<Vec<NextClassItem>>,
}

/// Sets where arms go next (all or nothing; errors name the row: `classes[2].next_class_id`).
pub async fn set_next_classes(
    ctx: &mut SchoolCtx,
    input: &NextClassesInput,
) -> AppResult<Vec<NextClass>> {
    db::lock(&mut ctx.tx).await?;
    let items = input.classes.clone().unwrap_or_default();
    let mut v = Validator::new();
    if items.is_empty() {
        v.add("classes", "List at least one class arm.");
    }
    if items.len() > MAX_ROWS {
        v.add("classes", format!("At most {MAX_ROWS} arms at a time."));
    }
    let arms: HashMap<i64, (String, i64, i32)> = db::arms(&mut ctx.tx)
        .await?
        .into_iter()
        .map(|(id, name, form, ordinal)| (id, (name, form, ordinal)))
        .collect();
    let mut seen = HashSet::new();
    for (i, item) in items.iter().enumerate() {
        let field = |f: &str| format!("classes[{i}].{f}");
        let Some((_, _, ordinal)) = arms.get(&item.class_id) else {
            v.add(&field("class_id"), "There is no such class arm.");
            continue;
        };
        if !seen.insert(item.class_id) {
            v.add(&field("class_id"), "This arm is listed twice.");
        }
        match (item.next_class_id, item.is_final) {
            (Some(_), true) => v.add(
                &field("is_final"),
                "A final class has no next class: choose one or the other.",
            ),
            (Some(next), false) => match arms.get(&next) {
                None => v.add(&field("next_class_id"), "There is no such class arm."),
                Some((_, _, next_ordinal)) if next_ordinal <= ordinal => v.add(
                    &field("next_class_id"),
                    "The next class must be in a later class level.",
                ),
                Some(_) => {}
            },
            (None, _) => {}
        }
    }
    v.finish()?;
    let before = db::next_classes(&mut ctx.tx).await?;
    for item in &items {
        if item.next_class_id.is_none() && !item.is_final {
            db::clear_next_class(&mut ctx.tx, item.class_id).await?;
        } else {
            db::set_next_class(&mut ctx.tx, item.class_id, item.next_class_id, ctx.now).await?;
        }
    }
    let after = db::next_classes(&mut ctx.tx).await?;
    let describe = |list: &[NextClass]| -> Value {
        list.iter()
            .filter(|n| items.iter().any(|i| i.class_id == n.class_id))
            .map(|n| {
                let to = if n.is_final {
                    "final".to_owned()
                } else {
                    n.next_class_name
                        .clone()
                        .unwrap_or_else(|| "not set".into())
                };
                (n.class_name.clone(), Value::String(to))
            })
            .collect::<serde_json::Map<_, _>>()
            .into()
    };
    ctx.audit(
        "update",
        "next_classes",
        "school",
        crate::audit::trail::diff(&describe(&before), &describe(&after)),
    )
    .await?;
    Ok(after)
}

// ---- rules ----

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RulesInput {
    #[schema(minimum = 0, maximum = 100, example = 40)]
    pub pass_average: Option<f64>,
    #[schema(minimum = 0, maximum = 100, example = 2)]
    pub margin: Option<f64>,
    /// Replaces the subjects that must be passed.
    #[schema(max_items = 100)]
    pub required_subject_ids: Option<Vec<i64>>,
}

pub async fn save_rules(ctx: &mut SchoolCtx, input: &RulesInput) -> AppResult<Rules> {
    db::lock(&mut ctx.tx).await?;
    let before = db::rules(&mut ctx.tx).await?;
    let pass = input.pass_average.unwrap_or(before.pass_average);
    let margin = input.margin.unwrap_or(before.margin);
    let required: Vec<i64> = match &input.required_subject_ids {
        Some(ids) => ids.clone(),
        None => before
            .required_subjects
            .iter()
            .map(|s| s.subject_id)
            .collect(),
    };
    let mut v = Validator::new();
    let in_range =
        // Two decimals at most, judged with a tolerance: 2.3 × 100 is 229.99999999999997.
        |x: f64| {
            x.is_finite()
                && (0.0..=100.0).contains(&x)
                && ((x * 100.0).round() - x * 100.0).abs() < 1e-6
        };
    if !in_range(pass) {
        v.add(
            "pass_average",
            "Use a number from 0 to 100 (at most 2 decimal places).",
        );
    }
    if !in_range(margin) {
        v.add(
            "margin",
            "Use a number from 0 to 100 (at most 2 decimal places).",
        );
    } else if in_range(pass) && margin > pass {
        v.add(
            "margin",
            "The margin cannot be larger than the pass average.",
        );
    }
    if required.len() > 100 {
        v.add("required_subject_ids", "At most 100 subjects.");
    } else {
        let missing: Vec<i64> = sqlx::query_scalar(
            "SELECT x FROM unnest($1::bigint[]) x WHERE NOT EXISTS (SELECT 1 FROM subjects s WHERE s.id = x)",
        )
        .bind(&required)
        .fetch_all(&mut *ctx.tx)
        .await?;
        if !missing.is_empty() {
            v.add(
                "required_subject_ids",
                format!("These subjects do not exist: {missing:?}."),
            );
        }
    }
    v.finish()?;
    db::save_rules(&mut ctx.tx, pass, margin, &required, ctx.now).await?;
    let after = db::rules(&mut ctx.tx).await?;
    ctx.audit(
        "update",
        "promotion_rules",
        "school",
        crate::audit::trail::diff(
            &serde_json::to_value(&before).unwrap_or_default(),
            &serde_json::to_value(&after).unwrap_or_default(),
        ),
    )
    .await?;
    Ok(after)
}

// ---- the new session ----

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TermDates {
    pub starts_on: Option<NaiveDate>,
    pub ends_on: Option<NaiveDate>,
    pub next_term_begins: Option<NaiveDate>,
}

/// The session that follows `from_session`: its dates, its three terms' dates; its classes
/// are copied from `from_session` with their class teachers, subjects and subject teachers.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSessionInput {
    pub from_session: Option<i64>,
    #[schema(min_length = 2, max_length = 50, example = "2026/2027")]
    pub name: Option<String>,
    pub starts_on: Option<NaiveDate>,
    pub ends_on: Option<NaiveDate>,
    /// First, second and third term, in order.
    #[schema(min_items = 3, max_items = 3)]
    pub terms: Option<Vec<TermDates>>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NewSession {
    pub session: academics::AcademicSession,
    pub terms: Vec<academics::Term>,
    pub classes: Vec<academics::AcademicClass>,
    /// Teachers no longer active, left out of the copy (class or subject teacher).
    pub teachers_left_out: Vec<i64>,
}

/// Prefixes a validation error's fields (`starts_on` → `terms[1].starts_on`).
fn prefixed(e: AppError, prefix: &str) -> AppError {
    match e {
        AppError::Validation { detail, errors } => AppError::Validation {
            detail,
            errors: errors
                .into_iter()
                .map(|(k, v)| (format!("{prefix}{k}"), v))
                .collect(),
        },
        other => other,
    }
}

/// Creates the new session (not current), its terms and its classes copied from the session
/// it follows: all in the request's transaction, so a refusal leaves nothing behind.
pub async fn new_session(ctx: &mut SchoolCtx, input: &NewSessionInput) -> AppResult<NewSession> {
    let mut v = Validator::new();
    let from = match input.from_session {
        None => {
            v.add("from_session", "This field is required.");
            None
        }
        Some(id) => match academics::session(&mut ctx.tx, id).await {
            Ok(s) => Some(s),
            Err(AppError::NotFound(_)) => {
                v.add("from_session", "There is no such session.");
                None
            }
            Err(e) => return Err(e),
        },
    };
    let terms = input.terms.clone().unwrap_or_default();
    if terms.len() != 3 {
        v.add("terms", "Enter the dates of the three terms.");
    }
    if let (Some(from), Some(starts)) = (&from, input.starts_on)
        && starts <= from.starts_on
    {
        v.add(
            "starts_on",
            "The new session must start after the session it follows.",
        );
    }
    v.finish()?;
    let Some(from) = from else {
        return Err(AppError::field("from_session", "This field is required."));
    };
    let session = academics::save_session(
        &mut ctx.tx,
        None,
        &academics::AcademicSessionInput {
            name: input.name.clone(),
            starts_on: input.starts_on,
            ends_on: input.ends_on,
            is_current: Some(false),
        },
        ctx.now,
    )
    .await?;
    let mut made_terms = Vec::new();
    for (i, t) in terms.iter().enumerate() {
        let ordinal = i16::try_from(i + 1).unwrap_or(3);
        let term = academics::save_term(
            &mut ctx.tx,
            &session,
            None,
            &academics::TermInput {
                ordinal: Some(ordinal),
                name: None,
                starts_on: t.starts_on,
                ends_on: t.ends_on,
                next_term_begins: t.next_term_begins,
                is_current: Some(false),
            },
            ctx.now,
        )
        .await
        .map_err(|e| prefixed(e, &format!("terms[{i}].")))?;
        made_terms.push(term);
    }
    let old = academics::academic_classes(&mut ctx.tx, from.id).await?;
    let mut teachers: Vec<i64> = old.iter().filter_map(|c| c.class_teacher_id).collect();
    teachers.extend(
        old.iter()
            .flat_map(|c| c.subjects.iter().filter_map(|s| s.teacher_id)),
    );
    teachers.sort_unstable();
    teachers.dedup();
    let gone: HashSet<i64> = academics::unknown_staff(&mut ctx.tx, ctx.school.id, &teachers)
        .await?
        .into_iter()
        .collect();
    let keep = |t: Option<i64>| t.filter(|t| !gone.contains(t));
    let mut classes = Vec::new();
    for c in &old {
        let copy = academics::AcademicClassInput {
            class_id: Some(c.class_id),
            class_teacher_id: keep(c.class_teacher_id),
            subjects: Some(
                c.subjects
                    .iter()
                    .map(|s| academics::SubjectTeacher {
                        subject_id: s.subject_id,
                        teacher_id: keep(s.teacher_id),
                        is_elective: s.is_elective,
                    })
                    .collect(),
            ),
        };
        classes.push(
            academics::save_academic_class(
                &mut ctx.tx,
                ctx.school.id,
                &session,
                None,
                &copy,
                ctx.now,
            )
            .await?,
        );
    }
    let mut left_out: Vec<i64> = gone.into_iter().collect();
    left_out.sort_unstable();
    ctx.audit(
        "create",
        "session",
        session.id,
        json!({"name": session.name, "from_session": from.id, "terms": made_terms.len(),
               "classes_copied": classes.len(), "teachers_left_out": left_out}),
    )
    .await?;
    Ok(NewSession {
        session,
        terms: made_terms,
        classes,
        teachers_left_out: left_out,
    })
}

// ---- the preview ----

#[derive(Debug, Clone, Copy, Deserialize, IntoParams, ToSchema)]
#[into_params(parameter_in = Query)]
pub struct Rollover {
    /// The session ending.
    pub from_session: i64,
    /// The session its pupils move into.
    pub to_session: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SessionRef {
    pub id: i64,
    pub name: String,
    pub starts_on: NaiveDate,
    pub is_current: bool,
}

impl From<&academics::AcademicSession> for SessionRef {
    fn from(s: &academics::AcademicSession) -> Self {
        Self {
            id: s.id,
            name: s.name.clone(),
            starts_on: s.starts_on,
            is_current: s.is_current,
        }
    }
}

/// How many pupils go which way.
#[derive(Debug, Clone, Default, Serialize, ToSchema, PartialEq, Eq)]
pub struct Counts {
    pub pupils: i64,
    pub promoted: i64,
    pub repeating: i64,
    pub graduating: i64,
    pub leaving: i64,
    /// No decision yet (no next class, flagged within the margin, no figures).
    pub undecided: i64,
}

impl Counts {
    fn add(&mut self, outcome: Option<Outcome>) {
        self.pupils += 1;
        match outcome {
            Some(Outcome::Promote) => self.promoted += 1,
            Some(Outcome::Repeat) => self.repeating += 1,
            Some(Outcome::Graduate) => self.graduating += 1,
            Some(Outcome::Leave) => self.leaving += 1,
            None => self.undecided += 1,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ClassCounts {
    pub class_id: i64,
    pub class_name: String,
    pub counts: Counts,
}

/// One pupil of the rollover.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PreviewRow {
    pub student_id: i64,
    pub admission_no: String,
    pub full_name: String,
    /// The arm the pupil is in this session (and its class in the session).
    pub class_id: i64,
    pub class_name: String,
    pub academic_class_id: i64,
    /// The session's cumulative average (two places), from the third term's results.
    pub cumulative_average: Option<f64>,
    /// Subjects graded in the scale's lowest band.
    pub failed_subjects: Vec<String>,
    /// What the rules propose; null when they cannot decide.
    #[schema(value_type = Option<Outcome>)]
    pub proposed_outcome: Option<Outcome>,
    pub proposed_reason: String,
    /// Within the margin below the pass average: a person decides.
    pub flagged: bool,
    /// The outcome that applies: a person's decision, else the proposal.
    #[schema(value_type = Option<Outcome>)]
    pub outcome: Option<Outcome>,
    /// The arm in the new session (promote, repeat).
    pub to_class_id: Option<i64>,
    pub to_class_name: Option<String>,
    /// Its class in the new session, when it exists.
    pub to_academic_class_id: Option<i64>,
    pub reason: String,
    /// Decided by a person (an override).
    pub overridden: bool,
    pub decided_by_name: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    /// The decision has been carried out.
    pub applied: bool,
    /// Why this pupil blocks the commit, if they do.
    pub blocking: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Preview {
    pub from_session: SessionRef,
    pub to_session: SessionRef,
    pub rules: Rules,
    /// The session has third-term results to decide on.
    pub has_results: bool,
    /// The commit, once made.
    pub committed: Option<Run>,
    /// Nothing blocks the commit.
    pub can_commit: bool,
    pub totals: Counts,
    pub classes: Vec<ClassCounts>,
    /// Pupils that block the commit (listed, never skipped).
    pub blocked: Vec<PreviewRow>,
    pub rows: Vec<PreviewRow>,
}

/// Where an arm goes, once the school has confirmed it.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Next {
    Final,
    Arm(i64),
}

struct Proposal {
    outcome: Option<Outcome>,
    to_class: Option<i64>,
    reason: String,
    flagged: bool,
}

fn fmt2(x: f64) -> String {
    format!("{x:.2}")
}

/// What the rules say for one pupil. Pure: the reason always says why.
fn propose(
    pupil: &PupilRow,
    next: Option<Next>,
    figures: Option<&Figures>,
    has_results: bool,
    rules: &Rules,
) -> Proposal {
    let undecided = |reason: String, flagged: bool| Proposal {
        outcome: None,
        to_class: None,
        reason,
        flagged,
    };
    let Some(next) = next else {
        return undecided(
            format!(
                "{} has no next class: set it (or mark it final), or decide for this pupil.",
                pupil.class_name
            ),
            false,
        );
    };
    let average = figures.and_then(|f| f.cumulative_average);
    let Some(average) = average else {
        return undecided(
            if has_results {
                "No cumulative average (no marks this session): decide for this pupil.".into()
            } else {
                "The session has no third-term results yet: decide for this pupil.".into()
            },
            false,
        );
    };
    let up = match next {
        Next::Final => (Outcome::Graduate, None),
        Next::Arm(a) => (Outcome::Promote, Some(a)),
    };
    let repeat = (Outcome::Repeat, Some(pupil.class_id));
    let required: HashSet<i64> = rules
        .required_subjects
        .iter()
        .map(|s| s.subject_id)
        .collect();
    let subjects = figures.map(|f| f.subjects.as_slice()).unwrap_or_default();
    let required_taken: Vec<_> = subjects
        .iter()
        .filter(|s| required.contains(&s.subject_id))
        .collect();
    let without: Vec<&str> = required_taken
        .iter()
        .filter(|s| s.figure.is_none())
        .map(|s| s.subject_name.as_str())
        .collect();
    let failed: Vec<&str> = required_taken
        .iter()
        .filter(|s| s.failed)
        .map(|s| s.subject_name.as_str())
        .collect();
    let pass = rules.pass_average;
    let decided = |(outcome, to_class): (Outcome, Option<i64>), reason: String| Proposal {
        outcome: Some(outcome),
        to_class,
        reason,
        flagged: false,
    };
    if !failed.is_empty() {
        return decided(
            repeat,
            format!(
                "Failed {} (must be passed); cumulative average {}.",
                failed.join(", "),
                fmt2(average)
            ),
        );
    }
    if !without.is_empty() {
        return undecided(
            format!(
                "No figure in {} (must be passed): decide for this pupil.",
                without.join(", ")
            ),
            true,
        );
    }
    if average >= pass {
        let what = if up.0 == Outcome::Graduate {
            "graduates"
        } else {
            "promoted"
        };
        return decided(
            up,
            format!(
                "Cumulative average {} is at least {} ({what}).",
                fmt2(average),
                fmt2(pass)
            ),
        );
    }
    if rules.margin > 0.0 && average >= pass - rules.margin {
        return undecided(
            format!(
                "Cumulative average {} is within {} of the pass average {}: decide for this pupil.",
                fmt2(average),
                fmt2(rules.margin),
                fmt2(pass)
            ),
            true,
        );
    }
    decided(
        repeat,
        format!(
            "Cumulative average {} is below {}.",
            fmt2(average),
            fmt2(pass)
        ),
    )
}

async fn session_or_field(
    ctx: &mut SchoolCtx,
    id: i64,
    field: &str,
    v: &mut Validator,
) -> AppResult<Option<academics::AcademicSession>> {
    match academics::session(&mut ctx.tx, id).await {
        Ok(s) => Ok(Some(s)),
        Err(AppError::NotFound(_)) => {
            v.add(field, "There is no such session.");
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// The two sessions of a rollover, checked.
async fn sessions(
    ctx: &mut SchoolCtx,
    r: Rollover,
) -> AppResult<(academics::AcademicSession, academics::AcademicSession)> {
    let mut v = Validator::new();
    let from = session_or_field(ctx, r.from_session, "from_session", &mut v).await?;
    let to = session_or_field(ctx, r.to_session, "to_session", &mut v).await?;
    if let (Some(f), Some(t)) = (&from, &to)
        && t.starts_on <= f.starts_on
    {
        v.add(
            "to_session",
            "The new session must start after the session it follows.",
        );
    }
    v.finish()?;
    match (from, to) {
        (Some(f), Some(t)) => {
            if let Some(run) = db::run(&mut ctx.tx, f.id).await?
                && run.to_session_id != t.id
            {
                return Err(AppError::Conflict(format!(
                    "{} has already been rolled over into another session (id {}).",
                    f.name, run.to_session_id
                )));
            }
            // Pupils move one session at a time, and into a session only once: skipping a
            // session, or a second rollover into the same one, would move pupils twice.
            let (between, into): (bool, Option<i64>) = sqlx::query_as(
                "SELECT EXISTS (SELECT 1 FROM academic_sessions
                                 WHERE starts_on > $1 AND starts_on < $2),
                        (SELECT from_session_id FROM promotion_runs
                          WHERE to_session_id = $3 AND from_session_id <> $4 LIMIT 1)",
            )
            .bind(f.starts_on)
            .bind(t.starts_on)
            .bind(t.id)
            .bind(f.id)
            .fetch_one(&mut *ctx.tx)
            .await?;
            if between {
                return Err(AppError::field(
                    "to_session",
                    format!(
                        "Another session starts between {} and {}: pupils move one session at a time.",
                        f.name, t.name
                    ),
                ));
            }
            if into.is_some() {
                return Err(AppError::Conflict(format!(
                    "Another session has already been rolled over into {}.",
                    t.name
                )));
            }
            Ok((f, t))
        }
        _ => Err(AppError::field("from_session", "There is no such session.")),
    }
}

/// Everything about a rollover, as the preview shows it.
struct Built {
    preview: Preview,
    pupils: Vec<PupilRow>,
}

async fn build(
    ctx: &mut SchoolCtx,
    from: &academics::AcademicSession,
    to: &academics::AcademicSession,
) -> AppResult<Built> {
    let rules = db::rules(&mut ctx.tx).await?;
    let next: HashMap<i64, Next> = db::next_classes(&mut ctx.tx)
        .await?
        .into_iter()
        .filter(|n| n.confirmed)
        .map(|n| {
            let to = match n.next_class_id {
                Some(a) if !n.is_final => Next::Arm(a),
                _ => Next::Final,
            };
            (n.class_id, to)
        })
        .collect();
    let arms = db::arms(&mut ctx.tx).await?;
    // (form id, level ordinal) of each arm: a stored decision is checked again against the
    // levels as they are now.
    let arm_levels: HashMap<i64, (i64, i32)> = arms
        .iter()
        .map(|(id, _, form, ordinal)| (*id, (*form, *ordinal)))
        .collect();
    let arm_names: HashMap<i64, String> = arms
        .into_iter()
        .map(|(id, name, _, _)| (id, name))
        .collect();
    let to_classes: HashMap<i64, i64> = db::classes_of_session(&mut ctx.tx, to.id)
        .await?
        .into_iter()
        .collect();
    let figures = figures::of_session(&mut ctx.tx, from.id).await?;
    let pupils = db::pupils(&mut ctx.tx, from.id, to.id).await?;
    let committed = db::run(&mut ctx.tx, from.id).await?;
    let mut rows = Vec::with_capacity(pupils.len());
    let mut totals = Counts::default();
    let mut classes: Vec<ClassCounts> = Vec::new();
    for p in &pupils {
        let fig = figures.by_pupil.get(&(p.academic_class_id, p.student_id));
        let proposal = propose(
            p,
            next.get(&p.class_id).copied(),
            fig,
            figures.has_results_flag(),
            &rules,
        );
        let decision = p.decision.as_ref().map(|d| &d.0);
        let (outcome, to_class, reason, overridden) = match decision {
            Some(d) => (
                Outcome::parse(&d.outcome),
                d.to_class_id,
                d.reason.clone(),
                d.is_override,
            ),
            None => (
                proposal.outcome,
                proposal.to_class,
                proposal.reason.clone(),
                false,
            ),
        };
        let to_academic_class_id = to_class.and_then(|c| to_classes.get(&c).copied());
        // A person's decision made before the levels or arms changed may no longer fit: a
        // promotion must still go up a level, a repeat stay in the same one.
        let still_fits = match (decision, outcome, to_class) {
            (Some(d), Some(o @ (Outcome::Promote | Outcome::Repeat)), Some(target))
                if d.applied_at.is_none() =>
            {
                match (arm_levels.get(&p.class_id), arm_levels.get(&target)) {
                    (Some(&(form, here)), Some(&(target_form, there))) => match o {
                        Outcome::Promote => there > here,
                        _ => target_form == form,
                    },
                    _ => false,
                }
            }
            _ => true,
        };
        let blocking = match outcome {
            None => Some(proposal.reason.clone()),
            Some(_) if !still_fits => Some(format!(
                "The decision for {} no longer fits the class levels (they changed since): decide again.",
                p.full_name
            )),
            Some(Outcome::Promote | Outcome::Repeat) if to_academic_class_id.is_none() => {
                Some(format!(
                    "{} has no class in {} yet: add it to the new session.",
                    to_class
                        .and_then(|c| arm_names.get(&c).cloned())
                        .unwrap_or_else(|| "The class".into()),
                    to.name
                ))
            }
            _ => None,
        };
        totals.add(outcome);
        match classes.last_mut() {
            Some(c) if c.class_id == p.class_id => c.counts.add(outcome),
            _ => {
                let mut counts = Counts::default();
                counts.add(outcome);
                classes.push(ClassCounts {
                    class_id: p.class_id,
                    class_name: p.class_name.clone(),
                    counts,
                });
            }
        }
        rows.push(PreviewRow {
            student_id: p.student_id,
            admission_no: p.admission_no.clone(),
            full_name: p.full_name.clone(),
            class_id: p.class_id,
            class_name: p.class_name.clone(),
            academic_class_id: p.academic_class_id,
            cumulative_average: fig.and_then(|f| f.cumulative_average),
            failed_subjects: fig
                .map(|f| {
                    f.subjects
                        .iter()
                        .filter(|s| s.failed)
                        .map(|s| s.subject_name.clone())
                        .collect()
                })
                .unwrap_or_default(),
            proposed_outcome: proposal.outcome,
            proposed_reason: proposal.reason,
            flagged: proposal.flagged,
            outcome,
            to_class_id: to_class,
            to_class_name: to_class.and_then(|c| arm_names.get(&c).cloned()),
            to_academic_class_id,
            reason,
            overridden,
            decided_by_name: decision.and_then(|d| d.decided_by_name.clone()),
            decided_at: decision.map(|d| d.decided_at),
            applied: decision.is_some_and(|d| d.applied_at.is_some()),
            blocking,
        });
    }
    let blocked: Vec<PreviewRow> = rows
        .iter()
        .filter(|r| r.blocking.is_some())
        .cloned()
        .collect();
    Ok(Built {
        preview: Preview {
            from_session: from.into(),
            to_session: to.into(),
            rules,
            has_results: figures.has_results_flag(),
            committed,
            can_commit: blocked.is_empty(),
            totals,
            classes,
            blocked,
            rows,
        },
        pupils,
    })
}

impl figures::SessionFigures {
    fn has_results_flag(&self) -> bool {
        self.has_third_term
    }
}

pub async fn preview(ctx: &mut SchoolCtx, r: Rollover) -> AppResult<Preview> {
    // A reading: a session that is not there means there is nothing at this address (404),
    // as for any other read; writes name the field (422).
    for id in [r.from_session, r.to_session] {
        academics::session(&mut ctx.tx, id).await?;
    }
    let (from, to) = sessions(ctx, r).await?;
    Ok(build(ctx, &from, &to).await?.preview)
}

// ---- decisions ----

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionItem {
    pub student_id: i64,
    /// `promote`, `repeat`, `graduate`, `leave`, or `proposed` to drop an override before
    /// the commit.
    #[schema(example = "promote")]
    pub outcome: Option<String>,
    /// The arm for `promote` (default: the class's next class) or `repeat` (default: the
    /// same arm; another arm of the same level is allowed).
    pub class_id: Option<i64>,
    /// Why (required, except for `proposed`).
    #[schema(max_length = 500)]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionsInput {
    pub from_session: Option<i64>,
    pub to_session: Option<i64>,
    #[schema(max_items = 2000)]
    pub decisions: Option<Vec<DecisionItem>>,
}

fn rollover_of(from: Option<i64>, to: Option<i64>) -> AppResult<Rollover> {
    let mut v = Validator::new();
    if from.is_none() {
        v.add("from_session", "This field is required.");
    }
    if to.is_none() {
        v.add("to_session", "This field is required.");
    }
    v.finish()?;
    match (from, to) {
        (Some(from_session), Some(to_session)) => Ok(Rollover {
            from_session,
            to_session,
        }),
        _ => Err(AppError::field("from_session", "This field is required.")),
    }
}

/// A person's decisions (overrides), all or nothing: a bad row is a 422 naming it
/// (`decisions[3].reason`). After the commit a changed decision is carried out at once: the
/// pupil moves, and the change is audited.
pub async fn decide(ctx: &mut SchoolCtx, input: &DecisionsInput) -> AppResult<Preview> {
    let r = rollover_of(input.from_session, input.to_session)?;
    db::lock(&mut ctx.tx).await?;
    let (from, to) = sessions(ctx, r).await?;
    let built = build(ctx, &from, &to).await?;
    let committed = built.preview.committed.is_some();
    let items = input.decisions.clone().unwrap_or_default();
    let mut v = Validator::new();
    if items.is_empty() {
        v.add("decisions", "List at least one decision.");
    }
    if items.len() > MAX_ROWS {
        v.add(
            "decisions",
            format!("At most {MAX_ROWS} decisions at a time."),
        );
    }
    let pupils: HashMap<i64, &PupilRow> = built.pupils.iter().map(|p| (p.student_id, p)).collect();
    let rows: HashMap<i64, &PreviewRow> = built
        .preview
        .rows
        .iter()
        .map(|p| (p.student_id, p))
        .collect();
    let arms: HashMap<i64, (String, i64, i32)> = db::arms(&mut ctx.tx)
        .await?
        .into_iter()
        .map(|(id, name, form, ordinal)| (id, (name, form, ordinal)))
        .collect();
    let to_classes: HashMap<i64, i64> = db::classes_of_session(&mut ctx.tx, to.id)
        .await?
        .into_iter()
        .collect();
    let next: HashMap<i64, Option<i64>> = db::next_classes(&mut ctx.tx)
        .await?
        .into_iter()
        .filter(|n| n.confirmed)
        .map(|n| (n.class_id, n.next_class_id))
        .collect();
    // (student, outcome or None to drop, arm, reason)
    let mut valid: Vec<(i64, Option<Outcome>, Option<i64>, String)> = Vec::new();
    let mut seen = HashSet::new();
    for (i, item) in items.iter().enumerate() {
        let field = |f: &str| format!("decisions[{i}].{f}");
        let Some(pupil) = pupils.get(&item.student_id) else {
            v.add(
                &field("student_id"),
                format!("This pupil is not among the pupils of {}.", from.name),
            );
            continue;
        };
        if !seen.insert(item.student_id) {
            v.add(&field("student_id"), "This pupil is listed twice.");
        }
        let reason = item.reason.as_deref().unwrap_or_default().trim().to_owned();
        let outcome = match item.outcome.as_deref() {
            None | Some("") => {
                v.add(&field("outcome"), "This field is required.");
                continue;
            }
            Some("proposed") => {
                if committed {
                    v.add(
                        &field("outcome"),
                        "The rollover is committed: choose promote, repeat, graduate or leave.",
                    );
                } else if item.class_id.is_some() {
                    v.add(&field("class_id"), "Only promote and repeat name a class.");
                }
                valid.push((item.student_id, None, None, String::new()));
                continue;
            }
            Some(o) => match Outcome::parse(o) {
                Some(o) => o,
                None => {
                    v.add(
                        &field("outcome"),
                        "Choose promote, repeat, graduate, leave or proposed.",
                    );
                    continue;
                }
            },
        };
        v.text(&field("reason"), &reason, 1, MAX_REASON);
        let (_, form, ordinal) = arms.get(&pupil.class_id).cloned().unwrap_or((
            String::new(),
            pupil.form_id,
            pupil.form_ordinal,
        ));
        let class = match outcome {
            Outcome::Graduate | Outcome::Leave => {
                if item.class_id.is_some() {
                    v.add(&field("class_id"), "Only promote and repeat name a class.");
                }
                None
            }
            Outcome::Repeat => {
                let class = item.class_id.unwrap_or(pupil.class_id);
                match arms.get(&class) {
                    None => v.add(&field("class_id"), "There is no such class arm."),
                    Some((_, f, _)) if *f != form => v.add(
                        &field("class_id"),
                        "A repeater stays in the same class level: choose an arm of it.",
                    ),
                    Some(_) => {}
                }
                Some(class)
            }
            Outcome::Promote => {
                match item
                    .class_id
                    .or_else(|| next.get(&pupil.class_id).copied().flatten())
                {
                    None => {
                        v.add(
                            &field("class_id"),
                            format!(
                                "{} has no next class: choose the class to promote to.",
                                pupil.class_name
                            ),
                        );
                        None
                    }
                    Some(class) => {
                        match arms.get(&class) {
                            None => v.add(&field("class_id"), "There is no such class arm."),
                            Some((_, _, o)) if *o <= ordinal => v.add(
                                &field("class_id"),
                                "Promote to a later class level (or choose repeat).",
                            ),
                            Some(_) => {}
                        }
                        Some(class)
                    }
                }
            }
        };
        if committed
            && let Some(c) = class
            && arms.contains_key(&c)
            && !to_classes.contains_key(&c)
        {
            v.add(
                &field("class_id"),
                format!(
                    "{} has no class in {} yet: add it first.",
                    arms.get(&c).map(|a| a.0.as_str()).unwrap_or("The class"),
                    to.name
                ),
            );
        }
        valid.push((item.student_id, Some(outcome), class, reason));
    }
    v.finish()?;
    for (student, outcome, class, reason) in &valid {
        let before = rows.get(student).map(|r| {
            json!({"outcome": r.outcome, "class": r.to_class_name, "reason": r.reason,
                   "overridden": r.overridden})
        });
        match outcome {
            None => db::delete_decision(&mut ctx.tx, from.id, *student).await?,
            Some(o) => {
                db::save_decision(
                    &mut ctx.tx,
                    from.id,
                    to.id,
                    *student,
                    *o,
                    *class,
                    reason,
                    true,
                    Some(ctx.user.id),
                    ctx.now,
                )
                .await?;
            }
        }
        let after = json!({"outcome": outcome, "class": class.and_then(|c| arms.get(&c).map(|a| a.0.clone())),
                           "reason": reason, "overridden": outcome.is_some()});
        ctx.audit(
            "decide",
            "promotion_decision",
            student,
            json!({"from_session": from.id, "to_session": to.id,
                   "before": before, "after": after}),
        )
        .await?;
        if committed
            && let Some(o) = outcome
            && let Some(p) = pupils.get(student)
        {
            let to_ac = class.and_then(|c| to_classes.get(&c).copied());
            let (moved, registration) = apply(ctx, &to, p.student_id, *o, to_ac).await?;
            db::mark_applied(&mut ctx.tx, from.id, to.id, *student, registration, ctx.now).await?;
            if moved {
                ctx.audit(
                    "move",
                    "promotion_decision",
                    student,
                    json!({"from_session": from.id, "to_session": to.id, "outcome": o,
                           "academic_class_id": to_ac}),
                )
                .await?;
            }
        }
    }
    let after = build(ctx, &from, &to).await?.preview;
    if committed {
        let counts = json!(after.totals);
        db::save_run(&mut ctx.tx, from.id, to.id, ctx.user.id, ctx.now, &counts).await?;
    }
    Ok(after)
}

// ---- the commit ----

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommitInput {
    pub from_session: Option<i64>,
    pub to_session: Option<i64>,
}

/// What a commit did. `before` = `promoted` + `repeating` + `graduated` + `left`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CommitResult {
    pub from_session: SessionRef,
    pub to_session: SessionRef,
    /// Pupils of the session before the rollover.
    pub before: i64,
    pub promoted: i64,
    pub repeating: i64,
    pub graduated: i64,
    pub left: i64,
    /// Pupils whose registration or status this commit changed (0 when run again).
    pub changed: i64,
    pub committed_at: DateTime<Utc>,
}

/// Carries out one decision: a registration in the new session's class (moving the pupil
/// if they were placed elsewhere), or the status graduated / withdrawn (closing any place in
/// the new session). Returns whether anything changed, and the registration.
async fn apply(
    ctx: &mut SchoolCtx,
    to: &academics::AcademicSession,
    student: i64,
    outcome: Outcome,
    to_academic_class: Option<i64>,
) -> AppResult<(bool, Option<i64>)> {
    let day = db::placement_day(ctx.today(), to.starts_on);
    let before = db::registration_in(&mut ctx.tx, student, to.id).await?;
    match (outcome, to_academic_class) {
        (Outcome::Promote | Outcome::Repeat, Some(ac)) => {
            let reg =
                registrations::register(&mut ctx.tx, student, to.id, ac, day, ctx.now).await?;
            let status = crate::students::db::set_status(
                &mut ctx.tx,
                student,
                StudentStatus::Active,
                ctx.now,
            )
            .await?;
            Ok((status || before.map(|b| b.1) != Some(ac), Some(reg)))
        }
        (Outcome::Promote | Outcome::Repeat, None) => Err(AppError::Conflict(
            "The class to move this pupil to has no class in the new session.".into(),
        )),
        (Outcome::Graduate | Outcome::Leave, _) => {
            let mut changed = false;
            if let Some((reg, ac)) = before {
                changed |= registrations::end(&mut ctx.tx, reg, ac, day)
                    .await?
                    .is_some();
            }
            let status = if outcome == Outcome::Graduate {
                StudentStatus::Graduated
            } else {
                StudentStatus::Withdrawn
            };
            changed |=
                crate::students::db::set_status(&mut ctx.tx, student, status, ctx.now).await?;
            Ok((changed, None))
        }
    }
}

fn blocked_error(blocked: &[PreviewRow]) -> AppError {
    let mut errors = FieldErrors::new();
    errors.insert(
        "students".into(),
        blocked
            .iter()
            .map(|r| {
                format!(
                    "{} ({}, {}): {}",
                    r.full_name,
                    r.admission_no,
                    r.class_name,
                    r.blocking.as_deref().unwrap_or_default()
                )
            })
            .collect(),
    );
    AppError::Validation {
        detail: format!(
            "{} pupil(s) have no decision or nowhere to go; nothing was changed.",
            blocked.len()
        ),
        errors,
    }
}

/// Commits a rollover in the request's transaction: every pupil registered in the new
/// session's class (repeaters in their level's class), graduates graduated, leavers
/// withdrawn, each decision recorded with who and why. Running it again changes nothing.
pub async fn commit(ctx: &mut SchoolCtx, input: &CommitInput) -> AppResult<CommitResult> {
    let r = rollover_of(input.from_session, input.to_session)?;
    db::lock(&mut ctx.tx).await?;
    let (from, to) = sessions(ctx, r).await?;
    let built = build(ctx, &from, &to).await?;
    let preview = built.preview;
    if !preview.blocked.is_empty() {
        return Err(blocked_error(&preview.blocked));
    }
    let mut changed = Vec::new();
    for (row, pupil) in preview.rows.iter().zip(&built.pupils) {
        let Some(outcome) = row.outcome else {
            return Err(blocked_error(std::slice::from_ref(row)));
        };
        if pupil.decision.is_none() {
            db::save_decision(
                &mut ctx.tx,
                from.id,
                to.id,
                row.student_id,
                outcome,
                row.to_class_id,
                &row.reason,
                false,
                Some(ctx.user.id),
                ctx.now,
            )
            .await?;
        }
        // Carried out once: a pupil moved or withdrawn by hand since the commit stays where
        // the school put them (a changed decision moves its pupil when it is made).
        if row.applied {
            continue;
        }
        let (moved, registration) =
            apply(ctx, &to, row.student_id, outcome, row.to_academic_class_id).await?;
        if moved || !row.applied {
            db::mark_applied(
                &mut ctx.tx,
                from.id,
                to.id,
                row.student_id,
                registration,
                ctx.now,
            )
            .await?;
        }
        if moved {
            changed.push(json!({"student_id": row.student_id, "outcome": outcome,
                                "class": row.to_class_name}));
        }
    }
    let t = &preview.totals;
    let first = preview.committed.is_none();
    if first || !changed.is_empty() {
        let counts = json!(t);
        db::save_run(&mut ctx.tx, from.id, to.id, ctx.user.id, ctx.now, &counts).await?;
        ctx.audit(
            "commit",
            "promotion_run",
            from.id,
            json!({"from_session": from.name, "to_session": to.name, "counts": counts,
                   "changed": changed}),
        )
        .await?;
    }
    let run = db::run(&mut ctx.tx, from.id).await?;
    Ok(CommitResult {
        from_session: (&from).into(),
        to_session: (&to).into(),
        before: t.pupils,
        promoted: t.promoted,
        repeating: t.repeating,
        graduated: t.graduating,
        left: t.leaving,
        changed: i64::try_from(changed.len()).unwrap_or(i64::MAX),
        committed_at: run.map(|r| r.committed_at).unwrap_or(ctx.now),
    })
}
