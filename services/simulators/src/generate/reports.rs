//! The communes' annual NTM reports: the entries each lists, their statuses and revision
//! history, and the submission times.

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, Days, FixedOffset};
use hub_contracts::v1::common::OrgKind;
use hub_contracts::v1::source::{Grade, OrgStatus, ReportStatus};
use hub_normalise::reference::Reference;
use rand::Rng;
use rand::seq::{IndexedRandom, SliceRandom};

use super::{Gen, NoiseModel, stream, ymd};
use crate::noise;
use crate::noise_field::{self, Context, OrgName};
use crate::vocab;
use crate::world::{NtmEntry, NtmRevision, World, criteria_for, local_to_fixed};

impl Gen {
    /// The entries a commune lists in its report of `year`.
    pub(super) fn entries(
        &mut self,
        world: &World,
        commune_code: &str,
        year: i32,
    ) -> Vec<NtmEntry> {
        let today = self.today();
        let mut orgs: Vec<usize> = world
            .organisations
            .iter()
            .enumerate()
            .filter(|(i, o)| {
                world.commune_in_year(*i, year) == Some(commune_code)
                    && o.facts.kind != OrgKind::Lhhtx
                    && o.facts.established_on.year() <= year
            })
            .map(|(i, _)| i)
            .collect();
        orgs.retain(|&i| {
            let o = &world.organisations[i];
            let listed = if o.registry_id.is_some() { 0.85 } else { 0.9 };
            let dissolved_ok = o.facts.status != OrgStatus::Dissolved
                || (year < today.year() - 1 && self.rng.random_bool(0.5));
            dissolved_ok && self.rng.random_bool(listed)
        });
        orgs.shuffle(&mut self.rng);
        let mut used: BTreeSet<String> = BTreeSet::new();
        let mut entries = Vec::new();
        for i in orgs {
            let entry = self.entry(world, i, year, &mut used);
            entries.push(entry);
        }
        entries
    }

    /// An entry for `org` in a report of `year`; `used` holds the (folded) names the report
    /// already lists.
    pub(crate) fn entry(
        &mut self,
        world: &World,
        org: usize,
        year: i32,
        used: &mut BTreeSet<String>,
    ) -> NtmEntry {
        let o = &world.organisations[org];
        let f = &o.facts;
        let place_unique = !world.organisations.iter().enumerate().any(|(j, other)| {
            j != org
                && other.facts.commune_code == f.commune_code
                && other.facts.kind == f.kind
                && other.facts.place == f.place
        });
        let key = |s: &str| vocab::fold(s).to_lowercase();
        let name = match self.noise {
            NoiseModel::Classic => {
                let forms = noise::ntm_short_forms(&f.name, &f.product, &f.place, place_unique);
                let mut name = forms
                    .choose(&mut self.rng)
                    .cloned()
                    .unwrap_or_else(|| f.name.clone());
                if self.rng.random_bool(0.15) {
                    name = vocab::fold(&name);
                }
                if used.contains(&key(&name)) {
                    name = forms.first().cloned().unwrap_or_else(|| f.name.clone());
                    if used.contains(&key(&name)) {
                        name = f.name.clone();
                    }
                }
                name
            }
            NoiseModel::Field => {
                let commune = world.commune_in_year(org, year).unwrap_or(&f.commune_code);
                let on = ymd(year.clamp(2000, 2100), 12, 31);
                let spec = OrgName {
                    legal: &f.name,
                    kind: f.kind,
                    place: &f.place,
                    commune_code: commune,
                    on,
                };
                let name = noise_field::ntm_name(&mut self.rng, &spec, place_unique);
                if used.contains(&key(&name)) {
                    f.name.clone()
                } else {
                    name
                }
            }
        };
        used.insert(key(&name));
        let good = f
            .rating
            .is_some_and(|r| matches!(r.grade, Grade::Good | Grade::Fair));
        let p_effective = match (f.kind, f.status) {
            (_, OrgStatus::Suspended) | (_, OrgStatus::Dissolved) => 0.05,
            (OrgKind::Htx, _) if o.registry_id.is_none() => 0.4,
            (OrgKind::Htx, _) if good => 0.85,
            (OrgKind::Htx, _) => 0.35,
            _ => 0.4,
        };
        let r: f64 = self.rng.random();
        let linked = if f.enterprise_linkage == Some(true) {
            if r < 0.9 { Some(true) } else { None }
        } else if r < 0.12 {
            Some(true)
        } else if r < 0.72 {
            Some(false)
        } else {
            None
        };
        NtmEntry {
            org,
            name,
            kind: self.rng.random_bool(0.88).then_some(f.kind),
            representative: f
                .representative
                .as_ref()
                .and_then(|r| r.full_name.as_deref())
                .filter(|_| self.rng.random_bool(0.7))
                .map(|n| match self.noise {
                    NoiseModel::Classic => {
                        if self.rng.random_bool(0.15) {
                            vocab::fold(n)
                        } else {
                            n.to_owned()
                        }
                    }
                    NoiseModel::Field => noise_field::person(&mut self.rng, n, Context::Ntm),
                }),
            members: self.rng.random_bool(0.85).then(|| {
                if self.rng.random_bool(0.3) {
                    (f.member_households + self.rng.random_range(0..=4)).saturating_sub(2)
                } else {
                    f.member_households
                }
            }),
            effective: self.rng.random_bool(p_effective),
            linked_with_enterprise: linked,
        }
    }

    /// A plausible earlier version of a revision's entries.
    pub(super) fn perturb(&mut self, entries: &[NtmEntry]) -> Vec<NtmEntry> {
        let mut out = entries.to_vec();
        if out.is_empty() {
            return out;
        }
        match self.rng.random_range(0..3) {
            0 => {
                let i = self.rng.random_range(0..out.len());
                out[i].effective = !out[i].effective;
            }
            1 => {
                out.pop();
            }
            _ => {
                let i = self.rng.random_range(0..out.len());
                out[i].members = out[i].members.map(|m| m.saturating_sub(1));
            }
        }
        out
    }

    pub(super) fn reports(&mut self, world: &mut World) {
        self.rng = stream(self.seed, 3);
        let today = self.today();
        let years = world.report_years.clone();
        let communes: Vec<String> = Reference::get()
            .communes_2024
            .iter()
            .map(|c| c.commune_code.clone())
            .collect();
        for &year in &years {
            for code in &communes {
                let entries = self.entries(world, code, year);
                let r: f64 = self.rng.random();
                let pattern = if year > today.year() {
                    Pattern::Draft
                } else if year == today.year() {
                    if r < 0.25 {
                        Pattern::Approved
                    } else if r < 0.55 {
                        Pattern::Submitted
                    } else {
                        Pattern::Draft
                    }
                } else if r < 0.78 {
                    Pattern::Approved
                } else if r < 0.88 {
                    Pattern::Submitted
                } else if r < 0.94 {
                    Pattern::DraftAfterApproved
                } else {
                    Pattern::Draft
                };
                let statuses = self.statuses(pattern);
                let counted = statuses
                    .iter()
                    .filter(|s| **s != ReportStatus::Draft)
                    .count();
                let times = self.submission_times(year, counted);
                let statuses = if times.len() < counted {
                    vec![ReportStatus::Draft]
                } else {
                    statuses
                };
                let n = statuses.len();
                let mut versions = vec![entries];
                for _ in 1..n {
                    let earlier = self.perturb(&versions[0]);
                    versions.insert(0, earlier);
                }
                let mut times = times.into_iter();
                for (k, (status, cooperatives)) in statuses.into_iter().zip(versions).enumerate() {
                    let submitted_at = if status == ReportStatus::Draft {
                        None
                    } else {
                        times.next()
                    };
                    let rev = NtmRevision {
                        revision: 0,
                        status,
                        criteria: criteria_for(&cooperatives, &world.organisations),
                        cooperatives,
                        submitted_at,
                        ever_current: true,
                        bad: None,
                    };
                    world.push_revision(code, year, rev);
                    // history made up here was never served: only the last revision was
                    if k + 1 < n
                        && let Some(r) = world.report_mut(code, year)
                        && let Some(last) = r.revisions.last_mut()
                    {
                        last.ever_current = false;
                    }
                }
            }
        }
    }

    pub(super) fn statuses(&mut self, pattern: Pattern) -> Vec<ReportStatus> {
        use ReportStatus::*;
        let mut out = Vec::new();
        match pattern {
            Pattern::Approved => {
                if self.rng.random_bool(0.4) {
                    out.push(Draft);
                }
                for _ in 0..self.rng.random_range(1..=2) {
                    out.push(Submitted);
                }
                out.push(Approved);
            }
            Pattern::Submitted => {
                if self.rng.random_bool(0.5) {
                    out.push(Draft);
                }
                for _ in 0..self.rng.random_range(1..=2) {
                    out.push(Submitted);
                }
            }
            Pattern::DraftAfterApproved => out.extend([Submitted, Approved, Draft]),
            Pattern::Draft => {
                for _ in 0..self.rng.random_range(1..=2) {
                    out.push(Draft);
                }
            }
        }
        out
    }

    /// `n` increasing submission times for a report of `year`, none after now (fewer when
    /// the year has not come that far).
    fn submission_times(&mut self, year: i32, n: usize) -> Vec<DateTime<FixedOffset>> {
        if n == 0 {
            return Vec::new();
        }
        let now = self.now.naive_local();
        let mut start = ymd(year.clamp(2000, 2100), 9, 15)
            .and_hms_opt(8, 0, 0)
            .unwrap_or_default();
        let end = ymd(year.clamp(2000, 2100) + 1, 2, 28)
            .and_hms_opt(17, 0, 0)
            .unwrap_or_default()
            .min(now);
        if end <= start {
            start = ymd(year.clamp(2000, 2100), 1, 10)
                .and_hms_opt(8, 0, 0)
                .unwrap_or_default();
        }
        if end <= start {
            return Vec::new();
        }
        // distinct days, each at an office-hours time (never after now)
        let days = (end.date() - start.date()).num_days() + 1;
        if days < n as i64 {
            return Vec::new();
        }
        let mut picks: Vec<usize> = rand::seq::index::sample(&mut self.rng, days as usize, n)
            .into_iter()
            .collect();
        picks.sort_unstable();
        picks
            .into_iter()
            .map(|d| {
                let date = start.date() + Days::new(d as u64);
                local_to_fixed(&self.time_on(date))
            })
            .collect()
    }
}

#[derive(Debug, Clone, Copy)]
pub(super) enum Pattern {
    Approved,
    Submitted,
    DraftAfterApproved,
    Draft,
}
