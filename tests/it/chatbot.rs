//! Parents on WhatsApp (issue 12): the webhook, linking, the menu, alerts and the outbox,
//! against a local fake of the Cloud API that records every request.

use std::{
    collections::VecDeque,
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    Json, Router,
    extract::{Path, State},
    http::{Method, StatusCode},
    response::IntoResponse,
    routing::post,
};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use sqlx::PgPool;

use crate::helpers::{
    Response, TestApp,
    fixtures::{self, CLASS, ExamClass},
    internals::{self, chatbot},
};

const SECRET: &str = "test-app-secret";
const SHARED: &str = "100000000000001";
const WEBHOOK: &str = "/api/v1/chatbot/whatsapp/";
const MOTHER: &str = "+2348031234567";
const MOTHER_WA: &str = "2348031234567";

/// What the fake Cloud API was asked.
#[derive(Debug, Clone)]
struct Sent {
    number: String,
    body: Value,
}

#[derive(Default)]
struct FakeState {
    sent: Vec<Sent>,
    uploads: Vec<String>,
    /// Errors to answer the next sends with: (HTTP status, WhatsApp error code).
    fail_next: VecDeque<(u16, i64)>,
}

/// A local stand-in for graph.facebook.com: records requests, returns wamids and media ids,
/// and answers with the error codes a test queues.
struct FakeCloud {
    addr: SocketAddr,
    state: Arc<Mutex<FakeState>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeCloud {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn fake_send(
    State(state): State<Arc<Mutex<FakeState>>>,
    Path((_version, number)): Path<(String, String)>,
    Json(body): Json<Value>,
) -> axum::response::Response {
    let mut s = state.lock().unwrap();
    if let Some((status, code)) = s.fail_next.pop_front() {
        let status = StatusCode::from_u16(status).unwrap();
        return (
            status,
            Json(json!({"error": {"message": "fake error", "type": "OAuthException", "code": code,
                                   "error_data": {"messaging_product": "whatsapp", "details": "as the test asked"}}})),
        )
            .into_response();
    }
    s.sent.push(Sent { number, body });
    let n = s.sent.len();
    Json(
        json!({"messaging_product": "whatsapp", "contacts": [{"input": "x", "wa_id": "x"}],
                "messages": [{"id": format!("wamid.out.{n}")}]}),
    )
    .into_response()
}

async fn fake_upload(
    State(state): State<Arc<Mutex<FakeState>>>,
    Path((_version, number)): Path<(String, String)>,
    _body: axum::body::Bytes,
) -> Json<Value> {
    let mut s = state.lock().unwrap();
    s.uploads.push(number);
    Json(json!({"id": format!("media-{}", s.uploads.len())}))
}

impl FakeCloud {
    async fn start() -> Self {
        let state = Arc::new(Mutex::new(FakeState::default()));
        let router = Router::new()
            .route("/{version}/{number}/messages", post(fake_send))
            .route("/{version}/{number}/media", post(fake_upload))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            axum::serve(listener, router).await.unwrap();
        });
        Self { addr, state, task }
    }

    fn base(&self) -> String {
        format!("http://{}/v23.0", self.addr)
    }

    fn sent(&self) -> Vec<Sent> {
        self.state.lock().unwrap().sent.clone()
    }

    fn uploads(&self) -> usize {
        self.state.lock().unwrap().uploads.len()
    }

    fn fail_next(&self, status: u16, code: i64) {
        self.state
            .lock()
            .unwrap()
            .fail_next
            .push_back((status, code));
    }

    /// Waits until `n` messages were sent (returns them all), saying what the inbound store and the queue hold when it times out.
    async fn wait(&self, app: &TestApp, n: usize) -> Vec<Sent> {
        for _ in 0..300 {
            let sent = self.sent();
            if sent.len() >= n {
                return sent;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let inbound: Vec<(String, Option<String>)> =
            sqlx::query_as("SELECT dedupe_key, outcome FROM public.whatsapp_inbound ORDER BY id")
                .fetch_all(&app.pool)
                .await
                .unwrap();
        let jobs: Vec<(String, String, Option<Value>)> =
            sqlx::query_as("SELECT job_type, status, last_result FROM apalis.jobs ORDER BY run_at")
                .fetch_all(&app.pool)
                .await
                .unwrap_or_default();
        panic!(
            "expected {n} messages, the fake got {:#?}\ninbound: {inbound:#?}\njobs: {jobs:#?}",
            self.sent()
        );
    }

    /// The text of a message (text body, list body or caption).
    fn text_of(sent: &Sent) -> String {
        let b = &sent.body;
        b.pointer("/text/body")
            .or_else(|| b.pointer("/interactive/body/text"))
            .or_else(|| b.pointer("/document/caption"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    }
}

fn sign(body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

async fn deliver_raw(app: &TestApp, raw: Vec<u8>, signature: Option<String>) -> Response {
    let mut client = app.client("localhost");
    if let Some(sig) = signature {
        client = client.header("x-hub-signature-256", &sig);
    }
    client
        .raw(Method::POST, WEBHOOK, Some("application/json"), raw)
        .await
}

async fn deliver(app: &TestApp, body: &Value) -> Response {
    let raw = serde_json::to_vec(body).unwrap();
    let sig = sign(&raw);
    deliver_raw(app, raw, Some(sig)).await
}

/// Meta's envelope around one change's value.
fn envelope(number: &str, value: Value) -> Value {
    let mut value = value;
    value["messaging_product"] = json!("whatsapp");
    value["metadata"] = json!({"display_phone_number": "15550000000", "phone_number_id": number});
    json!({"object": "whatsapp_business_account",
           "entry": [{"id": "WABA-1", "changes": [{"field": "messages", "value": value}]}]})
}

fn text_message(number: &str, from: &str, wamid: &str, text: &str) -> Value {
    envelope(
        number,
        json!({"contacts": [{"profile": {"name": "Mrs Okafor"}, "wa_id": from}],
               "messages": [{"from": from, "id": wamid, "timestamp": chrono::Utc::now().timestamp().to_string(),
                             "type": "text", "text": {"body": text}}]}),
    )
}

fn list_reply(number: &str, from: &str, wamid: &str, id: &str) -> Value {
    envelope(
        number,
        json!({"contacts": [{"profile": {"name": "Mrs Okafor"}, "wa_id": from}],
               "messages": [{"from": from, "id": wamid, "timestamp": chrono::Utc::now().timestamp().to_string(),
                             "type": "interactive",
                             "interactive": {"type": "list_reply", "list_reply": {"id": id, "title": id}}}]}),
    )
}

fn button_reply(number: &str, from: &str, wamid: &str, id: &str) -> Value {
    envelope(
        number,
        json!({"contacts": [{"profile": {"name": "Mrs Okafor"}, "wa_id": from}],
               "messages": [{"from": from, "id": wamid, "timestamp": chrono::Utc::now().timestamp().to_string(),
                             "type": "interactive",
                             "interactive": {"type": "button_reply", "button_reply": {"id": id, "title": "Attendance"}}}]}),
    )
}

fn status(number: &str, wamid: &str, state: &str, error: Option<i64>) -> Value {
    let mut s =
        json!({"id": wamid, "status": state, "timestamp": "1767225600", "recipient_id": MOTHER_WA});
    if let Some(code) = error {
        s["errors"] = json!([{"code": code, "title": "Re-engagement message",
                              "error_data": {"details": "more than 24 hours"}}]);
    }
    envelope(number, json!({"statuses": [s]}))
}

async fn add_guardian(app: &TestApp, code: &str, student: i64, phone: &str) -> i64 {
    let mut tx = app.school_tx(code).await;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO guardians (student_id, full_name, relationship, phone, is_primary, created_at, updated_at)
         VALUES ($1, 'Ngozi Okafor', 'Mother', $2, true, now(), now()) RETURNING id",
    )
    .bind(student)
    .bind(phone)
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    id
}

async fn link_code(app: &TestApp, code: &str, guardian: i64) -> String {
    let mut tx = app.school_tx(code).await;
    let (typed, _) = chatbot::codes::issue(
        &mut tx,
        guardian,
        &code.to_uppercase(),
        None,
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    typed
}

/// Waits until the inbound row with this key has been processed (its outcome recorded).
async fn wait_processed(app: &TestApp, dedupe_key: &str) {
    for _ in 0..300 {
        let outcome: Option<Option<String>> =
            sqlx::query_scalar("SELECT outcome FROM public.whatsapp_inbound WHERE dedupe_key = $1")
                .bind(dedupe_key)
                .fetch_optional(&app.pool)
                .await
                .unwrap();
        if let Some(Some(_)) = outcome {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{dedupe_key} was never processed");
}

async fn inbound_rows(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM public.whatsapp_inbound")
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

/// Gives a school its own WhatsApp number (token sealed with the test key).
async fn own_number(app: &TestApp, code: &str, number: &str) {
    let key = internals::WhatsAppConfig::for_tests().token_key;
    let sealed = chatbot::sealing::seal(key.as_ref(), &format!("token-of-{code}")).unwrap();
    sqlx::query(
        "INSERT INTO public.whatsapp_numbers (phone_number_id, school_id, access_token_sealed)
         SELECT $1, id, $2 FROM public.clients WHERE code = $3",
    )
    .bind(number)
    .bind(sealed)
    .bind(code)
    .execute(&app.pool)
    .await
    .unwrap();
}

/// A school whose first-term exam session has the hand-computed marks (not yet published),
/// and Ada's mother on record with a WhatsApp number.
async fn school_with_marks(app: &TestApp) -> (ExamClass, i64) {
    let f = fixtures::class_with_exams(app, "alpha", &CLASS).await;
    fixtures::enter_hand_computed_marks(&f).await;
    let guardian = add_guardian(app, "alpha", f.students["Ada"], MOTHER).await;
    (f, guardian)
}

async fn publish(f: &ExamClass) {
    let res = f
        .admin
        .patch(
            &format!("/api/v1/school/exam-sessions/{}/", f.exam_session),
            json!({"status": "published", "confirm_outstanding": true}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
}

#[sqlx::test]
async fn the_handshake_echoes_the_challenge_only_with_the_right_token(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let platform = app.client("localhost");
    let ok = platform
        .get(&format!("{WEBHOOK}?hub.mode=subscribe&hub.verify_token=test-verify-token&hub.challenge=1158201444"))
        .await;
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(ok.text(), "1158201444");
    let wrong = platform
        .get(&format!(
            "{WEBHOOK}?hub.mode=subscribe&hub.verify_token=guess&hub.challenge=1158201444"
        ))
        .await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    assert!(!wrong.text().contains("1158201444"));
    let no_mode = platform
        .get(&format!(
            "{WEBHOOK}?hub.verify_token=test-verify-token&hub.challenge=1"
        ))
        .await;
    assert_eq!(no_mode.status, StatusCode::FORBIDDEN);
}

#[sqlx::test]
async fn a_delivery_without_the_right_signature_is_refused_and_nothing_is_stored(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let body = serde_json::to_vec(&text_message(SHARED, MOTHER_WA, "wamid.A1", "hi")).unwrap();
    let missing = deliver_raw(&app, body.clone(), None).await;
    assert_eq!(missing.status, StatusCode::UNAUTHORIZED);
    let wrong = deliver_raw(
        &app,
        body.clone(),
        Some(format!("sha256={}", "0".repeat(64))),
    )
    .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    // Signed with another secret.
    let mut mac = Hmac::<Sha256>::new_from_slice(b"another-secret").unwrap();
    mac.update(&body);
    let other = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    assert_eq!(
        deliver_raw(&app, body.clone(), Some(other)).await.status,
        StatusCode::UNAUTHORIZED
    );
    // The right signature over a changed body.
    let mut tampered = body.clone();
    tampered.push(b' ');
    assert_eq!(
        deliver_raw(&app, tampered, Some(sign(&body))).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(inbound_rows(&app).await, 0, "nothing stored");

    // A valid signature over non-ASCII text (as the raw bytes Meta signed) is accepted.
    let non_ascii = text_message(SHARED, MOTHER_WA, "wamid.A2", "Ẹ káàrọ̀ — Grüße 👋");
    let raw = serde_json::to_vec(&non_ascii).unwrap();
    assert!(raw.iter().any(|b| *b > 127));
    let res = deliver_raw(&app, raw.clone(), Some(sign(&raw))).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert_eq!(inbound_rows(&app).await, 1);
}

#[sqlx::test]
async fn an_unknown_number_is_acknowledged_and_nothing_is_processed(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let res = deliver(
        &app,
        &text_message("999999999", MOTHER_WA, "wamid.U1", "hi"),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(inbound_rows(&app).await, 0);
}

#[sqlx::test]
async fn a_parent_links_with_a_code_and_sees_only_published_results_and_the_card(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let fake = FakeCloud::start().await;
    let _workers = app.start_workers_with_whatsapp(&fake.base());
    let (f, guardian) = school_with_marks(&app).await;

    // Unknown on the shared number: asked to link.
    assert_eq!(
        deliver(&app, &text_message(SHARED, MOTHER_WA, "wamid.L1", "Hello"))
            .await
            .status,
        StatusCode::OK
    );
    let sent = fake.wait(&app, 1).await;
    assert_eq!(sent[0].number, SHARED);
    assert_eq!(sent[0].body["to"], MOTHER_WA);
    assert!(
        FakeCloud::text_of(&sent[0]).contains("link code"),
        "{:?}",
        sent[0]
    );

    // The code from the office links her.
    let code = link_code(&app, "alpha", guardian).await;
    deliver(
        &app,
        &text_message(SHARED, MOTHER_WA, "wamid.L2", &code.to_lowercase()),
    )
    .await;
    let sent = fake.wait(&app, 3).await;
    assert!(
        FakeCloud::text_of(&sent[1]).contains("linked to Ada Test"),
        "{:?}",
        sent[1]
    );
    assert_eq!(sent[2].body["interactive"]["type"], "list", "then the menu");
    let links: i64 =
        sqlx::query_scalar("SELECT count(*) FROM public.whatsapp_contacts WHERE wa_phone = $1")
            .bind(MOTHER)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(links, 1);

    // Results while the session is not published: refused.
    deliver(
        &app,
        &list_reply(SHARED, MOTHER_WA, "wamid.L3", "menu:results"),
    )
    .await;
    let sent = fake.wait(&app, 4).await;
    assert!(
        FakeCloud::text_of(&sent[3]).contains("No results have been published"),
        "{:?}",
        sent[3]
    );
    deliver(&app, &text_message(SHARED, MOTHER_WA, "wamid.L4", "card")).await;
    let sent = fake.wait(&app, 5).await;
    assert!(
        FakeCloud::text_of(&sent[4]).contains("No report card"),
        "{:?}",
        sent[4]
    );
    assert_eq!(fake.uploads(), 0);

    // Published: "results are out" reaches her, then the summary and the card.
    publish(&f).await;
    let sent = fake.wait(&app, 6).await;
    assert!(
        FakeCloud::text_of(&sent[5]).contains("are out for Ada Test"),
        "{:?}",
        sent[5]
    );
    deliver(
        &app,
        &text_message(SHARED, MOTHER_WA, "wamid.L5", "Results"),
    )
    .await;
    let sent = fake.wait(&app, 7).await;
    let summary = FakeCloud::text_of(&sent[6]);
    assert!(summary.contains("Average: 72.5"), "{summary}");
    assert!(summary.contains("Mathematics: 60"), "{summary}");
    assert!(summary.contains("out of"), "{summary}");
    deliver(&app, &text_message(SHARED, MOTHER_WA, "wamid.L6", "card")).await;
    let sent = fake.wait(&app, 8).await;
    let doc = &sent[7].body;
    assert_eq!(doc["type"], "document");
    assert_eq!(doc["to"], MOTHER_WA);
    assert_eq!(doc["document"]["id"], "media-1");
    assert!(
        doc.get("card").is_none(),
        "our own fields never reach WhatsApp"
    );
    assert!(
        doc["document"]["filename"]
            .as_str()
            .unwrap()
            .starts_with("ADM-alpha-"),
        "{doc}"
    );
    // Asked again: the uploaded media is reused.
    deliver(&app, &text_message(SHARED, MOTHER_WA, "wamid.L7", "card")).await;
    let sent = fake.wait(&app, 9).await;
    assert_eq!(sent[8].body["document"]["id"], "media-1");
    assert_eq!(fake.uploads(), 1);

    // Audited in the school.
    let mut tx = app.school_tx("alpha").await;
    let linked: i64 =
        sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE action = 'chatbot.linked'")
            .fetch_one(&mut *tx)
            .await
            .unwrap();
    assert_eq!(linked, 1);
}

#[sqlx::test]
async fn wrong_codes_and_numbers_that_are_not_a_guardians_are_refused_and_audited(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let fake = FakeCloud::start().await;
    let _workers = app.start_workers_with_whatsapp(&fake.base());
    let (_f, guardian) = school_with_marks(&app).await;
    let code = link_code(&app, "alpha", guardian).await;

    // The right code from a phone that is not on record.
    deliver(
        &app,
        &text_message(SHARED, "2348099999999", "wamid.W1", &code),
    )
    .await;
    let sent = fake.wait(&app, 1).await;
    assert!(
        FakeCloud::text_of(&sent[0]).contains("not on the school's records"),
        "{:?}",
        sent[0]
    );
    // A wrong code from the mother's phone.
    deliver(
        &app,
        &text_message(SHARED, MOTHER_WA, "wamid.W2", "ALPHA-AAAA-BBBB"),
    )
    .await;
    let sent = fake.wait(&app, 2).await;
    assert!(
        FakeCloud::text_of(&sent[1]).contains("could not match"),
        "{:?}",
        sent[1]
    );
    // Wrong date of birth.
    deliver(
        &app,
        &text_message(
            SHARED,
            MOTHER_WA,
            "wamid.W3",
            "ALPHA ADM/alpha/000 01/01/2001",
        ),
    )
    .await;
    let sent = fake.wait(&app, 3).await;
    assert!(
        FakeCloud::text_of(&sent[2]).contains("could not match"),
        "{:?}",
        sent[2]
    );
    // Right admission number and date of birth link her.
    deliver(
        &app,
        &text_message(
            SHARED,
            MOTHER_WA,
            "wamid.W4",
            "ALPHA ADM/alpha/000 04/05/2013",
        ),
    )
    .await;
    let sent = fake.wait(&app, 4).await;
    assert!(
        FakeCloud::text_of(&sent[3]).contains("linked to Ada Test"),
        "{:?}",
        sent[3]
    );

    let mut tx = app.school_tx("alpha").await;
    let refused: i64 =
        sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE action = 'chatbot.link_refused'")
            .fetch_one(&mut *tx)
            .await
            .unwrap();
    assert_eq!(refused, 3);
    let tries: i16 =
        sqlx::query_scalar("SELECT tries FROM chatbot_link_codes WHERE guardian_id = $1")
            .bind(guardian)
            .fetch_one(&mut *tx)
            .await
            .unwrap();
    assert_eq!(tries, 1, "the wrong code cost the live code one try");
    let proof: String = sqlx::query_scalar("SELECT proof FROM chatbot_links WHERE wa_phone = $1")
        .bind(MOTHER)
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(proof, "admission_no_and_birth_date");
}

#[sqlx::test]
async fn a_duplicate_wamid_is_acknowledged_and_answered_once(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let fake = FakeCloud::start().await;
    let message = text_message(SHARED, MOTHER_WA, "wamid.D1", "hi");
    // Near-simultaneous duplicates, then a redelivery later.
    let (a, b) = tokio::join!(deliver(&app, &message), deliver(&app, &message));
    assert_eq!((a.status, b.status), (StatusCode::OK, StatusCode::OK));
    assert_eq!(inbound_rows(&app).await, 1);
    let _workers = app.start_workers_with_whatsapp(&fake.base());
    fake.wait(&app, 1).await;
    assert_eq!(deliver(&app, &message).await.status, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(fake.sent().len(), 1, "one reply");
}

#[sqlx::test]
async fn messages_of_two_schools_interleaved_are_each_answered_from_their_own_school(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let fake = FakeCloud::start().await;
    let _workers = app.start_workers_with_whatsapp(&fake.base());
    let (alpha, alpha_guardian) = school_with_marks(&app).await;
    publish(&alpha).await;
    let beta = fixtures::class_with_exams(&app, "beta", &["Zainab"]).await;
    let beta_guardian = add_guardian(&app, "beta", beta.students["Zainab"], "+2348037654321").await;
    own_number(&app, "alpha", "200000000000001").await;
    own_number(&app, "beta", "200000000000002").await;
    let alpha_code = link_code(&app, "alpha", alpha_guardian).await;
    let beta_code = link_code(&app, "beta", beta_guardian).await;
    // A code of one school sent to the other school's number links nothing there.
    deliver(
        &app,
        &text_message("200000000000001", "2348037654321", "wamid.X0", &beta_code),
    )
    .await;
    let sent = fake.wait(&app, 1).await;
    assert!(
        FakeCloud::text_of(&sent[0]).contains("Welcome to Alpha School"),
        "{:?}",
        sent[0]
    );

    deliver(
        &app,
        &text_message("200000000000001", MOTHER_WA, "wamid.X1", &alpha_code),
    )
    .await;
    deliver(
        &app,
        &text_message("200000000000002", "2348037654321", "wamid.X2", &beta_code),
    )
    .await;
    fake.wait(&app, 5).await;
    deliver(
        &app,
        &text_message("200000000000002", "2348037654321", "wamid.X3", "results"),
    )
    .await;
    deliver(
        &app,
        &text_message("200000000000001", MOTHER_WA, "wamid.X4", "results"),
    )
    .await;
    let sent = fake.wait(&app, 7).await;
    let to_alpha: Vec<String> = sent
        .iter()
        .filter(|s| s.body["to"] == MOTHER_WA)
        .map(FakeCloud::text_of)
        .collect();
    let to_beta: Vec<String> = sent
        .iter()
        .filter(|s| s.body["to"] == "2348037654321")
        .map(FakeCloud::text_of)
        .collect();
    // After the first reply (to the beta parent writing to alpha's number), each parent
    // hears only from their own school's number.
    assert!(
        sent[1..]
            .iter()
            .filter(|s| s.body["to"] == MOTHER_WA)
            .all(|s| s.number == "200000000000001")
    );
    assert!(
        sent[1..]
            .iter()
            .filter(|s| s.body["to"] == "2348037654321")
            .all(|s| s.number == "200000000000002")
    );
    assert!(
        to_alpha
            .iter()
            .any(|t| t.contains("Ada Test") && t.contains("Average: 72.5")),
        "{to_alpha:#?}"
    );
    assert!(
        to_beta
            .iter()
            .any(|t| t.contains("No results have been published for Zainab Test")),
        "{to_beta:#?}"
    );
    assert!(!to_beta.iter().any(|t| t.contains("Ada")), "{to_beta:#?}");
}

/// Queues one text in alpha's outbox (no job run): its id.
async fn queue_text(app: &TestApp, purpose: &str) -> i64 {
    let mut tx = app.school_tx("alpha").await;
    let schema: String =
        sqlx::query_scalar("SELECT schema_name FROM public.clients WHERE code = 'alpha'")
            .fetch_one(&mut *tx)
            .await
            .unwrap();
    let out = chatbot::outbox::Outgoing {
        purpose: purpose.to_owned(),
        recipient: MOTHER.to_owned(),
        phone_number_id: SHARED.to_owned(),
        message: Some(chatbot::outbox::text("Hello")),
        template: Some(
            json!({"type": "template", "template": {"name": "results_out", "language": {"code": "en"}}}),
        ),
        student_id: None,
        summary: "test".into(),
    };
    let id = chatbot::outbox::queue(&mut tx, &schema, &out)
        .await
        .unwrap()
        .unwrap();
    assert!(
        chatbot::outbox::queue(&mut tx, &schema, &out)
            .await
            .unwrap()
            .is_none(),
        "a purpose is queued once"
    );
    tx.commit().await.unwrap();
    id
}

async fn run_send(app: &TestApp, fake: &FakeCloud, outbox_id: i64) {
    let config = internals::WhatsAppConfig {
        api_base: fake.base(),
        ..internals::WhatsAppConfig::for_tests()
    };
    let channel = chatbot::sender::Channel::new(config).unwrap();
    let job = internals::SendJob {
        schema: "alpha".into(),
        outbox_id,
    };
    chatbot::sender::run_job(&app.state.db, &channel, &job, false)
        .await
        .unwrap();
}

async fn outbox_row(
    app: &TestApp,
    id: i64,
) -> (String, Option<String>, Option<i32>, Option<String>) {
    let mut tx = app.school_tx("alpha").await;
    sqlx::query_as("SELECT status, wamid, error_code, sent_as FROM whatsapp_outbox WHERE id = $1")
        .bind(id)
        .fetch_one(&mut *tx)
        .await
        .unwrap()
}

#[sqlx::test]
async fn a_retried_send_job_never_sends_twice_and_errors_are_acted_on_by_code(pool: PgPool) {
    let app = TestApp::new(pool).await;
    fixtures::school_with_year(&app, "alpha").await;
    let fake = FakeCloud::start().await;
    // The parent wrote an hour ago: the window is open.
    sqlx::query("INSERT INTO public.whatsapp_chats (phone_number_id, wa_phone, last_inbound_at) VALUES ($1, $2, now() - interval '1 hour')")
        .bind(SHARED)
        .bind(MOTHER)
        .execute(&app.pool)
        .await
        .unwrap();

    let id = queue_text(&app, "test:once").await;
    run_send(&app, &fake, id).await;
    run_send(&app, &fake, id).await;
    assert_eq!(fake.sent().len(), 1, "the second run finds it sent");
    let (status, wamid, _, sent_as) = outbox_row(&app, id).await;
    assert_eq!(
        (status.as_str(), wamid.as_deref(), sent_as.as_deref()),
        ("sent", Some("wamid.out.1"), Some("message"))
    );

    // Throttled: retried later, not given up.
    let id = queue_text(&app, "test:throttled").await;
    fake.fail_next(429, 130429);
    run_send(&app, &fake, id).await;
    let (status, _, code, _) = outbox_row(&app, id).await;
    assert_eq!((status.as_str(), code), ("pending", Some(130429)));

    // The window closed (131047): the template goes instead.
    let id = queue_text(&app, "test:window").await;
    fake.fail_next(400, 131047);
    run_send(&app, &fake, id).await;
    run_send(&app, &fake, id).await;
    let (status, _, _, sent_as) = outbox_row(&app, id).await;
    assert_eq!(
        (status.as_str(), sent_as.as_deref()),
        ("sent", Some("template"))
    );
    assert_eq!(fake.sent().last().unwrap().body["type"], "template");

    // A bad token (190): failed, and whoever owns the number is told (the shared number's
    // token is the platform's).
    let id = queue_text(&app, "test:token").await;
    fake.fail_next(401, 190);
    run_send(&app, &fake, id).await;
    let (status, _, code, _) = outbox_row(&app, id).await;
    assert_eq!((status.as_str(), code), ("failed", Some(190)));
    let platform: Option<i32> =
        sqlx::query_scalar("SELECT problem_code FROM whatsapp_platform.chatbot_settings")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(platform, Some(190));
    let mut tx = app.school_tx("alpha").await;
    let school: Option<i32> = sqlx::query_scalar("SELECT problem_code FROM chatbot_settings")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(school, None);
    drop(tx);

    // Not on WhatsApp (131026): failed, the contact marked, later messages skipped.
    let id = queue_text(&app, "test:undeliverable").await;
    fake.fail_next(400, 131026);
    run_send(&app, &fake, id).await;
    let id = queue_text(&app, "test:after").await;
    let before = fake.sent().len();
    run_send(&app, &fake, id).await;
    assert_eq!(fake.sent().len(), before);
    assert_eq!(outbox_row(&app, id).await.0, "skipped");
}

#[sqlx::test]
async fn a_failed_delivery_status_131047_sends_the_template_and_statuses_move_forward(
    pool: PgPool,
) {
    let app = TestApp::new(pool).await;
    fixtures::school_with_year(&app, "alpha").await;
    let fake = FakeCloud::start().await;
    sqlx::query("INSERT INTO public.whatsapp_chats (phone_number_id, wa_phone, last_inbound_at) VALUES ($1, $2, now())")
        .bind(SHARED)
        .bind(MOTHER)
        .execute(&app.pool)
        .await
        .unwrap();
    let id = queue_text(&app, "test:status").await;
    run_send(&app, &fake, id).await;
    let _workers = app.start_workers_with_whatsapp(&fake.base());
    deliver(&app, &status(SHARED, "wamid.out.1", "read", None)).await;
    deliver(&app, &status(SHARED, "wamid.out.1", "delivered", None)).await;
    for _ in 0..100 {
        if outbox_row(&app, id).await.0 == "read" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        outbox_row(&app, id).await.0,
        "read",
        "a late 'delivered' does not go back"
    );

    let id = queue_text(&app, "test:status-failed").await;
    run_send(&app, &fake, id).await;
    deliver(&app, &status(SHARED, "wamid.out.2", "failed", Some(131047))).await;
    let sent = fake.wait(&app, 3).await;
    assert_eq!(sent[2].body["type"], "template");
}

#[sqlx::test(migrations = false)]
async fn a_delivery_while_the_database_is_down_is_refused_and_its_redelivery_processed_once(
    pool: PgPool,
) {
    use crate::helpers::proxy::{DbProxy, pool_through, upstream};
    let proxy = DbProxy::start(upstream(&pool)).await;
    let proxied = pool_through(&pool, &proxy, 4).await;
    let app = TestApp::new(proxied).await;
    let fake = FakeCloud::start().await;
    let message = text_message(SHARED, MOTHER_WA, "wamid.DB1", "hi");

    proxy.cut();
    let refused = deliver(&app, &message).await;
    assert!(refused.status.is_server_error(), "{}", refused.status);
    proxy.restore();
    // Meta delivers again later.
    let mut accepted = deliver(&app, &message).await;
    for _ in 0..20 {
        if accepted.status == StatusCode::OK {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
        accepted = deliver(&app, &message).await;
    }
    assert_eq!(accepted.status, StatusCode::OK, "{}", accepted.text());
    assert_eq!(deliver(&app, &message).await.status, StatusCode::OK);
    let _workers = app.start_workers_with_whatsapp(&fake.base());
    fake.wait(&app, 1).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(fake.sent().len(), 1, "processed exactly once");
}

fn withheld(number: &str, user_id: &str, wamid: &str, message: Value) -> Value {
    let mut message = message;
    message["from_user_id"] = json!(user_id);
    message["id"] = json!(wamid);
    message["timestamp"] = json!(chrono::Utc::now().timestamp().to_string());
    envelope(
        number,
        json!({"contacts": [{"profile": {"name": "Mrs Okafor"}, "user_id": user_id}],
               "messages": [message]}),
    )
}

fn shared_contact(origin: &str, context: Option<&str>) -> Value {
    let mut m = json!({"type": "contacts", "contacts": [{"origin": origin, "name": {"formatted_name": "Ngozi"},
                        "phones": [{"phone": MOTHER, "wa_id": MOTHER_WA, "type": "CELL"}]}]});
    if let Some(c) = context {
        m["context"] = json!({"id": c});
    }
    m
}

#[sqlx::test]
async fn a_sender_with_a_withheld_phone_is_asked_for_it_and_only_the_reply_counts(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let fake = FakeCloud::start().await;
    let _workers = app.start_workers_with_whatsapp(&fake.base());
    let (_f, guardian) = school_with_marks(&app).await;
    let user = "NG.1349120865530274";

    deliver(
        &app,
        &withheld(
            SHARED,
            user,
            "wamid.B1",
            json!({"type": "text", "text": {"body": "hi"}}),
        ),
    )
    .await;
    let sent = fake.wait(&app, 1).await;
    assert_eq!(sent[0].body["recipient"], user, "sent to the user id");
    assert!(sent[0].body.get("to").is_none());
    assert_eq!(sent[0].body["interactive"]["type"], "request_contact_info");

    // A contact card shared some other way is not their own number: asked again.
    deliver(
        &app,
        &withheld(SHARED, user, "wamid.B2", shared_contact("other", None)),
    )
    .await;
    let sent = fake.wait(&app, 2).await;
    assert_eq!(sent[1].body["interactive"]["type"], "request_contact_info");
    // The reply to the request gives the number; the code then links her.
    deliver(
        &app,
        &withheld(
            SHARED,
            user,
            "wamid.B3",
            shared_contact("contact_request", Some("wamid.out.2")),
        ),
    )
    .await;
    let sent = fake.wait(&app, 3).await;
    assert_eq!(sent[2].body["to"], MOTHER_WA);
    assert!(
        FakeCloud::text_of(&sent[2]).contains("link code"),
        "{:?}",
        sent[2]
    );
    let code = link_code(&app, "alpha", guardian).await;
    deliver(
        &app,
        &withheld(
            SHARED,
            user,
            "wamid.B4",
            json!({"type": "text", "text": {"body": code}}),
        ),
    )
    .await;
    let sent = fake.wait(&app, 5).await;
    assert!(
        FakeCloud::text_of(&sent[3]).contains("linked to Ada Test"),
        "{:?}",
        sent[3]
    );
    let user_on_link: Option<String> = {
        let mut tx = app.school_tx("alpha").await;
        sqlx::query_scalar("SELECT wa_user_id FROM chatbot_links WHERE wa_phone = $1")
            .bind(MOTHER)
            .fetch_one(&mut *tx)
            .await
            .unwrap()
    };
    assert_eq!(user_on_link.as_deref(), Some(user));
}

/// Links Ada's mother through the shared number with a code; waits for the welcome.
async fn linked_mother(app: &TestApp, fake: &FakeCloud, guardian: i64) -> usize {
    let code = link_code(app, "alpha", guardian).await;
    deliver(app, &text_message(SHARED, MOTHER_WA, "wamid.M0", &code)).await;
    let sent = fake.wait(app, 2).await;
    assert!(
        FakeCloud::text_of(&sent[0]).contains("linked to Ada Test"),
        "{:?}",
        sent[0]
    );
    sent.len()
}

#[sqlx::test]
async fn stop_ends_every_message_until_start(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let fake = FakeCloud::start().await;
    let _workers = app.start_workers_with_whatsapp(&fake.base());
    let (f, guardian) = school_with_marks(&app).await;
    let n = linked_mother(&app, &fake, guardian).await;

    deliver(&app, &text_message(SHARED, MOTHER_WA, "wamid.S1", "STOP")).await;
    let sent = fake.wait(&app, n + 1).await;
    assert!(
        FakeCloud::text_of(&sent[n]).contains("no more messages"),
        "{:?}",
        sent[n]
    );
    // Neither replies nor "results are out" go to her now.
    deliver(
        &app,
        &text_message(SHARED, MOTHER_WA, "wamid.S2", "results"),
    )
    .await;
    publish(&f).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(fake.sent().len(), n + 1);
    let mut tx = app.school_tx("alpha").await;
    let skipped: i64 =
        sqlx::query_scalar("SELECT count(*) FROM whatsapp_outbox WHERE status = 'skipped'")
            .fetch_one(&mut *tx)
            .await
            .unwrap();
    drop(tx);
    assert_eq!(skipped, 1, "the results alert was skipped");

    deliver(&app, &text_message(SHARED, MOTHER_WA, "wamid.S3", "start")).await;
    let sent = fake.wait(&app, n + 2).await;
    assert_eq!(
        sent[n + 1].body["interactive"]["type"],
        "list",
        "the menu again"
    );
}

#[sqlx::test]
async fn a_changed_number_keeps_the_chat_and_ends_the_links(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let fake = FakeCloud::start().await;
    let _workers = app.start_workers_with_whatsapp(&fake.base());
    let (_f, guardian) = school_with_marks(&app).await;
    let n = linked_mother(&app, &fake, guardian).await;
    let new_wa = "2348059998888";
    let system = envelope(
        SHARED,
        json!({"messages": [{"from": MOTHER_WA, "id": "wamid.SYS1", "timestamp": chrono::Utc::now().timestamp().to_string(),
                             "type": "system",
                             "system": {"body": "User changed from 2348031234567 to 2348059998888",
                                        "wa_id": new_wa, "type": "user_changed_number"}}]}),
    );
    assert_eq!(deliver(&app, &system).await.status, StatusCode::OK);
    // Chats are processed independently, so the old number's system message is let finish
    // before the new number speaks (as it would, seconds apart, on a phone).
    wait_processed(&app, "wamid.SYS1").await;
    // The new number is not on the school's records: no results, asked to link again.
    deliver(&app, &text_message(SHARED, new_wa, "wamid.SYS2", "results")).await;
    let sent = fake.wait(&app, n + 1).await;
    assert_eq!(sent[n].body["to"], new_wa);
    assert!(
        FakeCloud::text_of(&sent[n]).contains("link code"),
        "{:?}",
        sent[n]
    );
    assert!(!FakeCloud::text_of(&sent[n]).contains("Average"));
    let chats: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM public.whatsapp_chats WHERE wa_phone = '+2348059998888'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(chats, 1, "the chat moved to the new number");
    let mut tx = app.school_tx("alpha").await;
    let unlinked: i64 =
        sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE action = 'chatbot.unlinked'")
            .fetch_one(&mut *tx)
            .await
            .unwrap();
    assert_eq!(unlinked, 1);
}

#[sqlx::test]
async fn a_link_lapses_when_the_school_changes_the_guardians_phone(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let fake = FakeCloud::start().await;
    let _workers = app.start_workers_with_whatsapp(&fake.base());
    let (f, guardian) = school_with_marks(&app).await;
    publish(&f).await;
    let n = linked_mother(&app, &fake, guardian).await;
    let mut tx = app.school_tx("alpha").await;
    sqlx::query("UPDATE guardians SET phone = '+2348030000000' WHERE id = $1")
        .bind(guardian)
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    deliver(
        &app,
        &text_message(SHARED, MOTHER_WA, "wamid.LP1", "results"),
    )
    .await;
    let sent = fake.wait(&app, n + 1).await;
    assert!(
        !FakeCloud::text_of(&sent[n]).contains("Average"),
        "{:?}",
        sent[n]
    );
    let contacts: i64 = sqlx::query_scalar("SELECT count(*) FROM public.whatsapp_contacts")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(contacts, 0, "no longer routed to the school");
}

#[sqlx::test]
async fn a_guardian_in_two_schools_on_the_shared_number_links_at_both_and_chooses(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let fake = FakeCloud::start().await;
    let _workers = app.start_workers_with_whatsapp(&fake.base());
    let (_f, guardian) = school_with_marks(&app).await;
    let beta = fixtures::class_with_exams(&app, "beta", &["Zainab"]).await;
    let beta_guardian = add_guardian(&app, "beta", beta.students["Zainab"], MOTHER).await;
    let n = linked_mother(&app, &fake, guardian).await;
    // Linked at alpha, she links at beta too: the code names its school.
    let code = link_code(&app, "beta", beta_guardian).await;
    deliver(&app, &text_message(SHARED, MOTHER_WA, "wamid.T1", &code)).await;
    let sent = fake.wait(&app, n + 2).await;
    assert!(
        FakeCloud::text_of(&sent[n]).contains("linked to Zainab Test at Beta School"),
        "{:?}",
        sent[n]
    );
    // The school she chose stays until she sends SCHOOL.
    deliver(
        &app,
        &text_message(SHARED, MOTHER_WA, "wamid.T2", "results"),
    )
    .await;
    let sent = fake.wait(&app, n + 3).await;
    assert!(
        FakeCloud::text_of(&sent[n + 2]).contains("Zainab Test"),
        "{:?}",
        sent[n + 2]
    );
    deliver(&app, &text_message(SHARED, MOTHER_WA, "wamid.T3", "school")).await;
    let sent = fake.wait(&app, n + 4).await;
    assert!(
        FakeCloud::text_of(&sent[n + 3]).contains("Which school"),
        "{:?}",
        sent[n + 3]
    );
    let rows = sent[n + 3].body["interactive"]["action"]["sections"][0]["rows"].clone();
    assert_eq!(rows.as_array().unwrap().len(), 2, "{rows}");
    let alpha_id = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["title"] == "Alpha School")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    deliver(&app, &list_reply(SHARED, MOTHER_WA, "wamid.T4", &alpha_id)).await;
    let sent = fake.wait(&app, n + 5).await;
    assert!(
        FakeCloud::text_of(&sent[n + 4]).starts_with("Ada Test at Alpha School"),
        "{:?}",
        sent[n + 4]
    );
}

#[sqlx::test]
async fn an_absence_outside_the_window_goes_as_the_schools_template(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let fake = FakeCloud::start().await;
    let _workers = app.start_workers_with_whatsapp(&fake.base());
    let (f, guardian) = school_with_marks(&app).await;
    let n = linked_mother(&app, &fake, guardian).await;
    // Her last message was two days ago.
    sqlx::query("UPDATE public.whatsapp_chats SET last_inbound_at = now() - interval '2 days'")
        .execute(&app.pool)
        .await
        .unwrap();
    let mut tx = app.school_tx("alpha").await;
    sqlx::query(
        "UPDATE chatbot_settings SET absence_template = 'ward_absent', template_language = 'en_GB'",
    )
    .execute(&mut *tx)
    .await
    .unwrap();
    sqlx::query("INSERT INTO absence_events (student_id, day, status, due_at, recorded_at, created_at) VALUES ($1, current_date, 'recorded', now(), now(), now())")
        .bind(f.students["Ada"])
        .execute(&mut *tx)
        .await
        .unwrap();
    let schema: String =
        sqlx::query_scalar("SELECT schema_name FROM public.clients WHERE code = 'alpha'")
            .fetch_one(&mut *tx)
            .await
            .unwrap();
    tx.commit().await.unwrap();
    let job = internals::AlertJob {
        schema,
        alert: internals::ParentAlert::Absences,
    };
    let config = internals::WhatsAppConfig::for_tests();
    chatbot::alerts::run_job(&app.pool, &config, &job)
        .await
        .unwrap();
    // Twice: still one message.
    chatbot::alerts::run_job(&app.pool, &config, &job)
        .await
        .unwrap();
    let sent = fake.wait(&app, n + 1).await;
    let t = &sent[n].body;
    assert_eq!(t["type"], "template", "{t}");
    assert_eq!(t["template"]["name"], "ward_absent");
    assert_eq!(t["template"]["language"]["code"], "en_GB");
    assert_eq!(
        t["template"]["components"][0]["parameters"][0]["text"],
        "Ada Test"
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(fake.sent().len(), n + 1);
}

#[sqlx::test]
async fn a_parent_of_two_switches_child_and_sees_attendance_and_notices(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let fake = FakeCloud::start().await;
    let _workers = app.start_workers_with_whatsapp(&fake.base());
    let (f, guardian) = school_with_marks(&app).await;
    add_guardian(&app, "alpha", f.students["Bola"], MOTHER).await;
    let notice = f
        .admin
        .post(
            "/api/v1/school/notices/",
            json!({"title": "Inter-house sports", "body": "Friday at 10am. Sportswear.",
                   "scope": "school", "for_parents": true}),
        )
        .await;
    assert_eq!(notice.status, StatusCode::CREATED, "{}", notice.text());
    let id = notice.json()["id"].as_i64().unwrap();
    let published = f
        .admin
        .post_empty(&format!("/api/v1/school/notices/{id}/publish/"))
        .await;
    assert_eq!(published.status, StatusCode::OK);

    // One proof links both children with this number on record.
    let code = link_code(&app, "alpha", guardian).await;
    deliver(&app, &text_message(SHARED, MOTHER_WA, "wamid.C1", &code)).await;
    let sent = fake.wait(&app, 2).await;
    assert!(
        FakeCloud::text_of(&sent[0]).contains("Ada Test and Bola Test"),
        "{:?}",
        sent[0]
    );
    let menu = &sent[1].body["interactive"]["action"]["sections"][0]["rows"];
    assert!(
        menu.as_array()
            .unwrap()
            .iter()
            .any(|r| r["id"] == "menu:switch"),
        "{menu}"
    );

    deliver(
        &app,
        &list_reply(SHARED, MOTHER_WA, "wamid.C2", "menu:switch"),
    )
    .await;
    let sent = fake.wait(&app, 3).await;
    let bola = sent[2].body["interactive"]["action"]["sections"][0]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["title"] == "Bola Test")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    deliver(&app, &list_reply(SHARED, MOTHER_WA, "wamid.C3", &bola)).await;
    let sent = fake.wait(&app, 4).await;
    assert!(
        FakeCloud::text_of(&sent[3]).starts_with("Bola Test at Alpha School"),
        "{:?}",
        sent[3]
    );

    deliver(
        &app,
        &button_reply(SHARED, MOTHER_WA, "wamid.C4", "menu:attendance"),
    )
    .await;
    let sent = fake.wait(&app, 5).await;
    assert!(
        FakeCloud::text_of(&sent[4]).contains("*Bola Test*"),
        "{:?}",
        sent[4]
    );
    deliver(&app, &text_message(SHARED, MOTHER_WA, "wamid.C5", "4")).await;
    let sent = fake.wait(&app, 6).await;
    let notices = FakeCloud::text_of(&sent[5]);
    assert!(
        notices.contains("Inter-house sports") && notices.contains("Friday at 10am"),
        "{notices}"
    );
}

#[sqlx::test]
async fn a_batch_of_a_thousand_changes_is_stored_at_once_and_over_3_mb_is_refused(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let changes: Vec<Value> = (0..1000)
        .map(|i| {
            let from = format!("23480{:08}", i);
            json!({"field": "messages", "value": {
                "messaging_product": "whatsapp",
                "metadata": {"display_phone_number": "15550000000", "phone_number_id": SHARED},
                "contacts": [{"profile": {"name": "P"}, "wa_id": from}],
                "messages": [{"from": from, "id": format!("wamid.batch.{i}"), "timestamp": "1767225600",
                              "type": "text", "text": {"body": "hi"}}]}})
        })
        .collect();
    let body = json!({"object": "whatsapp_business_account", "entry": [{"id": "WABA-1", "changes": changes}]});
    let res = deliver(&app, &body).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert_eq!(inbound_rows(&app).await, 1000);
    let jobs: i64 =
        sqlx::query_scalar("SELECT count(*) FROM apalis.jobs WHERE job_type = 'whatsapp'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(jobs, 1000, "each stored with its job");

    let mut big = text_message(SHARED, MOTHER_WA, "wamid.BIG", "x");
    big["padding"] = json!("x".repeat(3 * 1024 * 1024));
    let res = deliver(&app, &big).await;
    assert_eq!(res.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(inbound_rows(&app).await, 1000);
}

#[sqlx::test]
async fn the_offices_code_gets_in_after_fumbled_dates_and_codes_are_kept_off_the_staff_list(
    pool: PgPool,
) {
    let app = TestApp::new(pool).await;
    let fake = FakeCloud::start().await;
    let _workers = app.start_workers_with_whatsapp(&fake.base());
    let (_f, guardian) = school_with_marks(&app).await;
    for i in 0..5 {
        deliver(
            &app,
            &text_message(
                SHARED,
                MOTHER_WA,
                &format!("wamid.F{i}"),
                "ALPHA ADM/alpha/000 01/01/2001",
            ),
        )
        .await;
    }
    deliver(
        &app,
        &text_message(
            SHARED,
            MOTHER_WA,
            "wamid.F5",
            "ALPHA ADM/alpha/000 04/05/2013",
        ),
    )
    .await;
    let sent = fake.wait(&app, 6).await;
    assert!(
        FakeCloud::text_of(&sent[5]).contains("Too many attempts"),
        "{:?}",
        sent[5]
    );
    // The code from the office, inside a sentence with an en dash and a full stop.
    let code = link_code(&app, "alpha", guardian)
        .await
        .replacen('-', "–", 1);
    deliver(
        &app,
        &text_message(
            SHARED,
            MOTHER_WA,
            "wamid.F6",
            &format!("Good morning, my code is *{code}*."),
        ),
    )
    .await;
    // The thanks, then the menu.
    let sent = fake.wait(&app, 8).await;
    assert!(
        FakeCloud::text_of(&sent[6]).contains("linked to Ada Test"),
        "{:?}",
        sent[6]
    );

    let mut tx = app.school_tx("alpha").await;
    let logged: Vec<String> =
        sqlx::query_scalar("SELECT summary FROM chatbot_messages WHERE direction = 'in'")
            .fetch_all(&mut *tx)
            .await
            .unwrap();
    assert!(logged.iter().any(|s| s == "Sent a link code"), "{logged:?}");
    assert!(
        !logged.iter().any(|s| s.contains("2013")
            || s.contains("2001")
            || s.contains(code.rsplit('-').next().unwrap())),
        "{logged:?}"
    );

    // The school ends the link: the date of birth no longer brings it back, a new code does.
    sqlx::query("UPDATE chatbot_links SET ended_at = now(), ended_by = 1, ended_reason = 'test'")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    sqlx::query("DELETE FROM public.whatsapp_contacts")
        .execute(&app.pool)
        .await
        .unwrap();
    let mut tx = app.school_tx("alpha").await;
    sqlx::query("DELETE FROM audit_log WHERE action = 'chatbot.link_refused'")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    deliver(
        &app,
        &text_message(
            SHARED,
            MOTHER_WA,
            "wamid.F7",
            "ALPHA ADM/alpha/000 04/05/2013",
        ),
    )
    .await;
    let sent = fake.wait(&app, 9).await;
    assert!(
        FakeCloud::text_of(&sent[8]).contains("no pupil"),
        "{:?}",
        sent
    );
    let code = link_code(&app, "alpha", guardian).await;
    deliver(&app, &text_message(SHARED, MOTHER_WA, "wamid.F8", &code)).await;
    let sent = fake.wait(&app, 10).await;
    assert!(
        FakeCloud::text_of(&sent[9]).contains("linked to Ada Test"),
        "{:?}",
        sent[9]
    );
}
