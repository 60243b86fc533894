//! The Python example (plugins/weight-sharing: k-means weight sharing, numpy only) through a
//! suite, end to end: discovered by the registry, validated, run by the runner, priced on
//! every hardware model, cached on the second run. Skipped with a message when python3 or
//! numpy is missing, except under CI=true, where it must run.

use std::path::{Path, PathBuf};

use compbench_runner::{RunOptions, Silent};
use compbench_suite::Mode;
use polars::prelude::*;

fn python_with_numpy() -> bool {
    std::process::Command::new("python3")
        .args(["-c", "import numpy"])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn plugins_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../plugins")
}

const SUITE: &str = "schema_version: 1
name: ws
models:
  - id: mlp
    params: { epochs: 1 }
datasets: [synthetic]
methods:
  - id: identity
  - id: weight-sharing
    params: { bits: 4 }
  - id: weight-sharing
    label: bits-3
    params: { bits: 3, iterations: 20 }
hwmodels:
  - id: systolic
  - id: systolic
    label: systolic-fp16
    params: { precision: fp16 }
  - id: lut
  - id: block-sparse
  - id: gpu-roofline
seeds: [0]
quick:
  train_subset: 512
  test_subset: 200
";

fn strs(df: &DataFrame, name: &str) -> Vec<String> {
    df.column(name)
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .map(|s| s.unwrap_or("").to_string())
        .collect()
}

fn f64s(df: &DataFrame, name: &str) -> Vec<f64> {
    df.column(name)
        .unwrap()
        .f64()
        .unwrap()
        .iter()
        .map(|x| x.unwrap_or(f64::NAN))
        .collect()
}

#[test]
fn weight_sharing_example_runs_through_a_suite_and_saves_memory_energy_everywhere() {
    if !python_with_numpy() {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("CI=true but python3 with numpy is missing: install python3-numpy");
        }
        eprintln!("SKIPPED: python3 with numpy not found (apt-get install python3-numpy)");
        return;
    }
    // The registry reads the plugin directories once per process; this file has one test.
    // SAFETY: set before any thread of this test process reads the environment.
    unsafe { std::env::set_var(compbench_external::PLUGINS_ENV, plugins_dir()) };
    let catalog = compbench_registry::catalog();
    let src = SUITE.to_string();
    let suite = compbench_suite::parse("ws.yaml", &src, &catalog).unwrap();

    // Parameters are validated against the manifest's ranges before anything runs.
    let bad = compbench_suite::parse("ws.yaml", &src.replace("bits: 4", "bits: 9"), &catalog)
        .unwrap_err()
        .to_string();
    assert!(bad.contains("ws.yaml:10:") && bad.contains("bits"), "{bad}");

    let dir = tempfile::tempdir().unwrap();
    let opts = RunOptions {
        settings: compbench_runner::plan::RunSettings {
            mode: Mode::Quick,
            seed_override: None,
            shard: None,
        },
        out_dir: dir.path().join("out"),
        jobs: 1,
        data_dirs: Vec::new(),
        cache_dir: dir.path().join("cache"),
    };
    let first = compbench_runner::run(&suite, &opts, &Silent).unwrap();
    assert!(first.failures.is_empty(), "{:?}", first.failures);
    assert_eq!((first.experiments, first.ran), (3, 3));

    let df = compbench_runner::table::read(&opts.out_dir).unwrap();
    let (labels, hw) = (strs(&df, "label"), strs(&df, "hw_label"));
    let (energy, bits, acc) = (
        f64s(&df, "energy_pj"),
        f64s(&df, "bits_per_weight"),
        f64s(&df, "accuracy"),
    );
    let row = |method: &str, h: &str| {
        (0..df.height())
            .find(|&i| labels[i] == method && hw[i] == h)
            .unwrap_or_else(|| panic!("no row {method} × {h}"))
    };
    let hw_labels = [
        "systolic",
        "systolic-fp16",
        "lut",
        "block-sparse",
        "gpu-roofline",
    ];
    for h in hw_labels {
        let (f, s) = (row("identity", h), row("weight-sharing", h));
        eprintln!(
            "{h}: energy weight-sharing / float = {:.3}",
            energy[s] / energy[f]
        );
        assert!(
            energy[s] < energy[f],
            "{h}: weight sharing {} pJ !< float {} pJ",
            energy[s],
            energy[f]
        );
    }
    // bits per weight from the kernels: 4-bit indices plus 16 f32 values per layer.
    let s = row("weight-sharing", "systolic");
    assert!(bits[s] > 4.0 && bits[s] < 4.1, "{}", bits[s]);
    assert_eq!(bits[row("identity", "systolic")], 32.0);
    assert!(bits[row("bits-3", "systolic")] < bits[s]);
    // Accuracy is measured on the shared weights (4 bits lose little on this MLP).
    let f = row("identity", "systolic");
    assert!(acc[s] > acc[f] - 0.1, "{} vs {}", acc[s], acc[f]);

    // A second run finds everything in the cache (resume).
    let second = compbench_runner::run(&suite, &opts, &Silent).unwrap();
    assert_eq!((second.ran, second.cached), (0, 3));
}
