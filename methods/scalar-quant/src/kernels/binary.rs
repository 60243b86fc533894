//! Packed binary GEMM (XNOR-Net / BNN): ±1 activations × ±1 weights by xor + popcount.
//!
//! With bit 1 ↔ +1 and bit 0 ↔ −1, `Σ_k a_k·w_k = K − 2·popcount(a ⊕ w)`. Rows of A and columns
//! of W are packed 64 values per `u64`; padding bits are 0 in both, so their xor is 0 and they do
//! not count. The portable path uses `u64::count_ones` on the plain words.
//!
//! # AVX2 path: xor folded into the popcount look-up
//! The nibble look-up popcount of Muła et al. ("Faster population counts using AVX2
//! instructions", 2016) computes `popcount(a ⊕ w)` per nibble with one `_mm256_shuffle_epi8`
//! into the fixed table `x ↦ popcount(x)`, after an xor (and the nibble split) per pair. Here the
//! xor moves into the table: for a nibble `a` of a row, `t_a[x] = popcount(a ⊕ x)` is itself a
//! 16-byte table, so `vpshufb(t_a, w_nibbles)` yields `popcount(a ⊕ w)` for 16 columns at once
//! with no xor (the activation-side table, weight-side index arrangement of LUT GEMMs such as
//! T-MAC). Per 128 MACs: one shuffle and one byte add, against two xors, two shuffles and two
//! adds per 256 MACs with xor + fixed table.
//!
//! Layout: a *step* is one byte of the packed row, two nibble positions. Per step, a row's
//! 32-byte table holds `t_{low nibble}` in the low lane and `t_{high nibble}` in the high lane:
//! the byte's entry of the static [`POP_TABLES`] (256 × 32 B), copied per row tile and K slice
//! into a buffer interleaved by step (the tile's 4 rows' tables of step q adjacent) that the
//! micro-kernel reads with plain loads. The deployed path binarizes floats straight into these
//! tables (`cmp_ps` + `movemask` gives the step's byte), without a packed intermediate. The
//! weights hold per block of [`NB`] = 16 columns the matching nibbles (low lane position `2q`,
//! high lane `2q + 1`), interleaved by pairs of blocks, so one pointer walks a tile's tables
//! and one its weights. The micro-kernel is `MR` = 4 rows × 2 blocks: 8 accumulators, 2
//! weight vectors and a table in registers; per step 6 loads, 8 shuffles, 8 adds. u8 counters
//! (≤ 4 per step) fold into u16 every ≤ 63 steps by even/odd bytes, which is why a lane's
//! bytes hold columns in the order [`nib_col`]: even bytes columns 0-7, odd bytes 8-15, so
//! adding the two lanes and widening gives each column's count in order. K is processed in
//! slices of ≤ [`SLICE_STEPS`] steps (a tile's tables ≤ 16 KiB, its weights ≤ 8 KiB: L1) with
//! i32 partial sums between slices. The epilogue (`k − 2·count`, then `mul·dot + add` as f32,
//! or i32) runs on the 8-column vectors in registers.

use rayon::prelude::*;

use super::int8::Isa;

/// Rows per micro-kernel tile.
pub const MR: usize = 4;
/// Columns per packed panel of the portable layout (and per epilogue vector).
pub const NR: usize = 8;
/// Columns per nibble block of the AVX2 layout (one byte per column in each 128-bit lane).
pub const NB: usize = 16;
/// Column blocks per AVX2 micro-kernel tile.
const CB: usize = 2;
/// Steps (bytes of a packed row, 8 values each) per K slice of the AVX2 path: the tables of a
/// row tile (`MR · 32 B` per step) and a tile's weights (`CB · 32 B` per step) stay in L1.
pub const SLICE_STEPS: usize = 128;

/// Words per packed row of `k` values.
pub fn words(k: usize) -> usize {
    k.div_ceil(64)
}

/// Pack `m` rows of `k` signs (bit set ⇔ value ≥ `threshold`) into `words(k)` u64 per row.
pub fn pack_rows(x: &[f32], m: usize, k: usize, threshold: f32) -> Vec<u64> {
    assert_eq!(x.len(), m * k);
    let kw = words(k);
    let mut out = vec![0u64; m * kw];
    for (row, dst) in x
        .chunks_exact(k.max(1))
        .zip(out.chunks_exact_mut(kw.max(1)))
    {
        pack_row_into(row, threshold, dst);
    }
    out
}

/// Pack one row into `dst` (`words(row.len())` words).
pub fn pack_row_into(row: &[f32], threshold: f32, dst: &mut [u64]) {
    #[cfg(target_arch = "x86_64")]
    if Isa::detect().has_avx2() {
        // SAFETY: AVX2 detected.
        unsafe { avx2::pack_row(row, threshold, dst) };
        return;
    }
    pack_row_portable(row, threshold, dst);
}

/// The portable bit packer (also the tests' reference for the AVX2 one).
pub fn pack_row_portable(row: &[f32], threshold: f32, dst: &mut [u64]) {
    for (w, chunk) in dst.iter_mut().zip(row.chunks(64)) {
        let mut bits = 0u64;
        for (b, &v) in chunk.iter().enumerate() {
            bits |= ((v >= threshold) as u64) << b;
        }
        *w = bits;
    }
}

/// Binary weights: panels of [`NR`] columns, per word index `NR` consecutive u64 (portable
/// path); and the same bits as nibbles in blocks of [`NB`] columns (AVX2 path, see the module
/// docs).
#[derive(Debug, Clone, PartialEq)]
pub struct PackedBits {
    pub k: usize,
    pub n: usize,
    pub kw: usize,
    pub panels: usize,
    data: Vec<u64>,
    /// `⌈k / 8⌉`: bytes per packed row, two nibble positions each.
    steps: usize,
    /// Per pair of blocks of [`NB`] columns, per step `q`, per block of the pair, 32 bytes:
    /// lane `L` holds nibble `2q + L` of the block's columns, byte `b` of a lane ↔ column
    /// [`nib_col`]`(b)`. (Interleaved so that one pointer walks a tile's weights.)
    nib: Vec<u8>,
}

/// Column (within its block) of byte `b` of a lane: even bytes are columns 0-7 and odd bytes
/// 8-15, so the even/odd u16 split widens to columns in order.
fn nib_col(b: usize) -> usize {
    (b % 2) * 8 + b / 2
}

/// `POP_TABLES[v]`, the step table of a packed-row byte `v`: `x ↦ popcount((v & 15) ⊕ x)` in
/// the low lane and `x ↦ popcount((v >> 4) ⊕ x)` in the high lane (see the module docs).
#[repr(C, align(32))]
struct PopTables([[u8; 32]; 256]);

static POP_TABLES: PopTables = PopTables(pop_tables());

const fn pop_tables() -> [[u8; 32]; 256] {
    let mut t = [[0u8; 32]; 256];
    let mut v = 0;
    while v < 256 {
        let mut x = 0;
        while x < 16 {
            t[v][x] = ((v & 15) ^ x).count_ones() as u8;
            t[v][16 + x] = ((v >> 4) ^ x).count_ones() as u8;
            x += 1;
        }
        v += 1;
    }
    t
}

impl PackedBits {
    /// Pack the signs of `w` (`k × n`, row-major; bit set ⇔ w ≥ 0).
    pub fn pack(w: &[f32], k: usize, n: usize) -> PackedBits {
        assert_eq!(w.len(), k * n);
        let kw = words(k);
        let panels = n.div_ceil(NR);
        let mut data = vec![0u64; panels * kw * NR];
        for r in 0..k {
            for j in 0..n {
                if w[r * n + j] >= 0.0 {
                    let (p, c) = (j / NR, j % NR);
                    data[(p * kw + r / 64) * NR + c] |= 1u64 << (r % 64);
                }
            }
        }
        let steps = k.div_ceil(8);
        let pairs = n.div_ceil(NB * CB);
        let mut nib = vec![0u8; pairs * steps * CB * 32];
        let blocks = n.div_ceil(NB);
        for blk in 0..blocks {
            for b in 0..NB {
                let j = blk * NB + nib_col(b);
                if j >= n {
                    continue;
                }
                for p in 0..2 * steps {
                    let word = data[((j / NR) * kw + p / 16) * NR + j % NR];
                    let (q, lane) = (p / 2, p % 2);
                    let (pair, c) = (blk / CB, blk % CB);
                    nib[((pair * steps + q) * CB + c) * 32 + lane * 16 + b] =
                        ((word >> (4 * (p % 16))) & 15) as u8;
                }
            }
        }
        PackedBits {
            k,
            n,
            kw,
            panels,
            data,
            steps,
            nib,
        }
    }

    fn panel(v: &[u64], kw: usize, p: usize) -> &[u64] {
        &v[p * kw * NR..(p + 1) * kw * NR]
    }

    /// Bytes of the packed weights as deployed (one bit per weight, padded).
    pub fn bytes(&self) -> usize {
        self.data.len() * 8
    }
}

/// Reference: `C[i][j] = Σ_k sign(a)·sign(w)` on unpacked ±1 values.
pub fn gemm_reference(
    a: &[f32],
    m: usize,
    k: usize,
    threshold: f32,
    w: &[f32],
    n: usize,
) -> Vec<i32> {
    let s = |x: f32, t: f32| if x >= t { 1 } else { -1 };
    let mut c = vec![0i32; m * n];
    for i in 0..m {
        for j in 0..n {
            c[i * n + j] = (0..k)
                .map(|r| s(a[i * k + r], threshold) * s(w[r * n + j], 0.0))
                .sum();
        }
    }
    c
}

/// Where a tile's dot products go: plain i32, or `y = mul[j]·dot + add[j]` as f32.
/// Pointers are to the tile's first output row; rows are `n` apart.
enum Sink<'a> {
    I32(*mut i32),
    Affine {
        out: *mut f32,
        mul: &'a [f32],
        add: &'a [f32],
    },
}

impl Sink<'_> {
    /// Write dots of row `r`, columns `j0 .. j0 + dots.len()`.
    ///
    /// # Safety
    /// Row `r` of the tile, columns `j0 .. j0 + dots.len()`, is inside the output.
    unsafe fn store(&self, r: usize, n: usize, j0: usize, dots: &[i32]) {
        match self {
            Sink::I32(out) => {
                for (c, &d) in dots.iter().enumerate() {
                    // SAFETY: the caller's contract.
                    unsafe { *out.add(r * n + j0 + c) = d };
                }
            }
            Sink::Affine { out, mul, add } => {
                for (c, &d) in dots.iter().enumerate() {
                    let j = j0 + c;
                    // SAFETY: the caller's contract.
                    unsafe { *out.add(r * n + j) = mul[j] * d as f32 + add[j] };
                }
            }
        }
    }
}

/// Activations: packed rows, or floats packed per task (bit set ⇔ x ≥ threshold).
#[derive(Clone, Copy)]
enum Acts<'a> {
    Bits(&'a [u64]),
    Floats(&'a [f32], f32),
}

/// The exact ±1 dot products as i32 (`m × n`, row-major).
pub fn gemm_i32(a: &[u64], m: usize, b: &PackedBits, isa: Isa) -> Vec<i32> {
    assert_eq!(a.len(), m * b.kw, "A must be m × words(k)");
    let mut c = vec![0i32; m * b.n];
    run(Acts::Bits(a), m, b, isa, &mut c, Sink::I32);
    c
}

/// The deployed binary layer: binarize `x` (`m × k`, bit set ⇔ x ≥ `threshold`), multiply by
/// the packed weights and write `out[i][j] = mul[j]·dot_ij + add[j]`. Activation packing, GEMM
/// and epilogue are fused per task: one parallel region, no buffer beyond a task's packed rows
/// and a row tile's tables.
pub fn gemm_affine(
    x: &[f32],
    m: usize,
    threshold: f32,
    b: &PackedBits,
    isa: Isa,
    mul: &[f32],
    add: &[f32],
    out: &mut [f32],
) {
    assert_eq!(x.len(), m * b.k);
    assert!(mul.len() == b.n && add.len() == b.n);
    run(Acts::Floats(x, threshold), m, b, isa, out, |p| {
        Sink::Affine { out: p, mul, add }
    });
}

fn run<'s, T: Send, S>(acts: Acts, m: usize, b: &PackedBits, isa: Isa, out: &mut [T], sink: S)
where
    S: Fn(*mut T) -> Sink<'s> + Sync,
{
    let (n, k, kw) = (b.n, b.k, b.kw);
    assert_eq!(out.len(), m * n);
    if m == 0 || n == 0 {
        return;
    }
    let isa = Isa::or_portable(isa);
    let rows_per_task = super::int8::rows_per_task(m, k * n / 8);
    out.par_chunks_mut(rows_per_task * n)
        .enumerate()
        .for_each(|(task, out_rows)| {
            let row0 = task * rows_per_task;
            let rows = out_rows.len() / n;
            // This task's rows.
            let acts = match acts {
                Acts::Bits(a) => Acts::Bits(&a[row0 * kw..(row0 + rows) * kw]),
                Acts::Floats(x, t) => Acts::Floats(&x[row0 * k..(row0 + rows) * k], t),
            };
            let out_ptr = out_rows.as_mut_ptr();
            // SAFETY (sinks): row i of this task's output chunk starts at out_ptr + i·n.
            match isa {
                #[cfg(target_arch = "x86_64")]
                Isa::Avx2 | Isa::Vnni => {
                    // SAFETY: AVX2 confirmed by `or_portable`.
                    unsafe { table_rows(acts, rows, b, &|i| sink(out_ptr.add(i * n))) }
                }
                _ => {
                    let packed: Vec<u64>;
                    let a_rows = match acts {
                        Acts::Bits(a) => a,
                        Acts::Floats(x, t) => {
                            packed = pack_rows(x, rows, k, t);
                            &packed
                        }
                    };
                    for i in 0..rows {
                        let s = sink(unsafe { out_ptr.add(i * n) });
                        portable_row(&a_rows[i * kw..(i + 1) * kw], b, &s);
                    }
                }
            }
        });
}

/// The AVX2 path over `rows` rows: per row tile and K slice, the tile's tables (from packed
/// bits, or binarized from floats directly), then the micro-kernel over every pair of column
/// blocks; i32 partial sums carry between slices.
///
/// # Safety
/// AVX2 available; `sink_at(i)` is a sink whose rows `i .. min(i + MR, rows)` are valid.
#[cfg(target_arch = "x86_64")]
unsafe fn table_rows<'s>(
    acts: Acts,
    rows: usize,
    b: &PackedBits,
    sink_at: &dyn Fn(usize) -> Sink<'s>,
) {
    let (k, kw, steps) = (b.k, b.kw, b.steps);
    match acts {
        Acts::Bits(a) => assert_eq!(a.len(), rows * kw),
        Acts::Floats(x, _) => assert_eq!(x.len(), rows * k),
    }
    let blocks = b.n.div_ceil(NB);
    let pair_bytes = steps * CB * 32;
    assert_eq!(b.nib.len(), blocks.div_ceil(CB) * pair_bytes);
    let slices = steps.div_ceil(SLICE_STEPS).max(1);
    let slice_len = steps.div_ceil(slices);
    // Tables interleaved by step: step q, row r at `32·(MR·q + r)`.
    let mut tabs = vec![0u8; MR * slice_len * 32];
    // Partial sums between slices: MR rows × blocks·16 columns.
    let pstride = blocks * NB;
    let mut partial = vec![0i32; if slices > 1 { MR * pstride } else { 0 }];
    let mut i = 0;
    while i < rows {
        let r = MR.min(rows - i);
        let s = sink_at(i);
        for sl in 0..slices {
            let (q0, q1) = (sl * slice_len, ((sl + 1) * slice_len).min(steps));
            let chunk = avx2::chunk_steps(q1 - q0);
            for ii in 0..r {
                let tab = &mut tabs[ii * 32..];
                let row = i + ii;
                // SAFETY: AVX2.
                unsafe {
                    match acts {
                        Acts::Bits(a) => {
                            let words = &a[row * kw..(row + 1) * kw];
                            avx2::tables_from_bits(words, q0, q1, tab, MR * 32)
                        }
                        Acts::Floats(x, t) => {
                            let xs = &x[row * k + 8 * q0..row * k + (8 * q1).min(k)];
                            avx2::tables_from_floats(xs, t, tab, MR * 32)
                        }
                    }
                }
            }
            let part = (slices > 1).then(|| avx2::Part {
                sums: partial.as_mut_ptr(),
                stride: pstride,
                first: sl == 0,
                last: sl + 1 == slices,
            });
            let args = avx2::TileArgs {
                tab: tabs.as_ptr(),
                w: b.nib.as_ptr(),
                q0,
                q1,
                chunk,
                k: b.k,
                n: b.n,
                j0: 0,
                sink: &s,
                part,
            };
            // SAFETY: AVX2; the tables of rows 0 .. r cover steps q0 .. q1, the weights hold
            // `blocks` blocks of `steps` steps in pairs of pair_bytes, the sink has rows 0 .. r
            // and the partial sums MR × pstride.
            unsafe {
                match r {
                    1 => avx2::row_tiles::<1>(args, blocks, pair_bytes),
                    2 => avx2::row_tiles::<2>(args, blocks, pair_bytes),
                    3 => avx2::row_tiles::<3>(args, blocks, pair_bytes),
                    _ => avx2::row_tiles::<4>(args, blocks, pair_bytes),
                }
            }
        }
        i += r;
    }
}

/// One row × all columns with `u64::count_ones`.
fn portable_row(a: &[u64], b: &PackedBits, sink: &Sink) {
    let (k, kw) = (b.k, b.kw);
    for p in 0..b.panels {
        let panel = PackedBits::panel(&b.data, kw, p);
        let mut counts = [0u32; NR];
        for (wi, &aw) in a.iter().enumerate() {
            let blk = &panel[wi * NR..(wi + 1) * NR];
            for c in 0..NR {
                counts[c] += (aw ^ blk[c]).count_ones();
            }
        }
        let j0 = p * NR;
        let nc = NR.min(b.n - j0);
        let dots: [i32; NR] = std::array::from_fn(|c| k as i32 - 2 * counts[c] as i32);
        // SAFETY: row 0 of the sink, columns j0 .. j0 + nc < n.
        unsafe { sink.store(0, b.n, j0, &dots[..nc]) };
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::{CB, MR, NB, NR, POP_TABLES, Sink};
    use std::arch::x86_64::*;

    /// Steps u8 counters can sum (each adds ≤ 4 per byte): 63 · 4 = 252 ≤ 255.
    const FOLD_STEPS: usize = 63;

    /// Signs of 8 floats per `_mm256_cmp_ps` + `_mm256_movemask_ps` (bit i ⇔ lane i ≥ t).
    ///
    /// # Safety
    /// AVX2 available.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn pack_row(row: &[f32], t: f32, dst: &mut [u64]) {
        let tv = _mm256_set1_ps(t);
        for (w, chunk) in dst.iter_mut().zip(row.chunks(64)) {
            let mut bits = 0u64;
            let full = chunk.len() / 8;
            for g in 0..full {
                // SAFETY: 8 floats at g·8 are inside `chunk`.
                let v = unsafe { _mm256_loadu_ps(chunk.as_ptr().add(g * 8)) };
                let m = _mm256_movemask_ps(_mm256_cmp_ps::<_CMP_GE_OQ>(v, tv)) as u32 as u64;
                bits |= m << (g * 8);
            }
            for (b, &v) in chunk.iter().enumerate().skip(full * 8) {
                bits |= ((v >= t) as u64) << b;
            }
            *w = bits;
        }
    }

    /// Step `q`'s table (`POP_TABLES[byte]`) for bytes `q0 .. q1` of a packed row, at
    /// `tab[stride·(q − q0)..]`.
    ///
    /// # Safety
    /// AVX2 available.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn tables_from_bits(
        words: &[u64],
        q0: usize,
        q1: usize,
        tab: &mut [u8],
        stride: usize,
    ) {
        assert!(q1 <= words.len() * 8);
        assert!(q1 == q0 || (stride >= 32 && tab.len() >= stride * (q1 - q0 - 1) + 32));
        for q in q0..q1 {
            let byte = (words[q / 8] >> (8 * (q % 8))) as u8;
            // SAFETY: in bounds (asserted above).
            unsafe { copy_table(byte, tab.as_mut_ptr().add(stride * (q - q0))) };
        }
    }

    /// Binarize `xs` (bit set ⇔ x ≥ `t`, 8 values per step, the last step possibly partial)
    /// straight into step tables at `tab[stride·q..]`: `_mm256_cmp_ps` + `movemask` per 8
    /// floats.
    ///
    /// # Safety
    /// AVX2 available.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn tables_from_floats(xs: &[f32], t: f32, tab: &mut [u8], stride: usize) {
        let steps = xs.len().div_ceil(8);
        assert!(steps == 0 || (stride >= 32 && tab.len() >= stride * (steps - 1) + 32));
        let tv = _mm256_set1_ps(t);
        let full = xs.len() / 8;
        for q in 0..full {
            // SAFETY: 8 floats at 8q are inside `xs`; step q inside `tab`.
            unsafe {
                let v = _mm256_loadu_ps(xs.as_ptr().add(8 * q));
                let m = _mm256_movemask_ps(_mm256_cmp_ps::<_CMP_GE_OQ>(v, tv)) as u8;
                copy_table(m, tab.as_mut_ptr().add(stride * q));
            }
        }
        if full < steps {
            let mut byte = 0u8;
            for (b, &v) in xs[8 * full..].iter().enumerate() {
                byte |= ((v >= t) as u8) << b;
            }
            // SAFETY: step `full` < steps is inside `tab`.
            unsafe { copy_table(byte, tab.as_mut_ptr().add(stride * full)) };
        }
    }

    /// # Safety
    /// AVX2 available; `dst` has 32 writable bytes.
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn copy_table(byte: u8, dst: *mut u8) {
        // SAFETY: POP_TABLES rows are 32 bytes, 32-byte aligned; the caller's contract.
        unsafe {
            let v = _mm256_load_si256(POP_TABLES.0[byte as usize].as_ptr() as *const __m256i);
            _mm256_storeu_si256(dst as *mut __m256i, v);
        }
    }

    /// Balanced chunks of ≤ 63 steps for a slice of `len` steps (64 steps: 32 + 32).
    pub(super) fn chunk_steps(len: usize) -> usize {
        len.div_ceil(len.div_ceil(FOLD_STEPS).max(1)).max(1)
    }

    /// i32 partial sums carried between K slices (`MR` rows × `stride` columns).
    #[derive(Clone, Copy)]
    pub(super) struct Part {
        pub sums: *mut i32,
        pub stride: usize,
        pub first: bool,
        pub last: bool,
    }

    #[derive(Clone, Copy)]
    pub(super) struct TileArgs<'a, 's> {
        /// Tables of steps `q0 .. q1`: step q, row r at `32·(MR·(q − q0) + r)`.
        pub tab: *const u8,
        /// The tile's pair of blocks (all steps): step q, block c at `32·(CB·q + c)`.
        pub w: *const u8,
        pub q0: usize,
        pub q1: usize,
        /// Steps per u8 chunk (≤ 63), see [`chunk_steps`].
        pub chunk: usize,
        pub k: usize,
        pub n: usize,
        /// First column of the tile.
        pub j0: usize,
        pub sink: &'a Sink<'s>,
        /// `None`: K is one slice, write through the sink.
        pub part: Option<Part>,
    }

    /// `R` rows × all `blocks` column blocks, by pairs: [`table_tile`] per pair (`a.w`, `a.j0`
    /// are the first pair's).
    ///
    /// # Safety
    /// As [`table_tile`] for every pair: pairs `pair_bytes` apart, `blocks · 16 − 16 < n`.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn row_tiles<const R: usize>(a: TileArgs, blocks: usize, pair_bytes: usize) {
        let mut blk = 0;
        while blk + CB <= blocks {
            let t = TileArgs {
                // SAFETY: pair blk / CB exists.
                w: unsafe { a.w.add(blk / CB * pair_bytes) },
                j0: a.j0 + blk * NB,
                ..a
            };
            // SAFETY: the caller's contract.
            unsafe { table_tile::<R, 2>(t) };
            blk += CB;
        }
        if blk < blocks {
            let t = TileArgs {
                // SAFETY: pair blk / CB exists (its second block is padding).
                w: unsafe { a.w.add(blk / CB * pair_bytes) },
                j0: a.j0 + blk * NB,
                ..a
            };
            // SAFETY: the caller's contract.
            unsafe { table_tile::<R, 1>(t) };
        }
    }

    /// `R` rows × `C` blocks of 16 columns over steps `q0 .. q1`: per step, each row's table
    /// is shuffled by each block's weight nibbles (`popcount(a ⊕ w)` for 16 columns × 2
    /// positions), summed in u8 and folded into u16 every ≤ 63 steps; the lanes are added and
    /// widened to i32, added to the partial sums of earlier slices, and on the last slice
    /// written through the sink.
    ///
    /// # Safety
    /// AVX2 available; `R ≤ MR`; see [`TileArgs`]: the tables cover `q1 − q0 ≤ 8190` steps
    /// (u16 counts of both lanes summed stay < 65536), the pair holds step `q1 − 1`, the sink
    /// has rows `0 .. R` of `n` columns, `j0 < n`, and the partial sums (if any) hold `R` rows
    /// of `j0 + 16·C` columns.
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn table_tile<const R: usize, const C: usize>(a: TileArgs) {
        let TileArgs {
            tab,
            w,
            q0,
            q1,
            chunk,
            k,
            n,
            j0,
            sink,
            part,
        } = a;
        let zero = _mm256_setzero_si256();
        let low8 = _mm256_set1_epi16(0x00ff);
        // Per lane, even bytes (columns 0-7) and odd bytes (8-15) as u16.
        let mut ev = [[zero; C]; R];
        let mut od = [[zero; C]; R];
        debug_assert!((1..=FOLD_STEPS).contains(&chunk));
        let mut p = q0;
        while p < q1 {
            let end = (p + chunk).min(q1);
            let mut acc8 = [[zero; C]; R];
            for q in p..end {
                // SAFETY (loads): step q of every block, step q − q0 of every table.
                let wv: [__m256i; C] = std::array::from_fn(|c| unsafe {
                    _mm256_loadu_si256(w.add((CB * q + c) * 32) as *const __m256i)
                });
                for r in 0..R {
                    let t = unsafe {
                        _mm256_loadu_si256(tab.add((MR * (q - q0) + r) * 32) as *const __m256i)
                    };
                    for c in 0..C {
                        acc8[r][c] = _mm256_add_epi8(acc8[r][c], _mm256_shuffle_epi8(t, wv[c]));
                    }
                }
            }
            for r in 0..R {
                for c in 0..C {
                    let a = acc8[r][c];
                    ev[r][c] = _mm256_add_epi16(ev[r][c], _mm256_and_si256(a, low8));
                    od[r][c] = _mm256_add_epi16(od[r][c], _mm256_srli_epi16(a, 8));
                }
            }
            p = end;
        }
        let kv = _mm256_set1_epi32(k as i32);
        // Full tiles written as f32: the per-column constants are loaded once for all rows.
        let full_affine = match sink {
            Sink::Affine { mul, add, .. } if part.is_none_or(|p| p.last) && j0 + C * NB <= n => {
                Some((mul.as_ptr(), add.as_ptr()))
            }
            _ => None,
        };
        for c in 0..C {
            let mut cols = [[zero; 2]; R];
            for r in 0..R {
                // [ev.lo + ev.hi | od.lo + od.hi]: the 16 columns in order (≤ 8 · 8190 each).
                let (e, o) = (ev[r][c], od[r][c]);
                let x = _mm256_add_epi16(
                    _mm256_permute2x128_si256(e, o, 0x20),
                    _mm256_permute2x128_si256(e, o, 0x31),
                );
                cols[r] = [
                    _mm256_cvtepu16_epi32(_mm256_castsi256_si128(x)),
                    _mm256_cvtepu16_epi32(_mm256_extracti128_si256(x, 1)),
                ];
            }
            for h in 0..2 {
                let j = j0 + c * NB + h * 8;
                if let Some(p) = part {
                    for r in 0..R {
                        // SAFETY: row r < R, columns j .. j + 8 of the partial sums.
                        let ps = unsafe { p.sums.add(r * p.stride + j) as *mut __m256i };
                        if !p.first {
                            cols[r][h] =
                                _mm256_add_epi32(cols[r][h], unsafe { _mm256_loadu_si256(ps) });
                        }
                        if !p.last {
                            unsafe { _mm256_storeu_si256(ps, cols[r][h]) };
                        }
                    }
                    if !p.last {
                        continue;
                    }
                }
                if j >= n {
                    break;
                }
                if let (Some((mul, add)), Sink::Affine { out, .. }) = (full_affine, sink) {
                    // SAFETY: j + 8 ≤ n (full tile); rows r < R of the sink.
                    unsafe {
                        let m = _mm256_loadu_ps(mul.add(j));
                        let a = _mm256_loadu_ps(add.add(j));
                        for r in 0..R {
                            let d = _mm256_sub_epi32(kv, _mm256_slli_epi32(cols[r][h], 1));
                            let y = _mm256_add_ps(_mm256_mul_ps(m, _mm256_cvtepi32_ps(d)), a);
                            _mm256_storeu_ps(out.add(r * n + j), y);
                        }
                    }
                } else {
                    for r in 0..R {
                        let d = _mm256_sub_epi32(kv, _mm256_slli_epi32(cols[r][h], 1));
                        // SAFETY: row r < R, columns j .. j + nc ≤ n of the sink.
                        unsafe { store8(sink, r, n, j, NR.min(n - j), d) };
                    }
                }
            }
        }
    }

    /// Write 8 dots (`nc` of them valid) of row `r` at column `j0` through the sink.
    ///
    /// # Safety
    /// AVX2 available; row `r`, columns `j0 .. j0 + nc` inside the sink's output.
    #[target_feature(enable = "avx2")]
    #[inline]
    pub(super) unsafe fn store8(sink: &Sink, r: usize, n: usize, j0: usize, nc: usize, d: __m256i) {
        // SAFETY (all stores): the caller's contract.
        match sink {
            Sink::I32(out) if nc == NR => unsafe {
                _mm256_storeu_si256(out.add(r * n + j0) as *mut __m256i, d)
            },
            Sink::Affine { out, mul, add } if nc == NR => unsafe {
                let y = _mm256_add_ps(
                    _mm256_mul_ps(_mm256_loadu_ps(mul.as_ptr().add(j0)), _mm256_cvtepi32_ps(d)),
                    _mm256_loadu_ps(add.as_ptr().add(j0)),
                );
                _mm256_storeu_ps(out.add(r * n + j0), y)
            },
            _ => {
                let mut tmp = [0i32; NR];
                unsafe {
                    _mm256_storeu_si256(tmp.as_mut_ptr() as *mut __m256i, d);
                    sink.store(r, n, j0, &tmp[..nc]);
                }
            }
        }
    }
}
