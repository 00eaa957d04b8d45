//! Creating, listing, changing and deleting schools; migrations over many schools.

use axum::http::StatusCode;
use serde_json::json;
use sqlx::PgPool;

use crate::helpers::{Client, PASSWORD, TestApp, assert_error_shape, internals};

async fn ops(app: &TestApp) -> Client {
    app.create_superadmin("ops@platform.test").await;
    app.as_operator("ops@platform.test").await
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
    let res = t.post("/api/v1/system/schools/", json!({"name": "Harmony Grammar School", "code": "harmony", "admin_email": "head@harmony.test", "admin_password": PASSWORD}))
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

/// Makes the insert of user `head@doomed.test` fail as if the email were taken: a school's
/// creation then fails after its schema was made, migrated and seeded.
async fn refuse_admin_doomed(pool: &PgPool) {
    sqlx::raw_sql(
        "CREATE FUNCTION public.refuse_doomed() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
           IF NEW.email = 'head@doomed.test' THEN
             RAISE unique_violation USING CONSTRAINT = 'users_email_scope_key';
           END IF;
           RETURN NEW;
         END $$;
         CREATE TRIGGER refuse_doomed BEFORE INSERT ON public.users
           FOR EACH ROW EXECUTE FUNCTION public.refuse_doomed();",
    )
    .execute(pool)
    .await
    .unwrap();
}

#[sqlx::test(migrations = false)]
async fn a_failure_midway_leaves_no_school_behind(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let t = ops(&app).await;
    // The admin's insert fails (a trigger makes it look taken) after the schema was created,
    // migrated and seeded, and the domain added. Everything must roll back.
    refuse_admin_doomed(&app.pool).await;
    let res = t.post("/api/v1/system/schools/", json!({"name": "Doomed Academy", "code": "doomed", "domain": "doomed.example.com", "admin_email": "head@doomed.test", "admin_password": PASSWORD}))
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
    let res = t
        .post(
            "/api/v1/system/schools/",
            json!({"name": "Doomed Academy", "code": "doomed"}),
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
    internals::migrate_schema_in_tx(&mut tx, "partial").await;
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
        let res = t.post("/api/v1/system/schools/", body.clone()).await;
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
    let res = t
        .get("/api/v1/system/schools/?page_size=2&ordering=-code")
        .await;
    let body = res.json();
    assert_eq!(body["count"], 5);
    assert_eq!(body["results"][0]["code"], "echo");
    assert_eq!(body["previous"], json!(null));
    let next = body["next"].as_str().unwrap().to_owned();
    assert!(next.contains("page=2"));
    let page2 = t.get(&next).await.json();
    assert_eq!(page2["results"][0]["code"], "charlie");
    let last = t
        .get("/api/v1/system/schools/?page_size=2&page=3&ordering=-code")
        .await
        .json();
    assert_eq!(last["results"].as_array().unwrap().len(), 1);
    assert_eq!(last["next"], json!(null));
    let found = t.get("/api/v1/system/schools/?search=RLI").await.json();
    assert_eq!(found["count"], 1);
    assert_eq!(found["results"][0]["code"], "charlie");
    // Wildcards are literal.
    let none = t.get("/api/v1/system/schools/?search=%25").await.json();
    assert_eq!(none["count"], 0);
    let bad = t.get("/api/v1/system/schools/?ordering=password").await;
    assert!(assert_error_shape(&bad, 422)["errors"]["ordering"].is_array());
    let bad = t.get("/api/v1/system/schools/?page=0").await;
    assert_error_shape(&bad, 422);
    let big = t.get("/api/v1/system/schools/?page_size=100000").await;
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
    let res = t.delete(&path).await;
    assert!(assert_error_shape(&res, 422)["errors"]["confirm"].is_array());
    let res = t.delete(&format!("{path}?confirm=wrong")).await;
    assert_error_shape(&res, 422);
    assert!(schema_exists(&app.pool, "gone").await);
    let res = t.delete(&format!("{path}?confirm=gone")).await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    assert!(!schema_exists(&app.pool, "gone").await);
    let users: i64 =
        sqlx::query_scalar("SELECT count(*) FROM public.users WHERE email = 'admin@gone.test'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(users, 0);
    assert_error_shape(
        &app.client("gone.localhost")
            .get("/api/v1/school/auth/login")
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
    let setup = t.get(&format!("{base}/setup/")).await.json();
    assert_eq!(setup["setup_progress"], "not_started");
    let res = t
        .put(
            &format!("{base}/setup/"),
            json!({"steps": [{"id": "classes", "status": "done"}]}),
        )
        .await;
    assert_eq!(res.json()["setup_progress"], "in_progress");
    let res = t
        .put(
            &format!("{base}/setup/"),
            json!({"steps": [{"id": "nope", "status": "done"}]}),
        )
        .await;
    assert_error_shape(&res, 422);

    let res = t
        .post(
            &format!("{base}/domains/"),
            json!({"domain": "www.steps.test"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED);
    let domain_id = res.json()["id"].as_i64().unwrap();
    let dup = t
        .post(
            &format!("{base}/domains/"),
            json!({"domain": "www.steps.test"}),
        )
        .await;
    assert!(assert_error_shape(&dup, 422)["errors"]["domain"].is_array());
    let primary = t.get(&format!("{base}/domains/")).await.json()["results"].clone();
    let primary_id = primary
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["is_primary"] == true)
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let res = t.delete(&format!("{base}/domains/{primary_id}/")).await;
    assert_error_shape(&res, 409);
    let res = t
        .patch(
            &format!("{base}/domains/{domain_id}/"),
            json!({"is_primary": true}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
    let res = t.delete(&format!("{base}/domains/{primary_id}/")).await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    let got = t.get(&format!("{base}/")).await.json();
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
    let first = internals::run_tenant_migrations(&app.pool, 3).await;
    assert_eq!(first.len(), 5);
    for (schema, result) in &first {
        let expected = if schema == "three" {
            internals::tenant_migration_count()
        } else {
            0
        };
        assert_eq!(result.as_ref().copied(), Ok(expected), "{schema}");
    }
    let second = internals::run_tenant_migrations(&app.pool, 3).await;
    assert!(second.iter().all(|(_, r)| *r == Ok(0)), "{second:?}");
    assert_eq!(internals::run_public_migrations(&app.pool).await, 0);
    let recorded: i64 = sqlx::query_scalar("SELECT count(*) FROM three._sqlx_migrations")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(recorded as usize, internals::tenant_migration_count());
}

/// One school's recorded migrations were tampered with; another school has never been
/// migrated. The run reports the broken one and still brings the other up to date.
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
    // "fine" loses its history, as if made before the migrations existed.
    sqlx::query("DROP SCHEMA fine CASCADE")
        .execute(&app.pool)
        .await
        .unwrap();
    sqlx::query("CREATE SCHEMA fine")
        .execute(&app.pool)
        .await
        .unwrap();
    let results = internals::run_tenant_migrations(&app.pool, 2).await;
    let of = |name: &str| {
        results
            .iter()
            .find(|(schema, _)| schema == name)
            .unwrap()
            .1
            .clone()
    };
    assert!(of("broken").is_err());
    assert_eq!(of("fine"), Ok(internals::tenant_migration_count()));
    let tables: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'fine'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert!(tables >= 5, "fine's tables were made: {tables}");
}

/// Citus (DESIGN §2, issue 15): a new school's schema is distributed by a setting made
/// inside its creation transaction only, so the job queue's schema (or anything created
/// later on that connection) never is. Citus cannot be installed here: the test checks the
/// extension is absent (nothing is distributed) and that the very statement a school's
/// creation would run on Citus lasts only for its transaction.
#[sqlx::test(migrations = false)]
async fn citus_distribution_is_set_only_inside_a_schools_creation_transaction(pool: PgPool) {
    use sqlx::{Acquire, Connection};
    let mut conn = pool.acquire().await.unwrap();
    assert!(!internals::citus_present(&mut conn).await.unwrap());
    let setting =
        "SELECT coalesce(current_setting('citus.enable_schema_based_sharding', true), '')";
    {
        let mut tx = conn.begin().await.unwrap();
        sqlx::query(internals::DISTRIBUTE_NEW_SCHEMAS)
            .execute(&mut *tx)
            .await
            .unwrap();
        let inside: String = sqlx::query_scalar(setting)
            .fetch_one(&mut *tx)
            .await
            .unwrap();
        assert_eq!(inside, "on");
        tx.commit().await.unwrap();
    }
    let after: String = sqlx::query_scalar(setting)
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    assert_ne!(after, "on", "gone with the transaction");
    let _ = conn.ping().await;

    // Without Citus a school is created as before.
    let app = TestApp::new(pool).await;
    app.create_school("alpha").await;
    assert!(schema_exists(&app.pool, "alpha").await);
}

/// Bulk creation (issue 15): every school is checked before any is made, a repeat inside
/// the request is an error against that school, and a failure while making them undoes the
/// ones already made — all of them or none.
#[sqlx::test(migrations = false)]
async fn bulk_creation_makes_all_of_the_schools_or_none(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let t = ops(&app).await;
    let bulk = "/api/v1/system/schools/bulk/";
    let count = || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM public.clients")
            .fetch_one(&app.pool)
            .await
            .unwrap()
    };
    // A repeated code and a bad name: both reported, by position; nothing made.
    let res = t
        .post(
            bulk,
            json!({"schools": [
            {"name": "North Academy", "code": "north"},
            {"name": "N", "code": "east"},
            {"name": "North Again", "code": "north"}]}),
        )
        .await;
    let body = assert_error_shape(&res, 422);
    assert!(body["errors"]["schools[1].name"].is_array(), "{body}");
    assert!(body["errors"]["schools[2].code"].is_array(), "{body}");
    // The schema and domain derived from the repeated code are not reported again.
    assert!(body["errors"]["schools[2].schema_name"].is_null(), "{body}");
    assert!(body["errors"]["schools[2].domain"].is_null(), "{body}");
    assert_eq!(count().await, 0);
    let res = t.post(bulk, json!({"schools": []})).await;
    assert_error_shape(&res, 422);

    // The third school's admin cannot be inserted: the first two are undone.
    refuse_admin_doomed(&app.pool).await;
    let res = t
        .post(bulk, json!({"schools": [
            {"name": "North Academy", "code": "north"},
            {"name": "East Academy", "code": "east"},
            {"name": "Doomed Academy", "code": "doomed", "admin_email": "head@doomed.test", "admin_password": PASSWORD}]}))
        .await;
    assert_error_shape(&res, 422);
    assert_eq!(count().await, 0);
    for schema in ["north", "east", "doomed"] {
        assert!(
            !schema_exists(&app.pool, schema).await,
            "{schema} left behind"
        );
    }

    let res = t
        .post(
            bulk,
            json!({"schools": [
            {"name": "North Academy", "code": "north"},
            {"name": "East Academy", "code": "east"},
            {"name": "West Academy", "code": "west"}]}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    let made = res.json();
    assert_eq!(made.as_array().unwrap().len(), 3);
    assert_eq!(made[2]["primary_domain"], "west.localhost");
    assert_eq!(count().await, 3);
    assert!(schema_exists(&app.pool, "west").await);
    // A school user cannot.
    app.create_staff("west", "admin@west.test", "School Admin")
        .await;
    let staff = app.as_staff("west", "admin@west.test").await;
    let res = staff
        .post(
            bulk,
            json!({"schools": [{"name": "Sneaky", "code": "sneaky"}]}),
        )
        .await;
    assert!(
        res.status == StatusCode::FORBIDDEN || res.status == StatusCode::UNAUTHORIZED,
        "{}",
        res.status
    );
}
