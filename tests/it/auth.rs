//! Tokens, refresh rotation, throttling, disabling users.

use axum::http::StatusCode;
use base64::Engine;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::{PASSWORD, Response, TestApp, assert_error_shape, internals};

async fn school_with_admin(app: &TestApp) {
    app.create_school("alpha").await;
    app.create_staff("alpha", "admin@alpha.test", "School Admin")
        .await;
}

async fn refresh(app: &TestApp, token: &str) -> Response {
    app.school_client("alpha")
        .post("/api/v1/school/auth/refresh", json!({"refresh": token}))
        .await
}

#[sqlx::test(migrations = false)]
async fn login_returns_tokens_and_user(pool: PgPool) {
    let app = TestApp::new(pool).await;
    school_with_admin(&app).await;
    let body = app.school_login("alpha", "admin@alpha.test").await;
    assert!(body["access"].is_string() && body["refresh"].is_string());
    assert_eq!(body["user"]["email"], "admin@alpha.test");
    assert!(body["user"].get("password_hash").is_none());
    let me = app
        .school_client("alpha")
        .token(body["access"].as_str().unwrap())
        .get("/api/v1/school/auth/me")
        .await;
    assert_eq!(me.status, StatusCode::OK);
    assert!(
        me.json()["permissions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p == "delete_users")
    );
}

#[sqlx::test(migrations = false)]
async fn refresh_rotates_and_reuse_revokes_the_family(pool: PgPool) {
    let app = TestApp::new(pool).await;
    school_with_admin(&app).await;
    let first = app.school_login("alpha", "admin@alpha.test").await;
    let r1 = first["refresh"].as_str().unwrap();
    let second = refresh(&app, r1).await;
    assert_eq!(second.status, StatusCode::OK, "{}", second.text());
    let r2 = second.json()["refresh"].as_str().unwrap().to_owned();
    let a2 = second.json()["access"].as_str().unwrap().to_owned();
    assert_ne!(r1, r2);

    // Replaying the first refresh token is refused and revokes the whole family.
    assert_error_shape(&refresh(&app, r1).await, 401);
    assert_error_shape(&refresh(&app, &r2).await, 401);
    let me = app
        .school_client("alpha")
        .token(&a2)
        .get("/api/v1/school/auth/me")
        .await;
    assert_error_shape(&me, 401);
}

#[sqlx::test(migrations = false)]
async fn logout_revokes_tokens(pool: PgPool) {
    let app = TestApp::new(pool).await;
    school_with_admin(&app).await;
    let login = app.school_login("alpha", "admin@alpha.test").await;
    let access = login["access"].as_str().unwrap();
    let res = app
        .school_client("alpha")
        .token(access)
        .post_empty("/api/v1/school/auth/logout")
        .await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    assert_error_shape(
        &app.school_client("alpha")
            .token(access)
            .get("/api/v1/school/auth/me")
            .await,
        401,
    );
    assert_error_shape(
        &refresh(&app, login["refresh"].as_str().unwrap()).await,
        401,
    );
}

fn b64(v: &Value) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
}

fn claims_of(token: &str) -> Value {
    let part = token.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .unwrap(),
    )
    .unwrap()
}

fn sign(header: &Value, claims: &Value, secret: &str) -> String {
    use hmac::{Hmac, Mac};
    let input = format!("{}.{}", b64(header), b64(claims));
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(input.as_bytes());
    let sig = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    format!("{input}.{sig}")
}

#[sqlx::test(migrations = false)]
async fn forged_and_misused_tokens_are_refused(pool: PgPool) {
    let app = TestApp::new(pool).await;
    school_with_admin(&app).await;
    let login = app.school_login("alpha", "admin@alpha.test").await;
    let access = login["access"].as_str().unwrap();
    let claims = claims_of(access);
    let secret = app.config.jwt_secret.clone();
    let hs256 = json!({"alg": "HS256", "typ": "JWT"});
    let now = chrono::Utc::now().timestamp();

    let mut expired = claims.clone();
    expired["exp"] = json!(now - 3600);
    let mut wrong_aud = claims.clone();
    wrong_aud["aud"] = json!("someone-else");
    let mut tampered = claims.clone();
    tampered["sub"] = json!("999");
    let good_sig = access.rsplit('.').next().unwrap();
    let tampered_token = format!("{}.{}.{}", b64(&hs256), b64(&tampered), good_sig);
    let none_token = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "JWT"})),
        b64(&claims)
    );
    let hs512 = sign(&json!({"alg": "HS512", "typ": "JWT"}), &claims, &secret);

    let cases = [
        ("expired", sign(&hs256, &expired, &secret)),
        ("wrong audience", sign(&hs256, &wrong_aud, &secret)),
        ("tampered", tampered_token),
        ("alg none", none_token),
        ("other algorithm", hs512),
        (
            "wrong key",
            sign(&hs256, &claims, "another-secret-that-is-long-enough-123"),
        ),
        (
            "refresh as access",
            login["refresh"].as_str().unwrap().to_owned(),
        ),
        ("garbage", "not.a.token".to_owned()),
    ];
    for (name, token) in cases {
        let res = app
            .school_client("alpha")
            .token(&token)
            .get("/api/v1/school/auth/me")
            .await;
        assert_eq!(
            res.status,
            StatusCode::UNAUTHORIZED,
            "{name}: {}",
            res.text()
        );
    }
    // An access token is not a refresh token either.
    assert_error_shape(&refresh(&app, access).await, 401);
}

#[sqlx::test(migrations = false)]
async fn repeated_bad_logins_are_throttled_without_telling_if_the_email_exists(pool: PgPool) {
    let app = TestApp::new(pool).await;
    school_with_admin(&app).await;
    let alpha = app.school_client("alpha");
    let attempt = |email: &str, password: &str| {
        alpha.post(
            "/api/v1/school/auth/login",
            json!({"email": email, "password": password}),
        )
    };
    let unknown = attempt("nobody@alpha.test", "wrong-password").await;
    let known = attempt("admin@alpha.test", "wrong-password").await;
    assert_error_shape(&unknown, 401);
    assert_error_shape(&known, 401);
    assert_eq!(unknown.json()["detail"], known.json()["detail"]);

    for _ in 0..4 {
        attempt("admin@alpha.test", "wrong-password").await;
    }
    // The guesser (this account from this address) is refused now, even with the right password.
    let locked = attempt("admin@alpha.test", PASSWORD).await;
    let body = assert_error_shape(&locked, 429);
    assert_eq!(body["code"], "throttled");
    assert!(locked.headers.get("retry-after").is_some());

    // Per address: many different accounts from one address get refused too.
    let emails: Vec<String> = (0..40).map(|i| format!("guess{i}@alpha.test")).collect();
    let mut refused = false;
    for e in &emails {
        let res = attempt(e, "nope-nope").await;
        if res.status == StatusCode::TOO_MANY_REQUESTS {
            refused = true;
            break;
        }
    }
    assert!(refused, "address throttle never kicked in");
}

#[sqlx::test(migrations = false)]
async fn disabling_a_user_ends_tokens_and_login(pool: PgPool) {
    let app = TestApp::new(pool).await;
    school_with_admin(&app).await;
    let teacher = app
        .create_staff("alpha", "teacher@alpha.test", "Teacher")
        .await;
    let admin = app.as_staff("alpha", "admin@alpha.test").await;
    let login = app.school_login("alpha", "teacher@alpha.test").await;
    let t_access = login["access"].as_str().unwrap();
    let res = admin
        .delete(&format!("/api/v1/school/users/{teacher}/"))
        .await;
    assert_eq!(res.status, StatusCode::NO_CONTENT, "{}", res.text());
    assert_error_shape(
        &app.school_client("alpha")
            .token(t_access)
            .get("/api/v1/school/auth/me")
            .await,
        401,
    );
    assert_error_shape(
        &refresh(&app, login["refresh"].as_str().unwrap()).await,
        401,
    );
    let again = app
        .school_client("alpha")
        .post(
            "/api/v1/school/auth/login",
            json!({"email": "teacher@alpha.test", "password": PASSWORD}),
        )
        .await;
    assert_error_shape(&again, 401);
    // The record is kept, and the change is audited with its fields.
    let changes: Value = sqlx::query_scalar(
        "SELECT changes FROM alpha.audit_log WHERE action = 'disable' AND entity_id = $1",
    )
    .bind(teacher.to_string())
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(changes["is_active"], json!({"from": true, "to": false}));
}

#[sqlx::test(migrations = false)]
async fn platform_users_cannot_log_into_a_school_and_staff_not_into_the_platform(pool: PgPool) {
    let app = TestApp::new(pool).await;
    school_with_admin(&app).await;
    app.create_superadmin("ops@platform.test").await;
    let res = app
        .school_client("alpha")
        .post(
            "/api/v1/school/auth/login",
            json!({"email": "ops@platform.test", "password": PASSWORD}),
        )
        .await;
    assert_error_shape(&res, 401);
    let res = app
        .platform_client()
        .post(
            "/api/v1/system/auth/login",
            json!({"email": "admin@alpha.test", "password": PASSWORD}),
        )
        .await;
    assert_error_shape(&res, 401);
    // A school token cannot use the system API.
    let t = app.as_staff("alpha", "admin@alpha.test").await;
    let res = t.at("localhost").get("/api/v1/system/schools/").await;
    assert_error_shape(&res, 403);
}

#[test]
fn password_policy() {
    use internals::password_policy_problems as policy_problems;
    assert!(!policy_problems("short", "a@b.c").is_empty());
    assert!(!policy_problems("password123", "a@b.c").is_empty());
    assert!(!policy_problems("Password1", "a@b.c").is_empty());
    assert!(!policy_problems("someone@school.test", "someone@school.test").is_empty());
    // Not on our short list, refused by the strength estimate (issue 13: these passed).
    for weak in [
        "123123123",
        "whatever",
        "liverpool",
        "xxxxxxxxxxxx",
        "qwertyuiop",
    ] {
        assert!(
            !policy_problems(weak, "a@b.c").is_empty(),
            "{weak} accepted"
        );
    }
    assert!(!policy_problems("ngozi.okafor1", "ngozi.okafor@school.test").is_empty());
    assert!(policy_problems("maths-lagos-exam-blue", "a@b.c").is_empty());
    assert!(!policy_problems(&"x".repeat(129), "a@b.c").is_empty());
    assert!(policy_problems("Correct-horse-battery-9", "a@b.c").is_empty());
}

#[test]
fn argon2_parameters_meet_owasp_minimum() {
    let hash = internals::hash_password("Correct-horse-battery-9");
    assert!(
        hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{hash}"
    );
}
