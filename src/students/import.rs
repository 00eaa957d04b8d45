//! CSV import of students with a guardian each: parse and check every row first (the
//! preview), then create all of them in one transaction, or none.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use sqlx::PgConnection;
use utoipa::ToSchema;

use super::{db::StudentInput, guardians::GuardianInput};
use crate::error::{AppError, AppResult, FieldErrors};

pub const MAX_ROWS: usize = 5000;
pub const COLUMNS: &[&str] = &[
    "admission_no",
    "first_name",
    "last_name",
    "other_names",
    "sex",
    "date_of_birth",
    "admission_date",
    "address",
    "class",
    "guardian_name",
    "guardian_relationship",
    "guardian_phone",
    "guardian_email",
];

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ImportRow {
    /// Line in the file (the header is line 1).
    pub line: usize,
    pub admission_no: String,
    pub name: String,
    pub class: String,
    pub errors: Vec<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ImportPreview {
    pub rows: Vec<ImportRow>,
    pub total: usize,
    pub error_rows: usize,
    /// Students created (0 for a preview or when any row has a problem).
    pub created: usize,
}

/// A checked row, ready to create.
pub struct PlannedRow {
    pub input: StudentInput,
}

fn parse_date(raw: &str) -> Result<Option<NaiveDate>, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(raw, "%d/%m/%Y"))
        .map(Some)
        .map_err(|_| format!("bad date {raw:?} (use YYYY-MM-DD or DD/MM/YYYY)"))
}

/// Parses and checks the file against the school's data. Returns the preview and, when every
/// row is fine, the rows to create.
pub async fn check(
    conn: &mut PgConnection,
    csv_text: &str,
    today: NaiveDate,
) -> AppResult<(ImportPreview, Vec<PlannedRow>)> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(true)
        .from_reader(csv_text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|_| AppError::field("file", "The file is not a readable CSV."))?
        .iter()
        .map(|h| {
            h.trim()
                .trim_start_matches('\u{feff}')
                .to_lowercase()
                .replace(' ', "_")
        })
        .collect();
    let index: HashMap<&str, usize> = COLUMNS
        .iter()
        .filter_map(|c| headers.iter().position(|h| h == c).map(|i| (*c, i)))
        .collect();
    let missing: Vec<&str> = ["first_name", "last_name", "sex"]
        .into_iter()
        .filter(|c| !index.contains_key(c))
        .collect();
    if !missing.is_empty() {
        return Err(AppError::field(
            "file",
            format!(
                "The header row lacks: {}. Expected columns: {}.",
                missing.join(", "),
                COLUMNS.join(", ")
            ),
        ));
    }

    // Classes of the current session by name, and admission numbers already used.
    let classes: HashMap<String, i64> = sqlx::query_as::<_, (String, i64)>(
        "SELECT lower(c.name), ac.id FROM academic_classes ac JOIN classes c ON c.id = ac.class_id
           JOIN academic_sessions s ON s.id = ac.session_id AND s.is_current",
    )
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .collect();
    let existing: HashSet<String> =
        sqlx::query_scalar::<_, String>("SELECT lower(admission_no) FROM students")
            .fetch_all(&mut *conn)
            .await?
            .into_iter()
            .collect();

    let cc = super::guardians::country_code(conn).await?;
    let mut rows = Vec::new();
    let mut planned = Vec::new();
    let mut seen_numbers: HashMap<String, usize> = HashMap::new();
    for (i, record) in reader.records().enumerate() {
        let line = i + 2;
        if rows.len() >= MAX_ROWS {
            return Err(AppError::field(
                "file",
                format!("Import at most {MAX_ROWS} students at a time."),
            ));
        }
        let record = match record {
            Ok(r) => r,
            Err(_) => {
                rows.push(ImportRow {
                    line,
                    admission_no: String::new(),
                    name: String::new(),
                    class: String::new(),
                    errors: vec!["the line could not be read".into()],
                });
                continue;
            }
        };
        if record.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        // A cell our own export neutralised for spreadsheets ('+234…) reads as written.
        let get = |c: &str| {
            let cell = index
                .get(c)
                .and_then(|&i| record.get(i))
                .unwrap_or("")
                .trim();
            crate::http::csv_file::restore(cell).to_owned()
        };
        let mut errors = Vec::new();
        let admission_no = get("admission_no");
        let class = get("class");
        let first_name = get("first_name");
        let last_name = get("last_name");
        if first_name.is_empty() {
            errors.push("missing first name".to_owned());
        }
        if last_name.is_empty() {
            errors.push("missing last name".to_owned());
        }
        let sex = match get("sex").to_lowercase().as_str() {
            "f" | "female" => "female".to_owned(),
            "m" | "male" => "male".to_owned(),
            "" => {
                errors.push("missing sex".to_owned());
                String::new()
            }
            other => {
                errors.push(format!("sex {other:?} is not female or male"));
                String::new()
            }
        };
        let dob = parse_date(&get("date_of_birth")).unwrap_or_else(|e| {
            errors.push(format!("date of birth: {e}"));
            None
        });
        let admitted = parse_date(&get("admission_date")).unwrap_or_else(|e| {
            errors.push(format!("admission date: {e}"));
            None
        });
        if !admission_no.is_empty() {
            let key = admission_no.to_lowercase();
            if existing.contains(&key) {
                errors.push(format!(
                    "admission number {admission_no} already belongs to a student"
                ));
            } else if let Some(first) = seen_numbers.get(&key) {
                errors.push(format!(
                    "duplicate admission number {admission_no} (also on line {first})"
                ));
            } else {
                seen_numbers.insert(key, line);
            }
        }
        let academic_class_id = if class.is_empty() {
            None
        } else {
            match classes.get(&class.to_lowercase()) {
                Some(id) => Some(*id),
                None => {
                    errors.push(format!("unknown class {class:?} in the current session"));
                    None
                }
            }
        };
        let guardian_name = get("guardian_name");
        let guardians = if guardian_name.is_empty() && get("guardian_phone").is_empty() {
            None
        } else {
            let g = GuardianInput {
                student_id: None,
                full_name: Some(guardian_name),
                relationship: Some(get("guardian_relationship")),
                phone: Some(get("guardian_phone")),
                email: Some(get("guardian_email")),
                is_primary: Some(true),
            };
            for (field, msgs) in g.problems(&cc) {
                for m in msgs {
                    errors.push(format!(
                        "guardian {}: {}",
                        field.replace('_', " "),
                        m.to_lowercase()
                    ));
                }
            }
            Some(vec![g])
        };
        let input = StudentInput {
            admission_no: (!admission_no.is_empty()).then(|| admission_no.clone()),
            first_name: Some(first_name.clone()),
            last_name: Some(last_name.clone()),
            other_names: Some(get("other_names")),
            sex: Some(sex),
            date_of_birth: dob,
            address: Some(get("address")),
            status: None,
            admission_date: admitted.or(Some(today)),
            guardians,
            academic_class_id,
        };
        rows.push(ImportRow {
            line,
            admission_no,
            name: format!("{first_name} {last_name}").trim().to_owned(),
            class,
            errors,
        });
        planned.push(PlannedRow { input });
    }
    if rows.is_empty() {
        return Err(AppError::field("file", "The file has no student rows."));
    }
    let error_rows = rows.iter().filter(|r| !r.errors.is_empty()).count();
    let preview = ImportPreview {
        total: rows.len(),
        error_rows,
        rows,
        created: 0,
    };
    if error_rows > 0 {
        planned.clear();
    }
    Ok((preview, planned))
}

/// Creates every planned row; the caller's transaction makes it all-or-nothing. A row that
/// still fails (e.g. a rule checked only on create) is reported by line.
pub async fn commit(
    conn: &mut PgConnection,
    preview: &ImportPreview,
    planned: Vec<PlannedRow>,
    today: NaiveDate,
    now: DateTime<Utc>,
) -> AppResult<Vec<i64>> {
    let mut ids = Vec::with_capacity(planned.len());
    for (row, plan) in preview.rows.iter().zip(planned) {
        match super::db::create(conn, &plan.input, today, now).await {
            Ok(s) => ids.push(s.id),
            Err(AppError::Validation { errors, .. }) => {
                let messages: Vec<String> = errors
                    .into_iter()
                    .flat_map(|(f, m)| m.into_iter().map(move |m| format!("{f}: {m}")))
                    .collect();
                let mut e = FieldErrors::new();
                e.insert(format!("line {}", row.line), messages);
                return Err(AppError::Validation {
                    detail: "A row could not be imported; nothing was saved.".into(),
                    errors: e,
                });
            }
            Err(other) => return Err(other),
        }
    }
    Ok(ids)
}

/// Row problems as field errors keyed by line, for the API's 422.
pub fn preview_errors(preview: &ImportPreview) -> FieldErrors {
    preview
        .rows
        .iter()
        .filter(|r| !r.errors.is_empty())
        .map(|r| (format!("line {}", r.line), r.errors.clone()))
        .collect()
}

pub const TEMPLATE: &str = "admission_no,first_name,last_name,other_names,sex,date_of_birth,admission_date,address,class,guardian_name,guardian_relationship,guardian_phone,guardian_email\n,Chidi,Okafor,Emeka,male,2013-04-12,2025-09-08,\"12 Allen Avenue, Ikeja\",JSS 1A,Ngozi Okafor,Mother,+2348031234567,ngozi.okafor@example.com\n";
