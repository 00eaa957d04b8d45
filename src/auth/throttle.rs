//! Failed-login throttling per account and per client address, kept in PostgreSQL so every
//! application server sees the same counters. Keys always include the scope (school id or
//! platform): user 1 exists in every school.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use crate::{config::Config, error::AppError};

pub struct ThrottleKeys {
    account: String,
    address: String,
}

impl ThrottleKeys {
    pub fn new(scope: Option<i64>, email: &str, client_ip: &str) -> Self {
        let scope = scope.map_or_else(|| "platform".to_owned(), |id| format!("school:{id}"));
        Self {
            account: format!("acct:{scope}:{}", email.trim().to_lowercase()),
            address: format!("addr:{client_ip}"),
        }
    }
}

/// Refuses with 429 while either key is locked.
pub async fn check(pool: &PgPool, keys: &ThrottleKeys, now: DateTime<Utc>) -> Result<(), AppError> {
    let locked_until: Option<DateTime<Utc>> = sqlx::query_scalar(
        "SELECT max(locked_until) FROM public.login_throttle
          WHERE key = ANY($1) AND locked_until > $2",
    )
    .bind([keys.account.as_str(), keys.address.as_str()])
    .bind(now)
    .fetch_one(pool)
    .await?;
    match locked_until {
        Some(until) => Err(AppError::TooManyRequests {
            retry_after: u64::try_from((until - now).num_seconds().max(1)).unwrap_or(1),
        }),
        None => Ok(()),
    }
}

/// Counts a failure against both keys, locking a key that reaches its limit.
pub async fn record_failure(
    pool: &PgPool,
    config: &Config,
    keys: &ThrottleKeys,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let window = chrono::Duration::from_std(config.login_lockout)
        .map_err(|e| AppError::Internal(e.into()))?;
    sqlx::query(
        "INSERT INTO public.login_throttle AS t (key, failures, window_started_at, locked_until)
         SELECT k, 1, $2, CASE WHEN 1 >= lim THEN $2 + $3 END
           FROM unnest($1::text[], $4::int[]) AS x(k, lim)
         ON CONFLICT (key) DO UPDATE SET
             failures = CASE WHEN t.window_started_at < $2 - $3 THEN 1 ELSE t.failures + 1 END,
             window_started_at = CASE WHEN t.window_started_at < $2 - $3 THEN $2 ELSE t.window_started_at END,
             locked_until = CASE
                 WHEN (CASE WHEN t.window_started_at < $2 - $3 THEN 1 ELSE t.failures + 1 END)
                      >= (SELECT lim FROM unnest($1::text[], $4::int[]) AS y(k, lim) WHERE y.k = t.key)
                 THEN $2 + $3 ELSE t.locked_until END",
    )
    .bind([keys.account.as_str(), keys.address.as_str()])
    .bind(now)
    .bind(window)
    .bind([
        config.login_max_failures_per_account,
        config.login_max_failures_per_address,
    ])
    .execute(pool)
    .await?;
    Ok(())
}

/// A successful login clears the account's counter (not the address's).
pub async fn clear_account(pool: &PgPool, keys: &ThrottleKeys) -> Result<(), AppError> {
    sqlx::query("DELETE FROM public.login_throttle WHERE key = $1")
        .bind(&keys.account)
        .execute(pool)
        .await?;
    Ok(())
}
