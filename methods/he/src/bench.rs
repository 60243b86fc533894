//! `compbench bench he`: the seconds of one of each BFV operation on this machine, single
//! thread, at the suite's parameter points, through the same [`FheSlots`] calls the layouts
//! make. Its JSON output is the calibration the `he-cpu` hardware model prices the Workload
//! IR's [`compbench_core::HeCost`] counts with (hwmodels/data/).
//!
//! Each figure is the median over repetitions filling a time budget
//! ([`compbench_nn::bench::median_seconds`]); every repetition takes the next of [`POOL`]
//! distinct operands and rotation keys, so operands come from memory rather than a warm cache,
//! as in the circuit. What each one times, in the IR's counting convention ([`HeOpSeconds`]):
//! * `ct_pt_mul`: a fresh ciphertext × a pre-encoded SIMD plaintext (the layouts encode their
//!   diagonals once, in `PerImageModel::new`);
//! * `ct_scalar_mul`: a fhe.rs `dot_product_scalar` over [`DOT_TERMS`] ciphertexts (quick:
//!   [`DOT_TERMS_QUICK`]) divided by its terms, so one term carries its accumulation, as the
//!   batch layout's dot products do;
//! * `ct_ct_mul`: the tensor product alone; `relinearization`: the key switch of its
//!   three-polynomial result, minus the clone that feeds each repetition a fresh input;
//! * `rotation`: a column rotation by 1 … [`POOL`] slots in turn, each with its own Galois key
//!   (key switch included; every step and the row swap cost the same key switch);
//! * `addition`: ciphertext + ciphertext; `encrypt`, `decrypt`: encode + encrypt, decrypt +
//!   decode of a full slot vector.

use std::cell::{Cell, RefCell};

use compbench_core::HeOpSeconds;
use compbench_nn::bench::median_seconds;
use fhe::bfv::Ciphertext;

use crate::bfv::HeParams;
use crate::encrypted::FheSlots;
use crate::slots::Slots;

/// The suite's two parameter points (suites/he.yaml): the batch layout's N = 8192, log q = 218
/// and the per-image layout's N = 16384, log q = 438, both with a 47-bit t.
pub const SUITE_POINTS: [HeParams; 2] = [
    HeParams {
        degree: 8192,
        log_q: 218,
        plain_bits: 47,
    },
    HeParams {
        degree: 16384,
        log_q: 438,
        plain_bits: 47,
    },
];

/// Ciphertexts in the timed dot product (the batch layout's rows have a few hundred terms per
/// sign; the per-term cost includes the dot product's one final reduction spread over them).
pub const DOT_TERMS: usize = 128;
pub const DOT_TERMS_QUICK: usize = 32;

/// Distinct operands (ciphertexts, plaintexts, rotation keys) each op cycles through: 16
/// ciphertexts of N = 16384 (2 MB each) and 16 Galois keys (≈ 5.7 MB each) exceed this
/// machine's 32 MB L3, as the per-image circuit's 19 keys and ~20 ciphertexts do.
pub const POOL: usize = 16;
pub const POOL_QUICK: usize = 4;

/// Time every operation at each point; `log` gets one line per point.
pub fn measure(
    points: &[HeParams],
    quick: bool,
    log: &dyn Fn(&str),
) -> Result<Vec<HeOpSeconds>, String> {
    points
        .iter()
        .map(|p| measure_point(p, quick, log))
        .collect()
}

fn measure_point(p: &HeParams, quick: bool, log: &dyn Fn(&str)) -> Result<HeOpSeconds, String> {
    let par = p.build()?;
    let budget = if quick { 0.2 } else { 1.0 };
    let n = par.degree();
    log(&format!(
        "bench he: N = {n}, log q = {}, t = {} bits: keys…",
        p.log_q, p.plain_bits
    ));
    let pool = if quick { POOL_QUICK } else { POOL };
    let steps: Vec<usize> = (1..=pool).collect();
    let fhe = FheSlots::new(&par, &steps, true, 1)?;
    // Values like the circuit's: 4-bit pixels, 4-bit signed weights; `pool` distinct inputs
    // (and rotation keys), cycled through so that each call finds its operands as cold as the
    // circuit does (it touches each diagonal, key and ciphertext once per image).
    let pixels = |j: usize| -> Vec<i64> { (0..n).map(|i| ((i + j) * 7 % 16) as i64).collect() };
    let weights =
        |j: usize| -> Vec<i64> { (0..n).map(|i| ((i + j) * 5 % 15) as i64 - 7).collect() };
    let xs: Vec<Ciphertext> = (0..pool)
        .map(|j| fhe.encrypt(&pixels(j)))
        .collect::<Result<_, _>>()?;
    let pts = (0..pool)
        .map(|j| fhe.encode(&weights(j)))
        .collect::<Result<Vec<_>, _>>()?;
    let products: Vec<Ciphertext> = (0..pool)
        .map(|j| fhe.tensor(&xs[j], &xs[(j + 1) % pool]))
        .collect();
    let next = Cell::new(0usize);
    let pick = || {
        let j = next.get();
        next.set((j + 1) % pool);
        j
    };
    let fresh = pixels(0);

    let first_err: RefCell<Option<String>> = RefCell::new(None);
    let keep = |r: Result<Ciphertext, String>| {
        if let Err(e) = r {
            first_err.borrow_mut().get_or_insert(e);
        }
    };
    let encrypt = median_seconds(budget, || keep(fhe.encrypt(&fresh)));
    let decrypt = median_seconds(budget, || {
        std::hint::black_box(fhe.decrypt(&xs[pick()]).ok());
    });
    let ct_pt_mul = median_seconds(budget, || {
        let j = pick();
        keep(fhe.mul_plain(&xs[j], &pts[j]))
    });
    let addition = median_seconds(budget, || {
        let j = pick();
        keep(fhe.add(&xs[j], &xs[(j + 1) % pool]))
    });
    let ct_ct_mul = median_seconds(budget, || {
        let j = pick();
        std::hint::black_box(fhe.tensor(&xs[j], &xs[(j + 1) % pool]));
    });
    let relin_and_clone = median_seconds(budget, || {
        let mut c = products[pick()].clone();
        keep(fhe.relinearize(&mut c).map(|()| c));
    });
    let clone = median_seconds(budget, || {
        std::hint::black_box(products[pick()].clone());
    });
    let rotation = median_seconds(budget, || {
        let j = pick();
        keep(fhe.rotate(&xs[j], steps[j]))
    });

    let terms = if quick { DOT_TERMS_QUICK } else { DOT_TERMS };
    log(&format!(
        "bench he: N = {n}: {terms} ciphertexts for the dot product…"
    ));
    let cts: Vec<Ciphertext> = (0..terms)
        .map(|i| fhe.encrypt(&pixels(i)))
        .collect::<Result<_, _>>()?;
    let scalars: Vec<_> = (0..terms)
        .map(|i| fhe.encode_scalar(1 + (i % 7) as i64))
        .collect::<Result<_, _>>()?;
    let ct_refs: Vec<&Ciphertext> = cts.iter().collect();
    let pt_refs: Vec<_> = scalars.iter().collect();
    let dot = median_seconds(budget, || keep(fhe.dot_scalars(&ct_refs, &pt_refs)));
    if let Some(e) = first_err.into_inner() {
        return Err(e);
    }
    Ok(HeOpSeconds {
        poly_degree: n as u32,
        log_q: fhe.log_q().round() as u32,
        plain_bits: (fhe.t() as f64).log2().ceil() as u32,
        ct_pt_mul,
        ct_scalar_mul: dot / terms as f64,
        ct_ct_mul,
        relinearization: (relin_and_clone - clone).max(0.0),
        rotation,
        addition,
        encrypt,
        decrypt,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bench runs at a small point and every figure is a positive time; the dearer ops
    /// (key switches, tensor product) cost more than an addition, as they must for the same
    /// ciphertext size.
    #[test]
    fn small_point_times_every_op() {
        let p = HeParams {
            degree: 4096,
            log_q: 108,
            plain_bits: 20,
        };
        let rows = measure(&[p], true, &|_| {}).unwrap();
        let r = &rows[0];
        assert_eq!(r.poly_degree, 4096);
        for v in [
            r.ct_pt_mul,
            r.ct_scalar_mul,
            r.ct_ct_mul,
            r.relinearization,
            r.rotation,
            r.addition,
            r.encrypt,
            r.decrypt,
        ] {
            assert!(v > 0.0 && v < 1.0, "{r:?}");
        }
        assert!(r.rotation > r.addition && r.ct_ct_mul > r.addition, "{r:?}");
    }
}
