//! The end-of-year wizard in the browser (`/promotions`): next classes → new session →
//! rules → preview with overrides → commit → summary, on one page that walks down the
//! steps. Every form goes through the same service (rules, audit) as the API.

use askama::Template;
use askama_web::WebTemplate;
use axum::{
    Router,
    http::HeaderMap,
    response::{IntoResponse, Response},
    routing::{get, post},
};
use axum_messages::Messages;
use chrono::NaiveDate;
use serde::Deserialize;

use super::{
    db::{self, NextClass, Rules},
    service::{self, Preview, Rollover},
};
use crate::{
    academics::db as academics,
    auth::csrf::CsrfToken,
    context::SchoolCtx,
    error::AppResult,
    http::{ApiQuery, Form},
    permissions::{access::guard_exact, catalogue::Action},
    state::AppState,
    web::kit::act,
};

#[derive(Debug, Deserialize)]
struct PageQuery {
    from_session: Option<i64>,
    to_session: Option<i64>,
}

/// The new-session form as sent (text, not yet dates). A refused form comes back to the page
/// with its fields in the query string (all but `from_session`, which the page's own query
/// carries), so nothing typed is lost.
#[derive(Debug, Default, Clone, Deserialize, serde::Serialize)]
struct NewSessionForm {
    #[serde(skip_serializing)]
    from_session: Option<i64>,
    name: Option<String>,
    starts_on: Option<String>,
    ends_on: Option<String>,
    t1_starts: Option<String>,
    t1_ends: Option<String>,
    t2_starts: Option<String>,
    t2_ends: Option<String>,
    t3_starts: Option<String>,
    t3_ends: Option<String>,
}

impl NewSessionForm {
    /// The value typed in `field`, or empty.
    fn value(&self, field: &str) -> &str {
        let v = match field {
            "name" => &self.name,
            "starts_on" => &self.starts_on,
            "ends_on" => &self.ends_on,
            "t1_starts" => &self.t1_starts,
            "t1_ends" => &self.t1_ends,
            "t2_starts" => &self.t2_starts,
            "t2_ends" => &self.t2_ends,
            "t3_starts" => &self.t3_starts,
            "t3_ends" => &self.t3_ends,
            _ => &None,
        };
        v.as_deref().unwrap_or_default()
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/promotions.html")]
struct PromotionsPage {
    layout: crate::web::layout::Layout,
    sessions: Vec<academics::AcademicSession>,
    from: Option<academics::AcademicSession>,
    to: Option<academics::AcademicSession>,
    next_classes: Vec<NextClass>,
    unconfirmed: usize,
    rules: Rules,
    subjects: Vec<academics::Subject>,
    preview: Option<Preview>,
    problem: Option<String>,
    can_change: bool,
    can_add: bool,
    draft: NewSessionForm,
}

impl PromotionsPage {
    fn is_required(&self, id: &i64) -> bool {
        self.rules
            .required_subjects
            .iter()
            .any(|s| s.subject_id == *id)
    }

    fn arms_after(&self, n: &NextClass) -> Vec<&NextClass> {
        self.next_classes
            .iter()
            .filter(|a| a.form_ordinal > n.form_ordinal)
            .collect()
    }

    fn outcome_text(&self, o: &Option<db::Outcome>) -> &'static str {
        outcome_label(o)
    }

    fn average_text(&self, a: &Option<f64>) -> String {
        average_label(a)
    }

    fn goes_to(&self, n: &NextClass, a: &NextClass) -> bool {
        n.confirmed && n.next_class_id == Some(a.class_id)
    }
}

fn outcome_label(o: &Option<db::Outcome>) -> &'static str {
    match o {
        Some(db::Outcome::Promote) => "Promote",
        Some(db::Outcome::Repeat) => "Repeat",
        Some(db::Outcome::Graduate) => "Graduate",
        Some(db::Outcome::Leave) => "Leave",
        None => "Undecided",
    }
}

fn average_label(a: &Option<f64>) -> String {
    a.map(|a| format!("{a:.2}")).unwrap_or_else(|| "—".into())
}

async fn page(
    mut ctx: SchoolCtx,
    CsrfToken(csrf): CsrfToken,
    ApiQuery(q): ApiQuery<PageQuery>,
    ApiQuery(draft): ApiQuery<NewSessionForm>,
) -> AppResult<Response> {
    let sessions = academics::sessions(&mut ctx.tx).await?;
    // Defaults: the current session, and the session that starts after it.
    let from = q
        .from_session
        .and_then(|id| sessions.iter().find(|s| s.id == id))
        .or_else(|| sessions.iter().find(|s| s.is_current))
        .cloned();
    let to = match &from {
        None => None,
        Some(f) => q
            .to_session
            .and_then(|id| sessions.iter().find(|s| s.id == id))
            .or_else(|| {
                sessions
                    .iter()
                    .filter(|s| s.starts_on > f.starts_on)
                    .min_by_key(|s| s.starts_on)
            })
            .cloned(),
    };
    let next_classes = db::next_classes(&mut ctx.tx).await?;
    let unconfirmed = next_classes.iter().filter(|n| !n.confirmed).count();
    let rules = db::rules(&mut ctx.tx).await?;
    let subjects = academics::subjects(&mut ctx.tx).await?;
    let (preview, problem) = match (&from, &to) {
        (Some(f), Some(t)) => {
            let r = Rollover {
                from_session: f.id,
                to_session: t.id,
            };
            match service::preview(&mut ctx, r).await {
                Ok(p) => (Some(p), None),
                Err(e) => (None, Some(crate::web::kit::message_of(&e))),
            }
        }
        _ => (None, None),
    };
    let can_change = ctx.perms.has("change_promotions");
    let can_add = ctx.perms.has("add_promotions");
    Ok(PromotionsPage {
        layout: ctx.layout("End of year", "promotions", &csrf),
        sessions,
        from,
        to,
        next_classes,
        unconfirmed,
        rules,
        subjects,
        preview,
        problem,
        can_change,
        can_add,
        draft,
    }
    .into_response())
}

#[derive(Debug, Deserialize)]
struct BackForm {
    from_session: Option<i64>,
    to_session: Option<i64>,
}

fn back(from: Option<i64>, to: Option<i64>) -> String {
    match (from, to) {
        (Some(f), Some(t)) => format!("/promotions?from_session={f}&to_session={t}"),
        _ => "/promotions".into(),
    }
}

/// Confirms the suggested next class of every arm not yet confirmed.
async fn accept_next_classes(
    ctx: SchoolCtx,
    messages: Messages,
    headers: HeaderMap,
    Form(f): Form<BackForm>,
) -> AppResult<Response> {
    act(
        ctx,
        &messages,
        &headers,
        &back(f.from_session, f.to_session),
        |n: &usize| format!("Next classes confirmed for {n} arm(s)."),
        async |ctx| {
            let list = db::next_classes(&mut ctx.tx).await?;
            let items: Vec<service::NextClassItem> = list
                .iter()
                .filter(|n| !n.confirmed)
                .filter(|n| n.suggested_final || n.suggested_next_class_id.is_some())
                .map(|n| service::NextClassItem {
                    class_id: n.class_id,
                    next_class_id: n.suggested_next_class_id.filter(|_| !n.suggested_final),
                    is_final: n.suggested_final,
                })
                .collect();
            let count = items.len();
            if count > 0 {
                service::set_next_classes(
                    ctx,
                    &service::NextClassesInput {
                        classes: Some(items),
                    },
                )
                .await?;
            }
            Ok(count)
        },
    )
    .await
}

#[derive(Debug, Deserialize)]
struct NextClassForm {
    from_session: Option<i64>,
    to_session: Option<i64>,
    class_id: i64,
    /// An arm id, `final`, or empty (unconfirmed).
    next: Option<String>,
}

async fn set_next_class(
    ctx: SchoolCtx,
    messages: Messages,
    headers: HeaderMap,
    Form(f): Form<NextClassForm>,
) -> AppResult<Response> {
    let next = f.next.unwrap_or_default();
    let item = service::NextClassItem {
        class_id: f.class_id,
        next_class_id: next.parse().ok(),
        is_final: next == "final",
    };
    act(
        ctx,
        &messages,
        &headers,
        &back(f.from_session, f.to_session),
        |_| "Next class saved.".to_owned(),
        async |ctx| {
            service::set_next_classes(
                ctx,
                &service::NextClassesInput {
                    classes: Some(vec![item]),
                },
            )
            .await
        },
    )
    .await
}

#[derive(Debug, Deserialize)]
struct RulesForm {
    from_session: Option<i64>,
    to_session: Option<i64>,
    pass_average: Option<String>,
    margin: Option<String>,
    #[serde(default)]
    required: Vec<i64>,
}

fn number(text: Option<&str>) -> Option<f64> {
    text.map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| t.replace(',', ".").parse::<f64>().unwrap_or(f64::NAN))
}

async fn save_rules(
    ctx: SchoolCtx,
    messages: Messages,
    headers: HeaderMap,
    Form(f): Form<RulesForm>,
) -> AppResult<Response> {
    let input = service::RulesInput {
        pass_average: number(f.pass_average.as_deref()),
        margin: number(f.margin.as_deref()),
        required_subject_ids: Some(f.required),
    };
    act(
        ctx,
        &messages,
        &headers,
        &back(f.from_session, f.to_session),
        |_| "Promotion rules saved.".to_owned(),
        async |ctx| service::save_rules(ctx, &input).await,
    )
    .await
}

fn date(text: &Option<String>) -> Option<NaiveDate> {
    text.as_deref()
        .and_then(|t| NaiveDate::parse_from_str(t.trim(), "%Y-%m-%d").ok())
}

async fn create_session(
    ctx: SchoolCtx,
    messages: Messages,
    headers: HeaderMap,
    Form(f): Form<NewSessionForm>,
) -> AppResult<Response> {
    let term = |s: &Option<String>, e: &Option<String>| service::TermDates {
        starts_on: date(s),
        ends_on: date(e),
        next_term_begins: None,
    };
    let input = service::NewSessionInput {
        from_session: f.from_session,
        name: f.name.clone(),
        starts_on: date(&f.starts_on),
        ends_on: date(&f.ends_on),
        terms: Some(vec![
            term(&f.t1_starts, &f.t1_ends),
            term(&f.t2_starts, &f.t2_ends),
            term(&f.t3_starts, &f.t3_ends),
        ]),
    };
    // Back to the page with what was typed: a refused form is shown again as it was sent.
    let again = format!(
        "/promotions?{}#new-session",
        serde_urlencoded::to_string(&f).unwrap_or_default()
    );
    act(
        ctx,
        &messages,
        &headers,
        &again,
        |n: &service::NewSession| {
            format!(
                "{} created with its three terms and {} classes copied. It is not current yet.",
                n.session.name,
                n.classes.len()
            )
        },
        async |ctx| service::new_session(ctx, &input).await,
    )
    .await
}

#[derive(Debug, Deserialize)]
struct DecisionForm {
    from_session: Option<i64>,
    to_session: Option<i64>,
    student_id: i64,
    outcome: Option<String>,
    class_id: Option<String>,
    reason: Option<String>,
}

async fn decide(
    ctx: SchoolCtx,
    messages: Messages,
    headers: HeaderMap,
    Form(f): Form<DecisionForm>,
) -> AppResult<Response> {
    let input = service::DecisionsInput {
        from_session: f.from_session,
        to_session: f.to_session,
        decisions: Some(vec![service::DecisionItem {
            student_id: f.student_id,
            outcome: f.outcome.clone(),
            class_id: f.class_id.as_deref().and_then(|c| c.parse().ok()),
            reason: f.reason.clone(),
        }]),
    };
    act(
        ctx,
        &messages,
        &headers,
        &back(f.from_session, f.to_session),
        |_| "Decision saved.".to_owned(),
        async |ctx| service::decide(ctx, &input).await,
    )
    .await
}

async fn commit(
    ctx: SchoolCtx,
    messages: Messages,
    headers: HeaderMap,
    Form(f): Form<BackForm>,
) -> AppResult<Response> {
    let input = service::CommitInput {
        from_session: f.from_session,
        to_session: f.to_session,
    };
    act(
        ctx,
        &messages,
        &headers,
        &back(f.from_session, f.to_session),
        |c: &service::CommitResult| {
            format!(
                "Committed: {} pupils = {} promoted + {} repeating + {} graduated + {} left ({} changed now). {} becomes current when you make it current on the Academics page.",
                c.before, c.promoted, c.repeating, c.graduated, c.left, c.changed, c.to_session.name
            )
        },
        async |ctx| service::commit(ctx, &input).await,
    )
    .await
}

pub fn router() -> Router<AppState> {
    let view = guard_exact(Action::View, "promotions");
    let add = guard_exact(Action::Add, "promotions");
    let change = guard_exact(Action::Change, "promotions");
    Router::new()
        .route("/promotions", get(page).layer(view))
        .route(
            "/promotions/next-classes/accept",
            post(accept_next_classes).layer(change),
        )
        .route(
            "/promotions/next-classes",
            post(set_next_class).layer(change),
        )
        .route("/promotions/rules", post(save_rules).layer(change))
        .route("/promotions/new-session", post(create_session).layer(add))
        .route("/promotions/decide", post(decide).layer(change))
        .route("/promotions/commit", post(commit).layer(add))
}
