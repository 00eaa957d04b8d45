//! Staff management in the browser: add a staff member with roles, change roles, reset a
//! password. Disabling is on the staff list.

use crate::http::Form;
use askama::Template;
use askama_web::WebTemplate;
use axum::{
    Router,
    http::HeaderMap,
    response::{IntoResponse, Response},
    routing::{get, post},
};
use axum_messages::Messages;
use serde::Deserialize;

use super::service::{CreateStaff, UpdateStaff, create_staff, find_staff, update_staff};
use crate::{
    auth::account::UserOut,
    auth::csrf::CsrfToken,
    context::SchoolCtx,
    error::AppResult,
    http::ApiPath,
    permissions::{
        access::guard_exact,
        catalogue::Action,
        roles::{self, Role},
    },
    state::AppState,
    web::{
        flash,
        htmx::see_other,
        kit::{FormErrors, field_errors, with_status},
        layout::Layout,
    },
};

#[derive(Template, WebTemplate)]
#[template(path = "pages/staff_form.html")]
struct StaffFormPage {
    layout: Layout,
    /// None for a new staff member.
    user: Option<UserOut>,
    full_name: String,
    email: String,
    roles: Vec<Role>,
    chosen: Vec<i64>,
    errors: FormErrors,
    can_change: bool,
}

impl StaffFormPage {
    fn has_role(&self, id: &i64) -> bool {
        self.chosen.contains(id)
    }
}

/// The posted form: repeated `role` fields plus text fields.
fn parse(pairs: &[(String, String)]) -> (String, String, String, Vec<i64>) {
    let get = |k: &str| {
        pairs
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let roles = pairs
        .iter()
        .filter(|(k, _)| k == "role")
        .filter_map(|(_, v)| v.parse().ok())
        .collect();
    (get("full_name"), get("email"), get("password"), roles)
}

async fn page(
    ctx: &mut SchoolCtx,
    csrf: &str,
    user: Option<UserOut>,
    full_name: String,
    email: String,
    chosen: Vec<i64>,
    errors: FormErrors,
) -> AppResult<Response> {
    let roles = roles::all(&mut ctx.tx).await?;
    let title = if user.is_some() {
        "Staff member"
    } else {
        "Add a staff member"
    };
    let status = if errors.is_empty() {
        axum::http::StatusCode::OK
    } else {
        axum::http::StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok(with_status(
        StaffFormPage {
            layout: ctx.layout(title, "staff", csrf),
            user,
            full_name,
            email,
            roles,
            chosen,
            errors,
            can_change: ctx.perms.has("change_users"),
        }
        .into_response(),
        status,
    ))
}

async fn new_form(mut ctx: SchoolCtx, CsrfToken(csrf): CsrfToken) -> AppResult<Response> {
    page(
        &mut ctx,
        &csrf,
        None,
        String::new(),
        String::new(),
        Vec::new(),
        FormErrors::default(),
    )
    .await
}

async fn create(
    mut ctx: SchoolCtx,
    CsrfToken(csrf): CsrfToken,
    messages: Messages,
    headers: HeaderMap,
    Form(pairs): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let (full_name, email, password, chosen) = parse(&pairs);
    let input = CreateStaff {
        email: email.clone(),
        full_name: full_name.clone(),
        password,
        roles: chosen.clone(),
    };
    match create_staff(&mut ctx, &input).await {
        Ok(user) => {
            ctx.commit().await?;
            flash::success(
                &messages,
                format!("{} can now sign in with {}.", user.full_name, user.email),
            );
            Ok(see_other(&headers, "/staff"))
        }
        Err(e) => {
            let errors = field_errors(e)?;
            ctx.restart().await?;
            page(&mut ctx, &csrf, None, full_name, email, chosen, errors).await
        }
    }
}

async fn detail(
    mut ctx: SchoolCtx,
    CsrfToken(csrf): CsrfToken,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Response> {
    let (user, role_ids) = find_staff(&mut ctx, id).await?;
    let out = UserOut::from_user(&user, role_ids.clone());
    page(
        &mut ctx,
        &csrf,
        Some(out),
        user.full_name.clone(),
        user.email.clone(),
        role_ids,
        FormErrors::default(),
    )
    .await
}

async fn update(
    mut ctx: SchoolCtx,
    CsrfToken(csrf): CsrfToken,
    messages: Messages,
    headers: HeaderMap,
    ApiPath(id): ApiPath<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let (full_name, _, _, chosen) = parse(&pairs);
    let input = UpdateStaff {
        full_name: Some(full_name.clone()),
        roles: Some(chosen.clone()),
        ..Default::default()
    };
    match update_staff(&mut ctx, id, &input).await {
        Ok(user) => {
            ctx.commit().await?;
            flash::success(&messages, format!("{} saved.", user.full_name));
            Ok(see_other(&headers, &format!("/staff/{id}")))
        }
        Err(e) => {
            let errors = field_errors(e)?;
            ctx.restart().await?;
            let (user, role_ids) = find_staff(&mut ctx, id).await?;
            let email = user.email.clone();
            page(
                &mut ctx,
                &csrf,
                Some(UserOut::from_user(&user, role_ids)),
                full_name,
                email,
                chosen,
                errors,
            )
            .await
        }
    }
}

#[derive(Deserialize)]
struct PasswordForm {
    #[serde(default)]
    password: String,
}

async fn reset_password(
    mut ctx: SchoolCtx,
    CsrfToken(csrf): CsrfToken,
    messages: Messages,
    headers: HeaderMap,
    ApiPath(id): ApiPath<i64>,
    Form(f): Form<PasswordForm>,
) -> AppResult<Response> {
    let input = UpdateStaff {
        password: Some(f.password),
        ..Default::default()
    };
    match update_staff(&mut ctx, id, &input).await {
        Ok(user) => {
            ctx.commit().await?;
            flash::success(
                &messages,
                format!(
                    "{}'s password was changed; their other sessions were signed out. Give them the new password in person.",
                    user.full_name
                ),
            );
            Ok(see_other(&headers, &format!("/staff/{id}")))
        }
        Err(e) => {
            let errors = field_errors(e)?;
            ctx.restart().await?;
            let (user, role_ids) = find_staff(&mut ctx, id).await?;
            let (name, email) = (user.full_name.clone(), user.email.clone());
            page(
                &mut ctx,
                &csrf,
                Some(UserOut::from_user(&user, role_ids.clone())),
                name,
                email,
                role_ids,
                errors,
            )
            .await
        }
    }
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/staff/new",
            get(new_form)
                .post(create)
                .layer(guard_exact(Action::Add, "users")),
        )
        .route(
            "/staff/{id}",
            get(detail).layer(guard_exact(Action::View, "users")),
        )
        .route(
            "/staff/{id}",
            post(update).layer(guard_exact(Action::Change, "users")),
        )
        .route(
            "/staff/{id}/password",
            post(reset_password).layer(guard_exact(Action::Change, "users")),
        )
}
