//! Helpers: an app over a test database, schools and users in one line, JSON requests
//! with a Host header.

use axum::{
    Router,
    body::{Body, to_bytes},
    http::{HeaderMap, Method, Request, StatusCode, header},
};
use schoolyard::{
    AppState,
    config::Config,
    migrate,
    tenancy::schools::{CreateSchool, SchoolOut},
};
use serde_json::Value;
use sqlx::PgPool;
use tower::ServiceExt;

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
}

/// Job workers running for a test; stopped when dropped.
pub struct Workers(tokio::task::JoinHandle<anyhow::Result<()>>);

impl Drop for Workers {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl TestApp {
    /// A transaction in school `code`'s schema, as a request gets.
    pub async fn school_tx(&self, code: &str) -> sqlx::Transaction<'static, sqlx::Postgres> {
        let schema: String =
            sqlx::query_scalar("SELECT schema_name FROM public.clients WHERE code = $1")
                .bind(code)
                .fetch_one(&self.pool)
                .await
                .expect("school schema");
        schoolyard::db::begin_school(&self.pool, &schema)
            .await
            .expect("school transaction")
    }

    /// Runs the background job workers against this test's database.
    pub fn start_workers(&self) -> Workers {
        Workers(tokio::spawn(schoolyard::workers::run(
            self.pool.clone(),
            2,
            std::future::pending(),
        )))
    }

    pub async fn new(pool: PgPool) -> Self {
        Self::with_config(pool, Config::for_tests("")).await
    }

    pub async fn with_config(pool: PgPool, config: Config) -> Self {
        migrate::run_public(&pool).await.expect("public migrations");
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

    pub async fn send(&self, req: Request<Body>) -> Response {
        let res = self
            .router
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

    /// A JSON request at `host`, with an optional Bearer token.
    pub async fn call(
        &self,
        method: Method,
        host: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Response {
        self.call_with(method, host, path, token, body, &[]).await
    }

    pub async fn call_with(
        &self,
        method: Method,
        host: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        extra: &[(&str, &str)],
    ) -> Response {
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, host);
        if let Some(t) = token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        for (k, v) in extra {
            req = req.header(*k, *v);
        }
        let req = match body {
            Some(b) => req
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(b.to_string())),
            None => req.body(Body::empty()),
        }
        .expect("request");
        self.send(req).await
    }

    pub async fn create_school(&self, code: &str) -> SchoolOut {
        schoolyard::provision::create_school_cli(
            &self.pool,
            &self.config,
            CreateSchool {
                name: format!("{} School", capitalise(code)),
                code: code.to_owned(),
                ..Default::default()
            },
        )
        .await
        .expect("create school")
    }

    /// A staff member of the school (by code) holding one built-in role.
    pub async fn create_staff(&self, code: &str, email: &str, role: &str) -> i64 {
        schoolyard::provision::create_user_cli(
            &self.pool,
            schoolyard::provision::UserSpec {
                email,
                password: PASSWORD,
                full_name: "Test Staff",
                superadmin: false,
                school_code: Some(code),
                role: Some(role),
            },
        )
        .await
        .expect("create staff")
        .id
    }

    pub async fn create_superadmin(&self, email: &str) -> i64 {
        schoolyard::provision::create_user_cli(
            &self.pool,
            schoolyard::provision::UserSpec {
                email,
                password: PASSWORD,
                full_name: "Platform Operator",
                superadmin: true,
                school_code: None,
                role: None,
            },
        )
        .await
        .expect("create superadmin")
        .id
    }

    /// Logs in through the school API and returns the whole response JSON.
    pub async fn school_login(&self, code: &str, email: &str) -> Value {
        let res = self
            .call(
                Method::POST,
                &host(code),
                "/api/v1/school/auth/login",
                None,
                Some(serde_json::json!({"email": email, "password": PASSWORD})),
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
            .call(
                Method::POST,
                "localhost",
                "/api/v1/system/auth/login",
                None,
                Some(serde_json::json!({"email": email, "password": PASSWORD})),
            )
            .await;
        assert_eq!(res.status, StatusCode::OK, "login failed: {}", res.text());
        res.json()["access"].as_str().expect("access").to_owned()
    }
}

pub fn host(code: &str) -> String {
    format!("{code}.localhost")
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
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
