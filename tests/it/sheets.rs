//! Spreadsheets and printouts: the broadsheet (landscape PDF and `.xlsx`, read back) with
//! the results meeting's summary, and mark sheets out to `.xlsx`/CSV and back in (each bad
//! cell named, nothing saved unless every cell is fine), with their permissions.

use std::io::Cursor;

use axum::http::{Method, StatusCode, header};
use calamine::{Reader, Xlsx};
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::{
    Client, Response, TestApp, assert_error_shape, csrf_of,
    fixtures::{
        CLASS, ExamClass, assign_teacher, class_with_exams, enter_hand_computed_marks, save_marks,
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

/// A workbook of one sheet holding `rows` (numbers written as numbers).
fn xlsx_of(rows: &[Vec<String>]) -> Vec<u8> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let ws = book.add_worksheet();
    for (r, row) in rows.iter().enumerate() {
        for (c, text) in row.iter().enumerate() {
            if text.is_empty() {
                continue;
            }
            match text.parse::<f64>() {
                Ok(v) => ws.write_number(r as u32, c as u16, v).unwrap(),
                Err(_) => ws.write_string(r as u32, c as u16, text).unwrap(),
            };
        }
    }
    book.save_to_buffer().unwrap()
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
    client.get("/api/v1/school/subjects/").await.json()["results"]
        .clone()
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
            && disposition.ends_with(".xlsx"),
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
        generated_at: chrono::Utc::now().with_timezone(&chrono_tz::Africa::Lagos),
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

// ---- mark sheets ----

fn marks_path(exam: i64, what: &str) -> String {
    format!("/api/v1/school/exams/{exam}/marks/{what}")
}

async fn upload(
    client: &Client,
    exam: i64,
    query: &str,
    content_type: &str,
    body: Vec<u8>,
) -> Response {
    client
        .raw(
            Method::POST,
            &format!("{}{query}", marks_path(exam, "import")),
            Some(content_type),
            body,
        )
        .await
}

/// (scores by component, absent, remark) of a pupil on the exam's sheet.
async fn marks_of(client: &Client, exam: i64, registration: i64) -> (Value, bool, String) {
    let sheet = client.get(&marks_path(exam, "")).await.json();
    let row = sheet["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["registration"] == registration)
        .unwrap()
        .clone();
    (
        row["scores"].clone(),
        row["absent"].as_bool().unwrap(),
        row["teacher_remark"].as_str().unwrap().to_owned(),
    )
}

#[sqlx::test(migrations = false)]
async fn a_mark_sheet_round_trips_through_xlsx_with_one_bad_cell_refused_and_nothing_saved(
    pool: PgPool,
) {
    let app = TestApp::new(pool).await;
    let f = class_with_exams(&app, "alpha", &["Ada", "Bola", "Chi"]).await;
    let maths = f.exams["Mathematics"];
    let res = save_marks(
        &f.admin,
        maths,
        json!([{"registration": f.pupils["Ada"], "scores": scores(10.0, 12.0, 40.0)}]),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK);

    // Download: headings on row 6, one row per pupil with the saved scores.
    let res = f.admin.get(&marks_path(maths, "export.xlsx")).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert_eq!(res.headers[header::CONTENT_TYPE], XLSX);
    let mut rows = xlsx_rows(&res.body, None);
    assert_eq!(
        rows[5],
        [
            "Admission no",
            "Name",
            "CA1 (20)",
            "CA2 (20)",
            "Exam (60)",
            "ABS",
            "Remark",
            "Total"
        ]
    );
    assert_eq!(rows[2][1], maths.to_string(), "the exam id");
    assert_eq!(
        rows[6][..7],
        ["ADM/alpha/000", "Test Ada", "10", "12", "40", "", ""]
    );
    assert_eq!(rows[6][7], "62", "the total's cached value");
    assert_eq!(rows[7][7], "", "no scores, no total");
    assert_eq!(rows[7][1], "Test Bola");
    assert_eq!(rows[8][1], "Test Chi");

    // Filled in, with one bad cell: Bola's CA2 (D8) over its maximum of 20.
    let set = |rows: &mut Vec<Vec<String>>, r: usize, c: usize, v: &str| {
        if rows[r].len() <= c {
            rows[r].resize(c + 1, String::new());
        }
        rows[r][c] = v.to_owned();
    };
    set(&mut rows, 6, 4, "45");
    set(&mut rows, 6, 6, "Good work");
    set(&mut rows, 7, 2, "15");
    set(&mut rows, 7, 3, "25");
    set(&mut rows, 7, 4, "50.5");
    set(&mut rows, 8, 5, "ABS");
    let res = upload(&f.admin, maths, "", XLSX, xlsx_of(&rows)).await;
    let body = assert_error_shape(&res, 422);
    let errors = body["errors"].as_object().unwrap();
    assert_eq!(errors.keys().collect::<Vec<_>>(), ["D8"], "{body}");
    let message = errors["D8"][0].as_str().unwrap();
    assert!(
        message.contains("Test Bola") && message.contains("CA2") && message.contains("20"),
        "{message}"
    );
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("nothing was saved")
    );
    // Nothing saved, not even the good cells.
    assert_eq!(
        marks_of(&f.admin, maths, f.pupils["Ada"]).await,
        (
            json!({"CA1": 10.0, "CA2": 12.0, "Exam": 40.0}),
            false,
            String::new()
        )
    );
    let (bola, _, _) = marks_of(&f.admin, maths, f.pupils["Bola"]).await;
    assert_eq!(bola, json!({"CA1": null, "CA2": null, "Exam": null}));
    assert!(!marks_of(&f.admin, maths, f.pupils["Chi"]).await.1);

    // Corrected: a dry run says what would change and saves nothing …
    set(&mut rows, 7, 3, "18");
    let res = upload(&f.admin, maths, "?dry_run=true", XLSX, xlsx_of(&rows)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let preview = res.json();
    assert_eq!(preview["saved"], false);
    assert_eq!(preview["total"], 3);
    assert_eq!(preview["changes"], 6, "{preview}");
    assert_eq!(preview["ignored_columns"], json!([]));
    let ada_changes = &preview["rows"][0]["changes"];
    assert_eq!(
        ada_changes,
        &json!(["Exam: 40 → 45", "Remark: \"Good work\""])
    );
    assert_eq!(
        marks_of(&f.admin, maths, f.pupils["Ada"]).await.0["Exam"],
        40.0
    );
    // … and the upload saves every cell.
    let res = upload(&f.admin, maths, "", XLSX, xlsx_of(&rows)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert_eq!(res.json()["saved"], true);
    assert_eq!(
        marks_of(&f.admin, maths, f.pupils["Ada"]).await,
        (
            json!({"CA1": 10.0, "CA2": 12.0, "Exam": 45.0}),
            false,
            "Good work".to_owned()
        )
    );
    assert_eq!(
        marks_of(&f.admin, maths, f.pupils["Bola"]).await.0,
        json!({"CA1": 15.0, "CA2": 18.0, "Exam": 50.5})
    );
    assert!(
        marks_of(&f.admin, maths, f.pupils["Chi"]).await.1,
        "Chi is ABS"
    );

    // Round trip: the next download holds what was uploaded.
    let again = xlsx_rows(
        &f.admin.get(&marks_path(maths, "export.xlsx")).await.body,
        None,
    );
    for r in 6..9 {
        assert_eq!(again[r][..7], rows[r][..7], "row {}", r + 1);
    }
    // The audit trail says the marks came from a file.
    let audit = f
        .admin
        .get("/api/v1/school/audit/?entity=marks")
        .await
        .json();
    assert!(audit.to_string().contains("\"import\""), "{audit}");
}

#[sqlx::test(migrations = false)]
async fn a_mark_sheet_round_trips_through_csv_and_bad_files_are_refused_by_name(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let f = class_with_exams(&app, "alpha", &["Ada", "Bola"]).await;
    let (maths, english) = (f.exams["Mathematics"], f.exams["English Language"]);
    // A remark a spreadsheet would take for a formula.
    let res = save_marks(
        &f.admin,
        maths,
        json!([{"registration": f.pupils["Bola"], "scores": {}, "teacher_remark": "=1+2"}]),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());

    let res = f.admin.get(&marks_path(maths, "export.csv")).await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(
        res.headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let csv = res.text();
    assert!(csv.starts_with('\u{feff}'), "a BOM for Excel");
    assert!(csv.contains("Admission no,Name,CA1 (20),CA2 (20),Exam (60),ABS,Remark,Total"));
    assert!(csv.contains(",'=1+2,"), "shown as text, never run: {csv}");
    // As a European Excel saves it: semicolons and decimal commas.
    let filled = csv
        .replace(',', ";")
        .replace(
            "ADM/alpha/000;Test Ada;;;",
            "ADM/alpha/000;Test Ada;12,5;14;",
        )
        .replace("ADM/alpha/001;Test Bola;;;", "ADM/alpha/001;Test Bola;11;;");
    let res = upload(&f.admin, maths, "", "text/csv", filled.clone().into_bytes()).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert_eq!(
        marks_of(&f.admin, maths, f.pupils["Ada"]).await.0,
        json!({"CA1": 12.5, "CA2": 14.0, "Exam": null})
    );
    assert_eq!(marks_of(&f.admin, maths, f.pupils["Bola"]).await.2, "=1+2");
    // The same file again changes nothing.
    let res = upload(
        &f.admin,
        maths,
        "?dry_run=true",
        "text/csv",
        filled.into_bytes(),
    )
    .await;
    assert_eq!(res.json()["changes"], 0, "{}", res.text());

    // Each bad cell is named; the file as a whole when it is not a mark sheet of this exam.
    let bad = "Admission no,Name,CA1,Exam,Project\nADM/alpha/000,Ada,twelve,61\nADM/alpha/999,Nobody,5,5\n,,3,\nADM/alpha/000,Ada again,1,1\n";
    let body = assert_error_shape(
        &upload(&f.admin, maths, "", "text/csv", bad.into()).await,
        422,
    );
    let errors = body["errors"].as_object().unwrap();
    let mut cells: Vec<&String> = errors.keys().collect();
    cells.sort();
    assert_eq!(cells, ["A3", "A4", "A5", "C2", "D2"], "{body}");
    assert!(
        errors["C2"][0]
            .as_str()
            .unwrap()
            .contains("\"twelve\" is not a score")
    );
    assert!(errors["D2"][0].as_str().unwrap().contains("from 0 to 60"));
    assert!(errors["A3"][0].as_str().unwrap().contains("ADM/alpha/999"));
    assert!(errors["A5"][0].as_str().unwrap().contains("also on row 2"));
    assert_eq!(
        marks_of(&f.admin, maths, f.pupils["Ada"]).await.0["CA1"],
        12.5,
        "nothing saved"
    );
    let english_sheet = f.admin.get(&marks_path(english, "export.csv")).await.body;
    let body = assert_error_shape(
        &upload(&f.admin, maths, "", "text/csv", english_sheet).await,
        422,
    );
    assert!(
        body["errors"]["file"][0]
            .as_str()
            .unwrap()
            .contains("another exam"),
        "{body}"
    );
    let body = assert_error_shape(
        &upload(
            &f.admin,
            maths,
            "",
            "text/csv",
            b"just,some\ntext,here\n".to_vec(),
        )
        .await,
        422,
    );
    assert!(
        body["errors"]["file"][0]
            .as_str()
            .unwrap()
            .contains("Admission no")
    );
    let body = assert_error_shape(
        &upload(
            &f.admin,
            maths,
            "",
            XLSX,
            b"PK\x03\x04not really a zip".to_vec(),
        )
        .await,
        422,
    );
    assert!(body["errors"]["file"].is_array(), "{body}");
    assert_error_shape(
        &upload(&f.admin, maths, "", "application/json", b"{}".to_vec()).await,
        415,
    );
    assert_error_shape(
        &upload(&f.admin, maths, "", "text/csv", vec![b'1'; 2 * 1024 * 1024]).await,
        413,
    );
    assert_error_shape(
        &upload(&f.admin, 999_999, "", "text/csv", bad.into()).await,
        404,
    );
}

#[sqlx::test(migrations = false)]
async fn mark_sheet_uploads_follow_the_grids_rules_and_stay_in_their_school(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let f = class_with_exams(&app, "alpha", &["Ada"]).await;
    let (maths, english) = (f.exams["Mathematics"], f.exams["English Language"]);
    let teacher = app
        .create_staff("alpha", "teacher@alpha.test", "Teacher")
        .await;
    assign_teacher(&app, "alpha", f.class_id, "Mathematics", teacher).await;
    app.create_staff("alpha", "bursar@alpha.test", "Bursar")
        .await;
    let tt = app.as_staff("alpha", "teacher@alpha.test").await;
    let bursar = app.as_staff("alpha", "bursar@alpha.test").await;
    let sheet = |score: &str| {
        format!("Admission no,Name,Exam\nADM/alpha/000,Test Ada,{score}\n").into_bytes()
    };

    // The subject teacher may; the same teacher may read English's sheet but not fill it.
    let res = upload(&tt, maths, "", "text/csv", sheet("40")).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert_eq!(
        tt.get(&marks_path(english, "export.xlsx")).await.status,
        StatusCode::OK
    );
    let body = assert_error_shape(
        &upload(&tt, english, "", "text/csv", sheet("40")).await,
        403,
    );
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("English Language")
    );
    assert_eq!(
        marks_of(&f.admin, english, f.pupils["Ada"]).await.0["Exam"],
        Value::Null
    );
    // No view_marks, no sheet at all.
    assert_error_shape(&bursar.get(&marks_path(maths, "export.csv")).await, 403);
    assert_error_shape(
        &upload(&bursar, maths, "", "text/csv", sheet("41")).await,
        403,
    );

    // Closed: refused, marks kept.
    let res = f
        .admin
        .patch(
            &format!("/api/v1/school/exam-sessions/{}/", f.exam_session),
            json!({"status": "closed", "confirm_outstanding": true}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let body = assert_error_shape(&upload(&tt, maths, "", "text/csv", sheet("55")).await, 409);
    assert!(body["detail"].as_str().unwrap().contains("closed"));
    assert_eq!(
        marks_of(&f.admin, maths, f.pupils["Ada"]).await.0["Exam"],
        40.0
    );

    // Another school: alpha's exam ids are nothing there, and alpha's names never show.
    let beta = school_with_year(&app, "beta").await;
    for res in [
        beta.get(&marks_path(maths, "export.xlsx")).await,
        beta.get(&marks_path(maths, "export.csv")).await,
        upload(&beta, maths, "", "text/csv", sheet("1")).await,
    ] {
        assert_error_shape(&res, 404);
        assert!(!res.text().contains("Test Ada"));
    }
}

fn grid_field(html: &str) -> String {
    let start = html
        .find("<textarea name=\"grid\" hidden>")
        .expect("the grid")
        + 29;
    let end = start + html[start..].find("</textarea>").unwrap();
    html[start..end]
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

#[sqlx::test(migrations = false)]
async fn the_upload_page_previews_each_bad_cell_then_saves_on_confirmation(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let f = class_with_exams(&app, "alpha", &["Ada", "Bola"]).await;
    let (maths, english) = (f.exams["Mathematics"], f.exams["English Language"]);
    let teacher = app
        .create_staff("alpha", "teacher@alpha.test", "Teacher")
        .await;
    assign_teacher(&app, "alpha", f.class_id, "Mathematics", teacher).await;
    let mut b = app.signed_in("alpha", "admin@alpha.test").await;

    let grid = b.get(&format!("/exams/{maths}/marks")).await.text();
    assert!(grid.contains(&format!("/exams/{maths}/marks/import")));
    let page = b.get(&format!("/exams/{maths}/marks/import")).await;
    assert_eq!(page.status, StatusCode::OK);
    let html = page.text();
    assert!(html.contains("export.xlsx") && html.contains("export.csv"));
    let token = csrf_of(&html);
    let action = format!("/exams/{maths}/marks/import?csrf_token={token}");

    let csv = b
        .get(&format!("/exams/{maths}/marks/export.csv"))
        .await
        .text();
    let bad = csv.replace("ADM/alpha/001,Test Bola,,,", "ADM/alpha/001,Test Bola,9,x,");
    let res = b.upload(&action, "file", "marks.csv", bad.as_bytes()).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text();
    assert!(
        html.contains("D8") && html.contains("Nothing has been saved"),
        "{html}"
    );
    assert!(
        !html.contains("name=\"grid\""),
        "no confirmation while a cell is bad"
    );

    let good = csv
        .replace(
            "ADM/alpha/000,Test Ada,,,",
            "ADM/alpha/000,Test Ada,9,10,51",
        )
        .replace("ADM/alpha/001,Test Bola,,,", "ADM/alpha/001,Test Bola,9,,");
    let res = b
        .upload(&action, "file", "marks.csv", good.as_bytes())
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let html = res.text();
    assert!(html.contains("Save 4 changes"), "{html}");
    assert_eq!(
        marks_of(&f.admin, maths, f.pupils["Ada"]).await.0["Exam"],
        Value::Null,
        "a preview saves nothing"
    );
    let res = b
        .post(
            &format!("/exams/{maths}/marks/import/confirm"),
            &[("csrf_token", &token), ("grid", &grid_field(&html))],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text());
    assert_eq!(res.location(), format!("/exams/{maths}/marks"));
    assert_eq!(
        marks_of(&f.admin, maths, f.pupils["Ada"]).await.0,
        json!({"CA1": 9.0, "CA2": 10.0, "Exam": 51.0})
    );
    assert!(
        b.get(&format!("/exams/{maths}/marks"))
            .await
            .text()
            .contains("4 changes saved")
    );

    // A teacher of another subject sees the downloads but no upload form, and a post is
    // refused.
    let mut t = app.signed_in("alpha", "teacher@alpha.test").await;
    let html = t
        .get(&format!("/exams/{english}/marks/import"))
        .await
        .text();
    assert!(
        html.contains("Only the subject teacher") && !html.contains("enctype"),
        "{html}"
    );
    let token = csrf_of(&html);
    let res = t
        .upload(
            &format!("/exams/{english}/marks/import?csrf_token={token}"),
            "file",
            "marks.csv",
            b"Admission no,Exam\nADM/alpha/000,50\n",
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
}
