//! Indicators declared as data: what a plan's indicator counts or sums over the projection
//! (organisations, loans, NTM communes, the Farmers' Union's branches and officers), with the
//! filters `shared/mission/indicators.md` uses, so that a province whose plan differs needs no
//! code.
//!
//! Owns the terms' syntax (`value`, `numerator`, `denominator`, `when_no_source` of a plan's
//! `[[indicators]]`), their validation and the question "does this organisation / loan pass
//! this filter". Knows nothing of units, targets, the database or the broker; the sums per unit
//! are [`crate::compute`]'s.
//!
//! ```toml
//! value = { count = "organisations", where = { new = true, supported = true, kind = ["HTX"] } }
//! numerator = { sum = "organisations.key_officers_trained", where = { live = true } }
//! numerator = { count = "loans", where = { status = ["disbursed"], kind = ["HTX"] } }
//! numerator = { count = "communes", where = { ntm_criterion_met = "13.1" } }
//! numerator = { count = "union_branches", where = { converted = true } }
//! denominator = { count = "union_officers" }
//! ```

use chrono::NaiveDate;
use hub_contracts::v1::common::OrgKind;
use hub_contracts::v1::source::{Grade, LoanDisbursement, LoanStatus, OrgStatus, Origin};
use serde::{Deserialize, Serialize};

use crate::asof::Facts;

/// What a term counts or sums over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Entity {
    /// Organisations of the registry (golden records with a registry record), existing as of T.
    Organisations,
    /// Loan-fund disbursements matched to such an organisation, as of T.
    Loans,
    /// The communes of the pre-2025 list, by their standing NTM report.
    Communes,
    /// The Farmers' Union's professional branches and groups (I5's rules).
    UnionBranches,
    /// The Farmers' Union's officers on the collective economy (I8's rules).
    UnionOfficers,
}

/// A number summed instead of counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    /// `organisations.member_households` (absent: 0).
    MemberHouseholds,
    /// `organisations.key_officers_trained` (no `key_officers`: 0).
    KeyOfficersTrained,
    /// `organisations.key_officers_total` (no `key_officers`: 0).
    KeyOfficersTotal,
    /// `loans.amount_vnd` (a negative amount counts 0).
    LoanAmount,
}

/// Filters on an organisation (for a loan: on the organisation it is matched to). Each one
/// given must hold; none given: every organisation.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct OrgFilter {
    /// `established_on` in [B, T].
    pub new: Option<bool>,
    /// Not `dissolved` as of T.
    pub live: Option<bool>,
    /// `farmers_union_supported = true`.
    pub supported: Option<bool>,
    /// Its kind is one of these.
    pub kind: Option<Vec<OrgKind>>,
    /// Its `origin` is one of these.
    pub origin: Option<Vec<Origin>>,
    /// It has a rating (its latest as of T).
    pub rated: Option<bool>,
    /// Its latest rating's grade is one of these (implies rated).
    pub rating: Option<Vec<Grade>>,
    /// Registry `enterprise_linkage = true`, or listed `linked_with_enterprise = true` in its
    /// commune's standing NTM report.
    pub enterprise_linkage: Option<bool>,
    /// A matched loan, not cancelled, disbursed in [B, T].
    pub credit: Option<bool>,
    /// It reports `key_officers`.
    pub key_officers: Option<bool>,
}

/// One number of an indicator: a count or sum over an entity, filtered.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Term {
    pub entity: Entity,
    /// `None`: a count.
    pub sum: Option<Field>,
    pub organisation: OrgFilter,
    /// Loans: their status as of T is one of these.
    pub loan_status: Option<Vec<LoanStatus>>,
    /// Loans: `disbursed_on` in [B, T].
    pub disbursed_in_period: Option<bool>,
    /// Communes: their standing NTM report has this criterion met.
    pub ntm_criterion_met: Option<String>,
    /// Union branches: converted with `ngay_ket_thuc` in [B, T] (else: every branch
    /// established by T and not ended before B).
    pub converted: bool,
    /// Union officers: trained on the collective economy in [B, T] (else: every officer on it).
    pub trained: bool,
}

/// What an organisation is as of T, for the filters.
#[derive(Debug, Clone, Copy)]
pub struct OrgView<'a> {
    pub facts: &'a Facts,
    /// (B, T).
    pub period: (NaiveDate, NaiveDate),
    /// Listed as linked with an enterprise in its commune's standing NTM report.
    pub linked_in_report: bool,
    pub credit: bool,
}

impl OrgFilter {
    pub fn matches(&self, o: &OrgView<'_>) -> bool {
        let f = o.facts;
        let (b, t) = o.period;
        let is = |want: Option<bool>, have: bool| want.is_none_or(|w| w == have);
        let rated = f.rating.is_some();
        is(self.new, f.established_on.is_some_and(|d| d >= b && d <= t))
            && is(self.live, f.status != Some(OrgStatus::Dissolved))
            && is(self.supported, f.farmers_union_supported == Some(true))
            && self
                .kind
                .as_ref()
                .is_none_or(|k| f.kind.is_some_and(|x| k.contains(&x)))
            && self
                .origin
                .as_ref()
                .is_none_or(|k| f.origin.is_some_and(|x| k.contains(&x)))
            && is(self.rated, rated)
            && self
                .rating
                .as_ref()
                .is_none_or(|g| f.rating.is_some_and(|r| g.contains(&r.grade)))
            && is(
                self.enterprise_linkage,
                f.enterprise_linkage == Some(true) || o.linked_in_report,
            )
            && is(self.credit, o.credit)
            && is(self.key_officers, f.key_officers.is_some())
    }
}

impl Term {
    /// What an organisation adds to this term (0 when it does not pass the filter).
    pub fn of_organisation(&self, o: &OrgView<'_>) -> u64 {
        if self.entity != Entity::Organisations || !self.organisation.matches(o) {
            return 0;
        }
        let k = o.facts.key_officers;
        match self.sum {
            None => 1,
            Some(Field::MemberHouseholds) => u64::from(o.facts.member_households.unwrap_or(0)),
            Some(Field::KeyOfficersTrained) => k.map_or(0, |k| u64::from(k.trained)),
            Some(Field::KeyOfficersTotal) => k.map_or(0, |k| u64::from(k.total)),
            Some(Field::LoanAmount) => 0,
        }
    }

    /// What a loan (its state as of T), matched to the organisation `o`, adds to this term.
    pub fn of_loan(&self, loan: &LoanDisbursement, o: &OrgView<'_>) -> u64 {
        let (b, t) = o.period;
        let passes = self.entity == Entity::Loans
            && self
                .loan_status
                .as_ref()
                .is_none_or(|s| s.contains(&loan.status))
            && self
                .disbursed_in_period
                .is_none_or(|w| w == loan.disbursed_on.is_some_and(|d| d >= b && d <= t))
            && self.organisation.matches(o);
        match (passes, self.sum) {
            (false, _) => 0,
            (true, Some(Field::LoanAmount)) => u64::try_from(loan.amount_vnd).unwrap_or(0),
            (true, _) => 1,
        }
    }

    /// True when the term reads the Farmers' Union's records (`no_source` where no workbook
    /// covers the unit).
    pub fn from_union(&self) -> bool {
        matches!(self.entity, Entity::UnionBranches | Entity::UnionOfficers)
    }
}

/// A term as written in a plan file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTerm {
    #[serde(default)]
    count: Option<String>,
    #[serde(default)]
    sum: Option<String>,
    #[serde(default, rename = "where")]
    filter: RawWhere,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWhere {
    new: Option<bool>,
    live: Option<bool>,
    supported: Option<bool>,
    kind: Option<Vec<OrgKind>>,
    origin: Option<Vec<Origin>>,
    rated: Option<bool>,
    rating: Option<Vec<Grade>>,
    enterprise_linkage: Option<bool>,
    credit: Option<bool>,
    key_officers: Option<bool>,
    status: Option<Vec<LoanStatus>>,
    disbursed_in_period: Option<bool>,
    ntm_criterion_met: Option<String>,
    converted: Option<bool>,
    trained: Option<bool>,
}

impl RawWhere {
    fn has_org_filter(&self) -> bool {
        self.new.is_some()
            || self.live.is_some()
            || self.supported.is_some()
            || self.kind.is_some()
            || self.origin.is_some()
            || self.rated.is_some()
            || self.rating.is_some()
            || self.enterprise_linkage.is_some()
            || self.credit.is_some()
            || self.key_officers.is_some()
    }
}

/// Validates a term; the error is the problem, the caller names the field.
pub(crate) fn parse_term(raw: RawTerm) -> Result<Term, String> {
    let (entity, sum) = match (raw.count.as_deref(), raw.sum.as_deref()) {
        (Some(e), None) => (parse_entity(e)?, None),
        (None, Some(s)) => {
            let (e, f) = s
                .split_once('.')
                .ok_or_else(|| format!("expected sum = \"<entity>.<field>\", got {s:?}"))?;
            let entity = parse_entity(e)?;
            let field = match (entity, f) {
                (Entity::Organisations, "member_households") => Field::MemberHouseholds,
                (Entity::Organisations, "key_officers_trained") => Field::KeyOfficersTrained,
                (Entity::Organisations, "key_officers_total") => Field::KeyOfficersTotal,
                (Entity::Loans, "amount_vnd") => Field::LoanAmount,
                _ => {
                    return Err(format!(
                        "cannot sum {s:?}: expected organisations.member_households, \
                         organisations.key_officers_trained, organisations.key_officers_total \
                         or loans.amount_vnd"
                    ));
                }
            };
            (entity, Some(field))
        }
        _ => return Err("expected exactly one of count = \"…\" or sum = \"…\"".into()),
    };
    let w = raw.filter;
    let refuse = |what: &str| Err(format!("{what} does not apply to {}", entity_name(entity)));
    match entity {
        Entity::Organisations | Entity::Loans => {
            if w.ntm_criterion_met.is_some() {
                return refuse("ntm_criterion_met");
            }
            if w.converted.is_some() || w.trained.is_some() {
                return refuse("converted / trained");
            }
            if entity == Entity::Organisations
                && (w.status.is_some() || w.disbursed_in_period.is_some())
            {
                return refuse("status / disbursed_in_period");
            }
        }
        Entity::Communes => {
            if w.has_org_filter() || w.status.is_some() || w.disbursed_in_period.is_some() {
                return refuse("an organisation's or a loan's filter");
            }
            if w.converted.is_some() || w.trained.is_some() {
                return refuse("converted / trained");
            }
        }
        Entity::UnionBranches | Entity::UnionOfficers => {
            let other = if entity == Entity::UnionBranches {
                w.trained.is_some()
            } else {
                w.converted.is_some()
            };
            if other
                || w.has_org_filter()
                || w.status.is_some()
                || w.disbursed_in_period.is_some()
                || w.ntm_criterion_met.is_some()
            {
                return refuse("this filter");
            }
            if w.converted == Some(false) || w.trained == Some(false) {
                return Err("converted / trained: expected true or nothing".into());
            }
        }
    }
    Ok(Term {
        entity,
        sum,
        organisation: OrgFilter {
            new: w.new,
            live: w.live,
            supported: w.supported,
            kind: w.kind,
            origin: w.origin,
            rated: w.rated,
            rating: w.rating,
            enterprise_linkage: w.enterprise_linkage,
            credit: w.credit,
            key_officers: w.key_officers,
        },
        loan_status: w.status,
        disbursed_in_period: w.disbursed_in_period,
        ntm_criterion_met: w.ntm_criterion_met,
        converted: w.converted == Some(true),
        trained: w.trained == Some(true),
    })
}

fn parse_entity(s: &str) -> Result<Entity, String> {
    match s {
        "organisations" => Ok(Entity::Organisations),
        "loans" => Ok(Entity::Loans),
        "communes" => Ok(Entity::Communes),
        "union_branches" => Ok(Entity::UnionBranches),
        "union_officers" => Ok(Entity::UnionOfficers),
        other => Err(format!(
            "expected organisations, loans, communes, union_branches or union_officers, got {other:?}"
        )),
    }
}

fn entity_name(e: Entity) -> &'static str {
    match e {
        Entity::Organisations => "organisations",
        Entity::Loans => "loans",
        Entity::Communes => "communes",
        Entity::UnionBranches => "union_branches",
        Entity::UnionOfficers => "union_officers",
    }
}
