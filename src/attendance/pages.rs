//! The register page: a class, a day and a period; one tap per pupil, "mark all present",
//! then save. Saving goes through `registers::save`, so the page keeps the API's rules.

use askama::Template;
use askama_web::WebTemplate;
use axum::{
    Router,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
};
use axum_messages::Messages;
use std::collections::HashMap;

use chrono::NaiveDate;
use serde::Deserialize;

use super::registers::{self, MarkInput, Register, RegisterQuery, RegisterSave};
use crate::{
    auth::csrf::CsrfToken,
    context::SchoolCtx,
    error::{AppError, AppResult},
    http::{ApiQuery, Form},
    permissions::access::Guard,
    state::AppState,
    web::kit::{FormErrors, field_errors, with_status},
};

#[derive(Debug, Deserialize)]
struct PageQuery {
    class: Option<i64>,
    date: Option<NaiveDate>,
    period: Option<i16>,
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/attendance.html")]
struct AttendancePage {
    layout: crate::web::layout::Layout,
    /// (academic class id, name) the user may open.
    classes: Vec<(i64, String)>,
    class: Option<i64>,
    date: NaiveDate,
    period: i16,
    /// Registers a day at this school.
    periods: i16,
    register: Option<Register>,
    /// What was sent when the save was refused, so no tap is lost: registration → (code, reason).
    sent: HashMap<i64, (String, String)>,
    /// Keyed `reg_<registration>` (and `date`, `period`, `rows`).
    errors: FormErrors,
}

impl AttendancePage {
    fn self_url(&self) -> String {
        match self.class {
            Some(c) => format!(
                "/attendance?class={c}&date={}&period={}",
                self.date, self.period
            ),
            None => "/attendance".to_owned(),
        }
    }

    /// Where the page's script saves each tap.
    fn marks_url(&self) -> String {
        match self.class {
            Some(c) => format!(
                "/attendance/marks?class={c}&date={}&period={}",
                self.date, self.period
            ),
            None => String::new(),
        }
    }

    /// The code "mark everyone present" sets: the school's first active code counted as
    /// present (P unless the school renamed it).
    fn present_code(&self) -> String {
        self.register
            .as_ref()
            .and_then(|r| r.codes.iter().find(|c| c.counts_as.as_str() == "present"))
            .map(|c| c.code.clone())
            .unwrap_or_else(|| "P".to_owned())
    }

    fn register_js(&self) -> String {
        crate::web::assets::url("register.js")
    }

    fn is_class(&self, id: &i64) -> bool {
        self.class == Some(*id)
    }

    /// The problems found with one pupil's row, joined.
    fn row_error(&self, registration: &i64) -> String {
        self.errors.get(&format!("reg_{registration}"))
    }

    /// The code shown for a pupil: what was just sent, else what is saved.
    fn code_of(&self, row: &registers::RegisterRow) -> String {
        match self.sent.get(&row.registration) {
            Some((code, _)) => code.to_uppercase(),
            None => row.code.clone().unwrap_or_default(),
        }
    }

    fn reason_of(&self, row: &registers::RegisterRow) -> String {
        match self.sent.get(&row.registration) {
            Some((_, reason)) => reason.clone(),
            None => row.reason.clone(),
        }
    }
}

/// The current session's classes this user may open: all of them for those who read or
/// correct attendance, their own for a class teacher.
pub(super) async fn classes(ctx: &mut SchoolCtx) -> AppResult<Vec<(i64, String)>> {
    let every = ctx.perms.has("view_attendance") || ctx.perms.has("change_attendance");
    Ok(sqlx::query_as(
        "SELECT ac.id, c.name FROM academic_classes ac
           JOIN classes c ON c.id = ac.class_id
           JOIN academic_sessions s ON s.id = ac.session_id
          WHERE s.is_current AND ($1 OR ac.class_teacher_id = $2)
          ORDER BY c.name, ac.id",
    )
    .bind(every)
    .bind(ctx.user.id)
    .fetch_all(&mut *ctx.tx)
    .await?)
}

async fn render(
    mut ctx: SchoolCtx,
    csrf: &str,
    q: PageQuery,
    sent: HashMap<i64, (String, String)>,
    errors: FormErrors,
) -> AppResult<Response> {
    let classes = classes(&mut ctx).await?;
    // A class teacher goes straight to their own class; anyone with one class to it.
    let own: Option<i64> = sqlx::query_scalar(
        "SELECT ac.id FROM academic_classes ac
           JOIN academic_sessions s ON s.id = ac.session_id AND s.is_current
           JOIN classes c ON c.id = ac.class_id
          WHERE ac.class_teacher_id = $1 ORDER BY c.name, ac.id LIMIT 1",
    )
    .bind(ctx.user.id)
    .fetch_optional(&mut *ctx.tx)
    .await?;
    let class = q.class.or(own).or(match classes.as_slice() {
        [(only, _)] => Some(*only),
        _ => None,
    });
    let periods: i16 =
        sqlx::query_scalar("SELECT attendance_periods FROM general_settings WHERE id = 1")
            .fetch_one(&mut *ctx.tx)
            .await?;
    let date = q.date.unwrap_or_else(|| ctx.today());
    let period = q.period.unwrap_or(1);
    let register = match class {
        Some(class) => Some(
            registers::load(
                &mut ctx,
                &RegisterQuery {
                    academic_class: class,
                    date,
                    period: Some(period),
                },
            )
            .await?,
        ),
        None => None,
    };
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let page = AttendancePage {
        periods,
        layout: ctx.layout("Attendance", "attendance", csrf),
        classes,
        class,
        date,
        period,
        register,
        sent,
        errors,
    };
    Ok(with_status(page.into_response(), status))
}

async fn attendance_page(
    ctx: SchoolCtx,
    CsrfToken(csrf): CsrfToken,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> AppResult<Response> {
    render(ctx, &csrf, q, HashMap::new(), FormErrors::default()).await
}

/// `code_<registration>` and `reason_<registration>` for each pupil; pupils left unmarked
/// are not sent.
fn rows_of(pairs: &[(String, String)]) -> Vec<MarkInput> {
    // One pass into a map: a form of a million fields costs a million steps, not a million
    // squared. The register refuses more rows than it has pupils anyway.
    let reasons: HashMap<&str, &str> = pairs
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix("reason_")?, v.as_str())))
        .collect();
    pairs
        .iter()
        .filter_map(|(k, v)| {
            let id = k.strip_prefix("code_")?;
            let registration = id.parse::<i64>().ok()?;
            (!v.is_empty()).then(|| MarkInput {
                registration,
                code: v.clone(),
                reason: reasons.get(id).map(|r| (*r).to_owned()),
            })
        })
        .take(registers::MAX_ROWS + 1)
        .collect()
}

/// The registration a save error names (`rows[i].code` → the i-th row sent).
fn registration_of(field: &str, order: &[i64]) -> Option<i64> {
    field
        .strip_prefix("rows[")
        .and_then(|rest| rest.split_once(']'))
        .and_then(|(i, _)| i.parse::<usize>().ok())
        .and_then(|i| order.get(i).copied())
}

async fn save_register(
    mut ctx: SchoolCtx,
    CsrfToken(csrf): CsrfToken,
    messages: Messages,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<PageQuery>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let class = q
        .class
        .ok_or_else(|| AppError::field("class", "Choose a class."))?;
    let date = q.date.unwrap_or_else(|| ctx.today());
    let period = q.period.unwrap_or(1);
    let rows = rows_of(&pairs);
    let sent: HashMap<i64, (String, String)> = rows
        .iter()
        .map(|r| {
            (
                r.registration,
                (r.code.clone(), r.reason.clone().unwrap_or_default()),
            )
        })
        .collect();
    let order: Vec<i64> = rows.iter().map(|r| r.registration).collect();
    if rows.is_empty() {
        crate::web::flash::error(&messages, "Nobody was marked, so nothing was saved.");
        return Ok(crate::web::htmx::see_other(
            &headers,
            &format!("/attendance?class={class}&date={date}&period={period}"),
        ));
    }
    let query = RegisterQuery {
        academic_class: class,
        date,
        period: Some(period),
    };
    match registers::save(&mut ctx, &query, &RegisterSave { rows }).await {
        Ok(_) => {
            ctx.commit().await?;
            crate::web::flash::success(&messages, "Register saved.");
            Ok(crate::web::htmx::see_other(
                &headers,
                &format!("/attendance?class={class}&date={date}&period={period}"),
            ))
        }
        Err(e) => {
            // `rows[i].code` → `reg_<registration>`, so each message sits on its pupil.
            let FormErrors(by_field) = field_errors(e)?;
            let mut errors = crate::error::FieldErrors::new();
            for (field, messages) in by_field {
                let key = registration_of(&field, &order)
                    .map(|reg| format!("reg_{reg}"))
                    .unwrap_or(field);
                errors.entry(key).or_default().extend(messages);
            }
            let errors = FormErrors(errors);
            ctx.restart().await?;
            render(
                ctx,
                &csrf,
                PageQuery {
                    class: Some(class),
                    date: Some(date),
                    period: Some(period),
                },
                sent,
                errors,
            )
            .await
        }
    }
}

/// The page's script saves as it goes: each tap (or "mark all") posts the changed pupils
/// here. 200 with `{"saved": [registration…]}`; a refused row is a 422
/// `{"detail", "rows": {registration: message}}` and nothing of that request is saved, so
/// the script sends the other rows again on their own. A refusal of the whole register
/// (403, 404, 409) comes in the same shape, every row carrying the reason.
async fn save_marks(
    mut ctx: SchoolCtx,
    ApiQuery(q): ApiQuery<PageQuery>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let class = q
        .class
        .ok_or_else(|| AppError::field("class", "Choose a class."))?;
    let date = q.date.unwrap_or_else(|| ctx.today());
    let rows = rows_of(&pairs);
    if rows.is_empty() {
        return Err(AppError::field("rows", "Nobody was marked."));
    }
    let order: Vec<i64> = rows.iter().map(|r| r.registration).collect();
    let query = RegisterQuery {
        academic_class: class,
        date,
        period: q.period,
    };
    match registers::save(&mut ctx, &query, &RegisterSave { rows }).await {
        Ok(_) => {
            ctx.commit().await?;
            Ok(axum::Json(serde_json::json!({ "saved": order })).into_response())
        }
        Err(AppError::Validation { detail, errors }) => {
            // `rows[i].code` → the registration of row i; anything else (the day) applies
            // to every row sent.
            let mut by_row: HashMap<String, Vec<String>> = HashMap::new();
            let mut general = Vec::new();
            for (field, messages) in errors {
                match registration_of(&field, &order) {
                    Some(reg) => by_row.entry(reg.to_string()).or_default().extend(messages),
                    None => general.extend(messages),
                }
            }
            let mut by_row: HashMap<String, String> = by_row
                .into_iter()
                .map(|(reg, messages)| (reg, messages.join(" ")))
                .collect();
            if !general.is_empty() {
                let text = general.join(" ");
                for reg in &order {
                    by_row
                        .entry(reg.to_string())
                        .or_insert_with(|| text.clone());
                }
            }
            Ok(with_status(
                axum::Json(serde_json::json!({ "detail": detail, "rows": by_row })).into_response(),
                StatusCode::UNPROCESSABLE_ENTITY,
            ))
        }
        // A refusal that no later try will change (the class teacher's window has passed,
        // the school takes one register a day now, the class is gone): every row says why,
        // and the page stops sending them.
        Err(
            e @ (AppError::Forbidden(_)
            | AppError::NotFound(_)
            | AppError::Conflict(_)
            | AppError::BadRequest(_)),
        ) => {
            let status = match e {
                AppError::Forbidden(_) => StatusCode::FORBIDDEN,
                AppError::NotFound(_) => StatusCode::NOT_FOUND,
                AppError::Conflict(_) => StatusCode::CONFLICT,
                _ => StatusCode::BAD_REQUEST,
            };
            let detail = e.to_string();
            let rows: HashMap<String, String> = order
                .iter()
                .map(|reg| (reg.to_string(), detail.clone()))
                .collect();
            Ok(with_status(
                axum::Json(serde_json::json!({ "detail": detail, "rows": rows })).into_response(),
                status,
            ))
        }
        Err(e) => Err(e),
    }
}

pub fn router() -> Router<AppState> {
    // The register's own rules decide (class teacher, window, any class).
    Router::new()
        .route("/attendance", get(attendance_page).post(save_register))
        .route("/attendance/marks", axum::routing::post(save_marks))
        .layer(axum::Extension(Guard::Authenticated))
}
