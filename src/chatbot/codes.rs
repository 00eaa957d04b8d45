//! One-time link codes the school office gives a guardian: `<SCHOOL CODE>-XXXX-XXXX`, eight
//! characters from an alphabet without look-alikes (no 0/O, 1/I/L). The school prefix lets
//! the shared number find the school; only a hash of the eight characters is stored.

use chrono::{DateTime, Duration, Utc};
use rand::Rng;
use sha2::{Digest, Sha256};
use sqlx::PgConnection;

const ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
const SECRET_LEN: usize = 8;
/// How long a code may wait to be used.
pub const CODE_LIFETIME_DAYS: i64 = 14;
/// Wrong codes a guardian's phone may try before the code is void.
pub const MAX_TRIES: i16 = 5;

/// A code as typed by a parent: the school's code (when given) and the secret part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypedCode {
    pub school_code: Option<String>,
    pub secret: String,
}

/// Finds a code in what a parent typed: the whole message (`GRW-7K4P-9QX2`,
/// `grw 7k4p9qx2`, on a school's own number `7K4P-9QX2`), with stray punctuation, bold or
/// an en dash, or inside a sentence ("my code is GRW-7K4P-9QX2.") when it has its dashes or
/// its school.
pub fn parse(text: &str) -> Option<TypedCode> {
    let cleaned: String = text
        .chars()
        .map(|c| match c {
            '\u{2010}'..='\u{2015}' | '\u{2212}' => '-',
            '*' | '_' | '"' | '\'' | '`' | '~' => ' ',
            c => c,
        })
        .collect();
    let words: Vec<&str> = cleaned
        .split_whitespace()
        .map(|w| w.trim_matches(|c: char| matches!(c, '.' | ',' | ':' | ';' | '!' | '?')))
        .filter(|w| !w.is_empty())
        .collect();
    if let Some(code) = parse_exact(&words.join(" ")) {
        return Some(code);
    }
    // Inside a sentence: one to three words, but never a bare eight letters (a word such
    // as STUDENTS would pass for a code).
    for len in [3, 2, 1] {
        for window in words.windows(len) {
            let candidate = window.join(" ");
            if let Some(code) = parse_exact(&candidate)
                && (code.school_code.is_some() || candidate.contains('-'))
            {
                return Some(code);
            }
        }
    }
    None
}

fn parse_exact(text: &str) -> Option<TypedCode> {
    let cleaned: String = text
        .trim()
        .chars()
        .map(|c| {
            if c == ' ' {
                '-'
            } else {
                c.to_ascii_uppercase()
            }
        })
        .collect();
    let parts: Vec<&str> = cleaned.split('-').filter(|p| !p.is_empty()).collect();
    let (school, rest) = match parts.as_slice() {
        [a, b] if a.len() == 4 && b.len() == 4 => (None, format!("{a}{b}")),
        [one] if one.len() == SECRET_LEN => (None, (*one).to_owned()),
        [school, a, b] if a.len() == 4 && b.len() == 4 => (Some(*school), format!("{a}{b}")),
        [school, secret] if secret.len() == SECRET_LEN => (Some(*school), (*secret).to_owned()),
        _ => return None,
    };
    let secret_ok = rest.len() == SECRET_LEN && rest.bytes().all(|b| ALPHABET.contains(&b));
    let school_ok = school.is_none_or(|s| {
        !s.is_empty() && s.len() <= 20 && s.chars().all(|c| c.is_ascii_alphanumeric())
    });
    (secret_ok && school_ok).then(|| TypedCode {
        school_code: school.map(str::to_owned),
        secret: rest,
    })
}

pub fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.to_ascii_uppercase().as_bytes()))
}

fn new_secret() -> String {
    let mut rng = rand::rng();
    (0..SECRET_LEN)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect()
}

/// A fresh code for a guardian (any earlier unused code of theirs is void). Returns the code
/// to show once, formatted with the school's code, and when it expires.
pub async fn issue(
    conn: &mut PgConnection,
    guardian_id: i64,
    school_code: &str,
    created_by: Option<i64>,
    now: DateTime<Utc>,
) -> sqlx::Result<(String, DateTime<Utc>)> {
    sqlx::query(
        "UPDATE chatbot_link_codes SET expires_at = $2
          WHERE guardian_id = $1 AND used_at IS NULL AND expires_at > $2",
    )
    .bind(guardian_id)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    let secret = new_secret();
    let expires_at = now + Duration::days(CODE_LIFETIME_DAYS);
    sqlx::query(
        "INSERT INTO chatbot_link_codes (guardian_id, code_hash, expires_at, created_by, created_at)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(guardian_id)
    .bind(hash(&secret))
    .bind(expires_at)
    .bind(created_by)
    .bind(now)
    .execute(conn)
    .await?;
    Ok((
        format!(
            "{}-{}-{}",
            school_code.to_ascii_uppercase(),
            &secret[..4],
            &secret[4..]
        ),
        expires_at,
    ))
}
