//! [`AnnotatedGemm`]: a kernel that computes exactly as an inner kernel but tells the Workload IR
//! more about its weights than the inner kernel knows.
//!
//! Pruning, weight sharing and externally computed weights change what the weights *are*, not
//! how they are multiplied: their layers run on the dense (or block-sparse) kernel and differ
//! only in what the hardware models must price (a sparsity pattern, a storage format, a
//! narrower compute format) and in the bits the method really stores. One wrapper delegates
//! everything else, `dense_weights` included, so stacked methods (quantize after pruning) see
//! the weights through it.

use compbench_core::{BlockSparsity, Gemm, NumFormat, WeightStorage};

use super::GemmKernel;

pub struct AnnotatedGemm {
    inner: Box<dyn GemmKernel>,
    kind: &'static str,
    weight: Option<NumFormat>,
    sparsity: Option<BlockSparsity>,
    storage: Option<WeightStorage>,
    weight_bits: Option<f64>,
}

impl AnnotatedGemm {
    /// `inner` as it is, reported as `kind`; the `with_*` methods add what the IR should say.
    pub fn new(inner: Box<dyn GemmKernel>, kind: &'static str) -> AnnotatedGemm {
        AnnotatedGemm {
            inner,
            kind,
            weight: None,
            sparsity: None,
            storage: None,
            weight_bits: None,
        }
    }

    /// The weights' compute format (e.g. `Int(4)` for values the harness verified).
    pub fn with_weight_format(mut self, format: NumFormat) -> AnnotatedGemm {
        self.weight = Some(format);
        self
    }

    /// The zero pattern the hardware models may skip.
    pub fn with_sparsity(mut self, sparsity: BlockSparsity) -> AnnotatedGemm {
        self.sparsity = Some(sparsity);
        self
    }

    /// How the weights are stored, apart from how they are computed (a codebook, say).
    pub fn with_storage(mut self, storage: WeightStorage) -> AnnotatedGemm {
        self.storage = Some(storage);
        self
    }

    /// The bits the method stores for the weights (indices, masks and codebooks included).
    pub fn with_weight_bits(mut self, bits: f64) -> AnnotatedGemm {
        self.weight_bits = Some(bits);
        self
    }
}

impl GemmKernel for AnnotatedGemm {
    fn kind(&self) -> &'static str {
        self.kind
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
    // Delegated too: without it a pruned or weight-shared convolution would lose the inner
    // kernel's direct path and run slower than the dense layer it computes like.
    fn conv_nhwc(
        &self,
        x: &[f32],
        batch: usize,
        h: usize,
        w: usize,
        g: &crate::hooks::ConvGeom,
        out: &mut [f32],
    ) -> bool {
        self.inner.conv_nhwc(x, batch, h, w, g, out)
    }
    fn gemm_ir(&self, m: u64) -> Gemm {
        let mut g = self.inner.gemm_ir(m);
        if let Some(f) = self.weight {
            g.weight = f;
        }
        if let Some(s) = &self.sparsity {
            g.sparsity = Some(s.clone());
        }
        if let Some(s) = &self.storage {
            g.storage = Some(s.clone());
        }
        g
    }
    fn weight_bits(&self) -> f64 {
        self.weight_bits.unwrap_or_else(|| self.inner.weight_bits())
    }
    fn dense_weights(&self) -> Option<(&[f32], Option<&[f32]>)> {
        self.inner.dense_weights()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deployed::DenseGemm;

    #[test]
    fn computes_like_its_inner_kernel_and_annotates_only_what_it_is_given() {
        let w = vec![1.0, 0.0, 0.0, 2.0, 3.0, 0.0];
        let dense = DenseGemm::new(3, 2, w.clone(), Some(vec![0.5, -0.5]));
        let plain_ir = dense.gemm_ir(4);
        let sparsity = BlockSparsity {
            block_k: 1,
            block_n: 1,
            density: 0.5,
            mask: None,
        };
        let a = AnnotatedGemm::new(Box::new(dense.clone()), "pruned")
            .with_sparsity(sparsity.clone())
            .with_weight_bits(99.0);
        let x = [1.0, 2.0, 3.0, -1.0, 0.5, 4.0];
        let (mut want, mut got) = ([0.0; 4], [0.0; 4]);
        dense.forward(&x, 2, &mut want);
        a.forward(&x, 2, &mut got);
        assert_eq!(want, got);
        assert_eq!(a.kind(), "pruned");
        assert_eq!(a.weight_bits(), 99.0);
        assert_eq!(a.dense_weights().map(|(w, _)| w.to_vec()), Some(w));
        let ir = a.gemm_ir(4);
        assert_eq!(ir.sparsity, Some(sparsity));
        assert_eq!(
            (ir.weight, &ir.storage),
            (plain_ir.weight, &plain_ir.storage)
        );
        // Nothing given: the inner kernel's own description and bits.
        let bare = AnnotatedGemm::new(Box::new(dense.clone()), "dense");
        assert_eq!(bare.gemm_ir(4), plain_ir);
        assert_eq!(bare.weight_bits(), dense.weight_bits());
    }

    #[test]
    fn keeps_its_inner_kernels_convolution_path() {
        let g = crate::hooks::ConvGeom {
            in_channels: 1,
            out_channels: 4,
            kernel: 3,
            stride: 1,
            padding: 1,
        };
        let w: Vec<f32> = (0..36).map(|i| (i as f32 * 0.37).sin()).collect();
        let dense = DenseGemm::new(9, 4, w, Some(vec![0.1, -0.2, 0.3, 0.0]));
        let wrapped = AnnotatedGemm::new(Box::new(dense.clone()), "dense-f32-pruned");
        let x: Vec<f32> = (0..2 * 25).map(|i| (i as f32 * 0.11).cos()).collect();
        let (mut a, mut b) = (vec![0.0; 2 * 25 * 4], vec![1.0; 2 * 25 * 4]);
        let direct = dense.conv_nhwc(&x, 2, 5, 5, &g, &mut a);
        assert_eq!(wrapped.conv_nhwc(&x, 2, 5, 5, &g, &mut b), direct);
        if direct {
            assert_eq!(a, b);
        }
    }
}
