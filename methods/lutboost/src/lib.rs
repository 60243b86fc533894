//! LUT-DLA's LUTBoost (Li et al., HPCA 2025): replace GEMMs by vector-quantized look-up tables,
//! trained in stages, and run them with a LUT-GEMM kernel.
//!
//! Code map (ARCHITECTURE.md, section compbench-lutboost, has the invariants):
//! * [`metric`], [`kmeans`]: distances and stage-1 centroid initialization;
//! * [`encode`], [`table`], [`kernel`]: the deployed LUT-GEMM (encode, tables, look-up);
//! * [`layer`]: the trainable LUT layer (hooks + parameters module); [`soft`] and [`fused`]:
//!   its soft path's distances as one burn op with a fused backward;
//! * [`stages`], [`method`]: the four LUTBoost stages and the `lutboost` method;
//! * [`lutnn`], [`maddness`], [`tree`]: the two earlier LUT methods as baselines on the same
//!   kernel (`lut-nn`: k-means + one soft-PQ fine-tune; `maddness`: hash-tree encoder, no
//!   training);
//! * [`measured`]: bits per activation and per weight, measured on the deployed model;
//! * [`bench`]: `compbench bench kernels` rows.
//!
//! The crate's code map and invariants follow (from its ARCHITECTURE.md).
#![doc = include_str!("../ARCHITECTURE.md")]

pub mod bench;
pub mod encode;
pub mod fused;
pub mod kernel;
pub mod kmeans;
pub mod layer;
pub mod lutnn;
pub mod maddness;
pub mod measured;
pub mod method;
pub mod metric;
pub mod soft;
pub mod stages;
pub mod table;
pub mod tree;

pub use kernel::{ActEncoder, Isa, LutGemm};
pub use lutnn::{LUT_NN, LutNn};
pub use maddness::{MADDNESS, Maddness};
pub use method::{LUTBOOST, LutBoost, all};
