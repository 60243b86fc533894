//! Grid expansion: cartesian products, zip groups, quick overrides, seed overrides.

mod common;

use common::{GOOD, catalog};
use compbench_core::Value;
use compbench_suite::{Mode, parse};

fn get(p: &compbench_core::Params, k: &str) -> Value {
    p.get(k).cloned().unwrap()
}

#[test]
fn cartesian_times_zip_in_written_order() {
    let s = parse("t.yaml", GOOD, &catalog()).unwrap();
    let ptq = &s.methods[1];
    // w_bits [8,4,2] × zip{(a_bits, calib)} [(8,minmax),(4,mse)] = 6 points, last axis fastest.
    let got: Vec<(Value, Value, Value)> = ptq
        .full
        .iter()
        .map(|p| (get(p, "w_bits"), get(p, "a_bits"), get(p, "calib")))
        .collect();
    let i = |x| Value::Int(x);
    let st = |x: &str| Value::Str(x.into());
    assert_eq!(
        got,
        vec![
            (i(8), i(8), st("minmax")),
            (i(8), i(4), st("mse")),
            (i(4), i(8), st("minmax")),
            (i(4), i(4), st("mse")),
            (i(2), i(8), st("minmax")),
            (i(2), i(4), st("mse")),
        ]
    );
    // Defaults are filled in.
    assert!(
        ptq.full
            .iter()
            .all(|p| get(p, "per_channel") == Value::Bool(true))
    );
}

#[test]
fn experiments_cover_the_grid_once_per_seed() {
    let s = parse("t.yaml", GOOD, &catalog()).unwrap();
    // 1 dataset × 2 model points (epochs 1,2) × 2 seeds × (1 identity + 6 ptq)
    let ex = s.experiments(Mode::Full, None);
    assert_eq!(ex.len(), 2 * 2 * 7);
    assert!(ex.iter().enumerate().all(|(i, e)| e.index == i));
    // Experiments sharing a baseline are neighbours.
    assert_eq!(ex[0].model.params, ex[6].model.params);
    assert_eq!(ex[0].seed, ex[6].seed);
    assert_eq!(ex[7].seed, 1);
    // Hardware: 2 configurations (rows 8, 16), not multiplied into experiments.
    assert_eq!(s.hw_configs(Mode::Full).len(), 2);
}

#[test]
fn quick_overrides_shrink_the_grid() {
    let s = parse("t.yaml", GOOD, &catalog()).unwrap();
    // quick: seeds [0], epochs 1 (fixed), w_bits 8 (fixed, zip kept): 1 × 1 × (1 + 2)
    let ex = s.experiments(Mode::Quick, None);
    assert_eq!(ex.len(), 3);
    assert!(
        ex.iter()
            .all(|e| e.seed == 0 && get(&e.model.params, "epochs") == Value::Int(1))
    );
    assert_eq!(s.quick.test_subset, Some(100));
    // A quick override replacing a zip member keeps the rest of the group.
    let src = GOOD.replace(
        "methods: { ptq: { w_bits: 8 } }",
        "methods: { ptq: { a_bits: [2, 3, 4] } }",
    );
    let s = parse("t.yaml", &src, &catalog()).unwrap();
    let ptq = &s.methods[1].quick;
    assert_eq!(
        ptq.len(),
        3 * 3 * 2,
        "w_bits × calib (zip remainder) × a_bits"
    );
}

#[test]
fn seed_override_replaces_the_seed_list() {
    let s = parse("t.yaml", GOOD, &catalog()).unwrap();
    let ex = s.experiments(Mode::Full, Some(7));
    assert_eq!(ex.len(), 2 * 7);
    assert!(ex.iter().all(|e| e.seed == 7));
}

#[test]
fn labels_default_to_ids_and_a_method_may_appear_twice() {
    let src = GOOD.replace(
        "  - id: identity\n",
        "  - id: identity\n  - id: ptq\n    label: ptq-w4a4\n    params: { w_bits: 4, a_bits: 4 }\n",
    );
    let s = parse("t.yaml", &src, &catalog()).unwrap();
    let labels: Vec<_> = s.methods.iter().map(|m| m.label.as_str()).collect();
    assert_eq!(labels, ["identity", "ptq-w4a4", "ptq"]);
}
