//! LUT-DLA's LUTBoost: vector quantization, multistage training, LUT-GEMM kernels.
