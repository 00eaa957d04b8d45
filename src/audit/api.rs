//! The school's audit log: `/api/v1/school/audit/`, newest first, with filters.

use axum::{Json, http::Uri};
use chrono::NaiveDate;
use serde::Deserialize;
use sqlx::PgConnection;
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::AuditRow;
use crate::{
    app::AppState,
    context::SchoolCtx,
    error::{AppResult, ErrorBody},
    http::{ApiQuery, ListParams, Page},
    permissions::guard,
};

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditFilter {
    /// Actor's user id.
    pub user: Option<i64>,
    /// e.g. `user`, `role`, `student`
    pub entity: Option<String>,
    pub entity_id: Option<String>,
    pub action: Option<String>,
    /// From this day (inclusive, UTC).
    pub date_from: Option<NaiveDate>,
    /// Up to this day (inclusive, UTC).
    pub date_to: Option<NaiveDate>,
}

pub async fn list_audit(
    conn: &mut PgConnection,
    params: &ListParams,
    f: &AuditFilter,
) -> AppResult<(Vec<AuditRow>, i64)> {
    let (limit, offset) = params.limit_offset()?;
    let where_sql = "WHERE ($1::bigint IS NULL OR actor_id = $1)
        AND ($2::text IS NULL OR entity = $2)
        AND ($3::text IS NULL OR entity_id = $3)
        AND ($4::text IS NULL OR action = $4)
        AND ($5::date IS NULL OR occurred_at >= $5::date)
        AND ($6::date IS NULL OR occurred_at < $6::date + 1)";
    let count: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT count(*) FROM audit_log {where_sql}"
    )))
    .bind(f.user)
    .bind(&f.entity)
    .bind(&f.entity_id)
    .bind(&f.action)
    .bind(f.date_from)
    .bind(f.date_to)
    .fetch_one(&mut *conn)
    .await?;
    let rows = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT id, occurred_at, actor_id, actor_email, action, entity, entity_id, changes, client_ip, request_id
           FROM audit_log {where_sql} ORDER BY occurred_at DESC, id DESC LIMIT $7 OFFSET $8"
    )))
    .bind(f.user).bind(&f.entity).bind(&f.entity_id).bind(&f.action).bind(f.date_from).bind(f.date_to)
    .bind(limit).bind(offset)
    .fetch_all(&mut *conn)
    .await?;
    Ok((rows, count))
}

/// Who changed what, when and from where.
#[utoipa::path(get, path = "/api/v1/school/audit/", tag = "school-audit", security(("bearer" = [])),
    params(ListParams, AuditFilter),
    responses((status = 200, description = "OK", body = Page<AuditRow>), (status = 403, description = "Not allowed", body = ErrorBody)))]
async fn audit_log(
    mut ctx: SchoolCtx,
    uri: Uri,
    ApiQuery(params): ApiQuery<ListParams>,
    ApiQuery(filter): ApiQuery<AuditFilter>,
) -> AppResult<Json<Page<AuditRow>>> {
    let (rows, count) = list_audit(&mut ctx.tx, &params, &filter).await?;
    Ok(Json(Page::new(rows, count, &params, &uri)?))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(audit_log))
        .layer(guard("audit"))
}
