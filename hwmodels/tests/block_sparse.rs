//! Block-sparse array: exact fold skipping, load imbalance, metadata.

use std::collections::BTreeMap;

use compbench_core::{BlockSparsity, Gemm, HwDesign, HwModel, Layer, NumFormat, Params, Value};
use compbench_hwmodels::BLOCK_SPARSE;
use compbench_hwmodels::block_sparse::{
    BLOCK_SPARSE_PARAMS, BlockSparseDesign, expected_max_binomial,
};
use compbench_hwmodels::systolic::{Dataflow, scalesim};

fn design(pairs: &[(&str, i64)]) -> BlockSparseDesign {
    let given: BTreeMap<String, Value> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), Value::Int(*v)))
        .collect();
    BlockSparseDesign::from_params(&Params::resolve(BLOCK_SPARSE_PARAMS, &given).unwrap()).unwrap()
}

fn sparse_layer(
    m: u64,
    k: u64,
    n: u64,
    bk: u32,
    bn: u32,
    density: f64,
    mask: Option<Vec<bool>>,
) -> Layer {
    let mut g = Gemm::dense(m, k, n, NumFormat::INT8);
    g.sparsity = Some(BlockSparsity {
        block_k: bk,
        block_n: bn,
        density,
        mask,
    });
    Layer::gemm("g", g)
}

#[test]
fn aligned_blocks_skip_whole_folds_exactly() {
    // 32×32 array, K=128, N=64 → 4×2 tiles of 32×32; keep 3 of 8 blocks.
    let mask = vec![true, false, false, false, false, true, true, false];
    let d = design(&[]);
    let (m, k, n) = (100, 128, 64);
    let layer = sparse_layer(m, k, n, 32, 32, 3.0 / 8.0, Some(mask));
    let (s, w) = d.sparse_work(
        layer.as_gemm().unwrap(),
        layer.as_gemm().unwrap().sparsity.as_ref().unwrap(),
    );
    let per_fold = scalesim(Dataflow::Ws, 32, 32, m, k, n).cycles_per_fold as f64;
    // The mask is row-major over 4 K-blocks × 2 N-blocks: kept (0,0), (2,1), (3,0) → column
    // fold 0 has 2 busy tiles, column fold 1 has 1 → 3 folds run.
    assert_eq!(s.nonzero_tiles, 3.0);
    assert_eq!(s.busy_tiles, 3.0);
    assert_eq!(w.compute_cycles, 3.0 * per_fold - 1.0);
    assert_eq!(w.executed_macs, 3.0 * 32.0 * 32.0 * m as f64);
    // Dense = all kept = the systolic array exactly.
    let dense = sparse_layer(m, k, n, 32, 32, 1.0, Some(vec![true; 8]));
    let r = d.eval_layer(&dense);
    assert_eq!(
        r.cycles,
        scalesim(Dataflow::Ws, 32, 32, m, k, n).compute_cycles as f64
    );
    let plain = d.eval_layer(&Layer::gemm("g", Gemm::dense(m, k, n, NumFormat::INT8)));
    assert_eq!(plain.cycles, r.cycles);
}

#[test]
fn column_groups_pay_for_imbalance() {
    // 32×32 array split into two 16-column groups; blocks 32×16. K=128 → 4 row folds.
    // Group 0 keeps 4 K-tiles, group 1 keeps 1 → the fold lasts 4 tiles (max), not 2.5 (mean).
    let mut mask = vec![false; 4 * 2];
    for i in 0..4 {
        mask[i * 2] = true;
    }
    mask[1] = true;
    let d = design(&[("skip_cols", 16)]);
    let layer = sparse_layer(64, 128, 32, 32, 16, 5.0 / 8.0, Some(mask));
    let g = layer.as_gemm().unwrap();
    let (s, _) = d.sparse_work(g, g.sparsity.as_ref().unwrap());
    assert_eq!((s.nonzero_tiles, s.busy_tiles), (5.0, 4.0));
    // Finer groups never take longer than whole-fold skipping.
    let whole = design(&[]);
    let (s_whole, _) = whole.sparse_work(g, g.sparsity.as_ref().unwrap());
    assert!(s.busy_tiles <= s_whole.busy_tiles);
}

#[test]
fn expected_max_of_binomials() {
    // Cases: (n, p, groups, expected).
    let cases = [
        (10, 0.5, 1, 5.0),
        (1, 0.5, 2, 0.75),
        (2, 0.5, 2, 1.375),
        (5, 1.0, 4, 5.0),
        (5, 0.0, 4, 0.0),
    ];
    for (n, p, g, e) in cases {
        let got = expected_max_binomial(n, p, g);
        assert!((got - e).abs() < 1e-12, "n={n} p={p} g={g}: {got}");
    }
}

#[test]
fn uniform_density_without_mask_scales_work() {
    let d = design(&[]);
    let mut prev = f64::INFINITY;
    for density in [1.0, 0.75, 0.5, 0.25, 0.1] {
        let r = d.eval_layer(&sparse_layer(196, 768, 768, 32, 32, density, None));
        assert!(r.cycles < prev || density == 1.0);
        assert!((r.energy_breakdown.total() - r.energy_pj).abs() <= 1e-9 * r.energy_pj);
        assert!(r.energy_breakdown.get("metadata").unwrap() > 0.0);
        prev = r.cycles;
    }
    // Aligned 32×32 blocks at density d: expected busy folds = d × all folds.
    let g = sparse_layer(196, 768, 768, 32, 32, 0.5, None);
    let gg = g.as_gemm().unwrap();
    let (s, _) = d.sparse_work(gg, gg.sparsity.as_ref().unwrap());
    assert!((s.busy_tiles - 0.5 * 24.0 * 24.0).abs() < 1e-9);
    // Smaller blocks than the tile: a tile is busy with probability 1 − (1−d)^4.
    let g = sparse_layer(196, 768, 768, 16, 16, 0.5, None);
    let gg = g.as_gemm().unwrap();
    let (s, _) = d.sparse_work(gg, gg.sparsity.as_ref().unwrap());
    assert!((s.busy_tiles - (1.0 - 0.5f64.powi(4)) * 576.0).abs() < 1e-9);
}

#[test]
fn skip_cols_must_divide_cols() {
    let mut given = BTreeMap::new();
    given.insert("skip_cols".to_string(), Value::Int(12));
    let err = BLOCK_SPARSE
        .build(&Params(given))
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("skip_cols"), "{err}");
}
