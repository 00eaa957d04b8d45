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
    assessment::progress::{self, ExamProgress},
    attendance::{
        calendar,
        registers::{self, RegisterStatus},
    },
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
    /// The user's subjects in open exam sessions and their progress.
    to_mark: Vec<ExamProgress>,
    /// (exam session id, academic class id, class name, exam session name).
    my_classes: Vec<(i64, i64, String, String)>,
    /// Why no register is taken today (a closure, a weekend…); None on a school day.
    no_register_today: Option<String>,
    /// Today's register of each class this user is class teacher of.
    my_registers: Vec<RegisterStatus>,
    /// For those who watch attendance: the classes that have not taken today's register.
    registers_missing: Option<Vec<RegisterStatus>>,
    /// The live notices addressed to this member of staff.
    notices: Vec<crate::notices::db::Notice>,
}

async fn dashboard(mut ctx: SchoolCtx, CsrfToken(csrf): CsrfToken) -> AppResult<Response> {
    let role_names = db::role_names(&mut ctx.tx, ctx.user.id).await?;
    let counts = db::counts(&mut ctx.tx, ctx.school.id).await?;
    let session = current_session(&mut ctx.tx).await?;
    let term = current_term(&mut ctx.tx).await?;
    // The teacher's subjects in open exam sessions, with what is still outstanding.
    let mut to_mark = Vec::new();
    if ctx.perms.has("add_marks") {
        for es in db::open_exam_sessions(&mut ctx.tx).await? {
            to_mark.extend(progress::exams(&mut ctx.tx, es, Some(ctx.user.id)).await?);
        }
    }
    let my_classes = db::my_classes(&mut ctx.tx, ctx.user.id).await?;
    let today = ctx.today();
    let no_register_today = calendar::not_a_school_day(&mut ctx.tx, today, today).await?;
    let day = if no_register_today.is_none() {
        registers::status_of_day(&mut ctx.tx, today).await?
    } else {
        Vec::new()
    };
    let watches = ctx.perms.has("view_attendance") || ctx.perms.has("change_attendance");
    let registers_missing: Option<Vec<RegisterStatus>> = watches.then(|| {
        day.iter()
            .filter(|r| r.pupils > 0 && r.marked == 0)
            .cloned()
            .collect()
    });
    let my_registers = day
        .into_iter()
        .filter(|r| r.class_teacher_id == Some(ctx.user.id))
        .collect();
    let notices = crate::notices::service::staff_notices(&mut ctx, 5).await?;
    Ok(DashboardPage {
        notices,
        no_register_today,
        my_registers,
        registers_missing,
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
