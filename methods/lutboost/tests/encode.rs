//! The encoder's argmin against brute force, and portable vs AVX2 identity.

mod common;

use common::randn;
use compbench_core::seed::Rng;
use compbench_lutboost::Isa;
use compbench_lutboost::encode::{Codes, Encoder, encode_with};
use compbench_lutboost::metric::{VqMetric, distance};

#[test]
fn argmin_matches_brute_force_and_isas_agree() {
    // (m, k, v, c)
    let cases: &[(usize, usize, usize, usize)] = &[
        (1, 4, 4, 16),
        (33, 8, 2, 8),
        (70, 36, 9, 16),
        (64, 64, 4, 32),
        (5, 12, 3, 5),
        (40, 16, 8, 24),
        (17, 20, 4, 64),
        (3, 6, 1, 2),
    ];
    for &(m, k, v, c) in cases {
        for metric in VqMetric::ALL {
            let mut rng = Rng::new((m * 1000 + k * 10 + c) as u64);
            let nc = k / v;
            let cent = randn(&mut rng, nc * c * v, 1.0);
            let x = randn(&mut rng, m * k, 1.0);
            let enc = Encoder::new(metric, nc, c, v, &cent);
            let mut all = Vec::new();
            for isa in Isa::available() {
                let mut codes = Codes::default();
                encode_with(isa, &enc, &x, m, &mut codes);
                for r in 0..m {
                    for s in 0..nc {
                        let xs = &x[r * k + s * v..r * k + (s + 1) * v];
                        let j = codes.get(r, s) as usize;
                        assert!(j < c);
                        let got = distance(metric, xs, &cent[(s * c + j) * v..(s * c + j + 1) * v]);
                        let best = (0..c)
                            .map(|jj| {
                                distance(metric, xs, &cent[(s * c + jj) * v..(s * c + jj + 1) * v])
                            })
                            .fold(f32::INFINITY, f32::min);
                        // L2 is evaluated as ‖c‖² − 2⟨x,c⟩: allow rounding-level near-ties.
                        assert!(
                            got <= best + 1e-5 * (1.0 + best),
                            "{isa:?} {metric:?} m={m} k={k} v={v} c={c}: row {r} s {s}: {got} > {best}"
                        );
                    }
                }
                all.push(codes.data);
            }
            for w in all.windows(2) {
                assert_eq!(
                    w[0], w[1],
                    "{metric:?} m={m} k={k} v={v} c={c}: ISAs disagree"
                );
            }
        }
    }
}

#[test]
fn ties_go_to_the_lowest_index() {
    // Two identical centroids: the first must win in every implementation and metric.
    for metric in VqMetric::ALL {
        let cent = [0.5f32, 0.5, 0.5, 0.5, -3.0, -3.0, 9.0, 9.0];
        let enc = Encoder::new(metric, 1, 4, 2, &cent);
        for isa in Isa::available() {
            let mut codes = Codes::default();
            encode_with(isa, &enc, &[0.4, 0.6], 1, &mut codes);
            assert_eq!(codes.get(0, 0), 0, "{isa:?} {metric:?}");
        }
    }
}

#[test]
fn ties_in_the_rows_in_lanes_encoder_go_to_the_lowest_index() {
    // The same rule on ≥ 8 rows, where the rows-in-lanes encoder runs (one row per lane), for
    // several c: (c, first, twin): the nearest centroid at `first` and an identical copy at
    // `twin`, later in index order.
    let cases = [
        (4, 0, 3),
        (5, 1, 4),
        (16, 2, 13),
        (16, 7, 8),
        (32, 5, 30),
        (8, 3, 4),
    ];
    for (c, first, twin) in cases {
        let v = 4;
        for metric in VqMetric::ALL {
            let mut cent: Vec<f32> = (0..c * v).map(|i| 10.0 + i as f32).collect();
            for j in [first, twin] {
                cent[j * v..(j + 1) * v].copy_from_slice(&[0.5, -0.5, 0.25, 0.0]);
            }
            let enc = Encoder::new(metric, 1, c, v, &cent);
            let m = 16;
            let x: Vec<f32> = (0..m)
                .flat_map(|r| [0.5, -0.5, 0.25, 0.01 * r as f32])
                .collect();
            for isa in Isa::available() {
                let mut codes = Codes::default();
                encode_with(isa, &enc, &x, m, &mut codes);
                for r in 0..m {
                    assert_eq!(
                        codes.get(r, 0) as usize,
                        first,
                        "c {c}, row {r}, {isa:?} {metric:?}"
                    );
                }
            }
        }
    }
}
