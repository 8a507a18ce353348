//! Scoring a session: pure, no I/O. Everything the score rests on is in
//! [`Evidence`]; [`score`] turns it into 0 (human) to 100 (bot) with the
//! reasons that raised it, strongest first.
//!
//! Two kinds of parts add up:
//!
//! - **Rules** with fixed points, for what needs no calibration: a missing
//!   or wrong proof of work, automation flags, no interaction at all,
//!   timings that cannot happen, script-made events, flooding, clicks
//!   without a press, a cursor set on its targets, typing faster or more
//!   even than hands can.
//! - **Behaviour**: the pointer's kinematics ([`crate::features`]) through
//!   the fitted model ([`crate::model`]). Its logit becomes points through
//!   the model's calibration, and the points are shared among the features
//!   that raised the logit, grouped into a few reasons people can read
//!   (`movement_path`, `movement_speed`, ...).
//!
//! No single weak signal (no mouse, keyboard only, a touch screen, a fast
//! but possible fill) can push a session to `bot` on its own: every rule
//! that a person can trip weighs less than 51.

use oculto_shared::signals::Signals;

use crate::features::{Features, FEATURE_NAMES};
use crate::model::Model;

/// How the proof of work turned out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PowOutcome {
    /// Solved at the issued difficulty.
    Solved,
    /// No solution sent.
    Missing,
    /// A solution that does not solve the challenge.
    Wrong,
    /// The widget stopped at its energy budget without a solution.
    GaveUp,
}

/// What the verifier knows about a session when it scores it.
#[derive(Debug, Clone, Copy)]
pub struct Evidence<'a> {
    /// What the widget sent.
    pub signals: &'a Signals,
    /// The proof of work.
    pub pow: PowOutcome,
    /// Milliseconds between `/init` and `/score`, measured by the verifier.
    pub server_elapsed_ms: u64,
    /// The proof of work's difficulty, in bits.
    pub difficulty: u8,
    /// Whether the client's address was opening sessions faster than a
    /// person would.
    pub flooded: bool,
}

/// A reason that raised the score, with its short code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// No proof of work solution.
    PowMissing,
    /// A proof of work solution that is wrong.
    PowInvalid,
    /// The widget gave up the proof of work at its energy budget (a slow
    /// device, or a client skipping the work): worth a step-up, not a ban.
    PowTimeout,
    /// `navigator.webdriver` was true.
    Webdriver,
    /// The browser says it is headless (`HeadlessChrome` in the user agent
    /// or its brands): automation, whatever `navigator.webdriver` says.
    HeadlessBrowser,
    /// The user agent names one operating system and the client hints
    /// another: a user agent set by a script.
    InconsistentPlatform,
    /// The user agent names one Chrome version and the client hints'
    /// `Chromium` brand another: a user agent set by a script over a real
    /// browser's (reported as `inconsistent_browser`).
    InconsistentBrowser,
    /// A desktop page whose inner window is exactly the screen's size: no
    /// toolbar, no task bar. Automation's default (Playwright and Puppeteer
    /// report the viewport as the screen), or a browser in full-screen or
    /// kiosk mode, so it weighs little.
    WindowIsScreen,
    /// The page draws WebGL with a software rasteriser (SwiftShader,
    /// llvmpipe, Microsoft's Basic Render Driver): a machine with no
    /// graphics chip, as the servers and containers that run automation
    /// are. Virtual machines and remote desktops without 3D acceleration do
    /// this too, so it weighs little: alone, it leaves a person `human`.
    SoftwareRenderer,
    /// No pointer, touch or keyboard activity at all.
    NoInteraction,
    /// Keyboard but no pointer or touch: common for keyboard and screen
    /// reader users, so it weighs little.
    NoPointer,
    /// Times that cannot happen: events after the payload was built, a
    /// session longer on the client than on the server, time going backwards.
    ImpossibleTiming,
    /// A proof of work solved faster than a browser can.
    TooFast,
    /// A page scored within a second of loading (reported as `too_fast`).
    /// The widget's early token comes right after the first interaction, so
    /// a quick person gets this too: it stays in the human band alone, and
    /// with `no_pointer` (a quick keyboard user), rather than bringing a
    /// step-up.
    EarlyScore,
    /// Events made by script (`isTrusted == false`).
    UntrustedEvents,
    /// The address opens sessions at a rate people don't.
    Rate,
    /// Clicks held down for less time than a finger can (median under
    /// [`INSTANT_CLICK_MS`]).
    InstantClicks,
    /// Presses that came right after the cursor jumped onto their target.
    Teleport,
    /// Most presses came while the pointer was still travelling fast, with
    /// no slowing down onto the target.
    UnaimedClicks,
    /// Most aimed movements (two or more) reached what they pressed at over
    /// [`FAST_ARRIVAL`] of their peak speed: a path sampled evenly and
    /// stopped dead, where a hand brakes onto its target.
    FastArrival,
    /// Every press (two or more) landed within [`CENTRE_PX`] of the exact
    /// centre of the element pressed, as automation's `click()` does.
    CentredPresses,
    /// The pointer moved in steps far apart in time (median over
    /// [`COARSE_MOVE_MS`]): a browser reports a moving mouse at the display
    /// rate, a script may not; remote desktops and overloaded devices do
    /// too, so it weighs little, and the behaviour model, which needs
    /// browser-rate samples, is not applied.
    CoarsePointer,
    /// Key presses faster than people type, or held for no time.
    SuperhumanTyping,
    /// Key presses at intervals, or held for times, too even for hands.
    TypingRhythm,
    /// Behaviour: the shape of the pointer's path (straightness, crossings).
    MovementPath,
    /// Behaviour: the speed profile of movements (how they speed up, peak
    /// and slow down, how many corrections).
    MovementSpeedProfile,
    /// Behaviour: the fine texture of the path (turns, noise, jerkiness).
    MovementTexture,
    /// Behaviour: how fast the pointer travels.
    MovementSpeed,
    /// Behaviour: how often movements go past their target and come back.
    MovementCorrections,
    /// Behaviour: the time between arriving on a target and pressing.
    ClickTiming,
}

/// The behaviour reason a model feature counts towards.
fn group(feature: &str) -> Reason {
    match feature {
        "straightness" | "straight_share" | "crossings" | "curve_fit" | "loop_fit" => Reason::MovementPath,
        "speed_cv" | "end_speed" | "peak_off_centre" | "peaks" | "arrival_speed" => Reason::MovementSpeedProfile,
        "wobble" | "zigzag" | "roughness" => Reason::MovementTexture,
        "mean_speed" => Reason::MovementSpeed,
        "overshoot_share" => Reason::MovementCorrections,
        _ => Reason::ClickTiming,
    }
}

impl Reason {
    /// The short code reported in `reasons`.
    pub fn code(self) -> &'static str {
        match self {
            Self::PowMissing => "pow_missing",
            Self::PowInvalid => "pow_invalid",
            Self::PowTimeout => "pow_timeout",
            Self::Webdriver => "webdriver",
            Self::HeadlessBrowser => "headless_browser",
            Self::InconsistentPlatform => "inconsistent_platform",
            Self::InconsistentBrowser => "inconsistent_browser",
            Self::WindowIsScreen => "window_is_screen",
            Self::SoftwareRenderer => "software_renderer",
            Self::NoInteraction => "no_interaction",
            Self::NoPointer => "no_pointer",
            Self::ImpossibleTiming => "impossible_timing",
            Self::TooFast | Self::EarlyScore => "too_fast",
            Self::UntrustedEvents => "untrusted_events",
            Self::Rate => "rate",
            Self::InstantClicks => "instant_clicks",
            Self::Teleport => "teleport",
            Self::UnaimedClicks => "unaimed_clicks",
            Self::FastArrival => "fast_arrival",
            Self::CentredPresses => "centred_presses",
            Self::CoarsePointer => "coarse_pointer",
            Self::SuperhumanTyping => "superhuman_typing",
            Self::TypingRhythm => "typing_rhythm",
            Self::MovementPath => "movement_path",
            Self::MovementSpeedProfile => "movement_speed_profile",
            Self::MovementTexture => "movement_texture",
            Self::MovementSpeed => "movement_speed",
            Self::MovementCorrections => "movement_corrections",
            Self::ClickTiming => "click_timing",
        }
    }

    /// Points a rule adds (behaviour reasons get theirs from the model).
    fn points(self) -> u8 {
        match self {
            Self::PowMissing => 55,
            Self::PowInvalid => 60,
            Self::PowTimeout => 30,
            Self::Webdriver => 60,
            Self::HeadlessBrowser => 40,
            Self::InconsistentPlatform => 20,
            Self::InconsistentBrowser => 20,
            Self::WindowIsScreen => 15,
            Self::SoftwareRenderer => 15,
            Self::NoInteraction => 40,
            Self::NoPointer => 8,
            Self::ImpossibleTiming => 45,
            Self::TooFast => 30,
            Self::EarlyScore => 15,
            Self::UntrustedEvents => 35,
            Self::Rate => 20,
            Self::InstantClicks => 30,
            Self::Teleport => 35,
            Self::UnaimedClicks => 30,
            Self::FastArrival => 20,
            Self::CentredPresses => 25,
            Self::CoarsePointer => 20,
            Self::SuperhumanTyping => 35,
            Self::TypingRhythm => 25,
            Self::MovementPath
            | Self::MovementSpeedProfile
            | Self::MovementTexture
            | Self::MovementSpeed
            | Self::MovementCorrections
            | Self::ClickTiming => 0,
        }
    }
}

/// A score and what raised it, strongest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Score {
    /// 0 (human) to 100 (bot).
    pub value: u8,
    /// What raised it.
    pub reasons: Vec<Reason>,
}

impl Score {
    /// The reason codes, for the wire.
    pub fn codes(&self) -> Vec<String> {
        self.reasons.iter().map(|r| r.code().to_owned()).collect()
    }
}

/// Below this page age at `/score`, nobody has read and filled a form. The
/// page claims it; claims that contradict the verifier's own clock are
/// `impossible_timing`.
const TOO_FAST_PAGE_MS: f64 = 1_000.0;
/// Hashes per millisecond beyond what a browser's wasm does (about 10 000 on
/// a fast desktop core): a native or GPU solver.
const TOO_FAST_HASHES_PER_MS: f64 = 50_000.0;
/// Clock slack between the page and the verifier, for the client's claims.
const CLOCK_SLACK_MS: f64 = 5_000.0;
/// Median time between moves above which the pointer is sampled coarser
/// than any browser reports a moving mouse (60 Hz: 16.7 ms), ms.
pub const COARSE_MOVE_MS: f64 = 40.0;
/// A median click dwell below this is not a finger (people hold a button
/// 50 to 150 ms; `page.click()` and `pyautogui.click()` hold it for none).
pub const INSTANT_CLICK_MS: f64 = 20.0;
/// A median time between key presses below this is not typing by hand (a
/// very fast typist manages 60 to 80 ms).
pub const SUPERHUMAN_KEY_GAP_MS: f64 = 35.0;
/// A median key dwell below this is not a finger.
pub const SUPERHUMAN_KEY_DWELL_MS: f64 = 12.0;
/// A press this close to the centre of the element pressed, on both axes,
/// is on the centre (the page rounds what it reports), CSS px. A hand lands
/// there on a 100 × 30 button about once in 300 presses, on a 16 px
/// checkbox once in 30; automation's `click()` always does.
pub const CENTRE_PX: f32 = 1.0;
/// An aimed movement arriving faster than this share of its peak speed
/// ([`crate::features::Shape::arrival`]) did not brake onto its target.
/// People's movements arrive at about 0.03; in the click units of the
/// development data, 0.14% of people's units have two or more such
/// arrivals making up half their aimed movements or more.
pub const FAST_ARRIVAL: f64 = 0.25;
/// Key intervals varying less than this (coefficient of variation) are a
/// script's fixed delay; people's vary by 30% and more.
pub const EVEN_TYPING_CV: f64 = 0.08;
/// Key holds varying less than this are a script's fixed hold (a `press`
/// with a `delay`); a finger's vary by 20% and more. A privacy browser's
/// coarse clock makes holds fall on one or two ticks, which varies more.
pub const EVEN_DWELL_CV: f64 = 0.03;

/// Scores a session with the model the verifier embeds.
pub fn score(e: &Evidence<'_>) -> Score {
    score_with(Model::embedded(), e)
}

/// Scores a session with `model` for its behaviour (`oculto eval --model`
/// measures a re-fitted model this way before it replaces the embedded one).
pub fn score_with(model: &Model, e: &Evidence<'_>) -> Score {
    let s = e.signals;
    let mut reasons = Vec::new();
    match e.pow {
        PowOutcome::Solved => {}
        PowOutcome::Missing => reasons.push(Reason::PowMissing),
        PowOutcome::Wrong => reasons.push(Reason::PowInvalid),
        PowOutcome::GaveUp => reasons.push(Reason::PowTimeout),
    }
    if s.env.webdriver {
        reasons.push(Reason::Webdriver);
    }
    if headless(s) {
        reasons.push(Reason::HeadlessBrowser);
    }
    if let (Some(ua), Some(hints)) = (ua_os(&s.env.user_agent), s.env.ua_platform.as_deref().and_then(hint_os)) {
        if ua != hints {
            reasons.push(Reason::InconsistentPlatform);
        }
    }
    if let (Some(ua), Some(brand)) = (chrome_major(&s.env.user_agent), chromium_brand_major(&s.env.ua_brands)) {
        if ua != brand {
            reasons.push(Reason::InconsistentBrowser);
        }
    }
    let env = &s.env;
    if env.window == env.screen && env.screen[0] > 0 && env.screen[1] > 0 && env.max_touch_points == 0 {
        reasons.push(Reason::WindowIsScreen);
    }
    if env.renderer.as_deref().is_some_and(software_renderer) {
        reasons.push(Reason::SoftwareRenderer);
    }
    if !s.has_interaction() {
        reasons.push(Reason::NoInteraction);
    } else if s.pointer.is_empty() && s.touch.is_empty() && s.clicks.is_empty() {
        reasons.push(Reason::NoPointer);
    }
    if impossible_timing(s, e.server_elapsed_ms) {
        reasons.push(Reason::ImpossibleTiming);
    }
    // The widget opens a session at the first interaction and scores it
    // when the work is done, or opens it early and scores at submit: the
    // gap between /init and /score says nothing of how a form was filled.
    // What cannot be a person is a page submitted as it loads, or work
    // done faster than a browser can (when the work was asked for at all).
    let expected_hashes = 2f64.powi(i32::from(e.difficulty));
    let native_speed = e.pow == PowOutcome::Solved
        && e.difficulty >= 12
        && expected_hashes / (e.server_elapsed_ms.max(1) as f64) > TOO_FAST_HASHES_PER_MS;
    if native_speed {
        reasons.push(Reason::TooFast);
    } else if s.elapsed_ms < TOO_FAST_PAGE_MS {
        reasons.push(Reason::EarlyScore);
    }
    if s.untrusted_events > 0 {
        reasons.push(Reason::UntrustedEvents);
    }
    if e.flooded {
        reasons.push(Reason::Rate);
    }
    let f = Features::extract(s);
    if f.click_dwell.is_some_and(|d| d < INSTANT_CLICK_MS) && s.clicks.len() >= 2 {
        reasons.push(Reason::InstantClicks);
    }
    // With coarse samples, one step before a press spans a whole approach:
    // how the pointer arrived cannot be told.
    let coarse = f.move_interval.is_some_and(|m| m > COARSE_MOVE_MS);
    if f.jump_presses >= 1 {
        reasons.push(Reason::Teleport);
    } else if !coarse && f.presses >= 2 && f.dash_presses * 2 >= f.presses {
        reasons.push(Reason::UnaimedClicks);
    } else if !coarse && f.fast_arrivals >= 2 && f.fast_arrivals * 2 >= f.arrivals {
        // How the pointer reached its targets counts once: a jump onto
        // them, a press on the way, or a stop at full speed.
        reasons.push(Reason::FastArrival);
    }
    let centred = s.press_offsets.iter().filter(|o| o[0].abs() <= CENTRE_PX && o[1].abs() <= CENTRE_PX).count();
    if centred >= 2 && centred == s.press_offsets.len() {
        reasons.push(Reason::CentredPresses);
    }
    let typed = s.keys.len() >= 6;
    if typed
        && (f.key_gap.is_some_and(|g| g < SUPERHUMAN_KEY_GAP_MS)
            || f.key_dwell.is_some_and(|d| d < SUPERHUMAN_KEY_DWELL_MS))
    {
        reasons.push(Reason::SuperhumanTyping);
    } else if typed
        && (f.key_gap_cv.is_some_and(|cv| cv < EVEN_TYPING_CV) || f.key_dwell_cv.is_some_and(|cv| cv < EVEN_DWELL_CV))
    {
        reasons.push(Reason::TypingRhythm);
    }
    if coarse {
        reasons.push(Reason::CoarsePointer);
    }
    let mut parts: Vec<(Reason, f64)> = reasons.into_iter().map(|r| (r, f64::from(r.points()))).collect();
    let mut total: f64 = parts.iter().map(|p| p.1).sum();
    if f.measured > 0 && !coarse {
        let (points, shares) = behaviour(model, &f);
        total += points;
        parts.extend(shares.into_iter().filter(|p| p.1 >= 1.0));
    }
    parts.sort_by(|a, b| b.1.total_cmp(&a.1));
    tracing::debug!(features = ?f, parts = ?parts, "scored");
    Score { value: total.round().clamp(0.0, 100.0) as u8, reasons: parts.into_iter().map(|p| p.0).collect() }
}

/// Names of software rasterisers in WebGL renderer strings: Chromium's
/// SwiftShader (`ANGLE (Google, Vulkan 1.3.0 (SwiftShader Device
/// (Subzero) ...), SwiftShader driver)`, or `Google SwiftShader`), Mesa's
/// llvmpipe and softpipe, Windows' Basic Render Driver.
const SOFTWARE_RENDERERS: [&str; 4] = ["swiftshader", "llvmpipe", "softpipe", "basic render driver"];

/// Whether a WebGL renderer's name is a software rasteriser's.
fn software_renderer(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    SOFTWARE_RENDERERS.iter().any(|s| name.contains(s))
}

/// Whether the user agent or a client-hint brand names a headless browser.
fn headless(s: &Signals) -> bool {
    let named = |v: &str| v.to_ascii_lowercase().contains("headless");
    named(&s.env.user_agent) || s.env.ua_brands.iter().any(|b| named(b))
}

/// The major version after `Chrome/` (or `HeadlessChrome/`) in a user agent.
/// Every Chromium browser (Chrome, Edge, Opera, Brave, Samsung Internet)
/// writes its engine's version there.
fn chrome_major(ua: &str) -> Option<u32> {
    let at = ua.find("Chrome/")? + "Chrome/".len();
    let digits: String = ua[at..].chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// The major version of the `Chromium` brand among the client hints'
/// `"Brand/version"` strings: the same engine version, whatever the
/// browser's own brand says.
fn chromium_brand_major(brands: &[String]) -> Option<u32> {
    let v = brands.iter().find_map(|b| b.strip_prefix("Chromium/"))?;
    v.split('.').next()?.parse().ok()
}

/// Operating system families, as a user agent and the client hints name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Os {
    Windows,
    Mac,
    Android,
    Chromebook,
    Linux,
    Ios,
}

/// The family a user agent string names, if it names one clearly.
fn ua_os(ua: &str) -> Option<Os> {
    // Order matters: Android user agents say Linux, ChromeOS ones say X11.
    if ua.contains("Android") {
        Some(Os::Android)
    } else if ua.contains("CrOS") {
        Some(Os::Chromebook)
    } else if ua.contains("iPhone") || ua.contains("iPad") {
        Some(Os::Ios)
    } else if ua.contains("Windows NT") {
        Some(Os::Windows)
    } else if ua.contains("Macintosh") {
        Some(Os::Mac)
    } else if ua.contains("Linux") || ua.contains("X11") {
        Some(Os::Linux)
    } else {
        None
    }
}

/// The family `navigator.userAgentData.platform` names; `None` for an empty
/// or unknown value (some browsers and overrides leave it empty).
fn hint_os(platform: &str) -> Option<Os> {
    match platform {
        "Windows" => Some(Os::Windows),
        "macOS" => Some(Os::Mac),
        "Android" => Some(Os::Android),
        "Chrome OS" | "ChromeOS" | "Chromium OS" => Some(Os::Chromebook),
        "Linux" => Some(Os::Linux),
        "iOS" => Some(Os::Ios),
        _ => None,
    }
}

/// The behaviour model's points, and their shares among the reasons whose
/// features raised its logit, in proportion to what each raised it by.
pub fn behaviour(model: &Model, f: &Features) -> (f64, Vec<(Reason, f64)>) {
    let (z, contributions) = model.explain(&f.vector());
    let points = model.points(z);
    if points <= 0.0 {
        return (0.0, Vec::new());
    }
    let mut by_reason: Vec<(Reason, f64)> = Vec::new();
    for (name, c) in FEATURE_NAMES.iter().zip(contributions) {
        if c <= 0.0 {
            continue;
        }
        let r = group(name);
        match by_reason.iter_mut().find(|p| p.0 == r) {
            Some(p) => p.1 += c,
            None => by_reason.push((r, c)),
        }
    }
    let raised: f64 = by_reason.iter().map(|p| p.1).sum();
    if raised <= 0.0 {
        return (points, Vec::new());
    }
    (points, by_reason.into_iter().map(|(r, c)| (r, points * c / raised)).collect())
}

fn impossible_timing(s: &Signals, server_elapsed_ms: u64) -> bool {
    // The widget starts before /init, so its elapsed time may exceed the
    // server's, but not by more than a page's life: what matters is events
    // stamped after the payload was built, and time running backwards.
    let limit = s.elapsed_ms + 1.0;
    let after_end = s
        .pointer
        .iter()
        .map(|p| p.t)
        .chain(s.clicks.iter().map(|c| c.t + c.dwell))
        .chain(s.keys.iter().map(|k| k.t + k.dwell))
        .chain(s.touch.iter().map(|t| t.t))
        .any(|t| t > limit);
    let backwards = s.pointer.windows(2).any(|w| w[1].t < w[0].t)
        || s.keys.windows(2).any(|w| w[1].t < w[0].t)
        || s.touch.windows(2).any(|w| w[1].t < w[0].t);
    let first_after_end = s.first_interaction_ms.is_some_and(|f| f > limit);
    // A page opens its session during its own life, so the page's age at
    // /score cannot be shorter than what the verifier saw since /init (a
    // client claiming a young page to look quick, or replaying a payload).
    let shorter_than_server = s.elapsed_ms + CLOCK_SLACK_MS < server_elapsed_ms as f64;
    after_end || backwards || first_after_end || shorter_than_server
}

#[cfg(test)]
mod tests {
    use super::*;
    use oculto_shared::signals::{Click, KeyTiming, PointerKind, PointerSample};

    /// A person: two aimed reaches with a minimum-jerk speed profile, a
    /// slight curve, a small correction at the end, a pause and a click;
    /// then typing at an uneven pace.
    fn person() -> Signals {
        let mut s = Signals { elapsed_ms: 8_000.0, first_interaction_ms: Some(900.0), ..Default::default() };
        let mut t = 900.0;
        let (mut x, mut y) = (0.0_f64, 0.0_f64);
        let push = |s: &mut Signals, t: f64, nx: f64, ny: f64, x: &mut f64, y: &mut f64| {
            let (dx, dy) = ((nx - *x).round(), (ny - *y).round());
            if dx != 0.0 || dy != 0.0 {
                s.pointer.push(PointerSample { t, k: PointerKind::Move, dx: dx as f32, dy: dy as f32 });
                *x += dx;
                *y += dy;
            }
        };
        for (i, &(tx, ty, frames)) in [(420.0, 180.0, 38), (150.0, 330.0, 30)].iter().enumerate() {
            let (sx, sy) = (x, y);
            for f in 1..=frames {
                let u = f64::from(f) / f64::from(frames);
                let p = 10.0 * u.powi(3) - 15.0 * u.powi(4) + 6.0 * u.powi(5);
                let bend = 25.0 * (std::f64::consts::PI * u).sin() * if i == 0 { 1.0 } else { -1.0 };
                let (nx, ny) = (sx + (tx + 9.0 - sx) * p + bend * 0.3, sy + (ty - 4.0 - sy) * p + bend);
                t += 16.7 + f64::from(f % 3) * 0.4;
                push(&mut s, t, nx, ny, &mut x, &mut y);
            }
            for f in 1..=6 {
                t += 16.7;
                let u = f64::from(f) / 6.0;
                push(&mut s, t, tx + 9.0 * (1.0 - u), ty - 4.0 * (1.0 - u), &mut x, &mut y);
            }
            t += 140.0;
            s.pointer.push(PointerSample { t, k: PointerKind::Down, dx: 0.0, dy: 0.0 });
            s.pointer.push(PointerSample { t: t + 95.0, k: PointerKind::Up, dx: 0.0, dy: 0.0 });
            s.clicks.push(Click { t, dwell: 95.0 });
            t += 600.0;
        }
        let gaps = [0.0, 160.0, 240.0, 130.0, 310.0, 180.0, 120.0, 420.0, 150.0, 200.0, 170.0, 260.0];
        let mut kt = 3_000.0;
        for (i, g) in gaps.iter().enumerate() {
            kt += g;
            s.keys.push(KeyTiming { t: kt, dwell: 70.0 + (i % 4) as f64 * 12.0 });
        }
        s
    }

    fn evidence(s: &Signals) -> Evidence<'_> {
        Evidence { signals: s, pow: PowOutcome::Solved, server_elapsed_ms: 7_500, difficulty: 18, flooded: false }
    }

    #[test]
    fn a_hand_made_person_is_not_a_bot_and_trips_no_rule() {
        // A path drawn from formulas is smoother than any hand: the model
        // may find it suspicious, never a bot, and no fixed rule fires.
        let s = person();
        let sc = score(&evidence(&s));
        assert!(sc.value <= 50, "{sc:?}");
        assert!(sc.reasons.iter().all(|r| r.points() == 0), "only behaviour reasons: {sc:?}");
    }

    #[test]
    fn a_pointer_sampled_coarser_than_a_browser_weighs_little_and_skips_the_model() {
        let mut s = person();
        for p in &mut s.pointer {
            p.t = 900.0 + (p.t - 900.0) * 6.0;
        }
        s.clicks.iter_mut().for_each(|c| c.t = 900.0 + (c.t - 900.0) * 6.0);
        s.elapsed_ms = 60_000.0;
        let sc = score(&evidence(&s));
        assert_eq!(sc.codes(), vec!["coarse_pointer"]);
        assert!(sc.value <= 25, "{sc:?}");
    }

    #[test]
    fn scores_stay_in_range_and_are_deterministic() {
        let mut rng = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            (rng % 10_000) as f64 / 10_000.0
        };
        for _ in 0..300 {
            let mut s = person();
            for p in &mut s.pointer {
                p.dx *= (next() * 3.0) as f32;
                p.dy += ((next() - 0.5) * 20.0) as f32;
            }
            for k in &mut s.keys {
                k.dwell *= next();
            }
            let e = Evidence { flooded: next() < 0.2, server_elapsed_ms: (next() * 9_000.0) as u64, ..evidence(&s) };
            let (a, b) = (score(&e), score(&e));
            assert_eq!(a, b);
            assert!(a.value <= 100);
        }
    }

    #[test]
    fn keyboard_only_is_not_a_bot_on_its_own() {
        let mut s = person();
        s.pointer.clear();
        s.clicks.clear();
        let sc = score(&evidence(&s));
        assert!(sc.value <= 25, "{sc:?}");
        assert_eq!(sc.codes(), vec!["no_pointer"]);
    }

    #[test]
    fn a_headless_script_scores_bot_with_reasons() {
        let mut s = Signals { elapsed_ms: 50.0, ..Default::default() };
        s.env.webdriver = true;
        let e =
            Evidence { signals: &s, pow: PowOutcome::Missing, server_elapsed_ms: 40, difficulty: 18, flooded: true };
        let sc = score(&e);
        assert_eq!(sc.value, 100);
        assert_eq!(sc.reasons[0], Reason::Webdriver);
        for code in ["pow_missing", "webdriver", "no_interaction", "too_fast", "rate"] {
            assert!(sc.codes().iter().any(|c| c == code), "{code} in {:?}", sc.codes());
        }
    }

    #[test]
    fn a_headless_or_disguised_browser_is_named_and_a_person_is_not() {
        const WIN: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) \
                           Chrome/156.0.0.0 Safari/537.36";
        let codes = |ua: &str, platform: Option<&str>, brands: &[&str]| {
            let mut s = person();
            s.env.user_agent = ua.into();
            s.env.ua_platform = platform.map(Into::into);
            s.env.ua_brands = brands.iter().map(|b| (*b).into()).collect();
            let sc = score(&evidence(&s));
            (sc.codes(), sc.value)
        };
        let (c, _) = codes(WIN, Some("Windows"), &["Chromium/156", "Google Chrome/156"]);
        assert!(!c.iter().any(|c| c == "headless_browser" || c == "inconsistent_platform"), "{c:?}");
        // Firefox and Safari send no client hints; overrides may leave the platform empty.
        for platform in [None, Some("")] {
            let (c, _) = codes(WIN, platform, &[]);
            assert!(!c.iter().any(|c| c == "inconsistent_platform"), "{c:?}");
        }
        let (c, v) = codes(&WIN.replace("Chrome/", "HeadlessChrome/"), Some("Windows"), &[]);
        assert!(c.iter().any(|c| c == "headless_browser") && v >= 40, "{c:?} {v}");
        let (c, _) = codes(WIN, Some("Windows"), &["HeadlessChrome/156"]);
        assert!(c.iter().any(|c| c == "headless_browser"), "{c:?}");
        // A Windows user agent from a Linux machine: a script set it.
        let (_, base) = codes(WIN, Some("Windows"), &["Chromium/156"]);
        let (c, v) = codes(WIN, Some("Linux"), &["Chromium/156"]);
        assert!(c.iter().any(|c| c == "inconsistent_platform"), "{c:?}");
        // A user-agent switcher does this too: from the human band, it is
        // not enough for bot.
        assert_eq!(v - base, Reason::InconsistentPlatform.points());
        assert!(25 + Reason::InconsistentPlatform.points() <= 50);
        let android = "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 \
                       Mobile Safari/537.36";
        let (c, _) = codes(android, Some("Android"), &["Chromium/156"]);
        assert!(!c.iter().any(|c| c == "inconsistent_platform"), "Android says Linux in its user agent: {c:?}");
    }

    #[test]
    fn a_user_agent_of_another_chrome_version_than_the_engine_is_named() {
        let codes = |ua: &str, brands: &[&str]| {
            let mut s = person();
            s.env.user_agent = ua.into();
            s.env.ua_brands = brands.iter().map(|b| (*b).into()).collect();
            score(&evidence(&s)).codes()
        };
        let named = |c: Vec<String>| c.iter().any(|c| c == "inconsistent_browser");
        const UA: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 \
                          Safari/537.36";
        // Chrome, Edge and Opera as they are: the engine's version in both.
        assert!(!named(codes(UA, &["Not)A;Brand/8", "Chromium/156", "Google Chrome/156"])));
        let edge = format!("{UA} Edg/156.0.1.2");
        assert!(!named(codes(&edge, &["Chromium/156.0.7000.1", "Microsoft Edge/156"])));
        let opera = format!("{UA} OPR/141.0.0.0");
        assert!(!named(codes(&opera, &["Chromium/156", "Opera/141"])));
        // Firefox and Safari have no client hints; a user agent without Chrome says nothing.
        assert!(!named(codes(UA, &[])));
        assert!(!named(codes("Mozilla/5.0 (Macintosh) Gecko/20100101 Firefox/150.0", &["Chromium/156"])));
        // A script's user agent string over another Chromium.
        assert!(named(codes(&UA.replace("156", "120"), &["Chromium/156", "Google Chrome/156"])));
        assert!(25 + Reason::InconsistentBrowser.points() <= 50, "a user-agent switcher alone is not a bot");
    }

    #[test]
    fn a_desktop_window_as_large_as_its_screen_is_named_but_a_touch_device_is_not() {
        let codes = |screen: [u32; 2], window: [u32; 2], touch: u32| {
            let mut s = person();
            (s.env.screen, s.env.window, s.env.max_touch_points) = (screen, window, touch);
            score(&evidence(&s))
        };
        let base = codes([1920, 1080], [1920, 953], 0);
        assert!(!base.codes().contains(&"window_is_screen".to_string()), "{base:?}");
        let same = codes([1280, 720], [1280, 720], 0);
        assert!(same.codes().contains(&"window_is_screen".to_string()), "{same:?}");
        assert_eq!(same.value - base.value, Reason::WindowIsScreen.points());
        // A phone or tablet app filling its screen, and a page that could not
        // read its sizes, say nothing.
        for (screen, window, touch) in [([390, 844], [390, 844], 5), ([0, 0], [0, 0], 0)] {
            assert!(!codes(screen, window, touch).codes().contains(&"window_is_screen".to_string()));
        }
        assert!(25 + Reason::WindowIsScreen.points() <= 50, "full screen alone is not a bot");
    }

    #[test]
    fn a_software_rasteriser_is_named_but_a_graphics_chip_or_none_is_not() {
        let codes = |renderer: Option<&str>| {
            let mut s = person();
            s.env.renderer = renderer.map(Into::into);
            score(&evidence(&s))
        };
        let base = codes(None);
        for chip in [
            "ANGLE (Intel, Intel(R) UHD Graphics 620 (0x00003EA0) Direct3D11 vs_5_0 ps_5_0, D3D11)",
            "ANGLE (Apple, ANGLE Metal Renderer: Apple M2, Unspecified Version)",
            "Apple GPU",
            "Mali-G78",
            "WebKit WebGL",
        ] {
            assert_eq!(codes(Some(chip)), base, "{chip}");
        }
        for software in [
            "ANGLE (Google, Vulkan 1.3.0 (SwiftShader Device (Subzero) (0x0000C0DE)), SwiftShader driver)",
            "Google SwiftShader",
            "llvmpipe (LLVM 15.0.7, 256 bits)",
            "ANGLE (Microsoft, Microsoft Basic Render Driver (0x0000008C) Direct3D11 vs_5_0 ps_5_0, D3D11)",
        ] {
            let named = codes(Some(software));
            assert!(named.codes().contains(&"software_renderer".to_string()), "{software}: {named:?}");
            assert_eq!(named.value - base.value, Reason::SoftwareRenderer.points());
        }
        assert!(Reason::SoftwareRenderer.points() <= 25, "a virtual machine alone leaves a person human");
    }

    #[test]
    fn events_after_the_end_or_backwards_are_impossible() {
        let mut s = person();
        s.keys.push(KeyTiming { t: 9_000.0, dwell: 10.0 });
        assert!(score(&evidence(&s)).codes().contains(&"impossible_timing".to_string()));
        let mut s = person();
        s.pointer.swap(3, 10);
        assert!(score(&evidence(&s)).codes().contains(&"impossible_timing".to_string()));
    }

    #[test]
    fn a_widget_token_made_right_after_the_first_interaction_is_not_too_fast() {
        // The widget solves ~200 ms after the first interaction, 3 s into the page.
        let s = Signals { elapsed_ms: 3_000.0, ..person() };
        let e = Evidence { server_elapsed_ms: 200, ..evidence(&s) };
        assert!(!score(&e).codes().contains(&"too_fast".to_string()));
    }

    #[test]
    fn a_native_speed_solver_or_an_instant_submit_is_too_fast() {
        let s = person();
        let e = Evidence { server_elapsed_ms: 2, ..evidence(&s) };
        assert!(score(&e).codes().contains(&"too_fast".to_string()));
        let s = Signals { elapsed_ms: 400.0, ..person() };
        assert!(score(&evidence(&s)).codes().contains(&"too_fast".to_string()));
    }

    #[test]
    fn a_quick_keyboard_user_stays_human() {
        // Tab at 300 ms, Space at 420 ms, scored at 600 ms.
        let keys = vec![KeyTiming { t: 300.0, dwell: 80.0 }, KeyTiming { t: 420.0, dwell: 90.0 }];
        let s = Signals { elapsed_ms: 600.0, first_interaction_ms: Some(300.0), keys, ..Default::default() };
        let sc = score(&Evidence { server_elapsed_ms: 250, ..evidence(&s) });
        assert!(sc.value <= 25, "{sc:?}");
        assert!(sc.codes().contains(&"too_fast".to_string()));
    }

    #[test]
    fn presses_all_on_their_targets_exact_centre_are_named_and_one_off_centre_clears_them() {
        let with = |offsets: &[[f32; 2]]| {
            let s = Signals { press_offsets: offsets.to_vec(), ..person() };
            score(&evidence(&s))
        };
        let base = with(&[]).value;
        let sc = with(&[[0.5, -0.5], [0.0, 1.0], [-1.0, 0.0]]);
        assert!(sc.codes().contains(&"centred_presses".to_string()), "{sc:?}");
        assert_eq!(sc.value - base, Reason::CentredPresses.points());
        // A hand lands off the centre: one such press, or a single press on
        // the centre, says nothing.
        for offsets in [&[[0.5, 0.0], [0.0, 0.0], [12.5, -3.0]][..], &[[0.0, 0.0]], &[[4.0, 1.5], [-7.0, 2.0]]] {
            assert!(!with(offsets).codes().contains(&"centred_presses".to_string()), "{offsets:?}");
        }
        // Not a bot on its own, from the human band.
        assert!(25 + Reason::CentredPresses.points() <= 50);
    }

    /// Pointer moves to each target in `frames` frames, eased (a hand's
    /// minimum-jerk reach) or evenly (a line sampled evenly in time), each
    /// pressed 120 ms after the pointer stopped.
    fn reaches(targets: &[(f64, f64, u32, bool)]) -> Signals {
        let mut s = Signals { elapsed_ms: 8_000.0, first_interaction_ms: Some(900.0), ..Default::default() };
        let (mut t, mut x, mut y) = (900.0, 0.0_f64, 0.0_f64);
        for &(tx, ty, frames, eased) in targets {
            let (sx, sy) = (x, y);
            for f in 1..=frames {
                let u = f64::from(f) / f64::from(frames);
                let p = if eased { 10.0 * u.powi(3) - 15.0 * u.powi(4) + 6.0 * u.powi(5) } else { u };
                let (nx, ny) = (sx + (tx - sx) * p, sy + (ty - sy) * p + 20.0 * (std::f64::consts::PI * u).sin());
                t += 16.7;
                s.pointer.push(PointerSample { t, k: PointerKind::Move, dx: (nx - x) as f32, dy: (ny - y) as f32 });
                (x, y) = (nx, ny);
            }
            t += 120.0;
            s.pointer.push(PointerSample { t, k: PointerKind::Down, dx: 0.0, dy: 0.0 });
            s.pointer.push(PointerSample { t: t + 90.0, k: PointerKind::Up, dx: 0.0, dy: 0.0 });
            s.clicks.push(Click { t, dwell: 90.0 });
            t += 700.0;
        }
        s
    }

    #[test]
    fn aimed_moves_that_stop_dead_on_their_targets_arrive_fast() {
        let has = |s: &Signals| score(&evidence(s)).codes().contains(&"fast_arrival".to_string());
        let even = reaches(&[(400.0, 150.0, 25, false), (120.0, 320.0, 25, false), (300.0, 500.0, 20, false)]);
        assert!(has(&even), "{:?}", Features::extract(&even));
        let eased = reaches(&[(400.0, 150.0, 25, true), (120.0, 320.0, 25, true), (300.0, 500.0, 20, true)]);
        assert!(!has(&eased), "{:?}", Features::extract(&eased));
        assert!(!has(&person()));
        // One fast arrival in three is a hand that clicked on the way.
        let once = reaches(&[(400.0, 150.0, 25, false), (120.0, 320.0, 25, true), (300.0, 500.0, 20, true)]);
        assert!(!has(&once), "{:?}", Features::extract(&once));
        // Not a bot on its own, from the human band.
        assert!(25 + Reason::FastArrival.points() <= 50);
    }

    #[test]
    fn a_wrong_pow_alone_is_a_bot() {
        let s = person();
        let e = Evidence { pow: PowOutcome::Wrong, ..evidence(&s) };
        assert!(score(&e).value > 50);
    }

    /// The person's form, with the keys replaced by `keys` as (gap, hold).
    fn typed(keys: impl Iterator<Item = (f64, f64)>) -> Signals {
        let mut s = person();
        s.keys.clear();
        let mut t = 3_000.0;
        for (gap, dwell) in keys {
            t += gap;
            s.keys.push(KeyTiming { t, dwell });
        }
        s
    }

    #[test]
    fn a_script_typing_with_a_fixed_delay_between_fields_is_caught() {
        // Three fields typed with `type(text, {delay: 90})`, a second to
        // move between them: the pauses hide nothing of the rhythm.
        let gaps = (0..18).map(|i| if i % 6 == 0 && i > 0 { 1_400.0 + f64::from(i) * 37.0 } else { 90.0 });
        let sc = score(&evidence(&typed(gaps.zip((0..18).map(|i| 30.0 + f64::from(i % 5) * 9.0)))));
        assert!(sc.codes().iter().any(|c| c == "typing_rhythm"), "{sc:?}");
    }

    #[test]
    fn a_script_holding_every_key_alike_is_caught() {
        // `press(key, {delay: 60})` with human-looking gaps.
        let gaps = [0.0, 160.0, 240.0, 130.0, 310.0, 180.0, 120.0, 420.0, 150.0, 200.0];
        let sc = score(&evidence(&typed(gaps.into_iter().map(|g| (g, 60.0)))));
        assert!(sc.codes().iter().any(|c| c == "typing_rhythm"), "{sc:?}");
    }

    #[test]
    fn typing_on_a_coarse_clock_is_not_a_rhythm() {
        // A privacy browser that rounds its clock to 16.7 ms: a person's
        // holds of 70-110 ms land on a few ticks, and still vary.
        let tick = |v: f64| (v / 16.7).round() * 16.7;
        let gaps = [0.0, 160.0, 240.0, 130.0, 310.0, 180.0, 120.0, 420.0, 150.0, 200.0, 170.0, 260.0];
        let holds = [88.0, 74.0, 103.0, 95.0, 81.0, 110.0, 92.0, 70.0, 99.0, 84.0, 91.0, 77.0];
        let sc = score(&evidence(&typed(gaps.into_iter().zip(holds).map(|(g, h)| (tick(g), tick(h))))));
        assert!(!sc.codes().iter().any(|c| c == "typing_rhythm"), "{sc:?}");
        assert_eq!(sc.value, score(&evidence(&person())).value, "{sc:?}");
    }
}
