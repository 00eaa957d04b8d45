//! The students domain's JSON adapters: parse, call the service, render.

mod admissions;
mod guardians;
mod registrations;

use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    admissions::router()
        .merge(guardians::router())
        .merge(registrations::router())
}
