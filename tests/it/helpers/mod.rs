//! Helpers: an app over a test database, one-line clients bound to a host and a credential,
//! and (in `fixtures`) the schools, classes and exams the tests share. Library internals
//! are reached only through `internals`.

pub mod fixtures;
pub mod internals;
pub mod proxy;
pub mod redis;

use axum::{
    Router,
    body::{Body, to_bytes},
    http::{HeaderMap, Method, Request, StatusCode, header},
};
use schoolyard::{AppState, config::Config};
use serde_json::{Value, json};
use sqlx::PgPool;
use tower::ServiceExt;

pub use internals::SchoolRow;

pub const PASSWORD: &str = "Correct-horse-battery-9";

pub struct TestApp {
    pub pool: PgPool,
    pub state: AppState,
    pub router: Router,
    pub config: Config,
}

pub struct Response {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Response {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The `Location` header, or "" without one.
    pub fn location(&self) -> String {
        self.headers
            .get(header::LOCATION)
            .map(|v| v.to_str().expect("ASCII location").to_owned())
            .unwrap_or_default()
    }
}

async fn send(router: &Router, req: Request<Body>) -> Response {
    let res = router
        .clone()
        .oneshot(req)
        .await
        .expect("infallible router");
    let status = res.status();
    let headers = res.headers().clone();
    let body = to_bytes(res.into_body(), 16 * 1024 * 1024)
        .await
        .expect("body")
        .to_vec();
    Response {
        status,
        headers,
        body,
    }
}

/// A JSON API client bound to one host and (optionally) one Bearer token:
/// `let admin = app.as_staff("alpha", "admin@alpha.test").await; admin.get("/api/v1/school/users/").await`.
/// Cheap to clone, and `'static`, so it can move into spawned tasks.
#[derive(Clone)]
pub struct Client {
    router: Router,
    host: String,
    token: Option<String>,
    headers: Vec<(String, String)>,
}

impl Client {
    /// The same client presenting `token` as its Bearer credential.
    pub fn token(&self, token: &str) -> Self {
        Self {
            token: Some(token.to_owned()),
            ..self.clone()
        }
    }

    /// The same client sending one more header on every request.
    pub fn header(&self, name: &str, value: &str) -> Self {
        let mut with = self.clone();
        with.headers.push((name.to_owned(), value.to_owned()));
        with
    }

    /// The same credential presented at another host.
    pub fn at(&self, host: &str) -> Self {
        Self {
            host: host.to_owned(),
            ..self.clone()
        }
    }

    pub async fn get(&self, path: &str) -> Response {
        self.request(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, json: Value) -> Response {
        self.request(Method::POST, path, Some(json)).await
    }

    /// A POST without a body (actions such as logout, generate, retry).
    pub async fn post_empty(&self, path: &str) -> Response {
        self.request(Method::POST, path, None).await
    }

    pub async fn put(&self, path: &str, json: Value) -> Response {
        self.request(Method::PUT, path, Some(json)).await
    }

    pub async fn patch(&self, path: &str, json: Value) -> Response {
        self.request(Method::PATCH, path, Some(json)).await
    }

    pub async fn delete(&self, path: &str) -> Response {
        self.request(Method::DELETE, path, None).await
    }

    /// Any method, with an optional JSON body (for tables of cases).
    pub async fn request(&self, method: Method, path: &str, json: Option<Value>) -> Response {
        match json {
            Some(body) => {
                self.raw(method, path, Some("application/json"), body.to_string())
                    .await
            }
            None => self.raw(method, path, None, Body::empty()).await,
        }
    }

    /// Any body with any content type (CSV, multipart, broken JSON).
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: impl Into<Body>,
    ) -> Response {
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, &self.host);
        if let Some(t) = &self.token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        for (k, v) in &self.headers {
            req = req.header(k, v);
        }
        if let Some(ct) = content_type {
            req = req.header(header::CONTENT_TYPE, ct);
        }
        send(&self.router, req.body(body.into()).expect("request")).await
    }
}

/// A cookie-keeping browser for one host, driving the HTML pages with forms. It keeps the
/// session cookie and, before signing in, the anonymous CSRF cookie.
pub struct Browser {
    router: Router,
    host: String,
    cookie: Option<String>,
    csrf_cookie: Option<String>,
}

impl Browser {
    /// The session cookie (`name=value`) this browser holds.
    pub fn cookie(&self) -> Option<String> {
        self.cookie.clone()
    }

    /// This browser presenting someone else's cookie.
    pub fn with_cookie(mut self, cookie: Option<String>) -> Self {
        self.cookie = cookie;
        self
    }

    pub async fn send(
        &mut self,
        method: Method,
        path: &str,
        form: Option<&[(&str, &str)]>,
        extra: &[(&str, &str)],
    ) -> Response {
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, &self.host);
        let jar: Vec<&str> = [&self.cookie, &self.csrf_cookie]
            .into_iter()
            .flatten()
            .map(String::as_str)
            .collect();
        if !jar.is_empty() {
            req = req.header(header::COOKIE, jar.join("; "));
        }
        for (k, v) in extra {
            req = req.header(*k, *v);
        }
        let req = match form {
            Some(f) => req
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(serde_urlencoded::to_string(f).expect("form"))),
            None => req.body(Body::empty()),
        }
        .expect("request");
        let res = send(&self.router, req).await;
        for set in res.headers.get_all(header::SET_COOKIE) {
            let set = set.to_str().expect("ASCII cookie");
            if set.starts_with("schoolyard_session=;") {
                // Removal after logout.
                self.cookie = None;
                continue;
            }
            assert!(set.contains("HttpOnly"), "{set}");
            assert!(
                !set.to_ascii_lowercase().contains("domain="),
                "host-only cookie: {set}"
            );
            let pair = set.split(';').next().map(str::to_owned);
            if set.contains("_csrf=") {
                assert!(set.contains("SameSite=Strict"), "{set}");
                self.csrf_cookie = pair;
            } else {
                assert!(set.contains("SameSite=Lax"), "{set}");
                self.cookie = pair;
            }
        }
        res
    }

    pub async fn get(&mut self, path: &str) -> Response {
        self.send(Method::GET, path, None, &[]).await
    }

    /// A GET as htmx sends it (the partial, not the whole page).
    pub async fn htmx_get(&mut self, path: &str) -> Response {
        self.send(Method::GET, path, None, &[("hx-request", "true")])
            .await
    }

    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Response {
        self.send(Method::POST, path, Some(form), &[]).await
    }

    /// The CSRF token of the page at `path`.
    pub async fn csrf(&mut self, path: &str) -> String {
        csrf_of(&self.get(path).await.text())
    }

    /// Posts a multipart upload of one file field (plain HTML forms put the CSRF token in
    /// the action URL).
    pub async fn upload(
        &mut self,
        path: &str,
        field: &str,
        filename: &str,
        bytes: &[u8],
    ) -> Response {
        let mut body = format!(
            "--XYZ\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{filename}\"\r\nContent-Type: text/csv\r\n\r\n"
        )
        .into_bytes();
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n--XYZ--\r\n");
        let req = Request::builder()
            .method(Method::POST)
            .uri(path)
            .header(header::HOST, &self.host)
            .header(header::COOKIE, self.cookie.clone().unwrap_or_default())
            .header(header::CONTENT_TYPE, "multipart/form-data; boundary=XYZ")
            .body(Body::from(body))
            .expect("request");
        send(&self.router, req).await
    }

    /// Fills the sign-in form; returns the form post's response.
    pub async fn login(&mut self, email: &str) -> Response {
        let token = self.csrf("/login").await;
        self.post(
            "/login",
            &[
                ("csrf_token", &token),
                ("email", email),
                ("password", PASSWORD),
                ("next", "/"),
            ],
        )
        .await
    }
}

/// The CSRF token in a page's form.
pub fn csrf_of(html: &str) -> String {
    let marker = "name=\"csrf_token\" value=\"";
    let start = html.find(marker).expect("csrf field") + marker.len();
    html[start..]
        .split('"')
        .next()
        .expect("csrf value")
        .to_owned()
}

/// Job workers running for a test; stopped when dropped.
pub struct Workers(tokio::task::JoinHandle<anyhow::Result<()>>);

impl Drop for Workers {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl TestApp {
    pub async fn new(pool: PgPool) -> Self {
        Self::with_config(pool, Config::for_tests("")).await
    }

    pub async fn with_config(pool: PgPool, config: Config) -> Self {
        internals::run_public_migrations(&pool).await;
        let state = AppState::build(config.clone(), pool.clone())
            .await
            .expect("app state");
        let router = schoolyard::router(state.clone());
        Self {
            pool,
            state,
            router,
            config,
        }
    }

    /// An anonymous client at any host (`"localhost"` is the platform).
    pub fn client(&self, host: &str) -> Client {
        Client {
            router: self.router.clone(),
            host: host.to_owned(),
            token: None,
            headers: Vec::new(),
        }
    }

    /// An anonymous client at school `code`'s host; add `.token(&t)` for a credential.
    pub fn school_client(&self, code: &str) -> Client {
        self.client(&host(code))
    }

    /// An anonymous client at the platform's host.
    pub fn platform_client(&self) -> Client {
        self.client("localhost")
    }

    /// A client signed in (through the API) as staff member `email` of school `code`.
    pub async fn as_staff(&self, code: &str, email: &str) -> Client {
        let token = self.school_token(code, email).await;
        self.school_client(code).token(&token)
    }

    /// A client signed in (through the API) as platform user `email`.
    pub async fn as_operator(&self, email: &str) -> Client {
        let token = self.platform_token(email).await;
        self.platform_client().token(&token)
    }

    /// A browser with no session at `host`.
    pub fn browser(&self, host: &str) -> Browser {
        Browser {
            router: self.router.clone(),
            host: host.to_owned(),
            cookie: None,
            csrf_cookie: None,
        }
    }

    /// A browser signed in through the form as staff member `email` of school `code`.
    pub async fn signed_in(&self, code: &str, email: &str) -> Browser {
        self.signed_in_at(&host(code), email).await
    }

    /// A browser signed in through the form as `email` at `host` (`"localhost"` for the
    /// platform console).
    pub async fn signed_in_at(&self, host: &str, email: &str) -> Browser {
        let mut b = self.browser(host);
        let res = b.login(email).await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "sign-in: {}", res.text());
        b
    }

    /// A transaction in school `code`'s schema, as a request gets.
    pub async fn school_tx(&self, code: &str) -> internals::Tx {
        let schema: String =
            sqlx::query_scalar("SELECT schema_name FROM public.clients WHERE code = $1")
                .bind(code)
                .fetch_one(&self.pool)
                .await
                .expect("school schema");
        internals::begin_school(&self.pool, &schema).await
    }

    /// Runs the background job workers against this test's database.
    pub fn start_workers(&self) -> Workers {
        Workers(internals::spawn_workers(self.state.db.clone()))
    }

    /// The job workers, their WhatsApp client talking to `api_base` (a test's fake).
    pub fn start_workers_with_whatsapp(&self, api_base: &str) -> Workers {
        let whatsapp = internals::WhatsAppConfig {
            api_base: api_base.to_owned(),
            ..internals::WhatsAppConfig::for_tests()
        };
        Workers(internals::spawn_workers_with(
            self.state.db.clone(),
            whatsapp,
        ))
    }

    pub async fn create_school(&self, code: &str) -> SchoolRow {
        internals::create_school(&self.pool, &self.config, code).await
    }

    /// A staff member of the school (by code) holding one built-in role.
    pub async fn create_staff(&self, code: &str, email: &str, role: &str) -> i64 {
        internals::create_user(&self.pool, email, "Test Staff", Some(code), Some(role)).await
    }

    pub async fn create_superadmin(&self, email: &str) -> i64 {
        internals::create_user(&self.pool, email, "Platform Operator", None, None).await
    }

    /// Logs in through the school API and returns the whole response JSON.
    pub async fn school_login(&self, code: &str, email: &str) -> Value {
        let res = self
            .school_client(code)
            .post(
                "/api/v1/school/auth/login",
                json!({"email": email, "password": PASSWORD}),
            )
            .await;
        assert_eq!(res.status, StatusCode::OK, "login failed: {}", res.text());
        res.json()
    }

    pub async fn school_token(&self, code: &str, email: &str) -> String {
        self.school_login(code, email).await["access"]
            .as_str()
            .expect("access token")
            .to_owned()
    }

    pub async fn platform_token(&self, email: &str) -> String {
        let res = self
            .platform_client()
            .post(
                "/api/v1/system/auth/login",
                json!({"email": email, "password": PASSWORD}),
            )
            .await;
        assert_eq!(res.status, StatusCode::OK, "login failed: {}", res.text());
        res.json()["access"].as_str().expect("access").to_owned()
    }
}

pub fn host(code: &str) -> String {
    format!("{code}.localhost")
}

/// Asserts the DESIGN §4 error shape and returns the body.
pub fn assert_error_shape(res: &Response, status: u16) -> Value {
    assert_eq!(res.status.as_u16(), status, "body: {}", res.text());
    let body = res.json();
    assert_eq!(body["status_code"], status, "body: {body}");
    assert!(body["code"].is_string(), "body: {body}");
    assert!(body["detail"].is_string(), "body: {body}");
    body
}

/// A PDF's page count and extracted text.
pub fn pdf_text(bytes: &[u8]) -> (usize, String) {
    let doc = lopdf::Document::load_mem(bytes).expect("a valid PDF");
    let pages: Vec<u32> = doc.get_pages().keys().copied().collect();
    let text = doc.extract_text(&pages).unwrap_or_default();
    (pages.len(), text)
}
