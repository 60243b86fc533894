//! Accuracy vs bits per weight, one colour per (model, method label).

use super::scatter::{Front, Marker, Point, Scatter, Series};
use super::{Figure, first_key, group_rows, model_configs, rows_with};
use crate::error::ReportError;
use crate::metrics::{header, info, scale_for};
use crate::results::ConfigTable;

pub fn figure(table: &ConfigTable) -> Result<Option<Figure>, ReportError> {
    let rows = model_configs(table, &rows_with(table, &["accuracy", "bits_per_weight"]));
    if rows.len() < 2 {
        return Ok(None);
    }
    let acc: Vec<f64> = rows
        .iter()
        .filter_map(|&r| table.stat(r, "accuracy"))
        .map(|s| s.mean)
        .collect();
    let ys = scale_for(info("accuracy").unit, &acc);
    let series = group_rows(
        table,
        &rows,
        &["model", first_key(table, &["label", "method"])],
    )
    .into_iter()
    .map(|(name, rs)| {
        let mut points: Vec<Point> = Vec::new();
        for r in rs {
            let (Some(b), Some(a)) = (table.stat(r, "bits_per_weight"), table.stat(r, "accuracy"))
            else {
                continue;
            };
            let p = Point {
                x: b.mean,
                y: a.mean * ys.factor,
                y_ci: a.ci95.map(|c| c * ys.factor),
            };
            if !points.contains(&p) {
                points.push(p);
            }
        }
        Series {
            name,
            points,
            marker: Marker::Circle,
        }
    })
    .collect();
    let chart = Scatter {
        name: "accuracy-vs-bits".into(),
        title: "Accuracy vs bits per weight".into(),
        x_desc: "bits per weight (bits)".into(),
        y_desc: header("accuracy", &ys),
        series,
        front: Front::None,
        log_x: false,
        log_y: false,
    };
    Ok(Some(Figure {
        svg: chart.render()?,
        name: chart.name,
        title: chart.title,
        caption: "Test accuracy of each configuration against its mean stored bits per weight; \
                  whiskers are 95 % confidence intervals over seeds."
            .into(),
    }))
}
