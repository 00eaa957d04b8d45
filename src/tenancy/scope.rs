//! Where a request runs: globally, on the platform console, or in one school.

use std::sync::Arc;

use serde::Serialize;

/// A school as the request pipeline needs it. Cheap to clone.
#[derive(Clone, Debug, Serialize)]
pub struct SchoolRef {
    pub id: i64,
    pub schema: Arc<str>,
    pub name: Arc<str>,
    pub code: Arc<str>,
    pub is_active: bool,
    /// The school's clock: what its pages show and what "today" is there.
    pub time_zone: chrono_tz::Tz,
}

/// Where most of our schools are.
pub const DEFAULT_TIME_ZONE: chrono_tz::Tz = chrono_tz::Africa::Lagos;

/// Where a request runs.
#[derive(Clone, Debug)]
pub enum Scope {
    /// Global paths: docs, health, static files, the system API, the chatbot.
    Global,
    /// The platform console at the main domain.
    Platform,
    /// One school.
    School(SchoolRef),
}

impl Scope {
    pub fn school(&self) -> Option<&SchoolRef> {
        match self {
            Scope::School(s) => Some(s),
            _ => None,
        }
    }
}
