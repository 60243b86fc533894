//! `compbench reproduce <lut-dla|lpvit|survey|all> [--quick] [--out DIR]` and `--list`:
//! validate a paper's suites, run them, render the report, print the claims summary.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use compbench_suite::Suite;

use super::run::CommonRunArgs;
use crate::ui;

/// A paper compbench reproduces, and the suites that do it.
struct Paper {
    id: &'static str,
    title: &'static str,
    /// Suite files, relative to the repository root. Empty: not reproducible yet.
    suites: &'static [&'static str],
    /// Why it is not available, when `suites` is empty.
    missing: &'static str,
}

const PAPERS: &[Paper] = &[
    Paper {
        id: "lut-dla",
        title: "LUT-DLA: lookup-table DNN accelerator with LUTBoost (vector quantization)",
        suites: &["suites/lut-dla.yaml"],
        missing: "",
    },
    Paper {
        id: "lpvit",
        title: "LPViT: low-power semi-structured pruning for vision transformers",
        suites: &["suites/lpvit.yaml"],
        missing: "",
    },
    Paper {
        id: "survey",
        title: "Survey of DNN compression: the scalar-quantization experiments",
        suites: &["suites/survey-quant.yaml"],
        missing: "",
    },
];

#[derive(Debug, Args)]
pub struct ReproduceArgs {
    /// lut-dla, lpvit, survey or all.
    #[arg(required_unless_present = "list", value_parser = ["lut-dla", "lpvit", "survey", "all"])]
    pub paper: Option<String>,
    /// List the papers and their suites.
    #[arg(long)]
    pub list: bool,
    #[command(flatten)]
    pub common: CommonRunArgs,
    /// Results root (default: results/); each suite runs into <out>/<suite>/<run>.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

fn print_list() {
    let mut rows = vec![vec![
        "paper".to_string(),
        "suites".to_string(),
        "status".to_string(),
        "title".to_string(),
    ]];
    for p in PAPERS {
        let status = if p.suites.is_empty() {
            "not yet available".to_string()
        } else if p.suites.iter().all(|s| Path::new(s).is_file()) {
            "ready".to_string()
        } else {
            "suite file missing".to_string()
        };
        rows.push(vec![
            p.id.into(),
            if p.suites.is_empty() {
                "—".into()
            } else {
                p.suites.join(", ")
            },
            status,
            p.title.into(),
        ]);
    }
    print!("{}", ui::table(&rows));
}

/// Validate every suite of `papers` before running any.
fn load_all(papers: &[&Paper]) -> anyhow::Result<Vec<(&'static str, Suite)>> {
    let mut out = Vec::new();
    let mut problems = 0;
    for p in papers {
        for file in p.suites {
            let path = Path::new(file);
            if !path.is_file() {
                ui::error(&format!(
                    "{file}: not found (run compbench from the repository root)"
                ));
                problems += 1;
                continue;
            }
            match super::load_suite(path) {
                Ok(s) => out.push((p.id, s)),
                Err(e) => {
                    super::print_suite_errors(&e);
                    problems += 1;
                }
            }
        }
    }
    if problems > 0 {
        return ui::invalid(format!(
            "{problems} suite(s) could not be loaded; nothing was run"
        ));
    }
    Ok(out)
}

pub fn run(args: &ReproduceArgs) -> anyhow::Result<ExitCode> {
    if args.list {
        print_list();
        return Ok(ExitCode::SUCCESS);
    }
    let which = args.paper.as_deref().unwrap_or("all");
    let papers: Vec<&Paper> = if which == "all" {
        for p in PAPERS.iter().filter(|p| p.suites.is_empty()) {
            ui::warn(&format!(
                "skipping {}: not yet available ({})",
                p.id, p.missing
            ));
        }
        PAPERS.iter().filter(|p| !p.suites.is_empty()).collect()
    } else {
        let p = PAPERS
            .iter()
            .find(|p| p.id == which)
            .expect("clap checked the value");
        if p.suites.is_empty() {
            let ready: Vec<&str> = PAPERS
                .iter()
                .filter(|p| !p.suites.is_empty())
                .map(|p| p.id)
                .collect();
            return ui::invalid(format!(
                "{} cannot be reproduced yet: {}. Available: {}",
                p.id,
                p.missing,
                ready.join(", ")
            ));
        }
        vec![p]
    };
    let suites = load_all(&papers)?;
    let mut failed = false;
    let mut reports = Vec::new();
    for (paper, suite) in &suites {
        eprintln!("── {paper}: suite `{}` ({})", suite.name, suite.file);
        let out_root = args
            .out
            .clone()
            .unwrap_or_else(|| PathBuf::from(super::RESULTS_DIR));
        let settings = compbench_runner::RunSettings {
            mode: compbench_suite::Mode::from_quick(args.common.quick),
            seed_override: None,
            shard: None,
        };
        let out_dir = compbench_runner::default_out_dir(&out_root, suite, &settings);
        let summary = super::run::execute(suite, &args.common, Some(&out_dir), None, None)?;
        let code = super::run::report_summary(&summary, false)?;
        if summary.not_run > 0 {
            // Interrupted (Ctrl-C): the table of what finished is written; stop here.
            return Ok(code);
        }
        if code != ExitCode::SUCCESS {
            failed = true;
        }
        let rendered = super::report::render(&summary.out_dir, "md,html")?;
        reports.push((paper, suite.name.clone(), rendered));
    }
    println!();
    for (paper, suite, r) in &reports {
        println!("{paper} ({suite}):");
        for p in r.markdown.iter().chain(&r.html) {
            println!("  report: {}", p.display());
        }
        println!("  claims: {}", r.summary);
    }
    if args.common.quick {
        println!(
            "(--quick: short training and few grid points; numbers are for checking the pipeline, not the papers)"
        );
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
