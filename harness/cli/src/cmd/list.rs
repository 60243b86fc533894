//! `compbench list [methods|hwmodels|models|datasets|suites] [--json]`

use std::process::ExitCode;

use clap::{Args, ValueEnum};
use compbench_core::ParamSpec;
use compbench_core::params::Default as ParamDefault;
use compbench_suite::Mode;
use serde_json::json;

use crate::ui;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum What {
    Methods,
    Hwmodels,
    Models,
    Datasets,
    Suites,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// What to list (everything when omitted).
    pub what: Option<What>,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
}

fn default_text(d: ParamDefault) -> String {
    match d {
        ParamDefault::Bool(b) => b.to_string(),
        ParamDefault::Int(i) => i.to_string(),
        ParamDefault::Float(x) => x.to_string(),
        // An empty default (a name parameter's "none") would print as nothing at all.
        ParamDefault::Str("") => "\"\" (none)".to_string(),
        ParamDefault::Str(s) => s.to_string(),
    }
}

fn params_json(specs: &[ParamSpec]) -> serde_json::Value {
    specs
        .iter()
        .map(|s| json!({ "name": s.name, "allowed": s.kind.allowed(), "default": s.default.to_value(), "doc": s.doc }))
        .collect()
}

/// `(id, describe, params)` of every plugin of a kind.
fn plugins(what: What) -> Vec<(&'static str, &'static str, &'static [ParamSpec])> {
    match what {
        What::Methods => compbench_registry::methods()
            .iter()
            .map(|m| (m.id(), m.describe(), m.params()))
            .collect(),
        What::Hwmodels => compbench_registry::hwmodels()
            .iter()
            .map(|h| (h.id(), h.describe(), h.params()))
            .collect(),
        What::Models => compbench_registry::models()
            .iter()
            .map(|m| (m.id, m.describe, m.params))
            .collect(),
        What::Datasets => compbench_registry::datasets()
            .iter()
            .map(|d| (d.id(), d.describe(), &[][..]))
            .collect(),
        What::Suites => Vec::new(),
    }
}

/// A method's survey family as listed: its id, or a note that it has none (an error the
/// registry reports; a broken external manifest is the only way to get one).
fn family_of(id: &str) -> String {
    compbench_registry::method(id)
        .ok()
        .and_then(|m| m.family())
        .map_or_else(|| "no family".to_string(), |f| f.id().to_string())
}

fn print_plugins(title: &str, items: &[(&str, &str, &[ParamSpec])], families: bool) {
    println!("{title}:");
    for (id, describe, params) in items {
        if families {
            println!("  {id:<14} [{}] {describe}", family_of(id));
        } else {
            println!("  {id:<14} {describe}");
        }
        let rows: Vec<Vec<String>> = params
            .iter()
            .map(|s| {
                vec![
                    format!("      {}", s.name),
                    s.kind.allowed(),
                    format!("default {}", default_text(s.default)),
                    s.doc.to_string(),
                ]
            })
            .collect();
        print!("{}", ui::table(&rows));
    }
}

fn suites_json() -> serde_json::Value {
    super::suite_files()
        .iter()
        .map(|p| match super::load_suite(p) {
            Ok(s) => json!({
                "file": p.display().to_string(), "name": s.name, "paper": s.paper, "valid": true,
                "description": s.description,
                "experiments": s.experiments(Mode::Full, None).len(),
                "quick_experiments": s.experiments(Mode::Quick, None).len(),
                "hw_configs": s.hw_configs(Mode::Full).len(),
            }),
            Err(e) => json!({ "file": p.display().to_string(), "valid": false, "errors": e.len() }),
        })
        .collect()
}

fn print_suites() {
    println!("suites ({}/):", super::SUITES_DIR);
    let mut rows = vec![vec![
        "  file".into(),
        "name".into(),
        "paper".into(),
        "experiments (quick)".into(),
        "description".into(),
    ]];
    for p in super::suite_files() {
        match super::load_suite(&p) {
            Ok(s) => rows.push(vec![
                format!("  {}", p.display()),
                s.name.clone(),
                if s.paper.is_empty() {
                    "—".into()
                } else {
                    s.paper.clone()
                },
                format!(
                    "{} ({})",
                    s.experiments(Mode::Full, None).len(),
                    s.experiments(Mode::Quick, None).len()
                ),
                s.description.lines().next().unwrap_or("").to_string(),
            ]),
            Err(e) => rows.push(vec![
                format!("  {}", p.display()),
                "INVALID".into(),
                String::new(),
                String::new(),
                format!(
                    "{} problem(s): run `compbench validate {}`",
                    e.len(),
                    p.display()
                ),
            ]),
        }
    }
    if rows.len() == 1 {
        println!(
            "  (none found in ./{}; run compbench from the repository root)",
            super::SUITES_DIR
        );
    } else {
        print!("{}", ui::table(&rows));
    }
}

pub fn run(args: &ListArgs) -> anyhow::Result<ExitCode> {
    let all = [
        What::Methods,
        What::Hwmodels,
        What::Models,
        What::Datasets,
        What::Suites,
    ];
    let whats: Vec<What> = args.what.map_or(all.to_vec(), |w| vec![w]);
    if args.json {
        let mut doc = serde_json::Map::new();
        for w in &whats {
            let key = format!("{w:?}").to_lowercase();
            let v = if *w == What::Suites {
                suites_json()
            } else {
                plugins(*w)
                    .iter()
                    .map(|(id, d, p)| {
                        let mut v = json!({ "id": id, "describe": d, "params": params_json(p) });
                        if *w == What::Methods {
                            v["family"] = json!(family_of(id));
                        }
                        v
                    })
                    .collect()
            };
            doc.insert(key, v);
        }
        let out = if whats.len() == 1 {
            doc.into_iter().next().map(|(_, v)| v).unwrap_or_default()
        } else {
            doc.into()
        };
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(ExitCode::SUCCESS);
    }
    for (i, w) in whats.iter().enumerate() {
        if i > 0 {
            println!();
        }
        match w {
            What::Methods => print_plugins("methods [survey family]", &plugins(*w), true),
            What::Hwmodels => print_plugins("hardware models", &plugins(*w), false),
            What::Models => print_plugins(
                "models (training knobs: 0 = the model's recipe)",
                &plugins(*w),
                false,
            ),
            What::Datasets => print_plugins("datasets", &plugins(*w), false),
            What::Suites => print_suites(),
        }
    }
    Ok(ExitCode::SUCCESS)
}
