//! Homomorphic-encrypted inference (BFV, via the pure-Rust `fhe` crate) of a small MLP with an
//! x² activation, trained quantization-aware to low-bit integers, and checked prediction by
//! prediction against its plaintext integer twin.
//!
//! Code map:
//! * [`circuit`]: the plaintext integer circuit `acc2 = W2·(W1·q + B1)² + B2`, its mod-t
//!   form, and the accumulator bounds (from bit widths, and from trained weights);
//! * [`model`]: the trainable network (burn), float and QAT forward passes, export to
//!   [`circuit::IntMlp`];
//! * [`bfv`]: parameter choice (plaintext prime, moduli), the HE standard's security table,
//!   the noise model behind the depth check;
//! * [`slots`]: the slot-vector operations both layouts are written against, with a plain
//!   reference backend; [`encrypted`]: the fhe.rs backend (keys per run, seeded);
//! * [`per_image`]: layout B, one image per ciphertext (diagonal mat-vec with BSGS);
//!   [`batch`]: layout A, one image per slot (CryptoNets);
//! * [`deploy`]: the deployed plaintext twins and their Workload IR (with HE op counts);
//! * [`method`]: the registered method `he`; [`bench`]: `compbench bench he`.
//!
//! Invariants:
//! * every layout is written once, generically over [`slots::Slots`]; the plain backend is
//!   what tests compare the ciphertext backend against, and both count the same operations
//!   the IR reports;
//! * no decrypted logit may differ from the plaintext integer circuit's; the method fails
//!   with the count otherwise;
//! * parameters below 128-bit security, a plaintext modulus a logit could wrap, or a depth
//!   the modulus can't carry are refused at validation (`Method::check`).

pub mod batch;
pub mod bench;
pub mod bfv;
pub mod circuit;
pub mod deploy;
pub mod encrypted;
pub mod method;
pub mod model;
pub mod per_image;
pub mod slots;

use compbench_nn::Method;

pub use method::{HE, He};

/// The methods of this crate, for compbench-registry.
pub fn all() -> &'static [&'static dyn Method] {
    static ALL: [&dyn Method; 1] = [&HE];
    &ALL
}
