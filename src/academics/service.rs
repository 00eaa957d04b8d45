//! Academic-structure rules shared by the JSON and HTML adapters.

use serde_json::json;

pub use super::db::Deletable;
use super::db::{self, in_use};
use crate::{
    context::SchoolCtx,
    error::{AppError, AppResult},
};

/// The entity name of a part in the audit trail.
fn entity(what: Deletable) -> &'static str {
    match what {
        Deletable::Session => "session",
        Deletable::Term => "term",
        Deletable::ClassLevel => "form",
        Deletable::ClassArm => "class",
        Deletable::Subject => "subject",
    }
}

/// Why a part could not go (a foreign key still points at it).
fn in_use_message(what: Deletable) -> &'static str {
    match what {
        Deletable::Session => "This session has classes or registrations; remove them first.",
        Deletable::Term => "This term is in use.",
        Deletable::ClassLevel => "This class level still has class arms; delete them first.",
        Deletable::ClassArm => {
            "This class is open in a session; it can only be deleted while no session uses it."
        }
        Deletable::Subject => {
            "This subject is offered in a class; untick it on the class's page first."
        }
    }
}

/// Deletes one row of the structure, refusing with the reason while something uses it; the
/// audit row keeps what was deleted. Returns its name.
pub async fn delete(ctx: &mut SchoolCtx, what: Deletable, id: i64) -> AppResult<String> {
    let (name, row) = db::delete_row(&mut ctx.tx, what, id)
        .await
        .map_err(in_use(in_use_message(what)))?
        .ok_or_else(AppError::not_found)?;
    ctx.audit("delete", entity(what), id, json!({ "deleted": row }))
        .await?;
    Ok(name)
}
