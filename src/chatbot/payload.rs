//! Reading what Meta posts to the webhook: an envelope of entries, each with changes, each
//! with `metadata.phone_number_id`, `contacts`, `messages` and `statuses`. Read leniently
//! (fields come and go between API versions); each message and each status becomes one item
//! to store, keyed so that a redelivery is recognised.

use serde_json::{Value, json};

/// One thing to store and process.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// The message's wamid, or `status:<wamid>:<status>` for a delivery status.
    pub dedupe_key: String,
    pub kind: ItemKind,
    pub phone_number_id: String,
    /// The sender (a message) or the recipient (a status): `+<digits>` when WhatsApp gave a
    /// phone number, else the business-scoped user id.
    pub chat_key: String,
    /// `{"metadata": …, "contact": …, "message": …}` or `{"metadata": …, "status": …}`.
    pub body: Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemKind {
    Message,
    Status,
}

impl ItemKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Message => "message",
            Self::Status => "status",
        }
    }
}

fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// A WhatsApp id (digits, as Meta writes phone numbers) as E.164.
pub fn phone_of_wa_id(wa_id: &str) -> Option<String> {
    let digits = wa_id.trim().trim_start_matches('+');
    (digits.len() >= 7 && digits.len() <= 15 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| format!("+{digits}"))
}

fn array<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// Every message and status in a webhook body. None when the body is not a WhatsApp
/// Business Account notification at all.
pub fn items(body: &Value) -> Option<Vec<Item>> {
    if body.get("object").and_then(Value::as_str) != Some("whatsapp_business_account") {
        return None;
    }
    let mut out = Vec::new();
    for entry in array(body, "entry") {
        for change in array(entry, "changes") {
            if change
                .get("field")
                .and_then(Value::as_str)
                .is_some_and(|f| f != "messages")
            {
                continue;
            }
            let Some(value) = change.get("value") else {
                continue;
            };
            let metadata = value.get("metadata").cloned().unwrap_or(Value::Null);
            let Some(number) = text(&metadata, "phone_number_id") else {
                continue;
            };
            let contacts = array(value, "contacts");
            for message in array(value, "messages") {
                let Some(wamid) = text(message, "id") else {
                    continue;
                };
                let phone = text(message, "from").and_then(|f| phone_of_wa_id(&f));
                let user_id = text(message, "from_user_id");
                let Some(chat_key) = phone.clone().or_else(|| user_id.clone()) else {
                    continue;
                };
                // The contact this message came from (matched by phone or user id).
                let contact = contacts
                    .iter()
                    .find(|c| {
                        let wa = text(c, "wa_id").and_then(|w| phone_of_wa_id(&w));
                        (phone.is_some() && wa == phone)
                            || (user_id.is_some() && text(c, "user_id") == user_id)
                    })
                    .cloned()
                    .unwrap_or(Value::Null);
                out.push(Item {
                    dedupe_key: wamid,
                    kind: ItemKind::Message,
                    phone_number_id: number.clone(),
                    chat_key,
                    body: json!({"metadata": metadata, "contact": contact, "message": message}),
                });
            }
            for status in array(value, "statuses") {
                let (Some(wamid), Some(state)) = (text(status, "id"), text(status, "status"))
                else {
                    continue;
                };
                // Statuses of one message are applied in order; they need no order with
                // anything else.
                let chat_key = format!("status:{wamid}");
                out.push(Item {
                    dedupe_key: format!("status:{wamid}:{state}"),
                    kind: ItemKind::Status,
                    phone_number_id: number.clone(),
                    chat_key,
                    body: json!({"metadata": metadata, "status": status}),
                });
            }
        }
    }
    Some(out)
}
