//! The field noise model: every class it promises occurs, at a plausible rate (most records
//! clean-ish, a minority noisy), its structural cases keep the truth right, and one seed
//! gives one world. Rates are checked in wide bands around the documented ones, on a world
//! of the evaluation's small size.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, FixedOffset, NaiveDate};
use hub_contracts::v1::common::{OrgKind, SourceRef};
use hub_simulators::vocab::fold;
use hub_simulators::world::{Subject, World};
use hub_simulators::{NoiseModel, TruthParams, WorldConfig, generate};
use unicode_normalization::UnicodeNormalization;

fn now() -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339("2025-10-15T10:00:00+07:00").expect("valid timestamp")
}

fn config(seed: u64, noise: NoiseModel) -> WorldConfig {
    let mut cfg = WorldConfig::new(seed, now());
    cfg.organisations = 1500;
    cfg.loans = 2400;
    cfg.noise = noise;
    cfg
}

fn field_world() -> &'static World {
    static WORLD: std::sync::OnceLock<World> = std::sync::OnceLock::new();
    WORLD.get_or_init(|| generate(&config(5, NoiseModel::Field)).expect("world"))
}

/// Share of `items` for which `f` holds, with the count for messages.
fn share<T>(items: &[T], f: impl Fn(&T) -> bool) -> (f64, usize) {
    let n = items.iter().filter(|x| f(x)).count();
    (n as f64 / items.len().max(1) as f64, n)
}

fn assert_rate(what: &str, (rate, n): (f64, usize), lo: f64, hi: f64) {
    assert!(
        rate >= lo && rate <= hi,
        "{what}: {:.2} % ({n}), expected {:.1}–{:.1} %",
        rate * 100.0,
        lo * 100.0,
        hi * 100.0
    );
}

/// (organisation index, borrower name, tax code, address, legal rep, disbursed on) of the
/// organisations' loans.
struct OrgLoan<'a> {
    org: usize,
    name: &'a str,
    tax_code: Option<&'a str>,
    address: &'a str,
    legal_rep: Option<&'a str>,
    on: NaiveDate,
}

fn org_loans(w: &World) -> Vec<OrgLoan<'_>> {
    w.loans
        .iter()
        .filter(|l| l.bad.is_none())
        .filter_map(|l| match l.subject {
            Subject::Org(i) => Some(OrgLoan {
                org: i,
                name: &l.borrower.name,
                tax_code: l.borrower.tax_code.as_deref(),
                address: &l.borrower.address,
                legal_rep: l.borrower.legal_rep.as_deref(),
                on: l.disbursed_on,
            }),
            _ => None,
        })
        .collect()
}

fn key(s: &str) -> String {
    fold(&s.nfc().collect::<String>())
        .to_lowercase()
        .replace('\u{a0}', " ")
}

#[test]
fn the_same_seed_gives_the_same_field_world_and_classic_is_untouched() {
    let a = generate(&config(5, NoiseModel::Field)).expect("world");
    assert_eq!(&a, field_world());
    let ta = a.truth(&TruthParams::for_world(&a));
    let tb = field_world().truth(&TruthParams::for_world(field_world()));
    assert_eq!(ta, tb);
    let classic = generate(&config(5, NoiseModel::Classic)).expect("world");
    assert_eq!(classic.noise, NoiseModel::Classic);
    assert!(classic.organisations.iter().all(|o| o.moved_from.is_none()));
    assert_ne!(classic.loans, a.loans);
    // the same organisations were drawn: the field model only renames a few (unions'
    // namesakes, the registry's noise) and moves a few
    let same = classic
        .organisations
        .iter()
        .zip(&a.organisations)
        .filter(|(c, f)| c.facts.name == f.facts.name)
        .count();
    assert!(same * 100 > classic.organisations.len() * 80, "{same}");
}

#[test]
fn legal_forms_and_sector_words_are_written_every_way() {
    let w = field_world();
    let loans = org_loans(w);
    let kind = |l: &OrgLoan| w.organisations[l.org].facts.kind;
    let htx: Vec<&OrgLoan> = loans.iter().filter(|l| kind(l) == OrgKind::Htx).collect();
    let tht: Vec<&OrgLoan> = loans.iter().filter(|l| kind(l) == OrgKind::Tht).collect();
    let starts = |v: &[&OrgLoan], p: &str| share(v, |l| l.name.trim_start().starts_with(p));
    assert_rate("HTX", starts(&htx, "HTX"), 0.25, 0.75);
    assert_rate("H.T.X", starts(&htx, "H.T.X"), 0.01, 0.08);
    assert_rate("Hợp tác xã", starts(&htx, "Hợp tác xã"), 0.03, 0.15);
    assert_rate("Hop tac xa", starts(&htx, "Hop tac xa"), 0.02, 0.12);
    assert_rate("Tổ", starts(&tht, "Tổ"), 0.25, 0.60);
    assert_rate("THT", starts(&tht, "THT"), 0.15, 0.50);
    assert!(starts(&tht, "Tổ SX").1 > 0 && starts(&tht, "Tổ HT").1 > 0);
    let unions: Vec<&OrgLoan> = loans.iter().filter(|l| kind(l) == OrgKind::Lhhtx).collect();
    // (unions borrow rarely: any that did is written as a union)
    assert!(unions.iter().all(|l| {
        let k = key(l.name);
        k.contains("lhhtx")
            || k.contains("lh htx")
            || k.contains("lien hiep")
            || k.contains("l.h.htx")
    }));
    // sector words: abbreviated, reordered, joined every way
    let names: Vec<String> = loans.iter().map(|l| key(l.name)).collect();
    assert_rate("NN DV", share(&names, |n| n.contains("nn dv")), 0.02, 0.2);
    assert!(share(&names, |n| n.contains("dv nn")).1 > 0, "reordered");
    let pairs = ["nn", "dv", "sx", "tm", "kd", "cn", "ts"];
    let joined_with = |sep: &str| {
        share(&names, |n| {
            pairs.iter().any(|a| {
                pairs
                    .iter()
                    .any(|b| a != b && n.contains(&format!(" {a}{sep}{b} ")))
            })
        })
    };
    for sep in ["-", " & ", " va ", ""] {
        assert!(joined_with(sep).1 > 0, "sector words joined by {sep:?}");
    }
    // still: most names are clean-ish (one of the usual forms, no slip)
    assert_rate(
        "plain HTX/THT/Tổ start",
        share(&loans, |l| {
            let t = l.name.trim_start();
            ["HTX ", "THT ", "Tổ ", "Hợp tác xã ", "Tổ hợp tác ", "Htx "]
                .iter()
                .any(|p| t.starts_with(p))
        }),
        0.45,
        0.85,
    );
}

#[test]
fn typing_slips_case_spaces_and_unicode_forms_are_a_minority() {
    let w = field_world();
    let loans = org_loans(w);
    let names: Vec<&str> = loans.iter().map(|l| l.name).collect();
    // Telex/VNI slips: a token that is a legal-name word with a tone letter/digit appended,
    // or its vowel doubled
    let slipped = |l: &OrgLoan| {
        let legal: BTreeSet<String> = key(&w.organisations[l.org].facts.name)
            .split(' ')
            .map(str::to_owned)
            .collect();
        let legal_words: Vec<String> = w.organisations[l.org]
            .facts
            .name
            .split(' ')
            .filter(|x| fold(x) != *x)
            .map(key)
            .collect();
        key(l.name).split([' ', '-', ',']).any(|t| {
            let Some(last) = t.chars().last() else {
                return false;
            };
            let stem: String = t.chars().take(t.chars().count() - 1).collect();
            let tone = "fsrxj12345".contains(last) && legal_words.contains(&stem);
            let doubled = !legal.contains(t)
                && ["aa", "ee", "oo", "dd"]
                    .iter()
                    .any(|d| t.contains(d) && legal_words.contains(&t.replacen(d, &d[..1], 1)));
            tone || doubled
        })
    };
    assert_rate("Telex/VNI slips", share(&loans, slipped), 0.01, 0.12);
    assert_rate("no diacritics", share(&names, |n| n.is_ascii()), 0.2, 0.6);
    assert_rate(
        "UPPER",
        share(&names, |n| {
            n.chars().any(char::is_alphabetic) && n.to_uppercase() == *n
        }),
        0.03,
        0.15,
    );
    assert_rate(
        "NFD",
        share(&names, |n| n.nfc().collect::<String>() != *n),
        0.01,
        0.10,
    );
    assert_rate(
        "non-breaking space",
        share(&names, |n| n.contains('\u{a0}')),
        0.01,
        0.08,
    );
    assert_rate(
        "double space",
        share(&names, |n| n.contains("  ")),
        0.02,
        0.15,
    );
    assert_rate(
        "trailing punctuation",
        share(&names, |n| n.trim_end().ends_with(['.', ','])),
        0.01,
        0.10,
    );
    assert_rate(
        "partial capitals",
        share(&loans, |l| {
            let place: Vec<String> = w.organisations[l.org]
                .facts
                .place
                .split(' ')
                .filter(|p| p.chars().next().is_some_and(char::is_uppercase))
                .map(key)
                .collect();
            l.name.to_lowercase() != l.name
                && l.name.split([' ', '\u{a0}']).any(|t| {
                    t.chars().next().is_some_and(char::is_lowercase) && place.contains(&key(t))
                })
        }),
        0.005,
        0.10,
    );
    // the registry's own noise: about one legal name in ten
    let registry: Vec<&str> = w
        .organisations
        .iter()
        .filter(|o| o.registry_id.is_some())
        .map(|o| o.facts.name.as_str())
        .collect();
    assert_rate(
        "registry names with noise",
        share(&registry, |n| {
            n.contains("  ")
                || n.ends_with([' ', '.'])
                || n.nfc().collect::<String>() != *n
                || n.starts_with("hợp tác xã")
                || n.starts_with("tổ hợp tác")
                || n.starts_with("HTX ")
                || n.contains(" - ")
                || n.to_uppercase() == *n
        }),
        0.05,
        0.16,
    );
}

#[test]
fn places_are_appended_and_addresses_use_the_new_communes_after_the_reform() {
    let w = field_world();
    let reference = hub_normalise::reference::Reference::get();
    let loans = org_loans(w);
    assert_rate(
        "place appended",
        share(&loans, |l| {
            let legal_place = key(&w.organisations[l.org].facts.place);
            let k = key(l.name);
            let tail = k.rsplit_once(&legal_place).map_or("", |(_, t)| t).trim();
            tail.len() > 3
        }),
        0.05,
        0.25,
    );
    let reform = NaiveDate::from_ymd_opt(2025, 7, 1).expect("date");
    // loans after the reform in communes whose new unit has another name
    let renamed: Vec<(&OrgLoan, String)> = loans
        .iter()
        .filter(|l| l.on >= reform)
        .filter_map(|l| {
            let (commune, _) = w.place_on(l.org, l.on)?;
            let old = reference.commune_2024(commune)?;
            let new_code = reference.new_unit_of(commune)?;
            let new = reference
                .communes_2025
                .iter()
                .find(|c| c.commune_code == new_code)?;
            let bare = |s: &str| key(s.split_once(' ').map_or(s, |(_, r)| r));
            let (old, new) = (bare(&old.commune_name), bare(&new.commune_name));
            (old != new && !key(&old.clone()).contains(&new)).then_some((l, new))
        })
        .collect();
    assert!(renamed.len() > 20, "{}", renamed.len());
    assert_rate(
        "new commune name in addresses after the reform",
        share(&renamed, |(l, new)| key(l.address).contains(new.as_str())),
        0.5,
        0.95,
    );
    // and none before: only loans after the reform may know the new names
    let before: Vec<&OrgLoan> = loans.iter().filter(|l| l.on < reform).collect();
    assert!(
        before.iter().all(|l| !key(l.address).contains("(nay la")),
        "an address before the reform names the new commune"
    );
}

#[test]
fn tax_codes_have_adjacent_digits_swapped_and_go_missing() {
    let w = field_world();
    let loans: Vec<(String, Option<String>)> = org_loans(w)
        .iter()
        .filter_map(|l| {
            let code = w.organisations[l.org].facts.registration_code.clone()?;
            Some((
                code,
                l.tax_code
                    .map(|t| t.chars().filter(char::is_ascii_digit).collect()),
            ))
        })
        .collect();
    let swapped = |(code, typed): &(String, Option<String>)| {
        let Some(t) = typed else { return false };
        let (a, b): (Vec<char>, Vec<char>) = (code.chars().collect(), t.chars().collect());
        a.len() == b.len()
            && (0..a.len() - 1).any(|i| {
                a[i] != a[i + 1]
                    && b[i] == a[i + 1]
                    && b[i + 1] == a[i]
                    && (0..a.len()).all(|j| j == i || j == i + 1 || a[j] == b[j])
            })
    };
    assert_rate("adjacent swap", share(&loans, swapped), 0.06, 0.20);
    assert_rate("missing", share(&loans, |(_, t)| t.is_none()), 0.08, 0.25);
    assert_rate(
        "exact",
        share(&loans, |(c, t)| t.as_deref() == Some(c.as_str())),
        0.5,
        0.8,
    );
}

#[test]
fn representatives_are_written_in_every_order() {
    let w = field_world();
    let loans = org_loans(w);
    let with_rep: Vec<(Vec<String>, Vec<String>)> = loans
        .iter()
        .filter_map(|l| {
            let truth = w.organisations[l.org]
                .facts
                .representative
                .as_ref()?
                .full_name
                .as_deref()?;
            let t: Vec<String> = key(truth).split(' ').map(str::to_owned).collect();
            let typed: Vec<String> = key(l.legal_rep?).split(' ').map(str::to_owned).collect();
            (t.len() == 3).then_some((t, typed))
        })
        .collect();
    let is = |f: fn(&[String], &[String]) -> bool| share(&with_rep, |(t, typed)| f(t, typed));
    assert_rate("full", is(|t, x| t == x), 0.6, 0.85);
    assert_rate("Văn Minh", is(|t, x| x == &t[1..]), 0.03, 0.12);
    assert_rate(
        "Lò Minh",
        is(|t, x| x == [t[0].clone(), t[2].clone()]),
        0.03,
        0.12,
    );
    assert_rate(
        "Minh Lò Văn",
        is(|t, x| x == [t[2].clone(), t[0].clone(), t[1].clone()]),
        0.01,
        0.08,
    );
    assert_rate(
        "Ông/Bà",
        is(|t, x| x.len() == 4 && (x[0] == "ong" || x[0] == "ba") && x[1..] == t[..]),
        0.02,
        0.09,
    );
}

#[test]
fn structural_cases_are_there_and_the_truth_keeps_them_right() {
    let w = field_world();
    let truth = w.truth(&TruthParams::for_world(w));
    let by_id: BTreeMap<&str, &hub_simulators::truth::TruthOrganisation> = truth
        .organisations
        .iter()
        .map(|o| (o.org_id.as_str(), o))
        .collect();

    // moved cooperatives: the registry (and the truth) has the new commune, older loans and
    // NTM reports the old one, and all of them are the one organisation
    let eligible = w
        .organisations
        .iter()
        .filter(|o| {
            o.registry_id.is_some()
                && o.facts.kind != OrgKind::Lhhtx
                && o.facts.established_on <= NaiveDate::from_ymd_opt(2023, 6, 30).expect("d")
        })
        .count();
    let moved: Vec<usize> = (0..w.organisations.len())
        .filter(|&i| w.organisations[i].moved_from.is_some())
        .collect();
    assert_rate(
        "moved",
        (moved.len() as f64 / eligible as f64, moved.len()),
        0.01,
        0.05,
    );
    let mut old_ntm_entries = 0;
    for &i in &moved {
        let o = &w.organisations[i];
        let m = o.moved_from.as_ref().expect("moved");
        assert_ne!(m.commune_code, o.facts.commune_code);
        let t = by_id.get(o.id.as_str()).expect("in the truth");
        assert_eq!(
            t.commune_code, o.facts.commune_code,
            "truth follows the registry"
        );
        for r in &t.records {
            if r.system == "ntm" && r.id.starts_with(&format!("{}:", m.commune_code)) {
                old_ntm_entries += 1;
                let year: i32 =
                    r.id.split(':')
                        .nth(1)
                        .and_then(|y| y.parse().ok())
                        .expect("year");
                assert!(year < chrono::Datelike::year(&m.on), "{r}");
            }
        }
        for l in w.loans.iter().filter(|l| l.subject == Subject::Org(i)) {
            let (commune, _) = w.place_on(i, l.disbursed_on).expect("place");
            let expected = if l.disbursed_on < m.on {
                &m.commune_code
            } else {
                &o.facts.commune_code
            };
            assert_eq!(commune, expected);
        }
    }
    assert!(
        old_ntm_entries > 0,
        "no NTM entry of a moved cooperative's old commune"
    );

    // one person leading an HTX and a THT of the same commune: two organisations
    let mut shared = 0;
    let thts: Vec<&hub_simulators::world::Organisation> = w
        .organisations
        .iter()
        .filter(|o| o.facts.kind == OrgKind::Tht)
        .collect();
    for t in &thts {
        let Some(name) = t
            .facts
            .representative
            .as_ref()
            .and_then(|r| r.full_name.as_ref())
        else {
            continue;
        };
        if let Some(h) = w.organisations.iter().find(|h| {
            h.facts.kind == OrgKind::Htx
                && h.facts.commune_code == t.facts.commune_code
                && h.facts
                    .representative
                    .as_ref()
                    .and_then(|r| r.full_name.as_ref())
                    == Some(name)
        }) {
            shared += 1;
            if let (Some(a), Some(b)) = (by_id.get(t.id.as_str()), by_id.get(h.id.as_str())) {
                let ra: BTreeSet<&SourceRef> = a.records.iter().collect();
                assert!(b.records.iter().all(|r| !ra.contains(r)));
            }
        }
    }
    assert_rate(
        "THT sharing an HTX's representative",
        (shared as f64 / thts.len() as f64, shared),
        0.03,
        0.12,
    );

    // unions named after the same place as a cooperative or group of their district
    let unions: Vec<&hub_simulators::world::Organisation> = w
        .organisations
        .iter()
        .filter(|o| o.facts.kind == OrgKind::Lhhtx)
        .collect();
    assert!(!unions.is_empty());
    let with_namesake = unions
        .iter()
        .filter(|u| {
            w.organisations.iter().any(|o| {
                o.facts.kind != OrgKind::Lhhtx
                    && o.facts.district_code == u.facts.district_code
                    && o.facts.place == u.facts.place
                    && o.id != u.id
            })
        })
        .count();
    assert!(
        with_namesake * 2 >= unions.len(),
        "{with_namesake} of {}",
        unions.len()
    );
}

#[test]
fn ntm_entries_use_short_forms_and_little_noise() {
    let w = field_world();
    let names: Vec<&str> = w
        .reports
        .iter()
        .filter_map(|r| r.current())
        .flat_map(|r| r.cooperatives.iter().map(|e| e.name.as_str()))
        .collect();
    assert!(names.len() > 1000, "{}", names.len());
    assert_rate("no diacritics", share(&names, |n| n.is_ascii()), 0.08, 0.25);
    let entries: Vec<(&str, &str)> = w
        .reports
        .iter()
        .filter_map(|r| r.current())
        .flat_map(|r| {
            r.cooperatives
                .iter()
                .map(|e| (e.name.as_str(), w.organisations[e.org].facts.name.as_str()))
        })
        .collect();
    assert_rate(
        "shorter than the legal name",
        share(&entries, |(n, legal)| {
            n.split_whitespace().count() < legal.split_whitespace().count()
        }),
        0.5,
        0.95,
    );
    assert_rate(
        "form + place only",
        share(&entries, |(n, _)| {
            let k = key(n);
            ["htx ", "tht ", "to "].iter().any(|f| k.starts_with(f))
                && k.split(' ').count() <= 4
                && !k.contains(" trong ")
        }),
        0.05,
        0.4,
    );
    assert!(share(&names, |n| n.starts_with("Tổ ")).1 > 0);
}
