//! k-means recovers well-separated clusters, under every metric.

mod common;

use compbench_core::seed::Rng;
use compbench_lutboost::kmeans::{KMeansOptions, kmeans, quantization_error};
use compbench_lutboost::metric::{VqMetric, nearest};

#[test]
fn recovers_separable_clusters() {
    // (v, clusters, points per cluster, spread)
    let cases: &[(usize, usize, usize, f32)] = &[
        (2, 4, 50, 0.05),
        (4, 8, 40, 0.1),
        (9, 16, 30, 0.1),
        (1, 3, 20, 0.01),
    ];
    for &(v, k, per, spread) in cases {
        for metric in VqMetric::ALL {
            let mut rng = Rng::new(7 + v as u64);
            // Cluster centres on a coarse grid far apart relative to the spread.
            let centres: Vec<f32> = (0..k * v)
                .map(|_| (rng.below(41) as f32 - 20.0) * 1.0)
                .collect();
            let mut pts = Vec::new();
            let mut label = Vec::new();
            for p in 0..k * per {
                let cl = p % k;
                for d in 0..v {
                    pts.push(centres[cl * v + d] + rng.normal() * spread);
                }
                label.push(cl);
            }
            // Duplicated centres would make the case ambiguous: skip them (rare).
            let distinct = (0..k).all(|a| {
                (0..a).all(|b| centres[a * v..(a + 1) * v] != centres[b * v..(b + 1) * v])
            });
            if !distinct {
                continue;
            }
            let cent = kmeans(
                &pts,
                v,
                KMeansOptions {
                    c: k,
                    iters: 50,
                    metric,
                    seed: 3,
                },
            );
            // Every true cluster maps to exactly one centroid, and each centroid sits near its centre.
            let mut map = vec![usize::MAX; k];
            for (p, &cl) in label.iter().enumerate() {
                let j = nearest(metric, &pts[p * v..(p + 1) * v], &cent);
                if map[cl] == usize::MAX {
                    map[cl] = j;
                }
                assert_eq!(map[cl], j, "v={v} k={k} {metric:?}: cluster {cl} split");
            }
            let mut used = map.clone();
            used.sort();
            used.dedup();
            assert_eq!(used.len(), k, "v={v} k={k} {metric:?}: clusters merged");
            let err = quantization_error(&pts, v, &cent, metric);
            assert!(
                err < 5.0 * spread as f64 * v as f64,
                "v={v} {metric:?}: error {err}"
            );
        }
    }
}

#[test]
fn fewer_points_than_centroids_is_fine() {
    let pts = [1.0f32, 2.0, 3.0, 4.0];
    let cent = kmeans(
        &pts,
        2,
        KMeansOptions {
            c: 8,
            iters: 5,
            metric: VqMetric::L2,
            seed: 1,
        },
    );
    assert_eq!(cent.len(), 16);
    assert!(cent.iter().all(|x| x.is_finite()));
    assert_eq!(quantization_error(&pts, 2, &cent, VqMetric::L2), 0.0);
}
