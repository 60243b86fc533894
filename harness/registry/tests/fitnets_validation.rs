//! FitNets' layer names are checked at suite validation, against the real zoo through the
//! registry's catalog: an unknown hint or guided layer, a hint without a teacher, or a pair of
//! layers no regressor maps is refused with file:line:col, the field, and the allowed names.
//! The shipped suites/distill.yaml validates.

use compbench_suite::parse;

const SUITE: &str = "\
schema_version: 1
name: fit
models:
  - id: cnn
    label: cnn-small
    params: { conv1_channels: 8, conv2_channels: 16, fc_hidden: 32 }
datasets: [synthetic]
teachers:
  - id: cnn
    label: cnn-teacher
methods:
  - id: distill
    label: fitnets
    teacher: cnn-teacher
    params: { hint_layer: conv2.relu, hint_epochs: 1 }
seeds: [0]
";

fn errors(src: &str) -> Vec<String> {
    match parse("t.yaml", src, &compbench_registry::catalog()) {
        Ok(_) => Vec::new(),
        Err(e) => e.0.iter().map(|d| d.to_string()).collect(),
    }
}

const MODEL: &str = "with model `cnn-small` (batch_size=0,conv1_channels=8,conv2_channels=16,epochs=0,fc_hidden=32,lr=0,train_subset=0)";
const CNN_LAYERS: &str =
    "conv1, conv1.relu, conv1.pool, conv2, conv2.relu, conv2.pool, fc1, fc1.relu, fc2";

#[test]
fn a_valid_fitnets_entry_validates() {
    assert_eq!(errors(SUITE), Vec::<String>::new());
}

#[test]
fn unknown_hint_layer_fails_validation_with_file_line_col_and_the_layers() {
    let src = SUITE.replace("hint_layer: conv2.relu", "hint_layer: conv9");
    assert_eq!(
        errors(&src),
        vec![format!(
            "t.yaml:15:15: methods[0].params.hint_layer: {MODEL} and teacher `cnn-teacher`: \
             parameter `hint_layer`: the teacher (cnn) has no layer `conv9` (its layers: {CNN_LAYERS})"
        )]
    );
}

#[test]
fn unknown_guided_layer_and_unmappable_pairs_fail_validation() {
    let src = SUITE.replace(
        "hint_layer: conv2.relu,",
        "hint_layer: conv2.relu, guided_layer: block0,",
    );
    assert_eq!(
        errors(&src),
        vec![format!(
            "t.yaml:15:39: methods[0].params.guided_layer: {MODEL} and teacher `cnn-teacher`: \
             parameter `guided_layer`: the student (cnn) has no layer `block0` (its layers: {CNN_LAYERS})"
        )]
    );
    let src = SUITE.replace(
        "hint_layer: conv2.relu,",
        "hint_layer: conv1, guided_layer: conv2.pool,",
    );
    let e = errors(&src);
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].starts_with(&format!(
            "t.yaml:15:34: methods[0].params.guided_layer: {MODEL} and teacher `cnn-teacher`: \
             parameter `guided_layer`: the student's `conv2.pool` (7×7×16) cannot be regressed \
             onto the teacher's `conv1` (28×28×16)"
        )),
        "{}",
        e[0]
    );
}

#[test]
fn a_hint_without_a_teacher_fails_validation() {
    let src = SUITE
        .replace("    teacher: cnn-teacher\n", "")
        .replace("teachers:\n  - id: cnn\n    label: cnn-teacher\n", "");
    assert_eq!(
        errors(&src),
        vec![format!(
            "t.yaml:11:15: methods[0].params.hint_layer: {MODEL}: parameter `hint_layer`: \
             FitNets hints come from a teacher: name one with `teacher:` on this entry"
        )]
    );
    // A layer name that is not a name at all is refused by the parameter's own kind.
    let src = SUITE.replace("hint_layer: conv2.relu", "hint_layer: \"conv 2\"");
    let e = errors(&src);
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].starts_with(
            "t.yaml:15:27: methods[0].params.hint_layer: parameter `hint_layer`: `conv 2` is not a name"
        ),
        "{}",
        e[0]
    );
}

#[test]
fn the_distill_suite_validates() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../suites/distill.yaml");
    let src = std::fs::read_to_string(root).unwrap();
    let suite = parse("suites/distill.yaml", &src, &compbench_registry::catalog())
        .unwrap_or_else(|e| panic!("{e}"));
    let fitnets = suite
        .methods
        .iter()
        .find(|m| m.label == "fitnets")
        .expect("a fitnets entry");
    assert_eq!(fitnets.teacher.as_deref(), Some("cnn-teacher"));
    assert!(!fitnets.full[0].str("hint_layer").is_empty());
}
