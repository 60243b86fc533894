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
