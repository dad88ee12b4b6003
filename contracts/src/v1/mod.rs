//! Version 1 of every payload. Published: change only compatibly (add optional fields).
//!
//! - [`source`]: what source systems said, normalised where certain, raw kept for provenance;
//! - [`farmers_union`]: the Farmers' Union's workbooks (branches, officers, trainings);
//! - [`identity`]: golden records, merges and splits, and the reconciliation log;
//! - [`indicator`]: indicator snapshots against a plan's targets.

pub mod common;
pub mod farmers_union;
pub mod identity;
pub mod indicator;
pub mod source;

pub use common::*;
pub use farmers_union::*;
pub use identity::*;
pub use indicator::*;
pub use source::*;
