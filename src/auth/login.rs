//! The credential check shared by the API and the login pages.

use chrono::{DateTime, Utc};

use crate::{
    audit::trail::{self, Actor, Entry, Trail},
    auth::{account::User, password, throttle},
    db,
    error::{AppError, AppResult},
    http::RequestMeta,
    state::AppState,
};

pub const INVALID_CREDENTIALS: &str = "Invalid email or password.";

/// Checks email and password for one scope (a school, or the platform when None).
/// Throttled (see `throttle`): the attempt is counted before the password is checked; the
/// answer never tells whether the email exists.
pub async fn check_credentials(
    state: &AppState,
    scope: Option<i64>,
    email: &str,
    password_text: &str,
    meta: &RequestMeta,
    now: DateTime<Utc>,
) -> AppResult<User> {
    let keys = throttle::ThrottleKeys::new(scope, email, &meta.client_ip);
    throttle::admit(&state.db, &state.config, &keys, now).await?;

    let user = {
        let mut conn = state.db.acquire().await?;
        crate::auth::account::find_by_email_in_scope(&mut conn, email, scope).await?
    };
    // Verify against a dummy hash when there is no such user, so timing tells nothing.
    let stored = user
        .as_ref()
        .map_or_else(|| state.dummy_hash.clone(), |u| u.password_hash.clone());
    let matches = password::verify(password_text.to_owned(), stored).await?;
    match user {
        Some(user) if matches && user.is_active => {
            throttle::succeeded(&state.db, &keys, now).await?;
            sqlx::query("UPDATE public.users SET last_login = $2 WHERE id = $1")
                .bind(user.id)
                .bind(now)
                .execute(state.db.main())
                .await?;
            Ok(user)
        }
        // Only someone who knows the password learns that the account is disabled.
        Some(user) if matches && !user.is_active => Err(AppError::Unauthenticated(
            "This account is disabled. Ask your administrator to enable it.".into(),
        )),
        // Already counted by `admit`.
        _ => Err(AppError::Unauthenticated(INVALID_CREDENTIALS.into())),
    }
}

/// Records a successful login in the right audit trail.
pub async fn record_login(
    state: &AppState,
    school_schema: Option<&str>,
    user: &User,
    meta: &RequestMeta,
    via: &str,
) -> AppResult<()> {
    let now = Utc::now();
    let (mut tx, trail) = match school_schema {
        Some(schema) => (state.db.begin_school(schema).await?, Trail::School),
        None => (db::begin_platform(state.db.main()).await?, Trail::Platform),
    };
    trail::record(
        &mut tx,
        trail,
        &Actor {
            id: Some(user.id),
            email: Some(user.email.clone()),
        },
        meta,
        Entry {
            action: "login",
            entity: "user",
            entity_id: Some(user.id.to_string()),
            changes: serde_json::json!({ "via": via }),
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
