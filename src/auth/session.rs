//! Cookie sessions for the browser: axum-login over tower-sessions, stored in Redis when
//! `REDIS_URL` is set and in memory otherwise.

use axum_login::{AuthUser, AuthnBackend, UserId};
use sqlx::PgPool;
use tower_sessions::{
    Expiry, MemoryStore, SessionManagerLayer, SessionStore,
    cookie::{SameSite, time::Duration as CookieDuration},
    session::{Id, Record},
    session_store,
};
use tower_sessions_redis_store::{RedisStore, fred::prelude::Pool as RedisPool};

use crate::auth::account::User;

/// The user held by a cookie session.
#[derive(Clone, Debug)]
pub struct SessionUser {
    pub user: User,
    auth_hash: Vec<u8>,
}

impl AuthUser for SessionUser {
    type Id = i64;

    fn id(&self) -> i64 {
        self.user.id
    }

    fn session_auth_hash(&self) -> &[u8] {
        &self.auth_hash
    }
}

impl From<User> for SessionUser {
    fn from(user: User) -> Self {
        let auth_hash = user.session_auth_hash();
        Self { user, auth_hash }
    }
}

#[derive(Clone)]
pub struct Backend {
    pool: PgPool,
}

impl Backend {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

/// Credentials already checked by `auth::login::check_credentials`.
pub struct Verified(pub User);

impl AuthnBackend for Backend {
    type User = SessionUser;
    type Credentials = Verified;
    type Error = sqlx::Error;

    async fn authenticate(&self, creds: Verified) -> Result<Option<SessionUser>, sqlx::Error> {
        Ok(Some(creds.0.into()))
    }

    /// A disabled user, or one whose password changed, no longer has a session.
    async fn get_user(&self, id: &UserId<Self>) -> Result<Option<SessionUser>, sqlx::Error> {
        let mut conn = self.pool.acquire().await?;
        Ok(crate::auth::account::get(&mut conn, *id)
            .await?
            .filter(|u| u.is_active)
            .map(SessionUser::from))
    }
}

pub type AuthSession = axum_login::AuthSession<Backend>;

/// Either store, behind one type so the router type does not depend on configuration.
#[derive(Debug, Clone)]
pub enum Store {
    Memory(MemoryStore),
    Redis(RedisStore<RedisPool>),
}

#[async_trait::async_trait]
impl SessionStore for Store {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        match self {
            Store::Memory(s) => s.create(record).await,
            Store::Redis(s) => s.create(record).await,
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        match self {
            Store::Memory(s) => s.save(record).await,
            Store::Redis(s) => s.save(record).await,
        }
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        match self {
            Store::Memory(s) => s.load(id).await,
            Store::Redis(s) => s.load(id).await,
        }
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        match self {
            Store::Memory(s) => s.delete(id).await,
            Store::Redis(s) => s.delete(id).await,
        }
    }
}

/// Host-only cookie (no Domain attribute): a session belongs to the host that made it. Over
/// https its name carries the `__Host-` prefix, so the browser refuses it from a sibling
/// subdomain (another school's host) or without Secure.
pub fn session_layer(store: Store, secure: bool) -> SessionManagerLayer<Store> {
    SessionManagerLayer::new(store)
        .with_name(if secure {
            "__Host-schoolyard_session"
        } else {
            "schoolyard_session"
        })
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(secure)
        .with_path("/")
        .with_expiry(Expiry::OnInactivity(CookieDuration::hours(8)))
}
