//! Feature extraction and scoring on arbitrary signals: `Features::extract`,
//! the behaviour model and `score::score`, on every payload that passes
//! `Signals::validate` (what `/score` lets through).
//!
//! Signals are built from the bytes by `oculto_fuzz::gen` (paths, clicks
//! and key rhythms, with edge values now and then); the evidence around them
//! (proof of work, server-measured time, difficulty, flooding) comes from
//! the first bytes. Checks: no panic, a finite logit, the model's points in
//! 0..=MAX_POINTS, a score of at most 100, and the same score twice.
#![no_main]

use libfuzzer_sys::arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use oculto_verifier::features::Features;
use oculto_verifier::model::{Model, MAX_POINTS};
use oculto_verifier::score::{self, Evidence, PowOutcome};

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok(head) = u.arbitrary::<[u8; 4]>() else { return };
    let Ok(server_elapsed_ms) = u.arbitrary::<u32>() else { return };
    let Ok(signals) = oculto_fuzz::gen::signals(&mut u) else { return };
    if signals.validate().is_err() {
        return;
    }
    let pow =
        [PowOutcome::Solved, PowOutcome::Missing, PowOutcome::Wrong, PowOutcome::GaveUp][usize::from(head[0] % 4)];
    let evidence = Evidence {
        signals: &signals,
        pow,
        server_elapsed_ms: u64::from(server_elapsed_ms) << (head[1] % 32),
        difficulty: head[2],
        flooded: head[3] & 1 == 1,
    };
    let f = Features::extract(&signals);
    let model = Model::embedded();
    let (z, parts) = model.explain(&f.vector());
    assert!(z.is_finite(), "logit {z} for {f:?}");
    assert!(parts.iter().all(|p| p.is_finite()), "contributions {parts:?} for {f:?}");
    let points = model.points(z);
    assert!((0.0..=MAX_POINTS).contains(&points), "points {points} for logit {z}");
    let s = score::score(&evidence);
    assert!(s.value <= 100);
    assert_eq!(score::score(&evidence), s);
});
