//! Isolation between schools and request tenant resolution (DESIGN §2).

use axum::http::{Method, StatusCode};
use serde_json::json;
use sqlx::PgPool;

use crate::helpers::{TestApp, assert_error_shape, host};

async fn two_schools(app: &TestApp) -> (String, String, i64) {
    app.create_school("alpha").await;
    app.create_school("beta").await;
    app.create_staff("alpha", "admin@alpha.test", "School Admin")
        .await;
    let b_teacher = app
        .create_staff("beta", "teacher@beta.test", "Teacher")
        .await;
    app.create_staff("beta", "admin@beta.test", "School Admin")
        .await;
    let a = app.school_token("alpha", "admin@alpha.test").await;
    let b = app.school_token("beta", "admin@beta.test").await;
    (a, b, b_teacher)
}

#[sqlx::test(migrations = false)]
async fn jwt_of_a_at_b_host_sees_only_a(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (a, _b, _) = two_schools(&app).await;
    let res = app
        .call(
            Method::GET,
            &host("beta"),
            "/api/v1/school/users/",
            Some(&a),
            None,
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
    let emails: Vec<String> = res.json()["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["email"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(emails, vec!["admin@alpha.test"]);
    let me = app
        .call(
            Method::GET,
            &host("beta"),
            "/api/v1/school/auth/me",
            Some(&a),
            None,
        )
        .await;
    assert_eq!(me.json()["school"]["code"], "alpha");
}

#[sqlx::test(migrations = false)]
async fn school_admin_sending_x_schema_name_is_refused(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (a, _b, _) = two_schools(&app).await;
    for method in [Method::GET, Method::POST] {
        let res = app
            .call_with(
                method,
                &host("alpha"),
                "/api/v1/school/users/",
                Some(&a),
                Some(json!({"email": "x@beta.test", "full_name": "X", "password": "Long-enough-pass-1", "roles": []})),
                &[("x-schema-name", "beta")],
            )
            .await;
        assert_error_shape(&res, 403);
    }
    // Without a token the header is refused too.
    let res = app
        .call_with(
            Method::GET,
            &host("alpha"),
            "/api/v1/school/users/",
            None,
            None,
            &[("x-schema-name", "beta")],
        )
        .await;
    assert_error_shape(&res, 403);
    let count: i64 =
        sqlx::query_scalar("SELECT count(*) FROM public.users WHERE email = 'x@beta.test'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(count, 0);
}

#[sqlx::test(migrations = false)]
async fn ids_of_b_never_resolve_through_a(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (a, _b, b_teacher) = two_schools(&app).await;
    let path = format!("/api/v1/school/users/{b_teacher}/");
    let get = app
        .call(Method::GET, &host("alpha"), &path, Some(&a), None)
        .await;
    assert_error_shape(&get, 404);
    let missing = app
        .call(
            Method::GET,
            &host("alpha"),
            "/api/v1/school/users/999999/",
            Some(&a),
            None,
        )
        .await;
    assert_eq!(get.json(), missing.json(), "same 404 as a missing id");
    let patch = app
        .call(
            Method::PATCH,
            &host("alpha"),
            &path,
            Some(&a),
            Some(json!({"full_name": "Hijacked"})),
        )
        .await;
    assert_error_shape(&patch, 404);
    let delete = app
        .call(Method::DELETE, &host("alpha"), &path, Some(&a), None)
        .await;
    assert_error_shape(&delete, 404);
    let (name, active): (String, bool) =
        sqlx::query_as("SELECT full_name, is_active FROM public.users WHERE id = $1")
            .bind(b_teacher)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(name, "Test Staff");
    assert!(active);
    // B's role ids are not A's either: assigning one is a validation error.
    let b_role: i64 = sqlx::query_scalar("SELECT max(id) FROM beta.roles")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    sqlx::query("INSERT INTO beta.roles (name, created_at, updated_at) VALUES ('Only in beta', now(), now())")
        .execute(&app.pool)
        .await
        .unwrap();
    let res = app
        .call(
            Method::POST,
            &host("alpha"),
            "/api/v1/school/users/",
            Some(&a),
            Some(json!({"email": "new@alpha.test", "full_name": "New", "password": "Long-enough-pass-1", "roles": [b_role + 1]})),
        )
        .await;
    let body = assert_error_shape(&res, 422);
    assert!(body["errors"]["roles"].is_array());
}

#[sqlx::test(migrations = false)]
async fn superadmin_may_choose_a_school_with_x_schema_name(pool: PgPool) {
    let app = TestApp::new(pool).await;
    two_schools(&app).await;
    app.create_superadmin("ops@platform.test").await;
    let t = app.platform_token("ops@platform.test").await;
    let res = app
        .call_with(
            Method::GET,
            "localhost",
            "/api/v1/school/users/",
            Some(&t),
            None,
            &[("x-schema-name", "beta")],
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert_eq!(res.json()["count"], 2);
    let res = app
        .call_with(
            Method::GET,
            "localhost",
            "/api/v1/school/users/",
            Some(&t),
            None,
            &[("x-schema-name", "nosuch")],
        )
        .await;
    assert_error_shape(&res, 404);
}

#[sqlx::test(migrations = false)]
async fn unknown_host_is_404_and_disabled_school_403(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (a, _b, _) = two_schools(&app).await;
    let res = app
        .call(
            Method::POST,
            "nowhere.localhost",
            "/api/v1/school/auth/login",
            None,
            Some(json!({"email": "a@b.c", "password": "x"})),
        )
        .await;
    assert_error_shape(&res, 404);
    let page = app
        .call(Method::GET, "nowhere.localhost:8080", "/login", None, None)
        .await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(page.text().contains("<html"), "HTML page for browsers");

    app.create_superadmin("ops@platform.test").await;
    let ops = app.platform_token("ops@platform.test").await;
    let alpha_id: i64 = sqlx::query_scalar("SELECT id FROM public.clients WHERE code = 'alpha'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let res = app
        .call(
            Method::PATCH,
            "localhost",
            &format!("/api/v1/system/schools/{alpha_id}/"),
            Some(&ops),
            Some(json!({"is_active": false})),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let res = app
        .call(
            Method::GET,
            &host("alpha"),
            "/api/v1/school/users/",
            Some(&a),
            None,
        )
        .await;
    let body = assert_error_shape(&res, 403);
    assert_eq!(body["code"], "school_disabled");
    assert!(body["detail"].as_str().unwrap().contains("disabled"));
    let res = app
        .call(Method::GET, &host("alpha"), "/login", None, None)
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    // Data kept: re-enabling brings everything back.
    app.call(
        Method::PATCH,
        "localhost",
        &format!("/api/v1/system/schools/{alpha_id}/"),
        Some(&ops),
        Some(json!({"is_active": true})),
    )
    .await;
    let res = app
        .call(
            Method::GET,
            &host("alpha"),
            "/api/v1/school/users/",
            Some(&a),
            None,
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.json()["count"], 1);
}

/// Many interleaved requests for two schools over a small pool: each sees only its own
/// school, so no connection carried a search_path from one request into another.
#[sqlx::test(migrations = false)]
async fn pooled_connections_never_carry_a_search_path(pool: PgPool) {
    let mut config = schoolyard::config::Config::for_tests("");
    config.db_max_connections = 3;
    let small = sqlx::postgres::PgPoolOptions::new()
        .max_connections(3)
        .connect_with(pool.connect_options().as_ref().clone())
        .await
        .unwrap();
    let app = TestApp::with_config(small, config).await;
    let (a, b, _) = two_schools(&app).await;
    let app = std::sync::Arc::new(app);
    let mut tasks = Vec::new();
    for i in 0..60 {
        let app = app.clone();
        let (token, code, expected) = if i % 2 == 0 {
            (a.clone(), "alpha", 1)
        } else {
            (b.clone(), "beta", 2)
        };
        tasks.push(tokio::spawn(async move {
            let res = app
                .call(
                    Method::GET,
                    &host(code),
                    "/api/v1/school/users/",
                    Some(&token),
                    None,
                )
                .await;
            assert_eq!(res.status, StatusCode::OK);
            let body = res.json();
            assert_eq!(body["count"], expected, "school {code} saw {body}");
            for u in body["results"].as_array().unwrap() {
                assert!(
                    u["email"]
                        .as_str()
                        .unwrap()
                        .ends_with(&format!("@{code}.test"))
                );
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    // And a connection straight from the pool has the default search_path.
    for _ in 0..3 {
        let path: String = sqlx::query_scalar("SHOW search_path")
            .fetch_one(&app.pool)
            .await
            .unwrap();
        assert!(
            !path.contains("alpha") && !path.contains("beta"),
            "leaked search_path: {path}"
        );
    }
    app.pool.close().await;
}

#[sqlx::test(migrations = false)]
async fn domain_cache_follows_changes(pool: PgPool) {
    let app = TestApp::new(pool).await;
    two_schools(&app).await;
    app.create_superadmin("ops@platform.test").await;
    let ops = app.platform_token("ops@platform.test").await;
    // Warm the cache with a miss, then add the domain: the new host works at once.
    let res = app
        .call(Method::GET, "portal.alpha.test", "/login", None, None)
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    let alpha_id: i64 = sqlx::query_scalar("SELECT id FROM public.clients WHERE code = 'alpha'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let res = app
        .call(
            Method::POST,
            "localhost",
            &format!("/api/v1/system/schools/{alpha_id}/domains/"),
            Some(&ops),
            Some(json!({"domain": "portal.alpha.test"})),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    let res = app
        .call(Method::GET, "portal.alpha.test", "/login", None, None)
        .await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(res.text().contains("Alpha School"));
}
