//! Survivorship: the golden record of an identity from its members' observations.
//!
//! Owns the attribute rules; never decides membership (the engine's) nor versions (the
//! engine keeps them). With a registry record among the members, the registry wins
//! for legal name, registration code, kind and location, and for every registry-only fact
//! (the latest registry record when an operator merged several). Without one: the name the
//! commune or loan officer wrote most fully (diacritics, most words), the most common
//! declared kind, the most common valid 10-digit tax code, the NTM report's commune, else the
//! loan address's. `attribute_sources` names the source record of each value.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use hub_contracts::v1::{GoldenRecord, OrgKind, Person, SourceRef};
use hub_normalise::{orgname, taxcode};

use super::observation::{Observation, ObservationKind};
use super::types::OrgId;

/// Which source record each attribute of a golden record comes from.
type Sources = BTreeMap<String, SourceRef>;

fn set<T>(sources: &mut Sources, field: &str, value: Option<T>, from: &SourceRef) -> Option<T> {
    if value.is_some() {
        sources.insert(field.to_owned(), from.clone());
    }
    value
}

/// How fully a name is written: diacritics, then more words, then longer.
fn name_quality(o: &Observation) -> (bool, usize, usize) {
    let canon = orgname::expand(&o.name);
    (
        !o.name.is_ascii(),
        canon.split(' ').filter(|w| !w.is_empty()).count(),
        o.name.trim().chars().count(),
    )
}

/// The golden record of a live identity with these members (sorted by source ref). Version
/// and `updated_at` are the caller's.
pub fn build(id: OrgId, members: &[&Observation], now: DateTime<Utc>) -> GoldenRecord {
    let mut sources: Sources = BTreeMap::new();
    let mut source_refs: Vec<SourceRef> = members.iter().map(|o| o.source.clone()).collect();
    source_refs.sort();

    let registry = members
        .iter()
        .filter(|o| o.kind == ObservationKind::Registry)
        .max_by(|a, b| {
            (
                a.observed_at,
                a.registry.as_ref().map(|r| r.version),
                &b.source,
            )
                .cmp(&(
                    b.observed_at,
                    b.registry.as_ref().map(|r| r.version),
                    &a.source,
                ))
        })
        .copied();
    // the most recent NTM entry (latest year, then revision)
    let ntm = members
        .iter()
        .filter(|o| o.kind == ObservationKind::NtmEntry)
        .max_by(|a, b| {
            let ka = a.ntm.as_ref().map(|p| (p.year, p.revision));
            let kb = b.ntm.as_ref().map(|p| (p.year, p.revision));
            (ka, &b.source).cmp(&(kb, &a.source))
        })
        .copied();
    let latest_loan = members
        .iter()
        .filter(|o| o.kind != ObservationKind::Registry && o.kind != ObservationKind::NtmEntry)
        .max_by(|a, b| (a.observed_at, &b.source).cmp(&(b.observed_at, &a.source)))
        .copied();

    let mut g = GoldenRecord {
        organisation_id: id,
        version: 0,
        retired: false,
        merged_into: None,
        kind: None,
        name: String::new(),
        registration_code: None,
        commune_code: None,
        district_code: None,
        address: None,
        representative: None,
        established_on: None,
        status: None,
        member_households: None,
        farmers_union_supported: None,
        origin: None,
        rating: None,
        enterprise_linkage: None,
        key_officers: None,
        in_registry: registry.is_some(),
        source_refs,
        attribute_sources: BTreeMap::new(),
        updated_at: now,
    };

    match registry {
        Some(r) => from_registry(&mut g, &mut sources, r),
        None => {
            name_and_kind(&mut g, &mut sources, members);
            most_common_code(&mut g, &mut sources, members);
            location(&mut g, &mut sources, ntm, latest_loan);
        }
    }
    fallbacks(&mut g, &mut sources, ntm, latest_loan);
    g.attribute_sources = sources;
    g
}

/// With a registry record: it wins for every attribute it has.
fn from_registry(g: &mut GoldenRecord, sources: &mut Sources, r: &Observation) {
    let s = &r.source;
    g.name = r.name.clone();
    sources.insert("name".into(), s.clone());
    g.kind = set(sources, "kind", r.declared_kind, s);
    g.registration_code = set(sources, "registration_code", r.registration_code.clone(), s);
    g.commune_code = set(sources, "commune_code", r.commune_code.clone(), s);
    g.district_code = set(sources, "district_code", r.district_code.clone(), s);
    g.address = set(sources, "address", r.address.clone(), s);
    if r.representative.is_some() || r.phone.is_some() {
        g.representative = set(
            sources,
            "representative",
            Some(Person {
                full_name: r.representative.clone(),
                phone: r.phone.clone(),
            }),
            s,
        );
    }
    if let Some(f) = &r.registry {
        g.established_on = set(sources, "established_on", f.established_on, s);
        g.status = set(sources, "status", f.status, s);
        g.member_households = set(sources, "member_households", f.member_households, s);
        g.farmers_union_supported = set(
            sources,
            "farmers_union_supported",
            f.farmers_union_supported,
            s,
        );
        g.origin = set(sources, "origin", f.origin, s);
        g.rating = set(sources, "rating", f.rating, s);
        g.enterprise_linkage = set(sources, "enterprise_linkage", f.enterprise_linkage, s);
        g.key_officers = set(sources, "key_officers", f.key_officers, s);
    }
}

/// Without a registry record: the fullest written name; the most common declared kind (NTM
/// first on ties).
fn name_and_kind(g: &mut GoldenRecord, sources: &mut Sources, members: &[&Observation]) {
    // name: the fullest written
    if let Some(best) = members
        .iter()
        .max_by(|a, b| (name_quality(a), &b.source).cmp(&(name_quality(b), &a.source)))
    {
        g.name = best.name.trim().to_owned();
        sources.insert("name".into(), best.source.clone());
    }
    // kind: the most common declaration (NTM first on ties)
    let mut kinds: BTreeMap<OrgKind, (usize, bool, &SourceRef)> = BTreeMap::new();
    for o in members {
        if let Some(k) = o.declared_kind.or_else(|| {
            matches!(
                o.borrower_type,
                Some(hub_contracts::v1::BorrowerType::Cooperative)
            )
            .then_some(OrgKind::Htx)
        }) {
            let e = kinds.entry(k).or_insert((0, false, &o.source));
            e.0 += 1;
            e.1 |= o.kind == ObservationKind::NtmEntry;
        }
    }
    if let Some((k, (_, _, s))) = kinds
        .iter()
        .max_by_key(|(k, (n, ntm, _))| (*n, *ntm, std::cmp::Reverse(**k)))
    {
        g.kind = set(sources, "kind", Some(*k), s);
    }
}

/// Without a registry record: the most common valid registration code.
fn most_common_code(g: &mut GoldenRecord, sources: &mut Sources, members: &[&Observation]) {
    // code: the most common valid one
    let mut codes: BTreeMap<String, (usize, &SourceRef)> = BTreeMap::new();
    for o in members {
        if let Some(c) = o
            .registration_code
            .as_deref()
            .and_then(|c| taxcode::check(c).ok())
        {
            let e = codes.entry(c.main().to_owned()).or_insert((0, &o.source));
            e.0 += 1;
        }
    }
    if let Some((c, (_, s))) = codes
        .iter()
        .max_by_key(|(c, (n, _))| (*n, std::cmp::Reverse((*c).clone())))
    {
        g.registration_code = set(sources, "registration_code", Some(c.clone()), s);
    }
}

/// Without a registry record: the report's commune (and its NTM facts), else the latest
/// loan's address.
fn location(
    g: &mut GoldenRecord,
    sources: &mut Sources,
    ntm: Option<&Observation>,
    latest_loan: Option<&Observation>,
) {
    // location: the report's commune, else the latest loan's address
    if let Some(e) = ntm {
        g.commune_code = set(sources, "commune_code", e.commune_code.clone(), &e.source);
        g.district_code = set(sources, "district_code", e.district_code.clone(), &e.source);
        if let Some(p) = &e.ntm {
            g.member_households = set(sources, "member_households", p.members, &e.source);
            g.enterprise_linkage = set(
                sources,
                "enterprise_linkage",
                p.linked_with_enterprise,
                &e.source,
            );
        }
    }
    if let Some(l) = latest_loan {
        g.address = set(sources, "address", l.address.clone(), &l.source);
        if g.commune_code.is_none()
            && let Some(a) = l.address.as_deref()
        {
            if let Some(m) = hub_normalise::address::resolve(a) {
                g.commune_code = set(
                    sources,
                    "commune_code",
                    Some(m.commune_code.to_owned()),
                    &l.source,
                );
                g.district_code = set(
                    sources,
                    "district_code",
                    Some(m.district_code.to_owned()),
                    &l.source,
                );
            } else if let Some(d) = hub_normalise::address::resolve_district(a) {
                g.district_code = set(
                    sources,
                    "district_code",
                    Some(d.district_code.to_owned()),
                    &l.source,
                );
            }
        }
    }
}

/// What is still missing: the representative (the latest loan's with its phone, else the
/// NTM entry's) and the member households (the NTM entry's).
fn fallbacks(
    g: &mut GoldenRecord,
    sources: &mut Sources,
    ntm: Option<&Observation>,
    latest_loan: Option<&Observation>,
) {
    // representative: the registry's, else the latest loan's (with its phone), else NTM's
    if g.representative.is_none() {
        let from = latest_loan
            .filter(|l| l.representative.is_some() || l.phone.is_some())
            .or(ntm.filter(|e| e.representative.is_some()));
        if let Some(o) = from {
            g.representative = set(
                sources,
                "representative",
                Some(Person {
                    full_name: o.representative.clone(),
                    phone: o
                        .phone
                        .as_deref()
                        .and_then(hub_normalise::phone::to_e164)
                        .or(o.phone.clone()),
                }),
                &o.source,
            );
        }
    }
    if g.member_households.is_none()
        && let Some(e) = ntm
        && let Some(p) = &e.ntm
    {
        g.member_households = set(sources, "member_households", p.members, &e.source);
    }
}

/// The content hash of a golden record, ignoring its version and time.
pub fn content_hash(g: &GoldenRecord) -> String {
    let mut v = serde_json::to_value(g).unwrap_or_default();
    if let serde_json::Value::Object(m) = &mut v {
        m.remove("version");
        m.remove("updated_at");
    }
    hub_contracts::content_hash(&v)
}
