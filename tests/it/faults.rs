//! Keeps working (issue 14): the database going away and coming back, hostile input.
//! Outages go through a TCP proxy the test cuts, never through the shared PostgreSQL.

use std::{
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use axum::http::StatusCode;
use serde_json::json;
use sqlx::{PgPool, postgres::PgPoolOptions};
use tokio::net::{TcpListener, TcpStream};

use crate::helpers::{TestApp, assert_error_shape};

/// A TCP proxy to PostgreSQL that the test can cut (every open connection dropped, new ones
/// refused) and restore.
struct DbProxy {
    addr: SocketAddr,
    down: Arc<AtomicBool>,
    links: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
    accept: tokio::task::JoinHandle<()>,
}

impl DbProxy {
    async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let down = Arc::new(AtomicBool::new(false));
        let links: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>> = Arc::default();
        let accept = {
            let (down, links) = (down.clone(), links.clone());
            tokio::spawn(async move {
                while let Ok((mut client, _)) = listener.accept().await {
                    if down.load(Ordering::SeqCst) {
                        drop(client);
                        continue;
                    }
                    let link = tokio::spawn(async move {
                        if let Ok(mut server) = TcpStream::connect(upstream).await {
                            let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                        }
                    });
                    links.lock().unwrap().push(link);
                }
            })
        };
        Self {
            addr,
            down,
            links,
            accept,
        }
    }

    fn cut(&self) {
        self.down.store(true, Ordering::SeqCst);
        for link in self.links.lock().unwrap().drain(..) {
            link.abort();
        }
    }

    fn restore(&self) {
        self.down.store(false, Ordering::SeqCst);
    }
}

impl Drop for DbProxy {
    fn drop(&mut self) {
        self.cut();
        self.accept.abort();
    }
}

/// A pool to the test's database through `proxy`, of at most `max` connections.
async fn pool_through(pool: &PgPool, proxy: &DbProxy, max: u32) -> PgPool {
    let options = (*pool.connect_options())
        .clone()
        .host("127.0.0.1")
        .port(proxy.addr.port());
    PgPoolOptions::new()
        .max_connections(max)
        .acquire_timeout(Duration::from_secs(1))
        .test_before_acquire(false)
        .connect_with(options)
        .await
        .unwrap()
}

fn upstream(pool: &PgPool) -> SocketAddr {
    let port = pool.connect_options().get_port();
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// The database going away mid-service: requests get a quick, retryable 503 that says the
/// service is unavailable (not a 500, not "the school is being updated"), and once it is
/// back the same app serves again without a restart.
#[sqlx::test(migrations = false)]
async fn a_database_outage_is_a_retryable_503_and_recovers_by_itself(pool: PgPool) {
    let setup = TestApp::new(pool.clone()).await;
    setup.create_school("alpha").await;
    setup
        .create_staff("alpha", "admin@alpha.test", "School Admin")
        .await;
    let token = setup.school_token("alpha", "admin@alpha.test").await;

    let proxy = DbProxy::start(upstream(&pool)).await;
    let proxied = pool_through(&pool, &proxy, 4).await;
    let app = TestApp::with_config(proxied, setup.config.clone()).await;
    let client = app.school_client("alpha").token(&token);
    let res = client.get("/api/v1/school/subjects/").await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());

    proxy.cut();
    for _ in 0..3 {
        let res = client.get("/api/v1/school/subjects/").await;
        let body = assert_error_shape(&res, 503);
        assert_eq!(body["code"], "retry");
        assert!(
            body["detail"].as_str().unwrap().contains("unavailable"),
            "{body}"
        );
        assert!(res.headers.get("retry-after").is_some());
    }

    proxy.restore();
    let mut recovered = false;
    for _ in 0..20 {
        if client.get("/api/v1/school/subjects/").await.status == StatusCode::OK {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(recovered, "the app did not recover without a restart");
}

/// The tenant cache's LISTEN connection has a pool of its own: with one request connection
/// the app still serves.
#[sqlx::test(migrations = false)]
async fn one_database_connection_is_enough_to_serve(pool: PgPool) {
    let setup = TestApp::new(pool.clone()).await;
    setup.create_school("alpha").await;
    setup
        .create_staff("alpha", "admin@alpha.test", "School Admin")
        .await;
    let token = setup.school_token("alpha", "admin@alpha.test").await;
    let single = PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(2))
        .connect_with((*pool.connect_options()).clone())
        .await
        .unwrap();
    let app = TestApp::with_config(single, setup.config.clone()).await;
    // Give the listener time to take its connection.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let client = app.school_client("alpha").token(&token);
    for _ in 0..3 {
        let res = client.get("/api/v1/school/subjects/").await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    }
    let res = client
        .post(
            "/api/v1/school/subjects/",
            json!({"name": "Civic Education", "code": "CIV"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
}
