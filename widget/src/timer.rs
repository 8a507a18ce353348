//! Timeouts that cancel themselves when dropped, so a removed widget leaves
//! no timer behind.

use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;

/// Resolves after `ms` milliseconds (at once without a window).
pub async fn sleep(ms: i32) {
    let Some(window) = web_sys::window() else { return };
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        if window.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms).is_err() {
            resolve.call0(&wasm_bindgen::JsValue::UNDEFINED).ok();
        }
    });
    wasm_bindgen_futures::JsFuture::from(promise).await.ok();
}

/// A pending `setTimeout`, cleared on drop.
pub struct Timeout {
    id: i32,
    _closure: Closure<dyn FnMut()>,
}

impl Timeout {
    /// Runs `f` once after `ms` milliseconds; `None` without a window.
    pub fn new(ms: i32, f: impl FnOnce() + 'static) -> Option<Self> {
        let window = web_sys::window()?;
        let mut f = Some(f);
        let closure = Closure::<dyn FnMut()>::new(move || {
            if let Some(f) = f.take() {
                f();
            }
        });
        let id =
            window.set_timeout_with_callback_and_timeout_and_arguments_0(closure.as_ref().unchecked_ref(), ms).ok()?;
        Some(Self { id, _closure: closure })
    }
}

impl Drop for Timeout {
    fn drop(&mut self) {
        if let Some(w) = web_sys::window() {
            w.clear_timeout_with_handle(self.id);
        }
    }
}
