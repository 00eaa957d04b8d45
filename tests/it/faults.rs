//! Keeps working (issue 14): the database going away and coming back, hostile input.
//! Outages go through a TCP proxy the test cuts, never through the shared PostgreSQL.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use crate::helpers::{
    TestApp, assert_error_shape,
    proxy::{DbProxy, pool_through, upstream},
    redis::ThrowawayRedis,
};
use axum::http::StatusCode;
use futures::StreamExt;
use serde_json::json;
use sqlx::{PgPool, postgres::PgPoolOptions};

/// School alpha with its admin, signed in through the API.
async fn alpha_with_admin(app: &TestApp) -> crate::helpers::Client {
    app.create_school("alpha").await;
    app.create_staff("alpha", "admin@alpha.test", "School Admin")
        .await;
    app.as_staff("alpha", "admin@alpha.test").await
}

/// The database going away mid-service: requests get a quick, retryable 503 that says the
/// service is unavailable (not a 500, not "the school is being updated"), and once it is
/// back the same app serves again without a restart.
#[sqlx::test(migrations = false)]
async fn a_database_outage_is_a_retryable_503_and_recovers_by_itself(pool: PgPool) {
    let setup = TestApp::new(pool.clone()).await;
    setup.create_school("alpha").await;
    setup
        .create_staff("alpha", "admin@alpha.test", "School Admin")
        .await;
    let token = setup.school_token("alpha", "admin@alpha.test").await;

    let proxy = DbProxy::start(upstream(&pool)).await;
    let proxied = pool_through(&pool, &proxy, 4).await;
    let app = TestApp::with_config(proxied, setup.config.clone()).await;
    let client = app.school_client("alpha").token(&token);
    let res = client.get("/api/v1/school/subjects/").await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());

    proxy.cut();
    for _ in 0..3 {
        let res = client.get("/api/v1/school/subjects/").await;
        let body = assert_error_shape(&res, 503);
        assert_eq!(body["code"], "retry");
        assert!(
            body["detail"].as_str().unwrap().contains("unavailable"),
            "{body}"
        );
        assert!(res.headers.get("retry-after").is_some());
    }

    proxy.restore();
    let mut recovered = false;
    for _ in 0..20 {
        if client.get("/api/v1/school/subjects/").await.status == StatusCode::OK {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(recovered, "the app did not recover without a restart");
}

/// The tenant cache's LISTEN connection has a pool of its own: with one request connection
/// the app still serves.
#[sqlx::test(migrations = false)]
async fn one_database_connection_is_enough_to_serve(pool: PgPool) {
    let setup = TestApp::new(pool.clone()).await;
    setup.create_school("alpha").await;
    setup
        .create_staff("alpha", "admin@alpha.test", "School Admin")
        .await;
    let token = setup.school_token("alpha", "admin@alpha.test").await;
    let single = PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(2))
        .connect_with((*pool.connect_options()).clone())
        .await
        .unwrap();
    let app = TestApp::with_config(single, setup.config.clone()).await;
    // Give the listener time to take its connection.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let client = app.school_client("alpha").token(&token);
    for _ in 0..3 {
        let res = client.get("/api/v1/school/subjects/").await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    }
    let res = client
        .post(
            "/api/v1/school/subjects/",
            json!({"name": "Civic Education", "code": "CIV"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
}

/// A JSON body that arrives one byte every `gap`.
fn trickled(json: &str, gap: Duration) -> axum::body::Body {
    let bytes: Vec<u8> = json.as_bytes().to_vec();
    let stream = futures::stream::iter(bytes).then(move |b| async move {
        tokio::time::sleep(gap).await;
        Ok::<_, std::io::Error>(axum::body::Bytes::from(vec![b]))
    });
    axum::body::Body::from_stream(stream)
}

fn post_request(
    host: &str,
    token: &str,
    path: &str,
    body: axum::body::Body,
) -> axum::http::Request<axum::body::Body> {
    axum::http::Request::builder()
        .method("POST")
        .uri(path)
        .header("host", host)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(body)
        .unwrap()
}

/// Twenty clients trickling their bodies hold no database connection while they do: with
/// a pool of two, another school's request is still served, and the slow requests succeed
/// when their bodies are in.
#[sqlx::test(migrations = false)]
async fn slow_clients_do_not_hold_database_connections(pool: PgPool) {
    use tower::ServiceExt;
    let setup = TestApp::new(pool.clone()).await;
    for code in ["alpha", "beta"] {
        setup.create_school(code).await;
        setup
            .create_staff(code, &format!("admin@{code}.test"), "School Admin")
            .await;
    }
    let alpha = setup.school_token("alpha", "admin@alpha.test").await;
    let beta = setup.school_token("beta", "admin@beta.test").await;
    let small = PgPoolOptions::new()
        .max_connections(2)
        .acquire_timeout(Duration::from_secs(1))
        .connect_with((*pool.connect_options()).clone())
        .await
        .unwrap();
    let app = TestApp::with_config(small, setup.config.clone()).await;

    let slow: Vec<_> = (0..20)
        .map(|i| {
            let body = format!(r#"{{"name": "Subject {i:02}", "code": "S{i:02}"}}"#);
            let req = post_request(
                "alpha.localhost",
                &alpha,
                "/api/v1/school/subjects/",
                trickled(&body, Duration::from_millis(60)),
            );
            tokio::spawn(app.router.clone().oneshot(req))
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Meanwhile, beta is served.
    for _ in 0..3 {
        let res = app
            .school_client("beta")
            .token(&beta)
            .get("/api/v1/school/subjects/")
            .await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    }
    for task in slow {
        let res = task.await.unwrap().unwrap();
        assert_eq!(res.status(), StatusCode::CREATED);
    }
}

/// A client that stops sending its body gets a 408 in the error shape once the body-read
/// limit passes.
#[sqlx::test(migrations = false)]
async fn a_body_that_never_finishes_gets_a_408(pool: PgPool) {
    use tower::ServiceExt;
    let mut config = schoolyard::config::Config::for_tests("");
    config.body_read_timeout = Duration::from_millis(500);
    let app = TestApp::with_config(pool, config).await;
    app.create_school("alpha").await;
    app.create_staff("alpha", "admin@alpha.test", "School Admin")
        .await;
    let token = app.school_token("alpha", "admin@alpha.test").await;
    let never = axum::body::Body::from_stream(futures::stream::pending::<
        Result<axum::body::Bytes, std::io::Error>,
    >());
    let res = app
        .router
        .clone()
        .oneshot(post_request(
            "alpha.localhost",
            &token,
            "/api/v1/school/subjects/",
            never,
        ))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::REQUEST_TIMEOUT);
    let bytes = axum::body::to_bytes(res.into_body(), 10_000).await.unwrap();
    let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(body["code"], "request_timeout");
}

/// A NUL character anywhere in text (JSON at any depth, a form, a query string, the login)
/// is a 422 naming the field, never a 500.
#[sqlx::test(migrations = false)]
async fn a_nul_character_is_a_422_naming_the_field(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let admin = alpha_with_admin(&app).await;
    let field_of = |res: &crate::helpers::Response| {
        let body = assert_error_shape(res, 422);
        body["errors"]
            .as_object()
            .unwrap()
            .keys()
            .next()
            .unwrap()
            .clone()
    };
    let res = admin
        .post(
            "/api/v1/school/admissions/",
            json!({"first_name": "Ada\u{0}", "last_name": "Obi", "sex": "female"}),
        )
        .await;
    assert_eq!(field_of(&res), "first_name");
    let res = admin
        .post(
            "/api/v1/school/admissions/",
            json!({"first_name": "Ada", "last_name": "Obi", "sex": "female",
                   "guardians": [{"full_name": "Ngozi\u{0}Obi"}]}),
        )
        .await;
    assert_eq!(field_of(&res), "guardians[0].full_name");
    let res = admin.get("/api/v1/school/admissions/?search=a%00b").await;
    assert_eq!(field_of(&res), "search");
    let res = app
        .school_client("alpha")
        .post(
            "/api/v1/school/auth/login",
            json!({"email": "admin@alpha.test\u{0}", "password": "x"}),
        )
        .await;
    assert_eq!(field_of(&res), "email");
    // The sign-in form too: the page comes back with a 422, not a 500.
    let mut browser = app.browser("alpha.localhost");
    let csrf = browser.csrf("/login").await;
    let res = browser
        .post(
            "/login",
            &[
                ("csrf_token", &csrf),
                ("email", "admin@alpha.test\u{0}"),
                ("password", "x"),
            ],
        )
        .await;
    assert_eq!(
        res.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        res.text()
    );
    // Nothing was written.
    let count = admin.get("/api/v1/school/admissions/").await.json()["count"].clone();
    assert_eq!(count, 0);
}

/// Over-long addresses get the JSON error shape (414).
#[sqlx::test(migrations = false)]
async fn an_over_long_address_is_a_414_in_the_error_shape(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.create_school("alpha").await;
    let long = format!("/api/v1/school/admissions/?search={}", "a".repeat(10_000));
    let body = assert_error_shape(&app.school_client("alpha").get(&long).await, 414);
    assert_eq!(body["code"], "uri_too_long");
}

/// The admission-number pattern's running number is at most 9 digits wide: a wider one is
/// refused with a clear message, and admissions keep working.
#[sqlx::test(migrations = false)]
async fn an_absurdly_wide_admission_number_is_refused(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let admin = alpha_with_admin(&app).await;
    for pattern in [
        "ADM/{SEQ:99999999}",
        "ADM/{SEQ:0}",
        "ADM/{SEQ:x}",
        "ADM/{SEQ",
    ] {
        let res = admin
            .patch(
                "/api/v1/school/settings/",
                json!({"admission_number_pattern": pattern}),
            )
            .await;
        let body = assert_error_shape(&res, 422);
        assert!(
            body["errors"]["admission_number_pattern"].is_array(),
            "{pattern}: {body}"
        );
    }
    let res = admin
        .patch(
            "/api/v1/school/settings/",
            json!({"admission_number_pattern": "ADM/{SEQ:9}"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let res = admin
        .post(
            "/api/v1/school/admissions/",
            json!({"first_name": "Ada", "last_name": "Obi", "sex": "female"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    assert_eq!(res.json()["admission_no"], "ADM/000000001");
}

/// A photo over 2 MB gets the friendly message; one over the upload limit a 413 that says
/// the limit, in the error shape (and the whole body is read, so a browser sees the answer
/// rather than a reset connection).
#[sqlx::test(migrations = false)]
async fn oversized_photos_get_a_clear_answer(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let admin = alpha_with_admin(&app).await;
    let res = admin
        .post(
            "/api/v1/school/admissions/",
            json!({"first_name": "Ada", "last_name": "Obi", "sex": "female"}),
        )
        .await;
    let id = res.json()["id"].as_i64().unwrap();
    let multipart = |size: usize| {
        let mut body = b"--XYZ\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"p.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n".to_vec();
        body.extend_from_slice(&[0xFF, 0xD8, 0xFF]);
        body.resize(body.len() + size, 0x42);
        body.extend_from_slice(b"\r\n--XYZ--\r\n");
        body
    };
    let path = format!("/api/v1/school/admissions/{id}/photo/");
    let res = admin
        .raw(
            axum::http::Method::PUT,
            &path,
            Some("multipart/form-data; boundary=XYZ"),
            multipart(3 * 1024 * 1024),
        )
        .await;
    let body = assert_error_shape(&res, 422);
    assert!(
        body["errors"]["photo"][0]
            .as_str()
            .unwrap()
            .contains("2 MB"),
        "{body}"
    );
    let res = admin
        .raw(
            axum::http::Method::PUT,
            &path,
            Some("multipart/form-data; boundary=XYZ"),
            multipart(12 * 1024 * 1024),
        )
        .await;
    let body = assert_error_shape(&res, 413);
    assert!(body["detail"].as_str().unwrap().contains("2 MB"), "{body}");
}

/// Redis going away: signed-in pages answer a 503 page (no hang, no sign-out), anonymous
/// pages keep working and never write a session, `/readyz` says so; when Redis is back the
/// app reconnects by itself.
#[sqlx::test(migrations = false)]
async fn a_redis_outage_is_a_503_for_signed_in_pages_and_recovers_by_itself(pool: PgPool) {
    let port = ThrowawayRedis::free_port();
    let mut redis = ThrowawayRedis::start_on(port).await;
    let mut config = schoolyard::config::Config::for_tests("");
    config.redis_url = Some(format!("redis://127.0.0.1:{port}"));
    let app = TestApp::with_config(pool, config).await;
    app.create_school("alpha").await;
    app.create_staff("alpha", "admin@alpha.test", "School Admin")
        .await;
    let mut staff = app.signed_in("alpha", "admin@alpha.test").await;
    assert_eq!(staff.get("/").await.status, StatusCode::OK);
    assert_eq!(redis.keys(), 1, "one session: the signed-in one");

    // Anonymous pages write no session.
    let mut visitor = app.browser("alpha.localhost");
    for _ in 0..3 {
        let res = visitor.get("/login").await;
        assert_eq!(res.status, StatusCode::OK);
    }
    let csrf = visitor.csrf("/login").await;
    let res = visitor
        .post(
            "/login",
            &[
                ("csrf_token", &csrf),
                ("email", "admin@alpha.test"),
                ("password", "wrong-password"),
            ],
        )
        .await;
    assert!(res.status.is_client_error(), "{}", res.status);
    assert_eq!(redis.keys(), 1, "anonymous views wrote sessions");

    redis.stop();
    let res = staff.get("/").await;
    assert_eq!(
        res.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        res.text()
    );
    assert!(
        res.text().contains("unavailable for a moment"),
        "{}",
        res.text()
    );
    let res = app.browser("alpha.localhost").get("/login").await;
    assert_eq!(
        res.status,
        StatusCode::OK,
        "the sign-in page needs no Redis"
    );
    let ready = app.platform_client().get("/readyz").await;
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(ready.json()["redis"], "unavailable");

    let _redis = ThrowawayRedis::start_on(port).await;
    let mut back = false;
    for _ in 0..50 {
        if app.platform_client().get("/readyz").await.status == StatusCode::OK {
            back = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(back, "the app did not reconnect to Redis");
    // (This Redis kept nothing, so signing in again is needed, and works.)
    let mut again = app.browser("alpha.localhost");
    assert_eq!(
        again.login("admin@alpha.test").await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(again.get("/").await.status, StatusCode::OK);
}

/// A report batch left queued while its school was disabled is set aside with the reason,
/// and once the school is enabled again it is retried at once (no stall timeout) and prints.
#[sqlx::test(migrations = false)]
async fn a_batch_queued_while_its_school_was_disabled_can_be_retried_at_once(pool: PgPool) {
    use crate::helpers::fixtures::{class_with_exams, save_marks, scores, wait_for_batch};
    let app = TestApp::new(pool).await;
    let f = class_with_exams(&app, "alpha", &["Ada", "Bola"]).await;
    for registration in f.pupils.values() {
        let row = json!([{"registration": registration, "scores": scores(10.0, 10.0, 50.0)}]);
        assert_eq!(
            save_marks(&f.admin, f.exams["Mathematics"], row)
                .await
                .status,
            StatusCode::OK
        );
    }
    let res = f
        .admin
        .post(
            &format!(
                "/api/v1/school/exam-sessions/{}/report-batches/",
                f.exam_session
            ),
            json!({"academic_class_id": f.class_id}),
        )
        .await;
    assert_eq!(res.status, StatusCode::ACCEPTED, "{}", res.text());
    let id = res.json()["id"].as_str().unwrap().to_owned();

    app.create_superadmin("ops@platform.test").await;
    let ops = app.as_operator("ops@platform.test").await;
    let school: i64 = sqlx::query_scalar("SELECT id FROM public.clients WHERE code = 'alpha'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let set_active = |on: bool| {
        let ops = ops.clone();
        async move {
            let res = ops
                .patch(
                    &format!("/api/v1/system/schools/{school}/"),
                    json!({"is_active": on}),
                )
                .await;
            assert_eq!(res.status, StatusCode::OK, "{}", res.text());
        }
    };
    set_active(false).await;
    let workers = app.start_workers();
    let mut reason = String::new();
    for _ in 0..100 {
        let mut tx = app.school_tx("alpha").await;
        let (status, error): (String, Option<String>) =
            sqlx::query_as("SELECT status, error FROM report_batches WHERE id = $1::uuid")
                .bind(&id)
                .fetch_one(&mut *tx)
                .await
                .unwrap();
        if status == "failed" {
            reason = error.unwrap_or_default();
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(reason.contains("disabled"), "{reason:?}");

    set_active(true).await;
    let res = f
        .admin
        .post_empty(&format!("/api/v1/school/report-batches/{id}/retry/"))
        .await;
    assert!(res.status.is_success(), "{}", res.text());
    let done = wait_for_batch(&f.admin, &id).await;
    assert_eq!(done["status"], "done", "{done}");
    drop(workers);
}

/// Log lines written while a test runs (this thread's subscriber).
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// At the default level each request is one line with its method, path, request id, school,
/// status and duration; a refused upload is logged with its reason.
#[sqlx::test(migrations = false)]
async fn each_request_is_one_log_line_and_refusals_say_why(pool: PgPool) {
    let logs = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(logs.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let app = TestApp::new(pool).await;
    let admin = alpha_with_admin(&app).await;
    // Other tests running at once register the same callsites without a subscriber; after
    // one warm-up request, make sure this thread's subscriber is asked again.
    admin.get("/api/v1/school/subjects/").await;
    tracing::callsite::rebuild_interest_cache();
    let res = admin
        .header("x-request-id", "req-logged-1")
        .get("/api/v1/school/subjects/")
        .await;
    assert_eq!(res.status, StatusCode::OK);
    let res = admin
        .raw(
            axum::http::Method::POST,
            "/api/v1/school/subjects/",
            Some("text/plain"),
            "hello",
        )
        .await;
    assert_eq!(res.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);

    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    let line = text
        .lines()
        .find(|l| l.contains("req-logged-1") && l.contains("served"))
        .unwrap_or_else(|| panic!("no request line in:\n{text}"));
    for part in [
        "method=GET",
        "path=/api/v1/school/subjects/",
        "school=alpha",
        "status=200",
        "ms=",
    ] {
        assert!(line.contains(part), "{part} missing from {line}");
    }
    assert!(
        text.lines()
            .any(|l| l.contains("request refused") && l.contains("status=415")),
        "{text}"
    );
}

/// Deleting a school with the wrong code gives the school's page again with the reason on
/// the confirmation field (not an error page), and deletes nothing.
#[sqlx::test(migrations = false)]
async fn deleting_a_school_with_a_wrong_code_re_renders_the_form(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let school = app.create_school("alpha").await;
    app.create_superadmin("ops@platform.test").await;
    let mut console = app.signed_in_at("localhost", "ops@platform.test").await;
    let page = console.get(&format!("/schools/{}", school.id)).await.text();
    let csrf = crate::helpers::csrf_of(&page);
    let res = console
        .post(
            &format!("/schools/{}/delete", school.id),
            &[("csrf_token", &csrf), ("confirm", "alpah")],
        )
        .await;
    assert_eq!(
        res.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        res.text()
    );
    let html = res.text();
    assert!(
        html.contains("Delete school") && html.contains("id=\"confirm-error\""),
        "{html}"
    );
    assert!(html.contains("Type its code to confirm"), "{html}");
    let still: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM public.clients WHERE code = 'alpha')")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(still);
}

/// The value of hidden field `name` in a page.
fn hidden_value(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {html}"))
        + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

/// A create form sent twice (a double tap, a resend on a slow connection) creates one record:
/// the repeat goes where the first went. A form with errors can be corrected and sent.
#[sqlx::test(migrations = false)]
async fn a_create_form_sent_twice_creates_one_record(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.create_school("alpha").await;
    app.create_staff("alpha", "admin@alpha.test", "School Admin")
        .await;
    let mut browser = app.signed_in("alpha", "admin@alpha.test").await;
    let page = browser.get("/students/new").await.text();
    let (csrf, key) = (
        crate::helpers::csrf_of(&page),
        hidden_value(&page, "form_key"),
    );
    let form = [
        ("csrf_token", csrf.as_str()),
        ("form_key", key.as_str()),
        ("first_name", "Ada"),
        ("last_name", "Obi"),
        ("sex", "female"),
    ];
    let mut once = app.browser("alpha.localhost").with_cookie(browser.cookie());
    let (first, second) = tokio::join!(once.post("/students", &form), async {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let mut again = app.browser("alpha.localhost").with_cookie(browser.cookie());
        again.post("/students", &form).await
    });
    assert_eq!(first.status, StatusCode::SEE_OTHER, "{}", first.text());
    assert_eq!(second.status, StatusCode::SEE_OTHER, "{}", second.text());
    assert_eq!(first.location(), second.location());
    let mut tx = app.school_tx("alpha").await;
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM students")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(n, 1, "the repeat created a second pupil");
    drop(tx);

    // A form with a mistake is not remembered: corrected, the same form goes through.
    let page = browser.get("/students/new").await.text();
    let key = hidden_value(&page, "form_key");
    let csrf = crate::helpers::csrf_of(&page);
    let res = browser
        .post(
            "/students",
            &[
                ("csrf_token", &csrf),
                ("form_key", &key),
                ("first_name", ""),
                ("last_name", "Eze"),
                ("sex", "male"),
            ],
        )
        .await;
    assert_eq!(
        res.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        res.text()
    );
    let res = browser
        .post(
            "/students",
            &[
                ("csrf_token", &csrf),
                ("form_key", &key),
                ("first_name", "Chi"),
                ("last_name", "Eze"),
                ("sex", "male"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text());
}

/// The console's set-up progress moves when the school adds staff and pupils, not only when
/// an operator ticks the steps.
#[sqlx::test(migrations = false)]
async fn set_up_progress_follows_the_school_adding_staff_and_pupils(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.create_superadmin("ops@platform.test").await;
    let ops = app.as_operator("ops@platform.test").await;
    let res = ops
        .post(
            "/api/v1/system/schools/",
            json!({"name": "Harmony College", "code": "harmony", "admin_email": "head@harmony.test", "admin_password": crate::helpers::PASSWORD}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    let id = res.json()["id"].as_i64().unwrap();
    let step = |setup: &serde_json::Value, name: &str| {
        setup["steps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == name)
            .unwrap()["status"]
            .clone()
    };
    let setup = ops
        .get(&format!("/api/v1/system/schools/{id}/setup/"))
        .await
        .json();
    assert_eq!(
        (step(&setup, "staff"), step(&setup, "students")),
        (json!("pending"), json!("pending"))
    );

    let head = app.as_staff("harmony", "head@harmony.test").await;
    let teacher = crate::helpers::fixtures::role_id(&head, "Teacher").await;
    let res = head
        .post("/api/v1/school/users/", json!({"email": "t@harmony.test", "full_name": "Tola Ade", "password": "a-long-fresh-passphrase-7", "roles": [teacher]}))
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    let res = head
        .post(
            "/api/v1/school/admissions/",
            json!({"first_name": "Ada", "last_name": "Obi", "sex": "female"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());

    let setup = ops
        .get(&format!("/api/v1/system/schools/{id}/setup/"))
        .await
        .json();
    assert_eq!(
        (step(&setup, "staff"), step(&setup, "students")),
        (json!("done"), json!("done")),
        "{setup}"
    );
    assert_eq!(setup["setup_progress"], "in_progress");
}
