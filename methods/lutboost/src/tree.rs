//! MADDNESS's encoder (Blalock & Guttag, ICML 2021): a learned hash instead of a nearest-centroid
//! search. Per codebook (subspace of v inputs), a balanced binary regression tree of
//! `levels = log2 c` levels; every node of level t compares the *same* input dimension
//! `dims[s][t]` with its own threshold, so encoding a sub-vector is `levels` comparisons and no
//! arithmetic (4 for c = 16), against the M·K·c distance terms of [`crate::encode`].
//!
//! * [`learn_tree`]: fit one codebook's tree on calibration sub-vectors. Level by level, the
//!   candidate dimensions are the 4 with the largest within-bucket sum of squared errors (SSE);
//!   each candidate splits every current bucket at its median (moved to the nearest gap between
//!   distinct values, so ReLU's many zeros still split), and the candidate whose split leaves the
//!   smallest total SSE wins (MADDNESS's heuristic). Thresholds are stored as fp16 values, and
//!   the buckets are partitioned with the stored thresholds, so learning and encoding agree.
//!   Prototypes are the bucket means (an empty bucket inherits its parent's mean).
//! * [`TreeEncoder`]: the deployed encoder, writing the blocked [`Codes`] layout the LUT-GEMM
//!   look-up reads; [`encode_reference`] is the plain definition it must match bit for bit
//!   (MADDNESS's reference partitions index sets level by level).
//! * [`ridge_tables`]: MADDNESS's prototype refinement, P = (GᵀG + λI)⁻¹GᵀA over all K inputs
//!   (G the one-hot codes), solved for the tables T = P·W directly: the ridge solution is linear
//!   in its target, so (GᵀG + λI)⁻¹Gᵀ(AW) = P·W, and N output columns are cheaper than K input
//!   ones. Solved by block Gauss-Seidel over the codebooks (each block's normal matrix GₛᵀGₛ is
//!   diagonal: bucket counts), which converges to the exact ridge solution.
//!
//! Comparison semantics: an input goes right when `!(x < threshold)` (so NaN goes right), left
//! otherwise; the code of a leaf is its path read as bits, the first level most significant.

use rayon::prelude::*;

use crate::encode::{Codes, ROW_BLOCK};
use crate::kernel::{Isa, round_to_f16};

/// Dimensions tried per level (MADDNESS's heuristic keeps the 4 with the largest SSE).
pub const CANDIDATE_DIMS: usize = 4;

/// The trees of one layer, one per codebook.
#[derive(Debug, Clone, PartialEq)]
pub struct TreeEncoder {
    /// Codebooks (K / v).
    pub nc: usize,
    pub v: usize,
    /// Tree depth; c = 2^levels buckets.
    pub levels: usize,
    /// `[s][t]`: the input dimension (0..v) every node of level t of codebook s compares.
    pub dims: Vec<u8>,
    /// `[s][node]`, c − 1 per codebook in heap order: node i of level t at `2^t − 1 + i`.
    pub thresholds: Vec<f32>,
}

impl TreeEncoder {
    /// From per-codebook fits (all with the same `v` and `levels`).
    pub fn from_fits(v: usize, levels: usize, fits: &[TreeFit]) -> TreeEncoder {
        let mut dims = Vec::with_capacity(fits.len() * levels);
        let mut thresholds = Vec::with_capacity(fits.len() * ((1 << levels) - 1));
        for f in fits {
            assert_eq!(f.dims.len(), levels, "every tree has `levels` levels");
            dims.extend_from_slice(&f.dims);
            thresholds.extend_from_slice(&f.thresholds);
        }
        TreeEncoder {
            nc: fits.len(),
            v,
            levels,
            dims,
            thresholds,
        }
    }

    pub fn c(&self) -> usize {
        1 << self.levels
    }

    pub fn k(&self) -> usize {
        self.nc * self.v
    }

    /// Code of sub-vector `xs` (length v) in codebook `s`.
    #[inline]
    pub fn code(&self, s: usize, xs: &[f32]) -> u8 {
        let levels = self.levels;
        let dims = &self.dims[s * levels..(s + 1) * levels];
        let thr = &self.thresholds[s * (self.c() - 1)..(s + 1) * (self.c() - 1)];
        let mut node = 0usize;
        for (t, &d) in dims.iter().enumerate() {
            // Not `>=`: a NaN input goes right, as the reference encoder sends it.
            #[allow(clippy::neg_cmp_op_on_partial_ord)]
            let right = !(xs[d as usize] < thr[(1 << t) - 1 + node]);
            node = 2 * node + right as usize;
        }
        node as u8
    }

    /// Encode one row into its row block (`block[s · 32 + r]`).
    #[inline]
    pub fn encode_row(&self, xr: &[f32], block: &mut [u8], r: usize) {
        let v = self.v;
        for s in 0..self.nc {
            block[s * ROW_BLOCK + r] = self.code(s, &xr[s * v..(s + 1) * v]);
        }
    }

    /// Encode `x` (`m × k`, row-major) into `codes` (blocked like the nearest-centroid
    /// encoder's, so the same look-up kernels read them), AVX2 when the CPU has it.
    pub fn encode(&self, x: &[f32], m: usize, codes: &mut Codes) {
        self.encode_with(Isa::detect(), x, m, codes)
    }

    /// [`TreeEncoder::encode`] with `isa` chosen: AVX2 walks the trees for 8 rows at once
    /// (each level's column gathered, [`x86::codes`]), the portable path one row at a time;
    /// the codes are the same. Blocks run in parallel when the work is large.
    pub fn encode_with(&self, isa: Isa, x: &[f32], m: usize, codes: &mut Codes) {
        assert_eq!(x.len(), m * self.k(), "x must be m × k");
        codes.reset(m, self.nc);
        let k = self.k();
        let per_block = self.nc * ROW_BLOCK;
        let encode_block = |(b, block): (usize, &mut [u8])| {
            let r0 = b * ROW_BLOCK;
            let rows = ROW_BLOCK.min(m - r0);
            let mut done = 0;
            #[cfg(target_arch = "x86_64")]
            if isa == Isa::Avx2 {
                done = rows / x86::LANES * x86::LANES;
                // SAFETY: Isa::Avx2 is only chosen on a CPU with AVX2; the block's rows
                // r0 .. r0 + done are in `x`.
                unsafe { x86::encode_rows(self, &x[r0 * k..(r0 + done) * k], block) };
            }
            #[cfg(not(target_arch = "x86_64"))]
            let _ = isa;
            for r in done..rows {
                self.encode_row(&x[(r0 + r) * k..(r0 + r + 1) * k], block, r);
            }
        };
        if m * self.nc * self.levels < PARALLEL_MIN_COMPARES {
            codes
                .data
                .chunks_mut(per_block)
                .enumerate()
                .for_each(encode_block);
        } else {
            codes
                .data
                .par_chunks_mut(per_block)
                .enumerate()
                .for_each(encode_block);
        }
    }

    /// Stored bits: every threshold at fp16 and every level's dimension index.
    pub fn stored_bits(&self) -> f64 {
        let dim_bits = crate::measured::index_bits(self.v as u64) as f64;
        self.thresholds.len() as f64 * 16.0 + self.dims.len() as f64 * dim_bits
    }
}

/// Comparisons below which [`TreeEncoder::encode`] stays on the calling thread.
pub const PARALLEL_MIN_COMPARES: usize = 1 << 18;

/// The tree walk with 8 rows in the lanes of a register, shared by the GEMM path
/// ([`TreeEncoder::encode_with`]) and the fused convolution (`kernel::conv`).
#[cfg(target_arch = "x86_64")]
pub(crate) mod x86 {
    use std::arch::x86_64::*;

    use super::TreeEncoder;
    use crate::encode::{ROW_BLOCK, store_lane_codes};

    /// Rows per register.
    pub const LANES: usize = 8;

    /// Codebook `s`'s codes for 8 rows, lane i for row i, where `column(k)` loads the 8 rows'
    /// coordinate k. Per level, each lane's node picks its threshold: a lane permute of the
    /// level's thresholds when they fit one load inside the tree, a gather otherwise; then
    /// `!(x < threshold)` (a NaN input too) appends the next code bit, as
    /// [`TreeEncoder::code`] does.
    #[target_feature(enable = "avx2")]
    pub fn codes(t: &TreeEncoder, s: usize, column: impl Fn(usize) -> __m256) -> __m256i {
        let (v, levels, nodes) = (t.v, t.levels, t.c() - 1);
        let thr = &t.thresholds[s * nodes..(s + 1) * nodes];
        let mut node = _mm256_setzero_si256();
        for (lv, &d) in t.dims[s * levels..(s + 1) * levels].iter().enumerate() {
            let x = column(s * v + d as usize);
            // Level lv's thresholds, in heap order: first .. first + 2^lv.
            let (first, width) = ((1usize << lv) - 1, 1usize << lv);
            let th = if width <= LANES && first + LANES <= nodes {
                // SAFETY: first + 8 ≤ thr.len().
                let level = unsafe { _mm256_loadu_ps(thr.as_ptr().add(first)) };
                _mm256_permutevar8x32_ps(level, node)
            } else {
                // SAFETY: every lane's node < width, and first + width ≤ nodes = thr.len().
                unsafe { _mm256_i32gather_ps::<4>(thr.as_ptr().add(first), node) }
            };
            // All ones (−1) where the row goes right.
            let right = _mm256_castps_si256(_mm256_cmp_ps::<_CMP_NLT_UQ>(x, th));
            node = _mm256_sub_epi32(_mm256_slli_epi32::<1>(node), right);
        }
        node
    }

    /// Codes of the first `x.len() / k` rows of a row block (a multiple of 8, row-major in
    /// `x`) into `block` (`[s · 32 + r]`), each level's column gathered from 8 rows.
    ///
    /// # Safety
    /// AVX2 must be available.
    #[target_feature(enable = "avx2")]
    pub unsafe fn encode_rows(t: &TreeEncoder, x: &[f32], block: &mut [u8]) {
        let k = t.k() as i32;
        let rows = x.len() / t.k();
        debug_assert!(rows.is_multiple_of(LANES) && rows <= ROW_BLOCK);
        let stride = _mm256_setr_epi32(0, k, 2 * k, 3 * k, 4 * k, 5 * k, 6 * k, 7 * k);
        for g in 0..rows / LANES {
            let base = x[g * LANES * t.k()..].as_ptr();
            for s in 0..t.nc {
                // SAFETY: rows g·8 .. g·8 + 8 of x, coordinate col < k of each.
                let node = codes(t, s, |col| unsafe {
                    _mm256_i32gather_ps::<4>(base.add(col), stride)
                });
                // One row block: blocked index s · 32 + row.
                store_lane_codes(node, (g * LANES, LANES), t.nc, s, block);
            }
        }
    }
}

/// The definition of the tree encoder's codes, written independently of [`TreeEncoder::code`]:
/// per codebook, the row indices are partitioned level by level (bucket i splits into 2i, 2i+1),
/// and each row's code is the bucket it ends in. Returns codes row-major, `[row][s]`.
pub fn encode_reference(enc: &TreeEncoder, x: &[f32], m: usize) -> Vec<u8> {
    let (k, v, c) = (enc.k(), enc.v, enc.c());
    let mut out = vec![0u8; m * enc.nc];
    for s in 0..enc.nc {
        let mut buckets: Vec<Vec<usize>> = vec![(0..m).collect()];
        for t in 0..enc.levels {
            let d = enc.dims[s * enc.levels + t] as usize;
            let mut next = Vec::with_capacity(buckets.len() * 2);
            for (i, rows) in buckets.iter().enumerate() {
                let thr = enc.thresholds[s * (c - 1) + (1 << t) - 1 + i];
                let (left, right): (Vec<usize>, Vec<usize>) =
                    rows.iter().partition(|&&r| x[r * k + s * v + d] < thr);
                next.push(left);
                next.push(right);
            }
            buckets = next;
        }
        for (code, rows) in buckets.iter().enumerate() {
            for &r in rows {
                out[r * enc.nc + s] = code as u8;
            }
        }
    }
    out
}

/// One codebook's learned tree and its bucket means.
#[derive(Debug, Clone, PartialEq)]
pub struct TreeFit {
    /// `[t]`: the dimension level t compares.
    pub dims: Vec<u8>,
    /// c − 1 thresholds in heap order (fp16 values).
    pub thresholds: Vec<f32>,
    /// `[bucket][d]`: c × v prototypes (bucket means).
    pub means: Vec<f32>,
}

/// Sum of squared deviations from the mean, over every dimension, of `rows` of `points`.
fn sse(points: &[f32], v: usize, rows: &[u32]) -> f64 {
    let mut per_dim = vec![0.0f64; v];
    sse_per_dim(points, v, rows, &mut per_dim);
    per_dim.iter().sum()
}

/// Per-dimension SSE of `rows`, added into `acc`.
fn sse_per_dim(points: &[f32], v: usize, rows: &[u32], acc: &mut [f64]) {
    if rows.is_empty() {
        return;
    }
    let mut s = vec![0.0f64; v];
    let mut q = vec![0.0f64; v];
    for &r in rows {
        let p = &points[r as usize * v..(r as usize + 1) * v];
        for d in 0..v {
            let x = p[d] as f64;
            s[d] += x;
            q[d] += x * x;
        }
    }
    let n = rows.len() as f64;
    for d in 0..v {
        acc[d] += (q[d] - s[d] * s[d] / n).max(0.0);
    }
}

/// Mean of `rows` (or `fallback` when there are none).
fn mean(points: &[f32], v: usize, rows: &[u32], fallback: &[f32]) -> Vec<f32> {
    if rows.is_empty() {
        return fallback.to_vec();
    }
    let mut s = vec![0.0f64; v];
    for &r in rows {
        for d in 0..v {
            s[d] += points[r as usize * v + d] as f64;
        }
    }
    s.iter().map(|&x| (x / rows.len() as f64) as f32).collect()
}

/// The split value of one bucket along one dimension: the median, moved to the nearest gap
/// between two distinct sorted values (so a bucket whose median value repeats, as ReLU's zeros
/// do, still splits), as the gap's midpoint rounded to fp16 (a gap too narrow for fp16 is
/// skipped). A bucket with no such gap gets its smallest value (as fp16): everything goes to
/// one side.
pub fn split_threshold(values: &mut [f32]) -> f32 {
    let n = values.len();
    if n == 0 {
        return 0.0;
    }
    values.sort_unstable_by(f32::total_cmp);
    let gaps = n - 1; // gap i lies between values[i] and values[i + 1]
    let mid = (n / 2).saturating_sub(1);
    let try_gap = |i: usize| -> Option<f32> {
        let (a, b) = (values[i], values[i + 1]);
        let t = round_to_f16(a + (b - a) * 0.5);
        (a < t && t <= b).then_some(t)
    };
    for off in 0..gaps {
        if mid + off < gaps
            && let Some(t) = try_gap(mid + off)
        {
            return t;
        }
        if off > 0
            && off <= mid
            && let Some(t) = try_gap(mid - off)
        {
            return t;
        }
    }
    round_to_f16(values[0])
}

/// Partition `rows` by `points[r][d] < thr`.
fn split(points: &[f32], v: usize, rows: &[u32], d: usize, thr: f32) -> (Vec<u32>, Vec<u32>) {
    rows.iter()
        .partition(|&&r| points[r as usize * v + d] < thr)
}

/// Learn one codebook's tree on `points` (`n × v`, row-major) with `levels` levels.
pub fn learn_tree(points: &[f32], v: usize, levels: usize) -> TreeFit {
    assert!(
        v > 0 && points.len().is_multiple_of(v),
        "points must be n × v"
    );
    assert!((1..=8).contains(&levels), "1..=8 levels (codes are bytes)");
    assert!(v <= 256, "dimension indices are bytes");
    let n = points.len() / v;
    let all_mean = mean(points, v, &(0..n as u32).collect::<Vec<_>>(), &vec![0.0; v]);
    let mut buckets: Vec<Vec<u32>> = vec![(0..n as u32).collect()];
    let mut means: Vec<Vec<f32>> = vec![all_mean];
    let mut dims = Vec::with_capacity(levels);
    let mut thresholds = Vec::with_capacity((1 << levels) - 1);
    let mut col = Vec::new();
    for _ in 0..levels {
        // Candidates: the dimensions with the largest within-bucket SSE (ties: lower index).
        let mut per_dim = vec![0.0f64; v];
        for b in &buckets {
            sse_per_dim(points, v, b, &mut per_dim);
        }
        let mut order: Vec<usize> = (0..v).collect();
        order.sort_by(|&a, &b| per_dim[b].total_cmp(&per_dim[a]).then(a.cmp(&b)));
        order.truncate(CANDIDATE_DIMS.min(v));
        let mut best: Option<(f64, usize, Vec<f32>)> = None;
        for &d in &order {
            let mut thr = Vec::with_capacity(buckets.len());
            let mut loss = 0.0;
            for b in &buckets {
                col.clear();
                col.extend(b.iter().map(|&r| points[r as usize * v + d]));
                let t = split_threshold(&mut col);
                let (l, r) = split(points, v, b, d, t);
                loss += sse(points, v, &l) + sse(points, v, &r);
                thr.push(t);
            }
            if best.as_ref().is_none_or(|(bl, _, _)| loss < *bl) {
                best = Some((loss, d, thr));
            }
        }
        let (_, d, thr) = best.expect("at least one candidate dimension");
        let mut next = Vec::with_capacity(buckets.len() * 2);
        let mut next_means = Vec::with_capacity(buckets.len() * 2);
        for ((b, &t), parent) in buckets.iter().zip(&thr).zip(&means) {
            let (l, r) = split(points, v, b, d, t);
            next_means.push(mean(points, v, &l, parent));
            next_means.push(mean(points, v, &r, parent));
            next.push(l);
            next.push(r);
        }
        dims.push(d as u8);
        thresholds.extend_from_slice(&thr);
        buckets = next;
        means = next_means;
    }
    TreeFit {
        dims,
        thresholds,
        means: means.concat(),
    }
}

/// Learn every codebook's tree of one layer from its calibration rows (`rows × k`).
pub fn learn_layer(x: &[f32], rows: usize, k: usize, v: usize, levels: usize) -> Vec<TreeFit> {
    assert_eq!(x.len(), rows * k);
    assert!(k.is_multiple_of(v), "v must divide K");
    (0..k / v)
        .into_par_iter()
        .map(|s| {
            let mut pts = Vec::with_capacity(rows * v);
            for r in 0..rows {
                pts.extend_from_slice(&x[r * k + s * v..r * k + (s + 1) * v]);
            }
            learn_tree(&pts, v, levels)
        })
        .collect()
}

/// Rows per chunk of the ridge solver's sums (fixed, so the sums' order, and so the result,
/// does not depend on the thread pool).
const RIDGE_CHUNK: usize = 256;

/// MADDNESS's ridge refinement, solved for the tables (see the module docs): minimize
/// ‖Y − Σₛ Tₛ[codeₛ]‖² + λ‖T‖² over T `[s][j][n]`, starting from `t` (e.g. the bucket means'
/// tables), by `sweeps` block Gauss-Seidel sweeps over the codebooks. `codes` is `[row][s]`,
/// `y` is `rows × n`. Each block update is exact (GₛᵀGₛ is the diagonal of bucket counts), so
/// the objective never increases. Returns (‖residual‖², ‖T‖²) before the first sweep (index 0)
/// and after each sweep; the objective is the first plus λ times the second.
pub fn ridge_tables(
    codes: &[u8],
    rows: usize,
    nc: usize,
    c: usize,
    y: &[f32],
    n: usize,
    lambda: f64,
    sweeps: usize,
    t: &mut [f32],
) -> Vec<(f64, f64)> {
    assert_eq!(codes.len(), rows * nc);
    assert_eq!(y.len(), rows * n);
    assert_eq!(t.len(), nc * c * n);
    // Residual R = Y − Σ_s T_s[code_s].
    let mut res = y.to_vec();
    res.par_chunks_mut(n).enumerate().for_each(|(r, rr)| {
        for s in 0..nc {
            let j = codes[r * nc + s] as usize;
            let tr = &t[(s * c + j) * n..(s * c + j + 1) * n];
            for (a, &b) in rr.iter_mut().zip(tr) {
                *a -= b;
            }
        }
    });
    let objective = |res: &[f32], t: &[f32]| -> (f64, f64) {
        let sq = |x: &f32| (*x as f64) * (*x as f64);
        let e: f64 = res
            .chunks(1 << 16)
            .map(|c| c.iter().map(sq).sum::<f64>())
            .sum();
        (e, t.iter().map(sq).sum())
    };
    let mut history = vec![objective(&res, t)];
    for _ in 0..sweeps {
        for s in 0..nc {
            // Bucket sums of the residual and bucket counts, per fixed chunk, then in order.
            let partial: Vec<(Vec<f64>, Vec<u64>)> = res
                .par_chunks(RIDGE_CHUNK * n)
                .enumerate()
                .map(|(ci, chunk)| {
                    let mut sums = vec![0.0f64; c * n];
                    let mut counts = vec![0u64; c];
                    for (i, rr) in chunk.chunks_exact(n).enumerate() {
                        let j = codes[(ci * RIDGE_CHUNK + i) * nc + s] as usize;
                        counts[j] += 1;
                        for (a, &b) in sums[j * n..(j + 1) * n].iter_mut().zip(rr) {
                            *a += b as f64;
                        }
                    }
                    (sums, counts)
                })
                .collect();
            let mut sums = vec![0.0f64; c * n];
            let mut counts = vec![0u64; c];
            for (ps, pc) in &partial {
                for (a, b) in sums.iter_mut().zip(ps) {
                    *a += b;
                }
                for (a, b) in counts.iter_mut().zip(pc) {
                    *a += b;
                }
            }
            // T_s[j] ← (Σ_{r∈j} (R_r + T_s[j])) / (count_j + λ); R_r −= ΔT_s[code].
            let ts = &mut t[s * c * n..(s + 1) * c * n];
            let mut delta = vec![0.0f32; c * n];
            for j in 0..c {
                let cnt = counts[j] as f64;
                for q in 0..n {
                    let old = ts[j * n + q];
                    let new = ((sums[j * n + q] + cnt * old as f64) / (cnt + lambda)) as f32;
                    delta[j * n + q] = new - old;
                    ts[j * n + q] = new;
                }
            }
            res.par_chunks_mut(n).enumerate().for_each(|(r, rr)| {
                let j = codes[r * nc + s] as usize;
                for (a, &b) in rr.iter_mut().zip(&delta[j * n..(j + 1) * n]) {
                    *a -= b;
                }
            });
        }
        history.push(objective(&res, t));
    }
    history
}
