//! Creating, listing, changing and deleting schools; migrations over many schools.

use axum::http::{Method, StatusCode};
use serde_json::json;
use sqlx::PgPool;

use crate::helpers::{PASSWORD, TestApp, assert_error_shape};

async fn ops(app: &TestApp) -> String {
    app.create_superadmin("ops@platform.test").await;
    app.platform_token("ops@platform.test").await
}

async fn schema_exists(pool: &PgPool, name: &str) -> bool {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)")
        .bind(name)
        .fetch_one(pool)
        .await
        .unwrap()
}

#[sqlx::test(migrations = false)]
async fn create_school_through_the_api(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let t = ops(&app).await;
    let res = app
        .call(
            Method::POST,
            "localhost",
            "/api/v1/system/schools/",
            Some(&t),
            Some(json!({"name": "Harmony Grammar School", "code": "harmony", "admin_email": "head@harmony.test", "admin_password": PASSWORD})),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    let body = res.json();
    assert_eq!(body["schema_name"], "harmony");
    assert_eq!(body["primary_domain"], "harmony.localhost");
    assert!(schema_exists(&app.pool, "harmony").await);
    let roles: Vec<String> = sqlx::query_scalar("SELECT name FROM harmony.roles ORDER BY name")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(
        roles,
        ["Bursar", "Class Teacher", "Head", "School Admin", "Teacher"]
    );
    // The first admin can sign in at once and holds every permission.
    let me = app.school_login("harmony", "head@harmony.test").await;
    assert_eq!(me["user"]["school_id"], body["id"]);
    // Audited on the platform.
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM public.platform_audit_log WHERE entity = 'school' AND action = 'create'")
        .fetch_one(&app.pool).await.unwrap();
    assert_eq!(n, 1);
}

#[sqlx::test(migrations = false)]
async fn a_failure_midway_leaves_no_school_behind(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let t = ops(&app).await;
    // The admin email is taken: the insert fails after the schema was created, migrated
    // and seeded, and the domain added. Everything must roll back.
    let res = app
        .call(
            Method::POST,
            "localhost",
            "/api/v1/system/schools/",
            Some(&t),
            Some(json!({"name": "Doomed Academy", "code": "doomed", "domain": "doomed.example.com", "admin_email": "ops@platform.test", "admin_password": PASSWORD})),
        )
        .await;
    let body = assert_error_shape(&res, 422);
    assert!(body["errors"]["admin_email"].is_array(), "{body}");
    assert!(
        !schema_exists(&app.pool, "doomed").await,
        "schema left behind"
    );
    let clients: i64 = sqlx::query_scalar("SELECT count(*) FROM public.clients")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let domains: i64 = sqlx::query_scalar("SELECT count(*) FROM public.domains")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let setups: i64 = sqlx::query_scalar("SELECT count(*) FROM public.school_setups")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!((clients, domains, setups), (0, 0, 0));
    // And the same code works afterwards.
    let res = app
        .call(
            Method::POST,
            "localhost",
            "/api/v1/system/schools/",
            Some(&t),
            Some(json!({"name": "Doomed Academy", "code": "doomed"})),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
}

/// Tenant migrations run in savepoints of the creating transaction, keeping its
/// transaction-local search_path; aborting that transaction removes every trace.
#[sqlx::test(migrations = false)]
async fn tenant_migrations_inside_a_transaction_roll_back(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let mut tx = app.pool.begin().await.unwrap();
    sqlx::query("CREATE SCHEMA partial")
        .execute(&mut *tx)
        .await
        .unwrap();
    schoolyard::db::set_school_search_path(&mut tx, "partial")
        .await
        .unwrap();
    let schema = schoolyard::db::SchemaName::parse("partial").unwrap();
    schoolyard::migrate::apply_tenant_in_tx(&mut tx, &schema)
        .await
        .unwrap();
    let tables: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'partial'",
    )
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    assert!(tables >= 5, "migrations ran inside the transaction");
    tx.rollback().await.unwrap();
    assert!(!schema_exists(&app.pool, "partial").await);
}

#[sqlx::test(migrations = false)]
async fn validation_errors_name_the_fields(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let t = ops(&app).await;
    app.create_school("taken").await;
    let cases = [
        (json!({"name": "", "code": "ok-code"}), "name"),
        (json!({"name": "X".repeat(201), "code": "ok-code"}), "name"),
        (json!({"name": "Fine School", "code": "Bad Code!"}), "code"),
        (json!({"name": "Fine School", "code": "taken"}), "code"),
        (
            json!({"name": "Fine School", "code": "fine", "schema_name": "public"}),
            "schema_name",
        ),
        (
            json!({"name": "Fine School", "code": "fine", "schema_name": "pg_catalog"}),
            "schema_name",
        ),
        (
            json!({"name": "Fine School", "code": "fine", "schema_name": "Robert'); DROP TABLE users;--"}),
            "schema_name",
        ),
        (
            json!({"name": "Fine School", "code": "fine", "schema_name": "ab"}),
            "schema_name",
        ),
        (
            json!({"name": "Fine School", "code": "fine", "schema_name": "taken"}),
            "schema_name",
        ),
        (
            json!({"name": "Fine School", "code": "fine", "domain": "taken.localhost"}),
            "domain",
        ),
        (
            json!({"name": "Fine School", "code": "fine", "domain": "not a host"}),
            "domain",
        ),
        (
            json!({"name": "Fine School", "code": "fine", "admin_email": "head@fine.test", "admin_password": "password"}),
            "admin_password",
        ),
        (
            json!({"name": "Fine School", "code": "fine", "admin_email": "head@fine.test"}),
            "admin_password",
        ),
        (
            json!({"name": "Fine School", "code": "fine", "colour": "green"}),
            "colour",
        ),
    ];
    for (body, field) in cases {
        let res = app
            .call(
                Method::POST,
                "localhost",
                "/api/v1/system/schools/",
                Some(&t),
                Some(body.clone()),
            )
            .await;
        let err = assert_error_shape(&res, 422);
        assert!(
            err["errors"][field].is_array(),
            "{body} should fail on {field}: {err}"
        );
    }
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM public.clients")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(n, 1);
}

#[sqlx::test(migrations = false)]
async fn list_search_ordering_and_pagination(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let t = ops(&app).await;
    for code in ["alpha", "bravo", "charlie", "delta", "echo"] {
        app.create_school(code).await;
    }
    let res = app
        .call(
            Method::GET,
            "localhost",
            "/api/v1/system/schools/?page_size=2&ordering=-code",
            Some(&t),
            None,
        )
        .await;
    let body = res.json();
    assert_eq!(body["count"], 5);
    assert_eq!(body["results"][0]["code"], "echo");
    assert_eq!(body["previous"], json!(null));
    let next = body["next"].as_str().unwrap().to_owned();
    assert!(next.contains("page=2"));
    let page2 = app
        .call(Method::GET, "localhost", &next, Some(&t), None)
        .await
        .json();
    assert_eq!(page2["results"][0]["code"], "charlie");
    let last = app
        .call(
            Method::GET,
            "localhost",
            "/api/v1/system/schools/?page_size=2&page=3&ordering=-code",
            Some(&t),
            None,
        )
        .await
        .json();
    assert_eq!(last["results"].as_array().unwrap().len(), 1);
    assert_eq!(last["next"], json!(null));
    let found = app
        .call(
            Method::GET,
            "localhost",
            "/api/v1/system/schools/?search=RLI",
            Some(&t),
            None,
        )
        .await
        .json();
    assert_eq!(found["count"], 1);
    assert_eq!(found["results"][0]["code"], "charlie");
    // Wildcards are literal.
    let none = app
        .call(
            Method::GET,
            "localhost",
            "/api/v1/system/schools/?search=%25",
            Some(&t),
            None,
        )
        .await
        .json();
    assert_eq!(none["count"], 0);
    let bad = app
        .call(
            Method::GET,
            "localhost",
            "/api/v1/system/schools/?ordering=password",
            Some(&t),
            None,
        )
        .await;
    assert!(assert_error_shape(&bad, 422)["errors"]["ordering"].is_array());
    let bad = app
        .call(
            Method::GET,
            "localhost",
            "/api/v1/system/schools/?page=0",
            Some(&t),
            None,
        )
        .await;
    assert_error_shape(&bad, 422);
    let big = app
        .call(
            Method::GET,
            "localhost",
            "/api/v1/system/schools/?page_size=100000",
            Some(&t),
            None,
        )
        .await;
    assert_eq!(big.status, StatusCode::OK);
}

#[sqlx::test(migrations = false)]
async fn delete_needs_confirmation_and_drops_the_schema(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let t = ops(&app).await;
    let school = app.create_school("gone").await;
    app.create_staff("gone", "admin@gone.test", "School Admin")
        .await;
    let path = format!("/api/v1/system/schools/{}/", school.id);
    let res = app
        .call(Method::DELETE, "localhost", &path, Some(&t), None)
        .await;
    assert!(assert_error_shape(&res, 422)["errors"]["confirm"].is_array());
    let res = app
        .call(
            Method::DELETE,
            "localhost",
            &format!("{path}?confirm=wrong"),
            Some(&t),
            None,
        )
        .await;
    assert_error_shape(&res, 422);
    assert!(schema_exists(&app.pool, "gone").await);
    let res = app
        .call(
            Method::DELETE,
            "localhost",
            &format!("{path}?confirm=gone"),
            Some(&t),
            None,
        )
        .await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    assert!(!schema_exists(&app.pool, "gone").await);
    let users: i64 =
        sqlx::query_scalar("SELECT count(*) FROM public.users WHERE email = 'admin@gone.test'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(users, 0);
    assert_error_shape(
        &app.call(
            Method::GET,
            "gone.localhost",
            "/api/v1/school/auth/login",
            None,
            None,
        )
        .await,
        404,
    );
}

#[sqlx::test(migrations = false)]
async fn domains_and_setup_steps(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let t = ops(&app).await;
    let school = app.create_school("steps").await;
    let base = format!("/api/v1/system/schools/{}", school.id);
    let setup = app
        .call(
            Method::GET,
            "localhost",
            &format!("{base}/setup/"),
            Some(&t),
            None,
        )
        .await
        .json();
    assert_eq!(setup["setup_progress"], "not_started");
    let res = app
        .call(
            Method::PUT,
            "localhost",
            &format!("{base}/setup/"),
            Some(&t),
            Some(json!({"steps": [{"id": "classes", "status": "done"}]})),
        )
        .await;
    assert_eq!(res.json()["setup_progress"], "in_progress");
    let res = app
        .call(
            Method::PUT,
            "localhost",
            &format!("{base}/setup/"),
            Some(&t),
            Some(json!({"steps": [{"id": "nope", "status": "done"}]})),
        )
        .await;
    assert_error_shape(&res, 422);

    let res = app
        .call(
            Method::POST,
            "localhost",
            &format!("{base}/domains/"),
            Some(&t),
            Some(json!({"domain": "www.steps.test"})),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED);
    let domain_id = res.json()["id"].as_i64().unwrap();
    let dup = app
        .call(
            Method::POST,
            "localhost",
            &format!("{base}/domains/"),
            Some(&t),
            Some(json!({"domain": "www.steps.test"})),
        )
        .await;
    assert!(assert_error_shape(&dup, 422)["errors"]["domain"].is_array());
    let primary = app
        .call(
            Method::GET,
            "localhost",
            &format!("{base}/domains/"),
            Some(&t),
            None,
        )
        .await
        .json();
    let primary_id = primary
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["is_primary"] == true)
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let res = app
        .call(
            Method::DELETE,
            "localhost",
            &format!("{base}/domains/{primary_id}/"),
            Some(&t),
            None,
        )
        .await;
    assert_error_shape(&res, 409);
    let res = app
        .call(
            Method::PATCH,
            "localhost",
            &format!("{base}/domains/{domain_id}/"),
            Some(&t),
            Some(json!({"is_primary": true})),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
    let res = app
        .call(
            Method::DELETE,
            "localhost",
            &format!("{base}/domains/{primary_id}/"),
            Some(&t),
            None,
        )
        .await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    let got = app
        .call(
            Method::GET,
            "localhost",
            &format!("{base}/"),
            Some(&t),
            None,
        )
        .await
        .json();
    assert_eq!(got["primary_domain"], "www.steps.test");
}

#[sqlx::test(migrations = false)]
async fn migrate_is_idempotent_over_several_schools(pool: PgPool) {
    let app = TestApp::new(pool).await;
    for code in ["one", "two", "three", "four", "five"] {
        app.create_school(code).await;
    }
    // Forget one school's history, as if it were created before the migration existed:
    // the next run brings it up to date; a run after that does nothing.
    sqlx::query("DROP SCHEMA three CASCADE")
        .execute(&app.pool)
        .await
        .unwrap();
    sqlx::query("CREATE SCHEMA three")
        .execute(&app.pool)
        .await
        .unwrap();
    let first = schoolyard::migrate::run_tenants(&app.pool, 3, |_| {})
        .await
        .unwrap();
    assert_eq!(first.len(), 5);
    for r in &first {
        let expected = if r.schema == "three" {
            schoolyard::migrate::tenant_migration_count()
        } else {
            0
        };
        assert_eq!(r.result.as_ref().copied(), Ok(expected), "{}", r.schema);
    }
    let second = schoolyard::migrate::run_tenants(&app.pool, 3, |_| {})
        .await
        .unwrap();
    assert!(second.iter().all(|r| r.result == Ok(0)), "{second:?}");
    assert_eq!(schoolyard::migrate::run_public(&app.pool).await.unwrap(), 0);
    let recorded: i64 = sqlx::query_scalar("SELECT count(*) FROM three._sqlx_migrations")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(
        recorded as usize,
        schoolyard::migrate::tenant_migration_count()
    );
}

#[sqlx::test(migrations = false)]
async fn a_broken_school_is_reported_and_others_still_migrate(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.create_school("fine").await;
    app.create_school("broken").await;
    // Tamper with the recorded checksum: sqlx refuses to migrate that school.
    sqlx::query("UPDATE broken._sqlx_migrations SET checksum = '\\x00'")
        .execute(&app.pool)
        .await
        .unwrap();
    let results = schoolyard::migrate::run_tenants(&app.pool, 2, |_| {})
        .await
        .unwrap();
    let broken = results.iter().find(|r| r.schema == "broken").unwrap();
    let fine = results.iter().find(|r| r.schema == "fine").unwrap();
    assert!(broken.result.is_err());
    assert_eq!(fine.result, Ok(0));
}
