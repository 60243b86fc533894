//! Fixed block masks on the trainable network: applying them, and fine-tuning with them held.
//!
//! During fine-tuning the hooks compute each pruned layer with `weight ⊙ mask`. A pruned weight
//! starts at 0 (the masks are applied first), its gradient through `weight ⊙ mask` is exactly
//! 0, so AdamW's moments stay 0, its update is 0 and its decoupled decay of 0 is 0: pruned
//! weights stay exactly 0 without re-masking (tested, and verified after every fine-tune).

use std::collections::BTreeMap;

use burn::tensor::{Device, Tensor, TensorData};
use compbench_nn::hooks::{dense_conv2d, dense_linear};
use compbench_nn::{ConvGeom, GemmLayerInfo, GemmShape, GemmSite, Network, TrainHooks};

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

/// Training hooks that multiply each pruned layer's weights by its 0/1 mask.
pub struct MaskHooks {
    /// Masks in the trainable weight's own layout: [in, out] for linear, [Cout, Cin, k, k] for
    /// conv.
    linear: BTreeMap<String, Tensor<2>>,
    conv: BTreeMap<String, Tensor<4>>,
}

impl MaskHooks {
    pub fn new(masks: &Masks, layers: &[GemmLayerInfo], device: &Device) -> MaskHooks {
        let device = device.clone().autodiff();
        let mut linear = BTreeMap::new();
        let mut conv = BTreeMap::new();
        for info in layers {
            let Some(mask) = masks.get(&info.name) else {
                continue;
            };
            let (k, n) = (info.k(), info.n());
            let m: Vec<f32> = mask.iter().map(|&b| if b { 1.0 } else { 0.0 }).collect();
            let t: Tensor<2> = Tensor::from_data(TensorData::new(m, [k, n]), &device);
            match info.shape {
                GemmShape::Linear { .. } => {
                    linear.insert(info.name.clone(), t);
                }
                GemmShape::Conv(g) => {
                    // K×N in im2col order (cin, kh, kw) → [Cout, Cin, k, k].
                    conv.insert(
                        info.name.clone(),
                        t.transpose()
                            .reshape([g.out_channels, g.in_channels, g.kernel, g.kernel]),
                    );
                }
            }
        }
        MaskHooks { linear, conv }
    }
}

impl TrainHooks for MaskHooks {
    fn linear(
        &self,
        site: &GemmSite,
        x: Tensor<2>,
        weight: Tensor<2>,
        bias: Option<Tensor<1>>,
    ) -> Tensor<2> {
        match self.linear.get(site.name) {
            Some(mask) => dense_linear(x, weight * mask.clone(), bias),
            None => dense_linear(x, weight, bias),
        }
    }

    fn conv2d(
        &self,
        site: &GemmSite,
        geom: &ConvGeom,
        x: Tensor<4>,
        weight: Tensor<4>,
        bias: Option<Tensor<1>>,
    ) -> Tensor<4> {
        match self.conv.get(site.name) {
            Some(mask) => dense_conv2d(geom, x, weight * mask.clone(), bias),
            None => dense_conv2d(geom, x, weight, bias),
        }
    }
}
