//! The behavioural signals the widget sends with `/score`.
//!
//! Everything here is a timing, a movement or a fact about the environment.
//! Nothing records *what* was typed, pasted or clicked on: key events carry
//! only their times, never which key. The README's privacy section lists
//! each field in plain words.
//!
//! Times are milliseconds since the page's navigation start
//! (`performance.now()`), with at most 0.1 ms resolution. Pointer and touch
//! movements are relative: each sample holds the movement since the previous
//! one, in CSS pixels, so the payload says how the pointer moved, not where
//! on the page it was.
//!
//! The verifier trusts none of it: a bot can send anything. The payload is
//! bounded ([`Signals::validate`]) and the scorer computes every feature
//! itself from the raw events.
//!
//! [`Recorder`] is the one encoder from input events to this payload: the
//! widget's listeners feed it the page's events, and the verifier's
//! evaluation feeds it recorded traces, so both build the same payload.

use serde::{Deserialize, Serialize};

use crate::{Error, ErrorKind};

mod recorder;
mod wire;
pub use wire::Short;

pub use recorder::{Recorder, MAX_KEYS_HELD, SCROLL_GAP_MS};

/// The version of this payload's layout: 2 writes samples as short arrays
/// (see the `wire` module); layout 1's objects are still read.
pub const VERSION: u8 = 2;

/// A pause longer than this between two moves ends a movement, ms: the
/// verifier cuts the path there, and the widget waits for one before it
/// builds a payload, so that no reach arrives cut off at its fastest.
pub const MOVEMENT_PAUSE_MS: f64 = 250.0;

/// The most pointer samples a payload may carry; the widget keeps the last
/// ones when there are more.
pub const MAX_POINTER: usize = 2000;
/// The most samples of any other kind (clicks, keys, scrolls, touches, focus
/// changes).
pub const MAX_OTHER: usize = 500;
/// The longest string in [`Environment`] (user agent, brands...).
pub const MAX_STRING: usize = 512;
/// The widget sends at most this many characters of the WebGL renderer's
/// name (see [`Environment::renderer`]).
pub const MAX_RENDERER: usize = 200;
/// The longest duration a session may claim, in milliseconds (one day).
pub const MAX_TIME_MS: f64 = 86_400_000.0;

/// Everything the widget observed between its start and the form's submit.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct Signals {
    /// Layout version, [`VERSION`].
    pub v: u8,
    /// Time from the widget's start to the moment the payload was built.
    pub elapsed_ms: f64,
    /// Time of the first trusted pointer, touch or key event, if any.
    pub first_interaction_ms: Option<f64>,
    /// Sampled pointer positions (mouse and pen), moves and button changes.
    #[serde(with = "wire::steps")]
    #[cfg_attr(feature = "openapi", schema(schema_with = wire::schema::pointer))]
    pub pointer: Vec<PointerSample>,
    /// Completed clicks: press and release.
    #[serde(with = "wire::pairs")]
    #[cfg_attr(feature = "openapi", schema(schema_with = wire::schema::clicks))]
    pub clicks: Vec<Click>,
    /// Where each pointer press landed on the element it pressed: `[dx, dy]`
    /// from the centre of that element's box, CSS px, to 0.5 px. Which
    /// element it was, and where on the page, are not recorded. Automation
    /// clicks an element at its exact centre; a hand almost never does.
    #[cfg_attr(feature = "openapi", schema(schema_with = wire::schema::press_offsets))]
    pub press_offsets: Vec<[f32; 2]>,
    /// Key press timings, never which key.
    #[serde(with = "wire::pairs")]
    #[cfg_attr(feature = "openapi", schema(schema_with = wire::schema::keys))]
    pub keys: Vec<KeyTiming>,
    /// Scroll positions over time.
    #[serde(with = "wire::pairs")]
    #[cfg_attr(feature = "openapi", schema(schema_with = wire::schema::scroll))]
    pub scroll: Vec<ScrollSample>,
    /// Touch points over time.
    #[serde(with = "wire::steps")]
    #[cfg_attr(feature = "openapi", schema(schema_with = wire::schema::touch))]
    pub touch: Vec<TouchSample>,
    /// Focus moving into or out of form fields and the window.
    #[serde(with = "wire::pairs")]
    #[cfg_attr(feature = "openapi", schema(schema_with = wire::schema::focus))]
    pub focus: Vec<FocusChange>,
    /// Page visibility changes (tab hidden or shown).
    #[serde(with = "wire::pairs")]
    #[cfg_attr(feature = "openapi", schema(schema_with = wire::schema::visibility))]
    pub visibility: Vec<VisibilityChange>,
    /// How many paste events happened (not what was pasted).
    pub pastes: u32,
    /// How many observed events had `isTrusted == false` (made by script).
    pub untrusted_events: u32,
    /// Facts about the browser and the device.
    pub env: Environment,
}

/// What a pointer sample records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PointerKind {
    /// The pointer moved.
    Move,
    /// A button went down.
    Down,
    /// A button went up.
    Up,
}

/// One pointer event.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PointerSample {
    /// Time, ms.
    pub t: f64,
    /// Move, down or up.
    pub k: PointerKind,
    /// Horizontal movement since the previous sample, CSS px (0 for the
    /// first).
    pub dx: f32,
    /// Vertical movement since the previous sample, CSS px.
    pub dy: f32,
}

/// A click: when the button went down and how long it stayed down. Where is
/// in the pointer samples (`down` and `up`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Click {
    /// Time of the press, ms.
    pub t: f64,
    /// Time between press and release, ms.
    pub dwell: f64,
}

/// One key press: only times. Which key it was is never recorded.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KeyTiming {
    /// Time of the key going down, ms.
    pub t: f64,
    /// Time it stayed down, ms.
    pub dwell: f64,
}

/// The page's scroll offset at one time.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ScrollSample {
    /// Time, ms.
    pub t: f64,
    /// Vertical scroll offset, CSS px.
    pub y: f32,
}

/// What a touch sample records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum TouchKind {
    /// A finger touched.
    Start,
    /// A finger moved.
    Move,
    /// A finger lifted.
    End,
}

/// One touch event (the first touch point).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TouchSample {
    /// Time, ms.
    pub t: f64,
    /// Start, move or end.
    pub k: TouchKind,
    /// Horizontal movement since the previous sample of the same touch, CSS
    /// px (0 at a start).
    pub dx: f32,
    /// Vertical movement, CSS px.
    pub dy: f32,
}

/// Focus entering (`true`) or leaving (`false`) a field or the window.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FocusChange {
    /// Time, ms.
    pub t: f64,
    /// Whether focus came in.
    pub focused: bool,
}

/// The page becoming hidden (`false`) or visible (`true`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VisibilityChange {
    /// Time, ms.
    pub t: f64,
    /// Whether the page is visible after the change.
    pub visible: bool,
}

/// Facts about the browser and device, as the page sees them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct Environment {
    /// `navigator.webdriver`.
    pub webdriver: bool,
    /// `navigator.userAgent`.
    pub user_agent: String,
    /// `navigator.userAgentData.platform`, where the browser has client hints.
    pub ua_platform: Option<String>,
    /// `navigator.userAgentData.mobile`.
    pub ua_mobile: Option<bool>,
    /// `navigator.userAgentData.brands`, as `"Brand/version"`.
    pub ua_brands: Vec<String>,
    /// `navigator.languages`.
    pub languages: Vec<String>,
    /// `screen.width`, `screen.height`.
    #[cfg_attr(feature = "openapi", schema(min_items = 2, max_items = 2))]
    pub screen: [u32; 2],
    /// `innerWidth`, `innerHeight`.
    #[cfg_attr(feature = "openapi", schema(min_items = 2, max_items = 2))]
    pub window: [u32; 2],
    /// `devicePixelRatio`.
    pub pixel_ratio: f32,
    /// `navigator.hardwareConcurrency`.
    pub hardware_concurrency: u32,
    /// `navigator.maxTouchPoints`.
    pub max_touch_points: u32,
    /// Whether `prefers-reduced-motion: reduce` matches.
    pub reduced_motion: bool,
    /// The WebGL renderer's name: `RENDERER` (Firefox names a sanitised
    /// renderer there), or, where that is the generic `WebKit WebGL`
    /// (Chromium, Safari), `WEBGL_debug_renderer_info`'s unmasked
    /// renderer. `None` without WebGL. It names the graphics chip or a
    /// software rasteriser, nothing about the person.
    pub renderer: Option<String>,
}

impl Signals {
    /// Checks bounds: counts, finite and non-negative times within
    /// [`MAX_TIME_MS`], string lengths. Ordering and plausibility are the
    /// scorer's business, not a reason to refuse the payload.
    pub fn validate(&self) -> Result<(), Error> {
        let too_many = Error::new(ErrorKind::OutOfRange, "too many samples in signals");
        if self.pointer.len() > MAX_POINTER {
            return Err(too_many);
        }
        let others = [
            self.clicks.len(),
            self.press_offsets.len(),
            self.keys.len(),
            self.scroll.len(),
            self.touch.len(),
            self.focus.len(),
            self.visibility.len(),
            self.env.ua_brands.len(),
            self.env.languages.len(),
        ];
        if others.iter().any(|&n| n > MAX_OTHER) {
            return Err(too_many);
        }
        let times = std::iter::once(self.elapsed_ms)
            .chain(self.first_interaction_ms)
            .chain(self.pointer.iter().map(|p| p.t))
            .chain(self.clicks.iter().flat_map(|c| [c.t, c.dwell]))
            .chain(self.keys.iter().flat_map(|k| [k.t, k.dwell]))
            .chain(self.scroll.iter().map(|s| s.t))
            .chain(self.touch.iter().map(|s| s.t))
            .chain(self.focus.iter().map(|s| s.t))
            .chain(self.visibility.iter().map(|s| s.t));
        for t in times {
            if !(0.0..=MAX_TIME_MS).contains(&t) {
                return Err(Error::new(
                    ErrorKind::OutOfRange,
                    "a time in signals is negative, not finite or too large",
                ));
            }
        }
        let coords = self
            .pointer
            .iter()
            .flat_map(|p| [p.dx, p.dy])
            .chain(self.touch.iter().flat_map(|c| [c.dx, c.dy]))
            .chain(self.scroll.iter().map(|s| s.y))
            .chain(self.press_offsets.iter().flatten().copied())
            .chain(std::iter::once(self.env.pixel_ratio));
        for c in coords {
            if !c.is_finite() || c.abs() > 1.0e6 {
                return Err(Error::new(ErrorKind::OutOfRange, "a coordinate in signals is not finite or too large"));
            }
        }
        let e = &self.env;
        let strings = std::iter::once(e.user_agent.as_str())
            .chain(e.ua_platform.as_deref())
            .chain(e.renderer.as_deref())
            .chain(e.ua_brands.iter().map(String::as_str))
            .chain(e.languages.iter().map(String::as_str));
        for s in strings {
            if s.len() > MAX_STRING {
                return Err(Error::new(ErrorKind::OutOfRange, "a string in signals is too long"));
            }
        }
        Ok(())
    }

    /// Whether any trusted interaction at all was observed: pointer, touch
    /// or keyboard.
    pub fn has_interaction(&self) -> bool {
        !self.pointer.is_empty() || !self.clicks.is_empty() || !self.keys.is_empty() || !self.touch.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_payload_is_valid_and_has_no_interaction() {
        let s: Signals = serde_json::from_str("{}").expect("defaults");
        assert!(s.validate().is_ok());
        assert!(!s.has_interaction());
    }

    #[test]
    fn refuses_negative_times_and_huge_counts() {
        let mut s = Signals::default();
        s.keys.push(KeyTiming { t: -1.0, dwell: 10.0 });
        assert_eq!(s.validate().map_err(|e| e.kind()), Err(ErrorKind::OutOfRange));
        let s = Signals {
            pointer: vec![PointerSample { t: 1.0, k: PointerKind::Move, dx: 0.0, dy: 0.0 }; MAX_POINTER + 1],
            ..Default::default()
        };
        assert!(s.validate().is_err());
    }

    #[test]
    fn parses_compact_samples() {
        let s: Signals = serde_json::from_str(
            r#"{"v":1,"elapsed_ms":1200,"pointer":[{"t":10.5,"k":"move","dx":3,"dy":4}],"keys":[{"t":50,"dwell":80}]}"#,
        )
        .expect("parses");
        assert_eq!(s.pointer[0].k, PointerKind::Move);
        assert!(s.has_interaction());
    }
}
