//! Non-linear ops: op counts per implementation, priced on every model.

use compbench_core::{Layer, NonlinearImpl, NonlinearKind, NonlinearOp, NumFormat, Params};
use compbench_hwmodels::vector::work;

fn op(kind: NonlinearKind, implementation: NonlinearImpl) -> NonlinearOp {
    NonlinearOp {
        kind,
        elements: 49 * 49,
        row: 49,
        implementation,
        format: NumFormat::FP32,
    }
}

#[test]
fn op_counts_per_implementation() {
    use NonlinearImpl as I;
    use NonlinearKind as K;
    #[rustfmt::skip]
    let cases: &[(K, I, f64, f64, f64)] = &[
        // kind, implementation, ops/element, table reads/element, ops/row
        (K::Softmax, I::Exact, 14.0, 0.0, 4.0),
        (K::Softmax, I::Polynomial { degree: 3 }, 7.0, 0.0, 3.0),
        (K::Softmax, I::PiecewiseLinear { segments: 16, bits: 8 }, 6.0, 1.0, 2.0),
        (K::Softmax, I::Integer { bits: 8 }, 8.0, 0.0, 10.0),
        (K::Softmax, I::Base2Softmax, 9.0, 0.0, 4.0),
        (K::Gelu, I::Base2Softmax, 15.0, 0.0, 0.0),
        (K::Gelu, I::Exact, 15.0, 0.0, 0.0),
        (K::Gelu, I::Polynomial { degree: 2 }, 5.0, 0.0, 0.0),
        (K::LayerNorm, I::Exact, 6.0, 0.0, 6.0),
        (K::Relu, I::Exact, 1.0, 0.0, 0.0),
        (K::MaxPool, I::Exact, 1.0, 0.0, 0.0),
    ];
    for &(kind, imp, e, r, row) in cases {
        let w = work(&op(kind, imp));
        assert_eq!(
            (w.ops_per_element, w.reads_per_element, w.ops_per_row),
            (e, r, row),
            "{kind:?} {imp:?}"
        );
    }
}

#[test]
fn cheaper_implementations_cost_less_on_every_model() {
    use NonlinearImpl as I;
    for model in compbench_hwmodels::all() {
        let d = model.build(&Params::defaults(model.params())).unwrap();
        if d.prices_he() {
            continue; // ciphertext work only: plaintext ops are not applicable (tests/he.rs)
        }
        let price = |imp| d.eval_layer(&Layer::nonlinear("sm", op(NonlinearKind::Softmax, imp)));
        let exact = price(I::Exact);
        let poly = price(I::Polynomial { degree: 3 });
        let int = price(I::Integer { bits: 8 });
        let base2 = price(I::Base2Softmax);
        assert!(
            exact.energy_pj > 0.0 && exact.latency_s > 0.0,
            "{}",
            model.id()
        );
        // On the GPU a small softmax is memory bound: cheaper arithmetic does not show.
        if model.id() == "gpu-roofline" {
            assert!(poly.energy_pj <= exact.energy_pj && int.energy_pj <= exact.energy_pj);
        } else {
            assert!(poly.energy_pj < exact.energy_pj, "{}", model.id());
            assert!(int.energy_pj < exact.energy_pj, "{}", model.id());
            assert!(base2.energy_pj < exact.energy_pj, "{}", model.id());
        }
    }
}

/// Per evaluated element: exact GELU (erf) costs more energy than I-BERT's integer i-GELU, a
/// 16-segment table, or a degree-3 Horner polynomial; a table's area grows with its segments.
#[test]
fn per_evaluation_cost_per_implementation() {
    use NonlinearImpl as I;
    let tech = compbench_hwmodels::tech::Tech::reference();
    let unit = compbench_hwmodels::vector::VectorUnit::new(&tech, 16);
    let gelu = |imp| unit.per_evaluation(&op(NonlinearKind::Gelu, imp));
    let exact = gelu(I::Exact);
    for imp in [
        I::Integer { bits: 16 },
        I::PiecewiseLinear {
            segments: 16,
            bits: 16,
        },
        I::Polynomial { degree: 3 },
    ] {
        assert!(gelu(imp).energy_pj < exact.energy_pj, "{imp:?}");
    }
    let (t16, t32) = (
        gelu(I::PiecewiseLinear {
            segments: 16,
            bits: 16,
        }),
        gelu(I::PiecewiseLinear {
            segments: 32,
            bits: 16,
        }),
    );
    assert!(t32.area_um2 > t16.area_um2 && t16.area_um2 > exact.area_um2);
    // Integer i-GELU at 16 bits: 5 + 3 ops per element at the int16 FMA energy.
    let int_op = tech
        .op(compbench_hwmodels::tech::ArithOp::IntMult(16))
        .energy_pj
        + tech
            .op(compbench_hwmodels::tech::ArithOp::IntAdd(32))
            .energy_pj;
    let e = gelu(I::Integer { bits: 16 }).energy_pj;
    assert!(
        (e - 8.0 * int_op).abs() < 1e-9 * e,
        "{e} vs {}",
        8.0 * int_op
    );
}
