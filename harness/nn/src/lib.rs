//! compbench-nn: the NN substrate.
//!
//! Three representations of a network (DESIGN.md):
//! 1. trainable: burn modules in [`models`], trained by [`train`], extended through [`hooks`];
//! 2. deployed: our own kernels on plain buffers, in [`deployed`] and [`kernels`];
//! 3. Workload IR (compbench-core), emitted by the deployed model.
//!
//! Knowledge distillation (the loss, and a teacher any `fit` can train against) is [`distill`].
//! Plus datasets ([`data`]), the [`method::Method`] extension point and the [`Identity`] method.
//! ARCHITECTURE.md (section compbench-nn) has the code map and invariants.
//!
//! The crate's code map and invariants follow (from its ARCHITECTURE.md).
#![doc = include_str!("../ARCHITECTURE.md")]

/// Kernel timing helpers for `compbench bench kernels` (added by the lead/method crates).
pub mod bench;
pub mod data;
pub mod deployed;
pub mod distill;
pub mod fused;
pub mod hooks;
pub mod identity;
pub mod kernels;
pub mod method;
pub mod models;
pub mod train;

pub use deployed::{Captured, DeployedModel, GemmKernel, NonlinearKernel};
pub use hooks::{ConvGeom, DenseHooks, GemmSite, NonlinearSite, TrainHooks};
pub use identity::Identity;
pub use method::{Compressed, Method, MethodCtx, MethodError};
pub use models::{GemmLayerInfo, GemmShape, ModelConfig, ModelKind, Network};
pub use train::{BaselineInfo, TrainConfig, TrainLog};

/// The training/inference device of burn models: the flex CPU backend.
pub fn device() -> burn::tensor::Device {
    burn::tensor::Device::flex()
}
