//! GPU roofline: ridge point, §5 worked example, presets.

use std::collections::BTreeMap;

use compbench_core::{BlockSparsity, Gemm, HwDesign, Layer, NumFormat, Op, Params, Value};
use compbench_hwmodels::GpuDesign;
use compbench_hwmodels::gpu::{BSR_A100_FP32, GPU_PARAMS, bsr_time_ratio};
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

fn sparse_mlp(block: u32, block_n: u32, sparsity: f64, fmt: NumFormat) -> Layer {
    // ViT-B/16 MLP up-projection at batch 256 (the blog's setting): M = 256·197, K = 768, N = 3072.
    let mut g = Gemm::dense(256 * 197, 768, 3072, fmt);
    g.sparsity = Some(BlockSparsity {
        block_k: block,
        block_n,
        density: 1.0 - sparsity,
        mask: None,
    });
    Layer::gemm("mlp", g)
}

fn dense_of(l: &Layer) -> Layer {
    let mut d = l.clone();
    if let Op::Gemm(g) = &mut d.op {
        g.sparsity = None;
    }
    d
}

/// The BSR model reproduces the PyTorch blog's A100 fp32 points exactly: speedup at 90 %
/// sparsity and break-even sparsity per block size.
#[test]
fn bsr_reproduces_the_published_a100_fp32_points() {
    let published = [(16, 1.24, 0.86), (32, 1.37, 0.82), (64, 1.65, 0.70)];
    for ((b, s90, even), m) in published.into_iter().zip(BSR_A100_FP32) {
        assert_eq!(m.block, b);
        assert!(
            (bsr_time_ratio(b, b, 0.1) - 1.0 / s90).abs() < 1e-12,
            "block {b}"
        );
        assert!(
            (bsr_time_ratio(b, b, 1.0 - even) - 1.0).abs() < 1e-12,
            "block {b}"
        );
    }
    for fallback in [true, false] {
        let mut given = BTreeMap::new();
        given.insert("preset".to_string(), Value::Str("a100".into()));
        given.insert("precision".to_string(), Value::Str("fp32".into()));
        given.insert("bsr_dense_fallback".to_string(), Value::Bool(fallback));
        let a100 = GpuDesign::from_params(&Params(given)).unwrap();
        for (b, s90, even) in published {
            let speedup = |s: f64| {
                let l = sparse_mlp(b, b, s, NumFormat::FP32);
                a100.eval_layer(&dense_of(&l)).latency_s / a100.eval_layer(&l).latency_s
            };
            assert!(
                (speedup(0.9) - s90).abs() < 1e-9,
                "block {b}: {}",
                speedup(0.9)
            );
            assert!((speedup(even) - 1.0).abs() < 1e-9, "block {b}");
            // Below break-even the BSR kernel loses; the fallback runs dense instead.
            let below = speedup(even - 0.2);
            if fallback {
                assert_eq!(below, 1.0, "block {b}");
            } else {
                assert!(below < 1.0, "block {b}: {below}");
            }
        }
    }
}

#[test]
fn bsr_speed_grows_with_block_and_sparsity() {
    let a100 = gpu(&[("preset", "a100"), ("precision", "fp32")]);
    let t = |bk: u32, bn: u32, s: f64| {
        a100.eval_layer(&sparse_mlp(bk, bn, s, NumFormat::FP32))
            .latency_s
    };
    // Up to 95 %: beyond it the calibrated lines cross (see the module docs).
    for s in [0.9, 0.93, 0.95] {
        // Larger blocks are faster; a rectangular block sits between its two edges; below the
        // measured sizes (block 8) it is slower than block 16.
        assert!(t(8, 8, s) > t(16, 16, s));
        assert!(t(16, 16, s) > t(32, 32, s) && t(32, 32, s) > t(64, 64, s));
        assert!(t(32, 32, s) > t(32, 64, s) && t(32, 64, s) > t(64, 64, s));
        // Blocks above 64 keep the block-64 calibration.
        assert_eq!(t(128, 128, s), t(64, 64, s));
    }
    for b in [8, 16, 32, 64] {
        assert!(t(b, b, 0.95) < t(b, b, 0.9) && t(b, b, 0.99) < t(b, b, 0.95));
    }
    // Activation × activation GEMMs (attention) carry no weight sparsity to exploit.
    let mut l = sparse_mlp(64, 64, 0.9, NumFormat::FP32);
    if let Op::Gemm(g) = &mut l.op {
        g.weights_static = false;
    }
    assert_eq!(
        a100.eval_layer(&l).latency_s,
        a100.eval_layer(&dense_of(&l)).latency_s
    );
    // Energy follows the time (same busy power).
    let l = sparse_mlp(64, 64, 0.9, NumFormat::FP32);
    let (rs, rd) = (a100.eval_layer(&l), a100.eval_layer(&dense_of(&l)));
    assert!(rs.energy_pj < rd.energy_pj);
}
