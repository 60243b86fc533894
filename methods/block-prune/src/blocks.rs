//! Block grids over a GEMM layer's weights, block scores and per-layer block masks.
//!
//! LPViT tiles W (out × in) into `rows × cols` blocks, the first block dimension along output
//! rows and the second along input columns. compbench stores weights K×N = in × out, so a
//! block covers `cols` consecutive K rows and `rows` consecutive N columns of the stored
//! matrix. Blocks are numbered row-major over ⌈K/cols⌉ × ⌈N/rows⌉ — the order of the Workload
//! IR's `BlockSparsity::mask` (block_k = cols, block_n = rows).
//!
//! Shapes must tile the layer exactly (refused in `Method::check` otherwise): no padding rule,
//! so every block holds the same number of weights and costs the same FLOPs.

/// A block shape in LPViT's convention: `rows` output features × `cols` input features.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockShape {
    pub rows: usize,
    pub cols: usize,
}

/// The block tiling of one K×N weight matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockGrid {
    pub k: usize,
    pub n: usize,
    pub shape: BlockShape,
}

impl BlockGrid {
    /// `None` when the shape does not tile K×N exactly (or a dimension is 0).
    pub fn new(k: usize, n: usize, shape: BlockShape) -> Option<BlockGrid> {
        let ok = shape.rows > 0
            && shape.cols > 0
            && k > 0
            && n > 0
            && k.is_multiple_of(shape.cols)
            && n.is_multiple_of(shape.rows);
        ok.then_some(BlockGrid { k, n, shape })
    }

    /// Blocks along K (input features).
    pub fn blocks_k(&self) -> usize {
        self.k / self.shape.cols
    }

    /// Blocks along N (output features).
    pub fn blocks_n(&self) -> usize {
        self.n / self.shape.rows
    }

    pub fn num_blocks(&self) -> usize {
        self.blocks_k() * self.blocks_n()
    }

    /// Weights per block.
    pub fn block_len(&self) -> usize {
        self.shape.rows * self.shape.cols
    }

    /// The block holding stored element (k, n).
    pub fn block_of(&self, k: usize, n: usize) -> usize {
        (k / self.shape.cols) * self.blocks_n() + n / self.shape.rows
    }

    /// The block of each stored element, in element order (K×N row-major).
    pub fn element_blocks(&self) -> Vec<usize> {
        (0..self.k * self.n)
            .map(|i| self.block_of(i / self.n, i % self.n))
            .collect()
    }

    /// Sum of `f(element index)` over each block, in block order.
    fn block_sums(&self, f: impl Fn(usize) -> f64) -> Vec<f64> {
        let mut out = vec![0.0; self.num_blocks()];
        for k in 0..self.k {
            for n in 0..self.n {
                out[self.block_of(k, n)] += f(k * self.n + n);
            }
        }
        out
    }

    /// Mean of `f` over each block's elements.
    pub fn block_means(&self, f: impl Fn(usize) -> f64) -> Vec<f64> {
        let len = self.block_len() as f64;
        self.block_sums(f).into_iter().map(|s| s / len).collect()
    }

    /// Element keep-mask (K×N) from a block keep-mask.
    pub fn element_mask(&self, block_keep: &[bool]) -> Vec<bool> {
        assert_eq!(block_keep.len(), self.num_blocks(), "one flag per block");
        let mut out = vec![false; self.k * self.n];
        for k in 0..self.k {
            for n in 0..self.n {
                out[k * self.n + n] = block_keep[self.block_of(k, n)];
            }
        }
        out
    }
}

/// How blocks are ranked within a layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Score {
    /// LPViT: mean |W ⊙ g| per block (first-order Taylor magnitude), g from calibration.
    Taylor,
    /// Baseline: mean |W| per block.
    L1,
}

/// Block scores of a K×N weight matrix (`grad` is required for [`Score::Taylor`]).
pub fn block_scores(grid: &BlockGrid, w: &[f32], grad: Option<&[f32]>, score: Score) -> Vec<f64> {
    assert_eq!(w.len(), grid.k * grid.n, "weights are K×N");
    match score {
        Score::L1 => grid.block_means(|i| (w[i] as f64).abs()),
        Score::Taylor => {
            let g = grad.expect("Taylor scores need the calibration gradient");
            assert_eq!(g.len(), w.len(), "gradient has the weights' shape");
            grid.block_means(|i| (w[i] as f64 * g[i] as f64).abs())
        }
    }
}

/// The order in which blocks are pruned: ascending score, ties by block index (so masks are
/// deterministic). Pruning `p` blocks removes `order[..p]`.
pub fn prune_order(scores: &[f64]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]).then(a.cmp(&b)));
    order
}

/// Block keep-mask with the `pruned` lowest-ranked blocks removed.
pub fn block_mask(order: &[usize], pruned: usize) -> Vec<bool> {
    let mut keep = vec![true; order.len()];
    for &b in &order[..pruned.min(order.len())] {
        keep[b] = false;
    }
    keep
}

/// Blocks pruned at sparsity `s` out of `num_blocks`: ⌊s·n⌋ (up to rounding noise), so that
/// the top ⌈(1−s)·n⌉ blocks are kept as in LPViT's code.
pub fn pruned_blocks(s: f64, num_blocks: usize) -> usize {
    ((s * num_blocks as f64) + 1e-9)
        .floor()
        .clamp(0.0, num_blocks as f64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 4×6 (K×N) matrix = W of 6 outputs × 4 inputs, tiled into 2×2 blocks:
    /// K blocks = 2, N blocks = 3.
    fn hand_matrix() -> (BlockGrid, Vec<f32>) {
        #[rustfmt::skip]
        let w = vec![
            1.0, -1.0,   0.1, 0.1,   5.0, 5.0,
            1.0,  1.0,   0.1, -0.1,  5.0, -5.0,
            2.0,  2.0,   0.0, 0.0,   0.5, 0.5,
            -2.0, 2.0,   0.0, 0.4,   0.5, 0.5,
        ];
        let grid = BlockGrid::new(4, 6, BlockShape { rows: 2, cols: 2 }).unwrap();
        (grid, w)
    }

    #[test]
    fn l1_block_scores_on_a_hand_made_matrix() {
        let (grid, w) = hand_matrix();
        assert_eq!(grid.num_blocks(), 6);
        let s = block_scores(&grid, &w, None, Score::L1);
        let want = [1.0, 0.1, 5.0, 2.0, 0.1, 0.5];
        for (a, b) in s.iter().zip(want) {
            assert!((a - b).abs() < 1e-6, "{s:?}");
        }
        let order = prune_order(&s);
        // Ties (blocks 1 and 4, both 0.1) go by index.
        assert_eq!(order, vec![1, 4, 5, 0, 3, 2]);
        let keep = block_mask(&order, 2);
        assert_eq!(keep, vec![true, false, true, true, false, true]);
        let el = grid.element_mask(&keep);
        // Block 1 = K rows 0-1, N cols 2-3; block 4 = K rows 2-3, N cols 2-3.
        for k in 0..4 {
            for n in 0..6 {
                assert_eq!(el[k * 6 + n], !(2..4).contains(&n), "k={k} n={n}");
            }
        }
    }

    #[test]
    fn taylor_scores_weight_by_the_gradient() {
        let (grid, w) = hand_matrix();
        // A gradient that is zero on the big block 2 and large on block 1.
        let mut g = vec![1.0f32; 24];
        for k in 0..2 {
            for n in 4..6 {
                g[k * 6 + n] = 0.0;
            }
            for n in 2..4 {
                g[k * 6 + n] = 100.0;
            }
        }
        let s = block_scores(&grid, &w, Some(&g), Score::Taylor);
        let want = [1.0, 10.0, 0.0, 2.0, 0.1, 0.5];
        for (a, b) in s.iter().zip(want) {
            assert!((a - b).abs() < 1e-4, "{s:?}");
        }
        assert_eq!(
            prune_order(&s)[0],
            2,
            "Taylor prunes the zero-gradient block first"
        );
    }

    #[test]
    fn rectangular_blocks_follow_the_out_by_in_convention() {
        // W is 4 outputs × 8 inputs; blocks of 2 outputs × 4 inputs → K×N = 8×4 tiled 2 × 2.
        let grid = BlockGrid::new(8, 4, BlockShape { rows: 2, cols: 4 }).unwrap();
        assert_eq!((grid.blocks_k(), grid.blocks_n()), (2, 2));
        assert_eq!(grid.block_of(3, 1), 0);
        assert_eq!(grid.block_of(4, 1), 2);
        assert_eq!(grid.block_of(0, 2), 1);
        assert!(BlockGrid::new(8, 4, BlockShape { rows: 3, cols: 4 }).is_none());
        assert!(BlockGrid::new(6, 4, BlockShape { rows: 2, cols: 4 }).is_none());
    }

    #[test]
    fn pruned_blocks_rounds_down_kept_up() {
        assert_eq!(pruned_blocks(0.5, 64), 32);
        assert_eq!(pruned_blocks(0.29, 100), 29);
        assert_eq!(pruned_blocks(0.999, 10), 9);
        assert_eq!(pruned_blocks(1.0, 10), 10);
        assert_eq!(pruned_blocks(0.0, 10), 0);
    }
}
