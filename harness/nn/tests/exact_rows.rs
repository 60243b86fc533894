//! The deployed exact softmax and LayerNorm reduce eight rows side by side
//! (`softmax_rows`, `layer_norm_rows`); each row's result must be its one-row definition's
//! (`softmax_row`, `layer_norm_row`) bit for bit, whatever the row count and length.

use compbench_core::seed::Rng;
use compbench_nn::deployed::kernels::{layer_norm_row, layer_norm_rows, softmax_row, softmax_rows};

/// Row counts around the group of 8, row lengths of the ViT (49 tokens, 64 features) and odd
/// ones; values with a wide spread, plus rows of signed zeros and of equal values.
fn cases() -> Vec<(usize, usize, Vec<f32>)> {
    let mut rng = Rng::new(17);
    let mut out = Vec::new();
    for rows in [1, 7, 8, 9, 16, 23] {
        for cols in [1, 3, 49, 64] {
            let mut x: Vec<f32> = (0..rows * cols)
                .map(|_| (rng.next_f32() - 0.5) * 40.0)
                .collect();
            if rows > 2 {
                x[..cols].fill(-0.0);
                x[cols..2 * cols].fill(3.25);
            }
            out.push((rows, cols, x));
        }
    }
    out
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

#[test]
fn softmax_rows_equals_softmax_row() {
    for (rows, cols, x) in cases() {
        let mut want = x.clone();
        want.chunks_exact_mut(cols).for_each(softmax_row);
        let mut got = x;
        softmax_rows(&mut got, cols);
        assert_eq!(bits(&got), bits(&want), "rows={rows} cols={cols}");
    }
}

#[test]
fn layer_norm_rows_equals_layer_norm_row() {
    for (rows, cols, x) in cases() {
        let mut want = x.clone();
        want.chunks_exact_mut(cols).for_each(layer_norm_row);
        let mut got = x;
        layer_norm_rows(&mut got, cols);
        assert_eq!(bits(&got), bits(&want), "rows={rows} cols={cols}");
    }
}
