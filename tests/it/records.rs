//! School records: academic structure, the student register, guardians, registrations,
//! photos, CSV import and exports.

use axum::http::{Method, StatusCode, header};
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::{
    Client, Response, TestApp, assert_error_shape,
    fixtures::{class_of, school_with_year},
    host, internals,
};

async fn admit(client: &Client, body: Value) -> Response {
    client.post("/api/v1/school/admissions/", body).await
}

#[sqlx::test(migrations = false)]
async fn guided_setup_builds_the_structure_and_moves_progress(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let t = school_with_year(&app, "alpha").await;
    let sessions = t.get("/api/v1/school/sessions/").await.json()["results"].clone();
    assert_eq!(sessions.as_array().unwrap().len(), 1);
    assert_eq!(sessions[0]["is_current"], true);
    let sid = sessions[0]["id"].as_i64().unwrap();
    let terms = t
        .get(&format!("/api/v1/school/sessions/{sid}/terms/"))
        .await
        .json()["results"]
        .clone();
    assert_eq!(terms.as_array().unwrap().len(), 3);
    assert_eq!(terms[0]["name"], "First Term");
    assert_eq!(terms[0]["next_term_begins"], "2026-01-05");
    assert_eq!(terms[2]["next_term_begins"], "2026-09-07");
    let arms = t.get("/api/v1/school/classes/").await.json()["results"].clone();
    let names: Vec<&str> = arms
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["JSS 1A", "JSS 1B", "JSS 2A", "JSS 2B"]);
    let classes = t
        .get(&format!("/api/v1/school/sessions/{sid}/classes/"))
        .await
        .json()["results"]
        .clone();
    assert_eq!(classes[0]["subjects"].as_array().unwrap().len(), 3);
    let progress: String =
        sqlx::query_scalar("SELECT setup_progress FROM public.clients WHERE code = 'alpha'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(progress, "in_progress");
}

#[sqlx::test(migrations = false)]
async fn structure_crud_with_validation(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let t = school_with_year(&app, "alpha").await;
    // Subjects
    let res = t
        .post(
            "/api/v1/school/subjects/",
            json!({"name": "Further Mathematics"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    let sub = res.json();
    assert_eq!(sub["code"], "FUR");
    let dup = t
        .post(
            "/api/v1/school/subjects/",
            json!({"name": "further mathematics"}),
        )
        .await;
    assert!(assert_error_shape(&dup, 422)["errors"]["name"].is_array());
    let id = sub["id"].as_i64().unwrap();
    let res = t
        .patch(
            &format!("/api/v1/school/subjects/{id}/"),
            json!({"code": "fmt"}),
        )
        .await;
    assert_eq!(res.json()["code"], "FMT");
    assert_eq!(
        t.delete(&format!("/api/v1/school/subjects/{id}/"))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    // A subject offered in a class cannot be deleted.
    let subjects = t.get("/api/v1/school/subjects/").await.json()["results"].clone();
    let english = subjects
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "English Language")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    assert_error_shape(
        &t.delete(&format!("/api/v1/school/subjects/{english}/"))
            .await,
        409,
    );
    // Forms and arms
    let form = t
        .post("/api/v1/school/forms/", json!({"name": "JSS 3"}))
        .await
        .json();
    let fid = form["id"].as_i64().unwrap();
    assert_eq!(form["ordinal"], 3);
    let arm = t
        .post(
            "/api/v1/school/classes/",
            json!({"name": "JSS 3A", "form_id": fid}),
        )
        .await;
    assert_eq!(arm.status, StatusCode::CREATED);
    let bad = t
        .post(
            "/api/v1/school/classes/",
            json!({"name": "JSS 9A", "form_id": 99999}),
        )
        .await;
    assert!(assert_error_shape(&bad, 422)["errors"]["form_id"].is_array());
    assert_error_shape(
        &t.delete(&format!("/api/v1/school/forms/{fid}/")).await,
        409,
    );
    // Sessions and terms
    let bad = t
        .post(
            "/api/v1/school/sessions/",
            json!({"name": "2026/2027", "starts_on": "2026-09-01", "ends_on": "2026-01-01"}),
        )
        .await;
    assert!(assert_error_shape(&bad, 422)["errors"]["ends_on"].is_array());
    let s2 = t.post("/api/v1/school/sessions/", json!({"name": "2026/2027", "starts_on": "2026-09-07", "ends_on": "2027-07-23", "is_current": true})).await;
    assert_eq!(s2.status, StatusCode::CREATED, "{}", s2.text());
    let sessions = t.get("/api/v1/school/sessions/").await.json()["results"].clone();
    assert_eq!(
        sessions
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["is_current"] == true)
            .count(),
        1,
        "one current session"
    );
    let s2 = s2.json()["id"].as_i64().unwrap();
    let outside = t
        .post(
            &format!("/api/v1/school/sessions/{s2}/terms/"),
            json!({"ordinal": 1, "starts_on": "2025-01-01", "ends_on": "2025-03-01"}),
        )
        .await;
    assert_error_shape(&outside, 422);
    let term = t.post(&format!("/api/v1/school/sessions/{s2}/terms/"), json!({"ordinal": 1, "starts_on": "2026-09-07", "ends_on": "2026-12-11", "next_term_begins": "2027-01-04"})).await;
    assert_eq!(term.status, StatusCode::CREATED, "{}", term.text());
    let again = t
        .post(
            &format!("/api/v1/school/sessions/{s2}/terms/"),
            json!({"ordinal": 1, "starts_on": "2026-09-07", "ends_on": "2026-12-11"}),
        )
        .await;
    assert!(assert_error_shape(&again, 422)["errors"]["ordinal"].is_array());
    // Academic classes with teachers: only this school's staff may teach.
    let arm_id = arm.json()["id"].as_i64().unwrap();
    let teacher = app.create_staff("alpha", "t@alpha.test", "Teacher").await;
    let ac = t.post(&format!("/api/v1/school/sessions/{s2}/classes/"), json!({"class_id": arm_id, "class_teacher_id": teacher, "subjects": [{"subject_id": english, "teacher_id": teacher}]})).await;
    assert_eq!(ac.status, StatusCode::CREATED, "{}", ac.text());
    assert_eq!(ac.json()["subjects"][0]["teacher_id"], teacher);
    // A teacher of another school is not this school's staff.
    app.create_school("beta").await;
    let outsider = app.create_staff("beta", "t@beta.test", "Teacher").await;
    let res = t
        .patch(
            &format!("/api/v1/school/sessions/{s2}/classes/{}/", ac.json()["id"]),
            json!({"class_teacher_id": outsider}),
        )
        .await;
    assert!(assert_error_shape(&res, 422)["errors"]["class_teacher_id"].is_array());
}

#[sqlx::test(migrations = false)]
async fn admissions_generate_numbers_and_refuse_duplicates(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let t = school_with_year(&app, "alpha").await;
    let (_, jss1a) = class_of(&t, "JSS 1A").await;
    let res = admit(&t, json!({
        "first_name": "Chidi", "last_name": "Okafor", "sex": "male", "date_of_birth": "2013-04-12",
        "admission_date": "2025-09-08", "academic_class_id": jss1a,
        "guardians": [{"full_name": "Ngozi Okafor", "relationship": "Mother", "phone": "+234 803 123 4567", "email": "Ngozi@Example.com"}]
    })).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    let chidi = res.json();
    assert_eq!(chidi["admission_no"], "ADM/2025/0001");
    assert_eq!(chidi["current_class"], "JSS 1A");
    let second = admit(&t, json!({"first_name": "Amina", "last_name": "Bello", "sex": "female", "admission_date": "2025-09-08"})).await.json();
    assert_eq!(second["admission_no"], "ADM/2025/0002");
    let guardians = t
        .get(&format!(
            "/api/v1/school/guardians/?student={}",
            chidi["id"]
        ))
        .await
        .json();
    assert_eq!(guardians["results"][0]["phone"], "+2348031234567");
    assert_eq!(guardians["results"][0]["email"], "ngozi@example.com");
    assert_eq!(guardians["results"][0]["is_primary"], true);

    // Duplicate admission number: 422 naming the field, nothing created.
    let dup = admit(&t, json!({"admission_no": "adm/2025/0001", "first_name": "X", "last_name": "Y", "sex": "male"})).await;
    assert!(assert_error_shape(&dup, 422)["errors"]["admission_no"].is_array());
    // Bad fields, each named; a bad guardian stops the whole admission.
    let bad = admit(
        &t,
        json!({"first_name": "", "last_name": "Y", "sex": "other", "date_of_birth": "2099-01-01",
        "guardians": [{"full_name": "G", "phone": "call me"}]}),
    )
    .await;
    let err = assert_error_shape(&bad, 422);
    for f in [
        "first_name",
        "sex",
        "date_of_birth",
        "guardians[0].phone",
        "guardians[0].full_name",
    ] {
        assert!(err["errors"][f].is_array(), "{f}: {err}");
    }
    let bad_date = admit(
        &t,
        json!({"first_name": "A", "last_name": "B", "sex": "male", "date_of_birth": "12/04/2013"}),
    )
    .await;
    assert!(assert_error_shape(&bad_date, 422)["errors"]["date_of_birth"].is_array());
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM alpha.students")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(count, 2);

    // The pattern is configurable.
    let res = t
        .patch(
            "/api/v1/school/settings/",
            json!({"admission_number_pattern": "GW-{YY}-{SEQ:3}"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let third = admit(&t, json!({"first_name": "Tolu", "last_name": "Ade", "sex": "female", "admission_date": "2026-01-10"})).await.json();
    assert_eq!(third["admission_no"], "GW-26-003");
    let bad = t
        .patch(
            "/api/v1/school/settings/",
            json!({"admission_number_pattern": "NO-SEQ"}),
        )
        .await;
    assert!(assert_error_shape(&bad, 422)["errors"]["admission_number_pattern"].is_array());
}

#[sqlx::test(migrations = false)]
async fn withdrawing_keeps_the_record_and_edits_are_audited(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let t = school_with_year(&app, "alpha").await;
    let (_, jss1a) = class_of(&t, "JSS 1A").await;
    let s = admit(&t, json!({"first_name": "Chidi", "last_name": "Okafor", "sex": "male", "academic_class_id": jss1a})).await.json();
    let id = s["id"].as_i64().unwrap();
    let res = t
        .patch(
            &format!("/api/v1/school/admissions/{id}/"),
            json!({"last_name": "Okafor-Eze", "address": "4 Allen Avenue"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let audit = t
        .get(&format!(
            "/api/v1/school/audit/?entity=student&entity_id={id}&action=update"
        ))
        .await
        .json();
    assert_eq!(audit["count"], 1);
    assert_eq!(
        audit["results"][0]["changes"]["last_name"],
        json!({"from": "Okafor", "to": "Okafor-Eze"})
    );
    assert_eq!(
        audit["results"][0]["changes"]["address"],
        json!({"from": "", "to": "4 Allen Avenue"})
    );
    assert!(
        audit["results"][0]["changes"].get("first_name").is_none(),
        "only changed fields"
    );

    let res = t
        .patch(
            &format!("/api/v1/school/admissions/{id}/"),
            json!({"status": "withdrawn"}),
        )
        .await;
    assert_eq!(res.json()["status"], "withdrawn");
    assert_eq!(res.json()["current_class"], json!(null), "left the class");
    let record = t
        .get(&format!("/api/v1/school/admissions/{id}/record/"))
        .await
        .json();
    assert_eq!(record["student"]["last_name"], "Okafor-Eze");
    assert_eq!(record["class_history"][0]["class_name"], "JSS 1A");
    assert_eq!(record["class_history"][0]["is_current"], false);
    let withdrawn = t
        .get("/api/v1/school/admissions/?status=withdrawn")
        .await
        .json();
    assert_eq!(withdrawn["count"], 1);
}

#[sqlx::test(migrations = false)]
async fn registrations_move_between_arms_and_keep_history(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let t = school_with_year(&app, "alpha").await;
    let (sid, a) = class_of(&t, "JSS 1A").await;
    let (_, b) = class_of(&t, "JSS 1B").await;
    let s = admit(
        &t,
        json!({"first_name": "Chidi", "last_name": "Okafor", "sex": "male"}),
    )
    .await
    .json();
    let id = s["id"].as_i64().unwrap();
    let reg = |class: i64| format!("/api/v1/school/sessions/{sid}/classes/{class}/registrations/");
    assert_eq!(
        t.post(&reg(a), json!({"student_id": id})).await.status,
        StatusCode::CREATED
    );
    // Registering again in the same class changes nothing; in another arm, moves.
    assert_eq!(
        t.post(&reg(a), json!({"student_id": id})).await.status,
        StatusCode::CREATED
    );
    let moved = t.post(&reg(b), json!({"student_id": id})).await;
    assert_eq!(moved.status, StatusCode::CREATED);
    let in_a = t.get(&reg(a)).await.json();
    let in_b = t.get(&reg(b)).await.json();
    assert_eq!(in_a["count"], 0);
    assert_eq!(in_b["count"], 1);
    let history = t
        .get(&format!("/api/v1/school/admissions/{id}/record/"))
        .await
        .json()["class_history"]
        .clone();
    assert_eq!(history.as_array().unwrap().len(), 2);
    let classes = t
        .get(&format!("/api/v1/school/sessions/{sid}/classes/"))
        .await
        .json()["results"]
        .clone();
    let count_of = |name: &str| {
        classes
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["class_name"] == name)
            .unwrap()["student_count"]
            .clone()
    };
    assert_eq!(count_of("JSS 1B"), 1);
    // Class filter on the register and the class list export.
    let listed = t
        .get(&format!("/api/v1/school/admissions/?class={b}"))
        .await
        .json();
    assert_eq!(listed["count"], 1);
    let csv = t.get(&format!("{}export/", reg(b))).await;
    assert!(
        csv.headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    assert!(csv.text().contains("Okafor,Chidi"), "{}", csv.text());
    // Ending the registration keeps the history.
    let reg_id = in_b["results"][0]["id"].as_i64().unwrap();
    assert_eq!(
        t.delete(&format!("{}{reg_id}/", reg(b))).await.status,
        StatusCode::NO_CONTENT
    );
    let unknown = t.post(&reg(b), json!({"student_id": 99999})).await;
    assert!(assert_error_shape(&unknown, 422)["errors"]["student_id"].is_array());
}

#[sqlx::test(migrations = false)]
async fn search_and_pagination(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let t = school_with_year(&app, "alpha").await;
    let names = [
        ("Chidi", "Okafor"),
        ("Amina", "Bello"),
        ("Ngozi", "Okonkwo"),
        ("Tunde", "Bakare"),
        ("Zainab", "Okoro"),
        ("Emeka", "Nwosu"),
        ("Kemi", "Adeyemi"),
    ];
    for (f, l) in names {
        assert_eq!(admit(&t, json!({"first_name": f, "last_name": l, "sex": "female", "admission_date": "2025-09-08"})).await.status, StatusCode::CREATED);
    }
    let get = |q: &str| {
        let t = &t;
        let path = format!("/api/v1/school/admissions/{q}");
        async move { t.get(&path).await.json() }
    };
    let r = get("?search=oko").await;
    let found: Vec<&str> = r["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["last_name"].as_str().unwrap())
        .collect();
    assert_eq!(found, ["Okonkwo", "Okoro"]);
    assert_eq!(
        get("?search=ADM/2025/0003").await["results"][0]["first_name"],
        "Ngozi"
    );
    assert_eq!(
        get("?search=amina%20bel").await["count"],
        1,
        "first and last name together"
    );
    assert_eq!(get("?search=zainab").await["count"], 1);
    assert_eq!(
        get("?search=100%25").await["count"],
        0,
        "wildcards are literal"
    );
    let p1 = get("?page_size=3&ordering=first_name").await;
    assert_eq!(p1["count"], 7);
    let firsts: Vec<&str> = p1["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["first_name"].as_str().unwrap())
        .collect();
    assert_eq!(firsts, ["Amina", "Chidi", "Emeka"]);
    let p3 = get("?page_size=3&ordering=first_name&page=3").await;
    assert_eq!(p3["results"].as_array().unwrap().len(), 1);
    assert_eq!(p3["results"][0]["first_name"], "Zainab");
    assert_eq!(p3["next"], json!(null));
    assert!(p3["previous"].as_str().unwrap().contains("page=2"));
    let desc = get("?ordering=-admission_no&page_size=1").await;
    assert_eq!(desc["results"][0]["admission_no"], "ADM/2025/0007");
    // `-` turns the whole name order round, not only its last column.
    let desc = get("?ordering=-last_name&page_size=2").await;
    assert_eq!(desc["results"][0]["last_name"], "Okoro");
    assert_eq!(desc["results"][1]["last_name"], "Okonkwo");
    let desc = get("?ordering=-first_name&page_size=2").await;
    assert_eq!(desc["results"][0]["first_name"], "Zainab");
    assert_eq!(desc["results"][1]["first_name"], "Tunde");
    assert_error_shape(
        &t.get("/api/v1/school/admissions/?status=expelled").await,
        422,
    );
}

/// Names as people type them: accents, tone marks and the dot below (Ọ, Ẹ, Ṣ) are ignored
/// when searching and sorting, and both name orderings go either way.
#[sqlx::test(migrations = false)]
async fn names_sort_and_search_without_accents_or_tone_marks(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let t = school_with_year(&app, "alpha").await;
    // One surname typed decomposed (E + dot below + grave…), the way some keyboards send it.
    let eko_nfd = "E\u{0323}\u{0300}ko\u{0323}\u{0301}";
    let pupils = [
        ("Ọlákúnlé", "Ṣóyínká"),
        ("Zara", "Ọ̀gúnlẹ́yẹ"),
        ("Tunde", "Okafor"),
        ("Ṣadé", "Smith"),
        ("Adé", "Sanni"),
        ("Bisi", eko_nfd),
        ("Ẹ̀mí", "Eze"),
        ("Chinedu", "Zubair"),
    ];
    let (sid, jss1a) = class_of(&t, "JSS 1A").await;
    for (f, l) in pupils {
        let res = admit(
            &t,
            json!({"first_name": f, "last_name": l, "sex": "female", "academic_class_id": jss1a}),
        )
        .await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    }
    let names = |q: &str, field: &'static str| {
        let t = &t;
        let path = format!("/api/v1/school/admissions/{q}");
        async move {
            let res = t.get(&path).await;
            assert_eq!(res.status, StatusCode::OK, "{path}: {}", res.text());
            res.json()["results"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s[field].as_str().unwrap().to_owned())
                .collect::<Vec<String>>()
        }
    };

    // Ọ sorts with O, Ẹ with E, Ṣ with S (not after Z, where their code points are).
    let surnames = [
        eko_nfd,
        "Eze",
        "Ọ̀gúnlẹ́yẹ",
        "Okafor",
        "Sanni",
        "Smith",
        "Ṣóyínká",
        "Zubair",
    ];
    assert_eq!(names("", "last_name").await, surnames, "the default order");
    assert_eq!(names("?ordering=last_name", "last_name").await, surnames);
    let mut descending = surnames.to_vec();
    descending.reverse();
    assert_eq!(names("?ordering=-last_name", "last_name").await, descending);
    let firsts = [
        "Adé",
        "Bisi",
        "Chinedu",
        "Ẹ̀mí",
        "Ọlákúnlé",
        "Ṣadé",
        "Tunde",
        "Zara",
    ];
    assert_eq!(names("?ordering=first_name", "first_name").await, firsts);
    let mut descending = firsts.to_vec();
    descending.reverse();
    assert_eq!(
        names("?ordering=-first_name", "first_name").await,
        descending
    );
    // A class list (and the mark sheets, broadsheets and comment pages, ordered alike) too.
    let class_list = t
        .get(&format!(
            "/api/v1/school/sessions/{sid}/classes/{jss1a}/registrations/"
        ))
        .await
        .json();
    let listed: Vec<&str> = class_list["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["last_name"].as_str().unwrap())
        .collect();
    assert_eq!(listed, surnames);
    // Pages of a descending order follow on from each other.
    assert_eq!(
        names("?ordering=-last_name&page_size=3&page=2", "last_name").await,
        ["Sanni", "Okafor", "Ọ̀gúnlẹ́yẹ"]
    );

    // Search ignores accents, tone marks and case, whichever side carries them, and whether
    // the marks were typed composed or decomposed.
    assert_eq!(names("?search=Olakunle", "first_name").await, ["Ọlákúnlé"]);
    assert_eq!(names("?search=soyinka", "last_name").await, ["Ṣóyínká"]);
    assert_eq!(names("?search=OGUNLEYE", "last_name").await, ["Ọ̀gúnlẹ́yẹ"]);
    assert_eq!(
        names("?search=%E1%BB%8Ckaf%E1%BB%8D", "last_name").await,
        ["Okafor"]
    );
    assert_eq!(
        names("?search=%E1%BA%B8k%E1%BB%8D", "last_name").await,
        [eko_nfd]
    );
    assert_eq!(names("?search=sade%20smith", "first_name").await, ["Ṣadé"]);
    // The students page searches the same way.
    let mut b = app.signed_in("alpha", "admin@alpha.test").await;
    let rows = b.htmx_get("/students?search=emi").await;
    assert!(rows.text().contains("Ẹ̀mí"), "{}", rows.text());
    assert!(!rows.text().contains("Okafor"), "{}", rows.text());

    // The search and the name order still go through their indexes.
    let mut tx = app.school_tx("alpha").await;
    sqlx::query("SET LOCAL enable_seqscan = off")
        .execute(&mut *tx)
        .await
        .unwrap();
    let search = internals::STUDENT_SEARCH_CONDITION.replace("$?", "$1");
    let plan: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "EXPLAIN SELECT s.id FROM students s WHERE {search}"
    )))
    .bind("%ọlákúnlé%")
    .fetch_all(&mut *tx)
    .await
    .unwrap();
    assert!(
        plan.join("\n")
            .contains("Bitmap Index Scan on students_search_key_idx"),
        "{plan:?}"
    );
    let plan: Vec<String> = sqlx::query_scalar(
        "EXPLAIN SELECT s.id FROM students s
          ORDER BY s.last_name_key DESC, s.first_name_key DESC, s.id DESC LIMIT 25",
    )
    .fetch_all(&mut *tx)
    .await
    .unwrap();
    assert!(
        plan.join("\n")
            .contains("Index Only Scan Backward using students_name_key_order_idx"),
        "{plan:?}"
    );
}

#[sqlx::test(migrations = false)]
async fn csv_import_is_all_or_nothing(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let t = school_with_year(&app, "alpha").await;
    admit(
        &t,
        json!({"admission_no": "GW/001", "first_name": "Old", "last_name": "Pupil", "sex": "male"}),
    )
    .await;
    let post = |body: &str, dry: bool| {
        let path = format!(
            "/api/v1/school/admissions/import/{}",
            if dry { "?dry_run=true" } else { "" }
        );
        let (t, body) = (&t, body.to_owned());
        async move { t.raw(Method::POST, &path, Some("text/csv"), body).await }
    };
    let header_row = "admission_no,first_name,last_name,other_names,sex,date_of_birth,admission_date,address,class,guardian_name,guardian_relationship,guardian_phone,guardian_email\n";
    let bad = format!(
        "{header_row}GW/101,Chidi,Okafor,,male,2013-04-12,2025-09-08,,JSS 1A,Ngozi Okafor,Mother,+2348031234567,\n\
         GW/102,,Bello,,female,2013-01-01,,,JSS 1A,,,,\n\
         GW/101,Tunde,Bakare,,m,13/02/2013,,,JSS 9Z,,,,\n\
         GW/001,Kemi,Ade,,f,2013-13-01,,,,,,phone-less,\n"
    );
    let res = post(&bad, false).await;
    let err = assert_error_shape(&res, 422);
    assert!(
        err["errors"]["line 3"][0]
            .as_str()
            .unwrap()
            .contains("missing first name"),
        "{err}"
    );
    let line4 = err["errors"]["line 4"].to_string();
    assert!(
        line4.contains("duplicate admission number") && line4.contains("unknown class"),
        "{line4}"
    );
    let line5 = err["errors"]["line 5"].to_string();
    assert!(
        line5.contains("already belongs") && line5.contains("bad date") && line5.contains("phone"),
        "{line5}"
    );
    assert!(err["errors"].get("line 2").is_none(), "line 2 is fine");
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM alpha.students")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(count, 1, "nothing created");

    let good = format!(
        "{header_row}GW/101,Chidi,Okafor,,male,2013-04-12,2025-09-08,,JSS 1A,Ngozi Okafor,Mother,+2348031234567,\n\
         ,Amina,Bello,,F,01/02/2013,,,jss 1b,,,,\n"
    );
    let preview = post(&good, true).await;
    assert_eq!(preview.status, StatusCode::OK, "{}", preview.text());
    assert_eq!(preview.json()["total"], 2);
    assert_eq!(
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM alpha.students")
            .fetch_one(&app.pool)
            .await
            .unwrap(),
        1
    );
    let done = post(&good, false).await;
    assert_eq!(done.status, StatusCode::CREATED, "{}", done.text());
    assert_eq!(done.json()["created"], 2);
    let listed = t
        .get("/api/v1/school/admissions/?search=bello")
        .await
        .json();
    assert_eq!(listed["results"][0]["current_class"], "JSS 1B");
    // Export contains them.
    let csv = t.get("/api/v1/school/admissions/export/").await;
    assert!(csv.text().contains("GW/101,Chidi,Okafor"), "{}", csv.text());
    let json_export = t
        .get("/api/v1/school/admissions/export/?format=json")
        .await
        .json();
    assert_eq!(json_export.as_array().unwrap().len(), 3);
}

fn multipart(boundary: &str, filename: &str, bytes: &[u8]) -> Vec<u8> {
    let mut body = format!("--{boundary}\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"{filename}\"\r\nContent-Type: image/png\r\n\r\n").into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    body
}

#[sqlx::test(migrations = false)]
async fn photos_are_checked_by_content_and_private(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let t = school_with_year(&app, "alpha").await;
    let tb = school_with_year(&app, "beta").await;
    let s = admit(
        &t,
        json!({"first_name": "Chidi", "last_name": "Okafor", "sex": "male"}),
    )
    .await
    .json();
    let path = format!("/api/v1/school/admissions/{}/photo/", s["id"]);
    let upload = |bytes: Vec<u8>| {
        t.raw(
            Method::PUT,
            &path,
            Some("multipart/form-data; boundary=XYZ"),
            bytes,
        )
    };
    let fake = upload(multipart(
        "XYZ",
        "photo.png",
        b"this is not an image at all",
    ))
    .await;
    assert!(assert_error_shape(&fake, 422)["errors"]["photo"].is_array());
    let too_big = upload(multipart("XYZ", "big.png", &vec![0x89; 3 * 1024 * 1024])).await;
    assert!(too_big.status.is_client_error());
    let png: Vec<u8> = [
        &[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A][..],
        &[0u8; 64][..],
    ]
    .concat();
    let ok = upload(multipart("XYZ", "photo.png", &png)).await;
    assert_eq!(ok.status, StatusCode::NO_CONTENT, "{}", ok.text());
    let got = t.get(&path).await;
    assert_eq!(got.headers[header::CONTENT_TYPE], "image/png");
    assert_eq!(got.body, png);
    // Another school with a pupil of the same id gets its own pupil (no photo), not this
    // photo.
    let beta_pupil = admit(
        &tb,
        json!({"first_name": "Amina", "last_name": "Bello", "sex": "female"}),
    )
    .await
    .json();
    assert_eq!(beta_pupil["id"], s["id"], "the same id in both schools");
    let other = tb.get(&path).await;
    assert_error_shape(&other, 404);
    assert_ne!(other.body, png);
    let anonymous = app.school_client("alpha").get(&path).await;
    assert_error_shape(&anonymous, 401);
}

#[sqlx::test(migrations = false)]
async fn a_school_s_ids_never_resolve_in_another(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ta = school_with_year(&app, "alpha").await;
    let tb = school_with_year(&app, "beta").await;
    // Alpha's pupil gets id 3; beta has only id 1, so id 3 does not exist there.
    for name in ["Ada", "Bayo"] {
        admit(
            &ta,
            json!({"first_name": name, "last_name": "Eze", "sex": "male"}),
        )
        .await;
    }
    let s = admit(
        &ta,
        json!({"first_name": "Chidi", "last_name": "Okafor", "sex": "male",
        "guardians": [{"full_name": "Ngozi Okafor"}]}),
    )
    .await
    .json();
    let sid = s["id"].as_i64().unwrap();
    assert_eq!(sid, 3);
    // beta has no students; make sure beta's ids differ by adding one there too.
    admit(
        &tb,
        json!({"first_name": "Amina", "last_name": "Bello", "sex": "female"}),
    )
    .await;
    let g = ta
        .get(&format!("/api/v1/school/guardians/?student={sid}"))
        .await
        .json();
    let gid = g["results"][0]["id"].as_i64().unwrap();
    for (method, path, body) in [
        (
            Method::GET,
            format!("/api/v1/school/admissions/{sid}/"),
            None,
        ),
        (
            Method::PATCH,
            format!("/api/v1/school/admissions/{sid}/"),
            Some(json!({"first_name": "Hacked"})),
        ),
        (
            Method::DELETE,
            format!("/api/v1/school/admissions/{sid}/"),
            None,
        ),
        (
            Method::GET,
            format!("/api/v1/school/admissions/{sid}/record/"),
            None,
        ),
        (
            Method::GET,
            format!("/api/v1/school/guardians/{gid}/"),
            None,
        ),
        (
            Method::DELETE,
            format!("/api/v1/school/guardians/{gid}/"),
            None,
        ),
    ] {
        let res = tb.request(method.clone(), &path, body).await;
        assert_error_shape(&res, 404);
    }
    // The beta admin's token at alpha's host is refused outright.
    let res = tb
        .at(&host("alpha"))
        .get(&format!("/api/v1/school/admissions/{sid}/"))
        .await;
    assert_error_shape(&res, 403);
    assert!(!res.text().contains("Chidi"));
    let name: String = sqlx::query_scalar("SELECT first_name FROM alpha.students WHERE id = $1")
        .bind(sid)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(name, "Chidi");
    // Registering alpha's student (an id only alpha has) into beta's class is refused as
    // unknown, and nothing is registered.
    let in_beta: i64 = sqlx::query_scalar("SELECT count(*) FROM beta.students WHERE id = $1")
        .bind(sid)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(in_beta, 0, "the id exists in alpha only");
    let (bs, bc) = class_of(&tb, "JSS 1A").await;
    let registrations = format!("/api/v1/school/sessions/{bs}/classes/{bc}/registrations/");
    let res = tb.post(&registrations, json!({"student_id": sid})).await;
    assert!(assert_error_shape(&res, 422)["errors"]["student_id"].is_array());
    assert_eq!(tb.get(&registrations).await.json()["results"], json!([]));
}

#[sqlx::test(migrations = false)]
async fn each_records_resource_checks_its_permissions(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let admin = school_with_year(&app, "alpha").await;
    app.create_staff("alpha", "bursar@alpha.test", "Bursar")
        .await;
    app.create_staff("alpha", "teacher@alpha.test", "Teacher")
        .await;
    let bursar = app.as_staff("alpha", "bursar@alpha.test").await;
    let teacher = app.as_staff("alpha", "teacher@alpha.test").await;
    let (sid, ac) = class_of(&admin, "JSS 1A").await;
    let s = admit(&admin, json!({"first_name": "Chidi", "last_name": "Okafor", "sex": "male", "guardians": [{"full_name": "Ngozi Okafor"}]})).await.json();
    let stu = s["id"].as_i64().unwrap();
    let next = admin
        .post(
            "/api/v1/school/sessions/",
            json!({"name": "2026/2027", "starts_on": "2026-09-07", "ends_on": "2027-07-23"}),
        )
        .await
        .json();
    let next = next["id"].as_i64().unwrap();
    // (path, body for POST/PATCH)
    let resources: Vec<(String, Value)> = vec![
        (
            "/api/v1/school/sessions/".into(),
            json!({"name": "2030/2031", "starts_on": "2030-09-01", "ends_on": "2031-07-01"}),
        ),
        (
            format!("/api/v1/school/sessions/{next}/terms/"),
            json!({"ordinal": 1, "starts_on": "2026-09-07", "ends_on": "2026-12-11"}),
        ),
        ("/api/v1/school/forms/".into(), json!({"name": "SS 1"})),
        (
            "/api/v1/school/classes/".into(),
            json!({"name": "SS 1A", "form_id": 1}),
        ),
        (
            "/api/v1/school/subjects/".into(),
            json!({"name": "Geography"}),
        ),
        (
            format!("/api/v1/school/sessions/{next}/classes/"),
            json!({"class_id": 1}),
        ),
        (
            "/api/v1/school/admissions/".into(),
            json!({"first_name": "A", "last_name": "B", "sex": "male"}),
        ),
        (
            "/api/v1/school/guardians/".into(),
            json!({"student_id": stu, "full_name": "Uncle Bayo"}),
        ),
        (
            format!("/api/v1/school/sessions/{sid}/classes/{ac}/registrations/"),
            json!({"student_id": stu}),
        ),
    ];
    for (path, body) in &resources {
        // The bursar may read everything here but change nothing.
        let read = bursar.get(path).await;
        assert_eq!(
            read.status,
            StatusCode::OK,
            "bursar GET {path}: {}",
            read.text()
        );
        let write = bursar.post(path, body.clone()).await;
        assert_eq!(
            assert_error_shape(&write, 403)["code"],
            "permission_denied",
            "bursar POST {path}"
        );
        // The admin may write.
        let created = admin.post(path, body.clone()).await;
        assert!(
            created.status.is_success(),
            "admin POST {path}: {}",
            created.text()
        );
    }
    // A teacher views the register but cannot admit, edit or delete.
    assert_eq!(
        teacher.get("/api/v1/school/admissions/").await.status,
        StatusCode::OK
    );
    for (method, path) in [
        (Method::POST, "/api/v1/school/admissions/".to_owned()),
        (Method::PATCH, format!("/api/v1/school/admissions/{stu}/")),
        (Method::PUT, format!("/api/v1/school/admissions/{stu}/")),
        (Method::DELETE, format!("/api/v1/school/admissions/{stu}/")),
        (Method::PATCH, "/api/v1/school/settings/".to_owned()),
    ] {
        let res = teacher
            .request(
                method.clone(),
                &path,
                Some(json!({"first_name": "X", "last_name": "Y", "sex": "male"})),
            )
            .await;
        assert_error_shape(&res, 403);
    }
    // Delete needs delete_students: the admin has it.
    assert_eq!(
        admin
            .delete(&format!("/api/v1/school/admissions/{stu}/"))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
}

#[test]
fn phone_numbers_normalise_to_e164() {
    use crate::helpers::internals::normalise_phone;
    assert_eq!(
        normalise_phone("0803 123 4567", "+234").as_deref(),
        Some("+2348031234567")
    );
    assert_eq!(
        normalise_phone("+234 (803) 123-4567", "+234").as_deref(),
        Some("+2348031234567")
    );
    assert_eq!(
        normalise_phone("00447911123456", "+234").as_deref(),
        Some("+447911123456")
    );
    assert_eq!(normalise_phone("call me", "+234"), None);
    assert_eq!(normalise_phone("+12", "+234"), None);
}

/// A pupil entered into Schoolyard after term began has been in their class since they
/// joined the school (or the session began), not since the day they were typed in; a move
/// dates from the day of the move.
#[sqlx::test(migrations = false)]
async fn class_history_starts_when_the_pupil_joined(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let t = school_with_year(&app, "alpha").await;
    let sessions = t.get("/api/v1/school/sessions/").await.json();
    let session = &sessions["results"][0];
    let starts: chrono::NaiveDate = session["starts_on"].as_str().unwrap().parse().unwrap();
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::Africa::Lagos)
        .date_naive();
    let admitted = (starts + chrono::Duration::days(10)).min(today);
    let (_, jss1a) = class_of(&t, "JSS 1A").await;
    let (_, jss1b) = class_of(&t, "JSS 1B").await;
    let res = t
        .post(
            "/api/v1/school/admissions/",
            json!({"first_name": "Late", "last_name": "Entry", "sex": "female",
                   "admission_date": admitted.to_string(), "academic_class_id": jss1a}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    let id = res.json()["id"].as_i64().unwrap();
    let record = t
        .get(&format!("/api/v1/school/admissions/{id}/record/"))
        .await
        .json();
    assert_eq!(
        record["class_history"][0]["registered_on"],
        admitted.to_string()
    );

    let sid = session["id"].as_i64().unwrap();
    let res = t
        .post(
            &format!("/api/v1/school/sessions/{sid}/classes/{jss1b}/registrations/"),
            json!({"student_id": id}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    let record = t
        .get(&format!("/api/v1/school/admissions/{id}/record/"))
        .await
        .json();
    assert_eq!(record["class_history"][0]["class_name"], "JSS 1B");
    assert_eq!(
        record["class_history"][0]["registered_on"],
        today.to_string()
    );
    assert_eq!(
        record["class_history"][1]["registered_on"],
        admitted.to_string()
    );
}

/// The set-up form checks every rule before it saves anything: each mistake sits on the
/// field that is wrong, all of them at once, and nothing is written.
#[sqlx::test(migrations = false)]
async fn set_up_form_errors_show_together_on_their_fields(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.create_school("alpha").await;
    app.create_staff("alpha", "admin@alpha.test", "School Admin")
        .await;
    let mut b = app.signed_in("alpha", "admin@alpha.test").await;
    let csrf = b.csrf("/setup").await;
    let res = b
        .post(
            "/setup",
            &[
                ("csrf_token", csrf.as_str()),
                ("session_name", "2026/2027"),
                ("session_starts", "2026-09-07"),
                ("session_ends", "2027-07-23"),
                ("term1_starts", "2026-09-07"),
                ("term1_ends", "2026-09-01"),
                ("term2_starts", "2027-01-05"),
                ("term2_ends", "2027-04-02"),
                ("term3_starts", "2027-04-20"),
                ("term3_ends", "2027-08-30"),
                ("next_session_begins", "2027-07-01"),
                ("forms", "JSS 1"),
                ("arms", "A"),
                ("subjects", "Mathematics\nX"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text();
    for message in [
        "The term must end after it starts.",
        "Keep the term within the session",
        "The next session begins after this one ends.",
        "a subject name has 2 to 80 characters.",
    ] {
        assert!(html.contains(message), "missing: {message}");
    }
    let mut tx = app.school_tx("alpha").await;
    let sessions: i64 = sqlx::query_scalar("SELECT count(*) FROM academic_sessions")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(sessions, 0, "nothing saved");
}
