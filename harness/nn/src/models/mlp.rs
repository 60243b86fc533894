//! MLP 784-256-128-10 with ReLU.

use burn::module::Module;
use burn::tensor::{Device, Tensor};
use compbench_core::NonlinearKind;
use compbench_core::seed::Rng;

use super::config::{GemmLayerInfo, GemmShape, IMAGE_SIDE, ModelConfig, finish_layers};
use super::layers::Dense;
use super::{GemmMut, GemmRef, Tap, relu, tap_rows};
use crate::hooks::TrainHooks;

pub const HIDDEN: [usize; 2] = [256, 128];

#[derive(Module, Debug)]
pub struct Mlp {
    pub fc1: Dense,
    pub fc2: Dense,
    pub fc3: Dense,
    pub classes: usize,
}

impl Mlp {
    pub fn new(cfg: &ModelConfig, device: &Device, rng: &mut Rng) -> Mlp {
        let input = IMAGE_SIDE * IMAGE_SIDE;
        Mlp {
            fc1: Dense::new(input, HIDDEN[0], device, rng),
            fc2: Dense::new(HIDDEN[0], HIDDEN[1], device, rng),
            fc3: Dense::new(HIDDEN[1], cfg.classes, device, rng),
            classes: cfg.classes,
        }
    }

    pub fn gemm_layers(&self) -> Vec<GemmLayerInfo> {
        let lin = |i, o| GemmShape::Linear {
            in_features: i,
            out_features: o,
        };
        finish_layers(vec![
            (
                "fc1".into(),
                lin(IMAGE_SIDE * IMAGE_SIDE, HIDDEN[0]),
                1,
                (1, 1),
            ),
            ("fc2".into(), lin(HIDDEN[0], HIDDEN[1]), 1, (1, 1)),
            ("fc3".into(), lin(HIDDEN[1], self.classes), 1, (1, 1)),
        ])
    }

    pub fn nonlinear_layers(&self) -> Vec<(String, NonlinearKind)> {
        vec![
            ("fc1.relu".into(), NonlinearKind::Relu),
            ("fc2.relu".into(), NonlinearKind::Relu),
        ]
    }

    pub fn forward(&self, x: Tensor<4>, hooks: &dyn TrainHooks) -> Tensor<2> {
        super::logits(self.run(x, hooks, None))
    }

    /// The forward pass, stopping at layer `stop` when given (see `Network::forward_to`):
    /// `fc1`, `fc1.relu`, `fc2`, `fc2.relu`, `fc3`.
    pub(crate) fn run(
        &self,
        x: Tensor<4>,
        hooks: &dyn TrainHooks,
        stop: Option<&str>,
    ) -> Tap<Tensor<2>> {
        let [b, c, h, w] = x.dims();
        let layers = self.gemm_layers();
        let x = x.reshape([b, c * h * w]);
        let x = tap_rows(
            stop,
            "fc1",
            self.fc1.forward(&layers[0].site(), x, hooks),
            b,
        )?;
        let x = tap_rows(stop, "fc1.relu", relu("fc1.relu", x, hooks), b)?;
        let x = tap_rows(
            stop,
            "fc2",
            self.fc2.forward(&layers[1].site(), x, hooks),
            b,
        )?;
        let x = tap_rows(stop, "fc2.relu", relu("fc2.relu", x, hooks), b)?;
        tap_rows(
            stop,
            "fc3",
            self.fc3.forward(&layers[2].site(), x, hooks),
            b,
        )
    }

    pub(crate) fn gemm(&self, name: &str) -> Option<GemmRef<'_>> {
        match name {
            "fc1" => Some(GemmRef::Dense(&self.fc1)),
            "fc2" => Some(GemmRef::Dense(&self.fc2)),
            "fc3" => Some(GemmRef::Dense(&self.fc3)),
            _ => None,
        }
    }

    pub(crate) fn gemm_mut(&mut self, name: &str) -> Option<GemmMut<'_>> {
        match name {
            "fc1" => Some(GemmMut::Dense(&mut self.fc1)),
            "fc2" => Some(GemmMut::Dense(&mut self.fc2)),
            "fc3" => Some(GemmMut::Dense(&mut self.fc3)),
            _ => None,
        }
    }
}
