//! The layout every page shares: title, brand, navigation by permission, asset URLs.

use super::assets;
use super::flash::Flash;
use crate::{
    context::{PlatformCtx, SchoolCtx},
    permissions::access::PermissionSet,
};

/// Data every page's layout needs.
pub struct Layout {
    pub title: String,
    pub csrf: String,
    /// "Schoolyard" on the platform, the school's name at a school host.
    pub brand: String,
    pub user_name: Option<String>,
    pub nav: Vec<NavItem>,
    pub active: &'static str,
    pub is_platform: bool,
    /// One-time messages from the previous action ("Saved."), printed in the message area.
    pub flash: Vec<Flash>,
    /// The clock times are shown in: the school's at a school, UTC on the console.
    pub time_zone: chrono_tz::Tz,
}

impl Layout {
    /// A fresh key for a create form (see `web::once`): a repeated post of the same form
    /// is sent where the first went instead of creating the record twice.
    pub fn form_key(&self) -> String {
        crate::auth::csrf::new_token()
    }

    /// A moment as the page shows it: "3 Dec 2026 10:15" on the page's clock.
    pub fn when(&self, at: impl Moment) -> String {
        let local = at.utc().with_timezone(&self.time_zone);
        if self.time_zone == chrono_tz::UTC {
            local.format("%-d %b %Y %H:%M UTC").to_string()
        } else {
            local.format("%-d %b %Y %H:%M").to_string()
        }
    }
}

/// A stored moment, however a template holds it (by value or behind references).
pub trait Moment {
    fn utc(&self) -> chrono::DateTime<chrono::Utc>;
}

impl Moment for chrono::DateTime<chrono::Utc> {
    fn utc(&self) -> chrono::DateTime<chrono::Utc> {
        *self
    }
}

impl<T: Moment + ?Sized> Moment for &T {
    fn utc(&self) -> chrono::DateTime<chrono::Utc> {
        (**self).utc()
    }
}

pub struct NavItem {
    pub key: &'static str,
    pub label: &'static str,
    pub href: &'static str,
}

impl Layout {
    pub fn anonymous(title: &str, brand: &str, csrf: String, is_platform: bool) -> Self {
        Self {
            title: title.to_owned(),
            csrf,
            brand: brand.to_owned(),
            user_name: None,
            nav: Vec::new(),
            active: "",
            is_platform,
            flash: Vec::new(),
            time_zone: chrono_tz::UTC,
        }
    }

    pub fn platform(title: &str, active: &'static str, csrf: String, user_name: &str) -> Self {
        Self {
            title: title.to_owned(),
            csrf,
            brand: "Schoolyard".to_owned(),
            user_name: Some(user_name.to_owned()),
            nav: vec![
                NavItem {
                    key: "schools",
                    label: "Schools",
                    href: "/schools",
                },
                NavItem {
                    key: "users",
                    label: "Platform users",
                    href: "/users",
                },
                NavItem {
                    key: "api_keys",
                    label: "API keys",
                    href: "/api-keys",
                },
                NavItem {
                    key: "whatsapp",
                    label: "WhatsApp",
                    href: "/whatsapp",
                },
                NavItem {
                    key: "docs",
                    label: "API docs",
                    href: "/api/docs/",
                },
            ],
            active,
            is_platform: true,
            flash: Vec::new(),
            time_zone: chrono_tz::UTC,
        }
    }

    pub fn school(
        title: &str,
        active: &'static str,
        csrf: String,
        school_name: &str,
        user_name: &str,
        perms: &PermissionSet,
    ) -> Self {
        let mut nav = vec![NavItem {
            key: "dashboard",
            label: "Dashboard",
            href: "/",
        }];
        let items = [
            ("view_students", "students", "Students", "/students"),
            ("view_academic_classes", "classes", "Classes", "/classes"),
            ("view_exam_sessions", "exams", "Exams", "/exams"),
            ("view_notices", "notices", "Notices", "/notices"),
            ("view_sessions", "academics", "Academics", "/academics"),
            (
                "view_promotions",
                "promotions",
                "End of year",
                "/promotions",
            ),
            ("view_users", "staff", "Staff", "/staff"),
            ("view_roles", "roles", "Roles", "/roles"),
            ("view_audit", "audit", "Audit log", "/audit"),
            ("view_settings", "settings", "Settings", "/settings"),
        ];
        for (perm, key, label, href) in items {
            if perms.has(perm) {
                nav.push(NavItem { key, label, href });
            }
            // Class teachers take registers without reading every class's.
            if key == "classes"
                && ["view_attendance", "add_attendance", "change_attendance"]
                    .iter()
                    .any(|p| perms.has(p))
            {
                nav.push(NavItem {
                    key: "attendance",
                    label: "Attendance",
                    href: "/attendance",
                });
            }
        }
        Self {
            title: title.to_owned(),
            csrf,
            brand: school_name.to_owned(),
            user_name: Some(user_name.to_owned()),
            nav,
            active,
            is_platform: false,
            flash: Vec::new(),
            time_zone: chrono_tz::UTC,
        }
    }

    pub fn css_url(&self) -> String {
        assets::url("app.css")
    }

    pub fn htmx_url(&self) -> String {
        assets::url("vendor/htmx.min.js")
    }

    pub fn js_url(&self) -> String {
        assets::url("app.js")
    }
}

impl SchoolCtx {
    /// The layout of a school page for this user.
    pub fn layout(&self, title: &str, active: &'static str, csrf: &str) -> Layout {
        Layout {
            flash: self.take_flash(),
            time_zone: self.school.time_zone,
            ..Layout::school(
                title,
                active,
                csrf.to_owned(),
                &self.school.name,
                &self.user.full_name,
                &self.perms,
            )
        }
    }
}

impl PlatformCtx {
    /// The layout of a console page for this operator.
    pub fn layout(&self, title: &str, active: &'static str, csrf: &str) -> Layout {
        Layout {
            flash: self.take_flash(),
            ..Layout::platform(title, active, csrf.to_owned(), &self.user.full_name)
        }
    }
}
