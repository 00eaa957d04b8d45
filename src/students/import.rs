//! CSV import of students with a guardian each. One check (`check`) reads the file and
//! collects every problem of every row at once, by the rules a single admission obeys
//! (`db::problems`, `GuardianInput::problems`, the current session's classes, admission
//! numbers unique in the file and in the school); the preview shows it, and the commit runs
//! it again inside the import's transaction before it writes anything. The commit is
//! set-based: one statement each for the students, their guardians and their class places,
//! however many rows, all or nothing in the caller's transaction.
//!
//! Through the page, the checked file waits in the school's `import_uploads` between the
//! preview and the confirmation (`stash`, `take`), so the confirm form posts a short token,
//! never the file.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use rand::Rng;
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::PgConnection;
use utoipa::ToSchema;

use super::{
    db::{self, StudentInput},
    guardians::{self, GuardianInput},
};
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
/// How long a checked upload waits for its confirmation.
pub const UPLOAD_LIFETIME: Duration = Duration::hours(1);
/// Checked uploads kept per user (an older one is dropped when a newer one arrives).
const UPLOADS_PER_USER: i64 = 5;

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

/// A row that passed every check, ready to create.
struct PlannedRow {
    admission_no: Option<String>,
    first_name: String,
    last_name: String,
    other_names: String,
    sex: String,
    date_of_birth: Option<NaiveDate>,
    address: String,
    admission_date: NaiveDate,
    academic_class_id: Option<i64>,
    guardian: Option<GuardianInput>,
}

/// The file after the check: the preview (every row, every problem) and, when no row has a
/// problem, what to create.
pub struct Checked {
    pub preview: ImportPreview,
    planned: Vec<PlannedRow>,
    /// Admission numbers already used (lower case): in the school and in the file.
    taken: HashSet<String>,
    country_code: String,
}

impl Checked {
    pub fn is_clean(&self) -> bool {
        self.preview.error_rows == 0
    }
}

/// What a commit did: created every row, or refused the file (nothing written) with every
/// row's problems.
pub enum Outcome {
    Imported(ImportPreview),
    Refused(ImportPreview),
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

/// "first_name", "This field is required." → "first name: this field is required"; a
/// message that names its field already stands alone ("the date of birth must be …").
fn row_message(prefix: &str, field: &str, message: &str) -> String {
    let message = message.trim_end_matches('.');
    let mut chars = message.chars();
    let message: String = match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    };
    let label = field.replace('_', " ");
    if prefix.is_empty() && message.contains(&label) {
        message
    } else {
        format!("{prefix}{label}: {message}")
    }
}

/// A row's problems, keyed by field so a rule checked twice (here while reading the cell,
/// and again by the admission rules) is reported once.
#[derive(Default)]
struct RowProblems {
    fields: HashSet<String>,
    messages: Vec<String>,
}

impl RowProblems {
    fn add(&mut self, field: &str, message: impl Into<String>) {
        self.fields.insert(field.to_owned());
        self.messages.push(message.into());
    }

    /// The admission rules' problems, except for fields already reported.
    fn add_rules(&mut self, problems: FieldErrors, prefix: &str) {
        for (field, messages) in problems {
            if self.fields.contains(&field) {
                continue;
            }
            for m in messages {
                self.messages.push(row_message(prefix, &field, &m));
            }
            self.fields.insert(field);
        }
    }
}

/// Reads the file and checks every row against the school's data, as the commit will.
/// Problems with the file as a whole (unreadable, no header, too many rows) are a `file`
/// field error; problems of rows are in the preview, every one of them.
pub async fn check(
    conn: &mut PgConnection,
    csv_text: &str,
    today: NaiveDate,
) -> AppResult<Checked> {
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
    let mut taken: HashSet<String> =
        sqlx::query_scalar::<_, String>("SELECT lower(admission_no) FROM students")
            .fetch_all(&mut *conn)
            .await?
            .into_iter()
            .collect();
    let country_code = guardians::country_code(conn).await?;

    let mut rows = Vec::new();
    let mut planned = Vec::new();
    let mut seen_numbers: HashMap<String, usize> = HashMap::new();
    for (i, record) in reader.records().enumerate() {
        let line = i + 2;
        if record
            .as_ref()
            .is_ok_and(|r| r.iter().all(|f| f.trim().is_empty()))
        {
            continue;
        }
        if rows.len() >= MAX_ROWS {
            return Err(AppError::field(
                "file",
                format!("Import at most {MAX_ROWS} students at a time; split the file."),
            ));
        }
        let Ok(record) = record else {
            rows.push(ImportRow {
                line,
                admission_no: String::new(),
                name: String::new(),
                class: String::new(),
                errors: vec!["the line could not be read".into()],
            });
            continue;
        };
        // A cell our own export neutralised for spreadsheets ('+234…) reads as written.
        let get = |c: &str| {
            let cell = index
                .get(c)
                .and_then(|&i| record.get(i))
                .unwrap_or("")
                .trim();
            crate::http::csv_file::restore(cell).to_owned()
        };
        let mut problems = RowProblems::default();
        let admission_no = get("admission_no");
        let class = get("class");
        let first_name = get("first_name");
        let last_name = get("last_name");
        if first_name.is_empty() {
            problems.add("first_name", "missing first name");
        }
        if last_name.is_empty() {
            problems.add("last_name", "missing last name");
        }
        let sex = match get("sex").to_lowercase().as_str() {
            "f" | "female" => "female".to_owned(),
            "m" | "male" => "male".to_owned(),
            "" => {
                problems.add("sex", "missing sex");
                String::new()
            }
            other => {
                problems.add("sex", format!("sex {other:?} is not female or male"));
                String::new()
            }
        };
        let date_of_birth = parse_date(&get("date_of_birth")).unwrap_or_else(|e| {
            problems.add("date_of_birth", format!("date of birth: {e}"));
            None
        });
        let admitted = parse_date(&get("admission_date")).unwrap_or_else(|e| {
            problems.add("admission_date", format!("admission date: {e}"));
            None
        });
        if !admission_no.is_empty() {
            let key = admission_no.to_lowercase();
            if let Some(first) = seen_numbers.get(&key) {
                problems.add(
                    "admission_no",
                    format!("duplicate admission number {admission_no} (also on line {first})"),
                );
            } else if taken.contains(&key) {
                problems.add(
                    "admission_no",
                    format!("admission number {admission_no} already belongs to a student"),
                );
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
                    problems.add(
                        "academic_class_id",
                        format!("unknown class {class:?} in the current session"),
                    );
                    None
                }
            }
        };
        let guardian_name = get("guardian_name");
        let guardian = if guardian_name.is_empty() && get("guardian_phone").is_empty() {
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
            problems.add_rules(g.problems(&country_code), "guardian ");
            Some(g)
        };
        let other_names = get("other_names");
        let address = get("address");
        let admission_date = admitted.unwrap_or(today);
        // The rules of a single admission (lengths, dates, sex), so nothing the commit would
        // refuse passes here.
        let input = StudentInput {
            admission_no: (!admission_no.is_empty()).then(|| admission_no.clone()),
            first_name: Some(first_name.clone()),
            last_name: Some(last_name.clone()),
            other_names: Some(other_names.clone()),
            sex: Some(sex.clone()),
            date_of_birth,
            address: Some(address.clone()),
            status: None,
            admission_date: Some(admission_date),
            guardians: None,
            academic_class_id: None,
        };
        problems.add_rules(db::problems(&input, today), "");
        rows.push(ImportRow {
            line,
            admission_no: admission_no.clone(),
            name: format!("{first_name} {last_name}").trim().to_owned(),
            class,
            errors: problems.messages,
        });
        planned.push(PlannedRow {
            admission_no: (!admission_no.is_empty()).then_some(admission_no),
            first_name,
            last_name,
            other_names,
            sex,
            date_of_birth,
            address,
            admission_date,
            academic_class_id,
            guardian,
        });
    }
    if rows.is_empty() {
        return Err(AppError::field("file", "The file has no student rows."));
    }
    let error_rows = rows.iter().filter(|r| !r.errors.is_empty()).count();
    if error_rows > 0 {
        planned.clear();
    }
    taken.extend(seen_numbers.into_keys());
    Ok(Checked {
        preview: ImportPreview {
            total: rows.len(),
            error_rows,
            rows,
            created: 0,
        },
        planned,
        taken,
        country_code,
    })
}

/// Checks the file again and, when every row is fine, creates every student, guardian and
/// class place with one statement each. Writes nothing when any row has a problem; the
/// caller's transaction makes the whole import all or nothing, and the caller writes the
/// audit row and commits.
pub async fn commit(
    conn: &mut PgConnection,
    csv_text: &str,
    today: NaiveDate,
    now: DateTime<Utc>,
) -> AppResult<Outcome> {
    // The settings row lock first (as a single admission takes it): admissions and other
    // imports wait, so the numbers checked as free and the ones generated stay free.
    let (pattern, mut seq): (String, i32) = sqlx::query_as(
        "SELECT admission_number_pattern, next_admission_seq FROM general_settings
          WHERE id = 1 FOR UPDATE",
    )
    .fetch_one(&mut *conn)
    .await?;
    let Checked {
        mut preview,
        planned,
        mut taken,
        country_code,
    } = check(conn, csv_text, today).await?;
    if preview.error_rows > 0 {
        return Ok(Outcome::Refused(preview));
    }

    // Blank admission numbers from the school's pattern, skipping numbers in use, as a
    // single admission does (`db::next_admission_no`), then the running number saved once.
    let start = seq;
    let mut numbers = Vec::with_capacity(planned.len());
    for row in &planned {
        let number = match &row.admission_no {
            Some(no) => no.clone(),
            None => loop {
                if seq - start > i32::try_from(MAX_ROWS).unwrap_or(i32::MAX) + 1000 {
                    return Err(AppError::Conflict(
                        "Could not find free admission numbers; check the admission number pattern."
                            .into(),
                    ));
                }
                let candidate = crate::settings::admission_number::render(
                    &pattern,
                    row.admission_date.year(),
                    seq,
                );
                seq += 1;
                if taken.insert(candidate.to_lowercase()) {
                    break candidate;
                }
            },
        };
        numbers.push(number);
    }
    if seq != start {
        sqlx::query("UPDATE general_settings SET next_admission_seq = $1 WHERE id = 1")
            .bind(seq)
            .execute(&mut *conn)
            .await?;
    }

    let column = |f: fn(&PlannedRow) -> String| planned.iter().map(f).collect::<Vec<String>>();
    let created: Vec<(i64, String)> = sqlx::query_as(
        "INSERT INTO students (admission_no, first_name, last_name, other_names, sex,
                               date_of_birth, address, admission_date, created_at, updated_at)
         SELECT u.admission_no, u.first_name, u.last_name, u.other_names, u.sex,
                u.date_of_birth, u.address, u.admission_date, $9, $9
           FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                       $6::date[], $7::text[], $8::date[])
                AS u(admission_no, first_name, last_name, other_names, sex,
                     date_of_birth, address, admission_date)
         RETURNING id, lower(admission_no)",
    )
    .bind(&numbers)
    .bind(column(|r| r.first_name.clone()))
    .bind(column(|r| r.last_name.clone()))
    .bind(column(|r| r.other_names.clone()))
    .bind(column(|r| r.sex.clone()))
    .bind(
        planned
            .iter()
            .map(|r| r.date_of_birth)
            .collect::<Vec<Option<NaiveDate>>>(),
    )
    .bind(column(|r| r.address.clone()))
    .bind(
        planned
            .iter()
            .map(|r| r.admission_date)
            .collect::<Vec<NaiveDate>>(),
    )
    .bind(now)
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| {
        AppError::from(e).on_constraint(
            "students_admission_no_key",
            "file",
            "Another student was given one of these admission numbers meanwhile; nothing was imported. Check the file again.",
        )
    })?;
    let id_of: HashMap<String, i64> = created.into_iter().map(|(id, no)| (no, id)).collect();
    let ids = numbers
        .iter()
        .map(|no| id_of.get(&no.to_lowercase()).copied())
        .collect::<Option<Vec<i64>>>()
        .ok_or_else(|| anyhow::anyhow!("an imported student's id was not returned"))?;

    // Each new pupil's guardian is their primary one, stored as a single admission stores it.
    let mut g_student = Vec::new();
    let mut g_name = Vec::new();
    let mut g_relationship = Vec::new();
    let mut g_phone = Vec::new();
    let mut g_email = Vec::new();
    for (row, id) in planned.iter().zip(&ids) {
        if let Some(g) = &row.guardian {
            let text = |v: &Option<String>| v.as_deref().unwrap_or("").trim().to_owned();
            g_student.push(*id);
            g_name.push(text(&g.full_name));
            g_relationship.push(text(&g.relationship));
            g_phone.push(
                g.phone
                    .as_deref()
                    .and_then(|p| guardians::normalise_phone(p, &country_code))
                    .unwrap_or_default(),
            );
            g_email.push(text(&g.email).to_lowercase());
        }
    }
    if !g_student.is_empty() {
        sqlx::query(
            "INSERT INTO guardians (student_id, full_name, relationship, phone, email, is_primary,
                                    created_at, updated_at)
             SELECT u.student_id, u.full_name, u.relationship, u.phone, u.email, TRUE, $6, $6
               FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[])
                    AS u(student_id, full_name, relationship, phone, email)",
        )
        .bind(&g_student)
        .bind(&g_name)
        .bind(&g_relationship)
        .bind(&g_phone)
        .bind(&g_email)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    }

    // Class places in the current session (new pupils: nothing to move or carry).
    let (r_student, r_class): (Vec<i64>, Vec<i64>) = planned
        .iter()
        .zip(&ids)
        .filter_map(|(row, id)| row.academic_class_id.map(|ac| (*id, ac)))
        .unzip();
    if !r_student.is_empty() {
        let placed = sqlx::query(
            "INSERT INTO registrations (student_id, session_id, academic_class_id, registered_on,
                                        created_at)
             SELECT u.student_id, ac.session_id, ac.id,
                    LEAST($3, GREATEST(s.admission_date, se.starts_on)), $4
               FROM unnest($1::bigint[], $2::bigint[]) AS u(student_id, academic_class_id)
               JOIN academic_classes ac ON ac.id = u.academic_class_id
               JOIN academic_sessions se ON se.id = ac.session_id
               JOIN students s ON s.id = u.student_id",
        )
        .bind(&r_student)
        .bind(&r_class)
        .bind(today)
        .bind(now)
        .execute(&mut *conn)
        .await?
        .rows_affected();
        if placed != r_student.len() as u64 {
            return Err(anyhow::anyhow!("imported pupils' classes went missing").into());
        }
    }
    preview.created = ids.len();
    Ok(Outcome::Imported(preview))
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

/// The 422 for a file with row problems: every row's problems, keyed by line.
pub fn refusal(preview: &ImportPreview) -> AppError {
    AppError::Validation {
        detail: format!(
            "{} of {} rows have problems; nothing was imported.",
            preview.error_rows, preview.total
        ),
        errors: preview_errors(preview),
    }
}

fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Keeps a checked file for `user_id` to confirm; returns the token the confirm form posts.
/// Expired uploads go, and the user's oldest beyond a handful. The caller commits.
pub async fn stash(
    conn: &mut PgConnection,
    user_id: i64,
    csv_text: &str,
    rows: usize,
    now: DateTime<Utc>,
) -> AppResult<String> {
    sqlx::query("DELETE FROM import_uploads WHERE expires_at <= $1")
        .bind(now)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "DELETE FROM import_uploads WHERE user_id = $1 AND token_hash NOT IN (
             SELECT token_hash FROM import_uploads WHERE user_id = $1
              ORDER BY created_at DESC LIMIT $2)",
    )
    .bind(user_id)
    .bind(UPLOADS_PER_USER - 1)
    .execute(&mut *conn)
    .await?;
    let mut bytes = [0u8; 32];
    rand::rng().fill(&mut bytes[..]);
    let token = hex::encode(bytes);
    sqlx::query(
        "INSERT INTO import_uploads (token_hash, user_id, csv_text, row_count, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(token_hash(&token))
    .bind(user_id)
    .bind(csv_text)
    .bind(i32::try_from(rows).unwrap_or(i32::MAX))
    .bind(now)
    .bind(now + UPLOAD_LIFETIME)
    .execute(&mut *conn)
    .await?;
    Ok(token)
}

/// The file `user_id` stashed under `token`, removed in the caller's transaction (so it is
/// used once, when that transaction commits). None when there is no such upload in this
/// school, it is someone else's, it was used, or it expired.
pub async fn take(
    conn: &mut PgConnection,
    token: &str,
    user_id: i64,
    now: DateTime<Utc>,
) -> AppResult<Option<String>> {
    if token.is_empty() || token.len() > 128 {
        return Ok(None);
    }
    Ok(sqlx::query_scalar(
        "DELETE FROM import_uploads
          WHERE token_hash = $1 AND user_id = $2 AND expires_at > $3
         RETURNING csv_text",
    )
    .bind(token_hash(token))
    .bind(user_id)
    .bind(now)
    .fetch_optional(conn)
    .await?)
}

pub const TEMPLATE: &str = "admission_no,first_name,last_name,other_names,sex,date_of_birth,admission_date,address,class,guardian_name,guardian_relationship,guardian_phone,guardian_email\n,Chidi,Okafor,Emeka,male,2013-04-12,2025-09-08,\"12 Allen Avenue, Ikeja\",JSS 1A,Ngozi Okafor,Mother,+2348031234567,ngozi.okafor@example.com\n";
