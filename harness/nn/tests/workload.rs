//! Workload IR of each model against hand-computed MACs and element counts.

use compbench_core::{NonlinearKind, Op};
use compbench_nn::models::{ModelConfig, Network};

fn workload(cfg: &ModelConfig, batch: u64) -> compbench_core::Workload {
    Network::new(cfg, &compbench_nn::device(), 0)
        .to_deployed()
        .workload(batch)
}

#[test]
fn mlp_macs() {
    let w = workload(&ModelConfig::mlp(), 1);
    assert_eq!(w.macs(), 784 * 256 + 256 * 128 + 128 * 10);
    assert_eq!(
        workload(&ModelConfig::mlp(), 8).macs(),
        8 * (784 * 256 + 256 * 128 + 128 * 10)
    );
    assert_eq!(
        w.layers
            .iter()
            .filter(|l| matches!(l.op, Op::Nonlinear(_)))
            .count(),
        2
    );
}

#[test]
fn cnn_macs_and_conv_lowering() {
    let w = workload(&ModelConfig::cnn(), 2);
    let conv1 = w.layer("conv1").unwrap().as_gemm().unwrap();
    assert_eq!((conv1.m, conv1.k, conv1.n), (2 * 784, 9, 16));
    let conv2 = w.layer("conv2").unwrap().as_gemm().unwrap();
    assert_eq!((conv2.m, conv2.k, conv2.n), (2 * 196, 144, 32));
    assert_eq!(
        w.macs(),
        2 * (784 * 9 * 16 + 196 * 144 * 32 + 1568 * 128 + 128 * 10)
    );
    let Op::Nonlinear(pool) = &w.layer("conv1.pool").unwrap().op else {
        panic!()
    };
    assert_eq!(
        (pool.kind, pool.elements),
        (NonlinearKind::MaxPool, 2 * 784 * 16)
    );
    let Op::Nonlinear(relu) = &w.layer("conv2.relu").unwrap().op else {
        panic!()
    };
    assert_eq!(relu.elements, 2 * 196 * 32);
}

#[test]
fn vit_macs_attention_and_nonlinear_counts() {
    let w = workload(&ModelConfig::vit(), 1);
    let (t, d, h, dh, hid) = (49u64, 64u64, 4u64, 16u64, 128u64);
    let block = t * d * 3 * d + 2 * h * t * dh * t + t * d * d + 2 * t * d * hid;
    assert_eq!(w.macs(), t * 16 * d + 4 * block + d * 10);
    assert_eq!(w.macs(), 7_702_656);
    let qk = w.layer("block0.qk").unwrap();
    assert_eq!(qk.repeats, 4);
    let g = qk.as_gemm().unwrap();
    assert!(!g.weights_static);
    assert_eq!((g.m, g.k, g.n), (t, dh, t));
    let pv = w.layer("block3.pv").unwrap().as_gemm().unwrap();
    assert_eq!((pv.m, pv.k, pv.n), (t, t, dh));
    let Op::Nonlinear(sm) = &w.layer("block1.softmax").unwrap().op else {
        panic!()
    };
    assert_eq!((sm.elements, sm.row), (h * t * t, t));
    let Op::Nonlinear(gelu) = &w.layer("block2.gelu").unwrap().op else {
        panic!()
    };
    assert_eq!((gelu.elements, gelu.row), (t * hid, 1));
    let Op::Nonlinear(ln) = &w.layer("ln_f").unwrap().op else {
        panic!()
    };
    assert_eq!((ln.elements, ln.row), (d, d));
    // Static weight bits: every trainable GEMM weight at 32 bits.
    let net = Network::new(&ModelConfig::vit(), &compbench_nn::device(), 0);
    let kn: u64 = net
        .gemm_layers()
        .iter()
        .map(|l| (l.k() * l.n()) as u64)
        .sum();
    assert_eq!(w.weight_bits(), kn as f64 * 32.0);
}

/// The runner stores batch-1 IR and prices it at the suite's `hw_batch`: scaling must give
/// exactly the IR the deployed model emits for that batch.
#[test]
fn batch_scaling_equals_the_deployed_ir_at_that_batch() {
    for cfg in [ModelConfig::mlp(), ModelConfig::cnn(), ModelConfig::vit()] {
        let one = workload(&cfg, 1);
        for b in [1u64, 2, 7, 64] {
            assert_eq!(
                one.at_batch(b),
                workload(&cfg, b),
                "{:?} at batch {b}",
                cfg.kind
            );
        }
    }
}

/// hwmodels' built-in workloads (`compbench hw eval --workload cnn`, the DSE examples) describe
/// the same three models: same layer names, kinds and shapes, in the same order.
#[test]
fn hwmodels_builtin_workloads_match_the_emitted_ir() {
    use compbench_hwmodels::workloads;
    let describe = |w: &compbench_core::Workload| -> Vec<String> {
        w.layers
            .iter()
            .map(|l| match &l.op {
                Op::Gemm(g) => format!("{} gemm {}x{}x{} x{}", l.name, g.m, g.k, g.n, l.repeats),
                Op::Nonlinear(n) => {
                    format!(
                        "{} {:?} {}/{} x{}",
                        l.name, n.kind, n.elements, n.row, l.repeats
                    )
                }
            })
            .collect()
    };
    for (cfg, builtin) in [
        (ModelConfig::mlp(), workloads::mlp()),
        (ModelConfig::cnn(), workloads::cnn()),
        (ModelConfig::vit(), workloads::vit()),
    ] {
        let emitted = describe(&workload(&cfg, 1));
        let builtin = describe(&builtin);
        assert_eq!(
            emitted, builtin,
            "{:?}:\nnn emits\n{emitted:#?}\nhwmodels has\n{builtin:#?}",
            cfg.kind
        );
    }
}
