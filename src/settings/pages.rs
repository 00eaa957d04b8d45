//! The settings page.

use crate::http::Form;
use askama::Template;
use askama_web::WebTemplate;
use axum::{
    Router,
    http::HeaderMap,
    response::{IntoResponse, Response},
};
use axum_messages::Messages;
use serde::Deserialize;

use super::{
    admission_number,
    db::{Settings, SettingsInput, load},
    service::save,
};
use crate::{
    context::SchoolCtx,
    error::AppResult,
    permissions::{access::guard_exact, catalogue::Action},
    state::AppState,
};

#[derive(Template, WebTemplate)]
#[template(path = "pages/settings.html")]
struct SettingsPage {
    layout: crate::web::layout::Layout,
    settings: Settings,
    example: String,
    errors: crate::web::kit::FormErrors,
    can_change: bool,
    /// Every IANA zone, for the clock picker.
    zones: &'static [chrono_tz::Tz],
}

async fn settings_page(
    mut ctx: SchoolCtx,
    crate::auth::csrf::CsrfToken(csrf): crate::auth::csrf::CsrfToken,
) -> AppResult<Response> {
    let settings = load(&mut ctx.tx).await?;
    let example = admission_number::render(
        &settings.admission_number_pattern,
        chrono::Datelike::year(&ctx.today()),
        settings.next_admission_seq,
    );
    Ok(SettingsPage {
        layout: ctx.layout("Settings", "settings", &csrf),
        settings,
        example,
        errors: Default::default(),
        can_change: ctx.perms.has("change_settings"),
        zones: &chrono_tz::TZ_VARIANTS,
    }
    .into_response())
}

#[derive(Deserialize)]
struct SettingsForm {
    #[serde(default)]
    address: String,
    #[serde(default)]
    motto: String,
    #[serde(default)]
    admission_number_pattern: String,
    #[serde(default)]
    phone_country_code: String,
    #[serde(default)]
    time_zone: String,
    #[serde(default)]
    attendance_periods: String,
    #[serde(default)]
    attendance_window_days: String,
    #[serde(default)]
    attendance_watch_run: String,
    #[serde(default)]
    attendance_watch_percentage: String,
    #[serde(default)]
    absence_grace_minutes: String,
}

/// A number typed in a form: blank leaves the setting alone; anything else that is not a
/// number is out of every range, so the field's own message explains it.
fn typed_number(raw: &str) -> Option<i16> {
    let raw = raw.trim();
    (!raw.is_empty()).then(|| raw.parse().unwrap_or(-1))
}

async fn save_settings_page(
    axum::extract::State(state): axum::extract::State<crate::state::AppState>,
    mut ctx: SchoolCtx,
    crate::auth::csrf::CsrfToken(csrf): crate::auth::csrf::CsrfToken,
    messages: Messages,
    headers: HeaderMap,
    Form(f): Form<SettingsForm>,
) -> AppResult<Response> {
    let input = SettingsInput {
        address: Some(f.address.clone()),
        motto: Some(f.motto.clone()),
        admission_number_pattern: Some(f.admission_number_pattern.clone()),
        next_admission_seq: None,
        phone_country_code: Some(f.phone_country_code.clone()),
        time_zone: Some(f.time_zone.clone()).filter(|z| !z.trim().is_empty()),
        attendance_periods: typed_number(&f.attendance_periods),
        attendance_window_days: typed_number(&f.attendance_window_days),
        attendance_watch_run: typed_number(&f.attendance_watch_run),
        attendance_watch_percentage: typed_number(&f.attendance_watch_percentage),
        absence_grace_minutes: typed_number(&f.absence_grace_minutes),
    };
    match save(&mut ctx, &input).await {
        Ok(_) => {
            ctx.commit().await?;
            state.tenants.invalidate();
            crate::web::flash::success(&messages, "Settings saved.");
            Ok(crate::web::htmx::see_other(&headers, "/settings"))
        }
        Err(e) => {
            let errors = crate::web::kit::field_errors(e)?;
            ctx.restart().await?;
            let mut settings = load(&mut ctx.tx).await?;
            settings.address = f.address;
            settings.motto = f.motto;
            settings.admission_number_pattern = f.admission_number_pattern;
            settings.phone_country_code = f.phone_country_code;
            settings.time_zone = f.time_zone;
            if let Some(p) = typed_number(&f.attendance_periods) {
                settings.attendance_periods = p;
            }
            if let Some(d) = typed_number(&f.attendance_window_days) {
                settings.attendance_window_days = d;
            }
            if let Some(n) = typed_number(&f.attendance_watch_run) {
                settings.attendance_watch_run = n;
            }
            if let Some(n) = typed_number(&f.attendance_watch_percentage) {
                settings.attendance_watch_percentage = n;
            }
            if let Some(n) = typed_number(&f.absence_grace_minutes) {
                settings.absence_grace_minutes = n;
            }
            Ok(crate::web::kit::with_status(
                SettingsPage {
                    layout: ctx.layout("Settings", "settings", &csrf),
                    example: String::new(),
                    settings,
                    errors,
                    can_change: true,
                    zones: &chrono_tz::TZ_VARIANTS,
                }
                .into_response(),
                axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            ))
        }
    }
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/settings",
            axum::routing::get(settings_page).layer(guard_exact(Action::View, "settings")),
        )
        .route(
            "/settings",
            axum::routing::post(save_settings_page).layer(guard_exact(Action::Change, "settings")),
        )
}
