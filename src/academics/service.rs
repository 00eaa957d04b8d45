//! Academic-structure rules shared by the JSON and HTML adapters.

use serde_json::json;

use super::db::{self, in_use};
use crate::{
    context::SchoolCtx,
    error::{AppError, AppResult},
};

/// The parts of the structure that can be deleted while nothing uses them.
#[derive(Clone, Copy, Debug)]
pub enum Deletable {
    Session,
    Term,
    ClassLevel,
    ClassArm,
    Subject,
}

impl Deletable {
    /// The entity name in the audit trail.
    fn entity(self) -> &'static str {
        match self {
            Deletable::Session => "session",
            Deletable::Term => "term",
            Deletable::ClassLevel => "form",
            Deletable::ClassArm => "class",
            Deletable::Subject => "subject",
        }
    }

    /// Why the row could not go (a foreign key still points at it).
    fn in_use(self) -> &'static str {
        match self {
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
}

/// Deletes one row of the structure, refusing with the reason while something uses it; the
/// audit row keeps what was deleted. Returns its name.
pub async fn delete(ctx: &mut SchoolCtx, what: Deletable, id: i64) -> AppResult<String> {
    let table = match what {
        Deletable::Session => db::Table::Sessions,
        Deletable::Term => db::Table::Terms,
        Deletable::ClassLevel => db::Table::Forms,
        Deletable::ClassArm => db::Table::Classes,
        Deletable::Subject => db::Table::Subjects,
    };
    let (name, row) = db::delete_row(&mut ctx.tx, table, id)
        .await
        .map_err(in_use(what.in_use()))?
        .ok_or_else(AppError::not_found)?;
    ctx.audit("delete", what.entity(), id, json!({ "deleted": row }))
        .await?;
    Ok(name)
}
