//! LUT accelerator: metric datapaths, trends in v and c, companion array, and the
//! LUT-DLA efficiency ranges against an equal-throughput int8 systolic array.

use compbench_core::{Gemm, HwDesign, Layer, NumFormat, Params, Value, VqMetric};
use compbench_hwmodels::lut::{
    LUT_PARAMS, LutConfig, LutDesign, dpe_cost, equal_throughput_systolic, lut_params_for,
};
use compbench_hwmodels::systolic::SystolicDesign;
use compbench_hwmodels::tech::Tech;
use compbench_hwmodels::workloads::{builtin, default_vq, vq_layers_only};

fn lut_params(metric: VqMetric, v: i64, c: i64) -> Params {
    let mut p = Params::defaults(LUT_PARAMS);
    p.set("v", Value::Int(v));
    p.set("c", Value::Int(c));
    p.set("metric", Value::Str(metric.name().into()));
    p
}

fn vq_layer(m: u64, k: u64, n: u64) -> Layer {
    let mut g = Gemm::dense(m, k, n, NumFormat::INT8);
    g.vq = Some(default_vq());
    Layer::gemm("g", g)
}

#[test]
fn l1_and_chebyshev_have_no_multipliers_and_are_cheaper() {
    let tech = Tech::new(28.0, 0.9);
    for v in [2, 4, 8, 16] {
        let cost = |m| {
            dpe_cost(
                &tech,
                &LutConfig::from_params(&lut_params(m, v, 16)).unwrap(),
            )
        };
        let (l2, l1, ch) = (
            cost(VqMetric::L2),
            cost(VqMetric::L1),
            cost(VqMetric::Chebyshev),
        );
        assert_eq!(l2.multipliers, v as u32);
        assert_eq!((l1.multipliers, ch.multipliers), (0, 0));
        assert!(
            l2.distance.energy_pj > l1.distance.energy_pj
                && l1.distance.energy_pj >= ch.distance.energy_pj
        );
        assert!(
            l2.distance.area_um2 > l1.distance.area_um2
                && l1.distance.area_um2 >= ch.distance.area_um2
        );
    }
}

#[test]
fn cost_grows_with_c_and_falls_with_v() {
    let w = vq_layers_only(&builtin("vit-lut").unwrap());
    for metric in VqMetric::ALL {
        let eval = |v, c| {
            LutDesign::from_params(&lut_params(metric, v, c))
                .unwrap()
                .eval(&w)
        };
        for v in [2, 4, 8] {
            let mut prev = eval(v, 4);
            for c in [8, 16, 32, 64] {
                let r = eval(v, c);
                assert!(
                    r.energy_pj > prev.energy_pj && r.area_um2 > prev.area_um2,
                    "{metric:?} v={v} c={c}"
                );
                assert!(r.latency_s >= prev.latency_s);
                prev = r;
            }
        }
        for c in [8, 16, 32] {
            let mut prev = eval(1, c);
            for v in [2, 4, 8, 16] {
                let r = eval(v, c);
                assert!(
                    r.energy_pj < prev.energy_pj && r.latency_s < prev.latency_s,
                    "{metric:?} v={v} c={c}"
                );
                prev = r;
            }
        }
    }
}

#[test]
fn cycles_follow_the_lut_stationary_formulas() {
    // Defaults: v=4, c=16, units=4, lanes=64, acc_rows=64.
    let d = LutDesign::from_params(&Params::defaults(LUT_PARAMS)).unwrap();
    #[rustfmt::skip]
    let cases: &[(u64, u64, u64, f64)] = &[
        // (M, K, N, cycles): M ≤ acc_rows → one M-tile; IMM = ⌈N/64⌉·Nc·max(M, 16) + 16 fill.
        (49, 64, 192, (3 * 16 * 49 + 16) as f64),
        (49, 128, 64, (32 * 49 + 16) as f64),
        // M = 1: every subspace waits for its table swap (c = 16 cycles).
        (1, 1568, 128, (2 * 392 * 16 + 16) as f64),
        // M = 196: tiles of 64, 64, 64, 4 rows; the last tile is table-swap bound.
        (196, 144, 32, (3 * 36 * 64 + 36 * 16 + 16) as f64),
    ];
    for &(m, k, n, cycles) in cases {
        let w = d.lut_work(&Gemm::dense(m, k, n, NumFormat::INT8));
        assert_eq!(w.cycles, cycles, "({m},{k},{n})");
        assert_eq!(w.lookups, (m * k.div_ceil(4) * n) as f64);
    }
}

#[test]
fn dense_layers_run_on_the_companion_array() {
    let d = LutDesign::from_params(&Params::defaults(LUT_PARAMS)).unwrap();
    let dense = d.eval_layer(&Layer::gemm(
        "conv1",
        Gemm::dense(784, 9, 16, NumFormat::INT8),
    ));
    assert!(dense.energy_breakdown.get("companion").unwrap() > 0.0);
    assert!(dense.energy_breakdown.get("ccm").is_none());
    let lut = d.eval_layer(&vq_layer(196, 144, 32));
    assert!(
        lut.energy_breakdown.get("ccm").unwrap() > 0.0
            && lut.energy_breakdown.get("companion").is_none()
    );
    assert!(d.consts.area_breakdown.get("companion").unwrap() > 0.0);
    // Breakdowns add up, for layers and whole networks.
    for name in ["cnn-lut", "vit-lut", "mlp-lut"] {
        let r = d.eval(&builtin(name).unwrap());
        assert!((r.energy_breakdown.total() - r.energy_pj).abs() <= 1e-9 * r.energy_pj);
        assert!((r.area_breakdown.total() - r.area_um2).abs() <= 1e-9 * r.area_um2);
    }
}

#[test]
fn equal_throughput_pairing() {
    for (v, lanes, rows, cols) in [
        (4, 64, 16, 16),
        (8, 64, 16, 32),
        (2, 64, 8, 16),
        (16, 32, 16, 32),
    ] {
        let mut p = lut_params(VqMetric::L2, v, 16);
        p.set("lanes", Value::Int(lanes));
        let s = equal_throughput_systolic(&p).unwrap();
        assert_eq!(
            (s.int("rows"), s.int("cols")),
            (rows, cols),
            "v={v} lanes={lanes}"
        );
        let lut = LutDesign::from_params(&p).unwrap();
        let sys = SystolicDesign::from_params(&s).unwrap();
        assert_eq!(lut.peak_macs_per_cycle(), sys.core.peak_macs_per_cycle());
    }
    let w = builtin("cnn-lut").unwrap();
    let p = lut_params_for(&w).unwrap();
    assert_eq!((p.int("v"), p.int("c"), p.str("metric")), (4, 16, "l2"));
    assert!(lut_params_for(&builtin("cnn").unwrap()).is_none());
}

/// LUT-DLA (HPCA'25) reports 1.4–7.0× power efficiency and 1.5–146.1× area efficiency.
/// Chip-level comparison (DRAM excluded, `dram_pj_bit = 0`), over the converted layers of the
/// tiny ViT (M = 49 tokens), typical v ∈ {4, 8}, c ∈ {8, 16}. CNN conv2 (M = 196, N = 32) lands
/// at 1.4–3.2× power but ≈ 1× area, and the batch-1 FC layers lose (tables are c/v × the
/// weights): see the hwmodels section of ARCHITECTURE.md.
#[test]
fn efficiency_ratios_land_in_lut_dla_ranges() {
    let vit = vq_layers_only(&builtin("vit-lut").unwrap());
    for (w, lanes) in [(&vit, 64)] {
        for metric in VqMetric::ALL {
            for v in [4, 8] {
                for c in [8, 16] {
                    let mut p = lut_params(metric, v, c);
                    p.set("dram_pj_bit", Value::Float(0.0));
                    p.set("lanes", Value::Int(lanes));
                    let lut = LutDesign::from_params(&p).unwrap().eval(w);
                    let sys = SystolicDesign::from_params(&equal_throughput_systolic(&p).unwrap())
                        .unwrap()
                        .eval(w);
                    let power = lut.ops_per_joule() / sys.ops_per_joule();
                    let area = lut.ops_per_s_per_mm2() / sys.ops_per_s_per_mm2();
                    let ctx = format!(
                        "{} {metric:?} v={v} c={c}: power {power:.2} area {area:.2}",
                        w.name
                    );
                    assert!((1.4..=7.0).contains(&power), "{ctx}");
                    assert!((1.5..=146.1).contains(&area), "{ctx}");
                }
            }
        }
    }
}

/// The registered `lut` model adopts the workload's VQ spec (LUT-DLA generates the accelerator
/// for the network) and keeps the suite's peak throughput, lanes × v.
#[test]
fn the_registered_lut_model_specializes_to_the_workloads_vq_spec() {
    use compbench_core::HwModel;
    let mut vq = default_vq();
    vq.v = 8;
    vq.c = 32;
    vq.metric = VqMetric::Chebyshev;
    let mut g = Gemm::dense(196, 144, 32, NumFormat::INT8);
    g.vq = Some(vq);
    let mut w = compbench_core::Workload::new("w");
    w.layers.push(Layer::gemm("g", g));
    let suite = Params::defaults(LUT_PARAMS);
    let model: &dyn HwModel = &compbench_hwmodels::LUT;
    let p = model.specialize(&suite, &w);
    assert_eq!(p.int("v"), 8);
    assert_eq!(p.int("c"), 32);
    assert_eq!(p.str("metric"), "chebyshev");
    assert_eq!(p.int("lanes"), suite.int("lanes") * suite.int("v") / 8);
}
