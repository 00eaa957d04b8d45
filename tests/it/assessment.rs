//! Assessment: marks entry rules, the figures of a hand-computed class, cumulative third
//! term, report card PDFs and batch jobs.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::{TestApp, assert_error_shape, host};
use crate::records::{class_id, school};

/// A class of the school with registered pupils, its exam session (status `open`) for a
/// term and one exam per subject.
pub(crate) struct Fixture {
    pub token: String,
    pub session_id: i64,
    pub class_id: i64,
    pub exam_session: i64,
    /// subject name → exam id
    pub exams: std::collections::HashMap<String, i64>,
    /// pupil first name → registration id
    pub pupils: std::collections::HashMap<String, i64>,
}

pub(crate) async fn fixture(app: &TestApp, code: &str, pupils: &[&str]) -> Fixture {
    let token = school(app, code).await;
    let (session_id, class) = class_id(app, code, &token, "JSS 1A").await;
    let mut tx = app.school_tx(code).await;
    let mut ids = std::collections::HashMap::new();
    for (i, name) in pupils.iter().enumerate() {
        let student: i64 = sqlx::query_scalar(
            "INSERT INTO students (admission_no, first_name, last_name, sex, date_of_birth, admission_date, created_at, updated_at)
             VALUES ($1, $2, 'Test', $3, '2013-05-04', '2025-09-08', now(), now()) RETURNING id",
        )
        .bind(format!("ADM/{code}/{i:03}"))
        .bind(name)
        .bind(if i % 2 == 0 { "female" } else { "male" })
        .fetch_one(&mut *tx)
        .await
        .unwrap();
        let reg: i64 = sqlx::query_scalar(
            "INSERT INTO registrations (student_id, session_id, academic_class_id, registered_on, created_at)
             VALUES ($1, $2, $3, '2025-09-08', now()) RETURNING id",
        )
        .bind(student)
        .bind(session_id)
        .bind(class)
        .fetch_one(&mut *tx)
        .await
        .unwrap();
        ids.insert((*name).to_owned(), reg);
    }
    tx.commit().await.unwrap();
    let (exam_session, exams) = open_exam_session(app, code, &token, session_id, 1, class).await;
    Fixture {
        token,
        session_id,
        class_id: class,
        exam_session,
        exams,
        pupils: ids,
    }
}

/// Creates the exam session of term `ordinal`, opens it and sets up the class's exams.
pub(crate) async fn open_exam_session(
    app: &TestApp,
    code: &str,
    token: &str,
    session_id: i64,
    ordinal: i64,
    class: i64,
) -> (i64, std::collections::HashMap<String, i64>) {
    let h = host(code);
    let terms = app
        .call(
            Method::GET,
            &h,
            &format!("/api/v1/school/sessions/{session_id}/terms/"),
            Some(token),
            None,
        )
        .await
        .json();
    let term = terms
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["ordinal"] == ordinal)
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let res = app
        .call(
            Method::POST,
            &h,
            "/api/v1/school/exam-sessions/",
            Some(token),
            Some(json!({"term_id": term, "status": "open"})),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    let es = res.json()["id"].as_i64().unwrap();
    let res = app
        .call(
            Method::POST,
            &h,
            &format!("/api/v1/school/exam-sessions/{es}/exams/generate/?academic_class={class}"),
            Some(token),
            None,
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let list = app
        .call(
            Method::GET,
            &h,
            &format!("/api/v1/school/exam-sessions/{es}/exams/?academic_class={class}"),
            Some(token),
            None,
        )
        .await
        .json();
    let exams = list
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["subject_name"].as_str().unwrap().to_owned(),
                e["id"].as_i64().unwrap(),
            )
        })
        .collect();
    (es, exams)
}

pub(crate) async fn save_marks(
    app: &TestApp,
    code: &str,
    token: &str,
    exam: i64,
    rows: Value,
) -> crate::helpers::Response {
    app.call(
        Method::POST,
        &host(code),
        &format!("/api/v1/school/exams/{exam}/marks/"),
        Some(token),
        Some(rows),
    )
    .await
}

fn scores(ca1: f64, ca2: f64, exam: f64) -> Value {
    json!({"CA1": ca1, "CA2": ca2, "Exam": exam})
}

/// The hand-computed class: ties in a subject and overall, an absent pupil, a pupil in one
/// subject only, a pupil without marks and a half mark on a grade boundary (74.5 → B2).
pub(crate) async fn enter_fixture_marks(app: &TestApp, f: &Fixture) {
    let p = |n: &str| f.pupils[n];
    let rows = [
        (
            "English Language",
            json!([
                {"registration": p("Ada"), "scores": scores(15.0, 18.0, 50.0)},
                {"registration": p("Bola"), "scores": scores(20.0, 20.0, 43.0)},
                {"registration": p("Chi"), "scores": scores(10.0, 10.0, 40.0)},
                {"registration": p("Femi"), "scores": scores(20.0, 20.0, 35.0)},
            ]),
        ),
        (
            "Mathematics",
            json!([
                {"registration": p("Ada"), "scores": scores(10.0, 10.0, 40.0)},
                {"registration": p("Bola"), "scores": scores(15.0, 15.0, 45.0)},
                {"registration": p("Chi"), "scores": scores(18.0, 18.0, 55.0)},
                {"registration": p("Dayo"), "scores": scores(5.0, 5.0, 20.0)},
                {"registration": p("Femi"), "scores": scores(20.0, 20.0, 30.0)},
            ]),
        ),
        (
            "Basic Science",
            json!([
                {"registration": p("Ada"), "scores": scores(12.5, 14.0, 48.0)},
                {"registration": p("Bola"), "scores": scores(10.0, 10.0, 30.0)},
            ]),
        ),
    ];
    for (subject, body) in rows {
        let res = save_marks(app, "alpha", &f.token, f.exams[subject], body).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    }
}

pub(crate) const CLASS: [&str; 6] = ["Ada", "Bola", "Chi", "Dayo", "Efe", "Femi"];

fn pupil<'a>(results: &'a Value, f: &Fixture, name: &str) -> &'a Value {
    results["pupils"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["registration"] == f.pupils[name])
        .unwrap()
}

fn subject_of<'a>(results: &'a Value, f: &Fixture, pupil_name: &str, subject: &str) -> &'a Value {
    let exam = f.exams[subject];
    pupil(results, f, pupil_name)["subjects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["exam_id"] == exam)
        .unwrap()
}

async fn results(app: &TestApp, f: &Fixture) -> Value {
    let res = app
        .call(
            Method::GET,
            &host("alpha"),
            &format!(
                "/api/v1/school/exam-sessions/{}/results/?academic_class={}",
                f.exam_session, f.class_id
            ),
            Some(&f.token),
            None,
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    res.json()
}

#[sqlx::test(migrations = false)]
async fn results_match_the_hand_computed_class(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let f = fixture(&app, "alpha", &CLASS).await;
    enter_fixture_marks(&app, &f).await;
    let r = results(&app, &f).await;

    // Per subject: ties share a position (1, 1, 3); absent pupils are not counted.
    let english: Vec<(i64, f64)> = ["Ada", "Bola", "Femi", "Chi"]
        .iter()
        .map(|n| {
            let s = subject_of(&r, &f, n, "English Language");
            (
                s["position"].as_i64().unwrap(),
                s["total"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(english, [(1, 83.0), (1, 83.0), (3, 75.0), (4, 60.0)]);
    let stats = |subject: &str| {
        r["subjects"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["subject_name"] == subject)
            .unwrap()
            .clone()
    };
    let e = stats("English Language");
    assert_eq!(
        (&e["pupils"], &e["average"], &e["highest"], &e["lowest"]),
        (&json!(4), &json!(75.25), &json!(83.0), &json!(60.0))
    );
    let m = stats("Mathematics");
    assert_eq!(
        (&m["pupils"], &m["average"], &m["highest"], &m["lowest"]),
        (&json!(5), &json!(65.2), &json!(91.0), &json!(30.0))
    );
    let b = stats("Basic Science");
    assert_eq!(
        (&b["pupils"], &b["average"], &b["highest"], &b["lowest"]),
        (&json!(2), &json!(62.25), &json!(74.5), &json!(50.0))
    );
    // 74.5 falls between B2 (70) and A1 (75): B2, no gap for half marks.
    let ada_bs = subject_of(&r, &f, "Ada", "Basic Science");
    assert_eq!(ada_bs["total"], 74.5);
    assert_eq!(ada_bs["grade"], "B2");
    assert_eq!(ada_bs["remark"], "Very good");
    assert_eq!(subject_of(&r, &f, "Bola", "Basic Science")["grade"], "C6");
    assert_eq!(subject_of(&r, &f, "Chi", "Mathematics")["position"], 1);
    assert_eq!(subject_of(&r, &f, "Dayo", "Mathematics")["position"], 5);

    // Overall: ranked by average over subjects taken, competition ranking.
    let overall = |n: &str| {
        let p = pupil(&r, &f, n);
        (
            p["total"].as_f64().unwrap(),
            p["subjects_taken"].as_i64().unwrap(),
            p["average"].clone(),
            p["position"].clone(),
            p["grade"].clone(),
        )
    };
    assert_eq!(
        overall("Chi"),
        (151.0, 2, json!(75.5), json!(1), json!("A1"))
    );
    assert_eq!(
        overall("Ada"),
        (217.5, 3, json!(72.5), json!(2), json!("B2"))
    );
    assert_eq!(
        overall("Femi"),
        (145.0, 2, json!(72.5), json!(2), json!("B2"))
    );
    assert_eq!(
        overall("Bola"),
        (208.0, 3, json!(69.33), json!(4), json!("B3"))
    );
    assert_eq!(
        overall("Dayo"),
        (30.0, 1, json!(30.0), json!(5), json!("F9"))
    );
    assert_eq!(
        overall("Efe"),
        (0.0, 0, Value::Null, Value::Null, Value::Null)
    );
    assert_eq!(r["out_of"], 5);
    assert_eq!(r["class_average"], 63.97);

    // Ranked by total instead when the school says so.
    let res = app
        .call(
            Method::PATCH,
            &host("alpha"),
            "/api/v1/school/settings/assessment/",
            Some(&f.token),
            Some(json!({"report": {"rank_by": "total"}})),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let r = results(&app, &f).await;
    let positions: Vec<i64> = ["Ada", "Bola", "Chi", "Femi", "Dayo"]
        .iter()
        .map(|n| pupil(&r, &f, n)["position"].as_i64().unwrap())
        .collect();
    assert_eq!(positions, [1, 2, 3, 4, 5]);
}

#[sqlx::test(migrations = false)]
async fn third_term_results_carry_cumulative_figures(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let f = fixture(&app, "alpha", &["Ada", "Bola"]).await;
    let t = f.token.clone();
    let maths_t1 = f.exams["Mathematics"];
    let ada = f.pupils["Ada"];
    let bola = f.pupils["Bola"];
    let res = save_marks(
        &app,
        "alpha",
        &t,
        maths_t1,
        json!([{"registration": ada, "scores": scores(10.0, 10.0, 40.0)}]),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK);
    let (_, t2) = open_exam_session(&app, "alpha", &t, f.session_id, 2, f.class_id).await;
    let res = save_marks(
        &app,
        "alpha",
        &t,
        t2["Mathematics"],
        json!([
            {"registration": ada, "scores": scores(10.0, 10.0, 50.0)},
            {"registration": bola, "scores": scores(10.0, 10.0, 30.0)},
        ]),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK);
    let (es3, t3) = open_exam_session(&app, "alpha", &t, f.session_id, 3, f.class_id).await;
    let res = save_marks(
        &app,
        "alpha",
        &t,
        t3["Mathematics"],
        json!([
            {"registration": ada, "scores": scores(20.0, 20.0, 40.0)},
            {"registration": bola, "scores": scores(10.0, 10.0, 50.0)},
        ]),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK);
    let f3 = Fixture {
        exam_session: es3,
        exams: t3.clone(),
        token: t.clone(),
        pupils: f.pupils.clone(),
        ..f
    };
    // Average of the terms present: Ada (60, 70, 80) → 70; Bola (–, 50, 70) → 60.
    let r = results(&app, &f3).await;
    assert_eq!(r["cumulative_method"], "average");
    let ada_m = subject_of(&r, &f3, "Ada", "Mathematics");
    assert_eq!(ada_m["term_totals"], json!([60.0, 70.0, 80.0]));
    assert_eq!(ada_m["cumulative"], 70.0);
    let bola_m = subject_of(&r, &f3, "Bola", "Mathematics");
    assert_eq!(bola_m["term_totals"], json!([null, 50.0, 70.0]));
    assert_eq!(bola_m["cumulative"], 60.0);
    assert_eq!(pupil(&r, &f3, "Ada")["cumulative_position"], 1);
    assert_eq!(pupil(&r, &f3, "Bola")["cumulative_position"], 2);

    // Weighted 20/30/50: Ada 12 + 21 + 40 = 73; Bola (50×30 + 70×50) / 80 = 62.5.
    let res = app
        .call(
            Method::PATCH,
            &host("alpha"),
            "/api/v1/school/settings/assessment/",
            Some(&t),
            Some(json!({"report": {"cumulative_method": "weighted"}})),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let r = results(&app, &f3).await;
    assert_eq!(
        subject_of(&r, &f3, "Ada", "Mathematics")["cumulative"],
        73.0
    );
    assert_eq!(
        subject_of(&r, &f3, "Bola", "Mathematics")["cumulative"],
        62.5
    );
    assert_eq!(pupil(&r, &f3, "Bola")["cumulative_average"], 62.5);

    // Weights must add up to 100.
    let bad = app
        .call(
            Method::PATCH,
            &host("alpha"),
            "/api/v1/school/settings/assessment/",
            Some(&t),
            Some(json!({"report": {"first_term_weight": 50}})),
        )
        .await;
    assert!(assert_error_shape(&bad, 422)["errors"]["third_term_weight"].is_array());
}

#[sqlx::test(migrations = false)]
async fn a_bad_row_saves_nothing_and_names_the_row(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let f = fixture(&app, "alpha", &["Ada", "Bola"]).await;
    let exam = f.exams["Mathematics"];
    let res = save_marks(
        &app,
        "alpha",
        &f.token,
        exam,
        json!([
            {"registration": f.pupils["Ada"], "scores": scores(15.0, 18.0, 50.0)},
            {"registration": f.pupils["Bola"], "scores": {"CA1": 20.5, "CA2": 10.25, "Exam": -1, "Project": 5}},
            {"registration": 999_999, "scores": {"CA1": 1}},
        ]),
    )
    .await;
    let body = assert_error_shape(&res, 422);
    let errors = &body["errors"];
    assert!(
        errors["rows[1].scores.CA1"][0]
            .as_str()
            .unwrap()
            .contains("Row 2")
    );
    assert!(
        errors["rows[1].scores.CA1"][0]
            .as_str()
            .unwrap()
            .contains("0 to 20")
    );
    assert!(
        errors["rows[1].scores.CA2"].is_array(),
        "quarter marks refused"
    );
    assert!(errors["rows[1].scores.Exam"].is_array());
    assert!(errors["rows[1].scores.Project"].is_array());
    assert!(errors["rows[2].registration"].is_array());
    assert!(errors.get("rows[0].scores.CA1").is_none());
    // Nothing was saved, not even the good row.
    let sheet = app
        .call(
            Method::GET,
            &host("alpha"),
            &format!("/api/v1/school/exams/{exam}/marks/"),
            Some(&f.token),
            None,
        )
        .await
        .json();
    assert!(
        sheet["rows"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["total"].is_null())
    );

    // Half marks, clearing with null and a numeric string are accepted.
    let res = save_marks(
        &app,
        "alpha",
        &f.token,
        exam,
        json!([{"registration": f.pupils["Ada"], "scores": {"CA1": 12.5, "CA2": "7", "Exam": null}}]),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let sheet = app
        .call(
            Method::GET,
            &host("alpha"),
            &format!("/api/v1/school/exams/{exam}/marks/"),
            Some(&f.token),
            None,
        )
        .await
        .json();
    let ada = sheet["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["registration"] == f.pupils["Ada"])
        .unwrap();
    assert_eq!(
        ada["scores"],
        json!({"CA1": 12.5, "CA2": 7.0, "Exam": null})
    );
    assert_eq!(ada["total"], 19.5);
    assert_eq!(ada["grade"], "F9");
    // Every change is in the audit log.
    let audit = app
        .call(
            Method::GET,
            &host("alpha"),
            "/api/v1/school/audit/?entity=marks",
            Some(&f.token),
            None,
        )
        .await
        .json();
    assert_eq!(audit["count"], 1);
}

#[sqlx::test(migrations = false)]
async fn closed_sessions_and_other_teachers_cannot_change_marks(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let f = fixture(&app, "alpha", &["Ada"]).await;
    let h = host("alpha");
    let maths = f.exams["Mathematics"];
    let english = f.exams["English Language"];
    let teacher = app
        .create_staff("alpha", "teacher@alpha.test", "Teacher")
        .await;
    app.create_staff("alpha", "head@alpha.test", "Head").await;
    let mut tx = app.school_tx("alpha").await;
    sqlx::query(
        "UPDATE academic_class_subjects SET teacher_id = $1
          WHERE academic_class_id = $2 AND subject_id = (SELECT id FROM subjects WHERE name = 'Mathematics')",
    )
    .bind(teacher)
    .bind(f.class_id)
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let tt = app.school_token("alpha", "teacher@alpha.test").await;
    let row = json!([{"registration": f.pupils["Ada"], "scores": scores(10.0, 10.0, 40.0)}]);

    // The subject teacher may; a teacher of another subject may not.
    let res = save_marks(&app, "alpha", &tt, maths, row.clone()).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let res = save_marks(&app, "alpha", &tt, english, row.clone()).await;
    let body = assert_error_shape(&res, 403);
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("English Language")
    );
    // The head (no marks permission at all) may not either; the admin (change_marks) may.
    let head = app.school_token("alpha", "head@alpha.test").await;
    assert_error_shape(
        &save_marks(&app, "alpha", &head, english, row.clone()).await,
        403,
    );
    let res = save_marks(&app, "alpha", &f.token, english, row.clone()).await;
    assert_eq!(res.status, StatusCode::OK);

    // Closed: every change refused with a clear message, marks kept.
    let res = app
        .call(
            Method::PATCH,
            &h,
            &format!("/api/v1/school/exam-sessions/{}/", f.exam_session),
            Some(&head),
            Some(json!({"status": "closed"})),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let res = save_marks(
        &app,
        "alpha",
        &tt,
        maths,
        json!([{"registration": f.pupils["Ada"], "scores": {"Exam": 60}}]),
    )
    .await;
    let body = assert_error_shape(&res, 409);
    assert!(body["detail"].as_str().unwrap().contains("closed"));
    let sheet = app
        .call(
            Method::GET,
            &h,
            &format!("/api/v1/school/exams/{maths}/marks/"),
            Some(&tt),
            None,
        )
        .await
        .json();
    assert_eq!(sheet["rows"][0]["total"], 60.0);
    assert_eq!(sheet["can_edit"], false);
}

#[sqlx::test(migrations = false)]
async fn assessment_settings_validate_components_and_grades(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let t = school(&app, "alpha").await;
    let h = host("alpha");
    let s = app
        .call(
            Method::GET,
            &h,
            "/api/v1/school/settings/assessment/",
            Some(&t),
            None,
        )
        .await
        .json();
    assert_eq!(s["components"].as_array().unwrap().len(), 3);
    assert_eq!(s["grading"]["bands"][0]["grade"], "A1");
    assert_eq!(s["grading"]["bands"].as_array().unwrap().len(), 9);
    let bad = app
        .call(
            Method::PATCH,
            &h,
            "/api/v1/school/settings/assessment/",
            Some(&t),
            Some(json!({"components": [{"name": "CA", "max_score": 30}, {"name": "Exam", "max_score": 60}],
                        "grading": [{"grade": "P", "min_score": 50}]})),
        )
        .await;
    let body = assert_error_shape(&bad, 422);
    assert!(
        body["errors"]["components"][0]
            .as_str()
            .unwrap()
            .contains("100")
    );
    let ok = app
        .call(
            Method::PATCH,
            &h,
            "/api/v1/school/settings/assessment/",
            Some(&t),
            Some(json!({"components": [{"name": "CA", "max_score": 30}, {"name": "Exam", "max_score": 70}],
                        "grading": [{"grade": "P", "min_score": 50, "remark": "Pass"}, {"grade": "F", "min_score": 0, "remark": "Fail"}]})),
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text());
    assert_eq!(ok.json()["components"][1]["max_score"], 70.0);
    let bad = app
        .call(
            Method::PATCH,
            &h,
            "/api/v1/school/settings/assessment/",
            Some(&t),
            Some(json!({"grading": [{"grade": "P", "min_score": 50}]})),
        )
        .await;
    assert!(assert_error_shape(&bad, 422)["errors"]["bands"].is_array());
}

/// Makes `teacher` the subject teacher of `subject` in the class.
pub(crate) async fn assign_teacher(
    app: &TestApp,
    code: &str,
    class: i64,
    subject: &str,
    teacher: i64,
) {
    let mut tx = app.school_tx(code).await;
    sqlx::query(
        "UPDATE academic_class_subjects SET teacher_id = $1
          WHERE academic_class_id = $2 AND subject_id = (SELECT id FROM subjects WHERE name = $3)",
    )
    .bind(teacher)
    .bind(class)
    .bind(subject)
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
}

fn pdf_text(bytes: &[u8]) -> (usize, String) {
    let doc = lopdf::Document::load_mem(bytes).expect("a valid PDF");
    let pages: Vec<u32> = doc.get_pages().keys().copied().collect();
    let text = doc.extract_text(&pages).unwrap_or_default();
    (pages.len(), text)
}

#[sqlx::test(migrations = false)]
async fn a_report_card_pdf_parses_back_with_the_pupils_figures(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let f = fixture(&app, "alpha", &CLASS).await;
    enter_fixture_marks(&app, &f).await;
    let res = app
        .call(
            Method::GET,
            &host("alpha"),
            &format!(
                "/api/v1/school/exam-sessions/{}/report-cards/{}/pdf/",
                f.exam_session, f.pupils["Ada"]
            ),
            Some(&f.token),
            None,
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.headers["content-type"], "application/pdf");
    let (pages, text) = pdf_text(&res.body);
    assert_eq!(pages, 1);
    assert!(text.contains("Ada Test"), "{text}");
    assert!(text.contains("217.5"), "{text}");
    assert!(text.contains("74.5"), "{text}");
    // A pupil of another class or session is not found here.
    let res = app
        .call(
            Method::GET,
            &host("alpha"),
            &format!(
                "/api/v1/school/exam-sessions/{}/report-cards/999999/pdf/",
                f.exam_session
            ),
            Some(&f.token),
            None,
        )
        .await;
    assert_error_shape(&res, 404);
}

/// Waits for a batch to finish (the app's workers run it) and returns its final state.
pub(crate) async fn wait_for_batch(app: &TestApp, code: &str, token: &str, id: &str) -> Value {
    for _ in 0..300 {
        let b = app
            .call(
                Method::GET,
                &host(code),
                &format!("/api/v1/school/report-batches/{id}/"),
                Some(token),
                None,
            )
            .await
            .json();
        if b["status"] == "done" || b["status"] == "failed" {
            return b;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("batch {id} never finished");
}

async fn download(app: &TestApp, code: &str, token: &str, id: &str) -> crate::helpers::Response {
    app.call(
        Method::GET,
        &host(code),
        &format!("/api/v1/school/report-batches/{id}/download/"),
        Some(token),
        None,
    )
    .await
}

#[sqlx::test(migrations = false)]
async fn batch_jobs_print_each_school_from_its_own_schema(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let _workers = app.start_workers();
    let a = fixture(&app, "alpha", &["Ada", "Bola"]).await;
    let b = fixture(&app, "beta", &["Yemi", "Zara"]).await;
    for (f, code) in [(&a, "alpha"), (&b, "beta")] {
        for name in f.pupils.keys() {
            let row = json!([{"registration": f.pupils[name], "scores": scores(10.0, 10.0, 50.0)}]);
            let res = save_marks(&app, code, &f.token, f.exams["Mathematics"], row).await;
            assert_eq!(res.status, StatusCode::OK);
        }
    }
    // Queued together: alpha's whole school and beta's class.
    let start = |code: &'static str, f: &Fixture, body: Value| {
        let path = format!(
            "/api/v1/school/exam-sessions/{}/report-batches/",
            f.exam_session
        );
        let token = f.token.clone();
        let app = &app;
        async move {
            app.call(Method::POST, &host(code), &path, Some(&token), Some(body))
                .await
        }
    };
    let (ra, rb) = tokio::join!(
        start("alpha", &a, json!({})),
        start("beta", &b, json!({"academic_class_id": b.class_id}))
    );
    assert_eq!(ra.status, StatusCode::ACCEPTED, "{}", ra.text());
    assert_eq!(rb.status, StatusCode::ACCEPTED, "{}", rb.text());
    let (ida, idb) = (
        ra.json()["id"].as_str().unwrap().to_owned(),
        rb.json()["id"].as_str().unwrap().to_owned(),
    );
    assert!(
        ra.json()["status_url"]
            .as_str()
            .unwrap()
            .ends_with(&format!("{ida}/"))
    );
    // Asking again while it runs gives the same batch, not a second one.
    let again = start("beta", &b, json!({"academic_class_id": b.class_id})).await;
    if again.status == StatusCode::OK {
        assert_eq!(again.json()["id"], idb.as_str());
    }

    let done_a = wait_for_batch(&app, "alpha", &a.token, &ida).await;
    let done_b = wait_for_batch(&app, "beta", &b.token, &idb).await;
    assert_eq!(done_a["status"], "done", "{done_a}");
    assert_eq!(done_b["status"], "done", "{done_b}");
    assert_eq!(done_b["total"], 2);
    assert_eq!(done_b["done"], 2);

    // beta's class: one PDF, a page per pupil, only beta's pupils.
    let pdf = download(&app, "beta", &b.token, &idb).await;
    assert_eq!(pdf.status, StatusCode::OK);
    let (pages, text) = pdf_text(&pdf.body);
    assert_eq!(pages, 2);
    assert!(
        text.contains("Yemi Test") && text.contains("Zara Test"),
        "{text}"
    );
    assert!(!text.contains("Ada") && !text.contains("Bola"), "{text}");
    // alpha's whole school: a zip with a PDF per class that has pupils, alpha's only.
    let zip = download(&app, "alpha", &a.token, &ida).await;
    assert_eq!(zip.status, StatusCode::OK);
    assert_eq!(zip.headers["content-type"], "application/zip");
    assert!(zip.body.starts_with(b"PK\x03\x04"));
    let text = String::from_utf8_lossy(&zip.body);
    assert!(text.contains("JSS 1A - First Term 2025-2026.pdf"));
    let start_pdf = zip.body.windows(5).position(|w| w == b"%PDF-").unwrap();
    let end_pdf = zip.body.windows(5).rposition(|w| w == b"%%EOF").unwrap() + 5;
    let (_, text) = pdf_text(&zip.body[start_pdf..end_pdf]);
    assert!(
        text.contains("Ada Test") && !text.contains("Yemi"),
        "{text}"
    );
    // beta cannot see alpha's batch.
    assert_error_shape(&download(&app, "beta", &b.token, &ida).await, 404);

    // A failed batch shows why, can be retried, and a rerun leaves one file, not two.
    let mut tx = app.school_tx("beta").await;
    sqlx::query("UPDATE report_batches SET status = 'failed', error = 'printer on fire' WHERE id = $1::uuid")
        .bind(&idb)
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let failed = app
        .call(
            Method::GET,
            &host("beta"),
            &format!("/api/v1/school/report-batches/{idb}/"),
            Some(&b.token),
            None,
        )
        .await
        .json();
    assert_eq!(failed["error"], "printer on fire");
    assert_error_shape(&download(&app, "beta", &b.token, &idb).await, 409);
    let retry = app
        .call(
            Method::POST,
            &host("beta"),
            &format!("/api/v1/school/report-batches/{idb}/retry/"),
            Some(&b.token),
            None,
        )
        .await;
    assert_eq!(retry.status, StatusCode::ACCEPTED, "{}", retry.text());
    let done = wait_for_batch(&app, "beta", &b.token, &idb).await;
    assert_eq!(done["status"], "done");
    assert_eq!(done["files"], 1);
    assert_eq!(done["attempts"], 2);
    assert!(done["error"].is_null());
    // The queue's finished rows can be purged; our batch rows stay.
    let purged = schoolyard::jobs::queue::purge_finished(&app.pool, std::time::Duration::ZERO)
        .await
        .unwrap();
    assert!(purged >= 2, "{purged}");
}

#[sqlx::test(migrations = false)]
async fn records_stay_editable_and_safe_once_marks_exist(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let f = fixture(&app, "alpha", &["Ada", "Bola"]).await;
    let h = host("alpha");
    let maths = f.exams["Mathematics"];
    let res = save_marks(
        &app,
        "alpha",
        &f.token,
        maths,
        json!([{"registration": f.pupils["Ada"], "scores": scores(10.0, 10.0, 40.0)}]),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK);

    // The class's subject teachers can still be changed after exams were set up.
    let teacher = app
        .create_staff("alpha", "teacher@alpha.test", "Teacher")
        .await;
    let class = app
        .call(
            Method::GET,
            &h,
            &format!(
                "/api/v1/school/sessions/{}/classes/{}/",
                f.session_id, f.class_id
            ),
            Some(&f.token),
            None,
        )
        .await
        .json();
    let subjects: Vec<Value> = class["subjects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| json!({"subject_id": s["subject_id"], "teacher_id": teacher}))
        .collect();
    let res = app
        .call(
            Method::PUT,
            &h,
            &format!(
                "/api/v1/school/sessions/{}/classes/{}/",
                f.session_id, f.class_id
            ),
            Some(&f.token),
            Some(json!({"class_id": class["class_id"], "subjects": subjects})),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    // Removing a subject that has an exam is refused with a reason, not a 500.
    let res = app
        .call(
            Method::PUT,
            &h,
            &format!(
                "/api/v1/school/sessions/{}/classes/{}/",
                f.session_id, f.class_id
            ),
            Some(&f.token),
            Some(json!({"class_id": class["class_id"], "subjects": [subjects[0].clone()]})),
        )
        .await;
    assert!(assert_error_shape(&res, 422)["errors"]["subjects"].is_array());

    // The same component twice in a row is a 422, not a database error.
    let res = save_marks(
        &app,
        "alpha",
        &f.token,
        maths,
        json!([{"registration": f.pupils["Bola"], "scores": {"CA1": 10, "ca1": 12}}]),
    )
    .await;
    assert_error_shape(&res, 422);

    // A pupil with marks is withdrawn, not deleted (their marks would go with them).
    let student: i64 = app
        .call(
            Method::GET,
            &h,
            &format!("/api/v1/school/exams/{maths}/marks/"),
            Some(&f.token),
            None,
        )
        .await
        .json()["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["registration"] == f.pupils["Ada"])
        .unwrap()["student_id"]
        .as_i64()
        .unwrap();
    let res = app
        .call(
            Method::DELETE,
            &h,
            &format!("/api/v1/school/admissions/{student}/"),
            Some(&f.token),
            None,
        )
        .await;
    assert!(
        assert_error_shape(&res, 409)["detail"]
            .as_str()
            .unwrap()
            .contains("withdrawn")
    );

    // An exam session with marks cannot be deleted.
    let res = app
        .call(
            Method::DELETE,
            &h,
            &format!("/api/v1/school/exam-sessions/{}/", f.exam_session),
            Some(&f.token),
            None,
        )
        .await;
    assert_error_shape(&res, 409);
}

/// A pupil who changes arm after the exams keeps their place in the old class's results.
#[sqlx::test(migrations = false)]
async fn a_pupil_who_moves_arm_keeps_past_results(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let f = fixture(&app, "alpha", &CLASS).await;
    enter_fixture_marks(&app, &f).await;
    let (_, other_class) = class_id(&app, "alpha", &f.token, "JSS 1B").await;
    let mut tx = app.school_tx("alpha").await;
    sqlx::query(
        "WITH old AS (UPDATE registrations SET is_current = FALSE, left_on = '2026-01-04' WHERE id = $1
                      RETURNING student_id, session_id)
         INSERT INTO registrations (student_id, session_id, academic_class_id, registered_on, created_at)
         SELECT student_id, session_id, $2, '2026-01-05', now() FROM old",
    )
    .bind(f.pupils["Chi"])
    .bind(other_class)
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let r = results(&app, &f).await;
    assert_eq!(pupil(&r, &f, "Chi")["position"], 1);
    assert_eq!(r["out_of"], 5);
    let res = app
        .call(
            Method::GET,
            &host("alpha"),
            &format!(
                "/api/v1/school/exam-sessions/{}/report-cards/{}/pdf/",
                f.exam_session, f.pupils["Chi"]
            ),
            Some(&f.token),
            None,
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
}

#[sqlx::test(migrations = false)]
async fn assessment_pages_follow_permissions(pool: PgPool) {
    use crate::pages::{Browser, csrf_of};
    let app = TestApp::new(pool).await;
    let f = fixture(&app, "alpha", &CLASS).await;
    enter_fixture_marks(&app, &f).await;
    let teacher = app
        .create_staff("alpha", "teacher@alpha.test", "Teacher")
        .await;
    assign_teacher(&app, "alpha", f.class_id, "Mathematics", teacher).await;
    let h = host("alpha");

    let mut a = Browser::new(&app, &h);
    a.login("admin@alpha.test").await;
    for path in [
        "/exams".to_owned(),
        format!("/exams/sessions/{}", f.exam_session),
        format!("/exams/{}/marks", f.exams["Mathematics"]),
        format!(
            "/exams/sessions/{}/classes/{}/results",
            f.exam_session, f.class_id
        ),
        format!(
            "/exams/sessions/{}/classes/{}/comments",
            f.exam_session, f.class_id
        ),
        format!(
            "/exams/sessions/{}/report-cards/{}",
            f.exam_session, f.pupils["Ada"]
        ),
        "/settings/assessment".to_owned(),
    ] {
        let res = a.get(&path).await;
        assert_eq!(res.status, StatusCode::OK, "{path}: {}", res.text());
    }
    let pdf = a
        .get(&format!(
            "/exams/sessions/{}/report-cards/{}/pdf",
            f.exam_session, f.pupils["Ada"]
        ))
        .await;
    assert!(pdf.body.starts_with(b"%PDF"));

    // The settings form re-renders with the problem and what was typed.
    let page = a.get("/settings/assessment").await;
    let token = csrf_of(&page.text());
    let res = a
        .post(
            "/settings/assessment",
            &[
                ("csrf_token", &token),
                ("components", "CA 30\nExam 60"),
                ("bands", "A 70 Excellent\nF 0 Fail"),
                ("rank_by", "average"),
                ("cumulative_method", "average"),
                ("first_term_weight", "20"),
                ("second_term_weight", "30"),
                ("third_term_weight", "50"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text();
    assert!(html.contains("must add up to 100"), "{html}");
    assert!(html.contains("CA 30"));
    // A line that cannot be read keeps what was typed, and unticked boxes stay unticked.
    let res = a
        .post(
            "/settings/assessment",
            &[
                ("csrf_token", &token),
                ("components", "CA 30\nExam 70abc"),
                ("bands", "A 70 Excellent\nF 0 Fail"),
                ("show_class_stats", "on"),
                ("rank_by", "average"),
                ("cumulative_method", "average"),
                ("first_term_weight", "20"),
                ("second_term_weight", "30"),
                ("third_term_weight", "50"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text();
    assert!(html.contains("Exam 70abc"), "{html}");
    assert!(
        html.contains("name=\"show_position\" value=\"on\" >"),
        "{html}"
    );

    // A teacher: their subject's grid is editable, another subject's is read-only, and
    // neither exam-session status nor settings are theirs to change.
    let mut t = Browser::new(&app, &h);
    t.login("teacher@alpha.test").await;
    let dashboard = t.get("/").await.text();
    assert!(dashboard.contains("Marks to enter") && dashboard.contains("JSS 1A · Mathematics"));
    let mine = t
        .get(&format!("/exams/{}/marks", f.exams["Mathematics"]))
        .await
        .text();
    assert!(mine.contains("data-mark-grid"));
    let other = t
        .get(&format!("/exams/{}/marks", f.exams["English Language"]))
        .await
        .text();
    assert!(!other.contains("data-mark-grid"));
    assert!(other.contains("has no subject teacher yet"));
    let token = csrf_of(&mine);
    let res = t
        .post(
            &format!("/exams/{}/marks", f.exams["English Language"]),
            &[
                ("csrf_token", &token),
                ("registration", &f.pupils["Ada"].to_string()),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    let res = t
        .post(
            &format!("/exams/sessions/{}/status", f.exam_session),
            &[("csrf_token", &token), ("status", "published")],
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert_eq!(
        t.get("/settings/assessment").await.status,
        StatusCode::FORBIDDEN
    );
    // A teacher prints a class, not the whole school.
    let res = t
        .post(
            &format!("/exams/sessions/{}/report-batch", f.exam_session),
            &[("csrf_token", &token)],
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    // A row saved through the page: plain-text answers the grid shows.
    let res = t
        .post(
            &format!("/exams/{}/marks", f.exams["Mathematics"]),
            &[
                ("csrf_token", &token),
                ("registration", &f.pupils["Efe"].to_string()),
                (
                    &format!("score_{}", first_component(&app, &f, "Mathematics").await),
                    "25",
                ),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().contains("from 0 to 20"), "{}", res.text());
}

async fn first_component(app: &TestApp, f: &Fixture, subject: &str) -> i64 {
    app.call(
        Method::GET,
        &host("alpha"),
        &format!("/api/v1/school/exams/{}/", f.exams[subject]),
        Some(&f.token),
        None,
    )
    .await
    .json()["components"][0]["id"]
        .as_i64()
        .unwrap()
}

#[sqlx::test(migrations = false)]
async fn traits_and_the_comment_bank_are_configurable(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let f = fixture(&app, "alpha", &["Ada"]).await;
    let h = host("alpha");
    let put = |path: &'static str, body: Value| {
        let app = &app;
        let h = h.clone();
        let token = f.token.clone();
        async move {
            app.call(Method::PUT, &h, path, Some(&token), Some(body))
                .await
        }
    };
    // Ada is rated for Punctuality; Punctuality cannot be dropped, others can.
    let res = app
        .call(
            Method::POST,
            &h,
            &format!(
                "/api/v1/school/exam-sessions/{}/comments/?academic_class={}",
                f.exam_session, f.class_id
            ),
            Some(&f.token),
            Some(
                json!([{"registration": f.pupils["Ada"], "ratings": {"Punctuality": 4},
                         "class_teacher_comment": "Steady work."}]),
            ),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let bad = put(
        "/api/v1/school/rating-traits/",
        json!([{"kind": "affective", "name": "Kindness"}]),
    )
    .await;
    assert!(
        assert_error_shape(&bad, 422)["errors"]["traits"][0]
            .as_str()
            .unwrap()
            .contains("Punctuality")
    );
    let ok = put(
        "/api/v1/school/rating-traits/",
        json!([{"kind": "affective", "name": "Punctuality"}, {"kind": "affective", "name": "Kindness"},
               {"kind": "psychomotor", "name": "Football"}]),
    )
    .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text());
    assert_eq!(ok.json().as_array().unwrap().len(), 3);
    let ok = put(
        "/api/v1/school/comment-bank/",
        json!([{"kind": "class_teacher", "text": "A joy to teach."}]),
    )
    .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text());
    let bank = app
        .call(
            Method::GET,
            &h,
            "/api/v1/school/comment-bank/",
            Some(&f.token),
            None,
        )
        .await
        .json();
    assert_eq!(bank.as_array().unwrap().len(), 1);
    // The rating survived and the report card shows the new traits.
    let comments = app
        .call(
            Method::GET,
            &h,
            &format!(
                "/api/v1/school/exam-sessions/{}/comments/?academic_class={}",
                f.exam_session, f.class_id
            ),
            Some(&f.token),
            None,
        )
        .await
        .json();
    assert_eq!(comments[0]["ratings"]["Punctuality"], 4);
    assert_eq!(comments[0]["class_teacher_comment"], "Steady work.");
}

/// Published results keep the grading scale they were published with.
#[sqlx::test(migrations = false)]
async fn published_results_are_frozen(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let f = fixture(&app, "alpha", &CLASS).await;
    enter_fixture_marks(&app, &f).await;
    let h = host("alpha");
    let patch_session = |status: &'static str| {
        let app = &app;
        let h = h.clone();
        let token = f.token.clone();
        let path = format!("/api/v1/school/exam-sessions/{}/", f.exam_session);
        async move {
            app.call(
                Method::PATCH,
                &h,
                &path,
                Some(&token),
                Some(json!({"status": status})),
            )
            .await
        }
    };
    assert_eq!(patch_session("published").await.status, StatusCode::OK);
    let res = app
        .call(
            Method::PATCH,
            &h,
            "/api/v1/school/settings/assessment/",
            Some(&f.token),
            Some(
                json!({"grading": [{"grade": "P", "min_score": 50, "remark": "Pass"},
                                    {"grade": "F", "min_score": 0, "remark": "Fail"}],
                        "report": {"rank_by": "total"}}),
            ),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let r = results(&app, &f).await;
    assert_eq!(subject_of(&r, &f, "Ada", "Basic Science")["grade"], "B2");
    assert_eq!(r["rank_by"], "average");
    assert_eq!(pupil(&r, &f, "Chi")["position"], 1);
    // Unpublished again: the school's current settings apply.
    assert_eq!(patch_session("closed").await.status, StatusCode::OK);
    let r = results(&app, &f).await;
    assert_eq!(subject_of(&r, &f, "Ada", "Basic Science")["grade"], "P");
    assert_eq!(r["rank_by"], "total");
}

/// Comments keep their writer: the head saving the class's page does not sign the class
/// teacher's comments; bad rows save nothing.
#[sqlx::test(migrations = false)]
async fn comments_are_signed_by_their_writer_and_saved_whole(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let f = fixture(&app, "alpha", &["Ada", "Bola"]).await;
    let h = host("alpha");
    app.create_staff("alpha", "head@alpha.test", "Head").await;
    let head = app.school_token("alpha", "head@alpha.test").await;
    let path = format!(
        "/api/v1/school/exam-sessions/{}/comments/?academic_class={}",
        f.exam_session, f.class_id
    );
    let (ada, bola) = (f.pupils["Ada"], f.pupils["Bola"]);
    let res = app
        .call(
            Method::POST,
            &h,
            &path,
            Some(&f.token),
            Some(
                json!([{"registration": ada, "class_teacher_comment": "Neat and punctual.",
                         "ratings": {"Neatness": 5, "Punctuality": 4}},
                        {"registration": bola, "class_teacher_comment": "Talkative."}]),
            ),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    // The head re-sends Ada's comment unchanged with a head comment: the writer stays.
    let res = app
        .call(
            Method::POST,
            &h,
            &path,
            Some(&head),
            Some(
                json!([{"registration": ada, "class_teacher_comment": "Neat and punctual.",
                         "head_teacher_comment": "Well done.", "ratings": {"Punctuality": null}}]),
            ),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let saved = res.json();
    assert_eq!(saved[0]["class_teacher_comment"], "Neat and punctual.");
    assert_eq!(saved[0]["head_teacher_comment"], "Well done.");
    assert_eq!(saved[0]["ratings"], json!({"Neatness": 5}));
    let mut tx = app.school_tx("alpha").await;
    let (ct_by, ht_by): (Option<i64>, Option<i64>) = sqlx::query_as(
        "SELECT class_teacher_by, head_teacher_by FROM report_comments WHERE registration_id = $1",
    )
    .bind(ada)
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    let ids: Vec<i64> = sqlx::query_scalar(
        "SELECT id FROM public.users WHERE email IN ('admin@alpha.test', 'head@alpha.test') ORDER BY email",
    )
    .fetch_all(&mut *tx)
    .await
    .unwrap();
    tx.rollback().await.unwrap();
    assert_eq!((ct_by, ht_by), (Some(ids[0]), Some(ids[1])));
    // A teacher who is not the class teacher may not write them.
    app.create_staff("alpha", "t@alpha.test", "Teacher").await;
    let t = app.school_token("alpha", "t@alpha.test").await;
    let res = app
        .call(
            Method::POST,
            &h,
            &path,
            Some(&t),
            Some(json!([{"registration": ada, "class_teacher_comment": "Hi"}])),
        )
        .await;
    assert_error_shape(&res, 403);
    // One bad row: nothing saved.
    let res = app
        .call(
            Method::POST,
            &h,
            &path,
            Some(&f.token),
            Some(
                json!([{"registration": bola, "class_teacher_comment": "Quiet now."},
                        {"registration": bola, "ratings": {"Neatness": 9}}]),
            ),
        )
        .await;
    let body = assert_error_shape(&res, 422);
    assert!(body["errors"]["rows[1].registration"].is_array());
    let now = app
        .call(Method::GET, &h, &path, Some(&f.token), None)
        .await
        .json();
    let bola_row = now
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["registration"] == bola)
        .unwrap();
    assert_eq!(bola_row["class_teacher_comment"], "Talkative.");
}

/// Two people on the comments page: the head's save leaves alone what the class teacher
/// changed after the head opened the page.
#[sqlx::test(migrations = false)]
async fn a_comments_page_save_sends_only_what_changed_on_it(pool: PgPool) {
    use crate::pages::{Browser, csrf_of};
    let app = TestApp::new(pool).await;
    let f = fixture(&app, "alpha", &["Ada"]).await;
    let h = host("alpha");
    app.create_staff("alpha", "head@alpha.test", "Head").await;
    let ada = f.pupils["Ada"];
    let api = format!(
        "/api/v1/school/exam-sessions/{}/comments/?academic_class={}",
        f.exam_session, f.class_id
    );
    let page = format!(
        "/exams/sessions/{}/classes/{}/comments",
        f.exam_session, f.class_id
    );
    let set = |text: &'static str| {
        let app = &app;
        let h = h.clone();
        let api = api.clone();
        let token = f.token.clone();
        async move {
            app.call(
                Method::POST,
                &h,
                &api,
                Some(&token),
                Some(json!([{"registration": ada, "class_teacher_comment": text, "ratings": {"Neatness": 3}}])),
            )
            .await
        }
    };
    assert_eq!(set("First words.").await.status, StatusCode::OK);
    // The head opens the page, then the class teacher changes the comment.
    let mut head = Browser::new(&app, &h);
    head.login("head@alpha.test").await;
    let html = head.get(&page).await.text();
    assert!(html.contains(&format!("name=\"ct0_{ada}\" value=\"First words.\"")));
    let token = csrf_of(&html);
    assert_eq!(set("Second thoughts.").await.status, StatusCode::OK);
    // The head saves their page: only the head's comment was changed on it.
    let neat = {
        let traits = app
            .call(
                Method::GET,
                &h,
                "/api/v1/school/rating-traits/",
                Some(&f.token),
                None,
            )
            .await
            .json();
        traits
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == "Neatness")
            .unwrap()["id"]
            .as_i64()
            .unwrap()
    };
    let fields = [
        ("csrf_token".to_owned(), token),
        (format!("ct_{ada}"), "First words.".to_owned()),
        (format!("ct0_{ada}"), "First words.".to_owned()),
        (format!("ht_{ada}"), "Well done.".to_owned()),
        (format!("ht0_{ada}"), String::new()),
        (format!("r_{ada}_{neat}"), "3".to_owned()),
        (format!("r0_{ada}_{neat}"), "3".to_owned()),
    ];
    let form: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let res = head.post(&page, &form).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text());
    let now = app
        .call(Method::GET, &h, &api, Some(&f.token), None)
        .await
        .json();
    assert_eq!(now[0]["class_teacher_comment"], "Second thoughts.");
    assert_eq!(now[0]["head_teacher_comment"], "Well done.");
    assert_eq!(now[0]["ratings"]["Neatness"], 3);
}

/// An exam set up with its own components (CA 30 / Exam 70) takes marks against them; an
/// exam without marks can be deleted, one with marks cannot.
#[sqlx::test(migrations = false)]
async fn an_exam_can_have_its_own_components(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let f = fixture(&app, "alpha", &["Ada"]).await;
    let h = host("alpha");
    let (_, other_class) = class_id(&app, "alpha", &f.token, "JSS 1B").await;
    let maths: i64 = app
        .call(
            Method::GET,
            &h,
            "/api/v1/school/subjects/",
            Some(&f.token),
            None,
        )
        .await
        .json()
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "Mathematics")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let path = format!("/api/v1/school/exam-sessions/{}/exams/", f.exam_session);
    let bad = app
        .call(
            Method::POST,
            &h,
            &path,
            Some(&f.token),
            Some(json!({"academic_class_id": other_class, "subject_id": maths,
                        "components": [{"name": "CA", "max_score": 30}, {"name": "ca", "max_score": 70}]})),
        )
        .await;
    let body = assert_error_shape(&bad, 422);
    assert!(body["errors"]["components[1].name"].is_array(), "{body}");
    let res = app
        .call(
            Method::POST,
            &h,
            &path,
            Some(&f.token),
            Some(json!({"academic_class_id": other_class, "subject_id": maths,
                        "components": [{"name": "CA", "max_score": 30}, {"name": "Exam", "max_score": 70}]})),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    let exam = res.json();
    assert_eq!(exam["components"][1]["max_score"], 70.0);
    let again = app
        .call(
            Method::POST,
            &h,
            &path,
            Some(&f.token),
            Some(json!({"academic_class_id": other_class, "subject_id": maths})),
        )
        .await;
    assert_error_shape(&again, 422);
    let id = exam["id"].as_i64().unwrap();
    let res = app
        .call(
            Method::DELETE,
            &h,
            &format!("/api/v1/school/exams/{id}/"),
            Some(&f.token),
            None,
        )
        .await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    // JSS 1A's exam uses the defaults; a score over its CA1 maximum of 20 is refused.
    let res = save_marks(
        &app,
        "alpha",
        &f.token,
        f.exams["Mathematics"],
        json!([{"registration": f.pupils["Ada"], "scores": {"CA1": 25}}]),
    )
    .await;
    assert_error_shape(&res, 422);
    let res = save_marks(
        &app,
        "alpha",
        &f.token,
        f.exams["Mathematics"],
        json!([{"registration": f.pupils["Ada"], "scores": {"CA1": 20}}]),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK);
    let res = app
        .call(
            Method::DELETE,
            &h,
            &format!("/api/v1/school/exams/{}/", f.exams["Mathematics"]),
            Some(&f.token),
            None,
        )
        .await;
    assert_error_shape(&res, 409);
}
