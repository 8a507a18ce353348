//! Gathers behavioural signals from the page into [`Signals`]: timings,
//! relative pointer movements and facts about the browser. Never what was
//! typed or pasted: key events are reduced to press times and durations the
//! moment they happen (the key's `code` is held in memory only to pair a
//! press with its release, and never leaves this module).

use std::cell::RefCell;
use std::rc::Rc;

use oculto_shared::signals::{
    Click, Environment, FocusChange, KeyTiming, PointerKind, PointerSample, ScrollSample, Signals, TouchKind,
    TouchSample, VisibilityChange, MAX_OTHER, MAX_POINTER, VERSION,
};
use wasm_bindgen::JsCast;
use web_sys::{Event, KeyboardEvent, PointerEvent, TouchEvent, Window};

use crate::listen::Listener;

/// The shortest gap kept between two scroll samples, ms.
const SCROLL_GAP_MS: f64 = 50.0;

#[derive(Default)]
struct State {
    signals: Signals,
    last_pointer: Option<(f64, f64)>,
    last_touch: Option<(f64, f64)>,
    pointer_down_at: Option<f64>,
    /// Keys held down: their `code` and press time, only to pair presses
    /// with releases.
    keys_down: Vec<(String, f64)>,
    last_scroll_t: f64,
}

/// Listens to the page until dropped.
pub struct Collector {
    state: Rc<RefCell<State>>,
    window: Window,
    _listeners: Vec<Listener>,
}

/// Milliseconds since the page's navigation start, to 0.1 ms.
pub fn now(window: &Window) -> f64 {
    let t = window.performance().map_or(0.0, |p| p.now());
    (t * 10.0).round() / 10.0
}

fn push_capped<T>(v: &mut Vec<T>, item: T, cap: usize) {
    if v.len() >= cap {
        // Keep the newest: the moments before submit matter most.
        v.drain(..cap / 10);
    }
    v.push(item);
}

impl State {
    fn interacted(&mut self, t: f64) {
        if self.signals.first_interaction_ms.is_none() {
            self.signals.first_interaction_ms = Some(t);
        }
    }

    fn pointer(&mut self, t: f64, k: PointerKind, x: f64, y: f64) {
        let (dx, dy) = self.last_pointer.map_or((0.0, 0.0), |(px, py)| (x - px, y - py));
        self.last_pointer = Some((x, y));
        self.interacted(t);
        push_capped(&mut self.signals.pointer, PointerSample { t, k, dx: dx as f32, dy: dy as f32 }, MAX_POINTER);
    }

    fn touch(&mut self, t: f64, k: TouchKind, x: f64, y: f64) {
        let (dx, dy) = match (k, self.last_touch) {
            (TouchKind::Start, _) | (_, None) => (0.0, 0.0),
            (_, Some((px, py))) => (x - px, y - py),
        };
        self.last_touch = Some((x, y));
        self.interacted(t);
        push_capped(&mut self.signals.touch, TouchSample { t, k, dx: dx as f32, dy: dy as f32 }, MAX_OTHER);
    }
}

impl Collector {
    /// Starts listening on `window` and its document.
    pub fn start(window: &Window) -> Self {
        let state = Rc::new(RefCell::new(State::default()));
        let mut listeners = Vec::new();
        let target: &web_sys::EventTarget = window.as_ref();
        let doc_target: Option<web_sys::EventTarget> = window.document().map(Into::into);

        // Every handler first counts script-made events, then ignores them.
        let on = |name: &'static str, f: fn(&mut State, f64, &Event)| {
            let st = state.clone();
            let w = window.clone();
            Listener::observe(target, name, move |e: Event| {
                let mut s = st.borrow_mut();
                if !e.is_trusted() {
                    s.signals.untrusted_events = s.signals.untrusted_events.saturating_add(1);
                    return;
                }
                f(&mut s, now(&w), &e);
            })
        };

        listeners.push(on("pointermove", |s, t, e| {
            if let Some(p) = e.dyn_ref::<PointerEvent>().filter(|p| p.pointer_type() != "touch") {
                s.pointer(t, PointerKind::Move, f64::from(p.client_x()), f64::from(p.client_y()));
            }
        }));
        listeners.push(on("pointerdown", |s, t, e| {
            if let Some(p) = e.dyn_ref::<PointerEvent>().filter(|p| p.pointer_type() != "touch") {
                s.pointer(t, PointerKind::Down, f64::from(p.client_x()), f64::from(p.client_y()));
                s.pointer_down_at = Some(t);
            }
        }));
        listeners.push(on("pointerup", |s, t, e| {
            if let Some(p) = e.dyn_ref::<PointerEvent>().filter(|p| p.pointer_type() != "touch") {
                s.pointer(t, PointerKind::Up, f64::from(p.client_x()), f64::from(p.client_y()));
                if let Some(down) = s.pointer_down_at.take() {
                    push_capped(&mut s.signals.clicks, Click { t: down, dwell: t - down }, MAX_OTHER);
                }
            }
        }));
        for (name, kind) in
            [("touchstart", TouchKind::Start), ("touchmove", TouchKind::Move), ("touchend", TouchKind::End)]
        {
            let st = state.clone();
            let w = window.clone();
            listeners.push(Listener::observe(target, name, move |e: Event| {
                let mut s = st.borrow_mut();
                if !e.is_trusted() {
                    s.signals.untrusted_events = s.signals.untrusted_events.saturating_add(1);
                    return;
                }
                let Some(te) = e.dyn_ref::<TouchEvent>() else { return };
                let point = te.changed_touches().get(0);
                let (x, y) = point.map_or((0.0, 0.0), |p| (f64::from(p.client_x()), f64::from(p.client_y())));
                s.touch(now(&w), kind, x, y);
            }));
        }
        listeners.push(on("keydown", |s, t, e| {
            if let Some(k) = e.dyn_ref::<KeyboardEvent>().filter(|k| !k.repeat()) {
                s.interacted(t);
                let code = k.code();
                s.keys_down.retain(|(c, _)| *c != code);
                if s.keys_down.len() < 16 {
                    s.keys_down.push((code, t));
                }
            }
        }));
        listeners.push(on("keyup", |s, t, e| {
            let code = e.dyn_ref::<KeyboardEvent>().map(KeyboardEvent::code);
            let held = code.and_then(|c| s.keys_down.iter().position(|(k, _)| *k == c));
            if let Some(down) = held.map(|i| s.keys_down.swap_remove(i).1) {
                push_capped(&mut s.signals.keys, KeyTiming { t: down, dwell: t - down }, MAX_OTHER);
            }
        }));
        listeners.push(on("paste", |s, _, _| s.signals.pastes = s.signals.pastes.saturating_add(1)));
        listeners.push(on("scroll", |s, t, _| {
            if t - s.last_scroll_t >= SCROLL_GAP_MS {
                s.last_scroll_t = t;
                let y = web_sys::window().and_then(|w| w.scroll_y().ok()).unwrap_or(0.0);
                push_capped(&mut s.signals.scroll, ScrollSample { t, y: y as f32 }, MAX_OTHER);
            }
        }));
        listeners.push(on("focusin", |s, t, _| {
            push_capped(&mut s.signals.focus, FocusChange { t, focused: true }, MAX_OTHER)
        }));
        listeners.push(on("focusout", |s, t, _| {
            push_capped(&mut s.signals.focus, FocusChange { t, focused: false }, MAX_OTHER)
        }));
        if let Some(doc) = &doc_target {
            let st = state.clone();
            let w = window.clone();
            listeners.push(Listener::observe(doc, "visibilitychange", move |_| {
                let visible = w.document().is_some_and(|d| d.visibility_state() == web_sys::VisibilityState::Visible);
                push_capped(
                    &mut st.borrow_mut().signals.visibility,
                    VisibilityChange { t: now(&w), visible },
                    MAX_OTHER,
                );
            }));
        }
        Self { state, window: window.clone(), _listeners: listeners }
    }

    /// How many trusted interactions were seen so far.
    pub fn activity(&self) -> usize {
        let s = &self.state.borrow().signals;
        s.pointer.len() + s.keys.len() + s.clicks.len() + s.touch.len() + s.scroll.len()
    }

    /// What was observed so far, with the environment and the elapsed time.
    pub fn snapshot(&self) -> Signals {
        let mut s = self.state.borrow().signals.clone();
        s.v = VERSION;
        s.elapsed_ms = now(&self.window);
        s.env = environment(&self.window);
        s
    }
}

fn get(obj: &wasm_bindgen::JsValue, key: &str) -> wasm_bindgen::JsValue {
    js_sys::Reflect::get(obj, &key.into()).unwrap_or(wasm_bindgen::JsValue::UNDEFINED)
}

/// Facts about the browser, as the page sees them.
fn environment(w: &Window) -> Environment {
    let nav = w.navigator();
    let mut env = Environment {
        webdriver: get(&nav, "webdriver").is_truthy(),
        user_agent: nav.user_agent().unwrap_or_default(),
        languages: nav.languages().iter().filter_map(|l| l.as_string()).collect(),
        hardware_concurrency: nav.hardware_concurrency() as u32,
        max_touch_points: nav.max_touch_points().max(0) as u32,
        pixel_ratio: w.device_pixel_ratio() as f32,
        ..Default::default()
    };
    if let Ok(screen) = w.screen() {
        env.screen = [screen.width().unwrap_or(0).max(0) as u32, screen.height().unwrap_or(0).max(0) as u32];
    }
    let size = |v: Result<wasm_bindgen::JsValue, wasm_bindgen::JsValue>| {
        v.ok().and_then(|v| v.as_f64()).unwrap_or(0.0).max(0.0) as u32
    };
    env.window = [size(w.inner_width()), size(w.inner_height())];
    env.reduced_motion = w.match_media("(prefers-reduced-motion: reduce)").ok().flatten().is_some_and(|m| m.matches());
    // Client hints are not in every browser, nor in web-sys's stable API.
    let hints = get(&nav, "userAgentData");
    if hints.is_object() {
        env.ua_platform = get(&hints, "platform").as_string();
        env.ua_mobile = get(&hints, "mobile").as_bool();
        if let Ok(brands) = get(&hints, "brands").dyn_into::<js_sys::Array>() {
            env.ua_brands = brands
                .iter()
                .filter_map(|b| {
                    let mut brand = get(&b, "brand").as_string()?;
                    brand.push('/');
                    brand.push_str(&get(&b, "version").as_string()?);
                    Some(brand)
                })
                .collect();
        }
    }
    env
}
