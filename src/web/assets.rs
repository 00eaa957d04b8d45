//! Static files compiled into the binary, served with a content-hash cache-buster.

use std::{collections::HashMap, sync::OnceLock};

use axum::{
    Router,
    extract::{Path, Query},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::{error::AppError, state::AppState};

struct Asset {
    bytes: &'static [u8],
    content_type: &'static str,
    hash: String,
}

const FILES: &[(&str, &[u8], &str)] = &[
    (
        "app.css",
        include_bytes!("../../static/app.css"),
        "text/css; charset=utf-8",
    ),
    (
        "app.js",
        include_bytes!("../../static/app.js"),
        "text/javascript; charset=utf-8",
    ),
    (
        "marks.js",
        include_bytes!("../../static/marks.js"),
        "text/javascript; charset=utf-8",
    ),
    (
        "comments.js",
        include_bytes!("../../static/comments.js"),
        "text/javascript; charset=utf-8",
    ),
    (
        "register.js",
        include_bytes!("../../static/register.js"),
        "text/javascript; charset=utf-8",
    ),
    (
        "vendor/htmx.min.js",
        include_bytes!("../../static/vendor/htmx-2.0.11.min.js"),
        "text/javascript; charset=utf-8",
    ),
    (
        "vendor/redoc.standalone.js",
        include_bytes!("../../static/vendor/redoc-2.5.1.standalone.js"),
        "text/javascript; charset=utf-8",
    ),
    (
        "favicon.svg",
        include_bytes!("../../static/favicon.svg"),
        "image/svg+xml",
    ),
];

fn assets() -> &'static HashMap<&'static str, Asset> {
    static ASSETS: OnceLock<HashMap<&'static str, Asset>> = OnceLock::new();
    ASSETS.get_or_init(|| {
        FILES
            .iter()
            .map(|(name, bytes, content_type)| {
                let hash = hex::encode(&Sha256::digest(bytes)[..6]);
                (
                    *name,
                    Asset {
                        bytes,
                        content_type,
                        hash,
                    },
                )
            })
            .collect()
    })
}

/// `/static/<name>?v=<hash>`: the URL changes whenever the file does.
pub fn url(name: &str) -> String {
    match assets().get(name) {
        Some(a) => format!("/static/{name}?v={}", a.hash),
        None => format!("/static/{name}"),
    }
}

#[derive(Deserialize)]
struct Version {
    v: Option<String>,
}

async fn serve(Path(name): Path<String>, Query(version): Query<Version>) -> Response {
    let Some(asset) = assets().get(name.as_str()) else {
        return AppError::NotFound("No such file.".into()).into_response();
    };
    let cache = if version.v.as_deref() == Some(asset.hash.as_str()) {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let mut res = (StatusCode::OK, asset.bytes).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    if let Ok(etag) = HeaderValue::from_str(&format!("\"{}\"", asset.hash)) {
        h.insert(header::ETAG, etag);
    }
    res
}

pub fn static_router() -> Router<AppState> {
    Router::new().route("/static/{*name}", get(serve)).route(
        "/favicon.ico",
        get(|| async { axum::response::Redirect::permanent(&url("favicon.svg")) }),
    )
}
