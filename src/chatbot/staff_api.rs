//! The school API of parents on WhatsApp, for staff: a guardian's links and link codes
//! (`/api/v1/school/guardians/{id}/whatsapp/`), the school's WhatsApp settings and test
//! message (`/api/v1/school/settings/whatsapp/`), and linked parents, recent messages and
//! delivery failures (`/api/v1/school/whatsapp/`).

use axum::{
    Json,
    extract::State,
    http::{StatusCode, Uri},
};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    staff_links::{self, EndLinkInput, GuardianLink, IssuedCode},
    staff_settings::{
        self, ChatMessage, Delivery, LinkedParent, QueuedTest, TestMessageInput, WhatsAppSettings,
        WhatsAppSettingsInput,
    },
};
use crate::{
    context::SchoolCtx,
    error::{AppResult, ErrorBody},
    http::{ApiJson, ApiPath, ApiQuery, ListParams, Page, PageParams},
    permissions::{
        access::{guard, guard_exact},
        catalogue::Action,
    },
    state::AppState,
};

/// A guardian's WhatsApp links, live ones first, then ended ones (`view_guardians`).
#[utoipa::path(get, path = "/api/v1/school/guardians/{id}/whatsapp/", tag = "school-whatsapp", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Guardian id"), PageParams),
    responses((status = 200, description = "OK", body = Page<GuardianLink>), (status = 403, description = "Not allowed", body = ErrorBody), (status = 404, description = "Not found", body = ErrorBody)))]
async fn guardian_whatsapp_links(
    mut ctx: SchoolCtx,
    uri: Uri,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(paging): ApiQuery<PageParams>,
) -> AppResult<Json<Page<GuardianLink>>> {
    staff_links::guardian(&mut ctx.tx, id).await?;
    let all = staff_links::links_of(&mut ctx.tx, id).await?;
    Ok(Json(Page::of_all(all, &paging, &uri)?))
}

/// Issues a one-time link code for the guardian to send on WhatsApp (`change_guardians`).
/// The code is in this answer only: a hash is kept. Any earlier unused code of theirs is
/// void. A guardian without a phone number gets a 422 naming `phone`.
#[utoipa::path(post, path = "/api/v1/school/guardians/{id}/whatsapp/link-code/", tag = "school-whatsapp", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Guardian id")),
    responses((status = 201, description = "Issued", body = IssuedCode), (status = 403, description = "Not allowed", body = ErrorBody), (status = 404, description = "Not found", body = ErrorBody), (status = 422, description = "The guardian has no phone", body = ErrorBody)))]
async fn issue_whatsapp_link_code(
    State(state): State<AppState>,
    mut ctx: SchoolCtx,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<(StatusCode, Json<IssuedCode>)> {
    let shared = state.config.whatsapp.shared_display_phone.as_deref();
    let issued = staff_links::issue_code(&mut ctx, shared, id).await?;
    ctx.commit().await?;
    Ok((StatusCode::CREATED, Json(issued)))
}

/// Ends one of the guardian's live links (`change_guardians`): the phone no longer gets the
/// pupil's messages. A link already ended is a 409.
#[utoipa::path(post, path = "/api/v1/school/guardians/{id}/whatsapp/links/{link_id}/end/", tag = "school-whatsapp", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Guardian id"), ("link_id" = i64, Path, description = "Link id")),
    request_body = EndLinkInput,
    responses((status = 200, description = "Ended", body = GuardianLink), (status = 403, description = "Not allowed", body = ErrorBody), (status = 404, description = "Not found", body = ErrorBody), (status = 409, description = "Already ended", body = ErrorBody), (status = 422, description = "Validation failed", body = ErrorBody)))]
async fn end_whatsapp_link(
    mut ctx: SchoolCtx,
    ApiPath((id, link_id)): ApiPath<(i64, i64)>,
    ApiJson(input): ApiJson<EndLinkInput>,
) -> AppResult<Json<GuardianLink>> {
    let link = staff_links::end_link(&mut ctx, id, link_id, &input).await?;
    ctx.commit().await?;
    Ok(Json(link))
}

/// The school's WhatsApp settings (`view_settings`). The access token is never returned:
/// `has_access_token` says whether one is saved.
#[utoipa::path(get, path = "/api/v1/school/settings/whatsapp/", tag = "school-whatsapp", security(("bearer" = [])),
    responses((status = 200, description = "OK", body = WhatsAppSettings), (status = 403, description = "Not allowed", body = ErrorBody)))]
async fn get_whatsapp_settings(mut ctx: SchoolCtx) -> AppResult<Json<WhatsAppSettings>> {
    let school = ctx.school.id;
    Ok(Json(staff_settings::load(&mut ctx.tx, school).await?))
}

/// Changes the WhatsApp settings (`change_settings`); fields left out are kept. A
/// `phone_number_id` another school uses, or an access token the server cannot seal (no
/// `WHATSAPP_TOKEN_KEY`), is a 422 and nothing is saved.
#[utoipa::path(put, path = "/api/v1/school/settings/whatsapp/", tag = "school-whatsapp", security(("bearer" = [])),
    request_body = WhatsAppSettingsInput,
    responses((status = 200, description = "OK", body = WhatsAppSettings), (status = 403, description = "Not allowed", body = ErrorBody), (status = 422, description = "Validation failed", body = ErrorBody)))]
async fn put_whatsapp_settings(
    State(state): State<AppState>,
    mut ctx: SchoolCtx,
    ApiJson(input): ApiJson<WhatsAppSettingsInput>,
) -> AppResult<Json<WhatsAppSettings>> {
    let saved = staff_settings::save(&mut ctx, &state.config.whatsapp, &input).await?;
    ctx.commit().await?;
    Ok(Json(saved))
}

/// Queues a test message to a phone from the school's number (its own, else the shared
/// one) (`change_settings`). Its delivery shows in `/whatsapp/messages/` and, if it
/// fails, `/whatsapp/failures/`.
#[utoipa::path(post, path = "/api/v1/school/settings/whatsapp/test-message/", tag = "school-whatsapp", security(("bearer" = [])),
    request_body = TestMessageInput,
    responses((status = 202, description = "Queued", body = QueuedTest), (status = 403, description = "Not allowed", body = ErrorBody), (status = 422, description = "Not a phone number, or no number to send from", body = ErrorBody)))]
async fn send_whatsapp_test_message(
    State(state): State<AppState>,
    mut ctx: SchoolCtx,
    ApiJson(input): ApiJson<TestMessageInput>,
) -> AppResult<(StatusCode, Json<QueuedTest>)> {
    let queued =
        staff_settings::queue_test_message(&mut ctx, &state.config.whatsapp, &input).await?;
    ctx.commit().await?;
    Ok((StatusCode::ACCEPTED, Json(queued)))
}

/// Parents whose WhatsApp is linked to a pupil now, newest first (`view_settings`);
/// `?search=` by guardian, pupil, admission number or phone.
#[utoipa::path(get, path = "/api/v1/school/whatsapp/links/", tag = "school-whatsapp", security(("bearer" = [])),
    params(PageParams, ("search" = Option<String>, Query, description = "Guardian or pupil name, admission number, or phone digits.")),
    responses((status = 200, description = "OK", body = Page<LinkedParent>), (status = 403, description = "Not allowed", body = ErrorBody)))]
async fn list_whatsapp_links(
    mut ctx: SchoolCtx,
    uri: Uri,
    ApiQuery(params): ApiQuery<ListParams>,
) -> AppResult<Json<Page<LinkedParent>>> {
    let (rows, count) = staff_settings::linked_parents(&mut ctx.tx, &params).await?;
    Ok(Json(Page::new(rows, count, &params, &uri)?))
}

/// Messages from and to parents, newest first (`view_settings`); `?search=` by phone.
#[utoipa::path(get, path = "/api/v1/school/whatsapp/messages/", tag = "school-whatsapp", security(("bearer" = [])),
    params(PageParams, ("search" = Option<String>, Query, description = "Phone digits.")),
    responses((status = 200, description = "OK", body = Page<ChatMessage>), (status = 403, description = "Not allowed", body = ErrorBody)))]
async fn list_whatsapp_messages(
    mut ctx: SchoolCtx,
    uri: Uri,
    ApiQuery(params): ApiQuery<ListParams>,
) -> AppResult<Json<Page<ChatMessage>>> {
    let (rows, count) = staff_settings::messages(&mut ctx.tx, &params).await?;
    Ok(Json(Page::new(rows, count, &params, &uri)?))
}

/// Messages WhatsApp refused (`failed`) or whose fate is unknown (`uncertain`), latest
/// first (`view_settings`); `?search=` by phone.
#[utoipa::path(get, path = "/api/v1/school/whatsapp/failures/", tag = "school-whatsapp", security(("bearer" = [])),
    params(PageParams, ("search" = Option<String>, Query, description = "Phone digits.")),
    responses((status = 200, description = "OK", body = Page<Delivery>), (status = 403, description = "Not allowed", body = ErrorBody)))]
async fn list_whatsapp_failures(
    mut ctx: SchoolCtx,
    uri: Uri,
    ApiQuery(params): ApiQuery<ListParams>,
) -> AppResult<Json<Page<Delivery>>> {
    let (rows, count) = staff_settings::failures(&mut ctx.tx, &params).await?;
    Ok(Json(Page::new(rows, count, &params, &uri)?))
}

pub fn router() -> OpenApiRouter<AppState> {
    let read_guardians = OpenApiRouter::new()
        .routes(routes!(guardian_whatsapp_links))
        .layer(guard_exact(Action::View, "guardians"));
    let change_guardians = OpenApiRouter::new()
        .routes(routes!(issue_whatsapp_link_code))
        .routes(routes!(end_whatsapp_link))
        .layer(guard_exact(Action::Change, "guardians"));
    // GET view, PUT change.
    let settings = OpenApiRouter::new()
        .routes(routes!(get_whatsapp_settings, put_whatsapp_settings))
        .layer(guard("settings"));
    let test = OpenApiRouter::new()
        .routes(routes!(send_whatsapp_test_message))
        .layer(guard_exact(Action::Change, "settings"));
    let lists = OpenApiRouter::new()
        .routes(routes!(list_whatsapp_links))
        .routes(routes!(list_whatsapp_messages))
        .routes(routes!(list_whatsapp_failures))
        .layer(guard_exact(Action::View, "settings"));
    read_guardians
        .merge(change_guardians)
        .merge(settings)
        .merge(test)
        .merge(lists)
}
