//! Issue 11: the end of the school year. A hand-built two-level school (JSS 1 → JSS 2, JSS 2
//! final) whose third-term results decide: above the pass average promoted, below it
//! repeating, within the margin flagged for a person, a failed required subject repeating,
//! the final class graduating. Nothing is decided silently, the commit is all or nothing,
//! a rerun changes nothing, and history stays as it was.

use std::collections::HashMap;

use axum::http::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::{
    Client, TestApp, assert_error_shape,
    fixtures::{
        class_of, generate_exams, open_exam_session, register_pupils, save_marks, school_with_year,
        scores,
    },
};

/// A total out of 100 as the default components' scores (CA1 20, CA2 20, Exam 60).
fn total(t: f64) -> Value {
    let exam = t.min(60.0);
    let ca1 = (t - exam).min(20.0);
    scores(ca1, t - exam - ca1, exam)
}

async fn id_of(client: &Client, path: &str, key: &str, name: &str) -> i64 {
    let list = client.get(path).await.json();
    let list = if list.is_array() {
        list
    } else {
        list["results"].clone()
    };
    list.as_array()
        .unwrap()
        .iter()
        .find(|x| x[key] == name)
        .unwrap_or_else(|| panic!("no {name} in {path}"))["id"]
        .as_i64()
        .unwrap()
}

pub(crate) struct School {
    pub(crate) admin: Client,
    pub(crate) session: i64,
    /// pupil → student id
    pub(crate) pupils: HashMap<String, i64>,
    /// arm name → class arm id
    arms: HashMap<String, i64>,
    maths: i64,
    /// third-term exam session, JSS 1A's academic class
    es: i64,
    jss1a: i64,
}

/// The two-level school with its third-term marks:
///
/// | pupil | class  | English | Maths | Basic Science | average | proposal |
/// |-------|--------|---------|-------|---------------|---------|----------|
/// | Ada   | JSS 1A | 70      | 70    | 70            | 70      | promote to JSS 2A |
/// | Bola  | JSS 1A | 30      | 30    | 30            | 30      | repeat JSS 1A |
/// | Chi   | JSS 1A | 45      | 45    | 27            | 39      | flagged (margin 2) |
/// | Dayo  | JSS 1A | 70      | 30    | 80            | 60      | repeat: failed Maths |
/// | Efe   | JSS 2A | 60      | 60    | 60            | 60      | graduate |
/// | Femi  | JSS 2A | 55      | 50    | 65            | 56.67   | graduate |
pub(crate) async fn two_level_school(app: &TestApp, code: &str) -> School {
    let admin = school_with_year(app, code).await;
    let (session, jss1a) = class_of(&admin, "JSS 1A").await;
    let (_, jss2a) = class_of(&admin, "JSS 2A").await;
    let mut pupils = HashMap::new();
    let mut regs = HashMap::new();
    for (class, names) in [
        (jss1a, vec!["Ada", "Bola", "Chi", "Dayo"]),
        (jss2a, vec!["Efe", "Femi"]),
    ] {
        for (n, p) in register_pupils(app, code, session, class, &names).await {
            pupils.insert(n.clone(), p.student);
            regs.insert(n, p.registration);
        }
    }
    let (es, exams1) = open_exam_session(&admin, session, 3, jss1a).await;
    let exams2 = generate_exams(&admin, es, jss2a).await;
    let marks: [(&str, [f64; 3]); 6] = [
        ("Ada", [70.0, 70.0, 70.0]),
        ("Bola", [30.0, 30.0, 30.0]),
        ("Chi", [45.0, 45.0, 27.0]),
        ("Dayo", [70.0, 30.0, 80.0]),
        ("Efe", [60.0, 60.0, 60.0]),
        ("Femi", [55.0, 50.0, 65.0]),
    ];
    for (i, subject) in ["English Language", "Mathematics", "Basic Science"]
        .iter()
        .enumerate()
    {
        for (exams, names) in [
            (&exams1, &["Ada", "Bola", "Chi", "Dayo"][..]),
            (&exams2, &["Efe", "Femi"][..]),
        ] {
            let rows: Vec<Value> = marks
                .iter()
                .filter(|(n, _)| names.contains(n))
                .map(|(n, m)| json!({"registration": regs[*n], "scores": total(m[i])}))
                .collect();
            let res = save_marks(&admin, exams[*subject], json!(rows)).await;
            assert_eq!(res.status, StatusCode::OK, "{}", res.text());
        }
    }
    let mut arms = HashMap::new();
    for a in admin.get("/api/v1/school/classes/").await.json()["results"]
        .as_array()
        .unwrap()
    {
        arms.insert(
            a["name"].as_str().unwrap().to_owned(),
            a["id"].as_i64().unwrap(),
        );
    }
    let maths = id_of(&admin, "/api/v1/school/subjects/", "name", "Mathematics").await;
    School {
        admin,
        session,
        pupils,
        arms,
        maths,
        es,
        jss1a,
    }
}

/// Accepts the suggested next classes for every arm.
async fn accept_suggestions(admin: &Client) -> Value {
    let list = admin.get("/api/v1/school/promotions/next-classes/").await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.text());
    let items: Vec<Value> = list.json()["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            json!({"class_id": n["class_id"], "next_class_id": n["suggested_next_class_id"],
               "is_final": n["suggested_final"]})
        })
        .collect();
    let res = admin
        .put(
            "/api/v1/school/promotions/next-classes/",
            json!({"classes": items}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    res.json()
}

async fn new_session(admin: &Client, from: i64) -> i64 {
    let res = admin
        .post(
            "/api/v1/school/promotions/new-session/",
            json!({"from_session": from, "name": "2026/2027", "starts_on": "2026-09-07", "ends_on": "2027-07-23",
                   "terms": [
                       {"starts_on": "2026-09-07", "ends_on": "2026-12-11", "next_term_begins": "2027-01-04"},
                       {"starts_on": "2027-01-04", "ends_on": "2027-04-01"},
                       {"starts_on": "2027-04-19", "ends_on": "2027-07-23"}]}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    let body = res.json();
    assert_eq!(body["session"]["is_current"], false);
    assert_eq!(body["terms"].as_array().unwrap().len(), 3);
    body["session"]["id"].as_i64().unwrap()
}

fn row<'a>(preview: &'a Value, name: &str) -> &'a Value {
    preview["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["full_name"].as_str().unwrap_or_default().contains(name))
        .unwrap_or_else(|| panic!("{name} not in {preview}"))
}

fn preview_url(from: i64, to: i64) -> String {
    format!("/api/v1/school/promotions/preview/?from_session={from}&to_session={to}")
}

async fn count(app: &TestApp, code: &str, sql: &str) -> i64 {
    let mut tx = app.school_tx(code).await;
    let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    n
}

#[sqlx::test(migrations = false)]
async fn the_year_rolls_over_by_the_rules_and_nothing_is_decided_silently(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let s = two_level_school(&app, "alpha").await;
    let beta = school_with_year(&app, "beta").await;
    let (beta_session, beta_class) = class_of(&beta, "JSS 2A").await;
    register_pupils(&app, "beta", beta_session, beta_class, &["Zainab"]).await;
    let beta_before = count(&app, "beta", "SELECT count(*) FROM registrations").await;
    let admin = &s.admin;

    // Rules: pass at 40, flag within 2 below, Mathematics must be passed.
    let res = admin
        .put(
            "/api/v1/school/promotions/rules/",
            json!({"pass_average": 40, "margin": 2, "required_subject_ids": [s.maths]}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert_eq!(
        res.json()["required_subjects"][0]["subject_name"],
        "Mathematics"
    );
    let bad = admin
        .put(
            "/api/v1/school/promotions/rules/",
            json!({"pass_average": 140}),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_error_shape(&bad, 422);

    // Next classes: suggested, not confirmed until the school says so.
    let list = admin
        .get("/api/v1/school/promotions/next-classes/")
        .await
        .json()["results"]
        .clone();
    let jss1a = list
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["class_name"] == "JSS 1A")
        .unwrap();
    assert_eq!(jss1a["confirmed"], false);
    assert_eq!(jss1a["suggested_next_class_name"], "JSS 2A");
    let jss2b = list
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["class_name"] == "JSS 2B")
        .unwrap();
    assert_eq!(jss2b["suggested_final"], true);
    let backwards = admin
        .put(
            "/api/v1/school/promotions/next-classes/",
            json!({"classes": [
            {"class_id": s.arms["JSS 1A"], "next_class_id": s.arms["JSS 2A"]},
            {"class_id": s.arms["JSS 2A"], "next_class_id": s.arms["JSS 1B"]}]}),
        )
        .await;
    assert_eq!(
        backwards.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        backwards.text()
    );
    assert!(
        backwards.json()["errors"]["classes[1].next_class_id"].is_array(),
        "{}",
        backwards.text()
    );
    let confirmed = accept_suggestions(admin).await;
    assert!(
        confirmed
            .as_array()
            .unwrap()
            .iter()
            .all(|n| n["confirmed"] == true)
    );

    // The new session: terms and classes copied (subjects with them), not current.
    let to = new_session(admin, s.session).await;
    let classes = admin
        .get(&format!("/api/v1/school/sessions/{to}/classes/"))
        .await
        .json();
    assert_eq!(classes["count"], 4, "{classes}");
    assert_eq!(
        classes["results"][0]["subjects"].as_array().unwrap().len(),
        3
    );

    // Ada's third-term report card as it prints before the rollover.
    let ada_registration = count(
        &app,
        "alpha",
        &format!(
            "SELECT id FROM registrations WHERE student_id = {} AND session_id = {}",
            s.pupils["Ada"], s.session
        ),
    )
    .await;
    let card_url = format!(
        "/api/v1/school/exam-sessions/{}/report-cards/{ada_registration}/pdf/",
        s.es
    );
    let card = admin.get(&card_url).await;
    assert_eq!(card.status, StatusCode::OK, "{}", card.text());
    let (_, card_before) = crate::helpers::pdf_text(&card.body);
    assert!(card_before.contains("JSS 1A"), "{card_before}");

    // The preview.
    let old_results = admin
        .get(&format!(
            "/api/v1/school/exam-sessions/{}/results/?academic_class={}",
            s.es, s.jss1a
        ))
        .await
        .json();
    let res = admin.get(&preview_url(s.session, to)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let p = res.json();
    assert_eq!(row(&p, "Ada")["outcome"], "promote");
    assert_eq!(row(&p, "Ada")["to_class_name"], "JSS 2A");
    assert_eq!(row(&p, "Ada")["cumulative_average"], 70.0);
    assert_eq!(row(&p, "Bola")["outcome"], "repeat");
    assert_eq!(row(&p, "Bola")["to_class_name"], "JSS 1A");
    assert_eq!(row(&p, "Chi")["outcome"], Value::Null);
    assert_eq!(row(&p, "Chi")["flagged"], true);
    assert!(
        row(&p, "Chi")["reason"]
            .as_str()
            .unwrap()
            .contains("within")
    );
    assert_eq!(row(&p, "Dayo")["outcome"], "repeat");
    assert_eq!(row(&p, "Dayo")["failed_subjects"], json!(["Mathematics"]));
    assert!(
        row(&p, "Dayo")["reason"]
            .as_str()
            .unwrap()
            .contains("Mathematics")
    );
    assert_eq!(row(&p, "Efe")["outcome"], "graduate");
    assert_eq!(row(&p, "Femi")["outcome"], "graduate");
    assert_eq!(p["can_commit"], false);
    assert_eq!(
        p["totals"],
        json!({"pupils": 6, "promoted": 1, "repeating": 2, "graduating": 2, "leaving": 0, "undecided": 1})
    );
    let jss1a_counts = p["classes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["class_name"] == "JSS 1A")
        .unwrap();
    assert_eq!(jss1a_counts["counts"]["undecided"], 1);
    assert_eq!(p["blocked"].as_array().unwrap().len(), 1);

    // A teacher may not commit; the flagged pupil blocks the commit, and nothing changes.
    app.create_staff("alpha", "teacher@alpha.test", "Teacher")
        .await;
    let teacher = app.as_staff("alpha", "teacher@alpha.test").await;
    let body = json!({"from_session": s.session, "to_session": to});
    let refused = teacher
        .post("/api/v1/school/promotions/commit/", body.clone())
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(
        assert_error_shape(&refused, 403)["code"],
        "permission_denied"
    );
    let blocked = admin
        .post("/api/v1/school/promotions/commit/", body.clone())
        .await;
    assert_eq!(
        blocked.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        blocked.text()
    );
    let listed = blocked.json()["errors"]["students"].to_string();
    assert!(listed.contains("Chi"), "{listed}");
    let in_new = format!("SELECT count(*) FROM registrations WHERE session_id = {to}");
    assert_eq!(count(&app, "alpha", &in_new).await, 0);

    // Overrides are all or nothing, naming the bad row.
    let bad = admin
        .put(
            "/api/v1/school/promotions/decisions/",
            json!({"from_session": s.session, "to_session": to, "decisions": [
            {"student_id": s.pupils["Chi"], "outcome": "promote", "reason": "Strong third term"},
            {"student_id": s.pupils["Ada"], "outcome": "promote", "reason": ""}]}),
        )
        .await;
    assert_eq!(
        bad.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        bad.text()
    );
    assert!(
        bad.json()["errors"]["decisions[1].reason"].is_array(),
        "{}",
        bad.text()
    );
    let p = admin.get(&preview_url(s.session, to)).await.json();
    assert_eq!(row(&p, "Chi")["outcome"], Value::Null);
    let teacher_try = teacher
        .put(
            "/api/v1/school/promotions/decisions/",
            json!({"from_session": s.session, "to_session": to, "decisions": [
            {"student_id": s.pupils["Chi"], "outcome": "promote", "reason": "x"}]}),
        )
        .await;
    assert_eq!(teacher_try.status, StatusCode::FORBIDDEN);
    let ok = admin
        .put("/api/v1/school/promotions/decisions/", json!({"from_session": s.session, "to_session": to, "decisions": [
            {"student_id": s.pupils["Chi"], "outcome": "promote", "reason": "Strong third term; promoted on trial"}]}))
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text());
    let p = ok.json();
    assert_eq!(row(&p, "Chi")["outcome"], "promote");
    assert_eq!(row(&p, "Chi")["overridden"], true);
    assert_eq!(row(&p, "Chi")["to_class_name"], "JSS 2A");
    assert_eq!(p["can_commit"], true);

    // The commit: counts reconcile.
    let res = admin
        .post("/api/v1/school/promotions/commit/", body.clone())
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let c = res.json();
    assert_eq!(
        (
            c["before"].as_i64(),
            c["promoted"].as_i64(),
            c["repeating"].as_i64(),
            c["graduated"].as_i64(),
            c["left"].as_i64()
        ),
        (Some(6), Some(2), Some(2), Some(2), Some(0))
    );
    assert_eq!(c["changed"], 6);
    assert_eq!(count(&app, "alpha", &in_new).await, 4);
    let statuses = count(
        &app,
        "alpha",
        "SELECT count(*) FROM students WHERE status = 'graduated'",
    )
    .await;
    assert_eq!(statuses, 2);
    // The new session is not current until the school makes it so.
    let sessions = admin.get("/api/v1/school/sessions/").await.json();
    let current: Vec<&Value> = sessions["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["is_current"] == true)
        .collect();
    assert_eq!(current[0]["id"].as_i64(), Some(s.session));
    // Repeaters sit in their level's class of the new session; promoted pupils in the next.
    let class_of_pupil = |name: &str| {
        format!(
            "SELECT c.name = '{}' AND count(*) OVER () = 1 FROM registrations r JOIN academic_classes ac ON ac.id = r.academic_class_id
               JOIN classes c ON c.id = ac.class_id WHERE r.session_id = {to} AND r.is_current AND r.student_id = {}",
            if name == "Bola" || name == "Dayo" { "JSS 1A" } else { "JSS 2A" },
            s.pupils[name]
        )
    };
    for name in ["Ada", "Bola", "Chi", "Dayo"] {
        let mut tx = app.school_tx("alpha").await;
        let ok: bool = sqlx::query_scalar(sqlx::AssertSqlSafe(class_of_pupil(name)))
            .fetch_one(&mut *tx)
            .await
            .unwrap();
        assert!(ok, "{name}");
    }

    // History stays true: last session's registrations and results are as they were.
    let old = format!(
        "SELECT count(*) FROM registrations WHERE session_id = {} AND is_current",
        s.session
    );
    assert_eq!(count(&app, "alpha", &old).await, 6);
    let after_results = admin
        .get(&format!(
            "/api/v1/school/exam-sessions/{}/results/?academic_class={}",
            s.es, s.jss1a
        ))
        .await
        .json();
    assert_eq!(old_results, after_results);
    let card = admin.get(&card_url).await;
    assert_eq!(card.status, StatusCode::OK, "{}", card.text());
    let (_, card_after) = crate::helpers::pdf_text(&card.body);
    assert_eq!(
        card_before, card_after,
        "last session's card prints as it did, in JSS 1A"
    );

    // Again: nothing changes.
    let all = "SELECT count(*) FROM registrations";
    let regs = count(&app, "alpha", all).await;
    let audits = count(&app, "alpha", "SELECT count(*) FROM audit_log").await;
    let again = admin
        .post("/api/v1/school/promotions/commit/", body.clone())
        .await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text());
    assert_eq!(again.json()["changed"], 0);
    assert_eq!(again.json()["promoted"], 2);
    assert_eq!(count(&app, "alpha", all).await, regs);
    assert_eq!(
        count(&app, "alpha", "SELECT count(*) FROM audit_log").await,
        audits
    );
    // A pupil the school moves by hand after the commit stays where it put them when the
    // commit is pressed again.
    let (_, jss2b_new) = {
        let classes = admin
            .get(&format!("/api/v1/school/sessions/{to}/classes/"))
            .await
            .json();
        let id = classes["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["class_name"] == "JSS 2B" || c["name"] == "JSS 2B")
            .map(|c| c["id"].as_i64().unwrap())
            .unwrap_or_else(|| panic!("no JSS 2B in {classes}"));
        (to, id)
    };
    let res = admin
        .post(
            &format!("/api/v1/school/sessions/{to}/classes/{jss2b_new}/registrations/"),
            json!({"student_id": s.pupils["Ada"]}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    let again = admin
        .post("/api/v1/school/promotions/commit/", body.clone())
        .await;
    assert_eq!(again.json()["changed"], 0, "{}", again.text());
    let ada_class = format!(
        "SELECT ac.id FROM registrations r JOIN academic_classes ac ON ac.id = r.academic_class_id
          WHERE r.student_id = {} AND r.session_id = {to} AND r.is_current",
        s.pupils["Ada"]
    );
    assert_eq!(count(&app, "alpha", &ada_class).await, jss2b_new);

    // The override is recorded with who and why, and audited.
    let audit = admin
        .get(&format!(
            "/api/v1/school/audit/?entity=promotion_decision&entity_id={}",
            s.pupils["Chi"]
        ))
        .await
        .json();
    assert_eq!(audit["count"], 1, "{audit}");
    assert!(
        audit["results"][0]["changes"]
            .to_string()
            .contains("promoted on trial")
    );
    let p = admin.get(&preview_url(s.session, to)).await.json();
    assert!(row(&p, "Chi")["decided_by_name"].is_string());
    assert_eq!(row(&p, "Efe")["applied"], true);
    assert!(p["committed"].is_object());

    // A decision changed later moves the pupil, and is audited.
    let res = admin
        .put(
            "/api/v1/school/promotions/decisions/",
            json!({"from_session": s.session, "to_session": to, "decisions": [
            {"student_id": s.pupils["Bola"], "outcome": "promote", "reason": "Passed the resit"}]}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let mut tx = app.school_tx("alpha").await;
    let (promoted, closed): (bool, i64) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT bool_or(c.name = 'JSS 2A' AND r.is_current), count(*) FILTER (WHERE NOT r.is_current)
           FROM registrations r JOIN academic_classes ac ON ac.id = r.academic_class_id JOIN classes c ON c.id = ac.class_id
          WHERE r.session_id = {to} AND r.student_id = {}", s.pupils["Bola"])))
        .fetch_one(&mut *tx).await.unwrap();
    tx.rollback().await.unwrap();
    assert!(promoted);
    assert_eq!(closed, 1);
    let moved = admin
        .get(&format!(
            "/api/v1/school/audit/?entity=promotion_decision&action=move&entity_id={}",
            s.pupils["Bola"]
        ))
        .await
        .json();
    assert_eq!(moved["count"], 1, "{moved}");

    // Another school is untouched.
    assert_eq!(
        count(&app, "beta", "SELECT count(*) FROM registrations").await,
        beta_before
    );
    assert_eq!(
        count(&app, "beta", "SELECT count(*) FROM promotion_decisions").await,
        0
    );
    assert_eq!(
        count(
            &app,
            "beta",
            "SELECT count(*) FROM students WHERE status <> 'active'"
        )
        .await,
        0
    );
    // And cannot be reached from it: alpha's sessions are not beta's.
    let cross = beta.get(&preview_url(s.session, to)).await;
    assert!(
        [
            StatusCode::NOT_FOUND,
            StatusCode::UNPROCESSABLE_ENTITY,
            StatusCode::OK
        ]
        .contains(&cross.status),
        "{}",
        cross.text()
    );
    if cross.status == StatusCode::OK {
        assert!(!cross.text().contains("Ada"));
    }
}

#[sqlx::test(migrations = false)]
async fn a_class_without_a_next_class_blocks_the_commit_and_is_listed(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let s = two_level_school(&app, "alpha").await;
    let admin = &s.admin;
    let (_, jss1b) = class_of(admin, "JSS 1B").await;
    register_pupils(&app, "alpha", s.session, jss1b, &["Gbenga"]).await;
    // Only JSS 1A and the JSS 2 arms are confirmed; JSS 1B is not.
    let res = admin
        .put(
            "/api/v1/school/promotions/next-classes/",
            json!({"classes": [
            {"class_id": s.arms["JSS 1A"], "next_class_id": s.arms["JSS 2A"]},
            {"class_id": s.arms["JSS 2A"], "is_final": true},
            {"class_id": s.arms["JSS 2B"], "is_final": true}]}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let to = new_session(admin, s.session).await;
    let p = admin.get(&preview_url(s.session, to)).await.json();
    let g = row(&p, "Gbenga");
    assert_eq!(g["outcome"], Value::Null);
    assert!(
        g["blocking"]
            .as_str()
            .unwrap()
            .contains("JSS 1B has no next class"),
        "{g}"
    );
    // Gbenga is listed, never skipped.
    assert_eq!(p["totals"]["pupils"], 7);
    let body = json!({"from_session": s.session, "to_session": to});
    let res = admin.post("/api/v1/school/promotions/commit/", body).await;
    assert_eq!(
        res.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        res.text()
    );
    let listed = res.json()["errors"]["students"].to_string();
    assert!(
        listed.contains("Gbenga") && listed.contains("JSS 1B"),
        "{listed}"
    );
    // Under the default rules (pass at 40, no margin) Chi's 39 repeats: only Gbenga blocks.
    assert!(!listed.contains("Chi"), "{listed}");
    let in_new = format!("SELECT count(*) FROM registrations WHERE session_id = {to}");
    assert_eq!(count(&app, "alpha", &in_new).await, 0);
    assert_eq!(
        count(&app, "alpha", "SELECT count(*) FROM promotion_decisions").await,
        0
    );
    // A session that is not there is a 404 (a reading); the wrong way round is a 422.
    let res = admin.get(&preview_url(s.session, 999_999)).await;
    assert_error_shape(&res, 404);
    let res = admin.get(&preview_url(to, s.session)).await;
    assert_eq!(
        res.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        res.text()
    );
}

#[sqlx::test(migrations = false)]
async fn the_wizard_page_walks_to_the_commit(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let s = two_level_school(&app, "alpha").await;
    let mut b = app.signed_in("alpha", "admin@alpha.test").await;
    // The Academics page points to where next classes are confirmed.
    let academics = b.get("/academics").await.text();
    assert!(academics.contains("href=\"/promotions\""), "{academics}");
    let page = b.get("/promotions").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text());
    assert!(page.text().contains("Confirm the suggestions"));
    assert!(page.text().contains(r#"name="viewport""#) || page.text().contains("viewport"));
    let token = b.csrf("/promotions").await;
    let res = b
        .post("/promotions/next-classes/accept", &[("csrf_token", &token)])
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text());
    let from = s.session.to_string();
    // A refused new session comes back with what was typed.
    let res = b
        .post(
            "/promotions/new-session",
            &[
                ("csrf_token", &token),
                ("from_session", &from),
                ("name", "Next year"),
                ("starts_on", "2026-09-07"),
                ("ends_on", "2026-01-01"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text());
    let location = res.headers["location"].to_str().unwrap().to_owned();
    let page = b.get(&location).await.text();
    assert!(page.contains("value=\"Next year\""), "{page}");
    assert!(page.contains("value=\"2026-09-07\""), "{page}");
    assert_eq!(
        count(&app, "alpha", "SELECT count(*) FROM academic_sessions").await,
        1,
        "nothing was made"
    );
    let res = b
        .post(
            "/promotions/new-session",
            &[
                ("csrf_token", &token),
                ("from_session", &from),
                ("name", "2026/2027"),
                ("starts_on", "2026-09-07"),
                ("ends_on", "2027-07-23"),
                ("t1_starts", "2026-09-07"),
                ("t1_ends", "2026-12-11"),
                ("t2_starts", "2027-01-04"),
                ("t2_ends", "2027-04-01"),
                ("t3_starts", "2027-04-19"),
                ("t3_ends", "2027-07-23"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text());
    let page = b.get("/promotions").await.text();
    assert!(page.contains("Preview: 2025/2026 → 2026/2027"), "{page}");
    let to = id_of(&s.admin, "/api/v1/school/sessions/", "name", "2026/2027")
        .await
        .to_string();
    // An override without a reason is refused on the page, nothing saved.
    let bola = s.pupils["Bola"].to_string();
    let form = |reason: &'static str| {
        vec![
            ("from_session", from.clone()),
            ("to_session", to.clone()),
            ("student_id", bola.clone()),
            ("outcome", "promote".to_owned()),
            ("reason", reason.to_owned()),
        ]
    };
    let send = |f: Vec<(&'static str, String)>, token: String| {
        let mut all = vec![("csrf_token", token)];
        all.extend(f);
        all
    };
    let fields = send(form(""), token.clone());
    let refs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let res = b.post("/promotions/decide", &refs).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let page = b
        .get(&format!("/promotions?from_session={from}&to_session={to}"))
        .await
        .text();
    assert!(page.contains("This field is required"), "{page}");
    let fields = send(form("Passed the resit"), token.clone());
    let refs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let res = b.post("/promotions/decide", &refs).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let page = b
        .get(&format!("/promotions?from_session={from}&to_session={to}"))
        .await
        .text();
    assert!(
        page.contains("Passed the resit") && page.contains("decided by"),
        "{page}"
    );
    assert!(page.contains("data-confirm=\"Move 6 pupils"), "{page}");
    let res = b
        .post(
            "/promotions/commit",
            &[
                ("csrf_token", &token),
                ("from_session", &from),
                ("to_session", &to),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let page = b
        .get(&format!("/promotions?from_session={from}&to_session={to}"))
        .await
        .text();
    assert!(
        page.contains("Committed: 6 pupils = 3 promoted + 1 repeating + 2 graduated + 0 left"),
        "{page}"
    );
    // A teacher does not see the page.
    app.create_staff("alpha", "teacher@alpha.test", "Teacher")
        .await;
    let mut t = app.signed_in("alpha", "teacher@alpha.test").await;
    assert_eq!(t.get("/promotions").await.status, StatusCode::FORBIDDEN);
}

/// A pupil who moved arm in the middle of the session appears once, in the arm they are in
/// now, and goes on from that arm's next class.
#[sqlx::test(migrations = false)]
async fn a_pupil_who_moved_arm_mid_session_appears_once(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let s = two_level_school(&app, "alpha").await;
    let (_, jss1b) = class_of(&s.admin, "JSS 1B").await;
    // The other arm gets its exams, so Ada's marks move with her.
    generate_exams(&s.admin, s.es, jss1b).await;
    let res = s
        .admin
        .post(
            &format!(
                "/api/v1/school/sessions/{}/classes/{jss1b}/registrations/",
                s.session
            ),
            json!({"student_id": s.pupils["Ada"]}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    accept_suggestions(&s.admin).await;
    let to = new_session(&s.admin, s.session).await;
    let preview = s.admin.get(&preview_url(s.session, to)).await.json();
    let adas: Vec<&Value> = preview["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["full_name"].as_str().unwrap_or_default().contains("Ada"))
        .collect();
    assert_eq!(adas.len(), 1, "{preview}");
    assert_eq!(adas[0]["class_name"], "JSS 1B", "{preview}");
    assert_eq!(adas[0]["outcome"], "promote", "{preview}");
    assert_eq!(adas[0]["to_class_name"], "JSS 2B", "{preview}");
    assert_eq!(preview["totals"]["pupils"], 6, "{preview}");
}

/// Pupils move one session at a time: a rollover that skips a session is refused, and a
/// margin with two decimals (2.3, which binary floating point cannot hold exactly) is kept.
#[sqlx::test(migrations = false)]
async fn a_rollover_never_skips_a_session(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let s = two_level_school(&app, "alpha").await;
    accept_suggestions(&s.admin).await;
    let next = new_session(&s.admin, s.session).await;
    let res = s
        .admin
        .post(
            "/api/v1/school/sessions/",
            json!({"name": "2027/2028", "starts_on": "2027-09-06", "ends_on": "2028-07-21"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    let later = res.json()["id"].as_i64().unwrap();
    let res = s.admin.get(&preview_url(s.session, later)).await;
    assert!(assert_error_shape(&res, 422)["errors"]["to_session"].is_array());
    let res = s
        .admin
        .post(
            "/api/v1/school/promotions/commit/",
            json!({"from_session": s.session, "to_session": later}),
        )
        .await;
    assert_error_shape(&res, 422);
    assert_eq!(
        s.admin.get(&preview_url(s.session, next)).await.status,
        StatusCode::OK
    );

    let res = s
        .admin
        .put("/api/v1/school/promotions/rules/", json!({"margin": 2.3}))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert_eq!(res.json()["margin"], 2.3);
}

/// A person's decision is checked again at the preview and the commit: a promotion to an arm
/// that has since been moved to the pupil's own level blocks the commit instead of being
/// carried out.
#[sqlx::test(migrations = false)]
async fn a_decision_that_no_longer_fits_the_levels_blocks_the_commit(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let s = two_level_school(&app, "alpha").await;
    accept_suggestions(&s.admin).await;
    let to = new_session(&s.admin, s.session).await;
    let res = s
        .admin
        .put(
            "/api/v1/school/promotions/decisions/",
            json!({"from_session": s.session, "to_session": to, "decisions": [
                {"student_id": s.pupils["Bola"], "outcome": "promote", "class_id": s.arms["JSS 2B"],
                 "reason": "Passed the resit"}]}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    // JSS 2B is moved to the first level (the school reorganised its arms).
    let jss1 = id_of(&s.admin, "/api/v1/school/forms/", "name", "JSS 1").await;
    let res = s
        .admin
        .patch(
            &format!("/api/v1/school/classes/{}/", s.arms["JSS 2B"]),
            json!({"form_id": jss1}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let p = s.admin.get(&preview_url(s.session, to)).await.json();
    assert!(
        row(&p, "Bola")["blocking"]
            .as_str()
            .unwrap_or_default()
            .contains("no longer fits"),
        "{p}"
    );
    let res = s
        .admin
        .post(
            "/api/v1/school/promotions/commit/",
            json!({"from_session": s.session, "to_session": to}),
        )
        .await;
    assert_error_shape(&res, 422);
    assert_eq!(
        count(
            &app,
            "alpha",
            &format!("SELECT count(*) FROM registrations WHERE session_id = {to}")
        )
        .await,
        0,
        "nothing was placed"
    );
}
