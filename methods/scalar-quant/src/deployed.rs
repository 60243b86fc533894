//! Deployed GEMM kernels ([`GemmKernel`] implementations) built on [`crate::kernels`].
//!
//! * [`QuantGemm`]: activations quantized on the fly to their calibrated grid, weights stored as
//!   codes, the int8 GEMM, then one fused epilogue
//!   `y = s_a · s_w[j] · (Σ(a − z_a)(w − z_w[j])) + off[j]` (integer zero-point corrections,
//!   one float multiply per output: the requantization step of an integer pipeline, here
//!   producing f32 for the next float op).
//! * [`XnorGemm`]: binary weights × binary activations through the xnor/popcount GEMM.
//! * [`WeightOnlyGemm`]: quantized weights with float activations (`a_bits = 32`), dequantized
//!   once into our dense f32 GEMM; the IR still says the weights are `Int(w_bits)`.
//!
//! Binary activations are `x̂ = μ + β·sign(x − μ)` with a calibrated threshold μ and scale β
//! (a shifted sign, as ReActNet's RSign; with μ = 0 it is BNN's sign). A plain sign of a
//! post-ReLU input would be constant.

use compbench_core::{Gemm, NumFormat};
use compbench_nn::deployed::GemmKernel;
use compbench_nn::deployed::kernels::DenseGemm;
use std::sync::OnceLock;

use rayon::prelude::*;

use crate::kernels::binary::{self, PackedBits};
use crate::kernels::int8::{self, ActEncoding, Isa, PackedB};
use crate::quantizer::{QParams, QuantizedWeights};

/// How a layer's input activations are represented.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ActSpec {
    /// A uniform grid of `bits` (2..=8).
    Uniform { grid: QParams, bits: u32 },
    /// `μ + β·sign(x − μ)` (1 bit).
    Sign { mu: f32, beta: f32 },
}

impl ActSpec {
    pub fn bits(&self) -> u32 {
        match self {
            ActSpec::Uniform { bits, .. } => *bits,
            ActSpec::Sign { .. } => 1,
        }
    }

    /// The float value the kernels compute with for input `x` (the fake-quant forward).
    pub fn fake(&self, x: f32) -> f32 {
        match *self {
            ActSpec::Uniform { grid, .. } => grid.fake(x),
            ActSpec::Sign { mu, beta } => mu + if x >= mu { beta } else { -beta },
        }
    }
}

/// Byte encoding of activation codes for the int8 kernel: `stored = q − shift`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct ActCodec {
    grid: QParams,
    enc: ActEncoding,
    shift: i32,
    max_abs: i32,
}

impl ActCodec {
    fn new(grid: QParams) -> ActCodec {
        let span = grid.qmax - grid.qmin;
        if span <= 127 {
            ActCodec {
                grid,
                enc: ActEncoding::U7,
                shift: grid.qmin,
                max_abs: span,
            }
        } else {
            ActCodec {
                grid,
                enc: ActEncoding::S8,
                shift: grid.qmin + 128,
                max_abs: 128,
            }
        }
    }

    /// Zero point in stored units.
    fn zero(&self) -> i32 {
        self.grid.zero_point - self.shift
    }

    /// Quantize rows of `x` (`m × k`) into `out` (`m × lda` bytes); returns per-row sums of
    /// stored values. With `sign = Some(μ)` the codes are `±1` by `x ≥ μ` instead.
    fn encode(
        &self,
        x: &[f32],
        m: usize,
        k: usize,
        lda: usize,
        out: &mut [u8],
        sign: Option<f32>,
    ) -> Vec<i32> {
        let g = self.grid;
        let (lo, hi) = (
            (g.qmin - g.zero_point) as f32,
            (g.qmax - g.zero_point) as f32,
        );
        let bias = g.zero_point - self.shift;
        let mut sums = vec![0i32; m];
        let avx2 = Isa::detect().has_avx2();
        let encode = |((dst, src), sum): ((&mut [u8], &[f32]), &mut i32)| {
            *sum = match sign {
                Some(mu) => encode_sign(src, mu, bias, dst),
                #[cfg(target_arch = "x86_64")]
                // SAFETY: AVX2 detected above.
                None if avx2 => unsafe { encode_row_avx2(src, g.scale, lo, hi, bias, dst) },
                None => encode_row(src, g.scale, lo, hi, bias, dst),
            };
            dst[k..].fill(0);
        };
        // Rows are independent; a task takes enough of them to pay for itself (one row per
        // task made the pool's overhead the cost of a small layer).
        let rows_per_task = ENCODE_MIN_VALUES.div_ceil(k.max(1));
        if m <= rows_per_task {
            out.chunks_mut(lda)
                .zip(x.chunks(k))
                .zip(sums.iter_mut())
                .for_each(encode);
        } else {
            out.par_chunks_mut(lda)
                .zip(x.par_chunks(k))
                .zip(sums.par_iter_mut())
                .with_min_len(rows_per_task)
                .for_each(encode);
        }
        sums
    }
}

/// Values per encoding task (and below which encoding stays on the calling thread).
const ENCODE_MIN_VALUES: usize = 1 << 14;

/// [`epilogue_i32`] as an [`int8::Epilogue`] whose `apply` is inlined into the GEMM's AVX2 task
/// body (a closure here stayed an out-of-line SSE2 function).
struct EpilogueI32<'a> {
    rowsum: &'a [i32],
    scale: &'a [f32],
    off: &'a [f32],
    c0: &'a [i32],
    zw: &'a [i32],
}

impl int8::Epilogue<f32> for EpilogueI32<'_> {
    #[inline(always)]
    fn apply(&self, i: usize, j0: usize, acc: &[i32], row: &mut [f32]) {
        let j1 = j0 + acc.len();
        epilogue_i32(
            self.rowsum[i],
            acc,
            &mut row[j0..j1],
            [&self.scale[j0..j1], &self.off[j0..j1]],
            [&self.c0[j0..j1], &self.zw[j0..j1]],
        );
    }
}

/// W8A8's i32 epilogue on one row of a tile: `o = scale · (acc + c0 − zw · rowsum) + off`.
/// A full tile row goes through fixed-size arrays (no bounds checks, unrolled); the same
/// expression is written twice on purpose. With slices alone, called per 16 columns, the loop's
/// setup was a fifth of the deployed W8A8 ViT's time, and it still costs 0.94× vs 1.08× of
/// dense with the task body compiled for AVX2 (model_profile vit w8a8, batch 256, 1 thread).
#[inline(always)]
fn epilogue_i32(r: i32, acc: &[i32], o: &mut [f32], [sc, off]: [&[f32]; 2], [c0, zw]: [&[i32]; 2]) {
    type F = [f32; int8::NR];
    type I = [i32; int8::NR];
    if let (Ok(acc), Ok(o), Ok(sc), Ok(off), Ok(c0), Ok(zw)) = (
        <&I>::try_from(acc),
        <&mut F>::try_from(&mut *o),
        <&F>::try_from(sc),
        <&F>::try_from(off),
        <&I>::try_from(c0),
        <&I>::try_from(zw),
    ) {
        for t in 0..int8::NR {
            o[t] = sc[t] * (acc[t] + c0[t] - zw[t] * r) as f32 + off[t];
        }
        return;
    }
    for (t, o) in o.iter_mut().enumerate() {
        *o = sc[t] * (acc[t] + c0[t] - zw[t] * r) as f32 + off[t];
    }
}

/// One row of uniform codes: the same arithmetic as `QParams::quantize` (divide, clamp, round
/// half to even), written so it vectorizes: `max`/`min` also map NaN to `lo`, and the clamped
/// value is small, so the 1.5·2^23 rounding and the unchecked conversion are exact.
#[inline(always)]
fn encode_row(src: &[f32], scale: f32, lo: f32, hi: f32, bias: i32, dst: &mut [u8]) -> i32 {
    const MAGIC: f32 = 12_582_912.0;
    let mut s = 0i32;
    for (d, &v) in dst.iter_mut().zip(src) {
        let r = ((v / scale).max(lo).min(hi) + MAGIC) - MAGIC;
        // SAFETY: r is finite and within [lo, hi] ⊂ [−255, 255].
        let q = unsafe { r.to_int_unchecked::<i32>() } + bias;
        s += q;
        *d = q as u8;
    }
    s
}

/// [`encode_row`] compiled for AVX2 (8 lanes instead of SSE2's 4).
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn encode_row_avx2(
    src: &[f32],
    scale: f32,
    lo: f32,
    hi: f32,
    bias: i32,
    dst: &mut [u8],
) -> i32 {
    encode_row(src, scale, lo, hi, bias, dst)
}

fn encode_sign(src: &[f32], mu: f32, bias: i32, dst: &mut [u8]) -> i32 {
    let mut s = 0i32;
    for (d, &v) in dst.iter_mut().zip(src) {
        let q = if v >= mu { 1 } else { -1 } + bias;
        s += q;
        *d = q as u8;
    }
    s
}

/// Largest K for which the epilogue's integer correction fits i32: |acc| ≤ 128²·K,
/// |z_w·Σa| ≤ 255²·K, |c0| ≤ (255·128 + 255²)·K, total < 180 000·K < 2^31.
const I32_EPILOGUE_MAX_K: usize = 11_000;

/// The epilogue's integer correction, in i32 when it fits (see [`I32_EPILOGUE_MAX_K`]).
enum Correction {
    I32(Vec<i32>),
    I64(Vec<i64>),
}

/// A GEMM on integer codes (any weight and activation width ≤ 8).
pub struct QuantGemm {
    k: usize,
    n: usize,
    w_bits: u32,
    act: ActSpec,
    codec: ActCodec,
    packed: PackedB,
    /// The packed weight codes before packing (`k × n`, rows in the GEMM's K order), for
    /// packing again in another K order ([`crate::conv`]).
    stored: Vec<i8>,
    /// The weights packed in a convolution's `(ky, kx, cin)` order, made on the first
    /// [`crate::conv`] call and kept with its `(cin, kernel)`.
    pub(crate) conv_packed: OnceLock<((usize, usize), PackedB)>,
    /// Per-column output scale `s_a · s_w[j]` (β · α_j for sign activations).
    out_scale: Vec<f32>,
    /// Per-column weight zero point in stored units.
    zw: Vec<i32>,
    /// Per-column integer correction `−z_a·Σw + K·z_a·z_w` (stored units).
    c0: Correction,
    /// Per-column float offset: bias (+ μ·s_w·Σ(w − z_w) for sign activations).
    off: Vec<f32>,
    /// Dequantized weights, for stacking methods and tests.
    dequant: Vec<f32>,
    bias: Option<Vec<f32>>,
    isa: Isa,
    out_format: NumFormat,
}

impl QuantGemm {
    pub fn new(w: &QuantizedWeights, bias: Option<Vec<f32>>, act: ActSpec) -> QuantGemm {
        QuantGemm::with_isa(w, bias, act, Isa::detect())
    }

    /// As [`QuantGemm::new`] with a chosen implementation (tests run both).
    pub fn with_isa(
        w: &QuantizedWeights,
        bias: Option<Vec<f32>>,
        act: ActSpec,
        isa: Isa,
    ) -> QuantGemm {
        let (k, n) = (w.k, w.n);
        // Weight codes → i8 avoiding −128: symmetric grids are already centred; affine grids
        // [0, qmax] shift by ⌈qmax/2⌉ (see `quantizer`).
        let wshift: Vec<i32> = w
            .grids
            .iter()
            .map(|g| (g.qmin + g.qmax + 1).div_euclid(2))
            .collect();
        let stored: Vec<i8> = w
            .codes
            .iter()
            .enumerate()
            .map(|(i, &q)| (q - wshift[i % n]) as i8)
            .collect();
        let zw: Vec<i32> = w
            .grids
            .iter()
            .zip(&wshift)
            .map(|(g, s)| g.zero_point - s)
            .collect();
        let packed = PackedB::pack(&stored, k, n);
        let (grid, act_offset) = match act {
            ActSpec::Uniform { grid, .. } => (grid, 0.0),
            // Codes −1/+1 on a unit grid; β scales the product, μ becomes a column offset.
            ActSpec::Sign { mu, beta: _ } => (
                QParams {
                    scale: 1.0,
                    zero_point: 0,
                    qmin: -1,
                    qmax: 1,
                },
                mu,
            ),
        };
        let codec = ActCodec::new(grid);
        let za = codec.zero() as i64;
        let c0 = (0..n).map(|j| -za * packed.colsum[j] as i64 + k as i64 * za * zw[j] as i64);
        let c0 = if k <= I32_EPILOGUE_MAX_K {
            Correction::I32(c0.map(|c| c as i32).collect())
        } else {
            Correction::I64(c0.collect())
        };
        let col_scale: Vec<f32> = w.grids.iter().map(|g| g.scale).collect();
        let act_scale = match act {
            ActSpec::Uniform { grid, .. } => grid.scale,
            ActSpec::Sign { beta, .. } => beta,
        };
        let off = (0..n)
            .map(|j| {
                let b = bias.as_ref().map_or(0.0, |b| b[j]);
                b + act_offset
                    * col_scale[j]
                    * (packed.colsum[j] as i64 - k as i64 * zw[j] as i64) as f32
            })
            .collect();
        let out_format = NumFormat::Int(act.bits().max(1) as u8);
        QuantGemm {
            k,
            n,
            w_bits: w.bits,
            act,
            codec,
            packed,
            stored,
            conv_packed: OnceLock::new(),
            out_scale: col_scale.iter().map(|c| act_scale * c).collect(),
            zw,
            c0,
            off,
            dequant: w.dequantized(),
            bias,
            isa,
            out_format,
        }
    }

    /// Format of the written-back output in the IR (default: the activation width, i.e. the
    /// output is requantized to the next layer's input grid; the classifier uses FP32).
    pub fn with_out_format(mut self, f: NumFormat) -> QuantGemm {
        self.out_format = f;
        self
    }

    /// Quantize rows of `x` (`m × k`) into `out` (`m × lda` bytes, zero beyond `k`); returns
    /// each row's sum of stored codes (the epilogue's zero-point correction needs it).
    pub(crate) fn encode(
        &self,
        x: &[f32],
        m: usize,
        k: usize,
        lda: usize,
        out: &mut [u8],
    ) -> Vec<i32> {
        let sign = match self.act {
            ActSpec::Uniform { .. } => None,
            ActSpec::Sign { mu, .. } => Some(mu),
        };
        self.codec.encode(x, m, k, lda, out, sign)
    }

    /// The weight codes (`k × n`, the GEMM's K order).
    pub(crate) fn stored(&self) -> &[i8] {
        &self.stored
    }

    /// The int8 GEMM of activation codes `a` (`m × lda`, row sums `rowsum`) with `packed` (these
    /// weights, in `a`'s K order) and this layer's epilogue, into `out` (`m × n`). Integer
    /// sums are exact, so any K order gives the same bits.
    pub(crate) fn gemm_codes(
        &self,
        packed: &PackedB,
        a: &[u8],
        lda: usize,
        m: usize,
        rowsum: &[i32],
        out: &mut [f32],
    ) {
        let (scale, zw, off) = (&self.out_scale, &self.zw, &self.off);
        let (enc, amax) = (self.codec.enc, self.codec.max_abs);
        match &self.c0 {
            Correction::I32(c0) => {
                let epilogue = EpilogueI32 {
                    rowsum,
                    scale,
                    off,
                    c0,
                    zw,
                };
                int8::gemm(a, lda, m, packed, enc, amax, self.isa, out, epilogue);
            }
            Correction::I64(c0) => int8::gemm(
                a,
                lda,
                m,
                packed,
                enc,
                amax,
                self.isa,
                out,
                |i: usize, j0: usize, acc: &[i32], row: &mut [f32]| {
                    let r = rowsum[i] as i64;
                    for (c, &v) in acc.iter().enumerate() {
                        let j = j0 + c;
                        row[j] = scale[j] * (v as i64 - zw[j] as i64 * r + c0[j]) as f32 + off[j];
                    }
                },
            ),
        }
    }

    pub fn act(&self) -> ActSpec {
        self.act
    }
}

impl GemmKernel for QuantGemm {
    fn kind(&self) -> &'static str {
        "int8"
    }

    fn k(&self) -> usize {
        self.k
    }

    fn n(&self) -> usize {
        self.n
    }

    fn forward(&self, x: &[f32], m: usize, out: &mut [f32]) {
        assert_eq!(x.len(), m * self.k);
        let lda = self.packed.kp;
        let mut a = vec![0u8; m * lda];
        let rowsum = self.encode(x, m, self.k, lda, &mut a);
        self.gemm_codes(&self.packed, &a, lda, m, &rowsum, out);
    }

    fn conv_nhwc(
        &self,
        x: &[f32],
        batch: usize,
        h: usize,
        w: usize,
        g: &compbench_nn::ConvGeom,
        out: &mut [f32],
    ) -> bool {
        crate::conv::conv_nhwc(self, x, batch, h, w, g, out)
    }

    fn gemm_ir(&self, m: u64) -> Gemm {
        let mut g = Gemm::dense(
            m,
            self.k as u64,
            self.n as u64,
            NumFormat::Int(self.act.bits() as u8),
        );
        g.weight = NumFormat::Int(self.w_bits as u8);
        g.out = self.out_format;
        g
    }

    fn weight_bits(&self) -> f64 {
        // Codes plus one f32 scale (and an 8-bit zero point when affine) per column.
        let affine = self.zw.iter().any(|&z| z != 0);
        (self.k * self.n) as f64 * self.w_bits as f64
            + self.n as f64 * (32.0 + if affine { 8.0 } else { 0.0 })
    }

    fn dense_weights(&self) -> Option<(&[f32], Option<&[f32]>)> {
        Some((&self.dequant, self.bias.as_deref()))
    }
}

/// Binary weights `α_j·sign(W)` × binary activations `μ + β·sign(x − μ)`, by xnor + popcount:
/// `y_ij = α_j·(β·dot_ij + μ·Σ_k sign(w_kj)) + b_j`.
pub struct XnorGemm {
    k: usize,
    n: usize,
    packed: PackedBits,
    alpha: Vec<f32>,
    mu: f32,
    beta: f32,
    /// Σ_k sign(w_kj).
    sign_sum: Vec<i32>,
    bias: Option<Vec<f32>>,
    dequant: Vec<f32>,
    isa: Isa,
}

impl XnorGemm {
    /// `w` is `k × n`; only its signs are kept; `alpha` has one scale per column.
    pub fn new(
        w: &[f32],
        k: usize,
        n: usize,
        alpha: Vec<f32>,
        bias: Option<Vec<f32>>,
        mu: f32,
        beta: f32,
    ) -> XnorGemm {
        XnorGemm::with_isa(w, k, n, alpha, bias, mu, beta, Isa::detect())
    }

    pub fn with_isa(
        w: &[f32],
        k: usize,
        n: usize,
        alpha: Vec<f32>,
        bias: Option<Vec<f32>>,
        mu: f32,
        beta: f32,
        isa: Isa,
    ) -> XnorGemm {
        assert_eq!(alpha.len(), n);
        let packed = PackedBits::pack(w, k, n);
        let sign = |x: f32| if x >= 0.0 { 1 } else { -1 };
        let sign_sum = (0..n)
            .map(|j| (0..k).map(|r| sign(w[r * n + j])).sum())
            .collect();
        let dequant = w
            .iter()
            .enumerate()
            .map(|(i, &x)| alpha[i % n] * sign(x) as f32)
            .collect();
        XnorGemm {
            k,
            n,
            packed,
            alpha,
            mu,
            beta,
            sign_sum,
            bias,
            dequant,
            isa,
        }
    }
}

impl GemmKernel for XnorGemm {
    fn kind(&self) -> &'static str {
        "xnor"
    }

    fn k(&self) -> usize {
        self.k
    }

    fn n(&self) -> usize {
        self.n
    }

    fn forward(&self, x: &[f32], m: usize, out: &mut [f32]) {
        assert_eq!(x.len(), m * self.k);
        // y = α_j·β·dot + (α_j·μ·Σsign(w_j) + b_j), per-column constants hoisted.
        let mul: Vec<f32> = self.alpha.iter().map(|a| a * self.beta).collect();
        let add: Vec<f32> = (0..self.n)
            .map(|j| {
                self.alpha[j] * self.mu * self.sign_sum[j] as f32
                    + self.bias.as_ref().map_or(0.0, |b| b[j])
            })
            .collect();
        // Binarization (x ≥ μ), xnor-popcount GEMM and this epilogue, fused per task.
        binary::gemm_affine(x, m, self.mu, &self.packed, self.isa, &mul, &add, out);
    }

    fn gemm_ir(&self, m: u64) -> Gemm {
        let mut g = Gemm::dense(m, self.k as u64, self.n as u64, NumFormat::Int(1));
        g.out = NumFormat::Int(32);
        g
    }

    fn weight_bits(&self) -> f64 {
        (self.k * self.n) as f64 + self.n as f64 * 32.0
    }

    fn dense_weights(&self) -> Option<(&[f32], Option<&[f32]>)> {
        Some((&self.dequant, self.bias.as_deref()))
    }
}

/// Quantized weights, float activations: runs our dense f32 GEMM on the dequantized weights.
pub struct WeightOnlyGemm {
    dense: DenseGemm,
    w_bits: u32,
    k: usize,
    n: usize,
    dequant: Vec<f32>,
    bias: Option<Vec<f32>>,
}

impl WeightOnlyGemm {
    pub fn new(w: &QuantizedWeights, bias: Option<Vec<f32>>) -> WeightOnlyGemm {
        let dequant = w.dequantized();
        WeightOnlyGemm {
            dense: DenseGemm::new(w.k, w.n, dequant.clone(), bias.clone()),
            w_bits: w.bits,
            k: w.k,
            n: w.n,
            dequant,
            bias,
        }
    }
}

impl GemmKernel for WeightOnlyGemm {
    fn kind(&self) -> &'static str {
        "weight-only"
    }

    fn k(&self) -> usize {
        self.k
    }

    fn n(&self) -> usize {
        self.n
    }

    fn forward(&self, x: &[f32], m: usize, out: &mut [f32]) {
        self.dense.forward(x, m, out)
    }

    fn gemm_ir(&self, m: u64) -> Gemm {
        let mut g = Gemm::dense(m, self.k as u64, self.n as u64, NumFormat::FP32);
        g.weight = NumFormat::Int(self.w_bits as u8);
        g
    }

    fn weight_bits(&self) -> f64 {
        (self.k * self.n) as f64 * self.w_bits as f64 + self.n as f64 * 32.0
    }

    fn dense_weights(&self) -> Option<(&[f32], Option<&[f32]>)> {
        Some((&self.dequant, self.bias.as_deref()))
    }
}
