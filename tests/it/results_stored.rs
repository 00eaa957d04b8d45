//! Results day from stored figures (issue 15, item 3): a published session's results and
//! report cards are served from what publishing computed, identical to a fresh computation,
//! forgotten by unpublishing and by any change that could alter them, never another school's.

use axum::http::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::{
    Client, Response, TestApp,
    fixtures::{CLASS, ExamClass, class_with_exams, enter_hand_computed_marks, save_marks, scores},
    internals, pdf_text,
};

fn results_path(f: &ExamClass) -> String {
    format!(
        "/api/v1/school/exam-sessions/{}/results/?academic_class={}",
        f.exam_session, f.class_id
    )
}

fn card_path(f: &ExamClass, pupil: &str) -> String {
    format!(
        "/api/v1/school/exam-sessions/{}/report-cards/{}/pdf/",
        f.exam_session, f.pupils[pupil]
    )
}

async fn get_ok(client: &Client, path: &str) -> Response {
    let res = client.get(path).await;
    assert_eq!(res.status, StatusCode::OK, "{path}: {}", res.text());
    res
}

async fn set_status(f: &ExamClass, status: &str) {
    let res = f
        .admin
        .patch(
            &format!("/api/v1/school/exam-sessions/{}/", f.exam_session),
            json!({"status": status, "confirm_outstanding": true}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{status}: {}", res.text());
}

/// The class's results computed afresh, as the API would serialise them.
async fn computed(app: &TestApp, code: &str, f: &ExamClass) -> Vec<u8> {
    let mut tx = app.school_tx(code).await;
    let es = internals::exams::exam_session(&mut tx, f.exam_session)
        .await
        .unwrap();
    let results = internals::results::class_results(&mut tx, &es, f.class_id)
        .await
        .unwrap();
    serde_json::to_vec(&results).unwrap()
}

/// The stored body of the class's results, if any.
async fn stored_body(app: &TestApp, code: &str, f: &ExamClass) -> Option<Vec<u8>> {
    let mut tx = app.school_tx(code).await;
    sqlx::query_scalar(
        "SELECT body FROM published_results WHERE exam_session_id = $1 AND academic_class_id = $2",
    )
    .bind(f.exam_session)
    .bind(f.class_id)
    .fetch_optional(&mut *tx)
    .await
    .unwrap()
}

async fn stored_card(app: &TestApp, code: &str, f: &ExamClass, pupil: &str) -> Option<Vec<u8>> {
    let mut tx = app.school_tx(code).await;
    sqlx::query_scalar(
        "SELECT pdf FROM published_cards WHERE exam_session_id = $1 AND registration_id = $2",
    )
    .bind(f.exam_session)
    .bind(f.pupils[pupil])
    .fetch_optional(&mut *tx)
    .await
    .unwrap()
}

/// Views of a class's results: one row naming the pupils, per view.
async fn results_views(app: &TestApp, code: &str) -> Vec<Vec<i64>> {
    let mut tx = app.school_tx(code).await;
    sqlx::query_scalar(
        "SELECT student_ids FROM record_view_groups WHERE kind = 'results' ORDER BY id",
    )
    .fetch_all(&mut *tx)
    .await
    .unwrap()
}

fn pupil_of<'a>(results: &'a Value, f: &ExamClass, name: &str) -> &'a Value {
    results["pupils"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["registration"] == f.pupils[name])
        .unwrap()
}

#[sqlx::test(migrations = false)]
async fn published_results_are_stored_identical_to_computed_and_still_audited(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let f = class_with_exams(&app, "alpha", &CLASS).await;
    enter_hand_computed_marks(&f).await;

    // Open: computed per request, nothing stored.
    let open = get_ok(&f.admin, &results_path(&f)).await;
    assert_eq!(open.body, computed(&app, "alpha", &f).await);
    assert_eq!(stored_body(&app, "alpha", &f).await, None);

    // Publishing stores every class's figures, byte for byte what a computation gives.
    set_status(&f, "published").await;
    let stored = stored_body(&app, "alpha", &f)
        .await
        .expect("stored when published");
    assert_eq!(stored, computed(&app, "alpha", &f).await);
    let views = results_views(&app, "alpha").await.len();
    let res = get_ok(&f.admin, &results_path(&f)).await;
    assert_eq!(res.body, stored, "served as stored");
    assert_eq!(
        res.headers["content-type"], "application/json",
        "{:?}",
        res.headers
    );
    // The same record of who looked at which pupils as a computed response, listed on each
    // pupil's page.
    let after = results_views(&app, "alpha").await;
    assert_eq!(after.len(), views + 1);
    let mut everyone: Vec<i64> = f.students.values().copied().collect();
    everyone.sort();
    assert_eq!(after.last(), Some(&everyone));
    let listed = get_ok(
        &f.admin,
        &format!("/api/v1/school/admissions/{}/views/", f.students["Efe"]),
    )
    .await
    .json();
    assert_eq!(listed["count"], json!(views + 1), "{listed}");
    assert_eq!(listed["results"][0]["kind"], "results");
    assert_eq!(pupil_of(&res.json(), &f, "Ada")["average"], 72.5);

    // The same permission checks: a class of another session is 404, a user without
    // view_results is refused.
    let res = f
        .admin
        .get(&format!(
            "/api/v1/school/exam-sessions/{}/results/?academic_class=999999",
            f.exam_session
        ))
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND, "{}", res.text());
    app.create_staff("alpha", "bursar@alpha.test", "Bursar")
        .await;
    let bursar = app.as_staff("alpha", "bursar@alpha.test").await;
    assert_eq!(
        bursar.get(&results_path(&f)).await.status,
        StatusCode::FORBIDDEN
    );

    // A forgotten row (any change) is computed again and stored again, identical.
    {
        let mut tx = app.school_tx("alpha").await;
        sqlx::query("DELETE FROM published_results")
            .execute(&mut *tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
    let again = get_ok(&f.admin, &results_path(&f)).await;
    assert_eq!(again.body, stored);
    assert_eq!(stored_body(&app, "alpha", &f).await, Some(stored));
}

#[sqlx::test(migrations = false)]
async fn unpublishing_and_a_mark_corrected_after_reopening_give_new_figures(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let f = class_with_exams(&app, "alpha", &CLASS).await;
    enter_hand_computed_marks(&f).await;
    set_status(&f, "published").await;
    let first = get_ok(&f.admin, &results_path(&f)).await.json();
    let card = get_ok(&f.admin, &card_path(&f, "Ada")).await;
    assert!(stored_card(&app, "alpha", &f, "Ada").await.is_some());

    // Unpublishing forgets the figures and the cards; closed results are computed.
    set_status(&f, "closed").await;
    assert_eq!(stored_body(&app, "alpha", &f).await, None);
    assert_eq!(stored_card(&app, "alpha", &f, "Ada").await, None);
    let closed = get_ok(&f.admin, &results_path(&f)).await;
    assert_eq!(closed.body, computed(&app, "alpha", &f).await);
    assert_eq!(
        stored_body(&app, "alpha", &f).await,
        None,
        "closed: not stored"
    );

    // Mathematics reopened for corrections, Ada's mark corrected, published again.
    let corrections = format!(
        "/api/v1/school/exam-sessions/{}/corrections/",
        f.exam_session
    );
    let maths = f.exams["Mathematics"];
    let res = f
        .admin
        .post(&corrections, json!({"exam_id": maths, "open": true}))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let res = save_marks(
        &f.admin,
        maths,
        json!([{"registration": f.pupils["Ada"], "scores": scores(20.0, 20.0, 50.0)}]),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let res = f
        .admin
        .post(&corrections, json!({"exam_id": maths, "open": false}))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    set_status(&f, "published").await;

    let res = get_ok(&f.admin, &results_path(&f)).await;
    assert_eq!(res.body, computed(&app, "alpha", &f).await);
    let now = res.json();
    let ada = |r: &Value| pupil_of(r, &f, "Ada")["total"].clone();
    assert_eq!(ada(&first), json!(217.5));
    assert_eq!(
        ada(&now),
        json!(247.5),
        "the corrected mark, not the stored one"
    );
    let new_card = get_ok(&f.admin, &card_path(&f, "Ada")).await;
    let text = |r: &Response| pdf_text(&r.body).1;
    assert!(text(&card).contains("217.5"), "{}", text(&card));
    assert!(text(&new_card).contains("247.5"), "{}", text(&new_card));
}

#[sqlx::test(migrations = false)]
async fn a_published_card_is_rendered_once_and_forgotten_by_a_change_to_what_it_prints(
    pool: PgPool,
) {
    let app = TestApp::new(pool).await;
    let f = class_with_exams(&app, "alpha", &CLASS).await;
    enter_hand_computed_marks(&f).await;
    set_status(&f, "closed").await;
    // Closed: rendered per request (the reference), nothing stored.
    let rendered = get_ok(&f.admin, &card_path(&f, "Bola")).await;
    assert_eq!(stored_card(&app, "alpha", &f, "Bola").await, None);
    set_status(&f, "published").await;

    let first = get_ok(&f.admin, &card_path(&f, "Bola")).await;
    assert_eq!(first.headers["content-type"], "application/pdf");
    let disposition = first.headers["content-disposition"].to_str().unwrap();
    assert!(
        disposition.starts_with("inline; filename=\"report-"),
        "{disposition}"
    );
    let stored = stored_card(&app, "alpha", &f, "Bola")
        .await
        .expect("stored on the first request");
    assert_eq!(first.body, stored);
    assert_eq!(pdf_text(&first.body), pdf_text(&rendered.body));
    // Served from storage: the same bytes (a render would carry a new date), and the view
    // recorded each time.
    let second = get_ok(&f.admin, &card_path(&f, "Bola")).await;
    assert_eq!(second.body, stored);
    let mut tx = app.school_tx("alpha").await;
    let card_views: i64 =
        sqlx::query_scalar("SELECT count(*) FROM record_views WHERE kind = 'report_card'")
            .fetch_one(&mut *tx)
            .await
            .unwrap();
    drop(tx);
    assert_eq!(card_views, 3);

    // A pupil's name corrected while published: the stored figures and cards are forgotten
    // in the same transaction, and the next ones print the new name.
    let res = f
        .admin
        .patch(
            &format!("/api/v1/school/admissions/{}/", f.students["Bola"]),
            json!({"last_name": "Okonkwo-Bello"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert_eq!(stored_card(&app, "alpha", &f, "Bola").await, None);
    assert_eq!(stored_body(&app, "alpha", &f).await, None);
    let card = get_ok(&f.admin, &card_path(&f, "Bola")).await;
    assert!(pdf_text(&card.body).1.contains("Okonkwo-Bello"));
    let res = get_ok(&f.admin, &results_path(&f)).await;
    assert!(res.text().contains("Okonkwo-Bello"));
    assert_eq!(res.body, computed(&app, "alpha", &f).await);
}

#[sqlx::test(migrations = false)]
async fn another_school_s_stored_results_are_never_served(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let a = class_with_exams(&app, "alpha", &["Ada", "Bola"]).await;
    let b = class_with_exams(&app, "beta", &["Uche", "Vera"]).await;
    // Fresh schemas number alike: the same exam session, class and registration ids.
    assert_eq!(
        (a.exam_session, a.class_id, a.pupils["Ada"]),
        (b.exam_session, b.class_id, b.pupils["Uche"])
    );
    for (f, mark) in [(&a, 10.0), (&b, 20.0)] {
        for exam in f.exams.values() {
            let rows: Vec<Value> = f
                .pupils
                .values()
                .map(|r| json!({"registration": r, "scores": scores(mark, mark, 3.0 * mark)}))
                .collect();
            let res = save_marks(&f.admin, *exam, json!(rows)).await;
            assert_eq!(res.status, StatusCode::OK, "{}", res.text());
        }
        set_status(f, "published").await;
    }
    let alpha = get_ok(&a.admin, &results_path(&a)).await;
    let beta = get_ok(&b.admin, &results_path(&b)).await;
    assert!(alpha.text().contains("Ada") && !alpha.text().contains("Uche"));
    assert!(beta.text().contains("Uche") && !beta.text().contains("Ada"));
    assert_eq!(pupil_of(&alpha.json(), &a, "Ada")["average"], 50.0);
    assert_eq!(pupil_of(&beta.json(), &b, "Uche")["average"], 100.0);
    assert_eq!(Some(alpha.body), stored_body(&app, "alpha", &a).await);
    assert_eq!(Some(beta.body), stored_body(&app, "beta", &b).await);

    let card_a = get_ok(&a.admin, &card_path(&a, "Ada")).await;
    let card_b = get_ok(&b.admin, &card_path(&b, "Uche")).await;
    assert!(pdf_text(&card_a.body).1.contains("Ada"));
    assert!(pdf_text(&card_b.body).1.contains("Uche"));
    // Beta's admin asking at beta for alpha's ids gets beta's pupil, never alpha's card.
    let again = get_ok(&b.admin, &card_path(&a, "Ada")).await;
    assert_eq!(again.body, card_b.body);
}

/// What a change forgets, checked at the database (whatever path writes): a setting printed
/// on cards forgets everything, one that is not printed nothing; a register forgets the cards
/// of the term holding the day but not the figures.
#[sqlx::test(migrations = false)]
async fn each_change_forgets_what_it_can_alter_and_nothing_else(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let f = class_with_exams(&app, "alpha", &CLASS).await;
    enter_hand_computed_marks(&f).await;
    set_status(&f, "published").await;
    let fill = || async {
        get_ok(&f.admin, &results_path(&f)).await;
        get_ok(&f.admin, &card_path(&f, "Ada")).await;
    };
    let stored = || async {
        (
            stored_body(&app, "alpha", &f).await.is_some(),
            stored_card(&app, "alpha", &f, "Ada").await.is_some(),
        )
    };
    let run = |sql: &'static str| {
        let app = &app;
        let (reg, es) = (f.pupils["Ada"], f.exam_session);
        async move {
            let mut tx = app.school_tx("alpha").await;
            sqlx::query(sql)
                .bind(reg)
                .bind(es)
                .execute(&mut *tx)
                .await
                .unwrap();
            tx.commit().await.unwrap();
        }
    };
    fill().await;
    assert_eq!(stored().await, (true, true));

    // A new admission number bumps the settings row: nothing printed changed.
    run("UPDATE general_settings SET next_admission_seq = next_admission_seq + 1 WHERE $1::bigint IS NOT NULL AND $2::bigint IS NOT NULL").await;
    assert_eq!(stored().await, (true, true));
    // The motto is printed on every card.
    run("UPDATE general_settings SET motto = 'Knowledge and service' WHERE $1::bigint IS NOT NULL AND $2::bigint IS NOT NULL").await;
    assert_eq!(stored().await, (false, false));

    // A register taken on a day of the term: the card's attendance changes, the figures not.
    fill().await;
    run(
        "INSERT INTO attendance_marks (registration_id, day, period, code_id, marked_at)
         SELECT $1, t.starts_on, 1, (SELECT min(id) FROM attendance_codes), now()
           FROM exam_sessions es JOIN terms t ON t.id = es.term_id WHERE es.id = $2",
    )
    .await;
    assert_eq!(stored().await, (true, false));

    // A statement that changes no row forgets nothing.
    fill().await;
    run("UPDATE students SET last_name = last_name || 'x' WHERE id = -$1 AND $2::bigint IS NOT NULL").await;
    assert_eq!(stored().await, (true, true));
    let card = get_ok(&f.admin, &card_path(&f, "Ada")).await;
    assert!(pdf_text(&card.body).1.contains("Knowledge and service"));
}

/// Erasing a pupil takes them out of the record of views of many pupils too.
#[sqlx::test(migrations = false)]
async fn an_erased_pupil_leaves_the_views_of_a_class(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let f = class_with_exams(&app, "alpha", &["Ada", "Zed"]).await;
    let res = save_marks(
        &f.admin,
        f.exams["Mathematics"],
        json!([{"registration": f.pupils["Ada"], "scores": scores(10.0, 10.0, 40.0)}]),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    get_ok(&f.admin, &results_path(&f)).await;
    let (ada, zed) = (f.students["Ada"], f.students["Zed"]);
    let mut both = vec![ada, zed];
    both.sort();
    assert_eq!(results_views(&app, "alpha").await, vec![both]);
    // Zed holds no marks: the record may be deleted, and the view names only Ada now.
    let res = f
        .admin
        .delete(&format!("/api/v1/school/admissions/{zed}/"))
        .await;
    assert_eq!(res.status, StatusCode::NO_CONTENT, "{}", res.text());
    assert_eq!(results_views(&app, "alpha").await, vec![vec![ada]]);
}
