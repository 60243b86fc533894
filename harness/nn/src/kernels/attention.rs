//! Multi-head self-attention on plain buffers (the deployed ViT's core).

use rayon::prelude::*;

/// `out[b·T + t, h·dh + j] = Σ_s softmax_s(q_t·k_s / √dh) · v_s[j]` for every image and head.
///
/// `qkv` is `[batch·T, 3·H·dh]` with columns ordered `(q|k|v, head, j)` — the layout of the
/// trainable model's fused `qkv` projection. `softmax` normalizes `rows × cols` scores in place
/// (a pluggable [`crate::deployed::NonlinearKernel`] in the deployed model). Images run in
/// parallel on the current rayon pool; `out` is `[batch·T, H·dh]`.
pub fn multi_head_attention(
    qkv: &[f32],
    batch: usize,
    tokens: usize,
    heads: usize,
    dh: usize,
    softmax: &(dyn Fn(&mut [f32], usize, usize) + Sync),
    out: &mut [f32],
) {
    let d = heads * dh;
    assert_eq!(qkv.len(), batch * tokens * 3 * d);
    assert_eq!(out.len(), batch * tokens * d);
    let scale = 1.0 / (dh as f32).sqrt();
    out.par_chunks_mut(tokens * d)
        .enumerate()
        .for_each(|(b, out_img)| {
            let img = &qkv[b * tokens * 3 * d..(b + 1) * tokens * 3 * d];
            // Scores for all heads of this image: [H·T, T], so one softmax call covers them.
            let mut scores = vec![0.0f32; heads * tokens * tokens];
            for h in 0..heads {
                for t in 0..tokens {
                    let q = &img[t * 3 * d + h * dh..][..dh];
                    let row = &mut scores[(h * tokens + t) * tokens..][..tokens];
                    for (s, r) in row.iter_mut().enumerate() {
                        let k = &img[s * 3 * d + d + h * dh..][..dh];
                        *r = dot(q, k) * scale;
                    }
                }
            }
            softmax(&mut scores, heads * tokens, tokens);
            out_img.fill(0.0);
            for h in 0..heads {
                for t in 0..tokens {
                    let p = &scores[(h * tokens + t) * tokens..][..tokens];
                    let o = &mut out_img[t * d + h * dh..][..dh];
                    for (s, &ps) in p.iter().enumerate() {
                        let v = &img[s * 3 * d + 2 * d + h * dh..][..dh];
                        for (oj, vj) in o.iter_mut().zip(v) {
                            *oj += ps * vj;
                        }
                    }
                }
            }
        });
}

#[inline]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    // Eight partial sums so the compiler can vectorize without reassociating a single chain.
    let mut acc = [0.0f32; 8];
    let chunks = a.len() / 8;
    for c in 0..chunks {
        for i in 0..8 {
            acc[i] += a[c * 8 + i] * b[c * 8 + i];
        }
    }
    let mut s: f32 = acc.iter().sum();
    for i in chunks * 8..a.len() {
        s += a[i] * b[i];
    }
    s
}
