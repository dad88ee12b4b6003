//! The HTTP API (merged with `/healthz`, `/readyz`, `/metrics` by the runtime):
//!
//! | route | what |
//! |---|---|
//! | `GET /api/v1/plans` | the plans loaded (`PLAN_DIRS`): id, name, province; the default first |
//! | `GET /api/v1/plan?plan=<id>` | a plan: indicators, targets, baseline |
//! | `GET /api/v1/snapshots?units=2024` | every stored version of a unit list (headers), oldest first |
//! | `POST /api/v1/snapshots?units=2024&as_of=YYYY-MM-DD` | recompute now: `201` with a new version, `200` when the content equals the latest |
//! | `GET /api/v1/snapshots/latest?units=2024` | the latest snapshot (`indicator.snapshot.v1`) |
//! | `GET /api/v1/snapshots/{version}?units=2024` | a given version |
//! | `GET /api/v1/snapshots/{version\|latest}/units/{code}?units=2024` | one unit of a snapshot |
//! | `GET /api/v1/snapshots/{version\|latest}/export?format=csv\|xlsx\|html\|dhis2\|sdmx&lang=en\|vi&units=2024[&fragment=true]` | the provincial report (CSV for import, UTF-8 with a BOM and the provenance; XLSX and printable HTML laid out for people; DHIS2 `dataValueSets` JSON and SDMX-JSON, [`crate::interchange`]) |
//! | `GET /api/v1/indicators/{id}/history?unit=12&units=2024` | one indicator of one unit across versions |
//! | `GET /api/v1/openapi.json` | this API's OpenAPI 3.1 document (`contracts/openapi/hub-indicators.json`) |
//!
//! Every route needs the service credential (`Authorization: Bearer <token>`, one of
//! `SERVICE_TOKENS`; 401 otherwise, see [`hub_runtime::service_auth`]); `/healthz`, `/readyz`
//! and `/metrics` stay open. A recompute is logged with the operator the console vouched for
//! (`X-Hub-Operator`).
//!
//! Every route takes `plan=<id>` (default: the first plan loaded; an unknown one is `404`).
//! `units` defaults to the first of `UNIT_LIST`. Errors are JSON `{"error": "…"}`. Owns
//! request parsing and responses only; computing and storing belongs to [`Snapshots`].

use std::sync::Arc;

use aide::axum::ApiRouter;
use aide::axum::routing::get_with;
use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use hub_contracts::v1::indicator::{IndicatorSnapshot, UnitIndicators};
use hub_runtime::openapi::{self as oa, ApiInfo};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::export::{self, Lang};
use crate::plan::{IndicatorId, Plan, UnitList};
use crate::service::Snapshots;

/// An API error: status and message.
pub struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

/// Documented once for every operation: `{"error": "…"}` ([`oa::ErrorBody`]).
impl aide::OperationOutput for ApiError {
    type Inner = Self;
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        tracing::warn!(error = %e, "database error in API");
        Self(
            StatusCode::SERVICE_UNAVAILABLE,
            "database unavailable".into(),
        )
    }
}

impl From<crate::Error> for ApiError {
    fn from(e: crate::Error) -> Self {
        tracing::warn!(error = %e, "recompute failed");
        Self(StatusCode::SERVICE_UNAVAILABLE, e.to_string())
    }
}

fn bad(msg: impl Into<String>) -> ApiError {
    ApiError(StatusCode::BAD_REQUEST, msg.into())
}

fn not_found(msg: impl Into<String>) -> ApiError {
    ApiError(StatusCode::NOT_FOUND, msg.into())
}

type Api = Result<Response, ApiError>;

/// The query parameters of every route (each route reads those it needs).
#[derive(Debug, Deserialize, Default, JsonSchema)]
struct Params {
    /// The plan's id (default: the first plan loaded, `GET /api/v1/plans`).
    plan: Option<String>,
    /// The unit list, `2024` or `2025` (default: the first of `UNIT_LIST`).
    units: Option<String>,
    /// `POST /api/v1/snapshots` only: the day the snapshot is as of, `YYYY-MM-DD`.
    as_of: Option<String>,
    /// Export only: `csv` (default), `xlsx`, `html`, `dhis2` (dataValueSets JSON) or `sdmx`
    /// (SDMX-JSON 1.0 data message).
    format: Option<String>,
    /// Export only: `en` (default) or `vi`.
    lang: Option<String>,
    /// History only: the unit's code (default: the province).
    unit: Option<String>,
    /// `format=html` only: the report's body alone, for a page with its own layout.
    fragment: Option<bool>,
}

impl Params {
    fn plan<'a>(&self, snapshots: &'a Snapshots) -> Result<&'a Arc<Plan>, ApiError> {
        snapshots
            .plan(self.plan.as_deref())
            .ok_or_else(|| not_found(format!("no plan {:?} is loaded", self.plan)))
    }

    fn list(&self, snapshots: &Snapshots) -> Result<UnitList, ApiError> {
        match &self.units {
            None => Ok(snapshots
                .lists
                .first()
                .copied()
                .unwrap_or(UnitList::Units2024)),
            Some(s) => s.parse().map_err(|e| bad(format!("units: {e}"))),
        }
    }

    fn as_of(&self) -> Result<Option<NaiveDate>, ApiError> {
        self.as_of
            .as_deref()
            .map(|s| {
                NaiveDate::parse_from_str(s, "%Y-%m-%d")
                    .map_err(|_| bad(format!("as_of: expected YYYY-MM-DD, got {s:?}")))
            })
            .transpose()
    }

    fn lang(&self) -> Result<Lang, ApiError> {
        match self.lang.as_deref() {
            None | Some("en") => Ok(Lang::En),
            Some("vi") => Ok(Lang::Vi),
            Some(other) => Err(bad(format!("lang: expected en or vi, got {other:?}"))),
        }
    }
}

/// The API's routes over [`Snapshots`], with `GET /api/v1/openapi.json`.
pub fn router(snapshots: Arc<Snapshots>) -> Router {
    openapi().router.with_state(snapshots)
}

/// The API's routes and their OpenAPI document (what `GET /api/v1/openapi.json` answers).
pub fn openapi() -> oa::Finished<Arc<Snapshots>> {
    oa::finish(
        routes,
        ApiInfo {
            title: "hub-indicators",
            description: "Indicator snapshots against the plan's targets, their history and \
                the provincial report. Every route needs the service credential; a recompute \
                is logged with the operator in X-Hub-Operator.",
        },
        oa::service_credential,
    )
}

const VERSION: &str = "a version number, or `latest`";

fn routes() -> ApiRouter<Arc<Snapshots>> {
    ApiRouter::new()
        .api_route(
            "/api/v1/plans",
            get_with(plans, |op| {
                op.summary("The plans loaded, the default first")
            }),
        )
        .api_route(
            "/api/v1/plan",
            get_with(plan, |op| {
                op.summary("A plan (`plan=<id>`, default the first): indicators, targets, baseline")
                    .response_with::<200, Json<Value>, _>(|r| r.description("The plan"))
            }),
        )
        .api_route(
            "/api/v1/snapshots",
            get_with(versions, |op| {
                op.summary("Every stored version of a unit list (headers), oldest first")
                    .response_with::<200, Json<Value>, _>(|r| {
                        r.description("{plan_id, unit_list, versions: [header]}")
                    })
            })
            .post_with(recompute, |op| {
                op.summary("Recompute now")
                    .response_with::<201, Json<Value>, _>(|r| r.description("A new version"))
                    .response_with::<200, Json<Value>, _>(|r| {
                        r.description("The content equals the latest version's")
                    })
            }),
        )
        .api_route(
            "/api/v1/snapshots/{version}",
            get_with(snapshot, |op| {
                oa::path_param(
                    op.summary("A snapshot (indicator.snapshot.v1)"),
                    "version",
                    VERSION,
                )
                .response::<200, Json<IndicatorSnapshot>>()
            }),
        )
        .api_route(
            "/api/v1/snapshots/{version}/units/{code}",
            get_with(unit, |op| {
                let op = oa::path_param(op.summary("One unit of a snapshot"), "version", VERSION);
                oa::path_param(op, "code", "the unit's code").response::<200, Json<SnapshotUnit>>()
            }),
        )
        .api_route(
            "/api/v1/snapshots/{version}/export",
            get_with(export_report, |op| {
                let op = oa::path_param(op.summary("The provincial report"), "version", VERSION);
                oa::media_answer(
                    op,
                    200,
                    &[
                        "text/csv",
                        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                        "text/html",
                        "application/json",
                        "application/vnd.sdmx.data+json",
                    ],
                    "The report as a file (Content-Disposition names it)",
                )
            }),
        )
        .api_route(
            "/api/v1/indicators/{id}/history",
            get_with(history, |op| {
                oa::path_param(
                    op.summary("One indicator of one unit across versions"),
                    "id",
                    "the indicator's id",
                )
                .response_with::<200, Json<Value>, _>(|r| {
                    r.description("{plan_id, unit_list, unit, indicator, history: [point]}")
                })
            }),
        )
}

/// One unit of a snapshot, with what identifies the snapshot.
#[derive(Debug, Serialize, JsonSchema)]
pub struct SnapshotUnit {
    pub as_of: NaiveDate,
    pub baseline: NaiveDate,
    pub content_hash: String,
    pub plan_id: String,
    pub unit: UnitIndicators,
    pub unit_list: String,
    pub version: u64,
}

/// A plan loaded, as `GET /api/v1/plans` lists it.
#[derive(Debug, Serialize, JsonSchema)]
pub struct PlanHeader {
    pub id: String,
    pub name: String,
    pub name_vi: Option<String>,
    pub province_code: String,
    pub province_name: String,
    pub baseline: NaiveDate,
}

async fn plans(State(snapshots): State<Arc<Snapshots>>) -> Json<Vec<PlanHeader>> {
    Json(
        snapshots
            .plans
            .iter()
            .map(|p| PlanHeader {
                id: p.id.clone(),
                name: p.name.clone(),
                name_vi: p.name_vi.clone(),
                province_code: p.province_code.clone(),
                province_name: p.province_name.clone(),
                baseline: p.baseline,
            })
            .collect(),
    )
}

async fn plan(State(snapshots): State<Arc<Snapshots>>, Query(p): Query<Params>) -> Api {
    Ok(Json(p.plan(&snapshots)?.as_ref()).into_response())
}

async fn versions(State(snapshots): State<Arc<Snapshots>>, Query(p): Query<Params>) -> Api {
    let plan = p.plan(&snapshots)?;
    let list = p.list(&snapshots)?;
    let v = snapshots.store.versions(&plan.id, list).await?;
    Ok(Json(json!({ "plan_id": plan.id, "unit_list": list, "versions": v })).into_response())
}

async fn recompute(
    State(snapshots): State<Arc<Snapshots>>,
    operator: Option<axum::Extension<hub_runtime::service_auth::AuthenticatedOperator>>,
    Query(p): Query<Params>,
) -> Api {
    let plan = p.plan(&snapshots)?.clone();
    let list = p.list(&snapshots)?;
    let as_of = p.as_of()?;
    tracing::info!(
        operator = operator.as_ref().map(|o| o.0.0.as_str()).unwrap_or("-"),
        plan = %plan.id,
        %list,
        "recompute asked"
    );
    let r = snapshots.recompute_plan(&plan, list, as_of).await?;
    let code = if r.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((code, Json(r)).into_response())
}

/// `latest` or a version number.
fn parse_version(s: &str) -> Result<Option<u64>, ApiError> {
    if s == "latest" {
        return Ok(None);
    }
    s.parse::<u64>().map(Some).map_err(|_| {
        bad(format!(
            "version: expected a number or \"latest\", got {s:?}"
        ))
    })
}

async fn load(
    snapshots: &Snapshots,
    version: &str,
    p: &Params,
) -> Result<hub_contracts::v1::indicator::IndicatorSnapshot, ApiError> {
    let plan = p.plan(snapshots)?;
    let list = p.list(snapshots)?;
    let v = parse_version(version)?;
    snapshots
        .store
        .snapshot(&plan.id, list, v)
        .await?
        .ok_or_else(|| {
            not_found(match v {
                None => format!("no snapshot yet for unit list {list}"),
                Some(v) => format!("no version {v} for unit list {list}"),
            })
        })
}

async fn snapshot(
    State(snapshots): State<Arc<Snapshots>>,
    Path(version): Path<String>,
    Query(p): Query<Params>,
) -> Api {
    Ok(Json(load(&snapshots, &version, &p).await?).into_response())
}

async fn unit(
    State(snapshots): State<Arc<Snapshots>>,
    Path((version, code)): Path<(String, String)>,
    Query(p): Query<Params>,
) -> Api {
    let s = load(&snapshots, &version, &p).await?;
    let u = s
        .units
        .iter()
        .find(|u| u.unit_code == code)
        .ok_or_else(|| not_found(format!("no unit {code} in unit list {}", s.unit_list)))?;
    Ok(Json(SnapshotUnit {
        as_of: s.as_of,
        baseline: s.baseline,
        content_hash: s.content_hash.clone(),
        plan_id: s.plan_id.clone(),
        unit: u.clone(),
        unit_list: s.unit_list.clone(),
        version: s.version,
    })
    .into_response())
}

async fn export_report(
    State(snapshots): State<Arc<Snapshots>>,
    Path(version): Path<String>,
    Query(p): Query<Params>,
) -> Api {
    let lang = p.lang()?;
    let plan = p.plan(&snapshots)?;
    let s = load(&snapshots, &version, &p).await?;
    let name = format!("{}-{}-v{}-{}", s.plan_id, s.unit_list, s.version, s.as_of);
    let fail = |e: export::ExportError| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string());
    match p.format.as_deref().unwrap_or("csv") {
        "csv" => Ok((
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{name}.csv\""),
                ),
            ],
            crate::interchange::csv_with_bom(plan, &s, lang).map_err(fail)?,
        )
            .into_response()),
        "dhis2" => {
            let map = plan.dhis2.as_ref().ok_or_else(|| {
                not_found(format!(
                    "plan {} has no DHIS2 mapping (its plan file names none: `dhis2`)",
                    plan.id
                ))
            })?;
            let body = crate::interchange::dhis2(map, &s).map_err(fail)?;
            Ok((
                [(
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{name}.dhis2.json\""),
                )],
                Json(body),
            )
                .into_response())
        }
        "sdmx" => Ok((
            [
                (
                    header::CONTENT_TYPE,
                    "application/vnd.sdmx.data+json; version=1.0.0; charset=utf-8".to_owned(),
                ),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{name}.sdmx.json\""),
                ),
            ],
            crate::interchange::sdmx(plan, &s).to_string(),
        )
            .into_response()),
        "xlsx" => Ok((
            [
                (
                    header::CONTENT_TYPE,
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet".to_owned(),
                ),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{name}.xlsx\""),
                ),
            ],
            export::xlsx(plan, &s, &snapshots.sources, lang).map_err(fail)?,
        )
            .into_response()),
        "html" => Ok((
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8".to_owned()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("inline; filename=\"{name}.html\""),
                ),
            ],
            export::html(plan, &s, &snapshots.sources, p.fragment.unwrap_or(false))
                .map_err(fail)?,
        )
            .into_response()),
        other => Err(bad(format!(
            "format: expected csv, xlsx, html, dhis2 or sdmx, got {other:?}"
        ))),
    }
}

async fn history(
    State(snapshots): State<Arc<Snapshots>>,
    Path(id): Path<String>,
    Query(p): Query<Params>,
) -> Api {
    let plan = p.plan(&snapshots)?;
    let list = p.list(&snapshots)?;
    let indicator: IndicatorId = id.parse().map_err(|e| bad(format!("indicator: {e}")))?;
    let unit = p.unit.clone().unwrap_or_else(|| plan.province_code.clone());
    if plan.units(list).row(&unit).is_none() {
        return Err(not_found(format!("no unit {unit} in unit list {list}")));
    }
    let points = snapshots
        .store
        .history(&plan.id, list, &unit, indicator.as_str())
        .await?;
    Ok(Json(json!({
        "plan_id": plan.id,
        "unit_list": list,
        "unit": unit,
        "indicator": indicator,
        "history": points,
    }))
    .into_response())
}
