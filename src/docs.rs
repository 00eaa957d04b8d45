//! OpenAPI document at `/api/schema/`, Swagger UI at `/api/docs/`, ReDoc at `/api/redoc/`,
//! all served from the binary.

use axum::{
    Json, Router,
    response::{Html, Redirect},
    routing::get,
};
use utoipa::openapi::{
    OpenApi,
    security::{
        ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
    },
};
use utoipa_swagger_ui::SwaggerUi;

use crate::{state::AppState, web::assets};

pub fn finish(mut openapi: OpenApi) -> OpenApi {
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
         works on the school API only, in its own school only, with its scopes only. Errors \
         share one shape: `{status_code, code, detail, errors}`."
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
    let components = openapi.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "schema_name",
        SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-Schema-Name"))),
    );
    openapi
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
