//! Technology: per-operation energy and area at 45 nm, and scaling to other nodes and voltages.
//!
//! * Horowitz, "Computing's energy problem", ISSCC 2014: energy (pJ) and area (µm²) of integer and
//!   floating-point adders and multipliers at 45 nm, 0.9 V, and memory access energies.
//! * Stillmaker & Baas, "Scaling equations for the accurate prediction of CMOS device performance
//!   from 180 nm to 7 nm", Integration 58:74–81, 2017: energy per op at node X and supply V is
//!   proportional to f_X(V) = a·V² + b·V + c (HSPICE fits, R² > 0.95), and area factors per node.
//! * Aladdin's 40 nm component library (as packaged in Accelergy's hwcomponents-library):
//!   register and comparator costs that Horowitz's table lacks.
//!
//! Every number below is at 45 nm / 0.9 V; [`Tech`] turns it into the design's node and supply.

/// Horowitz ISSCC 2014, 45 nm, 0.9 V: (bits, energy pJ, area µm²) of an integer adder.
const HOROWITZ_INT_ADD: [(f64, f64, f64); 3] =
    [(8.0, 0.03, 36.0), (16.0, 0.05, 67.0), (32.0, 0.1, 137.0)];
/// Horowitz ISSCC 2014: integer multipliers. The table has 8 b and 32 b; 16 b is the geometric
/// mean of the two (derived: multiplier cost grows roughly with bits², and 0.2·(32/8)² ≈ 3.1).
const HOROWITZ_INT_MULT: [(f64, f64, f64); 2] = [(8.0, 0.2, 282.0), (32.0, 3.1, 3495.0)];
/// Horowitz ISSCC 2014: fp16 add, fp16 mult, fp32 add, fp32 mult (pJ, µm²).
const HOROWITZ_FP16_ADD: (f64, f64) = (0.4, 1360.0);
const HOROWITZ_FP16_MULT: (f64, f64) = (1.1, 1640.0);
const HOROWITZ_FP32_ADD: (f64, f64) = (0.9, 4184.0);
const HOROWITZ_FP32_MULT: (f64, f64) = (3.7, 7700.0);

/// Horowitz ISSCC 2014: a 64-bit cache access at 45 nm costs 10 pJ (8 KB), 20 pJ (32 KB),
/// 100 pJ (1 MB). [`crate::sram`] fits a power law through these.
pub const HOROWITZ_SRAM_64B_PJ: [(f64, f64); 3] = [(8.0, 10.0), (32.0, 20.0), (1024.0, 100.0)];
/// Horowitz ISSCC 2014: a 32-bit DRAM read costs 640 pJ, i.e. 20 pJ per bit. DRAM energy is
/// interface-dominated and is not scaled with the logic node.
pub const HOROWITZ_DRAM_PJ_PER_BIT: f64 = 640.0 / 32.0;

/// Aladdin 40 nm (hwcomponents-library `aladdin.py`): a register costs 0.009 pJ per bit written
/// and 5.98 µm² per bit.
const ALADDIN_40NM_REG_PJ_PER_BIT: f64 = 0.009;
const ALADDIN_40NM_REG_UM2_PER_BIT: f64 = 5.98;
/// Aladdin 40 nm: a 32-bit comparator costs 0.0295 pJ and 71 µm²; narrower ones scale with bits.
const ALADDIN_40NM_CMP32_PJ: f64 = 0.0295;
const ALADDIN_40NM_CMP32_UM2: f64 = 71.0;

/// Aladdin 40 nm: a counter (index/address generator) costs 0.25 pJ per step and 495.5 µm².
const ALADDIN_40NM_COUNTER: (f64, f64) = (0.25, 495.5);

/// Stillmaker & Baas 2017, Table of f(V) = a·V² + b·V + c per node (nm, a, b, c), largest first.
const STILLMAKER_ENERGY_POLY: [(f64, f64, f64, f64); 10] = [
    (130.0, 7.171, -6.709, 2.904),
    (90.0, 4.762, -4.781, 2.092),
    (65.0, 3.755, -4.398, 1.975),
    (45.0, 1.103, -0.362, 0.2767),
    (32.0, 0.9559, -0.7823, 0.471),
    (20.0, 0.373, -0.1582, 0.04104),
    (16.0, 0.2958, -0.1241, 0.03024),
    (14.0, 0.2363, -0.09675, 0.02239),
    (10.0, 0.2068, -0.09311, 0.02375),
    (7.0, 0.1776, -0.09097, 0.02447),
];

/// Stillmaker & Baas 2017: area factor from 45 nm to each node (nm, factor), largest first.
/// The paper's table covers 45 nm and below; above 45 nm we use classical (node/45)² scaling
/// (derived; it is the regime where classical scaling still holds reasonably well).
const STILLMAKER_AREA_FROM_45: [(f64, f64); 10] = [
    (130.0, (130.0 / 45.0) * (130.0 / 45.0)),
    (90.0, (90.0 / 45.0) * (90.0 / 45.0)),
    (65.0, (65.0 / 45.0) * (65.0 / 45.0)),
    (45.0, 1.0),
    (32.0, 0.46),
    (20.0, 0.21),
    (16.0, 0.19),
    (14.0, 0.17),
    (10.0, 0.10),
    (7.0, 0.059),
];

/// Smallest and largest node the tables cover; parameters are range-checked to this.
pub const MIN_NODE_NM: f64 = 7.0;
pub const MAX_NODE_NM: f64 = 130.0;
/// Horowitz's table was measured at 0.9 V.
pub const HOROWITZ_VDD: f64 = 0.9;

fn poly(node: usize, vdd: f64) -> f64 {
    let (_, a, b, c) = STILLMAKER_ENERGY_POLY[node];
    a * vdd * vdd + b * vdd + c
}

/// Linear interpolation in node size between the two tabulated nodes that bracket `node_nm`
/// (hwcomponents' `techscaling.py` does the same; an older copy interpolated the wrong way,
/// which is why a test checks that 28 nm lands between 32 nm and 20 nm).
fn interpolate(node_nm: f64, value_at: impl Fn(usize) -> f64) -> f64 {
    let node_nm = node_nm.clamp(MIN_NODE_NM, MAX_NODE_NM);
    let nodes = &STILLMAKER_ENERGY_POLY;
    for i in 0..nodes.len() - 1 {
        let (larger, smaller) = (nodes[i].0, nodes[i + 1].0);
        if node_nm <= larger && node_nm >= smaller {
            let t = (larger - node_nm) / (larger - smaller);
            return value_at(i) + (value_at(i + 1) - value_at(i)) * t;
        }
    }
    value_at(nodes.len() - 1)
}

/// Stillmaker–Baas energy factor from node `from_nm` to node `to_nm` at the same supply `vdd`:
/// f_to(V) / f_from(V), each f interpolated between tabulated nodes.
pub fn energy_scaling(from_nm: f64, to_nm: f64, vdd: f64) -> f64 {
    let at = |n: f64| interpolate(n, |i| poly(i, vdd));
    at(to_nm) / at(from_nm)
}

/// Stillmaker–Baas area factor from node `from_nm` to node `to_nm`.
pub fn area_scaling(from_nm: f64, to_nm: f64) -> f64 {
    let at = |n: f64| interpolate(n, |i| STILLMAKER_AREA_FROM_45[i].1);
    at(to_nm) / at(from_nm)
}

/// An arithmetic operation with a cost in the technology tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArithOp {
    IntAdd(u32),
    IntMult(u32),
    Fp16Add,
    Fp16Mult,
    Fp32Add,
    Fp32Mult,
    /// A magnitude comparator of the given width (Aladdin).
    Compare(u32),
}

/// Energy (pJ) and area (µm²) of one component at the design's node.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Cost {
    pub energy_pj: f64,
    pub area_um2: f64,
}

impl Cost {
    pub const ZERO: Cost = Cost {
        energy_pj: 0.0,
        area_um2: 0.0,
    };

    pub fn times(self, n: f64) -> Cost {
        Cost {
            energy_pj: self.energy_pj * n,
            area_um2: self.area_um2 * n,
        }
    }

    pub fn plus(self, o: Cost) -> Cost {
        Cost {
            energy_pj: self.energy_pj + o.energy_pj,
            area_um2: self.area_um2 + o.area_um2,
        }
    }
}

/// Piecewise-linear interpolation (log-log for multipliers) over a (bits, e, a) table.
fn table_lookup(table: &[(f64, f64, f64)], bits: f64, log_log: bool) -> (f64, f64) {
    let bits = bits.max(1.0);
    let (lo, hi) = if bits <= table[0].0 {
        (table[0], table[1])
    } else if bits >= table[table.len() - 1].0 {
        (table[table.len() - 2], table[table.len() - 1])
    } else {
        let i = table
            .iter()
            .position(|r| r.0 >= bits)
            .unwrap_or(table.len() - 1);
        (table[i - 1], table[i])
    };
    if log_log {
        let t = (bits.ln() - lo.0.ln()) / (hi.0.ln() - lo.0.ln());
        let e = (lo.1.ln() + (hi.1.ln() - lo.1.ln()) * t).exp();
        let a = (lo.2.ln() + (hi.2.ln() - lo.2.ln()) * t).exp();
        (e, a)
    } else {
        // Adders are linear in width (ripple/prefix adders grow ~linearly in bits).
        let t = (bits - lo.0) / (hi.0 - lo.0);
        (
            (lo.1 + (hi.1 - lo.1) * t).max(0.0),
            (lo.2 + (hi.2 - lo.2) * t).max(0.0),
        )
    }
}

/// Cost of an operation at 45 nm, 0.9 V (Horowitz / Aladdin), before scaling.
pub fn cost_45nm(op: ArithOp) -> Cost {
    let (energy_pj, area_um2) = match op {
        ArithOp::IntAdd(b) => table_lookup(&HOROWITZ_INT_ADD, b as f64, false),
        ArithOp::IntMult(b) => {
            let t = [HOROWITZ_INT_MULT[0], HOROWITZ_INT_MULT[1]];
            table_lookup(&t, b as f64, true)
        }
        ArithOp::Fp16Add => HOROWITZ_FP16_ADD,
        ArithOp::Fp16Mult => HOROWITZ_FP16_MULT,
        ArithOp::Fp32Add => HOROWITZ_FP32_ADD,
        ArithOp::Fp32Mult => HOROWITZ_FP32_MULT,
        ArithOp::Compare(b) => {
            let (e, a) = (ALADDIN_40NM_CMP32_PJ, ALADDIN_40NM_CMP32_UM2);
            let w = b as f64 / 32.0;
            (
                e * w / aladdin_energy_40_to_45(),
                a * w / aladdin_area_40_to_45(),
            )
        }
    };
    Cost {
        energy_pj,
        area_um2,
    }
}

/// Aladdin's numbers are at 40 nm; these bring them to the 45 nm reference.
fn aladdin_energy_40_to_45() -> f64 {
    energy_scaling(45.0, 40.0, HOROWITZ_VDD)
}
fn aladdin_area_40_to_45() -> f64 {
    area_scaling(45.0, 40.0)
}

/// A process node and supply voltage: multiplies every 45 nm / 0.9 V cost.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tech {
    pub node_nm: f64,
    pub vdd: f64,
    /// f_node(vdd) / f_45(0.9): energy relative to Horowitz's table.
    pub energy_factor: f64,
    /// Area relative to 45 nm.
    pub area_factor: f64,
}

impl Tech {
    pub fn new(node_nm: f64, vdd: f64) -> Tech {
        // Node change at the design's supply, then the supply change at 45 nm (both from the
        // Stillmaker–Baas polynomials): f_node(V)/f_45(V) · f_45(V)/f_45(0.9).
        let node_factor = energy_scaling(45.0, node_nm, vdd);
        let volt_factor =
            interpolate(45.0, |i| poly(i, vdd)) / interpolate(45.0, |i| poly(i, HOROWITZ_VDD));
        Tech {
            node_nm,
            vdd,
            energy_factor: node_factor * volt_factor,
            area_factor: area_scaling(45.0, node_nm),
        }
    }

    /// Horowitz's own conditions.
    pub fn reference() -> Tech {
        Tech::new(45.0, HOROWITZ_VDD)
    }

    pub fn scale(&self, c: Cost) -> Cost {
        Cost {
            energy_pj: c.energy_pj * self.energy_factor,
            area_um2: c.area_um2 * self.area_factor,
        }
    }

    pub fn op(&self, op: ArithOp) -> Cost {
        self.scale(cost_45nm(op))
    }

    /// A register of `bits` bits: energy per write and area (Aladdin 40 nm, rescaled).
    pub fn register(&self, bits: f64) -> Cost {
        let per_bit = Cost {
            energy_pj: ALADDIN_40NM_REG_PJ_PER_BIT / aladdin_energy_40_to_45(),
            area_um2: ALADDIN_40NM_REG_UM2_PER_BIT / aladdin_area_40_to_45(),
        };
        self.scale(per_bit).times(bits)
    }

    /// A counter / address generator step (Aladdin 40 nm, rescaled).
    pub fn counter(&self) -> Cost {
        let (e, a) = ALADDIN_40NM_COUNTER;
        self.scale(Cost {
            energy_pj: e / aladdin_energy_40_to_45(),
            area_um2: a / aladdin_area_40_to_45(),
        })
    }

    /// Multiply-accumulate of the given precision: multiplier + accumulator adder
    /// (int8 × int8 + int32; fp16 × fp16 + fp32), Horowitz.
    pub fn mac(&self, fp16: bool) -> Cost {
        if fp16 {
            self.op(ArithOp::Fp16Mult).plus(self.op(ArithOp::Fp32Add))
        } else {
            self.op(ArithOp::IntMult(8))
                .plus(self.op(ArithOp::IntAdd(32)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_is_identity() {
        let t = Tech::reference();
        assert!((t.energy_factor - 1.0).abs() < 1e-12);
        assert!((t.area_factor - 1.0).abs() < 1e-12);
        assert_eq!(t.op(ArithOp::IntMult(8)).energy_pj, 0.2);
        assert_eq!(t.op(ArithOp::IntAdd(16)).area_um2, 67.0);
    }

    #[test]
    fn multiplier_interpolation_hits_table_points() {
        let c8 = cost_45nm(ArithOp::IntMult(8));
        let c32 = cost_45nm(ArithOp::IntMult(32));
        assert!((c8.energy_pj - 0.2).abs() < 1e-12 && (c32.energy_pj - 3.1).abs() < 1e-9);
        let c16 = cost_45nm(ArithOp::IntMult(16));
        assert!((c16.energy_pj - (0.2f64 * 3.1).sqrt()).abs() < 1e-9);
    }
}
