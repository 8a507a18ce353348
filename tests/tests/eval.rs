//! `oculto eval` (issue 5), run as a person runs it: on the small synthetic
//! fixture in `tests/fixtures/eval/`, and on the development data in
//! `../shared/data/` when that folder is there.
//!
//! The fixture was made for these tests: `humans.jsonl` by a short script
//! (two browser-like sessions at 60 Hz with clicks, typing and a wheel tick,
//! one remote-desktop-like session sampled every 110 ms with an 8 s pause,
//! one phone session of touch strokes with the browser's emulated mouse
//! releases), and `bots.jsonl` by
//! `oculto eval bots --family teleport --family no_movement --family windmouse --per-family 2 --seed 1`.
//! The tests check the command and the report's shape, not the scores: the
//! scorer is meant to change.

use std::path::{Path, PathBuf};
use std::process::Command;

use oculto_tests::oculto_bin;
use serde_json::Value;

/// A file of the fixture.
fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/eval").join(name)
}

/// Runs `oculto` with `args`, expects success and returns its standard output.
fn oculto(args: &[&str]) -> String {
    let out = Command::new(oculto_bin()).args(args).output().expect("runs oculto");
    assert!(out.status.success(), "oculto {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8")
}

/// Runs `oculto eval … --json` and parses the report.
fn report(args: &[&str]) -> Value {
    let mut all = vec!["eval"];
    all.extend_from_slice(args);
    all.push("--json");
    serde_json::from_str(&oculto(&all)).expect("a JSON report")
}

/// A fresh folder for one test's files.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("oculto-eval-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// `../shared/data`, or `OCULTO_DATA`; `None`, saying so, when absent.
fn data_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("OCULTO_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data"));
    if dir.join("bot-traces/delbot.jsonl").is_file() && dir.join("human-traces/balabit.jsonl").is_file() {
        Some(dir)
    } else {
        eprintln!("skipped: no development data at {} (set OCULTO_DATA to its folder)", dir.display());
        None
    }
}

/// Checks the fields the issue asks for and that shares add up.
fn check_shape(r: &Value) {
    for k in ["auc", "tpr_at_1pct_fpr", "groups", "humans", "bots", "payload_bytes", "invalid_payloads"] {
        assert!(r.get(k).is_some(), "no {k} in {r}");
    }
    assert_eq!(r["invalid_payloads"], 0, "every payload validates");
    for g in r["groups"].as_array().expect("groups") {
        for k in ["user", "label", "n", "human", "suspicious", "bot", "median_score"] {
            assert!(!g[k].is_null(), "groups[].{k} in {g}");
        }
        let sum: f64 = ["human", "suspicious", "bot"].iter().map(|k| g[*k].as_f64().expect("share")).sum();
        assert!((sum - 1.0).abs() < 1e-9, "shares of {g} add up to {sum}");
        let median = g["median_score"].as_f64().expect("median");
        assert!((0.0..=100.0).contains(&median));
    }
}

fn str_of(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

#[test]
fn eval_reports_the_fixture_in_json() {
    let (h, b) = (fixture("humans.jsonl"), fixture("bots.jsonl"));
    let r = report(&["--human", str_of(&h), "--bot", str_of(&b)]);
    check_shape(&r);
    assert_eq!((r["humans"]["n"].as_u64(), r["bots"]["n"].as_u64()), (Some(4), Some(6)));
    let auc = r["auc"].as_f64().expect("both labels: an AUC");
    assert!((0.0..=1.0).contains(&auc));
    let tpr = r["tpr_at_1pct_fpr"].as_f64().expect("a TPR");
    assert!((0.0..=1.0).contains(&tpr));
    let users: Vec<&str> = r["groups"].as_array().expect("groups").iter().filter_map(|g| g["user"].as_str()).collect();
    assert_eq!(
        users,
        ["synthetic-browser", "synthetic-rdp", "synthetic-touch", "no_movement", "teleport", "windmouse"]
    );
    // Issue 5: a typical form's payload stays under 8 KB.
    assert!(r["payload_bytes"]["max"].as_f64().expect("sizes") < 8192.0, "{}", r["payload_bytes"]);
}

#[test]
fn eval_prints_tables_and_reads_a_label_from_a_mixed_file() {
    let (h, b) = (fixture("humans.jsonl"), fixture("bots.jsonl"));
    let text = oculto(&["eval", "--human", str_of(&h), "--bot", str_of(&b)]);
    for needle in ["ROC AUC", "TPR at 1% FPR", "payload JSON bytes", "synthetic-touch", "windmouse"] {
        assert!(text.contains(needle), "{needle} in\n{text}");
    }
    // A file given as --bot contributes only its lines labelled bot.
    let r = report(&["--bot", str_of(&h), "--bot", str_of(&b)]);
    assert_eq!((r["humans"]["n"].as_u64(), r["bots"]["n"].as_u64()), (Some(0), Some(6)));
    assert_eq!(r["skipped_lines"], 4);
    assert!(r["auc"].is_null());
}

#[test]
fn prepare_and_bots_are_seeded_and_their_output_is_scored() {
    let dir = scratch("seeded");
    let h = fixture("humans.jsonl");
    let run = |seed: &str, name: &str| {
        let out = dir.join(name);
        oculto(&["eval", "prepare", "--in", str_of(&h), "--mode", "clicks", "--seed", seed, "--out", str_of(&out)]);
        std::fs::read(out).expect("units")
    };
    assert_eq!(run("3", "a.jsonl"), run("3", "b.jsonl"));
    assert_ne!(run("3", "a.jsonl"), run("4", "c.jsonl"));
    let bots = |name: &str| {
        let out = dir.join(name);
        oculto(&["eval", "bots", "--per-family", "2", "--seed", "9", "--out", str_of(&out)]);
        out
    };
    let (x, y) = (bots("x.jsonl"), bots("y.jsonl"));
    assert_eq!(std::fs::read(&x).expect("bots"), std::fs::read(&y).expect("bots"));
    let units = dir.join("bot-units.jsonl");
    oculto(&["eval", "prepare", "--in", str_of(&x), "--out", str_of(&units)]);
    let r = report(&["--human", str_of(&dir.join("a.jsonl")), "--bot", str_of(&units)]);
    check_shape(&r);
    // Every family generated is there after `prepare`, the keyboard-only
    // and empty ones too.
    let families: std::collections::BTreeSet<String> = std::fs::read_to_string(&x)
        .expect("bots")
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).expect("a trace")["user"].as_str().expect("user").to_owned()
        })
        .collect();
    assert!(families.contains("no_movement") && families.contains("bezier_burst"), "{families:?}");
    let bot_groups: std::collections::BTreeSet<String> = r["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .filter(|g| g["label"] == "bot")
        .map(|g| g["user"].as_str().expect("user").to_owned())
        .collect();
    assert_eq!(bot_groups, families);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn eval_on_the_development_data() {
    let Some(data) = data_dir() else { return };
    let delbot = data.join("bot-traces/delbot.jsonl");
    let r = report(&["--human", str_of(&delbot), "--bot", str_of(&delbot)]);
    check_shape(&r);
    assert_eq!((r["humans"]["n"].as_u64(), r["bots"]["n"].as_u64()), (Some(719), Some(2307)));
    // The same page, neutralised, and a slice of Balabit cut into click units.
    let dir = scratch("data");
    let whole = dir.join("delbot-whole.jsonl");
    oculto(&["eval", "prepare", "--in", str_of(&delbot), "--mode", "whole", "--out", str_of(&whole)]);
    let r = report(&["--human", str_of(&whole), "--bot", str_of(&whole)]);
    check_shape(&r);
    assert_eq!((r["humans"]["n"].as_u64(), r["bots"]["n"].as_u64()), (Some(719), Some(2307)));
    let units = dir.join("balabit-units.jsonl");
    let balabit = data.join("human-traces/balabit.jsonl");
    oculto(&["eval", "prepare", "--in", str_of(&balabit), "--limit", "40", "--out", str_of(&units)]);
    let r = report(&["--human", str_of(&units)]);
    check_shape(&r);
    assert!(r["humans"]["n"].as_u64().expect("n") > 40, "several click units per session");
    let _ = std::fs::remove_dir_all(dir);
}
