//! The behaviour model: a small ensemble of shallow regression trees,
//! boosted on the logistic loss, over the named features of
//! [`crate::features::Features::vector`].
//!
//! # Why trees, and how they explain themselves
//!
//! People and bot libraries differ in ways that are not linear in any one
//! feature (a curved path is human-like at one speed and GAN-like at
//! another), and a linear model over these features stopped at about 0.6
//! of bots caught at 1% of people flagged. Shallow trees (depth
//! [`FitParams::depth`]) with large leaves keep the model small (a few
//! hundred nodes, read from `model.json` in the repository) and each of its
//! decisions explainable: every node stores the value the model would give
//! if it stopped there, so walking a tree from its root to a leaf splits the
//! tree's output into steps, each owed to the feature the node split on
//! (Saabas' attribution). Summed over trees, [`Model::explain`] says how
//! much each named feature raised or lowered a session's logit; the score's
//! reasons are the features that raised it most.
//!
//! # Fitting
//!
//! `oculto eval fit` ([`fit`]) turns trace files into payloads with the
//! widget's own encoder, extracts the features, and boosts: for each round,
//! the gradient and hessian of the weighted logistic loss, one tree grown
//! greedily over quantile thresholds, leaves at the Newton step times the
//! learning rate. Then [`Calibration`] places the logit thresholds at the
//! human percentiles the product's classes need. Everything is
//! deterministic: the same files give the same `model.json`.

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::features::FEATURE_NAMES;

/// The model shipped with the verifier.
const EMBEDDED: &str = include_str!("model.json");

/// One node of a tree. A leaf has no children.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Node {
    /// The feature this node splits on (index into [`Model::features`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feature: Option<usize>,
    /// Values below go left, the others right.
    #[serde(default)]
    pub threshold: f64,
    /// Index of the left child.
    #[serde(default)]
    pub left: usize,
    /// Index of the right child.
    #[serde(default)]
    pub right: usize,
    /// The tree's output if it stopped at this node (logit units).
    pub value: f64,
}

/// One tree: its root is node 0.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Tree {
    /// The nodes.
    pub nodes: Vec<Node>,
}

/// Where the logit crosses into each class, and how it maps to points.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct Calibration {
    /// Logit at which behaviour starts adding points (the human median).
    pub start: f64,
    /// Logit worth [`SUSPICIOUS_POINTS`]: a high human percentile.
    pub suspicious: f64,
    /// Logit worth [`BOT_POINTS`]: beyond nearly every person.
    pub bot: f64,
}

/// Points at [`Calibration::suspicious`]: the first suspicious score.
pub const SUSPICIOUS_POINTS: f64 = 26.0;
/// Points at [`Calibration::bot`]: the first bot score.
pub const BOT_POINTS: f64 = 51.0;
/// The most behaviour alone can add.
pub const MAX_POINTS: f64 = 85.0;

/// A fitted model.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Model {
    /// Feature names, in vector order; must match [`FEATURE_NAMES`].
    pub features: Vec<String>,
    /// Value standing in for a missing feature (nothing to measure).
    pub missing: Vec<f64>,
    /// Logit before any tree.
    pub base: f64,
    /// The trees.
    pub trees: Vec<Tree>,
    /// Logit thresholds.
    pub calibration: Calibration,
    /// How it was fitted, for people.
    #[serde(default)]
    pub fitted_on: String,
}

impl Model {
    /// The model in `verifier/src/model.json`.
    pub fn embedded() -> &'static Model {
        static MODEL: OnceLock<Model> = OnceLock::new();
        MODEL.get_or_init(|| {
            let m: Model = serde_json::from_str(EMBEDDED).expect("verifier/src/model.json is valid");
            assert_eq!(m.features, FEATURE_NAMES, "model.json was fitted on other features: run `make fit`");
            m
        })
    }

    fn fill(&self, x: &[f64]) -> Vec<f64> {
        fill(x, &self.missing)
    }

    /// The logit of a feature vector (`NaN`: missing).
    pub fn logit(&self, x: &[f64]) -> f64 {
        let x = self.fill(x);
        self.base + self.trees.iter().map(|t| t.nodes[leaf(t, &x, |_, _, _| {})].value).sum::<f64>()
    }

    /// The logit and what each feature added to it (negative: lowered it).
    pub fn explain(&self, x: &[f64]) -> (f64, Vec<f64>) {
        let x = self.fill(x);
        let mut parts = vec![0.0; x.len()];
        let mut z = self.base;
        for t in &self.trees {
            z += t.nodes[0].value;
            let end = leaf(t, &x, |f, from, to| parts[f] += t.nodes[to].value - t.nodes[from].value);
            z += t.nodes[end].value - t.nodes[0].value;
        }
        (z, parts)
    }

    /// Points for a logit: 0 up to the human median, then piecewise linear
    /// through the suspicious and bot thresholds, at most [`MAX_POINTS`].
    pub fn points(&self, z: f64) -> f64 {
        let c = self.calibration;
        let p = if z <= c.start {
            0.0
        } else if z < c.suspicious {
            SUSPICIOUS_POINTS * (z - c.start) / (c.suspicious - c.start).max(1e-9)
        } else {
            SUSPICIOUS_POINTS + (BOT_POINTS - SUSPICIOUS_POINTS) * (z - c.suspicious) / (c.bot - c.suspicious).max(1e-9)
        };
        p.clamp(0.0, MAX_POINTS)
    }
}

/// `x` with each missing (non-finite) value replaced by its stand-in.
fn fill(x: &[f64], missing: &[f64]) -> Vec<f64> {
    x.iter().zip(missing).map(|(v, m)| if v.is_finite() { *v } else { *m }).collect()
}

/// Walks `t` for `x`, calling `step(feature, from, to)` at each split;
/// returns the leaf's index.
fn leaf(t: &Tree, x: &[f64], mut step: impl FnMut(usize, usize, usize)) -> usize {
    let mut i = 0;
    while let Some(f) = t.nodes[i].feature {
        let next = if x[f] < t.nodes[i].threshold { t.nodes[i].left } else { t.nodes[i].right };
        step(f, i, next);
        i = next;
    }
    i
}

/// How [`fit`] grows the ensemble.
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct FitParams {
    /// Boosting rounds (trees).
    #[arg(long, default_value_t = 300)]
    pub rounds: usize,
    /// Depth of each tree.
    #[arg(long, default_value_t = 5)]
    pub depth: usize,
    /// Learning rate.
    #[arg(long, default_value_t = 0.1)]
    pub rate: f64,
    /// L2 penalty on leaf values.
    #[arg(long, default_value_t = 1.0)]
    pub lambda: f64,
    /// Least share of the total weight in a leaf.
    #[arg(long, default_value_t = 0.001)]
    pub min_leaf: f64,
    /// Candidate thresholds per feature (quantiles).
    #[arg(long, default_value_t = 32)]
    pub bins: usize,
}

impl Default for FitParams {
    fn default() -> Self {
        Self { rounds: 300, depth: 5, rate: 0.1, lambda: 1.0, min_leaf: 0.001, bins: 32 }
    }
}

/// One example to fit on.
#[derive(Debug, Clone)]
pub struct Example {
    /// Feature vector (`NaN`: missing).
    pub x: Vec<f64>,
    /// Whether it is a bot.
    pub bot: bool,
    /// Its weight.
    pub weight: f64,
}

/// Human percentiles the calibration puts its thresholds at.
#[derive(Debug, Clone, Copy)]
pub struct Targets {
    /// Share of people under the suspicious threshold.
    pub human: f64,
    /// Share of people under the bot threshold.
    pub not_bot: f64,
}

/// Fits a model on `examples` and calibrates it on their humans.
pub fn fit(examples: &[Example], p: &FitParams, targets: Targets, fitted_on: String) -> Model {
    let n_features = FEATURE_NAMES.len();
    // Missing values take the human median: a feature with nothing to
    // measure says nothing either way.
    let missing: Vec<f64> = (0..n_features)
        .map(|f| {
            let mut v: Vec<f64> = examples.iter().filter(|e| !e.bot && e.x[f].is_finite()).map(|e| e.x[f]).collect();
            crate::features::median(&mut v).unwrap_or(0.0)
        })
        .collect();
    let xs: Vec<Vec<f64>> = examples.iter().map(|e| fill(&e.x, &missing)).collect();
    let thresholds: Vec<Vec<f64>> = (0..n_features).map(|f| quantiles(xs.iter().map(|x| x[f]), p.bins)).collect();
    // Each example's bin per feature: the number of thresholds at or below it.
    let bins: Vec<Vec<u8>> = xs
        .iter()
        .map(|x| (0..n_features).map(|f| thresholds[f].partition_point(|t| *t <= x[f]) as u8).collect())
        .collect();
    let w: Vec<f64> = examples.iter().map(|e| e.weight).collect();
    let total_w: f64 = w.iter().sum();
    let y: Vec<f64> = examples.iter().map(|e| f64::from(u8::from(e.bot))).collect();
    let prior = y.iter().zip(&w).map(|(y, w)| y * w).sum::<f64>() / total_w;
    let base = (prior / (1.0 - prior)).ln();
    let mut z = vec![base; examples.len()];
    let mut trees = Vec::with_capacity(p.rounds);
    let grower = Grower { bins: &bins, thresholds: &thresholds, p, min_weight: p.min_leaf * total_w };
    for _ in 0..p.rounds {
        let (g, h): (Vec<f64>, Vec<f64>) = z
            .iter()
            .zip(&y)
            .zip(&w)
            .map(|((z, y), w)| {
                let q = 1.0 / (1.0 + (-z).exp());
                (w * (q - y), (w * q * (1.0 - q)).max(1e-12))
            })
            .unzip();
        let tree = grower.grow(&g, &h, &w);
        for (zi, x) in z.iter_mut().zip(&xs) {
            *zi += tree.nodes[leaf(&tree, x, |_, _, _| {})].value;
        }
        trees.push(tree);
    }
    let mut model = Model {
        features: FEATURE_NAMES.iter().map(|s| (*s).to_owned()).collect(),
        missing,
        base,
        trees,
        calibration: Calibration { start: 0.0, suspicious: 0.0, bot: 0.0 },
        fitted_on,
    };
    let mut human: Vec<f64> = examples.iter().filter(|e| !e.bot).map(|e| model.logit(&e.x)).collect();
    human.sort_by(f64::total_cmp);
    let at = |q: f64| quantile(&human, q);
    let start = at(0.5).unwrap_or(0.0);
    let suspicious = at(targets.human).unwrap_or(start + 1.0).max(start + 0.1);
    let bot = at(targets.not_bot).unwrap_or(suspicious + 1.0).max(suspicious + 0.1);
    model.calibration = Calibration { start, suspicious, bot };
    model
}

/// The value at share `q` of `sorted` (ascending); `None` when empty.
pub fn quantile(sorted: &[f64], q: f64) -> Option<f64> {
    sorted.get(((sorted.len() as f64 * q) as usize).min(sorted.len().saturating_sub(1))).copied()
}

/// Up to `n` distinct quantiles of `values`, as split thresholds.
fn quantiles(values: impl Iterator<Item = f64>, n: usize) -> Vec<f64> {
    let mut v: Vec<f64> = values.collect();
    v.sort_by(f64::total_cmp);
    let mut out: Vec<f64> = (1..n).map(|i| v[(v.len() * i / n).min(v.len() - 1)]).collect();
    out.dedup();
    // A threshold equal to the smallest value splits nothing off.
    out.retain(|t| v.first().is_some_and(|first| t > first));
    out
}

struct Grower<'a> {
    bins: &'a [Vec<u8>],
    thresholds: &'a [Vec<f64>],
    p: &'a FitParams,
    min_weight: f64,
}

impl Grower<'_> {
    fn grow(&self, g: &[f64], h: &[f64], w: &[f64]) -> Tree {
        let mut tree = Tree { nodes: Vec::new() };
        let all: Vec<usize> = (0..g.len()).collect();
        self.node(&mut tree, &all, 0, g, h, w);
        tree
    }

    fn value(&self, gs: f64, hs: f64) -> f64 {
        -gs / (hs + self.p.lambda) * self.p.rate
    }

    fn node(&self, tree: &mut Tree, rows: &[usize], depth: usize, g: &[f64], h: &[f64], w: &[f64]) -> usize {
        let (gs, hs) = rows.iter().fold((0.0, 0.0), |a, &i| (a.0 + g[i], a.1 + h[i]));
        let me = tree.nodes.len();
        tree.nodes.push(Node { feature: None, threshold: 0.0, left: 0, right: 0, value: self.value(gs, hs) });
        if depth >= self.p.depth {
            return me;
        }
        let Some((f, b)) = self.best_split(rows, gs, hs, g, h, w) else { return me };
        let (left, right): (Vec<usize>, Vec<usize>) = rows.iter().partition(|&&i| (self.bins[i][f] as usize) <= b);
        let l = self.node(tree, &left, depth + 1, g, h, w);
        let r = self.node(tree, &right, depth + 1, g, h, w);
        // Bin b holds values below threshold b.
        tree.nodes[me] =
            Node { feature: Some(f), threshold: self.thresholds[f][b], left: l, right: r, ..tree.nodes[me] };
        me
    }

    /// The feature and bin to split after (rows with bin <= b go left).
    fn best_split(&self, rows: &[usize], gs: f64, hs: f64, g: &[f64], h: &[f64], w: &[f64]) -> Option<(usize, usize)> {
        let lambda = self.p.lambda;
        let parent = gs * gs / (hs + lambda);
        let mut best: Option<(f64, usize, usize)> = None;
        for (f, thresholds) in self.thresholds.iter().enumerate() {
            let n_bins = thresholds.len() + 1;
            let mut hist = vec![(0.0, 0.0, 0.0); n_bins];
            for &i in rows {
                let b = &mut hist[self.bins[i][f] as usize];
                b.0 += g[i];
                b.1 += h[i];
                b.2 += w[i];
            }
            let total_w: f64 = hist.iter().map(|b| b.2).sum();
            let (mut gl, mut hl, mut wl) = (0.0, 0.0, 0.0);
            for (b, bin) in hist.iter().enumerate().take(n_bins - 1) {
                gl += bin.0;
                hl += bin.1;
                wl += bin.2;
                if wl < self.min_weight || total_w - wl < self.min_weight {
                    continue;
                }
                let (gr, hr) = (gs - gl, hs - hl);
                let gain = gl * gl / (hl + lambda) + gr * gr / (hr + lambda) - parent;
                if gain > 1e-9 && best.is_none_or(|(bg, _, _)| gain > bg) {
                    best = Some((gain, f, b));
                }
            }
        }
        best.map(|(_, f, b)| (f, b))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn examples(n: usize) -> Vec<Example> {
        // Bots have feature 0 above 0.6; feature 1 is noise.
        (0..n)
            .map(|i| {
                let a = (i as f64 * 0.618_033_988_7).fract();
                let b = (i as f64 * 0.414_213_562_4).fract();
                let mut x = vec![f64::NAN; FEATURE_NAMES.len()];
                x[0] = a;
                x[1] = b;
                Example { x, bot: a > 0.6, weight: 1.0 }
            })
            .collect()
    }

    #[test]
    fn a_fitted_model_separates_what_can_be_separated_and_blames_the_right_feature() {
        let ex = examples(2_000);
        let m = fit(&ex, &FitParams::default(), Targets { human: 0.9, not_bot: 0.995 }, "test".into());
        let mut bot = ex[0].x.clone();
        bot[0] = 0.9;
        let mut human = bot.clone();
        human[0] = 0.2;
        assert!(m.logit(&bot) > 3.0 && m.logit(&human) < -3.0, "{} {}", m.logit(&bot), m.logit(&human));
        let (z, parts) = m.explain(&bot);
        assert!((z - m.logit(&bot)).abs() < 1e-9, "the parts add up to the logit");
        let top = parts.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map(|(i, _)| i);
        assert_eq!(top, Some(0), "{parts:?}");
        assert!(m.points(m.logit(&bot)) >= BOT_POINTS);
        assert!(m.points(m.logit(&human)) < SUSPICIOUS_POINTS);
    }

    #[test]
    fn points_are_monotone_and_bounded() {
        let m = Model::embedded();
        let mut last = 0.0;
        for i in -200..200 {
            let p = m.points(f64::from(i) / 10.0);
            assert!((0.0..=MAX_POINTS).contains(&p) && p >= last);
            last = p;
        }
    }

    #[test]
    fn the_embedded_model_loads_and_round_trips() {
        let m = Model::embedded();
        assert!(!m.trees.is_empty());
        let again: Model = serde_json::from_str(&serde_json::to_string(m).unwrap()).unwrap();
        let x = m.missing.clone();
        assert!((again.logit(&x) - m.logit(&x)).abs() < 1e-9);
        let c = m.calibration;
        assert!(c.start < c.suspicious && c.suspicious < c.bot, "{c:?}");
    }
}
