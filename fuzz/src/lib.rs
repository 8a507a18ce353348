//! What Oculto's fuzz targets share.
//!
//! - [`gen`] builds behavioural [`Signals`](oculto_shared::signals::Signals)
//!   straight from the fuzzer's bytes, a few bytes a sample, so that the
//!   scorer sees paths, clicks and key rhythms rather than JSON that mostly
//!   fails to parse.
//! - [`app`] runs the verifier's real actix app in process, on an in-memory
//!   SQLite store with two registered sites, and plays requests written in a
//!   small text format that people can write seeds in.
//!
//! The targets themselves are in `fuzz_targets/`; each one says what it
//! checks beyond "no panic".

pub mod app;
pub mod gen;
