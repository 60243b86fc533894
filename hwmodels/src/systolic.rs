//! Systolic MAC array (int8 or fp16), SCALE-Sim v2's compute model plus energy and area.
//!
//! Compute (SCALE-Sim v2, `scalesim/compute/systolic_compute_{os,ws,is}.py`; ISPASS'20):
//! a GEMM (M, K, N) maps to (rows Sr, cols Sc, time T) as OS (M, N, K), WS (K, N, M),
//! IS (K, M, N); folds F = ⌈Sr/R⌉·⌈Sc/C⌉; cycles per fold R + C + T − 2 (OS, as coded in v2) or
//! 2R + C + T − 2 (WS, IS: R cycles of preload, T of streaming, R−1 skew, C−1 drain); total
//! F × per-fold − 1. SRAM traffic per operand is what SCALE-Sim's demand matrices count: the
//! streamed operand is re-read once per fold along the other array dimension, the stationary
//! operand is read once, and outputs are written once per fold along the reduction.
//!
//! Beyond SCALE-Sim (which reports no energy): partial sums written more than once are read
//! back to accumulate; DRAM traffic per operand follows [`crate::common::dram_traffic`]; with a
//! finite DRAM bandwidth double buffering overlaps transfers with compute, so cycles =
//! max(compute, DRAM transfer) (Timeloop's max-over-levels rule) and the difference is stalls.
//! Energy: MACs (Horowitz mult + accumulator add), PE pipeline registers (Aladdin), SRAM
//! accesses ([`crate::sram`], one port word = one array edge of elements), DRAM bits, leakage.
//! Weight SRAM and DRAM traffic follow the layer's weight *storage* (codebook indices are
//! moved at their own width and decoded at the array edge), MACs its compute format.

use compbench_core::params::ParamSpec;
use compbench_core::{Breakdown, Gemm, HwModelEntry, HwReport, MAPPED_PE_SLOTS, NumFormat, PE_SLOTS, ParamError, Params};

use crate::common::{DesignConsts, ceil_div, dram_traffic, p_u64};
use crate::sram::Sram;
use crate::tech::{self, Tech};
use crate::vector::VectorUnit;

/// How GEMM dimensions map onto the array (SCALE-Sim's names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dataflow {
    /// Output stationary: (rows, cols, time) = (M, N, K).
    Os,
    /// Weight stationary: (K, N, M).
    Ws,
    /// Input stationary: (K, M, N).
    Is,
}

impl Dataflow {
    pub const NAMES: &'static [&'static str] = &["os", "ws", "is"];

    pub fn parse(s: &str) -> Option<Dataflow> {
        match s {
            "os" => Some(Dataflow::Os),
            "ws" => Some(Dataflow::Ws),
            "is" => Some(Dataflow::Is),
            _ => None,
        }
    }

    /// (Sr, Sc, T) of a GEMM.
    pub fn map(self, m: u64, k: u64, n: u64) -> (u64, u64, u64) {
        match self {
            Dataflow::Os => (m, n, k),
            Dataflow::Ws => (k, n, m),
            Dataflow::Is => (k, m, n),
        }
    }
}

/// SCALE-Sim v2's compute report for one GEMM on an R×C array, unlimited bandwidth.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FoldStats {
    pub row_folds: u64,
    pub col_folds: u64,
    pub folds: u64,
    pub cycles_per_fold: u64,
    /// F × per-fold − 1 (SCALE-Sim's convention).
    pub compute_cycles: u64,
    /// Mean over folds of used PEs ÷ (R·C).
    pub mapping_efficiency: f64,
    /// SRAM element reads of the M×K operand ("ifmap").
    pub ifmap_reads: u64,
    /// SRAM element reads of the K×N operand ("filter").
    pub filter_reads: u64,
    /// SRAM element writes of the M×N result ("ofmap"), partial sums included.
    pub ofmap_writes: u64,
}

/// The closed form of SCALE-Sim v2's compute model (see the module docs).
pub fn scalesim(dataflow: Dataflow, rows: u64, cols: u64, m: u64, k: u64, n: u64) -> FoldStats {
    let (sr, sc, t) = dataflow.map(m, k, n);
    let row_folds = ceil_div(sr, rows);
    let col_folds = ceil_div(sc, cols);
    let folds = row_folds * col_folds;
    let cycles_per_fold = match dataflow {
        Dataflow::Os => rows + cols + t - 2,
        Dataflow::Ws | Dataflow::Is => 2 * rows + cols + t - 2,
    };
    let compute_cycles = (folds * cycles_per_fold).saturating_sub(1);
    let mapping_efficiency = if folds == 0 {
        0.0
    } else {
        (sr * sc) as f64 / (folds as f64 * (rows * cols) as f64)
    };
    let (ifmap_reads, filter_reads, ofmap_writes) = match dataflow {
        // Both inputs stream: A once per column fold, B once per row fold; C written once.
        Dataflow::Os => (m * k * col_folds, k * n * row_folds, m * n),
        // B stationary (read once); A streams once per column fold; C once per row fold.
        Dataflow::Ws => (m * k * col_folds, k * n, m * n * row_folds),
        // A stationary (read once); B streams once per column fold; C once per row fold.
        Dataflow::Is => (m * k, k * n * col_folds, m * n * row_folds),
    };
    FoldStats {
        row_folds,
        col_folds,
        folds,
        cycles_per_fold,
        compute_cycles,
        mapping_efficiency,
        ifmap_reads,
        filter_reads,
        ofmap_writes,
    }
}

/// DRAM traffic of one GEMM run by operand, bytes.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct DramBytes {
    pub ifmap: f64,
    pub filter: f64,
    /// Outputs, plus partial sums that spill and come back.
    pub ofmap: f64,
}

impl DramBytes {
    pub fn total(&self) -> f64 {
        self.ifmap + self.filter + self.ofmap
    }
}

/// What one GEMM run asks of the array, after any skipping (dense or block-sparse).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct GemmWork {
    pub compute_cycles: f64,
    /// MACs actually executed by PEs.
    pub executed_macs: f64,
    pub ifmap_reads: f64,
    pub filter_reads: f64,
    pub ofmap_writes: f64,
    /// Final outputs (M·N), so partial-sum read-backs are `ofmap_writes − outputs`.
    pub outputs: f64,
    pub dram_bytes: f64,
    /// Extra metadata energy (block-sparse index reads), pJ.
    pub metadata_pj: f64,
    /// Codebook decode of the weights ([`SystolicCore::weight_decode`]), pJ.
    pub decode_pj: f64,
    /// Fraction of the array's element width the activation / weight operands occupy in SRAM
    /// (see [`SystolicCore::operand_scales`]); 1.0 at the array's precision.
    pub ifmap_scale: f64,
    pub filter_scale: f64,
}

/// Parsed systolic parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SystolicConfig {
    pub rows: u64,
    pub cols: u64,
    pub dataflow: Dataflow,
    pub fp16: bool,
    pub ifmap_kb: f64,
    pub filter_kb: f64,
    pub ofmap_kb: f64,
    /// GB/s; 0 = unlimited (SCALE-Sim's `CALC`: sized so there are no stalls).
    pub dram_gbps: f64,
    pub dram_pj_bit: f64,
    pub freq_mhz: f64,
    pub node_nm: f64,
    pub vdd: f64,
    pub vec_lanes: u32,
}

/// Parameters of the `systolic` model (ids used in suites and `--param`).
pub static SYSTOLIC_PARAMS: &[ParamSpec] = &[
    ParamSpec::int("rows", 32, 1, 4096, "array rows R"),
    ParamSpec::int("cols", 32, 1, 4096, "array columns C"),
    ParamSpec::choice(
        "dataflow",
        "ws",
        Dataflow::NAMES,
        "SCALE-Sim dataflow: output, weight or input stationary",
    ),
    ParamSpec::choice(
        "precision",
        "int8",
        &["int8", "fp16"],
        "MAC precision (int8×int8+int32 or fp16×fp16+fp32)",
    ),
    ParamSpec::float(
        "ifmap_kb",
        64.0,
        0.0,
        1048576.0,
        "activation (M×K operand) SRAM, KiB",
    ),
    ParamSpec::float(
        "filter_kb",
        64.0,
        0.0,
        1048576.0,
        "weight (K×N operand) SRAM, KiB",
    ),
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
        "DRAM bandwidth, GB/s (0 = unlimited, no stalls)",
    ),
    ParamSpec::float(
        "dram_pj_bit",
        tech::HOROWITZ_DRAM_PJ_PER_BIT,
        0.0,
        1000.0,
        "DRAM energy per bit (Horowitz: 20; 0 = on-chip only)",
    ),
    ParamSpec::float("freq_mhz", 1000.0, 1.0, 10000.0, "clock, MHz"),
    ParamSpec::float(
        "node_nm",
        28.0,
        tech::MIN_NODE_NM,
        tech::MAX_NODE_NM,
        "process node, nm (Stillmaker–Baas scaling from 45 nm)",
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

impl SystolicConfig {
    pub fn from_params(given: &Params) -> Result<SystolicConfig, ParamError> {
        let p = Params::resolve(SYSTOLIC_PARAMS, &given.0)?;
        Ok(SystolicConfig {
            rows: p_u64(&p, "rows"),
            cols: p_u64(&p, "cols"),
            dataflow: Dataflow::parse(p.str("dataflow")).unwrap_or(Dataflow::Ws),
            fp16: p.str("precision") == "fp16",
            ifmap_kb: p.float("ifmap_kb"),
            filter_kb: p.float("filter_kb"),
            ofmap_kb: p.float("ofmap_kb"),
            dram_gbps: p.float("dram_gbps"),
            dram_pj_bit: p.float("dram_pj_bit"),
            freq_mhz: p.float("freq_mhz"),
            node_nm: p.float("node_nm"),
            vdd: p.float("vdd"),
            vec_lanes: p.int("vec_lanes") as u32,
        })
    }
}

/// Accumulator width of both precisions (int32 / fp32).
pub const ACC_BITS: f64 = 32.0;

/// A systolic array with per-design constants precomputed, shared by the `systolic` model, the
/// block-sparse model and the LUT accelerator's companion array.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SystolicCore {
    pub cfg: SystolicConfig,
    pub tech: Tech,
    pub elem_bits: f64,
    mac_pj: f64,
    reg_pj_per_mac: f64,
    pub ifmap: Sram,
    pub filter: Sram,
    pub ofmap: Sram,
    ifmap_elem_pj: f64,
    filter_elem_pj: f64,
    ofmap_elem_pj: f64,
    dram_pj_per_byte: f64,
    /// Bytes per cycle; infinite when unlimited.
    dram_bytes_per_cycle: f64,
    pub pe_area_um2: f64,
}

impl SystolicCore {
    pub fn new(cfg: SystolicConfig) -> SystolicCore {
        let tech = Tech::new(cfg.node_nm, cfg.vdd);
        let elem_bits = if cfg.fp16 { 16.0 } else { 8.0 };
        let mac = tech.mac(cfg.fp16);
        // Pipeline registers a PE writes per MAC: the forwarded input and the forwarded partial
        // sum (WS, IS); both inputs and the in-place accumulator (OS).
        let reg_bits = match cfg.dataflow {
            Dataflow::Os => 2.0 * elem_bits + ACC_BITS,
            Dataflow::Ws | Dataflow::Is => elem_bits + ACC_BITS,
        };
        // A PE holds: one input register per operand and one accumulator.
        let pe_area = mac.area_um2 + tech.register(2.0 * elem_bits + ACC_BITS).area_um2;
        // Port widths: the operand fed from the left edge is R elements wide, from the top C.
        let (r, c) = (cfg.rows as f64, cfg.cols as f64);
        let (ifmap_port, filter_port) = match cfg.dataflow {
            Dataflow::Os | Dataflow::Ws => (r, c),
            Dataflow::Is => (c, r),
        };
        let ifmap = Sram::new(&tech, cfg.ifmap_kb, ifmap_port * elem_bits);
        let filter = Sram::new(&tech, cfg.filter_kb, filter_port * elem_bits);
        let ofmap = Sram::new(&tech, cfg.ofmap_kb, c * ACC_BITS);
        SystolicCore {
            cfg,
            tech,
            elem_bits,
            mac_pj: mac.energy_pj,
            reg_pj_per_mac: tech.register(reg_bits).energy_pj,
            ifmap_elem_pj: ifmap.per_element_pj(elem_bits),
            filter_elem_pj: filter.per_element_pj(elem_bits),
            ofmap_elem_pj: ofmap.per_element_pj(ACC_BITS),
            ifmap,
            filter,
            ofmap,
            dram_pj_per_byte: 8.0 * cfg.dram_pj_bit,
            dram_bytes_per_cycle: if cfg.dram_gbps > 0.0 {
                cfg.dram_gbps * 1e9 / (cfg.freq_mhz * 1e6)
            } else {
                f64::INFINITY
            },
            pe_area_um2: pe_area,
        }
    }

    pub fn peak_macs_per_cycle(&self) -> f64 {
        (self.cfg.rows * self.cfg.cols) as f64
    }

    /// Peak operations per second (2 per MAC).
    pub fn peak_ops_per_s(&self) -> f64 {
        2.0 * self.peak_macs_per_cycle() * self.cfg.freq_mhz * 1e6
    }

    pub fn array_area_um2(&self) -> f64 {
        self.peak_macs_per_cycle() * self.pe_area_um2
    }

    pub fn sram_leakage_w(&self) -> f64 {
        self.ifmap.leakage_w + self.filter.leakage_w + self.ofmap.leakage_w
    }

    pub fn elem_bytes(&self) -> f64 {
        self.elem_bits / 8.0
    }

    /// DRAM bytes of a GEMM given SRAM-level traffic (see [`dram_traffic`]), per operand.
    pub fn dram_bytes(
        &self,
        m: f64,
        k: f64,
        n: f64,
        ifmap_reads: f64,
        filter_reads: f64,
        ofmap_writes: f64,
        (ifmap_scale, filter_scale): (f64, f64),
    ) -> DramBytes {
        let b = self.elem_bytes();
        let acc_b = ACC_BITS / 8.0;
        let (bi, bf) = (b * ifmap_scale, b * filter_scale);
        let ifmap = dram_traffic(m * k * bi, ifmap_reads * bi, self.cfg.ifmap_kb * 1024.0);
        let filter = dram_traffic(k * n * bf, filter_reads * bf, self.cfg.filter_kb * 1024.0);
        // Outputs leave once at the array precision; partial sums that do not fit in the
        // output SRAM spill and come back (×2).
        let outputs = m * n;
        let psum_bytes = outputs * acc_b;
        let cap = self.cfg.ofmap_kb * 1024.0;
        let spill = if ofmap_writes > outputs && psum_bytes > cap {
            2.0 * (ofmap_writes - outputs) * acc_b * (1.0 - cap / psum_bytes)
        } else {
            0.0
        };
        DramBytes {
            ifmap,
            filter,
            ofmap: outputs * b + spill,
        }
    }

    /// SCALE-Sim's access counts of one dense GEMM layer, repeats included, under its report
    /// names (DETAILED_ACCESS_REPORT's SRAM reads and writes, DRAM traffic in bytes, folds and
    /// the PE slots behind COMPUTE_REPORT's mapping efficiency).
    pub fn dense_counts(&self, g: &Gemm, s: &FoldStats, repeats: f64) -> Breakdown {
        let (m, k, n) = (g.m as f64, g.k as f64, g.n as f64);
        let (i, f, o) = (
            s.ifmap_reads as f64,
            s.filter_reads as f64,
            s.ofmap_writes as f64,
        );
        let dram = self.dram_bytes(m, k, n, i, f, o, self.operand_scales(g));
        let (_, codebook_bytes) = self.weight_decode(g, f);
        let (sr, sc, _) = self.cfg.dataflow.map(g.m, g.k, g.n);
        let mut c = Breakdown::new();
        for (name, value) in [
            ("sram_ifmap_reads", i),
            ("sram_filter_reads", f),
            ("sram_ofmap_writes", o),
            ("dram_ifmap_bytes", dram.ifmap),
            ("dram_filter_bytes", dram.filter + codebook_bytes),
            ("dram_ofmap_bytes", dram.ofmap),
            ("compute_cycles", s.compute_cycles as f64),
            ("folds", s.folds as f64),
            (MAPPED_PE_SLOTS, (sr * sc) as f64),
            (PE_SLOTS, (s.folds * self.cfg.rows * self.cfg.cols) as f64),
        ] {
            c.add(name, value * repeats);
        }
        c
    }

    /// Fraction of the array's element width that a layer's activation and weight operands
    /// occupy in SRAM and DRAM. On an integer array, narrower integer operands are stored
    /// packed (a W4 layer moves half the weight bytes of a W8 one through an int8 array's
    /// buffers); float operands, and everything on a float array, are held at the array's
    /// precision (the network runs in that precision). Weights are sized by their storage
    /// ([`Gemm::storage`]), not their compute format: codebook indices are packed at their own
    /// width on any array and decoded to the array's precision at its edge
    /// ([`SystolicCore::weight_decode`]). The MAC datapath is fixed, so MAC and PE-register
    /// energy do not scale.
    pub fn operand_scales(&self, g: &Gemm) -> (f64, f64) {
        let fp_array = self.cfg.fp16;
        let scale = |f: NumFormat| match f {
            NumFormat::Int(bits) if !fp_array => (bits as f64 / self.elem_bits).min(1.0),
            _ => 1.0,
        };
        let storage = g.storage();
        let weight = match storage.codebook {
            Some(_) => storage.element.bits() as f64 / self.elem_bits,
            None => scale(storage.element),
        };
        (scale(g.act), weight)
    }

    /// Cost of decoding codebook-indexed weights (ours, first order): the codebooks are loaded
    /// once per run from DRAM (at their value width) into a decode table of array-precision
    /// registers, and every weight element the array reads from the filter SRAM is one
    /// register-file read of that table. Returns (energy pJ, DRAM bytes); zero without a
    /// codebook. The decode table's area is not added to the design.
    pub fn weight_decode(&self, g: &Gemm, filter_reads: f64) -> (f64, f64) {
        let storage = g.storage();
        let Some(cb) = &storage.codebook else {
            return (0.0, 0.0);
        };
        let reg_pj = self.tech.register(self.elem_bits).energy_pj;
        let table_writes = cb.count as f64 * cb.entries as f64;
        (
            (filter_reads + table_writes) * reg_pj,
            storage.codebook_bits() / 8.0,
        )
    }

    /// Dense work of a GEMM under SCALE-Sim's model.
    pub fn dense_work(&self, g: &Gemm) -> (FoldStats, GemmWork) {
        let s = scalesim(
            self.cfg.dataflow,
            self.cfg.rows,
            self.cfg.cols,
            g.m,
            g.k,
            g.n,
        );
        let (m, k, n) = (g.m as f64, g.k as f64, g.n as f64);
        let (i, f, o) = (
            s.ifmap_reads as f64,
            s.filter_reads as f64,
            s.ofmap_writes as f64,
        );
        let scales = self.operand_scales(g);
        let (decode_pj, codebook_bytes) = self.weight_decode(g, f);
        let work = GemmWork {
            compute_cycles: s.compute_cycles as f64,
            executed_macs: m * k * n,
            ifmap_reads: i,
            filter_reads: f,
            ofmap_writes: o,
            outputs: m * n,
            dram_bytes: self.dram_bytes(m, k, n, i, f, o, scales).total() + codebook_bytes,
            metadata_pj: 0.0,
            decode_pj,
            ifmap_scale: scales.0,
            filter_scale: scales.1,
        };
        (s, work)
    }

    /// Cycles (stalls included) and energy by component of one run of `w`.
    pub fn price_work(&self, w: &GemmWork, energy: &mut Breakdown, times: f64) -> f64 {
        let dram_cycles = w.dram_bytes / self.dram_bytes_per_cycle;
        let cycles = w.compute_cycles.max(dram_cycles);
        energy.add("mac", times * w.executed_macs * self.mac_pj);
        energy.add("pe_regs", times * w.executed_macs * self.reg_pj_per_mac);
        energy.add(
            "sram_ifmap",
            times * w.ifmap_reads * self.ifmap_elem_pj * w.ifmap_scale,
        );
        energy.add(
            "sram_filter",
            times * w.filter_reads * self.filter_elem_pj * w.filter_scale,
        );
        let psum_reads = (w.ofmap_writes - w.outputs).max(0.0);
        energy.add(
            "sram_ofmap",
            times * (w.ofmap_writes + psum_reads) * self.ofmap_elem_pj,
        );
        energy.add("dram", times * w.dram_bytes * self.dram_pj_per_byte);
        if w.metadata_pj > 0.0 {
            energy.add("metadata", times * w.metadata_pj);
        }
        if w.decode_pj > 0.0 {
            energy.add("weight_decode", times * w.decode_pj);
        }
        cycles * times
    }

    /// Cycles and energy of one dense GEMM layer, repeats included.
    pub fn price_dense(&self, g: &Gemm, repeats: f64, energy: &mut Breakdown) -> f64 {
        let (_, w) = self.dense_work(g);
        self.price_work(&w, energy, repeats)
    }
}

/// A systolic-array design point.
#[derive(Debug, Clone, Copy)]
pub struct SystolicDesign {
    pub core: SystolicCore,
    pub vector: VectorUnit,
    pub consts: DesignConsts,
}

impl SystolicDesign {
    pub fn new(cfg: SystolicConfig) -> SystolicDesign {
        let core = SystolicCore::new(cfg);
        let vector = VectorUnit::new(&core.tech, cfg.vec_lanes);
        let mut area = Breakdown::new();
        area.add("pe_array", core.array_area_um2());
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
        SystolicDesign {
            core,
            vector,
            consts,
        }
    }

    pub fn from_params(p: &Params) -> Result<SystolicDesign, ParamError> {
        Ok(SystolicDesign::new(SystolicConfig::from_params(p)?))
    }

    pub fn peak_ops_per_s(&self) -> f64 {
        self.core.peak_ops_per_s()
    }
}

/// Price a non-linear layer on a vector unit (shared by the accelerator models).
pub fn price_nonlinear(
    vector: &VectorUnit,
    consts: &DesignConsts,
    op: &compbench_core::NonlinearOp,
    repeats: f64,
) -> HwReport {
    let (cycles, pj) = vector.price(op);
    let mut e = Breakdown::new();
    e.add("vector", pj * repeats);
    consts.layer_report(cycles * repeats, e, 0.0)
}

crate::common::accelerator_design!(SystolicDesign);

impl SystolicDesign {
    /// Cost of one GEMM layer, repeats included.
    fn price_gemm(&self, g: &Gemm, repeats: f64) -> HwReport {
        let (stats, work) = self.core.dense_work(g);
        let mut e = Breakdown::new();
        let cycles = self.core.price_work(&work, &mut e, repeats);
        let mut report = self
            .consts
            .layer_report(cycles, e, g.macs() as f64 * repeats);
        report.counts = self.core.dense_counts(g, &stats, repeats);
        report
    }
}

/// Registry entry for the `systolic` hardware model.
pub static SYSTOLIC: HwModelEntry = HwModelEntry {
    id: "systolic",
    describe: "R×C int8/fp16 systolic MAC array (SCALE-Sim v2 compute model, os|ws|is) with SRAM, DRAM, energy and area",
    params: SYSTOLIC_PARAMS,
    build: |params| Ok(Box::new(SystolicDesign::from_params(params)?)),
};
