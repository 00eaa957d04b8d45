//! The student CSV import through the page (issue 14): a large file is checked, waits in
//! the school's schema, and is confirmed by a short token; the preview lists every problem
//! the commit would refuse; a waiting upload belongs to one school, one user, one use.

use axum::http::{Method, StatusCode};
use sqlx::PgPool;

use crate::helpers::{Browser, Response, TestApp, fixtures::school_with_year};

const HEADER: &str = "admission_no,first_name,last_name,sex,date_of_birth,class,guardian_name,guardian_relationship,guardian_phone,guardian_email\n";

/// The token of the confirm form on a preview page.
fn upload_token(page: &Response) -> String {
    page.text()
        .split("name=\"token\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no confirm form: {}", page.text()))
        .to_owned()
}

async fn preview(b: &mut Browser, csv: &str) -> Response {
    let csrf = b.csrf("/students/import").await;
    b.upload(
        &format!("/students/import?csrf_token={csrf}"),
        "file",
        "pupils.csv",
        csv.as_bytes(),
    )
    .await
}

async fn confirm(b: &mut Browser, token: &str) -> Response {
    let csrf = b.csrf("/students/import").await;
    b.post(
        "/students/import/confirm",
        &[("csrf_token", &csrf), ("token", token)],
    )
    .await
}

async fn count(app: &TestApp, table: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

#[sqlx::test(migrations = false)]
async fn five_thousand_pupils_import_through_the_page(pool: PgPool) {
    let app = TestApp::new(pool).await;
    school_with_year(&app, "alpha").await;
    let mut a = app.signed_in("alpha", "admin@alpha.test").await;
    // Half with their own admission numbers, half generated from the school's pattern;
    // every pupil with a guardian (local phone numbers) and a class.
    let mut csv = HEADER.to_owned();
    for i in 0..5000 {
        let number = if i % 2 == 0 {
            format!("IMP/{i:05}")
        } else {
            String::new()
        };
        let class = if i % 2 == 0 { "JSS 1A" } else { "jss 1b" };
        csv.push_str(&format!(
            "{number},Pupil{i},Surname{i},{},2013-0{}-1{},{class},Parent {i},Mother,0803{:07},parent{i}@example.com\n",
            if i % 3 == 0 { "f" } else { "male" },
            1 + i % 9,
            i % 10,
            i
        ));
    }
    assert!(csv.len() > 500_000, "a large file: {} bytes", csv.len());

    let page = preview(&mut a, &csv).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text());
    let token = upload_token(&page);
    let html = page.text();
    assert!(html.contains("All 5000 rows are fine"), "{html}");
    assert!(html.contains("Import 5000 students"));
    assert!(
        html.contains("the other 4950 are fine too"),
        "a fine file lists only its first rows"
    );
    assert!(
        !html.contains("Pupil4999"),
        "the file itself is not sent back"
    );
    assert_eq!(
        count(&app, "alpha.students").await,
        0,
        "a preview writes nothing"
    );

    // The confirmation is a short form: the CSRF token and the upload's token.
    let csrf = a.csrf("/students/import").await;
    let body = serde_urlencoded::to_string([("csrf_token", &csrf), ("token", &token)]).unwrap();
    assert!(body.len() < 300, "confirm body is {} bytes", body.len());
    let started = std::time::Instant::now();
    let done = confirm(&mut a, &token).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.text());
    assert_eq!(done.location(), "/students");
    eprintln!("5,000 rows committed in {:?}", started.elapsed());
    assert!(
        a.get("/students")
            .await
            .text()
            .contains("5000 students imported")
    );

    assert_eq!(count(&app, "alpha.students").await, 5000);
    assert_eq!(count(&app, "alpha.guardians WHERE is_primary").await, 5000);
    assert_eq!(
        count(&app, "alpha.registrations WHERE is_current").await,
        5000
    );
    assert_eq!(
        count(&app, "alpha.import_uploads").await,
        0,
        "the upload is used up"
    );
    let (pupil, class, phone, email): (String, String, String, String) = sqlx::query_as(
        "SELECT s.admission_no, c.name, g.phone, g.email FROM alpha.students s
           JOIN alpha.guardians g ON g.student_id = s.id
           JOIN alpha.registrations r ON r.student_id = s.id
           JOIN alpha.academic_classes ac ON ac.id = r.academic_class_id
           JOIN alpha.classes c ON c.id = ac.class_id
          WHERE s.first_name = 'Pupil4998'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        (
            pupil.as_str(),
            class.as_str(),
            phone.as_str(),
            email.as_str()
        ),
        (
            "IMP/04998",
            "JSS 1A",
            "+2348030004998",
            "parent4998@example.com"
        )
    );
    // Generated numbers follow the pattern, are all different, and the running number moved on.
    let generated: Vec<String> = sqlx::query_scalar(
        "SELECT admission_no FROM alpha.students WHERE admission_no NOT LIKE 'IMP/%' ORDER BY admission_no",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(generated.len(), 2500);
    assert!(
        generated.iter().all(|n| n.starts_with("ADM/")),
        "{generated:?}"
    );
    let next: i32 = sqlx::query_scalar("SELECT next_admission_seq FROM alpha.general_settings")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(next, 2501);
    let audit: serde_json::Value = sqlx::query_scalar(
        "SELECT changes FROM alpha.audit_log WHERE action = 'import' AND entity = 'student'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(audit["created"], 5000);
}

#[sqlx::test(migrations = false)]
async fn the_preview_lists_every_problem_the_commit_refuses(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let api = school_with_year(&app, "alpha").await;
    let mut a = app.signed_in("alpha", "admin@alpha.test").await;
    let long_name = "A".repeat(81);
    let csv = format!(
        "{HEADER}GW/1,Ada,Obi,f,2099-01-01,JSS 1A,,,,\n\
         GW/2,{long_name},Eze,m,2013-02-02,JSS 1A,,,,\n\
         GW/1,Bola,Ade,f,2013-03-03,JSS 1B,,,,\n\
         GW/4,Chi,Okoro,m,2013-04-04,JSS 1A,Ngozi Okoro,Mother,12,not-an-email\n\
         GW/5,Dayo,Bello,f,2013-05-05,JSS 1A,,,,\n"
    );
    let page = preview(&mut a, &csv).await;
    assert_eq!(
        page.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        page.text()
    );
    let html = page.text();
    assert!(html.contains("4 of 5 rows have problems"), "{html}");
    for problem in [
        "the date of birth must be in the past",
        "first name: must be at most 80 characters",
        "duplicate admission number GW/1 (also on line 2)",
        "guardian phone: enter a phone number",
        "guardian email:",
    ] {
        assert!(html.contains(problem), "{problem} in {html}");
    }
    assert!(!html.contains("name=\"token\""), "nothing to confirm");
    assert!(!html.contains("Dayo"), "only rows with problems are listed");

    // The API's check and commit list the same problems, every row at once, and write
    // nothing.
    for path in [
        "/api/v1/school/admissions/import/?dry_run=true",
        "/api/v1/school/admissions/import/",
    ] {
        let res = api
            .raw(Method::POST, path, Some("text/csv"), csv.clone())
            .await;
        let err = crate::helpers::assert_error_shape(&res, 422);
        let errors = err["errors"].as_object().unwrap();
        assert_eq!(
            errors.keys().collect::<Vec<_>>(),
            ["line 2", "line 3", "line 4", "line 5"],
            "{err}"
        );
        assert!(
            err["errors"]["line 2"]
                .to_string()
                .contains("must be in the past")
        );
        assert!(err["errors"]["line 3"].to_string().contains("at most 80"));
    }
    assert_eq!(count(&app, "alpha.students").await, 0);

    // A file fine at the preview is checked again at the confirmation: a number taken
    // meanwhile refuses the whole file, listed, and nothing is written.
    let fine = format!(
        "{HEADER}GW/1,Ada,Obi,f,2013-01-01,JSS 1A,,,,\nGW/2,Eze,Obi,m,2013-02-02,JSS 1A,Ngozi Obi,Mother,08031234567,\n"
    );
    let page = preview(&mut a, &fine).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text());
    let token = upload_token(&page);
    let res = api
        .post(
            "/api/v1/school/admissions/",
            serde_json::json!({"admission_no": "gw/2", "first_name": "Other", "last_name": "Pupil", "sex": "male"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    let res = confirm(&mut a, &token).await;
    assert_eq!(
        res.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        res.text()
    );
    assert!(
        res.text()
            .contains("admission number GW/2 already belongs to a student"),
        "{}",
        res.text()
    );
    assert_eq!(
        count(&app, "alpha.students").await,
        1,
        "only the admitted pupil"
    );
    assert_eq!(count(&app, "alpha.guardians").await, 0);
}

#[sqlx::test(migrations = false)]
async fn a_waiting_upload_is_for_its_school_its_user_and_once(pool: PgPool) {
    let app = TestApp::new(pool).await;
    school_with_year(&app, "alpha").await;
    school_with_year(&app, "beta").await;
    app.create_staff("alpha", "second@alpha.test", "School Admin")
        .await;
    let mut a = app.signed_in("alpha", "admin@alpha.test").await;
    let csv = format!("{HEADER},Ada,Obi,f,2013-01-01,JSS 1A,,,,\n,Bola,Ade,m,,,,,,\n");
    let page = preview(&mut a, &csv).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text());
    let token = upload_token(&page);

    // Another school (its own admin, the same token): nothing there to confirm.
    let mut b = app.signed_in("beta", "admin@beta.test").await;
    let res = confirm(&mut b, &token).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND, "{}", res.text());
    assert!(res.text().contains("no longer waiting"), "{}", res.text());
    // Another user of the same school, allowed to import.
    let mut second = app.signed_in("alpha", "second@alpha.test").await;
    let res = confirm(&mut second, &token).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND, "{}", res.text());
    assert_eq!(count(&app, "alpha.students").await, 0);
    assert_eq!(count(&app, "beta.students").await, 0);
    // A made-up token.
    let res = confirm(&mut a, &"0".repeat(64)).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND, "{}", res.text());

    // The uploader, once.
    let res = confirm(&mut a, &token).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text());
    assert_eq!(count(&app, "alpha.students").await, 2);
    let res = confirm(&mut a, &token).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND, "{}", res.text());
    assert_eq!(count(&app, "alpha.students").await, 2);

    // An upload left waiting past its hour is gone.
    let page = preview(
        &mut a,
        &format!("{HEADER},Chi,Eze,f,2013-01-01,JSS 1A,,,,\n"),
    )
    .await;
    let token = upload_token(&page);
    sqlx::query("UPDATE alpha.import_uploads SET expires_at = now() - interval '1 second'")
        .execute(&app.pool)
        .await
        .unwrap();
    let res = confirm(&mut a, &token).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND, "{}", res.text());
    assert_eq!(count(&app, "alpha.students").await, 2);
    // Only a hash of the token is stored (the expired upload is still there until the next
    // upload purges it).
    assert_eq!(count(&app, "alpha.import_uploads").await, 1);
    let stored: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM alpha.import_uploads WHERE encode(token_hash, 'hex') = $1",
    )
    .bind(&token)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(stored, 0);
}
