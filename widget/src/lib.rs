//! Oculto's browser widget, compiled to WebAssembly.
//!
//! # Brief overview
//!
//! The JS loader (`js/oculto.js` for script tags, `js/index.js` for npm)
//! finds the `.oculto` elements, turns their `data-*` attributes or the
//! `render()` options into [`Options`], and creates one [`Widget`] each.
//! A widget:
//!
//! 1. starts a [`collect::Collector`] that listens to the page (timings and
//!    relative movements only) and draws its [`ui::Ui`];
//! 2. on the first interaction (or `execute()`, or the form's submit) opens a
//!    session with `/init` and solves its proof of work ([`pow`]), in a
//!    worker when the page allows one;
//! 3. posts the signals and the solution to `/score` ([`client`]) and puts the
//!    verdict token into the form's hidden `_co_verdict` field;
//! 4. keeps that token fresh: a new one before it expires, and a new one after
//!    each submit, so a form sent twice never carries a spent token.
//!
//! The widget shows success whatever the verdict says: only the site's
//! backend learns the score, from `/verify`.
#![deny(clippy::unwrap_used)]

#[cfg(target_arch = "wasm32")]
#[global_allocator]
#[allow(unsafe_code)]
static ALLOCATOR: lol_alloc::AssumeSingleThreaded<lol_alloc::FreeListAllocator> =
    // SAFETY: wasm32 here has no threads: the page and each worker run their
    // own instance of the module, with their own memory.
    unsafe { lol_alloc::AssumeSingleThreaded::new(lol_alloc::FreeListAllocator::new()) };

pub mod client;
pub mod collect;
pub mod i18n;
pub mod listen;
pub mod pow;
pub mod timer;
pub mod ui;

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use oculto_shared::api::{routes, InitRequest, InitResponse, ScoreRequest, ScoreResponse};
use oculto_shared::pow::PowSolution;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{CustomEvent, CustomEventInit, HtmlElement, HtmlFormElement, HtmlInputElement};

use crate::client::ClientError;
use crate::collect::Collector;
use crate::listen::Listener;
use crate::timer::Timeout;
use crate::ui::{ErrorText, Ui, View};

/// Tokens are refreshed this long before they expire, seconds.
const REFRESH_BEFORE_EXPIRY_S: f64 = 30.0;
/// After a submit, the spent token is replaced after this delay, ms: long
/// enough for a classic form post to leave the page first.
const RESUBMIT_REFRESH_MS: i32 = 1_500;

/// The widget's settings, as the loader normalizes them.
#[derive(Debug, Clone)]
pub struct Options {
    /// The site key.
    pub sitekey: String,
    /// The verifier's base URL.
    pub verifier: String,
    /// `light`, `dark` or `auto`.
    pub theme: String,
    /// A language tag, or empty for the page's.
    pub language: String,
    /// The action the page names.
    pub action: Option<String>,
    /// Customer data returned to the backend.
    pub cdata: Option<String>,
    /// `normal`, `compact` or `invisible`.
    pub size: String,
    /// `render`: verify on the first interaction; `execute`: only when
    /// `execute()` is called or the form is submitted.
    pub execution: String,
    /// The hidden field's name.
    pub response_field_name: String,
    /// Whether to add the hidden field to the form.
    pub response_field: bool,
    /// `auto`: renew an expiring token; `manual`: show "expired" and wait.
    pub refresh_expired: String,
    /// Most time spent on the proof of work before escalating, ms.
    pub budget_ms: f64,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            sitekey: String::new(),
            verifier: String::new(),
            theme: "auto".into(),
            language: String::new(),
            action: None,
            cdata: None,
            size: "normal".into(),
            execution: "render".into(),
            response_field_name: oculto_shared::FORM_FIELD.into(),
            response_field: true,
            refresh_expired: "auto".into(),
            budget_ms: 2_000.0,
        }
    }
}

impl Options {
    /// Reads the loader's options object; missing or mistyped fields keep
    /// their defaults.
    fn from_js(o: &JsValue) -> Self {
        let get = |k: &str| js_sys::Reflect::get(o, &k.into()).unwrap_or(JsValue::UNDEFINED);
        let text = |k: &str| get(k).as_string();
        let mut opts = Self::default();
        let fields: [(&str, &mut String); 8] = [
            ("sitekey", &mut opts.sitekey),
            ("verifier", &mut opts.verifier),
            ("theme", &mut opts.theme),
            ("language", &mut opts.language),
            ("size", &mut opts.size),
            ("execution", &mut opts.execution),
            ("responseFieldName", &mut opts.response_field_name),
            ("refreshExpired", &mut opts.refresh_expired),
        ];
        for (k, slot) in fields {
            if let Some(v) = text(k) {
                *slot = v;
            }
        }
        opts.action = text("action").filter(|a| !a.is_empty());
        opts.cdata = text("cdata").filter(|c| !c.is_empty());
        if let Some(b) = get("responseField").as_bool() {
            opts.response_field = b;
        }
        if let Some(ms) = get("budgetMs").as_f64().filter(|ms| *ms > 0.0) {
            opts.budget_ms = ms;
        }
        opts
    }
}

/// Where a widget is in its life.
#[derive(Debug, Clone, PartialEq)]
enum Phase {
    Idle,
    Working,
    Verified { token: String, submitted: bool },
    Expired,
    Failed,
}

/// A session opened and solved ahead of `/score`.
struct Prepared {
    init: InitResponse,
    /// The secret whose hash bound the session to this page.
    secret: String,
    pow: Option<PowSolution>,
    gave_up_ms: Option<u32>,
}

struct Inner {
    opts: Options,
    host: HtmlElement,
    form: Option<HtmlFormElement>,
    field: Option<HtmlInputElement>,
    field_created: bool,
    ui: Option<Rc<Ui>>,
    collector: Collector,
    make_worker: Option<js_sys::Function>,
    phase: RefCell<Phase>,
    waiters: RefCell<Vec<(js_sys::Function, js_sys::Function)>>,
    started: Cell<bool>,
    expiry: RefCell<Option<Timeout>>,
    listeners: RefCell<Vec<Listener>>,
    /// The button that submitted the form while a token was being made.
    pending_submitter: RefCell<Option<Option<HtmlElement>>>,
    /// The next session, opened and solved in the background.
    prepared: RefCell<Option<Prepared>>,
    preparing: Cell<bool>,
    /// Interactions seen when the current token was made.
    activity_at_token: Cell<usize>,
}

/// One widget on the page. Dropping it (`remove()`) takes its listeners,
/// timers, elements and hidden field away.
#[wasm_bindgen]
pub struct Widget {
    inner: Rc<Inner>,
}

fn js_err<E>(_: E) -> JsValue {
    JsValue::from_str("oculto: unexpected element")
}

#[wasm_bindgen]
impl Widget {
    /// Renders a widget in `host` with `options` (see [`Options`]).
    /// `make_worker`, when given, returns a new proof of work `Worker`.
    #[wasm_bindgen(constructor)]
    pub fn new(host: HtmlElement, options: JsValue, make_worker: Option<js_sys::Function>) -> Result<Widget, JsValue> {
        let opts = Options::from_js(&options);
        if opts.sitekey.is_empty() {
            return Err(JsValue::from_str("oculto: a sitekey is required"));
        }
        let window = web_sys::window().ok_or("oculto: no window")?;
        let doc = window.document().ok_or("oculto: no document")?;
        let form = host.closest("form").ok().flatten().and_then(|f| f.dyn_into::<HtmlFormElement>().ok());
        let (field, field_created) = match (&form, opts.response_field) {
            (Some(f), true) => {
                let mut selector = String::from("input[name=\"");
                selector.push_str(&opts.response_field_name.replace(['"', '\\'], ""));
                selector.push_str("\"]");
                match f.query_selector(&selector).ok().flatten().and_then(|e| e.dyn_into::<HtmlInputElement>().ok()) {
                    Some(existing) => (Some(existing), false),
                    None => {
                        let input: HtmlInputElement = doc.create_element("input")?.dyn_into().map_err(js_err)?;
                        input.set_type("hidden");
                        input.set_name(&opts.response_field_name);
                        host.append_child(&input)?;
                        (Some(input), true)
                    }
                }
            }
            _ => (None, false),
        };
        let language = i18n::pick(Some(&opts.language));
        let texts = i18n::texts(&language);
        let ui = if opts.size == "invisible" {
            None
        } else {
            Some(Rc::new(Ui::new(&host, texts, &opts.theme, opts.size == "compact")?))
        };
        let inner = Rc::new(Inner {
            collector: Collector::start(&window),
            opts,
            host,
            form,
            field,
            field_created,
            ui,
            make_worker,
            phase: RefCell::new(Phase::Idle),
            waiters: RefCell::new(Vec::new()),
            started: Cell::new(false),
            expiry: RefCell::new(None),
            listeners: RefCell::new(Vec::new()),
            pending_submitter: RefCell::new(None),
            prepared: RefCell::new(None),
            preparing: Cell::new(false),
            activity_at_token: Cell::new(0),
        });
        Inner::wire(&inner, &window);
        Ok(Widget { inner })
    }

    /// Gets a token: the current one if fresh and unused, else a new one.
    /// Resolves with the token, rejects with an error code.
    /// A single-page app calls it in its submit handler: when the person did
    /// more since the current token, a new verdict is made on everything.
    pub fn execute(&self) -> js_sys::Promise {
        let inner = self.inner.clone();
        js_sys::Promise::new(&mut |resolve, reject| {
            if let Phase::Verified { token, submitted: false } = &*inner.phase.borrow() {
                if !inner.should_rescore() {
                    let _ = resolve.call1(&JsValue::NULL, &JsValue::from_str(token));
                    return;
                }
            }
            inner.waiters.borrow_mut().push((resolve, reject));
            Inner::start(&inner);
        })
    }

    /// Forgets the current token (for example after the backend refused the
    /// form) and makes a new one.
    pub fn reset(&self) {
        Inner::clear(&self.inner);
        *self.inner.phase.borrow_mut() = Phase::Idle;
        self.inner.show(View::Idle);
        if self.inner.opts.execution == "render" && self.inner.started.get() {
            Inner::start(&self.inner);
        }
    }

    /// The current token, if any.
    #[wasm_bindgen(js_name = getResponse)]
    pub fn get_response(&self) -> Option<String> {
        match &*self.inner.phase.borrow() {
            Phase::Verified { token, .. } => Some(token.clone()),
            _ => None,
        }
    }

    /// Whether the current token was already submitted once.
    #[wasm_bindgen(js_name = isSpent)]
    pub fn is_spent(&self) -> bool {
        matches!(&*self.inner.phase.borrow(), Phase::Verified { submitted: true, .. })
    }

    /// Takes the widget off the page.
    pub fn remove(self) {
        self.inner.listeners.borrow_mut().clear();
        self.inner.expiry.borrow_mut().take();
        if let Some(ui) = &self.inner.ui {
            ui.remove();
        }
        if self.inner.field_created {
            if let Some(f) = &self.inner.field {
                f.remove();
            }
        }
    }
}

impl Inner {
    fn show(&self, view: View) {
        if let Some(ui) = &self.ui {
            ui.show(view);
        }
    }

    fn emit(&self, name: &str, detail: &JsValue) {
        let init = CustomEventInit::new();
        init.set_bubbles(true);
        init.set_composed(true);
        init.set_detail(detail);
        if let Ok(e) = CustomEvent::new_with_event_init_dict(name, &init) {
            let _ = self.host.dispatch_event(&e);
        }
    }

    fn set_field(&self, value: &str) {
        if let Some(f) = &self.field {
            f.set_value(value);
        }
    }

    /// Submit buttons are disabled while a token is being made.
    fn hold_submit(&self, hold: bool) {
        let Some(form) = &self.form else { return };
        let Ok(buttons) = form.query_selector_all("button:not([type]),button[type=submit],input[type=submit]") else {
            return;
        };
        for i in 0..buttons.length() {
            if let Some(b) = buttons.item(i) {
                let el: &web_sys::Element = b.unchecked_ref();
                if hold {
                    if !el.has_attribute("disabled") {
                        let _ = el.set_attribute("disabled", "");
                        let _ = el.set_attribute("data-oculto-held", "");
                    }
                } else if el.has_attribute("data-oculto-held") {
                    let _ = el.remove_attribute("disabled");
                    let _ = el.remove_attribute("data-oculto-held");
                }
            }
        }
    }

    fn clear(this: &Rc<Self>) {
        this.expiry.borrow_mut().take();
        this.set_field("");
    }

    /// Listens for the first interaction, the checkbox, retry and submit.
    fn wire(this: &Rc<Self>, window: &web_sys::Window) {
        let mut ls = Vec::new();
        let weak = Rc::downgrade(this);
        if this.opts.execution == "render" {
            for name in ["pointerdown", "keydown", "touchstart", "focusin", "pointermove"] {
                let weak = weak.clone();
                ls.push(Listener::observe(window.as_ref(), name, move |e: web_sys::Event| {
                    if let Some(inner) = weak.upgrade() {
                        if e.is_trusted() && !inner.started.get() {
                            Inner::start(&inner);
                        }
                    }
                }));
            }
        }
        if let Some(ui) = &this.ui {
            for target in [ui.check().as_ref(), ui.retry().as_ref()] {
                let weak = weak.clone();
                ls.push(Listener::intercept(target, "click", move |_| {
                    let Some(inner) = weak.upgrade() else { return };
                    // The checkbox stays focusable while busy (aria-disabled),
                    // so clicks then are ignored here.
                    let idle = matches!(&*inner.phase.borrow(), Phase::Idle | Phase::Expired | Phase::Failed);
                    if idle {
                        Inner::start(&inner);
                    }
                }));
            }
        }
        if let Some(form) = &this.form {
            // On the window, bubbling: it runs after the page's own submit
            // handlers, so it knows whether the page took the submit over.
            let weak = weak.clone();
            let form = form.clone();
            ls.push(Listener::intercept(window.as_ref(), "submit", move |e: web_sys::Event| {
                let ours = e.target().is_some_and(|t| t == *form.unchecked_ref::<web_sys::EventTarget>());
                if let (true, Some(inner)) = (ours, weak.upgrade()) {
                    Inner::on_submit(&inner, &e);
                }
            }));
        }
        *this.listeners.borrow_mut() = ls;
    }

    /// A submit goes through with a fresh, unused token, or waits for one.
    /// Whether the current token was made before most of what the person
    /// did, with a solved session ready to score everything.
    fn should_rescore(&self) -> bool {
        self.prepared.borrow().is_some() && self.collector.activity() > self.activity_at_token.get()
    }

    fn on_submit(this: &Rc<Self>, e: &web_sys::Event) {
        let fresh = matches!(&*this.phase.borrow(), Phase::Verified { submitted: false, .. });
        // A page that took the submit over (a single-page app posting with
        // fetch) has read the field already: never submit again behind its
        // back. It can `await execute()` for a verdict on everything.
        let page_handles_it = e.default_prevented();
        if page_handles_it && !fresh {
            // The page sent what it had; make a token for its next try.
            Inner::start(this);
            return;
        }
        // The early token was scored on the first moments; when the person
        // did more since and a solved session is ready, the verdict is made
        // again on everything, at the cost of one round trip.
        let rescore = fresh && !page_handles_it && this.should_rescore();
        if fresh && !rescore {
            if let Phase::Verified { submitted, .. } = &mut *this.phase.borrow_mut() {
                *submitted = true;
            }
            // The token is spent by this submit: if the page stays (a
            // single-page app), replace it before the next one.
            let weak = Rc::downgrade(this);
            let t = Timeout::new(RESUBMIT_REFRESH_MS, move || {
                if let Some(inner) = weak.upgrade() {
                    if matches!(&*inner.phase.borrow(), Phase::Verified { submitted: true, .. }) {
                        Inner::clear(&inner);
                        Inner::start(&inner);
                    }
                }
            });
            *this.expiry.borrow_mut() = t;
            return;
        }
        e.prevent_default();
        let submitter =
            js_sys::Reflect::get(e, &"submitter".into()).ok().and_then(|s| s.dyn_into::<HtmlElement>().ok());
        *this.pending_submitter.borrow_mut() = Some(submitter);
        this.hold_submit(true);
        Inner::start(this);
    }

    /// Starts making a token unless one is being made.
    fn start(this: &Rc<Self>) {
        this.started.set(true);
        if *this.phase.borrow() == Phase::Working {
            return;
        }
        *this.phase.borrow_mut() = Phase::Working;
        this.set_field("");
        this.hold_submit(true);
        this.show(View::Verifying(0.0));
        let inner = this.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let mut result = inner.cycle().await;
            if matches!(&result, Err(ClientError::Api(_))) && result.as_ref().err().is_some_and(ClientError::retryable)
            {
                // A session that expired or was used meanwhile: once more.
                result = inner.cycle().await;
            }
            Inner::finish(&inner, result);
        });
    }

    /// Opens and solves the next session in the background.
    fn prepare_next(this: &Rc<Self>) {
        if this.preparing.get() || this.prepared.borrow().is_some() {
            return;
        }
        this.preparing.set(true);
        let inner = this.clone();
        wasm_bindgen_futures::spawn_local(async move {
            if let Ok(p) = inner.prepare(false).await {
                *inner.prepared.borrow_mut() = Some(p);
            }
            inner.preparing.set(false);
        });
    }

    /// A prepared session that has time left, if any.
    fn take_prepared(&self) -> Option<Prepared> {
        let p = self.prepared.borrow_mut().take()?;
        let now_s = js_sys::Date::now() / 1000.0;
        (p.init.expires_at as f64 - now_s > 60.0).then_some(p)
    }

    /// `/init`, proof of work, `/score`.
    async fn cycle(&self) -> Result<ScoreResponse, ClientError> {
        let prepared = match self.take_prepared() {
            Some(p) => p,
            None => self.prepare(true).await?,
        };
        let req = ScoreRequest {
            session_id: prepared.init.session_id.clone(),
            pow: prepared.pow,
            pow_gave_up_ms: prepared.gave_up_ms,
            signals: self.collector.snapshot(),
            answer: None,
            binding_secret: Some(prepared.secret),
        };
        client::post(&self.opts.verifier, routes::SCORE, &req, client::read_score).await
    }

    /// Opens a session and solves its proof of work; `visible` shows the
    /// progress.
    async fn prepare(&self, visible: bool) -> Result<Prepared, ClientError> {
        // A secret only this page knows binds the session to it.
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes).map_err(|_| ClientError::Protocol)?;
        let secret = hex::encode(bytes);
        let req = InitRequest {
            site_key: self.opts.sitekey.clone(),
            action: self.opts.action.clone(),
            cdata: self.opts.cdata.clone(),
            binding: Some(hex::encode(<sha2::Sha256 as sha2::Digest>::digest(secret.as_bytes()))),
        };
        let init: InitResponse = client::post(&self.opts.verifier, routes::INIT, &req, client::read_init).await?;
        let expected = 2f64.powi(i32::from(init.challenge.difficulty));
        let ui_progress: Rc<dyn Fn(u64)> = {
            let ui = if visible { self.ui.clone() } else { None };
            Rc::new(move |tried: u64| {
                if let Some(ui) = &ui {
                    // An estimate: the work is random, so it may end early or late.
                    ui.show(View::Verifying(1.0 - (-(tried as f64) / expected).exp()));
                }
            })
        };
        let outcome = pow::solve(
            &init.session_id,
            &self.opts.sitekey,
            &init.challenge,
            self.opts.budget_ms,
            self.make_worker.as_ref(),
            ui_progress,
        )
        .await;
        let (pow, gave_up_ms) = match outcome {
            pow::Outcome::Solved { nonce, elapsed_ms, .. } => {
                (Some(PowSolution { nonce, elapsed_ms: elapsed_ms as u32 }), None)
            }
            pow::Outcome::OverBudget { elapsed_ms } => (None, Some(elapsed_ms as u32)),
        };
        Ok(Prepared { init, secret, pow, gave_up_ms })
    }

    fn finish(this: &Rc<Self>, result: Result<ScoreResponse, ClientError>) {
        let waiters = std::mem::take(&mut *this.waiters.borrow_mut());
        match result {
            Ok(ScoreResponse { verdict: Some(token), expires_at, .. }) => {
                this.set_field(&token);
                this.activity_at_token.set(this.collector.activity());
                *this.phase.borrow_mut() = Phase::Verified { token: token.clone(), submitted: false };
                this.show(View::Verified);
                this.hold_submit(false);
                Inner::schedule_expiry(this, expires_at);
                let detail = JsValue::from_str(&token);
                for (resolve, _) in waiters {
                    let _ = resolve.call1(&JsValue::NULL, &detail);
                }
                this.emit("oculto:verified", &detail);
                let submitter = this.pending_submitter.borrow_mut().take();
                if let (Some(submitter), Some(form)) = (submitter, &this.form) {
                    let _ = form.request_submit_with_submitter(submitter.as_ref()).or_else(|_| form.request_submit());
                } else {
                    Inner::prepare_next(this);
                }
            }
            other => {
                let err = match other {
                    Err(e) => e,
                    Ok(_) => ClientError::Protocol,
                };
                let code = err.code();
                *this.phase.borrow_mut() = Phase::Failed;
                this.show(View::Error(match err {
                    ClientError::Network => ErrorText::Network,
                    e if !e.retryable() => ErrorText::Config,
                    _ => ErrorText::Other,
                }));
                // The form stays blocked without a token, visibly: the error
                // and its retry button say why.
                this.hold_submit(false);
                this.pending_submitter.borrow_mut().take();
                let detail = JsValue::from_str(code);
                for (_, reject) in waiters {
                    let _ = reject.call1(&JsValue::NULL, &detail);
                }
                this.emit("oculto:error", &detail);
            }
        }
    }

    fn schedule_expiry(this: &Rc<Self>, expires_at: Option<u64>) {
        let now_s = js_sys::Date::now() / 1000.0;
        let ttl = expires_at.map_or(300.0, |e| e as f64 - now_s);
        let wait_ms = ((ttl - REFRESH_BEFORE_EXPIRY_S).max(1.0) * 1000.0) as i32;
        let weak = Rc::downgrade(this);
        let t = Timeout::new(wait_ms, move || {
            let Some(inner) = weak.upgrade() else { return };
            Inner::clear(&inner);
            inner.emit("oculto:expired", &JsValue::NULL);
            if inner.opts.refresh_expired == "auto" {
                Inner::start(&inner);
            } else {
                *inner.phase.borrow_mut() = Phase::Expired;
                inner.show(View::Expired);
            }
        });
        *this.expiry.borrow_mut() = t;
    }
}
