//! Accelerator cost models: technology scaling, SRAM, systolic arrays, LUT accelerator,
//! block-sparse, GPU roofline, homomorphic encryption (CPU core, F1-class accelerator), DSE.
//!
//! Every model implements [`compbench_core::HwModel`]; [`all`] is the list the registry crate
//! re-exports. Designs precompute their per-design constants in `build`, so `eval_layer` is a
//! handful of closed-form expressions: pure, allocation-free, well under a microsecond.
//!
//! * [`tech`]: Horowitz 45 nm op costs, Stillmaker–Baas node/voltage scaling, Aladdin registers.
//! * [`sram`]: SRAM energy/area/leakage from capacity, width, node.
//! * [`vector`]: the vector unit every accelerator uses for non-linear ops.
//! * [`systolic`]: SCALE-Sim v2 compute model + energy/area (`systolic`).
//! * [`lut`]: LUT-DLA-style VQ accelerator (`lut`), [`lut::equal_throughput_systolic`].
//! * [`block_sparse`]: WS array skipping zero weight tiles (`block-sparse`).
//! * [`gpu`]: roofline with H100/A100 presets (`gpu-roofline`).
//! * [`he_cpu`]: BFV on one CPU core, priced from `compbench bench he` calibrations (`he-cpu`).
//! * [`f1`]: an F1-class FHE accelerator (`f1`).
//! * [`dse`]: grid/random sweeps, Pareto front, YAML spec.
//! * [`workloads`]: the project's MLP, CNN and tiny ViT as Workload IR.
//!
//! The crate's code map and invariants follow (from its ARCHITECTURE.md).
#![doc = include_str!("../ARCHITECTURE.md")]

pub mod common;
pub mod dse;
pub mod sram;
pub mod tech;
pub mod vector;
pub mod workloads;

use compbench_core::HwModel;

pub use block_sparse::{BLOCK_SPARSE, BlockSparseDesign};
pub use dse::{DseError, DsePoint, DseResult, DseSpec, run_dse};
pub use gpu::{GPU_ROOFLINE, GpuDesign};
pub use lut::{LUT, LutDesign, equal_throughput_systolic, lut_params_for};
pub use systolic::{SYSTOLIC, SystolicDesign};

/// Declares each hardware model's module and lists its registry entry, so that a new model is
/// one file plus one line here.
macro_rules! hardware_models {
    ($($module:ident :: $entry:ident),* $(,)?) => {
        $(pub mod $module;)*
        static ALL: &[&dyn HwModel] = &[$(&$module::$entry),*];
    };
}

hardware_models! {
    // One line per hardware model, in listing order:
    systolic::SYSTOLIC,
    lut::LUT,
    block_sparse::BLOCK_SPARSE,
    gpu::GPU_ROOFLINE,
    he_cpu::HE_CPU,
    f1::F1,
}

/// Every hardware model, in listing order.
pub fn all() -> &'static [&'static dyn HwModel] {
    ALL
}
