//! The retry policy, in one place: how many times a handler is tried and how long a message
//! waits between tries. Delays come from the `backoff` crate's exponential schedule without
//! jitter, so that each delay maps to one declared retry queue.

use std::time::Duration;

use backoff::ExponentialBackoff;
use backoff::backoff::Backoff;

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

    /// An exponential backoff for reconnecting and for HTTP retries (with jitter).
    pub fn reconnect_backoff() -> ExponentialBackoff {
        ExponentialBackoff {
            initial_interval: Duration::from_millis(100),
            current_interval: Duration::from_millis(100),
            max_interval: Duration::from_secs(5),
            max_elapsed_time: None,
            ..ExponentialBackoff::default()
        }
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
    fn one_attempt_means_no_retry() {
        let p = RetryPolicy {
            attempts: 1,
            ..RetryPolicy::default()
        };
        assert_eq!(p.delay_after(1), None);
        assert!(p.delays().is_empty());
    }
}
