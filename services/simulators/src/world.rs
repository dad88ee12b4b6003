//! The world: true organisations and households, and the source records each agency system
//! holds about them (registry records, loans, NTM report revisions), with the link from
//! every source record to the identity it is really about.
//!
//! Owns the data model and its rendering into the three source formats exactly as the specs
//! in `shared/sources/` show them. Generation lives in [`mod@crate::generate`], change over time
//! in [`crate::mutate`], the ground truth in [`crate::truth`].

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, SecondsFormat, TimeZone};
use hub_contracts::v1::common::OrgKind;
use hub_contracts::v1::source::{
    BorrowerType, Criterion, KeyOfficers, LoanStatus, OrgStatus, Origin, Rating, ReportStatus,
};
use hub_normalise::reference::Reference;
use serde::Serialize;
use serde_json::{Value, json};

/// The three simulated systems.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum System {
    CoopAlliance,
    LoanFund,
    Ntm,
}

impl System {
    /// The system's name as source references use it.
    pub fn as_str(self) -> &'static str {
        match self {
            System::CoopAlliance => "coop-alliance",
            System::LoanFund => "loan-fund",
            System::Ntm => "ntm",
        }
    }

    pub const ALL: [System; 3] = [System::CoopAlliance, System::LoanFund, System::Ntm];
}

impl std::fmt::Display for System {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Vietnam's UTC offset, +07:00.
pub const VN_OFFSET: FixedOffset = match FixedOffset::east_opt(7 * 3600) {
    Some(o) => o,
    None => panic!("+07:00 is a valid offset"),
};

/// Vietnam's UTC offset, +07:00.
pub fn vn_offset() -> FixedOffset {
    VN_OFFSET
}

/// When the administrative reform took effect: 1 July 2025, 00:00 in Vietnam.
pub fn reform_start() -> DateTime<FixedOffset> {
    let t = NaiveDate::from_ymd_opt(2025, 7, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .unwrap_or_default();
    local_to_fixed(&t)
}

/// RFC 3339 with seconds and the record's own offset: `2025-03-01T08:00:00+07:00`.
pub fn rfc3339(t: &DateTime<FixedOffset>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, false)
}

/// The loan fund's local time text: `2024-07-02 10:11:12`.
pub fn local_text(t: &NaiveDateTime) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}

/// A local (UTC+7) wall time as an instant with its offset.
pub fn local_to_fixed(t: &NaiveDateTime) -> DateTime<FixedOffset> {
    vn_offset()
        .from_local_datetime(t)
        .single()
        .unwrap_or_else(|| DateTime::from_naive_utc_and_offset(*t, vn_offset()))
}

/// The registry's representative object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Representative {
    pub full_name: Option<String>,
    pub phone: Option<String>,
}

/// What is true about an organisation (and what the registry says about it, when it has a
/// registry record: the registry is the authoritative source of these facts).
#[derive(Debug, Clone, PartialEq)]
pub struct OrgFacts {
    pub kind: OrgKind,
    /// Legal name, with diacritics.
    pub name: String,
    pub commune_code: String,
    pub district_code: String,
    /// The village (bản) it sits in.
    pub village: String,
    /// The place its legal name carries (commune, village or district name, with any
    /// `số 2` suffix): what short forms keep.
    pub place: String,
    /// Main product line (a [`crate::vocab::PRODUCTS`] word).
    pub product: String,
    pub address: String,
    pub registration_code: Option<String>,
    pub representative: Option<Representative>,
    pub established_on: NaiveDate,
    pub status: OrgStatus,
    pub member_households: u32,
    pub farmers_union_supported: bool,
    pub origin: Option<Origin>,
    pub rating: Option<Rating>,
    pub enterprise_linkage: Option<bool>,
    pub key_officers: Option<KeyOfficers>,
}

/// A true organisation (HTX, THT or LHHTX): one golden record.
#[derive(Debug, Clone, PartialEq)]
pub struct Organisation {
    /// The simulator's own id, `ORG-0001`; no source system knows it.
    pub id: String,
    pub facts: OrgFacts,
    /// Its registry record, if the registry has it.
    pub registry_id: Option<String>,
    /// Where it was before it moved to the commune its facts (and the registry) give; loans
    /// disbursed and NTM reports of years before the move still place it there. Only field
    /// worlds ([`crate::NoiseModel::Field`]) have moves.
    pub moved_from: Option<Move>,
}

/// A cooperative's move to another commune of its district.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Move {
    /// The pre-reform commune it was in before.
    pub commune_code: String,
    /// Its village there.
    pub village: String,
    /// The day it moved: loans disbursed before and NTM reports of earlier years use the old
    /// commune.
    pub on: NaiveDate,
}

/// A household borrower (outside the hub's scope, but delivered by the loan fund).
#[derive(Debug, Clone, PartialEq)]
pub struct Household {
    /// `HH-0001`.
    pub id: String,
    pub full_name: String,
    pub commune_code: String,
    pub village: String,
    pub phone: Option<String>,
}

/// A deliberate defect in a source record: the record is served with `patches` applied over
/// its well-formed rendering.
#[derive(Debug, Clone, PartialEq)]
pub struct BadMark {
    pub reason: String,
    pub patches: Vec<Patch>,
}

/// Sets the value at `path` (object keys, or array indices as decimal text).
#[derive(Debug, Clone, PartialEq)]
pub struct Patch {
    pub path: Vec<String>,
    pub value: Value,
}

impl Patch {
    pub fn new(path: &[&str], value: Value) -> Self {
        Patch {
            path: path.iter().map(|s| (*s).to_owned()).collect(),
            value,
        }
    }
}

fn apply_patches(mut v: Value, bad: &Option<BadMark>) -> Value {
    if let Some(bad) = bad {
        for p in &bad.patches {
            set_path(&mut v, &p.path, p.value.clone());
        }
    }
    v
}

fn set_path(v: &mut Value, path: &[String], value: Value) {
    let Some((first, rest)) = path.split_first() else {
        *v = value;
        return;
    };
    let child = match v {
        Value::Object(map) if rest.is_empty() => {
            map.insert(first.clone(), value);
            return;
        }
        Value::Object(map) => map.get_mut(first),
        Value::Array(items) => first.parse::<usize>().ok().and_then(|i| items.get_mut(i)),
        _ => None,
    };
    if let Some(child) = child {
        set_path(child, rest, value);
    }
}

/// Who a registry record describes.
#[derive(Debug, Clone, PartialEq)]
pub enum RegistrySubject {
    /// A true organisation (index into [`World::organisations`]).
    Org(usize),
    /// A bad record's made-up content: it belongs to no organisation.
    Junk(Box<OrgFacts>),
}

/// One record of the Cooperative Alliance registry.
#[derive(Debug, Clone, PartialEq)]
pub struct RegistryRecord {
    /// `LM-000123`.
    pub id: String,
    pub subject: RegistrySubject,
    pub updated_at: DateTime<FixedOffset>,
    pub version: u64,
    pub bad: Option<BadMark>,
}

/// Who a loan (or a report entry) is really about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    Org(usize),
    Household(usize),
    /// A bad record's made-up borrower.
    Nobody,
}

/// The borrower as the loan officer typed it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BorrowerText {
    pub name: String,
    pub tax_code: Option<String>,
    pub address: String,
    pub legal_rep: Option<String>,
    pub phone: Option<String>,
}

/// One loan of the Cooperative Development Support Fund.
#[derive(Debug, Clone, PartialEq)]
pub struct Loan {
    /// `QHT-2024-00017`.
    pub loan_no: String,
    pub subject: Subject,
    pub borrower: BorrowerText,
    pub borrower_type: BorrowerType,
    pub amount_vnd: i64,
    pub disbursed_on: NaiveDate,
    pub term_months: u32,
    pub purpose: String,
    pub status: LoanStatus,
    /// Local time of Vietnam (UTC+7), no zone.
    pub modified: NaiveDateTime,
    pub bad: Option<BadMark>,
}

/// One cooperative listed in a report revision.
#[derive(Debug, Clone, PartialEq)]
pub struct NtmEntry {
    /// The organisation it really is.
    pub org: usize,
    pub name: String,
    pub kind: Option<OrgKind>,
    pub representative: Option<String>,
    pub members: Option<u32>,
    pub effective: bool,
    pub linked_with_enterprise: Option<bool>,
}

/// One revision of a commune's annual report.
#[derive(Debug, Clone, PartialEq)]
pub struct NtmRevision {
    pub revision: u32,
    pub status: ReportStatus,
    pub criteria: Vec<Criterion>,
    pub cooperatives: Vec<NtmEntry>,
    /// Null for drafts.
    pub submitted_at: Option<DateTime<FixedOffset>>,
    /// Whether this revision was ever the one served (the current revision at world
    /// generation or after a mutation). History made up at generation time was not.
    pub ever_current: bool,
    pub bad: Option<BadMark>,
}

/// A commune's report for one year, with its revision history (last = current).
#[derive(Debug, Clone, PartialEq)]
pub struct NtmReport {
    pub commune_code: String,
    pub year: i32,
    pub revisions: Vec<NtmRevision>,
}

impl NtmReport {
    /// `{commune_code}:{year}`.
    pub fn id(&self) -> String {
        format!("{}:{}", self.commune_code, self.year)
    }

    /// The revision served now.
    pub fn current(&self) -> Option<&NtmRevision> {
        self.revisions.last()
    }

    /// The highest `submitted`/`approved` revision that was ever served, if any: what a hub
    /// that read the report each time it changed counts.
    pub fn counted(&self) -> Option<&NtmRevision> {
        self.revisions
            .iter()
            .filter(|r| r.ever_current && r.bad.is_none())
            .filter(|r| matches!(r.status, ReportStatus::Submitted | ReportStatus::Approved))
            .max_by_key(|r| r.revision)
    }
}

/// The whole simulated world. Indices in [`Subject`] and [`RegistrySubject`] point into
/// `organisations` and `households`; nothing is ever removed, so they stay valid.
#[derive(Debug, Clone, PartialEq)]
pub struct World {
    pub seed: u64,
    /// The world's "now" at generation.
    pub now: DateTime<FixedOffset>,
    pub report_years: Vec<i32>,
    pub organisations: Vec<Organisation>,
    pub households: Vec<Household>,
    pub registry: Vec<RegistryRecord>,
    pub loans: Vec<Loan>,
    /// Ordered by (year, commune_code).
    pub reports: Vec<NtmReport>,
    /// How many mutations were applied (seeds each mutation's randomness).
    pub mutations: u64,
    /// How its records are written (new loans and report entries of mutations follow it).
    pub noise: crate::NoiseModel,
    pub(crate) next_registry_no: u64,
    pub(crate) next_loan_seq: std::collections::BTreeMap<i32, u32>,
}

impl World {
    /// An empty world (no organisations, no records) for hand-built scenarios.
    pub fn empty(seed: u64, now: DateTime<FixedOffset>, report_years: Vec<i32>) -> World {
        World {
            seed,
            now,
            report_years,
            organisations: Vec::new(),
            households: Vec::new(),
            registry: Vec::new(),
            loans: Vec::new(),
            reports: Vec::new(),
            mutations: 0,
            noise: crate::NoiseModel::Classic,
            next_registry_no: 1,
            next_loan_seq: Default::default(),
        }
    }

    /// Adds an organisation; with `registry_at = Some((updated_at, version))` the registry
    /// gets a record for it. Returns the organisation's index.
    pub fn add_organisation(
        &mut self,
        facts: OrgFacts,
        registry_at: Option<(DateTime<FixedOffset>, u64)>,
    ) -> usize {
        let idx = self.organisations.len();
        let registry_id = registry_at.map(|(updated_at, version)| {
            let id = self.new_registry_id();
            self.registry.push(RegistryRecord {
                id: id.clone(),
                subject: RegistrySubject::Org(idx),
                updated_at,
                version,
                bad: None,
            });
            id
        });
        self.organisations.push(Organisation {
            id: format!("ORG-{:04}", idx + 1),
            facts,
            registry_id,
            moved_from: None,
        });
        idx
    }

    /// The commune and village an organisation was in on `date` (its facts', unless it moved
    /// after that day).
    pub fn place_on(&self, org: usize, date: NaiveDate) -> Option<(&str, &str)> {
        let o = self.organisations.get(org)?;
        Some(match &o.moved_from {
            Some(m) if date < m.on => (m.commune_code.as_str(), m.village.as_str()),
            _ => (o.facts.commune_code.as_str(), o.facts.village.as_str()),
        })
    }

    /// The commune whose NTM report of `year` lists an organisation: the one it was in that
    /// year (a move counts from the year it happened).
    pub fn commune_in_year(&self, org: usize, year: i32) -> Option<&str> {
        let o = self.organisations.get(org)?;
        Some(match &o.moved_from {
            Some(m) if year < chrono::Datelike::year(&m.on) => m.commune_code.as_str(),
            _ => o.facts.commune_code.as_str(),
        })
    }

    /// Adds a household, returning its index.
    pub fn add_household(
        &mut self,
        full_name: &str,
        commune_code: &str,
        village: &str,
        phone: Option<String>,
    ) -> usize {
        let idx = self.households.len();
        self.households.push(Household {
            id: format!("HH-{:04}", idx + 1),
            full_name: full_name.to_owned(),
            commune_code: commune_code.to_owned(),
            village: village.to_owned(),
            phone,
        });
        idx
    }

    /// The next registry id, `LM-000001` onwards.
    pub fn new_registry_id(&mut self) -> String {
        let id = format!("LM-{:06}", self.next_registry_no);
        self.next_registry_no += 1;
        id
    }

    /// The next loan number of a year, `QHT-2024-00001` onwards.
    pub fn new_loan_no(&mut self, year: i32) -> String {
        let seq = self.next_loan_seq.entry(year).or_insert(0);
        *seq += 1;
        format!("QHT-{year}-{:05}", *seq)
    }

    /// Adds a report revision as the current one (marking it served), creating the report if
    /// needed; keeps `reports` ordered.
    pub fn push_revision(&mut self, commune_code: &str, year: i32, mut rev: NtmRevision) {
        rev.ever_current = true;
        match self
            .reports
            .binary_search_by(|r| (r.year, r.commune_code.as_str()).cmp(&(year, commune_code)))
        {
            Ok(i) => {
                rev.revision = self.reports[i]
                    .revisions
                    .last()
                    .map_or(1, |r| r.revision + 1);
                self.reports[i].revisions.push(rev);
            }
            Err(i) => {
                rev.revision = 1;
                self.reports.insert(
                    i,
                    NtmReport {
                        commune_code: commune_code.to_owned(),
                        year,
                        revisions: vec![rev],
                    },
                );
            }
        }
    }

    /// The facts a registry record shows.
    pub fn registry_facts<'a>(&'a self, rec: &'a RegistryRecord) -> Option<&'a OrgFacts> {
        match &rec.subject {
            RegistrySubject::Org(i) => self.organisations.get(*i).map(|o| &o.facts),
            RegistrySubject::Junk(f) => Some(f),
        }
    }

    /// A report by commune and year.
    pub fn report(&self, commune_code: &str, year: i32) -> Option<&NtmReport> {
        self.reports
            .binary_search_by(|r| (r.year, r.commune_code.as_str()).cmp(&(year, commune_code)))
            .ok()
            .map(|i| &self.reports[i])
    }

    /// A report by commune and year, for change.
    pub fn report_mut(&mut self, commune_code: &str, year: i32) -> Option<&mut NtmReport> {
        self.reports
            .binary_search_by(|r| (r.year, r.commune_code.as_str()).cmp(&(year, commune_code)))
            .ok()
            .map(|i| &mut self.reports[i])
    }

    /// The latest timestamp any record carries (registry `updated_at`, loan `modified`,
    /// report `submitted_at`), or the world's `now` if that is later. Changes are stamped
    /// strictly after it.
    pub fn clock(&self) -> DateTime<FixedOffset> {
        let mut latest = self.now;
        for r in &self.registry {
            latest = latest.max(r.updated_at);
        }
        for l in &self.loans {
            latest = latest.max(local_to_fixed(&l.modified));
        }
        for rep in &self.reports {
            for rev in &rep.revisions {
                if let Some(t) = rev.submitted_at {
                    latest = latest.max(t);
                }
            }
        }
        latest
    }

    // ---- rendering in the source formats ----

    /// A registry record exactly as `GET /api/v1/cooperatives` serves it.
    pub fn registry_json(&self, rec: &RegistryRecord) -> Value {
        let Some(f) = self.registry_facts(rec) else {
            return Value::Null;
        };
        let v = json!({
            "id": rec.id,
            "registration_code": f.registration_code,
            "kind": f.kind.as_str(),
            "name": f.name,
            "commune_code": f.commune_code,
            "district_code": f.district_code,
            "address": f.address,
            "representative": f.representative,
            "established_on": f.established_on.format("%Y-%m-%d").to_string(),
            "status": f.status,
            "member_households": f.member_households,
            "farmers_union_supported": f.farmers_union_supported,
            "origin": f.origin,
            "rating": f.rating,
            "enterprise_linkage": f.enterprise_linkage,
            "key_officers": f.key_officers,
            "updated_at": rfc3339(&rec.updated_at),
            "version": rec.version,
        });
        let mut v = v;
        // a field of a later registry version (the spec says unknown fields may appear and
        // must be tolerated): records touched after the July 2025 reform carry their new unit
        if rec.updated_at >= reform_start()
            && let Some(new) = Reference::get().new_unit_of(&f.commune_code)
            && let Value::Object(map) = &mut v
        {
            map.insert("commune_code_2025".into(), Value::String(new.to_owned()));
        }
        apply_patches(v, &rec.bad)
    }

    /// A loan exactly as `GET /v2/disbursements` serves it.
    pub fn loan_json(loan: &Loan) -> Value {
        let v = json!({
            "loan_no": loan.loan_no,
            "borrower": loan.borrower,
            "borrower_type": loan.borrower_type,
            "amount_vnd": loan.amount_vnd,
            "disbursed_on": loan.disbursed_on.format("%d/%m/%Y").to_string(),
            "term_months": loan.term_months,
            "purpose": loan.purpose,
            "status": loan.status,
            "modified": local_text(&loan.modified),
        });
        apply_patches(v, &loan.bad)
    }

    /// A report's line in `GET /api/reports?year=`.
    pub fn report_summary_json(report: &NtmReport) -> Value {
        let cur = report.current();
        json!({
            "commune_code": report.commune_code,
            "revision": cur.map(|r| r.revision),
            "status": cur.map(|r| r.status),
            "submitted_at": cur.and_then(|r| r.submitted_at.as_ref()).map(rfc3339),
        })
    }

    /// A report's current revision as `GET /api/reports/{commune_code}/{year}` serves it.
    pub fn report_json(report: &NtmReport) -> Value {
        let reference = Reference::get();
        let commune = reference.commune_2024(&report.commune_code);
        let Some(cur) = report.current() else {
            return Value::Null;
        };
        let cooperatives: Vec<Value> = cur
            .cooperatives
            .iter()
            .map(|e| {
                json!({
                    "name": e.name,
                    "kind": e.kind.map(|k| k.as_str()),
                    "representative": e.representative,
                    "members": e.members,
                    "effective": e.effective,
                    "linked_with_enterprise": e.linked_with_enterprise,
                })
            })
            .collect();
        let v = json!({
            "commune": {
                "code": report.commune_code,
                "name": commune.map(|c| c.commune_name.as_str()),
                "district": commune.map(|c| c.district_name.as_str()),
            },
            "year": report.year,
            "revision": cur.revision,
            "status": cur.status,
            "criteria": cur.criteria,
            "cooperatives": cooperatives,
            "submitted_at": cur.submitted_at.as_ref().map(rfc3339),
        });
        apply_patches(v, &cur.bad)
    }
}

/// Criteria 13.1 and 13.2 as a commune would fill them in for these entries: 13.1 is met
/// when an HTX listed operates effectively, 13.2 when one has a linkage with an enterprise.
pub fn criteria_for(entries: &[NtmEntry], orgs: &[Organisation]) -> Vec<Criterion> {
    let c131 = entries.iter().any(|e| {
        e.effective
            && orgs
                .get(e.org)
                .is_some_and(|o| o.facts.kind == OrgKind::Htx)
    });
    let c132 = entries
        .iter()
        .any(|e| e.linked_with_enterprise == Some(true));
    vec![
        Criterion {
            id: "13.1".into(),
            met: c131,
            note: Some(if c131 {
                "Có HTX hoạt động hiệu quả".into()
            } else {
                "Chưa có HTX hoạt động hiệu quả".into()
            }),
        },
        Criterion {
            id: "13.2".into(),
            met: c132,
            note: if c132 {
                Some("Có mô hình liên kết sản xuất gắn với tiêu thụ sản phẩm".into())
            } else {
                None
            },
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patches_apply_to_nested_paths() {
        let v = json!({"a": {"b": 1}, "c": [ {"d": true} ]});
        let bad = Some(BadMark {
            reason: "x".into(),
            patches: vec![
                Patch::new(&["a", "b"], json!("two")),
                Patch::new(&["c", "0", "d"], json!("có")),
                Patch::new(&["missing", "x"], json!(1)),
            ],
        });
        let out = apply_patches(v, &bad);
        assert_eq!(out, json!({"a": {"b": "two"}, "c": [ {"d": "có"} ]}));
    }

    #[test]
    fn times_render_as_the_specs_show() {
        let t = vn_offset()
            .with_ymd_and_hms(2025, 3, 1, 8, 0, 0)
            .single()
            .expect("valid");
        assert_eq!(rfc3339(&t), "2025-03-01T08:00:00+07:00");
        assert_eq!(local_text(&t.naive_local()), "2025-03-01 08:00:00");
    }
}
