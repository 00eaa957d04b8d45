//! The figures printed on one pupil's report card, gathered once and rendered twice
//! (HTML page and A4 PDF). Nothing here touches the database.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Where a pupil stands in a subject they take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SubjectStatus {
    /// A score in every component.
    Complete,
    /// Some components scored, others still empty: outstanding.
    Partial,
    /// Absent from the exam (ABS).
    Absent,
    /// Taken, nothing entered yet: outstanding.
    Missing,
}

impl SubjectStatus {
    pub fn is_outstanding(self) -> bool {
        matches!(self, Self::Partial | Self::Missing)
    }
}

/// Everything a report card shows; built by `assessment::results` for one pupil.
#[derive(Debug, Clone, Serialize)]
pub struct ReportCard {
    pub school: SchoolHeader,
    pub pupil: PupilHeader,
    pub period: Period,
    /// `None` while the school keeps no attendance for the term: shown as "not recorded".
    pub attendance: Option<Attendance>,
    /// Names of the assessment components in column order, e.g. ["CA1", "CA2", "Exam"]; a
    /// subject whose exam used different components shows them in its own `scores`.
    pub components: Vec<ComponentHeader>,
    pub subjects: Vec<SubjectLine>,
    pub overall: Overall,
    /// Present on a third-term card when the school computes cumulative results.
    pub cumulative: Option<CumulativeSummary>,
    pub ratings: Vec<RatingGroup>,
    pub comments: Vec<CommentLine>,
    pub grading_key: Vec<GradeKey>,
    pub settings: CardSettings,
}

#[derive(Debug, Clone, Serialize)]
pub struct SchoolHeader {
    pub name: String,
    pub address: String,
    pub motto: String,
    /// Raw image bytes (PNG/JPEG/WebP) when the school has a logo.
    #[serde(skip)]
    pub logo: Option<Vec<u8>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PupilHeader {
    pub full_name: String,
    pub admission_no: String,
    pub class_name: String,
    /// "Female" / "Male".
    pub sex: String,
    /// Age in whole years at the end of the term, when the date of birth is known.
    pub age: Option<i32>,
    /// Raw image bytes (PNG/JPEG/WebP) when the pupil has a photo.
    #[serde(skip)]
    pub photo: Option<Vec<u8>>,
    /// Number of pupils in the class ("position 3 out of 41").
    pub class_size: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Period {
    /// e.g. "2025/2026".
    pub session: String,
    /// e.g. "First Term".
    pub term: String,
    pub term_starts: NaiveDate,
    pub term_ends: NaiveDate,
    pub next_term_begins: Option<NaiveDate>,
    /// The exam session's name, e.g. "First Term Examination".
    pub exam_session: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Attendance {
    pub times_opened: i64,
    pub present: i64,
    pub absent: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ComponentHeader {
    pub name: String,
    pub max_score: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct SubjectLine {
    pub subject: String,
    /// One entry per `ReportCard::components` column; `None` = no mark entered.
    pub scores: Vec<Option<f64>>,
    /// Complete, partly entered, absent (ABS) or missing.
    pub status: SubjectStatus,
    /// `None` when absent or nothing is entered.
    pub total: Option<f64>,
    /// Grade and remark of the term's total; empty without one.
    pub grade: String,
    pub remark: String,
    /// Competition rank within the class for this subject (1, 1, 3).
    pub position: Option<i64>,
    pub class_average: f64,
    pub highest: f64,
    pub lowest: f64,
    /// Third term only: earlier terms' totals and the cumulative figure.
    pub term_totals: Option<[Option<f64>; 3]>,
    pub cumulative: Option<f64>,
    /// The grade of the cumulative figure.
    pub cumulative_grade: Option<String>,
    /// Optional remark of the subject teacher.
    pub teacher_remark: Option<String>,
}

impl SubjectLine {
    /// The total as printed: the figure, "20*" when partly entered (its remark says
    /// incomplete), "ABS" for an absent pupil, a dash when missing.
    pub fn total_text(&self) -> String {
        total_text(self.status, self.total)
    }
}

/// A subject total as printed: the figure, "20*" when partly entered, "ABS" for an absent
/// pupil, a dash when missing.
pub fn total_text(status: SubjectStatus, total: Option<f64>) -> String {
    match (status, total) {
        (SubjectStatus::Absent, _) => "ABS".to_owned(),
        // Partly entered: the sum so far, marked as not final.
        (SubjectStatus::Partial, Some(t)) => format!("{}*", format_score(t)),
        (_, Some(t)) => format_score(t),
        (_, None) => "–".to_owned(),
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Overall {
    pub total: f64,
    pub average: f64,
    pub subjects_taken: i64,
    /// Subjects whose marks are missing or partly entered.
    pub outstanding: i64,
    pub position: Option<i64>,
    /// No position yet: marks are outstanding and the head has not confirmed the results.
    pub position_withheld: bool,
    pub out_of: i64,
    pub grade: String,
    pub remark: String,
    pub class_average: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct CumulativeSummary {
    /// "Average of the three terms" or "Weighted 20/30/50".
    pub method: String,
    pub average: f64,
    pub position: Option<i64>,
    pub grade: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct RatingGroup {
    /// "Affective traits" / "Psychomotor skills".
    pub title: String,
    /// (trait, rating 1–5 or None when not rated)
    pub items: Vec<(String, Option<i16>)>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CommentLine {
    /// "Class teacher's comment", "Head teacher's comment".
    pub title: String,
    pub text: String,
    /// Who wrote it, when known.
    pub by: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct GradeKey {
    pub grade: String,
    pub min_score: f64,
    /// Upper end shown on the key: the next band's minimum less a half mark, or 100.
    pub max_score: f64,
    pub remark: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct CardSettings {
    pub show_position: bool,
    pub show_class_stats: bool,
}

/// "74.5", "75", "8.25": marks without needless trailing zeros.
pub fn format_score(value: f64) -> String {
    // `+ 0.0` turns -0 (an empty float sum) into 0.
    let rounded = (value * 100.0).round() / 100.0 + 0.0;
    let text = format!("{rounded:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// "1st", "2nd", "3rd", "11th", "22nd".
pub fn ordinal(n: i64) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}
