//! Lai Châu's administrative units before and after the 1 July 2025 reform, and the crosswalk
//! between them. The files are the project's own copy (`deploy/reference/`), embedded at build
//! time so that a service runs where `../shared` does not exist.
//!
//! Codes are zero-padded strings. Never join the 2024 and 2025 lists on code: use the crosswalk.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::Deserialize;

const UNITS_2024: &str = include_str!("../../../deploy/reference/lai-chau-units-2024.csv");
const UNITS_2025: &str = include_str!("../../../deploy/reference/lai-chau-units-2025.csv");
const CROSSWALK: &str = include_str!("../../../deploy/reference/lai-chau-crosswalk-2025.csv");

/// Lai Châu's province code.
pub const PROVINCE_CODE: &str = "12";
/// Lai Châu's name.
pub const PROVINCE_NAME: &str = "Tỉnh Lai Châu";

/// A pre-reform (2024) commune-level unit.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Commune2024 {
    pub district_code: String,
    pub district_name: String,
    pub commune_code: String,
    pub commune_name: String,
    /// `xã`, `phường` or `thị trấn`.
    pub commune_kind: String,
}

/// A post-reform (2025) commune-level unit (no district level any more).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Commune2025 {
    pub commune_code: String,
    pub commune_name: String,
    pub commune_kind: String,
}

/// One crosswalk row: a pre-reform unit and the post-reform unit it became part of.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CrosswalkRow {
    pub old_commune_code: String,
    pub old_commune_name: String,
    pub old_district_code: String,
    pub new_commune_code: String,
    pub new_commune_name: String,
}

/// A pre-reform district.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct District {
    pub code: String,
    pub name: String,
}

/// All reference data, parsed once.
#[derive(Debug)]
pub struct Reference {
    pub communes_2024: Vec<Commune2024>,
    pub communes_2025: Vec<Commune2025>,
    pub crosswalk: Vec<CrosswalkRow>,
    by_code_2024: BTreeMap<String, usize>,
    to_2025: BTreeMap<String, String>,
}

fn parse<T: for<'de> Deserialize<'de>>(name: &str, text: &str) -> Vec<T> {
    csv::Reader::from_reader(text.as_bytes())
        .deserialize()
        .collect::<Result<Vec<T>, _>>()
        // The files are embedded at build time and covered by tests: a parse failure is a
        // broken build, not bad input.
        .unwrap_or_else(|e| panic!("embedded reference file {name} is invalid: {e}"))
}

impl Reference {
    /// The embedded Lai Châu reference.
    pub fn get() -> &'static Reference {
        static REF: OnceLock<Reference> = OnceLock::new();
        REF.get_or_init(|| {
            let communes_2024: Vec<Commune2024> = parse("lai-chau-units-2024.csv", UNITS_2024);
            let communes_2025 = parse("lai-chau-units-2025.csv", UNITS_2025);
            let crosswalk: Vec<CrosswalkRow> = parse("lai-chau-crosswalk-2025.csv", CROSSWALK);
            let by_code_2024 = communes_2024
                .iter()
                .enumerate()
                .map(|(i, c)| (c.commune_code.clone(), i))
                .collect();
            let to_2025 = crosswalk
                .iter()
                .map(|r| (r.old_commune_code.clone(), r.new_commune_code.clone()))
                .collect();
            Reference {
                communes_2024,
                communes_2025,
                crosswalk,
                by_code_2024,
                to_2025,
            }
        })
    }

    /// The pre-reform districts, in code order.
    pub fn districts(&self) -> Vec<District> {
        let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
        for c in &self.communes_2024 {
            seen.entry(&c.district_code).or_insert(&c.district_name);
        }
        seen.into_iter()
            .map(|(code, name)| District {
                code: code.to_owned(),
                name: name.to_owned(),
            })
            .collect()
    }

    /// A pre-reform commune by code.
    pub fn commune_2024(&self, code: &str) -> Option<&Commune2024> {
        self.by_code_2024.get(code).map(|&i| &self.communes_2024[i])
    }

    /// The post-reform unit a pre-reform commune became part of.
    pub fn new_unit_of(&self, old_commune_code: &str) -> Option<&str> {
        self.to_2025.get(old_commune_code).map(String::as_str)
    }

    /// A post-reform unit by code.
    pub fn commune_2025(&self, code: &str) -> Option<&Commune2025> {
        self.communes_2025.iter().find(|c| c.commune_code == code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_files_have_the_documented_shape() {
        let r = Reference::get();
        assert_eq!(r.communes_2024.len(), 106);
        assert_eq!(r.communes_2025.len(), 38);
        assert_eq!(r.crosswalk.len(), 106);
        assert_eq!(r.districts().len(), 8);
        assert_eq!(r.districts()[0].code, "105");
        // every old unit maps to exactly one new unit that exists
        for c in &r.communes_2024 {
            let new = r.new_unit_of(&c.commune_code).expect("in crosswalk");
            assert!(r.commune_2025(new).is_some(), "{new}");
        }
        assert_eq!(r.new_unit_of("03421"), Some("03430"));
        assert_eq!(
            r.commune_2024("03421").map(|c| c.district_code.as_str()),
            Some("106")
        );
    }
}
