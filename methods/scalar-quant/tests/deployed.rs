//! The hard forward of a fake-quant trainable layer equals the deployed integer kernel's output
//! (within float rounding of dequantization), for every activation/weight scheme and both ISAs.

use burn::tensor::{Device, Tensor, TensorData};
use compbench_core::seed::Rng;
use compbench_nn::deployed::GemmKernel;
use compbench_nn::hooks::{GemmSite, TrainHooks};
use compbench_scalar_quant::calibrate::{Calibration, calibrate, weight_grids};
use compbench_scalar_quant::deployed::{ActSpec, QuantGemm, XnorGemm};
use compbench_scalar_quant::kernels::Isa;
use compbench_scalar_quant::method::{binary_weights, lsq_weight_range};
use compbench_scalar_quant::qat::{ActQ, Learned, QatHooks, QatPlan, WeightQ, values};
use compbench_scalar_quant::quantizer::{Operand, QParams, QuantizedWeights, Scheme};

const SITE: GemmSite = GemmSite {
    name: "fc",
    index: 1,
    first: false,
    last: false,
};

fn isas() -> Vec<Isa> {
    Isa::available()
}

/// The trainable layer's forward under `plan` (plain device, no autodiff).
fn hooked(
    x: &[f32],
    m: usize,
    w: &[f32],
    b: &[f32],
    k: usize,
    n: usize,
    wq: WeightQ,
    aq: ActQ,
    learned: Learned,
) -> Vec<f32> {
    let d = Device::flex();
    let mut plan = QatPlan::default();
    plan.layers.insert("fc".into(), (wq, aq));
    let hooks = QatHooks {
        plan: &plan,
        learned: &learned,
    };
    let xt = Tensor::<2>::from_data(TensorData::new(x.to_vec(), [m, k]), &d);
    let wt = Tensor::<2>::from_data(TensorData::new(w.to_vec(), [k, n]), &d);
    let bt = Tensor::<1>::from_data(TensorData::new(b.to_vec(), [n]), &d);
    values(hooks.linear(&SITE, xt, wt, Some(bt)))
}

fn close(a: &[f32], b: &[f32], what: &str) {
    assert_eq!(a.len(), b.len());
    let scale = b.iter().fold(0f32, |m, v| m.max(v.abs())).max(1.0);
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            (x - y).abs() <= 2e-5 * scale,
            "{what}: [{i}] kernel {x} vs trainable {y}"
        );
    }
}

#[test]
fn fake_quant_forward_equals_integer_kernels() {
    let d = Device::flex();
    // (m, k, n) with odd sizes.
    for &(m, k, n) in &[(5usize, 37usize, 19usize), (16, 64, 16), (3, 130, 33)] {
        let mut r = Rng::new((m * k * n) as u64);
        let relu: Vec<f32> = (0..m * k).map(|_| r.normal().max(0.0) * 2.0).collect();
        let signed: Vec<f32> = (0..m * k).map(|_| r.normal()).collect();
        let w: Vec<f32> = (0..k * n).map(|_| r.normal() * 0.1).collect();
        let b: Vec<f32> = (0..n).map(|_| r.normal() * 0.1).collect();
        for bits in [8u32, 4, 2] {
            for x in [&relu, &signed] {
                // STE / fixed grids: per-channel min-max weights, MSE activation grid.
                let grids =
                    weight_grids(&w, k, n, bits, Scheme::Symmetric, Calibration::MinMax, true);
                let agrid = calibrate(
                    x,
                    bits,
                    Scheme::Symmetric,
                    Operand::Activation,
                    Calibration::Mse,
                );
                let want = hooked(
                    x,
                    m,
                    &w,
                    &b,
                    k,
                    n,
                    WeightQ::MinMax {
                        qmax: (1 << (bits - 1)) - 1,
                        per_channel: true,
                    },
                    ActQ::Fixed(agrid),
                    Learned::new(vec![], vec![], &d),
                );
                let qw = QuantizedWeights::new(&w, k, n, grids, bits);
                for isa in isas() {
                    let mut out = vec![0.0; m * n];
                    QuantGemm::with_isa(
                        &qw,
                        Some(b.clone()),
                        ActSpec::Uniform { grid: agrid, bits },
                        isa,
                    )
                    .forward(x, m, &mut out);
                    close(
                        &out,
                        &want,
                        &format!("ste W{bits}A{bits} {m}×{k}×{n} {isa:?}"),
                    );
                }
                // LSQ: learned steps (per-channel weights), signed or unsigned activation grid.
                let (wqn, wqp) = lsq_weight_range(bits);
                let ws: Vec<f32> = (0..n).map(|j| 0.01 + 0.002 * j as f32).collect();
                let a_grid = QParams {
                    scale: 0.07,
                    zero_point: 0,
                    qmin: if x == &signed {
                        -((1 << (bits - 1)) - 1)
                    } else {
                        0
                    },
                    qmax: if x == &signed {
                        (1 << (bits - 1)) - 1
                    } else {
                        (1 << bits) - 1
                    },
                };
                let learned = Learned::new(vec![ws.clone()], vec![a_grid.scale], &d);
                let want = hooked(
                    x,
                    m,
                    &w,
                    &b,
                    k,
                    n,
                    WeightQ::Lsq {
                        idx: 0,
                        qn: wqn,
                        qp: wqp,
                        g: 1.0,
                    },
                    ActQ::Lsq {
                        idx: 0,
                        qn: a_grid.q_n(),
                        qp: a_grid.q_p(),
                        g: 1.0,
                    },
                    learned,
                );
                let lgrids = ws
                    .iter()
                    .map(|&s| QParams {
                        scale: s,
                        zero_point: 0,
                        qmin: -wqn,
                        qmax: wqp,
                    })
                    .collect();
                let qw = QuantizedWeights::new(&w, k, n, lgrids, bits);
                for isa in isas() {
                    let mut out = vec![0.0; m * n];
                    QuantGemm::with_isa(
                        &qw,
                        Some(b.clone()),
                        ActSpec::Uniform { grid: a_grid, bits },
                        isa,
                    )
                    .forward(x, m, &mut out);
                    close(&out, &want, &format!("lsq W{bits}A{bits} {isa:?}"));
                }
            }
        }
        // PACT (unsigned, 4 bits, α = 1.5).
        let levels = 15;
        let want = hooked(
            &relu,
            m,
            &w,
            &b,
            k,
            n,
            WeightQ::MinMax {
                qmax: 7,
                per_channel: true,
            },
            ActQ::Pact {
                idx: 0,
                levels,
                signed: false,
            },
            Learned::new(vec![], vec![1.5], &d),
        );
        let grids = weight_grids(&w, k, n, 4, Scheme::Symmetric, Calibration::MinMax, true);
        let qw = QuantizedWeights::new(&w, k, n, grids, 4);
        let grid = QParams {
            scale: 1.5 / levels as f32,
            zero_point: 0,
            qmin: 0,
            qmax: levels,
        };
        let mut out = vec![0.0; m * n];
        QuantGemm::new(&qw, Some(b.clone()), ActSpec::Uniform { grid, bits: 4 })
            .forward(&relu, m, &mut out);
        close(&out, &want, "pact");
        // Binary and ternary weights, binary or 8-bit activations.
        let (mu, beta) = (0.8f32, 0.6f32);
        for ternary in [false, true] {
            let wq = if ternary {
                WeightQ::Ternary
            } else {
                WeightQ::Binary
            };
            let qw = binary_weights(&w, k, n, ternary);
            let want = hooked(
                &relu,
                m,
                &w,
                &b,
                k,
                n,
                wq,
                ActQ::Sign { mu, beta },
                Learned::new(vec![], vec![], &d),
            );
            for isa in isas() {
                let mut out = vec![0.0; m * n];
                if ternary {
                    QuantGemm::with_isa(&qw, Some(b.clone()), ActSpec::Sign { mu, beta }, isa)
                        .forward(&relu, m, &mut out);
                } else {
                    let alpha = qw.grids.iter().map(|g| g.scale).collect();
                    XnorGemm::with_isa(&w, k, n, alpha, Some(b.clone()), mu, beta, isa)
                        .forward(&relu, m, &mut out);
                }
                close(&out, &want, &format!("ternary={ternary} sign acts {isa:?}"));
            }
            let agrid = calibrate(
                &relu,
                8,
                Scheme::Symmetric,
                Operand::Activation,
                Calibration::MinMax,
            );
            let want = hooked(
                &relu,
                m,
                &w,
                &b,
                k,
                n,
                wq,
                ActQ::Fixed(agrid),
                Learned::new(vec![], vec![], &d),
            );
            let mut out = vec![0.0; m * n];
            QuantGemm::new(
                &qw,
                Some(b.clone()),
                ActSpec::Uniform {
                    grid: agrid,
                    bits: 8,
                },
            )
            .forward(&relu, m, &mut out);
            close(&out, &want, &format!("ternary={ternary} A8"));
        }
    }
}

#[test]
fn affine_grids_and_ir_formats() {
    let (m, k, n) = (7, 33, 9);
    let mut r = Rng::new(4);
    let x: Vec<f32> = (0..m * k).map(|_| r.normal() + 0.5).collect();
    let w: Vec<f32> = (0..k * n).map(|_| r.normal() * 0.1 + 0.03).collect();
    for bits in [8u32, 5, 3] {
        let grids = weight_grids(&w, k, n, bits, Scheme::Affine, Calibration::MinMax, true);
        let qw = QuantizedWeights::new(&w, k, n, grids, bits);
        let agrid = calibrate(
            &x,
            bits,
            Scheme::Affine,
            Operand::Activation,
            Calibration::MinMax,
        );
        let deq = qw.dequantized();
        let mut want = vec![0f32; m * n];
        for i in 0..m {
            for j in 0..n {
                want[i * n + j] = (0..k)
                    .map(|t| agrid.fake(x[i * k + t]) * deq[t * n + j])
                    .sum();
            }
        }
        for isa in isas() {
            let kern = QuantGemm::with_isa(&qw, None, ActSpec::Uniform { grid: agrid, bits }, isa);
            let mut out = vec![0.0; m * n];
            kern.forward(&x, m, &mut out);
            close(&out, &want, &format!("affine {bits} {isa:?}"));
            let ir = kern.gemm_ir(m as u64);
            assert_eq!(
                (ir.act, ir.weight, ir.m, ir.k, ir.n),
                (
                    compbench_core::NumFormat::Int(bits as u8),
                    compbench_core::NumFormat::Int(bits as u8),
                    m as u64,
                    k as u64,
                    n as u64
                )
            );
        }
    }
}
