//! `compbench run SUITE.yaml [--out DIR] [--jobs N] [--shard I/N] [--quick] [--seed S] [--data-dir D]`

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use compbench_runner::{RunOptions, RunSettings, RunSummary, Shard};
use compbench_suite::{Mode, Suite};
use serde_json::json;

use crate::progress::Progress;
use crate::ui;

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The suite file.
    pub suite: PathBuf,
    #[command(flatten)]
    pub common: CommonRunArgs,
    /// Results directory (default: results/<suite>/<run>, stable so a rerun resumes).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Run only every N-th experiment starting at I (0-based): one task of a job array.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<Shard>,
    /// Replace the suite's seeds by this one.
    #[arg(long, value_name = "S")]
    pub seed: Option<u64>,
    /// Print the run summary as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Flags shared by `run` and `reproduce`.
#[derive(Debug, Args, Clone)]
pub struct CommonRunArgs {
    /// Use the suite's `quick:` block: fewer seeds, epochs and grid points.
    #[arg(long)]
    pub quick: bool,
    /// Worker threads (default: one per core).
    #[arg(long, short = 'j', value_name = "N", default_value_t = 0)]
    pub jobs: usize,
    /// Extra directory to look for datasets in (searched before $COMPBENCH_DATA, ./data,
    /// /usr/share/datasets). Repeatable.
    #[arg(long = "data-dir", value_name = "D")]
    pub data_dirs: Vec<PathBuf>,
}

/// Run a validated suite with progress on stderr; returns the runner's summary.
pub fn execute(
    suite: &Suite,
    common: &CommonRunArgs,
    out: Option<&Path>,
    shard: Option<Shard>,
    seed: Option<u64>,
) -> anyhow::Result<RunSummary> {
    let settings = RunSettings {
        mode: Mode::from_quick(common.quick),
        seed_override: seed,
        shard,
    };
    let results_root = Path::new(super::RESULTS_DIR);
    let out_dir = out.map_or_else(
        || compbench_runner::default_out_dir(results_root, suite, &settings),
        Path::to_path_buf,
    );
    let opts = RunOptions {
        settings,
        out_dir: out_dir.clone(),
        jobs: common.jobs,
        data_dirs: common.data_dirs.clone(),
        cache_dir: compbench_runner::default_cache_dir(results_root),
    };
    eprintln!(
        "running suite `{}` ({} mode{}) into {}",
        suite.name,
        opts.settings.mode.name(),
        shard.map_or(String::new(), |s| format!(", shard {s}")),
        out_dir.display()
    );
    crate::interrupt::install();
    let progress = Progress::new();
    let result = compbench_runner::run(suite, &opts, &progress);
    progress.finish();
    let summary = result.map_err(|e| match e {
        compbench_runner::RunError::Lock(l) => anyhow::Error::new(ui::InvalidInput(l.to_string())),
        other => anyhow::Error::new(other).context(format!("running suite `{}`", suite.name)),
    })?;
    Ok(summary)
}

/// Print where the results are and what failed; exit 1 when anything failed.
pub fn report_summary(s: &RunSummary, json: bool) -> anyhow::Result<ExitCode> {
    if json {
        let doc = json!({
            "out_dir": s.out_dir.display().to_string(),
            "experiments": s.experiments, "cached": s.cached, "ran": s.ran, "not_run": s.not_run, "rows": s.rows, "wall_s": s.wall_s,
            "failures": s.failures.iter().map(|f| json!({"experiment": f.experiment, "name": f.name, "error": f.error})).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        println!(
            "{} rows → {}/rows.parquet (+ rows.csv, env.json) in {}: {} experiments, {} cached, {} ran, {} failed",
            s.rows,
            s.out_dir.display(),
            ui::duration(s.wall_s),
            s.experiments,
            s.cached,
            s.ran,
            s.failures.len()
        );
        if s.skipped_lines > 0 {
            ui::warn(&format!(
                "dropped {} torn journal line(s) left by a killed run (the journal is compacted); {} experiment(s) ran in this run",
                s.skipped_lines, s.ran
            ));
        }
    }
    if s.not_run > 0 {
        ui::warn(&format!(
            "interrupted: {} of {} done; run the same command to resume",
            s.cached + s.ran,
            s.experiments
        ));
        return Ok(ExitCode::from(crate::interrupt::EXIT_INTERRUPTED));
    }
    if s.failures.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    ui::error(&format!("{} experiment(s) failed:", s.failures.len()));
    for f in &s.failures {
        eprintln!("  {} ({}): {}", f.name, f.experiment, f.error);
    }
    eprintln!("rerun the same command to retry them; finished experiments are kept");
    Ok(ExitCode::from(1))
}

pub fn run(args: &RunArgs) -> anyhow::Result<ExitCode> {
    let suite = super::load_suite_or_exit2(&args.suite)?;
    let summary = execute(
        &suite,
        &args.common,
        args.out.as_deref(),
        args.shard,
        args.seed,
    )?;
    report_summary(&summary, args.json)
}
