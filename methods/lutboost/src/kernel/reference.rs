//! Portable gather-accumulate: for each row, Σ_s T[s][code_s][:], then dequantize and add the
//! bias. This is the definition of the LUT-GEMM's result; the AVX2 kernel must match it bit for
//! bit.

use rayon::prelude::*;

use crate::encode::Codes;
use crate::table::{LutTable, TableData};

/// Rows per parallel task.
const ROWS_PER_TASK: usize = 16;

/// `parallel`: split rows across the pool (false when the caller already runs one task per
/// thread, e.g. a convolution's image chunks).
pub fn accumulate(
    t: &LutTable,
    bias: Option<&[f32]>,
    codes: &Codes,
    out: &mut [f32],
    parallel: bool,
) {
    let (nc, c, n) = (t.nc, t.c, t.n);
    if n == 0 {
        return;
    }
    row_tasks(out, n, parallel, |r0, rows| match &t.data {
        TableData::F32(tab) => {
            for (i, o) in rows.chunks_exact_mut(n).enumerate() {
                o.fill(0.0);
                for s in 0..nc {
                    let j = codes.get(r0 + i, s) as usize;
                    let tr = &tab[(s * c + j) * n..(s * c + j + 1) * n];
                    for (a, &x) in o.iter_mut().zip(tr) {
                        *a += x;
                    }
                }
                for (idx, a) in o.iter_mut().enumerate() {
                    *a += bias.map_or(0.0, |b| b[idx]);
                }
            }
        }
        TableData::I8 { q, scale, .. } => int_rows(q, scale, bias, codes, r0, nc, c, n, rows),
        TableData::I16 { q, scale } => int_rows(q, scale, bias, codes, r0, nc, c, n, rows),
    });
}

/// `task(first_row, rows)` over `out` (rows of `n` values) in chunks of [`ROWS_PER_TASK`] rows,
/// split across the pool when `parallel`. Both look-up implementations divide work this way.
pub(crate) fn row_tasks(
    out: &mut [f32],
    n: usize,
    parallel: bool,
    task: impl Fn(usize, &mut [f32]) + Sync,
) {
    let run = |(i, rows): (usize, &mut [f32])| task(i * ROWS_PER_TASK, rows);
    if parallel {
        out.par_chunks_mut(ROWS_PER_TASK * n)
            .enumerate()
            .for_each(run);
    } else {
        out.chunks_mut(ROWS_PER_TASK * n).enumerate().for_each(run);
    }
}

#[inline(always)]
fn int_rows<T: Copy + Into<i32>>(
    q: &[T],
    scale: &[f32],
    bias: Option<&[f32]>,
    codes: &Codes,
    r0: usize,
    nc: usize,
    c: usize,
    n: usize,
    rows: &mut [f32],
) {
    let mut acc = vec![0i32; n];
    for (i, o) in rows.chunks_exact_mut(n).enumerate() {
        acc.fill(0);
        for s in 0..nc {
            let j = codes.get(r0 + i, s) as usize;
            let tr = &q[(s * c + j) * n..(s * c + j + 1) * n];
            for (a, &x) in acc.iter_mut().zip(tr) {
                *a += x.into();
            }
        }
        dequantize(&acc, scale, bias, o);
    }
}

/// `out = acc · scale + bias`, a separate multiply and add (no FMA) in every implementation.
#[inline(always)]
pub(crate) fn dequantize(acc: &[i32], scale: &[f32], bias: Option<&[f32]>, out: &mut [f32]) {
    match bias {
        Some(b) => {
            for (((o, &a), &s), &bb) in out.iter_mut().zip(acc).zip(scale).zip(b) {
                *o = a as f32 * s + bb;
            }
        }
        None => {
            for ((o, &a), &s) in out.iter_mut().zip(acc).zip(scale) {
                *o = a as f32 * s + 0.0;
            }
        }
    }
}
