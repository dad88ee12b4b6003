//! The provinces a service resolves units and addresses against (#17): `REFERENCE_DIRS`, plan
//! folders (`deploy/plans/<province>/`) whose `[units]` (province code and name, the 2024 and
//! 2025 unit lists, the 2025 crosswalk) are read when the service starts
//! ([`crate::service::ServiceContext::start`]) and installed in `hub_normalise::reference`.
//! Unset: Lai Châu's units, built into hub-normalise, alone, exactly as before.

use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Format, Toml};
use hub_normalise::reference::{self, Province, Reference};
use serde::Deserialize;

use crate::config::ConfigError;

/// The variable the folders come from.
pub const VARIABLE: &str = "REFERENCE_DIRS";

/// A plan's `[units]` table.
#[derive(Debug, Deserialize)]
struct Units {
    province_code: String,
    province_name: String,
    units_2024: PathBuf,
    units_2025: PathBuf,
    crosswalk_2025: PathBuf,
}

/// The folders of a comma-separated list (empty entries ignored).
pub fn split_dirs(list: &str) -> Vec<PathBuf> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(PathBuf::from)
        .collect()
}

/// One province from a plan folder (or its `plan.toml`): its files are read relative to it.
pub fn load(dir: &Path) -> Result<Province, ConfigError> {
    let (file, base) = if dir.is_dir() {
        (dir.join("plan.toml"), dir.to_path_buf())
    } else {
        let base = dir.parent().map(Path::to_path_buf).unwrap_or_default();
        (dir.to_path_buf(), base)
    };
    let bad = |problem: String| ConfigError::File {
        path: file.clone(),
        problem,
    };
    let units: Units = Figment::from(Toml::file_exact(&file))
        .extract_inner("units")
        .map_err(|e| bad(format!("[units]: {e}")))?;
    let read = |name: &Path| {
        let path = base.join(name);
        std::fs::read_to_string(&path).map_err(|e| bad(format!("{}: {e}", path.display())))
    };
    let r = Reference::parse(
        &read(&units.units_2024)?,
        &read(&units.units_2025)?,
        &read(&units.crosswalk_2025)?,
    )
    .map_err(|e| bad(e.to_string()))?;
    Ok(Province::new(units.province_code, units.province_name, r))
}

/// Reads the folders and installs their provinces, in order, as those this process serves.
/// No folder: nothing is installed (Lai Châu's built-in units serve). Two provinces with one
/// code, or other provinces than an earlier call installed, are refused.
pub fn install(dirs: &[PathBuf]) -> Result<(), ConfigError> {
    if dirs.is_empty() {
        return Ok(());
    }
    let provinces = dirs
        .iter()
        .map(|d| load(d))
        .collect::<Result<Vec<_>, _>>()?;
    for (i, p) in provinces.iter().enumerate() {
        if provinces[..i].iter().any(|q| q.code == p.code) {
            return Err(ConfigError::invalid(
                VARIABLE,
                format!("province {} is named twice", p.code),
            ));
        }
    }
    reference::install(provinces).map_err(|e| ConfigError::invalid(VARIABLE, e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plans() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/plans")
    }

    #[test]
    fn a_plan_folder_gives_its_province() {
        let p = load(&plans().join("dien-bien")).expect("Điện Biên's folder");
        assert_eq!((p.code.as_str(), p.short_name()), ("11", "Điện Biên"));
        assert_eq!(p.reference.communes_2024.len(), 129);
        assert_eq!(p.reference.communes_2025.len(), 45);
        let p = load(&plans().join("lai-chau/plan.toml")).expect("Lai Châu's plan.toml");
        let embedded = Reference::get();
        assert_eq!(p.reference.communes_2024, embedded.communes_2024);
        assert_eq!(p.reference.communes_2025, embedded.communes_2025);
        assert_eq!(p.reference.crosswalk, embedded.crosswalk);
        assert_eq!(
            split_dirs(" deploy/plans/lai-chau, ,deploy/plans/dien-bien"),
            [
                PathBuf::from("deploy/plans/lai-chau"),
                PathBuf::from("deploy/plans/dien-bien")
            ]
        );
    }

    #[test]
    fn the_variable_gives_the_folders_in_order() {
        let vars = [(
            VARIABLE.to_owned(),
            "deploy/plans/lai-chau,deploy/plans/dien-bien".to_owned(),
        )]
        .into();
        let c: crate::CommonConfig = crate::config::load_from(&vars).expect("valid");
        assert_eq!(
            c.reference_dirs(),
            [
                PathBuf::from("deploy/plans/lai-chau"),
                PathBuf::from("deploy/plans/dien-bien")
            ]
        );
        assert!(crate::CommonConfig::default().reference_dirs().is_empty());
    }

    #[test]
    fn a_folder_without_units_is_refused_with_its_path() {
        let e = load(&plans().join("no-such-province")).expect_err("no folder");
        assert!(e.to_string().contains("no-such-province"), "{e}");
        assert!(install(&[plans().join("lai-chau"), plans().join("lai-chau")]).is_err());
        assert!(install(&[]).is_ok());
    }
}
