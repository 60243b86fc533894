//! The deployed form of a block-pruned layer: the ONE place this crate turns a pruned K×N
//! weight matrix into a `GemmKernel`.
//!
//! The kernel is nn's block-sparse GEMM (`BsrGemm`: zero blocks, dead rows and columns skipped,
//! bit-exact with the dense FMA reference over the weights with zeros), reporting the pruning's
//! block structure (shape, density and the per-block mask) in the Workload IR, so the hardware
//! models price the kept blocks. Weights `BsrGemm` refuses (a non-finite value) fall back to the
//! dense kernel, which computes the same product.

use compbench_core::BlockSparsity;
use compbench_nn::GemmKernel;
use compbench_nn::deployed::{AnnotatedGemm, BsrGemm, DenseGemm};

use crate::blocks::BlockGrid;

/// A pruned layer's deployed kernel. `w_kxn` already holds zeros in the pruned blocks;
/// `block_keep` is the block mask in [`BlockGrid`] order (= the IR's mask order).
pub fn deploy_layer(
    grid: &BlockGrid,
    w_kxn: Vec<f32>,
    bias: Option<Vec<f32>>,
    block_keep: Vec<bool>,
) -> Box<dyn GemmKernel> {
    let kept = block_keep.iter().filter(|&&b| b).count();
    let density = kept as f64 / block_keep.len().max(1) as f64;
    let inner: Box<dyn GemmKernel> = match BsrGemm::new(
        grid.k,
        grid.n,
        &w_kxn,
        bias.as_deref(),
        grid.shape.cols,
        grid.shape.rows,
    ) {
        Ok(bsr) => Box::new(bsr),
        Err(_) => Box::new(DenseGemm::new(grid.k, grid.n, w_kxn, bias)),
    };
    // Kept blocks in f32 plus one bit per block of index (a block bitmap).
    let elements = (grid.k * grid.n) as f64;
    let stored_bits = elements * density * 32.0 + block_keep.len() as f64;
    let kind = inner.kind();
    Box::new(
        AnnotatedGemm::new(inner, kind)
            .with_sparsity(BlockSparsity {
                block_k: grid.shape.cols as u32,
                block_n: grid.shape.rows as u32,
                density,
                mask: Some(block_keep),
            })
            .with_weight_bits(stored_bits),
    )
}

/// What the report must know about the deployed kernel.
pub const KERNEL_NOTE: &str = "deployed layers run the block-sparse f32 GEMM (zero blocks \
skipped); measured CPU latency includes the dense attention, LayerNorm, softmax and GELU";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blocks::BlockShape;

    #[test]
    fn ir_reports_the_block_mask_in_k_by_n_order() {
        let grid = BlockGrid::new(4, 6, BlockShape { rows: 3, cols: 2 }).unwrap();
        let keep = vec![true, false, false, true];
        let w = grid
            .element_mask(&keep)
            .iter()
            .map(|&b| if b { 1.0 } else { 0.0 })
            .collect();
        let k = deploy_layer(&grid, w, None, keep.clone());
        let g = k.gemm_ir(5);
        let sp = g.sparsity.expect("sparsity reported");
        assert_eq!((sp.block_k, sp.block_n), (2, 3));
        assert_eq!(sp.density, 0.5);
        assert_eq!(sp.mask, Some(keep));
        // The kernel computes with the zeros: x = ones → each output sums its kept column.
        let mut out = vec![0.0; 6];
        k.forward(&[1.0; 4], 1, &mut out);
        assert_eq!(out, vec![2.0, 2.0, 2.0, 2.0, 2.0, 2.0]);
    }
}
