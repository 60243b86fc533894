//! Deployed scalar-function evaluators on f32 slices: piecewise-linear table, polynomial
//! (Horner), x², and base-2 power (Softermax's 2^x).
//!
//! Each has a plain scalar loop and an AVX2 loop that computes the same f32 operations in the
//! same order (multiplies and adds, never fused), so the two agree bit for bit; the AVX2 path
//! is chosen at run time with `is_x86_feature_detected!` and tests call both explicitly.

use crate::fit::{GRID_CELLS, PolyFit, PwlFit};

/// A piecewise-linear function as the kernel runs it: the fitted segments expanded to one
/// `(slope, intercept)` entry per grid cell, so the segment of `x` is `⌊(x − lo)·scale⌋`
/// clamped to the table (end segments extend linearly outside the fitted range).
#[derive(Debug, Clone, PartialEq)]
pub struct PwlTable {
    pub lo: f32,
    pub scale: f32,
    pub slope: Vec<f32>,
    pub icpt: Vec<f32>,
    /// Distinct segments (what a hardware table stores).
    pub segments: usize,
}

impl PwlTable {
    pub fn from_fit(fit: &PwlFit) -> PwlTable {
        let mut slope = Vec::with_capacity(GRID_CELLS);
        let mut icpt = Vec::with_capacity(GRID_CELLS);
        for cell in 0..GRID_CELLS {
            let (s, b) = fit.lines[fit.segment_of_cell(cell)];
            slope.push(s as f32);
            icpt.push(b as f32);
        }
        PwlTable {
            lo: fit.lo as f32,
            scale: (GRID_CELLS as f64 / (fit.hi - fit.lo)) as f32,
            slope,
            icpt,
            segments: fit.lines.len(),
        }
    }

    #[inline]
    fn eval1(&self, x: f32) -> f32 {
        let t = ((x - self.lo) * self.scale)
            .max(0.0)
            .min((GRID_CELLS - 1) as f32);
        let i = t as usize;
        self.slope[i] * x + self.icpt[i]
    }
}

/// A polynomial in `t = (x − center)·inv_half`, coefficients of t⁰ … t^d.
#[derive(Debug, Clone, PartialEq)]
pub struct PolyEval {
    pub center: f32,
    pub inv_half: f32,
    pub coef: Vec<f32>,
}

impl PolyEval {
    pub fn from_fit(fit: &PolyFit) -> PolyEval {
        PolyEval {
            center: fit.center as f32,
            inv_half: (1.0 / fit.half) as f32,
            coef: fit.coef.iter().map(|&c| c as f32).collect(),
        }
    }

    pub fn degree(&self) -> usize {
        self.coef.len() - 1
    }

    #[inline]
    fn eval1(&self, x: f32) -> f32 {
        let t = (x - self.center) * self.inv_half;
        let d = self.coef.len() - 1;
        let mut y = self.coef[d];
        for k in (0..d).rev() {
            y = y * t + self.coef[k];
        }
        y
    }
}

/// A fitted scalar approximation.
#[derive(Debug, Clone, PartialEq)]
pub enum Curve {
    Pwl(PwlTable),
    Poly(PolyEval),
    /// y = x² (CryptoNets' HE-friendly activation; not a fit).
    Square,
}

impl Curve {
    /// Plain scalar reference for one value.
    pub fn eval1(&self, x: f32) -> f32 {
        match self {
            Curve::Pwl(p) => p.eval1(x),
            Curve::Poly(p) => p.eval1(x),
            Curve::Square => x * x,
        }
    }

    /// In place, plain scalar loop.
    pub fn eval_portable(&self, xs: &mut [f32]) {
        xs.iter_mut().for_each(|x| *x = self.eval1(*x));
    }

    /// In place, AVX2 when the CPU has it (bit-identical to [`Curve::eval_portable`]).
    pub fn eval(&self, xs: &mut [f32]) {
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: AVX2 is available (checked above).
            unsafe { avx2::eval(self, xs) };
            return;
        }
        self.eval_portable(xs)
    }
}

/// Minimum exponent argument of [`pow2`] (keeps 2ⁿ a normal f32).
pub const POW2_MIN: f32 = -126.0;
/// 2^f on [0, 1) ≈ 1 + f·(C1 + f·C2): the least-squares quadratic with p(0) = 1 (fitted
/// once in f64 on 200 000 points; max relative error 0.27 %, checked in the tests).
pub const POW2_C1: f32 = 0.664_478_5;
pub const POW2_C2: f32 = 0.330_113_05;

/// Softermax's 2^d for d ≤ 0: integer part as an exponent shift, fraction by a quadratic.
#[inline]
pub fn pow2(d: f32) -> f32 {
    let d = d.max(POW2_MIN);
    let n = d.floor();
    let f = d - n;
    let p = 1.0 + f * (POW2_C1 + f * POW2_C2);
    p * f32::from_bits((((n as i32) + 127) as u32) << 23)
}

/// [`pow2`] in place, plain loop.
pub fn pow2_portable(xs: &mut [f32]) {
    xs.iter_mut().for_each(|x| *x = pow2(*x));
}

/// [`pow2`] in place, AVX2 when available (bit-identical).
pub fn pow2_slice(xs: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") {
        // SAFETY: AVX2 is available.
        unsafe { avx2::pow2(xs) };
        return;
    }
    pow2_portable(xs)
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    use super::{Curve, POW2_C1, POW2_C2, POW2_MIN};
    use crate::fit::GRID_CELLS;

    #[target_feature(enable = "avx2")]
    pub unsafe fn eval(c: &Curve, xs: &mut [f32]) {
        let n8 = xs.len() / 8 * 8;
        let (head, tail) = xs.split_at_mut(n8);
        match c {
            Curve::Pwl(p) => {
                let lo = _mm256_set1_ps(p.lo);
                let scale = _mm256_set1_ps(p.scale);
                let zero = _mm256_setzero_ps();
                let top = _mm256_set1_ps((GRID_CELLS - 1) as f32);
                for ch in head.chunks_exact_mut(8) {
                    // SAFETY: 8 in-bounds floats; gather indices are clamped to the
                    // GRID_CELLS-entry tables.
                    unsafe {
                        let x = _mm256_loadu_ps(ch.as_ptr());
                        let t = _mm256_mul_ps(_mm256_sub_ps(x, lo), scale);
                        // max(t, 0) returns 0 for NaN t, like f32::max.
                        let t = _mm256_min_ps(_mm256_max_ps(t, zero), top);
                        let i = _mm256_cvttps_epi32(t);
                        let s = _mm256_i32gather_ps::<4>(p.slope.as_ptr(), i);
                        let b = _mm256_i32gather_ps::<4>(p.icpt.as_ptr(), i);
                        let y = _mm256_add_ps(_mm256_mul_ps(s, x), b);
                        _mm256_storeu_ps(ch.as_mut_ptr(), y);
                    }
                }
            }
            Curve::Poly(p) => {
                let center = _mm256_set1_ps(p.center);
                let inv = _mm256_set1_ps(p.inv_half);
                let d = p.coef.len() - 1;
                for ch in head.chunks_exact_mut(8) {
                    // SAFETY: 8 in-bounds floats.
                    unsafe {
                        let x = _mm256_loadu_ps(ch.as_ptr());
                        let t = _mm256_mul_ps(_mm256_sub_ps(x, center), inv);
                        let mut y = _mm256_set1_ps(p.coef[d]);
                        for k in (0..d).rev() {
                            y = _mm256_add_ps(_mm256_mul_ps(y, t), _mm256_set1_ps(p.coef[k]));
                        }
                        _mm256_storeu_ps(ch.as_mut_ptr(), y);
                    }
                }
            }
            Curve::Square => {
                for ch in head.chunks_exact_mut(8) {
                    // SAFETY: 8 in-bounds floats.
                    unsafe {
                        let x = _mm256_loadu_ps(ch.as_ptr());
                        _mm256_storeu_ps(ch.as_mut_ptr(), _mm256_mul_ps(x, x));
                    }
                }
            }
        }
        c.eval_portable(tail);
    }

    #[target_feature(enable = "avx2")]
    pub unsafe fn pow2(xs: &mut [f32]) {
        let n8 = xs.len() / 8 * 8;
        let (head, tail) = xs.split_at_mut(n8);
        let min = _mm256_set1_ps(POW2_MIN);
        let one = _mm256_set1_ps(1.0);
        let c1 = _mm256_set1_ps(POW2_C1);
        let c2 = _mm256_set1_ps(POW2_C2);
        let bias = _mm256_set1_epi32(127);
        for ch in head.chunks_exact_mut(8) {
            // SAFETY: 8 in-bounds floats.
            unsafe {
                // max(d, MIN) with d first: a NaN d gives MIN, where f32::max gives MIN too.
                let d = _mm256_max_ps(_mm256_loadu_ps(ch.as_ptr()), min);
                let n = _mm256_floor_ps(d);
                let f = _mm256_sub_ps(d, n);
                let p = _mm256_add_ps(
                    one,
                    _mm256_mul_ps(f, _mm256_add_ps(c1, _mm256_mul_ps(f, c2))),
                );
                let e = _mm256_slli_epi32::<23>(_mm256_add_epi32(_mm256_cvttps_epi32(n), bias));
                _mm256_storeu_ps(ch.as_mut_ptr(), _mm256_mul_ps(p, _mm256_castsi256_ps(e)));
            }
        }
        super::pow2_portable(tail);
    }
}
