//! The page of a pupil's subjects in their class: electives taken and core subjects exempted.

use std::collections::HashMap;

use askama::Template;
use askama_web::WebTemplate;
use axum::{
    Router,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use axum_messages::Messages;

use super::taking::{self, Exemption, PupilSubjects, PupilSubjectsInput};
use crate::{
    auth::csrf::CsrfToken,
    context::SchoolCtx,
    error::{AppError, AppResult},
    http::{ApiPath, Form},
    permissions::{access::guard_exact, catalogue::Action},
    state::AppState,
    web::{
        flash,
        htmx::see_other,
        kit::{FormErrors, field_errors, message_of, with_status},
        layout::Layout,
    },
};

#[derive(Template, WebTemplate)]
#[template(path = "pages/pupil_subjects.html")]
struct PupilSubjectsPage {
    layout: Layout,
    pupil: PupilSubjects,
    /// Reasons as typed, by subject id (kept when the form comes back with errors).
    reasons: HashMap<i64, String>,
    errors: FormErrors,
    /// Error field → the subject it speaks of.
    fields: HashMap<String, i64>,
    can_change: bool,
}

impl PupilSubjectsPage {
    fn reason(&self, subject_id: &i64) -> &str {
        self.reasons.get(subject_id).map_or("", String::as_str)
    }
    /// The error of the exemption of `subject_id`, if the form sent one back.
    fn error_of(&self, subject_id: &i64) -> String {
        self.errors
            .0
            .iter()
            .filter(|(field, _)| {
                field.starts_with("exemptions[") || field.starts_with("electives[")
            })
            .filter(|(field, _)| self.fields.get(field.as_str()) == Some(subject_id))
            .flat_map(|(_, m)| m.clone())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

fn page(
    ctx: &SchoolCtx,
    csrf: &str,
    pupil: PupilSubjects,
    reasons: HashMap<i64, String>,
    errors: FormErrors,
    fields: HashMap<String, i64>,
) -> PupilSubjectsPage {
    PupilSubjectsPage {
        layout: ctx.layout(&format!("Subjects · {}", pupil.full_name), "classes", csrf),
        pupil,
        reasons,
        errors,
        fields,
        can_change: ctx.perms.has("change_registrations"),
    }
}

async fn show(
    mut ctx: SchoolCtx,
    CsrfToken(csrf): CsrfToken,
    ApiPath((class, registration)): ApiPath<(i64, i64)>,
) -> AppResult<Response> {
    let pupil = taking::pupil_subjects(&mut ctx.tx, class, registration).await?;
    let reasons = pupil
        .subjects
        .iter()
        .filter_map(|s| s.exempt_reason.clone().map(|r| (s.subject_id, r)))
        .collect();
    Ok(page(
        &ctx,
        &csrf,
        pupil,
        reasons,
        FormErrors::default(),
        HashMap::new(),
    )
    .into_response())
}

/// The form posts `elective=<id>` per elective taken, `exempt=<id>` per core subject
/// excused and `reason_<id>` for its reason.
async fn save(
    mut ctx: SchoolCtx,
    messages: Messages,
    headers: HeaderMap,
    CsrfToken(csrf): CsrfToken,
    ApiPath((class, registration)): ApiPath<(i64, i64)>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let ids = |key: &str| -> Vec<i64> {
        pairs
            .iter()
            .filter(|(k, _)| k == key)
            .filter_map(|(_, v)| v.parse().ok())
            .collect()
    };
    let reasons: HashMap<i64, String> = pairs
        .iter()
        .filter_map(|(k, v)| {
            let id = k.strip_prefix("reason_")?.parse().ok()?;
            Some((id, v.clone()))
        })
        .collect();
    let input = PupilSubjectsInput {
        electives: ids("elective"),
        exemptions: ids("exempt")
            .into_iter()
            .map(|subject_id| Exemption {
                subject_id,
                reason: reasons.get(&subject_id).cloned().unwrap_or_default(),
            })
            .collect(),
    };
    // Which subject each error field speaks of, to show it on its row.
    let mut fields: HashMap<String, i64> = HashMap::new();
    for (i, id) in input.electives.iter().enumerate() {
        fields.insert(format!("electives[{i}]"), *id);
    }
    for (i, e) in input.exemptions.iter().enumerate() {
        fields.insert(format!("exemptions[{i}].subject_id"), e.subject_id);
        fields.insert(format!("exemptions[{i}].reason"), e.subject_id);
    }
    match taking::save(&mut ctx, class, registration, &input).await {
        Ok(saved) => {
            ctx.commit().await?;
            flash::success(&messages, format!("Subjects of {} saved.", saved.full_name));
            Ok(see_other(&headers, &format!("/classes/{class}")))
        }
        Err(e @ AppError::Conflict(_)) => {
            flash::error(&messages, message_of(&e));
            Ok(see_other(
                &headers,
                &format!("/classes/{class}/pupils/{registration}/subjects"),
            ))
        }
        Err(e) => {
            let errors = field_errors(e)?;
            ctx.restart().await?;
            let mut pupil = taking::pupil_subjects(&mut ctx.tx, class, registration).await?;
            // Ticks as sent, so nothing typed is lost.
            let electives = ids("elective");
            let exempt = ids("exempt");
            for s in &mut pupil.subjects {
                s.takes = if s.is_elective {
                    electives.contains(&s.subject_id)
                } else {
                    !exempt.contains(&s.subject_id)
                };
            }
            Ok(with_status(
                page(&ctx, &csrf, pupil, reasons, errors, fields).into_response(),
                StatusCode::UNPROCESSABLE_ENTITY,
            ))
        }
    }
}

pub fn router() -> Router<AppState> {
    const PATH: &str = "/classes/{class}/pupils/{registration}/subjects";
    Router::new()
        .route(
            PATH,
            get(show).layer(guard_exact(Action::View, "registrations")),
        )
        .route(
            PATH,
            post(save).layer(guard_exact(Action::Change, "registrations")),
        )
}
