//! SVG charts drawn with plotters' SVG backend and no font library: text is emitted as SVG
//! `<text>` (escaped by plotters) and laid out by the viewer. One module per chart kind; each
//! returns no figure when the results lack its columns.

mod accuracy_bits;
mod bars;
mod drop_by_method;
mod dse;
mod efficiency;
pub mod families;
mod layers;
mod scatter;

use plotters::style::RGBColor;

use crate::error::ReportError;
use crate::results::ConfigTable;

/// Width of every chart in px (readable in an 800 px column).
pub const WIDTH: u32 = 800;
/// Height of every chart in px.
pub const HEIGHT: u32 = 500;
/// Font family for all chart text; resolved by the SVG viewer.
pub(crate) const FONT: &str = "sans-serif";

/// One drawn chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    /// File stem, unique in a report: `figures/<name>.svg`.
    pub name: String,
    pub title: String,
    /// What is plotted and how whiskers/fronts are computed.
    pub caption: String,
    /// A complete SVG document.
    pub svg: String,
}

/// Every chart the results support, in report order.
pub fn all(table: &ConfigTable) -> Result<Vec<Figure>, ReportError> {
    let mut out = Vec::new();
    out.extend(accuracy_bits::figure(table)?);
    out.extend(drop_by_method::figure(table)?);
    out.extend(efficiency::figures(table)?);
    out.extend(families::figures(table)?);
    out.extend(dse::figure(table)?);
    out.extend(layers::figures(table)?);
    // Names may carry column names from a results file: keep them safe as file names.
    let mut seen: Vec<String> = Vec::new();
    for f in &mut out {
        let mut name: String = f
            .name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '-'
                }
            })
            .collect();
        while seen.contains(&name) {
            name.push('_');
        }
        seen.push(name.clone());
        f.name = name;
    }
    Ok(out)
}

/// The SVG of `figure` for inlining into HTML: the `xmlns` attribute (the only URL plotters
/// writes) is dropped, since HTML's parser puts `<svg>` in the SVG namespace by itself.
pub fn inline_svg(svg: &str) -> String {
    svg.replacen(r#" xmlns="http://www.w3.org/2000/svg""#, "", 1)
}

/// Rows that have every metric in `metrics`.
pub(crate) fn rows_with(table: &ConfigTable, metrics: &[&str]) -> Vec<usize> {
    (0..table.rows.len())
        .filter(|&r| metrics.iter().all(|m| table.stat(r, m).is_some()))
        .collect()
}

/// Keeps one row per model-side configuration: rows that differ only in hardware columns
/// (`hwmodel`, `hw_label`, `hw_batch`, `p_hw_*`) carry the same accuracy and would count twice.
pub(crate) fn model_configs(table: &ConfigTable, rows: &[usize]) -> Vec<usize> {
    table.model_configs(rows, None)
}

/// The first of `alternatives` that the table has (e.g. `label`, else `method`), so a series
/// is not named twice by two columns that say the same thing.
pub(crate) fn first_key<'a>(table: &ConfigTable, alternatives: &[&'a str]) -> &'a str {
    alternatives
        .iter()
        .copied()
        .find(|c| table.key_index(c).is_some())
        .unwrap_or(alternatives[0])
}

/// Groups `rows` by the values of `columns` (missing columns ignored), in first-appearance
/// order. A group's name joins the values of the columns that vary across all `rows`
/// (or the first column's value when none varies); null values print as `—`.
pub(crate) fn group_rows(
    table: &ConfigTable,
    rows: &[usize],
    columns: &[&str],
) -> Vec<(String, Vec<usize>)> {
    let ks: Vec<usize> = columns.iter().filter_map(|c| table.key_index(c)).collect();
    let varying: Vec<usize> = {
        let v = table.varying_keys(rows);
        let named: Vec<usize> = ks.iter().copied().filter(|k| v.contains(k)).collect();
        if named.is_empty() {
            ks.iter().copied().take(1).collect()
        } else {
            named
        }
    };
    let mut groups: Vec<(Vec<Option<String>>, String, Vec<usize>)> = Vec::new();
    for &r in rows {
        let id: Vec<Option<String>> = ks.iter().map(|&k| table.rows[r].keys[k].clone()).collect();
        match groups.iter_mut().find(|g| g.0 == id) {
            Some(g) => g.2.push(r),
            None => {
                let name = varying
                    .iter()
                    .map(|&k| {
                        let v = table.rows[r].keys[k].as_deref().unwrap_or("—");
                        // A bare number would not say what it is.
                        if table.keys[k] == "hw_batch" {
                            format!("batch {v}")
                        } else {
                            v.to_string()
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(" ");
                groups.push((id, name, vec![r]));
            }
        }
    }
    groups.into_iter().map(|(_, n, rs)| (n, rs)).collect()
}

/// Colour-blind-safe palette (Okabe-Ito, then greys).
pub(crate) fn color(i: usize) -> RGBColor {
    const P: [RGBColor; 8] = [
        RGBColor(0, 114, 178),
        RGBColor(230, 159, 0),
        RGBColor(0, 158, 115),
        RGBColor(204, 121, 167),
        RGBColor(86, 180, 233),
        RGBColor(213, 94, 0),
        RGBColor(120, 120, 120),
        RGBColor(0, 0, 0),
    ];
    P[i % P.len()]
}

pub(crate) fn chart_error(name: &str, e: impl std::fmt::Display) -> ReportError {
    ReportError::Chart {
        name: name.to_string(),
        message: e.to_string(),
    }
}

/// Indices of the Pareto-optimal points, sorted by x. `max_x`/`max_y` say which direction is
/// better on each axis. A point is dropped when another is at least as good on both axes and
/// better on one.
pub fn pareto_front(points: &[(f64, f64)], max_x: bool, max_y: bool) -> Vec<usize> {
    let better = |a: f64, b: f64, max: bool| if max { a >= b } else { a <= b };
    let strictly = |a: f64, b: f64, max: bool| if max { a > b } else { a < b };
    let mut front: Vec<usize> = (0..points.len())
        .filter(|&i| {
            let (xi, yi) = points[i];
            !points.iter().enumerate().any(|(j, &(xj, yj))| {
                j != i
                    && better(xj, xi, max_x)
                    && better(yj, yi, max_y)
                    && (strictly(xj, xi, max_x) || strictly(yj, yi, max_y))
            })
        })
        .collect();
    front.sort_by(|&a, &b| points[a].0.total_cmp(&points[b].0));
    front.dedup_by(|a, b| points[*a] == points[*b]);
    front
}

/// A padded axis range over `values`: linear, or in log space when `log` (values > 0).
pub(crate) fn padded_range(values: impl Iterator<Item = f64>, log: bool) -> (f64, f64) {
    let (mut lo, mut hi) = values
        .filter(|v| v.is_finite() && (!log || *v > 0.0))
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
            (l.min(v), h.max(v))
        });
    if !lo.is_finite() {
        return if log { (1.0, 10.0) } else { (0.0, 1.0) };
    }
    if log {
        return (lo / 1.6, hi * 1.6);
    }
    if lo == hi {
        let d = if lo == 0.0 { 1.0 } else { lo.abs() * 0.1 };
        lo -= d;
        hi += d;
    }
    let pad = (hi - lo) * 0.08;
    (lo - pad, hi + pad)
}

/// True when the positive values span more than `ratio`× (then a log axis reads better).
pub(crate) fn wants_log(values: &[f64], ratio: f64) -> bool {
    let pos: Vec<f64> = values.iter().copied().filter(|v| *v > 0.0).collect();
    if pos.len() != values.len() || pos.is_empty() {
        return false;
    }
    let lo = pos.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = pos.iter().copied().fold(0f64, f64::max);
    hi / lo > ratio
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pareto_front_max_max() {
        let pts = [(1.0, 1.0), (2.0, 0.5), (0.5, 2.0), (0.9, 0.9), (2.0, 0.4)];
        assert_eq!(pareto_front(&pts, true, true), vec![2, 0, 1]);
    }

    #[test]
    fn pareto_front_min_min() {
        let pts = [(1.0, 1.0), (2.0, 0.5), (0.5, 2.0), (3.0, 3.0)];
        assert_eq!(pareto_front(&pts, false, false), vec![2, 0, 1]);
    }
}
