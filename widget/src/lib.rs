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
//! 4. when `/score` asks for a step-up instead, shows the challenge (image on
//!    the canvas, audio, [`challenge`]), holds the form's submit, and posts
//!    each answer to `/score` until a verdict comes;
//! 5. keeps that token fresh: a new one before it expires, and a new one after
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

pub mod challenge;
pub mod client;
pub mod collect;
pub mod i18n;
pub mod listen;
pub mod pow;
pub mod timer;
pub mod ui;

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use oculto_shared::api::{routes, InitRequest, InitResponse, ScoreRequest, ScoreResponse, StepUp, StepUpAnswer};
use oculto_shared::pow::PowSolution;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{CustomEvent, CustomEventInit, HtmlElement, HtmlFormElement, HtmlInputElement};

use crate::client::ClientError;
use crate::collect::Collector;
use crate::listen::Listener;
use crate::timer::Timeout;
use crate::ui::{ErrorText, Note, Ui, View};

/// Tokens are refreshed this long before they expire, seconds.
const REFRESH_BEFORE_EXPIRY_S: f64 = 30.0;
/// After a submit, the spent token is replaced after this delay, ms: long
/// enough for a classic form post to leave the page first.
const RESUBMIT_REFRESH_MS: i32 = 1_500;
/// A step-up challenge is replaced this long before it expires, seconds, so
/// an answer never arrives just too late.
const CHALLENGE_MARGIN_S: f64 = 5.0;

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
    StepUp,
    Verified { token: String, submitted: bool },
    Expired,
    Failed,
}

/// A scored session: `/score`'s answer and what it takes to answer again.
struct Scored {
    response: ScoreResponse,
    session_id: String,
    secret: String,
}

/// A step-up challenge on show, with the session it belongs to.
struct Challenge {
    session_id: String,
    secret: String,
    step: StepUp,
    /// Starts over with a new session shortly before the challenge expires.
    _expiry: Option<Timeout>,
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
    /// The step-up challenge on show, if any.
    challenge: RefCell<Option<Challenge>>,
    /// An answer (or refresh) is on its way to `/score`.
    answering: Cell<bool>,
    /// The current token came from an answered challenge: it already
    /// reflects a person, so a submit does not score again.
    stepped_up: Cell<bool>,
    /// The focus was in the step-up area when it went away (to start over):
    /// the next challenge takes it back.
    refocus: Cell<bool>,
    /// `en` or `fr`: the step-up audio's language.
    audio_language: &'static str,
    audio: RefCell<challenge::Player>,
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
        // An invisible widget builds its elements too, hidden: a step-up
        // challenge has to be shown.
        let ui = Some(Rc::new(Ui::new(&host, texts, &opts.theme, &opts.size)?));
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
            challenge: RefCell::new(None),
            answering: Cell::new(false),
            stepped_up: Cell::new(false),
            refocus: Cell::new(false),
            audio_language: i18n::audio_language(&language),
            audio: RefCell::new(challenge::Player::default()),
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
        self.inner.challenge.borrow_mut().take();
        self.inner.audio.borrow_mut().close();
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
        this.drop_challenge();
        this.set_field("");
    }

    /// Forgets the challenge on show, if any; a focus inside it moves to the
    /// checkbox (never to the page's body) until the next challenge.
    fn drop_challenge(&self) {
        if self.challenge.borrow_mut().take().is_none() {
            return;
        }
        self.audio.borrow_mut().forget();
        if let Some(ui) = self.ui.as_ref().filter(|ui| ui.focus_in_step_up()) {
            ui.focus_check();
            self.refocus.set(true);
        }
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
        if let Some(ui) = &this.ui {
            let su = &ui.step_up;
            let on = |target: &web_sys::EventTarget, name: &'static str, f: fn(&Rc<Inner>, web_sys::Event)| {
                let weak = weak.clone();
                Listener::intercept(target, name, move |e| {
                    if let Some(inner) = weak.upgrade() {
                        f(&inner, e);
                    }
                })
            };
            ls.push(on(su.submit.as_ref(), "click", |inner, _| Inner::answer(inner, false)));
            ls.push(on(su.refresh.as_ref(), "click", |inner, _| Inner::answer(inner, true)));
            ls.push(on(su.audio.as_ref(), "click", |inner, _| Inner::play_audio(inner)));
            ls.push(on(su.input.as_ref(), "keydown", |inner, e| {
                let Some(k) = e.dyn_ref::<web_sys::KeyboardEvent>() else { return };
                // Enter answers (the field is outside the page's form, so
                // it would submit nothing); not while an IME composes.
                if k.key() == "Enter" && !k.is_composing() {
                    e.prevent_default();
                    Inner::answer(inner, false);
                }
            }));
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
        !self.stepped_up.get()
            && self.prepared.borrow().is_some()
            && self.collector.activity() > self.activity_at_token.get()
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
        if *this.phase.borrow() == Phase::StepUp {
            // The challenge is what the submit waits for.
            if let Some(ui) = &this.ui {
                ui.focus_answer(false);
            }
            return;
        }
        Inner::start(this);
    }

    /// Starts making a token unless one is being made (or a challenge is
    /// waiting for its answer).
    fn start(this: &Rc<Self>) {
        this.started.set(true);
        if matches!(*this.phase.borrow(), Phase::Working | Phase::StepUp) {
            return;
        }
        Inner::begin(this);
    }

    /// Makes a token from a new session, dropping any challenge on show.
    fn begin(this: &Rc<Self>) {
        *this.phase.borrow_mut() = Phase::Working;
        this.stepped_up.set(false);
        this.set_field("");
        this.hold_submit(true);
        this.drop_challenge();
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
    async fn cycle(&self) -> Result<Scored, ClientError> {
        let prepared = match self.take_prepared() {
            Some(p) => p,
            None => self.prepare(true).await?,
        };
        self.collector.settle().await;
        let req = ScoreRequest {
            session_id: prepared.init.session_id,
            pow: prepared.pow,
            pow_gave_up_ms: prepared.gave_up_ms,
            signals: self.collector.snapshot(),
            answer: None,
            binding_secret: Some(prepared.secret),
        };
        let response = client::post(&self.opts.verifier, routes::SCORE, &req, client::read_score).await?;
        let (session_id, secret) = (req.session_id, req.binding_secret.unwrap_or_default());
        Ok(Scored { response, session_id, secret })
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

    fn finish(this: &Rc<Self>, result: Result<Scored, ClientError>) {
        match result {
            Ok(Scored { response: ScoreResponse { step_up: Some(step), .. }, session_id, secret }) => {
                Inner::show_challenge(this, session_id, secret, step, Note::Needed);
            }
            Ok(Scored { response: ScoreResponse { verdict: Some(token), expires_at, .. }, .. }) => {
                Inner::verified(this, token, expires_at);
            }
            Ok(_) => Inner::failed(this, ClientError::Protocol),
            Err(e) => Inner::failed(this, e),
        }
    }

    fn verified(this: &Rc<Self>, token: String, expires_at: Option<u64>) {
        let waiters = std::mem::take(&mut *this.waiters.borrow_mut());
        this.refocus.set(false);
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

    fn failed(this: &Rc<Self>, err: ClientError) {
        let waiters = std::mem::take(&mut *this.waiters.borrow_mut());
        let code = err.code();
        *this.phase.borrow_mut() = Phase::Failed;
        this.drop_challenge();
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

    /// Shows a step-up challenge. No token yet: the submit stays held and
    /// `execute()` keeps waiting.
    fn show_challenge(this: &Rc<Self>, session_id: String, secret: String, step: StepUp, note: Note) {
        let Some(ui) = this.ui.clone() else { return };
        *this.phase.borrow_mut() = Phase::StepUp;
        this.audio.borrow_mut().forget();
        // Starts over shortly before it expires, with a new session.
        let now_s = js_sys::Date::now() / 1000.0;
        let wait_ms =
            ((step.expires_at as f64 - now_s - CHALLENGE_MARGIN_S).max(1.0) * 1000.0).min(f64::from(i32::MAX));
        let weak = Rc::downgrade(this);
        let id = step.challenge_id.clone();
        let expiry = Timeout::new(wait_ms as i32, move || {
            let Some(inner) = weak.upgrade() else { return };
            let current = inner.challenge.borrow().as_ref().is_some_and(|c| c.step.challenge_id == id);
            if current {
                Inner::begin(&inner);
            }
        });
        ui.show_challenge(&step, note);
        // After a wrong answer the focus goes back to the emptied field; after
        // "new challenge" it stays on that button. A new challenge takes it
        // when the person is on the widget or waiting to submit, and when the
        // focus is nowhere in particular (then without scrolling the page:
        // a mouse moving over it should not make it jump); never from
        // another field they are typing in.
        let page_focus = web_sys::window().and_then(|w| w.document()).and_then(|d| d.active_element());
        let nowhere = page_focus.is_none_or(|a| a.local_name() == "body");
        let engaged = note == Note::Wrong
            || (note == Note::Needed
                && (this.refocus.get() || this.pending_submitter.borrow().is_some() || ui.has_focus()));
        if engaged || (note == Note::Needed && nowhere) {
            ui.focus_answer(!engaged);
        }
        this.refocus.set(false);
        *this.challenge.borrow_mut() = Some(Challenge { session_id, secret, step, _expiry: expiry });
    }

    /// Sends the typed answer, or asks for another challenge (`refresh`).
    fn answer(this: &Rc<Self>, refresh: bool) {
        let Some(ui) = this.ui.clone() else { return };
        let req = {
            let challenge = this.challenge.borrow();
            let Some(ch) = challenge.as_ref().filter(|_| !this.answering.get()) else { return };
            // Sent as typed: the verifier ignores spaces and case.
            let code = if refresh { String::new() } else { ui.step_up.input.value() };
            if !refresh && code.bytes().all(|b| b.is_ascii_whitespace()) {
                ui.focus_answer(false);
                return;
            }
            ScoreRequest {
                session_id: ch.session_id.clone(),
                pow: None,
                pow_gave_up_ms: None,
                signals: this.collector.snapshot(),
                answer: Some(StepUpAnswer { challenge_id: ch.step.challenge_id.clone(), code, refresh }),
                binding_secret: Some(ch.secret.clone()),
            }
        };
        this.answering.set(true);
        ui.busy(true);
        let inner = this.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let result = client::post(&inner.opts.verifier, routes::SCORE, &req, client::read_score).await;
            inner.answering.set(false);
            ui.busy(false);
            // reset(), remove() or an expiry may have moved on meanwhile.
            let asked = req.answer.as_ref().map(|a| a.challenge_id.as_str());
            if inner.challenge.borrow().as_ref().map(|c| c.step.challenge_id.as_str()) != asked {
                return;
            }
            match result {
                Ok(ScoreResponse { step_up: Some(step), .. }) => {
                    let note = if refresh { Note::Refreshed } else { Note::Wrong };
                    let secret = req.binding_secret.unwrap_or_default();
                    Inner::show_challenge(&inner, req.session_id, secret, step, note);
                }
                Ok(ScoreResponse { verdict: Some(token), expires_at, .. }) => {
                    // Right, or out of attempts: success either way (phantom
                    // success); only the backend learns which.
                    inner.drop_challenge();
                    inner.stepped_up.set(true);
                    Inner::verified(&inner, token, expires_at);
                }
                Ok(_) => Inner::failed(&inner, ClientError::Protocol),
                // The challenge or its session is gone: a new session, and
                // its challenge if it asks for one.
                Err(e) if e.starts_over() => Inner::begin(&inner),
                Err(e) => Inner::failed(&inner, e),
            }
        });
    }

    /// Plays the challenge's audio, fetched once per challenge.
    fn play_audio(this: &Rc<Self>) {
        let Some((id, path)) =
            this.challenge.borrow().as_ref().and_then(|c| Some((c.step.challenge_id.clone(), c.step.audio.clone()?)))
        else {
            return;
        };
        // The audio context is made in the press's own handler: browsers
        // let a page start sound only then.
        let mut player = this.audio.borrow_mut();
        let Some(ctx) = player.context() else {
            this.show(View::StepUp(Note::AudioFailed));
            return;
        };
        if let Some(buffer) = player.cached(&id) {
            let _ = player.play(&ctx, &buffer);
            return;
        }
        drop(player);
        let mut url = if path.starts_with("http") { path.clone() } else { client::url(&this.opts.verifier, &path) };
        url.push(if path.bytes().any(|b| b == b'?') { '&' } else { '?' });
        url.push_str("lang=");
        url.push_str(this.audio_language);
        let inner = this.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let sound = match client::get_bytes(&url).await {
                Ok(bytes) => challenge::decode(&ctx, &bytes).await.ok(),
                Err(_) => None,
            };
            let current = inner.challenge.borrow().as_ref().is_some_and(|c| c.step.challenge_id == id);
            if !current {
                return;
            }
            let mut player = inner.audio.borrow_mut();
            match sound {
                Some(buffer) if player.play(&ctx, &buffer).is_ok() => player.keep(&id, &buffer),
                _ => inner.show(View::StepUp(Note::AudioFailed)),
            }
        });
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
