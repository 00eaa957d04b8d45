//! Sign-in throttling, kept in PostgreSQL so every application server sees the same counters.
//!
//! Per attempt, all scoped (a school id or the platform: user 1 exists in every school):
//! - the guesser (account + address): locked after a few failures, so whoever keeps guessing
//!   is stopped without locking the account for its owner elsewhere;
//! - the address within the scope: locked after many failures (one address trying many
//!   accounts of one school);
//! - the account: never locked (that would be a lock-out anyone could impose); once it has
//!   drawn many failures from anywhere, it is paced: one attempt per second from addresses
//!   it has never signed in from, however many are sent at once.
//!
//! An address where the account signed in before ("known", for 30 days) is exempt from the
//! address limit and the pacing, so staff behind one school address, and the owner of an
//! account under attack, still sign in. IPv6 addresses count per /64 (one subscriber).
//!
//! Attempts are counted before the password is checked, in one statement, so parallel
//! guesses cannot all pass a check made before any of them was counted; a successful sign-in
//! gives its count back.

use std::net::IpAddr;

use chrono::{DateTime, Duration, Utc};
use sqlx::PgPool;

use crate::{config::Config, error::AppError};

/// How long an address stays known for an account after a successful sign-in.
const KNOWN_FOR_DAYS: i64 = 30;
/// At most one attempt per this long on a paced account (from unknown addresses).
const PACE_MILLIS: i64 = 1000;

pub struct ThrottleKeys {
    guesser: String,
    address: String,
    account: String,
    known: String,
}

/// IPv6 addresses by /64 (a subscriber gets a whole /64); others as they are.
fn address_group(client_ip: &str) -> String {
    match client_ip.parse::<IpAddr>() {
        Ok(IpAddr::V6(v6)) if v6.to_ipv4_mapped().is_none() => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        Ok(IpAddr::V6(v6)) => v6
            .to_ipv4_mapped()
            .map_or_else(|| v6.to_string(), |v4| v4.to_string()),
        _ => client_ip.to_owned(),
    }
}

impl ThrottleKeys {
    pub fn new(scope: Option<i64>, email: &str, client_ip: &str) -> Self {
        let scope = scope.map_or_else(|| "platform".to_owned(), |id| format!("school:{id}"));
        let email = email.trim().to_lowercase();
        let address = address_group(client_ip);
        Self {
            guesser: format!("guesser:{scope}:{address}:{email}"),
            address: format!("addr:{scope}:{address}"),
            account: format!("acct:{scope}:{email}"),
            known: format!("known:{scope}:{address}:{email}"),
        }
    }
}

fn too_many(until: DateTime<Utc>, now: DateTime<Utc>) -> AppError {
    AppError::TooManyRequests {
        retry_after: u64::try_from((until - now).num_seconds().max(1)).unwrap_or(1),
    }
}

/// Counts the attempt, then refuses with 429 when the guesser or (from an unknown address)
/// the address is over its limit, or the account is paced and this attempt came early.
pub async fn admit(
    pool: &PgPool,
    config: &Config,
    keys: &ThrottleKeys,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let window =
        Duration::from_std(config.login_lockout).map_err(|e| AppError::Internal(e.into()))?;
    let known: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM public.login_throttle WHERE key = $1 AND window_started_at > $2)",
    )
    .bind(&keys.known)
    .bind(now - Duration::days(KNOWN_FOR_DAYS))
    .fetch_one(pool)
    .await?;
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
    let mut paced = false;
    for (key, count, started) in counts {
        let over = if key == keys.guesser {
            count > config.login_max_failures_per_guesser
        } else if key == keys.address {
            !known && count > config.login_max_failures_per_address
        } else {
            paced = !known && count > config.login_slow_after_failures;
            false
        };
        if over {
            let until = started + window;
            refused_until = Some(refused_until.map_or(until, |u| u.max(until)));
        }
    }
    if let Some(until) = refused_until {
        return Err(too_many(until, now));
    }
    if paced {
        // One attempt per pace: whoever takes the slot goes on, the rest wait a second.
        let pace = Duration::milliseconds(PACE_MILLIS);
        let took_slot = sqlx::query(
            "UPDATE public.login_throttle SET locked_until = $2 + $3
              WHERE key = $1 AND (locked_until IS NULL OR locked_until <= $2)",
        )
        .bind(&keys.account)
        .bind(now)
        .bind(pace)
        .execute(pool)
        .await?
        .rows_affected()
            == 1;
        if !took_slot {
            return Err(too_many(now + pace, now));
        }
    }
    Ok(())
}

/// A successful sign-in: the guesser and the account start afresh, the address gets its
/// attempt back (a school's staff often share one address), and the address becomes known
/// for this account.
pub async fn succeeded(
    pool: &PgPool,
    keys: &ThrottleKeys,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    sqlx::query(
        "WITH gone AS (DELETE FROM public.login_throttle WHERE key = ANY($1)),
              known AS (INSERT INTO public.login_throttle (key, failures, window_started_at)
                        VALUES ($3, 0, $4)
                        ON CONFLICT (key) DO UPDATE SET window_started_at = $4)
         UPDATE public.login_throttle SET failures = greatest(failures - 1, 0) WHERE key = $2",
    )
    .bind([keys.guesser.as_str(), keys.account.as_str()])
    .bind(&keys.address)
    .bind(&keys.known)
    .bind(now)
    .execute(pool)
    .await?;
    Ok(())
}

/// Deletes counters whose window ended, and known addresses older than 30 days (run on a
/// schedule by the worker): a counter older than its window would be reset by the next
/// attempt anyway.
pub async fn purge_stale(
    pool: &PgPool,
    window: std::time::Duration,
    now: DateTime<Utc>,
) -> sqlx::Result<u64> {
    let window = Duration::from_std(window).unwrap_or(Duration::days(1));
    let done = sqlx::query(
        "DELETE FROM public.login_throttle
          WHERE (key NOT LIKE 'known:%' AND window_started_at <= $1 AND coalesce(locked_until, $1) <= $2)
             OR window_started_at <= $3",
    )
    .bind(now - window)
    .bind(now)
    .bind(now - Duration::days(KNOWN_FOR_DAYS))
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

#[cfg(test)]
mod tests {
    use crate::auth::throttle::address_group;

    #[test]
    fn ipv6_addresses_count_per_64_and_others_as_they_are() {
        assert_eq!(address_group("2001:db8:0:1::5"), "2001:db8:0:1::/64");
        assert_eq!(address_group("2001:db8:0:1:ffff::9"), "2001:db8:0:1::/64");
        assert_eq!(address_group("::ffff:203.0.113.9"), "203.0.113.9");
        assert_eq!(address_group("203.0.113.9"), "203.0.113.9");
        assert_eq!(address_group("unknown"), "unknown");
    }
}
