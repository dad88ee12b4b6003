//! The indicators page's line chart as a typed view: every coordinate computed here, the
//! markup in the `chart` macro of `templates/macros.html` (inline SVG, values escaped). Pure;
//! no I/O.

use serde::Serialize;

use super::values::fmt_num;

/// One target line on a chart.
pub struct TargetLine {
    pub label: String,
    pub value: f64,
}

/// A drawn target line.
#[derive(Debug, Serialize)]
pub struct TargetMark {
    pub y: String,
    pub label_y: String,
    pub label: String,
    pub value: String,
    /// Which of the two target colours (0, 1).
    pub k: usize,
    pub colour: &'static str,
}

/// A drawn point.
#[derive(Debug, Serialize)]
pub struct PointMark {
    pub x: String,
    pub y: String,
    pub label: String,
    pub value: String,
}

/// A line chart of `(label, value)` points with horizontal target lines.
#[derive(Debug, Serialize)]
pub struct Chart {
    pub title: String,
    pub w: f64,
    pub h: f64,
    pub left: f64,
    pub right: f64,
    pub top: f64,
    pub bottom: f64,
    pub top_label_y: f64,
    pub label_y: f64,
    pub target_label_x: f64,
    pub max_label: String,
    pub min_label: String,
    pub targets: Vec<TargetMark>,
    /// The polyline's points, when there are two or more.
    pub line: Option<String>,
    pub points: Vec<PointMark>,
    pub first: Option<String>,
    /// The last point's label, when there are two or more points.
    pub last: Option<String>,
    /// No point has a value yet.
    pub empty: bool,
}

const COLOURS: [&str; 2] = ["#b3261e", "#9a6700"];

impl Chart {
    pub fn new(title: &str, points: &[(String, Option<f64>)], targets: &[TargetLine]) -> Self {
        let (w, h) = (420.0_f64, 170.0_f64);
        let (left, right, top, bottom) = (44.0, 70.0, 14.0, 26.0);
        let values: Vec<f64> = points
            .iter()
            .filter_map(|(_, v)| *v)
            .chain(targets.iter().map(|t| t.value))
            .collect();
        let max = values.iter().copied().fold(0.0_f64, f64::max).max(1.0) * 1.1;
        let min = values.iter().copied().fold(0.0_f64, f64::min);
        let y = |v: f64| top + (h - top - bottom) * (1.0 - (v - min) / (max - min));
        let n = points.len().max(1);
        let x = |i: usize| {
            if n == 1 {
                left + (w - left - right) / 2.0
            } else {
                left + (w - left - right) * i as f64 / (n - 1) as f64
            }
        };
        let marks: Vec<PointMark> = points
            .iter()
            .enumerate()
            .filter_map(|(i, (label, v))| {
                v.map(|v| PointMark {
                    x: format!("{:.1}", x(i)),
                    y: format!("{:.1}", y(v)),
                    label: label.clone(),
                    value: fmt_num(v),
                })
            })
            .collect();
        Chart {
            title: title.to_owned(),
            w,
            h,
            left,
            right: w - right,
            top,
            bottom: h - bottom,
            top_label_y: top + 4.0,
            label_y: h - 8.0,
            target_label_x: w - right + 4.0,
            max_label: fmt_num(max),
            min_label: fmt_num(min),
            targets: targets
                .iter()
                .enumerate()
                .map(|(i, t)| TargetMark {
                    y: format!("{:.1}", y(t.value)),
                    label_y: format!("{:.1}", y(t.value) + 4.0),
                    label: t.label.clone(),
                    value: fmt_num(t.value),
                    k: i % COLOURS.len(),
                    colour: COLOURS[i % COLOURS.len()],
                })
                .collect(),
            line: (marks.len() > 1).then(|| {
                marks
                    .iter()
                    .map(|m| format!("{},{}", m.x, m.y))
                    .collect::<Vec<_>>()
                    .join(" ")
            }),
            empty: marks.is_empty(),
            points: marks,
            first: points.first().map(|(l, _)| l.clone()),
            last: (points.len() > 1)
                .then(|| points.last().map(|(l, _)| l.clone()))
                .flatten(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_values_and_targets() {
        let c = Chart::new(
            "I1",
            &[("v1".into(), Some(10.0)), ("v2".into(), Some(20.0))],
            &[TargetLine {
                label: "2025".into(),
                value: 30.0,
            }],
        );
        assert_eq!(c.points.len(), 2);
        assert!(c.line.is_some() && !c.empty);
        assert_eq!(
            (c.targets[0].label.as_str(), c.targets[0].value.as_str()),
            ("2025", "30")
        );
        assert_eq!(c.last.as_deref(), Some("v2"));
    }
}
