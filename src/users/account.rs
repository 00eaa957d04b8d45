//! A staff or platform account as the users domain shows and changes it.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::{
    audit::trail::diff,
    auth::{
        account::{User, get, set_active, set_password},
        password,
    },
    error::{AppError, AppResult, Validator},
};

/// Changes to an account's own fields, shared by staff and platform users.
#[derive(Default)]
pub struct AccountChanges<'a> {
    pub full_name: Option<&'a str>,
    pub is_active: Option<bool>,
    pub password: Option<&'a str>,
}

impl AccountChanges<'_> {
    /// Field checks; `actor_id` may not disable their own account.
    pub fn validate(&self, v: &mut Validator, target: &User, actor_id: i64) {
        if let Some(name) = self.full_name {
            v.text("full_name", name, 1, 200);
        }
        if let Some(pw) = self.password {
            for p in password::policy_problems(pw, &target.email) {
                v.add("password", p);
            }
        }
        if self.is_active == Some(false) && target.id == actor_id {
            v.add("is_active", "You cannot disable your own account.");
        }
    }

    /// Applies the changes and returns the user as stored afterwards.
    pub async fn apply(
        &self,
        conn: &mut PgConnection,
        before: &User,
        now: DateTime<Utc>,
    ) -> AppResult<User> {
        if let Some(name) = self.full_name {
            sqlx::query("UPDATE public.users SET full_name = $2, updated_at = $3 WHERE id = $1")
                .bind(before.id)
                .bind(name.trim())
                .bind(now)
                .execute(&mut *conn)
                .await?;
        }
        if let Some(active) = self.is_active
            && active != before.is_active
        {
            set_active(conn, before.id, active, now).await?;
        }
        if let Some(pw) = self.password {
            let hash = password::hash(pw.to_owned()).await?;
            set_password(conn, before.id, &hash, now).await?;
        }
        get(conn, before.id).await?.ok_or_else(AppError::not_found)
    }

    /// The audit changes between two states of the account, plus any extra fields.
    pub fn audit_changes(
        &self,
        before: &User,
        after: &User,
        extra_before: serde_json::Value,
        extra_after: serde_json::Value,
    ) -> serde_json::Value {
        let mut b =
            serde_json::json!({"full_name": before.full_name, "is_active": before.is_active});
        let mut a = serde_json::json!({"full_name": after.full_name, "is_active": after.is_active});
        if let (Some(b), Some(eb)) = (b.as_object_mut(), extra_before.as_object()) {
            b.extend(eb.clone());
        }
        if let (Some(a), Some(ea)) = (a.as_object_mut(), extra_after.as_object()) {
            a.extend(ea.clone());
        }
        let mut changes = diff(&b, &a);
        if self.password.is_some()
            && let Some(obj) = changes.as_object_mut()
        {
            obj.insert("password".into(), serde_json::json!({"changed": true}));
        }
        changes
    }

    /// `disable`, `enable` or `update`.
    pub fn action(before: &User, after: &User) -> &'static str {
        match (before.is_active, after.is_active) {
            (true, false) => "disable",
            (false, true) => "enable",
            _ => "update",
        }
    }
}
