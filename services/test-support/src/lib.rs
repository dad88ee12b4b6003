//! # hub-test-support: what the hub's tests share
//!
//! Tests run against the real RabbitMQ and PostgreSQL, never mocks. This crate gives each
//! test a fresh database and its own topology namespace ([`TestEnv`]), a way to wait on a
//! condition with a deadline ([`eventually`]), and (feature `browser`) a real headless
//! Chromium driven over WebDriver ([`browser::Browser`]).
//!
//! | item | owns |
//! |---|---|
//! | [`env`] | [`TestEnv`]: a fresh database and topology namespace per test; [`eventually`] |
//! | [`openapi`] | the check of a service's OpenAPI document: parses, sound, committed, compatible |
//! | [`free_addr`] | a free loopback address for a test's server |
//! | `browser` | (feature `browser`) Chromium and chromedriver: start, log in, text, screenshots |
//!
//! A dev-dependency only: nothing here belongs in production.

#[cfg(feature = "browser")]
pub mod browser;

pub mod env;
pub mod openapi;

pub use env::{TestEnv, eventually};

/// A free address on this machine for a server of the test.
pub fn free_addr() -> std::net::SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr")
}
