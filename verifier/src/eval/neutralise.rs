//! Taking the recorder out of a trace, so that units from different sources
//! can be compared (issue 5, "Beware of the recorders").
//!
//! Balabit was captured through remote desktop with a 10-16 ms timer, DELBOT
//! in a browser, generated bots on whatever clock their generator used. A
//! scorer could tell them apart by their clocks alone. [`neutralise`] puts
//! every trace on the same footing:
//!
//! 1. **Idle gaps are capped**: a gap longer than [`Settings::gap_max_ms`]
//!    between two events becomes a random length between
//!    [`Settings::gap_min_ms`] and that maximum (no fixed value for a model
//!    to learn).
//! 2. **Presses, releases, wheel ticks and touch starts and ends are
//!    de-quantised**: each moves later by up to one timer tick
//!    ([`Settings::press_jitter_ms`]), never past the next event, so that a
//!    recorder's 15.6 ms lattice does not survive in click dwell times. Key
//!    times are kept as they are (no source here has both keys and a coarse
//!    timer).
//! 3. **Pointer paths are re-timed** onto the browser's frame clock
//!    ([`frames::deliver`]). Each trace's recorder tick is read from its own
//!    samples (the median gap: about 16 ms in a browser, 110 ms for five of
//!    the seven Balabit users). Samples closer than 2.5 ticks are one
//!    continuous motion, interpolated with a monotone cubic so that its speed
//!    profile survives without corners at the samples or overshoot; after a
//!    longer gap the pointer rested, then moved over what the tick hid beyond
//!    a frame (a browser-recorded jump stays a jump). Positions become whole
//!    pixels.
//! 4. **Units are cut** (`clicks` mode): a unit is a run of 3 to 6
//!    actions (a release of the button, or the end of a touch), with the
//!    movement leading to them; it ends at its last action and starts at
//!    most [`Settings::lead_ms`] before its first press. A trace with fewer
//!    actions is one unit, and a trace with none (keyboard only, no input)
//!    is kept whole. `whole` mode keeps every trace whole.
//!
//! Everything random comes from the seed and the trace's position in the
//! input, so a run is reproducible.

use oculto_shared::signals::TouchKind;

use super::frames::{self, Point};
use super::rng::Rng;
use super::trace::{round_ms, Event, Kind, Trace};

/// How traces are cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// Form-like units of a few point-and-click actions.
    Clicks,
    /// The whole trace, re-timed.
    Whole,
}

/// How to neutralise.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Cutting.
    pub mode: Mode,
    /// Fewest actions in a unit (a shorter trace stays one unit).
    pub clicks_min: u32,
    /// Most actions in a unit.
    pub clicks_max: u32,
    /// Shortest length a capped gap gets, ms.
    pub gap_min_ms: f64,
    /// Gaps longer than this are capped, ms.
    pub gap_max_ms: f64,
    /// The most a press or release moves later, ms.
    pub press_jitter_ms: f64,
    /// The longest time a unit starts before its first press, ms.
    pub lead_ms: f64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            mode: Mode::Clicks,
            clicks_min: 3,
            clicks_max: 6,
            gap_min_ms: 1_500.0,
            gap_max_ms: 2_000.0,
            press_jitter_ms: 16.0,
            lead_ms: 10_000.0,
        }
    }
}

fn is_discrete(k: &Kind) -> bool {
    matches!(k, Kind::Button { .. } | Kind::Wheel { .. } | Kind::Touch { phase: TouchKind::Start | TouchKind::End, .. })
}

fn is_action_end(k: &Kind) -> bool {
    matches!(k, Kind::Button { down: false, .. } | Kind::Touch { phase: TouchKind::End, .. })
}

fn is_action_start(k: &Kind) -> bool {
    matches!(k, Kind::Button { down: true, .. } | Kind::Touch { phase: TouchKind::Start, .. })
}

/// The neutralised units of `trace`.
pub fn neutralise(trace: &Trace, s: &Settings, rng: &mut Rng) -> Vec<Trace> {
    let touch = trace.events.iter().any(|e| matches!(e.kind, Kind::Touch { .. }));
    // A phone's mouse events are the browser's emulation of its touches.
    let mut events: Vec<Event> = trace
        .events
        .iter()
        .filter(|e| !(matches!(e.kind, Kind::Other(_)) || touch && e.kind.is_mouse()))
        .cloned()
        .collect();
    events.sort_by(|a, b| a.t.total_cmp(&b.t));
    cap_gaps(&mut events, s, rng);
    dequantise(&mut events, s, rng);
    let events = retime(events, rng);
    let units = match s.mode {
        Mode::Whole => vec![events],
        Mode::Clicks => cut(events, s, rng),
    };
    let many = units.len() > 1 || s.mode == Mode::Clicks;
    units
        .into_iter()
        .enumerate()
        .map(|(i, mut events)| {
            let t0 = events.first().map_or(0.0, |e| e.t);
            for e in &mut events {
                e.t = round_ms(e.t - t0);
            }
            let session = trace.session.as_deref().unwrap_or("");
            Trace {
                label: trace.label,
                user: trace.user.clone(),
                source: trace.source.clone(),
                session: Some(if many { format!("{session}#u{i}") } else { session.to_owned() }),
                duration_ms: Some(events.last().map_or(trace.duration_ms.unwrap_or(0.0), |e| e.t)),
                events,
            }
        })
        .collect()
}

/// Shortens every gap longer than the cap to a random length below it.
fn cap_gaps(events: &mut [Event], s: &Settings, rng: &mut Rng) {
    let Some(first) = events.first().map(|e| e.t) else { return };
    let (mut prev_old, mut prev_new) = (first, first);
    for e in events.iter_mut() {
        let gap = e.t - prev_old;
        let gap = if gap > s.gap_max_ms { rng.range(s.gap_min_ms, s.gap_max_ms) } else { gap };
        prev_old = e.t;
        e.t = prev_new + gap;
        prev_new = e.t;
    }
}

/// Moves each discrete event later by up to a timer tick, never past the
/// next event.
fn dequantise(events: &mut [Event], s: &Settings, rng: &mut Rng) {
    for i in 0..events.len() {
        if is_discrete(&events[i].kind) {
            let room = events.get(i + 1).map_or(s.press_jitter_ms, |n| n.t - events[i].t);
            events[i].t += rng.range(0.0, room.min(s.press_jitter_ms));
        }
    }
}

/// Replaces the moves by the moves a browser would deliver for the same
/// path, keeping every other event, and makes coordinates whole pixels.
fn retime(events: Vec<Event>, rng: &mut Rng) -> Vec<Event> {
    let mut out: Vec<Event> = Vec::with_capacity(events.len());
    // Mouse: one path through every positioned mouse event.
    let path: Vec<Point> = events
        .iter()
        .filter(|e| e.kind.is_mouse())
        .filter_map(|e| e.kind.position().map(|(x, y)| Point::new(e.t, x, y)))
        .collect();
    let flush: Vec<f64> = events.iter().filter(|e| e.kind.is_mouse() && is_discrete(&e.kind)).map(|e| e.t).collect();
    let moves = frames::deliver(&path, frames::Motion::recorded(&path), &flush, rng);
    out.extend(moves.into_iter().map(|p| Event::moved(p.t, p.x, p.y)));
    // Touch: each stroke, from its start to its end.
    let mut stroke: Vec<Point> = Vec::new();
    let mut last_touch: Option<(f64, f64)> = None;
    for e in &events {
        let Kind::Touch { phase, x, y } = e.kind else { continue };
        let pos = x.zip(y).or(last_touch);
        last_touch = pos;
        let Some((x, y)) = pos else { continue };
        if phase == TouchKind::Start {
            stroke.clear();
        }
        stroke.push(Point::new(e.t, x, y));
        if phase == TouchKind::End && stroke.len() > 1 {
            let (start, end) = (stroke[0], e.t);
            let moves = frames::deliver(&stroke, frames::Motion::recorded(&stroke), &[], rng);
            let start_px = (start.x.round(), start.y.round());
            let moves = moves.into_iter().skip_while(|p| (p.x, p.y) == start_px).filter(|p| p.t < end);
            out.extend(
                moves.map(|p| Event {
                    t: p.t,
                    kind: Kind::Touch { phase: TouchKind::Move, x: Some(p.x), y: Some(p.y) },
                }),
            );
        }
    }
    // Everything else as it is, at whole pixels.
    for mut e in events {
        match &mut e.kind {
            Kind::Move { .. } | Kind::Touch { phase: TouchKind::Move, .. } | Kind::Other(_) => continue,
            Kind::Button { x, y, .. } | Kind::Wheel { x, y, .. } => {
                *x = x.round();
                *y = y.round();
            }
            Kind::Touch { x, y, .. } => {
                *x = x.map(f64::round);
                *y = y.map(f64::round);
            }
            Kind::Key { .. } => {}
        }
        out.push(e);
    }
    // A move flushed at a press comes before it.
    let rank = |k: &Kind| u8::from(!matches!(k, Kind::Move { .. } | Kind::Touch { phase: TouchKind::Move, .. }));
    out.sort_by(|a, b| a.t.total_cmp(&b.t).then(rank(&a.kind).cmp(&rank(&b.kind))));
    out
}

/// Cuts a re-timed trace into units of a few actions.
fn cut(events: Vec<Event>, s: &Settings, rng: &mut Rng) -> Vec<Vec<Event>> {
    let mut units = Vec::new();
    let mut start = 0;
    let mut want = rng.int(s.clicks_min, s.clicks_max);
    let mut actions = 0;
    let mut last_end = None;
    for i in 0..events.len() {
        if !is_action_end(&events[i].kind) {
            continue;
        }
        actions += 1;
        last_end = Some(i);
        if actions == want {
            units.push(trim_lead(&events[start..=i], s.lead_ms));
            start = i + 1;
            actions = 0;
            last_end = None;
            want = rng.int(s.clicks_min, s.clicks_max);
        }
    }
    // The rest, up to its last action: a trace with fewer actions is one
    // unit, and so is a trace without any (keyboard only, or no input).
    if let Some(end) = last_end {
        units.push(trim_lead(&events[start..=end], s.lead_ms));
    } else if units.is_empty() {
        units.push(events);
    }
    units
}

/// The unit without what happened more than `lead_ms` before its first press.
fn trim_lead(unit: &[Event], lead_ms: f64) -> Vec<Event> {
    let first = unit.iter().find(|e| is_action_start(&e.kind) || is_action_end(&e.kind)).map_or(0.0, |e| e.t);
    unit.iter().filter(|e| e.t >= first - lead_ms).cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::trace::Label;

    fn trace(events: Vec<Event>) -> Trace {
        Trace {
            label: Label::Human,
            user: "u".into(),
            source: Some("test".into()),
            session: Some("s".into()),
            duration_ms: None,
            events,
        }
    }

    /// A person moving right at `speed` px/ms, sampled every `dt` ms, with a
    /// click at the end of each of `n` strokes of `ms` ms, `pause` ms apart.
    fn strokes(n: usize, ms: f64, dt: f64, speed: f64, pause: f64) -> Vec<Event> {
        let mut ev = Vec::new();
        let (mut t, mut x) = (0.0, 100.0);
        for _ in 0..n {
            let end = t + ms;
            while t < end {
                ev.push(Event::moved(t, x, 300.0));
                t += dt;
                x += speed * dt;
            }
            ev.push(Event::button(t, true, x, 300.0));
            ev.push(Event::button(t + 90.0, false, x, 300.0));
            t += 90.0 + pause;
        }
        ev
    }

    #[test]
    fn a_constant_speed_line_keeps_its_speed_and_lands_on_the_frame_clock() {
        // A 10 ms recorder (Balabit-like), 0.8 px/ms.
        let s = Settings { mode: Mode::Whole, ..Default::default() };
        let out = neutralise(&trace(strokes(1, 800.0, 10.0, 0.8, 0.0)), &s, &mut Rng::new(1));
        assert_eq!(out.len(), 1);
        let moves: Vec<(f64, f64)> = out[0]
            .events
            .iter()
            .filter_map(|e| match e.kind {
                Kind::Move { x, .. } => Some((e.t, x)),
                _ => None,
            })
            .collect();
        let gaps: Vec<f64> = moves.windows(2).map(|w| w[1].0 - w[0].0).collect();
        let mean_gap = gaps.iter().sum::<f64>() / gaps.len() as f64;
        assert!((mean_gap - frames::FRAME_MS).abs() < 1.0, "mean gap {mean_gap}");
        let (a, b) = (moves[0], moves[moves.len() - 1]);
        let speed = (b.1 - a.1) / (b.0 - a.0);
        assert!((speed - 0.8).abs() < 0.03, "speed {speed}");
    }

    #[test]
    fn long_gaps_are_capped_below_two_seconds() {
        let mut ev = strokes(2, 200.0, 16.0, 1.0, 30_000.0);
        ev.insert(0, Event::key(-60_000.0, true, "a"));
        let s = Settings { mode: Mode::Whole, ..Default::default() };
        let out = neutralise(&trace(ev), &s, &mut Rng::new(2));
        let ev = &out[0].events;
        let worst = ev.windows(2).map(|w| w[1].t - w[0].t).fold(0.0, f64::max);
        assert!((1_500.0..=2_000.0 + 16.0 + frames::FRAME_MS + 4.0).contains(&worst), "largest gap {worst}");
        assert!(out[0].duration_ms.expect("set") < 2.0 * 2_100.0 + 600.0);
    }

    #[test]
    fn units_hold_three_to_six_clicks_and_end_with_one() {
        let s = Settings::default();
        let out = neutralise(&trace(strokes(40, 300.0, 12.0, 1.0, 500.0)), &s, &mut Rng::new(3));
        assert!(out.len() >= 40 / 6, "{} units", out.len());
        let mut total = 0;
        for (i, u) in out.iter().enumerate() {
            let clicks = u.events.iter().filter(|e| is_action_end(&e.kind)).count();
            total += clicks;
            assert!(i == out.len() - 1 || (3..=6).contains(&clicks), "unit {i}: {clicks} clicks");
            assert!(u.events.last().is_some_and(|e| is_action_end(&e.kind)));
            assert_eq!(u.events[0].t, 0.0);
            assert_eq!(u.session.as_deref(), Some(format!("s#u{i}").as_str()));
        }
        assert_eq!(total, 40);
    }

    #[test]
    fn a_trace_without_clicks_is_one_unit() {
        let keys = vec![Event::key(0.0, true, "Tab"), Event::key(80.0, false, "Tab")];
        let out = neutralise(&trace(keys), &Settings::default(), &mut Rng::new(6));
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].events.len(), 2);
        let out = neutralise(&trace(vec![]), &Settings::default(), &mut Rng::new(6));
        assert_eq!(out.len(), 1);
        assert!(out[0].events.is_empty());
    }

    #[test]
    fn dwell_times_lose_the_recorder_tick() {
        // Every press and release on a 15.6 ms lattice.
        let mut ev = Vec::new();
        for i in 0..200 {
            let t = f64::from(i) * 15.6 * 40.0;
            ev.push(Event::moved(t - 15.6, 10.0, 10.0));
            ev.push(Event::button(t, true, 10.0, 10.0));
            ev.push(Event::button(t + 15.6 * 6.0, false, 10.0, 10.0));
        }
        let s = Settings { mode: Mode::Whole, ..Default::default() };
        let out = neutralise(&trace(ev), &s, &mut Rng::new(4));
        let mut down = 0.0;
        let mut off_lattice = 0;
        for e in &out[0].events {
            match e.kind {
                Kind::Button { down: true, .. } => down = e.t,
                Kind::Button { down: false, .. } => {
                    let dwell = e.t - down;
                    assert!((15.6 * 6.0 - 16.0..=15.6 * 6.0 + 16.0).contains(&dwell), "{dwell}");
                    let phase = (dwell / 15.6).fract();
                    off_lattice += usize::from(phase > 0.1 && phase < 0.9);
                }
                _ => {}
            }
        }
        assert!(off_lattice > 100, "{off_lattice} of 200 dwell times off the 15.6 ms lattice");
    }

    #[test]
    fn is_deterministic_with_a_seed() {
        let t = trace(strokes(8, 300.0, 12.0, 1.0, 500.0));
        let a = neutralise(&t, &Settings::default(), &mut Rng::for_item(9, 0));
        let b = neutralise(&t, &Settings::default(), &mut Rng::for_item(9, 0));
        assert_eq!(a, b);
    }

    #[test]
    fn touch_strokes_are_retimed_and_emulated_mouse_dropped() {
        let mut ev =
            vec![Event { t: 0.0, kind: Kind::Touch { phase: TouchKind::Start, x: Some(10.0), y: Some(10.0) } }];
        for i in 1..=60 {
            let x = 10.0 + f64::from(i) * 5.0;
            ev.push(Event {
                t: f64::from(i) * 8.0,
                kind: Kind::Touch { phase: TouchKind::Move, x: Some(x), y: Some(10.0) },
            });
        }
        ev.push(Event { t: 490.0, kind: Kind::Touch { phase: TouchKind::End, x: None, y: None } });
        ev.push(Event::button(500.0, false, 310.0, 10.0));
        let s = Settings { mode: Mode::Whole, ..Default::default() };
        let out = &neutralise(&trace(ev), &s, &mut Rng::new(5))[0].events;
        assert!(out.iter().all(|e| !e.kind.is_mouse()));
        let moves = out.iter().filter(|e| matches!(e.kind, Kind::Touch { phase: TouchKind::Move, .. })).count();
        assert!((25..=31).contains(&moves), "{moves} touch moves in 480 ms");
        assert!(matches!(out.last().map(|e| &e.kind), Some(Kind::Touch { phase: TouchKind::End, .. })));
    }
}
