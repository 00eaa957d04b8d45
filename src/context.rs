//! Request contexts handed to handlers: the school's (or platform's) transaction, the
//! authenticated user and their permissions, already checked against the route's guard.

use axum::{
    extract::FromRequestParts,
    http::{Method, request::Parts},
};
use axum_messages::Messages;
use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::{
    audit::trail::{Actor, Entry, Trail},
    auth::{
        account::User,
        session::AuthSession,
        tokens::{self, Audience, Claims},
    },
    db::{self, Tx},
    error::{AppError, AppResult},
    http::{RequestMeta, extract::request_meta},
    permissions::{
        access::{Guard, PermissionSet},
        roles,
    },
    state::AppState,
    tenancy::scope::{SchoolRef, Scope},
    web::{
        flash::{self, Flash},
        htmx::is_htmx,
    },
};

/// A verified Bearer token, put in the request by tenant resolution. Its user is loaded in
/// the request's transaction (`SchoolCtx`, `PlatformCtx`).
#[derive(Clone, Debug)]
pub struct TokenClaims {
    pub claims: Claims,
    pub audience: Audience,
}

/// A live API key, put in the request by tenant resolution: the request acts in the key's
/// school, as its service account, with its permissions only.
#[derive(Clone, Debug)]
pub struct KeyAuth {
    pub client_id: i64,
    pub user_id: i64,
    pub permissions: Vec<String>,
}

/// A cookie session's user (pages), if any.
async fn session_user(parts: &mut Parts, state: &AppState) -> AppResult<Option<User>> {
    if parts.extensions.get::<AuthSession>().is_none() {
        return Ok(None);
    }
    let session = AuthSession::from_request_parts(parts, state)
        .await
        .map_err(|_| AppError::Internal(anyhow::anyhow!("auth session unavailable")))?;
    Ok(session.user.map(|su| su.user))
}

/// The flash messages queued for a full page (GET, not htmx); they are taken (and so shown
/// once) only when the page's layout is rendered, so a download or a refused GET leaves them
/// for the page that follows. Other requests leave them queued.
/// leave them queued for the page that follows.
async fn page_flash(parts: &mut Parts, state: &AppState) -> Option<Messages> {
    if parts.method != Method::GET || is_htmx(&parts.headers) {
        return None;
    }
    // API routes have no message layer.
    Messages::from_request_parts(parts, state).await.ok()
}

fn not_authenticated() -> AppError {
    AppError::Unauthenticated("Authentication credentials were not provided.".into())
}

fn guard_of(parts: &Parts) -> AppResult<Guard> {
    parts.extensions.get::<Guard>().copied().ok_or_else(|| {
        AppError::Internal(anyhow::anyhow!(
            "route {} has no permission guard",
            parts.uri.path()
        ))
    })
}

fn check(perms: &PermissionSet, guard: Guard, parts: &Parts) -> AppResult<()> {
    match guard.required(&parts.method) {
        Some((action, resource)) if !perms.can(action, resource) => {
            let what = crate::permissions::catalogue::describe(action, resource);
            Err(AppError::Forbidden(format!(
                "Your role does not allow you to {what} (permission {}_{resource}). Ask an administrator if you need it.",
                action.as_str()
            )))
        }
        _ => Ok(()),
    }
}

async fn audit_in(
    tx: &mut Tx,
    trail: Trail,
    user: &User,
    meta: &RequestMeta,
    entry: Entry<'_>,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let actor = Actor {
        id: Some(user.id),
        email: Some(user.email.clone()),
    };
    crate::audit::trail::record(tx, trail, &actor, meta, entry, now).await?;
    Ok(())
}

/// A request inside one school.
pub struct SchoolCtx {
    pub tx: Tx,
    /// This request's place among the school transactions open at once.
    _slot: db::RequestSlot,
    /// Messages queued by the previous action, for a full page (`take_flash`).
    flash: Option<Messages>,
    pub db: db::Db,
    pub school: SchoolRef,
    pub user: User,
    pub perms: PermissionSet,
    pub meta: RequestMeta,
    pub now: DateTime<Utc>,
}

impl FromRequestParts<AppState> for SchoolCtx {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> AppResult<Self> {
        let school = match parts.extensions.get::<Scope>() {
            Some(Scope::School(s)) => s.clone(),
            _ => {
                return Err(AppError::NoSchool(
                    "There is no school at this address.".into(),
                ));
            }
        };
        let guard = guard_of(parts)?;
        let token = parts.extensions.get::<TokenClaims>().cloned();
        let key = parts.extensions.get::<KeyAuth>().cloned();
        let session_user = match (&token, &key) {
            (None, None) => Some(
                session_user(parts, state)
                    .await?
                    .ok_or_else(not_authenticated)?,
            ),
            _ => None,
        };
        // A cookie session is only ever staff of this school.
        if let Some(user) = &session_user
            && user.client_id != Some(school.id)
        {
            return Err(AppError::Unauthenticated("Sign in to this school.".into()));
        }
        let (mut tx, slot) = state.db.begin_request(&school.schema).await?;
        let (user, codes) = match (token, key, session_user) {
            // An API key acts as its own service account, with the key's permissions only;
            // the resolver chose the key's school.
            (None, Some(key), _) => {
                if key.client_id != school.id {
                    return Err(AppError::forbidden());
                }
                let user = crate::auth::account::get(&mut tx, key.user_id)
                    .await?
                    .ok_or_else(not_authenticated)?;
                (user, key.permissions)
            }
            // The token's user and permissions in one round trip, inside the transaction.
            (Some(t), _, _) => {
                let (user, codes) = tokens::load_school_token_user(&mut tx, &t.claims).await?;
                let member = user.client_id == Some(school.id) && t.audience == Audience::School;
                // Platform superadmins may act in a school through the API (X-Schema-Name).
                let superadmin = user.is_superadmin && t.audience == Audience::Platform;
                if !(member || superadmin) {
                    return Err(AppError::forbidden());
                }
                (user, codes)
            }
            (None, None, Some(user)) => {
                let codes = roles::user_permissions(&mut tx, user.id).await?;
                (user, codes)
            }
            (None, None, None) => return Err(not_authenticated()),
        };
        let perms = if user.is_superadmin {
            PermissionSet::everything()
        } else {
            PermissionSet::from_codes(codes)
        };
        check(&perms, guard, parts)?;
        Ok(Self {
            tx,
            _slot: slot,
            flash: page_flash(parts, state).await,
            db: state.db.clone(),
            school,
            user,
            perms,
            meta: request_meta(parts, state.config.trust_proxy),
            now: Utc::now(),
        })
    }
}

impl SchoolCtx {
    /// The date at the school now (its clock, not the server's).
    pub fn today(&self) -> chrono::NaiveDate {
        self.local(self.now).date_naive()
    }

    /// A moment on the school's clock, for pages and printouts (the API speaks UTC).
    pub fn local(&self, at: DateTime<Utc>) -> DateTime<chrono_tz::Tz> {
        at.with_timezone(&self.school.time_zone)
    }

    /// Rolls back and starts a fresh school transaction (after a failed statement, to
    /// re-render a form).
    pub async fn restart(&mut self) -> AppResult<()> {
        let fresh = self.db.begin_school(&self.school.schema).await?;
        let old = std::mem::replace(&mut self.tx, fresh);
        old.rollback().await?;
        Ok(())
    }

    pub fn actor(&self) -> Actor {
        Actor {
            id: Some(self.user.id),
            email: Some(self.user.email.clone()),
        }
    }

    /// Writes an audit row in this request's transaction.
    pub async fn audit(
        &mut self,
        action: &str,
        entity: &str,
        entity_id: impl ToString,
        changes: Value,
    ) -> AppResult<()> {
        let entry = Entry {
            action,
            entity,
            entity_id: Some(entity_id.to_string()),
            changes,
        };
        audit_in(
            &mut self.tx,
            Trail::School,
            &self.user,
            &self.meta,
            entry,
            self.now,
        )
        .await
    }

    /// Records that this user looked at (or exported) these pupils' results or records;
    /// the handler commits.
    pub async fn record_view(
        &mut self,
        kind: crate::audit::views::ViewKind,
        what: &str,
        pupils: crate::audit::views::Pupils<'_>,
    ) -> AppResult<()> {
        let actor = Actor {
            id: Some(self.user.id),
            email: Some(self.user.email.clone()),
        };
        crate::audit::views::record(
            &mut self.tx,
            &actor,
            &self.meta,
            kind,
            what,
            pupils,
            self.now,
        )
        .await?;
        Ok(())
    }

    /// Audits the creation of `value`: every field as its new value.
    pub async fn audit_created<T: serde::Serialize>(
        &mut self,
        entity: &str,
        id: i64,
        value: &T,
    ) -> AppResult<()> {
        let fields = serde_json::to_value(value).map_err(|e| AppError::Internal(e.into()))?;
        self.audit("create", entity, id, crate::audit::trail::created(&fields))
            .await
    }

    /// Audits a change from `before` to `after`: the fields that differ, each from → to.
    pub async fn audit_updated<T: serde::Serialize>(
        &mut self,
        entity: &str,
        id: i64,
        before: &T,
        after: &T,
    ) -> AppResult<()> {
        let to = |v: &T| serde_json::to_value(v).map_err(|e| AppError::Internal(e.into()));
        let changes = crate::audit::trail::diff(&to(before)?, &to(after)?);
        self.audit("update", entity, id, changes).await
    }

    pub async fn commit(self) -> AppResult<()> {
        self.tx.commit().await?;
        Ok(())
    }
}

/// A request on the platform (system API or console), by a platform user.
pub struct PlatformCtx {
    pub tx: Tx,
    /// Messages queued by the previous action, for a full page (`take_flash`).
    flash: Option<Messages>,
    pub user: User,
    pub perms: PermissionSet,
    pub meta: RequestMeta,
    pub now: DateTime<Utc>,
}

impl FromRequestParts<AppState> for PlatformCtx {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> AppResult<Self> {
        match parts.extensions.get::<Scope>() {
            Some(Scope::Platform | Scope::Global) => {}
            _ => return Err(AppError::not_found()),
        }
        let guard = guard_of(parts)?;
        let token = parts.extensions.get::<TokenClaims>().cloned();
        let mut tx = db::begin_platform(state.db.main()).await?;
        let (user, via_token) = match &token {
            Some(t) => {
                if t.audience != Audience::Platform {
                    return Err(AppError::forbidden());
                }
                (tokens::load_token_user(&mut tx, &t.claims).await?, true)
            }
            None => (
                session_user(parts, state)
                    .await?
                    .ok_or_else(not_authenticated)?,
                false,
            ),
        };
        if !user.is_platform() {
            // A school's cookie is no session on the console; a school token is refused.
            return Err(if via_token {
                AppError::forbidden()
            } else {
                AppError::Unauthenticated("Sign in to the platform console.".into())
            });
        }
        let perms = if user.is_superadmin {
            PermissionSet::everything()
        } else {
            let codes = roles::platform_user_permissions(&mut tx, user.id).await?;
            PermissionSet::from_codes(codes)
        };
        check(&perms, guard, parts)?;
        Ok(Self {
            tx,
            flash: page_flash(parts, state).await,
            user,
            perms,
            meta: request_meta(parts, state.config.trust_proxy),
            now: Utc::now(),
        })
    }
}

impl PlatformCtx {
    /// Writes a platform audit row in this request's transaction.
    pub async fn audit(
        &mut self,
        action: &str,
        entity: &str,
        entity_id: impl ToString,
        changes: Value,
    ) -> AppResult<()> {
        let entry = Entry {
            action,
            entity,
            entity_id: Some(entity_id.to_string()),
            changes,
        };
        audit_in(
            &mut self.tx,
            Trail::Platform,
            &self.user,
            &self.meta,
            entry,
            self.now,
        )
        .await
    }

    pub async fn commit(self) -> AppResult<()> {
        self.tx.commit().await?;
        Ok(())
    }
}

impl SchoolCtx {
    /// The queued flash messages, taken: the layout prints them once.
    pub fn take_flash(&self) -> Vec<Flash> {
        self.flash.clone().map(flash::take).unwrap_or_default()
    }
}

impl PlatformCtx {
    /// The queued flash messages, taken: the layout prints them once.
    pub fn take_flash(&self) -> Vec<Flash> {
        self.flash.clone().map(flash::take).unwrap_or_default()
    }
}
