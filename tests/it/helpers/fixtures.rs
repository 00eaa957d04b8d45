//! Shared fixtures: a school with its year set up, pupils in a class, an exam session with
//! its exams, the hand-computed marks. Built through the API where the API can, else in the
//! school's schema.

use std::collections::HashMap;

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{
    Client, Response, TestApp,
    internals::{self, Year},
};

/// A school (code `code`) with the guided set-up done: session 2025/2026 with three terms,
/// JSS 1A/1B and JSS 2A/2B, English Language, Mathematics and Basic Science. Returns a
/// client signed in as its School Admin `admin@<code>.test`.
pub async fn school_with_year(app: &TestApp, code: &str) -> Client {
    let school = app.create_school(code).await;
    let admin = format!("admin@{code}.test");
    app.create_staff(code, &admin, "School Admin").await;
    internals::set_up_year(
        &app.pool,
        &school,
        Year {
            forms: "JSS 1\nJSS 2",
            arms: "A, B",
            subjects: "English Language\nMathematics\nBasic Science",
            fixed_2025: true,
        },
    )
    .await;
    app.as_staff(code, &admin).await
}

/// A school with a smaller year dated from today (JSS 1, the given arms, Mathematics) and
/// its admin `admin@<code>.test` (no client: browser tests sign in through the form).
pub async fn small_school_this_year(
    app: &TestApp,
    code: &str,
    arms: &str,
) -> crate::helpers::SchoolRow {
    let school = app.create_school(code).await;
    app.create_staff(code, &format!("admin@{code}.test"), "School Admin")
        .await;
    internals::set_up_year(
        &app.pool,
        &school,
        Year {
            forms: "JSS 1",
            arms,
            subjects: "Mathematics",
            fixed_2025: false,
        },
    )
    .await;
    school
}

/// (session id, academic class id) of arm `name` in the school's first session.
pub async fn class_of(client: &Client, name: &str) -> (i64, i64) {
    let sessions = client.get("/api/v1/school/sessions/").await.json()["results"].clone();
    let session = sessions[0]["id"].as_i64().expect("a session");
    let classes = client
        .get(&format!("/api/v1/school/sessions/{session}/classes/"))
        .await
        .json()["results"]
        .clone();
    let id = classes
        .as_array()
        .expect("classes")
        .iter()
        .find(|c| c["class_name"] == name)
        .unwrap_or_else(|| panic!("no class {name}"))["id"]
        .as_i64()
        .expect("class id");
    (session, id)
}

/// A pupil made for a fixture: the student and their registration in a class.
#[derive(Clone, Copy, Debug)]
pub struct Pupil {
    pub student: i64,
    pub registration: i64,
}

/// Admits pupils (first names; last name "Test") and registers them in `class`.
pub async fn register_pupils(
    app: &TestApp,
    code: &str,
    session_id: i64,
    class: i64,
    names: &[&str],
) -> HashMap<String, Pupil> {
    let mut tx = app.school_tx(code).await;
    let already: i64 = sqlx::query_scalar("SELECT count(*) FROM students")
        .fetch_one(&mut *tx)
        .await
        .expect("count");
    let mut pupils = HashMap::new();
    for (i, name) in names.iter().enumerate() {
        let n = already as usize + i;
        let student: i64 = sqlx::query_scalar(
            "INSERT INTO students (admission_no, first_name, last_name, sex, date_of_birth, admission_date, created_at, updated_at)
             VALUES ($1, $2, 'Test', $3, '2013-05-04', '2025-09-08', now(), now()) RETURNING id",
        )
        .bind(format!("ADM/{code}/{n:03}"))
        .bind(name)
        .bind(if n.is_multiple_of(2) { "female" } else { "male" })
        .fetch_one(&mut *tx)
        .await
        .expect("student");
        let registration: i64 = sqlx::query_scalar(
            "INSERT INTO registrations (student_id, session_id, academic_class_id, registered_on, created_at)
             VALUES ($1, $2, $3, '2025-09-08', now()) RETURNING id",
        )
        .bind(student)
        .bind(session_id)
        .bind(class)
        .fetch_one(&mut *tx)
        .await
        .expect("registration");
        pupils.insert(
            (*name).to_owned(),
            Pupil {
                student,
                registration,
            },
        );
    }
    tx.commit().await.expect("commit pupils");
    pupils
}

/// A class of a school with its year set up (JSS 1A), registered pupils, and its exam
/// session for the first term (status `open`) with one exam per subject.
pub struct ExamClass {
    /// The school's admin.
    pub admin: Client,
    pub session_id: i64,
    pub class_id: i64,
    pub exam_session: i64,
    /// subject name → exam id
    pub exams: HashMap<String, i64>,
    /// pupil first name → registration id
    pub pupils: HashMap<String, i64>,
    /// pupil first name → student id
    pub students: HashMap<String, i64>,
}

pub async fn class_with_exams(app: &TestApp, code: &str, pupils: &[&str]) -> ExamClass {
    let admin = school_with_year(app, code).await;
    let (session_id, class) = class_of(&admin, "JSS 1A").await;
    let made = register_pupils(app, code, session_id, class, pupils).await;
    let (exam_session, exams) = open_exam_session(&admin, session_id, 1, class).await;
    ExamClass {
        admin,
        session_id,
        class_id: class,
        exam_session,
        exams,
        pupils: made
            .iter()
            .map(|(n, p)| (n.clone(), p.registration))
            .collect(),
        students: made.iter().map(|(n, p)| (n.clone(), p.student)).collect(),
    }
}

/// Creates the exam session of term `ordinal`, opens it and sets up the class's exams.
pub async fn open_exam_session(
    admin: &Client,
    session_id: i64,
    ordinal: i64,
    class: i64,
) -> (i64, HashMap<String, i64>) {
    let terms = admin
        .get(&format!("/api/v1/school/sessions/{session_id}/terms/"))
        .await
        .json()["results"]
        .clone();
    let term = terms
        .as_array()
        .expect("terms")
        .iter()
        .find(|t| t["ordinal"] == ordinal)
        .expect("the term")["id"]
        .as_i64()
        .expect("term id");
    let res = admin
        .post(
            "/api/v1/school/exam-sessions/",
            json!({"term_id": term, "status": "open"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    let es = res.json()["id"].as_i64().expect("exam session id");
    let exams = generate_exams(admin, es, class).await;
    (es, exams)
}

/// Sets up the class's exams (one per subject) in exam session `es`: subject → exam id.
pub async fn generate_exams(admin: &Client, es: i64, class: i64) -> HashMap<String, i64> {
    let res = admin
        .post_empty(&format!(
            "/api/v1/school/exam-sessions/{es}/exams/generate/?academic_class={class}"
        ))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let list = admin
        .get(&format!(
            "/api/v1/school/exam-sessions/{es}/exams/?academic_class={class}"
        ))
        .await
        .json();
    list["results"]
        .as_array()
        .expect("exams")
        .iter()
        .map(|e| {
            (
                e["subject_name"].as_str().expect("subject").to_owned(),
                e["id"].as_i64().expect("exam id"),
            )
        })
        .collect()
}

pub async fn save_marks(client: &Client, exam: i64, rows: Value) -> Response {
    client
        .post(&format!("/api/v1/school/exams/{exam}/marks/"), rows)
        .await
}

/// The scores of the default components (CA1 20, CA2 20, Exam 60).
pub fn scores(ca1: f64, ca2: f64, exam: f64) -> Value {
    json!({"CA1": ca1, "CA2": ca2, "Exam": exam})
}

/// The hand-computed class's pupils.
pub const CLASS: [&str; 6] = ["Ada", "Bola", "Chi", "Dayo", "Efe", "Femi"];

/// The hand-computed class (pupils `CLASS`, subjects English Language, Mathematics and
/// Basic Science as an elective):
///
/// | pupil | English | Maths | Basic Science | taken | counted | average |
/// |-------|---------|-------|---------------|-------|---------|---------|
/// | Ada   | 83      | 60    | 74.5 (B2)     | 3     | 3       | 72.5    |
/// | Bola  | 83      | 75    | 50            | 3     | 3       | 69.33   |
/// | Chi   | exempt  | 91    | not taken     | 1     | 1       | 91      |
/// | Dayo  | ABS     | 30    | not taken     | 2     | 2 (ABS=0) | 15    |
/// | Efe   | missing | 65    | not taken     | 2     | 1       | 65, withheld |
/// | Femi  | 75      | 70    | not taken     | 2     | 2       | 72.5    |
///
/// Ties in a subject and overall, an exemption, an elective, an ABS, an outstanding subject
/// and a half mark on a grade boundary (74.5 → B2).
pub async fn enter_hand_computed_marks(f: &ExamClass) {
    let p = |n: &str| f.pupils[n];
    let subjects = f.admin.get("/api/v1/school/subjects/").await.json()["results"].clone();
    let subject = |name: &str| {
        subjects
            .as_array()
            .expect("subjects")
            .iter()
            .find(|s| s["name"] == name)
            .expect("subject")["id"]
            .as_i64()
            .expect("subject id")
    };
    let class = format!(
        "/api/v1/school/sessions/{}/classes/{}/",
        f.session_id, f.class_id
    );
    let res = f
        .admin
        .patch(
            &class,
            json!({"subjects": [
                {"subject_id": subject("English Language")},
                {"subject_id": subject("Mathematics")},
                {"subject_id": subject("Basic Science"), "is_elective": true},
            ]}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let choices = [
        ("Ada", json!({"electives": [subject("Basic Science")]})),
        ("Bola", json!({"electives": [subject("Basic Science")]})),
        (
            "Chi",
            json!({"exemptions": [{"subject_id": subject("English Language"), "reason": "Exempted by the head"}]}),
        ),
    ];
    for (name, body) in choices {
        let res = f
            .admin
            .put(&format!("{class}registrations/{}/subjects/", p(name)), body)
            .await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    }
    let rows = [
        (
            "English Language",
            json!([
                {"registration": p("Ada"), "scores": scores(15.0, 18.0, 50.0)},
                {"registration": p("Bola"), "scores": scores(20.0, 20.0, 43.0)},
                {"registration": p("Dayo"), "scores": {}, "absent": true},
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
                {"registration": p("Efe"), "scores": scores(15.0, 15.0, 35.0)},
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
        let res = save_marks(&f.admin, f.exams[subject], body).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    }
}

/// Makes `teacher` the subject teacher of `subject` in the class.
pub async fn assign_teacher(app: &TestApp, code: &str, class: i64, subject: &str, teacher: i64) {
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
    .expect("assign teacher");
    tx.commit().await.expect("commit");
}

/// Waits for a report batch to finish (the app's workers run it); returns its final state.
pub async fn wait_for_batch(client: &Client, id: &str) -> Value {
    for _ in 0..300 {
        let b = client
            .get(&format!("/api/v1/school/report-batches/{id}/"))
            .await
            .json();
        if b["status"] == "done" || b["status"] == "failed" {
            return b;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("batch {id} never finished");
}

/// A staff user `email` of alpha whose one role holds exactly `permissions` (none for a
/// powerless visitor), created by alpha's `admin`.
pub async fn staff_with(
    app: &TestApp,
    admin: &Client,
    email: &str,
    permissions: &[&str],
) -> Client {
    let role = admin
        .post(
            "/api/v1/school/roles/",
            json!({"name": format!("Role of {email}"), "permissions": permissions}),
        )
        .await;
    assert_eq!(role.status, StatusCode::CREATED, "{}", role.text());
    let role_id = role.json()["id"].as_i64().expect("role id");
    let res = admin
        .post(
            "/api/v1/school/users/",
            json!({"email": email, "full_name": "Limited Staff", "password": crate::helpers::PASSWORD, "roles": [role_id]}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    app.as_staff("alpha", email).await
}

/// The id of the school's role called `name` (a built-in one such as "Teacher").
pub async fn role_id(client: &Client, name: &str) -> Value {
    let roles = client.get("/api/v1/school/roles/").await.json()["results"].clone();
    roles
        .as_array()
        .expect("roles")
        .iter()
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("no role {name}"))["id"]
        .clone()
}
