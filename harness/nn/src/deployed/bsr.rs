//! [`BsrGemm`]: a deployed GEMM layer whose weights were pruned in blocks, run by the
//! block-sparse kernel ([`crate::kernels::bsr`]) and described to the hardware models with its
//! block shape, density and per-block mask.

use compbench_core::{BlockSparsity, Gemm, NumFormat};

use super::GemmKernel;
use super::kernels::add_bias;
use crate::kernels::bsr::{BsrError, BsrMatrix, bsr_gemm};

/// Block-sparse f32 GEMM with baked-in `K×N` weights (pruned blocks already zero) and bias.
/// Blocks that are all zero are skipped; output columns and input rows that are entirely zero
/// are compacted away. Bit-identical to [`crate::kernels::bsr::gemm_fma_reference`] plus bias.
#[derive(Debug, Clone)]
pub struct BsrGemm {
    weights: Vec<f32>,
    bias: Option<Vec<f32>>,
    matrix: BsrMatrix,
}

impl BsrGemm {
    /// `weights_kxn` is `K×N` row-major (as [`super::DenseGemm`]); blocks are
    /// `block_k × block_n` over it (edge blocks cover the remainder); `bias` has N values.
    pub fn new(
        k: usize,
        n: usize,
        weights_kxn: &[f32],
        bias: Option<&[f32]>,
        block_k: usize,
        block_n: usize,
    ) -> Result<BsrGemm, BsrError> {
        if let Some(b) = bias
            && b.len() != n
        {
            return Err(BsrError::Bias { n, got: b.len() });
        }
        let matrix = BsrMatrix::new(k, n, weights_kxn, block_k, block_n)?;
        Ok(BsrGemm {
            weights: weights_kxn.to_vec(),
            bias: bias.map(<[f32]>::to_vec),
            matrix,
        })
    }

    /// The block-sparse storage the kernel runs on.
    pub fn matrix(&self) -> &BsrMatrix {
        &self.matrix
    }
}

impl GemmKernel for BsrGemm {
    fn kind(&self) -> &'static str {
        "block-sparse-f32"
    }

    fn k(&self) -> usize {
        self.matrix.k()
    }

    fn n(&self) -> usize {
        self.matrix.n()
    }

    fn forward(&self, x: &[f32], m: usize, out: &mut [f32]) {
        bsr_gemm(m, x, &self.matrix, out);
        add_bias(out, self.bias.as_deref(), self.matrix.n());
    }

    /// FP32 GEMM with the block shape, the fraction of blocks that hold a non-zero and the
    /// per-block mask (row-major over K-blocks × N-blocks, as the IR defines it).
    fn gemm_ir(&self, m: u64) -> Gemm {
        let (bk, bn) = self.matrix.block();
        let mut g = Gemm::dense(m, self.k() as u64, self.n() as u64, NumFormat::FP32);
        g.sparsity = Some(BlockSparsity {
            block_k: bk as u32,
            block_n: bn as u32,
            density: self.matrix.block_density(),
            mask: Some(self.matrix.block_mask().to_vec()),
        });
        g
    }

    fn weight_bits(&self) -> f64 {
        self.matrix.storage_bits()
    }

    fn dense_weights(&self) -> Option<(&[f32], Option<&[f32]>)> {
        Some((&self.weights, self.bias.as_deref()))
    }
}
