//! Permissions: `view_/add_/change_/delete_<resource>` for schools, bundled into roles that
//! users hold; platform permissions for operators. HTTP methods map onto actions, and the
//! same check guards the API and the pages.

pub mod api;
pub mod pages;
pub mod roles;

use std::collections::BTreeSet;

use axum::http::Method;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    View,
    Add,
    Change,
    Delete,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::View => "view",
            Action::Add => "add",
            Action::Change => "change",
            Action::Delete => "delete",
        }
    }

    pub fn for_method(method: &Method) -> Action {
        match *method {
            Method::GET | Method::HEAD | Method::OPTIONS => Action::View,
            Method::POST => Action::Add,
            Method::PUT | Method::PATCH => Action::Change,
            Method::DELETE => Action::Delete,
            _ => Action::Change,
        }
    }
}

const ALL: &[Action] = &[Action::View, Action::Add, Action::Change, Action::Delete];
const VIEW_ONLY: &[Action] = &[Action::View];

/// Every school resource with its label and the actions that make sense for it.
pub const SCHOOL_RESOURCES: &[(&str, &str, &[Action])] = &[
    ("users", "Staff accounts", ALL),
    ("roles", "Roles and permissions", ALL),
    ("audit", "Audit log", VIEW_ONLY),
    ("sessions", "Academic sessions", ALL),
    ("terms", "Terms", ALL),
    ("forms", "Class levels", ALL),
    ("classes", "Class arms", ALL),
    ("subjects", "Subjects", ALL),
    ("academic_classes", "Classes in a session", ALL),
    ("students", "Student register", ALL),
    ("guardians", "Guardians", ALL),
    ("registrations", "Class registrations", ALL),
    ("attendance", "Attendance", ALL),
    ("exam_sessions", "Exam sessions", ALL),
    ("exams", "Exams", ALL),
    ("marks", "Marks", ALL),
    ("results", "Results and report cards", ALL),
    ("comments", "Report comments and ratings", ALL),
    ("notices", "Notices", ALL),
    ("settings", "School settings", ALL),
    ("promotions", "Promotions", ALL),
];

pub const PLATFORM_RESOURCES: &[(&str, &str, &[Action])] = &[
    ("schools", "Schools", ALL),
    ("platform_users", "Platform users", ALL),
    ("platform_roles", "Platform roles", ALL),
    ("platform_audit", "Platform audit log", VIEW_ONLY),
];

/// "view staff accounts", "add student register", … for messages.
pub fn describe(action: Action, resource: &str) -> String {
    let label = SCHOOL_RESOURCES
        .iter()
        .chain(PLATFORM_RESOURCES)
        .find(|(r, _, _)| *r == resource)
        .map(|(_, l, _)| l.to_lowercase())
        .unwrap_or_else(|| resource.replace('_', " "));
    let verb = match action {
        Action::View => "view",
        Action::Add => "add to",
        Action::Change => "change",
        Action::Delete => "delete from",
    };
    format!("{verb} {label}")
}

pub fn codename(action: Action, resource: &str) -> String {
    format!("{}_{resource}", action.as_str())
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PermissionInfo {
    /// e.g. `change_users`
    pub codename: String,
    pub resource: String,
    pub action: String,
    pub label: String,
}

fn catalogue(resources: &[(&str, &str, &[Action])]) -> Vec<PermissionInfo> {
    resources
        .iter()
        .flat_map(|(resource, label, actions)| {
            actions.iter().map(move |a| PermissionInfo {
                codename: codename(*a, resource),
                resource: (*resource).to_owned(),
                action: a.as_str().to_owned(),
                label: format!("{} {}", capitalise(a.as_str()), label.to_lowercase()),
            })
        })
        .collect()
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

pub fn school_catalogue() -> Vec<PermissionInfo> {
    catalogue(SCHOOL_RESOURCES)
}

pub fn platform_catalogue() -> Vec<PermissionInfo> {
    catalogue(PLATFORM_RESOURCES)
}

pub fn is_school_permission(code: &str) -> bool {
    school_catalogue().iter().any(|p| p.codename == code)
}

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
