//! School pages for assessment: exam sessions, the mark-entry grid, results, report cards,
//! comments and ratings, and the assessment settings.

use std::collections::{BTreeMap, HashMap};

use crate::http::Form;
use askama::Template;
use askama_web::WebTemplate;
use axum::{
    Router,
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use axum_messages::Messages;
use serde::Deserialize;
use serde_json::Value;

use super::{
    batch::{self, BatchPanel},
    card::SubjectStatus,
    card::{ReportCard, format_score, ordinal},
    comments::{
        self, BankComment, BankCommentInput, PupilComments, PupilCommentsInput, RatingTrait,
        RatingTraitInput,
    },
    config::{self, Component, GradeBand, ReportSettings, ReportSettingsInput},
    exams::{self, ExamSession, ExamSessionInput},
    marks::{self, MarkInput, MarkSheet},
    progress::{self, ClassProgress, ExamProgress},
    report,
    results::{ClassResults, PupilResult},
    service::{self, ensure_class_in_session, registration_class},
};
use crate::{
    academics::db as academics,
    audit::views::{Pupils, ViewKind},
    auth::csrf::CsrfToken,
    context::SchoolCtx,
    error::{AppError, AppResult},
    http::ApiPath,
    permissions::{access::guard_exact, catalogue::Action},
    state::AppState,
    students::registrations,
    web::{
        flash,
        htmx::see_other,
        kit::{FormErrors, act, field_errors, with_status},
        layout::Layout,
    },
};

// ---- exam sessions ----

#[derive(Template, WebTemplate)]
#[template(path = "pages/exam_sessions.html")]
struct ExamSessionsPage {
    layout: Layout,
    sessions: Vec<ExamSession>,
    /// Terms without an exam session yet: (id, "First Term 2025/2026").
    free_terms: Vec<(i64, String)>,
    can_add: bool,
}

async fn exam_sessions_page(mut ctx: SchoolCtx, CsrfToken(csrf): CsrfToken) -> AppResult<Response> {
    let sessions = exams::exam_sessions(&mut ctx.tx).await?;
    let free_terms = academics::terms_without_exam_session(&mut ctx.tx).await?;
    Ok(ExamSessionsPage {
        layout: ctx.layout("Exams", "exams", &csrf),
        sessions,
        free_terms,
        can_add: ctx.perms.has("add_exam_sessions"),
    }
    .into_response())
}

#[derive(Deserialize)]
struct NewExamSession {
    term_id: i64,
}

async fn create_exam_session(
    ctx: SchoolCtx,
    messages: Messages,
    headers: HeaderMap,
    Form(f): Form<NewExamSession>,
) -> AppResult<Response> {
    act(
        ctx,
        &messages,
        &headers,
        "/exams",
        String::clone,
        async |ctx| {
            let input = ExamSessionInput {
                term_id: Some(f.term_id),
                ..Default::default()
            };
            let es = exams::save_exam_session(&mut ctx.tx, None, &input, ctx.now).await?;
            ctx.audit_created("exam_session", es.id, &es).await?;
            Ok(format!(
                "{} created. Open it when teachers may enter marks.",
                es.name
            ))
        },
    )
    .await
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/exam_session.html")]
struct ExamSessionPage {
    layout: Layout,
    es: ExamSession,
    classes: Vec<ClassProgress>,
    /// Subjects offered without an exam in this session yet, over all classes.
    without_exam: i64,
    /// Marks outstanding over all classes, and what they are.
    outstanding: i64,
    outstanding_text: String,
    can_manage: bool,
    can_set_up: bool,
    can_change_any: bool,
    can_add_marks: bool,
    can_results: bool,
    can_print_school: bool,
    can_comment: bool,
    user_id: i64,
    panel: BatchPanel,
}

impl ExamSessionPage {
    fn may_enter(&self, exam: &ExamProgress) -> bool {
        self.can_change_any || (self.can_add_marks && exam.teacher_id == Some(self.user_id))
    }
    fn next_statuses(&self) -> Vec<(&'static str, &'static str)> {
        match self.es.status.as_str() {
            "draft" => vec![("open", "Open for marks")],
            "open" => vec![("closed", "Close mark entry")],
            "closed" => vec![("published", "Publish results"), ("open", "Reopen")],
            _ => vec![("closed", "Unpublish")],
        }
    }
    /// Whether this status change must name the outstanding marks first.
    fn needs_confirmation(&self, status: &&str) -> bool {
        matches!(*status, "closed" | "published")
            && self.outstanding > 0
            && self.es.outstanding_confirmed_at.is_none()
            && self.es.status.as_str() != "published"
    }
    /// The question asked before a status change.
    fn confirmation(&self, status: &&str) -> String {
        let verb = match *status {
            "published" if self.es.status.as_str() == "published" => return String::new(),
            "published" => "Publish the results? Parents will see the report cards.",
            "closed" if self.es.status.as_str() == "published" => {
                "Unpublish the results? Parents will no longer see the report cards until they are published again."
            }
            "closed" => "Close mark entry? Teachers will no longer be able to change marks.",
            _ => return String::new(),
        };
        if self.needs_confirmation(status) {
            format!(
                "{} {verb} Pupils with outstanding marks will be ranked on the marks they have.",
                self.outstanding_text
            )
        } else {
            verb.to_owned()
        }
    }
}

async fn exam_session_page(
    mut ctx: SchoolCtx,
    CsrfToken(csrf): CsrfToken,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Response> {
    let es = exams::exam_session(&mut ctx.tx, id).await?;
    let classes = progress::classes(&mut ctx.tx, id, es.session_id).await?;
    let outstanding_exams: Vec<&ExamProgress> = classes
        .iter()
        .flat_map(|c| &c.exams)
        .filter(|e| e.outstanding > 0)
        .collect();
    let outstanding = outstanding_exams.iter().map(|e| e.outstanding).sum();
    let outstanding_text = progress::describe(&outstanding_exams);
    let without_exam = classes.iter().map(|c| c.subjects_without_exam).sum();
    let panel = BatchPanel {
        batch: batch::latest(&mut ctx.tx, id, None).await?,
        start_url: format!("/exams/sessions/{id}/report-batch"),
        csrf: csrf.clone(),
        whole_school: true,
        now: ctx.now,
        time_zone: ctx.school.time_zone,
    };
    Ok(ExamSessionPage {
        panel,
        layout: ctx.layout(&es.name, "exams", &csrf),
        can_manage: ctx.perms.has("change_exam_sessions"),
        can_set_up: ctx.perms.has("add_exams"),
        can_change_any: ctx.perms.has("change_marks"),
        can_add_marks: ctx.perms.has("add_marks"),
        can_results: ctx.perms.has("view_results"),
        can_print_school: ctx.perms.has("change_results"),
        can_comment: ctx.perms.has("view_comments"),
        user_id: ctx.user.id,
        es,
        classes,
        without_exam,
        outstanding,
        outstanding_text,
    }
    .into_response())
}

#[derive(Deserialize)]
struct StatusForm {
    status: String,
    /// Sent by the button that named what is outstanding.
    #[serde(default)]
    confirm_outstanding: Option<String>,
}

async fn change_status(
    ctx: SchoolCtx,
    messages: Messages,
    headers: HeaderMap,
    ApiPath(id): ApiPath<i64>,
    Form(f): Form<StatusForm>,
) -> AppResult<Response> {
    let back = format!("/exams/sessions/{id}");
    act(
        ctx,
        &messages,
        &headers,
        &back,
        String::clone,
        async |ctx| {
            let input = ExamSessionInput {
                status: Some(f.status.clone()),
                confirm_outstanding: Some(f.confirm_outstanding.is_some()),
                ..Default::default()
            };
            let after = super::service::update_exam_session(ctx, id, &input).await?;
            Ok(format!("{} is now {}.", after.name, after.status))
        },
    )
    .await
}

#[derive(Deserialize)]
struct CorrectionsForm {
    #[serde(default)]
    exam_id: Option<i64>,
    #[serde(default)]
    academic_class_id: Option<i64>,
    open: u8,
}

/// Reopens one subject (or one class) of a closed exam session for corrections, or closes
/// it again.
async fn corrections(
    ctx: SchoolCtx,
    messages: Messages,
    headers: HeaderMap,
    ApiPath(id): ApiPath<i64>,
    Form(f): Form<CorrectionsForm>,
) -> AppResult<Response> {
    let back = format!("/exams/sessions/{id}");
    let open = f.open == 1;
    act(
        ctx,
        &messages,
        &headers,
        &back,
        |n: &usize| match (open, *n) {
            (_, 0) => "Nothing to change.".to_owned(),
            (true, n) => format!(
                "Reopened for corrections ({n} subject{}): their teachers can change marks until you close them again.",
                if n == 1 { "" } else { "s" }
            ),
            (false, n) => format!("Closed again ({n} subject{}).", if n == 1 { "" } else { "s" }),
        },
        async |ctx| {
            let input = super::service::CorrectionsInput {
                exam_id: f.exam_id,
                academic_class_id: f.academic_class_id,
                open,
            };
            super::service::corrections(ctx, id, &input).await
        },
    )
    .await
}

async fn generate_exams(
    ctx: SchoolCtx,
    messages: Messages,
    headers: HeaderMap,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Response> {
    let back = format!("/exams/sessions/{id}");
    act(
        ctx,
        &messages,
        &headers,
        &back,
        String::clone,
        async |ctx| {
            let es = exams::exam_session(&mut ctx.tx, id).await?;
            let n = exams::create_all_exams(&mut ctx.tx, &es, None, ctx.now).await?;
            if n > 0 {
                ctx.audit("create", "exam", id, serde_json::json!({"generated": n}))
                    .await?;
            }
            Ok(match n {
                0 => "Every class subject already has its exam.".to_owned(),
                1 => "1 exam set up.".to_owned(),
                n => format!("{n} exams set up."),
            })
        },
    )
    .await
}

// ---- mark entry ----

#[derive(Template, WebTemplate)]
#[template(path = "pages/marks.html")]
struct MarksPage {
    layout: Layout,
    es: ExamSession,
    sheet: MarkSheet,
    bands_json: String,
    /// Reusable subject-teacher remarks.
    bank: Vec<String>,
    /// Why the grid is read-only, when it is.
    locked_reason: Option<String>,
}

impl MarksPage {
    fn marks_js(&self) -> String {
        crate::web::assets::url("marks.js")
    }
    fn value(&self, scores: &BTreeMap<String, Option<f64>>, name: &str) -> String {
        scores
            .get(name)
            .copied()
            .flatten()
            .map(format_score)
            .unwrap_or_default()
    }
    fn total(&self, total: &Option<f64>) -> String {
        total.map(format_score).unwrap_or_else(|| "–".into())
    }
    fn max(&self, max: &f64) -> String {
        format_score(*max)
    }
}

async fn marks_page(
    mut ctx: SchoolCtx,
    CsrfToken(csrf): CsrfToken,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Response> {
    let (sheet, es, scale) = marks::sheet_in_session(&mut ctx, id).await?;
    let locked_reason = if sheet.can_edit {
        None
    } else if !marks::may_enter(&ctx, &sheet.exam) {
        Some(match &sheet.exam.teacher_name {
            Some(teacher) => format!(
                "You can see these marks but not change them: {} in {} is entered by {teacher}, its subject teacher.",
                sheet.exam.subject_name, sheet.exam.class_name
            ),
            None => format!(
                "You can see these marks but not change them: {} in {} has no subject teacher yet; the class's page sets one.",
                sheet.exam.subject_name, sheet.exam.class_name
            ),
        })
    } else {
        marks::ensure_open(&es, &sheet.exam)
            .err()
            .map(|e| crate::web::kit::message_of(&e))
    };
    let bank = comments::bank(&mut ctx.tx)
        .await?
        .into_iter()
        .filter(|b| b.kind == "subject")
        .map(|b| b.text)
        .collect();
    let page = MarksPage {
        layout: ctx.layout(
            &format!("{} · {}", sheet.exam.class_name, sheet.exam.subject_name),
            "exams",
            &csrf,
        ),
        bands_json: serde_json::to_string(&scale.bands).unwrap_or_else(|_| "[]".into()),
        bank,
        es,
        sheet,
        locked_reason,
    };
    ctx.commit().await?;
    Ok(page.into_response())
}

/// One row of the grid, saved by htmx: `registration` and `score_<component id>` fields.
/// Answers 200 with the row's figures, or 4xx with a plain message the grid shows.
async fn save_mark_row(
    mut ctx: SchoolCtx,
    ApiPath(id): ApiPath<i64>,
    Form(fields): Form<HashMap<String, String>>,
) -> AppResult<Response> {
    let plain = |status: StatusCode, text: String| {
        (
            status,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            text,
        )
            .into_response()
    };
    let exam = exams::exam(&mut ctx.tx, id).await?;
    let Some(registration) = fields
        .get("registration")
        .and_then(|r| r.trim().parse::<i64>().ok())
    else {
        return Ok(plain(StatusCode::BAD_REQUEST, "No pupil given.".into()));
    };
    let scores: BTreeMap<String, Value> = exam
        .components
        .iter()
        .filter_map(|c| {
            fields
                .get(&format!("score_{}", c.id))
                .map(|v| (c.name.clone(), Value::String(v.clone())))
        })
        .collect();
    let row = MarkInput {
        registration,
        scores,
        teacher_remark: fields.get("remark").cloned(),
        // An unticked box sends nothing: `absent_field` says the box was on the form.
        absent: match (fields.get("absent"), fields.contains_key("absent_field")) {
            (Some(v), _) => Some(v == "on" || v == "true"),
            (None, true) => Some(false),
            (None, false) => None,
        },
        // The grid sends, beside each changed value, the value it last showed.
        seen: {
            let seen: BTreeMap<String, Value> = exam
                .components
                .iter()
                .filter_map(|c| {
                    fields
                        .get(&format!("seen_{}", c.id))
                        .map(|v| (c.name.clone(), Value::String(v.clone())))
                })
                .collect();
            (!seen.is_empty()).then_some(seen)
        },
        seen_teacher_remark: fields.get("seen_remark").cloned(),
        seen_absent: fields.get("seen_absent").map(|v| v == "on" || v == "true"),
    };
    match marks::save(&mut ctx, id, std::slice::from_ref(&row)).await {
        Ok(_) => {
            ctx.commit().await?;
            Ok(plain(StatusCode::OK, "Saved".into()))
        }
        Err(e @ AppError::Validation { .. }) => {
            // "Row 1: CA1 must be…" reads oddly for a single row.
            let text = crate::web::kit::message_of(&e).replace("Row 1: ", "");
            Ok(plain(StatusCode::UNPROCESSABLE_ENTITY, text))
        }
        Err(e @ AppError::Conflict(_)) => {
            // The row as stored now, so the grid shows the newer values.
            // "Row 1 (Ada): changed since…" reads oddly on the pupil's own row.
            let message = crate::web::kit::message_of(&e);
            let text = match message.split_once("): ") {
                Some((_, rest)) => {
                    let mut chars = rest.chars();
                    chars
                        .next()
                        .map(|c| c.to_uppercase().chain(chars).collect())
                        .unwrap_or_default()
                }
                None => message,
            };
            ctx.restart().await?;
            let sheet = marks::sheet(&mut ctx, id).await?;
            let mut response = plain(StatusCode::CONFLICT, text);
            if let Some(current) = sheet.rows.iter().find(|r| r.registration == registration) {
                let mut values = serde_json::Map::new();
                for c in &sheet.exam.components {
                    let v = current.scores.get(&c.name).copied().flatten();
                    values.insert(
                        format!("score_{}", c.id),
                        Value::String(v.map(format_score).unwrap_or_default()),
                    );
                }
                values.insert(
                    "remark".into(),
                    Value::String(current.teacher_remark.clone()),
                );
                values.insert("absent".into(), Value::Bool(current.absent));
                if let Ok(v) = header::HeaderValue::from_str(&ascii_json(&Value::Object(values))) {
                    response.headers_mut().insert("x-current-row", v);
                }
            }
            Ok(response)
        }
        Err(e @ (AppError::Forbidden(_) | AppError::NotFound(_))) => {
            Ok(plain(e.status(), crate::web::kit::message_of(&e)))
        }
        Err(e) => Err(e),
    }
}

/// JSON with every non-ASCII character escaped (`\u00e9`), so it fits in a header.
fn ascii_json(value: &Value) -> String {
    let mut out = String::new();
    for c in value.to_string().chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out
}

// ---- results and report cards ----

#[derive(Template, WebTemplate)]
#[template(path = "pages/results.html")]
struct ResultsPage {
    layout: Layout,
    es: ExamSession,
    results: ClassResults,
    can_comment: bool,
    panel: BatchPanel,
}

impl ResultsPage {
    /// A pupil's figure in a subject: the total, ABS, "missing", or blank when not taken.
    fn cell(&self, pupil: &PupilResult, exam_id: &i64) -> String {
        match pupil.subjects.iter().find(|s| s.exam_id == *exam_id) {
            None => String::new(),
            Some(s) => match (s.status, s.total) {
                (SubjectStatus::Absent, _) => "ABS".into(),
                (SubjectStatus::Partial, Some(t)) => format!("{}*", format_score(t)),
                (_, Some(t)) => format_score(t),
                (_, None) => "missing".into(),
            },
        }
    }
    /// Outstanding cells stand out; subjects not taken are marked as such for screen readers.
    fn cell_class(&self, pupil: &PupilResult, exam_id: &i64) -> &'static str {
        match pupil.subjects.iter().find(|s| s.exam_id == *exam_id) {
            None => "not-taken",
            Some(s) if s.status.is_outstanding() => "outstanding",
            Some(_) => "",
        }
    }
    fn num(&self, v: &Option<f64>) -> String {
        v.map(format_score).unwrap_or_else(|| "–".into())
    }
    fn fmt(&self, v: &f64) -> String {
        format_score(*v)
    }
    fn pos(&self, v: &Option<i64>) -> String {
        v.map(ordinal).unwrap_or_else(|| "–".into())
    }
}

async fn results_page(
    mut ctx: SchoolCtx,
    CsrfToken(csrf): CsrfToken,
    ApiPath((id, class)): ApiPath<(i64, i64)>,
) -> AppResult<Response> {
    let es = exams::exam_session(&mut ctx.tx, id).await?;
    ensure_class_in_session(&mut ctx, &es, class).await?;
    let results = service::class_results(&mut ctx, &es, class).await?;
    let panel = BatchPanel {
        batch: batch::latest(&mut ctx.tx, id, Some(class)).await?,
        start_url: format!("/exams/sessions/{id}/classes/{class}/report-batch"),
        csrf: csrf.clone(),
        whole_school: false,
        now: ctx.now,
        time_zone: ctx.school.time_zone,
    };
    let page = ResultsPage {
        layout: ctx.layout(&format!("Results · {}", results.class_name), "exams", &csrf),
        can_comment: ctx.perms.has("view_comments"),
        es,
        results,
        panel,
    };
    ctx.commit().await?;
    Ok(page.into_response())
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/report_card.html")]
struct ReportCardPage {
    layout: Layout,
    es_id: i64,
    registration: i64,
    card: ReportCard,
    student_id: i64,
    has_photo: bool,
    /// The logo's version (for its URL, so a new logo shows at once), when there is one.
    logo: Option<i64>,
}

impl ReportCardPage {
    fn score(&self, v: &Option<f64>) -> String {
        v.map(format_score).unwrap_or_else(|| "–".into())
    }
    fn num(&self, v: &f64) -> String {
        format_score(*v)
    }
    fn pos(&self, v: &Option<i64>) -> String {
        v.map(ordinal).unwrap_or_else(|| "–".into())
    }
    fn rating(&self, v: &Option<i16>) -> String {
        v.map(|v| v.to_string()).unwrap_or_else(|| "–".into())
    }
    fn date(&self, d: &chrono::NaiveDate) -> String {
        d.format("%-d %B %Y").to_string()
    }
}

async fn report_card_page(
    mut ctx: SchoolCtx,
    CsrfToken(csrf): CsrfToken,
    ApiPath((id, registration)): ApiPath<(i64, i64)>,
) -> AppResult<Response> {
    let es = exams::exam_session(&mut ctx.tx, id).await?;
    let class = registration_class(&mut ctx, &es, registration).await?;
    let (_, mut cards) = report::class_cards(
        &mut ctx.tx,
        &ctx.school.name,
        &es,
        class,
        Some(registration),
        false,
    )
    .await?;
    let card = cards.pop().ok_or_else(AppError::not_found)?;
    let (student_id, has_photo) = registrations::student_photo(&mut ctx.tx, registration).await?;
    let logo = super::logo::version(&mut ctx.tx).await?;
    ctx.record_view(
        ViewKind::ReportCard,
        &format!("Report card, {} {}", es.term_name, es.session_name),
        Pupils::Registrations(&[registration]),
    )
    .await?;
    let page = ReportCardPage {
        logo,
        layout: ctx.layout(
            &format!("Report card · {}", card.pupil.full_name),
            "exams",
            &csrf,
        ),
        es_id: id,
        registration,
        card,
        student_id,
        has_photo,
    };
    ctx.commit().await?;
    Ok(page.into_response())
}

async fn report_card_pdf(
    mut ctx: SchoolCtx,
    ApiPath((id, registration)): ApiPath<(i64, i64)>,
) -> AppResult<Response> {
    let (bytes, file_name) = service::pupil_pdf(&mut ctx, id, registration).await?;
    ctx.commit().await?;
    Ok(crate::http::download::inline_pdf(&file_name, bytes))
}

// ---- comments and ratings ----

#[derive(Template, WebTemplate)]
#[template(path = "pages/comments.html")]
struct CommentsPage {
    layout: Layout,
    es: ExamSession,
    class_id: i64,
    class_name: String,
    rows: Vec<PupilComments>,
    traits: Vec<RatingTrait>,
    bank: Vec<BankComment>,
    can_class: bool,
    can_head: bool,
    errors: FormErrors,
    /// What the page first showed, sent back in hidden fields so a save sends only what
    /// this user changed (kept across a re-render with errors).
    originals: HashMap<i64, PupilComments>,
}

impl CommentsPage {
    fn comments_js(&self) -> String {
        crate::web::assets::url("comments.js")
    }
    fn original(&self, row: &PupilComments) -> PupilComments {
        self.originals
            .get(&row.registration)
            .cloned()
            .unwrap_or_else(|| row.clone())
    }
    fn rated(&self, row: &PupilComments, name: &str, value: &i16) -> bool {
        row.ratings.get(name) == Some(value)
    }
    fn rating_of(&self, row: &PupilComments, name: &str) -> String {
        row.ratings
            .get(name)
            .map(|v| v.to_string())
            .unwrap_or_default()
    }
    fn error(&self, registration: &i64) -> String {
        self.errors
            .0
            .iter()
            .filter(|(k, _)| **k == format!("pupil_{registration}"))
            .flat_map(|(_, v)| v.iter().cloned())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

async fn comments_page(
    mut ctx: SchoolCtx,
    CsrfToken(csrf): CsrfToken,
    ApiPath((id, class)): ApiPath<(i64, i64)>,
) -> AppResult<Response> {
    let es = exams::exam_session(&mut ctx.tx, id).await?;
    ensure_class_in_session(&mut ctx, &es, class).await?;
    render_comments(&mut ctx, &csrf, es, class, None, FormErrors::default()).await
}

async fn render_comments(
    ctx: &mut SchoolCtx,
    csrf: &str,
    es: ExamSession,
    class: i64,
    typed: Option<(Vec<PupilComments>, HashMap<i64, PupilComments>)>,
    errors: FormErrors,
) -> AppResult<Response> {
    let ac = academics::academic_class_by_id(&mut ctx.tx, class).await?;
    let (rows, originals) = match typed {
        Some(typed) => typed,
        None => (
            comments::class_comments(&mut ctx.tx, es.id, class).await?,
            HashMap::new(),
        ),
    };
    let is_head = ctx.perms.has("change_results");
    Ok(CommentsPage {
        layout: ctx.layout(&format!("Comments · {}", ac.class_name), "exams", csrf),
        class_id: class,
        class_name: ac.class_name.clone(),
        rows,
        traits: comments::traits(&mut ctx.tx).await?,
        bank: comments::bank(&mut ctx.tx).await?,
        can_class: is_head || ac.class_teacher_id == Some(ctx.user.id),
        can_head: is_head,
        errors,
        originals,
        es,
    }
    .into_response())
}

/// The whole class's comments and ratings in one form: `ct_<reg>`, `ht_<reg>`,
/// `r_<reg>_<trait id>` fields.
async fn save_comments(
    mut ctx: SchoolCtx,
    CsrfToken(csrf): CsrfToken,
    messages: Messages,
    headers: HeaderMap,
    ApiPath((id, class)): ApiPath<(i64, i64)>,
    Form(fields): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let es = exams::exam_session(&mut ctx.tx, id).await?;
    ensure_class_in_session(&mut ctx, &es, class).await?;
    let traits = comments::traits(&mut ctx.tx).await?;
    let current = comments::class_comments(&mut ctx.tx, id, class).await?;
    let get = |key: String| {
        fields
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.clone())
    };
    let is_head = ctx.perms.has("change_results");
    let class_teacher = academics::class_teacher_of(&mut ctx.tx, class).await?;
    let can_class = is_head || class_teacher == Some(ctx.user.id);
    if !can_class {
        return Err(AppError::Forbidden(
            "Only the class teacher and the head teacher write these comments.".into(),
        ));
    }
    let mut rows = Vec::new();
    let mut typed = Vec::new();
    let mut originals = HashMap::new();
    for p in &current {
        let r = p.registration;
        // Only what this user changed on the page is sent, compared with the values the
        // page was shown with (`*0_` fields): a save never reverts or re-signs what
        // someone else wrote meanwhile.
        let changed = |key: String, original: String, stored: &str| {
            let now = get(key)?;
            let before = get(original).unwrap_or_else(|| stored.to_owned());
            (now.trim() != before.trim()).then_some(now)
        };
        let ct = changed(
            format!("ct_{r}"),
            format!("ct0_{r}"),
            &p.class_teacher_comment,
        )
        .filter(|_| can_class);
        let ht = changed(
            format!("ht_{r}"),
            format!("ht0_{r}"),
            &p.head_teacher_comment,
        )
        .filter(|_| is_head);
        let rating = |v: String| v.trim().parse::<i16>().ok();
        let ratings: BTreeMap<String, Option<i16>> = traits
            .iter()
            .filter_map(|t| get(format!("r_{r}_{}", t.id)).map(|v| (t.name.clone(), rating(v))))
            .collect();
        let changed_ratings: BTreeMap<String, Option<i16>> = traits
            .iter()
            .filter_map(|t| {
                let now = rating(get(format!("r_{r}_{}", t.id))?);
                let before = match get(format!("r0_{r}_{}", t.id)) {
                    Some(v) => rating(v),
                    None => p.ratings.get(&t.name).copied(),
                };
                (now != before).then(|| (t.name.clone(), now))
            })
            .collect();
        let mut original = p.clone();
        if let Some(c) = get(format!("ct0_{r}")) {
            original.class_teacher_comment = c;
        }
        if let Some(c) = get(format!("ht0_{r}")) {
            original.head_teacher_comment = c;
        }
        original.ratings = traits
            .iter()
            .filter_map(|t| {
                let v = match get(format!("r0_{r}_{}", t.id)) {
                    Some(v) => rating(v),
                    None => p.ratings.get(&t.name).copied(),
                };
                v.map(|v| (t.name.clone(), v))
            })
            .collect();
        originals.insert(r, original);
        let mut shown = p.clone();
        if let Some(c) = &ct {
            shown.class_teacher_comment = c.clone();
        }
        if let Some(c) = &ht {
            shown.head_teacher_comment = c.clone();
        }
        shown.ratings = ratings
            .iter()
            .filter_map(|(k, v)| v.map(|v| (k.clone(), v)))
            .collect();
        typed.push(shown);
        if ct.is_some() || ht.is_some() || !changed_ratings.is_empty() {
            rows.push(PupilCommentsInput {
                registration: r,
                class_teacher_comment: ct,
                head_teacher_comment: ht,
                ratings: (!changed_ratings.is_empty()).then_some(changed_ratings),
            });
        }
    }
    let back = format!("/exams/sessions/{id}/classes/{class}/comments");
    if rows.is_empty() {
        flash::success(&messages, "Nothing had changed.");
        return Ok(see_other(&headers, &back));
    }
    match comments::save_class_comments(&mut ctx, &es, class, &rows).await {
        Ok(n) => {
            ctx.commit().await?;
            let pupils = if n == 1 { "pupil" } else { "pupils" };
            flash::success(&messages, format!("Changes saved for {n} {pupils}."));
            Ok(see_other(
                &headers,
                &format!("/exams/sessions/{id}/classes/{class}/comments"),
            ))
        }
        Err(e) => {
            let errors = match e {
                AppError::Conflict(_) | AppError::Forbidden(_) => {
                    flash::error(&messages, crate::web::kit::message_of(&e));
                    return Ok(see_other(
                        &headers,
                        &format!("/exams/sessions/{id}/classes/{class}/comments"),
                    ));
                }
                other => field_errors(other)?,
            };
            // Errors name the rows sent; the page shows them by pupil.
            let errors = FormErrors(
                errors
                    .0
                    .into_iter()
                    .map(|(key, messages)| {
                        let pupil = key
                            .strip_prefix("rows[")
                            .and_then(|k| k.split(']').next())
                            .and_then(|i| i.parse::<usize>().ok())
                            .and_then(|i| rows.get(i))
                            .map(|r| format!("pupil_{}", r.registration));
                        (pupil.unwrap_or(key), messages)
                    })
                    .collect(),
            );
            ctx.restart().await?;
            let page =
                render_comments(&mut ctx, &csrf, es, class, Some((typed, originals)), errors)
                    .await?;
            Ok(with_status(page, StatusCode::UNPROCESSABLE_ENTITY))
        }
    }
}

// ---- assessment settings ----

#[derive(Template, WebTemplate)]
#[template(path = "pages/assessment_settings.html")]
struct AssessmentSettingsPage {
    layout: Layout,
    /// The text areas as shown: from the database, or as typed when re-rendered.
    components: String,
    bands: String,
    report: ReportSettings,
    /// The three weights as typed.
    weights: [String; 3],
    errors: FormErrors,
    can_change: bool,
    /// The logo's version (for its URL, so a new logo shows at once), when there is one.
    logo: Option<i64>,
    lists: Lists,
}

/// The rated traits and the comment bank as the form's text areas, one entry per line.
#[derive(Deserialize, Default)]
struct Lists {
    #[serde(default)]
    affective: String,
    #[serde(default)]
    psychomotor: String,
    #[serde(default)]
    bank_class_teacher: String,
    #[serde(default)]
    bank_head_teacher: String,
    #[serde(default)]
    bank_subject: String,
}

impl Lists {
    async fn load(ctx: &mut SchoolCtx) -> AppResult<Self> {
        let traits = comments::traits(&mut ctx.tx).await?;
        let bank = comments::bank(&mut ctx.tx).await?;
        let traits_of = |kind: &str| {
            traits
                .iter()
                .filter(|t| t.kind == kind)
                .map(|t| t.name.as_str())
                .collect::<Vec<_>>()
                .join("\n")
        };
        let bank_of = |kind: &str| {
            bank.iter()
                .filter(|b| b.kind == kind)
                .map(|b| b.text.as_str())
                .collect::<Vec<_>>()
                .join("\n")
        };
        Ok(Self {
            affective: traits_of("affective"),
            psychomotor: traits_of("psychomotor"),
            bank_class_teacher: bank_of("class_teacher"),
            bank_head_teacher: bank_of("head_teacher"),
            bank_subject: bank_of("subject"),
        })
    }

    fn lines<'a>(text: &'a str, kind: &'a str) -> impl Iterator<Item = (String, String)> + 'a {
        text.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(move |l| (kind.to_owned(), l.to_owned()))
    }

    fn traits(&self) -> Vec<RatingTraitInput> {
        Self::lines(&self.affective, "affective")
            .chain(Self::lines(&self.psychomotor, "psychomotor"))
            .map(|(kind, name)| RatingTraitInput { kind, name })
            .collect()
    }

    fn bank(&self) -> Vec<BankCommentInput> {
        Self::lines(&self.bank_class_teacher, "class_teacher")
            .chain(Self::lines(&self.bank_head_teacher, "head_teacher"))
            .chain(Self::lines(&self.bank_subject, "subject"))
            .map(|(kind, text)| BankCommentInput { kind, text })
            .collect()
    }
}

fn components_text(list: &[Component]) -> String {
    list.iter()
        .map(|c| format!("{} {}", c.name, format_score(c.max_score)))
        .collect::<Vec<_>>()
        .join("\n")
}

fn bands_text(list: &[GradeBand]) -> String {
    list.iter()
        .map(|b| format!("{} {} {}", b.grade, format_score(b.min_score), b.remark))
        .map(|l| l.trim_end().to_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

async fn assessment_settings_page(
    mut ctx: SchoolCtx,
    CsrfToken(csrf): CsrfToken,
) -> AppResult<Response> {
    let report = config::report_settings(&mut ctx.tx).await?;
    Ok(AssessmentSettingsPage {
        layout: ctx.layout("Assessment settings", "settings", &csrf),
        components: components_text(&config::components(&mut ctx.tx).await?),
        bands: bands_text(&config::grading_scale(&mut ctx.tx).await?.bands),
        weights: [
            report.first_term_weight.to_string(),
            report.second_term_weight.to_string(),
            report.third_term_weight.to_string(),
        ],
        report,
        errors: FormErrors::default(),
        can_change: ctx.perms.has("change_settings"),
        logo: super::logo::version(&mut ctx.tx).await?,
        lists: Lists::load(&mut ctx).await?,
    }
    .into_response())
}

/// Components and bands as text lines ("CA1 20", "A1 75 Excellent"), plus report settings.
#[derive(Deserialize)]
struct AssessmentForm {
    #[serde(default)]
    components: String,
    #[serde(default)]
    bands: String,
    #[serde(default)]
    show_position: Option<String>,
    #[serde(default)]
    show_class_stats: Option<String>,
    rank_by: String,
    cumulative_method: String,
    #[serde(default)]
    absent_counts_as: Option<String>,
    first_term_weight: String,
    second_term_weight: String,
    third_term_weight: String,
    #[serde(flatten)]
    lists: Lists,
}

fn parse_components(text: &str) -> Result<Vec<Component>, String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|line| {
            let (name, max) = line
                .rsplit_once(char::is_whitespace)
                .ok_or_else(|| format!("\"{line}\": write a name and a maximum, e.g. CA1 20."))?;
            let max_score = max
                .parse::<f64>()
                .map_err(|_| format!("\"{line}\": the maximum must be a number."))?;
            Ok(Component {
                name: name.trim().to_owned(),
                max_score,
            })
        })
        .collect()
}

fn parse_bands(text: &str) -> Result<Vec<GradeBand>, String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|line| {
            let mut parts = line.splitn(3, char::is_whitespace);
            let grade = parts.next().unwrap_or_default().to_owned();
            let min = parts.next().unwrap_or_default();
            let min_score = min.parse::<f64>().map_err(|_| {
                format!("\"{line}\": write the grade, its minimum score and a remark, e.g. A1 75 Excellent.")
            })?;
            Ok(GradeBand {
                grade,
                min_score,
                remark: parts.next().unwrap_or_default().trim().to_owned(),
            })
        })
        .collect()
}

async fn save_assessment_settings(
    mut ctx: SchoolCtx,
    CsrfToken(csrf): CsrfToken,
    messages: Messages,
    headers: HeaderMap,
    Form(f): Form<AssessmentForm>,
) -> AppResult<Response> {
    let mut form_errors = crate::error::FieldErrors::new();
    let components = parse_components(&f.components).unwrap_or_else(|m| {
        form_errors.insert("components".into(), vec![m]);
        Vec::new()
    });
    let bands = parse_bands(&f.bands).unwrap_or_else(|m| {
        form_errors.insert("bands".into(), vec![m]);
        Vec::new()
    });
    let weight = |s: &str| s.trim().parse::<i16>().ok();
    let report_input = ReportSettingsInput {
        show_position: Some(f.show_position.is_some()),
        show_class_stats: Some(f.show_class_stats.is_some()),
        rank_by: Some(f.rank_by.clone()),
        cumulative_method: Some(f.cumulative_method.clone()),
        first_term_weight: Some(weight(&f.first_term_weight).unwrap_or(-1)),
        second_term_weight: Some(weight(&f.second_term_weight).unwrap_or(-1)),
        third_term_weight: Some(weight(&f.third_term_weight).unwrap_or(-1)),
        absent_counts_as: f.absent_counts_as.clone(),
    };
    let outcome: AppResult<()> = async {
        if !form_errors.is_empty() {
            return Err(AppError::fields(form_errors));
        }
        config::lock(&mut ctx.tx).await?;
        config::save_components(&mut ctx.tx, &components).await?;
        config::save_grading_scale(&mut ctx.tx, &bands).await?;
        config::save_report_settings(&mut ctx.tx, &report_input, ctx.now).await?;
        comments::save_traits(&mut ctx.tx, &f.lists.traits()).await?;
        comments::save_bank(&mut ctx.tx, &f.lists.bank(), ctx.now).await?;
        ctx.audit(
            "update",
            "assessment_settings",
            1,
            serde_json::json!({"components": f.components, "bands": f.bands}),
        )
        .await
    }
    .await;
    match outcome {
        Ok(()) => {
            ctx.commit().await?;
            flash::success(&messages, "Assessment settings saved.");
            Ok(see_other(&headers, "/settings/assessment"))
        }
        Err(e) => {
            let errors = field_errors(e)?;
            ctx.restart().await?;
            // Everything as typed, checkboxes included.
            let mut report = config::report_settings(&mut ctx.tx).await?;
            report.rank_by = f.rank_by.clone();
            report.cumulative_method = f.cumulative_method.clone();
            if let Some(a) = &f.absent_counts_as {
                report.absent_counts_as = a.clone();
            }
            report.show_position = f.show_position.is_some();
            report.show_class_stats = f.show_class_stats.is_some();
            let logo = super::logo::version(&mut ctx.tx).await?;
            Ok(with_status(
                AssessmentSettingsPage {
                    layout: ctx.layout("Assessment settings", "settings", &csrf),
                    components: f.components.clone(),
                    bands: f.bands.clone(),
                    weights: [
                        f.first_term_weight.clone(),
                        f.second_term_weight.clone(),
                        f.third_term_weight.clone(),
                    ],
                    report,
                    errors,
                    can_change: true,
                    logo,
                    lists: f.lists,
                }
                .into_response(),
                StatusCode::UNPROCESSABLE_ENTITY,
            ))
        }
    }
}

pub fn router() -> Router<AppState> {
    let view = |r| guard_exact(Action::View, r);
    Router::new()
        .route(
            "/exams",
            get(exam_sessions_page).layer(view("exam_sessions")),
        )
        .route(
            "/exams",
            post(create_exam_session).layer(guard_exact(Action::Add, "exam_sessions")),
        )
        .route(
            "/exams/sessions/{id}",
            get(exam_session_page).layer(view("exam_sessions")),
        )
        .route(
            "/exams/sessions/{id}/status",
            post(change_status).layer(guard_exact(Action::Change, "exam_sessions")),
        )
        .route(
            "/exams/sessions/{id}/corrections",
            post(corrections).layer(guard_exact(Action::Change, "exam_sessions")),
        )
        .route(
            "/exams/sessions/{id}/generate",
            post(generate_exams).layer(guard_exact(Action::Add, "exams")),
        )
        .route("/exams/{id}/marks", get(marks_page).layer(view("marks")))
        .route(
            "/exams/{id}/marks",
            post(save_mark_row).layer(view("marks")),
        )
        .route(
            "/exams/sessions/{id}/classes/{class}/results",
            get(results_page).layer(view("results")),
        )
        .route(
            "/exams/sessions/{id}/report-cards/{registration}",
            get(report_card_page).layer(view("results")),
        )
        .route(
            "/exams/sessions/{id}/report-cards/{registration}/pdf",
            get(report_card_pdf).layer(view("results")),
        )
        .route(
            "/exams/sessions/{id}/classes/{class}/comments",
            get(comments_page).layer(view("comments")),
        )
        .route(
            "/exams/sessions/{id}/classes/{class}/comments",
            post(save_comments).layer(guard_exact(Action::Add, "comments")),
        )
        .route(
            "/settings/assessment",
            get(assessment_settings_page).layer(view("settings")),
        )
        .route(
            "/settings/assessment",
            post(save_assessment_settings).layer(guard_exact(Action::Change, "settings")),
        )
}
