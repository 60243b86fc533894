//! `expf`, vectorized: glibc's algorithm, bit for bit, eight lanes at a time.
//!
//! Softmax calls `exp` once per score. `f32::exp` is a call into the platform's libm per
//! element, which the compiler cannot vectorize: `__expf_fma` was 10-13 % of a LUTBoost
//! training step (the soft assignment's softmax) and the largest shared cost of the deployed
//! ViT. This module evaluates the same algorithm as glibc ≥ 2.27's `expf` (Szabolcs Nagy's, from
//! ARM's optimized-routines; < 0.502 ulp) with the same constants and the same operations,
//! fused-multiply-adds included, in four f64 lanes per AVX2 register:
//!
//! * `z = x·N/ln2` with N = 32, `k = round(z)` by the 1.5·2⁵² shift trick, `r = z − k` (both
//!   products fused: `fma(N/ln2, x, shift)` and `fma(N/ln2, x, −k)`);
//! * `2^(k/N)` from a 32-entry table of `2^(i/32)` with `k >> 5` added to the exponent bits;
//! * a cubic in `r`: `fma(fma(r, C0, C1), r², fma(r, C2, 1))`, times the table value, rounded
//!   to f32 once.
//!
//! The operation order is the one glibc 2.36's `__expf_fma` (its x86-64 FMA build, the one
//! `f32::exp` resolves to on a CPU with FMA) executes, read from its machine code. Arguments
//! with |x| ≥ 88 or NaN (glibc's slow path: overflow, underflow, ±∞, NaN) go to `f32::exp`
//! itself. On x86-64 glibc with FMA every result is `f32::exp`'s bits (tests/fused_exp.rs,
//! on a sample of all 2³² inputs; an `--ignored` test runs all of them). Elsewhere the results
//! are this algorithm's (< 0.51 ulp), the same on every machine, where `f32::exp` depends on
//! the platform's libm.

/// N/ln 2 with N = 32 table entries.
const INV_LN2_N: f64 = f64::from_bits(0x4047_1547_652b_82fe);
/// 1.5·2⁵²: adding it rounds a |z| < 2⁵¹ to an integer held in the low mantissa bits.
const SHIFT: f64 = f64::from_bits(0x4338_0000_0000_0000);
/// The cubic's coefficients, scaled for r in units of 1/N: ln2³/6/N³, ln2²/2/N², ln2/N.
const C0: f64 = f64::from_bits(0x3ebc_6af8_4b91_2394);
const C1: f64 = f64::from_bits(0x3f2e_bfce_50fa_c4f3);
const C2: f64 = f64::from_bits(0x3f96_2e42_ff0c_52d6);

/// `bits(2^(i/32)) − (i << 47)`: 2^(i/32) rounded to the nearest f64, with the exponent
/// pre-compensated so that adding `k << 47` (k's low five bits being i) gives 2^(k/32).
const TABLE: [u64; 32] = [
    0x3ff0000000000000,
    0x3fefd9b0d3158574,
    0x3fefb5586cf9890f,
    0x3fef9301d0125b51,
    0x3fef72b83c7d517b,
    0x3fef54873168b9aa,
    0x3fef387a6e756238,
    0x3fef1e9df51fdee1,
    0x3fef06fe0a31b715,
    0x3feef1a7373aa9cb,
    0x3feedea64c123422,
    0x3feece086061892d,
    0x3feebfdad5362a27,
    0x3feeb42b569d4f82,
    0x3feeab07dd485429,
    0x3feea47eb03a5585,
    0x3feea09e667f3bcd,
    0x3fee9f75e8ec5f74,
    0x3feea11473eb0187,
    0x3feea589994cce13,
    0x3feeace5422aa0db,
    0x3feeb737b0cdc5e5,
    0x3feec49182a3f090,
    0x3feed503b23e255d,
    0x3feee89f995ad3ad,
    0x3feeff76f2fb5e47,
    0x3fef199bdd85529c,
    0x3fef3720dcef9069,
    0x3fef5818dcfba487,
    0x3fef7c97337b9b5f,
    0x3fefa4afa2a490da,
    0x3fefd0765b6e4540,
];

/// The table as stored, for tests: entry i plus `i << 47` must be 2^(i/32).
pub fn table() -> &'static [u64; 32] {
    &TABLE
}

/// True if `x` takes glibc's slow path (|x| ≥ 88, ±∞ or NaN): the top 12 bits of |x| above
/// those of 88.0's exponent range.
#[inline(always)]
fn slow_path(x: f32) -> bool {
    (x.to_bits() >> 20) & 0x7ff > 0x42a
}

/// `expf(x)` for |x| < 88, the definition both code paths follow.
#[inline(always)]
fn expf_fast(x: f32) -> f32 {
    let xd = x as f64;
    let shifted = INV_LN2_N.mul_add(xd, SHIFT);
    let ki = shifted.to_bits();
    let kd = shifted - SHIFT;
    let r = INV_LN2_N.mul_add(xd, -kd);
    let s = f64::from_bits(TABLE[(ki & 31) as usize].wrapping_add(ki << 47));
    let z = r.mul_add(C0, C1);
    let r2 = r * r;
    let y = r.mul_add(C2, 1.0);
    (z.mul_add(r2, y) * s) as f32
}

/// `expf(x)`, scalar: the reference the vector path is tested against.
#[inline]
pub fn expf(x: f32) -> f32 {
    if slow_path(x) { x.exp() } else { expf_fast(x) }
}

/// Whether [`exp_sub`] uses its AVX2 + FMA path on this machine.
pub fn simd_available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// `out[i] = expf(x[i] − sub)`, the subtraction in f32 as in `(x − sub).exp()`, with the best
/// code path for this CPU. With `sub = 0.0` it is a plain exp.
pub fn exp_sub(x: &[f32], sub: f32, out: &mut [f32]) {
    exp_sub_with(simd_available(), x, sub, out)
}

/// [`exp_sub`] in place.
pub fn exp_sub_in_place(x: &mut [f32], sub: f32) {
    let n = x.len();
    let p = x.as_mut_ptr();
    // SAFETY: `p` is readable and writable for `n` floats; input and output are the same
    // buffer, which both code paths read before they write, element by element or 8 at a time.
    unsafe { exp_sub_ptr(simd_available(), p, sub, p, n) }
}

/// [`exp_sub`] with the code path chosen by the caller (`simd` is ignored where AVX2 + FMA are
/// not available), for tests.
pub fn exp_sub_with(simd: bool, x: &[f32], sub: f32, out: &mut [f32]) {
    assert_eq!(x.len(), out.len(), "exp_sub: sizes");
    // SAFETY: the lengths match.
    unsafe { exp_sub_ptr(simd, x.as_ptr(), sub, out.as_mut_ptr(), x.len()) }
}

/// The one dispatch of [`exp_sub_with`] and [`exp_sub_in_place`] (raw pointers, so the output
/// may alias the input).
///
/// # Safety
/// `x` readable and `out` writable for `n` floats.
unsafe fn exp_sub_ptr(simd: bool, x: *const f32, sub: f32, out: *mut f32, n: usize) {
    #[cfg(target_arch = "x86_64")]
    if simd && simd_available() {
        // SAFETY: AVX2 and FMA are available (checked just above); the caller's bounds.
        unsafe { x86::exp_sub_raw(x, sub, out, n) };
        return;
    }
    let _ = simd;
    for i in 0..n {
        // SAFETY: i < n, within the caller's bounds.
        unsafe { *out.add(i) = expf(*x.add(i) - sub) };
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    use super::{C0, C1, C2, INV_LN2_N, SHIFT, TABLE, expf};

    /// [`super::expf_fast`] on four f64 lanes.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn exp4(xd: __m256d) -> __m128 {
        let inv = _mm256_set1_pd(INV_LN2_N);
        let shift = _mm256_set1_pd(SHIFT);
        let shifted = _mm256_fmadd_pd(inv, xd, shift);
        let ki = _mm256_castpd_si256(shifted);
        let kd = _mm256_sub_pd(shifted, shift);
        let r = _mm256_fmsub_pd(inv, xd, kd);
        let idx = _mm256_and_si256(ki, _mm256_set1_epi64x(31));
        // SAFETY: every index is in 0..32, inside TABLE.
        let t = unsafe { _mm256_i64gather_epi64::<8>(TABLE.as_ptr() as *const i64, idx) };
        let s = _mm256_castsi256_pd(_mm256_add_epi64(t, _mm256_slli_epi64::<47>(ki)));
        let z = _mm256_fmadd_pd(r, _mm256_set1_pd(C0), _mm256_set1_pd(C1));
        let r2 = _mm256_mul_pd(r, r);
        let y = _mm256_fmadd_pd(r, _mm256_set1_pd(C2), _mm256_set1_pd(1.0));
        _mm256_cvtpd_ps(_mm256_mul_pd(_mm256_fmadd_pd(z, r2, y), s))
    }

    /// `out[i] = expf(x[i] − sub)` for `i < n`. `x` and `out` may be the same buffer.
    ///
    /// # Safety
    /// AVX2 and FMA must be available; `x` must be readable and `out` writable for `n` floats.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn exp_sub_raw(x: *const f32, sub: f32, out: *mut f32, n: usize) {
        let subv = _mm256_set1_ps(sub);
        let mask = _mm256_set1_epi32(0x7ff);
        let limit = _mm256_set1_epi32(0x42a);
        let mut i = 0;
        while i + 8 <= n {
            // SAFETY: i + 8 ≤ n, inside both buffers.
            let v = _mm256_sub_ps(unsafe { _mm256_loadu_ps(x.add(i)) }, subv);
            let top = _mm256_and_si256(_mm256_srli_epi32::<20>(_mm256_castps_si256(v)), mask);
            let slow = _mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpgt_epi32(top, limit)));
            let lo = exp4(_mm256_cvtps_pd(_mm256_castps256_ps128(v)));
            let hi = exp4(_mm256_cvtps_pd(_mm256_extractf128_ps::<1>(v)));
            let mut y = _mm256_set_m128(hi, lo);
            if slow != 0 {
                // |x| ≥ 88 or NaN in some lane: libm's own result there.
                let mut vs = [0.0f32; 8];
                let mut ys = [0.0f32; 8];
                // SAFETY: both arrays hold 8 floats.
                unsafe {
                    _mm256_storeu_ps(vs.as_mut_ptr(), v);
                    _mm256_storeu_ps(ys.as_mut_ptr(), y);
                }
                for l in 0..8 {
                    if slow >> l & 1 != 0 {
                        ys[l] = vs[l].exp();
                    }
                }
                // SAFETY: ys holds 8 floats.
                y = unsafe { _mm256_loadu_ps(ys.as_ptr()) };
            }
            // SAFETY: i + 8 ≤ n.
            unsafe { _mm256_storeu_ps(out.add(i), y) };
            i += 8;
        }
        while i < n {
            // SAFETY: i < n.
            unsafe { *out.add(i) = expf(*x.add(i) - sub) };
            i += 1;
        }
    }
}
