//! Method -> permission mapping, roles and the audit log.

use axum::http::{Method, StatusCode};
use serde_json::json;
use sqlx::PgPool;

use crate::helpers::{TestApp, assert_error_shape, host};

async fn setup(app: &TestApp) -> (String, i64) {
    app.create_school("alpha").await;
    app.create_staff("alpha", "admin@alpha.test", "School Admin")
        .await;
    let target = app
        .create_staff("alpha", "teacher@alpha.test", "Teacher")
        .await;
    (app.school_token("alpha", "admin@alpha.test").await, target)
}

/// A user with a role holding no permissions.
async fn powerless(app: &TestApp, admin: &str) -> String {
    let role = app
        .call(
            Method::POST,
            &host("alpha"),
            "/api/v1/school/roles/",
            Some(admin),
            Some(json!({"name": "Visitor", "permissions": []})),
        )
        .await;
    assert_eq!(role.status, StatusCode::CREATED, "{}", role.text());
    let role_id = role.json()["id"].as_i64().unwrap();
    let res = app
        .call(
            Method::POST,
            &host("alpha"),
            "/api/v1/school/users/",
            Some(admin),
            Some(json!({"email": "visitor@alpha.test", "full_name": "Vera Visitor", "password": crate::helpers::PASSWORD, "roles": [role_id]})),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    app.school_token("alpha", "visitor@alpha.test").await
}

#[sqlx::test(migrations = false)]
async fn a_user_without_permissions_gets_403_on_each_method(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (admin, target) = setup(&app).await;
    let t = powerless(&app, &admin).await;
    let user = format!("/api/v1/school/users/{target}/");
    let cases: Vec<(Method, &str, Option<serde_json::Value>)> = vec![
        (Method::GET, "/api/v1/school/users/", None),
        (
            Method::POST,
            "/api/v1/school/users/",
            Some(
                json!({"email": "n@alpha.test", "full_name": "N", "password": "Long-enough-pass-1"}),
            ),
        ),
        (Method::GET, user.as_str(), None),
        (
            Method::PUT,
            user.as_str(),
            Some(json!({"full_name": "X", "is_active": true, "roles": []})),
        ),
        (
            Method::PATCH,
            user.as_str(),
            Some(json!({"full_name": "X"})),
        ),
        (Method::DELETE, user.as_str(), None),
        (Method::GET, "/api/v1/school/roles/", None),
        (
            Method::POST,
            "/api/v1/school/roles/",
            Some(json!({"name": "Mine", "permissions": ["delete_users"]})),
        ),
        (Method::GET, "/api/v1/school/permissions/", None),
        (Method::GET, "/api/v1/school/audit/", None),
    ];
    for (method, path, body) in cases {
        let res = app
            .call(method.clone(), &host("alpha"), path, Some(&t), body)
            .await;
        let err = assert_error_shape(&res, 403);
        assert_eq!(err["code"], "permission_denied", "{method} {path}");
    }
    // Nothing changed.
    let name: String = sqlx::query_scalar("SELECT full_name FROM public.users WHERE id = $1")
        .bind(target)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(name, "Test Staff");
    // `me` needs no permission.
    let me = app
        .call(
            Method::GET,
            &host("alpha"),
            "/api/v1/school/auth/me",
            Some(&t),
            None,
        )
        .await;
    assert_eq!(me.status, StatusCode::OK);
}

#[sqlx::test(migrations = false)]
async fn each_method_needs_its_own_permission(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (admin, target) = setup(&app).await;
    let t = powerless(&app, &admin).await;
    let role_id: i64 = sqlx::query_scalar("SELECT id FROM alpha.roles WHERE name = 'Visitor'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let grant = |perms: serde_json::Value| {
        let app = &app;
        let admin = admin.clone();
        async move {
            let res = app
                .call(
                    Method::PATCH,
                    &host("alpha"),
                    &format!("/api/v1/school/roles/{role_id}/"),
                    Some(&admin),
                    Some(json!({"permissions": perms})),
                )
                .await;
            assert_eq!(res.status, StatusCode::OK, "{}", res.text());
        }
    };
    let user = format!("/api/v1/school/users/{target}/");
    grant(json!(["view_users"])).await;
    assert_eq!(
        app.call(Method::GET, &host("alpha"), &user, Some(&t), None)
            .await
            .status,
        StatusCode::OK
    );
    assert_error_shape(
        &app.call(
            Method::PATCH,
            &host("alpha"),
            &user,
            Some(&t),
            Some(json!({"full_name": "Changed"})),
        )
        .await,
        403,
    );
    grant(json!(["view_users", "change_users"])).await;
    let res = app
        .call(
            Method::PATCH,
            &host("alpha"),
            &user,
            Some(&t),
            Some(json!({"full_name": "Changed"})),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert_error_shape(
        &app.call(Method::DELETE, &host("alpha"), &user, Some(&t), None)
            .await,
        403,
    );
    // Unknown permissions cannot be granted.
    let res = app
        .call(
            Method::PATCH,
            &host("alpha"),
            &format!("/api/v1/school/roles/{role_id}/"),
            Some(&admin),
            Some(json!({"permissions": ["launch_rockets"]})),
        )
        .await;
    assert!(assert_error_shape(&res, 422)["errors"]["permissions"].is_array());
}

#[sqlx::test(migrations = false)]
async fn builtin_roles_are_editable_not_deletable(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (admin, _) = setup(&app).await;
    let roles = app
        .call(
            Method::GET,
            &host("alpha"),
            "/api/v1/school/roles/",
            Some(&admin),
            None,
        )
        .await
        .json();
    let teacher = roles
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "Teacher")
        .unwrap()
        .clone();
    assert!(
        teacher["permissions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p == "add_marks")
    );
    let id = teacher["id"].as_i64().unwrap();
    let res = app
        .call(
            Method::PATCH,
            &host("alpha"),
            &format!("/api/v1/school/roles/{id}/"),
            Some(&admin),
            Some(json!({"description": "Subject teachers"})),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
    let res = app
        .call(
            Method::DELETE,
            &host("alpha"),
            &format!("/api/v1/school/roles/{id}/"),
            Some(&admin),
            None,
        )
        .await;
    assert_error_shape(&res, 409);
    let dup = app
        .call(
            Method::POST,
            &host("alpha"),
            "/api/v1/school/roles/",
            Some(&admin),
            Some(json!({"name": "teacher", "permissions": []})),
        )
        .await;
    assert!(assert_error_shape(&dup, 422)["errors"]["name"].is_array());
    let perms = app
        .call(
            Method::GET,
            &host("alpha"),
            "/api/v1/school/permissions/",
            Some(&admin),
            None,
        )
        .await
        .json();
    assert!(
        perms
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["codename"] == "delete_students")
    );
}

#[sqlx::test(migrations = false)]
async fn audit_log_records_changes_with_filters(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (admin, target) = setup(&app).await;
    let res = app
        .call(
            Method::PATCH,
            &host("alpha"),
            &format!("/api/v1/school/users/{target}/"),
            Some(&admin),
            Some(json!({"full_name": "Ibrahim Musa"})),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
    let log = app
        .call(
            Method::GET,
            &host("alpha"),
            &format!("/api/v1/school/audit/?entity=user&entity_id={target}&action=update"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(log.status, StatusCode::OK, "{}", log.text());
    let body = log.json();
    assert_eq!(body["count"], 1);
    let row = &body["results"][0];
    assert_eq!(
        row["changes"]["full_name"],
        json!({"from": "Test Staff", "to": "Ibrahim Musa"})
    );
    assert_eq!(row["actor_email"], "admin@alpha.test");
    assert!(row["request_id"].is_string());
    let today = chrono::Utc::now().date_naive();
    let filtered = app
        .call(
            Method::GET,
            &host("alpha"),
            &format!("/api/v1/school/audit/?date_from={today}&date_to={today}"),
            Some(&admin),
            None,
        )
        .await
        .json();
    assert!(
        filtered["count"].as_i64().unwrap() >= 2,
        "login rows and the update: {filtered}"
    );
    let bad = app
        .call(
            Method::GET,
            &host("alpha"),
            "/api/v1/school/audit/?date_from=yesterday",
            Some(&admin),
            None,
        )
        .await;
    assert_error_shape(&bad, 422);
}

#[sqlx::test(migrations = false)]
async fn platform_operator_role_limits_the_system_api(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.create_superadmin("root@platform.test").await;
    let root = app.platform_token("root@platform.test").await;
    let roles = app
        .call(
            Method::GET,
            "localhost",
            "/api/v1/system/roles/",
            Some(&root),
            None,
        )
        .await
        .json();
    let support = roles
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "Support")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let res = app
        .call(Method::POST, "localhost", "/api/v1/system/users/", Some(&root),
              Some(json!({"email": "support@platform.test", "full_name": "Sam Support", "password": crate::helpers::PASSWORD, "roles": [support]})))
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    // An operator without any role could do nothing: refused.
    let res = app
        .call(Method::POST, "localhost", "/api/v1/system/users/", Some(&root),
              Some(json!({"email": "nobody@platform.test", "full_name": "No Body", "password": crate::helpers::PASSWORD})))
        .await;
    assert!(assert_error_shape(&res, 422)["errors"]["roles"].is_array());
    let t = app.platform_token("support@platform.test").await;
    assert_eq!(
        app.call(
            Method::GET,
            "localhost",
            "/api/v1/system/schools/",
            Some(&t),
            None
        )
        .await
        .status,
        StatusCode::OK
    );
    let res = app
        .call(
            Method::POST,
            "localhost",
            "/api/v1/system/schools/",
            Some(&t),
            Some(json!({"name": "Nope", "code": "nope"})),
        )
        .await;
    assert_error_shape(&res, 403);
    let res = app
        .call(
            Method::GET,
            "localhost",
            "/api/v1/school/users/",
            Some(&t),
            None,
        )
        .await;
    assert_error_shape(&res, 404);
    let res = app
        .call_with(
            Method::GET,
            "localhost",
            "/api/v1/school/users/",
            Some(&t),
            None,
            &[("x-schema-name", "anything")],
        )
        .await;
    assert_error_shape(&res, 403);
}
