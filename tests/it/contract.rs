//! Issue 14, item 6: the API answers what its document says. The full check is the
//! schemathesis run in `scripts/contract` (CI runs it); these tests walk the served document
//! for the rules that run enforces and pin the behaviours it found.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::{TestApp, assert_error_shape, fixtures::school_with_year};

fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            ops.push((method.clone(), path.clone(), op.clone()));
        }
    }
    ops
}

/// Every status the shared layers can give is on every operation; every body is required;
/// no list answers a bare array; create bodies require what the handler requires.
#[sqlx::test(migrations = false)]
async fn the_document_names_every_answer_and_every_list_pages(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let doc = app.platform_client().get("/api/schema/").await.json();
    for (method, path, op) in operations(&doc) {
        let responses = op["responses"].as_object().expect("responses");
        let secured = op["security"].as_array().is_some_and(|s| !s.is_empty());
        let mut expected = vec!["400", "414", "422", "503"];
        if secured {
            expected.extend(["401", "403", "404"]);
        }
        if op["requestBody"].is_object() {
            expected.extend(["408", "413", "415"]);
            assert_eq!(op["requestBody"]["required"], true, "{method} {path}");
        }
        if method != "get" {
            expected.push("409");
        }
        for status in expected {
            assert!(
                responses.contains_key(status),
                "{method} {path} does not document {status}"
            );
        }
        let ok =
            &responses.get("200").unwrap_or(&Value::Null)["content"]["application/json"]["schema"];
        // Downloads (the register as CSV or JSON) are files, and a class's comment sheet is
        // one document saved whole (PUT), not lists.
        if method == "get" && !path.ends_with("/export/") && !path.ends_with("/comments/") {
            assert_ne!(
                ok["type"], "array",
                "{method} {path} answers a bare array, not a page"
            );
        }
    }
    let schemas = &doc["components"]["schemas"];
    let session_create = &schemas["SessionInputCreate"];
    assert_eq!(
        session_create["required"],
        json!(["name", "starts_on", "ends_on"])
    );
    assert_eq!(session_create["properties"]["name"]["type"], "string");
    assert_eq!(
        doc["paths"]["/api/v1/school/sessions/"]["post"]["requestBody"]["content"]["application/json"]
            ["schema"]["$ref"],
        "#/components/schemas/SessionInputCreate"
    );
    // Updates leave any field out.
    assert!(schemas["SessionInput"]["required"].is_null());
    // Enumerations are in the schema, not only in the handler.
    assert_eq!(
        schemas["StudentInput"]["properties"]["sex"]["pattern"],
        "^(female|male)$"
    );
    // Swagger UI can aim at a school's address.
    let servers = doc["servers"].as_array().expect("servers");
    assert!(
        servers
            .iter()
            .any(|s| s["url"] == "{scheme}://{school}.{domain}"),
        "{servers:?}"
    );
    assert!(
        doc["info"]["description"]
            .as_str()
            .unwrap_or_default()
            .contains("Finding a school's address")
    );
}

/// The short lists (sessions, subjects, roles…) answer `{count, next, previous, results}`
/// and take `page` and `page_size` like every other list.
#[sqlx::test(migrations = false)]
async fn short_lists_answer_pages(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let admin = school_with_year(&app, "alpha").await;
    let all = admin.get("/api/v1/school/subjects/").await.json();
    let count = all["count"].as_i64().expect("count");
    assert!(count >= 2, "{all}");
    assert_eq!(
        all["results"].as_array().map(Vec::len),
        Some(count as usize)
    );
    let first = admin
        .get("/api/v1/school/subjects/?page_size=1")
        .await
        .json();
    assert_eq!(first["count"], count);
    assert_eq!(first["results"].as_array().map(Vec::len), Some(1));
    assert_eq!(first["next"], "/api/v1/school/subjects/?page_size=1&page=2");
    let second = admin
        .get("/api/v1/school/subjects/?page_size=1&page=2")
        .await
        .json();
    assert_ne!(second["results"][0]["id"], first["results"][0]["id"]);
    for path in [
        "/api/v1/school/sessions/",
        "/api/v1/school/forms/",
        "/api/v1/school/classes/",
        "/api/v1/school/roles/",
        "/api/v1/school/permissions/",
        "/api/v1/school/exam-sessions/",
        "/api/v1/school/comment-bank/",
        "/api/v1/school/rating-traits/",
    ] {
        let page = admin.get(path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        assert!(page.json()["results"].is_array(), "{path}");
    }
    let res = admin.get("/api/v1/school/roles/?page=0").await;
    assert!(assert_error_shape(&res, 422)["errors"]["page"].is_array());
}

/// What schemathesis found: a struct was read from a JSON array, `2.0` was refused for an
/// integer, and an upload without a boundary got axum's plain-text 400.
#[sqlx::test(migrations = false)]
async fn bodies_are_read_as_the_schema_says(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let admin = school_with_year(&app, "alpha").await;
    let forms = admin.get("/api/v1/school/forms/").await.json();
    let form = forms["results"][0]["id"].as_i64().expect("a form");
    let before = admin
        .get(&format!("/api/v1/school/forms/{form}/"))
        .await
        .json();

    let res = admin
        .patch(
            &format!("/api/v1/school/forms/{form}/"),
            json!([null, null]),
        )
        .await;
    assert!(assert_error_shape(&res, 422)["errors"]["non_field_errors"].is_array());
    let after = admin
        .get(&format!("/api/v1/school/forms/{form}/"))
        .await
        .json();
    assert_eq!(before, after);

    // JSON counts 7.0 as the integer 7.
    let res = admin
        .post(
            "/api/v1/school/forms/",
            json!({"name": "SSS 9", "ordinal": 7.0}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    assert_eq!(res.json()["ordinal"], 7);
    let res = admin
        .post(
            "/api/v1/school/forms/",
            json!({"name": "SSS 10", "ordinal": 7.5}),
        )
        .await;
    assert_error_shape(&res, 422);

    let res = admin
        .raw(
            Method::PUT,
            "/api/v1/school/settings/logo/",
            Some("multipart/form-data"),
            "logo",
        )
        .await;
    assert_error_shape(&res, 415);
}

/// Swagger UI at the main address may call a school's address; no other site may.
#[sqlx::test(migrations = false)]
async fn only_the_main_address_may_call_the_api_from_a_browser(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.create_school("alpha").await;
    let preflight = |origin: &str| {
        app.client("alpha.localhost")
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization,content-type",
            )
    };
    let res = preflight("http://localhost:8000")
        .raw(Method::OPTIONS, "/api/v1/school/subjects/", None, "")
        .await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(
        res.headers
            .get("access-control-allow-origin")
            .and_then(|v| v.to_str().ok()),
        Some("http://localhost:8000")
    );
    // Tokens only: no cookies cross.
    assert!(
        res.headers
            .get("access-control-allow-credentials")
            .is_none()
    );
    let res = preflight("https://evil.example")
        .raw(Method::OPTIONS, "/api/v1/school/subjects/", None, "")
        .await;
    assert!(res.headers.get("access-control-allow-origin").is_none());
}
