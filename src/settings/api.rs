//! `/api/v1/school/settings/`.

use axum::{Json, extract::State};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    db::{Settings, SettingsInput, load},
    service::save,
};
use crate::{
    context::SchoolCtx,
    error::{AppResult, ErrorBody},
    http::ApiJson,
    permissions::access::guard,
    state::AppState,
};

#[utoipa::path(get, path = "/api/v1/school/settings/", tag = "school-settings", security(("bearer" = [])),
    responses((status = 200, description = "OK", body = Settings), (status = 403, description = "Not allowed", body = ErrorBody)))]
async fn get_settings(mut ctx: SchoolCtx) -> AppResult<Json<Settings>> {
    Ok(Json(load(&mut ctx.tx).await?))
}

#[utoipa::path(patch, path = "/api/v1/school/settings/", tag = "school-settings", security(("bearer" = [])),
    request_body = SettingsInput,
    responses((status = 200, description = "OK", body = Settings), (status = 422, description = "Validation failed", body = ErrorBody)))]
async fn patch_settings(
    State(state): State<AppState>,
    mut ctx: SchoolCtx,
    ApiJson(input): ApiJson<SettingsInput>,
) -> AppResult<Json<Settings>> {
    let s = save(&mut ctx, &input).await?;
    ctx.commit().await?;
    // The clock travels with the cached school: this server sees a new one at once (the
    // others hear of it through the cache's LISTEN).
    state.tenants.invalidate();
    Ok(Json(s))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_settings, patch_settings))
        .layer(guard("settings"))
}
