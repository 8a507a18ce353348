//! Oculto on Redis over real sockets (issue 6): each test starts its own
//! `redis-server` and `oculto serve --store redis://...` processes, then
//! checks single use, what `/verify` answers while Redis is away, that it
//! recovers without a restart, and that nodes sharing one Redis share
//! tokens, their single use, rate limits and signing keys, also under a
//! concurrent load while a node or Redis is killed.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use oculto_shared::api::{routes, HealthResponse, InitResponse, StatsSummary, VerifyResponse};
use oculto_shared::token::Jwks;
use oculto_tests::load::{race, verify_load, wait_for_done, Load, LoadReport};
use oculto_tests::redis::{RedisCluster, RedisServer, Replicated};
use oculto_tests::{human_signals, Pow, Reply, Site, Verifier, HUMAN_PAUSE};
use serde_json::{json, Value};

const ORIGIN: &str = "http://a.test";

/// Longest answer from a verifier whose Redis is away: the store's 2 s
/// timeout and some slack.
const BOUNDED: Duration = Duration::from_secs(4);

/// A verifier started with `--store` on `redis`, and one site.
fn on_redis(redis: &RedisServer) -> (Verifier, Site) {
    let v = Verifier::new().store(&redis.url());
    let site = v.add_site(ORIGIN);
    (v.start(), site)
}

/// `POST /verify` with an idempotency key.
fn verify_with_key(v: &Verifier, token: &str, api_key: &str, idempotency_key: &str) -> Reply {
    v.post(routes::VERIFY).json(&json!({ "token": token, "api_key": api_key, "idempotency_key": idempotency_key }))
}

fn health(v: &Verifier) -> Reply {
    v.get(routes::HEALTH).send()
}

fn jwks(v: &Verifier) -> Jwks {
    v.get(routes::JWKS).send().parse()
}

/// Checks that the answer is the contract's 503 `store_unavailable` with
/// `Retry-After`, and came within [`BOUNDED`] of `started`.
#[track_caller]
fn assert_unavailable(reply: &Reply, started: Instant) {
    reply.assert_error(503, "store_unavailable");
    assert!(reply.header("retry-after").is_some(), "no Retry-After: {:?}", reply.headers);
    assert!(started.elapsed() < BOUNDED, "answered after {:?}", started.elapsed());
}

#[test]
fn verify_is_single_use_and_answers_503_while_redis_is_away() {
    let mut redis = RedisServer::start();
    let (v, site) = on_redis(&redis);
    let h: HealthResponse = health(&v).parse();
    assert_eq!((h.status.as_str(), h.architecture.as_str()), ("ok", "redis"));

    let tokens = v.walk_many(&site.site_key, ORIGIN, 3);
    let first: VerifyResponse = v.verify(&tokens[0], &site.api_key).parse();
    assert!(first.valid, "{first:?}");
    v.verify(&tokens[0], &site.api_key).assert_error(409, "already_verified");

    // Redis crashes (after a save, so that its restart keeps the sites,
    // keys and spent tokens): never "valid", never 500, and no long wait.
    redis.save();
    redis.kill();
    let started = Instant::now();
    assert_unavailable(&v.verify(&tokens[1], &site.api_key), started);
    let started = Instant::now();
    assert_unavailable(&v.verify(&tokens[0], &site.api_key), started);
    let down = health(&v);
    assert_eq!(down.status, 503);
    let down = down.json();
    assert_eq!(down["status"], "degraded");
    assert_eq!(down["components"]["store"]["status"], "down", "{down}");
    assert_eq!(down["components"]["keys"]["status"], "ok", "{down}");
    // Operators see it in the metrics (tracker issue 6).
    let m = v.scrape();
    let verify_503 = [("route", routes::VERIFY), ("method", "POST"), ("status", "503")];
    assert_eq!(m.value("oculto_http_requests_total", &verify_503), 2.0, "{}", m.text());
    assert!(m.value("oculto_store_errors_total", &[("operation", "consume")]) >= 2.0, "{}", m.text());
    let turnstile = v.post(routes::SITEVERIFY).form(&[("secret", &site.api_key), ("response", &tokens[1])]);
    let turnstile = turnstile.assert_ok();
    assert_eq!((&turnstile["success"], &turnstile["error-codes"]), (&json!(false), &json!(["internal-error"])));

    // Redis comes back on the same port: the same oculto process recovers.
    redis.restart();
    v.wait_until("/health is ok again", || health(&v).status == 200);
    let again: VerifyResponse = v.verify(&tokens[1], &site.api_key).parse();
    assert!(again.valid, "{again:?}");
    v.verify(&tokens[0], &site.api_key).assert_error(409, "already_verified");
    v.verify(&tokens[1], &site.api_key).assert_error(409, "already_verified");

    // Redis stuck (stopped, its connections open): still a bounded 503. The
    // command may run once Redis goes on, so the backend retries with its
    // idempotency key and gets the answer, not a 409.
    redis.pause();
    let started = Instant::now();
    let reply = verify_with_key(&v, &tokens[2], &site.api_key, "order-7");
    redis.resume();
    assert_unavailable(&reply, started);
    v.wait_until("/health is ok again", || health(&v).status == 200);
    let retried: VerifyResponse = verify_with_key(&v, &tokens[2], &site.api_key, "order-7").parse();
    assert!(retried.valid, "{retried:?}");
    v.verify(&tokens[2], &site.api_key).assert_error(409, "already_verified");
}

#[test]
fn two_nodes_sharing_one_redis_share_tokens_and_single_use() {
    let redis = RedisServer::start();
    let a = Verifier::new().store(&redis.url());
    let site = a.add_site(ORIGIN);
    // Node B takes its store from the environment.
    let b = Verifier::new().env("OCULTO_STORE", &redis.url());
    // Both start at once, racing to make the first signing key: one wins.
    let (a, b) = thread::scope(|s| {
        let a = s.spawn(|| a.start());
        let b = s.spawn(|| b.start());
        (a.join().expect("node A starts"), b.join().expect("node B starts"))
    });
    assert_eq!(health(&b).parse::<HealthResponse>().architecture, "redis");
    let (ka, kb) = (jwks(&a), jwks(&b));
    assert_eq!(ka.keys.len(), 1);
    assert_eq!(ka, kb, "both nodes sign with the same key");

    let from_a = a.walk(&site.site_key, ORIGIN);
    assert!(b.verify(&from_a, &site.api_key).parse::<VerifyResponse>().valid);
    a.verify(&from_a, &site.api_key).assert_error(409, "already_verified");
    let from_b = b.walk(&site.site_key, ORIGIN);
    assert!(a.verify(&from_b, &site.api_key).parse::<VerifyResponse>().valid);
    b.verify(&from_b, &site.api_key).assert_error(409, "already_verified");

    // A key rotated through one node's store reaches both; old tokens stay
    // good until they expire.
    let before = b.walk(&site.site_key, ORIGIN);
    a.oculto(&["keys", "rotate"]);
    a.wait_until("node A publishes the new key", || jwks(&a).keys.len() == 2);
    b.wait_until("node B publishes the new key", || jwks(&b).keys.len() == 2);
    let after = a.walk(&site.site_key, ORIGIN);
    assert!(b.verify(&before, &site.api_key).parse::<VerifyResponse>().valid);
    assert!(b.verify(&after, &site.api_key).parse::<VerifyResponse>().valid);
}

/// A verifier (not started) on the store at `url`; rate limits out of the
/// way of a test's volume unless `env` sets them.
fn node(url: &str, env: &[(&str, &str)]) -> Verifier {
    let v = Verifier::new()
        .store(url)
        .env("OCULTO_RATE_LIMIT__INIT_PER_MIN", "1000000")
        .env("OCULTO_RATE_LIMIT__SCORE_PER_MIN", "1000000")
        .env("OCULTO_RATE_LIMIT__SOFT_PER_MIN", "1000000");
    env.iter().fold(v, |v, (k, val)| v.env(k, val))
}

/// Two verifiers on the store at `url` (see [`node`]), started at once, and
/// one site.
fn two_nodes(url: &str, env: &[(&str, &str)]) -> (Verifier, Verifier, Site) {
    let (a, b) = (node(url, env), node(url, env));
    let site = a.add_site(ORIGIN);
    let (a, b) = thread::scope(|s| {
        let a = s.spawn(|| a.start());
        let b = s.spawn(|| b.start());
        (a.join().expect("node A starts"), b.join().expect("node B starts"))
    });
    (a, b, site)
}

/// `n` tokens, half made on each node.
fn mint_on_both(a: &Verifier, b: &Verifier, site: &Site, n: usize) -> Vec<String> {
    let (ta, tb) = thread::scope(|s| {
        let ta = s.spawn(|| a.mint(&site.site_key, ORIGIN, n / 2));
        let tb = s.spawn(|| b.mint(&site.site_key, ORIGIN, n - n / 2));
        (ta.join().expect("minting on A"), tb.join().expect("minting on B"))
    });
    // Interleaved, so that the load presents both nodes' tokens throughout.
    let mut all = Vec::with_capacity(n);
    for i in 0..ta.len().max(tb.len()) {
        all.extend(ta.get(i).cloned());
        all.extend(tb.get(i).cloned());
    }
    all
}

/// What must hold after a load during which something was killed: no
/// unexpected answer, no token accepted twice, every token spent (each
/// caller got 200 or 409), and a token nobody was told was accepted had a
/// request cut or answered 503 (its spending request's answer was lost).
/// Then every token answers 409 on each node, and /stats counts each token
/// once.
#[track_caller]
fn assert_spent_once(report: &LoadReport, tokens: &[String], site: &Site, nodes: &[&Verifier]) {
    assert!(report.unexpected().is_empty(), "unexpected answers: {:#?}", report.unexpected());
    assert!(report.accepted_twice().is_empty(), "tokens accepted twice: {:?}", report.accepted_twice());
    for i in report.never_accepted() {
        let t = &report.tokens[i];
        assert!(t.cut + t.unavailable > 0, "token {i} was spent, nobody was told 200, and no request failed: {t:?}");
    }
    for (i, t) in tokens.iter().enumerate().step_by(7) {
        let node = nodes[i % nodes.len()];
        let again = node.verify(t, &site.api_key);
        assert_eq!(again.status, 409, "token {i} after the run: {}", again.body);
    }
    for node in nodes {
        let summary: StatsSummary = node.stats(&site.api_key).parse();
        assert_eq!(summary.distribution.total, tokens.len() as u64, "each token counted once");
    }
    assert_eq!(report.accepted() + report.never_accepted().len(), tokens.len());
}

/// Issue 6: 500 backends present one token at once, half to each node.
#[test]
fn five_hundred_concurrent_verifications_over_two_nodes_accept_exactly_one() {
    const N: usize = 500;
    let redis = RedisServer::start();
    let (a, b, site) = two_nodes(&redis.url(), &[]);
    let token = a.walk(&site.site_key, ORIGIN);
    race(&[a.url(""), b.url("")], &token, &site.api_key, N).assert_one_accepted();
    for node in [&a, &b] {
        let summary: StatsSummary = node.stats(&site.api_key).parse();
        assert_eq!(summary.distribution.total, 1);
    }
}

/// Issue 6: on Redis, the per-address and per-site limits are one allowance
/// for every node; while Redis is away, a limited endpoint answers 503
/// `store_unavailable` (never 500), and the shared limits are back with it.
#[test]
fn rate_limits_reached_through_one_node_hold_on_the_other() {
    let mut redis = RedisServer::start_durable();
    let limits = [
        ("OCULTO_RATE_LIMIT__INIT_PER_MIN", "4"),
        ("OCULTO_RATE_LIMIT__SCORE_PER_MIN", "2"),
        ("OCULTO_RATE_LIMIT__SOFT_PER_MIN", "2"),
        ("OCULTO_RATE_LIMIT__SITE_SOFT_PER_MIN", "3"),
        ("OCULTO_POW__DIFFICULTY", "4"),
        ("OCULTO_POW__FLOOD_EXTRA", "6"),
    ];
    let (a, b, site) = two_nodes(&redis.url(), &limits);
    let init = |v: &Verifier| v.init(&site.site_key, Some(ORIGIN), None);
    let difficulty = |r: &Reply| r.parse::<InitResponse>().challenge.difficulty;
    // Two sessions through A, within the soft rate, then two through B: past
    // the address's soft rate (+6 bits) counted with A's.
    let opened: Vec<Reply> = vec![init(&a), init(&a), init(&b), init(&b)];
    let bits: Vec<u8> = opened.iter().map(difficulty).collect();
    assert_eq!(bits, [4, 4, 10, 10], "soft rate shared across nodes");
    let limited = init(&b);
    limited.assert_error(429, "rate_limited");
    let wait: u64 = limited.header("retry-after").expect("Retry-After").parse().expect("seconds");
    assert!((1..=15).contains(&wait), "one /init every 15 s: Retry-After {wait}");
    init(&a).assert_error(429, "rate_limited");

    // /score: two through B, the third through A is refused.
    let score = |v: &Verifier| v.post(routes::SCORE).header("Origin", ORIGIN).json(&json!({ "session_id": "co_none" }));
    score(&b).assert_error(404, "session_not_found");
    score(&b).assert_error(404, "session_not_found");
    score(&a).assert_error(429, "rate_limited");

    // From other addresses (a trusted proxy says who), the site's own soft
    // rate is shared too: its fourth session of the minute, through
    // either node, gets half the flood bits.
    let proxied = Verifier::new()
        .store(&redis.url())
        .env("OCULTO_TRUSTED_PROXIES", r#"["127.0.0.1/32"]"#)
        .env("OCULTO_RATE_LIMIT__SOFT_PER_MIN", "100")
        .env("OCULTO_RATE_LIMIT__SITE_SOFT_PER_MIN", "3")
        .env("OCULTO_POW__DIFFICULTY", "4")
        .env("OCULTO_POW__FLOOD_EXTRA", "6")
        .start();
    let from = |ip: &str| {
        let r = proxied.post(routes::INIT).header("Origin", ORIGIN).header("X-Forwarded-For", ip);
        difficulty(&r.json(&json!({ "site_key": site.site_key })))
    };
    assert_eq!(from("203.0.113.1"), 4 + 3, "A and B opened four sessions of the site already");

    // Redis away: the limiter counts on the node, the store answers 503.
    redis.kill();
    let started = Instant::now();
    init(&b).assert_error(503, "store_unavailable");
    score(&a).assert_error(503, "store_unavailable");
    assert!(started.elapsed() < BOUNDED * 2, "answered after {:?}", started.elapsed());
    redis.restart();
    for v in [&a, &b] {
        v.wait_until("/health is ok again", || health(v).status == 200);
    }
    // The allowance spent before is still spent, on both nodes: the
    // limits' state lives in Redis, which kept it (append-only file).
    thread::sleep(LIMITER_FALLBACK);
    init(&a).assert_error(429, "rate_limited");
    init(&b).assert_error(429, "rate_limited");
}

/// How long a node counts limits on its own after Redis failed to
/// (`limits::FALLBACK`, 1 s), and a little more.
const LIMITER_FALLBACK: Duration = Duration::from_millis(1100);

/// Issue 6: a node killed (SIGKILL) while two nodes verify fresh tokens,
/// each presented by three callers spread over both nodes, then started
/// again on the same port. A caller whose node is gone tries the other.
#[test]
fn a_redis_node_killed_under_load_and_restarted_accepts_no_token_twice() {
    const TOKENS: usize = 400;
    let redis = RedisServer::start();
    let (mut a, b, site) = two_nodes(&redis.url(), &[]);
    let tokens = mint_on_both(&a, &b, &site, TOKENS);
    let done = AtomicUsize::new(0);
    let load =
        Load { nodes: vec![a.url(""), b.url("")], api_key: &site.api_key, tokens: &tokens, callers: 3, groups: 8 };
    let (report, at_kill) = thread::scope(|s| {
        let running = s.spawn(|| verify_load(&load, &done));
        let at_kill = wait_for_done(&done, TOKENS / 3, &running, "the kill");
        a.kill();
        thread::sleep(Duration::from_millis(300));
        a.restart_on_same_port();
        (running.join().expect("the load runs"), at_kill)
    });
    eprintln!("node A killed after {at_kill} tokens; {}", report.summary());
    assert!(at_kill < TOKENS, "the kill landed during the load");
    assert!(report.cut() > 0, "no request was refused or cut: the kill missed the load");
    assert_spent_once(&report, &tokens, &site, &[&a, &b]);
}

/// Issue 6: Redis killed (SIGKILL) during a load of verifications on two
/// nodes, and started again 1.5 s later from its append-only file: 503s
/// while it is away, right answers after, and no token accepted twice.
#[test]
fn redis_down_and_back_under_load_accepts_no_token_twice() {
    const TOKENS: usize = 400;
    let mut redis = RedisServer::start_durable();
    let (a, b, site) = two_nodes(&redis.url(), &[]);
    let tokens = mint_on_both(&a, &b, &site, TOKENS);
    let done = AtomicUsize::new(0);
    let load =
        Load { nodes: vec![a.url(""), b.url("")], api_key: &site.api_key, tokens: &tokens, callers: 3, groups: 8 };
    let (report, at_kill, at_restart) = thread::scope(|s| {
        let running = s.spawn(|| verify_load(&load, &done));
        let at_kill = wait_for_done(&done, TOKENS / 4, &running, "Redis was killed");
        redis.kill();
        thread::sleep(Duration::from_millis(1500));
        let at_restart = done.load(Ordering::Relaxed);
        redis.restart();
        (running.join().expect("the load runs"), at_kill, at_restart)
    });
    eprintln!("Redis down from token {at_kill} to {at_restart}; {}", report.summary());
    assert!(report.unavailable() > 0, "no 503 while Redis was away");
    assert!(at_restart < TOKENS, "the load went on after Redis came back");
    assert_spent_once(&report, &tokens, &site, &[&a, &b]);
    // Tokens finished after Redis came back were answered without a 503.
    let after: Vec<usize> = (at_restart + 40..TOKENS).filter(|&i| report.tokens[i].unavailable > 0).collect();
    assert!(after.len() < 20, "503s long after Redis was back: tokens {after:?}");
}

fn kid_of(token: &str) -> String {
    let header = token.split('.').next().expect("a header");
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).expect("base64url")).expect("JSON");
    header["kid"].as_str().expect("a kid").to_owned()
}

/// Issue 6: `oculto keys rotate` while two nodes serve a steady stream of
/// walks, each token verified on the other node than the one that signed
/// it. Every node publishes the new key before any signs with it, so no
/// token is ever refused; tokens signed with the old key verify on both
/// nodes until they expire; once the new key's time has come, both nodes
/// sign with it.
#[test]
fn keys_rotated_while_two_nodes_serve_refuse_no_token() {
    const TTL_SECS: u64 = 20;
    let redis = RedisServer::start();
    let (a, b, site) = two_nodes(&redis.url(), &[("OCULTO_TOKEN_TTL_SECS", "20")]);
    let old_kid = kid_of(&a.walk(&site.site_key, ORIGIN));
    let old_tokens = mint_on_both(&a, &b, &site, 40);
    let old_made = Instant::now();
    assert!(old_tokens.iter().all(|t| kid_of(t) == old_kid));

    let stop = AtomicBool::new(false);
    let warm = AtomicUsize::new(0);
    let nodes = [&a, &b];
    let (out, seen) = thread::scope(|s| {
        let streams: Vec<_> = (0..4)
            .map(|n| {
                let (stop, warm, site) = (&stop, &warm, &site);
                s.spawn(move || {
                    let (signer, checker) = (nodes[n % 2], nodes[(n + 1) % 2]);
                    let mut seen: Vec<(usize, String)> = Vec::new();
                    let mut refused = Vec::new();
                    while !stop.load(Ordering::Relaxed) {
                        // Each verdict is checked on the other node the
                        // moment it is made.
                        let sessions: Vec<_> = (0..5).map(|_| signer.open(&site.site_key, Some(ORIGIN))).collect();
                        thread::sleep(HUMAN_PAUSE);
                        for session in &sessions {
                            let t = signer.finish(session, Pow::Solved, &human_signals());
                            let r = checker.verify(&t, &site.api_key);
                            if r.status != 200 || r.json()["valid"] != true {
                                refused.push(format!("{} {}", r.status, r.body));
                            }
                            seen.push((n % 2, kid_of(&t)));
                        }
                        if seen.len() == sessions.len() {
                            warm.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    (refused, seen)
                })
            })
            .collect();
        a.wait_until("every stream has verified a batch", || warm.load(Ordering::Relaxed) == streams.len());
        let out = a.oculto(&["keys", "rotate"]);
        // Until both nodes sign with the new key, and a little after.
        let rotated = Instant::now();
        let new_kid = out.split_whitespace().nth(3).expect("a kid").trim_end_matches(';').to_owned();
        for v in nodes {
            v.wait_until("the new key signs", || kid_of(&v.walk(&site.site_key, ORIGIN)) == new_kid);
        }
        thread::sleep(Duration::from_millis(1500));
        stop.store(true, Ordering::Relaxed);
        let results: Vec<_> = streams.into_iter().map(|h| h.join().expect("stream")).collect();
        eprintln!("both nodes signed with the new key {:.1} s after the rotation", rotated.elapsed().as_secs_f64());
        let refused: Vec<String> = results.iter().flat_map(|(r, _)| r.clone()).collect();
        assert!(refused.is_empty(), "tokens refused during the rotation: {refused:#?}");
        (new_kid, results.into_iter().map(|(_, seen)| seen).collect::<Vec<_>>())
    });
    let new_kid = out;
    assert_ne!(new_kid, old_kid);
    // Each stream saw its node go from the old key to the new one once,
    // never back.
    for stream in &seen {
        let node = stream[0].0;
        let kids: Vec<&str> = stream.iter().map(|(_, k)| k.as_str()).collect();
        let switched = kids.iter().position(|k| *k == new_kid).expect("the node signed with the new key");
        assert!(kids[..switched].iter().all(|k| *k == old_kid), "node {node}: {kids:?}");
        assert!(kids[switched..].iter().all(|k| *k == new_kid), "node {node} went back to the old key: {kids:?}");
        assert!(switched > 0, "node {node} signed with the new key before the load saw the old one");
    }
    for v in nodes {
        let kids: BTreeSet<String> = jwks(v).keys.into_iter().map(|k| k.kid).collect();
        assert_eq!(kids, BTreeSet::from([old_kid.clone(), new_kid.clone()]), "both keys published");
    }

    // Old tokens verify on either node after the rotation, until they expire.
    let (now, later) = old_tokens.split_at(old_tokens.len() / 2);
    assert!(old_made.elapsed() < Duration::from_secs(TTL_SECS - 1), "the old tokens outlived their check");
    for (i, t) in now.iter().enumerate() {
        let answer: VerifyResponse = nodes[i % 2].verify(t, &site.api_key).parse();
        assert!(answer.valid, "an old-key token after the rotation: {answer:?}");
    }
    thread::sleep(Duration::from_secs(TTL_SECS + 1).saturating_sub(old_made.elapsed()));
    for (i, t) in later.iter().enumerate() {
        let msg = nodes[i % 2].verify(t, &site.api_key).assert_error(400, "invalid_token");
        assert!(msg.contains("expired"), "{msg}");
    }
}

/// Issue 6: two nodes on a Redis Cluster of three masters
/// (`redis+cluster://`): a token made on one verifies on the other, once,
/// also when 100 callers present it at once; an `/init` allowance spent
/// through A holds on B; while the node holding `{oculto}` is down, a
/// bounded 503 and `/health` degraded, then right answers once it is back,
/// without restarting `oculto`.
#[test]
fn two_nodes_on_a_redis_cluster_share_tokens_single_use_and_limits() {
    let mut cluster = RedisCluster::start(3);
    let (a, b, site) = two_nodes(&cluster.url(), &[("OCULTO_RATE_LIMIT__INIT_PER_MIN", "8")]);
    assert_eq!(health(&a).parse::<HealthResponse>().architecture, "redis");
    assert_eq!(jwks(&a), jwks(&b), "both nodes sign with the same key");

    let from_a = a.walk(&site.site_key, ORIGIN);
    assert!(b.verify(&from_a, &site.api_key).parse::<VerifyResponse>().valid);
    a.verify(&from_a, &site.api_key).assert_error(409, "already_verified");
    b.verify(&from_a, &site.api_key).assert_error(409, "already_verified");
    let tokens = b.walk_many(&site.site_key, ORIGIN, 2);
    race(&[a.url(""), b.url("")], &tokens[0], &site.api_key, 100).assert_one_accepted();
    let summary: StatsSummary = a.stats(&site.api_key).parse();
    assert_eq!(summary.distribution.total, 2, "each token counted once");

    // Four /init so far: A spends the rest of the address's allowance.
    let init = |v: &Verifier| v.init(&site.site_key, Some(ORIGIN), None);
    let mut opened = 0;
    while init(&a).status != 429 {
        opened += 1;
        assert!(opened <= 8, "no limit on A");
    }
    init(&b).assert_error(429, "rate_limited");

    cluster.node_of("{oculto}").kill();
    let started = Instant::now();
    assert_unavailable(&b.verify(&tokens[1], &site.api_key), started);
    assert_eq!(health(&a).status, 503);
    cluster.node_of("{oculto}").restart();
    cluster.wait_ok();
    for v in [&a, &b] {
        v.wait_until("/health is ok again", || health(v).status == 200);
    }
    let answer = b.verify(&tokens[1], &site.api_key);
    // A 503's command may have run: the token is then spent (409), never
    // accepted twice.
    assert!(answer.status == 200 || answer.status == 409, "{}", answer.body);
    a.verify(&tokens[1], &site.api_key).assert_error(409, "already_verified");
}

/// Issue 6: a node on `redis+sentinel://` (a master, its replica, one
/// Sentinel) verifies tokens while Sentinel fails the master over: it
/// follows the new master without a restart; 503s meanwhile, retried with
/// an idempotency key as a backend would; no token accepted twice; tokens
/// spent before the failover stay spent.
#[test]
fn a_node_behind_sentinel_follows_a_failover() {
    let servers = Replicated::start();
    let v = node(&servers.url(), &[]);
    let site = v.add_site(ORIGIN);
    let v = v.start();
    let tokens = v.mint(&site.site_key, ORIGIN, 60);
    let (before, during) = tokens.split_at(20);
    for t in before {
        assert!(v.verify(t, &site.api_key).parse::<VerifyResponse>().valid);
    }
    v.verify(&before[0], &site.api_key).assert_error(409, "already_verified");
    servers.wait_in_sync();

    let done = AtomicUsize::new(0);
    let (answers, unavailable) = thread::scope(|s| {
        let running = s.spawn(|| {
            let mut answers = Vec::new();
            let mut unavailable = 0;
            for (i, t) in during.iter().enumerate() {
                let started = Instant::now();
                let reply = loop {
                    let reply = verify_with_key(&v, t, &site.api_key, &format!("order-{i}"));
                    if reply.status != 503 || started.elapsed() > Duration::from_secs(30) {
                        break reply;
                    }
                    unavailable += 1;
                    thread::sleep(Duration::from_millis(100));
                };
                answers.push((reply.status, reply.body));
                done.fetch_add(1, Ordering::Relaxed);
                thread::sleep(Duration::from_millis(50));
            }
            (answers, unavailable)
        });
        wait_for_done(&done, 5, &running, "the failover");
        servers.fail_over();
        running.join().expect("the verifications run")
    });
    eprintln!("{unavailable} answers 503 during the failover");
    for (i, (status, body)) in answers.iter().enumerate() {
        assert_eq!(*status, 200, "token {i}: {body}");
    }
    for t in &tokens {
        v.verify(t, &site.api_key).assert_error(409, "already_verified");
    }
    assert_eq!(servers.master_port(), Some(servers.replica.port()));
    assert_eq!(health(&v).status, 200);
    let fresh = v.walk(&site.site_key, ORIGIN);
    assert!(v.verify(&fresh, &site.api_key).parse::<VerifyResponse>().valid);
    let summary: StatsSummary = v.stats(&site.api_key).parse();
    assert_eq!(summary.distribution.total, tokens.len() as u64 + 1, "each token counted once");
}
