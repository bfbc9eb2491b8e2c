//! The single error type of the snapshot store.

use std::io;
use std::path::PathBuf;

/// Why a snapshot could not be written or the snapshot directory could not be read.
///
/// A snapshot file that fails validation is not an error: [`crate::SnapshotStore::load_latest`]
/// skips it and reports it in [`crate::LoadedSnapshot::skipped`].
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// A storage operation failed. `op` names the operation so the log says which step of the
    /// write protocol broke (a failed directory sync means something else than a failed append).
    // The source is repeated in the message because most callers log only `Display`.
    #[error("snapshot storage error: {op} {}: {source}", path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// A [`crate::SnapshotWriter`] was given a different number of payload bytes than announced.
    /// The header carries the length up front, so such a file would never validate.
    #[error("snapshot {seq}: payload announced as {declared} bytes but {written} were written")]
    LengthMismatch { seq: u64, declared: u64, written: u64 },
    /// A [`crate::SnapshotWriter`] is used after one of its calls failed; the snapshot is
    /// abandoned because its file no longer matches what the checksum covers.
    #[error("snapshot {seq} was abandoned after an earlier error")]
    Aborted { seq: u64 },
}

impl SnapshotError {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> Self {
        let path = path.into();
        move |source| SnapshotError::Io { op, path, source }
    }
}
