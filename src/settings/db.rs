//! The school's general settings row.

use serde::{Deserialize, Serialize};
use sqlx::{FromRow, PgConnection};
use utoipa::ToSchema;

#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct Settings {
    pub address: String,
    pub motto: String,
    /// `{YYYY}` year of admission, `{YY}` its last two digits, `{SEQ:n}` running number.
    #[schema(example = "ADM/{YYYY}/{SEQ:4}")]
    pub admission_number_pattern: String,
    pub next_admission_seq: i32,
    /// Country code given to local phone numbers, e.g. `+234`.
    pub phone_country_code: String,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsInput {
    #[schema(max_length = 300)]
    pub address: Option<String>,
    #[schema(max_length = 200)]
    pub motto: Option<String>,
    pub admission_number_pattern: Option<String>,
    #[schema(minimum = 1)]
    pub next_admission_seq: Option<i32>,
    pub phone_country_code: Option<String>,
}

pub async fn load(conn: &mut PgConnection) -> Result<Settings, sqlx::Error> {
    sqlx::query_as("SELECT address, motto, admission_number_pattern, next_admission_seq, phone_country_code FROM general_settings WHERE id = 1")
        .fetch_one(conn)
        .await
}
