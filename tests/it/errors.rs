//! The error shape on every kind of bad request, and the API documents.

use axum::http::{Method, StatusCode};
use serde_json::json;
use sqlx::PgPool;

use crate::helpers::{TestApp, assert_error_shape};

#[sqlx::test(migrations = false)]
async fn bad_requests_get_the_error_shape(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.create_school("alpha").await;
    app.create_staff("alpha", "admin@alpha.test", "School Admin")
        .await;
    let t = app.as_staff("alpha", "admin@alpha.test").await;

    // Malformed JSON.
    let res = t
        .raw(
            Method::POST,
            "/api/v1/school/users/",
            Some("application/json"),
            "{\"email\": ",
        )
        .await;
    assert_eq!(assert_error_shape(&res, 400)["code"], "bad_request");

    // Wrong content type.
    let res = t
        .raw(Method::POST, "/api/v1/school/users/", None, "email=x")
        .await;
    assert_error_shape(&res, 415);

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
        let res = t.post("/api/v1/school/users/", body).await;
        let err = assert_error_shape(&res, 422);
        assert!(err["errors"][field].is_array(), "{err}");
    }

    // Over-long strings and bad values, each named.
    let res = t
        .post(
            "/api/v1/school/users/",
            json!({"email": "not-an-email", "full_name": "N".repeat(201), "password": "short"}),
        )
        .await;
    let err = assert_error_shape(&res, 422);
    for field in ["email", "full_name", "password"] {
        assert!(err["errors"][field].is_array(), "{field}: {err}");
    }
    let res = app
        .school_client("alpha")
        .post(
            "/api/v1/school/auth/login",
            json!({"email": "e".repeat(300), "password": "x"}),
        )
        .await;
    assert_error_shape(&res, 422);

    // Duplicate email is a field error, not a 500.
    let teacher = crate::helpers::fixtures::role_id(&t, "Teacher").await;
    let res = t.post("/api/v1/school/users/", json!({"email": "ADMIN@alpha.test", "full_name": "Dup", "password": "Long-enough-pass-1", "roles": [teacher]}))
        .await;
    assert!(assert_error_shape(&res, 422)["errors"]["email"].is_array());
    // A staff account needs a role.
    let res = t.post("/api/v1/school/users/", json!({"email": "norole@alpha.test", "full_name": "No Role", "password": "Long-enough-pass-1"}))
        .await;
    assert!(assert_error_shape(&res, 422)["errors"]["roles"].is_array());

    // Unknown route, wrong method, non-numeric id, bad query.
    assert_error_shape(&t.get("/api/v1/school/nothing-here/").await, 404);
    assert_error_shape(
        &app.platform_client().get("/api/v1/system/nothing/").await,
        404,
    );
    assert_error_shape(&t.delete("/api/v1/school/users/").await, 405);
    assert_error_shape(&t.get("/api/v1/school/users/abc/").await, 404);
    assert_error_shape(&t.get("/api/v1/school/users/?is_active=maybe").await, 422);

    // No credentials.
    let res = app
        .school_client("alpha")
        .get("/api/v1/school/users/")
        .await;
    assert_eq!(assert_error_shape(&res, 401)["code"], "not_authenticated");
    let res = app.platform_client().get("/api/v1/system/schools/").await;
    assert_error_shape(&res, 401);
}

/// Every documented operation is well formed (unique id, responses described, path
/// parameters declared, a body where one is taken), and the docs pages are served. Which
/// operations there are is pinned by `served_openapi_document_matches_the_snapshot`.
#[sqlx::test(migrations = false)]
async fn openapi_document_is_well_formed_and_served(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let res = app.platform_client().get("/api/schema/").await;
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
            // Actions that take no input: signing out, setting up exams, retrying a batch,
            // a notice's publish, withdraw, re-issue and acknowledge, a guardian's link code.
            let bodiless = [
                "/link-code/",
                "/logout",
                "/generate/",
                "/retry/",
                "/publish/",
                "/withdraw/",
                "/reissue/",
                "/acknowledge/",
            ];
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
    let swagger = app.platform_client().get("/api/docs/").await;
    assert_eq!(swagger.status, StatusCode::OK);
    assert!(swagger.text().contains("swagger"));
    let redoc = app.platform_client().get("/api/redoc/").await;
    assert!(redoc.text().contains("/static/vendor/redoc.standalone.js"));
    let js = app
        .platform_client()
        .get("/static/vendor/redoc.standalone.js")
        .await;
    assert_eq!(js.status, StatusCode::OK);
    assert!(js.body.len() > 100_000);
}

/// The served OpenAPI document, whole, against `snapshots/it__errors__openapi.snap`: a
/// changed endpoint, schema or description shows up as a diff to review. Keys are sorted
/// and the crate version is masked, so the snapshot changes only when the API does. (To
/// accept a deliberate change: `INSTA_UPDATE=always cargo test -- served_openapi`, then
/// review and commit the file. With `CI=true` nothing is written and a mismatch fails.)
#[sqlx::test(migrations = false)]
async fn served_openapi_document_matches_the_snapshot(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let res = app.platform_client().get("/api/schema/").await;
    assert_eq!(res.status, StatusCode::OK);
    let mut doc = res.json();
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
    doc["info"]["version"] = json!("[version]");
    let mut settings = insta::Settings::clone_current();
    settings.set_sort_maps(true);
    settings.set_prepend_module_to_snapshot(true);
    settings.bind(|| insta::assert_json_snapshot!("openapi", doc));
}

#[sqlx::test(migrations = false)]
async fn health_and_readiness(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let res = app.client("anything.example").get("/healthz").await;
    assert_eq!(res.status, StatusCode::OK);
    let res = app.platform_client().get("/readyz").await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.json()["database"], "ok");
    let metrics = app.platform_client().get("/metrics").await;
    assert_eq!(metrics.status, StatusCode::OK);
}

#[test]
fn stored_statuses_are_sent_as_their_stored_text() {
    use schoolyard::{
        assessment::{batch::BatchStatus, exams::ExamSessionStatus},
        students::db::StudentStatus,
    };
    let json = |v: serde_json::Value| v.as_str().unwrap_or_default().to_owned();
    for s in BatchStatus::ALL {
        assert_eq!(json(serde_json::to_value(s).unwrap()), s.as_str());
    }
    for s in ExamSessionStatus::ALL {
        assert_eq!(json(serde_json::to_value(s).unwrap()), s.as_str());
    }
    for s in StudentStatus::ALL {
        assert_eq!(json(serde_json::to_value(s).unwrap()), s.as_str());
    }
}
