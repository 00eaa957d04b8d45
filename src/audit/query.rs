//! Reading the audit trail: filters and a page of rows.

use super::trail::AuditRow;
use crate::{
    error::AppResult,
    http::{ListParams, pagination::Conditions},
};
use chrono::NaiveDate;
use serde::Deserialize;
use sqlx::PgConnection;
use utoipa::IntoParams;

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
    let mut c = Conditions::default();
    if f.user.is_some() {
        c.push("actor_id = $?");
    }
    if f.entity.is_some() {
        c.push("entity = $?");
    }
    if f.entity_id.is_some() {
        c.push("entity_id = $?");
    }
    if f.action.is_some() {
        c.push("action = $?");
    }
    if f.date_from.is_some() {
        c.push("occurred_at >= $?::date");
    }
    if f.date_to.is_some() {
        c.push("occurred_at < $?::date + 1");
    }
    let where_sql = c.where_sql();
    let n = c.next_param();
    let mut count_q = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT count(*) FROM audit_log {where_sql}"
    )));
    let mut rows_q = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT id, occurred_at, actor_id, actor_email, action, entity, entity_id, changes, client_ip, request_id
           FROM audit_log {where_sql} ORDER BY occurred_at DESC, id DESC LIMIT ${n} OFFSET ${}",
        n + 1
    )));
    // Bind in the order the conditions were added.
    if let Some(v) = f.user {
        count_q = count_q.bind(v);
        rows_q = rows_q.bind(v);
    }
    for v in [&f.entity, &f.entity_id, &f.action].into_iter().flatten() {
        count_q = count_q.bind(v.clone());
        rows_q = rows_q.bind(v.clone());
    }
    for v in [f.date_from, f.date_to].into_iter().flatten() {
        count_q = count_q.bind(v);
        rows_q = rows_q.bind(v);
    }
    let count: i64 = count_q.fetch_one(&mut *conn).await?;
    let rows = rows_q
        .bind(limit)
        .bind(offset)
        .fetch_all(&mut *conn)
        .await?;
    Ok((rows, count))
}

/// Everyone who may appear in the school's trail (staff, active or not), for the filter.
pub async fn staff_names(
    conn: &mut PgConnection,
    school_id: i64,
) -> Result<Vec<(i64, String)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, full_name FROM public.users WHERE client_id = $1 ORDER BY lower(full_name)",
    )
    .bind(school_id)
    .fetch_all(conn)
    .await
}

/// The kinds of record the trail mentions, for the filter.
pub async fn entities(conn: &mut PgConnection) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT DISTINCT entity FROM audit_log ORDER BY entity")
        .fetch_all(conn)
        .await
}
