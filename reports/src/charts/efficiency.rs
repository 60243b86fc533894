//! Accuracy vs power efficiency and vs area efficiency, with the Pareto front marked.

use super::scatter::{Front, Marker, Point, Scatter, Series};
use super::{Figure, first_key, group_rows, rows_with, wants_log};
use crate::error::ReportError;
use crate::metrics::{header, info, label, scale_for};
use crate::results::ConfigTable;

pub fn figures(table: &ConfigTable) -> Result<Vec<Figure>, ReportError> {
    let mut out = Vec::new();
    for (metric, name) in [
        ("ops_per_joule", "accuracy-vs-power-efficiency"),
        ("ops_per_s_per_mm2", "accuracy-vs-area-efficiency"),
    ] {
        let rows = rows_with(table, &["accuracy", metric]);
        if rows.len() < 2 {
            continue;
        }
        let mean = |r: usize, m: &str| table.stat(r, m).map(|s| s.mean).unwrap_or(f64::NAN);
        let xs_raw: Vec<f64> = rows.iter().map(|&r| mean(r, metric)).collect();
        let acc: Vec<f64> = rows.iter().map(|&r| mean(r, "accuracy")).collect();
        let xs = scale_for(info(metric).unit, &xs_raw);
        let ys = scale_for(info("accuracy").unit, &acc);
        let series: Vec<Series> = group_rows(
            table,
            &rows,
            &[
                "model",
                first_key(table, &["hw_label", "hwmodel"]),
                "hw_batch",
            ],
        )
        .into_iter()
        .map(|(name, rs)| Series {
            name,
            points: rs
                .iter()
                .map(|&r| accuracy_point(table, r, mean(r, metric) * xs.factor, ys.factor))
                .collect(),
            marker: Marker::Circle,
        })
        .collect();
        let scaled: Vec<f64> = xs_raw.iter().map(|x| x * xs.factor).collect();
        let chart = Scatter {
            name: name.into(),
            title: format!("Accuracy vs {}", label(metric)),
            x_desc: header(metric, &xs),
            y_desc: header("accuracy", &ys),
            series,
            front: Front::Overall {
                max_x: true,
                max_y: true,
            },
            log_x: wants_log(&scaled, 30.0),
            log_y: false,
        };
        out.push(Figure {
            svg: chart.render()?,
            name: chart.name,
            caption: format!(
                "Each point is one configuration (mean over seeds; whiskers: 95 % CI). The \
                 black line joins the Pareto-optimal points (higher {} and higher accuracy).",
                label(metric)
            ),
            title: chart.title,
        });
    }
    Ok(out)
}

/// Row `r`'s accuracy (mean and 95 % CI, scaled by `y_factor`) at abscissa `x`: a point of the
/// accuracy-against-cost charts. Rows are selected for having an accuracy.
pub(super) fn accuracy_point(table: &ConfigTable, r: usize, x: f64, y_factor: f64) -> Point {
    let a = table
        .stat(r, "accuracy")
        .expect("selected rows have accuracy");
    Point {
        x,
        y: a.mean * y_factor,
        y_ci: a.ci95.map(|c| c * y_factor),
    }
}
