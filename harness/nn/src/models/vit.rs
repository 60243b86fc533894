//! Tiny ViT: non-overlapping patches → linear embedding + learned positions → `depth` pre-LN
//! blocks (multi-head self-attention, MLP with exact GELU) → mean over tokens → LayerNorm → head.
//!
//! The patch embedding is a linear layer on patch rows whose `patch²` columns are in
//! `(cin, kh, kw)` order (the im2col order with kernel = stride = patch), so it is an ordinary
//! `Linear` GEMM with `tokens` rows per image.

use burn::module::{Module, Param};
use burn::tensor::{Device, Tensor};
use compbench_core::NonlinearKind;
use compbench_core::seed::Rng;

use super::config::{GemmLayerInfo, GemmShape, IMAGE_SIDE, ModelConfig, finish_layers};
use super::layers::{Dense, LayerNorm, param};
use super::{GemmMut, GemmRef, Tap, tap_rows};
use crate::hooks::{NonlinearSite, TrainHooks};

#[derive(Module, Debug)]
pub struct Block {
    pub ln1: LayerNorm,
    pub qkv: Dense,
    pub proj: Dense,
    pub ln2: LayerNorm,
    pub fc1: Dense,
    pub fc2: Dense,
}

#[derive(Module, Debug)]
pub struct Vit {
    pub patch_embed: Dense,
    /// `[tokens, d_model]`.
    pub pos: Param<Tensor<2>>,
    pub blocks: Vec<Block>,
    pub ln_f: LayerNorm,
    pub head: Dense,
    pub d_model: usize,
    pub heads: usize,
    pub patch: usize,
    pub hidden: usize,
    pub classes: usize,
}

impl Vit {
    pub fn new(cfg: &ModelConfig, device: &Device, rng: &mut Rng) -> Vit {
        let d = cfg.d_model;
        let hidden = d * cfg.mlp_ratio;
        let patch_embed = Dense::new(cfg.patch * cfg.patch, d, device, rng);
        // Positions: N(0, 0.02²), as in ViT/DeiT.
        let pos_vals = (0..cfg.tokens() * d).map(|_| 0.02 * rng.normal()).collect();
        let pos = param(pos_vals, [cfg.tokens(), d], device);
        let blocks = (0..cfg.depth)
            .map(|_| Block {
                ln1: LayerNorm::new(d, device),
                qkv: Dense::new(d, 3 * d, device, rng),
                proj: Dense::new(d, d, device, rng),
                ln2: LayerNorm::new(d, device),
                fc1: Dense::new(d, hidden, device, rng),
                fc2: Dense::new(hidden, d, device, rng),
            })
            .collect();
        Vit {
            patch_embed,
            pos,
            blocks,
            ln_f: LayerNorm::new(d, device),
            head: Dense::new(d, cfg.classes, device, rng),
            d_model: d,
            heads: cfg.heads,
            patch: cfg.patch,
            hidden,
            classes: cfg.classes,
        }
    }

    pub fn tokens(&self) -> usize {
        (IMAGE_SIDE / self.patch).pow(2)
    }

    pub fn gemm_layers(&self) -> Vec<GemmLayerInfo> {
        let (d, t) = (self.d_model, self.tokens());
        let lin = |i, o| GemmShape::Linear {
            in_features: i,
            out_features: o,
        };
        let mut v = vec![(
            "patch_embed".to_string(),
            lin(self.patch * self.patch, d),
            t,
            (1, 1),
        )];
        for i in 0..self.blocks.len() {
            v.push((format!("block{i}.qkv"), lin(d, 3 * d), t, (1, 1)));
            v.push((format!("block{i}.proj"), lin(d, d), t, (1, 1)));
            v.push((format!("block{i}.fc1"), lin(d, self.hidden), t, (1, 1)));
            v.push((format!("block{i}.fc2"), lin(self.hidden, d), t, (1, 1)));
        }
        v.push(("head".to_string(), lin(d, self.classes), 1, (1, 1)));
        finish_layers(v)
    }

    pub fn nonlinear_layers(&self) -> Vec<(String, NonlinearKind)> {
        let mut v = Vec::new();
        for i in 0..self.blocks.len() {
            v.push((format!("block{i}.ln1"), NonlinearKind::LayerNorm));
            v.push((format!("block{i}.softmax"), NonlinearKind::Softmax));
            v.push((format!("block{i}.ln2"), NonlinearKind::LayerNorm));
            v.push((format!("block{i}.gelu"), NonlinearKind::Gelu));
        }
        v.push(("ln_f".to_string(), NonlinearKind::LayerNorm));
        v
    }

    /// `[b, 1, 28, 28]` → patch rows `[b·tokens, patch²]`, tokens row-major over the grid.
    pub fn patchify(&self, x: Tensor<4>) -> Tensor<2> {
        let [b, c, h, w] = x.dims();
        let p = self.patch;
        let (gh, gw) = (h / p, w / p);
        x.reshape([b, c, gh, p, gw, p])
            .permute([0, 2, 4, 1, 3, 5])
            .reshape([b * gh * gw, c * p * p])
    }

    pub fn forward(&self, x: Tensor<4>, hooks: &dyn TrainHooks) -> Tensor<2> {
        super::logits(self.run(x, hooks, None))
    }

    /// The forward pass, stopping at layer `stop` when given (see `Network::forward_to`):
    /// `patch_embed` (positions added), `block{i}` (a block's output tokens), `ln_f` (with its
    /// affine part), `head`.
    pub(crate) fn run(
        &self,
        x: Tensor<4>,
        hooks: &dyn TrainHooks,
        stop: Option<&str>,
    ) -> Tap<Tensor<2>> {
        let layers = self.gemm_layers();
        let b = x.dims()[0];
        let (t, d, heads) = (self.tokens(), self.d_model, self.heads);
        let dh = d / heads;
        let x = self
            .patch_embed
            .forward(&layers[0].site(), self.patchify(x), hooks);
        let x = (x.reshape([b, t, d]) + self.pos.val().unsqueeze::<3>()).reshape([b * t, d]);
        let mut x = tap_rows(stop, "patch_embed", x, b)?;
        for (i, blk) in self.blocks.iter().enumerate() {
            let site = |j: usize| layers[1 + 4 * i + j].site();
            // Attention.
            let h = blk.ln1.forward(&format!("block{i}.ln1"), x.clone(), hooks);
            let qkv = blk.qkv.forward(&site(0), h, hooks);
            // [b·t, (3, H, dh)] → [3, b, H, t, dh]
            let qkv = qkv.reshape([b, t, 3, heads, dh]).permute([2, 0, 3, 1, 4]);
            let q = qkv.clone().narrow(0, 0, 1).reshape([b, heads, t, dh]);
            let k = qkv.clone().narrow(0, 1, 1).reshape([b, heads, t, dh]);
            let v = qkv.narrow(0, 2, 1).reshape([b, heads, t, dh]);
            let scores = q
                .matmul(k.swap_dims(2, 3))
                .mul_scalar(1.0 / (dh as f32).sqrt());
            let name = format!("block{i}.softmax");
            let probs = hooks
                .nonlinear(
                    &NonlinearSite {
                        name: &name,
                        kind: NonlinearKind::Softmax,
                    },
                    scores.reshape([b * heads * t, t]),
                )
                .reshape([b, heads, t, t]);
            let attn = probs.matmul(v).swap_dims(1, 2).reshape([b * t, d]);
            x = x + blk.proj.forward(&site(1), attn, hooks);
            // MLP.
            let h = blk.ln2.forward(&format!("block{i}.ln2"), x.clone(), hooks);
            let h = blk.fc1.forward(&site(2), h, hooks);
            let name = format!("block{i}.gelu");
            let h = hooks.nonlinear(
                &NonlinearSite {
                    name: &name,
                    kind: NonlinearKind::Gelu,
                },
                h,
            );
            x = x + blk.fc2.forward(&site(3), h, hooks);
            if let Some(s) = stop
                && s == format!("block{i}")
            {
                x = tap_rows(stop, s, x, b)?;
            }
        }
        let pooled = x.reshape([b, t, d]).mean_dim(1).reshape([b, d]);
        let pooled = tap_rows(stop, "ln_f", self.ln_f.forward("ln_f", pooled, hooks), b)?;
        let head = self
            .head
            .forward(&layers[layers.len() - 1].site(), pooled, hooks);
        tap_rows(stop, "head", head, b)
    }

    /// Parse `block{i}.{part}`.
    fn block_part(name: &str) -> Option<(usize, &str)> {
        let rest = name.strip_prefix("block")?;
        let (i, part) = rest.split_once('.')?;
        Some((i.parse().ok()?, part))
    }

    pub(crate) fn gemm(&self, name: &str) -> Option<GemmRef<'_>> {
        match name {
            "patch_embed" => Some(GemmRef::Dense(&self.patch_embed)),
            "head" => Some(GemmRef::Dense(&self.head)),
            _ => {
                let (i, part) = Self::block_part(name)?;
                let blk = self.blocks.get(i)?;
                match part {
                    "qkv" => Some(GemmRef::Dense(&blk.qkv)),
                    "proj" => Some(GemmRef::Dense(&blk.proj)),
                    "fc1" => Some(GemmRef::Dense(&blk.fc1)),
                    "fc2" => Some(GemmRef::Dense(&blk.fc2)),
                    _ => None,
                }
            }
        }
    }

    pub(crate) fn gemm_mut(&mut self, name: &str) -> Option<GemmMut<'_>> {
        match name {
            "patch_embed" => Some(GemmMut::Dense(&mut self.patch_embed)),
            "head" => Some(GemmMut::Dense(&mut self.head)),
            _ => {
                let (i, part) = Self::block_part(name)?;
                let blk = self.blocks.get_mut(i)?;
                match part {
                    "qkv" => Some(GemmMut::Dense(&mut blk.qkv)),
                    "proj" => Some(GemmMut::Dense(&mut blk.proj)),
                    "fc1" => Some(GemmMut::Dense(&mut blk.fc1)),
                    "fc2" => Some(GemmMut::Dense(&mut blk.fc2)),
                    _ => None,
                }
            }
        }
    }
}
