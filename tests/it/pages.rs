//! Browser pages driven without a browser: cookies, CSRF, per-host sessions, permissions.

use axum::{
    body::Body,
    http::{Method, Request, StatusCode, header},
};
use sqlx::PgPool;

use crate::helpers::{
    PASSWORD, Response, TestApp, csrf_of,
    fixtures::{CLASS, class_with_exams, enter_hand_computed_marks, small_school_this_year},
    host,
};

#[sqlx::test(migrations = false)]
async fn forms_without_the_csrf_token_are_refused(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.create_school("alpha").await;
    app.create_staff("alpha", "admin@alpha.test", "School Admin")
        .await;
    let mut b = app.browser(&host("alpha"));
    let page = b.get("/login").await;
    assert_eq!(page.status, StatusCode::OK);
    let token = csrf_of(&page.text());

    let no_token = b
        .post(
            "/login",
            &[("email", "admin@alpha.test"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(no_token.status, StatusCode::FORBIDDEN);
    let wrong = b
        .post(
            "/login",
            &[
                ("csrf_token", "forged"),
                ("email", "admin@alpha.test"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    // htmx sends the token as a header instead.
    let htmx = b
        .send(
            Method::POST,
            "/logout",
            None,
            &[("hx-request", "true"), ("x-csrf-token", "forged")],
        )
        .await;
    assert_eq!(htmx.status, StatusCode::FORBIDDEN);

    let ok = b
        .post(
            "/login",
            &[
                ("csrf_token", &token),
                ("email", "admin@alpha.test"),
                ("password", PASSWORD),
                ("next", "/staff"),
            ],
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.text());
    assert_eq!(ok.location(), "/staff");
    // Signed in; a state-changing form without a token is still refused.
    let staff = b.get("/staff").await;
    assert_eq!(staff.status, StatusCode::OK);
    let teacher = app
        .create_staff("alpha", "teacher@alpha.test", "Teacher")
        .await;
    let res = b
        .post(&format!("/staff/{teacher}/active"), &[("active", "false")])
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    let active: bool = sqlx::query_scalar("SELECT is_active FROM public.users WHERE id = $1")
        .bind(teacher)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(active);
}

#[sqlx::test(migrations = false)]
async fn sessions_belong_to_their_host(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.create_school("alpha").await;
    app.create_school("beta").await;
    app.create_staff("alpha", "admin@alpha.test", "School Admin")
        .await;
    app.create_superadmin("ops@platform.test").await;

    let mut a = app.browser(&host("alpha"));
    let res = a.login("admin@alpha.test").await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(a.get("/staff").await.status, StatusCode::OK);

    // The same cookie presented at another school's host is not a session there.
    let mut stolen = app.browser(&host("beta")).with_cookie(a.cookie());
    let res = stolen.get("/staff").await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert!(res.location().starts_with("/login"));
    // Nor at the platform console.
    let mut console = app.browser("localhost").with_cookie(a.cookie());
    let res = console.get("/schools").await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);

    // A platform user cannot sign in at a school host as staff.
    let mut ops = app.browser(&host("alpha"));
    let res = ops.login("ops@platform.test").await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert!(res.text().contains("Invalid email or password"));
    // But can at the main domain.
    let mut ops = app.browser("localhost");
    let res = ops.login("ops@platform.test").await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let schools = ops.get("/schools").await;
    assert!(schools.text().contains("Alpha School"));

    // Logging out ends the session.
    let page = a.get("/staff").await;
    let token = csrf_of(&page.text());
    let res = a.post("/logout", &[("csrf_token", &token)]).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(a.get("/staff").await.status, StatusCode::SEE_OTHER);
}

#[sqlx::test(migrations = false)]
async fn pages_follow_permissions(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.create_school("alpha").await;
    app.create_staff("alpha", "admin@alpha.test", "School Admin")
        .await;
    let head = app.create_staff("alpha", "head@alpha.test", "Head").await;
    app.create_staff("alpha", "teacher@alpha.test", "Teacher")
        .await;

    // The head may view staff but not change them: no Disable button, and 403 on post.
    let mut h = app.signed_in("alpha", "head@alpha.test").await;
    let page = h.get("/staff").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        !page.text().contains("Disable"),
        "no button without change_users"
    );
    let token = csrf_of(&page.text());
    let res = h
        .post(
            &format!("/staff/{head}/active"),
            &[("csrf_token", &token), ("active", "false")],
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);

    // A teacher cannot even list staff, and the nav does not offer it.
    let mut t = app.signed_in("alpha", "teacher@alpha.test").await;
    let home = t.get("/").await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(!home.text().contains("href=\"/staff\""));
    assert_eq!(t.get("/staff").await.status, StatusCode::FORBIDDEN);

    // The admin sees the button and can disable the head, which ends the head's session.
    let mut a = app.signed_in("alpha", "admin@alpha.test").await;
    let page = a.get("/staff").await;
    assert!(page.text().contains("Disable"));
    let token = csrf_of(&page.text());
    let res = a
        .post(
            &format!("/staff/{head}/active"),
            &[("csrf_token", &token), ("active", "false")],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let res = h.get("/staff").await;
    assert_eq!(
        res.status,
        StatusCode::SEE_OTHER,
        "disabled user's session ended"
    );

    // htmx search returns only the rows.
    let rows = a.htmx_get("/staff?search=teacher").await;
    assert!(rows.text().contains("teacher@alpha.test"));
    assert!(!rows.text().contains("<html"));
    assert!(!rows.text().contains("head@alpha.test"));
}

#[sqlx::test(migrations = false)]
async fn console_create_school_form_shows_field_errors(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.create_superadmin("ops@platform.test").await;
    let mut b = app.signed_in_at("localhost", "ops@platform.test").await;
    let form = b.get("/schools/new").await;
    let token = csrf_of(&form.text());
    let res = b
        .post(
            "/schools",
            &[
                ("csrf_token", &token),
                ("name", "Lagoon Secondary"),
                ("code", "Bad Code"),
                ("schema_name", "public"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text();
    assert!(
        html.contains("value=\"Lagoon Secondary\""),
        "keeps what was typed"
    );
    assert!(html.contains("This name is reserved."));
    assert!(html.contains("lower-case letters, digits and hyphens"));
    let res = b
        .post(
            "/schools",
            &[
                ("csrf_token", &token),
                ("name", "Lagoon Secondary"),
                ("code", "lagoon"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text());
    let detail = b.get(&res.location()).await;
    assert!(detail.text().contains("lagoon.localhost"));
    // Search-as-you-type returns only the rows.
    let rows = b.htmx_get("/schools?search=lag").await;
    assert!(rows.text().contains("Lagoon Secondary"));
    assert!(!rows.text().contains("<html"));
}

/// Sessions in Redis when REDIS_URL is set (the real Redis on this machine).
#[sqlx::test(migrations = false)]
async fn sessions_live_in_redis_when_configured(pool: PgPool) {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    let mut config = schoolyard::config::Config::for_tests("");
    config.redis_url = Some(url);
    let app = TestApp::with_config(pool, config).await;
    app.create_school("alpha").await;
    app.create_staff("alpha", "admin@alpha.test", "School Admin")
        .await;
    let ready = app.platform_client().get("/readyz").await;
    assert_eq!(ready.json()["redis"], "ok");
    let mut b = app.browser(&host("alpha"));
    let res = b.login("admin@alpha.test").await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(b.get("/staff").await.status, StatusCode::OK);
    // A second app (another server behind the load balancer) sees the same session.
    let other = schoolyard::router(
        schoolyard::AppState::build(app.config.clone(), app.pool.clone())
            .await
            .unwrap(),
    );
    let req = Request::builder()
        .uri("/staff")
        .header(header::HOST, host("alpha"))
        .header(header::COOKIE, b.cookie().unwrap())
        .body(Body::empty())
        .unwrap();
    let res = tower::ServiceExt::oneshot(other, req).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

/// The text of a page's first `<h1>`, tags stripped.
fn h1_of(html: &str) -> String {
    let start = html.find("<h1").expect("an h1");
    let end = html[start..].find("</h1>").expect("a closed h1") + start;
    let mut text = String::new();
    let mut in_tag = false;
    for c in html[start..end].chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Every school page renders for an admin with the heading that says what it is: the
/// register, classes, academics, staff and roles, settings, and the exam pages (exam
/// session, mark grid, results, report card, comments, assessment settings), with ids from
/// the fixtures and the API; the downloads are what they say. A teacher is refused the
/// admin-only pages.
#[sqlx::test(migrations = false)]
async fn every_school_page_renders(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let f = class_with_exams(&app, "alpha", &CLASS).await;
    enter_hand_computed_marks(&f).await;
    let teacher = app
        .create_staff("alpha", "teacher@alpha.test", "Teacher")
        .await;
    let role = crate::helpers::fixtures::role_id(&f.admin, "Teacher").await;
    let (es, class, ada) = (f.exam_session, f.class_id, f.students["Ada"]);
    let maths = f.exams["Mathematics"];
    let card = f.pupils["Ada"];
    let mut a = app.signed_in("alpha", "admin@alpha.test").await;
    let pages = [
        ("/".to_owned(), "Welcome, Test Staff"),
        ("/students".to_owned(), "Students"),
        ("/students/new".to_owned(), "Admit a student"),
        ("/students/import".to_owned(), "Import students"),
        (format!("/students/{ada}"), "Ada Test"),
        (format!("/students/{ada}/edit"), "Edit student"),
        ("/classes".to_owned(), "Classes · 2025/2026"),
        (format!("/classes/{class}"), "JSS 1A"),
        ("/academics".to_owned(), "Academics"),
        ("/setup".to_owned(), "Set up the school year"),
        ("/staff".to_owned(), "Staff"),
        ("/staff/new".to_owned(), "Add a staff member"),
        (format!("/staff/{teacher}"), "Test Staff"),
        ("/roles".to_owned(), "Roles"),
        (format!("/roles/{role}"), "Teacher built-in"),
        ("/audit".to_owned(), "Audit log"),
        ("/settings".to_owned(), "Settings"),
        ("/settings/assessment".to_owned(), "Assessment settings"),
        ("/exams".to_owned(), "Exams"),
        (
            format!("/exams/sessions/{es}"),
            "First Term Examination 2025/2026 open",
        ),
        (format!("/exams/{maths}/marks"), "Mathematics · JSS 1A"),
        (
            format!("/exams/sessions/{es}/classes/{class}/results"),
            "Results · JSS 1A",
        ),
        (
            format!("/exams/sessions/{es}/classes/{class}/comments"),
            "Comments &amp; ratings · JSS 1A",
        ),
        (
            format!("/exams/sessions/{es}/report-cards/{card}"),
            "Alpha School",
        ),
    ];
    for (path, heading) in &pages {
        let res = a.get(path).await;
        assert_eq!(res.status, StatusCode::OK, "{path}: {}", res.text());
        let h1 = h1_of(&res.text());
        assert!(
            h1.contains(heading),
            "{path}: heading {h1:?}, not {heading:?}"
        );
    }
    let card_page = a
        .get(&format!("/exams/sessions/{es}/report-cards/{card}"))
        .await
        .text();
    assert!(card_page.contains("Ada Test") && card_page.contains("217.5"));
    // Downloads: (path, content type, what the file holds).
    let downloads = [
        (
            "/students/export.csv?search=&status=&class=".to_owned(),
            "text/csv",
            "Ada",
        ),
        (format!("/classes/{class}/export.csv"), "text/csv", "Ada"),
        (
            "/students/import/template.csv".to_owned(),
            "text/csv",
            "first_name",
        ),
        (
            format!("/exams/sessions/{es}/report-cards/{card}/pdf"),
            "application/pdf",
            "%PDF-",
        ),
    ];
    for (path, content_type, holds) in &downloads {
        let res = a.get(path).await;
        assert_eq!(res.status, StatusCode::OK, "{path}: {}", res.text());
        let got = res.headers[header::CONTENT_TYPE].to_str().unwrap();
        assert!(got.starts_with(content_type), "{path}: {got}");
        assert!(res.text().contains(holds), "{path}: {}", res.text());
    }
    // A form with a bad date keeps every value and shows every problem at once.
    let page = a.get("/students/new").await;
    let token = csrf_of(&page.text());
    let res = a
        .post(
            "/students",
            &[
                ("csrf_token", &token),
                ("first_name", "Ada"),
                ("last_name", ""),
                ("sex", "female"),
                ("date_of_birth", "31/31/2020"),
                ("guardian_name", "Ngozi"),
                ("guardian_phone", "call me"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text();
    assert!(html.contains("value=\"Ada\""), "keeps typed values");
    for message in [
        "Enter a valid date.",
        "This field is required.",
        "Enter a phone number",
    ] {
        assert!(html.contains(message), "missing {message}");
    }
    let mut t = app.signed_in("alpha", "teacher@alpha.test").await;
    for path in ["/students", "/classes", &format!("/students/{ada}")] {
        assert_eq!(t.get(path).await.status, StatusCode::OK, "{path}");
    }
    for path in ["/students/new", "/staff", "/roles", "/audit", "/setup"] {
        assert_eq!(t.get(path).await.status, StatusCode::FORBIDDEN, "{path}");
    }
    let profile = t.get(&format!("/students/{ada}")).await.text();
    assert!(
        !profile.contains("Edit details") && !profile.contains("Withdraw"),
        "no change buttons for a teacher"
    );
}

/// The school's forms as an office would use them: each post lands and says what happened.
#[sqlx::test(migrations = false)]
async fn school_forms_work_end_to_end(pool: PgPool) {
    let app = TestApp::new(pool).await;
    small_school_this_year(&app, "alpha", "A").await;
    let mut a = app.signed_in("alpha", "admin@alpha.test").await;
    let token = csrf_of(&a.get("/academics").await.text());
    let flash_after = |res: &Response| res.location();

    // A new arm is opened in the current session at once.
    let form_id: i64 = sqlx::query_scalar("SELECT id FROM alpha.forms")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let res = a
        .post(
            "/academics/arms",
            &[
                ("csrf_token", &token),
                ("name", "JSS 1B"),
                ("form_id", &form_id.to_string()),
            ],
        )
        .await;
    assert_eq!(flash_after(&res), "/academics");
    assert!(
        a.get("/academics").await.text().contains("opened in"),
        "flash says the class was opened"
    );
    assert!(a.get("/classes").await.text().contains("JSS 1B"));

    // A subject still offered cannot be deleted, and the page says why.
    let maths: i64 = sqlx::query_scalar("SELECT id FROM alpha.subjects")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    a.post(
        &format!("/academics/subjects/{maths}/delete"),
        &[("csrf_token", &token)],
    )
    .await;
    assert!(
        a.get("/academics")
            .await
            .text()
            .contains("offered in a class")
    );

    // Roles: create one and tick a permission in the grid.
    let res = a
        .post(
            "/roles",
            &[("csrf_token", &token), ("name", "Exams Officer")],
        )
        .await;
    let role_page = flash_after(&res);
    assert!(role_page.starts_with("/roles/"), "{role_page}");
    a.post(
        &role_page,
        &[
            ("csrf_token", &token),
            ("name", "Exams Officer"),
            ("description", "Runs the exams"),
            ("perm", "view_students"),
        ],
    )
    .await;
    let perms: Vec<String> = sqlx::query_scalar("SELECT permission FROM alpha.role_permissions p JOIN alpha.roles r ON r.id = p.role_id WHERE r.name = 'Exams Officer'")
        .fetch_all(&app.pool).await.unwrap();
    assert_eq!(perms, ["view_students"]);
    let role_id = role_page.trim_start_matches("/roles/").to_owned();

    // Staff: add a member with that role; a bad password re-renders with the field error.
    let res = a
        .post(
            "/staff/new",
            &[
                ("csrf_token", &token),
                ("full_name", "Sade Bello"),
                ("email", "sade@alpha.test"),
                ("password", "password"),
                ("role", &role_id),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().contains("value=\"Sade Bello\"") && res.text().contains("too common"));
    let res = a
        .post(
            "/staff/new",
            &[
                ("csrf_token", &token),
                ("full_name", "Sade Bello"),
                ("email", "sade@alpha.test"),
                ("password", PASSWORD),
                ("role", &role_id),
            ],
        )
        .await;
    assert_eq!(flash_after(&res), "/staff");
    // A download in between (another tab) does not use up the message: only a page shows it.
    let csv = a.get("/students/export.csv").await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(a.get("/staff").await.text().contains("can now sign in"));
    assert!(!a.get("/staff").await.text().contains("can now sign in"));

    // Settings: a pattern without a running number is refused next to the field.
    let res = a
        .post(
            "/settings",
            &[
                ("csrf_token", &token),
                ("address", "1 School Road"),
                ("motto", "Learn"),
                ("admission_number_pattern", "ADM"),
                ("phone_country_code", "+234"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().contains("{SEQ}"));

    // Import through the page: preview, then confirm; the pupil lands in the class.
    let csv = "first_name,last_name,sex,class\nTobi,Ade,m,JSS 1A\n";
    let preview = a
        .upload(
            &format!("/students/import?csrf_token={token}"),
            "file",
            "pupils.csv",
            csv.as_bytes(),
        )
        .await;
    assert_eq!(preview.status, StatusCode::OK, "{}", preview.text());
    assert!(preview.text().contains("All 1 rows are fine"));
    // The confirmation posts the checked upload's token, not the file.
    let upload = preview
        .text()
        .split("name=\"token\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the upload's token")
        .to_owned();
    let res = a
        .post(
            "/students/import/confirm",
            &[("csrf_token", &token), ("token", &upload)],
        )
        .await;
    assert_eq!(flash_after(&res), "/students");
    assert!(
        a.get("/students")
            .await
            .text()
            .contains("1 students imported")
    );

    // Registering the same pupil again says so instead of pretending.
    let class_id: i64 = sqlx::query_scalar("SELECT ac.id FROM alpha.academic_classes ac JOIN alpha.classes c ON c.id = ac.class_id WHERE c.name = 'JSS 1A'")
        .fetch_one(&app.pool).await.unwrap();
    let number: String = sqlx::query_scalar("SELECT admission_no FROM alpha.students")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    a.post(
        &format!("/classes/{class_id}/register"),
        &[("csrf_token", &token), ("admission_no", &number)],
    )
    .await;
    assert!(
        a.get(&format!("/classes/{class_id}"))
            .await
            .text()
            .contains("is already in JSS 1A")
    );
}
