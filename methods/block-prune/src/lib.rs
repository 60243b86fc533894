//! LPViT-style hardware-aware block pruning (Xu et al., "LPViT: Low-Power Semi-structured
//! Pruning for Vision Transformers", ECCV 2024): method id `block-prune`.
//!
//! Pipeline of [`BlockPrune::apply`], one function per stage:
//! 1. **Gradient** ([`calib`]): g = ∂ mean(f(x)²)/∂W over a calibration set (label-free, as
//!    LPViT's code), or the cross-entropy gradient.
//! 2. **Block scores and order** ([`blocks`]): W (out × in) tiled into `block_rows ×
//!    block_cols` blocks; score mean |W ⊙ g| (Taylor) or mean |W| (L1); blocks are pruned in
//!    ascending score order inside each layer.
//! 3. **Distortion curves** ([`distortion`]): δ_l(s) on a sparsity grid, diagonal-Fisher term
//!    plus (optionally) the rank-1 term ½[(gᵀΔ)² + λ‖Δ‖²], recomputed at every grid point, EMA
//!    smoothed (decay 0.1 by default, as LPViT's scripts pass `--smooth 0.1`).
//! 4. **Allocation** ([`allocate`]): equal-slope bisection on λ to meet a FLOPs budget over the
//!    pruned layers, with an optional power term β·P_l(s) ([`power`]); the exact DP over the
//!    grid is always run as a check and reported; `allocation: uniform` is the baseline. As in
//!    LPViT's code: the slope is its 5-point stencil reaching ±`fd_step` grid points (inner
//!    offset `fd_step`/2); each layer takes the grid point whose slope is closest to λ over the
//!    whole grid, then capped at its sparsest allowed point (min(1 − min_sp, s)); β uses
//!    slopes with a step of 10 grid points (`recalc_lamda_power`), whatever `fd_step` is.
//! 5. **Masks, fine-tuning** ([`masks`]): blocks zeroed, optional masked fine-tuning.
//! 6. **Deployment** ([`deploy`]): every pruned layer through [`deploy::deploy_layer`], which
//!    reports block shape, density and mask in the Workload IR.
//!
//! Invariants: the first GEMM (patch embedding / first conv) and the classifier stay dense;
//! a block shape must tile every pruned layer exactly (checked before any work); pruned
//! weights are exactly 0 after fine-tuning (verified, an error otherwise); the FLOPs kept by
//! the allocation never exceed the budget. Results depend only on the seed.
//!
//! Not reproduced by default: LPViT's incremental second-order update (its code uses the
//! current Δ where the identity needs the previous one; `rank1_update: as-coded` computes it as
//! an ablation), its `-h` flags that argparse reads as `--help`, and the as-coded sign of the
//! power term (a parameter, `power_sign: as-coded`).
//! Distillation during fine-tuning needs no code here: fine-tuning goes through the shared
//! `train::fit`, which distills when the suite entry names a `teacher:`.

pub mod allocate;
pub mod blocks;
pub mod calib;
pub mod deploy;
pub mod distortion;
pub mod masks;
pub mod power;

mod method;

pub use method::{BLOCK_PRUNE, BlockPrune, Settings};

use compbench_nn::Method;

/// Every method of this crate, for the registry.
pub fn all() -> &'static [&'static dyn Method] {
    static ALL: [&dyn Method; 1] = [&BLOCK_PRUNE];
    &ALL
}
