//! Guided set-up: a new school creates its first session, terms, forms, arms and subjects
//! in one sitting, in one transaction; the school's set-up progress follows.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::Deserialize;
use sqlx::PgConnection;

use super::db::{
    self, AcademicClassInput, AcademicSessionInput, ClassArmInput, ClassLevelInput, SubjectInput,
    SubjectTeacher, TermInput,
};
use crate::{
    error::{AppError, AppResult, FieldErrors, Validator},
    tenancy::schools::{self, StepStatus, UpdateSetup},
};

#[derive(Debug, Clone, Default, Deserialize)]
pub struct SetupForm {
    #[serde(default)]
    pub session_name: String,
    #[serde(default)]
    pub session_starts: String,
    #[serde(default)]
    pub session_ends: String,
    #[serde(default)]
    pub term1_starts: String,
    #[serde(default)]
    pub term1_ends: String,
    #[serde(default)]
    pub term2_starts: String,
    #[serde(default)]
    pub term2_ends: String,
    #[serde(default)]
    pub term3_starts: String,
    #[serde(default)]
    pub term3_ends: String,
    #[serde(default)]
    pub next_session_begins: String,
    /// One form per line.
    #[serde(default)]
    pub forms: String,
    /// Arm letters for every form, comma-separated ("A, B").
    #[serde(default)]
    pub arms: String,
    /// One subject per line.
    #[serde(default)]
    pub subjects: String,
}

impl SetupForm {
    /// Sensible defaults for a Nigerian secondary school, dated from today.
    pub fn suggested(today: NaiveDate) -> Self {
        let year = if today.month() >= 8 {
            today.year()
        } else {
            today.year() - 1
        };
        let d = |y: i32, m: u32, day: u32| {
            NaiveDate::from_ymd_opt(y, m, day)
                .map(|d| d.to_string())
                .unwrap_or_default()
        };
        Self {
            session_name: format!("{}/{}", year, year + 1),
            session_starts: d(year, 9, 8),
            session_ends: d(year + 1, 7, 24),
            term1_starts: d(year, 9, 8),
            term1_ends: d(year, 12, 12),
            term2_starts: d(year + 1, 1, 5),
            term2_ends: d(year + 1, 4, 2),
            term3_starts: d(year + 1, 4, 20),
            term3_ends: d(year + 1, 7, 24),
            next_session_begins: d(year + 1, 9, 7),
            forms: "JSS 1\nJSS 2\nJSS 3\nSS 1\nSS 2\nSS 3".into(),
            arms: "A, B".into(),
            subjects: "English Language\nMathematics\nBasic Science\nBasic Technology\nSocial Studies\nCivic Education\nChristian Religious Studies\nIslamic Religious Studies\nYoruba\nComputer Studies\nAgricultural Science\nPhysical and Health Education".into(),
        }
    }
}

fn date(v: &mut Validator, field: &str, raw: &str, required: bool) -> Option<NaiveDate> {
    let raw = raw.trim();
    if raw.is_empty() {
        if required {
            v.add(field, "This field is required.");
        }
        return None;
    }
    match NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
        Ok(d) => Some(d),
        Err(_) => {
            v.add(field, "Enter a date as YYYY-MM-DD.");
            None
        }
    }
}

fn lines(raw: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for l in raw.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if !out.iter().any(|o| o.eq_ignore_ascii_case(l)) {
            out.push(l.to_owned());
        }
    }
    out
}

/// Runs the whole set-up in the caller's transaction. Field errors name the form's fields.
pub async fn run(
    conn: &mut PgConnection,
    school_id: i64,
    form: &SetupForm,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let mut v = Validator::new();
    let s_start = date(&mut v, "session_starts", &form.session_starts, true);
    let s_end = date(&mut v, "session_ends", &form.session_ends, true);
    let mut terms = Vec::new();
    for (i, (a, b)) in [
        (&form.term1_starts, &form.term1_ends),
        (&form.term2_starts, &form.term2_ends),
        (&form.term3_starts, &form.term3_ends),
    ]
    .into_iter()
    .enumerate()
    {
        let n = i + 1;
        terms.push((
            date(&mut v, &format!("term{n}_starts"), a, true),
            date(&mut v, &format!("term{n}_ends"), b, true),
        ));
    }
    let next_session = date(
        &mut v,
        "next_session_begins",
        &form.next_session_begins,
        false,
    );
    // Every rule the steps below apply, checked here first, so each error sits on its own
    // field and all of them show at once.
    v.text("session_name", &form.session_name, 2, 50);
    if let (Some(a), Some(b)) = (s_start, s_end)
        && b <= a
    {
        v.add("session_ends", "The session must end after it starts.");
    }
    let mut previous_end: Option<NaiveDate> = None;
    for (i, (start, end)) in terms.iter().enumerate() {
        let n = i + 1;
        if let (Some(a), Some(b)) = (start, end)
            && b <= a
        {
            v.add(
                &format!("term{n}_ends"),
                "The term must end after it starts.",
            );
        }
        for (field, day) in [
            (format!("term{n}_starts"), start),
            (format!("term{n}_ends"), end),
        ] {
            if let (Some(d), Some(a), Some(b)) = (day, s_start, s_end)
                && (*d < a || *d > b)
            {
                v.add(&field, "Keep the term within the session's dates.");
            }
        }
        if let (Some(prev), Some(a)) = (previous_end, start)
            && *a <= prev
        {
            v.add(
                &format!("term{n}_starts"),
                "Start the term after the previous one ends.",
            );
        }
        previous_end = end.or(previous_end);
    }
    if let (Some(next), Some(end)) = (next_session, s_end)
        && next <= end
    {
        v.add(
            "next_session_begins",
            "The next session begins after this one ends.",
        );
    }
    let form_names = lines(&form.forms);
    for name in &form_names {
        if name.chars().count() > 50 {
            v.add("forms", format!("“{name}” is longer than 50 characters."));
        }
    }
    if form_names.is_empty() {
        v.add("forms", "List at least one class level, one per line.");
    }
    if form_names.len() > 30 {
        v.add("forms", "At most 30 class levels.");
    }
    let arms: Vec<String> = form
        .arms
        .split(',')
        .map(|a| a.trim().to_owned())
        .filter(|a| !a.is_empty())
        .collect();
    if arms.len() > 15 || arms.iter().any(|a| a.len() > 10) {
        v.add("arms", "Give up to 15 short arm names, e.g. A, B, C.");
    }
    let subject_names = lines(&form.subjects);
    for name in &subject_names {
        let len = name.chars().count();
        if !(2..=80).contains(&len) {
            v.add(
                "subjects",
                format!("“{name}”: a subject name has 2 to 80 characters."),
            );
        }
    }
    if subject_names.len() > 60 {
        v.add("subjects", "At most 60 subjects.");
    }
    let existing: i64 = sqlx::query_scalar("SELECT count(*) FROM academic_sessions")
        .fetch_one(&mut *conn)
        .await?;
    if existing > 0 {
        v.add(
            "session_name",
            "This school already has a session; add more from the Academics page.",
        );
    }
    v.finish()?;

    // Each step reports its own field errors; re-key them to this form's fields.
    let rekey = |field: &'static str| {
        move |e: AppError| match e {
            AppError::Validation { errors, .. } => {
                let messages: Vec<String> = errors.into_values().flatten().collect();
                let mut out = FieldErrors::new();
                out.insert(field.to_owned(), messages);
                AppError::fields(out)
            }
            other => other,
        }
    };
    let session = db::save_session(
        conn,
        None,
        &AcademicSessionInput {
            name: Some(form.session_name.clone()),
            starts_on: s_start,
            ends_on: s_end,
            is_current: Some(true),
        },
        now,
    )
    .await
    .map_err(rekey("session_name"))?;
    for (i, (start, end)) in terms.iter().enumerate() {
        let ordinal = i16::try_from(i + 1).unwrap_or(1);
        let next = terms
            .get(i + 1)
            .and_then(|t| t.0)
            .or(if i == 2 { next_session } else { None });
        let field: &'static str = match i {
            0 => "term1_starts",
            1 => "term2_starts",
            _ => "term3_starts",
        };
        db::save_term(
            conn,
            &session,
            None,
            &TermInput {
                ordinal: Some(ordinal),
                name: None,
                starts_on: *start,
                ends_on: *end,
                next_term_begins: next,
                is_current: Some(i == 0),
            },
            now,
        )
        .await
        .map_err(rekey(field))?;
    }
    let mut subject_ids = Vec::new();
    for name in &subject_names {
        let code = unique_code(conn, name).await?;
        let s = db::save_subject(
            conn,
            None,
            &SubjectInput {
                name: Some(name.clone()),
                code: Some(code),
            },
            now,
        )
        .await
        .map_err(rekey("subjects"))?;
        subject_ids.push(s.id);
    }
    for (i, name) in form_names.iter().enumerate() {
        let f = db::save_form(
            conn,
            None,
            &ClassLevelInput {
                name: Some(name.clone()),
                ordinal: i32::try_from(i + 1).ok(),
            },
            now,
        )
        .await
        .map_err(rekey("forms"))?;
        let arm_names: Vec<String> = if arms.is_empty() {
            vec![name.clone()]
        } else {
            arms.iter().map(|a| format!("{name}{a}")).collect()
        };
        for arm in arm_names {
            let c = db::save_class_arm(
                conn,
                None,
                &ClassArmInput {
                    name: Some(arm),
                    form_id: Some(f.id),
                },
                now,
            )
            .await
            .map_err(rekey("arms"))?;
            db::save_academic_class(
                conn,
                school_id,
                &session,
                None,
                &AcademicClassInput {
                    class_id: Some(c.id),
                    class_teacher_id: None,
                    subjects: Some(
                        subject_ids
                            .iter()
                            .map(|&s| SubjectTeacher {
                                subject_id: s,
                                teacher_id: None,
                                is_elective: false,
                            })
                            .collect(),
                    ),
                },
                now,
            )
            .await?;
        }
    }
    let done = |id: &str| StepStatus {
        id: id.to_owned(),
        status: "done".to_owned(),
    };
    let mut steps = vec![done("academic_session"), done("classes")];
    if !subject_ids.is_empty() {
        steps.push(done("subjects"));
    }
    schools::update_setup(
        conn,
        school_id,
        &UpdateSetup {
            steps,
            contacted_by: None,
        },
        now,
    )
    .await?;
    Ok(())
}

/// A subject code not yet used: "MAT", then "MAT2", ...
async fn unique_code(conn: &mut PgConnection, name: &str) -> AppResult<String> {
    let base = db::subject_code_from(name);
    let base = if base.is_empty() {
        "SUB".to_owned()
    } else {
        base
    };
    for n in 1..100 {
        let code = if n == 1 {
            base.clone()
        } else {
            format!("{base}{n}")
        };
        let taken: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM subjects WHERE lower(code) = lower($1))",
        )
        .bind(&code)
        .fetch_one(&mut *conn)
        .await?;
        if !taken {
            return Ok(code);
        }
    }
    Err(AppError::field(
        "subjects",
        "Too many subjects with similar names.",
    ))
}
