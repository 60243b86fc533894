//! Kernels against their plain references (bit for bit), error bounds on dense grids, the fits'
//! monotone error, and I-BERT's constants.

use compbench_core::NonlinearKind as K;
use compbench_core::seed::Rng;
use compbench_nonlinear::curve::{Curve, PolyEval, PwlTable, pow2, pow2_portable, pow2_slice};
use compbench_nonlinear::fit::{fit_poly, fit_pwl};
use compbench_nonlinear::ibert::{
    ERF_A, ERF_B, ERF_SHIFT, EXP_A, EXP_B_OVER_A, EXP_C_OVER_A, EXP_X0, GELU_K, IExp, IntGelu,
    IntLayerNorm, IntSoftmax, isqrt,
};
use compbench_nonlinear::kernel::{
    Approx, InputStats, build, exact_f32, exact_gelu, recip_normalized, rsqrt_normalized,
};

fn randn(rng: &mut Rng, n: usize, mean: f32, sd: f32) -> Vec<f32> {
    (0..n).map(|_| mean + sd * rng.normal()).collect()
}

fn grid(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    (0..=n)
        .map(|i| lo + (hi - lo) * i as f64 / n as f64)
        .collect()
}

fn all_approxes() -> Vec<Approx> {
    vec![
        Approx::Ibert { bits: 8 },
        Approx::Ibert { bits: 16 },
        Approx::Pwl { segments: 8 },
        Approx::Pwl { segments: 16 },
        Approx::Pwl { segments: 32 },
        Approx::Softermax,
        Approx::Poly { degree: 2 },
        Approx::Poly { degree: 3 },
        Approx::Poly { degree: 4 },
        Approx::Square,
    ]
}

/// Every kernel's AVX2 path equals its plain path bit for bit, on odd row lengths and on values
/// outside the calibrated range (a NaN included).
#[test]
fn simd_kernels_match_plain_reference_bit_for_bit() {
    let mut rng = Rng::new(3);
    for kind in [K::Softmax, K::Gelu, K::LayerNorm, K::Relu] {
        for cols in [49, 64, 13, 8, 24, 128] {
            let rows = 37;
            let calib = randn(&mut rng, rows * cols, 0.2, 2.0);
            let stats = InputStats::of(&calib, cols);
            // Test values spread wider than calibration, plus special cases.
            let mut x = randn(&mut rng, rows * cols, 0.2, 4.0);
            x[0] = 0.0;
            x[1] = -1e-30;
            x[2] = 1e4;
            x[3] = f32::NAN;
            for approx in all_approxes() {
                if !approx.supports(kind) {
                    continue;
                }
                let k = build(kind, approx, &stats, 1.0).unwrap();
                let (mut a, mut b) = (x.clone(), x.clone());
                k.run(&mut a, rows, cols, true);
                k.run(&mut b, rows, cols, false);
                for (i, (p, q)) in a.iter().zip(&b).enumerate() {
                    assert_eq!(
                        p.to_bits(),
                        q.to_bits(),
                        "{kind:?} {approx:?} cols {cols} [{i}]: simd {p} vs plain {q}"
                    );
                }
            }
        }
    }
}

#[test]
fn curve_simd_paths_match_plain_on_every_length() {
    let mut rng = Rng::new(5);
    let curves = [
        Curve::Pwl(PwlTable::from_fit(&fit_pwl(exact_gelu, -5.0, 5.0, 16))),
        Curve::Poly(PolyEval::from_fit(&fit_poly(f64::exp, -8.0, 0.0, 4))),
        Curve::Square,
    ];
    for n in [0, 1, 7, 8, 9, 31, 200] {
        let x = randn(&mut rng, n, 0.0, 6.0);
        for c in &curves {
            let (mut a, mut b) = (x.clone(), x.clone());
            c.eval(&mut a);
            c.eval_portable(&mut b);
            assert_eq!(
                a.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                b.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
            );
        }
        let mut a: Vec<f32> = x.iter().map(|v| -v.abs() * 10.0).collect();
        let mut b = a.clone();
        pow2_slice(&mut a);
        pow2_portable(&mut b);
        assert_eq!(
            a.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            b.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        );
    }
}

#[test]
fn pwl_fit_error_falls_monotonically_with_segments() {
    let funcs: [(&str, fn(f64) -> f64, f64, f64); 4] = [
        ("gelu", exact_gelu, -6.0, 6.0),
        ("exp", f64::exp, -16.0, 0.0),
        ("recip", |m| 1.0 / m, 1.0, 2.0),
        ("rsqrt", |m| 1.0 / m.sqrt(), 1.0, 4.0),
    ];
    for (name, f, lo, hi) in funcs {
        let mut prev = f64::INFINITY;
        for n in 2..=40 {
            let fit = fit_pwl(f, lo, hi, n);
            assert!(
                fit.sse <= prev * (1.0 + 1e-12),
                "{name}: {n} segments SSE {} > {} at {}",
                fit.sse,
                prev,
                n - 1
            );
            assert!(fit.lines.len() <= n && fit.starts[0] == 0);
            prev = fit.sse;
        }
        // And the max error on a dense grid, through the deployed f32 table, strictly falls
        // over 8 → 16 → 32 segments.
        let max_err = |n| {
            let t = Curve::Pwl(PwlTable::from_fit(&fit_pwl(f, lo, hi, n)));
            grid(lo, hi, 20_000)
                .iter()
                .map(|&x| (t.eval1(x as f32) as f64 - f(x)).abs())
                .fold(0.0, f64::max)
        };
        let (e8, e16, e32) = (max_err(8), max_err(16), max_err(32));
        assert!(e8 > e16 && e16 > e32, "{name}: {e8} {e16} {e32}");
    }
}

/// Dense-grid error bounds of the fitted curves (bounds are ours, from the fits' measured
/// errors with margin; they catch a broken fit or evaluator).
#[test]
fn curve_error_bounds_on_dense_grids() {
    let pwl_err = |f: fn(f64) -> f64, lo: f64, hi: f64, n: usize| {
        let t = Curve::Pwl(PwlTable::from_fit(&fit_pwl(f, lo, hi, n)));
        grid(lo, hi, 50_000)
            .iter()
            .map(|&x| (t.eval1(x as f32) as f64 - f(x)).abs())
            .fold(0.0, f64::max)
    };
    let poly_err = |f: fn(f64) -> f64, lo: f64, hi: f64, d: usize| {
        let p = Curve::Poly(PolyEval::from_fit(&fit_poly(f, lo, hi, d)));
        grid(lo, hi, 50_000)
            .iter()
            .map(|&x| (p.eval1(x as f32) as f64 - f(x)).abs())
            .fold(0.0, f64::max)
    };
    assert!(pwl_err(exact_gelu, -6.0, 6.0, 16) < 0.02);
    assert!(pwl_err(exact_gelu, -6.0, 6.0, 32) < 0.006);
    assert!(pwl_err(f64::exp, -10.0, 0.0, 16) < 0.02);
    assert!(pwl_err(|m| 1.0 / m, 1.0, 2.0, 8) < 0.003);
    // Polynomials: error falls with degree on the fitted range.
    for (f, lo, hi) in [
        (exact_gelu as fn(f64) -> f64, -4.0, 4.0),
        (f64::exp, -6.0, 0.0),
    ] {
        let (e2, e3, e4) = (
            poly_err(f, lo, hi, 2),
            poly_err(f, lo, hi, 3),
            poly_err(f, lo, hi, 4),
        );
        assert!(e2 > e4 && e3 >= e4, "{e2} {e3} {e4}");
    }
    // The derived degree-2 ReLU fit on [−B, B]: 0.09375·B + 0.5x + 0.46875·x²/B (continuous
    // least squares); our sampled fit matches to 1e-3·B, max error 0.094·B at x = 0.
    let b = 4.0;
    let p = fit_poly(|x| x.max(0.0), -b, b, 2);
    let c = p.coef_in_x();
    assert!((c[0] - 0.09375 * b).abs() < 1e-3 * b, "{c:?}");
    assert!((c[1] - 0.5).abs() < 1e-3, "{c:?}");
    assert!((c[2] - 0.46875 / b).abs() < 1e-3, "{c:?}");
    // Normalized reciprocal / rsqrt over many decades.
    let rc = Curve::Pwl(PwlTable::from_fit(&fit_pwl(|m| 1.0 / m, 1.0, 2.0, 16)));
    let rs = Curve::Pwl(PwlTable::from_fit(&fit_pwl(
        |m| 1.0 / m.sqrt(),
        1.0,
        4.0,
        16,
    )));
    for s in grid(-20.0, 20.0, 4000) {
        let v = (2f64).powf(s) as f32;
        let r = recip_normalized(&rc, v) as f64 * v as f64;
        assert!((r - 1.0).abs() < 2e-3, "1/x at {v}: rel {r}");
        let q = rsqrt_normalized(&rs, v) as f64 * (v as f64).sqrt();
        assert!((q - 1.0).abs() < 2e-3, "1/sqrt at {v}: rel {q}");
    }
}

#[test]
fn polynomials_fail_outside_their_fitted_range() {
    let p = Curve::Poly(PolyEval::from_fit(&fit_poly(exact_gelu, -3.0, 3.0, 4)));
    let inside = grid(-3.0, 3.0, 1000)
        .iter()
        .map(|&x| (p.eval1(x as f32) as f64 - exact_gelu(x)).abs())
        .fold(0.0, f64::max);
    let outside = (p.eval1(9.0) as f64 - exact_gelu(9.0)).abs();
    assert!(
        inside < 0.1 && outside > 10.0 * inside,
        "{inside} {outside}"
    );
    // PWL extends its end segments linearly: far closer than the polynomial out there.
    let t = Curve::Pwl(PwlTable::from_fit(&fit_pwl(exact_gelu, -3.0, 3.0, 16)));
    assert!((t.eval1(9.0) as f64 - 9.0).abs() < outside / 10.0);
}

#[test]
fn pow2_relative_error_is_below_0_3_percent() {
    for d in grid(-30.0, 0.0, 100_000) {
        let rel = pow2(d as f32) as f64 / 2f64.powf(d) - 1.0;
        assert!(rel.abs() < 2.8e-3, "2^{d}: rel {rel}");
    }
}

/// I-BERT's i-exp: the published polynomial and its completed-square form, the integer
/// constants at a worked scale, and the integer result against exp.
#[test]
fn iexp_matches_ibert_worked_constants() {
    // 0.35815147 r² + 0.96963238 r + 1 = 0.3585 (r + 1.353)² + 0.344, to the printed digits.
    for r in grid(-std::f64::consts::LN_2, 0.0, 1000) {
        let a = EXP_A * r * r + EXP_A * EXP_B_OVER_A * r + EXP_A * EXP_C_OVER_A;
        let b = 0.3585 * (r + 1.353) * (r + 1.353) + 0.344;
        assert!((a - b).abs() < 1e-3, "{r}: {a} vs {b}");
        // The polynomial's own error on (−ln2, 0]: 1.913e-3 (computed), below 2e-3.
        assert!((a - r.exp()).abs() < 1.92e-3);
    }
    // Worked example at s = 0.01: x0 = ⌊−69.31⌋ = −70, b = ⌊270.73⌋ = 270, c = ⌊27921.1⌋ = 27921.
    let e = IExp::new(0.01);
    assert_eq!((e.x0, e.b, e.c), (-70, 270, 27921));
    // exp(0) = c·a·s² ≈ 1.
    assert!((e.eval(0) as f64 * e.out_scale - 1.0).abs() < 1e-4);
    // q = −100 (x = −1): z = 1, r = −30, (−30·240 + 27921) >> 1 = 10360 → 0.3711 ≈ e⁻¹ = 0.3679.
    assert_eq!(e.eval(-100), 10360);
    // Over the whole saturating range, error ≤ polynomial error + rounding.
    let e = IExp::new(1e-3);
    for q in (-30_000..=0).step_by(7) {
        let got = e.eval(q) as f64 * e.out_scale;
        let want = (q as f64 * 1e-3).exp();
        assert!((got - want).abs() < 2.5e-3, "q {q}: {got} vs {want}");
    }
}

#[test]
fn isqrt_is_floor_sqrt() {
    for n in 0u64..200_000 {
        let r = isqrt(n);
        assert!(r * r <= n && (r + 1) * (r + 1) > n, "{n}: {r}");
    }
    let mut rng = Rng::new(9);
    for _ in 0..10_000 {
        let n = rng.next_u64() >> 2;
        let r = isqrt(n) as u128;
        assert!(r * r <= n as u128 && (r + 1) * (r + 1) > n as u128, "{n}");
    }
}

/// i-GELU's integer code for every 16-bit input equals the reference formulation (HF
/// `IntGELU`, computed in f64 with floor) exactly.
#[test]
fn int_gelu_matches_f64_reference_for_every_code() {
    for (max_abs, bits) in [(8.0f32, 16u32), (12.0, 16), (6.0, 8)] {
        let g = IntGelu::new(max_abs, bits);
        let s = g.scale as f64;
        let s_erf = s / GELU_K;
        let b = (ERF_B / s_erf).floor();
        let c = ((1.0 / ERF_A) / (s_erf * s_erf)).floor();
        let mut sigma = s_erf * s_erf * ERF_A;
        sigma *= (1u32 << ERF_SHIFT) as f64;
        let shift = (1.0 / sigma).floor();
        for q in -g.qmax..=g.qmax {
            let x = q as f64;
            let a = x.abs().min(-b);
            let y = x.signum() * ((a + b) * (a + b) + c);
            let y = (y / (1u32 << ERF_SHIFT) as f64).floor();
            let want = x * (y + shift);
            assert_eq!(g.eval(q) as f64, want, "bits {bits} q {q}");
        }
    }
}

/// Integer softmax and LayerNorm equal an f64 transcription of the same algorithm (floors,
/// shifts as divisions) bit for bit.
#[test]
fn int_softmax_and_layernorm_match_f64_reference() {
    let mut rng = Rng::new(21);
    for bits in [8u32, 16] {
        let x = randn(&mut rng, 49 * 20, 0.0, 3.0);
        let sm = IntSoftmax::new(12.0, bits);
        let mut got = x.clone();
        let mut codes = Vec::new();
        for row in got.chunks_exact_mut(49) {
            sm.row(row, &mut codes);
        }
        let s = sm.scale as f64;
        let (x0, b, c) = (
            (EXP_X0 / s).floor(),
            (EXP_B_OVER_A / s).floor(),
            (EXP_C_OVER_A / (s * s)).floor(),
        );
        for (row, out) in x.chunks_exact(49).zip(got.chunks_exact(49)) {
            let q: Vec<f64> = row
                .iter()
                .map(|&v| {
                    ((v * sm.inv_scale).round_ties_even() as f64)
                        .clamp(-(sm.qmax as f64), sm.qmax as f64)
                })
                .collect();
            let mx = q.iter().copied().fold(f64::MIN, f64::max);
            let e: Vec<f64> = q
                .iter()
                .map(|&v| {
                    let v = (v - mx).max(30.0 * x0);
                    let z = (v / x0).floor();
                    let r = v - x0 * z;
                    ((r * (r + b) + c) / 2f64.powf(z)).floor()
                })
                .collect();
            let sum: f64 = e.iter().sum();
            let factor = (2f64.powi(32) / sum).floor();
            for (o, &ei) in out.iter().zip(&e) {
                let want = (ei * factor / 2f64.powi(24)).floor() / 256.0;
                assert_eq!(*o as f64, want, "bits {bits}");
            }
        }

        let ln = IntLayerNorm::new(9.0, bits, 64);
        let x = randn(&mut rng, 64 * 20, 0.5, 2.0);
        let mut got = x.clone();
        let mut codes = Vec::new();
        for row in got.chunks_exact_mut(64) {
            ln.row(row, &mut codes);
        }
        for (row, out) in x.chunks_exact(64).zip(got.chunks_exact(64)) {
            let q: Vec<f64> = row
                .iter()
                .map(|&v| {
                    ((v * ln.inv_scale).round_ties_even() as f64)
                        .clamp(-(ln.qmax as f64), ln.qmax as f64)
                })
                .collect();
            let mean = (q.iter().sum::<f64>() / 64.0).round();
            let y: Vec<f64> = q.iter().map(|v| v - mean).collect();
            let p = 2f64.powi(ln.shift as i32);
            let var: f64 = y.iter().map(|v| (v / p).floor().powi(2)).sum();
            let std = (var.sqrt().floor() * p).max(1.0);
            let factor = (2f64.powi(31) / std).floor();
            let scale = (64f64.sqrt() / 2f64.powi(30)) as f32;
            for (o, &yi) in out.iter().zip(&y) {
                let want = ((yi * factor / 2.0).floor() as f32) * scale;
                assert_eq!(o.to_bits(), want.to_bits(), "bits {bits}");
            }
        }
    }
}

/// Each whole kernel against the exact op on realistic inputs (ViT-like shapes): error bounds
/// per implementation (ours, from the measured errors with margin).
#[test]
fn kernel_errors_against_exact_ops() {
    let mut rng = Rng::new(33);
    let cases = [
        (K::Softmax, 49, 0.0, 2.5),
        (K::Gelu, 128, -0.5, 2.0),
        (K::LayerNorm, 64, 0.3, 2.0),
        (K::Relu, 128, 0.0, 2.0),
    ];
    for (kind, cols, mean, sd) in cases {
        let rows = 100;
        let x = randn(&mut rng, rows * cols, mean, sd);
        let stats = InputStats::of(&x, cols);
        let mut exact = x.clone();
        exact_f32(kind, &mut exact, rows, cols);
        let err = |approx| {
            let k = build(kind, approx, &stats, 1.0).unwrap();
            let mut y = x.clone();
            k.run(&mut y, rows, cols, true);
            y.iter()
                .zip(&exact)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0f32, f32::max)
        };
        let bound = |approx: Approx| -> f32 {
            match (kind, approx) {
                (K::Softmax, Approx::Ibert { bits: 16 }) => 1e-2, // 8-bit floored output + i-exp
                (K::Gelu, Approx::Ibert { bits: 16 }) => 0.03,    // i-erf's error
                (K::LayerNorm, Approx::Ibert { bits: 16 }) => 5e-3,
                (K::Relu, Approx::Ibert { bits: 16 }) => 1e-3,
                (_, Approx::Pwl { segments: 16 }) => 0.03,
                (K::Softmax, Approx::Softermax) => 1.0, // base 2 ≠ base e: large by design
                _ => f32::INFINITY,
            }
        };
        for approx in [
            Approx::Ibert { bits: 16 },
            Approx::Pwl { segments: 16 },
            Approx::Softermax,
        ] {
            if approx.supports(kind) {
                let e = err(approx);
                assert!(e < bound(approx), "{kind:?} {approx:?}: max err {e}");
            }
        }
        let (p8, p16, p32) = (
            err(Approx::Pwl { segments: 8 }),
            err(Approx::Pwl { segments: 16 }),
            err(Approx::Pwl { segments: 32 }),
        );
        assert!(p8 >= p16 && p16 >= p32, "{kind:?}: pwl {p8} {p16} {p32}");
    }
}

/// The vectorized LayerNorm's square root equals I-BERT's Newton iteration on every n up to
/// 2²⁰, on the squares and their neighbours up to the i32 range, and on random i32 values.
#[test]
fn isqrt_from_f64_equals_newton_iteration() {
    use compbench_nonlinear::ibert::fast::isqrt_f64;
    for n in 0..(1u64 << 20) {
        assert_eq!(isqrt_f64(n), isqrt(n), "n = {n}");
    }
    for r in (0u64..46_341).step_by(7) {
        for n in [r * r, (r * r).saturating_sub(1), r * r + 1] {
            assert_eq!(isqrt_f64(n), isqrt(n), "n = {n}");
        }
    }
    let mut rng = Rng::new(9);
    for _ in 0..100_000 {
        let n = rng.next_u64() >> 33;
        assert_eq!(isqrt_f64(n), isqrt(n), "n = {n}");
    }
}
