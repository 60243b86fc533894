//! Accelerator cost models: technology scaling, SRAM, systolic arrays, LUT accelerator, block-sparse, GPU roofline, DSE.
