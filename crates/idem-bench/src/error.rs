//! Errors: [`BenchError`] stops a run (bad arguments, a target that cannot be
//! prepared); [`OpError`] is one failed operation, counted and carried on.

use std::fmt;

/// Why a benchmark run could not be carried out.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("invalid argument {flag}: {reason}")]
    InvalidArgument { flag: &'static str, reason: String },
    #[error("could not pre-populate key {key:?} for the replay workload: {reason}")]
    Populate { key: String, reason: String },
    #[error("could not write {path}: {source}")]
    WriteReport {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("a connection task failed: {0}")]
    Task(String),
    #[error("could not measure the floor: {0}")]
    Floor(String),
    #[error("could not read the nodes' CPU time: {0}")]
    NodeCpu(String),
    #[error("could not start the async runtime: {0}")]
    Runtime(#[source] std::io::Error),
}

impl BenchError {
    pub(crate) fn invalid(flag: &'static str, reason: impl Into<String>) -> Self {
        BenchError::InvalidArgument {
            flag,
            reason: reason.into(),
        }
    }
}

/// One operation that got no usable answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpError {
    /// Connect, write or read failed (connection refused, reset, closed).
    #[error("transport: {0}")]
    Transport(String),
    /// No complete answer within `--timeout`.
    #[error("timed out")]
    Timeout,
    /// An answer came but could not be understood (bad JSON, bad RESP).
    #[error("protocol: {0}")]
    Protocol(String),
}

impl OpError {
    pub(crate) fn transport(error: impl fmt::Display) -> Self {
        OpError::Transport(error.to_string())
    }

    pub(crate) fn protocol(error: impl fmt::Display) -> Self {
        OpError::Protocol(error.to_string())
    }
}
