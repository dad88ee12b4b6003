//! Administrative units before and after the 1 July 2025 reform, and the crosswalk between
//! them, per province. Lai Châu's files are the project's own copy (`deploy/reference/`),
//! embedded at build time so that a service runs where `../shared` does not exist:
//! [`Reference::get`]. Another province's lists are parsed from the same three CSV layouts
//! ([`Reference::parse`]; a plan folder holds them) and installed, with Lai Châu's or without,
//! as the provinces this process serves ([`install`]); address resolution and the callers of
//! [`Reference::loaded`] then work over every province installed. Nothing installed: Lai Châu
//! alone, exactly as before. Reading the files is the caller's (`hub_runtime::units`).
//!
//! Codes are zero-padded strings (the national codes: a commune's or a district's code names
//! it in every province). Never join the 2024 and 2025 lists on code: use the crosswalk.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::Deserialize;

const UNITS_2024: &str = include_str!("../../../deploy/reference/lai-chau-units-2024.csv");
const UNITS_2025: &str = include_str!("../../../deploy/reference/lai-chau-units-2025.csv");
const CROSSWALK: &str = include_str!("../../../deploy/reference/lai-chau-crosswalk-2025.csv");

/// Lai Châu's province code (the embedded default's; see [`provinces`] for those loaded).
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

/// A reference file that cannot be read as units or crosswalk.
#[derive(Debug, thiserror::Error)]
pub enum ReferenceError {
    #[error("{file}: {problem}")]
    Invalid { file: String, problem: String },
    #[error("the provinces are already in use: install them before the first address is resolved")]
    AlreadyInUse,
}

/// All reference data of one province (or of every loaded one: [`Reference::loaded`]),
/// parsed once.
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

fn try_parse<T: for<'de> Deserialize<'de>>(
    name: &str,
    text: &str,
) -> Result<Vec<T>, ReferenceError> {
    csv::Reader::from_reader(text.as_bytes())
        .deserialize()
        .collect::<Result<Vec<T>, _>>()
        .map_err(|e| ReferenceError::Invalid {
            file: name.to_owned(),
            problem: e.to_string(),
        })
}

impl Reference {
    /// The embedded Lai Châu reference.
    pub fn get() -> &'static Reference {
        static REF: OnceLock<Reference> = OnceLock::new();
        REF.get_or_init(|| {
            let communes_2024: Vec<Commune2024> = parse("lai-chau-units-2024.csv", UNITS_2024);
            let communes_2025 = parse("lai-chau-units-2025.csv", UNITS_2025);
            let crosswalk: Vec<CrosswalkRow> = parse("lai-chau-crosswalk-2025.csv", CROSSWALK);
            Reference::from_parts(communes_2024, communes_2025, crosswalk)
        })
    }

    fn from_parts(
        communes_2024: Vec<Commune2024>,
        communes_2025: Vec<Commune2025>,
        crosswalk: Vec<CrosswalkRow>,
    ) -> Reference {
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
    }

    /// A province's reference from the text of its three files, in the layouts of
    /// `deploy/reference/` (a plan folder's `units-2024.csv`, `units-2025.csv`,
    /// `crosswalk-2025.csv`). Checked: every file parses, codes are unique in their list, and
    /// every crosswalk row joins a 2024 commune to a 2025 unit of the same files.
    pub fn parse(
        units_2024: &str,
        units_2025: &str,
        crosswalk: &str,
    ) -> Result<Reference, ReferenceError> {
        let communes_2024: Vec<Commune2024> = try_parse("units 2024", units_2024)?;
        let communes_2025: Vec<Commune2025> = try_parse("units 2025", units_2025)?;
        let crosswalk: Vec<CrosswalkRow> = try_parse("crosswalk 2025", crosswalk)?;
        let invalid = |file: &str, problem: String| ReferenceError::Invalid {
            file: file.to_owned(),
            problem,
        };
        let r = Reference::from_parts(communes_2024, communes_2025, crosswalk);
        if r.by_code_2024.len() != r.communes_2024.len() {
            return Err(invalid(
                "units 2024",
                "a commune code is listed twice".into(),
            ));
        }
        let codes_2025: std::collections::BTreeSet<&str> = r
            .communes_2025
            .iter()
            .map(|c| c.commune_code.as_str())
            .collect();
        if codes_2025.len() != r.communes_2025.len() {
            return Err(invalid("units 2025", "a unit code is listed twice".into()));
        }
        for row in &r.crosswalk {
            if r.commune_2024(&row.old_commune_code).is_none()
                || !codes_2025.contains(row.new_commune_code.as_str())
            {
                return Err(invalid(
                    "crosswalk 2025",
                    format!(
                        "{} -> {}: not a commune of the 2024 list and a unit of the 2025 list",
                        row.old_commune_code, row.new_commune_code
                    ),
                ));
            }
        }
        Ok(r)
    }

    /// Every province loaded ([`provinces`]) as one reference: the one province itself when
    /// only one is (Lai Châu's, by default), else their lists joined in the order installed.
    pub fn loaded() -> &'static Reference {
        static ALL: OnceLock<&'static Reference> = OnceLock::new();
        ALL.get_or_init(|| match provinces() {
            [one] => one.reference,
            many => Box::leak(Box::new(Reference::from_parts(
                many.iter()
                    .flat_map(|p| p.reference.communes_2024.iter().cloned())
                    .collect(),
                many.iter()
                    .flat_map(|p| p.reference.communes_2025.iter().cloned())
                    .collect(),
                many.iter()
                    .flat_map(|p| p.reference.crosswalk.iter().cloned())
                    .collect(),
            ))),
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

/// A province whose units this process resolves against.
#[derive(Debug)]
pub struct Province {
    /// Its code, e.g. `12`.
    pub code: String,
    /// Its official name, e.g. `Tỉnh Lai Châu`.
    pub name: String,
    pub reference: &'static Reference,
}

impl Province {
    /// A province with its reference (kept for the life of the process).
    pub fn new(code: impl Into<String>, name: impl Into<String>, reference: Reference) -> Self {
        Province {
            code: code.into(),
            name: name.into(),
            reference: Box::leak(Box::new(reference)),
        }
    }

    /// Lai Châu with its embedded reference ([`Reference::get`]): the default.
    pub fn lai_chau() -> Self {
        Province {
            code: PROVINCE_CODE.to_owned(),
            name: PROVINCE_NAME.to_owned(),
            reference: Reference::get(),
        }
    }

    /// The name without `Tỉnh`/`Thành phố`, e.g. `Lai Châu`.
    pub fn short_name(&self) -> &str {
        let n = self.name.trim();
        n.strip_prefix("Tỉnh ")
            .or_else(|| n.strip_prefix("Thành phố "))
            .unwrap_or(n)
            .trim()
    }

    /// Whether a commune code (2024 or 2025 list) or a district code is this province's.
    pub fn has_unit(&self, code: &str) -> bool {
        let r = self.reference;
        r.commune_2024(code).is_some()
            || r.commune_2025(code).is_some()
            || r.communes_2024.iter().any(|c| c.district_code == code)
    }
}

static PROVINCES: OnceLock<Vec<Province>> = OnceLock::new();

/// Installs the provinces this process serves (each with its reference, e.g. read from the
/// plan folders), in place of the embedded Lai Châu alone. Once per process, before the first
/// address is resolved; installing the same provinces again (by code, in order) is a no-op.
pub fn install(provinces: Vec<Province>) -> Result<(), ReferenceError> {
    let codes: Vec<String> = provinces.iter().map(|p| p.code.clone()).collect();
    let mut fresh = Some(provinces);
    PROVINCES.get_or_init(|| fresh.take().unwrap_or_default());
    if fresh.is_none()
        || PROVINCES
            .get()
            .is_some_and(|ps| ps.iter().map(|p| &p.code).eq(&codes))
    {
        Ok(())
    } else {
        Err(ReferenceError::AlreadyInUse)
    }
}

/// The provinces this process serves: those [`install`]ed, else Lai Châu's (embedded).
pub fn provinces() -> &'static [Province] {
    PROVINCES.get_or_init(|| vec![Province::lai_chau()])
}

/// The loaded province a commune (2024 or 2025 list) or district code belongs to.
pub fn province_of(code: &str) -> Option<&'static Province> {
    provinces().iter().find(|p| p.has_unit(code))
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
