//! Which models run which methods: a model entry's `methods:` and a method entry's `models:`
//! restrict the (model, method) pairs that become experiments (the survey runs HE only on an
//! MLP, and a distillation student only with the distillation methods). Bad lists are refused
//! with file:line:col.

mod common;

use common::catalog;
use compbench_suite::{Mode, parse};

const SUITE: &str = "\
schema_version: 1
name: pairs
models:
  - { id: mlp, label: big }
  - id: mlp
    label: small
    params: { hidden: 16 }
    methods: [identity, w8]
datasets: [synthetic]
methods:
  - { id: identity }
  - { id: ptq, label: w8, params: { w_bits: [8, 4] } }
  - { id: ptq, label: only-big, models: [big] }
seeds: [0, 1]
";

fn errors(src: &str) -> Vec<String> {
    match parse("p.yaml", src, &catalog()) {
        Ok(_) => Vec::new(),
        Err(e) => e.0.iter().map(|d| d.to_string()).collect(),
    }
}

#[test]
fn lists_on_either_side_leave_pairs_out() {
    let s = parse("p.yaml", SUITE, &catalog()).unwrap();
    let xs = s.experiments(Mode::Full, None);
    let pairs: Vec<(String, String)> = xs
        .iter()
        .filter(|x| x.seed == 0)
        .map(|x| (x.model.label.clone(), x.method.label.clone()))
        .collect();
    let want = [
        ("big", "identity"),
        ("big", "w8"),
        ("big", "w8"),
        ("big", "only-big"),
        ("small", "identity"),
        ("small", "w8"),
        ("small", "w8"),
    ];
    let want: Vec<(String, String)> = want
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    assert_eq!(pairs, want);
    assert_eq!(xs.len(), 14, "7 pairs × 2 seeds");
    // Indices stay dense when pairs are skipped.
    assert!(xs.iter().enumerate().all(|(i, x)| x.index == i));
}

#[test]
fn bad_lists_name_file_line_col() {
    let cases: Vec<(String, Vec<&str>)> = vec![
        (
            SUITE.replace("methods: [identity, w8]", "methods: [identity, w4]"),
            vec![
                "p.yaml:8:25: models[1].methods[1]: no entry labelled `w4` in methods (labels are: identity, w8, only-big)",
            ],
        ),
        (
            SUITE.replace("models: [big]", "models: [huge]"),
            vec![
                "p.yaml:13:42: methods[2].models[0]: no entry labelled `huge` in models (labels are: big, small)",
            ],
        ),
        (
            SUITE.replace("methods: [identity, w8]", "methods: []"),
            vec![
                "p.yaml:8:14: models[1].methods: empty list: omit `methods` to pair the entry with every one",
            ],
        ),
        (
            SUITE.replace("methods: [identity, w8]", "methods: [w8, w8]"),
            vec!["p.yaml:8:19: models[1].methods[1]: duplicate label `w8`"],
        ),
        (
            SUITE.replace("models: [big]", "models: [small]"),
            vec![
                "p.yaml:13:41: methods[2]: method `only-big` is paired with no model: its `models:` and the models' `methods:` lists leave every one out",
            ],
        ),
        (
            SUITE.replace(
                "{ id: mlp, label: big }",
                "{ id: mlp, label: big, models: [w8] }",
            ),
            vec![
                "p.yaml:4:36: models[0].models: only method entries take `models:` (the model labels the method runs on); this is a models entry",
            ],
        ),
        (
            SUITE.replace("{ id: identity }", "{ id: identity, methods: [w8] }"),
            vec![
                "p.yaml:11:30: methods[0].methods: only model entries take `methods:` (the method labels the model runs); this is a methods entry",
            ],
        ),
    ];
    let wrong: Vec<String> = cases
        .iter()
        .filter_map(|(src, want)| {
            let got = errors(src);
            (got != *want).then(|| format!("got  {got:?}\nwant {want:?}"))
        })
        .collect();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
