//! Shared helpers for the integration tests (included with `mod common;`).
#![allow(dead_code)]

use compbench_core::seed::Rng;
use compbench_lutboost::kernel::round_to_f16;
use compbench_lutboost::tree::TreeEncoder;

pub fn randn(rng: &mut Rng, n: usize, scale: f32) -> Vec<f32> {
    (0..n).map(|_| rng.normal() * scale).collect()
}

/// A random tree: random split dimensions, thresholds drawn from the inputs' range (some equal
/// to input values, so ties at a threshold are exercised).
pub fn random_tree(rng: &mut Rng, nc: usize, v: usize, levels: usize) -> TreeEncoder {
    let c = 1 << levels;
    TreeEncoder {
        nc,
        v,
        levels,
        dims: (0..nc * levels).map(|_| rng.below(v) as u8).collect(),
        thresholds: (0..nc * (c - 1))
            .map(|_| round_to_f16(rng.normal()))
            .collect(),
    }
}
