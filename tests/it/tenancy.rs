//! Isolation between schools and request tenant resolution (DESIGN §2).

use std::collections::{HashMap, HashSet};

use futures::StreamExt;

use axum::http::{Method, StatusCode};
use serde_json::json;
use sqlx::{PgPool, postgres::PgPoolOptions};

use crate::helpers::{Client, TestApp, assert_error_shape, host, internals, internals::Config};

/// Schools alpha and beta; clients of their admins and the id of beta's teacher.
async fn two_schools(app: &TestApp) -> (Client, Client, i64) {
    app.create_school("alpha").await;
    app.create_school("beta").await;
    app.create_staff("alpha", "admin@alpha.test", "School Admin")
        .await;
    let b_teacher = app
        .create_staff("beta", "teacher@beta.test", "Teacher")
        .await;
    app.create_staff("beta", "admin@beta.test", "School Admin")
        .await;
    let a = app.as_staff("alpha", "admin@alpha.test").await;
    let b = app.as_staff("beta", "admin@beta.test").await;
    (a, b, b_teacher)
}

/// A school user's token names one school: at another school's host it is refused with no
/// data (it used to quietly serve the token's own school); at the main domain, or a host
/// that is no school's (an API-only address), the token's school is used.
#[sqlx::test(migrations = false)]
async fn a_token_is_refused_at_another_school_s_host(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (a, _b, _) = two_schools(&app).await;
    let res = a.at(&host("beta")).get("/api/v1/school/users/").await;
    let body = assert_error_shape(&res, 403);
    assert!(!res.text().contains("admin@"), "{body}");
    let me = a.at(&host("beta")).get("/api/v1/school/auth/me").await;
    assert_error_shape(&me, 403);
    for elsewhere in ["localhost", "api.schoolyard.test"] {
        let res = a.at(elsewhere).get("/api/v1/school/users/").await;
        assert_eq!(res.status, StatusCode::OK, "{elsewhere}: {}", res.text());
        let emails: Vec<String> = res.json()["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["email"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(emails, vec!["admin@alpha.test"]);
    }
    let me = a.at("localhost").get("/api/v1/school/auth/me").await;
    assert_eq!(me.json()["school"]["code"], "alpha");
}

/// An expired or forged Bearer header does not block what needs no token: signing in,
/// refreshing, the health check.
#[sqlx::test(migrations = false)]
async fn a_stale_bearer_header_does_not_block_signing_in(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.create_school("alpha").await;
    app.create_staff("alpha", "admin@alpha.test", "School Admin")
        .await;
    let stale = app.school_client("alpha").token("not.a.valid-token");
    let res = stale
        .post(
            "/api/v1/school/auth/login",
            json!({"email": "admin@alpha.test", "password": crate::helpers::PASSWORD}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert_eq!(stale.get("/healthz").await.status, StatusCode::OK);
    // Where a token is needed, a bad one is still refused.
    assert_error_shape(&stale.get("/api/v1/school/users/").await, 401);
}

#[sqlx::test(migrations = false)]
async fn school_admin_sending_x_schema_name_is_refused(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (a, _b, _) = two_schools(&app).await;
    for method in [Method::GET, Method::POST] {
        let res = a.header("x-schema-name", "beta").request(method, "/api/v1/school/users/", Some(json!({"email": "x@beta.test", "full_name": "X", "password": "Long-enough-pass-1", "roles": []})))
            .await;
        assert_error_shape(&res, 403);
    }
    // Without a token the header is refused too.
    let res = app
        .school_client("alpha")
        .header("x-schema-name", "beta")
        .get("/api/v1/school/users/")
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
    let get = a.get(&path).await;
    assert_error_shape(&get, 404);
    let missing = a.get("/api/v1/school/users/999999/").await;
    assert_eq!(get.json(), missing.json(), "same 404 as a missing id");
    let patch = a.patch(&path, json!({"full_name": "Hijacked"})).await;
    assert_error_shape(&patch, 404);
    let delete = a.delete(&path).await;
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
    let res = a.post("/api/v1/school/users/", json!({"email": "new@alpha.test", "full_name": "New", "password": "Long-enough-pass-1", "roles": [b_role + 1]}))
        .await;
    let body = assert_error_shape(&res, 422);
    assert!(body["errors"]["roles"].is_array());
}

#[sqlx::test(migrations = false)]
async fn superadmin_may_choose_a_school_with_x_schema_name(pool: PgPool) {
    let app = TestApp::new(pool).await;
    two_schools(&app).await;
    app.create_superadmin("ops@platform.test").await;
    let t = app.as_operator("ops@platform.test").await;
    let res = t
        .header("x-schema-name", "beta")
        .get("/api/v1/school/users/")
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert_eq!(res.json()["count"], 2);
    let res = t
        .header("x-schema-name", "nosuch")
        .get("/api/v1/school/users/")
        .await;
    assert_error_shape(&res, 404);
}

#[sqlx::test(migrations = false)]
async fn unknown_host_is_404_and_disabled_school_403(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (a, _b, _) = two_schools(&app).await;
    let res = app
        .client("nowhere.localhost")
        .post(
            "/api/v1/school/auth/login",
            json!({"email": "a@b.c", "password": "x"}),
        )
        .await;
    assert_error_shape(&res, 404);
    let page = app.client("nowhere.localhost:8080").get("/login").await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(page.text().contains("<html"), "HTML page for browsers");

    app.create_superadmin("ops@platform.test").await;
    let ops = app.as_operator("ops@platform.test").await;
    let alpha_id: i64 = sqlx::query_scalar("SELECT id FROM public.clients WHERE code = 'alpha'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let res = ops
        .patch(
            &format!("/api/v1/system/schools/{alpha_id}/"),
            json!({"is_active": false}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let res = a.get("/api/v1/school/users/").await;
    let body = assert_error_shape(&res, 403);
    assert_eq!(body["code"], "school_disabled");
    assert!(body["detail"].as_str().unwrap().contains("disabled"));
    let res = app.school_client("alpha").get("/login").await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    // A superadmin choosing the disabled school by X-Schema-Name is refused the same way.
    let res = ops
        .header("x-schema-name", "alpha")
        .get("/api/v1/school/users/")
        .await;
    assert_eq!(assert_error_shape(&res, 403)["code"], "school_disabled");
    // Data kept: re-enabling brings everything back.
    ops.patch(
        &format!("/api/v1/system/schools/{alpha_id}/"),
        json!({"is_active": true}),
    )
    .await;
    let res = a.get("/api/v1/school/users/").await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.json()["count"], 1);
}

/// The tenancy cache's LISTEN has a connection of its own, outside the request pool
/// (issue 14): requests share every pooled connection.
const LISTENER_CONNECTIONS: u32 = 0;

/// A pool over the test database with `max` connections, all opened up front.
async fn pool_of(pool: &PgPool, max: u32) -> PgPool {
    PgPoolOptions::new()
        .max_connections(max)
        .min_connections(max)
        .connect_with(pool.connect_options().as_ref().clone())
        .await
        .unwrap()
}

/// Waits until the pool has all its `max` connections open and idle.
async fn wait_for_full_pool(pool: &PgPool, max: u32) {
    for _ in 0..100 {
        if pool.size() == max && pool.num_idle() as u32 == max - LISTENER_CONNECTIONS {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!(
        "pool never settled: {} open, {} idle",
        pool.size(),
        pool.num_idle()
    );
}

/// The last names on a school's register, as its admin sees them.
async fn register_of(client: &Client) -> Vec<String> {
    let res = client.get("/api/v1/school/admissions/").await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let mut names: Vec<String> = res.json()["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["last_name"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    names
}

/// What a pooled connection carries after serving requests: its backend, its current
/// schema, whether `students` resolves unqualified, and its search_path.
async fn state_of(conn: &mut sqlx::PgConnection) -> (i32, String, Option<String>, String) {
    let (pid, schema, students): (i32, String, Option<String>) = sqlx::query_as(
        "SELECT pg_backend_pid(), current_schema()::text, to_regclass('students')::text",
    )
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    let path: String = sqlx::query_scalar("SHOW search_path")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    (pid, schema, students, path)
}

/// Asserts a pooled connection is back on the default schema: `current_schema()` is
/// public and an unqualified `students` (a table of every school, none in public) is
/// unknown. Returns the connection's backend pid.
async fn assert_clean(conn: &mut sqlx::PgConnection) -> i32 {
    let (pid, schema, students, path) = state_of(conn).await;
    assert_eq!(schema, "public", "search_path left as {path}");
    assert_eq!(students, None, "students visible unqualified: {path}");
    assert!(
        !path.contains("alpha") && !path.contains("beta"),
        "leaked search_path: {path}"
    );
    let err = sqlx::query("SELECT count(*) FROM students")
        .execute(&mut *conn)
        .await
        .expect_err("no students table outside a school");
    assert_eq!(
        err.as_database_error().and_then(|e| e.code()).as_deref(),
        Some("42P01"),
        "{err}"
    );
    pid
}

/// Both schools have a `students` table, with different pupils (alpha: one Alpha; beta:
/// two Betas). Over one request connection, each request for a school is followed by a
/// plain query on that same pooled connection, which is back on public and cannot see the
/// school's `students`; over three connections, sixty interleaved requests each see only
/// their own school's pupils and every connection in the pool is clean afterwards.
#[sqlx::test(migrations = false)]
async fn pooled_connections_never_carry_a_search_path(pool: PgPool) {
    // One connection for requests.
    let app = TestApp::with_config(
        pool_of(&pool, LISTENER_CONNECTIONS + 1).await,
        schoolyard::config::Config::for_tests(""),
    )
    .await;
    let (a, b, _) = two_schools(&app).await;
    for (client, last) in [(&a, "Alpha"), (&b, "Beta"), (&b, "Beta")] {
        let res = client
            .post(
                "/api/v1/school/admissions/",
                json!({"first_name": "Pupil", "last_name": last, "sex": "female"}),
            )
            .await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    }
    let in_schema: (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM alpha.students), (SELECT count(*) FROM beta.students)",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(in_schema, (1, 2));
    // The requests' connection is open and idle.
    wait_for_full_pool(&app.pool, LISTENER_CONNECTIONS + 1).await;
    let request_pid = assert_clean(&mut app.pool.acquire().await.unwrap()).await;
    for i in 0..6 {
        let (client, own) = if i % 2 == 0 {
            (&a, vec!["Alpha"])
        } else {
            (&b, vec!["Beta", "Beta"])
        };
        assert_eq!(register_of(client).await, own);
        let mut conn = app.pool.acquire().await.unwrap();
        let pid = assert_clean(&mut conn).await;
        assert_eq!(pid, request_pid, "the connection that served the request");
    }
    app.pool.close().await;

    // Three connections for requests, interleaved requests.
    let app = TestApp::with_config(
        pool_of(&pool, LISTENER_CONNECTIONS + 3).await,
        schoolyard::config::Config::for_tests(""),
    )
    .await;
    let a = app.as_staff("alpha", "admin@alpha.test").await;
    let b = app.as_staff("beta", "admin@beta.test").await;
    wait_for_full_pool(&app.pool, LISTENER_CONNECTIONS + 3).await;
    let mut tasks = Vec::new();
    for i in 0..60 {
        let (client, own) = if i % 2 == 0 {
            (a.clone(), vec!["Alpha"])
        } else {
            (b.clone(), vec!["Beta", "Beta"])
        };
        tasks.push(tokio::spawn(async move {
            assert_eq!(register_of(&client).await, own);
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    // Every request connection of the pool, held at once: each is clean.
    wait_for_full_pool(&app.pool, LISTENER_CONNECTIONS + 3).await;
    let mut held = Vec::new();
    let mut pids = std::collections::HashSet::new();
    for _ in 0..3 {
        let mut conn = app.pool.acquire().await.unwrap();
        pids.insert(assert_clean(&mut conn).await);
        held.push(conn);
    }
    assert_eq!(pids.len(), 3);
    assert_eq!(
        app.pool.size(),
        LISTENER_CONNECTIONS + 3,
        "no new connection"
    );
    drop(held);
    app.pool.close().await;
}

#[sqlx::test(migrations = false)]
async fn domain_cache_follows_changes(pool: PgPool) {
    let app = TestApp::new(pool).await;
    two_schools(&app).await;
    app.create_superadmin("ops@platform.test").await;
    let ops = app.as_operator("ops@platform.test").await;
    // Warm the cache with a miss, then add the domain: the new host works at once.
    let res = app.client("portal.alpha.test").get("/login").await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    let alpha_id: i64 = sqlx::query_scalar("SELECT id FROM public.clients WHERE code = 'alpha'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let res = ops
        .post(
            &format!("/api/v1/system/schools/{alpha_id}/domains/"),
            json!({"domain": "portal.alpha.test"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    let res = app.client("portal.alpha.test").get("/login").await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(res.text().contains("Alpha School"));
}

/// `count` schools `s00`… each with one pupil named after it and an admin; their clients.
async fn schools_with_one_pupil(app: &TestApp, count: usize) -> Vec<(String, Client)> {
    let mut schools = Vec::new();
    for i in 0..count {
        let code = format!("s{i:02}");
        app.create_school(&code).await;
        let admin = format!("admin@{code}.test");
        app.create_staff(&code, &admin, "School Admin").await;
        let mut tx = app.school_tx(&code).await;
        sqlx::query(
            "INSERT INTO students (admission_no, first_name, last_name, other_names, sex,
                    date_of_birth, address, status, admission_date, created_at, updated_at)
             VALUES ('ADM/1', $1, 'Pupil', '', 'female', '2014-01-01', '', 'active',
                     '2025-09-08', now(), now())",
        )
        .bind(format!("Only-in-{code}"))
        .execute(&mut *tx)
        .await
        .unwrap();
        tx.commit().await.unwrap();
        schools.push((code.clone(), app.as_staff(&code, &admin).await));
    }
    schools
}

/// School transactions are spread over small pools; a connection is retired once its pool
/// has served more distinct schools than allowed, so no backend ever holds the catalog of
/// more than that many schools — and every transaction still runs in its own school.
#[sqlx::test(migrations = false)]
async fn no_connection_serves_more_schools_than_allowed(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let schemas: Vec<String> = (0..10).map(|i| format!("s{i:02}")).collect();
    for code in &schemas {
        app.create_school(code).await;
    }
    let config = Config {
        db_school_pools: 2,
        db_schools_per_connection: 3,
        ..Config::for_tests("")
    };
    let db = internals::Db::new(&config, pool);
    let mut served: HashMap<i32, HashSet<String>> = HashMap::new();
    for i in 0..150 {
        let schema = &schemas[(i * 7 + i / 10) % schemas.len()];
        let mut tx = db.begin_school(schema).await.unwrap();
        let (pid, current): (i32, String) =
            sqlx::query_as("SELECT pg_backend_pid(), current_schema()::text")
                .fetch_one(&mut *tx)
                .await
                .unwrap();
        assert_eq!(&current, schema, "the transaction runs in its school");
        tx.commit().await.unwrap();
        served.entry(pid).or_default().insert(current);
    }
    for (pid, schools) in &served {
        assert!(
            schools.len() <= 3,
            "backend {pid} served {} schools: {schools:?}",
            schools.len()
        );
    }
    assert!(
        served.len() > 4,
        "connections were retired and replaced ({} backends)",
        served.len()
    );
    db.close().await;
}

/// Many concurrent requests over many schools through few connections (two small pools of
/// two, retired after two schools): each answer holds its own school's pupil and no other.
#[sqlx::test(migrations = false)]
async fn requests_over_many_schools_and_few_connections_each_stay_in_their_school(pool: PgPool) {
    let config = Config {
        db_max_connections: 2,
        db_school_pools: 2,
        db_schools_per_connection: 2,
        // Patient: the point is where requests run, not how fast on a busy test machine.
        db_acquire_timeout: std::time::Duration::from_secs(30),
        ..Config::for_tests("")
    };
    let app = TestApp::with_config(pool, config).await;
    let schools = schools_with_one_pupil(&app, 8).await;
    let requests = (0..160).map(|i| {
        let (code, client) = &schools[(i * 5 + i / 8) % schools.len()];
        async move {
            let res = client.get("/api/v1/school/admissions/").await;
            assert_eq!(res.status, StatusCode::OK, "{}", res.text());
            let names: Vec<String> = res.json()["results"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["first_name"].as_str().unwrap().to_owned())
                .collect();
            assert_eq!(names, vec![format!("Only-in-{code}")]);
        }
    });
    // Sixteen at a time over two request slots: they queue for the slots and the pools.
    futures::stream::iter(requests)
        .buffer_unordered(16)
        .collect::<Vec<()>>()
        .await;
}
