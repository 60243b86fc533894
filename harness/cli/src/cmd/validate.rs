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
                if args.json {
                    docs.push(json!({ "file": path.display().to_string(), "valid": true, "name": s.name,
                                      "experiments": full, "quick_experiments": quick, "hw_configs": hw, "errors": [] }));
                } else {
                    println!(
                        "ok  {}: suite `{}`, {full} experiments ({quick} with --quick) × {hw} hardware configuration(s)",
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
