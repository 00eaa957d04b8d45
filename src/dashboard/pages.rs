//! The dashboard page.

use askama::Template;
use askama_web::WebTemplate;
use axum::{
    Router,
    response::{IntoResponse, Response},
    routing::get,
};

use super::db::{self, DashboardCounts};
use crate::{
    academics::db::{AcademicSession, Term, current_session, current_term},
    auth::csrf::CsrfToken,
    context::SchoolCtx,
    error::AppResult,
    permissions::access::Guard,
    state::AppState,
    web::layout::Layout,
};

#[derive(Template, WebTemplate)]
#[template(path = "pages/school_dashboard.html")]
struct DashboardPage {
    layout: Layout,
    user_name: String,
    role_names: Vec<String>,
    counts: DashboardCounts,
    session: Option<AcademicSession>,
    term: Option<Term>,
    can_view_staff: bool,
    can_view_students: bool,
    can_add_students: bool,
    can_setup: bool,
    /// (exam id, "JSS 1A · Mathematics", pupils with every score, pupils).
    to_mark: Vec<(i64, String, i64, i64)>,
    /// (exam session id, academic class id, class name, exam session name).
    my_classes: Vec<(i64, i64, String, String)>,
}

async fn dashboard(mut ctx: SchoolCtx, CsrfToken(csrf): CsrfToken) -> AppResult<Response> {
    let role_names = db::role_names(&mut ctx.tx, ctx.user.id).await?;
    let counts = db::counts(&mut ctx.tx, ctx.school.id).await?;
    let session = current_session(&mut ctx.tx).await?;
    let term = current_term(&mut ctx.tx).await?;
    let to_mark = if ctx.perms.has("add_marks") {
        db::marks_to_enter(&mut ctx.tx, ctx.user.id).await?
    } else {
        Vec::new()
    };
    let my_classes = db::my_classes(&mut ctx.tx, ctx.user.id).await?;
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

pub fn router() -> Router<AppState> {
    Router::new().route(
        "/",
        get(dashboard).layer(axum::Extension(Guard::Authenticated)),
    )
}
