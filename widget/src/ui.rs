//! The visible widget: a compact box in a shadow root (so the page's CSS
//! and ours never mix), with real DOM for text and controls and a canvas for
//! the check mark and for step-up challenges. No inline styles or scripts:
//! the stylesheet is a constructed one, which a strict CSP allows. Nothing
//! moves (no transitions or spinners), so reduced motion needs no special
//! case.
//!
//! An `invisible` widget has the same elements, hidden: only a step-up
//! challenge shows them, since a person must then see and answer it.

use std::cell::Cell;
use std::rc::Rc;

use oculto_shared::api::{StepUp, STEP_UP_HEIGHT, STEP_UP_WIDTH};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{
    CanvasRenderingContext2d, Document, HtmlButtonElement, HtmlCanvasElement, HtmlElement, HtmlInputElement, ShadowRoot,
};

use crate::i18n::Texts;

const CSS: &str = "
:host{display:inline-block;max-width:100%}
.box{box-sizing:border-box;display:flex;align-items:center;gap:12px;width:300px;max-width:100%;min-height:64px;padding:8px 12px;
 border:1px solid #6b6b6b;border-radius:6px;background:#fafafa;color:#1f1f1f;font:14px/1.35 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif}
.box.dark{background:#202124;color:#ececec;border-color:#9a9a9a}
@media (prefers-color-scheme:dark){.box.auto{background:#202124;color:#ececec;border-color:#9a9a9a}}
.box.compact{width:164px;flex-wrap:wrap}
.box.stepping{flex-wrap:wrap}
.box.invisible:not(.stepping){display:none}
.check[aria-disabled=true]{cursor:default}
.check{flex:none;width:32px;height:32px;padding:0;margin:0;border:0;border-radius:4px;background:transparent;cursor:pointer}
.check:focus-visible,button:focus-visible,input:focus-visible,a:focus-visible{outline:3px solid #0b57d0;outline-offset:2px}
.dark .check:focus-visible,.dark button:focus-visible,.dark input:focus-visible,.dark a:focus-visible{outline-color:#8ab4f8}
.check canvas{display:block;width:32px;height:32px}
.text{flex:1;min-width:0}
.label{display:block;font-weight:600}
.status{display:block;font-size:12px;min-height:1em}
.sr{position:absolute;width:1px;height:1px;overflow:hidden;clip-path:inset(50%);white-space:nowrap}
.side{display:flex;flex-direction:column;align-items:flex-end;gap:4px;font-size:11px}
.side a{color:inherit}
button.action{font:inherit;font-size:12px;padding:2px 8px;border:1px solid currentColor;border-radius:4px;background:transparent;color:inherit;cursor:pointer}
.stepup{flex-basis:100%;display:flex;flex-direction:column;gap:6px;align-items:flex-start}
.stepup canvas{display:block;width:240px;height:80px;max-width:100%;border-radius:4px;background:#fff}
.stepup label{font-size:12px}
.stepup input{font:inherit;padding:4px 6px;width:110px;letter-spacing:.1em;text-transform:uppercase}
.stepup .row{display:flex;flex-wrap:wrap;gap:6px;align-items:center}
[hidden]{display:none!important}
";

/// What the widget shows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum View {
    /// Nothing happened yet.
    Idle,
    /// Working, with a fraction done when known.
    Verifying(f64),
    /// A verdict is in the form.
    Verified,
    /// The verdict expired; a new one is needed.
    Expired,
    /// Something failed; the retry button shows.
    Error(ErrorText),
    /// A step-up challenge is shown, with what to announce.
    StepUp(Note),
}

/// What a step-up view announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Note {
    /// A challenge appeared: what to do.
    Needed,
    /// The last answer was wrong; this is a new challenge.
    Wrong,
    /// The person asked for a new challenge.
    Refreshed,
    /// The audio could not be played.
    AudioFailed,
}

/// Which error text to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorText {
    /// The verifier cannot be reached.
    Network,
    /// Wrong site key or origin.
    Config,
    /// Anything else.
    Other,
}

/// The widget's elements.
pub struct Ui {
    root: ShadowRoot,
    frame: HtmlElement,
    check: HtmlButtonElement,
    canvas: HtmlCanvasElement,
    status: HtmlElement,
    label: HtmlElement,
    retry: HtmlButtonElement,
    /// The step-up area.
    pub step_up: StepUpUi,
    texts: &'static Texts,
    dark: bool,
    /// Counts the images asked for, so a slow decode never draws over a
    /// newer challenge.
    drawn: Rc<Cell<u32>>,
}

/// The step-up area: image canvas, answer field and buttons.
pub struct StepUpUi {
    /// The area.
    pub area: HtmlElement,
    /// Where the challenge image is drawn.
    pub canvas: HtmlCanvasElement,
    /// The answer.
    pub input: HtmlInputElement,
    /// A new challenge.
    pub refresh: HtmlButtonElement,
    /// The audio alternative.
    pub audio: HtmlButtonElement,
    /// Send the answer.
    pub submit: HtmlButtonElement,
}

fn el<T: JsCast>(doc: &Document, tag: &str, class: &str) -> Result<T, JsValue> {
    let e = doc.create_element(tag)?;
    if !class.is_empty() {
        e.set_class_name(class);
    }
    e.dyn_into::<T>().map_err(|_| JsValue::from_str("unexpected element type"))
}

fn button(doc: &Document, class: &str, text: &str) -> Result<HtmlButtonElement, JsValue> {
    let b: HtmlButtonElement = el(doc, "button", class)?;
    b.set_type("button");
    b.set_text_content(Some(text));
    Ok(b)
}

impl Ui {
    /// Builds the widget inside `host`; `size` is `normal`, `compact` or
    /// `invisible`.
    pub fn new(host: &HtmlElement, texts: &'static Texts, theme: &str, size: &str) -> Result<Self, JsValue> {
        let doc = host.owner_document().ok_or("no document")?;
        let window = web_sys::window().ok_or("no window")?;
        let root = match host.shadow_root() {
            Some(r) => {
                r.set_inner_html("");
                r
            }
            None => host.attach_shadow(&web_sys::ShadowRootInit::new(web_sys::ShadowRootMode::Open))?,
        };
        let sheet = web_sys::CssStyleSheet::new()?;
        sheet.replace_sync(CSS)?;
        js_sys::Reflect::set(&root, &"adoptedStyleSheets".into(), &js_sys::Array::of1(&sheet))?;

        let dark = match theme {
            "dark" => true,
            "light" => false,
            _ => window.match_media("(prefers-color-scheme: dark)").ok().flatten().is_some_and(|m| m.matches()),
        };
        let theme_class = match theme {
            "dark" | "light" => theme,
            _ => "auto",
        };
        let b: HtmlElement = el(&doc, "div", "box")?;
        b.class_list().add_1(theme_class)?;
        if size == "compact" || size == "invisible" {
            b.class_list().add_1(size)?;
        }
        b.set_attribute("role", "group")?;
        b.set_attribute("aria-label", texts.region)?;

        let check = button(&doc, "check", "")?;
        check.set_attribute("role", "checkbox")?;
        check.set_attribute("aria-checked", "false")?;
        check.set_attribute("aria-labelledby", "oculto-label")?;
        check.set_attribute("aria-describedby", "oculto-status")?;
        let canvas: HtmlCanvasElement = el(&doc, "canvas", "")?;
        let ratio = window.device_pixel_ratio().max(1.0);
        canvas.set_width((32.0 * ratio) as u32);
        canvas.set_height((32.0 * ratio) as u32);
        canvas.set_attribute("aria-hidden", "true")?;
        check.append_child(&canvas)?;

        let text: HtmlElement = el(&doc, "div", "text")?;
        let label: HtmlElement = el(&doc, "span", "label")?;
        label.set_id("oculto-label");
        label.set_text_content(Some(texts.idle));
        let status: HtmlElement = el(&doc, "span", "status")?;
        status.set_id("oculto-status");
        status.set_attribute("role", "status")?;
        status.set_attribute("aria-live", "polite")?;
        text.append_child(&label)?;
        text.append_child(&status)?;

        let side: HtmlElement = el(&doc, "div", "side")?;
        let retry = button(&doc, "action", texts.retry)?;
        retry.set_hidden(true);
        let brand: HtmlElement = el(&doc, "span", "")?;
        brand.set_text_content(Some("Oculto"));
        side.append_child(&retry)?;
        side.append_child(&brand)?;

        let step_up = StepUpUi::new(&doc, texts)?;
        b.append_child(&check)?;
        b.append_child(&text)?;
        b.append_child(&side)?;
        b.append_child(&step_up.area)?;
        root.append_child(&b)?;
        let ui =
            Self { root, frame: b, check, canvas, status, label, retry, step_up, texts, dark, drawn: Rc::default() };
        ui.show(View::Idle);
        Ok(ui)
    }

    /// The checkbox, to listen to.
    pub fn check(&self) -> &HtmlButtonElement {
        &self.check
    }

    /// The retry button, to listen to.
    pub fn retry(&self) -> &HtmlButtonElement {
        &self.retry
    }

    /// Shows a state: label, announced status, check mark, retry button.
    pub fn show(&self, view: View) {
        let t = self.texts;
        let (label, status, checked) = match view {
            View::Idle => (t.idle, "", "false"),
            View::Verifying(_) => (t.idle, t.verifying, "mixed"),
            View::Verified => (t.verified, t.verified, "true"),
            View::Expired => (t.idle, t.expired, "false"),
            View::Error(ErrorText::Network) => (t.idle, t.error_network, "false"),
            View::Error(ErrorText::Config) => (t.idle, t.error_config, "false"),
            View::Error(ErrorText::Other) => (t.idle, t.error_other, "false"),
            View::StepUp(Note::Needed) => (t.idle, t.step_up_needed, "false"),
            View::StepUp(Note::Wrong) => (t.idle, t.step_up_wrong, "false"),
            View::StepUp(Note::Refreshed) => (t.idle, t.step_up_new, "false"),
            View::StepUp(Note::AudioFailed) => (t.idle, t.step_up_audio_failed, "false"),
        };
        self.label.set_text_content(Some(label));
        // Only changes are announced: setting the same text again is silent.
        // A second wrong answer (or refresh) in a row must be heard again,
        // so its text then differs by a trailing no-break space.
        let current = self.status.text_content().unwrap_or_default();
        let again = matches!(view, View::StepUp(Note::Wrong | Note::Refreshed));
        if current != status || again {
            let mut text = status.to_owned();
            if again && current == status {
                text.push('\u{a0}');
            }
            self.status.set_text_content(Some(&text));
        }
        // When the label already says it, the status is for screen readers only.
        let _ = self.status.class_list().toggle_with_force("sr", status == label);
        let _ = self.check.set_attribute("aria-checked", checked);
        // aria-disabled, not disabled: a disabled button would drop the
        // keyboard focus to the page's body.
        let busy = matches!(view, View::Verifying(_) | View::Verified | View::StepUp(_));
        let _ = self.check.set_attribute("aria-disabled", if busy { "true" } else { "false" });
        self.retry.set_hidden(!matches!(view, View::Error(_)));
        let stepping = matches!(view, View::StepUp(_));
        self.step_up.area.set_hidden(!stepping);
        let _ = self.frame.class_list().toggle_with_force("stepping", stepping);
        self.draw(view);
    }

    /// Shows a challenge: its image (drawn once decoded), what to do, the
    /// refresh button while refreshes are left, an empty answer field.
    pub fn show_challenge(&self, step: &StepUp, note: Note) {
        let su = &self.step_up;
        let t = self.texts;
        // `{n}` becomes the length (found by hand: `str::replace` would bring
        // a substring searcher into the download).
        let name = match t.step_up_image.bytes().position(|b| b == b'{') {
            Some(i) if step.length > 0 => {
                let mut name = String::from(&t.step_up_image[..i]);
                name.push_str(&step.length.to_string());
                name.push_str(&t.step_up_image[i + 3..]);
                name
            }
            _ => t.step_up_needed.to_owned(),
        };
        let _ = su.canvas.set_attribute("aria-label", &name);
        su.input.set_value("");
        self.busy(false);
        // Out of refreshes: the button goes, and the focus it had moves to
        // the field rather than to the page's body.
        let no_refresh = step.refreshes_left == 0;
        if no_refresh && self.focused(su.refresh.as_ref()) {
            self.focus_answer(false);
        }
        su.refresh.set_hidden(no_refresh);
        su.audio.set_hidden(step.audio.is_none());
        self.show(View::StepUp(note));
        crate::challenge::blank(&su.canvas);
        let turn = self.drawn.get().wrapping_add(1);
        self.drawn.set(turn);
        if let Some(image) = step.image.clone() {
            let canvas = su.canvas.clone();
            let drawn = self.drawn.clone();
            wasm_bindgen_futures::spawn_local(async move {
                // A failed decode leaves the canvas blank; the audio and a
                // new challenge remain.
                let _ = crate::challenge::draw(&canvas, &image, || drawn.get() == turn).await;
            });
        }
    }

    /// Marks the step-up area busy while an answer or refresh is sent: the
    /// field turns read-only (not disabled, which would drop the focus).
    pub fn busy(&self, busy: bool) {
        let su = &self.step_up;
        su.input.set_read_only(busy);
        let _ = su.area.set_attribute("aria-busy", if busy { "true" } else { "false" });
    }

    /// Whether `el` has the keyboard focus (inside the shadow root).
    fn focused(&self, el: &web_sys::Element) -> bool {
        self.root.active_element().is_some_and(|a| a == *el)
    }

    /// Whether the focus is anywhere in the widget.
    pub fn has_focus(&self) -> bool {
        self.root.active_element().is_some()
    }

    /// Whether the focus is in the step-up area.
    pub fn focus_in_step_up(&self) -> bool {
        self.root.active_element().is_some_and(|a| self.step_up.area.contains(Some(&a)))
    }

    /// Puts the focus in the answer field, scrolling it into view unless
    /// `keep_scroll`.
    pub fn focus_answer(&self, keep_scroll: bool) {
        let opts = web_sys::FocusOptions::new();
        opts.set_prevent_scroll(keep_scroll);
        let _ = self.step_up.input.focus_with_options(&opts);
    }

    /// Puts the focus on the checkbox.
    pub fn focus_check(&self) {
        let _ = self.check.focus();
    }

    /// Draws the check area for a state.
    fn draw(&self, view: View) {
        let Some(ctx) =
            self.canvas.get_context("2d").ok().flatten().and_then(|c| c.dyn_into::<CanvasRenderingContext2d>().ok())
        else {
            return;
        };
        let s = f64::from(self.canvas.width()) / 32.0;
        ctx.set_transform(s, 0.0, 0.0, s, 0.0, 0.0).ok();
        ctx.clear_rect(0.0, 0.0, 32.0, 32.0);
        let (frame, ok, bad) =
            if self.dark { ("#c4c7c5", "#81c995", "#f28b82") } else { ("#5f6368", "#137333", "#b3261e") };
        ctx.set_line_width(2.0);
        ctx.set_line_cap("round");
        ctx.set_line_join("round");
        match view {
            View::Verified => {
                ctx.set_stroke_style_str(ok);
                ctx.set_line_width(3.5);
                ctx.begin_path();
                ctx.move_to(7.0, 17.0);
                ctx.line_to(13.5, 23.5);
                ctx.line_to(25.5, 9.0);
                ctx.stroke();
            }
            View::Verifying(done) => {
                // A ring that fills with progress; it never spins, so it
                // respects reduced motion by construction.
                ctx.set_stroke_style_str(frame);
                ctx.set_global_alpha(0.35);
                ctx.begin_path();
                let _ = ctx.arc(16.0, 16.0, 11.0, 0.0, std::f64::consts::TAU);
                ctx.stroke();
                ctx.set_global_alpha(1.0);
                ctx.set_stroke_style_str(ok);
                ctx.set_line_width(3.0);
                ctx.begin_path();
                let start = -std::f64::consts::FRAC_PI_2;
                let _ = ctx.arc(16.0, 16.0, 11.0, start, start + std::f64::consts::TAU * done.clamp(0.05, 1.0));
                ctx.stroke();
            }
            View::Error(_) => {
                ctx.set_stroke_style_str(bad);
                ctx.set_line_width(3.0);
                ctx.begin_path();
                ctx.move_to(16.0, 8.0);
                ctx.line_to(16.0, 18.0);
                ctx.move_to(16.0, 23.5);
                ctx.line_to(16.0, 24.0);
                ctx.stroke();
            }
            View::Idle | View::Expired | View::StepUp(_) => {
                ctx.set_stroke_style_str(frame);
                ctx.stroke_rect(5.0, 5.0, 22.0, 22.0);
            }
        }
    }

    /// Removes the widget's elements from the page.
    pub fn remove(&self) {
        self.root.set_inner_html("");
    }
}

impl StepUpUi {
    fn new(doc: &Document, t: &'static Texts) -> Result<Self, JsValue> {
        let area: HtmlElement = el(doc, "div", "stepup")?;
        area.set_hidden(true);
        let canvas: HtmlCanvasElement = el(doc, "canvas", "")?;
        canvas.set_id("oculto-challenge");
        canvas.set_width(STEP_UP_WIDTH);
        canvas.set_height(STEP_UP_HEIGHT);
        canvas.set_attribute("role", "img")?;
        canvas.set_attribute("aria-label", t.step_up_needed)?;
        let label: HtmlElement = el(doc, "label", "")?;
        label.set_attribute("for", "oculto-answer")?;
        label.set_text_content(Some(t.step_up_input));
        let input: HtmlInputElement = el(doc, "input", "")?;
        input.set_id("oculto-answer");
        input.set_type("text");
        // The image's name says what to type (and how many characters).
        input.set_attribute("aria-describedby", "oculto-challenge")?;
        for (k, v) in [
            ("autocomplete", "off"),
            ("autocapitalize", "characters"),
            ("autocorrect", "off"),
            ("spellcheck", "false"),
            ("inputmode", "text"),
            ("enterkeyhint", "done"),
            // Answers are at most 12 characters; the verifier takes 64 bytes.
            ("maxlength", "32"),
        ] {
            input.set_attribute(k, v)?;
        }
        let submit = button(doc, "action", t.step_up_submit)?;
        let refresh = button(doc, "action", t.step_up_refresh)?;
        let audio = button(doc, "action", t.step_up_audio)?;
        // The image, then "label [field] Verify", then the alternatives.
        let answer: HtmlElement = el(doc, "div", "row")?;
        answer.append_child(&label)?;
        answer.append_child(&input)?;
        answer.append_child(&submit)?;
        let more: HtmlElement = el(doc, "div", "row")?;
        more.append_child(&refresh)?;
        more.append_child(&audio)?;
        area.append_child(&canvas)?;
        area.append_child(&answer)?;
        area.append_child(&more)?;
        Ok(Self { area, canvas, input, refresh, audio, submit })
    }
}
