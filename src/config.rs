//! Configuration from the environment, with development defaults that work on a machine
//! with a local PostgreSQL.

use std::time::Duration;

use anyhow::bail;

#[derive(Clone, Debug)]
pub struct Config {
    pub database_url: String,
    pub redis_url: Option<String>,
    /// Host of the platform console, e.g. `localhost` or `example.com` (no port).
    pub main_domain: String,
    pub jwt_secret: String,
    /// `SCHOOLYARD_DEV=1`: a development machine, where `serve` and `worker` accept the
    /// development JWT secret (the demo always may).
    pub development: bool,
    /// `METRICS_TOKEN`: `/metrics` answers only a request bearing it (and on a development
    /// machine without one); never to anyone at a school's address.
    pub metrics_token: Option<String>,
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    /// Mark cookies `Secure`; set when the site is served over https.
    pub secure_cookies: bool,
    /// `TRUST_PROXY`: how many proxies of our own stand in front (`true` means one). The
    /// client address is the `X-Forwarded-For` entry the outermost of them added, counted
    /// from the right; entries further left were written by the client and are ignored.
    pub trust_proxy: usize,
    pub db_max_connections: u32,
    pub db_max_lifetime: Duration,
    /// `DB_SCHOOL_POOLS`: school transactions go to one of this many small pools, chosen
    /// by a hash of the school's schema, so each connection serves a bounded set of schools.
    pub db_school_pools: usize,
    /// `DB_SCHOOLS_PER_CONNECTION`: a connection is retired once its pool has served this
    /// many distinct schools since the connection opened (each school costs a backend
    /// about 0.15 MiB of catalog cache).
    pub db_schools_per_connection: usize,
    /// How long a client may take to send a request body before a 408.
    pub body_read_timeout: Duration,
    /// How long a request waits for a database connection before a 503.
    pub db_acquire_timeout: Duration,
    pub migrate_concurrency: usize,
    /// Background jobs run at once per process (each renders one class at a time).
    pub job_workers: usize,
    /// How long a host -> school lookup is cached when no change notification arrives.
    pub tenant_cache_ttl: Duration,
    /// Failed sign-ins one address may make against one account per window before that
    /// pair (not the account) is refused.
    pub login_max_failures_per_guesser: i32,
    /// Failed sign-ins one address may make within one school per window.
    pub login_max_failures_per_address: i32,
    /// Failures on one account (from anywhere) after which it is paced: one attempt a
    /// second from addresses it never signed in from.
    pub login_slow_after_failures: i32,
    pub login_lockout: Duration,
    pub json_logs: bool,
    pub whatsapp: WhatsAppConfig,
}

/// The WhatsApp channel. Without an app secret and verify token the webhook answers 404:
/// there is no default for either.
#[derive(Clone, Debug, Default)]
pub struct WhatsAppConfig {
    /// `WHATSAPP_APP_SECRET`: the Meta app's secret; signs every webhook delivery.
    pub app_secret: Option<String>,
    /// `WHATSAPP_VERIFY_TOKEN`: what Meta echoes in the verification handshake.
    pub verify_token: Option<String>,
    /// `WHATSAPP_API_BASE`: the Graph API with its version (tests point it at a fake).
    pub api_base: String,
    /// `WHATSAPP_SHARED_NUMBER_ID` / `WHATSAPP_SHARED_ACCESS_TOKEN`: the platform's shared
    /// number, for schools without their own.
    pub shared_number_id: Option<String>,
    pub shared_access_token: Option<String>,
    /// `WHATSAPP_SHARED_DISPLAY_PHONE`: the shared number as parents dial it.
    pub shared_display_phone: Option<String>,
    /// `WHATSAPP_TOKEN_KEY`: 32 bytes in hex or base64 that seal schools' access tokens.
    pub token_key: Option<[u8; 32]>,
    /// Messages per second one business number may send (WhatsApp allows 80).
    pub messages_per_second: u32,
}

const DEFAULT_GRAPH_API: &str = "https://graph.facebook.com/v23.0";

fn parse_key(name: &str) -> anyhow::Result<Option<[u8; 32]>> {
    use base64::Engine as _;
    let Some(raw) = var(name) else {
        return Ok(None);
    };
    let raw = raw.trim();
    let bytes = hex::decode(raw)
        .ok()
        .or_else(|| base64::engine::general_purpose::STANDARD.decode(raw).ok())
        .unwrap_or_default();
    match <[u8; 32]>::try_from(bytes.as_slice()) {
        Ok(key) => Ok(Some(key)),
        Err(_) => bail!("{name} must be 32 bytes in hex (64 characters) or base64"),
    }
}

impl WhatsAppConfig {
    fn from_env() -> anyhow::Result<Self> {
        let config = Self {
            app_secret: var("WHATSAPP_APP_SECRET"),
            verify_token: var("WHATSAPP_VERIFY_TOKEN"),
            api_base: var("WHATSAPP_API_BASE")
                .unwrap_or_else(|| DEFAULT_GRAPH_API.to_owned())
                .trim_end_matches('/')
                .to_owned(),
            shared_number_id: var("WHATSAPP_SHARED_NUMBER_ID"),
            shared_access_token: var("WHATSAPP_SHARED_ACCESS_TOKEN"),
            shared_display_phone: var("WHATSAPP_SHARED_DISPLAY_PHONE"),
            token_key: parse_key("WHATSAPP_TOKEN_KEY")?,
            messages_per_second: parse("WHATSAPP_MESSAGES_PER_SECOND", 80)?,
        };
        if config.messages_per_second == 0 {
            bail!("WHATSAPP_MESSAGES_PER_SECOND must be at least 1");
        }
        Ok(config)
    }

    /// Test configuration: fixed secrets and a Graph API that nothing answers until a test
    /// points it at its fake server.
    pub fn for_tests() -> Self {
        Self {
            app_secret: Some("test-app-secret".to_owned()),
            verify_token: Some("test-verify-token".to_owned()),
            api_base: "http://127.0.0.1:9/v23.0".to_owned(),
            shared_number_id: Some("100000000000001".to_owned()),
            shared_access_token: Some("test-shared-token".to_owned()),
            shared_display_phone: Some("+2347000000001".to_owned()),
            token_key: Some([7; 32]),
            messages_per_second: 80,
        }
    }
}

const DEV_JWT_SECRET: &str = "schoolyard-development-secret-change-me-in-production";

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn parse<T: std::str::FromStr>(name: &str, default: T) -> anyhow::Result<T>
where
    T::Err: std::fmt::Display,
{
    match var(name) {
        None => Ok(default),
        Some(raw) => raw
            .parse()
            .map_err(|e| anyhow::anyhow!("{name}={raw:?} is not valid: {e}")),
    }
}

/// `TRUST_PROXY`: a number of hops, or a boolean (`true` = one proxy).
fn parse_proxy_hops() -> anyhow::Result<usize> {
    match var("TRUST_PROXY") {
        Some(raw) if raw.trim().chars().all(|c| c.is_ascii_digit()) => raw
            .trim()
            .parse()
            .map_err(|e| anyhow::anyhow!("TRUST_PROXY={raw:?} is not valid: {e}")),
        _ => Ok(usize::from(parse_bool("TRUST_PROXY", false)?)),
    }
}

fn parse_bool(name: &str, default: bool) -> anyhow::Result<bool> {
    match var(name).as_deref().map(str::to_ascii_lowercase).as_deref() {
        None => Ok(default),
        Some("1" | "true" | "yes" | "on") => Ok(true),
        Some("0" | "false" | "no" | "off") => Ok(false),
        Some(other) => bail!("{name}={other:?} is not a boolean"),
    }
}

impl Config {
    pub fn from_env() -> anyhow::Result<Self> {
        let jwt_secret = var("JWT_SECRET").unwrap_or_else(|| DEV_JWT_SECRET.to_owned());
        if jwt_secret.len() < 32 {
            bail!("JWT_SECRET must be at least 32 characters");
        }
        let config = Self {
            database_url: var("DATABASE_URL")
                .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/schoolyard".to_owned()),
            redis_url: var("REDIS_URL"),
            main_domain: var("MAIN_DOMAIN")
                .unwrap_or_else(|| "localhost".to_owned())
                .to_ascii_lowercase(),
            jwt_secret,
            development: parse_bool("SCHOOLYARD_DEV", false)?,
            metrics_token: var("METRICS_TOKEN"),
            access_token_ttl: Duration::from_secs(parse("ACCESS_TOKEN_TTL_SECS", 15 * 60)?),
            refresh_token_ttl: Duration::from_secs(parse(
                "REFRESH_TOKEN_TTL_SECS",
                14 * 24 * 3600,
            )?),
            secure_cookies: parse_bool("SECURE_COOKIES", false)?,
            trust_proxy: parse_proxy_hops()?,
            // More backends than cores make PostgreSQL contend with itself: on the 2-core
            // benchmark machine 16 gave a third more throughput and half the p99 of 32.
            db_max_connections: parse("DB_MAX_CONNECTIONS", 16)?,
            db_max_lifetime: Duration::from_secs(parse("DB_MAX_LIFETIME_SECS", 30 * 60)?),
            db_school_pools: parse("DB_SCHOOL_POOLS", 8)?,
            db_schools_per_connection: parse("DB_SCHOOLS_PER_CONNECTION", 200)?,
            db_acquire_timeout: Duration::from_secs(parse("DB_ACQUIRE_TIMEOUT_SECS", 3)?),
            body_read_timeout: Duration::from_secs(parse("BODY_READ_TIMEOUT_SECS", 30)?),
            migrate_concurrency: parse("MIGRATE_CONCURRENCY", 4)?,
            job_workers: parse("JOB_WORKERS", 2)?,
            tenant_cache_ttl: Duration::from_secs(parse("TENANT_CACHE_TTL_SECS", 60)?),
            login_max_failures_per_guesser: parse("LOGIN_MAX_FAILURES_PER_GUESSER", 5)?,
            login_max_failures_per_address: parse("LOGIN_MAX_FAILURES_PER_ADDRESS", 30)?,
            login_slow_after_failures: parse("LOGIN_SLOW_AFTER_FAILURES", 10)?,
            login_lockout: Duration::from_secs(parse("LOGIN_LOCKOUT_SECS", 15 * 60)?),
            json_logs: parse_bool("LOG_JSON", false)?,
            whatsapp: WhatsAppConfig::from_env()?,
        };
        if config.db_school_pools == 0 || config.db_schools_per_connection == 0 {
            bail!("DB_SCHOOL_POOLS and DB_SCHOOLS_PER_CONNECTION must be at least 1");
        }
        if config.migrate_concurrency == 0 {
            bail!("MIGRATE_CONCURRENCY must be at least 1");
        }
        Ok(config)
    }

    /// Configuration for tests: development defaults pointed at the given database.
    pub fn for_tests(database_url: &str) -> Self {
        Self {
            database_url: database_url.to_owned(),
            redis_url: None,
            main_domain: "localhost".to_owned(),
            jwt_secret: DEV_JWT_SECRET.to_owned(),
            development: true,
            metrics_token: None,
            access_token_ttl: Duration::from_secs(900),
            refresh_token_ttl: Duration::from_secs(3600),
            secure_cookies: false,
            trust_proxy: 0,
            db_max_connections: 16,
            db_max_lifetime: Duration::from_secs(600),
            db_school_pools: 4,
            db_schools_per_connection: 200,
            db_acquire_timeout: Duration::from_secs(3),
            body_read_timeout: Duration::from_secs(30),
            migrate_concurrency: 4,
            job_workers: 2,
            tenant_cache_ttl: Duration::from_secs(60),
            login_max_failures_per_guesser: 5,
            login_max_failures_per_address: 30,
            login_slow_after_failures: 10,
            login_lockout: Duration::from_secs(900),
            json_logs: false,
            whatsapp: WhatsAppConfig::for_tests(),
        }
    }

    /// `serve` and `worker` refuse to run with the development JWT secret (anyone could
    /// forge tokens) unless this is a development machine.
    pub fn refuse_dev_secret(&self) -> anyhow::Result<()> {
        if self.is_dev_secret() && !self.development {
            bail!(
                "JWT_SECRET is not set: the development secret would let anyone forge tokens. \
                 Set JWT_SECRET to a random value of 32+ characters (or SCHOOLYARD_DEV=1 on a \
                 development machine)."
            );
        }
        Ok(())
    }

    pub fn is_dev_secret(&self) -> bool {
        self.jwt_secret == DEV_JWT_SECRET
    }
}
