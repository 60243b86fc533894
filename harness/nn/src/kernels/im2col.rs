//! im2col: lower a convolution to a GEMM.
//!
//! **The one column order used everywhere** (trainable weight export, deployed conv,
//! `capture_gemm_inputs`, Workload IR): a row is one output pixel `(b, oh, ow)` in that order, and
//! its `K = Cin·k·k` columns are ordered `(cin, kh, kw)`, kw fastest. That is PyTorch's
//! `weight.reshape(Cout, -1)`, so the GEMM's B operand is `weight.reshape(Cout, K)ᵀ` (K×N with
//! N = Cout), and the GEMM's output is `[b·Ho·Wo, Cout]`, i.e. NHWC.
//! Padding positions hold 0.

use crate::hooks::ConvGeom;

/// im2col of `batch` images stored NHWC (`[b, h, w, cin]`, the deployed model's layout between
/// convolutions). `out` is `[batch·Ho·Wo, K]`, fully overwritten.
pub fn im2col_nhwc(x: &[f32], batch: usize, h: usize, w: usize, g: &ConvGeom, out: &mut [f32]) {
    let cin = g.in_channels;
    im2col_generic(batch, h, w, g, out, |b, y, xx, c| {
        x[((b * h + y) * w + xx) * cin + c]
    });
    debug_assert_eq!(x.len(), batch * h * w * cin);
}

/// im2col of `batch` images stored NCHW (`[b, cin, h, w]`, burn's layout).
pub fn im2col_nchw(x: &[f32], batch: usize, h: usize, w: usize, g: &ConvGeom, out: &mut [f32]) {
    let cin = g.in_channels;
    im2col_generic(batch, h, w, g, out, |b, y, xx, c| {
        x[((b * cin + c) * h + y) * w + xx]
    });
    debug_assert_eq!(x.len(), batch * h * w * cin);
}

#[inline(always)]
fn im2col_generic(
    batch: usize,
    h: usize,
    w: usize,
    g: &ConvGeom,
    out: &mut [f32],
    at: impl Fn(usize, usize, usize, usize) -> f32,
) {
    let (ho, wo) = g.output_hw(h, w);
    let (kk, kdim) = (g.kernel, g.k());
    assert_eq!(
        out.len(),
        batch * ho * wo * kdim,
        "im2col output must be [batch·Ho·Wo, K]"
    );
    let pad = g.padding as isize;
    for b in 0..batch {
        for oy in 0..ho {
            for ox in 0..wo {
                let row = &mut out[((b * ho + oy) * wo + ox) * kdim..][..kdim];
                let mut col = 0;
                for c in 0..g.in_channels {
                    for ky in 0..kk {
                        let y = (oy * g.stride + ky) as isize - pad;
                        for kx in 0..kk {
                            let xx = (ox * g.stride + kx) as isize - pad;
                            row[col] = if y >= 0 && (y as usize) < h && xx >= 0 && (xx as usize) < w
                            {
                                at(b, y as usize, xx as usize, c)
                            } else {
                                0.0
                            };
                            col += 1;
                        }
                    }
                }
            }
        }
    }
}
