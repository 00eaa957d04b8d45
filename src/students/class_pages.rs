//! A class of the session with its pupils: the class page (its settings form posts to the
//! academics pages), registering a pupil by admission number, ending a registration, the
//! class list as CSV.

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

use crate::{
    academics::db::{self as academics, AcademicClass, Subject},
    auth::csrf::CsrfToken,
    context::SchoolCtx,
    error::{AppError, AppResult},
    http::ApiPath,
    permissions::{access::guard_exact, catalogue::Action},
    state::AppState,
    students::{
        db,
        registrations::{self, Registration},
        service,
    },
    web::{kit::act, layout::Layout},
};

#[derive(Template, WebTemplate)]
#[template(path = "pages/class_detail.html")]
struct ClassPage {
    layout: Layout,
    class: AcademicClass,
    pupils: Vec<Registration>,
    /// Pupils who left the class this session (moved arm or left the school).
    departed: Vec<registrations::Departure>,
    staff: Vec<(i64, String)>,
    subjects: Vec<Subject>,
    can_register: bool,
    can_change: bool,
}

impl ClassPage {
    fn offers(&self, subject_id: &i64) -> bool {
        self.class
            .subjects
            .iter()
            .any(|s| s.subject_id == *subject_id)
    }

    fn elective(&self, subject_id: &i64) -> bool {
        self.class
            .subjects
            .iter()
            .any(|s| s.subject_id == *subject_id && s.is_elective)
    }

    fn teaches(&self, subject_id: &i64, teacher_id: &i64) -> bool {
        self.class
            .subjects
            .iter()
            .any(|s| s.subject_id == *subject_id && s.teacher_id == Some(*teacher_id))
    }

    fn is_class_teacher(&self, teacher_id: &i64) -> bool {
        self.class.class_teacher_id == Some(*teacher_id)
    }
}

async fn class_detail(
    mut ctx: SchoolCtx,
    CsrfToken(csrf): CsrfToken,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Response> {
    let class = academics::academic_class_by_id(&mut ctx.tx, id).await?;
    let pupils = registrations::class_list(&mut ctx.tx, id).await?;
    let departed = registrations::departures(&mut ctx.tx, id).await?;
    let staff = academics::staff_options(&mut ctx.tx, ctx.school.id).await?;
    let subjects = academics::subjects(&mut ctx.tx).await?;
    Ok(ClassPage {
        layout: ctx.layout(&class.class_name, "classes", &csrf),
        class,
        pupils,
        departed,
        staff,
        subjects,
        can_register: ctx.perms.has("add_registrations"),
        can_change: ctx.perms.has("change_academic_classes"),
    }
    .into_response())
}

#[derive(Deserialize)]
struct RegisterForm {
    #[serde(default)]
    admission_no: String,
}

async fn register_pupil(
    ctx: SchoolCtx,
    messages: Messages,
    headers: HeaderMap,
    ApiPath(id): ApiPath<i64>,
    Form(f): Form<RegisterForm>,
) -> AppResult<Response> {
    let back = format!("/classes/{id}");
    act(
        ctx,
        &messages,
        &headers,
        &back,
        |(r, before, class): &(Registration, Option<String>, String)| match before {
            Some(b) if b == class => {
                format!("{} {} is already in {class}.", r.first_name, r.last_name)
            }
            Some(b) => format!(
                "{} {} moved from {b} to {class}.",
                r.first_name, r.last_name
            ),
            None => format!("{} {} registered in {class}.", r.first_name, r.last_name),
        },
        async move |ctx: &mut SchoolCtx| {
            let class = academics::academic_class_by_id(&mut ctx.tx, id).await?;
            let student: Option<i64> =
                db::id_by_admission_no(&mut ctx.tx, f.admission_no.trim()).await?;
            let student = student.ok_or_else(|| {
                AppError::field(
                    "admission_no",
                    format!(
                        "No student has the admission number {:?}.",
                        f.admission_no.trim()
                    ),
                )
            })?;
            let done = service::register_pupil(ctx, &class, student).await?;
            Ok((done.registration, done.moved_from, class.class_name.clone()))
        },
    )
    .await
}

async fn end_registration(
    ctx: SchoolCtx,
    messages: Messages,
    headers: HeaderMap,
    ApiPath((id, reg)): ApiPath<(i64, i64)>,
) -> AppResult<Response> {
    let back = format!("/classes/{id}");
    act(
        ctx,
        &messages,
        &headers,
        &back,
        |_: &()| "The pupil was removed from the class; their history is kept.".to_owned(),
        async move |ctx: &mut SchoolCtx| {
            let class = academics::academic_class_by_id(&mut ctx.tx, id).await?;
            service::end_registration(ctx, &class, reg).await
        },
    )
    .await
}

async fn export_class(mut ctx: SchoolCtx, ApiPath(id): ApiPath<i64>) -> AppResult<Response> {
    let class = academics::academic_class_by_id(&mut ctx.tx, id).await?;
    let rows = registrations::class_list(&mut ctx.tx, id).await?;
    let response = service::class_list_csv(&mut ctx, &class, &rows).await?;
    ctx.commit().await?;
    Ok(response)
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/classes/{id}",
            get(class_detail).layer(guard_exact(Action::View, "academic_classes")),
        )
        .route(
            "/classes/{id}/register",
            post(register_pupil).layer(guard_exact(Action::Add, "registrations")),
        )
        .route(
            "/classes/{id}/registrations/{reg}/end",
            post(end_registration).layer(guard_exact(Action::Delete, "registrations")),
        )
        .route(
            "/classes/{id}/export.csv",
            get(export_class).layer(guard_exact(Action::View, "registrations")),
        )
}
