//! Layout B: one image per ciphertext (latency), after LoLa / Halevi-Shoup.
//!
//! Slots form a 2 × R matrix (R = N/2); column rotations act on both rows at once.
//!
//! **FC1** (`hidden = m` outputs, `K` inputs), a diagonal mat-vec spread over all N slots.
//! Each row holds `G = R/m` groups of `m` lanes; lane `i` of a group accumulates for output
//! `i mod m`. With `D` diagonals (the smallest power of two dividing `m` with `2·G·D ≥ K`),
//! the client packs slot `(r, m·k + e)` with pixel `π_r(k, e) = r·G·D + D·k + (e mod D)`
//! (zero past K). Diagonal `d` holds `W[i mod m][π(i + d)]` at lane `i`, so
//! `z = Σ_{d<D} diag_d ⊙ rot(x, d)` and output `j` is the sum of lanes `j + m·k` over both
//! rows: because D divides m, a read that crosses into the next group lands on the same
//! residue `(j + d) mod D` one group later, so every pixel is read exactly once.
//! The D rotations use baby-step/giant-step: `z = Σ_g rot(Σ_b rot(diag_{gB+b}, −gB) ⊙
//! rot(x, b), gB)`, B − 1 baby and D/B − 1 giant rotations. Folding the groups takes
//! `log2(G)` rotations and one row swap, and leaves `acc1[s mod m]` in every slot `s`.
//!
//! **Square**: one ciphertext square and relinearization.
//!
//! **FC2** (`classes` outputs): the hidden vector is already replicated, so one plaintext
//! product puts `W2[c][j]` at slot `c·m + j`, and `log2(m)` rotate-and-adds sum each block
//! of m into slot `c·m`. The other slots keep partial sums; a deployment would mask them
//! (one more plaintext product) so the client learns only the logits. We do not: the
//! reproduction measures the inference, not a hardened protocol.

use crate::circuit::IntMlp;
use crate::slots::{OpStats, SlotResult, Slots};

/// The slot plan of one network at one ring degree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PerImageLayout {
    pub slots: usize,
    pub row: usize,
    pub inputs: usize,
    pub hidden: usize,
    pub classes: usize,
    /// Groups of `hidden` lanes per row.
    pub groups: usize,
    pub diagonals: usize,
    pub baby: usize,
    pub giant: usize,
}

impl PerImageLayout {
    pub fn new(
        slots: usize,
        inputs: usize,
        hidden: usize,
        classes: usize,
    ) -> Result<PerImageLayout, String> {
        let row = slots / 2;
        if !slots.is_power_of_two() || slots < 4 {
            return Err(format!("{slots} slots: need a power of two"));
        }
        if !hidden.is_power_of_two() || hidden > row {
            return Err(format!(
                "hidden width {hidden} must be a power of two ≤ N/2 = {row}"
            ));
        }
        if classes * hidden > row {
            return Err(format!(
                "classes × hidden = {} exceeds a slot row ({row}): FC2 needs one block of \
                 `hidden` slots per class",
                classes * hidden
            ));
        }
        let groups = row / hidden;
        let mut diagonals = 1;
        while 2 * groups * diagonals < inputs {
            diagonals *= 2;
        }
        if diagonals > hidden {
            return Err(format!(
                "{inputs} inputs do not fit {slots} slots at hidden width {hidden}"
            ));
        }
        let baby = 1usize << diagonals.trailing_zeros().div_ceil(2);
        Ok(PerImageLayout {
            slots,
            row,
            inputs,
            hidden,
            classes,
            groups,
            diagonals,
            baby,
            giant: diagonals / baby,
        })
    }

    /// Input index at slot `s` of row `r`, if any.
    fn pixel(&self, r: usize, s: usize) -> Option<usize> {
        let (k, e) = (s / self.hidden, s % self.hidden);
        let p = r * self.groups * self.diagonals + self.diagonals * k + e % self.diagonals;
        (p < self.inputs).then_some(p)
    }

    /// The client's packing of one quantized image.
    pub fn pack(&self, q: &[i64]) -> Vec<i64> {
        let mut v = vec![0; self.slots];
        for r in 0..2 {
            for s in 0..self.row {
                if let Some(p) = self.pixel(r, s) {
                    v[r * self.row + s] = q[p];
                }
            }
        }
        v
    }

    /// FC1 diagonal `d` (before the giant-step pre-rotation).
    pub fn fc1_diagonal(&self, w1: &[i64], d: usize) -> Vec<i64> {
        let mut v = vec![0; self.slots];
        for r in 0..2 {
            for i in 0..self.row {
                if let Some(p) = self.pixel(r, (i + d) % self.row) {
                    v[r * self.row + i] = w1[(i % self.hidden) * self.inputs + p];
                }
            }
        }
        v
    }

    /// Diagonals `[g][b]`, each rotated right by `g·B` for the giant steps.
    pub fn fc1_plain_diagonals(&self, w1: &[i64]) -> Vec<Vec<Vec<i64>>> {
        (0..self.giant)
            .map(|g| {
                (0..self.baby)
                    .map(|b| {
                        let d = self.fc1_diagonal(w1, g * self.baby + b);
                        crate::slots::rotate_rows_left(&d, self.row - (g * self.baby) % self.row)
                    })
                    .collect()
            })
            .collect()
    }

    /// `B1[s mod m]` in every slot.
    pub fn fc1_bias(&self, b1: &[i64]) -> Vec<i64> {
        (0..self.slots).map(|s| b1[s % self.hidden]).collect()
    }

    /// `W2[c][j]` at slot `c·m + j` of row 0.
    pub fn fc2_weights(&self, w2: &[i64]) -> Vec<i64> {
        let mut v = vec![0; self.slots];
        v[..self.classes * self.hidden].copy_from_slice(&w2[..self.classes * self.hidden]);
        v
    }

    /// `B2[c]` at slot `c·m`.
    pub fn fc2_bias(&self, b2: &[i64]) -> Vec<i64> {
        let mut v = vec![0; self.slots];
        for (c, &b) in b2.iter().enumerate() {
            v[c * self.hidden] = b;
        }
        v
    }

    /// Column-rotation amounts the evaluation key must support.
    pub fn rotation_steps(&self) -> Vec<usize> {
        let mut s: Vec<usize> = (1..self.baby).collect();
        s.extend((1..self.giant).map(|g| g * self.baby));
        let mut f = self.row / 2;
        while f >= self.hidden {
            s.push(f);
            f /= 2;
        }
        let mut f = self.hidden / 2;
        while f >= 1 {
            s.push(f);
            f /= 2;
        }
        s.sort_unstable();
        s.dedup();
        s
    }

    /// Operation counts of one image, per layer `(fc1, square, fc2)`.
    pub fn op_counts(&self) -> [OpStats; 3] {
        let fold = self.groups.trailing_zeros() as u64;
        let fc1 = OpStats {
            ct_pt_mul: self.diagonals as u64,
            rotations: (self.baby - 1 + self.giant - 1) as u64 + fold + 1,
            // per giant step B−1 adds, giant−1 adds of giant steps, fold adds, row add, bias
            additions: (self.giant * (self.baby - 1) + self.giant - 1) as u64 + fold + 1 + 1,
            ..OpStats::default()
        };
        let square = OpStats {
            ct_ct_mul: 1,
            relinearizations: 1,
            ..OpStats::default()
        };
        let fold2 = self.hidden.trailing_zeros() as u64;
        let fc2 = OpStats {
            ct_pt_mul: 1,
            rotations: fold2,
            additions: fold2 + 1,
            ..OpStats::default()
        };
        [fc1, square, fc2]
    }
}

/// A network's plaintexts for one backend, encoded once per key set.
pub struct PerImageModel<S: Slots> {
    pub layout: PerImageLayout,
    pub diagonals: Vec<Vec<S::Pt>>,
    pub bias1: S::Pt,
    pub w2: S::Pt,
    pub bias2: S::Pt,
}

impl<S: Slots> PerImageModel<S> {
    pub fn new(backend: &S, layout: PerImageLayout, net: &IntMlp) -> SlotResult<Self> {
        let diagonals = layout
            .fc1_plain_diagonals(&net.w1)
            .iter()
            .map(|g| g.iter().map(|d| backend.encode(d)).collect())
            .collect::<SlotResult<_>>()?;
        Ok(PerImageModel {
            layout,
            diagonals,
            bias1: backend.encode(&layout.fc1_bias(&net.b1))?,
            w2: backend.encode(&layout.fc2_weights(&net.w2))?,
            bias2: backend.encode(&layout.fc2_bias(&net.b2))?,
        })
    }

    /// FC1 on a packed, encrypted image: `acc1[s mod m]` in every slot.
    pub fn fc1(&self, s: &S, x: &S::Ct) -> SlotResult<S::Ct> {
        let l = &self.layout;
        let mut baby = vec![x.clone()];
        for b in 1..l.baby {
            baby.push(s.rotate(x, b)?);
        }
        let mut z: Option<S::Ct> = None;
        for (g, diags) in self.diagonals.iter().enumerate() {
            let mut inner = s.mul_plain(&baby[0], &diags[0])?;
            for b in 1..l.baby {
                inner = s.add(&inner, &s.mul_plain(&baby[b], &diags[b])?)?;
            }
            let part = if g == 0 {
                inner
            } else {
                s.rotate(&inner, g * l.baby)?
            };
            z = Some(match z {
                None => part,
                Some(acc) => s.add(&acc, &part)?,
            });
        }
        let mut z = z.ok_or("no diagonals")?;
        let mut step = l.row / 2;
        while step >= l.hidden {
            z = s.add(&z, &s.rotate(&z, step)?)?;
            step /= 2;
        }
        z = s.add(&z, &s.swap_rows(&z)?)?;
        s.add_plain(&z, &self.bias1)
    }

    /// FC2 on the squared hidden vector: logit `c` at slot `c·m`.
    pub fn fc2(&self, s: &S, h: &S::Ct) -> SlotResult<S::Ct> {
        let mut z = s.mul_plain(h, &self.w2)?;
        let mut step = self.layout.hidden / 2;
        while step >= 1 {
            z = s.add(&z, &s.rotate(&z, step)?)?;
            step /= 2;
        }
        s.add_plain(&z, &self.bias2)
    }

    /// The whole circuit on an encrypted packed image.
    pub fn eval(&self, s: &S, x: &S::Ct) -> SlotResult<S::Ct> {
        let a = self.fc1(s, x)?;
        let h = s.square(&a)?;
        self.fc2(s, &h)
    }

    /// Logits from a decrypted output.
    pub fn read_logits(&self, slots: &[i64]) -> Vec<i64> {
        (0..self.layout.classes)
            .map(|c| slots[c * self.layout.hidden])
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::circuit::{InputQuant, Widths};
    use crate::slots::PlainSlots;
    use compbench_core::seed::Rng;

    fn model(widths: Widths, seed: u64) -> IntMlp {
        let mut rng = Rng::new(seed);
        let qw = widths.weight_qmax();
        let mut w = |n: usize| -> Vec<i64> {
            (0..n)
                .map(|_| rng.below((2 * qw + 1) as usize) as i64 - qw)
                .collect()
        };
        IntMlp {
            widths,
            input: InputQuant {
                scale: 1.0,
                zero: 0,
                levels: widths.input_levels(),
            },
            w1: w(widths.inputs * widths.hidden),
            b1: w(widths.hidden),
            w2: w(widths.hidden * widths.classes),
            b2: w(widths.classes),
            logit_scale: 1.0,
        }
    }

    #[test]
    fn plain_rotations_follow_the_row_semantics() {
        let v: Vec<i64> = (0..8).collect();
        assert_eq!(
            crate::slots::rotate_rows_left(&v, 1),
            vec![1, 2, 3, 0, 5, 6, 7, 4]
        );
        let s = PlainSlots::new(8, 97);
        let c = s.encrypt(&v).unwrap();
        assert_eq!(
            s.decrypt(&s.swap_rows(&c).unwrap()).unwrap(),
            vec![4, 5, 6, 7, 0, 1, 2, 3]
        );
    }

    /// The diagonal method with BSGS equals a plain matrix-vector product, at the real shape
    /// and at small shapes where groups, diagonals and baby/giant steps differ.
    #[test]
    fn diagonal_method_equals_plain_matvec() {
        for (n, k, m, c) in [
            (8192, 784, 128, 10),
            (64, 20, 8, 3),
            (256, 100, 16, 4),
            (128, 64, 4, 2),
        ] {
            let widths = Widths {
                inputs: k,
                hidden: m,
                classes: c,
                input_bits: 4,
                weight_bits: 4,
            };
            let net = model(widths, n as u64 + k as u64);
            let layout = PerImageLayout::new(n, k, m, c).unwrap();
            assert_eq!(layout.baby * layout.giant, layout.diagonals);
            let t = 1_152_921_504_606_830_593; // a 60-bit prime: nothing wraps
            let s = PlainSlots::new(n, t);
            let pm = PerImageModel::new(&s, layout, &net).unwrap();
            let mut rng = Rng::new(7);
            for _ in 0..3 {
                let q: Vec<i64> = (0..k).map(|_| rng.below(16) as i64).collect();
                let x = s.encrypt(&layout.pack(&q)).unwrap();
                let a = s.decrypt(&pm.fc1(&s, &x).unwrap()).unwrap();
                let want = net.hidden(&q);
                for (slot, &v) in a.iter().enumerate() {
                    assert_eq!(v, want[slot % m], "n={n} slot {slot}");
                }
                let before = s.stats();
                let out = pm.eval(&s, &x).unwrap();
                let got = pm.read_logits(&s.decrypt(&out).unwrap());
                let want: Vec<i64> = net.logits(&q).iter().map(|&v| v as i64).collect();
                assert_eq!(got, want, "n={n}");
                // The analytic op counts are what the evaluation does.
                let used = s.stats();
                let counted = OpStats {
                    ct_pt_mul: used.ct_pt_mul - before.ct_pt_mul,
                    ct_ct_mul: used.ct_ct_mul - before.ct_ct_mul,
                    relinearizations: used.relinearizations - before.relinearizations,
                    rotations: used.rotations - before.rotations,
                    additions: used.additions - before.additions,
                    ..OpStats::default()
                };
                let [f1, sq, f2] = layout.op_counts();
                let total = OpStats {
                    ct_pt_mul: f1.ct_pt_mul + f2.ct_pt_mul,
                    ct_ct_mul: sq.ct_ct_mul,
                    relinearizations: sq.relinearizations,
                    rotations: f1.rotations + f2.rotations,
                    additions: f1.additions + f2.additions,
                    ..OpStats::default()
                };
                assert!(counted.same_counts(&total), "{counted:?} vs {total:?}");
            }
        }
    }

    #[test]
    fn real_shape_uses_few_rotations() {
        let l = PerImageLayout::new(8192, 784, 128, 10).unwrap();
        assert_eq!((l.groups, l.diagonals, l.baby, l.giant), (32, 16, 4, 4));
        let [f1, _, f2] = l.op_counts();
        assert_eq!(f1.rotations, 3 + 3 + 5 + 1);
        assert_eq!(f2.rotations, 7);
        assert!(PerImageLayout::new(8192, 784, 512, 10).is_err());
        assert!(PerImageLayout::new(8192, 784, 100, 10).is_err());
    }
}
