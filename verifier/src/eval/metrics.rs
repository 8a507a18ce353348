//! What `oculto eval` reports: ROC AUC, the true-positive rate at 1% false
//! positives, the product's classes per group, and payload sizes.
//!
//! Bots are the positives and a higher score means "more bot".
//!
//! - **AUC** is the Mann-Whitney statistic: the chance that a random bot
//!   unit scores above a random human unit, ties counting one half. A scorer
//!   that gives everyone the same score has 0.5.
//! - **TPR at 1% FPR**: a unit is flagged when its score is at least a
//!   threshold θ. θ is the lowest score (among those observed, or just above
//!   the highest) at which at most 1% of human units are flagged; the TPR is
//!   the share of bot units flagged at θ. Ties are never split: human units
//!   tied at θ all count as false positives, so ties cannot flatter the rate.
//! - **Classes** are the product's fixed bands (`human` 0-25, `suspicious`
//!   26-50, `bot` 51-100), per group of units (`label`, `source`, `user`).

use std::collections::BTreeMap;

use oculto_shared::api::Classification;
use serde::Serialize;

use super::trace::Label;

/// The false-positive rate the report's TPR is taken at.
pub const FPR_TARGET: f64 = 0.01;

/// One scored unit.
#[derive(Debug, Clone)]
pub struct Scored {
    /// Human or bot.
    pub label: Label,
    /// The data set or generator.
    pub source: Option<String>,
    /// The person or generator group.
    pub user: String,
    /// 0-100.
    pub score: u8,
    /// The payload's size as JSON, bytes.
    pub bytes: usize,
    /// The reason codes.
    pub reasons: Vec<&'static str>,
}

/// ROC AUC of `bots` against `humans` (Mann-Whitney, ties count one half);
/// `None` when either side is empty.
pub fn auc(humans: &[f64], bots: &[f64]) -> Option<f64> {
    if humans.is_empty() || bots.is_empty() {
        return None;
    }
    let mut all: Vec<(f64, bool)> = humans.iter().map(|&s| (s, false)).chain(bots.iter().map(|&s| (s, true))).collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0));
    // Sum of the bots' ranks, with tied scores sharing their mean rank.
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < all.len() {
        let j = i + all[i..].iter().take_while(|v| v.0 == all[i].0).count();
        let mean_rank = (i + 1 + j) as f64 / 2.0;
        rank_sum += mean_rank * all[i..j].iter().filter(|v| v.1).count() as f64;
        i = j;
    }
    let (nb, nh) = (bots.len() as f64, humans.len() as f64);
    Some((rank_sum - nb * (nb + 1.0) / 2.0) / (nb * nh))
}

/// A point on the ROC curve.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Operating {
    /// Units scoring at least this are flagged.
    pub threshold: f64,
    /// Share of bot units flagged.
    pub tpr: f64,
    /// Share of human units flagged.
    pub fpr: f64,
}

/// The operating point with the highest TPR whose FPR is at most `max_fpr`
/// (see the module's convention); `None` when either side is empty.
pub fn tpr_at_fpr(humans: &[f64], bots: &[f64], max_fpr: f64) -> Option<Operating> {
    if humans.is_empty() || bots.is_empty() {
        return None;
    }
    let share = |v: &[f64], th: f64| v.iter().filter(|&&s| s >= th).count() as f64 / v.len() as f64;
    let mut candidates: Vec<f64> = humans.iter().chain(bots).copied().collect();
    candidates.sort_by(f64::total_cmp);
    candidates.dedup();
    let above = candidates.last().map_or(0.0, |m| m + 1.0);
    candidates.push(above);
    candidates
        .into_iter()
        .map(|th| Operating { threshold: th, tpr: share(bots, th), fpr: share(humans, th) })
        .find(|o| o.fpr <= max_fpr)
}

/// Shares of units in each class.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Classes {
    /// How many units.
    pub n: usize,
    /// Share scored 0-25.
    pub human: f64,
    /// Share scored 26-50.
    pub suspicious: f64,
    /// Share scored 51-100.
    pub bot: f64,
}

impl Classes {
    fn of(scores: impl Iterator<Item = u8>) -> Self {
        let mut c = [0usize; 3];
        for s in scores {
            c[match Classification::from_score(s) {
                Classification::Human => 0,
                Classification::Suspicious => 1,
                Classification::Bot => 2,
            }] += 1;
        }
        let n = c.iter().sum::<usize>();
        let share = |k: usize| if n == 0 { 0.0 } else { k as f64 / n as f64 };
        Self { n, human: share(c[0]), suspicious: share(c[1]), bot: share(c[2]) }
    }
}

/// One group's figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Group {
    /// The person or generator group.
    pub user: String,
    /// Human or bot.
    pub label: Label,
    /// The data set or generator.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// How many units.
    pub n: usize,
    /// Share scored `human`.
    pub human: f64,
    /// Share scored `suspicious`.
    pub suspicious: f64,
    /// Share scored `bot`.
    pub bot: f64,
    /// Median score.
    pub median_score: f64,
    /// Median payload size, JSON bytes.
    pub median_bytes: f64,
    /// Share of units with each reason code.
    pub reasons: BTreeMap<String, f64>,
}

/// Payload sizes, JSON bytes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Sizes {
    /// Median.
    pub median: f64,
    /// 90th percentile.
    pub p90: f64,
    /// Largest.
    pub max: f64,
}

/// The whole report, `oculto eval --json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// ROC AUC, bots positive (null without both labels).
    pub auc: Option<f64>,
    /// True-positive rate at 1% false positives.
    pub tpr_at_1pct_fpr: Option<f64>,
    /// The operating point behind it.
    pub operating_point: Option<Operating>,
    /// How the TPR's threshold was chosen.
    pub convention: &'static str,
    /// Classes of all human units.
    pub humans: Classes,
    /// Classes of all bot units.
    pub bots: Classes,
    /// Per group, humans first.
    pub groups: Vec<Group>,
    /// Payload sizes over all units.
    pub payload_bytes: Option<Sizes>,
    /// Payloads that failed `Signals::validate` (should be 0).
    pub invalid_payloads: usize,
    /// Lines skipped because their label is not the one their file was given for.
    pub skipped_lines: usize,
}

/// The convention behind `tpr_at_1pct_fpr`, stated in every report.
pub const CONVENTION: &str = "flagged when score >= threshold; threshold = the lowest observed score (or max+1) \
                              flagging at most 1% of human units; human ties at the threshold count as false \
                              positives";

/// The `q` quantile of sorted `v` (nearest rank, interpolated).
fn quantile(v: &[f64], q: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let pos = (v.len() - 1) as f64 * q;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    v[lo] + (v[hi] - v[lo]) * (pos - lo as f64)
}

fn sorted(v: impl Iterator<Item = f64>) -> Vec<f64> {
    let mut v: Vec<f64> = v.collect();
    v.sort_by(f64::total_cmp);
    v
}

/// The report for `units`.
pub fn report(units: &[Scored], invalid_payloads: usize, skipped_lines: usize) -> Report {
    let scores = |l: Label| units.iter().filter(|u| u.label == l).map(|u| f64::from(u.score)).collect::<Vec<_>>();
    let (h, b) = (scores(Label::Human), scores(Label::Bot));
    let op = tpr_at_fpr(&h, &b, FPR_TARGET);
    let mut keys: Vec<(Label, Option<&str>, &str)> =
        units.iter().map(|u| (u.label, u.source.as_deref(), u.user.as_str())).collect();
    keys.sort();
    keys.dedup();
    let groups = keys
        .into_iter()
        .map(|(label, source, user)| {
            let of: Vec<&Scored> =
                units.iter().filter(|u| u.label == label && u.source.as_deref() == source && u.user == user).collect();
            let classes = Classes::of(of.iter().map(|u| u.score));
            let mut reasons: BTreeMap<String, f64> = BTreeMap::new();
            for u in &of {
                for r in &u.reasons {
                    *reasons.entry((*r).to_owned()).or_default() += 1.0 / of.len() as f64;
                }
            }
            Group {
                user: user.to_owned(),
                label,
                source: source.map(str::to_owned),
                n: of.len(),
                human: classes.human,
                suspicious: classes.suspicious,
                bot: classes.bot,
                median_score: quantile(&sorted(of.iter().map(|u| f64::from(u.score))), 0.5),
                median_bytes: quantile(&sorted(of.iter().map(|u| u.bytes as f64)), 0.5),
                reasons,
            }
        })
        .collect();
    let bytes = sorted(units.iter().map(|u| u.bytes as f64));
    Report {
        auc: auc(&h, &b),
        tpr_at_1pct_fpr: op.map(|o| o.tpr),
        operating_point: op,
        convention: CONVENTION,
        humans: Classes::of(units.iter().filter(|u| u.label == Label::Human).map(|u| u.score)),
        bots: Classes::of(units.iter().filter(|u| u.label == Label::Bot).map(|u| u.score)),
        groups,
        payload_bytes: (!bytes.is_empty()).then(|| Sizes {
            median: quantile(&bytes, 0.5),
            p90: quantile(&bytes, 0.9),
            max: bytes[bytes.len() - 1],
        }),
        invalid_payloads,
        skipped_lines,
    }
}

fn pct(v: f64) -> String {
    format!("{:5.1}%", v * 100.0)
}

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "n/a".to_owned(), |v| format!("{v:.digits$}"))
}

impl Report {
    /// The report as tables, for people.
    pub fn text(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        let _ = writeln!(out, "units: {} human, {} bot", self.humans.n, self.bots.n);
        let _ = write!(out, "ROC AUC {}   TPR at 1% FPR {}", opt(self.auc, 4), opt(self.tpr_at_1pct_fpr, 3));
        if let Some(o) = self.operating_point {
            let _ = write!(out, "   (flagged at score >= {}, FPR {:.4})", o.threshold, o.fpr);
        }
        out.push('\n');
        let _ = writeln!(
            out,
            "all humans: {} human {} suspicious {} bot   all bots: {} human {} suspicious {} bot",
            pct(self.humans.human),
            pct(self.humans.suspicious),
            pct(self.humans.bot),
            pct(self.bots.human),
            pct(self.bots.suspicious),
            pct(self.bots.bot)
        );
        if let Some(s) = self.payload_bytes {
            let _ = writeln!(out, "payload JSON bytes: median {:.0}  p90 {:.0}  max {:.0}", s.median, s.p90, s.max);
        }
        if self.invalid_payloads > 0 {
            let _ = writeln!(out, "INVALID payloads: {}", self.invalid_payloads);
        }
        if self.skipped_lines > 0 {
            let _ = writeln!(out, "skipped {} lines labelled otherwise than their file", self.skipped_lines);
        }
        let _ = writeln!(
            out,
            "{:<6} {:<12} {:<20} {:>6} {:>7} {:>7} {:>7} {:>7} {:>7}  top reasons",
            "label", "source", "user", "n", "human", "susp.", "bot", "median", "bytes"
        );
        for g in &self.groups {
            let mut reasons: Vec<(&String, &f64)> = g.reasons.iter().collect();
            reasons.sort_by(|a, b| b.1.total_cmp(a.1).then(a.0.cmp(b.0)));
            let top: Vec<String> = reasons.iter().take(3).map(|(r, s)| format!("{r} {:.0}%", *s * 100.0)).collect();
            let _ = writeln!(
                out,
                "{:<6} {:<12} {:<20} {:>6} {:>7} {:>7} {:>7} {:>7.1} {:>7.0}  {}",
                g.label.as_str(),
                g.source.as_deref().unwrap_or("-"),
                g.user,
                g.n,
                pct(g.human),
                pct(g.suspicious),
                pct(g.bot),
                g.median_score,
                g.median_bytes,
                top.join(", ")
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_of_perfect_reversed_and_tied_scorers() {
        assert_eq!(auc(&[0.0, 1.0, 2.0], &[3.0, 4.0]), Some(1.0));
        assert_eq!(auc(&[3.0, 4.0], &[0.0, 1.0, 2.0]), Some(0.0));
        assert_eq!(auc(&[5.0; 10], &[5.0; 7]), Some(0.5));
        assert_eq!(auc(&[], &[1.0]), None);
    }

    #[test]
    fn auc_counts_ties_as_one_half() {
        // Pairs (h, b): (0,0) tie, (0,2) win, (2,0) loss, (2,2) tie → (0.5 + 1 + 0 + 0.5) / 4.
        assert_eq!(auc(&[0.0, 2.0], &[0.0, 2.0]), Some(0.5));
        // (1,1) tie, (1,3) win, (2,1) loss, (2,3) win → 2.5 / 4.
        assert_eq!(auc(&[1.0, 2.0], &[1.0, 3.0]), Some(0.625));
    }

    #[test]
    fn tpr_at_one_percent_fpr_never_splits_ties() {
        // 200 humans: 198 at 0, 2 at 60 (1%, allowed); bots at 30, 60, 90.
        let mut h = vec![0.0; 198];
        h.extend([60.0, 60.0]);
        let b = [30.0, 60.0, 90.0, 90.0];
        let o = tpr_at_fpr(&h, &b, 0.01).expect("both sides");
        assert_eq!(o, Operating { threshold: 30.0, tpr: 1.0, fpr: 0.01 });
        // Three humans at 60 is 1.5%: the threshold moves above them.
        h[0] = 60.0;
        let o = tpr_at_fpr(&h, &b, 0.01).expect("both sides");
        assert_eq!(o, Operating { threshold: 90.0, tpr: 0.5, fpr: 0.0 });
        // Everyone tied: nothing can be flagged.
        let o = tpr_at_fpr(&[0.0; 5], &[0.0; 5], 0.01).expect("both sides");
        assert_eq!((o.tpr, o.fpr), (0.0, 0.0));
    }

    fn unit(label: Label, user: &str, score: u8) -> Scored {
        Scored { label, source: None, user: user.into(), score, bytes: 100 + usize::from(score), reasons: vec!["x"] }
    }

    #[test]
    fn the_json_report_has_the_fields_the_issue_names() {
        let units = [
            unit(Label::Human, "p", 0),
            unit(Label::Human, "p", 30),
            unit(Label::Bot, "b", 60),
            unit(Label::Bot, "b", 10),
            unit(Label::Bot, "b", 26),
        ];
        let r = report(&units, 0, 2);
        let v = serde_json::to_value(&r).expect("serialises");
        assert_eq!(v["auc"], serde_json::json!(4.0 / 6.0));
        assert!(v["tpr_at_1pct_fpr"].is_number());
        let g = &v["groups"][0];
        for k in ["user", "label", "n", "human", "suspicious", "bot", "median_score"] {
            assert!(!g[k].is_null(), "groups[].{k}");
        }
        assert_eq!((g["user"].as_str(), g["label"].as_str(), g["n"].as_u64()), (Some("p"), Some("human"), Some(2)));
        assert_eq!(
            (g["human"].as_f64(), g["suspicious"].as_f64(), g["median_score"].as_f64()),
            (Some(0.5), Some(0.5), Some(15.0))
        );
        let b = &v["groups"][1];
        assert_eq!((b["human"].as_f64(), b["bot"].as_f64()), (Some(1.0 / 3.0), Some(1.0 / 3.0)));
        assert_eq!(v["payload_bytes"]["max"], serde_json::json!(160.0));
        assert_eq!(v["skipped_lines"], 2);
        assert!(r.text().contains("ROC AUC 0.6667"));
    }

    #[test]
    fn a_report_with_one_label_has_no_auc() {
        let r = report(&[unit(Label::Bot, "b", 60)], 0, 0);
        assert_eq!((r.auc, r.tpr_at_1pct_fpr), (None, None));
        assert_eq!(r.bots.bot, 1.0);
        assert!(r.text().contains("n/a"));
    }
}
