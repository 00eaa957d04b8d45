//! Browser pages driven without a browser: cookies, CSRF, per-host sessions, permissions.

use axum::{
    body::Body,
    http::{Method, Request, StatusCode, header},
};
use sqlx::PgPool;

use crate::helpers::{PASSWORD, Response, TestApp, host};

/// A tiny cookie-keeping client for one host.
pub(crate) struct Browser<'a> {
    app: &'a TestApp,
    host: String,
    cookie: Option<String>,
}

impl<'a> Browser<'a> {
    pub(crate) fn new(app: &'a TestApp, host: &str) -> Self {
        Self {
            app,
            host: host.to_owned(),
            cookie: None,
        }
    }

    async fn send(
        &mut self,
        method: Method,
        path: &str,
        form: Option<&[(&str, &str)]>,
        extra: &[(&str, &str)],
    ) -> Response {
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, &self.host);
        if let Some(c) = &self.cookie {
            req = req.header(header::COOKIE, c);
        }
        for (k, v) in extra {
            req = req.header(*k, *v);
        }
        let req = match form {
            Some(f) => req
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(serde_urlencoded::to_string(f).unwrap())),
            None => req.body(Body::empty()),
        }
        .unwrap();
        let res = self.app.send(req).await;
        if let Some(set) = res.headers.get(header::SET_COOKIE) {
            let set = set.to_str().unwrap();
            if set.starts_with("schoolyard_session=;") {
                // Removal after logout.
                self.cookie = None;
                return res;
            }
            assert!(set.contains("HttpOnly"), "{set}");
            assert!(set.contains("SameSite=Lax"), "{set}");
            assert!(
                !set.to_ascii_lowercase().contains("domain="),
                "host-only cookie: {set}"
            );
            self.cookie = Some(set.split(';').next().unwrap().to_owned());
        }
        res
    }

    /// Posts a multipart upload of one file field (plain HTML forms put the CSRF token in
    /// the action URL).
    async fn upload(&mut self, path: &str, field: &str, filename: &str, bytes: &[u8]) -> Response {
        let mut body = format!(
            "--XYZ\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{filename}\"\r\nContent-Type: text/csv\r\n\r\n"
        )
        .into_bytes();
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n--XYZ--\r\n");
        let req = Request::builder()
            .method(Method::POST)
            .uri(path)
            .header(header::HOST, &self.host)
            .header(header::COOKIE, self.cookie.clone().unwrap_or_default())
            .header(header::CONTENT_TYPE, "multipart/form-data; boundary=XYZ")
            .body(Body::from(body))
            .unwrap();
        self.app.send(req).await
    }

    pub(crate) async fn get(&mut self, path: &str) -> Response {
        self.send(Method::GET, path, None, &[]).await
    }

    pub(crate) async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Response {
        self.send(Method::POST, path, Some(form), &[]).await
    }

    pub(crate) async fn login(&mut self, email: &str) -> Response {
        let page = self.get("/login").await;
        let token = csrf_of(&page.text());
        self.post(
            "/login",
            &[
                ("csrf_token", &token),
                ("email", email),
                ("password", PASSWORD),
                ("next", "/"),
            ],
        )
        .await
    }
}

pub(crate) fn csrf_of(html: &str) -> String {
    let marker = "name=\"csrf_token\" value=\"";
    let start = html.find(marker).expect("csrf field") + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

fn location(res: &Response) -> String {
    res.headers
        .get(header::LOCATION)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

#[sqlx::test(migrations = false)]
async fn forms_without_the_csrf_token_are_refused(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.create_school("alpha").await;
    app.create_staff("alpha", "admin@alpha.test", "School Admin")
        .await;
    let mut b = Browser::new(&app, &host("alpha"));
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
    assert_eq!(location(&ok), "/staff");
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

    let mut a = Browser::new(&app, &host("alpha"));
    let res = a.login("admin@alpha.test").await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(a.get("/staff").await.status, StatusCode::OK);

    // The same cookie presented at another school's host is not a session there.
    let mut stolen = Browser::new(&app, &host("beta"));
    stolen.cookie = a.cookie.clone();
    let res = stolen.get("/staff").await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert!(location(&res).starts_with("/login"));
    // Nor at the platform console.
    let mut console = Browser::new(&app, "localhost");
    console.cookie = a.cookie.clone();
    let res = console.get("/schools").await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);

    // A platform user cannot sign in at a school host as staff.
    let mut ops = Browser::new(&app, &host("alpha"));
    let res = ops.login("ops@platform.test").await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert!(res.text().contains("Invalid email or password"));
    // But can at the main domain.
    let mut ops = Browser::new(&app, "localhost");
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
    let mut h = Browser::new(&app, &host("alpha"));
    h.login("head@alpha.test").await;
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
    let mut t = Browser::new(&app, &host("alpha"));
    t.login("teacher@alpha.test").await;
    let home = t.get("/").await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(!home.text().contains("href=\"/staff\""));
    assert_eq!(t.get("/staff").await.status, StatusCode::FORBIDDEN);

    // The admin sees the button and can disable the head, which ends the head's session.
    let mut a = Browser::new(&app, &host("alpha"));
    a.login("admin@alpha.test").await;
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
    let rows = a
        .send(
            Method::GET,
            "/staff?search=teacher",
            None,
            &[("hx-request", "true")],
        )
        .await;
    assert!(rows.text().contains("teacher@alpha.test"));
    assert!(!rows.text().contains("<html"));
    assert!(!rows.text().contains("head@alpha.test"));
}

#[sqlx::test(migrations = false)]
async fn console_create_school_form_shows_field_errors(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.create_superadmin("ops@platform.test").await;
    let mut b = Browser::new(&app, "localhost");
    b.login("ops@platform.test").await;
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
    let detail = b.get(&location(&res)).await;
    assert!(detail.text().contains("lagoon.localhost"));
    // Search-as-you-type returns only the rows.
    let rows = b
        .send(
            Method::GET,
            "/schools?search=lag",
            None,
            &[("hx-request", "true")],
        )
        .await;
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
    let ready = app
        .call(Method::GET, "localhost", "/readyz", None, None)
        .await;
    assert_eq!(ready.json()["redis"], "ok");
    let mut b = Browser::new(&app, &host("alpha"));
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
        .header(header::COOKIE, b.cookie.clone().unwrap())
        .body(Body::empty())
        .unwrap();
    let res = tower::ServiceExt::oneshot(other, req).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

/// Every school page renders for an admin, and a teacher is refused the admin-only ones.
#[sqlx::test(migrations = false)]
async fn every_school_page_renders(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let school = app.create_school("alpha").await;
    app.create_staff("alpha", "admin@alpha.test", "School Admin")
        .await;
    app.create_staff("alpha", "teacher@alpha.test", "Teacher")
        .await;
    let mut tx = schoolyard::db::begin_school(&app.pool, &school.schema_name)
        .await
        .unwrap();
    let today = chrono::Utc::now().date_naive();
    schoolyard::academics::setup::run(
        &mut tx,
        school.id,
        &schoolyard::academics::setup::SetupForm::suggested(today),
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    let student = schoolyard::students::db::create(
        &mut tx,
        &schoolyard::students::db::StudentInput {
            first_name: Some("Chidi".into()),
            last_name: Some("Okafor".into()),
            sex: Some("male".into()),
            ..Default::default()
        },
        today,
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let mut a = Browser::new(&app, &host("alpha"));
    a.login("admin@alpha.test").await;
    for path in [
        "/",
        "/students",
        "/students/new",
        "/students/import",
        &format!("/students/{}", student.id),
        &format!("/students/{}/edit", student.id),
        "/classes",
        "/classes/1",
        "/academics",
        "/setup",
        "/staff",
        "/staff/new",
        "/roles",
        "/roles/1",
        "/audit",
        "/settings",
        "/students/export.csv?search=&status=&class=",
    ] {
        let res = a.get(path).await;
        assert_eq!(res.status, StatusCode::OK, "{path}: {}", res.text());
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
    let mut t = Browser::new(&app, &host("alpha"));
    t.login("teacher@alpha.test").await;
    for path in [
        "/students",
        "/classes",
        &format!("/students/{}", student.id),
    ] {
        assert_eq!(t.get(path).await.status, StatusCode::OK, "{path}");
    }
    for path in ["/students/new", "/staff", "/roles", "/audit", "/setup"] {
        assert_eq!(t.get(path).await.status, StatusCode::FORBIDDEN, "{path}");
    }
    let profile = t.get(&format!("/students/{}", student.id)).await.text();
    assert!(
        !profile.contains("Edit details") && !profile.contains("Withdraw"),
        "no change buttons for a teacher"
    );
}

/// The school's forms as an office would use them: each post lands and says what happened.
#[sqlx::test(migrations = false)]
async fn school_forms_work_end_to_end(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let school = app.create_school("alpha").await;
    app.create_staff("alpha", "admin@alpha.test", "School Admin")
        .await;
    let mut tx = schoolyard::db::begin_school(&app.pool, &school.schema_name)
        .await
        .unwrap();
    let form = schoolyard::academics::setup::SetupForm {
        forms: "JSS 1".into(),
        arms: "A".into(),
        subjects: "Mathematics".into(),
        ..schoolyard::academics::setup::SetupForm::suggested(chrono::Utc::now().date_naive())
    };
    schoolyard::academics::setup::run(&mut tx, school.id, &form, chrono::Utc::now())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mut a = Browser::new(&app, &host("alpha"));
    a.login("admin@alpha.test").await;
    let token = csrf_of(&a.get("/academics").await.text());
    let flash_after = |res: &Response| location(res);

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
                ("password", crate::helpers::PASSWORD),
                ("role", &role_id),
            ],
        )
        .await;
    assert_eq!(flash_after(&res), "/staff");
    assert!(a.get("/staff").await.text().contains("can now sign in"));

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
    let res = a
        .post(
            "/students/import/confirm",
            &[("csrf_token", &token), ("csv_text", csv)],
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
