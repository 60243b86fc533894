//! `compbench reproduce <lut-dla|lpvit|survey|all> [--quick] [--out DIR]` and `--list`:
//! validate a paper's suites, run them, render the report, print the claims summary.
//! `all` runs every paper and writes `index.md` and `index.html` into the results root: one
//! row per paper linking its report, with its headline read back from its claims.json.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
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
        title: "From Algorithm to Hardware (survey): every compression family on one table and shared hardware",
        suites: &["suites/survey.yaml"],
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
    let out_root = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(super::RESULTS_DIR));
    let mut failed = false;
    // Per paper: the results directories of its suites, in order.
    let mut runs: Vec<(&Paper, Vec<PathBuf>)> = Vec::new();
    for (paper, suite) in &suites {
        eprintln!("── {paper}: suite `{}` ({})", suite.name, suite.file);
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
        let p = papers
            .iter()
            .copied()
            .find(|p| p.id == *paper)
            .expect("suites come from these papers");
        match runs.iter_mut().find(|(q, _)| q.id == p.id) {
            Some((_, dirs)) => dirs.push(summary.out_dir.clone()),
            None => runs.push((p, vec![summary.out_dir.clone()])),
        }
    }
    let mut reports = Vec::new();
    for (paper, dirs) in &runs {
        let rendered = render_paper(paper, dirs, &out_root, args.common.quick)?;
        reports.push((*paper, rendered));
    }
    println!();
    for (paper, r) in &reports {
        println!("{}:", paper.id);
        for p in r.markdown.iter().chain(&r.html) {
            println!("  report: {}", p.display());
        }
        println!("  claims: {}", r.summary);
    }
    if which == "all" {
        let entries: Vec<compbench_reports::IndexEntry> = reports
            .iter()
            .map(|(p, r)| compbench_reports::IndexEntry {
                paper: p.id.to_string(),
                title: p.title.to_string(),
                report_dir: r.out_dir.clone(),
            })
            .collect();
        let index = compbench_reports::render_index(&out_root, &entries, args.common.quick)
            .with_context(|| format!("writing the index in {}", out_root.display()))?;
        println!("index: {}", index.html.display());
        println!("       {}", index.markdown.display());
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

/// The report of one paper: in its run's `report/` when it has one suite, else one report over
/// all its runs in `<out_root>/<paper>-report/<quick|full>/`.
fn render_paper(
    paper: &Paper,
    dirs: &[PathBuf],
    out_root: &Path,
    quick: bool,
) -> anyhow::Result<compbench_reports::RenderOutput> {
    if let [dir] = dirs {
        return super::report::render(dir, "md,html");
    }
    let mode = compbench_suite::Mode::from_quick(quick).name();
    let out_dir = out_root.join(format!("{}-report", paper.id)).join(mode);
    compbench_reports::render_many_with(
        dirs,
        &out_dir,
        &[
            compbench_reports::Format::Markdown,
            compbench_reports::Format::Html,
        ],
        Path::new(super::REFERENCES_DIR),
        &super::report::options(),
    )
    .with_context(|| format!("rendering the report of {}", paper.id))
}
