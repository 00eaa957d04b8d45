//! The console's WhatsApp page (main domain): whether the channel is configured (yes or
//! no, never a value), the webhook address to give Meta, contacts on the shared number per
//! school, schools with their own numbers, and the latest deliveries the webhook received
//! (their kind and outcome, never their content).

use askama::Template;
use askama_web::WebTemplate;
use axum::{
    Router,
    extract::State,
    response::{IntoResponse, Response},
    routing::get,
};

use super::platform::{self, Configured, InboundRow, OwnNumber, SchoolContacts};
use crate::{
    auth::csrf::CsrfToken,
    context::PlatformCtx,
    error::AppResult,
    permissions::{access::guard_exact, catalogue::Action},
    state::AppState,
    web::layout::Layout,
};

/// Inbound rows shown.
const INBOUND_SHOWN: i64 = 50;

#[derive(Template, WebTemplate)]
#[template(path = "pages/whatsapp_console.html")]
struct ConsolePage {
    layout: Layout,
    configured: Configured,
    webhook_url: String,
    per_school: Vec<SchoolContacts>,
    own_numbers: Vec<OwnNumber>,
    inbound: Vec<InboundRow>,
    inbound_shown: i64,
}

impl ConsolePage {
    fn total_contacts(&self) -> i64 {
        self.per_school.iter().map(|s| s.contacts).sum()
    }
}

async fn console_page(
    State(state): State<AppState>,
    mut ctx: PlatformCtx,
    CsrfToken(csrf): CsrfToken,
) -> AppResult<Response> {
    let page = ConsolePage {
        configured: Configured::of(&state.config.whatsapp),
        webhook_url: format!(
            "https://{}/api/v1/chatbot/whatsapp/",
            state.config.main_domain
        ),
        per_school: platform::contacts_per_school(&mut ctx.tx).await?,
        own_numbers: platform::own_numbers(&mut ctx.tx).await?,
        inbound: platform::latest_inbound(&mut ctx.tx, INBOUND_SHOWN).await?,
        inbound_shown: INBOUND_SHOWN,
        layout: ctx.layout("WhatsApp", "whatsapp", &csrf),
    };
    Ok(page.into_response())
}

pub fn router() -> Router<AppState> {
    Router::new().route(
        "/whatsapp",
        get(console_page).layer(guard_exact(Action::View, "whatsapp_contacts")),
    )
}
