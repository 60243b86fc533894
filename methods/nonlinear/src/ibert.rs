//! I-BERT's integer-only non-linear ops (Kim et al., ICML 2021): i-exp, i-GELU (i-erf), i-sqrt,
//! and the integer softmax and LayerNorm built from them, with the published constants and
//! scale handling (as in the authors' and HuggingFace's `IntSoftmax`/`IntGELU`/`IntLayerNorm`).
//!
//! Our network is float between GEMMs, so each kernel quantizes its input to a signed `bits`-bit
//! integer with a scale fixed at calibration (I-BERT receives integers with a known scale from the
//! preceding integer GEMM), runs the integer algorithm, and dequantizes with the output scale.
//! Integer ops are on i32 except where I-BERT's reference itself computes in wider precision
//! (its PyTorch code holds these in float tensors): softmax's row sum and normalization
//! product and LayerNorm's final `y·factor`, which we hold in i64.
//!
//! Scale derivations (the integer constants) are computed once per kernel in f64 with `floor`,
//! exactly as the reference code does.

/// I-BERT's i-exp polynomial: exp(r) ≈ A·(r + B)² + C on r ∈ (−ln2, 0].
pub const EXP_A: f64 = 0.358_151_47;
pub const EXP_B_OVER_A: f64 = 0.969_632_38 / 0.358_151_47;
pub const EXP_C_OVER_A: f64 = 1.0 / 0.358_151_47;
/// The range-reduction constant x0 = −ln 2 (as published, to 4 digits).
#[allow(clippy::approx_constant)] // I-BERT's published constant, not LN_2
pub const EXP_X0: f64 = -0.6931;
/// Shift budget n = 30: inputs below n·x0 saturate.
pub const EXP_N: i32 = 30;
/// i-erf: L(u) = sgn(u)·[a·(min(|u|, −b) + b)² + 1].
pub const ERF_A: f64 = -0.2888;
pub const ERF_B: f64 = -1.769;
/// GELU's 1/√2 as I-BERT's code writes it (k = 1.4142).
#[allow(clippy::approx_constant)] // I-BERT's published constant, not SQRT_2
pub const GELU_K: f64 = 1.4142;
/// i-erf's output right shift (the reference's overflow guard, `const = 14`).
pub const ERF_SHIFT: u32 = 14;
/// Softmax output bits (I-BERT's `output_bit = 8`): probabilities in steps of 2⁻⁸.
pub const SOFTMAX_OUT_BITS: u32 = 8;

/// The input scale `max_abs/qmax`, raised (coarser codes, never clipping more) until the
/// kernel's integer intermediates fit i32 by `fits(scale)`.
fn scale_fitting(max_abs: f32, qmax: i32, fits: impl Fn(f64) -> bool) -> f32 {
    let mut s = (max_abs.max(1e-6) / qmax as f32) as f64;
    while !fits(s) {
        s *= 1.25;
    }
    s as f32
}

/// Largest magnitude of a signed `bits`-bit code.
pub fn qmax(bits: u32) -> i32 {
    (1 << (bits - 1)) - 1
}

/// Round-to-nearest-even code of `x` at scale `s`, clamped to ±qmax.
#[inline]
pub fn quantize(x: f32, inv_scale: f32, qmax: i32) -> i32 {
    let q = (x * inv_scale).round_ties_even();
    q.clamp(-(qmax as f32), qmax as f32) as i32
}

/// ⌊√n⌋ by I-BERT's Newton iteration (Algorithm 4): start at 2^⌈bits(n)/2⌉ ≥ √n and iterate
/// x ← ⌊(x + ⌊n/x⌋)/2⌋ while it decreases.
pub fn isqrt(n: u64) -> u64 {
    if n == 0 {
        return 0;
    }
    let bits = 64 - n.leading_zeros();
    let mut x = 1u64 << bits.div_ceil(2);
    loop {
        let y = (x + n / x) / 2;
        if y >= x {
            return x;
        }
        x = y;
    }
}

/// The integer constants of i-exp at input scale `s`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IExp {
    /// ⌊x0/s⌋ (negative).
    pub x0: i32,
    /// ⌊(b/a)/s⌋.
    pub b: i32,
    /// ⌊(c/a)/s²⌋.
    pub c: i32,
    /// Output scale a·s² (of the value before the 2^−z shift).
    pub out_scale: f64,
}

impl IExp {
    pub fn new(s: f64) -> IExp {
        IExp {
            x0: (EXP_X0 / s).floor() as i32,
            b: (EXP_B_OVER_A / s).floor() as i32,
            c: (EXP_C_OVER_A / (s * s)).floor() as i32,
            out_scale: EXP_A * s * s,
        }
    }

    /// exp(q·s) / out_scale for q ≤ 0, as an integer: q = x0·z + r, exp ≈ poly(r) >> z.
    #[inline]
    pub fn eval(&self, q: i32) -> i32 {
        let q = q.max(EXP_N * self.x0);
        let z = q / self.x0; // both ≤ 0: truncation = floor of the non-negative quotient
        let r = q - self.x0 * z;
        let p = r * (r + self.b) + self.c;
        p >> z
    }
}

/// Integer softmax: quantize, subtract the row max, i-exp, integer normalization to 8 bits.
#[derive(Debug, Clone, PartialEq)]
pub struct IntSoftmax {
    pub scale: f32,
    pub inv_scale: f32,
    pub qmax: i32,
    pub exp: IExp,
}

impl IntSoftmax {
    /// `max_abs`: calibrated bound of the input magnitude.
    pub fn new(max_abs: f32, bits: u32) -> IntSoftmax {
        let qmax = qmax(bits);
        // The constant c = (1/a)/s² must fit i32 (the polynomial's largest value).
        let scale = scale_fitting(max_abs, qmax, |s| EXP_C_OVER_A / (s * s) < i32::MAX as f64);
        IntSoftmax {
            scale,
            inv_scale: 1.0 / scale,
            qmax,
            exp: IExp::new(scale as f64),
        }
    }

    /// One row in place; `codes` is scratch of the row's length.
    pub fn row(&self, row: &mut [f32], codes: &mut Vec<i64>) {
        codes.clear();
        let mut mx = i32::MIN;
        for &x in row.iter() {
            let q = quantize(x, self.inv_scale, self.qmax);
            mx = mx.max(q);
            codes.push(q as i64);
        }
        let mut sum: i64 = 0;
        for c in codes.iter_mut() {
            let e = self.exp.eval(*c as i32 - mx) as i64;
            *c = e;
            sum += e;
        }
        // factor = ⌊2³²/Σ⌋; out = ⌊e·factor / 2^(32 − out_bits)⌋ at scale 2^−out_bits.
        let factor = (1i64 << 32) / sum.max(1);
        let out_scale = 1.0 / (1u32 << SOFTMAX_OUT_BITS) as f32;
        for (o, &e) in row.iter_mut().zip(codes.iter()) {
            *o = ((e * factor) >> (32 - SOFTMAX_OUT_BITS)) as f32 * out_scale;
        }
    }
}

/// i-GELU: x·½[1 + L(x/√2)] with i-erf, all on i32.
#[derive(Debug, Clone, PartialEq)]
pub struct IntGelu {
    pub scale: f32,
    pub inv_scale: f32,
    pub qmax: i32,
    /// ⌊b/s'⌋ with s' = s/k (negative).
    pub b: i32,
    /// ⌊(1/a)/s'²⌋ (negative).
    pub c: i32,
    /// ⌊1/σ⌋ where σ = a·s'²·2^14 is the erf output scale (negative).
    pub shift: i32,
    /// Output scale s·σ/2.
    pub out_scale: f32,
}

impl IntGelu {
    pub fn new(max_abs: f32, bits: u32) -> IntGelu {
        let qmax = qmax(bits);
        // Worst case of q·(erf + shift) must fit i32: |erf|, |shift| ≤ |c|/2^14 + 1.
        let scale = scale_fitting(max_abs, qmax, |s| {
            let s_erf = s / GELU_K;
            let c = (1.0 / ERF_A).abs() / (s_erf * s_erf);
            let sigma = s_erf * s_erf * ERF_A.abs() * (1u32 << ERF_SHIFT) as f64;
            let worst = qmax as f64 * (c / (1u32 << ERF_SHIFT) as f64 + 1.0 / sigma + 2.0);
            c < i32::MAX as f64 && worst < i32::MAX as f64
        });
        let s_erf = scale as f64 / GELU_K;
        let sigma = s_erf * s_erf * ERF_A * (1u32 << ERF_SHIFT) as f64;
        IntGelu {
            scale,
            inv_scale: 1.0 / scale,
            qmax,
            b: (ERF_B / s_erf).floor() as i32,
            c: ((1.0 / ERF_A) / (s_erf * s_erf)).floor() as i32,
            shift: (1.0 / sigma).floor() as i32,
            out_scale: (scale as f64 * sigma / 2.0) as f32,
        }
    }

    /// The integer output code of input code `q`.
    #[inline]
    pub fn eval(&self, q: i32) -> i32 {
        let a = q.abs().min(-self.b);
        let l = (a + self.b) * (a + self.b) + self.c;
        // sign(q)·l, then ⌊·/2^14⌋ (arithmetic shift = floor).
        let erf = (q.signum() * l) >> ERF_SHIFT;
        q * (erf + self.shift)
    }

    pub fn apply(&self, xs: &mut [f32]) {
        for x in xs.iter_mut() {
            let q = quantize(*x, self.inv_scale, self.qmax);
            *x = self.eval(q) as f32 * self.out_scale;
        }
    }
}

/// Integer LayerNorm normalization (x − mean)/std with i-sqrt; the affine part stays in the
/// model. `shift` is I-BERT's overflow guard: squares are taken of `y >> shift` so the row's
/// sum of squares fits i32 for any input in range (fixed here from the row length and bits).
#[derive(Debug, Clone, PartialEq)]
pub struct IntLayerNorm {
    pub scale: f32,
    pub inv_scale: f32,
    pub qmax: i32,
    pub shift: u32,
    pub cols: usize,
}

impl IntLayerNorm {
    pub fn new(max_abs: f32, bits: u32, cols: usize) -> IntLayerNorm {
        let qmax = qmax(bits);
        let scale = max_abs.max(1e-6) / qmax as f32;
        // |y| ≤ 2·qmax; need cols·((2·qmax) >> shift)² < 2³¹.
        let mut shift = 0;
        while (cols as u64) * ((2 * qmax as u64) >> shift).pow(2) >= 1 << 31 {
            shift += 1;
        }
        IntLayerNorm {
            scale,
            inv_scale: 1.0 / scale,
            qmax,
            shift,
            cols,
        }
    }

    pub fn row(&self, row: &mut [f32], codes: &mut Vec<i32>) {
        codes.clear();
        codes.extend(row.iter().map(|&x| quantize(x, self.inv_scale, self.qmax)));
        let n = codes.len() as i64;
        let sum: i64 = codes.iter().map(|&q| q as i64).sum();
        // round(sum/n), ties away from zero (the sum is exact, so this is exact).
        let mean = ((2 * sum + n * sum.signum()) / (2 * n)) as i32;
        let mut var: i32 = 0;
        for q in codes.iter_mut() {
            *q -= mean;
            let ys = *q >> self.shift;
            var += ys * ys;
        }
        let std = ((isqrt(var as u64) as i64) << self.shift).max(1);
        let factor = (1i64 << 31) / std;
        // out = ⌊y·factor/2⌋ at scale √n/2³⁰.
        let out_scale = ((n as f64).sqrt() / (1u64 << 30) as f64) as f32;
        for (o, &y) in row.iter_mut().zip(codes.iter()) {
            *o = ((y as i64 * factor) >> 1) as f32 * out_scale;
        }
    }
}

/// ReLU on integer codes: quantize, max(q, 0), dequantize.
#[derive(Debug, Clone, PartialEq)]
pub struct IntRelu {
    pub scale: f32,
    pub inv_scale: f32,
    pub qmax: i32,
}

impl IntRelu {
    pub fn new(max_abs: f32, bits: u32) -> IntRelu {
        let qmax = qmax(bits);
        let scale = max_abs.max(1e-6) / qmax as f32;
        IntRelu {
            scale,
            inv_scale: 1.0 / scale,
            qmax,
        }
    }

    pub fn apply(&self, xs: &mut [f32]) {
        for x in xs.iter_mut() {
            *x = quantize(*x, self.inv_scale, self.qmax).max(0) as f32 * self.scale;
        }
    }
}

/// The integer kernels over whole buffers, written so the compiler vectorizes their element
/// loops (no integer division and no i64 products inside them) and compiled for AVX2 when the
/// CPU has it. Each gives the bits of its per-row reference ([`IntSoftmax::row`],
/// [`IntGelu::apply`], [`IntLayerNorm::row`], [`IntRelu::apply`]); the kernel tests hold them to
/// it. The scalar references stay the readable transcription of I-BERT.
pub mod fast {
    use super::{EXP_N, IntGelu, IntLayerNorm, IntRelu, IntSoftmax, SOFTMAX_OUT_BITS};

    /// Runs `body` compiled for AVX2 when the CPU has it, else as compiled.
    macro_rules! avx2_dispatch {
        ($name:ident, $body:ident, ($($arg:ident: $ty:ty),*)) => {
            pub fn $name($($arg: $ty),*) {
                #[cfg(target_arch = "x86_64")]
                if std::is_x86_feature_detected!("avx2") {
                    #[target_feature(enable = "avx2")]
                    unsafe fn avx2($($arg: $ty),*) {
                        $body($($arg),*)
                    }
                    // SAFETY: AVX2 is available (checked above).
                    return unsafe { avx2($($arg),*) };
                }
                $body($($arg),*)
            }
        };
    }

    avx2_dispatch!(softmax, softmax_body, (k: &IntSoftmax, x: &mut [f32], cols: usize));
    avx2_dispatch!(gelu, gelu_body, (k: &IntGelu, x: &mut [f32]));
    avx2_dispatch!(layer_norm, layer_norm_body, (k: &IntLayerNorm, x: &mut [f32], cols: usize));
    avx2_dispatch!(relu, relu_body, (k: &IntRelu, x: &mut [f32]));

    /// [`super::quantize`] with the float-to-int conversion unchecked, so that it vectorizes
    /// (the checked `as i32` handles NaN and overflow lane by lane): NaN maps to 0 as `as`
    /// maps it, everything else is clamped first.
    #[inline(always)]
    fn quantize_fast(x: f32, inv_scale: f32, qmax: i32) -> i32 {
        let q = (x * inv_scale).round_ties_even();
        // No `clamp`: its bounds assertion keeps the loop scalar.
        let q = if q.is_nan() { 0.0 } else { q };
        let q = q.max(-(qmax as f32)).min(qmax as f32);
        // SAFETY: finite and within ±qmax < 2³¹.
        unsafe { q.to_int_unchecked::<i32>() }
    }

    /// i-exp of `d ≤ 0` with `z = ⌊d/x0⌋` from an f32 reciprocal and one exact correction:
    /// |d| ≤ 30·|x0| < 2²⁴, so the f32 quotient is within one of the true one, and the
    /// remainder's range (x0, 0] says which way to step.
    #[inline(always)]
    fn iexp(d: i32, x0: i32, inv_x0: f32, b: i32, c: i32) -> i32 {
        let z0 = (d as f32 * inv_x0) as i32;
        let r0 = d - x0 * z0;
        let z = if r0 > 0 {
            z0 - 1
        } else if r0 <= x0 {
            z0 + 1
        } else {
            z0
        };
        let r = d - x0 * z;
        (r * (r + b) + c) >> z
    }

    #[inline(always)]
    fn softmax_body(k: &IntSoftmax, x: &mut [f32], cols: usize) {
        let mut e = vec![0i32; cols];
        let (x0, b, c) = (k.exp.x0, k.exp.b, k.exp.c);
        let inv_x0 = 1.0 / x0 as f32;
        let floor_d = EXP_N * x0;
        // ⌊e·factor / 2^(32 − out_bits)⌋ in f64: e·factor ≤ 2³² is exact there.
        let down = 2f64.powi(-((32 - SOFTMAX_OUT_BITS) as i32));
        let out_scale = 1.0 / (1u32 << SOFTMAX_OUT_BITS) as f32;
        for row in x.chunks_exact_mut(cols) {
            // Separate map and reduction loops: fused, the rounding stays scalar (rintf).
            for (q, &v) in e.iter_mut().zip(row.iter()) {
                *q = quantize_fast(v, k.inv_scale, k.qmax);
            }
            let mx = e.iter().copied().fold(i32::MIN, i32::max);
            let mut sum: i64 = 0;
            for q in e.iter_mut() {
                *q = iexp((*q - mx).max(floor_d), x0, inv_x0, b, c);
                sum += *q as i64;
            }
            let factor = ((1i64 << 32) / sum.max(1)) as f64;
            for (o, &v) in row.iter_mut().zip(e.iter()) {
                *o = (v as f64 * factor * down).floor() as f32 * out_scale;
            }
        }
    }

    #[inline(always)]
    fn gelu_body(k: &IntGelu, x: &mut [f32]) {
        for v in x.iter_mut() {
            *v = k.eval(quantize_fast(*v, k.inv_scale, k.qmax)) as f32 * k.out_scale;
        }
    }

    /// Rows normalized side by side in [`layer_norm_body`].
    const LN_ROWS: usize = 8;

    /// Eight rows at a time: each pass (quantize, sums, scaling) runs over the group, and the
    /// per-row scalar steps (two integer divisions and a square root) of eight independent rows
    /// overlap instead of waiting on one another; one row at a time, this kernel fell below the
    /// exact LayerNorm's speed once that one reduced rows side by side. Every step is the
    /// reference's integer arithmetic, so the result is the same bit for bit.
    #[inline(always)]
    fn layer_norm_body(k: &IntLayerNorm, x: &mut [f32], cols: usize) {
        let mut y = vec![0i32; LN_ROWS * cols];
        let n = cols as i64;
        let out_scale = ((n as f64).sqrt() / (1u64 << 30) as f64) as f32;
        let small_sum = (cols as i64) * (k.qmax as i64) < 1 << 31;
        for group in x.chunks_mut(LN_ROWS * cols) {
            let y = &mut y[..group.len()];
            for (q, &v) in y.iter_mut().zip(group.iter()) {
                *q = quantize_fast(v, k.inv_scale, k.qmax);
            }
            let mut factor = [0.0f64; LN_ROWS];
            for (yr, f) in y.chunks_exact_mut(cols).zip(factor.iter_mut()) {
                // In i32 when it cannot overflow (cols · qmax < 2³¹: always for the ViT's rows):
                // the same integer, without widening every element.
                let sum: i64 = if small_sum {
                    yr.iter().sum::<i32>() as i64
                } else {
                    yr.iter().map(|&q| q as i64).sum()
                };
                let mean = ((2 * sum + n * sum.signum()) / (2 * n)) as i32;
                let mut var: i32 = 0;
                for q in yr.iter_mut() {
                    *q -= mean;
                    let ys = *q >> k.shift;
                    var += ys * ys;
                }
                let std = ((isqrt_f64(var as u64) as i64) << k.shift).max(1);
                // ⌊y·factor/2⌋ in f64: |y·factor| < 2⁴⁸ is exact there (so is factor/2, and
                // y·(factor/2) = y·factor/2), and an exact integer rounds to the same f32 from
                // f64 as from i64.
                *f = ((1i64 << 31) / std) as f64 * 0.5;
            }
            for ((row, yr), &f) in group
                .chunks_exact_mut(cols)
                .zip(y.chunks_exact(cols))
                .zip(factor.iter())
            {
                for (o, &v) in row.iter_mut().zip(yr) {
                    *o = (v as f64 * f).floor() as f32 * out_scale;
                }
            }
        }
    }

    /// ⌊√n⌋ from the f64 square root, corrected to the exact integer: the value
    /// [`isqrt`]'s Newton iteration converges to, without its chain of divisions (the row loop's
    /// largest cost). For n < 2⁵², as LayerNorm's i32 variances are.
    #[inline(always)]
    pub fn isqrt_f64(n: u64) -> u64 {
        debug_assert!(n < 1 << 52);
        // Through i64: exact for n < 2⁵², and one conversion instruction each way on x86-64
        // (u64 ↔ f64 takes a multi-instruction sequence there).
        let mut x = ((n as i64) as f64).sqrt() as i64 as u64;
        while x * x > n {
            x -= 1;
        }
        while (x + 1) * (x + 1) <= n {
            x += 1;
        }
        x
    }

    #[inline(always)]
    fn relu_body(k: &IntRelu, x: &mut [f32]) {
        for v in x.iter_mut() {
            *v = quantize_fast(*v, k.inv_scale, k.qmax).max(0) as f32 * k.scale;
        }
    }
}
