//! Headless Chromium through chromedriver against a real server on a free port.

use std::{
    net::TcpListener as StdListener,
    process::{Child, Command, Stdio},
    time::Duration,
};

use axum::http::StatusCode;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::{
    PASSWORD, TestApp,
    fixtures::{
        CLASS, assign_teacher, class_with_exams, enter_hand_computed_marks, save_marks,
        small_school_this_year,
    },
    internals, pdf_text,
};

/// A chromedriver process, killed on drop.
struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn start_driver() -> Driver {
    let port = free_port();
    let binary = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".to_owned());
    let child = Command::new(&binary)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("could not start {binary} (scripts/test installs it): {e}"));
    let driver = Driver {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return driver;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chromedriver did not start");
}

async fn browser(driver: &Driver) -> Client {
    let chrome = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned());
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".to_owned(),
        serde_json::json!({
            "binary": chrome,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--disable-quic", "--no-first-run", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", "--window-size=1280,900"]
        }),
    );
    // chromedriver is local plain HTTP: no TLS stack needed.
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .expect("connect to chromedriver")
}

fn save_screenshot(name: &str, png: &[u8]) {
    let dir = std::env::var("SCREENSHOT_DIR")
        .unwrap_or_else(|_| std::env::temp_dir().display().to_string());
    let _ = std::fs::write(format!("{dir}/{name}.png"), png);
}

async fn wait_for_text(c: &Client, text: &str) {
    for _ in 0..100 {
        if c.source().await.unwrap().contains(text) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("page never showed {text:?}: {}", c.source().await.unwrap());
}

/// The text of the element `id` once `ready` holds for it (search-as-you-type results),
/// or its last text after 10 s for the caller's assertions.
async fn wait_for_rows(c: &Client, id: &str, ready: impl Fn(&str) -> bool) -> String {
    let mut rows = String::new();
    for _ in 0..100 {
        // htmx may swap the element between finding it and reading it: look again.
        if let Ok(el) = c.find(Locator::Id(id)).await
            && let Ok(text) = el.text().await
        {
            rows = text;
        }
        if ready(&rows) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    rows
}

/// The app on a free port: (port, server task).
async fn serve(app: &TestApp) -> (u16, tokio::task::JoinHandle<anyhow::Result<()>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    (port, internals::spawn_server(app.state.clone(), listener))
}

/// Opens `url`, fills the sign-in form and waits for `expect` on the next page.
async fn sign_in(c: &Client, url: &str, email: &str, expect: &str) {
    c.goto(url).await.unwrap();
    // Generous: on a loaded 2-core machine a cold page can take a while.
    let field = c
        .wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Id("email"))
        .await
        .unwrap();
    field.send_keys(email).await.unwrap();
    c.find(Locator::Id("password"))
        .await
        .unwrap()
        .send_keys(PASSWORD)
        .await
        .unwrap();
    c.find(Locator::Css("main form button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for_text(c, expect).await;
}

#[sqlx::test(migrations = false)]
async fn operator_logs_in_creates_a_school_and_finds_it(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.create_superadmin("ops@platform.test").await;
    app.create_school("existing").await;
    let (port, server) = serve(&app).await;

    let driver = start_driver().await;
    let c = browser(&driver).await;
    let base = format!("http://localhost:{port}");
    // Asking for a page first: redirected to sign in.
    sign_in(
        &c,
        &format!("{base}/schools"),
        "ops@platform.test",
        "New school",
    )
    .await;
    save_screenshot("console-schools", &c.screenshot().await.unwrap());

    c.find(Locator::LinkText("New school"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let name = c
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Id("name"))
        .await
        .unwrap();
    name.send_keys("Marigold International School")
        .await
        .unwrap();
    c.find(Locator::Id("code"))
        .await
        .unwrap()
        .send_keys("marigold")
        .await
        .unwrap();
    c.find(Locator::Css("main form button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for_text(&c, "marigold.localhost").await;
    save_screenshot("console-school-detail", &c.screenshot().await.unwrap());

    // Back to the list: search as you type narrows it to the new school.
    c.find(Locator::LinkText("Schools"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let search = c
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Id("search"))
        .await
        .unwrap();
    wait_for_text(&c, "Existing School").await;
    search.send_keys("mari").await.unwrap();
    let rows = wait_for_rows(&c, "school-rows", |rows| {
        rows.contains("Marigold International School") && !rows.contains("Existing School")
    })
    .await;
    assert!(rows.contains("Marigold International School"), "{rows}");
    assert!(!rows.contains("Existing School"), "{rows}");
    save_screenshot("console-search", &c.screenshot().await.unwrap());

    c.close().await.unwrap();
    server.abort();
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'marigold')")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(exists);
}

#[sqlx::test(migrations = false)]
async fn school_admin_admits_a_student_and_finds_them(pool: PgPool) {
    let app = TestApp::new(pool).await;
    small_school_this_year(&app, "maple", "A, B").await;
    let (port, server) = serve(&app).await;

    let driver = start_driver().await;
    let c = browser(&driver).await;
    let base = format!("http://maple.localhost:{port}");
    sign_in(
        &c,
        &format!("{base}/login"),
        "admin@maple.test",
        "Pupils on roll",
    )
    .await;

    c.goto(&format!("{base}/students/new")).await.unwrap();
    let first = c
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Id("first_name"))
        .await
        .unwrap();
    first.send_keys("Oluwaseun").await.unwrap();
    c.find(Locator::Id("last_name"))
        .await
        .unwrap()
        .send_keys("Adebayo-Martins")
        .await
        .unwrap();
    c.find(Locator::Css("#sex option[value=female]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.find(Locator::Css("#class_id option:nth-child(3)"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.find(Locator::Id("guardian_name"))
        .await
        .unwrap()
        .send_keys("Bolanle Adebayo-Martins")
        .await
        .unwrap();
    c.find(Locator::Id("guardian_relationship"))
        .await
        .unwrap()
        .send_keys("Mother")
        .await
        .unwrap();
    c.find(Locator::Id("guardian_phone"))
        .await
        .unwrap()
        .send_keys("0802 555 0199")
        .await
        .unwrap();
    c.find(Locator::Css("main form button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for_text(&c, "admitted with number").await;
    wait_for_text(&c, "+2348025550199").await;
    wait_for_text(&c, "JSS 1B").await;
    save_screenshot("school-student-profile", &c.screenshot().await.unwrap());

    // Find her by typing part of her name in the list's search box.
    c.goto(&format!("{base}/students")).await.unwrap();
    let search = c
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Id("search"))
        .await
        .unwrap();
    search.send_keys("seun").await.unwrap();
    let rows = wait_for_rows(&c, "student-rows", |rows| rows.contains("Adebayo-Martins")).await;
    assert!(rows.contains("Adebayo-Martins, Oluwaseun"), "{rows}");
    assert!(rows.contains("JSS 1B"), "{rows}");
    save_screenshot("school-student-search", &c.screenshot().await.unwrap());
    c.close().await.unwrap();
    server.abort();
}

/// The marks grid: a teacher types two scores with the keyboard, sees the total and grade
/// follow, and finds them saved after a reload.
#[sqlx::test(migrations = false)]
async fn teacher_fills_the_mark_grid_with_the_keyboard(pool: PgPool) {
    use fantoccini::key::Key;
    let app = TestApp::new(pool).await;
    let f = class_with_exams(&app, "alpha", &["Ada", "Bola", "Chi"]).await;
    let teacher = app
        .create_staff("alpha", "teacher@alpha.test", "Teacher")
        .await;
    assign_teacher(&app, "alpha", f.class_id, "Mathematics", teacher).await;
    let exam = f.exams["Mathematics"];
    let (port, server) = serve(&app).await;

    let driver = start_driver().await;
    let c = browser(&driver).await;
    let base = format!("http://alpha.localhost:{port}");
    sign_in(
        &c,
        &format!("{base}/login"),
        "teacher@alpha.test",
        "Sign out",
    )
    .await;
    c.goto(&format!("{base}/exams/{exam}/marks")).await.unwrap();
    let first = c
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("tr[data-registration] input"))
        .await
        .unwrap();
    first.click().await.unwrap();
    first.send_keys("15").await.unwrap();
    let tab = String::from(char::from(Key::Tab));
    first.send_keys(&tab).await.unwrap();
    // Tab moved to CA2 of the same pupil.
    let focused = c
        .execute(
            "return document.activeElement.getAttribute('aria-label')",
            vec![],
        )
        .await
        .unwrap();
    assert!(
        focused.as_str().unwrap_or_default().starts_with("CA2"),
        "{focused}"
    );
    let active = c.active_element().await.unwrap();
    active.send_keys("17.5").await.unwrap();
    let row = c.find(Locator::Css("tr[data-registration]")).await.unwrap();
    let total = row.find(Locator::Css(".total")).await.unwrap();
    assert_eq!(total.text().await.unwrap(), "32.5");
    assert_eq!(
        row.find(Locator::Css(".grade"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "–",
        "no grade while the Exam is still empty"
    );
    // Enter goes down to the next pupil; leaving the row saves it.
    let enter = String::from(char::from(Key::Enter));
    active.send_keys(&enter).await.unwrap();
    let status = row.find(Locator::Css("td.status")).await.unwrap();
    let mut text = String::new();
    for _ in 0..100 {
        text = status.text().await.unwrap();
        if text.starts_with("Saved") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(text.starts_with("Saved"), "row status: {text:?}");
    save_screenshot("marks-grid", &c.screenshot().await.unwrap());
    c.set_window_size(390, 844).await.unwrap();
    save_screenshot("marks-grid-phone", &c.screenshot().await.unwrap());
    c.set_window_size(1280, 900).await.unwrap();

    c.refresh().await.unwrap();
    let first = c
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("tr[data-registration] input"))
        .await
        .unwrap();
    assert_eq!(first.prop("value").await.unwrap().as_deref(), Some("15"));
    let row = c.find(Locator::Css("tr[data-registration]")).await.unwrap();
    assert_eq!(
        row.find(Locator::Css(".total"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "32.5"
    );
    c.close().await.unwrap();
    server.abort();
}

/// Waits until the row's status starts with `prefix`; returns the status text.
async fn row_status(c: &Client, registration: i64, prefix: &str) -> String {
    let mut text = String::new();
    for _ in 0..100 {
        text = c
            .find(Locator::Css(&format!("#row-{registration} td.status")))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if text.starts_with(prefix) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    text
}

async fn cell_value(c: &Client, registration: i64, component: &str) -> String {
    c.find(Locator::Css(&format!(
        "#row-{registration} input[data-name='{component}']"
    )))
    .await
    .unwrap()
    .prop("value")
    .await
    .unwrap()
    .unwrap_or_default()
}

/// Two people on one mark sheet: a save based on what a stale tab showed is refused and
/// shows the newer value, nothing is undone; a column pasted from a spreadsheet fills
/// downward and saves; after signing in again in another tab, the grid saves what was typed.
#[sqlx::test(migrations = false)]
async fn the_grid_never_undoes_another_save_and_takes_a_pasted_column(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let f = class_with_exams(&app, "alpha", &["Ada", "Bola", "Chi"]).await;
    let exam = f.exams["Mathematics"];
    let (port, server) = serve(&app).await;
    let driver = start_driver().await;
    let c = browser(&driver).await;
    let base = format!("http://alpha.localhost:{port}");
    sign_in(&c, &format!("{base}/login"), "admin@alpha.test", "Sign out").await;
    c.goto(&format!("{base}/exams/{exam}/marks")).await.unwrap();
    wait_for_text(&c, "All changes saved.").await;
    let (ada, bola, chi) = (f.pupils["Ada"], f.pupils["Bola"], f.pupils["Chi"]);

    // Someone else saves Ada's CA1 after this page was loaded.
    let res = save_marks(
        &f.admin,
        exam,
        json!([{"registration": ada, "scores": {"CA1": 12}}]),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK);
    let ca1 = c
        .find(Locator::Css(&format!("#row-{ada} input[data-name='CA1']")))
        .await
        .unwrap();
    ca1.send_keys("15").await.unwrap();
    c.find(Locator::Css(&format!("#row-{bola} input[data-name='CA1']")))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let status = row_status(&c, ada, "Not saved").await;
    assert!(status.contains("CA1 is now 12"), "{status}");
    assert_eq!(cell_value(&c, ada, "CA1").await, "12");
    save_screenshot("marks-grid-stale", &c.screenshot().await.unwrap());
    let sheet = f
        .admin
        .get(&format!("/api/v1/school/exams/{exam}/marks/"))
        .await
        .json();
    assert_eq!(sheet["rows"][0]["scores"]["CA1"], 12.0, "{sheet}");

    // A column of three scores pasted into Ada's CA2 fills Ada, Bola and Chi.
    c.execute(
        "const input = document.querySelector(arguments[0]);
         const data = new DataTransfer();
         data.setData('text', '11\\r\\n12.5\\r\\n13\\r\\n');
         input.dispatchEvent(new ClipboardEvent('paste', {clipboardData: data, bubbles: true, cancelable: true}));",
        vec![json!(format!("#row-{ada} input[data-name='CA2']"))],
    )
    .await
    .unwrap();
    for (pupil, value) in [(ada, "11"), (bola, "12.5"), (chi, "13")] {
        assert_eq!(cell_value(&c, pupil, "CA2").await, value);
    }
    for pupil in [bola, chi] {
        let status = row_status(&c, pupil, "Saved").await;
        assert!(status.starts_with("Saved"), "{status}");
    }
    // Ada's row saves its CA2 now that it was shown the newer CA1 (kept at 12).
    c.find(Locator::Css("[data-save-unsaved]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let status = row_status(&c, ada, "Saved").await;
    assert!(status.starts_with("Saved"), "{status}");
    let sheet = f
        .admin
        .get(&format!("/api/v1/school/exams/{exam}/marks/"))
        .await
        .json();
    let scores: Vec<(Value, Value)> = sheet["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["scores"]["CA1"].clone(), r["scores"]["CA2"].clone()))
        .collect();
    assert_eq!(
        scores,
        [
            (json!(12.0), json!(11.0)),
            (Value::Null, json!(12.5)),
            (Value::Null, json!(13.0))
        ]
    );

    // Signed out and in again in another tab: this page's token is stale, yet the next
    // save picks up the new session's token and goes through.
    let grid = c.window().await.unwrap();
    let other = c.new_window(true).await.unwrap();
    c.switch_to_window(other.handle).await.unwrap();
    c.goto(&format!("{base}/")).await.unwrap();
    c.execute(
        "const f = document.querySelector('form[action=\"/logout\"]'); f.submit();",
        vec![],
    )
    .await
    .unwrap();
    wait_for_text(&c, "Sign in").await;
    sign_in(&c, &format!("{base}/login"), "admin@alpha.test", "Sign out").await;
    c.close_window().await.unwrap();
    c.switch_to_window(grid).await.unwrap();
    let exam_cell = c
        .find(Locator::Css(&format!("#row-{chi} input[data-name='Exam']")))
        .await
        .unwrap();
    exam_cell.send_keys("44").await.unwrap();
    c.find(Locator::Css(&format!("#row-{ada} input[data-name='Exam']")))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let status = row_status(&c, chi, "Saved").await;
    assert!(status.starts_with("Saved"), "{status}");
    let sheet = f
        .admin
        .get(&format!("/api/v1/school/exams/{exam}/marks/"))
        .await
        .json();
    assert_eq!(sheet["rows"][2]["scores"]["Exam"], 44.0, "{sheet}");
    c.close().await.unwrap();
    server.abort();
}

/// The head of a school walks from the exam session to a class's results, a report card,
/// the class's comments, and prints the class's report cards in the background.
#[sqlx::test(migrations = false)]
async fn results_report_cards_and_batch_printing_in_the_browser(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let f = class_with_exams(&app, "alpha", &CLASS).await;
    enter_hand_computed_marks(&f).await;
    let _workers = app.start_workers();
    let (port, server) = serve(&app).await;
    let driver = start_driver().await;
    let c = browser(&driver).await;
    let base = format!("http://alpha.localhost:{port}");
    sign_in(&c, &format!("{base}/login"), "admin@alpha.test", "Sign out").await;

    c.goto(&format!("{base}/exams/sessions/{}", f.exam_session))
        .await
        .unwrap();
    wait_for_text(&c, "Results &amp; report cards").await;
    save_screenshot("exam-session", &c.screenshot().await.unwrap());

    // Before closing, the head sees what is outstanding, and the button's confirmation
    // names it.
    let outstanding = c
        .find(Locator::Css("#outstanding"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        outstanding.contains("1 mark is outstanding: JSS 1A English Language (1 pupil)"),
        "{outstanding}"
    );
    assert!(outstanding.contains("Test Efe"), "{outstanding}");
    c.find(Locator::XPath(
        "//button[contains(., 'Close mark entry (1 outstanding)')]",
    ))
    .await
    .unwrap()
    .click()
    .await
    .unwrap();
    let question = c.get_alert_text().await.unwrap();
    assert!(
        question.contains("JSS 1A English Language (1 pupil)"),
        "{question}"
    );
    c.accept_alert().await.unwrap();
    wait_for_text(&c, "is now closed").await;

    c.goto(&format!(
        "{base}/exams/sessions/{}/classes/{}/results",
        f.exam_session, f.class_id
    ))
    .await
    .unwrap();
    wait_for_text(&c, "Class average").await;
    let sheet = c
        .find(Locator::Css("table.broadsheet"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(sheet.contains("217.5"), "{sheet}");
    save_screenshot("results", &c.screenshot().await.unwrap());

    // Print the class: the panel polls until the PDF is ready.
    c.find(Locator::Css("#batch-panel button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let panel = wait_for_rows(&c, "batch-panel", |t| t.contains("Download PDF")).await;
    assert!(panel.contains("Ready: 6 report cards"), "{panel}");
    save_screenshot("batch-done", &c.screenshot().await.unwrap());

    // An htmx action that fails shows its reason where the user looks (htmx 2 swaps no
    // 4xx by default). The panel offers Retry on a failed batch; by the time the head
    // clicks, the batch is done again (another tab retried it), so Retry is refused (409).
    let mut tx = app.school_tx("alpha").await;
    sqlx::query("UPDATE report_batches SET status = 'failed', error = 'printer on fire'")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    c.refresh().await.unwrap();
    wait_for_rows(&c, "batch-panel", |t| t.contains("Retry")).await;
    let mut tx = app.school_tx("alpha").await;
    sqlx::query("UPDATE report_batches SET status = 'done', error = NULL")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    c.find(Locator::XPath(
        "//div[@id='batch-panel']//button[text()='Retry']",
    ))
    .await
    .unwrap()
    .click()
    .await
    .unwrap();
    let shown = wait_for_rows(&c, "messages", |t| t.contains("This batch is done")).await;
    assert!(shown.contains("request a new one"), "{shown}");
    save_screenshot("batch-retry-refused", &c.screenshot().await.unwrap());

    c.goto(&format!(
        "{base}/exams/sessions/{}/report-cards/{}",
        f.exam_session, f.pupils["Ada"]
    ))
    .await
    .unwrap();
    wait_for_text(&c, "Download PDF").await;
    let card = c
        .find(Locator::Css("article.report-card"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(card.contains("Ada Test"), "{card}");
    assert!(card.contains("2nd of 6"), "{card}");
    save_screenshot("report-card", &c.screenshot().await.unwrap());
    // Printed from the browser, the card fits one A4 page like the PDF.
    let printed = c
        .print(
            fantoccini::wd::PrintConfigurationBuilder::default()
                .build()
                .unwrap(),
        )
        .await
        .unwrap();
    let (pages, _) = pdf_text(&printed);
    assert_eq!(pages, 1, "the HTML card printed on {pages} pages");

    c.goto(&format!(
        "{base}/exams/sessions/{}/classes/{}/comments",
        f.exam_session, f.class_id
    ))
    .await
    .unwrap();
    let ct = c
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(&format!(
            "textarea[name=ct_{}]",
            f.pupils["Ada"]
        )))
        .await
        .unwrap();
    ct.send_keys("A careful, cheerful pupil.").await.unwrap();
    c.find(Locator::Css("main form button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for_text(&c, "Changes saved for 1 pupil").await;
    save_screenshot("comments", &c.screenshot().await.unwrap());

    // The sign-in expires while a comment is being written: sending the form leads to the
    // login page; after signing in, the comments page restores what was typed.
    let bola_ct = format!("textarea[name=ct_{}]", f.pupils["Bola"]);
    let comments_url = format!(
        "{base}/exams/sessions/{}/classes/{}/comments",
        f.exam_session, f.class_id
    );
    c.find(Locator::Css(&bola_ct))
        .await
        .unwrap()
        .send_keys("Reads widely.\nShould speak up more in class.")
        .await
        .unwrap();
    c.delete_all_cookies().await.unwrap();
    c.find(Locator::Css("main form button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    sign_in(&c, &format!("{base}/login"), "admin@alpha.test", "Sign out").await;
    c.goto(&comments_url).await.unwrap();
    wait_for_text(&c, "Restored 1 unsaved change").await;
    let restored = c
        .find(Locator::Css(&bola_ct))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap()
        .unwrap_or_default();
    assert_eq!(restored, "Reads widely.\nShould speak up more in class.");
    save_screenshot("comments-restored", &c.screenshot().await.unwrap());
    c.find(Locator::Css("main form button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for_text(&c, "Changes saved for 1 pupil").await;
    let html = c.source().await.unwrap();
    assert!(
        !html.contains("Restored 1 unsaved"),
        "the draft is gone once saved"
    );
    c.set_window_size(390, 844).await.unwrap();
    save_screenshot("comments-phone", &c.screenshot().await.unwrap());
    c.set_window_size(1280, 900).await.unwrap();

    c.goto(&format!("{base}/settings/assessment"))
        .await
        .unwrap();
    wait_for_text(&c, "Grading scale").await;
    save_screenshot("assessment-settings", &c.screenshot().await.unwrap());
    c.close().await.unwrap();
    server.abort();
}

/// A TCP proxy in front of the app whose connection can be cut and restored, as a phone
/// loses its signal: while cut, new connections are closed at once and open ones dropped.
struct FlakyLink {
    port: u16,
    up: std::sync::Arc<std::sync::atomic::AtomicBool>,
    cut: tokio::sync::watch::Sender<u64>,
    task: tokio::task::JoinHandle<()>,
}

impl FlakyLink {
    async fn to(target: u16) -> Self {
        use std::sync::{Arc, atomic::AtomicBool};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let up = Arc::new(AtomicBool::new(true));
        let (cut, _) = tokio::sync::watch::channel(0u64);
        let (flag, cuts) = (up.clone(), cut.clone());
        let task = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !flag.load(std::sync::atomic::Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let mut cut_rx = cuts.subscribe();
                tokio::spawn(async move {
                    let Ok(mut outbound) =
                        tokio::net::TcpStream::connect(("127.0.0.1", target)).await
                    else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = cut_rx.changed() => {}
                    }
                });
            }
        });
        Self {
            port,
            up,
            cut,
            task,
        }
    }

    fn cut(&self) {
        self.up.store(false, std::sync::atomic::Ordering::SeqCst);
        self.cut.send_modify(|n| *n += 1);
    }

    fn restore(&self) {
        self.up.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Drop for FlakyLink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The status text of a register row once it starts with `prefix` (or its last after 20 s).
async fn register_row_status(c: &Client, registration: i64, prefix: &str) -> String {
    let mut text = String::new();
    for _ in 0..200 {
        if let Ok(el) = c
            .find(Locator::Css(&format!("#reg-{registration} .status")))
            .await
            && let Ok(t) = el.text().await
        {
            text = t;
        }
        if text.starts_with(prefix) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    text
}

/// A class teacher on a phone-sized screen takes the register with taps only: everyone
/// present, then two absent while the connection is down. The marks wait, go when the
/// connection is back, and are all there after a reload.
#[sqlx::test(migrations = false)]
async fn a_class_teacher_takes_the_register_on_a_phone_through_a_dropped_connection(pool: PgPool) {
    use crate::attendance::{admit, class_teacher_of, row_of, school_today, url, year};
    let app = TestApp::new(pool).await;
    let today = school_today();
    let y = year(&app, "alpha", today).await;
    let _teacher = class_teacher_of(&app, &y, y.jss1a).await;
    for name in ["Ada", "Bola", "Chika"] {
        admit(&y.admin, name, y.jss1a, today - chrono::Duration::days(30)).await;
    }
    let register = y.admin.get(&url(y.jss1a, today)).await.json();
    let reg = |name: &str| row_of(&register, name)["registration"].as_i64().unwrap();
    let (ada, bola, chika) = (reg("Ada"), reg("Bola"), reg("Chika"));
    let (port, server) = serve(&app).await;
    let link = FlakyLink::to(port).await;

    let driver = start_driver().await;
    let c = browser(&driver).await;
    c.set_window_size(390, 844).await.unwrap();
    let base = format!("http://alpha.localhost:{}", link.port);
    sign_in(
        &c,
        &format!("{base}/login"),
        "teacher@alpha.test",
        "Sign out",
    )
    .await;
    c.goto(&format!("{base}/attendance")).await.unwrap();
    let mark_all = c
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("[data-mark-all]"))
        .await
        .unwrap();
    assert_eq!(
        register_row_status(&c, ada, "Not marked").await,
        "Not marked"
    );
    mark_all.click().await.unwrap();
    for r in [ada, bola, chika] {
        let status = register_row_status(&c, r, "Saved").await;
        assert!(status.starts_with("Saved"), "row {r}: {status:?}");
    }

    // The signal drops; two taps on A.
    link.cut();
    for r in [bola, chika] {
        c.find(Locator::Css(&format!("#reg-{r} label[title=Absent] span")))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
    }
    let status = register_row_status(&c, bola, "Not saved").await;
    assert!(status.contains("no connection"), "{status:?}");
    save_screenshot("register-offline-phone", &c.screenshot().await.unwrap());
    // Nothing reached the server meanwhile.
    let now = y.admin.get(&url(y.jss1a, today)).await.json();
    assert_eq!(row_of(&now, "Bola")["code"], "P");

    link.restore();
    for r in [bola, chika] {
        let status = register_row_status(&c, r, "Saved").await;
        assert!(
            status.starts_with("Saved"),
            "row {r} after the connection came back: {status:?}"
        );
    }
    c.refresh().await.unwrap();
    c.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("[data-mark-all]"))
        .await
        .unwrap();
    for (r, code) in [(ada, "P"), (bola, "A"), (chika, "A")] {
        let checked = c
            .find(Locator::Css(&format!("#reg-{r} input[type=radio]:checked")))
            .await
            .unwrap()
            .prop("value")
            .await
            .unwrap();
        assert_eq!(checked.as_deref(), Some(code), "row {r}");
    }
    save_screenshot("register-phone", &c.screenshot().await.unwrap());
    let saved = y.admin.get(&url(y.jss1a, today)).await.json();
    assert_eq!(row_of(&saved, "Bola")["code"], "A");
    assert_eq!(row_of(&saved, "Chika")["code"], "A");
    assert_eq!(row_of(&saved, "Ada")["code"], "P");
    c.close().await.unwrap();
    server.abort();
}

/// The head of a two-level school walks the end-of-year wizard in Chromium: confirms the
/// next classes, makes the new session, decides for the pupil on the margin, commits (after
/// the confirmation dialog), and finds the pupils in their new classes.
#[sqlx::test(migrations = false)]
async fn the_end_of_year_wizard_in_the_browser(pool: PgPool) {
    use crate::promotions::two_level_school;
    let app = TestApp::new(pool).await;
    let s = two_level_school(&app, "alpha").await;
    let (port, server) = serve(&app).await;
    let driver = start_driver().await;
    let c = browser(&driver).await;
    c.set_window_size(390, 900).await.unwrap();
    let base = format!("http://alpha.localhost:{port}");
    sign_in(&c, &format!("{base}/login"), "admin@alpha.test", "Sign out").await;
    c.goto(&format!("{base}/promotions")).await.unwrap();
    c.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(
            "form[action='/promotions/next-classes/accept'] button",
        ))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    // Wait for the page that comes back (its message), or the new-session button found
    // could belong to the page being left.
    wait_for_text(&c, "Next classes confirmed for").await;
    let create = c
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(
            "form[action='/promotions/new-session'] button[type=submit]",
        ))
        .await
        .unwrap();
    // Date inputs take their value as the page's own script would set it (typing into a
    // date field depends on the browser's locale).
    c.execute(
        "const set = (id, v) => { document.getElementById(id).value = v; };
         set('name', '2026/2027'); set('starts_on', '2026-09-07'); set('ends_on', '2027-07-23');
         set('t1_starts', '2026-09-07'); set('t1_ends', '2026-12-11');
         set('t2_starts', '2027-01-04'); set('t2_ends', '2027-04-01');
         set('t3_starts', '2027-04-19'); set('t3_ends', '2027-07-23');",
        vec![],
    )
    .await
    .unwrap();
    create.click().await.unwrap();
    wait_for_text(&c, "Preview: 2025/2026 → 2026/2027").await;
    save_screenshot("promotions-preview-phone", &c.screenshot().await.unwrap());

    // Chi sits on the margin: flagged, undecided, so the commit waits for a decision.
    let chi = s.pupils["Chi"];
    let form =
        format!("form[action='/promotions/decide']:has(input[name=student_id][value='{chi}'])");
    c.find(Locator::Css(&format!("{form} select[name=outcome]")))
        .await
        .unwrap()
        .select_by_value("promote")
        .await
        .unwrap();
    c.find(Locator::Css(&format!("{form} input[name=reason]")))
        .await
        .unwrap()
        .send_keys("Passed the resit")
        .await
        .unwrap();
    c.find(Locator::Css(&format!("{form} button")))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for_text(&c, "Passed the resit").await;
    let commit = c
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(
            "form[action='/promotions/commit'] button:not([disabled])",
        ))
        .await
        .unwrap();
    commit.click().await.unwrap();
    // The confirmation names the counts; accepting it commits.
    let question = c.get_alert_text().await.unwrap();
    assert!(
        question.starts_with("Move 6 pupils into 2026/2027"),
        "{question}"
    );
    c.accept_alert().await.unwrap();
    wait_for_text(&c, "Committed").await;
    save_screenshot("promotions-committed-phone", &c.screenshot().await.unwrap());

    // Ada (promoted) and Chi (promoted on review) are in JSS 2A of the new session.
    let to = s.admin.get("/api/v1/school/sessions/").await.json()["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == "2026/2027")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let mut tx = app.school_tx("alpha").await;
    let placed: Vec<(i64, String)> = sqlx::query_as(
        "SELECT r.student_id, c.name FROM registrations r
           JOIN academic_classes ac ON ac.id = r.academic_class_id
           JOIN classes c ON c.id = ac.class_id
          WHERE r.session_id = $1 AND r.is_current ORDER BY r.student_id",
    )
    .bind(to)
    .fetch_all(&mut *tx)
    .await
    .unwrap();
    let class_of = |student: i64| {
        placed
            .iter()
            .find(|(id, _)| *id == student)
            .map(|(_, c)| c.clone())
    };
    assert_eq!(
        class_of(s.pupils["Ada"]).as_deref(),
        Some("JSS 2A"),
        "{placed:?}"
    );
    assert_eq!(class_of(chi).as_deref(), Some("JSS 2A"), "{placed:?}");
    assert_eq!(
        class_of(s.pupils["Bola"]).as_deref(),
        Some("JSS 1A"),
        "{placed:?}"
    );
    assert_eq!(class_of(s.pupils["Efe"]), None, "a graduate has no class");
    c.close().await.unwrap();
    server.abort();
}
