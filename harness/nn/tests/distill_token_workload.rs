//! The distillation token's cost in the Workload IR (what hardware models price): exactly one
//! more row in every block's GEMMs, one more query and key in attention, the final LayerNorm on
//! two rows, and the second head; every plaintext hardware model prices the difference.

use compbench_core::{Op, Params, Workload};
use compbench_nn::models::{ModelConfig, Network};

/// (d_model, depth, heads, mlp_ratio, patch).
const CASES: &[(usize, usize, usize, usize, usize)] = &[
    (64, 4, 4, 2, 4),
    (32, 2, 2, 2, 7),
    (16, 1, 1, 3, 14),
    (128, 2, 8, 4, 4),
];

fn cfg(case: (usize, usize, usize, usize, usize), token: bool) -> ModelConfig {
    let (d_model, depth, heads, mlp_ratio, patch) = case;
    ModelConfig {
        d_model,
        depth,
        heads,
        mlp_ratio,
        patch,
        distill_token: token,
        ..ModelConfig::vit()
    }
}

fn workload(cfg: &ModelConfig, batch: u64) -> Workload {
    Network::new(cfg, &compbench_nn::device(), 0)
        .to_deployed()
        .workload(batch)
}

/// The extra MACs of the token, per image, by hand: with `t` patch tokens the sequence grows to
/// `t + 1`, so each block's four weight GEMMs run one more row (`3d² + d² + 2·d·hidden`), Q·Kᵀ
/// and P·V grow from `d·t²` to `d·(t+1)²` each (summed over heads), and the distillation head
/// adds `d·classes`.
fn expected_extra(case: (usize, usize, usize, usize, usize)) -> u64 {
    let (d, depth, _, ratio, patch) = case;
    let (d, hidden, t) = (d as u64, (d * ratio) as u64, (28 / patch).pow(2) as u64);
    let rows = 4 * d * d + 2 * d * hidden;
    let attention = 2 * d * (2 * t + 1);
    depth as u64 * (rows + attention) + d * 10
}

#[test]
fn token_adds_exactly_its_macs_to_the_ir() {
    for &case in CASES {
        let (plain, token) = (
            workload(&cfg(case, false), 1),
            workload(&cfg(case, true), 1),
        );
        assert_eq!(
            token.macs() - plain.macs(),
            expected_extra(case),
            "case {case:?}"
        );
        // At any batch the difference scales with the images.
        for b in [2u64, 7] {
            let (p, t) = (
                workload(&cfg(case, false), b),
                workload(&cfg(case, true), b),
            );
            assert_eq!(
                t.macs() - p.macs(),
                b * expected_extra(case),
                "case {case:?} ×{b}"
            );
            assert_eq!(token.at_batch(b), t, "case {case:?}: batch scaling");
        }
        let (d, seq) = (case.0 as u64, (28 / case.4).pow(2) as u64 + 1);
        let gemm = |name: &str| token.layer(name).unwrap().as_gemm().unwrap().clone();
        assert_eq!(
            (gemm("block0.qkv").m, gemm("patch_embed").m),
            (seq, seq - 1)
        );
        let qk = gemm("block0.qk");
        assert_eq!((qk.m, qk.n), (seq, seq));
        let dist = gemm("dist_head");
        assert_eq!((dist.m, dist.k, dist.n), (1, d, 10));
        let Op::Nonlinear(ln) = &token.layer("ln_f").unwrap().op else {
            panic!("ln_f is a non-linear op")
        };
        assert_eq!((ln.elements, ln.row), (2 * d, d), "patch mean and token");
        let Op::Nonlinear(sm) = &token.layer("block0.softmax").unwrap().op else {
            panic!("softmax is a non-linear op")
        };
        assert_eq!(sm.elements, case.2 as u64 * seq * seq);
        // Stored weights: the second head at 32 bits (the token itself is not a GEMM weight).
        assert_eq!(
            token.weight_bits() - plain.weight_bits(),
            (d * 10 * 32) as f64
        );
    }
}

/// Hardware models price the IR, so every plaintext one sees the token's MACs and charges for
/// them (specialized as the runner does).
#[test]
fn every_plaintext_hardware_model_prices_the_token() {
    let case = CASES[0];
    let (plain, token) = (
        workload(&cfg(case, false), 1),
        workload(&cfg(case, true), 1),
    );
    let mut priced = 0;
    for hw in compbench_hwmodels::all() {
        let defaults = Params::defaults(hw.params());
        let eval = |w: &Workload| {
            let design = hw.build(&hw.specialize(&defaults, w)).unwrap();
            (design.prices_he(), design.eval(w))
        };
        let ((he, p), (_, t)) = (eval(&plain), eval(&token));
        if he {
            continue; // priced only for encrypted workloads (NaN here)
        }
        priced += 1;
        assert!(
            t.latency_s > p.latency_s && t.energy_pj > p.energy_pj,
            "`{}`: token {:?} vs plain {:?}",
            hw.id(),
            (t.latency_s, t.energy_pj),
            (p.latency_s, p.energy_pj)
        );
        assert_eq!(
            (t.macs - p.macs).round() as u64,
            expected_extra(case),
            "`{}` counts the token's MACs",
            hw.id()
        );
    }
    assert!(priced >= 3, "only {priced} plaintext hardware models");
}
