//! GPU roofline: ridge point, §5 worked example, presets.

use std::collections::BTreeMap;

use compbench_core::{Gemm, HwDesign, Layer, NumFormat, Params, Value};
use compbench_hwmodels::GpuDesign;
use compbench_hwmodels::gpu::GPU_PARAMS;
use compbench_hwmodels::workloads;

fn gpu(pairs: &[(&str, &str)]) -> GpuDesign {
    let given: BTreeMap<String, Value> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), Value::Str(v.to_string())))
        .collect();
    GpuDesign::from_params(&Params::resolve(GPU_PARAMS, &given).unwrap()).unwrap()
}

#[test]
fn h100_ridge_point() {
    let h = gpu(&[]);
    assert!(
        (h.ridge_flop_per_byte() - 295.3).abs() < 0.1,
        "{}",
        h.ridge_flop_per_byte()
    );
    let a = gpu(&[("preset", "a100")]);
    assert!((a.ridge_flop_per_byte() - 312.0 / 2.039).abs() < 0.1);
}

/// hwmodels.md §5: ViT-B MLP GEMM on H100 FP16 is memory bound at 1.86 µs; at batch 8
/// (M = 1576) compute bound at 7.52 µs.
#[test]
fn vit_b_mlp_gemm_roofline() {
    let h = gpu(&[]);
    let cases = [(197u64, 1.86e-6), (1576, 7.52e-6)];
    for (m, t) in cases {
        let r = h.eval_layer(&Layer::gemm(
            "mlp",
            Gemm::dense(m, 768, 3072, NumFormat::FP16),
        ));
        assert!((r.latency_s - t).abs() < 0.01e-6, "M={m}: {}", r.latency_s);
        assert!(r.power_w <= h.spec.tdp_w + 1e-9);
        assert!((r.energy_breakdown.total() - r.energy_pj).abs() <= 1e-9 * r.energy_pj);
    }
}

#[test]
fn whole_networks_and_nonlinear_ops_are_priced() {
    let h = gpu(&[("precision", "int8")]);
    for w in [workloads::mlp(), workloads::cnn(), workloads::vit()] {
        let r = h.eval(&w);
        assert!(r.latency_s > 0.0 && r.energy_pj > 0.0, "{}", w.name);
        for l in &w.layers {
            assert!(h.eval_layer(l).latency_s > 0.0, "{}", l.name);
        }
    }
}
