//! CNN: conv3×3 1→c1 pad 1 + ReLU + maxpool 2, conv3×3 c1→c2 pad 1 + ReLU + maxpool 2,
//! FC c2·7·7→h + ReLU, FC h→10. The default widths (c1, c2, h) = (16, 32, 128) are the
//! baseline CNN; [`ModelConfig`]'s width knobs make smaller students.

use burn::module::Module;
use burn::tensor::{Device, Tensor};
use compbench_core::NonlinearKind;
use compbench_core::seed::Rng;

use super::config::{GemmLayerInfo, GemmShape, IMAGE_SIDE, ModelConfig, finish_layers};
use super::layers::{Conv, Dense};
use super::{GemmMut, GemmRef, Tap, relu, tap_rows, tap_spatial};
use crate::fused::max_pool2x2;
use crate::hooks::{ConvGeom, TrainHooks};

/// A 3×3, stride 1, pad 1 convolution.
const fn conv3x3(in_channels: usize, out_channels: usize) -> ConvGeom {
    ConvGeom {
        in_channels,
        out_channels,
        kernel: 3,
        stride: 1,
        padding: 1,
    }
}

/// The default CNN's first convolution.
pub const CONV1: ConvGeom = conv3x3(1, 16);
/// The default CNN's second convolution.
pub const CONV2: ConvGeom = conv3x3(16, 32);
/// The default CNN's hidden units.
pub const FC_HIDDEN: usize = 128;
/// The default CNN's flattened features after the second pool: 32 × 7 × 7, in (c, h, w) order.
pub const FLAT: usize = 32 * 7 * 7;

#[derive(Module, Debug)]
pub struct Cnn {
    pub conv1: Conv,
    pub conv2: Conv,
    pub fc1: Dense,
    pub fc2: Dense,
    pub classes: usize,
    pub conv1_channels: usize,
    pub conv2_channels: usize,
    pub fc_hidden: usize,
}

impl Cnn {
    pub fn new(cfg: &ModelConfig, device: &Device, rng: &mut Rng) -> Cnn {
        let (c1, c2, h) = (cfg.conv1_channels, cfg.conv2_channels, cfg.fc_hidden);
        let (g1, g2) = (conv3x3(1, c1), conv3x3(c1, c2));
        let flat = c2 * (IMAGE_SIDE / 4) * (IMAGE_SIDE / 4);
        Cnn {
            conv1: Conv::new(g1.in_channels, g1.out_channels, g1.kernel, device, rng),
            conv2: Conv::new(g2.in_channels, g2.out_channels, g2.kernel, device, rng),
            fc1: Dense::new(flat, h, device, rng),
            fc2: Dense::new(h, cfg.classes, device, rng),
            classes: cfg.classes,
            conv1_channels: c1,
            conv2_channels: c2,
            fc_hidden: h,
        }
    }

    fn geoms(&self) -> (ConvGeom, ConvGeom) {
        (
            conv3x3(1, self.conv1_channels),
            conv3x3(self.conv1_channels, self.conv2_channels),
        )
    }

    /// Flattened features after the second pool, in (c, h, w) order.
    fn flat(&self) -> usize {
        self.conv2_channels * (IMAGE_SIDE / 4) * (IMAGE_SIDE / 4)
    }

    pub fn gemm_layers(&self) -> Vec<GemmLayerInfo> {
        let s = IMAGE_SIDE;
        let (g1, g2) = self.geoms();
        finish_layers(vec![
            ("conv1".into(), GemmShape::Conv(g1), s * s, (s, s)),
            (
                "conv2".into(),
                GemmShape::Conv(g2),
                (s / 2) * (s / 2),
                (s / 2, s / 2),
            ),
            (
                "fc1".into(),
                GemmShape::Linear {
                    in_features: self.flat(),
                    out_features: self.fc_hidden,
                },
                1,
                (1, 1),
            ),
            (
                "fc2".into(),
                GemmShape::Linear {
                    in_features: self.fc_hidden,
                    out_features: self.classes,
                },
                1,
                (1, 1),
            ),
        ])
    }

    pub fn nonlinear_layers(&self) -> Vec<(String, NonlinearKind)> {
        vec![
            ("conv1.relu".into(), NonlinearKind::Relu),
            ("conv2.relu".into(), NonlinearKind::Relu),
            ("fc1.relu".into(), NonlinearKind::Relu),
        ]
    }

    pub fn forward(&self, x: Tensor<4>, hooks: &dyn TrainHooks) -> Tensor<2> {
        super::logits(self.run(x, hooks, None))
    }

    /// The forward pass, stopping at layer `stop` when given (see `Network::forward_to`).
    /// Every deployed output name is a tap: `conv1`, `conv1.relu`, `conv1.pool`, `conv2`, ...,
    /// `fc1`, `fc1.relu`, `fc2`.
    pub(crate) fn run(
        &self,
        x: Tensor<4>,
        hooks: &dyn TrainHooks,
        stop: Option<&str>,
    ) -> Tap<Tensor<2>> {
        let layers = self.gemm_layers();
        let (g1, g2) = self.geoms();
        let names1 = ["conv1", "conv1.relu", "conv1.pool"];
        let names2 = ["conv2", "conv2.relu", "conv2.pool"];
        let x = conv_block(x, &self.conv1, &g1, &layers[0], names1, hooks, stop)?;
        let x = conv_block(x, &self.conv2, &g2, &layers[1], names2, hooks, stop)?;
        let [b, c, h, w] = x.dims();
        let x = x.reshape([b, c * h * w]);
        let x = tap_rows(
            stop,
            "fc1",
            self.fc1.forward(&layers[2].site(), x, hooks),
            b,
        )?;
        let x = tap_rows(stop, "fc1.relu", relu("fc1.relu", x, hooks), b)?;
        tap_rows(
            stop,
            "fc2",
            self.fc2.forward(&layers[3].site(), x, hooks),
            b,
        )
    }

    pub(crate) fn gemm(&self, name: &str) -> Option<GemmRef<'_>> {
        match name {
            "conv1" => Some(GemmRef::Conv(&self.conv1)),
            "conv2" => Some(GemmRef::Conv(&self.conv2)),
            "fc1" => Some(GemmRef::Dense(&self.fc1)),
            "fc2" => Some(GemmRef::Dense(&self.fc2)),
            _ => None,
        }
    }

    pub(crate) fn gemm_mut(&mut self, name: &str) -> Option<GemmMut<'_>> {
        match name {
            "conv1" => Some(GemmMut::Conv(&mut self.conv1)),
            "conv2" => Some(GemmMut::Conv(&mut self.conv2)),
            "fc1" => Some(GemmMut::Dense(&mut self.fc1)),
            "fc2" => Some(GemmMut::Dense(&mut self.fc2)),
            _ => None,
        }
    }
}

/// Convolution, ReLU, 2×2 max-pool; `names` are the three outputs' (conv, relu, pool).
fn conv_block(
    x: Tensor<4>,
    conv: &Conv,
    geom: &ConvGeom,
    info: &GemmLayerInfo,
    names: [&str; 3],
    hooks: &dyn TrainHooks,
    stop: Option<&str>,
) -> Tap<Tensor<4>> {
    let y = hooks.conv2d(
        &info.site(),
        geom,
        x,
        conv.weight.val(),
        Some(conv.bias.val()),
    );
    let y = tap_spatial(stop, names[0], y)?;
    let [b, c, h, w] = y.dims();
    // Element-wise op: any 2-D view works; one row per image keeps it cheap.
    let y = relu(names[1], y.reshape([b, c * h * w]), hooks).reshape([b, c, h, w]);
    let y = tap_spatial(stop, names[1], y)?;
    // burn's max_pool2d with kernel 2, stride 2 (bit-identical), fused with its backward on
    // burn-flex.
    tap_spatial(stop, names[2], max_pool2x2(y))
}
