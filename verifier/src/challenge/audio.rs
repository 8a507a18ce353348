//! The audio challenge: an answer spoken in French or English, as a WAV file
//! that the widget plays for people who cannot read the image.
//!
//! The voices are clips recorded offline by `scripts/make-audio-clips.sh`:
//! every character of the alphabets said by eSpeak NG, in two voices per
//! language, stored as 8-bit mu-law in `verifier/assets/audio/` (see its
//! README for how and under which licence). They are decoded once, and
//! [`render`] mixes them at request time in layers, each drawn with fresh
//! randomness:
//!
//! 1. the speech: after a lead-in, each character is said by a voice picked
//!    at random, resampled by a random factor (faster and higher, or slower
//!    and lower), at a random gain, with a random gap before the next one;
//! 2. babble: a few streams of other clips of the same language, most of them
//!    reversed, resampled further and quieter than the speech, run under the
//!    whole track, so a recognizer hears letters and letter-like sounds
//!    everywhere, in the gaps too, while a person follows the louder voice;
//! 3. noise: low-passed white noise whose level drifts slowly.
//!
//! The characters stand about 10 dB above babble and noise together, rarely
//! less than 7 (the `measure_audio` test prints the figures). The sum is
//! normalized and written as 8-bit PCM WAV at [`SAMPLE_RATE`], which
//! `<audio>` and `decodeAudioData` play in every browser.

use std::ops::RangeInclusive;
use std::sync::LazyLock;

use rand::Rng;

use super::Lang;

/// The media type of what [`render`] returns.
pub const CONTENT_TYPE: &str = "audio/wav";

/// Samples per second of the clips and of the WAV files.
pub const SAMPLE_RATE: u32 = 11_025;

/// Background alone before the first character and after the last, in ms.
const LEAD_IN_MS: RangeInclusive<u32> = 500..=900;
const TAIL_MS: RangeInclusive<u32> = 300..=600;
/// Silence (but for the background) between two characters, in ms.
const GAP_MS: RangeInclusive<u32> = 250..=700;
/// How much faster (and higher) than recorded a character is said.
const SPEED: RangeInclusive<f32> = 0.85..=1.15;
/// A character's gain, relative to the others.
const GAIN: RangeInclusive<f32> = 0.8..=1.1;

/// Babble streams, and each one's level below the speech, in dB.
const BABBLE_STREAMS: usize = 3;
const BABBLE_DB: RangeInclusive<f32> = 12.0..=16.0;
/// The speed of babble clips, how often they are reversed and the pause
/// after each (so that streams thin out now and then), in ms.
const BABBLE_SPEED: RangeInclusive<f32> = 0.75..=1.3;
const BABBLE_REVERSED: f64 = 0.7;
const BABBLE_PAUSE_MS: u32 = 200;
/// The noise's level below the speech, in dB, and how far it drifts.
const NOISE_DB: RangeInclusive<f32> = 22.0..=26.0;
const NOISE_DRIFT: f32 = 0.35;

/// Root mean square that every clip is scaled to once decoded.
const CLIP_RMS: f32 = 0.2;
/// Peak of the final mix, as a fraction of full scale.
const PEAK: f32 = 0.95;

const EN_INDEX: &str = include_str!("../../assets/audio/en.index");
const FR_INDEX: &str = include_str!("../../assets/audio/fr.index");
static EN: LazyLock<Bank> = LazyLock::new(|| Bank::parse(EN_INDEX, include_bytes!("../../assets/audio/en.ulaw")));
static FR: LazyLock<Bank> = LazyLock::new(|| Bank::parse(FR_INDEX, include_bytes!("../../assets/audio/fr.ulaw")));

/// The clips of one language.
struct Bank {
    clips: Vec<Clip>,
}

/// One character said by one voice.
struct Clip {
    ch: char,
    samples: Vec<f32>,
}

impl Bank {
    /// Decodes the clips that `index` lists (`<voice> <char> <offset> <length>`
    /// per line, `#` comments) from `ulaw`, each scaled to [`CLIP_RMS`].
    fn parse(index: &str, ulaw: &[u8]) -> Bank {
        let clips = index
            .lines()
            .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
            .map(|line| {
                let fields: Vec<&str> = line.split_whitespace().collect();
                let [_voice, ch, offset, len] = fields[..] else { panic!("bad clip index line: {line}") };
                let mut ch = ch.chars();
                let (Some(ch), None) = (ch.next(), ch.next()) else { panic!("bad clip character: {line}") };
                let (offset, len): (usize, usize) = (offset.parse().unwrap(), len.parse().unwrap());
                let mut samples: Vec<f32> = ulaw[offset..offset + len].iter().map(|&b| mu_law(b)).collect();
                let rms = (samples.iter().map(|s| s * s).sum::<f32>() / len.max(1) as f32).sqrt();
                samples.iter_mut().for_each(|s| *s *= CLIP_RMS / rms.max(1e-6));
                Clip { ch, samples }
            })
            .collect();
        Bank { clips }
    }

    /// A random voice's clip of `ch`, if there is one.
    fn pick(&self, ch: char, rng: &mut impl Rng) -> Option<&[f32]> {
        let count = self.clips.iter().filter(|clip| clip.ch == ch).count();
        if count == 0 {
            return None;
        }
        let nth = rng.random_range(0..count);
        self.clips.iter().filter(|clip| clip.ch == ch).nth(nth).map(|clip| &clip.samples[..])
    }
}

fn bank(lang: Lang) -> &'static Bank {
    match lang {
        Lang::En => &EN,
        Lang::Fr => &FR,
    }
}

/// One G.711 mu-law byte as a sample in -1..1.
fn mu_law(byte: u8) -> f32 {
    let byte = !byte;
    let exponent = (byte >> 4) & 7;
    let magnitude = (((i32::from(byte & 0x0f) << 3) + 0x84) << exponent) - 0x84;
    let sample = if byte & 0x80 != 0 { -magnitude } else { magnitude };
    sample as f32 / 32768.0
}

/// The three layers of a challenge, kept apart so that tests can weigh them.
struct Tracks {
    speech: Vec<f32>,
    babble: Vec<f32>,
    noise: Vec<f32>,
}

/// `answer` spoken in `lang` as a WAV file: mono, 8-bit PCM at
/// [`SAMPLE_RATE`]. Lower-case letters are said as upper-case ones;
/// characters without a clip are skipped.
pub fn render(answer: &str, lang: Lang, rng: &mut impl Rng) -> Vec<u8> {
    let Tracks { speech, babble, noise } = mix(answer, bank(lang), rng);
    let mixed: Vec<f32> = speech.iter().zip(&babble).zip(&noise).map(|((s, b), n)| s + b + n).collect();
    let peak = mixed.iter().fold(0.0f32, |peak, s| peak.max(s.abs()));
    let scale = if peak > 0.0 { PEAK / peak } else { 0.0 };
    // `as u8` saturates and truncates: adding 128.5 rounds to the nearest.
    wav(mixed.iter().map(|s| (128.5 + s * scale * 127.0) as u8))
}

/// Lays out the speech of `answer` and fills the background under it.
fn mix(answer: &str, bank: &Bank, rng: &mut impl Rng) -> Tracks {
    let clips: Vec<&[f32]> = answer.chars().filter_map(|c| bank.pick(c.to_ascii_uppercase(), rng)).collect();
    let mut placed = Vec::with_capacity(clips.len());
    let mut at = samples(rng.random_range(LEAD_IN_MS));
    for (i, clip) in clips.into_iter().enumerate() {
        if i > 0 {
            at += samples(rng.random_range(GAP_MS));
        }
        let speed = rng.random_range(SPEED);
        placed.push((at, clip, speed, rng.random_range(GAIN)));
        at += stretched_len(clip.len(), speed);
    }
    let len = at + samples(rng.random_range(TAIL_MS));

    let mut speech = vec![0.0; len];
    for (at, clip, speed, gain) in placed {
        add(&mut speech, at as isize, clip, speed, gain, false);
    }

    let mut babble = vec![0.0; len];
    for _ in 0..BABBLE_STREAMS {
        let level = db(-rng.random_range(BABBLE_DB));
        // Start inside a clip, so that streams do not all begin together.
        let mut at = -(samples(rng.random_range(0..=400)) as isize);
        while at < len as isize {
            let clip = &bank.clips[rng.random_range(0..bank.clips.len())].samples;
            let gain = level * rng.random_range(0.7..=1.2);
            let reversed = rng.random_bool(BABBLE_REVERSED);
            at += add(&mut babble, at, clip, rng.random_range(BABBLE_SPEED), gain, reversed).max(1) as isize;
            at += samples(rng.random_range(0..=BABBLE_PAUSE_MS)) as isize;
        }
    }

    Tracks { speech, babble, noise: noise(len, rng) }
}

/// Low-passed white noise at [`NOISE_DB`] below the speech, its level
/// drifting by up to [`NOISE_DRIFT`] along a slow sine.
fn noise(len: usize, rng: &mut impl Rng) -> Vec<f32> {
    // One-pole low-pass y = (1 - a) y + a x; uniform noise in -1..1 has a
    // variance of 1/3, and the filter keeps a / (2 - a) of it.
    let a = rng.random_range(0.25..=0.7f32);
    let level = CLIP_RMS * db(-rng.random_range(NOISE_DB)) / (a / (2.0 - a) / 3.0).sqrt();
    let (hz, phase) = (rng.random_range(0.2..=0.6f32), rng.random_range(0.0..std::f32::consts::TAU));
    // xorshift64 seeded from `rng`: a CSPRNG call per sample would be a good
    // part of the whole mix's time, and 64 unknown bits hide a noise bed well.
    let mut state = rng.random::<u64>() | 1;
    let mut y = 0.0;
    let mut noise = vec![0.0; len];
    // The drift is worked out once per block: sin() per sample is slow.
    for (block, samples) in noise.chunks_mut(64).enumerate() {
        let t = (block * 64) as f32 / SAMPLE_RATE as f32;
        let gain = level * (1.0 + NOISE_DRIFT * (std::f32::consts::TAU * hz * t + phase).sin());
        for sample in samples {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let white = (state >> 40) as f32 / (1u64 << 23) as f32 - 1.0;
            y = (1.0 - a) * y + a * white;
            *sample = y * gain;
        }
    }
    noise
}

/// Adds `clip`, played `speed` times as fast and backwards if `reversed`,
/// times `gain`, to `out` from sample `at` (which may be before the start);
/// what falls outside `out` is dropped. Returns the length of the clip so
/// played.
fn add(out: &mut [f32], at: isize, clip: &[f32], speed: f32, gain: f32, reversed: bool) -> usize {
    let len = stretched_len(clip.len(), speed);
    // Linear interpolation between the two nearest recorded samples, the
    // position kept in 16.16 fixed point: this loop is most of the mix's time.
    let step = (speed * 65536.0) as usize;
    let first = (-at).max(0) as usize;
    // Stop where the next recorded sample would be past the clip's end.
    let last = (clip.len().saturating_sub(1) << 16).saturating_sub(1) / step.max(1);
    let end = (out.len() as isize - at).clamp(0, len.min(last) as isize) as usize;
    if first >= end {
        return len;
    }
    let out = &mut out[(at + first as isize) as usize..(at + end as isize) as usize];
    let mut pos = first * step;
    if reversed {
        let top = clip.len() - 1;
        for o in out {
            let (j, frac) = (top - (pos >> 16), (pos & 0xffff) as f32 / 65536.0);
            *o += gain * (clip[j] + frac * (clip[j - 1] - clip[j]));
            pos += step;
        }
    } else {
        for o in out {
            let (j, frac) = (pos >> 16, (pos & 0xffff) as f32 / 65536.0);
            *o += gain * (clip[j] + frac * (clip[j + 1] - clip[j]));
            pos += step;
        }
    }
    len
}

/// The length of `len` samples played `speed` times as fast.
fn stretched_len(len: usize, speed: f32) -> usize {
    (len as f32 / speed) as usize
}

/// Samples in `ms` milliseconds.
fn samples(ms: u32) -> usize {
    (u64::from(ms) * u64::from(SAMPLE_RATE) / 1000) as usize
}

/// Decibels as a gain.
fn db(db: f32) -> f32 {
    10f32.powf(db / 20.0)
}

/// A WAV file of 8-bit unsigned PCM samples, mono, at [`SAMPLE_RATE`].
fn wav(samples: impl ExactSizeIterator<Item = u8>) -> Vec<u8> {
    // RIFF chunks have even sizes: pad an odd count with one silent sample.
    let data_len = (samples.len() + 1) & !1;
    let mut out = Vec::with_capacity(44 + data_len);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_len as u32).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes()); // fmt chunk size
    out.extend_from_slice(&1u16.to_le_bytes()); // PCM
    out.extend_from_slice(&1u16.to_le_bytes()); // channels
    out.extend_from_slice(&SAMPLE_RATE.to_le_bytes());
    out.extend_from_slice(&SAMPLE_RATE.to_le_bytes()); // bytes per second
    out.extend_from_slice(&1u16.to_le_bytes()); // bytes per frame
    out.extend_from_slice(&8u16.to_le_bytes()); // bits per sample
    out.extend_from_slice(b"data");
    out.extend_from_slice(&(data_len as u32).to_le_bytes());
    out.extend(samples);
    out.resize(44 + data_len, 128);
    out
}

#[cfg(test)]
mod tests {
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    use super::*;

    /// What a WAV file's header says, once checked against its length.
    struct Header {
        channels: u16,
        rate: u32,
        bits: u16,
        /// The samples, as the `data` chunk holds them.
        data: Vec<u8>,
    }

    /// Parses a canonical 44-byte-header PCM WAV file, checking every size.
    fn parse(wav: &[u8]) -> Header {
        let u16_at = |i: usize| u16::from_le_bytes([wav[i], wav[i + 1]]);
        let u32_at = |i: usize| u32::from_le_bytes([wav[i], wav[i + 1], wav[i + 2], wav[i + 3]]);
        assert!(wav.len() >= 44, "{} bytes", wav.len());
        assert_eq!(&wav[0..4], b"RIFF");
        assert_eq!(u32_at(4) as usize, wav.len() - 8, "RIFF size");
        assert_eq!(&wav[8..16], b"WAVEfmt ");
        assert_eq!(u32_at(16), 16, "fmt size");
        assert_eq!(u16_at(20), 1, "format is PCM");
        let (channels, rate, bits) = (u16_at(22), u32_at(24), u16_at(34));
        let frame = u32::from(channels) * u32::from(bits) / 8;
        assert_eq!(u32_at(28), rate * frame, "byte rate");
        assert_eq!(u32::from(u16_at(32)), frame, "block align");
        assert_eq!(&wav[36..40], b"data");
        let data_len = u32_at(40) as usize;
        assert_eq!(data_len, wav.len() - 44, "data size");
        assert_eq!(data_len % 2, 0, "RIFF chunks have even sizes");
        Header { channels, rate, bits, data: wav[44..].to_vec() }
    }

    fn seconds(header: &Header) -> f32 {
        header.data.len() as f32 / header.rate as f32
    }

    #[test]
    fn audio_is_valid_wav_of_plausible_length() {
        let mut rng = StdRng::seed_from_u64(1);
        for lang in [Lang::En, Lang::Fr] {
            for answer in ["7", "K7HX", "K7HX4MPA", "K7HX4MPAR2W9", "ABCEFGHKLMNPRSTVWXYZ"] {
                let header = parse(&render(answer, lang, &mut rng));
                assert_eq!((header.channels, header.rate, header.bits), (1, SAMPLE_RATE, 8));
                let (n, secs) = (answer.len() as f32, seconds(&header));
                // Lead-in, tail and gaps at their shortest, clips of at least 0.15 s at their fastest.
                let gaps = (LEAD_IN_MS.start() + TAIL_MS.start()) as f32 + (n - 1.0) * *GAP_MS.start() as f32;
                assert!(secs >= gaps / 1000.0 + n * 0.15 / SPEED.end(), "{answer} {lang:?}: {secs} s");
                assert!(secs <= 1.5 + 2.0 * n, "{answer} {lang:?}: {secs} s");
                let peak = header.data.iter().map(|&s| (i32::from(s) - 128).abs()).max().unwrap();
                assert!((115..=121).contains(&peak), "{answer} {lang:?}: normalized peak {peak}");
            }
        }
    }

    #[test]
    fn characters_without_clips_are_skipped() {
        let mut rng = StdRng::seed_from_u64(2);
        for answer in ["", "0O1I?é "] {
            let header = parse(&render(answer, Lang::Fr, &mut rng));
            assert!(seconds(&header) <= 1.5, "{answer:?}: {} s", seconds(&header));
        }
        let lower = parse(&render("k7hx", Lang::En, &mut rng));
        assert!(seconds(&lower) >= 2.0, "lower-case letters are said too");
    }

    #[test]
    fn two_renders_of_one_answer_differ() {
        let mut rng = StdRng::seed_from_u64(3);
        let (a, b) = (render("K7HX4M", Lang::En, &mut rng), render("K7HX4M", Lang::En, &mut rng));
        assert_ne!(a, b);
    }

    #[test]
    fn audio_has_every_character_in_every_voice() {
        for (lang, index) in [(Lang::En, EN_INDEX), (Lang::Fr, FR_INDEX)] {
            let voices: std::collections::BTreeSet<&str> =
                index.lines().filter(|l| !l.starts_with('#')).filter_map(|l| l.split(' ').next()).collect();
            assert!(voices.len() >= 2, "{lang:?}: {voices:?}");
            for alphabet in [super::super::ALPHANUMERIC, super::super::ALPHABETIC, super::super::NUMERIC] {
                for c in alphabet.chars() {
                    let clips: Vec<&Clip> = bank(lang).clips.iter().filter(|clip| clip.ch == c).collect();
                    assert_eq!(clips.len(), voices.len(), "{lang:?} {c}: one clip per voice");
                    for clip in clips {
                        // 0.15 s to 0.8 s: a trimmed letter name, not silence or a sentence.
                        let secs = clip.samples.len() as f32 / SAMPLE_RATE as f32;
                        assert!((0.15..0.8).contains(&secs), "{lang:?} {c}: {secs} s");
                    }
                }
            }
        }
    }

    #[test]
    fn mu_law_decodes_g711() {
        assert_eq!(mu_law(0xff), 0.0);
        assert_eq!(mu_law(0x7f), 0.0);
        assert_eq!(mu_law(0x80), 32124.0 / 32768.0);
        assert_eq!(mu_law(0x00), -32124.0 / 32768.0);
        assert_eq!(mu_law(0xfe), 8.0 / 32768.0);
        assert_eq!(mu_law(0x7e), -8.0 / 32768.0);
    }

    /// The speech's level over the background's, in dB, for each character
    /// (each run of speech): how far the characters stand out.
    fn per_character_db(tracks: &Tracks, background: impl Fn(usize) -> f32) -> Vec<f32> {
        let mut ratios = Vec::new();
        let (mut speech, mut other, mut silent) = (0.0f64, 0.0f64, usize::MAX);
        for (i, &s) in tracks.speech.iter().enumerate() {
            if s != 0.0 {
                speech += f64::from(s * s);
                other += f64::from(background(i).powi(2));
                silent = 0;
            } else if silent < samples(100) {
                silent += 1;
            } else if silent == samples(100) {
                ratios.push(10.0 * (speech / other).log10() as f32);
                (speech, other, silent) = (0.0, 0.0, usize::MAX);
            }
        }
        ratios
    }

    /// The characters stand clear of babble and noise: a guard on how
    /// intelligible the audio stays, since no test can listen to it.
    #[test]
    fn characters_stand_above_the_background() {
        let mut rng = StdRng::seed_from_u64(5);
        let mut ratios = Vec::new();
        for lang in [Lang::En, Lang::Fr] {
            for _ in 0..20 {
                let tracks = mix("K7HX4MPAR2W9", bank(lang), &mut rng);
                let found = per_character_db(&tracks, |i| tracks.babble[i] + tracks.noise[i]);
                assert_eq!(found.len(), 12);
                ratios.extend(found);
            }
        }
        ratios.sort_by(f32::total_cmp);
        let (low, median) = (ratios[ratios.len() / 20], ratios[ratios.len() / 2]);
        assert!(low >= 5.0, "5th percentile {low} dB");
        assert!((7.0..=13.0).contains(&median), "median {median} dB");
    }

    /// Prints how long a render takes, how big it is and how loud the speech
    /// is over the background:
    /// `cargo test --release -p oculto-verifier measure_audio -- --ignored --nocapture`.
    /// With `OCULTO_AUDIO_SAMPLES=<folder>`, also writes a few WAV files there
    /// to listen to.
    #[test]
    #[ignore]
    fn measure_audio() {
        let mut rng = StdRng::seed_from_u64(1);
        let _ = (&*EN, &*FR);
        for lang in [Lang::En, Lang::Fr] {
            for text in ["K7HX4M", "K7HX4MPAR2W9"] {
                let mut times = Vec::new();
                let mut sizes = Vec::new();
                for _ in 0..101 {
                    let start = std::time::Instant::now();
                    let wav = render(text, lang, &mut rng);
                    times.push(start.elapsed());
                    sizes.push(wav.len());
                }
                times.sort();
                sizes.sort();
                let secs = (sizes[50] - 44) as f32 / SAMPLE_RATE as f32;
                println!(
                    "render {text} {lang:?}: median {:?}, median WAV {} bytes ({secs:.1} s)",
                    times[50], sizes[50]
                );
            }
        }
        let (mut babble, mut noise, mut both) = (Vec::new(), Vec::new(), Vec::new());
        for lang in [Lang::En, Lang::Fr] {
            for _ in 0..100 {
                let tracks = mix("K7HX4MPAR2W9", bank(lang), &mut rng);
                babble.extend(per_character_db(&tracks, |i| tracks.babble[i]));
                noise.extend(per_character_db(&tracks, |i| tracks.noise[i]));
                both.extend(per_character_db(&tracks, |i| tracks.babble[i] + tracks.noise[i]));
            }
        }
        for (name, mut ratios) in [("babble", babble), ("noise", noise), ("babble + noise", both)] {
            ratios.sort_by(f32::total_cmp);
            let at = |q: usize| ratios[ratios.len() * q / 100];
            println!(
                "speech over {name} per character: median {:.1} dB, 5%-95% {:.1}..{:.1} dB",
                at(50),
                at(5),
                at(95)
            );
        }
        if let Ok(folder) = std::env::var("OCULTO_AUDIO_SAMPLES") {
            for (lang, name) in [(Lang::En, "en"), (Lang::Fr, "fr")] {
                for i in 0..3 {
                    let text = super::super::answer(
                        super::super::Spec {
                            kind: super::super::Kind::Alphanumeric,
                            min_len: 6,
                            max_len: 9,
                            light: false,
                        },
                        &mut rng,
                    );
                    let path = format!("{folder}/{name}-{i}-{text}.wav");
                    std::fs::write(&path, render(&text, lang, &mut rng)).unwrap();
                    println!("wrote {path}");
                }
            }
        }
    }
}
