//! The survey's taxonomy as a table: family → methods → what the family changes → the rows of
//! the results that measure each method (their labels, models and configurations).
//!
//! Built from the results' `family` column alone (the runner writes it per row). Only families
//! and methods present in the results get rows, except in a cross-family survey's report
//! (`CROSS_FAMILY_PAPERS`), where every registered method the caller lists
//! (`Options::registered_methods`) that the results lack is shown as not run.

use compbench_core::Family;
use serde::Serialize;

use crate::results::{ConfigTable, DERIVED_KEY};

/// Papers whose report is a comparison across the survey's families: their taxonomy lists
/// every registered method, run or not.
pub const CROSS_FAMILY_PAPERS: &[&str] = &["survey"];

#[derive(Debug, Serialize)]
pub struct TaxonomyView {
    pub caption: String,
    pub rows: Vec<TaxonomyRow>,
    /// Methods listed as not run.
    pub not_run: usize,
}

#[derive(Debug, Serialize)]
pub struct TaxonomyRow {
    /// The family's name (`scalar quantization`).
    pub family: String,
    /// Its id as in the results (`scalar-quantization`).
    pub family_id: String,
    /// What the family changes (`bits: …`).
    pub changes: String,
    /// The method id.
    pub method: String,
    /// `label (models; n configurations)`, joined by `; `, or `not run`.
    pub measured_by: String,
    pub run: bool,
    /// On a family's first row: how many rows the family spans (HTML `rowspan`); 0 on the others.
    pub span: usize,
}

/// One method of the results: its labels in order of appearance, each with its models and
/// model-side configurations.
struct MethodRows {
    method: String,
    family: String,
    labels: Vec<(String, Vec<String>, usize)>,
}

fn collect(table: &ConfigTable) -> Vec<MethodRows> {
    let mut out: Vec<MethodRows> = Vec::new();
    let all: Vec<usize> = (0..table.rows.len()).collect();
    let configs = table.model_configs(&all, None);
    for &r in &configs {
        let (Some(method), Some(family)) = (table.key(r, "method"), table.key(r, DERIVED_KEY))
        else {
            continue;
        };
        if family.is_empty() {
            continue;
        }
        let label = table.key(r, "label").unwrap_or(method).to_string();
        let model = table.key(r, "model").unwrap_or("—").to_string();
        let m = match out.iter_mut().position(|m| m.method == method) {
            Some(i) => &mut out[i],
            None => {
                out.push(MethodRows {
                    method: method.to_string(),
                    family: family.to_string(),
                    labels: Vec::new(),
                });
                out.last_mut().expect("just pushed")
            }
        };
        match m.labels.iter_mut().find(|(l, _, _)| *l == label) {
            Some((_, models, n)) => {
                if !models.contains(&model) {
                    models.push(model);
                }
                *n += 1;
            }
            None => m.labels.push((label, vec![model], 1)),
        }
    }
    out
}

fn measured_by(labels: &[(String, Vec<String>, usize)]) -> String {
    labels
        .iter()
        .map(|(label, models, n)| {
            let configs = if *n > models.len() {
                format!("; {n} configurations")
            } else {
                String::new()
            };
            format!("{label} ({}{configs})", models.join(", "))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The taxonomy of `table`, or `None` when its rows carry no family. With `registered` (the
/// registry's `(method, family)` list) methods absent from the results are listed as not run.
pub fn build(table: &ConfigTable, registered: Option<&[(String, Family)]>) -> Option<TaxonomyView> {
    table.key_index(DERIVED_KEY)?;
    let present = collect(table);
    if present.is_empty() {
        return None;
    }
    // Family order: the taxonomy's, then ids this build does not know, in order of appearance.
    let mut families: Vec<String> = Family::ALL.iter().map(|f| f.id().to_string()).collect();
    for m in &present {
        if !families.contains(&m.family) {
            families.push(m.family.clone());
        }
    }
    let mut rows = Vec::new();
    let mut not_run = 0;
    for fid in &families {
        let known = Family::from_id(fid);
        // Methods of this family: the registry's order when given, then any others the results hold.
        let mut methods: Vec<(String, Option<&MethodRows>)> = Vec::new();
        if let Some(reg) = registered {
            for (id, f) in reg {
                if f.id() == fid {
                    methods.push((id.clone(), present.iter().find(|m| &m.method == id)));
                }
            }
        }
        for m in present.iter().filter(|m| &m.family == fid) {
            if !methods.iter().any(|(id, _)| *id == m.method) {
                methods.push((m.method.clone(), Some(m)));
            }
        }
        if methods.is_empty() {
            continue;
        }
        let first = rows.len();
        for (method, m) in &methods {
            if m.is_none() {
                not_run += 1;
            }
            rows.push(TaxonomyRow {
                family: known.map_or(fid.clone(), |f| f.name().to_string()),
                family_id: fid.clone(),
                changes: known.map_or("—".to_string(), |f| f.describe_change().to_string()),
                method: method.clone(),
                measured_by: m.map_or("not run".to_string(), |m| measured_by(&m.labels)),
                run: m.is_some(),
                span: 0,
            });
        }
        if let Some(r) = rows.get_mut(first) {
            r.span = methods.len();
        }
    }
    let mut caption = "Each method in the survey's taxonomy, with its family, what the family \
                       changes, and the result rows that measure it: label (models; number of \
                       configurations when more than one per model)."
        .to_string();
    if registered.is_some() {
        caption.push_str(" Registered methods these results do not include are listed as not run.");
    }
    Some(TaxonomyView {
        caption,
        rows,
        not_run,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::aggregate;
    use polars::prelude::*;

    fn table() -> ConfigTable {
        let df = df![
            "suite" => ["s"; 7],
            "model" => ["cnn", "vit", "cnn", "vit", "cnn", "cnn", "cnn"],
            "method" => ["ptq", "ptq", "lutboost", "lutboost", "distill", "distill", "identity"],
            "family" => ["scalar-quantization", "scalar-quantization", "vector-quantization",
                         "vector-quantization", "distillation", "distillation", "baseline"],
            "label" => ["w8", "w8", "lut", "lut", "kd", "kd", "identity"],
            "p_method_t" => [None, None, None, None, Some(1i64), Some(4), None],
            "hw_label" => ["a"; 7],
            "accuracy" => [0.9, 0.8, 0.9, 0.8, 0.9, 0.8, 0.9],
        ]
        .unwrap();
        aggregate(&df).unwrap()
    }

    #[test]
    fn families_in_taxonomy_order_with_their_rows() {
        let t = build(&table(), None).unwrap();
        let got: Vec<(&str, &str, &str, usize)> = t
            .rows
            .iter()
            .map(|r| {
                (
                    r.family_id.as_str(),
                    r.method.as_str(),
                    r.measured_by.as_str(),
                    r.span,
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("baseline", "identity", "identity (cnn)", 1),
                ("scalar-quantization", "ptq", "w8 (cnn, vit)", 1),
                ("vector-quantization", "lutboost", "lut (cnn, vit)", 1),
                ("distillation", "distill", "kd (cnn; 2 configurations)", 1),
            ]
        );
        assert_eq!(t.not_run, 0);
        assert!(t.rows[1].changes.starts_with("bits"));
    }

    #[test]
    fn registered_methods_absent_from_the_results_are_not_run() {
        let reg: Vec<(String, Family)> = [
            ("identity", Family::Baseline),
            ("ptq", Family::ScalarQuantization),
            ("qat", Family::ScalarQuantization),
            ("lutboost", Family::VectorQuantization),
            ("he", Family::HomomorphicEncryption),
            ("distill", Family::Distillation),
        ]
        .iter()
        .map(|(m, f)| (m.to_string(), *f))
        .collect();
        let t = build(&table(), Some(&reg)).unwrap();
        let scalar: Vec<(&str, bool, usize)> = t
            .rows
            .iter()
            .filter(|r| r.family_id == "scalar-quantization")
            .map(|r| (r.method.as_str(), r.run, r.span))
            .collect();
        assert_eq!(scalar, [("ptq", true, 2), ("qat", false, 0)]);
        let he = t.rows.iter().find(|r| r.method == "he").unwrap();
        assert_eq!((he.measured_by.as_str(), he.run), ("not run", false));
        assert_eq!(t.not_run, 2);
        // Every registered method is listed exactly once.
        for (m, _) in &reg {
            assert_eq!(t.rows.iter().filter(|r| &r.method == m).count(), 1, "{m}");
        }
    }

    #[test]
    fn no_family_column_no_taxonomy() {
        let df = df!["method" => ["ptq"], "accuracy" => [0.9]].unwrap();
        assert!(build(&aggregate(&df).unwrap(), None).is_none());
    }
}
