//! compbench-core: the contracts between compbench's crates.
//!
//! * [`ir`]: the Workload IR, the only thing methods hand to hardware models.
//! * [`params`]: typed, documented parameters with defaults and ranges, shared by methods,
//!   hardware models and models so that `compbench list` and suite validation read one source.
//! * [`hw`]: the [`hw::HwModel`] / [`hw::HwDesign`] traits and the [`hw::HwReport`] they produce.
//! * [`family`]: the survey's method families ([`Family`]) and what each changes.
//! * [`metrics`]: the metric schema (name, label, unit, better direction, side) every crate reads.
//! * [`data`]: plain image-classification splits and the [`data::Dataset`] trait.
//! * [`seed`]: stable seed derivation per axis (benchopt's idea).
//!
//! Architecture invariant: this crate does no IO and depends on nothing heavier than serde.

pub mod data;
pub mod family;
pub mod hw;
pub mod ir;
pub mod metrics;
pub mod params;
pub mod seed;

pub use data::{DataError, Dataset, ImageSplit, Splits};
pub use family::{Changes, Family};
pub use hw::{Breakdown, HwDesign, HwModel, HwModelEntry, HwReport, MAPPED_PE_SLOTS, PE_SLOTS};
pub use ir::{
    BlockSparsity, Codebook, Gemm, HeCost, HeOpSeconds, IrOverflow, Layer, NonlinearImpl,
    NonlinearKind, NonlinearOp, NumFormat, Op, VqMetric, VqSpec, WeightStorage, Workload,
    ZeroEncoding,
};
pub use params::{ParamError, ParamKind, ParamSpec, Params, Value};
