//! Precomputed partial-sum tables: T[s][j][n] = ⟨centroid_{s,j}, W[s·v .. s·v+v, n]⟩
//! (LUT-DLA's PSum LUT in the IMM; MADDNESS's h(b); LUT-NN's fused C·W).
//!
//! After encoding, a GEMM row is Σ_s T[s][code_s][:], M·(K/v)·N look-up-adds instead of
//! M·K·N multiply-adds. Building the table costs c·K·N MACs once per weight set.
//!
//! Quantization (LUTBoost stage 4) is symmetric, to int8 (±127) or int16 (±32767), with one
//! scale per output column (`PerColumn`, the default: integer accumulation over subspaces stays
//! exact because every subspace of a column shares the scale) or one per layer (`PerLayer`, LUT-NN's
//! per-tensor choice). The dequantized output is `acc_i32 as f32 · scale[n] + bias[n]`.

/// Integer width of the quantized tables, or none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableBits {
    F32,
    I8,
    I16,
}

impl TableBits {
    pub fn bits(self) -> u8 {
        match self {
            TableBits::F32 => 32,
            TableBits::I8 => 8,
            TableBits::I16 => 16,
        }
    }

    /// Largest magnitude of a quantized entry (symmetric range, so −qmax..=qmax).
    pub fn qmax(self) -> f32 {
        match self {
            TableBits::F32 => f32::INFINITY,
            TableBits::I8 => 127.0,
            TableBits::I16 => 32767.0,
        }
    }
}

/// Granularity of the table scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableScale {
    PerColumn,
    PerLayer,
}

impl TableScale {
    pub const NAMES: &'static [&'static str] = &["per_column", "per_layer"];

    pub fn parse(s: &str) -> Option<TableScale> {
        match s {
            "per_column" => Some(TableScale::PerColumn),
            "per_layer" => Some(TableScale::PerLayer),
            _ => None,
        }
    }
}

/// Float tables `[s][j][n]` from centroids `[s][j][d]` and weights `W` (`k × n`, row-major),
/// summing over d in order (the trainable layer's table is the same contraction in burn).
pub fn build_f32(
    centroids: &[f32],
    w: &[f32],
    nc: usize,
    c: usize,
    v: usize,
    n: usize,
) -> Vec<f32> {
    use rayon::prelude::*;
    assert_eq!(centroids.len(), nc * c * v);
    assert_eq!(w.len(), nc * v * n);
    let mut t = vec![0.0f32; nc * c * n];
    t.par_chunks_mut(c * n).enumerate().for_each(|(s, ts)| {
        for j in 0..c {
            let row = &mut ts[j * n..(j + 1) * n];
            for d in 0..v {
                let cd = centroids[(s * c + j) * v + d];
                let wr = &w[(s * v + d) * n..(s * v + d + 1) * n];
                for (o, &wv) in row.iter_mut().zip(wr) {
                    *o += cd * wv;
                }
            }
        }
    });
    t
}

/// Scales of a symmetric quantization of `t` (`[s][j][n]`), one per output column.
/// A column of zeros gets scale 1 (any scale represents it exactly).
pub fn scales(t: &[f32], n: usize, bits: TableBits, gran: TableScale) -> Vec<f32> {
    let mut amax = vec![0.0f32; n];
    for row in t.chunks_exact(n) {
        for (a, &x) in amax.iter_mut().zip(row) {
            *a = a.max(x.abs());
        }
    }
    if gran == TableScale::PerLayer {
        let m = amax.iter().fold(0.0f32, |a, &b| a.max(b));
        amax.iter_mut().for_each(|a| *a = m);
    }
    amax.iter()
        .map(|&a| if a > 0.0 { a / bits.qmax() } else { 1.0 })
        .collect()
}

/// Round-to-nearest-even onto the integer grid, clamped. The trainable layer's stage-4 hard
/// forward applies the same function (via [`fake_quantize`]) so both compute with one table.
#[inline]
pub fn quantize_one(x: f32, scale: f32, qmax: f32) -> f32 {
    (x / scale).round_ties_even().clamp(-qmax, qmax)
}

/// Quantize then dequantize, in place: what the trainable layer computes with after stage 4.
pub fn fake_quantize(t: &mut [f32], n: usize, bits: TableBits, gran: TableScale) {
    if bits == TableBits::F32 {
        return;
    }
    let sc = scales(t, n, bits, gran);
    for row in t.chunks_exact_mut(n) {
        for (x, &s) in row.iter_mut().zip(&sc) {
            *x = quantize_one(*x, s, bits.qmax()) * s;
        }
    }
}

/// A layer's tables, in the form the deployed kernel computes with.
#[derive(Debug, Clone)]
pub struct LutTable {
    pub nc: usize,
    pub c: usize,
    pub n: usize,
    pub data: TableData,
}

#[derive(Debug, Clone)]
pub enum TableData {
    /// `[s][j][n]` floats (stages 1–3, before table quantization).
    F32(Vec<f32>),
    /// `q` is `[s][j][n]`; `shuf` is the same entries, excess-128 encoded and re-laid for the
    /// shuffle kernel (see [`shuffle_layout`]); `scale` is per column.
    I8 {
        q: Vec<i8>,
        shuf: Vec<u8>,
        scale: Vec<f32>,
    },
    /// `[s][j][n]`, per-column scale.
    I16 { q: Vec<i16>, scale: Vec<f32> },
}

/// Columns per group in the shuffle layout: one AVX2 pass accumulates 4 columns × 32 rows in
/// 8 i16 registers.
pub const NQ: usize = 4;

/// Byte lanes per table in the shuffle layout: 16 (one `pshufb` table, c ≤ 16) or 32 (two, c ≤ 32).
pub fn shuffle_lanes(c: usize) -> Option<usize> {
    match c {
        0..=16 => Some(16),
        17..=32 => Some(32),
        _ => None,
    }
}

/// Shuffle layout: `[n / NQ][s][n % NQ][lanes]`, padded in j (up to `lanes`) and in n (up to
/// a multiple of NQ). For one group of NQ columns, the tables of all subspaces are contiguous,
/// so the kernel streams them from L1 while it walks the subspaces.
///
/// Entries are stored excess-128 (`q + 128` as `u8`, 1..=255): the kernel then sums unsigned
/// bytes, which needs one shift per look-up instead of three for sign extension, and subtracts
/// 128 per subspace at the end. Padding entries are 128 (= 0), never looked up.
pub fn shuffle_layout(q: &[i8], nc: usize, c: usize, n: usize) -> Vec<u8> {
    let Some(lanes) = shuffle_lanes(c) else {
        return Vec::new();
    };
    let nq = n.div_ceil(NQ);
    let mut out = vec![128u8; nq * nc * NQ * lanes];
    for g in 0..nq {
        for s in 0..nc {
            for qq in 0..NQ {
                let col = g * NQ + qq;
                if col >= n {
                    continue;
                }
                let base = ((g * nc + s) * NQ + qq) * lanes;
                for j in 0..c {
                    out[base + j] = (q[(s * c + j) * n + col] as i16 + 128) as u8;
                }
            }
        }
    }
    out
}

impl LutTable {
    /// Build from float tables, quantizing when `bits` asks for it.
    pub fn from_f32(
        t: Vec<f32>,
        nc: usize,
        c: usize,
        n: usize,
        bits: TableBits,
        gran: TableScale,
    ) -> LutTable {
        assert_eq!(t.len(), nc * c * n);
        let data = match bits {
            TableBits::F32 => TableData::F32(t),
            TableBits::I8 => {
                let scale = scales(&t, n, bits, gran);
                let q: Vec<i8> = t
                    .chunks_exact(n)
                    .flat_map(|row| {
                        row.iter()
                            .zip(&scale)
                            .map(|(&x, &s)| quantize_one(x, s, 127.0) as i8)
                    })
                    .collect();
                let shuf = shuffle_layout(&q, nc, c, n);
                TableData::I8 { q, shuf, scale }
            }
            TableBits::I16 => {
                let scale = scales(&t, n, bits, gran);
                let q: Vec<i16> = t
                    .chunks_exact(n)
                    .flat_map(|row| {
                        row.iter()
                            .zip(&scale)
                            .map(|(&x, &s)| quantize_one(x, s, 32767.0) as i16)
                    })
                    .collect();
                TableData::I16 { q, scale }
            }
        };
        LutTable { nc, c, n, data }
    }

    pub fn bits(&self) -> TableBits {
        match self.data {
            TableData::F32(_) => TableBits::F32,
            TableData::I8 { .. } => TableBits::I8,
            TableData::I16 { .. } => TableBits::I16,
        }
    }

    /// The table as floats (dequantized), `[s][j][n]`.
    pub fn dequantized(&self) -> Vec<f32> {
        match &self.data {
            TableData::F32(t) => t.clone(),
            TableData::I8 { q, scale, .. } => q
                .chunks_exact(self.n)
                .flat_map(|r| r.iter().zip(scale).map(|(&x, &s)| x as f32 * s))
                .collect(),
            TableData::I16 { q, scale } => q
                .chunks_exact(self.n)
                .flat_map(|r| r.iter().zip(scale).map(|(&x, &s)| x as f32 * s))
                .collect(),
        }
    }
}
