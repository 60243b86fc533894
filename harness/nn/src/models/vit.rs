//! Tiny ViT: non-overlapping patches → linear embedding + learned positions → `depth` pre-LN
//! blocks (multi-head self-attention, MLP with exact GELU) → mean over tokens → LayerNorm → head.
//!
//! The patch embedding is a linear layer on patch rows whose `patch²` columns are in
//! `(cin, kh, kw)` order (the im2col order with kernel = stride = patch), so it is an ordinary
//! `Linear` GEMM with `tokens` rows per image.
//!
//! With `distill_token` (DeiT, arXiv 2012.12877) a learned token with its own learned position
//! is prepended to the patch tokens and attends with them through every block; its final state
//! goes through the same final LayerNorm to a second head, `dist_head`. The class prediction
//! stays the mean over the patch tokens (this ViT has no class token: the mean plays its part),
//! so the token adds one row to every block's GEMMs and attention, and one small GEMM. Training
//! sees both heads ([`Vit::forward_heads`]); inference averages them ([`Vit::forward`]), as
//! DeiT does.

use burn::module::{Module, Param};
use burn::tensor::{Device, Tensor};
use compbench_core::NonlinearKind;
use compbench_core::seed::Rng;

use super::config::{GemmLayerInfo, GemmShape, IMAGE_SIDE, ModelConfig, finish_layers};
use super::layers::{Dense, LayerNorm, param};
use super::{GemmMut, GemmRef, Heads, Tap, tap_rows};
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

/// DeiT's distillation token and its head.
#[derive(Module, Debug)]
pub struct DistillToken {
    /// The learned token, `[1, d_model]`.
    pub token: Param<Tensor<2>>,
    /// Its learned position embedding, `[1, d_model]` (DeiT gives the token a position row of
    /// its own, like every patch).
    pub pos: Param<Tensor<2>>,
    /// The distillation head (`dist_head`), `d_model → classes`.
    pub head: Dense,
}

#[derive(Module, Debug)]
pub struct Vit {
    pub patch_embed: Dense,
    /// `[tokens, d_model]`.
    pub pos: Param<Tensor<2>>,
    pub blocks: Vec<Block>,
    pub ln_f: LayerNorm,
    pub head: Dense,
    /// DeiT's distillation token, when the config asks for one.
    pub distill: Option<DistillToken>,
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
        let ln_f = LayerNorm::new(d, device);
        let head = Dense::new(d, cfg.classes, device, rng);
        // Drawn after everything else, so a ViT without the token initializes exactly as
        // before the token existed. N(0, 0.02²) for the token and its position, as DeiT.
        let distill = cfg.distill_token.then(|| DistillToken {
            token: param(
                (0..d).map(|_| 0.02 * rng.normal()).collect(),
                [1, d],
                device,
            ),
            pos: param(
                (0..d).map(|_| 0.02 * rng.normal()).collect(),
                [1, d],
                device,
            ),
            head: Dense::new(d, cfg.classes, device, rng),
        });
        Vit {
            patch_embed,
            pos,
            blocks,
            ln_f,
            head,
            distill,
            d_model: d,
            heads: cfg.heads,
            patch: cfg.patch,
            hidden,
            classes: cfg.classes,
        }
    }

    /// Patch tokens per image.
    pub fn tokens(&self) -> usize {
        (IMAGE_SIDE / self.patch).pow(2)
    }

    /// Rows per image in the transformer blocks: the patch tokens plus the distillation token.
    pub fn sequence(&self) -> usize {
        self.tokens() + usize::from(self.distill.is_some())
    }

    pub fn gemm_layers(&self) -> Vec<GemmLayerInfo> {
        let (d, t) = (self.d_model, self.sequence());
        let lin = |i, o| GemmShape::Linear {
            in_features: i,
            out_features: o,
        };
        let mut v = vec![(
            "patch_embed".to_string(),
            lin(self.patch * self.patch, d),
            self.tokens(),
            (1, 1),
        )];
        for i in 0..self.blocks.len() {
            v.push((format!("block{i}.qkv"), lin(d, 3 * d), t, (1, 1)));
            v.push((format!("block{i}.proj"), lin(d, d), t, (1, 1)));
            v.push((format!("block{i}.fc1"), lin(d, self.hidden), t, (1, 1)));
            v.push((format!("block{i}.fc2"), lin(self.hidden, d), t, (1, 1)));
        }
        v.push(("head".to_string(), lin(d, self.classes), 1, (1, 1)));
        if self.distill.is_some() {
            v.push(("dist_head".to_string(), lin(d, self.classes), 1, (1, 1)));
        }
        let mut layers = finish_layers(v);
        // Both heads are classifiers: methods that keep "the last layer" in float (or give it
        // a float output) treat them alike.
        if let Some(head) = layers.iter_mut().find(|l| l.name == "head") {
            head.last = true;
        }
        layers
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

    /// Logits `[b, classes]`: the head's, or with a distillation token the average of the two
    /// heads (DeiT's inference).
    pub fn forward(&self, x: Tensor<4>, hooks: &dyn TrainHooks) -> Tensor<2> {
        self.forward_heads(x, hooks).average()
    }

    /// Both heads' logits (the distillation head only with a distillation token): what a
    /// distillation loss trains.
    pub fn forward_heads(&self, x: Tensor<4>, hooks: &dyn TrainHooks) -> Heads {
        super::logits(self.run(x, hooks, None))
    }

    /// The forward pass, stopping at layer `stop` when given (see `Network::forward_to`):
    /// `patch_embed` (positions added, before a distillation token is prepended), `block{i}`
    /// (a block's output tokens, the distillation token first when there is one), and without
    /// a distillation token `ln_f` (with its affine part) and `head`.
    pub(crate) fn run(
        &self,
        x: Tensor<4>,
        hooks: &dyn TrainHooks,
        stop: Option<&str>,
    ) -> Tap<Heads> {
        let layers = self.gemm_layers();
        let site = |name: &str| {
            layers
                .iter()
                .find(|l| l.name == name)
                .expect("listed by gemm_layers")
                .site()
        };
        let b = x.dims()[0];
        let (t, d, heads) = (self.tokens(), self.d_model, self.heads);
        let s = self.sequence();
        let dh = d / heads;
        let x = self
            .patch_embed
            .forward(&site("patch_embed"), self.patchify(x), hooks);
        let x = (x.reshape([b, t, d]) + self.pos.val().unsqueeze::<3>()).reshape([b * t, d]);
        let x = tap_rows(stop, "patch_embed", x, b)?;
        let mut x = match &self.distill {
            None => x,
            Some(dt) => {
                // The token (plus its position) leads every image's sequence.
                let token = (dt.token.val() + dt.pos.val())
                    .unsqueeze::<3>()
                    .expand([b, 1, d]);
                Tensor::cat(vec![token, x.reshape([b, t, d])], 1).reshape([b * s, d])
            }
        };
        for (i, blk) in self.blocks.iter().enumerate() {
            let site = |j: usize| layers[1 + 4 * i + j].site();
            // Attention.
            let h = blk.ln1.forward(&format!("block{i}.ln1"), x.clone(), hooks);
            let qkv = blk.qkv.forward(&site(0), h, hooks);
            // [b·s, (3, H, dh)] → [3, b, H, s, dh]
            let qkv = qkv.reshape([b, s, 3, heads, dh]).permute([2, 0, 3, 1, 4]);
            let q = qkv.clone().narrow(0, 0, 1).reshape([b, heads, s, dh]);
            let k = qkv.clone().narrow(0, 1, 1).reshape([b, heads, s, dh]);
            let v = qkv.narrow(0, 2, 1).reshape([b, heads, s, dh]);
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
                    scores.reshape([b * heads * s, s]),
                )
                .reshape([b, heads, s, s]);
            let attn = probs.matmul(v).swap_dims(1, 2).reshape([b * s, d]);
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
        match &self.distill {
            None => {
                let pooled = x.reshape([b, t, d]).mean_dim(1).reshape([b, d]);
                let pooled = tap_rows(stop, "ln_f", self.ln_f.forward("ln_f", pooled, hooks), b)?;
                let head = self.head.forward(&site("head"), pooled, hooks);
                Tap::Continue(Heads::single(tap_rows(stop, "head", head, b)?))
            }
            Some(dt) => {
                let x = x.reshape([b, s, d]);
                let token = x.clone().narrow(1, 0, 1).reshape([b, d]);
                let pooled = x.narrow(1, 1, t).mean_dim(1).reshape([b, d]);
                // One LayerNorm call over both kinds of rows (pooled rows first), as the
                // deployed graph runs it, so a method's hooked LayerNorm sees the same rows.
                let normed = self
                    .ln_f
                    .forward("ln_f", Tensor::cat(vec![pooled, token], 0), hooks);
                let cls = self
                    .head
                    .forward(&site("head"), normed.clone().narrow(0, 0, b), hooks);
                let dist = dt
                    .head
                    .forward(&site("dist_head"), normed.narrow(0, b, b), hooks);
                Tap::Continue(Heads {
                    cls,
                    dist: Some(dist),
                })
            }
        }
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
            "dist_head" => self.distill.as_ref().map(|t| GemmRef::Dense(&t.head)),
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
            "dist_head" => self.distill.as_mut().map(|t| GemmMut::Dense(&mut t.head)),
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
