//! Results day at the edges of a real class: which subjects a pupil takes (electives,
//! exemptions), ABS, outstanding marks before closing, a subject added mid-term, and the
//! teacher's outstanding list.

use axum::http::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::{
    Client, TestApp, assert_error_shape, csrf_of,
    fixtures::{ExamClass, assign_teacher, class_with_exams, generate_exams, save_marks, scores},
    pdf_text,
};

fn subject_id(subjects: &Value, name: &str) -> i64 {
    subjects
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap()["id"]
        .as_i64()
        .unwrap()
}

fn subjects_path(f: &ExamClass, pupil: &str) -> String {
    format!(
        "/api/v1/school/sessions/{}/classes/{}/registrations/{}/subjects/",
        f.session_id, f.class_id, f.pupils[pupil]
    )
}

/// subject name → (takes, exempt reason) for a pupil.
async fn taken(client: &Client, path: &str) -> Vec<(String, bool, Value)> {
    let res = client.get(path).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    res.json()["subjects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["subject_name"].as_str().unwrap().to_owned(),
                s["takes"].as_bool().unwrap(),
                s["exempt_reason"].clone(),
            )
        })
        .collect()
}

fn sheet_registrations(sheet: &Value) -> Vec<i64> {
    sheet["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["registration"].as_i64().unwrap())
        .collect()
}

#[sqlx::test(migrations = false)]
async fn subjects_taken_are_validated_and_never_drop_marks(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let f = class_with_exams(&app, "alpha", &["Ada", "Bola"]).await;
    let subjects = f.admin.get("/api/v1/school/subjects/").await.json()["results"].clone();
    let (english, maths) = (
        subject_id(&subjects, "English Language"),
        subject_id(&subjects, "Mathematics"),
    );
    let ada = subjects_path(&f, "Ada");
    // By default every pupil takes every (core) subject of the class.
    assert!(taken(&f.admin, &ada).await.iter().all(|(_, t, _)| *t));

    // A core subject is not an elective; an exemption needs a reason.
    let res = f.admin.put(&ada, json!({"electives": [maths]})).await;
    let body = assert_error_shape(&res, 422);
    assert!(
        body["errors"]["electives[0]"][0]
            .as_str()
            .unwrap()
            .contains("core subject"),
        "{body}"
    );
    let res = f
        .admin
        .put(
            &ada,
            json!({"exemptions": [{"subject_id": english, "reason": "  "}]}),
        )
        .await;
    assert!(assert_error_shape(&res, 422)["errors"]["exemptions[0].reason"].is_array());

    // Ada has Mathematics marks: exempting her would drop them, so it is refused.
    let res = save_marks(
        &f.admin,
        f.exams["Mathematics"],
        json!([{"registration": f.pupils["Ada"], "scores": scores(10.0, 10.0, 40.0)}]),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let res = f
        .admin
        .put(
            &ada,
            json!({"exemptions": [{"subject_id": maths, "reason": "Medical"}]}),
        )
        .await;
    let body = assert_error_shape(&res, 409);
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("Mathematics (First Term Examination)"),
        "{body}"
    );
    assert!(taken(&f.admin, &ada).await.iter().all(|(_, t, _)| *t));

    // Made an elective after the marks were entered, Mathematics stays taken by Ada (her
    // marks count), and leaving it out of her electives is refused like an exemption.
    let class = format!(
        "/api/v1/school/sessions/{}/classes/{}/",
        f.session_id, f.class_id
    );
    let res = f
        .admin
        .patch(
            &class,
            json!({"subjects": [
                {"subject_id": english},
                {"subject_id": maths, "is_elective": true},
                {"subject_id": subject_id(&subjects, "Basic Science")},
            ]}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let maths_row = taken(&f.admin, &ada)
        .await
        .into_iter()
        .find(|(n, _, _)| n == "Mathematics")
        .unwrap();
    assert!(maths_row.1, "Ada holds Mathematics marks: she takes it");
    let res = f.admin.put(&ada, json!({"electives": []})).await;
    assert_error_shape(&res, 409);
    // Bola holds none: the elective is no longer hers.
    let bola = taken(&f.admin, &subjects_path(&f, "Bola")).await;
    assert!(bola.iter().any(|(n, t, _)| n == "Mathematics" && !t));

    // Exempt from English: she leaves its mark sheet, and marks for her there are refused.
    let res = f
        .admin
        .put(
            &ada,
            json!({"electives": [maths],
                   "exemptions": [{"subject_id": english, "reason": "Exempted by the head"}]}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let english_row = taken(&f.admin, &ada)
        .await
        .into_iter()
        .find(|(n, _, _)| n == "English Language")
        .unwrap();
    assert_eq!(
        english_row,
        (
            "English Language".to_owned(),
            false,
            json!("Exempted by the head")
        )
    );
    let sheet = f
        .admin
        .get(&format!(
            "/api/v1/school/exams/{}/marks/",
            f.exams["English Language"]
        ))
        .await
        .json();
    assert_eq!(sheet_registrations(&sheet), [f.pupils["Bola"]]);
    let res = save_marks(
        &f.admin,
        f.exams["English Language"],
        json!([{"registration": f.pupils["Ada"], "scores": scores(10.0, 10.0, 40.0)}]),
    )
    .await;
    let body = assert_error_shape(&res, 422);
    assert!(
        body["errors"]["rows[0].registration"][0]
            .as_str()
            .unwrap()
            .contains("does not take English Language"),
        "{body}"
    );
    // The change is in the school's audit log.
    let audit = f
        .admin
        .get("/api/v1/school/audit/?entity=subjects_taken")
        .await
        .json();
    assert_eq!(audit["count"], 1, "{audit}");
}

#[sqlx::test(migrations = false)]
async fn electives_are_taken_only_by_the_pupils_registered_for_them(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let f = class_with_exams(&app, "alpha", &["Ada", "Bola"]).await;
    let subjects = f.admin.get("/api/v1/school/subjects/").await.json()["results"].clone();
    let science = subject_id(&subjects, "Basic Science");
    let class = format!(
        "/api/v1/school/sessions/{}/classes/{}/",
        f.session_id, f.class_id
    );
    let res = f
        .admin
        .patch(
            &class,
            json!({"subjects": [
                {"subject_id": subject_id(&subjects, "English Language")},
                {"subject_id": subject_id(&subjects, "Mathematics")},
                {"subject_id": science, "is_elective": true},
            ]}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let sheet_of = async |f: &ExamClass| {
        let sheet = f
            .admin
            .get(&format!(
                "/api/v1/school/exams/{}/marks/",
                f.exams["Basic Science"]
            ))
            .await
            .json();
        sheet_registrations(&sheet)
    };
    // Nobody takes the elective yet.
    assert!(sheet_of(&f).await.is_empty());
    let res = f
        .admin
        .put(&subjects_path(&f, "Bola"), json!({"electives": [science]}))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert_eq!(sheet_of(&f).await, [f.pupils["Bola"]]);
    // Ada's results do not list the elective; Bola's list it as outstanding.
    let r = f
        .admin
        .get(&format!(
            "/api/v1/school/exam-sessions/{}/results/?academic_class={}",
            f.exam_session, f.class_id
        ))
        .await
        .json();
    let subjects_of = |name: &str| -> Vec<(i64, String)> {
        r["pupils"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["registration"] == f.pupils[name])
            .unwrap()["subjects"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                (
                    s["exam_id"].as_i64().unwrap(),
                    s["status"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    assert!(
        !subjects_of("Ada")
            .iter()
            .any(|(e, _)| *e == f.exams["Basic Science"])
    );
    assert!(subjects_of("Bola").contains(&(f.exams["Basic Science"], "missing".to_owned())));
    assert_eq!(
        r["pupils"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["subjects_taken"].as_i64().unwrap())
            .collect::<Vec<_>>(),
        [2, 3]
    );
}

#[sqlx::test(migrations = false)]
async fn a_school_never_sees_or_changes_another_school_s_subject_choices(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alpha = class_with_exams(&app, "alpha", &["Ada", "Bola"]).await;
    let beta = class_with_exams(&app, "beta", &["Kemi"]).await;
    let subjects = alpha.admin.get("/api/v1/school/subjects/").await.json()["results"].clone();
    let english = subject_id(&subjects, "English Language");
    let res = alpha
        .admin
        .put(
            &subjects_path(&alpha, "Bola"),
            json!({"exemptions": [{"subject_id": english, "reason": "Alpha's secret reason"}]}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    // Bola's registration in alpha, asked for at beta (beta has one pupil; this id is not
    // beta's, and alpha's row must not be reached through it).
    let path = subjects_path(&alpha, "Bola");
    let res = beta.admin.get(&path).await;
    assert!(!res.text().contains("Alpha's secret reason"));
    assert!(!res.text().contains("ADM/alpha"));
    let res = beta.admin.put(&path, json!({"exemptions": []})).await;
    assert!(
        res.status == StatusCode::NOT_FOUND,
        "{} {}",
        res.status,
        res.text()
    );
    // Alpha's choice is untouched.
    let alpha_bola = taken(&alpha.admin, &path).await;
    assert!(alpha_bola.contains(&(
        "English Language".to_owned(),
        false,
        json!("Alpha's secret reason")
    )));
}

#[sqlx::test(migrations = false)]
async fn only_staff_allowed_to_change_registrations_set_subjects(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let f = class_with_exams(&app, "alpha", &["Ada"]).await;
    app.create_staff("alpha", "teacher@alpha.test", "Teacher")
        .await;
    let teacher = app.as_staff("alpha", "teacher@alpha.test").await;
    let res = teacher
        .put(&subjects_path(&f, "Ada"), json!({"electives": []}))
        .await;
    assert_error_shape(&res, 403);
}

#[sqlx::test(migrations = false)]
async fn abs_has_no_scores_and_prints_as_abs(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let f = class_with_exams(&app, "alpha", &["Ada", "Bola"]).await;
    let maths = f.exams["Mathematics"];
    // ABS with scores contradicts itself: refused, nothing saved.
    let res = save_marks(
        &f.admin,
        maths,
        json!([
            {"registration": f.pupils["Bola"], "scores": scores(10.0, 10.0, 40.0)},
            {"registration": f.pupils["Ada"], "scores": scores(10.0, 10.0, 40.0), "absent": true},
        ]),
    )
    .await;
    let body = assert_error_shape(&res, 422);
    assert!(body["errors"]["rows[1].absent"].is_array(), "{body}");
    let sheet = f
        .admin
        .get(&format!("/api/v1/school/exams/{maths}/marks/"))
        .await
        .json();
    assert!(
        sheet["rows"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["total"].is_null() && r["absent"] == false)
    );
    // ABS alone is saved, and shown as ABS on the sheet, the results and the card.
    let res = save_marks(
        &f.admin,
        maths,
        json!([{"registration": f.pupils["Ada"], "scores": {}, "absent": true}]),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let sheet = f
        .admin
        .get(&format!("/api/v1/school/exams/{maths}/marks/"))
        .await
        .json();
    assert_eq!(sheet["rows"][0]["absent"], true);
    // A score given later while ABS stands is refused until ABS is cleared.
    let res = save_marks(
        &f.admin,
        maths,
        json!([{"registration": f.pupils["Ada"], "scores": {"CA1": 12}}]),
    )
    .await;
    assert_error_shape(&res, 422);
    let res = f
        .admin
        .get(&format!(
            "/api/v1/school/exam-sessions/{}/report-cards/{}/pdf/",
            f.exam_session, f.pupils["Ada"]
        ))
        .await;
    assert_eq!(res.status, StatusCode::OK);
    let (_, text) = pdf_text(&res.body);
    assert!(text.contains("ABS"), "{text}");
    // Clearing ABS lets marks in again.
    let res = save_marks(
        &f.admin,
        maths,
        json!([{"registration": f.pupils["Ada"], "scores": {"CA1": 12}, "absent": false}]),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
}

#[sqlx::test(migrations = false)]
async fn a_subject_added_mid_term_gets_its_exam(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let f = class_with_exams(&app, "alpha", &["Ada"]).await;
    let res = f
        .admin
        .post(
            "/api/v1/school/subjects/",
            json!({"name": "Civic Education", "code": "CIV"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    let subjects = f.admin.get("/api/v1/school/subjects/").await.json()["results"].clone();
    let class = format!(
        "/api/v1/school/sessions/{}/classes/{}/",
        f.session_id, f.class_id
    );
    let offered: Vec<Value> = [
        "English Language",
        "Mathematics",
        "Basic Science",
        "Civic Education",
    ]
    .iter()
    .map(|n| json!({"subject_id": subject_id(&subjects, n)}))
    .collect();
    let res = f.admin.patch(&class, json!({"subjects": offered})).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());

    // The exam session page offers to set up the missing exam.
    let mut page = app.signed_in("alpha", "admin@alpha.test").await;
    let html = page
        .get(&format!("/exams/sessions/{}", f.exam_session))
        .await
        .text();
    assert!(html.contains("Set up missing exams"), "{html}");
    assert!(html.contains("1 without exam"), "{html}");
    let csrf = csrf_of(&html);
    let res = page
        .post(
            &format!("/exams/sessions/{}/generate", f.exam_session),
            &[("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let exams = generate_exams(&f.admin, f.exam_session, f.class_id).await;
    assert!(exams.contains_key("Civic Education"), "{exams:?}");
    let html = page
        .get(&format!("/exams/sessions/{}", f.exam_session))
        .await
        .text();
    assert!(!html.contains("1 without exam"), "{html}");
}

#[sqlx::test(migrations = false)]
async fn a_teacher_sees_their_outstanding_marks_on_the_dashboard(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let f = class_with_exams(&app, "alpha", &["Ada", "Bola"]).await;
    let teacher = app
        .create_staff("alpha", "teacher@alpha.test", "Teacher")
        .await;
    assign_teacher(&app, "alpha", f.class_id, "Mathematics", teacher).await;
    let res = save_marks(
        &f.admin,
        f.exams["Mathematics"],
        json!([{"registration": f.pupils["Ada"], "scores": scores(10.0, 10.0, 40.0)}]),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK);
    let mut page = app.signed_in("alpha", "teacher@alpha.test").await;
    let html = page.get("/").await.text();
    assert!(html.contains("JSS 1A · Mathematics"), "{html}");
    assert!(html.contains("1 / 2"), "{html}");
    assert!(html.contains("Test Bola"), "{html}");
    // Not the subjects someone else teaches.
    assert!(!html.contains("JSS 1A · English Language"), "{html}");
}

#[sqlx::test(migrations = false)]
async fn the_pupil_subjects_page_keeps_what_was_typed_on_an_error(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let f = class_with_exams(&app, "alpha", &["Ada"]).await;
    let subjects = f.admin.get("/api/v1/school/subjects/").await.json()["results"].clone();
    let english = subject_id(&subjects, "English Language").to_string();
    let path = format!(
        "/classes/{}/pupils/{}/subjects",
        f.class_id, f.pupils["Ada"]
    );
    let mut page = app.signed_in("alpha", "admin@alpha.test").await;
    let html = page.get(&path).await.text();
    assert!(html.contains("Subjects · Test Ada"), "{html}");
    let csrf = csrf_of(&html);
    // Exempt without a reason: the form comes back with the box still ticked.
    let res = page
        .post(
            &path,
            &[
                ("csrf_token", &csrf),
                ("exempt", &english),
                (&format!("reason_{english}"), ""),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text();
    assert!(html.contains("Give the reason"), "{html}");
    assert!(
        html.contains(&format!(r#"name="exempt" value="{english}" checked"#)),
        "{html}"
    );
    let res = page
        .post(
            &path,
            &[
                ("csrf_token", &csrf),
                ("exempt", &english),
                (&format!("reason_{english}"), "Joined from abroad"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text());
    let html = page.get(&path).await.text();
    assert!(html.contains("Joined from abroad"), "{html}");
}

#[sqlx::test(migrations = false)]
async fn a_save_based_on_stale_values_is_refused_and_undoes_nothing(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let f = class_with_exams(&app, "alpha", &["Ada", "Bola"]).await;
    let maths = f.exams["Mathematics"];
    let (ada, bola) = (f.pupils["Ada"], f.pupils["Bola"]);
    let res = save_marks(
        &f.admin,
        maths,
        json!([{"registration": ada, "scores": {"CA1": 12}}]),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK);
    // A second client still showing Ada's CA1 empty: refused, and Bola's row with it.
    let res = save_marks(
        &f.admin,
        maths,
        json!([
            {"registration": bola, "scores": {"CA1": 9}, "seen": {"CA1": null}},
            {"registration": ada, "scores": {"CA1": 15}, "seen": {"CA1": null}},
        ]),
    )
    .await;
    let body = assert_error_shape(&res, 409);
    let detail = body["detail"].as_str().unwrap();
    assert!(detail.contains("Row 2 (Test Ada)"), "{detail}");
    assert!(detail.contains("CA1 is now 12"), "{detail}");
    let sheet = f
        .admin
        .get(&format!("/api/v1/school/exams/{maths}/marks/"))
        .await
        .json();
    let ca1: Vec<Value> = sheet["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["scores"]["CA1"].clone())
        .collect();
    assert_eq!(ca1, [json!(12.0), Value::Null]);
    // Based on what is stored, the same save goes through.
    let res = save_marks(
        &f.admin,
        maths,
        json!([{"registration": ada, "scores": {"CA1": 15}, "seen": {"CA1": 12}}]),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
}

mod figures {
    //! The results computation on figures chosen to sit on rounding boundaries.
    use crate::helpers::internals::{
        config::{GradeBand, GradingScale, ReportSettings},
        results::{ClassData, ExamSubject, Pupil, compute},
    };

    fn settings(rank_by: &str, cumulative: &str) -> ReportSettings {
        ReportSettings {
            show_position: true,
            show_class_stats: true,
            rank_by: rank_by.into(),
            cumulative_method: cumulative.into(),
            first_term_weight: 20,
            second_term_weight: 30,
            third_term_weight: 50,
            absent_counts_as: "zero".into(),
        }
    }

    fn scale() -> GradingScale {
        GradingScale {
            bands: vec![
                GradeBand {
                    grade: "A".into(),
                    min_score: 60.34,
                    remark: String::new(),
                },
                GradeBand {
                    grade: "B".into(),
                    min_score: 0.0,
                    remark: String::new(),
                },
            ],
        }
    }

    fn class(subjects: usize, pupils: usize, term: i16) -> ClassData {
        ClassData {
            exam_session_id: 1,
            term_ordinal: term,
            academic_class_id: 1,
            class_name: "JSS 1A".into(),
            subjects: (0..subjects as i64)
                .map(|i| ExamSubject {
                    exam_id: 100 + i,
                    subject_id: i,
                    subject_name: format!("Subject {i}"),
                    components: 1,
                })
                .collect(),
            pupils: (0..pupils as i64)
                .map(|i| Pupil {
                    registration: i,
                    student_id: i,
                    admission_no: format!("A{i}"),
                    full_name: format!("Pupil {i}"),
                })
                .collect(),
            taken: Vec::new(),
            absent: Vec::new(),
            totals: Vec::new(),
            earlier_terms: Vec::new(),
            outstanding_confirmed: false,
        }
    }

    /// Pupil 0 takes 9 subjects summing 544 (60.444…), pupil 1 takes 16 summing 967
    /// (60.4375): both are printed 60.44, so they share first place; pupil 2 (60.43) is third.
    #[test]
    fn pupils_shown_the_same_average_share_a_position() {
        let mut data = class(16, 3, 1);
        let mut give = |pupil: i64, totals: &[f64]| {
            for (i, t) in totals.iter().enumerate() {
                data.taken.push((100 + i as i64, pupil));
                data.totals.push((100 + i as i64, pupil, *t, 1));
            }
        };
        let mut nine = vec![60.5; 8];
        nine.push(544.0 - 60.5 * 8.0);
        give(0, &nine);
        let mut sixteen = vec![60.5; 15];
        sixteen.push(967.0 - 60.5 * 15.0);
        give(1, &sixteen);
        give(2, &[60.5, 60.36]);
        let r = compute(&data, &scale(), &settings("average", "none"));
        let shown: Vec<(Option<f64>, Option<i64>)> =
            r.pupils.iter().map(|p| (p.average, p.position)).collect();
        assert_eq!(
            shown,
            [
                (Some(60.44), Some(1)),
                (Some(60.44), Some(1)),
                (Some(60.43), Some(3))
            ]
        );
        // Graded on the printed figure too: 60.44 is an A (from 60.34), 60.43 as well.
        assert_eq!(r.pupils[0].grade.as_deref(), Some("A"));
    }

    /// Third term: the cumulative average is the mean of the exact subject cumulatives,
    /// rounded once (60.3356 → 60.34), not the mean of rounded ones (60.3333 → 60.33), and
    /// its grade grades that printed figure.
    #[test]
    fn the_cumulative_average_is_rounded_once() {
        let mut data = class(3, 1, 3);
        // Average of the terms: (first, second, third) per subject.
        let terms = [
            (60.0, 60.5, 60.5),  // 181 / 3 = 60.333…
            (60.0, 60.5, 60.5),  // 60.333…
            (60.0, 60.52, 60.5), // 181.02 / 3 = 60.34
        ];
        for (i, (t1, t2, t3)) in terms.iter().enumerate() {
            let exam = 100 + i as i64;
            data.taken.push((exam, 0));
            data.totals.push((exam, 0, *t3, 1));
            data.earlier_terms.push((1, 0, i as i64, *t1));
            data.earlier_terms.push((2, 0, i as i64, *t2));
        }
        let r = compute(&data, &scale(), &settings("average", "average"));
        let p = &r.pupils[0];
        assert_eq!(p.cumulative_average, Some(60.34));
        assert_eq!(p.cumulative_grade.as_deref(), Some("A"));
        let cums: Vec<Option<f64>> = p.subjects.iter().map(|s| s.cumulative).collect();
        assert_eq!(cums, [Some(60.33), Some(60.33), Some(60.34)]);
        // Each subject's cumulative grade grades its printed cumulative.
        let grades: Vec<Option<&str>> = p
            .subjects
            .iter()
            .map(|s| s.cumulative_grade.as_deref())
            .collect();
        assert_eq!(grades, [Some("B"), Some("B"), Some("A")]);
    }
}

#[sqlx::test(migrations = false)]
async fn a_long_subject_teacher_remark_prints_whole_on_one_page(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let f = class_with_exams(&app, "alpha", &["Ada"]).await;
    let remark = "Ada reads carefully and shows her working; she should revise fractions \
                  and ratios before the next term, practise past questions weekly, and ask \
                  for help early when a topic feels difficult. Promising.";
    assert!(remark.chars().count() <= 200);
    for subject in ["English Language", "Mathematics", "Basic Science"] {
        let res = save_marks(
            &f.admin,
            f.exams[subject],
            json!([{"registration": f.pupils["Ada"], "scores": scores(10.0, 10.0, 40.0),
                     "teacher_remark": remark}]),
        )
        .await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    }
    let res = f
        .admin
        .get(&format!(
            "/api/v1/school/exam-sessions/{}/report-cards/{}/pdf/",
            f.exam_session, f.pupils["Ada"]
        ))
        .await;
    assert_eq!(res.status, StatusCode::OK);
    let (pages, text) = pdf_text(&res.body);
    assert_eq!(pages, 1);
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    for word in [
        "carefully",
        "fractions",
        "weekly,",
        "difficult.",
        "Promising.",
    ] {
        assert_eq!(flat.matches(word).count(), 3, "{word} in {flat}");
    }
    std::fs::write(
        std::env::temp_dir().join("card-long-remarks.pdf"),
        &res.body,
    )
    .unwrap();
}

#[sqlx::test(migrations = false)]
async fn one_subject_is_reopened_for_corrections_without_reopening_the_session(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let f = class_with_exams(&app, "alpha", &["Ada"]).await;
    let teacher_id = app
        .create_staff("alpha", "teacher@alpha.test", "Teacher")
        .await;
    assign_teacher(&app, "alpha", f.class_id, "Mathematics", teacher_id).await;
    let teacher = app.as_staff("alpha", "teacher@alpha.test").await;
    let maths = f.exams["Mathematics"];
    let english = f.exams["English Language"];
    let row = |ca1: f64| json!([{"registration": f.pupils["Ada"], "scores": {"CA1": ca1}}]);
    let session = format!("/api/v1/school/exam-sessions/{}/", f.exam_session);
    let corrections = format!("{session}corrections/");

    // Only a closed session has subjects reopened one by one.
    let res = f
        .admin
        .post(&corrections, json!({"exam_id": maths, "open": true}))
        .await;
    assert_error_shape(&res, 409);
    let res = f
        .admin
        .patch(
            &session,
            json!({"status": "closed", "confirm_outstanding": true}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert_error_shape(&save_marks(&teacher, maths, row(10.0)).await, 409);

    // The teacher may not reopen; the head (admin here) reopens Mathematics alone.
    assert_error_shape(
        &teacher
            .post(&corrections, json!({"exam_id": maths, "open": true}))
            .await,
        403,
    );
    let res = f
        .admin
        .post(&corrections, json!({"exam_id": maths, "open": true}))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert_eq!(res.json()["changed"], 1);
    let res = save_marks(&teacher, maths, row(10.0)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert_error_shape(&save_marks(&f.admin, english, row(10.0)).await, 409);

    // Publishing waits for the correction to be closed again.
    let publish = json!({"status": "published", "confirm_outstanding": true});
    let body = assert_error_shape(&f.admin.patch(&session, publish.clone()).await, 409);
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("JSS 1A Mathematics"),
        "{body}"
    );
    let res = f
        .admin
        .post(&corrections, json!({"exam_id": maths, "open": false}))
        .await;
    assert_eq!(res.status, StatusCode::OK);
    assert_error_shape(&save_marks(&teacher, maths, row(11.0)).await, 409);
    let res = f.admin.patch(&session, publish).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let audit = f
        .admin
        .get("/api/v1/school/audit/?entity=exam&action=reopen")
        .await
        .json();
    assert_eq!(audit["count"], 1, "{audit}");
}

/// A pupil who moves arm within a term takes the term's marks along: one card, in the class
/// they are in at the end of the term; the old class no longer lists or counts them.
#[sqlx::test(migrations = false)]
async fn a_pupil_who_moves_arm_mid_term_has_one_set_of_marks_and_one_card(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let f = class_with_exams(&app, "alpha", &crate::helpers::fixtures::CLASS).await;
    crate::helpers::fixtures::enter_hand_computed_marks(&f).await;
    let (_, jss1b) = crate::helpers::fixtures::class_of(&f.admin, "JSS 1B").await;
    // JSS 1B offers the same subjects; its exams are not set up yet (the move sets up the
    // ones the pupil's marks need, with the same components).
    let res = f
        .admin
        .post(
            &format!(
                "/api/v1/school/sessions/{}/classes/{jss1b}/registrations/",
                f.session_id
            ),
            json!({"student_id": f.students["Chi"]}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    let chi_now = res.json()["id"].as_i64().unwrap();

    let results_of = async |class: i64| {
        f.admin
            .get(&format!(
                "/api/v1/school/exam-sessions/{}/results/?academic_class={class}",
                f.exam_session
            ))
            .await
            .json()
    };
    let old = results_of(f.class_id).await;
    let names = |r: &Value| -> Vec<String> {
        r["pupils"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["full_name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert!(!names(&old).contains(&"Test Chi".to_owned()), "{old}");
    assert_eq!(old["out_of"], 5);
    assert_eq!(old["pupils"].as_array().unwrap().len(), 5);
    // The old class's mark sheet no longer offers Chi.
    let sheet = f
        .admin
        .get(&format!(
            "/api/v1/school/exams/{}/marks/",
            f.exams["Mathematics"]
        ))
        .await
        .json();
    assert!(!sheet_registrations(&sheet).contains(&f.pupils["Chi"]));

    // In JSS 1B: Chi with the 91 in Mathematics, still exempt from English.
    let new = results_of(jss1b).await;
    assert_eq!(names(&new), ["Test Chi"]);
    let chi = &new["pupils"][0];
    assert_eq!(chi["registration"], chi_now);
    assert_eq!(chi["total"], 91.0);
    assert_eq!(chi["subjects_taken"], 1);
    assert_eq!(new["out_of"], 1);
    let res = f
        .admin
        .get(&format!(
            "/api/v1/school/exam-sessions/{}/report-cards/{chi_now}/pdf/",
            f.exam_session
        ))
        .await;
    assert_eq!(res.status, StatusCode::OK);
    let (_, text) = pdf_text(&res.body);
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(flat.contains("Class: JSS 1B"), "{flat}");
    assert!(flat.contains("No. in class: 1"), "{flat}");

    // The old class's page says where Chi went.
    let mut page = app.signed_in("alpha", "admin@alpha.test").await;
    let html = page.get(&format!("/classes/{}", f.class_id)).await.text();
    assert!(html.contains("moved to JSS 1B"), "{html}");
}

#[sqlx::test(migrations = false)]
async fn a_move_that_would_strand_marks_is_refused(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let f = class_with_exams(&app, "alpha", &["Ada"]).await;
    let res = save_marks(
        &f.admin,
        f.exams["Basic Science"],
        json!([{"registration": f.pupils["Ada"], "scores": scores(10.0, 10.0, 40.0)}]),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK);
    // JSS 1B stops offering Basic Science: Ada's marks there could not follow her.
    let (_, jss1b) = crate::helpers::fixtures::class_of(&f.admin, "JSS 1B").await;
    let subjects = f.admin.get("/api/v1/school/subjects/").await.json()["results"].clone();
    let res = f
        .admin
        .patch(
            &format!("/api/v1/school/sessions/{}/classes/{jss1b}/", f.session_id),
            json!({"subjects": [
                {"subject_id": subject_id(&subjects, "English Language")},
                {"subject_id": subject_id(&subjects, "Mathematics")},
            ]}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let res = f
        .admin
        .post(
            &format!(
                "/api/v1/school/sessions/{}/classes/{jss1b}/registrations/",
                f.session_id
            ),
            json!({"student_id": f.students["Ada"]}),
        )
        .await;
    let body = assert_error_shape(&res, 409);
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("Basic Science (First Term Examination)"),
        "{body}"
    );
    // Nothing moved: Ada is still in JSS 1A with her mark.
    let sheet = f
        .admin
        .get(&format!(
            "/api/v1/school/exams/{}/marks/",
            f.exams["Basic Science"]
        ))
        .await
        .json();
    assert_eq!(sheet["rows"][0]["total"], 60.0);
}

/// A subject with some components still empty is not a result: no grade, no subject
/// position, left out of the class's figures for the subject, and printed "20*" with
/// "Incomplete" on the card.
#[sqlx::test(migrations = false)]
async fn partly_entered_marks_are_shown_as_incomplete_not_graded(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let f = class_with_exams(&app, "alpha", &["Ada", "Bola"]).await;
    let maths = f.exams["Mathematics"];
    let res = save_marks(
        &f.admin,
        maths,
        json!([
            {"registration": f.pupils["Ada"], "scores": {"CA1": 20}},
            {"registration": f.pupils["Bola"], "scores": scores(10.0, 10.0, 40.0)},
        ]),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let sheet = f
        .admin
        .get(&format!("/api/v1/school/exams/{maths}/marks/"))
        .await
        .json();
    assert_eq!(sheet["rows"][0]["total"], 20.0);
    assert_eq!(
        sheet["rows"][0]["grade"],
        Value::Null,
        "a half-filled row is not graded"
    );
    let r = f
        .admin
        .get(&format!(
            "/api/v1/school/exam-sessions/{}/results/?academic_class={}",
            f.exam_session, f.class_id
        ))
        .await
        .json();
    let ada = r["pupils"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["registration"] == f.pupils["Ada"])
        .unwrap()["subjects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["exam_id"] == maths)
        .unwrap()
        .clone();
    assert_eq!(
        (&ada["status"], &ada["grade"], &ada["position"]),
        (&json!("partial"), &Value::Null, &Value::Null)
    );
    let stats = r["subjects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["exam_id"] == maths)
        .unwrap()
        .clone();
    assert_eq!(
        (&stats["pupils"], &stats["lowest"], &stats["average"]),
        (&json!(1), &json!(60.0), &json!(60.0)),
        "Ada's 20 so far is not the class's lowest"
    );
    let res = f
        .admin
        .get(&format!(
            "/api/v1/school/exam-sessions/{}/report-cards/{}/pdf/",
            f.exam_session, f.pupils["Ada"]
        ))
        .await;
    let (_, text) = pdf_text(&res.body);
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(flat.contains("20*"), "{flat}");
    assert!(flat.contains("Incomplete"), "{flat}");
    assert!(
        !flat.contains("F9 Fail") && !flat.contains("Fail Mathematics"),
        "{flat}"
    );
}
