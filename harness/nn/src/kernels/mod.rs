//! Our own CPU kernels on plain `f32` buffers: the dense GEMM baseline, the block-sparse GEMM,
//! im2col, attention.
//!
//! Deployed models and method crates build on these; nothing here knows about burn.

pub mod attention;
pub mod bsr;
pub mod im2col;
pub mod sgemm;

pub use attention::multi_head_attention;
pub use im2col::{PaddedImage, im2col_nchw, im2col_nhwc};
pub use sgemm::{Isa, PackedB, sgemm, sgemm_packed, sgemm_reference, sgemm_serial, sgemm_with};
