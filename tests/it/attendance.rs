//! Issue 10: registers. A class teacher takes their own class's register within the
//! school's window; every row is checked before anything is saved; corrections are kept;
//! closures, days to come and other schools' classes are refused.

use axum::http::StatusCode;
use chrono::{Duration, NaiveDate};
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::{Client, TestApp, assert_error_shape, fixtures::staff_with};

/// A school whose one term runs a month either side of today, with two arms of JSS 1.
pub(crate) struct Year {
    pub(crate) admin: Client,
    pub(crate) jss1a: i64,
    pub(crate) jss1b: i64,
}

pub(crate) async fn year(app: &TestApp, code: &str, today: NaiveDate) -> Year {
    app.create_school(code).await;
    let email = format!("admin@{code}.test");
    app.create_staff(code, &email, "School Admin").await;
    let admin = app.as_staff(code, &email).await;
    let day = |d: i64| (today + Duration::days(d)).to_string();
    let res = admin
        .post(
            "/api/v1/school/sessions/",
            json!({"name": "This year", "starts_on": day(-200), "ends_on": day(150), "is_current": true}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    let sid = res.json()["id"].as_i64().unwrap();
    let res = admin
        .post(
            &format!("/api/v1/school/sessions/{sid}/terms/"),
            json!({"ordinal": 1, "starts_on": day(-30), "ends_on": day(30), "is_current": true}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    let form = admin
        .post(
            "/api/v1/school/forms/",
            json!({"name": "JSS 1", "ordinal": 1}),
        )
        .await
        .json()["id"]
        .as_i64()
        .unwrap();
    let mut classes = Vec::new();
    for name in ["JSS 1A", "JSS 1B"] {
        let arm = admin
            .post(
                "/api/v1/school/classes/",
                json!({"name": name, "form_id": form}),
            )
            .await
            .json()["id"]
            .as_i64()
            .unwrap();
        let res = admin
            .post(
                &format!("/api/v1/school/sessions/{sid}/classes/"),
                json!({"class_id": arm}),
            )
            .await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
        classes.push(res.json()["id"].as_i64().unwrap());
    }
    // Weekends are school days in this test's calendar, so it runs on any day of the week.
    let mut tx = app.school_tx(code).await;
    sqlx::query(
        "INSERT INTO weekend_openings (day, reason)
         SELECT d::date, 'test' FROM generate_series($1::date, $2::date, '1 day') d
          WHERE extract(isodow FROM d) IN (6, 7)",
    )
    .bind(today - Duration::days(30))
    .bind(today + Duration::days(30))
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    Year {
        admin,
        jss1a: classes[0],
        jss1b: classes[1],
    }
}

/// A staff member holding only `add_attendance`, made class teacher of `class`.
pub(crate) async fn class_teacher_of(app: &TestApp, y: &Year, class: i64) -> Client {
    let teacher = staff_with(app, &y.admin, "teacher@alpha.test", &["add_attendance"]).await;
    let teacher_id = teacher.get("/api/v1/school/auth/me").await.json()["user"]["id"].clone();
    assert!(teacher_id.is_i64());
    let sid = y.admin.get("/api/v1/school/sessions/").await.json()["results"][0]["id"]
        .as_i64()
        .unwrap();
    let res = y
        .admin
        .patch(
            &format!("/api/v1/school/sessions/{sid}/classes/{class}/"),
            json!({"class_teacher_id": teacher_id}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    teacher
}

/// Today at the schools these tests make (their clock is the default, Africa/Lagos).
pub(crate) fn school_today() -> NaiveDate {
    chrono::Utc::now()
        .with_timezone(&chrono_tz::Africa::Lagos)
        .date_naive()
}

pub(crate) async fn admit(admin: &Client, name: &str, class: i64, admitted: NaiveDate) -> i64 {
    let res = admin
        .post(
            "/api/v1/school/admissions/",
            json!({"first_name": name, "last_name": "Pupil", "sex": "female",
                   "admission_date": admitted.to_string(), "academic_class_id": class}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    res.json()["id"].as_i64().unwrap()
}

pub(crate) fn url(class: i64, day: NaiveDate) -> String {
    format!("/api/v1/school/attendance/?academic_class={class}&date={day}")
}

pub(crate) fn row_of<'a>(register: &'a Value, name: &str) -> &'a Value {
    register["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["full_name"].as_str().unwrap_or_default().contains(name))
        .unwrap_or_else(|| panic!("{name} not on {register}"))
}

#[sqlx::test(migrations = false)]
async fn a_class_teacher_takes_the_register_and_corrections_are_kept(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let today = school_today();
    let y = year(&app, "alpha", today).await;
    let teacher = class_teacher_of(&app, &y, y.jss1a).await;
    let long_ago = today - Duration::days(60);
    for name in ["Ada", "Bola", "Chika"] {
        admit(&y.admin, name, y.jss1a, long_ago).await;
    }
    // Admitted tomorrow: not on today's register. In the other arm: not on this one.
    admit(&y.admin, "Dayo", y.jss1a, today + Duration::days(1)).await;
    admit(&y.admin, "Efe", y.jss1b, long_ago).await;

    let register = teacher.get(&url(y.jss1a, today)).await;
    assert_eq!(register.status, StatusCode::OK, "{}", register.text());
    let register = register.json();
    assert_eq!(register["rows"].as_array().unwrap().len(), 3, "{register}");
    assert_eq!(register["can_save"], true);
    assert!(
        register["rows"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["code"].is_null())
    );
    let ada = row_of(&register, "Ada")["registration"].clone();
    let bola = row_of(&register, "Bola")["registration"].clone();
    let chika = row_of(&register, "Chika")["registration"].clone();

    let res = teacher
        .put(
            &url(y.jss1a, today),
            json!({"rows": [
                {"registration": ada, "code": "P"},
                {"registration": bola, "code": "a", "reason": "sick"},
                {"registration": chika, "code": "L"},
            ]}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let saved = res.json();
    assert_eq!(row_of(&saved, "Bola")["code"], "A");
    assert_eq!(row_of(&saved, "Bola")["reason"], "Sick");
    assert_eq!(row_of(&saved, "Ada")["marked_by"], "Limited Staff");

    // Every row is checked first: a pupil of the other arm and an unknown code are both
    // named, and nothing is saved (Ada stays P).
    let efe_registration: i64 = {
        let mut tx = app.school_tx("alpha").await;
        sqlx::query_scalar(
            "SELECT r.id FROM registrations r JOIN students s ON s.id = r.student_id
              WHERE s.first_name = 'Efe'",
        )
        .fetch_one(&mut *tx)
        .await
        .unwrap()
    };
    let res = teacher
        .put(
            &url(y.jss1a, today),
            json!({"rows": [
                {"registration": efe_registration, "code": "P"},
                {"registration": ada, "code": "Z"},
                {"registration": chika, "code": "A", "reason": "holiday in Dubai"},
            ]}),
        )
        .await;
    let body = assert_error_shape(&res, 422);
    for field in ["rows[0].registration", "rows[1].code", "rows[2].reason"] {
        assert!(body["errors"][field].is_array(), "{field}: {body}");
    }
    let now = teacher.get(&url(y.jss1a, today)).await.json();
    assert_eq!(row_of(&now, "Ada")["code"], "P");
    assert_eq!(row_of(&now, "Chika")["code"], "L");

    // Not their class, not a day to come.
    assert_error_shape(&teacher.get(&url(y.jss1b, today)).await, 403);
    let res = teacher
        .put(
            &url(y.jss1a, today + Duration::days(1)),
            json!({"rows": [{"registration": ada, "code": "P"}]}),
        )
        .await;
    assert!(assert_error_shape(&res, 422)["errors"]["date"].is_array());
    // Outside the school's window only someone allowed to change attendance corrects it.
    let old_day = today - Duration::days(10);
    let res = teacher
        .put(
            &url(y.jss1a, old_day),
            json!({"rows": [{"registration": ada, "code": "P"}]}),
        )
        .await;
    assert_error_shape(&res, 403);

    // The admin corrects Bola's mark: kept in the history and the audit log.
    let res = y
        .admin
        .put(
            &url(y.jss1a, today),
            json!({"rows": [{"registration": bola, "code": "E", "reason": "Family"}]}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let mut tx = app.school_tx("alpha").await;
    let history: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT from_code, to_code, to_reason FROM attendance_history WHERE registration_id = $1",
    )
    .bind(bola.as_i64().unwrap())
    .fetch_all(&mut *tx)
    .await
    .unwrap();
    assert_eq!(
        history,
        vec![("A".to_owned(), "E".to_owned(), "Family".to_owned())]
    );
    drop(tx);
    let audit = y.admin.get("/api/v1/school/audit/").await.json();
    assert!(
        audit["results"][0]["entity"] == "attendance",
        "{}",
        audit["results"][0]
    );

    // A closure: the register says why, and nothing can be saved that day.
    let res = y
        .admin
        .post(
            "/api/v1/school/calendar/closures/",
            json!({"starts_on": today.to_string(), "ends_on": today.to_string(), "reason": "Sports day"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    let closed = teacher.get(&url(y.jss1a, today)).await.json();
    assert!(
        closed["closed"]
            .as_str()
            .unwrap_or_default()
            .contains("Sports day"),
        "{closed}"
    );
    assert_eq!(closed["can_save"], false);
    let res = teacher
        .put(
            &url(y.jss1a, today),
            json!({"rows": [{"registration": ada, "code": "A"}]}),
        )
        .await;
    assert!(assert_error_shape(&res, 422)["errors"]["date"].is_array());
}

/// Another school's class id is not found, even by its own admin with every permission.
#[sqlx::test(migrations = false)]
async fn a_register_never_reaches_another_school(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let today = school_today();
    let alpha = year(&app, "alpha", today).await;
    let beta = year(&app, "beta", today).await;
    admit(&alpha.admin, "Ada", alpha.jss1a, today - Duration::days(60)).await;
    // A third arm in alpha: its id exists in alpha only.
    let sid = alpha.admin.get("/api/v1/school/sessions/").await.json()["results"][0]["id"]
        .as_i64()
        .unwrap();
    let form = alpha.admin.get("/api/v1/school/forms/").await.json()["results"][0]["id"].clone();
    let arm = alpha
        .admin
        .post(
            "/api/v1/school/classes/",
            json!({"name": "JSS 1C", "form_id": form}),
        )
        .await
        .json()["id"]
        .clone();
    let alpha_only = alpha
        .admin
        .post(
            &format!("/api/v1/school/sessions/{sid}/classes/"),
            json!({"class_id": arm}),
        )
        .await
        .json()["id"]
        .as_i64()
        .unwrap();
    assert!(![beta.jss1a, beta.jss1b].contains(&alpha_only));
    assert_eq!(
        alpha.admin.get(&url(alpha_only, today)).await.status,
        StatusCode::OK
    );
    assert_error_shape(&beta.admin.get(&url(alpha_only, today)).await, 404);
    let registration =
        alpha.admin.get(&url(alpha.jss1a, today)).await.json()["rows"][0]["registration"].clone();
    assert!(registration.is_i64(), "Ada is on alpha's register");
    // Beta's admin cannot mark alpha's pupil on beta's own register.
    let res = beta
        .admin
        .put(
            &url(beta.jss1a, today),
            json!({"rows": [{"registration": registration, "code": "P"}]}),
        )
        .await;
    assert!(assert_error_shape(&res, 422)["errors"]["rows[0].registration"].is_array());
}

/// Two registers a day where the school says so; the class teacher's window is the school's;
/// a pupil's corrections are listed for those who read attendance.
#[sqlx::test(migrations = false)]
async fn the_school_sets_its_registers_and_lists_corrections(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let today = school_today();
    let y = year(&app, "alpha", today).await;
    let pupil = admit(&y.admin, "Ada", y.jss1a, today - Duration::days(60)).await;
    let afternoon = format!("{}&period=2", url(y.jss1a, today));
    assert_error_shape(&y.admin.get(&afternoon).await, 404);
    let res = y
        .admin
        .patch("/api/v1/school/settings/", json!({"attendance_periods": 3}))
        .await;
    assert!(assert_error_shape(&res, 422)["errors"]["attendance_periods"].is_array());
    let res = y
        .admin
        .patch(
            "/api/v1/school/settings/",
            json!({"attendance_periods": 2, "attendance_window_days": 0}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let register = y.admin.get(&afternoon).await.json();
    assert_eq!(register["period"], 2);
    let ada = register["rows"][0]["registration"].clone();
    for code in ["A", "P"] {
        let res = y
            .admin
            .put(
                &afternoon,
                json!({"rows": [{"registration": ada, "code": code}]}),
            )
            .await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    }
    // The morning register is its own.
    let morning = y.admin.get(&url(y.jss1a, today)).await.json();
    assert!(morning["rows"][0]["code"].is_null());
    let history = y
        .admin
        .get(&format!(
            "/api/v1/school/attendance/history/?student={pupil}"
        ))
        .await
        .json();
    assert_eq!(history["count"], 1, "{history}");
    assert_eq!(history["results"][0]["from_code"], "A");
    assert_eq!(history["results"][0]["to_code"], "P");
    assert_eq!(history["results"][0]["period"], 2);
    // Reading the history needs view_attendance.
    let teacher = staff_with(&app, &y.admin, "teacher@alpha.test", &["add_attendance"]).await;
    assert_error_shape(
        &teacher
            .get(&format!(
                "/api/v1/school/attendance/history/?student={pupil}"
            ))
            .await,
        403,
    );
}

/// The register page: the class teacher opens their class, marks everyone present but one,
/// and saves; a refused save shows the problem on the pupil and keeps every tap.
#[sqlx::test(migrations = false)]
async fn the_register_page_takes_a_class_in_one_pass(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let today = school_today();
    let y = year(&app, "alpha", today).await;
    let teacher = class_teacher_of(&app, &y, y.jss1a).await;
    admit(&y.admin, "Ada", y.jss1a, today - Duration::days(60)).await;
    admit(&y.admin, "Bola", y.jss1a, today - Duration::days(60)).await;
    let register = teacher.get(&url(y.jss1a, today)).await.json();
    let ada = row_of(&register, "Ada")["registration"].as_i64().unwrap();
    let bola = row_of(&register, "Bola")["registration"].as_i64().unwrap();

    let mut page = app.signed_in("alpha", "teacher@alpha.test").await;
    // Their only class opens by itself.
    let html = page.get("/attendance").await.text();
    assert!(
        html.contains("Ada Pupil") || html.contains("Pupil Ada"),
        "{html}"
    );
    assert!(html.contains("Mark everyone not yet marked present"));
    let path = format!("/attendance?class={}&date={today}&period=1", y.jss1a);
    let csrf = page.csrf(&path).await;
    let (code_a, code_b, reason_b) = (
        format!("code_{ada}"),
        format!("code_{bola}"),
        format!("reason_{bola}"),
    );
    let res = page
        .post(
            &path,
            &[
                ("csrf_token", csrf.as_str()),
                (code_a.as_str(), "P"),
                (code_b.as_str(), "A"),
                (reason_b.as_str(), "Not a reason"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text();
    assert!(html.contains("Leave it empty or use one of"), "{html}");
    // Nothing saved, every tap kept on the page.
    let saved = teacher.get(&url(y.jss1a, today)).await.json();
    assert!(row_of(&saved, "Ada")["code"].is_null());
    assert!(
        html.contains(&format!(
            "name=\"{code_b}\" value=\"A\" data-counts-as=\"absent\" checked"
        )),
        "{html}"
    );

    let res = page
        .post(
            &path,
            &[
                ("csrf_token", csrf.as_str()),
                (code_a.as_str(), "P"),
                (code_b.as_str(), "A"),
                (reason_b.as_str(), "Sick"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text());
    let saved = teacher.get(&url(y.jss1a, today)).await.json();
    assert_eq!(row_of(&saved, "Ada")["code"], "P");
    assert_eq!(row_of(&saved, "Bola")["code"], "A");
    assert_eq!(row_of(&saved, "Bola")["reason"], "Sick");
}

/// The class teacher's dashboard shows today's register; a head's shows which classes have
/// not taken it.
#[sqlx::test(migrations = false)]
async fn dashboards_show_who_has_taken_today_s_register(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let today = school_today();
    let y = year(&app, "alpha", today).await;
    let teacher = class_teacher_of(&app, &y, y.jss1a).await;
    admit(&y.admin, "Ada", y.jss1a, today - Duration::days(60)).await;
    admit(&y.admin, "Efe", y.jss1b, today - Duration::days(60)).await;
    staff_with(&app, &y.admin, "head@alpha.test", &["view_attendance"]).await;

    let mut teacher_page = app.signed_in("alpha", "teacher@alpha.test").await;
    let html = teacher_page.get("/").await.text();
    assert!(html.contains("not taken yet"), "{html}");
    let mut head_page = app.signed_in("alpha", "head@alpha.test").await;
    let html = head_page.get("/").await.text();
    assert!(html.contains("Not taken yet this morning"), "{html}");
    assert!(html.contains("JSS 1A") && html.contains("JSS 1B"), "{html}");

    let register = teacher.get(&url(y.jss1a, today)).await.json();
    let ada = row_of(&register, "Ada")["registration"].clone();
    let res = teacher
        .put(
            &url(y.jss1a, today),
            json!({"rows": [{"registration": ada, "code": "P"}]}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let html = teacher_page.get("/").await.text();
    assert!(
        html.contains("taken") && !html.contains("not taken yet"),
        "{html}"
    );
    let html = head_page.get("/").await.text();
    let missing = &html[html.find("Not taken yet this morning").expect("the list")..];
    let missing = &missing[..missing.find("</div>").unwrap_or(missing.len())];
    assert!(
        missing.contains("JSS 1B") && !missing.contains("JSS 1A"),
        "{missing}"
    );
}

/// A pupil's term in figures, as the report card prints them: school days so far (a closure
/// is not one), present with late, absent with excused, and the percentage.
#[sqlx::test(migrations = false)]
async fn a_pupil_s_term_adds_up(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let today = school_today();
    let y = year(&app, "alpha", today).await;
    let ada = admit(&y.admin, "Ada", y.jss1a, today - Duration::days(60)).await;
    let registration =
        y.admin.get(&url(y.jss1a, today)).await.json()["rows"][0]["registration"].clone();
    for (days_ago, code, reason) in [(0, "P", ""), (1, "E", "Family"), (2, "L", "")] {
        let res = y
            .admin
            .put(
                &url(y.jss1a, today - Duration::days(days_ago)),
                json!({"rows": [{"registration": registration, "code": code, "reason": reason}]}),
            )
            .await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    }
    let closed = (today - Duration::days(3)).to_string();
    y.admin
        .post(
            "/api/v1/school/calendar/closures/",
            json!({"starts_on": closed, "ends_on": closed, "reason": "Public holiday"}),
        )
        .await;
    let term = y
        .admin
        .get(&format!(
            "/api/v1/school/sessions/{}/terms/",
            y.admin.get("/api/v1/school/sessions/").await.json()["results"][0]["id"]
        ))
        .await
        .json()["results"][0]["id"]
        .clone();
    let summary = y
        .admin
        .get(&format!(
            "/api/v1/school/attendance/summary/pupil/?student={ada}&term={term}"
        ))
        .await;
    assert_eq!(summary.status, StatusCode::OK, "{}", summary.text());
    let s = summary.json();
    // The term began 30 days ago; every day is a school day in this calendar but the closure.
    assert_eq!(s["times_opened"], 30, "{s}");
    assert_eq!(s["present"], 2);
    assert_eq!(s["late"], 1);
    assert_eq!(s["absent"], 1);
    assert_eq!(s["excused"], 1);
    assert_eq!(s["not_marked"], 27);
    assert_eq!(s["percentage"], 6.7);
}

/// The term's id of the `year()` school.
async fn term_of(y: &Year) -> i64 {
    let session = y.admin.get("/api/v1/school/sessions/").await.json()["results"][0]["id"].clone();
    y.admin
        .get(&format!("/api/v1/school/sessions/{session}/terms/"))
        .await
        .json()["results"][0]["id"]
        .as_i64()
        .unwrap()
}

/// Saves `rows` (pupil name → code) on `class`'s register of `day`, `period`.
async fn mark(y: &Year, class: i64, day: NaiveDate, period: i16, rows: &[(&str, &str)]) {
    let at = format!("{}&period={period}", url(class, day));
    let register = y.admin.get(&at).await.json();
    let rows: Vec<Value> = rows
        .iter()
        .map(|(name, code)| json!({"registration": row_of(&register, name)["registration"], "code": code}))
        .collect();
    let res = y.admin.put(&at, json!({ "rows": rows })).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
}

/// Two registers a day, a two-day closure, Bola admitted five days ago, Chi moved from 1A
/// to 1B three days ago. Every day of this test's calendar is a school day but the closure;
/// the term began 30 days ago, so there are 31 − 2 = 29 school days up to today.
#[sqlx::test(migrations = false)]
async fn the_term_summary_and_report_card_match_a_hand_computed_register(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let today = school_today();
    let y = year(&app, "alpha", today).await;
    let ago = |d: i64| today - Duration::days(d);
    let res = y
        .admin
        .patch("/api/v1/school/settings/", json!({"attendance_periods": 2}))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let res = y
        .admin
        .post(
            "/api/v1/school/calendar/closures/",
            json!({"starts_on": ago(10).to_string(), "ends_on": ago(9).to_string(), "reason": "Mid-term break"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    let ada = admit(&y.admin, "Ada", y.jss1a, ago(60)).await;
    let bola = admit(&y.admin, "Bola", y.jss1a, ago(5)).await;
    let chi = admit(&y.admin, "Chi", y.jss1a, ago(60)).await;
    mark(&y, y.jss1a, ago(4), 1, &[("Ada", "P"), ("Chi", "P")]).await;
    // Chi moves to 1B, dated three days ago.
    {
        let mut tx = app.school_tx("alpha").await;
        let session: i64 =
            sqlx::query_scalar("SELECT session_id FROM academic_classes WHERE id = $1")
                .bind(y.jss1a)
                .fetch_one(&mut *tx)
                .await
                .unwrap();
        sqlx::query(
            "UPDATE registrations SET is_current = FALSE, left_on = $2 WHERE student_id = $1",
        )
        .bind(chi)
        .bind(ago(3))
        .execute(&mut *tx)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO registrations (student_id, session_id, academic_class_id, registered_on, created_at)
             VALUES ($1, $2, $3, $4, now())",
        )
        .bind(chi)
        .bind(session)
        .bind(y.jss1b)
        .bind(ago(3))
        .execute(&mut *tx)
        .await
        .unwrap();
        tx.commit().await.unwrap();
    }
    mark(&y, y.jss1a, ago(2), 1, &[("Ada", "P"), ("Bola", "A")]).await;
    mark(&y, y.jss1a, ago(2), 2, &[("Ada", "P"), ("Bola", "L")]).await;
    mark(&y, y.jss1a, ago(1), 1, &[("Ada", "E"), ("Bola", "P")]).await;
    mark(&y, y.jss1b, ago(2), 1, &[("Chi", "A")]).await;
    let term = term_of(&y).await;

    let pupil = |student: i64| {
        let admin = &y.admin;
        async move {
            let res = admin
                .get(&format!(
                    "/api/v1/school/attendance/summary/pupil/?student={student}&term={term}"
                ))
                .await;
            assert_eq!(res.status, StatusCode::OK, "{}", res.text());
            res.json()
        }
    };
    // Ada: 29 days × 2 = 58; present 3 (day −4, day −2 twice); absent 1, excused.
    let a = pupil(ada).await;
    assert_eq!(
        (
            &a["times_opened"],
            &a["present"],
            &a["absent"],
            &a["excused"],
            &a["not_marked"]
        ),
        (&json!(58), &json!(3), &json!(1), &json!(1), &json!(54)),
        "{a}"
    );
    // Bola, admitted five days ago: days −5..0 = 6 days × 2 = 12; present 2 (one late), absent 1.
    let b = pupil(bola).await;
    assert_eq!(
        (
            &b["times_opened"],
            &b["present"],
            &b["late"],
            &b["absent"],
            &b["not_marked"]
        ),
        (&json!(12), &json!(2), &json!(1), &json!(1), &json!(9)),
        "{b}"
    );
    // Chi: every day once, whichever arm: 58; present 1 (in 1A), absent 1 (in 1B).
    let c = pupil(chi).await;
    assert_eq!(
        (&c["times_opened"], &c["present"], &c["absent"]),
        (&json!(58), &json!(1), &json!(1)),
        "{c}"
    );

    // The class: Ada 58 + Bola 12 + Chi's 25 days in 1A × 2 = 50 → 120 registers of pupils;
    // 6 present → 5.0 %; four registers taken.
    let res = y
        .admin
        .get(&format!(
            "/api/v1/school/attendance/summary/?academic_class={}&term={term}",
            y.jss1a
        ))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let class = res.json();
    assert_eq!(class["times_opened"], 120, "{class}");
    assert_eq!(class["present"], 6);
    assert_eq!(class["percentage"], 5.0);
    assert_eq!(class["registers_taken"], 4);
    assert_eq!(class["school_days"], 29);
    let weeks: i64 = class["weeks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["times_opened"].as_i64().unwrap())
        .sum();
    assert_eq!(weeks, 120, "the weeks add up to the term");
    // Watched (under 85 % of the registers taken): Ada 3 of 4 = 75 %, Bola 2 of 3 = 66.7 %;
    // not Chi (1 of 1 in this class).
    let watched: Vec<&str> = class["watch"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["full_name"].as_str().unwrap())
        .collect();
    assert_eq!(watched, ["Pupil Ada", "Pupil Bola"], "{class}");

    // The report page and its CSV show the same.
    let mut page = app.signed_in("alpha", "admin@alpha.test").await;
    let html = page
        .get(&format!("/attendance/report?class={}&term={term}", y.jss1a))
        .await
        .text();
    assert!(
        html.contains("<strong>5%</strong>") || html.contains("<strong>5.0%</strong>"),
        "{html}"
    );
    assert!(html.contains("Pupils to watch"), "{html}");
    let csv = page
        .get(&format!(
            "/attendance/report.csv?class={}&term={term}",
            y.jss1a
        ))
        .await;
    assert_eq!(csv.status, StatusCode::OK);
    let text = csv.text();
    assert!(text.contains("Pupil Ada,58,3,0,1,1,54,5.2,1"), "{text}");
    assert!(text.contains("JSS 1A (whole class),120,6,"), "{text}");

    // The report card prints the same figures from the registers.
    let res = y
        .admin
        .post(
            "/api/v1/school/exam-sessions/",
            json!({"term_id": term, "status": "open"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    let es = res.json()["id"].as_i64().unwrap();
    let ada_registration =
        row_of(&y.admin.get(&url(y.jss1a, ago(1))).await.json(), "Ada")["registration"].clone();
    let res = y
        .admin
        .get(&format!(
            "/api/v1/school/exam-sessions/{es}/report-cards/{ada_registration}/pdf/"
        ))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let (_, text) = crate::helpers::pdf_text(&res.body);
    let squeezed: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(squeezed.contains("Times school opened: 58"), "{squeezed}");
    assert!(squeezed.contains("Times present: 3"), "{squeezed}");
    assert!(squeezed.contains("Times absent: 1"), "{squeezed}");
}

/// What the review found: last session's class keeps no register today; a far-off date is
/// a 422, not a 500; a pupil with attendance is withdrawn, not deleted; a register's
/// script is a served file (the content policy refuses inline scripts).
#[sqlx::test(migrations = false)]
async fn registers_keep_to_their_session_and_their_pupils(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let today = school_today();
    let y = year(&app, "alpha", today).await;
    let ada = admit(&y.admin, "Ada", y.jss1a, today - Duration::days(60)).await;
    let register = y.admin.get(&url(y.jss1a, today)).await.json();
    let registration = register["rows"][0]["registration"].clone();

    // A day outside the class's session: no pupils, nothing saved.
    let outside = today + Duration::days(200);
    let r = y.admin.get(&url(y.jss1a, outside)).await.json();
    assert!(r["rows"].as_array().unwrap().is_empty(), "{r}");
    assert!(
        r["closed"]
            .as_str()
            .unwrap_or_default()
            .contains("keeps registers"),
        "{r}"
    );
    let res = y
        .admin
        .put(
            &url(y.jss1a, today - Duration::days(250)),
            json!({"rows": [{"registration": registration, "code": "P"}]}),
        )
        .await;
    assert!(assert_error_shape(&res, 422)["errors"]["date"].is_array());

    let res = y
        .admin
        .get("/api/v1/school/attendance/?academic_class=1&date=-5000-01-01")
        .await;
    assert!(res.status.is_client_error(), "{}", res.text());
    let res = y
        .admin
        .post(
            "/api/v1/school/calendar/closures/",
            json!({"starts_on": "0100-01-01", "ends_on": "0100-01-02", "reason": "Long ago"}),
        )
        .await;
    assert!(assert_error_shape(&res, 422)["errors"]["starts_on"].is_array());

    let res = y
        .admin
        .put(
            &url(y.jss1a, today),
            json!({"rows": [{"registration": registration, "code": "P"}]}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let res = y
        .admin
        .delete(&format!("/api/v1/school/admissions/{ada}/"))
        .await;
    assert_error_shape(&res, 409);

    let mut page = app.signed_in("alpha", "admin@alpha.test").await;
    let html = page
        .get(&format!("/attendance?class={}&date={today}", y.jss1a))
        .await
        .text();
    assert!(html.contains("/static/register.js"), "{html}");
    assert!(!html.contains("addEventListener"), "no inline script");
}

/// An unexcused absence waits out the school's grace period, then is recorded once per pupil
/// per day; a correction in time cancels it; absent again re-opens it.
#[sqlx::test(migrations = false)]
async fn an_absence_is_recorded_after_the_grace_period_unless_corrected(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let today = school_today();
    let y = year(&app, "alpha", today).await;
    let res = y
        .admin
        .patch(
            "/api/v1/school/settings/",
            json!({"absence_grace_minutes": 30, "attendance_periods": 2}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let ada = admit(&y.admin, "Ada", y.jss1a, today - Duration::days(60)).await;
    let bola = admit(&y.admin, "Bola", y.jss1a, today - Duration::days(60)).await;
    let chi = admit(&y.admin, "Chi", y.jss1a, today - Duration::days(60)).await;
    mark(
        &y,
        y.jss1a,
        today,
        1,
        &[("Ada", "A"), ("Bola", "A"), ("Chi", "E")],
    )
    .await;
    // Absent again in the afternoon: still one event for the day.
    mark(&y, y.jss1a, today, 2, &[("Ada", "A")]).await;
    let events = |student: i64| {
        let admin = &y.admin;
        async move {
            let res = admin
                .get(&format!(
                    "/api/v1/school/attendance/absences/?student={student}"
                ))
                .await;
            assert_eq!(res.status, StatusCode::OK, "{}", res.text());
            res.json()["results"].as_array().unwrap().clone()
        }
    };
    let a = events(ada).await;
    assert_eq!(a.len(), 1, "{a:?}");
    assert_eq!(a[0]["status"], "pending");
    assert!(
        events(chi).await.is_empty(),
        "an excused absence is no event"
    );
    // The recording is queued for when the grace period ends.
    let queued: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM apalis.jobs WHERE job_type = 'absence_events'
            AND run_at > now() + interval '29 minutes'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert!(queued >= 1);

    // Bola's absence is corrected within the grace period: cancelled.
    mark(&y, y.jss1a, today, 1, &[("Bola", "P")]).await;
    assert_eq!(events(bola).await[0]["status"], "cancelled");

    // Not yet due: nothing is recorded. Past the grace period: Ada's is, once.
    let mut tx = app.school_tx("alpha").await;
    let now = chrono::Utc::now();
    let early = schoolyard::attendance::absences::record_due(&mut tx, Some(now))
        .await
        .unwrap();
    assert_eq!(early, 0);
    let later = now + Duration::minutes(31);
    let recorded = schoolyard::attendance::absences::record_due(&mut tx, Some(later))
        .await
        .unwrap();
    assert_eq!(recorded, 1);
    let again = schoolyard::attendance::absences::record_due(&mut tx, Some(later))
        .await
        .unwrap();
    assert_eq!(again, 0, "recording twice records nothing more");
    tx.commit().await.unwrap();
    assert_eq!(events(ada).await[0]["status"], "recorded");

    // Absent after all: Bola's event is pending again, with a fresh grace period.
    mark(&y, y.jss1a, today, 1, &[("Bola", "A")]).await;
    let b = events(bola).await;
    assert_eq!((b.len(), &b[0]["status"]), (1, &json!("pending")));

    // The job records what is due in the school its payload names, and refuses an unknown one.
    let schema: String =
        sqlx::query_scalar("SELECT schema_name FROM public.clients WHERE code = 'alpha'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    let job = schoolyard::jobs::queue::AbsenceJob { schema };
    schoolyard::attendance::absences::run_job(&app.state.db, &job)
        .await
        .unwrap();
    assert_eq!(events(bola).await[0]["status"], "pending", "not due yet");
    // …and queues itself again for when it is.
    let queued: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM apalis.jobs WHERE job_type = 'absence_events' AND status = 'Pending'
            AND run_at > now() + interval '29 minutes'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert!(queued >= 2, "{queued}");
    let unknown = schoolyard::jobs::queue::AbsenceJob {
        schema: "no_such_school".into(),
    };
    assert!(
        schoolyard::attendance::absences::run_job(&app.state.db, &unknown)
            .await
            .is_err()
    );

    // The pupil's attendance page (linked from their record) lists them, with the term so far.
    let mut page = app.signed_in("alpha", "admin@alpha.test").await;
    let html = page.get(&format!("/students/{ada}")).await.text();
    assert!(
        html.contains(&format!("/attendance/pupils/{ada}")),
        "{html}"
    );
    let html = page.get(&format!("/attendance/pupils/{ada}")).await.text();
    assert!(html.contains("Absences for parents"), "{html}");
    assert!(html.contains("Recorded"), "{html}");
    let html = page.get(&format!("/attendance/pupils/{bola}")).await.text();
    assert!(html.contains("Waiting for corrections until"), "{html}");
    assert!(html.contains("Corrected marks"), "{html}");
}

/// The page's script saves each tap through `/attendance/marks`: a refused row comes back
/// as JSON naming that row, and nothing of the request is saved.
#[sqlx::test(migrations = false)]
async fn the_register_page_saves_each_tap_and_names_a_refused_row(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let today = school_today();
    let y = year(&app, "alpha", today).await;
    let _teacher = class_teacher_of(&app, &y, y.jss1a).await;
    let ada_student = admit(&y.admin, "Ada", y.jss1a, today - Duration::days(60)).await;
    admit(&y.admin, "Efe", y.jss1b, today - Duration::days(60)).await;
    let ada = row_of(&y.admin.get(&url(y.jss1a, today)).await.json(), "Ada")["registration"]
        .as_i64()
        .unwrap();
    let efe = row_of(&y.admin.get(&url(y.jss1b, today)).await.json(), "Efe")["registration"]
        .as_i64()
        .unwrap();
    let mut page = app.signed_in("alpha", "teacher@alpha.test").await;
    // A pupil's attendance page is for those who read attendance, not for add alone.
    let res = page.get(&format!("/attendance/pupils/{ada_student}")).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    let path = format!("/attendance?class={}&date={today}&period=1", y.jss1a);
    let csrf = page.csrf(&path).await;
    let marks = format!("/attendance/marks?class={}&date={today}&period=1", y.jss1a);
    let (code_ada, code_efe) = (format!("code_{ada}"), format!("code_{efe}"));
    let res = page
        .post(
            &marks,
            &[
                ("csrf_token", csrf.as_str()),
                (code_ada.as_str(), "A"),
                (code_efe.as_str(), "P"),
            ],
        )
        .await;
    assert_eq!(
        res.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        res.text()
    );
    let body = res.json();
    assert!(body["rows"][efe.to_string()].is_string(), "{body}");
    assert!(body["rows"][ada.to_string()].is_null(), "{body}");
    assert!(row_of(&y.admin.get(&url(y.jss1a, today)).await.json(), "Ada")["code"].is_null());

    let res = page
        .post(
            &marks,
            &[("csrf_token", csrf.as_str()), (code_ada.as_str(), "A")],
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert_eq!(res.json()["saved"], json!([ada]));
    assert_eq!(
        row_of(&y.admin.get(&url(y.jss1a, today)).await.json(), "Ada")["code"],
        "A"
    );

    // The other arm is not this teacher's: refused, and not as a half-saved success.
    let other = format!("/attendance/marks?class={}&date={today}&period=1", y.jss1b);
    let res = page
        .post(
            &other,
            &[("csrf_token", csrf.as_str()), (code_efe.as_str(), "A")],
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.text());
    // In the page script's shape, so the row says why and is not sent again.
    let body = res.json();
    assert!(
        body["rows"][efe.to_string()]
            .as_str()
            .unwrap()
            .contains("class teacher"),
        "{body}"
    );
    assert!(row_of(&y.admin.get(&url(y.jss1b, today)).await.json(), "Efe")["code"].is_null());
}

/// Weekend openings and reasons are kept through the API: a weekday is no weekend opening,
/// a day opens once, a register can be taken on it, and only those allowed change either.
#[sqlx::test(migrations = false)]
async fn weekend_openings_and_reasons_are_the_school_s_to_set(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let today = school_today();
    let y = year(&app, "alpha", today).await;
    // The test calendar opens every weekend; start from none.
    let mut tx = app.school_tx("alpha").await;
    sqlx::query("DELETE FROM weekend_openings")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let saturday = (0..7)
        .map(|d| today - Duration::days(d))
        .find(|d| d.format("%u").to_string() == "6")
        .unwrap();
    let monday = saturday + Duration::days(2);
    let openings = "/api/v1/school/calendar/weekend-openings/";
    let res = y
        .admin
        .post(
            openings,
            json!({"day": monday.to_string(), "reason": "Open day"}),
        )
        .await;
    assert!(assert_error_shape(&res, 422)["errors"]["day"].is_array());
    admit(&y.admin, "Ada", y.jss1a, today - Duration::days(60)).await;
    let closed = y.admin.get(&url(y.jss1a, saturday)).await.json();
    assert!(closed["closed"].is_string(), "{closed}");
    let res = y
        .admin
        .post(
            openings,
            json!({"day": saturday.to_string(), "reason": "Make-up day"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    let again = y
        .admin
        .post(
            openings,
            json!({"day": saturday.to_string(), "reason": "Twice"}),
        )
        .await;
    assert!(
        again.status == StatusCode::CONFLICT || again.status == StatusCode::UNPROCESSABLE_ENTITY
    );
    let open = y.admin.get(&url(y.jss1a, saturday)).await.json();
    assert!(open["closed"].is_null(), "{open}");
    assert_eq!(y.admin.get(openings).await.json()["count"], 1);

    let teacher = class_teacher_of(&app, &y, y.jss1a).await;
    let res = teacher
        .post(
            openings,
            json!({"day": (saturday + Duration::days(1)).to_string(), "reason": "Sunday"}),
        )
        .await;
    assert_error_shape(&res, 403);
    let res = teacher.delete(&format!("{openings}{saturday}/")).await;
    assert_error_shape(&res, 403);
    let res = y.admin.delete(&format!("{openings}{saturday}/")).await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    assert_error_shape(
        &y.admin.delete(&format!("{openings}{saturday}/")).await,
        404,
    );

    // Reasons: add one, use it, retire it; a teacher may read but not change them.
    let reasons = "/api/v1/school/attendance-reasons/";
    let res = y
        .admin
        .post(reasons, json!({"name": "Hospital visit"}))
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    let id = res.json()["id"].as_i64().unwrap();
    let dup = y
        .admin
        .post(reasons, json!({"name": "hospital VISIT"}))
        .await;
    assert!(assert_error_shape(&dup, 422)["errors"]["name"].is_array());
    assert_error_shape(&teacher.post(reasons, json!({"name": "Mine"})).await, 403);
    assert_eq!(teacher.get(reasons).await.status, StatusCode::OK);
    let ada =
        row_of(&y.admin.get(&url(y.jss1a, today)).await.json(), "Ada")["registration"].clone();
    let res = y
        .admin
        .put(
            &url(y.jss1a, today),
            json!({"rows": [{"registration": ada, "code": "E", "reason": "hospital visit"}]}),
        )
        .await;
    assert_eq!(row_of(&res.json(), "Ada")["reason"], "Hospital visit");
    let res = y
        .admin
        .patch(&format!("{reasons}{id}/"), json!({"is_active": false}))
        .await;
    assert_eq!(res.json()["is_active"], false);
    let register = y.admin.get(&url(y.jss1a, today)).await.json();
    assert!(
        !register["reasons"]
            .as_array()
            .unwrap()
            .contains(&json!("Hospital visit"))
    );
    assert_eq!(
        row_of(&register, "Ada")["reason"],
        "Hospital visit",
        "a retired reason stays on its mark"
    );
}

/// The calendar-and-codes page: closures and weekend openings need the terms permissions,
/// codes and reasons the settings one; a refused form keeps what was typed.
#[sqlx::test(migrations = false)]
async fn the_calendar_and_codes_page_keeps_to_its_permissions(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let today = school_today();
    let y = year(&app, "alpha", today).await;
    let _teacher = class_teacher_of(&app, &y, y.jss1a).await;
    let mut admin = app.signed_in("alpha", "admin@alpha.test").await;
    let csrf = admin.csrf("/attendance/setup").await;
    let html = admin.get("/attendance/setup").await.text();
    assert!(
        html.contains("Add closure") && html.contains("Add code"),
        "{html}"
    );

    // A closure that ends before it starts: refused, the reason typed is kept.
    let res = admin
        .post(
            "/attendance/setup/closures",
            &[
                ("csrf_token", csrf.as_str()),
                ("starts_on", "2026-12-10"),
                ("ends_on", "2026-12-01"),
                ("reason", "Christmas break"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text();
    assert!(html.contains("must end on or after"), "{html}");
    assert!(html.contains("value=\"Christmas break\""), "{html}");
    let res = admin
        .post(
            "/attendance/setup/closures",
            &[
                ("csrf_token", csrf.as_str()),
                ("starts_on", "2026-12-10"),
                ("ends_on", ""),
                ("reason", "Founders' day"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text());
    let closures = y
        .admin
        .get("/api/v1/school/calendar/closures/")
        .await
        .json();
    assert_eq!(closures["results"][0]["ends_on"], "2026-12-10");

    let res = admin
        .post(
            "/attendance/setup/codes",
            &[
                ("csrf_token", csrf.as_str()),
                ("code", "st"),
                ("name", "School trip"),
                ("counts_as", "present"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text());
    let codes = y.admin.get("/api/v1/school/attendance-codes/").await.json();
    assert!(
        codes["results"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["code"] == "ST")
    );

    // The class teacher reads the page but changes nothing.
    let mut teacher = app.signed_in("alpha", "teacher@alpha.test").await;
    let csrf = teacher.csrf("/attendance/setup").await;
    let html = teacher.get("/attendance/setup").await.text();
    assert!(
        !html.contains("Add closure") && !html.contains("Add code"),
        "{html}"
    );
    let res = teacher
        .post(
            "/attendance/setup/reasons",
            &[("csrf_token", csrf.as_str()), ("name", "Mine")],
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    let res = teacher
        .post(
            "/attendance/setup/weekend-openings",
            &[
                ("csrf_token", csrf.as_str()),
                ("day", "2026-12-05"),
                ("reason", "Mine"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
}

/// Schools made before registers existed gave built-in Teachers "edit attendance"; the
/// migration takes change_attendance back (a head's) and leaves view and add.
#[sqlx::test(migrations = false)]
async fn existing_built_in_teachers_lose_the_correction_of_any_register(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.create_school("alpha").await;
    let mut tx = app.school_tx("alpha").await;
    sqlx::query(
        "INSERT INTO role_permissions (role_id, permission)
         SELECT id, 'change_attendance' FROM roles WHERE name IN ('Teacher', 'Class Teacher')
         ON CONFLICT DO NOTHING",
    )
    .execute(&mut *tx)
    .await
    .unwrap();
    sqlx::query("DELETE FROM role_permissions WHERE permission = 'change_attendance' AND role_id = (SELECT id FROM roles WHERE name = 'Head')")
        .execute(&mut *tx)
        .await
        .unwrap();
    let migration = include_str!("../../migrations/tenant/0010_attendance_watch.sql");
    let fix = &migration[migration.find("-- Built-in teaching roles").unwrap()..];
    sqlx::raw_sql(fix).execute(&mut *tx).await.unwrap();
    let held: Vec<(String, String)> = sqlx::query_as(
        "SELECT r.name, rp.permission FROM role_permissions rp JOIN roles r ON r.id = rp.role_id
          WHERE rp.permission LIKE '%_attendance' ORDER BY 1, 2",
    )
    .fetch_all(&mut *tx)
    .await
    .unwrap();
    let of = |role: &str| -> Vec<&str> {
        held.iter()
            .filter(|(r, _)| r == role)
            .map(|(_, p)| p.as_str())
            .collect()
    };
    assert_eq!(of("Teacher"), ["add_attendance", "view_attendance"]);
    assert_eq!(of("Class Teacher"), ["add_attendance", "view_attendance"]);
    assert!(of("Head").contains(&"change_attendance"));
    assert!(
        of("School Admin").contains(&"change_attendance"),
        "other roles untouched"
    );
}
