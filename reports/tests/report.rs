//! End-to-end rendering on the fixture: snapshots, escaping, self-containedness, SVG validity.

mod common;

use std::path::PathBuf;

use common::{assert_snapshot, check_xml, references_dir};
use compbench_reports::fixture::{
    RowsBuilder, Val, env_json, hw_grid_rows, lut_dla_rows, write_fixture, write_run,
};
use compbench_reports::{Format, RenderOutput, render, render_many};

const BOTH: [Format; 2] = [Format::Markdown, Format::Html];

fn render_fixture(root: &std::path::Path) -> RenderOutput {
    let dirs = write_fixture(root).unwrap();
    render_many(&dirs, &root.join("report"), &BOTH, &references_dir()).unwrap()
}

fn read(p: &Option<PathBuf>) -> String {
    std::fs::read_to_string(p.as_ref().unwrap()).unwrap()
}

#[test]
fn report_snapshots() {
    let tmp = tempfile::tempdir().unwrap();
    let out = render_fixture(tmp.path());
    assert_eq!(
        out.summary.to_string(),
        "4 of 16 published claims hold at our scale (2 do not hold, 1 inconclusive, 9 not run); 0 of 16 of our expectations hold (4 inconclusive, 12 not run)"
    );
    assert_snapshot("report.md", &read(&out.markdown));
    assert_snapshot("report.html", &read(&out.html));
    assert_snapshot(
        "claims.json",
        &std::fs::read_to_string(&out.claims_json).unwrap(),
    );
}

#[test]
fn claims_json_shape() {
    let tmp = tempfile::tempdir().unwrap();
    let out = render_fixture(tmp.path());
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out.claims_json).unwrap()).unwrap();
    let arr = v.as_array().unwrap();
    assert_eq!(arr.len(), out.summary.total());
    for c in arr {
        let keys: Vec<&str> = c.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "claim",
                "evidence",
                "holds",
                "id",
                "noise",
                "ours",
                "paper",
                "paper_number",
                "rule",
                "section",
                "source",
                "verdict"
            ]
        );
        let verdict = c["verdict"].as_str().unwrap();
        assert!(["holds", "fails", "inconclusive", "not_run"].contains(&verdict));
        assert_eq!(c["holds"].as_bool().unwrap(), verdict == "holds");
        assert!(["claim", "expectation"].contains(&c["section"].as_str().unwrap()));
        for e in c["evidence"].as_array().unwrap() {
            let keys: Vec<&str> = e.as_object().unwrap().keys().map(String::as_str).collect();
            assert_eq!(keys, ["decides", "ours", "paper", "selection", "verdict"]);
        }
    }
    let by_id = |id: &str| arr.iter().find(|c| c["id"] == id).unwrap().clone();
    assert_eq!(by_id("transformer-drop")["verdict"], "inconclusive");
    assert_eq!(by_id("transformer-drop")["section"], "claim");
    assert_eq!(by_id("lutboost-stages-help")["section"], "expectation");
    // Power efficiency: one claim, one evidence row per numerator configuration (the fixture's
    // L2, 4-stage, int8-table points over v and c) × model × batch × baseline.
    assert_eq!(
        by_id("power-efficiency")["evidence"]
            .as_array()
            .unwrap()
            .len(),
        20
    );
}

#[test]
fn single_run_renders_into_report_subdir() {
    let tmp = tempfile::tempdir().unwrap();
    let dirs = write_fixture(tmp.path()).unwrap();
    let out = render(&dirs[0], &[Format::Markdown], &references_dir()).unwrap();
    assert_eq!(out.out_dir, dirs[0].join("report"));
    assert!(out.markdown.as_ref().unwrap().is_file());
    assert!(out.html.is_none());
    assert!(out.claims_json.is_file());
    assert!(!out.figures.is_empty());
    for f in &out.figures {
        assert!(f.starts_with(dirs[0].join("report/figures")));
    }
    let md = read(&out.markdown);
    assert!(md.contains("Quick run: fewer epochs and grid points"));
    assert!(md.contains("approximate: activations vector-quantised"));
    // Re-rendering leaves no stale figures and no temporary files.
    let again = render(&dirs[0], &[Format::Markdown], &references_dir()).unwrap();
    let names: Vec<_> = std::fs::read_dir(again.out_dir.join("figures"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names.len(), again.figures.len(), "{names:?}");
    assert!(
        names
            .iter()
            .all(|n| n.ends_with(".svg") && !n.starts_with('.'))
    );
}

#[test]
fn charts_are_well_formed_svg() {
    let tmp = tempfile::tempdir().unwrap();
    let out = render_fixture(tmp.path());
    let names: Vec<String> = out
        .figures
        .iter()
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        [
            "accuracy-vs-bits",
            "accuracy-drop",
            "accuracy-vs-power-efficiency",
            "accuracy-vs-area-efficiency",
            "dse-energy-vs-latency",
            "per-layer-sparsity",
        ]
    );
    for path in &out.figures {
        let svg = std::fs::read_to_string(path).unwrap();
        assert_eq!(check_xml(&svg), Ok("svg".to_string()), "{}", path.display());
        assert!(svg.contains(r#"width="800""#), "{}", path.display());
        assert!(svg.contains("<text"), "{}: no labels", path.display());
    }
    let html = read(&out.html);
    assert_eq!(html.matches("<svg").count(), out.figures.len());
}

#[test]
fn html_is_self_contained() {
    let tmp = tempfile::tempdir().unwrap();
    let html = read(&render_fixture(tmp.path()).html);
    for needle in ["http://", "https://", "<link", " src=", "url(", "@import"] {
        assert!(!html.contains(needle), "report.html contains {needle}");
    }
    // One inline script (sortable tables), not needed to read the page.
    assert_eq!(html.matches("<script").count(), 1);
}

/// A results table whose strings try to break out of HTML and Markdown.
fn hostile_run(root: &std::path::Path) -> PathBuf {
    let mut b = RowsBuilder::new();
    for seed in 0..2i64 {
        for (label, acc) in [("a|b", 0.9), ("<b>bold</b>", 0.8)] {
            b.push(vec![
                ("suite", Val::from("<script>alert(1)</script>")),
                ("paper", Val::from("lut-dla")),
                ("model", Val::from("cnn")),
                ("method", Val::from("x")),
                ("label", Val::from(label)),
                ("seed", Val::from(seed)),
                ("p_method_k", Val::from("1|2")),
                ("accuracy", Val::from(acc)),
                (
                    "bits_per_weight",
                    Val::from(if acc > 0.85 { 8.0 } else { 4.0 }),
                ),
                ("accuracy_drop", Val::from(1.0)),
                (
                    "method_note",
                    Val::from("<img src=x onerror=alert(2)> & more"),
                ),
            ]);
        }
    }
    let dir = root.join("hostile").join("run");
    let mut env = env_json(false, 1.0);
    env["cpu"] = "<iframe>|cpu".into();
    write_run(&dir, &mut b.build().unwrap(), &env).unwrap();
    dir
}

#[test]
fn strings_from_results_are_escaped() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = hostile_run(tmp.path());
    let out = render(&dir, &BOTH, &references_dir()).unwrap();
    let html = read(&out.html);
    assert!(
        html.contains("Suite &lt;script&gt;alert(1)&lt;&#x2f;script&gt;"),
        "{html}"
    );
    assert!(!html.contains("<script>alert"));
    assert!(!html.contains("<img"));
    assert!(!html.contains("<iframe"));
    assert!(!html.contains("<b>bold"));
    assert_eq!(html.matches("<script").count(), 1);
    for f in &out.figures {
        let svg = std::fs::read_to_string(f).unwrap();
        assert!(check_xml(&svg).is_ok());
        assert!(!svg.contains("<b>"), "{svg}");
    }
    let md = read(&out.markdown);
    assert!(
        md.contains("### Suite \\<script\\>alert(1)\\</script\\>"),
        "{md}"
    );
    assert!(md.contains("| a\\|b |"), "{md}");
    assert!(md.contains("1\\|2"), "{md}");
    assert!(md.contains("\\<iframe\\>\\|cpu"), "{md}");
    assert!(
        md.contains("\\<img src=x onerror=alert(2)\\> & more"),
        "{md}"
    );
    // Every table row of the results table has the header's number of cells.
    let table: Vec<&str> = md
        .lines()
        .skip_while(|l| !l.starts_with("### Suite"))
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .collect();
    let cells = |l: &str| l.replace("\\|", "").matches('|').count();
    assert!(table.len() >= 4);
    assert!(
        table.iter().all(|l| cells(l) == cells(table[0])),
        "{table:#?}"
    );
}

#[test]
fn results_without_paper_render_without_claims() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("plain/run");
    let mut rows = lut_dla_rows().unwrap().drop("paper").unwrap();
    write_run(&dir, &mut rows, &env_json(false, 3.0)).unwrap();
    let out = render(&dir, &BOTH, &tmp.path().join("no-such-dir")).unwrap();
    assert_eq!(out.summary.total(), 0);
    assert_eq!(std::fs::read_to_string(&out.claims_json).unwrap(), "[]\n");
    let md = read(&out.markdown);
    assert!(md.contains("Paper vs reproduced: no paper claims checked."));
    // env.json says quick: false, but the rows' `quick` column says true: the rows win.
    assert!(md.contains("Quick run"));
}

#[test]
fn missing_rows_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let err = render(tmp.path(), &BOTH, &references_dir()).unwrap_err();
    assert!(err.to_string().contains("no rows.parquet"), "{err}");
}

/// The Markdown table under the heading `#### {title}`: header cells and body rows' cells.
fn md_table(md: &str, title: &str) -> (Vec<String>, Vec<Vec<String>>) {
    md_table_at(md, &format!("#### {title}"))
}

/// The first pipe table after the line `heading`.
fn md_table_at(md: &str, heading: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let lines: Vec<&str> = md
        .lines()
        .skip_while(|l| *l != heading)
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .collect();
    assert!(lines.len() >= 2, "no table under {heading}");
    let cells = |l: &str| -> Vec<String> {
        l.trim_matches('|')
            .split(" | ")
            .map(|c| c.trim().to_string())
            .collect()
    };
    let header = cells(lines[0]);
    let rows: Vec<Vec<String>> = lines[2..].iter().map(|l| cells(l)).collect();
    for r in &rows {
        assert_eq!(r.len(), header.len(), "{r:?} vs {header:?}");
    }
    (header, rows)
}

#[test]
fn hardware_grid_splits_into_model_and_hardware_tables() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("hw-grid/run");
    write_run(&dir, &mut hw_grid_rows().unwrap(), &env_json(false, 1.0)).unwrap();
    let out = render(&dir, &BOTH, &references_dir()).unwrap();
    let md = read(&out.markdown);

    // 3 method configurations × 2 hardware designs.
    let (header, rows) = md_table(&md, "Accuracy and CPU measurements");
    assert_eq!(rows.len(), 3, "{md}");
    assert_eq!(
        header,
        ["configuration", "accuracy (%)", "CPU latency (ms)", "seeds"]
    );
    // Two lutboost configurations that differ only in v get distinct configuration texts,
    // the same as in the hardware table.
    let model_configs: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(model_configs, ["lutboost v=4", "lutboost v=8", "ptq-w8a8"]);
    let (header, rows) = md_table(&md, "Hardware costs");
    assert_eq!(rows.len(), 6, "{md}");
    assert_eq!(header, ["configuration", "hw", "cycles (k)", "energy (µJ)"]);
    let configs: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(
        configs,
        [
            "lutboost v=4",
            "lutboost v=4",
            "lutboost v=8",
            "lutboost v=8",
            "ptq-w8a8",
            "ptq-w8a8"
        ]
    );
    let mut hw_configs: Vec<&str> = configs.clone();
    hw_configs.dedup();
    assert_eq!(hw_configs, model_configs);
    // No hardware key in the model table, and no method parameter (`p_method_*`, short name
    // `v`/`bits` or `method.v`/`method.bits`) or method identity column in either table.
    let (model_header, _) = md_table(&md, "Accuracy and CPU measurements");
    for h in &model_header {
        assert!(!["hw", "hwmodel", "hw_label", "rows", "hw.rows"].contains(&h.as_str()));
    }
    for h in model_header.iter().chain(&header) {
        assert!(
            !["v", "bits", "method.v", "method.bits", "method", "label"].contains(&h.as_str())
                && !h.starts_with("p_method_"),
            "{h}"
        );
    }
    assert!(md.contains("Fixed: model = cnn; dataset = fashion-mnist; hwmodel = systolic."));

    let html = read(&out.html);
    assert_eq!(html.matches("<table class=\"results sortable\"").count(), 2);
    assert!(html.contains("<h4>Accuracy and CPU measurements</h4>"));
    assert!(html.contains("<h4>Hardware costs</h4>"));
}

/// A cross-family survey: the taxonomy table lists every registered method exactly once (absent
/// ones as not run), the accuracy-vs-energy and accuracy-vs-area charts have one legend entry
/// per family, and `family` never shows as a configuration column.
#[test]
fn cross_family_survey_has_taxonomy_and_family_charts() {
    use compbench_core::Family;
    use compbench_reports::fixture::cross_family_rows;
    use compbench_reports::{Options, render_with};

    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("survey-cross/run");
    write_run(
        &dir,
        &mut cross_family_rows().unwrap(),
        &env_json(false, 10.0),
    )
    .unwrap();
    let registered: Vec<(String, Family)> = [
        ("identity", Family::Baseline),
        ("ptq", Family::ScalarQuantization),
        ("qat", Family::ScalarQuantization),
        ("lutboost", Family::VectorQuantization),
        ("magnitude-prune", Family::Pruning),
        ("block-prune", Family::Pruning),
        ("distill", Family::Distillation),
        ("nonlinear", Family::NonlinearApproximation),
        ("he", Family::HomomorphicEncryption),
    ]
    .iter()
    .map(|(m, f)| (m.to_string(), *f))
    .collect();
    let options = Options {
        registered_methods: registered.clone(),
    };
    let out = render_with(&dir, &BOTH, &references_dir(), &options).unwrap();
    let md = read(&out.markdown);
    let (header, rows) = md_table_at(&md, "## Taxonomy");
    assert_eq!(
        header,
        [
            "family",
            "what it changes",
            "method",
            "rows that measure it"
        ]
    );
    for (method, _) in &registered {
        let n = rows.iter().filter(|r| r[2] == *method).count();
        assert_eq!(n, 1, "{method} listed {n} times:\n{md}");
    }
    let cell = |m: &str| rows.iter().find(|r| r[2] == m).unwrap()[3].clone();
    assert_eq!(cell("ptq"), "ptq-w8a8 (cnn)");
    assert_eq!(cell("he"), "he-per-image (mlp)");
    for absent in ["qat", "magnitude-prune", "distill", "nonlinear"] {
        assert_eq!(cell(absent), "*not run*");
    }
    // The family's name and what it changes, once per family (on its first row).
    let scalar: Vec<&Vec<String>> = rows
        .iter()
        .filter(|r| r[2] == "ptq" || r[2] == "qat")
        .collect();
    assert_eq!(scalar[0][0], "**scalar quantization**");
    assert!(scalar[0][1].starts_with("bits"));
    assert_eq!(scalar[1][0], "");
    let html = read(&out.html);
    assert!(html.contains("<h2 id=\"taxonomy\">Taxonomy</h2>"));
    assert!(html.contains("rowspan=\"2\">scalar quantization</th>"));

    let names: Vec<String> = out
        .figures
        .iter()
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    for chart in ["accuracy-vs-energy-by-family", "accuracy-vs-area-by-family"] {
        let i = names
            .iter()
            .position(|n| n == chart)
            .unwrap_or_else(|| panic!("{names:?}"));
        let svg = std::fs::read_to_string(&out.figures[i]).unwrap();
        if std::env::var("DUMP_SVG").is_ok() {
            std::fs::write(format!("/tmp/{chart}.svg"), &svg).unwrap();
        }
        check_xml(&svg).unwrap();
        for family in [
            "baseline",
            "scalar quantization",
            "vector quantization",
            "pruning",
            "homomorphic encryption",
        ] {
            assert!(
                svg.contains(&format!("\n{family}\n</text>")),
                "{chart} lacks {family}"
            );
        }
        assert!(svg.contains("Pareto front"));
    }
    // `family` is a function of `method`: no column of its own in the results tables.
    let (header, _) = md_table(&md, "Accuracy and CPU measurements");
    assert!(!header.iter().any(|h| h == "family"), "{header:?}");
    assert!(
        !md.contains("scalar-quantization ptq"),
        "family leaks into configuration names"
    );
}

/// Without the registry's list (or outside a cross-family survey) only what ran is listed.
#[test]
fn taxonomy_without_registry_lists_what_ran() {
    use compbench_reports::fixture::cross_family_rows;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("survey-cross/run");
    write_run(
        &dir,
        &mut cross_family_rows().unwrap(),
        &env_json(false, 10.0),
    )
    .unwrap();
    let out = render(&dir, &[Format::Markdown], &references_dir()).unwrap();
    let md = read(&out.markdown);
    let (_, rows) = md_table_at(&md, "## Taxonomy");
    let methods: Vec<&str> = rows.iter().map(|r| r[2].as_str()).collect();
    assert_eq!(
        methods,
        ["identity", "ptq", "lutboost", "block-prune", "he"]
    );
    assert!(!md.contains("not run*"));
}
