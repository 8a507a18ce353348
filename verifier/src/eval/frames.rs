//! How a browser delivers pointer movement: one `pointermove` per display
//! frame (about 60 Hz, with a little jitter), at the cursor's position then,
//! and only when it moved to another whole pixel. A press, a release or a
//! wheel tick is delivered at its own time, after a move to where it
//! happened if the last frame did not show it yet (browsers flush coalesced
//! moves before a discrete event).
//!
//! Both the recorder neutraliser and the bot generators put their cursor
//! paths through [`deliver`], so every unit reaches the scorer on the same
//! clock, whatever recorded or generated it.

use super::rng::Rng;

/// One display frame at 60 Hz, ms.
pub const FRAME_MS: f64 = 1000.0 / 60.0;
/// Standard deviation of a frame's length, ms.
pub const FRAME_JITTER_MS: f64 = 1.5;

/// A cursor position at a time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// Time, ms.
    pub t: f64,
    /// Position, px.
    pub x: f64,
    /// Position, px.
    pub y: f64,
}

impl Point {
    /// A point.
    pub fn new(t: f64, x: f64, y: f64) -> Self {
        Self { t, x, y }
    }
}

/// How to read a path between its points.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Motion {
    /// Points at most this far apart, ms, are samples of one continuous
    /// motion: the cursor moves smoothly between them. Farther apart, it
    /// rested at the first.
    pub continuous_ms: f64,
    /// After a rest, the cursor reaches the next point over this long, ms:
    /// how much longer than a frame the recorder's tick is, the time it can
    /// have moved unseen by the recorder but seen by a browser. 0 jumps.
    pub glide_ms: f64,
}

impl Motion {
    /// A script's moves: the cursor jumps from point to point and rests in
    /// between.
    pub const SCRIPT: Self = Self { continuous_ms: 0.0, glide_ms: 0.0 };

    /// A recorder's samples: its tick is the median time between samples
    /// (about 16 ms in a browser, 110 ms for most Balabit users), a gap
    /// counts as a rest past 2.5 ticks (at least 50 ms), and the move after
    /// a rest glides over what the tick hid beyond a frame.
    pub fn recorded(path: &[Point]) -> Self {
        let mut gaps: Vec<f64> = path.windows(2).map(|w| w[1].t - w[0].t).filter(|&g| g > 0.5).collect();
        gaps.sort_by(f64::total_cmp);
        let tick = gaps.get(gaps.len() / 2).copied().unwrap_or(FRAME_MS).clamp(1.0, 200.0);
        Self { continuous_ms: (2.5 * tick).max(50.0), glide_ms: (tick - FRAME_MS).max(0.0) }
    }
}

/// Where the cursor is at any time: a path in time order, read with a
/// [`Motion`].
struct Cursor {
    points: Vec<Point>,
    /// Whether the cursor moves between point `i` and `i + 1`.
    moving: Vec<bool>,
    /// Velocity at each point, px/ms, per axis.
    velocity: Vec<(f64, f64)>,
    i: usize,
}

/// The velocity at a point between two moving segments of slopes `a` and
/// `b`: their harmonic mean, or 0 at a turn, so the path never overshoots
/// its samples on either axis (monotone cubic interpolation).
fn monotone(a: f64, b: f64) -> f64 {
    if a * b <= 0.0 {
        0.0
    } else {
        2.0 * a * b / (a + b)
    }
}

impl Cursor {
    fn new(path: &[Point], motion: Motion) -> Self {
        let mut points: Vec<Point> = Vec::with_capacity(path.len());
        for &p in path {
            match points.last_mut() {
                // Several samples at one time: the last one counts.
                Some(last) if p.t <= last.t => (last.x, last.y) = (p.x, p.y),
                Some(last) if p.t - last.t > motion.continuous_ms && motion.glide_ms > 0.0 => {
                    let rest_end = Point::new(p.t - motion.glide_ms.min(p.t - last.t), last.x, last.y);
                    if rest_end.t > last.t {
                        points.push(rest_end);
                    }
                    points.push(p);
                }
                _ => points.push(p),
            }
        }
        let moving: Vec<bool> = points
            .windows(2)
            .map(|w| w[1].t - w[0].t <= motion.continuous_ms && (w[0].x, w[0].y) != (w[1].x, w[1].y))
            .collect();
        let slope = |i: usize| {
            let (a, b) = (points[i], points[i + 1]);
            ((b.x - a.x) / (b.t - a.t), (b.y - a.y) / (b.t - a.t))
        };
        let velocity = (0..points.len())
            .map(|i| {
                if i == 0 || i + 1 == points.len() || !moving[i - 1] || !moving[i] {
                    return (0.0, 0.0);
                }
                let (a, b) = (slope(i - 1), slope(i));
                (monotone(a.0, b.0), monotone(a.1, b.1))
            })
            .collect();
        Self { points, moving, velocity, i: 0 }
    }

    /// The position at `t`, for `t` never decreasing between calls.
    fn at(&mut self, t: f64) -> (f64, f64) {
        let p = &self.points;
        while self.i + 1 < p.len() && p[self.i + 1].t <= t {
            self.i += 1;
        }
        let (i, a) = (self.i, p[self.i]);
        if i + 1 == p.len() || t <= a.t || !self.moving[i] {
            return (a.x, a.y);
        }
        // Cubic Hermite between the two samples.
        let b = p[i + 1];
        let h = b.t - a.t;
        let s = (t - a.t) / h;
        let (s2, s3) = (s * s, s * s * s);
        let (h00, h10, h01, h11) = (2.0 * s3 - 3.0 * s2 + 1.0, s3 - 2.0 * s2 + s, 3.0 * s2 - 2.0 * s3, s3 - s2);
        let (va, vb) = (self.velocity[i], self.velocity[i + 1]);
        (
            h00 * a.x + h10 * h * va.0 + h01 * b.x + h11 * h * vb.0,
            h00 * a.y + h10 * h * va.1 + h01 * b.y + h11 * h * vb.1,
        )
    }

    /// Whether the cursor rests after the current point.
    fn resting(&self) -> bool {
        !self.moving.get(self.i).copied().unwrap_or(false)
    }

    /// The time of the next point after `t`, if any.
    fn next_change(&self, t: f64) -> Option<f64> {
        self.points[self.i..].iter().map(|p| p.t).find(|&pt| pt > t)
    }
}

/// The moves a browser delivers for the cursor `path`, rounded to whole px.
///
/// `motion` says how the cursor goes from point to point: smoothly within a
/// continuous motion (a monotone cubic through the samples, so the speed
/// profile survives without inventing overshoot), or resting then moving
/// ([`Motion::SCRIPT`]: jumping). `flush_at` are the times of presses,
/// releases and wheel ticks, in order: the cursor's position is delivered at
/// each of them if it changed.
pub fn deliver(path: &[Point], motion: Motion, flush_at: &[f64], rng: &mut Rng) -> Vec<Point> {
    let mut out: Vec<Point> = Vec::new();
    let (Some(first), Some(end)) = (path.first(), path.last().map(|p| p.t)) else { return out };
    let mut cursor = Cursor::new(path, motion);
    let mut last: Option<(f64, f64)> = None;
    let mut emit = |t: f64, (x, y): (f64, f64), out: &mut Vec<Point>| {
        let pos = (x.round(), y.round());
        if last != Some(pos) {
            last = Some(pos);
            out.push(Point::new(t, pos.0, pos.1));
        }
    };
    let mut flushes = flush_at.iter().copied().filter(|&t| t >= first.t).peekable();
    let mut frame = first.t + rng.range(0.0, FRAME_MS);
    loop {
        while let Some(tf) = flushes.next_if(|&tf| tf < frame) {
            let pos = cursor.at(tf);
            emit(tf, pos, &mut out);
        }
        let pos = cursor.at(frame);
        emit(frame, pos, &mut out);
        if frame >= end {
            break;
        }
        // While the cursor rests, skip the frames that would show nothing.
        let mut step = FRAME_MS;
        if cursor.resting() {
            let wake = cursor.next_change(frame).unwrap_or(end + FRAME_MS);
            let wake = flushes.peek().map_or(wake, |&tf| wake.min(tf));
            step = ((wake - frame) / FRAME_MS).ceil().max(1.0) * FRAME_MS;
        }
        frame += step + rng.normal(0.0, FRAME_JITTER_MS).clamp(-4.0, 4.0);
    }
    for tf in flushes {
        let pos = cursor.at(tf);
        emit(tf, pos, &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_constant_speed_line_keeps_its_speed_on_the_frame_clock() {
        // 0.5 px/ms for 1 s, sampled every 8 ms by a fast recorder.
        let path: Vec<Point> = (0..=125).map(|i| Point::new(f64::from(i) * 8.0, f64::from(i) * 4.0, 0.0)).collect();
        let out = deliver(&path, Motion::recorded(&path), &[], &mut Rng::new(1));
        let gaps: Vec<f64> = out.windows(2).map(|w| w[1].t - w[0].t).collect();
        let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
        assert!((mean - FRAME_MS).abs() < 0.5, "mean frame {mean}");
        assert!(gaps.iter().all(|g| (FRAME_MS - 4.5..=FRAME_MS + 4.5).contains(g)), "{gaps:?}");
        // Whole pixels cost up to 1 px a frame; the motion starts and ends at rest.
        for w in out.windows(2).filter(|w| w[0].t >= 20.0 && w[1].t <= 980.0) {
            let v = (w[1].x - w[0].x) / (w[1].t - w[0].t);
            assert!((v - 0.5).abs() < 0.1, "speed {v}");
        }
        assert_eq!(out.last().map(|p| p.x), Some(500.0));
    }

    #[test]
    fn a_pause_is_not_smoothed_and_costs_no_frames() {
        let path = [Point::new(0.0, 0.0, 0.0), Point::new(1000.0, 100.0, 0.0)];
        let out = deliver(&path, Motion::SCRIPT, &[], &mut Rng::new(2));
        assert_eq!(out.len(), 2, "{out:?}");
        assert!(out[1].t >= 1000.0 && out[1].t < 1000.0 + FRAME_MS + 4.0);
        assert_eq!((out[1].x, out[1].y), (100.0, 0.0));
        // A recorder with a 117 ms tick: the pointer rested, then moved over 100 ms.
        let motion = Motion { continuous_ms: 290.0, glide_ms: 100.0 };
        let out = deliver(&path, motion, &[], &mut Rng::new(2));
        let moving: Vec<&Point> = out.iter().filter(|p| p.x > 0.0).collect();
        assert!((4..=7).contains(&moving.len()), "{out:?}");
        assert!(moving[0].t > 900.0);
    }

    #[test]
    fn a_browser_recorded_jump_stays_a_jump() {
        // A teleport seen by a 60 Hz recorder: one sample at the new place.
        let mut path: Vec<Point> = (0..5).map(|i| Point::new(f64::from(i) * 16.7, 10.0 + f64::from(i), 10.0)).collect();
        path.push(Point::new(500.0, 400.0, 300.0));
        let out = deliver(&path, Motion::recorded(&path), &[], &mut Rng::new(6));
        let after: Vec<&Point> = out.iter().filter(|p| p.t > 100.0).collect();
        assert_eq!(after.len(), 1, "{out:?}");
        assert_eq!((after[0].x, after[0].y), (400.0, 300.0));
    }

    #[test]
    fn a_press_is_preceded_by_the_move_to_it() {
        // A script teleports at t=100 and clicks at t=100.5, before the next frame.
        let path = [Point::new(0.0, 0.0, 0.0), Point::new(100.0, 300.0, 200.0)];
        for seed in 0..20 {
            let out = deliver(&path, Motion::SCRIPT, &[100.5], &mut Rng::new(seed));
            let before = out.iter().take_while(|p| p.t <= 100.5).last().expect("a move before the press");
            assert_eq!((before.x, before.y), (300.0, 200.0), "seed {seed}: {out:?}");
        }
    }

    #[test]
    fn sub_pixel_motion_is_not_delivered() {
        let path: Vec<Point> = (0..50).map(|i| Point::new(f64::from(i) * 16.0, 0.2, 0.0)).collect();
        assert_eq!(deliver(&path, Motion::recorded(&path), &[], &mut Rng::new(4)).len(), 1);
    }

    #[test]
    fn a_coarse_recorder_is_interpolated_smoothly_and_without_overshoot() {
        // Samples every 110 ms along a quarter circle (Balabit-like).
        let path: Vec<Point> = (0..=10)
            .map(|i| {
                let a = f64::from(i) / 10.0 * std::f64::consts::FRAC_PI_2;
                Point::new(f64::from(i) * 110.0, 300.0 * a.sin(), 300.0 - 300.0 * a.cos())
            })
            .collect();
        let motion = Motion::recorded(&path);
        assert_eq!(motion, Motion { continuous_ms: 275.0, glide_ms: 110.0 - FRAME_MS });
        let out = deliver(&path, motion, &[], &mut Rng::new(5));
        assert!(out.len() > 60, "{} moves", out.len());
        assert!(out.iter().all(|p| (0.0..=300.0).contains(&p.x) && (0.0..=300.0).contains(&p.y)));
        // No constant-velocity stretches with corners at the samples: speed changes gradually.
        let speeds: Vec<f64> =
            out.windows(2).map(|w| (w[1].x - w[0].x).hypot(w[1].y - w[0].y) / (w[1].t - w[0].t)).collect();
        let worst = speeds.windows(2).skip(2).take(speeds.len() - 6).map(|w| (w[1] - w[0]).abs()).fold(0.0, f64::max);
        assert!(worst < 0.25, "largest frame-to-frame speed change {worst} px/ms");
    }
}
