//! The results tables of each suite: a model-side table and a hardware table (or one table),
//! key columns folded into compact configuration text, constants lifted to the Fixed line and
//! the per-model list.

use std::collections::HashMap;

use super::key_columns::{CONFIGURATION, HW_PARAMS, KeyColumns, MODEL_PARAMS};
use super::{CellView, ColumnView, KeyValue, ModelValues, SuiteView, TableView};
use crate::metrics::{Better, Side, header, info, scale_for};
use crate::results::{ConfigTable, Stat, hardware_key, short_key};

/// Metric columns that belong in tables (per-layer columns go to their chart).
fn table_metric(column: &str) -> bool {
    !column.starts_with("method_layer")
}

fn note_header(column: &str) -> String {
    match column {
        "method_note" => "note".into(),
        other => other.to_string(),
    }
}

/// `declared(suite)` is the suite's `metrics:` list (empty: show every metric).
pub(super) fn suite_views(
    table: &ConfigTable,
    declared: &dyn Fn(&str) -> Vec<String>,
) -> Vec<SuiteView> {
    // suite name -> rows, in order of appearance
    let mut suites: Vec<(String, Vec<usize>)> = Vec::new();
    for r in 0..table.rows.len() {
        let name = table.key(r, "suite").unwrap_or("results").to_string();
        match suites.iter_mut().find(|(n, _)| *n == name) {
            Some((_, rs)) => rs.push(r),
            None => suites.push((name, vec![r])),
        }
    }
    suites
        .into_iter()
        .map(|(name, rows)| {
            let declared = declared(&name);
            suite_view(table, name, &rows, &declared)
        })
        .collect()
}

/// One row of a table being built: its key cells and where its metric and note cells come from.
struct Line {
    /// The row's model, for values listed once per model.
    model: Option<String>,
    keys: Vec<String>,
    /// Indexed like `ConfigTable::metrics`.
    stats: Vec<Option<Stat>>,
    /// Indexed like `ConfigTable::notes`.
    notes: Vec<Option<String>>,
    n_rows: usize,
}

/// Everything about a table but its lines.
struct TableSpec {
    title: &'static str,
    caption: String,
    key_columns: Vec<String>,
    /// Indices into `ConfigTable::metrics`.
    metrics: Vec<usize>,
    seeds: bool,
    /// Indices into `ConfigTable::notes`.
    notes: Vec<usize>,
}

const MODEL_TITLE: &str = "Accuracy and CPU measurements";
const HARDWARE_TITLE: &str = "Hardware costs";

fn suite_view(table: &ConfigTable, name: String, rows: &[usize], declared: &[String]) -> SuiteView {
    let varying = table.varying_keys(rows);
    // Short names must not clash with each other or with metric columns.
    let names: Vec<&str> = table
        .keys
        .iter()
        .chain(&table.metrics)
        .map(String::as_str)
        .collect();
    let keys = KeyColumns::of(table, rows, &varying, &names);
    let (shown, not_shown) = shown_metrics(table, rows, declared);
    let notes = present_notes(table, rows);
    // Both kinds of metrics: one table per configuration for the model-side metrics (they are
    // the same on every hardware design), one per configuration and design for the costs.
    let tables = split_tables(table, rows, &keys, &shown, &notes)
        .unwrap_or_else(|| one_table(table, rows, &keys, &shown, notes));
    let mut fixed = fixed_keys(table, rows, &varying, &names);
    fixed.extend(tables.fixed);
    let mut per_model = keys.per_model;
    add_per_model(&mut per_model, tables.per_model);
    SuiteView {
        name,
        description: None,
        fixed,
        per_model: model_values(per_model),
        tables: tables.tables,
        not_shown: not_shown
            .iter()
            .map(|&m| table.metrics[m].clone())
            .collect(),
    }
}

/// A suite's tables, and the values their constant metrics lifted out of them.
struct Tables {
    tables: Vec<TableView>,
    fixed: Vec<KeyValue>,
    per_model: Vec<(String, KeyValue)>,
}

/// Keys that are the same on every row of the suite (its name aside): the Fixed line.
fn fixed_keys(
    table: &ConfigTable,
    rows: &[usize],
    varying: &[usize],
    names: &[&str],
) -> Vec<KeyValue> {
    (0..table.keys.len())
        .filter(|k| !varying.contains(k) && table.keys[*k] != "suite")
        .filter_map(|k| {
            Some(KeyValue {
                key: short_key(&table.keys[k], names),
                value: table.rows[rows[0]].keys[k].clone()?,
            })
        })
        .collect()
}

/// Metrics that belong in tables and have a value on some row, split into those the tables
/// show (the suite's declared `metrics:` in its order, or all of them when it declares none) and
/// those left to rows.csv.
fn shown_metrics(
    table: &ConfigTable,
    rows: &[usize],
    declared: &[String],
) -> (Vec<usize>, Vec<usize>) {
    let present: Vec<usize> = (0..table.metrics.len())
        .filter(|&m| table_metric(&table.metrics[m]))
        .filter(|&m| rows.iter().any(|&r| table.rows[r].stats[m].is_some()))
        .collect();
    if declared.is_empty() {
        return (present, Vec::new());
    }
    let shown: Vec<usize> = declared
        .iter()
        .filter_map(|d| present.iter().copied().find(|&m| table.metrics[m] == *d))
        .collect();
    let not_shown = present.into_iter().filter(|m| !shown.contains(m)).collect();
    (shown, not_shown)
}

/// Note columns with text on some row.
fn present_notes(table: &ConfigTable, rows: &[usize]) -> Vec<usize> {
    (0..table.notes.len())
        .filter(|&n| {
            rows.iter().any(|&r| {
                table.rows[r].notes[n]
                    .as_deref()
                    .is_some_and(|s| !s.is_empty())
            })
        })
        .collect()
}

/// A model-side table (one row per configuration) and a hardware table (one row per
/// configuration and design), when the suite has metrics of both sides that vary.
fn split_tables(
    table: &ConfigTable,
    rows: &[usize],
    keys: &KeyColumns,
    shown: &[usize],
    notes: &[usize],
) -> Option<Tables> {
    let (model_side, hw_side): (Vec<usize>, Vec<usize>) = shown
        .iter()
        .partition(|&&m| info(&table.metrics[m]).side == Side::Model);
    if model_side.is_empty() || hw_side.is_empty() {
        return None;
    }
    let model_lines = model_lines(table, rows, keys);
    let hw_lines = row_lines(table, rows, keys);
    let model = split_constant(table, &model_lines, &model_side);
    let hw = split_constant(table, &hw_lines, &hw_side);
    if model.metrics.is_empty() || hw.metrics.is_empty() {
        return None;
    }
    let hw_columns: Vec<String> = keys.config.iter().chain(&keys.hw).cloned().collect();
    let model_table = TableSpec {
        title: MODEL_TITLE,
        caption: caption(
            "One row per configuration; these values do not depend on the hardware design.",
            &keys.config,
            keys,
        ),
        key_columns: keys.config.clone(),
        metrics: model.metrics,
        seeds: true,
        notes: notes.to_vec(),
    };
    let hw_table = TableSpec {
        title: HARDWARE_TITLE,
        caption: caption(
            "One row per configuration and hardware design.",
            &hw_columns,
            keys,
        ),
        key_columns: hw_columns,
        metrics: hw.metrics,
        seeds: false,
        notes: Vec::new(),
    };
    Some(Tables {
        tables: vec![
            table_view(table, model_table, &model_lines),
            table_view(table, hw_table, &hw_lines),
        ],
        fixed: [model.fixed, hw.fixed].concat(),
        per_model: [model.per_model, hw.per_model].concat(),
    })
}

/// One table: a row per configuration (and hardware design, when that varies).
fn one_table(
    table: &ConfigTable,
    rows: &[usize],
    keys: &KeyColumns,
    shown: &[usize],
    notes: Vec<usize>,
) -> Tables {
    let lines = row_lines(table, rows, keys);
    let constant = split_constant(table, &lines, shown);
    let sides: Vec<Side> = constant
        .metrics
        .iter()
        .map(|&m| info(&table.metrics[m]).side)
        .collect();
    let title = if sides.iter().all(|s| *s == Side::Model) {
        MODEL_TITLE
    } else if sides.iter().all(|s| *s == Side::Hardware) {
        HARDWARE_TITLE
    } else {
        "Measurements"
    };
    let columns: Vec<String> = keys.config.iter().chain(&keys.hw).cloned().collect();
    let first = if keys.hw.is_empty() {
        "One row per configuration."
    } else {
        "One row per configuration and hardware design."
    };
    let spec = TableSpec {
        title,
        caption: caption(first, &columns, keys),
        key_columns: columns,
        metrics: constant.metrics,
        seeds: true,
        notes,
    };
    Tables {
        tables: vec![table_view(table, spec, &lines)],
        fixed: constant.fixed,
        per_model: constant.per_model,
    }
}

/// A table's caption: `first`, then what its compact key columns hold.
fn caption(first: &str, columns: &[String], keys: &KeyColumns) -> String {
    let mut caption = first.to_string();
    let configuration = if keys.method_named {
        " The configuration column gives the method's label and those of its parameters that \
         differ between its runs."
    } else {
        " The configuration column gives the method parameters that differ between runs."
    };
    for (column, text) in [
        (CONFIGURATION, configuration),
        (
            MODEL_PARAMS,
            " The model params column gives the model parameters that differ between runs of \
             one model.",
        ),
        (
            HW_PARAMS,
            " The hw params column gives the hardware parameters that differ between the \
             designs of one hardware label.",
        ),
    ] {
        if columns.iter().any(|c| c == column) {
            caption.push_str(text);
        }
    }
    caption
}

/// Appends `(model, value)` pairs to the per-model lists, in order of the models.
fn add_per_model(per_model: &mut Vec<(String, Vec<KeyValue>)>, values: Vec<(String, KeyValue)>) {
    for (model, kv) in values {
        match per_model.iter_mut().find(|(m, _)| *m == model) {
            Some((_, list)) => list.push(kv),
            None => per_model.push((model, vec![kv])),
        }
    }
}

fn model_values(per_model: Vec<(String, Vec<KeyValue>)>) -> Vec<ModelValues> {
    per_model
        .into_iter()
        .filter(|(_, values)| !values.is_empty())
        .map(|(model, values)| ModelValues { model, values })
        .collect()
}

/// One line per row of `rows` (a configuration on one hardware design), with the
/// configuration columns, then the hardware columns.
fn row_lines(table: &ConfigTable, rows: &[usize], keys: &KeyColumns) -> Vec<Line> {
    rows.iter()
        .enumerate()
        .map(|(i, &r)| {
            let row = &table.rows[r];
            let mut cells = keys.config_cells[i].clone();
            cells.extend(keys.hw_cells[i].iter().cloned());
            Line {
                model: keys.models[i].clone(),
                keys: cells,
                stats: row.stats.clone(),
                notes: row.notes.clone(),
                n_rows: row.n_rows,
            }
        })
        .collect()
}

/// Groups `rows` by their model-side keys (every key but the hardware ones), in order of first
/// appearance: one line per configuration, whatever it was priced on, with the configuration
/// columns only. Its model-side metrics are the same on every row of the group; each is taken
/// from the first row that has it.
fn model_lines(table: &ConfigTable, rows: &[usize], keys: &KeyColumns) -> Vec<Line> {
    let model_keys: Vec<usize> = (0..table.keys.len())
        .filter(|&k| !hardware_key(&table.keys[k]))
        .collect();
    let mut index: HashMap<Vec<Option<&str>>, usize> = HashMap::new();
    // positions in `rows`
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for (i, &r) in rows.iter().enumerate() {
        let id: Vec<Option<&str>> = model_keys
            .iter()
            .map(|&k| table.rows[r].keys[k].as_deref())
            .collect();
        match index.get(&id) {
            Some(&g) => groups[g].push(i),
            None => {
                index.insert(id, groups.len());
                groups.push(vec![i]);
            }
        }
    }
    groups
        .iter()
        .map(|group| {
            let members = || group.iter().map(|&i| &table.rows[rows[i]]);
            Line {
                model: keys.models[group[0]].clone(),
                keys: keys.config_cells[group[0]].clone(),
                stats: (0..table.metrics.len())
                    .map(|m| members().find_map(|row| row.stats[m]))
                    .collect(),
                notes: (0..table.notes.len())
                    .map(|n| {
                        members().find_map(|row| row.notes[n].clone().filter(|s| !s.is_empty()))
                    })
                    .collect(),
                n_rows: members().map(|row| row.n_rows).max().unwrap_or(0),
            }
        })
        .collect()
}

/// How a table's metric candidates are shown.
struct Constants {
    /// Metrics that get a column.
    metrics: Vec<usize>,
    /// Metrics with one printed value on every line (and no CI), e.g. a constant utilization.
    fixed: Vec<KeyValue>,
    /// Metrics with one printed value on every line of each model (and no CI), e.g. the
    /// baseline accuracy: `(model, value)`.
    per_model: Vec<(String, KeyValue)>,
}

/// Splits `candidates` into the metrics that get a column and those listed with the fixed
/// values, once per suite or once per model. A metric with no value on any line is dropped.
fn split_constant(table: &ConfigTable, lines: &[Line], candidates: &[usize]) -> Constants {
    let mut out = Constants {
        metrics: Vec::new(),
        fixed: Vec::new(),
        per_model: Vec::new(),
    };
    // models in order of appearance -> positions of their lines
    let mut models: Vec<(&str, Vec<usize>)> = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        let Some(m) = l.model.as_deref() else {
            continue;
        };
        match models.iter_mut().find(|(n, _)| *n == m) {
            Some((_, ls)) => ls.push(i),
            None => models.push((m, vec![i])),
        }
    }
    let by_model = models.len() > 1
        && models.iter().map(|(_, ls)| ls.len()).sum::<usize>() == lines.len()
        && models.iter().all(|(_, ls)| ls.len() > 1);
    for &m in candidates {
        let present: Vec<f64> = lines
            .iter()
            .filter_map(|l| l.stats[m].map(|s| s.mean))
            .collect();
        if present.is_empty() {
            continue;
        }
        let scale = scale_for(info(&table.metrics[m]).unit, &present);
        let printed = |i: usize| lines[i].stats[m].map(|s| scale.number(s.mean));
        let one_value = |ls: &[usize]| ls.iter().all(|&i| printed(i) == printed(ls[0]));
        let no_ci = lines
            .iter()
            .all(|l| l.stats[m].is_none_or(|s| s.ci95.is_none_or(|c| c == 0.0)));
        let everywhere = present.len() == lines.len() && no_ci;
        let key = crate::metrics::label(&table.metrics[m]);
        let all: Vec<usize> = (0..lines.len()).collect();
        if everywhere && lines.len() > 1 && one_value(&all) {
            out.fixed.push(KeyValue {
                key,
                value: scale.with_unit(present[0]),
            });
        } else if everywhere && by_model && models.iter().all(|(_, ls)| one_value(ls)) {
            for (model, ls) in &models {
                let mean = lines[ls[0]].stats[m].map_or(0.0, |s| s.mean);
                out.per_model.push((
                    model.to_string(),
                    KeyValue {
                        key: key.clone(),
                        value: scale.with_unit(mean),
                    },
                ));
            }
        } else {
            out.metrics.push(m);
        }
    }
    out
}

fn table_view(table: &ConfigTable, spec: TableSpec, lines: &[Line]) -> TableView {
    let TableSpec {
        title,
        caption,
        key_columns,
        metrics,
        seeds,
        notes,
    } = spec;
    let mut columns: Vec<ColumnView> = key_columns
        .into_iter()
        .map(|name| ColumnView {
            name,
            numeric: false,
        })
        .collect();
    let means = |m: usize| -> Vec<f64> {
        lines
            .iter()
            .filter_map(|l| l.stats[m].map(|s| s.mean))
            .collect()
    };
    let scales: Vec<_> = metrics
        .iter()
        .map(|&m| scale_for(info(&table.metrics[m]).unit, &means(m)))
        .collect();
    for (i, &m) in metrics.iter().enumerate() {
        columns.push(ColumnView {
            name: header(&table.metrics[m], &scales[i]),
            numeric: true,
        });
    }
    if seeds {
        columns.push(ColumnView {
            name: "seeds".into(),
            numeric: true,
        });
    }
    for &n in &notes {
        columns.push(ColumnView {
            name: note_header(&table.notes[n]),
            numeric: false,
        });
    }

    // Best printed value per metric column.
    let best: Vec<Option<String>> = metrics
        .iter()
        .enumerate()
        .map(|(i, &m)| {
            let vals = means(m);
            if vals.len() < 2 {
                return None;
            }
            let pick = match info(&table.metrics[m]).better {
                Better::Higher => vals.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                Better::Lower => vals.iter().copied().fold(f64::INFINITY, f64::min),
                Better::Neither => return None,
            };
            Some(scales[i].number(pick))
        })
        .collect();

    let mut footnotes: Vec<String> = Vec::new();
    let rows = lines
        .iter()
        .map(|line| {
            let mut cells: Vec<CellView> = line
                .keys
                .iter()
                .map(|k| CellView {
                    text: k.clone(),
                    best: false,
                    sort: None,
                })
                .collect();
            for (i, &m) in metrics.iter().enumerate() {
                cells.push(match line.stats[m] {
                    Some(s) => CellView {
                        text: scales[i].mean_ci(s.mean, s.ci95),
                        best: best[i].as_deref() == Some(scales[i].number(s.mean).as_str()),
                        sort: Some(s.mean),
                    },
                    None => CellView {
                        text: "—".into(),
                        best: false,
                        sort: None,
                    },
                });
            }
            if seeds {
                cells.push(CellView {
                    text: line.n_rows.to_string(),
                    best: false,
                    sort: Some(line.n_rows as f64),
                });
            }
            for &n in &notes {
                let text = match line.notes[n].as_deref().filter(|s| !s.is_empty()) {
                    Some(note) => {
                        let i = match footnotes.iter().position(|f| f == note) {
                            Some(i) => i,
                            None => {
                                footnotes.push(note.to_string());
                                footnotes.len() - 1
                            }
                        };
                        format!("[{}]", i + 1)
                    }
                    None => String::new(),
                };
                cells.push(CellView {
                    text,
                    best: false,
                    sort: None,
                });
            }
            cells
        })
        .collect();
    TableView {
        title,
        caption,
        columns,
        rows,
        footnotes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture::{RowsBuilder, Val, hw_grid_rows};
    use crate::results::aggregate;

    fn names(t: &TableView) -> Vec<&str> {
        t.columns.iter().map(|c| c.name.as_str()).collect()
    }

    fn column<'a>(t: &'a TableView, name: &str) -> Vec<&'a str> {
        let i = names(t).iter().position(|n| *n == name).unwrap();
        t.rows.iter().map(|r| r[i].text.as_str()).collect()
    }

    #[test]
    fn model_and_hardware_tables() {
        let table = aggregate(&hw_grid_rows().unwrap()).unwrap();
        let suites = suite_views(&table, &|_| Vec::new());
        assert_eq!(suites.len(), 1);
        let tables = &suites[0].tables;
        assert_eq!(tables.len(), 2);
        let (model, hw) = (&tables[0], &tables[1]);
        assert_eq!(model.title, MODEL_TITLE);
        assert_eq!(hw.title, HARDWARE_TITLE);

        // 3 method configurations, each once.
        assert_eq!(model.rows.len(), 3);
        assert_eq!(
            names(model),
            ["configuration", "accuracy (%)", "CPU latency (ms)", "seeds"]
        );
        // The same configuration texts as the hardware table's.
        assert_eq!(
            column(model, "configuration"),
            ["lutboost v=4", "lutboost v=8", "ptq-w8a8"]
        );
        assert_eq!(column(model, "seeds"), ["2", "2", "2"]);
        assert_eq!(
            column(model, "accuracy (%)"),
            ["90.10 ± 1.27", "88.10 ± 1.27", "91.10 ± 1.27"]
        );

        // 3 configurations × 2 designs; method parameters live in the configuration text.
        assert_eq!(hw.rows.len(), 6);
        assert_eq!(
            names(hw),
            ["configuration", "hw", "cycles (k)", "energy (µJ)"]
        );
        assert_eq!(
            column(hw, "configuration"),
            [
                "lutboost v=4",
                "lutboost v=4",
                "lutboost v=8",
                "lutboost v=8",
                "ptq-w8a8",
                "ptq-w8a8"
            ]
        );
        assert_eq!(
            column(hw, "hw"),
            ["int8-systolic", "big-systolic"].repeat(3)
        );
        for name in names(model) {
            assert!(
                !["hwmodel", "hw_label", "hw", "rows", "hw.rows"].contains(&name),
                "{name}"
            );
            assert!(
                !name.starts_with("cycles") && !name.starts_with("energy"),
                "{name}"
            );
        }
        for name in names(hw) {
            assert!(
                !["v", "bits", "method", "label", "method.v"].contains(&name),
                "{name}"
            );
        }
        // Keys constant across the suite are listed once; p_hw_rows varies (with the label).
        let fixed: Vec<&str> = suites[0].fixed.iter().map(|f| f.key.as_str()).collect();
        assert_eq!(fixed, ["model", "dataset", "hwmodel"]);
    }

    #[test]
    fn hardware_params_and_disagreeing_model_metrics() {
        // A LUT design specialised per configuration (its p_hw_v follows the method's v), a
        // fixed systolic array, and an accuracy that (wrongly) differs between designs.
        let mut b = RowsBuilder::new();
        for v in [4i64, 8] {
            let lut_acc = 0.9 - v as f64 * 0.01;
            for (hwmodel, acc, cycles) in [("lut", lut_acc, 100i64), ("systolic", 0.5, 300)] {
                let mut r: Vec<(&str, Val)> = vec![
                    ("suite", "s".into()),
                    ("model", "cnn".into()),
                    ("method", "lutboost".into()),
                    ("p_method_v", v.into()),
                    ("hwmodel", hwmodel.into()),
                    ("seed", 0i64.into()),
                    ("accuracy", acc.into()),
                    ("cycles", (cycles * v).into()),
                ];
                if hwmodel == "lut" {
                    r.push(("p_hw_v", v.into()));
                    r.push(("p_hw_lanes", 64i64.into()));
                }
                b.push(r);
            }
        }
        let table = aggregate(&b.build().unwrap()).unwrap();
        let suite = &suite_views(&table, &|_| Vec::new())[0];
        let (model, hw) = (&suite.tables[0], &suite.tables[1]);
        assert_eq!(names(model), ["configuration", "accuracy (%)", "seeds"]);
        assert_eq!(column(model, "configuration"), ["v=4", "v=8"]);
        // The first row of each group wins.
        assert_eq!(column(model, "accuracy (%)"), ["86.00", "82.00"]);
        assert_eq!(
            names(hw),
            ["configuration", "hw", "hw params", "cycles (k)"]
        );
        assert_eq!(column(hw, "configuration"), ["v=4", "v=4", "v=8", "v=8"]);
        assert_eq!(column(hw, "hw"), ["lut", "systolic", "lut", "systolic"]);
        assert_eq!(column(hw, "hw params"), ["v=4", "", "v=8", ""]);
    }

    #[test]
    fn hw_batch_is_a_hardware_column_or_fixed() {
        // Two configurations on one design, priced at each of `batches`.
        let table = |batches: &[i64]| {
            let mut b = RowsBuilder::new();
            for v in [4i64, 8] {
                for &batch in batches {
                    b.push(vec![
                        ("suite", "s".into()),
                        ("method", "lutboost".into()),
                        ("p_method_v", v.into()),
                        ("hwmodel", "lut".into()),
                        ("hw_batch", batch.into()),
                        ("seed", 0i64.into()),
                        ("accuracy", (0.9 - 0.01 * v as f64).into()),
                        ("cycles", (100 * v * batch).into()),
                    ]);
                }
            }
            aggregate(&b.build().unwrap()).unwrap()
        };
        let t = table(&[1, 16]);
        let suite = &suite_views(&t, &|_| Vec::new())[0];
        let (model, hw) = (&suite.tables[0], &suite.tables[1]);
        // Accuracy once per configuration, whatever the batch.
        assert_eq!(column(model, "configuration"), ["v=4", "v=8"]);
        assert_eq!(names(hw), ["configuration", "hw params", "cycles (k)"]);
        assert_eq!(
            column(hw, "hw params"),
            ["hw_batch=1", "hw_batch=16", "hw_batch=1", "hw_batch=16"]
        );
        // One batch: listed once with the fixed values.
        let t = table(&[16]);
        let suite = &suite_views(&t, &|_| Vec::new())[0];
        let fixed: Vec<String> = suite
            .fixed
            .iter()
            .map(|f| format!("{}={}", f.key, f.value))
            .collect();
        assert!(fixed.contains(&"hw_batch=16".to_string()), "{fixed:?}");
        assert!(!names(&suite.tables[1]).contains(&"hw params"));
    }

    /// cnn and a vit (its own `p_model_depth`), the vit trained with each of `vit_lrs`; 3
    /// method configurations on 2 hardware models each.
    fn two_models(vit_lrs: &[f64]) -> ConfigTable {
        let mut variants = vec![("cnn", None, 0.01, 0.9)];
        for &lr in vit_lrs {
            variants.push(("vit", Some(4i64), lr, 0.8 + (lr - 0.01)));
        }
        let mut b = RowsBuilder::new();
        for (model, depth, lr, base) in variants {
            for (method, v) in [
                ("ptq", None),
                ("lutboost", Some(4i64)),
                ("lutboost", Some(8)),
            ] {
                for (hw, cycles) in [("lut", 100i64), ("systolic", 300)] {
                    let mut r: Vec<(&str, Val)> = vec![
                        ("suite", "s".into()),
                        ("model", model.into()),
                        ("method", method.into()),
                        ("hwmodel", hw.into()),
                        ("seed", 0i64.into()),
                        ("p_model_lr", lr.into()),
                    ];
                    if let Some(d) = depth {
                        r.push(("p_model_depth", d.into()));
                    }
                    if let Some(v) = v {
                        r.push(("p_method_v", v.into()));
                    }
                    let acc = base - 0.01 * v.unwrap_or(0) as f64;
                    r.push(("accuracy", acc.into()));
                    r.push(("baseline_accuracy", base.into()));
                    r.push(("cycles", cycles.into()));
                    b.push(r);
                }
            }
        }
        aggregate(&b.build().unwrap()).unwrap()
    }

    fn per_model(suite: &SuiteView) -> Vec<String> {
        suite
            .per_model
            .iter()
            .map(|m| {
                let values: Vec<String> = m
                    .values
                    .iter()
                    .map(|v| format!("{} = {}", v.key, v.value))
                    .collect();
                format!("{}: {}", m.model, values.join("; "))
            })
            .collect()
    }

    #[test]
    fn model_params_between_models_are_listed_once() {
        let table = two_models(&[0.01]);
        let suite = &suite_views(&table, &|_| Vec::new())[0];
        let (model, hw) = (&suite.tables[0], &suite.tables[1]);
        // depth differs only between models, and each model has one baseline: listed per model.
        assert_eq!(
            names(model),
            ["model", "configuration", "accuracy (%)", "seeds"]
        );
        assert_eq!(
            per_model(suite),
            [
                "cnn: baseline accuracy = 90.00 %",
                "vit: depth = 4; baseline accuracy = 80.00 %"
            ]
        );
        assert_eq!(
            column(model, "configuration"),
            ["ptq", "lutboost v=4", "lutboost v=8"].repeat(2)
        );
        assert_eq!(names(hw), ["model", "configuration", "hw", "cycles"]);
        let fixed: Vec<&str> = suite.fixed.iter().map(|f| f.key.as_str()).collect();
        assert!(fixed.contains(&"lr"), "{fixed:?}");
    }

    #[test]
    fn model_params_within_a_model_get_a_column() {
        let table = two_models(&[0.01, 0.02]);
        let suite = &suite_views(&table, &|_| Vec::new())[0];
        let (model, hw) = (&suite.tables[0], &suite.tables[1]);
        assert_eq!(
            names(model),
            [
                "model",
                "model params",
                "configuration",
                "accuracy (%)",
                "baseline accuracy (%)",
                "seeds"
            ]
        );
        assert_eq!(
            column(model, "model params"),
            [
                "", "", "", "lr=0.01", "lr=0.01", "lr=0.01", "lr=0.02", "lr=0.02", "lr=0.02"
            ]
        );
        // The same columns in the hardware table.
        assert_eq!(
            names(hw),
            ["model", "model params", "configuration", "hw", "cycles"]
        );
        assert_eq!(column(hw, "model params")[6..8], ["lr=0.01", "lr=0.01"]);
        // lr differs within vit, so vit lists only its depth; cnn's one lr is listed once.
        assert_eq!(per_model(suite), ["cnn: lr = 0.01", "vit: depth = 4"]);
        assert!(model.caption.contains("model params column"));
    }

    #[test]
    fn one_table_without_hardware_metrics() {
        let mut b = RowsBuilder::new();
        for (v, acc) in [(4i64, 0.9), (8, 0.8)] {
            b.push(vec![
                ("suite", "s".into()),
                ("method", "m".into()),
                ("p_method_v", v.into()),
                ("hwmodel", "lut".into()),
                ("accuracy", acc.into()),
            ]);
        }
        let table = aggregate(&b.build().unwrap()).unwrap();
        let suite = &suite_views(&table, &|_| Vec::new())[0];
        assert_eq!(suite.tables.len(), 1);
        assert_eq!(suite.tables[0].title, MODEL_TITLE);
        assert_eq!(
            names(&suite.tables[0]),
            ["configuration", "accuracy (%)", "seeds"]
        );
        assert_eq!(column(&suite.tables[0], "configuration"), ["v=4", "v=8"]);
    }

    #[test]
    fn declared_metrics_choose_and_order_the_columns() {
        let mut b = RowsBuilder::new();
        for (v, acc) in [(4i64, 0.9), (8, 0.8)] {
            b.push(vec![
                ("suite", "s".into()),
                ("method", "m".into()),
                ("p_method_v", v.into()),
                ("accuracy", acc.into()),
                ("method_a", (v as f64).into()),
                ("method_b", (2.0 * v as f64).into()),
            ]);
        }
        let table = aggregate(&b.build().unwrap()).unwrap();
        let all = &suite_views(&table, &|_| Vec::new())[0];
        assert_eq!(
            names(&all.tables[0]),
            [
                "configuration",
                "accuracy (%)",
                "method_a",
                "method_b",
                "seeds"
            ]
        );
        assert!(all.not_shown.is_empty());
        // Declared order wins; an undeclared metric leaves the table and is named; a declared
        // metric no row carries is skipped.
        let declared = |_: &str| {
            vec![
                "method_b".to_string(),
                "accuracy".into(),
                "energy_pj".into(),
            ]
        };
        let some = &suite_views(&table, &declared)[0];
        assert_eq!(
            names(&some.tables[0]),
            ["configuration", "method_b", "accuracy (%)", "seeds"]
        );
        assert_eq!(some.not_shown, ["method_a"]);
    }
}
