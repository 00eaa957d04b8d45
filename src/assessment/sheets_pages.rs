//! Printouts from the school pages: the results meeting summary and the broadsheet
//! downloads of the results page.

use askama::Template;
use askama_web::WebTemplate;
use axum::{
    Router,
    response::{IntoResponse, Response},
    routing::get,
};
use serde::Deserialize;

use super::{
    broadsheet::{BroadsheetQuery, MeetingSummary},
    card::{format_score, ordinal},
    exams::ExamSession,
    service,
};
use crate::{
    auth::csrf::CsrfToken,
    context::SchoolCtx,
    error::AppResult,
    http::{ApiPath, ApiQuery, download},
    permissions::{access::guard_exact, catalogue::Action},
    state::AppState,
    web::layout::Layout,
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
    Ok(download::inline_pdf(&name, bytes))
}

async fn broadsheet_xlsx(
    mut ctx: SchoolCtx,
    ApiPath((id, class)): ApiPath<(i64, i64)>,
) -> AppResult<Response> {
    let (bytes, name) = service::broadsheet_xlsx(&mut ctx, id, class).await?;
    Ok(download::xlsx(&name, bytes))
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
}
