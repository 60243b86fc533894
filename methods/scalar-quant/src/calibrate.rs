//! Calibration: choosing the clipping range `[lo, hi]` a grid covers.
//!
//! * min-max: the observed extremes; no clipping error, the largest rounding error.
//! * percentile: clip at the p-th percentile of `|x|` (symmetric) or at the (100−p)-th and p-th
//!   percentiles (affine); trades a few clipped outliers for a finer grid. NVIDIA's 8-bit study
//!   (Wu et al., arXiv 2004.09602) uses 99.9-99.999.
//! * MSE: grid-search a shrink factor of the min-max range minimizing `‖x − Q(x)‖²`
//!   (Banner et al.; the "MSE" calibrator of TensorRT / pytorch-quantization).
//!
//! Large inputs are subsampled with a fixed stride (deterministic) to at most [`MAX_SAMPLES`]
//! values: percentiles and MSE over 2^18 samples are stable to well under a grid step.

use crate::quantizer::{Operand, QParams, Scheme};

/// Values kept for percentile and MSE searches.
pub const MAX_SAMPLES: usize = 1 << 18;

/// Shrink factors tried by the MSE search: 0.20, 0.21, ..., 1.00.
const MSE_STEPS: usize = 81;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Calibration {
    MinMax,
    /// Percentile in (50, 100].
    Percentile(f64),
    Mse,
}

impl Calibration {
    pub const NAMES: &'static [&'static str] = &["minmax", "percentile", "mse"];

    /// Parse a calibration name (`percentile` takes its value from `pct`).
    pub fn parse(name: &str, pct: f64) -> Option<Calibration> {
        match name {
            "minmax" => Some(Calibration::MinMax),
            "percentile" => Some(Calibration::Percentile(pct)),
            "mse" => Some(Calibration::Mse),
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
    }
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
