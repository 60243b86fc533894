//! Scalar quantization: PTQ, QAT, LSQ, PACT, binary and ternary, with integer kernels.
