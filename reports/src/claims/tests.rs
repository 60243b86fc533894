//! Claim evaluation on hand-made tables: holds, does not hold, not run.

use polars::prelude::df;

use super::*;
use crate::results::aggregate;

fn table() -> ConfigTable {
    let df = df![
        "paper" => ["p", "p", "p", "p", "p", "p", "p", "p", "q"],
        "method" => ["lut", "lut", "lut", "lut", "lut", "lut", "ptq", "ptq", "lut"],
        "hw_label" => ["lut", "lut", "lut", "lut", "lut", "lut", "int8", "int8", "lut"],
        "p_method_metric" => [Some("l2"), Some("l1"), Some("chebyshev"), Some("l2"), Some("l1"), Some("chebyshev"), None, None, Some("l2")],
        "p_method_c" => [Some(16i64), Some(16), Some(16), Some(8), Some(8), Some(8), None, None, Some(16)],
        "seed" => [0i64, 0, 0, 0, 0, 0, 0, 1, 0],
        "accuracy_drop" => [0.5, 0.9, 1.5, 1.0, 1.2, 2.0, 0.1, 0.2, 9.0],
        "ops_per_joule" => [4.0, 4.0, 4.0, 4.0, 4.0, 4.0, 1.0, 1.0, 100.0],
    ]
    .unwrap();
    aggregate(&df).unwrap()
}

fn yaml(check: &str) -> Check {
    serde_saphyr::from_str(check).unwrap()
}

fn run(check: &str) -> Verdict {
    let scope: Filter = [(
        "paper".to_string(),
        FilterValue::One(Scalar::Str("p".into())),
    )]
    .into();
    evaluate(&yaml(check), &table(), &scope)
}

#[test]
fn range_holds_fails_and_not_run() {
    let v = run("{kind: range, metric: accuracy_drop, filter: {method: lut}, max: 3.0}");
    assert_eq!(v.holds, Some(true), "{}", v.ours);
    assert!(
        v.ours.contains("mean 1.18 pp over 6 configurations"),
        "{}",
        v.ours
    );
    let v = run(
        "{kind: range, metric: accuracy_drop, filter: {method: lut}, max: 1.5, aggregate: max}",
    );
    assert_eq!(v.holds, Some(false), "{}", v.ours);
    let v = run("{kind: range, metric: accuracy_drop, filter: {method: distill}, max: 1.5}");
    assert_eq!(v.holds, None);
    assert!(v.ours.starts_with("not run"), "{}", v.ours);
    let v = run("{kind: range, metric: accuracy_drop, filter: {p_method_v: 4}, max: 1.5}");
    assert_eq!(v.holds, None);
    assert!(v.ours.contains("p_method_v"), "{}", v.ours);
    let v = run("{kind: range, metric: no_such_metric, max: 1.5}");
    assert_eq!(v.holds, None);
}

#[test]
fn filter_lists_and_numbers() {
    // `16` matches the integer column; a list allows several values.
    let v = run(
        "{kind: range, metric: accuracy_drop, filter: {p_method_c: 16.0, p_method_metric: [l2, l1]}, min: 0.69, max: 0.71}",
    );
    assert_eq!(v.holds, Some(true), "{}", v.ours);
}

#[test]
fn ordering_holds_and_fails() {
    let v = run(
        "{kind: ordering, metric: accuracy_drop, by: p_method_metric, order: [l2, l1, chebyshev]}",
    );
    assert_eq!(v.holds, Some(true), "{}", v.ours);
    assert_eq!(
        v.ours,
        "metric=l2: 0.75 pp ≤ metric=l1: 1.05 pp ≤ metric=chebyshev: 1.75 pp"
    );
    let v =
        run("{kind: ordering, metric: accuracy_drop, by: p_method_metric, order: [chebyshev, l2]}");
    assert_eq!(v.holds, Some(false));
    assert!(v.ours.contains(" > "), "{}", v.ours);
    let v = run(
        "{kind: ordering, metric: accuracy_drop, by: p_method_metric, order: [chebyshev, l2], direction: descending}",
    );
    assert_eq!(v.holds, Some(true));
    let v =
        run("{kind: ordering, metric: accuracy_drop, by: p_method_metric, order: [l2, cosine]}");
    assert_eq!(v.holds, None, "{}", v.ours);
}

#[test]
fn ordering_tolerance() {
    // l1 (1.05) vs l2 (0.75): reversed order fails by 0.3, passes with tolerance 0.5.
    let v = run(
        "{kind: ordering, metric: accuracy_drop, by: p_method_metric, order: [l1, l2], tolerance: 0.5}",
    );
    assert_eq!(v.holds, Some(true), "{}", v.ours);
}

#[test]
fn trend_holds_fails_and_not_run() {
    let v = run(
        "{kind: trend, metric: accuracy_drop, along: p_method_c, direction: decreasing, filter: {method: lut}}",
    );
    assert_eq!(v.holds, Some(true), "{}", v.ours);
    assert!(v.ours.starts_with("c=8: "), "{}", v.ours);
    let v = run(
        "{kind: trend, metric: accuracy_drop, along: p_method_c, direction: increasing, filter: {method: lut}}",
    );
    assert_eq!(v.holds, Some(false));
    let v = run(
        "{kind: trend, metric: accuracy_drop, along: p_method_c, direction: increasing, filter: {method: ptq}}",
    );
    assert_eq!(v.holds, None, "{}", v.ours);
}

#[test]
fn trend_matches_across_labels_and_covarying_columns() {
    // One-factor sweeps: the centre point (v=4) comes from the `metric` block, v=2 and v=8 from
    // the `v` block, and the conv layers' v_conv is zipped with v.
    let df = df![
        "method" => ["lut", "lut", "lut"],
        "label" => ["lut-metric", "lut-v", "lut-v"],
        "p_method_v" => [4i64, 2, 8],
        "p_method_v_conv" => [0i64, 2, 9],
        "accuracy" => [0.89, 0.91, 0.87],
    ]
    .unwrap();
    let t = aggregate(&df).unwrap();
    let check = |extra: &str| {
        evaluate(
            &yaml(&format!(
                "{{kind: trend, metric: accuracy, along: p_method_v, direction: decreasing{extra}}}"
            )),
            &t,
            &Filter::new(),
        )
    };
    let v = check(", covary: [p_method_v_conv]");
    assert_eq!(v.holds, Some(true), "{}", v.ours);
    assert_eq!(v.ours, "v=2: 91.00 %, v=4: 89.00 %, v=8: 87.00 %");
    // Without `covary`, each v has its own v_conv: no setting ran every v.
    let v = check("");
    assert_eq!(v.holds, None, "{}", v.ours);
}

#[test]
fn ordering_compares_methods_with_covary_prefix() {
    // QAT and PTQ differ in their parameters, not only in the label: without `covary` no
    // setting ran both; with `p_method_*` (and `method`) the model is what gets matched.
    let df = df![
        "model" => ["cnn", "cnn", "mlp", "mlp"],
        "method" => ["qat", "ptq", "qat", "ptq"],
        "label" => ["qat-w4a4", "ptq-w4a4", "qat-w4a4", "ptq-w4a4"],
        "p_method_scheme" => [Some("lsq"), None, Some("lsq"), None],
        "p_method_calibration" => [None, Some("mse"), None, Some("mse")],
        "accuracy_drop" => [0.4, 1.0, 0.2, 0.6],
    ]
    .unwrap();
    let t = aggregate(&df).unwrap();
    let check = |covary: &str| {
        evaluate(
            &yaml(&format!(
                "{{kind: ordering, metric: accuracy_drop, by: label, order: [qat-w4a4, ptq-w4a4]{covary}}}"
            )),
            &t,
            &Filter::new(),
        )
    };
    let v = check(", covary: [method, p_method_*]");
    assert_eq!(v.holds, Some(true), "{}", v.ours);
    assert_eq!(v.ours, "label=qat-w4a4: 0.30 pp ≤ label=ptq-w4a4: 0.80 pp");
    assert_eq!(check("").holds, None);
}

#[test]
fn trend_compares_matched_settings() {
    // c=32 ran only with l2: the l1/chebyshev settings drop out of the comparison.
    let df = df![
        "method" => ["lut", "lut", "lut", "lut", "lut"],
        "p_method_metric" => ["l2", "l2", "l2", "l1", "l1"],
        "p_method_c" => [8i64, 16, 32, 8, 16],
        "accuracy" => [0.80, 0.85, 0.86, 0.50, 0.99],
    ]
    .unwrap();
    let t = aggregate(&df).unwrap();
    let v = evaluate(
        &yaml("{kind: trend, metric: accuracy, along: p_method_c, direction: increasing}"),
        &t,
        &Filter::new(),
    );
    assert_eq!(v.holds, Some(true), "{}", v.ours);
    assert!(
        v.ours.ends_with("(matched on 1 of 2 settings)"),
        "{}",
        v.ours
    );
}

#[test]
fn ratio_holds_fails_and_not_run() {
    let v = run(
        "{kind: ratio, metric: ops_per_joule, numerator: {hw_label: lut}, denominator: {hw_label: int8}, min: 1.4, max: 7.0}",
    );
    assert_eq!(v.holds, Some(true), "{}", v.ours);
    assert!(v.ours.starts_with("4.00×"), "{}", v.ours);
    let v = run(
        "{kind: ratio, metric: ops_per_joule, numerator: {hw_label: lut}, denominator: {hw_label: int8}, min: 5.0}",
    );
    assert_eq!(v.holds, Some(false));
    let v = run(
        "{kind: ratio, metric: ops_per_joule, numerator: {hw_label: lut}, denominator: {hw_label: fp16}, min: 1.0}",
    );
    assert_eq!(v.holds, None);
}

/// Two experiments (lut l2 and l1, one seed each) priced the way the runner writes them: on a
/// LUT design specialized per network (`p_hw_metric` follows the method) and an int8 array, at
/// `hw_batch` 1 and 16 (an unsigned integer column); plus a ptq experiment.
fn priced_table() -> ConfigTable {
    let mut method = Vec::new();
    let mut metric = Vec::new();
    let mut hw_label = Vec::new();
    let mut p_hw_metric: Vec<Option<&str>> = Vec::new();
    let mut hw_batch: Vec<u64> = Vec::new();
    let mut acc = Vec::new();
    let mut opj = Vec::new();
    for (m, mm, a) in [
        ("lut", Some("l2"), 0.90),
        ("lut", Some("l1"), 0.80),
        ("ptq", None, 0.95),
    ] {
        for hw in ["lut", "int8"] {
            for b in [1u64, 16] {
                method.push(m);
                metric.push(mm);
                hw_label.push(hw);
                p_hw_metric.push(if hw == "lut" { mm.or(Some("l2")) } else { None });
                hw_batch.push(b);
                acc.push(a);
                // LUT design: 1 op/J at batch 1, 8 at batch 16; int8: 2 and 4.
                opj.push(match (hw, b) {
                    ("lut", 1) => 1.0,
                    ("lut", _) => 8.0,
                    (_, 1) => 2.0,
                    _ => 4.0,
                });
            }
        }
    }
    let df = df![
        "method" => method,
        "p_method_metric" => metric,
        "hw_label" => hw_label,
        "hw_batch" => hw_batch,
        "p_hw_metric" => p_hw_metric,
        "accuracy" => acc,
        "ops_per_joule" => opj,
    ]
    .unwrap();
    aggregate(&df).unwrap()
}

#[test]
fn hw_batch_is_a_key_and_filters_as_an_integer() {
    let t = priced_table();
    assert!(t.key_index("hw_batch").is_some(), "a key, not a metric");
    assert!(t.metric_index("hw_batch").is_none());
    let eval = |check: &str| evaluate(&yaml(check), &t, &Filter::new());
    let v = eval(
        "{kind: ratio, metric: ops_per_joule, numerator: {hw_label: lut, hw_batch: 1}, denominator: {hw_label: int8, hw_batch: 1}, min: 0.4, max: 0.6}",
    );
    assert_eq!(v.holds, Some(true), "{}", v.ours);
    assert!(v.ours.starts_with("0.500×"), "{}", v.ours);
    let v = eval(
        "{kind: ratio, metric: ops_per_joule, numerator: {hw_label: lut, hw_batch: 16}, denominator: {hw_label: int8, hw_batch: 16}, min: 1.9, max: 2.1}",
    );
    assert_eq!(v.holds, Some(true), "{}", v.ours);
    // Lists and the float spelling match the integer column too; an unpriced batch is not run.
    let v = eval(
        "{kind: range, metric: ops_per_joule, filter: {hw_label: lut, hw_batch: [16.0]}, min: 8, max: 8}",
    );
    assert_eq!(v.holds, Some(true), "{}", v.ours);
    let v = eval("{kind: range, metric: ops_per_joule, filter: {hw_batch: 4}, max: 8}");
    assert_eq!(v.holds, None, "{}", v.ours);
    assert!(v.ours.contains("hw_batch=4"), "{}", v.ours);
}

#[test]
fn model_side_claims_count_each_experiment_once() {
    // 3 experiments × 2 designs × 2 batches = 12 configurations of the table, but accuracy
    // is one number per experiment.
    let t = priced_table();
    assert_eq!(t.rows.len(), 12);
    let eval = |check: &str| evaluate(&yaml(check), &t, &Filter::new());
    let v = eval("{kind: range, metric: accuracy, filter: {method: lut}, min: 0.84, max: 0.86}");
    assert_eq!(v.holds, Some(true), "{}", v.ours);
    assert!(v.ours.contains("over 2 configurations"), "{}", v.ours);
    let v = eval("{kind: range, metric: accuracy, filter: {method: ptq}, min: 0.95, max: 0.95}");
    assert_eq!(v.ours, "95.00 % (1 configuration)");
    // Orderings match settings on the model-side keys only: the LUT design's specialized
    // `p_hw_metric` (l2 vs l1) does not split the comparison.
    let v = eval(
        "{kind: ordering, metric: accuracy, by: p_method_metric, order: [l1, l2], direction: ascending}",
    );
    assert_eq!(v.holds, Some(true), "{}", v.ours);
    assert_eq!(v.ours, "metric=l1: 80.00 % ≤ metric=l2: 90.00 %");
    let v = eval(
        "{kind: trend, metric: accuracy, along: p_method_metric, direction: increasing, filter: {method: lut}}",
    );
    assert!(!v.ours.contains("matched on"), "{}", v.ours);
    // A hardware metric still sees every design and batch.
    let v =
        eval("{kind: range, metric: ops_per_joule, filter: {method: lut}, aggregate: max, max: 8}");
    assert!(v.ours.contains("over 8 configurations"), "{}", v.ours);
}

#[test]
fn scope_keeps_other_papers_out() {
    // Paper q's row (drop 9.0, 100 op/J) would break these if it counted.
    let v = run(
        "{kind: range, metric: accuracy_drop, filter: {method: lut}, aggregate: max, max: 2.0}",
    );
    assert_eq!(v.holds, Some(true), "{}", v.ours);
}

#[test]
fn summary_line() {
    let s = ClaimsSummary {
        holds: 9,
        fails: 1,
        not_run: 1,
    };
    assert_eq!(
        s.to_string(),
        "9 of 11 claims hold (1 does not hold, 1 not run)"
    );
    let s = ClaimsSummary {
        holds: 1,
        fails: 0,
        not_run: 0,
    };
    assert_eq!(s.to_string(), "1 of 1 claim holds");
    assert_eq!(
        ClaimsSummary::default().to_string(),
        "no paper claims checked"
    );
}

#[test]
fn schema_rejects_unknown_fields_and_bad_checks() {
    let dir = tempfile::tempdir().unwrap();
    let good = "schema_version: 1\npaper: x\ncitation: {title: T, venue: V}\nclaims:\n  - id: a\n    claim: c\n    source: s\n    check: {kind: range, metric: accuracy, max: 1}\n";
    let path = dir.path().join("x.yaml");
    std::fs::write(&path, good).unwrap();
    load_reference(&path).unwrap();

    let cases = [
        (good.replace("max: 1}", "max: 1, maxx: 2}"), "maxx"),
        (good.replace("source: s", "source: s\n    extra: 1"), "extra"),
        (good.replace("max: 1}", "}"), "min"),
        (good.replace("kind: range", "kind: between"), "between"),
        (good.replace("schema_version: 1", "schema_version: 2"), "schema_version"),
        (good.replace("paper: x", "paper: y"), "file name"),
        (good.replace("claims:\n", "claims:\n  - id: a\n    claim: c\n    source: s\n    check: {kind: range, metric: accuracy, max: 1}\n"), "twice"),
    ];
    for (text, needle) in cases {
        std::fs::write(&path, &text).unwrap();
        let err = load_reference(&path).unwrap_err().to_string();
        assert!(err.contains(needle), "expected `{needle}` in: {err}");
    }
}

#[test]
fn shipped_reference_files_parse() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../suites/references");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml") {
            let file = load_reference(&path).unwrap_or_else(|e| panic!("{e}"));
            assert!(!file.claims.is_empty());
            n += 1;
        }
    }
    assert!(n >= 1);
}
