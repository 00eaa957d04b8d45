//! Report cards for a whole class (one PDF) or the whole school (a zip of one PDF per class),
//! made in the background by a job that carries the school's schema in its payload.
//!
//! The `report_batches` row is the truth about progress; the job only says "run batch X of
//! school S". Running a batch again replaces its files (one per class, keyed by class), so a
//! redelivered or retried job never duplicates anything. Classes are rendered one at a time,
//! so memory stays flat whatever the school's size.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{FromRow, PgConnection};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{exams, pdf, report};
use crate::{
    audit::views::{Pupils, ViewKind},
    db::Db,
    error::{AppError, AppResult},
    http::zip::{Packing, ZipStream},
    jobs::queue::ReportJob,
};

crate::text_enum::text_enum! {
    /// Where a report batch is: waiting for a worker, printing, ready, or given up.
    pub enum BatchStatus {
        Queued = "queued",
        Running = "running",
        Done = "done",
        Failed = "failed",
    }
}

#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct Batch {
    pub id: Uuid,
    pub exam_session_id: i64,
    /// Null for the whole school.
    pub academic_class_id: Option<i64>,
    pub status: BatchStatus,
    /// Pupils to print, and printed so far.
    pub total: i32,
    pub done: i32,
    /// Why it failed.
    pub error: Option<String>,
    pub attempts: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// Files ready (one per class).
    pub files: i64,
    /// Marks or comments changed after the batch was made: its PDFs are out of date.
    pub stale: bool,
}

impl Batch {
    pub fn percent(&self) -> i32 {
        if self.status == BatchStatus::Done {
            100
        } else if self.total > 0 {
            (self.done * 100 / self.total).min(99)
        } else {
            0
        }
    }

    pub fn in_flight(&self) -> bool {
        matches!(self.status, BatchStatus::Queued | BatchStatus::Running)
    }

    /// A batch silent for five minutes lost its worker (a crash or a deploy); the queue
    /// redelivers it after a minute or so, and the page offers a retry after this.
    pub fn stalled(&self, now: DateTime<Utc>) -> bool {
        self.in_flight() && now - self.updated_at > chrono::Duration::minutes(5)
    }
}

const BATCH_SELECT: &str =
    "SELECT b.id, b.exam_session_id, b.academic_class_id, b.status, b.total, b.done, b.error,
        b.attempts, b.created_at, b.updated_at, b.finished_at,
        (SELECT count(*) FROM report_batch_files f WHERE f.batch_id = b.id) AS files,
        (b.finished_at IS NOT NULL AND (
            EXISTS (SELECT 1 FROM marks m JOIN exams e ON e.id = m.exam_id
                     WHERE e.exam_session_id = b.exam_session_id AND m.updated_at > b.finished_at
                       AND (b.academic_class_id IS NULL OR e.academic_class_id = b.academic_class_id))
         OR EXISTS (SELECT 1 FROM report_comments c JOIN registrations r ON r.id = c.registration_id
                     WHERE c.exam_session_id = b.exam_session_id AND c.updated_at > b.finished_at
                       AND (b.academic_class_id IS NULL OR r.academic_class_id = b.academic_class_id)))) AS stale
   FROM report_batches b";

pub async fn get(conn: &mut PgConnection, id: Uuid) -> AppResult<Batch> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{BATCH_SELECT} WHERE b.id = $1"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await?
    .ok_or_else(|| AppError::NotFound("No such report batch.".into()))
}

/// The newest batch of an exam session for a class (or the whole school).
pub async fn latest(
    conn: &mut PgConnection,
    exam_session_id: i64,
    academic_class_id: Option<i64>,
) -> Result<Option<Batch>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{BATCH_SELECT} WHERE b.exam_session_id = $1 AND b.academic_class_id IS NOT DISTINCT FROM $2
         ORDER BY b.created_at DESC LIMIT 1"
    )))
    .bind(exam_session_id)
    .bind(academic_class_id)
    .fetch_optional(conn)
    .await
}

/// Records a request for report cards. While one for the same scope is queued or running,
/// that one is returned instead (`false`): asking twice does not make two.
pub async fn request(
    conn: &mut PgConnection,
    exam_session_id: i64,
    academic_class_id: Option<i64>,
    user_id: i64,
    now: DateTime<Utc>,
) -> AppResult<(Batch, bool)> {
    let id: Option<Uuid> = sqlx::query_scalar(
        "INSERT INTO report_batches (id, exam_session_id, academic_class_id, requested_by, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $5)
         ON CONFLICT (exam_session_id, coalesce(academic_class_id, 0)) WHERE status IN ('queued', 'running')
         DO NOTHING RETURNING id",
    )
    .bind(Uuid::new_v4())
    .bind(exam_session_id)
    .bind(academic_class_id)
    .bind(user_id)
    .bind(now)
    .fetch_optional(&mut *conn)
    .await?;
    match id {
        Some(id) => Ok((get(conn, id).await?, true)),
        None => {
            let existing = latest(conn, exam_session_id, academic_class_id)
                .await?
                .ok_or_else(AppError::not_found)?;
            Ok((existing, false))
        }
    }
}

/// Puts a failed (or stalled) batch back in the queue.
pub async fn requeue(conn: &mut PgConnection, id: Uuid, now: DateTime<Utc>) -> AppResult<Batch> {
    let batch = get(conn, id).await?;
    if !(batch.status == BatchStatus::Failed || batch.stalled(now)) {
        return Err(AppError::Conflict(match batch.status {
            BatchStatus::Done => "This batch is done; request a new one to print again.".into(),
            _ => "This batch is still in progress.".into(),
        }));
    }
    sqlx::query(
        "UPDATE report_batches SET status = 'queued', error = NULL, updated_at = $2 WHERE id = $1",
    )
    .bind(id)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    get(conn, id).await
}

pub const DISABLED_WHILE_QUEUED: &str = "The school was disabled while these report cards waited to print. Retry once it is enabled again.";

/// Runs one batch in the school whose schema the job names. An error is recorded on the
/// batch and returned: the batch goes back to `queued` for the queue's next attempt, or to
/// `failed`, with the reason, after the last one.
pub async fn run(pool: &Db, job: &ReportJob, last_attempt: bool) -> anyhow::Result<()> {
    // The payload is data: only a real, active school's schema is entered.
    let known: Option<bool> =
        sqlx::query_scalar("SELECT is_active FROM public.clients WHERE schema_name = $1")
            .bind(&job.schema)
            .fetch_optional(pool.main())
            .await?;
    match known {
        None => anyhow::bail!("report job for unknown school schema {:?}", job.schema),
        // Disabled while the batch waited: it fails now with the reason (no point using up
        // the queue's attempts), and the school retries it as soon as it is enabled again
        // instead of waiting for the stall timeout.
        Some(false) => {
            let mut tx = pool.begin_school(&job.schema).await?;
            sqlx::query(
                "UPDATE report_batches SET status = 'failed', error = $2, updated_at = now()
                  WHERE id = $1 AND status IN ('queued', 'running')",
            )
            .bind(job.batch_id)
            .bind(DISABLED_WHILE_QUEUED)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            tracing::info!(batch = %job.batch_id, schema = %job.schema, "report batch of a disabled school set aside");
            return Ok(());
        }
        Some(true) => {}
    }
    match render(pool, job).await {
        Ok(()) => Ok(()),
        Err(e) => {
            tracing::warn!(batch = %job.batch_id, schema = %job.schema, error = %e, "report batch failed");
            let mut tx = pool.begin_school(&job.schema).await?;
            sqlx::query(
                "UPDATE report_batches SET status = $3, error = $2, updated_at = now() WHERE id = $1",
            )
            .bind(job.batch_id)
            .bind(e.to_string())
            .bind(if last_attempt { "failed" } else { "queued" })
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Err(e)
        }
    }
}

async fn render(pool: &Db, job: &ReportJob) -> anyhow::Result<()> {
    let school_name: String =
        sqlx::query_scalar("SELECT name FROM public.clients WHERE schema_name = $1")
            .bind(&job.schema)
            .fetch_one(pool.main())
            .await?;
    // Claim: a queued batch, or a running one silent for two minutes (its worker died and
    // the queue redelivered the job). A job delivered twice to live workers runs once.
    let mut tx = pool.begin_school(&job.schema).await?;
    let claimed: Option<(i64, Option<i64>)> = sqlx::query_as(
        "UPDATE report_batches SET status = 'running', attempts = attempts + 1, done = 0, updated_at = now()
          WHERE id = $1 AND (status = 'queued' OR (status = 'running' AND updated_at < now() - interval '2 minutes'))
          RETURNING exam_session_id, academic_class_id",
    )
    .bind(job.batch_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((exam_session_id, only_class)) = claimed else {
        tracing::info!(batch = %job.batch_id, "report batch not queued any more; nothing to do");
        return Ok(());
    };
    let es = exams::exam_session(&mut tx, exam_session_id)
        .await
        .map_err(|e| anyhow::anyhow!("{}", e.body().detail))?;
    // Classes with exams in this session, and how many pupils they print.
    let classes: Vec<(i64, String, i64)> = sqlx::query_as(
        "SELECT ac.id, c.name, (SELECT count(*) FROM registrations r WHERE r.academic_class_id = ac.id AND r.is_current)
           FROM academic_classes ac JOIN classes c ON c.id = ac.class_id JOIN forms f ON f.id = c.form_id
          WHERE ac.session_id = $1 AND ($2::bigint IS NULL OR ac.id = $2)
            AND EXISTS (SELECT 1 FROM exams e WHERE e.exam_session_id = $3 AND e.academic_class_id = ac.id)
          ORDER BY f.ordinal, lower(c.name)",
    )
    .bind(es.session_id)
    .bind(only_class)
    .bind(es.id)
    .fetch_all(&mut *tx)
    .await?;
    let total: i64 = classes.iter().map(|c| c.2).sum();
    // A rerun starts from scratch: files of an earlier attempt go.
    sqlx::query("DELETE FROM report_batch_files WHERE batch_id = $1")
        .bind(job.batch_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE report_batches SET total = $2 WHERE id = $1")
        .bind(job.batch_id)
        .bind(total as i32)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;

    for (class_id, class_name, pupils) in classes {
        let mut tx = pool.begin_school(&job.schema).await?;
        let (_, cards) = report::class_cards(&mut tx, &school_name, &es, class_id, None, true)
            .await
            .map_err(|e| anyhow::anyhow!("{}", e.body().detail))?;
        // Let go of the connection while rendering.
        tx.commit().await?;
        let bytes = if cards.is_empty() {
            None
        } else {
            // Rendering is CPU work: keep it off the async threads.
            Some(tokio::task::spawn_blocking(move || pdf::render_cards(&cards)).await??)
        };
        let mut tx = pool.begin_school(&job.schema).await?;
        if let Some(bytes) = bytes {
            let file_name = format!(
                "{} - {} {}.pdf",
                class_name,
                es.term_name,
                es.session_name.replace('/', "-")
            );
            sqlx::query(
                "INSERT INTO report_batch_files (batch_id, academic_class_id, file_name, pupils, content)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (batch_id, academic_class_id) DO UPDATE
                    SET file_name = EXCLUDED.file_name, pupils = EXCLUDED.pupils, content = EXCLUDED.content",
            )
            .bind(job.batch_id)
            .bind(class_id)
            .bind(&file_name)
            .bind(pupils as i32)
            .bind(&bytes)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query("UPDATE report_batches SET done = done + $2, updated_at = now() WHERE id = $1")
            .bind(job.batch_id)
            .bind(pupils as i32)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
    }

    let mut tx = pool.begin_school(&job.schema).await?;
    sqlx::query(
        "UPDATE report_batches SET status = 'done', error = NULL, finished_at = now(), updated_at = now() WHERE id = $1",
    )
    .bind(job.batch_id)
    .execute(&mut *tx)
    .await?;
    // Only the newest finished batch of a scope is kept: its PDFs replace the older ones.
    sqlx::query(
        "DELETE FROM report_batches
          WHERE exam_session_id = $2 AND academic_class_id IS NOT DISTINCT FROM $3
            AND id <> $1 AND status IN ('done', 'failed')",
    )
    .bind(job.batch_id)
    .bind(exam_session_id)
    .bind(only_class)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// (class id, file name, size) of a batch's files, in class order.
pub async fn files(
    conn: &mut PgConnection,
    batch_id: Uuid,
) -> Result<Vec<(i64, String, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT f.academic_class_id, f.file_name, octet_length(f.content)::bigint
           FROM report_batch_files f
           JOIN academic_classes ac ON ac.id = f.academic_class_id
           JOIN classes c ON c.id = ac.class_id JOIN forms fo ON fo.id = c.form_id
          WHERE f.batch_id = $1 ORDER BY fo.ordinal, lower(c.name)",
    )
    .bind(batch_id)
    .fetch_all(conn)
    .await
}

pub async fn file_content(
    conn: &mut PgConnection,
    batch_id: Uuid,
    academic_class_id: i64,
) -> Result<Vec<u8>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT content FROM report_batch_files WHERE batch_id = $1 AND academic_class_id = $2",
    )
    .bind(batch_id)
    .bind(academic_class_id)
    .fetch_one(conn)
    .await
}

// ---- HTTP: the API and the page fragments ----

use askama::Template;
use askama_web::WebTemplate;
use axum::{
    Json,
    body::Body,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    auth::csrf::CsrfToken,
    context::SchoolCtx,
    error::ErrorBody,
    http::{ApiJson, ApiPath},
    permissions::{access::guard_exact, catalogue::Action},
    state::AppState,
};

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchInput {
    /// One class; leave out for every class of the exam session (a zip of one PDF per class).
    pub academic_class_id: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BatchOut {
    #[serde(flatten)]
    pub batch: Batch,
    /// Poll this for progress.
    pub status_url: String,
    /// Available once `status` is `done`.
    pub download_url: String,
}

impl From<Batch> for BatchOut {
    fn from(batch: Batch) -> Self {
        Self {
            status_url: format!("/api/v1/school/report-batches/{}/", batch.id),
            download_url: format!("/api/v1/school/report-batches/{}/download/", batch.id),
            batch,
        }
    }
}

/// Records the request and queues its job in the same transaction.
async fn start(
    mut ctx: SchoolCtx,
    exam_session_id: i64,
    academic_class_id: Option<i64>,
) -> AppResult<(Batch, bool)> {
    let es = exams::exam_session(&mut ctx.tx, exam_session_id).await?;
    match academic_class_id {
        Some(class) => super::service::ensure_class_in_session(&mut ctx, &es, class).await?,
        // A teacher prints their class; the whole school is for those who run results.
        None if !ctx.perms.has("change_results") => {
            return Err(AppError::Forbidden(
                "Printing the whole school's report cards needs permission to change results."
                    .into(),
            ));
        }
        None => {}
    }
    let (batch, created) = request(
        &mut ctx.tx,
        exam_session_id,
        academic_class_id,
        ctx.user.id,
        ctx.now,
    )
    .await?;
    if created {
        ctx.audit(
            "create",
            "report_batch",
            batch.id,
            serde_json::json!({"exam_session_id": exam_session_id, "academic_class_id": academic_class_id}),
        )
        .await?;
        let job = ReportJob {
            schema: ctx.school.schema.to_string(),
            batch_id: batch.id,
        };
        crate::jobs::queue::enqueue_report(&mut ctx.tx, &job).await?;
    }
    ctx.commit().await?;
    Ok((batch, created))
}

async fn retry(mut ctx: SchoolCtx, id: Uuid) -> AppResult<Batch> {
    let batch = requeue(&mut ctx.tx, id, ctx.now).await?;
    // Retrying needs what starting needs (the transaction rolls back on refusal).
    if batch.academic_class_id.is_none() && !ctx.perms.has("change_results") {
        return Err(AppError::Forbidden(
            "Printing the whole school's report cards needs permission to change results.".into(),
        ));
    }
    ctx.audit(
        "update",
        "report_batch",
        id,
        serde_json::json!({"retried": true}),
    )
    .await?;
    let job = ReportJob {
        schema: ctx.school.schema.to_string(),
        batch_id: id,
    };
    crate::jobs::queue::enqueue_report(&mut ctx.tx, &job).await?;
    ctx.commit().await?;
    Ok(batch)
}

/// Starts generating report cards; answers at once with the batch and where to follow it.
#[utoipa::path(post, path = "/api/v1/school/exam-sessions/{id}/report-batches/", tag = "school-assessment", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Exam session id")), request_body = BatchInput,
    responses((status = 202, description = "Queued", body = BatchOut), (status = 200, description = "Already in progress: the same batch", body = BatchOut),
        (status = 404, description = "Not found", body = ErrorBody)))]
async fn api_start(
    ctx: SchoolCtx,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<BatchInput>,
) -> AppResult<(StatusCode, Json<BatchOut>)> {
    let (batch, created) = start(ctx, id, input.academic_class_id).await?;
    let status = if created {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(batch.into())))
}

#[utoipa::path(get, path = "/api/v1/school/report-batches/{id}/", tag = "school-assessment", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Batch id")),
    responses((status = 200, description = "Progress", body = BatchOut), (status = 404, description = "Not found", body = ErrorBody)))]
async fn api_status(mut ctx: SchoolCtx, ApiPath(id): ApiPath<Uuid>) -> AppResult<Json<BatchOut>> {
    Ok(Json(get(&mut ctx.tx, id).await?.into()))
}

#[utoipa::path(post, path = "/api/v1/school/report-batches/{id}/retry/", tag = "school-assessment", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Batch id")),
    responses((status = 202, description = "Queued again", body = BatchOut), (status = 409, description = "Not failed", body = ErrorBody)))]
async fn api_retry(
    ctx: SchoolCtx,
    ApiPath(id): ApiPath<Uuid>,
) -> AppResult<(StatusCode, Json<BatchOut>)> {
    let batch = retry(ctx, id).await?;
    Ok((StatusCode::ACCEPTED, Json(batch.into())))
}

/// The PDF of a one-class batch, or a zip of one PDF per class.
#[utoipa::path(get, path = "/api/v1/school/report-batches/{id}/download/", tag = "school-assessment", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Batch id")),
    responses((status = 200, description = "application/pdf or application/zip"), (status = 409, description = "Not done yet", body = ErrorBody)))]
async fn api_download(ctx: SchoolCtx, ApiPath(id): ApiPath<Uuid>) -> AppResult<Response> {
    download(ctx, id).await
}

async fn download(mut ctx: SchoolCtx, id: Uuid) -> AppResult<Response> {
    let batch = get(&mut ctx.tx, id).await?;
    if batch.status != BatchStatus::Done {
        return Err(AppError::Conflict(
            "The report cards are not ready yet.".into(),
        ));
    }
    let list = files(&mut ctx.tx, id).await?;
    let es = exams::exam_session(&mut ctx.tx, batch.exam_session_id).await?;
    let classes: Vec<i64> = list.iter().map(|(class, _, _)| *class).collect();
    ctx.record_view(
        ViewKind::ReportCard,
        &format!("Report cards, {} {}", es.term_name, es.session_name),
        Pupils::AcademicClasses(&classes),
    )
    .await?;
    if batch.academic_class_id.is_some() {
        let Some((class, name, _)) = list.first() else {
            return Err(AppError::NotFound(
                "This batch printed no report cards.".into(),
            ));
        };
        let bytes = file_content(&mut ctx.tx, id, *class).await?;
        ctx.commit().await?;
        return Ok(crate::http::download::inline_pdf(name, bytes));
    }
    // Whole school: stream a zip, reading one class's PDF at a time.
    let zip_name = format!(
        "report-cards {} {}.zip",
        es.term_name,
        es.session_name.replace('/', "-")
    );
    let db = ctx.db.clone();
    let schema = ctx.school.schema.to_string();
    ctx.commit().await?;
    let writer = ZipStream::new(Utc::now().naive_utc());
    let stream = futures::stream::unfold(
        (Some(writer), list.into_iter()),
        move |(writer, mut rest)| {
            let db = db.clone();
            let schema = schema.clone();
            async move {
                let mut writer = writer?;
                match rest.next() {
                    Some((class, name, _)) => {
                        let bytes = async {
                            let mut tx = db.begin_school(&schema).await?;
                            let bytes = file_content(&mut tx, id, class).await?;
                            tx.commit().await?;
                            Ok::<_, sqlx::Error>(bytes)
                        }
                        .await
                        .map_err(std::io::Error::other);
                        let chunk =
                            bytes.and_then(|bytes| writer.entry(&name, &bytes, Packing::Stored));
                        Some((chunk, (Some(writer), rest)))
                    }
                    None => Some((writer.finish(), (None, rest))),
                }
            }
        },
    );
    Ok((
        [
            (header::CONTENT_TYPE, "application/zip".to_owned()),
            (header::CACHE_CONTROL, "private, no-store".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                crate::http::download::disposition("attachment", &zip_name),
            ),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(api_start))
        .routes(routes!(api_status))
        .routes(routes!(api_retry))
        .routes(routes!(api_download))
        .layer(guard_exact(Action::View, "results"))
}

// ---- page fragment: progress bar and download link ----

#[derive(Template, WebTemplate)]
#[template(path = "partials/batch_status.html")]
pub struct BatchPanel {
    pub batch: Option<Batch>,
    /// Where to POST to start a batch of this scope.
    pub start_url: String,
    pub csrf: String,
    pub whole_school: bool,
    pub now: DateTime<Utc>,
    /// The school's clock, for when the cards were made.
    pub time_zone: chrono_tz::Tz,
}

impl BatchPanel {
    fn made_at(&self, at: &DateTime<Utc>) -> String {
        at.with_timezone(&self.time_zone)
            .format("%-d %b %H:%M")
            .to_string()
    }
}

async fn page_start_class(
    ctx: SchoolCtx,
    CsrfToken(csrf): CsrfToken,
    ApiPath((id, class)): ApiPath<(i64, i64)>,
) -> AppResult<Response> {
    let start_url = format!("/exams/sessions/{id}/classes/{class}/report-batch");
    let now = ctx.now;
    let time_zone = ctx.school.time_zone;
    let (batch, _) = start(ctx, id, Some(class)).await?;
    Ok(BatchPanel {
        batch: Some(batch),
        start_url,
        csrf,
        whole_school: false,
        now,
        time_zone,
    }
    .into_response())
}

async fn page_start_school(
    ctx: SchoolCtx,
    CsrfToken(csrf): CsrfToken,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Response> {
    let start_url = format!("/exams/sessions/{id}/report-batch");
    let now = ctx.now;
    let time_zone = ctx.school.time_zone;
    let (batch, _) = start(ctx, id, None).await?;
    Ok(BatchPanel {
        batch: Some(batch),
        start_url,
        csrf,
        whole_school: true,
        now,
        time_zone,
    }
    .into_response())
}

fn start_url_of(batch: &Batch) -> String {
    match batch.academic_class_id {
        Some(class) => format!(
            "/exams/sessions/{}/classes/{class}/report-batch",
            batch.exam_session_id
        ),
        None => format!("/exams/sessions/{}/report-batch", batch.exam_session_id),
    }
}

async fn page_status(
    mut ctx: SchoolCtx,
    CsrfToken(csrf): CsrfToken,
    ApiPath(id): ApiPath<Uuid>,
) -> AppResult<Response> {
    let batch = get(&mut ctx.tx, id).await?;
    Ok(BatchPanel {
        start_url: start_url_of(&batch),
        whole_school: batch.academic_class_id.is_none(),
        batch: Some(batch),
        csrf,
        now: ctx.now,
        time_zone: ctx.school.time_zone,
    }
    .into_response())
}

async fn page_retry(
    ctx: SchoolCtx,
    CsrfToken(csrf): CsrfToken,
    ApiPath(id): ApiPath<Uuid>,
) -> AppResult<Response> {
    let now = ctx.now;
    let time_zone = ctx.school.time_zone;
    let batch = retry(ctx, id).await?;
    Ok(BatchPanel {
        start_url: start_url_of(&batch),
        whole_school: batch.academic_class_id.is_none(),
        batch: Some(batch),
        csrf,
        now,
        time_zone,
    }
    .into_response())
}

async fn page_download(ctx: SchoolCtx, ApiPath(id): ApiPath<Uuid>) -> AppResult<Response> {
    download(ctx, id).await
}

pub fn pages_router() -> axum::Router<AppState> {
    use axum::routing::{get, post};
    let view = || guard_exact(Action::View, "results");
    axum::Router::new()
        .route(
            "/exams/sessions/{id}/classes/{class}/report-batch",
            post(page_start_class).layer(view()),
        )
        .route(
            "/exams/sessions/{id}/report-batch",
            post(page_start_school).layer(view()),
        )
        .route("/report-batches/{id}", get(page_status).layer(view()))
        .route("/report-batches/{id}/retry", post(page_retry).layer(view()))
        .route(
            "/report-batches/{id}/download",
            get(page_download).layer(view()),
        )
}
