//! The audit trail: every state change writes a row in the same transaction as the change.
//! School changes go to the school's `audit_log`, platform changes to `platform_audit_log`.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value, json};
use sqlx::{FromRow, PgConnection};
use utoipa::ToSchema;

use crate::http::RequestMeta;

#[derive(Clone, Copy, Debug)]
pub enum Trail {
    School,
    Platform,
}

/// Who did it: recorded on every row.
#[derive(Clone, Debug)]
pub struct Actor {
    pub id: Option<i64>,
    pub email: Option<String>,
}

pub struct Entry<'a> {
    pub action: &'a str,
    pub entity: &'a str,
    pub entity_id: Option<String>,
    pub changes: Value,
}

pub async fn record(
    conn: &mut PgConnection,
    trail: Trail,
    actor: &Actor,
    meta: &RequestMeta,
    entry: Entry<'_>,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    // Two literal statements: the table is never built from input.
    let sql = match trail {
        Trail::School => {
            "INSERT INTO audit_log (occurred_at, actor_id, actor_email, action, entity, entity_id, changes, client_ip, request_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        }
        Trail::Platform => {
            "INSERT INTO public.platform_audit_log (occurred_at, actor_id, actor_email, action, entity, entity_id, changes, client_ip, request_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        }
    };
    sqlx::query(sql)
        .bind(now)
        .bind(actor.id)
        .bind(actor.email.as_deref())
        .bind(entry.action)
        .bind(entry.entity)
        .bind(entry.entity_id)
        .bind(entry.changes)
        .bind(&meta.client_ip)
        .bind(&meta.request_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// The fields that differ between two JSON objects: `{field: {"from": a, "to": b}}`.
/// Secrets never appear: fields named like passwords are reported as changed, not shown.
pub fn diff(before: &Value, after: &Value) -> Value {
    let empty = Map::new();
    let b = before.as_object().unwrap_or(&empty);
    let a = after.as_object().unwrap_or(&empty);
    let mut out = Map::new();
    let keys: std::collections::BTreeSet<&String> = b.keys().chain(a.keys()).collect();
    for key in keys {
        let from = b.get(key).unwrap_or(&Value::Null);
        let to = a.get(key).unwrap_or(&Value::Null);
        if from != to {
            let value = if is_secret(key) {
                json!({"changed": true})
            } else if let (Value::Array(a), Value::Array(b)) = (from, to)
                && a.iter().chain(b).all(|v| !v.is_object() && !v.is_array())
            {
                // A list (a role's permissions, a user's roles): what was added and removed
                // reads better than two long lists.
                let added: Vec<&Value> = b.iter().filter(|v| !a.contains(v)).collect();
                let removed: Vec<&Value> = a.iter().filter(|v| !b.contains(v)).collect();
                json!({"added": added, "removed": removed})
            } else {
                json!({"from": from, "to": to})
            };
            out.insert(key.clone(), value);
        }
    }
    Value::Object(out)
}

/// A creation: every field as `to`.
pub fn created(after: &Value) -> Value {
    diff(&Value::Object(Map::new()), after)
}

fn is_secret(key: &str) -> bool {
    key.contains("password") || key.contains("secret") || key.contains("token")
}

#[derive(Debug, Serialize, FromRow, ToSchema)]
pub struct AuditRow {
    pub id: i64,
    pub occurred_at: DateTime<Utc>,
    pub actor_id: Option<i64>,
    pub actor_email: Option<String>,
    pub action: String,
    pub entity: String,
    pub entity_id: Option<String>,
    #[schema(value_type = Object)]
    pub changes: Value,
    pub client_ip: Option<String>,
    pub request_id: Option<String>,
}
