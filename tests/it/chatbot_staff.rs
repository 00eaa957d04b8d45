//! Issue 12, staff's side of parents on WhatsApp: a guardian's link code (shown once, kept
//! as a hash, an earlier one voided), ending a link (its contact goes, the change is
//! audited), the school's WhatsApp settings (the own number's token sealed and never shown,
//! templates, grace period, the last problem), a test message queued with its send job,
//! the lists staff read, and the platform's contacts and console page. Permissions and
//! schools never mix.

use axum::http::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;

use schoolyard::config::Config;

use crate::helpers::{Client, TestApp, assert_error_shape, fixtures::staff_with, internals};

const SETTINGS: &str = "/api/v1/school/settings/whatsapp/";
const TOKEN: &str = "EAAGm0PX4ZCpsBAKZA-test-token-of-the-school-0123456789";

/// A school (no year needed) and a client signed in as its School Admin.
async fn school(app: &TestApp, code: &str) -> Client {
    app.create_school(code).await;
    let admin = format!("admin@{code}.test");
    app.create_staff(code, &admin, "School Admin").await;
    app.as_staff(code, &admin).await
}

/// Admits a pupil and gives them a guardian with `phone` (may be empty); returns
/// (student id, guardian id).
async fn pupil_with_guardian(admin: &Client, first: &str, phone: &str) -> (i64, i64) {
    let res = admin
        .post(
            "/api/v1/school/admissions/",
            json!({"first_name": first, "last_name": "Okafor", "sex": "female"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    let student = res.json()["id"].as_i64().unwrap();
    let res = admin
        .post(
            "/api/v1/school/guardians/",
            json!({"student_id": student, "full_name": format!("Parent of {first}"), "relationship": "Mother", "phone": phone}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    (student, res.json()["id"].as_i64().unwrap())
}

/// A live link made as the parent's side makes one: the school's row and the shared
/// number's contact. Returns the link id.
async fn linked(app: &TestApp, code: &str, student: i64, guardian: i64, phone: &str) -> i64 {
    let mut tx = app.school_tx(code).await;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO chatbot_links (guardian_id, student_id, wa_phone, proof)
         VALUES ($1, $2, $3, 'link_code') RETURNING id",
    )
    .bind(guardian)
    .bind(student)
    .bind(phone)
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    sqlx::query(
        "INSERT INTO public.whatsapp_contacts (wa_phone, school_id, student_id, guardian_id)
         SELECT $1, id, $2, $3 FROM public.clients WHERE code = $4",
    )
    .bind(phone)
    .bind(student)
    .bind(guardian)
    .bind(code)
    .execute(&app.pool)
    .await
    .unwrap();
    id
}

async fn contacts_of(app: &TestApp, code: &str) -> Vec<(String, i64)> {
    sqlx::query_as(
        "SELECT w.wa_phone, w.student_id FROM public.whatsapp_contacts w
           JOIN public.clients c ON c.id = w.school_id WHERE c.code = $1 ORDER BY w.id",
    )
    .bind(code)
    .fetch_all(&app.pool)
    .await
    .unwrap()
}

async fn audit_rows(admin: &Client, entity: &str) -> Vec<Value> {
    let res = admin
        .get(&format!(
            "/api/v1/school/audit/?entity={entity}&page_size=200"
        ))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    res.json()["results"].as_array().unwrap().clone()
}

async fn user_id(app: &TestApp, email: &str) -> i64 {
    sqlx::query_scalar("SELECT id FROM public.users WHERE email = $1")
        .bind(email)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

fn link_code_url(guardian: i64) -> String {
    format!("/api/v1/school/guardians/{guardian}/whatsapp/link-code/")
}

fn end_url(guardian: i64, link: i64) -> String {
    format!("/api/v1/school/guardians/{guardian}/whatsapp/links/{link}/end/")
}

#[sqlx::test(migrations = false)]
async fn a_link_code_is_shown_once_kept_as_a_hash_and_voids_the_earlier_one(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let admin = school(&app, "alpha").await;
    let (_, guardian) = pupil_with_guardian(&admin, "Chidi", "0803 123 4567").await;

    let res = admin.post_empty(&link_code_url(guardian)).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    let first = res.json();
    let code = first["code"].as_str().unwrap().to_owned();
    let parts: Vec<&str> = code.split('-').collect();
    assert_eq!(parts.len(), 3, "{code}");
    assert_eq!(parts[0], "ALPHA");
    assert!(parts[1].len() == 4 && parts[2].len() == 4, "{code}");
    assert!(first["instruction"].as_str().unwrap().contains(&code));
    let expires: chrono::DateTime<chrono::Utc> =
        first["expires_at"].as_str().unwrap().parse().unwrap();
    let days = (expires - chrono::Utc::now()).num_days();
    assert!((13..=14).contains(&days), "{expires}");

    // Only the hash of the secret part is kept; the code is nowhere in the row.
    let secret = format!("{}{}", parts[1], parts[2]);
    let mut tx = app.school_tx("alpha").await;
    let rows: Vec<(String, Option<i64>, String)> = sqlx::query_as(
        "SELECT code_hash, created_by, row_to_json(c)::text FROM chatbot_link_codes c WHERE guardian_id = $1",
    )
    .bind(guardian)
    .fetch_all(&mut *tx)
    .await
    .unwrap();
    drop(tx);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].0, internals::link_code_hash(&secret));
    assert_eq!(rows[0].1, Some(user_id(&app, "admin@alpha.test").await));
    assert!(!rows[0].2.contains(&secret), "{}", rows[0].2);

    // A second code voids the first: one code is live, the newest.
    let second = admin.post_empty(&link_code_url(guardian)).await.json();
    assert_ne!(second["code"], first["code"]);
    let mut tx = app.school_tx("alpha").await;
    let live: Vec<String> = sqlx::query_scalar(
        "SELECT code_hash FROM chatbot_link_codes
          WHERE guardian_id = $1 AND used_at IS NULL AND expires_at > now()",
    )
    .bind(guardian)
    .fetch_all(&mut *tx)
    .await
    .unwrap();
    drop(tx);
    let second_secret: String = second["code"].as_str().unwrap()[6..].replace('-', "");
    assert_eq!(live, vec![internals::link_code_hash(&second_secret)]);

    // Audited twice, never with the code.
    let audit = audit_rows(&admin, "guardian").await;
    let issued: Vec<&Value> = audit
        .iter()
        .filter(|r| r["action"] == "issue_whatsapp_code")
        .collect();
    assert_eq!(issued.len(), 2);
    for r in &issued {
        assert_eq!(r["entity_id"], guardian.to_string());
        assert!(!r.to_string().contains(&secret) && !r.to_string().contains(&second_secret));
    }

    // The page: the code shows once, on the answer to the button, never again.
    let mut browser = app.signed_in("alpha", "admin@alpha.test").await;
    let page = browser
        .get(&format!("/guardians/{guardian}/whatsapp"))
        .await;
    assert_eq!(page.status, StatusCode::OK);
    let html = page.text();
    assert!(html.contains("Parent of Chidi on WhatsApp"), "{html}");
    assert!(html.contains("+2348031234567"));
    assert!(html.contains("is waiting to be used"), "{html}");
    assert!(!html.contains(second["code"].as_str().unwrap()));
    let csrf = crate::helpers::csrf_of(&html);
    let res = browser
        .post(
            &format!("/guardians/{guardian}/whatsapp/code"),
            &[("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert_eq!(res.headers["cache-control"], "no-store");
    let html = res.text();
    let shown = html
        .split("readonly value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();
    assert!(shown.starts_with("ALPHA-"), "{shown}");
    assert!(
        html.contains(
            "Send this code on WhatsApp to the Schoolyard WhatsApp number, +2347000000001"
        )
    );
    let again = browser
        .get(&format!("/guardians/{guardian}/whatsapp"))
        .await
        .text();
    assert!(!again.contains(&shown), "the code shows only once");
}

#[sqlx::test(migrations = false)]
async fn a_guardian_without_a_phone_gets_a_message_instead_of_a_code(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let admin = school(&app, "alpha").await;
    let (student, guardian) = pupil_with_guardian(&admin, "Ada", "").await;

    let res = admin.post_empty(&link_code_url(guardian)).await;
    let err = assert_error_shape(&res, 422);
    assert!(err["errors"]["phone"].is_array(), "{err}");
    let mut tx = app.school_tx("alpha").await;
    let codes: i64 = sqlx::query_scalar("SELECT count(*) FROM chatbot_link_codes")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(codes, 0);
    drop(tx);

    let mut browser = app.signed_in("alpha", "admin@alpha.test").await;
    let profile = browser.get(&format!("/students/{student}")).await.text();
    assert!(
        profile.contains(&format!("href=\"/guardians/{guardian}/whatsapp\"")),
        "the profile links each guardian's WhatsApp page"
    );
    let html = browser
        .get(&format!("/guardians/{guardian}/whatsapp"))
        .await
        .text();
    assert!(html.contains("has no phone number recorded"), "{html}");
    assert!(!html.contains("Give a link code"), "{html}");
    assert!(html.contains("No WhatsApp number is linked"));
    // A post anyway goes back with the reason.
    let csrf = crate::helpers::csrf_of(&html);
    let res = browser
        .post(
            &format!("/guardians/{guardian}/whatsapp/code"),
            &[("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let html = browser.get(&res.location()).await.text();
    assert!(html.contains("has no phone number recorded"));
}

#[sqlx::test(migrations = false)]
async fn ending_a_link_removes_its_contact_and_is_audited(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let admin = school(&app, "alpha").await;
    let (chidi, mother) = pupil_with_guardian(&admin, "Chidi", "08031234567").await;
    let (ada, aunt) = pupil_with_guardian(&admin, "Ada", "08031234567").await;
    let chidi_link = linked(&app, "alpha", chidi, mother, "+2348031234567").await;
    let ada_link = linked(&app, "alpha", ada, aunt, "+2348031234567").await;

    let listed = admin
        .get(&format!("/api/v1/school/guardians/{mother}/whatsapp/"))
        .await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.text());
    let listed = listed.json();
    assert_eq!(listed["count"], 1);
    assert_eq!(listed["results"][0]["student_name"], "Chidi Okafor");
    assert_eq!(listed["results"][0]["ended_at"], Value::Null);

    // Another guardian's link is not this guardian's to end.
    assert_error_shape(
        &admin.post(&end_url(mother, ada_link), json!({})).await,
        404,
    );
    let res = admin
        .post(
            &end_url(mother, chidi_link),
            json!({"reason": "x".repeat(301)}),
        )
        .await;
    assert!(assert_error_shape(&res, 422)["errors"]["reason"].is_array());

    let res = admin
        .post(
            &end_url(mother, chidi_link),
            json!({"reason": "Phone lost"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let ended = res.json();
    assert!(ended["ended_at"].is_string());
    assert_eq!(ended["ended_by"], user_id(&app, "admin@alpha.test").await);
    assert_eq!(ended["ended_by_name"], "Test Staff");
    assert_eq!(ended["ended_reason"], "Phone lost");
    // Only that pupil's contact goes; the same phone still reaches Ada.
    assert_eq!(
        contacts_of(&app, "alpha").await,
        vec![("+2348031234567".to_owned(), ada)]
    );
    let again = admin.post(&end_url(mother, chidi_link), json!({})).await;
    assert_error_shape(&again, 409);
    let audit = audit_rows(&admin, "whatsapp_link").await;
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert_eq!(audit[0]["action"], "end");
    assert_eq!(audit[0]["entity_id"], chidi_link.to_string());
    assert_eq!(audit[0]["changes"]["ended_reason"]["to"], "Phone lost");
    assert_eq!(audit[0]["changes"]["student_id"], chidi);

    // The page: a confirmation step asks why, then the link is listed as ended.
    let mut browser = app.signed_in("alpha", "admin@alpha.test").await;
    let page = browser
        .get(&format!("/guardians/{aunt}/whatsapp"))
        .await
        .text();
    let confirm_url = format!("/guardians/{aunt}/whatsapp/links/{ada_link}/end");
    assert!(page.contains(&format!("href=\"{confirm_url}\"")), "{page}");
    let confirm = browser.get(&confirm_url).await;
    assert_eq!(confirm.status, StatusCode::OK);
    let confirm = confirm.text();
    assert!(confirm.contains("End this WhatsApp link?"));
    assert!(confirm.contains("+2348031234567") && confirm.contains("Ada Okafor"));
    // Nothing changes until it is confirmed.
    assert_eq!(contacts_of(&app, "alpha").await.len(), 1);
    let csrf = crate::helpers::csrf_of(&confirm);
    let res = browser
        .post(
            &confirm_url,
            &[("csrf_token", &csrf), ("reason", "No longer her guardian")],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text());
    assert_eq!(res.location(), format!("/guardians/{aunt}/whatsapp"));
    let page = browser.get(&res.location()).await.text();
    assert!(page.contains("Link ended"), "{page}");
    assert!(page.contains("No longer her guardian"));
    assert!(page.contains("No WhatsApp number is linked"));
    assert!(contacts_of(&app, "alpha").await.is_empty());
    // An ended link's confirmation page goes back with a message.
    let res = browser.get(&confirm_url).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
}

#[sqlx::test(migrations = false)]
async fn permissions_guard_link_codes_links_and_the_whatsapp_settings(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let admin = school(&app, "alpha").await;
    let (student, guardian) = pupil_with_guardian(&admin, "Chidi", "08031234567").await;
    let link = linked(&app, "alpha", student, guardian, "+2348031234567").await;

    // Reading guardians is not changing them.
    let reader = staff_with(
        &app,
        &admin,
        "reader@alpha.test",
        &["view_guardians", "view_students"],
    )
    .await;
    let res = reader
        .get(&format!("/api/v1/school/guardians/{guardian}/whatsapp/"))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert_error_shape(&reader.post_empty(&link_code_url(guardian)).await, 403);
    assert_error_shape(&reader.post(&end_url(guardian, link), json!({})).await, 403);
    let mut browser = app.signed_in("alpha", "reader@alpha.test").await;
    let html = browser
        .get(&format!("/guardians/{guardian}/whatsapp"))
        .await
        .text();
    assert!(
        !html.contains("Give a link code") && !html.contains("End link"),
        "{html}"
    );
    let csrf = crate::helpers::csrf_of(&html);
    let res = browser
        .post(
            &format!("/guardians/{guardian}/whatsapp/code"),
            &[("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    let mut tx = app.school_tx("alpha").await;
    let codes: i64 = sqlx::query_scalar("SELECT count(*) FROM chatbot_link_codes")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(codes, 0);
    drop(tx);
    assert_eq!(contacts_of(&app, "alpha").await.len(), 1);

    // Without view_guardians, not even the links.
    let no_guardians = staff_with(&app, &admin, "other@alpha.test", &["view_students"]).await;
    assert_error_shape(
        &no_guardians
            .get(&format!("/api/v1/school/guardians/{guardian}/whatsapp/"))
            .await,
        403,
    );

    // A teacher sees no WhatsApp settings, lists or page.
    app.create_staff("alpha", "teacher@alpha.test", "Teacher")
        .await;
    let teacher = app.as_staff("alpha", "teacher@alpha.test").await;
    for path in [
        SETTINGS,
        "/api/v1/school/whatsapp/links/",
        "/api/v1/school/whatsapp/messages/",
        "/api/v1/school/whatsapp/failures/",
    ] {
        assert_error_shape(&teacher.get(path).await, 403);
    }
    let mut browser = app.signed_in("alpha", "teacher@alpha.test").await;
    for path in ["/settings/whatsapp", "/settings/whatsapp/parents"] {
        assert_eq!(
            browser.get(path).await.status,
            StatusCode::FORBIDDEN,
            "{path}"
        );
    }

    // Reading settings is not changing them, nor sending.
    let head = staff_with(&app, &admin, "head@alpha.test", &["view_settings"]).await;
    assert_eq!(head.get(SETTINGS).await.status, StatusCode::OK);
    assert_error_shape(
        &head
            .put(SETTINGS, json!({"absence_template": "other_name"}))
            .await,
        403,
    );
    assert_error_shape(
        &head
            .post(
                "/api/v1/school/settings/whatsapp/test-message/",
                json!({"phone": "08031234567"}),
            )
            .await,
        403,
    );
    let mut browser = app.signed_in("alpha", "head@alpha.test").await;
    let html = browser.get("/settings/whatsapp").await.text();
    assert!(
        !html.contains("Send a test message") && !html.contains("Save the number"),
        "{html}"
    );
}

#[sqlx::test(migrations = false)]
async fn another_schools_guardian_or_link_is_not_found(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alpha = school(&app, "alpha").await;
    let beta = school(&app, "beta").await;
    let (a_student, a_guardian) = pupil_with_guardian(&alpha, "Chidi", "08031234567").await;
    let mut b_ids = Vec::new();
    for name in ["Bola", "Bayo", "Bisi"] {
        b_ids.push(pupil_with_guardian(&beta, name, "08051112222").await);
    }
    let (b_student, b_guardian) = b_ids[2];
    assert!(
        b_guardian > a_guardian,
        "beta's guardian id is unknown in alpha"
    );
    // Alpha has link 1; beta has links 1 and 2.
    linked(&app, "alpha", a_student, a_guardian, "+2348031234567").await;
    linked(&app, "beta", b_ids[1].0, b_ids[1].1, "+2348051110000").await;
    let b_link = linked(&app, "beta", b_student, b_guardian, "+2348051112222").await;
    assert_eq!(b_link, 2);

    // Beta's guardian from alpha's host: 404 on reads and writes.
    assert_error_shape(
        &alpha
            .get(&format!("/api/v1/school/guardians/{b_guardian}/whatsapp/"))
            .await,
        404,
    );
    assert_error_shape(&alpha.post_empty(&link_code_url(b_guardian)).await, 404);
    assert_error_shape(
        &alpha.post(&end_url(b_guardian, b_link), json!({})).await,
        404,
    );
    // Beta's link through alpha's guardian: 404, and beta's contacts stay.
    assert_error_shape(
        &alpha.post(&end_url(a_guardian, b_link), json!({})).await,
        404,
    );
    assert_eq!(contacts_of(&app, "beta").await.len(), 2);
    assert_eq!(contacts_of(&app, "alpha").await.len(), 1);
    let mut browser = app.signed_in("alpha", "admin@alpha.test").await;
    assert_eq!(
        browser
            .get(&format!("/guardians/{b_guardian}/whatsapp"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    // Each school lists its own linked parents only.
    let listed = alpha.get("/api/v1/school/whatsapp/links/").await.json();
    assert_eq!(listed["count"], 1);
    assert_eq!(listed["results"][0]["wa_phone"], "+2348031234567");
}

#[sqlx::test(migrations = false)]
async fn the_access_token_is_sealed_and_never_shown(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let admin = school(&app, "alpha").await;
    let beta = school(&app, "beta").await;

    let defaults = admin.get(SETTINGS).await.json();
    assert_eq!(defaults["phone_number_id"], Value::Null);
    assert_eq!(defaults["has_access_token"], false);
    assert_eq!(defaults["uses_shared_number"], true);
    assert_eq!(defaults["absence_template"], "absence_alert");

    // A new number needs its token.
    let res = admin
        .put(SETTINGS, json!({"phone_number_id": "106540352242922"}))
        .await;
    assert!(assert_error_shape(&res, 422)["errors"]["access_token"].is_array());
    let res = admin
        .put(
            SETTINGS,
            json!({"phone_number_id": "106540352242922", "access_token": TOKEN}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert!(!res.text().contains(TOKEN));
    let saved = res.json();
    assert_eq!(saved["phone_number_id"], "106540352242922");
    assert_eq!(saved["has_access_token"], true);
    assert_eq!(saved["uses_shared_number"], false);
    assert!(saved.get("access_token").is_none());

    // The number as parents dial it: normalised, refused when it is not a number, and
    // named in the instructions that go with a link code.
    let res = admin
        .put(SETTINGS, json!({"display_phone": "call the office"}))
        .await;
    assert!(assert_error_shape(&res, 422)["errors"]["display_phone"].is_array());
    let res = admin
        .put(SETTINGS, json!({"display_phone": "0803 123 4567"}))
        .await;
    assert_eq!(res.json()["display_phone"], "+2348031234567");

    // Sealed in the database: not the token, but it opens to the token with the key.
    let sealed = || async {
        sqlx::query_scalar::<_, Vec<u8>>(
            "SELECT access_token_sealed FROM public.whatsapp_numbers WHERE phone_number_id = '106540352242922'",
        )
        .fetch_one(&app.pool)
        .await
        .unwrap()
    };
    let first = sealed().await;
    assert!(
        !first.windows(TOKEN.len()).any(|w| w == TOKEN.as_bytes()),
        "the token is stored sealed"
    );
    let key = app.config.whatsapp.token_key;
    assert_eq!(
        internals::open_sealed_token(key.as_ref(), &first).unwrap(),
        TOKEN
    );

    // Never returned, never in the audit log, never on the page.
    let got = admin.get(SETTINGS).await;
    assert!(!got.text().contains(TOKEN));
    let audit = audit_rows(&admin, "whatsapp_settings").await;
    assert_eq!(audit.len(), 1);
    assert!(!audit[0].to_string().contains(TOKEN), "{}", audit[0]);
    assert_eq!(audit[0]["changes"]["access_token"]["changed"], true);
    assert_eq!(
        audit[0]["changes"]["phone_number_id"]["to"],
        "106540352242922"
    );
    let mut browser = app.signed_in("alpha", "admin@alpha.test").await;
    let html = browser.get("/settings/whatsapp").await.text();
    assert!(!html.contains(TOKEN));
    assert!(
        html.contains("A token is saved; enter a new one to replace it"),
        "{html}"
    );
    assert!(html.contains("106540352242922"));

    // A blank token keeps the saved one.
    let res = admin
        .put(
            SETTINGS,
            json!({"phone_number_id": "106540352242922", "access_token": ""}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let csrf = crate::helpers::csrf_of(&html);
    let res = browser
        .post(
            "/settings/whatsapp/number",
            &[
                ("csrf_token", &csrf),
                ("phone_number_id", "106540352242922"),
                ("access_token", ""),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text());
    assert_eq!(sealed().await, first);
    // A new one replaces it (and is sealed afresh).
    let replacement = format!("{TOKEN}-new");
    let res = browser
        .post(
            "/settings/whatsapp/number",
            &[
                ("csrf_token", &csrf),
                ("phone_number_id", "106540352242922"),
                ("access_token", &replacement),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text());
    assert_eq!(
        internals::open_sealed_token(key.as_ref(), &sealed().await).unwrap(),
        replacement
    );

    // A refused form keeps what was typed, except the token.
    let res = browser
        .post(
            "/settings/whatsapp/number",
            &[
                ("csrf_token", &csrf),
                ("phone_number_id", "12ab"),
                ("access_token", "short but secret"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text();
    assert!(html.contains("value=\"12ab\""));
    assert!(!html.contains("short but secret"));

    // Another school cannot take the same number, nor the shared one.
    let res = beta
        .put(
            SETTINGS,
            json!({"phone_number_id": "106540352242922", "access_token": TOKEN}),
        )
        .await;
    assert!(assert_error_shape(&res, 422)["errors"]["phone_number_id"].is_array());
    let shared = app.config.whatsapp.shared_number_id.clone().unwrap();
    let res = beta
        .put(
            SETTINGS,
            json!({"phone_number_id": shared, "access_token": TOKEN}),
        )
        .await;
    assert!(assert_error_shape(&res, 422)["errors"]["phone_number_id"].is_array());

    // Removing the own number asks first, then deletes the row (and its token).
    let confirm = browser.get("/settings/whatsapp/number/remove").await;
    assert_eq!(confirm.status, StatusCode::OK);
    assert!(confirm.text().contains("own WhatsApp number?"));
    let res = browser
        .post("/settings/whatsapp/number/remove", &[("csrf_token", &csrf)])
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM public.whatsapp_numbers")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(left, 0);
    assert_eq!(admin.get(SETTINGS).await.json()["uses_shared_number"], true);
}

#[sqlx::test(migrations = false)]
async fn without_a_token_key_no_token_is_saved(pool: PgPool) {
    let mut config = Config::for_tests("");
    config.whatsapp.token_key = None;
    let app = TestApp::with_config(pool, config).await;
    let admin = school(&app, "alpha").await;
    let res = admin
        .put(
            SETTINGS,
            json!({"phone_number_id": "106540352242922", "access_token": TOKEN, "absence_template": "new_name"}),
        )
        .await;
    let err = assert_error_shape(&res, 422);
    assert!(
        err["errors"]["access_token"][0]
            .as_str()
            .unwrap()
            .contains("WHATSAPP_TOKEN_KEY"),
        "{err}"
    );
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM public.whatsapp_numbers")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(rows, 0);
    // Nothing else of the request was saved either.
    assert_eq!(
        admin.get(SETTINGS).await.json()["absence_template"],
        "absence_alert"
    );
}

#[sqlx::test(migrations = false)]
async fn templates_grace_period_and_the_last_problem(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let admin = school(&app, "alpha").await;

    for (body, field) in [
        (
            json!({"absence_template": "Absence Alert"}),
            "absence_template",
        ),
        (json!({"results_template": ""}), "results_template"),
        (json!({"template_language": "english"}), "template_language"),
        (json!({"template_language": "en_us"}), "template_language"),
        (
            json!({"absence_grace_minutes": 1441}),
            "absence_grace_minutes",
        ),
    ] {
        let res = admin.put(SETTINGS, body.clone()).await;
        let err = assert_error_shape(&res, 422);
        assert!(err["errors"][field].is_array(), "{body}: {err}");
    }
    let res = admin
        .put(
            SETTINGS,
            json!({"absence_template": "absent_today_2", "results_template": "results_ready",
                   "template_language": "en_US", "absence_grace_minutes": 45}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let s = res.json();
    assert_eq!(s["absence_template"], "absent_today_2");
    assert_eq!(s["template_language"], "en_US");
    assert_eq!(s["absence_grace_minutes"], 45);
    // The grace period is the school setting itself.
    let general = admin.get("/api/v1/school/settings/").await.json();
    assert_eq!(general["absence_grace_minutes"], 45);

    // The page's form, with field errors and what was typed.
    let mut browser = app.signed_in("alpha", "admin@alpha.test").await;
    let csrf = browser.csrf("/settings/whatsapp").await;
    let res = browser
        .post(
            "/settings/whatsapp/templates",
            &[
                ("csrf_token", &csrf),
                ("absence_template", "Bad Name"),
                ("results_template", "results_ready"),
                ("template_language", "en"),
                ("absence_grace_minutes", "10"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text();
    assert!(html.contains("value=\"Bad Name\""));
    assert!(html.contains("lower-case letters, digits and _ only"));
    let res = browser
        .post(
            "/settings/whatsapp/templates",
            &[
                ("csrf_token", &csrf),
                ("absence_template", "absence_alert"),
                ("results_template", "results_ready"),
                ("template_language", "en"),
                ("absence_grace_minutes", "10"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text());
    assert_eq!(
        admin.get(SETTINGS).await.json()["absence_grace_minutes"],
        10
    );

    // The last send's problem shows prominently until marked fixed.
    let mut tx = app.school_tx("alpha").await;
    sqlx::query(
        "UPDATE chatbot_settings SET problem = 'WhatsApp refused the access token',
                problem_code = 190, problem_at = now()",
    )
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let got = admin.get(SETTINGS).await.json();
    assert_eq!(got["problem_code"], 190);
    let html = browser.get("/settings/whatsapp").await.text();
    assert!(
        html.contains("WhatsApp refused the access token (190)"),
        "{html}"
    );
    assert!(html.contains("Mark as fixed"));
    let res = browser
        .post("/settings/whatsapp/problem/fixed", &[("csrf_token", &csrf)])
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let html = browser.get("/settings/whatsapp").await.text();
    assert!(!html.contains("WhatsApp refused the access token"));
    let got = admin.get(SETTINGS).await.json();
    assert_eq!(got["problem"], Value::Null);
    assert_eq!(got["problem_code"], Value::Null);
    // Also through the API.
    let res = admin.put(SETTINGS, json!({"problem_fixed": true})).await;
    assert_eq!(res.status, StatusCode::OK);
}

async fn queued_jobs(app: &TestApp) -> Vec<Value> {
    sqlx::query_scalar::<_, Vec<u8>>(
        "SELECT job FROM apalis.jobs WHERE job_type = 'whatsapp' ORDER BY run_at",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap()
    .into_iter()
    .map(|bytes| serde_json::from_slice(&bytes).unwrap())
    .collect()
}

#[sqlx::test(migrations = false)]
async fn a_test_message_is_queued_in_the_outbox_with_its_job(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let admin = school(&app, "alpha").await;
    const TEST: &str = "/api/v1/school/settings/whatsapp/test-message/";

    let res = admin.post(TEST, json!({"phone": "not a phone"})).await;
    assert!(assert_error_shape(&res, 422)["errors"]["phone"].is_array());

    let res = admin.post(TEST, json!({"phone": "0803 123 4567"})).await;
    assert_eq!(res.status, StatusCode::ACCEPTED, "{}", res.text());
    let queued = res.json();
    assert_eq!(queued["recipient"], "+2348031234567");
    let shared = app.config.whatsapp.shared_number_id.clone().unwrap();
    assert_eq!(queued["phone_number_id"], shared.as_str());
    assert!(queued["purpose"].as_str().unwrap().starts_with("test:"));
    let outbox_id = queued["outbox_id"].as_i64().unwrap();

    let mut tx = app.school_tx("alpha").await;
    let (purpose, recipient, sender, message, status): (String, String, String, Value, String) =
        sqlx::query_as(
            "SELECT purpose, recipient, phone_number_id, message, status FROM whatsapp_outbox WHERE id = $1",
        )
        .bind(outbox_id)
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    let summary: String =
        sqlx::query_scalar("SELECT summary FROM chatbot_messages WHERE direction = 'out'")
            .fetch_one(&mut *tx)
            .await
            .unwrap();
    drop(tx);
    assert_eq!(purpose, queued["purpose"].as_str().unwrap());
    assert_eq!(recipient, "+2348031234567");
    assert_eq!(sender, shared);
    assert_eq!(status, "pending");
    assert_eq!(
        message["text"]["body"],
        "Test message from Alpha School on Schoolyard."
    );
    assert_eq!(summary, "Test message");
    let schema: String =
        sqlx::query_scalar("SELECT schema_name FROM public.clients WHERE code = 'alpha'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(
        queued_jobs(&app).await,
        vec![json!({"job": "send", "schema": schema, "outbox_id": outbox_id})]
    );
    let audit = audit_rows(&admin, "whatsapp_message").await;
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0]["action"], "send_test");

    // With its own number, the school sends from it.
    let res = admin
        .put(
            SETTINGS,
            json!({"phone_number_id": "106540352242922", "access_token": TOKEN}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
    let mut browser = app.signed_in("alpha", "admin@alpha.test").await;
    let csrf = browser.csrf("/settings/whatsapp").await;
    let res = browser
        .post(
            "/settings/whatsapp/test",
            &[("csrf_token", &csrf), ("phone", "+234 805 111 2222")],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text());
    let html = browser.get("/settings/whatsapp").await.text();
    assert!(html.contains("Queued; its delivery shows below."), "{html}");
    assert!(
        html.contains("+2348051112222"),
        "listed under the latest messages"
    );
    let mut tx = app.school_tx("alpha").await;
    let sender: String = sqlx::query_scalar(
        "SELECT phone_number_id FROM whatsapp_outbox WHERE recipient = '+2348051112222'",
    )
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    drop(tx);
    assert_eq!(sender, "106540352242922");
    assert_eq!(queued_jobs(&app).await.len(), 2);

    // A refused phone keeps what was typed.
    let res = browser
        .post(
            "/settings/whatsapp/test",
            &[("csrf_token", &csrf), ("phone", "12")],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().contains("value=\"12\""));
}

#[sqlx::test(migrations = false)]
async fn a_test_message_needs_a_number_to_send_from(pool: PgPool) {
    let mut config = Config::for_tests("");
    config.whatsapp.shared_number_id = None;
    let app = TestApp::with_config(pool, config).await;
    let admin = school(&app, "alpha").await;
    let res = admin
        .post(
            "/api/v1/school/settings/whatsapp/test-message/",
            json!({"phone": "08031234567"}),
        )
        .await;
    let err = assert_error_shape(&res, 422);
    assert!(
        err["errors"]["non_field_errors"][0]
            .as_str()
            .unwrap()
            .contains("no WhatsApp number to send from"),
        "{err}"
    );
    assert!(queued_jobs(&app).await.is_empty());
}

#[sqlx::test(migrations = false)]
async fn staff_read_linked_parents_conversations_and_failures(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let admin = school(&app, "alpha").await;

    // Empty lists first.
    let mut browser = app.signed_in("alpha", "admin@alpha.test").await;
    for (path, empty) in [
        (
            "/settings/whatsapp/parents",
            "No parent has linked their WhatsApp yet",
        ),
        ("/settings/whatsapp/conversations", "No message yet"),
        ("/settings/whatsapp/failures", "No message has failed"),
    ] {
        let res = browser.get(path).await;
        assert_eq!(res.status, StatusCode::OK, "{path}");
        assert!(res.text().contains(empty), "{path}");
    }

    let (chidi, mother) = pupil_with_guardian(&admin, "Chidi", "08031234567").await;
    let (ada, father) = pupil_with_guardian(&admin, "Ada", "08051112222").await;
    linked(&app, "alpha", chidi, mother, "+2348031234567").await;
    let ended = linked(&app, "alpha", ada, father, "+2348051112222").await;
    let mut tx = app.school_tx("alpha").await;
    sqlx::query("UPDATE chatbot_links SET ended_at = now() WHERE id = $1")
        .bind(ended)
        .execute(&mut *tx)
        .await
        .unwrap();
    for (direction, phone, summary) in [
        ("in", "+2348031234567", "Menu"),
        ("out", "+2348031234567", "Results of Chidi Okafor"),
        ("in", "+2348051112222", "Hello"),
    ] {
        sqlx::query(
            "INSERT INTO chatbot_messages (direction, wa_phone, summary) VALUES ($1, $2, $3)",
        )
        .bind(direction)
        .bind(phone)
        .bind(summary)
        .execute(&mut *tx)
        .await
        .unwrap();
    }
    for (purpose, status, code, title) in [
        (
            "absence:1:2026-01-12:+2348031234567",
            "failed",
            Some(131026),
            Some("Message undeliverable"),
        ),
        ("reply:wamid.X:1", "uncertain", None, None),
        ("reply:wamid.Y:1", "delivered", None, None),
    ] {
        sqlx::query(
            "INSERT INTO whatsapp_outbox (purpose, recipient, phone_number_id, message, status, error_code, error_title)
             VALUES ($1, '+2348031234567', '100000000000001', '{\"type\": \"text\"}', $2, $3, $4)",
        )
        .bind(purpose)
        .bind(status)
        .bind(code)
        .bind(title)
        .execute(&mut *tx)
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();

    let links = admin.get("/api/v1/school/whatsapp/links/").await.json();
    assert_eq!(links["count"], 1, "only live links: {links}");
    assert_eq!(links["results"][0]["guardian_name"], "Parent of Chidi");
    assert_eq!(links["results"][0]["student_name"], "Chidi Okafor");
    let found = admin
        .get("/api/v1/school/whatsapp/links/?search=0803%20123")
        .await
        .json();
    assert_eq!(found["count"], 1);
    let none = admin
        .get("/api/v1/school/whatsapp/links/?search=Zainab")
        .await
        .json();
    assert_eq!(none["count"], 0);

    let messages = admin
        .get("/api/v1/school/whatsapp/messages/?page_size=2")
        .await
        .json();
    assert_eq!(messages["count"], 3);
    assert_eq!(messages["results"].as_array().unwrap().len(), 2);
    assert!(messages["next"].is_string());
    assert_eq!(messages["results"][0]["summary"], "Hello", "newest first");

    let failures = admin.get("/api/v1/school/whatsapp/failures/").await.json();
    assert_eq!(failures["count"], 2);
    let statuses: Vec<&str> = failures["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["status"].as_str().unwrap())
        .collect();
    assert!(statuses.contains(&"failed") && statuses.contains(&"uncertain"));

    let html = browser.get("/settings/whatsapp/parents").await.text();
    assert!(
        html.contains("Parent of Chidi") && !html.contains("Parent of Ada"),
        "{html}"
    );
    let html = browser.get("/settings/whatsapp/conversations").await.text();
    assert!(html.contains("Results of Chidi Okafor"));
    let html = browser.get("/settings/whatsapp/failures").await.text();
    assert!(html.contains("Message undeliverable (131026)"), "{html}");
    let html = browser.get("/settings/whatsapp").await.text();
    assert!(html.contains("Linked parents (1)"), "{html}");
}

#[sqlx::test(migrations = false)]
async fn contacts_of_every_school_are_listed_only_to_platform_users(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alpha = school(&app, "alpha").await;
    let beta = school(&app, "beta").await;
    let (a_student, a_guardian) = pupil_with_guardian(&alpha, "Chidi", "08031234567").await;
    let (b_student, b_guardian) = pupil_with_guardian(&beta, "Bola", "08051112222").await;
    linked(&app, "alpha", a_student, a_guardian, "+2348031234567").await;
    linked(&app, "beta", b_student, b_guardian, "+2348051112222").await;
    app.create_superadmin("root@platform.test").await;
    let root = app.as_operator("root@platform.test").await;
    const CONTACTS: &str = "/api/v1/system/whatsapp-contacts/";

    let all = root.get(CONTACTS).await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.text());
    let all = all.json();
    assert_eq!(all["count"], 2);
    let codes: Vec<&str> = all["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["school"]["code"].as_str().unwrap())
        .collect();
    assert!(codes.contains(&"alpha") && codes.contains(&"beta"), "{all}");
    let one = &all["results"][0];
    for field in ["id", "wa_phone", "student_id", "guardian_id", "created_at"] {
        assert!(!one[field].is_null(), "{field}: {one}");
    }
    assert!(one["school"]["name"].is_string() && one["school"]["id"].is_i64());
    let found = root.get(&format!("{CONTACTS}?search=805111")).await.json();
    assert_eq!(found["count"], 1);
    assert_eq!(found["results"][0]["school"]["code"], "beta");
    assert_eq!(found["results"][0]["student_id"], b_student);

    // School staff never see them, at the platform or at their school.
    assert_error_shape(&alpha.at("localhost").get(CONTACTS).await, 403);
    let res = alpha.get(CONTACTS).await;
    assert!(
        res.status == StatusCode::FORBIDDEN || res.status == StatusCode::UNAUTHORIZED,
        "{}",
        res.status
    );
    // A platform user whose role lacks the permission does not either.
    let support: i64 =
        sqlx::query_scalar("SELECT id FROM public.platform_roles WHERE name = 'Support'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    let res = root
        .post(
            "/api/v1/system/users/",
            json!({"email": "support@platform.test", "full_name": "Sam Support", "password": crate::helpers::PASSWORD, "roles": [support]}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    let support = app.as_operator("support@platform.test").await;
    assert_error_shape(&support.get(CONTACTS).await, 403);

    // Deleting one is audited on the platform trail.
    let id = found["results"][0]["id"].as_i64().unwrap();
    assert_error_shape(&support.delete(&format!("{CONTACTS}{id}/")).await, 403);
    let res = root.delete(&format!("{CONTACTS}{id}/")).await;
    assert_eq!(res.status, StatusCode::NO_CONTENT, "{}", res.text());
    assert_error_shape(&root.delete(&format!("{CONTACTS}{id}/")).await, 404);
    assert!(contacts_of(&app, "beta").await.is_empty());
    assert_eq!(contacts_of(&app, "alpha").await.len(), 1);
    let (action, changes): (String, Value) = sqlx::query_as(
        "SELECT action, changes FROM public.platform_audit_log
          WHERE entity = 'whatsapp_contact' AND entity_id = $1",
    )
    .bind(id.to_string())
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(action, "delete");
    assert_eq!(changes["deleted"]["wa_phone"], "+2348051112222");
}

#[sqlx::test(migrations = false)]
async fn the_console_shows_the_channel_without_its_secrets(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alpha = school(&app, "alpha").await;
    let (student, guardian) = pupil_with_guardian(&alpha, "Chidi", "08031234567").await;
    linked(&app, "alpha", student, guardian, "+2348031234567").await;
    let res = alpha
        .put(
            SETTINGS,
            json!({"phone_number_id": "106540352242922", "access_token": TOKEN}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
    sqlx::query(
        "INSERT INTO public.whatsapp_inbound (dedupe_key, kind, phone_number_id, chat_key, body, outcome)
         VALUES ('wamid.SECRET1', 'message', '100000000000001', '+2348031234567',
                 '{\"text\": {\"body\": \"my private words\"}}', 'linked')",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    app.create_superadmin("root@platform.test").await;
    let mut browser = app.signed_in_at("localhost", "root@platform.test").await;
    let res = browser.get("/whatsapp").await;
    assert_eq!(res.status, StatusCode::OK);
    let html = res.text();
    assert!(
        html.contains("href=\"/whatsapp\""),
        "in the console's navigation"
    );
    assert!(html.contains("https://localhost/api/v1/chatbot/whatsapp/"));
    assert!(html.contains("The shared number is set up"), "{html}");
    assert!(html.contains("Alpha School") && html.contains("106540352242922"));
    assert!(html.contains("linked") && html.contains("message"));
    let whatsapp = &app.config.whatsapp;
    for secret in [
        whatsapp.app_secret.as_deref().unwrap(),
        whatsapp.verify_token.as_deref().unwrap(),
        whatsapp.shared_access_token.as_deref().unwrap(),
        TOKEN,
        "my private words",
        "+2348031234567",
    ] {
        assert!(!html.contains(secret), "{secret} shows on the console");
    }
}
