//! BFV parameter choice and the checks that refuse insecure or broken parameters.
//!
//! * Security: the HomomorphicEncryption.org standard's largest `log q` per ring degree N for
//!   128/192/256-bit classical security (ternary secret; the table SEAL encodes in
//!   `hestdparms.h`). fhe.rs draws its secret from a centered binomial of variance 10, wider
//!   than ternary, so the ternary column is the one to hold it to.
//! * Plaintext modulus: the largest prime `t < 2^bits` with `t ≡ 1 (mod 2N)` (SIMD batching
//!   needs the latter); it must exceed `2·max|logit| + 1` so no decrypted logit wraps.
//! * Depth: a conservative noise model ([`NoiseModel`]) of each layout's three multiplicative
//!   levels; validation refuses parameters whose predicted budget after the last layer is below
//!   [`MIN_MARGIN_BITS`]. Tests check the prediction against fhe.rs's measured noise.

use std::sync::Arc;

use fhe::bfv::{BfvParameters, BfvParametersBuilder};

/// The standard's table: `(N, max log q at 128, 192, 256 bits)`.
pub const SECURITY_TABLE: [(usize, u32, u32, u32); 6] = [
    (1024, 27, 19, 14),
    (2048, 54, 37, 29),
    (4096, 109, 75, 58),
    (8192, 218, 152, 118),
    (16384, 438, 305, 237),
    (32768, 881, 611, 476),
];

/// Classical security level (128, 192 or 256) of ring degree `n` with a `log_q`-bit
/// modulus, or `None` when below 128 bits (or `n` is not in the table).
pub fn security_bits(n: usize, log_q: u32) -> Option<u32> {
    let &(_, s128, s192, s256) = SECURITY_TABLE.iter().find(|r| r.0 == n)?;
    if log_q <= s256 {
        Some(256)
    } else if log_q <= s192 {
        Some(192)
    } else if log_q <= s128 {
        Some(128)
    } else {
        None
    }
}

/// Largest `log q` with 128-bit security at degree `n`.
pub fn max_log_q_128(n: usize) -> Option<u32> {
    SECURITY_TABLE.iter().find(|r| r.0 == n).map(|r| r.1)
}

fn mul_mod(a: u64, b: u64, m: u64) -> u64 {
    ((a as u128 * b as u128) % m as u128) as u64
}

fn pow_mod(mut a: u64, mut e: u64, m: u64) -> u64 {
    let mut r = 1 % m;
    a %= m;
    while e > 0 {
        if e & 1 == 1 {
            r = mul_mod(r, a, m);
        }
        a = mul_mod(a, a, m);
        e >>= 1;
    }
    r
}

/// Deterministic Miller-Rabin for all `u64` (the first 12 prime bases suffice below 2^64).
pub fn is_prime(n: u64) -> bool {
    if n < 2 {
        return false;
    }
    const BASES: [u64; 12] = [2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37];
    for p in BASES {
        if n.is_multiple_of(p) {
            return n == p;
        }
    }
    let (mut d, mut s) = (n - 1, 0);
    while d % 2 == 0 {
        d /= 2;
        s += 1;
    }
    'bases: for a in BASES {
        let mut x = pow_mod(a, d, n);
        if x == 1 || x == n - 1 {
            continue;
        }
        for _ in 1..s {
            x = mul_mod(x, x, n);
            if x == n - 1 {
                continue 'bases;
            }
        }
        return false;
    }
    true
}

/// The largest prime `t < 2^bits` with `t ≡ 1 (mod 2n)`.
pub fn plaintext_prime(bits: u32, n: usize) -> Option<u64> {
    if !(2..=62).contains(&bits) {
        return None;
    }
    let m = 2 * n as u64;
    let top = (1u64 << bits) - 1;
    let mut t = top - (top - 1) % m; // largest ≡ 1 (mod m) not above top
    while t > m && t >= 1u64 << (bits - 1) {
        if is_prime(t) {
            return Some(t);
        }
        t -= m;
    }
    None
}

/// Split `log_q` into near-equal RNS moduli of at most 55 bits (218 → 54, 54, 55, 55).
pub fn moduli_sizes(log_q: u32) -> Vec<usize> {
    let k = log_q.div_ceil(55).max(1) as usize;
    let base = log_q as usize / k;
    let extra = log_q as usize % k;
    (0..k).map(|i| base + usize::from(i >= k - extra)).collect()
}

/// A BFV parameter set as the suite states it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeParams {
    pub degree: usize,
    pub log_q: u32,
    pub plain_bits: u32,
}

impl HeParams {
    pub fn t(&self) -> Option<u64> {
        plaintext_prime(self.plain_bits, self.degree)
    }

    pub fn security_bits(&self) -> Option<u32> {
        security_bits(self.degree, self.log_q)
    }

    /// fhe.rs parameters: degree, t, moduli of [`moduli_sizes`].
    pub fn build(&self) -> Result<Arc<BfvParameters>, String> {
        let t = self
            .t()
            .ok_or_else(|| format!("no {}-bit prime t ≡ 1 mod 2N", self.plain_bits))?;
        BfvParametersBuilder::new()
            .set_degree(self.degree)
            .set_plaintext_modulus(t)
            .set_moduli_sizes(&moduli_sizes(self.log_q))
            .build_arc()
            .map_err(|e| format!("fhe.rs refused the parameters: {e}"))
    }
}

/// Fewest bits of noise budget the circuit must keep after its last layer.
pub const MIN_MARGIN_BITS: f64 = 10.0;

/// A conservative noise model of BFV, tracking `log2 |v|` of the noise `v` in
/// `c0 + c1·s = Δ·m + v (mod q)`; the budget is `log2(q/t) − 1 − log2|v|`. Used by the
/// validation-time depth check; tests check it against fhe.rs's measured noise.
///
/// * fresh: `|v| ≈ 6σ` (σ² = 10, fhe.rs's default variance), plus 2 bits of slack;
/// * ct × plaintext `p`: `v·p` plus, because `Δ·t = q − r` with `r = q mod t`, a term
///   `r·k` where `m·p = [m·p]_t + t·k`. For a dense SIMD plaintext (coefficients uniform in
///   `[0, t)`) `|k| ≈ √N·t`, so the product's noise is at least `t²·√N` whatever came in: this
///   term, not the input noise, is what sinks a per-image circuit at N = 8192 with a 47-bit t.
///   For integer constants `|w| ≤ qmax` summed over `terms` ciphertexts, `|k| ≤ qmax·terms`;
/// * ct × ct with relinearization: about `t·N^1.5·|s|` times the input noise (|s| ≈ 3σ);
/// * rotations and relinearization add key-switching noise, small next to these; 2 bits per
///   layer cover them.
#[derive(Debug, Clone, Copy)]
pub struct NoiseModel {
    pub degree: usize,
    pub log_q: u32,
    pub t: u64,
}

impl NoiseModel {
    fn log_n(&self) -> f64 {
        (self.degree as f64).log2()
    }

    fn log_t(&self) -> f64 {
        (self.t as f64).log2()
    }

    /// `log2 |v|` of a fresh ciphertext.
    pub fn fresh_noise(&self) -> f64 {
        (6.0 * 10f64.sqrt()).log2() + 2.0
    }

    /// Budget left at noise `log2 |v| = noise`.
    pub fn budget(&self, noise: f64) -> f64 {
        self.log_q as f64 - self.log_t() - 1.0 - noise
    }

    /// After `terms` products with dense SIMD plaintexts, summed (worst-case growth `t·N`:
    /// the average-case `t·√N` under-predicted fhe.rs's measured noise by about 20 bits over
    /// the per-image circuit at N = 16384).
    pub fn simd_plain_dot(&self, noise: f64, terms: usize) -> f64 {
        let grow = self.log_t() + self.log_n() + 1.0;
        (noise + grow).max(self.log_t() + grow) + (terms.max(1) as f64).log2() + 2.0
    }

    /// After `Σ w_i·c_i` over `terms` ciphertexts with `|w_i| ≤ qmax`.
    pub fn scalar_dot(&self, noise: f64, qmax: i64, terms: usize) -> f64 {
        let grow = ((qmax.max(1) as f64) * terms.max(1) as f64).log2();
        (noise + grow).max(self.log_t() + grow) + 2.0
    }

    /// After squaring and relinearizing (`t·N^1.5·|s|`, 4 bits of slack: calibrated to stay
    /// below fhe.rs's measured noise in both layouts' tests).
    pub fn square(&self, noise: f64) -> f64 {
        noise + self.log_t() + 1.5 * self.log_n() + (3.0 * 10f64.sqrt()).log2() + 6.0
    }

    /// Predicted budget after the per-image circuit: FC1 sums `diagonals` SIMD products,
    /// FC2 is one SIMD product.
    pub fn per_image_budget(&self, diagonals: usize) -> f64 {
        let v = self.simd_plain_dot(self.fresh_noise(), diagonals);
        let v = self.square(v);
        self.budget(self.simd_plain_dot(v, 1))
    }

    /// Predicted budget after the CryptoNets batch circuit.
    pub fn batch_budget(&self, qmax: i64, inputs: usize, hidden: usize) -> f64 {
        let v = self.scalar_dot(self.fresh_noise(), qmax, inputs);
        let v = self.square(v);
        self.budget(self.scalar_dot(v, qmax, hidden))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn primes_are_prime_and_congruent() {
        assert!(is_prime(2) && is_prime(65_537) && is_prime(2_305_843_009_213_693_951));
        assert!(!is_prime(1) && !is_prime(65_535) && !is_prime(3_215_031_751));
        for bits in [20, 31, 46, 47, 55] {
            let t = plaintext_prime(bits, 8192).expect("a prime exists");
            assert!(is_prime(t));
            assert_eq!(t % 16_384, 1);
            assert!(t < 1u64 << bits && t >= 1u64 << (bits - 1));
        }
        // The reference's t for N = 8192 at 46 bits is such a prime.
        assert!(is_prime(35_184_372_121_601) && 35_184_372_121_601u64 % 16_384 == 1);
    }

    #[test]
    fn security_levels_follow_the_standard_table() {
        assert_eq!(security_bits(8192, 218), Some(128));
        assert_eq!(security_bits(8192, 219), None);
        assert_eq!(security_bits(8192, 152), Some(192));
        assert_eq!(security_bits(8192, 118), Some(256));
        assert_eq!(security_bits(4096, 218), None);
        assert_eq!(security_bits(16384, 438), Some(128));
        assert_eq!(security_bits(1000, 10), None);
    }

    #[test]
    fn moduli_split_sums_to_log_q() {
        assert_eq!(moduli_sizes(218), vec![54, 54, 55, 55]);
        for q in [40, 100, 218, 438, 881] {
            let m = moduli_sizes(q);
            assert_eq!(m.iter().sum::<usize>(), q as usize);
            assert!(m.iter().all(|&b| b <= 55));
        }
    }
}
