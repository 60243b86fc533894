//! Calibration: choosing the clipping range `[lo, hi]` a grid covers.
//!
//! * min-max: the observed extremes; no clipping error, the largest rounding error.
//! * percentile: clip at the p-th percentile of `|x|` (symmetric) or at the (100−p)-th and p-th
//!   percentiles (affine); trades a few clipped outliers for a finer grid. NVIDIA's 8-bit study
//!   (Wu et al., arXiv 2004.09602) uses 99.9-99.999.
//! * MSE: grid-search a shrink factor of the min-max range minimizing `‖x − Q(x)‖²`
//!   (Banner et al.; the "MSE" calibrator of TensorRT / pytorch-quantization).
//! * KL (entropy): TensorRT's calibrator (Migacz, GTC 2017): histogram `|x|` into
//!   [`KL_BINS`] bins, and pick the clip whose quantized histogram Q (the clipped reference
//!   merged into as many bins as the grid has positive levels, spread back over the non-empty
//!   bins) is closest to the reference P (outliers folded into its last bin) in KL(P‖Q).
//!
//! Large inputs are subsampled with a fixed stride (deterministic) to at most [`MAX_SAMPLES`]
//! values: percentiles and MSE over 2^18 samples are stable to well under a grid step.

use crate::quantizer::{Operand, QParams, Scheme};

/// Values kept for percentile and MSE searches.
pub const MAX_SAMPLES: usize = 1 << 18;

/// Shrink factors tried by the MSE search: 0.20, 0.21, ..., 1.00.
const MSE_STEPS: usize = 81;

/// Histogram bins of the KL search (TensorRT uses 2048).
pub const KL_BINS: usize = 2048;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Calibration {
    MinMax,
    /// Percentile in (50, 100].
    Percentile(f64),
    Mse,
    /// Minimum KL divergence between the clipped and the quantized `|x|` histograms.
    Kl,
}

impl Calibration {
    pub const NAMES: &'static [&'static str] = &["minmax", "percentile", "mse", "kl"];

    /// Parse a calibration name (`percentile` takes its value from `pct`).
    pub fn parse(name: &str, pct: f64) -> Option<Calibration> {
        match name {
            "minmax" => Some(Calibration::MinMax),
            "percentile" => Some(Calibration::Percentile(pct)),
            "mse" => Some(Calibration::Mse),
            "kl" => Some(Calibration::Kl),
            _ => None,
        }
    }
}

/// A deterministic strided subsample of at most `MAX_SAMPLES` values.
pub fn subsample(xs: &[f32]) -> Vec<f32> {
    if xs.len() <= MAX_SAMPLES {
        return xs.to_vec();
    }
    let stride = xs.len().div_ceil(MAX_SAMPLES);
    xs.iter().step_by(stride).copied().collect()
}

/// Observed minimum and maximum (0, 0 for empty input; NaNs ignored).
pub fn min_max(xs: &[f32]) -> (f32, f32) {
    xs.iter()
        .filter(|x| x.is_finite())
        .fold((0.0f32, 0.0f32), |(lo, hi), &x| (lo.min(x), hi.max(x)))
}

/// The `p`-th percentile (0..=100) of `xs` by selection, on a copy.
pub fn percentile(xs: &[f32], p: f64) -> f32 {
    let mut v: Vec<f32> = subsample(xs)
        .into_iter()
        .filter(|x| x.is_finite())
        .collect();
    if v.is_empty() {
        return 0.0;
    }
    let idx = (((p / 100.0) * (v.len() - 1) as f64).round() as usize).min(v.len() - 1);
    let (_, x, _) = v.select_nth_unstable_by(idx, |a, b| a.total_cmp(b));
    *x
}

/// The grid a calibration picks for `xs` at `bits` under `scheme`.
pub fn calibrate(
    xs: &[f32],
    bits: u32,
    scheme: Scheme,
    operand: Operand,
    how: Calibration,
) -> QParams {
    let (lo, hi) = min_max(xs);
    let nonneg = lo >= 0.0;
    let grid = |lo: f32, hi: f32| QParams::from_range(lo, hi, bits, scheme, operand);
    match how {
        Calibration::MinMax => grid(lo, hi),
        Calibration::Percentile(p) => {
            if scheme == Scheme::Symmetric || nonneg {
                let abs: Vec<f32> = subsample(xs).iter().map(|x| x.abs()).collect();
                let c = percentile(&abs, p);
                if nonneg { grid(0.0, c) } else { grid(-c, c) }
            } else {
                grid(percentile(xs, 100.0 - p), percentile(xs, p))
            }
        }
        Calibration::Mse => {
            let sample = subsample(xs);
            let mut best = (f64::INFINITY, grid(lo, hi));
            for i in 0..MSE_STEPS {
                let f = 0.2 + 0.8 * i as f32 / (MSE_STEPS - 1) as f32;
                let qp = grid(lo * f, hi * f);
                let e = crate::quantizer::mse(&sample, &qp);
                // `<=` keeps the widest range among ties, i.e. min-max when clipping never helps.
                if e <= best.0 {
                    best = (e, qp);
                }
            }
            best.1
        }
        Calibration::Kl => {
            let abs: Vec<f32> = subsample(xs).iter().map(|x| x.abs()).collect();
            // Positive levels of this grid shape: what the clip [0, c] is divided into.
            let unit = grid(if nonneg { 0.0 } else { -1.0 }, 1.0);
            let levels = (unit.qmax - unit.zero_point).max(1) as usize;
            let c = kl_threshold(&abs, levels);
            if nonneg {
                grid(0.0, c)
            } else if scheme == Scheme::Symmetric {
                grid(-c, c)
            } else {
                grid(lo.max(-c), hi.min(c))
            }
        }
    }
}

/// The clip of non-negative `abs` values minimizing KL(P‖Q) for a grid with `levels` positive
/// levels (TensorRT's entropy calibration; see the module docs). Returns the observed maximum
/// when the data fit in fewer bins than levels (nothing to gain from clipping).
pub fn kl_threshold(abs: &[f32], levels: usize) -> f32 {
    let max = abs
        .iter()
        .filter(|x| x.is_finite())
        .fold(0.0f32, |m, &x| m.max(x));
    if max <= 0.0 || levels >= KL_BINS {
        return max;
    }
    let width = max / KL_BINS as f32;
    let mut hist = vec![0f64; KL_BINS];
    for &x in abs.iter().filter(|x| x.is_finite()) {
        hist[((x / width) as usize).min(KL_BINS - 1)] += 1.0;
    }
    let mut best = (f64::INFINITY, KL_BINS);
    let mut p = vec![0f64; KL_BINS];
    let mut q = vec![0f64; KL_BINS];
    for i in levels..=KL_BINS {
        // Reference: the first i bins, outliers folded into the last one.
        p[..i].copy_from_slice(&hist[..i]);
        p[i - 1] += hist[i..].iter().sum::<f64>();
        // Candidate: the first i bins merged into `levels` groups, each group's mass spread
        // evenly over its non-empty bins (empty bins stay empty, as in the reference).
        for g in 0..levels {
            let (a, b) = (
                g * i / levels,
                ((g + 1) * i / levels).max(g * i / levels + 1),
            );
            let mass: f64 = hist[a..b].iter().sum();
            let nonempty = hist[a..b].iter().filter(|&&h| h > 0.0).count();
            for j in a..b {
                q[j] = if hist[j] > 0.0 {
                    mass / nonempty as f64
                } else {
                    0.0
                };
            }
        }
        let kl = kl_divergence(&p[..i], &q[..i]);
        // `<` keeps the smallest clip among ties.
        if kl < best.0 {
            best = (kl, i);
        }
    }
    (best.1 as f32 + 0.5).min(KL_BINS as f32) * width
}

/// KL(P‖Q) of two unnormalized histograms; bins where P has mass and Q has none count with a
/// tiny Q (TensorRT smooths the same way), so the search never sees an infinity.
fn kl_divergence(p: &[f64], q: &[f64]) -> f64 {
    let (sp, sq) = (p.iter().sum::<f64>(), q.iter().sum::<f64>());
    if sp <= 0.0 || sq <= 0.0 {
        return f64::INFINITY;
    }
    p.iter()
        .zip(q)
        .filter(|(pi, _)| **pi > 0.0)
        .map(|(pi, qi)| {
            let (pn, qn) = (pi / sp, (qi / sq).max(1e-12));
            pn * (pn / qn).ln()
        })
        .sum()
}

/// One grid per column of a `k × n` row-major weight matrix (per-channel), or one shared grid.
pub fn weight_grids(
    w: &[f32],
    k: usize,
    n: usize,
    bits: u32,
    scheme: Scheme,
    how: Calibration,
    per_channel: bool,
) -> Vec<QParams> {
    if per_channel {
        (0..n)
            .map(|j| {
                calibrate(
                    &crate::quantizer::column(w, k, n, j),
                    bits,
                    scheme,
                    Operand::Weight,
                    how,
                )
            })
            .collect()
    } else {
        vec![calibrate(w, bits, scheme, Operand::Weight, how); n]
    }
}
