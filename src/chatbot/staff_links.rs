//! A guardian's WhatsApp, from the school office's side: their links (live and ended), a
//! one-time link code for the office to give them, and ending a link. Ending one also
//! removes the shared number's routing of that phone to that pupil
//! (`public.whatsapp_contacts`), so the parent no longer reaches the pupil there.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::{FromRow, PgConnection};
use utoipa::ToSchema;

use super::{codes, staff_settings};
use crate::{
    audit::trail::diff,
    context::SchoolCtx,
    error::{AppError, AppResult, Validator},
    students::{self, guardians::Guardian},
};

/// A guardian's WhatsApp number linked to a pupil.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct GuardianLink {
    pub id: i64,
    pub guardian_id: i64,
    pub student_id: i64,
    #[schema(example = "Chidi Okafor")]
    pub student_name: String,
    /// The parent's WhatsApp phone, E.164.
    #[schema(example = "+2348031234567")]
    pub wa_phone: String,
    /// How the parent proved who they are: `link_code` or `admission_no_and_birth_date`.
    pub proof: String,
    pub linked_at: DateTime<Utc>,
    /// Null while the link is live.
    pub ended_at: Option<DateTime<Utc>>,
    /// The staff member (user id) who ended it; null when the parent or the system did.
    pub ended_by: Option<i64>,
    /// Their name, for the page.
    pub ended_by_name: Option<String>,
    pub ended_reason: Option<String>,
}

impl GuardianLink {
    pub fn is_live(&self) -> bool {
        self.ended_at.is_none()
    }

    pub fn proof_label(&self) -> &'static str {
        match self.proof.as_str() {
            "link_code" => "a link code from the school",
            "admission_no_and_birth_date" => "the admission number and date of birth",
            _ => "another proof",
        }
    }
}

/// A link code as issued: shown once, only its hash is kept.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct IssuedCode {
    /// The code to give the parent, e.g. `GRW-7K4P-9QX2`. Shown this once.
    #[schema(example = "GRW-7K4P-9QX2")]
    pub code: String,
    pub expires_at: DateTime<Utc>,
    /// What to tell the parent.
    pub instruction: String,
}

/// Why a link is ended (optional).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndLinkInput {
    /// Why, for the record: "Phone lost", "No longer the pupil's guardian".
    #[schema(max_length = 300)]
    pub reason: Option<String>,
}

/// An unused code waiting for the parent.
#[derive(Debug, Clone, FromRow)]
pub struct PendingCode {
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

const LINK_COLUMNS: &str = "l.id, l.guardian_id, l.student_id,
        concat_ws(' ', s.first_name, NULLIF(s.other_names, ''), s.last_name) AS student_name,
        l.wa_phone, l.proof, l.linked_at, l.ended_at, l.ended_by,
        u.full_name AS ended_by_name, l.ended_reason";
const LINK_FROM: &str = "FROM chatbot_links l
   JOIN students s ON s.id = l.student_id
   LEFT JOIN public.users u ON u.id = l.ended_by";

/// A guardian of this school, or 404.
pub async fn guardian(conn: &mut PgConnection, id: i64) -> AppResult<Guardian> {
    students::guardians::get(conn, id).await
}

/// A guardian's links: live ones first, then ended ones, newest first.
pub async fn links_of(
    conn: &mut PgConnection,
    guardian_id: i64,
) -> sqlx::Result<Vec<GuardianLink>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {LINK_COLUMNS} {LINK_FROM} WHERE l.guardian_id = $1
          ORDER BY l.ended_at IS NOT NULL, COALESCE(l.ended_at, l.linked_at) DESC, l.id DESC"
    )))
    .bind(guardian_id)
    .fetch_all(conn)
    .await
}

async fn link(conn: &mut PgConnection, guardian_id: i64, id: i64) -> AppResult<GuardianLink> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {LINK_COLUMNS} {LINK_FROM} WHERE l.id = $1 AND l.guardian_id = $2"
    )))
    .bind(id)
    .bind(guardian_id)
    .fetch_optional(conn)
    .await?
    .ok_or_else(AppError::not_found)
}

/// One of the guardian's live links (404 for another guardian's, or none), for the
/// confirmation page.
pub async fn live_link(
    conn: &mut PgConnection,
    guardian_id: i64,
    id: i64,
) -> AppResult<GuardianLink> {
    let l = link(conn, guardian_id, id).await?;
    if l.is_live() {
        Ok(l)
    } else {
        Err(already_ended())
    }
}

fn already_ended() -> AppError {
    AppError::Conflict("This link has already ended.".into())
}

/// The guardian's latest code still waiting to be used, if any.
pub async fn pending_code(
    conn: &mut PgConnection,
    guardian_id: i64,
    now: DateTime<Utc>,
) -> sqlx::Result<Option<PendingCode>> {
    sqlx::query_as(
        "SELECT created_at, expires_at FROM chatbot_link_codes
          WHERE guardian_id = $1 AND used_at IS NULL AND expires_at > $2
          ORDER BY created_at DESC, id DESC LIMIT 1",
    )
    .bind(guardian_id)
    .bind(now)
    .fetch_optional(conn)
    .await
}

/// What the guardian is told to do with a code, naming the number that takes it.
pub async fn instruction(
    ctx: &mut SchoolCtx,
    shared_display_phone: Option<&str>,
    code: &str,
) -> AppResult<String> {
    let to = number_for_parents(ctx, shared_display_phone).await?;
    Ok(format!(
        "Send this code on WhatsApp to {to}: {code}. It works once."
    ))
}

/// The number parents send their code to, as the office tells them: the school's own (with
/// the number as dialled, when the school gave it) or the shared one.
pub async fn number_for_parents(
    ctx: &mut SchoolCtx,
    shared_display_phone: Option<&str>,
) -> AppResult<String> {
    let own = staff_settings::own_number(&mut ctx.tx, ctx.school.id)
        .await?
        .is_some();
    Ok(if own {
        match staff_settings::own_display_phone(&mut ctx.tx, ctx.school.id).await? {
            Some(phone) => format!("{}'s WhatsApp number, {phone}", ctx.school.name),
            None => format!("{}'s WhatsApp number", ctx.school.name),
        }
    } else {
        match shared_display_phone {
            Some(phone) => format!("the Schoolyard WhatsApp number, {phone}"),
            None => "the Schoolyard WhatsApp number".to_owned(),
        }
    })
}

/// Issues a fresh code for the guardian (any earlier unused one is void) and audits it
/// (never the code itself). A guardian without a phone gets none: the school records their
/// phone first.
pub async fn issue_code(
    ctx: &mut SchoolCtx,
    shared_display_phone: Option<&str>,
    guardian_id: i64,
) -> AppResult<IssuedCode> {
    let g = guardian(&mut ctx.tx, guardian_id).await?;
    if g.phone.trim().is_empty() {
        return Err(AppError::field(
            "phone",
            format!(
                "{} has no phone number recorded. Add their WhatsApp number to their details first.",
                g.full_name
            ),
        ));
    }
    let code_prefix = ctx.school.code.to_string();
    let (code, expires_at) =
        codes::issue(&mut ctx.tx, g.id, &code_prefix, Some(ctx.user.id), ctx.now).await?;
    ctx.audit(
        "issue_whatsapp_code",
        "guardian",
        g.id,
        json!({"student_id": g.student_id, "expires_at": {"to": expires_at}}),
    )
    .await?;
    let instruction = instruction(ctx, shared_display_phone, &code).await?;
    Ok(IssuedCode {
        code,
        expires_at,
        instruction,
    })
}

/// The fields an ending changes, for the audit trail.
fn ending(l: &GuardianLink) -> serde_json::Value {
    json!({"ended_at": l.ended_at, "ended_by": l.ended_by, "ended_reason": l.ended_reason})
}

/// Ends one of the guardian's live links: who ended it, when and why; the phone no longer
/// reaches the pupil through the shared number. 404 for another guardian's link, 409 for
/// one already ended.
pub async fn end_link(
    ctx: &mut SchoolCtx,
    guardian_id: i64,
    link_id: i64,
    input: &EndLinkInput,
) -> AppResult<GuardianLink> {
    guardian(&mut ctx.tx, guardian_id).await?;
    let before = link(&mut ctx.tx, guardian_id, link_id).await?;
    if !before.is_live() {
        return Err(already_ended());
    }
    let reason = input
        .reason
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty());
    let mut v = Validator::new();
    v.text("reason", reason.unwrap_or_default(), 0, 300);
    v.finish()?;
    let ended: Option<i64> = sqlx::query_scalar(
        "UPDATE chatbot_links SET ended_at = $2, ended_by = $3, ended_reason = $4
          WHERE id = $1 AND ended_at IS NULL RETURNING id",
    )
    .bind(link_id)
    .bind(ctx.now)
    .bind(ctx.user.id)
    .bind(reason)
    .fetch_optional(&mut *ctx.tx)
    .await?;
    if ended.is_none() {
        // Ended by someone else since it was read.
        return Err(already_ended());
    }
    sqlx::query(
        "DELETE FROM public.whatsapp_contacts
          WHERE wa_phone = $1 AND school_id = $2 AND student_id = $3",
    )
    .bind(&before.wa_phone)
    .bind(ctx.school.id)
    .bind(before.student_id)
    .execute(&mut *ctx.tx)
    .await?;
    // The parent's conversation no longer looks at this pupil.
    sqlx::query(
        "UPDATE chatbot_conversations SET current_student_id = NULL, updated_at = $3
          WHERE wa_phone = $1 AND current_student_id = $2",
    )
    .bind(&before.wa_phone)
    .bind(before.student_id)
    .bind(ctx.now)
    .execute(&mut *ctx.tx)
    .await?;
    let after = link(&mut ctx.tx, guardian_id, link_id).await?;
    let mut changes = diff(&ending(&before), &ending(&after));
    if let Some(fields) = changes.as_object_mut() {
        fields.insert("guardian_id".into(), json!(before.guardian_id));
        fields.insert("student_id".into(), json!(before.student_id));
        fields.insert("wa_phone".into(), json!(before.wa_phone));
    }
    ctx.audit("end", "whatsapp_link", link_id, changes).await?;
    Ok(after)
}
