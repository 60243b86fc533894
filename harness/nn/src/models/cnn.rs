//! CNN: conv3×3 1→16 pad 1 + ReLU + maxpool 2, conv3×3 16→32 pad 1 + ReLU + maxpool 2,
//! FC 1568→128 + ReLU, FC 128→10.

use burn::module::Module;
use burn::tensor::{Device, Tensor};
use compbench_core::NonlinearKind;
use compbench_core::seed::Rng;

use super::config::{GemmLayerInfo, GemmShape, IMAGE_SIDE, ModelConfig, finish_layers};
use super::layers::{Conv, Dense};
use super::{GemmMut, GemmRef, relu};
use crate::fused::max_pool2x2;
use crate::hooks::{ConvGeom, TrainHooks};

pub const CONV1: ConvGeom = ConvGeom {
    in_channels: 1,
    out_channels: 16,
    kernel: 3,
    stride: 1,
    padding: 1,
};
pub const CONV2: ConvGeom = ConvGeom {
    in_channels: 16,
    out_channels: 32,
    kernel: 3,
    stride: 1,
    padding: 1,
};
pub const FC_HIDDEN: usize = 128;
/// Flattened features after the second pool: 32 × 7 × 7, in (c, h, w) order.
pub const FLAT: usize = 32 * 7 * 7;

#[derive(Module, Debug)]
pub struct Cnn {
    pub conv1: Conv,
    pub conv2: Conv,
    pub fc1: Dense,
    pub fc2: Dense,
    pub classes: usize,
}

impl Cnn {
    pub fn new(cfg: &ModelConfig, device: &Device, rng: &mut Rng) -> Cnn {
        Cnn {
            conv1: Conv::new(
                CONV1.in_channels,
                CONV1.out_channels,
                CONV1.kernel,
                device,
                rng,
            ),
            conv2: Conv::new(
                CONV2.in_channels,
                CONV2.out_channels,
                CONV2.kernel,
                device,
                rng,
            ),
            fc1: Dense::new(FLAT, FC_HIDDEN, device, rng),
            fc2: Dense::new(FC_HIDDEN, cfg.classes, device, rng),
            classes: cfg.classes,
        }
    }

    pub fn gemm_layers(&self) -> Vec<GemmLayerInfo> {
        let s = IMAGE_SIDE;
        finish_layers(vec![
            ("conv1".into(), GemmShape::Conv(CONV1), s * s, (s, s)),
            (
                "conv2".into(),
                GemmShape::Conv(CONV2),
                (s / 2) * (s / 2),
                (s / 2, s / 2),
            ),
            (
                "fc1".into(),
                GemmShape::Linear {
                    in_features: FLAT,
                    out_features: FC_HIDDEN,
                },
                1,
                (1, 1),
            ),
            (
                "fc2".into(),
                GemmShape::Linear {
                    in_features: FC_HIDDEN,
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
        let layers = self.gemm_layers();
        let conv_block =
            |x: Tensor<4>, conv: &Conv, geom: &ConvGeom, info: &GemmLayerInfo, act: &str| {
                let y = hooks.conv2d(
                    &info.site(),
                    geom,
                    x,
                    conv.weight.val(),
                    Some(conv.bias.val()),
                );
                let [b, c, h, w] = y.dims();
                // Element-wise op: any 2-D view works; one row per image keeps it cheap.
                let y = relu(act, y.reshape([b, c * h * w]), hooks).reshape([b, c, h, w]);
                // burn's max_pool2d with kernel 2, stride 2 (bit-identical), fused with its
                // backward on burn-flex.
                max_pool2x2(y)
            };
        let x = conv_block(x, &self.conv1, &CONV1, &layers[0], "conv1.relu");
        let x = conv_block(x, &self.conv2, &CONV2, &layers[1], "conv2.relu");
        let [b, c, h, w] = x.dims();
        let x = x.reshape([b, c * h * w]);
        let x = relu(
            "fc1.relu",
            self.fc1.forward(&layers[2].site(), x, hooks),
            hooks,
        );
        self.fc2.forward(&layers[3].site(), x, hooks)
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
