//! The teacher parameter group and the ViT's distillation token as a suite sees them, with the
//! real registry: DeiT's entries validate; a `kd_mode` outside soft/hard, a token on a model that
//! has none, and teacher parameters without a teacher fail validation with file:line:col.

const SUITE: &str = "\
schema_version: 1
name: deit
models:
  - { id: vit, label: vit, methods: [vit-alone, deit-soft] }
  - { id: vit, label: vit-token, params: { distill_token: true }, methods: [deit-hard] }
datasets: [fashion-mnist]
teachers:
  - { id: cnn, label: cnn-teacher }
methods:
  - { id: distill, label: vit-alone }
  - id: distill
    label: deit-soft
    teacher: cnn-teacher
    params: { kd_mode: soft, kd_temperature: 4, kd_lambda: 0.5 }
  - id: distill
    label: deit-hard
    teacher: cnn-teacher
    params: { kd_mode: hard, kd_lambda: 0.5 }
seeds: [0]
metrics: [accuracy]
";

fn errors(src: &str) -> Vec<String> {
    match compbench_suite::parse("deit.yaml", src, &compbench_registry::catalog()) {
        Ok(_) => Vec::new(),
        Err(e) => e.0.iter().map(|d| d.to_string()).collect(),
    }
}

#[test]
fn deit_entries_validate_and_expand_with_the_mode() {
    let s = compbench_suite::parse("deit.yaml", SUITE, &compbench_registry::catalog()).unwrap();
    let xs = s.experiments(compbench_suite::Mode::Full, None);
    let got: Vec<(String, String, Option<String>)> = xs
        .iter()
        .map(|e| {
            (
                e.model.label.clone(),
                e.method.label.clone(),
                e.method.params.get("kd_mode").map(|v| v.to_string()),
            )
        })
        .collect();
    let s = |x: &str| x.to_string();
    assert_eq!(
        got,
        vec![
            (s("vit"), s("vit-alone"), None),
            (s("vit"), s("deit-soft"), Some(s("soft"))),
            (s("vit-token"), s("deit-hard"), Some(s("hard"))),
        ]
    );
    assert!(xs[2].model.params.bool("distill_token"));
    assert!(!xs[0].model.params.bool("distill_token"));
}

#[test]
fn bad_mode_and_misplaced_knobs_name_file_line_col() {
    // Locations by hand: line 14 is deit-soft's params, 18 deit-hard's (values at column 24);
    // line 10 is vit-alone's entry, line 5 the vit-token model (keys at columns 48 and 44).
    let cases: Vec<(String, &str)> = vec![
        (
            SUITE.replace("kd_mode: hard", "kd_mode: argmax"),
            "deit.yaml:18:24: methods[2].params.kd_mode: parameter `kd_mode`: unknown value `argmax` (allowed: one of soft, hard)",
        ),
        (
            SUITE.replace("kd_mode: soft", "kd_mode: 1"),
            "deit.yaml:14:24: methods[1].params.kd_mode: parameter `kd_mode`: expected one of soft, hard, found integer `1` (allowed: one of soft, hard)",
        ),
        (
            // Teacher parameters exist only where a teacher is named.
            SUITE.replace(
                "{ id: distill, label: vit-alone }",
                "{ id: distill, label: vit-alone, params: { kd_mode: hard } }",
            ),
            "deit.yaml:10:48: methods[0].params.kd_mode: unknown parameter `kd_mode` (allowed: init, epochs, lr, hint_layer, guided_layer, hint_epochs)",
        ),
        (
            SUITE.replace("id: vit, label: vit-token", "id: cnn, label: vit-token"),
            "deit.yaml:5:44: models[1].params.distill_token: unknown parameter `distill_token` (allowed: conv1_channels, conv2_channels, fc_hidden, epochs, batch_size, lr, train_subset)",
        ),
        (
            SUITE.replace("distill_token: true", "distill_token: 2"),
            "deit.yaml:5:59: models[1].params.distill_token: parameter `distill_token`: expected true or false, found integer `2` (allowed: true or false)",
        ),
    ];
    let got: Vec<Vec<String>> = cases.iter().map(|(src, _)| errors(src)).collect();
    let want: Vec<Vec<String>> = cases.iter().map(|(_, w)| vec![w.to_string()]).collect();
    assert_eq!(got, want);
}
