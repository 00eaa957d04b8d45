//! Parents on WhatsApp in the school's browser pages: a guardian's WhatsApp page (links,
//! a one-time link code, ending a link after a confirmation), and Settings → WhatsApp (the
//! own number, templates, the grace period, the last problem, a test message, and the
//! lists of linked parents, conversations and failures). Every change goes through the
//! same services as the API.

use std::collections::HashMap;

use askama::Template;
use askama_web::WebTemplate;
use axum::{
    Router,
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode, Uri, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use axum_messages::Messages;
use serde::Deserialize;

use super::{
    staff_links::{self, EndLinkInput, GuardianLink, IssuedCode, PendingCode},
    staff_settings::{
        self, ChatMessage, Delivery, LinkedParent, TestMessageInput, WhatsAppSettings,
        WhatsAppSettingsInput,
    },
};
use crate::{
    auth::csrf::CsrfToken,
    context::SchoolCtx,
    error::{AppError, AppResult},
    http::{ApiPath, ApiQuery, Form, ListParams, Page},
    permissions::{access::guard_exact, catalogue::Action},
    state::AppState,
    students::{self, guardians::Guardian},
    web::{
        flash,
        htmx::see_other,
        kit::{FormErrors, field_errors, message_of, with_status},
        layout::Layout,
    },
};

/// A page that may carry a secret (a link code) is never cached.
fn no_store(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

// ---- a guardian's WhatsApp ----

#[derive(Template, WebTemplate)]
#[template(path = "pages/guardian_whatsapp.html")]
struct GuardianPage {
    layout: Layout,
    guardian: Guardian,
    student_name: String,
    links: Vec<GuardianLink>,
    /// A code given earlier and still waiting.
    pending: Option<PendingCode>,
    /// The code just issued: shown this once.
    issued: Option<IssuedCode>,
    can_change: bool,
    /// "the school's own WhatsApp number" or "the Schoolyard WhatsApp number".
    number: String,
}

impl GuardianPage {
    fn live(&self) -> impl Iterator<Item = &GuardianLink> {
        self.links.iter().filter(|l| l.is_live())
    }

    fn ended(&self) -> impl Iterator<Item = &GuardianLink> {
        self.links.iter().filter(|l| !l.is_live())
    }

    fn has_live(&self) -> bool {
        self.live().next().is_some()
    }

    fn has_ended(&self) -> bool {
        self.ended().next().is_some()
    }
}

fn guardian_url(id: i64) -> String {
    format!("/guardians/{id}/whatsapp")
}

async fn guardian_page(
    ctx: &mut SchoolCtx,
    shared_display_phone: Option<&str>,
    csrf: &str,
    id: i64,
    issued: Option<IssuedCode>,
) -> AppResult<Response> {
    let guardian = staff_links::guardian(&mut ctx.tx, id).await?;
    let student = students::db::get(&mut ctx.tx, guardian.student_id).await?;
    let links = staff_links::links_of(&mut ctx.tx, id).await?;
    let pending = staff_links::pending_code(&mut ctx.tx, id, ctx.now).await?;
    let number = staff_links::number_for_parents(ctx, shared_display_phone).await?;
    let page = GuardianPage {
        layout: ctx.layout(
            &format!("{} on WhatsApp", guardian.full_name),
            "students",
            csrf,
        ),
        guardian,
        student_name: student.full_name(),
        links,
        pending,
        issued,
        can_change: ctx.perms.has("change_guardians"),
        number,
    };
    Ok(no_store(page.into_response()))
}

async fn show_guardian(
    State(state): State<AppState>,
    mut ctx: SchoolCtx,
    CsrfToken(csrf): CsrfToken,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Response> {
    let shared = state.config.whatsapp.shared_display_phone.as_deref();
    guardian_page(&mut ctx, shared, &csrf, id, None).await
}

/// Issues a code and shows it on the page this once (the page is read in the same
/// transaction, then committed). A refusal (no phone) goes back with its message.
async fn issue_code(
    State(state): State<AppState>,
    mut ctx: SchoolCtx,
    CsrfToken(csrf): CsrfToken,
    messages: Messages,
    headers: HeaderMap,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Response> {
    let shared = state.config.whatsapp.shared_display_phone.as_deref();
    match staff_links::issue_code(&mut ctx, shared, id).await {
        Ok(issued) => {
            let page = guardian_page(&mut ctx, shared, &csrf, id, Some(issued)).await?;
            ctx.commit().await?;
            Ok(page)
        }
        Err(e @ AppError::Validation { .. }) => {
            flash::error(&messages, message_of(&e));
            Ok(see_other(&headers, &guardian_url(id)))
        }
        Err(e) => Err(e),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/whatsapp_confirm.html")]
struct ConfirmPage {
    layout: Layout,
    heading: String,
    /// What will happen, in a sentence.
    question: String,
    /// (label, value) about what is ended or removed.
    details: Vec<(&'static str, String)>,
    action: String,
    button: &'static str,
    back: String,
    /// Ask why (ending a link), with what was typed.
    asks_reason: bool,
    reason: String,
    errors: FormErrors,
}

async fn end_confirm_page(
    ctx: &mut SchoolCtx,
    csrf: &str,
    id: i64,
    link: &GuardianLink,
    reason: String,
    errors: FormErrors,
) -> AppResult<Response> {
    let guardian = staff_links::guardian(&mut ctx.tx, id).await?;
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let layout = ctx.layout("End a WhatsApp link", "students", csrf);
    let linked = layout.when(link.linked_at);
    let page = ConfirmPage {
        layout,
        heading: "End this WhatsApp link?".to_owned(),
        question: format!(
            "{} will no longer get {}'s messages on WhatsApp at {}. To link again, they need a new code.",
            guardian.full_name, link.student_name, link.wa_phone
        ),
        details: vec![
            ("Guardian", guardian.full_name.clone()),
            ("Pupil", link.student_name.clone()),
            ("WhatsApp", link.wa_phone.clone()),
            ("Linked", linked),
        ],
        action: format!("/guardians/{id}/whatsapp/links/{}/end", link.id),
        button: "End link",
        back: guardian_url(id),
        asks_reason: true,
        reason,
        errors,
    };
    Ok(with_status(page.into_response(), status))
}

async fn confirm_end(
    mut ctx: SchoolCtx,
    CsrfToken(csrf): CsrfToken,
    messages: Messages,
    headers: HeaderMap,
    ApiPath((id, link_id)): ApiPath<(i64, i64)>,
) -> AppResult<Response> {
    match staff_links::live_link(&mut ctx.tx, id, link_id).await {
        Ok(link) => {
            end_confirm_page(
                &mut ctx,
                &csrf,
                id,
                &link,
                String::new(),
                FormErrors::default(),
            )
            .await
        }
        Err(e @ AppError::Conflict(_)) => {
            flash::error(&messages, message_of(&e));
            Ok(see_other(&headers, &guardian_url(id)))
        }
        Err(e) => Err(e),
    }
}

#[derive(Deserialize)]
struct EndForm {
    #[serde(default)]
    reason: String,
}

async fn end_link(
    mut ctx: SchoolCtx,
    CsrfToken(csrf): CsrfToken,
    messages: Messages,
    headers: HeaderMap,
    ApiPath((id, link_id)): ApiPath<(i64, i64)>,
    Form(f): Form<EndForm>,
) -> AppResult<Response> {
    let input = EndLinkInput {
        reason: Some(f.reason.clone()),
    };
    match staff_links::end_link(&mut ctx, id, link_id, &input).await {
        Ok(link) => {
            ctx.commit().await?;
            flash::success(
                &messages,
                format!(
                    "Link ended: {} no longer gets {}'s messages.",
                    link.wa_phone, link.student_name
                ),
            );
            Ok(see_other(&headers, &guardian_url(id)))
        }
        Err(e @ AppError::Conflict(_)) => {
            flash::error(&messages, message_of(&e));
            Ok(see_other(&headers, &guardian_url(id)))
        }
        Err(e) => {
            let errors = field_errors(e)?;
            ctx.restart().await?;
            let link = staff_links::live_link(&mut ctx.tx, id, link_id).await?;
            end_confirm_page(&mut ctx, &csrf, id, &link, f.reason, errors).await
        }
    }
}

// ---- Settings → WhatsApp ----

const SETTINGS: &str = "/settings/whatsapp";
/// Rows of the short lists on the settings page.
const RECENT: i64 = 10;

#[derive(Template, WebTemplate)]
#[template(path = "pages/whatsapp_settings.html")]
struct SettingsPage {
    layout: Layout,
    s: WhatsAppSettings,
    can_change: bool,
    /// Whether the platform has a shared number to fall back on.
    shared_number: bool,
    linked: i64,
    recent: Vec<Delivery>,
    conversation: Vec<ChatMessage>,
    /// The form that was refused (`number`, `templates`, `test`) and what it sent.
    failed: String,
    sent: HashMap<String, String>,
    /// Keyed `<form>.<field>`.
    errors: FormErrors,
}

impl SettingsPage {
    /// What the refused form sent in `field`, else `saved`.
    fn value(&self, form: &str, field: &str, saved: &str) -> String {
        if self.failed == form {
            self.sent.get(field).cloned().unwrap_or_default()
        } else {
            saved.to_owned()
        }
    }

    fn error(&self, form: &str, field: &str) -> String {
        self.errors.get(&format!("{form}.{field}"))
    }

    /// A refused form's problems that belong to none of its fields.
    fn others(&self, form: &str, fields: &[&str]) -> Vec<String> {
        let shown: Vec<String> = fields.iter().map(|f| format!("{form}.{f}")).collect();
        let shown: Vec<&str> = shown.iter().map(String::as_str).collect();
        self.errors
            .0
            .iter()
            .filter(|(k, _)| k.starts_with(&format!("{form}.")) && !shown.contains(&k.as_str()))
            .flat_map(|(_, v)| v.clone())
            .collect()
    }
}

async fn render_settings(
    mut ctx: SchoolCtx,
    state: &AppState,
    csrf: &str,
    failed: &str,
    sent: HashMap<String, String>,
    errors: FormErrors,
) -> AppResult<Response> {
    let school = ctx.school.id;
    let page = SettingsPage {
        s: staff_settings::load(&mut ctx.tx, school).await?,
        can_change: ctx.perms.has("change_settings"),
        shared_number: state.config.whatsapp.shared_number_id.is_some(),
        linked: staff_settings::live_link_count(&mut ctx.tx).await?,
        recent: staff_settings::recent_deliveries(&mut ctx.tx, RECENT).await?,
        conversation: staff_settings::messages(
            &mut ctx.tx,
            &ListParams {
                page_size: Some(RECENT),
                ..ListParams::default()
            },
        )
        .await?
        .0,
        failed: failed.to_owned(),
        sent,
        errors: FormErrors::of_form(failed, errors.0),
        layout: ctx.layout("WhatsApp", "settings", csrf),
    };
    let status = page.errors.status();
    Ok(with_status(page.into_response(), status))
}

async fn settings_page(
    State(state): State<AppState>,
    ctx: SchoolCtx,
    CsrfToken(csrf): CsrfToken,
) -> AppResult<Response> {
    render_settings(
        ctx,
        &state,
        &csrf,
        "",
        HashMap::new(),
        FormErrors::default(),
    )
    .await
}

/// Where a settings form's outcome goes: the page again (its CSRF token) or a flash
/// message and a redirect.
struct Reply<'a> {
    csrf: &'a str,
    messages: &'a Messages,
    headers: &'a HeaderMap,
}

/// Runs a change of a settings form: on success commits and goes back with `done`; a
/// refused form is shown again with its messages and what it sent (never a token).
async fn finish(
    mut ctx: SchoolCtx,
    state: &AppState,
    reply: Reply<'_>,
    form: &str,
    mut sent: HashMap<String, String>,
    outcome: AppResult<String>,
) -> AppResult<Response> {
    sent.remove("access_token");
    sent.remove("csrf_token");
    match outcome {
        Ok(done) => {
            ctx.commit().await?;
            flash::success(reply.messages, done);
            Ok(see_other(reply.headers, SETTINGS))
        }
        Err(e) => {
            let errors = field_errors(e)?;
            ctx.restart().await?;
            render_settings(ctx, state, reply.csrf, form, sent, errors).await
        }
    }
}

fn text(sent: &HashMap<String, String>, field: &str) -> String {
    sent.get(field)
        .map(|v| v.trim().to_owned())
        .unwrap_or_default()
}

async fn save_number(
    State(state): State<AppState>,
    mut ctx: SchoolCtx,
    CsrfToken(csrf): CsrfToken,
    messages: Messages,
    headers: HeaderMap,
    Form(sent): Form<HashMap<String, String>>,
) -> AppResult<Response> {
    let outcome = async {
        let id = text(&sent, "phone_number_id");
        if id.is_empty() {
            return Err(AppError::field(
                "phone_number_id",
                "Enter the number's phone number id. (To use the shared number, remove the own number below.)",
            ));
        }
        let input = WhatsAppSettingsInput {
            phone_number_id: Some(id),
            access_token: Some(sent.get("access_token").cloned().unwrap_or_default()),
            display_phone: Some(sent.get("display_phone").cloned().unwrap_or_default()),
            ..WhatsAppSettingsInput::default()
        };
        staff_settings::save(&mut ctx, &state.config.whatsapp, &input).await?;
        Ok("The school's own number is saved: messages go out from it.".to_owned())
    }
    .await;
    let reply = Reply {
        csrf: &csrf,
        messages: &messages,
        headers: &headers,
    };
    finish(ctx, &state, reply, "number", sent, outcome).await
}

async fn confirm_remove_number(
    mut ctx: SchoolCtx,
    CsrfToken(csrf): CsrfToken,
    messages: Messages,
    headers: HeaderMap,
) -> AppResult<Response> {
    let Some((id, _)) = staff_settings::own_number(&mut ctx.tx, ctx.school.id).await? else {
        flash::error(&messages, "The school has no own number to remove.");
        return Ok(see_other(&headers, SETTINGS));
    };
    let page = ConfirmPage {
        layout: ctx.layout("Remove the own number", "settings", &csrf),
        heading: "Remove the school's own WhatsApp number?".to_owned(),
        question: "Its access token is deleted. Messages to parents then go out from the Schoolyard shared number, and parents who write to the school's own number get no answer.".to_owned(),
        details: vec![("Phone number id", id)],
        action: format!("{SETTINGS}/number/remove"),
        button: "Remove the own number",
        back: SETTINGS.to_owned(),
        asks_reason: false,
        reason: String::new(),
        errors: FormErrors::default(),
    };
    Ok(page.into_response())
}

async fn remove_number(
    State(state): State<AppState>,
    mut ctx: SchoolCtx,
    messages: Messages,
    headers: HeaderMap,
) -> AppResult<Response> {
    let input = WhatsAppSettingsInput {
        phone_number_id: Some(String::new()),
        ..WhatsAppSettingsInput::default()
    };
    staff_settings::save(&mut ctx, &state.config.whatsapp, &input).await?;
    ctx.commit().await?;
    flash::success(
        &messages,
        "The own number is removed: messages go out from the shared number.",
    );
    Ok(see_other(&headers, SETTINGS))
}

/// A number typed in a form: blank leaves the setting alone; anything else that is not a
/// number is out of range, so the field's own message explains it.
fn typed_number(raw: &str) -> Option<i16> {
    let raw = raw.trim();
    (!raw.is_empty()).then(|| raw.parse().unwrap_or(-1))
}

async fn save_templates(
    State(state): State<AppState>,
    mut ctx: SchoolCtx,
    CsrfToken(csrf): CsrfToken,
    messages: Messages,
    headers: HeaderMap,
    Form(sent): Form<HashMap<String, String>>,
) -> AppResult<Response> {
    let input = WhatsAppSettingsInput {
        absence_template: Some(text(&sent, "absence_template")),
        results_template: Some(text(&sent, "results_template")),
        template_language: Some(text(&sent, "template_language")),
        absence_grace_minutes: typed_number(&text(&sent, "absence_grace_minutes")),
        ..WhatsAppSettingsInput::default()
    };
    let outcome = staff_settings::save(&mut ctx, &state.config.whatsapp, &input)
        .await
        .map(|_| "Messages to parents saved.".to_owned());
    let reply = Reply {
        csrf: &csrf,
        messages: &messages,
        headers: &headers,
    };
    finish(ctx, &state, reply, "templates", sent, outcome).await
}

async fn problem_fixed(
    State(state): State<AppState>,
    mut ctx: SchoolCtx,
    messages: Messages,
    headers: HeaderMap,
) -> AppResult<Response> {
    let input = WhatsAppSettingsInput {
        problem_fixed: Some(true),
        ..WhatsAppSettingsInput::default()
    };
    staff_settings::save(&mut ctx, &state.config.whatsapp, &input).await?;
    ctx.commit().await?;
    flash::success(
        &messages,
        "Marked as fixed. If the next message fails again, the problem shows here again.",
    );
    Ok(see_other(&headers, SETTINGS))
}

async fn send_test(
    State(state): State<AppState>,
    mut ctx: SchoolCtx,
    CsrfToken(csrf): CsrfToken,
    messages: Messages,
    headers: HeaderMap,
    Form(sent): Form<HashMap<String, String>>,
) -> AppResult<Response> {
    let input = TestMessageInput {
        phone: text(&sent, "phone"),
    };
    let outcome = staff_settings::queue_test_message(&mut ctx, &state.config.whatsapp, &input)
        .await
        .map(|_| "Queued; its delivery shows below.".to_owned());
    let reply = Reply {
        csrf: &csrf,
        messages: &messages,
        headers: &headers,
    };
    finish(ctx, &state, reply, "test", sent, outcome).await
}

// ---- the lists ----

#[derive(Debug, Deserialize)]
struct ListQuery {
    page: Option<i64>,
    #[serde(default)]
    search: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/whatsapp_activity.html")]
struct ActivityPage {
    layout: Layout,
    /// `parents`, `conversations` or `failures`.
    kind: &'static str,
    search: String,
    parents: Option<Page<LinkedParent>>,
    conversation: Option<Page<ChatMessage>>,
    failures: Option<Page<Delivery>>,
}

impl ActivityPage {
    fn count(&self) -> i64 {
        self.parents
            .as_ref()
            .map(|p| p.count)
            .or(self.conversation.as_ref().map(|p| p.count))
            .or(self.failures.as_ref().map(|p| p.count))
            .unwrap_or(0)
    }

    fn previous(&self) -> Option<String> {
        self.parents
            .as_ref()
            .map(|p| p.previous.clone())
            .or(self.conversation.as_ref().map(|p| p.previous.clone()))
            .or(self.failures.as_ref().map(|p| p.previous.clone()))
            .flatten()
    }

    fn next(&self) -> Option<String> {
        self.parents
            .as_ref()
            .map(|p| p.next.clone())
            .or(self.conversation.as_ref().map(|p| p.next.clone()))
            .or(self.failures.as_ref().map(|p| p.next.clone()))
            .flatten()
    }
}

async fn activity(
    mut ctx: SchoolCtx,
    csrf: &str,
    uri: &Uri,
    kind: &'static str,
    q: ListQuery,
) -> AppResult<Response> {
    let params = ListParams {
        page: q.page,
        page_size: Some(25),
        search: Some(q.search.clone()).filter(|s| !s.trim().is_empty()),
        ordering: None,
    };
    let mut page = ActivityPage {
        layout: ctx.layout("WhatsApp", "settings", csrf),
        kind,
        search: q.search,
        parents: None,
        conversation: None,
        failures: None,
    };
    match kind {
        "parents" => {
            let (rows, count) = staff_settings::linked_parents(&mut ctx.tx, &params).await?;
            page.parents = Some(Page::new(rows, count, &params, uri)?);
        }
        "conversations" => {
            let (rows, count) = staff_settings::messages(&mut ctx.tx, &params).await?;
            page.conversation = Some(Page::new(rows, count, &params, uri)?);
        }
        _ => {
            let (rows, count) = staff_settings::failures(&mut ctx.tx, &params).await?;
            page.failures = Some(Page::new(rows, count, &params, uri)?);
        }
    }
    Ok(page.into_response())
}

async fn parents_page(
    ctx: SchoolCtx,
    CsrfToken(csrf): CsrfToken,
    uri: Uri,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> AppResult<Response> {
    activity(ctx, &csrf, &uri, "parents", q).await
}

async fn conversations_page(
    ctx: SchoolCtx,
    CsrfToken(csrf): CsrfToken,
    uri: Uri,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> AppResult<Response> {
    activity(ctx, &csrf, &uri, "conversations", q).await
}

async fn failures_page(
    ctx: SchoolCtx,
    CsrfToken(csrf): CsrfToken,
    uri: Uri,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> AppResult<Response> {
    activity(ctx, &csrf, &uri, "failures", q).await
}

pub fn router() -> Router<AppState> {
    let view_settings = guard_exact(Action::View, "settings");
    let change_settings = guard_exact(Action::Change, "settings");
    Router::new()
        .route(
            "/guardians/{id}/whatsapp",
            get(show_guardian).layer(guard_exact(Action::View, "guardians")),
        )
        .route(
            "/guardians/{id}/whatsapp/code",
            post(issue_code).layer(guard_exact(Action::Change, "guardians")),
        )
        .route(
            "/guardians/{id}/whatsapp/links/{link_id}/end",
            get(confirm_end)
                .post(end_link)
                .layer(guard_exact(Action::Change, "guardians")),
        )
        .route(SETTINGS, get(settings_page).layer(view_settings))
        .route(
            "/settings/whatsapp/number",
            post(save_number).layer(change_settings),
        )
        .route(
            "/settings/whatsapp/number/remove",
            get(confirm_remove_number)
                .post(remove_number)
                .layer(change_settings),
        )
        .route(
            "/settings/whatsapp/templates",
            post(save_templates).layer(change_settings),
        )
        .route(
            "/settings/whatsapp/problem/fixed",
            post(problem_fixed).layer(change_settings),
        )
        .route(
            "/settings/whatsapp/test",
            post(send_test).layer(change_settings),
        )
        .route(
            "/settings/whatsapp/parents",
            get(parents_page).layer(view_settings),
        )
        .route(
            "/settings/whatsapp/conversations",
            get(conversations_page).layer(view_settings),
        )
        .route(
            "/settings/whatsapp/failures",
            get(failures_page).layer(view_settings),
        )
}
