//! Unstructured magnitude pruning (Han et al., "Learning both Weights and Connections", 2015).
//!
//! The worked example of docs/adding-a-method.md: it touches each extension point once.
//! * [`Method`]: parameters with ranges and docs, `apply` from the trained baseline;
//! * [`TrainHooks`]: optional fine-tuning keeps pruned weights at zero by masking them in the
//!   forward pass, so the optimizer's updates to them have no effect on the network;
//! * [`GemmKernel`]: the deployed layer wraps the dense kernel and reports its sparsity in the
//!   Workload IR, so hardware models price what remains.
//!
//! The deployed kernel still computes densely (zeros included): unstructured sparsity rarely
//! pays on a CPU, which is what block-structured pruning (LPViT) is about.

use std::collections::BTreeMap;

use compbench_core::{BlockSparsity, ParamSpec, Params};
use compbench_nn::deployed::AnnotatedGemm;
use compbench_nn::hooks::MaskHooks;
use compbench_nn::{Compressed, GemmKernel, Method, MethodCtx, MethodError, Network, train};

pub static MAGNITUDE_PRUNE: MagnitudePrune = MagnitudePrune;

/// Every method of this crate, for the registry.
pub fn all() -> &'static [&'static dyn Method] {
    static ALL: [&dyn Method; 1] = [&MAGNITUDE_PRUNE];
    &ALL
}

#[derive(Debug, Clone, Copy, Default)]
pub struct MagnitudePrune;

const PARAMS: &[ParamSpec] = &[
    ParamSpec::float(
        "sparsity",
        0.5,
        0.0,
        0.99,
        "fraction of weights removed in each pruned layer",
    ),
    ParamSpec::bool(
        "keep_first_last",
        true,
        "leave the first layer and the classifier dense",
    ),
    ParamSpec::int(
        "finetune_epochs",
        0,
        0,
        100,
        "masked fine-tuning epochs after pruning (0 = none)",
    ),
];

impl Method for MagnitudePrune {
    fn id(&self) -> &'static str {
        "magnitude-prune"
    }

    fn describe(&self) -> &'static str {
        "unstructured magnitude pruning per layer, optional masked fine-tuning (Han et al. 2015)"
    }

    fn family(&self) -> Option<compbench_core::Family> {
        Some(compbench_core::Family::Pruning)
    }

    fn params(&self) -> &'static [ParamSpec] {
        PARAMS
    }

    fn apply(&self, ctx: &MethodCtx, params: &Params) -> Result<Compressed, MethodError> {
        let sparsity = params.float("sparsity");
        let keep_ends = params.bool("keep_first_last");
        let layers = ctx.baseline.gemm_layers();

        // 1. Masks from the baseline's weight magnitudes, one threshold per layer.
        let mut masks: BTreeMap<String, Vec<bool>> = BTreeMap::new();
        for info in &layers {
            if keep_ends && (info.first || info.last) {
                continue;
            }
            let (w, _) = ctx
                .baseline
                .gemm_weights(&info.name)
                .expect("listed layer has weights");
            masks.insert(info.name.clone(), magnitude_mask(&w, sparsity));
        }

        // 2. Apply them, and optionally fine-tune with the masks held in place.
        let mut network = apply_masks(ctx.baseline.clone(), &masks);
        let mut notes = Vec::new();
        let epochs = params.int("finetune_epochs") as usize;
        if epochs > 0 {
            let cfg = ctx.train.clone().with_epochs(epochs);
            let hooks = MaskHooks::new(&masks, &layers, ctx.device);
            let (tuned, log) = train::fit(
                network,
                &cfg,
                &ctx.data.train,
                ctx.device,
                ctx.seed,
                |m: &Network, x| m.forward(x, &hooks),
                ctx.log,
            );
            (ctx.log)(&format!("masked fine-tuning: {:.1} s", log.train_s));
            // Weights the optimizer moved under a zero mask are re-zeroed; they never reached the output.
            network = apply_masks(tuned, &masks);
            notes.push(format!("fine-tuned {epochs} epoch(s) with masks fixed"));
        }

        // 3. Deploy: dense kernels that know their sparsity.
        let mut deployed = network.to_deployed();
        let (mut removed, mut total) = (0usize, 0usize);
        for (name, mask) in &masks {
            let kept = mask.iter().filter(|&&m| m).count();
            removed += mask.len() - kept;
            total += mask.len();
            let density = kept as f64 / mask.len().max(1) as f64;
            deployed
                .replace_gemm(name, |old| {
                    // Kept weights in f32 plus one bit of mask each (a bitmap index).
                    let elements = mask.len() as f64;
                    Box::new(
                        AnnotatedGemm::new(clone_dense(old), "dense-f32-pruned")
                            .with_sparsity(BlockSparsity {
                                block_k: 1,
                                block_n: 1,
                                density,
                                mask: None,
                            })
                            .with_weight_bits(elements * density * 32.0 + elements),
                    )
                })
                .map_err(MethodError::Failed)?;
        }
        deployed.name = format!("{}/magnitude-prune", ctx.model.label());
        let mut metrics = BTreeMap::new();
        metrics.insert(
            "pruned_fraction".to_string(),
            removed as f64 / total.max(1) as f64,
        );
        Ok(Compressed {
            deployed,
            metrics,
            notes,
        })
    }
}

/// Keep-mask of the weights whose magnitude is above the `sparsity` quantile.
/// Ties at the threshold are broken by position so exactly ⌊sparsity·n⌋ weights go.
pub fn magnitude_mask(w: &[f32], sparsity: f64) -> Vec<bool> {
    let n_prune = ((w.len() as f64) * sparsity).floor() as usize;
    let mut order: Vec<usize> = (0..w.len()).collect();
    order.sort_by(|&a, &b| w[a].abs().total_cmp(&w[b].abs()).then(a.cmp(&b)));
    let mut mask = vec![true; w.len()];
    for &i in &order[..n_prune] {
        mask[i] = false;
    }
    mask
}

fn apply_masks(mut network: Network, masks: &BTreeMap<String, Vec<bool>>) -> Network {
    for (name, mask) in masks {
        let (mut w, b) = network.gemm_weights(name).expect("masked layer exists");
        for (x, &keep) in w.iter_mut().zip(mask) {
            if !keep {
                *x = 0.0;
            }
        }
        network = network.set_gemm_weights(name, &w, b.as_deref());
    }
    network
}

fn clone_dense(old: &dyn GemmKernel) -> Box<dyn GemmKernel> {
    let (w, b) = old
        .dense_weights()
        .expect("a freshly deployed layer is dense");
    Box::new(compbench_nn::deployed::DenseGemm::new(
        old.k(),
        old.n(),
        w.to_vec(),
        b.map(<[f32]>::to_vec),
    ))
}
