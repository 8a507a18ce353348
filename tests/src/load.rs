//! Concurrent `/verify` load for the tests that break things while it runs
//! (issue 6): a node killed and restarted, Redis taken away and brought
//! back, keys rotated.
//!
//! [`verify_load`] hands tokens out to groups of callers. The callers of a
//! group present the same token at the same moment, each to its own node
//! (callers spread over the nodes), the way a site's backends retrying a
//! form post would. A caller that gets no answer (connection refused or cut
//! by a kill) or a 503 tries again on the next node after a short pause,
//! until it has a real answer, so that every token ends up spent; every
//! attempt is recorded. [`race`] has many callers present one token at once.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use oculto_shared::api::routes;
use serde_json::{json, Value};

use crate::{Client, Reply};

/// How long a caller keeps trying one token before it gives up; and, for
/// the whole load, how long after it started callers stop trying (so that a
/// test that failed while a load runs ends soon).
const GIVE_UP: Duration = Duration::from_secs(30);
const GIVE_UP_LOAD: Duration = Duration::from_secs(90);

/// The pause before a caller tries again.
const RETRY_PAUSE: Duration = Duration::from_millis(20);

/// A caller's final answer for a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// 200: the token was accepted (`valid` as answered).
    Accepted {
        /// The `valid` field.
        valid: bool,
    },
    /// 409 `already_verified`.
    AlreadyVerified,
    /// Any other answer: status and the start of the body. Never expected.
    Other(u16, String),
    /// Still no answer after 30 s of trying, or 90 s into the load.
    GaveUp,
}

/// What happened to one token across its callers.
#[derive(Debug, Clone, Default)]
pub struct TokenRun {
    /// Each caller's final answer.
    pub answers: Vec<Answer>,
    /// Attempts that got no answer: refused, or cut by a kill (such a
    /// request may have spent the token before its answer was lost).
    pub cut: usize,
    /// Attempts answered 503 `store_unavailable`.
    pub unavailable: usize,
    /// Attempts answered 5xx other than 503 `store_unavailable`.
    pub server_errors: Vec<String>,
}

impl TokenRun {
    /// How many callers were told the token was accepted.
    pub fn accepted(&self) -> usize {
        self.answers.iter().filter(|a| matches!(a, Answer::Accepted { .. })).count()
    }
}

/// Every token's run, in the order of the tokens.
#[derive(Debug, Clone)]
pub struct LoadReport {
    /// Per token.
    pub tokens: Vec<TokenRun>,
    /// How long the load ran.
    pub elapsed: Duration,
}

impl LoadReport {
    /// 200s answered, all tokens together.
    pub fn accepted(&self) -> usize {
        self.tokens.iter().map(TokenRun::accepted).sum()
    }

    /// Tokens that no caller was told were accepted.
    pub fn never_accepted(&self) -> Vec<usize> {
        (0..self.tokens.len()).filter(|&i| self.tokens[i].accepted() == 0).collect()
    }

    /// Tokens accepted more than once: single use broken.
    pub fn accepted_twice(&self) -> Vec<usize> {
        (0..self.tokens.len()).filter(|&i| self.tokens[i].accepted() > 1).collect()
    }

    /// Attempts with no answer.
    pub fn cut(&self) -> usize {
        self.tokens.iter().map(|t| t.cut).sum()
    }

    /// Attempts answered 503 `store_unavailable`.
    pub fn unavailable(&self) -> usize {
        self.tokens.iter().map(|t| t.unavailable).sum()
    }

    /// Final answers that are neither 200 nor 409, 5xx answers other than
    /// 503 `store_unavailable`, and callers that gave up.
    pub fn unexpected(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (i, t) in self.tokens.iter().enumerate() {
            for a in &t.answers {
                if matches!(a, Answer::Other(..) | Answer::GaveUp) {
                    out.push(format!("token {i}: {a:?}"));
                }
            }
            out.extend(t.server_errors.iter().map(|e| format!("token {i}: {e}")));
        }
        out
    }

    /// One line for a test's output.
    pub fn summary(&self) -> String {
        format!(
            "{} tokens in {:.1} s: {} accepted, {} never accepted, {} attempts cut, {} answered 503",
            self.tokens.len(),
            self.elapsed.as_secs_f64(),
            self.accepted(),
            self.never_accepted().len(),
            self.cut(),
            self.unavailable()
        )
    }
}

/// The settings of a [`verify_load`].
#[derive(Debug, Clone)]
pub struct Load<'a> {
    /// Base URLs of the nodes, `http://127.0.0.1:PORT`.
    pub nodes: Vec<String>,
    /// The site's API key.
    pub api_key: &'a str,
    /// The tokens, each presented by every caller of a group.
    pub tokens: &'a [String],
    /// Callers per token.
    pub callers: usize,
    /// Tokens in flight at once.
    pub groups: usize,
}

/// Waits until `done` counts `n` tokens finished by the load `running`,
/// and returns the count then; fails with `what` if the load ends first.
pub fn wait_for_done<T>(
    done: &AtomicUsize,
    n: usize,
    running: &std::thread::ScopedJoinHandle<'_, T>,
    what: &str,
) -> usize {
    while done.load(Ordering::Relaxed) < n {
        assert!(!running.is_finished(), "the load ended before {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
    done.load(Ordering::Relaxed)
}

/// Verifies every token of `load` and reports every answer. `done` counts
/// the tokens finished, so that the test can act at some point of the run.
pub fn verify_load(load: &Load<'_>, done: &AtomicUsize) -> LoadReport {
    let started = Instant::now();
    let next = AtomicUsize::new(0);
    let runs: Vec<Mutex<TokenRun>> = load.tokens.iter().map(|_| Mutex::default()).collect();
    std::thread::scope(|s| {
        for _ in 0..load.groups {
            let barrier = Arc::new(Barrier::new(load.callers));
            let slot = Arc::new(Mutex::new(None::<usize>));
            for caller in 0..load.callers {
                let (barrier, slot, next, runs) = (barrier.clone(), slot.clone(), &next, &runs);
                s.spawn(move || {
                    let client = Client::new();
                    loop {
                        if caller == 0 {
                            let i = next.fetch_add(1, Ordering::Relaxed);
                            *lock(&slot) = (i < load.tokens.len()).then_some(i);
                        }
                        barrier.wait();
                        let Some(i) = *lock(&slot) else { break };
                        let body = json!({ "token": load.tokens[i], "api_key": load.api_key });
                        let mut run = TokenRun::default();
                        let answer = if started.elapsed() > GIVE_UP_LOAD {
                            Answer::GaveUp
                        } else {
                            present(&client, &load.nodes, i + caller, &body, &mut run)
                        };
                        {
                            let mut r = lock(&runs[i]);
                            r.answers.push(answer);
                            r.cut += run.cut;
                            r.unavailable += run.unavailable;
                            r.server_errors.extend(run.server_errors);
                        }
                        if barrier.wait().is_leader() {
                            done.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                });
            }
        }
    });
    let tokens = runs.into_iter().map(|m| m.into_inner().unwrap_or_else(|e| e.into_inner())).collect();
    LoadReport { tokens, elapsed: started.elapsed() }
}

/// Presents one token until a node answers something other than 503,
/// starting at node `first` and moving on to the next on each retry.
fn present(client: &Client, nodes: &[String], first: usize, body: &Value, run: &mut TokenRun) -> Answer {
    let started = Instant::now();
    for attempt in 0.. {
        if started.elapsed() > GIVE_UP {
            return Answer::GaveUp;
        }
        let node = &nodes[(first + attempt) % nodes.len()];
        match client.request("POST", format!("{node}{}", routes::VERIFY)).try_json(body) {
            Err(_) => run.cut += 1,
            Ok(r) if r.status == 503 && error_code(&r) == "store_unavailable" => run.unavailable += 1,
            Ok(r) => {
                if r.status >= 500 {
                    run.server_errors.push(format!("{} {}", r.status, short(&r.body)));
                }
                return match (r.status, error_code(&r).as_str()) {
                    (200, _) => Answer::Accepted { valid: r.json()["valid"] == true },
                    (409, "already_verified") => Answer::AlreadyVerified,
                    (status, _) => Answer::Other(status, short(&r.body)),
                };
            }
        }
        std::thread::sleep(RETRY_PAUSE);
    }
    unreachable!("the loop only returns")
}

/// What [`race`] saw.
#[derive(Debug)]
pub struct Race {
    /// Each caller's final answer (200 or 409, unless something is wrong).
    pub answers: Vec<Reply>,
    /// Answers 503 `store_unavailable` that a caller retried.
    pub retried: usize,
    /// 200s answered, retries included.
    pub accepted: usize,
}

impl Race {
    /// Checks that one caller was told 200 (`valid`), and every other one
    /// 409 `already_verified`; prints what was answered.
    #[track_caller]
    pub fn assert_one_accepted(&self) {
        let mut seen = std::collections::BTreeMap::new();
        for r in &self.answers {
            *seen.entry((r.status, r.body.chars().take(80).collect::<String>())).or_insert(0) += 1;
        }
        let n = self.answers.len();
        eprintln!("{n} callers: {seen:?}; {} answers 503 retried", self.retried);
        let accepted: Vec<&Reply> = self.answers.iter().filter(|r| r.status == 200).collect();
        let refused = self.answers.iter().filter(|r| r.status == 409 && error_code(r) == "already_verified").count();
        assert_eq!((accepted.len(), refused), (1, n - 1), "one 200, every other 409; final answers: {seen:?}");
        assert_eq!(self.accepted, 1, "200s answered, retries included");
        assert_eq!(accepted[0].json()["valid"], true);
    }
}

/// `n` callers, each with its own connection, present one token to
/// `/verify` at the same moment, caller `i` to node `i % nodes.len()`, each
/// with its own idempotency key. A caller answered 503 `store_unavailable`
/// (the store took longer than its timeout, which a machine running 500
/// callers and two debug builds on two cores can make it do) retries with
/// the same key, as the README tells backends to: if the first attempt
/// spent the token after all, the retry gets its answer again rather than a
/// 409. Transport failures panic.
pub fn race(nodes: &[String], token: &str, api_key: &str, n: usize) -> Race {
    let barrier = Barrier::new(n);
    let accepted = AtomicUsize::new(0);
    let retried = AtomicUsize::new(0);
    let answers = std::thread::scope(|s| {
        let callers: Vec<_> = (0..n)
            .map(|i| {
                let (barrier, accepted, retried) = (&barrier, &accepted, &retried);
                let url = format!("{}{}", nodes[i % nodes.len()], routes::VERIFY);
                let body = json!({ "token": token, "api_key": api_key, "idempotency_key": format!("caller-{i}") });
                s.spawn(move || {
                    let client = Client::new();
                    barrier.wait();
                    let started = Instant::now();
                    loop {
                        let r = client.request("POST", url.as_str()).json(&body);
                        if r.status == 200 {
                            accepted.fetch_add(1, Ordering::Relaxed);
                        }
                        if r.status != 503 || error_code(&r) != "store_unavailable" || started.elapsed() > GIVE_UP {
                            return r;
                        }
                        retried.fetch_add(1, Ordering::Relaxed);
                        std::thread::sleep(RETRY_PAUSE);
                    }
                })
            })
            .collect();
        callers.into_iter().map(|c| c.join().expect("caller thread")).collect()
    });
    Race { answers, retried: retried.into_inner(), accepted: accepted.into_inner() }
}

fn error_code(r: &Reply) -> String {
    serde_json::from_str::<Value>(&r.body).ok().and_then(|b| b["error"].as_str().map(str::to_owned)).unwrap_or_default()
}

fn short(s: &str) -> String {
    s.chars().take(160).collect()
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
