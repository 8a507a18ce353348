//! Gathers behavioural signals from the page into [`Signals`]: timings,
//! relative pointer movements and facts about the browser. Never what was
//! typed or pasted: key events are reduced to press times and durations the
//! moment they happen (the key's `code` is held in memory only to pair a
//! press with its release, and never leaves the recorder).
//!
//! The encoding itself is [`Recorder`], shared with the verifier's
//! evaluation so that recorded traces become exactly this payload; this
//! module only turns browser events into its calls.

use std::cell::RefCell;
use std::rc::Rc;

use oculto_shared::signals::{Environment, PointerKind, Recorder, Signals, TouchKind, MOVEMENT_PAUSE_MS};
use wasm_bindgen::JsCast;
use web_sys::{Event, KeyboardEvent, PointerEvent, TouchEvent, Window};

use crate::listen::Listener;

/// Listens to the page until dropped.
pub struct Collector {
    state: Rc<RefCell<Recorder>>,
    window: Window,
    _listeners: Vec<Listener>,
}

/// The longest [`Collector::settle`] waits for the pointer to rest, ms.
pub const MAX_SETTLE_MS: f64 = 2000.0;

/// Elements a press is aimed at as a whole: the press's offset is measured
/// from the centre of the nearest of these around its target (a click on a
/// button's label is a click on the button).
const AIMED: &str = "button,a,input,select,textarea,label,summary,[role],[tabindex]";

/// The pointer's position with its fraction (`clientX` is fractional for
/// pointer events; `client_x()` would truncate it), CSS px.
fn client_position(p: &PointerEvent) -> (f64, f64) {
    let get = |name: &str| js_sys::Reflect::get(p, &name.into()).ok().and_then(|v| v.as_f64()).unwrap_or(0.0);
    (get("clientX"), get("clientY"))
}

/// The centre of the element a press landed on (in a shadow tree too: the
/// first element of the composed path), or of the nearest aimed element
/// around it, in client CSS px.
fn pressed_centre(e: &Event) -> Option<(f64, f64)> {
    let target = e.composed_path().get(0).dyn_into::<web_sys::Element>().ok()?;
    let aimed = target.closest(AIMED).ok().flatten().unwrap_or(target);
    let r = aimed.get_bounding_client_rect();
    (r.width() > 0.0 && r.height() > 0.0).then(|| (r.x() + r.width() / 2.0, r.y() + r.height() / 2.0))
}

/// Milliseconds since the page's navigation start, to 0.1 ms.
pub fn now(window: &Window) -> f64 {
    let t = window.performance().map_or(0.0, |p| p.now());
    (t * 10.0).round() / 10.0
}

impl Collector {
    /// Starts listening on `window` and its document.
    pub fn start(window: &Window) -> Self {
        let state = Rc::new(RefCell::new(Recorder::new()));
        let mut listeners = Vec::new();
        let target: &web_sys::EventTarget = window.as_ref();
        let doc_target: Option<web_sys::EventTarget> = window.document().map(Into::into);

        // Every handler first counts script-made events, then ignores them.
        let on = |name: &'static str, f: fn(&mut Recorder, f64, &Event)| {
            let st = state.clone();
            let w = window.clone();
            Listener::observe(target, name, move |e: Event| {
                let mut s = st.borrow_mut();
                if !e.is_trusted() {
                    s.untrusted();
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
                let (x, y) = client_position(p);
                s.pointer(t, PointerKind::Down, f64::from(p.client_x()), f64::from(p.client_y()));
                if let Some((cx, cy)) = pressed_centre(e) {
                    s.press_offset(x - cx, y - cy);
                }
            }
        }));
        listeners.push(on("pointerup", |s, t, e| {
            if let Some(p) = e.dyn_ref::<PointerEvent>().filter(|p| p.pointer_type() != "touch") {
                s.pointer(t, PointerKind::Up, f64::from(p.client_x()), f64::from(p.client_y()));
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
                    s.untrusted();
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
                s.key_down(t, &k.code());
            }
        }));
        listeners.push(on("keyup", |s, t, e| {
            if let Some(k) = e.dyn_ref::<KeyboardEvent>() {
                s.key_up(t, &k.code());
            }
        }));
        listeners.push(on("paste", |s, _, _| s.paste()));
        listeners.push(on("scroll", |s, t, _| {
            let y = web_sys::window().and_then(|w| w.scroll_y().ok()).unwrap_or(0.0);
            s.scroll(t, y);
        }));
        listeners.push(on("focusin", |s, t, _| s.focus(t, true)));
        listeners.push(on("focusout", |s, t, _| s.focus(t, false)));
        if let Some(doc) = &doc_target {
            let st = state.clone();
            let w = window.clone();
            listeners.push(Listener::observe(doc, "visibilitychange", move |_| {
                let visible = w.document().is_some_and(|d| d.visibility_state() == web_sys::VisibilityState::Visible);
                st.borrow_mut().visibility(now(&w), visible);
            }));
        }
        Self { state, window: window.clone(), _listeners: listeners }
    }

    /// How many trusted interactions were seen so far.
    pub fn activity(&self) -> usize {
        self.state.borrow().activity()
    }

    /// Waits until the pointer has rested for [`MOVEMENT_PAUSE_MS`] or
    /// pressed, at most [`MAX_SETTLE_MS`]: a payload built in the middle of
    /// a reach would show it cut off at its fastest, as a bot's that never
    /// slows down.
    pub async fn settle(&self) {
        let start = now(&self.window);
        loop {
            let t = now(&self.window);
            let idle = self.state.borrow().open_move().map_or(f64::INFINITY, |last| t - last);
            if idle >= MOVEMENT_PAUSE_MS || t - start >= MAX_SETTLE_MS {
                return;
            }
            crate::timer::sleep((MOVEMENT_PAUSE_MS - idle).clamp(16.0, MOVEMENT_PAUSE_MS) as i32).await;
        }
    }

    /// What was observed so far, with the environment and the elapsed time.
    pub fn snapshot(&self) -> Signals {
        let mut s = self.state.borrow().snapshot(now(&self.window));
        s.env = environment(&self.window);
        s
    }
}

fn get(obj: &wasm_bindgen::JsValue, key: &str) -> wasm_bindgen::JsValue {
    js_sys::Reflect::get(obj, &key.into()).unwrap_or(wasm_bindgen::JsValue::UNDEFINED)
}

thread_local! {
    /// The WebGL renderer's name, asked once per page: a WebGL context is
    /// not free.
    static RENDERER: std::cell::OnceCell<Option<String>> = const { std::cell::OnceCell::new() };
}

/// `WEBGL_debug_renderer_info`'s `UNMASKED_RENDERER_WEBGL`.
const UNMASKED_RENDERER_WEBGL: f64 = 37_446.0;

/// The WebGL renderer's name: `RENDERER`, unless it is the generic
/// `WebKit WebGL` that Chromium and Safari give there, then the unmasked
/// one (Firefox warns that the extension is deprecated, and names a
/// sanitised renderer in `RENDERER` itself). `None` without WebGL. The
/// context is released at once.
fn renderer(w: &Window) -> Option<String> {
    let canvas: web_sys::HtmlCanvasElement = w.document()?.create_element("canvas").ok()?.dyn_into().ok()?;
    let gl: wasm_bindgen::JsValue = canvas.get_context("webgl").ok()??.into();
    let call = |obj: &wasm_bindgen::JsValue, method: &str, arg: &wasm_bindgen::JsValue| {
        get(obj, method).dyn_into::<js_sys::Function>().ok()?.call1(obj, arg).ok().filter(|v| !v.is_null())
    };
    let named = call(&gl, "getParameter", &get(&gl, "RENDERER")).and_then(|v| v.as_string());
    let name = match named {
        Some(n) if n != "WebKit WebGL" => Some(n),
        generic => call(&gl, "getExtension", &"WEBGL_debug_renderer_info".into())
            .and_then(|_| call(&gl, "getParameter", &UNMASKED_RENDERER_WEBGL.into()))
            .and_then(|v| v.as_string())
            .or(generic),
    };
    if let Some(lose) = call(&gl, "getExtension", &"WEBGL_lose_context".into()) {
        if let Ok(f) = get(&lose, "loseContext").dyn_into::<js_sys::Function>() {
            let _ = f.call0(&lose);
        }
    }
    name.map(|n| n.chars().take(oculto_shared::signals::MAX_RENDERER).collect())
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
    env.renderer = RENDERER.with(|r| r.get_or_init(|| renderer(w)).clone());
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
