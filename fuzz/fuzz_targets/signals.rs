//! The `/score` body decoder: `body::parse` (JSON, `text/plain`, forms,
//! by content type) into a `ScoreRequest`, then `Signals::validate`, as the
//! verifier reads a body before it looks anything up.
//!
//! The first byte picks the content type; the rest is the body. A payload
//! that validates must still validate after a trip through JSON (the
//! widget's serializer and the verifier's parser agree), and its times and
//! coordinates are finite.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oculto_shared::api::ScoreRequest;
use oculto_shared::signals::Signals;
use oculto_verifier::body;

/// Content types a page or a script sends, and a few it should not.
const CONTENT_TYPES: [&str; 8] = [
    "application/json",
    "text/plain;charset=UTF-8",
    "",
    "application/x-www-form-urlencoded",
    "Application/JSON; charset=utf-8",
    "multipart/form-data; boundary=x",
    "application/json;",
    " text/plain ",
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else { return };
    let content_type = CONTENT_TYPES[usize::from(pick) % CONTENT_TYPES.len()];
    // The bare payload too: the evaluation tools read signals on their own.
    if pick & 0x80 != 0 {
        if let Ok(s) = serde_json::from_slice::<Signals>(body) {
            check(&s);
        }
        return;
    }
    if let Ok(req) = body::parse::<ScoreRequest>(content_type, body) {
        check(&req.signals);
    }
});

fn check(s: &Signals) {
    if s.validate().is_err() {
        return;
    }
    assert!(s.elapsed_ms.is_finite() && s.pointer.iter().all(|p| p.t.is_finite() && p.dx.is_finite()));
    let json = serde_json::to_vec(s).expect("valid signals serialize");
    let back: Signals = serde_json::from_slice(&json).expect("serialized signals parse");
    assert!(back.validate().is_ok(), "valid signals stopped validating after a JSON round trip");
    assert_eq!(back.has_interaction(), s.has_interaction());
}
