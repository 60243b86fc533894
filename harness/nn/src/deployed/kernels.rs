//! The exact float kernels of the deployed model: [`DenseGemm`] and the exact non-linear ops.
//! Method crates add other kernel kinds by implementing the same traits.

use compbench_core::{Gemm, NonlinearImpl, NonlinearKind, NumFormat};

use super::{GemmKernel, NonlinearKernel};
use crate::kernels::sgemm::{PackedB, sgemm_conv_nhwc, sgemm_packed};

/// Dense f32 GEMM with baked-in `K×N` weights (packed once for [`sgemm_packed`]) and bias.
#[derive(Debug, Clone)]
pub struct DenseGemm {
    k: usize,
    n: usize,
    weights: Vec<f32>,
    bias: Option<Vec<f32>>,
    packed: PackedB,
}

impl DenseGemm {
    /// `weights` is `K×N` row-major; `bias` has N values.
    pub fn new(k: usize, n: usize, weights: Vec<f32>, bias: Option<Vec<f32>>) -> DenseGemm {
        assert_eq!(
            weights.len(),
            k * n,
            "DenseGemm weights must be K×N = {k}×{n}"
        );
        if let Some(b) = &bias {
            assert_eq!(b.len(), n, "DenseGemm bias must have N = {n} values");
        }
        let packed = PackedB::new(k, n, &weights);
        DenseGemm {
            k,
            n,
            weights,
            bias,
            packed,
        }
    }
}

impl GemmKernel for DenseGemm {
    fn kind(&self) -> &'static str {
        "dense-f32"
    }

    fn k(&self) -> usize {
        self.k
    }

    fn n(&self) -> usize {
        self.n
    }

    fn forward(&self, x: &[f32], m: usize, out: &mut [f32]) {
        sgemm_packed(m, x, &self.packed, out);
        add_bias(out, self.bias.as_deref(), self.n);
    }

    fn gemm_ir(&self, m: u64) -> Gemm {
        Gemm::dense(m, self.k as u64, self.n as u64, NumFormat::FP32)
    }

    fn weight_bits(&self) -> f64 {
        (self.k * self.n) as f64 * 32.0
    }

    /// The GEMM read straight from the images (no im2col buffer), then the bias: the bits of
    /// im2col + [`DenseGemm::forward`].
    fn conv_nhwc(
        &self,
        x: &[f32],
        batch: usize,
        h: usize,
        w: usize,
        g: &crate::hooks::ConvGeom,
        out: &mut [f32],
    ) -> bool {
        if !sgemm_conv_nhwc(x, batch, h, w, g, &self.packed, out) {
            return false;
        }
        add_bias(out, self.bias.as_deref(), self.n);
        true
    }

    fn dense_weights(&self) -> Option<(&[f32], Option<&[f32]>)> {
        Some((&self.weights, self.bias.as_deref()))
    }
}

/// Add `bias` (N values) to every row of `out` (rows × N); a helper for GEMM kernels.
pub fn add_bias(out: &mut [f32], bias: Option<&[f32]>, n: usize) {
    if let Some(b) = bias {
        for row in out.chunks_exact_mut(n) {
            for (o, bb) in row.iter_mut().zip(b) {
                *o += bb;
            }
        }
    }
}

/// The exact op of `kind` (ReLU, GELU with erf, SiLU, softmax, LayerNorm's normalization).
pub fn exact_kernel(kind: NonlinearKind) -> Box<dyn NonlinearKernel> {
    Box::new(ExactNonlinear { kind })
}

/// Exact float non-linear ops, matching [`crate::hooks::exact_nonlinear`].
#[derive(Debug, Clone, Copy)]
pub struct ExactNonlinear {
    pub kind: NonlinearKind,
}

/// LayerNorm's ε (same as the trainable hooks).
pub const LN_EPS: f32 = 1e-5;

impl NonlinearKernel for ExactNonlinear {
    fn kind(&self) -> NonlinearKind {
        self.kind
    }

    fn implementation(&self) -> NonlinearImpl {
        NonlinearImpl::Exact
    }

    fn forward(&self, x: &mut [f32], rows: usize, cols: usize) {
        debug_assert_eq!(x.len(), rows * cols);
        match self.kind {
            NonlinearKind::Relu => x.iter_mut().for_each(|v| *v = v.max(0.0)),
            // The vectorized erff (bit-identical to libm's, tested on all 2³² inputs):
            // scalar libm erff made GELU a third of the deployed ViT's time.
            NonlinearKind::Gelu => crate::fused::kernels::gelu_in_place(x),
            NonlinearKind::Silu => x.iter_mut().for_each(|v| *v /= 1.0 + (-*v).exp()),
            NonlinearKind::Softmax => softmax_rows(x, cols),
            NonlinearKind::LayerNorm => layer_norm_rows(x, cols),
            NonlinearKind::MaxPool | NonlinearKind::Other => {}
        }
    }
}

/// `0.5·x·(1 + erf(x/√2))`, the same formula and erf (libm) as burn-flex.
#[inline]
pub fn gelu(x: f32) -> f32 {
    0.5 * x * (1.0 + libm::erff(x / std::f32::consts::SQRT_2))
}

/// Numerically stable softmax of one row, in place: the definition [`softmax_rows`] follows.
pub fn softmax_row(row: &mut [f32]) {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    crate::fused::exp::exp_sub_in_place(row, max);
    let sum: f32 = row.iter().sum();
    let inv = 1.0 / sum;
    row.iter_mut().for_each(|v| *v *= inv);
}

/// `(x − mean)/√(var + ε)` of one row (biased variance), in place: the definition
/// [`layer_norm_rows`] follows.
pub fn layer_norm_row(row: &mut [f32]) {
    let n = row.len() as f32;
    let mean = row.iter().sum::<f32>() / n;
    let var = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / n;
    let inv = 1.0 / (var + LN_EPS).sqrt();
    row.iter_mut().for_each(|v| *v = (*v - mean) * inv);
}

/// Rows reduced side by side in [`softmax_rows`] and [`layer_norm_rows`].
const ROWS_AT_ONCE: usize = 8;

/// One fold per row of a group of [`ROWS_AT_ONCE`] rows, all advanced one column at a time:
/// each row's values are folded in its own order (so each result is the one-row fold's), while
/// the core gets eight independent chains instead of one.
#[inline(always)]
fn fold_rows(
    g: &[f32],
    cols: usize,
    init: f32,
    f: impl Fn(usize, f32, f32) -> f32,
) -> [f32; ROWS_AT_ONCE] {
    let mut acc = [init; ROWS_AT_ONCE];
    for j in 0..cols {
        for (r, a) in acc.iter_mut().enumerate() {
            *a = f(r, *a, g[r * cols + j]);
        }
    }
    acc
}

/// [`softmax_row`] on every row of `x` (`cols` per row), bit for bit.
///
/// Why: a row's max and sum are chains of dependent operations (49 or 64 long in the ViT), so
/// one row at a time the core waits on each add's latency; these were a quarter of the
/// deployed ViT's time. [`fold_rows`] reduces eight rows side by side.
pub fn softmax_rows(x: &mut [f32], cols: usize) {
    if cols == 0 {
        return;
    }
    let mut groups = x.chunks_exact_mut(ROWS_AT_ONCE * cols);
    for g in &mut groups {
        let max = fold_rows(g, cols, f32::NEG_INFINITY, |_, m, v| m.max(v));
        for (row, m) in g.chunks_exact_mut(cols).zip(max) {
            crate::fused::exp::exp_sub_in_place(row, m);
        }
        let sum = fold_rows(g, cols, 0.0, |_, s, v| s + v);
        for (row, s) in g.chunks_exact_mut(cols).zip(sum) {
            let inv = 1.0 / s;
            row.iter_mut().for_each(|v| *v *= inv);
        }
    }
    groups
        .into_remainder()
        .chunks_exact_mut(cols)
        .for_each(softmax_row);
}

/// [`layer_norm_row`] on every row of `x` (`cols` per row), bit for bit; eight rows reduced side
/// by side, as in [`softmax_rows`].
pub fn layer_norm_rows(x: &mut [f32], cols: usize) {
    if cols == 0 {
        return;
    }
    let n = cols as f32;
    let mut groups = x.chunks_exact_mut(ROWS_AT_ONCE * cols);
    for g in &mut groups {
        // `Sum for f32` starts from −0.0; so do these sums, to match it bit for bit.
        let mean = fold_rows(g, cols, -0.0, |_, s, v| s + v).map(|s| s / n);
        let var = fold_rows(g, cols, -0.0, |r, s, v| {
            let d = v - mean[r];
            s + d * d
        });
        for ((row, m), v) in g.chunks_exact_mut(cols).zip(mean).zip(var) {
            let inv = 1.0 / (v / n + LN_EPS).sqrt();
            row.iter_mut().for_each(|x| *x = (*x - m) * inv);
        }
    }
    groups
        .into_remainder()
        .chunks_exact_mut(cols)
        .for_each(layer_norm_row);
}
