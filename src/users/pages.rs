//! Pages for accounts: platform users on the console; the school dashboard and staff list
//! at a school's host.

use askama::Template;
use askama_web::WebTemplate;
use axum::{
    Form, Router,
    http::{HeaderMap, StatusCode, Uri},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde::Deserialize;

use super::{
    UserOut,
    api::{StaffFilter, UpdateStaff, list_staff, update_staff},
    platform_api::{
        CreatePlatformUser, UpdatePlatformUser, create_platform_user, list_platform_users,
        update_platform_user,
    },
};
use crate::{
    app::AppState,
    auth::csrf::CsrfToken,
    context::{PlatformCtx, SchoolCtx},
    error::{AppError, AppResult},
    http::{ApiPath, ApiQuery, ListParams, Page},
    permissions::{Action, Guard, guard, guard_exact, roles},
    web::{FormErrors, Layout, is_htmx, see_other},
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
    let roles =
        sqlx::query_as("SELECT id, name, description FROM public.platform_roles ORDER BY name")
            .fetch_all(&mut *ctx.tx)
            .await?;
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let mut r = PlatformUsersPage {
        layout: Layout::platform("Platform users", "users", csrf, &ctx.user.full_name),
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
    session: tower_sessions::Session,
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
                &session,
                format!("{} can now sign in to the console.", user.email),
            )
            .await;
            Ok(see_other(&headers, "/users"))
        }
        Err(AppError::Validation { errors, .. }) => {
            ctx.tx.rollback().await?;
            ctx.tx = crate::db::begin_platform(&state.db).await?;
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

#[derive(Template, WebTemplate)]
#[template(path = "pages/school_dashboard.html")]
struct DashboardPage {
    layout: Layout,
    user_name: String,
    role_names: Vec<String>,
    counts: DashboardCounts,
    session: Option<crate::academics::Session>,
    term: Option<crate::academics::Term>,
    can_view_staff: bool,
    can_view_students: bool,
    can_add_students: bool,
    can_setup: bool,
    /// The user's subjects in open exam sessions: (exam id, "JSS 1A · Mathematics",
    /// pupils with every score, pupils).
    to_mark: Vec<(i64, String, i64, i64)>,
    /// Classes this user is class teacher of, in the newest exam session not yet
    /// published: (exam session id, academic class id, class name, exam session name).
    my_classes: Vec<(i64, i64, String, String)>,
}

#[derive(sqlx::FromRow, Default)]
struct DashboardCounts {
    active_students: i64,
    withdrawn_students: i64,
    staff: i64,
    classes: i64,
    unregistered: i64,
}

async fn dashboard(mut ctx: SchoolCtx, CsrfToken(csrf): CsrfToken) -> AppResult<Response> {
    let role_names: Vec<String> = sqlx::query_scalar(
        "SELECT r.name FROM roles r JOIN user_roles ur ON ur.role_id = r.id WHERE ur.user_id = $1 ORDER BY r.name",
    )
    .bind(ctx.user.id)
    .fetch_all(&mut *ctx.tx)
    .await?;
    // One round trip for every figure on the page.
    let counts: DashboardCounts = sqlx::query_as(
        "SELECT (SELECT count(*) FROM students WHERE status = 'active') AS active_students,
                (SELECT count(*) FROM students WHERE status = 'withdrawn') AS withdrawn_students,
                (SELECT count(*) FROM public.users WHERE client_id = $1 AND is_active) AS staff,
                (SELECT count(*) FROM academic_classes ac JOIN academic_sessions s ON s.id = ac.session_id AND s.is_current) AS classes,
                (SELECT count(*) FROM students st WHERE st.status = 'active' AND NOT EXISTS (
                    SELECT 1 FROM registrations r JOIN academic_sessions s ON s.id = r.session_id AND s.is_current
                     WHERE r.student_id = st.id AND r.is_current)) AS unregistered",
    )
    .bind(ctx.school.id)
    .fetch_one(&mut *ctx.tx)
    .await?;
    let session = crate::academics::current_session(&mut ctx.tx).await?;
    let term = crate::academics::current_term(&mut ctx.tx).await?;
    let to_mark: Vec<(i64, String, i64, i64)> = if ctx.perms.has("add_marks") {
        sqlx::query_as(
            "SELECT e.id, c.name || ' · ' || s.name,
                    (SELECT count(*) FROM (SELECT 1 FROM marks m WHERE m.exam_id = e.id GROUP BY m.registration_id
                       HAVING count(*) = (SELECT count(*) FROM exam_components ec WHERE ec.exam_id = e.id)) full_rows),
                    (SELECT count(*) FROM registrations r WHERE r.academic_class_id = e.academic_class_id AND r.is_current)
               FROM exams e
               JOIN exam_sessions es ON es.id = e.exam_session_id AND es.status = 'open'
               JOIN academic_class_subjects acs ON acs.academic_class_id = e.academic_class_id AND acs.subject_id = e.subject_id
               JOIN academic_classes ac ON ac.id = e.academic_class_id
               JOIN classes c ON c.id = ac.class_id
               JOIN subjects s ON s.id = e.subject_id
              WHERE acs.teacher_id = $1
              ORDER BY lower(c.name), lower(s.name)",
        )
        .bind(ctx.user.id)
        .fetch_all(&mut *ctx.tx)
        .await?
    } else {
        Vec::new()
    };
    let my_classes: Vec<(i64, i64, String, String)> = sqlx::query_as(
        "SELECT es.id, ac.id, c.name, es.name
           FROM academic_classes ac
           JOIN classes c ON c.id = ac.class_id
           JOIN LATERAL (SELECT es.id, es.name FROM exam_sessions es JOIN terms t ON t.id = es.term_id
                          WHERE es.session_id = ac.session_id AND es.status <> 'published'
                          ORDER BY t.ordinal DESC LIMIT 1) es ON TRUE
          WHERE ac.class_teacher_id = $1
          ORDER BY lower(c.name)",
    )
    .bind(ctx.user.id)
    .fetch_all(&mut *ctx.tx)
    .await?;
    Ok(DashboardPage {
        my_classes,
        to_mark,
        layout: ctx.layout("Dashboard", "dashboard", &csrf),
        user_name: ctx.user.full_name.clone(),
        role_names,
        counts,
        can_setup: session.is_none() && ctx.perms.has("add_sessions"),
        session,
        term,
        can_view_staff: ctx.perms.has("view_users"),
        can_view_students: ctx.perms.has("view_students"),
        can_add_students: ctx.perms.has("add_students"),
    }
    .into_response())
}

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
        layout: Layout::school(
            "Staff",
            "staff",
            csrf.clone(),
            &ctx.school.name,
            &ctx.user.full_name,
            &ctx.perms,
        ),
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
        .route(
            "/",
            get(dashboard).layer(axum::Extension(Guard::Authenticated)),
        )
        .route("/staff", get(staff).layer(guard("users")))
        .merge(super::staff_pages::router())
        .route(
            "/staff/{id}/active",
            post(set_staff_active).layer(guard_exact(Action::Change, "users")),
        )
}
