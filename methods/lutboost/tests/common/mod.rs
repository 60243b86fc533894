//! Shared helpers for the integration tests (included with `mod common;`).
#![allow(dead_code)]

use compbench_core::seed::Rng;

pub fn randn(rng: &mut Rng, n: usize, scale: f32) -> Vec<f32> {
    (0..n).map(|_| rng.normal() * scale).collect()
}
