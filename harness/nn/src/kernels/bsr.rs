//! Block-sparse f32 GEMM: `C[m×n] = A[m×k] · W[k×n]` with W pruned in `block_k × block_n`
//! blocks (K×N convention of this crate: `block_k` runs along the input features, `block_n`
//! along the outputs; in the paper's out×in view of W that is a `block_n × block_k` block).
//!
//! # Storage
//! [`BsrMatrix::new`] takes the K×N matrix with its pruned blocks already zero and builds:
//! * the **block mask** (row-major over ⌈K/block_k⌉ × ⌈N/block_n⌉ blocks, true = the block has
//!   a non-zero), which is what the Workload IR carries; edge blocks cover the remainder of K or
//!   N when the block does not tile the matrix (the same padding rule as LPViT's code);
//! * the compute layout, block-compressed **panels**: output columns with no non-zero weight
//!   are dropped (their outputs are 0, bias added), the remaining live columns are cut into
//!   panels of [`NR`] = 16, and each panel stores only the K rows that have a non-zero in its
//!   columns (ascending row indices, `u32`) with their 16 weights (zero-padded past the last
//!   live column). K rows that are zero in every column therefore appear in no panel. With
//!   `block_n` = 16 and blocks aligned to the panels, a panel is exactly one BSR block column
//!   and its row list is the kept blocks' rows; a panel that spans several block columns
//!   (`block_n` < 16, or after a dead column shifted it) lists the union of their kept rows and
//!   multiplies the zeros in between.
//!
//! # Summation order (why the kernel is bit-exact)
//! Every output element is a chain of fused multiply-adds `acc = fma(a[i][p], w[p][j], acc)`
//! from `acc = +0`, over the panel's rows `p` in ascending order, then `+ bias[j]`.
//! [`gemm_fma_reference`] computes the same chain over **all** K rows of the dense matrix
//! (zeros included). The two agree bit for bit for finite inputs: an `fma` with a zero weight
//! adds ±0 to `acc`, which leaves `acc` unchanged unless `acc` is −0, and a chain started at
//! +0 only reaches −0 when a product underflows to −0 (tiny magnitudes, below 1e-38); only then
//! can the sign of a zero result differ. There is no K-blocking (the whole row list is summed
//! in registers), so nothing depends on K, on the tile a row lands in, or on the thread count:
//! rows are independent, as [`crate::deployed::GemmKernel`] requires.
//!
//! The AVX2+FMA micro-kernel (an [`MR`]×16 tile in 12 ymm accumulators, like the dense one) and
//! the portable one (`f32::mul_add`, a correctly rounded fused multiply-add everywhere) compute
//! the identical chain, so the result does not depend on the CPU either. The portable path is
//! selected at run time when AVX2 or FMA is missing (and by tests on any machine).
//!
//! # Threads
//! Like [`super::sgemm`]: rayon splits C into chunks of rows when the executed work is large
//! enough; each chunk walks row tiles, and for each tile every panel.

use rayon::prelude::*;
use thiserror::Error;

use super::sgemm::Isa;

/// Rows of the register tile.
pub const MR: usize = 6;
/// Output columns per panel (two AVX2 vectors).
pub const NR: usize = 16;
/// Rows per rayon task (a multiple of MR).
const ROWS_PER_TASK: usize = MR * 8;
/// Below this many executed multiply-adds the work runs on the calling thread.
const PARALLEL_MIN_MACS: usize = 1 << 20;

/// Why a block-sparse matrix could not be built.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum BsrError {
    #[error("block-sparse weights have {got} values, expected K×N = {k}×{n}")]
    Shape { k: usize, n: usize, got: usize },
    #[error("block-sparse bias has {got} values, expected N = {n}")]
    Bias { n: usize, got: usize },
    #[error("block shape {block_k}×{block_n} must be at least 1×1")]
    EmptyBlock { block_k: usize, block_n: usize },
    #[error("K = {k} does not fit the kernel's 32-bit row indices")]
    TooLarge { k: usize },
    #[error("weight {index} is not finite ({value})")]
    NonFinite { index: usize, value: f32 },
}

/// One panel: up to [`NR`] live output columns and the K rows that touch them.
#[derive(Debug, Clone)]
struct Panel {
    /// Output column of each of the `width` lanes.
    cols: [u32; NR],
    width: usize,
    /// The lanes are the consecutive columns `cols[0]..cols[0] + width`.
    contiguous: bool,
    /// Range of this panel's rows in `BsrMatrix::rows` (and of its 16-wide rows in `values`).
    row_start: usize,
    row_len: usize,
}

/// A K×N weight matrix in block-sparse storage (see the module docs).
#[derive(Debug, Clone)]
pub struct BsrMatrix {
    k: usize,
    n: usize,
    block_k: usize,
    block_n: usize,
    block_mask: Vec<bool>,
    panels: Vec<Panel>,
    /// Row indices of all panels, concatenated.
    rows: Vec<u32>,
    /// `rows.len() × NR` weights, panel by panel.
    values: Vec<f32>,
    /// Output columns with no non-zero weight (written as 0).
    dead_cols: Vec<u32>,
}

impl BsrMatrix {
    /// Build from `w` (k×n row-major, pruned blocks already zero) and the block shape.
    pub fn new(
        k: usize,
        n: usize,
        w: &[f32],
        block_k: usize,
        block_n: usize,
    ) -> Result<BsrMatrix, BsrError> {
        if w.len() != k * n {
            return Err(BsrError::Shape { k, n, got: w.len() });
        }
        if block_k == 0 || block_n == 0 {
            return Err(BsrError::EmptyBlock { block_k, block_n });
        }
        if k > u32::MAX as usize || n > u32::MAX as usize {
            return Err(BsrError::TooLarge { k: k.max(n) });
        }
        if let Some((index, &value)) = w.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(BsrError::NonFinite { index, value });
        }
        let (kb, nb) = (k.div_ceil(block_k), n.div_ceil(block_n));
        let mut block_mask = vec![false; kb * nb];
        let mut live = vec![false; n];
        for (p, row) in w.chunks_exact(n.max(1)).enumerate().take(k) {
            for (j, &v) in row.iter().enumerate() {
                if v != 0.0 {
                    block_mask[(p / block_k) * nb + j / block_n] = true;
                    live[j] = true;
                }
            }
        }
        let live_cols: Vec<u32> = (0..n as u32).filter(|&j| live[j as usize]).collect();
        let dead_cols: Vec<u32> = (0..n as u32).filter(|&j| !live[j as usize]).collect();
        let mut panels = Vec::with_capacity(live_cols.len().div_ceil(NR));
        let mut rows = Vec::new();
        let mut values = Vec::new();
        for lanes in live_cols.chunks(NR) {
            let mut cols = [0u32; NR];
            cols[..lanes.len()].copy_from_slice(lanes);
            let contiguous = lanes.windows(2).all(|p| p[1] == p[0] + 1);
            let row_start = rows.len();
            for p in 0..k {
                let src = &w[p * n..(p + 1) * n];
                if lanes.iter().any(|&j| src[j as usize] != 0.0) {
                    rows.push(p as u32);
                    let mut line = [0.0f32; NR];
                    for (l, &j) in line.iter_mut().zip(lanes) {
                        *l = src[j as usize];
                    }
                    values.extend_from_slice(&line);
                }
            }
            panels.push(Panel {
                cols,
                width: lanes.len(),
                contiguous,
                row_start,
                row_len: rows.len() - row_start,
            });
        }
        Ok(BsrMatrix {
            k,
            n,
            block_k,
            block_n,
            block_mask,
            panels,
            rows,
            values,
            dead_cols,
        })
    }

    pub fn k(&self) -> usize {
        self.k
    }

    pub fn n(&self) -> usize {
        self.n
    }

    /// `(block_k, block_n)`.
    pub fn block(&self) -> (usize, usize) {
        (self.block_k, self.block_n)
    }

    /// Per-block keep mask, row-major over ⌈K/block_k⌉ × ⌈N/block_n⌉ blocks.
    pub fn block_mask(&self) -> &[bool] {
        &self.block_mask
    }

    /// Blocks with a non-zero ÷ all blocks (1.0 for an empty matrix).
    pub fn block_density(&self) -> f64 {
        if self.block_mask.is_empty() {
            return 1.0;
        }
        self.block_mask.iter().filter(|&&b| b).count() as f64 / self.block_mask.len() as f64
    }

    /// Output columns that have at least one non-zero weight.
    pub fn live_cols(&self) -> usize {
        self.n - self.dead_cols.len()
    }

    /// K rows with a non-zero weight in at least one output column.
    pub fn live_rows(&self) -> usize {
        let mut seen = vec![false; self.k];
        for &r in &self.rows {
            seen[r as usize] = true;
        }
        seen.iter().filter(|&&s| s).count()
    }

    /// Multiply-adds one output row costs (padded panel rows × 16 lanes).
    pub fn macs_per_row(&self) -> usize {
        self.rows.len() * NR
    }

    /// Bits stored: the panels' weights (padding included) and their 32-bit row and column
    /// indices, plus the dead-column list.
    pub fn storage_bits(&self) -> f64 {
        32.0 * (self.values.len() + self.rows.len() + self.panels.len() * NR + self.dead_cols.len())
            as f64
    }
}

/// `C = A·W` with the best implementation for this CPU, multi-threaded on the current pool.
pub fn bsr_gemm(m: usize, a: &[f32], w: &BsrMatrix, c: &mut [f32]) {
    bsr_gemm_with(Isa::detect(), true, m, a, w, c)
}

/// `C = A·W` with an explicit implementation and threading choice (tests and benches).
///
/// # Panics
/// When the buffer lengths do not match `m`, `w.k()` and `w.n()`, or `isa` is not available
/// on this CPU (caller bugs, as in [`super::sgemm::sgemm_packed_with`]).
pub fn bsr_gemm_with(isa: Isa, parallel: bool, m: usize, a: &[f32], w: &BsrMatrix, c: &mut [f32]) {
    let (k, n) = (w.k, w.n);
    assert_eq!(a.len(), m * k, "A must be m×k = {m}×{k}");
    assert_eq!(c.len(), m * n, "C must be m×n = {m}×{n}");
    assert!(isa.available(), "{isa:?} is not available on this CPU");
    if m == 0 || n == 0 {
        return;
    }
    if parallel
        && m * w.macs_per_row() >= PARALLEL_MIN_MACS
        && m > ROWS_PER_TASK
        && rayon::current_num_threads() > 1
    {
        c.par_chunks_mut(ROWS_PER_TASK * n)
            .enumerate()
            .for_each(|(t, c_rows)| {
                let r0 = t * ROWS_PER_TASK;
                let rows = c_rows.len() / n;
                gemm_rows(isa, &a[r0 * k..(r0 + rows) * k], rows, w, c_rows);
            });
    } else {
        gemm_rows(isa, a, m, w, c);
    }
}

/// All of C's rows `a` (rows×k) produce, single-threaded.
fn gemm_rows(isa: Isa, a: &[f32], rows: usize, w: &BsrMatrix, c: &mut [f32]) {
    for row in c.chunks_exact_mut(w.n) {
        for &j in &w.dead_cols {
            row[j as usize] = 0.0;
        }
    }
    match isa {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `isa.available()` was asserted by the caller, so AVX2 and FMA exist.
        Isa::Avx2Fma => unsafe { avx2::tiles(a, rows, w, c) },
        _ => tiles(a, rows, w, c, portable_kernel),
    }
}

/// Row tiles × panels, with `kernel` computing one MR×16 tile and writing it to C (inlined
/// into the AVX2 caller, so the micro-kernel is not a call per tile).
#[inline(always)]
fn tiles(
    a: &[f32],
    rows: usize,
    w: &BsrMatrix,
    c: &mut [f32],
    kernel: impl Fn(usize, &[f32], usize, &Panel, &[u32], &[f32], &mut [f32]),
) {
    let (k, n) = (w.k, w.n);
    for i0 in (0..rows).step_by(MR) {
        let mr = MR.min(rows - i0);
        let a_tile = &a[i0 * k..(i0 + mr) * k];
        let c_tile = &mut c[i0 * n..(i0 + mr) * n];
        for p in &w.panels {
            let idx = &w.rows[p.row_start..p.row_start + p.row_len];
            let vals = &w.values[p.row_start * NR..(p.row_start + p.row_len) * NR];
            kernel(mr, a_tile, k, p, idx, vals, c_tile);
        }
    }
}

/// Write a computed tile's `mr` rows into C's rows `c_tile` (row length N), at the panel's
/// output columns.
#[inline(always)]
fn store_tile(tile: &[[f32; NR]; MR], p: &Panel, c_tile: &mut [f32], n: usize) {
    for (acc, out) in tile.iter().zip(c_tile.chunks_exact_mut(n)) {
        if p.contiguous {
            let j0 = p.cols[0] as usize;
            super::sgemm::store_tile_row(&mut out[j0..j0 + p.width], acc);
        } else {
            for (&j, &v) in p.cols[..p.width].iter().zip(acc) {
                out[j as usize] = v;
            }
        }
    }
}

/// The register tile in plain Rust, with the same fused multiply-add chain as the AVX2 kernel.
fn portable_kernel(
    mr: usize,
    a: &[f32],
    lda: usize,
    p: &Panel,
    idx: &[u32],
    vals: &[f32],
    c_tile: &mut [f32],
) {
    let mut tile = [[0.0f32; NR]; MR];
    for (r, acc) in tile.iter_mut().enumerate().take(mr) {
        let a_row = &a[r * lda..(r + 1) * lda];
        for (&row, wv) in idx.iter().zip(vals.chunks_exact(NR)) {
            let av = a_row[row as usize];
            for (s, &b) in acc.iter_mut().zip(wv) {
                *s = av.mul_add(b, *s);
            }
        }
    }
    store_tile(&tile, p, c_tile, c_tile.len() / mr);
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::{BsrMatrix, MR, NR, Panel};
    use crate::kernels::sgemm::TileOut;
    use crate::kernels::sgemm::avx2::write_tile;
    use std::arch::x86_64::*;

    /// [`super::tiles`] with the AVX2 micro-kernel inlined.
    ///
    /// # Safety
    /// AVX2 and FMA must be available.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn tiles(a: &[f32], rows: usize, w: &BsrMatrix, c: &mut [f32]) {
        super::tiles(a, rows, w, c, |mr, a_tile, lda, p, idx, vals, c_tile| {
            // SAFETY: AVX2 and FMA are available (this function's contract); `a_tile` holds
            // `mr` rows of `lda` = K values, every row index is < K (`BsrMatrix::new` lists rows
            // of `0..k` only), `vals` holds `idx.len() × NR` values (sliced by `tiles`), and
            // `c_tile` holds `mr` rows of N values with the panel's columns < N.
            unsafe { kernel(mr, a_tile, lda, p, idx, vals, c_tile) }
        })
    }

    /// MR×16 tile over the panel's rows: 12 accumulators, 2 weight loads, 1 index load and
    /// MR broadcasts per row. A panel of 16 consecutive columns is written straight into C
    /// ([`TileOut::C`]); any other goes through a tile and [`super::store_tile`].
    ///
    /// # Safety
    /// AVX2 and FMA must be available; `a` must hold `mr` (1..=MR) rows of stride `lda`, every
    /// value of `idx` must be < `lda`, `vals` must hold `idx.len() × NR` values, and `c_tile`
    /// must hold `mr` rows whose length exceeds every column of `p`.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn kernel(
        mr: usize,
        a: &[f32],
        lda: usize,
        p: &Panel,
        idx: &[u32],
        vals: &[f32],
        c_tile: &mut [f32],
    ) {
        debug_assert!((1..=MR).contains(&mr) && a.len() >= mr * lda);
        debug_assert!(vals.len() >= idx.len() * NR);
        debug_assert!(idx.iter().all(|&row| (row as usize) < lda));
        let mut acc = [[_mm256_setzero_ps(); 2]; MR];
        // Rows beyond mr read row 0 again (always valid) and are discarded, so the loop body has
        // no branches.
        let rp: [*const f32; MR] =
            std::array::from_fn(|r| a.as_ptr().wrapping_add(if r < mr { r * lda } else { 0 }));
        let bp = vals.as_ptr();
        for (t, &row) in idx.iter().enumerate() {
            let row = row as usize;
            // SAFETY: t < idx.len(), so t*NR+15 < vals.len(); row < lda, so rp[r]+row is inside
            // row r of A.
            unsafe {
                let b0 = _mm256_loadu_ps(bp.add(t * NR));
                let b1 = _mm256_loadu_ps(bp.add(t * NR + 8));
                for r in 0..MR {
                    let av = _mm256_broadcast_ss(&*rp[r].add(row));
                    acc[r][0] = _mm256_fmadd_ps(av, b0, acc[r][0]);
                    acc[r][1] = _mm256_fmadd_ps(av, b1, acc[r][1]);
                }
            }
        }
        let n = c_tile.len() / mr;
        let mut tile = [[0.0f32; NR]; MR];
        let full = p.contiguous && p.width == NR;
        let out = if full {
            TileOut::C {
                c: &mut c_tile[p.cols[0] as usize..],
                ldc: n,
                add: false,
            }
        } else {
            TileOut::Tile(&mut tile)
        };
        // SAFETY: AVX2 is available (contract).
        unsafe { write_tile(&acc, mr, out) };
        if !full {
            super::store_tile(&tile, p, c_tile, n);
        }
    }
}

/// The plain reference: dense `A·W` with the zeros included, each output a fused multiply-add
/// chain over all K rows in ascending order from +0 (the order [`bsr_gemm`] reproduces).
pub fn gemm_fma_reference(m: usize, k: usize, n: usize, a: &[f32], w: &[f32]) -> Vec<f32> {
    assert_eq!(a.len(), m * k, "A must be m×k");
    assert_eq!(w.len(), k * n, "W must be k×n");
    let mut c = vec![0.0f32; m * n];
    for i in 0..m {
        for j in 0..n {
            let mut acc = 0.0f32;
            for p in 0..k {
                acc = a[i * k + p].mul_add(w[p * n + j], acc);
            }
            c[i * n + j] = acc;
        }
    }
    c
}

/// Zero the `fraction` of `block_k × block_n` blocks of `w` (k×n) with the smallest L1 norm
/// (ties broken by position), rounding the count down. A helper for benches and examples; the
/// pruning method (scores, allocation) lives in its own crate.
pub fn prune_blocks_l1(
    k: usize,
    n: usize,
    w: &mut [f32],
    block_k: usize,
    block_n: usize,
    fraction: f64,
) {
    assert_eq!(w.len(), k * n, "W must be k×n");
    assert!(block_k > 0 && block_n > 0, "empty block");
    let (kb, nb) = (k.div_ceil(block_k), n.div_ceil(block_n));
    let mut norms = vec![0.0f64; kb * nb];
    for p in 0..k {
        for j in 0..n {
            norms[(p / block_k) * nb + j / block_n] += w[p * n + j].abs() as f64;
        }
    }
    let mut order: Vec<usize> = (0..kb * nb).collect();
    order.sort_by(|&x, &y| norms[x].total_cmp(&norms[y]).then(x.cmp(&y)));
    let drop = ((kb * nb) as f64 * fraction.clamp(0.0, 1.0)).floor() as usize;
    let mut pruned = vec![false; kb * nb];
    for &b in &order[..drop] {
        pruned[b] = true;
    }
    for p in 0..k {
        for j in 0..n {
            if pruned[(p / block_k) * nb + j / block_n] {
                w[p * n + j] = 0.0;
            }
        }
    }
}
