//! Block-sparse systolic array: a weight-stationary array that skips all-zero weight tiles.
//!
//! Under WS, a fold holds an R × C tile of the K × N weight matrix, so skipping a zero tile
//! skips a whole fold: with blocks aligned to the array (block = R × C) the cycle count is
//! exactly Σ over non-zero tiles of SCALE-Sim's per-fold cost (2R + C + T − 2), minus 1
//! (hwmodels.md §8c; Sparseloop's "skipping" as opposed to "gating").
//!
//! * **Column groups.** The C columns are split into groups of `skip_cols` columns that skip
//!   independently; a column fold lasts as long as its busiest group (max over groups, the load
//!   imbalance across columns). `skip_cols = cols` is whole-fold skipping. Groups that run
//!   different K tiles need their own activation streams, so on sparse layers activation SRAM
//!   reads are counted per group.
//! * **Occupancy.** With the IR's per-block mask, each (row fold, group) tile is checked exactly
//!   (any overlapping kept block makes it non-empty). Without a mask, blocks are kept
//!   independently with the IR's density d, a tile covering s blocks is non-empty with
//!   probability 1 − (1−d)^s (Sparseloop), and the busiest group's expected count is the
//!   expected maximum of independent binomials, Σₓ (1 − F(x)^G).
//! * **Metadata.** `meta_bits` per (row fold, group) tile: stored with the weights, read once
//!   per tile from the filter SRAM and from DRAM; a counter per group walks the non-zero list
//!   (Aladdin counter cost, per non-zero tile step).
//!
//! Dense layers (no sparsity in the IR) are priced exactly as the plain systolic array.

use compbench_core::params::ParamSpec;
use compbench_core::{BlockSparsity, Breakdown, Gemm, HwModelEntry, HwReport, ParamError, Params, Value};

use crate::common::{DesignConsts, ceil_div, p_u64};
use crate::systolic::{
    GemmWork, SYSTOLIC_PARAMS, SystolicConfig, SystolicCore, scalesim,
};
use crate::tech::Cost;
use crate::vector::VectorUnit;

/// Parameters of the `block-sparse` model: the systolic ones (dataflow fixed to WS) plus
/// skipping granularity and metadata width.
pub static BLOCK_SPARSE_PARAMS: &[ParamSpec] = &[
    ParamSpec::int(
        "rows",
        32,
        1,
        4096,
        "array rows R (= the K extent of a skippable tile)",
    ),
    ParamSpec::int("cols", 32, 1, 4096, "array columns C"),
    ParamSpec::int(
        "skip_cols",
        32,
        1,
        4096,
        "columns per independently skipping group (must divide cols)",
    ),
    ParamSpec::int(
        "meta_bits",
        1,
        1,
        32,
        "metadata bits per tile (1 = bitmap; log2 of the K-tile count for CSR)",
    ),
    ParamSpec::choice("precision", "int8", &["int8", "fp16"], "MAC precision"),
    ParamSpec::float("ifmap_kb", 64.0, 0.0, 1048576.0, "activation SRAM, KiB"),
    ParamSpec::float("filter_kb", 64.0, 0.0, 1048576.0, "weight SRAM, KiB"),
    ParamSpec::float(
        "ofmap_kb",
        64.0,
        0.0,
        1048576.0,
        "output / partial-sum SRAM, KiB",
    ),
    ParamSpec::float(
        "dram_gbps",
        0.0,
        0.0,
        100000.0,
        "DRAM bandwidth, GB/s (0 = unlimited)",
    ),
    ParamSpec::float(
        "dram_pj_bit",
        crate::tech::HOROWITZ_DRAM_PJ_PER_BIT,
        0.0,
        1000.0,
        "DRAM energy per bit",
    ),
    ParamSpec::float("freq_mhz", 1000.0, 1.0, 10000.0, "clock, MHz"),
    ParamSpec::float(
        "node_nm",
        28.0,
        crate::tech::MIN_NODE_NM,
        crate::tech::MAX_NODE_NM,
        "process node, nm",
    ),
    ParamSpec::float("vdd", 0.9, 0.5, 1.3, "supply voltage, V"),
    ParamSpec::int(
        "vec_lanes",
        16,
        1,
        4096,
        "fp32 FMA lanes of the vector unit",
    ),
];

/// A block-sparse design point.
#[derive(Debug, Clone, Copy)]
pub struct BlockSparseDesign {
    pub core: SystolicCore,
    pub vector: VectorUnit,
    pub consts: DesignConsts,
    pub skip_cols: u64,
    pub meta_bits: f64,
    counter: Cost,
    meta_pj_per_bit: f64,
}

/// Tile occupancy of one sparse GEMM on the array.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct SkipStats {
    /// Σ over column folds of the busiest group's non-zero tile count (expected without a mask).
    pub busy_tiles: f64,
    /// Non-zero (row fold, group) tiles.
    pub nonzero_tiles: f64,
    /// All (row fold, group) tiles.
    pub tiles: f64,
    /// Weight elements inside non-zero tiles (read and multiplied).
    pub nonzero_tile_elems: f64,
}

impl BlockSparseDesign {
    pub fn from_params(given: &Params) -> Result<BlockSparseDesign, ParamError> {
        let p = Params::resolve(BLOCK_SPARSE_PARAMS, &given.0)?;
        let cols = p_u64(&p, "cols");
        let skip_cols = p_u64(&p, "skip_cols");
        if skip_cols > cols || !cols.is_multiple_of(skip_cols) {
            return Err(ParamError::Constraint {
                param: "skip_cols".into(),
                message: format!("{skip_cols} must divide cols ({cols})"),
            });
        }
        // Reuse the systolic parser for the shared parameters.
        let mut sys = Params::defaults(SYSTOLIC_PARAMS);
        for spec in SYSTOLIC_PARAMS {
            if let Some(v) = p.get(spec.name) {
                sys.set(spec.name, v.clone());
            }
        }
        sys.set("dataflow", Value::Str("ws".into()));
        let cfg = SystolicConfig::from_params(&sys)?;
        Ok(BlockSparseDesign::new(
            cfg,
            skip_cols,
            p.int("meta_bits") as f64,
        ))
    }

    pub fn new(cfg: SystolicConfig, skip_cols: u64, meta_bits: f64) -> BlockSparseDesign {
        let core = SystolicCore::new(cfg);
        let vector = VectorUnit::new(&core.tech, cfg.vec_lanes);
        let groups = (cfg.cols / skip_cols.max(1)).max(1) as f64;
        let counter = core.tech.counter();
        let mut area = Breakdown::new();
        area.add("pe_array", core.array_area_um2());
        area.add("skip_ctrl", groups * counter.area_um2);
        area.add("sram_ifmap", core.ifmap.area_um2);
        area.add("sram_filter", core.filter.area_um2);
        area.add("sram_ofmap", core.ofmap.area_um2);
        area.add("vector", vector.area_um2);
        let consts = DesignConsts {
            freq_hz: cfg.freq_mhz * 1e6,
            area_um2: area.total(),
            area_breakdown: area,
            leakage_w: core.sram_leakage_w(),
            peak_macs_per_cycle: core.peak_macs_per_cycle(),
        };
        BlockSparseDesign {
            core,
            vector,
            consts,
            skip_cols: skip_cols.max(1),
            meta_bits,
            counter,
            meta_pj_per_bit: core.filter.per_element_pj(1.0),
        }
    }

    /// Which tiles are non-empty, and the busiest group per column fold.
    pub fn skip_stats(&self, g: &Gemm, sp: &BlockSparsity) -> SkipStats {
        let (r, c, w) = (self.core.cfg.rows, self.core.cfg.cols, self.skip_cols);
        let (k, n) = (g.k, g.n);
        let row_folds = ceil_div(k, r);
        let col_folds = ceil_div(n, c);
        let (bk, bn) = (sp.block_k.max(1) as u64, sp.block_n.max(1) as u64);
        let (kb, nb) = (ceil_div(k, bk), ceil_div(n, bn));
        let mask = sp.mask.as_deref().filter(|m| m.len() as u64 == kb * nb);
        let mut s = SkipStats::default();
        match mask {
            Some(mask) => {
                for j in 0..col_folds {
                    let mut busiest = 0u64;
                    let mut n0 = j * c;
                    let fold_end = ((j + 1) * c).min(n);
                    while n0 < fold_end {
                        let n1 = (n0 + w).min(fold_end);
                        let mut nnz = 0u64;
                        for i in 0..row_folds {
                            let k0 = i * r;
                            let k1 = (k0 + r).min(k);
                            let occupied = (k0 / bk..=(k1 - 1) / bk).any(|bi| {
                                (n0 / bn..=(n1 - 1) / bn).any(|bj| mask[(bi * nb + bj) as usize])
                            });
                            s.tiles += 1.0;
                            if occupied {
                                nnz += 1;
                                s.nonzero_tile_elems += ((k1 - k0) * (n1 - n0)) as f64;
                            }
                        }
                        s.nonzero_tiles += nnz as f64;
                        busiest = busiest.max(nnz);
                        n0 = n1;
                    }
                    s.busy_tiles += busiest as f64;
                }
            }
            None => {
                let d = sp.density.clamp(0.0, 1.0);
                // Blocks a tile overlaps (aligned), and groups that are independent of each other.
                let blocks_per_tile = (ceil_div(r.min(k), bk) * ceil_div(w.min(n), bn)) as i32;
                let p = 1.0 - (1.0 - d).powi(blocks_per_tile);
                let groups = ceil_div(c.min(n), w);
                let independent = ceil_div(c.min(n), w.max(bn)).max(1).min(groups);
                s.tiles = (row_folds * ceil_div(n, w)) as f64;
                s.nonzero_tiles = s.tiles * p;
                s.nonzero_tile_elems = (k * n) as f64 * p;
                s.busy_tiles = col_folds as f64 * expected_max_binomial(row_folds, p, independent);
            }
        }
        s
    }

    /// Work of one sparse GEMM (see the module docs).
    pub fn sparse_work(&self, g: &Gemm, sp: &BlockSparsity) -> (SkipStats, GemmWork) {
        let s = self.skip_stats(g, sp);
        let cfg = &self.core.cfg;
        let dense = scalesim(cfg.dataflow, cfg.rows, cfg.cols, g.m, g.k, g.n);
        let (m, k, n) = (g.m as f64, g.k as f64, g.n as f64);
        let compute_cycles = (s.busy_tiles * dense.cycles_per_fold as f64 - 1.0).max(0.0);
        let mean_rows = k / dense.row_folds.max(1) as f64;
        // Each non-zero tile streams its K rows of activations to its group, and writes its
        // outputs once (partial sums).
        let ifmap_reads = s.nonzero_tiles * m * mean_rows;
        let filter_reads = s.nonzero_tile_elems;
        let tile_cols = s.nonzero_tile_elems / (s.nonzero_tiles.max(1e-12) * mean_rows);
        let ofmap_writes = (s.nonzero_tiles * m * tile_cols).max(m * n);
        let meta_bits = s.tiles * self.meta_bits;
        let scales = self.core.operand_scales(g);
        let (decode_pj, codebook_bytes) = self.core.weight_decode(g, filter_reads);
        let dram_bytes = codebook_bytes
            + self
                .core
                .dram_bytes(m, k, n, ifmap_reads, filter_reads, ofmap_writes, scales)
                .total()
            - (k * n - filter_reads).max(0.0) * self.core.elem_bytes() * scales.1
            + meta_bits / 8.0;
        // Metadata DRAM bytes are in `dram_bytes` (priced as DRAM); here the SRAM reads and
        // the group counters.
        let metadata_pj =
            meta_bits * self.meta_pj_per_bit + s.nonzero_tiles * self.counter.energy_pj;
        let work = GemmWork {
            compute_cycles,
            executed_macs: m * s.nonzero_tile_elems,
            ifmap_reads,
            filter_reads,
            ofmap_writes,
            outputs: m * n,
            dram_bytes,
            metadata_pj,
            decode_pj,
            ifmap_scale: scales.0,
            filter_scale: scales.1,
        };
        (s, work)
    }
}

/// E[max of `groups` independent Binomial(n, p)] = Σ_{x=0}^{n−1} (1 − F(x)^groups).
pub fn expected_max_binomial(n: u64, p: f64, groups: u64) -> f64 {
    if n == 0 || p <= 0.0 {
        return 0.0;
    }
    if p >= 1.0 {
        return n as f64;
    }
    if groups <= 1 {
        return n as f64 * p;
    }
    let q = 1.0 - p;
    let mut pmf = q.powi(n as i32);
    let mut cdf = 0.0;
    let mut sum = 0.0;
    for x in 0..n {
        cdf += pmf;
        sum += 1.0 - cdf.min(1.0).powi(groups as i32);
        pmf *= (n - x) as f64 / (x + 1) as f64 * p / q;
    }
    sum
}

crate::common::accelerator_design!(BlockSparseDesign);

impl BlockSparseDesign {
    /// Cost of one GEMM layer, repeats included.
    fn price_gemm(&self, g: &Gemm, repeats: f64) -> HwReport {
        let mut e = Breakdown::new();
        let cycles = match &g.sparsity {
            Some(sp) => {
                let (_, w) = self.sparse_work(g, sp);
                self.core.price_work(&w, &mut e, repeats)
            }
            None => self.core.price_dense(g, repeats, &mut e),
        };
        self.consts
            .layer_report(cycles, e, g.macs() as f64 * repeats)
    }
}

/// Registry entry for the `block-sparse` hardware model.
pub static BLOCK_SPARSE: HwModelEntry = HwModelEntry {
    id: "block-sparse",
    describe: "WS systolic array that skips all-zero weight tiles (column-group load imbalance, metadata cost)",
    params: BLOCK_SPARSE_PARAMS,
    build: |params| Ok(Box::new(BlockSparseDesign::from_params(params)?)),
};
