//! Packed binary GEMM (XNOR-Net / BNN): ±1 activations × ±1 weights by xor + popcount.
//!
//! With bit 1 ↔ +1 and bit 0 ↔ −1, `Σ_k a_k·w_k = K − 2·popcount(a ⊕ w)`. Rows of A and columns
//! of W are packed 64 values per `u64`; padding bits are 0 in both, so their xor is 0 and they do
//! not count.
//!
//! # AVX2 path
//! Four columns' words sit in one 256-bit vector, the row's word is broadcast, and popcount is
//! the nibble look-up of Muła et al. ("Faster population counts using AVX2 instructions",
//! 2016): one `_mm256_shuffle_epi8` per nibble. Both operands are stored pre-split into nibble
//! planes (`w & 0x0f..`, `(w >> 4) & 0x0f..`) because `(a ⊕ w)`'s nibbles are the xor of the
//! nibbles: the shift and masks then run once per packed word instead of once per (row,
//! column) pair, 6 instead of 8 vector ops per 256 MACs. Byte counts are summed in u8 for up
//! to 31 words (each word adds ≤ 8 per byte) and then folded per 64-bit lane with
//! `_mm256_sad_epu8`, which yields each column's count directly, with no horizontal reduction.
//! The portable path uses `u64::count_ones` on the plain words.

use rayon::prelude::*;

use super::int8::Isa;

/// Rows per micro-kernel tile.
pub const MR: usize = 4;
/// Columns per packed panel (two vectors of four u64 lanes).
pub const NR: usize = 8;
/// Words (of 64 values) that u8 byte counters can sum before folding: 31 · 8 = 248 ≤ 255.
const FOLD_WORDS: usize = 31;

/// Words per packed row of `k` values.
pub fn words(k: usize) -> usize {
    k.div_ceil(64)
}

/// Pack `m` rows of `k` signs (bit set ⇔ value ≥ `threshold`) into `words(k)` u64 per row.
pub fn pack_rows(x: &[f32], m: usize, k: usize, threshold: f32) -> Vec<u64> {
    assert_eq!(x.len(), m * k);
    let kw = words(k);
    let mut out = vec![0u64; m * kw];
    for (row, dst) in x
        .chunks_exact(k.max(1))
        .zip(out.chunks_exact_mut(kw.max(1)))
    {
        pack_row_into(row, threshold, dst);
    }
    out
}

/// Pack one row into `dst` (`words(row.len())` words).
pub fn pack_row_into(row: &[f32], threshold: f32, dst: &mut [u64]) {
    #[cfg(target_arch = "x86_64")]
    if Isa::detect() == Isa::Avx2 {
        // SAFETY: AVX2 detected.
        unsafe { avx2::pack_row(row, threshold, dst) };
        return;
    }
    pack_row_portable(row, threshold, dst);
}

/// The portable bit packer (also the tests' reference for the AVX2 one).
pub fn pack_row_portable(row: &[f32], threshold: f32, dst: &mut [u64]) {
    for (w, chunk) in dst.iter_mut().zip(row.chunks(64)) {
        let mut bits = 0u64;
        for (b, &v) in chunk.iter().enumerate() {
            bits |= ((v >= threshold) as u64) << b;
        }
        *w = bits;
    }
}

/// Binary weights packed in panels of [`NR`] columns: per word index, `NR` consecutive u64.
#[derive(Debug, Clone, PartialEq)]
pub struct PackedBits {
    pub k: usize,
    pub n: usize,
    pub kw: usize,
    pub panels: usize,
    data: Vec<u64>,
    /// Low and high nibble planes of `data`, same layout (AVX2 path).
    lo: Vec<u64>,
    hi: Vec<u64>,
}

const NIBBLES: u64 = 0x0f0f_0f0f_0f0f_0f0f;

/// Split packed words into low and high nibble planes (see the module docs).
pub fn nibble_planes(words: &[u64]) -> (Vec<u64>, Vec<u64>) {
    (
        words.iter().map(|w| w & NIBBLES).collect(),
        words.iter().map(|w| (w >> 4) & NIBBLES).collect(),
    )
}

impl PackedBits {
    /// Pack the signs of `w` (`k × n`, row-major; bit set ⇔ w ≥ 0).
    pub fn pack(w: &[f32], k: usize, n: usize) -> PackedBits {
        assert_eq!(w.len(), k * n);
        let kw = words(k);
        let panels = n.div_ceil(NR);
        let mut data = vec![0u64; panels * kw * NR];
        for r in 0..k {
            for j in 0..n {
                if w[r * n + j] >= 0.0 {
                    let (p, c) = (j / NR, j % NR);
                    data[(p * kw + r / 64) * NR + c] |= 1u64 << (r % 64);
                }
            }
        }
        let (lo, hi) = nibble_planes(&data);
        PackedBits {
            k,
            n,
            kw,
            panels,
            data,
            lo,
            hi,
        }
    }

    fn panel(v: &[u64], kw: usize, p: usize) -> &[u64] {
        &v[p * kw * NR..(p + 1) * kw * NR]
    }

    /// Bytes of the packed weights as deployed (one bit per weight, padded).
    pub fn bytes(&self) -> usize {
        self.data.len() * 8
    }
}

/// Reference: `C[i][j] = Σ_k sign(a)·sign(w)` on unpacked ±1 values.
pub fn gemm_reference(
    a: &[f32],
    m: usize,
    k: usize,
    threshold: f32,
    w: &[f32],
    n: usize,
) -> Vec<i32> {
    let s = |x: f32, t: f32| if x >= t { 1 } else { -1 };
    let mut c = vec![0i32; m * n];
    for i in 0..m {
        for j in 0..n {
            c[i * n + j] = (0..k)
                .map(|r| s(a[i * k + r], threshold) * s(w[r * n + j], 0.0))
                .sum();
        }
    }
    c
}

/// The binary GEMM with an epilogue, like [`super::int8::gemm`]: `epilogue(i, j0, dots,
/// out_row)` receives the exact ±1 dot products of columns `j0 ..`.
pub fn gemm<T: Send, F>(a: &[u64], m: usize, b: &PackedBits, isa: Isa, out: &mut [T], epilogue: F)
where
    F: Fn(usize, usize, &[i32], &mut [T]) + Sync,
{
    let (n, kw) = (b.n, b.kw);
    assert_eq!(a.len(), m * kw, "A must be m × words(k)");
    assert_eq!(out.len(), m * n);
    if m == 0 || n == 0 {
        return;
    }
    let isa = Isa::or_portable(isa);
    let rows_per_task = super::int8::rows_per_task(m, b.k * n / 8);
    out.par_chunks_mut(rows_per_task * n)
        .enumerate()
        .for_each(|(task, out_rows)| {
            let row0 = task * rows_per_task;
            let rows = out_rows.len() / n;
            let mut dots = [[0i32; NR]; MR];
            // This task's rows of A as nibble planes (AVX2) or plain words (portable).
            let a_rows = &a[row0 * kw..(row0 + rows) * kw];
            let (a_lo, a_hi) = if isa == Isa::Avx2 {
                nibble_planes(a_rows)
            } else {
                (Vec::new(), Vec::new())
            };
            for p in 0..b.panels {
                let j0 = p * NR;
                let nc = NR.min(n - j0);
                let mut i = 0;
                while i < rows {
                    let r = MR.min(rows - i);
                    let tile = i * kw..(i + r) * kw;
                    let ops = match isa {
                        Isa::Avx2 => Operands::Nibbles(
                            &a_lo[tile.clone()],
                            &a_hi[tile],
                            PackedBits::panel(&b.lo, kw, p),
                            PackedBits::panel(&b.hi, kw, p),
                        ),
                        Isa::Portable => {
                            Operands::Words(&a_rows[tile], PackedBits::panel(&b.data, kw, p))
                        }
                    };
                    micro(ops, b.k, kw, r, &mut dots);
                    for (ii, d) in dots.iter().take(r).enumerate() {
                        let row = i + ii;
                        epilogue(
                            row0 + row,
                            j0,
                            &d[..nc],
                            &mut out_rows[row * n..(row + 1) * n],
                        );
                    }
                    i += r;
                }
            }
        });
}

/// Plain i32 output.
pub fn gemm_i32(a: &[u64], m: usize, b: &PackedBits, isa: Isa) -> Vec<i32> {
    let mut c = vec![0i32; m * b.n];
    gemm(a, m, b, isa, &mut c, |_, j0, d, row| {
        row[j0..j0 + d.len()].copy_from_slice(d)
    });
    c
}

/// A tile's operands: nibble planes for AVX2 (A lo, A hi, W lo, W hi), plain words otherwise.
enum Operands<'a> {
    Nibbles(&'a [u64], &'a [u64], &'a [u64], &'a [u64]),
    Words(&'a [u64], &'a [u64]),
}

/// Dot products `k − 2·popcount` of `r` rows × 8 columns into `dots`.
fn micro(ops: Operands, k: usize, kw: usize, r: usize, dots: &mut [[i32; NR]; MR]) {
    assert!(r <= MR);
    match ops {
        #[cfg(target_arch = "x86_64")]
        Operands::Nibbles(alo, ahi, wlo, whi) => {
            assert!(
                alo.len() >= r * kw
                    && ahi.len() >= r * kw
                    && wlo.len() >= kw * NR
                    && whi.len() >= kw * NR
            );
            assert!(Isa::detect() == Isa::Avx2);
            // SAFETY: AVX2 confirmed; bounds asserted above.
            unsafe {
                let (alo, ahi, wlo, whi) = (alo.as_ptr(), ahi.as_ptr(), wlo.as_ptr(), whi.as_ptr());
                match r {
                    1 => avx2::kernel::<1>(alo, ahi, k, kw, wlo, whi, dots),
                    2 => avx2::kernel::<2>(alo, ahi, k, kw, wlo, whi, dots),
                    3 => avx2::kernel::<3>(alo, ahi, k, kw, wlo, whi, dots),
                    _ => avx2::kernel::<4>(alo, ahi, k, kw, wlo, whi, dots),
                }
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        Operands::Nibbles(..) => unreachable!("nibble planes are only built for AVX2"),
        Operands::Words(a, panel) => {
            assert!(a.len() >= r * kw && panel.len() >= kw * NR);
            for ii in 0..r {
                let mut counts = [0u32; NR];
                let row = &a[ii * kw..(ii + 1) * kw];
                for (wi, &aw) in row.iter().enumerate() {
                    let blk = &panel[wi * NR..(wi + 1) * NR];
                    for c in 0..NR {
                        counts[c] += (aw ^ blk[c]).count_ones();
                    }
                }
                for c in 0..NR {
                    dots[ii][c] = k as i32 - 2 * counts[c] as i32;
                }
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::{FOLD_WORDS, MR, NR};
    use std::arch::x86_64::*;

    /// Signs of 8 floats per `_mm256_cmp_ps` + `_mm256_movemask_ps` (bit i ⇔ lane i ≥ t).
    ///
    /// # Safety
    /// AVX2 available.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn pack_row(row: &[f32], t: f32, dst: &mut [u64]) {
        let tv = _mm256_set1_ps(t);
        for (w, chunk) in dst.iter_mut().zip(row.chunks(64)) {
            let mut bits = 0u64;
            let full = chunk.len() / 8;
            for g in 0..full {
                // SAFETY: 8 floats at g·8 are inside `chunk`.
                let v = unsafe { _mm256_loadu_ps(chunk.as_ptr().add(g * 8)) };
                let m = _mm256_movemask_ps(_mm256_cmp_ps::<_CMP_GE_OQ>(v, tv)) as u32 as u64;
                bits |= m << (g * 8);
            }
            for (b, &v) in chunk.iter().enumerate().skip(full * 8) {
                bits |= ((v >= t) as u64) << b;
            }
            *w = bits;
        }
    }

    /// Popcounts of `R` rows × 8 columns from nibble planes.
    ///
    /// # Safety
    /// AVX2 available; `alo`/`ahi` hold `R·kw` words; `wlo`/`whi` hold `kw·8` words.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn kernel<const R: usize>(
        alo: *const u64,
        ahi: *const u64,
        k: usize,
        kw: usize,
        wlo: *const u64,
        whi: *const u64,
        dots: &mut [[i32; NR]; MR],
    ) {
        let lut = _mm256_setr_epi8(
            0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2,
            3, 3, 4,
        );
        let zero = _mm256_setzero_si256();
        let mut acc64 = [[zero; 2]; R];
        let mut w = 0;
        while w < kw {
            let end = (w + FOLD_WORDS).min(kw);
            let mut acc8 = [[zero; 2]; R];
            for wi in w..end {
                // SAFETY: in bounds by the caller's contract.
                let (l0, l1, h0, h1) = unsafe {
                    let pl = wlo.add(wi * NR) as *const __m256i;
                    let ph = whi.add(wi * NR) as *const __m256i;
                    (
                        _mm256_loadu_si256(pl),
                        _mm256_loadu_si256(pl.add(1)),
                        _mm256_loadu_si256(ph),
                        _mm256_loadu_si256(ph.add(1)),
                    )
                };
                for r in 0..R {
                    let al = _mm256_set1_epi64x(unsafe { *alo.add(r * kw + wi) } as i64);
                    let ah = _mm256_set1_epi64x(unsafe { *ahi.add(r * kw + wi) } as i64);
                    let c0 = _mm256_add_epi8(
                        _mm256_shuffle_epi8(lut, _mm256_xor_si256(al, l0)),
                        _mm256_shuffle_epi8(lut, _mm256_xor_si256(ah, h0)),
                    );
                    let c1 = _mm256_add_epi8(
                        _mm256_shuffle_epi8(lut, _mm256_xor_si256(al, l1)),
                        _mm256_shuffle_epi8(lut, _mm256_xor_si256(ah, h1)),
                    );
                    acc8[r][0] = _mm256_add_epi8(acc8[r][0], c0);
                    acc8[r][1] = _mm256_add_epi8(acc8[r][1], c1);
                }
            }
            for r in 0..R {
                acc64[r][0] = _mm256_add_epi64(acc64[r][0], _mm256_sad_epu8(acc8[r][0], zero));
                acc64[r][1] = _mm256_add_epi64(acc64[r][1], _mm256_sad_epu8(acc8[r][1], zero));
            }
            w = end;
        }
        // Gather the low i32 of each u64 lane (counts < 2^32) into one vector of 8 columns and
        // store it whole: the epilogue's vector loads then forward from this store (8 scalar
        // stores read back as one vector stalled store forwarding: half the time in a profile).
        let pick = _mm256_setr_epi32(0, 2, 4, 6, 0, 2, 4, 6);
        let kv = _mm256_set1_epi32(k as i32);
        for r in 0..R {
            let lo = _mm256_permutevar8x32_epi32(acc64[r][0], pick);
            let hi = _mm256_permutevar8x32_epi32(acc64[r][1], pick);
            let counts = _mm256_permute2x128_si256(lo, hi, 0x20);
            let d = _mm256_sub_epi32(kv, _mm256_slli_epi32(counts, 1));
            // SAFETY: dots[r] holds 8 i32.
            unsafe { _mm256_storeu_si256(dots[r].as_mut_ptr() as *mut __m256i, d) };
        }
        debug_assert!(R <= MR);
    }
}
