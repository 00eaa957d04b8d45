//! The school's audit log: `/api/v1/school/audit/`, newest first, with filters.

use super::query::{AuditFilter, list_audit};
use super::trail::AuditRow;
use crate::{
    context::SchoolCtx,
    error::{AppResult, ErrorBody},
    http::{ApiQuery, ListParams, Page, PageParams},
    permissions::access::guard,
    state::AppState,
};
use axum::{Json, http::Uri};
use utoipa_axum::{router::OpenApiRouter, routes};

/// Who changed what, when and from where.
#[utoipa::path(get, path = "/api/v1/school/audit/", tag = "school-audit", security(("bearer" = [])),
    params(PageParams, AuditFilter),
    responses((status = 200, description = "OK", body = Page<AuditRow>), (status = 403, description = "Not allowed", body = ErrorBody)))]
async fn audit_log(
    mut ctx: SchoolCtx,
    uri: Uri,
    ApiQuery(paging): ApiQuery<PageParams>,
    ApiQuery(filter): ApiQuery<AuditFilter>,
) -> AppResult<Json<Page<AuditRow>>> {
    let params = ListParams::from(&paging);
    let (rows, count) = list_audit(&mut ctx.tx, &params, &filter).await?;
    Ok(Json(Page::new(rows, count, &params, &uri)?))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(audit_log))
        .layer(guard("audit"))
}
