//! What operators rely on, over real sockets (tracker issue 6): the live
//! verifier matches its own `/openapi.json` (every documented route answers
//! there, and real answers of the main endpoints fit the documented
//! schemas), `/metrics` counts what happened, and `/health` breaks its state
//! down by component.

use std::thread;

use oculto_shared::api::{routes, InitRequest, ScoreRequest, ScoreResponse, StepUpAnswer};
use oculto_shared::pow::PowSolution;
use oculto_tests::{human_signals, Pow, Reply, Session, Verifier, HUMAN_PAUSE};
use serde_json::{json, Value};

const ORIGIN: &str = "http://a.test";

/// The verifier's OpenAPI document, and checks of answers against it.
struct Doc(Value);

impl Doc {
    /// `GET /openapi.json`.
    fn fetch(v: &Verifier) -> Self {
        let reply = v.get(routes::OPENAPI).send();
        let doc = reply.assert_ok();
        assert!(doc["openapi"].as_str().is_some_and(|s| s.starts_with("3.1")), "{}", doc["openapi"]);
        let doc = Doc(doc);
        doc.check("get", routes::OPENAPI, &reply);
        doc
    }

    /// Every documented `(method, path template)`.
    fn operations(&self) -> Vec<(String, String)> {
        let paths = self.0["paths"].as_object().expect("paths");
        let mut ops = Vec::new();
        for (path, item) in paths {
            for method in item.as_object().expect("path item").keys() {
                ops.push((method.clone(), path.clone()));
            }
        }
        ops
    }

    /// The operation at `method path`; panics if it is not documented.
    #[track_caller]
    fn operation(&self, method: &str, path: &str) -> &Value {
        let op = &self.0["paths"][path][method];
        assert!(op.is_object(), "{method} {path} is not in /openapi.json");
        op
    }

    /// Checks that `reply`, an answer of `method path` (the documented
    /// template), is documented: its status, its content type, and, for
    /// JSON, its body against the schema (its `$ref`s resolved in the
    /// document's components).
    #[track_caller]
    fn check(&self, method: &str, path: &str, reply: &Reply) {
        let op = self.operation(method, path);
        let status = reply.status.to_string();
        let response = &op["responses"][&status];
        assert!(
            response.is_object(),
            "{method} {path} answered {status}, which is not documented: {}",
            &reply.body[..reply.body.len().min(300)]
        );
        let content_type = reply.header("content-type").unwrap_or_default();
        let media = content_type.split(';').next().unwrap_or_default().trim();
        let content = &response["content"];
        let Some(documented) = content.get(media) else {
            panic!(
                "{method} {path} {status} answered {media:?}; documented: {:?}",
                content.as_object().map(|c| c.keys().collect::<Vec<_>>())
            )
        };
        if media != "application/json" {
            return;
        }
        let schema = documented.get("schema").unwrap_or_else(|| panic!("{method} {path} {status}: no schema"));
        self.validate(&format!("{method} {path} {status}"), schema, &reply.json());
    }

    /// Checks that `body`, sent to `method path` as `content_type`, fits the
    /// documented request schema.
    #[track_caller]
    fn check_request(&self, method: &str, path: &str, content_type: &str, body: &Value) {
        let op = self.operation(method, path);
        let schema = &op["requestBody"]["content"][content_type]["schema"];
        assert!(schema.is_object(), "{method} {path} documents no {content_type} body");
        self.validate(&format!("{method} {path} request"), schema, body);
    }

    /// Validates `value` against `schema`, its `$ref`s resolved in the
    /// document's components; panics with every error.
    #[track_caller]
    fn validate(&self, what: &str, schema: &Value, value: &Value) {
        let root = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "components": self.0["components"],
            "allOf": [schema],
        });
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .should_validate_formats(true)
            .build(&root)
            .unwrap_or_else(|e| panic!("{what}: the documented schema does not compile: {e}"));
        let errors: Vec<String> =
            validator.iter_errors(value).map(|e| format!("{} at {}", e, e.instance_path())).collect();
        assert!(
            errors.is_empty(),
            "{what}: does not fit the documented schema:\n  {}\nbody: {value}",
            errors.join("\n  ")
        );
    }
}

/// The documented path with its parameters filled in.
fn concrete(template: &str) -> String {
    template.replace("{id}", "ch_none").replace("{file}", "none.js")
}

/// The answer of a path no route takes.
fn is_fallback(reply: &Reply) -> bool {
    reply.status == 404 && reply.body.contains("no such endpoint")
}

/// Sends `request` as is (a method no HTTP client would send) and returns
/// the status line.
fn raw(v: &Verifier, request: &str) -> String {
    use std::io::{Read as _, Write as _};
    let addr = v.url("").trim_start_matches("http://").to_owned();
    let mut stream = std::net::TcpStream::connect(addr).expect("connects");
    stream.write_all(request.as_bytes()).expect("sends");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("reads");
    answer.lines().next().unwrap_or_default().to_owned()
}

/// One `/init` whose answer is checked against the document.
fn open(v: &Verifier, doc: &Doc, site_key: &str) -> Session {
    let req = InitRequest { site_key: site_key.into(), action: Some("login".into()), ..Default::default() };
    let reply = v.post(routes::INIT).origin(Some(ORIGIN)).json(&req);
    doc.check("post", routes::INIT, &reply);
    Session { site_key: site_key.into(), origin: Some(ORIGIN.into()), init: reply.parse() }
}

/// The answer to a math question from `/api/generate`: `17 + 25 = ?`.
fn solve_math(question: &str) -> i64 {
    let words: Vec<&str> = question.split_whitespace().collect();
    let (a, b): (i64, i64) = (words[0].parse().expect("a number"), words[2].parse().expect("a number"));
    match words[1] {
        "+" => a + b,
        "-" | "−" => a - b,
        op => panic!("unknown operator {op} in {question:?}"),
    }
}

#[test]
fn every_documented_route_answers_there_and_other_methods_get_405() {
    let v = Verifier::new().start();
    let doc = Doc::fetch(&v);
    let ops = doc.operations();
    assert!(ops.len() >= 16, "{ops:?}");
    for (method, path) in &ops {
        let url = concrete(path);
        let reply = match method.as_str() {
            "get" => v.get(&url).send(),
            "post" => v.post(&url).body("application/json", "{}"),
            m => panic!("undocumented method {m} in the test"),
        };
        assert!(!is_fallback(&reply), "{method} {path}: no route answers there: {}", reply.body);
        assert_ne!(reply.status, 405, "{method} {path}: {}", reply.body);
        assert!(reply.status < 500, "{method} {path}: {} {}", reply.status, reply.body);
        doc.check(method, path, &reply);

        let other = if method == "get" { "POST" } else { "GET" };
        let wrong = v.client().request(other, v.url(&url)).send();
        wrong.assert_error(405, "method_not_allowed");
        v.client().request("DELETE", v.url(&url)).send().assert_error(405, "method_not_allowed");
    }
}

#[test]
fn real_answers_of_the_main_endpoints_fit_the_documented_schemas() {
    let v = Verifier::new();
    let site = v.add_site(ORIGIN);
    let step_up_site = v.add_site_step_up(ORIGIN, "always");
    let v = v.start();
    let doc = Doc::fetch(&v);

    // The widget's walk, then the backend's checks.
    let sessions = [open(&v, &doc, &site.site_key), open(&v, &doc, &site.site_key)];
    let step_up = open(&v, &doc, &step_up_site.site_key);
    thread::sleep(HUMAN_PAUSE);
    let tokens: Vec<String> = sessions
        .iter()
        .map(|s| {
            let reply = v.score(s, Pow::Solved, &human_signals());
            doc.check("post", routes::SCORE, &reply);
            reply.parse::<ScoreResponse>().verdict.expect("a verdict")
        })
        .collect();
    let verified = v.verify(&tokens[0], &site.api_key);
    verified.assert_ok();
    doc.check("post", routes::VERIFY, &verified);
    let replay = v.verify(&tokens[0], &site.api_key);
    replay.assert_error(409, "already_verified");
    doc.check("post", routes::VERIFY, &replay);
    for (reply, status) in [
        (v.verify("not.a.token", &site.api_key), 400),
        (v.verify(&tokens[1], "ak_unknown"), 401),
        (v.post(routes::VERIFY).body("text/xml", "<token/>"), 415),
        (v.post(routes::VERIFY).body("application/json", vec![b' '; 70 * 1024]), 413),
    ] {
        assert_eq!(reply.status, status, "{}", reply.body);
        doc.check("post", routes::VERIFY, &reply);
    }
    for fields in [vec![("secret", site.api_key.as_str()), ("response", tokens[1].as_str())], vec![]] {
        let reply = v.post(routes::SITEVERIFY).form(&fields);
        doc.check("post", routes::SITEVERIFY, &reply);
    }
    assert_eq!(v.post(routes::SITEVERIFY).form(&[]).json()["success"], false);

    // A step-up, its audio.
    let reply = v.score(&step_up, Pow::Solved, &human_signals());
    doc.check("post", routes::SCORE, &reply);
    let challenge = reply.parse::<ScoreResponse>().step_up.expect("a step-up");
    let audio = format!("/challenge/{}/audio", challenge.challenge_id);
    for reply in [v.get(&audio).query("lang", "fr").send(), v.get(&audio).query("lang", "xx").send()] {
        doc.check("get", routes::CHALLENGE_AUDIO, &reply);
    }

    // Statistics, each action.
    let actions: [&[(&str, &str)]; 4] =
        [&[], &[("action", "recent")], &[("action", "distribution")], &[("action", "recent"), ("limit", "0")]];
    for params in actions {
        doc.check("get", routes::STATS, &v.stats_query(&site.api_key, params));
    }
    doc.check("get", routes::STATS, &v.get(routes::STATS).send());
    doc.check("get", routes::STATS, &v.stats("ak_unknown"));

    // The public and operators' endpoints.
    for path in [routes::HEALTH, routes::HEALTHCHECK, routes::JWKS, routes::METRICS] {
        let reply = v.get(path).send();
        assert_eq!(reply.status, 200, "{path}: {}", reply.body);
        doc.check("get", path, &reply);
    }

    // Generate/validate: a math question answered right gives a token that
    // /verify takes; an image; wrong answers and unknown keys.
    let generate = |body: Value| v.post(routes::API_GENERATE).json(&body);
    let math = generate(json!({ "site_key": site.site_key, "type": "math" }));
    doc.check("post", routes::API_GENERATE, &math);
    let math = math.json();
    let answer = solve_math(math["question"].as_str().expect("a question")).to_string();
    let validate = |id: &Value, input: &str| {
        v.post(routes::API_VALIDATE).json(&json!({ "site_key": site.site_key, "captcha_id": id, "user_input": input }))
    };
    let right = validate(&math["captcha_id"], &answer);
    doc.check("post", routes::API_VALIDATE, &right);
    let token = right.json()["token"].as_str().expect("a token").to_owned();
    doc.check("post", routes::VERIFY, &v.verify(&token, &site.api_key));
    let image = generate(json!({ "site_key": site.site_key, "type": "image" }));
    doc.check("post", routes::API_GENERATE, &image);
    doc.check("post", routes::API_VALIDATE, &validate(&image.json()["captcha_id"], "wrong"));
    for (reply, status) in [
        (generate(json!({ "site_key": "site_unknown" })), 403),
        (generate(json!({ "site_key": site.site_key, "type": "video" })), 400),
        (v.post(routes::API_VALIDATE).json(&json!({ "site_key": site.site_key })), 400),
    ] {
        assert_eq!(reply.status, status, "{}", reply.body);
        let path = if reply.body.contains("captcha_id") { routes::API_VALIDATE } else { routes::API_GENERATE };
        doc.check("post", path, &reply);
    }

    // CaptchEtat style: JSON and PNG images, the sound, a wrong code.
    let captchetat = |params: &[(&str, &str)]| {
        params.iter().fold(v.get(routes::CAPTCHETAT), |call, (k, val)| call.query(k, val)).send()
    };
    let image = captchetat(&[("get", "image"), ("c", "captchaFR"), ("format", "json")]);
    doc.check("get", routes::CAPTCHETAT, &image);
    let uuid = image.json()["uuid"].as_str().expect("a uuid").to_owned();
    for reply in [
        captchetat(&[("get", "image"), ("c", "numerique6_7CaptchaEN")]),
        captchetat(&[("get", "sound"), ("c", "captchaFR"), ("t", &uuid)]),
        captchetat(&[("get", "image"), ("c", "nope")]),
        captchetat(&[("get", "sound"), ("c", "captchaFR"), ("t", "ch_none")]),
    ] {
        doc.check("get", routes::CAPTCHETAT, &reply);
    }
    let wrong = v.post(routes::CAPTCHETAT_VALIDATE).json(&json!({ "uuid": uuid, "code": "0" }));
    doc.check("post", routes::CAPTCHETAT_VALIDATE, &wrong);
    assert_eq!(wrong.json(), json!(false));
    doc.check("post", routes::CAPTCHETAT_VALIDATE, &v.post(routes::CAPTCHETAT_VALIDATE).form(&[]));
}

#[test]
fn metrics_count_requests_verdicts_replays_and_latencies() {
    let (v, site) = Verifier::with_site(ORIGIN);
    let tokens = v.walk_many(&site.site_key, ORIGIN, 2);
    // A bot: navigator.webdriver and no proof of work.
    let bot = v.open(&site.site_key, Some(ORIGIN));
    let mut signals = human_signals();
    signals.env.webdriver = true;
    let bot = v.finish(&bot, Pow::Missing, &signals);

    v.verify(&tokens[0], &site.api_key).assert_ok();
    v.verify(&tokens[0], &site.api_key).assert_error(409, "already_verified");
    v.verify(&bot, &site.api_key).assert_ok();
    let turnstile = v.post(routes::SITEVERIFY).form(&[("secret", &site.api_key), ("response", &tokens[0])]);
    assert_eq!(turnstile.assert_ok()["error-codes"], json!(["timeout-or-duplicate"]));
    v.get("/no/such/route").send().assert_error(404, "not_found");
    let brew = raw(&v, "BREW /verify HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    assert!(brew.contains(" 405 "), "{brew}");

    let m = v.scrape();
    let requests = |route: &str, method: &str, status: &str| {
        m.value("oculto_http_requests_total", &[("route", route), ("method", method), ("status", status)])
    };
    assert_eq!(requests(routes::VERIFY, "POST", "200"), 2.0, "{}", m.text());
    assert_eq!(requests(routes::VERIFY, "POST", "409"), 1.0, "{}", m.text());
    assert_eq!(requests(routes::SITEVERIFY, "POST", "200"), 1.0, "{}", m.text());
    assert_eq!(requests(routes::INIT, "POST", "200"), 3.0, "{}", m.text());
    assert_eq!(requests(routes::SCORE, "POST", "200"), 3.0, "{}", m.text());
    // Unknown routes and made-up methods add no series of their own.
    assert_eq!(requests("unmatched", "GET", "404"), 1.0, "{}", m.text());
    assert_eq!(requests(routes::VERIFY, "other", "405"), 1.0, "{}", m.text());
    assert!(!m.text().contains("/no/such/route") && !m.text().contains("BREW"), "{}", m.text());
    // Every answer is timed.
    let verify_latency = [("route", routes::VERIFY), ("method", "POST")];
    assert_eq!(m.value("oculto_http_request_duration_seconds_count", &verify_latency), 3.0, "{}", m.text());
    assert!(m.value("oculto_http_request_duration_seconds_sum", &verify_latency) > 0.0);
    let all = [("route", routes::VERIFY), ("method", "POST"), ("le", "+Inf")];
    assert_eq!(m.value("oculto_http_request_duration_seconds_bucket", &all), 3.0, "{}", m.text());
    // The /verify replay and the /siteverify one.
    assert_eq!(m.value("oculto_replays_refused_total", &[]), 2.0, "{}", m.text());
    // Two people and one bot were issued verdicts.
    let issued = |cls: &str| m.value("oculto_verdicts_issued_total", &[("classification", cls)]);
    assert_eq!((issued("human"), issued("suspicious"), issued("bot")), (2.0, 0.0, 1.0), "{}", m.text());
    assert_eq!(m.value("oculto_build_info", &[("store", "sqlite")]), 1.0, "{}", m.text());
    assert!(!m.has("oculto_store_errors_total"), "no store error happened: {}", m.text());
    // Nothing a visitor or a site sent is a label.
    for secret in [site.site_key.as_str(), site.api_key.as_str(), ORIGIN, "a.test"] {
        assert!(!m.text().contains(secret), "{secret} in /metrics");
    }
}

#[test]
fn metrics_can_be_turned_off_or_kept_to_some_addresses() {
    let off = Verifier::new().env("OCULTO_METRICS__ENABLED", "false").start();
    off.get(routes::METRICS).send().assert_error(404, "not_found");
    off.get(routes::HEALTH).send().assert_ok();

    let elsewhere = Verifier::new().env("OCULTO_METRICS__ALLOW", r#"["10.0.0.0/8"]"#).start();
    elsewhere.get(routes::METRICS).send().assert_error(404, "not_found");
    // A client that is not allowed cannot get in through X-Forwarded-For
    // unless the peer is a trusted proxy.
    elsewhere.get(routes::METRICS).header("X-Forwarded-For", "10.1.2.3").send().assert_error(404, "not_found");

    let local = Verifier::new().env("OCULTO_METRICS__ALLOW", r#"["127.0.0.0/8", "::1/128"]"#).start();
    assert!(local.scrape().has("oculto_build_info"));

    let proxied = Verifier::new()
        .env("OCULTO_TRUSTED_PROXIES", r#"["127.0.0.1/32"]"#)
        .env("OCULTO_METRICS__ALLOW", r#"["10.0.0.0/8"]"#)
        .start();
    let through = proxied.get(routes::METRICS).header("X-Forwarded-For", "10.1.2.3").send();
    assert_eq!(through.status, 200, "{}", through.body);
    proxied.get(routes::METRICS).header("X-Forwarded-For", "203.0.113.5").send().assert_error(404, "not_found");

    // The same from the file OCULTO_CONFIG names (which itself is no
    // setting: it once stopped the start as an unknown key).
    let dir = oculto_tests::fresh_dir("config");
    let file = dir.join("verifier.toml");
    std::fs::write(&file, "[metrics]\nenabled = false\n").expect("writes the config");
    let from_file = Verifier::new().env("OCULTO_CONFIG", file.to_str().expect("UTF-8 path")).start();
    from_file.get(routes::METRICS).send().assert_error(404, "not_found");
    drop(from_file);
    let _ = std::fs::remove_dir_all(dir);

    // A bad allow list stops the start with the key's name.
    let out = Verifier::new().env("OCULTO_METRICS__ALLOW", r#"["not a network"]"#).oculto_fails(&["serve"]);
    assert!(out.to_lowercase().contains("metrics.allow"), "{out}");
}

#[test]
fn health_breaks_its_state_down_by_component() {
    let v = Verifier::new().start();
    let reply = v.get(routes::HEALTH).send();
    let health = reply.assert_ok();
    assert_eq!(health["status"], "ok");
    for name in ["store", "keys", "clock"] {
        assert_eq!(health["components"][name]["status"], "ok", "{health}");
        assert!(health["components"][name]["details"].as_str().is_some_and(|d| !d.is_empty()), "{health}");
    }
    // The kid named is the one published.
    let kid = v.get(routes::JWKS).send().assert_ok()["keys"][0]["kid"].as_str().expect("a kid").to_owned();
    assert!(health["components"]["keys"]["details"].as_str().unwrap_or_default().contains(&kid), "{health}");

    let check = v.get(routes::HEALTHCHECK).send().assert_ok();
    assert_eq!(check["status"], "UP");
    for name in ["store", "keys", "clock", "challenges"] {
        assert_eq!(check["components"][name]["status"], "UP", "{check}");
    }
}

#[test]
fn the_schema_check_catches_answers_that_do_not_fit() {
    let v = Verifier::new().start();
    let doc = Doc::fetch(&v);
    let reply = |status: u16, body: Value| Reply {
        status,
        headers: vec![("content-type".into(), "application/json".into())],
        body: body.to_string(),
        bytes: body.to_string().into_bytes(),
    };
    let good = json!({
        "valid": true, "score": 8, "classification": "human", "threshold": 50, "session_id": "co_x",
        "hostname": "a.test", "action": null, "challenge_ts": "2026-11-21T06:49:04Z", "reasons": ["no_pointer"],
    });
    doc.check("post", routes::VERIFY, &reply(200, good.clone()));
    let mut bad = Vec::new();
    for (field, value) in [
        ("score", json!(101)),
        ("classification", json!("robot")),
        ("session_id", json!("x")),
        ("challenge_ts", json!("yesterday")),
        ("reasons", json!("no_pointer")),
    ] {
        let mut body = good.clone();
        body[field] = value;
        bad.push((field, reply(200, body)));
    }
    let mut missing = good.clone();
    missing.as_object_mut().expect("an object").remove("valid");
    bad.push(("valid", reply(200, missing)));
    bad.push(("error", reply(409, json!({ "error": "no_such_code", "message": "x" }))));
    bad.push(("status", reply(418, json!({}))));
    for (what, reply) in bad {
        let caught = std::panic::catch_unwind(|| doc.check("post", routes::VERIFY, &reply));
        assert!(caught.is_err(), "a bad {what} passed the check: {}", reply.body);
    }
}

#[test]
fn requests_as_the_widget_and_backends_send_them_fit_the_documented_schemas() {
    let v = Verifier::new().start();
    let doc = Doc::fetch(&v);
    let score = ScoreRequest {
        session_id: "co_x".into(),
        pow: Some(PowSolution { nonce: 42, elapsed_ms: 40 }),
        signals: human_signals(),
        ..Default::default()
    };
    let mut with_all = score.clone();
    with_all.signals.clicks.push(oculto_shared::signals::Click { t: 1500.0, dwell: 90.0 });
    with_all.signals.scroll.push(oculto_shared::signals::ScrollSample { t: 1600.0, y: 120.0 });
    with_all.signals.focus.push(oculto_shared::signals::FocusChange { t: 1000.0, focused: true });
    with_all.signals.visibility.push(oculto_shared::signals::VisibilityChange { t: 2000.0, visible: false });
    with_all.signals.pointer.push(oculto_shared::signals::PointerSample {
        t: 2100.0,
        k: oculto_shared::signals::PointerKind::Down,
        dx: 0.0,
        dy: 0.0,
    });
    with_all.signals.touch.push(oculto_shared::signals::TouchSample {
        t: 2200.0,
        k: oculto_shared::signals::TouchKind::Start,
        dx: 0.0,
        dy: 0.0,
    });
    let answer = ScoreRequest {
        session_id: "co_x".into(),
        answer: Some(StepUpAnswer { challenge_id: "ch_x".into(), code: "4KM7".into(), refresh: false }),
        ..Default::default()
    };
    for body in [&score, &with_all, &answer] {
        let body = serde_json::to_value(body).expect("JSON");
        doc.check_request("post", routes::SCORE, "application/json", &body);
    }
    // What the widget sends is layout 2: samples as short arrays.
    let sent = serde_json::to_value(&with_all).expect("JSON");
    assert!(sent["signals"]["pointer"][0].is_array(), "{}", sent["signals"]["pointer"]);
    // Layout 1's objects are still read, and still documented.
    let layout_1 = json!({
        "session_id": "co_x",
        "pow": { "nonce": 1 },
        "signals": {
            "v": 1, "elapsed_ms": 4000,
            "pointer": [{ "t": 10.5, "k": "move", "dx": 3, "dy": 4 }, { "t": 20, "k": "down", "dx": 0, "dy": 0 }],
            "keys": [{ "t": 900, "dwell": 80 }], "clicks": [{ "t": 30, "dwell": 70 }],
            "touch": [{ "t": 40, "k": "start", "dx": 0, "dy": 0 }], "focus": [{ "t": 5, "focused": true }],
        },
    });
    doc.check_request("post", routes::SCORE, "application/json", &layout_1);
    // A sample that is neither is not what the document allows.
    for bad in [json!([[1, 2]]), json!([[1, 2, 3, "x"]]), json!([{ "t": 1 }]), json!([[1, 2, 3, "d", 5]])] {
        let mut body = layout_1.clone();
        body["signals"]["pointer"] = bad.clone();
        let caught = std::panic::catch_unwind(|| doc.check_request("post", routes::SCORE, "text/plain", &body));
        assert!(caught.is_err(), "pointer {bad} fit the documented schema");
    }

    let init = InitRequest {
        site_key: "site_x".into(),
        action: Some("login".into()),
        cdata: Some("order-42".into()),
        binding: Some("ab".repeat(32)),
    };
    doc.check_request("post", routes::INIT, "text/plain", &serde_json::to_value(&init).expect("JSON"));
    let verify = json!({ "token": "a.b.c", "api_key": "ak_x", "idempotency_key": "order-7" });
    doc.check_request("post", routes::VERIFY, "application/json", &verify);
    doc.check_request("post", routes::VERIFY, "application/x-www-form-urlencoded", &verify);
    let turnstile = json!({ "secret": "ak_x", "response": "a.b.c", "remoteip": "203.0.113.5" });
    doc.check_request("post", routes::SITEVERIFY, "application/json", &turnstile);
}
