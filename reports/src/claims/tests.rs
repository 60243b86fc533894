//! Rules and verdicts on small hand-made tables: holds, does not hold, inconclusive, not run.

use polars::prelude::{DataFrame, df};

use super::*;
use crate::results::aggregate;

fn yaml<T: serde::de::DeserializeOwned>(text: &str) -> T {
    serde_saphyr::from_str(text).unwrap()
}

const CTX: EvalContext = EvalContext {
    test_examples: Some(10_000),
};

/// Evaluates `check` (YAML) with `evidence` (YAML list) under `rule` (YAML) on `df`.
fn eval_on(df: &DataFrame, check: &str, evidence: &str, rule: &str) -> Evaluation {
    let t = aggregate(df).unwrap();
    let check: Check = yaml(check);
    let evidence: Vec<Evidence> = yaml(evidence);
    let rule: Rule = yaml(rule);
    evaluate(&check, &evidence, &rule, "p", &t, &Filter::new(), &CTX)
}

/// Six LUT configurations (one seed) and a ptq one; drops in pp.
fn drops() -> DataFrame {
    df![
        "method" => ["lut", "lut", "lut", "lut", "lut", "lut", "ptq"],
        "p_method_v" => [Some(4i64), Some(2), Some(8), Some(4), Some(4), Some(4), None],
        "p_method_c" => [Some(16i64), Some(16), Some(16), Some(8), Some(32), Some(16), None],
        "p_method_table_bits" => [Some(8i64), Some(8), Some(8), Some(8), Some(8), Some(16), None],
        "accuracy" => [0.89, 0.91, 0.87, 0.88, 0.90, 0.893, 0.91],
        "accuracy_drop" => [2.2, 0.6, 4.9, 3.6, 1.4, 1.9, 0.1],
    ]
    .unwrap()
}

#[test]
fn range_checks_every_configuration_and_one_outlier_fails_all() {
    // Mean of the five 8-bit-table drops is 2.54 pp (inside 3.1); v=8 (4.9) and c=8 (3.6) are
    // not. Every configuration is a piece; under `all` the outliers fail the claim.
    let e = eval_on(
        &drops(),
        "{kind: range, metric: accuracy_drop, filter: {method: lut, p_method_table_bits: 8}, max: 3.1}",
        "[]",
        "all",
    );
    assert_eq!(e.pieces.len(), 5, "{:?}", e.pieces);
    assert_eq!(e.verdict, Verdict::Fails, "{}", e.ours);
    let failing: Vec<&str> = e
        .pieces
        .iter()
        .filter(|p| p.verdict == Verdict::Fails)
        .map(|p| p.selection.as_str())
        .collect();
    assert_eq!(failing, ["v=8 c=16", "v=4 c=8"]);
    assert!(e.ours.contains("0.60 pp to 4.90 pp"), "{}", e.ours);
    assert!(e.ours.contains("3 hold, 2 do not hold"), "{}", e.ours);
    // `any`: one configuration in range is enough.
    let e = eval_on(
        &drops(),
        "{kind: range, metric: accuracy_drop, filter: {method: lut, p_method_table_bits: 8}, max: 3.1}",
        "[]",
        "any",
    );
    assert_eq!(e.verdict, Verdict::Holds);
}

#[test]
fn range_at_an_operating_point() {
    // At v=4, c=16 (the 8-bit-table point: 2.2 pp) the claim holds; the other pieces are
    // context, including the failing v=8.
    let check = "{kind: range, metric: accuracy_drop, filter: {method: lut, p_method_table_bits: 8}, max: 3.1}";
    let e = eval_on(
        &drops(),
        check,
        "[]",
        "{at: {p_method_v: 4, p_method_c: 16}}",
    );
    assert_eq!(e.verdict, Verdict::Holds, "{}", e.ours);
    assert_eq!(e.pieces.iter().filter(|p| p.decides).count(), 1);
    assert_eq!(e.ours, "2.20 pp");
    // An operating point that did not run: not run.
    let e = eval_on(&drops(), check, "[]", "{at: {p_method_v: 16}}");
    assert_eq!(e.verdict, Verdict::NotRun, "{}", e.ours);
    assert!(e.ours.contains("operating point"), "{}", e.ours);
}

#[test]
fn range_near_a_bound_is_inconclusive_with_a_min_effect() {
    // c=8 drops 3.6 pp against a 3.0 pp bound: outside by 0.6 pp, within one standard error at
    // 2 000 test images (≈ 0.73 pp at 88 %) → inconclusive; at 10 000 images (0.32 pp) → fails.
    let check = "{kind: range, metric: accuracy_drop, filter: {p_method_c: 8}, max: 3.0, min_effect: {standard_errors: 1}}";
    let t = aggregate(&drops()).unwrap();
    let c: Check = yaml(check);
    let small = EvalContext {
        test_examples: Some(2000),
    };
    let e = evaluate(&c, &[], &Rule::All, "p", &t, &Filter::new(), &small);
    assert_eq!(e.verdict, Verdict::Inconclusive, "{}", e.ours);
    assert!(e.noise.contains("2000 test images"), "{}", e.noise);
    let e = evaluate(&c, &[], &Rule::All, "p", &t, &Filter::new(), &CTX);
    assert_eq!(e.verdict, Verdict::Fails, "{}", e.ours);
    // Without a test-set size the standard error cannot be sized.
    let e = evaluate(
        &c,
        &[],
        &Rule::All,
        "p",
        &t,
        &Filter::new(),
        &EvalContext::default(),
    );
    assert_eq!(e.verdict, Verdict::NotRun, "{}", e.ours);
}

#[test]
fn missing_column_is_not_run() {
    let e = eval_on(
        &drops(),
        "{kind: range, metric: accuracy_drop, filter: {p_method_metric: l2}, max: 3.1}",
        "[]",
        "all",
    );
    assert_eq!(e.verdict, Verdict::NotRun);
    assert!(e.ours.contains("p_method_metric"), "{}", e.ours);
    let e = eval_on(
        &drops(),
        "{kind: range, metric: no_such_metric, max: 3.1}",
        "[]",
        "all",
    );
    assert_eq!(e.verdict, Verdict::NotRun);
}

/// L2 vs L1 drops with one or two seeds per configuration.
fn metrics_df(l2: &[f64], l1: &[f64]) -> DataFrame {
    let mut metric = Vec::new();
    let mut seed = Vec::new();
    let mut drop = Vec::new();
    for (name, xs) in [("l2", l2), ("l1", l1)] {
        for (i, x) in xs.iter().enumerate() {
            metric.push(name);
            seed.push(i as i64);
            drop.push(*x);
        }
    }
    df!["p_method_metric" => metric, "seed" => seed, "accuracy_drop" => drop].unwrap()
}

const L2_BEFORE_L1: &str = "{kind: ordering, metric: accuracy_drop, by: p_method_metric, order: [l2, l1], min_effect: 0.1}";

#[test]
fn ordering_tie_is_inconclusive() {
    let e = eval_on(&metrics_df(&[2.3], &[2.3]), L2_BEFORE_L1, "[]", "all");
    assert_eq!(e.verdict, Verdict::Inconclusive, "{}", e.ours);
    assert!(e.ours.contains(" ≈ "), "{}", e.ours);
    // Inside the minimum effect is a tie too.
    let e = eval_on(&metrics_df(&[2.3], &[2.35]), L2_BEFORE_L1, "[]", "all");
    assert_eq!(e.verdict, Verdict::Inconclusive, "{}", e.ours);
}

#[test]
fn ordering_one_seed_holds_and_fails_past_the_min_effect() {
    let e = eval_on(&metrics_df(&[2.2], &[2.6]), L2_BEFORE_L1, "[]", "all");
    assert_eq!(e.verdict, Verdict::Holds, "{}", e.ours);
    assert_eq!(
        e.ours,
        "metric=l2: 2.20 pp < metric=l1: 2.60 pp (min effect 0.10 pp)"
    );
    let e = eval_on(&metrics_df(&[2.6], &[2.2]), L2_BEFORE_L1, "[]", "all");
    assert_eq!(e.verdict, Verdict::Fails, "{}", e.ours);
}

#[test]
fn two_seeds_with_overlapping_cis_are_inconclusive() {
    // L2 2.21/2.44 vs L1 2.32/2.26 (the full LUT-DLA sample's CNN): the seeds overlap.
    let e = eval_on(
        &metrics_df(&[2.21, 2.44], &[2.32, 2.26]),
        L2_BEFORE_L1,
        "[]",
        "all",
    );
    assert_eq!(e.verdict, Verdict::Inconclusive, "{}", e.ours);
    // Far apart and tight: Welch's test passes.
    let e = eval_on(
        &metrics_df(&[2.20, 2.21], &[3.20, 3.22]),
        L2_BEFORE_L1,
        "[]",
        "all",
    );
    assert_eq!(e.verdict, Verdict::Holds, "{}", e.ours);
    // Means 1 pp apart but seeds that scatter more than that: not significant at df ≈ 2.
    let e = eval_on(
        &metrics_df(&[1.0, 3.0], &[2.0, 4.0]),
        L2_BEFORE_L1,
        "[]",
        "all",
    );
    assert_eq!(e.verdict, Verdict::Inconclusive, "{}", e.ours);
}

#[test]
fn trend_steps_need_the_min_effect_each() {
    // Stages 1→2→3: +0.6 pp then +0.25 pp. With a 0.3 pp minimum effect the second step is
    // inside the noise.
    let df = df![
        "p_method_stages" => [1i64, 2, 3],
        "accuracy" => [0.8860, 0.8920, 0.8945],
    ]
    .unwrap();
    let e = eval_on(
        &df,
        "{kind: trend, metric: accuracy, along: p_method_stages, direction: increasing, min_effect: 0.003}",
        "[]",
        "all",
    );
    assert_eq!(e.verdict, Verdict::Inconclusive, "{}", e.ours);
    assert!(
        e.ours.contains("stages=1: 88.60 % < stages=2"),
        "{}",
        e.ours
    );
    assert!(e.ours.contains(" ≈ stages=3"), "{}", e.ours);
    let e = eval_on(
        &df,
        "{kind: trend, metric: accuracy, along: p_method_stages, direction: decreasing, min_effect: 0.003}",
        "[]",
        "all",
    );
    assert_eq!(e.verdict, Verdict::Fails, "{}", e.ours);
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
    let check = |covary: &str| {
        eval_on(
            &df,
            &format!(
                "{{kind: trend, metric: accuracy, along: p_method_v, direction: decreasing, min_effect: 0.005{covary}}}"
            ),
            "[]",
            "all",
        )
    };
    let e = check(", covary: [p_method_v_conv]");
    assert_eq!(e.verdict, Verdict::Holds, "{}", e.ours);
    assert_eq!(
        e.ours,
        "v=2: 91.00 % > v=4: 89.00 % > v=8: 87.00 % (min effect 0.50 %)"
    );
    // Without `covary`, each v has its own v_conv: no setting ran every v.
    assert_eq!(check("").verdict, Verdict::NotRun);
}

#[test]
fn ordering_pieces_are_settings_and_compare_methods_with_covary() {
    let df = df![
        "model" => ["cnn", "cnn", "mlp", "mlp"],
        "method" => ["qat", "ptq", "qat", "ptq"],
        "label" => ["qat-w4a4", "ptq-w4a4", "qat-w4a4", "ptq-w4a4"],
        "p_method_scheme" => [Some("lsq"), None, Some("lsq"), None],
        "p_method_calibration" => [None, Some("mse"), None, Some("mse")],
        "accuracy_drop" => [0.4, 1.0, 0.2, 0.25],
    ]
    .unwrap();
    let check = |covary: &str| {
        eval_on(
            &df,
            &format!(
                "{{kind: ordering, metric: accuracy_drop, by: label, order: [qat-w4a4, ptq-w4a4], min_effect: 0.1{covary}}}"
            ),
            "[]",
            "all",
        )
    };
    let e = check(", covary: [method, p_method_*]");
    // One piece per model: cnn holds (0.6 pp), mlp is a tie within 0.1 pp.
    assert_eq!(e.pieces.len(), 2);
    assert_eq!(e.pieces[0].selection, "cnn");
    assert_eq!(e.pieces[0].verdict, Verdict::Holds);
    assert_eq!(e.pieces[1].verdict, Verdict::Inconclusive);
    assert_eq!(e.verdict, Verdict::Inconclusive, "{}", e.ours);
    assert_eq!(check("").verdict, Verdict::NotRun);
}

/// Two experiments priced on a LUT design and an int8 array at batch 1 and 16, plus the ptq
/// baseline (priced on int8 only).
fn priced() -> DataFrame {
    df![
        "model" => ["cnn", "cnn", "cnn", "cnn", "cnn", "cnn"],
        "method" => ["lut", "lut", "lut", "lut", "ptq", "ptq"],
        "p_method_c" => [Some(16i64), Some(16), Some(32), Some(32), None, None],
        "hw_label" => ["lut", "lut", "lut", "lut", "int8", "int8"],
        "hw_batch" => [1u64, 16, 1, 16, 1, 16],
        "ops_per_joule" => [1.0, 8.0, 0.5, 6.0, 2.0, 4.0],
    ]
    .unwrap()
}

#[test]
fn ratio_one_piece_per_numerator_configuration_and_batch() {
    let check = "{kind: ratio, metric: ops_per_joule, numerator: {hw_label: lut}, denominator: {hw_label: int8}, min: 1.4, max: 7.0}";
    let evidence = "[{filter: {hw_batch: 1}}, {filter: {hw_batch: 16}}]";
    let e = eval_on(&priced(), check, evidence, "all");
    let got: Vec<(String, Verdict)> = e
        .pieces
        .iter()
        .map(|p| (p.selection.clone(), p.verdict))
        .collect();
    assert_eq!(
        got,
        [
            ("hw_batch=1; c=16".to_string(), Verdict::Fails),
            ("hw_batch=1; c=32".to_string(), Verdict::Fails),
            ("hw_batch=16; c=16".to_string(), Verdict::Holds),
            ("hw_batch=16; c=32".to_string(), Verdict::Holds),
        ]
    );
    assert!(
        e.pieces[2].ours.starts_with("2.00×"),
        "{}",
        e.pieces[2].ours
    );
    assert_eq!(e.verdict, Verdict::Fails);
    // At the operating point c=16, batch 16: holds.
    let e = eval_on(
        &priced(),
        check,
        evidence,
        "{at: {p_method_c: 16, hw_batch: 16}}",
    );
    assert_eq!(e.verdict, Verdict::Holds, "{}", e.ours);
    // A denominator that matches both batches is refused, not averaged.
    let e = eval_on(&priced(), check, "[]", "all");
    assert_eq!(e.verdict, Verdict::NotRun, "{}", e.ours);
    assert!(
        e.pieces[0].ours.contains("pin it to one"),
        "{}",
        e.pieces[0].ours
    );
}

#[test]
fn ratio_across_two_columns() {
    // Encrypted latency (one column) against the plaintext model's measured latency (another).
    let rows = df![
        "label" => ["he", "plain"],
        "method_he_latency_s" => [Some(0.5), None],
        "measured_latency_s" => [Some(5.0e-5), Some(4.0e-5)],
    ]
    .unwrap();
    let check = "{kind: ratio, metric: method_he_latency_s, denominator_metric: measured_latency_s, numerator: {label: he}, denominator: {label: plain}, min: 1000}";
    let e = eval_on(&rows, check, "[]", "all");
    assert_eq!(e.verdict, Verdict::Holds, "{}", e.ours);
    assert!(
        e.pieces[0].ours.starts_with("1.25e4×") || e.pieces[0].ours.starts_with("12500×"),
        "{}",
        e.pieces[0].ours
    );
    // Without `denominator_metric` the plain row has no latency in `metric`: not run.
    let check = "{kind: ratio, metric: method_he_latency_s, numerator: {label: he}, denominator: {label: plain}, min: 1000}";
    assert_eq!(eval_on(&rows, check, "[]", "all").verdict, Verdict::NotRun);
    // A bound it misses fails.
    let check = "{kind: ratio, metric: method_he_latency_s, denominator_metric: measured_latency_s, numerator: {label: he}, denominator: {label: plain}, min: 20000}";
    assert_eq!(eval_on(&rows, check, "[]", "all").verdict, Verdict::Fails);
}

#[test]
fn rules_combine_verdicts() {
    use Verdict::*;
    assert_eq!(combine_all(&[Holds, Holds]), Holds);
    assert_eq!(combine_all(&[Holds, Inconclusive]), Inconclusive);
    assert_eq!(combine_all(&[Holds, Fails, Inconclusive]), Fails);
    assert_eq!(combine_all(&[Holds, NotRun]), Inconclusive);
    assert_eq!(combine_all(&[NotRun, NotRun]), NotRun);
    assert_eq!(combine_all(&[]), NotRun);
    assert_eq!(combine_any(&[Fails, Holds]), Holds);
    assert_eq!(combine_any(&[Fails, Inconclusive]), Inconclusive);
    assert_eq!(combine_any(&[Fails, NotRun]), Fails);
    assert_eq!(combine_any(&[NotRun]), NotRun);
}

#[test]
fn summary_counts_claims_and_expectations_apart() {
    let s = ClaimsSummary {
        claims: Counts {
            holds: 2,
            fails: 3,
            inconclusive: 0,
            not_run: 0,
        },
        expectations: Counts {
            holds: 6,
            fails: 0,
            inconclusive: 2,
            not_run: 0,
        },
    };
    assert_eq!(
        s.to_string(),
        "2 of 5 published claims hold at our scale (3 do not hold); 6 of 8 of our expectations hold (2 inconclusive)"
    );
    assert_eq!(
        ClaimsSummary::default().to_string(),
        "no paper claims checked"
    );
}

const GOOD: &str = "schema_version: 2
paper: x
citation: {title: T, venue: V}
claims:
  - id: a
    claim: c
    source: Abstract
    check: {kind: range, metric: accuracy, max: 1}
expectations:
  - id: b
    expectation: e
    reason: r
    check: {kind: trend, metric: accuracy, along: p_method_c, direction: increasing, min_effect: 0.01}
";

fn load_text(text: &str) -> Result<ReferenceFile, String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.yaml");
    std::fs::write(&path, text).unwrap();
    load_reference(&path).map_err(|e| e.to_string())
}

#[test]
fn validation_points_at_file_line_col() {
    let f = load_text(GOOD).unwrap();
    assert_eq!(f.claims().count(), 1);
    assert_eq!(f.expectations().count(), 1);
    // A claim without a source: the error names the entry's line and column.
    let err = load_text(&GOOD.replace("    source: Abstract\n", "")).unwrap_err();
    assert!(
        err.contains("x.yaml:5:5: `a`: a claim needs a `source`"),
        "{err}"
    );
    let err = load_text(&GOOD.replace("source: Abstract", "source: \"  \"")).unwrap_err();
    assert!(err.contains("x.yaml:5:5"), "{err}");
    // An expectation without a reason.
    let err = load_text(&GOOD.replace("    reason: r\n", "")).unwrap_err();
    assert!(
        err.contains("x.yaml:10:5: `b`: an expectation needs a `reason`"),
        "{err}"
    );
    // A trend without its minimum effect.
    let err = load_text(&GOOD.replace(", min_effect: 0.01", "")).unwrap_err();
    assert!(
        err.contains(":10:5:") && err.contains("min_effect"),
        "{err}"
    );
}

#[test]
fn schema_rejects_unknown_fields_and_bad_checks() {
    let cases = [
        (GOOD.replace("max: 1}", "max: 1, maxx: 2}"), "maxx"),
        (
            GOOD.replace("source: Abstract", "source: s\n    extra: 1"),
            "extra",
        ),
        (GOOD.replace("max: 1}", "}"), "min"),
        (GOOD.replace("kind: range", "kind: between"), "between"),
        (
            GOOD.replace("schema_version: 2", "schema_version: 3"),
            "schema_version",
        ),
        (GOOD.replace("paper: x", "paper: y"), "file name"),
        (GOOD.replace("id: b", "id: a"), "twice"),
        (
            GOOD.replace("reason: r", "reason: r\n    source: s"),
            "are for the paper's own claims",
        ),
        (
            GOOD.replace("max: 1}", "max: 1, aggregate: mean}"),
            "aggregate",
        ),
        (
            GOOD.replace("min_effect: 0.01", "min_effect: 0.01, tolerance: 0.1"),
            "tolerance",
        ),
        (
            GOOD.replace(
                "metric: accuracy, max: 1",
                "metric: cycles, max: 1, min_effect: {standard_errors: 1}",
            ),
            "plain number",
        ),
        (
            GOOD.replace(
                "    check: {kind: range",
                "    rule: {at: {}}\n    check: {kind: range",
            ),
            "operating point",
        ),
    ];
    for (text, needle) in cases {
        let err = load_text(&text).unwrap_err();
        assert!(err.contains(needle), "expected `{needle}` in: {err}");
    }
}

#[test]
fn schema_1_files_still_load_as_claims() {
    let v1 = "schema_version: 1\npaper: x\ncitation: {title: T, venue: V}\nclaims:\n  - id: a\n    claim: c\n    source: s\n    check: {kind: ordering, metric: accuracy, by: p_method_c, order: [8, 16], tolerance: 0.1}\n  - id: b\n    claim: c\n    source: s\n    check: {kind: range, metric: accuracy, max: 1, aggregate: mean}\n";
    let f = load_text(v1).unwrap();
    assert_eq!(f.schema_version, 1);
    assert_eq!(f.claims().count(), 2);
}

#[test]
fn shipped_reference_files_parse() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../suites/references");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml") {
            let file = load_reference(&path).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(
                file.schema_version,
                SCHEMA_VERSION,
                "{} is still in the deprecated schema 1",
                path.display()
            );
            assert!(file.entries.iter().any(|e| e.section == Section::Claim));
            n += 1;
        }
    }
    assert!(n >= 1);
}
