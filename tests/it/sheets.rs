//! Spreadsheets and printouts: the broadsheet (landscape PDF and `.xlsx`, read back) with
//! the results meeting's summary, with their permissions.

use std::io::Cursor;

use axum::http::{StatusCode, header};
use calamine::{Reader, Xlsx};
use serde_json::json;
use sqlx::PgPool;

use crate::helpers::{
    Client, TestApp, assert_error_shape,
    fixtures::{
        CLASS, ExamClass, class_with_exams, enter_hand_computed_marks, save_marks,
        school_with_year, scores,
    },
    internals::{
        broadsheet::{self, Broadsheet, Paper},
        config::{GradeBand, GradingScale, ReportSettings},
        exams::{ExamSession, ExamSessionStatus},
        pdf,
        results::{self, ClassData, ExamSubject, Pupil},
    },
    pdf_text,
};

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// A workbook's sheet (the first one when `sheet` is `None`) as rows of text.
fn xlsx_rows(bytes: &[u8], sheet: Option<&str>) -> Vec<Vec<String>> {
    let mut book: Xlsx<_> =
        calamine::open_workbook_from_rs(Cursor::new(bytes.to_vec())).expect("a readable workbook");
    let name = sheet
        .map(str::to_owned)
        .unwrap_or_else(|| book.sheet_names()[0].clone());
    let range = book.worksheet_range(&name).expect("the sheet");
    let (top, _) = range.start().unwrap_or((0, 0));
    let mut rows: Vec<Vec<String>> = vec![Vec::new(); top as usize];
    rows.extend(
        range
            .rows()
            .map(|r| r.iter().map(|c| c.to_string()).collect()),
    );
    rows
}

fn row_of<'a>(rows: &'a [Vec<String>], column: usize, text: &str) -> &'a Vec<String> {
    rows.iter()
        .find(|r| r.get(column).is_some_and(|c| c == text))
        .unwrap_or_else(|| panic!("no row with {text:?} in column {column}"))
}

/// The page size of a PDF's first page, in points.
fn page_size(bytes: &[u8]) -> (f32, f32) {
    let doc = lopdf::Document::load_mem(bytes).unwrap();
    let (_, page) = doc.get_pages().into_iter().next().unwrap();
    let dict = doc.get_dictionary(page).unwrap();
    let media = dict.get(b"MediaBox").unwrap().as_array().unwrap();
    let n = |i: usize| media[i].as_float().unwrap();
    (n(2) - n(0), n(3) - n(1))
}

async fn subject_codes(client: &Client) -> Vec<(String, String)> {
    client
        .get("/api/v1/school/subjects/")
        .await
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["code"].as_str().unwrap().to_owned(),
                s["name"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn results_path(f: &ExamClass, what: &str) -> String {
    format!(
        "/api/v1/school/exam-sessions/{}/results/{what}?academic_class={}",
        f.exam_session, f.class_id
    )
}

#[sqlx::test(migrations = false)]
async fn the_broadsheet_pdf_and_xlsx_hold_every_pupil_and_subject(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let f = class_with_exams(&app, "alpha", &CLASS).await;
    enter_hand_computed_marks(&f).await;
    let codes = subject_codes(&f.admin).await;

    // The PDF: landscape A4, every pupil, every subject's code (and, on the summary page,
    // its name), their figures as results computed them.
    let res = f.admin.get(&results_path(&f, "broadsheet.pdf")).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert_eq!(res.headers[header::CONTENT_TYPE], "application/pdf");
    if let Ok(dir) = std::env::var("SCREENSHOT_DIR") {
        let _ = std::fs::write(format!("{dir}/broadsheet.pdf"), &res.body);
    }
    let (w, h) = page_size(&res.body);
    assert!(
        (w - 841.89).abs() < 0.5 && (h - 595.28).abs() < 0.5,
        "{w}×{h}"
    );
    let (pages, text) = pdf_text(&res.body);
    assert_eq!(pages, 2, "the table, then the meeting summary:\n{text}");
    for name in CLASS {
        assert!(text.contains(&format!("Test {name}")), "{name}:\n{text}");
    }
    for (code, name) in &codes {
        assert!(text.contains(code.as_str()), "{code}:\n{text}");
        assert!(text.contains(name.as_str()), "{name}:\n{text}");
    }
    for figure in [
        "69.33", "72.5", "74.5", "ABS", "w/h", "1st", "2nd", "4th", "83.3%", "100%",
    ] {
        assert!(text.contains(figure), "{figure}:\n{text}");
    }
    assert!(text.contains("Pass mark 40 (E8 and above)"), "{text}");
    // The page route gives the same document; A3 when asked for.
    let mut browser = app.signed_in("alpha", "admin@alpha.test").await;
    let page = browser
        .get(&format!(
            "/exams/sessions/{}/classes/{}/broadsheet.pdf?paper=a3",
            f.exam_session, f.class_id
        ))
        .await;
    assert_eq!(page.status, StatusCode::OK);
    let (w, _) = page_size(&page.body);
    assert!((w - 1190.55).abs() < 0.5, "{w}");

    // The workbook: the same pupils and subjects, figures as numbers.
    let res = f.admin.get(&results_path(&f, "broadsheet.xlsx")).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert_eq!(res.headers[header::CONTENT_TYPE], XLSX);
    let disposition = res.headers[header::CONTENT_DISPOSITION].to_str().unwrap();
    assert!(
        disposition.starts_with("attachment; filename=\"broadsheet-JSS-1A-")
            && disposition.ends_with(".xlsx\""),
        "{disposition}"
    );
    let rows = xlsx_rows(&res.body, Some("Broadsheet"));
    let head = &rows[4];
    for (_, name) in &codes {
        assert!(head.contains(name), "{name} in {head:?}");
    }
    let col = |subject: &str| head.iter().position(|h| h == subject).unwrap();
    let tail = |label: &str| head.iter().position(|h| h == label).unwrap();
    for name in CLASS {
        row_of(&rows, 2, &format!("Test {name}"));
    }
    let ada = row_of(&rows, 2, "Test Ada");
    assert_eq!(ada[col("English Language")], "83");
    assert_eq!(ada[col("English Language") + 1], "A1");
    assert_eq!(ada[col("Basic Science")], "74.5");
    assert_eq!(ada[col("Basic Science") + 1], "B2");
    assert_eq!(ada[tail("Average")], "72.5");
    assert_eq!(ada[tail("Position")], "2nd");
    let dayo = row_of(&rows, 2, "Test Dayo");
    assert_eq!(dayo[col("English Language")], "ABS");
    assert_eq!(dayo[tail("Average")], "15");
    let efe = row_of(&rows, 2, "Test Efe");
    assert_eq!(efe[col("English Language")], "–");
    assert_eq!(efe[tail("Position")], "w/h");
    let chi = row_of(&rows, 2, "Test Chi");
    assert_eq!(chi[col("English Language")], "", "exempt: not taken");
    let rate = row_of(&rows, 0, "Pass rate %");
    assert_eq!(rate[col("Mathematics")].parse::<f64>().unwrap(), 83.3);
    let summary = xlsx_rows(&res.body, Some("Summary"));
    let maths = row_of(&summary, 1, "Mathematics");
    assert_eq!(maths[9].parse::<f64>().unwrap(), 83.3, "{maths:?}");
    row_of(&summary, 1, "Pupils' averages");
    for name in [
        "Test Chi",
        "Test Ada",
        "Test Femi",
        "Test Bola",
        "Test Dayo",
    ] {
        row_of(&summary, 1, name);
    }

    // The summary as JSON: counted from the results' own grades.
    let res = f.admin.get(&results_path(&f, "summary/")).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let s = res.json();
    assert_eq!(s["pass_mark"], 40.0);
    assert_eq!(s["pass_grade"], "E8");
    let subject = |name: &str| {
        s["subjects"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["subject_name"] == name)
            .unwrap()
            .clone()
    };
    let m = subject("Mathematics");
    assert_eq!(
        (&m["counted"], &m["passed"], &m["pass_rate"]),
        (&json!(6), &json!(5), &json!(83.3))
    );
    let grades: Vec<(String, i64)> = m["grades"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["grade"].as_str().unwrap().to_owned(),
                g["count"].as_i64().unwrap(),
            )
        })
        .filter(|(_, n)| *n > 0)
        .collect();
    let expected: Vec<(String, i64)> = [("A1", 2), ("B2", 1), ("B3", 1), ("C4", 1), ("F9", 1)]
        .iter()
        .map(|(g, n)| ((*g).to_owned(), *n))
        .collect();
    assert_eq!(grades, expected);
    let e = subject("English Language");
    assert_eq!(
        (
            &e["counted"],
            &e["absent"],
            &e["outstanding"],
            &e["pass_rate"]
        ),
        (&json!(3), &json!(1), &json!(1), &json!(100.0))
    );
    assert_eq!(
        (&s["overall"]["counted"], &s["overall"]["passed"]),
        (&json!(6), &json!(5))
    );
    let top: Vec<(String, i64)> = s["top_pupils"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["full_name"].as_str().unwrap().to_owned(),
                p["position"].as_i64().unwrap(),
            )
        })
        .collect();
    let expected: Vec<(String, i64)> = [
        ("Test Chi", 1),
        ("Test Ada", 2),
        ("Test Femi", 2),
        ("Test Bola", 4),
        ("Test Dayo", 5),
    ]
    .iter()
    .map(|(n, p)| ((*n).to_owned(), *p))
    .collect();
    assert_eq!(top, expected, "Efe's position is withheld");

    // The results page links them; the summary page shows the rates.
    let results = browser
        .get(&format!(
            "/exams/sessions/{}/classes/{}/results",
            f.exam_session, f.class_id
        ))
        .await
        .text();
    for link in ["broadsheet.pdf", "broadsheet.xlsx", "/summary"] {
        assert!(results.contains(link), "{link}");
    }
    let summary = browser
        .get(&format!(
            "/exams/sessions/{}/classes/{}/summary",
            f.exam_session, f.class_id
        ))
        .await;
    assert_eq!(summary.status, StatusCode::OK);
    let html = summary.text();
    assert!(
        html.contains("83.3%") && html.contains("Test Chi"),
        "{html}"
    );
}

#[sqlx::test(migrations = false)]
async fn broadsheets_need_view_results_and_stay_in_their_school(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let f = class_with_exams(&app, "alpha", &["Ada"]).await;
    save_marks(
        &f.admin,
        f.exams["Mathematics"],
        json!([{"registration": f.pupils["Ada"], "scores": scores(10.0, 10.0, 40.0)}]),
    )
    .await;
    app.create_staff("alpha", "bursar@alpha.test", "Bursar")
        .await;
    app.create_staff("alpha", "teacher@alpha.test", "Teacher")
        .await;
    let bursar = app.as_staff("alpha", "bursar@alpha.test").await;
    let teacher = app.as_staff("alpha", "teacher@alpha.test").await;
    for what in ["broadsheet.pdf", "broadsheet.xlsx", "summary/"] {
        assert_error_shape(&bursar.get(&results_path(&f, what)).await, 403);
        let res = teacher.get(&results_path(&f, what)).await;
        assert_eq!(res.status, StatusCode::OK, "{what}: {}", res.text());
    }
    let mut page = app.signed_in("alpha", "bursar@alpha.test").await;
    let res = page
        .get(&format!(
            "/exams/sessions/{}/classes/{}/broadsheet.xlsx",
            f.exam_session, f.class_id
        ))
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);

    // Bad input is a 4xx in the error shape.
    let bad_paper = format!("{}&paper=letter", results_path(&f, "broadsheet.pdf"));
    let body = assert_error_shape(&f.admin.get(&bad_paper).await, 422);
    assert!(body["errors"]["paper"].is_array(), "{body}");
    let other_class = format!(
        "/api/v1/school/exam-sessions/{}/results/broadsheet.pdf?academic_class=999999",
        f.exam_session
    );
    assert_error_shape(&f.admin.get(&other_class).await, 404);
    let no_class = format!(
        "/api/v1/school/exam-sessions/{}/results/broadsheet.xlsx",
        f.exam_session
    );
    assert_error_shape(&f.admin.get(&no_class).await, 422);

    // Another school sees none of it: its own exam session ids hold nothing of alpha's.
    let beta = school_with_year(&app, "beta").await;
    let res = beta.get(&results_path(&f, "broadsheet.xlsx")).await;
    assert_error_shape(&res, 404);
    let res = beta.get(&results_path(&f, "summary/")).await;
    assert_error_shape(&res, 404);
    assert!(!res.text().contains("Test Ada"));
    // Beta's staff in a browser at beta's address neither.
    let mut page = app.signed_in("beta", "admin@beta.test").await;
    let res = page
        .get(&format!(
            "/exams/sessions/{}/classes/{}/broadsheet.pdf",
            f.exam_session, f.class_id
        ))
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert!(!res.body.starts_with(b"%PDF"));
}

#[test]
fn a_broadsheet_of_many_subjects_goes_a3_and_keeps_every_pupil() {
    // 18 subjects do not fit A4 landscape at a readable width; 50 pupils take two pages.
    let subjects: Vec<ExamSubject> = (1..=18)
        .map(|i| ExamSubject {
            exam_id: i,
            subject_id: i,
            subject_name: format!("Subject number {i}"),
            components: 3,
        })
        .collect();
    let pupils: Vec<Pupil> = (1..=50)
        .map(|p| Pupil {
            registration: p,
            student_id: p,
            admission_no: format!("ADM/2025/{p:04}"),
            full_name: format!("Oluwaseun Pupil{p:02} Adébáyọ̀"),
        })
        .collect();
    let mut taken = Vec::new();
    let mut totals = Vec::new();
    for s in &subjects {
        for p in &pupils {
            taken.push((s.exam_id, p.registration));
            totals.push((
                s.exam_id,
                p.registration,
                ((p.registration * 7 + s.exam_id * 13) % 61 + 35) as f64,
                3,
            ));
        }
    }
    let data = ClassData {
        exam_session_id: 1,
        term_ordinal: 1,
        academic_class_id: 1,
        class_name: "SS 2 Science".into(),
        subjects,
        pupils,
        taken,
        absent: Vec::new(),
        totals,
        earlier_terms: Vec::new(),
        outstanding_confirmed: false,
    };
    let scale = GradingScale {
        bands: [
            ("A1", 75.0),
            ("B2", 70.0),
            ("C4", 60.0),
            ("E8", 40.0),
            ("F9", 0.0),
        ]
        .iter()
        .map(|(g, m)| GradeBand {
            grade: (*g).into(),
            min_score: *m,
            remark: String::new(),
        })
        .collect(),
    };
    let settings = ReportSettings {
        show_position: true,
        show_class_stats: true,
        rank_by: "average".into(),
        cumulative_method: "none".into(),
        first_term_weight: 0,
        second_term_weight: 0,
        third_term_weight: 100,
        absent_counts_as: "zero".into(),
    };
    let results = results::compute(&data, &scale, &settings);
    let codes: Vec<String> = (1..=18).map(|i| format!("S{i:02}")).collect();
    let summary = broadsheet::summarise(&results, &codes, &scale);
    let sheet = Broadsheet {
        school: "Greenwood Secondary School, Ìbàdàn".into(),
        exam_session: ExamSession {
            id: 1,
            session_id: 1,
            session_name: "2025/2026".into(),
            term_id: 1,
            term_ordinal: 1,
            term_name: "First Term".into(),
            name: "First Term Examination".into(),
            status: ExamSessionStatus::Closed,
            published_at: None,
            outstanding_confirmed_at: None,
            exam_count: 18,
        },
        results,
        codes,
        summary,
        generated_at: chrono::Utc::now(),
    };
    let bytes = pdf::render_broadsheet(&sheet, None).unwrap();
    if let Ok(dir) = std::env::var("SCREENSHOT_DIR") {
        let _ = std::fs::write(format!("{dir}/broadsheet-a3.pdf"), &bytes);
    }
    let (w, h) = page_size(&bytes);
    assert!(
        (w - 1190.55).abs() < 0.5 && (h - 841.89).abs() < 0.5,
        "A3: {w}×{h}"
    );
    let (pages, text) = pdf_text(&bytes);
    assert!(pages >= 2, "{pages}");
    for p in 1..=50 {
        assert!(text.contains(&format!("Pupil{p:02}")), "pupil {p}");
    }
    for i in 1..=18 {
        assert!(text.contains(&format!("S{i:02}")), "S{i:02}");
        assert!(text.contains(&format!("Subject number {i}")), "subject {i}");
    }
    assert!(text.contains("Adébáy"), "names keep their letters");
    // Asked for A4, it squeezes onto A4.
    let a4 = pdf::render_broadsheet(&sheet, Some(Paper::A4)).unwrap();
    assert!((page_size(&a4).0 - 841.89).abs() < 0.5);
}
