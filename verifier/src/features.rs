//! Features of behaviour, computed on the server from the signals payload.
//! The server is the trust boundary: the page sends raw timings and
//! relative movements, and everything the score uses is derived here.
//!
//! # Moving parts
//!
//! - [`movements`] rebuilds the pointer's path from its relative samples and
//!   cuts it into movements: runs of moves without a pause, each ending where
//!   the pointer stopped or a button went down (an aimed movement).
//! - [`Movement`] measures one movement: straightness, the speed profile
//!   (variation, where it peaks, how much it slows at the end), how much the
//!   direction wobbles, and how regular the sampling was.
//! - [`Features::extract`] sums a whole session up: medians over movements,
//!   jumps, click and key rhythms.
//!
//! Nothing here decides: [`crate::score`] weighs the features.

use oculto_shared::signals::{KeyTiming, PointerKind, PointerSample, Signals, TouchKind, TouchSample};

/// A pause longer than this between two moves ends a movement, ms.
pub const PAUSE_MS: f64 = oculto_shared::signals::MOVEMENT_PAUSE_MS;
/// Movements whose path is shorter than this are too small to measure; the
/// chord must be this long too for direction features (overshoot, crossings),
/// CSS px.
pub const MIN_CHORD_PX: f64 = 30.0;
/// Movements with fewer samples than this are too short to measure.
pub const MIN_SAMPLES: usize = 5;
/// One sample moving farther than this, faster than [`JUMP_MS`], is a jump
/// (a pointer set somewhere rather than moved there), CSS px.
pub const JUMP_PX: f64 = 150.0;
/// See [`JUMP_PX`], ms.
pub const JUMP_MS: f64 = 30.0;
/// A press this soon after a jump was aimed by the jump, ms.
pub const JUMP_PRESS_MS: f64 = 100.0;
/// Fewest move intervals [`Features::move_interval`] is measured on.
pub const MIN_INTERVALS: usize = 10;
/// See [`Features::dash_presses`], CSS px.
pub const DASH_PX: f64 = 40.0;
/// See [`Features::dash_presses`], ms.
pub const DASH_MS: f64 = 80.0;
/// Aimed movements shorter than this (path, CSS px) are too short for
/// [`Shape::arrival`] to say anything: a nudge has no time to slow down.
pub const ARRIVAL_MIN_PX: f64 = 100.0;
/// A movement must turn this far in all (radians, one way) to be a loop
/// that [`loop_fit`] measures: half a turn.
pub const LOOP_MIN_TURN: f64 = std::f64::consts::PI;
/// Fewest distinct points [`loop_fit`] fits: five fix a conic exactly.
pub const LOOP_MIN_POINTS: usize = 12;
/// Smallest loop [`loop_fit`] measures (root mean square distance of its
/// points from their centre, CSS px): smaller, the pixel grid is all
/// there is to measure.
pub const LOOP_MIN_RADIUS_PX: f64 = 15.0;
/// A step longer than this (ms) among the last two of an aimed movement
/// leaves its [`Shape::arrival`] unknown: three frames or more without an
/// event is a busy page (the browser hands over the pointer's latest
/// position late, in one step that averages the braking away), not how
/// the hand arrived.
pub const ARRIVAL_MAX_STEP_MS: f64 = 50.0;
/// The last two steps of an aimed movement must cover more than this on
/// average (CSS px) for its arrival to count as fast
/// ([`Features::fast_arrivals`]): the browser reports whole pixels, and a
/// slow hand creeping onto its target one pixel a frame is the grid, not
/// speed (for a slow reach, one pixel a frame is already a fifth of its
/// peak).
pub const ARRIVAL_GRID_PX: f64 = 2.0;
/// Key presses further apart than this (ms) are not one run of typing: a
/// pause to think, or a move to the next field.
pub const KEY_RUN_GAP_MS: f64 = 1_000.0;

/// The features the behaviour model ([`crate::model`]) reads, in the order
/// of [`Features::vector`]. Only the pointer's kinematics: what the
/// development data can teach. Typing, scrolling and timing regularity are
/// judged by fixed rules in [`crate::score`], because the human recordings
/// have no typing or page scrolling to learn from, and their clocks are the
/// recorders', not a browser's.
pub const FEATURE_NAMES: [&str; 16] = [
    "straightness",
    "straight_share",
    "speed_cv",
    "end_speed",
    "peak_off_centre",
    "wobble",
    "zigzag",
    "roughness",
    "peaks",
    "crossings",
    "overshoot_share",
    "mean_speed",
    "settle_ms",
    "curve_fit",
    "arrival_speed",
    "loop_fit",
];

/// A point of the rebuilt path: time, x, y.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// Time, ms.
    pub t: f64,
    /// Horizontal position relative to the first sample, CSS px.
    pub x: f64,
    /// Vertical position, CSS px.
    pub y: f64,
}

/// One movement of the pointer.
#[derive(Debug, Clone, PartialEq)]
pub struct Movement {
    /// The path, in time order.
    pub points: Vec<Point>,
    /// Whether a button went down where it ended.
    pub ends_in_click: bool,
}

/// Rebuilds the pointer's path and cuts it into movements.
pub fn movements(pointer: &[PointerSample]) -> Vec<Movement> {
    let (mut x, mut y) = (0.0, 0.0);
    let mut out = Vec::new();
    let mut current: Vec<Point> = Vec::new();
    let finish = |current: &mut Vec<Point>, out: &mut Vec<Movement>, click: bool| {
        if current.len() >= 2 {
            out.push(Movement { points: std::mem::take(current), ends_in_click: click });
        } else {
            current.clear();
        }
    };
    for s in pointer {
        x += f64::from(s.dx);
        y += f64::from(s.dy);
        let p = Point { t: s.t, x, y };
        match s.k {
            PointerKind::Move => {
                if current.last().is_some_and(|last| p.t - last.t > PAUSE_MS) {
                    finish(&mut current, &mut out, false);
                }
                current.push(p);
            }
            PointerKind::Down => {
                // The press itself is not a step of the path: it moves
                // nothing, and its time says how long the pointer rested.
                if current.last().is_some_and(|last| p.t - last.t <= PAUSE_MS) {
                    finish(&mut current, &mut out, true);
                } else {
                    finish(&mut current, &mut out, false);
                }
            }
            PointerKind::Up => finish(&mut current, &mut out, false),
        }
    }
    finish(&mut current, &mut out, false);
    out
}

/// Mean and coefficient of variation (standard deviation over mean) of
/// `values`; `None` when empty or the mean is 0.
pub fn mean_cv(values: &[f64]) -> Option<(f64, f64)> {
    if values.is_empty() {
        return None;
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    if mean.abs() < 1e-12 {
        return None;
    }
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    Some((mean, var.sqrt() / mean.abs()))
}

/// The median of `values` (which it sorts); `None` when empty.
pub fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let n = values.len();
    Some(if n % 2 == 1 { values[n / 2] } else { (values[n / 2 - 1] + values[n / 2]) / 2.0 })
}

/// What one movement looked like.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Shape {
    /// Straight-line distance from start to end over the path's length: 1
    /// for a straight line.
    pub straightness: f64,
    /// Variation of the speed along the movement (coefficient of
    /// variation): near 0 for a constant speed.
    pub speed_cv: f64,
    /// Where the speed peaked, as a fraction of the movement's duration.
    pub peak_at: f64,
    /// Mean speed over the last quarter of the time over the peak speed:
    /// people slow down as they reach a target.
    pub end_speed: f64,
    /// Mean absolute change of direction between steps, radians.
    pub wobble: f64,
    /// Share of successive turns that turn the other way: near 0 for a
    /// smooth curve, near 2/3 for noise added to every sample.
    pub zigzag: f64,
    /// Mean change of speed from step to step over the mean speed: near 0
    /// for a smooth speed profile.
    pub roughness: f64,
    /// Peaks of the (lightly smoothed) speed profile: one for a single
    /// smooth reach, more when a person corrects on the way.
    pub peaks: usize,
    /// How often the path crosses from one side of its chord to the other.
    pub crossings: usize,
    /// How far the path went past its end along the chord, over the chord.
    pub overshoot: f64,
    /// Path length, CSS px.
    pub length: f64,
    /// Path length over duration, px/ms.
    pub mean_speed: f64,
    /// Variation of the time between samples (coefficient of variation).
    pub dt_cv: f64,
    /// Share of steps that came less than 4 ms after the previous one.
    pub burst_share: f64,
    /// How far the path strays from the one cubic Bezier curve that fits
    /// it best ([`curve_fit`]), px; `None` for a short path.
    pub curve_fit: Option<f64>,
    /// Speed of the last two steps that moved, over the peak speed: how fast
    /// the pointer was still going when it stopped. A hand brakes onto its
    /// target and arrives at a crawl (people: about 0.03); a path sampled
    /// evenly in its parameter or in time (a line, an un-eased Bezier
    /// curve) arrives at full speed and stops dead (about 0.3 to 1).
    /// `None` when one of those two steps took longer than
    /// [`ARRIVAL_MAX_STEP_MS`].
    pub arrival: Option<f64>,
    /// Mean length of those two steps, CSS px.
    pub arrival_px: f64,
    /// How far a loop strays from its best ellipse ([`loop_fit`]), over its
    /// size; `None` unless the movement turns half a turn or more.
    pub loop_fit: Option<f64>,
}

/// Shortest path (px) worth fitting a curve to: shorter, the pixel grid is
/// all there is to measure.
pub const CURVE_MIN_PX: f64 = 60.0;
/// Rounds of re-placing the points along the curve in [`curve_fit`].
const CURVE_ROUNDS: usize = 8;

/// The path's positions, each repeat of the one before left out: a
/// sample that did not move adds nothing to a fit but weight.
fn distinct(points: &[Point]) -> Vec<(f64, f64)> {
    let mut xy: Vec<(f64, f64)> = Vec::with_capacity(points.len());
    for p in points {
        if xy.last() != Some(&(p.x, p.y)) {
            xy.push((p.x, p.y));
        }
    }
    xy
}

/// The root mean square distance, px, of a path's points from the cubic
/// Bezier curve that fits them best with the same ends. Bot libraries
/// draw a movement as one Bezier curve (with an easing, a jitter of a
/// pixel or two, wind): they stay within a pixel or so of it. A hand's
/// path wanders off any one curve by several pixels over a reach.
///
/// Least squares for the two inner control points, with the points placed
/// along the curve by chord length and then moved to their nearest point
/// on it (a Newton step) a few times. `None` when the path is shorter than
/// [`CURVE_MIN_PX`] or has too few distinct points.
pub fn curve_fit(points: &[Point]) -> Option<f64> {
    let xy = distinct(points);
    if xy.len() < MIN_SAMPLES + 1 {
        return None;
    }
    let mut along = vec![0.0];
    for w in xy.windows(2) {
        along.push(along[along.len() - 1] + (w[1].0 - w[0].0).hypot(w[1].1 - w[0].1));
    }
    let length = along[along.len() - 1];
    if length < CURVE_MIN_PX {
        return None;
    }
    let mut u: Vec<f64> = along.iter().map(|a| a / length).collect();
    let (p0, p3) = (xy[0], xy[xy.len() - 1]);
    let basis = |u: f64| {
        let v = 1.0 - u;
        [v * v * v, 3.0 * u * v * v, 3.0 * u * u * v, u * u * u]
    };
    let at = |c: &[(f64, f64); 4], b: [f64; 4]| {
        (
            b[0] * c[0].0 + b[1] * c[1].0 + b[2] * c[2].0 + b[3] * c[3].0,
            b[0] * c[0].1 + b[1] * c[1].1 + b[2] * c[2].1 + b[3] * c[3].1,
        )
    };
    let mut curve = [p0, p0, p3, p3];
    for round in 0..=CURVE_ROUNDS {
        // Normal equations for the inner control points, x and y alike.
        let (mut a11, mut a12, mut a22) = (0.0, 0.0, 0.0);
        let (mut r1, mut r2) = ((0.0, 0.0), (0.0, 0.0));
        for (&ui, &(x, y)) in u.iter().zip(&xy) {
            let b = basis(ui);
            let (ex, ey) = (x - b[0] * p0.0 - b[3] * p3.0, y - b[0] * p0.1 - b[3] * p3.1);
            a11 += b[1] * b[1];
            a12 += b[1] * b[2];
            a22 += b[2] * b[2];
            r1 = (r1.0 + b[1] * ex, r1.1 + b[1] * ey);
            r2 = (r2.0 + b[2] * ex, r2.1 + b[2] * ey);
        }
        let det = a11 * a22 - a12 * a12;
        if det.abs() < 1e-12 {
            return None;
        }
        curve[1] = ((a22 * r1.0 - a12 * r2.0) / det, (a22 * r1.1 - a12 * r2.1) / det);
        curve[2] = ((a11 * r2.0 - a12 * r1.0) / det, (a11 * r2.1 - a12 * r1.1) / det);
        if round == CURVE_ROUNDS {
            break;
        }
        for (ui, &(x, y)) in u.iter_mut().zip(&xy) {
            let t = *ui;
            let v = 1.0 - t;
            let q = at(&curve, basis(t));
            let d1 = at(&curve, [-3.0 * v * v, 3.0 * v * v - 6.0 * t * v, 6.0 * t * v - 3.0 * t * t, 3.0 * t * t]);
            let d2 = at(&curve, [6.0 * v, 6.0 * t - 12.0 * v, 6.0 * v - 12.0 * t, 6.0 * t]);
            let (ex, ey) = (q.0 - x, q.1 - y);
            let num = ex * d1.0 + ey * d1.1;
            let den = d1.0 * d1.0 + d1.1 * d1.1 + ex * d2.0 + ey * d2.1;
            if den.abs() > 1e-9 {
                *ui = (t - num / den).clamp(0.0, 1.0);
            }
        }
    }
    let squares: f64 = u
        .iter()
        .zip(&xy)
        .map(|(&ui, &(x, y))| {
            let q = at(&curve, basis(ui));
            (q.0 - x).powi(2) + (q.1 - y).powi(2)
        })
        .sum();
    Some((squares / xy.len() as f64).sqrt())
}

/// How far a looping path (one that turns [`LOOP_MIN_TURN`] or more one
/// way: a circle drawn, a scribble) strays from the conic section, an
/// ellipse for a closed loop, that fits it best: the median distance of its
/// points from the curve over the loop's size (the root mean square
/// distance of the points from their centre). A script traces a circle or
/// an ellipse from its equation and stays within the pixel grid of it
/// (about 0.007 of its size for DELBOT's `pynput` bot); a hand drawing one
/// strays several times as far (about 0.027 for the people there, 0.014
/// at their 5th percentile).
///
/// Least squares for `a x² + b xy + c y² + d x + e y = 1` on the centred,
/// scaled points; the distance of a point from the curve is the conic's
/// value there over its gradient (Sampson's first-order distance). `None`
/// when the path turns less, is smaller than [`LOOP_MIN_RADIUS_PX`], or has
/// fewer than [`LOOP_MIN_POINTS`] distinct points.
pub fn loop_fit(points: &[Point]) -> Option<f64> {
    let xy = distinct(points);
    if xy.len() < LOOP_MIN_POINTS {
        return None;
    }
    let steps: Vec<(f64, f64)> = xy.windows(2).map(|w| (w[1].0 - w[0].0, w[1].1 - w[0].1)).collect();
    let turned: f64 = steps.windows(2).map(|w| turn(w[0], w[1])).sum();
    if turned.abs() < LOOP_MIN_TURN {
        return None;
    }
    let n = xy.len() as f64;
    let (cx, cy) = (xy.iter().map(|p| p.0).sum::<f64>() / n, xy.iter().map(|p| p.1).sum::<f64>() / n);
    let size = (xy.iter().map(|p| (p.0 - cx).powi(2) + (p.1 - cy).powi(2)).sum::<f64>() / n).sqrt();
    if size < LOOP_MIN_RADIUS_PX {
        return None;
    }
    let row = |p: &(f64, f64)| {
        let (x, y) = ((p.0 - cx) / size, (p.1 - cy) / size);
        [x * x, x * y, y * y, x, y]
    };
    // Normal equations, with the right-hand side as a sixth column.
    let mut m = [[0.0_f64; 6]; 5];
    for p in &xy {
        let r = row(p);
        for i in 0..5 {
            for j in 0..5 {
                m[i][j] += r[i] * r[j];
            }
            m[i][5] += r[i];
        }
    }
    let coef = solve5(m)?;
    let mut distances: Vec<f64> = xy
        .iter()
        .map(|p| {
            let r = row(p);
            let (x, y) = (r[3], r[4]);
            let value: f64 = r.iter().zip(&coef).map(|(a, b)| a * b).sum::<f64>() - 1.0;
            let gx = 2.0 * coef[0] * x + coef[1] * y + coef[3];
            let gy = coef[1] * x + 2.0 * coef[2] * y + coef[4];
            value.abs() / gx.hypot(gy).max(1e-9)
        })
        .collect();
    median(&mut distances)
}

/// Solves five linear equations (an augmented 5 × 6 matrix) by Gaussian
/// elimination with partial pivoting; `None` when they are singular.
fn solve5(mut m: [[f64; 6]; 5]) -> Option<[f64; 5]> {
    for col in 0..5 {
        let pivot = (col..5).max_by(|&a, &b| m[a][col].abs().total_cmp(&m[b][col].abs()))?;
        if m[pivot][col].abs() < 1e-12 {
            return None;
        }
        m.swap(col, pivot);
        let top = m[col];
        for row in m.iter_mut().skip(col + 1) {
            let f = row[col] / top[col];
            for (a, b) in row.iter_mut().zip(top).skip(col) {
                *a -= f * b;
            }
        }
    }
    let mut x = [0.0; 5];
    for r in (0..5).rev() {
        let rest: f64 = (r + 1..5).map(|c| m[r][c] * x[c]).sum();
        x[r] = (m[r][5] - rest) / m[r][r];
    }
    Some(x)
}

/// The direction change from step `a` to step `b`, in -π..π.
fn turn(a: (f64, f64), b: (f64, f64)) -> f64 {
    let mut d = b.1.atan2(b.0) - a.1.atan2(a.0);
    while d > std::f64::consts::PI {
        d -= std::f64::consts::TAU;
    }
    while d < -std::f64::consts::PI {
        d += std::f64::consts::TAU;
    }
    d
}

/// Counts the peaks of `v` that stand out: at least a fifth of the highest,
/// and separated from the previous one by a dip below 70% of the lower.
fn peaks(v: &[f64]) -> usize {
    let top = v.iter().copied().fold(0.0, f64::max);
    if top <= 0.0 {
        return 0;
    }
    let (mut count, mut last_peak, mut dip) = (0, 0.0_f64, f64::INFINITY);
    for i in 0..v.len() {
        let left = if i == 0 { 0.0 } else { v[i - 1] };
        let right = v.get(i + 1).copied().unwrap_or(0.0);
        dip = dip.min(v[i]);
        if v[i] >= left && v[i] > right && v[i] >= 0.2 * top {
            if count == 0 || dip < 0.7 * last_peak.min(v[i]) {
                count += 1;
                last_peak = v[i];
            } else {
                last_peak = last_peak.max(v[i]);
            }
            dip = v[i];
        }
    }
    count
}

impl Movement {
    /// Chord, path length and duration.
    pub fn extent(&self) -> (f64, f64, f64) {
        let (first, last) = (self.points[0], self.points[self.points.len() - 1]);
        let chord = (last.x - first.x).hypot(last.y - first.y);
        let length: f64 = self.points.windows(2).map(|w| (w[1].x - w[0].x).hypot(w[1].y - w[0].y)).sum();
        (chord, length, last.t - first.t)
    }

    /// Measures the movement, if it is long enough to say anything.
    pub fn shape(&self) -> Option<Shape> {
        let (chord, length, duration) = self.extent();
        if self.points.len() < MIN_SAMPLES || length < MIN_CHORD_PX || duration <= 0.0 {
            return None;
        }
        let steps: Vec<(f64, f64, f64, f64)> = self
            .points
            .windows(2)
            .map(|w| (w[1].t - w[0].t, w[1].x - w[0].x, w[1].y - w[0].y, (w[0].t + w[1].t) / 2.0))
            .collect();
        // Speeds of steps with time between them; a step with none is a burst.
        let speeds: Vec<(f64, f64)> =
            steps.iter().filter(|s| s.0 > 0.0).map(|&(dt, dx, dy, mid)| (mid, dx.hypot(dy) / dt)).collect();
        let v: Vec<f64> = speeds.iter().map(|s| s.1).collect();
        let (mean_v, speed_cv) = mean_cv(&v).unwrap_or((0.0, 0.0));
        let start = self.points[0].t;
        let (peak_t, peak) = speeds.iter().copied().fold((start, 0.0), |a, s| if s.1 > a.1 { s } else { a });
        let peak_at = (peak_t - start) / duration;
        let tail: Vec<f64> = speeds.iter().filter(|s| s.0 >= start + 0.75 * duration).map(|s| s.1).collect();
        let end_speed = match (tail.is_empty(), peak > 0.0) {
            (false, true) => tail.iter().sum::<f64>() / tail.len() as f64 / peak,
            _ => 1.0,
        };
        let roughness = if v.len() >= 3 && mean_v > 0.0 {
            v.windows(2).map(|w| (w[1] - w[0]).abs()).sum::<f64>() / (v.len() - 1) as f64 / mean_v
        } else {
            0.0
        };
        let smooth: Vec<f64> = (0..v.len())
            .map(|i| {
                let lo = i.saturating_sub(1);
                let hi = (i + 2).min(v.len());
                v[lo..hi].iter().sum::<f64>() / (hi - lo) as f64
            })
            .collect();
        let moving: Vec<(f64, f64)> =
            steps.iter().filter(|s| s.1.hypot(s.2) > 0.0).map(|&(_, dx, dy, _)| (dx, dy)).collect();
        let turns: Vec<f64> = moving.windows(2).map(|w| turn(w[0], w[1])).collect();
        let wobble =
            if turns.is_empty() { 0.0 } else { turns.iter().map(|d| d.abs()).sum::<f64>() / turns.len() as f64 };
        // Turns of whole pixels at low speed are the sensor's grid, not a
        // hand: only turns between steps of 2 px or more count.
        let long: Vec<(f64, f64)> = moving.iter().copied().filter(|s| s.0.hypot(s.1) >= 2.0).collect();
        let signs: Vec<f64> = long.windows(2).map(|w| turn(w[0], w[1])).filter(|d| d.abs() > 0.02).collect();
        let zigzag = if signs.len() >= 3 {
            signs.windows(2).filter(|w| w[0].signum() != w[1].signum()).count() as f64 / (signs.len() - 1) as f64
        } else {
            0.0
        };
        // Crossings and overshoot need a direction: a closed loop (a circle
        // drawn, a scribble) has none, and gets neither.
        let (first, last) = (self.points[0], self.points[self.points.len() - 1]);
        let (ux, uy) = ((last.x - first.x) / chord, (last.y - first.y) / chord);
        let mut crossings = 0;
        let mut side = 0.0_f64;
        let mut beyond = 0.0_f64;
        for p in self.points.iter().filter(|_| chord >= MIN_CHORD_PX) {
            let (rx, ry) = (p.x - first.x, p.y - first.y);
            let lateral = rx * uy - ry * ux;
            if lateral.abs() >= 2.0 {
                if side != 0.0 && lateral.signum() != side {
                    crossings += 1;
                }
                side = lateral.signum();
            }
            beyond = beyond.max(rx * ux + ry * uy - chord);
        }
        // Steps that moved, as (time, length).
        let moved: Vec<(f64, f64)> =
            steps.iter().map(|s| (s.0, s.1.hypot(s.2))).filter(|&(dt, d)| dt > 0.0 && d > 0.0).collect();
        let last = &moved[moved.len().saturating_sub(2)..];
        let arrival_px = last.iter().map(|s| s.1).sum::<f64>() / last.len().max(1) as f64;
        let arrival = if last.iter().any(|s| s.0 > ARRIVAL_MAX_STEP_MS) {
            None
        } else if peak > 0.0 && !last.is_empty() {
            Some(last.iter().map(|s| s.1 / s.0).sum::<f64>() / last.len() as f64 / peak)
        } else {
            Some(1.0)
        };
        let dts: Vec<f64> = steps.iter().map(|s| s.0).collect();
        let dt_cv = mean_cv(&dts).map_or(0.0, |(_, cv)| cv);
        let burst_share = dts.iter().filter(|&&dt| dt < 4.0).count() as f64 / dts.len() as f64;
        Some(Shape {
            straightness: chord / length,
            speed_cv,
            peak_at,
            end_speed,
            wobble,
            zigzag,
            roughness,
            peaks: peaks(&smooth),
            crossings,
            overshoot: if chord >= MIN_CHORD_PX { beyond / chord } else { 0.0 },
            length,
            mean_speed: length / duration,
            dt_cv,
            burst_share,
            curve_fit: curve_fit(&self.points),
            arrival,
            arrival_px,
            loop_fit: loop_fit(&self.points),
        })
    }
}

/// A session's behaviour, summed up. `None` where there was nothing to
/// measure.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Features {
    /// Movements long enough to measure.
    pub measured: usize,
    /// Of those, the ones that ended in a click.
    pub aimed: usize,
    /// Median straightness of measured movements.
    pub straightness: Option<f64>,
    /// Share of measured movements straighter than 0.995.
    pub straight_share: Option<f64>,
    /// Median speed variation.
    pub speed_cv: Option<f64>,
    /// Median end speed over peak speed.
    pub end_speed: Option<f64>,
    /// Median distance of the speed peak from the middle of the movement.
    pub peak_off_centre: Option<f64>,
    /// Median direction wobble, radians per step.
    pub wobble: Option<f64>,
    /// Median share of turns that turn back.
    pub zigzag: Option<f64>,
    /// Median speed roughness.
    pub roughness: Option<f64>,
    /// Mean number of speed peaks per movement.
    pub peaks: Option<f64>,
    /// Mean number of chord crossings per movement.
    pub crossings: Option<f64>,
    /// Share of movements that went more than 3% past their end.
    pub overshoot_share: Option<f64>,
    /// Median of the movements' mean speeds, px/ms.
    pub mean_speed: Option<f64>,
    /// Median time from the last move to a press, ms.
    pub settle_ms: Option<f64>,
    /// Median distance of the movements from their best cubic Bezier curve
    /// ([`curve_fit`]), px, over the movements long enough to fit.
    pub curve_fit: Option<f64>,
    /// Median [`Shape::arrival`] of the movements that ended in a press and
    /// were at least [`ARRIVAL_MIN_PX`] long: how fast the pointer reached
    /// what it clicked.
    pub arrival_speed: Option<f64>,
    /// Median [`loop_fit`] of the movements that looped: how closely they
    /// followed an ellipse.
    pub loop_fit: Option<f64>,
    /// Movements that ended in a press and were at least
    /// [`ARRIVAL_MIN_PX`] long.
    pub arrivals: usize,
    /// Of those, the ones that arrived at over
    /// [`crate::score::FAST_ARRIVAL`] of their peak speed, with last steps
    /// longer than the pixel grid's ([`ARRIVAL_GRID_PX`]).
    pub fast_arrivals: usize,
    /// Median sampling variation.
    pub dt_cv: Option<f64>,
    /// Median time between successive moves of a movement (at least
    /// [`MIN_INTERVALS`] of them), ms: about 16.7 in a browser at 60 Hz.
    pub move_interval: Option<f64>,
    /// Share of all move steps that came within 4 ms of the previous one.
    pub burst_share: Option<f64>,
    /// Samples that jumped farther than [`JUMP_PX`] within [`JUMP_MS`].
    pub jumps: usize,
    /// Presses with no movement in the [`PAUSE_MS`] before them.
    pub still_clicks: usize,
    /// Presses of the pointer.
    pub presses: usize,
    /// Presses that came right after the pointer jumped there: a cursor set
    /// on its target, not moved to it.
    pub jump_presses: usize,
    /// Presses that came while the pointer was still travelling: more than
    /// [`DASH_PX`] covered in the [`DASH_MS`] before the press. People slow
    /// down onto a target before they press it.
    pub dash_presses: usize,
    /// Click dwell: the median.
    pub click_dwell: Option<f64>,
    /// Variation of click dwell times.
    pub click_dwell_cv: Option<f64>,
    /// Median time between key presses.
    pub key_gap: Option<f64>,
    /// Shortest time between key presses.
    pub key_gap_min: Option<f64>,
    /// Variation of the time between key presses within runs of typing
    /// (gaps up to [`KEY_RUN_GAP_MS`]): the rhythm, not the pauses.
    pub key_gap_cv: Option<f64>,
    /// Median key dwell.
    pub key_dwell: Option<f64>,
    /// Variation of key dwell times.
    pub key_dwell_cv: Option<f64>,
}

impl Features {
    /// The model's inputs, named by [`FEATURE_NAMES`]; `NaN` where there was
    /// nothing to measure.
    pub fn vector(&self) -> [f64; FEATURE_NAMES.len()] {
        let v = |o: Option<f64>| o.unwrap_or(f64::NAN);
        [
            v(self.straightness),
            v(self.straight_share),
            v(self.speed_cv),
            v(self.end_speed),
            v(self.peak_off_centre),
            v(self.wobble),
            v(self.zigzag),
            v(self.roughness),
            v(self.peaks),
            v(self.crossings),
            v(self.overshoot_share),
            v(self.mean_speed),
            v(self.settle_ms),
            v(self.curve_fit),
            v(self.arrival_speed),
            v(self.loop_fit),
        ]
    }
}

/// Gaps between successive key presses.
fn key_gaps(keys: &[KeyTiming]) -> Vec<f64> {
    keys.windows(2).map(|w| w[1].t - w[0].t).filter(|g| *g >= 0.0).collect()
}

/// The touch strokes as pointer samples: a touch start presses, its moves
/// move, its end releases.
fn touch_path(touch: &[TouchSample]) -> Vec<PointerSample> {
    touch
        .iter()
        .map(|s| {
            let k = match s.k {
                TouchKind::Start => PointerKind::Down,
                TouchKind::Move => PointerKind::Move,
                TouchKind::End => PointerKind::Up,
            };
            PointerSample { t: s.t, k, dx: s.dx, dy: s.dy }
        })
        .collect()
}

impl Features {
    /// Computes the features of a payload. Touch strokes are measured like
    /// pointer movements.
    pub fn extract(s: &Signals) -> Self {
        let touch = touch_path(&s.touch);
        let mut moves = movements(&s.pointer);
        moves.extend(movements(&touch));
        let shapes: Vec<(Shape, bool)> =
            moves.iter().filter_map(|m| m.shape().map(|sh| (sh, m.ends_in_click))).collect();
        let med = |f: fn(&Shape) -> f64| {
            let mut v: Vec<f64> = shapes.iter().map(|(s, _)| f(s)).collect();
            median(&mut v)
        };
        let mean = |f: fn(&Shape) -> f64| {
            (!shapes.is_empty()).then(|| shapes.iter().map(|(s, _)| f(s)).sum::<f64>() / shapes.len() as f64)
        };
        let share = |f: fn(&Shape) -> bool| {
            (!shapes.is_empty()).then(|| shapes.iter().filter(|(s, _)| f(s)).count() as f64 / shapes.len() as f64)
        };
        let move_steps: Vec<f64> = s
            .pointer
            .windows(2)
            .filter(|w| w[0].k == PointerKind::Move && w[1].k == PointerKind::Move)
            .map(|w| w[1].t - w[0].t)
            .collect();
        let mut intervals: Vec<f64> = move_steps.iter().copied().filter(|d| *d > 0.0 && *d <= PAUSE_MS).collect();
        let jumps = s
            .pointer
            .windows(2)
            .filter(|w| f64::from(w[1].dx).hypot(f64::from(w[1].dy)) > JUMP_PX && w[1].t - w[0].t < JUMP_MS)
            .count();
        let (mut still_clicks, mut presses, mut jump_presses, mut dash_presses, mut settle) = (0, 0, 0, 0, Vec::new());
        for (i, p) in s.pointer.iter().enumerate() {
            if p.k != PointerKind::Down {
                continue;
            }
            presses += 1;
            let moved = |q: &&PointerSample| q.k == PointerKind::Move && (q.dx != 0.0 || q.dy != 0.0);
            let approach: f64 = s.pointer[..i]
                .iter()
                .rev()
                .take_while(|q| p.t - q.t <= DASH_MS)
                .filter(|q| q.k == PointerKind::Move)
                .map(|q| f64::from(q.dx).hypot(f64::from(q.dy)))
                .sum();
            if approach > DASH_PX {
                dash_presses += 1;
            }
            let last_move = s.pointer[..i].iter().rev().find(moved);
            if last_move.is_none_or(|q| p.t - q.t > PAUSE_MS) {
                still_clicks += 1;
            }
            if let Some(q) = last_move {
                settle.push((p.t - q.t).min(2_000.0));
                if p.t - q.t <= JUMP_PRESS_MS && f64::from(q.dx).hypot(f64::from(q.dy)) > JUMP_PX {
                    jump_presses += 1;
                }
            }
        }
        let aimed_arrivals: Vec<(f64, f64)> = shapes
            .iter()
            .filter(|(s, aimed)| *aimed && s.length >= ARRIVAL_MIN_PX)
            .filter_map(|(s, _)| s.arrival.map(|a| (a, s.arrival_px)))
            .collect();
        let fast_arrivals =
            aimed_arrivals.iter().filter(|&&(a, px)| a > crate::score::FAST_ARRIVAL && px > ARRIVAL_GRID_PX).count();
        let mut arrivals: Vec<f64> = aimed_arrivals.iter().map(|a| a.0).collect();
        let mut dwell: Vec<f64> = s.clicks.iter().map(|c| c.dwell).collect();
        let mut gaps = key_gaps(&s.keys);
        let mut key_dwell: Vec<f64> = s.keys.iter().map(|k| k.dwell).collect();
        let cv = |v: &[f64], n: usize| (v.len() >= n).then(|| mean_cv(v).map_or(0.0, |(_, cv)| cv));
        Features {
            measured: shapes.len(),
            aimed: shapes.iter().filter(|(_, aimed)| *aimed).count(),
            straightness: med(|s| s.straightness),
            straight_share: share(|s| s.straightness > 0.995),
            speed_cv: med(|s| s.speed_cv),
            end_speed: med(|s| s.end_speed),
            peak_off_centre: med(|s| (s.peak_at - 0.5).abs()),
            wobble: med(|s| s.wobble),
            zigzag: med(|s| s.zigzag),
            roughness: med(|s| s.roughness),
            peaks: mean(|s| s.peaks as f64),
            crossings: mean(|s| s.crossings as f64),
            overshoot_share: share(|s| s.overshoot > 0.03),
            mean_speed: med(|s| s.mean_speed),
            settle_ms: median(&mut settle),
            curve_fit: median(&mut shapes.iter().filter_map(|(s, _)| s.curve_fit).collect::<Vec<_>>()),
            arrivals: arrivals.len(),
            fast_arrivals,
            arrival_speed: median(&mut arrivals),
            loop_fit: median(&mut shapes.iter().filter_map(|(s, _)| s.loop_fit).collect::<Vec<_>>()),
            dt_cv: med(|s| s.dt_cv),
            move_interval: if intervals.len() >= MIN_INTERVALS { median(&mut intervals) } else { None },
            burst_share: (!move_steps.is_empty())
                .then(|| move_steps.iter().filter(|&&d| d < 4.0).count() as f64 / move_steps.len() as f64),
            jumps,
            still_clicks,
            presses,
            jump_presses,
            dash_presses,
            click_dwell_cv: cv(&dwell, 3),
            click_dwell: median(&mut dwell),
            key_gap_min: gaps.iter().copied().reduce(f64::min),
            key_gap_cv: cv(&gaps.iter().copied().filter(|g| *g <= KEY_RUN_GAP_MS).collect::<Vec<_>>(), 4),
            key_gap: median(&mut gaps),
            key_dwell_cv: cv(&key_dwell, 4),
            key_dwell: median(&mut key_dwell),
        }
    }
}

#[cfg(test)]
mod tests {
    use oculto_shared::signals::{Click, KeyTiming};

    use super::*;

    /// Pointer samples through absolute points `(t, x, y)`, then a press.
    fn path(points: &[(f64, f64, f64)], click: bool) -> Vec<PointerSample> {
        let mut out = Vec::new();
        let (mut px, mut py) = (points[0].1, points[0].2);
        for &(t, x, y) in points {
            out.push(PointerSample { t, k: PointerKind::Move, dx: (x - px) as f32, dy: (y - py) as f32 });
            (px, py) = (x, y);
        }
        if click {
            let t = points[points.len() - 1].0 + 80.0;
            out.push(PointerSample { t, k: PointerKind::Down, dx: 0.0, dy: 0.0 });
            out.push(PointerSample { t: t + 90.0, k: PointerKind::Up, dx: 0.0, dy: 0.0 });
        }
        out
    }

    /// A reach from (0, 0) to (`x`, `y`) over `frames` frames of 16.7 ms,
    /// with a minimum-jerk profile (position follows 10s³ - 15s⁴ + 6s⁵), as
    /// a hand moves.
    fn min_jerk(frames: u32, x: f64, y: f64) -> Vec<(f64, f64, f64)> {
        (0..=frames)
            .map(|i| {
                let f = f64::from(i) / f64::from(frames);
                let s = f * f * f * (10.0 - 15.0 * f + 6.0 * f * f);
                (f64::from(i) * 16.7, x * s, y * s)
            })
            .collect()
    }

    fn line(n: usize, dt: f64, step: f64) -> Vec<(f64, f64, f64)> {
        (0..n).map(|i| (i as f64 * dt, i as f64 * step, i as f64 * step * 0.5)).collect()
    }

    #[test]
    fn a_straight_line_at_constant_speed() {
        let m = movements(&path(&line(30, 16.7, 10.0), true));
        assert_eq!(m.len(), 1);
        assert!(m[0].ends_in_click);
        let sh = m[0].shape().expect("long enough");
        assert!((sh.straightness - 1.0).abs() < 1e-6, "{sh:?}");
        assert!(sh.speed_cv < 0.05, "{sh:?}");
        assert!(sh.wobble < 1e-6, "{sh:?}");
        assert!(sh.dt_cv < 1e-6 && sh.burst_share == 0.0, "{sh:?}");
        assert!(sh.end_speed > 0.95, "no slowing down: {sh:?}");
        assert!(sh.arrival.is_some_and(|a| a > 0.95), "arrives at full speed: {sh:?}");
    }

    /// A reach with a minimum-jerk speed profile, as a hand moves: it slows
    /// to a crawl before it stops, and only the aimed reach counts.
    #[test]
    fn a_hand_arrives_at_a_crawl_and_a_line_at_full_speed() {
        let reach = min_jerk(36, 300.0, 120.0);
        let sh = movements(&path(&reach, true))[0].shape().expect("long enough");
        assert!(sh.arrival.is_some_and(|a| a < 0.05), "{sh:?}");
        let f = Features::extract(&Signals { pointer: path(&reach, true), ..Signals::default() });
        assert!(f.arrival_speed.is_some_and(|a| a < 0.05), "{f:?}");
        // The same reach without a press, and a line too short to count.
        let f = Features::extract(&Signals { pointer: path(&reach, false), ..Signals::default() });
        assert_eq!(f.arrival_speed, None);
        let f = Features::extract(&Signals { pointer: path(&line(10, 16.7, 8.0), true), ..Signals::default() });
        assert_eq!(f.arrival_speed, None, "{f:?}");
        let f = Features::extract(&Signals { pointer: path(&line(30, 16.7, 10.0), true), ..Signals::default() });
        assert!(f.arrival_speed.is_some_and(|a| a > 0.95), "{f:?}");
    }

    /// The same reach on a busy page: the browser handed over the last
    /// fifth of it in one late step, which looks like arriving at speed.
    #[test]
    fn a_reach_whose_end_came_late_has_no_arrival() {
        let mut reach = min_jerk(36, 300.0, 120.0);
        reach.truncate(29);
        reach.push((28.0 * 16.7 + 120.0, 300.0, 120.0));
        let sh = movements(&path(&reach, true))[0].shape().expect("long enough");
        assert_eq!(sh.arrival, None, "{sh:?}");
        let f = Features::extract(&Signals { pointer: path(&reach, true), ..Signals::default() });
        assert_eq!((f.arrivals, f.arrival_speed), (0, None), "{f:?}");
    }

    /// A slow reach on whole pixels: its last steps are one pixel a frame,
    /// a large share of its low peak, but that is the grid, not speed. The
    /// same share of a reach that still covers pixels by the handful is fast.
    #[test]
    fn a_slow_hand_on_whole_pixels_does_not_arrive_fast() {
        let slow: Vec<(f64, f64, f64)> =
            min_jerk(108, 150.0, 0.0).into_iter().map(|(t, x, y)| (t, x.round(), y)).collect();
        let sh = movements(&path(&slow, true))[0].shape().expect("long enough");
        assert!(sh.arrival.is_some_and(|a| a > crate::score::FAST_ARRIVAL), "a large share of a low peak: {sh:?}");
        assert!(sh.arrival_px <= ARRIVAL_GRID_PX, "{sh:?}");
        let f = Features::extract(&Signals { pointer: path(&slow, true), ..Signals::default() });
        assert_eq!((f.arrivals, f.fast_arrivals), (1, 0), "{f:?}");
        let f = Features::extract(&Signals { pointer: path(&line(30, 16.7, 10.0), true), ..Signals::default() });
        assert_eq!((f.arrivals, f.fast_arrivals), (1, 1), "{f:?}");
    }

    #[test]
    fn a_half_circle_is_not_straight_and_wobbles_evenly() {
        let pts: Vec<(f64, f64, f64)> = (0..=40)
            .map(|i| {
                let a = std::f64::consts::PI * f64::from(i) / 40.0;
                (f64::from(i) * 16.7, 100.0 - 100.0 * a.cos(), 100.0 * a.sin())
            })
            .collect();
        let sh = movements(&path(&pts, false))[0].shape().expect("long enough");
        assert!((sh.straightness - 2.0 / std::f64::consts::PI).abs() < 0.01, "{sh:?}");
        assert!((sh.wobble - std::f64::consts::PI / 40.0).abs() < 0.01, "{sh:?}");
    }

    /// Points of the cubic Bezier curve (0,0) (120,-80) (260,40) (400,0),
    /// at parameters eased in and out, as a bot library draws a move.
    fn bezier_move(n: u32, round: bool) -> Vec<Point> {
        let c = [(0.0, 0.0), (120.0, -80.0), (260.0, 40.0), (400.0, 0.0)];
        (0..=n)
            .map(|i| {
                let f = f64::from(i) / f64::from(n);
                let u = f * f * (3.0 - 2.0 * f);
                let v = 1.0 - u;
                let b = [v * v * v, 3.0 * u * v * v, 3.0 * u * u * v, u * u * u];
                let x: f64 = (0..4).map(|k| b[k] * c[k].0).sum();
                let y: f64 = (0..4).map(|k| b[k] * c[k].1).sum();
                let (x, y) = if round { (x.round(), y.round()) } else { (x, y) };
                Point { t: f64::from(i) * 16.7, x, y }
            })
            .collect()
    }

    #[test]
    fn a_bezier_curve_fits_itself() {
        // The fit converges slowly, and stops within a third of a pixel:
        // a hand strays by several.
        for round in [false, true] {
            let fit = curve_fit(&bezier_move(40, round)).expect("long enough");
            assert!(fit < 0.4, "rounded to whole pixels {round}: {fit}");
        }
    }

    #[test]
    fn a_reach_with_a_detour_does_not_fit_one_curve() {
        // Along the x axis, a bulge of 12 px in the first third, then back
        // on course: a correction no single cubic follows.
        let pts: Vec<Point> = (0..=40)
            .map(|i| {
                let f = f64::from(i) / 40.0;
                let bulge = if f < 1.0 / 3.0 { 12.0 * (3.0 * std::f64::consts::PI * f).sin() } else { 0.0 };
                Point { t: f64::from(i) * 16.7, x: 300.0 * f, y: bulge }
            })
            .collect();
        let fit = curve_fit(&pts).expect("long enough");
        assert!(fit > 2.0, "{fit}");
    }

    #[test]
    fn a_short_path_has_no_curve_fit() {
        let pts: Vec<Point> =
            (0..10).map(|i| Point { t: f64::from(i) * 16.7, x: f64::from(i) * 5.0, y: 0.0 }).collect();
        assert_eq!(curve_fit(&pts), None);
    }

    /// A loop of `turns` turns around (300, 200), radius `r(θ)`, sampled
    /// every 16.7 ms at `n` points a turn, rounded to whole pixels.
    fn loop_path(n: u32, turns: f64, r: impl Fn(f64) -> f64) -> Vec<Point> {
        let total = (f64::from(n) * turns) as u32;
        (0..=total)
            .map(|i| {
                let a = std::f64::consts::TAU * f64::from(i) / f64::from(n);
                let x = 300.0 + 1.4 * r(a) * a.cos();
                let y = 200.0 + r(a) * a.sin();
                Point { t: f64::from(i) * 16.7, x: x.round(), y: y.round() }
            })
            .collect()
    }

    #[test]
    fn a_traced_ellipse_fits_one_and_a_hand_drawn_loop_does_not() {
        let traced = loop_fit(&loop_path(60, 1.0, |_| 80.0)).expect("a whole turn");
        assert!(traced < 0.01, "{traced}");
        // A hand's loop bulges and flattens as it goes round, and does not
        // close where it began.
        let drawn =
            loop_fit(&loop_path(60, 1.05, |a| 80.0 * (1.0 + 0.04 * (3.0 * a).sin() + 0.03 * (5.0 * a + 1.0).sin())))
                .expect("a whole turn");
        assert!(drawn > 0.02, "{drawn}");
    }

    #[test]
    fn only_a_loop_has_a_loop_fit() {
        // A third of a turn is an arc, not a loop; a loop a few pixels
        // across is the pixel grid.
        assert_eq!(loop_fit(&loop_path(60, 0.33, |_| 80.0)), None);
        assert_eq!(loop_fit(&loop_path(60, 1.0, |_| 8.0)), None);
        let line: Vec<Point> =
            (0..40).map(|i| Point { t: f64::from(i) * 16.7, x: f64::from(i) * 8.0, y: 0.0 }).collect();
        assert_eq!(loop_fit(&line), None);
        // A circle drawn as a movement reaches the session's features.
        let f = Features::extract(&Signals {
            pointer: path(&loop_path(60, 1.0, |_| 80.0).iter().map(|p| (p.t, p.x, p.y)).collect::<Vec<_>>(), false),
            ..Signals::default()
        });
        assert!(f.loop_fit.is_some_and(|v| v < 0.01), "{f:?}");
    }

    #[test]
    fn a_bell_shaped_reach_slows_at_the_end() {
        let pts = min_jerk(30, 400.0, 0.0);
        let sh = movements(&path(&pts, true))[0].shape().expect("long enough");
        assert!(sh.end_speed < 0.4, "{sh:?}");
        assert!((sh.peak_at - 0.5).abs() < 0.1, "{sh:?}");
        assert!(sh.speed_cv > 0.4, "{sh:?}");
    }

    #[test]
    fn pauses_cut_movements_and_tiny_ones_are_not_measured() {
        let mut pts = line(10, 16.7, 10.0);
        pts.extend(line(10, 16.7, 10.0).into_iter().map(|(t, x, y)| (t + 1000.0, x + 200.0, y)));
        let m = movements(&path(&pts, false));
        assert_eq!(m.len(), 2);
        let tiny = path(&line(10, 16.7, 1.0), false);
        assert_eq!(movements(&tiny)[0].shape(), None);
    }

    #[test]
    fn session_features_catch_jumps_bursts_and_rhythm() {
        let mut pointer = path(&line(20, 1.0, 10.0), true);
        // A press 400 px away, right after: set, not moved.
        let t = pointer[pointer.len() - 1].t + 5.0;
        pointer.push(PointerSample { t, k: PointerKind::Move, dx: 400.0, dy: 0.0 });
        let s = Signals {
            pointer,
            clicks: vec![Click { t: 100.0, dwell: 0.0 }; 3],
            keys: (0..8).map(|i| KeyTiming { t: f64::from(i) * 10.0, dwell: 5.0 }).collect(),
            ..Default::default()
        };
        let f = Features::extract(&s);
        assert_eq!(f.jumps, 1);
        assert!(f.burst_share.unwrap() > 0.9, "{f:?}");
        assert_eq!(f.click_dwell, Some(0.0));
        assert_eq!(f.key_gap_min, Some(10.0));
        assert!(f.key_gap_cv.unwrap() < 1e-9 && f.key_dwell_cv.unwrap() < 1e-9, "{f:?}");
        assert_eq!(f.straight_share, Some(1.0));
    }

    #[test]
    fn a_click_without_movement_before_it_is_still() {
        let mut pointer = path(&line(10, 16.7, 10.0), false);
        let t = pointer[pointer.len() - 1].t + 2000.0;
        pointer.push(PointerSample { t, k: PointerKind::Down, dx: 0.0, dy: 0.0 });
        pointer.push(PointerSample { t: t + 5.0, k: PointerKind::Up, dx: 0.0, dy: 0.0 });
        let f = Features::extract(&Signals { pointer, ..Default::default() });
        assert_eq!(f.still_clicks, 1);
        let aimed = path(&line(10, 16.7, 10.0), true);
        assert_eq!(Features::extract(&Signals { pointer: aimed, ..Default::default() }).still_clicks, 0);
    }

    #[test]
    fn nothing_to_measure_is_none_not_zero() {
        let f = Features::extract(&Signals::default());
        assert_eq!(f, Features::default());
        assert_eq!(f.straightness, None);
    }
}
