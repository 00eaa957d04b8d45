//! Changing the settings: validate, save, audit.

use super::{
    admission_number,
    db::{Settings, SettingsInput, load},
};
use crate::{
    audit::trail::diff,
    context::SchoolCtx,
    error::{AppResult, Validator},
};

pub async fn save(ctx: &mut SchoolCtx, input: &SettingsInput) -> AppResult<Settings> {
    let before = load(&mut ctx.tx).await?;
    let mut v = Validator::new();
    if let Some(a) = &input.address {
        v.text("address", a, 0, 300);
    }
    if let Some(m) = &input.motto {
        v.text("motto", m, 0, 200);
    }
    if let Some(p) = &input.admission_number_pattern
        && let Err(msg) = admission_number::validate(p.trim())
    {
        v.add("admission_number_pattern", msg);
    }
    if let Some(cc) = &input.phone_country_code {
        let cc = cc.trim();
        let ok = cc.len() >= 2
            && cc.len() <= 5
            && cc.starts_with('+')
            && cc[1..].chars().all(|c| c.is_ascii_digit());
        if !ok {
            v.add("phone_country_code", "Use + and 1 to 4 digits, e.g. +234.");
        }
    }
    let time_zone = input.time_zone.as_deref().map(str::trim);
    if let Some(tz) = time_zone
        && tz.parse::<chrono_tz::Tz>().is_err()
    {
        v.add(
            "time_zone",
            "Choose a time zone by its name, e.g. Africa/Lagos.",
        );
    }
    if let Some(p) = input.attendance_periods
        && !(1..=2).contains(&p)
    {
        v.add(
            "attendance_periods",
            "Take 1 register a day, or 2 (morning and afternoon).",
        );
    }
    if let Some(d) = input.attendance_window_days
        && !(0..=60).contains(&d)
    {
        v.add(
            "attendance_window_days",
            "Use a number of days from 0 to 60.",
        );
    }
    if let Some(n) = input.attendance_watch_run
        && !(1..=100).contains(&n)
    {
        v.add(
            "attendance_watch_run",
            "Use a number of registers from 1 to 100.",
        );
    }
    if let Some(n) = input.attendance_watch_percentage
        && !(0..=100).contains(&n)
    {
        v.add(
            "attendance_watch_percentage",
            "Use a percentage from 0 to 100.",
        );
    }
    if let Some(n) = input.absence_grace_minutes
        && !(0..=1440).contains(&n)
    {
        v.add(
            "absence_grace_minutes",
            "Use a number of minutes from 0 to 1440 (a day).",
        );
    }
    if let Some(n) = input.next_admission_seq
        && n < 1
    {
        v.add("next_admission_seq", "Must be 1 or more.");
    }
    v.finish()?;
    sqlx::query(
        "UPDATE general_settings SET address = COALESCE($1, address), motto = COALESCE($2, motto),
                admission_number_pattern = COALESCE($3, admission_number_pattern),
                next_admission_seq = COALESCE($4, next_admission_seq),
                phone_country_code = COALESCE($6, phone_country_code),
                attendance_periods = COALESCE($7, attendance_periods),
                attendance_window_days = COALESCE($8, attendance_window_days),
                attendance_watch_run = COALESCE($9, attendance_watch_run),
                attendance_watch_percentage = COALESCE($10, attendance_watch_percentage),
                absence_grace_minutes = COALESCE($11, absence_grace_minutes),
                updated_at = $5 WHERE id = 1",
    )
    .bind(input.address.as_deref().map(str::trim))
    .bind(input.motto.as_deref().map(str::trim))
    .bind(input.admission_number_pattern.as_deref().map(str::trim))
    .bind(input.next_admission_seq)
    .bind(ctx.now)
    .bind(input.phone_country_code.as_deref().map(str::trim))
    .bind(input.attendance_periods)
    .bind(input.attendance_window_days)
    .bind(input.attendance_watch_run)
    .bind(input.attendance_watch_percentage)
    .bind(input.absence_grace_minutes)
    .execute(&mut *ctx.tx)
    .await?;
    if let Some(tz) = time_zone {
        // Changing `clients` notifies every server's tenant cache.
        sqlx::query("UPDATE public.clients SET time_zone = $1 WHERE id = $2")
            .bind(tz)
            .bind(ctx.school.id)
            .execute(&mut *ctx.tx)
            .await?;
    }
    let after = load(&mut ctx.tx).await?;
    let to = |s: &Settings| serde_json::to_value(s).unwrap_or_default();
    ctx.audit("update", "settings", 1, diff(&to(&before), &to(&after)))
        .await?;
    Ok(after)
}
