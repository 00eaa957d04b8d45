//! `/api/v1/system/whatsapp-contacts/`: which schools a phone reaches on the shared number
//! (platform users holding `view_whatsapp_contacts` / `delete_whatsapp_contacts`).

use axum::{
    Json,
    http::{StatusCode, Uri},
};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::platform::{self, Contact, ContactFilter};
use crate::{
    context::PlatformCtx,
    error::{AppResult, ErrorBody},
    http::{ApiPath, ApiQuery, ListParams, Page, PageParams},
    permissions::access::guard,
    state::AppState,
};

/// Contacts of every school, newest first; `?search=` by phone digits, `?school=` for one
/// school's.
#[utoipa::path(get, path = "/api/v1/system/whatsapp-contacts/", tag = "system-whatsapp",
    security(("bearer" = [])),
    params(PageParams, ContactFilter, ("search" = Option<String>, Query, description = "Digits of the phone.")),
    responses((status = 200, description = "OK", body = Page<Contact>), (status = 401, description = "Not authenticated", body = ErrorBody), (status = 403, description = "Not allowed", body = ErrorBody), (status = 422, description = "Bad page or search", body = ErrorBody)))]
async fn list_whatsapp_contacts(
    mut ctx: PlatformCtx,
    uri: Uri,
    ApiQuery(params): ApiQuery<ListParams>,
    ApiQuery(filter): ApiQuery<ContactFilter>,
) -> AppResult<Json<Page<Contact>>> {
    let (rows, count) = platform::list(&mut ctx.tx, &params, &filter).await?;
    Ok(Json(Page::new(rows, count, &params, &uri)?))
}

/// Deletes a contact: the phone no longer reaches that pupil's school through the shared
/// number. The school's link stays until the school ends it. Audited on the platform trail.
#[utoipa::path(delete, path = "/api/v1/system/whatsapp-contacts/{id}/", tag = "system-whatsapp",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Contact id")),
    responses((status = 204, description = "Deleted"), (status = 401, description = "Not authenticated", body = ErrorBody), (status = 403, description = "Not allowed", body = ErrorBody), (status = 404, description = "Not found", body = ErrorBody)))]
async fn delete_whatsapp_contact(
    mut ctx: PlatformCtx,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<StatusCode> {
    platform::delete(&mut ctx, id).await?;
    ctx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_whatsapp_contacts))
        .routes(routes!(delete_whatsapp_contact))
        .layer(guard("whatsapp_contacts"))
}
