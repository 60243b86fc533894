//! Technology scaling (Stillmaker–Baas), Horowitz table, SRAM calibration.

use compbench_hwmodels::sram::{Sram, access_64b_pj_45nm, capacity_exponent};
use compbench_hwmodels::tech::{ArithOp, Tech, area_scaling, cost_45nm, energy_scaling};

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol
}

#[test]
fn horowitz_table_at_45nm() {
    #[rustfmt::skip]
    let cases: &[(ArithOp, f64, f64)] = &[
        (ArithOp::IntAdd(8), 0.03, 36.0),
        (ArithOp::IntAdd(16), 0.05, 67.0),
        (ArithOp::IntAdd(32), 0.1, 137.0),
        (ArithOp::IntMult(8), 0.2, 282.0),
        (ArithOp::IntMult(32), 3.1, 3495.0),
        (ArithOp::Fp16Add, 0.4, 1360.0),
        (ArithOp::Fp16Mult, 1.1, 1640.0),
        (ArithOp::Fp32Add, 0.9, 4184.0),
        (ArithOp::Fp32Mult, 3.7, 7700.0),
    ];
    for &(op, e, a) in cases {
        let c = cost_45nm(op);
        assert!(
            close(c.energy_pj, e, 1e-9) && close(c.area_um2, a, 1e-6),
            "{op:?}: {c:?}"
        );
    }
}

/// Stillmaker–Baas factors from 45 nm at 0.8 V (hwmodels.md §4, derived column).
#[test]
fn stillmaker_baas_factors_at_0_8_v() {
    #[rustfmt::skip]
    let cases: &[(f64, f64, f64)] = &[
        // node, energy factor, area factor
        (32.0, 0.659, 0.46),
        (20.0, 0.221, 0.21),
        (16.0, 0.174, 0.19),
        (14.0, 0.139, 0.17),
        (10.0, 0.118, 0.10),
        (7.0, 0.094, 0.059),
        (28.0, 0.513, 0.377),
        (22.0, 0.294, 0.252),
    ];
    for &(node, e, a) in cases {
        let ef = energy_scaling(45.0, node, 0.8);
        let af = area_scaling(45.0, node);
        assert!(close(ef, e, 0.0015), "{node} nm energy {ef} vs {e}");
        assert!(close(af, a, 0.0015), "{node} nm area {af} vs {a}");
    }
}

#[test]
fn interpolation_runs_the_right_way() {
    for vdd in [0.7, 0.8, 0.9, 1.0] {
        let (e32, e28, e20) = (
            energy_scaling(45.0, 32.0, vdd),
            energy_scaling(45.0, 28.0, vdd),
            energy_scaling(45.0, 20.0, vdd),
        );
        assert!(e32 > e28 && e28 > e20, "{vdd} V: {e32} {e28} {e20}");
        let (a32, a28, a20) = (
            area_scaling(45.0, 32.0),
            area_scaling(45.0, 28.0),
            area_scaling(45.0, 20.0),
        );
        assert!(a32 > a28 && a28 > a20);
    }
    // Monotone in node across the whole range.
    let mut prev = f64::INFINITY;
    for node in (7..=130).rev() {
        let a = area_scaling(45.0, node as f64);
        assert!(a <= prev);
        prev = a;
    }
}

#[test]
fn tech_factors_compose_node_and_voltage() {
    let t = Tech::new(7.0, 0.8);
    // f_7(0.8) / f_45(0.9): node change at 0.8 V times the 0.9 → 0.8 V change at 45 nm.
    let expected = energy_scaling(45.0, 7.0, 0.8) * (1.103 * 0.64 - 0.362 * 0.8 + 0.2767)
        / (1.103 * 0.81 - 0.362 * 0.9 + 0.2767);
    assert!(close(t.energy_factor, expected, 1e-12));
    assert!(close(t.area_factor, 0.059, 1e-12));
    // Lower voltage, lower energy.
    assert!(Tech::new(28.0, 0.7).energy_factor < Tech::new(28.0, 0.9).energy_factor);
}

#[test]
fn sram_calibration() {
    // The power law reproduces Horowitz's three points within 5 %.
    let k = capacity_exponent();
    assert!(close(k, 0.477, 0.005), "{k}");
    for (kb, pj) in [(8.0, 10.0), (32.0, 20.0), (1024.0, 100.0)] {
        let e = access_64b_pj_45nm(kb);
        assert!((e / pj - 1.0).abs() < 0.05, "{kb} KB: {e}");
    }
    // CACTI 128 KB at 32 nm: 18.2 pJ per 64-bit read (we predict 24 pJ at 0.9 V, 20 pJ at
    // 0.8 V: within 35 %), 0.217 mm² (exact: it is the area calibration point).
    let s = Sram::new(&Tech::new(32.0, 0.9), 128.0, 64.0);
    assert!((s.access_pj / 18.2 - 1.0).abs() < 0.35, "{}", s.access_pj);
    let s08 = Sram::new(&Tech::new(32.0, 0.8), 128.0, 64.0);
    assert!(
        (s08.access_pj / 18.2 - 1.0).abs() < 0.15,
        "{}",
        s08.access_pj
    );
    assert!(close(s.area_um2, 0.217e6, 1.0), "{}", s.area_um2);
    // Bigger and wider cost more per access; per element, wider words are cheaper.
    let t = Tech::reference();
    assert!(Sram::new(&t, 64.0, 64.0).access_pj > Sram::new(&t, 16.0, 64.0).access_pj);
    let narrow = Sram::new(&t, 64.0, 8.0);
    let wide = Sram::new(&t, 64.0, 256.0);
    assert!(wide.access_pj > narrow.access_pj);
    assert!(wide.per_element_pj(8.0) < narrow.per_element_pj(8.0));
    assert!(Sram::new(&t, 64.0, 64.0).leakage_w > Sram::new(&t, 8.0, 64.0).leakage_w);
}
