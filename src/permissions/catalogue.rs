//! The permission catalogue: `view_/add_/change_/delete_<resource>` for schools, platform
//! permissions for operators, and how HTTP methods map onto actions.

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
    // `view_school_data`: download a school's whole data (offboarding export). Apart from
    // `view_schools` (the console's list and details): the export holds every pupil's record.
    ("school_data", "Schools' full data exports", VIEW_ONLY),
    (
        "api_keys",
        "API keys",
        &[Action::View, Action::Add, Action::Delete],
    ),
    (
        "whatsapp_contacts",
        "WhatsApp contacts",
        &[Action::View, Action::Delete],
    ),
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
