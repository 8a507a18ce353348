//! Signals from raw bytes.
//!
//! Times run on clocks that mostly move forward in small steps, as a
//! browser's do, with pauses, jumps backwards and edge values (0, -0, the
//! largest time allowed, just past it, NaN, infinities) now and then.
//! Movements are small signed steps times a per-session scale, so that paths
//! have a shape the features can measure.

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use oculto_shared::signals::{
    Click, Environment, FocusChange, KeyTiming, PointerKind, PointerSample, ScrollSample, Signals, TouchKind,
    TouchSample, VisibilityChange, MAX_TIME_MS,
};

/// Times that sit on or next to a boundary.
const EDGE_TIMES: [f64; 10] = [
    0.0,
    -0.0,
    f64::MIN_POSITIVE,
    1.0e-300,
    MAX_TIME_MS,
    MAX_TIME_MS + 1.0e-6,
    -1.0,
    f64::NAN,
    f64::INFINITY,
    f64::MAX,
];

/// Coordinates that sit on or next to a boundary.
const EDGE_COORDS: [f32; 7] = [0.0, -0.0, f32::MIN_POSITIVE, 1.0e6, -1.0e6, 1.000_001e6, f32::NAN];

/// A clock for one kind of event.
struct Clock(f64);

impl Clock {
    /// The next time: a small step forward, or (rarely) a pause, a jump
    /// anywhere, or an edge value.
    fn tick(&mut self, u: &mut Unstructured<'_>, step_ms: f64) -> Result<f64> {
        match u.arbitrary::<u8>()? {
            255 => self.0 = *u.choose(&EDGE_TIMES)?,
            254 => self.0 = f64::from(u.arbitrary::<u32>()?) / 16.0,
            253 => self.0 += f64::from(u.arbitrary::<u16>()?),
            b => self.0 += f64::from(b) * step_ms,
        }
        Ok(self.0)
    }
}

fn time(u: &mut Unstructured<'_>) -> Result<f64> {
    Ok(if u.ratio(1, 16)? { *u.choose(&EDGE_TIMES)? } else { f64::from(u.arbitrary::<u32>()?) / 64.0 })
}

fn coord(u: &mut Unstructured<'_>, scale: f32) -> Result<f32> {
    Ok(match u.arbitrary::<i8>()? {
        i8::MIN => *u.choose(&EDGE_COORDS)?,
        d => f32::from(d) * scale,
    })
}

fn short_string(u: &mut Unstructured<'_>) -> Result<String> {
    let n = u.int_in_range(0..=8)?;
    (0..n).map(|_| u.arbitrary::<char>()).collect()
}

fn env(u: &mut Unstructured<'_>) -> Result<Environment> {
    Ok(Environment {
        webdriver: u.ratio(1, 8)?,
        user_agent: short_string(u)?,
        ua_platform: if u.arbitrary()? { Some(short_string(u)?) } else { None },
        ua_mobile: u.arbitrary()?,
        ua_brands: Vec::new(),
        languages: if u.arbitrary()? { vec![short_string(u)?] } else { Vec::new() },
        screen: [u32::from(u.arbitrary::<u16>()?), u32::from(u.arbitrary::<u16>()?)],
        window: [u32::from(u.arbitrary::<u16>()?), u32::from(u.arbitrary::<u16>()?)],
        pixel_ratio: f32::from(u.arbitrary::<u8>()?) / 32.0,
        hardware_concurrency: u32::from(u.arbitrary::<u8>()?),
        max_touch_points: u32::from(u.arbitrary::<u8>()? % 11),
        reduced_motion: u.arbitrary()?,
        renderer: if u.arbitrary()? { Some(short_string(u)?) } else { None },
    })
}

/// A signals payload. Counts of the short lists come first, then the lists,
/// and the pointer path takes what is left.
pub fn signals(u: &mut Unstructured<'_>) -> Result<Signals> {
    let mut s = Signals {
        v: u.arbitrary()?,
        elapsed_ms: time(u)?,
        first_interaction_ms: if u.arbitrary()? { Some(time(u)?) } else { None },
        pastes: u32::from(u.arbitrary::<u8>()? % 4),
        untrusted_events: u32::from(u.ratio(1, 8)?),
        env: env(u)?,
        ..Signals::default()
    };
    let [clicks, keys, scroll, touch, focus, visibility]: [u8; 6] = u.arbitrary()?;
    let mut clock = Clock(f64::from(u.arbitrary::<u16>()?));
    for _ in 0..clicks % 16 {
        let t = clock.tick(u, 16.0)?;
        let dwell = if u.ratio(1, 16)? { *u.choose(&EDGE_TIMES)? } else { f64::from(u.arbitrary::<u8>()?) };
        s.clicks.push(Click { t, dwell });
    }
    let mut clock = Clock(f64::from(u.arbitrary::<u16>()?));
    for _ in 0..keys % 64 {
        let t = clock.tick(u, 2.0)?;
        let dwell = if u.ratio(1, 16)? { *u.choose(&EDGE_TIMES)? } else { f64::from(u.arbitrary::<u8>()?) / 2.0 };
        s.keys.push(KeyTiming { t, dwell });
    }
    let mut clock = Clock(f64::from(u.arbitrary::<u16>()?));
    for _ in 0..scroll % 16 {
        let t = clock.tick(u, 8.0)?;
        let y = coord(u, 16.0)?;
        s.scroll.push(ScrollSample { t, y });
    }
    let mut clock = Clock(f64::from(u.arbitrary::<u16>()?));
    let scale = f32::from(u.arbitrary::<u8>()?) / 16.0;
    for _ in 0..touch % 64 {
        let t = clock.tick(u, 0.25)?;
        let k = match u.arbitrary::<u8>()? {
            0..=199 => TouchKind::Move,
            200..=227 => TouchKind::Start,
            _ => TouchKind::End,
        };
        s.touch.push(TouchSample { t, k, dx: coord(u, scale)?, dy: coord(u, scale)? });
    }
    for _ in 0..focus % 8 {
        s.focus.push(FocusChange { t: time(u)?, focused: u.arbitrary()? });
    }
    for _ in 0..visibility % 4 {
        s.visibility.push(VisibilityChange { t: time(u)?, visible: u.arbitrary()? });
    }
    let mut clock = Clock(f64::from(u.arbitrary::<u16>()?));
    let scale = f32::from(u.arbitrary::<u8>()?) / 16.0;
    while !u.is_empty() && s.pointer.len() < oculto_shared::signals::MAX_POINTER {
        let t = clock.tick(u, 0.25)?;
        let k = match u.arbitrary::<u8>()? {
            0..=199 => PointerKind::Move,
            200..=227 => PointerKind::Down,
            _ => PointerKind::Up,
        };
        s.pointer.push(PointerSample { t, k, dx: coord(u, scale)?, dy: coord(u, scale)? });
    }
    Ok(s)
}
