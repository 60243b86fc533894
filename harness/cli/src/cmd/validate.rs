//! `compbench validate SUITE.yaml... [--json]`: exit 0, or 2 with `file:line:col: field: message`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use compbench_suite::Mode;
use serde_json::json;

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Suite files to check.
    #[arg(required = true)]
    pub suites: Vec<PathBuf>,
    /// Machine-readable output (one object per file).
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &ValidateArgs) -> anyhow::Result<ExitCode> {
    let mut bad = 0;
    let mut docs = Vec::new();
    for path in &args.suites {
        match super::load_suite(path) {
            Ok(s) => {
                let (full, quick) = (
                    s.experiments(Mode::Full, None).len(),
                    s.experiments(Mode::Quick, None).len(),
                );
                let hw = s.hw_configs(Mode::Full).len();
                let batches = s.hw_batches(Mode::Full);
                if args.json {
                    docs.push(json!({ "file": path.display().to_string(), "valid": true, "name": s.name,
                                      "experiments": full, "quick_experiments": quick, "hw_configs": hw,
                                      "hw_batch": batches, "errors": [] }));
                } else {
                    // Batches only when there is more than batch 1 to price.
                    let batch_note = if hw > 0 && batches != [1] {
                        let list: Vec<String> = batches.iter().map(u64::to_string).collect();
                        let noun = if batches.len() == 1 {
                            "batch"
                        } else {
                            "batches"
                        };
                        format!(" × {} pricing {noun} ({})", batches.len(), list.join(", "))
                    } else {
                        String::new()
                    };
                    println!(
                        "ok  {}: suite `{}`, {full} experiments ({quick} with --quick) × {hw} hardware configuration(s){batch_note}",
                        path.display(),
                        s.name
                    );
                }
            }
            Err(errors) => {
                bad += 1;
                if args.json {
                    let errs: Vec<_> = errors
                        .iter()
                        .map(|d| json!({ "line": d.line, "col": d.col, "field": d.field, "message": d.message }))
                        .collect();
                    docs.push(json!({ "file": path.display().to_string(), "valid": false, "errors": errs }));
                } else {
                    super::print_suite_errors(&errors);
                }
            }
        }
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&docs)?);
    } else if bad > 0 {
        eprintln!("{bad} of {} suite(s) invalid", args.suites.len());
    }
    Ok(if bad > 0 {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}
