//! Deployed kernels for what an external method returns: the dense kernel, annotated with what
//! the method declared and the harness verified ([`AnnotatedGemm`]).

use compbench_core::{BlockSparsity, NumFormat, WeightStorage};
use compbench_nn::GemmKernel;
use compbench_nn::deployed::{AnnotatedGemm, DenseGemm};

/// Weight sharing: each weight is an index into a per-layer codebook of shared values
/// (Deep Compression's weight clustering). The layer stores the indices and the codebook; it
/// computes in f32 with the decoded matrix, which is exactly codebook[index] for every weight
/// (decoded once when the kernel is built, as an accelerator decodes at its array edge).
/// `indices` is K×N row-major, every index < `codebook.len()` ≤ 2^`index_bits`.
pub fn codebook_gemm(
    k: usize,
    n: usize,
    indices: &[u16],
    codebook: &[f32],
    index_bits: u8,
    value: NumFormat,
    bias: Option<Vec<f32>>,
) -> AnnotatedGemm {
    assert_eq!(indices.len(), k * n, "indices must be K×N");
    assert!(codebook.len() <= 1usize << index_bits, "codebook too large");
    let weights: Vec<f32> = indices.iter().map(|&i| codebook[i as usize]).collect();
    let stored_bits =
        indices.len() as f64 * index_bits as f64 + codebook.len() as f64 * value.bits() as f64;
    AnnotatedGemm::new(
        Box::new(DenseGemm::new(k, n, weights, bias)),
        "codebook-f32",
    )
    .with_storage(WeightStorage::codebook(
        index_bits,
        codebook.len() as u32,
        value,
    ))
    .with_weight_bits(stored_bits)
}

/// A returned layer with what the method declared and the harness verified about its weights:
/// the integer compute width (`Int(b)`: values checked, ≤ 2^b per output column) and the
/// measured block sparsity (zeros stored: protocol 1 has no compressed-zeros storage).
pub fn declared_gemm(
    inner: Box<dyn GemmKernel>,
    int_weights: Option<NumFormat>,
    sparsity: Option<BlockSparsity>,
) -> AnnotatedGemm {
    let elements = (inner.k() * inner.n()) as f64;
    let mut g = AnnotatedGemm::new(inner, "external-f32");
    if let Some(f) = int_weights {
        g = g
            .with_weight_format(f)
            .with_weight_bits(elements * f.bits() as f64);
    }
    if let Some(s) = sparsity {
        g = g.with_sparsity(s);
    }
    g
}
