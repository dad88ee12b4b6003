//! The indicators: each indicator of a unit against its 2025 and 2030 targets with a chart
//! over time, and the printable provincial report (rendered by the indicators service).
//! Typed views rendered by templates; no I/O but through [`crate::upstream`].

use axum::extract::{Query, State};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Page, fail, render_page};
use crate::actions::{self, ApiError};
use crate::state::Shared;
use crate::upstream::Service;
use crate::web::PageCaller;
use crate::web::chart::{Chart, TargetLine};
use crate::web::values::{field, fmt_num, ftext, items};

#[derive(Debug, Deserialize, Default)]
pub struct IndicatorQuery {
    /// The plan (province) to show: an id of the indicators' `GET /api/v1/plans`.
    plan: Option<String>,
    units: Option<String>,
    unit: Option<String>,
}

impl IndicatorQuery {
    /// The upstream query: `plan` and `units` when given.
    fn upstream(&self) -> Vec<(String, String)> {
        [("plan", &self.plan), ("units", &self.units)]
            .into_iter()
            .filter_map(|(k, v)| {
                v.as_ref()
                    .filter(|v| !v.is_empty())
                    .map(|v| (k.to_owned(), v.clone()))
            })
            .collect()
    }
}

/// A plan in the selector.
#[derive(Debug, Serialize)]
struct PlanOption {
    id: String,
    name: String,
    selected: bool,
}

/// The provincial report, printable (A4 landscape): the indicators service renders it
/// (auto-escaped), the console puts it in its layout and stylesheet.
pub async fn report(
    State(state): State<Shared>,
    PageCaller(caller): PageCaller,
    Query(iq): Query<IndicatorQuery>,
) -> Page {
    let mut q = vec![
        ("format".to_owned(), "html".to_owned()),
        ("fragment".to_owned(), "true".to_owned()),
    ];
    q.extend(iq.upstream());
    let (report, problem) = match state
        .upstream
        .get_raw(Service::Indicators, "/api/v1/snapshots/latest/export", &q)
        .await
    {
        Ok(raw) if raw.status.is_success() => {
            (String::from_utf8_lossy(&raw.body).into_owned(), None)
        }
        Ok(raw) => (
            String::new(),
            Some(format!(
                "indicators answered {}: {}",
                raw.status,
                String::from_utf8_lossy(&raw.body)
            )),
        ),
        Err(e) => (String::new(), Some(ApiError::from(e).message)),
    };
    render_page(
        "Report",
        &caller,
        "indicators",
        "report.html",
        minijinja::context! {
            report,
            problem,
            units => iq.units.clone().unwrap_or_default(),
            plan => iq.plan.clone().unwrap_or_default(),
        },
    )
}

/// A target cell: comparison, value, unit and whether the value meets it.
#[derive(Debug, Serialize)]
struct TargetView {
    comparison: String,
    value: String,
    unit: &'static str,
    status: String,
    class: &'static str,
}

fn target_view(v: &Value, key: &str) -> Option<TargetView> {
    let t = v.get(key).filter(|t| !t.is_null())?;
    let target = &t["target"];
    let status = ftext(t, &["status"]);
    Some(TargetView {
        comparison: ftext(target, &["comparison"]),
        value: ftext(target, &["value"]),
        unit: if ftext(target, &["unit"]) == "percent" {
            " %"
        } else {
            ""
        },
        class: match status.as_str() {
            "met" => "ok",
            "behind" => "bad",
            _ => "muted",
        },
        status: status.replace('_', " "),
    })
}

/// One indicator's card.
#[derive(Debug, Serialize)]
struct Card {
    id: String,
    name: String,
    value: String,
    targets: [Option<TargetView>; 2],
    chart: Chart,
    /// I5 only: of the conversions counted, how many the reconciler linked to an
    /// organisation of the registry and how many not (`conversions` of the snapshot).
    conversions: Option<(u64, u64)>,
}

fn card(v: &Value, plan: &Value, history: Option<&Value>) -> Card {
    let id = ftext(v, &["indicator"]);
    let name = items(plan, &["indicators"])
        .into_iter()
        .find(|n| ftext(n, &["id"]) == id)
        .map(|d| ftext(d, &["name_vi", "name"]))
        .unwrap_or_default();
    let percent = ftext(v, &["unit"]) == "percent";
    let value = field(v, &["value"])
        .and_then(Value::as_f64)
        .map(|x| format!("{}{}", fmt_num(x), if percent { " %" } else { "" }))
        .unwrap_or_else(|| ftext(v, &["status"]).replace('_', " "));
    let points: Vec<(String, Option<f64>)> = history
        .map(|h| {
            items(h, &["history"])
                .into_iter()
                .map(|p| {
                    (
                        ftext(p, &["as_of"]),
                        p.get("value")
                            .and_then(|x| x.get("value"))
                            .and_then(Value::as_f64),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    // targets in the value's own unit only (I3's 2030 target is a count)
    let lines: Vec<TargetLine> = ["target_2025", "target_2030"]
        .iter()
        .filter_map(|k| v.get(*k).filter(|t| !t.is_null()))
        .filter(|t| ftext(&t["target"], &["unit"]) == ftext(v, &["unit"]))
        .filter_map(|t| {
            Some(TargetLine {
                label: ftext(&t["target"], &["year"]),
                value: t["target"]["value"].as_f64()?,
            })
        })
        .collect();
    let conversions = v
        .get("conversions")
        .and_then(|c| Some((c.get("matched")?.as_u64()?, c.get("unmatched")?.as_u64()?)));
    Card {
        chart: Chart::new(&format!("{id} over time"), &points, &lines),
        conversions,
        targets: [target_view(v, "target_2025"), target_view(v, "target_2030")],
        id,
        name,
        value,
    }
}

/// A unit in the selector.
#[derive(Debug, Serialize)]
struct UnitOption {
    code: String,
    name: String,
    indent: &'static str,
    selected: bool,
}

/// Each indicator's history for this unit (none where the service did not answer).
async fn histories(
    state: &Shared,
    values: &[&Value],
    unit: &str,
    list: &str,
    plan: &str,
) -> Vec<Option<Value>> {
    futures::future::join_all(values.iter().map(|v| {
        let id = ftext(v, &["indicator"]);
        let query = vec![
            ("unit".to_owned(), unit.to_owned()),
            ("units".to_owned(), list.to_owned()),
            ("plan".to_owned(), plan.to_owned()),
        ];
        let upstream = state.upstream.clone();
        async move {
            upstream
                .get(
                    Service::Indicators,
                    &format!("/api/v1/indicators/{}/history", actions::encode(&id)),
                    &query,
                )
                .await
                .ok()
        }
    }))
    .await
}

pub async fn indicators(
    State(state): State<Shared>,
    PageCaller(caller): PageCaller,
    Query(iq): Query<IndicatorQuery>,
) -> Page {
    let q = iq.upstream();
    let of_plan: Vec<(String, String)> = q.iter().filter(|(k, _)| k == "plan").cloned().collect();
    let (plan, snapshot, plans) = futures::join!(
        state
            .upstream
            .get(Service::Indicators, "/api/v1/plan", &of_plan),
        state
            .upstream
            .get(Service::Indicators, "/api/v1/snapshots/latest", &q),
        state
            .upstream
            .get(Service::Indicators, "/api/v1/plans", &[]),
    );
    let (plan, snapshot) = match (plan, snapshot) {
        (Ok(p), Ok(s)) => (p, s),
        (Err(e), _) | (_, Err(e)) => {
            let problem = ApiError::from(e).message;
            return render_page(
                "Indicators",
                &caller,
                "indicators",
                "indicators.html",
                minijinja::context! { problem },
            );
        }
    };
    let units = items(&snapshot, &["units"]);
    let province = ftext(&snapshot, &["province_code"]);
    let unit_code = iq.unit.clone().unwrap_or(province);
    let Some(unit) = units
        .iter()
        .find(|u| ftext(u, &["unit_code"]) == unit_code)
        .copied()
    else {
        return fail(
            &caller,
            ApiError::not_found(format!("no unit {unit_code} in this snapshot")),
        );
    };
    let list = ftext(&snapshot, &["unit_list"]);
    let options: Vec<UnitOption> = units
        .iter()
        .map(|u| {
            let code = ftext(u, &["unit_code"]);
            UnitOption {
                selected: code == unit_code,
                name: ftext(u, &["unit_name"]),
                indent: match ftext(u, &["level"]).as_str() {
                    "district" => "  ",
                    "commune" => "    ",
                    _ => "",
                },
                code,
            }
        })
        .collect();
    let plan_id = ftext(&snapshot, &["plan_id"]);
    // the provinces this hub carries (an older indicators service lists none: no selector)
    let plans: Vec<PlanOption> = plans
        .map(|p| {
            items(&p, &[])
                .iter()
                .map(|p| PlanOption {
                    id: ftext(p, &["id"]),
                    name: ftext(p, &["province_name"]),
                    selected: ftext(p, &["id"]) == plan_id,
                })
                .collect()
        })
        .unwrap_or_default();
    let values = items(unit, &["values"]);
    let histories = histories(&state, &values, &unit_code, &list, &plan_id).await;
    let cards: Vec<Card> = values
        .iter()
        .zip(&histories)
        .map(|(v, h)| card(v, &plan, h.as_ref()))
        .collect();
    render_page(
        "Indicators",
        &caller,
        "indicators",
        "indicators.html",
        minijinja::context! {
            plan => ftext(&plan, &["name_vi", "name"]),
            unit_name => ftext(unit, &["unit_name"]),
            version => ftext(&snapshot, &["version"]),
            as_of => ftext(&snapshot, &["as_of"]),
            unit_list => list,
            plan_id,
            plans,
            units => options,
            cards,
        },
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::escaping::{SCRIPT, assert_escaped, body};
    use super::*;

    #[test]
    fn the_indicators_page_escapes_names_targets_and_the_chart() {
        let v = json!({
            "indicator": "I1", "unit": "percent", "value": 70.09345794392523,
            "target_2025": {"status": SCRIPT, "target": {"comparison": ">=", "value": 80, "unit": "percent", "year": SCRIPT}},
        });
        let plan = json!({"indicators": [{"id": "I1", "name_vi": SCRIPT}]});
        let history = json!({"history": [{"as_of": SCRIPT, "value": {"value": 60.0}}, {"as_of": "2025-06-30", "value": {"value": 70.1}}]});
        let c = card(&v, &plan, Some(&history));
        assert_eq!(c.value, "70.1 %");
        assert_eq!(c.conversions, None);
        let i5 = json!({"indicator": "I5", "unit": "percent", "value": 25.0,
            "conversions": {"matched": 3, "unmatched": 1}});
        let c5 = card(&i5, &plan, None);
        assert_eq!(c5.conversions, Some((3, 1)));
        let page = body(
            "indicators.html",
            minijinja::context! {
                plan => SCRIPT, unit_name => SCRIPT, version => "1", as_of => "2025-06-30",
                unit_list => SCRIPT, plan_id => SCRIPT,
                plans => vec![
                    PlanOption { id: SCRIPT.into(), name: SCRIPT.into(), selected: true },
                    PlanOption { id: "dien-bien-182".into(), name: "Tỉnh Điện Biên".into(), selected: false },
                ],
                units => vec![UnitOption { code: SCRIPT.into(), name: SCRIPT.into(), indent: "", selected: true }],
                cards => vec![c, c5],
            },
        );
        assert_escaped(&page);
        // the province selector, and the plan carried by the unit form and the exports
        assert!(
            page.contains("<select name=\"plan\" id=\"plan\">")
                && page.contains(
                    "<option value=\"dien-bien-182\">Tỉnh Điện Biên (dien-bien-182)</option>"
                ),
            "{page}"
        );
        assert!(
            page.contains("<input type=\"hidden\" name=\"plan\""),
            "{page}"
        );
        assert!(
            page.contains("<p class=\"conversions\">converted: 3 in the registry, 1 not"),
            "{page}"
        );
        assert!(
            page.contains("<svg class=\"chart\"") && page.contains("<polyline"),
            "{page}"
        );
        assert!(
            page.contains("<td class=\"muted\">–</td>"),
            "the missing 2030 target: {page}"
        );
    }
}
