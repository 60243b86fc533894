//! sgemm against a naive f64-accumulating reference, on both implementations.

use compbench_core::seed::Rng;
use compbench_nn::kernels::sgemm::{
    Isa, PackedB, sgemm, sgemm_packed_with, sgemm_reference, sgemm_with,
};

fn random(rng: &mut Rng, n: usize) -> Vec<f32> {
    (0..n).map(|_| rng.normal()).collect()
}

fn check(isa: Isa, parallel: bool, m: usize, k: usize, n: usize, rng: &mut Rng) {
    let a = random(rng, m * k);
    let b = random(rng, k * n);
    let want = sgemm_reference(m, k, n, &a, &b);
    let mut got = vec![f32::NAN; m * n];
    sgemm_with(isa, parallel, m, k, n, &a, &b, &mut got);
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        let tol = 1e-4 * (k as f32).sqrt().max(1.0) * (1.0 + w.abs());
        assert!(
            (g - w).abs() <= tol,
            "{isa:?} par={parallel} m={m} k={k} n={n} at {i}: {g} vs {w}"
        );
    }
}

const SHAPES: &[(usize, usize, usize)] = &[
    (1, 1, 1),
    (1, 7, 1),
    (3, 5, 7),
    (6, 16, 16),
    (7, 17, 33),
    (13, 300, 9),
    (64, 784, 256),
    (100, 513, 130),
    (257, 144, 32),
    (5, 1568, 128),
    (49, 64, 192),
];

#[test]
fn portable_matches_reference() {
    let mut rng = Rng::new(1);
    for &(m, k, n) in SHAPES {
        check(Isa::Portable, false, m, k, n, &mut rng);
        check(Isa::Portable, true, m, k, n, &mut rng);
    }
}

#[test]
fn avx2_matches_reference_when_available() {
    if !Isa::Avx2Fma.available() {
        eprintln!("AVX2+FMA not available: skipped");
        return;
    }
    let mut rng = Rng::new(2);
    for &(m, k, n) in SHAPES {
        check(Isa::Avx2Fma, false, m, k, n, &mut rng);
        check(Isa::Avx2Fma, true, m, k, n, &mut rng);
    }
}

#[test]
fn random_shapes_and_default_entry_point() {
    let mut rng = Rng::new(3);
    for _ in 0..40 {
        let (m, k, n) = (1 + rng.below(70), 1 + rng.below(600), 1 + rng.below(70));
        let a = random(&mut rng, m * k);
        let b = random(&mut rng, k * n);
        let want = sgemm_reference(m, k, n, &a, &b);
        let mut got = vec![0.0; m * n];
        sgemm(m, k, n, &a, &b, &mut got);
        for (g, w) in got.iter().zip(&want) {
            assert!(
                (g - w).abs() <= 1e-3 * (1.0 + w.abs()),
                "m={m} k={k} n={n}: {g} vs {w}"
            );
        }
    }
}

#[test]
fn parallel_and_serial_are_bit_identical() {
    let mut rng = Rng::new(4);
    let (m, k, n) = (512, 784, 256);
    let a = random(&mut rng, m * k);
    let b = random(&mut rng, k * n);
    let packed = PackedB::new(k, n, &b);
    let isa = Isa::detect();
    let mut serial = vec![0.0; m * n];
    let mut par = vec![0.0; m * n];
    sgemm_packed_with(isa, false, m, &a, &packed, &mut serial);
    sgemm_packed_with(isa, true, m, &a, &packed, &mut par);
    assert_eq!(serial, par);
}

#[test]
fn zero_k_gives_zeros() {
    let mut c = vec![1.0; 6];
    sgemm(2, 0, 3, &[], &[], &mut c);
    assert_eq!(c, vec![0.0; 6]);
}

/// The convolution GEMM read straight from padded images gives the bits of im2col + the packed
/// AVX2 GEMM: channels 1-5, kernels 1/3/5, padding 0-2, odd and tiny maps (a last partial tile
/// of 1-5 pixels), N below, at and across the 16-wide panel, K up to one K-block; and it
/// declines what it does not cover (stride 2, K above one K-block).
#[test]
fn conv_gemm_from_images_equals_im2col_then_gemm() {
    use compbench_nn::ConvGeom;
    use compbench_nn::kernels::im2col_nhwc;
    use compbench_nn::kernels::sgemm::{KC, sgemm_conv_nhwc};
    let mut rng = Rng::new(21);
    if Isa::detect() != Isa::Avx2Fma {
        // Without AVX2 and FMA it declines and leaves C alone (im2col runs instead).
        let g = ConvGeom {
            in_channels: 1,
            out_channels: 16,
            kernel: 3,
            stride: 1,
            padding: 1,
        };
        let p = PackedB::new(9, 16, &random(&mut rng, 9 * 16));
        let mut out = vec![7.0; 25 * 16];
        assert!(!sgemm_conv_nhwc(
            &random(&mut rng, 25),
            1,
            5,
            5,
            &g,
            &p,
            &mut out
        ));
        assert!(out.iter().all(|&v| v == 7.0));
        return;
    }
    let mut cases = 0;
    for (cin, kernel, padding, h, w, n) in [
        (1, 3, 1, 28, 28, 16),
        (1, 3, 1, 7, 9, 8),
        (3, 3, 0, 11, 13, 20),
        (5, 5, 2, 6, 5, 33),
        (2, 1, 0, 3, 1, 16),
        (16, 3, 1, 14, 14, 32),
        (4, 3, 2, 2, 2, 7),
    ] {
        let g = ConvGeom {
            in_channels: cin,
            out_channels: n,
            kernel,
            stride: 1,
            padding,
        };
        let k = g.k();
        let (ho, wo) = g.output_hw(h, w);
        for batch in [1, 3] {
            let x = random(&mut rng, batch * h * w * cin);
            let b = random(&mut rng, k * n);
            let packed = PackedB::new(k, n, &b);
            let mut cols = vec![0.0; batch * ho * wo * k];
            im2col_nhwc(&x, batch, h, w, &g, &mut cols);
            let mut want = vec![0.0; batch * ho * wo * n];
            sgemm_packed_with(
                Isa::Avx2Fma,
                false,
                batch * ho * wo,
                &cols,
                &packed,
                &mut want,
            );
            let mut got = vec![f32::NAN; want.len()];
            assert!(sgemm_conv_nhwc(&x, batch, h, w, &g, &packed, &mut got));
            let differ = got
                .iter()
                .zip(&want)
                .filter(|(a, b)| a.to_bits() != b.to_bits())
                .count();
            assert_eq!(
                differ, 0,
                "cin {cin}, kernel {kernel}, pad {padding}, {h}×{w}, n {n}, batch {batch}"
            );
            cases += 1;
        }
    }
    assert_eq!(cases, 14);
    // Declined: stride 2; K above one K-block.
    let x = random(&mut rng, 8 * 8 * 2);
    let mut out = vec![0.0; 64 * 4];
    let strided = ConvGeom {
        in_channels: 2,
        out_channels: 4,
        kernel: 3,
        stride: 2,
        padding: 1,
    };
    let p = PackedB::new(18, 4, &random(&mut rng, 18 * 4));
    assert!(!sgemm_conv_nhwc(&x, 1, 8, 8, &strided, &p, &mut out));
    let wide = ConvGeom {
        in_channels: 32,
        out_channels: 4,
        kernel: 3,
        stride: 1,
        padding: 1,
    };
    assert!(wide.k() > KC);
    let p = PackedB::new(wide.k(), 4, &random(&mut rng, wide.k() * 4));
    let x = random(&mut rng, 4 * 4 * 32);
    let mut out = vec![0.0; 16 * 4];
    assert!(!sgemm_conv_nhwc(&x, 1, 4, 4, &wide, &p, &mut out));
}
