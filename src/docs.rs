//! OpenAPI document at `/api/schema/`, Swagger UI at `/api/docs/`, ReDoc at `/api/redoc/`,
//! all served from the binary.

use axum::http::{HeaderName, Method, header};
use axum::{
    Json, Router,
    response::{Html, Redirect},
    routing::get,
};
use serde_json::Value;
use tower_http::cors::{AllowOrigin, CorsLayer};
use utoipa::openapi::{
    ContentBuilder, OpenApi, Ref, RefOr, Response, ResponseBuilder,
    path::ParameterIn,
    security::{
        ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
    },
    server::{Server, ServerBuilder, ServerVariableBuilder},
};
use utoipa_swagger_ui::SwaggerUi;

use crate::{config::Config, state::AppState, web::assets};

pub fn finish(mut openapi: OpenApi, config: &Config) -> OpenApi {
    openapi.info.title = "Schoolyard API".to_owned();
    openapi.info.version = env!("CARGO_PKG_VERSION").to_owned();
    // utoipa fills these from its own crate metadata otherwise.
    openapi.info.contact = None;
    openapi.info.license = None;
    openapi.info.description = Some(
        "Multi-tenant school management. The system API (`/api/v1/system/`) is for platform \
         users; the school API (`/api/v1/school/`) runs in the school found from the token, \
         the `X-Schema-Name` header (platform superadmins) or the host. Integrations send an \
         API key the platform issued for one school as `X-API-Key` instead of a token: it \
         works on the school API only, in its own school only, with its scopes only (with a \
         token as well, the token is used and the key ignored). Errors \
         share one shape: `{status_code, code, detail, errors}`. Text may not contain the \
         character U+0000 (a 422 names the field).\n\n\
         **Finding a school's address.** Every school has its own address: \
         `<school code>.<main domain>` (for example `greenwood.example.com`), or a domain \
         of its own. The school office gives it to staff; a mobile app asks for it once, \
         signs in there (`POST /api/v1/school/auth/login`) and may then send every school \
         request to that address or to the main address, since the token names its school. \
         In Swagger UI, choose the second server and fill in the school's code to try the \
         school API at its address."
            .to_owned(),
    );
    let components = openapi.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("JWT")
                .build(),
        ),
    );
    components.add_security_scheme(
        "api_key",
        SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-API-Key"))),
    );
    // Every school operation that takes a token takes an API key instead.
    for (path, item) in openapi.paths.paths.iter_mut() {
        if !path.starts_with("/api/v1/school/") || path.starts_with("/api/v1/school/auth/") {
            continue;
        }
        for op in [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.patch,
            &mut item.delete,
        ]
        .into_iter()
        .flatten()
        {
            if let Some(security) = op.security.as_mut() {
                security.push(SecurityRequirement::new("api_key", Vec::<String>::new()));
            }
        }
    }
    document_common_answers(&mut openapi);
    openapi.servers = Some(servers(config));
    let mut openapi = require_on_create(openapi);
    let components = openapi.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "schema_name",
        SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-Schema-Name"))),
    );
    openapi
}

/// This address, or a school's own (Swagger UI shows a picker).
fn servers(config: &Config) -> Vec<Server> {
    let scheme = if config.secure_cookies {
        "https"
    } else {
        "http"
    };
    vec![
        ServerBuilder::new()
            .url("/")
            .description(Some(
                "This address (at the main address, the school API runs in the token's school)",
            ))
            .build(),
        ServerBuilder::new()
            .url("{scheme}://{school}.{domain}")
            .description(Some("A school's address"))
            .parameter(
                "scheme",
                ServerVariableBuilder::new()
                    .default_value(scheme)
                    .enum_values(Some(["https", "http"])),
            )
            .parameter(
                "school",
                ServerVariableBuilder::new()
                    .default_value("greenwood")
                    .description(Some("The school's code")),
            )
            .parameter(
                "domain",
                ServerVariableBuilder::new()
                    .default_value(config.main_domain.clone())
                    .description(Some("The main domain, with `:port` when not 80 or 443")),
            )
            .build(),
    ]
}

/// Lets pages at the main address (Swagger UI and ReDoc) call the API at a school's address.
/// Bearer tokens and API keys only: no cookies cross, so no credentials are allowed.
pub fn cors_from_main_domain(config: &Config) -> CorsLayer {
    let main = config.main_domain.clone();
    CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(move |origin, _| {
            origin
                .to_str()
                .ok()
                .and_then(|o| o.split_once("://"))
                .map(|(_, host)| host.split(':').next().unwrap_or_default() == main)
                .unwrap_or(false)
        }))
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            HeaderName::from_static("x-api-key"),
            HeaderName::from_static("x-schema-name"),
        ])
        .max_age(std::time::Duration::from_secs(600))
}

/// Fields a create (or a full replacement) must carry. The input types are shared by create
/// and update, so in Rust every field is optional (an update may leave any out) and the
/// handler answers a missing one with "This field is required." — but a client reading the
/// schema must see that rule. These operations get a copy of their body's schema, named
/// `<Schema>Create` (POST) or `<Schema>Replace` (PUT), that requires the fields and does not
/// allow null for them.
const REQUIRED_FIELDS: &[(&str, &str, &[&str])] = &[
    (
        "post",
        "/api/v1/school/sessions/",
        &["name", "starts_on", "ends_on"],
    ),
    (
        "post",
        "/api/v1/school/sessions/{id}/terms/",
        &["ordinal", "starts_on", "ends_on"],
    ),
    ("post", "/api/v1/school/forms/", &["name"]),
    ("post", "/api/v1/school/classes/", &["name", "form_id"]),
    ("post", "/api/v1/school/subjects/", &["name"]),
    (
        "post",
        "/api/v1/school/sessions/{id}/classes/",
        &["class_id"],
    ),
    (
        "post",
        "/api/v1/school/admissions/",
        &["first_name", "last_name", "sex"],
    ),
    (
        "put",
        "/api/v1/school/admissions/{id}/",
        &["first_name", "last_name", "sex"],
    ),
    (
        "post",
        "/api/v1/school/guardians/",
        &["student_id", "full_name"],
    ),
    ("post", "/api/v1/school/roles/", &["name"]),
    (
        "put",
        "/api/v1/school/roles/{id}/",
        &["name", "permissions"],
    ),
    (
        "put",
        "/api/v1/school/users/{id}/",
        &["full_name", "is_active", "roles"],
    ),
    ("post", "/api/v1/school/exam-sessions/", &["term_id"]),
    (
        "post",
        "/api/v1/school/notices/",
        &["title", "body", "scope"],
    ),
    (
        "put",
        "/api/v1/school/notices/{id}/",
        &["title", "body", "scope"],
    ),
    (
        "post",
        "/api/v1/school/attendance-codes/",
        &["code", "name", "counts_as"],
    ),
    ("post", "/api/v1/school/attendance-reasons/", &["name"]),
    (
        "post",
        "/api/v1/school/promotions/new-session/",
        &["from_session", "name", "starts_on", "ends_on", "terms"],
    ),
    (
        "put",
        "/api/v1/school/promotions/decisions/",
        &["from_session", "to_session", "decisions"],
    ),
    (
        "post",
        "/api/v1/school/promotions/commit/",
        &["from_session", "to_session"],
    ),
    (
        "put",
        "/api/v1/school/promotions/next-classes/",
        &["classes"],
    ),
];

fn require_on_create(openapi: OpenApi) -> OpenApi {
    let Ok(mut doc) = serde_json::to_value(&openapi) else {
        return openapi;
    };
    for (method, path, fields) in REQUIRED_FIELDS {
        let done = require_fields(&mut doc, method, path, fields);
        debug_assert!(
            done,
            "REQUIRED_FIELDS: {method} {path} {fields:?} not in the document"
        );
    }
    serde_json::from_value(doc).unwrap_or(openapi)
}

/// Points the operation's JSON body at a copy of its schema requiring `fields`; false when
/// the operation, its schema or a field is not there.
fn require_fields(doc: &mut Value, method: &str, path: &str, fields: &[&str]) -> bool {
    let body = format!(
        "/paths/{}/{method}/requestBody/content/application~1json/schema/$ref",
        path.replace('~', "~0").replace('/', "~1")
    );
    let Some(Value::String(reference)) = doc.pointer(&body).cloned() else {
        return false;
    };
    let Some(name) = reference.strip_prefix("#/components/schemas/") else {
        return false;
    };
    let Some(mut schema) = doc.pointer(&format!("/components/schemas/{name}")).cloned() else {
        return false;
    };
    for field in fields {
        let Some(property) = schema.pointer_mut(&format!("/properties/{field}")) else {
            return false;
        };
        // `Option<T>` is written `type: [T, "null"]`; a required field may not be null.
        if let Some(Value::Array(types)) = property.get_mut("type") {
            types.retain(|t| t != "null");
            if let [only] = types.as_slice() {
                let only = only.clone();
                property["type"] = only;
            }
        }
        let required = schema.as_object_mut().map(|o| {
            o.entry("required")
                .or_insert_with(|| Value::Array(Vec::new()))
        });
        if let Some(Value::Array(list)) = required
            && !list.iter().any(|f| f == field)
        {
            list.push(Value::from(*field));
        }
    }
    let suffix = if method == "put" { "Replace" } else { "Create" };
    let copy = format!("{name}{suffix}");
    if let Some(Value::Object(schemas)) = doc.pointer_mut("/components/schemas") {
        schemas.insert(copy.clone(), schema);
    }
    if let Some(slot) = doc.pointer_mut(&body) {
        *slot = Value::from(format!("#/components/schemas/{copy}"));
    }
    true
}

/// Answers the shared layers can give on any operation, whatever its handler does: unreadable
/// requests, credentials, timeouts and limits, validation of the query, throttling, and a busy
/// or briefly unavailable service. Each operation lists them so a client (and schemathesis)
/// knows every status it may see; an operation's own description of a status wins.
fn document_common_answers(openapi: &mut OpenApi) {
    for (path, item) in openapi.paths.paths.iter_mut() {
        let has_path_params = path.contains('{');
        let is_sign_in = path.contains("/auth/");
        for (op, writes) in [
            (&mut item.get, false),
            (&mut item.post, true),
            (&mut item.put, true),
            (&mut item.patch, true),
            (&mut item.delete, true),
        ] {
            let Some(op) = op else { continue };
            // A list names its own `ordering` after the shared `ListParams`: the later wins.
            if let Some(params) = op.parameters.as_mut() {
                let mut seen = std::collections::HashSet::new();
                let mut kept: Vec<_> = params
                    .drain(..)
                    .rev()
                    .filter(|p| match p {
                        RefOr::T(p) => {
                            seen.insert((p.name.clone(), p.parameter_in == ParameterIn::Query))
                        }
                        RefOr::Ref(_) => true,
                    })
                    .collect();
                kept.reverse();
                *params = kept;
            }
            // Every body an operation takes is needed: none is optional.
            if let Some(RefOr::T(body)) = op.request_body.as_mut() {
                body.required = Some(utoipa::openapi::Required::True);
            }
            let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
            let has_body = op.request_body.is_some();
            let answers: [(&str, bool, &str); 12] = [
                (
                    "400",
                    true,
                    "The request could not be read (malformed JSON or query)",
                ),
                (
                    "401",
                    secured || is_sign_in,
                    "Not signed in: no valid token or API key",
                ),
                ("403", secured, "Signed in but not allowed here"),
                (
                    "404",
                    has_path_params || secured,
                    "Not found in this school (or no school at this address)",
                ),
                (
                    "409",
                    writes,
                    "Conflicts with the record's current state; the detail says how",
                ),
                ("408", has_body, "The request body did not arrive in time"),
                ("413", has_body, "The request body is too large"),
                ("414", true, "The URL is too long"),
                (
                    "415",
                    has_body,
                    "The body is not in a supported content type",
                ),
                ("422", true, "Validation failed; `errors` names each field"),
                ("429", is_sign_in, "Too many attempts; try again later"),
                (
                    "503",
                    true,
                    "The service is busy or briefly unavailable; retry",
                ),
            ];
            for (status, applies, description) in answers {
                if applies && !op.responses.responses.contains_key(status) {
                    op.responses
                        .responses
                        .insert(status.to_owned(), error_response(description));
                }
            }
        }
    }
}

fn error_response(description: &str) -> RefOr<Response> {
    RefOr::T(
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("ErrorBody")))
                    .build(),
            )
            .build(),
    )
}

pub fn router(openapi: OpenApi) -> Router<AppState> {
    let schema = openapi.clone();
    Router::new()
        .route(
            "/api/schema/",
            get(move || {
                let schema = schema.clone();
                async move { Json(schema) }
            }),
        )
        .route(
            "/api/schema",
            get(|| async { Redirect::permanent("/api/schema/") }),
        )
        .merge(SwaggerUi::new("/api/docs").url("/api/docs/openapi.json", openapi))
        .route(
            "/api/redoc",
            get(|| async { Redirect::permanent("/api/redoc/") }),
        )
        .route("/api/redoc/", get(redoc))
}

async fn redoc() -> Html<String> {
    Html(format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Schoolyard API — ReDoc</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{margin:0}}</style></head>
<body><redoc spec-url="/api/schema/"></redoc>
<script src="{}"></script></body></html>"#,
        assets::url("vendor/redoc.standalone.js")
    ))
}
