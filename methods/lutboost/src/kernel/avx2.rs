//! AVX2 encode and look-up-accumulate (x86-64, runtime-detected; every entry point falls back
//! to [`super::reference`] / the portable encoder when AVX2 (and FMA, for encoding) is
//! missing).
//!
//! Encode: one register holds coordinate d of 8 centroids (`Encoder::cols` is `[s][d][cpad]`),
//! so a sub-vector's c distances are v broadcast-and-accumulate steps over c/8 registers, then a
//! horizontal min, a compare and a `tzcnt` for the first minimal lane.
//!
//! Look-up (int8 tables, c ≤ 32), in the spirit of MADDNESS/Bolt and T-MAC: the 16 entries of
//! one (subspace, column) table fill a 128-bit lane, broadcast to both lanes; the codes of 32
//! rows for that subspace are one 256-bit load; `_mm256_shuffle_epi8` returns the 32 looked-up
//! partial sums. Entries are stored excess-128 (unsigned bytes), and each result register is
//! added twice into u16 lanes: once whole (lane = even-row byte + 256 · odd-row byte, wrapping)
//! and once shifted right by 8 (the odd-row byte). Every 256 subspaces both sums are flushed to
//! i32: odd = the shifted sum, even = whole − 256 · odd (mod 2¹⁶, exact because a sum of 256
//! bytes is ≤ 65280), minus 128 per subspace. That is one shift and two adds per 32 look-ups
//! (sign-extending would need three shifts), and the result is the reference's exact integer
//! sum. For 17 ≤ c ≤ 32 two shuffles (entries
//! 0–15 and 16–31) are blended on bit 4 of the code. Unlike MADDNESS we do not average
//! (`vpavgb`) to stay in 8 bits: that would make the result approximate.

use crate::encode::{Codes, Encoder, ROW_BLOCK};
use crate::table::{LutTable, NQ, TableData, shuffle_lanes};

use super::reference;

/// Encode one row into its row block (`block[s · 32 + r]`).
pub fn encode_row(enc: &Encoder, xr: &[f32], block: &mut [u8], r: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            use crate::metric::VqMetric::*;
            let nr = enc.cpad / 8;
            // SAFETY: AVX2 and FMA are available (checked above); slices are indexed within
            // bounds established by `Encoder::new` (cols: nc·v·cpad, init: nc·cpad) and by the
            // caller (xr: nc·v, block: nc·32, r < 32).
            unsafe {
                match (enc.metric, nr) {
                    (L2, 1) => return x86::encode_row::<0, 1>(enc, xr, block, r),
                    (L2, 2) => return x86::encode_row::<0, 2>(enc, xr, block, r),
                    (L2, 3) => return x86::encode_row::<0, 3>(enc, xr, block, r),
                    (L2, 4) => return x86::encode_row::<0, 4>(enc, xr, block, r),
                    (L1, 1) => return x86::encode_row::<1, 1>(enc, xr, block, r),
                    (L1, 2) => return x86::encode_row::<1, 2>(enc, xr, block, r),
                    (L1, 3) => return x86::encode_row::<1, 3>(enc, xr, block, r),
                    (L1, 4) => return x86::encode_row::<1, 4>(enc, xr, block, r),
                    (Chebyshev, 1) => return x86::encode_row::<2, 1>(enc, xr, block, r),
                    (Chebyshev, 2) => return x86::encode_row::<2, 2>(enc, xr, block, r),
                    (Chebyshev, 3) => return x86::encode_row::<2, 3>(enc, xr, block, r),
                    (Chebyshev, 4) => return x86::encode_row::<2, 4>(enc, xr, block, r),
                    _ => {}
                }
            }
        }
    }
    crate::encode::encode_row_portable(enc, xr, block, r)
}

/// Look-up-accumulate with AVX2: shuffles for int8 tables with c ≤ 32, the reference loops
/// compiled for AVX2 otherwise. `parallel`: as in [`reference::accumulate`].
pub fn accumulate(
    t: &LutTable,
    bias: Option<&[f32]>,
    codes: &Codes,
    out: &mut [f32],
    parallel: bool,
) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx2") {
            if let (TableData::I8 { shuf, scale, .. }, Some(lanes)) = (&t.data, shuffle_lanes(t.c))
            {
                // SAFETY: AVX2 checked; `shuf` has the layout `shuffle_layout` builds for
                // (nc, c, n), and `out` is codes.m × n (asserted by the caller).
                unsafe {
                    x86::accumulate_i8(shuf, lanes, scale, bias, codes, t.nc, t.n, out, parallel)
                };
            } else {
                // SAFETY: AVX2 checked.
                unsafe { x86::accumulate_rows(t, bias, codes, out, parallel) };
            }
            return;
        }
    }
    reference::accumulate(t, bias, codes, out, parallel)
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    use rayon::prelude::*;

    use super::*;

    /// `M`: 0 = L2, 1 = L1, 2 = Chebyshev. `NR`: registers of 8 centroids (cpad / 8).
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn encode_row<const M: u8, const NR: usize>(
        enc: &Encoder,
        xr: &[f32],
        block: &mut [u8],
        r: usize,
    ) {
        let (v, cpad) = (enc.v, enc.cpad);
        debug_assert_eq!(cpad, NR * 8);
        let sign = _mm256_set1_ps(-0.0);
        let cols = enc.cols.as_ptr();
        let init = enc.init.as_ptr();
        for s in 0..enc.nc {
            let mut acc = [_mm256_setzero_ps(); NR];
            for (i, a) in acc.iter_mut().enumerate() {
                // SAFETY: init has nc·cpad floats; s·cpad + i·8 + 8 ≤ (s+1)·cpad.
                *a = unsafe { _mm256_loadu_ps(init.add(s * cpad + i * 8)) };
            }
            for d in 0..v {
                let xb = _mm256_set1_ps(xr[s * v + d]);
                let col = unsafe { cols.add((s * v + d) * cpad) };
                for (i, a) in acc.iter_mut().enumerate() {
                    // SAFETY: within the (s, d) column of cpad floats.
                    let cv = unsafe { _mm256_loadu_ps(col.add(i * 8)) };
                    *a = match M {
                        0 => _mm256_fmadd_ps(xb, cv, *a),
                        1 => _mm256_add_ps(*a, _mm256_andnot_ps(sign, _mm256_sub_ps(xb, cv))),
                        _ => _mm256_max_ps(*a, _mm256_andnot_ps(sign, _mm256_sub_ps(xb, cv))),
                    };
                }
            }
            let mut m = acc[0];
            for a in &acc[1..] {
                m = _mm256_min_ps(m, *a);
            }
            m = _mm256_min_ps(m, _mm256_permute2f128_ps::<1>(m, m));
            m = _mm256_min_ps(m, _mm256_shuffle_ps::<0b01_00_11_10>(m, m));
            m = _mm256_min_ps(m, _mm256_shuffle_ps::<0b10_11_00_01>(m, m));
            // Branchless first-minimum: one bit per lane over all registers, then tzcnt. (A
            // data-dependent early exit mispredicts about half the time and cost 2× here.)
            let mut bits = 0u32;
            for (i, a) in acc.iter().enumerate() {
                bits |= (_mm256_movemask_ps(_mm256_cmp_ps::<_CMP_EQ_OQ>(*a, m)) as u32) << (8 * i);
            }
            let idx = bits.trailing_zeros();
            block[s * ROW_BLOCK + r] = idx as u8;
        }
    }

    /// Row-major look-up for the tables the shuffle kernel does not take (f32, int16, and
    /// int8 with c > 32): per row, each group of up to 64 output columns is summed in registers
    /// over all subspaces, then dequantized and stored once. The sums run in the reference's
    /// order (subspace 0 first, from 0), so the result is the reference's bit for bit.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn accumulate_rows(
        t: &LutTable,
        bias: Option<&[f32]>,
        codes: &Codes,
        out: &mut [f32],
        parallel: bool,
    ) {
        let n = t.n;
        if n == 0 {
            return;
        }
        reference::row_tasks(out, n, parallel, |r0, rows| {
            for (i, o) in rows.chunks_exact_mut(n).enumerate() {
                let r = r0 + i;
                // Row r's code for subspace s is at `row_codes + 32 · s`.
                let row_codes = unsafe {
                    codes
                        .data
                        .as_ptr()
                        .add((r / ROW_BLOCK) * t.nc * ROW_BLOCK + r % ROW_BLOCK)
                };
                // SAFETY: AVX2 was checked by the caller; codes hold nc entries for row r, and
                // each is < c, so every table row read is inside the table.
                unsafe {
                    match &t.data {
                        TableData::F32(tab) => row_f32(tab, t.nc, t.c, row_codes, bias, o),
                        TableData::I16 { q, scale } => {
                            row_int::<i16>(q, scale, t.nc, t.c, row_codes, bias, o)
                        }
                        TableData::I8 { q, scale, .. } => {
                            row_int::<i8>(q, scale, t.nc, t.c, row_codes, bias, o)
                        }
                    }
                }
            }
        });
    }

    /// Output columns summed in registers at once (8 registers of 8).
    const COLS: usize = 64;

    /// One row from f32 tables: `o = Σ_s T[s][code_s] (+ bias)`.
    #[target_feature(enable = "avx2")]
    unsafe fn row_f32(
        tab: &[f32],
        nc: usize,
        c: usize,
        row_codes: *const u8,
        bias: Option<&[f32]>,
        o: &mut [f32],
    ) {
        let n = o.len();
        let mut col = 0;
        while col + 8 <= n {
            let regs = ((n - col) / 8).min(COLS / 8);
            let mut acc = [_mm256_setzero_ps(); COLS / 8];
            for s in 0..nc {
                let j = unsafe { *row_codes.add(s * ROW_BLOCK) } as usize;
                let tr = tab[(s * c + j) * n + col..].as_ptr();
                for (q, a) in acc.iter_mut().enumerate().take(regs) {
                    // SAFETY: col + 8q + 8 ≤ n within table row (s, j).
                    *a = _mm256_add_ps(*a, unsafe { _mm256_loadu_ps(tr.add(8 * q)) });
                }
            }
            for (q, a) in acc.iter().enumerate().take(regs) {
                let b = bias.map_or(_mm256_setzero_ps(), |b| unsafe {
                    _mm256_loadu_ps(b[col + 8 * q..].as_ptr())
                });
                unsafe { _mm256_storeu_ps(o[col + 8 * q..].as_mut_ptr(), _mm256_add_ps(*a, b)) };
            }
            col += 8 * regs;
        }
        for (idx, a) in o.iter_mut().enumerate().skip(col) {
            let mut sum = 0.0f32;
            for s in 0..nc {
                let j = unsafe { *row_codes.add(s * ROW_BLOCK) } as usize;
                sum += tab[(s * c + j) * n + idx];
            }
            *a = sum + bias.map_or(0.0, |b| b[idx]);
        }
    }

    /// An integer table entry type, widened 8 at a time to i32 lanes.
    trait Entry: Copy + Into<i32> {
        /// # Safety
        /// AVX2; 8 entries readable at `p`.
        unsafe fn load8(p: *const Self) -> __m256i;
    }
    impl Entry for i8 {
        #[inline(always)]
        unsafe fn load8(p: *const i8) -> __m256i {
            unsafe { _mm256_cvtepi8_epi32(_mm_loadl_epi64(p as *const __m128i)) }
        }
    }
    impl Entry for i16 {
        #[inline(always)]
        unsafe fn load8(p: *const i16) -> __m256i {
            unsafe { _mm256_cvtepi16_epi32(_mm_loadu_si128(p as *const __m128i)) }
        }
    }

    /// One row from integer tables: exact i32 sums, then `sum · scale + bias` (a separate
    /// multiply and add, as [`reference::dequantize`]).
    #[target_feature(enable = "avx2")]
    unsafe fn row_int<T: Entry>(
        tab: &[T],
        scale: &[f32],
        nc: usize,
        c: usize,
        row_codes: *const u8,
        bias: Option<&[f32]>,
        o: &mut [f32],
    ) {
        let n = o.len();
        let mut col = 0;
        while col + 8 <= n {
            let regs = ((n - col) / 8).min(COLS / 8);
            let mut acc = [_mm256_setzero_si256(); COLS / 8];
            for s in 0..nc {
                let j = unsafe { *row_codes.add(s * ROW_BLOCK) } as usize;
                let tr = tab[(s * c + j) * n + col..].as_ptr();
                for (q, a) in acc.iter_mut().enumerate().take(regs) {
                    // SAFETY: col + 8q + 8 ≤ n within table row (s, j).
                    *a = _mm256_add_epi32(*a, unsafe { T::load8(tr.add(8 * q)) });
                }
            }
            for (q, a) in acc.iter().enumerate().take(regs) {
                let at = col + 8 * q;
                let sc = unsafe { _mm256_loadu_ps(scale[at..].as_ptr()) };
                let b = bias.map_or(_mm256_setzero_ps(), |b| unsafe {
                    _mm256_loadu_ps(b[at..].as_ptr())
                });
                let v = _mm256_add_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(*a), sc), b);
                unsafe { _mm256_storeu_ps(o[at..].as_mut_ptr(), v) };
            }
            col += 8 * regs;
        }
        for (idx, a) in o.iter_mut().enumerate().skip(col) {
            let mut sum = 0i32;
            for s in 0..nc {
                let j = unsafe { *row_codes.add(s * ROW_BLOCK) } as usize;
                sum += tab[(s * c + j) * n + idx].into();
            }
            *a = sum as f32 * scale[idx] + bias.map_or(0.0, |b| b[idx]);
        }
    }

    /// Raw output pointer shared by tasks that write disjoint (row, column) tiles.
    #[derive(Clone, Copy)]
    struct OutPtr(*mut f32);
    // SAFETY: tasks write disjoint elements (distinct row blocks × column groups).
    unsafe impl Send for OutPtr {}
    unsafe impl Sync for OutPtr {}

    /// Row blocks (of 32) and column groups (of NQ) per parallel task.
    const TASK_BLOCKS: usize = 4;
    const TASK_QUADS: usize = 16;
    /// Subspaces summed in u16 lanes before a flush to i32: 256 · 255 = 65280 ≤ u16::MAX.
    const FLUSH: usize = 256;

    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn accumulate_i8(
        shuf: &[u8],
        lanes: usize,
        scale: &[f32],
        bias: Option<&[f32]>,
        codes: &Codes,
        nc: usize,
        n: usize,
        out: &mut [f32],
        parallel: bool,
    ) {
        let nblocks = codes.blocks();
        let nquads = n.div_ceil(NQ);
        assert_eq!(shuf.len(), nquads * nc * NQ * lanes);
        assert_eq!(out.len(), codes.m * n);
        let tasks: Vec<(usize, usize)> = (0..nblocks.div_ceil(TASK_BLOCKS))
            .flat_map(|rb| (0..nquads.div_ceil(TASK_QUADS)).map(move |qg| (rb, qg)))
            .collect();
        let optr = OutPtr(out.as_mut_ptr());
        let run = move |&(rb, qg): &(usize, usize)| {
            let optr = optr;
            let b0 = rb * TASK_BLOCKS;
            let b1 = (b0 + TASK_BLOCKS).min(nblocks);
            let g0 = qg * TASK_QUADS;
            let g1 = (g0 + TASK_QUADS).min(nquads);
            // SAFETY: AVX2 was checked by the caller; this task's tiles are disjoint from others'.
            unsafe {
                if lanes == 16 {
                    tile::<16>(shuf, scale, bias, codes, nc, n, (b0, b1), (g0, g1), optr.0)
                } else {
                    tile::<32>(shuf, scale, bias, codes, nc, n, (b0, b1), (g0, g1), optr.0)
                }
            }
        };
        // Small products (a single image) stay on this thread, like the dense GEMM's.
        if !parallel || codes.m * nc * n < PARALLEL_MIN_LOOKUPS {
            tasks.iter().for_each(run);
        } else {
            tasks.par_iter().for_each(run);
        }
    }

    /// Look-ups (rows · subspaces · columns) below which accumulation runs on this thread.
    const PARALLEL_MIN_LOOKUPS: usize = 1 << 20;

    #[target_feature(enable = "avx2")]
    unsafe fn tile<const LANES: usize>(
        shuf: &[u8],
        scale: &[f32],
        bias: Option<&[f32]>,
        codes: &Codes,
        nc: usize,
        n: usize,
        (b0, b1): (usize, usize),
        (g0, g1): (usize, usize),
        out: *mut f32,
    ) {
        const { assert!(NQ == 4, "the epilogue transposes 8 rows × 4 columns") };
        let m = codes.m;
        for g in g0..g1 {
            let tab = unsafe { shuf.as_ptr().add(g * nc * NQ * LANES) };
            let col0 = g * NQ;
            // Per column: scale and bias broadcast (zero past n; those lanes are never stored).
            let (sc, bb): ([__m256; NQ], [__m256; NQ]) = (
                std::array::from_fn(|q| {
                    _mm256_set1_ps(if col0 + q < n { scale[col0 + q] } else { 0.0 })
                }),
                std::array::from_fn(|q| {
                    let b = bias.map_or(0.0, |b| if col0 + q < n { b[col0 + q] } else { 0.0 });
                    _mm256_set1_ps(b)
                }),
            );
            for b in b0..b1 {
                let cb = unsafe { codes.data.as_ptr().add(b * nc * ROW_BLOCK) };
                // acc32[q][i]: column q's exact sums for rows 8i .. 8i + 8 of this block.
                let mut acc32 = [[_mm256_setzero_si256(); 4]; NQ];
                let mut s0 = 0;
                while s0 < nc {
                    let s1 = (s0 + FLUSH).min(nc);
                    // acc[q][0]: whole registers (wrapping u16); acc[q][1]: odd-row bytes.
                    let mut acc = [[_mm256_setzero_si256(); 2]; NQ];
                    for s in s0..s1 {
                        // SAFETY: codes block b holds nc · 32 bytes; tab holds nc · NQ · LANES.
                        let cv =
                            unsafe { _mm256_loadu_si256(cb.add(s * ROW_BLOCK) as *const __m256i) };
                        let hi = _mm256_slli_epi16::<3>(cv);
                        for (q, a) in acc.iter_mut().enumerate() {
                            let tp = unsafe { tab.add((s * NQ + q) * LANES) };
                            let lo_t = _mm256_broadcastsi128_si256(unsafe {
                                _mm_loadu_si128(tp as *const __m128i)
                            });
                            let mut r = _mm256_shuffle_epi8(lo_t, cv);
                            if LANES == 32 {
                                let hi_t = _mm256_broadcastsi128_si256(unsafe {
                                    _mm_loadu_si128(tp.add(16) as *const __m128i)
                                });
                                r = _mm256_blendv_epi8(r, _mm256_shuffle_epi8(hi_t, cv), hi);
                            }
                            a[0] = _mm256_add_epi16(a[0], r);
                            a[1] = _mm256_add_epi16(a[1], _mm256_srli_epi16::<8>(r));
                        }
                    }
                    // Flush in registers (a scalar flush cost more than the look-ups when nc is
                    // small, as in the ViT's K = 64 layers). pshufb works per 128-bit lane, so
                    // register byte i is row i and u16 lane l holds rows 2l (low byte) and
                    // 2l + 1 (high byte): even = whole − 256 · odd, then interleaving even and
                    // odd lanes puts rows 0–7 | 16–23 in `lo` and 8–15 | 24–31 in `hi`.
                    let offset = _mm256_set1_epi32(128 * (s1 - s0) as i32);
                    for (a, a32) in acc.iter().zip(acc32.iter_mut()) {
                        let even = _mm256_sub_epi16(a[0], _mm256_slli_epi16::<8>(a[1]));
                        let lo = _mm256_unpacklo_epi16(even, a[1]);
                        let hi = _mm256_unpackhi_epi16(even, a[1]);
                        let rows = [
                            _mm256_castsi256_si128(lo),
                            _mm256_castsi256_si128(hi),
                            _mm256_extracti128_si256::<1>(lo),
                            _mm256_extracti128_si256::<1>(hi),
                        ];
                        for (x, r) in a32.iter_mut().zip(rows) {
                            let v = _mm256_sub_epi32(_mm256_cvtepu16_epi32(r), offset);
                            *x = _mm256_add_epi32(*x, v);
                        }
                    }
                    s0 = s1;
                }
                // Dequantize (a separate multiply and add, as the reference) and transpose each
                // 8 rows × 4 columns to row-major stores.
                for i in 0..4 {
                    let row0 = b * ROW_BLOCK + 8 * i;
                    if row0 >= m {
                        break;
                    }
                    let f: [__m256; NQ] = std::array::from_fn(|q| {
                        _mm256_add_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(acc32[q][i]), sc[q]), bb[q])
                    });
                    let t0 = _mm256_unpacklo_ps(f[0], f[1]);
                    let t1 = _mm256_unpackhi_ps(f[0], f[1]);
                    let t2 = _mm256_unpacklo_ps(f[2], f[3]);
                    let t3 = _mm256_unpackhi_ps(f[2], f[3]);
                    // Register j holds row j (low half) and row j + 4 (high half).
                    let rj = [
                        _mm256_shuffle_ps::<0x44>(t0, t2),
                        _mm256_shuffle_ps::<0xEE>(t0, t2),
                        _mm256_shuffle_ps::<0x44>(t1, t3),
                        _mm256_shuffle_ps::<0xEE>(t1, t3),
                    ];
                    if col0 + NQ <= n && row0 + 8 <= m {
                        for (j, r) in rj.iter().enumerate() {
                            // SAFETY: rows row0 + j and row0 + j + 4 are < m, columns col0 ..
                            // col0 + 4 ≤ n; this task owns the tile.
                            unsafe {
                                let o = out.add((row0 + j) * n + col0);
                                _mm_storeu_ps(o, _mm256_castps256_ps128(*r));
                                _mm_storeu_ps(o.add(4 * n), _mm256_extractf128_ps::<1>(*r));
                            }
                        }
                        continue;
                    }
                    // An edge tile: through a buffer, storing only rows < m and columns < n.
                    let mut rows = [[0.0f32; NQ]; 8];
                    for (j, r) in rj.iter().enumerate() {
                        // SAFETY: 4-float stores into [f32; 4] arrays.
                        unsafe {
                            _mm_storeu_ps(rows[j].as_mut_ptr(), _mm256_castps256_ps128(*r));
                            _mm_storeu_ps(rows[j + 4].as_mut_ptr(), _mm256_extractf128_ps::<1>(*r));
                        }
                    }
                    let cols = NQ.min(n - col0);
                    for (j, r) in rows.iter().enumerate().take(m - row0) {
                        for (q, &v) in r.iter().enumerate().take(cols) {
                            // SAFETY: row0 + j < m and col0 + q < n; this task owns the tile.
                            unsafe { *out.add((row0 + j) * n + col0 + q) = v };
                        }
                    }
                }
            }
        }
    }
}
