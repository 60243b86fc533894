//! The compact key columns of a suite's tables, one rule for all its tables. Instead of a column
//! per varying key:
//! - `model`, `dataset` (and `paper`): their value, when it varies;
//! - `model params`: the `p_model_*` parameters that differ between runs of one model (those
//!   that differ only between models are listed once per model, `ModelValues`);
//! - `configuration`: the method's label (or id; left out when the suite has one method) and
//!   its `p_method_*` parameters that differ between runs of that method, plus any other
//!   parameter that differs within one model;
//! - `hw`, `hw params`: the hardware label (or model) and the `p_hw_*` parameters that differ
//!   between designs of one hardware label.
//!
//! Each column appears only when it is not the same on every row.

use std::collections::HashMap;

use super::KeyValue;
use crate::results::{ConfigTable, hardware_key, short_key};

pub(super) const CONFIGURATION: &str = "configuration";
pub(super) const MODEL_PARAMS: &str = "model params";
pub(super) const HW: &str = "hw";
pub(super) const HW_PARAMS: &str = "hw params";

/// The key columns of one suite's rows.
pub(super) struct KeyColumns {
    /// Names of the columns that identify a configuration (model-side).
    pub config: Vec<String>,
    /// Names of the columns that identify a hardware design.
    pub hw: Vec<String>,
    /// Per row (indexed like the suite's rows): the cells of `config`, then of `hw`.
    pub config_cells: Vec<Vec<String>>,
    pub hw_cells: Vec<Vec<String>>,
    /// Per row: its model.
    pub models: Vec<Option<String>>,
    /// True when the configuration text starts with the method's name (the method varies).
    pub method_named: bool,
    /// Per model, in order of appearance: the parameters that differ only between models.
    pub per_model: Vec<(String, Vec<KeyValue>)>,
}

/// The suite's varying keys, sorted into the families the compact columns show.
struct Families {
    /// `paper`, `model`, `dataset`: shown as their bare value.
    identity: Vec<usize>,
    method_params: Vec<usize>,
    model_params: Vec<usize>,
    /// Any other model-side key (a parameter family this code does not know).
    other: Vec<usize>,
    /// `p_hw_*` and the pricing batch, shown with the design (`hw_batch=16`).
    hw_params: Vec<usize>,
}

const IDENTITY: [&str; 3] = ["paper", "model", "dataset"];

impl Families {
    fn of(table: &ConfigTable, varying: &[usize]) -> Families {
        let select = |keep: &dyn Fn(&str) -> bool| -> Vec<usize> {
            varying
                .iter()
                .copied()
                .filter(|&k| keep(&table.keys[k]))
                .collect()
        };
        Families {
            identity: select(&|n| IDENTITY.contains(&n)),
            method_params: select(&|n| n.starts_with("p_method_")),
            model_params: select(&|n| n.starts_with("p_model_")),
            other: select(&|n| {
                !hardware_key(n)
                    && !n.starts_with("p_method_")
                    && !n.starts_with("p_model_")
                    && !IDENTITY.contains(&n)
                    && !matches!(n, "suite" | "method" | "label")
                    && n != crate::results::DERIVED_KEY
            }),
            hw_params: select(&|n| n.starts_with("p_hw_") || n == "hw_batch"),
        }
    }
}

/// Per row, the text of each compact column, before deciding which columns to show.
struct RowTexts {
    model_params: Vec<String>,
    config: Vec<String>,
    hw: Vec<String>,
    hw_params: Vec<String>,
    /// Per row: the model-side parameters that differ within its model (they are in its texts,
    /// so they are not listed once per model).
    within_model: Vec<Vec<usize>>,
    method_named: bool,
}

fn key_ids(table: &ConfigTable, names: &[&str]) -> Vec<usize> {
    names.iter().filter_map(|n| table.key_index(n)).collect()
}

impl RowTexts {
    fn of(table: &ConfigTable, rows: &[usize], varying: &[usize], f: &Families) -> RowTexts {
        let by_model = key_ids(table, &["model"]);
        let per_method =
            varying_within(table, rows, &f.method_params, &key_ids(table, &["method"]));
        let model_within = varying_within(table, rows, &f.model_params, &by_model);
        let other_within = varying_within(table, rows, &f.other, &by_model);
        let per_hw = varying_within(
            table,
            rows,
            &f.hw_params,
            &key_ids(table, &["hwmodel", "hw_label"]),
        );
        // Short names clash-checked against the other keys of the same text and the metric
        // columns (`method.sparsity=0.5` next to a `sparsity` column).
        let key_names = |keys: &[usize]| -> Vec<&str> {
            keys.iter()
                .map(|&k| table.keys[k].as_str())
                .chain(table.metrics.iter().map(String::as_str))
                .collect()
        };
        let config_names = key_names(&[f.method_params.clone(), f.other.clone()].concat());
        let model_names = key_names(&f.model_params);
        let hw_names = key_names(&f.hw_params);
        let method_named = key_ids(table, &["method", "label"])
            .iter()
            .any(|k| varying.contains(k));

        let mut t = RowTexts {
            model_params: Vec::with_capacity(rows.len()),
            config: Vec::with_capacity(rows.len()),
            hw: Vec::with_capacity(rows.len()),
            hw_params: Vec::with_capacity(rows.len()),
            within_model: Vec::with_capacity(rows.len()),
            method_named,
        };
        for (i, &r) in rows.iter().enumerate() {
            t.model_params
                .push(params_text(table, r, &model_within[i], &model_names).join(" "));
            // The method's name, unless the suite has one method and label (the Fixed line
            // says it).
            let mut parts = Vec::new();
            if method_named {
                parts.push(name_text(table, rows, r, "method", "label"));
            }
            parts.extend(params_text(table, r, &per_method[i], &config_names));
            parts.extend(params_text(table, r, &other_within[i], &config_names));
            parts.retain(|p| !p.is_empty());
            t.config.push(parts.join(" "));
            t.hw.push(name_text(table, rows, r, "hwmodel", "hw_label"));
            t.hw_params
                .push(params_text(table, r, &per_hw[i], &hw_names).join(" "));
            t.within_model
                .push([model_within[i].clone(), other_within[i].clone()].concat());
        }
        t
    }
}

fn differs(v: &[String]) -> bool {
    v.iter().any(|x| *x != v[0])
}

fn any_text(v: &[String]) -> bool {
    v.iter().any(|x| !x.is_empty())
}

fn or_dash(s: &str) -> String {
    if s.is_empty() {
        "—".into()
    } else {
        s.to_string()
    }
}

impl KeyColumns {
    pub(super) fn of(
        table: &ConfigTable,
        rows: &[usize],
        varying: &[usize],
        names: &[&str],
    ) -> KeyColumns {
        let families = Families::of(table, varying);
        let texts = RowTexts::of(table, rows, varying, &families);
        let mut out = KeyColumns {
            config: Vec::new(),
            hw: Vec::new(),
            config_cells: vec![Vec::new(); rows.len()],
            hw_cells: vec![Vec::new(); rows.len()],
            models: rows
                .iter()
                .map(|&r| table.key(r, "model").map(str::to_string))
                .collect(),
            method_named: texts.method_named,
            per_model: Vec::new(),
        };
        // Identity columns in their order, `model params` right after `model` (or last when
        // the model does not vary).
        for &k in &families.identity {
            let cells: Vec<String> = rows
                .iter()
                .map(|&r| table.rows[r].keys[k].clone().unwrap_or_else(|| "—".into()))
                .collect();
            out.push_config(&table.keys[k], cells);
            if table.keys[k] == "model" && any_text(&texts.model_params) {
                out.push_config(MODEL_PARAMS, texts.model_params.clone());
            }
        }
        if !out.config.iter().any(|c| c == MODEL_PARAMS) && any_text(&texts.model_params) {
            out.push_config(MODEL_PARAMS, texts.model_params.clone());
        }
        if differs(&texts.config) {
            out.push_config(
                CONFIGURATION,
                texts.config.iter().map(|t| or_dash(t)).collect(),
            );
        }
        if differs(&texts.hw) {
            out.push_hw(HW, texts.hw.iter().map(|t| or_dash(t)).collect());
        }
        if any_text(&texts.hw_params) {
            out.push_hw(HW_PARAMS, texts.hw_params.clone());
        }
        let model_varies = key_ids(table, &["model"])
            .iter()
            .any(|k| varying.contains(k));
        if model_varies {
            let between = [families.model_params, families.other].concat();
            out.per_model = between_models(
                table,
                rows,
                &between,
                &texts.within_model,
                &out.models,
                names,
            );
        }
        out
    }

    fn push_config(&mut self, name: &str, cells: Vec<String>) {
        self.config.push(name.to_string());
        for (row, cell) in self.config_cells.iter_mut().zip(cells) {
            row.push(cell);
        }
    }

    fn push_hw(&mut self, name: &str, cells: Vec<String>) {
        self.hw.push(name.to_string());
        for (row, cell) in self.hw_cells.iter_mut().zip(cells) {
            row.push(cell);
        }
    }
}

/// Parameters that differ between models but not within one: listed once per model, in order
/// of the models' first rows.
fn between_models(
    table: &ConfigTable,
    rows: &[usize],
    between: &[usize],
    within_model: &[Vec<usize>],
    models: &[Option<String>],
    names: &[&str],
) -> Vec<(String, Vec<KeyValue>)> {
    let mut per_model: Vec<(String, Vec<KeyValue>)> = Vec::new();
    for (i, &r) in rows.iter().enumerate() {
        let Some(model) = models[i].clone() else {
            continue;
        };
        if per_model.iter().any(|(m, _)| *m == model) {
            continue;
        }
        let values = between
            .iter()
            .filter(|k| !within_model[i].contains(k))
            .filter_map(|&k| {
                Some(KeyValue {
                    key: short_key(&table.keys[k], names),
                    value: table.rows[r].keys[k].clone()?,
                })
            })
            .collect();
        per_model.push((model, values));
    }
    per_model
}

/// For each of `rows`, the keys among `candidates` that differ between the rows sharing its
/// value of `by` (e.g. the same method).
fn varying_within(
    table: &ConfigTable,
    rows: &[usize],
    candidates: &[usize],
    by: &[usize],
) -> Vec<Vec<usize>> {
    let id = |r: usize| -> Vec<Option<&str>> {
        by.iter()
            .map(|&k| table.rows[r].keys[k].as_deref())
            .collect()
    };
    let mut groups: HashMap<Vec<Option<&str>>, Vec<usize>> = HashMap::new();
    for &r in rows {
        groups.entry(id(r)).or_default().push(r);
    }
    let varying: HashMap<Vec<Option<&str>>, Vec<usize>> = groups
        .into_iter()
        .map(|(g, members)| {
            let v = table.varying_keys(&members);
            (
                g,
                candidates
                    .iter()
                    .copied()
                    .filter(|k| v.contains(k))
                    .collect(),
            )
        })
        .collect();
    rows.iter().map(|&r| varying[&id(r)].clone()).collect()
}

/// `name` for a row: its label, or its id when it has no label; `id/label` when the label does
/// not tell the ids apart (two methods share it).
fn name_text(table: &ConfigTable, rows: &[usize], r: usize, id: &str, label: &str) -> String {
    let get = |r: usize, k: &str| table.key(r, k);
    match (get(r, label), get(r, id)) {
        (Some(l), Some(i))
            if l != i
                && rows
                    .iter()
                    .any(|&o| get(o, label) == Some(l) && get(o, id) != Some(i)) =>
        {
            format!("{i}/{l}")
        }
        (Some(l), _) => l.to_string(),
        (None, Some(i)) => i.to_string(),
        (None, None) => String::new(),
    }
}

/// `k=v` for each of `keys` that is set in row `r` (identity columns print their bare value).
fn params_text(table: &ConfigTable, r: usize, keys: &[usize], others: &[&str]) -> Vec<String> {
    keys.iter()
        .filter_map(|&k| {
            let v = table.rows[r].keys[k].as_deref()?;
            let name = &table.keys[k];
            Some(if name.starts_with("p_") || name == "hw_batch" {
                format!("{}={v}", short_key(name, others))
            } else {
                v.to_string()
            })
        })
        .collect()
}
