//! Spreadsheets and printouts from the school pages: the broadsheet downloads of the
//! results page, the mark sheet downloads of the marks page, and uploading a mark sheet
//! back (check → preview with each bad cell named → confirm, all or nothing), as the
//! student import does.

use askama::Template;
use askama_web::WebTemplate;
use axum::{
    Router,
    extract::Multipart,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
};
use axum_messages::Messages;
use serde::Deserialize;

use super::{
    broadsheet::{BroadsheetQuery, MeetingSummary},
    card::{format_score, ordinal},
    exams::{Exam, ExamSession},
    mark_sheets::{self, Grid, MAX_FILE_BYTES, MarkImport, Mode},
    marks, service,
};
use crate::{
    auth::csrf::CsrfToken,
    context::SchoolCtx,
    error::{AppError, AppResult},
    http::{ApiPath, ApiQuery, Form, download},
    permissions::{access::guard_exact, catalogue::Action},
    state::AppState,
    web::{flash, htmx::see_other, kit::with_status, layout::Layout},
};

// ---- broadsheet and meeting summary ----

#[derive(Template, WebTemplate)]
#[template(path = "pages/results_summary.html")]
struct SummaryPage {
    layout: Layout,
    es: ExamSession,
    s: MeetingSummary,
    pass_mark: String,
    ranking: String,
}

impl SummaryPage {
    fn fmt(&self, v: &f64) -> String {
        format_score(*v)
    }
    fn num(&self, v: &Option<f64>) -> String {
        v.map(format_score).unwrap_or_else(|| "–".into())
    }
    fn rate(&self, v: &Option<f64>) -> String {
        v.map(|r| format!("{}%", format_score(r)))
            .unwrap_or_else(|| "–".into())
    }
    fn pos(&self, v: &i64) -> String {
        ordinal(*v)
    }
}

async fn summary_page(
    mut ctx: SchoolCtx,
    CsrfToken(csrf): CsrfToken,
    ApiPath((id, class)): ApiPath<(i64, i64)>,
) -> AppResult<Response> {
    let sheet = service::broadsheet(&mut ctx, id, class).await?;
    Ok(SummaryPage {
        layout: ctx.layout(
            &format!("Meeting summary · {}", sheet.results.class_name),
            "exams",
            &csrf,
        ),
        pass_mark: sheet.pass_mark_text(),
        ranking: sheet.ranking_text(),
        es: sheet.exam_session,
        s: sheet.summary,
    }
    .into_response())
}

#[derive(Debug, Deserialize)]
struct PaperQuery {
    paper: Option<String>,
}

async fn broadsheet_pdf(
    mut ctx: SchoolCtx,
    ApiPath((id, class)): ApiPath<(i64, i64)>,
    ApiQuery(q): ApiQuery<PaperQuery>,
) -> AppResult<Response> {
    let paper = BroadsheetQuery {
        academic_class: class,
        paper: q.paper,
    }
    .paper()?;
    let (bytes, name) = service::broadsheet_pdf(&mut ctx, id, class, paper).await?;
    ctx.commit().await?;
    Ok(download::inline_pdf(&name, bytes))
}

async fn broadsheet_xlsx(
    mut ctx: SchoolCtx,
    ApiPath((id, class)): ApiPath<(i64, i64)>,
) -> AppResult<Response> {
    let (bytes, name) = service::broadsheet_xlsx(&mut ctx, id, class).await?;
    ctx.commit().await?;
    Ok(download::xlsx(&name, bytes))
}

// ---- mark sheet downloads ----

async fn export_xlsx(mut ctx: SchoolCtx, ApiPath(id): ApiPath<i64>) -> AppResult<Response> {
    let (sheet, es, _) = marks::sheet_in_session(&mut ctx, id).await?;
    ctx.commit().await?;
    let bytes = mark_sheets::to_xlsx(&sheet, &es).map_err(|e| AppError::Internal(e.into()))?;
    Ok(download::xlsx(
        &mark_sheets::file_name(&sheet.exam, &es, "xlsx"),
        bytes,
    ))
}

async fn export_csv(mut ctx: SchoolCtx, ApiPath(id): ApiPath<i64>) -> AppResult<Response> {
    let (sheet, es, _) = marks::sheet_in_session(&mut ctx, id).await?;
    ctx.commit().await?;
    Ok(download::csv(
        &mark_sheets::file_name(&sheet.exam, &es, "csv"),
        mark_sheets::to_csv(&sheet, &es),
    ))
}

// ---- uploading a mark sheet ----

#[derive(Template, WebTemplate)]
#[template(path = "pages/mark_import.html")]
struct ImportPage {
    layout: Layout,
    es: ExamSession,
    exam: Exam,
    /// Why this user cannot upload marks for the exam now, when they cannot.
    locked_reason: Option<String>,
    preview: Option<MarkImport>,
    /// The file's cells as CSV, carried from the preview to the confirmation.
    grid_csv: String,
    error: String,
}

impl ImportPage {
    /// Rows worth showing: those that change something or have a problem.
    fn shown_rows(&self) -> Vec<&mark_sheets::MarkImportRow> {
        self.preview
            .iter()
            .flat_map(|p| &p.rows)
            .filter(|r| !r.changes.is_empty() || !r.errors.is_empty())
            .collect()
    }

    /// The cells of a row's problems ("C8"), which the table above explains.
    fn bad_cells(&self, row: &mark_sheets::MarkImportRow) -> Vec<String> {
        let mut cells: Vec<String> = row
            .errors
            .iter()
            .filter_map(|e| e.split_once(": ").map(|(cell, _)| cell.to_owned()))
            .collect();
        cells.dedup();
        cells
    }
}

/// The page with what the user may do; 422 when it shows problems.
async fn import_page(
    ctx: &mut SchoolCtx,
    csrf: &str,
    id: i64,
    preview: Option<MarkImport>,
    grid_csv: String,
    error: String,
) -> AppResult<Response> {
    let (sheet, es, _) = marks::sheet_in_session(ctx, id).await?;
    let locked_reason = if !marks::may_enter(ctx, &sheet.exam) {
        Some(format!(
            "Only the subject teacher of {} in {} (or staff allowed to change marks) may upload its marks.",
            sheet.exam.subject_name, sheet.exam.class_name
        ))
    } else {
        marks::ensure_open(&es, &sheet.exam)
            .err()
            .map(|e| crate::web::kit::message_of(&e))
    };
    let bad = !error.is_empty() || preview.as_ref().is_some_and(|p| !p.errors.is_empty());
    let page = ImportPage {
        layout: ctx.layout(
            &format!(
                "Upload marks · {} · {}",
                sheet.exam.class_name, sheet.exam.subject_name
            ),
            "exams",
            csrf,
        ),
        es,
        exam: sheet.exam,
        locked_reason,
        preview,
        grid_csv,
        error,
    }
    .into_response();
    Ok(if bad {
        with_status(page, StatusCode::UNPROCESSABLE_ENTITY)
    } else {
        page
    })
}

async fn import_form(
    mut ctx: SchoolCtx,
    CsrfToken(csrf): CsrfToken,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Response> {
    import_page(&mut ctx, &csrf, id, None, String::new(), String::new()).await
}

/// The `file` field of a multipart form, at most `MAX_FILE_BYTES`; `None` when empty.
async fn read_file_field(mut multipart: Multipart) -> AppResult<Option<Vec<u8>>> {
    let unreadable = || AppError::BadRequest("The upload could not be read.".into());
    while let Some(mut field) = multipart.next_field().await.map_err(|_| unreadable())? {
        if field.name() != Some("file") {
            continue;
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(|_| unreadable())? {
            if bytes.len() + chunk.len() > MAX_FILE_BYTES {
                return Err(AppError::field(
                    "file",
                    "The file is larger than 1 MB; a mark sheet is much smaller. Upload the sheet downloaded from the marks page.",
                ));
            }
            bytes.extend_from_slice(&chunk);
        }
        return Ok((!bytes.is_empty()).then_some(bytes));
    }
    Ok(None)
}

/// Renders a problem with the file as a whole on the page; other errors pass.
async fn file_problem(
    ctx: &mut SchoolCtx,
    csrf: &str,
    id: i64,
    e: AppError,
) -> AppResult<Response> {
    match e {
        AppError::Validation { errors, .. } => {
            let message = errors.into_values().flatten().collect::<Vec<_>>().join(" ");
            import_page(ctx, csrf, id, None, String::new(), message).await
        }
        other => Err(other),
    }
}

/// Step 1: the file is read and checked, and the changes and problems shown.
async fn import_check(
    mut ctx: SchoolCtx,
    CsrfToken(csrf): CsrfToken,
    ApiPath(id): ApiPath<i64>,
    multipart: Multipart,
) -> AppResult<Response> {
    let bytes = match read_file_field(multipart).await {
        Ok(Some(bytes)) => bytes,
        Ok(None) => {
            let message = "Choose the mark sheet file (.xlsx or .csv) to upload.".to_owned();
            return import_page(&mut ctx, &csrf, id, None, String::new(), message).await;
        }
        Err(e) => return file_problem(&mut ctx, &csrf, id, e).await,
    };
    let grid = match mark_sheets::read_file(&bytes) {
        Ok(grid) => grid,
        Err(e) => return file_problem(&mut ctx, &csrf, id, e).await,
    };
    check_and_show(ctx, &csrf, id, grid).await
}

async fn check_and_show(
    mut ctx: SchoolCtx,
    csrf: &str,
    id: i64,
    grid: Grid,
) -> AppResult<Response> {
    match mark_sheets::import(&mut ctx, id, &grid, Mode::Preview).await {
        Ok(preview) => {
            let csv = grid.to_csv();
            import_page(&mut ctx, csrf, id, Some(preview), csv, String::new()).await
        }
        Err(e) => file_problem(&mut ctx, csrf, id, e).await,
    }
}

#[derive(Deserialize)]
struct ConfirmImport {
    #[serde(default)]
    grid: String,
}

/// Step 2: the same cells, checked again and saved in one transaction, or not at all.
async fn import_confirm(
    mut ctx: SchoolCtx,
    CsrfToken(csrf): CsrfToken,
    messages: Messages,
    headers: HeaderMap,
    ApiPath(id): ApiPath<i64>,
    Form(f): Form<ConfirmImport>,
) -> AppResult<Response> {
    let grid = match mark_sheets::read_csv(&f.grid, b',') {
        Ok(grid) => grid,
        Err(e) => return file_problem(&mut ctx, &csrf, id, e).await,
    };
    match mark_sheets::import(&mut ctx, id, &grid, Mode::Save).await {
        Ok(preview) if preview.saved => {
            ctx.commit().await?;
            let n = preview.changes;
            flash::success(
                &messages,
                if n == 0 {
                    "The file matched the marks already saved: nothing changed.".to_owned()
                } else {
                    format!(
                        "{n} change{} saved from the file.",
                        if n == 1 { "" } else { "s" }
                    )
                },
            );
            Ok(see_other(&headers, &format!("/exams/{id}/marks")))
        }
        Ok(preview) => {
            let csv = grid.to_csv();
            import_page(&mut ctx, &csrf, id, Some(preview), csv, String::new()).await
        }
        Err(e) => file_problem(&mut ctx, &csrf, id, e).await,
    }
}

pub fn router() -> Router<AppState> {
    let view = |r| guard_exact(Action::View, r);
    Router::new()
        .route(
            "/exams/sessions/{id}/classes/{class}/summary",
            get(summary_page).layer(view("results")),
        )
        .route(
            "/exams/sessions/{id}/classes/{class}/broadsheet.pdf",
            get(broadsheet_pdf).layer(view("results")),
        )
        .route(
            "/exams/sessions/{id}/classes/{class}/broadsheet.xlsx",
            get(broadsheet_xlsx).layer(view("results")),
        )
        .route(
            "/exams/{id}/marks/export.xlsx",
            get(export_xlsx).layer(view("marks")),
        )
        .route(
            "/exams/{id}/marks/export.csv",
            get(export_csv).layer(view("marks")),
        )
        // Saving is checked in `marks::save`, as for the grid.
        .route(
            "/exams/{id}/marks/import",
            get(import_form).post(import_check).layer(view("marks")),
        )
        .route(
            "/exams/{id}/marks/import/confirm",
            axum::routing::post(import_confirm).layer(view("marks")),
        )
}
