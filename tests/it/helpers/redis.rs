//! A Redis of a test's own (sessions kept there, counted, or taken away).

use std::time::Duration;

use tokio::net::TcpStream;

/// A Redis of the test's own on a free port, stopped when dropped.
pub struct ThrowawayRedis {
    port: u16,
    child: Option<std::process::Child>,
}

impl ThrowawayRedis {
    pub fn free_port() -> u16 {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    }

    pub async fn start_on(port: u16) -> Self {
        let child = std::process::Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server (scripts/test installs it)");
        for _ in 0..50 {
            if TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Self {
            port,
            child: Some(child),
        }
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn keys(&self) -> usize {
        let out = std::process::Command::new("redis-cli")
            .args(["-p", &self.port.to_string(), "DBSIZE"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
    }
}

impl Drop for ThrowawayRedis {
    fn drop(&mut self) {
        self.stop();
    }
}
