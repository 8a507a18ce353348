//! Oculto over real sockets: each test starts its own `oculto serve` on
//! 127.0.0.1 with a fresh SQLite database, plays the widget and the site's
//! backend against it, and checks what a site owner would check: statuses,
//! error codes and fields.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ed25519_dalek::SigningKey;
use oculto_shared::api::{
    routes, Classification, HealthResponse, InitRequest, ScoreRequest, ScoreResponse, StatsDistribution, StatsRecent,
    StatsSummary, VerifyResponse,
};
use oculto_shared::pow::PowSolution;
use oculto_shared::token::{self, Jwks, Verdict};
use oculto_shared::ErrorKind;
use oculto_tests::load::{race, verify_load, wait_for_done, Load};
use oculto_tests::{human_signals, Client, Pow, Reply, Session, Verifier, HUMAN_PAUSE, TEST_DIFFICULTY};
use serde_json::{json, Value};

const ORIGIN_A: &str = "http://a.test";
const ORIGIN_B: &str = "http://b.test";

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("after 1970").as_secs()
}

/// The token's claims, as a backend decoding it would see them (signature
/// not checked).
fn claims_of(token: &str) -> Verdict {
    token::decode(token).expect("a well-formed token").claims
}

/// The token's `kid`.
fn kid_of(token: &str) -> String {
    token::decode(token).expect("a well-formed token").header.kid
}

/// The token with its claims part replaced by `claims`, header and signature
/// kept: what someone editing a token by hand produces.
fn with_claims(token: &str, claims: &Value) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    let c = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).expect("JSON"));
    format!("{}.{c}.{}", parts[0], parts[2])
}

/// A compact JWS of any header and claims, signed by `key`.
fn forge(header: &Value, claims: &Value, key: &SigningKey) -> String {
    use ed25519_dalek::Signer as _;
    let h = URL_SAFE_NO_PAD.encode(serde_json::to_vec(header).expect("JSON"));
    let c = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).expect("JSON"));
    let input = format!("{h}.{c}");
    let sig = URL_SAFE_NO_PAD.encode(key.sign(input.as_bytes()).to_bytes());
    format!("{input}.{sig}")
}

/// A key the verifier has never seen.
fn stranger_key() -> SigningKey {
    SigningKey::from_bytes(&[42; 32])
}

fn jwks(v: &Verifier) -> Jwks {
    let reply = v.get(routes::JWKS).send();
    reply.assert_ok();
    reply.parse()
}

fn siteverify(v: &Verifier, fields: &[(&str, &str)]) -> Value {
    let reply = v.post(routes::SITEVERIFY).form(fields);
    reply.assert_ok()
}

fn error_codes(answer: &Value) -> Vec<String> {
    answer["error-codes"]
        .as_array()
        .unwrap_or_else(|| panic!("no error-codes in {answer}"))
        .iter()
        .map(|c| c.as_str().expect("codes are strings").to_owned())
        .collect()
}

/// A session scored with human signals but `navigator.webdriver` set.
fn webdriver_token(v: &Verifier, site_key: &str, origin: &str) -> String {
    let session = v.open(site_key, Some(origin));
    thread::sleep(HUMAN_PAUSE);
    let mut signals = human_signals();
    signals.env.webdriver = true;
    v.finish(&session, Pow::Solved, &signals)
}

fn is_rfc3339_utc(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 20 && b[4] == b'-' && b[7] == b'-' && b[10] == b'T' && b[13] == b':' && b[16] == b':' && b[19] == b'Z'
}

#[test]
fn a_person_walks_the_flow_and_the_backend_verifies_the_token_once() {
    let (v, site) = Verifier::with_site(ORIGIN_A);

    let req = InitRequest {
        site_key: site.site_key.clone(),
        action: Some("signup".into()),
        cdata: Some("order-42".into()),
        binding: None,
    };
    let session = v.open_with(&req, Some(ORIGIN_A));
    assert!(session.id().starts_with("co_"), "{}", session.id());
    assert_eq!(session.init.challenge.algorithm, "SHA-256");
    assert_eq!(session.init.challenge.difficulty, TEST_DIFFICULTY);
    assert_eq!(session.init.challenge.salt.len(), 32);
    assert!(session.init.expires_at > now_secs());

    thread::sleep(HUMAN_PAUSE);
    let scored = v.score(&session, Pow::Solved, &human_signals());
    assert_eq!(scored.header("cache-control"), Some("no-store"));
    let scored: ScoreResponse = scored.parse();
    assert!(scored.step_up.is_none());
    let token = scored.verdict.expect("a verdict");
    let lifetime = scored.expires_at.expect("an expiry") - now_secs();
    assert!((295..=300).contains(&lifetime), "default lifetime is 300 s, got {lifetime}");

    let reply = v.verify(&token, &site.api_key);
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    reply.assert_ok();
    let answer: VerifyResponse = reply.parse();
    assert!(answer.valid);
    assert_eq!(answer.score, 0, "reasons: {:?}", answer.reasons);
    assert_eq!(answer.classification, Classification::Human);
    assert_eq!(answer.threshold, 50);
    assert_eq!(answer.session_id, session.id());
    assert_eq!(answer.hostname, "a.test");
    assert_eq!(answer.action.as_deref(), Some("signup"));
    assert_eq!(answer.cdata.as_deref(), Some("order-42"));
    assert!(answer.reasons.is_empty(), "{:?}", answer.reasons);
    assert!(is_rfc3339_utc(&answer.challenge_ts), "{}", answer.challenge_ts);

    let again = v.verify(&token, &site.api_key);
    again.assert_error(409, "already_verified");
}

#[test]
fn tokens_and_sessions_expire() {
    let v = Verifier::new().env("OCULTO_TOKEN_TTL_SECS", "2");
    let site = v.add_site(ORIGIN_A);
    let v = v.start();
    // Another verifier for sessions, so that the walks above have time.
    let s = Verifier::new().env("OCULTO_SESSION_TTL_SECS", "2").start();
    let unscored = s.open("site_test_always_pass", Some(ORIGIN_A));
    let tokens = v.walk_many(&site.site_key, ORIGIN_A, 2);
    let c = claims_of(&tokens[0]);
    assert_eq!(c.exp - c.iat, 2);

    thread::sleep(Duration::from_secs(3));
    let msg = v.verify(&tokens[0], &site.api_key).assert_error(400, "invalid_token");
    assert!(msg.contains("expired"), "{msg}");
    let answer = siteverify(&v, &[("secret", &site.api_key), ("response", &tokens[1])]);
    assert_eq!(answer["success"], false);
    assert_eq!(error_codes(&answer), ["timeout-or-duplicate"]);
    s.score(&unscored, Pow::Solved, &human_signals()).assert_error(400, "session_expired");
}

#[test]
fn a_tampered_token_is_invalid_and_the_genuine_one_still_verifies() {
    let (v, site) = Verifier::with_site(ORIGIN_A);
    let genuine = webdriver_token(&v, &site.site_key, ORIGIN_A);
    let original = claims_of(&genuine);
    assert!(original.score > 50);

    // A bot lowers its score and re-encodes the claims.
    let mut claims = serde_json::to_value(&original).expect("JSON");
    claims["score"] = json!(0);
    claims["cls"] = json!("human");
    let edited = with_claims(&genuine, &claims);
    assert_eq!(claims_of(&edited).score, 0, "the edit decodes");
    let msg = v.verify(&edited, &site.api_key).assert_error(400, "invalid_token");
    assert!(msg.contains("signature"), "{msg}");

    // A signature with one character changed.
    let (rest, sig) = genuine.rsplit_once('.').expect("three parts");
    let flipped = if sig.starts_with('A') { 'B' } else { 'A' };
    let bad_sig = format!("{rest}.{flipped}{}", &sig[1..]);
    v.verify(&bad_sig, &site.api_key).assert_error(400, "invalid_token");

    let answer: VerifyResponse = v.verify(&genuine, &site.api_key).parse();
    assert_eq!(answer.score, original.score);
    assert!(!answer.valid);
}

#[test]
fn a_token_of_one_site_is_invalid_for_another_and_stays_usable_by_its_own() {
    let v = Verifier::new();
    let a = v.add_site(ORIGIN_A);
    let b = v.add_site(ORIGIN_B);
    let v = v.start();
    let token = v.walk(&a.site_key, ORIGIN_A);

    let msg = v.verify(&token, &b.api_key).assert_error(400, "invalid_token");
    assert!(msg.contains("another site"), "{msg}");
    let answer = siteverify(&v, &[("secret", &b.api_key), ("response", &token)]);
    assert_eq!(error_codes(&answer), ["invalid-input-response"]);

    let answer: VerifyResponse = v.verify(&token, &a.api_key).parse();
    assert!(answer.valid);
    v.verify(&token, &a.api_key).assert_error(409, "already_verified");
}

#[test]
fn wrong_or_missing_api_keys_are_refused_without_spending_the_token() {
    let (v, site) = Verifier::with_site(ORIGIN_A);
    let token = v.walk(&site.site_key, ORIGIN_A);

    v.verify(&token, "ak_not_a_key").assert_error(401, "invalid_api_key");
    v.verify(&token, &format!("{}x", site.api_key)).assert_error(401, "invalid_api_key");
    v.verify(&token, "").assert_error(400, "api_key_required");
    v.verify(&token, "   ").assert_error(400, "api_key_required");
    v.post(routes::VERIFY).json(&json!({ "token": token })).assert_error(400, "api_key_required");
    v.post(routes::VERIFY).json(&json!({ "api_key": site.api_key })).assert_error(400, "token_required");
    v.post(routes::VERIFY).json(&json!({})).assert_error(400, "token_required");
    v.post(routes::VERIFY).send().assert_error(400, "token_required");

    v.verify(&token, &site.api_key).assert_ok();
}

#[test]
fn verify_takes_the_api_key_header_and_form_encoded_bodies() {
    let (v, site) = Verifier::with_site(ORIGIN_A);
    let tokens = v.walk_many(&site.site_key, ORIGIN_A, 3);

    let by_header = v.post(routes::VERIFY).header("X-API-Key", &site.api_key).json(&json!({ "token": tokens[0] }));
    assert!(by_header.assert_ok()["valid"].as_bool().expect("valid"));

    let by_form = v.post(routes::VERIFY).form(&[("token", &tokens[1]), ("api_key", &site.api_key)]);
    let answer: VerifyResponse = by_form.parse();
    assert!(answer.valid);
    assert_eq!(answer.hostname, "a.test");
    // Errors to form posts are the same JSON.
    v.post(routes::VERIFY)
        .form(&[("token", &tokens[1]), ("api_key", &site.api_key)])
        .assert_error(409, "already_verified");

    let form_and_header = v.post(routes::VERIFY).header("X-API-Key", &site.api_key).form(&[("token", &tokens[2])]);
    form_and_header.assert_ok();
    v.post(routes::VERIFY)
        .header("X-API-Key", "ak_wrong")
        .form(&[("token", &tokens[2])])
        .assert_error(401, "invalid_api_key");
}

#[test]
fn siteverify_answers_like_turnstile_with_each_error_code() {
    let (v, site) = Verifier::with_site(ORIGIN_A);
    let session = v.open_with(
        &InitRequest {
            site_key: site.site_key.clone(),
            action: Some("login".into()),
            cdata: Some("c-1".into()),
            binding: None,
        },
        Some(ORIGIN_A),
    );
    let mut tokens = v.walk_many(&site.site_key, ORIGIN_A, 1);
    let first = v.finish(&session, Pow::Solved, &human_signals());
    let other = tokens.pop().expect("a token");

    let ok = siteverify(&v, &[("secret", &site.api_key), ("response", &first), ("remoteip", "198.51.100.7")]);
    assert_eq!(ok["success"], true, "{ok}");
    assert_eq!(error_codes(&ok), Vec::<String>::new());
    assert_eq!(ok["hostname"], "a.test");
    assert_eq!(ok["action"], "login");
    assert_eq!(ok["cdata"], "c-1");
    assert_eq!(ok["score"], 0);
    assert_eq!(ok["classification"], "human");
    assert!(is_rfc3339_utc(ok["challenge_ts"].as_str().expect("challenge_ts")), "{ok}");

    let cases: [(&str, Vec<(&str, &str)>); 5] = [
        ("timeout-or-duplicate", vec![("secret", &site.api_key), ("response", &first)]),
        ("missing-input-secret", vec![("response", &other)]),
        ("invalid-input-secret", vec![("secret", "ak_nope"), ("response", &other)]),
        ("missing-input-response", vec![("secret", &site.api_key)]),
        ("invalid-input-response", vec![("secret", &site.api_key), ("response", "not.a.token")]),
    ];
    for (code, fields) in &cases {
        let answer = siteverify(&v, fields);
        assert_eq!(answer["success"], false, "{code}: {answer}");
        assert_eq!(error_codes(&answer), [*code], "{answer}");
        assert!(answer.get("hostname").is_none(), "no verdict fields on failure: {answer}");
    }

    // bad-request: a body that is not a form or JSON, the wrong content
    // type, an oversized idempotency key. Always 200, Turnstile's way.
    let long_key = "k".repeat(129);
    let bad_requests = [
        v.post(routes::SITEVERIFY).body("application/json", "{\"secret\": "),
        v.post(routes::SITEVERIFY).body("application/xml", "<secret/>"),
        v.post(routes::SITEVERIFY).json(&json!({ "secret": 5, "response": other })),
        v.post(routes::SITEVERIFY).form(&[
            ("secret", &site.api_key),
            ("response", &other),
            ("idempotency_key", &long_key),
        ]),
    ];
    for reply in bad_requests {
        let answer = reply.assert_ok();
        assert_eq!(answer["success"], false, "{answer}");
        assert_eq!(error_codes(&answer), ["bad-request"], "{answer}");
    }

    // None of that spent the other token; JSON works as well as a form.
    let answer = v.post(routes::SITEVERIFY).json(&json!({ "secret": site.api_key, "response": other })).assert_ok();
    assert_eq!(answer["success"], true, "{answer}");
}

#[test]
fn an_idempotent_retry_gets_the_first_answer_again() {
    let (v, site) = Verifier::with_site(ORIGIN_A);
    let tokens = v.walk_many(&site.site_key, ORIGIN_A, 2);
    let with_key = |token: &str, key: &str| {
        v.post(routes::VERIFY).json(&json!({ "token": token, "api_key": site.api_key, "idempotency_key": key }))
    };

    let first = with_key(&tokens[0], "order-1").assert_ok();
    let retry = with_key(&tokens[0], "order-1").assert_ok();
    assert_eq!(first, retry);
    let turnstile =
        siteverify(&v, &[("secret", &site.api_key), ("response", &tokens[0]), ("idempotency_key", "order-1")]);
    assert_eq!(turnstile["success"], true, "{turnstile}");
    with_key(&tokens[0], "order-2").assert_error(409, "already_verified");
    v.verify(&tokens[0], &site.api_key).assert_error(409, "already_verified");

    // A key given only after a first use without one does not help.
    v.verify(&tokens[1], &site.api_key).assert_ok();
    with_key(&tokens[1], "late").assert_error(409, "already_verified");
}

#[test]
fn every_test_key_pair_answers_as_documented() {
    let v = Verifier::new().start();
    let dummy = "XXXX.DUMMY.TOKEN.XXXX";

    for _ in 0..2 {
        let pass: VerifyResponse = v.verify(dummy, "ak_test_always_pass").parse();
        assert!(pass.valid);
        assert_eq!((pass.score, pass.classification), (0, Classification::Human));
        assert!(pass.reasons.is_empty());
    }
    let fail: VerifyResponse = v.verify(dummy, "ak_test_always_fail").parse();
    assert!(!fail.valid);
    assert_eq!((fail.score, fail.classification), (100, Classification::Bot));
    assert_eq!(fail.reasons, ["test_key"]);
    v.verify(dummy, "ak_test_already_spent").assert_error(409, "already_verified");
    for (key, score, class, valid) in [
        ("ak_test_score_0", 0, Classification::Human, true),
        ("ak_test_score_30", 30, Classification::Suspicious, true),
        ("ak_test_score_50", 50, Classification::Suspicious, true),
        ("ak_test_score_51", 51, Classification::Bot, false),
    ] {
        let answer: VerifyResponse = v.verify("any-token", key).parse();
        assert_eq!((answer.score, answer.classification, answer.valid), (score, class, valid), "{key}");
    }
    v.verify(dummy, "ak_test_score_101").assert_error(401, "invalid_api_key");
    v.verify("", "ak_test_always_pass").assert_error(400, "token_required");

    let pass = siteverify(&v, &[("secret", "ak_test_always_pass"), ("response", dummy)]);
    assert_eq!(pass["success"], true, "{pass}");
    let fail = siteverify(&v, &[("secret", "ak_test_always_fail"), ("response", dummy)]);
    assert_eq!(fail["success"], false, "{fail}");
    let spent = siteverify(&v, &[("secret", "ak_test_already_spent"), ("response", dummy)]);
    assert_eq!(error_codes(&spent), ["timeout-or-duplicate"]);

    // Test site keys work from any page, with no registration.
    for site_key in ["site_test_always_pass", "site_test_always_fail", "site_test_already_spent"] {
        let init = v.init(site_key, Some("http://anything.example"), None);
        init.assert_ok();
    }
    v.init("site_test_score_101", Some("http://anything.example"), None).assert_error(400, "invalid_site_key");

    // A real widget flow under site_test_score_73, checked with its API key.
    let session = v.open("site_test_score_73", Some("http://shop.example"));
    thread::sleep(HUMAN_PAUSE);
    let token = v.finish(&session, Pow::Solved, &human_signals());
    assert_eq!(claims_of(&token).score, 73, "the verdict carries the forced score");
    let answer: VerifyResponse = v.verify(&token, "ak_test_score_73").parse();
    assert_eq!(answer.score, 73);
    assert_eq!(answer.classification, Classification::Bot);
    assert!(!answer.valid);
    assert_eq!(answer.threshold, 50);
    assert_eq!(answer.session_id, session.id());
    assert_eq!(answer.hostname, "shop.example");
}

#[test]
fn verdicts_check_offline_against_the_published_jwks() {
    let (v, site) = Verifier::with_site(ORIGIN_A);
    let token = v.walk(&site.site_key, ORIGIN_A);

    let reply = v.get(routes::JWKS).send();
    assert!(reply.header("cache-control").is_some_and(|c| c.contains("max-age")), "{:?}", reply.headers);
    let set: Jwks = reply.parse();
    assert_eq!(set.keys.len(), 1);
    for k in &set.keys {
        assert_eq!((k.kty.as_str(), k.crv.as_str()), ("OKP", "Ed25519"));
        assert_eq!((k.alg.as_deref(), k.use_.as_deref()), (Some("EdDSA"), Some("sig")));
        assert_eq!(k.kid, token::thumbprint(&k.key().expect("an Ed25519 key")), "kid is the RFC 7638 thumbprint");
    }
    let header = token::decode(&token).expect("decodes").header;
    assert_eq!((header.alg.as_str(), header.typ.as_str()), ("EdDSA", "JWT"));
    assert_eq!(header.kid, set.keys[0].kid);

    let claims = token::verify(&token, &set, now_secs()).expect("the token checks offline");
    assert_eq!(claims.sub, site.site_key);
    assert_eq!(claims.iss, "oculto");
    assert_eq!(claims.hostname, "a.test");
    assert_eq!((claims.score, claims.cls), (0, Classification::Human));
    assert_eq!(claims.exp - claims.iat, 300);
    let err = token::verify(&token, &Jwks::default(), now_secs()).expect_err("no key, no trust");
    assert_eq!(err.kind(), ErrorKind::UnknownKey);

    // Checking offline does not spend it.
    let answer: VerifyResponse = v.verify(&token, &site.api_key).parse();
    assert_eq!(answer.session_id, claims.sid);
}

#[test]
fn rotating_signing_keys_while_serving_keeps_earlier_tokens_valid() {
    let (v, site) = Verifier::with_site(ORIGIN_A);
    let before = v.walk(&site.site_key, ORIGIN_A);
    let old_kid = kid_of(&before);
    let published: Vec<String> = jwks(&v).keys.into_iter().map(|k| k.kid).collect();
    assert_eq!(published, [old_kid.as_str()]);

    let out = v.oculto(&["keys", "rotate"]);
    let new_kid = out
        .split_whitespace()
        .skip_while(|w| *w != "key")
        .nth(1)
        .map(|k| k.trim_end_matches(';').to_owned())
        .unwrap_or_else(|| panic!("no kid in {out:?}"));
    assert_ne!(new_kid, old_kid);
    v.wait_until("the new key is published", || jwks(&v).keys.len() == 2);

    // Published at once, it signs a few seconds later (issue 6: every node
    // must know a key before any node signs with it).
    let mut after = v.walk(&site.site_key, ORIGIN_A);
    v.wait_until("new verdicts are signed with the new key", || {
        after = v.walk(&site.site_key, ORIGIN_A);
        kid_of(&after) == new_kid
    });
    let set = jwks(&v);
    let kids: BTreeSet<String> = set.keys.iter().map(|k| k.kid.clone()).collect();
    assert_eq!(kids, BTreeSet::from([old_kid, new_kid]));
    for t in [&before, &after] {
        token::verify(t, &set, now_secs()).expect("both check offline");
        assert!(v.verify(t, &site.api_key).assert_ok()["valid"].as_bool().expect("valid"));
    }
}

#[test]
fn sites_added_and_api_keys_rotated_while_serving_take_effect() {
    let v = Verifier::new().start();
    let site = v.add_site("http://A.test/signup?x=1");
    assert_eq!(site.origins, [ORIGIN_A], "origins are stored normalized");
    let tokens = v.walk_many(&site.site_key, ORIGIN_A, 2);
    v.verify(&tokens[0], &site.api_key).assert_ok();

    let listed: Value = serde_json::from_str(&v.oculto(&["site", "list", "--json"])).expect("JSON");
    assert_eq!(listed[0]["site_key"], site.site_key.as_str());
    assert!(listed[0].get("api_key").is_none(), "site list never shows API keys: {listed}");

    let rotated: Value =
        serde_json::from_str(&v.oculto(&["site", "rotate-key", &site.site_key, "--json"])).expect("JSON");
    let new_key = rotated["api_key"].as_str().expect("a new API key").to_owned();
    assert_ne!(new_key, site.api_key);
    v.wait_until("the new API key is served", || v.stats(&new_key).status == 200);
    v.verify(&tokens[1], &site.api_key).assert_error(401, "invalid_api_key");
    v.stats(&site.api_key).assert_error(401, "invalid_api_key");
    v.verify(&tokens[1], &new_key).assert_ok();
}

#[test]
fn init_and_score_accept_only_the_sites_origins() {
    let v = Verifier::new();
    let site = v.add_site_with(&[ORIGIN_A, ORIGIN_B], 50);
    let v = v.start();
    let key = site.site_key.as_str();

    v.init(key, None, None).assert_error(403, "origin_not_allowed");
    for origin in ["http://evil.test", "null", "https://a.test", "http://a.test:8080", "http://sub.a.test"] {
        v.init(key, Some(origin), None).assert_error(403, "origin_not_allowed");
    }
    v.init("site_unknown", Some(ORIGIN_A), None).assert_error(400, "invalid_site_key");
    v.init(key, Some("HTTP://A.TEST"), None).assert_ok();

    // /score must come from the origin that opened the session.
    let signals = human_signals();
    let from_b = v.open(key, Some(ORIGIN_A));
    let from_b = Session { origin: Some(ORIGIN_B.into()), ..from_b };
    v.score(&from_b, Pow::Solved, &signals).assert_error(403, "origin_not_allowed");
    let from_evil = v.open(key, Some(ORIGIN_A));
    let from_evil = Session { origin: Some("http://evil.test".into()), ..from_evil };
    v.score(&from_evil, Pow::Solved, &signals).assert_error(403, "origin_not_allowed");
    let from_nowhere = v.open(key, Some(ORIGIN_A));
    let from_nowhere = Session { origin: None, ..from_nowhere };
    v.score(&from_nowhere, Pow::Solved, &signals).assert_error(403, "origin_not_allowed");

    let fine = v.open(key, Some(ORIGIN_B));
    let verdict: ScoreResponse = v.score(&fine, Pow::Solved, &signals).parse();
    let claims = claims_of(&verdict.verdict.expect("a verdict"));
    assert_eq!(claims.hostname, "b.test");
}

#[test]
fn widget_endpoints_allow_cross_origin_calls_and_backend_endpoints_do_not() {
    let (v, site) = Verifier::with_site(ORIGIN_A);
    let preflight = v
        .client()
        .request("OPTIONS", v.url(routes::INIT))
        .header("Origin", ORIGIN_A)
        .header("Access-Control-Request-Method", "POST")
        .header("Access-Control-Request-Headers", "content-type")
        .send();
    assert_eq!(preflight.status, 200, "{preflight:?}");
    assert_eq!(preflight.header("access-control-allow-origin"), Some(ORIGIN_A));
    assert!(preflight.header("access-control-allow-credentials").is_none());
    let init = v.init(&site.site_key, Some(ORIGIN_A), None);
    assert_eq!(init.header("access-control-allow-origin"), Some(ORIGIN_A));
    // A page may post JSON as text/plain, a "simple" request with no preflight.
    let simple = v
        .post(routes::INIT)
        .header("Origin", ORIGIN_A)
        .body("text/plain", json!({ "site_key": site.site_key }).to_string());
    assert!(simple.assert_ok()["session_id"].as_str().is_some_and(|s| s.starts_with("co_")));

    let verify = v.post(routes::VERIFY).header("Origin", ORIGIN_A).json(&json!({}));
    assert!(verify.header("access-control-allow-origin").is_none(), "{:?}", verify.headers);
}

#[test]
fn a_session_is_scored_once() {
    let (v, site) = Verifier::with_site(ORIGIN_A);
    let session = v.open(&site.site_key, Some(ORIGIN_A));
    v.score(&session, Pow::Solved, &human_signals()).assert_ok();
    v.score(&session, Pow::Solved, &human_signals()).assert_error(409, "session_used");
    let unknown = Session {
        init: oculto_shared::api::InitResponse {
            session_id: "co_AAAAAAAAAAAAAAAAAAAAAA".into(),
            ..session.init.clone()
        },
        ..session
    };
    v.score(&unknown, Pow::Solved, &human_signals()).assert_error(404, "session_not_found");
}

#[test]
fn a_wrong_or_missing_proof_of_work_still_gets_a_verdict_that_verify_reports_as_a_bot() {
    let (v, site) = Verifier::with_site(ORIGIN_A);
    let sessions: Vec<_> = (0..3).map(|_| v.open(&site.site_key, Some(ORIGIN_A))).collect();
    thread::sleep(HUMAN_PAUSE);
    let signals = human_signals();
    let replies: Vec<Reply> =
        [Pow::Wrong, Pow::Missing, Pow::Solved].iter().zip(&sessions).map(|(p, s)| v.score(s, *p, &signals)).collect();

    // Phantom success: the page cannot tell the answers apart.
    let shape = |r: &Reply| r.assert_ok().as_object().expect("an object").keys().cloned().collect::<Vec<_>>();
    assert_eq!(shape(&replies[0]), shape(&replies[2]));
    assert_eq!(shape(&replies[1]), shape(&replies[2]));

    let verdicts: Vec<VerifyResponse> = replies
        .iter()
        .map(|r| v.verify(&r.parse::<ScoreResponse>().verdict.expect("a verdict"), &site.api_key).parse())
        .collect();
    for (answer, reason) in verdicts[..2].iter().zip(["pow_invalid", "pow_missing"]) {
        assert!(answer.score > 50, "{answer:?}");
        assert!(!answer.valid);
        assert_eq!(answer.classification, Classification::Bot);
        assert!(answer.reasons.iter().any(|r| r == reason), "{reason} in {:?}", answer.reasons);
    }
    assert_eq!(verdicts[2].score, 0, "{:?}", verdicts[2].reasons);
}

#[test]
fn a_webdriver_session_is_reported_with_reason_webdriver() {
    let (v, site) = Verifier::with_site(ORIGIN_A);
    let token = webdriver_token(&v, &site.site_key, ORIGIN_A);
    let answer: VerifyResponse = v.verify(&token, &site.api_key).parse();
    assert!(answer.score > 50, "{answer:?}");
    assert!(!answer.valid);
    assert_eq!(answer.reasons, ["webdriver"]);
}

#[test]
fn init_and_score_are_rate_limited_per_address_with_retry_after() {
    let v = Verifier::new()
        .env("OCULTO_RATE_LIMIT__INIT_PER_MIN", "3")
        .env("OCULTO_RATE_LIMIT__SCORE_PER_MIN", "2")
        .start();
    let key = "site_test_always_pass";
    for _ in 0..3 {
        v.init(key, Some(ORIGIN_A), None).assert_ok();
    }
    let limited = v.init(key, Some(ORIGIN_A), None);
    limited.assert_error(429, "rate_limited");
    let wait: u64 = limited.header("retry-after").expect("Retry-After").parse().expect("seconds");
    assert!((1..=60).contains(&wait), "Retry-After: {wait}");

    let score = || v.post(routes::SCORE).header("Origin", ORIGIN_A).json(&json!({ "session_id": "co_none" }));
    score().assert_error(404, "session_not_found");
    score().assert_error(404, "session_not_found");
    let limited = score();
    limited.assert_error(429, "rate_limited");
    assert!(limited.header("retry-after").is_some());

    // Backends are never limited.
    for _ in 0..5 {
        v.verify("XXXX.DUMMY.TOKEN.XXXX", "ak_test_always_pass").assert_ok();
    }
    v.get(routes::HEALTH).send().assert_ok();
}

#[test]
fn x_forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy() {
    let init_from = |v: &Verifier, xff: Option<&str>| {
        let call = v.post(routes::INIT).header("Origin", ORIGIN_A);
        let call = match xff {
            Some(x) => call.header("X-Forwarded-For", x),
            None => call,
        };
        call.json(&json!({ "site_key": "site_test_always_pass" })).status
    };

    let direct = Verifier::new().env("OCULTO_RATE_LIMIT__INIT_PER_MIN", "2").start();
    assert_eq!(init_from(&direct, Some("203.0.113.1")), 200);
    assert_eq!(init_from(&direct, Some("203.0.113.2")), 200);
    assert_eq!(init_from(&direct, Some("203.0.113.3")), 429, "a forged header does not buy a new allowance");

    let proxied = Verifier::new()
        .env("OCULTO_RATE_LIMIT__INIT_PER_MIN", "2")
        .env("OCULTO_TRUSTED_PROXIES", r#"["127.0.0.1/32"]"#)
        .start();
    assert_eq!(init_from(&proxied, Some("203.0.113.1")), 200);
    assert_eq!(init_from(&proxied, Some("203.0.113.1")), 200);
    assert_eq!(init_from(&proxied, Some("203.0.113.1")), 429);
    assert_eq!(init_from(&proxied, Some("203.0.113.2")), 200, "each client behind the proxy has its own allowance");
    assert_eq!(init_from(&proxied, Some("198.51.100.7, 127.0.0.1")), 200, "the proxy's own hop is skipped");
    assert_eq!(init_from(&proxied, None), 200);
}

#[test]
fn stats_report_what_was_verified() {
    let v = Verifier::new();
    let site = v.add_site(ORIGIN_A);
    let quiet = v.add_site(ORIGIN_B);
    let v = v.start();
    // Five sessions: two people and a bot verified, one person scored but
    // never verified, one never scored.
    let sessions: Vec<_> = (0..5).map(|_| v.open(&site.site_key, Some(ORIGIN_A))).collect();
    thread::sleep(HUMAN_PAUSE);
    let mut bot = human_signals();
    bot.env.webdriver = true;
    let t1 = v.finish(&sessions[0], Pow::Solved, &human_signals());
    let t2 = v.finish(&sessions[1], Pow::Solved, &human_signals());
    let t3 = v.finish(&sessions[2], Pow::Solved, &bot);
    let _unverified = v.finish(&sessions[3], Pow::Solved, &human_signals());
    let answers: Vec<VerifyResponse> = [&t1, &t2, &t3].iter().map(|t| v.verify(t, &site.api_key).parse()).collect();
    v.verify(&t1, &site.api_key).assert_error(409, "already_verified");
    v.verify("garbage", &site.api_key).assert_error(400, "invalid_token");
    let bot_score = answers[2].score;
    assert!(bot_score > 50);

    let summary: StatsSummary = v.stats(&site.api_key).parse();
    let d = &summary.distribution;
    assert_eq!((d.total, d.human, d.suspicious, d.bot), (3, 2, 0, 1), "{summary:?}");
    let expected_avg = (f64::from(bot_score) / 3.0 * 10.0).round() / 10.0;
    assert!((d.avg_score - expected_avg).abs() < 1e-9, "{} != {expected_avg}", d.avg_score);
    assert_eq!(summary.usage.len(), 1);
    let month = &summary.usage[0];
    assert!(month.year_month.len() == 7 && month.year_month.as_bytes()[4] == b'-', "{}", month.year_month);
    assert_eq!(
        (month.total_inits, month.total_scores, month.total_verifications),
        (5, 4, 3),
        "inits, scores, verifications"
    );
    assert_eq!((month.total_human, month.total_suspicious, month.total_bot), (2, 0, 1));

    let recent: StatsRecent = v.stats_query(&site.api_key, &[("action", "recent")]).parse();
    let sids: Vec<&str> = recent.recent.iter().map(|r| r.session_id.as_str()).collect();
    assert_eq!(sids, [sessions[2].id(), sessions[1].id(), sessions[0].id()], "newest first");
    assert_eq!(recent.recent[0].score, bot_score);
    assert_eq!(recent.recent[0].classification, Classification::Bot);
    assert_eq!(recent.recent[0].reasons, ["webdriver"]);
    assert_eq!(recent.recent[1].hostname, "a.test");
    assert!(recent.recent[0].verified_at.starts_with(&month.year_month), "{}", recent.recent[0].verified_at);
    let one: StatsRecent = v.stats_query(&site.api_key, &[("action", "recent"), ("limit", "1")]).parse();
    assert_eq!(one.recent.len(), 1);
    assert_eq!(one.recent[0].session_id, sessions[2].id());
    let all: StatsRecent = v.stats_query(&site.api_key, &[("action", "recent"), ("limit", "200")]).parse();
    assert_eq!(all.recent.len(), 3);

    let dist: StatsDistribution =
        v.stats_query(&site.api_key, &[("action", "distribution"), ("month", &month.year_month)]).parse();
    assert_eq!(dist.month, month.year_month);
    assert_eq!(dist.distribution.total, 3);
    let mut histogram = [0u64; 10];
    histogram[0] = 2;
    histogram[usize::from(bot_score.min(99) / 10)] += 1;
    assert_eq!(dist.histogram, histogram);
    let this_month: StatsDistribution = v.stats_query(&site.api_key, &[("action", "distribution")]).parse();
    assert_eq!(this_month, dist, "the default month is the current one");
    let old: StatsDistribution =
        v.stats_query(&site.api_key, &[("action", "distribution"), ("month", "1999-01")]).parse();
    assert_eq!((old.distribution.total, old.histogram), (0, [0; 10]));

    // The key may come in a header; other sites see only their own figures.
    let by_header: StatsSummary = v.get(routes::STATS).header("X-API-Key", &site.api_key).send().parse();
    assert_eq!(by_header, summary);
    let other: StatsSummary = v.stats(&quiet.api_key).parse();
    assert_eq!((other.distribution.total, other.usage.len()), (0, 0));

    for (name, value) in [("limit", "0"), ("limit", "201"), ("limit", "abc"), ("limit", "-1"), ("limit", "1.5")] {
        v.stats_query(&site.api_key, &[("action", "recent"), (name, value)]).assert_error(400, "bad_request");
    }
    for month in ["2026-13", "2026-00", "2026-1", "26-01", "abcd-ef", ""] {
        let reply = v.stats_query(&site.api_key, &[("action", "distribution"), ("month", month)]);
        reply.assert_error(400, "bad_request");
    }
    v.stats_query(&site.api_key, &[("action", "drop table")]).assert_error(400, "bad_request");
    v.get(routes::STATS).send().assert_error(400, "api_key_required");
    v.stats("ak_unknown").assert_error(401, "invalid_api_key");
}

#[test]
fn health_reports_ok_and_the_sqlite_store_and_unknown_routes_are_json_errors() {
    let v = Verifier::new().start();
    let reply = v.get(routes::HEALTH).send();
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    let health: HealthResponse = reply.parse();
    assert_eq!(reply.status, 200);
    assert_eq!(health.status, "ok");
    assert_eq!(health.service, "oculto");
    assert_eq!(health.version, env!("CARGO_PKG_VERSION"));
    assert_eq!(health.architecture, "sqlite");

    v.get("/nope").send().assert_error(404, "not_found");
    v.post(routes::HEALTH).send().assert_error(405, "method_not_allowed");
    v.get(routes::VERIFY).send().assert_error(405, "method_not_allowed");
}

/// 500 backends present one token at once (issue 6; 200 before).
#[test]
fn five_hundred_concurrent_verifications_of_one_token_accept_exactly_one() {
    const N: usize = 500;
    let (v, site) = Verifier::with_site(ORIGIN_A);
    let token = v.walk(&site.site_key, ORIGIN_A);
    race(&[v.url("")], &token, &site.api_key, N).assert_one_accepted();
    let summary: StatsSummary = v.stats(&site.api_key).parse();
    assert_eq!(summary.distribution.total, 1);
}

#[test]
fn a_session_raced_by_concurrent_scores_gives_exactly_one_verdict() {
    const N: usize = 50;
    let (v, site) = Verifier::with_site(ORIGIN_A);
    let session = v.open(&site.site_key, Some(ORIGIN_A));
    let body = oculto_shared::api::ScoreRequest {
        session_id: session.id().into(),
        pow: Some(oculto_shared::pow::PowSolution { nonce: session.solve(), elapsed_ms: 40 }),
        signals: human_signals(),
        ..Default::default()
    };
    let url = v.url(routes::SCORE);
    let barrier = Arc::new(Barrier::new(N));
    let handles: Vec<_> = (0..N)
        .map(|_| {
            let (url, body, barrier) = (url.clone(), body.clone(), barrier.clone());
            thread::spawn(move || {
                let client = Client::new();
                barrier.wait();
                client.request("POST", url).header("Origin", ORIGIN_A).json(&body)
            })
        })
        .collect();
    let replies: Vec<Reply> = handles.into_iter().map(|h| h.join().expect("thread")).collect();
    let verdicts = replies.iter().filter(|r| r.status == 200).count();
    let used = replies.iter().filter(|r| r.status == 409 && r.json()["error"] == "session_used").count();
    assert_eq!((verdicts, used), (1, N - 1));
}

#[test]
fn a_verified_token_stays_spent_after_a_sigkill_and_restart() {
    let v = Verifier::new();
    let site = v.add_site(ORIGIN_A);
    let mut v = v.start();
    let tokens = v.walk_many(&site.site_key, ORIGIN_A, 2);
    v.verify(&tokens[0], &site.api_key).assert_ok();

    v.kill();
    let db = rusqlite::Connection::open(v.db_path()).expect("the database opens");
    let check: String = db.query_row("PRAGMA integrity_check", [], |r| r.get(0)).expect("integrity_check runs");
    assert_eq!(check, "ok");
    drop(db);

    v.restart();
    v.get(routes::HEALTH).send().assert_ok();
    v.verify(&tokens[0], &site.api_key).assert_error(409, "already_verified");
    // The signing key and the site survived too: the other token still verifies.
    v.verify(&tokens[1], &site.api_key).assert_ok();
    let summary: StatsSummary = v.stats(&site.api_key).parse();
    assert_eq!(summary.distribution.total, 2);
}

/// A verifier whose rate limits stay out of the way of a test's volume.
fn unlimited() -> Verifier {
    Verifier::new()
        .env("OCULTO_RATE_LIMIT__INIT_PER_MIN", "1000000")
        .env("OCULTO_RATE_LIMIT__SCORE_PER_MIN", "1000000")
        .env("OCULTO_RATE_LIMIT__SOFT_PER_MIN", "1000000")
}

/// `PRAGMA integrity_check` of the verifier's database, which must not be
/// running.
fn integrity_check(v: &Verifier) -> String {
    let db = rusqlite::Connection::open(v.db_path()).expect("the database opens");
    db.query_row("PRAGMA integrity_check", [], |r| r.get(0)).expect("integrity_check runs")
}

/// Issue 6: SIGKILL a verifier while site backends verify fresh tokens (each
/// token by three callers at once, who try again when they get no answer),
/// then start it again on the same file and port.
///
/// What must hold across the whole run: no token is ever answered 200
/// twice; the file passes `PRAGMA integrity_check`; every token ends up spent
/// exactly once, so `/stats` counts each token once. A 200 is only sent
/// after its commit, but a kill can land between a commit and its answer:
/// such a token is spent with nobody told 200 (its callers get no answer,
/// then 409 on retry). So /stats' total is the number of 200s answered plus
/// the tokens whose spending request was cut by the kill, and a token that
/// nobody was told was accepted must have had a request cut.
#[test]
fn a_node_killed_under_load_and_restarted_accepts_no_token_twice() {
    const TOKENS: usize = 400;
    let v = unlimited();
    let site = v.add_site(ORIGIN_A);
    let mut v = v.start();
    let tokens = v.mint(&site.site_key, ORIGIN_A, TOKENS);
    let done = AtomicUsize::new(0);
    let load = Load { nodes: vec![v.url("")], api_key: &site.api_key, tokens: &tokens, callers: 3, groups: 8 };
    let (report, at_kill) = thread::scope(|s| {
        let running = s.spawn(|| verify_load(&load, &done));
        let at_kill = wait_for_done(&done, TOKENS / 3, &running, "the kill");
        v.kill();
        assert_eq!(integrity_check(&v), "ok", "right after the kill");
        v.restart_on_same_port();
        (running.join().expect("the load runs"), at_kill)
    });
    eprintln!("killed after {at_kill} tokens; {}", report.summary());
    assert!(at_kill < TOKENS, "the kill landed during the load");
    assert!(report.unexpected().is_empty(), "unexpected answers: {:#?}", report.unexpected());
    assert!(report.accepted_twice().is_empty(), "tokens accepted twice: {:?}", report.accepted_twice());
    assert!(report.cut() > 0, "no request was refused or cut: the kill missed the load");
    for i in report.never_accepted() {
        assert!(report.tokens[i].cut > 0, "token {i} was spent, nobody was told 200, and no request was cut");
    }

    // Every token is spent, once, durably.
    for (i, t) in tokens.iter().enumerate().step_by(7) {
        let again = v.verify(t, &site.api_key);
        assert_eq!(again.status, 409, "token {i} after the run: {}", again.body);
    }
    let summary: StatsSummary = v.stats(&site.api_key).parse();
    assert_eq!(summary.distribution.total, TOKENS as u64, "each token counted once");
    assert_eq!(summary.usage[0].total_verifications, TOKENS as u64);
    assert_eq!(report.accepted() + report.never_accepted().len(), TOKENS);
    v.kill();
    assert_eq!(integrity_check(&v), "ok", "at the end");
}

/// Requests no client should send, for [`hostile_requests_at_volume_get_no_5xx_and_memory_stays_bounded`]:
/// bodies past the limit, nesting, bytes that are not text, wrong content
/// types, garbage tokens. The `bool` says that the server may close the
/// connection before the client has sent everything (a body far past the
/// limit), which the client sees as a transport error rather than a 413.
fn hostile_requests(api_key: &str) -> Vec<(&'static str, &'static str, Vec<u8>, bool)> {
    let mut garbage = Vec::with_capacity(4096);
    let mut x: u32 = 0x9e37_79b9;
    for _ in 0..4096 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        garbage.push(x as u8);
    }
    let garbage_token = URL_SAFE_NO_PAD.encode(&garbage[..600]);
    let dots = format!("{0}.{0}.{0}", &garbage_token[..200]);
    vec![
        (routes::VERIFY, "application/json", vec![b'{'; 1 << 20], true),
        (routes::VERIFY, "application/json", format!("{{\"token\": \"{}\"}}", "A".repeat(1 << 20)).into_bytes(), true),
        (routes::INIT, "application/x-www-form-urlencoded", vec![b'a'; 1 << 20], true),
        (
            routes::SCORE,
            "application/json",
            format!("{}{}", "[".repeat(60_000), "]".repeat(60_000)).into_bytes(),
            false,
        ),
        (
            routes::SCORE,
            "application/json",
            format!("{}1{}", "{\"a\":".repeat(6000), "}".repeat(6000)).into_bytes(),
            false,
        ),
        (routes::VERIFY, "application/json", garbage.clone(), false),
        (routes::VERIFY, "application/octet-stream", garbage.clone(), false),
        (routes::VERIFY, "text/plain", garbage.clone(), false),
        (routes::VERIFY, "", garbage, false),
        (
            routes::VERIFY,
            "application/json",
            json!({ "token": garbage_token, "api_key": api_key }).to_string().into_bytes(),
            false,
        ),
        (
            routes::VERIFY,
            "application/json",
            json!({ "token": dots, "api_key": api_key }).to_string().into_bytes(),
            false,
        ),
        (
            routes::VERIFY,
            "application/x-www-form-urlencoded",
            format!("token=%FF%FE%00&api_key={api_key}").into_bytes(),
            false,
        ),
        (routes::VERIFY, "application/json; charset=utf-16", b"\xff\xfe{\x00}\x00".to_vec(), false),
        (routes::SITEVERIFY, "application/json", vec![b'['; 60_000], false),
        (routes::INIT, "application/json", json!({ "site_key": "x".repeat(60_000) }).to_string().into_bytes(), false),
    ]
}

/// Issue 6: a load of malformed and oversized requests, mixed with real
/// ones, against one node: the real ones keep succeeding, nothing is ever
/// answered 5xx, and the server's memory stays bounded.
#[test]
fn hostile_requests_at_volume_get_no_5xx_and_memory_stays_bounded() {
    const ROUNDS: usize = 12;
    const HOSTILE_THREADS: usize = 6;
    let v = unlimited();
    let site = v.add_site(ORIGIN_A);
    let v = v.start();
    let tokens = v.mint(&site.site_key, ORIGIN_A, 300);
    let real_token = v.walk(&site.site_key, ORIGIN_A);
    let session = v.open(&site.site_key, Some(ORIGIN_A));
    let cases = malformed_requests(&site.site_key, &site.api_key, session.id(), &real_token);
    let extras = hostile_requests(&site.api_key);
    let send_all = |client: &Client, failures: &mut Vec<String>, sent: &mut usize| {
        for case in &cases {
            let mut call = client.request(case.method, v.url(&case.path));
            for (name, value) in &case.headers {
                call = call.header(name, value);
            }
            let reply = match &case.body {
                Some((content_type, bytes)) => call.try_body(content_type, bytes.clone()),
                None => call.try_send(),
            };
            *sent += 1;
            match reply {
                Ok(r) if r.status < 500 => {}
                Ok(r) => failures.push(format!("{}: {} {}", case.what, r.status, r.body)),
                Err(e) => failures.push(format!("{}: no answer: {e}", case.what)),
            }
        }
        for (path, content_type, body, may_cut) in &extras {
            let reply =
                client.request("POST", v.url(path)).header("Origin", ORIGIN_A).try_body(content_type, body.clone());
            *sent += 1;
            match reply {
                Ok(r) if r.status < 500 => {}
                Ok(r) => {
                    failures.push(format!("{path} {content_type} ({} bytes): {} {}", body.len(), r.status, r.body))
                }
                Err(_) if *may_cut => {}
                Err(e) => failures.push(format!("{path} {content_type} ({} bytes): no answer: {e}", body.len())),
            }
        }
    };
    // One round first, so that what every server keeps (buffers, pools)
    // is there before the measure.
    let (mut failures, mut sent) = (Vec::new(), 0);
    send_all(&Client::new(), &mut failures, &mut sent);
    assert!(failures.is_empty(), "{failures:#?}");
    let (rss_before, _) = v.memory_kib();

    let started = std::time::Instant::now();
    let next = AtomicUsize::new(0);
    // Per hostile thread: what failed and how many requests it sent; per
    // real one: what failed.
    type Failed = Vec<String>;
    let (hostile, real): (Vec<(Failed, usize)>, Vec<Failed>) = thread::scope(|s| {
        let hostile: Vec<_> = (0..HOSTILE_THREADS)
            .map(|_| {
                s.spawn(|| {
                    let (client, mut failures, mut sent) = (Client::new(), Vec::new(), 0);
                    for _ in 0..ROUNDS {
                        send_all(&client, &mut failures, &mut sent);
                    }
                    (failures, sent)
                })
            })
            .collect();
        // Two backends verify real tokens meanwhile; a page walks the flow.
        let mut real: Vec<_> = (0..2)
            .map(|_| {
                s.spawn(|| {
                    let mut failures = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(token) = tokens.get(i) else { break };
                        let r = v.verify(token, &site.api_key);
                        if r.status != 200 || r.json()["valid"] != true {
                            failures.push(format!("token {i}: {} {}", r.status, r.body));
                        }
                        thread::sleep(Duration::from_millis(15));
                    }
                    failures
                })
            })
            .collect();
        real.push(s.spawn(|| {
            let mut failures = Vec::new();
            for _ in 0..4 {
                let t = v.walk(&site.site_key, ORIGIN_A);
                let r = v.verify(&t, &site.api_key);
                if r.status != 200 || r.json()["valid"] != true {
                    failures.push(format!("a fresh walk: {} {}", r.status, r.body));
                }
            }
            failures
        }));
        (
            hostile.into_iter().map(|h| h.join().expect("hostile thread")).collect(),
            real.into_iter().map(|r| r.join().expect("backend thread")).collect(),
        )
    });
    let elapsed = started.elapsed();
    let (rss_after, peak) = v.memory_kib();
    let sent: usize = hostile.iter().map(|(_, n)| n).sum();
    let failures: Vec<String> = hostile.into_iter().flat_map(|(f, _)| f).collect();
    let real: Vec<String> = real.into_iter().flatten().collect();
    eprintln!(
        "{sent} hostile requests and {} real verifications in {:.1} s; VmRSS {} KiB before, {} KiB after, peak {} KiB",
        tokens.len() + 4,
        elapsed.as_secs_f64(),
        rss_before,
        rss_after,
        peak
    );
    assert!(next.load(Ordering::Relaxed) >= tokens.len(), "every real token was presented");
    assert!(failures.is_empty(), "{} hostile requests got 5xx or no answer:\n{}", failures.len(), failures.join("\n"));
    assert!(real.is_empty(), "real requests failed:\n{}", real.join("\n"));
    // Generous: bodies are read up to 64 KiB and dropped; nothing a
    // request leaves behind should add up.
    assert!(rss_after < rss_before + 64 * 1024, "VmRSS grew from {rss_before} KiB to {rss_after} KiB");
    assert!(peak < 256 * 1024, "VmHWM {peak} KiB");
    let health: HealthResponse = v.get(routes::HEALTH).send().parse();
    assert_eq!(health.status, "ok");
}

/// What a malformed request must get.
enum Expect {
    /// This status and error code.
    Error(u16, &'static str),
    /// `/siteverify`: 200, `success: false`, this Turnstile code.
    Turnstile(&'static str),
}

/// One malformed request.
struct Bad {
    what: String,
    method: &'static str,
    path: String,
    headers: Vec<(&'static str, String)>,
    body: Option<(&'static str, Vec<u8>)>,
    expect: Expect,
}

fn bad(what: &str, method: &'static str, path: &str, body: Option<(&'static str, Vec<u8>)>, expect: Expect) -> Bad {
    let headers =
        if path == routes::INIT || path == routes::SCORE { vec![("Origin", ORIGIN_A.to_owned())] } else { vec![] };
    Bad { what: what.to_owned(), method, path: path.to_owned(), headers, body, expect }
}

fn json_body(s: &str) -> Option<(&'static str, Vec<u8>)> {
    Some(("application/json", s.as_bytes().to_vec()))
}

fn json_value(v: &Value) -> Option<(&'static str, Vec<u8>)> {
    Some(("application/json", serde_json::to_vec(v).expect("JSON")))
}

/// Malformed requests across every endpoint, including hostile tokens built
/// from a real one (`token`, of site `site`).
fn malformed_requests(site_key: &str, api_key: &str, session_id: &str, token: &str) -> Vec<Bad> {
    use Expect::{Error, Turnstile};
    let (init, score, verify, siteverify, stats) =
        (routes::INIT, routes::SCORE, routes::VERIFY, routes::SITEVERIFY, routes::STATS);
    let claims = serde_json::to_value(claims_of(token)).expect("JSON");
    let kid = kid_of(token);
    let stranger = stranger_key();
    let stranger_kid = token::thumbprint(&stranger.verifying_key());
    let mut new_jti = claims.clone();
    new_jti["jti"] = json!("forged-jti");
    let mut score_255 = new_jti.clone();
    score_255["score"] = json!(255);
    let enc = |v: &Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).expect("JSON"));
    let alg_none = format!("{}.{}.", enc(&json!({"alg": "none", "typ": "JWT"})), enc(&new_jti));
    let alg_none_kid = format!("{}.{}.", enc(&json!({"alg": "none", "typ": "JWT", "kid": kid})), enc(&new_jti));
    let hs256 = forge(&json!({"alg": "HS256", "typ": "JWT", "kid": kid}), &new_jti, &stranger);
    let foreign_kid = forge(&json!({"alg": "EdDSA", "typ": "JWT", "kid": stranger_kid}), &new_jti, &stranger);
    let known_kid_wrong_key = forge(&json!({"alg": "EdDSA", "typ": "JWT", "kid": kid}), &new_jti, &stranger);
    let extra_header =
        forge(&json!({"alg": "EdDSA", "typ": "JWT", "kid": kid, "jku": "http://evil.test/jwks"}), &new_jti, &stranger);
    let crit_header = forge(&json!({"alg": "EdDSA", "typ": "JWT", "kid": kid, "crit": ["b64"]}), &new_jti, &stranger);
    let score_255 = forge(&json!({"alg": "EdDSA", "typ": "JWT", "kid": stranger_kid}), &score_255, &stranger);
    let mut extra_claim = claims.clone();
    extra_claim["admin"] = json!(true);
    let extra_claim = with_claims(token, &extra_claim);
    let truncated = &token[..token.len() - 10];
    let long_token = format!("{token}{}", "A".repeat(5000 - token.len()));
    let verify_with = |t: &str| json_value(&json!({ "token": t, "api_key": api_key }));
    let invalid = || Error(400, "invalid_token");
    let bad_request = || Error(400, "bad_request");
    let nested = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    let huge = format!("{{\"site_key\": \"{}\"}}", "x".repeat(100 * 1024));
    let pointer_sample = r#"{"t":1,"dwell":1}"#;
    let too_many_clicks =
        format!(r#"{{"session_id":"{session_id}","signals":{{"clicks":[{}]}}}}"#, vec![pointer_sample; 501].join(","));

    vec![
        // /init
        bad("init: truncated JSON", "POST", init, json_body(r#"{"site_key": "#), bad_request()),
        // Arrays used to pass for structs, field by field (found by this suite).
        bad("init: array instead of object", "POST", init, json_body(&format!(r#"["{site_key}"]"#)), bad_request()),
        bad("init: JSON null", "POST", init, json_body("null"), bad_request()),
        bad("init: site_key is a number", "POST", init, json_body(r#"{"site_key": 42}"#), bad_request()),
        bad("init: empty site_key", "POST", init, json_body(r#"{"site_key": ""}"#), Error(400, "site_key_required")),
        bad(
            "init: unicode site_key",
            "POST",
            init,
            json_body(r#"{"site_key": "site_é☃𝄞"}"#),
            Error(400, "invalid_site_key"),
        ),
        bad(
            "init: null byte",
            "POST",
            init,
            json_body(r#"{"site_key": "site_\u0000x"}"#),
            Error(400, "invalid_site_key"),
        ),
        bad(
            "init: duplicate field",
            "POST",
            init,
            json_body(&format!(r#"{{"site_key": "{site_key}", "site_key": "{site_key}"}}"#)),
            bad_request(),
        ),
        bad(
            "init: action with spaces",
            "POST",
            init,
            json_value(&json!({ "site_key": site_key, "action": "log in!" })),
            bad_request(),
        ),
        bad(
            "init: cdata over 255 bytes",
            "POST",
            init,
            json_value(&json!({ "site_key": site_key, "cdata": "é".repeat(200) })),
            bad_request(),
        ),
        bad(
            "init: XML",
            "POST",
            init,
            Some(("application/xml", b"<site_key/>".to_vec())),
            Error(415, "unsupported_media_type"),
        ),
        bad("init: 100 KiB body", "POST", init, json_body(&huge), Error(413, "payload_too_large")),
        bad(
            "init: byte order mark",
            "POST",
            init,
            json_body(&format!("\u{feff}{{\"site_key\": \"{site_key}\"}}")),
            bad_request(),
        ),
        bad("init: GET", "GET", init, None, Error(405, "method_not_allowed")),
        // /score
        bad(
            "score: negative nonce",
            "POST",
            score,
            json_body(&format!(r#"{{"session_id": "{session_id}", "pow": {{"nonce": -1}}}}"#)),
            bad_request(),
        ),
        bad(
            "score: nonce above u64",
            "POST",
            score,
            json_body(&format!(r#"{{"session_id": "{session_id}", "pow": {{"nonce": 18446744073709551616}}}}"#)),
            bad_request(),
        ),
        bad(
            "score: nonce as a string",
            "POST",
            score,
            json_body(&format!(r#"{{"session_id": "{session_id}", "pow": {{"nonce": "12"}}}}"#)),
            bad_request(),
        ),
        bad(
            "score: NaN as a string",
            "POST",
            score,
            json_body(&format!(r#"{{"session_id": "{session_id}", "signals": {{"elapsed_ms": "NaN"}}}}"#)),
            bad_request(),
        ),
        bad(
            "score: number out of f64 range",
            "POST",
            score,
            json_body(&format!(r#"{{"session_id": "{session_id}", "signals": {{"elapsed_ms": 1e999}}}}"#)),
            bad_request(),
        ),
        bad(
            "score: huge time",
            "POST",
            score,
            json_body(&format!(r#"{{"session_id": "{session_id}", "signals": {{"elapsed_ms": 1e300}}}}"#)),
            Error(400, "invalid_signals"),
        ),
        bad(
            "score: negative time",
            "POST",
            score,
            json_body(&format!(
                r#"{{"session_id": "{session_id}", "signals": {{"keys": [{{"t": -5, "dwell": 10}}]}}}}"#
            )),
            Error(400, "invalid_signals"),
        ),
        bad("score: 501 clicks", "POST", score, json_body(&too_many_clicks), Error(400, "invalid_signals")),
        bad(
            "score: unknown pointer kind",
            "POST",
            score,
            json_body(&format!(
                r#"{{"session_id": "{session_id}", "signals": {{"pointer": [{{"t": 1, "k": "teleport", "dx": 0, "dy": 0}}]}}}}"#
            )),
            bad_request(),
        ),
        bad(
            "score: signals.pointer is an object",
            "POST",
            score,
            json_body(&format!(r#"{{"session_id": "{session_id}", "signals": {{"pointer": {{}}}}}}"#)),
            bad_request(),
        ),
        bad("score: empty session_id", "POST", score, json_body(r#"{"session_id": ""}"#), bad_request()),
        bad("score: 5000-deep nesting", "POST", score, json_body(&nested), bad_request()),
        bad(
            "score: unknown session",
            "POST",
            score,
            json_body(r#"{"session_id": "co_\u0000../../etc"}"#),
            Error(404, "session_not_found"),
        ),
        // /verify
        bad(
            "verify: token is a number",
            "POST",
            verify,
            json_value(&json!({ "token": 5, "api_key": api_key })),
            bad_request(),
        ),
        bad(
            "verify: token is an array",
            "POST",
            verify,
            json_value(&json!({ "token": [token], "api_key": api_key })),
            bad_request(),
        ),
        bad(
            "verify: nulls",
            "POST",
            verify,
            json_body(r#"{"token": null, "api_key": null}"#),
            Error(400, "token_required"),
        ),
        bad("verify: empty token", "POST", verify, verify_with(""), Error(400, "token_required")),
        bad("verify: truncated token", "POST", verify, verify_with(truncated), invalid()),
        bad("verify: 5000-char token", "POST", verify, verify_with(&long_token), invalid()),
        bad("verify: two parts", "POST", verify, verify_with("abc.def"), invalid()),
        bad("verify: three empty parts", "POST", verify, verify_with(".."), invalid()),
        bad("verify: unicode token", "POST", verify, verify_with("ünï.cödé.𝄞"), invalid()),
        bad("verify: null byte in token", "POST", verify, verify_with(&format!("{token}\u{0}")), invalid()),
        bad("verify: alg none", "POST", verify, verify_with(&alg_none), invalid()),
        bad("verify: alg none with kid", "POST", verify, verify_with(&alg_none_kid), invalid()),
        bad("verify: alg HS256", "POST", verify, verify_with(&hs256), invalid()),
        bad("verify: foreign kid", "POST", verify, verify_with(&foreign_kid), invalid()),
        bad("verify: known kid, wrong key", "POST", verify, verify_with(&known_kid_wrong_key), invalid()),
        bad("verify: extra header field jku", "POST", verify, verify_with(&extra_header), invalid()),
        bad("verify: extra header field crit", "POST", verify, verify_with(&crit_header), invalid()),
        bad("verify: extra claim", "POST", verify, verify_with(&extra_claim), invalid()),
        bad("verify: score 255", "POST", verify, verify_with(&score_255), invalid()),
        bad(
            "verify: duplicate token field",
            "POST",
            verify,
            json_body(&format!(r#"{{"token": "{token}", "token": "{token}", "api_key": "{api_key}"}}"#)),
            bad_request(),
        ),
        bad(
            "verify: 200-byte idempotency key",
            "POST",
            verify,
            json_value(&json!({ "token": token, "api_key": api_key, "idempotency_key": "k".repeat(200) })),
            bad_request(),
        ),
        bad(
            "verify: unicode API key",
            "POST",
            verify,
            json_value(&json!({ "token": token, "api_key": "ak_ünï\u{0}" })),
            Error(401, "invalid_api_key"),
        ),
        bad("verify: number out of range", "POST", verify, json_body(r#"{"token": 1e999}"#), bad_request()),
        bad(
            "verify: form fields sent as JSON",
            "POST",
            verify,
            json_body(&format!("token={token}&api_key={api_key}")),
            bad_request(),
        ),
        bad(
            "verify: multipart",
            "POST",
            verify,
            Some(("multipart/form-data; boundary=x", b"--x\r\n\r\n--x--".to_vec())),
            Error(415, "unsupported_media_type"),
        ),
        bad(
            "verify: 100 KiB body",
            "POST",
            verify,
            Some(("application/json", vec![b' '; 100 * 1024])),
            Error(413, "payload_too_large"),
        ),
        bad("verify: PUT", "PUT", verify, json_body("{}"), Error(405, "method_not_allowed")),
        // /siteverify: Turnstile's shape, always 200.
        bad("siteverify: truncated JSON", "POST", siteverify, json_body(r#"{"secret": "#), Turnstile("bad-request")),
        bad("siteverify: array", "POST", siteverify, json_body("[]"), Turnstile("bad-request")),
        bad("siteverify: 100 KiB body", "POST", siteverify, json_body(&huge), Turnstile("bad-request")),
        bad(
            "siteverify: alg none",
            "POST",
            siteverify,
            json_value(&json!({ "secret": api_key, "response": alg_none })),
            Turnstile("invalid-input-response"),
        ),
        bad("siteverify: GET", "GET", siteverify, None, Error(405, "method_not_allowed")),
        // /stats
        bad(
            "stats: limit too large",
            "GET",
            &format!("{stats}?action=recent&limit=99999999999999999999&api_key={api_key}"),
            None,
            bad_request(),
        ),
        bad(
            "stats: duplicate api_key",
            "GET",
            &format!("{stats}?api_key={api_key}&api_key={api_key}"),
            None,
            bad_request(),
        ),
        bad(
            "stats: invalid UTF-8 in the key",
            "GET",
            &format!("{stats}?api_key=%FF%FE"),
            None,
            Error(401, "invalid_api_key"),
        ),
        bad(
            "stats: null byte in month",
            "GET",
            &format!("{stats}?api_key={api_key}&action=distribution&month=2026-0%00"),
            None,
            bad_request(),
        ),
        bad("stats: POST", "POST", stats, json_body("{}"), Error(405, "method_not_allowed")),
        // Elsewhere
        bad("unknown route", "POST", "/init/", json_body("{}"), Error(404, "not_found")),
        bad("path traversal", "GET", "/../../etc/passwd", None, Error(404, "not_found")),
    ]
}

#[test]
fn malformed_requests_get_json_4xx_and_change_nothing() {
    let (v, site) = Verifier::with_site(ORIGIN_A);
    let token = v.walk(&site.site_key, ORIGIN_A);
    let session = v.open(&site.site_key, Some(ORIGIN_A));
    let before = v.stats(&site.api_key).assert_ok();

    let cases = malformed_requests(&site.site_key, &site.api_key, session.id(), &token);
    assert!(cases.len() >= 25);
    let mut failures = Vec::new();
    for case in cases {
        let mut call = v.client().request(case.method, v.url(&case.path));
        for (name, value) in &case.headers {
            call = call.header(name, value);
        }
        let reply = match case.body {
            Some((content_type, bytes)) => call.body(content_type, bytes),
            None => call.send(),
        };
        let body: Option<Value> = serde_json::from_str(&reply.body).ok();
        let ok = match (&case.expect, &body) {
            (Expect::Error(status, code), Some(b)) => {
                reply.status == *status && b["error"] == *code && b["message"].as_str().is_some_and(|m| !m.is_empty())
            }
            (Expect::Turnstile(code), Some(b)) => {
                reply.status == 200 && b["success"] == false && b["error-codes"] == json!([code])
            }
            (_, None) => false,
        };
        if !ok {
            failures.push(format!("{}: got {} {}", case.what, reply.status, reply.body));
        }
    }
    // Without Content-Length, the limit holds while reading.
    let chunked = v.post(routes::VERIFY).chunked("application/json", vec![b' '; 100 * 1024]);
    if chunked.status != 413 || chunked.json()["error"] != "payload_too_large" {
        failures.push(format!("verify: 100 KiB chunked body: got {} {}", chunked.status, chunked.body));
    }
    let chunked = v.post(routes::INIT).header("Origin", ORIGIN_A).chunked("application/json", b"[".repeat(1000));
    if chunked.status != 400 || chunked.json()["error"] != "bad_request" {
        failures.push(format!("init: chunked array: got {} {}", chunked.status, chunked.body));
    }
    assert!(failures.is_empty(), "{} unexpected answers:\n{}", failures.len(), failures.join("\n"));

    // The verifier is still well, and counted none of it.
    let health: HealthResponse = v.get(routes::HEALTH).send().parse();
    assert_eq!(health.status, "ok");
    assert_eq!(v.stats(&site.api_key).assert_ok(), before, "bad requests changed /stats");

    // The real token and the session survived every attempt on them.
    v.verify(&token, &site.api_key).assert_ok();
    v.verify(&token, &site.api_key).assert_error(409, "already_verified");
    v.score(&session, Pow::Solved, &human_signals()).assert_ok();
    let fresh = v.walk(&site.site_key, ORIGIN_A);
    assert!(v.verify(&fresh, &site.api_key).assert_ok()["valid"].as_bool().expect("valid"));
    v.verify(&fresh, &site.api_key).assert_error(409, "already_verified");
}

/// A session opened with a binding can only be scored by the page that
/// holds the secret; a wrong or missing secret does not burn the session.
#[test]
fn a_bound_session_is_scored_only_with_its_secret() {
    let (v, site) = Verifier::with_site(ORIGIN_A);
    let secret = "a page's own secret";
    let binding = hex_sha256(secret);
    let req = InitRequest { site_key: site.site_key.clone(), binding: Some(binding), ..Default::default() };
    let session = v.open_with(&req, Some(ORIGIN_A));
    std::thread::sleep(HUMAN_PAUSE);
    let score_with = |secret: Option<&str>| {
        let body = ScoreRequest {
            session_id: session.id().into(),
            pow: Some(PowSolution { nonce: session.solve(), elapsed_ms: 40 }),
            signals: human_signals(),
            binding_secret: secret.map(Into::into),
            ..Default::default()
        };
        v.post(routes::SCORE).origin(Some(ORIGIN_A)).json(&body)
    };
    score_with(None).assert_error(404, "session_not_found");
    score_with(Some("a guess")).assert_error(404, "session_not_found");
    let token = score_with(Some(secret)).assert_ok()["verdict"].as_str().expect("a verdict").to_owned();
    let verdict = v.verify(&token, &site.api_key).assert_ok();
    assert_eq!(verdict["valid"], true);
    let bad = InitRequest { site_key: site.site_key.clone(), binding: Some("XYZ".into()), ..Default::default() };
    v.post(routes::INIT).origin(Some(ORIGIN_A)).json(&bad).assert_error(400, "bad_request");
}

fn hex_sha256(s: &str) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(s.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}
