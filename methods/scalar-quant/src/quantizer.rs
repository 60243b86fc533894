//! Uniform scalar quantizers: `q = clamp(round(x / s) + z, qmin, qmax)`, `x̂ = s · (q − z)`.
//!
//! One [`QParams`] describes one grid (a tensor, or one output channel of a weight). Grids come
//! from a clipping range `[lo, hi]` chosen by calibration ([`crate::calibrate`]).
//!
//! Invariants the kernels rely on:
//! * `round` is round-half-to-even, the same as burn's `Tensor::round`, so the fake-quant
//!   training forward and the deployed integer kernel pick the same code for the same float.
//! * Zero is exactly representable (`z` is an integer inside `[qmin, qmax]`), so ReLU zeros and
//!   zero padding quantize without error.
//! * Weight grids never use the code −128: the AVX2 int8 kernel's exact path for 8-bit
//!   activations (`sign`/`abs` trick, see `kernels::int8`) needs |w| ≤ 127. Symmetric grids are
//!   restricted (`[−(2^(b−1)−1), 2^(b−1)−1]`, as in TensorRT and the Nagel et al. white paper)
//!   and 8-bit affine weight grids use 255 levels.

/// Whether the grid is centred on zero (`z = 0`) or fitted to an arbitrary range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// `z = 0`. Signed data uses `[−(2^(b−1)−1), 2^(b−1)−1]`; data known to be non-negative
    /// (post-ReLU activations) uses the unsigned grid `[0, 2^b−1]`.
    Symmetric,
    /// `s = (hi − lo) / (levels − 1)`, `z = round(−lo / s)`: uses every level on skewed ranges.
    Affine,
}

/// Which operand a grid is for (weights avoid the code −128, see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operand {
    Weight,
    Activation,
}

/// One uniform quantization grid.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QParams {
    pub scale: f32,
    pub zero_point: i32,
    pub qmin: i32,
    pub qmax: i32,
}

/// Round half to even (what burn's `round` does), so both sides of a train/deploy comparison agree.
///
/// Written with the 1.5·2^23 magic constant rather than `f32::round_ties_even` because the latter
/// is a libm call on baseline x86-64 (no SSE4.1), while this auto-vectorizes in the activation
/// quantization loops. Exact for |x| < 2^22; larger values are already integers.
#[inline(always)]
pub fn round_even(x: f32) -> f32 {
    const MAGIC: f32 = 12_582_912.0; // 1.5 · 2^23
    if x.abs() < 4_194_304.0 {
        (x + MAGIC) - MAGIC
    } else {
        x
    }
}

impl QParams {
    /// The grid for a clipping range `[lo, hi]` at `bits` (1..=8).
    ///
    /// The range is widened to contain 0 (so zero is exact). A degenerate range (all zeros)
    /// gets scale 1 so quantization stays finite.
    pub fn from_range(lo: f32, hi: f32, bits: u32, scheme: Scheme, operand: Operand) -> QParams {
        assert!((1..=8).contains(&bits), "bits must be in 1..=8, got {bits}");
        let lo = lo.min(0.0);
        let hi = hi.max(0.0);
        let levels = 1i32 << bits;
        match scheme {
            Scheme::Symmetric if lo >= 0.0 && operand == Operand::Activation => {
                // Non-negative data: the unsigned grid wastes no level on negative values.
                let qmax = levels - 1;
                QParams {
                    scale: nonzero(hi / qmax as f32),
                    zero_point: 0,
                    qmin: 0,
                    qmax,
                }
            }
            Scheme::Symmetric => {
                let qmax = (levels / 2 - 1).max(1);
                let m = lo.abs().max(hi);
                QParams {
                    scale: nonzero(m / qmax as f32),
                    zero_point: 0,
                    qmin: -qmax,
                    qmax,
                }
            }
            Scheme::Affine => {
                let qmax = if bits == 8 && operand == Operand::Weight {
                    254
                } else {
                    levels - 1
                };
                let scale = nonzero((hi - lo) / qmax as f32);
                let z = (round_even(-lo / scale) as i32).clamp(0, qmax);
                QParams {
                    scale,
                    zero_point: z,
                    qmin: 0,
                    qmax,
                }
            }
        }
    }

    /// Positive levels above zero (`Q_P` in LSQ's notation).
    pub fn q_p(&self) -> i32 {
        self.qmax - self.zero_point
    }

    /// Levels below zero (`Q_N` in LSQ's notation).
    pub fn q_n(&self) -> i32 {
        self.zero_point - self.qmin
    }

    #[inline]
    pub fn quantize(&self, x: f32) -> i32 {
        let q = round_even(x / self.scale) + self.zero_point as f32;
        // `as i32` saturates and maps NaN to 0, so the clamp below is total.
        (q as i32).clamp(self.qmin, self.qmax)
    }

    #[inline]
    pub fn dequantize(&self, q: i32) -> f32 {
        self.scale * (q - self.zero_point) as f32
    }

    /// `dequantize(quantize(x))`.
    #[inline]
    pub fn fake(&self, x: f32) -> f32 {
        self.dequantize(self.quantize(x))
    }

    /// Lowest and highest representable values.
    pub fn range(&self) -> (f32, f32) {
        (self.dequantize(self.qmin), self.dequantize(self.qmax))
    }
}

fn nonzero(s: f32) -> f32 {
    if s.is_finite() && s > 0.0 { s } else { 1.0 }
}

/// Mean squared error of quantizing `xs` on grid `qp`.
pub fn mse(xs: &[f32], qp: &QParams) -> f64 {
    if xs.is_empty() {
        return 0.0;
    }
    xs.iter()
        .map(|&x| ((x - qp.fake(x)) as f64).powi(2))
        .sum::<f64>()
        / xs.len() as f64
}

/// Weights (`k × n`, row-major, burn's `[in, out]` layout) quantized to integer codes with one
/// grid per output column (`per_channel`) or one grid for all.
#[derive(Debug, Clone, PartialEq)]
pub struct QuantizedWeights {
    pub k: usize,
    pub n: usize,
    /// Codes, `k × n` row-major, each inside its column's `[qmin, qmax]`.
    pub codes: Vec<i32>,
    /// One grid per column (`n` entries; all equal when per-tensor).
    pub grids: Vec<QParams>,
    pub bits: u32,
}

impl QuantizedWeights {
    /// Quantize `w` with the given per-column grids (`grids.len() == n`).
    pub fn new(w: &[f32], k: usize, n: usize, grids: Vec<QParams>, bits: u32) -> QuantizedWeights {
        assert_eq!(w.len(), k * n);
        assert_eq!(grids.len(), n);
        let codes = w
            .iter()
            .enumerate()
            .map(|(i, &x)| grids[i % n].quantize(x))
            .collect();
        QuantizedWeights {
            k,
            n,
            codes,
            grids,
            bits,
        }
    }

    /// The dequantized weights the integer kernel computes with, `k × n`.
    pub fn dequantized(&self) -> Vec<f32> {
        self.codes
            .iter()
            .enumerate()
            .map(|(i, &q)| self.grids[i % self.n].dequantize(q))
            .collect()
    }
}

/// Column `j` of a `k × n` row-major matrix.
pub fn column(w: &[f32], k: usize, n: usize, j: usize) -> Vec<f32> {
    (0..k).map(|r| w[r * n + j]).collect()
}
