//! The crate's error type.

use std::net::SocketAddr;
use std::path::PathBuf;

/// Everything that can go wrong starting the simulators or using their library API.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// A configuration value is out of its range or unreadable.
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
    /// A request parameter (truth query, mutation, faults) is invalid.
    #[error("invalid parameter: {0}")]
    InvalidParam(String),
    /// A server could not bind its address.
    #[error("cannot bind {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    /// Writing the truth file failed.
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("JSON: {0}")]
    Json(#[from] serde_json::Error),
}
