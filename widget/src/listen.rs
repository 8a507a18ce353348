//! Event listeners that remove themselves: dropping a [`Listener`] calls
//! `removeEventListener` and frees the closure, so a removed widget leaves
//! nothing behind on the page (no `Closure::forget`).

use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use web_sys::{AddEventListenerOptions, Event, EventTarget};

/// One registered listener, removed on drop.
pub struct Listener {
    target: EventTarget,
    name: &'static str,
    capture: bool,
    closure: Closure<dyn FnMut(Event)>,
}

impl Listener {
    /// Observes `name` on `target`: passive (it never blocks scrolling) and
    /// in the capture phase, so the page stopping propagation hides nothing.
    pub fn observe(target: &EventTarget, name: &'static str, f: impl FnMut(Event) + 'static) -> Self {
        Self::new(target, name, true, true, f)
    }

    /// Handles `name` on `target` with the right to `preventDefault` (a
    /// form's submit).
    pub fn intercept(target: &EventTarget, name: &'static str, f: impl FnMut(Event) + 'static) -> Self {
        Self::new(target, name, false, false, f)
    }

    fn new(
        target: &EventTarget,
        name: &'static str,
        capture: bool,
        passive: bool,
        f: impl FnMut(Event) + 'static,
    ) -> Self {
        let closure = Closure::<dyn FnMut(Event)>::new(f);
        let opts = AddEventListenerOptions::new();
        opts.set_capture(capture);
        opts.set_passive(passive);
        // Adding a listener to a live target cannot fail in practice; if it
        // did, the widget simply sees fewer events.
        let _ = target.add_event_listener_with_callback_and_add_event_listener_options(
            name,
            closure.as_ref().unchecked_ref(),
            &opts,
        );
        Self { target: target.clone(), name, capture, closure }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = self.target.remove_event_listener_with_callback_and_bool(
            self.name,
            self.closure.as_ref().unchecked_ref(),
            self.capture,
        );
    }
}
