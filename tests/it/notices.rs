//! Issue 10, items 9-11: notices. Drafts are edited, published notices only withdrawn or
//! re-issued; every read keeps to the notice's audience (a teacher guessing ids gets 404s);
//! staff acknowledge once; a pupil's parents get the notices addressed to them; attachments
//! are checked by content; schools never mix.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::{
    Client, TestApp, assert_error_shape,
    fixtures::{class_of, register_pupils, school_with_year, staff_with},
};

const NOTICES: &str = "/api/v1/school/notices/";

fn url(id: i64) -> String {
    format!("{NOTICES}{id}/")
}

/// A school with its year (JSS 1A/1B, JSS 2A/2B) and its admin, who manages notices.
async fn school(app: &TestApp) -> Client {
    school_with_year(app, "alpha").await
}

/// A member of staff holding the built-in Teacher role (view_notices only).
async fn teacher(app: &TestApp, email: &str) -> Client {
    app.create_staff("alpha", email, "Teacher").await;
    app.as_staff("alpha", email).await
}

async fn create(admin: &Client, body: Value) -> Value {
    let res = admin.post(NOTICES, body).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    res.json()
}

/// Creates and publishes a notice; returns its id.
async fn published(admin: &Client, body: Value) -> i64 {
    let id = create(admin, body).await["id"].as_i64().unwrap();
    let res = admin.post_empty(&format!("{}publish/", url(id))).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    id
}

fn to_staff(title: &str) -> Value {
    json!({"title": title, "body": "Line one\nLine two", "scope": "school", "for_staff": true})
}

fn to_parents(title: &str) -> Value {
    json!({"title": title, "body": "Dear parents", "scope": "school", "for_parents": true})
}

async fn form_id(admin: &Client, name: &str) -> i64 {
    let forms = admin.get("/api/v1/school/forms/").await.json()["results"].clone();
    forms
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == name)
        .unwrap()["id"]
        .as_i64()
        .unwrap()
}

/// Moves a notice's window into the past (the API refuses to write an expired one).
async fn expire(app: &TestApp, id: i64) {
    let mut tx = app.school_tx("alpha").await;
    sqlx::query(
        "UPDATE notices SET publish_at = now() - interval '2 days',
                expires_at = now() - interval '1 day' WHERE id = $1",
    )
    .bind(id)
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
}

async fn audit_actions(admin: &Client, id: i64) -> Vec<String> {
    let res = admin
        .get(&format!(
            "/api/v1/school/audit/?entity=notice&entity_id={id}&page_size=200"
        ))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let mut actions: Vec<String> = res.json()["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["action"].as_str().unwrap().to_owned())
        .collect();
    actions.sort();
    actions
}

#[sqlx::test(migrations = false)]
async fn drafts_are_written_changed_and_deleted_by_those_allowed(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let admin = school(&app).await;
    let teacher = teacher(&app, "t1@alpha.test").await;

    // A teacher reads notices but writes none.
    let res = teacher.post(NOTICES, to_staff("Staff meeting")).await;
    assert_error_shape(&res, 403);

    let notice = create(&admin, to_staff("Staff meeting")).await;
    let id = notice["id"].as_i64().unwrap();
    assert_eq!(notice["status"], "draft");
    assert_eq!(notice["body"], "Line one\nLine two");
    assert_eq!(notice["scope"], "school");
    assert_eq!(notice["for_staff"], true);
    assert_eq!(notice["for_parents"], false);
    assert_eq!(notice["attachment"], Value::Null);

    // Bad input is a 422 naming the fields, and nothing is written.
    for (body, field) in [
        (
            json!({"body": "x", "scope": "school", "for_staff": true}),
            "title",
        ),
        (
            json!({"title": "x", "body": "x", "scope": "school"}),
            "for_parents",
        ),
        (
            json!({"title": "x", "body": "x", "scope": "everyone", "for_staff": true}),
            "scope",
        ),
        (
            json!({"title": "x", "body": "x", "scope": "form", "for_staff": true}),
            "form_id",
        ),
        (
            json!({"title": "x", "body": "x", "scope": "form", "form_id": 999_999, "for_staff": true}),
            "form_id",
        ),
        (
            json!({"title": "x", "body": "x", "scope": "pupils", "student_ids": [999_999], "for_parents": true}),
            "student_ids",
        ),
        (
            json!({"title": "x", "body": "x", "scope": "school", "for_parents": true, "needs_ack": true}),
            "needs_ack",
        ),
        (
            json!({"title": "x", "body": "x", "scope": "school", "for_staff": true,
                   "publish_at": "2030-01-02T08:00:00Z", "expires_at": "2030-01-01T08:00:00Z"}),
            "expires_at",
        ),
        (
            json!({"title": "x", "body": "x", "scope": "school", "for_staff": true,
                   "expires_at": "2001-01-01T08:00:00Z"}),
            "expires_at",
        ),
        (
            json!({"title": "x", "body": "x", "scope": "school", "for_staff": true,
                   "publish_at": "0001-01-01T08:00:00Z"}),
            "publish_at",
        ),
    ] {
        let res = admin.post(NOTICES, body.clone()).await;
        let err = assert_error_shape(&res, 422);
        assert!(err["errors"][field].is_array(), "{body} → {err}");
    }
    let res = admin
        .raw(
            Method::POST,
            NOTICES,
            Some("application/json"),
            "{\"title\": ",
        )
        .await;
    assert!(res.status.is_client_error(), "{}", res.text());
    assert_eq!(admin.get(NOTICES).await.json()["count"], 1);

    // A draft is replaced whole.
    let form = form_id(&admin, "JSS 1").await;
    let res = admin
        .put(
            &url(id),
            json!({"title": "Staff meeting moved", "body": "Now on Friday", "scope": "form",
                   "form_id": form, "for_staff": true, "for_parents": true, "pinned": true}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let changed = res.json();
    assert_eq!(changed["title"], "Staff meeting moved");
    assert_eq!(changed["form_name"], "JSS 1");
    assert_eq!(changed["pinned"], true);
    // A teacher may not change it (and, not teaching JSS 1 nor reading drafts, cannot see it).
    let res = teacher.put(&url(id), to_staff("Mine now")).await;
    assert_error_shape(&res, 403);
    assert_error_shape(&teacher.get(&url(id)).await, 404);

    // Filters.
    let listed = admin
        .get(&format!("{NOTICES}?status=draft&audience=parents"))
        .await;
    assert_eq!(listed.json()["count"], 1, "{}", listed.text());
    let listed = admin.get(&format!("{NOTICES}?status=published")).await;
    assert_eq!(listed.json()["count"], 0);
    assert_error_shape(&admin.get(&format!("{NOTICES}?status=nope")).await, 422);
    assert_error_shape(&admin.get(&format!("{NOTICES}?audience=nope")).await, 422);

    let res = teacher.delete(&url(id)).await;
    assert_error_shape(&res, 403);
    let res = admin.delete(&url(id)).await;
    assert_eq!(res.status, StatusCode::NO_CONTENT, "{}", res.text());
    assert_error_shape(&admin.get(&url(id)).await, 404);
    assert_error_shape(&admin.delete(&url(id)).await, 404);
    assert_eq!(
        audit_actions(&admin, id).await,
        ["create", "delete", "update"]
    );
}

#[sqlx::test(migrations = false)]
async fn a_published_notice_is_only_withdrawn_or_reissued(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let admin = school(&app).await;
    let id = published(&admin, to_staff("Sports day")).await;
    let notice = admin.get(&url(id)).await.json();
    assert_eq!(notice["status"], "published");
    assert!(notice["publish_at"].is_string());
    assert!(notice["published_at"].is_string());

    // Never edited, never deleted, never published twice.
    assert_error_shape(&admin.put(&url(id), to_staff("Edited")).await, 409);
    assert_error_shape(&admin.delete(&url(id)).await, 409);
    assert_error_shape(
        &admin.post_empty(&format!("{}publish/", url(id))).await,
        409,
    );
    assert_eq!(admin.get(&url(id)).await.json()["title"], "Sports day");

    // A draft cannot be withdrawn or re-issued.
    let draft = create(&admin, to_staff("Draft")).await["id"]
        .as_i64()
        .unwrap();
    assert_error_shape(
        &admin.post_empty(&format!("{}withdraw/", url(draft))).await,
        409,
    );
    assert_error_shape(
        &admin.post_empty(&format!("{}reissue/", url(draft))).await,
        409,
    );

    let res = admin.post_empty(&format!("{}withdraw/", url(id))).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert_eq!(res.json()["status"], "withdrawn");
    assert!(res.json()["withdrawn_at"].is_string());
    assert_error_shape(
        &admin.post_empty(&format!("{}withdraw/", url(id))).await,
        409,
    );
    assert_error_shape(&admin.put(&url(id), to_staff("Edited")).await, 409);

    // Re-issue: a new draft copied from it.
    let res = admin.post_empty(&format!("{}reissue/", url(id))).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    let copy = res.json();
    assert_eq!(copy["status"], "draft");
    assert_eq!(copy["title"], "Sports day");
    assert_eq!(copy["body"], "Line one\nLine two");
    assert_eq!(copy["for_staff"], true);
    assert_eq!(copy["reissued_from"], id);
    assert_eq!(copy["publish_at"], Value::Null);
    assert_ne!(copy["id"], id);

    assert_eq!(
        audit_actions(&admin, id).await,
        ["create", "publish", "withdraw"]
    );
    assert_eq!(
        audit_actions(&admin, copy["id"].as_i64().unwrap()).await,
        ["create"]
    );

    // Publishing needs change_notices, not only add_notices.
    let writer = staff_with(
        &app,
        &admin,
        "writer@alpha.test",
        &["view_notices", "add_notices"],
    )
    .await;
    let mine = create(&writer, to_staff("Mine")).await["id"]
        .as_i64()
        .unwrap();
    assert_error_shape(
        &writer.post_empty(&format!("{}publish/", url(mine))).await,
        403,
    );
}

#[sqlx::test(migrations = false)]
async fn staff_read_only_live_notices_addressed_to_them(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let admin = school(&app).await;
    let teacher = teacher(&app, "t1@alpha.test").await;

    let for_staff = published(&admin, to_staff("For staff")).await;
    let for_both = published(
        &admin,
        json!({"title": "For all", "body": "b", "scope": "school", "for_staff": true, "for_parents": true}),
    )
    .await;
    let parents_only = published(&admin, to_parents("Parents only")).await;
    let draft = create(&admin, to_staff("Draft")).await["id"]
        .as_i64()
        .unwrap();
    let expired = published(&admin, to_staff("Expired")).await;
    expire(&app, expired).await;
    let withdrawn = published(&admin, to_staff("Withdrawn")).await;
    admin
        .post_empty(&format!("{}withdraw/", url(withdrawn)))
        .await;
    let later = create(
        &admin,
        json!({"title": "Later", "body": "b", "scope": "school", "for_staff": true,
               "publish_at": "2199-01-01T08:00:00Z"}),
    )
    .await["id"]
        .as_i64()
        .unwrap();
    admin.post_empty(&format!("{}publish/", url(later))).await;
    let (_, jss1a) = class_of(&admin, "JSS 1A").await;
    let jss1a_staff = published(
        &admin,
        json!({"title": "JSS 1A staff", "body": "b", "scope": "arm", "academic_class_id": jss1a, "for_staff": true}),
    )
    .await;

    assert_eq!(teacher.get(&url(for_staff)).await.status, StatusCode::OK);
    assert_eq!(teacher.get(&url(for_both)).await.status, StatusCode::OK);
    // Guessing ids finds nothing else: 404, as for an id that does not exist.
    for id in [
        parents_only,
        draft,
        expired,
        withdrawn,
        later,
        jss1a_staff,
        999_999,
    ] {
        let res = teacher.get(&url(id)).await;
        assert_error_shape(&res, 404);
        assert_error_shape(&teacher.get(&format!("{}attachment/", url(id))).await, 404);
        assert_error_shape(
            &teacher
                .post_empty(&format!("{}acknowledge/", url(id)))
                .await,
            404,
        );
    }
    let listed = teacher.get(NOTICES).await.json();
    let titles: Vec<&str> = listed["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["title"].as_str().unwrap())
        .collect();
    assert_eq!(listed["count"], 2, "{listed}");
    assert!(titles.contains(&"For staff") && titles.contains(&"For all"));
    // A status filter cannot widen it.
    assert_eq!(
        teacher.get(&format!("{NOTICES}?status=draft")).await.json()["count"],
        0
    );

    // Made class teacher of JSS 1A, the teacher reads the arm's staff notice.
    let teacher_id = teacher.get("/api/v1/school/auth/me").await.json()["user"]["id"].clone();
    let sid = admin.get("/api/v1/school/sessions/").await.json()["results"][0]["id"]
        .as_i64()
        .unwrap();
    let res = admin
        .patch(
            &format!("/api/v1/school/sessions/{sid}/classes/{jss1a}/"),
            json!({"class_teacher_id": teacher_id}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert_eq!(teacher.get(&url(jss1a_staff)).await.status, StatusCode::OK);

    // The pages keep the same rules.
    let mut browser = app.signed_in("alpha", "t1@alpha.test").await;
    let page = browser.get(&format!("/notices/{for_staff}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text().contains("Line one\nLine two"));
    for id in [parents_only, draft, expired, withdrawn] {
        assert_eq!(
            browser.get(&format!("/notices/{id}")).await.status,
            StatusCode::NOT_FOUND
        );
    }
    let list = browser.get("/notices").await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(list.text().contains("For staff"));
    assert!(!list.text().contains("Parents only"));
    // The dashboard shows the teacher's notices.
    let dash = browser.get("/").await.text();
    assert!(
        dash.contains("For staff") && !dash.contains("Parents only") && !dash.contains("Expired")
    );
    assert_eq!(
        browser.get("/notices/new").await.status,
        StatusCode::FORBIDDEN
    );
}

#[sqlx::test(migrations = false)]
async fn acknowledgements_are_counted_once_per_person(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let admin = school(&app).await;
    let t1 = teacher(&app, "t1@alpha.test").await;
    let t2 = teacher(&app, "t2@alpha.test").await;
    let mut body = to_staff("Read the new policy");
    body["needs_ack"] = json!(true);
    let id = published(&admin, body).await;
    let plain = published(&admin, to_staff("No ack asked")).await;

    let ack = |c: &Client, id: i64| {
        let c = c.clone();
        async move { c.post_empty(&format!("{}acknowledge/", url(id))).await }
    };
    let res = ack(&t1, id).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert_eq!(res.json()["acknowledged"], true);
    // A teacher does not see the count.
    assert_eq!(res.json()["acknowledgements"], Value::Null);
    assert_eq!(ack(&t1, id).await.status, StatusCode::OK);
    assert_eq!(ack(&t2, id).await.status, StatusCode::OK);
    assert_eq!(admin.get(&url(id)).await.json()["acknowledgements"], 2);
    assert_error_shape(&ack(&t1, plain).await, 409);
    assert_eq!(t2.get(&url(id)).await.json()["acknowledged"], true);

    // The author's page shows the count and who.
    let mut browser = app.signed_in("alpha", "admin@alpha.test").await;
    let page = browser.get(&format!("/notices/{id}")).await.text();
    assert!(page.contains("Acknowledged by 2"), "{page}");
    // A teacher acknowledges from the page.
    app.create_staff("alpha", "t3@alpha.test", "Teacher").await;
    let mut b3 = app.signed_in("alpha", "t3@alpha.test").await;
    let page = b3.get(&format!("/notices/{id}")).await.text();
    assert!(page.contains("I have read this"));
    let token = crate::helpers::csrf_of(&page);
    let res = b3
        .post(
            &format!("/notices/{id}/acknowledge"),
            &[("csrf_token", &token)],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text());
    assert_eq!(admin.get(&url(id)).await.json()["acknowledgements"], 3);
}

#[sqlx::test(migrations = false)]
async fn a_pupils_parents_get_the_notices_addressed_to_them(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let admin = school(&app).await;
    let (session, jss1a) = class_of(&admin, "JSS 1A").await;
    let (_, jss1b) = class_of(&admin, "JSS 1B").await;
    let (_, jss2a) = class_of(&admin, "JSS 2A").await;
    let ada = register_pupils(&app, "alpha", session, jss1a, &["Ada"]).await["Ada"].student;
    let bola = register_pupils(&app, "alpha", session, jss1b, &["Bola"]).await["Bola"].student;
    let jss1 = form_id(&admin, "JSS 1").await;
    let to = |title: &str, extra: Value| {
        let mut body = to_parents(title);
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    published(&admin, to("Whole school", json!({}))).await;
    published(
        &admin,
        to("JSS 1", json!({"scope": "form", "form_id": jss1})),
    )
    .await;
    published(
        &admin,
        to(
            "JSS 1A",
            json!({"scope": "arm", "academic_class_id": jss1a}),
        ),
    )
    .await;
    published(
        &admin,
        to(
            "JSS 1B",
            json!({"scope": "arm", "academic_class_id": jss1b}),
        ),
    )
    .await;
    published(
        &admin,
        to(
            "JSS 2A",
            json!({"scope": "arm", "academic_class_id": jss2a}),
        ),
    )
    .await;
    published(
        &admin,
        to(
            "Ada by name",
            json!({"scope": "pupils", "student_ids": [ada]}),
        ),
    )
    .await;
    published(&admin, to_staff("Staff only")).await;
    create(&admin, to("Draft", json!({}))).await;
    let withdrawn = published(&admin, to("Withdrawn", json!({}))).await;
    admin
        .post_empty(&format!("{}withdraw/", url(withdrawn)))
        .await;
    let expired = published(&admin, to("Expired", json!({}))).await;
    expire(&app, expired).await;

    let titles = |res: crate::helpers::Response| {
        assert_eq!(res.status, StatusCode::OK, "{}", res.text());
        let mut t: Vec<String> = res.json()["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["title"].as_str().unwrap().to_owned())
            .collect();
        t.sort();
        t
    };
    let of = |id: i64| format!("/api/v1/school/students/{id}/notices/");
    assert_eq!(
        titles(admin.get(&of(ada)).await),
        ["Ada by name", "JSS 1", "JSS 1A", "Whole school"]
    );
    assert_eq!(
        titles(admin.get(&of(bola)).await),
        ["JSS 1", "JSS 1B", "Whole school"]
    );
    // A teacher holds view_notices and view_students.
    let t = teacher(&app, "t1@alpha.test").await;
    assert_eq!(titles(t.get(&of(bola)).await).len(), 3);
    // Without view_students, or view_notices: 403; a pupil of no school here: 404.
    let only_notices = staff_with(&app, &admin, "n@alpha.test", &["view_notices"]).await;
    assert_error_shape(&only_notices.get(&of(ada)).await, 403);
    let only_students = staff_with(&app, &admin, "s@alpha.test", &["view_students"]).await;
    assert_error_shape(&only_students.get(&of(ada)).await, 403);
    assert_error_shape(&admin.get(&of(999_999)).await, 404);
    // A parents' notice names no other pupil.
    let one = admin.get(&of(ada)).await.json()["results"][0].clone();
    assert!(one.get("pupils").is_none(), "{one}");

    // Its attachment, for the parents' channel: only through a pupil it is addressed to.
    let letter = create(
        &admin,
        to(
            "Letter for Ada",
            json!({"scope": "pupils", "student_ids": [ada]}),
        ),
    )
    .await["id"]
        .as_i64()
        .unwrap();
    let pdf = b"%PDF-1.4\n%%EOF\n";
    let res = admin
        .raw(
            Method::PUT,
            &format!("{}attachment/", url(letter)),
            Some("multipart/form-data; boundary=XYZ"),
            multipart("letter.pdf", pdf),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let file = |pupil: i64| format!("/api/v1/school/students/{pupil}/notices/{letter}/attachment/");
    assert_error_shape(&admin.get(&file(ada)).await, 404);
    admin.post_empty(&format!("{}publish/", url(letter))).await;
    let listed = admin.get(&of(ada)).await.json();
    assert!(
        listed["results"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["id"] == letter && n["has_attachment"] == true)
    );
    let res = t.get(&file(ada)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert_eq!(res.body, pdf);
    assert_error_shape(&t.get(&file(bola)).await, 404);
}

fn multipart(filename: &str, bytes: &[u8]) -> Vec<u8> {
    let mut body = format!(
        "--XYZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\nContent-Type: application/pdf\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(b"\r\n--XYZ--\r\n");
    body
}

#[sqlx::test(migrations = false)]
async fn attachments_are_checked_by_content_and_size(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let admin = school(&app).await;
    let teacher = teacher(&app, "t1@alpha.test").await;
    let id = create(&admin, to_staff("With a letter")).await["id"]
        .as_i64()
        .unwrap();
    let path = format!("{}attachment/", url(id));
    let upload = |c: &Client, name: &str, bytes: &[u8]| {
        let c = c.clone();
        let path = path.clone();
        let body = multipart(name, bytes);
        async move {
            c.raw(
                Method::PUT,
                &path,
                Some("multipart/form-data; boundary=XYZ"),
                body,
            )
            .await
        }
    };

    // A "PDF" that is not one, by its bytes.
    let res = upload(&admin, "letter.pdf", b"<html>not a pdf</html>").await;
    let err = assert_error_shape(&res, 422);
    assert!(err["errors"]["file"].is_array(), "{err}");
    // Too large, though a real PDF's start.
    let mut big = b"%PDF-1.4\n".to_vec();
    big.resize(5 * 1024 * 1024 + 1, b'0');
    let res = upload(&admin, "big.pdf", &big).await;
    assert_error_shape(&res, 422);
    assert_eq!(admin.get(&url(id)).await.json()["attachment"], Value::Null);
    // Not multipart at all.
    assert_error_shape(&admin.put(&path, json!({})).await, 415);

    let pdf = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n";
    let res = upload(&admin, "../Letter to staff.pdf", pdf).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert_eq!(res.json()["attachment"]["filename"], "Letter to staff.pdf");
    assert_eq!(res.json()["attachment"]["content_type"], "application/pdf");
    // A PNG named .pdf is stored as what it is.
    let png = [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 0];
    let res = upload(&admin, "photo.pdf", &png).await;
    assert_eq!(res.json()["attachment"]["content_type"], "image/png");
    assert_eq!(res.json()["attachment"]["filename"], "photo.png");
    let res = upload(&admin, "Letter.pdf", pdf).await;
    assert_eq!(res.status, StatusCode::OK);

    // The teacher cannot fetch the draft's file; once published, they can.
    assert_error_shape(&teacher.get(&path).await, 404);
    admin.post_empty(&format!("{}publish/", url(id))).await;
    let res = teacher.get(&path).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.body, pdf);
    assert_eq!(res.headers["content-type"], "application/pdf");
    assert!(
        res.headers["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment;")
    );
    // A published notice's attachment is not replaced or removed.
    assert_error_shape(&upload(&admin, "new.pdf", pdf).await, 409);
    assert_error_shape(&admin.delete(&path).await, 409);
    assert_error_shape(&upload(&teacher, "new.pdf", pdf).await, 403);
    // Re-issued, the copy keeps the file.
    let copy = admin
        .post_empty(&format!("{}reissue/", url(id)))
        .await
        .json();
    assert_eq!(copy["attachment"]["filename"], "Letter.pdf");
    assert!(
        audit_actions(&admin, id)
            .await
            .contains(&"attach".to_owned())
    );
}

#[sqlx::test(migrations = false)]
async fn two_schools_notices_never_mix(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alpha = school(&app).await;
    let beta = school_with_year(&app, "beta").await;
    let id = published(&alpha, to_staff("Alpha only")).await;
    let draft = create(&alpha, to_staff("Alpha draft")).await["id"]
        .as_i64()
        .unwrap();
    assert_eq!(alpha.get(&url(id)).await.status, StatusCode::OK);
    for id in [id, draft] {
        assert_error_shape(&beta.get(&url(id)).await, 404);
        assert_error_shape(&beta.put(&url(id), to_staff("x")).await, 404);
        assert_error_shape(&beta.delete(&url(id)).await, 404);
        assert_error_shape(&beta.post_empty(&format!("{}publish/", url(id))).await, 404);
        assert_error_shape(
            &beta.post_empty(&format!("{}withdraw/", url(id))).await,
            404,
        );
        assert_error_shape(&beta.post_empty(&format!("{}reissue/", url(id))).await, 404);
    }
    assert_eq!(beta.get(NOTICES).await.json()["count"], 0);
    // Alpha's token at beta's address is refused, whatever the id.
    let res = alpha.at("beta.localhost").get(&url(id)).await;
    assert!(res.status.is_client_error());
    assert_ne!(res.status, StatusCode::OK);
}

#[sqlx::test(migrations = false)]
async fn the_pages_write_and_publish_a_notice(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let admin = school(&app).await;
    let mut b = app.signed_in("alpha", "admin@alpha.test").await;
    let list = b.get("/notices").await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(list.text().contains("No notices yet"));

    let token = b.csrf("/notices/new").await;
    // Field errors are re-rendered with what was typed.
    let res = b
        .post(
            "/notices/new",
            &[
                ("csrf_token", &token),
                ("title", ""),
                ("body", "Kept text"),
                ("scope", "school"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text();
    assert!(html.contains("This field is required.") && html.contains("Kept text"));
    assert!(html.contains("Choose parents, staff or both."));
    let res = b
        .post(
            "/notices/new",
            &[
                ("csrf_token", &token),
                ("title", ""),
                ("body", "Wear <b>green</b>\nsecond line"),
                ("scope", "pupils"),
                ("pupils", "NOPE/1"),
                ("for_parents", "on"),
                ("expires_at", "tomorrow"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    // Every error at once: what could not be read and what the rules refuse.
    let html = res.text();
    assert!(
        html.contains("No pupil has the admission number NOPE/1."),
        "{html}"
    );
    assert!(html.contains("This field is required."), "{html}");
    assert!(html.contains("Enter a date and time"), "{html}");
    let res = b
        .post(
            "/notices/new",
            &[
                ("csrf_token", &token),
                ("title", "Uniform day"),
                ("body", "Wear <b>green</b>\nsecond line"),
                ("scope", "school"),
                ("for_staff", "on"),
                ("needs_ack", "on"),
                ("expires_at", "2199-01-01T08:00"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text());
    let at = res.location();
    let id: i64 = at.trim_start_matches("/notices/").parse().unwrap();
    let page = b.get(&at).await.text();
    // Escaped, line breaks kept.
    assert!(
        page.contains("Wear &#60;b&#62;green&#60;/b&#62;\nsecond line")
            || page.contains("Wear &lt;b&gt;green&lt;/b&gt;\nsecond line"),
        "{page}"
    );
    assert!(page.contains("Publish"));
    let edit = b.get(&format!("/notices/{id}/edit")).await;
    assert_eq!(edit.status, StatusCode::OK);
    assert!(edit.text().contains("2199-01-01T08:00"));

    let res = b
        .post(&format!("/notices/{id}/publish"), &[("csrf_token", &token)])
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let notice = admin.get(&url(id)).await.json();
    assert_eq!(notice["status"], "published");
    assert_eq!(notice["needs_ack"], true);
    // Editing a published notice from the page is refused.
    let res = b
        .post(
            &format!("/notices/{id}/edit"),
            &[
                ("csrf_token", &token),
                ("title", "Changed"),
                ("body", "x"),
                ("scope", "school"),
                ("for_staff", "on"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(admin.get(&url(id)).await.json()["title"], "Uniform day");
    let res = b
        .post(
            &format!("/notices/{id}/withdraw"),
            &[("csrf_token", &token)],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(admin.get(&url(id)).await.json()["status"], "withdrawn");
    let list = b.get("/notices?status=withdrawn").await.text();
    assert!(list.contains("Uniform day"));
    assert!(
        b.get("/notices?status=draft")
            .await
            .text()
            .contains("No notice is draft")
    );

    // An attachment from the page: refused by content, then accepted.
    let res = b
        .upload(
            &format!(
                "/notices/{}/attachment?csrf_token={token}",
                create(&admin, to_staff("Doc")).await["id"]
            ),
            "file",
            "x.pdf",
            b"not a pdf",
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text());
}

/// A role that may only delete notices finds the draft it deletes (and reads no draft
/// otherwise than to delete it, like any manager).
#[sqlx::test(migrations = false)]
async fn a_role_with_only_delete_notices_deletes_a_draft(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let admin = school(&app).await;
    let draft = create(&admin, to_staff("Draft to go")).await["id"]
        .as_i64()
        .unwrap();
    let deleter = staff_with(
        &app,
        &admin,
        "deleter@alpha.test",
        &["view_notices", "delete_notices"],
    )
    .await;
    let res = deleter.delete(&url(draft)).await;
    assert_eq!(res.status, StatusCode::NO_CONTENT, "{}", res.text());
    assert_error_shape(&admin.get(&url(draft)).await, 404);
}
