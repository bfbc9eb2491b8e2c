//! The one error type of the crate.

use std::io;
use std::path::{Path, PathBuf};

use crate::format::RecordLoc;

/// Everything the WAL can fail with.
#[derive(Debug, thiserror::Error)]
pub enum WalError {
    /// The log holds bytes that cannot be explained by a crash: acknowledged data may be lost,
    /// so recovery refuses to go on rather than silently skip it.
    #[error("WAL corruption in {} at byte offset {offset}: {reason}", file.display())]
    Corruption { file: PathBuf, offset: u64, reason: String },
    /// The `apply` callback of [`crate::recover()`] rejected a record.
    #[error("applying WAL record {seq} failed: {message}")]
    Apply { seq: u64, message: String },
    /// A storage operation failed.
    #[error("WAL I/O error: {op} {}: {source}", path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// A payload larger than [`crate::MAX_PAYLOAD`]; only that entry is rejected.
    #[error("WAL record payload of {len} bytes exceeds the maximum of {max} bytes")]
    RecordTooLarge { len: usize, max: usize },
    /// A [`crate::WalConfig`] that cannot work.
    #[error("invalid WAL configuration: {0}")]
    Config(String),
    /// What the caller passed does not match what is on storage (e.g. a stale [`crate::Recovered`]).
    #[error("WAL state mismatch: {0}")]
    State(String),
    /// [`crate::WalReader::read`] found no segment file for the location.
    #[error("WAL record at {loc} not found: no segment file in the log or archive directory")]
    NotFound { loc: RecordLoc },
}

impl WalError {
    /// `map_err` helper: `storage.read(p).map_err(WalError::io("read", p))`.
    pub(crate) fn io(op: &'static str, path: &Path) -> impl FnOnce(io::Error) -> WalError {
        let path = path.to_path_buf();
        move |source| WalError::Io { op, path, source }
    }

    pub(crate) fn corruption(file: &Path, offset: u64, reason: impl Into<String>) -> WalError {
        WalError::Corruption {
            file: file.to_path_buf(),
            offset,
            reason: reason.into(),
        }
    }
}
