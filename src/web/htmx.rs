//! htmx requests and responses, through `axum-htmx`: the one check of whether a request came
//! from htmx, and redirects that work for both plain forms and htmx.

use axum::{
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Redirect, Response},
};
use axum_htmx::{HX_REQUEST, HxRedirect};

/// Whether the request came from htmx (then the handler returns a partial). The one check
/// every handler and layer uses.
pub fn is_htmx(headers: &HeaderMap) -> bool {
    headers.get(HX_REQUEST).is_some_and(|v| v == "true")
}

/// After a successful form post: a normal redirect, or `HX-Redirect` for htmx.
pub fn see_other(headers: &HeaderMap, to: &str) -> Response {
    if is_htmx(headers) {
        (HxRedirect(to.to_owned()), StatusCode::NO_CONTENT).into_response()
    } else {
        Redirect::to(to).into_response()
    }
}
