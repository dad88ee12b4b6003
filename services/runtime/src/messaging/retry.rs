//! The retry policy, in one place: how many times a handler is tried and how long a message
//! waits between tries, and [`Backoff`], the waits between reconnects and HTTP retries.
//! Delays come from the `backoff` crate's exponential schedule (without jitter for the
//! policy, so that each delay maps to one declared retry queue); this is the only module
//! that names that crate: everyone else uses [`RetryPolicy`] and [`Backoff`].

use std::time::Duration;

use backoff::ExponentialBackoff;
use backoff::backoff::Backoff as _;

/// Growing waits between tries: exponential, with jitter, up to a longest wait, optionally
/// for a limited time in all. Reset it after a success.
#[derive(Debug, Clone)]
pub struct Backoff(ExponentialBackoff);

impl Backoff {
    /// Waits from `initial`, doubling (±`jitter`, a fraction) up to `max`; with `give_up_after`,
    /// [`Backoff::next_wait`] answers `None` once that much time has passed since the start or
    /// the last [`Backoff::reset`].
    pub fn exponential(
        initial: Duration,
        max: Duration,
        jitter: f64,
        give_up_after: Option<Duration>,
    ) -> Self {
        Backoff(ExponentialBackoff {
            initial_interval: initial,
            current_interval: initial,
            randomization_factor: jitter,
            multiplier: 2.0,
            max_interval: max,
            max_elapsed_time: give_up_after,
            ..ExponentialBackoff::default()
        })
    }

    /// The next wait, or `None` when the time to give up has come.
    pub fn next_wait(&mut self) -> Option<Duration> {
        self.0.next_backoff()
    }

    /// Starts again from the first wait (after a success).
    pub fn reset(&mut self) {
        self.0.reset();
    }
}

/// Attempts and exponential delays for transient handler errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Total attempts, the first included. After the last, the message is dead-lettered.
    pub attempts: u32,
    /// Delay before the second attempt; doubles each time.
    pub initial: Duration,
    /// Longest delay.
    pub max: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 5,
            initial: Duration::from_millis(200),
            max: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    fn schedule(&self) -> ExponentialBackoff {
        ExponentialBackoff {
            initial_interval: self.initial,
            current_interval: self.initial,
            randomization_factor: 0.0,
            multiplier: 2.0,
            max_interval: self.max,
            max_elapsed_time: None,
            ..ExponentialBackoff::default()
        }
    }

    /// The delay before attempt `attempt + 1`, after attempt `attempt` (1-based) failed;
    /// None when no attempt is left.
    pub fn delay_after(&self, attempt: u32) -> Option<Duration> {
        if attempt == 0 || attempt >= self.attempts {
            return None;
        }
        let mut b = self.schedule();
        let mut d = None;
        for _ in 0..attempt {
            d = b.next_backoff();
        }
        d
    }

    /// Every distinct delay of the schedule (one retry queue each).
    pub fn delays(&self) -> Vec<Duration> {
        let mut out: Vec<Duration> = (1..self.attempts)
            .filter_map(|a| self.delay_after(a))
            .collect();
        out.dedup();
        out
    }

    /// The waits between reconnects: from 100 ms up to 5 s, with jitter, never giving up.
    pub fn reconnect_backoff() -> Backoff {
        Backoff::exponential(
            Duration::from_millis(100),
            Duration::from_secs(5),
            0.5,
            None,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_maximum() {
        let p = RetryPolicy {
            attempts: 6,
            initial: Duration::from_millis(100),
            max: Duration::from_millis(500),
        };
        let ms: Vec<u128> = (1..=6)
            .map(|a| p.delay_after(a).map(|d| d.as_millis()).unwrap_or(0))
            .collect();
        assert_eq!(ms, vec![100, 200, 400, 500, 500, 0]);
        assert_eq!(
            p.delays().iter().map(|d| d.as_millis()).collect::<Vec<_>>(),
            vec![100, 200, 400, 500]
        );
    }

    #[test]
    fn backoff_waits_grow_to_the_maximum_and_reset() {
        let mut b = Backoff::exponential(
            Duration::from_millis(100),
            Duration::from_millis(300),
            0.0,
            None,
        );
        let ms: Vec<u128> = (0..4)
            .filter_map(|_| b.next_wait())
            .map(|d| d.as_millis())
            .collect();
        assert_eq!(ms, vec![100, 200, 300, 300]);
        b.reset();
        assert_eq!(b.next_wait(), Some(Duration::from_millis(100)));
        let mut done = Backoff::exponential(
            Duration::from_millis(100),
            Duration::from_millis(300),
            0.0,
            Some(Duration::ZERO),
        );
        assert_eq!(done.next_wait(), None, "the time to give up has passed");
    }

    #[test]
    fn one_attempt_means_no_retry() {
        let p = RetryPolicy {
            attempts: 1,
            ..RetryPolicy::default()
        };
        assert_eq!(p.delay_after(1), None);
        assert!(p.delays().is_empty());
    }
}
