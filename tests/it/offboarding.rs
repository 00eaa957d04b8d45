//! Offboarding (issue 15): a school's whole data exported as a zip, and a school deleted
//! leaving nothing behind (schema, public rows, jobs, sessions, the tenant cache).

use std::{
    collections::{BTreeMap, BTreeSet},
    io::{Cursor, Read},
};

use axum::http::{StatusCode, header};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sqlx::PgPool;

use crate::helpers::{
    PASSWORD, Response, TestApp, assert_error_shape,
    fixtures::{class_of, register_pupils, school_with_year},
    internals,
    redis::ThrowawayRedis,
};

/// The entries of a zip, read with a real zip reader (CRCs checked).
fn unzip(bytes: &[u8]) -> BTreeMap<String, Vec<u8>> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).expect("a valid zip");
    (0..archive.len())
        .map(|i| {
            let mut entry = archive.by_index(i).expect("entry");
            let mut data = Vec::new();
            entry.read_to_end(&mut data).expect("entry data");
            (entry.name().expect("name").into_owned(), data)
        })
        .collect()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn school_id(app: &TestApp, code: &str) -> impl Future<Output = i64> {
    let pool = app.pool.clone();
    let code = code.to_owned();
    async move {
        sqlx::query_scalar("SELECT id FROM public.clients WHERE code = $1")
            .bind(code)
            .fetch_one(&pool)
            .await
            .unwrap()
    }
}

/// Each school's data, created in the same order so the ids collide: pupils (1, 2), a
/// guardian with a WhatsApp link code, a photo, a pending upload; on the platform its
/// WhatsApp number, a contact, chats, a stored delivery with its job, a sent message, an API
/// key, jobs naming its schema. Returns the school's admin client.
async fn school_with_records(app: &TestApp, code: &str, pupils: &[&str]) -> crate::helpers::Client {
    let admin = school_with_year(app, code).await;
    let (session, class) = class_of(&admin, "JSS 1A").await;
    register_pupils(app, code, session, class, pupils).await;
    let id = school_id(app, code).await;
    let upper = code.to_uppercase();
    let mut tx = app.school_tx(code).await;
    sqlx::query(
        "INSERT INTO guardians (student_id, full_name, phone, created_at, updated_at)
         VALUES (1, $1, '+2348010000001', now(), now())",
    )
    .bind(format!("Parent of {code}"))
    .execute(&mut *tx)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO chatbot_link_codes (guardian_id, code_hash, expires_at) VALUES (1, $1, now() + interval '1 day')",
    )
    .bind(format!("LINK-CODE-HASH-{upper}"))
    .execute(&mut *tx)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO student_photos (student_id, content_type, bytes, updated_at) VALUES (1, 'image/png', $1, now())",
    )
    .bind(format!("\u{89}PNG photo of {code}'s first pupil").into_bytes())
    .execute(&mut *tx)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO import_uploads (token_hash, user_id, csv_text, row_count, created_at, expires_at)
         VALUES ($1, 1, 'first_name', 0, now(), now() + interval '1 hour')",
    )
    .bind(format!("UPLOAD-TOKEN-HASH-{upper}").into_bytes())
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();

    let service_user: i64 = sqlx::query_scalar(
        "INSERT INTO public.users (email, password_hash, full_name, client_id, is_active, created_at, updated_at)
         VALUES ($1, 'not-a-password', 'API key', $2, FALSE, now(), now()) RETURNING id",
    )
    .bind(format!("key@{code}.test"))
    .bind(id)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO public.api_keys (client_id, user_id, name, prefix, secret_hash, scopes, permissions, created_at)
         VALUES ($1, $2, 'Bursary system', $3, $4, ARRAY['students:read'], ARRAY['view_students'], now())",
    )
    .bind(id)
    .bind(service_user)
    .bind(format!("sk_{code}"))
    .bind(format!("API-SECRET-HASH-{upper}").into_bytes())
    .execute(&app.pool)
    .await
    .unwrap();
    let number = format!("PNID-{upper}");
    sqlx::query(
        "INSERT INTO public.whatsapp_numbers (phone_number_id, school_id, access_token_sealed, display_phone)
         VALUES ($1, $2, $3, '+2348000000000')",
    )
    .bind(&number)
    .bind(id)
    .bind(format!("SEALED-ACCESS-TOKEN-{upper}").into_bytes())
    .execute(&app.pool)
    .await
    .unwrap();
    let phone = if code == "alpha" {
        "+2348011111111"
    } else {
        "+2348022222222"
    };
    sqlx::query(
        "INSERT INTO public.whatsapp_contacts (wa_phone, school_id, student_id, guardian_id) VALUES ($1, $2, 1, 1)",
    )
    .bind(phone)
    .bind(id)
    .execute(&app.pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO public.whatsapp_chats (phone_number_id, wa_phone) VALUES ($1, $2),
                ('PNID-SHARED', $2)",
    )
    .bind(&number)
    .bind(phone)
    .execute(&app.pool)
    .await
    .unwrap();
    sqlx::query("UPDATE public.whatsapp_chats SET chosen_school_id = $1 WHERE phone_number_id = 'PNID-SHARED' AND wa_phone = $2")
        .bind(id)
        .bind(phone)
        .execute(&app.pool)
        .await
        .unwrap();
    let inbound: i64 = sqlx::query_scalar(
        "INSERT INTO public.whatsapp_inbound (dedupe_key, kind, phone_number_id, chat_key, body)
         VALUES ($1, 'message', $2, $3, '{}') RETURNING id",
    )
    .bind(format!("wamid.{upper}"))
    .bind(&number)
    .bind(phone)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    internals::queue_inbound_job(&app.pool, inbound).await;
    sqlx::query(
        "INSERT INTO public.whatsapp_sent (wamid, school_id, outbox_id) VALUES ($1, $2, 1)",
    )
    .bind(format!("wamid.sent.{upper}"))
    .bind(id)
    .execute(&app.pool)
    .await
    .unwrap();
    internals::queue_school_jobs(&app.pool, code).await;
    admin
}

async fn ops(app: &TestApp) -> crate::helpers::Client {
    app.create_superadmin("root@platform.test").await;
    app.as_operator("root@platform.test").await
}

async fn export(client: &crate::helpers::Client, id: i64) -> Response {
    client
        .get(&format!("/api/v1/system/schools/{id}/export/"))
        .await
}

#[sqlx::test(migrations = false)]
async fn the_export_holds_that_schools_rows_only_and_its_counts_round_trip(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let root = ops(&app).await;
    school_with_records(&app, "alpha", &["Adaeze", "Babatunde"]).await;
    school_with_records(&app, "beta", &["Yewande", "Zainab"]).await;
    let alpha = school_id(&app, "alpha").await;
    // The ids collide: both schools' pupils are 1 and 2.
    for code in ["alpha", "beta"] {
        let ids: Vec<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT id FROM {code}.students ORDER BY id"
        )))
        .fetch_all(&app.pool)
        .await
        .unwrap();
        assert_eq!(ids, [1, 2], "{code}");
    }

    let res = export(&root, alpha).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert_eq!(res.headers[header::CONTENT_TYPE], "application/zip");
    let disposition = res.headers[header::CONTENT_DISPOSITION].to_str().unwrap();
    assert!(
        disposition.starts_with("attachment; filename=\"alpha-export-"),
        "{disposition}"
    );
    let files = unzip(&res.body);

    // Every table of alpha's schema, found in the catalogue, is there as CSV.
    let tables: BTreeSet<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables
          WHERE table_schema = 'alpha' AND table_type = 'BASE TABLE'",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap()
    .into_iter()
    .collect();
    let csvs: BTreeSet<String> = files
        .keys()
        .filter_map(|n| n.strip_prefix("tables/")?.strip_suffix(".csv"))
        .map(str::to_owned)
        .collect();
    assert_eq!(csvs, tables);
    assert!(tables.len() > 40, "{tables:?}");

    // The manifest: the school, the migration version, and per file rows and SHA-256 that
    // match the database and the bytes.
    let manifest: Value = serde_json::from_slice(&files["manifest.json"]).unwrap();
    assert_eq!(manifest["school"]["code"], "alpha");
    assert_eq!(manifest["school"]["id"], alpha);
    assert_eq!(manifest["exported_by"], "root@platform.test");
    let version: i64 =
        sqlx::query_scalar("SELECT max(version) FROM alpha._sqlx_migrations WHERE success")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(manifest["schema_migration_version"], version);
    let listed = manifest["files"].as_array().unwrap();
    assert_eq!(
        listed.len() + 1,
        files.len(),
        "every file but the manifest is listed"
    );
    let mut total_rows = 0;
    for file in listed {
        let name = file["name"].as_str().unwrap();
        let data = &files[name];
        assert_eq!(file["sha256"], hex::encode(Sha256::digest(data)), "{name}");
        assert_eq!(file["bytes"], data.len(), "{name}");
        if file["kind"] == "table" {
            let table = name
                .strip_prefix("tables/")
                .and_then(|n| n.strip_suffix(".csv"))
                .unwrap();
            let count: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT count(*) FROM alpha.{table}"
            )))
            .fetch_one(&app.pool)
            .await
            .unwrap();
            assert_eq!(file["rows"], count, "{name}");
            let mut reader = csv::Reader::from_reader(data.as_slice());
            let header: Vec<String> = reader
                .headers()
                .unwrap()
                .iter()
                .map(str::to_owned)
                .collect();
            let columns: Vec<String> = sqlx::query_scalar(
                "SELECT column_name::text FROM information_schema.columns
                  WHERE table_schema = 'alpha' AND table_name = $1 ORDER BY ordinal_position",
            )
            .bind(table)
            .fetch_all(&app.pool)
            .await
            .unwrap()
            .into_iter()
            .filter(|c: &String| !c.ends_with("_hash"))
            .collect();
            assert_eq!(header, columns, "{name}: columns in table order");
            assert_eq!(reader.records().count() as i64, count, "{name}");
            total_rows += count;
        }
    }
    assert!(total_rows > 50, "{total_rows}");

    // alpha's pupils, none of beta's (the same ids).
    let students = String::from_utf8(files["tables/students.csv"].clone()).unwrap();
    assert!(
        students.contains("Adaeze") && students.contains("Babatunde"),
        "{students}"
    );
    for (name, data) in &files {
        for theirs in [
            "Yewande",
            "Zainab",
            "ADM/beta",
            "admin@beta.test",
            "PNID-BETA",
            "Parent of beta",
            "photo of beta",
        ] {
            assert!(
                !contains(data, theirs.as_bytes()),
                "{name} holds beta's {theirs}"
            );
        }
    }
    // The photo is a file of its own, named in the CSV.
    assert_eq!(
        files["files/student_photos/bytes/1.png"],
        "\u{89}PNG photo of alpha's first pupil".as_bytes()
    );
    let photos = String::from_utf8(files["tables/student_photos.csv"].clone()).unwrap();
    assert!(
        photos.contains("files/student_photos/bytes/1.png"),
        "{photos}"
    );

    // The platform's records of alpha, without a credential.
    let school: Value = serde_json::from_slice(&files["school.json"]).unwrap();
    assert_eq!(school["school"]["code"], "alpha");
    assert_eq!(school["domains"][0]["domain"], "alpha.localhost");
    let emails: Vec<&str> = school["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["email"].as_str().unwrap())
        .collect();
    assert_eq!(emails, ["admin@alpha.test", "key@alpha.test"]);
    assert_eq!(school["api_keys"][0]["name"], "Bursary system");
    assert_eq!(school["whatsapp_number"]["phone_number_id"], "PNID-ALPHA");
    assert_eq!(school["whatsapp_contacts"][0]["wa_phone"], "+2348011111111");

    // No secret anywhere: password hashes, the sealed token, key, code and upload hashes.
    let hashes: Vec<String> =
        sqlx::query_scalar("SELECT password_hash FROM public.users WHERE client_id = $1")
            .bind(alpha)
            .fetch_all(&app.pool)
            .await
            .unwrap();
    let mut secrets: Vec<Vec<u8>> = hashes.into_iter().map(String::into_bytes).collect();
    for s in [
        "SEALED-ACCESS-TOKEN-ALPHA",
        "API-SECRET-HASH-ALPHA",
        "LINK-CODE-HASH-ALPHA",
        "UPLOAD-TOKEN-HASH-ALPHA",
        "password_hash",
        "access_token_sealed",
        "secret_hash",
    ] {
        secrets.push(s.as_bytes().to_vec());
        // bytea printed as hex would hide the text: look for that too.
        secrets.push(hex::encode(s).into_bytes());
    }
    for (name, data) in &files {
        if name == "manifest.json" {
            continue;
        }
        for secret in &secrets {
            assert!(
                !contains(data, secret),
                "{name} holds {}",
                String::from_utf8_lossy(secret)
            );
        }
    }
    assert_eq!(
        manifest["excluded_columns"],
        json!({"chatbot_link_codes": ["code_hash"], "import_uploads": ["token_hash"]})
    );

    // Audited on the platform trail: who, and the counts.
    let rows: Vec<(String, Option<String>, Value)> = sqlx::query_as(
        "SELECT action, actor_email, changes FROM public.platform_audit_log
          WHERE entity = 'school' AND entity_id = $1 AND action LIKE 'export%' ORDER BY id",
    )
    .bind(alpha.to_string())
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[0].0, "export_started");
    assert_eq!(rows[1].0, "exported");
    assert_eq!(rows[1].1.as_deref(), Some("root@platform.test"));
    let changes = &rows[1].2;
    assert_eq!(changes["outcome"], "complete", "{changes}");
    assert_eq!(changes["rows"], total_rows);
    assert_eq!(changes["row_counts"]["students"], 2);
    assert_eq!(changes["tables"], tables.len());
    let binaries: Vec<&String> = files.keys().filter(|n| n.starts_with("files/")).collect();
    assert_eq!(binaries, ["files/student_photos/bytes/1.png"]);
    assert_eq!(changes["files"], 1);
    assert_eq!(changes["bytes"], res.body.len());
}

#[sqlx::test(migrations = false)]
async fn only_platform_users_holding_the_export_permission_may_export(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let root = ops(&app).await;
    app.create_school("alpha").await;
    app.create_staff("alpha", "admin@alpha.test", "School Admin")
        .await;
    let alpha = school_id(&app, "alpha").await;
    let operator: i64 =
        sqlx::query_scalar("SELECT id FROM public.platform_roles WHERE name = 'Operator'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    let res = root
        .post(
            "/api/v1/system/users/",
            json!({"email": "ops@platform.test", "full_name": "Op", "password": PASSWORD, "roles": [operator]}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    let ops = app.as_operator("ops@platform.test").await;
    // The operator sees the school but may not take its data.
    assert_eq!(
        ops.get(&format!("/api/v1/system/schools/{alpha}/"))
            .await
            .status,
        StatusCode::OK
    );
    let body = assert_error_shape(&export(&ops, alpha).await, 403);
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("view_school_data"),
        "{body}"
    );
    // A school's admin, even at the platform's host, and nobody at all.
    let school_admin = app.as_staff("alpha", "admin@alpha.test").await;
    assert_error_shape(&export(&school_admin, alpha).await, 403);
    assert_error_shape(&export(&school_admin.at("localhost"), alpha).await, 403);
    assert_error_shape(&export(&app.platform_client(), alpha).await, 401);
    // A role given the permission may.
    sqlx::query("UPDATE public.platform_roles SET permissions = permissions || '{view_school_data}' WHERE id = $1")
        .bind(operator)
        .execute(&app.pool)
        .await
        .unwrap();
    assert_eq!(export(&ops, alpha).await.status, StatusCode::OK);
    assert_error_shape(&export(&root, alpha + 100).await, 404);
    // Nothing was exported by those refused.
    let n: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM public.platform_audit_log WHERE action = 'exported' AND actor_email <> 'ops@platform.test'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(n, 0);
}

/// Rows of public tables (and the platform's WhatsApp schema) whose text mentions `word`,
/// by table, the platform audit trail aside.
async fn public_rows_mentioning(pool: &PgPool, word: &str) -> BTreeMap<String, i64> {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT quote_ident(table_schema) || '.' || quote_ident(table_name) FROM information_schema.tables
          WHERE table_schema IN ('public', 'whatsapp_platform') AND table_type = 'BASE TABLE'
            AND table_name <> 'platform_audit_log'",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let mut found = BTreeMap::new();
    for table in tables {
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT count(*) FROM {table} t WHERE lower(t::text) LIKE '%' || $1 || '%'"
        )))
        .bind(word)
        .fetch_one(pool)
        .await
        .unwrap();
        if n > 0 {
            found.insert(table, n);
        }
    }
    found
}

/// Rows of public tables that point at school `id` or one of `users` through a column
/// naming a school or a foreign key to `users`.
async fn public_rows_pointing_at(pool: &PgPool, id: i64, users: &[i64]) -> BTreeMap<String, i64> {
    let school_columns: Vec<(String, String)> = sqlx::query_as(
        "SELECT quote_ident(table_schema) || '.' || quote_ident(table_name), quote_ident(column_name)
           FROM information_schema.columns c
          WHERE table_schema IN ('public', 'whatsapp_platform')
            AND column_name IN ('client_id', 'school_id', 'chosen_school_id')
            AND EXISTS (SELECT 1 FROM information_schema.tables t WHERE t.table_schema = c.table_schema
                           AND t.table_name = c.table_name AND t.table_type = 'BASE TABLE')",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let user_columns: Vec<(String, String)> = sqlx::query_as(
        "SELECT quote_ident(n.nspname) || '.' || quote_ident(t.relname), quote_ident(a.attname)
           FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
           JOIN pg_class t ON t.oid = c.conrelid JOIN pg_namespace n ON n.oid = t.relnamespace
          WHERE c.contype = 'f' AND c.confrelid = 'public.users'::regclass
         UNION ALL SELECT 'public.users', 'id'",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    assert!(school_columns.len() >= 8, "{school_columns:?}");
    assert!(user_columns.len() >= 5, "{user_columns:?}");
    let mut found = BTreeMap::new();
    for (table, column) in school_columns {
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT count(*) FROM {table} WHERE {column} = $1"
        )))
        .bind(id)
        .fetch_one(pool)
        .await
        .unwrap();
        if n > 0 {
            found.insert(format!("{table}.{column}"), n);
        }
    }
    for (table, column) in user_columns {
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT count(*) FROM {table} WHERE {column} = ANY($1)"
        )))
        .bind(users)
        .fetch_one(pool)
        .await
        .unwrap();
        if n > 0 {
            found.insert(format!("{table}.{column}"), n);
        }
    }
    let throttle: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM public.login_throttle WHERE key LIKE '%:school:' || $1 || ':%'",
    )
    .bind(id.to_string())
    .fetch_one(pool)
    .await
    .unwrap();
    if throttle > 0 {
        found.insert("public.login_throttle.key".into(), throttle);
    }
    found
}

async fn jobs_mentioning(pool: &PgPool, text: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM apalis.jobs WHERE convert_from(job, 'UTF8') LIKE '%' || $1 || '%'",
    )
    .bind(text)
    .fetch_one(pool)
    .await
    .unwrap()
}

#[sqlx::test(migrations = false)]
async fn deleting_a_school_leaves_nothing_behind(pool: PgPool) {
    let port = ThrowawayRedis::free_port();
    let redis = ThrowawayRedis::start_on(port).await;
    let mut config = schoolyard::config::Config::for_tests("");
    config.redis_url = Some(format!("redis://127.0.0.1:{port}"));
    let app = TestApp::with_config(pool, config).await;
    let root = ops(&app).await;
    school_with_records(&app, "alpha", &["Adaeze", "Babatunde"]).await;
    school_with_records(&app, "beta", &["Yewande", "Zainab"]).await;
    let alpha = school_id(&app, "alpha").await;
    let beta = school_id(&app, "beta").await;
    let alpha_users: Vec<i64> =
        sqlx::query_scalar("SELECT id FROM public.users WHERE client_id = $1")
            .bind(alpha)
            .fetch_all(&app.pool)
            .await
            .unwrap();
    // Signed in at both schools (sessions in Redis), refresh tokens from the API sign-ins,
    // a failed sign-in counted at alpha, the host lookup cached.
    let mut alpha_browser = app.signed_in("alpha", "admin@alpha.test").await;
    let mut beta_browser = app.signed_in("beta", "admin@beta.test").await;
    assert_eq!(redis.keys(), 2);
    let res = app
        .school_client("alpha")
        .post(
            "/api/v1/school/auth/login",
            json!({"email": "admin@alpha.test", "password": "wrong-password-1"}),
        )
        .await;
    assert!(res.status.is_client_error());
    // Before: alpha is everywhere the checks below look, so they can see it.
    assert!(!public_rows_mentioning(&app.pool, "alpha").await.is_empty());
    let before = public_rows_pointing_at(&app.pool, alpha, &alpha_users).await;
    assert!(
        before.contains_key("public.domains.client_id"),
        "{before:?}"
    );
    assert!(
        before.contains_key("public.refresh_tokens.user_id"),
        "{before:?}"
    );
    assert!(
        before.contains_key("public.login_throttle.key"),
        "{before:?}"
    );
    assert!(
        before.contains_key("public.whatsapp_chats.chosen_school_id"),
        "{before:?}"
    );
    assert_eq!(jobs_mentioning(&app.pool, "\"schema\":\"alpha\"").await, 2);
    let inbound: i64 = sqlx::query_scalar(
        "SELECT id FROM public.whatsapp_inbound WHERE phone_number_id = 'PNID-ALPHA'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    let inbound_job = format!("\"inbound_id\":{inbound}");
    assert_eq!(jobs_mentioning(&app.pool, &inbound_job).await, 1);
    assert_eq!(alpha_browser.get("/").await.status, StatusCode::OK);

    let res = root
        .delete(&format!("/api/v1/system/schools/{alpha}/?confirm=alpha"))
        .await;
    assert_eq!(res.status, StatusCode::NO_CONTENT, "{}", res.text());

    // The schema is gone from the catalogue, with every table.
    let schemas: i64 =
        sqlx::query_scalar("SELECT count(*) FROM pg_namespace WHERE nspname = 'alpha'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(schemas, 0);
    let tables: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'alpha'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(tables, 0);
    // No public row points at it or its users, or so much as mentions it.
    let after = public_rows_pointing_at(&app.pool, alpha, &alpha_users).await;
    assert!(after.is_empty(), "left behind: {after:?}");
    let mentions = public_rows_mentioning(&app.pool, "alpha").await;
    assert!(mentions.is_empty(), "left behind: {mentions:?}");
    // No job of it, in any queue.
    assert_eq!(jobs_mentioning(&app.pool, "alpha").await, 0);
    assert_eq!(jobs_mentioning(&app.pool, &inbound_job).await, 0);
    // Its sessions are gone from Redis; beta's stays and works.
    assert_eq!(redis.keys(), 1);
    assert_eq!(beta_browser.get("/").await.status, StatusCode::OK);
    // Its host no longer resolves (the tenant cache let go of it).
    assert_error_shape(
        &app.school_client("alpha")
            .get("/api/v1/school/auth/me")
            .await,
        404,
    );
    assert_eq!(alpha_browser.get("/").await.status, StatusCode::NOT_FOUND);

    // beta is untouched.
    let beta_after = public_rows_pointing_at(&app.pool, beta, &[]).await;
    assert!(
        beta_after.contains_key("public.whatsapp_numbers.school_id"),
        "{beta_after:?}"
    );
    assert_eq!(jobs_mentioning(&app.pool, "\"schema\":\"beta\"").await, 2);
    let beta_pupils: i64 = sqlx::query_scalar("SELECT count(*) FROM beta.students")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(beta_pupils, 2);
    assert_eq!(
        app.as_staff("beta", "admin@beta.test")
            .await
            .get("/api/v1/school/auth/me")
            .await
            .status,
        StatusCode::OK
    );

    // The platform trail keeps what was removed.
    let changes: Value = sqlx::query_scalar(
        "SELECT changes FROM public.platform_audit_log
          WHERE entity = 'school' AND action = 'delete' AND entity_id = $1",
    )
    .bind(alpha.to_string())
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(changes["code"], "alpha");
    let removed = &changes["removed"];
    assert_eq!(removed["users"], 2, "{changes}");
    assert_eq!(removed["jobs"], 3, "{changes}");
    assert_eq!(removed["api_keys"], 1, "{changes}");
    assert_eq!(removed["whatsapp_inbound"], 1, "{changes}");
    assert_eq!(removed["whatsapp_chats"], 1, "{changes}");
    assert_eq!(removed["whatsapp_chats_unchosen"], 1, "{changes}");
    assert_eq!(removed["domains"], 1, "{changes}");
    assert_eq!(removed["clients"], 1, "{changes}");
    assert!(removed["schema_tables"].as_u64().unwrap() > 40, "{changes}");
    assert!(
        removed["refresh_tokens"].as_u64().unwrap() >= 1,
        "{changes}"
    );
    assert!(
        removed["login_throttle"].as_u64().unwrap() >= 1,
        "{changes}"
    );
}

#[sqlx::test(migrations = false)]
async fn the_console_offers_the_export_and_still_asks_before_deleting(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.create_superadmin("root@platform.test").await;
    app.create_school("alpha").await;
    let alpha = school_id(&app, "alpha").await;
    let mut console = app.signed_in_at("localhost", "root@platform.test").await;
    let page = console.get(&format!("/schools/{alpha}")).await;
    assert_eq!(page.status, StatusCode::OK);
    let html = page.text();
    assert!(
        html.contains(&format!("href=\"/schools/{alpha}/export\"")),
        "{html}"
    );
    assert!(html.contains("Export data"), "{html}");

    let res = console.get(&format!("/schools/{alpha}/export")).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert_eq!(res.headers[header::CONTENT_TYPE], "application/zip");
    let files = unzip(&res.body);
    let manifest: Value = serde_json::from_slice(&files["manifest.json"]).unwrap();
    assert_eq!(manifest["school"]["code"], "alpha");

    // Deleting asks for the code (and the button for a confirmation); a wrong code keeps
    // everything.
    assert!(html.contains("data-confirm=\"Delete"), "{html}");
    let csrf = crate::helpers::csrf_of(&html);
    let res = console
        .post(
            &format!("/schools/{alpha}/delete"),
            &[("csrf_token", &csrf), ("confirm", "alfa")],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        res.text().contains("Type its code to confirm"),
        "{}",
        res.text()
    );
    assert_eq!(
        app.school_client("alpha").get("/login").await.status,
        StatusCode::OK
    );
    let res = console
        .post(
            &format!("/schools/{alpha}/delete"),
            &[("csrf_token", &csrf), ("confirm", "alpha")],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text());
    assert_eq!(
        app.school_client("alpha").get("/login").await.status,
        StatusCode::NOT_FOUND
    );

    // An operator without the permission sees no export link and is refused the download.
    let operator: i64 =
        sqlx::query_scalar("SELECT id FROM public.platform_roles WHERE name = 'Operator'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    let beta = app.create_school("beta").await;
    let user = app.create_superadmin("ops@platform.test").await;
    sqlx::query("UPDATE public.users SET is_superadmin = FALSE WHERE id = $1")
        .bind(user)
        .execute(&app.pool)
        .await
        .unwrap();
    sqlx::query("INSERT INTO public.platform_user_roles (user_id, role_id) VALUES ($1, $2)")
        .bind(user)
        .bind(operator)
        .execute(&app.pool)
        .await
        .unwrap();
    let mut ops = app.signed_in_at("localhost", "ops@platform.test").await;
    let page = ops.get(&format!("/schools/{}", beta.id)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.text().contains("/export\""), "{}", page.text());
    assert_eq!(
        ops.get(&format!("/schools/{}/export", beta.id))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
}

/// A client that leaves mid-download: the export stops, its snapshot transaction ends (the
/// connection goes back to the pool), and the trail says the export was abandoned.
#[sqlx::test(migrations = false)]
async fn an_abandoned_export_lets_go_of_its_connection_and_is_audited(pool: PgPool) {
    use futures::StreamExt;
    use tower::ServiceExt;

    let app = TestApp::new(pool).await;
    app.create_superadmin("root@platform.test").await;
    let token = app.platform_token("root@platform.test").await;
    school_with_records(&app, "alpha", &["Adaeze", "Babatunde"]).await;
    let alpha = school_id(&app, "alpha").await;
    let req = axum::http::Request::builder()
        .uri(format!("/api/v1/system/schools/{alpha}/export/"))
        .header(header::HOST, "localhost")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(axum::body::Body::empty())
        .unwrap();
    let res = app.router.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let mut body = res.into_body().into_data_stream();
    let first = body.next().await.unwrap().unwrap();
    assert!(first.starts_with(b"PK"), "a zip begins");
    drop(body);

    let mut outcome = Value::Null;
    for _ in 0..100 {
        let row: Option<Value> = sqlx::query_scalar(
            "SELECT changes FROM public.platform_audit_log WHERE action = 'exported' AND entity_id = $1",
        )
        .bind(alpha.to_string())
        .fetch_optional(&app.pool)
        .await
        .unwrap();
        if let Some(changes) = row {
            outcome = changes;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(outcome["outcome"], "aborted", "{outcome}");
    let open: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity
          WHERE datname = current_database() AND pid <> pg_backend_pid()
            AND state LIKE 'idle in transaction%'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(open, 0, "the export's snapshot is over");
}
