//! Notices in the browser: the list, the draft form (an audience chooser that needs no
//! script), a notice's page (publish, withdraw, re-issue, attachment, acknowledgement).
//! Every change goes through `service`, so the pages keep the API's rules.

use askama::Template;
use askama_web::WebTemplate;
use axum::{
    Router,
    extract::Multipart,
    http::{HeaderMap, StatusCode, Uri},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use axum_messages::Messages;
use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use serde::Deserialize;

use super::{
    attachment,
    db::{self, Notice, NoticeFilter},
    service::{self, NoticeInput},
};
use crate::{
    academics::db::{ClassOption, class_options},
    auth::csrf::CsrfToken,
    context::SchoolCtx,
    error::{AppError, AppResult, FieldErrors},
    http::{ApiPath, ApiQuery, Form, ListParams, Page},
    permissions::{access::guard_exact, catalogue::Action},
    state::AppState,
    web::{
        flash,
        htmx::see_other,
        kit::{FormErrors, act, field_errors, with_status},
        layout::Layout,
    },
};

// ---- the list ----

#[derive(Debug, Deserialize)]
struct ListQuery {
    status: Option<String>,
    page: Option<i64>,
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/notices.html")]
struct NoticesPage {
    layout: Layout,
    page: Page<Notice>,
    /// The status filter ("" for all).
    status: String,
    manages: bool,
    can_add: bool,
}

impl NoticesPage {
    fn is_status(&self, s: &&str) -> bool {
        self.status == *s
    }

    fn audience(&self, n: &Notice) -> String {
        audience_of(n)
    }
}

async fn list_page(
    mut ctx: SchoolCtx,
    CsrfToken(csrf): CsrfToken,
    uri: Uri,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> AppResult<Response> {
    let reader = service::reader(&ctx);
    let status = q.status.unwrap_or_default();
    let params = ListParams {
        page: q.page,
        page_size: Some(20),
        ..ListParams::default()
    };
    let (limit, offset) = params.limit_offset()?;
    let filter = NoticeFilter {
        status: Some(status.clone()).filter(|s| reader.manages && !s.is_empty()),
        ..NoticeFilter::default()
    };
    let (rows, count) = db::list(
        &mut ctx.tx,
        &reader,
        &filter,
        None,
        db::DEFAULT_ORDER,
        limit,
        offset,
    )
    .await?;
    Ok(NoticesPage {
        layout: ctx.layout("Notices", "notices", &csrf),
        page: Page::new(rows, count, &params, &uri)?,
        status,
        manages: reader.manages,
        can_add: ctx.perms.has("add_notices"),
    }
    .into_response())
}

// ---- the draft form ----

/// What the form holds, as typed.
#[derive(Debug, Default, Clone)]
struct Fields {
    title: String,
    body: String,
    scope: String,
    form_id: String,
    academic_class_id: String,
    /// Admission numbers, one per line or separated by commas.
    pupils: String,
    for_parents: bool,
    for_staff: bool,
    pinned: bool,
    needs_ack: bool,
    /// `YYYY-MM-DDTHH:MM` on the school's clock.
    publish_at: String,
    expires_at: String,
}

impl Fields {
    fn from_pairs(pairs: &[(String, String)]) -> Self {
        let get = |k: &str| {
            pairs
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        let on = |k: &str| pairs.iter().any(|(key, v)| key == k && !v.is_empty());
        Self {
            title: get("title"),
            body: get("body"),
            scope: get("scope"),
            form_id: get("form_id"),
            academic_class_id: get("academic_class_id"),
            pupils: get("pupils"),
            for_parents: on("for_parents"),
            for_staff: on("for_staff"),
            pinned: on("pinned"),
            needs_ack: on("needs_ack"),
            publish_at: get("publish_at"),
            expires_at: get("expires_at"),
        }
    }

    async fn of_notice(ctx: &mut SchoolCtx, n: &Notice) -> AppResult<Self> {
        let ids: Vec<i64> = n.pupils.iter().map(|p| p.id).collect();
        let numbers: Vec<String> = sqlx::query_scalar(
            "SELECT admission_no FROM students WHERE id = ANY($1) ORDER BY admission_no",
        )
        .bind(&ids)
        .fetch_all(&mut *ctx.tx)
        .await?;
        let local = |at: Option<DateTime<Utc>>| {
            at.map(|t| ctx.local(t).format("%Y-%m-%dT%H:%M").to_string())
                .unwrap_or_default()
        };
        Ok(Self {
            title: n.title.clone(),
            body: n.body.clone(),
            scope: n.scope.clone(),
            form_id: n.form_id.map(|i| i.to_string()).unwrap_or_default(),
            academic_class_id: n
                .academic_class_id
                .map(|i| i.to_string())
                .unwrap_or_default(),
            pupils: numbers.join("\n"),
            for_parents: n.for_parents,
            for_staff: n.for_staff,
            pinned: n.pinned,
            needs_ack: n.needs_ack,
            publish_at: local(n.publish_at),
            expires_at: local(n.expires_at),
        })
    }

    /// The service's input, and the fields that could not be read (a bad date, an unknown
    /// admission number).
    async fn input(&self, ctx: &mut SchoolCtx) -> AppResult<(NoticeInput, FieldErrors)> {
        let mut errors = FieldErrors::new();
        let mut add = |field: &str, message: String| {
            errors.entry(field.to_owned()).or_default().push(message);
        };
        let id_of = |raw: &str| raw.trim().parse::<i64>().ok();
        let tz = ctx.school.time_zone;
        let mut moment = |field: &str, raw: &str| -> Option<DateTime<Utc>> {
            let raw = raw.trim();
            if raw.is_empty() {
                return None;
            }
            let parsed = NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M")
                .or_else(|_| NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M:%S"))
                .ok()
                .and_then(|naive| tz.from_local_datetime(&naive).earliest());
            if parsed.is_none() {
                add(
                    field,
                    "Enter a date and time, e.g. 2026-01-12 08:00.".into(),
                );
            }
            parsed.map(|t| t.with_timezone(&Utc))
        };
        let publish_at = moment("publish_at", &self.publish_at);
        let expires_at = moment("expires_at", &self.expires_at);
        let scope = self.scope.trim().to_owned();
        let mut student_ids = None;
        if scope == "pupils" {
            let typed: Vec<&str> = self
                .pupils
                .split(|c: char| c == ',' || c == ';' || c.is_whitespace())
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .take(service::MAX_PUPILS + 1)
                .collect();
            let numbers: Vec<String> = typed.iter().map(|n| n.to_lowercase()).collect();
            let found: Vec<(i64, String)> = sqlx::query_as(
                "SELECT id, lower(admission_no) FROM students WHERE lower(admission_no) = ANY($1)",
            )
            .bind(&numbers)
            .fetch_all(&mut *ctx.tx)
            .await?;
            let unknown: Vec<&str> = typed
                .iter()
                .filter(|n| !found.iter().any(|(_, f)| *f == n.to_lowercase()))
                .copied()
                .collect();
            if !unknown.is_empty() {
                add(
                    "student_ids",
                    format!("No pupil has the admission number {}.", unknown.join(", ")),
                );
            }
            student_ids = Some(found.into_iter().map(|(id, _)| id).collect());
        }
        let input = NoticeInput {
            title: Some(self.title.clone()),
            body: Some(self.body.clone()),
            scope: Some(scope.clone()).filter(|s| !s.is_empty()),
            form_id: if scope == "form" {
                id_of(&self.form_id)
            } else {
                None
            },
            academic_class_id: if scope == "arm" {
                id_of(&self.academic_class_id)
            } else {
                None
            },
            student_ids,
            for_parents: Some(self.for_parents),
            for_staff: Some(self.for_staff),
            pinned: Some(self.pinned),
            needs_ack: Some(self.needs_ack),
            publish_at,
            expires_at,
        };
        Ok((input, errors))
    }

    /// Saves through `save` when every field could be read; else all the form's errors at
    /// once (those read and those the service finds).
    async fn save(
        &self,
        ctx: &mut SchoolCtx,
        save: impl AsyncFnOnce(&mut SchoolCtx, &NoticeInput) -> AppResult<Notice>,
    ) -> AppResult<Notice> {
        let (input, mut unread) = self.input(ctx).await?;
        if unread.is_empty() {
            return save(ctx, &input).await;
        }
        if let Err(AppError::Validation { errors, .. }) = service::check(ctx, &input).await {
            for (field, messages) in errors {
                unread.entry(field).or_insert(messages);
            }
        }
        Err(AppError::fields(unread))
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/notice_form.html")]
struct NoticeFormPage {
    layout: Layout,
    /// None for a new notice.
    notice_id: Option<i64>,
    f: Fields,
    forms: Vec<(i64, String)>,
    arms: Vec<ClassOption>,
    errors: FormErrors,
}

impl NoticeFormPage {
    fn scope_is(&self, s: &str) -> bool {
        self.f.scope == s || (self.f.scope.is_empty() && s == "school")
    }

    fn form_is(&self, id: &i64) -> bool {
        self.f.form_id == id.to_string()
    }

    fn arm_is(&self, id: &i64) -> bool {
        self.f.academic_class_id == id.to_string()
    }
}

async fn form_page(
    ctx: &mut SchoolCtx,
    csrf: &str,
    notice_id: Option<i64>,
    f: Fields,
    errors: FormErrors,
) -> AppResult<Response> {
    let forms = db::form_options(&mut ctx.tx).await?;
    let arms = class_options(&mut ctx.tx).await?;
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let title = if notice_id.is_some() {
        "Edit notice"
    } else {
        "New notice"
    };
    let page = NoticeFormPage {
        layout: ctx.layout(title, "notices", csrf),
        notice_id,
        f,
        forms,
        arms,
        errors,
    };
    Ok(with_status(page.into_response(), status))
}

async fn new_form(mut ctx: SchoolCtx, CsrfToken(csrf): CsrfToken) -> AppResult<Response> {
    let f = Fields {
        scope: "school".into(),
        for_staff: true,
        ..Fields::default()
    };
    form_page(&mut ctx, &csrf, None, f, FormErrors::default()).await
}

async fn create(
    mut ctx: SchoolCtx,
    CsrfToken(csrf): CsrfToken,
    messages: Messages,
    headers: HeaderMap,
    Form(pairs): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let f = Fields::from_pairs(&pairs);
    let result = f
        .save(&mut ctx, async |ctx, input| {
            service::create(ctx, input).await
        })
        .await;
    match result {
        Ok(notice) => {
            ctx.commit().await?;
            flash::success(&messages, "Draft saved. Publish it when it is ready.");
            Ok(see_other(&headers, &format!("/notices/{}", notice.id)))
        }
        Err(e) => {
            let errors = field_errors(e)?;
            ctx.restart().await?;
            form_page(&mut ctx, &csrf, None, f, errors).await
        }
    }
}

async fn edit_form(
    mut ctx: SchoolCtx,
    CsrfToken(csrf): CsrfToken,
    messages: Messages,
    headers: HeaderMap,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Response> {
    let notice = service::fetch(&mut ctx, id).await?;
    if notice.status != "draft" {
        flash::error(
            &messages,
            "A published notice is never edited: withdraw it, or re-issue it as a new draft.",
        );
        return Ok(see_other(&headers, &format!("/notices/{id}")));
    }
    let f = Fields::of_notice(&mut ctx, &notice).await?;
    form_page(&mut ctx, &csrf, Some(id), f, FormErrors::default()).await
}

async fn update(
    mut ctx: SchoolCtx,
    CsrfToken(csrf): CsrfToken,
    messages: Messages,
    headers: HeaderMap,
    ApiPath(id): ApiPath<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let f = Fields::from_pairs(&pairs);
    let result = f
        .save(&mut ctx, async |ctx, input| {
            service::update(ctx, id, input).await
        })
        .await;
    match result {
        Ok(_) => {
            ctx.commit().await?;
            flash::success(&messages, "Draft saved.");
            Ok(see_other(&headers, &format!("/notices/{id}")))
        }
        Err(e @ AppError::Conflict(_)) => {
            flash::error(&messages, e.to_string());
            Ok(see_other(&headers, &format!("/notices/{id}")))
        }
        Err(e) => {
            let errors = field_errors(e)?;
            ctx.restart().await?;
            form_page(&mut ctx, &csrf, Some(id), f, errors).await
        }
    }
}

// ---- one notice ----

#[derive(Template, WebTemplate)]
#[template(path = "pages/notice.html")]
struct NoticePage {
    layout: Layout,
    notice: Notice,
    can_change: bool,
    can_add: bool,
    can_delete: bool,
    /// In the notice's staff audience, asked to acknowledge it, and not yet done so.
    may_acknowledge: bool,
    /// Who acknowledged it (name, when): for its author and those who change notices.
    acknowledgers: Option<Vec<(String, DateTime<Utc>)>>,
}

impl NoticePage {
    fn audience(&self) -> String {
        audience_of(&self.notice)
    }
}

/// "Parents and staff · JSS 1A", as the pages word a notice's audience.
pub fn audience_of(n: &Notice) -> String {
    let who = match (n.for_parents, n.for_staff) {
        (true, true) => "Parents and staff",
        (true, false) => "Parents",
        _ => "Staff",
    };
    let whom = match n.scope.as_str() {
        "form" => n
            .form_name
            .clone()
            .unwrap_or_else(|| "A class level".into()),
        "arm" => n.class_name.clone().unwrap_or_else(|| "A class".into()),
        "pupils" => match n.pupils.len() {
            1 => n
                .pupils
                .first()
                .map(|p| p.full_name.clone())
                .unwrap_or_default(),
            k => format!("{k} chosen pupils"),
        },
        _ => "Whole school".into(),
    };
    format!("{who} · {whom}")
}

async fn detail(
    mut ctx: SchoolCtx,
    CsrfToken(csrf): CsrfToken,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Response> {
    let notice = service::fetch(&mut ctx, id).await?;
    let may_acknowledge = notice.needs_ack
        && !notice.acknowledged
        && db::in_staff_audience(&mut ctx.tx, ctx.user.id, ctx.now, id).await?;
    let acknowledgers = match notice.acknowledgements {
        Some(_) if notice.needs_ack => Some(db::acknowledgers(&mut ctx.tx, id).await?),
        _ => None,
    };
    Ok(NoticePage {
        layout: ctx.layout(&notice.title, "notices", &csrf),
        can_change: ctx.perms.has("change_notices"),
        can_add: ctx.perms.has("add_notices"),
        can_delete: ctx.perms.has("delete_notices"),
        may_acknowledge,
        acknowledgers,
        notice,
    }
    .into_response())
}

async fn download(mut ctx: SchoolCtx, ApiPath(id): ApiPath<i64>) -> AppResult<Response> {
    let (filename, kind, bytes) = service::attachment(&mut ctx, id).await?;
    Ok(attachment::response(&filename, &kind, bytes))
}

/// Runs one change on notice `id` and goes back to its page, flashing `done` or the
/// refusal.
async fn act_on_notice(
    ctx: SchoolCtx,
    messages: &Messages,
    headers: &HeaderMap,
    id: i64,
    done: &str,
    change: impl AsyncFnOnce(&mut SchoolCtx, i64) -> AppResult<Notice>,
) -> AppResult<Response> {
    act(
        ctx,
        messages,
        headers,
        &format!("/notices/{id}"),
        |_| done.to_owned(),
        async |ctx| change(ctx, id).await,
    )
    .await
}

async fn publish(
    ctx: SchoolCtx,
    messages: Messages,
    headers: HeaderMap,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Response> {
    act_on_notice(ctx, &messages, &headers, id, "Published.", service::publish).await
}

async fn withdraw(
    ctx: SchoolCtx,
    messages: Messages,
    headers: HeaderMap,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Response> {
    act_on_notice(
        ctx,
        &messages,
        &headers,
        id,
        "Withdrawn: nobody sees it any more.",
        service::withdraw,
    )
    .await
}

async fn acknowledge(
    ctx: SchoolCtx,
    messages: Messages,
    headers: HeaderMap,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Response> {
    act_on_notice(
        ctx,
        &messages,
        &headers,
        id,
        "Thank you: acknowledged.",
        service::acknowledge,
    )
    .await
}

async fn reissue(
    mut ctx: SchoolCtx,
    messages: Messages,
    headers: HeaderMap,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Response> {
    match service::reissue(&mut ctx, id).await {
        Ok(draft) => {
            ctx.commit().await?;
            flash::success(
                &messages,
                "A new draft, copied from the notice. Edit it, then publish it.",
            );
            Ok(see_other(&headers, &format!("/notices/{}/edit", draft.id)))
        }
        Err(e @ AppError::Conflict(_)) => {
            flash::error(&messages, e.to_string());
            Ok(see_other(&headers, &format!("/notices/{id}")))
        }
        Err(e) => Err(e),
    }
}

async fn delete(
    mut ctx: SchoolCtx,
    messages: Messages,
    headers: HeaderMap,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Response> {
    match service::delete(&mut ctx, id).await {
        Ok(()) => {
            ctx.commit().await?;
            flash::success(&messages, "Draft deleted.");
            Ok(see_other(&headers, "/notices"))
        }
        Err(e @ AppError::Conflict(_)) => {
            flash::error(&messages, e.to_string());
            Ok(see_other(&headers, &format!("/notices/{id}")))
        }
        Err(e) => Err(e),
    }
}

async fn upload(
    mut ctx: SchoolCtx,
    messages: Messages,
    headers: HeaderMap,
    ApiPath(id): ApiPath<i64>,
    multipart: Multipart,
) -> AppResult<Response> {
    let back = format!("/notices/{id}");
    match attachment::read(multipart).await {
        Ok(upload) => {
            act(
                ctx,
                &messages,
                &headers,
                &back,
                |_| "Attachment saved.".to_owned(),
                async |ctx| service::attach(ctx, id, upload).await,
            )
            .await
        }
        Err(e @ AppError::Validation { .. }) => {
            // Still a 404 for a notice this user may not see.
            service::fetch(&mut ctx, id).await?;
            flash::error(&messages, field_errors(e)?.get(attachment::FIELD));
            Ok(see_other(&headers, &back))
        }
        Err(e) => Err(e),
    }
}

async fn remove_attachment(
    ctx: SchoolCtx,
    messages: Messages,
    headers: HeaderMap,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Response> {
    act_on_notice(
        ctx,
        &messages,
        &headers,
        id,
        "Attachment removed.",
        service::detach,
    )
    .await
}

pub fn router() -> Router<AppState> {
    let view = guard_exact(Action::View, "notices");
    let add = guard_exact(Action::Add, "notices");
    let change = guard_exact(Action::Change, "notices");
    Router::new()
        .route("/notices", get(list_page).layer(view))
        .route("/notices/new", get(new_form).post(create).layer(add))
        .route("/notices/{id}", get(detail).layer(view))
        .route(
            "/notices/{id}/edit",
            get(edit_form).post(update).layer(change),
        )
        .route("/notices/{id}/attachment", get(download).layer(view))
        .route("/notices/{id}/attachment", post(upload).layer(change))
        .route(
            "/notices/{id}/attachment/remove",
            post(remove_attachment).layer(change),
        )
        .route("/notices/{id}/publish", post(publish).layer(change))
        .route("/notices/{id}/withdraw", post(withdraw).layer(change))
        .route("/notices/{id}/reissue", post(reissue).layer(add))
        .route(
            "/notices/{id}/delete",
            post(delete).layer(guard_exact(Action::Delete, "notices")),
        )
        .route("/notices/{id}/acknowledge", post(acknowledge).layer(view))
}
