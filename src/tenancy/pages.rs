//! Platform console pages for schools (main domain).

use crate::http::Form;
use askama::Template;
use askama_web::WebTemplate;
use axum::{
    Router,
    extract::State,
    http::{HeaderMap, StatusCode, Uri},
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
};
use axum_messages::Messages;
use serde::Deserialize;
use serde_json::json;

use super::schools::{
    self, CreateDomain, CreateSchool, DomainOut, SchoolFilter, SchoolOut, SetupOut, StepStatus,
    UpdateSchool, UpdateSetup,
};
use crate::{
    audit::trail::Actor,
    auth::csrf::CsrfToken,
    context::PlatformCtx,
    error::{AppError, AppResult},
    http::{ApiPath, ApiQuery, ListParams, Page},
    permissions::{
        access::{guard, guard_exact},
        catalogue::Action,
    },
    state::AppState,
    web::{
        flash,
        htmx::{is_htmx, see_other},
        kit::FormErrors,
        layout::Layout,
    },
};

#[derive(Template, WebTemplate)]
#[template(path = "pages/schools.html")]
struct SchoolsPage {
    layout: Layout,
    page: Page<SchoolOut>,
    search: String,
    can_add: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "partials/school_rows.html")]
struct SchoolRows {
    page: Page<SchoolOut>,
    search: String,
}

async fn index() -> Redirect {
    Redirect::to("/schools")
}

async fn list(
    mut ctx: PlatformCtx,
    CsrfToken(csrf): CsrfToken,
    headers: HeaderMap,
    uri: Uri,
    ApiQuery(params): ApiQuery<ListParams>,
) -> AppResult<Response> {
    let params = ListParams {
        page_size: params.page_size.or(Some(25)),
        ..params
    };
    let (rows, count) = schools::list(&mut ctx.tx, &params, &SchoolFilter::default()).await?;
    let page = Page::new(rows, count, &params, &uri)?;
    let search = params.search.clone().unwrap_or_default();
    if is_htmx(&headers) {
        return Ok(SchoolRows { page, search }.into_response());
    }
    Ok(SchoolsPage {
        layout: ctx.layout("Schools", "schools", &csrf),
        page,
        search,
        can_add: ctx.perms.has("add_schools"),
    }
    .into_response())
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/school_new.html")]
struct NewSchoolPage {
    layout: Layout,
    form: SchoolForm,
    errors: FormErrors,
    main_domain: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct SchoolForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    schema_name: String,
    #[serde(default)]
    domain: String,
    #[serde(default)]
    admin_full_name: String,
    #[serde(default)]
    admin_email: String,
    #[serde(default)]
    admin_password: String,
}

fn opt(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_owned())
}

async fn new_form(
    State(state): State<AppState>,
    ctx: PlatformCtx,
    CsrfToken(csrf): CsrfToken,
) -> AppResult<Response> {
    Ok(NewSchoolPage {
        layout: ctx.layout("New school", "schools", &csrf),
        form: SchoolForm::default(),
        errors: FormErrors::default(),
        main_domain: state.config.main_domain.clone(),
    }
    .into_response())
}

async fn create(
    State(state): State<AppState>,
    mut ctx: PlatformCtx,
    CsrfToken(csrf): CsrfToken,
    headers: HeaderMap,
    Form(form): Form<SchoolForm>,
) -> AppResult<Response> {
    let input = CreateSchool {
        name: form.name.clone(),
        code: form.code.clone(),
        schema_name: opt(&form.schema_name),
        domain: opt(&form.domain),
        admin_email: opt(&form.admin_email),
        admin_password: (!form.admin_password.is_empty()).then(|| form.admin_password.clone()),
        admin_full_name: opt(&form.admin_full_name),
    };
    let result = async {
        let valid =
            schools::validate_create(&mut ctx.tx, &input, &state.config.main_domain).await?;
        let actor = Actor {
            id: Some(ctx.user.id),
            email: Some(ctx.user.email.clone()),
        };
        schools::create(&state.db, valid, &actor, &ctx.meta, ctx.now).await
    }
    .await;
    match result {
        Ok(school) => {
            state.tenants.invalidate();
            Ok(see_other(&headers, &format!("/schools/{}", school.id)))
        }
        Err(AppError::Validation { errors, .. }) => {
            let mut page = NewSchoolPage {
                layout: ctx.layout("New school", "schools", &csrf),
                form: SchoolForm {
                    admin_password: String::new(),
                    ..form
                },
                errors: FormErrors(errors),
                main_domain: state.config.main_domain.clone(),
            }
            .into_response();
            *page.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            Ok(page)
        }
        Err(other) => Err(other),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/school_detail.html")]
struct SchoolDetailPage {
    layout: Layout,
    school: SchoolOut,
    domains: Vec<DomainOut>,
    setup: SetupOut,
    can_change: bool,
    can_delete: bool,
    can_export: bool,
    port_suffix: String,
    /// Why the last delete was refused (a wrong code), shown on the confirm field.
    delete_error: Option<String>,
}

async fn detail(
    mut ctx: PlatformCtx,
    CsrfToken(csrf): CsrfToken,
    headers: HeaderMap,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Response> {
    detail_page(&mut ctx, &csrf, &headers, id, None).await
}

async fn detail_page(
    ctx: &mut PlatformCtx,
    csrf: &str,
    headers: &HeaderMap,
    id: i64,
    delete_error: Option<String>,
) -> AppResult<Response> {
    let school = schools::get(&mut ctx.tx, id)
        .await?
        .ok_or_else(AppError::not_found)?;
    let domains = schools::domains(&mut ctx.tx, id).await?;
    let setup = schools::setup(&mut ctx.tx, id).await?;
    // Links to the school's site keep the port the console is served on.
    let port_suffix = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.rsplit_once(':').map(|(_, p)| format!(":{p}")))
        .unwrap_or_default();
    let status = if delete_error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let mut response = SchoolDetailPage {
        layout: ctx.layout(&school.name, "schools", csrf),
        can_change: ctx.perms.has("change_schools"),
        can_delete: ctx.perms.has("delete_schools"),
        can_export: ctx.perms.has("view_school_data"),
        school,
        domains,
        setup,
        port_suffix,
        delete_error,
    }
    .into_response();
    *response.status_mut() = status;
    Ok(response)
}

#[derive(Deserialize)]
struct ActiveForm {
    active: bool,
}

async fn set_active(
    State(state): State<AppState>,
    mut ctx: PlatformCtx,
    headers: HeaderMap,
    ApiPath(id): ApiPath<i64>,
    Form(form): Form<ActiveForm>,
) -> AppResult<Response> {
    let (before, after) = schools::update(
        &mut ctx.tx,
        id,
        &UpdateSchool {
            name: None,
            is_active: Some(form.active),
        },
        ctx.now,
    )
    .await?;
    if before.is_active != after.is_active {
        let action = if after.is_active {
            "activate"
        } else {
            "deactivate"
        };
        ctx.audit(
            action,
            "school",
            id,
            json!({"is_active": {"from": before.is_active, "to": after.is_active}}),
        )
        .await?;
    }
    ctx.commit().await?;
    state.tenants.invalidate();
    Ok(see_other(&headers, &format!("/schools/{id}")))
}

#[derive(Deserialize)]
struct DomainForm {
    #[serde(default)]
    domain: String,
    #[serde(default)]
    is_primary: Option<String>,
}

async fn add_domain(
    State(state): State<AppState>,
    mut ctx: PlatformCtx,
    messages: Messages,
    headers: HeaderMap,
    ApiPath(id): ApiPath<i64>,
    Form(form): Form<DomainForm>,
) -> AppResult<Response> {
    schools::get(&mut ctx.tx, id)
        .await?
        .ok_or_else(AppError::not_found)?;
    let input = CreateDomain {
        domain: form.domain,
        is_primary: form.is_primary.is_some(),
    };
    match schools::add_domain(&mut ctx.tx, id, &input, &state.config.main_domain, ctx.now).await {
        Ok(d) => {
            ctx.audit(
                "add_domain",
                "school",
                id,
                json!({"domain": {"to": d.domain}}),
            )
            .await?;
            ctx.commit().await?;
            state.tenants.invalidate();
            flash::success(&messages, format!("{} now leads to this school.", d.domain));
            Ok(see_other(&headers, &format!("/schools/{id}")))
        }
        Err(AppError::Validation { errors, .. }) => {
            let message = FormErrors(errors).get("domain");
            flash::error(&messages, format!("The domain was not added: {message}"));
            Ok(see_other(&headers, &format!("/schools/{id}")))
        }
        Err(e) => Err(e),
    }
}

async fn make_primary(
    State(state): State<AppState>,
    mut ctx: PlatformCtx,
    messages: Messages,
    headers: HeaderMap,
    ApiPath((id, domain_id)): ApiPath<(i64, i64)>,
) -> AppResult<Response> {
    let d = schools::make_primary(&mut ctx.tx, id, domain_id).await?;
    ctx.audit(
        "set_primary_domain",
        "school",
        id,
        json!({"primary_domain": {"to": d.domain}}),
    )
    .await?;
    ctx.commit().await?;
    state.tenants.invalidate();
    flash::success(
        &messages,
        format!("{} is now the primary domain.", d.domain),
    );
    Ok(see_other(&headers, &format!("/schools/{id}")))
}

async fn remove_domain(
    State(state): State<AppState>,
    mut ctx: PlatformCtx,
    headers: HeaderMap,
    ApiPath((id, domain_id)): ApiPath<(i64, i64)>,
) -> AppResult<Response> {
    let d = schools::remove_domain(&mut ctx.tx, id, domain_id).await?;
    ctx.audit(
        "remove_domain",
        "school",
        id,
        json!({"domain": {"from": d.domain}}),
    )
    .await?;
    ctx.commit().await?;
    state.tenants.invalidate();
    Ok(see_other(&headers, &format!("/schools/{id}")))
}

#[derive(Deserialize)]
struct StepForm {
    step: String,
    status: String,
}

async fn update_step(
    mut ctx: PlatformCtx,
    headers: HeaderMap,
    ApiPath(id): ApiPath<i64>,
    Form(form): Form<StepForm>,
) -> AppResult<Response> {
    let input = UpdateSetup {
        steps: vec![StepStatus {
            id: form.step.clone(),
            status: form.status.clone(),
        }],
        contacted_by: None,
    };
    let (before, after) = schools::update_setup(&mut ctx.tx, id, &input, ctx.now).await?;
    ctx.audit("update_setup", "school", id, json!({"step": form.step, "status": {"to": form.status}, "progress": {"from": before.setup_progress, "to": after.setup_progress}})).await?;
    ctx.commit().await?;
    Ok(see_other(&headers, &format!("/schools/{id}")))
}

/// The school's whole data as a zip (the same export as the system API's).
async fn export(
    State(state): State<AppState>,
    ctx: PlatformCtx,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Response> {
    super::export::start(&state.db, ctx, id).await
}

#[derive(Deserialize)]
struct DeleteForm {
    #[serde(default)]
    confirm: String,
}

async fn delete(
    State(state): State<AppState>,
    mut ctx: PlatformCtx,
    CsrfToken(csrf): CsrfToken,
    headers: HeaderMap,
    ApiPath(id): ApiPath<i64>,
    Form(form): Form<DeleteForm>,
) -> AppResult<Response> {
    let removed =
        match schools::delete_confirmed(&mut ctx, id, &form.confirm, "Type its code to confirm")
            .await
        {
            Ok((_, removed)) => removed,
            // A wrong code: the page again, the reason on the field.
            Err(AppError::Validation { errors, .. }) => {
                let message = errors.get("confirm").and_then(|m| m.first()).cloned();
                return detail_page(&mut ctx, &csrf, &headers, id, message).await;
            }
            Err(e) => return Err(e),
        };
    ctx.commit().await?;
    state.tenants.invalidate();
    schools::end_sessions(state.redis.as_ref(), id, &removed.user_ids).await;
    Ok(see_other(&headers, "/schools"))
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/schools", get(list).post(create).layer(guard("schools")))
        .route(
            "/schools/new",
            get(new_form).layer(guard_exact(Action::Add, "schools")),
        )
        .route("/schools/{id}", get(detail).layer(guard("schools")))
        .route(
            "/schools/{id}/active",
            post(set_active).layer(guard_exact(Action::Change, "schools")),
        )
        .route(
            "/schools/{id}/domains",
            post(add_domain).layer(guard_exact(Action::Change, "schools")),
        )
        .route(
            "/schools/{id}/domains/{domain_id}/primary",
            post(make_primary).layer(guard_exact(Action::Change, "schools")),
        )
        .route(
            "/schools/{id}/domains/{domain_id}/delete",
            post(remove_domain).layer(guard_exact(Action::Change, "schools")),
        )
        .route(
            "/schools/{id}/setup",
            post(update_step).layer(guard_exact(Action::Change, "schools")),
        )
        .route(
            "/schools/{id}/export",
            get(export).layer(guard_exact(Action::View, "school_data")),
        )
        .route(
            "/schools/{id}/delete",
            post(delete).layer(guard_exact(Action::Delete, "schools")),
        )
}
