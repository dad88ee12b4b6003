//! The reconciler serving every province loaded (#17): with Lai Châu's and Điện Biên's plan
//! folders installed (`REFERENCE_DIRS`, read by `hub_runtime::units`), a loan addressed in
//! Điện Biên is placed in its commune and district there and lands on the registry's
//! organisation of that commune. Installing is once per process: every test here sees both.

mod common;

use std::path::Path;

use common::*;
use hub_contracts::v1::{BorrowerType, OrgKind};
use hub_reconciler::engine::Engine;
use hub_reconciler::engine::features::Unit;
use hub_reconciler::engine::observation::Observation;

fn both() {
    let plans = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/plans");
    hub_runtime::units::install(&[plans.join("lai-chau"), plans.join("dien-bien")])
        .expect("both plan folders install");
}

#[test]
fn a_loan_addressed_in_dien_bien_is_placed_there_and_joins_its_registry_record() {
    both();
    let mut e = Engine::new();
    let mut rec = registry(
        "LM-DB-1",
        "Hợp tác xã Nông nghiệp Mường Báng",
        OrgKind::Htx,
        Some("5600123456"),
        // a Lai Châu commune to build the record, moved to Điện Biên below
        "03421",
        Some("Lò Văn Pánh"),
        Some("+84912000111"),
    );
    rec.commune_code = Some("03250".into());
    rec.district_code = Some("098".into());
    rec.address = Some("xã Mường Báng, huyện Tủa Chùa, tỉnh Điện Biên".into());
    e.observe(Observation::from_registry(&rec), now());
    let l = loan(
        "VL-DB-1",
        "HTX NN Mường Báng",
        BorrowerType::Cooperative,
        None,
        "Bản Háng Tàu, xã Mường Báng, huyện Tủa Chùa, tỉnh Điện Biên",
        Some("Lò Văn Pánh"),
        Some("0912000111"),
    );
    e.observe(Observation::from_loan(&l), now());
    let loan_ref = r("loan-fund", "VL-DB-1");
    let f = e.features_of(&loan_ref).expect("features");
    assert_eq!(f.commune, Some(Unit::new("03250")));
    assert_eq!(f.district, Some(Unit::new("098")));
    assert_eq!(
        e.identity_of(&loan_ref),
        e.identity_of(&r("coop-alliance", "LM-DB-1"))
    );
}
