//! Attendance figures from the registers: a pupil's term (as report cards print it, "times
//! school opened, present, absent"), a class's term and weeks, and the pupils to watch.
//!
//! Everything is counted over *slots*: a school day of the term (no closure, no weekend
//! unless the school opened, nothing after today) times the registers a day, for each day
//! the pupil was on a register of the term's session (from admission and registration, to
//! the day they left). A pupil who moved arm has each day counted once, on the register
//! they were on that day; a pupil admitted mid-term is not counted absent before.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use sqlx::{FromRow, PgConnection};
use utoipa::{IntoParams, ToSchema};

use crate::{
    error::{AppError, AppResult},
    students::names::LIST_NAME,
};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PupilSummaryQuery {
    /// The pupil (student id).
    pub student: i64,
    /// The term.
    pub term: i64,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ClassSummaryQuery {
    /// The academic class (an arm in the term's session).
    pub academic_class: i64,
    /// The term.
    pub term: i64,
}

/// Counts over a set of slots.
#[derive(Debug, Clone, Default, Serialize, ToSchema, PartialEq)]
pub struct Tally {
    /// Slots: school days × registers a day while the pupil (or, for a class, each pupil)
    /// was on a register. For one pupil this is "times school opened".
    pub times_opened: i64,
    /// Marked present (late included).
    pub present: i64,
    /// Of `present`, marked late.
    pub late: i64,
    /// Marked absent, excused or not.
    pub absent: i64,
    /// Of `absent`, excused.
    pub excused: i64,
    /// Slots with no mark (a register not taken, or the pupil left unmarked).
    pub not_marked: i64,
    /// `present` ÷ `times_opened` × 100, one decimal; null when nothing was open yet.
    pub percentage: Option<f64>,
}

impl Tally {
    fn add(&mut self, counts_as: Option<&str>) {
        self.times_opened += 1;
        match counts_as {
            Some("present") => self.present += 1,
            Some("late") => {
                self.present += 1;
                self.late += 1;
            }
            Some("absent") => self.absent += 1,
            Some("excused") => {
                self.absent += 1;
                self.excused += 1;
            }
            _ => self.not_marked += 1,
        }
    }

    fn finish(mut self) -> Self {
        self.percentage = (self.times_opened > 0)
            .then(|| (1000.0 * self.present as f64 / self.times_opened as f64).round() / 10.0);
        self
    }

    /// Whether any register counted here was taken.
    pub fn any_marked(&self) -> bool {
        self.not_marked < self.times_opened
    }

    /// Present ÷ marked registers × 100: registers not taken do not count against a pupil
    /// when deciding whom to watch.
    fn marked_percentage(&self) -> Option<f64> {
        let marked = self.present + self.absent;
        (marked > 0).then(|| (1000.0 * self.present as f64 / marked as f64).round() / 10.0)
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PupilTermSummary {
    pub student_id: i64,
    pub admission_no: String,
    pub full_name: String,
    pub term_id: i64,
    #[serde(flatten)]
    pub tally: Tally,
    /// The longest run of absences (excused or not) in a row, in registers; unmarked
    /// registers neither break nor extend a run.
    pub longest_absence_run: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WeekSummary {
    /// The Monday of the week.
    pub week_of: NaiveDate,
    #[serde(flatten)]
    pub tally: Tally,
}

/// A pupil the school asked to hear about: absent too many registers in a row, or present
/// too little this term.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WatchEntry {
    pub student_id: i64,
    pub full_name: String,
    pub longest_absence_run: i64,
    /// Present ÷ the registers taken that marked the pupil × 100 (registers not taken do
    /// not count against a pupil here).
    pub percentage: Option<f64>,
    /// Why the pupil is listed, in words.
    pub why: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ClassTermSummary {
    pub academic_class: i64,
    pub class_name: String,
    pub term_id: i64,
    pub term_name: String,
    /// Registers a day.
    pub periods: i16,
    /// The term's school days up to today.
    pub school_days: i64,
    /// Registers taken (a day and period with at least one mark).
    pub registers_taken: i64,
    /// The class as a whole: percentage = present marks ÷ (pupils × registers).
    #[serde(flatten)]
    pub tally: Tally,
    /// Present marks ÷ marks given × 100: the class's attendance on the registers taken.
    pub percentage_of_taken: Option<f64>,
    pub weeks: Vec<WeekSummary>,
    pub pupils: Vec<PupilTermSummary>,
    /// Pupils absent `watch_run` registers in a row, or present at under `watch_percentage` %
    /// of the registers taken this term.
    pub watch: Vec<WatchEntry>,
    pub watch_run: i16,
    pub watch_percentage: i16,
}

#[derive(FromRow)]
struct Slot {
    student_id: i64,
    admission_no: String,
    full_name: String,
    last_name_key: String,
    first_name_key: String,
    day: NaiveDate,
    period: i16,
    counts_as: Option<String>,
}

struct TermInfo {
    name: String,
    session_id: i64,
}

async fn term(conn: &mut PgConnection, term_id: i64) -> AppResult<TermInfo> {
    let row: Option<(String, i64)> =
        sqlx::query_as("SELECT name, session_id FROM terms WHERE id = $1")
            .bind(term_id)
            .fetch_optional(conn)
            .await?;
    let (name, session_id) =
        row.ok_or_else(|| AppError::NotFound("There is no such term.".into()))?;
    Ok(TermInfo { name, session_id })
}

/// The term's school days up to `today`.
const SCHOOL_DAYS: &str = "
    SELECT d::date AS day FROM terms t,
           generate_series(t.starts_on, LEAST(t.ends_on, $1::date), '1 day') d
     WHERE t.id = $2
       AND (extract(isodow FROM d) < 6
            OR EXISTS (SELECT 1 FROM weekend_openings w WHERE w.day = d::date))
       AND NOT EXISTS (SELECT 1 FROM closures c WHERE d::date BETWEEN c.starts_on AND c.ends_on)";

/// Every slot of the term for the pupils in scope (a class's, or one pupil's), with the
/// mark if any, ordered by pupil, day, period.
async fn slots(
    conn: &mut PgConnection,
    term_id: i64,
    today: NaiveDate,
    academic_class: Option<i64>,
    students: Option<&[i64]>,
) -> sqlx::Result<Vec<Slot>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "WITH days AS ({SCHOOL_DAYS}),
              -- A VALUES list, not generate_series: the planner then expects two rows,
              -- not a thousand.
              periods AS (SELECT p.period FROM (VALUES (1::smallint), (2::smallint)) p(period)
                           WHERE p.period <= (SELECT attendance_periods FROM general_settings WHERE id = 1)),
              regs AS (
                SELECT r.id, r.student_id, r.registered_on, r.left_on, r.is_current,
                       s.admission_date, s.admission_no, {LIST_NAME} AS full_name,
                       s.last_name_key, s.first_name_key
                  FROM registrations r
                  JOIN students s ON s.id = r.student_id
                  JOIN terms t ON t.id = $2 AND t.session_id = r.session_id
                 WHERE ($3::bigint IS NULL OR r.academic_class_id = $3)
                   AND ($4::bigint[] IS NULL OR r.student_id = ANY($4)))
         SELECT DISTINCT ON (regs.student_id, days.day, periods.period)
                regs.student_id, regs.admission_no, regs.full_name, regs.last_name_key,
                regs.first_name_key, days.day, periods.period, c.counts_as
           FROM regs
           JOIN days ON days.day >= regs.registered_on AND days.day >= regs.admission_date
                    AND ((regs.left_on IS NULL AND regs.is_current) OR regs.left_on > days.day)
          CROSS JOIN periods
           LEFT JOIN attendance_marks m
                  ON m.registration_id = regs.id AND m.day = days.day AND m.period = periods.period
           LEFT JOIN attendance_codes c ON c.id = m.code_id
          -- Integers only: sorting thousands of rows by names under a collation cost more
          -- than the rest of the query. Pupils are put in register order afterwards.
          ORDER BY regs.student_id, days.day, periods.period, m.marked_at DESC NULLS LAST"
    )))
    .bind(today)
    .bind(term_id)
    .bind(academic_class)
    .bind(students)
    .fetch_all(conn)
    .await
}

/// Per pupil, in register order (surname, first name).
fn by_pupil(slots: &[Slot], term_id: i64) -> Vec<PupilTermSummary> {
    let mut keys: std::collections::HashMap<i64, (&str, &str)> = std::collections::HashMap::new();
    let mut pupils: Vec<PupilTermSummary> = Vec::new();
    let mut run = 0;
    for slot in slots {
        if pupils
            .last()
            .is_none_or(|p| p.student_id != slot.student_id)
        {
            if let Some(done) = pupils.last_mut() {
                done.tally = std::mem::take(&mut done.tally).finish();
            }
            keys.insert(
                slot.student_id,
                (slot.last_name_key.as_str(), slot.first_name_key.as_str()),
            );
            pupils.push(PupilTermSummary {
                student_id: slot.student_id,
                admission_no: slot.admission_no.clone(),
                full_name: slot.full_name.clone(),
                term_id,
                tally: Tally::default(),
                longest_absence_run: 0,
            });
            run = 0;
        }
        let Some(pupil) = pupils.last_mut() else {
            continue;
        };
        pupil.tally.add(slot.counts_as.as_deref());
        match slot.counts_as.as_deref() {
            Some("absent" | "excused") => {
                run += 1;
                pupil.longest_absence_run = pupil.longest_absence_run.max(run);
            }
            Some(_) => run = 0,
            None => {}
        }
    }
    if let Some(done) = pupils.last_mut() {
        done.tally = std::mem::take(&mut done.tally).finish();
    }
    pupils.sort_by(|a, b| {
        (keys.get(&a.student_id), a.student_id).cmp(&(keys.get(&b.student_id), b.student_id))
    });
    pupils
}

/// One pupil's figures for one term, counted up to `today` (the whole term once it ended),
/// over every arm they were in that session.
pub async fn pupil_term(
    conn: &mut PgConnection,
    student_id: i64,
    term_id: i64,
    today: NaiveDate,
) -> AppResult<PupilTermSummary> {
    term(conn, term_id).await?;
    let slots = slots(conn, term_id, today, None, Some(&[student_id])).await?;
    Ok(by_pupil(&slots, term_id)
        .pop()
        .unwrap_or_else(|| PupilTermSummary {
            student_id,
            admission_no: String::new(),
            full_name: String::new(),
            term_id,
            tally: Tally::default(),
            longest_absence_run: 0,
        }))
}

/// The term's figures of every pupil who was in `academic_class`, keyed by student, counted
/// over all their arms that session (what their report cards print).
pub async fn class_pupils_term(
    conn: &mut PgConnection,
    academic_class: i64,
    term_id: i64,
    today: NaiveDate,
) -> AppResult<BTreeMap<i64, Tally>> {
    let students: Vec<i64> = sqlx::query_scalar(
        "SELECT DISTINCT student_id FROM registrations WHERE academic_class_id = $1",
    )
    .bind(academic_class)
    .fetch_all(&mut *conn)
    .await?;
    let slots = slots(conn, term_id, today, None, Some(&students)).await?;
    Ok(by_pupil(&slots, term_id)
        .into_iter()
        .map(|p| (p.student_id, p.tally))
        .collect())
}

/// A class's term: the class as a whole, week by week, each pupil, and the pupils to watch.
pub async fn class_term(
    conn: &mut PgConnection,
    academic_class: i64,
    term_id: i64,
    today: NaiveDate,
) -> AppResult<ClassTermSummary> {
    let term_info = term(conn, term_id).await?;
    let class: Option<(String, i64)> = sqlx::query_as(
        "SELECT c.name, ac.session_id FROM academic_classes ac JOIN classes c ON c.id = ac.class_id
          WHERE ac.id = $1",
    )
    .bind(academic_class)
    .fetch_optional(&mut *conn)
    .await?;
    let (class_name, session_id) = class.ok_or_else(AppError::not_found)?;
    if session_id != term_info.session_id {
        return Err(AppError::field(
            "term",
            format!("{class_name} is a class of another session than this term."),
        ));
    }
    let (periods, watch_run, watch_percentage): (i16, i16, i16) = sqlx::query_as(
        "SELECT attendance_periods, attendance_watch_run, attendance_watch_percentage
           FROM general_settings WHERE id = 1",
    )
    .fetch_one(&mut *conn)
    .await?;
    let school_days: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT count(*) FROM ({SCHOOL_DAYS}) d"
    )))
    .bind(today)
    .bind(term_id)
    .fetch_one(&mut *conn)
    .await?;
    let slots = slots(conn, term_id, today, Some(academic_class), None).await?;

    let mut tally = Tally::default();
    let mut weeks: BTreeMap<NaiveDate, Tally> = BTreeMap::new();
    let mut taken = std::collections::BTreeSet::new();
    for slot in &slots {
        tally.add(slot.counts_as.as_deref());
        let monday =
            slot.day - chrono::Duration::days(slot.day.weekday().num_days_from_monday().into());
        weeks
            .entry(monday)
            .or_default()
            .add(slot.counts_as.as_deref());
        if slot.counts_as.is_some() {
            taken.insert((slot.day, slot.period));
        }
    }
    let pupils = by_pupil(&slots, term_id);
    let watch = pupils
        .iter()
        .filter_map(|p| {
            let mut why = Vec::new();
            if watch_run > 0 && p.longest_absence_run >= i64::from(watch_run) {
                why.push(format!(
                    "absent {} registers in a row",
                    p.longest_absence_run
                ));
            }
            if let Some(pct) = p.tally.marked_percentage()
                && pct < f64::from(watch_percentage)
            {
                why.push(format!("present at {pct}% of the registers taken"));
            }
            (!why.is_empty()).then(|| WatchEntry {
                student_id: p.student_id,
                full_name: p.full_name.clone(),
                longest_absence_run: p.longest_absence_run,
                percentage: p.tally.marked_percentage(),
                why: why.join("; "),
            })
        })
        .collect();
    Ok(ClassTermSummary {
        academic_class,
        class_name,
        term_id,
        term_name: term_info.name,
        periods,
        school_days,
        registers_taken: taken.len() as i64,
        percentage_of_taken: tally.marked_percentage(),
        tally: tally.finish(),
        weeks: weeks
            .into_iter()
            .map(|(week_of, t)| WeekSummary {
                week_of,
                tally: t.finish(),
            })
            .collect(),
        pupils,
        watch,
        watch_run,
        watch_percentage,
    })
}

/// What a pupil's page shows of attendance: the current term so far, the latest absence
/// events and the latest corrections.
pub struct PupilOverview {
    /// (term name, figures) while a term is current.
    pub term: Option<(String, Tally)>,
    pub absences: Vec<super::absences::AbsenceEvent>,
    pub corrections: Vec<super::registers::HistoryEntry>,
}

/// How many absence events and corrections the pupil's page lists.
const OVERVIEW_SHOWN: usize = 10;

pub async fn pupil_overview(
    conn: &mut PgConnection,
    student_id: i64,
    today: NaiveDate,
) -> AppResult<PupilOverview> {
    let current: Option<(i64, String)> =
        sqlx::query_as("SELECT id, name FROM terms WHERE is_current LIMIT 1")
            .fetch_optional(&mut *conn)
            .await?;
    let term = match current {
        Some((id, name)) => Some((name, pupil_term(conn, student_id, id, today).await?.tally)),
        None => None,
    };
    let mut absences = super::absences::of_pupil(conn, student_id).await?;
    absences.truncate(OVERVIEW_SHOWN);
    let mut corrections = super::registers::history(conn, student_id).await?;
    corrections.truncate(OVERVIEW_SHOWN);
    Ok(PupilOverview {
        term,
        absences,
        corrections,
    })
}
