//! The bot: one inbound message, inside the job's transaction. It keeps the chat (window,
//! STOP/START, a withheld phone), finds the school (the number's own school, or through
//! `whatsapp_contacts` on the shared number), links the parent, and answers the menu.

use chrono::{DateTime, TimeZone, Utc};
use serde_json::{Value, json};
use sqlx::{FromRow, PgConnection};

use super::{
    codes, flows,
    linking::{self, Linked, Proof},
    numbers::{self, Owner, PLATFORM_SCHEMA, School},
    outbox::{self, Outgoing},
    payload::phone_of_wa_id,
    replies::{Replier, clip, list},
};
use crate::{config::WhatsAppConfig, error::AppResult};

#[derive(Debug, Clone, FromRow)]
pub struct Chat {
    pub id: i64,
    pub wa_phone: Option<String>,
    pub wa_user_id: Option<String>,
    pub opted_out_at: Option<DateTime<Utc>>,
    pub chosen_school_id: Option<i64>,
    pub contact_request_wamid: Option<String>,
}

/// What the parent asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Intent {
    Stop,
    Start,
    Menu,
    Results,
    Card,
    Attendance,
    Notices,
    Switch,
    /// Choose another school (a guardian linked at several on the shared number).
    ChangeSchool,
    Child(i64),
    School(i64),
    Text(String),
    /// A voice note, picture or file: we read only text and menu choices.
    Unsupported,
    /// A reaction: nothing to answer.
    Ignore,
}

/// Reads a message: a menu choice (list or button reply), or free text that matches a menu
/// word (or its number).
pub fn intent(message: &Value) -> Intent {
    let kind = message.get("type").and_then(Value::as_str).unwrap_or("");
    let (id, text) = match kind {
        "text" => (None, message.pointer("/text/body").and_then(Value::as_str)),
        "interactive" => (
            message
                .pointer("/interactive/list_reply/id")
                .or_else(|| message.pointer("/interactive/button_reply/id"))
                .and_then(Value::as_str),
            None,
        ),
        "button" => (
            message.pointer("/button/payload").and_then(Value::as_str),
            message.pointer("/button/text").and_then(Value::as_str),
        ),
        // A thumbs-up on our message needs no answer.
        "reaction" => return Intent::Ignore,
        _ => return Intent::Unsupported,
    };
    if let Some(id) = id {
        if let Some(n) = id.strip_prefix("child:").and_then(|n| n.parse().ok()) {
            return Intent::Child(n);
        }
        if let Some(n) = id.strip_prefix("school:").and_then(|n| n.parse().ok()) {
            return Intent::School(n);
        }
        if let Some(word) = id.strip_prefix("menu:") {
            return word_intent(word).unwrap_or(Intent::Menu);
        }
    }
    let text = text.unwrap_or("").trim();
    word_intent(text).unwrap_or_else(|| Intent::Text(text.to_owned()))
}

fn word_intent(text: &str) -> Option<Intent> {
    let lower = text.trim().to_lowercase();
    Some(match lower.trim_end_matches(['.', '!']) {
        "stop" | "unsubscribe" => Intent::Stop,
        "start" | "subscribe" => Intent::Start,
        "menu" | "hi" | "hello" | "help" | "0" => Intent::Menu,
        "results" | "result" | "1" => Intent::Results,
        "report card" | "card" | "report" | "2" => Intent::Card,
        "attendance" | "3" => Intent::Attendance,
        "notices" | "notice" | "4" => Intent::Notices,
        "switch" | "child" | "children" | "switch child" | "5" => Intent::Switch,
        "school" | "schools" | "switch school" | "change school" => Intent::ChangeSchool,
        _ => return None,
    })
}

/// Moves the transaction into a school's schema (or the platform's), transaction-locally.
pub async fn enter(conn: &mut PgConnection, schema: &str) -> sqlx::Result<()> {
    sqlx::query(
        "SELECT set_config('search_path', quote_ident($1) || ', public', true),
                set_config('plan_cache_mode', 'force_generic_plan', true)",
    )
    .bind(schema)
    .execute(conn)
    .await?;
    Ok(())
}

fn message_time(message: &Value) -> DateTime<Utc> {
    message
        .get("timestamp")
        .and_then(Value::as_str)
        .and_then(|t| t.parse::<i64>().ok())
        .and_then(|t| Utc.timestamp_opt(t, 0).single())
        .filter(|t| *t <= Utc::now())
        .unwrap_or_else(Utc::now)
}

/// Records the chat: its window (from the parent's message time), their name and ids.
async fn upsert_chat(
    conn: &mut PgConnection,
    number: &str,
    phone: Option<&str>,
    user_id: Option<&str>,
    name: &str,
    // The parent's message time (opens the 24-hour window); None for a system message.
    at: Option<DateTime<Utc>>,
) -> sqlx::Result<Chat> {
    const RETURNING: &str =
        "RETURNING id, wa_phone, wa_user_id, opted_out_at, chosen_school_id, contact_request_wamid";
    if let Some(phone) = phone {
        if let Some(uid) = user_id {
            // A chat known only by user id until now gains its phone.
            sqlx::query(
                "UPDATE whatsapp_chats SET wa_phone = $3
                  WHERE phone_number_id = $1 AND wa_user_id = $2 AND wa_phone IS NULL
                    AND NOT EXISTS (SELECT 1 FROM whatsapp_chats
                                     WHERE phone_number_id = $1 AND wa_phone = $3)",
            )
            .bind(number)
            .bind(uid)
            .bind(phone)
            .execute(&mut *conn)
            .await?;
        }
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "INSERT INTO whatsapp_chats (phone_number_id, wa_phone, wa_user_id, profile_name, last_inbound_at)
             VALUES ($1, $2, CASE WHEN EXISTS (SELECT 1 FROM whatsapp_chats
                                                WHERE phone_number_id = $1 AND wa_user_id = $3)
                                  THEN NULL ELSE $3 END, $4, $5)
             ON CONFLICT (phone_number_id, wa_phone) DO UPDATE
                SET last_inbound_at = GREATEST(whatsapp_chats.last_inbound_at, excluded.last_inbound_at),
                    profile_name = excluded.profile_name,
                    wa_user_id = COALESCE(whatsapp_chats.wa_user_id, excluded.wa_user_id),
                    -- They wrote to us: they can receive after all.
                    undeliverable_at = CASE WHEN excluded.last_inbound_at IS NULL
                                            THEN whatsapp_chats.undeliverable_at END
             {RETURNING}"
        )))
        .bind(number)
        .bind(phone)
        .bind(user_id)
        .bind(name)
        .bind(at)
        .fetch_one(conn)
        .await
    } else {
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "INSERT INTO whatsapp_chats (phone_number_id, wa_user_id, profile_name, last_inbound_at)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (phone_number_id, wa_user_id) DO UPDATE
                SET last_inbound_at = GREATEST(whatsapp_chats.last_inbound_at, excluded.last_inbound_at),
                    profile_name = excluded.profile_name,
                    undeliverable_at = CASE WHEN excluded.last_inbound_at IS NULL
                                            THEN whatsapp_chats.undeliverable_at END
             {RETURNING}"
        )))
        .bind(number)
        .bind(user_id)
        .bind(name)
        .bind(at)
        .fetch_one(conn)
        .await
    }
}

/// A user's number or business-scoped id changed. The chat (window, STOP) follows the
/// person; their links do not: the new number is not a guardian phone on record, so each
/// school's links end (audited) and the parent links again once the school has the number.
async fn apply_system(
    tx: &mut PgConnection,
    chat: &Chat,
    message: &Value,
    wamid: &str,
) -> AppResult<String> {
    let system = message.get("system").cloned().unwrap_or(Value::Null);
    let kind = system.get("type").and_then(Value::as_str).unwrap_or("");
    let new_user = system.get("user_id").and_then(Value::as_str);
    match kind {
        "user_changed_number" => {
            let (Some(old), Some(new)) = (
                chat.wa_phone.clone(),
                system
                    .get("wa_id")
                    .and_then(Value::as_str)
                    .and_then(phone_of_wa_id),
            ) else {
                return Ok("system: number change without numbers".into());
            };
            sqlx::query(
                "UPDATE whatsapp_chats SET wa_phone = $2, wa_user_id = COALESCE($3, wa_user_id),
                        chosen_school_id = NULL
                  WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM whatsapp_chats o
                    WHERE o.phone_number_id = whatsapp_chats.phone_number_id AND o.wa_phone = $2)",
            )
            .bind(chat.id)
            .bind(&new)
            .bind(new_user)
            .execute(&mut *tx)
            .await?;
            let schools: Vec<(i64, String)> = sqlx::query_as(
                "SELECT DISTINCT c.id, c.schema_name FROM whatsapp_contacts w
                   JOIN clients c ON c.id = w.school_id WHERE w.wa_phone = $1",
            )
            .bind(&old)
            .fetch_all(&mut *tx)
            .await?;
            let now = Utc::now();
            for (school_id, schema) in schools {
                enter(tx, &schema).await?;
                linking::end_links(
                    tx,
                    school_id,
                    &old,
                    linking::Ending::All,
                    "the parent's WhatsApp number changed",
                    wamid,
                    now,
                )
                .await?;
            }
            enter(tx, "public").await?;
            Ok("system: number changed; links ended".into())
        }
        "user_changed_user_id" => {
            if let Some(new_user) = new_user {
                sqlx::query(
                    "UPDATE whatsapp_chats SET wa_user_id = $2 WHERE id = $1
                       AND NOT EXISTS (SELECT 1 FROM whatsapp_chats o
                         WHERE o.phone_number_id = whatsapp_chats.phone_number_id AND o.wa_user_id = $2)",
                )
                .bind(chat.id)
                .bind(new_user)
                .execute(&mut *tx)
                .await?;
            }
            Ok("system: user id changed".into())
        }
        _ => Ok("system: ignored".into()),
    }
}

/// Where the conversation happens.
enum Route {
    School(School),
    /// A guardian in several schools on the shared number, who has not chosen.
    Choose(Vec<School>),
    /// Nobody knows this number yet on the shared number.
    Unlinked,
}

async fn route(
    conn: &mut PgConnection,
    owner: &Owner,
    chat: &Chat,
    phone: &str,
) -> sqlx::Result<Route> {
    if let Owner::School(s) = owner {
        return Ok(Route::School(s.clone()));
    }
    let schools: Vec<School> = sqlx::query_as(
        "SELECT DISTINCT c.id, c.schema_name, c.name, c.code, c.is_active
           FROM whatsapp_contacts w JOIN clients c ON c.id = w.school_id
          WHERE w.wa_phone = $1 ORDER BY c.name, c.id",
    )
    .bind(phone)
    .fetch_all(conn)
    .await?;
    Ok(match schools.as_slice() {
        [] => Route::Unlinked,
        [one] => Route::School(one.clone()),
        many => match many.iter().find(|s| Some(s.id) == chat.chosen_school_id) {
            Some(s) => Route::School(s.clone()),
            None => Route::Choose(schools),
        },
    })
}

/// The phone a contact-info reply shares, when it answers our request.
fn shared_phone(chat: &Chat, message: &Value) -> Option<String> {
    if message.get("type").and_then(Value::as_str) != Some("contacts") {
        return None;
    }
    let asked = chat.contact_request_wamid.as_deref()?;
    // Only the reply to that request: a contact card shared any other way is not the
    // sender's own number.
    if message.pointer("/context/id").and_then(Value::as_str) != Some(asked) {
        return None;
    }
    let contact = message.get("contacts")?.as_array()?.first()?;
    if contact.get("origin").and_then(Value::as_str) != Some("contact_request") {
        return None;
    }
    let phone = contact.get("phones")?.as_array()?.first()?;
    // The WhatsApp id, not the free-text number of the card.
    phone
        .get("wa_id")
        .and_then(Value::as_str)
        .and_then(phone_of_wa_id)
}

/// Handles one stored inbound message; returns what happened, for the inbound row.
pub async fn handle(
    tx: &mut PgConnection,
    config: &WhatsAppConfig,
    number: &str,
    wamid: &str,
    body: &Value,
) -> AppResult<String> {
    let now = Utc::now();
    let Some(owner) = numbers::owner(tx, config, number).await? else {
        return Ok("ignored: unknown number".into());
    };
    let message = body.get("message").cloned().unwrap_or(Value::Null);
    let contact = body.get("contact").cloned().unwrap_or(Value::Null);
    let from_phone = message
        .get("from")
        .and_then(Value::as_str)
        .and_then(phone_of_wa_id);
    let user_id = message
        .get("from_user_id")
        .or_else(|| contact.get("user_id"))
        .and_then(Value::as_str);
    let name = contact
        .pointer("/profile/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    let system = message.get("type").and_then(Value::as_str) == Some("system");
    let mut chat = upsert_chat(
        tx,
        number,
        from_phone.as_deref(),
        user_id,
        name,
        (!system).then(|| message_time(&message)),
    )
    .await?;
    if system {
        return apply_system(tx, &chat, &message, wamid).await;
    }
    let mut intent = intent(&message);
    if chat.wa_phone.is_none()
        && let Some(phone) = shared_phone(&chat, &message)
    {
        let taken: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM whatsapp_chats WHERE phone_number_id = $1 AND wa_phone = $2)",
        )
        .bind(number)
        .bind(&phone)
        .fetch_one(&mut *tx)
        .await?;
        if taken {
            // The number already has its chat: this user id joins it.
            sqlx::query("DELETE FROM whatsapp_chats WHERE id = $1")
                .bind(chat.id)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "UPDATE whatsapp_chats SET wa_user_id = $3, contact_request_wamid = NULL,
                        opted_out_at = COALESCE(opted_out_at, $4)
                  WHERE phone_number_id = $1 AND wa_phone = $2",
            )
            .bind(number)
            .bind(&phone)
            .bind(user_id)
            .bind(chat.opted_out_at)
            .execute(&mut *tx)
            .await?;
        } else {
            sqlx::query(
                "UPDATE whatsapp_chats SET wa_phone = $2, contact_request_wamid = NULL WHERE id = $1",
            )
            .bind(chat.id)
            .bind(&phone)
            .execute(&mut *tx)
            .await?;
        }
        chat.wa_phone = Some(phone);
        intent = Intent::Menu;
    }
    let recipient = chat
        .wa_phone
        .clone()
        .or_else(|| chat.wa_user_id.clone())
        .unwrap_or_default();
    let home = match &owner {
        Owner::School(s) => s.schema_name.clone(),
        Owner::Shared => PLATFORM_SCHEMA.to_owned(),
    };
    let mut reply = Replier {
        schema: home.clone(),
        number: number.to_owned(),
        recipient,
        wamid: wamid.to_owned(),
        sent: 0,
    };

    match intent {
        Intent::Ignore => return Ok("ignored: reaction".into()),
        Intent::Stop => {
            sqlx::query("UPDATE whatsapp_chats SET opted_out_at = $2 WHERE id = $1")
                .bind(chat.id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            enter(tx, &home).await?;
            reply
                .stopped(
                    tx,
                    "You will get no more messages from us on WhatsApp. Send START at any time to \
                     hear from us again.",
                )
                .await?;
            return Ok("stopped".into());
        }
        Intent::Start => {
            sqlx::query(
                "UPDATE whatsapp_chats SET opted_out_at = NULL, undeliverable_at = NULL WHERE id = $1",
            )
            .bind(chat.id)
            .execute(&mut *tx)
            .await?;
            chat.opted_out_at = None;
            intent = Intent::Menu;
        }
        _ if chat.opted_out_at.is_some() => return Ok("ignored: opted out".into()),
        _ => {}
    }

    let Some(phone) = chat.wa_phone.clone() else {
        // WhatsApp gave only a business-scoped user id: ask for the number, and accept only
        // the reply to this request.
        enter(tx, &home).await?;
        let out = Outgoing {
            purpose: format!("contact-request:{}:{}", chat.id, wamid),
            recipient: reply.recipient.clone(),
            phone_number_id: number.to_owned(),
            message: Some(json!({
                "type": "interactive",
                "interactive": {
                    "type": "request_contact_info",
                    "body": {"text": "To show you your child's school records we need your phone number. Please tap the button to share it."},
                    "action": {"name": "request_contact_info"}
                }
            })),
            template: None,
            student_id: None,
            summary: "Asked for their phone number".into(),
        };
        outbox::queue(tx, &home, &out).await?;
        return Ok("asked for the phone number".into());
    };

    if intent == Intent::ChangeSchool {
        sqlx::query("UPDATE whatsapp_chats SET chosen_school_id = NULL WHERE id = $1")
            .bind(chat.id)
            .execute(&mut *tx)
            .await?;
        chat.chosen_school_id = None;
        intent = Intent::Menu;
    }
    // On the shared number a link code or the other proof names its school, so a parent
    // linked at one school can link at another.
    let typed = match &intent {
        Intent::Text(t) => t.clone(),
        _ => String::new(),
    };
    let named_code = match owner {
        Owner::Shared => codes::parse(&typed)
            .and_then(|c| c.school_code)
            .or_else(|| linking::parse_admission(&typed, true).and_then(|(s, _)| s)),
        Owner::School(_) => None,
    };
    let named = match &named_code {
        Some(code) => numbers::school_by_code(tx, code).await?,
        None => None,
    };
    let school = if let Some(s) = named {
        sqlx::query("UPDATE whatsapp_chats SET chosen_school_id = $2 WHERE id = $1")
            .bind(chat.id)
            .bind(s.id)
            .execute(&mut *tx)
            .await?;
        s
    } else {
        match route(tx, &owner, &chat, &phone).await? {
            Route::School(s) => s,
            Route::Choose(schools) => {
                if let Intent::School(id) = intent
                    && let Some(s) = schools.iter().find(|s| s.id == id)
                {
                    sqlx::query("UPDATE whatsapp_chats SET chosen_school_id = $2 WHERE id = $1")
                        .bind(chat.id)
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                    intent = Intent::Menu;
                    s.clone()
                } else {
                    enter(tx, PLATFORM_SCHEMA).await?;
                    let rows: Vec<Value> = schools
                    .iter()
                    .take(10)
                    .map(|s| json!({"id": format!("school:{}", s.id), "title": clip(&s.name, 24)}))
                    .collect();
                    reply
                    .say(
                        tx,
                        list(
                            "Your number is linked at more than one school. Which school would you like?",
                            "Choose school",
                            rows,
                        ),
                        "Asked which school",
                        None,
                    )
                    .await?;
                    return Ok("asked which school".into());
                }
            }
            Route::Unlinked => {
                enter(tx, PLATFORM_SCHEMA).await?;
                let body = if named_code.is_some() {
                    format!("We could not find that school. {LINK_PROMPT_SHARED}")
                } else {
                    LINK_PROMPT_SHARED.to_owned()
                };
                reply.text(tx, &body).await?;
                return Ok("asked to link (shared number)".into());
            }
        }
    };

    if !school.is_active {
        enter(tx, &home).await?;
        reply
            .text(
                tx,
                "This school's service is paused. Please contact the school office.",
            )
            .await?;
        return Ok("school inactive".into());
    }
    enter(tx, &school.schema_name).await?;
    reply.schema = school.schema_name.clone();
    sqlx::query(
        "INSERT INTO chatbot_messages (direction, wa_phone, summary) VALUES ('in', $1, $2)",
    )
    .bind(&phone)
    .bind(clip(&describe(&message), 120))
    .execute(&mut *tx)
    .await?;

    linking::end_links(
        tx,
        school.id,
        &phone,
        linking::Ending::Lapsed,
        "the number is no longer a guardian phone on record",
        wamid,
        now,
    )
    .await?;
    let mut pupils = linking::live_pupils(tx, &phone).await?;
    let own_number = matches!(owner, Owner::School(_));
    let proof = codes::parse(&typed)
        .filter(|c| {
            c.school_code
                .as_deref()
                .is_none_or(|s| s.eq_ignore_ascii_case(&school.code))
        })
        .map(|c| Proof::Code(c.secret))
        .or_else(|| {
            linking::parse_admission(&typed, !own_number)
                .or_else(|| linking::parse_admission(&typed, own_number))
                .map(|(_, p)| p)
        });
    // Not linked yet, or linked and proving another child (one added since).
    if pupils.is_empty() || proof.is_some() {
        let Some(proof) = proof else {
            let body = format!(
                "Welcome to {}. To see your child's results, attendance and notices here, send \
                 the link code the school office gave you (like {}-7K4P-9QX2), or your child's \
                 admission number and date of birth (like {}2024/001 14/05/2013).",
                school.name,
                school.code.to_uppercase(),
                if own_number {
                    String::new()
                } else {
                    format!("{} ", school.code.to_uppercase())
                }
            );
            reply.text(tx, &body).await?;
            return Ok("asked to link".into());
        };
        match linking::attempt(
            tx,
            school.id,
            &phone,
            chat.wa_user_id.as_deref(),
            &proof,
            wamid,
            now,
        )
        .await?
        {
            Linked::Pupils(linked) if !linked.is_empty() => {
                pupils = linked;
                let names: Vec<&str> = pupils.iter().map(|p| p.1.as_str()).collect();
                reply
                    .text(
                        tx,
                        &format!(
                            "Thank you. This number is now linked to {} at {}.",
                            and_list(&names),
                            school.name
                        ),
                    )
                    .await?;
                intent = Intent::Menu;
            }
            Linked::Pupils(_) => {
                reply
                    .text(tx, "We found no pupil at the school for this number. Please contact the school office.")
                    .await?;
                return Ok("link: no pupils".into());
            }
            Linked::NotAGuardianPhone => {
                reply
                    .text(
                        tx,
                        "This WhatsApp number is not on the school's records as a parent's number. \
                         Please ask the school office to add it, then try again.",
                    )
                    .await?;
                return Ok("link refused: not a guardian phone".into());
            }
            Linked::WrongProof if !pupils.is_empty() => {
                let names: Vec<&str> = pupils.iter().map(|p| p.1.as_str()).collect();
                reply
                    .text(
                        tx,
                        &format!(
                            "This number is already linked to {}. That code or those details \
                             link no one else: for another child, ask the school office for a \
                             new code. Send MENU for the menu.",
                            and_list(&names)
                        ),
                    )
                    .await?;
                return Ok("link refused: already linked".into());
            }
            Linked::WrongProof => {
                reply
                    .text(
                        tx,
                        "We could not match that with the school's records. Check the code, or \
                         the admission number and date of birth (like 14/05/2013), and try \
                         again. The school office can give you a new code.",
                    )
                    .await?;
                return Ok("link refused: wrong proof".into());
            }
            Linked::TooManyTries => {
                reply
                    .text(
                        tx,
                        "Too many attempts today. Please try again tomorrow or contact the school office.",
                    )
                    .await?;
                return Ok("link refused: too many tries".into());
            }
        }
    }

    // The child being looked at.
    let mut current: Option<i64> = sqlx::query_scalar(
        "SELECT current_student_id FROM chatbot_conversations WHERE wa_phone = $1",
    )
    .bind(&phone)
    .fetch_optional(&mut *tx)
    .await?
    .flatten();
    if let Intent::Child(id) = intent
        && pupils.iter().any(|p| p.0 == id)
    {
        current = Some(id);
        intent = Intent::Menu;
    }
    let current = match current.filter(|c| pupils.iter().any(|p| p.0 == *c)) {
        Some(c) => c,
        None => pupils.first().map(|p| p.0).unwrap_or_default(),
    };
    sqlx::query(
        "INSERT INTO chatbot_conversations (wa_phone, current_student_id, updated_at) VALUES ($1, $2, $3)
         ON CONFLICT (wa_phone) DO UPDATE SET current_student_id = $2, updated_at = $3",
    )
    .bind(&phone)
    .bind(current)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let child = pupils
        .iter()
        .find(|p| p.0 == current)
        .map(|p| p.1.clone())
        .unwrap_or_default();
    let ctx = flows::Asked {
        school: &school,
        student_id: current,
        child: &child,
        number,
        purpose_base: reply.purpose("card"),
        recipient: reply.recipient.clone(),
    };
    match intent {
        Intent::Results => flows::results(tx, &mut reply, &ctx).await?,
        Intent::Card => flows::card(tx, &mut reply, &ctx).await?,
        Intent::Attendance => flows::attendance(tx, &mut reply, &ctx).await?,
        Intent::Notices => flows::notices(tx, &mut reply, &ctx).await?,
        Intent::Unsupported => {
            reply
                .text(
                    tx,
                    "We can only read text messages here. For anything else, please contact the \
                     school office. Send MENU for the menu.",
                )
                .await?;
        }
        Intent::Switch if pupils.len() > 1 => {
            let rows: Vec<Value> = pupils
                .iter()
                .take(10)
                .map(|p| json!({"id": format!("child:{}", p.0), "title": clip(&p.1, 24)}))
                .collect();
            reply
                .say(
                    tx,
                    list("Which child?", "Choose child", rows),
                    "Asked which child",
                    None,
                )
                .await?;
        }
        _ => {
            let mut rows = vec![
                json!({"id": "menu:results", "title": "1. Results", "description": "The latest published results"}),
                json!({"id": "menu:card", "title": "2. Report card", "description": "The report card as a PDF"}),
                json!({"id": "menu:attendance", "title": "3. Attendance", "description": "This term and latest absences"}),
                json!({"id": "menu:notices", "title": "4. Notices", "description": "The school's notices"}),
            ];
            if pupils.len() > 1 {
                rows.push(json!({"id": "menu:switch", "title": "5. Switch child", "description": "See another child"}));
            }
            let several_schools: bool = matches!(owner, Owner::Shared)
                && sqlx::query_scalar::<_, i64>(
                    "SELECT count(DISTINCT school_id) FROM public.whatsapp_contacts WHERE wa_phone = $1",
                )
                .bind(&phone)
                .fetch_one(&mut *tx)
                .await?
                    > 1;
            let school_hint = if several_schools {
                " Send SCHOOL to change school."
            } else {
                ""
            };
            reply
                .say(
                    tx,
                    list(
                        &format!(
                            "{} at {}. What would you like to see?{school_hint} (Send STOP to \
                             stop messages.)",
                            child, school.name
                        ),
                        "Menu",
                        rows,
                    ),
                    "Menu",
                    Some(current),
                )
                .await?;
        }
    }
    Ok("answered".into())
}

const LINK_PROMPT_SHARED: &str = "Welcome to Schoolyard. To see your child's results, \
    attendance and notices here, send the link code your school office gave you (it starts \
    with your school's code, like KINGS-7K4P-9QX2). Or send your school's code, your child's \
    admission number and date of birth (like KINGS 2024/001 14/05/2013); the school office \
    can tell you the school's code.";

/// "A", "A and B", "A, B and C".
pub fn and_list(names: &[&str]) -> String {
    match names {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// One line describing an inbound message for the staff page.
fn describe(message: &Value) -> String {
    match message.get("type").and_then(Value::as_str).unwrap_or("") {
        "text" => {
            let text = message
                .pointer("/text/body")
                .and_then(Value::as_str)
                .unwrap_or("");
            // A link code or a child's birth date is not for the staff's list.
            if codes::parse(text).is_some() {
                "Sent a link code".to_owned()
            } else if linking::parse_admission(text, true).is_some()
                || linking::parse_admission(text, false).is_some()
            {
                "Sent a pupil's admission number and date of birth".to_owned()
            } else {
                text.to_owned()
            }
        }
        "interactive" => format!(
            "Chose {}",
            message
                .pointer("/interactive/list_reply/title")
                .or_else(|| message.pointer("/interactive/button_reply/title"))
                .and_then(Value::as_str)
                .unwrap_or("an option")
        ),
        "contacts" => "Shared their phone number".to_owned(),
        "image" | "document" | "video" => format!(
            "Sent a {} {}",
            message
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or("file"),
            message
                .pointer(&format!(
                    "/{}/caption",
                    message.get("type").and_then(Value::as_str).unwrap_or("")
                ))
                .and_then(Value::as_str)
                .map(|c| format!("captioned \"{c}\""))
                .unwrap_or_default()
        )
        .trim()
        .to_owned(),
        other => format!("Sent a message of type {other}"),
    }
}
