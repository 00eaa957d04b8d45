//! A thin client of the WhatsApp Cloud API: the calls we need (send a message of any kind,
//! upload media) on reqwest with rustls. The base URL comes from the configuration so tests
//! point it at a local fake.

use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};

/// How long one call may take; past it the outcome is unknown and the message is never
/// resent blindly.
const CALL_TIMEOUT: Duration = Duration::from_secs(20);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Clone)]
pub struct CloudApi {
    http: reqwest::Client,
    base: String,
}

/// What went wrong with a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallError {
    /// WhatsApp answered with an error.
    Api {
        status: u16,
        code: i64,
        title: String,
        details: String,
    },
    /// The request never reached WhatsApp (connection refused, DNS): safe to try again.
    NotSent(String),
    /// The request may have reached WhatsApp (timeout, cut connection, unreadable answer):
    /// whether it was sent is unknown.
    Uncertain(String),
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Api {
                status,
                code,
                title,
                details,
            } => write!(
                f,
                "WhatsApp error {code} (HTTP {status}): {title} {details}"
            ),
            Self::NotSent(e) => write!(f, "not sent: {e}"),
            Self::Uncertain(e) => write!(f, "outcome unknown: {e}"),
        }
    }
}

/// What to do about an error, decided by its code (never by its text).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Remedy {
    /// Throttled, pair rate, or WhatsApp's own trouble: later, with backoff.
    RetryLater,
    /// The 24-hour window is closed: send the template instead.
    UseTemplate,
    /// The person cannot receive (not on WhatsApp, opted out): mark the contact, no retry.
    Undeliverable,
    /// The school's token, number or template is wrong: tell the school, no retry.
    SchoolSetup,
    /// Anything else: recorded as failed.
    GiveUp,
}

impl CallError {
    pub fn code(&self) -> Option<i64> {
        match self {
            Self::Api { code, .. } => Some(*code),
            _ => None,
        }
    }

    pub fn remedy(&self) -> Remedy {
        match self {
            Self::NotSent(_) => Remedy::RetryLater,
            Self::Uncertain(_) => Remedy::GiveUp,
            Self::Api { status, code, .. } => remedy_of(*code, *status),
        }
    }
}

/// The remedy of a Cloud API error code (and HTTP status for WhatsApp's own failures).
pub fn remedy_of(code: i64, status: u16) -> Remedy {
    match code {
        // Cloud API throttled, pair rate limit, WhatsApp's own temporary trouble.
        130429 | 131056 | 131000 | 1 | 2 | 4 | 80007 => Remedy::RetryLater,
        131047 => Remedy::UseTemplate,
        131026 | 131050 => Remedy::Undeliverable,
        190 | 132001 | 131009 | 10 | 200 | 131031 | 132000 | 132005 | 132012 | 132015 | 132016 => {
            Remedy::SchoolSetup
        }
        _ if status >= 500 => Remedy::RetryLater,
        _ => Remedy::GiveUp,
    }
}

#[derive(Deserialize)]
struct SendAnswer {
    messages: Vec<SentId>,
}

#[derive(Deserialize)]
struct SentId {
    id: String,
}

#[derive(Deserialize)]
struct MediaAnswer {
    id: String,
}

#[derive(Deserialize)]
struct ErrorAnswer {
    error: ApiError,
}

#[derive(Deserialize)]
struct ApiError {
    #[serde(default)]
    code: i64,
    #[serde(default)]
    message: String,
    #[serde(default)]
    error_data: Option<ErrorData>,
}

#[derive(Deserialize)]
struct ErrorData {
    #[serde(default)]
    details: String,
}

/// The addressing part of a message: a phone number goes in `to`, a business-scoped user id
/// in `recipient`.
fn addressed(recipient: &str, body: &Value) -> Value {
    let mut message = json!({"messaging_product": "whatsapp", "recipient_type": "individual"});
    if let Some(digits) = recipient.strip_prefix('+') {
        message["to"] = json!(digits);
    } else {
        message["recipient"] = json!(recipient);
    }
    if let (Some(out), Some(fields)) = (message.as_object_mut(), body.as_object()) {
        for (k, v) in fields {
            out.insert(k.clone(), v.clone());
        }
    }
    message
}

impl CloudApi {
    pub fn new(base: &str) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .use_rustls_tls()
            .timeout(CALL_TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            .pool_max_idle_per_host(8)
            .build()?;
        Ok(Self {
            http,
            base: base.trim_end_matches('/').to_owned(),
        })
    }

    /// Sends one message (`body` as in [`super::outbox::Outgoing`]); returns its wamid.
    pub async fn send(
        &self,
        token: &str,
        phone_number_id: &str,
        recipient: &str,
        body: &Value,
    ) -> Result<String, CallError> {
        let url = format!("{}/{}/messages", self.base, phone_number_id);
        let request = self
            .http
            .post(url)
            .bearer_auth(token)
            .json(&addressed(recipient, body));
        let answer: SendAnswer = answer_of(request).await?;
        answer
            .messages
            .into_iter()
            .next()
            .map(|m| m.id)
            .ok_or_else(|| CallError::Uncertain("the answer names no message".into()))
    }

    /// Uploads a file (a report card) and returns its media id.
    pub async fn upload(
        &self,
        token: &str,
        phone_number_id: &str,
        file_name: &str,
        mime: &str,
        bytes: Vec<u8>,
    ) -> Result<String, CallError> {
        let url = format!("{}/{}/media", self.base, phone_number_id);
        let part = reqwest::multipart::Part::bytes(bytes)
            .file_name(file_name.to_owned())
            .mime_str(mime)
            .map_err(|e| CallError::NotSent(e.to_string()))?;
        let form = reqwest::multipart::Form::new()
            .text("messaging_product", "whatsapp")
            .text("type", mime.to_owned())
            .part("file", part);
        let request = self.http.post(url).bearer_auth(token).multipart(form);
        let answer: MediaAnswer = answer_of(request).await?;
        Ok(answer.id)
    }
}

async fn answer_of<T: serde::de::DeserializeOwned>(
    request: reqwest::RequestBuilder,
) -> Result<T, CallError> {
    let response = request.send().await.map_err(|e| {
        if e.is_connect() || e.is_builder() {
            CallError::NotSent(e.to_string())
        } else {
            CallError::Uncertain(e.to_string())
        }
    })?;
    let status = response.status();
    let bytes = response
        .bytes()
        .await
        .map_err(|e| CallError::Uncertain(e.to_string()))?;
    if status.is_success() {
        return serde_json::from_slice(&bytes)
            .map_err(|e| CallError::Uncertain(format!("unreadable answer: {e}")));
    }
    let error = serde_json::from_slice::<ErrorAnswer>(&bytes).ok();
    Err(CallError::Api {
        status: status.as_u16(),
        code: error.as_ref().map_or(0, |e| e.error.code),
        title: error
            .as_ref()
            .map(|e| e.error.message.clone())
            .unwrap_or_else(|| status.to_string()),
        details: error
            .and_then(|e| e.error.error_data)
            .map(|d| d.details)
            .unwrap_or_default(),
    })
}
