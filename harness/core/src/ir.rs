//! Workload IR: what a compressed network asks of the hardware.
//!
//! Methods emit it (through the deployed model), hardware models price it, and neither knows the
//! other. The role is the one Timeloop's problem spec plays. Every field is plain data with
//! public fields so new methods can fill in what they need: block sparsity for pruning, a VQ spec
//! for LUT methods, an implementation kind for approximated non-linear ops, HE op counts.

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
        }
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
}

/// Ciphertext operation counts of a layer under homomorphic encryption.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct HeCost {
    pub poly_degree: u32,
    pub ct_pt_mul: u64,
    pub ct_ct_mul: u64,
    pub relinearizations: u64,
    pub rotations: u64,
    pub additions: u64,
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

    /// Stored weight bits over static-weight GEMMs (after sparsity; VQ tables counted by
    /// the method's own metrics, not here).
    pub fn weight_bits(&self) -> f64 {
        self.gemms()
            .filter(|(_, g)| g.weights_static)
            .map(|(_, g)| (g.k * g.n) as f64 * g.density() * g.weight.bits() as f64)
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
