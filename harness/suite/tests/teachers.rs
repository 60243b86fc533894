//! Teachers: a method entry that names a `teachers:` entry distills from it. A teacher that
//! does not exist, a grid of teachers, or a teacher on a non-method entry is refused with
//! file:line:col; the teacher parameters are checked and swept like the method's own.

mod common;

use common::catalog;
use compbench_suite::{Mode, parse};

const SUITE: &str = "\
schema_version: 1
name: kd
models:
  - { id: mlp, label: student, params: { hidden: 16 } }
datasets: [synthetic]
methods:
  - { id: identity, label: alone }
  - id: identity
    label: kd
    teacher: wide
    params: { kd_temperature: [1, 4], kd_lambda: 0.5 }
teachers:
  - { id: mlp, label: wide, params: { hidden: 512 } }
seeds: [0]
quick:
  teachers: { wide: { epochs: 1 } }
";

fn errors(src: &str) -> Vec<String> {
    match parse("t.yaml", src, &catalog()) {
        Ok(_) => Vec::new(),
        Err(e) => e.0.iter().map(|d| d.to_string()).collect(),
    }
}

#[test]
fn a_method_with_a_teacher_expands_with_the_teacher_point_and_kd_params() {
    let s = parse("t.yaml", SUITE, &catalog()).unwrap();
    assert_eq!(s.teachers.len(), 1);
    let xs = s.experiments(Mode::Full, None);
    assert_eq!(xs.len(), 3);
    assert!(xs[0].teacher.is_none());
    assert!(xs[0].method.params.get("kd_temperature").is_none());
    let kd = &xs[1];
    let t = kd.teacher.as_ref().expect("teacher");
    assert_eq!((t.id.as_str(), t.label.as_str()), ("mlp", "wide"));
    assert_eq!(t.params.int("hidden"), 512);
    assert_eq!(kd.method.params.float("kd_temperature"), 1.0);
    assert_eq!(kd.method.params.float("kd_lambda"), 0.5);
    assert_eq!(xs[2].method.params.float("kd_temperature"), 4.0);
    // Quick overrides reach the teacher.
    let q = s.experiments(Mode::Quick, None);
    assert_eq!(q[1].teacher.as_ref().unwrap().params.int("epochs"), 1);
    assert_eq!(xs[1].teacher.as_ref().unwrap().params.int("epochs"), 5);
}

#[test]
fn teacher_errors_name_file_line_col() {
    let cases: Vec<(String, Vec<&str>)> = vec![
        (
            SUITE.replace("teacher: wide", "teacher: huge"),
            vec!["t.yaml:10:14: methods[1].teacher: unknown teacher `huge` (teachers are: wide)"],
        ),
        (
            SUITE
                .replace(
                    "teachers:\n  - { id: mlp, label: wide, params: { hidden: 512 } }\n",
                    "",
                )
                .replace(
                    "  teachers: { wide: { epochs: 1 } }\n",
                    "  test_subset: 10\n",
                ),
            vec![
                "t.yaml:10:14: methods[1].teacher: unknown teacher `wide`: the suite has no `teachers:` section",
            ],
        ),
        (
            SUITE.replace("hidden: 512", "hidden: [256, 512]"),
            vec![
                "t.yaml:13:5: teachers[0]: teacher `wide` has 2 parameter points; a teacher is one trained model: give fixed values, not lists",
            ],
        ),
        (
            SUITE.replace("{ id: mlp, label: wide", "{ id: resnet, label: wide"),
            vec![
                "t.yaml:13:11: teachers[0].id: unknown teacher model `resnet` (valid ids are: mlp)",
            ],
        ),
        (
            SUITE.replace("kd_lambda: 0.5", "kd_lambda: 1.5"),
            vec![
                "t.yaml:11:50: methods[1].params.kd_lambda: parameter `kd_lambda`: 1.5 is out of range (allowed: a number in [0, 1])",
            ],
        ),
        (
            // The teacher parameters exist only where a teacher is named.
            SUITE.replace(
                "{ id: identity, label: alone }",
                "{ id: identity, label: alone, params: { kd_lambda: 0.5 } }",
            ),
            vec![
                "t.yaml:7:45: methods[0].params.kd_lambda: unknown parameter `kd_lambda` (allowed: none: this takes no parameters)",
            ],
        ),
        (
            SUITE.replace(
                "{ id: mlp, label: student, params: { hidden: 16 } }",
                "{ id: mlp, label: student, teacher: wide }",
            ),
            vec![
                "t.yaml:4:41: models[0].teacher: only method entries take a `teacher` (this is a models entry)",
            ],
        ),
    ];
    for (src, want) in cases {
        assert_eq!(errors(&src), want, "suite:\n{src}");
    }
}
