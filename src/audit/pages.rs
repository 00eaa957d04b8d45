//! The audit log viewer: who changed what, filterable by user, entity and dates.

use askama::Template;
use askama_web::WebTemplate;
use axum::{
    Router,
    http::Uri,
    response::{IntoResponse, Response},
    routing::get,
};
use chrono::NaiveDate;
use serde::Deserialize;

use super::{
    query::{self, AuditFilter, list_audit},
    trail::AuditRow,
};
use crate::{
    auth::csrf::CsrfToken,
    context::SchoolCtx,
    error::AppResult,
    http::{ApiQuery, ListParams, Page},
    permissions::{access::guard_exact, catalogue::Action},
    state::AppState,
    web::layout::Layout,
};

#[derive(Debug, Default, Deserialize)]
struct Query {
    page: Option<i64>,
    user: Option<String>,
    entity: Option<String>,
    date_from: Option<String>,
    date_to: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/audit.html")]
struct AuditPage {
    layout: Layout,
    page: Page<AuditRow>,
    staff: Vec<(i64, String)>,
    entities: Vec<String>,
    user: Option<i64>,
    entity: String,
    date_from: String,
    date_to: String,
}

impl AuditPage {
    fn is_user(&self, id: &i64) -> bool {
        self.user == Some(*id)
    }

    /// "full_name: Test Staff → Ibrahim Musa; is_active: true → false"
    fn summary(&self, row: &AuditRow) -> String {
        let Some(obj) = row.changes.as_object() else {
            return String::new();
        };
        obj.iter()
            .take(6)
            .map(|(k, v)| match (v.get("from"), v.get("to")) {
                (Some(f), Some(t)) => format!("{k}: {} → {}", short(f), short(t)),
                (None, Some(t)) => format!("{k}: {}", short(t)),
                _ => format!("{k}: {}", short(v)),
            })
            .collect::<Vec<_>>()
            .join("; ")
    }
}

fn short(v: &serde_json::Value) -> String {
    let s = match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => "—".to_owned(),
        other => other.to_string(),
    };
    if s.chars().count() > 60 {
        format!("{}…", s.chars().take(60).collect::<String>())
    } else {
        s
    }
}

fn date(raw: &Option<String>) -> Option<NaiveDate> {
    raw.as_deref()
        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
}

async fn audit_page(
    mut ctx: SchoolCtx,
    CsrfToken(csrf): CsrfToken,
    uri: Uri,
    ApiQuery(q): ApiQuery<Query>,
) -> AppResult<Response> {
    let user = q.user.as_deref().and_then(|u| u.parse().ok());
    let entity = q.entity.clone().filter(|e| !e.is_empty());
    let filter = AuditFilter {
        user,
        entity: entity.clone(),
        entity_id: None,
        action: None,
        date_from: date(&q.date_from),
        date_to: date(&q.date_to),
    };
    let params = ListParams {
        page: q.page,
        page_size: Some(50),
        search: None,
        ordering: None,
    };
    let (rows, count) = list_audit(&mut ctx.tx, &params, &filter).await?;
    let staff = query::staff_names(&mut ctx.tx, ctx.school.id).await?;
    let entities = query::entities(&mut ctx.tx).await?;
    Ok(AuditPage {
        layout: ctx.layout("Audit log", "audit", &csrf),
        page: Page::new(rows, count, &params, &uri)?,
        staff,
        entities,
        user,
        entity: entity.unwrap_or_default(),
        date_from: q.date_from.unwrap_or_default(),
        date_to: q.date_to.unwrap_or_default(),
    }
    .into_response())
}

pub fn router() -> Router<AppState> {
    Router::new().route(
        "/audit",
        get(audit_page).layer(guard_exact(Action::View, "audit")),
    )
}
