//! The engine's one error type. Its variants are the kinds the API maps to HTTP answers
//! (in `api/src/error.rs`, the only place that does).

use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq)]
pub enum EngineError {
    /// The object does not exist, or the caller's client does not own it (the two are
    /// indistinguishable on purpose).
    #[error("{0}")]
    NotFound(String),
    /// The request is malformed or invalid: one sentence per problem.
    #[error("{}", .0.join("; "))]
    Invalid(Vec<String>),
    /// A well-formed posting that the ledger's rules refuse (funds, wallet state, limits).
    #[error("{0}")]
    Refused(String),
    /// A unique key taken, an idempotency mismatch, an already reversed posting.
    #[error("{0}")]
    Conflict(String),
    /// The caller's role may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// Not serving writes: recovering, or stopped after a storage failure (fail-stop).
    #[error("{0}")]
    Unavailable(String),
    /// Stored data failed its checks.
    #[error("{0}")]
    Corruption(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl EngineError {
    pub fn invalid(msg: impl Into<String>) -> Self {
        EngineError::Invalid(vec![msg.into()])
    }
}

pub type Result<T, E = EngineError> = std::result::Result<T, E>;
