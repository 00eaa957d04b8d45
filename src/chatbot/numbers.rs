//! Business numbers: a school's own (in `whatsapp_numbers`, with its sealed token) or the
//! platform's shared one (from the environment).

use sqlx::{FromRow, PgConnection};

use super::sealing;
use crate::config::WhatsAppConfig;

/// The schema holding the outbox of messages that belong to no school (the shared number's
/// prompts before a sender is linked).
pub const PLATFORM_SCHEMA: &str = "whatsapp_platform";

#[derive(Debug, Clone, FromRow)]
pub struct School {
    pub id: i64,
    pub schema_name: String,
    pub name: String,
    pub code: String,
    pub is_active: bool,
}

/// Who a business number belongs to.
#[derive(Debug, Clone)]
pub enum Owner {
    School(School),
    Shared,
}

pub async fn school(conn: &mut PgConnection, id: i64) -> sqlx::Result<Option<School>> {
    sqlx::query_as(
        "SELECT id, schema_name, name, code, is_active FROM public.clients WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(conn)
    .await
}

pub async fn school_by_code(conn: &mut PgConnection, code: &str) -> sqlx::Result<Option<School>> {
    sqlx::query_as(
        "SELECT id, schema_name, name, code, is_active FROM public.clients
          WHERE lower(code) = lower($1) AND is_active",
    )
    .bind(code)
    .fetch_optional(conn)
    .await
}

pub async fn school_by_schema(
    conn: &mut PgConnection,
    schema: &str,
) -> sqlx::Result<Option<School>> {
    sqlx::query_as(
        "SELECT id, schema_name, name, code, is_active FROM public.clients WHERE schema_name = $1",
    )
    .bind(schema)
    .fetch_optional(conn)
    .await
}

pub async fn owner(
    conn: &mut PgConnection,
    config: &WhatsAppConfig,
    phone_number_id: &str,
) -> sqlx::Result<Option<Owner>> {
    let school: Option<School> = sqlx::query_as(
        "SELECT c.id, c.schema_name, c.name, c.code, c.is_active
           FROM public.whatsapp_numbers n JOIN public.clients c ON c.id = n.school_id
          WHERE n.phone_number_id = $1",
    )
    .bind(phone_number_id)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(match school {
        Some(s) => Some(Owner::School(s)),
        None if config.shared_number_id.as_deref() == Some(phone_number_id) => Some(Owner::Shared),
        None => None,
    })
}

/// The number a school's messages go out from: its own, else the shared one.
pub async fn sending_number(
    conn: &mut PgConnection,
    config: &WhatsAppConfig,
    school_id: i64,
) -> sqlx::Result<Option<String>> {
    let own: Option<String> = sqlx::query_scalar(
        "SELECT phone_number_id FROM public.whatsapp_numbers WHERE school_id = $1",
    )
    .bind(school_id)
    .fetch_optional(conn)
    .await?;
    Ok(own.or_else(|| config.shared_number_id.clone()))
}

/// Why a number's access token is not at hand.
#[derive(Debug, thiserror::Error)]
pub enum TokenProblem {
    #[error("no access token is configured for WhatsApp number {0}")]
    Missing(String),
    #[error(transparent)]
    Sealed(#[from] sealing::SealError),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// The access token that sends from `phone_number_id`.
pub async fn token(
    conn: &mut PgConnection,
    config: &WhatsAppConfig,
    phone_number_id: &str,
) -> Result<String, TokenProblem> {
    let sealed: Option<Vec<u8>> = sqlx::query_scalar(
        "SELECT access_token_sealed FROM public.whatsapp_numbers WHERE phone_number_id = $1",
    )
    .bind(phone_number_id)
    .fetch_optional(conn)
    .await?;
    match sealed {
        Some(sealed) => Ok(sealing::open(config.token_key.as_ref(), &sealed)?),
        None if config.shared_number_id.as_deref() == Some(phone_number_id) => config
            .shared_access_token
            .clone()
            .ok_or_else(|| TokenProblem::Missing(phone_number_id.to_owned())),
        None => Err(TokenProblem::Missing(phone_number_id.to_owned())),
    }
}
