//! Fixed block masks on the trainable network: applying them, and fine-tuning with them held.
//!
//! During fine-tuning the hooks compute each pruned layer with `weight ⊙ mask`. A pruned weight
//! starts at 0 (the masks are applied first), its gradient through `weight ⊙ mask` is exactly
//! 0, so AdamW's moments stay 0, its update is 0 and its decoupled decay of 0 is 0: pruned
//! weights stay exactly 0 without re-masking (tested, and verified after every fine-tune).

use std::collections::BTreeMap;

use compbench_nn::Network;

/// Per layer name: the K×N element keep-mask.
pub type Masks = BTreeMap<String, Vec<bool>>;

/// Zero the pruned weights of every masked layer.
pub fn apply_masks(mut network: Network, masks: &Masks) -> Result<Network, String> {
    for (name, mask) in masks {
        let (mut w, b) = network
            .gemm_weights(name)
            .ok_or_else(|| format!("no GEMM layer `{name}`"))?;
        for (x, &keep) in w.iter_mut().zip(mask) {
            if !keep {
                *x = 0.0;
            }
        }
        network = network.try_set_gemm_weights(name, &w, b.as_deref())?;
    }
    Ok(network)
}

/// Pruned positions holding a non-zero weight (0 when the masks held).
pub fn mask_violations(network: &Network, masks: &Masks) -> usize {
    masks
        .iter()
        .map(|(name, mask)| {
            let (w, _) = network.gemm_weights(name).expect("masked layer exists");
            w.iter()
                .zip(mask)
                .filter(|(x, keep)| !**keep && **x != 0.0)
                .count()
        })
        .sum()
}

/// Training hooks that multiply each pruned layer's weights by its 0/1 mask (shared with
/// magnitude-prune; they live in compbench-nn).
pub use compbench_nn::hooks::MaskHooks;
