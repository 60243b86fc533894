//! Table construction and quantization.

mod common;

use common::randn;
use compbench_core::seed::Rng;
use compbench_lutboost::table::{
    LutTable, NQ, TableBits, TableData, TableScale, build_f32, fake_quantize, shuffle_layout,
};

#[test]
fn tables_are_centroid_weight_dot_products() {
    // (nc, c, v, n)
    let cases: &[(usize, usize, usize, usize)] =
        &[(1, 1, 1, 1), (3, 16, 4, 10), (2, 8, 9, 7), (4, 32, 2, 33)];
    for &(nc, c, v, n) in cases {
        let mut rng = Rng::new((nc * c * v * n) as u64);
        let cent = randn(&mut rng, nc * c * v, 1.0);
        let w = randn(&mut rng, nc * v * n, 0.5);
        let t = build_f32(&cent, &w, nc, c, v, n);
        for s in 0..nc {
            for j in 0..c {
                for o in 0..n {
                    let want: f64 = (0..v)
                        .map(|d| cent[(s * c + j) * v + d] as f64 * w[(s * v + d) * n + o] as f64)
                        .sum();
                    let got = t[(s * c + j) * n + o] as f64;
                    assert!(
                        (got - want).abs() < 1e-5 * (1.0 + want.abs()),
                        "({s},{j},{o}): {got} vs {want}"
                    );
                }
            }
        }
    }
}

#[test]
fn quantization_error_is_at_most_half_a_step() {
    for (bits, qmax) in [(TableBits::I8, 127.0f32), (TableBits::I16, 32767.0)] {
        for gran in [TableScale::PerColumn, TableScale::PerLayer] {
            let (nc, c, n) = (5, 16, 9);
            let mut rng = Rng::new(11);
            let mut t = randn(&mut rng, nc * c * n, 2.0);
            t[3] = 0.0; // a zero stays zero
            let lt = LutTable::from_f32(t.clone(), nc, c, n, bits, gran);
            let deq = lt.dequantized();
            let scale = match &lt.data {
                TableData::I8 { scale, .. } | TableData::I16 { scale, .. } => scale.clone(),
                TableData::F32(_) => unreachable!(),
            };
            for (i, (&a, &b)) in t.iter().zip(&deq).enumerate() {
                assert!(
                    (a - b).abs() <= 0.5 * scale[i % n] * 1.0001,
                    "{bits:?} {gran:?} entry {i}: {a} vs {b}"
                );
            }
            // The column maximum maps to ±qmax exactly.
            let amax = t.iter().fold(0.0f32, |m, x| m.max(x.abs()));
            if gran == TableScale::PerLayer {
                assert!((scale[0] * qmax - amax).abs() <= 1e-6 * amax);
            }
            // fake_quantize is the same function the deployed table uses.
            let mut fq = t.clone();
            fake_quantize(&mut fq, n, bits, gran);
            assert_eq!(
                fq, deq,
                "{bits:?} {gran:?}: fake-quantized table differs from the deployed one"
            );
        }
    }
}

#[test]
fn shuffle_layout_places_every_entry() {
    for &(nc, c, n) in &[(2usize, 16usize, 5usize), (3, 8, 4), (2, 32, 9), (1, 20, 1)] {
        let q: Vec<i8> = (0..nc * c * n)
            .map(|i| ((i % 255) as i16 - 127) as i8)
            .collect();
        let lanes = if c <= 16 { 16 } else { 32 };
        let sh = shuffle_layout(&q, nc, c, n);
        assert_eq!(sh.len(), n.div_ceil(NQ) * nc * NQ * lanes);
        for s in 0..nc {
            for j in 0..c {
                for o in 0..n {
                    let at = (((o / NQ) * nc + s) * NQ + o % NQ) * lanes + j;
                    assert_eq!(sh[at] as i16 - 128, q[(s * c + j) * n + o] as i16);
                }
            }
        }
    }
}

#[test]
fn f16_rounding_matches_the_fp16_grid() {
    use compbench_lutboost::kernel::round_to_f16;
    // (input, expected): exact values, ties to even, clamping.
    let cases: &[(f32, f32)] = &[
        (1.0, 1.0),
        (-2.5, -2.5),
        (1.0 + 1.0 / 2048.0, 1.0), // half an fp16 ulp above 1: tie → even (1.0)
        (1.0 + 3.0 / 2048.0, 1.0 + 2.0 / 1024.0), // tie → even (…10)
        (1.0 + 1.5 / 2048.0, 1.0 + 1.0 / 1024.0), // above half → up
        (0.1, 0.099975586),
        (1e6, 65504.0),
        (-1e6, -65504.0),
        (0.0, 0.0),
    ];
    for &(x, want) in cases {
        assert_eq!(round_to_f16(x), want, "{x}");
    }
}
