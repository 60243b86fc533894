//! Layout A: CryptoNets batch, one image per slot (throughput).
//!
//! The client encrypts one ciphertext per input feature, slot `n` holding image `n`'s value,
//! so a batch is up to N images. Every layer is then the plaintext circuit with ciphertexts in
//! place of integers: FC layers are dot products with integer constants (no rotations), the
//! activation is one square per hidden unit.
//!
//! Constants are encoded as constant polynomials with values in `[0, t)`, and the noise of a
//! product grows with that value, so a negative weight `w` (stored as `t − |w|`) would cost
//! about `log2 t` bits. Each dot product is therefore split by sign:
//! `Σ_{w>0} w·x − Σ_{w<0} |w|·x`, and noise grows only by `|w| ≤ qmax`.

use crate::circuit::IntMlp;
use crate::slots::{OpStats, SlotResult, Slots};

/// One output's dot product split by weight sign: `(input index, |w|)` lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedRow {
    pub pos: Vec<(usize, i64)>,
    pub neg: Vec<(usize, i64)>,
}

impl SignedRow {
    pub fn new(row: &[i64]) -> SignedRow {
        let pick = |keep: fn(i64) -> bool| -> Vec<(usize, i64)> {
            row.iter()
                .enumerate()
                .filter(|&(_, &w)| keep(w))
                .map(|(i, &w)| (i, w.abs()))
                .collect()
        };
        SignedRow {
            pos: pick(|w| w > 0),
            neg: pick(|w| w < 0),
        }
    }

    /// Counts of evaluating this row as `BatchModel::dot_signed` does, bias included: every
    /// term is one scalar product and one addition (the dot product's own `terms − 1`, the
    /// sign subtraction and the bias), plus one zero product when no weight is positive.
    fn counts(&self) -> OpStats {
        let n = (self.pos.len() + self.neg.len()) as u64 + u64::from(self.pos.is_empty());
        OpStats {
            ct_scalar_mul: n,
            additions: n,
            ..OpStats::default()
        }
    }
}

/// The network's constants for one backend.
pub struct BatchModel<S: Slots> {
    pub rows1: Vec<SignedRow>,
    pub rows2: Vec<SignedRow>,
    /// `scalars[v]` encodes the constant `v` for `v` in `0..=qmax`.
    scalars: Vec<S::Pt>,
    bias1: Vec<S::Pt>,
    bias2: Vec<S::Pt>,
}

impl<S: Slots> BatchModel<S> {
    pub fn new(s: &S, net: &IntMlp) -> SlotResult<Self> {
        let w = net.widths;
        let qmax = w.weight_qmax();
        Ok(BatchModel {
            rows1: net.w1.chunks_exact(w.inputs).map(SignedRow::new).collect(),
            rows2: net.w2.chunks_exact(w.hidden).map(SignedRow::new).collect(),
            scalars: (0..=qmax)
                .map(|v| s.encode_scalar(v))
                .collect::<SlotResult<_>>()?,
            bias1: net
                .b1
                .iter()
                .map(|&b| s.encode_scalar(b))
                .collect::<SlotResult<_>>()?,
            bias2: net
                .b2
                .iter()
                .map(|&b| s.encode_scalar(b))
                .collect::<SlotResult<_>>()?,
        })
    }

    fn dot_signed(&self, s: &S, xs: &[S::Ct], row: &SignedRow, bias: &S::Pt) -> SlotResult<S::Ct> {
        let dot = |l: &[(usize, i64)]| -> SlotResult<Option<S::Ct>> {
            if l.is_empty() {
                return Ok(None);
            }
            let cts: Vec<&S::Ct> = l.iter().map(|&(i, _)| &xs[i]).collect();
            let ws: Vec<&S::Pt> = l.iter().map(|&(_, w)| &self.scalars[w as usize]).collect();
            s.dot_scalars(&cts, &ws).map(Some)
        };
        let acc = match (dot(&row.pos)?, dot(&row.neg)?) {
            (Some(p), Some(n)) => s.sub(&p, &n)?,
            (Some(p), None) => p,
            (None, Some(n)) => s.sub(&s.dot_scalars(&[&xs[0]], &[&self.scalars[0]])?, &n)?,
            (None, None) => s.dot_scalars(&[&xs[0]], &[&self.scalars[0]])?,
        };
        s.add_plain(&acc, bias)
    }

    /// FC1 → square → FC2 on the batch's input ciphertexts (one per feature); returns one
    /// ciphertext per class, slot `n` holding image `n`'s logit.
    pub fn eval(&self, s: &S, xs: &[S::Ct]) -> SlotResult<Vec<S::Ct>> {
        let hidden: Vec<S::Ct> = self
            .rows1
            .iter()
            .zip(&self.bias1)
            .map(|(r, b)| s.square(&self.dot_signed(s, xs, r, b)?))
            .collect::<SlotResult<_>>()?;
        self.rows2
            .iter()
            .zip(&self.bias2)
            .map(|(r, b)| self.dot_signed(s, &hidden, r, b))
            .collect()
    }

    /// Counts of one batch, per layer `(fc1, square, fc2)`.
    pub fn op_counts(&self) -> [OpStats; 3] {
        let sum = |rows: &[SignedRow]| {
            rows.iter().fold(OpStats::default(), |mut a, r| {
                let c = r.counts();
                a.ct_scalar_mul += c.ct_scalar_mul;
                a.additions += c.additions;
                a
            })
        };
        let n = self.rows1.len() as u64;
        let square = OpStats {
            ct_ct_mul: n,
            relinearizations: n,
            ..OpStats::default()
        };
        [sum(&self.rows1), square, sum(&self.rows2)]
    }
}

/// The client's packing of up to N quantized images: one vector per feature.
pub fn pack(images: &[Vec<i64>], features: usize) -> Vec<Vec<i64>> {
    (0..features)
        .map(|i| images.iter().map(|q| q[i]).collect())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::circuit::{InputQuant, Widths};
    use crate::slots::PlainSlots;
    use compbench_core::seed::Rng;

    #[test]
    fn batch_circuit_equals_plain_circuit_per_slot() {
        let widths = Widths {
            inputs: 30,
            hidden: 6,
            classes: 3,
            input_bits: 4,
            weight_bits: 3,
        };
        let mut rng = Rng::new(3);
        let mut w = |n: usize| -> Vec<i64> { (0..n).map(|_| rng.below(7) as i64 - 3).collect() };
        let mut w1 = w(30 * 6);
        w1[..30].fill(0); // a hidden unit with no weights
        w1[30..60].iter_mut().for_each(|v| *v = -v.abs()); // one with only negative weights
        let net = IntMlp {
            widths,
            input: InputQuant {
                scale: 1.0,
                zero: 0,
                levels: 15,
            },
            w1,
            b1: w(6),
            w2: w(18),
            b2: w(3),
            logit_scale: 1.0,
        };
        let s = PlainSlots::new(16, 1_152_921_504_606_830_593);
        let bm = BatchModel::new(&s, &net).unwrap();
        let images: Vec<Vec<i64>> = (0..16)
            .map(|_| (0..30).map(|_| rng.below(16) as i64).collect())
            .collect();
        let xs: Vec<Vec<u64>> = pack(&images, 30)
            .iter()
            .map(|v| s.encrypt(v).unwrap())
            .collect();
        let before = s.stats();
        let outs = bm.eval(&s, &xs).unwrap();
        let after = s.stats();
        let dec: Vec<Vec<i64>> = outs.iter().map(|c| s.decrypt(c).unwrap()).collect();
        for (n, q) in images.iter().enumerate() {
            let want: Vec<i64> = net.logits(q).iter().map(|&v| v as i64).collect();
            let got: Vec<i64> = (0..3).map(|c| dec[c][n]).collect();
            assert_eq!(got, want, "image {n}");
        }
        let [a, b, c] = bm.op_counts();
        let counted = OpStats {
            ct_scalar_mul: after.ct_scalar_mul - before.ct_scalar_mul,
            ct_ct_mul: after.ct_ct_mul - before.ct_ct_mul,
            relinearizations: after.relinearizations - before.relinearizations,
            additions: after.additions - before.additions,
            ..OpStats::default()
        };
        let total = OpStats {
            ct_scalar_mul: a.ct_scalar_mul + c.ct_scalar_mul,
            ct_ct_mul: b.ct_ct_mul,
            relinearizations: b.relinearizations,
            additions: a.additions + c.additions,
            ..OpStats::default()
        };
        assert!(counted.same_counts(&total), "{counted:?} vs {total:?}");
    }
}
