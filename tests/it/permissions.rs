//! Method -> permission mapping, roles and the audit log.

use axum::http::{Method, StatusCode};
use serde_json::json;
use sqlx::PgPool;

use crate::helpers::{Client, PASSWORD, TestApp, assert_error_shape};

/// School alpha: a client of its admin, and the id of a teacher to act on.
async fn setup(app: &TestApp) -> (Client, i64) {
    app.create_school("alpha").await;
    app.create_staff("alpha", "admin@alpha.test", "School Admin")
        .await;
    let target = app
        .create_staff("alpha", "teacher@alpha.test", "Teacher")
        .await;
    (app.as_staff("alpha", "admin@alpha.test").await, target)
}

/// A user with a role holding no permissions.
async fn powerless(app: &TestApp, admin: &Client) -> Client {
    crate::helpers::fixtures::staff_with(app, admin, "visitor@alpha.test", &[]).await
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
        let res = t.request(method.clone(), path, body).await;
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
    let me = t.get("/api/v1/school/auth/me").await;
    assert_eq!(me.status, StatusCode::OK);
}

#[sqlx::test(migrations = false)]
async fn each_method_needs_its_own_permission(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (admin, _) = setup(&app).await;
    let t = powerless(&app, &admin).await;
    // The account acted on holds no permission (only the visitor's empty role): acting on
    // someone who holds more than the actor is refused for its own reason (see
    // `nobody_reaches_past_their_own_permissions`).
    let empty_role: i64 =
        sqlx::query_scalar("SELECT id FROM alpha.roles WHERE name = 'Role of visitor@alpha.test'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    let plain = admin
        .post(
            "/api/v1/school/users/",
            json!({"email": "plain@alpha.test", "full_name": "Test Staff", "password": PASSWORD, "roles": [empty_role]}),
        )
        .await;
    assert_eq!(plain.status, StatusCode::CREATED, "{}", plain.text());
    let target = plain.json()["id"].as_i64().unwrap();
    let role_id: i64 =
        sqlx::query_scalar("SELECT id FROM alpha.roles WHERE name = 'Role of visitor@alpha.test'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    let grant = |perms: serde_json::Value| {
        let admin = &admin;
        async move {
            let res = admin
                .patch(
                    &format!("/api/v1/school/roles/{role_id}/"),
                    json!({"permissions": perms}),
                )
                .await;
            assert_eq!(res.status, StatusCode::OK, "{}", res.text());
        }
    };
    let user = format!("/api/v1/school/users/{target}/");
    grant(json!(["view_users"])).await;
    assert_eq!(t.get(&user).await.status, StatusCode::OK);
    assert_error_shape(&t.patch(&user, json!({"full_name": "Changed"})).await, 403);
    let new_user = json!({"email": "n@alpha.test", "full_name": "N", "password": "Long-enough-pass-1", "roles": [empty_role]});
    assert_error_shape(
        &t.post("/api/v1/school/users/", new_user.clone()).await,
        403,
    );
    grant(json!(["view_users", "change_users"])).await;
    let res = t.patch(&user, json!({"full_name": "Changed"})).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert_error_shape(
        &t.post("/api/v1/school/users/", new_user.clone()).await,
        403,
    );
    assert_error_shape(&t.delete(&user).await, 403);
    // Adding needs add_users, deleting needs delete_users.
    grant(json!(["view_users", "add_users"])).await;
    let res = t.post("/api/v1/school/users/", new_user).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    assert_error_shape(&t.delete(&user).await, 403);
    grant(json!(["view_users", "delete_users"])).await;
    assert_eq!(t.delete(&user).await.status, StatusCode::NO_CONTENT);
    // Unknown permissions cannot be granted.
    let res = admin
        .patch(
            &format!("/api/v1/school/roles/{role_id}/"),
            json!({"permissions": ["launch_rockets"]}),
        )
        .await;
    assert!(assert_error_shape(&res, 422)["errors"]["permissions"].is_array());
}

#[sqlx::test(migrations = false)]
async fn builtin_roles_are_editable_not_deletable(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (admin, _) = setup(&app).await;
    let roles = admin.get("/api/v1/school/roles/").await.json()["results"].clone();
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
    let res = admin
        .patch(
            &format!("/api/v1/school/roles/{id}/"),
            json!({"description": "Subject teachers"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
    let res = admin.delete(&format!("/api/v1/school/roles/{id}/")).await;
    assert_error_shape(&res, 409);
    let dup = admin
        .post(
            "/api/v1/school/roles/",
            json!({"name": "teacher", "permissions": []}),
        )
        .await;
    assert!(assert_error_shape(&dup, 422)["errors"]["name"].is_array());
    let perms = admin.get("/api/v1/school/permissions/").await.json()["results"].clone();
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
    let res = admin
        .patch(
            &format!("/api/v1/school/users/{target}/"),
            json!({"full_name": "Ibrahim Musa"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
    let log = admin
        .get(&format!(
            "/api/v1/school/audit/?entity=user&entity_id={target}&action=update"
        ))
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
    let filtered = admin
        .get(&format!(
            "/api/v1/school/audit/?date_from={today}&date_to={today}"
        ))
        .await
        .json();
    assert!(
        filtered["count"].as_i64().unwrap() >= 2,
        "login rows and the update: {filtered}"
    );
    let bad = admin.get("/api/v1/school/audit/?date_from=yesterday").await;
    assert_error_shape(&bad, 422);
}

#[sqlx::test(migrations = false)]
async fn platform_operator_role_limits_the_system_api(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.create_superadmin("root@platform.test").await;
    let root = app.as_operator("root@platform.test").await;
    let roles = root.get("/api/v1/system/roles/").await.json()["results"].clone();
    let support = roles
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "Support")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let res = root.post("/api/v1/system/users/", json!({"email": "support@platform.test", "full_name": "Sam Support", "password": PASSWORD, "roles": [support]}))
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    // An operator without any role could do nothing: refused.
    let res = root
        .post(
            "/api/v1/system/users/",
            json!({"email": "nobody@platform.test", "full_name": "No Body", "password": PASSWORD}),
        )
        .await;
    assert!(assert_error_shape(&res, 422)["errors"]["roles"].is_array());
    let t = app.as_operator("support@platform.test").await;
    assert_eq!(
        t.get("/api/v1/system/schools/").await.status,
        StatusCode::OK
    );
    let res = t
        .post(
            "/api/v1/system/schools/",
            json!({"name": "Nope", "code": "nope"}),
        )
        .await;
    assert_error_shape(&res, 403);
    let res = t.get("/api/v1/school/users/").await;
    assert_error_shape(&res, 404);
    let res = t
        .header("x-schema-name", "anything")
        .get("/api/v1/school/users/")
        .await;
    assert_error_shape(&res, 403);
}

/// A user with the permissions `perms` (through a role of their own) and its role id.
async fn holding(app: &TestApp, admin: &Client, email: &str, perms: &[&str]) -> (Client, i64) {
    let role = admin
        .post(
            "/api/v1/school/roles/",
            json!({"name": format!("Role of {email}"), "permissions": perms}),
        )
        .await;
    assert_eq!(role.status, StatusCode::CREATED, "{}", role.text());
    let role_id = role.json()["id"].as_i64().unwrap();
    let res = admin
        .post(
            "/api/v1/school/users/",
            json!({"email": email, "full_name": "Deputy", "password": PASSWORD, "roles": [role_id]}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    (app.as_staff("alpha", email).await, role_id)
}

#[sqlx::test(migrations = false)]
async fn nobody_reaches_past_their_own_permissions(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (admin, teacher) = setup(&app).await;
    let roles = admin.get("/api/v1/school/roles/").await.json()["results"].clone();
    let role_named = |name: &str| {
        roles
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == name)
            .unwrap()["id"]
            .as_i64()
            .unwrap()
    };
    let school_admin = role_named("School Admin");
    let admin_id: i64 =
        sqlx::query_scalar("SELECT id FROM public.users WHERE email = 'admin@alpha.test'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    let user_perms = ["view_users", "add_users", "change_users", "delete_users"];
    let (deputy, _) = holding(&app, &admin, "deputy@alpha.test", &user_perms).await;
    let deputy_id: i64 =
        sqlx::query_scalar("SELECT id FROM public.users WHERE email = 'deputy@alpha.test'")
            .fetch_one(&app.pool)
            .await
            .unwrap();

    // Saving one's own account with the same roles (the staff form always sends them) is fine.
    let res = deputy
        .patch(
            &format!("/api/v1/school/users/{deputy_id}/"),
            json!({"full_name": "Deputy Head", "roles": roles_of(&app, deputy_id).await}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    // change_users does not let a user make themselves School Admin.
    let res = deputy
        .patch(
            &format!("/api/v1/school/users/{deputy_id}/"),
            json!({"roles": [school_admin]}),
        )
        .await;
    assert_eq!(assert_error_shape(&res, 403)["code"], "permission_denied");
    // …nor give the role to a new account.
    let res = deputy
        .post(
            "/api/v1/school/users/",
            json!({"email": "sock@alpha.test", "full_name": "Sock Puppet", "password": PASSWORD, "roles": [school_admin]}),
        )
        .await;
    assert!(
        assert_error_shape(&res, 403)["detail"]
            .as_str()
            .unwrap()
            .contains("change_settings")
    );
    // …nor reset the password of, disable or rename someone holding more.
    for body in [
        json!({"password": "Another-long-pass-7"}),
        json!({"is_active": false}),
        json!({"full_name": "Renamed"}),
    ] {
        let res = deputy
            .patch(&format!("/api/v1/school/users/{admin_id}/"), body)
            .await;
        assert_error_shape(&res, 403);
    }
    assert_error_shape(
        &deputy
            .delete(&format!("/api/v1/school/users/{teacher}/"))
            .await,
        403,
    );
    // Nothing changed: the deputy still has only their role, the admin is active.
    let (roles_of_deputy, admin_active): (i64, bool) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM alpha.user_roles WHERE user_id = $1),
                (SELECT is_active FROM public.users WHERE id = $2)",
    )
    .bind(deputy_id)
    .bind(admin_id)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!((roles_of_deputy, admin_active), (1, true));
    // Within what they hold, the deputy works: a new account with a role of lesser reach.
    let (_, lesser) = holding(&app, &admin, "lesser@alpha.test", &["view_users"]).await;
    let res = deputy
        .post(
            "/api/v1/school/users/",
            json!({"email": "clerk@alpha.test", "full_name": "Clerk", "password": PASSWORD, "roles": [lesser]}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());

    // change_roles does not let a user add permissions to their own role or any role.
    let (keeper, own_role) = holding(
        &app,
        &admin,
        "keeper@alpha.test",
        &["view_roles", "add_roles", "change_roles"],
    )
    .await;
    let res = keeper
        .patch(
            &format!("/api/v1/school/roles/{own_role}/"),
            json!({"permissions": ["view_roles", "add_roles", "change_roles", "change_settings"]}),
        )
        .await;
    assert_error_shape(&res, 403);
    let res = keeper
        .patch(
            &format!("/api/v1/school/roles/{lesser}/"),
            json!({"permissions": ["view_users", "delete_users"]}),
        )
        .await;
    assert_error_shape(&res, 403);
    let res = keeper
        .post(
            "/api/v1/school/roles/",
            json!({"name": "Everything", "permissions": ["change_settings"]}),
        )
        .await;
    assert_error_shape(&res, 403);
    let res = keeper
        .patch(
            &format!("/api/v1/school/roles/{school_admin}/"),
            json!({"permissions": []}),
        )
        .await;
    assert_error_shape(&res, 403);
    // A role within their reach they may still shape.
    let res = keeper
        .post(
            "/api/v1/school/roles/",
            json!({"name": "Role readers", "permissions": ["view_roles"]}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    let still: Vec<String> = sqlx::query_scalar(
        "SELECT permission FROM alpha.role_permissions WHERE role_id = $1 ORDER BY 1",
    )
    .bind(own_role)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(still, ["add_roles", "change_roles", "view_roles"]);
}

#[sqlx::test(migrations = false)]
async fn operators_cannot_reach_past_their_own_platform_permissions(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.create_superadmin("root@platform.test").await;
    let root = app.as_operator("root@platform.test").await;
    let managers: i64 = sqlx::query_scalar(
        "INSERT INTO public.platform_roles (name, description, permissions, created_at)
         VALUES ('User managers', '', ARRAY['view_platform_users', 'add_platform_users', 'change_platform_users'], now())
         RETURNING id",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    let operator: i64 =
        sqlx::query_scalar("SELECT id FROM public.platform_roles WHERE name = 'Operator'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    for (email, role) in [
        ("um@platform.test", managers),
        ("ops@platform.test", operator),
    ] {
        let res = root
            .post(
                "/api/v1/system/users/",
                json!({"email": email, "full_name": "Op", "password": PASSWORD, "roles": [role]}),
            )
            .await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    }
    let id_of = |email: &'static str| {
        let pool = app.pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>("SELECT id FROM public.users WHERE email = $1")
                .bind(email)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    let (um_id, ops_id) = (
        id_of("um@platform.test").await,
        id_of("ops@platform.test").await,
    );
    let um = app.as_operator("um@platform.test").await;
    // Not their own roles, not a role with permissions they lack, not someone holding more.
    let res = um
        .patch(
            &format!("/api/v1/system/users/{um_id}/"),
            json!({"roles": [managers, operator]}),
        )
        .await;
    assert_error_shape(&res, 403);
    let res = um
        .post(
            "/api/v1/system/users/",
            json!({"email": "new@platform.test", "full_name": "New", "password": PASSWORD, "roles": [operator]}),
        )
        .await;
    assert_error_shape(&res, 403);
    let res = um
        .patch(
            &format!("/api/v1/system/users/{ops_id}/"),
            json!({"password": "Another-long-pass-7"}),
        )
        .await;
    assert_error_shape(&res, 403);
    // Within their reach they work.
    let res = um
        .post(
            "/api/v1/system/users/",
            json!({"email": "peer@platform.test", "full_name": "Peer", "password": PASSWORD, "roles": [managers]}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    let roles_of_um: i64 =
        sqlx::query_scalar("SELECT count(*) FROM public.platform_user_roles WHERE user_id = $1")
            .bind(um_id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(roles_of_um, 1);
}

async fn roles_of(app: &TestApp, user_id: i64) -> Vec<i64> {
    sqlx::query_scalar("SELECT role_id FROM alpha.user_roles WHERE user_id = $1 ORDER BY role_id")
        .bind(user_id)
        .fetch_all(&app.pool)
        .await
        .unwrap()
}

/// The audit log says what changed in a role (permissions added and removed, not two long
/// lists) and names a user's roles by name.
#[sqlx::test(migrations = false)]
async fn the_audit_log_shows_role_changes_as_added_and_removed_by_name(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (admin, target) = setup(&app).await;
    let res = admin
        .post(
            "/api/v1/school/roles/",
            json!({"name": "Bursar's clerk", "permissions": ["view_students", "view_guardians"]}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    let role = res.json()["id"].as_i64().unwrap();
    let res = admin
        .patch(
            &format!("/api/v1/school/roles/{role}/"),
            json!({"permissions": ["view_students", "view_marks"]}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let log = admin
        .get(&format!(
            "/api/v1/school/audit/?entity=role&entity_id={role}&action=update"
        ))
        .await
        .json();
    assert_eq!(
        log["results"][0]["changes"]["permissions"],
        json!({"added": ["view_marks"], "removed": ["view_guardians"]}),
        "{log}"
    );

    let res = admin
        .patch(
            &format!("/api/v1/school/users/{target}/"),
            json!({"roles": [role]}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let log = admin
        .get(&format!(
            "/api/v1/school/audit/?entity=user&entity_id={target}&action=update"
        ))
        .await
        .json();
    let roles = &log["results"][0]["changes"]["roles"];
    assert_eq!(roles["added"], json!(["Bursar's clerk"]), "{log}");
}
