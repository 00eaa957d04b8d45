//! Errors in the browser: the JSON error becomes an HTML page, an htmx message, or (for
//! 401) a redirect to the login page.

use askama::Template;
use askama_web::WebTemplate;
use axum::{
    extract::Request,
    http::{HeaderValue, Method, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Redirect, Response},
};

use axum_htmx::{HX_RESWAP, HX_RETARGET, HxRedirect};

use super::htmx::is_htmx;
use crate::error::RenderedError;

/// Request header of htmx elements that show refusals themselves (the mark grid's rows).
pub const INLINE_ERRORS: &str = "x-inline-errors";

#[derive(Template, WebTemplate)]
#[template(path = "pages/error.html")]
struct ErrorPage {
    brand: String,
    show_home: bool,
    status: u16,
    title: String,
    detail: String,
    css_url: String,
}

#[derive(Template)]
#[template(path = "partials/message.html")]
struct Message {
    kind: &'static str,
    text: String,
}

fn title_for(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "Bad request",
        401 => "Please sign in",
        403 => "Not allowed",
        404 => "Page not found",
        405 => "Not allowed here",
        409 => "Conflict",
        413 => "Too large",
        415 => "Unsupported format",
        422 => "Please check the form",
        429 => "Too many attempts",
        503 => "Try again shortly",
        _ => "Something went wrong",
    }
}

pub async fn render_html_errors(req: Request, next: Next) -> Response {
    // The JSON API keeps its error shape; nothing to do there.
    if req.uri().path().starts_with("/api/") {
        return next.run(req).await;
    }
    let path = req.uri().path().to_owned();
    let query = req.uri().query().map(str::to_owned);
    let is_get = req.method() == Method::GET;
    let htmx = is_htmx(req.headers());
    // The mark grid shows a refused save on its row, not in the page's message area.
    let inline_errors = req.headers().contains_key(INLINE_ERRORS);
    let response = next.run(req).await;
    let scope_brand = response
        .extensions()
        .get::<crate::tenancy::scope::SchoolRef>()
        .map(|s| s.name.to_string());
    if path.starts_with("/api/") || path.starts_with("/static/") {
        return response;
    }
    let Some(RenderedError {
        body,
        outside_a_school,
    }) = response.extensions().get::<RenderedError>().cloned()
    else {
        return response;
    };
    let status = response.status();
    // The mark grid keeps its typing and handles an ended sign-in itself: no redirect.
    if status == StatusCode::UNAUTHORIZED && inline_errors {
        return (
            status,
            [(header::CONTENT_TYPE, "application/json")],
            serde_json::to_string(&body).unwrap_or_default(),
        )
            .into_response();
    }
    if status == StatusCode::UNAUTHORIZED {
        let here = match &query {
            Some(q) => format!("{path}?{q}"),
            None => path.clone(),
        };
        let target = if is_get && path != "/login" {
            format!(
                "/login?{}",
                serde_urlencoded::to_string([("next", here.as_str())]).unwrap_or_default()
            )
        } else {
            "/login".to_owned()
        };
        if htmx {
            return (HxRedirect(target), StatusCode::NO_CONTENT).into_response();
        }
        return Redirect::to(&target).into_response();
    }
    if htmx {
        // Keep the page; show the message in the page's message area.
        let html = Message {
            kind: "error",
            text: body.detail.clone(),
        }
        .render()
        .unwrap_or_else(|_| body.detail.clone());
        let mut r = (status, axum::response::Html(html)).into_response();
        let h = r.headers_mut();
        if inline_errors {
            h.insert(HX_RESWAP, HeaderValue::from_static("none"));
        } else {
            // Shown where the user looks: the base template's htmx config swaps 4xx/5xx.
            h.insert(HX_RETARGET, HeaderValue::from_static("#messages"));
            h.insert(HX_RESWAP, HeaderValue::from_static("innerHTML"));
        }
        return r;
    }
    let mut detail = body.detail.clone();
    if !body.errors.is_empty() {
        let fields: Vec<String> = body
            .errors
            .iter()
            .map(|(f, msgs)| format!("{f}: {}", msgs.join(" ")))
            .collect();
        detail = format!("{detail} {}", fields.join("; "));
    }
    let brand = scope_brand.unwrap_or_else(|| "Schoolyard".to_owned());
    let page = ErrorPage {
        brand,
        // An unknown or disabled school has no start page to go to.
        show_home: !outside_a_school,
        status: status.as_u16(),
        title: title_for(status).to_owned(),
        detail,
        css_url: super::assets::url("app.css"),
    };
    let mut r = page.into_response();
    *r.status_mut() = status;
    if let Some(v) = response.headers().get("retry-after") {
        r.headers_mut().insert("retry-after", v.clone());
    }
    r
}
