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

/// Ports [`free_addr`] hands out: below Linux's ephemeral range (32768–60999), which the
/// kernel draws from for `bind(…:0)` and for outgoing connections. A port from that range,
/// free when checked, could be taken by the process under test itself (a connection to the
/// broker, a simulator on port 0) before its server binds it.
const TEST_PORTS: std::ops::Range<u32> = 20_000..32_000;

/// A free address on this machine for a server of the test: a loopback port outside the
/// ephemeral range (see [`TEST_PORTS`]), free when checked, never the same twice in one test
/// process, from an offset that differs between processes.
pub fn free_addr() -> std::net::SocketAddr {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    static START: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    let span = TEST_PORTS.end - TEST_PORTS.start;
    let start = *START.get_or_init(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        (std::process::id().wrapping_mul(7_919) ^ nanos) % span
    });
    for _ in 0..span {
        let i = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = TEST_PORTS.start + (start + i) % span;
        let port = u16::try_from(port).expect("TEST_PORTS fits in u16");
        if let Ok(l) = std::net::TcpListener::bind(("127.0.0.1", port)) {
            return l.local_addr().expect("addr");
        }
    }
    panic!("no free loopback port in {TEST_PORTS:?}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_addresses_are_distinct_bindable_and_outside_the_ephemeral_range() {
        let addrs: Vec<_> = (0..50).map(|_| free_addr()).collect();
        let ports: std::collections::BTreeSet<u16> = addrs.iter().map(|a| a.port()).collect();
        assert_eq!(ports.len(), addrs.len());
        for a in &addrs {
            assert!(TEST_PORTS.contains(&u32::from(a.port())), "{a}");
            assert!(a.ip().is_loopback());
        }
        let held = std::net::TcpListener::bind(addrs[0]).expect("the address is free");
        assert_ne!(free_addr(), held.local_addr().expect("addr"));
    }
}
