//! Deployed kernels for what an external method returns.

use compbench_core::{BlockSparsity, Gemm, NumFormat, WeightStorage};
use compbench_nn::GemmKernel;
use compbench_nn::deployed::DenseGemm;

/// Weight sharing: each weight is an index into a per-layer codebook of shared values
/// (Deep Compression's weight clustering). The layer keeps the indices and the codebook; it
/// computes in f32 with the decoded matrix, which is exactly codebook[index] for every weight
/// (decoded once when the kernel is built, as an accelerator decodes at its array edge).
pub struct CodebookGemm {
    indices: Vec<u16>,
    codebook: Vec<f32>,
    index_bits: u8,
    value: NumFormat,
    decoded: DenseGemm,
}

impl CodebookGemm {
    /// `indices` is K×N row-major, every index < `codebook.len()` ≤ 2^`index_bits`.
    pub fn new(
        k: usize,
        n: usize,
        indices: Vec<u16>,
        codebook: Vec<f32>,
        index_bits: u8,
        value: NumFormat,
        bias: Option<Vec<f32>>,
    ) -> CodebookGemm {
        assert_eq!(indices.len(), k * n, "indices must be K×N");
        assert!(codebook.len() <= 1usize << index_bits, "codebook too large");
        let weights: Vec<f32> = indices.iter().map(|&i| codebook[i as usize]).collect();
        CodebookGemm {
            indices,
            codebook,
            index_bits,
            value,
            decoded: DenseGemm::new(k, n, weights, bias),
        }
    }

    pub fn indices(&self) -> &[u16] {
        &self.indices
    }

    pub fn codebook(&self) -> &[f32] {
        &self.codebook
    }
}

impl GemmKernel for CodebookGemm {
    fn kind(&self) -> &'static str {
        "codebook-f32"
    }
    fn k(&self) -> usize {
        self.decoded.k()
    }
    fn n(&self) -> usize {
        self.decoded.n()
    }
    fn forward(&self, x: &[f32], m: usize, out: &mut [f32]) {
        self.decoded.forward(x, m, out)
    }
    fn gemm_ir(&self, m: u64) -> Gemm {
        let mut g = self.decoded.gemm_ir(m);
        g.storage = Some(WeightStorage::codebook(
            self.index_bits,
            self.codebook.len() as u32,
            self.value,
        ));
        g
    }
    fn weight_bits(&self) -> f64 {
        self.indices.len() as f64 * self.index_bits as f64
            + self.codebook.len() as f64 * self.value.bits() as f64
    }
    fn dense_weights(&self) -> Option<(&[f32], Option<&[f32]>)> {
        self.decoded.dense_weights()
    }
}

/// A returned layer with what the method declared and the harness verified about its
/// weights: the integer compute width (values checked) and the measured block sparsity
/// (zeros stored: protocol 1 has no compressed-zeros storage).
pub struct DeclaredGemm {
    pub inner: Box<dyn GemmKernel>,
    /// `Int(b)` when the method declared b-bit weights (≤ 2^b values per output column).
    pub int_weights: Option<NumFormat>,
    /// Measured from the returned weights' all-zero blocks.
    pub sparsity: Option<BlockSparsity>,
}

impl GemmKernel for DeclaredGemm {
    fn kind(&self) -> &'static str {
        "external-f32"
    }
    fn k(&self) -> usize {
        self.inner.k()
    }
    fn n(&self) -> usize {
        self.inner.n()
    }
    fn forward(&self, x: &[f32], m: usize, out: &mut [f32]) {
        self.inner.forward(x, m, out)
    }
    fn gemm_ir(&self, m: u64) -> Gemm {
        let mut g = self.inner.gemm_ir(m);
        if let Some(f) = self.int_weights {
            g.weight = f;
        }
        g.sparsity = self.sparsity.clone();
        g
    }
    fn weight_bits(&self) -> f64 {
        match self.int_weights {
            Some(f) => (self.k() * self.n()) as f64 * f.bits() as f64,
            None => self.inner.weight_bits(),
        }
    }
    fn dense_weights(&self) -> Option<(&[f32], Option<&[f32]>)> {
        self.inner.dense_weights()
    }
}
