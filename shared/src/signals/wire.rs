//! The compact JSON layout of the sample lists (layout [`super::VERSION`] 2).
//!
//! A form's worth of pointer samples written as objects
//! (`{"t":1234.5,"k":"move","dx":3.0,"dy":-2.0}`) makes a payload of 10 to
//! 25 KB; most of it is the same keys again and again. Each sample is
//! written as an array instead, with times to 0.1 ms (the resolution
//! browsers give `performance.now()` anyway) and whole pixels without a
//! fraction:
//!
//! - pointer and touch: `[dt, dx, dy]` for a move, `[dt, dx, dy, "d"]` for
//!   anything else (`d` down, `u` up; `s` touch start, `e` touch end), where
//!   `dt` is the time since the previous sample of the list (since 0 for the
//!   first): most are two or three digits.
//! - clicks and keys: `[t, dwell]`; scroll: `[t, y]`; focus and visibility:
//!   `[t, true|false]`.
//!
//! Reading accepts the layout-1 objects too, sample by sample, so a page
//! still running an older widget keeps working.

use std::fmt;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::ser::{SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};

use super::{Click, FocusChange, KeyTiming, PointerKind, PointerSample, ScrollSample, TouchKind, TouchSample};
use super::{VisibilityChange, MAX_TIME_MS};

/// A time to 0.1 ms, in tenths.
fn tenths(t: f64) -> i64 {
    // Out-of-range times are refused by `Signals::validate`; clamping keeps
    // the cast defined until then.
    (t.clamp(-MAX_TIME_MS, 2.0 * MAX_TIME_MS) * 10.0).round() as i64
}

/// A number as short as JSON allows: whole numbers without a fraction
/// (also how the evaluation's trace files write theirs).
#[derive(Clone, Copy)]
pub struct Short(pub f64);

impl Serialize for Short {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.0.fract() == 0.0 && self.0.abs() < 1e15 {
            s.serialize_i64(self.0 as i64)
        } else {
            s.serialize_f64(self.0)
        }
    }
}

/// A pixel distance to 0.01 px.
fn px(v: f32) -> Short {
    Short((f64::from(v) * 100.0).round() / 100.0)
}

/// A time to 0.1 ms.
fn ms(t: f64) -> Short {
    Short(tenths(t) as f64 / 10.0)
}

/// A movement sample, pointer or touch: what the two lists share.
trait Step: Copy {
    fn parts(&self) -> (f64, f32, f32, Option<&'static str>);
    fn from_parts(t: f64, dx: f32, dy: f32, code: Option<&str>) -> Option<Self>;
}

impl Step for PointerSample {
    fn parts(&self) -> (f64, f32, f32, Option<&'static str>) {
        let code = match self.k {
            PointerKind::Move => None,
            PointerKind::Down => Some("d"),
            PointerKind::Up => Some("u"),
        };
        (self.t, self.dx, self.dy, code)
    }

    fn from_parts(t: f64, dx: f32, dy: f32, code: Option<&str>) -> Option<Self> {
        let k = match code {
            None => PointerKind::Move,
            Some("d") => PointerKind::Down,
            Some("u") => PointerKind::Up,
            Some(_) => return None,
        };
        Some(Self { t, k, dx, dy })
    }
}

impl Step for TouchSample {
    fn parts(&self) -> (f64, f32, f32, Option<&'static str>) {
        let code = match self.k {
            TouchKind::Move => None,
            TouchKind::Start => Some("s"),
            TouchKind::End => Some("e"),
        };
        (self.t, self.dx, self.dy, code)
    }

    fn from_parts(t: f64, dx: f32, dy: f32, code: Option<&str>) -> Option<Self> {
        let k = match code {
            None => TouchKind::Move,
            Some("s") => TouchKind::Start,
            Some("e") => TouchKind::End,
            Some(_) => return None,
        };
        Some(Self { t, k, dx, dy })
    }
}

/// One element of a movement list as read: a layout-2 array, or a layout-1
/// object (`Full`).
enum StepIn<Full> {
    Compact(f64, f32, f32, Option<String>),
    Full(Full),
}

impl<'de, Full: Deserialize<'de>> Deserialize<'de> for StepIn<Full> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<Full>(std::marker::PhantomData<Full>);
        impl<'de, Full: Deserialize<'de>> Visitor<'de> for V<Full> {
            type Value = StepIn<Full>;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a sample [dt, dx, dy] or [dt, dx, dy, kind]")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let need = |i| move || de::Error::invalid_length(i, &"a sample [dt, dx, dy] or [dt, dx, dy, kind]");
                let dt = seq.next_element()?.ok_or_else(need(0))?;
                let dx = seq.next_element()?.ok_or_else(need(1))?;
                let dy = seq.next_element()?.ok_or_else(need(2))?;
                let kind = seq.next_element()?;
                if seq.next_element::<de::IgnoredAny>()?.is_some() {
                    return Err(de::Error::invalid_length(5, &"a sample of at most 4 elements"));
                }
                Ok(StepIn::Compact(dt, dx, dy, kind))
            }

            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                Full::deserialize(de::value::MapAccessDeserializer::new(map)).map(StepIn::Full)
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// Writes and reads `Vec<PointerSample>` and `Vec<TouchSample>`.
pub mod steps {
    use super::*;

    /// Writes the samples as `[dt, dx, dy(, kind)]`.
    #[allow(private_bounds)]
    pub fn serialize<T: Step, S: Serializer>(samples: &[T], s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(samples.len()))?;
        let mut prev = 0;
        for sample in samples {
            let (t, dx, dy, code) = sample.parts();
            let now = tenths(t);
            let dt = Short((now - prev) as f64 / 10.0);
            prev = now;
            match code {
                None => seq.serialize_element(&(dt, px(dx), px(dy)))?,
                Some(c) => seq.serialize_element(&(dt, px(dx), px(dy), c))?,
            }
        }
        seq.end()
    }

    /// Reads either layout; a compact sample's time adds to the previous one.
    #[allow(private_bounds)]
    pub fn deserialize<'de, T, D>(d: D) -> Result<Vec<T>, D::Error>
    where
        T: Step + Deserialize<'de>,
        D: Deserializer<'de>,
    {
        struct Steps<T>(std::marker::PhantomData<T>);
        impl<'de, T: Step + Deserialize<'de>> Visitor<'de> for Steps<T> {
            type Value = Vec<T>;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of [dt, dx, dy] samples")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(super::super::MAX_POINTER));
                let mut t = 0.0;
                while let Some(item) = seq.next_element::<StepIn<T>>()? {
                    let (dt, dx, dy, code) = match item {
                        StepIn::Full(full) => {
                            t = full.parts().0;
                            out.push(full);
                            continue;
                        }
                        StepIn::Compact(dt, dx, dy, code) => (dt, dx, dy, code),
                    };
                    // A step back in time is read as written, as layout 1 reads it, and
                    // the scorer counts it as impossible timing.
                    if !dt.is_finite() {
                        return Err(de::Error::custom("a sample's time since the previous one is not a number"));
                    }
                    t += dt;
                    let sample = T::from_parts(t, dx, dy, code.as_deref())
                        .ok_or_else(|| de::Error::custom("unknown sample kind: expected d, u, s or e"))?;
                    out.push(sample);
                }
                Ok(out)
            }
        }
        d.deserialize_seq(Steps(std::marker::PhantomData))
    }
}

/// A sample written as `[t, value]`.
trait Pair: Copy {
    type Value: Serialize + for<'de> Deserialize<'de>;
    fn split(&self) -> (f64, Self::Value);
    fn join(t: f64, v: Self::Value) -> Self;
    /// The value, as short as it is written.
    fn short(v: Self::Value) -> impl Serialize;
}

/// `Pair` for a sample type with a time `t` and one `field` of type `ty`,
/// written short by `short`.
macro_rules! pair {
    ($sample:ty, $field:ident: $ty:ty, $short:expr) => {
        impl Pair for $sample {
            type Value = $ty;
            fn split(&self) -> (f64, $ty) {
                (self.t, self.$field)
            }
            fn join(t: f64, $field: $ty) -> Self {
                Self { t, $field }
            }
            fn short(v: $ty) -> impl Serialize {
                $short(v)
            }
        }
    };
}

pair!(Click, dwell: f64, ms);
pair!(KeyTiming, dwell: f64, ms);
pair!(ScrollSample, y: f32, px);
pair!(FocusChange, focused: bool, std::convert::identity);
pair!(VisibilityChange, visible: bool, std::convert::identity);

/// One element of a pair list as read: a layout-2 `[t, value]`, or a
/// layout-1 object (`Full`).
enum PairIn<Val, Full> {
    Pair(f64, Val),
    Full(Full),
}

impl<'de, Val: Deserialize<'de>, Full: Deserialize<'de>> Deserialize<'de> for PairIn<Val, Full> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<Val, Full>(std::marker::PhantomData<(Val, Full)>);
        impl<'de, Val: Deserialize<'de>, Full: Deserialize<'de>> Visitor<'de> for V<Val, Full> {
            type Value = PairIn<Val, Full>;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a sample [t, value]")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let t = seq.next_element()?.ok_or_else(|| de::Error::invalid_length(0, &self))?;
                let v = seq.next_element()?.ok_or_else(|| de::Error::invalid_length(1, &self))?;
                if seq.next_element::<de::IgnoredAny>()?.is_some() {
                    return Err(de::Error::invalid_length(3, &self));
                }
                Ok(PairIn::Pair(t, v))
            }

            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                Full::deserialize(de::value::MapAccessDeserializer::new(map)).map(PairIn::Full)
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// Writes and reads the lists of `[t, value]` samples.
pub mod pairs {
    use super::*;

    /// Writes the samples as `[t, value]`.
    #[allow(private_bounds)]
    pub fn serialize<T: Pair, S: Serializer>(samples: &[T], s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(samples.len()))?;
        for sample in samples {
            let (t, v) = sample.split();
            seq.serialize_element(&(ms(t), T::short(v)))?;
        }
        seq.end()
    }

    /// Reads either layout.
    #[allow(private_bounds)]
    pub fn deserialize<'de, T, D>(d: D) -> Result<Vec<T>, D::Error>
    where
        T: Pair + Deserialize<'de>,
        D: Deserializer<'de>,
    {
        let items = Vec::<PairIn<T::Value, T>>::deserialize(d)?;
        Ok(items
            .into_iter()
            .map(|i| match i {
                PairIn::Pair(t, v) => T::join(t, v),
                PairIn::Full(full) => full,
            })
            .collect())
    }
}

/// The OpenAPI schemas of the lists as this module writes and reads them,
/// for the verifier's `/openapi.json`: each sample is a layout-2 array or a
/// layout-1 object (the `$ref`s name the sample types' own schemas, which
/// the document lists among its components).
#[cfg(feature = "openapi")]
pub mod schema {
    use utoipa::openapi::schema::{Array, ArrayBuilder, ArrayItems, ObjectBuilder, OneOfBuilder, Ref, Type};
    use utoipa::openapi::Schema;

    fn of(t: Type, description: &str) -> Schema {
        ObjectBuilder::new().schema_type(t).description(Some(description)).build().into()
    }

    /// A list whose samples are `compact` arrays or `object`s.
    fn list(description: &str, compact: Vec<Schema>, object: &str) -> Array {
        let n = compact.len();
        let compact = ArrayBuilder::new()
            .prefix_items(compact)
            .items(ArrayItems::False)
            .min_items(Some(n.min(3)))
            .max_items(Some(n));
        ArrayBuilder::new()
            .description(Some(description))
            .items(OneOfBuilder::new().item(compact).item(Ref::from_schema_name(object)))
            .build()
    }

    /// `[dt, dx, dy]`, or `[dt, dx, dy, code]` for anything but a move.
    fn steps(description: &str, object: &str, codes: [&str; 2], meaning: &str) -> Array {
        let code = ObjectBuilder::new().schema_type(Type::String).enum_values(Some(codes)).description(Some(meaning));
        let parts = vec![
            of(Type::Number, "time since the previous sample of the list (since 0 for the first), ms"),
            of(Type::Number, "horizontal movement since the previous sample, CSS px"),
            of(Type::Number, "vertical movement, CSS px"),
            code.build().into(),
        ];
        list(description, parts, object)
    }

    /// `[t, value]`.
    fn pairs(description: &str, object: &str, value: Schema) -> Array {
        list(description, vec![of(Type::Number, "time, ms"), value], object)
    }

    /// `Signals::pointer`.
    pub fn pointer() -> Array {
        let d = "Pointer samples: `[dt, dx, dy]` for a move, `[dt, dx, dy, \"d\"|\"u\"]` for a press or a release.";
        steps(d, "PointerSample", ["d", "u"], "`d` down, `u` up")
    }

    /// `Signals::touch`.
    pub fn touch() -> Array {
        let d = "First-finger samples: `[dt, dx, dy]` for a move, `[dt, dx, dy, \"s\"|\"e\"]` for a start or an end.";
        steps(d, "TouchSample", ["s", "e"], "`s` start, `e` end")
    }

    /// `Signals::clicks`.
    pub fn clicks() -> Array {
        pairs("Clicks: `[t, dwell]`, ms.", "Click", of(Type::Number, "press to release, ms"))
    }

    /// `Signals::press_offsets`.
    pub fn press_offsets() -> Array {
        let offset = ArrayBuilder::new()
            .prefix_items(vec![
                of(Type::Number, "horizontal, CSS px, to 0.5 px"),
                of(Type::Number, "vertical, CSS px, to 0.5 px"),
            ])
            .items(ArrayItems::False)
            .min_items(Some(2))
            .max_items(Some(2));
        ArrayBuilder::new()
            .description(Some("Where each pointer press landed: `[dx, dy]` from the centre of the element pressed."))
            .items(offset)
            .build()
    }

    /// `Signals::keys`.
    pub fn keys() -> Array {
        pairs("Key presses, never which key: `[t, dwell]`, ms.", "KeyTiming", of(Type::Number, "held, ms"))
    }

    /// `Signals::scroll`.
    pub fn scroll() -> Array {
        pairs("Scroll offsets: `[t, y]`.", "ScrollSample", of(Type::Number, "vertical offset, CSS px"))
    }

    /// `Signals::focus`.
    pub fn focus() -> Array {
        pairs("Focus changes: `[t, focused]`.", "FocusChange", of(Type::Boolean, "whether focus came in"))
    }

    /// `Signals::visibility`.
    pub fn visibility() -> Array {
        pairs("Visibility changes: `[t, visible]`.", "VisibilityChange", of(Type::Boolean, "visible after the change"))
    }
}

#[cfg(test)]
mod tests {
    use super::super::Signals;
    use super::*;

    fn sample() -> Signals {
        let mut s = Signals { v: super::super::VERSION, elapsed_ms: 2000.0, ..Default::default() };
        s.pointer = vec![
            PointerSample { t: 100.0, k: PointerKind::Move, dx: 0.0, dy: 0.0 },
            PointerSample { t: 116.7, k: PointerKind::Move, dx: 3.0, dy: -2.5 },
            PointerSample { t: 133.3, k: PointerKind::Move, dx: 12.0, dy: 1.0 },
            PointerSample { t: 200.1, k: PointerKind::Down, dx: 0.0, dy: 0.0 },
            PointerSample { t: 290.0, k: PointerKind::Up, dx: 0.0, dy: 0.0 },
        ];
        s.touch = vec![
            TouchSample { t: 500.0, k: TouchKind::Start, dx: 0.0, dy: 0.0 },
            TouchSample { t: 510.5, k: TouchKind::Move, dx: -4.0, dy: 7.0 },
            TouchSample { t: 600.0, k: TouchKind::End, dx: 0.0, dy: 0.0 },
        ];
        s.clicks = vec![Click { t: 200.1, dwell: 89.9 }];
        s.keys = vec![KeyTiming { t: 700.0, dwell: 80.5 }];
        s.scroll = vec![ScrollSample { t: 800.0, y: 120.0 }];
        s.focus = vec![FocusChange { t: 650.0, focused: true }];
        s.visibility = vec![VisibilityChange { t: 900.0, visible: false }];
        s
    }

    #[test]
    fn samples_are_written_as_short_arrays_and_read_back() {
        let s = sample();
        let json = serde_json::to_string(&s).unwrap();
        assert!(
            json.contains(r#""pointer":[[100,0,0],[16.7,3,-2.5],[16.6,12,1],[66.8,0,0,"d"],[89.9,0,0,"u"]]"#),
            "{json}"
        );
        assert!(json.contains(r#""touch":[[500,0,0,"s"],[10.5,-4,7],[89.5,0,0,"e"]]"#), "{json}");
        assert!(json.contains(r#""clicks":[[200.1,89.9]]"#), "{json}");
        assert!(json.contains(r#""focus":[[650,true]]"#), "{json}");
        let back: Signals = serde_json::from_str(&json).unwrap();
        for (a, b) in back.pointer.iter().zip(&s.pointer) {
            assert!((a.t - b.t).abs() < 1e-6 && a.k == b.k && a.dx == b.dx && a.dy == b.dy, "{a:?} {b:?}");
        }
        assert_eq!((back.touch.len(), back.touch[2].k), (3, TouchKind::End));
        assert!((back.touch[2].t - 600.0).abs() < 1e-6);
        assert_eq!((back.clicks, back.keys, back.scroll), (s.clicks, s.keys, s.scroll));
        assert_eq!((back.focus, back.visibility), (s.focus, s.visibility));
    }

    #[test]
    fn layout_1_objects_are_still_read() {
        let json = r#"{"v":1,"elapsed_ms":900,"pointer":[{"t":10,"k":"move","dx":1,"dy":2},
            {"t":20,"k":"down","dx":0,"dy":0}],"clicks":[{"t":20,"dwell":80}],
            "focus":[{"t":5,"focused":true}]}"#;
        let s: Signals = serde_json::from_str(json).unwrap();
        assert_eq!(s.pointer[1], PointerSample { t: 20.0, k: PointerKind::Down, dx: 0.0, dy: 0.0 });
        assert_eq!(s.clicks, [Click { t: 20.0, dwell: 80.0 }]);
        assert_eq!(s.focus, [FocusChange { t: 5.0, focused: true }]);
    }

    #[test]
    fn a_step_back_in_time_is_read_for_the_scorer_to_judge() {
        let s: Signals = serde_json::from_str(r#"{"pointer":[[10,1,2],[-5,1,1]]}"#).unwrap();
        assert_eq!(s.pointer.iter().map(|p| p.t).collect::<Vec<_>>(), [10.0, 5.0]);
    }

    #[test]
    fn bad_samples_are_refused() {
        for bad in [
            r#"{"pointer":[[10,1,2,"x"]]}"#,
            r#"{"pointer":[[10,1]]}"#,
            r#"{"pointer":[["a",1,2]]}"#,
            r#"{"keys":[[1,2,3]]}"#,
            r#"{"touch":[[1,2,3,"d"]]}"#,
        ] {
            assert!(serde_json::from_str::<Signals>(bad).is_err(), "{bad}");
        }
    }
}
