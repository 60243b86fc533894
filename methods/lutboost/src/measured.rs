//! Storage metrics measured on the deployed model, not computed from the method's parameters:
//! bits per activation from what each LUT layer's encoder emits, bits per weight from what the
//! kernels store.

use compbench_core::Workload;
use compbench_nn::deployed::DeployedModel;

/// Bits one stored index takes: the width of the largest code, `c − 1` (⌈log2 c⌉, at least 1).
pub fn index_bits(c: u64) -> u64 {
    u64::from((c.max(2) - 1).ilog2() + 1)
}

/// Bits per activation element over the vector-quantized GEMMs of `w`, weighted by elements:
/// Σ rows · (K / v) · index_bits(c) / Σ rows · K, where rows = M · repeats per image and v, c
/// are what the deployed kernel reports (its encoder's: a conv layer's v_conv included).
/// `None` when no layer is vector-quantized.
pub fn bits_per_activation(w: &Workload) -> Option<f64> {
    let (mut bits, mut elements) = (0u64, 0u64);
    for (layer, g) in w.gemms() {
        let Some(vq) = &g.vq else { continue };
        let rows = g.m * layer.repeats;
        let codes_per_row = g.k / u64::from(vq.v);
        bits += rows * codes_per_row * index_bits(u64::from(vq.c));
        elements += rows * g.k;
    }
    (elements > 0).then(|| bits as f64 / elements as f64)
}

/// Stored bits of every GEMM layer's weights (dense layers' weights; LUT layers' tables and
/// centroids, as the kernels hold them) per weight of the float model (Σ K·N over the layers
/// with static weights). `None` for a model without such layers.
pub fn bits_per_weight(model: &DeployedModel) -> Option<f64> {
    let w = model.workload(1);
    let weights: u64 = w
        .gemms()
        .filter(|(_, g)| g.weights_static)
        .map(|(_, g)| g.k * g.n)
        .sum();
    (weights > 0).then(|| model.weight_bits() / weights as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::Codes;
    use crate::kernel::{Isa, LutGemm};
    use crate::metric::VqMetric;
    use crate::table::{TableBits, TableScale};
    use compbench_core::Layer;
    use compbench_nn::deployed::GemmKernel;

    fn lut(k: usize, n: usize, v: usize, c: usize) -> LutGemm {
        let centroids: Vec<f32> = (0..k / v * c * v).map(|i| (i % 7) as f32 * 0.1).collect();
        let w: Vec<f32> = (0..k * n).map(|i| (i % 5) as f32 - 2.0).collect();
        LutGemm::new(
            VqMetric::L2,
            v,
            c,
            &centroids,
            &w,
            n,
            None,
            TableBits::I8,
            TableScale::PerLayer,
        )
    }

    #[test]
    fn index_width() {
        assert_eq!(index_bits(16), 4);
        assert_eq!(index_bits(8), 3);
        assert_eq!(index_bits(32), 5);
        assert_eq!(index_bits(10), 4);
        assert_eq!(index_bits(2), 1);
    }

    #[test]
    fn bits_per_activation_of_a_v_conv_9_layer_by_hand() {
        // conv2 of the CNN at v_conv = 9: 16 input channels × 3×3 = K 144, 14×14 = 196 output
        // positions per image, c = 16: 16 codes of 4 bits per row of 144 elements = 4/9 bit.
        let conv = lut(144, 32, 9, 16);
        // fc1 at v = 8: K 1568, one row per image: 196 codes of 4 bits = 0.5 bit.
        let fc = lut(1568, 16, 8, 16);
        // What the encoder stores: 16 codes per conv row, each below 16 (4 bits).
        let x: Vec<f32> = (0..3 * 144).map(|i| (i % 11) as f32 * 0.05).collect();
        let mut codes = Codes::default();
        conv.enc.encode_with(Isa::Portable, &x, 3, &mut codes);
        assert_eq!(codes.nc, 16);
        assert!((0..3).all(|r| (0..16).all(|s| codes.get(r, s) < 16)));

        let mut w = Workload::new("t");
        w.layers.push(Layer::gemm("conv2", conv.gemm_ir(196)));
        assert!((bits_per_activation(&w).unwrap() - 4.0 / 9.0).abs() < 1e-12);
        w.layers.push(Layer::gemm("fc1", fc.gemm_ir(1)));
        // Weighted by elements: (196·16·4 + 196·4) / (196·144 + 1568) = 13 328 / 29 792.
        let want = 13_328.0 / 29_792.0;
        assert!((bits_per_activation(&w).unwrap() - want).abs() < 1e-12);
        // Not the parameter formula's 0.5.
        assert!((want - 0.5).abs() > 0.05);
        // Dense layers do not count; a model without LUT layers has no such metric.
        w.layers.push(Layer::gemm(
            "fc2",
            compbench_core::Gemm::dense(1, 128, 10, compbench_core::NumFormat::FP32),
        ));
        assert!((bits_per_activation(&w).unwrap() - want).abs() < 1e-12);
        let mut dense = Workload::new("d");
        dense.layers.push(Layer::gemm(
            "fc",
            compbench_core::Gemm::dense(1, 128, 10, compbench_core::NumFormat::FP32),
        ));
        assert_eq!(bits_per_activation(&dense), None);
    }

    #[test]
    fn lut_weight_bits_count_tables_and_centroids() {
        // K 16, N 8, v 4, c 16, int8 tables, f32 centroids: 4·16·8 table entries × 8 bits +
        // 16·16 centroid values × 32 bits = 4096 + 8192 bits over 128 weights = 96 bits each.
        let l = lut(16, 8, 4, 16);
        assert_eq!(l.weight_bits(), 4096.0 + 8192.0);
    }
}
