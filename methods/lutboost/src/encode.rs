//! The encoder: each row's K inputs split into K/v sub-vectors, each replaced by the index of
//! its nearest centroid (LUT-DLA's CCM; MADDNESS's g(a), here with an exact search instead of a
//! hash tree, as in LUT-NN).
//!
//! Costs M·K·c distance terms. For L2 it is a small GEMM: dist_j = ‖c_j‖² − 2⟨x, c_j⟩ (‖x‖² is
//! shared by every centroid and dropped). L1 and Chebyshev need |x − c| per element and no
//! multiplies at all, which is the hardware argument for them (LUT-DLA §IV).
//!
//! Layout: per subspace the centroids are stored transposed, `[d][j]`, padded to a multiple of
//! 8 lanes, so one AVX2 register holds the d-th coordinate of 8 centroids and a sub-vector's
//! distances to c centroids are v broadcast-multiply-adds. Padding lanes start at +∞ so they
//! never win the argmin.
//!
//! Exactness: the portable and AVX2 paths evaluate the same expression in the same order, so
//! they produce identical codes. An L2 term is one fused multiply-add (`f32::mul_add`, FMA in
//! the AVX2 paths): it halved the encoder's instructions, and the encoder was the deployed LUT
//! CNN's largest cost (conv2: 7.9 → 6.0 ms at batch 256 on one thread). Ties go to the lowest
//! index in both.

use crate::kernel::conv::lanes_encoder;
use crate::kernel::{Isa, avx2};
use crate::metric::VqMetric;

/// Rows are encoded in blocks of this many; codes of one block and one subspace are contiguous,
/// which is what the shuffle-based look-up kernel (32 byte lanes per AVX2 register) reads.
pub const ROW_BLOCK: usize = 32;

/// Codebook `s`'s codes of a group of up to 8 rows held in a register's lanes (lane i: row
/// `row0 + i`'s code as an i32; only the first `lanes` are written) into blocked codes
/// (`[(row / 32) · nc + s] · 32 + row % 32`). The lane encoders' one way to write their codes;
/// inlined into them (called once per codebook and lane group, an out-of-line call cost 9 % of
/// the MADDNESS CNN).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
pub(crate) fn store_lane_codes(
    idx: std::arch::x86_64::__m256i,
    (row0, lanes): (usize, usize),
    nc: usize,
    s: usize,
    codes: &mut [u8],
) {
    use std::arch::x86_64::*;
    let mut lane_idx = [0i32; 8];
    // SAFETY: 8 i32 = one 256-bit store.
    unsafe { _mm256_storeu_si256(lane_idx.as_mut_ptr() as *mut __m256i, idx) };
    for (i, &j) in lane_idx.iter().take(lanes).enumerate() {
        let r = row0 + i;
        codes[((r / ROW_BLOCK) * nc + s) * ROW_BLOCK + r % ROW_BLOCK] = j as u8;
    }
}

/// Codebooks of one layer prepared for encoding.
#[derive(Debug, Clone)]
pub struct Encoder {
    pub metric: VqMetric,
    /// Subspaces (K / v).
    pub nc: usize,
    pub c: usize,
    pub v: usize,
    /// c rounded up to a multiple of 8.
    pub cpad: usize,
    /// `[s][d][cpad]`: −2·centroid for L2, the centroid for L1 / Chebyshev.
    pub cols: Vec<f32>,
    /// `[s][cpad]`: the accumulator's start value: ‖c_j‖² for L2, 0 for L1 / Chebyshev;
    /// +∞ in padding lanes.
    pub init: Vec<f32>,
}

impl Encoder {
    /// `centroids` is `[s][j][d]` (nc × c × v), row-major.
    pub fn new(metric: VqMetric, nc: usize, c: usize, v: usize, centroids: &[f32]) -> Encoder {
        assert_eq!(centroids.len(), nc * c * v, "centroids must be nc × c × v");
        assert!(
            (1..=256).contains(&c),
            "c must be in 1..=256 (codes are bytes)"
        );
        let cpad = c.div_ceil(8) * 8;
        let mut cols = vec![0.0f32; nc * v * cpad];
        let mut init = vec![f32::INFINITY; nc * cpad];
        for s in 0..nc {
            for j in 0..c {
                let cj = &centroids[(s * c + j) * v..(s * c + j + 1) * v];
                let mut norm = 0.0f32;
                for d in 0..v {
                    norm += cj[d] * cj[d];
                    cols[(s * v + d) * cpad + j] = match metric {
                        VqMetric::L2 => -2.0 * cj[d],
                        VqMetric::L1 | VqMetric::Chebyshev => cj[d],
                    };
                }
                init[s * cpad + j] = match metric {
                    VqMetric::L2 => norm,
                    VqMetric::L1 | VqMetric::Chebyshev => 0.0,
                };
            }
        }
        Encoder {
            metric,
            nc,
            c,
            v,
            cpad,
            cols,
            init,
        }
    }

    pub fn k(&self) -> usize {
        self.nc * self.v
    }
}

/// Codes of M rows, blocked: `data[(block · nc + s) · 32 + r]` is the code of row
/// `block · 32 + r` in subspace `s`. Rows past M (padding of the last block) hold code 0.
#[derive(Debug, Clone, Default)]
pub struct Codes {
    pub m: usize,
    pub nc: usize,
    pub data: Vec<u8>,
}

impl Codes {
    pub fn blocks(&self) -> usize {
        self.m.div_ceil(ROW_BLOCK)
    }

    #[inline]
    pub fn get(&self, row: usize, s: usize) -> u8 {
        self.data[((row / ROW_BLOCK) * self.nc + s) * ROW_BLOCK + row % ROW_BLOCK]
    }

    /// Resize for `m` rows, reusing the allocation.
    pub fn reset(&mut self, m: usize, nc: usize) {
        self.m = m;
        self.nc = nc;
        self.data.clear();
        self.data.resize(m.div_ceil(ROW_BLOCK) * nc * ROW_BLOCK, 0);
    }
}

/// Encode `x` (`m × k`, row-major) into `codes` with the given instruction set.
pub fn encode_with(isa: Isa, enc: &Encoder, x: &[f32], m: usize, codes: &mut Codes) {
    use rayon::prelude::*;
    assert_eq!(x.len(), m * enc.k(), "x must be m × k");
    codes.reset(m, enc.nc);
    let k = enc.k();
    let per_block = enc.nc * ROW_BLOCK;
    // With AVX2, 8 rows at a time, one per lane (no horizontal argmin per sub-vector; see
    // `kernel::conv`): the rows are transposed into `[k][8]` scratch first. One row at a time
    // otherwise, or for a single row, where 7 lanes would idle.
    let lanes = match isa {
        Isa::Avx2 if m >= LANES => lanes_encoder(enc),
        _ => None,
    };
    let koff: Vec<usize> = (0..k).map(|i| i * 2 * LANES).collect();
    let encode_block = |scratch: &mut Vec<f32>, (b, block): (usize, &mut [u8])| {
        let r0 = b * ROW_BLOCK;
        let rows = ROW_BLOCK.min(m - r0);
        if let Some(f) = lanes {
            // Two groups of 8 rows per call, side by side in `[k][16]` scratch.
            scratch.resize(k * 2 * LANES, 0.0);
            for g in (0..rows).step_by(2 * LANES) {
                let na = LANES.min(rows - g);
                let nb = LANES.min(rows - g - na);
                for i in 0..na + nb {
                    let xr = &x[(r0 + g + i) * k..][..k];
                    for (d, &v) in xr.iter().enumerate() {
                        scratch[d * 2 * LANES + i] = v;
                    }
                }
                let p = scratch.as_ptr();
                // SAFETY: `lanes_encoder` checked AVX2 and FMA; scratch holds k · 16 floats, so
                // each group's 8 lanes of every coordinate are readable.
                unsafe {
                    f(
                        enc,
                        [p, p.add(LANES)],
                        &koff,
                        [(g, na), (g + na, nb)],
                        block,
                    )
                };
            }
            return;
        }
        for r in 0..rows {
            let xr = &x[(r0 + r) * k..(r0 + r + 1) * k];
            match isa {
                Isa::Avx2 => avx2::encode_row(enc, xr, block, r),
                Isa::Portable => encode_row_portable(enc, xr, block, r),
            }
        }
    };
    // Small inputs (a single image) stay on this thread: waking the pool costs more than the
    // work, as for the dense GEMM (the same codes either way: blocks are independent).
    if m * k * enc.cpad < PARALLEL_MIN_TERMS {
        let mut scratch = Vec::new();
        codes
            .data
            .chunks_mut(per_block)
            .enumerate()
            .for_each(|b| encode_block(&mut scratch, b));
    } else {
        codes
            .data
            .par_chunks_mut(per_block)
            .enumerate()
            .for_each_init(Vec::new, encode_block);
    }
}

/// Rows per rows-in-lanes encoder call (AVX2 lanes).
const LANES: usize = 8;

/// Distance terms (rows · K · padded centroids) below which encoding runs on the calling thread.
pub const PARALLEL_MIN_TERMS: usize = 1 << 20;

/// Encode with the best instruction set this CPU has.
pub fn encode(enc: &Encoder, x: &[f32], m: usize, codes: &mut Codes) {
    encode_with(Isa::detect(), enc, x, m, codes)
}

/// The portable encoder: the same arithmetic as the AVX2 one, lane by lane.
pub fn encode_row_portable(enc: &Encoder, xr: &[f32], block: &mut [u8], r: usize) {
    let (v, cpad) = (enc.v, enc.cpad);
    let mut acc = vec![0.0f32; cpad];
    for s in 0..enc.nc {
        let xs = &xr[s * v..(s + 1) * v];
        acc.copy_from_slice(&enc.init[s * cpad..(s + 1) * cpad]);
        for (d, &xd) in xs.iter().enumerate() {
            let col = &enc.cols[(s * v + d) * cpad..(s * v + d + 1) * cpad];
            match enc.metric {
                VqMetric::L2 => {
                    for (a, &cv) in acc.iter_mut().zip(col) {
                        *a = xd.mul_add(cv, *a);
                    }
                }
                VqMetric::L1 => {
                    for (a, &cv) in acc.iter_mut().zip(col) {
                        *a += (xd - cv).abs();
                    }
                }
                VqMetric::Chebyshev => {
                    for (a, &cv) in acc.iter_mut().zip(col) {
                        *a = max_like_simd(*a, (xd - cv).abs());
                    }
                }
            }
        }
        block[s * ROW_BLOCK + r] = argmin_first(&acc) as u8;
    }
}

/// `_mm256_max_ps(a, b)` semantics: returns b when either is NaN or they compare equal.
#[inline]
pub(crate) fn max_like_simd(a: f32, b: f32) -> f32 {
    if a > b { a } else { b }
}

/// Index of the first minimum.
#[inline]
pub(crate) fn argmin_first(acc: &[f32]) -> usize {
    let mut best = f32::INFINITY;
    let mut idx = 0;
    for (j, &a) in acc.iter().enumerate() {
        if a < best {
            best = a;
            idx = j;
        }
    }
    idx
}
