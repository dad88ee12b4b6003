//! Login throttling: failed logins counted per user name and per client address over a
//! sliding window (`LOGIN_WINDOW_SECS`). Once a name has `LOGIN_MAX_FAILURES` failures in the
//! window, or an address `LOGIN_MAX_FAILURES_PER_ADDRESS`, further attempts are refused (429,
//! with `Retry-After`) *before* the password is checked, so that guessing costs the attacker
//! time and costs the console no argon2 run. A successful login clears its name's failures
//! (not its address's). A refused attempt is not counted as a failure, so the lock lifts when
//! the window has passed.
//!
//! In memory, per console process (several replicas each count on their own); bounded: at
//! most [`MAX_KEYS`] names and addresses are tracked, the oldest forgotten first. Owns no I/O.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Most names and addresses tracked at once.
pub const MAX_KEYS: usize = 50_000;
/// User names are tracked by at most this many characters.
const MAX_NAME: usize = 200;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    User(String),
    Addr(IpAddr),
}

/// Why an attempt is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttled {
    /// `user` or `address`.
    pub by: &'static str,
    /// When the oldest counted failure leaves the window.
    pub retry_after: Duration,
}

/// Failed logins per name and per address.
pub struct LoginThrottle {
    max_user: usize,
    max_addr: usize,
    window: Duration,
    failures: Mutex<HashMap<Key, VecDeque<Instant>>>,
}

fn user_key(name: &str) -> Key {
    Key::User(name.trim().chars().take(MAX_NAME).collect())
}

impl LoginThrottle {
    pub fn new(max_user: u32, max_addr: u32, window: Duration) -> Self {
        Self {
            max_user: max_user.max(1) as usize,
            max_addr: max_addr.max(1) as usize,
            window,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// `Err` when `user` or `addr` has used up its failures in the window.
    pub fn check(&self, user: &str, addr: Option<IpAddr>) -> Result<(), Throttled> {
        self.check_at(user, addr, Instant::now())
    }

    fn check_at(&self, user: &str, addr: Option<IpAddr>, now: Instant) -> Result<(), Throttled> {
        let Ok(mut map) = self.failures.lock() else {
            return Ok(());
        };
        let mut keys = vec![(user_key(user), self.max_user, "user")];
        if let Some(a) = addr {
            keys.push((Key::Addr(a), self.max_addr, "address"));
        }
        for (key, max, by) in keys {
            if let Some(times) = map.get_mut(&key) {
                prune(times, now, self.window);
                if times.len() >= max {
                    let oldest = times.front().copied().unwrap_or(now);
                    return Err(Throttled {
                        by,
                        retry_after: (oldest + self.window).saturating_duration_since(now),
                    });
                }
            }
        }
        Ok(())
    }

    /// Counts a failed attempt.
    pub fn failed(&self, user: &str, addr: Option<IpAddr>) {
        self.failed_at(user, addr, Instant::now())
    }

    fn failed_at(&self, user: &str, addr: Option<IpAddr>, now: Instant) {
        let Ok(mut map) = self.failures.lock() else {
            return;
        };
        if map.len() >= MAX_KEYS {
            let window = self.window;
            map.retain(|_, t| {
                prune(t, now, window);
                !t.is_empty()
            });
            while map.len() >= MAX_KEYS {
                // still full of recent failures: forget the key whose last failure is oldest
                let Some(k) = map
                    .iter()
                    .min_by_key(|(_, t)| t.back().copied())
                    .map(|(k, _)| k.clone())
                else {
                    break;
                };
                map.remove(&k);
            }
        }
        let mut keys = vec![(user_key(user), self.max_user)];
        if let Some(a) = addr {
            keys.push((Key::Addr(a), self.max_addr));
        }
        for (key, max) in keys {
            let times = map.entry(key).or_default();
            prune(times, now, self.window);
            times.push_back(now);
            while times.len() > max {
                times.pop_front();
            }
        }
    }

    /// A successful login: its name starts afresh.
    pub fn succeeded(&self, user: &str) {
        if let Ok(mut map) = self.failures.lock() {
            map.remove(&user_key(user));
        }
    }
}

fn prune(times: &mut VecDeque<Instant>, now: Instant, window: Duration) {
    while times
        .front()
        .is_some_and(|t| now.saturating_duration_since(*t) >= window)
    {
        times.pop_front();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_eleventh_failure_in_a_window_is_refused_until_it_passes() {
        let t = LoginThrottle::new(10, 30, Duration::from_secs(60));
        let now = Instant::now();
        let addr: IpAddr = "10.0.0.1".parse().expect("ip");
        for i in 0..10 {
            assert!(t.check_at("lan", Some(addr), now).is_ok(), "attempt {i}");
            t.failed_at("lan", Some(addr), now + Duration::from_secs(i));
        }
        let e = t
            .check_at("lan", Some(addr), now + Duration::from_secs(10))
            .expect_err("11th refused");
        assert_eq!(e.by, "user");
        assert_eq!(e.retry_after, Duration::from_secs(50));
        // another name from the same address is still allowed (under the address limit)
        assert!(
            t.check_at("minh", Some(addr), now + Duration::from_secs(10))
                .is_ok()
        );
        // the window passes
        assert!(
            t.check_at("lan", None, now + Duration::from_secs(61))
                .is_ok()
        );
    }

    #[test]
    fn an_address_is_limited_across_names_and_success_clears_a_name() {
        let t = LoginThrottle::new(10, 3, Duration::from_secs(60));
        let now = Instant::now();
        let addr: IpAddr = "10.0.0.2".parse().expect("ip");
        for name in ["a", "b", "c"] {
            t.failed_at(name, Some(addr), now);
        }
        let e = t.check_at("d", Some(addr), now).expect_err("address");
        assert_eq!(e.by, "address");
        assert!(t.check_at("d", None, now).is_ok());
        t.succeeded("a");
        assert!(t.failures.lock().expect("lock").len() == 3);
    }
}
