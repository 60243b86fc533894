//! Evaluating a claim's check against the configuration table.

use crate::metrics::{Side, format_value, info, label};
use crate::results::{ConfigTable, hardware_key, short_key};

use super::schema::{
    Aggregate, Check, Direction, Filter, OrderingCheck, RangeCheck, RatioCheck, TrendCheck,
    TrendDirection, describe_filter,
};

/// The verdict of one check: what we measured, and whether the claim holds (`None`: not run).
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub ours: String,
    pub holds: Option<bool>,
}

impl Verdict {
    fn not_run(why: impl Into<String>) -> Self {
        Verdict {
            ours: why.into(),
            holds: None,
        }
    }
}

/// Rows of `table` matching every entry of every filter in `filters`; `Err` names a missing
/// column.
fn select(table: &ConfigTable, filters: &[&Filter]) -> Result<Vec<usize>, String> {
    let mut conds = Vec::new();
    for filter in filters {
        for (column, allowed) in filter.iter() {
            let k = table
                .key_index(column)
                .ok_or_else(|| format!("not run: no column `{column}` in the results"))?;
            conds.push((k, allowed.values()));
        }
    }
    Ok((0..table.rows.len())
        .filter(|&r| {
            conds.iter().all(|(k, allowed)| {
                table.rows[r].keys[*k]
                    .as_deref()
                    .is_some_and(|cell| allowed.iter().any(|a| a.matches(cell)))
            })
        })
        .collect())
}

/// True for metrics of the compressed model (accuracy, bits, `method_*`): the same on every
/// row of an experiment, whatever hardware design or pricing batch (`hw_batch`) it was priced at.
fn model_side(metric: &str) -> bool {
    info(metric).side == Side::Model
}

/// For a model-side `metric`, keeps the first of `rows` per model-side configuration (rows
/// differing only in hardware keys other than `keep` are one experiment priced several
/// times: counting each would multiply "over N configurations" by the number of designs and
/// batches). Hardware metrics keep every row.
fn one_per_experiment(
    t: &ConfigTable,
    rows: Vec<usize>,
    metric: &str,
    keep: Option<usize>,
) -> Vec<usize> {
    if model_side(metric) {
        t.model_configs(&rows, keep)
    } else {
        rows
    }
}

/// Per-configuration means of `metric` over `rows` (configurations without the metric drop out).
fn means(table: &ConfigTable, rows: &[usize], metric: &str) -> Vec<f64> {
    rows.iter()
        .filter_map(|&r| table.stat(r, metric).map(|s| s.mean))
        .collect()
}

/// Restricts `rows` to like-for-like comparisons along key column `k`: a row's *setting* is its
/// other key values (without the hardware keys when `model_side`: a model-side metric does not
/// depend on them, and a design specialized per network, like the LUT accelerator's, would
/// otherwise make every level its own setting); only settings that ran every level of `k` seen
/// in `rows` are kept. Returns the kept rows and (kept settings, all settings), or `Err` when
/// no setting is complete.
fn matched(
    t: &ConfigTable,
    rows: &[usize],
    k: usize,
    covary: &[String],
    model_side: bool,
) -> Result<(Vec<usize>, usize, usize), String> {
    // What makes two rows the same setting: every key but the compared one, the columns that
    // change with it (`covary`), the hardware keys for a model-side metric, and `label`, which
    // names a block of a suite's grid (the c sweep, the metric sweep), not a parameter, so the
    // c=16 point of the metric sweep completes the c sweep's 8 and 32.
    let compared = |i: usize| {
        let name = t.keys[i].as_str();
        i == k
            || name == "label"
            || covary.iter().any(|c| match c.strip_suffix('*') {
                Some(prefix) => name.starts_with(prefix),
                None => c == name,
            })
            || (model_side && hardware_key(name))
    };
    let setting = |r: usize| -> Vec<&Option<String>> {
        t.rows[r]
            .keys
            .iter()
            .enumerate()
            .filter(|(i, _)| !compared(*i))
            .map(|(_, v)| v)
            .collect()
    };
    let mut levels: Vec<&str> = Vec::new();
    let mut settings: Vec<(Vec<&Option<String>>, Vec<&str>)> = Vec::new();
    for &r in rows {
        let Some(level) = t.rows[r].keys[k].as_deref() else {
            continue;
        };
        if !levels.contains(&level) {
            levels.push(level);
        }
        let s = setting(r);
        match settings.iter_mut().find(|(x, _)| *x == s) {
            Some((_, ls)) => {
                if !ls.contains(&level) {
                    ls.push(level);
                }
            }
            None => settings.push((s, vec![level])),
        }
    }
    let complete: Vec<&Vec<&Option<String>>> = settings
        .iter()
        .filter(|(_, ls)| ls.len() == levels.len())
        .map(|(s, _)| s)
        .collect();
    if complete.is_empty() {
        return Err(format!(
            "not run: no setting of the other parameters ran every value of `{}`",
            t.keys[k]
        ));
    }
    let kept = rows
        .iter()
        .copied()
        .filter(|&r| t.rows[r].keys[k].is_some() && complete.contains(&&setting(r)))
        .collect();
    Ok((kept, complete.len(), settings.len()))
}

fn matched_note(kept: usize, all: usize) -> String {
    if kept == all {
        String::new()
    } else {
        format!(" (matched on {kept} of {all} settings)")
    }
}

fn mean(xs: &[f64]) -> f64 {
    xs.iter().sum::<f64>() / xs.len() as f64
}

fn no_rows(metric: &str, filters: &[&Filter]) -> String {
    let parts: Vec<String> = filters
        .iter()
        .filter(|f| !f.is_empty())
        .map(|f| describe_filter(f))
        .collect();
    let what = if parts.is_empty() {
        "all rows".to_string()
    } else {
        parts.join(", ")
    };
    format!("not run: no `{metric}` values for {what}")
}

fn in_bounds(x: f64, min: Option<f64>, max: Option<f64>) -> bool {
    min.is_none_or(|m| x >= m) && max.is_none_or(|m| x <= m)
}

/// Evaluates `check` on `table`, restricted to rows matching `scope` (the paper's rows).
pub fn evaluate(check: &Check, table: &ConfigTable, scope: &Filter) -> Verdict {
    if table.metric_index(check.metric()).is_none() {
        return Verdict::not_run(format!(
            "not run: no column `{}` in the results",
            check.metric()
        ));
    }
    let result = match check {
        Check::Range(c) => range(c, table, scope),
        Check::Ordering(c) => ordering(c, table, scope),
        Check::Trend(c) => trend(c, table, scope),
        Check::Ratio(c) => ratio(c, table, scope),
    };
    result.unwrap_or_else(Verdict::not_run)
}

fn range(c: &RangeCheck, t: &ConfigTable, scope: &Filter) -> Result<Verdict, String> {
    let filters = [scope, &c.filter];
    let rows = one_per_experiment(t, select(t, &filters)?, &c.metric, None);
    let xs = means(t, &rows, &c.metric);
    if xs.is_empty() {
        return Err(no_rows(&c.metric, &filters));
    }
    let lo = xs.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let (value, word) = match c.aggregate {
        Aggregate::Mean => (mean(&xs), "mean"),
        Aggregate::Max => (hi, "max"),
        Aggregate::Min => (lo, "min"),
    };
    let ours = if xs.len() == 1 {
        format!("{} (1 configuration)", format_value(&c.metric, value))
    } else {
        format!(
            "{word} {} over {} configurations (range {} to {})",
            format_value(&c.metric, value),
            xs.len(),
            format_value(&c.metric, lo),
            format_value(&c.metric, hi)
        )
    };
    Ok(Verdict {
        ours,
        holds: Some(in_bounds(value, c.min, c.max)),
    })
}

fn ordering(c: &OrderingCheck, t: &ConfigTable, scope: &Filter) -> Result<Verdict, String> {
    let k = t
        .key_index(&c.by)
        .ok_or_else(|| format!("not run: no column `{}` in the results", c.by))?;
    let by_any: Filter = [(
        c.by.clone(),
        super::schema::FilterValue::Any(c.order.clone()),
    )]
    .into();
    let candidates: Vec<usize> = select(t, &[scope, &c.filter, &by_any])?
        .into_iter()
        .filter(|&r| t.stat(r, &c.metric).is_some())
        .collect();
    let candidates = one_per_experiment(t, candidates, &c.metric, Some(k));
    let mut level_rows = Vec::with_capacity(c.order.len());
    for value in &c.order {
        let rows: Vec<usize> = candidates
            .iter()
            .copied()
            .filter(|&r| {
                t.rows[r].keys[k]
                    .as_deref()
                    .is_some_and(|v| value.matches(v))
            })
            .collect();
        if rows.is_empty() {
            let by: Filter =
                [(c.by.clone(), super::schema::FilterValue::One(value.clone()))].into();
            return Err(no_rows(&c.metric, &[scope, &c.filter, &by]));
        }
        level_rows.push(rows);
    }
    let (kept, n_kept, n_all) = matched(t, &candidates, k, &c.covary, model_side(&c.metric))?;
    let mut levels = Vec::with_capacity(c.order.len());
    for (value, rows) in c.order.iter().zip(&level_rows) {
        let rows: Vec<usize> = rows.iter().copied().filter(|r| kept.contains(r)).collect();
        levels.push((value.to_string(), mean(&means(t, &rows, &c.metric))));
    }
    let mut holds = true;
    let mut ours = String::new();
    let key = short_key(&c.by, &[]);
    for (i, (name, x)) in levels.iter().enumerate() {
        if i > 0 {
            let prev = levels[i - 1].1;
            let ok = match c.direction {
                Direction::Ascending => prev <= x + c.tolerance,
                Direction::Descending => prev + c.tolerance >= *x,
            };
            holds &= ok;
            ours.push_str(match (c.direction, ok) {
                (Direction::Ascending, true) => " ≤ ",
                (Direction::Ascending, false) => " > ",
                (Direction::Descending, true) => " ≥ ",
                (Direction::Descending, false) => " < ",
            });
        }
        ours.push_str(&format!("{key}={name}: {}", format_value(&c.metric, *x)));
    }
    if c.tolerance > 0.0 {
        ours.push_str(&format!(
            " (tolerance {})",
            format_value(&c.metric, c.tolerance)
        ));
    }
    ours.push_str(&matched_note(n_kept, n_all));
    Ok(Verdict {
        ours,
        holds: Some(holds),
    })
}

fn trend(c: &TrendCheck, t: &ConfigTable, scope: &Filter) -> Result<Verdict, String> {
    let filters = [scope, &c.filter];
    let k = t
        .key_index(&c.along)
        .ok_or_else(|| format!("not run: no column `{}` in the results", c.along))?;
    let rows: Vec<usize> = select(t, &filters)?
        .into_iter()
        .filter(|&r| t.stat(r, &c.metric).is_some() && t.rows[r].keys[k].is_some())
        .collect();
    let rows = one_per_experiment(t, rows, &c.metric, Some(k));
    let (rows, n_kept, n_all) = if rows.is_empty() {
        (rows, 0, 0)
    } else {
        matched(t, &rows, k, &c.covary, model_side(&c.metric))?
    };
    // level text -> metric means
    let mut groups: Vec<(String, Vec<f64>)> = Vec::new();
    for &r in &rows {
        let (Some(level), Some(stat)) = (t.rows[r].keys[k].as_deref(), t.stat(r, &c.metric)) else {
            continue;
        };
        match groups.iter_mut().find(|(l, _)| l == level) {
            Some((_, xs)) => xs.push(stat.mean),
            None => groups.push((level.to_string(), vec![stat.mean])),
        }
    }
    if groups.len() < 2 {
        return Err(format!(
            "not run: fewer than two values of `{}` with `{}` for {}",
            c.along,
            c.metric,
            describe_filter(&merge(&filters))
        ));
    }
    let numeric: Option<Vec<f64>> = groups.iter().map(|(l, _)| l.parse().ok()).collect();
    match numeric {
        Some(nums) => {
            let mut idx: Vec<usize> = (0..groups.len()).collect();
            idx.sort_by(|&a, &b| nums[a].total_cmp(&nums[b]));
            groups = idx.into_iter().map(|i| groups[i].clone()).collect();
        }
        None => groups.sort_by(|a, b| a.0.cmp(&b.0)),
    }
    let levels: Vec<f64> = groups.iter().map(|(_, xs)| mean(xs)).collect();
    let sign = match c.direction {
        TrendDirection::Increasing => 1.0,
        TrendDirection::Decreasing => -1.0,
    };
    let steps_ok = levels
        .windows(2)
        .all(|w| sign * (w[1] - w[0]) >= -c.tolerance);
    let net = sign * (levels[levels.len() - 1] - levels[0]) > 0.0;
    let name = short_key(&c.along, &[]);
    let parts: Vec<String> = groups
        .iter()
        .zip(&levels)
        .map(|((l, _), x)| format!("{name}={l}: {}", format_value(&c.metric, *x)))
        .collect();
    Ok(Verdict {
        ours: format!("{}{}", parts.join(", "), matched_note(n_kept, n_all)),
        holds: Some(steps_ok && net),
    })
}

fn merge(filters: &[&Filter]) -> Filter {
    let mut out = Filter::new();
    for f in filters {
        out.extend(f.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    out
}

fn ratio(c: &RatioCheck, t: &ConfigTable, scope: &Filter) -> Result<Verdict, String> {
    let num_f = [scope, &c.filter, &c.numerator];
    let den_f = [scope, &c.filter, &c.denominator];
    let num = means(
        t,
        &one_per_experiment(t, select(t, &num_f)?, &c.metric, None),
        &c.metric,
    );
    let den = means(
        t,
        &one_per_experiment(t, select(t, &den_f)?, &c.metric, None),
        &c.metric,
    );
    if num.is_empty() {
        return Err(no_rows(&c.metric, &num_f));
    }
    if den.is_empty() {
        return Err(no_rows(&c.metric, &den_f));
    }
    let (n, d) = (mean(&num), mean(&den));
    if d == 0.0 {
        return Err(format!(
            "not run: `{}` is zero for {}",
            c.metric,
            describe_filter(&c.denominator)
        ));
    }
    let r = n / d;
    Ok(Verdict {
        ours: format!(
            "{}× ({}: {} vs {})",
            crate::metrics::sig3(r),
            label(&c.metric),
            format_value(&c.metric, n),
            format_value(&c.metric, d)
        ),
        holds: Some(in_bounds(r, c.min, c.max)),
    })
}
