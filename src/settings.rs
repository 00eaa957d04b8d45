//! School settings: address, motto and the admission number pattern.

use axum::Json;
use serde::{Deserialize, Serialize};
use sqlx::{FromRow, PgConnection};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    app::AppState,
    audit,
    context::SchoolCtx,
    error::{AppResult, ErrorBody, Validator},
    http::ApiJson,
    permissions::guard,
    students,
};

#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct Settings {
    pub address: String,
    pub motto: String,
    /// `{YYYY}` year of admission, `{YY}` its last two digits, `{SEQ:n}` running number.
    #[schema(example = "ADM/{YYYY}/{SEQ:4}")]
    pub admission_number_pattern: String,
    pub next_admission_seq: i32,
    /// Country code given to local phone numbers, e.g. `+234`.
    pub phone_country_code: String,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsInput {
    pub address: Option<String>,
    pub motto: Option<String>,
    pub admission_number_pattern: Option<String>,
    pub next_admission_seq: Option<i32>,
    pub phone_country_code: Option<String>,
}

pub async fn load(conn: &mut PgConnection) -> Result<Settings, sqlx::Error> {
    sqlx::query_as("SELECT address, motto, admission_number_pattern, next_admission_seq, phone_country_code FROM general_settings WHERE id = 1")
        .fetch_one(conn)
        .await
}

pub async fn save(ctx: &mut SchoolCtx, input: &SettingsInput) -> AppResult<Settings> {
    let before = load(&mut ctx.tx).await?;
    let mut v = Validator::new();
    if let Some(a) = &input.address {
        v.text("address", a, 0, 300);
    }
    if let Some(m) = &input.motto {
        v.text("motto", m, 0, 200);
    }
    if let Some(p) = &input.admission_number_pattern {
        if let Err(msg) = students::validate_pattern(p.trim()) {
            v.add("admission_number_pattern", msg);
        }
    }
    if let Some(cc) = &input.phone_country_code {
        let cc = cc.trim();
        let ok = cc.len() >= 2
            && cc.len() <= 5
            && cc.starts_with('+')
            && cc[1..].chars().all(|c| c.is_ascii_digit());
        if !ok {
            v.add("phone_country_code", "Use + and 1 to 4 digits, e.g. +234.");
        }
    }
    if let Some(n) = input.next_admission_seq {
        if n < 1 {
            v.add("next_admission_seq", "Must be 1 or more.");
        }
    }
    v.finish()?;
    sqlx::query(
        "UPDATE general_settings SET address = COALESCE($1, address), motto = COALESCE($2, motto),
                admission_number_pattern = COALESCE($3, admission_number_pattern),
                next_admission_seq = COALESCE($4, next_admission_seq),
                phone_country_code = COALESCE($6, phone_country_code), updated_at = $5 WHERE id = 1",
    )
    .bind(input.address.as_deref().map(str::trim))
    .bind(input.motto.as_deref().map(str::trim))
    .bind(input.admission_number_pattern.as_deref().map(str::trim))
    .bind(input.next_admission_seq)
    .bind(ctx.now)
    .bind(input.phone_country_code.as_deref().map(str::trim))
    .execute(&mut *ctx.tx)
    .await?;
    let after = load(&mut ctx.tx).await?;
    let to = |s: &Settings| serde_json::to_value(s).unwrap_or_default();
    ctx.audit(
        "update",
        "settings",
        1,
        audit::diff(&to(&before), &to(&after)),
    )
    .await?;
    Ok(after)
}

#[utoipa::path(get, path = "/api/v1/school/settings/", tag = "school-settings", security(("bearer" = [])),
    responses((status = 200, description = "OK", body = Settings), (status = 403, description = "Not allowed", body = ErrorBody)))]
async fn get_settings(mut ctx: SchoolCtx) -> AppResult<Json<Settings>> {
    Ok(Json(load(&mut ctx.tx).await?))
}

#[utoipa::path(patch, path = "/api/v1/school/settings/", tag = "school-settings", security(("bearer" = [])),
    request_body = SettingsInput,
    responses((status = 200, description = "OK", body = Settings), (status = 422, description = "Validation failed", body = ErrorBody)))]
async fn patch_settings(
    mut ctx: SchoolCtx,
    ApiJson(input): ApiJson<SettingsInput>,
) -> AppResult<Json<Settings>> {
    let s = save(&mut ctx, &input).await?;
    ctx.commit().await?;
    Ok(Json(s))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_settings, patch_settings))
        .layer(guard("settings"))
}

// ---- page ----

use askama::Template;
use askama_web::WebTemplate;
use axum::{
    Form, Router,
    http::HeaderMap,
    response::{IntoResponse, Response},
};

#[derive(Template, WebTemplate)]
#[template(path = "pages/settings.html")]
struct SettingsPage {
    layout: crate::web::Layout,
    settings: Settings,
    example: String,
    errors: crate::web::FormErrors,
    can_change: bool,
}

async fn settings_page(
    mut ctx: SchoolCtx,
    crate::auth::csrf::CsrfToken(csrf): crate::auth::csrf::CsrfToken,
) -> AppResult<Response> {
    let settings = load(&mut ctx.tx).await?;
    let example = students::render_admission_pattern(
        &settings.admission_number_pattern,
        chrono::Datelike::year(&ctx.now.date_naive()),
        settings.next_admission_seq,
    );
    Ok(SettingsPage {
        layout: ctx.layout("Settings", "settings", &csrf),
        settings,
        example,
        errors: Default::default(),
        can_change: ctx.perms.has("change_settings"),
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
}

async fn save_settings_page(
    mut ctx: SchoolCtx,
    crate::auth::csrf::CsrfToken(csrf): crate::auth::csrf::CsrfToken,
    session: tower_sessions::Session,
    headers: HeaderMap,
    Form(f): Form<SettingsForm>,
) -> AppResult<Response> {
    let input = SettingsInput {
        address: Some(f.address.clone()),
        motto: Some(f.motto.clone()),
        admission_number_pattern: Some(f.admission_number_pattern.clone()),
        next_admission_seq: None,
        phone_country_code: Some(f.phone_country_code.clone()),
    };
    match save(&mut ctx, &input).await {
        Ok(_) => {
            ctx.commit().await?;
            crate::web::flash::success(&session, "Settings saved.").await;
            Ok(crate::web::see_other(&headers, "/settings"))
        }
        Err(e) => {
            let errors = crate::web::field_errors(e)?;
            ctx.restart().await?;
            let mut settings = load(&mut ctx.tx).await?;
            settings.address = f.address;
            settings.motto = f.motto;
            settings.admission_number_pattern = f.admission_number_pattern;
            settings.phone_country_code = f.phone_country_code;
            Ok(crate::web::with_status(
                SettingsPage {
                    layout: ctx.layout("Settings", "settings", &csrf),
                    example: String::new(),
                    settings,
                    errors,
                    can_change: true,
                }
                .into_response(),
                axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            ))
        }
    }
}

pub fn pages_router() -> Router<AppState> {
    use crate::permissions::{Action, guard_exact};
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
