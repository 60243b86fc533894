//! The BFV backend of [`Slots`]: fhe.rs ciphertexts, keys generated from the run's seed.
//!
//! The secret key lives only inside [`FheSlots`] and is dropped (and zeroized by fhe.rs) with
//! it; nothing returns it. Key generation and encryption errors draw from a ChaCha20 stream
//! seeded by the method's seed. fhe.rs 0.1.1 draws the public `a` of a secret-key encryption
//! from the OS (its `SecretKey::encrypt_poly`), so ciphertexts, and the exact noise they
//! carry, differ between runs by that randomness; the decrypted values do not.

use std::cell::RefCell;
use std::sync::Arc;

use fhe::bfv::{
    BfvParameters, Ciphertext, Encoding, EvaluationKey, EvaluationKeyBuilder, Plaintext,
    RelinearizationKey, SecretKey,
};
use fhe_traits::{FheDecoder, FheDecrypter, FheEncoder, FheEncrypter, Serialize};
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;

use crate::slots::{OpStats, SlotResult, Slots, timed};

fn err(e: impl std::fmt::Display) -> String {
    format!("fhe.rs: {e}")
}

/// Serialized sizes, bytes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KeySizes {
    pub secret_key: usize,
    /// Galois keys for the rotations (0 when the layout rotates nothing).
    pub galois_keys: usize,
    pub relinearization_key: usize,
    /// A fresh secret-key ciphertext as uploaded (fhe.rs sends the seed of `a`, not `a`).
    pub upload_ciphertext: usize,
    /// A ciphertext after evaluation (both polynomials), as downloaded.
    pub result_ciphertext: usize,
}

/// BFV slots: the keys of one run and the operations on its ciphertexts.
pub struct FheSlots {
    par: Arc<BfvParameters>,
    sk: SecretKey,
    ek: Option<EvaluationKey>,
    rk: RelinearizationKey,
    rng: RefCell<ChaCha20Rng>,
    stats: RefCell<OpStats>,
    pub keygen_s: f64,
}

impl FheSlots {
    /// Fresh keys: relinearization, plus Galois keys for `rotations` (column steps) and the
    /// row swap when `rows` is set.
    pub fn new(
        par: &Arc<BfvParameters>,
        rotations: &[usize],
        rows: bool,
        seed: u64,
    ) -> SlotResult<FheSlots> {
        let t0 = std::time::Instant::now();
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let sk = SecretKey::random(par, &mut rng);
        let rk = RelinearizationKey::new(&sk, &mut rng).map_err(err)?;
        let ek = if rotations.is_empty() && !rows {
            None
        } else {
            let mut b = EvaluationKeyBuilder::new(&sk).map_err(err)?;
            for &i in rotations {
                b.enable_column_rotation(i).map_err(err)?;
            }
            if rows {
                b.enable_row_rotation().map_err(err)?;
            }
            Some(b.build(&mut rng).map_err(err)?)
        };
        Ok(FheSlots {
            par: par.clone(),
            sk,
            ek,
            rk,
            rng: RefCell::new(rng),
            stats: RefCell::new(OpStats::default()),
            keygen_s: t0.elapsed().as_secs_f64(),
        })
    }

    pub fn t(&self) -> u64 {
        self.par.plaintext()
    }

    /// `log2 q` of the full modulus chain.
    pub fn log_q(&self) -> f64 {
        self.par.moduli().iter().map(|&q| (q as f64).log2()).sum()
    }

    /// Bits of noise budget left in `c`: `log2(q/t) − 1 − log2|noise|` (decryption is
    /// correct while it is positive).
    pub fn noise_budget(&self, c: &Ciphertext) -> SlotResult<f64> {
        // SAFETY: `measure_noise` is unsafe only because it runs in variable time (a timing
        // side channel on the secret key); this is a measurement inside the key holder.
        let noise = unsafe { self.sk.measure_noise(c) }.map_err(err)?;
        Ok(self.log_q() - (self.t() as f64).log2() - 1.0 - noise as f64)
    }

    pub fn sizes(&self, fresh: &Ciphertext, result: &Ciphertext) -> KeySizes {
        KeySizes {
            secret_key: self.sk.to_bytes().len(),
            galois_keys: self.ek.as_ref().map_or(0, |e| e.to_bytes().len()),
            relinearization_key: self.rk.to_bytes().len(),
            upload_ciphertext: fresh.to_bytes().len(),
            result_ciphertext: result.to_bytes().len(),
        }
    }

    /// The tensor product `a × b` without relinearization (three polynomials): the first half
    /// of [`Slots::square`], apart for `compbench bench he`.
    pub fn tensor(&self, a: &Ciphertext, b: &Ciphertext) -> Ciphertext {
        a * b
    }

    /// Relinearize a three-polynomial ciphertext in place: the second half of
    /// [`Slots::square`] (one key switch).
    pub fn relinearize(&self, c: &mut Ciphertext) -> SlotResult<()> {
        self.rk.relinearizes(c).map_err(err)
    }

    fn ek(&self) -> SlotResult<&EvaluationKey> {
        self.ek
            .as_ref()
            .ok_or_else(|| "no Galois keys were generated".to_string())
    }
}

impl Slots for FheSlots {
    type Ct = Ciphertext;
    type Pt = Plaintext;

    fn slots(&self) -> usize {
        self.par.degree()
    }

    fn encode(&self, v: &[i64]) -> SlotResult<Plaintext> {
        Plaintext::try_encode(v, Encoding::simd(), &self.par).map_err(err)
    }

    fn encode_scalar(&self, c: i64) -> SlotResult<Plaintext> {
        Plaintext::try_encode(&[c], Encoding::poly(), &self.par).map_err(err)
    }

    fn encrypt(&self, v: &[i64]) -> SlotResult<Ciphertext> {
        timed(
            &self.stats,
            |s| &mut s.encrypt_s,
            || {
                let pt = self.encode(v)?;
                self.sk
                    .try_encrypt(&pt, &mut *self.rng.borrow_mut())
                    .map_err(err)
            },
        )
        .inspect(|_| self.stats.borrow_mut().encryptions += 1)
    }

    fn decrypt(&self, c: &Ciphertext) -> SlotResult<Vec<i64>> {
        timed(
            &self.stats,
            |s| &mut s.decrypt_s,
            || {
                let pt = self.sk.try_decrypt(c).map_err(err)?;
                Vec::<i64>::try_decode(&pt, Encoding::simd()).map_err(err)
            },
        )
        .inspect(|_| self.stats.borrow_mut().decryptions += 1)
    }

    fn rotate(&self, c: &Ciphertext, steps: usize) -> SlotResult<Ciphertext> {
        let ek = self.ek()?;
        let out = timed(
            &self.stats,
            |s| &mut s.rotation_s,
            || ek.rotates_columns_by(c, steps).map_err(err),
        )?;
        self.stats.borrow_mut().rotations += 1;
        Ok(out)
    }

    fn swap_rows(&self, c: &Ciphertext) -> SlotResult<Ciphertext> {
        let ek = self.ek()?;
        let out = timed(
            &self.stats,
            |s| &mut s.rotation_s,
            || ek.rotates_rows(c).map_err(err),
        )?;
        self.stats.borrow_mut().rotations += 1;
        Ok(out)
    }

    fn mul_plain(&self, c: &Ciphertext, p: &Plaintext) -> SlotResult<Ciphertext> {
        let out = timed(&self.stats, |s| &mut s.ct_pt_mul_s, || c * p);
        self.stats.borrow_mut().ct_pt_mul += 1;
        Ok(out)
    }

    fn add(&self, a: &Ciphertext, b: &Ciphertext) -> SlotResult<Ciphertext> {
        let out = timed(&self.stats, |s| &mut s.addition_s, || a + b);
        self.stats.borrow_mut().additions += 1;
        Ok(out)
    }

    fn sub(&self, a: &Ciphertext, b: &Ciphertext) -> SlotResult<Ciphertext> {
        let out = timed(&self.stats, |s| &mut s.addition_s, || a - b);
        self.stats.borrow_mut().additions += 1;
        Ok(out)
    }

    fn add_plain(&self, a: &Ciphertext, p: &Plaintext) -> SlotResult<Ciphertext> {
        let out = timed(&self.stats, |s| &mut s.addition_s, || a + p);
        self.stats.borrow_mut().additions += 1;
        Ok(out)
    }

    fn dot_scalars(&self, cts: &[&Ciphertext], scalars: &[&Plaintext]) -> SlotResult<Ciphertext> {
        if cts.is_empty() || cts.len() != scalars.len() {
            return Err("dot product of empty or unequal lists".into());
        }
        let out = timed(
            &self.stats,
            |s| &mut s.ct_scalar_mul_s,
            || {
                fhe::bfv::dot_product_scalar(cts.iter().copied(), scalars.iter().copied())
                    .map_err(err)
            },
        )?;
        let mut s = self.stats.borrow_mut();
        s.ct_scalar_mul += cts.len() as u64;
        s.additions += cts.len() as u64 - 1;
        Ok(out)
    }

    fn square(&self, c: &Ciphertext) -> SlotResult<Ciphertext> {
        let out = timed(
            &self.stats,
            |s| &mut s.square_s,
            || {
                let mut sq = c * c;
                self.rk.relinearizes(&mut sq).map_err(err)?;
                Ok::<_, String>(sq)
            },
        )?;
        let mut s = self.stats.borrow_mut();
        s.ct_ct_mul += 1;
        s.relinearizations += 1;
        Ok(out)
    }

    fn stats(&self) -> OpStats {
        self.stats.borrow().clone()
    }
}
