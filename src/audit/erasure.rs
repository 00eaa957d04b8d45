//! Erasing a pupil erases their personal data from the audit trail as well: the rows stay
//! (who did what kind of thing to which record, and when), their values do not.

use serde_json::{Map, Value};
use sqlx::PgConnection;

/// What a value becomes.
const ERASED: &str = "[erased]";

/// Keeps the shape of an audit `changes` document (which fields changed) and replaces every
/// value with a marker.
pub fn redact(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), redact(v)))
                .collect::<Map<String, Value>>(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(redact).collect()),
        Value::Null => Value::Null,
        _ => Value::String(ERASED.to_owned()),
    }
}

/// Redacts the school's audit rows about these records (`entity` with one of `ids`).
pub async fn redact_rows(conn: &mut PgConnection, entity: &str, ids: &[i64]) -> sqlx::Result<u64> {
    let ids: Vec<String> = ids.iter().map(i64::to_string).collect();
    let rows: Vec<(i64, Value)> = sqlx::query_as(
        "SELECT id, changes FROM audit_log WHERE entity = $1 AND entity_id = ANY($2) FOR UPDATE",
    )
    .bind(entity)
    .bind(&ids)
    .fetch_all(&mut *conn)
    .await?;
    rewrite(conn, rows, redact).await
}

/// Writes `change` of each row's document back, in one statement.
async fn rewrite(
    conn: &mut PgConnection,
    rows: Vec<(i64, Value)>,
    change: impl Fn(&Value) -> Value,
) -> sqlx::Result<u64> {
    if rows.is_empty() {
        return Ok(0);
    }
    let (ids, docs): (Vec<i64>, Vec<Value>) =
        rows.iter().map(|(id, doc)| (*id, change(doc))).unzip();
    let done = sqlx::query(
        "UPDATE audit_log a SET changes = v.changes
           FROM unnest($1::bigint[], $2::jsonb[]) AS v(id, changes) WHERE a.id = v.id",
    )
    .bind(&ids)
    .bind(&docs)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// Redacts, within a document, every object whose `key` is `equals` (one pupil's entries in
/// a row about many, such as a mark sheet save).
pub fn redact_objects_with(value: &Value, key: &str, equals: &str) -> Value {
    match value {
        Value::Object(map) if map.get(key).and_then(Value::as_str) == Some(equals) => redact(value),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), redact_objects_with(v, key, equals)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|v| redact_objects_with(v, key, equals))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Redacts one pupil's entries (objects with `key` = `equals`) in the school's audit rows
/// about `entity`.
pub async fn redact_mentions(
    conn: &mut PgConnection,
    entity: &str,
    key: &str,
    equals: &str,
) -> sqlx::Result<u64> {
    let needle = Value::String(equals.to_owned()).to_string();
    let rows: Vec<(i64, Value)> = sqlx::query_as(
        "SELECT id, changes FROM audit_log WHERE entity = $1 AND strpos(changes::text, $2) > 0 FOR UPDATE",
    )
    .bind(entity)
    .bind(&needle)
    .fetch_all(&mut *conn)
    .await?;
    rewrite(conn, rows, |doc| redact_objects_with(doc, key, equals)).await
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::audit::erasure::redact;

    #[test]
    fn redacting_keeps_which_fields_changed_but_no_value() {
        let changes =
            json!({"first_name": {"from": "Ada", "to": "Adaeze"}, "tags": ["x"], "dob": null});
        assert_eq!(
            redact(&changes),
            json!({"first_name": {"from": "[erased]", "to": "[erased]"}, "tags": ["[erased]"], "dob": null})
        );
    }
}
