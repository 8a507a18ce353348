//! Oculto on Redis over real sockets (issue 6): each test starts its own
//! `redis-server` and `oculto serve --store redis://...` processes, then
//! checks single use, what `/verify` answers while Redis is away, that it
//! recovers without a restart, and that nodes sharing one Redis share
//! tokens and their single use.

use std::thread;
use std::time::{Duration, Instant};

use oculto_shared::api::{routes, HealthResponse, VerifyResponse};
use oculto_shared::token::Jwks;
use oculto_tests::redis::RedisServer;
use oculto_tests::{Reply, Site, Verifier};
use serde_json::json;

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
