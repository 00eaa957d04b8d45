//! Sign-in throttling, kept in PostgreSQL so every application server sees the same counters.
//!
//! Three counters per attempt, all scoped (a school id or the platform: user 1 exists in
//! every school):
//! - the guesser (account + address): locked after a few failures, so whoever keeps guessing
//!   is stopped without locking the account for its owner at another address;
//! - the address within the scope: locked after many failures (one address trying many
//!   accounts of one school);
//! - the account: never locked (that would be a lock-out anyone could impose), but each
//!   attempt is slowed once it has drawn many failures from anywhere.
//!
//! Attempts are counted before the password is checked, in one statement, so parallel
//! guesses cannot all pass a check made before any of them was counted; a successful sign-in
//! gives its count back.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use crate::{config::Config, error::AppError};

pub struct ThrottleKeys {
    guesser: String,
    address: String,
    account: String,
}

impl ThrottleKeys {
    pub fn new(scope: Option<i64>, email: &str, client_ip: &str) -> Self {
        let scope = scope.map_or_else(|| "platform".to_owned(), |id| format!("school:{id}"));
        let email = email.trim().to_lowercase();
        Self {
            guesser: format!("guesser:{scope}:{client_ip}:{email}"),
            address: format!("addr:{scope}:{client_ip}"),
            account: format!("acct:{scope}:{email}"),
        }
    }
}

/// An attempt that was counted and may go on to the password check.
pub struct Admitted {
    /// How long to wait before checking the password (an account under attack is slowed).
    pub delay: Duration,
}

/// Counts the attempt against all three keys, then refuses with 429 when the guesser or the
/// address is over its limit in the current window.
pub async fn admit(
    pool: &PgPool,
    config: &Config,
    keys: &ThrottleKeys,
    now: DateTime<Utc>,
) -> Result<Admitted, AppError> {
    let window = chrono::Duration::from_std(config.login_lockout)
        .map_err(|e| AppError::Internal(e.into()))?;
    let counts: Vec<(String, i32, DateTime<Utc>)> = sqlx::query_as(
        "INSERT INTO public.login_throttle AS t (key, failures, window_started_at)
         SELECT k, 1, $2 FROM unnest($1::text[]) AS k
         ON CONFLICT (key) DO UPDATE SET
             failures = CASE WHEN t.window_started_at <= $2 - $3 THEN 1 ELSE t.failures + 1 END,
             window_started_at = CASE WHEN t.window_started_at <= $2 - $3 THEN $2
                                      ELSE t.window_started_at END
         RETURNING key, failures, window_started_at",
    )
    .bind([
        keys.guesser.as_str(),
        keys.address.as_str(),
        keys.account.as_str(),
    ])
    .bind(now)
    .bind(window)
    .fetch_all(pool)
    .await?;

    let mut refused_until: Option<DateTime<Utc>> = None;
    let mut delay = Duration::ZERO;
    for (key, count, started) in counts {
        let limit = if key == keys.guesser {
            config.login_max_failures_per_guesser
        } else if key == keys.address {
            config.login_max_failures_per_address
        } else {
            delay = slowdown(count, config.login_slow_after_failures);
            continue;
        };
        if count > limit {
            let until = started + window;
            refused_until = Some(refused_until.map_or(until, |u| u.max(until)));
        }
    }
    match refused_until {
        Some(until) => Err(AppError::TooManyRequests {
            retry_after: u64::try_from((until - now).num_seconds().max(1)).unwrap_or(1),
        }),
        None => Ok(Admitted { delay }),
    }
}

/// A quarter of a second more for every attempt beyond the threshold, at most three seconds:
/// enough to make guessing one account slow, short enough that its owner still gets in.
fn slowdown(count: i32, threshold: i32) -> Duration {
    let over = u64::try_from(count.saturating_sub(threshold)).unwrap_or(0);
    Duration::from_millis((over * 250).min(3000))
}

/// A successful sign-in: the guesser and the account start afresh, and the address gets
/// its attempt back (a school's staff often share one address).
pub async fn succeeded(pool: &PgPool, keys: &ThrottleKeys) -> Result<(), AppError> {
    sqlx::query(
        "WITH gone AS (DELETE FROM public.login_throttle WHERE key = ANY($1))
         UPDATE public.login_throttle SET failures = greatest(failures - 1, 0) WHERE key = $2",
    )
    .bind([keys.guesser.as_str(), keys.account.as_str()])
    .bind(&keys.address)
    .execute(pool)
    .await?;
    Ok(())
}

/// Deletes counters whose window ended (run on a schedule by the worker): a row older than
/// its window would be reset by the next attempt anyway.
pub async fn purge_stale(pool: &PgPool, window: Duration, now: DateTime<Utc>) -> sqlx::Result<u64> {
    let window = chrono::Duration::from_std(window).unwrap_or(chrono::Duration::days(1));
    let done = sqlx::query("DELETE FROM public.login_throttle WHERE window_started_at <= $1")
        .bind(now - window)
        .execute(pool)
        .await?;
    Ok(done.rows_affected())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::auth::throttle::slowdown;

    #[test]
    fn the_account_is_slowed_only_beyond_its_threshold_and_never_beyond_three_seconds() {
        assert_eq!(slowdown(10, 10), Duration::ZERO);
        assert_eq!(slowdown(12, 10), Duration::from_millis(500));
        assert_eq!(slowdown(1000, 10), Duration::from_secs(3));
    }
}
