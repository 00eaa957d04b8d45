//! A school's WhatsApp set-up, from its settings: its own business number (or the platform's
//! shared one), the approved templates of proactive messages, the grace period of absence
//! messages, the problem the last send found, a test message; and what staff may look at:
//! linked parents, recent conversations, delivery failures.
//!
//! The own number's access token is sealed before it is stored and never read back out
//! here: pages and answers only say whether one is saved.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::{FromRow, PgConnection};
use utoipa::ToSchema;

use super::{outbox, sealing};
use crate::{
    audit::trail::diff,
    config::WhatsAppConfig,
    context::SchoolCtx,
    error::{AppError, AppResult, Validator},
    http::ListParams,
    settings,
    students::guardians,
};

/// The school's WhatsApp settings. The access token is never returned.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WhatsAppSettings {
    /// The school's own business number (its phone number id in WhatsApp Manager); null
    /// when the school's messages go out from the platform's shared number.
    #[schema(example = "106540352242922")]
    pub phone_number_id: Option<String>,
    /// The own number as parents dial it (E.164), named in the link-code instructions.
    #[schema(example = "+2348031234567")]
    pub display_phone: Option<String>,
    /// Whether an access token is saved for the own number.
    pub has_access_token: bool,
    /// When the own number was last saved.
    pub number_updated_at: Option<DateTime<Utc>>,
    /// Messages go out from the platform's shared number.
    pub uses_shared_number: bool,
    /// The approved template (its name in WhatsApp Manager) for absence messages.
    #[schema(example = "absence_alert")]
    pub absence_template: String,
    /// The approved template for "results are out" messages.
    #[schema(example = "results_out")]
    pub results_template: String,
    /// The templates' language, e.g. `en` or `en_US`.
    #[schema(example = "en")]
    pub template_language: String,
    /// Minutes a saved unexcused absence waits for a correction before parents hear of it
    /// (the school setting of that name).
    pub absence_grace_minutes: i16,
    /// What the last send found wrong with the number, its token or the templates.
    pub problem: Option<String>,
    /// WhatsApp's error code for it, e.g. 190 for a refused access token.
    pub problem_code: Option<i32>,
    pub problem_at: Option<DateTime<Utc>>,
}

/// Changes to the WhatsApp settings: every field is optional, and one left out is kept.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WhatsAppSettingsInput {
    /// The own number's id (digits); `""` removes the own number, and the school's messages
    /// go out from the shared number again.
    #[schema(example = "106540352242922")]
    pub phone_number_id: Option<String>,
    /// A new access token for the own number; left out or blank keeps the saved one. It is
    /// stored sealed and never returned.
    #[schema(write_only)]
    pub access_token: Option<String>,
    /// The own number as parents dial it; `""` clears it.
    #[schema(example = "+2348031234567")]
    pub display_phone: Option<String>,
    #[schema(pattern = "^[a-z0-9_]{1,512}$")]
    pub absence_template: Option<String>,
    #[schema(pattern = "^[a-z0-9_]{1,512}$")]
    pub results_template: Option<String>,
    #[schema(pattern = "^[a-z]{2,3}(_[A-Z]{2})?$")]
    pub template_language: Option<String>,
    #[schema(minimum = 0, maximum = 1440)]
    pub absence_grace_minutes: Option<i16>,
    /// `true` marks the last problem as fixed: it is cleared.
    pub problem_fixed: Option<bool>,
}

/// A phone to send a test message to.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestMessageInput {
    /// A phone on WhatsApp: `+234 803 123 4567`, or a local number with the school's
    /// country code.
    #[schema(example = "0803 123 4567")]
    pub phone: String,
}

/// A test message, queued.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct QueuedTest {
    /// Its row in the school's outbox (see `/whatsapp/messages/` and `/whatsapp/failures/`).
    pub outbox_id: i64,
    /// E.164.
    pub recipient: String,
    /// The business number that sends it.
    pub phone_number_id: String,
    pub purpose: String,
}

/// The school's own number, if it has one: (phone number id, last saved).
pub async fn own_number(
    conn: &mut PgConnection,
    school_id: i64,
) -> sqlx::Result<Option<(String, DateTime<Utc>)>> {
    sqlx::query_as(
        "SELECT phone_number_id, updated_at FROM public.whatsapp_numbers WHERE school_id = $1",
    )
    .bind(school_id)
    .fetch_optional(conn)
    .await
}

/// The own number as parents dial it, when the school gave it.
pub async fn own_display_phone(
    conn: &mut PgConnection,
    school_id: i64,
) -> sqlx::Result<Option<String>> {
    Ok(
        sqlx::query_scalar(
            "SELECT display_phone FROM public.whatsapp_numbers WHERE school_id = $1",
        )
        .bind(school_id)
        .fetch_optional(conn)
        .await?
        .flatten(),
    )
}

#[derive(FromRow)]
struct ChatbotRow {
    absence_template: String,
    results_template: String,
    template_language: String,
    problem: Option<String>,
    problem_code: Option<i32>,
    problem_at: Option<DateTime<Utc>>,
}

pub async fn load(conn: &mut PgConnection, school_id: i64) -> AppResult<WhatsAppSettings> {
    let row: ChatbotRow = sqlx::query_as(
        "SELECT absence_template, results_template, template_language, problem, problem_code,
                problem_at
           FROM chatbot_settings WHERE id = 1",
    )
    .fetch_one(&mut *conn)
    .await?;
    let grace = settings::db::load(&mut *conn).await?.absence_grace_minutes;
    let own = own_number(conn, school_id).await?;
    let display_phone = own_display_phone(conn, school_id).await?;
    Ok(WhatsAppSettings {
        display_phone,
        has_access_token: own.is_some(),
        uses_shared_number: own.is_none(),
        number_updated_at: own.as_ref().map(|(_, at)| *at),
        phone_number_id: own.map(|(id, _)| id),
        absence_template: row.absence_template,
        results_template: row.results_template,
        template_language: row.template_language,
        absence_grace_minutes: grace,
        problem: row.problem,
        problem_code: row.problem_code,
        problem_at: row.problem_at,
    })
}

/// A template's name as WhatsApp Manager allows it.
pub fn is_template_name(name: &str) -> bool {
    (1..=512).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// A template language code: `en`, `fil`, `en_US`, `pt_BR`.
pub fn is_language(code: &str) -> bool {
    let (lang, region) = match code.split_once('_') {
        Some((l, r)) => (l, Some(r)),
        None => (code, None),
    };
    (2..=3).contains(&lang.len())
        && lang.bytes().all(|b| b.is_ascii_lowercase())
        && region.is_none_or(|r| r.len() == 2 && r.bytes().all(|b| b.is_ascii_uppercase()))
}

fn is_number_id(id: &str) -> bool {
    (5..=30).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_digit())
}

fn is_token_shaped(token: &str) -> bool {
    (20..=2048).contains(&token.len()) && token.bytes().all(|b| b.is_ascii_graphic())
}

/// What an input does to the own number.
enum NumberChange {
    Keep,
    Remove,
    /// A number id (new or the same) and maybe a new token, already sealed.
    Save {
        id: String,
        sealed: Option<Vec<u8>>,
    },
}

/// Checks the own-number part of an input into `v`; returns what to write.
async fn number_change(
    ctx: &mut SchoolCtx,
    config: &WhatsAppConfig,
    input: &WhatsAppSettingsInput,
    current: Option<&str>,
    v: &mut Validator,
) -> AppResult<NumberChange> {
    let id = input.phone_number_id.as_deref().map(str::trim);
    let token = input
        .access_token
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty());
    if id == Some("") {
        return Ok(NumberChange::Remove);
    }
    let Some(id) = id
        .map(str::to_owned)
        .or(token.and(current.map(str::to_owned)))
    else {
        if token.is_some() {
            v.add(
                "phone_number_id",
                "Enter the number's phone number id with its token.",
            );
        }
        return Ok(NumberChange::Keep);
    };
    if !is_number_id(&id) {
        v.add(
            "phone_number_id",
            "Enter the phone number id WhatsApp Manager shows for the number: digits only, e.g. 106540352242922.",
        );
    } else if config.shared_number_id.as_deref() == Some(id.as_str()) {
        v.add(
            "phone_number_id",
            "This is the platform's shared number. Leave the own number empty to use it.",
        );
    } else {
        let taken: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM public.whatsapp_numbers
                             WHERE phone_number_id = $1 AND school_id <> $2)",
        )
        .bind(&id)
        .bind(ctx.school.id)
        .fetch_one(&mut *ctx.tx)
        .await?;
        if taken {
            v.add(
                "phone_number_id",
                "Another school uses this number. Check the id in WhatsApp Manager.",
            );
        }
    }
    let sealed = match token {
        None if current.is_none() => {
            v.add("access_token", "Enter the number's access token.");
            None
        }
        None => None,
        Some(t) if !is_token_shaped(t) => {
            v.add(
                "access_token",
                "Paste the whole access token from WhatsApp Manager (no spaces).",
            );
            None
        }
        Some(t) => match sealing::seal(config.token_key.as_ref(), t) {
            Ok(sealed) => Some(sealed),
            Err(_) => {
                v.add(
                    "access_token",
                    "Access tokens cannot be stored yet: the server has no key to seal them (WHATSAPP_TOKEN_KEY). Ask the platform's operators; nothing was saved.",
                );
                None
            }
        },
    };
    Ok(NumberChange::Save { id, sealed })
}

/// Validates and saves an input; audits the change (never the token: only that it changed).
pub async fn save(
    ctx: &mut SchoolCtx,
    config: &WhatsAppConfig,
    input: &WhatsAppSettingsInput,
) -> AppResult<WhatsAppSettings> {
    let before = load(&mut ctx.tx, ctx.school.id).await?;
    let mut v = Validator::new();
    for (field, value) in [
        ("absence_template", &input.absence_template),
        ("results_template", &input.results_template),
    ] {
        if let Some(name) = value
            && !is_template_name(name.trim())
        {
            v.add(
                field,
                "Write the template's name as in WhatsApp Manager: lower-case letters, digits and _ only, e.g. absence_alert.",
            );
        }
    }
    if let Some(lang) = &input.template_language
        && !is_language(lang.trim())
    {
        v.add(
            "template_language",
            "Write the templates' language code as in WhatsApp Manager, e.g. en or en_US.",
        );
    }
    if let Some(n) = input.absence_grace_minutes
        && !(0..=1440).contains(&n)
    {
        v.add(
            "absence_grace_minutes",
            "Use a number of minutes from 0 to 1440 (a day).",
        );
    }
    let change = number_change(
        ctx,
        config,
        input,
        before.phone_number_id.as_deref(),
        &mut v,
    )
    .await?;
    // The number as dialled: None keeps it, Some("") clears it.
    let display_phone = match input.display_phone.as_deref().map(str::trim) {
        None => None,
        Some("") => Some(None),
        Some(raw) => {
            let country = guardians::country_code(&mut ctx.tx).await?;
            match guardians::normalise_phone(raw, &country) {
                Some(phone) => Some(Some(phone)),
                None => {
                    v.add(
                        "display_phone",
                        "Enter the number as parents dial it, e.g. +234 803 123 4567.",
                    );
                    None
                }
            }
        }
    };
    v.finish()?;

    let token_replaced = matches!(
        change,
        NumberChange::Save {
            sealed: Some(_),
            ..
        }
    );
    match change {
        NumberChange::Keep => {}
        NumberChange::Remove => {
            sqlx::query("DELETE FROM public.whatsapp_numbers WHERE school_id = $1")
                .bind(ctx.school.id)
                .execute(&mut *ctx.tx)
                .await?;
        }
        NumberChange::Save { id, sealed } => {
            sqlx::query(
                "INSERT INTO public.whatsapp_numbers
                        (phone_number_id, school_id, access_token_sealed, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $4)
                 ON CONFLICT (school_id) DO UPDATE SET phone_number_id = EXCLUDED.phone_number_id,
                        access_token_sealed = COALESCE($5, whatsapp_numbers.access_token_sealed),
                        updated_at = EXCLUDED.updated_at",
            )
            .bind(&id)
            .bind(ctx.school.id)
            // A new row always has a token (checked above); an update may keep its own.
            .bind(sealed.clone().unwrap_or_default())
            .bind(ctx.now)
            .bind(sealed)
            .execute(&mut *ctx.tx)
            .await
            .map_err(|e| {
                AppError::from(e).on_constraint(
                    "whatsapp_numbers_pkey",
                    "phone_number_id",
                    "Another school uses this number. Check the id in WhatsApp Manager.",
                )
            })?;
        }
    }
    if let Some(display_phone) = display_phone {
        sqlx::query("UPDATE public.whatsapp_numbers SET display_phone = $2 WHERE school_id = $1")
            .bind(ctx.school.id)
            .bind(display_phone)
            .execute(&mut *ctx.tx)
            .await?;
    }
    sqlx::query(
        "UPDATE chatbot_settings SET absence_template = COALESCE($1, absence_template),
                results_template = COALESCE($2, results_template),
                template_language = COALESCE($3, template_language),
                problem = CASE WHEN $4 THEN NULL ELSE problem END,
                problem_code = CASE WHEN $4 THEN NULL ELSE problem_code END,
                problem_at = CASE WHEN $4 THEN NULL ELSE problem_at END,
                updated_at = $5
          WHERE id = 1",
    )
    .bind(input.absence_template.as_deref().map(str::trim))
    .bind(input.results_template.as_deref().map(str::trim))
    .bind(input.template_language.as_deref().map(str::trim))
    .bind(input.problem_fixed.unwrap_or(false))
    .bind(ctx.now)
    .execute(&mut *ctx.tx)
    .await?;
    if let Some(n) = input.absence_grace_minutes
        && n != before.absence_grace_minutes
    {
        // The school setting itself, saved and audited as the settings page does.
        let grace = settings::db::SettingsInput {
            absence_grace_minutes: Some(n),
            ..Default::default()
        };
        settings::save(ctx, &grace).await?;
    }
    let after = load(&mut ctx.tx, ctx.school.id).await?;
    let view = |s: &WhatsAppSettings| {
        json!({
            "phone_number_id": s.phone_number_id,
            "absence_template": s.absence_template,
            "results_template": s.results_template,
            "template_language": s.template_language,
            "problem": s.problem,
            "problem_code": s.problem_code,
        })
    };
    let mut changes = diff(&view(&before), &view(&after));
    if token_replaced && let Some(fields) = changes.as_object_mut() {
        fields.insert("access_token".into(), json!({"changed": true}));
    }
    if changes.as_object().is_some_and(|c| !c.is_empty()) {
        ctx.audit("update", "whatsapp_settings", 1, changes).await?;
    }
    Ok(after)
}

/// Queues a test message to `phone` from the school's number (its own, else the shared
/// one), with its send job; audited.
pub async fn queue_test_message(
    ctx: &mut SchoolCtx,
    config: &WhatsAppConfig,
    input: &TestMessageInput,
) -> AppResult<QueuedTest> {
    let cc = guardians::country_code(&mut ctx.tx).await?;
    let Some(phone) = guardians::normalise_phone(input.phone.trim(), &cc) else {
        return Err(AppError::field(
            "phone",
            "Enter a phone number such as 0803 123 4567 or +234 803 123 4567.",
        ));
    };
    let sender = match own_number(&mut ctx.tx, ctx.school.id).await? {
        Some((id, _)) => id,
        None => config.shared_number_id.clone().ok_or_else(|| {
            AppError::field(
                "non_field_errors",
                "There is no WhatsApp number to send from: save the school's own number above, or ask the platform's operators to set up the shared number.",
            )
        })?,
    };
    let purpose = format!("test:{}", uuid::Uuid::new_v4());
    let out = outbox::Outgoing {
        purpose: purpose.clone(),
        recipient: phone.clone(),
        phone_number_id: sender.clone(),
        message: Some(outbox::text(&format!(
            "Test message from {} on Schoolyard.",
            ctx.school.name
        ))),
        template: None,
        student_id: None,
        summary: "Test message".to_owned(),
    };
    let schema = ctx.school.schema.to_string();
    let id = outbox::queue(&mut ctx.tx, &schema, &out)
        .await?
        .ok_or_else(|| {
            AppError::Internal(anyhow::anyhow!("a fresh test purpose was queued before"))
        })?;
    ctx.audit(
        "send_test",
        "whatsapp_message",
        id,
        json!({"recipient": phone, "phone_number_id": sender}),
    )
    .await?;
    Ok(QueuedTest {
        outbox_id: id,
        recipient: phone,
        phone_number_id: sender,
        purpose,
    })
}

// ---- what staff look at ----

/// A parent's live link, for the list of linked parents.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct LinkedParent {
    /// The link's id.
    pub id: i64,
    pub guardian_id: i64,
    pub guardian_name: String,
    pub relationship: String,
    pub student_id: i64,
    pub student_name: String,
    pub admission_no: String,
    /// E.164.
    pub wa_phone: String,
    /// `link_code` or `admission_no_and_birth_date`.
    pub proof: String,
    pub linked_at: DateTime<Utc>,
}

/// One message in or out, for the list of recent conversations.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct ChatMessage {
    pub id: i64,
    /// `in` (from a parent) or `out` (to a parent).
    pub direction: String,
    pub wa_phone: String,
    /// One line about it: "Results of Chidi Okafor", "Menu".
    pub summary: String,
    pub created_at: DateTime<Utc>,
}

/// A message of the outbox, with how its delivery went.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct Delivery {
    pub id: i64,
    /// E.164 phone, or a business-scoped user id.
    pub recipient: String,
    /// What it was for: `test:…`, `absence:…`, `reply:…`.
    pub purpose: String,
    /// `pending`, `sending`, `sent`, `delivered`, `read`, `failed`, `uncertain` or `skipped`.
    pub status: String,
    /// WhatsApp's error code, e.g. 131026 (not on WhatsApp).
    pub error_code: Option<i32>,
    pub error_title: Option<String>,
    pub attempts: i16,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    /// When its status last changed (when it failed, for a failure).
    pub updated_at: DateTime<Utc>,
}

impl Delivery {
    /// The kind of message, from its purpose (`absence`, `test`, …).
    pub fn kind(&self) -> &str {
        self.purpose.split(':').next().unwrap_or_default()
    }
}

/// Only the digits of a phone typed as a search, as a LIKE pattern.
pub fn phone_pattern(params: &ListParams) -> Option<String> {
    let digits: String = params
        .search
        .as_deref()
        .unwrap_or_default()
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    // A local number typed with its leading 0 is stored after the country code.
    let digits = digits.trim_start_matches('0');
    (!digits.is_empty()).then(|| format!("%{digits}%"))
}

/// Live links, newest first; `?search=` by guardian, pupil or phone.
pub async fn linked_parents(
    conn: &mut PgConnection,
    params: &ListParams,
) -> AppResult<(Vec<LinkedParent>, i64)> {
    let (limit, offset) = params.limit_offset()?;
    let pattern = params.search_pattern()?;
    let phone = phone_pattern(params);
    let from = "FROM chatbot_links l
        JOIN guardians g ON g.id = l.guardian_id
        JOIN students s ON s.id = l.student_id
       WHERE l.ended_at IS NULL
         AND ($1::text IS NULL OR g.full_name ILIKE $1 OR s.first_name ILIKE $1
              OR s.last_name ILIKE $1 OR s.admission_no ILIKE $1
              OR ($2::text IS NOT NULL AND l.wa_phone LIKE $2))";
    let count: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) {from}")))
        .bind(&pattern)
        .bind(&phone)
        .fetch_one(&mut *conn)
        .await?;
    let rows = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT l.id, l.guardian_id, g.full_name AS guardian_name, g.relationship, l.student_id,
                concat_ws(' ', s.first_name, NULLIF(s.other_names, ''), s.last_name) AS student_name,
                s.admission_no, l.wa_phone, l.proof, l.linked_at
         {from} ORDER BY l.linked_at DESC, l.id DESC LIMIT $3 OFFSET $4"
    )))
    .bind(&pattern)
    .bind(&phone)
    .bind(limit)
    .bind(offset)
    .fetch_all(&mut *conn)
    .await?;
    Ok((rows, count))
}

/// Messages in and out, newest first; `?search=` by phone.
pub async fn messages(
    conn: &mut PgConnection,
    params: &ListParams,
) -> AppResult<(Vec<ChatMessage>, i64)> {
    let (limit, offset) = params.limit_offset()?;
    let phone = phone_pattern(params);
    let filter = "WHERE ($1::text IS NULL OR wa_phone LIKE $1)";
    let count: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT count(*) FROM chatbot_messages {filter}"
    )))
    .bind(&phone)
    .fetch_one(&mut *conn)
    .await?;
    let rows = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT id, direction, wa_phone, summary, created_at FROM chatbot_messages {filter}
          ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3"
    )))
    .bind(&phone)
    .bind(limit)
    .bind(offset)
    .fetch_all(&mut *conn)
    .await?;
    Ok((rows, count))
}

const DELIVERY_COLUMNS: &str = "id, recipient, purpose, status, error_code, error_title, attempts,
        created_at, sent_at, updated_at";

/// Messages WhatsApp refused or whose fate is unknown, latest first; `?search=` by phone.
pub async fn failures(
    conn: &mut PgConnection,
    params: &ListParams,
) -> AppResult<(Vec<Delivery>, i64)> {
    let (limit, offset) = params.limit_offset()?;
    let phone = phone_pattern(params);
    let filter =
        "WHERE status IN ('failed', 'uncertain') AND ($1::text IS NULL OR recipient LIKE $1)";
    let count: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT count(*) FROM whatsapp_outbox {filter}"
    )))
    .bind(&phone)
    .fetch_one(&mut *conn)
    .await?;
    let rows = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {DELIVERY_COLUMNS} FROM whatsapp_outbox {filter}
          ORDER BY updated_at DESC, id DESC LIMIT $2 OFFSET $3"
    )))
    .bind(&phone)
    .bind(limit)
    .bind(offset)
    .fetch_all(&mut *conn)
    .await?;
    Ok((rows, count))
}

/// The latest messages queued, whatever their state, for the settings page.
pub async fn recent_deliveries(conn: &mut PgConnection, n: i64) -> sqlx::Result<Vec<Delivery>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {DELIVERY_COLUMNS} FROM whatsapp_outbox ORDER BY created_at DESC, id DESC LIMIT $1"
    )))
    .bind(n)
    .fetch_all(conn)
    .await
}

/// How many parents' links are live.
pub async fn live_link_count(conn: &mut PgConnection) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT count(*) FROM chatbot_links WHERE ended_at IS NULL")
        .fetch_one(conn)
        .await
}
