//! What a user holds (`PermissionSet`) and what a route requires (`Guard`): the context
//! extractors compare the two before any handler runs.

use std::collections::BTreeSet;

use axum::http::Method;

use super::catalogue::{Action, codename};
use crate::error::{AppError, AppResult};

/// The permissions a user holds in one scope. Platform superadmins hold everything.
#[derive(Clone, Debug, Default)]
pub struct PermissionSet {
    all: bool,
    codes: BTreeSet<String>,
}

impl PermissionSet {
    pub fn everything() -> Self {
        Self {
            all: true,
            codes: BTreeSet::new(),
        }
    }

    pub fn from_codes(codes: impl IntoIterator<Item = String>) -> Self {
        Self {
            all: false,
            codes: codes.into_iter().collect(),
        }
    }

    pub fn has(&self, code: &str) -> bool {
        self.all || self.codes.contains(code)
    }

    pub fn can(&self, action: Action, resource: &str) -> bool {
        self.all || self.codes.contains(&codename(action, resource))
    }

    pub fn is_everything(&self) -> bool {
        self.all
    }

    pub fn codes(&self) -> Vec<String> {
        self.codes.iter().cloned().collect()
    }
}

/// Route guard, attached as an extension to a router or a route: the context extractors
/// refuse the request unless the user holds the permission. No handler can forget it.
#[derive(Clone, Copy, Debug)]
pub enum Guard {
    /// The action follows the HTTP method (GET view, POST add, PUT/PATCH change, DELETE delete).
    ByMethod(&'static str),
    /// A fixed permission, for page forms (POST) that change or delete.
    Exact(Action, &'static str),
    /// Any authenticated user of the scope (e.g. `/auth/me`).
    Authenticated,
}

impl Guard {
    pub fn required(&self, method: &Method) -> Option<(Action, &'static str)> {
        match *self {
            Guard::ByMethod(resource) => Some((Action::for_method(method), resource)),
            Guard::Exact(action, resource) => Some((action, resource)),
            Guard::Authenticated => None,
        }
    }
}

pub fn guard(resource: &'static str) -> axum::Extension<Guard> {
    axum::Extension(Guard::ByMethod(resource))
}

pub fn guard_exact(action: Action, resource: &'static str) -> axum::Extension<Guard> {
    axum::Extension(Guard::Exact(action, resource))
}

impl PermissionSet {
    /// The codes in `wanted` this set does not hold (empty for a superadmin). Used so nobody
    /// grants, or acts on someone holding, a permission they lack themselves.
    fn missing<'a>(&self, wanted: impl IntoIterator<Item = &'a String>) -> Vec<String> {
        if self.all {
            return Vec::new();
        }
        let mut out: Vec<String> = wanted
            .into_iter()
            .filter(|code| !self.codes.contains(*code))
            .cloned()
            .collect();
        out.sort();
        out.dedup();
        out
    }
}

/// The refusal when an action would hand out, or reach past, permissions the actor lacks.
fn escalation(what: &str, missing: &[String]) -> AppError {
    AppError::Forbidden(format!(
        "You cannot {what}: it involves permissions you do not hold yourself ({}).",
        missing.join(", ")
    ))
}

impl PermissionSet {
    /// Refuses to hand out `granted` (the permissions of roles given, or of a new role) unless
    /// this set holds all of it; `what` words the action for the refusal.
    pub fn may_grant(&self, what: &str, granted: &[String]) -> AppResult<()> {
        let beyond = self.missing(granted);
        if beyond.is_empty() {
            Ok(())
        } else {
            Err(escalation(what, &beyond))
        }
    }

    /// The rule for changing an account (staff or operator): nobody changes their own roles,
    /// and nobody edits, resets or disables an account holding a permission they lack.
    /// `actor_is_target` and `changes_roles` (the role set differs, see [`roles_differ`])
    /// describe the change; `target_holds` is what the account holds now.
    pub fn may_change_account(
        &self,
        actor_is_target: bool,
        changes_roles: bool,
        target_name: &str,
        target_holds: &[String],
    ) -> AppResult<()> {
        if self.all {
            return Ok(());
        }
        if actor_is_target && changes_roles {
            return Err(AppError::Forbidden(
                "You cannot change your own roles; ask another administrator.".into(),
            ));
        }
        let beyond = self.missing(target_holds);
        if beyond.is_empty() {
            Ok(())
        } else {
            Err(escalation(
                &format!("change {target_name}'s account"),
                &beyond,
            ))
        }
    }

    /// The rule for changing a role: not one the actor holds, not one holding (or being given)
    /// a permission the actor lacks.
    pub fn may_change_role(
        &self,
        actor_holds_role: bool,
        role_name: &str,
        role_holds: &[String],
        new_permissions: Option<&[String]>,
    ) -> AppResult<()> {
        if self.all {
            return Ok(());
        }
        if actor_holds_role {
            return Err(AppError::Forbidden(format!(
                "You hold the role {role_name}; ask another administrator to change it."
            )));
        }
        let mut beyond = self.missing(role_holds);
        beyond.extend(self.missing(new_permissions.unwrap_or_default()));
        beyond.sort();
        beyond.dedup();
        if beyond.is_empty() {
            Ok(())
        } else {
            Err(escalation(&format!("change the role {role_name}"), &beyond))
        }
    }
}

/// Whether `new` (role ids as sent, maybe unsorted or repeated) names other roles than `held`:
/// a form that re-sends the same roles with a new name is not a change of roles.
pub fn roles_differ(held: &[i64], new: Option<&[i64]>) -> bool {
    let Some(new) = new else { return false };
    let set = |ids: &[i64]| ids.iter().copied().collect::<BTreeSet<i64>>();
    set(held) != set(new)
}
