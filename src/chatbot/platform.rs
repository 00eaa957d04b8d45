//! The platform's view of the WhatsApp channel: the contacts that route a phone to a school
//! on the shared number, schools with their own numbers, and what the webhook received
//! (its kinds and outcomes, never a message's content).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::{FromRow, PgConnection};
use utoipa::{IntoParams, ToSchema};

use crate::{
    config::WhatsAppConfig,
    context::PlatformCtx,
    error::{AppError, AppResult},
    http::ListParams,
};

/// A school, as a contact names it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ContactSchool {
    pub id: i64,
    pub name: String,
    pub code: String,
}

/// A phone that reaches one pupil's school through the shared number.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Contact {
    pub id: i64,
    /// E.164.
    #[schema(example = "+2348031234567")]
    pub wa_phone: String,
    pub school: ContactSchool,
    /// The pupil's id in the school.
    pub student_id: i64,
    /// The guardian's id in the school.
    pub guardian_id: i64,
    pub created_at: DateTime<Utc>,
}

#[derive(FromRow)]
struct ContactRow {
    id: i64,
    wa_phone: String,
    school_id: i64,
    school_name: String,
    school_code: String,
    student_id: i64,
    guardian_id: i64,
    created_at: DateTime<Utc>,
}

impl From<ContactRow> for Contact {
    fn from(r: ContactRow) -> Self {
        Self {
            id: r.id,
            wa_phone: r.wa_phone,
            school: ContactSchool {
                id: r.school_id,
                name: r.school_name,
                code: r.school_code,
            },
            student_id: r.student_id,
            guardian_id: r.guardian_id,
            created_at: r.created_at,
        }
    }
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ContactFilter {
    /// Only this school's contacts.
    pub school: Option<i64>,
}

const CONTACT_COLUMNS: &str = "w.id, w.wa_phone, w.school_id, c.name AS school_name,
        c.code AS school_code, w.student_id, w.guardian_id, w.created_at";

/// Contacts, newest first; `?search=` by phone (its digits), `?school=` for one school.
pub async fn list(
    conn: &mut PgConnection,
    params: &ListParams,
    filter: &ContactFilter,
) -> AppResult<(Vec<Contact>, i64)> {
    let (limit, offset) = params.limit_offset()?;
    params.search_pattern()?;
    let phone = super::staff_settings::phone_pattern(params);
    let from = "FROM public.whatsapp_contacts w JOIN public.clients c ON c.id = w.school_id
       WHERE ($1::text IS NULL OR w.wa_phone LIKE $1) AND ($2::bigint IS NULL OR w.school_id = $2)";
    let count: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) {from}")))
        .bind(&phone)
        .bind(filter.school)
        .fetch_one(&mut *conn)
        .await?;
    let rows: Vec<ContactRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {CONTACT_COLUMNS} {from} ORDER BY w.created_at DESC, w.id DESC LIMIT $3 OFFSET $4"
    )))
    .bind(&phone)
    .bind(filter.school)
    .bind(limit)
    .bind(offset)
    .fetch_all(&mut *conn)
    .await?;
    Ok((rows.into_iter().map(Contact::from).collect(), count))
}

/// Deletes a contact (the phone no longer reaches that pupil's school on the shared
/// number) and audits it on the platform trail. The school's own link is left to the
/// school, which ends it on the guardian's page.
pub async fn delete(ctx: &mut PlatformCtx, id: i64) -> AppResult<Contact> {
    let row: ContactRow = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {CONTACT_COLUMNS} FROM public.whatsapp_contacts w
           JOIN public.clients c ON c.id = w.school_id WHERE w.id = $1"
    )))
    .bind(id)
    .fetch_optional(&mut *ctx.tx)
    .await?
    .ok_or_else(AppError::not_found)?;
    sqlx::query("DELETE FROM public.whatsapp_contacts WHERE id = $1")
        .bind(id)
        .execute(&mut *ctx.tx)
        .await?;
    let contact = Contact::from(row);
    ctx.audit(
        "delete",
        "whatsapp_contact",
        id,
        json!({"deleted": {
            "wa_phone": contact.wa_phone,
            "school_id": contact.school.id,
            "student_id": contact.student_id,
            "guardian_id": contact.guardian_id,
        }}),
    )
    .await?;
    Ok(contact)
}

// ---- the console page ----

/// Which parts of the channel the server is configured with (never their values).
pub struct Configured {
    pub app_secret: bool,
    pub verify_token: bool,
    pub shared_number_id: bool,
    pub shared_access_token: bool,
    pub token_key: bool,
}

impl Configured {
    pub fn of(config: &WhatsAppConfig) -> Self {
        Self {
            app_secret: config.app_secret.is_some(),
            verify_token: config.verify_token.is_some(),
            shared_number_id: config.shared_number_id.is_some(),
            shared_access_token: config.shared_access_token.is_some(),
            token_key: config.token_key.is_some(),
        }
    }

    /// Meta can deliver to the webhook and the shared number can send.
    pub fn is_ready(&self) -> bool {
        self.app_secret && self.verify_token && self.shared_number_id && self.shared_access_token
    }
}

#[derive(Debug, Clone, FromRow)]
pub struct SchoolContacts {
    pub id: i64,
    pub name: String,
    pub code: String,
    pub contacts: i64,
}

#[derive(Debug, Clone, FromRow)]
pub struct OwnNumber {
    pub name: String,
    pub code: String,
    pub phone_number_id: String,
    pub updated_at: DateTime<Utc>,
}

/// An inbound delivery, without its body or its sender.
#[derive(Debug, Clone, FromRow)]
pub struct InboundRow {
    pub received_at: DateTime<Utc>,
    pub kind: String,
    pub phone_number_id: String,
    pub processed_at: Option<DateTime<Utc>>,
    pub outcome: Option<String>,
}

/// Contacts on the shared number per school, most first.
pub async fn contacts_per_school(conn: &mut PgConnection) -> sqlx::Result<Vec<SchoolContacts>> {
    sqlx::query_as(
        "SELECT c.id, c.name, c.code, count(*) AS contacts
           FROM public.whatsapp_contacts w JOIN public.clients c ON c.id = w.school_id
          GROUP BY c.id, c.name, c.code ORDER BY count(*) DESC, c.name, c.id",
    )
    .fetch_all(conn)
    .await
}

pub async fn own_numbers(conn: &mut PgConnection) -> sqlx::Result<Vec<OwnNumber>> {
    sqlx::query_as(
        "SELECT c.name, c.code, n.phone_number_id, n.updated_at
           FROM public.whatsapp_numbers n JOIN public.clients c ON c.id = n.school_id
          ORDER BY c.name, c.id",
    )
    .fetch_all(conn)
    .await
}

pub async fn latest_inbound(conn: &mut PgConnection, n: i64) -> sqlx::Result<Vec<InboundRow>> {
    sqlx::query_as(
        "SELECT received_at, kind, phone_number_id, processed_at, outcome
           FROM public.whatsapp_inbound ORDER BY received_at DESC, id DESC LIMIT $1",
    )
    .bind(n)
    .fetch_all(conn)
    .await
}
