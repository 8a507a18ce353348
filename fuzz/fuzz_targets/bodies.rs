//! Every other request body and query the HTTP API reads, parsed as the
//! verifier parses them, and the small pure checks that run on what they
//! carry: origins, test keys, CaptchEtat type names and answers.
//!
//! The first byte picks what the rest is; the second picks the content type
//! for bodies. Checks beyond "no panic": answer checks accept the answer
//! however it is typed (case, spaces) and fold idempotently, and a
//! normalized origin normalizes to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oculto_shared::api::{
    CaptchetatValidate, GenerateRequest, InitRequest, SiteverifyRequest, StatsQuery, ValidateRequest, VerifyRequest,
};
use oculto_verifier::body;
use oculto_verifier::challenge::{self, Check, Kind, Lang};
use oculto_verifier::sites::{hostname_of, normalize_origin, test_keys};

const CONTENT_TYPES: [&str; 6] = [
    "application/json",
    "application/x-www-form-urlencoded",
    "text/plain",
    "",
    "application/x-www-form-urlencoded; charset=utf-8",
    "application/xml",
];

fuzz_target!(|data: &[u8]| {
    let [what, ct, rest @ ..] = data else { return };
    let content_type = CONTENT_TYPES[usize::from(*ct) % CONTENT_TYPES.len()];
    match what % 12 {
        0 => drop(body::parse::<InitRequest>(content_type, rest)),
        1 => drop(body::parse::<VerifyRequest>(content_type, rest)),
        2 => drop(body::parse::<SiteverifyRequest>(content_type, rest)),
        3 => drop(body::parse::<CaptchetatValidate>(content_type, rest)),
        4 => drop(body::parse::<GenerateRequest>(content_type, rest)),
        5 => drop(body::parse::<ValidateRequest>(content_type, rest)),
        6 => drop(actix_web::web::Query::<StatsQuery>::from_query(&String::from_utf8_lossy(rest))),
        7 => origin(rest),
        8 => names(rest),
        9 => answer(Kind::Numeric, rest),
        10 => answer(Kind::Alphabetic, rest),
        _ => answer(Kind::Alphanumeric, rest),
    }
});

fn origin(data: &[u8]) {
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Some(o) = normalize_origin(s) {
        assert_eq!(normalize_origin(&o).as_deref(), Some(o.as_str()), "{s:?} normalized to {o:?}, which does not");
        let _ = hostname_of(&o);
    }
}

fn names(data: &[u8]) {
    let Ok(s) = std::str::from_utf8(data) else { return };
    let _ = test_keys::site(s);
    let _ = test_keys::secret(s);
    let _ = challenge::captchetat_spec(s);
    let _ = Lang::parse(s);
    let _ = oculto_verifier::captcha::plausible_id(s);
}

/// The fuzzer's bytes as an answer drawn from `kind`'s alphabet, and as
/// what someone typed.
fn answer(kind: Kind, data: &[u8]) {
    let alphabet = kind.alphabet().as_bytes();
    let split = data.len().min(usize::from(data.first().copied().unwrap_or(0) % 13));
    let answer: String = data[..split].iter().map(|&b| char::from(alphabet[usize::from(b) % alphabet.len()])).collect();
    let check = Check::Text(kind);
    assert!(check.matches(&answer, &answer));
    let typed: String = answer.chars().flat_map(|c| [c.to_ascii_lowercase(), ' ']).collect();
    assert!(check.matches(&answer, &typed), "{answer:?} typed as {typed:?} was refused");
    if let Ok(input) = std::str::from_utf8(&data[split..]) {
        let once = challenge::normalize(kind, input);
        assert_eq!(challenge::normalize(kind, &once), once);
        let _ = check.matches(&answer, input);
        let _ = Check::Number.matches(&answer, input);
    }
}
