//! The plaintext integer circuit: what the encrypted layouts compute, in `i64`.
//!
//! `q = clamp(round(x / s) + zp, 0, 2^in_bits − 1)` (the client's quantizer), then
//! `acc1 = W1·q + B1`, `h = acc1²`, `acc2 = W2·h + B2`, prediction `argmax acc2` (first maximum
//! on ties). Every value is an integer; the float model's logits are `logit_scale · acc2`.
//!
//! BFV computes the same circuit modulo the plaintext modulus t. Mod-t arithmetic is a ring
//! homomorphism, so only the decrypted logits have to fit: `|acc2| < t/2` for every input.
//! [`Widths::worst_logit`] bounds that from the bit widths alone (what suite validation
//! checks); [`IntMlp::logit_bound`] bounds it from the trained weights (tighter, checked again
//! before encrypting).

use serde::{Deserialize, Serialize};

/// The client's input quantizer: `q = clamp(round(x / scale) + zero, 0, levels)`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct InputQuant {
    pub scale: f32,
    pub zero: i64,
    pub levels: i64,
}

impl InputQuant {
    /// The grid covering `[lo, hi]` with `2^bits` levels and an integer zero point, so the
    /// dequantized input `(q − zero)·scale` is exact and the offset folds into an integer bias.
    pub fn from_range(lo: f32, hi: f32, bits: u32) -> InputQuant {
        let levels = (1i64 << bits) - 1;
        let (lo, hi) = (lo.min(0.0), hi.max(lo + 1e-6));
        let scale = (hi - lo) / levels as f32;
        let zero = ((-lo / scale).round() as i64).clamp(0, levels);
        InputQuant {
            scale,
            zero,
            levels,
        }
    }

    pub fn code(&self, x: f32) -> i64 {
        let q = (x / self.scale).round_ties_even() as i64 + self.zero;
        q.clamp(0, self.levels)
    }

    /// The value the trained model sees for `x`: `(q − zero)·scale`.
    pub fn dequantized(&self, x: f32) -> f32 {
        (self.code(x) - self.zero) as f32 * self.scale
    }
}

/// Bit widths and shape: everything the worst-case accumulator bound depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Widths {
    pub inputs: usize,
    pub hidden: usize,
    pub classes: usize,
    pub input_bits: u32,
    pub weight_bits: u32,
}

impl Widths {
    /// Largest weight code: symmetric grid `[−(2^(b−1) − 1), 2^(b−1) − 1]`.
    pub fn weight_qmax(&self) -> i64 {
        (1i64 << (self.weight_bits - 1)) - 1
    }

    pub fn input_levels(&self) -> i64 {
        (1i64 << self.input_bits) - 1
    }

    /// Bias clamp of layer 1: the dot product's own range `inputs · levels · qmax`.
    pub fn bias1_max(&self) -> i64 {
        self.inputs as i64 * self.input_levels() * self.weight_qmax()
    }

    /// `max |acc1|`: `|Σ (q − zp)·w| ≤ inputs·levels·qmax` (as `0 ≤ zp ≤ levels`), plus the bias.
    pub fn worst_hidden(&self) -> u128 {
        2 * self.bias1_max() as u128
    }

    /// Bias clamp of layer 2: the dot product's own range `hidden · qmax · max acc1²`.
    pub fn bias2_max(&self) -> u128 {
        self.hidden as u128 * self.weight_qmax() as u128 * self.worst_hidden().pow(2)
    }

    /// `max |acc2|` over every input and every weight of these widths.
    pub fn worst_logit(&self) -> u128 {
        2 * self.bias2_max()
    }
}

/// The trained model as integers (weights out-major: `w1[j·inputs + i]`, `w2[c·hidden + j]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IntMlp {
    pub widths: Widths,
    pub input: InputQuant,
    pub w1: Vec<i64>,
    pub b1: Vec<i64>,
    pub w2: Vec<i64>,
    pub b2: Vec<i64>,
    /// Float logits ≈ `logit_scale · acc2`.
    pub logit_scale: f64,
}

impl IntMlp {
    pub fn quantize(&self, x: &[f32]) -> Vec<i64> {
        x.iter().map(|&v| self.input.code(v)).collect()
    }

    /// `acc1 = W1·q + B1`.
    pub fn hidden(&self, q: &[i64]) -> Vec<i64> {
        let k = self.widths.inputs;
        assert_eq!(q.len(), k, "input length");
        self.w1
            .chunks_exact(k)
            .zip(&self.b1)
            .map(|(row, b)| row.iter().zip(q).map(|(w, x)| w * x).sum::<i64>() + b)
            .collect()
    }

    /// `acc2 = W2·acc1² + B2` from a quantized input (i128: the bound is checked, not assumed).
    pub fn logits(&self, q: &[i64]) -> Vec<i128> {
        let h: Vec<i128> = self
            .hidden(q)
            .iter()
            .map(|&a| a as i128 * a as i128)
            .collect();
        self.w2
            .chunks_exact(self.widths.hidden)
            .zip(&self.b2)
            .map(|(row, &b)| {
                row.iter()
                    .zip(&h)
                    .map(|(&w, x)| w as i128 * x)
                    .sum::<i128>()
                    + b as i128
            })
            .collect()
    }

    /// The same circuit in `Z_t`, centered-lifted back: what BFV decrypts to. Equal to
    /// [`IntMlp::logits`] exactly when no logit wraps.
    pub fn logits_mod(&self, q: &[i64], t: u64) -> Vec<i128> {
        let t = t as i128;
        let red = |v: i128| v.rem_euclid(t);
        let k = self.widths.inputs;
        let h: Vec<i128> = self
            .w1
            .chunks_exact(k)
            .zip(&self.b1)
            .map(|(row, &b)| {
                let a = row.iter().zip(q).fold(red(b as i128), |s, (&w, &x)| {
                    red(s + red(w as i128) * x as i128)
                });
                red(a * a)
            })
            .collect();
        self.w2
            .chunks_exact(self.widths.hidden)
            .zip(&self.b2)
            .map(|(row, &b)| {
                let v = row
                    .iter()
                    .zip(&h)
                    .fold(red(b as i128), |s, (&w, &x)| red(s + red(w as i128) * x));
                center(v, t)
            })
            .collect()
    }

    pub fn predict_codes(&self, q: &[i64]) -> usize {
        argmax(&self.logits(q))
    }

    pub fn predict(&self, x: &[f32]) -> usize {
        self.predict_codes(&self.quantize(x))
    }

    /// `max_j |acc1_j|` over every input in range, for these weights.
    pub fn hidden_bounds(&self) -> Vec<(i128, i128)> {
        let k = self.widths.inputs;
        let l = self.input.levels as i128;
        self.w1
            .chunks_exact(k)
            .zip(&self.b1)
            .map(|(row, &b)| {
                let pos: i128 = row.iter().filter(|&&w| w > 0).map(|&w| w as i128).sum();
                let neg: i128 = row.iter().filter(|&&w| w < 0).map(|&w| w as i128).sum();
                (l * neg + b as i128, l * pos + b as i128)
            })
            .collect()
    }

    /// `max |acc2|` over every input in range, for these weights (tighter than the widths').
    pub fn logit_bound(&self) -> u128 {
        let sq: Vec<(i128, i128)> = self
            .hidden_bounds()
            .iter()
            .map(|&(lo, hi)| {
                let m = lo.abs().max(hi.abs());
                let min = if lo <= 0 && hi >= 0 {
                    0
                } else {
                    lo.abs().min(hi.abs())
                };
                (min * min, m * m)
            })
            .collect();
        self.w2
            .chunks_exact(self.widths.hidden)
            .zip(&self.b2)
            .map(|(row, &b)| {
                let (mut lo, mut hi) = (b as i128, b as i128);
                for (&w, &(smin, smax)) in row.iter().zip(&sq) {
                    let w = w as i128;
                    if w > 0 {
                        lo += w * smin;
                        hi += w * smax;
                    } else {
                        lo += w * smax;
                        hi += w * smin;
                    }
                }
                lo.unsigned_abs().max(hi.unsigned_abs())
            })
            .max()
            .unwrap_or(0)
    }
}

/// Index of the first maximum.
pub fn argmax<T: PartialOrd>(v: &[T]) -> usize {
    let mut best = 0;
    for (i, x) in v.iter().enumerate() {
        if *x > v[best] {
            best = i;
        }
    }
    best
}

/// `v mod t` lifted to `(−t/2, t/2]`.
pub fn center(v: i128, t: i128) -> i128 {
    let v = v.rem_euclid(t);
    if v > t / 2 { v - t } else { v }
}

#[cfg(test)]
mod tests {
    use super::*;
    use compbench_core::seed::Rng;

    pub(crate) fn random_model(widths: Widths, seed: u64) -> IntMlp {
        let mut rng = Rng::new(seed);
        let qw = widths.weight_qmax();
        let mut w = |n: usize| -> Vec<i64> {
            (0..n)
                .map(|_| rng.below((2 * qw + 1) as usize) as i64 - qw)
                .collect()
        };
        let w1 = w(widths.inputs * widths.hidden);
        let w2 = w(widths.hidden * widths.classes);
        let b1 = (0..widths.hidden).map(|j| j as i64 * 37 - 2000).collect();
        let b2 = (0..widths.classes)
            .map(|c| c as i64 * 1_000_003 - 5_000_000)
            .collect();
        IntMlp {
            widths,
            input: InputQuant {
                scale: 0.25,
                zero: 3,
                levels: widths.input_levels(),
            },
            w1,
            b1,
            w2,
            b2,
            logit_scale: 1.0,
        }
    }

    #[test]
    fn worst_case_bound_matches_the_hand_computation() {
        let w = Widths {
            inputs: 784,
            hidden: 128,
            classes: 10,
            input_bits: 4,
            weight_bits: 4,
        };
        assert_eq!(w.worst_hidden(), 2 * 784 * 15 * 7);
        let a1 = 2u128 * 784 * 15 * 7;
        assert_eq!(w.worst_logit(), 2 * 128 * 7 * a1 * a1);
        // 2^45.47: a 47-bit t is the smallest that holds every signed logit.
        assert!(2 * w.worst_logit() < 1u128 << 47 && 2 * w.worst_logit() > 1u128 << 46);
    }

    #[test]
    fn mod_t_circuit_equals_integer_circuit_until_it_wraps() {
        let w = Widths {
            inputs: 50,
            hidden: 8,
            classes: 4,
            input_bits: 4,
            weight_bits: 4,
        };
        let m = random_model(w, 1);
        let mut rng = Rng::new(2);
        let bound = m.logit_bound();
        assert!(bound <= w.worst_logit());
        for _ in 0..20 {
            let q: Vec<i64> = (0..w.inputs).map(|_| rng.below(16) as i64).collect();
            let exact = m.logits(&q);
            assert!(exact.iter().all(|v| v.unsigned_abs() <= bound));
            // A prime t above 2·bound: equal. A t below the logits: they wrap.
            assert_eq!(m.logits_mod(&q, 2_305_843_009_213_693_951), exact);
            let small = m.logits_mod(&q, 65_537);
            assert_ne!(small, exact);
        }
    }

    #[test]
    fn input_quantizer_has_integer_zero_and_clamps() {
        let g = InputQuant::from_range(-0.81, 2.02, 4);
        assert_eq!(g.levels, 15);
        assert_eq!(g.code(-0.81), 0);
        assert_eq!(g.code(2.02), 15);
        assert_eq!(g.code(100.0), 15);
        assert_eq!(g.code(-100.0), 0);
        assert_eq!(g.dequantized(0.0), 0.0);
    }
}
