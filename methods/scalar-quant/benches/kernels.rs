//! Criterion benches of the int8 and binary GEMMs against our dense f32 GEMM at M=K=N-ish
//! model shapes. `compbench bench kernels --json` reports the same comparison as ratios.

use compbench_core::seed::Rng;
use compbench_nn::deployed::GemmKernel;
use compbench_nn::kernels::sgemm::{PackedB, sgemm_packed};
use compbench_scalar_quant::calibrate::{Calibration, weight_grids};
use compbench_scalar_quant::deployed::{ActSpec, QuantGemm, XnorGemm};
use compbench_scalar_quant::method::binary_weights;
use compbench_scalar_quant::quantizer::{Operand, QParams, QuantizedWeights, Scheme};
use criterion::{Criterion, criterion_group, criterion_main};

fn gemms(c: &mut Criterion) {
    let (m, k, n) = (256, 512, 512);
    let mut rng = Rng::new(1);
    let x: Vec<f32> = (0..m * k).map(|_| rng.normal().max(0.0)).collect();
    let w: Vec<f32> = (0..k * n).map(|_| rng.normal() * 0.05).collect();
    let mut out = vec![0f32; m * n];
    let mut g = c.benchmark_group("gemm_256x512x512");
    let packed = PackedB::new(k, n, &w);
    g.bench_function("dense_f32", |b| {
        b.iter(|| sgemm_packed(m, &x, &packed, &mut out))
    });
    for (wb, ab) in [(8u32, 8u32), (4, 4), (2, 2)] {
        let qw = QuantizedWeights::new(
            &w,
            k,
            n,
            weight_grids(&w, k, n, wb, Scheme::Symmetric, Calibration::MinMax, true),
            wb,
        );
        let grid = QParams::from_range(0.0, 4.0, ab, Scheme::Symmetric, Operand::Activation);
        let kern = QuantGemm::new(&qw, None, ActSpec::Uniform { grid, bits: ab });
        g.bench_function(format!("int8_w{wb}a{ab}"), |b| {
            b.iter(|| kern.forward(&x, m, &mut out))
        });
    }
    let qw = binary_weights(&w, k, n, false);
    let xn = XnorGemm::new(
        &w,
        k,
        n,
        qw.grids.iter().map(|q| q.scale).collect(),
        None,
        0.5,
        0.5,
    );
    g.bench_function("xnor", |b| b.iter(|| xn.forward(&x, m, &mut out)));
    g.finish();
}

criterion_group!(benches, gemms);
criterion_main!(benches);
