//! Trust (issue 13): who may see parents' details, retry a whole-school print, run the
//! guided set-up; tokens and secrets.

use axum::http::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::{
    Client, PASSWORD, TestApp, assert_error_shape,
    fixtures::{class_with_exams, save_marks, scores, staff_with},
};

#[sqlx::test(migrations = false)]
async fn parents_details_are_shown_only_to_staff_allowed_to_see_guardians(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.create_school("alpha").await;
    app.create_staff("alpha", "admin@alpha.test", "School Admin")
        .await;
    let admin = app.as_staff("alpha", "admin@alpha.test").await;
    let res = admin
        .post(
            "/api/v1/school/admissions/",
            json!({"first_name": "Ada", "last_name": "Obi", "sex": "female",
                   "guardians": [{"full_name": "Ngozi Obi", "phone": "08031234567", "email": "ngozi@example.com"}]}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    let id = res.json()["id"].as_i64().unwrap();
    let reader = staff_with(&app, &admin, "reader@alpha.test", &["view_students"]).await;

    // The full record: no guardians for the reader, all of them for the admin.
    let record = format!("/api/v1/school/admissions/{id}/record/");
    let theirs = reader.get(&record).await;
    assert_eq!(theirs.status, StatusCode::OK, "{}", theirs.text());
    assert_eq!(theirs.json()["guardians"], Value::Null);
    assert!(!theirs.text().contains("Ngozi"));
    assert_eq!(
        admin.get(&record).await.json()["guardians"][0]["full_name"],
        "Ngozi Obi"
    );
    // The profile page and the record download in the browser, likewise.
    let mut page = app.signed_in("alpha", "reader@alpha.test").await;
    for path in [
        format!("/students/{id}"),
        format!("/students/{id}/record.json"),
    ] {
        let res = page.get(&path).await;
        assert_eq!(res.status, StatusCode::OK, "{path}");
        let text = res.text();
        assert!(
            !text.contains("Ngozi") && !text.contains("2348031234567"),
            "{path}: {text}"
        );
    }
    let mut page = app.signed_in("alpha", "admin@alpha.test").await;
    assert!(
        page.get(&format!("/students/{id}"))
            .await
            .text()
            .contains("Ngozi Obi")
    );

    // Admitting with a guardian needs permission to add guardians.
    let admitter = staff_with(
        &app,
        &admin,
        "admitter@alpha.test",
        &["view_students", "add_students"],
    )
    .await;
    let res = admitter
        .post(
            "/api/v1/school/admissions/",
            json!({"first_name": "Bola", "last_name": "Ade", "sex": "male",
                   "guardians": [{"full_name": "Kemi Ade", "phone": "08030000000"}]}),
        )
        .await;
    assert_error_shape(&res, 403);
    let res = admitter
        .post(
            "/api/v1/school/admissions/",
            json!({"first_name": "Bola", "last_name": "Ade", "sex": "male"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
}

#[sqlx::test(migrations = false)]
async fn retrying_a_whole_school_print_needs_what_starting_one_needs(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let f = class_with_exams(&app, "alpha", &["Ada"]).await;
    let res = save_marks(
        &f.admin,
        f.exams["Mathematics"],
        json!([{"registration": f.pupils["Ada"], "scores": scores(10.0, 10.0, 40.0)}]),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK);
    let res = f
        .admin
        .post(
            &format!(
                "/api/v1/school/exam-sessions/{}/report-batches/",
                f.exam_session
            ),
            json!({}),
        )
        .await;
    assert_eq!(res.status, StatusCode::ACCEPTED, "{}", res.text());
    let id = res.json()["id"].as_str().unwrap().to_owned();
    let mut tx = app.school_tx("alpha").await;
    sqlx::query("UPDATE report_batches SET status = 'failed', error = 'x' WHERE id = $1::uuid")
        .bind(&id)
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    // A teacher (view_results, not change_results) may not start it, nor retry it.
    app.create_staff("alpha", "teacher@alpha.test", "Teacher")
        .await;
    let teacher = app.as_staff("alpha", "teacher@alpha.test").await;
    let res = teacher
        .post_empty(&format!("/api/v1/school/report-batches/{id}/retry/"))
        .await;
    assert_error_shape(&res, 403);
    let status = f
        .admin
        .get(&format!("/api/v1/school/report-batches/{id}/"))
        .await
        .json();
    assert_eq!(status["status"], "failed", "the refusal changed nothing");
    let res = f
        .admin
        .post_empty(&format!("/api/v1/school/report-batches/{id}/retry/"))
        .await;
    assert_eq!(res.status, StatusCode::ACCEPTED, "{}", res.text());
}

#[sqlx::test(migrations = false)]
async fn the_guided_set_up_needs_the_permissions_of_what_it_creates(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.create_school("alpha").await;
    app.create_staff("alpha", "admin@alpha.test", "School Admin")
        .await;
    let admin = app.as_staff("alpha", "admin@alpha.test").await;
    staff_with(
        &app,
        &admin,
        "sessions@alpha.test",
        &["view_sessions", "add_sessions"],
    )
    .await;
    let mut page = app.signed_in("alpha", "sessions@alpha.test").await;
    let html = page.get("/setup").await.text();
    let csrf = crate::helpers::csrf_of(&html);
    let res = page
        .post(
            "/setup",
            &[
                ("csrf_token", csrf.as_str()),
                ("session_name", "2026/2027"),
                ("forms", "JSS 1"),
                ("arms", "A"),
                ("subjects", "Mathematics"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.text());
    assert!(res.text().contains("add_subjects"), "{}", res.text());
    let sessions: i64 = {
        let mut tx = app.school_tx("alpha").await;
        sqlx::query_scalar("SELECT count(*) FROM academic_sessions")
            .fetch_one(&mut *tx)
            .await
            .unwrap()
    };
    assert_eq!(sessions, 0, "nothing was created");
}

/// `serve` and `worker` refuse the development JWT secret unless on a development machine.
#[test]
fn serve_and_worker_refuse_the_development_jwt_secret() {
    for command in [&["serve", "--bind", "127.0.0.1:0"][..], &["worker"][..]] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_schoolyard"))
            .args(command)
            .env_remove("JWT_SECRET")
            .env_remove("SCHOOLYARD_DEV")
            .env("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none")
            .output()
            .unwrap();
        assert!(!out.status.success(), "{command:?} started");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("JWT_SECRET is not set"), "{command:?}: {err}");
    }
}

/// A token whose `nbf` (not before) is in the future is refused, even well signed.
#[sqlx::test(migrations = false)]
async fn a_token_not_valid_yet_is_refused(pool: PgPool) {
    use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
    let app = TestApp::new(pool).await;
    app.create_school("alpha").await;
    app.create_staff("alpha", "admin@alpha.test", "School Admin")
        .await;
    let login = app.school_login("alpha", "admin@alpha.test").await;
    let token = login["access"].as_str().unwrap();
    let secret = schoolyard::config::Config::for_tests("").jwt_secret;
    let mut validation = Validation::new(Algorithm::HS256);
    validation.validate_aud = false;
    let mut claims: Value = jsonwebtoken::decode(
        token,
        &DecodingKey::from_secret(secret.as_bytes()),
        &validation,
    )
    .unwrap()
    .claims;
    let client = app.school_client("alpha");
    // The same claims re-signed are accepted; with nbf an hour ahead, refused.
    let resign = |claims: &Value| {
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            claims,
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap()
    };
    let res = client
        .token(&resign(&claims))
        .get("/api/v1/school/auth/me")
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    claims["nbf"] = json!(chrono::Utc::now().timestamp() + 3600);
    let res = client
        .token(&resign(&claims))
        .get("/api/v1/school/auth/me")
        .await;
    assert_error_shape(&res, 401);
}

/// A form post from another site is refused even with a valid token (the browser's
/// `Origin` or `Sec-Fetch-Site` says where it came from); another school's host counts as
/// another site.
#[sqlx::test(migrations = false)]
async fn cross_site_form_posts_are_refused_even_with_the_token(pool: PgPool) {
    use axum::http::Method;
    let app = TestApp::new(pool).await;
    app.create_school("alpha").await;
    app.create_school("beta").await;
    app.create_staff("alpha", "admin@alpha.test", "School Admin")
        .await;
    let mut page = app.signed_in("alpha", "admin@alpha.test").await;
    let csrf = page.csrf("/academics").await;
    let form: &[(&str, &str)] = &[("csrf_token", &csrf), ("name", "Civic Education")];
    let host = crate::helpers::host("alpha");
    let beta = crate::helpers::host("beta");
    for headers in [
        vec![("origin", "https://evil.example")],
        vec![("origin", "null")],
        vec![("origin", &*format!("http://{beta}"))],
        vec![("sec-fetch-site", "cross-site")],
        vec![("sec-fetch-site", "same-site")],
    ] {
        let res = page
            .send(Method::POST, "/academics/subjects", Some(form), &headers)
            .await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{headers:?}");
    }
    let mut tx = app.school_tx("alpha").await;
    let made: i64 = sqlx::query_scalar("SELECT count(*) FROM subjects")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    drop(tx);
    assert_eq!(made, 0, "nothing was created");
    // From the page itself, as a browser sends it, it goes through.
    let own = format!("http://{host}");
    let res = page
        .send(
            Method::POST,
            "/academics/subjects",
            Some(form),
            &[("origin", &own), ("sec-fetch-site", "same-origin")],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text());
}

/// Signing in gives the session a new CSRF token, and the page after signing in is only
/// ever a path of this site.
#[sqlx::test(migrations = false)]
async fn signing_in_rotates_the_csrf_token_and_redirects_only_here(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.create_school("alpha").await;
    app.create_staff("alpha", "admin@alpha.test", "School Admin")
        .await;
    for (next, expected) in [
        ("/students", "/students"),
        ("//evil.example", "/"),
        ("/\\evil.example", "/"),
        ("/\t/evil.example", "/"),
        ("https://evil.example", "/"),
    ] {
        let mut page = app.browser(&crate::helpers::host("alpha"));
        let before = page.csrf("/login").await;
        let res = page
            .post(
                "/login",
                &[
                    ("csrf_token", &before),
                    ("email", "admin@alpha.test"),
                    ("password", PASSWORD),
                    ("next", next),
                ],
            )
            .await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "{next:?}");
        assert_eq!(res.location(), expected, "{next:?}");
        let after = page.csrf("/academics").await;
        assert_ne!(before, after, "the token rotates at login");
    }
}

/// Over https the session cookie, and the sign-in form's CSRF cookie before it, carry the
/// `__Host-` prefix.
#[sqlx::test(migrations = false)]
async fn secure_session_cookies_use_the_host_prefix(pool: PgPool) {
    let mut config = schoolyard::config::Config::for_tests("");
    config.secure_cookies = true;
    let app = TestApp::with_config(pool, config).await;
    app.create_school("alpha").await;
    app.create_staff("alpha", "admin@alpha.test", "School Admin")
        .await;
    let mut browser = app.browser(&crate::helpers::host("alpha"));
    let res = browser.get("/login").await;
    let cookie = res.headers["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("__Host-schoolyard_csrf="), "{cookie}");
    assert!(
        cookie.contains("Secure") && cookie.contains("Path=/"),
        "{cookie}"
    );
    let res = browser.login("admin@alpha.test").await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text());
    let cookie = res.headers["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("__Host-schoolyard_session="), "{cookie}");
    assert!(
        cookie.contains("Secure") && cookie.contains("Path=/"),
        "{cookie}"
    );
}

/// The register's CSV opens safely in a spreadsheet (a BOM for Yoruba names, formulas
/// neutralised) and carries the import template's columns: exported from one school, it
/// imports into another exactly as it was.
#[sqlx::test(migrations = false)]
async fn the_register_export_is_spreadsheet_safe_and_imports_back(pool: PgPool) {
    use axum::http::Method;
    let app = TestApp::new(pool).await;
    let alpha = crate::helpers::fixtures::school_with_year(&app, "alpha").await;
    let beta = crate::helpers::fixtures::school_with_year(&app, "beta").await;
    let res = alpha
        .post(
            "/api/v1/school/admissions/",
            json!({"admission_no": "GW/7", "first_name": "Ọlákúnlé", "last_name": "Ṣóyínká",
                   "sex": "male", "address": "=HYPERLINK(\"http://evil.example\")",
                   "guardians": [{"full_name": "@Mama Ṣóyínká", "relationship": "Mother",
                                  "phone": "+2348031234567", "email": "mama@example.com"}]}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    let res = alpha.get("/api/v1/school/admissions/export/").await;
    assert_eq!(res.status, StatusCode::OK);
    let disposition = res.headers["content-disposition"].to_str().unwrap();
    assert!(
        disposition.contains("filename*=UTF-8''register.csv"),
        "{disposition}"
    );
    let csv = res.body.clone();
    assert!(csv.starts_with("\u{feff}".as_bytes()), "a BOM first");
    let text = String::from_utf8(csv[3..].to_vec()).unwrap();
    assert!(
        text.starts_with("admission_no,first_name,last_name,other_names,sex,date_of_birth,admission_date,address,class,guardian_name,guardian_relationship,guardian_phone,guardian_email,status"),
        "{text}"
    );
    assert!(text.contains("\"'=HYPERLINK("), "{text}");
    assert!(text.contains(",'@Mama Ṣóyínká,"), "{text}");
    assert!(text.contains(",'+2348031234567,"), "{text}");
    assert!(!text.contains(",=") && !text.contains(",+234"), "{text}");

    let res = beta
        .raw(
            Method::POST,
            "/api/v1/school/admissions/import/",
            Some("text/csv"),
            String::from_utf8(csv).unwrap(),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    let list = beta.get("/api/v1/school/admissions/").await.json();
    let pupil = &list["results"][0];
    assert_eq!(pupil["first_name"], "Ọlákúnlé");
    assert_eq!(pupil["address"], "=HYPERLINK(\"http://evil.example\")");
    let id = pupil["id"].as_i64().unwrap();
    let guardians = beta
        .get(&format!("/api/v1/school/guardians/?student={id}"))
        .await
        .json();
    let g = &guardians["results"][0];
    assert_eq!(
        (&g["full_name"], &g["phone"]),
        (&json!("@Mama Ṣóyínká"), &json!("+2348031234567"))
    );
}

/// Headers: a strict CSP on pages and on the API docs, `nosniff` and `no-store` on what a
/// token fetched, HSTS over https; `/metrics` not at a school's address and only with its
/// token; a client's request id kept only when short and plain.
#[sqlx::test(migrations = false)]
async fn headers_protect_pages_tokens_and_metrics(pool: PgPool) {
    let mut config = schoolyard::config::Config::for_tests("");
    config.secure_cookies = true;
    config.development = false;
    config.metrics_token = Some("metrics-secret-token".into());
    let app = TestApp::with_config(pool, config).await;
    app.create_school("alpha").await;
    app.create_staff("alpha", "admin@alpha.test", "School Admin")
        .await;
    for (client, path) in [
        (app.school_client("alpha"), "/login"),
        (app.platform_client(), "/api/redoc/"),
    ] {
        let res = client.get(path).await;
        let csp = res.headers["content-security-policy"].to_str().unwrap();
        for part in ["object-src 'none'", "base-uri 'none'", "form-action 'self'"] {
            assert!(csp.contains(part), "{path}: {csp}");
        }
        assert_eq!(res.headers["strict-transport-security"], "max-age=31536000");
    }
    let admin = app.as_staff("alpha", "admin@alpha.test").await;
    let res = admin.get("/api/v1/school/users/").await;
    assert_eq!(res.headers["x-content-type-options"], "nosniff");
    assert_eq!(res.headers["cache-control"], "no-store");

    let metrics = |client: Client| async move { client.get("/metrics").await.status };
    assert_eq!(metrics(app.platform_client()).await, StatusCode::NOT_FOUND);
    let token = app.platform_client().token("metrics-secret-token");
    assert_eq!(metrics(token).await, StatusCode::OK);
    let at_school = app.school_client("alpha").token("metrics-secret-token");
    assert_eq!(metrics(at_school).await, StatusCode::NOT_FOUND);

    let id = |value: &str| {
        let client = app.platform_client().header("x-request-id", value);
        async move {
            client.get("/healthz").await.headers["x-request-id"]
                .to_str()
                .unwrap()
                .to_owned()
        }
    };
    assert_eq!(id("trace-42.abc").await, "trace-42.abc");
    let long = "x".repeat(200);
    assert_ne!(id(&long).await, long);
    assert_ne!(id("a b<script>").await, "a b<script>");
}

/// An app behind one proxy of our own, so tests can sign in from different addresses.
async fn app_behind_one_proxy(pool: PgPool) -> TestApp {
    let mut config = schoolyard::config::Config::for_tests("");
    config.trust_proxy = 1;
    config.login_max_failures_per_address = 8;
    let app = TestApp::with_config(pool, config).await;
    for code in ["alpha", "beta"] {
        app.create_school(code).await;
        app.create_staff(code, &format!("head@{code}.test"), "School Admin")
            .await;
    }
    app
}

async fn sign_in(app: &TestApp, code: &str, from: &str, email: &str, password: &str) -> StatusCode {
    app.school_client(code)
        .header("x-forwarded-for", from)
        .post(
            "/api/v1/school/auth/login",
            json!({"email": email, "password": password}),
        )
        .await
        .status
}

/// Someone who keeps guessing a teacher's password locks themselves out, not the teacher:
/// the right password from the teacher's own address still signs in.
#[sqlx::test(migrations = false)]
async fn a_guesser_is_locked_out_but_not_the_account_owner(pool: PgPool) {
    let app = app_behind_one_proxy(pool).await;
    let attacker = "203.0.113.9";
    for _ in 0..5 {
        let status = sign_in(&app, "alpha", attacker, "head@alpha.test", "guess-guess").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    // The guesser is refused even with the right password...
    assert_eq!(
        sign_in(&app, "alpha", attacker, "head@alpha.test", PASSWORD).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // ...while the owner at another address gets in, and again after that.
    for _ in 0..2 {
        assert_eq!(
            sign_in(&app, "alpha", "198.51.100.7", "head@alpha.test", PASSWORD).await,
            StatusCode::OK
        );
    }
}

/// Attempts are counted before the password check, atomically: twenty guesses sent at once
/// get exactly the five the limit allows, not twenty.
#[sqlx::test(migrations = false)]
async fn parallel_guesses_cannot_slip_under_the_limit(pool: PgPool) {
    let app = app_behind_one_proxy(pool).await;
    let guesses = (0..20).map(|i| {
        let app = &app;
        async move {
            sign_in(
                app,
                "alpha",
                "203.0.113.9",
                "head@alpha.test",
                &format!("guess-{i}"),
            )
            .await
        }
    });
    let statuses = futures::future::join_all(guesses).await;
    let checked = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!((checked, refused), (5, 15), "{statuses:?}");
}

/// One address that tries many accounts of one school is refused there, and only there:
/// the counter is per school; and a teacher who signed in from that address before (the
/// school's shared address) still gets in.
#[sqlx::test(migrations = false)]
async fn the_per_address_counter_is_per_school(pool: PgPool) {
    let app = app_behind_one_proxy(pool).await;
    app.create_staff("alpha", "teacher@alpha.test", "School Admin")
        .await;
    let address = "203.0.113.50";
    assert_eq!(
        sign_in(&app, "alpha", address, "teacher@alpha.test", PASSWORD).await,
        StatusCode::OK
    );
    for i in 0..8 {
        let email = format!("someone{i}@alpha.test");
        assert_eq!(
            sign_in(&app, "alpha", address, &email, "guess-guess").await,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        sign_in(&app, "alpha", address, "head@alpha.test", PASSWORD).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        sign_in(&app, "beta", address, "head@beta.test", PASSWORD).await,
        StatusCode::OK
    );
    assert_eq!(
        sign_in(&app, "alpha", address, "teacher@alpha.test", PASSWORD).await,
        StatusCode::OK
    );
}

/// Guesses at one account from many addresses at once (a botnet, or one IPv6 subscriber's
/// many addresses) are paced once the account has drawn many failures: one attempt a
/// second gets its password checked, the rest are told to retry; the owner, from an address
/// they signed in from before, is not paced.
#[sqlx::test(migrations = false)]
async fn an_account_under_attack_from_many_addresses_is_paced_not_locked(pool: PgPool) {
    let mut config = schoolyard::config::Config::for_tests("");
    config.trust_proxy = 1;
    config.login_slow_after_failures = 3;
    let app = TestApp::with_config(pool, config).await;
    app.create_school("alpha").await;
    app.create_staff("alpha", "head@alpha.test", "School Admin")
        .await;
    let home = "198.51.100.7";
    assert_eq!(
        sign_in(&app, "alpha", home, "head@alpha.test", PASSWORD).await,
        StatusCode::OK
    );
    for i in 0..3 {
        let from = format!("203.0.113.{i}");
        assert_eq!(
            sign_in(&app, "alpha", &from, "head@alpha.test", "guess-guess").await,
            StatusCode::UNAUTHORIZED
        );
    }
    let guesses = (10..20).map(|i| {
        let app = &app;
        async move {
            let from = format!("203.0.113.{i}");
            sign_in(app, "alpha", &from, "head@alpha.test", "guess-guess").await
        }
    });
    let statuses = futures::future::join_all(guesses).await;
    let checked = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    let paced = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert!(checked <= 2 && checked + paced == 10, "{statuses:?}");
    // The owner at their usual address signs in at once.
    assert_eq!(
        sign_in(&app, "alpha", home, "head@alpha.test", PASSWORD).await,
        StatusCode::OK
    );
    // IPv6 addresses of one /64 count as one guesser.
    for i in 0..5 {
        let from = format!("2001:db8:0:1::{i:x}");
        let status = sign_in(&app, "alpha", &from, "head@alpha.test", "guess-guess").await;
        assert_ne!(status, StatusCode::OK);
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    }
    assert_eq!(
        sign_in(
            &app,
            "alpha",
            "2001:db8:0:1::99",
            "head@alpha.test",
            PASSWORD
        )
        .await,
        StatusCode::TOO_MANY_REQUESTS
    );
}

/// Behind our proxy the client's address is the entry our proxy added (the right-most), so a
/// guesser who writes a new left-most `X-Forwarded-For` entry each time is still counted as
/// one address.
#[sqlx::test(migrations = false)]
async fn a_forged_forwarded_for_entry_does_not_reset_the_count(pool: PgPool) {
    let app = app_behind_one_proxy(pool).await;
    for i in 0..5 {
        let forged = format!("10.0.0.{i}, 203.0.113.9");
        assert_eq!(
            sign_in(&app, "alpha", &forged, "head@alpha.test", "guess-guess").await,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        sign_in(
            &app,
            "alpha",
            "10.9.9.9, 203.0.113.9",
            "head@alpha.test",
            PASSWORD
        )
        .await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // The address the audit trail records is the proxy's entry too.
    assert_eq!(
        sign_in(
            &app,
            "alpha",
            "1.2.3.4, 198.51.100.7",
            "head@alpha.test",
            PASSWORD
        )
        .await,
        StatusCode::OK
    );
    let mut tx = app.school_tx("alpha").await;
    let ip: String = sqlx::query_scalar(
        "SELECT client_ip FROM audit_log WHERE action = 'login' ORDER BY id DESC LIMIT 1",
    )
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    assert_eq!(ip, "198.51.100.7");
}

/// The hourly clean-up deletes expired refresh tokens and ended throttle windows, and
/// nothing still in use.
#[sqlx::test(migrations = false)]
async fn the_clean_up_purges_old_throttle_rows_and_expired_refresh_tokens(pool: PgPool) {
    let app = app_behind_one_proxy(pool).await;
    let session = app.school_login("alpha", "head@alpha.test").await;
    assert_eq!(
        sign_in(
            &app,
            "alpha",
            "203.0.113.9",
            "head@alpha.test",
            "guess-guess"
        )
        .await,
        StatusCode::UNAUTHORIZED
    );
    sqlx::query(
        "INSERT INTO public.login_throttle (key, failures, window_started_at)
         VALUES ('guesser:school:1:old', 3, now() - interval '2 days')",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO public.refresh_tokens (jti, family_id, user_id, expires_at, created_at)
         SELECT gen_random_uuid(), gen_random_uuid(), id, now() - interval '3 days', now() - interval '20 days'
           FROM public.users LIMIT 1",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let count = |sql: &'static str| {
        let pool = app.pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(sql)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    let expired = "SELECT count(*) FROM public.refresh_tokens WHERE expires_at < now()";
    let stale = "SELECT count(*) FROM public.login_throttle WHERE window_started_at < now() - interval '1 day'";
    assert_eq!((count(expired).await, count(stale).await), (1, 1));

    schoolyard::workers::clean_up(&app.pool, std::time::Duration::from_secs(900)).await;

    assert_eq!((count(expired).await, count(stale).await), (0, 0));
    // What is still in use stays: the live refresh token still refreshes, the fresh
    // counters are still there.
    let refreshed = app
        .school_client("alpha")
        .post(
            "/api/v1/school/auth/refresh",
            json!({"refresh": session["refresh"]}),
        )
        .await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.text());
    assert!(count("SELECT count(*) FROM public.login_throttle").await >= 3);
}

/// A school admin cannot use "this email is taken" to learn who has an account elsewhere:
/// an email of another school's teacher (or of a platform operator) is as free here as one
/// nobody uses; only the school's own staff list makes an email taken.
#[sqlx::test(migrations = false)]
async fn adding_staff_does_not_reveal_accounts_at_other_schools(pool: PgPool) {
    let app = app_behind_one_proxy(pool).await;
    app.create_superadmin("ops@platform.test").await;
    let head = app.as_staff("alpha", "head@alpha.test").await;
    let teacher = crate::helpers::fixtures::role_id(&head, "Teacher").await;
    let add = |email: &str| {
        head.post(
            "/api/v1/school/users/",
            json!({"email": email, "full_name": "New Teacher", "password": "a-long-fresh-passphrase-7", "roles": [teacher]}),
        )
    };
    for elsewhere in [
        "head@beta.test",
        "ops@platform.test",
        "nobody@anywhere.test",
    ] {
        let res = add(elsewhere).await;
        assert_eq!(
            res.status,
            StatusCode::CREATED,
            "{elsewhere}: {}",
            res.text()
        );
    }
    // Taken within the school: the admin can see that teacher on their own staff list.
    let res = add("HEAD@beta.test").await;
    let body = assert_error_shape(&res, 422);
    assert!(body["errors"]["email"].is_array(), "{body}");
    // Both teachers sign in at their own school with their own passwords.
    assert_eq!(
        sign_in(&app, "beta", "198.51.100.1", "head@beta.test", PASSWORD).await,
        StatusCode::OK
    );
    assert_eq!(
        sign_in(
            &app,
            "alpha",
            "198.51.100.1",
            "head@beta.test",
            "a-long-fresh-passphrase-7"
        )
        .await,
        StatusCode::OK
    );
}

/// Staff views of a pupil's results and report cards, and exports of their data, are
/// recorded (who, when, what) and listed on the pupil's page and in the API, for staff who
/// may read the audit log; nobody else sees the list.
#[sqlx::test(migrations = false)]
async fn views_of_grades_and_exports_are_listed_on_the_pupils_page(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let f = class_with_exams(&app, "alpha", &["Ada", "Bola"]).await;
    let (ada, ada_reg) = (f.students["Ada"], f.pupils["Ada"]);
    let teacher = staff_with(
        &app,
        &f.admin,
        "teacher@alpha.test",
        &["view_results", "view_students"],
    )
    .await;
    let views_url = format!("/api/v1/school/admissions/{ada}/views/");
    assert_eq!(f.admin.get(&views_url).await.json()["results"], json!([]));

    let es = f.exam_session;
    let res = teacher
        .get(&format!(
            "/api/v1/school/exam-sessions/{es}/results/?academic_class={}",
            f.class_id
        ))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let res = teacher
        .get(&format!(
            "/api/v1/school/exam-sessions/{es}/report-cards/{ada_reg}/pdf/"
        ))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let res = teacher
        .get(&format!("/api/v1/school/admissions/{ada}/record/"))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());

    let views = f.admin.get(&views_url).await.json()["results"].clone();
    let seen: Vec<(String, String)> = views
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["actor_email"].as_str().unwrap().to_owned(),
                v["kind"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let who = "teacher@alpha.test".to_owned();
    assert_eq!(
        seen,
        vec![
            (who.clone(), "export".to_owned()),
            (who.clone(), "report_card".to_owned()),
            (who, "results".to_owned()),
        ]
    );
    // Bola's results were on the class list too; their report card was not opened.
    let bola = f
        .admin
        .get(&format!(
            "/api/v1/school/admissions/{}/views/",
            f.students["Bola"]
        ))
        .await
        .json();
    assert_eq!(bola["count"], 1, "{bola}");

    // The list is for those who may read the audit log.
    assert_error_shape(&teacher.get(&views_url).await, 403);
    let mut admin_page = app.signed_in("alpha", "admin@alpha.test").await;
    let html = admin_page.get(&format!("/students/{ada}")).await.text();
    assert!(html.contains("Who has seen this pupil"), "{html}");
    assert!(
        html.contains("teacher@alpha.test") && html.contains("Report card, First Term"),
        "{html}"
    );
    let mut teacher_page = app.signed_in("alpha", "teacher@alpha.test").await;
    let html = teacher_page.get(&format!("/students/{ada}")).await.text();
    assert!(!html.contains("Who has seen this pupil"));
}

/// Erasing a pupil's record erases their details from the audit trail too: the rows about
/// them and their guardians stay (who did what, and when) but no name, phone or date is
/// left in them.
#[sqlx::test(migrations = false)]
async fn erasing_a_pupil_redacts_their_details_from_the_audit_trail(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.create_school("alpha").await;
    app.create_staff("alpha", "admin@alpha.test", "School Admin")
        .await;
    let admin = app.as_staff("alpha", "admin@alpha.test").await;
    let res = admin
        .post(
            "/api/v1/school/admissions/",
            json!({"first_name": "Zainab", "last_name": "Quadri", "sex": "female", "date_of_birth": "2014-03-09",
                   "guardians": [{"full_name": "Kemi Quadri", "phone": "08035550101"}]}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    let id = res.json()["id"].as_i64().unwrap();
    let res = admin
        .patch(
            &format!("/api/v1/school/admissions/{id}/"),
            json!({"other_names": "Folake"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let res = admin
        .post(
            "/api/v1/school/guardians/",
            json!({"student_id": id, "full_name": "Tunde Quadri", "phone": "08035550202"}),
        )
        .await;
    assert!(res.status.is_success(), "{}", res.text());
    let audit_text = || async {
        let mut tx = app.school_tx("alpha").await;
        let rows: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT action, entity, changes::text FROM audit_log WHERE entity IN ('student', 'guardian') ORDER BY id",
        )
        .fetch_all(&mut *tx)
        .await
        .unwrap();
        rows
    };
    let before = audit_text().await;
    let all: String = before.iter().map(|r| r.2.as_str()).collect();
    assert!(
        all.contains("Zainab") && all.contains("Tunde Quadri") && all.contains("8035550202"),
        "{all}"
    );

    let res = admin
        .delete(&format!("/api/v1/school/admissions/{id}/"))
        .await;
    assert!(res.status.is_success(), "{}", res.text());

    let after = audit_text().await;
    // Every earlier row is still there (plus the deletion), with its kind...
    assert_eq!(after.len(), before.len() + 1);
    for (b, a) in before.iter().zip(&after) {
        assert_eq!((&b.0, &b.1), (&a.0, &a.1));
    }
    // ...and no personal value anywhere.
    let all: String = after.iter().map(|r| r.2.as_str()).collect();
    for secret in [
        "Zainab",
        "Quadri",
        "Folake",
        "Kemi",
        "Tunde",
        "8035550",
        "2014-03-09",
    ] {
        assert!(
            !all.contains(secret),
            "{secret} left in the audit trail: {all}"
        );
    }
    assert!(
        all.contains("first_name") && all.contains("[erased]"),
        "{all}"
    );
}

async fn issue_key(ops: &Client, school_id: i64, name: &str, scopes: &[&str]) -> Value {
    let res = ops
        .post(
            "/api/v1/system/api-keys/",
            json!({"school_id": school_id, "name": name, "scopes": scopes}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    res.json()
}

/// An integration's API key, issued by the platform for one school: shown once and stored
/// only as a hash; it reads (and, with the scope, writes) that school's records and no
/// other school's, wherever it is sent; its use is recorded; revoking stops it at once.
#[sqlx::test(migrations = false)]
async fn an_api_key_acts_in_its_own_school_with_its_scopes_only(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alpha = app.create_school("alpha").await;
    app.create_school("beta").await;
    app.create_staff("beta", "head@beta.test", "School Admin")
        .await;
    app.create_staff("alpha", "head@alpha.test", "School Admin")
        .await;
    app.create_superadmin("ops@platform.test").await;
    let ops = app.as_operator("ops@platform.test").await;
    let beta_head = app.as_staff("beta", "head@beta.test").await;
    let res = beta_head
        .post(
            "/api/v1/school/admissions/",
            json!({"first_name": "Bola", "last_name": "Beta", "sex": "male"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    let beta_pupil = res.json()["id"].as_i64().unwrap();

    let read = issue_key(&ops, alpha.id, "Website", &["read"]).await;
    let secret = read["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with(&format!("sy_{}_", read["prefix"].as_str().unwrap())));
    // Only a hash is kept, and the key is never shown again.
    let stored: String = sqlx::query_scalar("SELECT row_to_json(k)::text FROM public.api_keys k")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(!stored.contains(&secret[10..]), "{stored}");
    let id = read["id"].as_i64().unwrap();
    let shown = ops
        .get(&format!("/api/v1/system/api-keys/{id}/"))
        .await
        .json();
    assert_eq!(shown["secret"], Value::Null);
    assert_eq!(shown["last_used_at"], Value::Null);

    let keyed = |host: &str| app.client(host).header("x-api-key", &secret);
    let at_alpha = keyed("alpha.localhost");
    let res = at_alpha.get("/api/v1/school/admissions/").await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert_eq!(res.json()["count"], 0);
    // Read-only: no writing.
    let res = at_alpha
        .post(
            "/api/v1/school/admissions/",
            json!({"first_name": "Ada", "last_name": "Obi", "sex": "female"}),
        )
        .await;
    assert_error_shape(&res, 403);
    // Never another school: refused at its address, and at the main domain it is still
    // alpha's key (beta's pupil is not found).
    assert_error_shape(
        &keyed("beta.localhost")
            .get("/api/v1/school/admissions/")
            .await,
        403,
    );
    let res = keyed("localhost")
        .get(&format!("/api/v1/school/admissions/{beta_pupil}/"))
        .await;
    assert_error_shape(&res, 404);
    // Not a key for the system API or the pages.
    assert_error_shape(
        &keyed("localhost").get("/api/v1/system/schools/").await,
        401,
    );
    // Sent with a token, the key is not looked at: the request acts as the token's user, so
    // the read-only key takes nothing from alpha's head, and beta's token at alpha's address
    // is refused as it would be without the key.
    let head_with_key = at_alpha.token(&app.school_token("alpha", "head@alpha.test").await);
    let res = head_with_key
        .post(
            "/api/v1/school/admissions/",
            json!({"first_name": "Ada", "last_name": "Obi", "sex": "female"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    let beta_with_key = at_alpha.token(&app.school_token("beta", "head@beta.test").await);
    assert_error_shape(&beta_with_key.get("/api/v1/school/admissions/").await, 403);
    // Its use is recorded.
    let shown = ops
        .get(&format!("/api/v1/system/api-keys/{id}/"))
        .await
        .json();
    assert!(shown["last_used_at"].is_string(), "{shown}");

    // A key scoped to the register writes, and the audit log names the key.
    let writer = issue_key(&ops, alpha.id, "Admissions portal", &["students"]).await;
    let writer_secret = writer["secret"].as_str().unwrap();
    let res = app
        .client("alpha.localhost")
        .header("x-api-key", writer_secret)
        .post(
            "/api/v1/school/admissions/",
            json!({"first_name": "Ada", "last_name": "Obi", "sex": "female"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    let mut tx = app.school_tx("alpha").await;
    let actor: String = sqlx::query_scalar(
        "SELECT u.full_name FROM audit_log a JOIN public.users u ON u.id = a.actor_id
          WHERE a.entity = 'student' AND a.action = 'create' ORDER BY a.id DESC LIMIT 1",
    )
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    assert_eq!(actor, "API key: Admissions portal");
    drop(tx);
    // The key's service account is not staff: not listed, not editable, cannot sign in.
    let head = app.as_staff("alpha", "head@alpha.test").await;
    let staff = head.get("/api/v1/school/users/").await.json();
    assert_eq!(staff["count"], 1, "{staff}");
    let service_user: i64 = sqlx::query_scalar("SELECT user_id FROM public.api_keys WHERE id = $1")
        .bind(writer["id"].as_i64().unwrap())
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let res = head
        .patch(
            &format!("/api/v1/school/users/{service_user}/"),
            json!({"is_active": true}),
        )
        .await;
    assert_error_shape(&res, 404);

    // Revoked: refused at once.
    let res = ops.delete(&format!("/api/v1/system/api-keys/{id}/")).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert!(res.json()["revoked_at"].is_string());
    assert_error_shape(&at_alpha.get("/api/v1/school/admissions/").await, 401);
    // A school user cannot issue keys; a scope that does not exist is named.
    assert_error_shape(&head.get("/api/v1/system/api-keys/").await, 403);
    let res = ops
        .post(
            "/api/v1/system/api-keys/",
            json!({"school_id": alpha.id, "name": "x", "scopes": ["everything"]}),
        )
        .await;
    let body = assert_error_shape(&res, 422);
    assert!(
        body["errors"]["scopes"][0]
            .as_str()
            .unwrap()
            .contains("everything"),
        "{body}"
    );
}

/// The console page issues a key (its secret shown once on the page), lists it with its
/// last use, and revokes it after a confirmation.
#[sqlx::test(migrations = false)]
async fn operators_issue_and_revoke_keys_on_the_console(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alpha = app.create_school("alpha").await;
    app.create_superadmin("ops@platform.test").await;
    let mut console = app.signed_in_at("localhost", "ops@platform.test").await;
    let html = console.get("/api-keys").await.text();
    assert!(
        html.contains("No API keys yet") && html.contains("Issue a key"),
        "{html}"
    );
    let csrf = crate::helpers::csrf_of(&html);
    let school = alpha.id.to_string();
    let res = console
        .post(
            "/api-keys",
            &[
                ("csrf_token", &csrf),
                ("school_id", &school),
                ("name", "Bursary sync"),
                ("access", "resources"),
                ("resource", "students"),
                ("resource", "marks"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let html = res.text();
    let start = html.find("value=\"sy_").expect("the secret is shown") + 7;
    let secret = &html[start..start + html[start..].find('"').unwrap()];
    assert!(html.contains("students, marks"), "{html}");
    let res = app
        .client("alpha.localhost")
        .header("x-api-key", secret)
        .get("/api/v1/school/admissions/")
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    // Shown once: the list afterwards has only the prefix.
    let html = console.get("/api-keys").await.text();
    assert!(!html.contains(secret));
    // A form with a problem comes back with the field named.
    let res = console
        .post(
            "/api-keys",
            &[
                ("csrf_token", &csrf),
                ("school_id", ""),
                ("name", ""),
                ("access", "read"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().contains("Choose a school") && res.text().contains("Name the key"));
    let id: i64 = sqlx::query_scalar("SELECT id FROM public.api_keys")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let res = console
        .post(&format!("/api-keys/{id}/revoke"), &[("csrf_token", &csrf)])
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text());
    let res = app
        .client("alpha.localhost")
        .header("x-api-key", secret)
        .get("/api/v1/school/admissions/")
        .await;
    assert_error_shape(&res, 401);
}

/// A pupil entered by mistake, marked and then cleared, and deleted: the mark sheet's audit
/// rows keep the other pupils' entries but no longer carry this pupil's admission number
/// or scores.
#[sqlx::test(migrations = false)]
async fn erasing_a_pupil_redacts_their_entries_in_mark_sheet_audit_rows(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let f = class_with_exams(&app, "alpha", &["Ada", "Zainab"]).await;
    let (ada, zainab) = (f.pupils["Ada"], f.pupils["Zainab"]);
    let maths = f.exams["Mathematics"];
    let rows = json!([
        {"registration": ada, "scores": scores(11.0, 12.0, 41.0)},
        {"registration": zainab, "scores": scores(17.0, 13.0, 59.0)},
    ]);
    assert_eq!(
        save_marks(&f.admin, maths, rows).await.status,
        StatusCode::OK
    );
    let cleared =
        json!([{"registration": zainab, "scores": {"CA1": null, "CA2": null, "Exam": null}}]);
    let res = save_marks(&f.admin, maths, cleared).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let id = f.students["Zainab"];
    let record = f
        .admin
        .get(&format!("/api/v1/school/admissions/{id}/"))
        .await
        .json();
    let admission_no = record["admission_no"].as_str().unwrap().to_owned();

    let res = f
        .admin
        .delete(&format!("/api/v1/school/admissions/{id}/"))
        .await;
    assert!(res.status.is_success(), "{}", res.text());

    let mut tx = app.school_tx("alpha").await;
    let marks: Vec<String> = sqlx::query_scalar(
        "SELECT changes::text FROM audit_log WHERE entity = 'marks' ORDER BY id",
    )
    .fetch_all(&mut *tx)
    .await
    .unwrap();
    assert_eq!(marks.len(), 2);
    let all = marks.concat();
    assert!(!all.contains(&admission_no), "{all}");
    assert!(!all.contains("59"), "{all}");
    // Ada's entry is untouched.
    assert!(all.contains("41"), "{all}");
}

/// An operator whose platform role lists API keys may see and revoke them but not issue
/// one: a key acts inside a school, which only superadmins may.
#[sqlx::test(migrations = false)]
async fn only_superadmins_issue_api_keys(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alpha = app.create_school("alpha").await;
    app.create_superadmin("root@platform.test").await;
    let root = app.as_operator("root@platform.test").await;
    let keepers: i64 = sqlx::query_scalar(
        "INSERT INTO public.platform_roles (name, description, permissions, created_at)
         VALUES ('Key keepers', '', ARRAY['view_api_keys', 'add_api_keys', 'delete_api_keys'], now())
         RETURNING id",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    let res = root
        .post(
            "/api/v1/system/users/",
            json!({"email": "keys@platform.test", "full_name": "Key Keeper", "password": PASSWORD, "roles": [keepers]}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    let keeper = app.as_operator("keys@platform.test").await;
    let res = keeper
        .post(
            "/api/v1/system/api-keys/",
            json!({"school_id": alpha.id, "name": "Sync", "scopes": ["users", "roles"]}),
        )
        .await;
    assert_error_shape(&res, 403);
    let issued = issue_key(&root, alpha.id, "Sync", &["read"]).await;
    let listed = keeper.get("/api/v1/system/api-keys/").await;
    assert_eq!(listed.json()["count"], 1, "{}", listed.text());
    let res = keeper
        .delete(&format!("/api/v1/system/api-keys/{}/", issued["id"]))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
}
