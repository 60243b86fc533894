//! The deployed approximate non-linear kernels ([`ApproxKernel`]) and how they are built from
//! an implementation choice ([`Approx`]) and the op's calibrated input statistics.
//!
//! Composition (NN-LUT style): softmax = exp approximation on `x − rowmax` + reciprocal of
//! the row sum; LayerNorm = exact mean and variance + inverse-square-root approximation;
//! GELU and ReLU are approximated directly. Reciprocal and inverse square root work on the
//! float's mantissa (m ∈ [1, 2) for 1/x, [1, 4) for 1/√x after making the exponent even) and
//! scale by a power of two, as a hardware unit does with a leading-one detector, so their
//! fitted range is fixed and covers every input.

use compbench_core::{NonlinearImpl, NonlinearKind};
use compbench_nn::NonlinearKernel;

use crate::curve::{Curve, PolyEval, PwlTable, pow2_portable, pow2_slice};
use crate::fit::{fit_poly, fit_pwl};
use crate::ibert::{self, IntGelu, IntLayerNorm, IntRelu, IntSoftmax};
use crate::layer_norm;

/// Which approximation replaces an op.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Approx {
    Exact,
    /// I-BERT integer-only, inputs quantized to `bits`.
    Ibert {
        bits: u32,
    },
    /// Piecewise-linear table with DP-fitted cut points.
    Pwl {
        segments: usize,
    },
    /// Base-2 softmax (softmax only).
    Softermax,
    /// Least-squares polynomial of the given degree.
    Poly {
        degree: usize,
    },
    /// y = x² (ReLU and GELU only).
    Square,
}

impl Approx {
    /// Whether this approximation is defined for `kind`.
    pub fn supports(self, kind: NonlinearKind) -> bool {
        use NonlinearKind as K;
        match self {
            Approx::Exact => true,
            Approx::Softermax => kind == K::Softmax,
            Approx::Square => matches!(kind, K::Relu | K::Gelu),
            Approx::Ibert { .. } | Approx::Pwl { .. } | Approx::Poly { .. } => {
                matches!(kind, K::Relu | K::Gelu | K::Softmax | K::LayerNorm)
            }
        }
    }

    /// Short kebab-case name for labels.
    pub fn name(self) -> String {
        match self {
            Approx::Exact => "exact".into(),
            Approx::Ibert { bits } => format!("ibert-int{bits}"),
            Approx::Pwl { segments } => format!("pwl{segments}"),
            Approx::Softermax => "softermax".into(),
            Approx::Poly { degree } => format!("poly{degree}"),
            Approx::Square => "square".into(),
        }
    }
}

/// What calibration saw at an op's input.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InputStats {
    pub min: f32,
    pub max: f32,
    /// Smallest `x − rowmax` (softmax's exp argument), 0 for other ops.
    pub exp_lo: f32,
    /// Row length.
    pub cols: usize,
}

impl InputStats {
    /// Statistics of `data` (rows of `cols`).
    pub fn of(data: &[f32], cols: usize) -> InputStats {
        let (mut min, mut max, mut exp_lo) = (f32::INFINITY, f32::NEG_INFINITY, 0.0f32);
        for row in data.chunks_exact(cols.max(1)) {
            let rmax = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let rmin = row.iter().copied().fold(f32::INFINITY, f32::min);
            min = min.min(rmin);
            max = max.max(rmax);
            exp_lo = exp_lo.min(rmin - rmax);
        }
        InputStats {
            min,
            max,
            exp_lo,
            cols,
        }
    }

    pub fn max_abs(&self) -> f32 {
        self.min.abs().max(self.max.abs())
    }
}

/// Fit `f` on `[lo, hi]` as the curve `approx` asks for.
fn curve(approx: Approx, f: impl Fn(f64) -> f64, lo: f64, hi: f64) -> Curve {
    match approx {
        Approx::Pwl { segments } => Curve::Pwl(PwlTable::from_fit(&fit_pwl(f, lo, hi, segments))),
        Approx::Poly { degree } => Curve::Poly(PolyEval::from_fit(&fit_poly(f, lo, hi, degree))),
        Approx::Square => Curve::Square,
        other => unreachable!("{other:?} is not a fitted curve"),
    }
}

/// The body of an approximate kernel.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    Exact,
    /// GELU or ReLU replaced by a curve.
    Elementwise(Curve),
    Softmax {
        exp: Curve,
        exp_lo: f32,
        recip: Curve,
    },
    LayerNorm {
        rsqrt: Curve,
    },
    Softermax,
    IntSoftmax(IntSoftmax),
    IntGelu(IntGelu),
    IntLayerNorm(IntLayerNorm),
    IntRelu(IntRelu),
}

/// An approximate non-linear op as deployed.
#[derive(Debug, Clone, PartialEq)]
pub struct ApproxKernel {
    pub kind: NonlinearKind,
    pub approx: Approx,
    pub body: Body,
}

/// Errors building a kernel (unsupported pairs are caught by `Method::check` first).
pub fn build(
    kind: NonlinearKind,
    approx: Approx,
    stats: &InputStats,
    range_scale: f32,
) -> Result<ApproxKernel, String> {
    use NonlinearKind as K;
    if !approx.supports(kind) {
        return Err(format!("{} does not apply to {kind:?}", approx.name()));
    }
    if !(stats.min.is_finite() && stats.max.is_finite()) {
        return Err(format!("{kind:?}: calibration saw no finite inputs"));
    }
    // Fitted range: the calibrated [min, max] scaled about 0, never empty.
    let lo = (stats.min * range_scale).min(-1e-3) as f64;
    let hi = (stats.max * range_scale).max(1e-3) as f64;
    let max_abs = stats.max_abs() * range_scale;
    let body = match (approx, kind) {
        (Approx::Exact, _) => Body::Exact,
        (Approx::Ibert { bits }, K::Softmax) => Body::IntSoftmax(IntSoftmax::new(max_abs, bits)),
        (Approx::Ibert { bits }, K::Gelu) => Body::IntGelu(IntGelu::new(max_abs, bits)),
        (Approx::Ibert { bits }, K::LayerNorm) => {
            Body::IntLayerNorm(IntLayerNorm::new(max_abs, bits, stats.cols))
        }
        (Approx::Ibert { bits }, K::Relu) => Body::IntRelu(IntRelu::new(max_abs, bits)),
        (Approx::Softermax, K::Softmax) => Body::Softermax,
        (_, K::Gelu) => Body::Elementwise(curve(approx, exact_gelu, lo, hi)),
        (_, K::Relu) => Body::Elementwise(curve(approx, |x| x.max(0.0), lo, hi)),
        (_, K::Softmax) => {
            let exp_lo = ((stats.exp_lo * range_scale) as f64).clamp(-80.0, -0.5);
            Body::Softmax {
                exp: curve(approx, f64::exp, exp_lo, 0.0),
                exp_lo: exp_lo as f32,
                recip: curve(approx, |m| 1.0 / m, 1.0, 2.0),
            }
        }
        (_, K::LayerNorm) => Body::LayerNorm {
            rsqrt: curve(approx, |m| 1.0 / m.sqrt(), 1.0, 4.0),
        },
        (a, k) => return Err(format!("{} does not apply to {k:?}", a.name())),
    };
    Ok(ApproxKernel { kind, approx, body })
}

/// Σ f(x) over `xs` in eight interleaved partial sums, combined pairwise: one fixed order
/// (the same bits on every path) that the compiler vectorizes, where a single running sum is a
/// serial dependency chain. The approximate kernels' own summation order; the exact kernels keep
/// theirs.
#[inline(always)]
pub fn lane_sum(xs: &[f32], f: impl Fn(f32) -> f32) -> f32 {
    let mut acc = [0.0f32; 8];
    let chunks = xs.chunks_exact(8);
    let tail = chunks.remainder();
    for ch in chunks {
        for (a, &v) in acc.iter_mut().zip(ch) {
            *a += f(v);
        }
    }
    let mut s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for &v in tail {
        s += f(v);
    }
    s
}

/// The largest of `xs` (NaN ignored, as `f32::max` does; −∞ when empty), in eight lanes. Any
/// order gives the same value.
#[inline(always)]
pub fn lane_max(xs: &[f32]) -> f32 {
    let mut acc = [f32::NEG_INFINITY; 8];
    let chunks = xs.chunks_exact(8);
    let tail = chunks.remainder();
    for ch in chunks {
        for (a, &v) in acc.iter_mut().zip(ch) {
            *a = a.max(v);
        }
    }
    acc.iter()
        .chain(tail)
        .copied()
        .fold(f32::NEG_INFINITY, f32::max)
}

/// GELU with erf in f64 (the fitting target).
pub fn exact_gelu(x: f64) -> f64 {
    0.5 * x * (1.0 + libm::erf(x / std::f64::consts::SQRT_2))
}

/// `1/s` from the mantissa approximation and an exponent shift (s positive and normal).
#[inline]
pub fn recip_normalized(c: &Curve, s: f32) -> f32 {
    let bits = s.to_bits();
    let e = ((bits >> 23) & 0xff) as i32 - 127;
    let m = f32::from_bits((bits & 0x007f_ffff) | (127 << 23));
    c.eval1(m) * f32::from_bits(((127 - e) as u32) << 23)
}

/// `1/√v` from the mantissa approximation on [1, 4) and an exponent shift (v positive, normal).
#[inline]
pub fn rsqrt_normalized(c: &Curve, v: f32) -> f32 {
    let bits = v.to_bits();
    let mut e = ((bits >> 23) & 0xff) as i32 - 127;
    let mut m = f32::from_bits((bits & 0x007f_ffff) | (127 << 23));
    if e & 1 != 0 {
        m *= 2.0;
        e -= 1;
    }
    c.eval1(m) * f32::from_bits(((127 - e / 2) as u32) << 23)
}

impl ApproxKernel {
    /// The op on `rows × cols` values in place; `simd` picks the AVX2 curve loops (when the
    /// CPU has them) or the plain ones. Both give identical bits.
    pub fn run(&self, x: &mut [f32], rows: usize, cols: usize, simd: bool) {
        debug_assert_eq!(x.len(), rows * cols);
        let eval = |c: &Curve, v: &mut [f32]| {
            if simd { c.eval(v) } else { c.eval_portable(v) }
        };
        match &self.body {
            Body::Exact => compbench_nn::deployed::exact_kernel(self.kind).forward(x, rows, cols),
            Body::Elementwise(c) => eval(c, x),
            Body::Softmax { exp, exp_lo, recip } => {
                for row in x.chunks_exact_mut(cols) {
                    let mx = lane_max(row);
                    row.iter_mut().for_each(|v| *v = (*v - mx).max(*exp_lo));
                    eval(exp, row);
                    row.iter_mut().for_each(|v| *v = v.max(0.0));
                    let sum = lane_sum(row, |v| v);
                    let inv = recip_normalized(recip, sum.max(f32::MIN_POSITIVE));
                    row.iter_mut().for_each(|v| *v *= inv);
                }
            }
            Body::LayerNorm { rsqrt } if simd => layer_norm::rows(x, cols, rsqrt),
            Body::LayerNorm { rsqrt } => layer_norm::rows_portable(x, cols, rsqrt),
            Body::Softermax => {
                for row in x.chunks_exact_mut(cols) {
                    let mx = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                    row.iter_mut().for_each(|v| *v -= mx);
                    if simd {
                        pow2_slice(row)
                    } else {
                        pow2_portable(row)
                    }
                    let sum: f32 = row.iter().sum();
                    let inv = 1.0 / sum;
                    row.iter_mut().for_each(|v| *v *= inv);
                }
            }
            Body::IntSoftmax(k) if simd => ibert::fast::softmax(k, x, cols),
            Body::IntSoftmax(k) => {
                let mut codes = Vec::with_capacity(cols);
                for row in x.chunks_exact_mut(cols) {
                    k.row(row, &mut codes);
                }
            }
            Body::IntLayerNorm(k) if simd => ibert::fast::layer_norm(k, x, cols),
            Body::IntLayerNorm(k) => {
                let mut codes = Vec::with_capacity(cols);
                for row in x.chunks_exact_mut(cols) {
                    k.row(row, &mut codes);
                }
            }
            Body::IntGelu(k) if simd => ibert::fast::gelu(k, x),
            Body::IntGelu(k) => k.apply(x),
            Body::IntRelu(k) if simd => ibert::fast::relu(k, x),
            Body::IntRelu(k) => k.apply(x),
        }
    }

    /// The Workload IR implementation this kernel is priced as.
    pub fn ir_impl(&self) -> NonlinearImpl {
        match self.approx {
            Approx::Exact => NonlinearImpl::Exact,
            Approx::Ibert { bits } => NonlinearImpl::Integer { bits: bits as u8 },
            Approx::Pwl { segments } => NonlinearImpl::PiecewiseLinear {
                segments: segments as u16,
                bits: 32,
            },
            Approx::Softermax => NonlinearImpl::Base2Softmax,
            Approx::Poly { degree } => NonlinearImpl::Polynomial {
                degree: degree as u8,
            },
            // x² is one multiply: priced as a degree-1 Horner step.
            Approx::Square => NonlinearImpl::Polynomial { degree: 1 },
        }
    }
}

impl NonlinearKernel for ApproxKernel {
    fn kind(&self) -> NonlinearKind {
        self.kind
    }

    fn implementation(&self) -> NonlinearImpl {
        self.ir_impl()
    }

    fn forward(&self, x: &mut [f32], rows: usize, cols: usize) {
        self.run(x, rows, cols, true)
    }
}

/// Exact f32 reference of `kind` (the deployed exact kernel).
pub fn exact_f32(kind: NonlinearKind, x: &mut [f32], rows: usize, cols: usize) {
    compbench_nn::deployed::exact_kernel(kind).forward(x, rows, cols)
}
