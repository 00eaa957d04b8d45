//! `/api/v1/school/promotions/`: next classes, rules, the new session, the preview, the
//! decisions (overrides) and the commit.

use axum::{
    Json,
    http::{StatusCode, Uri},
};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    db::{self, NextClass, Rules},
    service::{
        self, CommitInput, CommitResult, DecisionsInput, NewSession, NewSessionInput,
        NextClassesInput, Preview, Rollover, RulesInput,
    },
};
use crate::{
    context::SchoolCtx,
    error::AppResult,
    http::{ApiJson, ApiQuery, Page, PageParams},
    permissions::access::guard,
    state::AppState,
};

/// Every class arm with where its pupils go next session (confirmed or not) and the
/// default proposal: the same arm letter in the next class level by order.
#[utoipa::path(get, path = "/api/v1/school/promotions/next-classes/", tag = "school-promotions", security(("bearer" = [])),
    params(PageParams),
    responses((status = 200, description = "OK", body = Page<NextClass>)))]
async fn get_next_classes(
    mut ctx: SchoolCtx,
    uri: Uri,
    ApiQuery(paging): ApiQuery<PageParams>,
) -> AppResult<Json<Page<NextClass>>> {
    let all = db::next_classes(&mut ctx.tx).await?;
    Ok(Json(Page::of_all(all, &paging, &uri)?))
}

/// Confirms where arms go next: `next_class_id` (an arm of a later level), `is_final`
/// (its pupils graduate), or neither (unconfirmed). All or nothing.
#[utoipa::path(put, path = "/api/v1/school/promotions/next-classes/", tag = "school-promotions", security(("bearer" = [])),
    request_body = NextClassesInput,
    responses((status = 200, description = "OK", body = Vec<NextClass>)))]
async fn put_next_classes(
    mut ctx: SchoolCtx,
    ApiJson(input): ApiJson<NextClassesInput>,
) -> AppResult<Json<Vec<NextClass>>> {
    let list = service::set_next_classes(&mut ctx, &input).await?;
    ctx.commit().await?;
    Ok(Json(list))
}

/// The promotion rules.
#[utoipa::path(get, path = "/api/v1/school/promotions/rules/", tag = "school-promotions", security(("bearer" = [])),
    responses((status = 200, description = "OK", body = Rules)))]
async fn get_rules(mut ctx: SchoolCtx) -> AppResult<Json<Rules>> {
    Ok(Json(db::rules(&mut ctx.tx).await?))
}

/// Changes the promotion rules (fields left out stay as they are).
#[utoipa::path(put, path = "/api/v1/school/promotions/rules/", tag = "school-promotions", security(("bearer" = [])),
    request_body = RulesInput,
    responses((status = 200, description = "OK", body = Rules)))]
async fn put_rules(
    mut ctx: SchoolCtx,
    ApiJson(input): ApiJson<RulesInput>,
) -> AppResult<Json<Rules>> {
    let rules = service::save_rules(&mut ctx, &input).await?;
    ctx.commit().await?;
    Ok(Json(rules))
}

/// Creates the next session from `from_session`: its dates, its three terms, and its
/// classes copied with their class teachers, subjects and subject teachers. It is not
/// current; edit it through the sessions API before committing the rollover.
#[utoipa::path(post, path = "/api/v1/school/promotions/new-session/", tag = "school-promotions", security(("bearer" = [])),
    request_body = NewSessionInput,
    responses((status = 201, description = "Created", body = NewSession)))]
async fn create_new_session(
    mut ctx: SchoolCtx,
    ApiJson(input): ApiJson<NewSessionInput>,
) -> AppResult<(StatusCode, Json<NewSession>)> {
    let made = service::new_session(&mut ctx, &input).await?;
    ctx.commit().await?;
    Ok((StatusCode::CREATED, Json(made)))
}

/// Every pupil of `from_session` with their cumulative average, failed subjects, proposed
/// outcome and reason, the decision that applies, counts per class, and the pupils that
/// block the commit.
#[utoipa::path(get, path = "/api/v1/school/promotions/preview/", tag = "school-promotions", security(("bearer" = [])),
    params(Rollover),
    responses((status = 200, description = "OK", body = Preview)))]
async fn get_preview(
    mut ctx: SchoolCtx,
    ApiQuery(rollover): ApiQuery<Rollover>,
) -> AppResult<Json<Preview>> {
    Ok(Json(service::preview(&mut ctx, rollover).await?))
}

/// A person's decisions for pupils, each with a reason; all or nothing (a 422 names the
/// row: `decisions[2].reason`). After the commit, a changed decision moves the pupil at once.
#[utoipa::path(put, path = "/api/v1/school/promotions/decisions/", tag = "school-promotions", security(("bearer" = [])),
    request_body = DecisionsInput,
    responses((status = 200, description = "The preview as it now stands", body = Preview)))]
async fn put_decisions(
    mut ctx: SchoolCtx,
    ApiJson(input): ApiJson<DecisionsInput>,
) -> AppResult<Json<Preview>> {
    let preview = service::decide(&mut ctx, &input).await?;
    ctx.commit().await?;
    Ok(Json(preview))
}

/// Commits the rollover in one transaction and returns the counts (before = promoted +
/// repeating + graduated + left). Refused (422, listing them) while any pupil has no
/// decision or nowhere to go. Running it again changes nothing. The new session becomes
/// current only when the school makes it so.
#[utoipa::path(post, path = "/api/v1/school/promotions/commit/", tag = "school-promotions", security(("bearer" = [])),
    request_body = CommitInput,
    responses((status = 200, description = "Committed", body = CommitResult)))]
async fn post_commit(
    mut ctx: SchoolCtx,
    ApiJson(input): ApiJson<CommitInput>,
) -> AppResult<Json<CommitResult>> {
    let result = service::commit(&mut ctx, &input).await?;
    ctx.commit().await?;
    Ok(Json(result))
}

pub fn router() -> OpenApiRouter<AppState> {
    // GET view, POST add, PUT change.
    OpenApiRouter::new()
        .routes(routes!(get_next_classes, put_next_classes))
        .routes(routes!(get_rules, put_rules))
        .routes(routes!(create_new_session))
        .routes(routes!(get_preview))
        .routes(routes!(put_decisions))
        .routes(routes!(post_commit))
        .layer(guard("promotions"))
}
