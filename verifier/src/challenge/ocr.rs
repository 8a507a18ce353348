//! The OCR resistance report (issue 4): how often an off-the-shelf OCR
//! engine, Tesseract, reads our image challenges.
//!
//! [`run`] renders `--per-kind` challenges for each distinct [`Spec`] of
//! [`CAPTCHETAT_TYPES`] into a folder, then reads every image with the
//! `tesseract` binary the ways a lazy attacker would, and keeps the best
//! per kind:
//!
//! - cleaned up or not: `raw`, the PNG as the widget gets it, or `otsu`:
//!   grey levels, upscaled 2x, a 3x3 median to drop speckles, then Otsu's
//!   threshold to black on white;
//! - `--psm 7` (one line of text) or `--psm 13` (raw line: no layout
//!   analysis, which on a challenge often finds no line at all);
//! - always with the kind's alphabet as whitelist, which helps Tesseract.
//!
//! Images go to Tesseract as lists, one process per 125 images (TSV
//! output, whose rows carry the page number), with `--jobs` processes at a
//! time and one thread each.
//!
//! A reading counts as an exact solve when, folded by [`normalize`] as the
//! server would fold it, it equals the answer. Per-character accuracy is
//! `1 - edit distance / answer length`, floored at 0 per image and averaged
//! over the characters of all answers, so a reading that drops or adds one
//! character loses one character, not the rest of the line.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use ab_glyph::{Font as _, PxScale, ScaleFont as _};
use anyhow::{bail, Context as _};
use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use image::{ExtendedColorType, GrayImage, ImageEncoder as _, Rgb, RgbImage};
use imageproc::contrast::{otsu_level, threshold, ThresholdType};
use rand::rngs::StdRng;
use rand::SeedableRng as _;

use super::image::{render, FONT, HEIGHT, WIDTH};
use super::{answer, captchetat_spec, normalize, Spec, CAPTCHETAT_TYPES};

/// `oculto challenge ocr`: the OCR resistance report.
#[derive(Debug, Clone, clap::Args)]
pub struct OcrArgs {
    /// Challenges rendered and read per kind.
    #[arg(long, default_value_t = 500)]
    pub per_kind: usize,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Keep the images and Tesseract's readings in this folder (created if
    /// missing) instead of a temporary one that is removed afterwards.
    #[arg(long, value_name = "DIR")]
    pub keep: Option<PathBuf>,
    /// Also write a sample sheet: four challenges of each kind, answers
    /// printed below them, as one PNG.
    #[arg(long, value_name = "PATH")]
    pub sheet: Option<PathBuf>,
    /// Tesseract processes run at once.
    #[arg(long, default_value_t = 2)]
    pub jobs: usize,
    /// The Tesseract binary.
    #[arg(long, env = "OCULTO_TESSERACT", default_value = "tesseract")]
    pub tesseract: PathBuf,
}

/// How an image is cleaned up before Tesseract reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Prep {
    /// The PNG as served.
    Raw,
    /// Grey, 2x, median 3x3, Otsu threshold.
    Otsu,
}

impl Prep {
    fn name(self) -> &'static str {
        match self {
            Prep::Raw => "raw",
            Prep::Otsu => "otsu",
        }
    }
}

/// One way of handing the images to Tesseract: a clean-up and a page
/// segmentation mode. `--psm 7` (one line) runs Tesseract's layout analysis,
/// which often finds no line at all in a challenge; `--psm 13` (raw line)
/// skips it and always reads something.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Pass {
    prep: Prep,
    psm: u8,
}

const PASSES: [Pass; 4] = [
    Pass { prep: Prep::Raw, psm: 7 },
    Pass { prep: Prep::Raw, psm: 13 },
    Pass { prep: Prep::Otsu, psm: 7 },
    Pass { prep: Prep::Otsu, psm: 13 },
];

impl Pass {
    fn name(self) -> String {
        format!("{}/psm{}", self.prep.name(), self.psm)
    }
}

/// Images per Tesseract process: enough that start-up (loading the model,
/// about 0.1 s) does not count, few enough that the processes finish together.
const BATCH: usize = 125;

/// A kind of challenge in the report: one distinct spec, named after its
/// CaptchEtat type without the language (`numerique6_7Captcha`).
#[derive(Debug, Clone)]
struct ReportKind {
    name: String,
    spec: Spec,
}

/// The distinct specs of [`CAPTCHETAT_TYPES`], in table order.
fn report_kinds() -> Vec<ReportKind> {
    let mut kinds: Vec<ReportKind> = Vec::new();
    for name in CAPTCHETAT_TYPES {
        let (spec, _) = captchetat_spec(name).expect("every listed type maps to a spec");
        if !kinds.iter().any(|k| k.spec == spec) {
            let stem = name.strip_suffix("FR").or_else(|| name.strip_suffix("EN")).unwrap_or(name);
            kinds.push(ReportKind { name: stem.to_owned(), spec });
        }
    }
    kinds
}

/// What one pass over one kind scored.
#[derive(Debug, Clone, Copy, Default)]
struct Score {
    exact: usize,
    chars_right: usize,
    chars: usize,
}

impl Score {
    fn exact_pct(&self, n: usize) -> f64 {
        100.0 * self.exact as f64 / n.max(1) as f64
    }

    fn chars_pct(&self) -> f64 {
        100.0 * self.chars_right as f64 / self.chars.max(1) as f64
    }
}

/// Renders the challenges, reads them with Tesseract and prints the report.
pub fn run(args: &OcrArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    if let Some(path) = &args.sheet {
        write_sheet(path, &mut StdRng::from_os_rng())?;
        if !args.json {
            println!("sample sheet written to {}", path.display());
        }
    }
    if args.per_kind == 0 {
        return Ok(());
    }
    let version = tesseract_version(&args.tesseract)?;
    let dir = match &args.keep {
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            dir.clone()
        }
        None => {
            let dir = std::env::temp_dir().join(format!("oculto-ocr-{}", std::process::id()));
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            dir
        }
    };
    let result = report(args, &dir, &version, started);
    if args.keep.is_none() {
        // Best effort: a leftover temporary folder is not worth failing over.
        let _ = std::fs::remove_dir_all(&dir);
    }
    result
}

/// The report proper, with its images in `dir`.
fn report(args: &OcrArgs, dir: &Path, version: &str, started: Instant) -> anyhow::Result<()> {
    let kinds = report_kinds();
    let jobs = args.jobs.max(1);

    // Render every kind's images, `jobs` kinds at a time.
    let answers: Vec<Mutex<Vec<String>>> = kinds.iter().map(|_| Mutex::new(Vec::new())).collect();
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| -> anyhow::Result<()> {
        let workers: Vec<_> = (0..jobs)
            .map(|_| {
                scope.spawn(|| -> anyhow::Result<()> {
                    let mut rng = StdRng::from_os_rng();
                    while let Some(kind) = kinds.get(next.fetch_add(1, Ordering::Relaxed)) {
                        let i = kinds.iter().position(|k| k.name == kind.name).expect("kind is listed");
                        let texts = render_kind(dir, kind, args.per_kind, &mut rng)?;
                        *answers[i].lock().expect("no worker panics holding it") = texts;
                    }
                    Ok(())
                })
            })
            .collect();
        workers.into_iter().try_for_each(|w| w.join().expect("render worker panicked"))
    })?;
    let answers: Vec<Vec<String>> = answers.into_iter().map(|a| a.into_inner().expect("no poison")).collect();
    let rendered = started.elapsed();

    // Read them: one task per (kind, pass, batch of images).
    let mut tasks = Vec::new();
    for (k, kind) in kinds.iter().enumerate() {
        for pass in PASSES {
            for start in (0..args.per_kind).step_by(BATCH) {
                tasks.push((k, pass, start..(start + BATCH).min(args.per_kind), kind.spec.kind.alphabet()));
            }
        }
    }
    let readings: Mutex<Vec<Reading>> = Mutex::new(Vec::new());
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| -> anyhow::Result<()> {
        let workers: Vec<_> = (0..jobs)
            .map(|_| {
                scope.spawn(|| -> anyhow::Result<()> {
                    while let Some((k, pass, range, alphabet)) = tasks.get(next.fetch_add(1, Ordering::Relaxed)) {
                        let paths: Vec<PathBuf> =
                            range.clone().map(|i| image_path(dir, &kinds[*k].name, i, pass.prep)).collect();
                        let list = dir.join(format!(
                            "{}-{}-psm{}-{}.txt",
                            kinds[*k].name,
                            pass.prep.name(),
                            pass.psm,
                            range.start
                        ));
                        let texts = tesseract(&args.tesseract, &list, &paths, pass.psm, alphabet)?;
                        let mut readings = readings.lock().expect("no worker panics holding it");
                        readings.extend(range.clone().zip(texts).map(|(image, text)| Reading {
                            kind: *k,
                            pass: *pass,
                            image,
                            text,
                        }));
                    }
                    Ok(())
                })
            })
            .collect();
        workers.into_iter().try_for_each(|w| w.join().expect("tesseract worker panicked"))
    })?;
    let readings = readings.into_inner().expect("no poison");

    let mut scores = vec![[Score::default(); PASSES.len()]; kinds.len()];
    let mut log = String::new();
    let mut crashed = 0;
    for Reading { kind: k, pass, image: i, text } in &readings {
        let truth = &answers[*k][*i];
        crashed += usize::from(text.is_none());
        let read = normalize(kinds[*k].spec.kind, text.as_deref().unwrap_or(""));
        let score = &mut scores[*k][PASSES.iter().position(|p| p == pass).expect("listed pass")];
        score.exact += usize::from(read == *truth);
        score.chars += truth.chars().count();
        score.chars_right += truth.chars().count().saturating_sub(edit_distance(&read, truth));
        log.push_str(&format!("{}\t{}\t{i}\t{truth}\t{read}\n", kinds[*k].name, pass.name()));
    }
    if args.keep.is_some() {
        std::fs::write(dir.join("readings.tsv"), log).context("writing readings.tsv")?;
    }
    let summary = Summary {
        version: version.to_owned(),
        crashed,
        rendered: rendered.as_secs_f64(),
        seconds: started.elapsed().as_secs_f64(),
    };
    if args.json {
        print_json(args.per_kind, &kinds, &scores, &summary);
    } else {
        print_table(args.per_kind, &kinds, &scores, &summary);
    }
    Ok(())
}

/// What Tesseract read in one image, in one pass.
struct Reading {
    /// Index in the report's kinds.
    kind: usize,
    pass: Pass,
    /// Index of the image in its kind.
    image: usize,
    /// `None` where Tesseract crashed.
    text: Option<String>,
}

/// What the report says besides the scores.
struct Summary {
    /// Tesseract's version.
    version: String,
    /// Readings lost to Tesseract crashing, counted as not solved.
    crashed: usize,
    /// Seconds spent rendering, and on the whole report.
    rendered: f64,
    seconds: f64,
}

/// The pass with the most exact solves (then the best characters) for one kind.
fn best(scores: &[Score; PASSES.len()]) -> (Pass, Score) {
    let i = (0..PASSES.len())
        .max_by(|&a, &b| {
            (scores[a].exact, scores[a].chars_right).cmp(&(scores[b].exact, scores[b].chars_right)).then(b.cmp(&a))
        })
        .expect("at least one pass");
    (PASSES[i], scores[i])
}

/// A short description of a spec: `alphanumeric 6-9 light`.
fn describe(spec: Spec) -> String {
    let kind = format!("{:?}", spec.kind).to_lowercase();
    let len = if spec.min_len == spec.max_len {
        spec.min_len.to_string()
    } else {
        format!("{}-{}", spec.min_len, spec.max_len)
    };
    format!("{kind} {len}{}", if spec.light { " light" } else { "" })
}

fn print_table(n: usize, kinds: &[ReportKind], scores: &[[Score; PASSES.len()]], summary: &Summary) {
    println!("Tesseract {}, {n} challenges per kind, the kind's alphabet as whitelist", summary.version);
    println!(
        "each pass: exact solves % (as the server compares) / per-character accuracy % (1 - edit distance / length)"
    );
    println!();
    print!("{:<32} {:<25} {:>5}", "kind", "spec", "n");
    for pass in PASSES {
        print!("  {:>13}", pass.name());
    }
    println!("  {:>10}", "best exact");
    for (kind, score) in kinds.iter().zip(scores) {
        print!("{:<32} {:<25} {:>5}", kind.name, describe(kind.spec), n);
        for s in score {
            print!("  {:>13}", format!("{:.1}/{:.1}", s.exact_pct(n), s.chars_pct()));
        }
        let (pass, top) = best(score);
        println!("  {:>9.1}% ({})", top.exact_pct(n), pass.name());
    }
    println!();
    if summary.crashed > 0 {
        println!("Tesseract crashed on {} readings, counted as not solved", summary.crashed);
    }
    println!("rendered in {:.1} s, whole report {:.1} s", summary.rendered, summary.seconds);
}

fn print_json(n: usize, kinds: &[ReportKind], scores: &[[Score; PASSES.len()]], summary: &Summary) {
    let pct = |x: f64| (x * 100.0).round() / 100.0;
    let kinds: Vec<serde_json::Value> = kinds
        .iter()
        .zip(scores)
        .map(|(kind, score)| {
            let passes: serde_json::Map<String, serde_json::Value> = PASSES
                .iter()
                .zip(score)
                .map(|(pass, s)| {
                    let value = serde_json::json!({"exact_pct": pct(s.exact_pct(n)), "chars_pct": pct(s.chars_pct())});
                    (pass.name(), value)
                })
                .collect();
            let (pass, top) = best(score);
            serde_json::json!({
                "kind": kind.name,
                "spec": describe(kind.spec),
                "n": n,
                "passes": passes,
                "best": {"pass": pass.name(), "exact_pct": pct(top.exact_pct(n)), "chars_pct": pct(top.chars_pct())},
            })
        })
        .collect();
    let report = serde_json::json!({
        "tesseract": summary.version,
        "per_kind": n,
        "chars_metric": "1 - edit distance / answer length, floored at 0 per image",
        "crashed_readings": summary.crashed,
        "render_seconds": pct(summary.rendered),
        "seconds": pct(summary.seconds),
        "kinds": kinds,
    });
    println!("{report}");
}

/// Where image `i` of `kind` lives, cleaned up by `prep`.
fn image_path(dir: &Path, kind: &str, i: usize, prep: Prep) -> PathBuf {
    dir.join(kind).join(format!("{i:04}-{}.png", prep.name()))
}

/// Renders `n` challenges of `kind` into `dir/<kind>/`, each in every pass's
/// clean-up, and returns their answers.
fn render_kind(dir: &Path, kind: &ReportKind, n: usize, rng: &mut StdRng) -> anyhow::Result<Vec<String>> {
    std::fs::create_dir_all(dir.join(&kind.name)).context("creating the image folder")?;
    let mut texts = Vec::with_capacity(n);
    for i in 0..n {
        let text = answer(kind.spec, rng);
        let png = render(&text, kind.spec.light, rng);
        let raw = image_path(dir, &kind.name, i, Prep::Raw);
        std::fs::write(&raw, &png).with_context(|| format!("writing {}", raw.display()))?;
        let grey = image::load_from_memory_with_format(&png, image::ImageFormat::Png)?.to_luma8();
        save_grey(&otsu(&grey), &image_path(dir, &kind.name, i, Prep::Otsu))?;
        texts.push(text);
    }
    Ok(texts)
}

/// The attacker's clean-up: 2x, median 3x3, Otsu's threshold; black on white.
fn otsu(grey: &GrayImage) -> GrayImage {
    let big = image::imageops::resize(grey, 2 * grey.width(), 2 * grey.height(), image::imageops::FilterType::Triangle);
    let smooth = imageproc::filter::median_filter(&big, 1, 1);
    threshold(&smooth, otsu_level(&smooth), ThresholdType::Binary)
}

/// Writes a grey image as a PNG, compressed lightly: the report writes
/// thousands, and Tesseract reads them once.
fn save_grey(img: &GrayImage, path: &Path) -> anyhow::Result<()> {
    let file =
        std::io::BufWriter::new(std::fs::File::create(path).with_context(|| format!("writing {}", path.display()))?);
    PngEncoder::new_with_quality(file, CompressionType::Fast, FilterType::Up).write_image(
        img.as_raw(),
        img.width(),
        img.height(),
        ExtendedColorType::L8,
    )?;
    Ok(())
}

/// `tesseract --version`'s first line, or the error that says how to get it.
fn tesseract_version(bin: &Path) -> anyhow::Result<String> {
    let output = Command::new(bin).arg("--version").stderr(Stdio::null()).output();
    match output {
        Ok(out) if out.status.success() => {
            let text = String::from_utf8_lossy(&out.stdout);
            Ok(text.lines().next().unwrap_or("").trim_start_matches("tesseract ").to_owned())
        }
        _ => bail!(
            "cannot run `{}`: install tesseract-ocr (Debian: `scripts/deps.sh ocr` or `apt-get install tesseract-ocr`)",
            bin.display()
        ),
    }
}

/// Reads `paths` with one Tesseract process in mode `psm`, through the list
/// file `list`, and returns one text per image: `None` where Tesseract
/// crashed.
fn tesseract(
    bin: &Path,
    list: &Path,
    paths: &[PathBuf],
    psm: u8,
    alphabet: &str,
) -> anyhow::Result<Vec<Option<String>>> {
    let mut file = std::fs::File::create(list).with_context(|| format!("writing {}", list.display()))?;
    for path in paths {
        writeln!(file, "{}", path.display())?;
    }
    drop(file);
    let output = Command::new(bin)
        .arg(list)
        .arg("stdout")
        .args(["-l", "eng", "--psm", &psm.to_string(), "-c"])
        .arg(format!("tessedit_char_whitelist={alphabet}"))
        // TSV, not text: its rows carry the page number, and the text output
        // leaves out the form feed after some empty pages.
        .arg("tsv")
        // One thread per process: the report runs processes side by side.
        .env("OMP_THREAD_LIMIT", "1")
        .stderr(Stdio::piped())
        .output()
        .with_context(|| format!("running {}", bin.display()))?;
    if output.status.success() {
        let pages = pages(&String::from_utf8_lossy(&output.stdout), paths.len())
            .with_context(|| format!("reading tesseract's output for {}", list.display()))?;
        return Ok(pages.into_iter().map(Some).collect());
    }
    // Tesseract 5.3 dies of a floating point exception on the odd image. Read
    // the list in halves, so that only the images it cannot read are lost.
    if paths.len() == 1 {
        return Ok(vec![None]);
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    if stderr.contains("Error") || stderr.contains("error") {
        bail!("tesseract failed on {}: {}", list.display(), stderr.trim());
    }
    let (left, right) = paths.split_at(paths.len() / 2);
    let mut texts = tesseract(bin, list, left, psm, alphabet)?;
    texts.extend(tesseract(bin, list, right, psm, alphabet)?);
    Ok(texts)
}

/// The text of each of `n` pages in Tesseract's TSV output: its words (level
/// 5 rows) joined in order, without spaces.
fn pages(tsv: &str, n: usize) -> anyhow::Result<Vec<String>> {
    let mut pages = vec![String::new(); n];
    let mut seen = 0;
    for line in tsv.lines().skip(1) {
        let fields: Vec<&str> = line.split('\t').collect();
        let (Some(level), Some(page)) = (fields.first(), fields.get(1).and_then(|p| p.parse::<usize>().ok())) else {
            continue;
        };
        let Some(text) = page.checked_sub(1).and_then(|p| pages.get_mut(p)) else {
            bail!("page {page} of {n}");
        };
        match *level {
            "1" => seen += 1,
            "5" => text.push_str(fields.get(11).map_or("", |t| t.trim())),
            _ => {}
        }
    }
    if seen != n {
        bail!("{seen} pages for {n} images");
    }
    Ok(pages)
}

/// The Levenshtein distance between `a` and `b`, in characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let next = (row[j + 1] + 1).min(row[j] + 1).min(diagonal + usize::from(ca != cb));
            diagonal = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

/// Columns of the sample sheet: challenges per kind.
const SHEET_COLUMNS: u32 = 4;
/// Space around and between the sheet's images, in pixels.
const GAP: u32 = 10;
/// Height of a line of the sheet's own text (kind names, answers).
const LINE: u32 = 20;

/// Writes a sample sheet to `path`: for each report kind, its name and four
/// fresh challenges with their answers printed below them.
pub fn write_sheet(path: &Path, rng: &mut StdRng) -> anyhow::Result<()> {
    let kinds = report_kinds();
    let row = LINE + HEIGHT + LINE + GAP;
    let width = SHEET_COLUMNS * (WIDTH + GAP) + GAP;
    let height = GAP + kinds.len() as u32 * row;
    let mut sheet = RgbImage::from_pixel(width, height, Rgb([255, 255, 255]));
    for (r, kind) in kinds.iter().enumerate() {
        let top = GAP + r as u32 * row;
        let title = format!("{} ({})", kind.name, describe(kind.spec));
        draw_label(&mut sheet, &title, GAP, top + LINE - 5, Rgb([90, 90, 90]));
        for c in 0..SHEET_COLUMNS {
            let text = answer(kind.spec, rng);
            let challenge = image::load_from_memory(&render(&text, kind.spec.light, rng))?.to_rgb8();
            let left = GAP + c * (WIDTH + GAP);
            image::imageops::replace(&mut sheet, &challenge, i64::from(left), i64::from(top + LINE));
            draw_label(&mut sheet, &text, left, top + LINE + HEIGHT + LINE - 4, Rgb([0, 0, 0]));
        }
    }
    let file = std::fs::File::create(path).with_context(|| format!("writing {}", path.display()))?;
    PngEncoder::new_with_quality(std::io::BufWriter::new(file), CompressionType::Best, FilterType::Adaptive)
        .write_image(sheet.as_raw(), sheet.width(), sheet.height(), ExtendedColorType::Rgb8)?;
    Ok(())
}

/// Draws `text` plainly, 15 px high, its baseline at `baseline`.
fn draw_label(img: &mut RgbImage, text: &str, left: u32, baseline: u32, ink: Rgb<u8>) {
    let font = FONT.as_scaled(PxScale::from(15.0));
    let mut x = left as f32;
    for c in text.chars() {
        let glyph = font.scaled_glyph(c);
        let advance = font.h_advance(glyph.id);
        let glyph = ab_glyph::Glyph { position: ab_glyph::point(x, baseline as f32), ..glyph };
        if let Some(outline) = FONT.outline_glyph(glyph) {
            let bounds = outline.px_bounds();
            outline.draw(|gx, gy, coverage| {
                let (px, py) = (bounds.min.x as i64 + i64::from(gx), bounds.min.y as i64 + i64::from(gy));
                if let (Ok(px), Ok(py)) = (u32::try_from(px), u32::try_from(py)) {
                    if px < img.width() && py < img.height() {
                        let pixel = img.get_pixel_mut(px, py);
                        let blend = |a: u8, b: u8| (f32::from(a) + (f32::from(b) - f32::from(a)) * coverage) as u8;
                        *pixel = Rgb(std::array::from_fn(|i| blend(pixel.0[i], ink.0[i])));
                    }
                }
            });
        }
        x += advance;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_kinds_are_the_distinct_specs() {
        let kinds = report_kinds();
        assert_eq!(kinds.len(), 8);
        assert_eq!(kinds[0].name, "captcha");
        for name in CAPTCHETAT_TYPES {
            let (spec, _) = captchetat_spec(name).unwrap();
            assert_eq!(kinds.iter().filter(|k| k.spec == spec).count(), 1, "{name}");
        }
    }

    #[test]
    fn edit_distance_counts_characters() {
        assert_eq!(edit_distance("", ""), 0);
        assert_eq!(edit_distance("ABC", "ABC"), 0);
        assert_eq!(edit_distance("ABC", ""), 3);
        assert_eq!(edit_distance("AC", "ABC"), 1);
        assert_eq!(edit_distance("ABXC", "ABC"), 1);
        assert_eq!(edit_distance("ACB", "ABC"), 2);
        assert_eq!(edit_distance("K7HX", "X7HK"), 2);
    }

    #[test]
    fn best_prefers_exact_solves_then_characters() {
        let s = |exact, chars_right| Score { exact, chars_right, chars: 100 };
        assert_eq!(best(&[s(1, 10), s(2, 5), s(0, 0), s(0, 0)]).0, PASSES[1]);
        assert_eq!(best(&[s(2, 10), s(2, 5), s(0, 0), s(2, 10)]).0, PASSES[0]);
        assert_eq!(best(&[s(0, 0), s(0, 0), s(0, 1), s(0, 0)]).0, PASSES[2]);
    }

    #[test]
    fn pages_joins_each_pages_words() {
        let tsv = "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext\n\
                   1\t1\t0\t0\t0\t0\t0\t0\t240\t80\t-1\t\n\
                   5\t1\t1\t1\t1\t1\t4\t11\t177\t67\t0.0\tAB\n\
                   5\t1\t1\t1\t1\t2\t211\t32\t16\t39\t2.1\tC\n\
                   1\t2\t0\t0\t0\t0\t0\t0\t240\t80\t-1\t\n\
                   1\t3\t0\t0\t0\t0\t0\t0\t240\t80\t-1\t\n\
                   5\t3\t1\t1\t1\t1\t0\t7\t233\t73\t0.0\t7K\n";
        assert_eq!(pages(tsv, 3).unwrap(), ["ABC", "", "7K"]);
        assert!(pages(tsv, 4).is_err());
        assert!(pages(tsv, 2).is_err());
    }

    #[test]
    fn a_missing_tesseract_says_what_to_install() {
        let err = tesseract_version(Path::new("/nonexistent/tesseract")).unwrap_err();
        assert!(err.to_string().contains("install tesseract-ocr"), "{err}");
    }

    /// Regenerates `docs/challenge-samples.png`, the sample sheet the README
    /// points to (`cargo test --release -p oculto-verifier sample_sheet -- --ignored`).
    #[test]
    #[ignore = "writes docs/challenge-samples.png"]
    fn sample_sheet() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/challenge-samples.png");
        write_sheet(&path, &mut StdRng::from_os_rng()).unwrap();
    }

    /// A short report on a few images, when Tesseract is installed
    /// (`cargo test --release -p oculto-verifier ocr_report -- --ignored --nocapture`;
    /// `OCR_N` sets the images per kind).
    #[test]
    #[ignore = "needs tesseract and takes a while"]
    fn ocr_report() {
        let per_kind = std::env::var("OCR_N").ok().and_then(|n| n.parse().ok()).unwrap_or(20);
        let keep = std::env::var_os("OCR_KEEP").map(PathBuf::from);
        let args = OcrArgs { per_kind, json: false, keep, sheet: None, jobs: 2, tesseract: "tesseract".into() };
        run(&args).unwrap();
    }
}
