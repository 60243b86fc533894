//! k-means centroid initialization (LUTBoost stage 1), one codebook per subspace, as in the
//! PQ / MADDNESS / LUT-NN lineage.
//!
//! Assignment uses the layer's own metric, so the initial codebook already partitions the data
//! the way the deployed encoder will. The update step uses the minimizer of that metric's
//! within-cluster cost where it is cheap: the mean for L2, the coordinate-wise median for L1
//! (k-medians). For Chebyshev the exact minimizer (the mid-range) is dominated by outliers, so
//! we keep the mean, which is what LUT-NN-style pipelines do for every metric.

use compbench_core::seed::Rng;
use rayon::prelude::*;

use crate::metric::{VqMetric, distance, nearest};

/// Options of one k-means run.
#[derive(Debug, Clone, Copy)]
pub struct KMeansOptions {
    pub c: usize,
    pub iters: usize,
    pub metric: VqMetric,
    pub seed: u64,
}

/// k-means on `points` (`n × v`, row-major). Returns `c × v` centroids.
///
/// Initialization is k-means++ (D² sampling under the chosen metric), which makes the separable
/// test cases deterministic-enough to recover every cluster. With fewer distinct points than
/// `c`, the remaining centroids duplicate existing points (a valid, if wasteful, codebook).
pub fn kmeans(points: &[f32], v: usize, opts: KMeansOptions) -> Vec<f32> {
    assert!(
        v > 0 && points.len().is_multiple_of(v),
        "points must be n × v"
    );
    let n = points.len() / v;
    let c = opts.c;
    let mut rng = Rng::new(opts.seed);
    let mut cent = vec![0.0f32; c * v];
    if n == 0 {
        return cent;
    }
    let row = |i: usize| &points[i * v..(i + 1) * v];

    // k-means++ seeding.
    let first = rng.below(n);
    cent[..v].copy_from_slice(row(first));
    let mut d2: Vec<f32> = (0..n)
        .map(|i| sq(distance(opts.metric, row(i), &cent[..v])))
        .collect();
    for j in 1..c {
        let total: f64 = d2.iter().map(|&d| d as f64).sum();
        let pick = if total > 0.0 {
            let mut r = rng.next_f64() * total;
            let mut pick = n - 1;
            for (i, &d) in d2.iter().enumerate() {
                r -= d as f64;
                if r <= 0.0 && d > 0.0 {
                    pick = i;
                    break;
                }
            }
            pick
        } else {
            rng.below(n)
        };
        cent[j * v..(j + 1) * v].copy_from_slice(row(pick));
        let cj = cent[j * v..(j + 1) * v].to_vec();
        d2.par_iter_mut().enumerate().for_each(|(i, d)| {
            *d = d.min(sq(distance(opts.metric, row(i), &cj)));
        });
    }

    // Lloyd iterations.
    let mut assign = vec![0usize; n];
    for _ in 0..opts.iters {
        let changed: usize = assign
            .par_iter_mut()
            .enumerate()
            .map(|(i, a)| {
                let j = nearest(opts.metric, row(i), &cent);
                let ch = (*a != j) as usize;
                *a = j;
                ch
            })
            .sum();
        update(points, v, &assign, opts.metric, &mut cent, &mut rng);
        if changed == 0 {
            break;
        }
    }
    cent
}

fn sq(x: f32) -> f32 {
    x * x
}

fn update(
    points: &[f32],
    v: usize,
    assign: &[usize],
    metric: VqMetric,
    cent: &mut [f32],
    rng: &mut Rng,
) {
    let c = cent.len() / v;
    let n = assign.len();
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); c];
    for (i, &a) in assign.iter().enumerate() {
        members[a].push(i);
    }
    for (j, mem) in members.iter().enumerate() {
        let cj = &mut cent[j * v..(j + 1) * v];
        if mem.is_empty() {
            // Empty cluster: re-seed on a random point so no codebook entry is wasted.
            let i = rng.below(n);
            cj.copy_from_slice(&points[i * v..(i + 1) * v]);
            continue;
        }
        match metric {
            VqMetric::L1 => {
                let mut col = Vec::with_capacity(mem.len());
                for d in 0..v {
                    col.clear();
                    col.extend(mem.iter().map(|&i| points[i * v + d]));
                    let mid = col.len() / 2;
                    let (_, m, _) = col.select_nth_unstable_by(mid, |a, b| a.total_cmp(b));
                    cj[d] = *m;
                }
            }
            VqMetric::L2 | VqMetric::Chebyshev => {
                let mut acc = vec![0.0f64; v];
                for &i in mem {
                    for d in 0..v {
                        acc[d] += points[i * v + d] as f64;
                    }
                }
                for d in 0..v {
                    cj[d] = (acc[d] / mem.len() as f64) as f32;
                }
            }
        }
    }
}

/// Mean of the metric's distance from each point to its nearest centroid (the quantization
/// error k-means reduces), for logs and tests.
pub fn quantization_error(points: &[f32], v: usize, cent: &[f32], metric: VqMetric) -> f64 {
    let n = points.len() / v;
    if n == 0 {
        return 0.0;
    }
    let total: f64 = (0..n)
        .into_par_iter()
        .map(|i| {
            let x = &points[i * v..(i + 1) * v];
            let j = nearest(metric, x, cent);
            distance(metric, x, &cent[j * v..(j + 1) * v]) as f64
        })
        .sum();
    total / n as f64
}
