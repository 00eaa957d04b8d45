//! The broadsheet a results meeting uses: a class's results as `results` computed them
//! (never recomputed here), with abbreviated subject names and the meeting's summary
//! (per-subject pass rate and grade distribution, top pupils). Written as an `.xlsx`
//! workbook here and as a landscape PDF by `pdf::render_broadsheet`.

use std::collections::HashMap;

use chrono::DateTime;
use rust_xlsxwriter::{Color, Format, FormatAlign, FormatBorder, Workbook, Worksheet, XlsxError};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use sqlx::PgConnection;

use super::{
    card::{SubjectStatus, format_score, ordinal},
    config::{self, GradingScale},
    exams::ExamSession,
    results::{self, ClassResults, PupilResult},
};
use crate::{
    academics::db as academics,
    error::{AppError, AppResult},
};

/// How many pupils the summary lists as the top of the class (more when positions tie).
pub const TOP_PUPILS: i64 = 5;

/// Everything the broadsheet shows.
#[derive(Debug, Clone)]
pub struct Broadsheet {
    pub school: String,
    pub exam_session: ExamSession,
    pub results: ClassResults,
    /// Abbreviated subject names, in the order of `results.subjects`.
    pub codes: Vec<String>,
    pub summary: MeetingSummary,
    /// On the school's clock.
    pub generated_at: DateTime<chrono_tz::Tz>,
}

/// What a results meeting looks at first: each subject's pass rate and grade distribution,
/// the same over the pupils' averages, and the top pupils.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MeetingSummary {
    pub exam_session_id: i64,
    pub academic_class_id: i64,
    pub class_name: String,
    /// Pupils of the results (the N of "position out of N").
    pub pupils: i64,
    pub class_average: f64,
    /// Pupils whose position is withheld because marks are outstanding.
    pub positions_withheld: i64,
    /// The lowest total that passes: the minimum of the band above the lowest band (40, E8,
    /// on the WAEC scale). Null when the scale has a single band.
    pub pass_mark: Option<f64>,
    /// The lowest passing grade, e.g. "E8".
    pub pass_grade: Option<String>,
    /// The scale's grades, highest first: the order of every `grades` list below.
    pub grades: Vec<String>,
    pub subjects: Vec<SubjectSummary>,
    /// The pupils' overall averages: how many passed and how they spread over the grades.
    pub overall: Distribution,
    /// Pupils placed 1st to 5th (more when positions tie), best first.
    pub top_pupils: Vec<TopPupil>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SubjectSummary {
    pub exam_id: i64,
    pub subject_id: i64,
    pub subject_name: String,
    /// The abbreviation printed on the broadsheet, e.g. "MTH".
    pub code: String,
    /// Absent from the exam (ABS).
    pub absent: i64,
    /// Taking the subject with marks missing or partly entered.
    pub outstanding: i64,
    pub average: Option<f64>,
    pub highest: Option<f64>,
    pub lowest: Option<f64>,
    #[serde(flatten)]
    pub distribution: Distribution,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Distribution {
    /// Pupils with a figure (a subject total, or an average): the base of the rate.
    pub counted: i64,
    pub passed: i64,
    /// Per cent of `counted`, one decimal place; null when nobody is counted or the scale
    /// has no pass mark.
    pub pass_rate: Option<f64>,
    /// One count per grade of the scale, highest grade first.
    pub grades: Vec<GradeCount>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GradeCount {
    #[schema(example = "A1")]
    pub grade: String,
    pub count: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TopPupil {
    pub position: i64,
    pub registration: i64,
    pub admission_no: String,
    pub full_name: String,
    pub total: f64,
    pub average: Option<f64>,
    pub grade: Option<String>,
}

/// `?academic_class=` and, for the PDF, the paper.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BroadsheetQuery {
    /// The academic class.
    pub academic_class: i64,
    /// PDF only: `a4` or `a3` (landscape). Left out, A4 unless the subjects need A3.
    #[param(pattern = "^(a4|a3)$")]
    pub paper: Option<String>,
}

/// Paper of the broadsheet PDF, always landscape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paper {
    A4,
    A3,
}

impl BroadsheetQuery {
    /// The paper asked for, if any; anything but `a4`/`a3` is a 422 naming the parameter.
    pub fn paper(&self) -> AppResult<Option<Paper>> {
        match self
            .paper
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("") | Some("auto") => Ok(None),
            Some("a4") => Ok(Some(Paper::A4)),
            Some("a3") => Ok(Some(Paper::A3)),
            Some(_) => Err(AppError::field("paper", "Choose a4 or a3.")),
        }
    }
}

/// Loads the class's results and builds the broadsheet (the caller has checked that the
/// class belongs to the exam session's academic session).
pub async fn load(
    conn: &mut PgConnection,
    school: &str,
    es: ExamSession,
    academic_class_id: i64,
    now: DateTime<chrono_tz::Tz>,
) -> Result<Broadsheet, sqlx::Error> {
    let results = results::class_results(conn, &es, academic_class_id).await?;
    let (scale, _) = config::for_exam_session(conn, es.id).await?;
    let codes: HashMap<i64, String> = academics::subjects(conn)
        .await?
        .into_iter()
        .map(|s| (s.id, s.code))
        .collect();
    let codes = results
        .subjects
        .iter()
        .map(|s| {
            abbreviation(
                codes.get(&s.subject_id).map(String::as_str),
                &s.subject_name,
            )
        })
        .collect::<Vec<_>>();
    let summary = summarise(&results, &codes, &scale);
    Ok(Broadsheet {
        school: school.to_owned(),
        exam_session: es,
        results,
        codes,
        summary,
        generated_at: now,
    })
}

/// The subject's code, or the first three letters of its name when it has none.
fn abbreviation(code: Option<&str>, name: &str) -> String {
    match code.map(str::trim).filter(|c| !c.is_empty()) {
        Some(code) => code.to_uppercase(),
        None => name
            .chars()
            .filter(|c| c.is_alphanumeric())
            .take(3)
            .collect::<String>()
            .to_uppercase(),
    }
}

/// Counts grades the results already hold; nothing is recomputed.
pub fn summarise(results: &ClassResults, codes: &[String], scale: &GradingScale) -> MeetingSummary {
    let grades: Vec<String> = scale.bands.iter().map(|b| b.grade.clone()).collect();
    // The lowest band is the fail band: every grade above it passes.
    let pass_band = (scale.bands.len() > 1)
        .then(|| scale.bands.get(scale.bands.len() - 2))
        .flatten();
    let fail_grade = pass_band.and(scale.bands.last()).map(|b| b.grade.as_str());
    let distribution = |figures: Vec<Option<&str>>| {
        let counted: Vec<&str> = figures.into_iter().flatten().collect();
        let passed = counted.iter().filter(|g| Some(**g) != fail_grade).count() as i64;
        let n = counted.len() as i64;
        Distribution {
            counted: n,
            passed,
            pass_rate: (n > 0 && fail_grade.is_some())
                .then(|| (passed as f64 * 1000.0 / n as f64).round() / 10.0),
            grades: grades
                .iter()
                .map(|g| GradeCount {
                    grade: g.clone(),
                    count: counted.iter().filter(|c| **c == g.as_str()).count() as i64,
                })
                .collect(),
        }
    };
    let subjects = results
        .subjects
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let lines: Vec<_> = results
                .pupils
                .iter()
                .filter_map(|p| p.subjects.iter().find(|l| l.exam_id == s.exam_id))
                .collect();
            SubjectSummary {
                exam_id: s.exam_id,
                subject_id: s.subject_id,
                subject_name: s.subject_name.clone(),
                code: codes.get(i).cloned().unwrap_or_default(),
                absent: lines
                    .iter()
                    .filter(|l| l.status == SubjectStatus::Absent)
                    .count() as i64,
                outstanding: lines.iter().filter(|l| l.status.is_outstanding()).count() as i64,
                average: s.average,
                highest: s.highest,
                lowest: s.lowest,
                // The pupils the subject's figures count: those with a total.
                distribution: distribution(
                    lines
                        .iter()
                        .filter(|l| l.total.is_some())
                        .map(|l| l.grade.as_deref())
                        .collect(),
                ),
            }
        })
        .collect();
    let overall = distribution(
        results
            .pupils
            .iter()
            .filter(|p| p.average.is_some())
            .map(|p| p.grade.as_deref())
            .collect(),
    );
    let mut top: Vec<&PupilResult> = results
        .pupils
        .iter()
        .filter(|p| p.position.is_some_and(|n| n <= TOP_PUPILS))
        .collect();
    top.sort_by_key(|p| (p.position, p.full_name.to_lowercase()));
    MeetingSummary {
        exam_session_id: results.exam_session_id,
        academic_class_id: results.academic_class_id,
        class_name: results.class_name.clone(),
        pupils: results.out_of,
        class_average: results.class_average,
        positions_withheld: results.positions_withheld,
        pass_mark: pass_band.map(|b| b.min_score),
        pass_grade: pass_band.map(|b| b.grade.clone()),
        grades,
        subjects,
        overall,
        top_pupils: top
            .into_iter()
            .map(|p| TopPupil {
                position: p.position.unwrap_or_default(),
                registration: p.registration,
                admission_no: p.admission_no.clone(),
                full_name: p.full_name.clone(),
                total: p.total,
                average: p.average,
                grade: p.grade.clone(),
            })
            .collect(),
    }
}

impl Broadsheet {
    /// "JSS 1A · First Term Examination · 2025/2026".
    pub fn title(&self) -> String {
        format!(
            "{} · {} · {}",
            self.results.class_name, self.exam_session.name, self.exam_session.session_name
        )
    }

    /// A file name without characters a browser or a file system might object to.
    pub fn file_name(&self, extension: &str) -> String {
        let stem = format!(
            "broadsheet {} {} {}",
            self.results.class_name, self.exam_session.term_name, self.exam_session.session_name
        );
        format!("{}.{extension}", safe_file_stem(&stem))
    }

    /// "Pass mark 40 (E8 and above)", or "" without one.
    pub fn pass_mark_text(&self) -> String {
        match (&self.summary.pass_mark, &self.summary.pass_grade) {
            (Some(mark), Some(grade)) => {
                format!("Pass mark {} ({grade} and above)", format_score(*mark))
            }
            _ => String::new(),
        }
    }

    /// "Positions out of 41, ranked by average; equal figures share a position."
    pub fn ranking_text(&self) -> String {
        format!(
            "Positions out of {}, ranked by {} (equal figures share a position).",
            self.results.out_of, self.results.rank_by
        )
    }

    pub fn has_cumulative(&self) -> bool {
        self.results.cumulative_method != "none"
    }
}

/// What a pupil's subject cell shows: the total (with `*` while components are empty),
/// ABS, "–" for a mark not yet entered, blank for a subject not taken.
pub fn cell_text(pupil: &PupilResult, exam_id: i64) -> (String, Option<String>) {
    match pupil.subjects.iter().find(|s| s.exam_id == exam_id) {
        None => (String::new(), None),
        Some(s) => match (s.status, s.total) {
            (SubjectStatus::Absent, _) => ("ABS".into(), None),
            (SubjectStatus::Partial, Some(t)) => (format!("{}*", format_score(t)), s.grade.clone()),
            (_, Some(t)) => (format_score(t), s.grade.clone()),
            (_, None) => ("–".into(), None),
        },
    }
}

/// A pupil's position as printed: "3rd", "w/h" while withheld, "–" without one.
pub fn position_text(pupil: &PupilResult) -> String {
    if pupil.position_withheld {
        "w/h".into()
    } else {
        pupil.position.map(ordinal).unwrap_or_else(|| "–".into())
    }
}

/// Letters, digits, `-` and `_` kept; runs of anything else become one `-`.
pub fn safe_file_stem(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let out = out.trim_matches('-').to_owned();
    if out.is_empty() { "sheet".into() } else { out }
}

// ---- the workbook ----

const HEAD_FILL: u32 = 0xE6E6EB;
const OUTSTANDING_FILL: u32 = 0xFFF2CC;

/// The broadsheet as a workbook: sheet "Broadsheet" (every pupil, every subject, the
/// subject statistics) and sheet "Summary" (the meeting summary). Figures are numbers, so
/// a teacher can sort and sum them.
pub fn workbook(b: &Broadsheet) -> Result<Vec<u8>, XlsxError> {
    let mut book = Workbook::new();
    broadsheet_sheet(book.add_worksheet(), b)?;
    summary_sheet(book.add_worksheet(), b)?;
    book.save_to_buffer()
}

fn broadsheet_sheet(ws: &mut Worksheet, b: &Broadsheet) -> Result<(), XlsxError> {
    let r = &b.results;
    ws.set_name("Broadsheet")?;
    ws.set_landscape()
        .set_paper_size(9)
        .set_print_fit_to_pages(1, 0);
    let title = Format::new().set_bold().set_font_size(14);
    let head = Format::new()
        .set_bold()
        .set_background_color(Color::RGB(HEAD_FILL))
        .set_border(FormatBorder::Thin)
        .set_align(FormatAlign::Center)
        .set_align(FormatAlign::VerticalCenter)
        .set_text_wrap();
    let cell = Format::new().set_border(FormatBorder::Thin);
    let number = cell.clone();
    let centred = cell.clone().set_align(FormatAlign::Center);
    let outstanding = centred
        .clone()
        .set_background_color(Color::RGB(OUTSTANDING_FILL));
    let outstanding_number = number
        .clone()
        .set_background_color(Color::RGB(OUTSTANDING_FILL));
    let label = cell.clone().set_bold();

    ws.write_string_with_format(0, 0, &b.school, &title)?;
    ws.write_string(1, 0, format!("Broadsheet · {}", b.title()))?;
    ws.write_string(
        2,
        0,
        format!(
            "{} Shaded: marks outstanding. ABS: absent. –: no mark yet. Blank: not taken. w/h: position withheld.",
            b.ranking_text()
        ),
    )?;
    let (head1, head2) = (4, 5);
    let fixed = ["S/N", "Adm. No.", "Name"];
    for (c, text) in fixed.iter().enumerate() {
        ws.merge_range(head1, c as u16, head2, c as u16, text, &head)?;
    }
    ws.set_column_width(0, 5)?;
    ws.set_column_width(1, 14)?;
    ws.set_column_width(2, 28)?;
    let first_subject: u16 = 3;
    for (i, s) in r.subjects.iter().enumerate() {
        let c = first_subject + 2 * i as u16;
        ws.merge_range(head1, c, head1, c + 1, &s.subject_name, &head)?;
        ws.write_string_with_format(head2, c, "Score", &head)?;
        ws.write_string_with_format(head2, c + 1, "Grade", &head)?;
        ws.set_column_width(c, 8)?;
        ws.set_column_width(c + 1, 6)?;
    }
    let mut tail: Vec<&str> = vec!["Total", "Average", "Grade", "Position"];
    if b.has_cumulative() {
        tail.extend(["Cum. average", "Cum. grade", "Cum. position"]);
    }
    tail.push("Outstanding");
    let first_tail = first_subject + 2 * r.subjects.len() as u16;
    for (k, text) in tail.iter().enumerate() {
        let c = first_tail + k as u16;
        ws.merge_range(head1, c, head2, c, text, &head)?;
        ws.set_column_width(c, 10)?;
    }
    ws.set_row_height(head1, 30)?;
    ws.set_freeze_panes(head2 + 1, first_subject)?;
    ws.set_repeat_rows(head1, head2)?;

    let mut row = head2 + 1;
    for (n, p) in r.pupils.iter().enumerate() {
        ws.write_number_with_format(row, 0, (n + 1) as f64, &cell)?;
        ws.write_string_with_format(row, 1, &p.admission_no, &cell)?;
        ws.write_string_with_format(row, 2, &p.full_name, &cell)?;
        for (i, s) in r.subjects.iter().enumerate() {
            let c = first_subject + 2 * i as u16;
            let line = p.subjects.iter().find(|l| l.exam_id == s.exam_id);
            let shaded = line.is_some_and(|l| l.status.is_outstanding());
            let (num_fmt, text_fmt) = if shaded {
                (&outstanding_number, &outstanding)
            } else {
                (&number, &centred)
            };
            match line {
                None => {
                    ws.write_blank(row, c, &cell)?;
                }
                Some(l) => match (l.status, l.total) {
                    (SubjectStatus::Absent, _) => {
                        ws.write_string_with_format(row, c, "ABS", text_fmt)?;
                    }
                    (_, Some(t)) => {
                        ws.write_number_with_format(row, c, t, num_fmt)?;
                    }
                    (_, None) => {
                        ws.write_string_with_format(row, c, "–", text_fmt)?;
                    }
                },
            }
            match line.and_then(|l| l.grade.as_deref()) {
                Some(g) => ws.write_string_with_format(row, c + 1, g, text_fmt)?,
                None => ws.write_blank(row, c + 1, text_fmt)?,
            };
        }
        let mut c = first_tail;
        ws.write_number_with_format(row, c, p.total, &number)?;
        c += 1;
        optional_number(ws, row, c, p.average, &number, &centred)?;
        c += 1;
        ws.write_string_with_format(row, c, p.grade.as_deref().unwrap_or(""), &centred)?;
        c += 1;
        ws.write_string_with_format(row, c, position_text(p), &centred)?;
        c += 1;
        if b.has_cumulative() {
            optional_number(ws, row, c, p.cumulative_average, &number, &centred)?;
            ws.write_string_with_format(
                row,
                c + 1,
                p.cumulative_grade.as_deref().unwrap_or(""),
                &centred,
            )?;
            ws.write_string_with_format(
                row,
                c + 2,
                p.cumulative_position.map(ordinal).unwrap_or_default(),
                &centred,
            )?;
            c += 3;
        }
        ws.write_number_with_format(row, c, p.outstanding as f64, &number)?;
        row += 1;
    }

    // The subject statistics, under each subject's score column.
    let by_subject = |f: &dyn Fn(&SubjectSummary) -> Option<f64>| {
        b.summary.subjects.iter().map(f).collect::<Vec<_>>()
    };
    let stats: Vec<(&str, Vec<Option<f64>>)> = vec![
        (
            "With a mark",
            by_subject(&|s| Some(s.distribution.counted as f64)),
        ),
        ("Average", by_subject(&|s| s.average)),
        ("Highest", by_subject(&|s| s.highest)),
        ("Lowest", by_subject(&|s| s.lowest)),
        (
            "Passed",
            by_subject(&|s| Some(s.distribution.passed as f64)),
        ),
        ("Pass rate %", by_subject(&|s| s.distribution.pass_rate)),
    ];
    for (name, figures) in &stats {
        ws.merge_range(row, 0, row, 2, name, &label)?;
        for (i, figure) in figures.iter().enumerate() {
            let c = first_subject + 2 * i as u16;
            optional_number(ws, row, c, *figure, &number, &centred)?;
            ws.write_blank(row, c + 1, &cell)?;
        }
        if *name == "Average" {
            ws.write_number_with_format(row, first_tail + 1, r.class_average, &number)?;
        }
        row += 1;
    }
    Ok(())
}

fn optional_number(
    ws: &mut Worksheet,
    row: u32,
    col: u16,
    value: Option<f64>,
    number: &Format,
    text: &Format,
) -> Result<(), XlsxError> {
    match value {
        Some(v) => ws.write_number_with_format(row, col, v, number)?,
        None => ws.write_string_with_format(row, col, "–", text)?,
    };
    Ok(())
}

fn summary_sheet(ws: &mut Worksheet, b: &Broadsheet) -> Result<(), XlsxError> {
    let s = &b.summary;
    ws.set_name("Summary")?;
    ws.set_landscape()
        .set_paper_size(9)
        .set_print_fit_to_pages(1, 0);
    let title = Format::new().set_bold().set_font_size(14);
    let bold = Format::new().set_bold();
    let head = Format::new()
        .set_bold()
        .set_background_color(Color::RGB(HEAD_FILL))
        .set_border(FormatBorder::Thin)
        .set_align(FormatAlign::Center)
        .set_text_wrap();
    let cell = Format::new().set_border(FormatBorder::Thin);
    let number = cell.clone();
    let percent = cell.clone().set_num_format("0.0");
    let centred = cell.clone().set_align(FormatAlign::Center);

    ws.write_string_with_format(0, 0, &b.school, &title)?;
    ws.write_string(1, 0, format!("Results meeting summary · {}", b.title()))?;
    let facts: [(&str, String); 4] = [
        ("Pupils", s.pupils.to_string()),
        ("Class average", format_score(s.class_average)),
        ("Pass mark", b.pass_mark_text()),
        ("Positions withheld", s.positions_withheld.to_string()),
    ];
    for (i, (k, v)) in facts.iter().enumerate() {
        ws.write_string_with_format(3 + i as u32, 0, *k, &bold)?;
        ws.write_string(3 + i as u32, 1, v)?;
    }

    let top = 8;
    let mut heads: Vec<String> = [
        "Code",
        "Subject",
        "With a mark",
        "ABS",
        "Outstanding",
        "Average",
        "Highest",
        "Lowest",
        "Passed",
        "Pass rate %",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    heads.extend(s.grades.iter().cloned());
    for (c, h) in heads.iter().enumerate() {
        ws.write_string_with_format(top, c as u16, h, &head)?;
        ws.set_column_width(c as u16, if c == 1 { 28 } else { 9 })?;
    }
    let mut row = top + 1;
    for subject in &s.subjects {
        ws.write_string_with_format(row, 0, &subject.code, &cell)?;
        ws.write_string_with_format(row, 1, &subject.subject_name, &cell)?;
        ws.write_number_with_format(row, 2, subject.distribution.counted as f64, &number)?;
        ws.write_number_with_format(row, 3, subject.absent as f64, &number)?;
        ws.write_number_with_format(row, 4, subject.outstanding as f64, &number)?;
        optional_number(ws, row, 5, subject.average, &number, &centred)?;
        optional_number(ws, row, 6, subject.highest, &number, &centred)?;
        optional_number(ws, row, 7, subject.lowest, &number, &centred)?;
        distribution_cells(
            ws,
            row,
            8,
            &subject.distribution,
            &number,
            &percent,
            &centred,
        )?;
        row += 1;
    }
    ws.write_string_with_format(row, 0, "All", &label_of(&cell))?;
    ws.write_string_with_format(row, 1, "Pupils' averages", &label_of(&cell))?;
    ws.write_number_with_format(row, 2, s.overall.counted as f64, &number)?;
    ws.write_blank(row, 3, &cell)?;
    ws.write_blank(row, 4, &cell)?;
    ws.write_number_with_format(row, 5, s.class_average, &number)?;
    ws.write_blank(row, 6, &cell)?;
    ws.write_blank(row, 7, &cell)?;
    distribution_cells(ws, row, 8, &s.overall, &number, &percent, &centred)?;
    row += 2;

    ws.write_string_with_format(row, 0, "Top pupils", &bold)?;
    row += 1;
    for (c, h) in ["Position", "Name", "Adm. No.", "Total", "Average", "Grade"]
        .iter()
        .enumerate()
    {
        ws.write_string_with_format(row, c as u16, *h, &head)?;
    }
    row += 1;
    for p in &s.top_pupils {
        ws.write_string_with_format(row, 0, ordinal(p.position), &centred)?;
        ws.write_string_with_format(row, 1, &p.full_name, &cell)?;
        ws.write_string_with_format(row, 2, &p.admission_no, &cell)?;
        ws.write_number_with_format(row, 3, p.total, &number)?;
        optional_number(ws, row, 4, p.average, &number, &centred)?;
        ws.write_string_with_format(row, 5, p.grade.as_deref().unwrap_or(""), &centred)?;
        row += 1;
    }
    if s.top_pupils.is_empty() {
        ws.write_string(row, 0, "No positions yet.")?;
    }
    Ok(())
}

fn label_of(cell: &Format) -> Format {
    cell.clone().set_bold()
}

fn distribution_cells(
    ws: &mut Worksheet,
    row: u32,
    col: u16,
    d: &Distribution,
    number: &Format,
    percent: &Format,
    text: &Format,
) -> Result<(), XlsxError> {
    ws.write_number_with_format(row, col, d.passed as f64, number)?;
    optional_number(ws, row, col + 1, d.pass_rate, percent, text)?;
    for (k, g) in d.grades.iter().enumerate() {
        ws.write_number_with_format(row, col + 2 + k as u16, g.count as f64, number)?;
    }
    Ok(())
}
