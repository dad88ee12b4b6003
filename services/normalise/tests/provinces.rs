//! Several provinces loaded at once (#17): Lai Châu's embedded units and Điện Biên's, parsed
//! from its plan folder (`deploy/plans/dien-bien/`). Installing is once per process, so every
//! test of this file sees both; the crate's own tests see Lai Châu alone, the default.

use hub_normalise::address::{self, MIN_CONFIDENCE};
use hub_normalise::reference::{self, Province, Reference};

const DB_2024: &str = include_str!("../../../deploy/plans/dien-bien/units-2024.csv");
const DB_2025: &str = include_str!("../../../deploy/plans/dien-bien/units-2025.csv");
const DB_CROSSWALK: &str = include_str!("../../../deploy/plans/dien-bien/crosswalk-2025.csv");

fn dien_bien() -> Province {
    let r = Reference::parse(DB_2024, DB_2025, DB_CROSSWALK).expect("Điện Biên's files parse");
    Province::new("11", "Tỉnh Điện Biên", r)
}

/// Lai Châu and Điện Biên, installed once for the whole process.
fn both() -> &'static [Province] {
    reference::install(vec![Province::lai_chau(), dien_bien()]).expect("installed");
    let ps = reference::provinces();
    assert_eq!(ps.len(), 2);
    ps
}

fn codes(a: &str) -> Option<(&'static str, &'static str)> {
    address::resolve(a).map(|m| (m.commune_code, m.district_code))
}

fn core(name: &str) -> &str {
    for p in [
        "Xã ",
        "Phường ",
        "Thị trấn ",
        "Huyện ",
        "Thành phố ",
        "Thị xã ",
    ] {
        if let Some(rest) = name.strip_prefix(p) {
            return rest;
        }
    }
    name
}

#[test]
fn the_provinces_are_both_loaded_and_a_code_names_its_province() {
    let ps = both();
    assert_eq!(ps[1].short_name(), "Điện Biên");
    assert_eq!(ps[1].reference.communes_2024.len(), 129);
    assert_eq!(ps[1].reference.communes_2025.len(), 45);
    assert_eq!(
        reference::province_of("03232").map(|p| p.code.as_str()),
        Some("11")
    );
    assert_eq!(
        reference::province_of("03421").map(|p| p.code.as_str()),
        Some("12")
    );
    assert_eq!(
        reference::province_of("098").map(|p| p.code.as_str()),
        Some("11")
    );
    assert!(reference::province_of("00001").is_none());
    let all = Reference::loaded();
    assert_eq!(all.communes_2024.len(), 106 + 129);
    assert_eq!(all.new_unit_of("03232"), Some("03241"));
    assert_eq!(all.new_unit_of("03421"), Some("03430"));
    assert_eq!(all.districts().len(), 8 + 10);
    // the same provinces again: nothing to do; others: refused
    reference::install(vec![Province::lai_chau(), dien_bien()]).expect("same again");
    assert!(reference::install(vec![Province::lai_chau()]).is_err());
}

#[test]
fn a_dien_bien_address_resolves_there() {
    both();
    for a in [
        "Bản Háng Tàu, xã Mường Báng, huyện Tủa Chùa, tỉnh Điện Biên",
        "Ban Hang Tau, xa Muong Bang, huyen Tua Chua, tinh Dien Bien",
        "X.Mường Báng - H.Tủa Chùa",
        "Mường Báng, Tủa Chùa, Điện Biên",
    ] {
        assert_eq!(
            codes(a),
            Some(("03250", "098")),
            "{a}: {:?}",
            address::candidates(a)
        );
    }
    assert_eq!(
        address::resolve_district("huyện Tủa Chùa, tỉnh Điện Biên").map(|d| d.district_code),
        Some("098")
    );
    assert_eq!(
        address::district_code_by_name("Huyện Mường Nhé"),
        Some("096")
    );
    let m = address::resolve_commune_in_district("Xã Mường Báng", "Huyện Tủa Chùa").unwrap();
    assert_eq!(m.commune_code, "03250");
    // after the reform: old Tả Phìn is now part of Sính Phình
    let u = address::resolve_2025("xã Sính Phình, tỉnh Điện Biên").unwrap();
    assert_eq!(u.unit_code, "03241");
    assert!(u.old_commune_codes.contains(&"03232"), "{u:?}");
    assert_eq!(u.old_district_codes, ["098"]);
}

#[test]
fn a_name_both_provinces_have_goes_where_the_address_says() {
    both();
    // Xã Tả Phìn: 03511 in Sìn Hồ (Lai Châu), 03232 in Tủa Chùa (Điện Biên)
    assert_eq!(codes("xã Tả Phìn, tỉnh Điện Biên"), Some(("03232", "098")));
    assert_eq!(codes("xã Tả Phìn, huyện Tủa Chùa"), Some(("03232", "098")));
    assert_eq!(codes("xã Tả Phìn, tỉnh Lai Châu"), Some(("03511", "108")));
    assert_eq!(codes("xa Ta Phin, huyen Sin Ho"), Some(("03511", "108")));
    assert_eq!(codes("xã Tả Phìn"), None);
    assert_eq!(address::candidates("xã Tả Phìn").len(), 2);
    assert!(address::resolve_commune_in_district("Xã Pa Tần", "").is_none());
    assert_eq!(
        address::resolve_commune_in_district("Xã Pa Tần", "Huyện Nậm Pồ").map(|m| m.commune_code),
        Some("03165")
    );
}

#[test]
fn every_commune_of_either_province_resolves_from_its_name_and_district() {
    let ps = both();
    for p in ps {
        for c in &p.reference.communes_2024 {
            let full = format!("{}, {}, {}", c.commune_name, c.district_name, p.name);
            let want = Some((c.commune_code.as_str(), c.district_code.as_str()));
            assert_eq!(
                codes(&full),
                want,
                "{full}: {:?}",
                address::candidates(&full)
            );
            let m = address::resolve_commune_in_district(&c.commune_name, &c.district_name)
                .unwrap_or_else(|| panic!("{full}"));
            assert_eq!(m.commune_code, c.commune_code);
            let short = format!("{}, {}", core(&c.commune_name), core(&c.district_name));
            // as in Lai Châu alone: a thị trấn named like its district, and xã Mường Tè
            // beside thị trấn Mường Tè, stay ambiguous without unit words
            if p.code == "12" && c.commune_kind != "thị trấn" && c.commune_code != "03445" {
                assert_eq!(codes(&short), want, "{short}");
            }
        }
        for u in &p.reference.communes_2025 {
            let a = format!("{}, {}", u.commune_name, p.name);
            let m = address::resolve_2025(&a).unwrap_or_else(|| panic!("{a}"));
            assert_eq!(m.unit_code, u.commune_code, "{a}");
            assert!(m.confidence >= MIN_CONFIDENCE);
        }
    }
}

#[test]
fn lai_chau_addresses_read_as_with_lai_chau_alone() {
    both();
    // the examples of hub_normalise::address's own tests, where Lai Châu is alone
    assert_eq!(
        codes("Bản Hon, xã Bản Hon, huyện Tam Đường, tỉnh Lai Châu"),
        Some(("03421", "106"))
    );
    assert_eq!(
        codes("Ban Hon, Tam Duong, Lai Chau"),
        Some(("03421", "106"))
    );
    assert_eq!(codes("Nam Cha, Sin Ho"), Some(("03526", "108")));
    assert_eq!(codes("Nam Cha"), None);
    assert_eq!(codes("Mường Tè, Lai Châu"), None);
    assert_eq!(codes("TP Lai Châu"), None);
    assert_eq!(
        address::resolve_district("Thành phố Lai Châu").map(|d| d.district_code),
        Some("105")
    );
    let m = address::resolve("Bản Nà Khum, xã Khun Há, tỉnh Lai Châu").unwrap();
    assert_eq!(m.commune_code, "03430");
    assert_eq!(m.unit_2025_reading, Some("03430"));
    assert_eq!(
        address::resolve_2025("Phường Đoàn Kết, Lai Châu").map(|u| u.old_district_codes),
        Some(vec!["105", "109"])
    );
}
