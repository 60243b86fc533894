//! Similarity metrics of the centroid search (LUT-DLA §V: L2, L1 and Chebyshev).
//!
//! These are the *true* distances, used by k-means and as the brute-force reference in tests.
//! The fast encoder (`encode.rs`) computes L2 in the expanded form ‖c‖² − 2⟨x, c⟩ (‖x‖² is the
//! same for every centroid, so it cannot change the argmin), which rounds differently: argmins
//! agree except on near-ties.

pub use compbench_core::VqMetric;

/// Distance between two equally long vectors under `metric`.
#[inline]
pub fn distance(metric: VqMetric, a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    match metric {
        VqMetric::L2 => a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum(),
        VqMetric::L1 => a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum(),
        VqMetric::Chebyshev => a
            .iter()
            .zip(b)
            .fold(0.0f32, |m, (x, y)| m.max((x - y).abs())),
    }
}

/// Index of the nearest of `centroids` (`c × v`, row-major) to `x` (length v), first on ties.
pub fn nearest(metric: VqMetric, x: &[f32], centroids: &[f32]) -> usize {
    let v = x.len();
    let mut best = f32::INFINITY;
    let mut idx = 0;
    for (j, cj) in centroids.chunks_exact(v).enumerate() {
        let d = distance(metric, x, cj);
        if d < best {
            best = d;
            idx = j;
        }
    }
    idx
}
