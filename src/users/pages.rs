//! Pages for accounts: platform users on the console; the staff list at a school's host.

use crate::http::Form;
use askama::Template;
use askama_web::WebTemplate;
use axum::{
    Router,
    http::{HeaderMap, StatusCode, Uri},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use axum_messages::Messages;
use serde::Deserialize;

use super::{
    platform_service::{
        CreatePlatformUser, UpdatePlatformUser, create_platform_user, list_platform_users,
        platform_roles, update_platform_user,
    },
    service::{StaffFilter, UpdateStaff, list_staff, update_staff},
};
use crate::{
    auth::account::UserOut,
    auth::csrf::CsrfToken,
    context::{PlatformCtx, SchoolCtx},
    error::{AppError, AppResult},
    http::{ApiPath, ApiQuery, ListParams, Page},
    permissions::{
        access::{guard, guard_exact},
        catalogue::Action,
        roles,
    },
    state::AppState,
    web::{
        htmx::{is_htmx, see_other},
        kit::FormErrors,
        layout::Layout,
    },
};

// ---- platform console ----

#[derive(Template, WebTemplate)]
#[template(path = "pages/platform_users.html")]
struct PlatformUsersPage {
    layout: Layout,
    page: Page<UserOut>,
    can_add: bool,
    can_change: bool,
    me: i64,
    form: NewUserForm,
    errors: FormErrors,
    /// (id, name, description) of the platform roles.
    roles: Vec<(i64, String, String)>,
}

#[derive(Debug, Default, Deserialize)]
struct NewUserForm {
    #[serde(default)]
    full_name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    /// `superadmin` or a platform role id.
    #[serde(default)]
    kind: String,
}

async fn platform_users_page(
    ctx: &mut PlatformCtx,
    csrf: String,
    uri: &Uri,
    params: &ListParams,
    form: NewUserForm,
    errors: FormErrors,
) -> AppResult<Response> {
    let (rows, count) = list_platform_users(&mut ctx.tx, params).await?;
    let roles = platform_roles(&mut ctx.tx)
        .await?
        .into_iter()
        .map(|r| (r.id, r.name, r.description))
        .collect();
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let mut r = PlatformUsersPage {
        layout: ctx.layout("Platform users", "users", &csrf),
        page: Page::new(rows, count, params, uri)?,
        can_add: ctx.perms.has("add_platform_users"),
        can_change: ctx.perms.has("change_platform_users"),
        me: ctx.user.id,
        form,
        errors,
        roles,
    }
    .into_response();
    *r.status_mut() = status;
    Ok(r)
}

async fn platform_users(
    mut ctx: PlatformCtx,
    CsrfToken(csrf): CsrfToken,
    uri: Uri,
    ApiQuery(params): ApiQuery<ListParams>,
) -> AppResult<Response> {
    platform_users_page(
        &mut ctx,
        csrf,
        &uri,
        &params,
        NewUserForm::default(),
        FormErrors::default(),
    )
    .await
}

async fn create_platform_user_page(
    State(state): axum::extract::State<AppState>,
    mut ctx: PlatformCtx,
    CsrfToken(csrf): CsrfToken,
    headers: HeaderMap,
    uri: Uri,
    messages: Messages,
    Form(form): Form<NewUserForm>,
) -> AppResult<Response> {
    let input = CreatePlatformUser {
        email: form.email.clone(),
        full_name: form.full_name.clone(),
        password: form.password.clone(),
        is_superadmin: form.kind == "superadmin",
        roles: form.kind.parse().ok().into_iter().collect(),
    };
    match create_platform_user(&mut ctx, &input).await {
        Ok(user) => {
            ctx.commit().await?;
            crate::web::flash::success(
                &messages,
                format!("{} can now sign in to the console.", user.email),
            );
            Ok(see_other(&headers, "/users"))
        }
        Err(AppError::Validation { errors, .. }) => {
            ctx.tx.rollback().await?;
            ctx.tx = crate::db::begin_platform(state.db.main()).await?;
            let form = NewUserForm {
                password: String::new(),
                ..form
            };
            platform_users_page(
                &mut ctx,
                csrf,
                &uri,
                &ListParams::default(),
                form,
                FormErrors(errors),
            )
            .await
        }
        Err(e) => Err(e),
    }
}

use axum::extract::State;

#[derive(Deserialize)]
struct ActiveForm {
    active: bool,
}

async fn set_platform_user_active(
    mut ctx: PlatformCtx,
    headers: HeaderMap,
    ApiPath(id): ApiPath<i64>,
    Form(form): Form<ActiveForm>,
) -> AppResult<Response> {
    update_platform_user(
        &mut ctx,
        id,
        &UpdatePlatformUser {
            is_active: Some(form.active),
            ..Default::default()
        },
    )
    .await?;
    ctx.commit().await?;
    Ok(see_other(&headers, "/users"))
}

pub fn platform_router() -> Router<AppState> {
    Router::new()
        .route(
            "/users",
            get(platform_users)
                .post(create_platform_user_page)
                .layer(guard("platform_users")),
        )
        .route(
            "/users/{id}/active",
            post(set_platform_user_active).layer(guard_exact(Action::Change, "platform_users")),
        )
}

// ---- school host ----

pub struct StaffRow {
    pub user: UserOut,
    pub roles: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/staff.html")]
struct StaffPage {
    layout: Layout,
    can_add: bool,
    rows: Vec<StaffRow>,
    page: Page<()>,
    search: String,
    can_change: bool,
    me: i64,
    csrf: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "partials/staff_rows.html")]
struct StaffRows {
    rows: Vec<StaffRow>,
    page: Page<()>,
    search: String,
    can_change: bool,
    me: i64,
    csrf: String,
}

async fn staff(
    mut ctx: SchoolCtx,
    CsrfToken(csrf): CsrfToken,
    headers: HeaderMap,
    uri: Uri,
    ApiQuery(params): ApiQuery<ListParams>,
) -> AppResult<Response> {
    let params = ListParams {
        page_size: params.page_size.or(Some(25)),
        ..params
    };
    let (users, count) =
        list_staff(&mut ctx.tx, ctx.school.id, &params, &StaffFilter::default()).await?;
    let role_names: std::collections::HashMap<i64, String> = roles::all(&mut ctx.tx)
        .await?
        .into_iter()
        .map(|r| (r.id, r.name))
        .collect();
    let rows: Vec<StaffRow> = users
        .into_iter()
        .map(|user| {
            let names: Vec<&str> = user
                .roles
                .iter()
                .filter_map(|id| role_names.get(id).map(String::as_str))
                .collect();
            let roles = if names.is_empty() {
                "—".to_owned()
            } else {
                names.join(", ")
            };
            StaffRow { user, roles }
        })
        .collect();
    let page = Page::new(Vec::new(), count, &params, &uri)?;
    let search = params.search.clone().unwrap_or_default();
    let can_change = ctx.perms.has("change_users");
    if is_htmx(&headers) {
        return Ok(StaffRows {
            rows,
            page,
            search,
            can_change,
            me: ctx.user.id,
            csrf,
        }
        .into_response());
    }
    Ok(StaffPage {
        can_add: ctx.perms.has("add_users"),
        layout: ctx.layout("Staff", "staff", &csrf),
        rows,
        page,
        search,
        can_change,
        me: ctx.user.id,
        csrf,
    }
    .into_response())
}

async fn set_staff_active(
    mut ctx: SchoolCtx,
    headers: HeaderMap,
    ApiPath(id): ApiPath<i64>,
    Form(form): Form<ActiveForm>,
) -> AppResult<Response> {
    update_staff(
        &mut ctx,
        id,
        &UpdateStaff {
            is_active: Some(form.active),
            ..Default::default()
        },
    )
    .await?;
    ctx.commit().await?;
    Ok(see_other(&headers, "/staff"))
}

pub fn school_router() -> Router<AppState> {
    Router::new()
        .route("/staff", get(staff).layer(guard("users")))
        .merge(super::staff_pages::router())
        .route(
            "/staff/{id}/active",
            post(set_staff_active).layer(guard_exact(Action::Change, "users")),
        )
}
