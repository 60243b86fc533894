//! Grouped bars with 95 % CI whiskers; shared by the accuracy-drop and per-layer charts.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{FONT, HEIGHT, WIDTH, chart_error, color, padded_range};
use crate::error::ReportError;

/// One bar: value and optional CI half-width (display units).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bar {
    pub value: f64,
    pub ci: Option<f64>,
}

/// `values[category][series]`; `None` leaves a gap.
#[derive(Debug, Clone)]
pub struct Bars {
    pub name: String,
    pub title: String,
    pub y_desc: String,
    pub categories: Vec<String>,
    pub series: Vec<String>,
    pub values: Vec<Vec<Option<Bar>>>,
}

impl Bars {
    /// Draws the chart into an SVG string. Category names are drawn under each group, broken
    /// onto two lines at a space when long.
    pub fn render(&self) -> Result<String, ReportError> {
        let err = |e: &dyn std::fmt::Display| chart_error(&self.name, e);
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
            root.fill(&WHITE).map_err(|e| err(&e))?;
            let n = self.categories.len().max(1) as f64;
            let all = self.values.iter().flatten().flatten();
            let ys = all
                .flat_map(|b| {
                    let ci = b.ci.unwrap_or(0.0);
                    [b.value - ci, b.value + ci]
                })
                .chain([0.0]);
            let (mut y0, y1) = padded_range(ys, false);
            if y0 > 0.0 {
                y0 = 0.0;
            }
            let mut chart = ChartBuilder::on(&root)
                .caption(&self.title, (FONT, 22))
                .margin(16)
                .x_label_area_size(56)
                .y_label_area_size(72)
                .build_cartesian_2d(0f64..n, y0..y1)
                .map_err(|e| err(&e))?;
            chart
                .configure_mesh()
                .disable_x_mesh()
                .x_labels(0)
                .y_desc(&self.y_desc)
                .label_style((FONT, 14))
                .axis_desc_style((FONT, 16))
                .light_line_style(WHITE)
                .bold_line_style(RGBColor(225, 225, 225))
                .draw()
                .map_err(|e| err(&e))?;

            let k = self.series.len().max(1) as f64;
            let width = 0.8 / k;
            for (j, name) in self.series.iter().enumerate() {
                let c = color(j);
                let bars: Vec<(f64, Bar)> = self
                    .values
                    .iter()
                    .enumerate()
                    .filter_map(|(i, row)| {
                        row.get(j)
                            .copied()
                            .flatten()
                            .map(|b| (i as f64 + 0.1 + width * j as f64, b))
                    })
                    .collect();
                chart
                    .draw_series(bars.iter().map(|&(x, b)| {
                        Rectangle::new([(x, 0.0), (x + width * 0.9, b.value)], c.filled())
                    }))
                    .map_err(|e| err(&e))?
                    .label(name)
                    .legend(move |(x, y)| {
                        Rectangle::new([(x, y - 6), (x + 12, y + 6)], c.filled())
                    });
                chart
                    .draw_series(bars.iter().filter_map(|&(x, b)| {
                        let ci = b.ci.filter(|c| *c > 0.0)?;
                        let mid = x + width * 0.45;
                        Some(PathElement::new(
                            vec![(mid, b.value - ci), (mid, b.value + ci)],
                            BLACK.stroke_width(2),
                        ))
                    }))
                    .map_err(|e| err(&e))?;
            }
            if self.series.len() > 1 {
                chart
                    .configure_series_labels()
                    .position(SeriesLabelPosition::UpperLeft)
                    .label_font((FONT, 14))
                    .background_style(WHITE.mix(0.85))
                    .border_style(RGBColor(180, 180, 180))
                    .draw()
                    .map_err(|e| err(&e))?;
            }
            // Category names under each group.
            let style = TextStyle::from((FONT, 14).into_font())
                .pos(Pos::new(HPos::Center, VPos::Top))
                .color(&BLACK);
            for (i, cat) in self.categories.iter().enumerate() {
                let (px, py) = chart.backend_coord(&(i as f64 + 0.5, y0));
                for (line_no, line) in two_lines(cat).iter().enumerate() {
                    root.draw_text(line, &style, (px, py + 8 + 18 * line_no as i32))
                        .map_err(|e| err(&e))?;
                }
            }
            root.present().map_err(|e| err(&e))?;
        }
        Ok(svg)
    }
}

/// Splits a long label at the space nearest its middle.
fn two_lines(s: &str) -> Vec<String> {
    if s.chars().count() <= 14 || !s.contains(' ') {
        return vec![s.to_string()];
    }
    let mid = s.len() / 2;
    let cut = s
        .match_indices(' ')
        .map(|(i, _)| i)
        .min_by_key(|i| i.abs_diff(mid))
        .unwrap_or(mid);
    vec![s[..cut].to_string(), s[cut + 1..].to_string()]
}
