//! The send job: claims one outbox row (so no second worker or retried job sends it again),
//! chooses the free-form message inside the 24-hour window or the template outside it, paces
//! sending (per number and per parent), calls the Cloud API and records the wamid — or acts
//! on the error by its code. After a timeout the outcome is unknown and nothing is resent.

use std::{collections::HashMap, sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::{FromRow, PgConnection, PgPool};
use tokio::{sync::Mutex, time::Instant};

use super::{
    cloud_api::{CallError, CloudApi, Remedy},
    conversation,
    flows::{self, Published},
    numbers::{self, PLATFORM_SCHEMA},
    replies,
};
use crate::{
    config::WhatsAppConfig,
    db::{self, Db},
    jobs::queue::{self, ChatJob, SendJob, Urgency},
};

/// The 24-hour window, closed a little early: a message queued at 23:59 may be sent after it.
const WINDOW: chrono::Duration = chrono::Duration::hours(23);
/// About one message per 6 s per parent on average, in bursts (a parent going through the
/// menu gets their answers at once): the eleventh message within a minute waits.
const PAIR_BURST: i64 = 10;
const PAIR_SPAN_SECS: i64 = 60;
/// Tries before a message that keeps being throttled is given up.
const MAX_TRIES: i16 = 8;
/// WhatsApp keeps uploaded media for 30 days; reuse an id for less than that.
const MEDIA_REUSE_DAYS: i64 = 25;

/// What the send job needs besides the pool: the configuration, the HTTP client and the
/// per-number pacing shared by every send in this process.
#[derive(Clone)]
pub struct Channel {
    pub config: WhatsAppConfig,
    pub api: CloudApi,
    pacer: Arc<Mutex<HashMap<String, Instant>>>,
}

impl Channel {
    pub fn new(config: WhatsAppConfig) -> anyhow::Result<Self> {
        let api = CloudApi::new(&config.api_base)?;
        Ok(Self {
            config,
            api,
            pacer: Arc::default(),
        })
    }

    /// Waits for this number's next sending slot (`messages_per_second` per number).
    async fn pace(&self, number: &str) {
        let gap = Duration::from_secs(1) / self.config.messages_per_second.max(1);
        let slot = {
            let mut next = self.pacer.lock().await;
            let now = Instant::now();
            let slot = next
                .get(number)
                .copied()
                .filter(|t| *t > now)
                .unwrap_or(now);
            next.insert(number.to_owned(), slot + gap);
            slot
        };
        tokio::time::sleep_until(slot).await;
    }
}

#[derive(Debug, FromRow)]
struct Claimed {
    id: i64,
    purpose: String,
    recipient: String,
    phone_number_id: String,
    message: Option<Value>,
    template: Option<Value>,
    sent_as: Option<String>,
    attempts: i16,
}

/// The sender's view of the chat: its window and whether it may be written to.
#[derive(Debug, FromRow)]
struct ChatState {
    last_inbound_at: Option<DateTime<Utc>>,
    opted_out_at: Option<DateTime<Utc>>,
    undeliverable_at: Option<DateTime<Utc>>,
}

async fn chat_state(
    conn: &mut PgConnection,
    number: &str,
    recipient: &str,
) -> sqlx::Result<Option<ChatState>> {
    sqlx::query_as(
        "SELECT last_inbound_at, opted_out_at, undeliverable_at FROM public.whatsapp_chats
          WHERE phone_number_id = $1 AND (wa_phone = $2 OR wa_user_id = $2)
          ORDER BY wa_phone = $2 DESC LIMIT 1",
    )
    .bind(number)
    .bind(recipient)
    .fetch_optional(conn)
    .await
}

/// A recipient who cannot receive (not on WhatsApp, or opted out of the business).
pub async fn mark_undeliverable(
    conn: &mut PgConnection,
    number: &str,
    recipient: &str,
    code: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO public.whatsapp_chats (phone_number_id, wa_phone, wa_user_id, undeliverable_at, undeliverable_code)
         VALUES ($1, CASE WHEN $2 LIKE '+%' THEN $2 END, CASE WHEN $2 NOT LIKE '+%' THEN $2 END, now(), $3)
         ON CONFLICT DO NOTHING",
    )
    .bind(number)
    .bind(recipient)
    .bind(i32::try_from(code).unwrap_or(0))
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "UPDATE public.whatsapp_chats SET undeliverable_at = now(), undeliverable_code = $3
          WHERE phone_number_id = $1 AND (wa_phone = $2 OR wa_user_id = $2)",
    )
    .bind(number)
    .bind(recipient)
    .bind(i32::try_from(code).unwrap_or(0))
    .execute(conn)
    .await?;
    Ok(())
}

/// What the school's WhatsApp page shows until someone marks it fixed.
pub async fn record_problem(conn: &mut PgConnection, code: i64, title: &str) -> sqlx::Result<()> {
    let what = match code {
        190 => "WhatsApp refused the access token: it expired or was revoked. Enter a new one.",
        132001 => "A message template does not exist or is not approved in this language.",
        131009 => "WhatsApp refused a parameter: check the templates' names and language.",
        _ => "WhatsApp refused the number's set-up.",
    };
    sqlx::query(
        "UPDATE chatbot_settings SET problem = $1, problem_code = $2, problem_at = now() WHERE id = 1",
    )
    .bind(format!("{what} ({title})"))
    .bind(i32::try_from(code).unwrap_or(0))
    .execute(conn)
    .await?;
    Ok(())
}

/// The school a job's schema belongs to (None: the platform's schema), and whether it is
/// active; None when the schema is neither.
async fn known_schema(pool: &PgPool, schema: &str) -> sqlx::Result<Option<(Option<i64>, bool)>> {
    if schema == PLATFORM_SCHEMA {
        return Ok(Some((None, true)));
    }
    let mut conn = pool.acquire().await?;
    Ok(numbers::school_by_schema(&mut conn, schema)
        .await?
        .map(|s| (Some(s.id), s.is_active)))
}

fn backoff(attempts: i16) -> chrono::Duration {
    let secs = 15_i64 << u32::try_from(attempts.clamp(1, 8) - 1).unwrap_or(0);
    chrono::Duration::seconds(secs.min(3600))
}

/// Ends a claimed row without sending it, saying why.
async fn skip(mut tx: db::Tx, id: i64, why: &str) -> anyhow::Result<()> {
    sqlx::query("UPDATE whatsapp_outbox SET status = 'skipped', error_title = $2 WHERE id = $1")
        .bind(id)
        .bind(why)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Puts a claimed row back to wait until `at` (no attempt spent), with a job for then.
async fn postpone(
    mut tx: db::Tx,
    job: &SendJob,
    row: &Claimed,
    at: DateTime<Utc>,
) -> anyhow::Result<()> {
    sqlx::query(
        "UPDATE whatsapp_outbox SET status = 'pending', attempts = attempts - 1, next_attempt_at = $2
          WHERE id = $1",
    )
    .bind(row.id)
    .bind(at)
    .execute(&mut *tx)
    .await?;
    let urgency = super::outbox::urgency_of(&row.purpose);
    queue::push_chat(&mut tx, ChatJob::Send(job.clone()), urgency, Some(at)).await?;
    tx.commit().await?;
    Ok(())
}

pub async fn run_job(
    pool: &Db,
    channel: &Channel,
    job: &SendJob,
    _last_attempt: bool,
) -> anyhow::Result<()> {
    let Some((school_id, active)) = known_schema(pool.main(), &job.schema).await? else {
        anyhow::bail!("send job for unknown schema {:?}", job.schema);
    };
    let mut tx = pool.begin_school(&job.schema).await?;
    // The database's clock throughout: the queue runs jobs by it too.
    let now: DateTime<Utc> = sqlx::query_scalar("SELECT now()")
        .fetch_one(&mut *tx)
        .await?;
    let claimed: Option<Claimed> = sqlx::query_as(
        "UPDATE whatsapp_outbox SET status = 'sending', attempts = attempts + 1, updated_at = $2
          WHERE id = $1 AND status = 'pending' AND next_attempt_at <= $2
          RETURNING id, purpose, recipient, phone_number_id, message, template, sent_as, attempts",
    )
    .bind(job.outbox_id)
    .bind(now)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = claimed else {
        // Sent or being sent: done. Due later: make sure a job runs then.
        let later: Option<(DateTime<Utc>, String)> = sqlx::query_as(
            "SELECT next_attempt_at, purpose FROM whatsapp_outbox WHERE id = $1 AND status = 'pending'",
        )
        .bind(job.outbox_id)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some((at, purpose)) = later {
            let urgency = super::outbox::urgency_of(&purpose);
            queue::push_chat(&mut tx, ChatJob::Send(job.clone()), urgency, Some(at)).await?;
            tx.commit().await?;
        }
        return Ok(());
    };
    if !active {
        return skip(tx, row.id, "The school is disabled.").await;
    }
    let chat = chat_state(&mut tx, &row.phone_number_id, &row.recipient).await?;
    let stopping = row.purpose.starts_with(replies::STOP_PURPOSE);
    let skip_because = chat.as_ref().and_then(|c| {
        if c.opted_out_at.is_some() && !stopping {
            Some("opted out (STOP)")
        } else if c.undeliverable_at.is_some() {
            Some("cannot receive WhatsApp messages")
        } else {
            None
        }
    });
    if let Some(why) = skip_because {
        return skip(tx, row.id, why).await;
    }
    // A message whose send was cut off (a crash mid-call) stays unknown, never resent; one
    // whose jobs all failed before the call is queued again.
    sqlx::query(
        "UPDATE whatsapp_outbox SET status = 'uncertain', updated_at = $3,
                error_title = 'The send was interrupted; whether WhatsApp got it is unknown.'
          WHERE recipient = $1 AND id < $2 AND status = 'sending'
            AND updated_at < $3 - interval '2 minutes'",
    )
    .bind(&row.recipient)
    .bind(row.id)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let stale: Vec<i64> = sqlx::query_scalar(
        "SELECT id FROM whatsapp_outbox
          WHERE recipient = $1 AND id < $2 AND status = 'pending'
            AND next_attempt_at < $3 - interval '2 minutes'",
    )
    .bind(&row.recipient)
    .bind(row.id)
    .bind(now)
    .fetch_all(&mut *tx)
    .await?;
    for outbox_id in stale {
        let again = SendJob {
            schema: job.schema.clone(),
            outbox_id,
        };
        queue::push_chat(&mut tx, ChatJob::Send(again), Urgency::Waiting, None).await?;
    }
    // In order: an earlier message to this person still on its way goes first (one held
    // back for a later retry does not hold the rest).
    let earlier: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM whatsapp_outbox
                         WHERE recipient = $1 AND id < $2
                           AND (status = 'sending'
                                -- due, or held back a moment for its own turn; not one
                                -- waiting out a long retry
                                OR (status = 'pending' AND next_attempt_at <= $3 + interval '5 seconds')))",
    )
    .bind(&row.recipient)
    .bind(row.id)
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    if earlier {
        let at = now + chrono::Duration::seconds(1);
        return postpone(tx, job, &row, at).await;
    }
    // About one message per 6 s per parent.
    let recent: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM whatsapp_outbox
          WHERE recipient = $1 AND sent_at > $2 - make_interval(secs => $3)",
    )
    .bind(&row.recipient)
    .bind(now)
    .bind(PAIR_SPAN_SECS as f64)
    .fetch_one(&mut *tx)
    .await?;
    if recent >= PAIR_BURST {
        let at = now + chrono::Duration::seconds(PAIR_SPAN_SECS / PAIR_BURST);
        return postpone(tx, job, &row, at).await;
    }
    let window_open = chat
        .as_ref()
        .and_then(|c| c.last_inbound_at)
        .is_some_and(|t| now - t < WINDOW);
    let (mut body, sent_as) = match (&row.message, &row.template, row.sent_as.as_deref()) {
        (_, Some(t), Some("template")) => (t.clone(), "template"),
        (Some(m), _, _) if window_open => (m.clone(), "message"),
        (_, Some(t), _) => (t.clone(), "template"),
        (Some(_), None, _) => {
            return skip(
                tx,
                row.id,
                "The 24-hour window closed before it could be sent.",
            )
            .await;
        }
        (None, None, _) => anyhow::bail!("outbox {} has nothing to send", row.id),
    };
    let token = numbers::token(&mut tx, &channel.config, &row.phone_number_id).await;
    // The claim is committed before the call: whatever happens next, no one sends it again.
    tx.commit().await?;
    let token = match token {
        Ok(t) => t,
        Err(e) => {
            let mut tx = pool.begin_school(&job.schema).await?;
            sqlx::query(
                "UPDATE whatsapp_outbox SET status = 'failed', error_title = $2 WHERE id = $1",
            )
            .bind(row.id)
            .bind(e.to_string())
            .execute(&mut *tx)
            .await?;
            record_problem(&mut tx, 190, &e.to_string()).await?;
            tx.commit().await?;
            return Ok(());
        }
    };
    let outcome = async {
        if let Some(card) = body.get("card").cloned() {
            let media = card_media(
                pool,
                channel,
                &job.schema,
                &token,
                &row.phone_number_id,
                &card,
            )
            .await?;
            if let Some(obj) = body.as_object_mut() {
                obj.remove("card");
            }
            body["document"]["id"] = Value::String(media);
        }
        channel.pace(&row.phone_number_id).await;
        channel
            .api
            .send(&token, &row.phone_number_id, &row.recipient, &body)
            .await
    }
    .await;
    match outcome {
        Ok(wamid) => {
            let mut tx = pool.begin_school(&job.schema).await?;
            sqlx::query(
                "UPDATE whatsapp_outbox SET status = 'sent', wamid = $2, sent_as = $3, sent_at = now(),
                        updated_at = now(), error_code = NULL, error_title = NULL
                  WHERE id = $1",
            )
            .bind(row.id)
            .bind(&wamid)
            .bind(sent_as)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO public.whatsapp_sent (wamid, school_id, outbox_id) VALUES ($1, $2, $3)
                 ON CONFLICT DO NOTHING",
            )
            .bind(&wamid)
            .bind(school_id)
            .bind(row.id)
            .execute(&mut *tx)
            .await?;
            if let Some(chat_id) = row
                .purpose
                .strip_prefix("contact-request:")
                .and_then(|rest| rest.split(':').next())
                .and_then(|id| id.parse::<i64>().ok())
            {
                sqlx::query(
                    "UPDATE public.whatsapp_chats SET contact_request_wamid = $2 WHERE id = $1",
                )
                .bind(chat_id)
                .bind(&wamid)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok(())
        }
        Err(error) => {
            let shared =
                channel.config.shared_number_id.as_deref() == Some(row.phone_number_id.as_str());
            failed(pool, shared, job, &row, sent_as, &error).await
        }
    }
}

/// Acts on a refused or lost call, by its code.
async fn failed(
    pool: &Db,
    shared: bool,
    job: &SendJob,
    row: &Claimed,
    sent_as: &str,
    error: &CallError,
) -> anyhow::Result<()> {
    let code = error.code().and_then(|c| i32::try_from(c).ok());
    let title = error.to_string();
    let mut tx = pool.begin_school(&job.schema).await?;
    match error.remedy() {
        Remedy::RetryLater if row.attempts < MAX_TRIES => {
            let at = Utc::now() + backoff(row.attempts);
            sqlx::query(
                "UPDATE whatsapp_outbox SET status = 'pending', next_attempt_at = $2,
                        error_code = $3, error_title = $4, updated_at = now()
                  WHERE id = $1",
            )
            .bind(row.id)
            .bind(at)
            .bind(code)
            .bind(&title)
            .execute(&mut *tx)
            .await?;
            queue::push_chat(
                &mut tx,
                ChatJob::Send(job.clone()),
                super::outbox::urgency_of(&row.purpose),
                Some(at),
            )
            .await?;
        }
        Remedy::UseTemplate if row.template.is_some() && sent_as != "template" => {
            sqlx::query(
                "UPDATE whatsapp_outbox SET status = 'pending', sent_as = 'template',
                        next_attempt_at = now(), error_code = $2, error_title = $3 WHERE id = $1",
            )
            .bind(row.id)
            .bind(code)
            .bind(&title)
            .execute(&mut *tx)
            .await?;
            queue::push_chat(
                &mut tx,
                ChatJob::Send(job.clone()),
                super::outbox::urgency_of(&row.purpose),
                None,
            )
            .await?;
        }
        remedy => {
            let status = if matches!(error, CallError::Uncertain(_)) {
                "uncertain"
            } else {
                "failed"
            };
            sqlx::query(
                "UPDATE whatsapp_outbox SET status = $2, error_code = $3, error_title = $4,
                        updated_at = now() WHERE id = $1",
            )
            .bind(row.id)
            .bind(status)
            .bind(code)
            .bind(&title)
            .execute(&mut *tx)
            .await?;
            match remedy {
                Remedy::Undeliverable => {
                    mark_undeliverable(
                        &mut tx,
                        &row.phone_number_id,
                        &row.recipient,
                        i64::from(code.unwrap_or(0)),
                    )
                    .await?;
                }
                Remedy::SchoolSetup => {
                    // The shared number's token and templates are the platform's to fix.
                    if shared && job.schema != PLATFORM_SCHEMA {
                        conversation::enter(&mut tx, PLATFORM_SCHEMA).await?;
                    }
                    record_problem(&mut tx, i64::from(code.unwrap_or(0)), &title).await?;
                }
                _ => {}
            }
        }
    }
    tx.commit().await?;
    tracing::warn!(outbox = row.id, schema = %job.schema, error = %error, "whatsapp send failed");
    Ok(())
}

/// The media id of a pupil's report card: the stored PDF of the published session, its upload
/// reused while valid and the card unchanged, else uploaded again.
async fn card_media(
    pool: &Db,
    channel: &Channel,
    schema: &str,
    token: &str,
    number: &str,
    card: &Value,
) -> Result<String, CallError> {
    let internal = |e: &dyn std::fmt::Display| CallError::NotSent(format!("report card: {e}"));
    let at = Published {
        exam_session_id: card["exam_session_id"].as_i64().unwrap_or_default(),
        registration: card["registration"].as_i64().unwrap_or_default(),
        academic_class_id: card["academic_class_id"].as_i64().unwrap_or_default(),
    };
    let no_longer = || CallError::Api {
        status: 400,
        code: 0,
        title: "The results are no longer published.".into(),
        details: String::new(),
    };
    let mut tx = pool.begin_school(schema).await.map_err(|e| internal(&e))?;
    let school: String =
        sqlx::query_scalar("SELECT name FROM public.clients WHERE schema_name = $1")
            .bind(schema)
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| internal(&e))?;
    // The card as stored since publishing (rendered and stored on the first request).
    let Some(card) = flows::card_pdf(&mut tx, &school, at)
        .await
        .map_err(|e| internal(&format!("{e:?}")))?
    else {
        return Err(no_longer());
    };
    // Reused while the card is the same: a card rendered again after a correction (a name, a
    // photo) is uploaded again.
    let purpose = format!("card:{}:{}", at.exam_session_id, at.registration);
    let version = hex::encode(Sha256::digest(&card.pdf));
    let reuse: Option<String> = sqlx::query_scalar(
        "SELECT media_id FROM whatsapp_media
          WHERE purpose = $1 AND sha256 = $2 AND uploaded_at > now() - make_interval(days => $3)",
    )
    .bind(&purpose)
    .bind(&version)
    .bind(i32::try_from(MEDIA_REUSE_DAYS).unwrap_or(25))
    .fetch_optional(&mut *tx)
    .await
    .map_err(|e| internal(&e))?;
    tx.commit().await.map_err(|e| internal(&e))?;
    if let Some(id) = reuse {
        return Ok(id);
    }
    let (admission_no, pdf) = (card.admission_no, card.pdf);
    let file_name = format!("{}.pdf", admission_no.replace(['/', '\\', '"', ' '], "-"));
    // An upload that timed out sent nothing to the parent: it may be tried again.
    let media = channel
        .api
        .upload(token, number, &file_name, "application/pdf", pdf)
        .await
        .map_err(|e| match e {
            CallError::Uncertain(why) => CallError::NotSent(why),
            other => other,
        })?;
    let mut tx = pool.begin_school(schema).await.map_err(|e| internal(&e))?;
    sqlx::query(
        "INSERT INTO whatsapp_media (purpose, sha256, media_id, uploaded_at) VALUES ($1, $2, $3, now())
         ON CONFLICT (purpose) DO UPDATE SET sha256 = $2, media_id = $3, uploaded_at = now()",
    )
    .bind(&purpose)
    .bind(&version)
    .bind(&media)
    .execute(&mut *tx)
    .await
    .map_err(|e| internal(&e))?;
    tx.commit().await.map_err(|e| internal(&e))?;
    Ok(media)
}
