//! The visible widget: a compact box in a shadow root (so the page's CSS
//! and ours never mix), with real DOM for text and controls and a canvas for
//! the check mark and for step-up challenges. No inline styles or scripts:
//! the stylesheet is a constructed one, which a strict CSP allows.

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
.stepup{flex-basis:100%;display:flex;flex-wrap:wrap;gap:6px;align-items:center}
.stepup canvas{display:block;width:240px;height:80px;max-width:100%;border-radius:4px;background:#fff}
.stepup input{font:inherit;padding:4px 6px;width:120px}
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
    /// A step-up challenge is shown.
    StepUp,
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
    check: HtmlButtonElement,
    canvas: HtmlCanvasElement,
    status: HtmlElement,
    label: HtmlElement,
    retry: HtmlButtonElement,
    /// The step-up area.
    pub step_up: StepUpUi,
    texts: &'static Texts,
    dark: bool,
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
    /// Builds the widget inside `host`.
    pub fn new(host: &HtmlElement, texts: &'static Texts, theme: &str, compact: bool) -> Result<Self, JsValue> {
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
        if compact {
            b.class_list().add_1("compact")?;
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
        let ui = Self { root, check, canvas, status, label, retry, step_up, texts, dark };
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
            View::StepUp => (t.idle, t.step_up_prompt, "false"),
        };
        self.label.set_text_content(Some(label));
        // Only changes are announced: setting the same text again is silent.
        if self.status.text_content().as_deref() != Some(status) {
            self.status.set_text_content(Some(status));
        }
        // When the label already says it, the status is for screen readers only.
        let _ = self.status.class_list().toggle_with_force("sr", status == label);
        let _ = self.check.set_attribute("aria-checked", checked);
        // aria-disabled, not disabled: a disabled button would drop the
        // keyboard focus to the page's body.
        let busy = matches!(view, View::Verifying(_) | View::Verified);
        let _ = self.check.set_attribute("aria-disabled", if busy { "true" } else { "false" });
        self.retry.set_hidden(!matches!(view, View::Error(_)));
        self.step_up.area.set_hidden(view != View::StepUp);
        self.draw(view);
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
            View::Idle | View::Expired | View::StepUp => {
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
        canvas.set_width(240);
        canvas.set_height(80);
        canvas.set_attribute("role", "img")?;
        canvas.set_attribute("aria-label", t.step_up_prompt)?;
        let input: HtmlInputElement = el(doc, "input", "")?;
        input.set_attribute("aria-label", t.step_up_input)?;
        input.set_attribute("autocomplete", "off")?;
        input.set_attribute("autocapitalize", "off")?;
        input.set_attribute("spellcheck", "false")?;
        let refresh = button(doc, "action", t.step_up_refresh)?;
        let audio = button(doc, "action", t.step_up_audio)?;
        let submit = button(doc, "action", t.step_up_submit)?;
        for e in [canvas.as_ref(), input.as_ref(), submit.as_ref(), refresh.as_ref(), audio.as_ref()] {
            let node: &web_sys::Node = e;
            area.append_child(node)?;
        }
        Ok(Self { area, canvas, input, refresh, audio, submit })
    }
}
