//! Loans: which organisation or household borrows, and the loan record as the loan
//! officer typed it (the classic or the field model's borrower text).

use chrono::{Datelike, Days, NaiveDate, NaiveDateTime};
use hub_contracts::v1::common::OrgKind;
use hub_contracts::v1::source::{BorrowerType, LoanStatus};
use hub_normalise::reference::Reference;
use rand::Rng;
use rand::seq::IndexedRandom;

use super::organisations::villages_of;
use super::{DEFAULT_BASELINE, EARLIEST_LOAN, Gen, NoiseModel, stream};
use crate::noise;
use crate::noise_field::{self, Context};
use crate::vocab::{self, PRODUCTS};
use crate::world::{BorrowerText, Loan, Subject, World};

impl Gen {
    fn loan_subject(&mut self, world: &mut World, org_weights: &[(usize, u32)]) -> Subject {
        let total: u32 = org_weights.iter().map(|(_, w)| w).sum();
        if total > 0 && self.rng.random_bool(0.62) {
            let mut pick = self.rng.random_range(0..total);
            for (i, w) in org_weights {
                if pick < *w {
                    return Subject::Org(*i);
                }
                pick -= w;
            }
        }
        self.household(world)
    }

    /// A household borrower: an existing one, a new one, or one named like an HTX's
    /// representative in the same commune (a namesake the hub must not take for the HTX).
    pub(super) fn household(&mut self, world: &mut World) -> Subject {
        if !world.households.is_empty() && self.rng.random_bool(0.2) {
            return Subject::Household(self.rng.random_range(0..world.households.len()));
        }
        if self.rng.random_bool(0.25) {
            let reps: Vec<usize> = world
                .organisations
                .iter()
                .enumerate()
                .filter(|(_, o)| {
                    o.facts.kind == OrgKind::Htx
                        && o.facts
                            .representative
                            .as_ref()
                            .is_some_and(|r| r.full_name.is_some())
                })
                .map(|(i, _)| i)
                .collect();
            if let Some(&i) = reps.choose(&mut self.rng) {
                let f = &world.organisations[i].facts;
                let name = f
                    .representative
                    .as_ref()
                    .and_then(|r| r.full_name.clone())
                    .unwrap_or_default();
                let commune = f.commune_code.clone();
                let village = f.village.clone();
                let phone = self
                    .rng
                    .random_bool(0.7)
                    .then(|| vocab::phone(&mut self.rng));
                return Subject::Household(world.add_household(&name, &commune, &village, phone));
            }
        }
        let commune = self.commune_index();
        let code = Reference::get().communes_2024[commune].commune_code.clone();
        let village = villages_of(commune)[self.rng.random_range(0..4)];
        let name = vocab::person_name(&mut self.rng);
        let phone = self
            .rng
            .random_bool(0.8)
            .then(|| vocab::phone(&mut self.rng));
        Subject::Household(world.add_household(&name, &code, village, phone))
    }

    /// One loan to `subject`, disbursed in [lo, hi]; `loan_no` is left empty.
    pub(crate) fn loan(
        &mut self,
        world: &World,
        subject: Subject,
        lo: NaiveDate,
        hi: NaiveDate,
    ) -> Loan {
        let disbursed_on = if hi > DEFAULT_BASELINE && self.rng.random_bool(0.5) {
            self.date_between(lo.max(DEFAULT_BASELINE), hi)
        } else {
            self.date_between(lo, hi)
        };
        let term_months = *[12u32, 24, 36, 48, 60].choose(&mut self.rng).unwrap_or(&36);
        let due = disbursed_on
            .checked_add_months(chrono::Months::new(term_months))
            .unwrap_or(disbursed_on);
        let (status, modified) = self.loan_status(disbursed_on, due);
        let (borrower, borrower_type, amount_vnd, purpose) = match subject {
            Subject::Org(i) => self.organisation_borrower(world, i, disbursed_on),
            Subject::Household(_) | Subject::Nobody => {
                self.household_borrower(world, subject, disbursed_on)
            }
        };
        Loan {
            loan_no: String::new(),
            subject,
            borrower,
            borrower_type,
            amount_vnd,
            disbursed_on,
            term_months,
            purpose,
            status,
            modified,
            bad: None,
        }
    }

    /// A loan's status today and when it was last modified, from its disbursement and due
    /// dates.
    fn loan_status(
        &mut self,
        disbursed_on: NaiveDate,
        due: NaiveDate,
    ) -> (LoanStatus, NaiveDateTime) {
        let today = self.today();
        let r: f64 = self.rng.random();
        let status = if due < today {
            if r < 0.7 {
                LoanStatus::Repaid
            } else if r < 0.9 {
                LoanStatus::Overdue
            } else {
                LoanStatus::Cancelled
            }
        } else if r < 0.7 {
            LoanStatus::Disbursed
        } else if r < 0.8 {
            LoanStatus::Overdue
        } else if r < 0.95 {
            LoanStatus::Cancelled
        } else {
            LoanStatus::Repaid
        };
        let modified_date = match status {
            LoanStatus::Repaid | LoanStatus::Overdue => {
                self.date_between((disbursed_on + Days::new(30)).min(today), today)
            }
            LoanStatus::Cancelled => {
                self.date_between(disbursed_on, (disbursed_on + Days::new(10)).min(today))
            }
            LoanStatus::Disbursed => {
                self.date_between(disbursed_on, (disbursed_on + Days::new(3)).min(today))
            }
        };
        (status, self.time_on(modified_date))
    }

    /// The borrower, type, amount and purpose of a loan to organisation `i`, as typed.
    fn organisation_borrower(
        &mut self,
        world: &World,
        i: usize,
        disbursed_on: NaiveDate,
    ) -> (BorrowerText, BorrowerType, i64, String) {
        let f = &world.organisations[i].facts;
        let product = PRODUCTS
            .iter()
            .find(|p| p.word == f.product)
            .unwrap_or(&PRODUCTS[0]);
        let rep = f.representative.as_ref();
        let borrower = match self.noise {
            NoiseModel::Classic => BorrowerText {
                name: noise::borrower_name(&mut self.rng, &f.name),
                tax_code: noise::tax_code(&mut self.rng, f.registration_code.as_deref()),
                address: noise::address(&mut self.rng, &f.village, &f.commune_code),
                legal_rep: rep
                    .and_then(|r| r.full_name.as_deref())
                    .filter(|_| self.rng.random_bool(0.85))
                    .map(|n| noise::person_as_typed(&mut self.rng, n)),
                phone: rep
                    .and_then(|r| r.phone.as_deref())
                    .filter(|_| self.rng.random_bool(0.8))
                    .map(|p| noise::phone_as_typed(&mut self.rng, p)),
            },
            NoiseModel::Field => self.field_borrower(world, i, disbursed_on),
        };
        let t = match f.kind {
            OrgKind::Tht => BorrowerType::CooperativeGroup,
            _ => BorrowerType::Cooperative,
        };
        let amount = self.rng.random_range(10..=200i64) * 10_000_000;
        let purpose = vocab::pick_str(&mut self.rng, product.purposes).to_owned();
        (borrower, t, amount, purpose)
    }

    /// The borrower, type, amount and purpose of a loan to a household (`Subject::Nobody`:
    /// a person drawn here, for a bad record), as typed.
    fn household_borrower(
        &mut self,
        world: &World,
        subject: Subject,
        disbursed_on: NaiveDate,
    ) -> (BorrowerText, BorrowerType, i64, String) {
        let (name, commune, village, phone) = match subject {
            Subject::Household(h) => {
                let hh = &world.households[h];
                (
                    hh.full_name.clone(),
                    hh.commune_code.clone(),
                    hh.village.clone(),
                    hh.phone.clone(),
                )
            }
            _ => {
                let c = self.commune_index();
                (
                    vocab::person_name(&mut self.rng),
                    Reference::get().communes_2024[c].commune_code.clone(),
                    villages_of(c)[0].to_owned(),
                    Some(vocab::phone(&mut self.rng)),
                )
            }
        };
        let typed = match self.noise {
            NoiseModel::Classic => noise::person_as_typed(&mut self.rng, &name),
            NoiseModel::Field => noise_field::person(&mut self.rng, &name, Context::Loan),
        };
        let address = match self.noise {
            NoiseModel::Classic => noise::address(&mut self.rng, &village, &commune),
            NoiseModel::Field => {
                noise_field::address(&mut self.rng, &village, &commune, disbursed_on)
            }
        };
        let borrower = BorrowerText {
            name: typed.clone(),
            tax_code: None,
            address,
            legal_rep: self.rng.random_bool(0.3).then_some(typed),
            phone: phone.map(|p| noise::phone_as_typed(&mut self.rng, &p)),
        };
        let amount = self.rng.random_range(2..=10i64) * 10_000_000;
        let purpose = vocab::pick_str(&mut self.rng, HOUSEHOLD_PURPOSES).to_owned();
        (borrower, BorrowerType::Household, amount, purpose)
    }

    pub(super) fn loans(&mut self, world: &mut World, n: usize) {
        self.rng = stream(self.seed, 2);
        let weights: Vec<(usize, u32)> = world
            .organisations
            .iter()
            .enumerate()
            .map(|(i, o)| {
                let f = &o.facts;
                let mut w = match f.kind {
                    OrgKind::Htx if f.farmers_union_supported => 4,
                    OrgKind::Htx => 3,
                    OrgKind::Tht => 2,
                    OrgKind::Lhhtx => 1,
                };
                if o.registry_id.is_none() {
                    w += 2;
                }
                (i, w)
            })
            .collect();
        let today = self.today();
        let mut loans = Vec::with_capacity(n);
        for _ in 0..n {
            let subject = self.loan_subject(world, &weights);
            let lo = match subject {
                Subject::Org(i) => world.organisations[i]
                    .facts
                    .established_on
                    .max(EARLIEST_LOAN),
                _ => EARLIEST_LOAN,
            };
            let mut loan = self.loan(world, subject, lo.min(today), today);
            // ties on `modified`: a careful client keys on (modified, loan_no)
            if let Some(prev) = loans.last().map(|l: &Loan| l.modified)
                && prev.date() >= loan.disbursed_on
                && self.rng.random_bool(0.06)
            {
                loan.modified = prev;
            }
            loans.push(loan);
        }
        loans.sort_by_key(|l| (l.disbursed_on, l.modified));
        for mut loan in loans {
            loan.loan_no = world.new_loan_no(loan.disbursed_on.year());
            world.loans.push(loan);
        }
    }
}

const HOUSEHOLD_PURPOSES: &[&str] = &[
    "Phát triển chăn nuôi hộ gia đình",
    "Trồng cây ăn quả",
    "Mua giống cây trồng",
    "Mua máy cày mini",
    "Cải tạo ao nuôi cá",
];
