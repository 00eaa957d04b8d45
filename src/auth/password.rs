//! Password hashing (argon2id, at least the OWASP minimum) and the password policy.

use argon2::{
    Algorithm, Argon2, Params, PasswordHash, PasswordHasher, PasswordVerifier, Version,
    password_hash::{SaltString, rand_core::OsRng},
};

use crate::error::AppError;

pub const MIN_LENGTH: usize = 8;
pub const MAX_LENGTH: usize = 128;

static COMMON: &str = include_str!("common_passwords.txt");

fn hasher() -> Result<Argon2<'static>, AppError> {
    // OWASP minimum for argon2id: m = 19 MiB, t = 2, p = 1.
    let params = Params::new(19_456, 2, 1, None)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("argon2 params: {e}")))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Problems with a proposed password, in words a user understands.
pub fn policy_problems(password: &str, email: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let len = password.chars().count();
    if len < MIN_LENGTH {
        problems.push(format!("Use at least {MIN_LENGTH} characters."));
    }
    if len > MAX_LENGTH {
        problems.push(format!("Use at most {MAX_LENGTH} characters."));
    }
    let lower = password.to_lowercase();
    let local = email.split('@').next().unwrap_or_default().to_lowercase();
    if COMMON.lines().any(|c| c.eq_ignore_ascii_case(&lower)) {
        problems.push("This password is too common; choose another.".to_owned());
    } else if (MIN_LENGTH..=MAX_LENGTH).contains(&len) {
        // zxcvbn's estimate: below "two" (10^8 guesses) falls to a dictionary attack.
        let estimate = zxcvbn::zxcvbn(password, &[email, &local]);
        if u8::from(estimate.score()) < 2 {
            let why = estimate
                .feedback()
                .and_then(|f| f.warning())
                .map(|w| format!(" ({w})"))
                .unwrap_or_default();
            problems.push(format!(
                "This password is too easy to guess{why}; add words or characters people would not guess."
            ));
        }
    }
    if !email.is_empty() && (lower == email.to_lowercase() || (!local.is_empty() && lower == local))
    {
        problems.push("The password must not be your email address.".to_owned());
    }
    problems
}

/// Hashes on a blocking thread: argon2 takes tens of milliseconds by design.
pub async fn hash(password: String) -> Result<String, AppError> {
    tokio::task::spawn_blocking(move || hash_blocking(&password))
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("hash task: {e}")))?
}

pub fn hash_blocking(password: &str) -> Result<String, AppError> {
    let salt = SaltString::generate(&mut OsRng);
    hasher()?
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AppError::Internal(anyhow::anyhow!("hash password: {e}")))
}

/// Verifies on a blocking thread. A malformed stored hash never matches.
/// Password checks running at once, process-wide: a flood of sign-ins (from any number of
/// addresses) queues here instead of taking every core from the requests being served.
static CHECKS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(4);

pub async fn verify(password: String, stored: String) -> Result<bool, AppError> {
    let _turn = CHECKS
        .acquire()
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("password check queue: {e}")))?;
    tokio::task::spawn_blocking(move || {
        let Ok(parsed) = PasswordHash::new(&stored) else {
            return Ok(false);
        };
        Ok(hasher()?
            .verify_password(password.as_bytes(), &parsed)
            .is_ok())
    })
    .await
    .map_err(|e| AppError::Internal(anyhow::anyhow!("verify task: {e}")))?
}
