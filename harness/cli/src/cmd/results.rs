//! `compbench results merge DIR... [--out OUT]`: join the shards of a run.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand};

use crate::ui;

#[derive(Debug, Args)]
pub struct ResultsArgs {
    #[command(subcommand)]
    pub command: ResultsCommand,
}

#[derive(Debug, Subcommand)]
pub enum ResultsCommand {
    /// Join results directories (e.g. the shards of a job array) into one.
    Merge {
        /// Results directories to join.
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        /// Output directory (default: `merged` next to the inputs, when they share a parent).
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

fn common_parent(dirs: &[PathBuf]) -> Option<PathBuf> {
    let first = dirs.first()?.parent()?;
    dirs.iter()
        .all(|d| d.parent() == Some(first))
        .then(|| first.to_path_buf())
}

pub fn run(args: &ResultsArgs) -> anyhow::Result<ExitCode> {
    match &args.command {
        ResultsCommand::Merge { dirs, out } => {
            for d in dirs {
                if !d.join("rows.parquet").is_file() {
                    return ui::invalid(format!(
                        "{} has no rows.parquet (not a finished results directory)",
                        d.display()
                    ));
                }
            }
            let out = match out {
                Some(o) => o.clone(),
                None => match common_parent(dirs) {
                    Some(p) => p.join("merged"),
                    None => {
                        return ui::invalid(
                            "the directories have different parents: pass --out DIR",
                        );
                    }
                },
            };
            if dirs.iter().any(|d| d.as_path() == Path::new(&out)) {
                return ui::invalid("--out must differ from the inputs");
            }
            let s = compbench_runner::merge(dirs, &out)?;
            println!(
                "{} rows from {} director{} → {}/rows.parquet (+ rows.csv, env.json)",
                s.rows,
                s.inputs,
                if s.inputs == 1 { "y" } else { "ies" },
                s.out_dir.display()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}
