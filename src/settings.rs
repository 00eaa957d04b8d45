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
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsInput {
    pub address: Option<String>,
    pub motto: Option<String>,
    pub admission_number_pattern: Option<String>,
    pub next_admission_seq: Option<i32>,
}

pub async fn load(conn: &mut PgConnection) -> Result<Settings, sqlx::Error> {
    sqlx::query_as("SELECT address, motto, admission_number_pattern, next_admission_seq FROM general_settings WHERE id = 1")
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
    if let Some(n) = input.next_admission_seq {
        if n < 1 {
            v.add("next_admission_seq", "Must be 1 or more.");
        }
    }
    v.finish()?;
    sqlx::query(
        "UPDATE general_settings SET address = COALESCE($1, address), motto = COALESCE($2, motto),
                admission_number_pattern = COALESCE($3, admission_number_pattern),
                next_admission_seq = COALESCE($4, next_admission_seq), updated_at = $5 WHERE id = 1",
    )
    .bind(input.address.as_deref().map(str::trim))
    .bind(input.motto.as_deref().map(str::trim))
    .bind(input.admission_number_pattern.as_deref().map(str::trim))
    .bind(input.next_admission_seq)
    .bind(ctx.now)
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
