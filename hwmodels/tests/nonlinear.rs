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
        let price = |imp| d.eval_layer(&Layer::nonlinear("sm", op(NonlinearKind::Softmax, imp)));
        let exact = price(I::Exact);
        let poly = price(I::Polynomial { degree: 3 });
        let int = price(I::Integer { bits: 8 });
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
        }
    }
}
