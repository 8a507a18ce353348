//! Helpers for Oculto's end-to-end tests: real `oculto` processes, driven
//! over real sockets on 127.0.0.1, the way a page and a site's backend drive
//! them.
//!
//! # Brief overview
//!
//! - [`oculto_bin`] finds (and, unless `OCULTO_BIN` is set, builds) the
//!   `oculto` binary.
//! - [`Verifier`] owns one verifier process: a fresh SQLite database in a
//!   temporary folder, test-friendly settings (easy proof of work, generous
//!   rate limits) that each test may override, and the port it bound. It is
//!   killed, and its folder removed, on drop.
//! - [`Verifier::add_site`] registers a site through the `oculto site add`
//!   command, as an operator would.
//! - [`Verifier::walk`] plays the widget: `/init`, the proof of work, a pause
//!   a person would take, and `/score` with plausible human signals; it
//!   returns the verdict token a form would carry.
//! - [`Client`] and [`Call`] are a small blocking HTTP client that never
//!   treats a status as an error: tests look at status, headers and body.
//! - [`Scrape`] reads what `/metrics` answers, in Prometheus's text format.
//! - [`redis::RedisServer`] is a throwaway `redis-server`, for the Redis
//!   store's tests here and in the verifier's conformance suite.
//! - [`load::verify_load`] verifies many tokens, each by several concurrent
//!   callers spread over several nodes, and records every answer, for the
//!   tests that kill things while it runs; [`load::race`] sends one token
//!   to many callers at once.
//!
//! Every request goes to 127.0.0.1 only.

pub mod load;
pub mod redis;

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{mpsc, OnceLock};
use std::time::{Duration, Instant};

use oculto_shared::api::{routes, InitRequest, InitResponse, ScoreRequest, ScoreResponse};
use oculto_shared::pow::{PowSolution, Prefix};
use oculto_shared::signals::{Environment, KeyTiming, PointerKind, PointerSample, Signals};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How long a walk waits between `/init` and `/score`: a little more than the
/// scorer's "too fast for a person" bound (700 ms).
pub const HUMAN_PAUSE: Duration = Duration::from_millis(750);

/// The proof of work difficulty test verifiers ask for: quick to solve, yet a
/// wrong nonce is still wrong.
pub const TEST_DIFFICULTY: u8 = 4;

/// How long to wait for a verifier to start, or to notice a change made by
/// the `oculto` command in its database.
const PATIENCE: Duration = Duration::from_secs(20);

/// The `oculto` binary the tests run.
///
/// `OCULTO_BIN` names one explicitly. Otherwise this is `oculto` in the
/// target folder of the running test binary (`target/debug/deps/..` →
/// `target/debug/oculto`), built once per test process with
/// `cargo build -p oculto-verifier --bin oculto`. `cargo test -p oculto-tests`
/// does not rebuild another package's binary by itself, and a stale binary
/// would test old code; when the binary is fresh the build is a no-op.
pub fn oculto_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(bin) = std::env::var_os("OCULTO_BIN") {
            let bin = PathBuf::from(bin);
            assert!(bin.is_file(), "OCULTO_BIN={} is not a file", bin.display());
            return bin;
        }
        let exe = std::env::current_exe().expect("the test binary knows its path");
        let profile_dir =
            exe.parent().and_then(Path::parent).expect("test binaries live in target/<profile>/deps").to_owned();
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ sits in the workspace");
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut build = Command::new(cargo);
        build.current_dir(workspace).args(["build", "--quiet", "-p", "oculto-verifier", "--bin", "oculto"]);
        if profile_dir.file_name().is_some_and(|n| n == "release") {
            build.arg("--release");
        }
        let out = build.output().expect("cargo runs");
        assert!(
            out.status.success(),
            "cargo build -p oculto-verifier failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let bin = profile_dir.join(format!("oculto{}", std::env::consts::EXE_SUFFIX));
        assert!(bin.is_file(), "no oculto binary at {}; set OCULTO_BIN", bin.display());
        bin
    })
}

/// A new empty folder `oculto-KIND-PID-N` under the system's temporary
/// folder, for one test process (verifier, redis-server).
pub fn fresh_dir(kind: &str) -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("oculto-{kind}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// An answer, read whole: status, headers and body.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The HTTP status.
    pub status: u16,
    /// Headers, names in lowercase.
    pub headers: Vec<(String, String)>,
    /// The body as text (invalid UTF-8 replaced).
    pub body: String,
    /// The body as sent.
    pub bytes: Vec<u8>,
}

impl Reply {
    /// The first value of a header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The body as JSON; panics, showing the body, if it is not JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("status {} body is not JSON ({e}): {:?}", self.status, self.body))
    }

    /// The body as a `T`; panics, showing the body, if it does not parse.
    pub fn parse<T: DeserializeOwned>(&self) -> T {
        serde_json::from_str(&self.body).unwrap_or_else(|e| {
            panic!("status {} body is not a {} ({e}): {}", self.status, std::any::type_name::<T>(), self.body)
        })
    }

    /// Checks that this is the contract's error answer, `status` with
    /// `{"error": code, "message": "..."}` and a non-empty message, and
    /// returns the message.
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str) -> String {
        assert_eq!(self.status, status, "expected {status} {code}, got: {}", self.body);
        let body = self.json();
        assert_eq!(body["error"], code, "error code in {body}");
        let message = body["message"].as_str().unwrap_or_else(|| panic!("no message in {body}"));
        assert!(!message.is_empty(), "empty message in {body}");
        message.to_owned()
    }

    /// Checks that the status is 200 and returns the body as JSON.
    #[track_caller]
    pub fn assert_ok(&self) -> Value {
        assert_eq!(self.status, 200, "expected 200, got: {}", self.body);
        self.json()
    }
}

/// A blocking HTTP client with its own connection pool. 4xx and 5xx are
/// answers like any other, never errors; only transport failures panic.
#[derive(Clone)]
pub struct Client {
    agent: ureq::Agent,
}

impl Default for Client {
    fn default() -> Self {
        Self::new()
    }
}

impl Client {
    /// A client with no proxy (whatever the environment says), a 30 s
    /// deadline per request, and statuses as plain answers.
    pub fn new() -> Self {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .proxy(None)
            .max_redirects(0)
            .timeout_global(Some(Duration::from_secs(30)))
            .build();
        Self { agent: ureq::Agent::new_with_config(config) }
    }

    /// Starts a request.
    pub fn request(&self, method: &'static str, url: impl Into<String>) -> Call<'_> {
        Call { client: self, method, url: url.into(), headers: Vec::new() }
    }
}

/// A request being built; one of [`Call::send`], [`Call::json`],
/// [`Call::form`], [`Call::body`] or [`Call::chunked`] sends it.
pub struct Call<'a> {
    client: &'a Client,
    method: &'static str,
    url: String,
    headers: Vec<(String, String)>,
}

impl Call<'_> {
    /// Adds a header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Adds `Origin`, as a browser does for a cross-origin `fetch`.
    pub fn origin(self, origin: Option<&str>) -> Self {
        match origin {
            Some(o) => self.header("Origin", o),
            None => self,
        }
    }

    /// Adds a query parameter, percent-encoded.
    pub fn query(mut self, name: &str, value: &str) -> Self {
        let sep = if self.url.contains('?') { '&' } else { '?' };
        self.url = format!("{}{sep}{}={}", self.url, percent_encode(name), percent_encode(value));
        self
    }

    /// Sends with no body.
    pub fn send(self) -> Reply {
        self.run(None)
    }

    /// Sends `value` as `application/json`.
    pub fn json(self, value: &impl Serialize) -> Reply {
        let bytes = serde_json::to_vec(value).expect("test values serialize");
        self.body("application/json", bytes)
    }

    /// Sends fields as `application/x-www-form-urlencoded`.
    pub fn form(self, fields: &[(&str, &str)]) -> Reply {
        self.body("application/x-www-form-urlencoded", form_encode(fields))
    }

    /// Sends raw bytes with a content type (`""` sends no `Content-Type`).
    pub fn body(mut self, content_type: &str, bytes: impl Into<Vec<u8>>) -> Reply {
        if !content_type.is_empty() {
            self.headers.push(("Content-Type".into(), content_type.into()));
        }
        self.run(Some(bytes.into()))
    }

    /// Sends raw bytes with `Transfer-Encoding: chunked`, so the server
    /// learns the size only by reading.
    pub fn chunked(mut self, content_type: &str, bytes: impl Into<Vec<u8>>) -> Reply {
        self.headers.push(("Content-Type".into(), content_type.into()));
        let reader = std::io::Cursor::new(bytes.into());
        self.run_with(ureq::SendBody::from_owned_reader(reader))
    }

    /// [`Call::json`] that returns transport failures (refused, reset, cut
    /// by a killed server) instead of panicking.
    pub fn try_json(self, value: &impl Serialize) -> Result<Reply, String> {
        let bytes = serde_json::to_vec(value).expect("test values serialize");
        self.try_body("application/json", bytes)
    }

    /// [`Call::body`] that returns transport failures instead of panicking.
    pub fn try_body(mut self, content_type: &str, bytes: impl Into<Vec<u8>>) -> Result<Reply, String> {
        if !content_type.is_empty() {
            self.headers.push(("Content-Type".into(), content_type.into()));
        }
        self.try_run_with(bytes.into())
    }

    /// [`Call::send`] that returns transport failures instead of panicking.
    pub fn try_send(self) -> Result<Reply, String> {
        self.try_run_with(())
    }

    fn run(self, body: Option<Vec<u8>>) -> Reply {
        match body {
            None => self.run_with(()),
            Some(b) => self.run_with(b),
        }
    }

    fn run_with(self, body: impl ureq::AsSendBody) -> Reply {
        self.try_run_with(body).unwrap_or_else(|e| panic!("{e}"))
    }

    fn try_run_with(self, body: impl ureq::AsSendBody) -> Result<Reply, String> {
        let mut req = ureq::http::Request::builder().method(self.method).uri(&self.url);
        for (n, v) in &self.headers {
            req = req.header(n.as_str(), v.as_str());
        }
        let what = format!("{} {}", self.method, self.url);
        let res = self.client.agent.run(req.body(body).expect("a valid request"));
        let mut res = res.map_err(|e| format!("{what}: {e}"))?;
        let status = res.status().as_u16();
        let headers = res
            .headers()
            .iter()
            .map(|(n, v)| (n.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect();
        let bytes = res.body_mut().read_to_vec().map_err(|e| format!("{what}: reading the body: {e}"))?;
        Ok(Reply { status, headers, body: String::from_utf8_lossy(&bytes).into_owned(), bytes })
    }
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `a=1&b=2`, each name and value percent-encoded.
pub fn form_encode(fields: &[(&str, &str)]) -> String {
    fields.iter().map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v))).collect::<Vec<_>>().join("&")
}

/// A site registered with `oculto site add --json`.
#[derive(Debug, Clone, Deserialize)]
pub struct Site {
    /// Its name.
    pub name: String,
    /// The public site key, `site_...`.
    pub site_key: String,
    /// The secret API key, `ak_...`, shown only at creation.
    pub api_key: String,
    /// Its allowed origins, normalized.
    pub origins: Vec<String>,
    /// Its threshold.
    pub threshold: u8,
}

/// A session opened by `/init`, with what `/score` needs to go on.
#[derive(Debug, Clone)]
pub struct Session {
    /// The site key it was opened for.
    pub site_key: String,
    /// The `Origin` it was opened from.
    pub origin: Option<String>,
    /// What `/init` answered.
    pub init: InitResponse,
}

impl Session {
    /// The session id, `co_...`.
    pub fn id(&self) -> &str {
        &self.init.session_id
    }

    /// A nonce that solves the session's proof of work.
    pub fn solve(&self) -> u64 {
        self.prefix().solve_range(self.init.challenge.difficulty, 0, u64::MAX).expect("every challenge has a solution")
    }

    /// A nonce that does not solve it.
    pub fn wrong_nonce(&self) -> u64 {
        let p = self.prefix();
        (0..).find(|&n| !p.check(n, self.init.challenge.difficulty)).expect("some nonce fails")
    }

    fn prefix(&self) -> Prefix {
        Prefix::new(&self.init.session_id, &self.site_key, &self.init.challenge.salt)
    }
}

/// The proof of work a [`Verifier::score`] call sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pow {
    /// The right nonce.
    Solved,
    /// A nonce that does not solve the challenge.
    Wrong,
    /// No `pow` field at all.
    Missing,
}

/// Signals of a person: mouse moves, a dozen key presses, eight seconds on
/// the page. The verifier's scorer gives them 0.
pub fn human_signals() -> Signals {
    let mut s = Signals {
        v: oculto_shared::signals::VERSION,
        elapsed_ms: 8_000.0,
        first_interaction_ms: Some(900.0),
        env: Environment {
            user_agent:
                "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36"
                    .into(),
            languages: vec!["en-GB".into(), "fr".into()],
            screen: [1920, 1080],
            window: [1280, 900],
            pixel_ratio: 1.0,
            hardware_concurrency: 8,
            ..Default::default()
        },
        ..Default::default()
    };
    // A hand resting on the mouse: small moves of a pixel or two, in bursts
    // of eight frames with pauses between (too small for the behaviour
    // model to measure, so these tests don't depend on its fit).
    let mut t = 900.0;
    for i in 0..60u8 {
        t += if i % 8 == 0 && i > 0 { 400.0 } else { 16.7 };
        let (dx, dy) = ([1.0, 2.0, -1.0, 1.0, 0.0][usize::from(i % 5)], [0.0, 1.0, 1.0, -1.0, 1.0][usize::from(i % 4)]);
        s.pointer.push(PointerSample { t, k: PointerKind::Move, dx, dy });
    }
    // Typing at an uneven pace, as hands do.
    let gaps = [0.0, 160.0, 240.0, 130.0, 310.0, 180.0, 120.0, 420.0, 150.0, 200.0, 170.0, 260.0];
    let mut t = 3_000.0;
    for (i, gap) in gaps.iter().enumerate() {
        t += gap;
        s.keys.push(KeyTiming { t, dwell: 70.0 + (i % 4) as f64 * 12.0 });
    }
    s
}

/// Settings every test verifier starts with; [`Verifier::env`] overrides
/// them. Limits are high so that only the tests about limits meet them.
const TEST_ENV: &[(&str, &str)] = &[
    ("OCULTO_POW__DIFFICULTY", "4"),
    ("OCULTO_RATE_LIMIT__INIT_PER_MIN", "1000"),
    ("OCULTO_RATE_LIMIT__SCORE_PER_MIN", "1000"),
    ("OCULTO_RATE_LIMIT__SOFT_PER_MIN", "1000"),
    ("OCULTO_RATE_LIMIT__CAPTCHETAT_PER_MIN", "1000"),
    ("OCULTO_LOG", "info"),
];

/// One verifier process and its database.
///
/// Built stopped by [`Verifier::new`], so that settings and sites can be
/// added before [`Verifier::start`] (sites added then need no waiting).
/// Dropping it kills the process and deletes the folder; if the test is
/// failing, the verifier's log is printed first.
pub struct Verifier {
    dir: PathBuf,
    store: Option<String>,
    env: Vec<(String, String)>,
    child: Option<Child>,
    base: Option<String>,
    /// The address of the last run, for [`Verifier::restart_on_same_port`].
    last_base: Option<String>,
    client: Client,
}

impl Default for Verifier {
    fn default() -> Self {
        Self::new()
    }
}

impl Verifier {
    /// A stopped verifier with a fresh folder under the system's temporary
    /// folder, and `TEST_ENV`'s settings.
    pub fn new() -> Self {
        let dir = fresh_dir("tests");
        let env = TEST_ENV.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        Self { dir, store: None, env, child: None, base: None, last_base: None, client: Client::new() }
    }

    /// Uses the store at `url` (e.g. a [`redis::RedisServer::url`]), given
    /// with `--store`, instead of a fresh SQLite database.
    pub fn store(mut self, url: &str) -> Self {
        self.store = Some(url.to_owned());
        self
    }

    /// Sets an environment variable for the verifier (and for the `oculto`
    /// commands run on its database), replacing a default.
    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.env.retain(|(k, _)| k != name);
        self.env.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Starts the verifier.
    pub fn start(mut self) -> Self {
        self.spawn();
        self
    }

    /// The usual opening of a test: a verifier with test settings and one
    /// site for `origin`, started.
    pub fn with_site(origin: &str) -> (Self, Site) {
        let v = Self::new();
        let site = v.add_site(origin);
        (v.start(), site)
    }

    /// The database file.
    pub fn db_path(&self) -> PathBuf {
        self.dir.join("oculto.db")
    }

    /// The store's URL: the one given to [`Verifier::store`], else
    /// `OCULTO_STORE` if the test set it with [`Verifier::env`], else the
    /// SQLite database in the verifier's folder.
    pub fn store_url(&self) -> String {
        let from_env = || self.env.iter().find(|(k, _)| k == "OCULTO_STORE").map(|(_, v)| v.clone());
        self.store.clone().or_else(from_env).unwrap_or_else(|| format!("sqlite://{}", self.db_path().display()))
    }

    /// `--store URL`, unless the store comes from `OCULTO_STORE`.
    fn store_args(&self) -> Vec<String> {
        if self.store.is_none() && self.env.iter().any(|(k, _)| k == "OCULTO_STORE") {
            Vec::new()
        } else {
            vec!["--store".into(), self.store_url()]
        }
    }

    fn log_path(&self) -> PathBuf {
        self.dir.join("oculto.log")
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new(oculto_bin());
        // Only the settings the test chose: nothing from the caller's shell.
        for (k, _) in std::env::vars_os() {
            if k.to_str().is_some_and(|k| k.starts_with("OCULTO_") || k == "RUST_LOG") {
                cmd.env_remove(k);
            }
        }
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
        cmd
    }

    fn spawn(&mut self) {
        self.spawn_on("127.0.0.1:0");
    }

    fn spawn_on(&mut self, addr: &str) {
        assert!(self.child.is_none(), "the verifier is already running");
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.log_path()).expect("log file");
        let mut child = self
            .command()
            .args(["serve", "--addr", addr])
            .args(self.store_args())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("oculto serve starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("oculto listening on ") {
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(url.trim().to_owned());
                    }
                }
            }
        });
        self.child = Some(child);
        match rx.recv_timeout(PATIENCE) {
            Ok(url) => {
                assert!(url.starts_with("http://127.0.0.1:"), "listening on {url}, not on 127.0.0.1");
                self.base = Some(url);
            }
            Err(_) => panic!("oculto serve did not say it was listening; log:\n{}", self.log_tail(40)),
        }
    }

    /// Kills the process with SIGKILL, as a crash or the OOM killer would,
    /// and waits for it to be gone.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if let Some(base) = self.base.take() {
            self.last_base = Some(base);
        }
    }

    /// Starts the verifier again on the same database (killing it first if
    /// it runs). It gets a new port.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    /// Starts the verifier again on the same database and the port of its
    /// last run (killing it first if it runs), as a supervisor would restart
    /// it behind a load balancer: clients keep their URLs.
    pub fn restart_on_same_port(&mut self) {
        let base = self.base.clone().or_else(|| self.last_base.clone()).expect("the verifier ran before");
        let addr = base.trim_start_matches("http://").to_owned();
        self.kill();
        self.spawn_on(&addr);
        assert_eq!(self.base.as_deref(), Some(base.as_str()), "restarted on another address");
    }

    /// The process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The process's resident memory (`VmRSS`) and its peak (`VmHWM`), in
    /// KiB, from `/proc/PID/status`.
    pub fn memory_kib(&self) -> (u64, u64) {
        let pid = self.pid().expect("the verifier is running");
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc/PID/status");
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
                .unwrap_or_else(|| panic!("no {name} in /proc/{pid}/status"))
        };
        (field("VmRSS:"), field("VmHWM:"))
    }

    /// `http://127.0.0.1:PORT` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base.as_deref().expect("the verifier is running"))
    }

    /// The verifier's own client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// A `GET` to `path`.
    pub fn get(&self, path: &str) -> Call<'_> {
        self.client.request("GET", self.url(path))
    }

    /// A `POST` to `path`.
    pub fn post(&self, path: &str) -> Call<'_> {
        self.client.request("POST", self.url(path))
    }

    /// Runs `oculto ARGS` on the verifier's store and returns its standard
    /// output; panics if it fails.
    pub fn oculto(&self, args: &[&str]) -> String {
        let out = self.command().args(args).args(self.store_args()).output().expect("oculto runs");
        assert!(
            out.status.success(),
            "oculto {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("UTF-8 output")
    }

    /// Runs `oculto ARGS` on the verifier's store, expecting it to fail
    /// within 20 s (a `serve` with a bad setting, say); returns what it
    /// printed. Panics if it succeeds or is still running.
    pub fn oculto_fails(&self, args: &[&str]) -> String {
        let mut child = self
            .command()
            .args(args)
            .args(self.store_args())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("oculto runs");
        let start = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait for oculto") {
                break status;
            }
            if start.elapsed() > PATIENCE {
                let _ = child.kill();
                let _ = child.wait();
                panic!("oculto {args:?} was still running after {PATIENCE:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let out = child.wait_with_output().expect("oculto's output");
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(!status.success(), "oculto {args:?} succeeded: {text}");
        text
    }

    /// Registers a site allowed on `origin` with `oculto site add`. If the
    /// verifier is running, waits until it serves the new site (it reloads
    /// sites every second).
    pub fn add_site(&self, origin: &str) -> Site {
        self.add_site_with(&[origin], 50)
    }

    /// [`Verifier::add_site`] with several origins and a threshold.
    pub fn add_site_with(&self, origins: &[&str], threshold: u8) -> Site {
        self.add_site_full(origins, threshold, "suspicious")
    }

    /// [`Verifier::add_site`] with a step-up policy: `never`, `suspicious`
    /// or `always`.
    pub fn add_site_step_up(&self, origin: &str, step_up: &str) -> Site {
        self.add_site_full(&[origin], 50, step_up)
    }

    fn add_site_full(&self, origins: &[&str], threshold: u8, step_up: &str) -> Site {
        static N: AtomicU32 = AtomicU32::new(0);
        let name = format!("test site {}", N.fetch_add(1, Ordering::Relaxed));
        let threshold = threshold.to_string();
        let mut args = vec!["site", "add", "--name", &name, "--threshold", &threshold, "--step-up", step_up, "--json"];
        for o in origins {
            args.extend(["--origin", o]);
        }
        let site: Site = serde_json::from_str(&self.oculto(&args)).expect("site add --json prints a site");
        if self.base.is_some() {
            self.wait_until("the new site is served", || self.stats(&site.api_key).status == 200);
        }
        site
    }

    /// Polls `ready` every 50 ms until it holds; panics after 20 s.
    pub fn wait_until(&self, what: &str, mut ready: impl FnMut() -> bool) {
        let start = Instant::now();
        while !ready() {
            assert!(start.elapsed() < PATIENCE, "timed out waiting until {what}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `POST /init` for `site_key` from `origin`, with an optional action.
    pub fn init(&self, site_key: &str, origin: Option<&str>, action: Option<&str>) -> Reply {
        let body = InitRequest { site_key: site_key.into(), action: action.map(Into::into), ..Default::default() };
        self.post(routes::INIT).origin(origin).json(&body)
    }

    /// Opens a session as the widget does; panics unless `/init` answers 200.
    pub fn open(&self, site_key: &str, origin: Option<&str>) -> Session {
        self.open_with(&InitRequest { site_key: site_key.into(), ..Default::default() }, origin)
    }

    /// [`Verifier::open`] with a whole request (action, cdata).
    pub fn open_with(&self, req: &InitRequest, origin: Option<&str>) -> Session {
        let reply = self.post(routes::INIT).origin(origin).json(req);
        reply.assert_ok();
        Session { site_key: req.site_key.clone(), origin: origin.map(Into::into), init: reply.parse() }
    }

    /// `POST /score` for a session, from the origin it was opened from.
    pub fn score(&self, session: &Session, pow: Pow, signals: &Signals) -> Reply {
        let nonce = match pow {
            Pow::Solved => Some(session.solve()),
            Pow::Wrong => Some(session.wrong_nonce()),
            Pow::Missing => None,
        };
        let body = ScoreRequest {
            session_id: session.id().into(),
            pow: nonce.map(|nonce| PowSolution { nonce, elapsed_ms: 40 }),
            signals: signals.clone(),
            ..Default::default()
        };
        self.post(routes::SCORE).origin(session.origin.as_deref()).json(&body)
    }

    /// Scores a session and returns its verdict token; panics unless
    /// `/score` answers 200 with a verdict.
    pub fn finish(&self, session: &Session, pow: Pow, signals: &Signals) -> String {
        let reply = self.score(session, pow, signals);
        reply.assert_ok();
        reply.parse::<ScoreResponse>().verdict.unwrap_or_else(|| panic!("no verdict in {}", reply.body))
    }

    /// The widget's whole walk for a person on `origin`: `/init`, the proof
    /// of work, [`HUMAN_PAUSE`], `/score` with [`human_signals`]. Returns
    /// the verdict token.
    pub fn walk(&self, site_key: &str, origin: &str) -> String {
        self.walk_many(site_key, origin, 1).pop().expect("one token")
    }

    /// `n` walks that share one pause: `n` sessions, then `n` verdicts.
    /// Each page says it is as old as [`human_signals`] says plus the time
    /// since its session was opened: on a busy machine the last of many
    /// verdicts may come seconds after its session, and a page younger than
    /// what the verifier saw is scored `impossible_timing`.
    pub fn walk_many(&self, site_key: &str, origin: &str, n: usize) -> Vec<String> {
        let sessions: Vec<(Session, Instant)> =
            (0..n).map(|_| (self.open(site_key, Some(origin)), Instant::now())).collect();
        std::thread::sleep(HUMAN_PAUSE);
        let mut signals = human_signals();
        let age = signals.elapsed_ms;
        sessions
            .iter()
            .map(|(s, opened)| {
                signals.elapsed_ms = age + opened.elapsed().as_secs_f64() * 1000.0;
                self.finish(s, Pow::Solved, &signals)
            })
            .collect()
    }

    /// `n` verdict tokens of people on `origin`, made by [`Verifier::walk_many`]
    /// in batches of 50 on 4 threads at once.
    pub fn mint(&self, site_key: &str, origin: &str, n: usize) -> Vec<String> {
        let batches: Vec<usize> = (0..n).step_by(50).map(|from| (n - from).min(50)).collect();
        let mut tokens = Vec::with_capacity(n);
        for wave in batches.chunks(4) {
            std::thread::scope(|s| {
                let running: Vec<_> =
                    wave.iter().map(|&size| s.spawn(move || self.walk_many(site_key, origin, size))).collect();
                for r in running {
                    tokens.extend(r.join().expect("minting thread"));
                }
            });
        }
        tokens
    }

    /// `POST /verify` with a JSON body `{token, api_key}`.
    pub fn verify(&self, token: &str, api_key: &str) -> Reply {
        self.post(routes::VERIFY).json(&serde_json::json!({ "token": token, "api_key": api_key }))
    }

    /// `GET /metrics`, parsed; panics unless it answers 200 in Prometheus's
    /// text format.
    pub fn scrape(&self) -> Scrape {
        let reply = self.get(routes::METRICS).send();
        assert_eq!(reply.status, 200, "/metrics: {}", reply.body);
        let ct = reply.header("content-type").unwrap_or_default();
        assert!(ct.starts_with("text/plain; version=0.0.4"), "/metrics content type {ct}");
        Scrape::parse(&reply.body)
    }

    /// `GET /stats?api_key=...` (the summary).
    pub fn stats(&self, api_key: &str) -> Reply {
        self.get(routes::STATS).query("api_key", api_key).send()
    }

    /// `GET /stats?api_key=...` with more query parameters.
    pub fn stats_query(&self, api_key: &str, params: &[(&str, &str)]) -> Reply {
        params.iter().fold(self.get(routes::STATS).query("api_key", api_key), |call, (k, v)| call.query(k, v)).send()
    }

    /// The last `n` lines of the verifier's log.
    pub fn log_tail(&self, n: usize) -> String {
        let log = std::fs::read_to_string(self.log_path()).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }
}

impl Drop for Verifier {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            eprintln!("--- verifier log ({}) ---\n{}", self.log_path().display(), self.log_tail(40));
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// One scrape of `/metrics`: every sample, with its labels.
#[derive(Debug, Clone, Default)]
pub struct Scrape {
    samples: Vec<(String, BTreeMap<String, String>, f64)>,
    text: String,
}

impl Scrape {
    /// Parses Prometheus's text format (comments skipped; label values
    /// unescaped); panics, showing the line, on a malformed sample.
    pub fn parse(text: &str) -> Self {
        let samples = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(|line| parse_sample(line).unwrap_or_else(|| panic!("not a Prometheus sample: {line:?}")))
            .collect();
        Self { samples, text: text.to_owned() }
    }

    /// The sum of the samples named `name` whose labels include `labels`
    /// (0 when there is none): `value("x_total", &[("status", "409")])`.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.samples
            .iter()
            .filter(|(n, l, _)| n == name && labels.iter().all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v)))
            .map(|(_, _, v)| v)
            .sum()
    }

    /// Whether any sample is named `name`.
    pub fn has(&self, name: &str) -> bool {
        self.samples.iter().any(|(n, _, _)| n == name)
    }

    /// The text as scraped, for failure messages.
    pub fn text(&self) -> &str {
        &self.text
    }
}

/// `name{labels} value` → its parts; `None` if malformed.
fn parse_sample(line: &str) -> Option<(String, BTreeMap<String, String>, f64)> {
    let (series, value) = line.rsplit_once(' ')?;
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v.parse().ok()?,
    };
    let (name, labels) = match series.split_once('{') {
        None => (series, BTreeMap::new()),
        Some((name, rest)) => (name, parse_labels(rest.strip_suffix('}')?)?),
    };
    Some((name.to_owned(), labels, value))
}

/// `a="1",b="x\"y"` → its labels; `None` if malformed.
fn parse_labels(s: &str) -> Option<BTreeMap<String, String>> {
    let mut labels = BTreeMap::new();
    let mut rest = s;
    while !rest.is_empty() {
        let (name, after) = rest.split_once("=\"")?;
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next()? {
                (i, '"') => break i,
                (_, '\\') => match chars.next()?.1 {
                    'n' => value.push('\n'),
                    c => value.push(c),
                },
                (_, c) => value.push(c),
            }
        };
        labels.insert(name.trim().to_owned(), value);
        rest = after[end + 1..].trim_start_matches(',');
    }
    Some(labels)
}
