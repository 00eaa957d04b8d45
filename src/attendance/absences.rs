//! Absence events for parents: an unexcused absence, once its register is saved and the
//! school's grace period has passed without a correction, is recorded as one event per
//! pupil per day. A correction in time cancels the pending event; absent again re-opens it
//! with a fresh grace period. Delivery (WhatsApp) reads the recorded events.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgConnection};
use utoipa::ToSchema;

use crate::error::AppResult;

crate::text_enum::text_enum! {
    /// Where an absence event stands.
    pub enum AbsenceStatus {
        /// Waiting out the grace period.
        Pending = "pending",
        /// Recorded for parents.
        Recorded = "recorded",
        /// Corrected within the grace period.
        Cancelled = "cancelled",
    }
}

#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct AbsenceEvent {
    pub id: i64,
    pub student_id: i64,
    pub day: NaiveDate,
    pub status: AbsenceStatus,
    /// When it is (or was) recorded unless corrected first.
    pub due_at: DateTime<Utc>,
    pub recorded_at: Option<DateTime<Utc>>,
    pub cancelled_at: Option<DateTime<Utc>>,
}

/// After a save of `day`'s registers for `students`: opens (or re-opens) a pending event for
/// each pupil now marked unexcused-absent in any register of the day, and cancels the
/// pending event of each who no longer is. Returns the latest due time opened, if any, for
/// the caller to schedule the recording.
pub async fn after_save(
    conn: &mut PgConnection,
    students: &[i64],
    day: NaiveDate,
    now: DateTime<Utc>,
) -> sqlx::Result<Option<DateTime<Utc>>> {
    sqlx::query_scalar(
        "WITH absent AS (
            SELECT DISTINCT r.student_id FROM attendance_marks m
              JOIN registrations r ON r.id = m.registration_id
              JOIN attendance_codes c ON c.id = m.code_id
             WHERE r.student_id = ANY($1) AND m.day = $2 AND c.counts_as = 'absent'),
          opened AS (
            INSERT INTO absence_events (student_id, day, status, due_at, created_at)
            SELECT a.student_id, $2, 'pending',
                   $3 + make_interval(mins => g.absence_grace_minutes), $3
              FROM absent a CROSS JOIN general_settings g WHERE g.id = 1
            ON CONFLICT (student_id, day) DO UPDATE
               SET status = 'pending', due_at = excluded.due_at, cancelled_at = NULL
             WHERE absence_events.status = 'cancelled'
            RETURNING due_at),
          cancelled AS (
            UPDATE absence_events SET status = 'cancelled', cancelled_at = $3
             WHERE student_id = ANY($1) AND day = $2 AND status = 'pending'
               AND student_id NOT IN (SELECT student_id FROM absent)
            RETURNING id)
         SELECT max(due_at) FROM opened",
    )
    .bind(students)
    .bind(day)
    .bind(now)
    .fetch_one(conn)
    .await
}

/// Records every pending event due by `now` (the database's clock when None: the one the
/// queue used to decide the job was due); returns how many. Safe to run early or twice.
pub async fn record_due(conn: &mut PgConnection, now: Option<DateTime<Utc>>) -> sqlx::Result<u64> {
    let done = sqlx::query(
        "UPDATE absence_events SET status = 'recorded', recorded_at = COALESCE($1, now())
          WHERE status = 'pending' AND due_at <= COALESCE($1, now())",
    )
    .bind(now)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// When the next pending event falls due, if any.
async fn next_due(conn: &mut PgConnection) -> sqlx::Result<Option<DateTime<Utc>>> {
    sqlx::query_scalar("SELECT min(due_at) FROM absence_events WHERE status = 'pending'")
        .fetch_one(conn)
        .await
}

/// A pupil's absence events, newest day first.
pub async fn of_pupil(conn: &mut PgConnection, student_id: i64) -> AppResult<Vec<AbsenceEvent>> {
    Ok(sqlx::query_as(
        "SELECT id, student_id, day, status, due_at, recorded_at, cancelled_at
           FROM absence_events WHERE student_id = $1 ORDER BY day DESC, id DESC",
    )
    .bind(student_id)
    .fetch_all(conn)
    .await?)
}

/// The job: records the school's due absences.
pub async fn run_job(
    pool: &crate::db::Db,
    job: &crate::jobs::queue::AbsenceJob,
) -> anyhow::Result<()> {
    // The payload is data: only a real school's schema is entered.
    let known: Option<bool> =
        sqlx::query_scalar("SELECT is_active FROM public.clients WHERE schema_name = $1")
            .bind(&job.schema)
            .fetch_optional(pool.main())
            .await?;
    if known.is_none() {
        anyhow::bail!("absence job for unknown school schema {:?}", job.schema);
    }
    let mut tx = pool.begin_school(&job.schema).await?;
    let recorded = record_due(&mut tx, None).await?;
    if recorded > 0 {
        // Parents of the pupils just recorded hear about it (WhatsApp).
        let alert = crate::jobs::queue::AlertJob {
            schema: job.schema.clone(),
            alert: crate::jobs::queue::ParentAlert::Absences,
        };
        crate::jobs::queue::push_chat(
            &mut tx,
            crate::jobs::queue::ChatJob::Alert(alert),
            crate::jobs::queue::Urgency::Bulk,
            None,
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    }
    // Whatever is still pending gets its own run: a job that ran a moment early, or one lost
    // to a failure, leaves nothing waiting for ever.
    if let Some(due) = next_due(&mut tx).await? {
        crate::jobs::queue::enqueue_absences(&mut tx, job, due)
            .await
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    }
    tx.commit().await?;
    tracing::debug!(schema = %job.schema, recorded, "absence events recorded");
    Ok(())
}
