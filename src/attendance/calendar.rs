//! The school calendar: term dates come from the terms; closures (holidays, mid-term breaks,
//! a day the school shut) and weekend openings are kept here. A register is taken only on a
//! school day that has come.

use chrono::{Datelike, NaiveDate, Weekday};
use serde::{Deserialize, Serialize};
use sqlx::{FromRow, PgConnection};
use utoipa::ToSchema;

use crate::{
    context::SchoolCtx,
    error::{AppError, AppResult, Validator},
};

#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct Closure {
    pub id: i64,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    #[schema(example = "Mid-term break")]
    pub reason: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClosureInput {
    pub starts_on: NaiveDate,
    /// The last day closed (the same day for one day).
    pub ends_on: NaiveDate,
    #[schema(min_length = 2, max_length = 120)]
    pub reason: String,
}

pub async fn closures(conn: &mut PgConnection) -> sqlx::Result<Vec<Closure>> {
    sqlx::query_as(
        "SELECT id, starts_on, ends_on, reason FROM closures ORDER BY starts_on DESC, id DESC",
    )
    .fetch_all(conn)
    .await
}

/// PostgreSQL's dates stop where chrono's do not; anything this far out is a typing slip.
pub fn check_date(field: &str, day: NaiveDate) -> AppResult<()> {
    let earliest = NaiveDate::from_ymd_opt(1900, 1, 1).unwrap_or(NaiveDate::MIN);
    let latest = NaiveDate::from_ymd_opt(2200, 12, 31).unwrap_or(NaiveDate::MAX);
    if day < earliest || day > latest {
        return Err(AppError::field(field, "Use a date between 1900 and 2200."));
    }
    Ok(())
}

pub async fn add_closure(conn: &mut PgConnection, input: &ClosureInput) -> AppResult<Closure> {
    check_date("starts_on", input.starts_on)?;
    check_date("ends_on", input.ends_on)?;
    let mut v = Validator::new();
    v.text("reason", &input.reason, 2, 120);
    if input.ends_on < input.starts_on {
        v.add(
            "ends_on",
            "The closure must end on or after the day it starts.",
        );
    }
    if (input.ends_on - input.starts_on).num_days() > 366 {
        v.add("ends_on", "A closure lasts at most a year.");
    }
    v.finish()?;
    Ok(sqlx::query_as(
        "INSERT INTO closures (starts_on, ends_on, reason) VALUES ($1, $2, $3)
         RETURNING id, starts_on, ends_on, reason",
    )
    .bind(input.starts_on)
    .bind(input.ends_on)
    .bind(input.reason.trim())
    .fetch_one(conn)
    .await?)
}

/// Why no register can be taken on `day`, or None on a school day that has come.
pub async fn not_a_school_day(
    conn: &mut PgConnection,
    day: NaiveDate,
    today: NaiveDate,
) -> sqlx::Result<Option<String>> {
    if day > today {
        return Ok(Some("That day has not come yet.".into()));
    }
    let row: (bool, Option<String>, bool) = sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM terms WHERE $1 BETWEEN starts_on AND ends_on),
                (SELECT reason FROM closures WHERE $1 BETWEEN starts_on AND ends_on
                  ORDER BY starts_on DESC LIMIT 1),
                EXISTS (SELECT 1 FROM weekend_openings WHERE day = $1)",
    )
    .bind(day)
    .fetch_one(conn)
    .await?;
    let (in_term, closed, weekend_opening) = row;
    Ok(if !in_term {
        Some("That day is outside the terms.".into())
    } else if let Some(reason) = closed {
        Some(format!("The school is closed that day ({reason})."))
    } else if matches!(day.weekday(), Weekday::Sat | Weekday::Sun) && !weekend_opening {
        Some("The school does not open at weekends unless the calendar says so.".into())
    } else {
        None
    })
}

/// A Saturday or Sunday the school opens (a make-up day, an open day).
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct WeekendOpening {
    pub day: NaiveDate,
    #[schema(example = "Make-up day for the public holiday")]
    pub reason: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WeekendOpeningInput {
    /// A Saturday or a Sunday.
    pub day: NaiveDate,
    #[schema(min_length = 2, max_length = 120)]
    pub reason: String,
}

pub async fn weekend_openings(conn: &mut PgConnection) -> sqlx::Result<Vec<WeekendOpening>> {
    sqlx::query_as("SELECT day, reason FROM weekend_openings ORDER BY day DESC")
        .fetch_all(conn)
        .await
}

pub async fn add_weekend_opening(
    conn: &mut PgConnection,
    input: &WeekendOpeningInput,
) -> AppResult<WeekendOpening> {
    check_date("day", input.day)?;
    let mut v = Validator::new();
    v.text("reason", &input.reason, 2, 120);
    if !matches!(input.day.weekday(), Weekday::Sat | Weekday::Sun) {
        v.add(
            "day",
            "That day is a weekday: the school is open then unless a closure says otherwise.",
        );
    }
    v.finish()?;
    sqlx::query_as(
        "INSERT INTO weekend_openings (day, reason) VALUES ($1, $2) RETURNING day, reason",
    )
    .bind(input.day)
    .bind(input.reason.trim())
    .fetch_one(conn)
    .await
    .map_err(|e| {
        AppError::from(e).on_constraint(
            "weekend_openings_pkey",
            "day",
            "The school already opens that day.",
        )
    })
}

/// Removes a weekend opening; the marks already taken that day stay (they are history).
pub async fn remove_weekend_opening(
    conn: &mut PgConnection,
    day: NaiveDate,
) -> AppResult<WeekendOpening> {
    sqlx::query_as("DELETE FROM weekend_openings WHERE day = $1 RETURNING day, reason")
        .bind(day)
        .fetch_optional(conn)
        .await?
        .ok_or_else(AppError::not_found)
}

// ---- audited writes, for both front doors ----

pub async fn add_closure_audited(ctx: &mut SchoolCtx, input: &ClosureInput) -> AppResult<Closure> {
    let closure = add_closure(&mut ctx.tx, input).await?;
    ctx.audit_created("closure", closure.id, &closure).await?;
    Ok(closure)
}

/// Removes a closure: its days are school days again (marks already taken stay).
pub async fn remove_closure_audited(ctx: &mut SchoolCtx, id: i64) -> AppResult<Closure> {
    let closure: Closure = sqlx::query_as(
        "DELETE FROM closures WHERE id = $1 RETURNING id, starts_on, ends_on, reason",
    )
    .bind(id)
    .fetch_optional(&mut *ctx.tx)
    .await?
    .ok_or_else(AppError::not_found)?;
    ctx.audit(
        "delete",
        "closure",
        id,
        serde_json::json!({"deleted": closure}),
    )
    .await?;
    Ok(closure)
}

pub async fn add_weekend_opening_audited(
    ctx: &mut SchoolCtx,
    input: &WeekendOpeningInput,
) -> AppResult<WeekendOpening> {
    let opening = add_weekend_opening(&mut ctx.tx, input).await?;
    let fields = serde_json::to_value(&opening).map_err(|e| AppError::Internal(e.into()))?;
    ctx.audit(
        "create",
        "weekend_opening",
        opening.day,
        crate::audit::trail::created(&fields),
    )
    .await?;
    Ok(opening)
}

pub async fn remove_weekend_opening_audited(
    ctx: &mut SchoolCtx,
    day: NaiveDate,
) -> AppResult<WeekendOpening> {
    let opening = remove_weekend_opening(&mut ctx.tx, day).await?;
    ctx.audit(
        "delete",
        "weekend_opening",
        day,
        serde_json::json!({"deleted": opening}),
    )
    .await?;
    Ok(opening)
}
