//! What can go wrong reading a source, in one type: each variant names the system, the URL
//! and what was wrong, so that a failed sync says why in one log line.
//!
//! Owns [`SourceError`] and [`Invalid`] (why one record could not become a contract). Knows
//! nothing of how errors are retried: that is [`crate::http`]'s business.

use std::time::Duration;

use hub_runtime::messaging::MessagingError;

/// Why a check or a sync failed.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The system rejected the credentials (HTTP 401, after one token refresh for OAuth2).
    #[error("{system}: credentials rejected (HTTP 401) at {url}{hint}")]
    Unauthorized {
        system: String,
        url: String,
        /// `: check COOP_ALLIANCE_API_KEY` or empty.
        hint: String,
    },
    /// A 200 answer whose body is not the documented JSON, after the configured attempts.
    #[error(
        "{system}: {url} answered a body that is not the documented JSON ({detail}) {attempts} time(s); body starts {snippet:?}"
    )]
    Garbage {
        system: String,
        url: String,
        detail: String,
        snippet: String,
        attempts: u32,
    },
    /// An answer that retrying cannot fix (400, 404, 403, …).
    #[error("{system}: {url} answered HTTP {status}: {snippet}")]
    Status {
        system: String,
        url: String,
        status: u16,
        snippet: String,
    },
    /// Transient failures (429, 5xx, connection errors) went on past the retry budget.
    #[error(
        "{system}: gave up on {url} after {attempts} attempt(s) in {elapsed:?}; last error: {last}"
    )]
    Exhausted {
        system: String,
        url: String,
        attempts: u32,
        elapsed: Duration,
        last: String,
    },
    /// The source's data broke a rule of its own specification (say, paging that never ends).
    #[error("{system}: {message}")]
    Protocol { system: String, message: String },
    /// A setting the adapter cannot work with.
    #[error("{system}: configuration: {message}")]
    Config { system: String, message: String },
    /// Publishing the page failed (the page is not committed and will be read again).
    #[error("publishing source records: {0}")]
    Messaging(#[from] MessagingError),
    /// The adapter's own state (checkpoint, content hashes) could not be read or written.
    #[error("adapter state in PostgreSQL: {0}")]
    Storage(#[from] sqlx::Error),
    /// The shutdown token fired.
    #[error("shutting down")]
    Cancelled,
}

impl SourceError {
    /// True when the credentials are what is wrong (the runner re-checks before the next
    /// sync rather than hammering the system).
    pub fn is_unauthorized(&self) -> bool {
        matches!(self, Self::Unauthorized { .. })
    }

    pub fn protocol(system: &str, message: impl Into<String>) -> Self {
        Self::Protocol {
            system: system.to_owned(),
            message: message.into(),
        }
    }

    pub fn config(system: &str, message: impl Into<String>) -> Self {
        Self::Config {
            system: system.to_owned(),
            message: message.into(),
        }
    }
}

/// Why a raw record cannot form its contract at all (a required field missing or
/// unreadable). The record is not published; it is counted, logged with its id and this
/// reason, and remembered with its content hash so that it is reported once, not at every
/// poll.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct Invalid {
    /// What was wrong, in words, without personal data.
    pub reason: String,
}

impl Invalid {
    pub fn new(reason: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
        }
    }
}
