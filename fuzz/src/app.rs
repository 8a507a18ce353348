//! The verifier's real actix app, in process, fed requests from fuzz input.
//!
//! # Input format
//!
//! Up to [`MAX_REQUESTS`] requests, separated by a line `%%`. Each is a
//! request line, header lines, a blank line and the body:
//!
//! ```text
//! POST /score
//! content-type: application/json
//! origin: https://fuzz.example
//!
//! {"session_id":"{{sid}}","pow":{"nonce":{{nonce}}},"signals":{"elapsed_ms":4000}}
//! ```
//!
//! Anything the fuzzer cannot guess is filled in from placeholders, so that
//! mutations reach past "no such session":
//!
//! | placeholder | becomes |
//! |---|---|
//! | `{{sid}}`, `{{nonce}}` | the session an earlier `/init` of this input opened, else one opened for [`SITE_KEY`] (step-up when suspicious); and its proof of work |
//! | `{{sid2}}`, `{{nonce2}}` | the same for [`STEP_UP_SITE_KEY`] (step-up always) |
//! | `{{token}}` | a fresh verdict for [`SITE_KEY`], signed with the verifier's key |
//! | `{{challenge}}` | the last challenge id an earlier response of this input named |
//! | `{{answer}}` | that challenge's right answer, read from the store |
//! | `{{verdict}}` | the last verdict (`/score`) or token (`/api/validate`) an earlier response of this input gave |
//!
//! With `OCULTO_FUZZ_TRACE=1` in the environment, each request and the
//! start of its answer are printed, to see what a seed or a crash does.
//!
//! The store is one in-memory SQLite database for the whole run, so what one
//! input leaves (spent tokens, used sessions) can change what a later one
//! gets, as on a real server.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use actix_web::body::{to_bytes, BoxBody};
use actix_web::dev::{Service as _, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue, CONTENT_LENGTH, CONTENT_TYPE};
use actix_web::http::{Method, StatusCode, Uri};
use actix_web::rt::SystemRunner;
use actix_web::{test, web, App};
use oculto_shared::api::{Classification, InitRequest, InitResponse};
use oculto_shared::pow::Prefix;
use oculto_shared::token::{self, Verdict};
use oculto_verifier::config::Config;
use oculto_verifier::sites::hash_api_key;
use oculto_verifier::store::{SiteRecord, StepUpPolicy};
use oculto_verifier::{body, clock, routes, session, widget, State};

/// The registered site most requests use; step-up when suspicious.
pub const SITE_KEY: &str = "site_fuzz";
/// Its API key.
pub const API_KEY: &str = "ak_fuzz";
/// A site that always asks for a step-up.
pub const STEP_UP_SITE_KEY: &str = "site_fuzz_step";
/// Its API key.
pub const STEP_UP_API_KEY: &str = "ak_fuzz_step";
/// The one origin both sites allow.
pub const ORIGIN: &str = "https://fuzz.example";
/// Most requests played from one input.
pub const MAX_REQUESTS: usize = 4;

type Call = Box<dyn Fn(actix_http::Request) -> Pin<Box<dyn Future<Output = ServiceResponse<BoxBody>>>>>;

/// The app, its state and the runtime it runs on.
pub struct Harness {
    rt: SystemRunner,
    state: web::Data<State>,
    call: Call,
    next_jti: RefCell<u64>,
    trace: bool,
}

/// A request read from the input.
struct Request {
    method: Method,
    uri: Uri,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: Vec<u8>,
}

/// What one input's requests share: sessions opened for placeholders and the
/// last challenge seen.
#[derive(Default)]
struct Context {
    sessions: [Option<(String, u64)>; 2],
    challenge: Option<String>,
    verdict: Option<String>,
}

fn config() -> Config {
    let mut c = Config { store: "sqlite://:memory:".into(), ..Config::default() };
    // Quick to solve for `{{nonce}}`; a wrong nonce is still wrong.
    c.pow.difficulty = 4;
    // Limits would turn most of a long run into 429s.
    let r = &mut c.rate_limit;
    for v in [
        &mut r.init_per_min,
        &mut r.score_per_min,
        &mut r.generate_per_hour,
        &mut r.validate_per_hour,
        &mut r.captchetat_per_min,
    ] {
        *v = 1_000_000;
    }
    // The peer is a trusted proxy, so X-Forwarded-For is read too.
    c.trusted_proxies = vec!["127.0.0.0/8".parse().expect("a CIDR")];
    c.widget_dir = std::env::temp_dir().join("oculto-fuzz-no-widget");
    c
}

impl Harness {
    /// Opens the store, registers the sites and builds the app as `serve`
    /// does (less the demo pages).
    pub fn new() -> Self {
        let rt = actix_web::rt::System::new();
        let (state, call) = rt.block_on(async {
            let state = State::new(config()).await.expect("the in-memory store opens");
            for (site_key, api_key, step_up) in [
                (SITE_KEY, API_KEY, StepUpPolicy::Suspicious),
                (STEP_UP_SITE_KEY, STEP_UP_API_KEY, StepUpPolicy::Always),
            ] {
                let site = SiteRecord {
                    site_key: site_key.into(),
                    name: site_key.into(),
                    origins: vec![ORIGIN.into()],
                    threshold: 50,
                    step_up,
                    api_key_hash: hash_api_key(api_key),
                    created_at: clock::now_secs(),
                };
                state.store.add_site(site).await.expect("the site is added");
            }
            state.refresh().await.expect("the sites load");
            let state = web::Data::new(state);
            let app = test::init_service(
                App::new()
                    .app_data(state.clone())
                    .configure(routes::configure)
                    .configure(widget::configure)
                    .default_service(routes::fallback()),
            )
            .await;
            let app = Rc::new(app);
            let call: Call = Box::new(move |req| {
                let app = app.clone();
                Box::pin(async move {
                    match app.call(req).await {
                        Ok(res) => res.map_into_boxed_body(),
                        Err(e) => panic!("the app failed instead of answering: {e}"),
                    }
                })
            });
            (state, call)
        });
        let trace = std::env::var_os("OCULTO_FUZZ_TRACE").is_some();
        Self { rt, state, call, next_jti: RefCell::new(0), trace }
    }

    /// Plays every request of `data`, checking each answer.
    pub fn run(&self, data: &[u8]) {
        let mut cx = Context::default();
        for segment in split(data, b"\n%%\n").take(MAX_REQUESTS) {
            let filled = self.rt.block_on(self.fill(segment, &mut cx));
            let Some(req) = parse(&filled) else { continue };
            self.rt.block_on(self.play(req, &mut cx));
        }
    }

    async fn play(&self, req: Request, cx: &mut Context) {
        let (method, path) = (req.method.clone(), req.uri.to_string());
        // An `/init` the input makes itself becomes `{{sid}}` once answered:
        // its site key is needed to solve the proof of work.
        let init_site_key = (method == Method::POST && req.uri.path() == "/init")
            .then(|| {
                let ct = req.headers.iter().find(|(n, _)| n == CONTENT_TYPE).and_then(|(_, v)| v.to_str().ok());
                body::parse::<InitRequest>(ct.unwrap_or(""), &req.body).ok()
            })
            .flatten()
            .map(|r| r.site_key.trim().to_owned());
        let mut t = test::TestRequest::default()
            .method(req.method)
            .uri(&path)
            .peer_addr("127.0.0.1:40000".parse().expect("an address"))
            .set_payload(req.body);
        for (name, value) in req.headers {
            // set_payload wrote the true length; a declared one replaces it.
            t = if name == CONTENT_LENGTH { t.insert_header((name, value)) } else { t.append_header((name, value)) };
        }
        let res = (self.call)(t.to_request()).await;
        let status = res.status();
        let uuid = res.headers().get("x-captcha-uuid").and_then(|v| v.to_str().ok()).map(str::to_owned);
        let body = to_bytes(res.into_body()).await.unwrap_or_default();
        let shown = String::from_utf8_lossy(&body[..body.len().min(400)]).into_owned();
        if self.trace {
            eprintln!("{method} {path} -> {status}: {shown}");
        }
        assert!(!status.is_server_error(), "{method} {path} answered {status}: {shown}");
        if status.is_client_error() && method != Method::OPTIONS {
            // Every refusal is the contract's JSON (`{"error", "message"}`,
            // or `{"detail"}` on generate/validate), never actix's text.
            let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_else(|e| {
                panic!("{method} {path} answered {status} with a body that is not JSON ({e}): {shown}")
            });
            let shaped = v.get("error").is_some_and(|e| e.is_string()) && v.get("message").is_some()
                || v.get("detail").is_some_and(|d| d.is_string());
            assert!(shaped, "{method} {path} answered {status} without an error body: {shown}");
        }
        if status == StatusCode::OK {
            let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
            let named = |k: &str| v.get(k).and_then(|s| s.as_str()).map(str::to_owned);
            let step_up = v.get("step_up").and_then(|s| s.get("challenge_id")).and_then(|s| s.as_str());
            if let Some(id) = uuid.or_else(|| named("captcha_id")).or_else(|| named("uuid")).or(step_up.map(Into::into))
            {
                cx.challenge = Some(id);
            }
            if let Some(t) = named("verdict").or_else(|| named("token")) {
                // Whatever the verifier signs, it and a site's backend can
                // check.
                let checked = token::verify(&t, &*self.state.keys.get(), clock::now_secs());
                assert!(checked.is_ok(), "{method} {path} issued a token that does not verify ({checked:?}): {t}");
                cx.verdict = Some(t);
            }
            if let (Some(site_key), Ok(init)) = (init_site_key, serde_json::from_value::<InitResponse>(v.clone())) {
                cx.sessions[0] = Some((init.session_id.clone(), solve(&init, &site_key)));
            }
        }
    }

    /// Replaces the placeholders in `segment`.
    async fn fill(&self, segment: &[u8], cx: &mut Context) -> Vec<u8> {
        let mut out = segment.to_vec();
        for (i, site_key) in [SITE_KEY, STEP_UP_SITE_KEY].into_iter().enumerate() {
            let (sid, nonce) =
                if i == 0 { (&b"{{sid}}"[..], &b"{{nonce}}"[..]) } else { (&b"{{sid2}}"[..], &b"{{nonce2}}"[..]) };
            if contains(&out, sid) || contains(&out, nonce) {
                if cx.sessions[i].is_none() {
                    cx.sessions[i] = Some(self.open(site_key).await);
                }
                let (id, n) = cx.sessions[i].clone().expect("opened above");
                out = replace(&out, sid, id.as_bytes());
                out = replace(&out, nonce, n.to_string().as_bytes());
            }
        }
        if contains(&out, b"{{token}}") {
            out = replace(&out, b"{{token}}", self.token().as_bytes());
        }
        if contains(&out, b"{{answer}}") {
            let answer = match &cx.challenge {
                Some(id) => self.state.store.peek_challenge(id).await.ok().flatten().map(|c| c.answer),
                None => None,
            };
            out = replace(&out, b"{{answer}}", answer.unwrap_or_default().as_bytes());
        }
        if contains(&out, b"{{verdict}}") {
            out = replace(&out, b"{{verdict}}", cx.verdict.as_deref().unwrap_or("none").as_bytes());
        }
        if contains(&out, b"{{challenge}}") {
            let id = cx.challenge.clone().unwrap_or_else(|| "ch_none".into());
            out = replace(&out, b"{{challenge}}", id.as_bytes());
        }
        out
    }

    /// Opens a session as the widget would, and solves its proof of work.
    async fn open(&self, site_key: &str) -> (String, u64) {
        let req = InitRequest { site_key: site_key.into(), ..InitRequest::default() };
        let res = session::open(&self.state, req, Some(ORIGIN), false).await.expect("a session opens");
        let nonce = solve(&res, site_key);
        (res.session_id, nonce)
    }

    /// A verdict for [`SITE_KEY`], never seen before.
    fn token(&self) -> String {
        let mut n = self.next_jti.borrow_mut();
        *n += 1;
        let now = clock::now_secs();
        let claims = Verdict {
            iss: "oculto".into(),
            sub: SITE_KEY.into(),
            jti: format!("fuzz-{n}"),
            sid: format!("co_fuzz{n}"),
            iat: now,
            exp: now + 300,
            score: 30,
            cls: Classification::Suspicious,
            hostname: "fuzz.example".into(),
            action: Some("login".into()),
            cdata: None,
        };
        self.state.keys.get().sign(&claims)
    }
}

impl Default for Harness {
    fn default() -> Self {
        Self::new()
    }
}

/// The proof of work of a session opened for `site_key`.
fn solve(init: &InitResponse, site_key: &str) -> u64 {
    let prefix = Prefix::new(&init.session_id, site_key, &init.challenge.salt);
    prefix.solve_range(init.challenge.difficulty, 0, u64::MAX).expect("a nonce exists")
}

/// Reads one request; `None` when its method, URI or layout is not one.
fn parse(segment: &[u8]) -> Option<Request> {
    let (head, body) = match find(segment, b"\n\n") {
        Some(i) => (&segment[..i], &segment[i + 2..]),
        None => (segment, &[][..]),
    };
    let mut lines = head.split(|&b| b == b'\n');
    let first = lines.next()?;
    let sp = first.iter().position(|&b| b == b' ')?;
    let method = Method::from_bytes(&first[..sp]).ok()?;
    let uri = Uri::try_from(&first[sp + 1..]).ok()?;
    let mut headers = Vec::new();
    for line in lines.take(32) {
        let Some(colon) = line.iter().position(|&b| b == b':') else { continue };
        let value = line[colon + 1..].strip_prefix(b" ").unwrap_or(&line[colon + 1..]);
        if let (Ok(n), Ok(v)) = (HeaderName::from_bytes(&line[..colon]), HeaderValue::from_bytes(value)) {
            headers.push((n, v));
        }
    }
    Some(Request { method, uri, headers, body: body.to_vec() })
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    find(hay, needle).is_some()
}

fn replace(hay: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(hay.len());
    let mut rest = hay;
    while let Some(i) = find(rest, from) {
        out.extend_from_slice(&rest[..i]);
        out.extend_from_slice(to);
        rest = &rest[i + from.len()..];
    }
    out.extend_from_slice(rest);
    out
}

/// `data` cut at each `sep`.
fn split<'a>(data: &'a [u8], sep: &'a [u8]) -> impl Iterator<Item = &'a [u8]> + 'a {
    let mut rest = Some(data);
    std::iter::from_fn(move || {
        let r = rest?;
        match find(r, sep) {
            Some(i) => {
                rest = Some(&r[i + sep.len()..]);
                Some(&r[..i])
            }
            None => {
                rest = None;
                Some(r)
            }
        }
    })
}

thread_local! {
    // Leaked: dropped at exit, the app would reach for actix's thread-locals
    // after they are gone.
    static HARNESS: &'static Harness = Box::leak(Box::new(Harness::new()));
}

/// Plays `data` on this thread's app.
pub fn run(data: &[u8]) {
    HARNESS.with(|h| h.run(data));
}
