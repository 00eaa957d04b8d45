//! The school's attendance set-up in the browser: closures and weekend openings (terms
//! permissions), codes and reasons (school settings). Each form goes through the same
//! functions as the API, so its rules and audit are the same.

use std::collections::HashMap;

use askama::Template;
use askama_web::WebTemplate;
use axum::{
    Router,
    http::HeaderMap,
    response::{IntoResponse, Response},
    routing::{get, post},
};
use axum_messages::Messages;
use chrono::NaiveDate;

use super::{
    calendar::{self, Closure, ClosureInput, WeekendOpening, WeekendOpeningInput},
    codes::{self, AttendanceCode, AttendanceCodeInput, AttendanceReason, AttendanceReasonInput},
};
use crate::{
    auth::csrf::CsrfToken,
    context::SchoolCtx,
    error::{AppError, AppResult},
    http::{ApiPath, Form},
    permissions::access::Guard,
    state::AppState,
    web::kit::{FormErrors, field_errors, with_status},
};

#[derive(Template, WebTemplate)]
#[template(path = "pages/attendance_setup.html")]
struct SetupPage {
    layout: crate::web::layout::Layout,
    closures: Vec<Closure>,
    openings: Vec<WeekendOpening>,
    codes: Vec<AttendanceCode>,
    reasons: Vec<AttendanceReason>,
    counts_as: &'static [(&'static str, &'static str)],
    can_calendar: bool,
    can_remove: bool,
    can_settings: bool,
    /// The form that was refused (`closure`, `opening`, `code`, `reason`) and what it sent.
    failed: String,
    sent: HashMap<String, String>,
    /// Keyed `<form>.<field>`.
    errors: FormErrors,
}

impl SetupPage {
    /// What the refused form sent in `field`, so nothing typed is lost.
    fn sent_value(&self, form: &str, field: &str) -> String {
        if self.failed == form {
            self.sent.get(field).cloned().unwrap_or_default()
        } else {
            String::new()
        }
    }

    fn error(&self, form: &str, field: &str) -> String {
        self.errors.get(&format!("{form}.{field}"))
    }

    /// An existing code's field: what a refused edit sent, else what is saved.
    fn code_value(&self, c: &AttendanceCode, field: &str) -> String {
        if self.failed == format!("code{}", c.id) {
            return self.sent.get(field).cloned().unwrap_or_default();
        }
        match field {
            "code" => c.code.clone(),
            "name" => c.name.clone(),
            "counts_as" => c.counts_as.clone(),
            "position" => c.position.to_string(),
            _ => String::new(),
        }
    }

    /// Every problem with a refused edit of an existing code.
    fn code_errors(&self, c: &AttendanceCode) -> String {
        let prefix = format!("code{}.", c.id);
        self.errors
            .0
            .iter()
            .filter(|(k, _)| k.starts_with(&prefix))
            .flat_map(|(_, v)| v.iter().cloned())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// What a code may count as, with its words.
const COUNTS_AS: &[(&str, &str)] = &[
    ("present", "Present"),
    ("late", "Late (counts as present)"),
    ("absent", "Absent"),
    ("excused", "Excused (absent, excused)"),
];

async fn render(
    mut ctx: SchoolCtx,
    csrf: &str,
    failed: &str,
    sent: HashMap<String, String>,
    errors: FormErrors,
) -> AppResult<Response> {
    let page = SetupPage {
        closures: calendar::closures(&mut ctx.tx).await?,
        openings: calendar::weekend_openings(&mut ctx.tx).await?,
        codes: codes::all(&mut ctx.tx).await?,
        reasons: codes::reasons(&mut ctx.tx).await?,
        counts_as: COUNTS_AS,
        can_calendar: ctx.perms.has("add_terms"),
        can_remove: ctx.perms.has("delete_terms"),
        can_settings: ctx.perms.has("change_settings"),
        failed: failed.to_owned(),
        sent,
        errors: FormErrors::of_form(failed, errors.0),
        layout: ctx.layout("Calendar and codes", "attendance", csrf),
    };
    let status = page.errors.status();
    Ok(with_status(page.into_response(), status))
}

async fn setup_page(ctx: SchoolCtx, CsrfToken(csrf): CsrfToken) -> AppResult<Response> {
    render(ctx, &csrf, "", HashMap::new(), FormErrors::default()).await
}

const HERE: &str = "/attendance/setup";

fn require(ctx: &SchoolCtx, permission: &str) -> AppResult<()> {
    if ctx.perms.has(permission) {
        Ok(())
    } else {
        Err(AppError::forbidden())
    }
}

/// A date typed in a form: blank or not a date is the field's own message.
fn date_field(sent: &HashMap<String, String>, field: &str) -> Result<NaiveDate, AppError> {
    sent.get(field)
        .and_then(|v| NaiveDate::parse_from_str(v.trim(), "%Y-%m-%d").ok())
        .ok_or_else(|| AppError::field(field, "Choose a date."))
}

/// Runs `save` in the school transaction: on success commits and goes back to the page with
/// `done`; a refused form is shown again with its messages and what it sent.
async fn finish(
    mut ctx: SchoolCtx,
    csrf: &str,
    messages: &Messages,
    headers: &HeaderMap,
    form: &str,
    sent: HashMap<String, String>,
    outcome: AppResult<String>,
) -> AppResult<Response> {
    match outcome {
        Ok(done) => {
            ctx.commit().await?;
            crate::web::flash::success(messages, done);
            Ok(crate::web::htmx::see_other(headers, HERE))
        }
        Err(e) => {
            let errors = field_errors(e)?;
            ctx.restart().await?;
            render(ctx, csrf, form, sent, errors).await
        }
    }
}

async fn add_closure(
    mut ctx: SchoolCtx,
    CsrfToken(csrf): CsrfToken,
    messages: Messages,
    headers: HeaderMap,
    Form(sent): Form<HashMap<String, String>>,
) -> AppResult<Response> {
    require(&ctx, "add_terms")?;
    let outcome = async {
        let input = ClosureInput {
            starts_on: date_field(&sent, "starts_on")?,
            ends_on: match sent.get("ends_on").map(|v| v.trim()) {
                Some("") | None => date_field(&sent, "starts_on")?,
                Some(_) => date_field(&sent, "ends_on")?,
            },
            reason: sent.get("reason").cloned().unwrap_or_default(),
        };
        let closure = calendar::add_closure_audited(&mut ctx, &input).await?;
        Ok(format!(
            "Closed from {} to {}.",
            closure.starts_on, closure.ends_on
        ))
    }
    .await;
    finish(ctx, &csrf, &messages, &headers, "closure", sent, outcome).await
}

async fn delete_closure(
    mut ctx: SchoolCtx,
    messages: Messages,
    headers: HeaderMap,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Response> {
    require(&ctx, "delete_terms")?;
    calendar::remove_closure_audited(&mut ctx, id).await?;
    ctx.commit().await?;
    crate::web::flash::success(
        &messages,
        "Closure removed: those days are school days again.",
    );
    Ok(crate::web::htmx::see_other(&headers, HERE))
}

async fn add_opening(
    mut ctx: SchoolCtx,
    CsrfToken(csrf): CsrfToken,
    messages: Messages,
    headers: HeaderMap,
    Form(sent): Form<HashMap<String, String>>,
) -> AppResult<Response> {
    require(&ctx, "add_terms")?;
    let outcome = async {
        let input = WeekendOpeningInput {
            day: date_field(&sent, "day")?,
            reason: sent.get("reason").cloned().unwrap_or_default(),
        };
        let opening = calendar::add_weekend_opening_audited(&mut ctx, &input).await?;
        Ok(format!(
            "The school opens on {}.",
            opening.day.format("%A %-d %B %Y")
        ))
    }
    .await;
    finish(ctx, &csrf, &messages, &headers, "opening", sent, outcome).await
}

async fn delete_opening(
    mut ctx: SchoolCtx,
    messages: Messages,
    headers: HeaderMap,
    ApiPath(day): ApiPath<NaiveDate>,
) -> AppResult<Response> {
    require(&ctx, "delete_terms")?;
    calendar::remove_weekend_opening_audited(&mut ctx, day).await?;
    ctx.commit().await?;
    crate::web::flash::success(&messages, "Weekend opening removed.");
    Ok(crate::web::htmx::see_other(&headers, HERE))
}

fn code_input(sent: &HashMap<String, String>) -> AttendanceCodeInput {
    let text = |k: &str| sent.get(k).map(|v| v.trim().to_owned());
    AttendanceCodeInput {
        code: text("code"),
        name: text("name"),
        counts_as: text("counts_as"),
        // A checkbox: present when ticked; the form always sends `active_field`.
        is_active: sent
            .contains_key("active_field")
            .then(|| sent.contains_key("is_active")),
        position: text("position")
            .filter(|p| !p.is_empty())
            .map(|p| p.parse().unwrap_or(-1)),
    }
}

async fn save_code(
    mut ctx: SchoolCtx,
    csrf: &str,
    messages: &Messages,
    headers: &HeaderMap,
    id: Option<i64>,
    sent: HashMap<String, String>,
) -> AppResult<Response> {
    require(&ctx, "change_settings")?;
    let input = code_input(&sent);
    let outcome = async {
        let after = codes::save_audited(&mut ctx, id, &input).await?;
        Ok(format!("Code {} saved.", after.code))
    }
    .await;
    let form = id.map_or_else(|| "code".to_owned(), |id| format!("code{id}"));
    finish(ctx, csrf, messages, headers, &form, sent, outcome).await
}

async fn add_code(
    ctx: SchoolCtx,
    CsrfToken(csrf): CsrfToken,
    messages: Messages,
    headers: HeaderMap,
    Form(sent): Form<HashMap<String, String>>,
) -> AppResult<Response> {
    save_code(ctx, &csrf, &messages, &headers, None, sent).await
}

async fn change_code(
    ctx: SchoolCtx,
    CsrfToken(csrf): CsrfToken,
    messages: Messages,
    headers: HeaderMap,
    ApiPath(id): ApiPath<i64>,
    Form(sent): Form<HashMap<String, String>>,
) -> AppResult<Response> {
    save_code(ctx, &csrf, &messages, &headers, Some(id), sent).await
}

async fn save_reason(
    mut ctx: SchoolCtx,
    csrf: &str,
    messages: &Messages,
    headers: &HeaderMap,
    id: Option<i64>,
    sent: HashMap<String, String>,
) -> AppResult<Response> {
    require(&ctx, "change_settings")?;
    let input = AttendanceReasonInput {
        name: sent.get("name").map(|n| n.trim().to_owned()),
        is_active: sent.get("is_active").map(|v| v == "true"),
    };
    let outcome = async {
        let after = codes::save_reason_audited(&mut ctx, id, &input).await?;
        Ok(if after.is_active {
            format!("Reason “{}” in use.", after.name)
        } else {
            format!(
                "Reason “{}” retired; marks that carry it keep it.",
                after.name
            )
        })
    }
    .await;
    finish(ctx, csrf, messages, headers, "reason", sent, outcome).await
}

async fn add_reason(
    ctx: SchoolCtx,
    CsrfToken(csrf): CsrfToken,
    messages: Messages,
    headers: HeaderMap,
    Form(sent): Form<HashMap<String, String>>,
) -> AppResult<Response> {
    save_reason(ctx, &csrf, &messages, &headers, None, sent).await
}

async fn change_reason(
    ctx: SchoolCtx,
    CsrfToken(csrf): CsrfToken,
    messages: Messages,
    headers: HeaderMap,
    ApiPath(id): ApiPath<i64>,
    Form(sent): Form<HashMap<String, String>>,
) -> AppResult<Response> {
    save_reason(ctx, &csrf, &messages, &headers, Some(id), sent).await
}

pub fn router() -> Router<AppState> {
    // Each form checks its own permission: the page itself is open to staff (the API's
    // lists of codes and closures are too).
    Router::new()
        .route(HERE, get(setup_page))
        .route("/attendance/setup/closures", post(add_closure))
        .route(
            "/attendance/setup/closures/{id}/delete",
            post(delete_closure),
        )
        .route("/attendance/setup/weekend-openings", post(add_opening))
        .route(
            "/attendance/setup/weekend-openings/{day}/delete",
            post(delete_opening),
        )
        .route("/attendance/setup/codes", post(add_code))
        .route("/attendance/setup/codes/{id}", post(change_code))
        .route("/attendance/setup/reasons", post(add_reason))
        .route("/attendance/setup/reasons/{id}", post(change_reason))
        .layer(axum::Extension(Guard::Authenticated))
}
