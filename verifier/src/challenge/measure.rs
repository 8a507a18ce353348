//! `oculto challenge bench`: how long an image and an audio challenge take to
//! make, and how large they are. A benchmark that prints figures, run by
//! `make bench`; no threshold is asserted here.

use std::time::Instant;

use rand::Rng;
use serde::Serialize;

use super::{answer, audio, captchetat_spec, image, Lang, Spec, CAPTCHETAT_TYPES};

/// What `oculto challenge bench` measures.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Challenges made of each kind.
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub per_kind: u32,
    /// Print one JSON object instead of tables.
    #[arg(long)]
    pub json: bool,
}

/// Figures for one kind.
#[derive(Debug, Serialize)]
pub struct Row {
    /// The CaptchEtat type (without FR/EN) or the audio's language and length.
    pub kind: String,
    /// How many were made.
    pub n: u32,
    /// Median time to make one (answer, render, encode), ms.
    pub median_ms: f64,
    /// 99th percentile time, ms.
    pub p99_ms: f64,
    /// Median size, bytes.
    pub median_bytes: usize,
    /// Largest size, bytes.
    pub max_bytes: usize,
}

/// The whole report.
#[derive(Debug, Serialize)]
pub struct Report {
    /// One row per distinct image spec.
    pub image: Vec<Row>,
    /// Audio of 4-6, 6-9 and 12 characters in each language.
    pub audio: Vec<Row>,
}

fn row(kind: String, mut times: Vec<f64>, mut sizes: Vec<usize>) -> Row {
    times.sort_by(f64::total_cmp);
    sizes.sort_unstable();
    let at = |q: f64| ((times.len() - 1) as f64 * q).round() as usize;
    Row {
        kind,
        n: times.len() as u32,
        median_ms: times[at(0.5)],
        p99_ms: times[at(0.99)],
        median_bytes: sizes[sizes.len() / 2],
        max_bytes: sizes[sizes.len() - 1],
    }
}

/// Times `make` `n` times; each call returns the bytes it made.
fn time<R: Rng>(n: u32, rng: &mut R, mut make: impl FnMut(&mut R) -> usize) -> (Vec<f64>, Vec<usize>) {
    let (mut times, mut sizes) = (Vec::new(), Vec::new());
    for _ in 0..n {
        let start = Instant::now();
        let bytes = make(rng);
        times.push(start.elapsed().as_secs_f64() * 1000.0);
        sizes.push(bytes);
    }
    (times, sizes)
}

/// The distinct specs of the CaptchEtat types, by type name less FR/EN.
pub fn distinct_specs() -> Vec<(String, Spec)> {
    let mut out: Vec<(String, Spec)> = Vec::new();
    for name in CAPTCHETAT_TYPES {
        let Some((spec, _)) = captchetat_spec(name) else { continue };
        let stem = name.trim_end_matches("FR").trim_end_matches("EN").to_owned();
        if !out.iter().any(|(s, _)| *s == stem) {
            out.push((stem, spec));
        }
    }
    out
}

/// Measures every kind.
pub fn measure(per_kind: u32) -> Report {
    let mut rng = rand::rng();
    let mut report = Report { image: Vec::new(), audio: Vec::new() };
    // Warm up: the font and the clips are parsed on first use.
    let _ = image::render("WARM", false, &mut rng);
    let _ = audio::render("WARM", Lang::En, &mut rng);
    for (stem, spec) in distinct_specs() {
        let (times, sizes) = time(per_kind, &mut rng, |r| {
            let text = answer(spec, r);
            image::render(&text, spec.light, r).len()
        });
        report.image.push(row(stem, times, sizes));
    }
    for lang in [Lang::En, Lang::Fr] {
        for stem in ["alphanumerique4to6LightCaptcha", "captcha", "alphanumerique12Captcha"] {
            let (spec, _) = captchetat_spec(&format!("{stem}EN")).unwrap_or_else(|| unreachable!("known types"));
            let (times, sizes) = time(per_kind, &mut rng, |r| {
                let text = answer(spec, r);
                audio::render(&text, lang, r).len()
            });
            let name = format!("{lang:?} {}-{} chars", spec.min_len, spec.max_len).to_lowercase();
            report.audio.push(row(name, times, sizes));
        }
    }
    report
}

/// Runs `oculto challenge bench`.
pub fn run(args: &BenchArgs) -> anyhow::Result<()> {
    let report = measure(args.per_kind);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    for (title, rows) in [("image challenges (240x80 PNG)", &report.image), ("audio challenges (WAV)", &report.audio)] {
        println!("{title}");
        println!(
            "  {:<34} {:>6} {:>10} {:>9} {:>12} {:>10}",
            "kind", "n", "median ms", "p99 ms", "median bytes", "max bytes"
        );
        for r in rows {
            println!(
                "  {:<34} {:>6} {:>10.3} {:>9.3} {:>12} {:>10}",
                r.kind, r.n, r.median_ms, r.p99_ms, r.median_bytes, r.max_bytes
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_distinct_spec_is_measured() {
        let specs = distinct_specs();
        assert_eq!(specs.len(), CAPTCHETAT_TYPES.len() / 2, "FR and EN share a spec");
        let report = measure(3);
        assert_eq!(report.image.len(), specs.len());
        assert_eq!(report.audio.len(), 6);
        for r in report.image.iter().chain(&report.audio) {
            assert_eq!(r.n, 3);
            assert!(r.median_bytes > 0 && r.median_bytes <= r.max_bytes, "{r:?}");
            assert!(r.median_ms > 0.0 && r.median_ms <= r.p99_ms, "{r:?}");
        }
    }
}
