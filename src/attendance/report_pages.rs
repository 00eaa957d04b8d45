//! The class's term report page (class, weeks, pupils, whom to watch) and its CSV.

use askama::Template;
use askama_web::WebTemplate;
use axum::{
    Router,
    response::{IntoResponse, Response},
    routing::get,
};
use serde::Deserialize;

use super::{
    absences::AbsenceStatus,
    registers,
    reports::{self, ClassTermSummary},
};
use crate::{
    auth::csrf::CsrfToken,
    context::SchoolCtx,
    error::AppResult,
    http::{ApiQuery, csv_file::CsvFile, download},
    permissions::access::Guard,
    state::AppState,
};

#[derive(Debug, Deserialize)]
struct ReportQuery {
    class: Option<i64>,
    term: Option<i64>,
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/attendance_report.html")]
struct ReportPage {
    layout: crate::web::layout::Layout,
    classes: Vec<(i64, String)>,
    terms: Vec<(i64, String)>,
    class: Option<i64>,
    term: Option<i64>,
    report: Option<ClassTermSummary>,
}

impl ReportPage {
    fn is_class(&self, id: &i64) -> bool {
        self.class == Some(*id)
    }

    fn is_term(&self, id: &i64) -> bool {
        self.term == Some(*id)
    }
}

/// The current session's terms, and the current term.
async fn terms(ctx: &mut SchoolCtx) -> AppResult<(Vec<(i64, String)>, Option<i64>)> {
    let rows: Vec<(i64, String, bool)> = sqlx::query_as(
        "SELECT t.id, t.name, t.is_current FROM terms t
           JOIN academic_sessions s ON s.id = t.session_id
          WHERE s.is_current ORDER BY t.ordinal",
    )
    .fetch_all(&mut *ctx.tx)
    .await?;
    let current = rows.iter().find(|t| t.2).map(|t| t.0);
    Ok((
        rows.into_iter().map(|(id, name, _)| (id, name)).collect(),
        current,
    ))
}

async fn report_page(
    mut ctx: SchoolCtx,
    CsrfToken(csrf): CsrfToken,
    ApiQuery(q): ApiQuery<ReportQuery>,
) -> AppResult<Response> {
    let classes = super::pages::classes(&mut ctx).await?;
    let (terms, current) = terms(&mut ctx).await?;
    let class = q.class.or(match classes.as_slice() {
        [(only, _)] => Some(*only),
        _ => None,
    });
    let term = q.term.or(current);
    let report = match (class, term) {
        (Some(class), Some(term)) => {
            registers::may_read_class(&mut ctx, class).await?;
            let today = ctx.today();
            Some(reports::class_term(&mut ctx.tx, class, term, today).await?)
        }
        _ => None,
    };
    Ok(ReportPage {
        layout: ctx.layout("Attendance report", "attendance", &csrf),
        classes,
        terms,
        class,
        term,
        report,
    }
    .into_response())
}

fn percent(p: Option<f64>) -> String {
    p.map(|p| format!("{p:.1}")).unwrap_or_default()
}

/// Every pupil's term with the class's line last: opens in a spreadsheet.
async fn report_csv(mut ctx: SchoolCtx, ApiQuery(q): ApiQuery<ReportQuery>) -> AppResult<Response> {
    let (class, term) = match (q.class, q.term) {
        (Some(c), Some(t)) => (c, t),
        _ => {
            return Err(crate::error::AppError::field(
                "class",
                "Choose a class and a term.",
            ));
        }
    };
    registers::may_read_class(&mut ctx, class).await?;
    let today = ctx.today();
    let r = reports::class_term(&mut ctx.tx, class, term, today).await?;
    let mut file = CsvFile::new([
        "Admission no",
        "Pupil",
        "Times school opened",
        "Present",
        "Late",
        "Absent",
        "Excused",
        "Not marked",
        "Percentage present",
        "Longest absence (registers in a row)",
    ])?;
    for p in &r.pupils {
        let t = &p.tally;
        file.row([
            p.admission_no.clone(),
            p.full_name.clone(),
            t.times_opened.to_string(),
            t.present.to_string(),
            t.late.to_string(),
            t.absent.to_string(),
            t.excused.to_string(),
            t.not_marked.to_string(),
            percent(t.percentage),
            p.longest_absence_run.to_string(),
        ])?;
    }
    let t = &r.tally;
    file.row([
        String::new(),
        format!("{} (whole class)", r.class_name),
        t.times_opened.to_string(),
        t.present.to_string(),
        t.late.to_string(),
        t.absent.to_string(),
        t.excused.to_string(),
        t.not_marked.to_string(),
        percent(t.percentage),
        String::new(),
    ])?;
    let name = format!("attendance-{}-{}.csv", r.class_name, r.term_name).replace(
        |c: char| !c.is_ascii_alphanumeric() && c != '.' && c != '-',
        "-",
    );
    Ok(download::csv(&name, file.finish()?))
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/attendance_pupil.html")]
struct PupilPage {
    layout: crate::web::layout::Layout,
    name: String,
    student_id: i64,
    a: reports::PupilOverview,
}

/// One pupil's attendance: the term so far, absence events, corrected marks (linked from the
/// pupil's record).
async fn pupil_page(
    mut ctx: SchoolCtx,
    CsrfToken(csrf): CsrfToken,
    crate::http::ApiPath(id): crate::http::ApiPath<i64>,
) -> AppResult<Response> {
    if !(ctx.perms.has("view_attendance") || ctx.perms.has("change_attendance")) {
        return Err(crate::error::AppError::forbidden());
    }
    let pupil = crate::students::db::get(&mut ctx.tx, id).await?;
    let today = ctx.today();
    let a = reports::pupil_overview(&mut ctx.tx, id, today).await?;
    let name = pupil.full_name();
    Ok(PupilPage {
        layout: ctx.layout(&name, "attendance", &csrf),
        name,
        student_id: id,
        a,
    }
    .into_response())
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/attendance/report", get(report_page))
        .route("/attendance/pupils/{id}", get(pupil_page))
        .route("/attendance/report.csv", get(report_csv))
        .layer(axum::Extension(Guard::Authenticated))
}
