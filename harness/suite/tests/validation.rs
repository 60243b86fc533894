//! Every validation error kind: a table of bad suites, each with the message and location
//! it must produce.

mod common;

use common::{GOOD, catalog};
use compbench_suite::{Mode, parse};

/// Replace `from` (which must occur in [`GOOD`]) by `to`.
fn edit(from: &str, to: &str) -> String {
    assert!(GOOD.contains(from), "test bug: `{from}` not in GOOD");
    GOOD.replacen(from, to, 1)
}

#[test]
fn good_suite_is_valid() {
    let s = parse("good.yaml", GOOD, &catalog()).unwrap();
    assert_eq!(s.name, "test");
    assert_eq!(s.methods[1].full.len(), 6);
}

#[test]
fn every_error_kind_names_location_and_field() {
    // (suite text, expected diagnostics as printed)
    let cases: Vec<(String, Vec<&str>)> = vec![
        // YAML syntax
        ("name: [unclosed\n".into(), vec!["t.yaml:1:7: name: expected string scalar"]),
        ("".into(), vec!["t.yaml:1:1: empty suite (expected a mapping with schema_version, name, models, ...)"]),
        ("- 1\n".into(), vec!["t.yaml:1:1: expected a mapping"]),
        // unknown keys
        (edit("seeds: [0, 1]\n", "seeds: [0, 1]\nseed: 3\n"), vec!["t.yaml:19:1: seed: unknown field `seed`, expected one of schema_version, name, paper, description, models, datasets, methods, teachers, hwmodels, hw_batch, seeds, metrics, quick"]),
        (edit("  - id: identity\n", "  - id: identity\n    parms: {}\n"), vec!["t.yaml:9:5: methods[0].parms: unknown field `parms`, expected one of id, label, params, zip, teacher, methods, models"]),
        (edit("  test_subset: 100\n", "  test_subset: 100\n  epochs: 1\n"), vec!["t.yaml:22:3: quick.epochs: unknown field `epochs`, expected one of seeds, hw_batch, test_subset, train_subset, models, methods, teachers, hwmodels"]),
        // missing keys
        (GOOD.replace("datasets: [synthetic]\n", ""), vec!["t.yaml:1:1: missing field `datasets`"]),
        (edit("  - id: identity\n", "  - label: x\n"), vec!["t.yaml:8:5: methods[0]: missing field `id`"]),
        // wrong types
        (edit("seeds: [0, 1]", "seeds: 0"), vec!["t.yaml:18:8: seeds: expected a list"]),
        (edit("seeds: [0, 1]", "seeds: [0, x]"), vec!["t.yaml:18:12: seeds[1]: invalid i64"]),
        (edit("name: test", "name: [a]"), vec!["t.yaml:2:7: name: expected string scalar"]),
        (edit("hidden: 16", "hidden: sixteen"), vec!["t.yaml:5:23: models[0].params.hidden: parameter `hidden`: expected an integer in [1, 4096], found string `sixteen` (allowed: an integer in [1, 4096])"]),
        (edit("hidden: 16", "hidden: {a: 1}"), vec!["t.yaml:5:23: models[0].params.hidden: invalid type: map, expected a number, string or bool, or a list of them"]),
        (edit("hidden: 16", "hidden: ~"), vec!["t.yaml:5:23: models[0].params.hidden: expected a value, found null"]),
        (edit("w_bits: [8, 4, 2]", "w_bits: [8, [4], 2]"), vec!["t.yaml:11:19: methods[1].params.w_bits[1]: invalid type: sequence, expected a number, string or bool (lists cannot nest)"]),
        (edit("schema_version: 1", "schema_version: 2"), vec!["t.yaml:1:17: schema_version: unsupported schema_version 2 (this compbench reads 1)"]),
        // out of range
        (edit("w_bits: [8, 4, 2]", "w_bits: [8, 40, 2]"), vec!["t.yaml:11:19: methods[1].params.w_bits[1]: parameter `w_bits`: 40 is out of range (allowed: an integer in [1, 16])"]),
        (edit("calib: [minmax, mse]", "calib: [minmax, knn]"), vec!["t.yaml:13:43: methods[1].zip[0].calib[1]: parameter `calib`: unknown value `knn` (allowed: one of minmax, mse)"]),
        (edit("seeds: [0, 1]", "seeds: [0, -1]"), vec!["t.yaml:18:12: seeds[1]: seed -1 is out of range (allowed: an integer in [0, 9223372036854775807])"]),
        (edit("test_subset: 100", "test_subset: 0"), vec!["t.yaml:21:16: quick.test_subset: 0 is out of range (allowed: an integer ≥ 1)"]),
        // unknown ids
        (edit("  - id: identity", "  - id: idnetity"), vec!["t.yaml:8:9: methods[0].id: unknown method `idnetity` (valid ids are: identity, ptq)"]),
        (edit("  - id: mlp", "  - id: resnet"), vec![
            "t.yaml:4:9: models[0].id: unknown model `resnet` (valid ids are: mlp)",
            "t.yaml:22:13: quick.models.mlp: no entry labelled `mlp` in models (labels are: resnet)",
        ]),
        (edit("  - id: systolic", "  - id: tpu"), vec!["t.yaml:15:9: hwmodels[0].id: unknown hardware model `tpu` (valid ids are: systolic)"]),
        (edit("datasets: [synthetic]", "datasets: [mnist]"), vec!["t.yaml:6:12: datasets[0]: unknown dataset `mnist` (valid ids are: synthetic, fashion-mnist)"]),
        (edit("seeds: [0, 1]\n", "seeds: [0, 1]\nmetrics: [acc]\n"), vec!["t.yaml:19:11: metrics[0]: unknown metric `acc` (valid: accuracy, baseline_accuracy, accuracy_drop, measured_latency_s, cycles, latency_s, energy_pj, power_w, area_um2, utilization, ops_per_joule, ops_per_s_per_mm2, bits_per_weight, sparsity, train_s, or method_<name>)"]),
        // unknown params
        (edit("hidden: 16", "width: 16"), vec!["t.yaml:5:15: models[0].params.width: unknown parameter `width` (allowed: hidden, epochs)"]),
        (edit("  - id: identity\n", "  - id: identity\n    params: { bits: 8 }\n"), vec!["t.yaml:9:15: methods[0].params.bits: unknown parameter `bits` (allowed: none: this takes no parameters)"]),
        (edit("methods: { ptq: { w_bits: 8 } }", "methods: { ptq: { wbits: 8 } }"), vec!["t.yaml:23:21: quick.methods.ptq.wbits: unknown parameter `wbits` (allowed: w_bits, a_bits, calib, per_channel)"]),
        // empty grids and lists
        (edit("w_bits: [8, 4, 2]", "w_bits: []"), vec!["t.yaml:11:15: methods[1].params.w_bits: empty grid: give at least one value"]),
        (edit("datasets: [synthetic]", "datasets: []"), vec!["t.yaml:6:11: datasets: empty list: name at least one dataset"]),
        (edit("seeds: [0, 1]", "seeds: []"), vec!["t.yaml:18:8: seeds: empty list: give at least one seed"]),
        (GOOD.replace("hwmodels:\n  - id: systolic\n    label: int8-systolic\n    params: { rows: [8, 16] }\n", "hwmodels: []\n"), vec!["t.yaml:14:11: hwmodels: empty list: omit `hwmodels` to price no hardware"]),
        (edit("    zip:\n      - { a_bits: [8, 4], calib: [minmax, mse] }\n", "    zip: []\n"), vec!["t.yaml:12:10: methods[1].zip: empty list: give at least one group or omit `zip`"]),
        // zip shape
        (edit("calib: [minmax, mse]", "calib: [minmax]"), vec!["t.yaml:13:34: methods[1].zip[0].calib: zip lists differ in length: `calib` has 1 values, `a_bits` has 2"]),
        (edit("calib: [minmax, mse]", "calib: mse"), vec!["t.yaml:13:34: methods[1].zip[0].calib: zip values must be lists (one per point); put fixed values in `params`"]),
        // duplicates
        (edit("  - id: identity\n", "  - id: identity\n  - id: identity\n"), vec!["t.yaml:9:9: methods[1].id: duplicate label `identity` in methods: give one of the entries a distinct `label:`"]),
        (edit("datasets: [synthetic]", "datasets: [synthetic, synthetic]"), vec!["t.yaml:6:23: datasets[1]: duplicate dataset `synthetic`"]),
        (edit("seeds: [0, 1]", "seeds: [1, 1]"), vec!["t.yaml:18:12: seeds[1]: duplicate seed 1"]),
        (edit("w_bits: [8, 4, 2]", "w_bits: [8, 4, 8]"), vec!["t.yaml:11:22: methods[1].params.w_bits[2]: duplicate grid value `8`"]),
        (edit("{ a_bits: [8, 4],", "{ w_bits: [8, 4],"), vec!["t.yaml:13:11: methods[1].zip[0].w_bits: parameter `w_bits` is given twice (in `params` and/or `zip`)"]),
        (edit("params: { hidden: 16, epochs: [1, 2] }", "params: { hidden: 16, hidden: 8 }"), vec!["t.yaml:5:27: models[0].params.hidden: duplicate mapping key: hidden"]),
        (edit("name: test", "name: ../etc"), vec!["t.yaml:2:7: name: `../etc` is not a valid name: use 1-64 letters, digits, `-`, `_`, `.` or `+`, starting with a letter or digit"]),
        // quick overrides naming things that do not exist
        (edit("models: { mlp: { epochs: 1 } }", "models: { cnn: { epochs: 1 } }"), vec!["t.yaml:22:13: quick.models.cnn: no entry labelled `cnn` in models (labels are: mlp)"]),
        // hw_batch: a positive integer or a list of them, ≤ 1 000 000, only with hwmodels
        (edit("seeds: [0, 1]\n", "seeds: [0, 1]\nhw_batch: 0\n"), vec!["t.yaml:19:11: hw_batch: batch 0 is out of range (allowed: an integer in [1, 1000000])"]),
        (edit("seeds: [0, 1]\n", "seeds: [0, 1]\nhw_batch: [1, -4]\n"), vec!["t.yaml:19:15: hw_batch[1]: batch -4 is out of range (allowed: an integer in [1, 1000000])"]),
        (edit("seeds: [0, 1]\n", "seeds: [0, 1]\nhw_batch: 1000001\n"), vec!["t.yaml:19:11: hw_batch: batch 1000001 is out of range (allowed: an integer in [1, 1000000])"]),
        (edit("seeds: [0, 1]\n", "seeds: [0, 1]\nhw_batch: 1.5\n"), vec!["t.yaml:19:11: hw_batch: batch `1.5` is not an integer (allowed: an integer in [1, 1000000])"]),
        (edit("seeds: [0, 1]\n", "seeds: [0, 1]\nhw_batch: [16, big]\n"), vec!["t.yaml:19:16: hw_batch[1]: batch `big` is not an integer (allowed: an integer in [1, 1000000])"]),
        (edit("seeds: [0, 1]\n", "seeds: [0, 1]\nhw_batch: []\n"), vec!["t.yaml:19:11: hw_batch: empty list: give at least one batch size (or omit `hw_batch` for batch 1)"]),
        (edit("seeds: [0, 1]\n", "seeds: [0, 1]\nhw_batch: [16, 16]\n"), vec!["t.yaml:19:16: hw_batch[1]: duplicate batch 16"]),
        (edit("seeds: [0, 1]\n", "seeds: [0, 1]\nhw_batch: [1, [2]]\n"), vec!["t.yaml:19:15: hw_batch[1]: invalid type: sequence, expected a number, string or bool (lists cannot nest)"]),
        (edit("  seeds: [0]\n", "  seeds: [0]\n  hw_batch: [0]\n"), vec!["t.yaml:21:14: quick.hw_batch[0]: batch 0 is out of range (allowed: an integer in [1, 1000000])"]),
        (GOOD.replace("hwmodels:\n  - id: systolic\n    label: int8-systolic\n    params: { rows: [8, 16] }\n", "hw_batch: [1, 16]\n"), vec!["t.yaml:14:11: hw_batch: the suite prices no hardware: add `hwmodels` or drop `hw_batch`"]),
        // cross-parameter checks (HwModel::build, Method::check)
        (edit("params: { rows: [8, 16] }", "params: { rows: [8, 1024], cols: 1024 }"), vec!["t.yaml:17:32: hwmodels[0].params.cols: parameter `cols`: rows × cols must be ≤ 65536"]),
        (edit("w_bits: [8, 4, 2]", "w_bits: [8, 4, 1]"), vec!["t.yaml:11:7: methods[1].params.w_bits: with model `mlp` (epochs=1,hidden=16): parameter `w_bits`: 1-bit weights need hidden ≥ 32"]),
    ];
    let cat = catalog();
    let mut failures = Vec::new();
    for (i, (src, expected)) in cases.iter().enumerate() {
        let got = match parse("t.yaml", src, &cat) {
            Ok(_) => vec!["<valid>".to_string()],
            Err(e) => e.iter().map(|d| d.to_string()).collect(),
        };
        let expected: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
        if got != expected {
            failures.push(format!(
                "case {i}:\n  expected: {expected:#?}\n  got:      {got:#?}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn hw_batch_parses_as_an_integer_or_a_list_and_defaults_to_one() {
    let cat = catalog();
    let s = parse("t.yaml", GOOD, &cat).unwrap();
    assert_eq!(s.hw_batch, [1]);
    assert_eq!(s.hw_batches(Mode::Full), [1]);
    assert_eq!(s.hw_batches(Mode::Quick), [1]);

    let src = edit("seeds: [0, 1]\n", "seeds: [0, 1]\nhw_batch: 16\n");
    let s = parse("t.yaml", &src, &cat).unwrap();
    assert_eq!(s.hw_batch, [16]);
    assert_eq!(
        s.hw_batches(Mode::Quick),
        [16],
        "quick inherits the suite's list"
    );

    let src = edit(
        "seeds: [0, 1]\n",
        "seeds: [0, 1]\nhw_batch: [1, 16, 1000000]\n",
    )
    .replace("  seeds: [0]\n", "  seeds: [0]\n  hw_batch: 4\n");
    let s = parse("t.yaml", &src, &cat).unwrap();
    assert_eq!(s.hw_batches(Mode::Full), [1, 16, 1_000_000]);
    assert_eq!(
        s.hw_batches(Mode::Quick),
        [4],
        "the quick block replaces the list"
    );
    // Batches do not multiply experiments (pricing is per row, not per run).
    assert_eq!(s.experiments(Mode::Full, None).len(), 2 * 2 * 7);
}

#[test]
fn all_problems_are_reported_not_just_the_first() {
    let src = edit("  - id: identity", "  - id: nope")
        .replace("datasets: [synthetic]", "datasets: [mnist]");
    let errs = parse("t.yaml", &src, &catalog()).unwrap_err();
    assert_eq!(errs.len(), 2, "{errs}");
}

#[test]
fn missing_file_and_non_utf8_are_errors_not_panics() {
    let cat = catalog();
    let e =
        compbench_suite::load(std::path::Path::new("/nonexistent/suite.yaml"), &cat).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("/nonexistent/suite.yaml:0:0: cannot read suite"),
        "{e}"
    );
    let dir = std::env::temp_dir().join(format!("suite-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join("bad.yaml");
    std::fs::write(&p, [0xff, 0xfe, 0x00]).unwrap();
    let e = compbench_suite::load(&p, &cat).unwrap_err();
    assert!(e.to_string().contains("not UTF-8"), "{e}");
}
