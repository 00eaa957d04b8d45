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
    /// The school's clock (an IANA name): its pages and audit log show times in it.
    #[schema(example = "Africa/Lagos")]
    pub time_zone: String,
    /// Registers a day: 1, or 2 (morning and afternoon). "Times school opened" counts them.
    pub attendance_periods: i16,
    /// How many days back a class teacher may still take or correct their own register.
    pub attendance_window_days: i16,
    /// Pupils absent this many registers in a row are listed to watch.
    pub attendance_watch_run: i16,
    /// Pupils present at under this percentage of the term's registers are listed to watch.
    pub attendance_watch_percentage: i16,
    /// Minutes a saved unexcused absence waits for a correction before it is recorded for
    /// parents.
    pub absence_grace_minutes: i16,
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
    /// An IANA time zone name, e.g. `Africa/Lagos` or `Africa/Nairobi`.
    #[schema(max_length = 64)]
    pub time_zone: Option<String>,
    #[schema(minimum = 1, maximum = 2)]
    pub attendance_periods: Option<i16>,
    #[schema(minimum = 0, maximum = 60)]
    pub attendance_window_days: Option<i16>,
    #[schema(minimum = 1, maximum = 100)]
    pub attendance_watch_run: Option<i16>,
    #[schema(minimum = 0, maximum = 100)]
    pub attendance_watch_percentage: Option<i16>,
    #[schema(minimum = 0, maximum = 1440)]
    pub absence_grace_minutes: Option<i16>,
}

pub async fn load(conn: &mut PgConnection) -> Result<Settings, sqlx::Error> {
    // The clock is the school's row on public (the tenant cache reads it with the school);
    // the school transaction's first schema is the school's own.
    sqlx::query_as(
        "SELECT g.address, g.motto, g.admission_number_pattern, g.next_admission_seq,
                g.phone_country_code, c.time_zone, g.attendance_periods,
                g.attendance_window_days, g.attendance_watch_run,
                g.attendance_watch_percentage, g.absence_grace_minutes
           FROM general_settings g JOIN public.clients c ON c.schema_name = current_schema()
          WHERE g.id = 1",
    )
    .fetch_one(conn)
    .await
}
