//! Results day: a published exam session's figures and report cards do not change until it is
//! unpublished, so they are served from what was computed once (tenant migration 0014).
//!
//! - A class's results: the exact JSON body of `GET …/results/`, stored for every class when
//!   the session is published, and again on the first request after a change forgot it.
//! - A pupil's report card PDF: rendered on its first request, then served as stored.
//!
//! Every row carries the publication it belongs to (`published_at`): a row of an earlier
//! publication is never served. Database triggers forget the rows a change can alter in the
//! transaction of the change (marks after reopening, names, attendance, settings…), and
//! [`lock_for_storing`] keeps a row from being stored from figures a concurrent change is
//! about to replace. A session that is not published is always computed.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgConnection;

use super::{
    card::ReportCard,
    exams::{ExamSession, ExamSessionStatus},
    pdf, report,
    results::{self, ClassResults},
};
use crate::error::{AppError, AppResult};

/// The publication a row belongs to: set while the session is published.
fn publication(es: &ExamSession) -> Option<DateTime<Utc>> {
    es.published_at
        .filter(|_| es.status == ExamSessionStatus::Published)
}

/// Waits for the writers in flight (each trigger of 0014 takes this lock shared) and holds
/// them off until this transaction ends, so what is read next and stored is current and
/// cannot be replaced before it is stored. Taken before reading what is computed.
pub async fn lock_for_storing(conn: &mut PgConnection) -> sqlx::Result<()> {
    sqlx::query("SELECT pg_advisory_xact_lock(1915, hashtext(current_schema()))")
        .execute(conn)
        .await?;
    Ok(())
}

/// A class's results as served: the JSON body and the pupils in it.
pub struct ResultsBody {
    pub body: Vec<u8>,
    pub registrations: Vec<i64>,
}

impl ResultsBody {
    fn of(results: &ClassResults) -> AppResult<Self> {
        Ok(Self {
            body: serde_json::to_vec(results).map_err(|e| AppError::Internal(e.into()))?,
            registrations: results.pupils.iter().map(|p| p.registration).collect(),
        })
    }
}

/// The stored results of a published session's class, if there are.
pub async fn stored_results(
    conn: &mut PgConnection,
    es: &ExamSession,
    academic_class_id: i64,
) -> sqlx::Result<Option<ResultsBody>> {
    let Some(published_at) = publication(es) else {
        return Ok(None);
    };
    let row: Option<(Vec<u8>, Vec<i64>)> = sqlx::query_as(
        "SELECT body, registrations FROM published_results
          WHERE exam_session_id = $1 AND academic_class_id = $2 AND published_at = $3",
    )
    .bind(es.id)
    .bind(academic_class_id)
    .bind(published_at)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|(body, registrations)| ResultsBody {
        body,
        registrations,
    }))
}

async fn store_results(
    conn: &mut PgConnection,
    es: &ExamSession,
    published_at: DateTime<Utc>,
    academic_class_id: i64,
    stored: &ResultsBody,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO published_results (exam_session_id, academic_class_id, session_id, term_ordinal,
                                        published_at, body, registrations, computed_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (exam_session_id, academic_class_id) DO UPDATE
            SET published_at = $5, body = $6, registrations = $7, computed_at = $8",
    )
    .bind(es.id)
    .bind(academic_class_id)
    .bind(es.session_id)
    .bind(es.term_ordinal)
    .bind(published_at)
    .bind(&stored.body)
    .bind(&stored.registrations)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// A class's results: as stored when the session is published (computed and stored first if
/// they are not), computed otherwise. The caller checks the class is in the session.
pub async fn results_body(
    conn: &mut PgConnection,
    es: &ExamSession,
    academic_class_id: i64,
    now: DateTime<Utc>,
) -> AppResult<ResultsBody> {
    if let Some(stored) = stored_results(conn, es, academic_class_id).await? {
        return Ok(stored);
    }
    let Some(published_at) = publication(es) else {
        let results = results::class_results(conn, es, academic_class_id).await?;
        return ResultsBody::of(&results);
    };
    lock_for_storing(conn).await?;
    // Another request may have stored them while this one waited.
    if let Some(stored) = stored_results(conn, es, academic_class_id).await? {
        return Ok(stored);
    }
    let results = results::class_results(conn, es, academic_class_id).await?;
    let body = ResultsBody::of(&results)?;
    store_results(conn, es, published_at, academic_class_id, &body, now).await?;
    Ok(body)
}

/// A class's results as figures (the chatbot's summary): the stored ones read back when the
/// session is published, so they are the figures every other reader gets.
pub async fn class_results(
    conn: &mut PgConnection,
    es: &ExamSession,
    academic_class_id: i64,
    now: DateTime<Utc>,
) -> AppResult<ClassResults> {
    if publication(es).is_none() {
        return Ok(results::class_results(conn, es, academic_class_id).await?);
    }
    let stored = results_body(conn, es, academic_class_id, now).await?;
    serde_json::from_slice(&stored.body).map_err(|e| AppError::Internal(e.into()))
}

/// Stores the results of every class of an exam session being published (in the publishing
/// transaction, after the session's row says published). Returns how many classes.
pub async fn store_all_results(
    conn: &mut PgConnection,
    es: &ExamSession,
    now: DateTime<Utc>,
) -> AppResult<usize> {
    let Some(published_at) = publication(es) else {
        return Ok(0);
    };
    lock_for_storing(conn).await?;
    let classes: Vec<i64> = sqlx::query_scalar(
        "SELECT DISTINCT academic_class_id FROM exams WHERE exam_session_id = $1 ORDER BY 1",
    )
    .bind(es.id)
    .fetch_all(&mut *conn)
    .await?;
    for class in &classes {
        let results = results::class_results(conn, es, *class).await?;
        let body = ResultsBody::of(&results)?;
        store_results(conn, es, published_at, *class, &body, now).await?;
    }
    Ok(classes.len())
}

/// A pupil's report card as a PDF, with their admission number (for the file name).
pub struct CardPdf {
    pub pdf: Vec<u8>,
    pub admission_no: String,
}

/// The stored card of a pupil in a published session, if there is one still good `today`
/// (the school's date) and printed with the school's name as it is now.
pub async fn stored_card(
    conn: &mut PgConnection,
    es: &ExamSession,
    registration: i64,
    school_name: &str,
    today: NaiveDate,
) -> sqlx::Result<Option<CardPdf>> {
    let Some(published_at) = publication(es) else {
        return Ok(None);
    };
    let row: Option<(Vec<u8>, String)> = sqlx::query_as(
        "SELECT pdf, admission_no FROM published_cards
          WHERE exam_session_id = $1 AND registration_id = $2 AND published_at = $3
            AND school_name = $4 AND (fresh_on IS NULL OR fresh_on = $5)",
    )
    .bind(es.id)
    .bind(registration)
    .bind(published_at)
    .bind(school_name)
    .bind(today)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|(pdf, admission_no)| CardPdf { pdf, admission_no }))
}

/// Renders one card (off the async threads).
pub async fn render(card: ReportCard) -> AppResult<Vec<u8>> {
    tokio::task::spawn_blocking(move || pdf::render_cards(std::slice::from_ref(&card)))
        .await
        .map_err(|e| AppError::Internal(e.into()))?
        .map_err(|e| AppError::Internal(e.into()))
}

/// A pupil's report card PDF in exam session `es`, their registration in `academic_class_id`
/// (checked by the caller): as stored when the session is published (rendered and stored
/// first if it is not), rendered otherwise. `today` is the school's date (attendance is
/// counted up to it). `None` when the pupil has no card in the class.
pub async fn card_pdf(
    conn: &mut PgConnection,
    school_name: &str,
    es: &ExamSession,
    academic_class_id: i64,
    registration: i64,
    today: NaiveDate,
    now: DateTime<Utc>,
) -> AppResult<CardPdf> {
    if let Some(stored) = stored_card(conn, es, registration, school_name, today).await? {
        return Ok(stored);
    }
    let published_at = publication(es);
    if published_at.is_some() {
        lock_for_storing(conn).await?;
        if let Some(stored) = stored_card(conn, es, registration, school_name, today).await? {
            return Ok(stored);
        }
    }
    let (_, cards) = report::class_cards(
        conn,
        school_name,
        es,
        academic_class_id,
        Some(registration),
        true,
    )
    .await?;
    let card = cards.into_iter().next().ok_or_else(AppError::not_found)?;
    let admission_no = card.pupil.admission_no.clone();
    // Before the term's last day the attendance on it is "so far": good for today only.
    let fresh_on = (today <= card.period.term_ends).then_some(today);
    let pdf = render(card).await?;
    if let Some(published_at) = published_at {
        sqlx::query(
            "INSERT INTO published_cards (exam_session_id, registration_id, session_id, term_ordinal,
                                          published_at, school_name, admission_no, fresh_on, pdf, rendered_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
             ON CONFLICT (exam_session_id, registration_id) DO UPDATE
                SET published_at = $5, school_name = $6, admission_no = $7, fresh_on = $8, pdf = $9,
                    rendered_at = $10",
        )
        .bind(es.id)
        .bind(registration)
        .bind(es.session_id)
        .bind(es.term_ordinal)
        .bind(published_at)
        .bind(school_name)
        .bind(&admission_no)
        .bind(fresh_on)
        .bind(&pdf)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    }
    Ok(CardPdf { pdf, admission_no })
}
