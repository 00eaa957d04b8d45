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
use tower_sessions_redis_store::{
    RedisStore,
    fred::{
        prelude::{KeysInterface, Pool as RedisPool},
        types::scan::{ScanType, Scanner},
    },
};

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

/// The key under which axum-login keeps the signed-in user in a session record.
const AUTH_DATA_KEY: &str = "axum-login.data";

/// The user a stored session record (the Redis store's MessagePack) is signed in as.
fn session_user_id(bytes: &[u8]) -> Option<i64> {
    let record: Record = rmp_serde::from_slice(bytes).ok()?;
    record.data.get(AUTH_DATA_KEY)?.get("user_id")?.as_i64()
}

/// Ends every stored session of these users (a deleted school's staff): walks the session
/// keys with SCAN, a page at a time, and deletes those signed in as one of them. Returns
/// how many went. (Their sessions are refused anyway once the users are gone: axum-login
/// reloads the user on each request. This leaves nothing of them in Redis. The in-memory
/// store of a single development server cannot be walked and needs no clean-up beyond it.)
pub async fn end_sessions_of(redis: &RedisPool, users: &[i64]) -> Result<u64, String> {
    use futures::TryStreamExt;

    if users.is_empty() {
        return Ok(0);
    }
    let client = redis.next();
    let mut pages = std::pin::pin!(client.scan("*", Some(500), Some(ScanType::String)));
    let mut ended = 0;
    while let Some(mut page) = pages.try_next().await.map_err(|e| e.to_string())? {
        for key in page.take_results().unwrap_or_default() {
            let bytes: Option<Vec<u8>> = client.get(&key).await.map_err(|e| e.to_string())?;
            if bytes
                .as_deref()
                .and_then(session_user_id)
                .is_some_and(|id| users.contains(&id))
            {
                let gone: i64 = client.del(&key).await.map_err(|e| e.to_string())?;
                ended += u64::try_from(gone).unwrap_or_default();
            }
        }
        page.next();
    }
    Ok(ended)
}
