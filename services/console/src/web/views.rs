//! Templated views: the page layout and every page, rendered by `minijinja` from
//! `templates/` with HTML auto-escaping (a value reaches the page escaped unless a template
//! says `|safe`, which only the layout's body and the indicators' already-escaped report
//! use). Each page has a typed view (`Serialize`
//! structs); this module also owns what those views say: Vietnam time, organisation names
//! and districts, decision outcomes in Vietnamese, and a score's feature contributions.
//!
//! Pure presentation, no I/O: the handlers in [`super::pages`] gather the data.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use chrono::{DateTime, FixedOffset, Utc};
use minijinja::{AutoEscape, Environment};
use serde::Serialize;
use serde_json::Value;

use crate::auth::Caller;

static ENV: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    env.set_auto_escape_callback(|_| AutoEscape::Html);
    // a path segment or query value, percent-encoded as the console's links are
    env.add_filter("urlencode", |s: String| crate::actions::encode(&s));
    for (name, source) in [
        ("layout.html", include_str!("templates/layout.html")),
        ("macros.html", include_str!("templates/macros.html")),
        ("log.html", include_str!("templates/log.html")),
        ("review.html", include_str!("templates/review.html")),
        ("compare.html", include_str!("templates/compare.html")),
        ("report.html", include_str!("templates/report.html")),
        ("login.html", include_str!("templates/login.html")),
        ("audit.html", include_str!("templates/audit.html")),
        ("health.html", include_str!("templates/health.html")),
        ("dlq.html", include_str!("templates/dlq.html")),
        (
            "dead_letter.html",
            include_str!("templates/dead_letter.html"),
        ),
        ("upload.html", include_str!("templates/upload.html")),
        ("error.html", include_str!("templates/error.html")),
        (
            "cooperatives.html",
            include_str!("templates/cooperatives.html"),
        ),
        (
            "cooperative.html",
            include_str!("templates/cooperative.html"),
        ),
        ("indicators.html", include_str!("templates/indicators.html")),
    ] {
        if let Err(e) = env.add_template(name, source) {
            // a broken template fails every test that renders a page
            tracing::error!(template = name, error = %e, "template does not compile");
        }
    }
    env
});

/// Renders a template; a failure is a page with the error (templates are tested).
pub fn render(name: &str, ctx: impl Serialize) -> String {
    match ENV.get_template(name).and_then(|t| t.render(ctx)) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(template = name, error = %e, "template failed");
            format!(
                "<div class=\"error\">page could not be rendered: {}</div>",
                minijinja::HtmlEscape(&e.to_string())
            )
        }
    }
}

const NAV: [(&str, &str, &str); 8] = [
    ("/", "health", "Pipeline"),
    ("/log", "log", "Log"),
    ("/review", "review", "Review"),
    ("/cooperatives", "cooperatives", "Cooperatives"),
    ("/indicators", "indicators", "Indicators"),
    ("/dlq", "dlq", "Dead letters"),
    ("/upload", "upload", "Upload"),
    ("/audit", "audit", "Audit"),
];

#[derive(Serialize)]
struct CallerView<'a> {
    name: &'a str,
    role: String,
}

/// A whole page around an already rendered body.
pub fn layout(title: &str, caller: Option<&Caller>, active: &str, body: &str) -> String {
    render(
        "layout.html",
        minijinja::context! {
            title,
            active,
            nav => NAV,
            caller => caller.map(|c| CallerView { name: &c.name, role: c.role.to_string() }),
            body,
        },
    )
}

/// Vietnam time (UTC+7).
pub fn vietnam() -> FixedOffset {
    FixedOffset::east_opt(7 * 3600).unwrap_or_else(|| FixedOffset::east_opt(0).expect("UTC"))
}

/// An RFC 3339 time as `dd/mm/yyyy HH:MM:SS` in Vietnam time (the text itself when it is
/// not a time).
pub fn vn_time(rfc3339: &str) -> String {
    DateTime::parse_from_rfc3339(rfc3339)
        .map(|t| vn(t.with_timezone(&Utc)))
        .unwrap_or_else(|_| rfc3339.to_owned())
}

/// A time as `dd/mm/yyyy HH:MM:SS` in Vietnam time.
pub fn vn(t: DateTime<Utc>) -> String {
    t.with_timezone(&vietnam())
        .format("%d/%m/%Y %H:%M:%S")
        .to_string()
}

/// A decision outcome's words, English and Vietnamese.
pub fn outcome_label(code: &str) -> String {
    let vi = match code {
        "matched" => "khớp",
        "new" => "mới",
        "review" => "chờ rà soát",
        "merged" => "gộp",
        "split" => "tách",
        "operator_linked" => "cán bộ gộp",
        "operator_separated" => "cán bộ tách",
        "out_of_scope" => "ngoài phạm vi",
        _ => "",
    };
    if vi.is_empty() {
        code.to_owned()
    } else {
        format!("{code} · {vi}")
    }
}

/// Every outcome, for the filter.
pub const OUTCOMES: [&str; 8] = [
    "matched",
    "new",
    "review",
    "operator_linked",
    "operator_separated",
    "merged",
    "split",
    "out_of_scope",
];

/// An option of a `<select>`.
#[derive(Debug, Clone, Serialize)]
pub struct Opt {
    pub code: String,
    pub name: String,
}

/// The filter's outcomes.
pub fn outcome_options() -> Vec<Opt> {
    OUTCOMES
        .iter()
        .map(|o| Opt {
            code: (*o).to_owned(),
            name: outcome_label(o),
        })
        .collect()
}

/// The pre-2025 districts of the provinces served (`REFERENCE_DIRS`), for the filter.
pub fn district_options() -> Vec<Opt> {
    hub_normalise::reference::Reference::loaded()
        .districts()
        .into_iter()
        .map(|d| Opt {
            code: d.code,
            name: d.name,
        })
        .collect()
}

/// An organisation as a row shows it: its name beside its id, and its district.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Org {
    pub id: String,
    pub id_short: String,
    pub name: Option<String>,
    pub district_code: Option<String>,
    pub district_name: Option<String>,
}

impl Org {
    /// From an id and the golden record it has (if it was found).
    pub fn new(id: &str, golden: Option<&Value>) -> Self {
        let name = golden
            .and_then(|g| g.get("name"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        let commune = golden
            .and_then(|g| g.get("commune_code"))
            .and_then(Value::as_str);
        let district = commune
            .and_then(|c| hub_normalise::reference::Reference::loaded().commune_2024(c))
            .map(|c| (c.district_code.clone(), c.district_name.clone()));
        Org {
            id: id.to_owned(),
            id_short: id.chars().take(8).collect(),
            name,
            district_code: district.as_ref().map(|d| d.0.clone()),
            district_name: district.map(|d| d.1),
        }
    }
}

/// What a feature is called on the page.
fn feature_label(f: &str) -> &'static str {
    match f {
        "name" => "name · tên",
        "location" => "place · địa bàn",
        "kind" => "kind · loại hình",
        "representative" => "representative · người đại diện",
        "phone" => "phone · điện thoại",
        "code" => "code · mã số",
        "members" => "member households · số hộ thành viên",
        "representative_phone" => "representative, phone",
        _ => "",
    }
}

/// The levels of each feature, as the reconciler's log numbers them
/// (`hub_reconciler::engine::weights::LEVEL_NAMES`, which the console does not link).
fn level_name(feature: &str, level: f64) -> String {
    const NAME: &[&str] = &[
        "conflict",
        "against",
        "weak_against",
        "weak",
        "fair",
        "strong",
        "very_strong",
    ];
    const LOCATION: &[&str] = &[
        "same_commune",
        "same_2025_unit",
        "same_district",
        "district_only_same",
        "other_district",
        "unknown",
    ];
    const KIND: &[&str] = &["same", "unknown", "htx_vs_tht", "union_vs_member", "other"];
    const REPRESENTATIVE: &[&str] = &["exact", "close", "similar", "weak", "different", "missing"];
    const PHONE: &[&str] = &["equal", "different", "missing"];
    const CODE: &[&str] = &["equal", "one_apart", "far_apart", "missing"];
    const MEMBERS: &[&str] = &["equal", "close", "different", "missing"];
    let names: &[&str] = match feature {
        "name" => NAME,
        "location" => LOCATION,
        "kind" => KIND,
        "representative" => REPRESENTATIVE,
        "phone" => PHONE,
        "code" => CODE,
        "members" => MEMBERS,
        _ => &[],
    };
    let i = level.round();
    if i >= 0.0 && (i as usize) < names.len() {
        names[i as usize].replace('_', " ")
    } else {
        format!("{level}")
    }
}

/// One feature's part in a score.
#[derive(Debug, Clone, Serialize)]
pub struct Contribution {
    pub feature: String,
    pub label: String,
    pub level: String,
    /// Signed, two decimals: `+4.20`.
    pub weight: String,
    /// `for`, `against` or `none` (for the colour).
    pub class: &'static str,
}

/// A score with what made it.
#[derive(Debug, Clone, Serialize)]
pub struct Score {
    /// The probability, to four decimals (a certain match reads `1.0000`, the logit says how
    /// certain).
    pub probability: String,
    pub prior: Option<String>,
    pub logit: Option<String>,
    pub features: Vec<Contribution>,
}

fn signed(x: f64) -> String {
    format!("{x:+.2}")
}

/// The score and its feature contributions, from a decision's or review item's `score` and
/// `features` (`prior`, `level_*` and `w_*` per feature, `logit`; or the legacy per-feature
/// contributions).
pub fn score(score: Option<f64>, features: Option<&Value>) -> Option<Score> {
    let f: BTreeMap<String, f64> = features
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_f64().map(|x| (k.clone(), x)))
                .collect()
        })
        .unwrap_or_default();
    if score.is_none() && f.is_empty() {
        return None;
    }
    let mut features = Vec::new();
    let class = |w: f64| {
        if w > 0.005 {
            "for"
        } else if w < -0.005 {
            "against"
        } else {
            "none"
        }
    };
    for name in [
        "name",
        "location",
        "kind",
        "representative",
        "phone",
        "code",
        "members",
    ] {
        if let Some(w) = f.get(&format!("w_{name}")) {
            let level = f
                .get(&format!("level_{name}"))
                .map(|l| level_name(name, *l))
                .unwrap_or_default();
            features.push(Contribution {
                feature: name.to_owned(),
                label: feature_label(name).to_owned(),
                level,
                weight: signed(*w),
                class: class(*w),
            });
        }
    }
    if features.is_empty() {
        // legacy weights: each feature's contribution directly
        for name in ["name", "location", "kind", "representative_phone"] {
            if let Some(w) = f.get(name) {
                features.push(Contribution {
                    feature: name.to_owned(),
                    label: feature_label(name).to_owned(),
                    level: String::new(),
                    weight: signed(*w),
                    class: class(*w),
                });
            }
        }
    }
    Some(Score {
        probability: score.map(|s| format!("{s:.4}")).unwrap_or_default(),
        prior: f.get("prior").map(|p| signed(*p)),
        logit: f.get("logit").map(|l| signed(*l)),
        features,
    })
}

/// `system:id` of a source reference.
pub fn source_text(v: Option<&Value>) -> String {
    match v {
        Some(Value::Object(m)) => format!(
            "{}:{}",
            m.get("system").and_then(Value::as_str).unwrap_or(""),
            m.get("id").and_then(Value::as_str).unwrap_or("")
        ),
        Some(Value::String(s)) => s.clone(),
        _ => String::new(),
    }
}

/// The side-by-side page's link for two organisations (and the source record decided on).
pub fn compare_href(a: Option<&str>, b: Option<&str>, source: &str) -> Option<String> {
    let a = a.filter(|x| !x.is_empty())?;
    let mut href = format!("/compare?a={}", crate::actions::encode(a));
    if let Some(b) = b.filter(|x| !x.is_empty() && *x != a) {
        href.push_str(&format!("&b={}", crate::actions::encode(b)));
    }
    if !source.is_empty() {
        href.push_str(&format!("&source={}", crate::actions::encode(source)));
    }
    Some(href)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn times_are_vietnam_time_to_the_second() {
        assert_eq!(
            vn_time("2025-06-30T17:05:09.123456789Z"),
            "01/07/2025 00:05:09"
        );
        assert_eq!(vn_time("not a time"), "not a time");
    }

    #[test]
    fn contributions_name_levels_and_sign_weights() {
        let f = json!({
            "prior": -6.5, "level_name": 5.0, "w_name": 7.25, "level_location": 0.0,
            "w_location": 2.0, "level_kind": 0.0, "w_kind": 0.1, "level_representative": 5.0,
            "w_representative": -0.4, "level_phone": 2.0, "w_phone": 0.0, "level_code": 3.0,
            "w_code": -1.0, "level_members": 1.0, "w_members": 0.8, "logit": 2.45
        });
        let s = score(Some(0.92), Some(&f)).expect("score");
        assert_eq!(s.probability, "0.9200");
        assert_eq!(s.prior.as_deref(), Some("-6.50"));
        assert_eq!(s.logit.as_deref(), Some("+2.45"));
        let name = &s.features[0];
        assert_eq!(
            (name.level.as_str(), name.weight.as_str()),
            ("strong", "+7.25")
        );
        assert_eq!(name.class, "for");
        assert_eq!(s.features[3].level, "missing");
        assert_eq!(s.features[3].class, "against");
        assert_eq!(
            (s.features[6].level.as_str(), s.features[6].weight.as_str()),
            ("close", "+0.80")
        );
        assert_eq!(s.features.len(), 7);
    }

    #[test]
    fn templates_escape_what_they_show() {
        let page = layout("<b>x</b>", None, "", "<p>trusted body</p>");
        assert!(page.contains("&lt;b&gt;x&lt;&#x2f;b&gt;"), "{page}");
        assert!(page.contains("<p>trusted body</p>"));
        let body = render(
            "compare.html",
            minijinja::context! {
                source => "<script>",
                columns => vec![json!({"id": "1", "title": "HTX \"A\" <i>"})],
                rows => Vec::<Value>::new(),
                problems => Vec::<String>::new(),
            },
        );
        assert!(
            !body.contains("<script>") && !body.contains("<i>"),
            "{body}"
        );
    }

    #[test]
    fn the_log_and_review_pages_render_names_times_and_contributions() {
        let org = Org::new(
            "0190c0de-0000-7000-8000-000000000001",
            Some(&json!({
                "name": "HTX chè Tả Lèng", "commune_code": "03400"
            })),
        );
        assert_eq!(org.district_name.as_deref(), Some("Huyện Tam Đường"));
        let f = json!({"prior": -6.5, "level_name": 5.0, "w_name": 7.25, "logit": 0.75});
        let row = json!({
            "decision_id": "d1", "at": "01/07/2025 00:05:09", "at_utc": "2025-06-30T17:05:09Z",
            "outcome": "review", "outcome_label": outcome_label("review"),
            "source": "ntm:03400:2024:1", "organisation": org, "candidate": Org::new("c2", None),
            "score": score(Some(0.679), Some(&f)), "rule": "probabilistic", "operator": "",
            "note": "", "compare": compare_href(Some("a1"), Some("c2"), "ntm:03400:2024:1"),
        });
        let body = render(
            "log.html",
            minijinja::context! {
                f => json!({}), districts => district_options(), outcomes => outcome_options(),
                shown => 1, scanned => 1, filtered => false, rows => vec![row],
                stream => "/api/v1/log/stream", problem => Option::<String>::None,
            },
        );
        // minijinja writes '/' as &#x2f;
        let body = body.replace("&#x2f;", "/");
        assert!(body.contains("id=\"stream-status\""), "{body}");
        assert!(body.contains("01/07/2025 00:05:09"), "{body}");
        assert!(
            body.contains("HTX chè Tả Lèng") && body.contains("Huyện Tam Đường"),
            "{body}"
        );
        assert!(
            body.contains("strong <b>+7.25</b>") && body.contains("= logit +0.75"),
            "{body}"
        );
        assert!(
            body.contains("class=\"compare\" href=\"/compare?a=a1&amp;b=c2"),
            "{body}"
        );
        assert!(body.contains("chờ rà soát"), "{body}");
    }

    #[test]
    fn every_template_compiles() {
        for t in [
            "layout.html",
            "macros.html",
            "log.html",
            "review.html",
            "compare.html",
            "report.html",
            "login.html",
            "audit.html",
            "health.html",
            "dlq.html",
            "dead_letter.html",
            "upload.html",
            "error.html",
            "cooperatives.html",
            "cooperative.html",
            "indicators.html",
        ] {
            assert!(ENV.get_template(t).is_ok(), "{t}");
        }
    }
}
