//! # hub (library part): the whole hub assembled in one process
//!
//! [`pipeline::Pipeline`] starts every service (reconciler, indicators, inbound, the three
//! adapters) in-process over one broker and one database, each in its own schema exactly as
//! when deployed separately, optionally with the simulators in front. `hub demo` and the
//! end-to-end tests use it; real deployments run each service alone (`hub reconciler`, …).
//! It owns wiring only: no service logic lives here.

pub mod definitions;
pub mod demo;
pub mod deploy_files;
pub mod exchange;
pub mod pipeline;
pub mod sources;
