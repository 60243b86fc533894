//! Fused kernels of the soft path's distances (stage 3's backward), on plain buffers.
//!
//! The soft assignment needs the distance of every sub-vector to every centroid, `d[s, r, j]`,
//! and its gradient. Written with burn tensor ops, L1 and Chebyshev materialize the broadcast
//! difference `[nc, rows, c, v]` (about 116 MB per CNN conv2 shard at v = 4, c = 16) several
//! times forward and backward; that made a stage-3 step of an L1 or Chebyshev network 2-3× the
//! cost of an L2 one. These kernels compute `d` directly and recompute the signs in the backward
//! pass, reading `x`, the centroids and the incoming gradient once.
//!
//! Layouts: `x` is `[rows, K]` row-major with `K = nc·v`; centroids `[nc, c, v]`; distances and
//! their gradient `[rows, nc, c]`: a row's `nc·c` soft-assignment weights are contiguous, so
//! the softmax over c and the product with the `[nc·c, N]` tables need no layout copy. Work is
//! split into fixed chunks of [`CHUNK_ROWS`] rows (each row of `x` is read once, for all its
//! subspaces); the centroid gradient is summed per chunk and the chunks' partial sums are added
//! in chunk order, so results do not depend on the thread count.
//!
//! Gradients follow the autodiff of the tensor formulation they replace: L2 (squared)
//! `∂d/∂x = 2(x − c)`; L1 `sign(x − c)` with `sign(0) = 0` (burn's `abs` backward); Chebyshev
//! routes the gradient to the first coordinate reaching the maximum (burn's `max_dim`).

use rayon::prelude::*;

use crate::metric::VqMetric;

/// Shape of a distance computation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SoftShape {
    pub rows: usize,
    /// Subspaces (K / v).
    pub nc: usize,
    /// Centroids per subspace.
    pub c: usize,
    /// Sub-vector length.
    pub v: usize,
}

impl SoftShape {
    pub fn k(&self) -> usize {
        self.nc * self.v
    }
}

/// Rows per parallel task; fixed, so the centroid gradient's summation order is too.
pub const CHUNK_ROWS: usize = 256;

/// All centroids transposed to `[nc][v][c]`, so the inner loops run over centroids
/// (contiguous, vectorizable).
fn transposed(cent: &[f32], sh: SoftShape) -> Vec<f32> {
    let (nc, c, v) = (sh.nc, sh.c, sh.v);
    let mut t = vec![0.0f32; nc * v * c];
    for s in 0..nc {
        for j in 0..c {
            for d in 0..v {
                t[(s * v + d) * c + j] = cent[(s * c + j) * v + d];
            }
        }
    }
    t
}

#[inline(always)]
fn sign(x: f32) -> f32 {
    if x > 0.0 {
        1.0
    } else if x < 0.0 {
        -1.0
    } else {
        0.0
    }
}

/// Distances `[rows, nc, c]` of the sub-vectors of `x` to the centroids.
pub fn forward(metric: VqMetric, x: &[f32], cent: &[f32], sh: SoftShape) -> Vec<f32> {
    let (rows, c, v, k, nc) = (sh.rows, sh.c, sh.v, sh.k(), sh.nc);
    assert_eq!(x.len(), rows * k, "x must be rows × K");
    assert_eq!(cent.len(), nc * c * v, "centroids must be nc × c × v");
    if rows == 0 || c == 0 || nc == 0 {
        return vec![0.0; nc * rows * c];
    }
    let ct = transposed(cent, sh);
    // Per chunk: its rows' distances, written in place.
    let mut out = vec![0.0f32; rows * nc * c];
    out.par_chunks_mut(CHUNK_ROWS * nc * c)
        .enumerate()
        .for_each(|(ch, out)| {
            let r0 = ch * CHUNK_ROWS;
            let r1 = r0 + out.len() / (nc * c);
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: AVX2 detected.
                unsafe { forward_rows_avx2(metric, x, &ct, sh, r0, r1, out) };
                return;
            }
            forward_rows(metric, x, &ct, sh, r0, r1, out);
        });
    out
}

/// Distances of rows `r0..r1` into `out` `[r1 − r0][nc][c]`.
#[inline(always)]
fn forward_rows(
    metric: VqMetric,
    x: &[f32],
    ct: &[f32],
    sh: SoftShape,
    r0: usize,
    r1: usize,
    out: &mut [f32],
) {
    let (c, v, k, nc) = (sh.c, sh.v, sh.k(), sh.nc);
    for r in r0..r1 {
        let row = &x[r * k..(r + 1) * k];
        for s in 0..nc {
            let at = ((r - r0) * nc + s) * c;
            let d = &mut out[at..at + c];
            let xs = &row[s * v..(s + 1) * v];
            let cts = &ct[s * v * c..(s + 1) * v * c];
            for (t, &xt) in xs.iter().enumerate() {
                let col = &cts[t * c..(t + 1) * c];
                match metric {
                    VqMetric::L2 => {
                        for (dj, &cj) in d.iter_mut().zip(col) {
                            let e = xt - cj;
                            *dj += e * e;
                        }
                    }
                    VqMetric::L1 => {
                        for (dj, &cj) in d.iter_mut().zip(col) {
                            *dj += (xt - cj).abs();
                        }
                    }
                    VqMetric::Chebyshev => {
                        for (dj, &cj) in d.iter_mut().zip(col) {
                            *dj = dj.max((xt - cj).abs());
                        }
                    }
                }
            }
        }
    }
}

/// [`forward_rows`] compiled for AVX2: the loops over centroids vectorize 8-wide. No FMA, so
/// results equal the portable build's bit for bit.
///
/// # Safety
/// AVX2 available.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn forward_rows_avx2(
    metric: VqMetric,
    x: &[f32],
    ct: &[f32],
    sh: SoftShape,
    r0: usize,
    r1: usize,
    out: &mut [f32],
) {
    forward_rows(metric, x, ct, sh, r0, r1, out)
}

/// Gradients `(∂L/∂x [rows, K], ∂L/∂cent [nc, c, v])` from `grad` = ∂L/∂d `[rows, nc, c]`.
pub fn backward(
    metric: VqMetric,
    x: &[f32],
    cent: &[f32],
    grad: &[f32],
    sh: SoftShape,
) -> (Vec<f32>, Vec<f32>) {
    let (rows, c, v, k, nc) = (sh.rows, sh.c, sh.v, sh.k(), sh.nc);
    assert_eq!(x.len(), rows * k, "x must be rows × K");
    assert_eq!(cent.len(), nc * c * v, "centroids must be nc × c × v");
    assert_eq!(grad.len(), rows * nc * c, "grad must be rows × nc × c");
    let ct = transposed(cent, sh);
    let mut gx = vec![0.0f32; rows * k];
    // Per chunk: its rows of ∂x (written in place) and its partial ∂centroids as [nc][v][c].
    let partials: Vec<Vec<f32>> = gx
        .par_chunks_mut(CHUNK_ROWS * k.max(1))
        .enumerate()
        .map(|(ch, gx_rows)| {
            let r0 = ch * CHUNK_ROWS;
            let mut gct = vec![0.0f32; nc * v * c];
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: AVX2 detected.
                unsafe { backward_rows_avx2(metric, x, &ct, grad, sh, r0, gx_rows, &mut gct) };
                return gct;
            }
            backward_rows(metric, x, &ct, grad, sh, r0, gx_rows, &mut gct);
            gct
        })
        .collect();
    let mut gct = vec![0.0f32; nc * v * c];
    for p in &partials {
        for (a, b) in gct.iter_mut().zip(p) {
            *a += b;
        }
    }
    // Back to the [nc][c][v] layout of the centroids.
    let mut gc = vec![0.0f32; nc * c * v];
    for s in 0..nc {
        for j in 0..c {
            for t in 0..v {
                gc[(s * c + j) * v + t] = gct[(s * v + t) * c + j];
            }
        }
    }
    (gx, gc)
}

/// ∂x of rows `r0..` (`gx_rows`, `[n][K]`) and their contribution to ∂centroids (`gct`,
/// `[nc][v][c]`).
#[inline(always)]
fn backward_rows(
    metric: VqMetric,
    x: &[f32],
    ct: &[f32],
    grad: &[f32],
    sh: SoftShape,
    r0: usize,
    gx_rows: &mut [f32],
    gct: &mut [f32],
) {
    let (c, v, k, nc) = (sh.c, sh.v, sh.k(), sh.nc);
    let mut e = vec![0.0f32; c];
    for (i, gxr) in gx_rows.chunks_exact_mut(k).enumerate() {
        let r = r0 + i;
        let row = &x[r * k..(r + 1) * k];
        for s in 0..nc {
            let xs = &row[s * v..(s + 1) * v];
            let g = &grad[(r * nc + s) * c..(r * nc + s + 1) * c];
            let cts = &ct[s * v * c..(s + 1) * v * c];
            let gcs = &mut gct[s * v * c..(s + 1) * v * c];
            let gxs = &mut gxr[s * v..(s + 1) * v];
            match metric {
                VqMetric::L2 | VqMetric::L1 => {
                    for (t, &xt) in xs.iter().enumerate() {
                        let col = &cts[t * c..(t + 1) * c];
                        if metric == VqMetric::L2 {
                            for ((ej, &cj), &gj) in e.iter_mut().zip(col).zip(g) {
                                *ej = gj * (2.0 * (xt - cj));
                            }
                        } else {
                            for ((ej, &cj), &gj) in e.iter_mut().zip(col).zip(g) {
                                *ej = gj * sign(xt - cj);
                            }
                        }
                        gxs[t] += e.iter().sum::<f32>();
                        for (gc, &ej) in gcs[t * c..(t + 1) * c].iter_mut().zip(&e) {
                            *gc -= ej;
                        }
                    }
                }
                VqMetric::Chebyshev => {
                    for j in 0..c {
                        // First coordinate reaching the maximum |x − c|.
                        let (mut best, mut tb) = (f32::NEG_INFINITY, 0);
                        for (t, &xt) in xs.iter().enumerate() {
                            let a = (xt - cts[t * c + j]).abs();
                            if a > best {
                                best = a;
                                tb = t;
                            }
                        }
                        let q = g[j] * sign(xs[tb] - cts[tb * c + j]);
                        gxs[tb] += q;
                        gcs[tb * c + j] -= q;
                    }
                }
            }
        }
    }
}

/// [`backward_rows`] compiled for AVX2 (no FMA: same results as the portable build).
///
/// # Safety
/// AVX2 available.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn backward_rows_avx2(
    metric: VqMetric,
    x: &[f32],
    ct: &[f32],
    grad: &[f32],
    sh: SoftShape,
    r0: usize,
    gx_rows: &mut [f32],
    gct: &mut [f32],
) {
    backward_rows(metric, x, ct, grad, sh, r0, gx_rows, gct)
}
