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
//!
//! [`RedisCluster`] starts a Redis Cluster of such servers, and
//! [`Replicated`] a master, its replica and a Sentinel watching them, for
//! the tests of `redis+cluster://` and `redis+sentinel://` stores.

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
    /// More options for `redis-server`, after the usual ones.
    extra: Vec<String>,
    /// Runs as a Sentinel with this configuration file (in `dir`).
    sentinel: Option<PathBuf>,
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

    /// [`RedisServer::start`] with more `redis-server` options, such as
    /// `--replicaof 127.0.0.1 PORT`.
    pub fn start_with_options(options: &[&str]) -> Self {
        Self::launch(false, options, None)
    }

    fn start_with(durable: bool) -> Self {
        Self::launch(durable, &[], None)
    }

    fn launch(durable: bool, options: &[&str], sentinel: Option<&str>) -> Self {
        let dir = crate::fresh_dir("redis");
        let sentinel = sentinel.map(|conf| {
            let path = dir.join("sentinel.conf");
            std::fs::write(&path, conf).expect("sentinel.conf");
            path
        });
        let extra = options.iter().map(|o| (*o).to_owned()).collect();
        let mut server = Self { port: 0, dir, child: None, durable, extra, sentinel };
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

    /// `INFO section` as `field:value` lines; empty if it does not answer.
    pub fn info(&self, section: &str) -> String {
        self.command(&["INFO", section]).unwrap_or_default()
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
        let mut command = Command::new(redis_server_bin());
        if let Some(conf) = &self.sentinel {
            command.arg(conf).arg("--sentinel").args(["--port", &port, "--bind", "127.0.0.1"]);
        } else {
            command.args(["--port", &port, "--bind", "127.0.0.1", "--save", ""]).args(if self.durable {
                ["--appendonly", "yes", "--appendfsync", "always"]
            } else {
                ["--appendonly", "no", "--appendfsync", "everysec"]
            });
        }
        let child = command
            .args(["--dir".as_ref(), self.dir.as_os_str()])
            .args(&self.extra)
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

/// Waits up to `limit` for `done`; panics with `what` past it.
fn wait_for(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A Redis Cluster of masters without replicas, each a [`RedisServer`]
/// with `cluster-enabled yes` and an append-only file (so that a node
/// killed and restarted keeps its keys and its place in the cluster), made
/// into one with `redis-cli --cluster create`.
pub struct RedisCluster {
    /// The masters, in the order their slots go.
    pub nodes: Vec<RedisServer>,
}

impl RedisCluster {
    /// Starts `masters` servers (at least 3, as `redis-cli` asks) and waits
    /// until every one says `cluster_state:ok`.
    pub fn start(masters: usize) -> Self {
        let options =
            ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "2000"];
        let nodes: Vec<RedisServer> = (0..masters).map(|_| RedisServer::launch(true, &options, None)).collect();
        let mut cli = Command::new(redis_server_bin().with_file_name("redis-cli"));
        cli.arg("--cluster").arg("create");
        cli.args(nodes.iter().map(|n| format!("127.0.0.1:{}", n.port())));
        let out = cli.args(["--cluster-replicas", "0", "--cluster-yes"]).output().expect("redis-cli runs");
        assert!(out.status.success(), "redis-cli --cluster create: {}", String::from_utf8_lossy(&out.stdout));
        let cluster = Self { nodes };
        cluster.wait_ok();
        cluster
    }

    /// `redis+cluster://` and every node, as `--store` takes it.
    pub fn url(&self) -> String {
        let hosts: Vec<String> = self.nodes.iter().map(|n| format!("127.0.0.1:{}", n.port())).collect();
        format!("redis+cluster://{}", hosts.join(","))
    }

    /// Waits until every node running says `cluster_state:ok`.
    pub fn wait_ok(&self) {
        wait_for("cluster_state:ok", Duration::from_secs(20), || {
            self.nodes.iter().all(|n| n.command(&["CLUSTER", "INFO"]).is_ok_and(|r| r.contains("cluster_state:ok")))
        });
    }

    /// The node that serves `key`'s slot.
    pub fn node_of(&mut self, key: &str) -> &mut RedisServer {
        let reply = self.nodes[0].command(&["CLUSTER", "KEYSLOT", key]).expect("CLUSTER KEYSLOT");
        let slot: u16 = reply.trim_start_matches(':').trim_end().parse().expect("a slot");
        let nodes = self.nodes[0].command(&["CLUSTER", "NODES"]).expect("CLUSTER NODES");
        // One line a node: id, 127.0.0.1:PORT@BUS, flags, ..., then its slot ranges (`0-5460`).
        for line in nodes.lines() {
            let fields: Vec<&str> = line.split(' ').collect();
            let Some(port) = fields.get(1).and_then(|a| a.split(['@', ':']).nth(1)?.parse::<u16>().ok()) else {
                continue;
            };
            let owns = fields.iter().skip(8).any(|r| {
                let (lo, hi) = r.split_once('-').unwrap_or((r, r));
                lo.parse::<u16>().is_ok_and(|lo| hi.parse::<u16>().is_ok_and(|hi| (lo..=hi).contains(&slot)))
            });
            if owns {
                return self.nodes.iter_mut().find(|n| n.port() == port).expect("a node of ours");
            }
        }
        panic!("no node serves slot {slot}: {nodes}");
    }
}

/// A master, one replica and one Sentinel watching them (quorum 1, a
/// master down after 1 s), for `redis+sentinel://` stores.
pub struct Replicated {
    /// The first master.
    pub master: RedisServer,
    /// Its replica, the next master after a failover.
    pub replica: RedisServer,
    /// The Sentinel.
    pub sentinel: RedisServer,
}

/// The name the Sentinel of [`Replicated`] knows the master by.
pub const MASTER_NAME: &str = "oculto";

impl Replicated {
    /// Starts the three and waits until the replica is in sync and the
    /// Sentinel knows of it.
    pub fn start() -> Self {
        let master = RedisServer::start();
        let port = master.port().to_string();
        let replica = RedisServer::start_with_options(&["--replicaof", "127.0.0.1", &port]);
        let conf = format!(
            "sentinel monitor {MASTER_NAME} 127.0.0.1 {port} 1\n\
             sentinel down-after-milliseconds {MASTER_NAME} 1000\n\
             sentinel failover-timeout {MASTER_NAME} 10000\n"
        );
        let sentinel = RedisServer::launch(false, &[], Some(&conf));
        let r = Self { master, replica, sentinel };
        wait_for("the replica in sync", Duration::from_secs(20), || {
            r.replica.info("replication").contains("master_link_status:up")
        });
        wait_for("the sentinel to see the replica", Duration::from_secs(20), || {
            r.sentinel
                .command(&["SENTINEL", "REPLICAS", MASTER_NAME])
                .is_ok_and(|s| s.contains(&r.replica.port().to_string()))
        });
        r
    }

    /// `redis+sentinel://` with the Sentinel and the master's name.
    pub fn url(&self) -> String {
        format!("redis+sentinel://127.0.0.1:{}/{MASTER_NAME}", self.sentinel.port())
    }

    /// The port of the master the Sentinel names.
    pub fn master_port(&self) -> Option<u16> {
        let reply = self.sentinel.command(&["SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER_NAME]).ok()?;
        reply.lines().filter(|l| !l.starts_with(['*', '$'])).nth(1)?.parse().ok()
    }

    /// Waits until the replica has every write the master has.
    pub fn wait_in_sync(&self) {
        let offset = |info: String, field: &str| {
            info.lines().find_map(|l| l.strip_prefix(field)?.trim().parse::<u64>().ok()).unwrap_or(0)
        };
        wait_for("the replica to catch up", Duration::from_secs(10), || {
            let master = offset(self.master.info("replication"), "master_repl_offset:");
            master > 0 && offset(self.replica.info("replication"), "slave_repl_offset:") >= master
        });
    }

    /// `SENTINEL FAILOVER`, then waits until the Sentinel names the
    /// replica and the replica says it is a master.
    pub fn fail_over(&self) {
        let reply = self.sentinel.command(&["SENTINEL", "FAILOVER", MASTER_NAME]).expect("SENTINEL FAILOVER");
        assert!(reply.starts_with("+OK"), "SENTINEL FAILOVER: {reply}");
        wait_for("the sentinel to name the replica", Duration::from_secs(20), || {
            self.master_port() == Some(self.replica.port()) && self.replica.info("replication").contains("role:master")
        });
    }
}
