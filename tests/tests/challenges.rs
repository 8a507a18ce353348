//! Challenges over real sockets: the widget's step-up through `/score`, the
//! CaptchEtat-style endpoints and the generate/validate API. Each test reads
//! the expected answers from the verifier's own SQLite file, as only the
//! server can, and checks that no answer ever leaves it.

use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use oculto_shared::api::{routes, ScoreRequest, ScoreResponse, StepUp, StepUpAnswer, VerifyResponse};
use oculto_shared::pow::PowSolution;
use oculto_shared::signals::Signals;
use oculto_tests::{human_signals, Pow, Reply, Session, Site, Verifier, HUMAN_PAUSE};
use serde_json::{json, Value};

const ORIGIN: &str = "http://shop.test";

/// Every CaptchEtat type name.
const CAPTCHETAT_TYPES: [&str; 16] = [
    "captchaFR",
    "captchaEN",
    "numerique6_7CaptchaFR",
    "numerique6_7CaptchaEN",
    "alphabetique6_7CaptchaFR",
    "alphabetique6_7CaptchaEN",
    "alphanumerique12CaptchaFR",
    "alphanumerique12CaptchaEN",
    "alphabetique12CaptchaFR",
    "alphabetique12CaptchaEN",
    "numerique12CaptchaFR",
    "numerique12CaptchaEN",
    "alphanumerique6to9LightCaptchaFR",
    "alphanumerique6to9LightCaptchaEN",
    "alphanumerique4to6LightCaptchaFR",
    "alphanumerique4to6LightCaptchaEN",
];

/// The stored challenge `id` as the verifier keeps it, read from its
/// database (`None` once used or purged).
fn stored(v: &Verifier, id: &str) -> Option<Value> {
    let db = rusqlite::Connection::open_with_flags(v.db_path(), rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .expect("the verifier's database opens");
    let body: Option<String> = db
        .query_row("SELECT body FROM challenges WHERE id = ?", [id], |r| r.get(0))
        .map(Some)
        .or_else(|e| if e == rusqlite::Error::QueryReturnedNoRows { Ok(None) } else { Err(e) })
        .expect("the challenges table reads");
    body.map(|b| serde_json::from_str(&b).expect("a challenge is stored as JSON"))
}

/// The answer of the live challenge `id`.
fn answer_of(v: &Verifier, id: &str) -> String {
    let c = stored(v, id).unwrap_or_else(|| panic!("challenge {id} is not stored"));
    c["answer"].as_str().expect("a stored answer").to_owned()
}

/// A wrong answer of the same shape as `answer`.
fn wrong(answer: &str) -> String {
    answer.chars().rev().map(|c| if c == '2' { '3' } else { '2' }).collect()
}

/// The chunk types of a PNG, checking its signature; and its size.
fn png_chunks(png: &[u8]) -> (Vec<String>, u32, u32) {
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "PNG signature");
    let (mut at, mut chunks) = (8, Vec::new());
    while at + 8 <= png.len() {
        let len = u32::from_be_bytes(png[at..at + 4].try_into().unwrap()) as usize;
        chunks.push(String::from_utf8_lossy(&png[at + 4..at + 8]).into_owned());
        at += 12 + len;
    }
    assert_eq!(at, png.len(), "chunks fill the file exactly");
    let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(png[20..24].try_into().unwrap());
    (chunks, width, height)
}

/// Checks a challenge image as a page would get it: a 240x80 PNG with no
/// text chunks (where an answer could hide).
#[track_caller]
fn assert_challenge_png(png: &[u8]) {
    let (chunks, width, height) = png_chunks(png);
    assert_eq!((width, height), (240, 80));
    assert_eq!(chunks.first().map(String::as_str), Some("IHDR"));
    assert_eq!(chunks.last().map(String::as_str), Some("IEND"));
    for c in &chunks {
        assert!(["IHDR", "PLTE", "tRNS", "IDAT", "IEND"].contains(&c.as_str()), "unexpected chunk {c}");
    }
    assert!(png.len() < 8 * 1024, "{} bytes", png.len());
}

/// The PNG inside a `data:image/png;base64,` URL.
#[track_caller]
fn png_of_data_url(url: &str) -> Vec<u8> {
    let b64 = url.strip_prefix("data:image/png;base64,").unwrap_or_else(|| panic!("not a PNG data URL: {url:.40}"));
    STANDARD.decode(b64).expect("valid base64")
}

/// Checks a WAV file: RIFF/WAVE, PCM mono, and a length a person can
/// listen to for `chars` characters. Returns its duration in seconds.
#[track_caller]
fn assert_wav(wav: &[u8], chars: usize) -> f64 {
    assert!(wav.len() > 44, "{} bytes", wav.len());
    assert_eq!(&wav[..4], b"RIFF");
    assert_eq!(u32::from_le_bytes(wav[4..8].try_into().unwrap()) as usize, wav.len() - 8, "RIFF size");
    assert_eq!(&wav[8..12], b"WAVE");
    let mut at = 12;
    let (mut format, mut data) = (None, None);
    while at + 8 <= wav.len() {
        let id = &wav[at..at + 4];
        let len = u32::from_le_bytes(wav[at + 4..at + 8].try_into().unwrap()) as usize;
        let body = &wav[at + 8..(at + 8 + len).min(wav.len())];
        assert!(
            [b"fmt ", b"data", b"LIST"].contains(&id.try_into().unwrap()),
            "unexpected chunk {:?}",
            String::from_utf8_lossy(id)
        );
        match id {
            b"fmt " => format = Some(body.to_vec()),
            b"data" => data = Some(body.len()),
            _ => {}
        }
        at += 8 + len + (len & 1);
    }
    let format = format.expect("a fmt chunk");
    let data = data.expect("a data chunk");
    assert_eq!(u16::from_le_bytes([format[0], format[1]]), 1, "PCM");
    assert_eq!(u16::from_le_bytes([format[2], format[3]]), 1, "mono");
    let rate = u32::from_le_bytes(format[4..8].try_into().unwrap());
    let bits = u16::from_le_bytes([format[14], format[15]]);
    assert!((8000..=48_000).contains(&rate), "sample rate {rate}");
    assert!(bits == 8 || bits == 16, "{bits} bits");
    let seconds = data as f64 / f64::from(rate) / f64::from(bits / 8);
    let (low, high) = (0.4 * chars as f64, 2.0 * chars as f64 + 3.0);
    assert!((low..=high).contains(&seconds), "{seconds:.2} s for {chars} characters");
    seconds
}

/// `/score` on a session with the proof of work solved and a person's signals.
fn first_score(v: &Verifier, session: &Session) -> ScoreResponse {
    std::thread::sleep(HUMAN_PAUSE);
    let reply = v.score(session, Pow::Solved, &human_signals());
    reply.assert_ok();
    reply.parse()
}

/// `/score` with an answer to a step-up, from the session's origin.
fn answer(v: &Verifier, session: &Session, challenge_id: &str, code: &str) -> Reply {
    let body = ScoreRequest {
        session_id: session.id().into(),
        answer: Some(StepUpAnswer { challenge_id: challenge_id.into(), code: code.into(), refresh: false }),
        ..Default::default()
    };
    v.post(routes::SCORE).origin(session.origin.as_deref()).json(&body)
}

fn refresh(v: &Verifier, session: &Session, challenge_id: &str) -> Reply {
    let body = ScoreRequest {
        session_id: session.id().into(),
        answer: Some(StepUpAnswer { challenge_id: challenge_id.into(), refresh: true, ..Default::default() }),
        ..Default::default()
    };
    v.post(routes::SCORE).origin(session.origin.as_deref()).json(&body)
}

#[track_caller]
fn step_up_of(reply: &Reply) -> StepUp {
    let body = reply.assert_ok();
    let res: ScoreResponse = reply.parse();
    assert!(res.verdict.is_none(), "a verdict with a step-up: {body}");
    res.step_up.unwrap_or_else(|| panic!("no step_up in {body}"))
}

#[track_caller]
fn verdict_of(reply: &Reply) -> String {
    let body = reply.assert_ok();
    let res: ScoreResponse = reply.parse();
    assert!(res.step_up.is_none(), "a step-up with a verdict: {body}");
    res.verdict.unwrap_or_else(|| panic!("no verdict in {body}"))
}

/// A body with the image taken out, to look for the answer in the rest.
fn without_image(reply: &Reply) -> String {
    let mut v = reply.json();
    for key in ["image", "imageb64"] {
        if let Some(o) = v.as_object_mut() {
            o.remove(key);
        }
        if let Some(o) = v.get_mut("step_up").and_then(Value::as_object_mut) {
            o.remove(key);
        }
    }
    v.to_string()
}

fn step_up_site(policy: &str) -> (Verifier, Site) {
    let v = Verifier::new();
    let site = v.add_site_step_up(ORIGIN, policy);
    (v.start(), site)
}

#[test]
fn a_step_up_is_shown_answered_once_and_its_verdict_verifies() {
    let (v, site) = step_up_site("always");
    let session = v.open(&site.site_key, Some(ORIGIN));
    let reply = v.score(&session, Pow::Solved, &human_signals());
    let challenge = step_up_of(&reply);
    let expected = answer_of(&v, &challenge.challenge_id);
    assert!(!without_image(&reply).contains(&expected), "the answer is in {}", reply.body);
    assert_challenge_png(&png_of_data_url(challenge.image.as_deref().expect("an image")));
    assert_eq!(challenge.kind, "image");
    assert_eq!(usize::from(challenge.length), expected.len());
    assert_eq!((challenge.attempts_left, challenge.refreshes_left), (3, 5));
    assert!(!challenge.prompt.is_empty() && !challenge.prompt.contains(&expected));
    let in_five_minutes = challenge.expires_at.abs_diff(oculto_tests_now() + 300);
    assert!(in_five_minutes <= 2, "expires in 5 minutes: {}", challenge.expires_at);

    // The audio, in both languages, from any page (CORS).
    let audio = challenge.audio.clone().expect("an audio path");
    for lang in ["en", "fr"] {
        let wav = v.get(&audio).query("lang", lang).header("Origin", ORIGIN).send();
        assert_eq!(wav.status, 200, "{}", wav.body);
        assert_eq!(wav.header("content-type"), Some("audio/wav"));
        assert_eq!(wav.header("access-control-allow-origin"), Some(ORIGIN));
        assert_wav(&wav.bytes, expected.len());
    }
    v.get(&audio).query("lang", "de").send().assert_error(400, "bad_request");

    // A wrong answer uses the challenge up and brings a new one.
    let second = step_up_of(&answer(&v, &session, &challenge.challenge_id, &wrong(&expected)));
    assert_ne!(second.challenge_id, challenge.challenge_id);
    assert_eq!(second.attempts_left, 2);
    assert!(stored(&v, &challenge.challenge_id).is_none(), "the first challenge is gone");
    answer(&v, &session, &challenge.challenge_id, &expected).assert_error(404, "challenge_not_found");
    v.get(&audio).send().assert_error(404, "challenge_not_found");

    // The right answer, typed loosely, gets the verdict.
    let expected = answer_of(&v, &second.challenge_id);
    let typed = format!(" {} ", expected.to_lowercase());
    let token = verdict_of(&answer(&v, &session, &second.challenge_id, &typed));
    answer(&v, &session, &second.challenge_id, &expected).assert_error(404, "challenge_not_found");
    let verified: VerifyResponse = v.verify(&token, &site.api_key).parse();
    assert!(verified.valid, "{verified:?}");
    assert_eq!(verified.score, 0, "0 + 20 for the wrong answer - 30 for the right one, floored");
    assert!(verified.reasons.contains(&"step_up_passed".to_string()), "{:?}", verified.reasons);
    assert!(verified.reasons.contains(&"step_up_wrong".to_string()), "{:?}", verified.reasons);
    v.verify(&token, &site.api_key).assert_error(409, "already_verified");
}

fn oculto_tests_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("after 1970").as_secs()
}

#[test]
fn wrong_answers_run_out_and_still_get_a_verdict_with_a_raised_score() {
    let (v, site) = step_up_site("always");
    let session = v.open(&site.site_key, Some(ORIGIN));
    let mut challenge = step_up_of(&v.score(&session, Pow::Solved, &human_signals()));
    for left in [2, 1] {
        let expected = answer_of(&v, &challenge.challenge_id);
        challenge = step_up_of(&answer(&v, &session, &challenge.challenge_id, &wrong(&expected)));
        assert_eq!(challenge.attempts_left, left);
    }
    // Phantom success: the last wrong answer gets a verdict like any other.
    let token = verdict_of(&answer(&v, &session, &challenge.challenge_id, "nope"));
    let verified: VerifyResponse = v.verify(&token, &site.api_key).parse();
    assert_eq!(verified.score, 60, "three wrong answers, 20 each");
    assert!(!verified.valid);
    assert!(verified.reasons.contains(&"step_up_failed".to_string()), "{:?}", verified.reasons);
    answer(&v, &session, &challenge.challenge_id, "x").assert_error(404, "challenge_not_found");
}

#[test]
fn refreshes_bring_new_challenges_without_costing_attempts_until_none_are_left() {
    let (v, site) = step_up_site("always");
    let session = v.open(&site.site_key, Some(ORIGIN));
    let mut challenge = step_up_of(&v.score(&session, Pow::Solved, &human_signals()));
    let mut seen = vec![challenge.image.clone()];
    for left in (0..5).rev() {
        let next = step_up_of(&refresh(&v, &session, &challenge.challenge_id));
        assert_eq!((next.refreshes_left, next.attempts_left), (left, 3));
        assert!(stored(&v, &challenge.challenge_id).is_none());
        assert!(!seen.contains(&next.image), "a new image");
        seen.push(next.image.clone());
        challenge = next;
    }
    refresh(&v, &session, &challenge.challenge_id).assert_error(400, "bad_request");
    let expected = answer_of(&v, &challenge.challenge_id);
    verdict_of(&answer(&v, &session, &challenge.challenge_id, &expected));
}

#[test]
fn only_the_sessions_page_can_answer_its_challenge() {
    let v = Verifier::new();
    let site = v.add_site_step_up(ORIGIN, "always");
    let other = v.add_site_step_up("http://other.test", "always");
    let v = v.start();
    let session = v.open(&site.site_key, Some(ORIGIN));
    let challenge = step_up_of(&v.score(&session, Pow::Solved, &human_signals()));
    let expected = answer_of(&v, &challenge.challenge_id);
    let id = &challenge.challenge_id;

    // Another session, another origin, a made-up id: refused, and the
    // challenge stays usable.
    let stranger = v.open(&other.site_key, Some("http://other.test"));
    answer(&v, &stranger, id, &expected).assert_error(404, "challenge_not_found");
    let elsewhere = Session { origin: Some("http://other.test".into()), ..session.clone() };
    answer(&v, &elsewhere, id, &expected).assert_error(403, "origin_not_allowed");
    answer(&v, &session, "ch_made_up", &expected).assert_error(404, "challenge_not_found");
    answer(&v, &session, "../../etc/passwd", &expected).assert_error(404, "challenge_not_found");
    answer(&v, &session, id, &"A".repeat(65)).assert_error(400, "bad_request");
    assert!(stored(&v, id).is_some(), "nothing above used the challenge up");
    verdict_of(&answer(&v, &session, id, &expected));
}

#[test]
fn a_bound_session_needs_its_secret_for_step_up_answers() {
    use sha2::Digest as _;
    let (v, site) = step_up_site("always");
    let secret = "a page secret of enough length";
    let binding = hex_of(&sha2::Sha256::digest(secret.as_bytes()));
    let req = oculto_shared::api::InitRequest {
        site_key: site.site_key.clone(),
        binding: Some(binding),
        ..Default::default()
    };
    let session = v.open_with(&req, Some(ORIGIN));
    std::thread::sleep(HUMAN_PAUSE);
    let body = ScoreRequest {
        session_id: session.id().into(),
        pow: Some(PowSolution { nonce: session.solve(), elapsed_ms: 40 }),
        signals: human_signals(),
        binding_secret: Some(secret.into()),
        ..Default::default()
    };
    let challenge = step_up_of(&v.post(routes::SCORE).origin(Some(ORIGIN)).json(&body));
    let expected = answer_of(&v, &challenge.challenge_id);
    answer(&v, &session, &challenge.challenge_id, &expected).assert_error(404, "challenge_not_found");
    let with_secret = ScoreRequest {
        session_id: session.id().into(),
        answer: Some(StepUpAnswer { challenge_id: challenge.challenge_id.clone(), code: expected, refresh: false }),
        binding_secret: Some(secret.into()),
        ..Default::default()
    };
    verdict_of(&v.post(routes::SCORE).origin(Some(ORIGIN)).json(&with_secret));
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn the_policy_decides_who_gets_a_step_up() {
    let v = Verifier::new();
    let never = v.add_site_step_up(ORIGIN, "never");
    let suspicious = v.add_site_step_up(ORIGIN, "suspicious");
    let v = v.start();
    let gave_up = |site: &Site| {
        let session = v.open(&site.site_key, Some(ORIGIN));
        std::thread::sleep(HUMAN_PAUSE);
        let body = ScoreRequest {
            session_id: session.id().into(),
            pow_gave_up_ms: Some(2000),
            signals: human_signals(),
            ..Default::default()
        };
        v.post(routes::SCORE).origin(Some(ORIGIN)).json(&body)
    };
    // A person whose device ran out of its proof-of-work budget: a step-up
    // under the default policy, a verdict under `never`.
    step_up_of(&gave_up(&suspicious));
    verdict_of(&gave_up(&never));
    // A person who solved it: no step-up under the default policy.
    let session = v.open(&suspicious.site_key, Some(ORIGIN));
    assert!(first_score(&v, &session).verdict.is_some());
    // No signals at all is a bot (over 50): phantom success, no challenge.
    let session = v.open(&suspicious.site_key, Some(ORIGIN));
    let reply = v.score(&session, Pow::Missing, &Signals::default());
    verdict_of(&reply);
    // Test keys never step up.
    let session = v.open("site_test_always_pass", Some(ORIGIN));
    verdict_of(&v.score(&session, Pow::Solved, &human_signals()));
}

#[test]
fn challenges_expire() {
    let v = Verifier::new().env("OCULTO_CHALLENGE__TTL_SECS", "2");
    let site = v.add_site_step_up(ORIGIN, "always");
    let v = v.start();
    let session = v.open(&site.site_key, Some(ORIGIN));
    let challenge = step_up_of(&v.score(&session, Pow::Solved, &human_signals()));
    let expected = answer_of(&v, &challenge.challenge_id);
    let image = v.get(routes::CAPTCHETAT).query("get", "image").query("c", "captchaFR").send();
    let uuid = image.header("x-captcha-uuid").expect("a uuid header").to_owned();
    let code = answer_of(&v, &uuid);
    std::thread::sleep(Duration::from_millis(2100));
    answer(&v, &session, &challenge.challenge_id, &expected).assert_error(400, "challenge_expired");
    v.get(routes::CAPTCHETAT)
        .query("get", "sound")
        .query("c", "captchaFR")
        .query("t", &uuid)
        .send()
        .assert_error(404, "challenge_not_found");
    let valid = v.post(routes::CAPTCHETAT_VALIDATE).json(&json!({"uuid": uuid, "code": code}));
    assert_eq!(valid.assert_ok(), json!(false));
}

#[test]
fn every_captchetat_type_serves_an_image_a_sound_and_validates_once() {
    let v = Verifier::new().start();
    for c in CAPTCHETAT_TYPES {
        let image = v.get(routes::CAPTCHETAT).query("get", "image").query("c", c).send();
        assert_eq!(image.status, 200, "{c}: {}", image.body);
        assert_eq!(image.header("content-type"), Some("image/png"), "{c}");
        assert_challenge_png(&image.bytes);
        let uuid = image.header("x-captcha-uuid").expect("a uuid header").to_owned();
        let code = answer_of(&v, &uuid);
        let (min, max) = match c {
            _ if c.contains("12") => (12, 12),
            _ if c.contains("6_7") => (6, 7),
            _ if c.contains("4to6") => (4, 6),
            _ => (6, 9),
        };
        assert!((min..=max).contains(&code.len()), "{c}: {} characters", code.len());
        if c.starts_with("numerique") {
            assert!(code.bytes().all(|b| b.is_ascii_digit()), "{c}: {code}");
        }
        if c.starts_with("alphabetique") {
            assert!(code.bytes().all(|b| b.is_ascii_uppercase()), "{c}: {code}");
        }

        let sound = v.get(routes::CAPTCHETAT).query("get", "sound").query("c", c).query("t", &uuid).send();
        assert_eq!(sound.status, 200, "{c}: {}", sound.body);
        assert_eq!(sound.header("content-type"), Some("audio/wav"));
        assert_wav(&sound.bytes, code.len());

        let json_image = v.get(routes::CAPTCHETAT).query("get", "image").query("c", c).query("format", "json").send();
        let body = json_image.assert_ok();
        let other = body["uuid"].as_str().expect("uuid").to_owned();
        assert_ne!(other, uuid);
        assert_challenge_png(&png_of_data_url(body["imageb64"].as_str().expect("imageb64")));
        assert!(!without_image(&json_image).contains(&answer_of(&v, &other)));

        let check = |uuid: &str, code: &str| {
            v.post(routes::CAPTCHETAT_VALIDATE).json(&json!({"uuid": uuid, "code": code})).assert_ok()
        };
        assert_eq!(check(&uuid, &code.to_lowercase()), json!(true), "{c}");
        assert_eq!(check(&uuid, &code), json!(false), "{c}: single use");
        // A wrong code uses the challenge up too.
        let other_code = answer_of(&v, &other);
        assert_eq!(check(&other, &wrong(&other_code)), json!(false));
        assert_eq!(check(&other, &other_code), json!(false));
    }
    // Accept: application/json works like format=json; the form encoding too.
    let by_accept = v
        .get(routes::CAPTCHETAT)
        .query("get", "image")
        .query("c", "captchaEN")
        .header("Accept", "application/json")
        .send();
    let uuid = by_accept.assert_ok()["uuid"].as_str().expect("uuid").to_owned();
    let code = answer_of(&v, &uuid);
    let form = v.post(routes::CAPTCHETAT_VALIDATE).form(&[("uuid", &uuid), ("code", &code)]);
    assert_eq!(form.assert_ok(), json!(true));
}

#[test]
fn captchetat_refuses_bad_requests_clearly() {
    let v = Verifier::new().start();
    let get = |pairs: &[(&str, &str)]| {
        let mut call = v.get(routes::CAPTCHETAT);
        for (k, val) in pairs {
            call = call.query(k, val);
        }
        call.send()
    };
    let message = get(&[("get", "image"), ("c", "captchaDE")]).assert_error(400, "bad_request");
    assert!(message.contains("captchaDE") && message.contains("captchaFR"), "{message}");
    get(&[("get", "image")]).assert_error(400, "bad_request");
    get(&[("get", "video"), ("c", "captchaFR")]).assert_error(400, "bad_request");
    get(&[("c", "captchaFR")]).assert_error(400, "bad_request");
    get(&[("get", "sound"), ("c", "captchaFR")]).assert_error(400, "bad_request");
    get(&[("get", "sound"), ("c", "captchaFR"), ("t", "ch_nope")]).assert_error(404, "challenge_not_found");
    v.post(routes::CAPTCHETAT).json(&json!({})).assert_error(405, "method_not_allowed");
    let validate = |body: Value| v.post(routes::CAPTCHETAT_VALIDATE).json(&body);
    validate(json!({"code": "ABC"})).assert_error(400, "bad_request");
    validate(json!({"uuid": "ch_x"})).assert_error(400, "bad_request");
    validate(json!({"uuid": 5, "code": "x"})).assert_error(400, "bad_request");
    assert_eq!(validate(json!({"uuid": "ch_unknown", "code": "ABC"})).assert_ok(), json!(false));
    v.post(routes::CAPTCHETAT_VALIDATE).body("application/json", "[1]").assert_error(400, "bad_request");
}

#[test]
fn captchetat_calls_are_limited_per_address() {
    let v = Verifier::new().env("OCULTO_RATE_LIMIT__CAPTCHETAT_PER_MIN", "3").start();
    for _ in 0..3 {
        assert_eq!(v.get(routes::CAPTCHETAT).query("get", "image").query("c", "captchaFR").send().status, 200);
    }
    let refused = v.get(routes::CAPTCHETAT).query("get", "image").query("c", "captchaFR").send();
    refused.assert_error(429, "rate_limited");
    assert!(refused.header("retry-after").is_some());
}

#[test]
fn the_healthcheck_lists_its_components() {
    let v = Verifier::new().start();
    let body = v.get(routes::HEALTHCHECK).send().assert_ok();
    assert_eq!(body["status"], "UP", "{body}");
    for part in ["store", "keys", "clock"] {
        assert_eq!(body["components"][part]["status"], "UP", "{part} in {body}");
    }
    assert_eq!(body["components"]["store"]["details"], "sqlite");
}

/// `POST /api/generate`.
fn generate(v: &Verifier, site_key: &str, kind: &str) -> Reply {
    v.post(routes::API_GENERATE).json(&json!({"site_key": site_key, "type": kind}))
}

/// `POST /api/validate`.
fn validate(v: &Verifier, site_key: &str, id: &str, input: &str) -> Reply {
    v.post(routes::API_VALIDATE).json(&json!({"site_key": site_key, "captcha_id": id, "user_input": input}))
}

/// Checks a generate/validate error: `status` with a non-empty `detail`.
#[track_caller]
fn assert_detail(reply: &Reply, status: u16) -> String {
    assert_eq!(reply.status, status, "{}", reply.body);
    let detail = reply.json()["detail"].as_str().unwrap_or_else(|| panic!("no detail in {}", reply.body)).to_owned();
    assert!(!detail.is_empty());
    detail
}

#[test]
fn generate_and_validate_give_a_verdict_that_verify_accepts_once() {
    let (v, site) = Verifier::with_site(ORIGIN);
    let image = generate(&v, &site.site_key, "image");
    let body = image.assert_ok();
    assert_eq!(body["type"], "image");
    assert_eq!(body["expires_in"], 300);
    let id = body["captcha_id"].as_str().expect("captcha_id").to_owned();
    assert_challenge_png(&png_of_data_url(body["image"].as_str().expect("image")));
    let code = answer_of(&v, &id);
    assert!(!without_image(&image).contains(&code));

    let ok = validate(&v, &site.site_key, &id, &code).assert_ok();
    assert_eq!(ok["valid"], true, "{ok}");
    let token = ok["token"].as_str().expect("a token").to_owned();
    let verified: VerifyResponse = v.verify(&token, &site.api_key).parse();
    assert!(verified.valid);
    assert_eq!(verified.reasons, vec!["captcha_only".to_string()]);
    v.verify(&token, &site.api_key).assert_error(409, "already_verified");
    assert_eq!(validate(&v, &site.site_key, &id, &code).assert_ok(), json!({"valid": false, "token": null}));

    // Math: the question's own answer is right.
    let math = generate(&v, &site.site_key, "math").assert_ok();
    assert_eq!(math["type"], "math");
    assert!(math.get("image").is_none());
    let question = math["question"].as_str().expect("a question");
    let words: Vec<&str> = question.split(' ').collect();
    let [a, op, b, "=", "?"] = words[..] else { panic!("question {question}") };
    let (a, b): (i32, i32) = (a.parse().unwrap(), b.parse().unwrap());
    let result = if op == "+" { a + b } else { a - b };
    let id = math["captcha_id"].as_str().expect("captcha_id");
    assert_eq!(validate(&v, &site.site_key, id, &format!(" {result}")).assert_ok()["valid"], true);

    // A wrong answer uses the challenge up.
    let id = generate(&v, &site.site_key, "math").assert_ok()["captcha_id"].as_str().unwrap().to_owned();
    let right = answer_of(&v, &id);
    assert_eq!(validate(&v, &site.site_key, &id, "100").assert_ok()["valid"], false);
    assert_eq!(validate(&v, &site.site_key, &id, &right).assert_ok()["valid"], false);
}

#[test]
fn generate_and_validate_check_the_site_key_and_the_input() {
    let v = Verifier::new();
    let site = v.add_site(ORIGIN);
    let other = v.add_site("http://other.test");
    let v = v.start();
    assert_detail(&generate(&v, "site_unknown", "image"), 403);
    assert_detail(&generate(&v, "", "image"), 400);
    assert_detail(&generate(&v, &site.site_key, "audio"), 400);
    assert_detail(&v.post(routes::API_GENERATE).body("application/json", "{"), 400);
    assert_detail(&v.post(routes::API_GENERATE).body("application/json", "[]"), 400);
    let from_elsewhere =
        v.post(routes::API_GENERATE).origin(Some("http://evil.test")).json(&json!({"site_key": site.site_key}));
    assert_detail(&from_elsewhere, 403);
    // Without a type, an image.
    let body = v.post(routes::API_GENERATE).origin(Some(ORIGIN)).json(&json!({"site_key": site.site_key}));
    assert_eq!(body.assert_ok()["type"], "image");

    let id = generate(&v, &site.site_key, "math").assert_ok()["captcha_id"].as_str().unwrap().to_owned();
    let right = answer_of(&v, &id);
    assert_detail(&validate(&v, "site_unknown", &id, &right), 403);
    assert_detail(&v.post(routes::API_VALIDATE).json(&json!({"site_key": site.site_key, "user_input": "1"})), 400);
    assert_detail(&v.post(routes::API_VALIDATE).json(&json!({"site_key": site.site_key, "captcha_id": id})), 400);
    // Another site's key cannot use (or burn) the challenge.
    assert_eq!(validate(&v, &other.site_key, &id, &right).assert_ok()["valid"], false);
    assert_eq!(validate(&v, &site.site_key, &id, &right).assert_ok()["valid"], true);
}

#[test]
fn generate_and_validate_are_limited_per_site_key_failures_included() {
    let v = Verifier::new()
        .env("OCULTO_RATE_LIMIT__GENERATE_PER_HOUR", "3")
        .env("OCULTO_RATE_LIMIT__VALIDATE_PER_HOUR", "2");
    let site = v.add_site(ORIGIN);
    let other = v.add_site("http://other.test");
    let v = v.start();
    let ids: Vec<String> = (0..3)
        .map(|_| generate(&v, &site.site_key, "math").assert_ok()["captcha_id"].as_str().unwrap().to_owned())
        .collect();
    let refused = generate(&v, &site.site_key, "image");
    assert_detail(&refused, 429);
    assert!(refused.header("retry-after").is_some());
    generate(&v, &other.site_key, "image").assert_ok();

    assert_eq!(validate(&v, &site.site_key, &ids[0], "1000").assert_ok()["valid"], false);
    assert_eq!(validate(&v, &site.site_key, "ch_unknown", "1").assert_ok()["valid"], false);
    let right = answer_of(&v, &ids[1]);
    assert_detail(&validate(&v, &site.site_key, &ids[1], &right), 429);
    assert!(stored(&v, &ids[1]).is_some(), "a refused call does not use the challenge up");
}

#[test]
fn a_right_code_sent_many_times_at_once_is_accepted_once() {
    let v = Verifier::new().start();
    let image = v.get(routes::CAPTCHETAT).query("get", "image").query("c", "captchaFR").send();
    let uuid = image.header("x-captcha-uuid").expect("a uuid header").to_owned();
    let code = answer_of(&v, &uuid);
    let barrier = std::sync::Barrier::new(32);
    let accepted = std::thread::scope(|s| {
        let calls: Vec<_> = (0..32)
            .map(|_| {
                s.spawn(|| {
                    barrier.wait();
                    v.post(routes::CAPTCHETAT_VALIDATE).json(&json!({"uuid": uuid, "code": code})).assert_ok()
                })
            })
            .collect();
        calls.into_iter().map(|c| c.join().expect("no panic")).filter(|answer| *answer == json!(true)).count()
    });
    assert_eq!(accepted, 1);
}
