//! Bot traces, in the families of movement that bots use (issue 5).
//!
//! Each unit is a form: two to five fields and a submit button laid out on
//! a page. The bot points at each field, clicks it, types into it (or fills
//! it without key events, as `fill()` does), then points at the button and
//! clicks it: three to six point-and-click actions, like the neutralised
//! human units. The cursor path a family draws goes through the browser's
//! frame clock ([`frames::deliver`]), so the moves reach the page as a real
//! browser would deliver them: what separates families is their paths,
//! speeds, pauses, dwell and typing, not their clock.
//!
//! Every family draws its parameters per unit (a family, not one curve):
//!
//! | family | what it models |
//! |---|---|
//! | `straight` | a straight line at constant speed (pyautogui `moveTo` with a duration) |
//! | `linear_steps` | a few linear steps with jitter and a fixed sleep between them |
//! | `bezier_eased` | a cubic Bezier curve with easing (ease-in-out quad, cubic or sine) |
//! | `constant_velocity` | a curved path at constant speed along its length |
//! | `constant_interval` | an eased path moved in coarse steps at a fixed interval |
//! | `teleport` | the cursor jumps to each target and clicks at once (CDP `click`) |
//! | `superhuman_typing` | teleporting or fast straight moves, typing 0-15 ms a key |
//! | `no_movement` | no pointer at all: Tab from field to field and type, or no input at all |
//! | `spline` | a Catmull-Rom spline through random waypoints |
//! | `windmouse` | WindMouse physics: gravity toward the target, random wind, speed limit |
//! | `gaussian_jitter` | a line or curve with Gaussian noise on every sample |
//! | `perlin_jitter` | a curve with smooth (gradient) noise across it |
//! | `overshoot` | past the target, then a short correction back (ghost-cursor) |
//! | `fitts` | Fitts's-law duration and a minimum-jerk speed profile on a curved path |
//! | `human_dwell` | `fitts` with occasional overshoot and tremor, log-normal pauses, human click dwell and typing rhythm |

use super::frames::{self, Point};
use super::rng::Rng;
use super::trace::{round_ms, Event, Label, Trace};

/// The bot families [`unit()`] generates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
#[value(rename_all = "snake_case")]
pub enum Family {
    /// A straight line at constant speed.
    Straight,
    /// Linear steps with jitter and a fixed sleep.
    LinearSteps,
    /// A Bezier curve with easing.
    BezierEased,
    /// A curved path at constant speed.
    ConstantVelocity,
    /// Coarse steps at a fixed interval.
    ConstantInterval,
    /// Jumps to each target.
    Teleport,
    /// Typing faster than people can.
    SuperhumanTyping,
    /// No pointer at all.
    NoMovement,
    /// A spline through waypoints.
    Spline,
    /// WindMouse physics.
    Windmouse,
    /// Gaussian noise on a path.
    GaussianJitter,
    /// Smooth noise across a path.
    PerlinJitter,
    /// Past the target and back.
    Overshoot,
    /// Fitts's-law timing, minimum-jerk profile.
    Fitts,
    /// The most human-like: Fitts, overshoot, tremor, human dwell and rhythm.
    HumanDwell,
    /// A Bezier curve bent to one side, its points evenly spaced in the
    /// curve's parameter (no easing), as many as a Fitts's-law count says,
    /// sent back to back as fast as the browser takes them (one a frame in
    /// Chromium); a far target is passed and come back to (how ghost-cursor
    /// moves a puppeteer page).
    BezierBurst,
}

impl Family {
    /// Every family, in the order of the table above.
    pub const ALL: [Family; 16] = [
        Self::Straight,
        Self::LinearSteps,
        Self::BezierEased,
        Self::ConstantVelocity,
        Self::ConstantInterval,
        Self::Teleport,
        Self::SuperhumanTyping,
        Self::NoMovement,
        Self::Spline,
        Self::Windmouse,
        Self::GaussianJitter,
        Self::PerlinJitter,
        Self::Overshoot,
        Self::Fitts,
        Self::HumanDwell,
        Self::BezierBurst,
    ];

    /// The family's name, the `user` of its traces.
    pub fn name(self) -> &'static str {
        match self {
            Self::Straight => "straight",
            Self::LinearSteps => "linear_steps",
            Self::BezierEased => "bezier_eased",
            Self::ConstantVelocity => "constant_velocity",
            Self::ConstantInterval => "constant_interval",
            Self::Teleport => "teleport",
            Self::SuperhumanTyping => "superhuman_typing",
            Self::NoMovement => "no_movement",
            Self::Spline => "spline",
            Self::Windmouse => "windmouse",
            Self::GaussianJitter => "gaussian_jitter",
            Self::PerlinJitter => "perlin_jitter",
            Self::Overshoot => "overshoot",
            Self::Fitts => "fitts",
            Self::HumanDwell => "human_dwell",
            Self::BezierBurst => "bezier_burst",
        }
    }
}

/// A random duration, ms.
#[derive(Debug, Clone, Copy)]
enum Dist {
    Const(f64),
    Uniform(f64, f64),
    LogNormal(f64, f64),
    Normal(f64, f64),
}

impl Dist {
    fn draw(self, rng: &mut Rng) -> f64 {
        let v = match self {
            Self::Const(v) => v,
            Self::Uniform(a, b) => rng.range(a, b),
            Self::LogNormal(median, sigma) => rng.log_normal(median, sigma),
            Self::Normal(mean, sd) => rng.normal(mean, sd),
        };
        v.max(0.0)
    }
}

/// How a unit types: not at all (`fill()`), or key by key.
#[derive(Debug, Clone, Copy)]
enum Typing {
    Fill,
    Keys { interval: Dist, dwell: Dist },
}

/// What a family draws once per unit.
struct Style {
    family: Family,
    /// Clicks land on the target's exact centre.
    centre: bool,
    /// Before each movement.
    pause: Dist,
    /// Button down to up.
    dwell: Dist,
    /// From the end of a movement to the press.
    settle: Dist,
    typing: Typing,
    /// Sleep between the script's cursor moves.
    step: Dist,
    /// Speed for constant-speed paths, px/ms.
    speed: f64,
    /// A second number whose meaning depends on the family (steps, noise...).
    knob: f64,
    /// Fitts's law intercept and slope, ms.
    fitts: (f64, f64),
}

fn style(family: Family, rng: &mut Rng) -> Style {
    use Family as F;
    let naive = matches!(
        family,
        F::Straight | F::LinearSteps | F::ConstantVelocity | F::ConstantInterval | F::Teleport | F::SuperhumanTyping
    );
    let (pause, dwell, settle) = if family == F::HumanDwell {
        (Dist::LogNormal(650.0, 0.5), Dist::LogNormal(95.0, 0.3), Dist::LogNormal(80.0, 0.5))
    } else if naive {
        let slow = rng.range(5.0, 30.0);
        let dwell = *rng.pick(&[0.0, 1.0, slow]);
        (Dist::Const(rng.range(0.0, 300.0)), Dist::Const(dwell), Dist::Const(rng.range(0.0, 20.0)))
    } else {
        let lo = rng.range(20.0, 60.0);
        (Dist::Uniform(100.0, 900.0), Dist::Uniform(lo, lo + rng.range(40.0, 120.0)), Dist::Uniform(0.0, 120.0))
    };
    let typing = match family {
        F::SuperhumanTyping => Typing::Keys { interval: Dist::Uniform(0.0, 15.0), dwell: Dist::Uniform(0.0, 5.0) },
        F::HumanDwell => Typing::Keys { interval: Dist::LogNormal(170.0, 0.45), dwell: Dist::Normal(95.0, 25.0) },
        F::NoMovement => {
            Typing::Keys { interval: Dist::Const(rng.range(30.0, 150.0)), dwell: Dist::Const(rng.range(0.0, 20.0)) }
        }
        _ if naive && rng.chance(0.5) => Typing::Fill,
        _ if naive => {
            Typing::Keys { interval: Dist::Const(rng.range(20.0, 120.0)), dwell: Dist::Const(rng.range(0.0, 10.0)) }
        }
        _ if rng.chance(0.2) => Typing::Fill,
        _ => Typing::Keys { interval: Dist::Uniform(50.0, 200.0), dwell: Dist::Uniform(30.0, 90.0) },
    };
    let step = match family {
        F::Straight | F::ConstantVelocity => Dist::Const(rng.range(1.0, 12.0)),
        F::LinearSteps => Dist::Const(rng.range(20.0, 80.0)),
        F::ConstantInterval => Dist::Const(rng.range(30.0, 100.0)),
        F::Windmouse => {
            let lo = rng.range(2.0, 6.0);
            Dist::Uniform(lo, lo + rng.range(4.0, 10.0))
        }
        F::Fitts | F::HumanDwell => Dist::Uniform(1.0, 4.0),
        // A devtools protocol round trip per point, and Chromium answers
        // a mouse event once it has been through a frame.
        F::BezierBurst => Dist::Normal(16.7, 1.0),
        _ => Dist::Const(rng.range(5.0, 16.0)),
    };
    let knob = match family {
        F::LinearSteps => rng.range(5.0, 25.0),                      // steps
        F::GaussianJitter => rng.range(0.5, 3.0),                    // noise sd, px
        F::PerlinJitter => rng.range(2.0, 12.0),                     // noise amplitude, px
        F::BezierEased | F::ConstantInterval => rng.range(0.0, 3.0), // easing
        F::HumanDwell => rng.range(0.3, 1.0),                        // tremor sd, px
        F::SuperhumanTyping => rng.range(0.0, 1.0),                  // below 0.5: teleports
        _ => 0.0,
    };
    Style {
        family,
        centre: naive && rng.chance(0.7),
        pause,
        dwell,
        settle,
        typing,
        step,
        speed: rng.range(0.5, 3.0),
        knob,
        fitts: (rng.range(50.0, 150.0), rng.range(100.0, 200.0)),
    }
}

/// A rectangle on the page, px.
#[derive(Debug, Clone, Copy)]
struct Rect {
    x: f64,
    y: f64,
    w: f64,
    h: f64,
}

impl Rect {
    fn centre(&self) -> (f64, f64) {
        (self.x + self.w / 2.0, self.y + self.h / 2.0)
    }

    fn aim(&self, centre: bool, rng: &mut Rng) -> (f64, f64) {
        let (cx, cy) = self.centre();
        if centre {
            return (cx, cy);
        }
        let x = rng.normal(cx, self.w / 6.0).clamp(self.x + 2.0, self.x + self.w - 2.0);
        let y = rng.normal(cy, self.h / 6.0).clamp(self.y + 2.0, self.y + self.h - 2.0);
        (x, y)
    }
}

/// A page with a form: fields in a column, then the submit button.
fn form(rng: &mut Rng) -> (f64, f64, Vec<Rect>) {
    let vw = *rng.pick(&[1280.0, 1366.0, 1440.0, 1536.0, 1920.0]);
    let vh = vw * rng.range(0.48, 0.56);
    let x0 = vw * rng.range(0.25, 0.5);
    let (w, h) = (rng.range(220.0, 420.0), rng.range(28.0, 44.0));
    let gap = rng.range(55.0, 90.0);
    let mut y = rng.range(100.0, 220.0);
    let mut targets = Vec::new();
    for _ in 0..rng.int(2, 5) {
        targets.push(Rect { x: x0, y, w, h });
        y += gap;
    }
    let bw = rng.range(90.0, 160.0);
    let bx = if rng.chance(0.5) { x0 } else { x0 + (w - bw) / 2.0 };
    targets.push(Rect { x: bx, y: y + rng.range(0.0, 30.0), w: bw, h: rng.range(32.0, 48.0) });
    (vw, vh, targets)
}

type P = (f64, f64);

fn lerp(a: P, b: P, f: f64) -> P {
    (a.0 + (b.0 - a.0) * f, a.1 + (b.1 - a.1) * f)
}

fn dist(a: P, b: P) -> f64 {
    (b.0 - a.0).hypot(b.1 - a.1)
}

fn bezier(p0: P, p1: P, p2: P, p3: P, f: f64) -> P {
    let g = 1.0 - f;
    let (a, b, c, d) = (g * g * g, 3.0 * g * g * f, 3.0 * g * f * f, f * f * f);
    (a * p0.0 + b * p1.0 + c * p2.0 + d * p3.0, a * p0.1 + b * p1.1 + c * p2.1 + d * p3.1)
}

/// Two control points bending the segment by up to `bend` of its length.
fn controls(from: P, to: P, bend: f64, rng: &mut Rng) -> (P, P) {
    let d = dist(from, to).max(1.0);
    let (nx, ny) = (-(to.1 - from.1) / d, (to.0 - from.0) / d);
    let mut c = |lo: f64, hi: f64| {
        let (x, y) = lerp(from, to, rng.range(lo, hi));
        let off = rng.range(-bend, bend) * d;
        (x + nx * off, y + ny * off)
    };
    (c(0.15, 0.45), c(0.55, 0.85))
}

fn ease(kind: f64, f: f64) -> f64 {
    match kind as u32 {
        0 => {
            if f < 0.5 {
                2.0 * f * f
            } else {
                1.0 - (-2.0 * f + 2.0).powi(2) / 2.0
            }
        }
        1 => {
            if f < 0.5 {
                4.0 * f * f * f
            } else {
                1.0 - (-2.0 * f + 2.0).powi(3) / 2.0
            }
        }
        _ => -((std::f64::consts::PI * f).cos() - 1.0) / 2.0,
    }
}

fn min_jerk(f: f64) -> f64 {
    f * f * f * (10.0 - 15.0 * f + 6.0 * f * f)
}

/// Samples `at` (0..=1) over `ms`, a script move every `step`.
fn sample(t0: f64, ms: f64, step: Dist, rng: &mut Rng, mut at: impl FnMut(f64, &mut Rng) -> P) -> Vec<Point> {
    let mut out = Vec::new();
    let mut t = 0.0;
    loop {
        t += step.draw(rng).max(0.5);
        if t >= ms {
            break;
        }
        let (x, y) = at(t / ms, rng);
        out.push(Point::new(t0 + t, x, y));
    }
    let (x, y) = at(1.0, rng);
    out.push(Point::new(t0 + ms.max(0.5), x, y));
    out
}

/// A polyline and its cumulative lengths, to move along it at constant speed.
fn arc(points: &[P]) -> (Vec<P>, Vec<f64>) {
    let mut len = vec![0.0];
    for w in points.windows(2) {
        len.push(len[len.len() - 1] + dist(w[0], w[1]));
    }
    (points.to_vec(), len)
}

fn along((pts, len): &(Vec<P>, Vec<f64>), f: f64) -> P {
    let target = f.clamp(0.0, 1.0) * len[len.len() - 1];
    let i = len.partition_point(|&l| l < target).clamp(1, pts.len() - 1);
    let seg = (len[i] - len[i - 1]).max(1e-9);
    lerp(pts[i - 1], pts[i], (target - len[i - 1]) / seg)
}

/// Smooth 1-D gradient noise in about -0.5..0.5.
struct Noise(Vec<f64>);

impl Noise {
    fn new(rng: &mut Rng) -> Self {
        Self((0..32).map(|_| rng.range(-1.0, 1.0)).collect())
    }

    fn at(&self, x: f64) -> f64 {
        let i = x.floor();
        let f = x - i;
        let i = (i as usize) % (self.0.len() - 1);
        let (a, b) = (self.0[i] * f, self.0[i + 1] * (f - 1.0));
        let s = f * f * (3.0 - 2.0 * f);
        a + (b - a) * s
    }
}

/// The script's cursor moves from `from` to `to`, starting at `t0`, for a
/// target `w` px wide.
fn movement(s: &Style, from: P, to: P, w: f64, t0: f64, rng: &mut Rng) -> Vec<Point> {
    use Family as F;
    let d = dist(from, to);
    let fitts_ms = |rng: &mut Rng| s.fitts.0 + s.fitts.1 * (d / w.max(1.0) + 1.0).log2() * rng.range(0.85, 1.15);
    match s.family {
        F::Teleport | F::NoMovement => vec![Point::new(t0, to.0, to.1)],
        F::SuperhumanTyping if s.knob < 0.5 && d > 0.0 => vec![Point::new(t0, to.0, to.1)],
        F::Straight | F::SuperhumanTyping => sample(t0, d / s.speed, s.step, rng, |f, _| lerp(from, to, f)),
        F::LinearSteps => {
            let n = s.knob.round().max(2.0);
            let mut out = Vec::new();
            let interval = s.step.draw(rng);
            for i in 1..=n as u32 {
                let (mut x, mut y) = lerp(from, to, f64::from(i) / n);
                if f64::from(i) < n {
                    x += rng.range(-2.0, 2.0);
                    y += rng.range(-2.0, 2.0);
                }
                out.push(Point::new(t0 + f64::from(i) * interval, x, y));
            }
            out
        }
        F::BezierEased | F::ConstantInterval => {
            let (c1, c2) = controls(from, to, 0.3, rng);
            let ms = rng.range(300.0, 1200.0);
            let e = s.knob;
            sample(t0, ms, s.step, rng, |f, _| bezier(from, c1, c2, to, ease(e, f)))
        }
        F::ConstantVelocity => {
            let (c1, c2) = controls(from, to, 0.3, rng);
            let line: Vec<P> = (0..=64).map(|i| bezier(from, c1, c2, to, f64::from(i) / 64.0)).collect();
            let path = arc(&line);
            let ms = path.1[path.1.len() - 1] / s.speed;
            sample(t0, ms, s.step, rng, |f, _| along(&path, f))
        }
        F::Spline => {
            let n = rng.int(1, 3);
            let mut pts = vec![from];
            let (nx, ny) = (-(to.1 - from.1) / d.max(1.0), (to.0 - from.0) / d.max(1.0));
            for i in 1..=n {
                let (x, y) = lerp(from, to, f64::from(i) / f64::from(n + 1));
                let off = rng.range(-0.25, 0.25) * d;
                pts.push((x + nx * off, y + ny * off));
            }
            pts.push(to);
            let mut dense = Vec::new();
            for i in 0..pts.len() - 1 {
                let p0 = pts[i.saturating_sub(1)];
                let (p1, p2) = (pts[i], pts[i + 1]);
                let p3 = pts[(i + 2).min(pts.len() - 1)];
                for k in 0..16 {
                    let u = f64::from(k) / 16.0;
                    let cr = |a: f64, b: f64, c: f64, d: f64| {
                        0.5 * (2.0 * b
                            + (-a + c) * u
                            + (2.0 * a - 5.0 * b + 4.0 * c - d) * u * u
                            + (-a + 3.0 * b - 3.0 * c + d) * u * u * u)
                    };
                    dense.push((cr(p0.0, p1.0, p2.0, p3.0), cr(p0.1, p1.1, p2.1, p3.1)));
                }
            }
            dense.push(to);
            let path = arc(&dense);
            let ms = rng.range(400.0, 1500.0);
            sample(t0, ms, s.step, rng, |f, _| along(&path, f * f * (3.0 - 2.0 * f)))
        }
        F::Windmouse => windmouse(s, from, to, t0, rng),
        F::BezierBurst => {
            let far = d > 500.0;
            let over = if far {
                let (a, r) = (rng.range(0.0, std::f64::consts::TAU), 120.0 * rng.range(0.0, 1.0).sqrt());
                (to.0 + r * a.cos(), to.1 + r * a.sin())
            } else {
                to
            };
            let mut pts = burst(s, from, over, d.clamp(2.0, 200.0), w, t0, rng);
            if far {
                let t1 = pts.last().map_or(t0, |p| p.t) + s.step.draw(rng);
                pts.extend(burst(s, over, to, 10.0, w, t1, rng));
            }
            pts
        }
        F::GaussianJitter => {
            let (c1, c2) = if rng.chance(0.5) { controls(from, to, 0.3, rng) } else { (from, to) };
            let ms = rng.range(300.0, 1200.0);
            let sd = s.knob;
            let mut pts = sample(t0, ms, s.step, rng, |f, rng| {
                let (x, y) = bezier(from, c1, c2, to, ease(0.0, f));
                (rng.normal(x, sd), rng.normal(y, sd))
            });
            if let Some(last) = pts.last_mut() {
                (last.x, last.y) = to;
            }
            pts
        }
        F::PerlinJitter => {
            let (c1, c2) = controls(from, to, 0.3, rng);
            let noise = Noise::new(rng);
            let (amp, freq) = (s.knob, rng.range(2.0, 6.0));
            let (nx, ny) = (-(to.1 - from.1) / d.max(1.0), (to.0 - from.0) / d.max(1.0));
            let ms = rng.range(300.0, 1200.0);
            sample(t0, ms, s.step, rng, |f, _| {
                let (x, y) = bezier(from, c1, c2, to, ease(2.0, f));
                let off = amp * noise.at(f * freq) * (std::f64::consts::PI * f).sin();
                (x + nx * off, y + ny * off)
            })
        }
        F::Overshoot => {
            let far = d > 80.0;
            let over = if far {
                let k = rng.range(0.03, 0.15);
                let p = lerp(from, to, 1.0 + k);
                (p.0 + rng.normal(0.0, 6.0), p.1 + rng.normal(0.0, 6.0))
            } else {
                to
            };
            let (c1, c2) = controls(from, over, 0.25, rng);
            let ms = rng.range(300.0, 1000.0);
            let mut pts = sample(t0, ms, s.step, rng, |f, _| bezier(from, c1, c2, over, ease(1.0, f)));
            if far {
                let t1 = pts.last().map_or(t0, |p| p.t) + rng.range(20.0, 120.0);
                let (d1, d2) = controls(over, to, 0.2, rng);
                let back = rng.range(100.0, 300.0);
                pts.extend(sample(t1, back, s.step, rng, |f, _| bezier(over, d1, d2, to, ease(0.0, f))));
            }
            pts
        }
        F::Fitts | F::HumanDwell => {
            let human = s.family == F::HumanDwell;
            let over = human && d > 150.0 && rng.chance(0.3);
            let aim = if over { lerp(from, to, 1.0 + rng.range(0.02, 0.08)) } else { to };
            let (c1, c2) = controls(from, aim, 0.15, rng);
            let ms = fitts_ms(rng);
            let sd = if human { s.knob } else { 0.0 };
            let mut pts = sample(t0, ms, s.step, rng, |f, rng| {
                let (x, y) = bezier(from, c1, c2, aim, min_jerk(f));
                (x + rng.normal(0.0, sd), y + rng.normal(0.0, sd))
            });
            if over {
                let t1 = pts.last().map_or(t0, |p| p.t) + rng.range(40.0, 150.0);
                let back = s.fitts.0 + rng.range(60.0, 160.0);
                pts.extend(sample(t1, back, s.step, rng, |f, _| lerp(aim, to, min_jerk(f))));
            }
            if let Some(last) = pts.last_mut() {
                (last.x, last.y) = to;
            }
            pts
        }
    }
}

/// One [`Family::BezierBurst`] curve: both control points on one side of
/// the chord, each a random point of it pushed out by up to `spread`.
fn burst(s: &Style, from: P, to: P, spread: f64, w: f64, t0: f64, rng: &mut Rng) -> Vec<Point> {
    let d = dist(from, to).max(1.0);
    let side = if rng.chance(0.5) { 1.0 } else { -1.0 };
    let (nx, ny) = (-(to.1 - from.1) / d * side, (to.0 - from.0) / d * side);
    let mut anchor = || {
        let (x, y) = lerp(from, to, rng.range(0.0, 1.0));
        let off = rng.range(0.0, 1.0) * spread;
        (x + nx * off, y + ny * off)
    };
    let (mut c1, mut c2) = (anchor(), anchor());
    if c2.0 < c1.0 {
        std::mem::swap(&mut c1, &mut c2);
    }
    let fitts = 2.0 * (0.8 * d / w.max(1.0) + 1.0).log2();
    let points = (((fitts + 1.0).log2() + rng.range(0.0, 25.0)) * 3.0).ceil();
    sample(t0, points * 16.7, s.step, rng, |f, _| bezier(from, c1, c2, to, f))
}

/// WindMouse (B. Land): gravity pulls toward the target, a random wind
/// pushes, speed is capped, and the wind calms near the target.
fn windmouse(s: &Style, from: P, to: P, t0: f64, rng: &mut Rng) -> Vec<Point> {
    let (gravity, wind, max_step, calm) =
        (rng.range(7.0, 12.0), rng.range(2.0, 5.0), rng.range(10.0, 20.0), rng.range(8.0, 14.0));
    let (mut x, mut y) = from;
    let (mut vx, mut vy, mut wx, mut wy) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
    let mut m = max_step;
    let mut t = t0;
    let mut out = Vec::new();
    let sqrt3 = 3f64.sqrt();
    let sqrt5 = 5f64.sqrt();
    for _ in 0..2_000 {
        let d = (to.0 - x).hypot(to.1 - y);
        if d < 1.0 {
            break;
        }
        let w = wind.min(d);
        if d >= calm {
            wx = wx / sqrt3 + (rng.unit() * 2.0 - 1.0) * w / sqrt5;
            wy = wy / sqrt3 + (rng.unit() * 2.0 - 1.0) * w / sqrt5;
        } else {
            wx /= sqrt3;
            wy /= sqrt3;
            m = if m < 3.0 { rng.range(3.0, 6.0) } else { m / sqrt5 };
        }
        vx += wx + gravity * (to.0 - x) / d;
        vy += wy + gravity * (to.1 - y) / d;
        let v = vx.hypot(vy);
        if v > m {
            let clip = m / 2.0 + rng.unit() * m / 2.0;
            vx = vx / v * clip;
            vy = vy / v * clip;
        }
        x += vx;
        y += vy;
        t += s.step.draw(rng).max(0.5);
        out.push(Point::new(t, x, y));
    }
    t += s.step.draw(rng).max(0.5);
    out.push(Point::new(t, to.0, to.1));
    out
}

/// Opaque key ids: a trace says which key only to pair press and release.
const KEYS: usize = 30;

/// One bot unit of `family`.
pub fn unit(family: Family, rng: &mut Rng) -> Trace {
    let s = style(family, rng);
    let (vw, vh, targets) = form(rng);
    let mut cursor = (rng.range(0.0, vw), rng.range(0.0, vh));
    let mut path: Vec<Point> = Vec::new();
    let mut discrete: Vec<Event> = Vec::new();
    let mut t = rng.range(0.0, 500.0);
    let last_key = std::cell::Cell::new(KEYS);
    let type_into = |t: &mut f64, discrete: &mut Vec<Event>, rng: &mut Rng, n: u32, first: Option<&str>| {
        let Typing::Keys { interval, dwell } = s.typing else { return };
        if let Some(k) = first {
            discrete.push(Event::key(*t, true, k));
            discrete.push(Event::key(*t + dwell.draw(rng), false, k));
            *t += interval.draw(rng).max(1.0);
        }
        for _ in 0..n {
            let mut k = rng.next_u64() as usize % KEYS;
            if k == last_key.get() {
                k = (k + 1) % KEYS;
            }
            last_key.set(k);
            let key = format!("k{k}");
            let up = *t + dwell.draw(rng);
            discrete.push(Event::key(*t, true, &key));
            discrete.push(Event::key(up, false, &key));
            *t += interval.draw(rng).max(0.1);
        }
    };
    let empty = family == Family::NoMovement && rng.chance(0.25);
    for (i, target) in targets.iter().enumerate() {
        if empty {
            break;
        }
        let field = i + 1 < targets.len();
        t += s.pause.draw(rng);
        if family == Family::NoMovement {
            // Tab to the next control; Enter submits.
            if field {
                let n = rng.int(4, 16);
                type_into(&mut t, &mut discrete, rng, n, Some("Tab"));
            } else {
                type_into(&mut t, &mut discrete, rng, 0, Some("Enter"));
            }
            continue;
        }
        let aim = target.aim(s.centre, rng);
        let moves = movement(&s, cursor, aim, target.w, t, rng);
        t = moves.last().map_or(t, |p| p.t);
        path.extend(moves);
        cursor = aim;
        t += s.settle.draw(rng);
        let up = t + s.dwell.draw(rng);
        discrete.push(Event::button(t, true, aim.0.round(), aim.1.round()));
        discrete.push(Event::button(up, false, aim.0.round(), aim.1.round()));
        t = up;
        if field {
            t += s.settle.draw(rng) * 2.0;
            let n = rng.int(4, 16);
            type_into(&mut t, &mut discrete, rng, n, None);
        }
    }
    let flush: Vec<f64> = discrete.iter().filter(|e| e.kind.is_mouse()).map(|e| e.t).collect();
    let moves = frames::deliver(&path, frames::Motion::SCRIPT, &flush, rng);
    let mut events: Vec<Event> = moves.into_iter().map(|p| Event::moved(p.t, p.x, p.y)).collect();
    events.extend(discrete);
    let rank = |e: &Event| u8::from(!matches!(e.kind, super::trace::Kind::Move { .. }));
    events.sort_by(|a, b| a.t.total_cmp(&b.t).then(rank(a).cmp(&rank(b))));
    let t0 = events.first().map_or(0.0, |e| e.t);
    for e in &mut events {
        e.t = round_ms(e.t - t0);
    }
    let duration = events.last().map_or_else(|| rng.range(500.0, 5_000.0), |e| e.t);
    Trace {
        label: Label::Bot,
        user: family.name().to_owned(),
        source: Some("oculto-bots".to_owned()),
        session: None,
        duration_ms: Some(round_ms(duration)),
        events,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::trace::Kind;

    fn clicks(t: &Trace) -> usize {
        t.events.iter().filter(|e| matches!(e.kind, Kind::Button { down: false, .. })).count()
    }

    #[test]
    fn every_family_makes_form_like_units_on_the_frame_clock() {
        for family in Family::ALL {
            for i in 0..20 {
                let t = unit(family, &mut Rng::for_item(11, i));
                assert_eq!(t.user, family.name());
                assert!(t.events.windows(2).all(|w| w[0].t <= w[1].t), "{family:?} out of order");
                if family == Family::NoMovement {
                    assert_eq!(clicks(&t), 0);
                    continue;
                }
                assert!((3..=6).contains(&clicks(&t)), "{family:?}: {} clicks", clicks(&t));
                let moves: Vec<f64> =
                    t.events.iter().filter(|e| matches!(e.kind, Kind::Move { .. })).map(|e| e.t).collect();
                assert!(!moves.is_empty(), "{family:?} never moved");
                // Moves come at frames, or flushed just before a press or release.
                let fast = moves.windows(2).filter(|w| w[1] - w[0] < frames::FRAME_MS - 4.5).count();
                assert!(fast <= 4 * clicks(&t), "{family:?}: {fast} moves closer than a frame");
            }
        }
    }

    #[test]
    fn generated_units_become_valid_payloads() {
        for family in Family::ALL {
            for i in 0..10 {
                let t = unit(family, &mut Rng::for_item(12, i));
                let s = crate::eval::payload::signals(&t);
                assert!(s.validate().is_ok(), "{family:?}");
            }
        }
    }

    #[test]
    fn superhuman_typing_is_faster_than_people() {
        let t = unit(Family::SuperhumanTyping, &mut Rng::new(5));
        let downs: Vec<f64> =
            t.events.iter().filter(|e| matches!(e.kind, Kind::Key { down: true, .. })).map(|e| e.t).collect();
        assert!(downs.len() >= 8);
        let fastest = downs.windows(2).map(|w| w[1] - w[0]).fold(f64::MAX, f64::min);
        assert!(fastest < 20.0, "{fastest}");
    }

    #[test]
    fn windmouse_reaches_its_target() {
        let s = style(Family::Windmouse, &mut Rng::new(6));
        let pts = windmouse(&s, (0.0, 0.0), (600.0, 300.0), 0.0, &mut Rng::new(7));
        let last = pts[pts.len() - 1];
        assert_eq!((last.x, last.y), (600.0, 300.0));
        assert!(pts.len() > 20);
    }

    #[test]
    fn is_deterministic_with_a_seed() {
        for family in Family::ALL {
            assert_eq!(unit(family, &mut Rng::for_item(3, 4)), unit(family, &mut Rng::for_item(3, 4)));
        }
    }
}
