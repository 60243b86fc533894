//! Workload IR: what a compressed network asks of the hardware.
//!
//! Methods emit it (through the deployed model), hardware models price it, and neither knows the
//! other. The role is the one Timeloop's problem spec plays. Every field is plain data with
//! public fields so new methods can fill in what they need: block sparsity for pruning, a VQ spec
//! for LUT methods, an implementation kind for approximated non-linear ops, HE op counts.
//!
//! Storage apart from compute: a GEMM's `weight` is the precision the MACs compute in; its
//! optional [`WeightStorage`] says how the weights sit in memory (element width, a shared-value
//! codebook the elements index into, how zeros are encoded). Hardware models price weight
//! storage and movement from [`Gemm::storage`] and MACs from `weight`; without a storage spec
//! the weights are stored in the compute format, so IR written before the field existed means
//! what it meant.

use serde::{Deserialize, Serialize};

/// A whole network (or part of one) as a list of layers, in execution order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Workload {
    /// Human-readable name, e.g. `cnn/lutboost`.
    pub name: String,
    pub layers: Vec<Layer>,
    /// Task accuracy of the network this workload came from, when known (DSE uses it as one
    /// objective of the Pareto front).
    pub accuracy: Option<f64>,
}

/// One operation of the network.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Layer {
    /// Stable name, shared with the trainable and deployed models (e.g. `conv2`, `block0.qkv`).
    pub name: String,
    pub op: Op,
    /// How many times the op runs per inference (e.g. once per attention head). Costs scale by it.
    pub repeats: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Op {
    Gemm(Gemm),
    Nonlinear(NonlinearOp),
}

/// Number format of one operand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum NumFormat {
    /// Signed or unsigned integer of the given width (1 = binary, 2 = ternary fits in 2 bits).
    Int(u8),
    /// IEEE-style float of the given width (16 or 32).
    Float(u8),
}

impl NumFormat {
    pub const FP32: NumFormat = NumFormat::Float(32);
    pub const FP16: NumFormat = NumFormat::Float(16);
    pub const INT8: NumFormat = NumFormat::Int(8);

    pub fn bits(self) -> u32 {
        match self {
            NumFormat::Int(b) | NumFormat::Float(b) => b as u32,
        }
    }

    pub fn is_float(self) -> bool {
        matches!(self, NumFormat::Float(_))
    }
}

/// C[M×N] = A[M×K] · B[K×N]. Convolutions are lowered by im2col: M = Ho·Wo·batch,
/// K = kh·kw·Cin, N = Cout. B is the weight operand when `weights_static`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Gemm {
    pub m: u64,
    pub k: u64,
    pub n: u64,
    /// Format of the activation operand A.
    pub act: NumFormat,
    /// Format of the weight operand B.
    pub weight: NumFormat,
    /// Format of the output C as written back.
    pub out: NumFormat,
    /// True when B is a trained weight known ahead of time (false for attention's Q·Kᵀ and P·V).
    pub weights_static: bool,
    /// Block-structured sparsity of B, if any.
    pub sparsity: Option<BlockSparsity>,
    /// Vector quantization of A (LUT methods), if any.
    pub vq: Option<VqSpec>,
    /// Homomorphic-encryption cost, when the layer runs on ciphertexts.
    pub he: Option<HeCost>,
    /// How the weight operand is stored, when it differs from the compute format `weight`
    /// (e.g. b-bit indices into a codebook of f32 values). `None` = stored as `weight`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<WeightStorage>,
}

/// How a layer's weights are stored in memory (see the module docs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WeightStorage {
    /// Format of one stored element: the weight value itself, or, with a `codebook`, an
    /// unsigned index of that width (`Int(b)` for b-bit indices).
    pub element: NumFormat,
    /// Shared values the stored elements index into (Deep Compression's weight sharing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codebook: Option<Codebook>,
    /// How zero weights are kept in memory.
    #[serde(default)]
    pub zeros: ZeroEncoding,
}

/// A table of shared weight values that stored indices select from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Codebook {
    /// Values per codebook (at most 2^index bits).
    pub entries: u32,
    /// Format of one value.
    pub value: NumFormat,
    /// Codebooks in the layer (1 = one shared by the whole layer; N = one per output column).
    pub count: u32,
}

/// How a weight matrix keeps its zeros in memory.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ZeroEncoding {
    /// Zeros are stored like any other weight.
    #[default]
    Stored,
    /// Only the blocks kept by the layer's [`BlockSparsity`] are stored, plus one bit per
    /// block (a bitmap); a layer without sparsity stores everything.
    BlockBitmap,
}

impl WeightStorage {
    /// Weights stored as plain values of `element` (no codebook, zeros stored).
    pub fn plain(element: NumFormat) -> WeightStorage {
        WeightStorage {
            element,
            codebook: None,
            zeros: ZeroEncoding::Stored,
        }
    }

    /// `index_bits`-bit indices into one codebook of `entries` values of `value` per layer.
    pub fn codebook(index_bits: u8, entries: u32, value: NumFormat) -> WeightStorage {
        WeightStorage {
            element: NumFormat::Int(index_bits),
            codebook: Some(Codebook {
                entries,
                value,
                count: 1,
            }),
            zeros: ZeroEncoding::Stored,
        }
    }

    /// Bits of all codebooks of the layer (0 without one).
    pub fn codebook_bits(&self) -> f64 {
        self.codebook.as_ref().map_or(0.0, |c| {
            c.count as f64 * c.entries as f64 * c.value.bits() as f64
        })
    }
}

impl Gemm {
    /// A dense GEMM with the same format on both inputs and a 32-bit output.
    pub fn dense(m: u64, k: u64, n: u64, fmt: NumFormat) -> Gemm {
        let out = if fmt.is_float() {
            NumFormat::FP32
        } else {
            NumFormat::Int(32)
        };
        Gemm {
            m,
            k,
            n,
            act: fmt,
            weight: fmt,
            out,
            weights_static: true,
            sparsity: None,
            vq: None,
            he: None,
            storage: None,
        }
    }

    /// How the weights are stored: the explicit [`WeightStorage`], or plain values in the
    /// compute format `weight` (zeros stored) when the layer gives none.
    pub fn storage(&self) -> WeightStorage {
        self.storage
            .clone()
            .unwrap_or_else(|| WeightStorage::plain(self.weight))
    }

    /// Bits the weight operand occupies in memory under [`Gemm::storage`]: stored elements
    /// (all K·N, or only the kept blocks' under [`ZeroEncoding::BlockBitmap`]) at the element
    /// width, plus codebooks, plus the block bitmap.
    pub fn stored_weight_bits(&self) -> f64 {
        let s = self.storage();
        let all = (self.k * self.n) as f64;
        let (elements, bitmap) = match (s.zeros, &self.sparsity) {
            (ZeroEncoding::BlockBitmap, Some(sp)) => {
                let blocks = self.k.div_ceil(sp.block_k.max(1) as u64)
                    * self.n.div_ceil(sp.block_n.max(1) as u64);
                (all * sp.density, blocks as f64)
            }
            _ => (all, 0.0),
        };
        elements * s.element.bits() as f64 + s.codebook_bits() + bitmap
    }

    /// Multiply-accumulates of the dense op (before sparsity or VQ).
    ///
    /// Panics when M·K·N overflows u64 instead of wrapping to a wrong number: inputs from
    /// users go through [`Gemm::check`] first, which reports the overflow as an error.
    pub fn macs(&self) -> u64 {
        self.checked_macs().unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`Gemm::macs`], or the overflow as an error.
    pub fn checked_macs(&self) -> Result<u64, IrOverflow> {
        checked_product(&[self.m, self.k, self.n], "M·K·N")
    }

    /// Every size a cost model derives from the shape fits u64: M·K·N multiply-accumulates,
    /// and each operand (M·K, K·N, M·N elements) in bits at up to 64 bits per element.
    pub fn check(&self) -> Result<(), IrOverflow> {
        self.checked_macs()?;
        checked_product(&[self.m, self.k, 64], "M·K bits")?;
        checked_product(&[self.k, self.n, 64], "K·N bits")?;
        checked_product(&[self.m, self.n, 64], "M·N bits")?;
        Ok(())
    }

    /// Fraction of weight blocks that are kept (1.0 when dense).
    pub fn density(&self) -> f64 {
        self.sparsity.as_ref().map_or(1.0, |s| s.density)
    }
}

/// A size derived from a GEMM's shape does not fit 64 bits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} = {} overflows 64 bits (at most {} fit)", .factors.iter().map(|f| f.to_string()).collect::<Vec<_>>().join(" × "), u64::MAX)]
pub struct IrOverflow {
    /// What was being computed, e.g. `M·K·N`.
    pub what: &'static str,
    pub factors: Vec<u64>,
}

fn checked_product(factors: &[u64], what: &'static str) -> Result<u64, IrOverflow> {
    factors
        .iter()
        .try_fold(1u64, |acc, &f| acc.checked_mul(f))
        .ok_or_else(|| IrOverflow {
            what,
            factors: factors.to_vec(),
        })
}

/// Block-structured sparsity over the K×N weight matrix, blocks of `block_k × block_n`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BlockSparsity {
    pub block_k: u32,
    pub block_n: u32,
    /// Kept blocks ÷ all blocks, in [0, 1].
    pub density: f64,
    /// Per-block keep mask, row-major over ⌈K/block_k⌉ × ⌈N/block_n⌉ blocks, when known.
    /// Hardware models use it for load imbalance; without it they assume uniform density.
    pub mask: Option<Vec<bool>>,
}

/// Similarity metric of a vector quantizer's centroid search.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum VqMetric {
    L2,
    L1,
    Chebyshev,
}

impl VqMetric {
    pub const ALL: [VqMetric; 3] = [VqMetric::L2, VqMetric::L1, VqMetric::Chebyshev];
    pub const NAMES: &'static [&'static str] = &["l2", "l1", "chebyshev"];

    pub fn name(self) -> &'static str {
        match self {
            VqMetric::L2 => "l2",
            VqMetric::L1 => "l1",
            VqMetric::Chebyshev => "chebyshev",
        }
    }

    pub fn parse(s: &str) -> Option<VqMetric> {
        VqMetric::ALL.into_iter().find(|m| m.name() == s)
    }
}

/// Vector quantization of the activation operand: K splits into K/v sub-vectors, each
/// assigned to one of c centroids; the GEMM becomes table look-ups of precomputed partial sums.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VqSpec {
    /// Sub-vector length.
    pub v: u32,
    /// Centroids per codebook.
    pub c: u32,
    pub metric: VqMetric,
    /// Bit width of a look-up table entry (8 or 16).
    pub table_bits: u8,
    /// Bit width of a centroid element.
    pub centroid_bits: u8,
}

/// A non-linear (element-wise or row-wise) op.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NonlinearOp {
    pub kind: NonlinearKind,
    /// Elements processed per run.
    pub elements: u64,
    /// Length of the row a row-wise op (softmax, LayerNorm) normalizes over; 1 for element-wise ops.
    pub row: u64,
    pub implementation: NonlinearImpl,
    pub format: NumFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum NonlinearKind {
    Relu,
    Gelu,
    Silu,
    Softmax,
    LayerNorm,
    MaxPool,
    Other,
}

/// How a non-linear op is computed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum NonlinearImpl {
    /// Library exp/erf/sqrt in floating point.
    Exact,
    /// A polynomial of the given degree.
    Polynomial { degree: u8 },
    /// A piecewise-linear table with `segments` entries of `bits` each.
    PiecewiseLinear { segments: u16, bits: u8 },
    /// Integer-only arithmetic (I-BERT style) at the given width.
    Integer { bits: u8 },
    /// Base-2 softmax (Softermax): 2^x as an exponent shift plus a small polynomial for the
    /// fraction, then one reciprocal per row.
    Base2Softmax,
}

/// Ciphertext operation counts of a layer under homomorphic encryption.
///
/// The counts cover one *unit* of `images_per_unit` images (1 when each image has its own
/// ciphertexts, N when one image sits in each SIMD slot), so a layer on `m` images runs
/// `ceil(m / images_per_unit)` units and batching never changes the counts themselves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct HeCost {
    pub poly_degree: u32,
    /// Ciphertext × SIMD-encoded plaintext vector.
    pub ct_pt_mul: u64,
    pub ct_ct_mul: u64,
    pub relinearizations: u64,
    pub rotations: u64,
    /// Ciphertext + ciphertext or plaintext.
    pub additions: u64,
    /// Ciphertext × integer constant (CryptoNets-style dot products; much cheaper than
    /// `ct_pt_mul` as no plaintext vector is encoded). Each term's accumulation into its dot
    /// product is also counted in `additions` (see [`HeOpSeconds`] for how models price it).
    #[serde(default)]
    pub ct_scalar_mul: u64,
    /// Key switches: one per rotation and per relinearization.
    #[serde(default)]
    pub key_switches: u64,
    /// Images the counts cover (0 is read as 1).
    #[serde(default)]
    pub images_per_unit: u64,
    /// Bits of the ciphertext modulus q (every op's cost scales with its RNS limbs).
    #[serde(default)]
    pub log_q: u32,
}

/// Measured seconds of one of each homomorphic operation at one parameter point, single
/// thread: what `compbench bench he` prints and what a calibrated CPU cost model prices
/// [`HeCost`] counts with (hwmodels' `he-cpu`).
///
/// Counting convention shared with [`HeCost`]: `ct_scalar_mul` is one term of a ciphertext ×
/// integer dot product *including* its accumulation (fhe.rs fuses them), so the `additions` a
/// layer reports beyond one per scalar term are the standalone ones; `ct_ct_mul` is the tensor
/// product alone and `relinearization` its key switch; `rotation` includes its key switch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeOpSeconds {
    pub poly_degree: u32,
    /// Bits of q as built (the sum of the moduli's bits, rounded).
    pub log_q: u32,
    pub plain_bits: u32,
    pub ct_pt_mul: f64,
    pub ct_scalar_mul: f64,
    pub ct_ct_mul: f64,
    pub relinearization: f64,
    pub rotation: f64,
    pub addition: f64,
    pub encrypt: f64,
    pub decrypt: f64,
}

impl HeCost {
    /// Units (ciphertext groups) that `images` images need.
    pub fn units(&self, images: u64) -> u64 {
        images.div_ceil(self.images_per_unit.max(1))
    }
}

impl Layer {
    pub fn gemm(name: impl Into<String>, gemm: Gemm) -> Layer {
        Layer {
            name: name.into(),
            op: Op::Gemm(gemm),
            repeats: 1,
        }
    }

    pub fn nonlinear(name: impl Into<String>, op: NonlinearOp) -> Layer {
        Layer {
            name: name.into(),
            op: Op::Nonlinear(op),
            repeats: 1,
        }
    }

    pub fn with_repeats(mut self, repeats: u64) -> Layer {
        self.repeats = repeats;
        self
    }

    pub fn as_gemm(&self) -> Option<&Gemm> {
        match &self.op {
            Op::Gemm(g) => Some(g),
            Op::Nonlinear(_) => None,
        }
    }

    pub fn as_gemm_mut(&mut self) -> Option<&mut Gemm> {
        match &mut self.op {
            Op::Gemm(g) => Some(g),
            Op::Nonlinear(_) => None,
        }
    }
}

impl Workload {
    pub fn new(name: impl Into<String>) -> Workload {
        Workload {
            name: name.into(),
            layers: Vec::new(),
            accuracy: None,
        }
    }

    /// The same network run on `batch`× as many images at once: every GEMM's `m` and every
    /// non-linear op's element count scale by `batch`, and weights are shared across the batch
    /// (what batching buys an accelerator: weight and table loads amortize over more rows).
    /// `DeployedModel::workload(b)` equals `workload(1).at_batch(b)` for every zoo model (tested
    /// in compbench-nn), so results priced at any batch come from one stored batch-1 IR.
    ///
    /// Panics if a size overflows u64 (see [`Workload::checked_at_batch`]).
    pub fn at_batch(&self, batch: u64) -> Workload {
        self.checked_at_batch(batch)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`Workload::at_batch`], or the first overflowing size as an error.
    pub fn checked_at_batch(&self, batch: u64) -> Result<Workload, IrOverflow> {
        let mut w = self.clone();
        for l in &mut w.layers {
            match &mut l.op {
                Op::Gemm(g) => {
                    g.m = checked_product(&[g.m, batch], "M·batch")?;
                    g.check()?;
                }
                Op::Nonlinear(n) => {
                    n.elements = checked_product(&[n.elements, batch], "elements·batch")?;
                }
            }
        }
        Ok(w)
    }

    /// Dense multiply-accumulates over all GEMM layers, repeats included.
    pub fn macs(&self) -> u64 {
        self.gemms().map(|(l, g)| g.macs() * l.repeats).sum()
    }

    pub fn gemms(&self) -> impl Iterator<Item = (&Layer, &Gemm)> {
        self.layers
            .iter()
            .filter_map(|l| l.as_gemm().map(|g| (l, g)))
    }

    pub fn layer(&self, name: &str) -> Option<&Layer> {
        self.layers.iter().find(|l| l.name == name)
    }

    pub fn layer_mut(&mut self, name: &str) -> Option<&mut Layer> {
        self.layers.iter_mut().find(|l| l.name == name)
    }

    /// Stored weight bits over static-weight GEMMs, [`Gemm::stored_weight_bits`] each (VQ
    /// tables counted by the kernels' own `weight_bits`, not here).
    pub fn weight_bits(&self) -> f64 {
        self.gemms()
            .filter(|(_, g)| g.weights_static)
            .map(|(_, g)| g.stored_weight_bits())
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_that_overflow_u64_are_errors_not_wrapped_numbers() {
        // 1e11 · 1e8 · 1e7 = 1e26 multiply-accumulates: wrapping gave 4.9e18.
        let g = Gemm::dense(99_999_999_999, 99_999_999, 9_999_999, NumFormat::INT8);
        let e = g.checked_macs().unwrap_err();
        assert_eq!(e.what, "M·K·N");
        assert!(
            e.to_string()
                .starts_with("M·K·N = 99999999999 × 99999999 × 9999999 overflows 64 bits"),
            "{e}"
        );
        assert!(g.check().is_err());
        // Fits as a MAC count, but one operand's bits do not.
        let wide = Gemm::dense(1 << 40, 1 << 20, 1, NumFormat::INT8);
        assert_eq!(wide.checked_macs(), Ok(1 << 60));
        assert_eq!(wide.check().unwrap_err().what, "M·K bits");
        let ok = Gemm::dense(256, 512, 512, NumFormat::INT8);
        assert_eq!(ok.check(), Ok(()));
        assert_eq!(ok.macs(), 256 * 512 * 512);
        let mut w = Workload::new("t");
        w.layers.push(Layer::gemm("a", ok));
        assert!(w.checked_at_batch(1 << 50).is_err());
        assert_eq!(w.checked_at_batch(16).unwrap().macs(), 16 * 256 * 512 * 512);
    }

    #[test]
    fn macs_count_repeats_and_skip_nonlinear() {
        let mut w = Workload::new("t");
        w.layers
            .push(Layer::gemm("a", Gemm::dense(2, 3, 4, NumFormat::FP32)));
        w.layers
            .push(Layer::gemm("b", Gemm::dense(1, 5, 1, NumFormat::INT8)).with_repeats(4));
        w.layers.push(Layer::nonlinear(
            "act",
            NonlinearOp {
                kind: NonlinearKind::Relu,
                elements: 8,
                row: 1,
                implementation: NonlinearImpl::Exact,
                format: NumFormat::FP32,
            },
        ));
        assert_eq!(w.macs(), 24 + 20);
        assert_eq!(w.weight_bits(), 12.0 * 32.0 + 5.0 * 8.0);
    }

    #[test]
    fn storage_defaults_to_the_compute_format_and_counts_codebooks_and_bitmaps() {
        let mut g = Gemm::dense(1, 16, 8, NumFormat::FP32);
        assert_eq!(g.storage(), WeightStorage::plain(NumFormat::FP32));
        assert_eq!(g.stored_weight_bits(), 128.0 * 32.0);
        // 4-bit indices into 16 shared f32 values.
        g.storage = Some(WeightStorage::codebook(4, 16, NumFormat::FP32));
        assert_eq!(g.weight, NumFormat::FP32, "computes in f32 still");
        assert_eq!(g.stored_weight_bits(), 128.0 * 4.0 + 16.0 * 32.0);
        // Half the 4×4 blocks kept, stored with a bitmap of the 4×2 blocks.
        g.sparsity = Some(BlockSparsity {
            block_k: 4,
            block_n: 4,
            density: 0.5,
            mask: None,
        });
        g.storage = Some(WeightStorage {
            zeros: ZeroEncoding::BlockBitmap,
            ..WeightStorage::plain(NumFormat::INT8)
        });
        assert_eq!(g.stored_weight_bits(), 64.0 * 8.0 + 8.0);
        // Zeros stored: sparsity does not shrink storage.
        g.storage = None;
        assert_eq!(g.stored_weight_bits(), 128.0 * 32.0);
    }

    #[test]
    fn ir_without_storage_still_parses() {
        let g = Gemm::dense(2, 3, 4, NumFormat::INT8);
        let mut v = serde_json::to_value(&g).unwrap();
        assert!(v.get("storage").is_none(), "absent storage is not written");
        v.as_object_mut().unwrap().remove("storage");
        let back: Gemm = serde_json::from_value(v).unwrap();
        assert_eq!(back, g);
        let mut c = g.clone();
        c.storage = Some(WeightStorage::codebook(2, 4, NumFormat::FP32));
        let s = serde_json::to_string(&c).unwrap();
        assert_eq!(serde_json::from_str::<Gemm>(&s).unwrap(), c);
    }

    #[test]
    fn metric_names_round_trip() {
        for m in VqMetric::ALL {
            assert_eq!(VqMetric::parse(m.name()), Some(m));
        }
        assert_eq!(VqMetric::parse("cosine"), None);
    }

    #[test]
    fn workload_serializes_to_json_and_back() {
        let mut w = Workload::new("t");
        let mut g = Gemm::dense(4, 8, 2, NumFormat::INT8);
        g.vq = Some(VqSpec {
            v: 4,
            c: 16,
            metric: VqMetric::L1,
            table_bits: 8,
            centroid_bits: 8,
        });
        w.layers.push(Layer::gemm("x", g));
        let s = serde_json::to_string(&w).unwrap();
        let back: Workload = serde_json::from_str(&s).unwrap();
        assert_eq!(w, back);
    }
}
