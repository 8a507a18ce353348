//! The whole HTTP API: the verifier's actix app in process (an in-memory
//! SQLite store, two registered sites), fed requests in the text format
//! described in `fuzz/src/app.rs`: any method, path, query, headers and
//! body, to every route (`/init`, `/score`, `/verify`, `/siteverify`,
//! `/stats`, the CaptchEtat and generate/validate endpoints...), several
//! per input, with placeholders for live sessions, tokens and challenges.
//!
//! Checks: no panic, no 5xx, every 4xx a JSON error body, and every verdict
//! the app issues verifies against its own keys.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| oculto_fuzz::app::run(data));
