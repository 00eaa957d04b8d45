//! Marks in and out of spreadsheets, because teachers keep CA in them: one exam's mark
//! sheet downloaded as `.xlsx` or CSV, and uploaded back. An upload is read into a grid of
//! cells, every cell checked and named ("C7"), and shown as a preview; saving goes through
//! `marks::save`, so the grid's rules apply unchanged (the subject teacher or
//! `change_marks`, the exam session open, scores in range) and it is all or nothing.
//!
//! The file's columns: admission number (the key), name (ignored), one per component,
//! ABS and remark. A column present is the truth for its cells (a blank score clears
//! it); a column left out changes nothing. Other columns (Total, Grade, a teacher's own
//! working) are ignored and listed as such in the preview.

use std::collections::{BTreeMap, HashMap};
use std::io::{Cursor, Read, Seek};

use calamine::{DataRef, Reader, Xlsx};
use rust_xlsxwriter::{
    Color, DataValidation, DataValidationRule, Format, FormatBorder, Workbook, XlsxError,
};
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::{
    card::format_score,
    exams::{Exam, ExamSession},
    marks::{self, MarkInput, MarkRow, MarkSheet},
};
use crate::http::csv_file::{neutralise, restore};
use crate::{
    context::SchoolCtx,
    error::{AppError, AppResult, FieldErrors},
};

/// Largest upload read: a class's sheet is a few tens of kilobytes.
pub const MAX_FILE_BYTES: usize = 1024 * 1024;
/// Unpacked size of an `.xlsx` (a zip of XML) beyond which it is not a mark sheet.
const MAX_UNPACKED_BYTES: u64 = 32 * 1024 * 1024;
/// Cells beyond these are refused rather than read.
const MAX_ROWS: u32 = 1000;
const MAX_COLS: u32 = 60;
/// The spreadsheet row of the column headings in a downloaded sheet (1-based).
const HEADER_ROW: u32 = 6;

/// The `.xlsx` content type.
pub const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// A file's cells as text, row by row: `rows[0][0]` is cell A1.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Grid {
    pub rows: Vec<Vec<String>>,
}

impl Grid {
    fn cell(&self, row: usize, col: usize) -> &str {
        self.rows
            .get(row)
            .and_then(|r| r.get(col))
            .map_or("", |c| c.trim())
    }

    /// The grid as CSV, cell for cell (the page carries it from preview to confirmation).
    pub fn to_csv(&self) -> String {
        let mut w = csv::WriterBuilder::new()
            .flexible(true)
            .from_writer(Vec::new());
        for row in &self.rows {
            // An empty record would be written as nothing at all and shift the rows below.
            let row: Vec<&str> = if row.is_empty() {
                vec![""]
            } else {
                row.iter().map(String::as_str).collect()
            };
            // Writing to a Vec cannot fail.
            let _ = w.write_record(&row);
        }
        String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
    }
}

/// "A", "B", … "Z", "AA": the spreadsheet name of column `col` (0-based).
pub fn column_name(col: usize) -> String {
    let mut n = col + 1;
    let mut name = Vec::new();
    while n > 0 {
        let rem = (n - 1) % 26;
        name.push(b'A' + rem as u8);
        n = (n - 1) / 26;
    }
    name.reverse();
    String::from_utf8(name).unwrap_or_default()
}

/// "C7" for row 6, column 2 (both 0-based).
pub fn cell_name(row: usize, col: usize) -> String {
    format!("{}{}", column_name(col), row + 1)
}

// ---- download ----

/// "Mathematics · JSS 1A · First Term Examination · 2025/2026".
fn exam_title(exam: &Exam, es: &ExamSession) -> String {
    format!(
        "{} · {} · {} · {}",
        exam.subject_name, exam.class_name, es.name, es.session_name
    )
}

/// A file name for the sheet: "marks JSS-1A Mathematics First-Term 2025-2026.xlsx".
pub fn file_name(exam: &Exam, es: &ExamSession, extension: &str) -> String {
    let stem = super::broadsheet::safe_file_stem(&format!(
        "marks {} {} {} {}",
        exam.class_name, exam.subject_name, es.term_name, es.session_name
    ));
    format!("{stem}.{extension}")
}

const INSTRUCTIONS: &str = "Enter scores in whole or half marks. Put ABS in the ABS column for a pupil absent from the exam. A blank score is no score (it clears one saved before). Keep the admission numbers as they are. Then upload the file on the mark sheet page.";

/// The heading of a component's column: "CA1 (20)".
fn component_heading(name: &str, max: f64) -> String {
    format!("{name} ({})", format_score(max))
}

/// The sheet's cells as text: what the CSV holds and the `.xlsx` shows (numbers as numbers).
fn sheet_rows(sheet: &MarkSheet, es: &ExamSession) -> Vec<Vec<String>> {
    let exam = &sheet.exam;
    let mut rows = vec![
        vec!["Schoolyard mark sheet".to_owned()],
        vec!["Exam".to_owned(), exam_title(exam, es)],
        vec!["Exam id".to_owned(), exam.id.to_string()],
        vec!["How to fill it".to_owned(), INSTRUCTIONS.to_owned()],
        vec![],
    ];
    let mut head = vec!["Admission no".to_owned(), "Name".to_owned()];
    head.extend(
        exam.components
            .iter()
            .map(|c| component_heading(&c.name, c.max_score)),
    );
    head.extend(["ABS", "Remark", "Total"].map(String::from));
    rows.push(head);
    for r in &sheet.rows {
        let mut row = vec![r.admission_no.clone(), r.full_name.clone()];
        row.extend(exam.components.iter().map(|c| {
            r.scores
                .get(&c.name)
                .copied()
                .flatten()
                .map(format_score)
                .unwrap_or_default()
        }));
        row.push(if r.absent {
            "ABS".into()
        } else {
            String::new()
        });
        row.push(r.teacher_remark.clone());
        row.push(r.total.map(format_score).unwrap_or_default());
        rows.push(row);
    }
    rows
}

/// The mark sheet as CSV (UTF-8 with a byte-order mark, which Excel needs to read names
/// with accents correctly).
pub fn to_csv(sheet: &MarkSheet, es: &ExamSession) -> Vec<u8> {
    let grid = Grid {
        rows: sheet_rows(sheet, es)
            .into_iter()
            .map(|row| row.iter().map(|c| neutralise(c).into_owned()).collect())
            .collect(),
    };
    let mut bytes = "\u{feff}".as_bytes().to_vec();
    bytes.extend_from_slice(grid.to_csv().as_bytes());
    bytes
}

/// The mark sheet as a workbook: the same cells as the CSV, scores as numbers, Excel's own
/// check on each score column (0 to the component's maximum), a live Total.
pub fn to_xlsx(sheet: &MarkSheet, es: &ExamSession) -> Result<Vec<u8>, XlsxError> {
    let exam = &sheet.exam;
    let rows = sheet_rows(sheet, es);
    let mut book = Workbook::new();
    let ws = book.add_worksheet();
    let name: String = format!("{} {}", exam.class_name, exam.subject_name)
        .chars()
        .filter(|c| !"[]:*?/\\'".contains(*c))
        .take(31)
        .collect();
    ws.set_name(name.trim())?;
    // A pupil without scores has a blank total, not 0, until the program recalculates
    // (LibreOffice does not, by default, on opening).
    ws.set_formula_result_default("");
    let bold = Format::new().set_bold();
    let head = Format::new()
        .set_bold()
        .set_background_color(Color::RGB(0xE6E6EB))
        .set_border(FormatBorder::Thin);
    let muted = Format::new()
        .set_font_color(Color::RGB(0x606068))
        .set_italic();
    let header = (HEADER_ROW - 1) as usize;
    let n = exam.components.len() as u16;
    let (first_score, abs_col, remark_col, total_col) = (2u16, 2 + n, 3 + n, 4 + n);
    for (r, row) in rows.iter().enumerate() {
        let is_pupil = r > header;
        for (c, text) in row.iter().enumerate() {
            let (r32, c16) = (r as u32, c as u16);
            if r == header {
                ws.write_string_with_format(r32, c16, text, &head)?;
            } else if r < header && c == 0 {
                ws.write_string_with_format(r32, c16, text, &bold)?;
            } else if r == 3 {
                ws.write_string_with_format(r32, c16, text, &muted)?;
            } else if r == 2 && c == 1 {
                ws.write_number(r32, c16, exam.id as f64)?;
            } else if is_pupil && (first_score..abs_col).contains(&c16) && !text.is_empty() {
                match text.parse::<f64>() {
                    Ok(v) => ws.write_number(r32, c16, v)?,
                    Err(_) => ws.write_string(r32, c16, text)?,
                };
            } else if is_pupil && c16 == total_col {
                // A live total of the score columns, with today's value cached.
                let range = format!(
                    "{}{}:{}{}",
                    column_name(first_score as usize),
                    r + 1,
                    column_name(abs_col as usize - 1),
                    r + 1
                );
                let formula = format!("=IF(COUNT({range})=0,\"\",SUM({range}))");
                ws.write_formula(
                    r32,
                    c16,
                    rust_xlsxwriter::Formula::new(formula).set_result(text),
                )?;
            } else if !text.is_empty() {
                ws.write_string(r32, c16, text)?;
            }
        }
    }
    let last = (rows.len().max(header + 2) - 1) as u32;
    let first = HEADER_ROW;
    for (k, c) in exam.components.iter().enumerate() {
        let check = DataValidation::new()
            .allow_decimal_number(DataValidationRule::Between(0.0, c.max_score))
            .set_error_title("Not a score")?
            .set_error_message(format!(
                "{} takes a number from 0 to {}.",
                c.name,
                format_score(c.max_score)
            ))?;
        ws.add_data_validation(
            first,
            first_score + k as u16,
            last,
            first_score + k as u16,
            &check,
        )?;
    }
    let abs = DataValidation::new().allow_list_strings(&["ABS"])?;
    ws.add_data_validation(first, abs_col, last, abs_col, &abs)?;
    ws.set_column_width(0, 16)?;
    ws.set_column_width(1, 30)?;
    for c in first_score..abs_col {
        ws.set_column_width(c, 10)?;
    }
    ws.set_column_width(abs_col, 6)?;
    ws.set_column_width(remark_col, 30)?;
    ws.set_column_width(total_col, 8)?;
    ws.set_freeze_panes(HEADER_ROW, 2)?;
    book.save_to_buffer()
}

// ---- reading an upload ----

/// Reads an uploaded file: an `.xlsx` workbook (its first sheet) or CSV text (comma,
/// semicolon or tab separated; UTF-8, or Windows-1252 as older Excel saves it).
pub fn read_file(bytes: &[u8]) -> AppResult<Grid> {
    if bytes.is_empty() {
        return Err(AppError::field("file", "The file is empty."));
    }
    if bytes.starts_with(b"PK\x03\x04") {
        return read_xlsx(bytes);
    }
    if bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0]) {
        return Err(AppError::field(
            "file",
            "This is an old Excel file (.xls): save it as .xlsx (Excel Workbook) or CSV and upload that.",
        ));
    }
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text.to_owned(),
        Err(_) => encoding_rs::WINDOWS_1252.decode(bytes).0.into_owned(),
    };
    if text.contains('\0') {
        return Err(AppError::field(
            "file",
            "The file is neither an .xlsx workbook nor CSV text.",
        ));
    }
    // The separator is the one under which the sheet's headings can be found.
    let grids: Vec<Grid> = [b',', b';', b'\t']
        .into_iter()
        .map(|d| read_csv(&text, d))
        .collect::<AppResult<_>>()?;
    let found = grids.iter().position(|g| find_header(g).is_some());
    let mut grids = grids;
    Ok(grids.swap_remove(found.unwrap_or(0)))
}

/// CSV text (as carried from the preview to the confirmation) read with `delimiter`.
pub fn read_csv(text: &str, delimiter: u8) -> AppResult<Grid> {
    let text = text.trim_start_matches('\u{feff}');
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(text.as_bytes());
    let mut rows = Vec::new();
    for record in reader.records() {
        let record =
            record.map_err(|_| AppError::field("file", "The file is not a readable CSV."))?;
        if rows.len() >= MAX_ROWS as usize {
            return Err(too_big());
        }
        if record.len() > MAX_COLS as usize {
            return Err(too_big());
        }
        rows.push(
            record
                .iter()
                // The `'` the export put before a would-be formula goes again.
                .map(|c| restore(c.trim()).to_owned())
                .collect(),
        );
    }
    Ok(Grid { rows })
}

fn too_big() -> AppError {
    AppError::field(
        "file",
        format!(
            "The sheet is larger than a mark sheet ({MAX_ROWS} rows, {MAX_COLS} columns at most): upload the downloaded mark sheet with the marks in it."
        ),
    )
}

fn unreadable() -> AppError {
    AppError::field(
        "file",
        "The .xlsx file could not be read; save it again from the spreadsheet program, or save it as CSV.",
    )
}

fn read_xlsx(bytes: &[u8]) -> AppResult<Grid> {
    // A few kilobytes of zip can unpack to gigabytes: add up the sizes the archive declares
    // (the zip reader refuses to unpack more than an entry declares).
    let mut archive = ::zip::ZipArchive::new(Cursor::new(bytes)).map_err(|_| unreadable())?;
    let mut unpacked: u64 = 0;
    for i in 0..archive.len() {
        let entry = archive.by_index_raw(i).map_err(|_| unreadable())?;
        unpacked = unpacked.saturating_add(entry.size());
    }
    if unpacked > MAX_UNPACKED_BYTES {
        return Err(too_big());
    }
    let mut book: Xlsx<_> = Xlsx::new(Cursor::new(bytes)).map_err(|_| unreadable())?;
    let first = book
        .sheet_names()
        .into_iter()
        .next()
        .ok_or_else(unreadable)?;
    read_cells(&mut book, &first)
}

fn read_cells<RS: Read + Seek>(book: &mut Xlsx<RS>, sheet: &str) -> AppResult<Grid> {
    let mut cells = book
        .worksheet_cells_reader(sheet)
        .map_err(|_| unreadable())?;
    let mut rows: Vec<Vec<String>> = Vec::new();
    while let Some(cell) = cells.next_cell().map_err(|_| unreadable())? {
        let text = cell_text(cell.get_value());
        if text.is_empty() {
            continue;
        }
        let (row, col) = cell.get_position();
        if row >= MAX_ROWS || col >= MAX_COLS {
            return Err(too_big());
        }
        let (row, col) = (row as usize, col as usize);
        if rows.len() <= row {
            rows.resize(row + 1, Vec::new());
        }
        if let Some(r) = rows.get_mut(row) {
            if r.len() <= col {
                r.resize(col + 1, String::new());
            }
            if let Some(c) = r.get_mut(col) {
                *c = text;
            }
        }
    }
    Ok(Grid { rows })
}

/// A cell as text: numbers as the shortest decimal (a formula's 14.499999999 reads 14.5),
/// dates and errors as something no score parses from.
fn cell_text(value: &DataRef<'_>) -> String {
    match value {
        DataRef::Int(n) => n.to_string(),
        DataRef::Float(f) => {
            let rounded = (f * 1_000_000.0).round() / 1_000_000.0 + 0.0;
            format!("{rounded}")
        }
        DataRef::String(s) => s.trim().to_owned(),
        DataRef::SharedString(s) => s.trim().to_owned(),
        DataRef::Bool(b) => if *b { "TRUE" } else { "FALSE" }.to_owned(),
        DataRef::DateTime(d) => format!("(date {})", d.as_f64()),
        DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => format!("(date {s})"),
        DataRef::Error(e) => format!("#{e}"),
        DataRef::Empty => String::new(),
    }
}

// ---- checking an upload ----

/// One pupil's row of the upload as the preview shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MarkImportRow {
    /// The spreadsheet row (1-based, as the spreadsheet program numbers it).
    pub row: usize,
    pub admission_no: String,
    /// The pupil's name as the school has it (empty when the admission number is unknown).
    pub full_name: String,
    /// What saving would change, e.g. "CA1: 12 → 14".
    pub changes: Vec<String>,
    /// Problems in this row's cells, each starting with the cell, e.g. "C7: …".
    pub errors: Vec<String>,
}

/// What an upload would do (or did), and what is wrong with it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MarkImport {
    pub exam_id: i64,
    /// "Mathematics · JSS 1A · First Term Examination · 2025/2026".
    pub exam: String,
    /// The columns read, e.g. ["CA1", "CA2", "Exam", "ABS", "Remark"].
    pub columns: Vec<String>,
    /// Columns left alone, e.g. ["G: Total"].
    pub ignored_columns: Vec<String>,
    pub rows: Vec<MarkImportRow>,
    /// Pupils read from the file.
    pub total: usize,
    /// Scores, ABS marks and remarks that change.
    pub changes: usize,
    /// Cell (e.g. "C7", or "file") → problems. Nothing is saved while there is any.
    pub errors: FieldErrors,
    /// Whether the marks were saved: false for a preview, or when anything is wrong.
    pub saved: bool,
}

/// Check only, or check and save.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Preview,
    Save,
}

/// What a column of the upload holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Role {
    Admission,
    /// Component index in the exam.
    Component(usize),
    Absent,
    Remark,
    /// Shown for people (name, total, grade): not read.
    Display,
}

/// Lower-case letters and digits only: "Adm. No." → "admno".
fn squash(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// A heading without a trailing "(20)" or "/20": "CA1 (20)" → "CA1".
fn heading_name(text: &str) -> &str {
    let text = text.trim();
    let cut = text
        .rfind('(')
        .filter(|_| text.ends_with(')'))
        .or_else(|| text.rfind('/'));
    match cut {
        Some(i) if i > 0 => text.get(..i).unwrap_or(text).trim(),
        _ => text,
    }
}

fn is_admission_heading(text: &str) -> bool {
    matches!(
        squash(text).as_str(),
        "admissionno"
            | "admissionnumber"
            | "admissionnos"
            | "admission"
            | "admno"
            | "admnumber"
            | "regno"
            | "studentid"
    )
}

/// The first row (within the first 20) with an admission-number heading.
fn find_header(grid: &Grid) -> Option<(usize, usize)> {
    grid.rows.iter().take(20).enumerate().find_map(|(r, row)| {
        row.iter()
            .position(|c| is_admission_heading(c))
            .map(|c| (r, c))
    })
}

/// A score as the file has it: blank (no score), ABS, or a number ("14.5", "14,5").
enum ScoreCell {
    Blank,
    Absent,
    Number(f64),
    Bad,
}

fn score_cell(text: &str) -> ScoreCell {
    let t = text.trim();
    if t.is_empty() {
        return ScoreCell::Blank;
    }
    if matches!(squash(t).as_str(), "abs" | "absent") {
        return ScoreCell::Absent;
    }
    let number = if t.contains(',') && !t.contains('.') {
        t.replace(',', ".")
    } else {
        t.to_owned()
    };
    match number.parse::<f64>() {
        Ok(v) if v.is_finite() => ScoreCell::Number(v),
        _ => ScoreCell::Bad,
    }
}

/// An ABS cell: blank (or no) for present, ABS (or yes, x, a tick) for absent.
fn absent_cell(text: &str) -> Option<bool> {
    match text.trim() {
        "✓" | "✔" => return Some(true),
        "-" | "–" => return Some(false),
        _ => {}
    }
    match squash(text).as_str() {
        "" | "no" | "n" | "false" | "0" => Some(false),
        "abs" | "absent" | "yes" | "y" | "x" | "true" | "1" => Some(true),
        _ => None,
    }
}

/// Where one saved row's cells are in the file, to name the cells of `marks::save`'s
/// problems.
struct Places {
    row: usize,
    who: String,
    admission: usize,
    /// Component name → column.
    components: HashMap<String, usize>,
    absent: Option<usize>,
    remark: Option<usize>,
}

/// Reads, checks and (in `Mode::Save`, when nothing is wrong) saves the marks of `grid`
/// for exam `exam_id`. Problems come back in the preview's `errors`, keyed by cell; the
/// caller commits only when `saved` is true. The permission and open-session checks of
/// `marks::save` come first, as a 403 or 409.
pub async fn import(
    ctx: &mut SchoolCtx,
    exam_id: i64,
    grid: &Grid,
    mode: Mode,
) -> AppResult<MarkImport> {
    let (sheet, es, _) = marks::sheet_in_session(ctx, exam_id).await?;
    let exam = &sheet.exam;
    if !marks::may_enter(ctx, exam) {
        return Err(AppError::Forbidden(format!(
            "You do not teach {} in {}; only staff allowed to change marks may upload its marks.",
            exam.subject_name, exam.class_name
        )));
    }
    marks::ensure_open(&es, exam)?;

    let mut preview = MarkImport {
        exam_id,
        exam: exam_title(exam, &es),
        columns: Vec::new(),
        ignored_columns: Vec::new(),
        rows: Vec::new(),
        total: 0,
        changes: 0,
        errors: FieldErrors::new(),
        saved: false,
    };
    let Some((header, _)) = find_header(grid) else {
        return Err(AppError::field(
            "file",
            "No heading row with \"Admission no\" was found: upload the mark sheet downloaded from this page, with its headings.",
        ));
    };
    check_exam_id(grid, header, exam)?;

    // The columns.
    let mut roles: Vec<Option<Role>> = Vec::new();
    let heads = grid.rows.get(header).cloned().unwrap_or_default();
    let width = grid.rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut seen: HashMap<Role, usize> = HashMap::new();
    for col in 0..width {
        let text = heads.get(col).map_or("", |h| h.trim());
        let name = squash(heading_name(text));
        let whole = squash(text);
        let role = if is_admission_heading(text) {
            Some(Role::Admission)
        } else if let Some(k) = exam.components.iter().position(|c| {
            let c = squash(&c.name);
            !c.is_empty() && (c == name || c == whole)
        }) {
            Some(Role::Component(k))
        } else {
            match name.as_str() {
                "abs" | "absent" => Some(Role::Absent),
                "remark" | "remarks" | "teacherremark" | "teachersremark" | "subjectremark"
                | "comment" => Some(Role::Remark),
                "name" | "names" | "pupil" | "student" | "fullname" | "pupilname"
                | "studentname" | "surname" | "firstname" | "lastname" | "othernames" | "total"
                | "grade" | "sn" | "no" | "position" | "pos" => Some(Role::Display),
                _ => None,
            }
        };
        match role {
            Some(Role::Display) => {}
            Some(r) => {
                if let Some(first) = seen.get(&r) {
                    preview
                        .errors
                        .entry(cell_name(header, col))
                        .or_default()
                        .push(format!(
                            "\"{text}\" is a second {} column (the first is column {}); delete one of them.",
                            match r {
                                Role::Admission => "admission number",
                                Role::Absent => "ABS",
                                Role::Remark => "remark",
                                _ => "score",
                            },
                            column_name(*first)
                        ));
                } else {
                    seen.insert(r, col);
                }
            }
            None => {
                let has_values = grid
                    .rows
                    .iter()
                    .skip(header + 1)
                    .any(|r| r.get(col).is_some_and(|c| !c.trim().is_empty()));
                if !text.is_empty() || has_values {
                    let label = if text.is_empty() {
                        "(no heading)"
                    } else {
                        text
                    };
                    preview
                        .ignored_columns
                        .push(format!("{}: {label}", column_name(col)));
                }
            }
        }
        roles.push(role);
    }
    let Some(&adm_col) = seen.get(&Role::Admission) else {
        return Err(AppError::field("file", "No admission number column."));
    };
    let comp_cols: Vec<(usize, usize)> = exam
        .components
        .iter()
        .enumerate()
        .filter_map(|(k, _)| seen.get(&Role::Component(k)).map(|c| (k, *c)))
        .collect();
    let abs_col = seen.get(&Role::Absent).copied();
    let remark_col = seen.get(&Role::Remark).copied();
    preview.columns = comp_cols
        .iter()
        .filter_map(|(k, _)| exam.components.get(*k).map(|c| c.name.clone()))
        .collect();
    preview.columns.extend(abs_col.map(|_| "ABS".to_owned()));
    preview
        .columns
        .extend(remark_col.map(|_| "Remark".to_owned()));
    if preview.columns.is_empty() {
        let names: Vec<&str> = exam.components.iter().map(|c| c.name.as_str()).collect();
        return Err(AppError::field(
            "file",
            format!(
                "Nothing to read: no column is headed with a component of this exam ({}), ABS or Remark.",
                names.join(", ")
            ),
        ));
    }

    // The pupils.
    let by_admission: HashMap<String, &MarkRow> = sheet
        .rows
        .iter()
        .map(|r| (r.admission_no.trim().to_lowercase(), r))
        .collect();
    let mut first_row_of: HashMap<String, usize> = HashMap::new();
    let mut inputs: Vec<MarkInput> = Vec::new();
    let mut places: Vec<Places> = Vec::new();
    for (r, row) in grid.rows.iter().enumerate().skip(header + 1) {
        if row.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        let adm = grid.cell(r, adm_col).to_owned();
        let mut line = MarkImportRow {
            row: r + 1,
            admission_no: adm.clone(),
            full_name: String::new(),
            changes: Vec::new(),
            errors: Vec::new(),
        };
        let mut bad = |line: &mut MarkImportRow, col: usize, message: String| {
            let cell = cell_name(r, col);
            line.errors.push(format!("{cell}: {message}"));
            preview.errors.entry(cell).or_default().push(message);
        };
        if adm.is_empty() {
            bad(
                &mut line,
                adm_col,
                "no admission number, but the row has other cells filled.".into(),
            );
            preview.rows.push(line);
            continue;
        }
        let key = adm.to_lowercase();
        let Some(pupil) = by_admission.get(&key) else {
            bad(
                &mut line,
                adm_col,
                format!(
                    "{adm} is not on this mark sheet: no such pupil in {}, or one who does not take {}.",
                    exam.class_name, exam.subject_name
                ),
            );
            preview.rows.push(line);
            continue;
        };
        line.full_name = pupil.full_name.clone();
        if let Some(first) = first_row_of.get(&key) {
            bad(
                &mut line,
                adm_col,
                format!("{adm} is also on row {first}; keep one row per pupil."),
            );
            preview.rows.push(line);
            continue;
        }
        first_row_of.insert(key, r + 1);
        let who = format!("{} ({adm})", pupil.full_name);

        let mut scores: BTreeMap<String, Value> = BTreeMap::new();
        let mut absent_in_scores = false;
        let mut place = Places {
            row: r,
            who: who.clone(),
            admission: adm_col,
            components: HashMap::new(),
            absent: abs_col,
            remark: remark_col,
        };
        for &(k, col) in &comp_cols {
            let Some(c) = exam.components.get(k) else {
                continue;
            };
            place.components.insert(c.name.clone(), col);
            let text = grid.cell(r, col);
            let value = match score_cell(text) {
                ScoreCell::Blank => None,
                ScoreCell::Absent => {
                    absent_in_scores = true;
                    place.absent = place.absent.or(Some(col));
                    None
                }
                ScoreCell::Number(v) => Some(v),
                ScoreCell::Bad => {
                    bad(
                        &mut line,
                        col,
                        format!(
                            "{who}, {}: \"{text}\" is not a score (a number from 0 to {}, or blank).",
                            c.name,
                            format_score(c.max_score)
                        ),
                    );
                    continue;
                }
            };
            let before = pupil.scores.get(&c.name).copied().flatten();
            if before != value {
                line.changes.push(format!(
                    "{}: {} → {}",
                    c.name,
                    before.map_or_else(|| "–".to_owned(), format_score),
                    value.map_or_else(|| "cleared".to_owned(), format_score)
                ));
            }
            scores.insert(c.name.clone(), value.map_or(Value::Null, |v| json!(v)));
        }
        let absent = match abs_col {
            Some(col) => match absent_cell(grid.cell(r, col)) {
                Some(a) => Some(a || absent_in_scores),
                None => {
                    bad(
                        &mut line,
                        col,
                        format!(
                            "{who}: \"{}\" in the ABS column; write ABS or leave it blank.",
                            grid.cell(r, col)
                        ),
                    );
                    None
                }
            },
            None => absent_in_scores.then_some(true),
        };
        if let Some(a) = absent
            && a != pupil.absent
        {
            line.changes.push(if a {
                "ABS: no → yes".to_owned()
            } else {
                "ABS: yes → no".to_owned()
            });
        }
        let remark = remark_col.map(|col| grid.cell(r, col).to_owned());
        if let Some(text) = &remark
            && text != pupil.teacher_remark.trim()
        {
            line.changes.push(if text.is_empty() {
                "Remark removed".to_owned()
            } else {
                format!("Remark: \"{text}\"")
            });
        }
        preview.changes += line.changes.len();
        inputs.push(MarkInput {
            registration: pupil.registration,
            scores,
            teacher_remark: remark,
            absent,
            // The upload is checked in its preview (which shows every change) and confirmed.
            seen: None,
            seen_teacher_remark: None,
            seen_absent: None,
        });
        places.push(place);
        preview.rows.push(line);
    }
    preview.total = preview.rows.len();
    if preview.total == 0 {
        return Err(AppError::field(
            "file",
            "The file has no pupils under its headings.",
        ));
    }

    // The grid's own rules, through the very function the grid saves with. A preview (or a
    // file with bad cells) runs it inside a savepoint that is rolled back.
    if !inputs.is_empty() {
        let keep = mode == Mode::Save && preview.errors.is_empty();
        if !keep {
            sqlx::query("SAVEPOINT mark_sheet_check")
                .execute(&mut *ctx.tx)
                .await?;
        }
        let outcome = marks::save(ctx, exam_id, &inputs).await;
        if !keep {
            sqlx::query("ROLLBACK TO SAVEPOINT mark_sheet_check")
                .execute(&mut *ctx.tx)
                .await?;
        }
        match outcome {
            Ok(_) => {}
            Err(AppError::Validation { errors, .. }) => {
                for (field, messages) in errors {
                    for message in messages {
                        let (cell, text, row) = place_of(&field, &message, &places);
                        if let Some(line) = preview.rows.iter_mut().find(|l| Some(l.row) == row) {
                            line.errors.push(format!("{cell}: {text}"));
                        }
                        preview.errors.entry(cell).or_default().push(text);
                    }
                }
            }
            Err(other) => return Err(other),
        }
        if keep && preview.errors.is_empty() {
            preview.saved = true;
            ctx.audit(
                "import",
                "marks",
                exam_id,
                json!({
                    "exam": format!("{} {}", exam.class_name, exam.subject_name),
                    "pupils": preview.total,
                    "changes": preview.changes,
                }),
            )
            .await?;
        }
    }
    Ok(preview)
}

/// The cell `marks::save`'s `rows[i].…` field points at, its message with the pupil in
/// place of "Row i" (which counts the rows sent, not the spreadsheet's rows), and the
/// spreadsheet row (1-based); "file" for a problem with no cell.
fn place_of(field: &str, message: &str, places: &[Places]) -> (String, String, Option<usize>) {
    let text = match message.split_once(": ") {
        Some((head, rest)) if head.starts_with("Row ") => rest,
        _ => message,
    };
    let parsed = field.strip_prefix("rows[").and_then(|rest| {
        let (index, path) = rest.split_once(']')?;
        Some((index.parse::<usize>().ok()?, path.trim_start_matches('.')))
    });
    let Some((index, path)) = parsed else {
        return ("file".to_owned(), text.to_owned(), None);
    };
    let Some(place) = places.get(index) else {
        return ("file".to_owned(), text.to_owned(), None);
    };
    let col = if let Some(component) = path.strip_prefix("scores.") {
        place.components.get(component).copied()
    } else {
        match path {
            "absent" => place.absent,
            "teacher_remark" => place.remark,
            _ => None,
        }
    }
    .unwrap_or(place.admission);
    (
        cell_name(place.row, col),
        format!("{}: {text}", place.who),
        Some(place.row + 1),
    )
}

/// A sheet made for another exam is refused as a whole: its scores belong elsewhere.
fn check_exam_id(grid: &Grid, header: usize, exam: &Exam) -> AppResult<()> {
    for (r, row) in grid.rows.iter().enumerate().take(header) {
        if row.first().is_some_and(|c| squash(c) == "examid") {
            let given = grid.cell(r, 1);
            let Ok(id) = given.parse::<f64>() else {
                continue;
            };
            if id != exam.id as f64 {
                return Err(AppError::field(
                    "file",
                    format!(
                        "This file is the mark sheet of another exam (exam id {given} in cell B{}); this page is {} · {} (exam id {}). Upload it on its own exam's page, or copy the scores into this exam's sheet.",
                        r + 1,
                        exam.subject_name,
                        exam.class_name,
                        exam.id
                    ),
                ));
            }
        }
    }
    Ok(())
}
