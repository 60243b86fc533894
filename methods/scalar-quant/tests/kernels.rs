//! Kernel-vs-reference bit exactness: int8 GEMM (both encodings, wide and i16 paths) and the
//! packed binary GEMM, on random shapes including edge sizes, for both the AVX2 and the portable
//! implementations.

use compbench_core::seed::Rng;
use compbench_scalar_quant::kernels::binary;
use compbench_scalar_quant::kernels::int8::{self, ActEncoding, Isa, PackedB};

/// (m, k, n): 1, odd, around the SIMD widths (4-byte groups, 16-column panels, 4-row tiles,
/// 64-bit words, 31-word fold) and a model-sized case.
const SHAPES: &[(usize, usize, usize)] = &[
    (1, 1, 1),
    (1, 3, 17),
    (2, 4, 16),
    (3, 5, 15),
    (4, 7, 33),
    (5, 63, 7),
    (7, 64, 8),
    (9, 65, 31),
    (13, 127, 9),
    (33, 129, 47),
    (6, 2000, 3),
    (64, 288, 32),
    (131, 513, 70),
];

fn isas() -> Vec<Isa> {
    let v = Isa::available();
    if v.len() == 1 {
        eprintln!("AVX2 not available: only the portable path is tested");
    }
    v
}

/// (encoding, activation value range, weight value range): every bit-width combination class.
const INT8_CASES: &[(ActEncoding, (i32, i32), (i32, i32))] = &[
    (ActEncoding::U7, (0, 127), (-127, 127)), // W8A7: widen every group
    (ActEncoding::U7, (0, 15), (-7, 7)),      // W4A4: long i16 runs
    (ActEncoding::U7, (0, 3), (-1, 1)),       // W2A2 / ternary
    (ActEncoding::U7, (0, 2), (-1, 1)),       // binary activations stored as {0, 2}
    (ActEncoding::S8, (-128, 127), (-127, 127)), // W8A8: abs/sign trick, worst case
    (ActEncoding::S8, (-128, 127), (-7, 7)),  // W4A8: short i16 runs
    (ActEncoding::S8, (-128, -120), (-127, -120)), // all-negative extremes: saturation bait
    (ActEncoding::U7, (120, 127), (120, 127)), // all-positive extremes: saturation bait
];

fn rand_in(rng: &mut Rng, lo: i32, hi: i32) -> i32 {
    lo + rng.below((hi - lo + 1) as usize) as i32
}

#[test]
fn int8_gemm_matches_reference_bit_for_bit() {
    let mut rng = Rng::new(7);
    for &(enc, (alo, ahi), (wlo, whi)) in INT8_CASES {
        for &(m, k, n) in SHAPES {
            let lda = k.div_ceil(4) * 4 + 4; // a stride larger than needed, as callers may use
            let mut a = vec![0u8; m * lda];
            for i in 0..m {
                for r in 0..k {
                    a[i * lda + r] = rand_in(&mut rng, alo, ahi) as i8 as u8;
                }
            }
            let w: Vec<i8> = (0..k * n)
                .map(|_| rand_in(&mut rng, wlo, whi) as i8)
                .collect();
            let reference = int8::gemm_reference(&a, lda, m, k, enc, &w, n);
            let packed = PackedB::pack(&w, k, n);
            let amax = alo.abs().max(ahi.abs());
            for isa in isas() {
                let got = int8::gemm_i32(&a, lda, m, &packed, enc, amax, isa);
                assert_eq!(
                    got, reference,
                    "{enc:?} a∈[{alo},{ahi}] w∈[{wlo},{whi}] {m}×{k}×{n} {isa:?}"
                );
            }
        }
    }
}

#[test]
fn int8_colsum_and_bounds() {
    let w: Vec<i8> = vec![1, -2, 3, 4, 5, -6];
    let p = PackedB::pack(&w, 3, 2);
    assert_eq!(p.colsum, vec![1 + 3 + 5, -2 + 4 - 6]);
    assert_eq!(p.max_abs, 6);
    assert_eq!(int8::i16_groups(127, 127), 1);
    assert_eq!(int8::i16_groups(15, 8), 136);
}

#[test]
#[should_panic(expected = "−128")]
fn int8_refuses_weight_minus_128() {
    PackedB::pack(&[-128i8], 1, 1);
}

#[test]
fn binary_gemm_matches_reference_bit_for_bit() {
    let mut rng = Rng::new(11);
    let mut shapes = SHAPES.to_vec();
    shapes.extend_from_slice(&[
        (5, 64 * 31, 9),
        (4, 64 * 31 + 1, 8),
        (3, 64 * 70 + 5, 17),
        // Beyond 63 and 16380 nibble positions (the table kernel's u8 and u16 folds), three
        // column blocks (a pair and a single) and row counts around the 4-row tile.
        (2, 70_000, 40),
        (6, 4 * 16_380 + 4 * 63 + 3, 65),
        (11, 252, 96),
    ]);
    for (m, k, n) in shapes {
        let a: Vec<f32> = (0..m * k).map(|_| rng.normal()).collect();
        let w: Vec<f32> = (0..k * n).map(|_| rng.normal()).collect();
        let threshold = 0.1;
        let reference = binary::gemm_reference(&a, m, k, threshold, &w, n);
        let packed = binary::PackedBits::pack(&w, k, n);
        let bits = binary::pack_rows(&a, m, k, threshold);
        for isa in isas() {
            let got = binary::gemm_i32(&bits, m, &packed, isa);
            assert_eq!(got, reference, "{m}×{k}×{n} {isa:?}");
        }
    }
}

/// The fused path (binarize floats per task, GEMM, epilogue): with `mul = 1`, `add = 0` the
/// output is the exact dot product (integers < 2^24 are exact in f32); with other constants it
/// is `mul·dot + add` computed in f32, the same on both paths. NaN binarizes as −1, a value equal
/// to the threshold as +1.
#[test]
fn binary_affine_matches_reference_bit_for_bit() {
    let mut rng = Rng::new(13);
    let mut shapes = SHAPES.to_vec();
    shapes.extend_from_slice(&[
        (5, 64 * 31, 9),
        (3, 64 * 70 + 5, 17),
        (2, 70_000, 40),
        (11, 252, 96),
    ]);
    for (m, k, n) in shapes {
        let threshold = 0.1;
        let mut a: Vec<f32> = (0..m * k).map(|_| rng.normal()).collect();
        a[0] = f32::NAN;
        if a.len() > 1 {
            let mid = a.len() / 2;
            a[mid] = threshold;
        }
        let w: Vec<f32> = (0..k * n).map(|_| rng.normal()).collect();
        let reference = binary::gemm_reference(&a, m, k, threshold, &w, n);
        let packed = binary::PackedBits::pack(&w, k, n);
        let ones = vec![1f32; n];
        let zeros = vec![0f32; n];
        let mul: Vec<f32> = (0..n).map(|_| rng.normal()).collect();
        let add: Vec<f32> = (0..n).map(|_| rng.normal()).collect();
        let want: Vec<f32> = reference
            .iter()
            .enumerate()
            .map(|(i, &d)| mul[i % n] * d as f32 + add[i % n])
            .collect();
        for isa in isas() {
            let mut out = vec![f32::NAN; m * n];
            binary::gemm_affine(&a, m, threshold, &packed, isa, &ones, &zeros, &mut out);
            let got: Vec<i32> = out.iter().map(|&y| y as i32).collect();
            assert_eq!(got, reference, "{m}×{k}×{n} {isa:?}");
            binary::gemm_affine(&a, m, threshold, &packed, isa, &mul, &add, &mut out);
            assert!(
                out.iter()
                    .zip(&want)
                    .all(|(x, y)| x.to_bits() == y.to_bits()),
                "affine {m}×{k}×{n} {isa:?}"
            );
        }
    }
}

#[test]
fn bit_packing_simd_matches_portable() {
    let mut rng = Rng::new(5);
    for k in [1usize, 7, 8, 9, 63, 64, 65, 200, 513] {
        let row: Vec<f32> = (0..k).map(|_| rng.normal()).collect();
        let mut a = vec![0u64; binary::words(k)];
        let mut b = vec![0u64; binary::words(k)];
        binary::pack_row_into(&row, 0.25, &mut a);
        binary::pack_row_portable(&row, 0.25, &mut b);
        assert_eq!(a, b, "k = {k}");
        // NaN and the threshold itself: NaN packs as −1, equality as +1.
        let mut odd = row.clone();
        odd[0] = f32::NAN;
        binary::pack_row_into(&odd, odd[k - 1], &mut a);
        binary::pack_row_portable(&odd, odd[k - 1], &mut b);
        assert_eq!(a, b, "k = {k} with NaN");
    }
}
