//! DSE: YAML specs, grid and random sweeps, Pareto front, throughput.

use std::time::Instant;

use compbench_core::Params;
use compbench_hwmodels::dse::{DsePoint, DseSpec, pareto_front, run_dse};
use compbench_hwmodels::workloads;

/// The spec's model from the crate's list (the CLI resolves it through the registry).
fn sweep(
    spec: &DseSpec,
    w: &compbench_core::Workload,
) -> Result<compbench_hwmodels::DseResult, compbench_hwmodels::DseError> {
    let model = compbench_hwmodels::all()
        .iter()
        .find(|m| m.id() == spec.hwmodel)
        .expect("a built-in model");
    run_dse(*model, spec, w)
}

#[test]
fn grid_spec_parses_and_sweeps() {
    let spec = DseSpec::from_yaml(
        "hwmodel: systolic\nworkload: cnn\nfixed: {node_nm: 45}\ngrid:\n  rows: [8, 16, 32]\n  cols: [8, 32]\n  dataflow: [os, ws]\n",
    )
    .unwrap();
    assert_eq!(spec.len(), 12);
    let w = spec.workload().unwrap();
    let r = sweep(&spec, &w).unwrap();
    assert_eq!(r.points.len(), 12);
    assert_eq!(r.axes, vec!["cols", "dataflow", "rows"]);
    assert!(!r.pareto.is_empty() && r.pareto.len() <= 12);
    // No point on the front is dominated by any point.
    for &i in &r.pareto {
        let p = &r.points[i];
        assert!(!r.points.iter().any(|q| q.latency_s < p.latency_s
            && q.energy_pj <= p.energy_pj
            && q.area_um2 <= p.area_um2));
    }
    let table = r.table();
    assert!(table.contains("latency_us") && table.lines().count() >= 3 + r.pareto.len());
}

#[test]
fn inline_gemms_and_random_samples() {
    let yaml = "hwmodel: lut\ngemms:\n  - {name: a, m: 49, k: 64, n: 192, lut: true}\n  - {m: 49, k: 16, n: 49, repeats: 4}\nrandom:\n  samples: 200\n  seed: 7\n  ranges:\n    v: [2, 4, 8]\n    c: {min: 4, max: 64, log: true}\n    freq_mhz: {min: 200, max: 1500}\n";
    let spec = DseSpec::from_yaml(yaml).unwrap();
    let w = spec.workload().unwrap();
    assert_eq!(w.layers.len(), 2);
    let a = sweep(&spec, &w).unwrap();
    let b = sweep(&spec, &w).unwrap();
    assert_eq!(a.points, b.points, "same seed, same samples");
    assert_eq!(a.points.len(), 200);
    for p in &a.points {
        let c = match &p.values[0] {
            compbench_core::Value::Int(c) => *c,
            v => panic!("c sampled as {v:?}"),
        };
        assert!((4..=64).contains(&c));
    }
}

#[test]
fn bad_specs_are_refused_with_the_allowed_values() {
    #[rustfmt::skip]
    let cases: &[(&str, &str)] = &[
        ("hwmodel: systolic\nworkload: cnn\ngrid: {rows: [8]}\ncolor: red\n", "color"),
        ("hwmodel: systolic\nworkload: resnet\ngrid: {rows: [8]}\n", "mlp, cnn, vit"),
        ("hwmodel: systolic\nworkload: cnn\ngrid: {speed: [8]}\n", "allowed: rows, cols"),
        ("hwmodel: systolic\nworkload: cnn\ngrid: {dataflow: [rs]}\n", "os, ws, is"),
        ("hwmodel: systolic\nworkload: cnn\ngrid: {rows: []}\n", "no values"),
        ("hwmodel: systolic\nworkload: cnn\n", "missing `grid` or `random`"),
        ("hwmodel: systolic\ngrid: {rows: [8]}\n", "missing `workload`"),
    ];
    for (yaml, needle) in cases {
        let err = DseSpec::from_yaml(yaml)
            .and_then(|s| {
                let w = s.workload()?;
                sweep(&s, &w)
            })
            .err()
            .unwrap_or_else(|| panic!("accepted: {yaml}"))
            .to_string();
        assert!(err.contains(needle), "{yaml}: {err}");
    }
}

#[test]
fn pareto_front_on_hand_made_points() {
    let p = |l: f64, e: f64, a: f64| DsePoint {
        values: vec![],
        cycles: 0.0,
        latency_s: l,
        energy_pj: e,
        power_w: 0.0,
        area_um2: a,
        utilization: 0.0,
        accuracy: None,
    };
    let pts = vec![
        p(1.0, 5.0, 5.0),
        p(2.0, 2.0, 5.0),
        p(2.0, 3.0, 5.0),
        p(3.0, 1.0, 1.0),
        p(4.0, 1.0, 1.0),
        p(1.0, 5.0, 5.0),
    ];
    assert_eq!(pareto_front(&pts), vec![0, 1, 3]);
}

/// 10^5 designs over the whole CNN in one sweep (its speed is `compbench bench hwmodels`'s).
#[test]
fn hundred_thousand_designs_in_one_sweep() {
    let spec = DseSpec::from_yaml(
        "hwmodel: systolic\nworkload: cnn\nrandom:\n  samples: 100000\n  seed: 1\n  ranges:\n    rows: {min: 2, max: 256, log: true}\n    cols: {min: 2, max: 256, log: true}\n    dataflow: [os, ws, is]\n    ifmap_kb: {min: 4, max: 512, log: true}\n    dram_gbps: {min: 1, max: 100}\n",
    )
    .unwrap();
    let w = spec.workload().unwrap();
    let t = Instant::now();
    let r = sweep(&spec, &w).unwrap();
    let s = t.elapsed().as_secs_f64();
    eprintln!(
        "DSE: {} designs × {} layers in {s:.2} s, front {}",
        r.points.len(),
        w.layers.len(),
        r.pareto.len()
    );
    assert_eq!(r.points.len(), 100_000);
}

#[test]
fn every_model_builds_with_defaults_and_prices_every_workload() {
    for model in compbench_hwmodels::all() {
        let d = model.build(&Params::defaults(model.params())).unwrap();
        if d.prices_he() {
            continue; // ciphertext work only: plaintext workloads are not applicable (tests/he.rs)
        }
        for name in workloads::BUILTIN_NAMES {
            let w = workloads::builtin(name).unwrap();
            let r = d.eval(&w);
            assert!(
                r.latency_s > 0.0 && r.energy_pj > 0.0 && r.area_um2 > 0.0,
                "{} {name}",
                model.id()
            );
            assert!(
                (r.energy_breakdown.total() - r.energy_pj).abs() <= 1e-9 * r.energy_pj,
                "{} {name}",
                model.id()
            );
        }
    }
}

#[test]
fn a_model_other_than_the_specs_is_refused() {
    let spec = DseSpec::from_yaml("hwmodel: systolic\nworkload: cnn\ngrid: {rows: [8]}\n").unwrap();
    let w = spec.workload().unwrap();
    let err = run_dse(&compbench_hwmodels::LUT, &spec, &w)
        .unwrap_err()
        .to_string();
    assert!(err.contains("`systolic`") && err.contains("`lut`"), "{err}");
}
