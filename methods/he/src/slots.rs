//! The slot-vector operations both layouts are written against, and two implementations:
//! [`PlainSlots`] (plain vectors mod t: the reference the tests compare with) and, in
//! [`crate::encrypted`], BFV ciphertexts.
//!
//! Slot order is fhe.rs's SIMD order: `N` slots as a 2 × N/2 matrix, row 0 first. A column
//! rotation by `i` moves every row left by `i` (slot `c` receives slot `c + i`); the row swap
//! exchanges the two rows. The encrypted backend is tested against these semantics.

use std::cell::RefCell;
use std::time::Instant;

use serde::{Deserialize, Serialize};

/// Homomorphic operations by kind (counts and, for the encrypted backend, seconds).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OpStats {
    /// Ciphertext × SIMD-encoded plaintext vector.
    pub ct_pt_mul: u64,
    /// Ciphertext × integer constant (summed in dot products).
    pub ct_scalar_mul: u64,
    pub ct_ct_mul: u64,
    pub relinearizations: u64,
    /// Column rotations and row swaps.
    pub rotations: u64,
    /// Ciphertext + ciphertext and ciphertext + plaintext.
    pub additions: u64,
    pub encryptions: u64,
    pub decryptions: u64,
    pub ct_pt_mul_s: f64,
    pub ct_scalar_mul_s: f64,
    pub square_s: f64,
    pub rotation_s: f64,
    pub addition_s: f64,
    pub encrypt_s: f64,
    pub decrypt_s: f64,
}

impl OpStats {
    /// Key switches: one per rotation and per relinearization.
    pub fn key_switches(&self) -> u64 {
        self.rotations + self.relinearizations
    }

    /// Same counts (timings ignored).
    pub fn same_counts(&self, o: &OpStats) -> bool {
        (
            self.ct_pt_mul,
            self.ct_scalar_mul,
            self.ct_ct_mul,
            self.relinearizations,
            self.rotations,
            self.additions,
        ) == (
            o.ct_pt_mul,
            o.ct_scalar_mul,
            o.ct_ct_mul,
            o.relinearizations,
            o.rotations,
            o.additions,
        )
    }
}

pub type SlotResult<T> = Result<T, String>;

/// What a layout needs from the (encrypted or plain) slot vectors.
pub trait Slots {
    type Ct: Clone;
    type Pt;
    /// Number of slots N.
    fn slots(&self) -> usize;
    /// A SIMD plaintext of up to N values (reduced mod t).
    fn encode(&self, v: &[i64]) -> SlotResult<Self::Pt>;
    /// A constant plaintext (every slot `c`), for scalar products.
    fn encode_scalar(&self, c: i64) -> SlotResult<Self::Pt>;
    /// The client's side: encrypt (or copy) a vector of up to N values.
    fn encrypt(&self, v: &[i64]) -> SlotResult<Self::Ct>;
    /// The client's side: decrypt and centered-lift to `(−t/2, t/2]`.
    fn decrypt(&self, c: &Self::Ct) -> SlotResult<Vec<i64>>;
    fn rotate(&self, c: &Self::Ct, steps: usize) -> SlotResult<Self::Ct>;
    fn swap_rows(&self, c: &Self::Ct) -> SlotResult<Self::Ct>;
    fn mul_plain(&self, c: &Self::Ct, p: &Self::Pt) -> SlotResult<Self::Ct>;
    fn add(&self, a: &Self::Ct, b: &Self::Ct) -> SlotResult<Self::Ct>;
    fn sub(&self, a: &Self::Ct, b: &Self::Ct) -> SlotResult<Self::Ct>;
    fn add_plain(&self, a: &Self::Ct, p: &Self::Pt) -> SlotResult<Self::Ct>;
    /// `Σ cts[i] · scalars[i]` for constant plaintexts from [`Slots::encode_scalar`].
    fn dot_scalars(&self, cts: &[&Self::Ct], scalars: &[&Self::Pt]) -> SlotResult<Self::Ct>;
    /// `c²`, relinearized.
    fn square(&self, c: &Self::Ct) -> SlotResult<Self::Ct>;
    /// Counts (and times) so far.
    fn stats(&self) -> OpStats;
}

/// Plain slot vectors in `[0, t)`: the reference semantics.
pub struct PlainSlots {
    pub n: usize,
    pub t: u64,
    stats: RefCell<OpStats>,
}

impl PlainSlots {
    pub fn new(n: usize, t: u64) -> PlainSlots {
        PlainSlots {
            n,
            t,
            stats: RefCell::new(OpStats::default()),
        }
    }

    fn reduce(&self, v: i64) -> u64 {
        v.rem_euclid(self.t as i64) as u64
    }

    fn mulmod(&self, a: u64, b: u64) -> u64 {
        ((a as u128 * b as u128) % self.t as u128) as u64
    }

    fn zip(&self, a: &[u64], b: &[u64], f: impl Fn(u64, u64) -> u64) -> Vec<u64> {
        a.iter().zip(b).map(|(&x, &y)| f(x, y)).collect()
    }

    fn note(&self, f: impl FnOnce(&mut OpStats)) {
        f(&mut self.stats.borrow_mut());
    }
}

/// Rotate each half of `v` (a row of the 2 × N/2 slot matrix) left by `steps`.
pub fn rotate_rows_left<T: Clone>(v: &[T], steps: usize) -> Vec<T> {
    let r = v.len() / 2;
    let mut out = Vec::with_capacity(v.len());
    for row in v.chunks_exact(r) {
        out.extend((0..r).map(|c| row[(c + steps) % r].clone()));
    }
    out
}

impl Slots for PlainSlots {
    type Ct = Vec<u64>;
    type Pt = Vec<u64>;

    fn slots(&self) -> usize {
        self.n
    }

    fn encode(&self, v: &[i64]) -> SlotResult<Vec<u64>> {
        if v.len() > self.n {
            return Err(format!("{} values for {} slots", v.len(), self.n));
        }
        let mut out = vec![0; self.n];
        for (o, &x) in out.iter_mut().zip(v) {
            *o = self.reduce(x);
        }
        Ok(out)
    }

    fn encode_scalar(&self, c: i64) -> SlotResult<Vec<u64>> {
        Ok(vec![self.reduce(c); self.n])
    }

    fn encrypt(&self, v: &[i64]) -> SlotResult<Vec<u64>> {
        self.note(|s| s.encryptions += 1);
        self.encode(v)
    }

    fn decrypt(&self, c: &Vec<u64>) -> SlotResult<Vec<i64>> {
        self.note(|s| s.decryptions += 1);
        let t = self.t as i128;
        Ok(c.iter()
            .map(|&x| crate::circuit::center(x as i128, t) as i64)
            .collect())
    }

    fn rotate(&self, c: &Vec<u64>, steps: usize) -> SlotResult<Vec<u64>> {
        self.note(|s| s.rotations += 1);
        Ok(rotate_rows_left(c, steps))
    }

    fn swap_rows(&self, c: &Vec<u64>) -> SlotResult<Vec<u64>> {
        self.note(|s| s.rotations += 1);
        let r = self.n / 2;
        Ok(c[r..].iter().chain(&c[..r]).copied().collect())
    }

    fn mul_plain(&self, c: &Vec<u64>, p: &Vec<u64>) -> SlotResult<Vec<u64>> {
        self.note(|s| s.ct_pt_mul += 1);
        Ok(self.zip(c, p, |a, b| self.mulmod(a, b)))
    }

    fn add(&self, a: &Vec<u64>, b: &Vec<u64>) -> SlotResult<Vec<u64>> {
        self.note(|s| s.additions += 1);
        Ok(self.zip(a, b, |x, y| (x + y) % self.t))
    }

    fn sub(&self, a: &Vec<u64>, b: &Vec<u64>) -> SlotResult<Vec<u64>> {
        self.note(|s| s.additions += 1);
        Ok(self.zip(a, b, |x, y| (x + self.t - y) % self.t))
    }

    fn add_plain(&self, a: &Vec<u64>, p: &Vec<u64>) -> SlotResult<Vec<u64>> {
        self.note(|s| s.additions += 1);
        Ok(self.zip(a, p, |x, y| (x + y) % self.t))
    }

    fn dot_scalars(&self, cts: &[&Vec<u64>], scalars: &[&Vec<u64>]) -> SlotResult<Vec<u64>> {
        if cts.is_empty() || cts.len() != scalars.len() {
            return Err("dot product of empty or unequal lists".into());
        }
        self.note(|s| {
            s.ct_scalar_mul += cts.len() as u64;
            s.additions += cts.len() as u64 - 1;
        });
        let mut acc = vec![0u64; self.n];
        for (c, p) in cts.iter().zip(scalars) {
            for ((a, &x), &w) in acc.iter_mut().zip(c.iter()).zip(p.iter()) {
                *a = (*a + self.mulmod(x, w)) % self.t;
            }
        }
        Ok(acc)
    }

    fn square(&self, c: &Vec<u64>) -> SlotResult<Vec<u64>> {
        self.note(|s| {
            s.ct_ct_mul += 1;
            s.relinearizations += 1;
        });
        Ok(c.iter().map(|&x| self.mulmod(x, x)).collect())
    }

    fn stats(&self) -> OpStats {
        self.stats.borrow().clone()
    }
}

/// Time `f` into the seconds field chosen by `field`.
pub(crate) fn timed<T>(
    stats: &RefCell<OpStats>,
    field: impl FnOnce(&mut OpStats) -> &mut f64,
    f: impl FnOnce() -> T,
) -> T {
    let t0 = Instant::now();
    let out = f();
    *field(&mut stats.borrow_mut()) += t0.elapsed().as_secs_f64();
    out
}
