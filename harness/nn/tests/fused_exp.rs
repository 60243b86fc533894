//! The vectorized `expf` (compbench_nn::fused::exp): libm's bits on x86-64 glibc with FMA,
//! the same bits on both code paths everywhere.

use compbench_core::seed::Rng;
use compbench_nn::fused::exp;

/// True where `f32::exp` is glibc's FMA build, the function `exp` reproduces bit for bit.
fn libm_is_glibc_fma() -> bool {
    #[cfg(all(target_arch = "x86_64", target_os = "linux", target_env = "gnu"))]
    {
        std::is_x86_feature_detected!("fma")
    }
    #[cfg(not(all(target_arch = "x86_64", target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}

fn paths() -> Vec<bool> {
    if exp::simd_available() {
        vec![false, true]
    } else {
        vec![false]
    }
}

fn same(a: f32, b: f32) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

/// Distance in units in the last place between two finite, same-signed floats.
fn ulps(a: f32, b: f32) -> u32 {
    (a.to_bits() as i64 - b.to_bits() as i64).unsigned_abs() as u32
}

/// Checks `exp` on `x` (as `exp_sub(x, 0)`) on every code path: libm's bits where libm is
/// glibc's FMA build, else within one ulp of it; and the two paths always agree.
fn check(x: &[f32]) {
    let glibc = libm_is_glibc_fma();
    let mut first: Option<Vec<f32>> = None;
    for simd in paths() {
        let mut out = vec![0.0f32; x.len()];
        for (x, o) in x.chunks(1003).zip(out.chunks_mut(1003)) {
            exp::exp_sub_with(simd, x, 0.0, o);
        }
        for (x, o) in x.iter().zip(&out) {
            let want = x.exp();
            if glibc {
                assert!(
                    same(*o, want),
                    "exp({x:e} = {:#010x}, simd {simd}): {o:e} vs libm {want:e}",
                    x.to_bits()
                );
            } else {
                assert!(
                    same(*o, want) || ulps(*o, want) <= 1,
                    "exp({x:e}): {o:e} vs libm {want:e}"
                );
            }
        }
        match &first {
            None => first = Some(out),
            Some(f) => assert!(f.iter().zip(&out).all(|(a, b)| same(*a, *b))),
        }
    }
}

/// Every 61st bit pattern of all 2³² (both signs, subnormals, NaNs, ±∞), and ±64 ulp around the
/// slow-path boundary (|x| = 88), the overflow and underflow thresholds, 0 and 1.
#[test]
fn exp_is_libm_bit_for_bit_on_a_sample() {
    let mut bits: Vec<u32> = (0..=u32::MAX).step_by(61).collect();
    for edge in [
        0x42b0_0000u32, // 88.0
        0x42b1_7218,    // ln(2¹²⁸)
        0x42cf_f1b4,    // −ln(2¹⁵⁰) in magnitude
        0x42ce_8ecf,    // −ln(2¹⁴⁹) in magnitude
        0x3f80_0000,    // 1.0
        0x0000_0040,
        0x7f80_0000,
    ] {
        for sign in [0, 0x8000_0000u32] {
            bits.extend((edge - 64..edge + 64).map(|b| b | sign));
        }
    }
    let x: Vec<f32> = bits.iter().map(|b| f32::from_bits(*b)).collect();
    check(&x);
}

/// Every f32 (about two minutes of CPU in release; passed on glibc 2.36): run with `--ignored`.
#[test]
#[ignore]
fn exp_is_libm_bit_for_bit_on_every_input() {
    let mut chunk = Vec::with_capacity(1 << 24);
    for hi in 0..256u32 {
        chunk.clear();
        chunk.extend((0..1u32 << 24).map(|lo| f32::from_bits(hi << 24 | lo)));
        check(&chunk);
    }
}

/// `exp_sub` subtracts in f32 first (`(x − sub).exp()`), at every length and tail, in place
/// too; softmax's arguments (x − max ≤ 0) are the common case.
#[test]
fn exp_sub_is_exp_of_the_f32_difference() {
    let mut rng = Rng::new(7);
    for len in 0..40 {
        let x: Vec<f32> = (0..len).map(|_| rng.normal() * 12.0).collect();
        let sub = x
            .iter()
            .copied()
            .fold(f32::NEG_INFINITY, f32::max)
            .max(-1e30);
        let want: Vec<f32> = x.iter().map(|v| exp::expf(v - sub)).collect();
        if libm_is_glibc_fma() {
            for (w, v) in want.iter().zip(&x) {
                assert!(same(*w, (v - sub).exp()));
            }
        }
        for simd in paths() {
            let mut out = vec![0.0f32; len];
            exp::exp_sub_with(simd, &x, sub, &mut out);
            assert!(
                out.iter().zip(&want).all(|(a, b)| same(*a, *b)),
                "len {len}"
            );
        }
        let mut inplace = x.clone();
        exp::exp_sub_in_place(&mut inplace, sub);
        assert!(inplace.iter().zip(&want).all(|(a, b)| same(*a, *b)));
    }
}

/// The table: entry i plus `i << 47` is 2^(i/32), the nearest double (within one ulp of std's
/// `exp2`, exact at i = 0 and 16).
#[test]
fn table_holds_powers_of_two_to_the_i_over_32() {
    for (i, t) in exp::table().iter().enumerate() {
        let v = f64::from_bits(t + ((i as u64) << 47));
        let want = (i as f64 / 32.0).exp2();
        assert!(
            (v.to_bits() as i64 - want.to_bits() as i64).abs() <= 1,
            "2^({i}/32): {v} vs {want}"
        );
    }
    assert_eq!(f64::from_bits(exp::table()[0]), 1.0);
    assert_eq!(
        f64::from_bits(exp::table()[16] + (16 << 47)),
        std::f64::consts::SQRT_2
    );
}
