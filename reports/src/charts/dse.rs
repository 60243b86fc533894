//! Design-space exploration: energy vs latency per hardware configuration, with each hardware
//! label's Pareto front (lower is better on both axes).

use super::scatter::{Front, Marker, Point, Scatter, Series};
use super::{Figure, first_key, group_rows, rows_with, wants_log};
use crate::error::ReportError;
use crate::metrics::{header, info, scale_for};
use crate::results::ConfigTable;

/// Fewer designs than this are not a design space.
const MIN_POINTS: usize = 3;

pub fn figure(table: &ConfigTable) -> Result<Option<Figure>, ReportError> {
    let rows = rows_with(table, &["latency_s", "energy_pj"]);
    if rows.len() < MIN_POINTS {
        return Ok(None);
    }
    let mean = |r: usize, m: &str| table.stat(r, m).map(|s| s.mean).unwrap_or(f64::NAN);
    let lat: Vec<f64> = rows.iter().map(|&r| mean(r, "latency_s")).collect();
    let en: Vec<f64> = rows.iter().map(|&r| mean(r, "energy_pj")).collect();
    let xs = scale_for(info("latency_s").unit, &lat);
    let ys = scale_for(info("energy_pj").unit, &en);
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
    .map(|(name, rs)| {
        let mut points: Vec<Point> = Vec::new();
        for r in rs {
            let p = Point {
                x: mean(r, "latency_s") * xs.factor,
                y: mean(r, "energy_pj") * ys.factor,
                y_ci: None,
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
    let sx: Vec<f64> = lat.iter().map(|x| x * xs.factor).collect();
    let sy: Vec<f64> = en.iter().map(|x| x * ys.factor).collect();
    let chart = Scatter {
        name: "dse-energy-vs-latency".into(),
        title: "Design space: energy vs latency".into(),
        x_desc: header("latency_s", &xs),
        y_desc: header("energy_pj", &ys),
        series,
        front: Front::PerSeries {
            max_x: false,
            max_y: false,
        },
        log_x: wants_log(&sx, 30.0),
        log_y: wants_log(&sy, 30.0),
    };
    Ok(Some(Figure {
        svg: chart.render()?,
        name: chart.name,
        title: chart.title,
        caption: "Hardware-model energy and latency of each (workload, hardware) configuration; \
                  lines join each series' Pareto-optimal designs (lower is better on both axes)."
            .into(),
    }))
}
