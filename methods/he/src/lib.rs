//! Homomorphic-encrypted inference (BFV, via the pure-Rust `fhe` crate) of a small MLP with an
//! x² activation, trained quantization-aware to low-bit integers, and checked prediction by
//! prediction against its plaintext integer twin.
//!
//! The crate's code map and invariants follow (from its ARCHITECTURE.md).
#![doc = include_str!("../ARCHITECTURE.md")]

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
