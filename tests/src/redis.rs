//! A throwaway `redis-server` for tests: the verifier's store conformance
//! suite and the HTTP tests in `tests/tests/redis.rs` both start theirs with
//! [`RedisServer::start`].
//!
//! Each server listens on a free port of 127.0.0.1, keeps its files in a
//! fresh temporary folder, never saves on its own (`--save ''`, no
//! append-only file) unless started with [`RedisServer::start_durable`],
//! and is killed on drop. Tests that take Redis away from
//! a verifier use [`RedisServer::kill`] and [`RedisServer::restart`] (a crash
//! and a restart on the same port) or [`RedisServer::pause`] and
//! [`RedisServer::resume`] (a server that stops answering).

use std::io::{Read as _, Write as _};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a server may take to answer its first `PING`.
const STARTUP: Duration = Duration::from_secs(10);

/// `redis-server` on `PATH`; panics, saying how to install it, if there is
/// none.
pub fn redis_server_bin() -> PathBuf {
    let found = std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join("redis-server"))
        .find(|p| p.is_file());
    found.unwrap_or_else(|| {
        panic!("redis-server is not on PATH; the Redis store's tests need it: run `scripts/deps.sh redis`")
    })
}

/// One `redis-server` process and its folder.
pub struct RedisServer {
    port: u16,
    dir: PathBuf,
    child: Option<Child>,
    durable: bool,
}

impl RedisServer {
    /// Starts a server on a free port and waits until it answers `PING`.
    pub fn start() -> Self {
        Self::start_with(false)
    }

    /// [`RedisServer::start`] with an append-only file synced before each
    /// reply (`appendonly yes`, `appendfsync always`), as the README asks of
    /// production: a kill loses nothing a verifier was answered, and
    /// [`RedisServer::restart`] loads it all back.
    pub fn start_durable() -> Self {
        Self::start_with(true)
    }

    fn start_with(durable: bool) -> Self {
        let mut server = Self { port: 0, dir: crate::fresh_dir("redis"), child: None, durable };
        // Another process may take the port between our probe and the
        // server's bind: try a few.
        for _ in 0..5 {
            server.port = free_port();
            if server.spawn() {
                return server;
            }
        }
        panic!("redis-server did not start; log:\n{}", server.log());
    }

    /// `redis://127.0.0.1:PORT`, as `--store` takes it.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Kills the server with SIGKILL, as a crash would. What was not saved
    /// with [`RedisServer::save`] is lost.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port, with the data of the last
    /// [`RedisServer::save`] (killing it first if it runs).
    pub fn restart(&mut self) {
        self.kill();
        let start = Instant::now();
        // The old process's socket may linger for a moment.
        while !self.spawn() {
            assert!(
                start.elapsed() < STARTUP,
                "redis-server did not restart on port {}; log:\n{}",
                self.port,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Writes the data to `dump.rdb` in its folder (`SAVE`), which a
    /// restart loads.
    pub fn save(&self) {
        let reply = self.command(&["SAVE"]).expect("SAVE answers");
        assert_eq!(reply, "+OK\r\n", "SAVE answered {reply:?}");
    }

    /// Stops the process (SIGSTOP): connections stay open and nothing
    /// answers, as with a server stuck or a network partition.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// Lets a paused server go on (SIGCONT).
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    /// Sends one command and returns the raw RESP reply (the first read).
    pub fn command(&self, args: &[&str]) -> std::io::Result<String> {
        let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, self.port))?;
        stream.set_read_timeout(Some(Duration::from_secs(5)))?;
        let mut req = format!("*{}\r\n", args.len());
        for a in args {
            req.push_str(&format!("${}\r\n{a}\r\n", a.len()));
        }
        stream.write_all(req.as_bytes())?;
        let mut buf = [0u8; 4096];
        let n = stream.read(&mut buf)?;
        Ok(String::from_utf8_lossy(&buf[..n]).into_owned())
    }

    /// Its log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    fn log_path(&self) -> PathBuf {
        self.dir.join("redis.log")
    }

    /// Starts the process on `self.port`; `false` if it exits or never
    /// answers (the port was taken).
    fn spawn(&mut self) -> bool {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.log_path()).expect("log file");
        let port = self.port.to_string();
        let child = Command::new(redis_server_bin())
            .args(["--port", &port, "--bind", "127.0.0.1", "--save", ""])
            .args(if self.durable {
                ["--appendonly", "yes", "--appendfsync", "always"]
            } else {
                ["--appendonly", "no", "--appendfsync", "everysec"]
            })
            .args(["--dir".as_ref(), self.dir.as_os_str()])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .expect("redis-server starts");
        self.child = Some(child);
        let start = Instant::now();
        while start.elapsed() < STARTUP {
            let Some(child) = self.child.as_mut() else { return false };
            if child.try_wait().ok().flatten().is_some() {
                self.child = None;
                return false;
            }
            // Ours, not another server that had the port.
            let pid = format!("process_id:{}\r\n", child.id());
            if self.command(&["INFO", "server"]).is_ok_and(|r| r.contains(&pid)) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.kill();
        false
    }

    fn signal(&self, signal: &str) {
        let child = self.child.as_ref().expect("redis-server is running");
        let status = Command::new("kill").args([signal, &child.id().to_string()]).status().expect("kill runs");
        assert!(status.success(), "kill {signal} failed");
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A port of 127.0.0.1 that nothing listened on a moment ago.
fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind 127.0.0.1:0");
    listener.local_addr().expect("a bound address").port()
}
