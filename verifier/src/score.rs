//! Scoring a session: pure, no I/O. Everything the score rests on is in
//! [`Evidence`]; [`score`] turns it into 0 (human) to 100 (bot) with the
//! reasons that raised it.
//!
//! This first scorer is a small points table over signals that need no
//! calibration: a missing or wrong proof of work, automation flags, no
//! interaction at all, timings that cannot happen, script-made events and
//! flooding. No single weak signal (no mouse, keyboard only, a fast but
//! possible fill) can push a session to `bot` on its own. The calibrated
//! model replaces the body of [`score`] and keeps its signature.

use oculto_shared::signals::Signals;

/// How the proof of work turned out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PowOutcome {
    /// Solved at the issued difficulty.
    Solved,
    /// No solution sent.
    Missing,
    /// A solution that does not solve the challenge.
    Wrong,
    /// The widget stopped at its energy budget without a solution.
    GaveUp,
}

/// What the verifier knows about a session when it scores it.
#[derive(Debug, Clone, Copy)]
pub struct Evidence<'a> {
    /// What the widget sent.
    pub signals: &'a Signals,
    /// The proof of work.
    pub pow: PowOutcome,
    /// Milliseconds between `/init` and `/score`, measured by the verifier.
    pub server_elapsed_ms: u64,
    /// The proof of work's difficulty, in bits.
    pub difficulty: u8,
    /// Whether the client's address was opening sessions faster than a
    /// person would.
    pub flooded: bool,
}

/// A reason that raised the score, with its short code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// No proof of work solution.
    PowMissing,
    /// A proof of work solution that is wrong.
    PowInvalid,
    /// The widget gave up the proof of work at its energy budget (a slow
    /// device, or a client skipping the work): worth a step-up, not a ban.
    PowTimeout,
    /// `navigator.webdriver` was true.
    Webdriver,
    /// No pointer, touch or keyboard activity at all.
    NoInteraction,
    /// Keyboard but no pointer or touch: common for keyboard and screen
    /// reader users, so it weighs little.
    NoPointer,
    /// Times that cannot happen: events after the payload was built, a
    /// session longer on the client than on the server, time going backwards.
    ImpossibleTiming,
    /// A proof of work solved faster than a browser can.
    TooFast,
    /// A page scored within a second of loading (reported as `too_fast`).
    /// The widget's early token comes right after the first interaction, so
    /// a quick person gets this too: it stays in the human band alone, and
    /// with `no_pointer` (a quick keyboard user), rather than bringing a
    /// step-up.
    EarlyScore,
    /// Events made by script (`isTrusted == false`).
    UntrustedEvents,
    /// The address opens sessions at a rate people don't.
    Rate,
}

impl Reason {
    /// The short code reported in `reasons`.
    pub fn code(self) -> &'static str {
        match self {
            Self::PowMissing => "pow_missing",
            Self::PowInvalid => "pow_invalid",
            Self::PowTimeout => "pow_timeout",
            Self::Webdriver => "webdriver",
            Self::NoInteraction => "no_interaction",
            Self::NoPointer => "no_pointer",
            Self::ImpossibleTiming => "impossible_timing",
            Self::TooFast | Self::EarlyScore => "too_fast",
            Self::UntrustedEvents => "untrusted_events",
            Self::Rate => "rate",
        }
    }

    /// Points this reason adds.
    fn points(self) -> u8 {
        match self {
            Self::PowMissing => 55,
            Self::PowInvalid => 60,
            Self::PowTimeout => 30,
            Self::Webdriver => 60,
            Self::NoInteraction => 40,
            Self::NoPointer => 8,
            Self::ImpossibleTiming => 45,
            Self::TooFast => 30,
            Self::EarlyScore => 15,
            Self::UntrustedEvents => 35,
            Self::Rate => 20,
        }
    }
}

/// A score and what raised it, strongest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Score {
    /// 0 (human) to 100 (bot).
    pub value: u8,
    /// What raised it.
    pub reasons: Vec<Reason>,
}

impl Score {
    /// The reason codes, for the wire.
    pub fn codes(&self) -> Vec<String> {
        self.reasons.iter().map(|r| r.code().to_owned()).collect()
    }
}

/// Below this page age at `/score`, nobody has read and filled a form. The
/// page claims it; claims that contradict the verifier's own clock are
/// `impossible_timing`.
const TOO_FAST_PAGE_MS: f64 = 1_000.0;
/// Hashes per millisecond beyond what a browser's wasm does (about 10 000 on
/// a fast desktop core): a native or GPU solver.
const TOO_FAST_HASHES_PER_MS: f64 = 50_000.0;
/// Clock slack between the page and the verifier, for the client's claims.
const CLOCK_SLACK_MS: f64 = 5_000.0;

/// Scores a session.
pub fn score(e: &Evidence<'_>) -> Score {
    let s = e.signals;
    let mut reasons = Vec::new();
    match e.pow {
        PowOutcome::Solved => {}
        PowOutcome::Missing => reasons.push(Reason::PowMissing),
        PowOutcome::Wrong => reasons.push(Reason::PowInvalid),
        PowOutcome::GaveUp => reasons.push(Reason::PowTimeout),
    }
    if s.env.webdriver {
        reasons.push(Reason::Webdriver);
    }
    if !s.has_interaction() {
        reasons.push(Reason::NoInteraction);
    } else if s.pointer.is_empty() && s.touch.is_empty() && s.clicks.is_empty() {
        reasons.push(Reason::NoPointer);
    }
    if impossible_timing(s, e.server_elapsed_ms) {
        reasons.push(Reason::ImpossibleTiming);
    }
    // The widget opens a session at the first interaction and scores it
    // when the work is done, or opens it early and scores at submit: the
    // gap between /init and /score says nothing of how a form was filled.
    // What cannot be a person is a page submitted as it loads, or work
    // done faster than a browser can (when the work was asked for at all).
    let expected_hashes = 2f64.powi(i32::from(e.difficulty));
    let native_speed = e.pow == PowOutcome::Solved
        && e.difficulty >= 12
        && expected_hashes / (e.server_elapsed_ms.max(1) as f64) > TOO_FAST_HASHES_PER_MS;
    if native_speed {
        reasons.push(Reason::TooFast);
    } else if s.elapsed_ms < TOO_FAST_PAGE_MS {
        reasons.push(Reason::EarlyScore);
    }
    if s.untrusted_events > 0 {
        reasons.push(Reason::UntrustedEvents);
    }
    if e.flooded {
        reasons.push(Reason::Rate);
    }
    reasons.sort_by_key(|r| std::cmp::Reverse(r.points()));
    let total: u32 = reasons.iter().map(|r| u32::from(r.points())).sum();
    Score { value: total.min(100) as u8, reasons }
}

fn impossible_timing(s: &Signals, server_elapsed_ms: u64) -> bool {
    // The widget starts before /init, so its elapsed time may exceed the
    // server's, but not by more than a page's life: what matters is events
    // stamped after the payload was built, and time running backwards.
    let limit = s.elapsed_ms + 1.0;
    let after_end = s
        .pointer
        .iter()
        .map(|p| p.t)
        .chain(s.clicks.iter().map(|c| c.t + c.dwell))
        .chain(s.keys.iter().map(|k| k.t + k.dwell))
        .chain(s.touch.iter().map(|t| t.t))
        .any(|t| t > limit);
    let backwards = s.pointer.windows(2).any(|w| w[1].t < w[0].t)
        || s.keys.windows(2).any(|w| w[1].t < w[0].t)
        || s.touch.windows(2).any(|w| w[1].t < w[0].t);
    let first_after_end = s.first_interaction_ms.is_some_and(|f| f > limit);
    // A page opens its session during its own life, so the page's age at
    // /score cannot be shorter than what the verifier saw since /init (a
    // client claiming a young page to look quick, or replaying a payload).
    let shorter_than_server = s.elapsed_ms + CLOCK_SLACK_MS < server_elapsed_ms as f64;
    after_end || backwards || first_after_end || shorter_than_server
}

#[cfg(test)]
mod tests {
    use super::*;
    use oculto_shared::signals::{KeyTiming, PointerKind, PointerSample};

    fn person() -> Signals {
        let mut s = Signals { elapsed_ms: 8_000.0, first_interaction_ms: Some(900.0), ..Default::default() };
        for i in 0..60 {
            let t = 900.0 + f64::from(i) * 16.7;
            s.pointer.push(PointerSample { t, k: PointerKind::Move, dx: 3.1, dy: (i as f32).cos() * 0.4 });
        }
        for i in 0..12 {
            s.keys.push(KeyTiming { t: 3_000.0 + f64::from(i) * 180.0, dwell: 85.0 });
        }
        s
    }

    fn evidence(s: &Signals) -> Evidence<'_> {
        Evidence { signals: s, pow: PowOutcome::Solved, server_elapsed_ms: 7_500, difficulty: 18, flooded: false }
    }

    #[test]
    fn a_person_filling_a_form_scores_human() {
        let s = person();
        let sc = score(&evidence(&s));
        assert_eq!(sc.value, 0, "{:?}", sc.reasons);
    }

    #[test]
    fn keyboard_only_is_not_a_bot_on_its_own() {
        let mut s = person();
        s.pointer.clear();
        let sc = score(&evidence(&s));
        assert!(sc.value <= 25, "{sc:?}");
        assert_eq!(sc.codes(), vec!["no_pointer"]);
    }

    #[test]
    fn a_headless_script_scores_bot_with_reasons() {
        let mut s = Signals { elapsed_ms: 50.0, ..Default::default() };
        s.env.webdriver = true;
        let e =
            Evidence { signals: &s, pow: PowOutcome::Missing, server_elapsed_ms: 40, difficulty: 18, flooded: true };
        let sc = score(&e);
        assert_eq!(sc.value, 100);
        assert_eq!(sc.reasons[0], Reason::Webdriver);
        for code in ["pow_missing", "webdriver", "no_interaction", "too_fast", "rate"] {
            assert!(sc.codes().iter().any(|c| c == code), "{code} in {:?}", sc.codes());
        }
    }

    #[test]
    fn events_after_the_end_or_backwards_are_impossible() {
        let mut s = person();
        s.keys.push(KeyTiming { t: 9_000.0, dwell: 10.0 });
        assert!(score(&evidence(&s)).codes().contains(&"impossible_timing".to_string()));
        let mut s = person();
        s.pointer.swap(3, 10);
        assert!(score(&evidence(&s)).codes().contains(&"impossible_timing".to_string()));
    }

    #[test]
    fn a_widget_token_made_right_after_the_first_interaction_is_not_too_fast() {
        // The widget solves ~200 ms after the first interaction, 3 s into the page.
        let s = Signals { elapsed_ms: 3_000.0, ..person() };
        let e = Evidence { server_elapsed_ms: 200, ..evidence(&s) };
        assert!(!score(&e).codes().contains(&"too_fast".to_string()));
    }

    #[test]
    fn a_native_speed_solver_or_an_instant_submit_is_too_fast() {
        let s = person();
        let e = Evidence { server_elapsed_ms: 2, ..evidence(&s) };
        assert!(score(&e).codes().contains(&"too_fast".to_string()));
        let s = Signals { elapsed_ms: 400.0, ..person() };
        assert!(score(&evidence(&s)).codes().contains(&"too_fast".to_string()));
    }

    #[test]
    fn a_quick_keyboard_user_stays_human() {
        // Tab at 300 ms, Space at 420 ms, scored at 600 ms.
        let keys = vec![KeyTiming { t: 300.0, dwell: 80.0 }, KeyTiming { t: 420.0, dwell: 90.0 }];
        let s = Signals { elapsed_ms: 600.0, first_interaction_ms: Some(300.0), keys, ..Default::default() };
        let sc = score(&Evidence { server_elapsed_ms: 250, ..evidence(&s) });
        assert!(sc.value <= 25, "{sc:?}");
        assert!(sc.codes().contains(&"too_fast".to_string()));
    }

    #[test]
    fn a_wrong_pow_alone_is_a_bot() {
        let s = person();
        let e = Evidence { pow: PowOutcome::Wrong, ..evidence(&s) };
        assert!(score(&e).value > 50);
    }
}
