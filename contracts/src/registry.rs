//! The list of published contracts: type name, exchange, schema. One place for all of them.
//!
//! Adding a contract: define the payload in a version module, implement [`Contract`] with the
//! `contract!` macro below, add it to [`all_contracts`], run
//! `cargo run -p hub-contracts --bin gen-schemas`, and describe it in `contracts/asyncapi.yaml`.

use schemars::{JsonSchema, Schema, generate::SchemaSettings};
use serde::{Serialize, de::DeserializeOwned};

use crate::{v1, v2};

/// Exchange names: part of the public API (agency systems bind queues to them).
pub mod exchanges {
    /// Source records, from adapters and from validated agency pushes. Topic.
    pub const SOURCE: &str = "coophub.source";
    /// Where agency systems push source records; validated before reaching `SOURCE`. Topic.
    pub const INBOUND: &str = "coophub.inbound";
    /// Golden records, merges, splits and the reconciliation log. Topic.
    pub const IDENTITY: &str = "coophub.identity";
    /// Indicator snapshots. Topic.
    pub const INDICATOR: &str = "coophub.indicator";
}

/// A payload type published under a versioned name.
pub trait Contract: Serialize + DeserializeOwned + JsonSchema + Send + Sync + 'static {
    /// CloudEvents `type`, also the routing key: `<family>.<name>.v<N>`.
    const TYPE: &'static str;
    /// Exchange it is published on.
    const EXCHANGE: &'static str;
}

/// What is known of a contract without its Rust type.
#[derive(Debug, Clone, Copy)]
pub struct ContractInfo {
    pub type_name: &'static str,
    pub exchange: &'static str,
    pub summary: &'static str,
    pub schema: fn() -> Schema,
}

/// URI put in an envelope's `dataschema`.
pub fn schema_uri(type_name: &str) -> String {
    format!("urn:coophub:schema:{type_name}")
}

/// File name of a contract's committed schema, under `contracts/schemas/`.
pub fn schema_file_name(type_name: &str) -> String {
    format!("{type_name}.schema.json")
}

/// The JSON Schema (draft 2020-12) of a payload type.
pub fn schema_of<T: JsonSchema>() -> Schema {
    SchemaSettings::draft2020_12()
        .for_deserialize()
        .into_generator()
        .into_root_schema_for::<T>()
}

macro_rules! contract {
    ($ty:ty, $name:literal, $exchange:expr) => {
        impl Contract for $ty {
            const TYPE: &'static str = $name;
            const EXCHANGE: &'static str = $exchange;
        }
    };
}

contract!(
    v1::RegistryCooperative,
    "source.cooperative.v1",
    exchanges::SOURCE
);
contract!(
    v1::LoanDisbursement,
    "source.disbursement.v1",
    exchanges::SOURCE
);
contract!(
    v1::NtmCommuneReport,
    "source.ntm_report.v1",
    exchanges::SOURCE
);
contract!(v1::FuBranch, "source.fu_branch.v1", exchanges::SOURCE);
contract!(v1::FuOfficer, "source.fu_officer.v1", exchanges::SOURCE);
contract!(v1::FuTraining, "source.fu_training.v1", exchanges::SOURCE);
contract!(
    v1::GoldenRecord,
    "identity.golden_record.v1",
    exchanges::IDENTITY
);
contract!(
    v1::IdentityMerged,
    "identity.merged.v1",
    exchanges::IDENTITY
);
contract!(v1::IdentitySplit, "identity.split.v1", exchanges::IDENTITY);
contract!(
    v1::ReconciliationDecision,
    "reconciliation.decision.v1",
    exchanges::IDENTITY
);
contract!(
    v2::ReconciliationDecisions,
    "reconciliation.decision.v2",
    exchanges::IDENTITY
);
contract!(
    v1::IndicatorSnapshot,
    "indicator.snapshot.v1",
    exchanges::INDICATOR
);

fn info<T: Contract>(summary: &'static str) -> ContractInfo {
    ContractInfo {
        type_name: T::TYPE,
        exchange: T::EXCHANGE,
        summary,
        schema: schema_of::<T>,
    }
}

/// Every published contract, in a stable order.
pub fn all_contracts() -> Vec<ContractInfo> {
    vec![
        info::<v1::RegistryCooperative>("A Cooperative Alliance registry record"),
        info::<v1::LoanDisbursement>("A loan-fund disbursement"),
        info::<v1::NtmCommuneReport>("One revision of a commune's NTM report"),
        info::<v1::FuBranch>("A Farmers' Union professional branch or group (workbook row)"),
        info::<v1::FuOfficer>("A Farmers' Union officer (workbook row)"),
        info::<v1::FuTraining>("A Farmers' Union officer's training attendance (workbook row)"),
        info::<v1::GoldenRecord>("The golden record of one organisation"),
        info::<v1::IdentityMerged>("Organisations merged into one"),
        info::<v1::IdentitySplit>("An organisation split into several"),
        info::<v1::ReconciliationDecision>("One entry of the reconciliation log"),
        info::<v2::ReconciliationDecisions>(
            "The reconciliation log entries of one reconciler transaction (a batch)",
        ),
        info::<v1::IndicatorSnapshot>("Indicator snapshot against a plan's targets"),
    ]
}

/// Looks up a published contract by its `type`.
pub fn find_contract(type_name: &str) -> Option<ContractInfo> {
    all_contracts()
        .into_iter()
        .find(|c| c.type_name == type_name)
}

/// The second routing key a source record of `province` carries (in the AMQP `CC` header,
/// besides its contract type): `province.<code>.<type>`, e.g.
/// `province.12.source.cooperative.v1`. A shard of the reconciler binds its province's keys,
/// so provinces reconcile apart (in parallel, on other machines); everything bound to the
/// contract type receives the record as before (a queue gets one copy whichever keys match).
pub fn province_routing_key(province: &str, type_name: &str) -> String {
    format!("province.{province}.{type_name}")
}

/// True when `type_name` is a source-record contract (what adapters and agency pushes carry).
pub fn is_source_record(type_name: &str) -> bool {
    type_name.starts_with("source.")
}
