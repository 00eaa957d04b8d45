//! One-time messages shown on the next page ("School created."), kept in the session.

use axum::{
    body::{Body, to_bytes},
    extract::Request,
    http::{Method, header},
    middleware::Next,
    response::Response,
};
use tower_sessions::Session;

const KEY: &str = "flash";
const SLOT: &str = r#"<div id="messages" aria-live="polite"></div>"#;

#[derive(serde::Serialize, serde::Deserialize)]
struct Flash {
    kind: String,
    text: String,
}

/// Queues a success message for the next page.
pub async fn success(session: &Session, text: impl Into<String>) {
    let _ = session
        .insert(
            KEY,
            Flash {
                kind: "ok".into(),
                text: text.into(),
            },
        )
        .await;
}

/// Queues an error message for the next page.
pub async fn error(session: &Session, text: impl Into<String>) {
    let _ = session
        .insert(
            KEY,
            Flash {
                kind: "error".into(),
                text: text.into(),
            },
        )
        .await;
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Puts a queued message into the next full HTML page's message area.
pub async fn show(session: Session, req: Request, next: Next) -> Response {
    let is_page = req.method() == Method::GET && !super::htmx::is_htmx(req.headers());
    let response = next.run(req).await;
    let is_html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("text/html"));
    if !is_page || !is_html || !response.status().is_success() {
        return response;
    }
    let Ok(Some(flash)) = session.remove::<Flash>(KEY).await else {
        return response;
    };
    let (parts, body) = response.into_parts();
    let Ok(bytes) = to_bytes(body, 8 * 1024 * 1024).await else {
        return Response::from_parts(parts, Body::empty());
    };
    let html = String::from_utf8_lossy(&bytes).replacen(
        SLOT,
        &format!(
            r#"<div id="messages" aria-live="polite"><div class="alert {}" role="status">{}</div></div>"#,
            escape(&flash.kind),
            escape(&flash.text)
        ),
        1,
    );
    let mut parts = parts;
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(html))
}
