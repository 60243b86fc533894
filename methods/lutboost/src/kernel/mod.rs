//! The deployed LUT-GEMM: encode (nearest centroid per sub-vector, or MADDNESS's hash tree:
//! [`ActEncoder`]) then gather-accumulate from the tables, then dequantize and add the bias.
//! Both encoders write the same blocked codes, so one look-up kernel serves every method.
//!
//! Two implementations of each step, selected by [`Isa`]:
//! * [`reference`]: portable Rust, the definition of the result;
//! * [`avx2`]: `std::arch` AVX2, runtime-detected. For int8 tables with c ≤ 32 it uses byte
//!   shuffles as look-ups (MADDNESS / Bolt, T-MAC): a subspace's 16 table entries for one
//!   output column sit in a 128-bit lane, and one `_mm256_shuffle_epi8` looks up 32 rows' codes
//!   at once. Sums are exact integers (i16 partial sums flushed to i32 every 256 subspaces,
//!   since 256 · 127 < 2¹⁵), so both paths agree bit for bit. Other tables (f32, int16, int8
//!   with c > 32) are summed row by row, up to 64 columns in registers at once, in the
//!   reference's order.

pub mod avx2;
pub mod conv;
pub mod reference;

use compbench_core::{Gemm, NumFormat, VqSpec};
use compbench_nn::deployed::GemmKernel;

use crate::encode::{Codes, Encoder, encode_with};
use crate::metric::VqMetric;
use crate::table::{LutTable, TableBits, TableData, TableScale, build_f32};
use crate::tree::TreeEncoder;

/// Which implementation runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isa {
    Portable,
    Avx2,
}

impl Isa {
    /// AVX2 when this CPU has it, else portable.
    pub fn detect() -> Isa {
        #[cfg(target_arch = "x86_64")]
        {
            if std::is_x86_feature_detected!("avx2") {
                return Isa::Avx2;
            }
        }
        Isa::Portable
    }

    /// Every implementation this CPU can run (tests compare them).
    pub fn available() -> Vec<Isa> {
        let mut v = vec![Isa::Portable];
        if Isa::detect() == Isa::Avx2 {
            v.push(Isa::Avx2);
        }
        v
    }
}

/// How a LUT layer turns an activation row into codes.
#[derive(Debug, Clone)]
pub enum ActEncoder {
    /// Nearest centroid under a metric (LUTBoost, LUT-NN; LUT-DLA's CCM).
    Nearest(Encoder),
    /// MADDNESS's hash tree: `log2 c` threshold comparisons per sub-vector.
    Tree(TreeEncoder),
}

impl ActEncoder {
    pub fn k(&self) -> usize {
        match self {
            ActEncoder::Nearest(e) => e.k(),
            ActEncoder::Tree(t) => t.k(),
        }
    }

    pub fn v(&self) -> usize {
        match self {
            ActEncoder::Nearest(e) => e.v,
            ActEncoder::Tree(t) => t.v,
        }
    }

    pub fn c(&self) -> usize {
        match self {
            ActEncoder::Nearest(e) => e.c,
            ActEncoder::Tree(t) => t.c(),
        }
    }

    pub fn nc(&self) -> usize {
        match self {
            ActEncoder::Nearest(e) => e.nc,
            ActEncoder::Tree(t) => t.nc,
        }
    }

    /// The metric the Workload IR reports. The IR has no tree-encoder kind, so a tree is
    /// priced as the L2 centroid search (the costliest CCM: an upper bound on the tree's
    /// `log2 c` comparators per sub-vector).
    pub fn metric(&self) -> VqMetric {
        match self {
            ActEncoder::Nearest(e) => e.metric,
            ActEncoder::Tree(_) => VqMetric::L2,
        }
    }

    /// Encode `x` (`m × k`) into `codes` with `isa`'s implementation.
    pub fn encode_with(&self, isa: Isa, x: &[f32], m: usize, codes: &mut Codes) {
        match self {
            ActEncoder::Nearest(e) => encode_with(isa, e, x, m, codes),
            ActEncoder::Tree(t) => t.encode_with(isa, x, m, codes),
        }
    }

    /// The nearest-centroid encoder, if that is what this is.
    pub fn nearest(&self) -> Option<&Encoder> {
        match self {
            ActEncoder::Nearest(e) => Some(e),
            ActEncoder::Tree(_) => None,
        }
    }
}

/// A LUT layer with its codebooks (or trees) and tables baked in.
#[derive(Debug, Clone)]
pub struct LutGemm {
    pub enc: ActEncoder,
    pub table: LutTable,
    pub bias: Option<Vec<f32>>,
    /// Implementation used by [`GemmKernel::forward`]; tests pin it.
    pub isa: Isa,
    /// Precision the centroids are stored at: 32, or 16 after [`round_to_f16`].
    pub centroid_bits: u8,
}

/// Round to the nearest fp16 value (ties to even; clamped to ±65504; fp16 subnormals are not
/// flushed, which only keeps magnitudes below 6·10⁻⁵ more precise than fp16 would).
/// Deployed centroids are stored this way, so the IR's `centroid_bits = 16` is what ran.
pub fn round_to_f16(x: f32) -> f32 {
    if !x.is_finite() {
        return x;
    }
    let b = x.to_bits();
    // Keep 10 of f32's 23 mantissa bits: add half an ulp of the kept part (minus one when the
    // kept lsb is 0, so exact halves round to even), then truncate.
    let lsb = (b >> 13) & 1;
    let r = f32::from_bits((b + 0x0fff + lsb) & !0x1fff);
    r.clamp(-65504.0, 65504.0)
}

impl LutGemm {
    /// From centroids `[s][j][d]`, weights `k × n` (row-major) and bias.
    pub fn new(
        metric: VqMetric,
        v: usize,
        c: usize,
        centroids: &[f32],
        w: &[f32],
        n: usize,
        bias: Option<&[f32]>,
        bits: TableBits,
        gran: TableScale,
    ) -> LutGemm {
        let k = w.len() / n;
        assert!(k.is_multiple_of(v), "v = {v} must divide K = {k}");
        let nc = k / v;
        let enc = Encoder::new(metric, nc, c, v, centroids);
        let t = build_f32(centroids, w, nc, c, v, n);
        LutGemm::from_tables(ActEncoder::Nearest(enc), t, n, bias, bits, gran)
    }

    /// From an encoder and float tables `[s][j][n]` (MADDNESS: tree codes, ridge-fitted tables).
    /// `centroid_bits` is 16: a tree's thresholds are fp16 values (see [`TreeEncoder`]).
    pub fn from_tables(
        enc: ActEncoder,
        tables: Vec<f32>,
        n: usize,
        bias: Option<&[f32]>,
        bits: TableBits,
        gran: TableScale,
    ) -> LutGemm {
        let (nc, c) = (enc.nc(), enc.c());
        let table = LutTable::from_f32(tables, nc, c, n, bits, gran);
        let centroid_bits = match enc {
            ActEncoder::Nearest(_) => 32,
            ActEncoder::Tree(_) => 16,
        };
        LutGemm {
            enc,
            table,
            bias: bias.map(|b| b.to_vec()),
            isa: Isa::detect(),
            centroid_bits,
        }
    }

    /// [`LutGemm::new`] with the centroids rounded to fp16 first (what `lutboost` deploys; the
    /// tables are built from the rounded centroids, so kernel and IR agree).
    pub fn new_f16_centroids(
        metric: VqMetric,
        v: usize,
        c: usize,
        centroids: &[f32],
        w: &[f32],
        n: usize,
        bias: Option<&[f32]>,
        bits: TableBits,
        gran: TableScale,
    ) -> LutGemm {
        let rounded: Vec<f32> = centroids.iter().map(|&x| round_to_f16(x)).collect();
        let mut l = LutGemm::new(metric, v, c, &rounded, w, n, bias, bits, gran);
        l.centroid_bits = 16;
        l
    }

    pub fn with_isa(mut self, isa: Isa) -> LutGemm {
        self.isa = isa;
        self
    }

    /// Encode then accumulate with the given implementation.
    pub fn forward_with(&self, isa: Isa, x: &[f32], m: usize, out: &mut [f32]) {
        let mut codes = Codes::default();
        self.enc.encode_with(isa, x, m, &mut codes);
        self.accumulate_with(isa, &codes, out);
    }

    /// Look-up and accumulate for already encoded rows.
    pub fn accumulate_with(&self, isa: Isa, codes: &Codes, out: &mut [f32]) {
        assert_eq!(out.len(), codes.m * self.table.n, "out must be m × n");
        match isa {
            Isa::Avx2 => avx2::accumulate(&self.table, self.bias.as_deref(), codes, out, true),
            Isa::Portable => {
                reference::accumulate(&self.table, self.bias.as_deref(), codes, out, true)
            }
        }
    }

    /// [`LutGemm::accumulate_with`] on the calling thread only.
    pub fn accumulate_serial(&self, isa: Isa, codes: &Codes, out: &mut [f32]) {
        assert_eq!(out.len(), codes.m * self.table.n, "out must be m × n");
        match isa {
            Isa::Avx2 => avx2::accumulate(&self.table, self.bias.as_deref(), codes, out, false),
            Isa::Portable => {
                reference::accumulate(&self.table, self.bias.as_deref(), codes, out, false)
            }
        }
    }

    /// A stride-1 convolution from NHWC images without an f32 im2col buffer (see
    /// [`conv::conv_nhwc`]); false when this layer's encoder or geometry has no such path.
    pub fn conv_nhwc_with(
        &self,
        isa: Isa,
        x: &[f32],
        batch: usize,
        h: usize,
        w: usize,
        g: &compbench_nn::ConvGeom,
        out: &mut [f32],
    ) -> bool {
        conv::conv_nhwc(self, isa, x, batch, h, w, g, out)
    }

    pub fn spec(&self) -> VqSpec {
        VqSpec {
            v: self.enc.v() as u32,
            c: self.enc.c() as u32,
            metric: self.enc.metric(),
            table_bits: self.table.bits().bits(),
            centroid_bits: self.centroid_bits,
        }
    }
}

impl GemmKernel for LutGemm {
    fn kind(&self) -> &'static str {
        "lut"
    }

    fn k(&self) -> usize {
        self.enc.k()
    }

    fn n(&self) -> usize {
        self.table.n
    }

    fn forward(&self, x: &[f32], m: usize, out: &mut [f32]) {
        self.forward_with(self.isa, x, m, out)
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
        self.conv_nhwc_with(self.isa, x, batch, h, w, g, out)
    }

    fn gemm_ir(&self, m: u64) -> Gemm {
        let weight = match self.table.data {
            TableData::F32(_) => NumFormat::FP32,
            TableData::I8 { .. } => NumFormat::INT8,
            TableData::I16 { .. } => NumFormat::Int(16),
        };
        let mut g = Gemm::dense(m, self.enc.k() as u64, self.table.n as u64, NumFormat::FP32);
        g.weight = weight;
        g.vq = Some(self.spec());
        g
    }

    /// Tables plus codebooks: nc·c·N·b_t + K·c·b_c (lut-dla.md §4.1); for a tree encoder,
    /// tables plus its thresholds (fp16) and split dimensions.
    fn weight_bits(&self) -> f64 {
        let t = self.table.nc * self.table.c * self.table.n;
        let tb = self.table.bits().bits() as f64;
        let codebooks = match &self.enc {
            ActEncoder::Nearest(e) => (e.k() * e.c) as f64 * self.centroid_bits as f64,
            ActEncoder::Tree(tree) => tree.stored_bits(),
        };
        t as f64 * tb + codebooks
    }
}
