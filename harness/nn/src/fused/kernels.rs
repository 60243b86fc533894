//! The fused ops' forward and backward kernels on plain contiguous `f32` buffers.
//!
//! Nothing here knows about burn: [`super`] moves tensors in and out. Every kernel splits its
//! work into independent row (or plane) blocks of at least [`GRAIN`] elements and runs them on
//! the current rayon pool; each output element is computed by one thread with a fixed
//! arithmetic order, so results do not depend on the thread count.

use rayon::prelude::*;

/// Minimum elements per rayon task: small tensors stay on one thread.
pub const GRAIN: usize = 1 << 14;

/// Units of `unit` elements per task so that a task covers at least [`GRAIN`] elements.
fn per_task(unit: usize) -> usize {
    GRAIN.div_ceil(unit.max(1)).max(1)
}

// ---------------------------------------------------------------------------------------------
// 2×2 max pool, stride 2
// ---------------------------------------------------------------------------------------------

/// Index (0..4, row-major in the window) and value of the window's maximum, with burn-flex's
/// rule: the first element starts the window; a later one wins if it is strictly greater or
/// NaN (so the first maximum wins on ties and the last NaN wins, as in PyTorch).
///
/// Written with bit-mask selects so it compiles without branches (and vectorizes): on real
/// activations the winner is unpredictable, and a branchy version spends most of its time in
/// mispredictions (5× slower on random input).
#[inline(always)]
fn argmax4(a: f32, b: f32, c: f32, d: f32) -> (f32, u8) {
    #[inline(always)]
    fn pick(s: bool, new: f32, old: f32) -> f32 {
        let mask = (s as u32).wrapping_neg();
        f32::from_bits((new.to_bits() & mask) | (old.to_bits() & !mask))
    }
    let s1 = (b > a) | b.is_nan();
    let m = pick(s1, b, a);
    let s2 = (c > m) | c.is_nan();
    let m = pick(s2, c, m);
    let s3 = (d > m) | d.is_nan();
    let m = pick(s3, d, m);
    // The last winner's position: 3 if s3, else 2 if s2, else 1 if s1, else 0.
    let k = s1 as u8;
    let k = k + (s2 as u8) * (2 - k);
    let k = k + (s3 as u8) * (3 - k);
    (m, k)
}

/// Max pool 2×2 / stride 2 of `planes` row-major `h × w` planes into `(h/2) × (w/2)` planes
/// (an odd last row/column is dropped, as burn does without padding). `arg`, if given, receives
/// each output's window position (0..4) for the backward pass.
pub fn max_pool2x2_forward(
    x: &[f32],
    planes: usize,
    h: usize,
    w: usize,
    y: &mut [f32],
    arg: Option<&mut [u8]>,
) {
    let (oh, ow) = (h / 2, w / 2);
    let (ip, op) = (h * w, oh * ow);
    assert_eq!(x.len(), planes * ip, "max_pool2x2: input size");
    assert_eq!(y.len(), planes * op, "max_pool2x2: output size");
    if op == 0 {
        return;
    }
    let per = per_task(ip);
    let plane = |x: &[f32], y: &mut [f32], mut arg: Option<&mut [u8]>| {
        for i in 0..oh {
            // Window pairs of the two input rows (an odd last column is left out).
            let r0 = x[2 * i * w..2 * i * w + 2 * ow].chunks_exact(2);
            let r1 = x[(2 * i + 1) * w..(2 * i + 1) * w + 2 * ow].chunks_exact(2);
            let yr = &mut y[i * ow..(i + 1) * ow];
            match arg.as_deref_mut() {
                Some(arg) => {
                    let ar = &mut arg[i * ow..(i + 1) * ow];
                    for (((y, a), p), q) in yr.iter_mut().zip(ar).zip(r0).zip(r1) {
                        (*y, *a) = argmax4(p[0], p[1], q[0], q[1]);
                    }
                }
                None => {
                    for ((y, p), q) in yr.iter_mut().zip(r0).zip(r1) {
                        *y = argmax4(p[0], p[1], q[0], q[1]).0;
                    }
                }
            }
        }
    };
    match arg {
        Some(arg) => {
            assert_eq!(arg.len(), y.len(), "max_pool2x2: argmax size");
            x.par_chunks(per * ip)
                .zip(y.par_chunks_mut(per * op))
                .zip(arg.par_chunks_mut(per * op))
                .for_each(|((x, y), arg)| {
                    for ((x, y), arg) in x
                        .chunks_exact(ip)
                        .zip(y.chunks_exact_mut(op))
                        .zip(arg.chunks_exact_mut(op))
                    {
                        plane(x, y, Some(arg));
                    }
                });
        }
        None => {
            x.par_chunks(per * ip)
                .zip(y.par_chunks_mut(per * op))
                .for_each(|(x, y)| {
                    for (x, y) in x.chunks_exact(ip).zip(y.chunks_exact_mut(op)) {
                        plane(x, y, None);
                    }
                });
        }
    }
}

/// Backward of [`max_pool2x2_forward`]: each output gradient goes to its window's argmax, every
/// other input element (including a dropped odd row/column) gets 0. Writes all of `dx`.
pub fn max_pool2x2_backward(
    g: &[f32],
    arg: &[u8],
    planes: usize,
    h: usize,
    w: usize,
    dx: &mut [f32],
) {
    let (oh, ow) = (h / 2, w / 2);
    let (ip, op) = (h * w, oh * ow);
    assert_eq!(g.len(), planes * op, "max_pool2x2 backward: gradient size");
    assert_eq!(arg.len(), planes * op, "max_pool2x2 backward: argmax size");
    assert_eq!(dx.len(), planes * ip, "max_pool2x2 backward: output size");
    if ip == 0 {
        return;
    }
    let per = per_task(ip);
    let plane = |g: &[f32], arg: &[u8], dx: &mut [f32]| {
        for i in 0..oh {
            let (top, rest) = dx[2 * i * w..].split_at_mut(w);
            let bot = &mut rest[..w];
            let gr = &g[i * ow..(i + 1) * ow];
            let ar = &arg[i * ow..(i + 1) * ow];
            let pairs = top[..2 * ow]
                .chunks_exact_mut(2)
                .zip(bot[..2 * ow].chunks_exact_mut(2));
            for (((t, b), v), k) in pairs.zip(gr).zip(ar) {
                // Bit-mask selects instead of branches (see `argmax4`); not `v · 0/1`, which
                // would turn an infinite or NaN gradient into NaN where burn writes 0.
                let sel = |j: u8| f32::from_bits(v.to_bits() & ((*k == j) as u32).wrapping_neg());
                t[0] = sel(0);
                t[1] = sel(1);
                b[0] = sel(2);
                b[1] = sel(3);
            }
            if w % 2 == 1 {
                top[w - 1] = 0.0;
                bot[w - 1] = 0.0;
            }
        }
        if h % 2 == 1 {
            dx[(h - 1) * w..].fill(0.0);
        }
    };
    if op == 0 {
        dx.fill(0.0);
        return;
    }
    dx.par_chunks_mut(per * ip)
        .zip(g.par_chunks(per * op))
        .zip(arg.par_chunks(per * op))
        .for_each(|((dx, g), arg)| {
            for ((dx, g), arg) in dx
                .chunks_exact_mut(ip)
                .zip(g.chunks_exact(op))
                .zip(arg.chunks_exact(op))
            {
                plane(g, arg, dx);
            }
        });
}

// ---------------------------------------------------------------------------------------------
// GELU (erf)
// ---------------------------------------------------------------------------------------------

/// `0.5·x·(1 + erf(x/√2))` with libm's `erff`: the expression of burn-flex's `gelu` and of the
/// deployed kernel. The kernels below compute the same bits with [`super::erf::erff_slice`].
#[inline(always)]
pub fn gelu(x: f32) -> f32 {
    0.5 * x * (1.0 + libm::erff(x / std::f32::consts::SQRT_2))
}

/// Elements per stack block of the GELU kernels.
const BLOCK: usize = 256;

/// `e = erf(x/√2)` for a block of at most [`BLOCK`] elements (burn's `x / SQRT_2`, a division).
#[inline(always)]
fn erf_scaled(x: &[f32], e: &mut [f32]) {
    let mut u = [0.0f32; BLOCK];
    let u = &mut u[..x.len()];
    for (u, x) in u.iter_mut().zip(x) {
        *u = x / std::f32::consts::SQRT_2;
    }
    super::erf::erff_slice(u, e);
}

/// `1/√(2π)` as burn-flex's `gelu_backward` computes it.
#[inline(always)]
fn inv_sqrt_2pi() -> f32 {
    1.0 / (2.0 * std::f32::consts::PI).sqrt()
}

/// `y = gelu(x)` element-wise, bit-identical to [`gelu`].
pub fn gelu_forward(x: &[f32], y: &mut [f32]) {
    assert_eq!(x.len(), y.len(), "gelu: sizes");
    x.par_chunks(GRAIN)
        .zip(y.par_chunks_mut(GRAIN))
        .for_each(|(x, y)| {
            for (x, y) in x.chunks(BLOCK).zip(y.chunks_mut(BLOCK)) {
                erf_scaled(x, y);
                for (y, x) in y.iter_mut().zip(x) {
                    *y = 0.5 * x * (1.0 + *y);
                }
            }
        });
}

/// `x = gelu(x)` in place on the calling thread, bit-identical to [`gelu`] (the deployed
/// model's exact GELU: its callers already split rows across the pool).
pub fn gelu_in_place(x: &mut [f32]) {
    let mut e = [0.0f32; BLOCK];
    for x in x.chunks_mut(BLOCK) {
        let e = &mut e[..x.len()];
        erf_scaled(x, e);
        for (x, e) in x.iter_mut().zip(e.iter()) {
            *x = 0.5 * *x * (1.0 + *e);
        }
    }
}

/// `y = gelu(x)` and `d = gelu'(x) = Φ(x) + x·φ(x)` element-wise (the forward pass of a tracked
/// GELU), one `erf` per element. `d` is burn-flex's `gelu_backward` expression
/// (`0.5·(1 + erf(x/√2)) + x·(1/√(2π))·exp(−x²/2)`, with libm's `exp` bits from
/// [`super::exp`]), so `g · d` is bit-identical to burn's gradient.
pub fn gelu_forward_with_derivative(x: &[f32], y: &mut [f32], d: &mut [f32]) {
    assert_eq!(x.len(), y.len(), "gelu: sizes");
    assert_eq!(x.len(), d.len(), "gelu: sizes");
    let inv = inv_sqrt_2pi();
    x.par_chunks(GRAIN)
        .zip(y.par_chunks_mut(GRAIN))
        .zip(d.par_chunks_mut(GRAIN))
        .for_each(|((x, y), d)| {
            for ((x, y), d) in x
                .chunks(BLOCK)
                .zip(y.chunks_mut(BLOCK))
                .zip(d.chunks_mut(BLOCK))
            {
                erf_scaled(x, d);
                let mut g = [0.0f32; BLOCK];
                let g = &mut g[..x.len()];
                for (g, x) in g.iter_mut().zip(x) {
                    *g = -0.5 * x * x;
                }
                super::exp::exp_sub_in_place(g, 0.0);
                for (((y, d), x), g) in y.iter_mut().zip(d.iter_mut()).zip(x).zip(g.iter()) {
                    let e = *d;
                    *y = 0.5 * x * (1.0 + e);
                    let cdf = 0.5 * (1.0 + e);
                    let pdf = inv * g;
                    *d = cdf + x * pdf;
                }
            }
        });
}

/// `out = a ⊙ b` (GELU's backward: gradient times the saved derivative).
pub fn mul(a: &[f32], b: &[f32], out: &mut [f32]) {
    assert_eq!(a.len(), b.len(), "mul: sizes");
    assert_eq!(a.len(), out.len(), "mul: sizes");
    out.par_chunks_mut(GRAIN)
        .zip(a.par_chunks(GRAIN))
        .zip(b.par_chunks(GRAIN))
        .for_each(|((o, a), b)| {
            for ((o, a), b) in o.iter_mut().zip(a).zip(b) {
                *o = a * b;
            }
        });
}

// ---------------------------------------------------------------------------------------------
// Softmax over rows
// ---------------------------------------------------------------------------------------------

/// Softmax of one row: subtract the row max, `exp` (f32, libm's bits, vectorized), sum in f64,
/// scale by the f64 reciprocal and round once. Each output is the correctly rounded quotient of its f32
/// exponential and the (almost exact) sum: within ~1 ulp of the exact softmax, where an f32
/// running sum (burn-flex's fused softmax, the deployed kernel) drifts by up to ~1e-6 relative
/// over a 49-token row.
#[inline]
fn softmax_row(x: &[f32], y: &mut [f32]) {
    let mut max = f32::NEG_INFINITY;
    for &v in x {
        if v > max {
            max = v;
        }
    }
    super::exp::exp_sub(x, max, y);
    let sum: f64 = y.iter().map(|&e| e as f64).sum();
    let inv = 1.0 / sum;
    for o in y.iter_mut() {
        *o = (*o as f64 * inv) as f32;
    }
}

/// Row-wise softmax of `x` viewed as `[len / cols, cols]`.
pub fn softmax_forward(x: &[f32], cols: usize, y: &mut [f32]) {
    assert_eq!(x.len(), y.len(), "softmax: sizes");
    if cols == 0 {
        return;
    }
    assert_eq!(x.len() % cols, 0, "softmax: rows");
    let chunk = per_task(cols) * cols;
    x.par_chunks(chunk)
        .zip(y.par_chunks_mut(chunk))
        .for_each(|(x, y)| {
            for (x, y) in x.chunks_exact(cols).zip(y.chunks_exact_mut(cols)) {
                softmax_row(x, y);
            }
        });
}

/// Backward of the row softmax from its output: `dx = y ⊙ (g − Σ g⊙y)` per row, accumulated in
/// f64 and rounded once per element.
pub fn softmax_backward(y: &[f32], g: &[f32], cols: usize, dx: &mut [f32]) {
    assert_eq!(y.len(), g.len(), "softmax backward: sizes");
    assert_eq!(y.len(), dx.len(), "softmax backward: sizes");
    if cols == 0 {
        return;
    }
    let chunk = per_task(cols) * cols;
    dx.par_chunks_mut(chunk)
        .zip(y.par_chunks(chunk))
        .zip(g.par_chunks(chunk))
        .for_each(|((dx, y), g)| {
            for ((dx, y), g) in dx
                .chunks_exact_mut(cols)
                .zip(y.chunks_exact(cols))
                .zip(g.chunks_exact(cols))
            {
                // f64 for the dot product and the difference: `g − Σ g⊙y` cancels when one
                // probability dominates, and f32 there loses more than burn's decomposition.
                let dot: f64 = y.iter().zip(g).map(|(y, g)| *y as f64 * *g as f64).sum();
                for ((d, y), g) in dx.iter_mut().zip(y).zip(g) {
                    *d = (*y as f64 * (*g as f64 - dot)) as f32;
                }
            }
        });
}
