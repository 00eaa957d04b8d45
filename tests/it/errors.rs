//! The error shape on every kind of bad request, and the API documents.

use axum::{
    body::Body,
    http::{Method, Request, StatusCode, header},
};
use serde_json::json;
use sqlx::PgPool;

use crate::helpers::{TestApp, assert_error_shape, host};

#[sqlx::test(migrations = false)]
async fn bad_requests_get_the_error_shape(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.create_school("alpha").await;
    app.create_staff("alpha", "admin@alpha.test", "School Admin")
        .await;
    let t = app.school_token("alpha", "admin@alpha.test").await;

    // Malformed JSON.
    let req = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/school/users/")
        .header(header::HOST, host("alpha"))
        .header(header::AUTHORIZATION, format!("Bearer {t}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from("{\"email\": "))
        .unwrap();
    assert_eq!(
        assert_error_shape(&app.send(req).await, 400)["code"],
        "bad_request"
    );

    // Wrong content type.
    let req = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/school/users/")
        .header(header::HOST, host("alpha"))
        .header(header::AUTHORIZATION, format!("Bearer {t}"))
        .body(Body::from("email=x"))
        .unwrap();
    assert_error_shape(&app.send(req).await, 415);

    // Unknown field, wrong type, missing field.
    for (body, field) in [
        (
            json!({"email": "a@alpha.test", "full_name": "A", "password": "Long-enough-pass-1", "is_admin": true}),
            "is_admin",
        ),
        (
            json!({"email": "a@alpha.test", "full_name": 5, "password": "Long-enough-pass-1"}),
            "full_name",
        ),
        (
            json!({"email": "a@alpha.test", "password": "Long-enough-pass-1"}),
            "full_name",
        ),
    ] {
        let res = app
            .call(
                Method::POST,
                &host("alpha"),
                "/api/v1/school/users/",
                Some(&t),
                Some(body),
            )
            .await;
        let err = assert_error_shape(&res, 422);
        assert!(err["errors"][field].is_array(), "{err}");
    }

    // Over-long strings and bad values, each named.
    let res = app
        .call(
            Method::POST,
            &host("alpha"),
            "/api/v1/school/users/",
            Some(&t),
            Some(
                json!({"email": "not-an-email", "full_name": "N".repeat(201), "password": "short"}),
            ),
        )
        .await;
    let err = assert_error_shape(&res, 422);
    for field in ["email", "full_name", "password"] {
        assert!(err["errors"][field].is_array(), "{field}: {err}");
    }
    let res = app
        .call(
            Method::POST,
            &host("alpha"),
            "/api/v1/school/auth/login",
            None,
            Some(json!({"email": "e".repeat(300), "password": "x"})),
        )
        .await;
    assert_error_shape(&res, 422);

    // Duplicate email is a field error, not a 500.
    let res = app
        .call(Method::POST, &host("alpha"), "/api/v1/school/users/", Some(&t),
              Some(json!({"email": "ADMIN@alpha.test", "full_name": "Dup", "password": "Long-enough-pass-1"})))
        .await;
    assert!(assert_error_shape(&res, 422)["errors"]["email"].is_array());

    // Unknown route, wrong method, non-numeric id, bad query.
    assert_error_shape(
        &app.call(
            Method::GET,
            &host("alpha"),
            "/api/v1/school/nothing-here/",
            Some(&t),
            None,
        )
        .await,
        404,
    );
    assert_error_shape(
        &app.call(
            Method::GET,
            "localhost",
            "/api/v1/system/nothing/",
            None,
            None,
        )
        .await,
        404,
    );
    assert_error_shape(
        &app.call(
            Method::DELETE,
            &host("alpha"),
            "/api/v1/school/users/",
            Some(&t),
            None,
        )
        .await,
        405,
    );
    assert_error_shape(
        &app.call(
            Method::GET,
            &host("alpha"),
            "/api/v1/school/users/abc/",
            Some(&t),
            None,
        )
        .await,
        404,
    );
    assert_error_shape(
        &app.call(
            Method::GET,
            &host("alpha"),
            "/api/v1/school/users/?is_active=maybe",
            Some(&t),
            None,
        )
        .await,
        422,
    );

    // No credentials.
    let res = app
        .call(
            Method::GET,
            &host("alpha"),
            "/api/v1/school/users/",
            None,
            None,
        )
        .await;
    assert_eq!(assert_error_shape(&res, 401)["code"], "not_authenticated");
    let res = app
        .call(
            Method::GET,
            "localhost",
            "/api/v1/system/schools/",
            None,
            None,
        )
        .await;
    assert_error_shape(&res, 401);
}

#[sqlx::test(migrations = false)]
async fn openapi_document_describes_every_endpoint(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let res = app
        .call(Method::GET, "localhost", "/api/schema/", None, None)
        .await;
    assert_eq!(res.status, StatusCode::OK);
    let doc = res.json();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    assert!(doc["components"]["schemas"]["ErrorBody"].is_object());
    let paths = doc["paths"].as_object().unwrap();
    for expected in [
        "/api/v1/system/auth/login",
        "/api/v1/system/auth/refresh",
        "/api/v1/system/schools/",
        "/api/v1/system/schools/{id}/",
        "/api/v1/system/schools/{id}/domains/",
        "/api/v1/system/schools/{id}/setup/",
        "/api/v1/system/users/",
        "/api/v1/school/auth/login",
        "/api/v1/school/auth/refresh",
        "/api/v1/school/auth/logout",
        "/api/v1/school/auth/me",
        "/api/v1/school/users/",
        "/api/v1/school/users/{id}/",
        "/api/v1/school/roles/",
        "/api/v1/school/permissions/",
        "/api/v1/school/audit/",
    ] {
        assert!(paths.contains_key(expected), "missing {expected}");
    }
    let mut operation_ids = std::collections::HashSet::new();
    for (path, ops) in paths {
        for (method, op) in ops.as_object().unwrap() {
            let id = op["operationId"].as_str().unwrap_or_default().to_owned();
            assert!(
                operation_ids.insert(id.clone()),
                "duplicate operationId {id}"
            );
            let responses = op["responses"].as_object().unwrap();
            assert!(!responses.is_empty(), "{method} {path} has no responses");
            for (status, r) in responses {
                assert!(
                    r["description"].is_string(),
                    "{method} {path} {status} has no description"
                );
            }
            let declared: Vec<&str> = op["parameters"]
                .as_array()
                .map(|ps| {
                    ps.iter()
                        .filter(|p| p["in"] == "path")
                        .filter_map(|p| p["name"].as_str())
                        .collect()
                })
                .unwrap_or_default();
            for segment in path.split('/').filter(|s| s.starts_with('{')) {
                let name = segment.trim_matches(|c| c == '{' || c == '}');
                assert!(
                    declared.contains(&name),
                    "{method} {path} does not declare {name}"
                );
            }
            let in_path = op["parameters"]
                .as_array()
                .map(|ps| ps.iter().filter(|p| p["in"] == "path").count())
                .unwrap_or(0);
            assert_eq!(
                in_path,
                path.matches('{').count(),
                "{method} {path}: stray path parameters"
            );
            // Actions that take no input: signing out, setting up exams, retrying a batch.
            let bodiless = ["/logout", "/generate/", "/retry/"];
            if matches!(method.as_str(), "post" | "put" | "patch")
                && !bodiless.iter().any(|b| path.ends_with(b))
            {
                assert!(
                    op["requestBody"].is_object(),
                    "{method} {path} has no request body"
                );
            }
        }
    }
    // Docs pages are served from the binary.
    let swagger = app
        .call(Method::GET, "localhost", "/api/docs/", None, None)
        .await;
    assert_eq!(swagger.status, StatusCode::OK);
    assert!(swagger.text().contains("swagger"));
    let redoc = app
        .call(Method::GET, "localhost", "/api/redoc/", None, None)
        .await;
    assert!(redoc.text().contains("/static/vendor/redoc.standalone.js"));
    let js = app
        .call(
            Method::GET,
            "localhost",
            "/static/vendor/redoc.standalone.js",
            None,
            None,
        )
        .await;
    assert_eq!(js.status, StatusCode::OK);
    assert!(js.body.len() > 100_000);
}

#[sqlx::test(migrations = false)]
async fn health_and_readiness(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let res = app
        .call(Method::GET, "anything.example", "/healthz", None, None)
        .await;
    assert_eq!(res.status, StatusCode::OK);
    let res = app
        .call(Method::GET, "localhost", "/readyz", None, None)
        .await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.json()["database"], "ok");
    let metrics = app
        .call(Method::GET, "localhost", "/metrics", None, None)
        .await;
    assert_eq!(metrics.status, StatusCode::OK);
}
