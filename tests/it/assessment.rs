//! Assessment: marks entry rules, the figures of a hand-computed class, cumulative third
//! term, report card PDFs and batch jobs.

use axum::http::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::{
    Client, Response, TestApp, assert_error_shape, csrf_of,
    fixtures::{
        CLASS, ExamClass, assign_teacher, class_of, class_with_exams, enter_hand_computed_marks,
        generate_exams, open_exam_session, register_pupils, save_marks, school_with_year, scores,
        wait_for_batch,
    },
    internals, pdf_text,
};

fn pupil<'a>(results: &'a Value, f: &ExamClass, name: &str) -> &'a Value {
    results["pupils"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["registration"] == f.pupils[name])
        .unwrap()
}

fn subject_of<'a>(results: &'a Value, f: &ExamClass, pupil_name: &str, subject: &str) -> &'a Value {
    let exam = f.exams[subject];
    pupil(results, f, pupil_name)["subjects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["exam_id"] == exam)
        .unwrap()
}

async fn results(f: &ExamClass) -> Value {
    let res = f
        .admin
        .get(&format!(
            "/api/v1/school/exam-sessions/{}/results/?academic_class={}",
            f.exam_session, f.class_id
        ))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    res.json()
}

#[sqlx::test(migrations = false)]
async fn results_match_the_hand_computed_class(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let f = class_with_exams(&app, "alpha", &CLASS).await;
    enter_hand_computed_marks(&f).await;
    let r = results(&f).await;

    // Per subject: ties share a position (1, 1, 3); ABS and missing pupils are not counted.
    let english: Vec<(Value, Value, Value)> = ["Ada", "Bola", "Femi", "Dayo", "Efe"]
        .iter()
        .map(|n| {
            let s = subject_of(&r, &f, n, "English Language");
            (
                s["status"].clone(),
                s["total"].clone(),
                s["position"].clone(),
            )
        })
        .collect();
    assert_eq!(
        english,
        [
            (json!("complete"), json!(83.0), json!(1)),
            (json!("complete"), json!(83.0), json!(1)),
            (json!("complete"), json!(75.0), json!(3)),
            (json!("absent"), Value::Null, Value::Null),
            (json!("missing"), Value::Null, Value::Null),
        ]
    );
    // Chi is exempt from English and does not take the elective: neither is on the card.
    let chi: Vec<&Value> = pupil(&r, &f, "Chi")["subjects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| &s["exam_id"])
        .collect();
    assert_eq!(chi, [&json!(f.exams["Mathematics"])]);
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
        (&json!(3), &json!(80.33), &json!(83.0), &json!(75.0))
    );
    let m = stats("Mathematics");
    assert_eq!(
        (&m["pupils"], &m["average"], &m["highest"], &m["lowest"]),
        (&json!(6), &json!(65.17), &json!(91.0), &json!(30.0))
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
    // The grade's remark once, in the grading key, not on every pupil's every subject.
    assert_eq!(ada_bs.get("remark"), None);
    let b2 = r["grading"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["grade"] == "B2")
        .unwrap();
    assert_eq!(
        (&b2["min_score"], &b2["remark"]),
        (&json!(70.0), &json!("Very good"))
    );
    assert_eq!(subject_of(&r, &f, "Bola", "Basic Science")["grade"], "C6");
    assert_eq!(subject_of(&r, &f, "Chi", "Mathematics")["position"], 1);
    assert_eq!(subject_of(&r, &f, "Dayo", "Mathematics")["position"], 6);

    // Overall: the average over the subjects taken (ABS counts 0), competition ranking; Efe's
    // English is outstanding, so Efe has no position until the head confirms.
    let overall = |r: &Value, n: &str| {
        let p = pupil(r, &f, n);
        (
            p["total"].as_f64().unwrap(),
            p["subjects_taken"].as_i64().unwrap(),
            p["average"].clone(),
            p["position"].clone(),
            p["grade"].clone(),
        )
    };
    let expected = [
        ("Chi", (91.0, 1, json!(91.0), json!(1), json!("A1"))),
        ("Ada", (217.5, 3, json!(72.5), json!(2), json!("B2"))),
        ("Femi", (145.0, 2, json!(72.5), json!(2), json!("B2"))),
        ("Bola", (208.0, 3, json!(69.33), json!(4), json!("B3"))),
        ("Dayo", (30.0, 2, json!(15.0), json!(5), json!("F9"))),
        ("Efe", (65.0, 2, json!(65.0), Value::Null, json!("B3"))),
    ];
    for (name, figures) in &expected {
        assert_eq!(overall(&r, name), *figures, "{name}");
    }
    assert_eq!(pupil(&r, &f, "Efe")["position_withheld"], true);
    assert_eq!(pupil(&r, &f, "Efe")["outstanding"], 1);
    assert_eq!(r["positions_withheld"], 1);
    // Every pupil of the class is counted: "out of 6".
    assert_eq!(r["out_of"], 6);
    // (72.5 + 69.333… + 91 + 15 + 65 + 72.5) / 6 from the exact averages.
    assert_eq!(r["class_average"], 64.22);

    // Closing names what is outstanding and needs a confirmation; once confirmed, Efe is
    // ranked on the marks entered.
    let session = format!("/api/v1/school/exam-sessions/{}/", f.exam_session);
    let refused = f.admin.patch(&session, json!({"status": "closed"})).await;
    let body = assert_error_shape(&refused, 409);
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("1 mark is outstanding: JSS 1A English Language (1 pupil)"),
        "{body}"
    );
    let res = f
        .admin
        .patch(
            &session,
            json!({"status": "closed", "confirm_outstanding": true}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let r = results(&f).await;
    assert_eq!(r["positions_withheld"], 0);
    let positions: Vec<Value> = ["Chi", "Ada", "Femi", "Bola", "Efe", "Dayo"]
        .iter()
        .map(|n| pupil(&r, &f, n)["position"].clone())
        .collect();
    assert_eq!(
        positions,
        [json!(1), json!(2), json!(2), json!(4), json!(5), json!(6)]
    );

    // ABS left out of the average instead, when the school says so: Dayo 30 over 1 subject.
    let res = f
        .admin
        .patch(
            "/api/v1/school/settings/assessment/",
            json!({"report": {"absent_counts_as": "left_out"}}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let r = results(&f).await;
    assert_eq!(
        overall(&r, "Dayo"),
        (30.0, 2, json!(30.0), json!(6), json!("F9"))
    );
    // Ranked by total when the school says so.
    let res = f
        .admin
        .patch(
            "/api/v1/school/settings/assessment/",
            json!({"report": {"rank_by": "total"}}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let r = results(&f).await;
    let positions: Vec<i64> = ["Ada", "Bola", "Femi", "Chi", "Efe", "Dayo"]
        .iter()
        .map(|n| pupil(&r, &f, n)["position"].as_i64().unwrap())
        .collect();
    assert_eq!(positions, [1, 2, 3, 4, 5, 6]);

    // Reopening withdraws the confirmation: Efe's position is withheld again.
    let res = f.admin.patch(&session, json!({"status": "open"})).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let r = results(&f).await;
    assert_eq!(pupil(&r, &f, "Efe")["position"], Value::Null);
}

#[sqlx::test(migrations = false)]
async fn third_term_results_carry_cumulative_figures(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let f = class_with_exams(&app, "alpha", &["Ada", "Bola"]).await;
    let t = f.admin.clone();
    let maths_t1 = f.exams["Mathematics"];
    let ada = f.pupils["Ada"];
    let bola = f.pupils["Bola"];
    let res = save_marks(
        &t,
        maths_t1,
        json!([{"registration": ada, "scores": scores(10.0, 10.0, 40.0)}]),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK);
    let (_, t2) = open_exam_session(&t, f.session_id, 2, f.class_id).await;
    let res = save_marks(
        &t,
        t2["Mathematics"],
        json!([
            {"registration": ada, "scores": scores(10.0, 10.0, 50.0)},
            {"registration": bola, "scores": scores(10.0, 10.0, 30.0)},
        ]),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK);
    let (es3, t3) = open_exam_session(&t, f.session_id, 3, f.class_id).await;
    let res = save_marks(
        &t,
        t3["Mathematics"],
        json!([
            {"registration": ada, "scores": scores(20.0, 20.0, 40.0)},
            {"registration": bola, "scores": scores(10.0, 10.0, 50.0)},
        ]),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK);
    let f3 = ExamClass {
        exam_session: es3,
        exams: t3.clone(),
        pupils: f.pupils.clone(),
        students: f.students.clone(),
        ..f
    };
    // Only Mathematics is marked: the head confirms the results as they stand, or the
    // other subjects (outstanding) would withhold the positions.
    let r = results(&f3).await;
    assert_eq!(pupil(&r, &f3, "Ada")["cumulative_position"], Value::Null);
    let res = t
        .patch(
            &format!("/api/v1/school/exam-sessions/{es3}/"),
            json!({"status": "closed", "confirm_outstanding": true}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    // Average of the terms present: Ada (60, 70, 80) → 70; Bola (–, 50, 70) → 60.
    let r = results(&f3).await;
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
    let res = t
        .patch(
            "/api/v1/school/settings/assessment/",
            json!({"report": {"cumulative_method": "weighted"}}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let r = results(&f3).await;
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
    let bad = t
        .patch(
            "/api/v1/school/settings/assessment/",
            json!({"report": {"first_term_weight": 50}}),
        )
        .await;
    assert!(assert_error_shape(&bad, 422)["errors"]["third_term_weight"].is_array());
}

#[sqlx::test(migrations = false)]
async fn a_bad_row_saves_nothing_and_names_the_row(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let f = class_with_exams(&app, "alpha", &["Ada", "Bola"]).await;
    let exam = f.exams["Mathematics"];
    let res = save_marks(&f.admin, exam,
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
    let sheet = f
        .admin
        .get(&format!("/api/v1/school/exams/{exam}/marks/"))
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
    let res = save_marks(&f.admin, exam,
        json!([{"registration": f.pupils["Ada"], "scores": {"CA1": 12.5, "CA2": "7", "Exam": null}}]),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let sheet = f
        .admin
        .get(&format!("/api/v1/school/exams/{exam}/marks/"))
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
    // The Exam is still empty: no grade yet.
    assert_eq!(ada["grade"], Value::Null);
    // Every change is in the audit log.
    let audit = f
        .admin
        .get("/api/v1/school/audit/?entity=marks")
        .await
        .json();
    assert_eq!(audit["count"], 1);
}

#[sqlx::test(migrations = false)]
async fn closed_sessions_and_other_teachers_cannot_change_marks(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let f = class_with_exams(&app, "alpha", &["Ada"]).await;
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
    let tt = app.as_staff("alpha", "teacher@alpha.test").await;
    let row = json!([{"registration": f.pupils["Ada"], "scores": scores(10.0, 10.0, 40.0)}]);

    // The subject teacher may; a teacher of another subject may not.
    let res = save_marks(&tt, maths, row.clone()).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let res = save_marks(&tt, english, row.clone()).await;
    let body = assert_error_shape(&res, 403);
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("English Language")
    );
    // The head (no marks permission at all) may not either; the admin (change_marks) may.
    let head = app.as_staff("alpha", "head@alpha.test").await;
    assert_error_shape(&save_marks(&head, english, row.clone()).await, 403);
    let res = save_marks(&f.admin, english, row.clone()).await;
    assert_eq!(res.status, StatusCode::OK);

    // Closed: every change refused with a clear message, marks kept.
    let res = head
        .patch(
            &format!("/api/v1/school/exam-sessions/{}/", f.exam_session),
            json!({"status": "closed", "confirm_outstanding": true}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let res = save_marks(
        &tt,
        maths,
        json!([{"registration": f.pupils["Ada"], "scores": {"Exam": 60}}]),
    )
    .await;
    let body = assert_error_shape(&res, 409);
    assert!(body["detail"].as_str().unwrap().contains("closed"));
    let sheet = tt
        .get(&format!("/api/v1/school/exams/{maths}/marks/"))
        .await
        .json();
    assert_eq!(sheet["rows"][0]["total"], 60.0);
    assert_eq!(sheet["can_edit"], false);
}

#[sqlx::test(migrations = false)]
async fn assessment_settings_validate_components_and_grades(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let t = school_with_year(&app, "alpha").await;
    let s = t.get("/api/v1/school/settings/assessment/").await.json();
    assert_eq!(s["components"].as_array().unwrap().len(), 3);
    assert_eq!(s["grading"]["bands"][0]["grade"], "A1");
    assert_eq!(s["grading"]["bands"].as_array().unwrap().len(), 9);
    let bad = t.patch("/api/v1/school/settings/assessment/", json!({"components": [{"name": "CA", "max_score": 30}, {"name": "Exam", "max_score": 60}],
                        "grading": [{"grade": "P", "min_score": 50}]}))
        .await;
    let body = assert_error_shape(&bad, 422);
    assert!(
        body["errors"]["components"][0]
            .as_str()
            .unwrap()
            .contains("100")
    );
    let ok = t.patch("/api/v1/school/settings/assessment/", json!({"components": [{"name": "CA", "max_score": 30}, {"name": "Exam", "max_score": 70}],
                        "grading": [{"grade": "P", "min_score": 50, "remark": "Pass"}, {"grade": "F", "min_score": 0, "remark": "Fail"}]}))
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text());
    assert_eq!(ok.json()["components"][1]["max_score"], 70.0);
    let bad = t
        .patch(
            "/api/v1/school/settings/assessment/",
            json!({"grading": [{"grade": "P", "min_score": 50}]}),
        )
        .await;
    assert!(assert_error_shape(&bad, 422)["errors"]["bands"].is_array());
}

#[sqlx::test(migrations = false)]
async fn a_report_card_pdf_parses_back_with_the_pupils_figures(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let f = class_with_exams(&app, "alpha", &CLASS).await;
    enter_hand_computed_marks(&f).await;
    let res = f
        .admin
        .get(&format!(
            "/api/v1/school/exam-sessions/{}/report-cards/{}/pdf/",
            f.exam_session, f.pupils["Ada"]
        ))
        .await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.headers["content-type"], "application/pdf");
    let (pages, text) = pdf_text(&res.body);
    assert_eq!(pages, 1);
    assert!(text.contains("Ada Test"), "{text}");
    assert!(text.contains("217.5"), "{text}");
    assert!(text.contains("74.5"), "{text}");
    // A pupil registered only in another session has no card in this exam session.
    let next = f
        .admin
        .post(
            "/api/v1/school/sessions/",
            json!({"name": "2026/2027", "starts_on": "2026-09-07", "ends_on": "2027-07-23"}),
        )
        .await
        .json()["id"]
        .as_i64()
        .unwrap();
    let arm = f.admin.get("/api/v1/school/classes/").await.json()["results"][0]["id"].clone();
    let class = f
        .admin
        .post(
            &format!("/api/v1/school/sessions/{next}/classes/"),
            json!({"class_id": arm}),
        )
        .await
        .json()["id"]
        .as_i64()
        .unwrap();
    let kemi = f
        .admin
        .post(
            "/api/v1/school/admissions/",
            json!({"first_name": "Kemi", "last_name": "Later", "sex": "female"}),
        )
        .await
        .json()["id"]
        .clone();
    let registrations = format!("/api/v1/school/sessions/{next}/classes/{class}/registrations/");
    let res = f
        .admin
        .post(&registrations, json!({"student_id": kemi}))
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    let kemi_registration = f.admin.get(&registrations).await.json()["results"][0]["id"]
        .as_i64()
        .unwrap();
    let res = f
        .admin
        .get(&format!(
            "/api/v1/school/exam-sessions/{}/report-cards/{kemi_registration}/pdf/",
            f.exam_session
        ))
        .await;
    assert_error_shape(&res, 404);
}

async fn download(client: &Client, id: &str) -> Response {
    client
        .get(&format!("/api/v1/school/report-batches/{id}/download/"))
        .await
}

/// The entries of a zip, read with a real zip reader: (name, bytes), in archive order.
fn unzip(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    use std::io::Read;
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("a valid zip");
    (0..archive.len())
        .map(|i| {
            let mut entry = archive.by_index(i).expect("entry");
            assert_eq!(
                entry.compression(),
                zip::CompressionMethod::Stored,
                "PDFs are stored"
            );
            let mut data = Vec::new();
            entry
                .read_to_end(&mut data)
                .expect("entry data (CRC checked)");
            (entry.name().expect("entry name").into_owned(), data)
        })
        .collect()
}

#[sqlx::test(migrations = false)]
async fn batch_jobs_print_each_school_from_its_own_schema(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let _workers = app.start_workers();
    let a = class_with_exams(&app, "alpha", &["Ada", "Bola"]).await;
    let b = class_with_exams(&app, "beta", &["Yemi", "Zara"]).await;
    // alpha has two more classes in the exam session: JSS 1B with Chi, JSS 2A with no
    // pupils (no report cards, so no file).
    let (_, jss1b) = class_of(&a.admin, "JSS 1B").await;
    let chi = register_pupils(&app, "alpha", a.session_id, jss1b, &["Chi"]).await["Chi"];
    let jss1b_exams = generate_exams(&a.admin, a.exam_session, jss1b).await;
    let (_, jss2a) = class_of(&a.admin, "JSS 2A").await;
    generate_exams(&a.admin, a.exam_session, jss2a).await;
    let mut marks = vec![(&a.admin, jss1b_exams["Mathematics"], chi.registration)];
    for f in [&a, &b] {
        for registration in f.pupils.values() {
            marks.push((&f.admin, f.exams["Mathematics"], *registration));
        }
    }
    for (admin, exam, registration) in marks {
        let row = json!([{"registration": registration, "scores": scores(10.0, 10.0, 50.0)}]);
        let res = save_marks(admin, exam, row).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    }
    // Queued together: alpha's whole school and beta's class.
    let start = |f: &ExamClass, body: Value| {
        let path = format!(
            "/api/v1/school/exam-sessions/{}/report-batches/",
            f.exam_session
        );
        let admin = f.admin.clone();
        async move { admin.post(&path, body).await }
    };
    let (ra, rb) = tokio::join!(
        start(&a, json!({})),
        start(&b, json!({"academic_class_id": b.class_id}))
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
    let again = start(&b, json!({"academic_class_id": b.class_id})).await;
    if again.status == StatusCode::OK {
        assert_eq!(again.json()["id"], idb.as_str());
    }

    let done_a = wait_for_batch(&a.admin, &ida).await;
    let done_b = wait_for_batch(&b.admin, &idb).await;
    assert_eq!(done_a["status"], "done", "{done_a}");
    assert_eq!(done_b["status"], "done", "{done_b}");
    assert_eq!(done_b["total"], 2);
    assert_eq!(done_b["done"], 2);

    // beta's class: one PDF, a page per pupil, only beta's pupils.
    let pdf = download(&b.admin, &idb).await;
    assert_eq!(pdf.status, StatusCode::OK);
    let (pages, text) = pdf_text(&pdf.body);
    assert_eq!(pages, 2);
    assert!(
        text.contains("Yemi Test") && text.contains("Zara Test"),
        "{text}"
    );
    assert!(!text.contains("Ada") && !text.contains("Bola"), "{text}");
    // alpha's whole school: a zip with one PDF per class that has pupils, each PDF a page
    // per pupil of that class and nobody else (not the other class's, not beta's).
    assert_eq!(done_a["total"], 3, "{done_a}");
    let zip = download(&a.admin, &ida).await;
    assert_eq!(zip.status, StatusCode::OK);
    assert_eq!(zip.headers["content-type"], "application/zip");
    let entries = unzip(&zip.body);
    let names: Vec<&str> = entries.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "JSS 1A - First Term 2025-2026.pdf",
            "JSS 1B - First Term 2025-2026.pdf"
        ]
    );
    let everyone = [
        "Ada Test",
        "Bola Test",
        "Chi Test",
        "Yemi Test",
        "Zara Test",
    ];
    for ((name, pdf), (pages, pupils)) in entries.iter().zip([
        (2, ["Ada Test", "Bola Test"].as_slice()),
        (1, &["Chi Test"]),
    ]) {
        assert!(pdf.starts_with(b"%PDF-"), "{name}");
        let (count, text) = pdf_text(pdf);
        assert_eq!(count, pages, "{name}");
        for who in everyone {
            assert_eq!(
                text.contains(who),
                pupils.contains(&who),
                "{name}: {who}\n{text}"
            );
        }
    }
    // beta cannot see alpha's batch.
    assert_error_shape(&download(&b.admin, &ida).await, 404);

    // A failed batch shows why, can be retried, and a rerun leaves one file, not two.
    let mut tx = app.school_tx("beta").await;
    sqlx::query("UPDATE report_batches SET status = 'failed', error = 'printer on fire' WHERE id = $1::uuid")
        .bind(&idb)
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let failed = b
        .admin
        .get(&format!("/api/v1/school/report-batches/{idb}/"))
        .await
        .json();
    assert_eq!(failed["error"], "printer on fire");
    assert_error_shape(&download(&b.admin, &idb).await, 409);
    let retry = b
        .admin
        .post_empty(&format!("/api/v1/school/report-batches/{idb}/retry/"))
        .await;
    assert_eq!(retry.status, StatusCode::ACCEPTED, "{}", retry.text());
    let done = wait_for_batch(&b.admin, &idb).await;
    assert_eq!(done["status"], "done");
    assert_eq!(done["files"], 1);
    assert_eq!(done["attempts"], 2);
    assert!(done["error"].is_null());
    // The queue's finished rows can be purged; our batch rows stay.
    let purged = internals::purge_finished_jobs(&app.pool).await;
    assert!(purged >= 2, "{purged}");
}

#[sqlx::test(migrations = false)]
async fn records_stay_editable_and_safe_once_marks_exist(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let f = class_with_exams(&app, "alpha", &["Ada", "Bola"]).await;
    let maths = f.exams["Mathematics"];
    let res = save_marks(
        &f.admin,
        maths,
        json!([{"registration": f.pupils["Ada"], "scores": scores(10.0, 10.0, 40.0)}]),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK);

    // The class's subject teachers can still be changed after exams were set up.
    let teacher = app
        .create_staff("alpha", "teacher@alpha.test", "Teacher")
        .await;
    let class = f
        .admin
        .get(&format!(
            "/api/v1/school/sessions/{}/classes/{}/",
            f.session_id, f.class_id
        ))
        .await
        .json();
    let subjects: Vec<Value> = class["subjects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| json!({"subject_id": s["subject_id"], "teacher_id": teacher}))
        .collect();
    let res = f
        .admin
        .put(
            &format!(
                "/api/v1/school/sessions/{}/classes/{}/",
                f.session_id, f.class_id
            ),
            json!({"class_id": class["class_id"], "subjects": subjects}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    // Removing a subject that has an exam is refused with a reason, not a 500.
    let res = f
        .admin
        .put(
            &format!(
                "/api/v1/school/sessions/{}/classes/{}/",
                f.session_id, f.class_id
            ),
            json!({"class_id": class["class_id"], "subjects": [subjects[0].clone()]}),
        )
        .await;
    assert!(assert_error_shape(&res, 422)["errors"]["subjects"].is_array());

    // The same component twice in a row is a 422, not a database error.
    let res = save_marks(
        &f.admin,
        maths,
        json!([{"registration": f.pupils["Bola"], "scores": {"CA1": 10, "ca1": 12}}]),
    )
    .await;
    assert_error_shape(&res, 422);

    // A pupil with marks is withdrawn, not deleted (their marks would go with them).
    let student: i64 = f
        .admin
        .get(&format!("/api/v1/school/exams/{maths}/marks/"))
        .await
        .json()["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["registration"] == f.pupils["Ada"])
        .unwrap()["student_id"]
        .as_i64()
        .unwrap();
    let res = f
        .admin
        .delete(&format!("/api/v1/school/admissions/{student}/"))
        .await;
    assert!(
        assert_error_shape(&res, 409)["detail"]
            .as_str()
            .unwrap()
            .contains("withdrawn")
    );

    // An exam session with marks cannot be deleted.
    let res = f
        .admin
        .delete(&format!("/api/v1/school/exam-sessions/{}/", f.exam_session))
        .await;
    assert_error_shape(&res, 409);
}

/// A pupil who changes arm after a term was published keeps their place in that term's
/// results of the old class: published history is not moved.
#[sqlx::test(migrations = false)]
async fn a_pupil_who_moves_arm_after_publishing_keeps_past_results(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let f = class_with_exams(&app, "alpha", &CLASS).await;
    enter_hand_computed_marks(&f).await;
    let res = f
        .admin
        .patch(
            &format!("/api/v1/school/exam-sessions/{}/", f.exam_session),
            json!({"status": "published", "confirm_outstanding": true}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let (_, other_class) = class_of(&f.admin, "JSS 1B").await;
    let res = f
        .admin
        .post(
            &format!(
                "/api/v1/school/sessions/{}/classes/{other_class}/registrations/",
                f.session_id
            ),
            json!({"student_id": f.students["Chi"]}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    let r = results(&f).await;
    assert_eq!(pupil(&r, &f, "Chi")["position"], 1);
    assert_eq!(r["out_of"], 6);
    let res = f
        .admin
        .get(&format!(
            "/api/v1/school/exam-sessions/{}/report-cards/{}/pdf/",
            f.exam_session, f.pupils["Chi"]
        ))
        .await;
    assert_eq!(res.status, StatusCode::OK);
}

#[sqlx::test(migrations = false)]
async fn assessment_pages_follow_permissions(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let f = class_with_exams(&app, "alpha", &CLASS).await;
    enter_hand_computed_marks(&f).await;
    let teacher = app
        .create_staff("alpha", "teacher@alpha.test", "Teacher")
        .await;
    assign_teacher(&app, "alpha", f.class_id, "Mathematics", teacher).await;

    let mut a = app.signed_in("alpha", "admin@alpha.test").await;
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
    let mut t = app.signed_in("alpha", "teacher@alpha.test").await;
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
                    &format!("score_{}", first_component(&f, "Mathematics").await),
                    "25",
                ),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().contains("from 0 to 20"), "{}", res.text());
}

async fn first_component(f: &ExamClass, subject: &str) -> i64 {
    f.admin
        .get(&format!("/api/v1/school/exams/{}/", f.exams[subject]))
        .await
        .json()["components"][0]["id"]
        .as_i64()
        .unwrap()
}

#[sqlx::test(migrations = false)]
async fn traits_and_the_comment_bank_are_configurable(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let f = class_with_exams(&app, "alpha", &["Ada"]).await;
    let put = |path: &'static str, body: Value| f.admin.put(path, body);
    // Ada is rated for Punctuality; Punctuality cannot be dropped, others can.
    let res = f
        .admin
        .post(
            &format!(
                "/api/v1/school/exam-sessions/{}/comments/?academic_class={}",
                f.exam_session, f.class_id
            ),
            json!([{"registration": f.pupils["Ada"], "ratings": {"Punctuality": 4},
                         "class_teacher_comment": "Steady work."}]),
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
    let bank = f.admin.get("/api/v1/school/comment-bank/").await.json()["results"].clone();
    assert_eq!(bank.as_array().unwrap().len(), 1);
    // The rating survived and the report card shows the new traits.
    let comments = f
        .admin
        .get(&format!(
            "/api/v1/school/exam-sessions/{}/comments/?academic_class={}",
            f.exam_session, f.class_id
        ))
        .await
        .json();
    assert_eq!(comments[0]["ratings"]["Punctuality"], 4);
    assert_eq!(comments[0]["class_teacher_comment"], "Steady work.");
}

/// Published results keep the grading scale they were published with.
#[sqlx::test(migrations = false)]
async fn published_results_are_frozen(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let f = class_with_exams(&app, "alpha", &CLASS).await;
    enter_hand_computed_marks(&f).await;
    let session = format!("/api/v1/school/exam-sessions/{}/", f.exam_session);
    let patch_session = |status: &str| {
        f.admin.patch(
            &session,
            json!({"status": status, "confirm_outstanding": true}),
        )
    };
    assert_eq!(patch_session("published").await.status, StatusCode::OK);
    let res = f
        .admin
        .patch(
            "/api/v1/school/settings/assessment/",
            json!({"grading": [{"grade": "P", "min_score": 50, "remark": "Pass"},
                                    {"grade": "F", "min_score": 0, "remark": "Fail"}],
                        "report": {"rank_by": "total"}}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let r = results(&f).await;
    assert_eq!(subject_of(&r, &f, "Ada", "Basic Science")["grade"], "B2");
    assert_eq!(r["rank_by"], "average");
    assert_eq!(pupil(&r, &f, "Chi")["position"], 1);
    // Unpublished again: the school's current settings apply.
    assert_eq!(patch_session("closed").await.status, StatusCode::OK);
    let r = results(&f).await;
    assert_eq!(subject_of(&r, &f, "Ada", "Basic Science")["grade"], "P");
    assert_eq!(r["rank_by"], "total");
}

/// Comments keep their writer: the head saving the class's page does not sign the class
/// teacher's comments; bad rows save nothing.
#[sqlx::test(migrations = false)]
async fn comments_are_signed_by_their_writer_and_saved_whole(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let f = class_with_exams(&app, "alpha", &["Ada", "Bola"]).await;
    app.create_staff("alpha", "head@alpha.test", "Head").await;
    let head = app.as_staff("alpha", "head@alpha.test").await;
    let path = format!(
        "/api/v1/school/exam-sessions/{}/comments/?academic_class={}",
        f.exam_session, f.class_id
    );
    let (ada, bola) = (f.pupils["Ada"], f.pupils["Bola"]);
    let res = f
        .admin
        .post(
            &path,
            json!([{"registration": ada, "class_teacher_comment": "Neat and punctual.",
                         "ratings": {"Neatness": 5, "Punctuality": 4}},
                        {"registration": bola, "class_teacher_comment": "Talkative."}]),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    // The head re-sends Ada's comment unchanged with a head comment: the writer stays.
    let res = head
        .post(
            &path,
            json!([{"registration": ada, "class_teacher_comment": "Neat and punctual.",
                         "head_teacher_comment": "Well done.", "ratings": {"Punctuality": null}}]),
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
    let t = app.as_staff("alpha", "t@alpha.test").await;
    let res = t
        .post(
            &path,
            json!([{"registration": ada, "class_teacher_comment": "Hi"}]),
        )
        .await;
    assert_error_shape(&res, 403);
    // One bad row: nothing saved.
    let res = f
        .admin
        .post(
            &path,
            json!([{"registration": bola, "class_teacher_comment": "Quiet now."},
                        {"registration": bola, "ratings": {"Neatness": 9}}]),
        )
        .await;
    let body = assert_error_shape(&res, 422);
    assert!(body["errors"]["rows[1].registration"].is_array());
    let now = f.admin.get(&path).await.json();
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
    let app = TestApp::new(pool).await;
    let f = class_with_exams(&app, "alpha", &["Ada"]).await;
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
    let set = |text: &str| {
        f.admin.post(
            &api,
            json!([{"registration": ada, "class_teacher_comment": text, "ratings": {"Neatness": 3}}]),
        )
    };
    assert_eq!(set("First words.").await.status, StatusCode::OK);
    // The head opens the page, then the class teacher changes the comment.
    let mut head = app.signed_in("alpha", "head@alpha.test").await;
    let html = head.get(&page).await.text();
    assert!(html.contains(&format!("name=\"ct0_{ada}\" value=\"First words.\"")));
    let token = csrf_of(&html);
    assert_eq!(set("Second thoughts.").await.status, StatusCode::OK);
    // The head saves their page: only the head's comment was changed on it.
    let neat = {
        let traits = f.admin.get("/api/v1/school/rating-traits/").await.json()["results"].clone();
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
    let now = f.admin.get(&api).await.json();
    assert_eq!(now[0]["class_teacher_comment"], "Second thoughts.");
    assert_eq!(now[0]["head_teacher_comment"], "Well done.");
    assert_eq!(now[0]["ratings"]["Neatness"], 3);
}

/// An exam set up with its own components (CA 30 / Exam 70) takes marks against them; an
/// exam without marks can be deleted, one with marks cannot.
#[sqlx::test(migrations = false)]
async fn an_exam_can_have_its_own_components(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let f = class_with_exams(&app, "alpha", &["Ada"]).await;
    let (_, other_class) = class_of(&f.admin, "JSS 1B").await;
    let maths: i64 = f.admin.get("/api/v1/school/subjects/").await.json()["results"]
        .clone()
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "Mathematics")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let path = format!("/api/v1/school/exam-sessions/{}/exams/", f.exam_session);
    let bad = f.admin.post(&path, json!({"academic_class_id": other_class, "subject_id": maths,
                        "components": [{"name": "CA", "max_score": 30}, {"name": "ca", "max_score": 70}]}))
        .await;
    let body = assert_error_shape(&bad, 422);
    assert!(body["errors"]["components[1].name"].is_array(), "{body}");
    let res = f.admin.post(&path, json!({"academic_class_id": other_class, "subject_id": maths,
                        "components": [{"name": "CA", "max_score": 30}, {"name": "Exam", "max_score": 70}]}))
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    let exam = res.json();
    assert_eq!(exam["components"][1]["max_score"], 70.0);
    let again = f
        .admin
        .post(
            &path,
            json!({"academic_class_id": other_class, "subject_id": maths}),
        )
        .await;
    assert_error_shape(&again, 422);
    let id = exam["id"].as_i64().unwrap();
    let res = f.admin.delete(&format!("/api/v1/school/exams/{id}/")).await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    // JSS 1A's exam uses the defaults; a score over its CA1 maximum of 20 is refused.
    let res = save_marks(
        &f.admin,
        f.exams["Mathematics"],
        json!([{"registration": f.pupils["Ada"], "scores": {"CA1": 25}}]),
    )
    .await;
    assert_error_shape(&res, 422);
    let res = save_marks(
        &f.admin,
        f.exams["Mathematics"],
        json!([{"registration": f.pupils["Ada"], "scores": {"CA1": 20}}]),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK);
    let res = f
        .admin
        .delete(&format!("/api/v1/school/exams/{}/", f.exams["Mathematics"]))
        .await;
    assert_error_shape(&res, 409);
}
