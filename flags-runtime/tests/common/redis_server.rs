//! A real `redis-server` of a test's own, on a free port, that the test can stop and start
//! again. Shared with the `flags` command's tests (included there by path).
//!
//! Without `redis-server` on the PATH, a test is skipped with a notice, unless
//! `REQUIRE_REDIS_SERVER=1` (as in CI), which makes it fail.

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct RedisServer {
    port: u16,
    child: Option<Child>,
    dir: tempfile::TempDir,
}

impl RedisServer {
    /// A server on a free port, started; `None` (after a notice) when `redis-server` is
    /// missing and not required.
    pub fn start(test: &str) -> Option<RedisServer> {
        let mut server = Self::stopped(test)?;
        server.restart();
        Some(server)
    }

    /// A free port for a server that is not started yet (see [`RedisServer::restart`]).
    pub fn stopped(test: &str) -> Option<RedisServer> {
        let installed = Command::new("redis-server")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        if !installed {
            assert!(
                std::env::var("REQUIRE_REDIS_SERVER").as_deref() != Ok("1"),
                "{test}: redis-server is not on the PATH and REQUIRE_REDIS_SERVER=1; install it (apt-get install redis-server)"
            );
            eprintln!(
                "SKIPPED {test}: redis-server is not on the PATH (install it, or set REQUIRE_REDIS_SERVER=1 to make this a failure)"
            );
            return None;
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        Some(RedisServer {
            port,
            child: None,
            dir: tempfile::tempdir().expect("a directory for redis-server"),
        })
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts the server (again, empty: nothing is saved) and waits until it answers.
    pub fn restart(&mut self) {
        self.kill();
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .arg("--dir")
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start redis-server");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.answers() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Kills the server, as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn answers(&self) -> bool {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
        let mut answer = [0; 5];
        stream.write_all(b"PING\r\n").is_ok()
            && stream.read_exact(&mut answer).is_ok()
            && &answer == b"+PONG"
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}
