//! Evaluating an entry's check on the configuration table: one [`Piece`] of evidence per
//! configuration (range, ratio) or per matched setting (ordering, trend), each with its own
//! verdict, combined by the entry's [`Rule`].
//!
//! Noise: a comparison counts only when it is at least the check's `min_effect` and, when both
//! sides have ≥ 2 seeds, Welch's t-test finds it significant at 95 %; otherwise it is
//! inconclusive. A range or ratio value within the noise of a bound is inconclusive too.

use serde::Serialize;

use crate::metrics::{Side, format_value, info, label, sig3};
use crate::results::{ConfigTable, Stat, hardware_key, short_key};
use crate::stats::welch_differs;

use super::schema::{
    Check, Direction, Evidence, Filter, FilterValue, MinEffect, OrderingCheck, RangeCheck,
    RatioCheck, Rule, TrendCheck, TrendDirection, describe_filter, merged,
};

/// The four verdicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Holds,
    /// "does not hold".
    Fails,
    /// Inside the noise (seeds, test-set size) or below the stated minimum effect.
    Inconclusive,
    /// A column is missing or a filter selects nothing.
    NotRun,
}

impl Verdict {
    /// The words a report prints.
    pub fn words(self) -> &'static str {
        match self {
            Verdict::Holds => "holds",
            Verdict::Fails => "does not hold",
            Verdict::Inconclusive => "inconclusive",
            Verdict::NotRun => "not run",
        }
    }
}

/// Every piece holds: one that does not hold fails the whole; all not run is not run; any
/// other mix (inconclusive or not-run pieces beside holding ones) is inconclusive.
pub fn combine_all(vs: &[Verdict]) -> Verdict {
    if vs.is_empty() || vs.iter().all(|v| *v == Verdict::NotRun) {
        Verdict::NotRun
    } else if vs.contains(&Verdict::Fails) {
        Verdict::Fails
    } else if vs.iter().all(|v| *v == Verdict::Holds) {
        Verdict::Holds
    } else {
        Verdict::Inconclusive
    }
}

/// One piece holds: holds; else one inconclusive: inconclusive; else one fails: fails.
pub fn combine_any(vs: &[Verdict]) -> Verdict {
    for v in [Verdict::Holds, Verdict::Inconclusive, Verdict::Fails] {
        if vs.contains(&v) {
            return v;
        }
    }
    Verdict::NotRun
}

/// One piece of evidence: a configuration (range, ratio) or a matched setting (ordering,
/// trend).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Piece {
    /// Which rows: the evidence's filter and the configuration or setting.
    pub selection: String,
    /// The paper's number (the entry's).
    pub paper: String,
    pub ours: String,
    pub verdict: Verdict,
    /// False for pieces outside an `at:` operating point: shown, but not deciding.
    pub decides: bool,
    /// A configuration of the piece (the first), for `at:` matching.
    #[serde(skip)]
    pub row: Option<usize>,
}

/// What [`evaluate`] found: the pieces and the verdict under the rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    pub pieces: Vec<Piece>,
    pub verdict: Verdict,
    /// A one-line summary of our numbers.
    pub ours: String,
    /// The noise rule in words (`min effect 1 SE at 2000 test images`), empty when exact.
    pub noise: String,
}

/// Run-wide facts a check needs beyond the table.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct EvalContext {
    /// Test images accuracy was measured on (env.json), for `{standard_errors: k}`.
    pub test_examples: Option<usize>,
}

fn not_run_piece(selection: String, paper: &str, why: String) -> Piece {
    Piece {
        selection,
        paper: paper.to_string(),
        ours: why,
        verdict: Verdict::NotRun,
        decides: true,
        row: None,
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

/// True when row `r` matches `filter` (a missing column never matches).
fn row_matches(t: &ConfigTable, r: usize, filter: &Filter) -> bool {
    filter.iter().all(|(column, allowed)| {
        t.key(r, column)
            .is_some_and(|cell| allowed.values().iter().any(|a| a.matches(cell)))
    })
}

/// True for metrics of the compressed model (accuracy, bits, `method_*`): the same on every
/// row of an experiment, whatever hardware design or pricing batch it was priced at.
fn model_side(metric: &str) -> bool {
    info(metric).side == Side::Model
}

/// For a model-side `metric`, keeps the first of `rows` per model-side configuration (rows
/// differing only in hardware keys other than `keep` are one experiment priced several
/// times). Hardware metrics keep every row.
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

/// The noise margin of a comparison in the metric's stored unit: the check's `min_effect`, a
/// test-set standard error sized at accuracy `p` (a fraction).
fn margin(me: Option<MinEffect>, metric: &str, p: f64, ctx: &EvalContext) -> Result<f64, String> {
    match me {
        None => Ok(0.0),
        Some(MinEffect::Value(x)) => Ok(x),
        Some(MinEffect::TestSet { standard_errors }) => {
            let n = ctx.test_examples.ok_or_else(|| {
                "not run: the test-set size is unknown (env.json has no test_examples)".to_string()
            })?;
            let p = if p.is_finite() {
                p.clamp(0.0, 1.0)
            } else {
                0.5
            };
            let se = (p * (1.0 - p) / n.max(1) as f64).sqrt() * standard_errors;
            Ok(if metric == "accuracy_drop" {
                se * 100.0
            } else {
                se
            })
        }
    }
}

/// The noise rule in words.
fn noise_words(me: Option<MinEffect>, metric: &str, ctx: &EvalContext) -> String {
    match me {
        None | Some(MinEffect::Value(0.0)) => String::new(),
        Some(MinEffect::Value(x)) => format!("min effect {}", format_value(metric, x)),
        Some(MinEffect::TestSet { standard_errors }) => {
            let n = ctx
                .test_examples
                .map_or("unknown".to_string(), |n| n.to_string());
            format!("min effect {standard_errors} SE of an accuracy at {n} test images")
        }
    }
}

/// Mean accuracy (a fraction) of rows, for sizing a test-set standard error: the `accuracy`
/// column, else 1 − drop/100, else 0.5 (the largest error).
fn accuracy_of(t: &ConfigTable, rows: &[usize]) -> f64 {
    let xs: Vec<f64> = rows
        .iter()
        .filter_map(|&r| {
            t.stat(r, "accuracy").map(|s| s.mean).or_else(|| {
                t.stat(r, "baseline_accuracy")
                    .zip(t.stat(r, "accuracy_drop"))
                    .map(|(b, d)| b.mean - d.mean / 100.0)
            })
        })
        .collect();
    if xs.is_empty() {
        0.5
    } else {
        xs.iter().sum::<f64>() / xs.len() as f64
    }
}

/// Compares `b` against `a`: the claimed direction is `sign · (b − a) > 0`.
fn compare(a: Stat, b: Stat, sign: f64, m: f64) -> Verdict {
    let d = sign * (b.mean - a.mean);
    let significant = match (a.std, b.std) {
        (Some(sa), Some(sb)) if a.n >= 2 && b.n >= 2 => {
            welch_differs((a.mean, sa, a.n), (b.mean, sb, b.n))
        }
        _ => true,
    };
    if significant && d > 0.0 && d >= m {
        Verdict::Holds
    } else if significant && d < 0.0 && -d >= m {
        Verdict::Fails
    } else {
        Verdict::Inconclusive
    }
}

/// `x` (with its CI over seeds) against `[min, max]` with noise margin `m`.
fn in_range(x: Stat, min: Option<f64>, max: Option<f64>, m: f64) -> Verdict {
    let noise = m.max(x.ci95.unwrap_or(0.0));
    let out = [min.map(|lo| lo - x.mean), max.map(|hi| x.mean - hi)]
        .into_iter()
        .flatten()
        .fold(f64::NEG_INFINITY, f64::max);
    if out > noise {
        Verdict::Fails
    } else if out <= -noise {
        Verdict::Holds
    } else {
        Verdict::Inconclusive
    }
}

fn mark(v: Verdict) -> &'static str {
    match v {
        Verdict::Holds => "✓",
        Verdict::Fails => "✗",
        Verdict::Inconclusive => "≈",
        Verdict::NotRun => "–",
    }
}

/// Evaluates the entry's `check` over each of its `evidence` selections, restricted to rows
/// matching `scope` (the paper's rows), and combines the pieces by `rule`.
pub fn evaluate(
    check: &Check,
    evidence: &[Evidence],
    rule: &Rule,
    paper: &str,
    table: &ConfigTable,
    scope: &Filter,
    ctx: &EvalContext,
) -> Evaluation {
    let default = [Evidence::default()];
    let evidence = if evidence.is_empty() {
        &default[..]
    } else {
        evidence
    };
    let multi = evidence.len() > 1;
    let mut pieces = Vec::new();
    for ev in evidence {
        let prefix = if ev.filter.is_empty() && ev.denominator.is_none() && ev.order.is_none() {
            String::new()
        } else {
            let mut p = if ev.filter.is_empty() {
                String::new()
            } else {
                describe_filter(&ev.filter)
            };
            if let Some(o) = &ev.order {
                let o: Vec<String> = o.iter().map(ToString::to_string).collect();
                let o = o.join(" vs ");
                p = if p.is_empty() { o } else { format!("{p}; {o}") };
            }
            if let Some(d) = &ev.denominator {
                p = if p.is_empty() {
                    format!("vs {}", describe_filter(d))
                } else {
                    format!("{p} vs {}", describe_filter(d))
                };
            }
            p
        };
        let got = if table.metric_index(check.metric()).is_none() {
            Err(format!(
                "not run: no column `{}` in the results",
                check.metric()
            ))
        } else {
            match check {
                Check::Range(c) => range(c, ev, paper, table, scope, ctx),
                Check::Ratio(c) => ratio(c, ev, paper, table, scope, ctx),
                Check::Ordering(c) => ordering(c, ev, paper, table, scope, ctx),
                Check::Trend(c) => trend(c, ev, paper, table, scope, ctx),
            }
        };
        match got {
            Ok(mut ps) => {
                for p in &mut ps {
                    p.selection = match (prefix.is_empty(), p.selection.is_empty()) {
                        (true, true) => "all selected rows".into(),
                        (true, false) => p.selection.clone(),
                        (false, true) => prefix.clone(),
                        (false, false) => format!("{prefix}; {}", p.selection),
                    };
                }
                pieces.extend(ps);
            }
            Err(why) => pieces.push(not_run_piece(
                if prefix.is_empty() && !multi {
                    "all selected rows".into()
                } else {
                    prefix
                },
                paper,
                why,
            )),
        }
    }
    if let Rule::At(at) = rule {
        for p in &mut pieces {
            p.decides = p.row.is_some_and(|r| row_matches(table, r, at));
        }
    }
    let deciding: Vec<Verdict> = pieces
        .iter()
        .filter(|p| p.decides)
        .map(|p| p.verdict)
        .collect();
    let verdict = match rule {
        Rule::All | Rule::At(_) => combine_all(&deciding),
        Rule::Any => combine_any(&deciding),
    };
    let ours = summarize(check, rule, &pieces, table);
    Evaluation {
        noise: noise_words(check.min_effect(), check.metric(), ctx),
        pieces,
        verdict,
        ours,
    }
}

/// The claim-level "ours": the deciding piece's text when there is one, else the range of
/// values and the count of verdicts.
fn summarize(check: &Check, rule: &Rule, pieces: &[Piece], _t: &ConfigTable) -> String {
    let deciding: Vec<&Piece> = pieces.iter().filter(|p| p.decides).collect();
    if deciding.is_empty() {
        return match rule {
            Rule::At(at) => format!(
                "not run: no configuration at the operating point {}",
                describe_filter(at)
            ),
            _ => "not run".into(),
        };
    }
    if deciding.len() == 1 {
        return deciding[0].ours.clone();
    }
    let count = |v: Verdict| deciding.iter().filter(|p| p.verdict == v).count();
    let mut parts = Vec::new();
    for v in [
        Verdict::Holds,
        Verdict::Fails,
        Verdict::Inconclusive,
        Verdict::NotRun,
    ] {
        let n = count(v);
        let words = match (v, n) {
            (Verdict::Holds, 1) => "holds",
            (Verdict::Holds, _) => "hold",
            (Verdict::Fails, 1) => "does not hold",
            (Verdict::Fails, _) => "do not hold",
            _ => v.words(),
        };
        if n > 0 {
            parts.push(format!("{n} {words}"));
        }
    }
    let noun = match check {
        Check::Range(_) => "configurations",
        Check::Ratio(_) => "comparisons",
        _ => "settings",
    };
    let values: Vec<f64> = deciding.iter().filter_map(|p| value_of(&p.ours)).collect();
    let span =
        if values.len() == deciding.len() && matches!(check, Check::Range(_) | Check::Ratio(_)) {
            let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            match check {
                Check::Ratio(_) => format!("{}–{}×, ", sig3(lo), sig3(hi)),
                _ => format!(
                    "{} to {}, ",
                    format_value(check.metric(), lo),
                    format_value(check.metric(), hi)
                ),
            }
        } else {
            String::new()
        };
    format!("{span}{} {noun}: {}", deciding.len(), parts.join(", "))
}

/// The leading number of a piece's `ours` text (written by this module: value first).
fn value_of(ours: &str) -> Option<f64> {
    let head: String = ours
        .chars()
        .take_while(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | 'e'))
        .collect();
    head.parse().ok()
}

/// One piece per selected configuration.
fn range(
    c: &RangeCheck,
    ev: &Evidence,
    paper: &str,
    t: &ConfigTable,
    scope: &Filter,
    ctx: &EvalContext,
) -> Result<Vec<Piece>, String> {
    let filters = [scope, &c.filter, &ev.filter];
    let rows: Vec<usize> = one_per_experiment(t, select(t, &filters)?, &c.metric, None)
        .into_iter()
        .filter(|&r| t.stat(r, &c.metric).is_some())
        .collect();
    if rows.is_empty() {
        return Err(no_rows(&c.metric, &filters));
    }
    let filtered = merged(&c.filter, &ev.filter);
    // A model-side value does not depend on the hardware it was priced on, and model
    // parameters only restate the model: neither names the configuration.
    let quiet = |k: &str| model_side(&c.metric) && (hardware_key(k) || k.starts_with("p_model_"));
    let skip: Vec<&str> = filtered
        .iter()
        .filter(|(_, v)| v.values().len() == 1)
        .map(|(k, _)| k.as_str())
        .chain(["paper"])
        .chain(t.keys.iter().map(String::as_str).filter(|k| quiet(k)))
        .collect();
    let names = t.describe(&rows, &skip);
    let mut out = Vec::new();
    for (&r, name) in rows.iter().zip(names) {
        let x = t.stat(r, &c.metric).expect("filtered");
        let m = margin(c.min_effect, &c.metric, accuracy_of(t, &[r]), ctx)?;
        let verdict = in_range(x, c.min, c.max, m);
        let mut ours = format_value(&c.metric, x.mean);
        if let Some(ci) = x.ci95 {
            ours.push_str(&format!(" ± {}", format_value(&c.metric, ci)));
        }
        if m > 0.0 && verdict == Verdict::Inconclusive {
            ours.push_str(&format!(
                " (within {} of a bound)",
                format_value(&c.metric, m.max(x.ci95.unwrap_or(0.0)))
            ));
        }
        out.push(Piece {
            selection: if rows.len() == 1 { String::new() } else { name },
            paper: paper.to_string(),
            ours,
            verdict,
            decides: true,
            row: Some(r),
        });
    }
    Ok(out)
}

/// One piece per numerator configuration, against the one denominator configuration.
fn ratio(
    c: &RatioCheck,
    ev: &Evidence,
    paper: &str,
    t: &ConfigTable,
    scope: &Filter,
    ctx: &EvalContext,
) -> Result<Vec<Piece>, String> {
    let num = ev.numerator.as_ref().unwrap_or(&c.numerator);
    let den = ev.denominator.as_ref().unwrap_or(&c.denominator);
    let num_f = [scope, &c.filter, &ev.filter, num];
    let den_f = [scope, &c.filter, &ev.filter, den];
    let den_metric = c.denominator_metric.as_deref().unwrap_or(&c.metric);
    let with_metric = |rows: Vec<usize>, metric: &str| -> Vec<usize> {
        one_per_experiment(t, rows, metric, None)
            .into_iter()
            .filter(|&r| t.stat(r, metric).is_some())
            .collect()
    };
    let num_rows = with_metric(select(t, &num_f)?, &c.metric);
    let den_rows = with_metric(select(t, &den_f)?, den_metric);
    if num_rows.is_empty() {
        return Err(no_rows(&c.metric, &num_f));
    }
    if den_rows.is_empty() {
        return Err(no_rows(den_metric, &den_f));
    }
    if den_rows.len() > 1 {
        let names = t.describe(&den_rows, &["paper"]);
        return Err(format!(
            "not run: the denominator matches {} configurations ({}); pin it to one",
            den_rows.len(),
            names.join("; ")
        ));
    }
    let d = t.stat(den_rows[0], den_metric).expect("filtered");
    if d.mean == 0.0 {
        return Err(format!(
            "not run: `{}` is zero for {}",
            den_metric,
            describe_filter(den)
        ));
    }
    let m = margin(c.min_effect, &c.metric, 0.5, ctx)?;
    let filtered = merged(&merged(&c.filter, &ev.filter), num);
    let skip: Vec<&str> = filtered
        .iter()
        .filter(|(_, v)| v.values().len() == 1)
        .map(|(k, _)| k.as_str())
        .chain(["paper"])
        .collect();
    let names = t.describe(&num_rows, &skip);
    let mut out = Vec::new();
    for (&r, name) in num_rows.iter().zip(names) {
        let n = t.stat(r, &c.metric).expect("filtered");
        let x = n.mean / d.mean;
        let verdict = in_range(
            Stat {
                mean: x,
                ci95: None,
                std: None,
                n: 1,
            },
            c.min,
            c.max,
            m,
        );
        out.push(Piece {
            selection: if num_rows.len() == 1 {
                String::new()
            } else {
                name
            },
            paper: paper.to_string(),
            ours: if den_metric == c.metric {
                format!(
                    "{}× ({}: {} vs {})",
                    sig3(x),
                    label(&c.metric),
                    format_value(&c.metric, n.mean),
                    format_value(&c.metric, d.mean)
                )
            } else {
                format!(
                    "{}× ({} {} vs {} {})",
                    sig3(x),
                    label(&c.metric),
                    format_value(&c.metric, n.mean),
                    label(den_metric),
                    format_value(den_metric, d.mean)
                )
            },
            verdict,
            decides: true,
            row: Some(r),
        });
    }
    Ok(out)
}

/// Groups `rows` into settings for like-for-like comparisons along key column `k`: a row's
/// setting is its other key values, without `label` (it names a block of a suite's grid, not
/// a parameter: the c=16 point of the metric sweep completes the c sweep's 8 and 32), the
/// `covary` columns, and the hardware keys when `model_side`. Only settings that ran every
/// level of `k` seen in `rows` are returned, each with its rows. `Err` when none is complete.
fn settings(
    t: &ConfigTable,
    rows: &[usize],
    k: usize,
    covary: &[String],
    model_side: bool,
) -> Result<(Vec<Vec<usize>>, usize), String> {
    let compared = |i: usize| {
        let name = t.keys[i].as_str();
        i == k
            || name == "label"
            || name == crate::results::DERIVED_KEY
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
    let mut groups: Vec<(Vec<&Option<String>>, Vec<&str>, Vec<usize>)> = Vec::new();
    for &r in rows {
        let Some(level) = t.rows[r].keys[k].as_deref() else {
            continue;
        };
        if !levels.contains(&level) {
            levels.push(level);
        }
        let s = setting(r);
        match groups.iter_mut().find(|(x, _, _)| *x == s) {
            Some((_, ls, rs)) => {
                if !ls.contains(&level) {
                    ls.push(level);
                }
                rs.push(r);
            }
            None => groups.push((s, vec![level], vec![r])),
        }
    }
    let all = groups.len();
    let complete: Vec<Vec<usize>> = groups
        .into_iter()
        .filter(|(_, ls, _)| ls.len() == levels.len())
        .map(|(_, _, rs)| rs)
        .collect();
    if complete.is_empty() {
        return Err(format!(
            "not run: no setting of the other parameters ran every value of `{}`",
            t.keys[k]
        ));
    }
    Ok((complete, all))
}

/// Ordered levels of one setting: (level text, its configurations' rows).
type Levels = Vec<(String, Vec<usize>)>;

/// Compares consecutive levels (every configuration of one against every configuration of
/// the next), the claimed direction being `sign · (next − previous) > 0`; returns the piece's
/// verdict and its text (`c=8: 88.1 % < c=16: 89.5 %`, `≈` for an inconclusive step).
fn steps(
    t: &ConfigTable,
    metric: &str,
    name: &str,
    levels: &Levels,
    sign: f64,
    me: Option<MinEffect>,
    ctx: &EvalContext,
) -> Result<(Verdict, String), String> {
    let value = |rows: &[usize]| -> String {
        rows.iter()
            .filter_map(|&r| t.stat(r, metric))
            .map(|s| match s.ci95 {
                Some(ci) => format!(
                    "{} ± {}",
                    format_value(metric, s.mean),
                    format_value(metric, ci)
                ),
                None => format_value(metric, s.mean),
            })
            .collect::<Vec<_>>()
            .join(" / ")
    };
    let mut verdicts = Vec::new();
    let mut text = format!("{name}={}: {}", levels[0].0, value(&levels[0].1));
    let mut noise = 0.0f64;
    for w in levels.windows(2) {
        let mut step = Vec::new();
        for &a in &w[0].1 {
            for &b in &w[1].1 {
                let (sa, sb) = (
                    t.stat(a, metric).expect("filtered"),
                    t.stat(b, metric).expect("filtered"),
                );
                let m = margin(me, metric, accuracy_of(t, &[a, b]), ctx)?;
                noise = noise.max(m);
                step.push(compare(sa, sb, sign, m));
            }
        }
        let v = combine_all(&step);
        let sym = match (v, sign > 0.0) {
            (Verdict::Holds, true) | (Verdict::Fails, false) => " < ",
            (Verdict::Holds, false) | (Verdict::Fails, true) => " > ",
            _ => " ≈ ",
        };
        text.push_str(&format!("{sym}{name}={}: {}", w[1].0, value(&w[1].1)));
        verdicts.push(v);
    }
    if noise > 0.0 {
        text.push_str(&format!(" (min effect {})", format_value(metric, noise)));
    }
    Ok((combine_all(&verdicts), text))
}

/// The rows of each setting, split by level in `order` (levels missing from a setting were
/// filtered out by [`settings`]).
fn setting_pieces(
    t: &ConfigTable,
    metric: &str,
    k: usize,
    all_settings: &[Vec<usize>],
    n_all: usize,
    order: &dyn Fn(&ConfigTable, &[usize]) -> Levels,
    sign: f64,
    me: Option<MinEffect>,
    paper: &str,
    skip: &[&str],
    ctx: &EvalContext,
) -> Result<Vec<Piece>, String> {
    let name = short_key(&t.keys[k], &[]);
    let firsts: Vec<usize> = all_settings.iter().map(|rs| rs[0]).collect();
    let names = t.describe(&firsts, skip);
    let mut out = Vec::new();
    for (rows, sname) in all_settings.iter().zip(names) {
        let levels = order(t, rows);
        let (verdict, mut ours) = steps(t, metric, &name, &levels, sign, me, ctx)?;
        if all_settings.len() == 1 && n_all > 1 {
            ours.push_str(&format!(" (matched on 1 of {n_all} settings)"));
        }
        out.push(Piece {
            selection: if all_settings.len() == 1 {
                String::new()
            } else {
                sname
            },
            paper: paper.to_string(),
            ours,
            verdict,
            decides: true,
            row: Some(rows[0]),
        });
    }
    Ok(out)
}

fn ordering(
    c: &OrderingCheck,
    ev: &Evidence,
    paper: &str,
    t: &ConfigTable,
    scope: &Filter,
    ctx: &EvalContext,
) -> Result<Vec<Piece>, String> {
    let k = t
        .key_index(&c.by)
        .ok_or_else(|| format!("not run: no column `{}` in the results", c.by))?;
    let order_values = ev.order.as_ref().unwrap_or(&c.order);
    let by_any: Filter = [(c.by.clone(), FilterValue::Any(order_values.clone()))].into();
    let candidates: Vec<usize> = select(t, &[scope, &c.filter, &ev.filter, &by_any])?
        .into_iter()
        .filter(|&r| t.stat(r, &c.metric).is_some())
        .collect();
    let candidates = one_per_experiment(t, candidates, &c.metric, Some(k));
    for value in order_values {
        if !candidates.iter().any(|&r| {
            t.rows[r].keys[k]
                .as_deref()
                .is_some_and(|v| value.matches(v))
        }) {
            let by: Filter = [(c.by.clone(), FilterValue::One(value.clone()))].into();
            return Err(no_rows(&c.metric, &[scope, &c.filter, &ev.filter, &by]));
        }
    }
    let (groups, n_all) = settings(t, &candidates, k, &c.covary, model_side(&c.metric))?;
    let order = order_values.clone();
    let split = move |t: &ConfigTable, rows: &[usize]| -> Levels {
        order
            .iter()
            .map(|value| {
                (
                    value.to_string(),
                    rows.iter()
                        .copied()
                        .filter(|&r| {
                            t.rows[r].keys[k]
                                .as_deref()
                                .is_some_and(|v| value.matches(v))
                        })
                        .collect(),
                )
            })
            .collect()
    };
    // Ascending: each next level's metric is larger.
    let sign = match c.direction {
        Direction::Ascending => 1.0,
        Direction::Descending => -1.0,
    };
    let skip = skip_columns(t, k, &c.covary, &[&c.filter, &ev.filter]);
    let skip: Vec<&str> = skip.iter().map(String::as_str).collect();
    setting_pieces(
        t,
        &c.metric,
        k,
        &groups,
        n_all,
        &split,
        sign,
        c.min_effect,
        paper,
        &skip,
        ctx,
    )
}

/// Columns left out of a setting's name: the compared one, `label`, the covarying ones, the
/// filtered ones and `paper`.
fn skip_columns(t: &ConfigTable, k: usize, covary: &[String], filters: &[&Filter]) -> Vec<String> {
    let mut out: Vec<String> = vec![
        t.keys[k].clone(),
        "label".into(),
        "paper".into(),
        crate::results::DERIVED_KEY.into(),
    ];
    for name in &t.keys {
        if covary.iter().any(|c| match c.strip_suffix('*') {
            Some(prefix) => name.starts_with(prefix),
            None => c == name,
        }) {
            out.push(name.clone());
        }
    }
    // A column filtered to one value names nothing; one filtered to several still varies.
    for f in filters {
        out.extend(
            f.iter()
                .filter(|(_, v)| v.values().len() == 1)
                .map(|(k, _)| k.clone()),
        );
    }
    out
}

fn trend(
    c: &TrendCheck,
    ev: &Evidence,
    paper: &str,
    t: &ConfigTable,
    scope: &Filter,
    ctx: &EvalContext,
) -> Result<Vec<Piece>, String> {
    let filters = [scope, &c.filter, &ev.filter];
    let k = t
        .key_index(&c.along)
        .ok_or_else(|| format!("not run: no column `{}` in the results", c.along))?;
    let rows: Vec<usize> = select(t, &filters)?
        .into_iter()
        .filter(|&r| t.stat(r, &c.metric).is_some() && t.rows[r].keys[k].is_some())
        .collect();
    let rows = one_per_experiment(t, rows, &c.metric, Some(k));
    let mut levels: Vec<String> = Vec::new();
    for &r in &rows {
        let l = t.rows[r].keys[k].clone().expect("filtered");
        if !levels.contains(&l) {
            levels.push(l);
        }
    }
    if levels.len() < 2 {
        return Err(format!(
            "not run: fewer than two values of `{}` with `{}` for {}",
            c.along,
            c.metric,
            describe_filter(&merged(&merged(scope, &c.filter), &ev.filter))
        ));
    }
    let numeric: Option<Vec<f64>> = levels.iter().map(|l| l.parse().ok()).collect();
    match numeric {
        Some(nums) => {
            let mut idx: Vec<usize> = (0..levels.len()).collect();
            idx.sort_by(|&a, &b| nums[a].total_cmp(&nums[b]));
            levels = idx.into_iter().map(|i| levels[i].clone()).collect();
        }
        None => levels.sort(),
    }
    let (groups, n_all) = settings(t, &rows, k, &c.covary, model_side(&c.metric))?;
    let split = move |t: &ConfigTable, rows: &[usize]| -> Levels {
        levels
            .iter()
            .map(|l| {
                (
                    l.clone(),
                    rows.iter()
                        .copied()
                        .filter(|&r| t.rows[r].keys[k].as_deref() == Some(l.as_str()))
                        .collect(),
                )
            })
            .collect()
    };
    let sign = match c.direction {
        TrendDirection::Increasing => 1.0,
        TrendDirection::Decreasing => -1.0,
    };
    let skip = skip_columns(t, k, &c.covary, &[&c.filter, &ev.filter]);
    let skip: Vec<&str> = skip.iter().map(String::as_str).collect();
    setting_pieces(
        t,
        &c.metric,
        k,
        &groups,
        n_all,
        &split,
        sign,
        c.min_effect,
        paper,
        &skip,
        ctx,
    )
}

/// `✓ holds` etc. (for text outputs).
pub fn verdict_mark(v: Verdict) -> &'static str {
    mark(v)
}
