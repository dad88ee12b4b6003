//! HTML building blocks of the pages not yet templated: escaping, tables of JSON values and
//! the inline SVG chart; [`page`] wraps a body in the templated layout. Pure functions; no I/O.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use serde_json::Value;

use crate::auth::Caller;

/// Escapes text for HTML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A full page: the templated layout ([`super::views::layout`]) around a rendered body.
pub fn page(title: &str, caller: Option<&Caller>, active: &str, body: &str) -> Html<String> {
    Html(super::views::layout(title, caller, active, body))
}

/// An error page with a status.
pub fn error_page(status: StatusCode, caller: Option<&Caller>, message: &str) -> Response {
    let body = format!(
        "<h1>{} {}</h1><div class=\"error\">{}</div>",
        status.as_u16(),
        esc(status.canonical_reason().unwrap_or("")),
        esc(message)
    );
    (status, page("Error", caller, "", &body)).into_response()
}

/// A JSON scalar as text; objects and arrays compact.
pub fn text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => if *b { "yes" } else { "no" }.to_owned(),
        Value::Number(n) => n.to_string(),
        Value::Array(items) if items.iter().all(|i| !i.is_object() && !i.is_array()) => {
            items.iter().map(text).collect::<Vec<_>>().join(", ")
        }
        Value::Object(m) if m.contains_key("system") && m.contains_key("id") && m.len() == 2 => {
            format!("{}:{}", text(&m["system"]), text(&m["id"]))
        }
        other => other.to_string(),
    }
}

/// The first present, non-null field of `v` among `keys`.
pub fn field<'a>(v: &'a Value, keys: &[&str]) -> Option<&'a Value> {
    keys.iter().filter_map(|k| v.get(*k)).find(|x| !x.is_null())
}

/// The field's text, or empty.
pub fn ftext(v: &Value, keys: &[&str]) -> String {
    field(v, keys).map(text).unwrap_or_default()
}

/// The array in `v`: itself, or the first array field among `keys`.
pub fn items<'a>(v: &'a Value, keys: &[&str]) -> Vec<&'a Value> {
    if let Value::Array(a) = v {
        return a.iter().collect();
    }
    keys.iter()
        .filter_map(|k| v.get(*k).and_then(Value::as_array))
        .next()
        .map(|a| a.iter().collect())
        .unwrap_or_default()
}

/// Flattens an object one level into `key` / `key.sub` rows.
pub fn flatten(v: &Value) -> Vec<(String, String)> {
    let mut rows = Vec::new();
    if let Value::Object(m) = v {
        for (k, val) in m {
            match val {
                Value::Object(inner)
                    if !(inner.contains_key("system")
                        && inner.contains_key("id")
                        && inner.len() == 2) =>
                {
                    for (k2, v2) in inner {
                        rows.push((format!("{k}.{k2}"), text(v2)));
                    }
                }
                other => rows.push((k.clone(), text(other))),
            }
        }
    }
    rows
}

/// A two-column table of an object's fields.
pub fn kv_table(v: &Value) -> String {
    let mut out = String::from("<table>");
    for (k, val) in flatten(v) {
        let _ = write!(out, "<tr><th>{}</th><td>{}</td></tr>", esc(&k), esc(&val));
    }
    out.push_str("</table>");
    out
}

/// Records side by side: one row per attribute, one column per record.
pub fn side_by_side(columns: &[(String, &Value)]) -> String {
    let flat: Vec<Vec<(String, String)>> = columns.iter().map(|(_, v)| flatten(v)).collect();
    let mut keys: Vec<String> = Vec::new();
    let mut seen = BTreeSet::new();
    for rows in &flat {
        for (k, _) in rows {
            if seen.insert(k.clone()) {
                keys.push(k.clone());
            }
        }
    }
    let mut out = String::from("<table class=\"side-by-side\"><tr><th>attribute</th>");
    for (title, _) in columns {
        let _ = write!(out, "<th>{}</th>", esc(title));
    }
    out.push_str("</tr>");
    for k in keys {
        let _ = write!(out, "<tr><th>{}</th>", esc(&k));
        for rows in &flat {
            let v = rows
                .iter()
                .find(|(rk, _)| *rk == k)
                .map(|(_, v)| v.as_str())
                .unwrap_or("");
            let _ = write!(out, "<td>{}</td>", esc(v));
        }
        out.push_str("</tr>");
    }
    out.push_str("</table>");
    out
}

/// One target line on a chart.
pub struct TargetLine {
    pub label: String,
    pub value: f64,
}

/// A line chart of `(label, value)` points with horizontal target lines, as inline SVG.
pub fn chart(title: &str, points: &[(String, Option<f64>)], targets: &[TargetLine]) -> String {
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
    let mut svg = format!(
        "<svg class=\"chart\" role=\"img\" aria-label=\"{}\" viewBox=\"0 0 {w} {h}\" width=\"100%\" preserveAspectRatio=\"xMidYMid meet\">",
        esc(title)
    );
    // axes
    let _ = write!(
        svg,
        "<line x1=\"{left}\" y1=\"{top}\" x2=\"{left}\" y2=\"{b}\" stroke=\"#9aa7b4\"/>\
         <line x1=\"{left}\" y1=\"{b}\" x2=\"{r}\" y2=\"{b}\" stroke=\"#9aa7b4\"/>\
         <text x=\"4\" y=\"{ty}\">{max_l}</text><text x=\"4\" y=\"{b}\">{min_l}</text>",
        b = h - bottom,
        r = w - right,
        ty = top + 4.0,
        max_l = fmt_num(max),
        min_l = fmt_num(min),
    );
    let colours = ["#b3261e", "#9a6700"];
    for (i, t) in targets.iter().enumerate() {
        let ty = y(t.value);
        let _ = write!(
            svg,
            "<line x1=\"{left}\" y1=\"{ty:.1}\" x2=\"{r}\" y2=\"{ty:.1}\" stroke=\"{c}\" stroke-dasharray=\"5 4\"/>\
             <text x=\"{tx}\" y=\"{ly:.1}\" class=\"target t{k}\">{label} {v}</text>",
            k = i % colours.len(),
            r = w - right,
            c = colours[i % colours.len()],
            tx = w - right + 4.0,
            ly = ty + 4.0,
            label = esc(&t.label),
            v = fmt_num(t.value),
        );
    }
    let pts: Vec<String> = points
        .iter()
        .enumerate()
        .filter_map(|(i, (_, v))| v.map(|v| format!("{:.1},{:.1}", x(i), y(v))))
        .collect();
    if pts.len() > 1 {
        let _ = write!(
            svg,
            "<polyline fill=\"none\" stroke=\"#0b5cad\" stroke-width=\"2\" points=\"{}\"/>",
            pts.join(" ")
        );
    }
    for (i, (label, v)) in points.iter().enumerate() {
        if let Some(v) = v {
            let _ = write!(
                svg,
                "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3.5\" fill=\"#0b5cad\"><title>{}: {}</title></circle>",
                x(i),
                y(*v),
                esc(label),
                fmt_num(*v)
            );
        }
    }
    if let (Some((first, _)), Some((last, _))) = (points.first(), points.last()) {
        let _ = write!(
            svg,
            "<text x=\"{left}\" y=\"{ly}\">{}</text>",
            esc(first),
            ly = h - 8.0
        );
        if points.len() > 1 {
            let _ = write!(
                svg,
                "<text x=\"{lx}\" y=\"{ly}\" text-anchor=\"end\">{}</text>",
                esc(last),
                lx = w - right,
                ly = h - 8.0
            );
        }
    }
    if points.iter().all(|(_, v)| v.is_none()) {
        let _ = write!(
            svg,
            "<text x=\"{cx}\" y=\"{cy}\" text-anchor=\"middle\">no value yet</text>",
            cx = w / 2.0,
            cy = h / 2.0
        );
    }
    svg.push_str("</svg>");
    svg
}

/// A number without useless decimals.
pub fn fmt_num(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{}", v.round() as i64)
    } else {
        format!("{v:.1}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn escapes() {
        assert_eq!(
            esc("<a href=\"x\">Tân & 'Uyên'</a>"),
            "&lt;a href=&quot;x&quot;&gt;Tân &amp; &#39;Uyên&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn side_by_side_aligns_attributes() {
        let a = json!({"name": "HTX Tân Uyên", "commune_code": "03622"});
        let b = json!({"name": "HTX Tan Uyen", "meta": {"system": "loan-fund"}});
        let t = side_by_side(&[("golden".into(), &a), ("loan-fund:L1".into(), &b)]);
        assert!(
            t.contains("<th>name</th><td>HTX Tân Uyên</td><td>HTX Tan Uyen</td>"),
            "{t}"
        );
        assert!(
            t.contains("<th>meta.system</th><td></td><td>loan-fund</td>"),
            "{t}"
        );
    }

    #[test]
    fn charts_values_and_targets() {
        let svg = chart(
            "I1",
            &[("v1".into(), Some(10.0)), ("v2".into(), Some(20.0))],
            &[TargetLine {
                label: "2025".into(),
                value: 30.0,
            }],
        );
        assert!(svg.starts_with("<svg") && svg.contains("polyline") && svg.contains("2025 30"));
    }
}
