//! Offboarding (issue 15): a school deleted leaving nothing behind (schema, public rows,
//! jobs, sessions, the tenant cache).

use std::collections::BTreeMap;

use axum::http::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::{
    TestApp, assert_error_shape,
    fixtures::{class_of, register_pupils, school_with_year},
    internals,
    redis::ThrowawayRedis,
};

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
