//! [`Recorder`]: the one encoder from input events to a [`Signals`] payload.
//!
//! The widget's listeners feed it the page's trusted events; the verifier's
//! evaluation (`oculto eval`) feeds it recorded traces. Both therefore build
//! exactly the same payload from the same input: relative movements, clicks
//! paired from press and release, key timings paired by an opaque id, scroll
//! offsets sampled at most every [`SCROLL_GAP_MS`], and every list capped,
//! keeping the newest samples.
//!
//! The recorder is pure: it has no clock and no browser. Callers pass each
//! event's time (ms since the page's navigation start) and page coordinates;
//! the coordinates never leave it, only their differences do.

use super::{
    Click, Environment, FocusChange, KeyTiming, PointerKind, PointerSample, ScrollSample, Signals, TouchKind,
    TouchSample, VisibilityChange, MAX_OTHER, MAX_POINTER, VERSION,
};

/// The shortest gap kept between two scroll samples, ms: a scroll fires at
/// every frame, and its shape needs fewer.
pub const SCROLL_GAP_MS: f64 = 50.0;

/// The most keys held down at once that the recorder pairs; presses beyond
/// it are ignored (no keyboard holds more, and the list stays small).
pub const MAX_KEYS_HELD: usize = 16;

/// Builds a [`Signals`] payload from input events, one call per event.
///
/// ```
/// use oculto_shared::signals::{PointerKind, Recorder};
/// let mut r = Recorder::new();
/// r.pointer(1000.0, PointerKind::Move, 100.0, 200.0);
/// r.pointer(1016.7, PointerKind::Move, 104.0, 197.0);
/// r.key_down(1500.0, "KeyA");
/// r.key_up(1580.0, "KeyA");
/// let s = r.finish(2000.0);
/// assert_eq!((s.pointer[1].dx, s.pointer[1].dy), (4.0, -3.0));
/// assert_eq!(s.keys[0].dwell, 80.0);
/// ```
#[derive(Debug, Clone, Default)]
pub struct Recorder {
    signals: Signals,
    last_pointer: Option<(f64, f64)>,
    last_touch: Option<(f64, f64)>,
    pointer_down_at: Option<f64>,
    /// Keys held down: an opaque id (the widget passes `KeyboardEvent.code`)
    /// and the press time, only to pair a press with its release. Ids are
    /// never written to the payload.
    keys_down: Vec<(String, f64)>,
    last_scroll_t: Option<f64>,
}

/// Appends `item`, dropping the oldest tenth of `v` first when it is full:
/// the moments before submit matter most.
fn push_capped<T>(v: &mut Vec<T>, item: T, cap: usize) {
    if v.len() >= cap {
        v.drain(..cap.div_ceil(10));
    }
    v.push(item);
}

impl Recorder {
    /// An empty recorder.
    pub fn new() -> Self {
        Self::default()
    }

    fn interacted(&mut self, t: f64) {
        if self.signals.first_interaction_ms.is_none() {
            self.signals.first_interaction_ms = Some(t);
        }
    }

    /// A mouse or pen event at page position (`x`, `y`), CSS px. A `Down`
    /// followed by an `Up` also makes a [`Click`].
    pub fn pointer(&mut self, t: f64, k: PointerKind, x: f64, y: f64) {
        let (dx, dy) = self.last_pointer.map_or((0.0, 0.0), |(px, py)| (x - px, y - py));
        self.last_pointer = Some((x, y));
        self.interacted(t);
        push_capped(&mut self.signals.pointer, PointerSample { t, k, dx: dx as f32, dy: dy as f32 }, MAX_POINTER);
        match k {
            PointerKind::Move => {}
            PointerKind::Down => self.pointer_down_at = Some(t),
            PointerKind::Up => {
                if let Some(down) = self.pointer_down_at.take() {
                    push_capped(&mut self.signals.clicks, Click { t: down, dwell: t - down }, MAX_OTHER);
                }
            }
        }
    }

    /// Where a pointer press landed on the element it pressed: (`dx`, `dy`)
    /// from the centre of the element's box, CSS px. Kept to 0.5 px.
    pub fn press_offset(&mut self, dx: f64, dy: f64) {
        let half = |v: f64| ((v * 2.0).round() / 2.0) as f32;
        push_capped(&mut self.signals.press_offsets, [half(dx), half(dy)], MAX_OTHER);
    }

    /// A touch event of the first touch point at page position (`x`, `y`).
    /// Movements are relative to the previous sample of the same touch.
    pub fn touch(&mut self, t: f64, k: TouchKind, x: f64, y: f64) {
        let (dx, dy) = match (k, self.last_touch) {
            (TouchKind::Start, _) | (_, None) => (0.0, 0.0),
            (_, Some((px, py))) => (x - px, y - py),
        };
        self.last_touch = Some((x, y));
        self.interacted(t);
        push_capped(&mut self.signals.touch, TouchSample { t, k, dx: dx as f32, dy: dy as f32 }, MAX_OTHER);
    }

    /// A key went down (not an auto-repeat). `id` tells keys apart only to
    /// pair this press with its release; it is forgotten at the release and
    /// never written to the payload.
    pub fn key_down(&mut self, t: f64, id: &str) {
        self.interacted(t);
        self.keys_down.retain(|(k, _)| k != id);
        if self.keys_down.len() < MAX_KEYS_HELD {
            self.keys_down.push((id.to_owned(), t));
        }
    }

    /// A key went up: records its press time and how long it stayed down. A
    /// release without a press is ignored.
    ///
    /// Keys are kept in the order they went down, though they come in the
    /// order they went up: people often press the next key before releasing
    /// the last (rollover), and a list out of time order would look like
    /// time running backwards.
    pub fn key_up(&mut self, t: f64, id: &str) {
        if let Some(i) = self.keys_down.iter().position(|(k, _)| k == id) {
            let down = self.keys_down.swap_remove(i).1;
            let keys = &mut self.signals.keys;
            push_capped(keys, KeyTiming { t: down, dwell: t - down }, MAX_OTHER);
            // Only keys held together are out of order: a few steps at most.
            let mut j = keys.len() - 1;
            while j > 0 && keys[j - 1].t > keys[j].t {
                keys.swap(j - 1, j);
                j -= 1;
            }
        }
    }

    /// The page scrolled to vertical offset `y`, CSS px. Kept at most every
    /// [`SCROLL_GAP_MS`].
    pub fn scroll(&mut self, t: f64, y: f64) {
        if self.last_scroll_t.is_none_or(|last| t - last >= SCROLL_GAP_MS) {
            self.last_scroll_t = Some(t);
            push_capped(&mut self.signals.scroll, ScrollSample { t, y: y as f32 }, MAX_OTHER);
        }
    }

    /// Focus came into (`true`) or left (`false`) a field or the window.
    pub fn focus(&mut self, t: f64, focused: bool) {
        push_capped(&mut self.signals.focus, FocusChange { t, focused }, MAX_OTHER);
    }

    /// The page became visible (`true`) or hidden (`false`).
    pub fn visibility(&mut self, t: f64, visible: bool) {
        push_capped(&mut self.signals.visibility, VisibilityChange { t, visible }, MAX_OTHER);
    }

    /// Something was pasted (what, is never looked at).
    pub fn paste(&mut self) {
        self.signals.pastes = self.signals.pastes.saturating_add(1);
    }

    /// An event made by script (`isTrusted == false`) was seen and ignored.
    pub fn untrusted(&mut self) {
        self.signals.untrusted_events = self.signals.untrusted_events.saturating_add(1);
    }

    /// How many trusted interactions were recorded so far.
    pub fn activity(&self) -> usize {
        let s = &self.signals;
        s.pointer.len() + s.keys.len() + s.clicks.len() + s.touch.len() + s.scroll.len()
    }

    /// Time of the last pointer or touch move, if no press, release or
    /// lift has closed the movement since.
    pub fn open_move(&self) -> Option<f64> {
        let s = &self.signals;
        let pointer = s.pointer.last().filter(|p| p.k == PointerKind::Move).map(|p| p.t);
        let touch = s.touch.last().filter(|p| p.k == TouchKind::Move).map(|p| p.t);
        pointer.into_iter().chain(touch).reduce(f64::max)
    }

    /// The payload so far, built at page time `elapsed_ms`, with a default
    /// [`Environment`] for the caller to fill.
    pub fn snapshot(&self, elapsed_ms: f64) -> Signals {
        Signals { v: VERSION, elapsed_ms, env: Environment::default(), ..self.signals.clone() }
    }

    /// The payload, built at page time `elapsed_ms`, without copying.
    pub fn finish(self, elapsed_ms: f64) -> Signals {
        Signals { v: VERSION, elapsed_ms, ..self.signals }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointer_samples_are_relative_and_clicks_pair_press_and_release() {
        let mut r = Recorder::new();
        r.pointer(10.0, PointerKind::Move, 50.0, 60.0);
        r.pointer(26.7, PointerKind::Move, 53.0, 56.0);
        r.pointer(40.0, PointerKind::Down, 53.0, 56.0);
        r.pointer(130.0, PointerKind::Up, 55.0, 56.0);
        r.pointer(150.0, PointerKind::Up, 55.0, 56.0); // a release without a press: no click
        assert_eq!(r.open_move(), None, "a release closes the movement");
        r.pointer(160.0, PointerKind::Move, 56.0, 57.0);
        assert_eq!(r.open_move(), Some(160.0));
        r.pointer(170.0, PointerKind::Down, 56.0, 57.0);
        r.pointer(180.0, PointerKind::Up, 56.0, 57.0);
        let s = r.finish(200.0);
        let d: Vec<_> = s.pointer.iter().map(|p| (p.dx, p.dy)).collect();
        assert_eq!(
            d,
            [(0.0, 0.0), (3.0, -4.0), (0.0, 0.0), (2.0, 0.0), (0.0, 0.0), (1.0, 1.0), (0.0, 0.0), (0.0, 0.0)]
        );
        assert_eq!(s.clicks, [Click { t: 40.0, dwell: 90.0 }, Click { t: 170.0, dwell: 10.0 }]);
        assert_eq!(s.first_interaction_ms, Some(10.0));
        assert_eq!((s.v, s.elapsed_ms), (VERSION, 200.0));
    }

    #[test]
    fn keys_pair_by_id_in_any_order_and_never_keep_the_id() {
        let mut r = Recorder::new();
        r.key_down(100.0, "ShiftLeft");
        r.key_down(120.0, "KeyA");
        r.key_up(180.0, "ShiftLeft");
        r.key_up(200.0, "KeyA");
        r.key_up(300.0, "KeyB"); // never pressed
        let s = r.finish(400.0);
        assert_eq!(s.keys, [KeyTiming { t: 100.0, dwell: 80.0 }, KeyTiming { t: 120.0, dwell: 80.0 }]);
        assert_eq!(s.first_interaction_ms, Some(100.0));
        let json = serde_json::to_string(&s).expect("serialises");
        assert!(!json.contains("Key") && !json.contains("Shift"), "{json}");
    }

    #[test]
    fn rollover_typing_stays_in_press_order() {
        // A down, B down, A up, C down, C up, B up: released A, C, B.
        let mut r = Recorder::new();
        r.key_down(100.0, "KeyA");
        r.key_down(140.0, "KeyB");
        r.key_up(170.0, "KeyA");
        r.key_down(200.0, "KeyC");
        r.key_up(230.0, "KeyC");
        r.key_up(260.0, "KeyB");
        let s = r.finish(300.0);
        let t: Vec<_> = s.keys.iter().map(|k| (k.t, k.dwell)).collect();
        assert_eq!(t, [(100.0, 70.0), (140.0, 120.0), (200.0, 30.0)]);
    }

    #[test]
    fn a_pressed_again_key_pairs_with_its_last_press() {
        let mut r = Recorder::new();
        r.key_down(100.0, "KeyA");
        r.key_down(150.0, "KeyA"); // the release was missed (focus left)
        r.key_up(200.0, "KeyA");
        assert_eq!(r.finish(300.0).keys, [KeyTiming { t: 150.0, dwell: 50.0 }]);
    }

    #[test]
    fn touches_restart_at_each_start() {
        let mut r = Recorder::new();
        r.touch(1.0, TouchKind::Start, 10.0, 10.0);
        r.touch(2.0, TouchKind::Move, 14.0, 13.0);
        r.touch(3.0, TouchKind::End, 14.0, 13.0);
        r.touch(9.0, TouchKind::Start, 100.0, 100.0);
        let d: Vec<_> = r.finish(10.0).touch.iter().map(|p| (p.dx, p.dy)).collect();
        assert_eq!(d, [(0.0, 0.0), (4.0, 3.0), (0.0, 0.0), (0.0, 0.0)]);
    }

    #[test]
    fn scroll_is_sampled_every_50_ms() {
        let mut r = Recorder::new();
        for i in 0..10 {
            r.scroll(f64::from(i) * 16.0, f64::from(i) * 10.0);
        }
        let t: Vec<_> = r.finish(200.0).scroll.iter().map(|s| s.t).collect();
        assert_eq!(t, [0.0, 64.0, 128.0]);
    }

    #[test]
    fn caps_keep_the_newest_samples_and_the_payload_valid() {
        let mut r = Recorder::new();
        for i in 0..(MAX_POINTER + 5) {
            r.pointer(i as f64, PointerKind::Move, i as f64, 0.0);
        }
        for i in 0..(MAX_OTHER + 1) {
            r.key_down(i as f64, "KeyA");
            r.key_up(i as f64 + 0.5, "KeyA");
        }
        let s = r.finish(1.0e5);
        assert!(s.pointer.len() <= MAX_POINTER && s.keys.len() <= MAX_OTHER);
        assert_eq!(s.pointer.last().map(|p| p.t), Some((MAX_POINTER + 4) as f64));
        assert_eq!(s.keys.last().map(|k| k.t), Some(MAX_OTHER as f64));
        // The first interaction is remembered even when its sample was dropped.
        assert_eq!(s.first_interaction_ms, Some(0.0));
        assert!(s.validate().is_ok());
    }

    #[test]
    fn held_keys_are_bounded() {
        let mut r = Recorder::new();
        for i in 0..40 {
            r.key_down(f64::from(i), &format!("K{i}"));
        }
        assert_eq!(r.keys_down.len(), MAX_KEYS_HELD);
    }

    #[test]
    fn untrusted_and_pastes_are_only_counted() {
        let mut r = Recorder::new();
        r.untrusted();
        r.paste();
        r.paste();
        assert_eq!(r.activity(), 0);
        let s = r.snapshot(5.0);
        assert_eq!((s.untrusted_events, s.pastes, s.first_interaction_ms), (1, 2, None));
    }
}
