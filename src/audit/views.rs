//! Views of pupils' grades and report cards, and exports of their data: who, when, what.
//! Written in the request's transaction (the handler commits): a row per view of one pupil
//! (`record_views`), one row naming every pupil of a view of many (`record_view_groups`), so
//! a pupil's page lists every time someone looked at their results.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgConnection};
use utoipa::ToSchema;

use super::trail::Actor;
use crate::http::RequestMeta;

/// What was looked at or taken away.
#[derive(Clone, Copy, Debug)]
pub enum ViewKind {
    /// A class's results (the results page or its JSON).
    Results,
    /// A report card (one pupil's, or a class's batch).
    ReportCard,
    /// A broadsheet (page, PDF or spreadsheet).
    Broadsheet,
    /// The pupil's full record, or a register or class list that includes them.
    Export,
}

impl ViewKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Results => "results",
            Self::ReportCard => "report_card",
            Self::Broadsheet => "broadsheet",
            Self::Export => "export",
        }
    }
}

/// Whose records, by student or by registration (results are keyed by registration).
pub enum Pupils<'a> {
    Students(&'a [i64]),
    Registrations(&'a [i64]),
    /// Everyone ever registered in these academic classes.
    AcademicClasses(&'a [i64]),
}

pub async fn record(
    conn: &mut PgConnection,
    actor: &Actor,
    meta: &RequestMeta,
    kind: ViewKind,
    what: &str,
    pupils: Pupils<'_>,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    let grouped = match pupils {
        Pupils::AcademicClasses(_) => true,
        Pupils::Students(ids) | Pupils::Registrations(ids) => ids.len() > 1,
    };
    // Which students, from what the caller has: constant SQL only.
    let (source, ids) = match pupils {
        Pupils::Students(ids) => ("SELECT id FROM students WHERE id = ANY($7)", ids),
        Pupils::Registrations(ids) => (
            "SELECT student_id FROM registrations WHERE id = ANY($7)",
            ids,
        ),
        Pupils::AcademicClasses(ids) => (
            "SELECT student_id FROM registrations WHERE academic_class_id = ANY($7)",
            ids,
        ),
    };
    if ids.is_empty() {
        return Ok(());
    }
    // Many pupils at once (a class's results, a broadsheet): one row naming them all. A row
    // per pupil cost more than serving the results (125 rows with their index entries and
    // foreign-key checks: about 7 ms of the database's time per request).
    let (target, students) = if grouped {
        (
            "record_view_groups (occurred_at, student_ids, actor_id, actor_email, kind, what, client_ip)",
            "SELECT $1, array_agg(DISTINCT p.student_id ORDER BY p.student_id), $2, $3, $4, $5, $6
               FROM ({source}) AS p(student_id) HAVING count(*) > 0",
        )
    } else {
        (
            "record_views (occurred_at, student_id, actor_id, actor_email, kind, what, client_ip)",
            "SELECT DISTINCT $1, p.student_id, $2, $3, $4, $5, $6 FROM ({source}) AS p(student_id)",
        )
    };
    let select = students.replace("{source}", source);
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO {target} {select}"
    )))
    .bind(now)
    .bind(actor.id)
    .bind(actor.email.as_deref())
    .bind(kind.as_str())
    .bind(what)
    .bind(&meta.client_ip)
    .bind(ids)
    .execute(conn)
    .await?;
    Ok(())
}

/// Erasing a pupil: their id leaves the views of many pupils (their own rows go with the
/// student row).
pub async fn forget_student(conn: &mut PgConnection, student_id: i64) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE record_view_groups SET student_ids = array_remove(student_ids, $1)
          WHERE student_ids @> ARRAY[$1]",
    )
    .bind(student_id)
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(Debug, Serialize, FromRow, ToSchema)]
pub struct RecordView {
    pub occurred_at: DateTime<Utc>,
    pub actor_email: Option<String>,
    /// `results`, `report_card`, `broadsheet` or `export`.
    pub kind: String,
    pub what: String,
}

/// One page of the views of one pupil's records, newest first, with how many there are.
pub async fn of_student(
    conn: &mut PgConnection,
    student_id: i64,
    limit: i64,
    offset: i64,
) -> sqlx::Result<(Vec<RecordView>, i64)> {
    let rows = sqlx::query_as(
        "SELECT occurred_at, actor_email, kind, what
           FROM (SELECT occurred_at, actor_email, kind, what, id, 0 AS grouped
                   FROM record_views WHERE student_id = $1
                 UNION ALL
                 SELECT occurred_at, actor_email, kind, what, id, 1
                   FROM record_view_groups WHERE student_ids @> ARRAY[$1]) v
          ORDER BY occurred_at DESC, grouped, id DESC LIMIT $2 OFFSET $3",
    )
    .bind(student_id)
    .bind(limit)
    .bind(offset)
    .fetch_all(&mut *conn)
    .await?;
    let count = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM record_views WHERE student_id = $1)
              + (SELECT count(*) FROM record_view_groups WHERE student_ids @> ARRAY[$1])",
    )
    .bind(student_id)
    .fetch_one(conn)
    .await?;
    Ok((rows, count))
}
