//! Dense f32 GEMM: `C[m×n] = A[m×k] · B[k×n]`, all row-major, C overwritten.
//!
//! This is the dense baseline every compressed kernel is compared against (`compbench bench
//! kernels`) and the GEMM of the deployed float model. Structure (BLIS-like, kept small):
//! * B is packed once into column panels of [`NR`] = 16 columns, per K-block of [`KC`] rows,
//!   zero-padded on the right, so the micro-kernel streams it contiguously;
//! * A is read in place (row-major rows are contiguous along K, which the micro-kernel walks);
//! * the micro-kernel computes an [`MR`]×16 tile in registers (AVX2+FMA: 12 ymm accumulators)
//!   and adds into C for every K-block after the first;
//! * rayon splits the rows into blocks when the product is large enough to pay for it;
//! * a stride-1 convolution can skip im2col ([`sgemm_conv_nhwc`]): the same micro-kernel reads
//!   A's rows as windows of a zero-padded copy of the image.
//!
//! The AVX2 path is chosen at run time with `is_x86_feature_detected!`; the portable path has
//! the same blocking and per-element summation order (k ascending within a K-block, K-blocks in
//! order) but does not fuse multiply-adds, so the two differ in the last bits. Results never
//! depend on the thread count (threads split rows, not K). Tests compare both paths against a
//! naive reference with a tolerance.

use rayon::prelude::*;

/// Rows of the register tile.
pub const MR: usize = 6;
/// Columns of the register tile (two AVX2 vectors).
pub const NR: usize = 16;
/// K-block length: a packed B block of KC×N stays in L2 for the models' N ≤ 512.
pub const KC: usize = 256;
/// Rows per rayon task (a multiple of MR).
const ROWS_PER_TASK: usize = MR * 8;
/// Below this many multiply-adds the work runs on the calling thread.
const PARALLEL_MIN_MACS: usize = 1 << 20;

/// Which implementation to run; [`Isa::detect`] picks the best available.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isa {
    Portable,
    Avx2Fma,
}

impl Isa {
    pub fn detect() -> Isa {
        #[cfg(target_arch = "x86_64")]
        {
            if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                return Isa::Avx2Fma;
            }
        }
        Isa::Portable
    }

    /// Whether this implementation can run on this machine.
    pub fn available(self) -> bool {
        match self {
            Isa::Portable => true,
            Isa::Avx2Fma => Isa::detect() == Isa::Avx2Fma,
        }
    }
}

/// `C = A·B` with the best implementation for this CPU, multi-threaded on the current rayon pool.
pub fn sgemm(m: usize, k: usize, n: usize, a: &[f32], b: &[f32], c: &mut [f32]) {
    sgemm_with(Isa::detect(), true, m, k, n, a, b, c)
}

/// `C = A·B` on the calling thread only (for callers that already parallelize, e.g. per image).
pub fn sgemm_serial(m: usize, k: usize, n: usize, a: &[f32], b: &[f32], c: &mut [f32]) {
    sgemm_with(Isa::detect(), false, m, k, n, a, b, c)
}

/// B packed for [`sgemm_packed`]: reuse it when the same weights multiply many inputs (the
/// deployed model packs each layer once at construction).
#[derive(Debug, Clone)]
pub struct PackedB {
    k: usize,
    n: usize,
    panels: usize,
    data: Vec<f32>,
}

impl PackedB {
    /// Pack `b` (k×n row-major). Layout: for each K-block, for each panel, `kc × NR` values.
    pub fn new(k: usize, n: usize, b: &[f32]) -> PackedB {
        assert_eq!(b.len(), k * n, "B must be k×n");
        let panels = n.div_ceil(NR);
        let mut data = vec![0.0f32; k * panels * NR];
        let mut off = 0;
        for k0 in (0..k).step_by(KC) {
            let kc = KC.min(k - k0);
            for p in 0..panels {
                let j0 = p * NR;
                let nr = NR.min(n - j0);
                for kk in 0..kc {
                    let src = &b[(k0 + kk) * n + j0..(k0 + kk) * n + j0 + nr];
                    data[off + kk * NR..off + kk * NR + nr].copy_from_slice(src);
                }
                off += kc * NR;
            }
        }
        PackedB { k, n, panels, data }
    }

    pub fn k(&self) -> usize {
        self.k
    }

    pub fn n(&self) -> usize {
        self.n
    }

    /// The packed panel for K-block starting at `k0` (length `kc`) and panel `p`.
    fn panel(&self, k0: usize, kc: usize, p: usize) -> &[f32] {
        let start = k0 * self.panels * NR + p * kc * NR;
        &self.data[start..start + kc * NR]
    }
}

/// `C = A·B` with an explicit implementation and threading choice (tests and benches use this).
pub fn sgemm_with(
    isa: Isa,
    parallel: bool,
    m: usize,
    k: usize,
    n: usize,
    a: &[f32],
    b: &[f32],
    c: &mut [f32],
) {
    assert_eq!(b.len(), k * n, "B must be k×n");
    if m == 0 || n == 0 {
        assert_eq!(c.len(), m * n, "C must be m×n");
        return;
    }
    let packed = PackedB::new(k, n, b);
    sgemm_packed_with(isa, parallel, m, a, &packed, c);
}

/// `C = A·packed(B)`, best implementation, multi-threaded.
pub fn sgemm_packed(m: usize, a: &[f32], b: &PackedB, c: &mut [f32]) {
    sgemm_packed_with(Isa::detect(), true, m, a, b, c)
}

/// `C = A·packed(B)` with explicit choices.
pub fn sgemm_packed_with(
    isa: Isa,
    parallel: bool,
    m: usize,
    a: &[f32],
    b: &PackedB,
    c: &mut [f32],
) {
    let (k, n) = (b.k, b.n);
    assert_eq!(a.len(), m * k, "A must be m×k");
    assert_eq!(c.len(), m * n, "C must be m×n");
    assert!(isa.available(), "{isa:?} is not available on this CPU");
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        c.fill(0.0);
        return;
    }
    if parallel
        && m * k * n >= PARALLEL_MIN_MACS
        && m > ROWS_PER_TASK
        && rayon::current_num_threads() > 1
    {
        c.par_chunks_mut(ROWS_PER_TASK * n)
            .enumerate()
            .for_each(|(t, c_rows)| {
                let r0 = t * ROWS_PER_TASK;
                let rows = c_rows.len() / n;
                gemm_rows(isa, &a[r0 * k..(r0 + rows) * k], rows, b, c_rows);
            });
    } else {
        gemm_rows(isa, a, m, b, c);
    }
}

/// All of C's rows `a` (rows×k) produce, single-threaded.
fn gemm_rows(isa: Isa, a: &[f32], rows: usize, b: &PackedB, c: &mut [f32]) {
    let (k, n) = (b.k, b.n);
    for k0 in (0..k).step_by(KC) {
        let kc = KC.min(k - k0);
        let accumulate = k0 > 0;
        for i0 in (0..rows).step_by(MR) {
            let mr = MR.min(rows - i0);
            for p in 0..b.panels {
                let j0 = p * NR;
                let nr = NR.min(n - j0);
                let panel = b.panel(k0, kc, p);
                let a_tile = &a[i0 * k + k0..];
                #[cfg(target_arch = "x86_64")]
                if isa == Isa::Avx2Fma && nr == NR {
                    let out = TileOut::C {
                        c: &mut c[i0 * n + j0..],
                        ldc: n,
                        add: accumulate,
                    };
                    // SAFETY: as below; `out` holds mr rows of stride n with 16 columns each.
                    unsafe { avx2::kernel(mr, kc, a_tile, k, panel, out) };
                    continue;
                }
                let mut tile = [[0.0f32; NR]; MR];
                match isa {
                    #[cfg(target_arch = "x86_64")]
                    // SAFETY: `isa.available()` was asserted by the caller, so AVX2 and FMA exist;
                    // `a_tile` holds rows i0..i0+mr with stride k and at least kc values each, and
                    // `panel` holds kc×NR values (both checked by the slicing above).
                    Isa::Avx2Fma => unsafe {
                        avx2::kernel(mr, kc, a_tile, k, panel, TileOut::Tile(&mut tile))
                    },
                    _ => portable_kernel(mr, kc, a_tile, k, panel, &mut tile),
                }
                for (r, row) in tile.iter().enumerate().take(mr) {
                    let dst = &mut c[(i0 + r) * n + j0..(i0 + r) * n + j0 + nr];
                    if accumulate {
                        for (d, s) in dst.iter_mut().zip(row) {
                            *d += s;
                        }
                    } else {
                        store_tile_row(dst, row);
                    }
                }
            }
        }
    }
}

/// Where an AVX2 micro-kernel puts its MR×16 result.
///
/// Why C directly: the tile buffer costs 12 stores, 12 loads and 12 stores per tile, the same
/// whatever K is; with the ViT's K = 128 (and 64 rows per panel in a 50 % block-sparse GEMM) that
/// round trip was a visible share of the GEMM.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
pub(crate) enum TileOut<'a> {
    /// A tile buffer (rows beyond the kernel's `mr` are left alone).
    Tile(&'a mut [[f32; NR]; MR]),
    /// 16 consecutive columns of C: row r at `c[r·ldc .. r·ldc + 16]`; with `add`, the result
    /// is added to what is there (the same single rounding as `d += s`).
    C {
        c: &'a mut [f32],
        ldc: usize,
        add: bool,
    },
}

/// `dst = row[..dst.len()]`. A full row is a fixed-size copy (two vector moves): through
/// `copy_from_slice` every 64-byte row was a `memcpy` call, and those calls were ~10 % of the
/// deployed ViT's time.
#[inline(always)]
pub(crate) fn store_tile_row(dst: &mut [f32], row: &[f32; NR]) {
    match <&mut [f32; NR]>::try_from(&mut *dst) {
        Ok(full) => *full = *row,
        Err(_) => dst.copy_from_slice(&row[..dst.len()]),
    }
}

/// The register tile in plain Rust (the compiler vectorizes the 16-wide inner loop).
fn portable_kernel(
    mr: usize,
    kc: usize,
    a: &[f32],
    lda: usize,
    panel: &[f32],
    tile: &mut [[f32; NR]; MR],
) {
    for (r, acc) in tile.iter_mut().enumerate().take(mr) {
        let a_row = &a[r * lda..r * lda + kc];
        for (kk, &av) in a_row.iter().enumerate() {
            let bp = &panel[kk * NR..kk * NR + NR];
            for j in 0..NR {
                acc[j] += av * bp[j];
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
pub(crate) mod avx2 {
    use super::{MR, NR, TileOut};
    use std::arch::x86_64::*;

    /// 6×16 tile: 12 accumulators, 2 B loads and 6 A broadcasts per k.
    ///
    /// # Safety
    /// AVX2 and FMA must be available; `a` must hold `mr` rows of stride `lda` with `kc` values
    /// each, `panel` `kc × NR` values.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn kernel(
        mr: usize,
        kc: usize,
        a: &[f32],
        lda: usize,
        panel: &[f32],
        out: TileOut<'_>,
    ) {
        debug_assert!(panel.len() >= kc * NR);
        debug_assert!((1..=MR).contains(&mr) && a.len() >= (mr - 1) * lda + kc);
        // Rows beyond mr read row 0 again (always valid) and are discarded, so the loop body has
        // no branches.
        let rows: [*const f32; MR] =
            std::array::from_fn(|r| a.as_ptr().wrapping_add(if r < mr { r * lda } else { 0 }));
        // SAFETY: kk < kc, so rows[r] + kk stays in row r (or row 0) of `a`.
        unsafe { kernel_at(mr, kc, rows, |kk| kk, panel, out) }
    }

    /// The tile with A's element (r, kk) at `rows[r] + col(kk)`: the dense GEMM's rows
    /// (`col(kk) = kk`) or a convolution's windows read from a padded image
    /// (`col(kk)` = tap offset). Per output, the same fused multiply-add chain from +0 over
    /// kk = 0, 1, … in both.
    ///
    /// # Safety
    /// AVX2 and FMA must be available; `rows[r] + col(kk)` must be readable for every r < MR
    /// and kk < kc, and `panel` must hold `kc × NR` values.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    pub unsafe fn kernel_at(
        mr: usize,
        kc: usize,
        rows: [*const f32; MR],
        col: impl Fn(usize) -> usize,
        panel: &[f32],
        out: TileOut<'_>,
    ) {
        debug_assert!(panel.len() >= kc * NR);
        let mut acc = [[_mm256_setzero_ps(); 2]; MR];
        let bp = panel.as_ptr();
        for kk in 0..kc {
            let c = col(kk);
            // SAFETY: kk < kc, so kk*NR+15 < panel.len(); rows[r] + c is readable (contract).
            unsafe {
                let b0 = _mm256_loadu_ps(bp.add(kk * NR));
                let b1 = _mm256_loadu_ps(bp.add(kk * NR + 8));
                for r in 0..MR {
                    let av = _mm256_broadcast_ss(&*rows[r].add(c));
                    acc[r][0] = _mm256_fmadd_ps(av, b0, acc[r][0]);
                    acc[r][1] = _mm256_fmadd_ps(av, b1, acc[r][1]);
                }
            }
        }
        // SAFETY: AVX2 is available (contract).
        unsafe { write_tile(&acc, mr, out) }
    }

    /// The accumulators' first `mr` rows to `out`.
    ///
    /// # Safety
    /// AVX2 must be available. Panics when a C destination is too short for `mr` rows.
    #[target_feature(enable = "avx2")]
    #[inline]
    pub(crate) unsafe fn write_tile(acc: &[[__m256; 2]; MR], mr: usize, out: TileOut<'_>) {
        match out {
            TileOut::Tile(tile) => {
                for (acc, row) in acc.iter().zip(tile.iter_mut()).take(mr) {
                    // SAFETY: tile rows are NR = 16 floats.
                    unsafe {
                        _mm256_storeu_ps(row.as_mut_ptr(), acc[0]);
                        _mm256_storeu_ps(row.as_mut_ptr().add(8), acc[1]);
                    }
                }
            }
            TileOut::C { c, ldc, add } => {
                assert!(
                    mr >= 1 && c.len() >= (mr - 1) * ldc + NR,
                    "tile destination too short"
                );
                for (r, acc) in acc.iter().enumerate().take(mr) {
                    // SAFETY: row r < mr starts at r·ldc and has 16 values (asserted above).
                    unsafe {
                        let dst = c.as_mut_ptr().add(r * ldc);
                        let (v0, v1) = if add {
                            (
                                _mm256_add_ps(_mm256_loadu_ps(dst), acc[0]),
                                _mm256_add_ps(_mm256_loadu_ps(dst.add(8)), acc[1]),
                            )
                        } else {
                            (acc[0], acc[1])
                        };
                        _mm256_storeu_ps(dst, v0);
                        _mm256_storeu_ps(dst.add(8), v1);
                    }
                }
            }
        }
    }
}

/// A stride-1 convolution's GEMM straight from NHWC images: `c = im2col(x) · packed(B)` with
/// `(cin, kh, kw)` columns, bit for bit what [`super::im2col_nhwc`] then [`sgemm_packed`] give
/// on the AVX2 path, without writing the columns. Each image is copied once into a zero-padded
/// channel-major buffer; a tile's 6 rows are 6 horizontally adjacent output pixels, so row r's
/// tap k is at `window + r + offset(k)`. Returns false, leaving `c` alone, when it does not
/// apply (no AVX2 and FMA, a stride other than 1, or K above one K-block).
///
/// Why: im2col of the CNN's conv1 writes 9 values per output pixel for a 16-wide GEMM, and
/// those copies cost more than the multiply-adds. Runs on the calling thread (the deployed
/// graph runs chunks of images in parallel).
pub fn sgemm_conv_nhwc(
    x: &[f32],
    batch: usize,
    h: usize,
    w: usize,
    g: &crate::hooks::ConvGeom,
    b: &PackedB,
    c: &mut [f32],
) -> bool {
    let (k, n) = (b.k, b.n);
    if Isa::detect() != Isa::Avx2Fma || g.stride != 1 || k != g.k() || k > KC || k == 0 {
        return false;
    }
    let (ho, wo) = g.output_hw(h, w);
    let per_in = h * w * g.in_channels;
    assert_eq!(x.len(), batch * per_in, "input must be [batch, h, w, cin]");
    assert_eq!(c.len(), batch * ho * wo * n, "C must be [batch·Ho·Wo, N]");
    // MR spare columns keep the discarded rows of a last partial tile inside the buffer.
    let pd = super::PaddedImage::new(g, h, w, MR);
    let mut padded = vec![0.0f32; pd.buffer_len()];
    let panel = |p: usize| b.panel(0, k, p);
    for (img, c_img) in x.chunks_exact(per_in).zip(c.chunks_exact_mut(ho * wo * n)) {
        pd.fill(img, &mut padded);
        for oy in 0..ho {
            for ox0 in (0..wo).step_by(MR) {
                let mr = MR.min(wo - ox0);
                let window = padded.as_ptr().wrapping_add(oy * pd.wp + ox0);
                let rows: [*const f32; MR] = std::array::from_fn(|r| window.wrapping_add(r));
                for p in 0..b.panels {
                    let (j0, nr) = (p * NR, NR.min(n - p * NR));
                    // The tile's rows are consecutive output pixels: rows of C n apart.
                    let o = (oy * wo + ox0) * n + j0;
                    let mut tile = [[0.0f32; NR]; MR];
                    let out = if nr == NR {
                        TileOut::C {
                            c: &mut c_img[o..],
                            ldc: n,
                            add: false,
                        }
                    } else {
                        TileOut::Tile(&mut tile)
                    };
                    #[cfg(target_arch = "x86_64")]
                    // SAFETY: AVX2 and FMA are available (checked above). Row r < MR of the
                    // window reads `window + r + koff[t]` ≤ (cin−1, oy + kk − 1, ox0 + MR − 1 +
                    // kk − 1) in the padded copy: oy + kk − 1 < h + 2p, and ox0 + MR + kk − 2 <
                    // wo + MR + kk − 2 = w + 2p + MR − 1 < wp. The panel holds k × NR values.
                    unsafe {
                        avx2::kernel_at(mr, k, rows, |t| pd.koff[t], panel(p), out)
                    };
                    if nr < NR {
                        for (r, row) in tile.iter().enumerate().take(mr) {
                            let o = o + r * n;
                            store_tile_row(&mut c_img[o..o + nr], row);
                        }
                    }
                }
            }
        }
    }
    true
}

/// Naive triple loop in f64 accumulation: the reference tests compare against.
pub fn sgemm_reference(m: usize, k: usize, n: usize, a: &[f32], b: &[f32]) -> Vec<f32> {
    let mut c = vec![0.0f32; m * n];
    for i in 0..m {
        for j in 0..n {
            let mut s = 0.0f64;
            for p in 0..k {
                s += a[i * k + p] as f64 * b[p * n + j] as f64;
            }
            c[i * n + j] = s as f32;
        }
    }
    c
}
