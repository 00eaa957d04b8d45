//! Linking a parent's WhatsApp number to pupils, inside the school's transaction. The number
//! must be a guardian phone on record, and the parent proves it once: the one-time code the
//! office gave them, or a pupil's admission number with their date of birth. One proof links
//! every pupil whose guardian phone is this number. Links, unlinks and failed attempts are
//! audited in the school.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde_json::json;
use sqlx::PgConnection;

use super::codes::{self, MAX_TRIES};
use crate::{
    audit::trail::{self, Actor, Entry, Trail},
    http::RequestMeta,
};

/// Failed attempts one number may make in a day (admission number and birth date guesses).
const MAX_FAILURES_PER_DAY: i64 = 5;
const WRONG_CODE: &str = "wrong or used link code";
const WRONG_DETAILS: &str = "wrong admission number or date of birth";

/// What a parent typed to prove who they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Proof {
    Code(String),
    AdmissionNo {
        admission_no: String,
        born: NaiveDate,
    },
}

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Linked {
    /// Linked to these pupils (student id, display name).
    Pupils(Vec<(i64, String)>),
    NotAGuardianPhone,
    WrongProof,
    TooManyTries,
}

/// Reads `<admission no> <date of birth>` (the date as dd/mm/yyyy, dd-mm-yyyy or
/// yyyy-mm-dd), with a school code in front when `with_school` (returned first).
pub fn parse_admission(text: &str, with_school: bool) -> Option<(Option<String>, Proof)> {
    let cleaned = text.replace([',', '*'], " ");
    let cleaned = cleaned.trim().trim_end_matches('.');
    let mut words: Vec<String> = cleaned.split_whitespace().map(str::to_owned).collect();
    // A date written with its month's name ("22 March 2015") becomes one word.
    if words.len() >= 3 {
        let tail = words[words.len() - 3..].join(" ");
        if ["%d %B %Y", "%d %b %Y"]
            .iter()
            .any(|f| NaiveDate::parse_from_str(&tail, f).is_ok())
        {
            words.truncate(words.len() - 3);
            words.push(tail);
        }
    }
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    let (school, rest) = if with_school {
        let (first, rest) = words.split_first()?;
        (Some((*first).to_owned()), rest)
    } else {
        (None, words.as_slice())
    };
    let [admission_no, born] = rest else {
        return None;
    };
    let born = [
        "%d/%m/%Y", "%d-%m-%Y", "%Y-%m-%d", "%d.%m.%Y", "%d %B %Y", "%d %b %Y", "%d/%m/%y",
        "%d-%m-%y",
    ]
    .iter()
    // "15" read as a four-digit year is the year 15: the two-digit formats then read it.
    .find_map(|f| {
        NaiveDate::parse_from_str(born, f)
            .ok()
            .filter(|d| d.year() > 1950)
    })?;
    Some((
        school,
        Proof::AdmissionNo {
            admission_no: (*admission_no).to_owned(),
            born,
        },
    ))
}

fn meta(wamid: &str) -> RequestMeta {
    RequestMeta {
        request_id: wamid.to_owned(),
        client_ip: "whatsapp".to_owned(),
    }
}

/// The parent as the audit trail's actor: no user, their number in place of an email.
fn parent(phone: &str) -> Actor {
    Actor {
        id: None,
        email: Some(format!("whatsapp:{phone}")),
    }
}

async fn audit_failure(
    conn: &mut PgConnection,
    phone: &str,
    wamid: &str,
    why: &str,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    trail::record(
        conn,
        Trail::School,
        &parent(phone),
        &meta(wamid),
        Entry {
            action: "chatbot.link_refused",
            entity: "chatbot_link",
            entity_id: Some(phone.to_owned()),
            changes: json!({"phone": phone, "reason": why}),
        },
        now,
    )
    .await
}

/// Tries to link `phone` in the school the transaction is in.
pub async fn attempt(
    conn: &mut PgConnection,
    school_id: i64,
    phone: &str,
    user_id: Option<&str>,
    proof: &Proof,
    wamid: &str,
    now: DateTime<Utc>,
) -> sqlx::Result<Linked> {
    // Guessing a birth date is what the daily cap stops; a code has its own five tries, so
    // the office's code still gets a parent in after they fumbled the date.
    if matches!(proof, Proof::AdmissionNo { .. }) {
        let failures: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM audit_log
              WHERE action = 'chatbot.link_refused' AND entity_id = $1
                AND changes->>'reason' = $3 AND occurred_at > $2 - interval '1 day'",
        )
        .bind(phone)
        .bind(now)
        .bind(WRONG_DETAILS)
        .fetch_one(&mut *conn)
        .await?;
        if failures >= MAX_FAILURES_PER_DAY {
            return Ok(Linked::TooManyTries);
        }
    }
    let guardians: Vec<(i64, i64)> =
        sqlx::query_as("SELECT id, student_id FROM guardians WHERE phone = $1")
            .bind(phone)
            .fetch_all(&mut *conn)
            .await?;
    if guardians.is_empty() {
        audit_failure(conn, phone, wamid, "not a guardian phone on record", now).await?;
        return Ok(Linked::NotAGuardianPhone);
    }
    let guardian_ids: Vec<i64> = guardians.iter().map(|g| g.0).collect();
    let proven = match proof {
        Proof::Code(secret) => {
            let code: Option<i64> = sqlx::query_scalar(
                "UPDATE chatbot_link_codes SET used_at = $3
                  WHERE id = (SELECT id FROM chatbot_link_codes
                               WHERE guardian_id = ANY($1) AND code_hash = $2 AND used_at IS NULL
                                 AND expires_at > $3 AND tries < $4
                               ORDER BY id DESC LIMIT 1 FOR UPDATE)
                  RETURNING id",
            )
            .bind(&guardian_ids)
            .bind(codes::hash(secret))
            .bind(now)
            .bind(MAX_TRIES)
            .fetch_optional(&mut *conn)
            .await?;
            if code.is_none() {
                // Every live code of this number's guardians loses a try.
                sqlx::query(
                    "UPDATE chatbot_link_codes SET tries = tries + 1
                      WHERE guardian_id = ANY($1) AND used_at IS NULL AND expires_at > $2",
                )
                .bind(&guardian_ids)
                .bind(now)
                .execute(&mut *conn)
                .await?;
            }
            code.is_some()
        }
        Proof::AdmissionNo { admission_no, born } => {
            sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM students s
                   WHERE lower(s.admission_no) = lower($1) AND s.date_of_birth = $2
                     AND s.id = ANY($3))",
            )
            .bind(admission_no)
            .bind(born)
            .bind(guardians.iter().map(|g| g.1).collect::<Vec<i64>>())
            .fetch_one(&mut *conn)
            .await?
        }
    };
    if !proven {
        let why = match proof {
            Proof::Code(_) => WRONG_CODE,
            Proof::AdmissionNo { .. } => WRONG_DETAILS,
        };
        audit_failure(conn, phone, wamid, why, now).await?;
        return Ok(Linked::WrongProof);
    }
    let how = match proof {
        Proof::Code(_) => "link_code",
        Proof::AdmissionNo { .. } => "admission_no_and_birth_date",
    };
    let linked: Vec<(i64, i64, i64)> = sqlx::query_as(
        "INSERT INTO chatbot_links (guardian_id, student_id, wa_phone, wa_user_id, proof, linked_at)
         SELECT DISTINCT ON (g.student_id) g.id, g.student_id, $1, $2, $3, $4
           FROM guardians g JOIN students s ON s.id = g.student_id
          WHERE g.phone = $1 AND s.status = 'active'
            -- A link the school ended comes back only with a code from the office.
            AND ($3 = 'link_code' OR NOT EXISTS (
                  SELECT 1 FROM chatbot_links e WHERE e.student_id = g.student_id
                     AND e.wa_phone = $1 AND e.ended_by IS NOT NULL))
          ORDER BY g.student_id, g.is_primary DESC, g.id
         ON CONFLICT (student_id, wa_phone) WHERE ended_at IS NULL DO NOTHING
         RETURNING id, student_id, guardian_id",
    )
    .bind(phone)
    .bind(user_id)
    .bind(how)
    .bind(now)
    .fetch_all(&mut *conn)
    .await?;
    for (link_id, student_id, guardian_id) in &linked {
        sqlx::query(
            "INSERT INTO public.whatsapp_contacts (wa_phone, school_id, student_id, guardian_id)
             VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        )
        .bind(phone)
        .bind(school_id)
        .bind(student_id)
        .bind(guardian_id)
        .execute(&mut *conn)
        .await?;
        trail::record(
            conn,
            Trail::School,
            &parent(phone),
            &meta(wamid),
            Entry {
                action: "chatbot.linked",
                entity: "chatbot_link",
                entity_id: Some(link_id.to_string()),
                changes: json!({"phone": phone, "student_id": student_id,
                                "guardian_id": guardian_id, "proof": how}),
            },
            now,
        )
        .await?;
    }
    Ok(Linked::Pupils(live_pupils(conn, phone).await?))
}

/// A link still counts only while its number is the guardian's phone on record and the
/// pupil is active (SQL condition on `chatbot_links l`).
pub const STILL_VALID: &str =
    "EXISTS (SELECT 1 FROM guardians g JOIN students s ON s.id = g.student_id
                 WHERE g.id = l.guardian_id AND g.phone = l.wa_phone AND s.status = 'active')";

/// The pupils `phone` is linked to (id, name), by name.
pub async fn live_pupils(conn: &mut PgConnection, phone: &str) -> sqlx::Result<Vec<(i64, String)>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT s.id, s.first_name || ' ' || s.last_name FROM chatbot_links l
           JOIN students s ON s.id = l.student_id
          WHERE l.wa_phone = $1 AND l.ended_at IS NULL AND {STILL_VALID}
          ORDER BY s.first_name, s.last_name, s.id"
    )))
    .bind(phone)
    .fetch_all(conn)
    .await
}

/// Which of a number's live links to end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// Those that no longer hold: the school changed the guardian's phone, or the pupil left.
    Lapsed,
    /// All of them: the number's owner changed number.
    All,
}

/// Ends `phone`'s links (which: `ending`), audited, and takes them off the shared number's
/// contacts.
pub async fn end_links(
    conn: &mut PgConnection,
    school_id: i64,
    phone: &str,
    ending: Ending,
    reason: &str,
    wamid: &str,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    let which = match ending {
        Ending::Lapsed => format!("AND NOT {STILL_VALID}"),
        Ending::All => String::new(),
    };
    let ended: Vec<(i64, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE chatbot_links l SET ended_at = $2, ended_reason = $3
          WHERE l.wa_phone = $1 AND l.ended_at IS NULL {which}
          RETURNING l.id, l.student_id"
    )))
    .bind(phone)
    .bind(now)
    .bind(reason)
    .fetch_all(&mut *conn)
    .await?;
    end_contacts_and_audit(conn, school_id, phone, &ended, reason, wamid, now).await
}

async fn end_contacts_and_audit(
    conn: &mut PgConnection,
    school_id: i64,
    phone: &str,
    ended: &[(i64, i64)],
    reason: &str,
    wamid: &str,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    for (link_id, student_id) in ended {
        sqlx::query(
            "DELETE FROM public.whatsapp_contacts
              WHERE wa_phone = $1 AND school_id = $2 AND student_id = $3",
        )
        .bind(phone)
        .bind(school_id)
        .bind(student_id)
        .execute(&mut *conn)
        .await?;
        trail::record(
            conn,
            Trail::School,
            &parent(phone),
            &meta(wamid),
            Entry {
                action: "chatbot.unlinked",
                entity: "chatbot_link",
                entity_id: Some(link_id.to_string()),
                changes: json!({"phone": phone, "student_id": student_id, "reason": reason}),
            },
            now,
        )
        .await?;
    }
    Ok(())
}
