//! LUT accelerator in the style of LUT-DLA (HPCA'25): vector-quantized activations, GEMMs as
//! table look-ups of precomputed partial sums.
//!
//! Architecture (LUT-DLA §IV as summarized in `references/lut-dla.md` §1.4):
//! * **CCM** (centroid computation module): `units` CCUs, each a pipeline of `c` dPEs with `v`
//!   lanes. A dPE computes dist(x, centroid_j) and keeps the running (min, index) — the
//!   argmin is distributed along the chain. A CCU accepts one sub-vector per cycle.
//!   - L2: v subtractors + v multipliers (squares) + (v−1)-adder tree;
//!   - L1: v subtractors + v absolute values + (v−1)-adder tree — no multipliers;
//!   - Chebyshev: v subtractors + v absolute values + (v−1)-comparator max tree — no multipliers,
//!     narrowest datapath.
//! * **Index FIFO** (64 entries of log2 c bits) between the CCM and the IMM; indices are also kept
//!   in the input buffer to be replayed for every N tile.
//! * **IMM**: `lanes` look-up lanes. Each lane owns a double-buffered (ping-pong) PSum LUT bank of
//!   2 × c × lut_bits (one bank serves look-ups while the other is loaded from the table
//!   buffer, c words per subspace) and an accumulator bank of `acc_rows` × 32 bits.
//! * **LUT-Stationary dataflow**: loop order M-tile (acc_rows) → N-tile (lanes) → subspace →
//!   row: one subspace's tables stay resident while the rows of the tile stream past.
//!
//! Per GEMM (M, K, N), Nc = ⌈K/v⌉, tiles Tm = acc_rows, Tn = lanes:
//! * CCM cycles per M-tile: Nc·⌈tm/units⌉ + c (pipeline fill); IMM cycles per M-tile:
//!   ⌈N/Tn⌉·Nc·max(tm, c) (a table swap takes c cycles and is hidden only behind ≥ c rows);
//!   the two are pipelined through the FIFO, so a tile costs the max of the two.
//! * Work: M·Nc·c distance evaluations; M·Nc·N look-ups and 32-bit accumulations; table
//!   traffic ⌈M/Tm⌉·Nc·c·N entries from the table buffer into the banks.
//! * Layers without a [`VqSpec`](compbench_core::VqSpec) (first conv, classifier, attention
//!   score/context GEMMs, or any dense layer) run on a **companion int8 WS systolic array** of
//!   `companion_rows × companion_cols`, which shares the input/table/accumulator buffers as its
//!   ifmap/filter/ofmap SRAMs; its PE array is included in the area. Their weights are
//!   priced from the layer's weight storage, as on the plain systolic array (codebook indices
//!   at their width, decoded at the array edge). VQ layers hold their weights as PSum tables,
//!   so a weight storage spec does not change them.
//!
//! The design's (v, c, metric, lut_bits, centroid_bits) are what the hardware was generated for
//! and what it executes; a layer's VqSpec marks the layer as LUT-executed. Pair them with
//! [`lut_params_for`] when a workload comes from a LUT method.

use compbench_core::params::ParamSpec;
use compbench_core::{Breakdown, Gemm, HwDesign, HwModel, HwReport, ParamError, Params, Value, VqMetric, Workload};

use crate::common::{DesignConsts, ceil_div, dram_traffic, p_u64};
use crate::sram::Sram;
use crate::systolic::{Dataflow, SystolicConfig, SystolicCore};
use crate::tech::{self, ArithOp, Cost, Tech};
use crate::vector::VectorUnit;

/// Index FIFO depth between the CCM and the IMM (entries).
const INDEX_FIFO_DEPTH: f64 = 64.0;
/// Accumulator width (int32, as the int8 systolic array's).
const ACC_BITS: f64 = 32.0;
/// Activations enter the CCM as int8.
const ACT_BITS: f64 = 8.0;

/// Parameters of the `lut` model.
pub static LUT_PARAMS: &[ParamSpec] = &[
    ParamSpec::int(
        "v",
        4,
        1,
        64,
        "sub-vector length (activations per centroid search)",
    ),
    ParamSpec::int("c", 16, 2, 256, "centroids per codebook"),
    ParamSpec::choice(
        "metric",
        "l2",
        VqMetric::NAMES,
        "centroid-search similarity: l2, l1 or chebyshev",
    ),
    ParamSpec::int(
        "units",
        4,
        1,
        1024,
        "CCUs in the centroid computation module (sub-vectors per cycle)",
    ),
    ParamSpec::int(
        "lanes",
        64,
        1,
        4096,
        "IMM look-up lanes (outputs accumulated per cycle, the N tile)",
    ),
    ParamSpec::int("lut_bits", 8, 4, 32, "bit width of a PSum LUT entry"),
    ParamSpec::int("centroid_bits", 8, 2, 16, "bit width of a centroid element"),
    ParamSpec::int(
        "acc_rows",
        64,
        1,
        65536,
        "accumulator rows per lane (the M tile)",
    ),
    ParamSpec::float(
        "input_kb",
        64.0,
        0.0,
        1048576.0,
        "input/index buffer SRAM, KiB",
    ),
    ParamSpec::float(
        "table_kb",
        64.0,
        0.0,
        1048576.0,
        "PSum table buffer SRAM, KiB",
    ),
    ParamSpec::int(
        "companion_rows",
        8,
        1,
        4096,
        "rows of the int8 WS array for dense layers",
    ),
    ParamSpec::int(
        "companion_cols",
        8,
        1,
        4096,
        "columns of the int8 WS array for dense layers",
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
        tech::HOROWITZ_DRAM_PJ_PER_BIT,
        0.0,
        1000.0,
        "DRAM energy per bit (0 = on-chip only)",
    ),
    ParamSpec::float("freq_mhz", 1000.0, 1.0, 10000.0, "clock, MHz"),
    ParamSpec::float(
        "node_nm",
        28.0,
        tech::MIN_NODE_NM,
        tech::MAX_NODE_NM,
        "process node, nm",
    ),
    ParamSpec::float("vdd", 0.9, 0.5, 1.3, "supply voltage, V"),
    ParamSpec::int(
        "vec_lanes",
        16,
        1,
        4096,
        "fp32 FMA lanes of the vector unit for non-linear ops",
    ),
];

/// Parsed LUT parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LutConfig {
    pub v: u64,
    pub c: u64,
    pub metric: VqMetric,
    pub units: u64,
    pub lanes: u64,
    pub lut_bits: f64,
    pub centroid_bits: f64,
    pub acc_rows: u64,
    pub input_kb: f64,
    pub table_kb: f64,
    pub companion_rows: u64,
    pub companion_cols: u64,
    pub dram_gbps: f64,
    pub dram_pj_bit: f64,
    pub freq_mhz: f64,
    pub node_nm: f64,
    pub vdd: f64,
    pub vec_lanes: u32,
}

impl LutConfig {
    pub fn from_params(given: &Params) -> Result<LutConfig, ParamError> {
        let p = Params::resolve(LUT_PARAMS, &given.0)?;
        Ok(LutConfig {
            v: p_u64(&p, "v"),
            c: p_u64(&p, "c"),
            metric: VqMetric::parse(p.str("metric")).unwrap_or(VqMetric::L2),
            units: p_u64(&p, "units"),
            lanes: p_u64(&p, "lanes"),
            lut_bits: p.int("lut_bits") as f64,
            centroid_bits: p.int("centroid_bits") as f64,
            acc_rows: p_u64(&p, "acc_rows"),
            input_kb: p.float("input_kb"),
            table_kb: p.float("table_kb"),
            companion_rows: p_u64(&p, "companion_rows"),
            companion_cols: p_u64(&p, "companion_cols"),
            dram_gbps: p.float("dram_gbps"),
            dram_pj_bit: p.float("dram_pj_bit"),
            freq_mhz: p.float("freq_mhz"),
            node_nm: p.float("node_nm"),
            vdd: p.float("vdd"),
            vec_lanes: p.int("vec_lanes") as u32,
        })
    }

    /// Bits of a centroid index.
    pub fn index_bits(&self) -> f64 {
        (self.c as f64).log2().ceil().max(1.0)
    }

    /// Width of the distance a dPE accumulates: the difference of two b-bit values has b+1
    /// bits; L2 squares it and sums v of them, L1 sums v absolute values, Chebyshev takes a max.
    pub fn distance_bits(&self) -> f64 {
        let diff = self.centroid_bits + 1.0;
        let tree = (self.v as f64).log2().ceil();
        match self.metric {
            VqMetric::L2 => 2.0 * diff + tree,
            VqMetric::L1 => diff + tree,
            VqMetric::Chebyshev => diff,
        }
    }
}

/// Cost of one dPE distance evaluation, split so reports can show the argmin on its own.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DpeCost {
    /// Subtract, square or abs, reduction tree (+ pipeline registers), per evaluation.
    pub distance: Cost,
    /// Compare with the running minimum and keep (min, index), per evaluation.
    pub argmin: Cost,
    /// Centroid storage of a dPE (v × centroid_bits), area only (written once per subspace).
    pub centroid_regs: Cost,
    /// Multipliers in one dPE: v for L2 (the squares), none for L1 and Chebyshev.
    pub multipliers: u32,
}

/// Hardware cost of one dPE for `cfg` (see the module docs for the metric-dependent datapath).
pub fn dpe_cost(tech: &Tech, cfg: &LutConfig) -> DpeCost {
    let v = cfg.v as f64;
    let diff_bits = (cfg.centroid_bits + 1.0) as u32;
    let dist_bits = cfg.distance_bits() as u32;
    let sub = tech.op(ArithOp::IntAdd(diff_bits));
    let per_lane = match cfg.metric {
        // (x − c)²: the square is a (b+1)-bit multiplier.
        VqMetric::L2 => sub.plus(tech.op(ArithOp::IntMult(diff_bits))),
        // |x − c|: a conditional negate, priced as a second (b+1)-bit adder.
        VqMetric::L1 | VqMetric::Chebyshev => sub.plus(tech.op(ArithOp::IntAdd(diff_bits))),
    };
    let tree_node = match cfg.metric {
        VqMetric::L2 | VqMetric::L1 => tech.op(ArithOp::IntAdd(dist_bits)),
        VqMetric::Chebyshev => tech.op(ArithOp::Compare(diff_bits)),
    };
    // The sub-vector travels down the chain: one v × b register per dPE, plus the distance.
    let regs = tech.register(v * cfg.centroid_bits + dist_bits as f64);
    let distance = per_lane.times(v).plus(tree_node.times(v - 1.0)).plus(regs);
    let argmin = tech
        .op(ArithOp::Compare(dist_bits))
        .plus(tech.register(dist_bits as f64 + cfg.index_bits()));
    let centroid_regs = Cost {
        energy_pj: 0.0,
        area_um2: tech.register(v * cfg.centroid_bits).area_um2,
    };
    let multipliers = if cfg.metric == VqMetric::L2 {
        cfg.v as u32
    } else {
        0
    };
    DpeCost {
        distance,
        argmin,
        centroid_regs,
        multipliers,
    }
}

/// Counts of one VQ GEMM on the LUT engine (one run, no repeats).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct LutWork {
    pub subspaces: u64,
    pub m_tiles: u64,
    pub n_tiles: u64,
    pub ccm_cycles: f64,
    pub imm_cycles: f64,
    pub cycles: f64,
    pub distance_evals: f64,
    pub lookups: f64,
    pub table_entries_loaded: f64,
    pub index_writes: f64,
    pub index_reads: f64,
    pub centroid_bits_loaded: f64,
    pub dram_bytes: f64,
}

/// A LUT accelerator design point.
#[derive(Debug, Clone, Copy)]
pub struct LutDesign {
    pub cfg: LutConfig,
    pub tech: Tech,
    pub dpe: DpeCost,
    pub companion: SystolicCore,
    pub vector: VectorUnit,
    pub consts: DesignConsts,
    input: Sram,
    table: Sram,
    bank: Sram,
    acc: Sram,
    reg_pj_per_bit: f64,
    acc_add_pj: f64,
    dram_pj_per_byte: f64,
    dram_bytes_per_cycle: f64,
}

impl LutDesign {
    pub fn new(cfg: LutConfig) -> LutDesign {
        let tech = Tech::new(cfg.node_nm, cfg.vdd);
        let dpe = dpe_cost(&tech, &cfg);
        let (l, c, v, tn) = (
            cfg.units as f64,
            cfg.c as f64,
            cfg.v as f64,
            cfg.lanes as f64,
        );
        // Input buffer port: `units` sub-vectors of v int8 per cycle.
        let input = Sram::new(&tech, cfg.input_kb, (l * v * ACT_BITS).max(64.0));
        // Table buffer port: one bank word (a c-entry column for all lanes is loaded in c cycles).
        let table = Sram::new(&tech, cfg.table_kb, tn * cfg.lut_bits);
        // Per-lane ping-pong PSum LUT bank: 2 × c entries; accumulator bank: acc_rows × 32 b.
        let bank = Sram::new(&tech, 2.0 * c * cfg.lut_bits / 8192.0, cfg.lut_bits);
        let acc = Sram::new(&tech, cfg.acc_rows as f64 * ACC_BITS / 8192.0, ACC_BITS);
        let companion = SystolicCore::new(SystolicConfig {
            rows: cfg.companion_rows,
            cols: cfg.companion_cols,
            dataflow: Dataflow::Ws,
            fp16: false,
            ifmap_kb: cfg.input_kb,
            filter_kb: cfg.table_kb,
            ofmap_kb: cfg.acc_rows as f64 * tn * ACC_BITS / 8192.0,
            dram_gbps: cfg.dram_gbps,
            dram_pj_bit: cfg.dram_pj_bit,
            freq_mhz: cfg.freq_mhz,
            node_nm: cfg.node_nm,
            vdd: cfg.vdd,
            vec_lanes: cfg.vec_lanes,
        });
        let vector = VectorUnit::new(&tech, cfg.vec_lanes);
        let acc_add = tech.op(ArithOp::IntAdd(ACC_BITS as u32));
        let dpes = l * c;
        let mut area = Breakdown::new();
        area.add(
            "ccm",
            dpes * (dpe.distance.area_um2 + dpe.centroid_regs.area_um2),
        );
        area.add("argmin", dpes * dpe.argmin.area_um2);
        area.add(
            "index_fifo",
            tech.register(INDEX_FIFO_DEPTH * cfg.index_bits()).area_um2,
        );
        area.add("psum_lut", tn * bank.area_um2);
        area.add("accumulators", tn * (acc.area_um2 + acc_add.area_um2));
        area.add("sram_input", input.area_um2);
        area.add("sram_table", table.area_um2);
        area.add("companion", companion.array_area_um2());
        area.add("vector", vector.area_um2);
        let leakage_w = input.leakage_w + table.leakage_w + tn * (bank.leakage_w + acc.leakage_w);
        let consts = DesignConsts {
            freq_hz: cfg.freq_mhz * 1e6,
            area_um2: area.total(),
            area_breakdown: area,
            leakage_w,
            peak_macs_per_cycle: tn * v,
        };
        LutDesign {
            cfg,
            tech,
            dpe,
            companion,
            vector,
            consts,
            input,
            table,
            bank,
            acc,
            reg_pj_per_bit: tech.register(1.0).energy_pj,
            acc_add_pj: acc_add.energy_pj,
            dram_pj_per_byte: 8.0 * cfg.dram_pj_bit,
            dram_bytes_per_cycle: if cfg.dram_gbps > 0.0 {
                cfg.dram_gbps * 1e9 / (cfg.freq_mhz * 1e6)
            } else {
                f64::INFINITY
            },
        }
    }

    pub fn from_params(p: &Params) -> Result<LutDesign, ParamError> {
        Ok(LutDesign::new(LutConfig::from_params(p)?))
    }

    /// Peak dense-equivalent MACs per cycle of the LUT engine: each lane's look-up replaces v MACs.
    pub fn peak_macs_per_cycle(&self) -> f64 {
        self.consts.peak_macs_per_cycle
    }

    /// Counts and cycles of one VQ GEMM (see the module docs for the formulas).
    pub fn lut_work(&self, g: &Gemm) -> LutWork {
        let cfg = &self.cfg;
        let (m, k, n) = (g.m, g.k, g.n);
        let nc = ceil_div(k, cfg.v);
        let tm = cfg.acc_rows.max(1);
        let m_tiles = ceil_div(m, tm);
        let n_tiles = ceil_div(n, cfg.lanes);
        let (full, last) = if m % tm == 0 {
            (m / tm, tm)
        } else {
            (m / tm, m % tm)
        };
        let tile_cycles = |rows: u64| -> (f64, f64) {
            let ccm = (nc * ceil_div(rows, cfg.units) + cfg.c) as f64;
            let imm = (n_tiles * nc * rows.max(cfg.c)) as f64;
            (ccm, imm)
        };
        let (ccm_full, imm_full) = tile_cycles(tm);
        let (ccm_last, imm_last) = if m % tm == 0 {
            (0.0, 0.0)
        } else {
            tile_cycles(last)
        };
        let full_f = full as f64;
        let ccm_cycles = ccm_full * full_f + ccm_last;
        let imm_cycles = imm_full * full_f + imm_last;
        // Pipelined through the FIFO tile by tile; the first table load (c cycles) is exposed.
        let compute = ccm_full.max(imm_full) * full_f + ccm_last.max(imm_last) + cfg.c as f64;
        let (mf, nf, ncf, cf) = (m as f64, n as f64, nc as f64, cfg.c as f64);
        let lookups = mf * ncf * nf;
        let table_entries = ncf * cf * nf;
        let table_entries_loaded = m_tiles as f64 * table_entries;
        let centroid_bits = ncf * cf * cfg.v as f64 * cfg.centroid_bits;
        let table_bytes = table_entries * cfg.lut_bits / 8.0;
        let dram_bytes = mf * k as f64 * ACT_BITS / 8.0
            + dram_traffic(
                table_bytes,
                table_bytes * m_tiles as f64,
                cfg.table_kb * 1024.0,
            )
            + centroid_bits / 8.0
            + mf * nf * ACT_BITS / 8.0;
        let dram_cycles = dram_bytes / self.dram_bytes_per_cycle;
        LutWork {
            subspaces: nc,
            m_tiles,
            n_tiles,
            ccm_cycles,
            imm_cycles,
            cycles: compute.max(dram_cycles),
            distance_evals: mf * ncf * cf,
            lookups,
            table_entries_loaded,
            index_writes: mf * ncf,
            index_reads: mf * ncf * n_tiles as f64,
            centroid_bits_loaded: m_tiles as f64 * centroid_bits * cfg.units as f64,
            dram_bytes,
        }
    }

    fn price_vq(&self, g: &Gemm, repeats: f64, e: &mut Breakdown) -> f64 {
        let w = self.lut_work(g);
        let idx_bits = self.cfg.index_bits();
        let r = repeats;
        e.add(
            "ccm",
            r * (w.distance_evals * self.dpe.distance.energy_pj
                + w.centroid_bits_loaded * self.reg_pj_per_bit),
        );
        e.add("argmin", r * w.distance_evals * self.dpe.argmin.energy_pj);
        // Through the FIFO once (write + read of a register), into and out of the index buffer.
        let fifo = 2.0 * w.index_writes * idx_bits * self.reg_pj_per_bit;
        let buffer = (w.index_writes + w.index_reads) * self.input.per_element_pj(idx_bits);
        e.add("index", r * (fifo + buffer));
        // Table buffer reads into the banks, bank writes, and one bank read per look-up.
        let loads = w.table_entries_loaded
            * (self.table.per_element_pj(self.cfg.lut_bits) + self.bank.access_pj);
        e.add("psum_lut", r * (loads + w.lookups * self.bank.access_pj));
        // Add, then read-modify-write the accumulator bank (the first subspace only writes).
        let outputs = (g.m * g.n) as f64;
        let acc_accesses = 2.0 * w.lookups - outputs;
        e.add(
            "accumulate",
            r * (w.lookups * self.acc_add_pj + acc_accesses * self.acc.access_pj),
        );
        // The CCM reads every activation once from the input buffer.
        e.add(
            "sram",
            r * (g.m * g.k) as f64 * self.input.per_element_pj(ACT_BITS),
        );
        e.add("dram", r * w.dram_bytes * self.dram_pj_per_byte);
        w.cycles * r
    }

    fn price_companion(&self, g: &Gemm, repeats: f64, e: &mut Breakdown) -> f64 {
        let mut part = Breakdown::new();
        let cycles = self.companion.price_dense(g, repeats, &mut part);
        for (name, pj) in part.iter() {
            e.add(if name == "dram" { "dram" } else { "companion" }, pj);
        }
        cycles
    }
}

crate::common::accelerator_design!(LutDesign);

impl LutDesign {
    /// Cost of one GEMM layer, repeats included.
    fn price_gemm(&self, g: &Gemm, repeats: f64) -> HwReport {
        let mut e = Breakdown::new();
        if g.vq.is_some() {
            let cycles = self.price_vq(g, repeats, &mut e);
            self.consts
                .layer_report(cycles, e, g.macs() as f64 * repeats)
        } else {
            let cycles = self.price_companion(g, repeats, &mut e);
            let mut consts = self.consts;
            consts.peak_macs_per_cycle = self.companion.peak_macs_per_cycle();
            let mut rep = consts.layer_report(cycles, e, g.macs() as f64 * repeats);
            rep.peak_macs_per_cycle = self.consts.peak_macs_per_cycle;
            rep
        }
    }
}

/// LUT design parameters that match a workload's VQ spec (the first layer that has one), with
/// every other parameter at its default; `None` when no layer is vector-quantized.
pub fn lut_params_for(workload: &Workload) -> Option<Params> {
    let vq = workload.gemms().find_map(|(_, g)| g.vq.as_ref())?;
    let mut p = Params::defaults(LUT_PARAMS);
    p.set("v", Value::Int(vq.v as i64));
    p.set("c", Value::Int(vq.c as i64));
    p.set("metric", Value::Str(vq.metric.name().to_string()));
    p.set("lut_bits", Value::Int(vq.table_bits as i64));
    p.set("centroid_bits", Value::Int(vq.centroid_bits as i64));
    Some(p)
}

/// The int8 WS systolic array of **equal peak throughput** to a LUT design: rows × cols =
/// lanes × v (each look-up lane stands in for v MACs per cycle; the CCM is sized not to be the
/// bottleneck), rows the largest power of two ≤ √(lanes·v). Clock, node, supply, DRAM and
/// vector unit are the LUT design's; its ifmap/filter/ofmap SRAMs take the LUT design's input,
/// table and accumulator capacities. The LUT design's companion array is not added: the
/// comparison is of the two engines.
pub fn equal_throughput_systolic(lut: &Params) -> Result<Params, ParamError> {
    let cfg = LutConfig::from_params(lut)?;
    let macs = (cfg.lanes * cfg.v).max(1);
    let mut rows = 1u64;
    while (rows * 2) * (rows * 2) <= macs {
        rows *= 2;
    }
    let cols = macs.div_ceil(rows);
    let mut p = Params::defaults(crate::systolic::SYSTOLIC_PARAMS);
    p.set("rows", Value::Int(rows as i64));
    p.set("cols", Value::Int(cols as i64));
    p.set("dataflow", Value::Str("ws".into()));
    p.set("precision", Value::Str("int8".into()));
    p.set("ifmap_kb", Value::Float(cfg.input_kb));
    p.set("filter_kb", Value::Float(cfg.table_kb));
    p.set(
        "ofmap_kb",
        Value::Float(cfg.acc_rows as f64 * cfg.lanes as f64 * ACC_BITS / 8192.0),
    );
    p.set("dram_gbps", Value::Float(cfg.dram_gbps));
    p.set("dram_pj_bit", Value::Float(cfg.dram_pj_bit));
    p.set("freq_mhz", Value::Float(cfg.freq_mhz));
    p.set("node_nm", Value::Float(cfg.node_nm));
    p.set("vdd", Value::Float(cfg.vdd));
    p.set("vec_lanes", Value::Int(cfg.vec_lanes as i64));
    Ok(p)
}

/// The `lut` hardware model.
#[derive(Debug, Clone, Copy)]
pub struct Lut;

/// Registry entry for the LUT accelerator.
pub static LUT: Lut = Lut;

impl HwModel for Lut {
    fn id(&self) -> &'static str {
        "lut"
    }

    fn describe(&self) -> &'static str {
        "LUT-DLA-style vector-quantized LUT accelerator (CCM centroid search + ping-pong PSum LUT IMM) with an int8 companion array for dense layers"
    }

    fn params(&self) -> &'static [ParamSpec] {
        LUT_PARAMS
    }

    fn build(&self, params: &Params) -> Result<Box<dyn HwDesign>, ParamError> {
        Ok(Box::new(LutDesign::from_params(params)?))
    }

    /// LUT-DLA generates the accelerator for the network (its hardware generator takes v, c
    /// and the metric), so the design adopts the workload's VQ spec. The suite's `lanes × v`
    /// is kept: it is the design's peak throughput in MAC equivalents per cycle, which is what
    /// the equal-throughput systolic baselines are sized against.
    fn specialize(&self, params: &Params, workload: &Workload) -> Params {
        let Some(vq) = workload.gemms().find_map(|(_, g)| g.vq.as_ref()) else {
            return params.clone();
        };
        let mut p = params.clone();
        let throughput = p.int("lanes") * p.int("v");
        let v = vq.v as i64;
        p.set("v", Value::Int(v));
        p.set("lanes", Value::Int((throughput / v).max(1)));
        p.set("c", Value::Int(vq.c as i64));
        p.set("metric", Value::Str(vq.metric.name().to_string()));
        p.set("lut_bits", Value::Int(vq.table_bits.clamp(4, 32) as i64));
        p.set(
            "centroid_bits",
            Value::Int(vq.centroid_bits.clamp(2, 16) as i64),
        );
        // Keep only what the model accepts (a workload outside the ranges keeps the suite's value).
        Params::resolve(LUT_PARAMS, &p.0).unwrap_or_else(|_| params.clone())
    }
}
