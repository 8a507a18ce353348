//! Solving the proof of work without ever blocking the page: in a Web
//! Worker running this same wasm when the page can start one, otherwise on
//! the main thread in slices of a few milliseconds with a yield between
//! them. Either way an energy budget caps the work: past it the widget stops
//! hashing and tells the verifier, which asks for a step-up instead.

use std::cell::RefCell;
use std::rc::Rc;

use oculto_shared::pow::{PowChallenge, Prefix};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{MessageEvent, Worker};

/// Main-thread slice length, ms: short enough that no task is long.
const SLICE_MS: f64 = 4.0;
/// Hashes between two looks at the clock.
const CHECK_EVERY: u64 = 256;
/// Time a worker gets to load its module, beyond the budget, ms.
const WORKER_START_MS: f64 = 3_000.0;

/// How a solve ended.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Outcome {
    /// Found a nonce.
    Solved {
        /// The nonce.
        nonce: u64,
        /// Time spent, ms.
        elapsed_ms: f64,
        /// Whether a worker did it.
        in_worker: bool,
    },
    /// Hit the energy budget first.
    OverBudget {
        /// Time spent, ms.
        elapsed_ms: f64,
    },
}

fn now() -> f64 {
    let perf = js_sys::Reflect::get(&js_sys::global(), &"performance".into()).ok();
    perf.and_then(|p| p.dyn_into::<web_sys::Performance>().ok()).map_or(0.0, |p| p.now())
}

/// Hashes a worker tries between two progress reports.
const WORKER_CHUNK: u32 = 50_000;

/// The worker's whole job, called from its `onmessage` with the challenge:
/// solves in chunks, posts `{tried}` after each, then `{nonce}` or
/// `{gaveUp}` once over the budget.
#[wasm_bindgen(js_name = workerSolve)]
pub fn worker_solve(msg: JsValue) {
    let scope: web_sys::DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
    let text = |k: &str| field(&msg, k).as_string().unwrap_or_default();
    let difficulty = field(&msg, "difficulty").as_f64().unwrap_or(0.0) as u8;
    let budget_ms = field(&msg, "budgetMs").as_f64().unwrap_or(2_000.0);
    let prefix = Prefix::new(&text("sessionId"), &text("siteKey"), &text("salt"));
    let post = |k: &str, v: JsValue, tried: u64| {
        let o = js_sys::Object::new();
        let _ = js_sys::Reflect::set(&o, &k.into(), &v);
        let _ = js_sys::Reflect::set(&o, &"tried".into(), &JsValue::from(tried as f64));
        let _ = scope.post_message(&o);
    };
    let started = now();
    let mut start = 0u64;
    loop {
        if let Some(n) = prefix.solve_range(difficulty, start, u64::from(WORKER_CHUNK)) {
            post("nonce", JsValue::from(n as f64), n + 1);
            return;
        }
        start += u64::from(WORKER_CHUNK);
        if now() - started > budget_ms {
            post("gaveUp", JsValue::TRUE, start);
            return;
        }
        post("progress", JsValue::TRUE, start);
    }
}

/// Yields to the event loop through a message port: unlike `setTimeout(0)`,
/// never clamped to 4 ms.
async fn yield_now() {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        if let Ok(ch) = web_sys::MessageChannel::new() {
            ch.port1().set_onmessage(Some(resolve.unchecked_ref()));
            let _ = ch.port2().post_message(&JsValue::NULL);
        } else {
            let _ = resolve.call0(&JsValue::NULL);
        }
    });
    let _ = JsFuture::from(promise).await;
}

/// Solves on the main thread in slices. `progress` gets the hashes tried.
async fn on_main_thread(prefix: Prefix, difficulty: u8, budget_ms: f64, progress: &dyn Fn(u64)) -> Outcome {
    let started = now();
    let mut nonce = 0u64;
    loop {
        let slice_end = now() + SLICE_MS;
        loop {
            if let Some(n) = prefix.solve_range(difficulty, nonce, CHECK_EVERY) {
                return Outcome::Solved { nonce: n, elapsed_ms: now() - started, in_worker: false };
            }
            nonce += CHECK_EVERY;
            if now() >= slice_end {
                break;
            }
        }
        progress(nonce);
        if now() - started > budget_ms {
            return Outcome::OverBudget { elapsed_ms: now() - started };
        }
        yield_now().await;
    }
}

fn field(v: &JsValue, k: &str) -> JsValue {
    js_sys::Reflect::get(v, &k.into()).unwrap_or(JsValue::UNDEFINED)
}

/// Solves in the worker `make_worker` returns; `None` when the worker cannot
/// start or fails (a CSP without `worker-src`, say).
async fn in_worker(
    make_worker: &js_sys::Function,
    msg: &JsValue,
    budget_ms: f64,
    progress: &Rc<dyn Fn(u64)>,
) -> Option<Outcome> {
    let worker: Worker = make_worker.call0(&JsValue::NULL).ok()?.dyn_into().ok()?;
    let started = now();
    let done: Rc<RefCell<Option<js_sys::Function>>> = Rc::new(RefCell::new(None));
    let promise = {
        let done = done.clone();
        js_sys::Promise::new(&mut |resolve, _| *done.borrow_mut() = Some(resolve))
    };
    let on_message = {
        let done = done.clone();
        let progress = progress.clone();
        Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
            let data = e.data();
            if let Some(tried) = field(&data, "tried").as_f64() {
                progress(tried as u64);
            }
            let finished = !field(&data, "nonce").is_undefined() || field(&data, "gaveUp").is_truthy();
            if finished {
                if let Some(r) = done.borrow_mut().take() {
                    let _ = r.call1(&JsValue::NULL, &data);
                }
            }
        })
    };
    let on_error = {
        let done = done.clone();
        Closure::<dyn FnMut(JsValue)>::new(move |_| {
            if let Some(r) = done.borrow_mut().take() {
                let _ = r.call1(&JsValue::NULL, &JsValue::NULL);
            }
        })
    };
    worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    if worker.post_message(msg).is_err() {
        worker.terminate();
        return None;
    }
    // A worker whose module never loads sends nothing: give up on it.
    let watchdog = {
        let done = done.clone();
        Closure::<dyn FnMut()>::new(move || {
            if let Some(r) = done.borrow_mut().take() {
                let _ = r.call1(&JsValue::NULL, &JsValue::NULL);
            }
        })
    };
    let window = web_sys::window()?;
    let silent_ms = (budget_ms + WORKER_START_MS) as i32;
    let timer =
        window.set_timeout_with_callback_and_timeout_and_arguments_0(watchdog.as_ref().unchecked_ref(), silent_ms).ok();
    let data = JsFuture::from(promise).await.ok();
    if let Some(t) = timer {
        window.clear_timeout_with_handle(t);
    }
    worker.terminate();
    let data = data.filter(|d| d.is_object())?;
    let elapsed_ms = now() - started;
    match field(&data, "nonce").as_f64() {
        Some(n) => Some(Outcome::Solved { nonce: n as u64, elapsed_ms, in_worker: true }),
        None => Some(Outcome::OverBudget { elapsed_ms }),
    }
}

/// Solves `challenge` for a session, in a worker if `make_worker` gives one
/// that works, else on the main thread, within `budget_ms`.
pub async fn solve(
    session_id: &str,
    site_key: &str,
    challenge: &PowChallenge,
    budget_ms: f64,
    make_worker: Option<&js_sys::Function>,
    progress: Rc<dyn Fn(u64)>,
) -> Outcome {
    if let Some(make) = make_worker {
        let msg = js_sys::Object::new();
        for (k, v) in [
            ("sessionId", JsValue::from_str(session_id)),
            ("siteKey", JsValue::from_str(site_key)),
            ("salt", JsValue::from_str(&challenge.salt)),
            ("difficulty", JsValue::from(challenge.difficulty)),
            ("budgetMs", JsValue::from(budget_ms)),
        ] {
            let _ = js_sys::Reflect::set(&msg, &k.into(), &v);
        }
        if let Some(outcome) = in_worker(make, &msg, budget_ms, &progress).await {
            return outcome;
        }
    }
    let prefix = Prefix::new(session_id, site_key, &challenge.salt);
    on_main_thread(prefix, challenge.difficulty, budget_ms, &*progress).await
}
