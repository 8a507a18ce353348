//! The image challenge: an answer drawn as a distorted PNG of [`WIDTH`] x
//! [`HEIGHT`] pixels, which the widget puts on its canvas.
//!
//! [`render`] works in layers, each drawn with fresh randomness:
//!
//! 1. a background: a gradient between two light colours, speckled with noise
//!    and crossed by faint arcs;
//! 2. the text: each glyph's outline is scaled, rotated and set to overlap its
//!    neighbours, then every point of the string goes through one smooth sine
//!    warp before the outlines are rasterized together, so the warp bends
//!    strokes instead of moving whole letters;
//! 3. interference: thick strokes through the text, rasterized like glyphs
//!    and inked in colours close to the glyphs', thin arcs and dots.
//!
//! The light variants use a milder style: less warp, rotation and
//! overlap, fewer and thinner strokes.

use std::sync::LazyLock;

use ab_glyph::{point, Font, FontRef, OutlineCurve, Point};
use ab_glyph_rasterizer::Rasterizer;
use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use image::{ImageEncoder, Rgb, RgbImage};
use imageproc::drawing::{draw_cubic_bezier_curve_mut, draw_filled_circle_mut};
use rand::Rng;

/// Width of every challenge image, in pixels (the widget's canvas).
pub const WIDTH: u32 = 240;
/// Height of every challenge image, in pixels.
pub const HEIGHT: u32 = 80;

/// Liberation Sans Bold (SIL OFL 1.1, `verifier/assets/fonts/`): a bold sans
/// whose strokes survive the warp. Parsed once.
static FONT: LazyLock<FontRef<'static>> = LazyLock::new(|| {
    FontRef::try_from_slice(include_bytes!("../../assets/fonts/LiberationSans-Bold.ttf"))
        .expect("the bundled font is a valid TrueType font")
});

/// How hard an image is to read.
struct Style {
    /// Largest em size, in pixels; long answers get smaller.
    max_em: f32,
    /// Largest rotation of one glyph, in radians, either way.
    rotation: f32,
    /// Largest change of one glyph's size, as a fraction.
    scale: f32,
    /// Advance between glyphs as a fraction of their width (below 1 overlaps).
    advance: f32,
    /// Largest vertical offset of one glyph, in pixels, either way.
    jitter: f32,
    /// Amplitude of the sine warp, in pixels.
    warp: f32,
    /// Thick strokes through the text, and their width range in pixels.
    strokes: usize,
    stroke_width: (f32, f32),
    /// Thin arcs and dots.
    arcs: usize,
    dots: usize,
    /// Largest change of a speckled background pixel, per channel.
    noise: u8,
}

const HARD: Style = Style {
    max_em: 54.0,
    rotation: 0.35,
    scale: 0.18,
    advance: 0.85,
    jitter: 6.0,
    warp: 5.0,
    strokes: 2,
    stroke_width: (2.5, 4.0),
    arcs: 4,
    dots: 40,
    noise: 40,
};

const LIGHT: Style = Style {
    max_em: 50.0,
    rotation: 0.22,
    scale: 0.08,
    advance: 0.92,
    jitter: 3.0,
    warp: 2.5,
    strokes: 1,
    stroke_width: (1.2, 1.8),
    arcs: 2,
    dots: 15,
    noise: 24,
};

/// Renders `text` as a distorted PNG of [`WIDTH`] x [`HEIGHT`] pixels,
/// different on every call. `light` makes it easier to read. Characters the
/// font lacks are skipped; answers come from [`super::answer`], whose
/// alphabets the font covers.
pub fn render(text: &str, light: bool, rng: &mut impl Rng) -> Vec<u8> {
    let style = if light { &LIGHT } else { &HARD };
    let ink = random_colour(rng, 10..=110);
    let mut img = background(style, ink, rng);
    let warp = Warp::new(style.warp, rng);

    let mut raster = Rasterizer::new((WIDTH + 2 * MARGIN) as usize, HEIGHT as usize);
    draw_text(&mut raster, text, style, &warp, rng);
    // The text's ink drifts from one close colour to another along the string.
    let (ink_left, ink_right) = (near(ink, 30, rng), near(ink, 30, rng));
    paint(&mut img, &raster, |x| mix(ink_left, ink_right, x as f32 / WIDTH as f32));

    raster.clear();
    for _ in 0..style.strokes {
        let width = rng.random_range(style.stroke_width.0..=style.stroke_width.1);
        draw_stroke(&mut raster, &random_curve(rng), width, &warp);
    }
    let stroke_ink = near(ink, 25, rng);
    paint(&mut img, &raster, |_| stroke_ink);

    for _ in 0..style.arcs {
        let [a, b, c, d] = random_curve(rng);
        draw_cubic_bezier_curve_mut(&mut img, (a.x, a.y), (d.x, d.y), (b.x, b.y), (c.x, c.y), near(ink, 40, rng));
    }
    for _ in 0..style.dots {
        let centre = (rng.random_range(0..WIDTH as i32), rng.random_range(0..HEIGHT as i32));
        draw_filled_circle_mut(&mut img, centre, rng.random_range(0..=1), near(ink, 50, rng));
    }
    encode(&img)
}

/// A light gradient speckled with noise and crossed by faint arcs.
fn background(style: &Style, ink: Rgb<u8>, rng: &mut impl Rng) -> RgbImage {
    let (from, to) = (random_colour(rng, 200..=250), random_colour(rng, 200..=250));
    // The gradient runs along x only, so that unspeckled rows repeat the row
    // above and cost the PNG next to nothing.
    let mut img = RgbImage::from_fn(WIDTH, HEIGHT, |x, _| mix(from, to, x as f32 / WIDTH as f32));
    // One pixel in sixteen is speckled, by one of four steps: enough to
    // defeat a flat threshold, few and regular enough that the PNG stays small.
    let mut speckles = vec![0u8; (WIDTH * HEIGHT) as usize];
    rng.fill(&mut speckles[..]);
    let noise = i16::from(style.noise);
    let steps = [-noise, -noise / 2, noise / 2, noise];
    for (pixel, &r) in img.pixels_mut().zip(&speckles) {
        if r & 15 == 0 {
            let delta = steps[usize::from(r >> 6)];
            pixel.0 = pixel.0.map(|v| (i16::from(v) + delta).clamp(0, 255) as u8);
        }
    }
    let faint = mix(ink, from, 0.7);
    for _ in 0..3 {
        let [a, b, c, d] = random_curve(rng);
        draw_cubic_bezier_curve_mut(&mut img, (a.x, a.y), (d.x, d.y), (b.x, b.y), (c.x, c.y), near(faint, 20, rng));
    }
    img
}

/// A smooth displacement of the whole image: each axis moves along a sine of
/// the other.
struct Warp {
    amplitude: (f32, f32),
    frequency: (f32, f32),
    phase: (f32, f32),
}

impl Warp {
    fn new(amplitude: f32, rng: &mut impl Rng) -> Self {
        use std::f32::consts::TAU;
        Warp {
            amplitude: (amplitude * rng.random_range(0.4..=0.8), amplitude * rng.random_range(0.7..=1.0)),
            frequency: (TAU / rng.random_range(50.0..=90.0), TAU / rng.random_range(70.0..=140.0)),
            phase: (rng.random_range(0.0..TAU), rng.random_range(0.0..TAU)),
        }
    }

    fn apply(&self, p: Point) -> Point {
        point(
            p.x + self.amplitude.0 * (p.y * self.frequency.0 + self.phase.0).sin(),
            p.y + self.amplitude.1 * (p.x * self.frequency.1 + self.phase.1).sin(),
        )
    }
}

/// Rasterizes the glyphs of `text`, each scaled, rotated and overlapping its
/// neighbours, through `warp`.
fn draw_text(raster: &mut Rasterizer, text: &str, style: &Style, warp: &Warp, rng: &mut impl Rng) {
    let font = &*FONT;
    let units = font.units_per_em().unwrap_or(2048.0);
    let glyphs: Vec<_> = text
        .chars()
        .filter_map(|c| {
            let id = font.glyph_id(c);
            let outline = font.outline(id)?;
            let scale = 1.0 + rng.random_range(-style.scale..=style.scale);
            Some((outline, font.h_advance_unscaled(id) / units, scale))
        })
        .collect();
    if glyphs.is_empty() {
        return;
    }
    let width_ems: f32 = glyphs.iter().map(|(_, advance, scale)| advance * scale * style.advance).sum();
    let em = style.max_em.min((WIDTH as f32 - 24.0) / width_ems);
    let total = width_ems * em;
    let slack = (WIDTH as f32 - total) / 2.0;
    let mut x = slack + rng.random_range(-slack / 2.0..=slack / 2.0);
    // Cap height of the font (H), to centre glyphs vertically.
    let cap = font.outline(font.glyph_id('H')).map_or(0.7 * units, |o| (o.bounds.max.y - o.bounds.min.y).abs());

    for (outline, advance, scale) in glyphs {
        let size = em * scale / units;
        let half_advance = advance * units / 2.0;
        let step = advance * em * scale * style.advance;
        let centre = point(x + step / 2.0, HEIGHT as f32 / 2.0 + rng.random_range(-style.jitter..=style.jitter));
        let (sin, cos) = rng.random_range(-style.rotation..=style.rotation).sin_cos();
        // Font units (y up, origin at the baseline) to image pixels.
        let place = |p: Point| {
            let (u, v) = ((p.x - half_advance) * size, (cap / 2.0 - p.y) * size);
            warp.apply(point(centre.x + u * cos - v * sin, centre.y + u * sin + v * cos))
        };
        for curve in &outline.curves {
            draw_curve(raster, curve, &place);
        }
        x += step;
    }
}

/// Draws one outline curve through `place`, cut into short lines so that a
/// non-linear `place` bends it smoothly.
fn draw_curve(raster: &mut Rasterizer, curve: &OutlineCurve, place: &impl Fn(Point) -> Point) {
    let at = |t: f32| -> Point {
        let s = 1.0 - t;
        match *curve {
            OutlineCurve::Line(a, b) => weigh(&[(a, s), (b, t)]),
            OutlineCurve::Quad(a, b, c) => weigh(&[(a, s * s), (b, 2.0 * s * t), (c, t * t)]),
            OutlineCurve::Cubic(a, b, c, d) => cubic(&[a, b, c, d], t),
        }
    };
    let pieces = match curve {
        OutlineCurve::Line(..) => 3,
        OutlineCurve::Quad(..) => 4,
        OutlineCurve::Cubic(..) => 6,
    };
    let mut from = place(at(0.0));
    for i in 1..=pieces {
        let to = place(at(i as f32 / pieces as f32));
        draw_line(raster, from, to);
        from = to;
    }
}

/// The sum of `points` scaled by their weights.
fn weigh(points: &[(Point, f32)]) -> Point {
    points.iter().fold(point(0.0, 0.0), |sum, &(p, w)| sum + point(p.x * w, p.y * w))
}

/// The point at `t` (0 to 1) along the cubic Bézier `[start, control, control, end]`.
fn cubic(&[a, b, c, d]: &[Point; 4], t: f32) -> Point {
    let s = 1.0 - t;
    weigh(&[(a, s * s * s), (b, 3.0 * s * s * t), (c, 3.0 * s * t * t), (d, t * t * t)])
}

/// A cubic Bézier (start, two controls, end) across the text area.
fn random_curve(rng: &mut impl Rng) -> [Point; 4] {
    let (w, h) = (WIDTH as f32, HEIGHT as f32);
    let mut y = || rng.random_range(h * 0.2..=h * 0.8);
    let [y0, y1, y2, y3] = [y(), y(), y(), y()];
    let x0 = rng.random_range(0.0..=w * 0.3);
    let x3 = rng.random_range(w * 0.7..=w);
    [point(x0, y0), point(x0 + (x3 - x0) / 3.0, y1), point(x0 + 2.0 * (x3 - x0) / 3.0, y2), point(x3, y3)]
}

/// Rasterizes a stroke of `width` pixels along the cubic `curve`, through
/// `warp`, as a closed outline like a glyph's.
fn draw_stroke(raster: &mut Rasterizer, curve: &[Point; 4], width: f32, warp: &Warp) {
    const PIECES: usize = 24;
    let spine: Vec<Point> = (0..=PIECES).map(|i| warp.apply(cubic(curve, i as f32 / PIECES as f32))).collect();
    let side = |i: usize, sign: f32| {
        let (prev, next) = (spine[i.saturating_sub(1)], spine[(i + 1).min(PIECES)]);
        let (dx, dy) = (next.x - prev.x, next.y - prev.y);
        let len = (dx * dx + dy * dy).sqrt().max(f32::EPSILON);
        let offset = sign * width / 2.0 / len;
        spine[i] + point(-dy * offset, dx * offset)
    };
    let outline: Vec<Point> =
        (0..=PIECES).map(|i| side(i, 1.0)).chain((0..=PIECES).rev().map(|i| side(i, -1.0))).collect();
    for (i, &p) in outline.iter().enumerate() {
        draw_line(raster, p, outline[(i + 1) % outline.len()]);
    }
}

/// Columns of the rasterizer on each side of the image. Glyphs and strokes
/// may leave the image; the rasterizer skips rows outside it, but a point
/// left or right of its buffer would wrap onto the next row, so points are
/// clamped into these margins, which are not painted.
const MARGIN: u32 = 2;

/// Adds the line `a`-`b`, in image pixels, to the raster.
fn draw_line(raster: &mut Rasterizer, a: Point, b: Point) {
    let shift = |p: Point| point((p.x + MARGIN as f32).clamp(0.0, (WIDTH + 2 * MARGIN - 2) as f32), p.y);
    raster.draw_line(shift(a), shift(b));
}

/// Blends the raster's coverage onto `img` in the colour `ink(x)`.
fn paint(img: &mut RgbImage, raster: &Rasterizer, ink: impl Fn(u32) -> Rgb<u8>) {
    raster.for_each_pixel_2d(|x, y, coverage| {
        let x = x.wrapping_sub(MARGIN);
        if x < WIDTH && coverage > 1.0 / 255.0 {
            let pixel = img.get_pixel_mut(x, y);
            *pixel = mix(*pixel, ink(x), coverage.min(1.0));
        }
    });
}

/// `a` moved towards `b` by `t` (0 to 1).
fn mix(a: Rgb<u8>, b: Rgb<u8>, t: f32) -> Rgb<u8> {
    Rgb(std::array::from_fn(|i| (f32::from(a.0[i]) + (f32::from(b.0[i]) - f32::from(a.0[i])) * t).round() as u8))
}

/// A colour whose channels are drawn from `range`.
fn random_colour(rng: &mut impl Rng, range: std::ops::RangeInclusive<u8>) -> Rgb<u8> {
    Rgb(std::array::from_fn(|_| rng.random_range(range.clone())))
}

/// A colour within `by` of `colour` on each channel.
fn near(colour: Rgb<u8>, by: i16, rng: &mut impl Rng) -> Rgb<u8> {
    Rgb(colour.0.map(|v| (i16::from(v) + rng.random_range(-by..=by)).clamp(0, 255) as u8))
}

/// The image as PNG bytes.
fn encode(img: &RgbImage) -> Vec<u8> {
    let mut png = Vec::with_capacity(8 * 1024);
    PngEncoder::new_with_quality(&mut png, CompressionType::Fast, FilterType::Adaptive)
        .write_image(img.as_raw(), WIDTH, HEIGHT, image::ExtendedColorType::Rgb8)
        .expect("encoding a PNG into memory cannot fail");
    png
}

#[cfg(test)]
mod tests {
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    use super::*;
    use crate::challenge::{answer, Kind, Spec, ALPHABETIC, ALPHANUMERIC, NUMERIC};

    /// PNG bytes of an image of any size.
    fn encode_any(img: &RgbImage) -> Vec<u8> {
        let mut png = Vec::new();
        PngEncoder::new(&mut png)
            .write_image(img.as_raw(), img.width(), img.height(), ::image::ExtendedColorType::Rgb8)
            .unwrap();
        png
    }

    #[test]
    fn renders_a_png_of_the_promised_size() {
        let mut rng = StdRng::from_os_rng();
        for light in [false, true] {
            let png = render("K7HX4M", light, &mut rng);
            let img = ::image::load_from_memory_with_format(&png, ::image::ImageFormat::Png).unwrap();
            assert_eq!((img.width(), img.height()), (WIDTH, HEIGHT));
        }
    }

    #[test]
    fn two_renders_of_the_same_text_differ() {
        let mut rng = StdRng::from_os_rng();
        assert_ne!(render("K7HX4M", false, &mut rng), render("K7HX4M", false, &mut rng));
        assert_ne!(render("K7HX4M", true, &mut rng), render("K7HX4M", true, &mut rng));
    }

    #[test]
    fn every_allowed_text_renders() {
        let mut rng = StdRng::seed_from_u64(12);
        for alphabet in [NUMERIC, ALPHABETIC, ALPHANUMERIC] {
            for c in alphabet.chars() {
                assert!(FONT.outline(FONT.glyph_id(c)).is_some(), "the font lacks {c}");
            }
            render(alphabet, false, &mut rng);
        }
        for kind in [Kind::Numeric, Kind::Alphabetic, Kind::Alphanumeric] {
            for light in [false, true] {
                let spec = Spec { kind, min_len: 1, max_len: 12, light };
                for _ in 0..20 {
                    render(&answer(spec, &mut rng), light, &mut rng);
                }
            }
        }
        render("", false, &mut rng);
        render("7 + 4 = ?", false, &mut rng);
        render("é€\u{1F600}", true, &mut rng);
    }

    /// Not an assertion: prints the median render time and PNG size
    /// (`cargo test --release -p oculto-verifier challenge::image -- --nocapture`).
    #[test]
    #[ignore = "a timing print, not a check: cargo test --release -p oculto-verifier measure -- --ignored --nocapture"]
    fn measure() {
        let mut rng = StdRng::seed_from_u64(1);
        for (text, light) in [("K7HX4MPA", false), ("K7HX4M", true), ("K7HX4MPAR2W9", false)] {
            let mut times = Vec::new();
            let mut sizes = Vec::new();
            for _ in 0..50 {
                let start = std::time::Instant::now();
                let png = render(text, light, &mut rng);
                times.push(start.elapsed());
                sizes.push(png.len());
            }
            times.sort();
            sizes.sort();
            println!("render {text} light={light}: median {:?}, median PNG {} bytes", times[25], sizes[25]);
        }
        // A sample sheet at twice the size, to judge legibility by eye.
        if let Ok(path) = std::env::var("OCULTO_CHALLENGE_SHEET") {
            let mut sheet = RgbImage::new(4 * WIDTH, 4 * HEIGHT);
            for (i, light) in [false, false, true, true].into_iter().enumerate() {
                let spec = Spec { kind: Kind::Alphanumeric, min_len: 6, max_len: 9, light };
                let text = answer(spec, &mut rng);
                println!("sheet row {i}: {text} light={light}");
                let img = ::image::load_from_memory(&render(&text, light, &mut rng)).unwrap().to_rgb8();
                let big =
                    ::image::imageops::resize(&img, 2 * WIDTH, 2 * HEIGHT, ::image::imageops::FilterType::Nearest);
                ::image::imageops::replace(
                    &mut sheet,
                    &big,
                    i64::from((i as u32 % 2) * 2 * WIDTH),
                    i64::from((i as u32 / 2) * 2 * HEIGHT),
                );
            }
            std::fs::write(path, encode_any(&sheet)).unwrap();
        }
    }
}
