//! A school's assessment set-up: default components, grading scale and report settings.

use serde::{Deserialize, Serialize};
use sqlx::{FromRow, PgConnection};
use utoipa::ToSchema;

use crate::error::{AppResult, Validator};

/// A component of a subject's assessment, e.g. "CA1" out of 20.
#[derive(Debug, Clone, Serialize, Deserialize, FromRow, ToSchema, PartialEq)]
pub struct Component {
    #[schema(example = "CA1")]
    pub name: String,
    #[schema(example = 20)]
    pub max_score: f64,
}

/// A grade band: from `min_score` up to the next band's minimum.
#[derive(Debug, Clone, Serialize, Deserialize, FromRow, ToSchema, PartialEq)]
pub struct GradeBand {
    #[schema(example = "A1")]
    pub grade: String,
    #[schema(example = 75)]
    pub min_score: f64,
    #[schema(example = "Excellent")]
    #[serde(default)]
    pub remark: String,
}

/// How report cards are ranked and what they show.
#[derive(Debug, Clone, Serialize, Deserialize, FromRow, ToSchema, PartialEq)]
pub struct ReportSettings {
    pub show_position: bool,
    /// Class average, highest and lowest per subject.
    pub show_class_stats: bool,
    /// `average` (over subjects taken) or `total`.
    #[schema(example = "average")]
    pub rank_by: String,
    /// Third term: `none`, `average` of the three terms, or `weighted`.
    #[schema(example = "average")]
    pub cumulative_method: String,
    pub first_term_weight: i16,
    pub second_term_weight: i16,
    pub third_term_weight: i16,
    /// A pupil absent from a subject's exam (ABS): `zero` counts it as 0 in the average,
    /// `left_out` leaves the subject out of it.
    #[schema(example = "zero")]
    #[serde(default = "absent_counts_as_zero")]
    pub absent_counts_as: String,
}

/// Sessions published before the setting existed counted nothing as ABS; zero is the default.
fn absent_counts_as_zero() -> String {
    "zero".into()
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportSettingsInput {
    pub show_position: Option<bool>,
    pub show_class_stats: Option<bool>,
    pub rank_by: Option<String>,
    pub cumulative_method: Option<String>,
    pub first_term_weight: Option<i16>,
    pub second_term_weight: Option<i16>,
    pub third_term_weight: Option<i16>,
    pub absent_counts_as: Option<String>,
}

/// The grading scale, highest band first; always has a band starting at 0.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GradingScale {
    pub bands: Vec<GradeBand>,
}

impl GradingScale {
    /// The band holding `score`: the highest band whose minimum is at or below it, so 74.5
    /// is B2 when A1 starts at 75.
    pub fn band(&self, score: f64) -> Option<&GradeBand> {
        self.bands.iter().find(|b| score >= b.min_score)
    }

    pub fn grade(&self, score: f64) -> (String, String) {
        self.band(score)
            .map(|b| (b.grade.clone(), b.remark.clone()))
            .unwrap_or_default()
    }

    /// (band, upper end shown on a key), printed the usual way: "B2 70–74" when A1 starts
    /// at 75 (a band still runs up to the next minimum, so 74.5 is B2).
    pub fn key(&self) -> Vec<(GradeBand, f64)> {
        let mut upper = 100.0;
        self.bands
            .iter()
            .map(|b| {
                let row = (b.clone(), upper);
                let step = if b.min_score.fract() == 0.0 { 1.0 } else { 0.5 };
                upper = (b.min_score - step).max(0.0);
                row
            })
            .collect()
    }
}

/// The grading scale and report settings of an exam session's results: frozen at
/// publishing, the school's current ones otherwise.
pub async fn for_exam_session(
    conn: &mut PgConnection,
    exam_session_id: i64,
) -> Result<(GradingScale, ReportSettings), sqlx::Error> {
    let (grading, report): (
        Option<sqlx::types::Json<Vec<GradeBand>>>,
        Option<sqlx::types::Json<ReportSettings>>,
    ) = sqlx::query_as("SELECT grading_snapshot, report_snapshot FROM exam_sessions WHERE id = $1")
        .bind(exam_session_id)
        .fetch_optional(&mut *conn)
        .await?
        .unwrap_or((None, None));
    let scale = match grading {
        Some(bands) => GradingScale { bands: bands.0 },
        None => grading_scale(conn).await?,
    };
    let settings = match report {
        Some(r) => r.0,
        None => report_settings(conn).await?,
    };
    Ok((scale, settings))
}

pub fn is_half_step(value: f64) -> bool {
    value.is_finite() && (value * 2.0).fract() == 0.0
}

/// Serialises changes to the assessment settings: each replaces whole lists, and two
/// overlapping saves must not merge theirs.
pub async fn lock(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT 1 FROM report_settings WHERE id = 1 FOR UPDATE")
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn components(conn: &mut PgConnection) -> Result<Vec<Component>, sqlx::Error> {
    sqlx::query_as(
        "SELECT name, max_score::float8 AS max_score FROM assessment_components ORDER BY ordinal",
    )
    .fetch_all(conn)
    .await
}

/// Checks a list of components (the school's defaults or one exam's).
pub fn validate_components(v: &mut Validator, field: &str, list: &[Component]) {
    if list.is_empty() {
        v.add(field, "Give at least one component.");
    }
    if list.len() > 8 {
        v.add(field, "At most 8 components.");
    }
    let mut seen = std::collections::HashSet::new();
    let mut total = 0.0;
    for (i, c) in list.iter().enumerate() {
        let name = c.name.trim();
        if name.is_empty() || name.chars().count() > 20 {
            v.add(
                &format!("{field}[{i}].name"),
                "Give a name of 1 to 20 characters.",
            );
        } else if !seen.insert(name.to_lowercase()) {
            v.add(
                &format!("{field}[{i}].name"),
                "Each name must be different.",
            );
        }
        if !(c.max_score > 0.0 && c.max_score <= 100.0 && is_half_step(c.max_score)) {
            v.add(
                &format!("{field}[{i}].max_score"),
                "Must be more than 0 and at most 100, in whole or half marks.",
            );
        }
        total += c.max_score;
    }
    if !list.is_empty() && (total - 100.0).abs() > f64::EPSILON {
        v.add(
            field,
            format!(
                "The maximum scores must add up to 100 (they add up to {}).",
                super::card::format_score(total)
            ),
        );
    }
}

pub async fn save_components(conn: &mut PgConnection, list: &[Component]) -> AppResult<()> {
    let mut v = Validator::new();
    validate_components(&mut v, "components", list);
    v.finish()?;
    sqlx::query("DELETE FROM assessment_components")
        .execute(&mut *conn)
        .await?;
    let names: Vec<&str> = list.iter().map(|c| c.name.trim()).collect();
    let maxima: Vec<f64> = list.iter().map(|c| c.max_score).collect();
    sqlx::query(
        "INSERT INTO assessment_components (name, max_score, ordinal)
         SELECT name, max_score, ordinal FROM UNNEST($1::text[], $2::float8[]) WITH ORDINALITY AS c(name, max_score, ordinal)",
    )
    .bind(&names)
    .bind(&maxima)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn grading_scale(conn: &mut PgConnection) -> Result<GradingScale, sqlx::Error> {
    let bands = sqlx::query_as(
        "SELECT grade, min_score::float8 AS min_score, remark FROM grade_bands ORDER BY min_score DESC",
    )
    .fetch_all(conn)
    .await?;
    Ok(GradingScale { bands })
}

pub async fn save_grading_scale(
    conn: &mut PgConnection,
    bands: &[GradeBand],
) -> AppResult<GradingScale> {
    let mut v = Validator::new();
    if bands.is_empty() || bands.len() > 20 {
        v.add("bands", "Give 1 to 20 grade bands.");
    }
    let mut grades = std::collections::HashSet::new();
    let mut mins = std::collections::HashSet::new();
    for (i, b) in bands.iter().enumerate() {
        let grade = b.grade.trim();
        if grade.is_empty() || grade.chars().count() > 5 {
            v.add(
                &format!("bands[{i}].grade"),
                "Give a grade of 1 to 5 characters.",
            );
        } else if !grades.insert(grade.to_lowercase()) {
            v.add(
                &format!("bands[{i}].grade"),
                "Each grade must be different.",
            );
        }
        if !(0.0..=100.0).contains(&b.min_score) || !is_half_step(b.min_score) {
            v.add(
                &format!("bands[{i}].min_score"),
                "Must be from 0 to 100, in whole or half marks.",
            );
        } else if !mins.insert((b.min_score * 2.0) as i64) {
            v.add(
                &format!("bands[{i}].min_score"),
                "Two bands cannot start at the same score.",
            );
        }
        if b.remark.trim().chars().count() > 40 {
            v.add(&format!("bands[{i}].remark"), "At most 40 characters.");
        }
    }
    if !bands.is_empty() && !bands.iter().any(|b| b.min_score == 0.0) {
        v.add(
            "bands",
            "The lowest band must start at 0 so every score has a grade.",
        );
    }
    v.finish()?;
    sqlx::query("DELETE FROM grade_bands")
        .execute(&mut *conn)
        .await?;
    let g: Vec<&str> = bands.iter().map(|b| b.grade.trim()).collect();
    let m: Vec<f64> = bands.iter().map(|b| b.min_score).collect();
    let r: Vec<&str> = bands.iter().map(|b| b.remark.trim()).collect();
    sqlx::query(
        "INSERT INTO grade_bands (grade, min_score, remark)
         SELECT * FROM UNNEST($1::text[], $2::float8[], $3::text[])",
    )
    .bind(&g)
    .bind(&m)
    .bind(&r)
    .execute(&mut *conn)
    .await?;
    Ok(grading_scale(conn).await?)
}

pub async fn report_settings(conn: &mut PgConnection) -> Result<ReportSettings, sqlx::Error> {
    sqlx::query_as(
        "SELECT show_position, show_class_stats, rank_by, cumulative_method,
                first_term_weight, second_term_weight, third_term_weight, absent_counts_as
         FROM report_settings WHERE id = 1",
    )
    .fetch_one(conn)
    .await
}

pub async fn save_report_settings(
    conn: &mut PgConnection,
    input: &ReportSettingsInput,
    now: chrono::DateTime<chrono::Utc>,
) -> AppResult<ReportSettings> {
    let mut s = report_settings(conn).await?;
    let mut v = Validator::new();
    if let Some(x) = input.show_position {
        s.show_position = x;
    }
    if let Some(x) = input.show_class_stats {
        s.show_class_stats = x;
    }
    if let Some(x) = &input.rank_by {
        if !matches!(x.as_str(), "average" | "total") {
            v.add("rank_by", "Choose average or total.");
        }
        s.rank_by = x.clone();
    }
    if let Some(x) = &input.cumulative_method {
        if !matches!(x.as_str(), "none" | "average" | "weighted") {
            v.add("cumulative_method", "Choose none, average or weighted.");
        }
        s.cumulative_method = x.clone();
    }
    if let Some(x) = &input.absent_counts_as {
        if !matches!(x.as_str(), "zero" | "left_out") {
            v.add("absent_counts_as", "Choose zero or left_out.");
        }
        s.absent_counts_as = x.clone();
    }
    let weights = [
        (
            "first_term_weight",
            input.first_term_weight,
            &mut s.first_term_weight,
        ),
        (
            "second_term_weight",
            input.second_term_weight,
            &mut s.second_term_weight,
        ),
        (
            "third_term_weight",
            input.third_term_weight,
            &mut s.third_term_weight,
        ),
    ];
    for (field, new, slot) in weights {
        if let Some(w) = new {
            if !(0..=100).contains(&w) {
                v.add(field, "Must be from 0 to 100.");
            }
            *slot = w;
        }
    }
    let sum = i32::from(s.first_term_weight)
        + i32::from(s.second_term_weight)
        + i32::from(s.third_term_weight);
    if sum != 100 && !v.has("first_term_weight") {
        v.add(
            "third_term_weight",
            format!("The three weights must add up to 100 (they add up to {sum})."),
        );
    }
    v.finish()?;
    sqlx::query(
        "UPDATE report_settings SET show_position = $1, show_class_stats = $2, rank_by = $3,
                cumulative_method = $4, first_term_weight = $5, second_term_weight = $6,
                third_term_weight = $7, updated_at = $8, absent_counts_as = $9 WHERE id = 1",
    )
    .bind(s.show_position)
    .bind(s.show_class_stats)
    .bind(&s.rank_by)
    .bind(&s.cumulative_method)
    .bind(s.first_term_weight)
    .bind(s.second_term_weight)
    .bind(s.third_term_weight)
    .bind(now)
    .bind(&s.absent_counts_as)
    .execute(&mut *conn)
    .await?;
    Ok(s)
}
