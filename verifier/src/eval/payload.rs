//! A trace → the payload the widget would send for it, and the evidence the
//! verifier would score.
//!
//! The events go through [`Recorder`], the widget's own encoder, at their
//! page times, with what the page adds around them:
//!
//! - The page starts [`PAGE_LOAD_MS`] before the first event (a person sees
//!   the page before they move), and the payload is built
//!   [`SUBMIT_AFTER_MS`] after the last one (the submit that follows the last
//!   click), or at the trace's `duration_ms` when that is later.
//! - Coordinates are truncated to whole CSS px, as the widget reads them
//!   (`MouseEvent.clientX` is an `i32` in web-sys).
//! - A wheel tick scrolls the page by [`WHEEL_PX`]; the widget sees the
//!   scroll offset, not the wheel.
//! - A trace with touch events is a phone: its mouse events are the
//!   browser's emulated ones, which the widget does not record as pointer
//!   samples. Its environment is a mobile Chrome; every other trace gets a
//!   desktop Chrome. Humans and bots get the same environment, so it cannot
//!   tell them apart here.
//! - A keydown for a key already held is an auto-repeat, which the widget
//!   ignores.
//!
//! The evidence has a solved proof of work at the default difficulty, no
//! flooding, and the verifier's own `/init` → `/score` time of a widget that
//! opened its session at the first interaction and scored on submit.

use oculto_shared::signals::{Environment, PointerKind, Recorder, Signals};

use super::trace::{round_ms, Kind, Trace};
use crate::score::{Evidence, PowOutcome};

/// Time from the page's start to the first event, ms.
pub const PAGE_LOAD_MS: f64 = 1_500.0;
/// Time from the last event to the payload, ms.
pub const SUBMIT_AFTER_MS: f64 = 50.0;
/// Page scroll per wheel tick, CSS px.
pub const WHEEL_PX: f64 = 100.0;
/// How far the page can scroll, CSS px.
pub const PAGE_SCROLL_MAX: f64 = 4_000.0;
/// The proof of work difficulty evidence is scored with.
pub const DIFFICULTY: u8 = 18;
/// Time from the first interaction to `/init` plus the solve, ms: the
/// session that scores on submit opens about then.
const SESSION_OPENS_AFTER_MS: f64 = 500.0;
/// The least `/init` → `/score` time: a round trip and a solve.
const MIN_SERVER_MS: f64 = 200.0;

/// The payload the widget would build for `trace`.
pub fn signals(trace: &Trace) -> Signals {
    let mut r = Recorder::new();
    let Some(first) = trace.events.first() else {
        let elapsed = PAGE_LOAD_MS + trace.duration_ms.unwrap_or(0.0).max(0.0) + SUBMIT_AFTER_MS;
        return Signals { env: desktop(), ..r.finish(round_ms(elapsed)) };
    };
    let touch = trace.events.iter().any(|e| matches!(e.kind, Kind::Touch { .. }));
    let start = first.t - PAGE_LOAD_MS;
    let page_t = |t: f64| round_ms(t - start);
    let mut scroll_y = 0.0;
    let mut last_touch = (0.0, 0.0);
    let mut held: Vec<&str> = Vec::new();
    for e in &trace.events {
        let t = page_t(e.t);
        match &e.kind {
            k if touch && k.is_mouse() => {}
            Kind::Move { x, y } => r.pointer(t, PointerKind::Move, x.trunc(), y.trunc()),
            Kind::Button { down, x, y, .. } => {
                let k = if *down { PointerKind::Down } else { PointerKind::Up };
                r.pointer(t, k, x.trunc(), y.trunc());
            }
            Kind::Wheel { notches, .. } => {
                let y = (scroll_y + notches * WHEEL_PX).clamp(0.0, PAGE_SCROLL_MAX);
                if y != scroll_y {
                    scroll_y = y;
                    r.scroll(t, y);
                }
            }
            Kind::Touch { phase, x, y } => {
                if let (Some(x), Some(y)) = (x, y) {
                    last_touch = (x.trunc(), y.trunc());
                }
                r.touch(t, *phase, last_touch.0, last_touch.1);
            }
            Kind::Key { down: true, key } => {
                if !held.contains(&key.as_str()) {
                    held.push(key);
                    r.key_down(t, key);
                }
            }
            Kind::Key { down: false, key } => {
                held.retain(|k| k != key);
                r.key_up(t, key);
            }
            Kind::Other(_) => {}
        }
    }
    let last = trace.events.iter().map(|e| e.t).fold(first.t, f64::max) - first.t;
    let length = last.max(trace.duration_ms.unwrap_or(0.0));
    let elapsed = round_ms(PAGE_LOAD_MS + length + SUBMIT_AFTER_MS);
    Signals { env: if touch { mobile() } else { desktop() }, ..r.finish(elapsed) }
}

/// What the verifier would score for `signals`, sent by a widget whose work
/// was done.
pub fn evidence(signals: &Signals) -> Evidence<'_> {
    let opened = signals.first_interaction_ms.unwrap_or(PAGE_LOAD_MS) + SESSION_OPENS_AFTER_MS;
    let server = (signals.elapsed_ms - opened).max(MIN_SERVER_MS);
    Evidence {
        signals,
        pow: PowOutcome::Solved,
        server_elapsed_ms: server as u64,
        difficulty: DIFFICULTY,
        flooded: false,
    }
}

/// A desktop Chrome on Windows, 1920×1080.
pub fn desktop() -> Environment {
    Environment {
        webdriver: false,
        user_agent: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) \
                     Chrome/131.0.0.0 Safari/537.36"
            .into(),
        ua_platform: Some("Windows".into()),
        ua_mobile: Some(false),
        ua_brands: vec!["Google Chrome/131".into(), "Chromium/131".into(), "Not_A Brand/24".into()],
        languages: vec!["en-US".into(), "en".into()],
        screen: [1920, 1080],
        window: [1920, 953],
        pixel_ratio: 1.0,
        hardware_concurrency: 8,
        max_touch_points: 0,
        reduced_motion: false,
        renderer: Some("ANGLE (Intel, Intel(R) UHD Graphics 620 (0x00003EA0) Direct3D11 vs_5_0 ps_5_0, D3D11)".into()),
    }
}

/// A mobile Chrome on Android, 412×915 CSS px.
pub fn mobile() -> Environment {
    Environment {
        webdriver: false,
        user_agent: "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) \
                     Chrome/131.0.0.0 Mobile Safari/537.36"
            .into(),
        ua_platform: Some("Android".into()),
        ua_mobile: Some(true),
        ua_brands: vec!["Google Chrome/131".into(), "Chromium/131".into(), "Not_A Brand/24".into()],
        languages: vec!["en-US".into(), "en".into()],
        screen: [412, 915],
        window: [412, 789],
        pixel_ratio: 2.625,
        hardware_concurrency: 8,
        max_touch_points: 5,
        reduced_motion: false,
        renderer: Some("ANGLE (Qualcomm, Adreno (TM) 610, OpenGL ES 3.2)".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::trace::{Event, Label};
    use oculto_shared::signals::{Click, KeyTiming, TouchKind};

    fn trace(events: Vec<Event>) -> Trace {
        Trace { label: Label::Human, user: "u".into(), source: None, session: None, duration_ms: None, events }
    }

    #[test]
    fn a_trace_becomes_the_widget_payload_at_page_times() {
        let s = signals(&trace(vec![
            Event::moved(1000.0, 10.7, 20.2),
            Event::moved(1016.7, 13.9, 16.0),
            Event::button(1100.0, true, 13.9, 16.0),
            Event::button(1190.0, false, 13.9, 16.0),
            Event::key(1300.0, true, "a"),
            Event::key(1350.0, true, "a"), // auto-repeat
            Event::key(1400.0, false, "a"),
        ]));
        assert!(s.validate().is_ok());
        assert_eq!(s.first_interaction_ms, Some(PAGE_LOAD_MS));
        assert_eq!(s.elapsed_ms, PAGE_LOAD_MS + 400.0 + SUBMIT_AFTER_MS);
        assert_eq!((s.pointer[1].t, s.pointer[1].dx, s.pointer[1].dy), (1516.7, 3.0, -4.0));
        assert_eq!(s.clicks, [Click { t: 1600.0, dwell: 90.0 }]);
        assert_eq!(s.keys, [KeyTiming { t: 1800.0, dwell: 100.0 }]);
        assert_eq!(s.env, desktop());
        let e = evidence(&s);
        assert_eq!(e.server_elapsed_ms, 200);
        assert_eq!(e.pow, PowOutcome::Solved);
    }

    #[test]
    fn wheel_ticks_scroll_the_page_and_touch_is_a_phone() {
        let mut t = trace(vec![Event { t: 0.0, kind: Kind::Wheel { x: 1.0, y: 1.0, notches: 1.0 } }]);
        t.events.push(Event { t: 100.0, kind: Kind::Wheel { x: 1.0, y: 1.0, notches: -3.0 } });
        let s = signals(&t);
        assert_eq!(s.scroll.iter().map(|s| s.y).collect::<Vec<_>>(), [100.0, 0.0]);
        let touch = |t, phase, x: Option<f64>| Event { t, kind: Kind::Touch { phase, x, y: x } };
        let s = signals(&trace(vec![
            touch(0.0, TouchKind::Start, Some(5.0)),
            touch(16.0, TouchKind::Move, Some(9.0)),
            touch(30.0, TouchKind::End, None),
            Event::button(40.0, false, 9.0, 9.0), // emulated mouse
        ]));
        assert_eq!(s.touch.iter().map(|t| t.dx).collect::<Vec<_>>(), [0.0, 4.0, 0.0]);
        assert!(s.pointer.is_empty());
        assert_eq!(s.env, mobile());
    }

    #[test]
    fn an_empty_trace_is_a_page_with_no_interaction() {
        let mut t = trace(vec![]);
        t.duration_ms = Some(2000.0);
        let s = signals(&t);
        assert!(!s.has_interaction());
        assert_eq!(s.elapsed_ms, PAGE_LOAD_MS + 2000.0 + SUBMIT_AFTER_MS);
        assert!(s.validate().is_ok());
    }
}
