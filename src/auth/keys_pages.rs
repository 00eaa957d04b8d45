//! The console's API keys page: issue a key for a school (its secret shown once), see when
//! each key was last used, revoke.

use askama::Template;
use askama_web::WebTemplate;
use axum::{
    Router,
    http::{HeaderMap, StatusCode, Uri},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use axum_messages::Messages;

use super::keys::{self, ApiKeyOut, KeyFilter, NewApiKey};
use crate::{
    auth::csrf::CsrfToken,
    context::PlatformCtx,
    error::{AppError, AppResult},
    http::{ApiPath, ApiQuery, Form, ListParams, Page},
    permissions::{
        access::{guard, guard_exact},
        catalogue::{Action, SCHOOL_RESOURCES},
    },
    state::AppState,
    web::{flash, htmx::see_other, kit::FormErrors, layout::Layout},
};

#[derive(Template, WebTemplate)]
#[template(path = "pages/api_keys.html")]
struct KeysPage {
    layout: Layout,
    page: Page<ApiKeyOut>,
    schools: Vec<(i64, String)>,
    /// (resource, label) that a key may be scoped to.
    resources: Vec<(&'static str, &'static str)>,
    can_add: bool,
    can_revoke: bool,
    form: KeyForm,
    errors: FormErrors,
    /// The key just issued: shown once.
    issued: Option<(String, String)>,
}

#[derive(Debug, Default)]
struct KeyForm {
    school_id: String,
    name: String,
    /// `read`, or `resources` for the ticked resources.
    access: String,
    /// Ticked resources (a repeated field).
    resource: Vec<String>,
}

impl KeyForm {
    /// From the posted pairs (the resource checkboxes repeat one name).
    fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        let mut form = Self::default();
        for (name, value) in pairs {
            match name.as_str() {
                "school_id" => form.school_id = value,
                "name" => form.name = value,
                "access" => form.access = value,
                "resource" => form.resource.push(value),
                _ => {}
            }
        }
        form
    }

    fn ticked(&self, resource: &str) -> bool {
        self.resource.iter().any(|r| r == resource)
    }
}

async fn render(
    ctx: &mut PlatformCtx,
    csrf: String,
    uri: &Uri,
    params: &ListParams,
    form: KeyForm,
    errors: FormErrors,
    issued: Option<(String, String)>,
) -> AppResult<Response> {
    let (rows, count) = keys::list(&mut ctx.tx, params, &KeyFilter::default()).await?;
    let schools: Vec<(i64, String)> =
        sqlx::query_as("SELECT id, name FROM public.clients ORDER BY name, id LIMIT 1000")
            .fetch_all(&mut *ctx.tx)
            .await?;
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let mut response = KeysPage {
        layout: ctx.layout("API keys", "api_keys", &csrf),
        page: Page::new(rows, count, params, uri)?,
        schools,
        resources: SCHOOL_RESOURCES.iter().map(|(r, l, _)| (*r, *l)).collect(),
        can_add: ctx.user.is_superadmin,
        can_revoke: ctx.perms.has("delete_api_keys"),
        form,
        errors,
        issued,
    }
    .into_response();
    *response.status_mut() = status;
    // The page may carry a secret: never cached.
    response.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    Ok(response)
}

async fn list(
    mut ctx: PlatformCtx,
    CsrfToken(csrf): CsrfToken,
    uri: Uri,
    ApiQuery(params): ApiQuery<ListParams>,
) -> AppResult<Response> {
    let form = KeyForm {
        access: "read".into(),
        ..KeyForm::default()
    };
    render(
        &mut ctx,
        csrf,
        &uri,
        &params,
        form,
        FormErrors::default(),
        None,
    )
    .await
}

async fn issue(
    mut ctx: PlatformCtx,
    CsrfToken(csrf): CsrfToken,
    uri: Uri,
    Form(pairs): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let form = KeyForm::from_pairs(pairs);
    let input = NewApiKey {
        school_id: form.school_id.trim().parse().unwrap_or(0),
        name: form.name.clone(),
        scopes: if form.access == "read" {
            vec!["read".to_owned()]
        } else {
            form.resource.clone()
        },
    };
    // The page is read in the same transaction: after an issue it lists the new key; after
    // a refusal (validation runs before any write) nothing was written.
    let (form, errors, shown) = match keys::issue(&mut ctx, &input).await {
        Ok(issued) => {
            let k = issued.key;
            let shown = (format!("{} · {}", k.school_name, k.name), issued.secret);
            let fresh = KeyForm {
                access: "read".into(),
                ..KeyForm::default()
            };
            (fresh, FormErrors::default(), Some(shown))
        }
        Err(AppError::Validation { errors, .. }) => (form, FormErrors(errors), None),
        Err(e) => return Err(e),
    };
    let issued = shown.is_some();
    let page = render(
        &mut ctx,
        csrf,
        &uri,
        &ListParams::default(),
        form,
        errors,
        shown,
    )
    .await?;
    if issued {
        ctx.commit().await?;
    }
    Ok(page)
}

async fn revoke(
    mut ctx: PlatformCtx,
    headers: HeaderMap,
    messages: Messages,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Response> {
    let key = keys::revoke(&mut ctx, id).await?;
    ctx.commit().await?;
    flash::success(
        &messages,
        format!("The key {} of {} is revoked.", key.name, key.school_name),
    );
    Ok(see_other(&headers, "/api-keys"))
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api-keys", get(list).post(issue).layer(guard("api_keys")))
        .route(
            "/api-keys/{id}/revoke",
            post(revoke).layer(guard_exact(Action::Delete, "api_keys")),
        )
}
