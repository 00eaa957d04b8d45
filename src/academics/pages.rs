//! School pages for the academic structure: overview with quick additions, guided set-up,
//! classes of the current session and each class's page.

use crate::http::Form;
use askama::Template;
use askama_web::WebTemplate;
use axum::{
    Router,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use axum_messages::Messages;
use chrono::NaiveDate;
use serde::Deserialize;

use super::{
    db::{self, *},
    service::{self, Deletable},
    setup::{self, SetupForm},
};
use crate::{
    auth::csrf::CsrfToken,
    context::SchoolCtx,
    error::{AppError, AppResult},
    http::ApiPath,
    permissions::{
        access::{guard, guard_exact},
        catalogue::Action,
    },
    state::AppState,
    web::{
        flash,
        htmx::see_other,
        kit::{FormErrors, act, field_errors, with_status},
        layout::Layout,
    },
};

// ---- overview ----

#[derive(Template, WebTemplate)]
#[template(path = "pages/academics.html")]
struct AcademicsPage {
    layout: Layout,
    can_delete: bool,
    sessions: Vec<(AcademicSession, Vec<Term>)>,
    forms: Vec<(db::ClassLevel, Vec<ClassArm>)>,
    subjects: Vec<Subject>,
    can_add: bool,
    needs_setup: bool,
    /// Where arms go next session is set on the End of year page; linked for those who see it.
    can_view_promotions: bool,
}

async fn overview(mut ctx: SchoolCtx, CsrfToken(csrf): CsrfToken) -> AppResult<Response> {
    // Two queries for every session and term (no query per session).
    let all_terms = db::all_terms(&mut ctx.tx).await?;
    let sessions: Vec<(AcademicSession, Vec<Term>)> = db::sessions(&mut ctx.tx)
        .await?
        .into_iter()
        .map(|s| {
            let terms = all_terms
                .iter()
                .filter(|t| t.session_id == s.id)
                .cloned()
                .collect();
            (s, terms)
        })
        .collect();
    let arms = db::class_arms(&mut ctx.tx).await?;
    let forms = db::forms(&mut ctx.tx)
        .await?
        .into_iter()
        .map(|f| {
            let mine = arms.iter().filter(|a| a.form_id == f.id).cloned().collect();
            (f, mine)
        })
        .collect();
    let subjects = db::subjects(&mut ctx.tx).await?;
    Ok(AcademicsPage {
        can_delete: ctx.perms.has("delete_subjects"),
        layout: ctx.layout("Academics", "academics", &csrf),
        needs_setup: sessions.is_empty(),
        sessions,
        forms,
        subjects,
        can_add: ctx.perms.has("add_sessions"),
        can_view_promotions: ctx.perms.has("view_promotions"),
    }
    .into_response())
}

#[derive(Deserialize)]
struct NameForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    form_id: Option<i64>,
}

async fn add_subject(
    ctx: SchoolCtx,
    messages: Messages,
    headers: HeaderMap,
    Form(f): Form<NameForm>,
) -> AppResult<Response> {
    let input = SubjectInput {
        name: Some(f.name),
        code: Some(f.code),
    };
    act(
        ctx,
        &messages,
        &headers,
        "/academics",
        |s: &Subject| format!("Subject {} added.", s.name),
        async move |ctx: &mut SchoolCtx| {
            let s = save_subject(&mut ctx.tx, None, &input, ctx.now).await?;
            ctx.audit_created("subject", s.id, &s).await?;
            Ok(s)
        },
    )
    .await
}

async fn add_form(
    ctx: SchoolCtx,
    messages: Messages,
    headers: HeaderMap,
    Form(f): Form<NameForm>,
) -> AppResult<Response> {
    let input = ClassLevelInput {
        name: Some(f.name),
        ordinal: None,
    };
    act(
        ctx,
        &messages,
        &headers,
        "/academics",
        |s: &db::ClassLevel| format!("Class level {} added.", s.name),
        async move |ctx: &mut SchoolCtx| {
            let s = save_form(&mut ctx.tx, None, &input, ctx.now).await?;
            ctx.audit_created("form", s.id, &s).await?;
            Ok(s)
        },
    )
    .await
}

async fn add_arm(
    ctx: SchoolCtx,
    messages: Messages,
    headers: HeaderMap,
    Form(f): Form<NameForm>,
) -> AppResult<Response> {
    let input = ClassArmInput {
        name: Some(f.name),
        form_id: f.form_id,
    };
    act(
        ctx,
        &messages,
        &headers,
        "/academics",
        |(s, added): &(ClassArm, Option<String>)| match added {
            Some(session) => format!("Class {} added and opened in {session}, offering every subject.", s.name),
            None => format!("Class {} added.", s.name),
        },
        async move |ctx: &mut SchoolCtx| {
            let s = save_class_arm(&mut ctx.tx, None, &input, ctx.now).await?;
            ctx.audit_created("class", s.id, &s).await?;
            // A new arm is wanted this session: open it there, as the set-up does.
            let mut added = None;
            if let Some(session) = db::current_session(&mut ctx.tx).await? {
                let subjects = db::subjects(&mut ctx.tx)
                    .await?
                    .into_iter()
                    .map(|sub| SubjectTeacher { subject_id: sub.id, teacher_id: None, is_elective: false })
                    .collect();
                let input = AcademicClassInput { class_id: Some(s.id), class_teacher_id: None, subjects: Some(subjects) };
                let ac = save_academic_class(&mut ctx.tx, ctx.school.id, &session, None, &input, ctx.now).await?;
                ctx.audit("create", "academic_class", ac.id, serde_json::json!({"class": {"to": ac.class_name}, "session": {"to": session.name}})).await?;
                added = Some(session.name);
            }
            Ok((s, added))
        },
    )
    .await
}

#[derive(Deserialize)]
struct SessionForm {
    #[serde(default)]
    name: String,
    starts_on: Option<NaiveDate>,
    ends_on: Option<NaiveDate>,
    is_current: Option<String>,
}

async fn add_session(
    ctx: SchoolCtx,
    messages: Messages,
    headers: HeaderMap,
    Form(f): Form<SessionForm>,
) -> AppResult<Response> {
    let input = AcademicSessionInput {
        name: Some(f.name),
        starts_on: f.starts_on,
        ends_on: f.ends_on,
        is_current: Some(f.is_current.is_some()),
    };
    act(
        ctx,
        &messages,
        &headers,
        "/academics",
        |s: &AcademicSession| format!("Session {} added.", s.name),
        async move |ctx: &mut SchoolCtx| {
            let s = save_session(&mut ctx.tx, None, &input, ctx.now).await?;
            ctx.audit_created("session", s.id, &s).await?;
            Ok(s)
        },
    )
    .await
}

#[derive(Deserialize)]
struct TermForm {
    session_id: i64,
    ordinal: Option<i16>,
    starts_on: Option<NaiveDate>,
    ends_on: Option<NaiveDate>,
    next_term_begins: Option<String>,
    is_current: Option<String>,
}

async fn add_term(
    ctx: SchoolCtx,
    messages: Messages,
    headers: HeaderMap,
    Form(f): Form<TermForm>,
) -> AppResult<Response> {
    let next = f
        .next_term_begins
        .as_deref()
        .filter(|s| !s.is_empty())
        .and_then(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok());
    let input = TermInput {
        ordinal: f.ordinal,
        name: None,
        starts_on: f.starts_on,
        ends_on: f.ends_on,
        next_term_begins: next,
        is_current: Some(f.is_current.is_some()),
    };
    act(
        ctx,
        &messages,
        &headers,
        "/academics",
        |t: &Term| format!("{} added.", t.name),
        async move |ctx: &mut SchoolCtx| {
            let s = db::session(&mut ctx.tx, f.session_id).await?;
            let t = save_term(&mut ctx.tx, &s, None, &input, ctx.now).await?;
            ctx.audit_created("term", t.id, &t).await?;
            Ok(t)
        },
    )
    .await
}

#[derive(Deserialize)]
struct IdForm {
    id: i64,
}

async fn make_current(
    ctx: SchoolCtx,
    messages: Messages,
    headers: HeaderMap,
    Form(f): Form<IdForm>,
) -> AppResult<Response> {
    act(
        ctx,
        &messages,
        &headers,
        "/academics",
        |s: &AcademicSession| format!("{} is now the current session.", s.name),
        async move |ctx: &mut SchoolCtx| {
            let before = db::session(&mut ctx.tx, f.id).await?;
            let s = save_session(
                &mut ctx.tx,
                Some(f.id),
                &AcademicSessionInput {
                    is_current: Some(true),
                    ..Default::default()
                },
                ctx.now,
            )
            .await?;
            ctx.audit(
                "update",
                "session",
                s.id,
                serde_json::json!({"is_current": {"from": before.is_current, "to": true}}),
            )
            .await?;
            Ok(s)
        },
    )
    .await
}

#[derive(Deserialize)]
struct TermIdForm {
    session_id: i64,
    id: i64,
}

async fn make_term_current(
    ctx: SchoolCtx,
    messages: Messages,
    headers: HeaderMap,
    Form(f): Form<TermIdForm>,
) -> AppResult<Response> {
    act(
        ctx,
        &messages,
        &headers,
        "/academics",
        |t: &Term| format!("{} is now the current term.", t.name),
        async move |ctx: &mut SchoolCtx| {
            let s = db::session(&mut ctx.tx, f.session_id).await?;
            let t = save_term(
                &mut ctx.tx,
                &s,
                Some(f.id),
                &TermInput {
                    is_current: Some(true),
                    ..Default::default()
                },
                ctx.now,
            )
            .await?;
            ctx.audit(
                "update",
                "term",
                t.id,
                serde_json::json!({"is_current": {"to": true}}),
            )
            .await?;
            Ok(t)
        },
    )
    .await
}

// ---- guided set-up ----

/// (number, label, start, end, start field, end field) for the three term rows.
type TermRow = (u8, &'static str, String, String, &'static str, &'static str);

fn term_rows(f: &SetupForm) -> Vec<TermRow> {
    vec![
        (
            1,
            "First term",
            f.term1_starts.clone(),
            f.term1_ends.clone(),
            "term1_starts",
            "term1_ends",
        ),
        (
            2,
            "Second term",
            f.term2_starts.clone(),
            f.term2_ends.clone(),
            "term2_starts",
            "term2_ends",
        ),
        (
            3,
            "Third term",
            f.term3_starts.clone(),
            f.term3_ends.clone(),
            "term3_starts",
            "term3_ends",
        ),
    ]
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/setup.html")]
struct SetupPage {
    layout: Layout,
    term_rows: Vec<TermRow>,
    form: SetupForm,
    errors: FormErrors,
    already: bool,
}

async fn setup_form(mut ctx: SchoolCtx, CsrfToken(csrf): CsrfToken) -> AppResult<Response> {
    let already = db::current_session(&mut ctx.tx).await?.is_some();
    let form = SetupForm::suggested(ctx.today());
    Ok(SetupPage {
        layout: ctx.layout("Set up the school year", "academics", &csrf),
        term_rows: term_rows(&form),
        form,
        errors: FormErrors::default(),
        already,
    }
    .into_response())
}

async fn setup_submit(
    mut ctx: SchoolCtx,
    CsrfToken(csrf): CsrfToken,
    messages: Messages,
    headers: HeaderMap,
    Form(form): Form<SetupForm>,
) -> AppResult<Response> {
    // The set-up creates all of these: it needs the permission for each.
    const CREATES: [&str; 6] = [
        "add_sessions",
        "add_terms",
        "add_forms",
        "add_classes",
        "add_subjects",
        "add_academic_classes",
    ];
    let missing: Vec<&str> = CREATES.into_iter().filter(|p| !ctx.perms.has(p)).collect();
    if !missing.is_empty() {
        return Err(AppError::Forbidden(format!(
            "The guided set-up creates sessions, terms, class levels, arms, subjects and classes; you lack {}.",
            missing.join(", ")
        )));
    }
    match setup::run(&mut ctx.tx, ctx.school.id, &form, ctx.now).await {
        Ok(()) => {
            ctx.audit("setup", "school", ctx.school.id, serde_json::json!({"session": form.session_name, "forms": form.forms.lines().count(), "subjects": form.subjects.lines().count()})).await?;
            ctx.commit().await?;
            flash::success(
                &messages,
                "Your school year is set up: session, terms, classes and subjects are ready.",
            );
            Ok(see_other(&headers, "/classes"))
        }
        Err(e) => {
            let errors = field_errors(e)?;
            ctx.restart().await?;
            Ok(with_status(
                SetupPage {
                    layout: ctx.layout("Set up the school year", "academics", &csrf),
                    term_rows: term_rows(&form),
                    form,
                    errors,
                    already: false,
                }
                .into_response(),
                StatusCode::UNPROCESSABLE_ENTITY,
            ))
        }
    }
}

// ---- classes of the current session ----

#[derive(Template, WebTemplate)]
#[template(path = "pages/classes.html")]
struct ClassesPage {
    layout: Layout,
    session: Option<AcademicSession>,
    classes: Vec<AcademicClass>,
    arms: Vec<ClassArm>,
    staff: Vec<(i64, String)>,
    can_add: bool,
}

async fn classes(mut ctx: SchoolCtx, CsrfToken(csrf): CsrfToken) -> AppResult<Response> {
    let session = db::current_session(&mut ctx.tx).await?;
    let classes = match &session {
        Some(s) => db::academic_classes(&mut ctx.tx, s.id).await?,
        None => Vec::new(),
    };
    let arms = db::class_arms(&mut ctx.tx).await?;
    let arms = arms
        .into_iter()
        .filter(|a| !classes.iter().any(|c| c.class_id == a.id))
        .collect();
    let staff = db::staff_options(&mut ctx.tx, ctx.school.id).await?;
    Ok(ClassesPage {
        layout: ctx.layout("Classes", "classes", &csrf),
        session,
        classes,
        arms,
        staff,
        can_add: ctx.perms.has("add_academic_classes"),
    }
    .into_response())
}

#[derive(Deserialize)]
struct NewClassForm {
    class_id: Option<i64>,
    class_teacher_id: Option<String>,
}

fn opt_id(raw: &Option<String>) -> Option<i64> {
    raw.as_deref().and_then(|s| s.parse().ok())
}

async fn add_class(
    ctx: SchoolCtx,
    messages: Messages,
    headers: HeaderMap,
    Form(f): Form<NewClassForm>,
) -> AppResult<Response> {
    let input = AcademicClassInput {
        class_id: f.class_id,
        class_teacher_id: opt_id(&f.class_teacher_id),
        subjects: None,
    };
    act(
        ctx,
        &messages,
        &headers,
        "/classes",
        |c: &AcademicClass| format!("{} added to this session.", c.class_name),
        async move |ctx: &mut SchoolCtx| {
            let s = db::current_session(&mut ctx.tx)
                .await?
                .ok_or_else(|| AppError::Conflict("Set up a current session first.".into()))?;
            let c =
                save_academic_class(&mut ctx.tx, ctx.school.id, &s, None, &input, ctx.now).await?;
            ctx.audit(
                "create",
                "academic_class",
                c.id,
                serde_json::json!({"class": {"to": c.class_name}}),
            )
            .await?;
            Ok(c)
        },
    )
    .await
}

/// The class form posts `teacher` and, per subject, `subject` (offered) and `teacher_<id>`.
async fn save_class_settings(
    ctx: SchoolCtx,
    messages: Messages,
    headers: HeaderMap,
    ApiPath(id): ApiPath<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let back = format!("/classes/{id}");
    let get = |k: &str| {
        pairs
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
    };
    let class_teacher_id = get("class_teacher_id").and_then(|v| v.parse().ok());
    let subjects: Vec<SubjectTeacher> = pairs
        .iter()
        .filter(|(k, _)| k == "subject")
        .filter_map(|(_, v)| v.parse::<i64>().ok())
        .map(|s| SubjectTeacher {
            subject_id: s,
            teacher_id: get(&format!("teacher_{s}")).and_then(|v| v.parse().ok()),
            is_elective: get(&format!("elective_{s}")).is_some(),
        })
        .collect();
    act(ctx, &messages, &headers, &back, |c: &AcademicClass| format!("{} saved.", c.class_name), async move |ctx: &mut SchoolCtx| {
        let before = db::academic_class_by_id(&mut ctx.tx, id).await?;
        let s = db::session(&mut ctx.tx, before.session_id).await?;
        let after = save_academic_class(&mut ctx.tx, ctx.school.id, &s, Some(id), &AcademicClassInput { class_id: None, class_teacher_id, subjects: Some(subjects) }, ctx.now).await?;
        let to = |c: &AcademicClass| serde_json::json!({"class_teacher_id": c.class_teacher_id, "subjects": c.subjects.iter().map(|s| (s.subject_id, s.teacher_id, s.is_elective)).collect::<Vec<_>>()});
        ctx.audit("update", "academic_class", id, crate::audit::trail::diff(&to(&before), &to(&after))).await?;
        Ok(after)
    })
    .await
}

/// Deletes a part of the structure and goes back to the Academics page with the outcome.
async fn delete_part(
    ctx: SchoolCtx,
    messages: &Messages,
    headers: &HeaderMap,
    what: Deletable,
    id: i64,
) -> AppResult<Response> {
    act(
        ctx,
        messages,
        headers,
        "/academics",
        |name: &String| format!("{name} deleted."),
        async move |ctx: &mut SchoolCtx| service::delete(ctx, what, id).await,
    )
    .await
}

async fn delete_subject(
    ctx: SchoolCtx,
    messages: Messages,
    headers: HeaderMap,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Response> {
    delete_part(ctx, &messages, &headers, Deletable::Subject, id).await
}

async fn delete_form(
    ctx: SchoolCtx,
    messages: Messages,
    headers: HeaderMap,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Response> {
    delete_part(ctx, &messages, &headers, Deletable::ClassLevel, id).await
}

async fn delete_arm(
    ctx: SchoolCtx,
    messages: Messages,
    headers: HeaderMap,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Response> {
    delete_part(ctx, &messages, &headers, Deletable::ClassArm, id).await
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/academics",
            get(overview).layer(guard_exact(Action::View, "sessions")),
        )
        .route(
            "/academics/subjects",
            post(add_subject).layer(guard_exact(Action::Add, "subjects")),
        )
        .route(
            "/academics/subjects/{id}/delete",
            post(delete_subject).layer(guard_exact(Action::Delete, "subjects")),
        )
        .route(
            "/academics/forms/{id}/delete",
            post(delete_form).layer(guard_exact(Action::Delete, "forms")),
        )
        .route(
            "/academics/arms/{id}/delete",
            post(delete_arm).layer(guard_exact(Action::Delete, "classes")),
        )
        .route(
            "/academics/forms",
            post(add_form).layer(guard_exact(Action::Add, "forms")),
        )
        .route(
            "/academics/arms",
            post(add_arm).layer(guard_exact(Action::Add, "classes")),
        )
        .route(
            "/academics/sessions",
            post(add_session).layer(guard_exact(Action::Add, "sessions")),
        )
        .route(
            "/academics/sessions/current",
            post(make_current).layer(guard_exact(Action::Change, "sessions")),
        )
        .route(
            "/academics/terms",
            post(add_term).layer(guard_exact(Action::Add, "terms")),
        )
        .route(
            "/academics/terms/current",
            post(make_term_current).layer(guard_exact(Action::Change, "terms")),
        )
        .route(
            "/setup",
            get(setup_form)
                .post(setup_submit)
                .layer(guard_exact(Action::Add, "sessions")),
        )
        .route(
            "/classes",
            get(classes)
                .post(add_class)
                .layer(guard("academic_classes")),
        )
        .route(
            "/classes/{id}/settings",
            post(save_class_settings).layer(guard_exact(Action::Change, "academic_classes")),
        )
}
