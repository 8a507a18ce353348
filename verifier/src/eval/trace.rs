//! Trace files: JSON Lines in the `../shared/data` format, one recorded unit
//! per line, read one line at a time (a file can be tens of megabytes).
//!
//! ```json
//! {"label":"human","user":"15","session":"…","events":[[0,"move",558,593],
//!  [2210,"down",600,300,0],[2290,"up",600,300,0],[2500,"wheel",600,300,1],
//!  [3000,"touchstart",10,20],[3400,"keydown",null,null,"k3"]]}
//! ```
//!
//! Events are `[t_ms, type, x, y, ...]`: `move`; `down`/`up` with the button;
//! `wheel` with notches (+1 down); `touchstart`/`touchmove`/`touchend` (x and
//! y may be null at an end); `keydown`/`keyup` with null coordinates and a
//! key that only pairs a press with its release. Other fields of a line are
//! ignored; unknown event types are kept as [`Kind::Other`] and skipped.

use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use oculto_shared::signals::{Short, TouchKind};
use serde::de::{self, IgnoredAny, SeqAccess, Visitor};
use serde::ser::SerializeSeq;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Who made a trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Label {
    /// A person.
    Human,
    /// A program.
    Bot,
}

impl Label {
    /// `human` or `bot`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Human => "human",
            Self::Bot => "bot",
        }
    }
}

/// One line of a trace file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trace {
    /// Who made it.
    pub label: Label,
    /// The person or generator group.
    pub user: String,
    /// The data set or generator it comes from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The recording it comes from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    /// How long the unit lasted, ms, when more than its last event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<f64>,
    /// The events, in time order.
    pub events: Vec<Event>,
}

/// One input event.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Time, ms.
    pub t: f64,
    /// What happened.
    pub kind: Kind,
}

/// What an event was.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// The mouse moved to (`x`, `y`).
    Move {
        /// Position, px.
        x: f64,
        /// Position, px.
        y: f64,
    },
    /// A button went down (`down: true`) or up.
    Button {
        /// Press or release.
        down: bool,
        /// Position, px.
        x: f64,
        /// Position, px.
        y: f64,
        /// DOM button number.
        button: u8,
    },
    /// A wheel tick.
    Wheel {
        /// Position, px.
        x: f64,
        /// Position, px.
        y: f64,
        /// Ticks, +1 down.
        notches: f64,
    },
    /// A touch of the first finger.
    Touch {
        /// Start, move or end.
        phase: TouchKind,
        /// Position, px (none at some ends).
        x: Option<f64>,
        /// Position, px.
        y: Option<f64>,
    },
    /// A key went down or up.
    Key {
        /// Press or release.
        down: bool,
        /// Which key, only to pair a press with its release.
        key: String,
    },
    /// A type this reader does not know.
    Other(String),
}

impl Kind {
    /// The event's position, when it has one.
    pub fn position(&self) -> Option<(f64, f64)> {
        match *self {
            Self::Move { x, y } | Self::Button { x, y, .. } | Self::Wheel { x, y, .. } => Some((x, y)),
            Self::Touch { x: Some(x), y: Some(y), .. } => Some((x, y)),
            _ => None,
        }
    }

    /// Whether it is a mouse event (move, button or wheel).
    pub fn is_mouse(&self) -> bool {
        matches!(self, Self::Move { .. } | Self::Button { .. } | Self::Wheel { .. })
    }
}

impl Event {
    /// A mouse move.
    pub fn moved(t: f64, x: f64, y: f64) -> Self {
        Self { t, kind: Kind::Move { x, y } }
    }

    /// A left button press or release.
    pub fn button(t: f64, down: bool, x: f64, y: f64) -> Self {
        Self { t, kind: Kind::Button { down, x, y, button: 0 } }
    }

    /// A key press or release.
    pub fn key(t: f64, down: bool, key: &str) -> Self {
        Self { t, kind: Kind::Key { down, key: key.to_owned() } }
    }
}

fn touch_name(phase: TouchKind) -> &'static str {
    match phase {
        TouchKind::Start => "touchstart",
        TouchKind::Move => "touchmove",
        TouchKind::End => "touchend",
    }
}

impl Serialize for Event {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(None)?;
        seq.serialize_element(&Short(self.t))?;
        match &self.kind {
            Kind::Move { x, y } => {
                seq.serialize_element("move")?;
                seq.serialize_element(&Short(*x))?;
                seq.serialize_element(&Short(*y))?;
            }
            Kind::Button { down, x, y, button } => {
                seq.serialize_element(if *down { "down" } else { "up" })?;
                seq.serialize_element(&Short(*x))?;
                seq.serialize_element(&Short(*y))?;
                seq.serialize_element(button)?;
            }
            Kind::Wheel { x, y, notches } => {
                seq.serialize_element("wheel")?;
                seq.serialize_element(&Short(*x))?;
                seq.serialize_element(&Short(*y))?;
                seq.serialize_element(&Short(*notches))?;
            }
            Kind::Touch { phase, x, y } => {
                seq.serialize_element(touch_name(*phase))?;
                seq.serialize_element(&x.map(Short))?;
                seq.serialize_element(&y.map(Short))?;
            }
            Kind::Key { down, key } => {
                seq.serialize_element(if *down { "keydown" } else { "keyup" })?;
                seq.serialize_element(&None::<f64>)?;
                seq.serialize_element(&None::<f64>)?;
                seq.serialize_element(key)?;
            }
            Kind::Other(name) => seq.serialize_element(name)?,
        }
        seq.end()
    }
}

impl<'de> Deserialize<'de> for Event {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_seq(EventVisitor)
    }
}

struct EventVisitor;

impl<'de> Visitor<'de> for EventVisitor {
    type Value = Event;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an event array [t, type, x, y, ...]")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Event, A::Error> {
        let t: f64 = seq.next_element()?.ok_or_else(|| de::Error::invalid_length(0, &self))?;
        let name: std::borrow::Cow<'de, str> =
            seq.next_element()?.ok_or_else(|| de::Error::invalid_length(1, &self))?;
        let x: Option<f64> = seq.next_element()?.flatten();
        let y: Option<f64> = seq.next_element()?.flatten();
        let need = |v: Option<f64>, i: usize| v.ok_or_else(|| de::Error::invalid_length(i, &"a coordinate"));
        let kind = match name.as_ref() {
            "move" => Kind::Move { x: need(x, 2)?, y: need(y, 3)? },
            "down" | "up" => {
                let button: Option<u8> = seq.next_element()?;
                Kind::Button { down: name == "down", x: need(x, 2)?, y: need(y, 3)?, button: button.unwrap_or(0) }
            }
            "wheel" => {
                let notches: Option<f64> = seq.next_element()?;
                Kind::Wheel { x: need(x, 2)?, y: need(y, 3)?, notches: notches.unwrap_or(1.0) }
            }
            "touchstart" => Kind::Touch { phase: TouchKind::Start, x, y },
            "touchmove" => Kind::Touch { phase: TouchKind::Move, x, y },
            "touchend" => Kind::Touch { phase: TouchKind::End, x, y },
            "keydown" | "keyup" => {
                let key: Option<String> = seq.next_element()?;
                Kind::Key { down: name == "keydown", key: key.unwrap_or_default() }
            }
            other => Kind::Other(other.to_owned()),
        };
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        if !t.is_finite() {
            return Err(de::Error::custom("an event time is not finite"));
        }
        Ok(Event { t, kind })
    }
}

/// The traces of one file, read lazily, with the line each came from.
pub struct Reader {
    path: PathBuf,
    lines: std::io::Lines<BufReader<File>>,
    line: usize,
}

impl Reader {
    /// Opens `path`.
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
        Ok(Self { path: path.to_owned(), lines: BufReader::with_capacity(1 << 20, file).lines(), line: 0 })
    }
}

impl Iterator for Reader {
    type Item = anyhow::Result<Trace>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let line = match self.lines.next()? {
                Ok(l) => l,
                Err(e) => return Some(Err(anyhow::Error::new(e).context(format!("reading {}", self.path.display())))),
            };
            self.line += 1;
            if line.trim().is_empty() {
                continue;
            }
            let trace = serde_json::from_str(&line)
                .with_context(|| format!("{}:{}: not a trace line", self.path.display(), self.line));
            return Some(trace);
        }
    }
}

/// Writes traces as JSON Lines.
pub struct Writer(BufWriter<Box<dyn Write>>);

impl Writer {
    /// Creates `path`, or writes to standard output for `-`.
    pub fn create(path: &Path) -> anyhow::Result<Self> {
        let out: Box<dyn Write> = if path == Path::new("-") {
            Box::new(std::io::stdout().lock())
        } else {
            Box::new(File::create(path).with_context(|| format!("creating {}", path.display()))?)
        };
        Ok(Self(BufWriter::with_capacity(1 << 20, out)))
    }

    /// Appends one trace.
    pub fn write(&mut self, trace: &Trace) -> anyhow::Result<()> {
        serde_json::to_writer(&mut self.0, trace)?;
        self.0.write_all(b"\n")?;
        Ok(())
    }

    /// Flushes what is buffered.
    pub fn finish(mut self) -> anyhow::Result<()> {
        self.0.flush()?;
        Ok(())
    }
}

/// A time rounded to 0.1 ms, the precision of `performance.now()` in the
/// widget and of the data files.
pub fn round_ms(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_event_type_and_writes_it_back() {
        let line = r#"{"source":"s","label":"human","user":"7","session":"a#0","extra":1,"events":[[0,"move",1.5,2],[10,"down",1,2,0],[20,"up",1,2,2],[30,"wheel",1,2,-1],[40,"touchstart",3,4],[50,"touchend",null,null],[60,"keydown",null,null,"a"],[70,"keyup",null,null,"a"],[80,"hover",1,2]]}"#;
        let t: Trace = serde_json::from_str(line).expect("parses");
        assert_eq!(t.label, Label::Human);
        assert_eq!(t.events[2].kind, Kind::Button { down: false, x: 1.0, y: 2.0, button: 2 });
        assert_eq!(t.events[3].kind, Kind::Wheel { x: 1.0, y: 2.0, notches: -1.0 });
        assert_eq!(t.events[5].kind, Kind::Touch { phase: TouchKind::End, x: None, y: None });
        assert_eq!(t.events[6].kind, Kind::Key { down: true, key: "a".into() });
        assert_eq!(t.events[8].kind, Kind::Other("hover".into()));
        let again: Trace = serde_json::from_str(&serde_json::to_string(&t).expect("writes")).expect("reads back");
        assert_eq!(again.events[..8], t.events[..8]);
        let json = serde_json::to_string(&t.events[6]).expect("writes");
        assert_eq!(json, r#"[60,"keydown",null,null,"a"]"#);
        assert_eq!(serde_json::to_string(&t.events[0]).expect("writes"), r#"[0,"move",1.5,2]"#);
    }

    #[test]
    fn refuses_a_move_without_coordinates() {
        assert!(serde_json::from_str::<Event>(r#"[0,"move",null,2]"#).is_err());
        assert!(serde_json::from_str::<Event>(r#"[0]"#).is_err());
    }
}
