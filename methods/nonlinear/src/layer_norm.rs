//! The approximate LayerNorm: the row's mean and variance in eight fixed lanes
//! ([`lane_sum`]), then a fitted 1/√ ([`rsqrt_normalized`]) instead of the exact one.
//!
//! [`rows_portable`] is the definition. [`rows`] runs the same arithmetic in AVX2 when the CPU
//! has it and a row is a whole number of 8-float vectors no longer than 64 floats (the ViT's
//! d_model): the row is loaded once into registers and both sums and the normalization run
//! from there. Why: the 8-lane sums are two chains of dependent adds, and the exact kernel
//! reduces eight rows side by side (`compbench_nn::deployed::kernels::fold_rows`); a plain
//! row-at-a-time loop with three passes over memory only matched it.

use compbench_nn::deployed::kernels::LN_EPS;

use crate::curve::Curve;
use crate::kernel::{lane_sum, rsqrt_normalized};

/// LayerNorm without affine on every row of `x` (`cols` per row): the plain reference.
pub fn rows_portable(x: &mut [f32], cols: usize, rsqrt: &Curve) {
    for row in x.chunks_exact_mut(cols) {
        let n = row.len() as f32;
        let mean = lane_sum(row, |v| v) / n;
        let var = lane_sum(row, |v| (v - mean) * (v - mean)) / n;
        let inv = rsqrt_normalized(rsqrt, var + LN_EPS);
        row.iter_mut().for_each(|v| *v = (*v - mean) * inv);
    }
}

/// [`rows_portable`], bit for bit, in AVX2 where it applies.
pub fn rows(x: &mut [f32], cols: usize, rsqrt: &Curve) {
    #[cfg(target_arch = "x86_64")]
    if cols.is_multiple_of(8) && std::is_x86_feature_detected!("avx2") {
        // SAFETY: AVX2 is available (checked above); each arm's row length is 8·K = cols.
        unsafe {
            match cols / 8 {
                1 => return avx2::rows::<1>(x, rsqrt),
                2 => return avx2::rows::<2>(x, rsqrt),
                3 => return avx2::rows::<3>(x, rsqrt),
                4 => return avx2::rows::<4>(x, rsqrt),
                5 => return avx2::rows::<5>(x, rsqrt),
                6 => return avx2::rows::<6>(x, rsqrt),
                7 => return avx2::rows::<7>(x, rsqrt),
                8 => return avx2::rows::<8>(x, rsqrt),
                _ => {}
            }
        }
    }
    rows_portable(x, cols, rsqrt)
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    use super::{Curve, LN_EPS};
    use crate::kernel::rsqrt_normalized;

    /// [`crate::kernel::lane_sum`]'s final combination of its eight lanes,
    /// ((l0 + l4) + (l1 + l5)) + ((l2 + l6) + (l3 + l7)).
    #[target_feature(enable = "avx2")]
    fn combine_lanes(s: __m256) -> f32 {
        let t = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps::<1>(s));
        // [t0 + t1, t2 + t3, ..]: float addition is commutative bit for bit.
        let u = _mm_hadd_ps(t, t);
        _mm_cvtss_f32(_mm_add_ss(u, _mm_movehdup_ps(u)))
    }

    /// Rows of `8·K` floats. The lanes start at +0.0 as `lane_sum`'s do (so a row of −0.0
    /// sums to +0.0 on both paths); the squares are a multiply then an add, not an FMA, as
    /// the portable code (Rust does not contract) computes them.
    #[target_feature(enable = "avx2")]
    pub unsafe fn rows<const K: usize>(x: &mut [f32], rsqrt: &Curve) {
        let n = (8 * K) as f32;
        for row in x.chunks_exact_mut(8 * K) {
            let p = row.as_mut_ptr();
            let mut v = [_mm256_setzero_ps(); K];
            let mut sum = _mm256_setzero_ps();
            for (i, vi) in v.iter_mut().enumerate() {
                // SAFETY: chunk i of the row's K chunks of 8 floats.
                *vi = unsafe { _mm256_loadu_ps(p.add(8 * i)) };
                sum = _mm256_add_ps(sum, *vi);
            }
            let mean = combine_lanes(sum) / n;
            let m = _mm256_set1_ps(mean);
            let mut sq = _mm256_setzero_ps();
            for vi in &v {
                let d = _mm256_sub_ps(*vi, m);
                sq = _mm256_add_ps(sq, _mm256_mul_ps(d, d));
            }
            let var = combine_lanes(sq) / n;
            let inv = _mm256_set1_ps(rsqrt_normalized(rsqrt, var + LN_EPS));
            for (i, vi) in v.iter().enumerate() {
                let y = _mm256_mul_ps(_mm256_sub_ps(*vi, m), inv);
                // SAFETY: as the load above.
                unsafe { _mm256_storeu_ps(p.add(8 * i), y) };
            }
        }
    }
}
