//! The "field" noise model: how Lai Châu's cooperatives are really written in loan files,
//! commune reports and (a little) in the registry, from what unseen real records look like.
//! A second, independent model beside [`crate::noise`] ("classic"): it is written from the
//! records, not from the matcher, so that a matcher tuned on one model can be measured on the
//! other.
//!
//! Owns the text noise of a [`crate::NoiseModel::Field`] world. Which record gets which noise,
//! and the structural cases (a cooperative that moved commune, one person leading an HTX and a
//! THT of the same commune, a union named after the same place as a cooperative) are the
//! generator's business ([`mod@crate::generate`]); this module only renders text.
//!
//! Classes and rates (per record rendered; see also `services/simulators/README.md`):
//!
//! | class | loan borrower | NTM entry | registry |
//! |---|---|---|---|
//! | legal form written another way (`HTX`, `H.T.X`, `HTX.`, `Htx`, `Hợp tác xã`; `THT`, `Tổ`, `Tổ HT`, `Tổ SX`, `T.H.T`; `LHHTX`, `Liên hiệp HTX`, `LH HTX`) | 85 % (not the full form) | short forms, 90 % | 1.5 % `HTX`, 1.5 % `hợp tác xã` in the legal name |
//! | sector words abbreviated (`NN DV`), reordered (`DV NN`), joined (`và`, `&`, `vaf`, `-`, run together `NNDV`) | 60 % abbreviated, 15 % of pairs reordered, 30 % another joiner | 10 % | 0.5 % `Nông nghiệp - Dịch vụ` |
//! | typed without diacritics | 40 % (5 % half) | 15 % | — |
//! | Telex / VNI slip in a word typed without diacritics (`Sif`, `Namj`, `Haam`, `Si2`); one word in sixteen as often in text typed with them (`Haam Lếch`) | 5 % of such words (about 6 % of names) | 4 % of such words | — |
//! | letters swapped (`qau`) | 2 % | 1 % | — |
//! | case: UPPER / lower / partial capitals | 9 / 7 / 7 % | 3 / 3 / 4 % | 0.5 % UPPER |
//! | words run together (`HTXNN`, `TảLèng`) | 4 % | 2 % | — |
//! | double space / non-breaking space / leading or trailing space / trailing `.` `,` | 7 / 4 / 9 / 4 % | 4 / 2 / 4 / 2 % | 2 / — / 1 / 1 % |
//! | Unicode NFD instead of NFC | 5 % | 3 % | 2 % |
//! | place appended (`… Phúc Than - Than Uyên`, `…, Sìn Hồ`, `(xã …)`) | 12 % | 5 % | — |
//! | address with the NEW commune name (loans on or after 1 July 2025) | 75 % of those loans, 8 % of them also name the old one | — | — |
//! | tax code: exact / missing / two adjacent digits swapped / one digit wrong / one missing / formatted (spaces, dashes, dots, `'`, `MST:`) / branch suffix `-001` | 52 / 16 / 12 / 4 / 4 / 10 / 2 % | — | — |
//! | representative: full / `Văn Minh` / `Lò Minh` / `Minh Lò Văn` / `Ông`/`Bà` + full; then folded, UPPER | 72 / 7 / 7 / 4 / 5 %, 30 %, 6 % | 84 / 5 / 5 / 2 / 3 %, 15 %, 3 % | — |
//!
//! Every function takes the true value and returns one rendering; none panics on odd input
//! (an unknown commune code, an empty name).
//!
//! Submodules: `names` (organisation names: legal names taken apart and typed again),
//! `people` (representatives, tax codes, addresses) and `typing` (the text-level slips and
//! their rates per context).

mod names;
mod people;
mod typing;

use chrono::NaiveDate;

pub use names::{
    NameParts, OrgName, appended_place, borrower_name, new_commune_name, ntm_name, registry_name,
    split_legal,
};
pub use people::{address, person, tax_code};
pub use typing::telex_slip;

/// The date the administrative reform took effect: addresses typed on or after it may use the
/// new commune names.
pub const REFORM: NaiveDate = match NaiveDate::from_ymd_opt(2025, 7, 1) {
    Some(d) => d,
    None => panic!("constant date is valid"),
};

/// Where a text is typed: the rates differ (a loan officer types more freely than a commune
/// fills in its report, and the registry is the cleanest).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    Loan,
    Ntm,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocab::{self, fold};
    use hub_contracts::v1::common::OrgKind;
    use hub_normalise::reference::Reference;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn legal_names_come_apart() {
        let p = split_legal(
            "Hợp tác xã Nông nghiệp Dịch vụ Bản Hon",
            OrgKind::Htx,
            "Bản Hon",
        );
        assert_eq!(p.sectors, vec![0, 1]);
        assert_eq!(p.product, "");
        assert_eq!(p.place, "Bản Hon");
        let p = split_legal(
            "Hợp tác xã Sản xuất và Thương mại chè Tả Lèng số 2",
            OrgKind::Htx,
            "Tả Lèng số 2",
        );
        assert_eq!(p.sectors, vec![3, 2]);
        assert!(p.joined_by_va);
        assert_eq!(p.product, "chè");
        assert_eq!(p.place, "Tả Lèng số 2");
        // the registry's own noise does not hide the parts
        let p = split_legal(
            "HỢP TÁC XÃ  NÔNG NGHIỆP DỊCH VỤ BẢN HON.",
            OrgKind::Htx,
            "Bản Hon",
        );
        assert_eq!((p.sectors.len(), p.place.as_str()), (2, "BẢN HON"));
        let p = split_legal("Tổ hợp tác trồng chè Nà Ít", OrgKind::Tht, "Nà Ít");
        assert_eq!(
            (p.product.as_str(), p.place.as_str()),
            ("trồng chè", "Nà Ít")
        );
    }

    #[test]
    fn telex_and_vni_slips_look_like_the_field() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..400 {
            seen.insert(telex_slip(&mut rng, "Nậm"));
            seen.insert(telex_slip(&mut rng, "Sì"));
            seen.insert(telex_slip(&mut rng, "Hâm"));
            seen.insert(telex_slip(&mut rng, "Đông"));
        }
        for expected in [
            "Namj", "Naamj", "Na6m5", "Sif", "Si2", "Haam", "Ddoong", "D9o6ng",
        ] {
            assert!(seen.contains(expected), "{expected} not in {seen:?}");
        }
        assert_eq!(telex_slip(&mut rng, "Heo"), "Heo");
    }

    #[test]
    fn adjacent_swaps_keep_the_digits() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let mut swaps = 0;
        for _ in 0..500 {
            let Some(t) = tax_code(&mut rng, Some("6200123456")) else {
                continue;
            };
            let digits: String = t.chars().filter(char::is_ascii_digit).collect();
            let mut a: Vec<char> = digits.chars().collect();
            let mut b: Vec<char> = "6200123456".chars().collect();
            if digits != "6200123456" && digits.len() == 10 {
                a.sort_unstable();
                b.sort_unstable();
                if a == b {
                    swaps += 1;
                }
            }
        }
        assert!((30..=100).contains(&swaps), "{swaps} swaps in 500");
    }

    #[test]
    fn people_are_written_in_every_order() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let seen: std::collections::BTreeSet<String> = (0..600)
            .map(|_| person(&mut rng, "Lò Văn Minh", Context::Loan))
            .collect();
        for expected in [
            "Lò Văn Minh",
            "Văn Minh",
            "Lò Minh",
            "Minh Lò Văn",
            "Ông Lò Văn Minh",
            "Lo Van Minh",
        ] {
            assert!(seen.contains(expected), "{expected} not in {seen:?}");
        }
    }

    #[test]
    fn new_commune_names_after_the_reform() {
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let reference = Reference::get();
        // a commune merged into a unit of another name
        let c = reference
            .communes_2024
            .iter()
            .find(|c| {
                new_commune_name(&c.commune_code)
                    .is_some_and(|n| n != vocab::bare_commune(&c.commune_name))
            })
            .expect("a renamed commune");
        let new = new_commune_name(&c.commune_code).expect("new name");
        let after = NaiveDate::from_ymd_opt(2025, 8, 1).expect("date");
        let before = NaiveDate::from_ymd_opt(2025, 6, 1).expect("date");
        let hits = |on: NaiveDate, rng: &mut ChaCha8Rng| {
            (0..200)
                .filter(|_| {
                    let a = fold(&address(rng, "Nà Ít", &c.commune_code, on)).to_lowercase();
                    a.contains(&fold(&new).to_lowercase())
                })
                .count()
        };
        let (a, b) = (hits(after, &mut rng), hits(before, &mut rng));
        assert!(a > 120, "{a} of 200 after the reform");
        // before the reform only when the old district or commune happens to share the name
        assert!(b < a / 2, "{b} of 200 before the reform");
    }
}
