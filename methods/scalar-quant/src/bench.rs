//! Rows for `compbench bench kernels --json`: each kernel's median time next to our dense f32
//! GEMM (`sgemm_packed`, weights pre-packed, as the deployed float model runs it) at the same
//! shape, measured in the same run. Integer rows time the whole deployed forward: activation
//! quantization (or bit packing), the integer GEMM and the fused dequantization epilogue.

use compbench_core::seed::Rng;
use compbench_nn::deployed::GemmKernel;
use compbench_nn::kernels::sgemm::{PackedB, sgemm_packed};
use serde_json::json;

pub use compbench_nn::bench::{KernelBenchRow, median_seconds, paired_seconds};

use crate::deployed::{ActSpec, QuantGemm, XnorGemm};
use crate::method::binary_weights;
use crate::quantizer::{Operand, QParams, QuantizedWeights, Scheme};

/// The headline shape plus the models' GEMMs at an evaluation batch (M = rows for 256 images
/// for the MLP/fc layers; one conv2 im2col batch of 16 images; one ViT MLP layer).
const SHAPES: &[(usize, usize, usize)] = &[
    (256, 512, 512),
    (256, 256, 128),
    (3136, 144, 32),
    (256, 1568, 128),
    (3136, 64, 128),
];

/// (w_bits, a_bits) of the int8-kernel rows.
const WIDTHS: &[(u32, u32)] = &[(8, 8), (4, 8), (4, 4), (2, 2)];

pub fn bench_rows(quick: bool) -> Vec<KernelBenchRow> {
    // Shared by each kernel and its dense baseline (paired rounds).
    let budget = if quick { 0.1 } else { 1.0 };
    let shapes = if quick { &SHAPES[..1] } else { SHAPES };
    let mut rows = Vec::new();
    for &(m, k, n) in shapes {
        let mut rng = Rng::new(0x5eed ^ (m * 31 + k * 7 + n) as u64);
        // Post-ReLU-like activations and Gaussian weights.
        let x: Vec<f32> = (0..m * k).map(|_| rng.normal().max(0.0)).collect();
        let w: Vec<f32> = (0..k * n).map(|_| rng.normal() * 0.05).collect();
        let packed = PackedB::new(k, n, &w);
        let (mut out, mut dense_out) = (vec![0f32; m * n], vec![0f32; m * n]);
        let mut dense = || sgemm_packed(m, &x, &packed, &mut dense_out);
        for &(wb, ab) in WIDTHS {
            let grids = crate::calibrate::weight_grids(
                &w,
                k,
                n,
                wb,
                Scheme::Symmetric,
                crate::calibrate::Calibration::MinMax,
                true,
            );
            let qw = QuantizedWeights::new(&w, k, n, grids, wb);
            let grid = QParams::from_range(0.0, 4.0, ab, Scheme::Symmetric, Operand::Activation);
            let kernel = QuantGemm::new(&qw, None, ActSpec::Uniform { grid, bits: ab });
            let (t, dense) = paired_seconds(budget, &mut dense, || kernel.forward(&x, m, &mut out));
            rows.push(KernelBenchRow::new(
                "int8",
                (m, k, n),
                json!({"w_bits": wb, "a_bits": ab}),
                t,
                dense,
            ));
        }
        let qw = binary_weights(&w, k, n, false);
        let alpha = qw.grids.iter().map(|g| g.scale).collect();
        let kernel = XnorGemm::new(&w, k, n, alpha, None, 0.5, 0.5);
        let (t, dense) = paired_seconds(budget, &mut dense, || kernel.forward(&x, m, &mut out));
        rows.push(KernelBenchRow::new(
            "binary",
            (m, k, n),
            json!({"w_bits": 1, "a_bits": 1}),
            t,
            dense,
        ));
    }
    rows
}
