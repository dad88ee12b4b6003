//! # hub-normalise: normalisation, in one place
//!
//! Pure functions and reference data, no I/O beyond the embedded reference files. Adapters
//! use it to normalise what is certain; the reconciler uses it to compare what is not.
//! Nothing here knows about messages, storage or HTTP.

pub mod reference;
