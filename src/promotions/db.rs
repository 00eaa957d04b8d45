//! SQL of promotions: next classes, the rules, the pupils of a session with their decisions,
//! and the committed rollovers. Every function runs in the school's transaction.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{FromRow, PgConnection};
use utoipa::ToSchema;

use crate::students::names::LIST_NAME;

crate::text_enum::text_enum! {
    /// What happens to a pupil at the end of the session.
    pub enum Outcome {
        Promote = "promote",
        Repeat = "repeat",
        Graduate = "graduate",
        Leave = "leave",
    }
}

// ---- next classes ----

/// A class arm and where its pupils go next session.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct NextClass {
    pub class_id: i64,
    #[schema(example = "JSS 1A")]
    pub class_name: String,
    pub form_id: i64,
    pub form_name: String,
    pub form_ordinal: i32,
    /// The school has said where this arm's pupils go (`next_class_id` or `is_final`).
    pub confirmed: bool,
    /// The arm its pupils move to; null for a final class or when not confirmed.
    pub next_class_id: Option<i64>,
    pub next_class_name: Option<String>,
    /// Its pupils graduate.
    pub is_final: bool,
    /// The default proposal: the same arm letter in the next class level by order.
    pub suggested_next_class_id: Option<i64>,
    pub suggested_next_class_name: Option<String>,
    /// Proposed final: no class level comes after this one.
    pub suggested_final: bool,
}

/// Every arm, its confirmed next class and the suggestion (one query).
pub async fn next_classes(conn: &mut PgConnection) -> Result<Vec<NextClass>, sqlx::Error> {
    sqlx::query_as(
        "WITH arms AS (
             SELECT c.id, c.name, c.form_id, f.name AS form_name, f.ordinal,
                    -- The arm's letter: its name less its level's name (\"JSS 1A\" → \"a\").
                    lower(trim(CASE WHEN lower(c.name) LIKE lower(f.name) || '%'
                                    THEN substr(c.name, length(f.name) + 1) ELSE c.name END)) AS letter
               FROM classes c JOIN forms f ON f.id = c.form_id),
         next_form AS (
             SELECT a.id, (SELECT f2.id FROM forms f2 WHERE f2.ordinal > a.ordinal
                            ORDER BY f2.ordinal, f2.id LIMIT 1) AS form_id
               FROM arms a),
         suggestion AS (
             SELECT nf.id,
                    COALESCE((SELECT b.id FROM arms b WHERE b.form_id = nf.form_id AND b.letter = a.letter
                               ORDER BY b.id LIMIT 1),
                             (SELECT min(b.id) FROM arms b WHERE b.form_id = nf.form_id
                               HAVING count(*) = 1)) AS next_id,
                    nf.form_id IS NULL AS is_final
               FROM next_form nf JOIN arms a ON a.id = nf.id)
         SELECT a.id AS class_id, a.name AS class_name, a.form_id, a.form_name, a.ordinal AS form_ordinal,
                p.class_id IS NOT NULL AS confirmed, p.next_class_id, n.name AS next_class_name,
                COALESCE(p.is_final, FALSE) AS is_final,
                s.next_id AS suggested_next_class_id, sn.name AS suggested_next_class_name,
                s.is_final AS suggested_final
           FROM arms a
           JOIN suggestion s ON s.id = a.id
           LEFT JOIN class_progressions p ON p.class_id = a.id
           LEFT JOIN classes n ON n.id = p.next_class_id
           LEFT JOIN classes sn ON sn.id = s.next_id
          ORDER BY a.ordinal, lower(a.name)",
    )
    .fetch_all(conn)
    .await
}

pub async fn set_next_class(
    conn: &mut PgConnection,
    class_id: i64,
    next_class_id: Option<i64>,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO class_progressions (class_id, next_class_id, is_final, updated_at)
         VALUES ($1, $2, $2 IS NULL, $3)
         ON CONFLICT (class_id) DO UPDATE
            SET next_class_id = EXCLUDED.next_class_id, is_final = EXCLUDED.is_final,
                updated_at = EXCLUDED.updated_at",
    )
    .bind(class_id)
    .bind(next_class_id)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn clear_next_class(conn: &mut PgConnection, class_id: i64) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM class_progressions WHERE class_id = $1")
        .bind(class_id)
        .execute(conn)
        .await?;
    Ok(())
}

// ---- rules ----

#[derive(Debug, Clone, Serialize, Deserialize, FromRow, ToSchema)]
pub struct RequiredSubject {
    pub subject_id: i64,
    pub subject_name: String,
}

/// The promotion rules of the school.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Rules {
    /// Promote at or above this cumulative average.
    #[schema(example = 40)]
    pub pass_average: f64,
    /// Pupils below the pass average by less than this are flagged for a decision (0: none).
    #[schema(example = 2)]
    pub margin: f64,
    /// Subjects a pupil taking them must pass (a grade above the scale's lowest band).
    pub required_subjects: Vec<RequiredSubject>,
}

pub async fn rules(conn: &mut PgConnection) -> Result<Rules, sqlx::Error> {
    let (pass_average, margin): (f64, f64) = sqlx::query_as(
        "SELECT pass_average::float8, margin::float8 FROM promotion_rules WHERE id = 1",
    )
    .fetch_optional(&mut *conn)
    .await?
    .unwrap_or((40.0, 0.0));
    let required_subjects = sqlx::query_as(
        "SELECT s.id AS subject_id, s.name AS subject_name
           FROM promotion_required_subjects r JOIN subjects s ON s.id = r.subject_id
          ORDER BY lower(s.name)",
    )
    .fetch_all(conn)
    .await?;
    Ok(Rules {
        pass_average,
        margin,
        required_subjects,
    })
}

pub async fn save_rules(
    conn: &mut PgConnection,
    pass_average: f64,
    margin: f64,
    required: &[i64],
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO promotion_rules (id, pass_average, margin, updated_at)
         VALUES (1, $1::float8::numeric, $2::float8::numeric, $3)
         ON CONFLICT (id) DO UPDATE SET pass_average = EXCLUDED.pass_average,
                margin = EXCLUDED.margin, updated_at = EXCLUDED.updated_at",
    )
    .bind(pass_average)
    .bind(margin)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    sqlx::query("DELETE FROM promotion_required_subjects")
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "INSERT INTO promotion_required_subjects (subject_id) SELECT DISTINCT unnest($1::bigint[])",
    )
    .bind(required)
    .execute(conn)
    .await?;
    Ok(())
}

/// Serialises rollovers and rule changes of the school (one row to lock).
pub async fn lock(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT 1 FROM promotion_rules WHERE id = 1 FOR UPDATE")
        .execute(conn)
        .await?;
    Ok(())
}

// ---- the pupils of a rollover ----

/// A pupil of the session being left, with their class then and any decision.
#[derive(Debug, Clone, FromRow)]
pub struct PupilRow {
    pub student_id: i64,
    pub admission_no: String,
    pub full_name: String,
    pub status: String,
    pub academic_class_id: i64,
    pub class_id: i64,
    pub class_name: String,
    pub form_id: i64,
    pub form_ordinal: i32,
    /// The registration in the new session now, if any: (its academic class, its arm).
    pub to_academic_class_id: Option<i64>,
    pub decision: Option<sqlx::types::Json<Decision>>,
}

/// A stored decision.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Decision {
    pub outcome: String,
    pub to_class_id: Option<i64>,
    pub reason: String,
    pub is_override: bool,
    pub decided_by: Option<i64>,
    pub decided_by_name: Option<String>,
    pub decided_at: DateTime<Utc>,
    pub applied_at: Option<DateTime<Utc>>,
}

/// The pupils of the rollover from `from` (to `to`): those registered in a class of `from`
/// now who are active, or who already have a decision of this rollover (a graduate stays
/// in the list that graduated them). One row each: a pupil moved between arms during the
/// session appears once, in the class they are in now.
pub async fn pupils(
    conn: &mut PgConnection,
    from: i64,
    to: i64,
) -> Result<Vec<PupilRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT s.id AS student_id, s.admission_no, {LIST_NAME} AS full_name, s.status,
                r.academic_class_id, c.id AS class_id, c.name AS class_name, f.id AS form_id,
                f.ordinal AS form_ordinal,
                (SELECT rn.academic_class_id FROM registrations rn
                  WHERE rn.student_id = s.id AND rn.session_id = $2 AND rn.is_current) AS to_academic_class_id,
                (SELECT json_build_object('outcome', d.outcome, 'to_class_id', d.to_class_id,
                        'reason', d.reason, 'is_override', d.is_override, 'decided_by', d.decided_by,
                        'decided_by_name', u.full_name, 'decided_at', d.decided_at,
                        'applied_at', d.applied_at)
                   FROM promotion_decisions d LEFT JOIN public.users u ON u.id = d.decided_by
                  WHERE d.from_session_id = $1 AND d.student_id = s.id) AS decision
           FROM registrations r
           JOIN students s ON s.id = r.student_id
           JOIN academic_classes ac ON ac.id = r.academic_class_id
           JOIN classes c ON c.id = ac.class_id
           JOIN forms f ON f.id = c.form_id
          WHERE r.session_id = $1 AND r.is_current
            AND (s.status = 'active'
                 OR EXISTS (SELECT 1 FROM promotion_decisions d
                             WHERE d.from_session_id = $1 AND d.student_id = s.id
                               AND d.applied_at IS NOT NULL))
          ORDER BY f.ordinal, lower(c.name), s.last_name_key, s.first_name_key, s.id"
    )))
    .bind(from)
    .bind(to)
    .fetch_all(conn)
    .await
}

/// The academic classes of a session by arm: (arm id, academic class id).
pub async fn classes_of_session(
    conn: &mut PgConnection,
    session_id: i64,
) -> Result<Vec<(i64, i64)>, sqlx::Error> {
    sqlx::query_as("SELECT class_id, id FROM academic_classes WHERE session_id = $1")
        .bind(session_id)
        .fetch_all(conn)
        .await
}

/// Arms by id: (id, name, form id, form ordinal).
pub async fn arms(conn: &mut PgConnection) -> Result<Vec<(i64, String, i64, i32)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT c.id, c.name, f.id, f.ordinal FROM classes c JOIN forms f ON f.id = c.form_id",
    )
    .fetch_all(conn)
    .await
}

#[allow(clippy::too_many_arguments)]
pub async fn save_decision(
    conn: &mut PgConnection,
    from: i64,
    to: i64,
    student_id: i64,
    outcome: Outcome,
    to_class_id: Option<i64>,
    reason: &str,
    is_override: bool,
    decided_by: Option<i64>,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO promotion_decisions (from_session_id, to_session_id, student_id, outcome,
                to_class_id, reason, is_override, decided_by, decided_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (from_session_id, student_id) DO UPDATE
            SET to_session_id = EXCLUDED.to_session_id, outcome = EXCLUDED.outcome,
                to_class_id = EXCLUDED.to_class_id, reason = EXCLUDED.reason,
                is_override = EXCLUDED.is_override, decided_by = EXCLUDED.decided_by,
                decided_at = EXCLUDED.decided_at",
    )
    .bind(from)
    .bind(to)
    .bind(student_id)
    .bind(outcome)
    .bind(to_class_id)
    .bind(reason)
    .bind(is_override)
    .bind(decided_by)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn delete_decision(
    conn: &mut PgConnection,
    from: i64,
    student_id: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM promotion_decisions WHERE from_session_id = $1 AND student_id = $2")
        .bind(from)
        .bind(student_id)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn mark_applied(
    conn: &mut PgConnection,
    from: i64,
    to: i64,
    student_id: i64,
    registration_id: Option<i64>,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE promotion_decisions SET applied_at = $3, registration_id = $4, to_session_id = $5
          WHERE from_session_id = $1 AND student_id = $2",
    )
    .bind(from)
    .bind(student_id)
    .bind(now)
    .bind(registration_id)
    .bind(to)
    .execute(conn)
    .await?;
    Ok(())
}

// ---- committed rollovers ----

/// A committed rollover.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct Run {
    pub from_session_id: i64,
    pub to_session_id: i64,
    pub committed_by: Option<i64>,
    pub committed_by_name: Option<String>,
    pub committed_at: DateTime<Utc>,
}

pub async fn run(conn: &mut PgConnection, from: i64) -> Result<Option<Run>, sqlx::Error> {
    sqlx::query_as(
        "SELECT r.from_session_id, r.to_session_id, r.committed_by, u.full_name AS committed_by_name,
                r.committed_at
           FROM promotion_runs r LEFT JOIN public.users u ON u.id = r.committed_by
          WHERE r.from_session_id = $1",
    )
    .bind(from)
    .fetch_optional(conn)
    .await
}

pub async fn save_run(
    conn: &mut PgConnection,
    from: i64,
    to: i64,
    by: i64,
    now: DateTime<Utc>,
    counts: &serde_json::Value,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO promotion_runs (from_session_id, to_session_id, committed_by, committed_at, counts)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (from_session_id) DO UPDATE
            SET committed_by = EXCLUDED.committed_by, committed_at = EXCLUDED.committed_at,
                counts = EXCLUDED.counts",
    )
    .bind(from)
    .bind(to)
    .bind(by)
    .bind(now)
    .bind(counts)
    .execute(conn)
    .await?;
    Ok(())
}

/// The pupil's current registration in a session: (registration id, academic class id).
pub async fn registration_in(
    conn: &mut PgConnection,
    student_id: i64,
    session_id: i64,
) -> Result<Option<(i64, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, academic_class_id FROM registrations
          WHERE student_id = $1 AND session_id = $2 AND is_current FOR UPDATE",
    )
    .bind(student_id)
    .bind(session_id)
    .fetch_optional(conn)
    .await
}

/// Registrations (all sessions) and status rows, counted: for tests and the summary.
pub async fn registration_count(
    conn: &mut PgConnection,
    session_id: i64,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT count(*) FROM registrations WHERE session_id = $1")
        .bind(session_id)
        .fetch_one(conn)
        .await
}

/// The date a placement in the new session dates from: its first day, or today once it
/// has begun.
pub fn placement_day(today: NaiveDate, starts_on: NaiveDate) -> NaiveDate {
    today.max(starts_on)
}
