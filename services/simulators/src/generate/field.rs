//! The field noise model's structural cases: borrowers written the field's way, unions'
//! namesakes, moves to another commune, shared representatives, and the registry's own
//! noise on legal names (each from a stream of its own).

use std::collections::BTreeSet;

use chrono::{Days, NaiveDate};
use hub_contracts::v1::common::OrgKind;
use hub_normalise::reference::Reference;
use rand::Rng;
use rand::seq::IndexedRandom;

use super::organisations::{HTX_TEMPLATES, name_from_template, villages_of};
use super::{Gen, stream, ymd};
use crate::noise;
use crate::noise_field::{self, Context, OrgName};
use crate::vocab::PRODUCTS;
use crate::world::{BorrowerText, Move, Representative, World};

impl Gen {
    /// A loan's borrower written the field's way: where the organisation was on the day
    /// (a moved cooperative's earlier loans carry its old commune), new commune names after
    /// the reform, the field's names, tax codes and representatives.
    pub(super) fn field_borrower(
        &mut self,
        world: &World,
        org: usize,
        on: NaiveDate,
    ) -> BorrowerText {
        let f = &world.organisations[org].facts;
        let (commune, village) = world
            .place_on(org, on)
            .unwrap_or((f.commune_code.as_str(), f.village.as_str()));
        let spec = OrgName {
            legal: &f.name,
            kind: f.kind,
            place: &f.place,
            commune_code: commune,
            on,
        };
        let rep = f.representative.as_ref();
        BorrowerText {
            name: noise_field::borrower_name(&mut self.rng, &spec),
            tax_code: noise_field::tax_code(&mut self.rng, f.registration_code.as_deref()),
            address: noise_field::address(&mut self.rng, village, commune, on),
            legal_rep: rep
                .and_then(|r| r.full_name.as_deref())
                .filter(|_| self.rng.random_bool(0.85))
                .map(|n| noise_field::person(&mut self.rng, n, Context::Loan)),
            phone: rep
                .and_then(|r| r.phone.as_deref())
                .filter(|_| self.rng.random_bool(0.8))
                .map(|p| noise::phone_as_typed(&mut self.rng, p)),
        }
    }

    /// The field's structural cases, after the organisations and before any record that
    /// names them: unions' namesakes, moves, shared representatives. Own stream.
    pub(crate) fn field_structure(&mut self, world: &mut World) {
        self.rng = stream(self.seed, 20);
        self.union_namesakes(world);
        self.moves(world);
        self.shared_representatives(world);
    }

    /// For each union (`Liên hiệp Hợp tác xã … X`), up to two HTX/THT of its district renamed
    /// to carry the same place X (`Hợp tác xã chè X`): different organisations.
    fn union_namesakes(&mut self, world: &mut World) {
        let unions: Vec<usize> = (0..world.organisations.len())
            .filter(|&i| world.organisations[i].facts.kind == OrgKind::Lhhtx)
            .collect();
        let mut renamed: BTreeSet<usize> = BTreeSet::new();
        for u in unions {
            let (district, place) = {
                let f = &world.organisations[u].facts;
                (f.district_code.clone(), f.place.clone())
            };
            let candidates: Vec<usize> = (0..world.organisations.len())
                .filter(|&i| {
                    let f = &world.organisations[i].facts;
                    f.kind != OrgKind::Lhhtx && f.district_code == district && !renamed.contains(&i)
                })
                .collect();
            for p in [0.75, 0.4] {
                if !self.rng.random_bool(p) {
                    break;
                }
                let Some(&i) = candidates
                    .iter()
                    .filter(|i| !renamed.contains(i))
                    .collect::<Vec<_>>()
                    .choose(&mut self.rng)
                    .copied()
                else {
                    break;
                };
                let f = &world.organisations[i].facts;
                let product = PRODUCTS
                    .iter()
                    .find(|p| p.word == f.product)
                    .unwrap_or(&PRODUCTS[0]);
                let start = self.rng.random_range(0..HTX_TEMPLATES);
                let name = (0..HTX_TEMPLATES)
                    .map(|k| {
                        name_from_template(f.kind, (start + k) % HTX_TEMPLATES, product, &place)
                    })
                    .find(|n| !self.names.contains(n));
                if let Some(name) = name {
                    self.names.insert(name.clone());
                    let f = &mut world.organisations[i].facts;
                    f.name = name;
                    f.place = place.clone();
                    renamed.insert(i);
                }
            }
        }
    }

    /// About 3 % of registered HTX and THT established before mid-2023 moved to another
    /// commune of their district, between a year after they were established and the
    /// registry's last change (before the reform): their facts (and the registry) give the
    /// new commune; their name still carries the old place.
    pub(super) fn moves(&mut self, world: &mut World) {
        let communes = &Reference::get().communes_2024;
        let last_move = ymd(2025, 6, 30);
        let updated_on: std::collections::HashMap<String, NaiveDate> = world
            .registry
            .iter()
            .map(|r| (r.id.clone(), r.updated_at.date_naive()))
            .collect();
        for i in 0..world.organisations.len() {
            let o = &world.organisations[i];
            let f = &o.facts;
            if f.kind == OrgKind::Lhhtx || f.established_on > ymd(2023, 6, 30) {
                continue;
            }
            let Some(&updated) = o.registry_id.as_ref().and_then(|id| updated_on.get(id)) else {
                continue;
            };
            if !self.rng.random_bool(0.03) {
                continue;
            }
            let lo = (f.established_on + Days::new(365)).max(ymd(2020, 1, 1));
            let hi = updated.min(last_move);
            let others: Vec<usize> = (0..communes.len())
                .filter(|&k| {
                    communes[k].district_code == f.district_code
                        && communes[k].commune_code != f.commune_code
                })
                .collect();
            let Some(&to) = others.choose(&mut self.rng) else {
                continue;
            };
            if hi <= lo {
                continue;
            }
            let on = self.date_between(lo, hi);
            let village = villages_of(to)[self.rng.random_range(0..4)];
            let code = communes[to].commune_code.clone();
            let o = &mut world.organisations[i];
            o.moved_from = Some(Move {
                commune_code: std::mem::replace(&mut o.facts.commune_code, code.clone()),
                village: std::mem::replace(&mut o.facts.village, village.to_owned()),
                on,
            });
            o.facts.address = noise::registry_address(village, &code);
        }
    }

    /// About 6 % of THT are led by the representative of an HTX of the same commune (the
    /// same phone six times in ten): one person, two organisations.
    fn shared_representatives(&mut self, world: &mut World) {
        for i in 0..world.organisations.len() {
            if world.organisations[i].facts.kind != OrgKind::Tht {
                continue;
            }
            let commune = world.organisations[i].facts.commune_code.clone();
            let leaders: Vec<Representative> = world
                .organisations
                .iter()
                .filter(|o| o.facts.kind == OrgKind::Htx && o.facts.commune_code == commune)
                .filter_map(|o| o.facts.representative.clone())
                .filter(|r| r.full_name.is_some())
                .collect();
            if leaders.is_empty() || !self.rng.random_bool(0.06) {
                continue;
            }
            let Some(leader) = leaders.choose(&mut self.rng).cloned() else {
                continue;
            };
            let same_phone = self.rng.random_bool(0.6);
            let f = &mut world.organisations[i].facts;
            let own_phone = f.representative.as_ref().and_then(|r| r.phone.clone());
            f.representative = Some(Representative {
                full_name: leader.full_name,
                phone: if same_phone { leader.phone } else { own_phone },
            });
        }
    }

    /// The registry's own noise on its legal names (about one in ten), once every record
    /// that copies a name was written. Own stream.
    pub(crate) fn field_registry_names(&mut self, world: &mut World) {
        self.rng = stream(self.seed, 21);
        for o in &mut world.organisations {
            if o.registry_id.is_some() {
                o.facts.name = noise_field::registry_name(&mut self.rng, &o.facts.name);
            }
        }
    }
}
