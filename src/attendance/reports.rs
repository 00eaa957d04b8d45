//! Attendance figures: a pupil's term, as report cards print it ("times school opened,
//! present, absent").

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use sqlx::{FromRow, PgConnection};
use utoipa::{IntoParams, ToSchema};

use crate::error::{AppError, AppResult};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SummaryQuery {
    /// The pupil (student id).
    pub student: i64,
    /// The term.
    pub term: i64,
}

#[derive(Debug, Serialize, FromRow, ToSchema)]
pub struct PupilTermSummary {
    pub student_id: i64,
    pub term_id: i64,
    /// School days of the term so far (up to today) times registers a day.
    pub times_opened: i64,
    /// Marked present (late included).
    pub present: i64,
    /// Of `present`, marked late.
    pub late: i64,
    /// Marked absent, excused or not.
    pub absent: i64,
    /// Of `absent`, excused.
    pub excused: i64,
    /// Registers of the term with no mark for the pupil.
    pub not_marked: i64,
    /// `present` ÷ `times_opened` × 100, one decimal; null before the term's first day.
    pub percentage: Option<f64>,
}

/// One pupil's figures for one term, counted up to `today` (the whole term once it ended).
pub async fn pupil_term(
    conn: &mut PgConnection,
    student_id: i64,
    term_id: i64,
    today: NaiveDate,
) -> AppResult<PupilTermSummary> {
    let found: Option<PupilTermSummary> = sqlx::query_as(
        "WITH t AS (SELECT id, starts_on, LEAST(ends_on, $3::date) AS until FROM terms WHERE id = $2),
              days AS (
                SELECT d::date AS day FROM t, generate_series(t.starts_on, t.until, '1 day') d
                 WHERE (extract(isodow FROM d) < 6
                        OR EXISTS (SELECT 1 FROM weekend_openings w WHERE w.day = d::date))
                   AND NOT EXISTS (SELECT 1 FROM closures c WHERE d::date BETWEEN c.starts_on AND c.ends_on)),
              opened AS (
                SELECT count(*) * (SELECT attendance_periods FROM general_settings WHERE id = 1) AS n
                  FROM days),
              marks AS (
                SELECT c.counts_as FROM attendance_marks m
                  JOIN attendance_codes c ON c.id = m.code_id
                  JOIN registrations r ON r.id = m.registration_id
                  JOIN t ON m.day BETWEEN t.starts_on AND t.until
                 WHERE r.student_id = $1)
         SELECT $1::bigint AS student_id, t.id AS term_id, opened.n AS times_opened,
                count(*) FILTER (WHERE counts_as IN ('present', 'late')) AS present,
                count(*) FILTER (WHERE counts_as = 'late') AS late,
                count(*) FILTER (WHERE counts_as IN ('absent', 'excused')) AS absent,
                count(*) FILTER (WHERE counts_as = 'excused') AS excused,
                GREATEST(opened.n - count(counts_as), 0) AS not_marked,
                CASE WHEN opened.n > 0 THEN round(100.0 * count(*) FILTER (WHERE counts_as IN ('present', 'late')) / opened.n, 1)::float8 END AS percentage
           FROM t CROSS JOIN opened LEFT JOIN marks ON TRUE
          GROUP BY t.id, opened.n",
    )
    .bind(student_id)
    .bind(term_id)
    .bind(today)
    .fetch_optional(conn)
    .await?;
    found.ok_or_else(|| AppError::NotFound("There is no such term.".into()))
}
