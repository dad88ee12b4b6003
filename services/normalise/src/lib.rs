//! # hub-normalise: normalisation, in one place
//!
//! Pure functions and reference data, no I/O beyond the embedded reference files. Adapters
//! use it to normalise what is certain; the reconciler uses it to compare what is not.
//! Nothing here knows about messages, storage or HTTP.
//!
//! | module | owns |
//! |---|---|
//! | [`text`] | folding (diacritics, case, punctuation, white space), tokens, edit distance, Vietnamese syllables, Telex/VNI slips |
//! | [`orgname`] | organisation names: legal form, sector and product words, abbreviations, place suffixes |
//! | [`address`] | free-text addresses → commune/district codes (2024 lists) of every province loaded, and the 2025 units by their new names |
//! | [`taxcode`] | tax/registration codes: cleaning, checking, distance, which slip (swap, one digit) |
//! | [`phone`] | Vietnamese phone numbers → E.164 |
//! | [`datetime`] | `DD/MM/YYYY` dates and Vietnam local times (+07:00) |
//! | [`mask`] | masking personal data for logs |
//! | [`person`] | person names: normalisation and similarity |
//! | [`reference`](mod@reference) | administrative units and crosswalks per province: Lai Châu's embedded, others installed (`install`) |

pub mod address;
pub mod datetime;
pub mod mask;
pub mod orgname;
pub mod person;
pub mod phone;
pub mod reference;
pub mod taxcode;
pub mod text;
