//! Accuracy drop by method (and model), one bar per similarity metric when the results have a
//! `p_method_metric` column.

use super::bars::{Bar, Bars};
use super::{Figure, first_key, group_rows, model_configs, rows_with};
use crate::error::ReportError;
use crate::results::ConfigTable;
use crate::stats::mean_ci;

const METRIC_PARAM: &str = "p_method_metric";
/// Series name of methods without a similarity metric.
const NO_METRIC: &str = "no metric";

pub fn figure(table: &ConfigTable) -> Result<Option<Figure>, ReportError> {
    let rows = model_configs(table, &rows_with(table, &["accuracy_drop"]));
    if rows.is_empty() {
        return Ok(None);
    }
    let categories = group_rows(
        table,
        &rows,
        &["model", first_key(table, &["label", "method"])],
    );
    let series: Vec<String> = if table.key_index(METRIC_PARAM).is_some() {
        let mut s: Vec<String> = Vec::new();
        for &r in &rows {
            let v = table.key(r, METRIC_PARAM).unwrap_or(NO_METRIC).to_string();
            if !s.contains(&v) {
                s.push(v);
            }
        }
        s
    } else {
        vec!["accuracy drop".into()]
    };
    let values = categories
        .iter()
        .map(|(_, rs)| {
            series
                .iter()
                .map(|name| {
                    let xs: Vec<(f64, Option<f64>)> = rs
                        .iter()
                        .filter(|&&r| {
                            series.len() == 1 && table.key_index(METRIC_PARAM).is_none()
                                || table.key(r, METRIC_PARAM).unwrap_or(NO_METRIC) == name
                        })
                        .filter_map(|&r| table.stat(r, "accuracy_drop"))
                        .map(|s| (s.mean, s.ci95))
                        .collect();
                    match xs.len() {
                        0 => None,
                        1 => Some(Bar {
                            value: xs[0].0,
                            ci: xs[0].1,
                        }),
                        _ => {
                            let means: Vec<f64> = xs.iter().map(|x| x.0).collect();
                            let (value, ci) = mean_ci(&means);
                            Some(Bar { value, ci })
                        }
                    }
                })
                .collect()
        })
        .collect();
    let chart = Bars {
        name: "accuracy-drop".into(),
        title: "Accuracy drop by method and similarity metric".into(),
        y_desc: "accuracy drop (percentage points)".into(),
        categories: categories.into_iter().map(|(n, _)| n).collect(),
        series,
        values,
    };
    Ok(Some(Figure {
        svg: chart.render()?,
        name: chart.name,
        title: chart.title,
        caption: "Mean accuracy drop versus the float baseline (lower is better). With one \
                  configuration per bar the whisker is its 95 % CI over seeds; with several it \
                  is the 95 % CI of the mean over configurations."
            .into(),
    }))
}
