//! Issue 14, item 9: each school keeps its own clock (default Africa/Lagos); its audit log
//! and pages show times on it, and the API keeps speaking UTC.

use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::PgPool;

use crate::helpers::{TestApp, assert_error_shape};

fn on_clock(at: DateTime<Utc>, zone: chrono_tz::Tz) -> String {
    at.with_timezone(&zone)
        .format("%-d %b %Y %H:%M")
        .to_string()
}

#[sqlx::test(migrations = false)]
async fn a_school_sees_times_on_its_own_clock(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.create_school("alpha").await;
    app.create_school("beta").await;
    app.create_staff("alpha", "admin@alpha.test", "School Admin")
        .await;
    app.create_staff("beta", "admin@beta.test", "School Admin")
        .await;
    let alpha = app.as_staff("alpha", "admin@alpha.test").await;
    let beta = app.as_staff("beta", "admin@beta.test").await;

    let settings = alpha.get("/api/v1/school/settings/").await.json();
    assert_eq!(settings["time_zone"], "Africa/Lagos");
    let res = alpha
        .post("/api/v1/school/forms/", json!({"name": "JSS 1"}))
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    let audit = alpha.get("/api/v1/school/audit/").await.json();
    let stamp = audit["results"][0]["occurred_at"]
        .as_str()
        .expect("a time")
        .to_owned();
    // The API speaks UTC.
    assert!(stamp.ends_with('Z'), "{stamp}");
    let at: DateTime<Utc> = stamp.parse().expect("an RFC 3339 time");

    let mut page = app.signed_in("alpha", "admin@alpha.test").await;
    let html = page.get("/audit").await.text();
    assert!(
        html.contains(&on_clock(at, chrono_tz::Africa::Lagos)),
        "the audit log is on Lagos time"
    );

    // A school elsewhere sets its own clock; a name that is no zone is refused by name.
    let res = alpha
        .patch(
            "/api/v1/school/settings/",
            json!({"time_zone": "Mars/Olympus"}),
        )
        .await;
    assert!(assert_error_shape(&res, 422)["errors"]["time_zone"].is_array());
    let res = alpha
        .patch(
            "/api/v1/school/settings/",
            json!({"time_zone": "Asia/Tokyo"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert_eq!(res.json()["time_zone"], "Asia/Tokyo");
    let html = page.get("/audit").await.text();
    assert!(
        html.contains(&on_clock(at, chrono_tz::Asia::Tokyo)),
        "the audit log follows the new clock"
    );
    // The other school's clock is its own.
    assert_eq!(
        beta.get("/api/v1/school/settings/").await.json()["time_zone"],
        "Africa/Lagos"
    );
    // The change is in the audit log.
    let audit = alpha.get("/api/v1/school/audit/").await.json();
    assert!(
        audit.to_string().contains("Asia/Tokyo"),
        "the clock change is audited"
    );
}
