//! Wrapped extractors: a malformed body, query or path becomes our 4xx error shape, never
//! axum's plain-text rejection.

use std::net::SocketAddr;

use axum::{
    extract::{
        ConnectInfo, FromRequest, FromRequestParts, Request,
        rejection::{FormRejection, JsonRejection, PathRejection, QueryRejection},
    },
    http::request::Parts,
};
use serde::de::DeserializeOwned;

use crate::{error::AppError, state::AppState};

/// JSON body. Syntax errors are 400, wrong types or unknown fields 422 naming the field.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for ApiJson<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let req = refuse_nul(req, nul_field_in_json).await?;
        if !is_json_content_type(req.headers()) {
            return Err(json_rejection(
                axum::extract::rejection::MissingJsonContentType::default().into(),
            ));
        }
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| json_rejection(e.into()))?;
        // serde reads a struct from an array as well (its fields in order): no client means
        // that, and the schema does not allow it.
        if bytes.trim_ascii_start().starts_with(b"[") && !is_read_from_array::<T>() {
            return Err(AppError::field(
                "non_field_errors",
                "Send a JSON object, not an array.",
            ));
        }
        match axum::Json::<T>::from_bytes(&bytes) {
            Ok(axum::Json(value)) => Ok(Self(value)),
            // JSON (and JSON Schema) count `7.0` as the integer 7; serde does not. Such a
            // body is read again with whole numbers written as integers.
            Err(JsonRejection::JsonDataError(e)) if e.body_text().contains("floating point") => {
                let retried = serde_json::from_slice::<serde_json::Value>(&bytes)
                    .ok()
                    .map(|mut value| {
                        whole_numbers_as_integers(&mut value);
                        serde_json::to_vec(&value).unwrap_or_default()
                    });
                match retried {
                    Some(bytes) => axum::Json::<T>::from_bytes(&bytes)
                        .map(|axum::Json(value)| Self(value))
                        .map_err(json_rejection),
                    None => Err(json_rejection(JsonRejection::JsonDataError(e))),
                }
            }
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

/// A `multipart/form-data` body. Without a proper content type (or its boundary) it is a 415
/// in our error shape, not axum's plain-text 400.
pub struct ApiMultipart(pub axum::extract::Multipart);

impl FromRequest<AppState> for ApiMultipart {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        axum::extract::Multipart::from_request(req, state)
            .await
            .map(Self)
            .map_err(|_| {
                AppError::UnsupportedMediaType(
                    "Send the file as `multipart/form-data` (with its boundary).".into(),
                )
            })
    }
}

/// Whether `T` is a list: only a sequence type reads `[]` (a struct with any field wants it
/// to hold those fields).
fn is_read_from_array<T: DeserializeOwned>() -> bool {
    serde_json::from_slice::<T>(b"[]").is_ok()
}

/// `application/json` or any `+json` type, parameters allowed (as axum's own `Json` accepts).
fn is_json_content_type(headers: &axum::http::HeaderMap) -> bool {
    let Some(value) = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Rewrites floats with no fractional part (within i64) as integers, everywhere in the value.
fn whole_numbers_as_integers(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Number(n) if !n.is_i64() && !n.is_u64() => {
            if let Some(f) = n.as_f64()
                && f.fract() == 0.0
                && f >= i64::MIN as f64
                && f < i64::MAX as f64
            {
                *value = serde_json::Value::from(f as i64);
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(whole_numbers_as_integers),
        serde_json::Value::Object(map) => map.values_mut().for_each(whole_numbers_as_integers),
        _ => {}
    }
}

fn json_rejection(rejection: JsonRejection) -> AppError {
    match rejection {
        JsonRejection::JsonDataError(e) => {
            // serde's message names the field ("unknown field `foo`", "missing field `name`").
            let message = std::error::Error::source(&e)
                .map(|s| s.to_string())
                .unwrap_or_else(|| e.body_text());
            // Drop serde's " at line 1 column 24" position suffix.
            let message = match message.find(" at line ") {
                Some(i) => message[..i].to_owned(),
                None => message,
            };
            let field = field_from_serde_message(&message);
            let mut errors = crate::error::FieldErrors::new();
            errors.insert(field, vec![message.clone()]);
            AppError::Validation {
                detail: format!("The request body does not match the expected shape: {message}"),
                errors,
            }
        }
        JsonRejection::JsonSyntaxError(_) => {
            AppError::BadRequest("The request body is not valid JSON.".into())
        }
        JsonRejection::MissingJsonContentType(_) => AppError::UnsupportedMediaType(
            "Send the request body as JSON with `Content-Type: application/json`.".into(),
        ),
        JsonRejection::BytesRejection(e) => {
            if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                AppError::PayloadTooLarge
            } else {
                AppError::BadRequest("The request body could not be read.".into())
            }
        }
        other => AppError::BadRequest(other.body_text()),
    }
}

/// A page form (`application/x-www-form-urlencoded`). A body that does not fit is our error
/// (rendered as the HTML error page or an htmx message), never axum's plain-text rejection.
pub struct Form<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for Form<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let req = refuse_nul(req, nul_field_in_pairs).await?;
        match axum::Form::<T>::from_request(req, state).await {
            Ok(axum::Form(value)) => Ok(Self(value)),
            Err(rejection) => Err(form_rejection(rejection)),
        }
    }
}

fn form_rejection(rejection: FormRejection) -> AppError {
    match rejection {
        FormRejection::FailedToDeserializeForm(e) => form_field_error(&e, e.body_text()),
        FormRejection::FailedToDeserializeFormBody(e) => form_field_error(&e, e.body_text()),
        FormRejection::InvalidFormContentType(_) => AppError::UnsupportedMediaType(
            "Send the form as `application/x-www-form-urlencoded`.".into(),
        ),
        FormRejection::BytesRejection(e) => {
            if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                AppError::PayloadTooLarge
            } else {
                AppError::BadRequest("The form could not be read.".into())
            }
        }
        other => AppError::BadRequest(other.body_text()),
    }
}

/// A form field that did not deserialize, named when serde names it.
fn form_field_error(e: &dyn std::error::Error, fallback: String) -> AppError {
    let message = e.source().map(|s| s.to_string()).unwrap_or(fallback);
    let field = field_from_serde_message(&message);
    let mut errors = crate::error::FieldErrors::new();
    errors.insert(field, vec![message]);
    AppError::Validation {
        detail: "The form does not fit what this page expects; reload it and try again.".into(),
        errors,
    }
}

/// Picks the field name out of a serde error message, or `non_field_errors`.
fn field_from_serde_message(message: &str) -> String {
    for marker in ["unknown field `", "missing field `"] {
        if let Some(rest) = message.split(marker).nth(1)
            && let Some(name) = rest.split('`').next()
        {
            return name.to_owned();
        }
    }
    // serde_path_to_error style: "field: invalid type ..."
    if let Some((path, _)) = message.split_once(": ")
        && !path.is_empty()
        && !path.contains(' ')
    {
        return path.to_owned();
    }
    "non_field_errors".to_owned()
}

/// Query string; a bad value is 422 naming the parameter when possible.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if let Some(query) = parts.uri.query()
            && let Some(field) = nul_field_in_pairs(query.as_bytes())
        {
            return Err(nul_error(&field));
        }
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(Self(value)),
            Err(QueryRejection::FailedToDeserializeQueryString(e)) => {
                let message = e.body_text();
                let detail = message
                    .trim_start_matches("Failed to deserialize query string: ")
                    .to_owned();
                let field = field_from_serde_message(&detail);
                let mut errors = crate::error::FieldErrors::new();
                errors.insert(field, vec![detail.clone()]);
                Err(AppError::Validation {
                    detail: format!("Invalid query parameters: {detail}"),
                    errors,
                })
            }
            Err(other) => Err(AppError::BadRequest(other.body_text())),
        }
    }
}

/// Path parameters; an id that does not parse is simply not found.
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Self(value)),
            Err(PathRejection::FailedToDeserializePathParams(_)) => Err(AppError::not_found()),
            Err(other) => Err(AppError::Internal(anyhow::anyhow!(
                "path extraction: {}",
                other.body_text()
            ))),
        }
    }
}

// ---- NUL characters ----
//
// PostgreSQL cannot store U+0000 in text, so a NUL anywhere in a request would otherwise
// fail at the database as a 500. Refused here, once, naming the field.

fn nul_error(field: &str) -> AppError {
    AppError::field(
        field,
        "This text contains a NUL character (U+0000), which cannot be stored; remove it.",
    )
}

/// The body (already read in full by `http::body`), checked by `find`, then put back.
async fn refuse_nul(req: Request, find: fn(&[u8]) -> Option<String>) -> Result<Request, AppError> {
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, crate::http::limits::MAX_BODY_BYTES)
        .await
        .map_err(|_| AppError::PayloadTooLarge)?;
    if let Some(field) = find(&bytes) {
        return Err(nul_error(&field));
    }
    Ok(Request::from_parts(parts, axum::body::Body::from(bytes)))
}

/// The field of a JSON document holding a NUL (in a key or a string), as `a.b[2].c`.
fn nul_field_in_json(bytes: &[u8]) -> Option<String> {
    // The cheap test first: JSON can only carry NUL as the escape `\u0000`.
    if !bytes.windows(6).any(|w| w.eq_ignore_ascii_case(b"\\u0000")) {
        return None;
    }
    let value: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    fn walk(value: &serde_json::Value, path: &str) -> Option<String> {
        let name = |p: &str| {
            if p.is_empty() {
                "non_field_errors".to_owned()
            } else {
                p.to_owned()
            }
        };
        match value {
            serde_json::Value::String(s) if s.contains('\0') => Some(name(path)),
            serde_json::Value::Array(items) => items
                .iter()
                .enumerate()
                .find_map(|(i, v)| walk(v, &format!("{path}[{i}]"))),
            serde_json::Value::Object(map) => map.iter().find_map(|(k, v)| {
                let here = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                if k.contains('\0') {
                    Some(name(path))
                } else {
                    walk(v, &here)
                }
            }),
            _ => None,
        }
    }
    walk(&value, "")
}

/// The field of a urlencoded form or query string holding a NUL (`%00`).
fn nul_field_in_pairs(bytes: &[u8]) -> Option<String> {
    if !bytes.windows(3).any(|w| w == b"%00") && !bytes.contains(&0) {
        return None;
    }
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(bytes).ok()?;
    pairs
        .into_iter()
        .find(|(k, v)| k.contains('\0') || v.contains('\0'))
        .map(|(k, _)| k.replace('\0', ""))
        .map(|k| {
            if k.is_empty() {
                "non_field_errors".to_owned()
            } else {
                k
            }
        })
}

/// Who is asking, from where: recorded in audit rows and used for throttling.
#[derive(Clone, Debug)]
pub struct RequestMeta {
    pub request_id: String,
    pub client_ip: String,
}

impl FromRequestParts<AppState> for RequestMeta {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(request_meta(parts, state.config.trust_proxy))
    }
}

/// The address our outermost trusted proxy saw: with `hops` proxies of our own, each appends
/// the address it received from, so the client's is the `hops`-th entry from the right (all
/// `X-Forwarded-For` headers taken as one list). Anything further left came from the client
/// and is never used. None without trusted proxies, or when the list is shorter than the
/// proxies we have (the request did not come through them).
fn forwarded_client(headers: &axum::http::HeaderMap, hops: usize) -> Option<String> {
    if hops == 0 {
        return None;
    }
    let mut entries: Vec<String> = Vec::new();
    for value in headers.get_all("x-forwarded-for") {
        // Bytes a client wrote may not be UTF-8; they are in the part we ignore, but must not
        // make us lose the part our proxy wrote.
        let value = String::from_utf8_lossy(value.as_bytes());
        entries.extend(value.split(',').map(|e| e.trim().to_owned()));
    }
    let entry = entries.get(entries.len().checked_sub(hops)?)?;
    Some(normalise_address(entry))
}

/// `203.0.113.9`, `203.0.113.9:4444`, `[2001:db8::1]:443` or `2001:db8::1` as the bare
/// address; anything else as written (it is still our proxy's entry), bounded in length.
fn normalise_address(entry: &str) -> String {
    if let Ok(ip) = entry.parse::<std::net::IpAddr>() {
        return ip.to_string();
    }
    if let Ok(addr) = entry.parse::<SocketAddr>() {
        return addr.ip().to_string();
    }
    let bare = entry
        .trim_start_matches('[')
        .split(']')
        .next()
        .unwrap_or(entry);
    if let Ok(ip) = bare.parse::<std::net::IpAddr>() {
        return ip.to_string();
    }
    entry.chars().filter(|c| !c.is_control()).take(64).collect()
}

pub fn request_meta(parts: &Parts, trusted_proxies: usize) -> RequestMeta {
    let request_id = parts
        .headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_owned();
    let forwarded = forwarded_client(&parts.headers, trusted_proxies);
    let client_ip = forwarded.unwrap_or_else(|| {
        parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip().to_string())
            .unwrap_or_else(|| "unknown".to_owned())
    });
    RequestMeta {
        request_id,
        client_ip,
    }
}

#[cfg(test)]
mod forwarded_tests {
    use axum::http::{HeaderMap, HeaderValue};

    use crate::http::extract::forwarded_client;

    fn headers(values: &[&'static str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for v in values {
            map.append("x-forwarded-for", HeaderValue::from_static(v));
        }
        map
    }

    #[test]
    fn the_client_is_counted_from_the_right_by_our_own_proxies() {
        let h = headers(&["6.6.6.6, 203.0.113.9", "10.0.0.2"]);
        assert_eq!(forwarded_client(&h, 0), None);
        assert_eq!(forwarded_client(&h, 1).as_deref(), Some("10.0.0.2"));
        assert_eq!(forwarded_client(&h, 2).as_deref(), Some("203.0.113.9"));
        // Fewer entries than proxies: the request did not come through them all.
        assert_eq!(forwarded_client(&h, 4), None);
        // Ports and brackets are dropped; a client's non-UTF-8 bytes on the left change nothing.
        assert_eq!(
            forwarded_client(&headers(&["203.0.113.78:4444"]), 1).as_deref(),
            Some("203.0.113.78")
        );
        assert_eq!(
            forwarded_client(&headers(&["[2001:db8::1]:443"]), 1).as_deref(),
            Some("2001:db8::1")
        );
        let mut h = HeaderMap::new();
        h.append(
            "x-forwarded-for",
            HeaderValue::from_bytes(b"6.6.6.6\xff, 203.0.113.77").unwrap(),
        );
        assert_eq!(forwarded_client(&h, 1).as_deref(), Some("203.0.113.77"));
    }
}
