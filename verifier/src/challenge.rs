//! Step-up challenges: what the answer is, and how it is shown.
//!
//! # Moving parts
//!
//! - [`Spec`] says what a text challenge looks like: its [`Kind`] (which
//!   alphabet), its length range and whether it is a "light" (easier to read)
//!   variant. [`captchetat_spec`] maps each CaptchEtat type name
//!   ([`CAPTCHETAT_TYPES`]) to a spec and a [`Lang`] for the audio.
//! - [`answer`] draws the answer for a spec from an alphabet without
//!   confusable characters; [`normalize`] folds what a person typed onto that
//!   alphabet before it is compared.
//! - [`math`] draws a small arithmetic question for the generate/validate API.
//! - [`image`] renders an answer as a distorted PNG.
//!
//! Everything here is pure: randomness comes in as an `&mut impl Rng`, and
//! nothing is stored. Keeping the answer away from the browser, expiry and
//! single use are the callers' job.

pub mod audio;
pub mod image;
pub mod measure;
pub mod ocr;

use rand::Rng;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

/// Which characters a text challenge draws from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Digits only ([`NUMERIC`]).
    Numeric,
    /// Upper-case letters only ([`ALPHABETIC`]).
    Alphabetic,
    /// Digits and upper-case letters ([`ALPHANUMERIC`]).
    Alphanumeric,
}

/// The shape of a text challenge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spec {
    /// Which alphabet the answer is drawn from.
    pub kind: Kind,
    /// The shortest answer, inclusive.
    pub min_len: usize,
    /// The longest answer, inclusive.
    pub max_len: usize,
    /// Easier to read: less warp and clutter in the image.
    pub light: bool,
}

/// The language a challenge's audio is spoken in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Lang {
    /// French (`...CaptchaFR`).
    Fr,
    /// English (`...CaptchaEN`).
    En,
}

/// Digits without 0 (O) and 1 (I, l, 7 once rotated).
pub const NUMERIC: &str = "23456789";

/// Upper-case letters without the round ones (O, Q, D), the strokes (I, J)
/// and U (V once warped).
pub const ALPHABETIC: &str = "ABCEFGHKLMNPRSTVWXYZ";

/// [`NUMERIC`] and [`ALPHABETIC`] less the letters that pass for one of those
/// digits: S (5), Z (2), B (8), G (6). [`normalize`] folds them onto the digits.
pub const ALPHANUMERIC: &str = "23456789ACEFHKLMNPRTVWXY";

/// Every CaptchEtat type name that [`captchetat_spec`] knows.
pub const CAPTCHETAT_TYPES: [&str; 16] = [
    "captchaFR",
    "captchaEN",
    "numerique6_7CaptchaFR",
    "numerique6_7CaptchaEN",
    "alphabetique6_7CaptchaFR",
    "alphabetique6_7CaptchaEN",
    "alphanumerique12CaptchaFR",
    "alphanumerique12CaptchaEN",
    "alphabetique12CaptchaFR",
    "alphabetique12CaptchaEN",
    "numerique12CaptchaFR",
    "numerique12CaptchaEN",
    "alphanumerique6to9LightCaptchaFR",
    "alphanumerique6to9LightCaptchaEN",
    "alphanumerique4to6LightCaptchaFR",
    "alphanumerique4to6LightCaptchaEN",
];

impl Kind {
    /// The characters an answer of this kind is drawn from.
    pub fn alphabet(self) -> &'static str {
        match self {
            Kind::Numeric => NUMERIC,
            Kind::Alphabetic => ALPHABETIC,
            Kind::Alphanumeric => ALPHANUMERIC,
        }
    }
}

/// The spec and language of a CaptchEtat type name (`numerique6_7CaptchaFR`),
/// or `None` for a name CaptchEtat does not have.
///
/// `captchaFR` and `captchaEN`, CaptchEtat's default, are alphanumeric, 6 to 9
/// characters, not light.
pub fn captchetat_spec(name: &str) -> Option<(Spec, Lang)> {
    let (stem, lang) =
        if let Some(stem) = name.strip_suffix("FR") { (stem, Lang::Fr) } else { (name.strip_suffix("EN")?, Lang::En) };
    let (kind, min_len, max_len, light) = match stem {
        "captcha" => (Kind::Alphanumeric, 6, 9, false),
        "numerique6_7Captcha" => (Kind::Numeric, 6, 7, false),
        "alphabetique6_7Captcha" => (Kind::Alphabetic, 6, 7, false),
        "alphanumerique12Captcha" => (Kind::Alphanumeric, 12, 12, false),
        "alphabetique12Captcha" => (Kind::Alphabetic, 12, 12, false),
        "numerique12Captcha" => (Kind::Numeric, 12, 12, false),
        "alphanumerique6to9LightCaptcha" => (Kind::Alphanumeric, 6, 9, true),
        "alphanumerique4to6LightCaptcha" => (Kind::Alphanumeric, 4, 6, true),
        _ => return None,
    };
    Some((Spec { kind, min_len, max_len, light }, lang))
}

impl Lang {
    /// `fr` or `en`, as in `?lang=`; anything else is `None`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "fr" | "FR" => Some(Self::Fr),
            "en" | "EN" => Some(Self::En),
            _ => None,
        }
    }
}

/// How an answer is compared with what was typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    /// Characters of a kind, folded by [`normalize`].
    Text(Kind),
    /// A whole number (the math question), leading zeros and spaces allowed.
    Number,
}

impl Check {
    /// Whether `input` is `answer`, compared in constant time.
    pub fn matches(self, answer: &str, input: &str) -> bool {
        if input.len() > 64 {
            return false;
        }
        let given = match self {
            Check::Text(kind) => normalize(kind, input),
            Check::Number => match input.trim().parse::<u32>() {
                Ok(n) => n.to_string(),
                Err(_) => return false,
            },
        };
        bool::from(given.as_bytes().ct_eq(answer.as_bytes()))
    }
}

/// A fresh answer for `spec`: a length in its range, characters from its
/// kind's alphabet.
pub fn answer(spec: Spec, rng: &mut impl Rng) -> String {
    let alphabet = spec.kind.alphabet().as_bytes();
    let len = rng.random_range(spec.min_len..=spec.max_len);
    (0..len).map(|_| char::from(alphabet[rng.random_range(0..alphabet.len())])).collect()
}

/// What a person typed, folded onto `kind`'s alphabet: upper case, no white
/// space, and for kinds with digits the letters we left out mapped to the
/// digit they pass for (S→5, Z→2, B→8, G→6). Compare the result with the
/// answer.
pub fn normalize(kind: Kind, input: &str) -> String {
    input
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| c.to_ascii_uppercase())
        .map(|c| match (kind, c) {
            (Kind::Alphabetic, c) => c,
            (_, 'S') => '5',
            (_, 'Z') => '2',
            (_, 'B') => '8',
            (_, 'G') => '6',
            (_, c) => c,
        })
        .collect()
}

/// A small arithmetic question ("7 + 4 = ?") and its answer, always in
/// 0..=99: an addition of two numbers from 1 to 49, or a subtraction whose
/// result is not negative.
pub fn math(rng: &mut impl Rng) -> (String, u8) {
    if rng.random_bool(0.5) {
        let (a, b) = (rng.random_range(1..=49u8), rng.random_range(1..=49u8));
        (format!("{a} + {b} = ?"), a + b)
    } else {
        let a = rng.random_range(10..=99u8);
        let b = rng.random_range(1..=a.min(49));
        (format!("{a} - {b} = ?"), a - b)
    }
}

#[cfg(test)]
mod tests {
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    use super::*;

    /// Groups that people mix up; at most one member of each may be in an
    /// alphabet.
    const CONFUSABLE: [&str; 8] = ["0OQD", "1IJ7", "5S", "2Z", "8B", "6G", "UV", "9g"];

    #[test]
    fn alphabets_leave_out_confusables() {
        for kind in [Kind::Numeric, Kind::Alphabetic, Kind::Alphanumeric] {
            let alphabet = kind.alphabet();
            for group in CONFUSABLE {
                let present: Vec<char> = group.chars().filter(|c| alphabet.contains(*c)).collect();
                assert!(present.len() <= 1, "{kind:?} holds {present:?} from {group}");
            }
            for c in "0O1Il".chars() {
                assert!(!alphabet.contains(c), "{kind:?} holds {c}");
            }
            assert!(alphabet.chars().all(|c| c.is_ascii_digit() || c.is_ascii_uppercase()));
        }
    }

    #[test]
    fn every_captchetat_type_maps_and_answers_fit_its_spec() {
        let mut rng = StdRng::seed_from_u64(4);
        for name in CAPTCHETAT_TYPES {
            let (spec, lang) = captchetat_spec(name).unwrap_or_else(|| panic!("{name} is not mapped"));
            assert_eq!(lang, if name.ends_with("FR") { Lang::Fr } else { Lang::En });
            assert_eq!(spec.light, name.contains("Light"));
            let mut lengths = std::collections::BTreeSet::new();
            for _ in 0..500 {
                let a = answer(spec, &mut rng);
                assert!((spec.min_len..=spec.max_len).contains(&a.len()), "{name}: {a}");
                assert!(a.chars().all(|c| spec.kind.alphabet().contains(c)), "{name}: {a}");
                lengths.insert(a.len());
            }
            assert_eq!(lengths.len(), spec.max_len - spec.min_len + 1, "{name} misses lengths");
        }
        let (captcha, _) = captchetat_spec("captchaFR").unwrap();
        assert_eq!(captcha, Spec { kind: Kind::Alphanumeric, min_len: 6, max_len: 9, light: false });
        let (light, _) = captchetat_spec("alphanumerique4to6LightCaptchaEN").unwrap();
        assert_eq!(light, Spec { kind: Kind::Alphanumeric, min_len: 4, max_len: 6, light: true });
        let (digits, _) = captchetat_spec("numerique12CaptchaFR").unwrap();
        assert_eq!(digits.kind, Kind::Numeric);
    }

    #[test]
    fn unknown_captchetat_types_are_none() {
        for name in ["", "FR", "captcha", "captchaDE", "CaptchaFR", "captchafr", "numerique6_7CaptchaFRX", "image"] {
            assert_eq!(captchetat_spec(name), None, "{name}");
        }
    }

    #[test]
    fn normalize_folds_input_onto_the_alphabet() {
        assert_eq!(normalize(Kind::Alphanumeric, " s2 zb-g\t"), "5228-6");
        assert_eq!(normalize(Kind::Alphabetic, "sz bg"), "SZBG");
        assert_eq!(normalize(Kind::Numeric, "4 7 9"), "479");
    }

    #[test]
    fn checks_fold_what_people_type() {
        let text = Check::Text(Kind::Alphanumeric);
        assert!(text.matches("5K2P", " s k 2p "));
        assert!(!text.matches("5K2P", "5K2"));
        assert!(!text.matches("5K2P", "5K2PX"));
        assert!(!text.matches("5K2P", &"5".repeat(100)));
        assert!(Check::Number.matches("11", " 011 "));
        assert!(!Check::Number.matches("11", "eleven"));
        assert!(!Check::Number.matches("11", "-11"));
    }

    #[test]
    fn math_answers_are_right_and_in_range() {
        let mut rng = StdRng::seed_from_u64(7);
        for _ in 0..10_000 {
            let (question, answer) = math(&mut rng);
            assert!(answer <= 99, "{question} {answer}");
            let words: Vec<&str> = question.split(' ').collect();
            let [a, op, b, "=", "?"] = words[..] else { panic!("shape: {question}") };
            let (a, b): (i32, i32) = (a.parse().unwrap(), b.parse().unwrap());
            let expected = match op {
                "+" => a + b,
                "-" => a - b,
                _ => panic!("operator: {question}"),
            };
            assert_eq!(i32::from(answer), expected, "{question}");
        }
    }
}
