//! Ground truth: what a perfect hub would conclude from the three systems.
//!
//! Owns [`Truth`] and its computation from a [`World`]:
//! - every organisation some system knows, with the source records that are really about
//!   it (registry id, loan numbers, NTM entries `{commune_code}:{year}:{index}` of the
//!   revision served now); households separately; bad records separately (a bad record
//!   belongs to nobody, and is built so that whether a hub rejects it or reads what it can
//!   does not change any indicator);
//! - the current source records per system with their change markers, to check that a sync
//!   delivered everything;
//! - indicators I1–I10 for the province, each district and each commune, exactly per
//!   `shared/mission/indicators.md`, from the true identities.
//!
//! Choices where the definitions leave room, which a hub's tests must share:
//! - Registry facts are taken as they are now; only dates are compared with T and B.
//!   An organisation established after T does not exist as of T and counts nowhere.
//! - An organisation missing from the registry has no registry facts: it is not
//!   "supported", not "new", and counts in no indicator (its NTM entries still count for
//!   their commune's criterion 13.1 through the report's own `met` flag).
//! - A commune's NTM report for year Y is its highest `submitted`/`approved` revision that
//!   was ever the revision served (current at generation or after a mutation). Revisions
//!   made up as history at generation were never served, so a report generated as
//!   approved-then-draft counts as not reported for that year (fall back to Y-1). A hub
//!   reading after every mutation sees exactly the served revisions.
//! - Count indicators (I1, I2, I4) carry `numerator` = `value`; I3 and I10 are percents
//!   with the count as numerator; I5 is `no_source` with its numerator; I8 is `no_source`.
//! - With the 2025 unit list, a new unit's I10 denominator is the number of pre-2025
//!   communes merged into it.

mod indicators;

use std::path::Path;

use chrono::NaiveDate;
use hub_contracts::v1::common::{OrgKind, SourceRef};
use hub_contracts::v1::indicator::{UnitLevel, ValueUnit};
use hub_contracts::v1::source::{OrgStatus, ReportStatus};
use hub_normalise::reference::Reference;
use serde::{Deserialize, Serialize};

use crate::error::SimError;
use crate::generate::DEFAULT_BASELINE;
use crate::world::{NtmRevision, RegistrySubject, Subject, System, World, local_text, rfc3339};
use indicators::{met_13_1, unit_values};

/// Which unit list indicators are given for (the contract's type, re-exported).
pub use hub_contracts::v1::indicator::UnitList;

/// The truth's parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TruthParams {
    /// T.
    pub as_of: NaiveDate,
    /// B.
    pub baseline: NaiveDate,
    pub units: UnitList,
}

impl TruthParams {
    /// T = the date (UTC+7) of the latest timestamp in the world, B = 2024-02-20, 2024 units.
    pub fn for_world(world: &World) -> TruthParams {
        TruthParams {
            as_of: world.clock().date_naive(),
            baseline: DEFAULT_BASELINE,
            units: UnitList::Units2024,
        }
    }

    /// From query text (`as_of`, `baseline` as `YYYY-MM-DD`, `units` as `2024`/`2025`), each
    /// optional, defaulting as [`TruthParams::for_world`].
    pub fn parse(
        world: &World,
        as_of: Option<&str>,
        baseline: Option<&str>,
        units: Option<&str>,
    ) -> Result<TruthParams, SimError> {
        let mut p = TruthParams::for_world(world);
        let date = |name: &str, s: &str| {
            NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .map_err(|_| SimError::InvalidParam(format!("{name} must be YYYY-MM-DD: {s:?}")))
        };
        if let Some(s) = as_of {
            p.as_of = date("as_of", s)?;
        }
        if let Some(s) = baseline {
            p.baseline = date("baseline", s)?;
        }
        match units {
            None | Some("2024") => {}
            Some("2025") => p.units = UnitList::Units2025,
            Some(other) => {
                return Err(SimError::InvalidParam(format!(
                    "units must be 2024 or 2025: {other:?}"
                )));
            }
        }
        Ok(p)
    }
}

/// The ground truth.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Truth {
    pub seed: u64,
    pub as_of: NaiveDate,
    pub baseline: NaiveDate,
    /// `2024` or `2025`.
    pub unit_list: UnitList,
    /// Organisations at least one system knows, by `org_id`.
    pub organisations: Vec<TruthOrganisation>,
    /// Household borrowers (outside the hub's scope).
    pub households: Vec<TruthHousehold>,
    /// Current source records that are deliberately invalid.
    pub bad_records: Vec<TruthBadRecord>,
    /// Every current source record per system.
    pub records: TruthRecords,
    /// Per commune and report year: the revision served now and the one that counts.
    pub ntm_reports: Vec<TruthReport>,
    /// Province, then districts (2024 list), then communes.
    pub indicators: Vec<TruthUnit>,
}

/// One true organisation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TruthOrganisation {
    /// The simulator's id (`ORG-0001`), unknown to every system.
    pub org_id: String,
    pub kind: OrgKind,
    /// Legal name.
    pub name: String,
    pub commune_code: String,
    pub district_code: String,
    /// The post-reform unit its commune became part of.
    pub unit_2025: Option<String>,
    pub registration_code: Option<String>,
    pub in_registry: bool,
    /// Registry facts (null when not in the registry).
    pub farmers_union_supported: Option<bool>,
    pub established_on: Option<NaiveDate>,
    pub status: Option<OrgStatus>,
    /// Every current source record about it: registry, loans, NTM entries.
    pub records: Vec<SourceRef>,
}

/// One household borrower.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TruthHousehold {
    pub household_id: String,
    pub full_name: String,
    pub commune_code: String,
    pub records: Vec<SourceRef>,
}

/// A deliberately invalid current source record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TruthBadRecord {
    pub system: String,
    /// Registry id, loan number, or `{commune_code}:{year}` (its current revision is bad).
    pub id: String,
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<u32>,
}

/// Every current source record per system.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TruthRecords {
    #[serde(rename = "coop-alliance")]
    pub coop_alliance: Vec<RegistryMarker>,
    #[serde(rename = "loan-fund")]
    pub loan_fund: Vec<LoanMarker>,
    pub ntm: Vec<ReportMarker>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegistryMarker {
    pub id: String,
    pub version: u64,
    pub updated_at: String,
    pub bad: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoanMarker {
    /// `loan_no`.
    pub id: String,
    /// Local text, as served.
    pub modified: String,
    pub bad: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportMarker {
    /// `{commune_code}:{year}`.
    pub id: String,
    pub commune_code: String,
    pub year: i32,
    /// Current revision and status.
    pub revision: u32,
    pub status: ReportStatus,
    /// Entry ids of the current revision, `{commune_code}:{year}:{index}`.
    pub entries: Vec<String>,
    pub bad: bool,
}

/// A report's served and counted revisions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TruthReport {
    pub commune_code: String,
    pub year: i32,
    pub current_revision: u32,
    pub current_status: ReportStatus,
    /// The highest submitted/approved revision ever served, if any.
    pub counted_revision: Option<u32>,
    /// Criterion 13.1 of the counted revision.
    pub counted_13_1_met: Option<bool>,
}

/// Status of a truth value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TruthStatus {
    /// A value.
    Ok,
    /// A percent with a zero denominator.
    NoData,
    /// No connected source.
    NoSource,
}

/// One indicator in one unit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TruthValue {
    pub indicator: String,
    pub unit: ValueUnit,
    pub value: Option<f64>,
    pub numerator: Option<f64>,
    pub denominator: Option<f64>,
    pub status: TruthStatus,
}

/// All indicators of one unit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TruthUnit {
    pub unit_code: String,
    pub unit_name: String,
    pub level: UnitLevel,
    pub parent_code: Option<String>,
    pub values: Vec<TruthValue>,
}

impl TruthUnit {
    /// A value by indicator id (`I7`).
    pub fn value(&self, indicator: &str) -> Option<&TruthValue> {
        self.values.iter().find(|v| v.indicator == indicator)
    }
}

impl Truth {
    /// Every value of every unit of this truth that a published snapshot does not equal, in
    /// words (empty: the snapshot equals the truth). Units of the snapshot that the truth does
    /// not list are differences too.
    pub fn differences(&self, s: &hub_contracts::v1::IndicatorSnapshot) -> Vec<String> {
        use hub_contracts::v1::ValueStatus;
        let mut out = Vec::new();
        if s.units.len() != self.indicators.len() {
            out.push(format!(
                "{} units, truth has {}",
                s.units.len(),
                self.indicators.len()
            ));
        }
        for tu in &self.indicators {
            let Some(u) = s.units.iter().find(|u| u.unit_code == tu.unit_code) else {
                out.push(format!("unit {} missing", tu.unit_code));
                continue;
            };
            if (u.level, &u.parent_code, &u.unit_name) != (tu.level, &tu.parent_code, &tu.unit_name)
            {
                out.push(format!("unit {}: level/parent/name differ", tu.unit_code));
            }
            for tv in &tu.values {
                let Some(v) = u.values.iter().find(|v| v.indicator == tv.indicator) else {
                    out.push(format!("{} {} missing", tu.unit_code, tv.indicator));
                    continue;
                };
                let status_agrees = match tv.status {
                    TruthStatus::Ok => matches!(v.status, ValueStatus::Met | ValueStatus::Behind),
                    TruthStatus::NoData => v.status == ValueStatus::NoData,
                    TruthStatus::NoSource => v.status == ValueStatus::NoSource,
                };
                if (v.value, v.numerator, v.denominator, v.unit)
                    != (tv.value, tv.numerator, tv.denominator, tv.unit)
                    || !status_agrees
                {
                    out.push(format!(
                        "{} {}: got {:?}/{:?}/{:?} {:?}, truth {:?}/{:?}/{:?} {:?}",
                        tu.unit_code,
                        tv.indicator,
                        v.value,
                        v.numerator,
                        v.denominator,
                        v.status,
                        tv.value,
                        tv.numerator,
                        tv.denominator,
                        tv.status
                    ));
                }
            }
        }
        out
    }

    /// A unit's indicators by code (`12` is the province).
    pub fn unit(&self, code: &str) -> Option<&TruthUnit> {
        self.indicators.iter().find(|u| u.unit_code == code)
    }

    /// Writes the truth as pretty JSON (through a temporary file, then renamed).
    pub fn write_to(&self, path: &Path) -> Result<(), SimError> {
        let text = serde_json::to_vec_pretty(self)?;
        let tmp = path.with_extension("tmp");
        let err = |source| SimError::Write {
            path: path.to_owned(),
            source,
        };
        std::fs::write(&tmp, text).map_err(err)?;
        std::fs::rename(&tmp, path).map_err(err)
    }
}

/// The revision that stands as a commune's NTM report as of `year`: the counted revision of
/// the latest report year <= `year` that has one.
pub fn commune_report<'a>(
    world: &'a World,
    commune_code: &str,
    year: i32,
) -> Option<&'a NtmRevision> {
    world
        .reports
        .iter()
        .filter(|r| r.commune_code == commune_code && r.year <= year)
        .filter_map(|r| r.counted().map(|c| (r.year, c)))
        .max_by_key(|(y, _)| *y)
        .map(|(_, c)| c)
}

fn src(system: System, id: impl Into<String>) -> SourceRef {
    SourceRef::new(system.as_str(), id)
}

/// The source records of every identity, the bad records, and the markers of every record
/// served, while they are collected.
struct Sources {
    org_records: Vec<Vec<SourceRef>>,
    hh_records: Vec<Vec<SourceRef>>,
    bad_records: Vec<TruthBadRecord>,
    records: TruthRecords,
    ntm_reports: Vec<TruthReport>,
}

impl World {
    /// The ground truth for these parameters.
    pub fn truth(&self, params: &TruthParams) -> Truth {
        let mut sources = Sources {
            org_records: vec![Vec::new(); self.organisations.len()],
            hh_records: vec![Vec::new(); self.households.len()],
            bad_records: Vec::new(),
            records: TruthRecords {
                coop_alliance: Vec::new(),
                loan_fund: Vec::new(),
                ntm: Vec::new(),
            },
            ntm_reports: Vec::new(),
        };
        self.registry_sources(&mut sources);
        self.loan_sources(&mut sources);
        self.ntm_sources(&mut sources);
        let Sources {
            org_records,
            hh_records,
            bad_records,
            records,
            ntm_reports,
        } = sources;
        let organisations = self.truth_organisations(org_records);
        let households = self
            .households
            .iter()
            .zip(hh_records)
            .filter(|(_, recs)| !recs.is_empty())
            .map(|(h, records)| TruthHousehold {
                household_id: h.id.clone(),
                full_name: h.full_name.clone(),
                commune_code: h.commune_code.clone(),
                records,
            })
            .collect();
        let acc = self.commune_sums(params.as_of, params.baseline);
        Truth {
            seed: self.seed,
            as_of: params.as_of,
            baseline: params.baseline,
            unit_list: params.units,
            organisations,
            households,
            bad_records,
            records,
            ntm_reports,
            indicators: unit_values(&acc, params.units),
        }
    }

    /// The registry's records: markers, bad records, and each organisation's records.
    fn registry_sources(&self, out: &mut Sources) {
        let mut registry: Vec<_> = self.registry.iter().collect();
        registry.sort_by(|a, b| a.id.cmp(&b.id));
        for rec in registry {
            out.records.coop_alliance.push(RegistryMarker {
                id: rec.id.clone(),
                version: rec.version,
                updated_at: rfc3339(&rec.updated_at),
                bad: rec.bad.is_some(),
            });
            match (&rec.bad, &rec.subject) {
                (Some(bad), _) => out.bad_records.push(TruthBadRecord {
                    system: System::CoopAlliance.as_str().into(),
                    id: rec.id.clone(),
                    reason: bad.reason.clone(),
                    revision: None,
                }),
                (None, RegistrySubject::Org(i)) => {
                    if let Some(v) = out.org_records.get_mut(*i) {
                        v.push(src(System::CoopAlliance, rec.id.clone()));
                    }
                }
                (None, RegistrySubject::Junk(_)) => {}
            }
        }
    }

    /// The loans: markers, bad records, and each organisation's and household's records.
    fn loan_sources(&self, out: &mut Sources) {
        let mut loans: Vec<_> = self.loans.iter().collect();
        loans.sort_by(|a, b| a.loan_no.cmp(&b.loan_no));
        for loan in loans {
            out.records.loan_fund.push(LoanMarker {
                id: loan.loan_no.clone(),
                modified: local_text(&loan.modified),
                bad: loan.bad.is_some(),
            });
            let r = src(System::LoanFund, loan.loan_no.clone());
            match (&loan.bad, loan.subject) {
                (Some(bad), _) => out.bad_records.push(TruthBadRecord {
                    system: System::LoanFund.as_str().into(),
                    id: loan.loan_no.clone(),
                    reason: bad.reason.clone(),
                    revision: None,
                }),
                (None, Subject::Org(i)) => {
                    if let Some(v) = out.org_records.get_mut(i) {
                        v.push(r);
                    }
                }
                (None, Subject::Household(h)) => {
                    if let Some(v) = out.hh_records.get_mut(h) {
                        v.push(r);
                    }
                }
                (None, Subject::Nobody) => {}
            }
        }
    }

    /// The NTM reports: markers, bad records, each organisation's entries, and which
    /// revision of each report is current and counted.
    fn ntm_sources(&self, out: &mut Sources) {
        for rep in &self.reports {
            let Some(cur) = rep.current() else { continue };
            let id = rep.id();
            let entries: Vec<String> = (0..cur.cooperatives.len())
                .map(|i| format!("{id}:{i}"))
                .collect();
            out.records.ntm.push(ReportMarker {
                id: id.clone(),
                commune_code: rep.commune_code.clone(),
                year: rep.year,
                revision: cur.revision,
                status: cur.status,
                entries: entries.clone(),
                bad: cur.bad.is_some(),
            });
            if let Some(bad) = &cur.bad {
                out.bad_records.push(TruthBadRecord {
                    system: System::Ntm.as_str().into(),
                    id: id.clone(),
                    reason: bad.reason.clone(),
                    revision: Some(cur.revision),
                });
            } else {
                for (e, entry_id) in cur.cooperatives.iter().zip(entries) {
                    if let Some(v) = out.org_records.get_mut(e.org) {
                        v.push(src(System::Ntm, entry_id));
                    }
                }
            }
            let counted = rep.counted();
            out.ntm_reports.push(TruthReport {
                commune_code: rep.commune_code.clone(),
                year: rep.year,
                current_revision: cur.revision,
                current_status: cur.status,
                counted_revision: counted.map(|c| c.revision),
                counted_13_1_met: counted.map(met_13_1),
            });
        }
        out.ntm_reports
            .sort_by(|a, b| (&a.commune_code, a.year).cmp(&(&b.commune_code, b.year)));
        out.records.ntm.sort_by(|a, b| a.id.cmp(&b.id));
    }

    /// The organisations some record names, with those records.
    fn truth_organisations(&self, org_records: Vec<Vec<SourceRef>>) -> Vec<TruthOrganisation> {
        let reference = Reference::get();
        self.organisations
            .iter()
            .zip(org_records)
            .filter(|(_, recs)| !recs.is_empty())
            .map(|(o, records)| {
                let f = &o.facts;
                let reg = o.registry_id.is_some();
                TruthOrganisation {
                    org_id: o.id.clone(),
                    kind: f.kind,
                    name: f.name.clone(),
                    commune_code: f.commune_code.clone(),
                    district_code: f.district_code.clone(),
                    unit_2025: reference.new_unit_of(&f.commune_code).map(str::to_owned),
                    registration_code: f.registration_code.clone(),
                    in_registry: reg,
                    farmers_union_supported: reg.then_some(f.farmers_union_supported),
                    established_on: reg.then_some(f.established_on),
                    status: reg.then_some(f.status),
                    records,
                }
            })
            .collect()
    }
}
