//! Where the log lives and how big its segments and batches get.

use std::path::{Path, PathBuf};

use crate::error::WalError;
use crate::format::{FRAME_HEADER_LEN, SEGMENT_HEADER_LEN, segment_file_name};

/// Name of the subdirectory sealed segments are archived into.
pub const ARCHIVE_DIR: &str = "archive";

/// Configuration shared by the writer, recovery and the reader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalConfig {
    /// Directory holding the segment files.
    pub dir: PathBuf,
    /// A segment is rotated before a record would take it past this size (a single record
    /// larger than this gets a segment of its own). At most `u32::MAX`, so that every frame
    /// offset fits a [`crate::RecordLoc`].
    pub segment_bytes: u64,
    /// The writer stops taking queued entries into a batch once it holds this many bytes.
    pub max_batch_bytes: usize,
}

impl WalConfig {
    pub const DEFAULT_SEGMENT_BYTES: u64 = 64 << 20;
    pub const DEFAULT_MAX_BATCH_BYTES: usize = 4 << 20;
    /// Smallest accepted `segment_bytes`: a header and one empty frame.
    pub const MIN_SEGMENT_BYTES: u64 = (SEGMENT_HEADER_LEN + FRAME_HEADER_LEN) as u64;

    /// Defaults: 64 MiB segments, 4 MiB batches.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        WalConfig {
            dir: dir.into(),
            segment_bytes: Self::DEFAULT_SEGMENT_BYTES,
            max_batch_bytes: Self::DEFAULT_MAX_BATCH_BYTES,
        }
    }

    pub fn with_segment_bytes(mut self, segment_bytes: u64) -> Self {
        self.segment_bytes = segment_bytes;
        self
    }

    pub fn with_max_batch_bytes(mut self, max_batch_bytes: usize) -> Self {
        self.max_batch_bytes = max_batch_bytes;
        self
    }

    pub fn validate(&self) -> Result<(), WalError> {
        if self.segment_bytes < Self::MIN_SEGMENT_BYTES || self.segment_bytes > u64::from(u32::MAX) {
            return Err(WalError::Config(format!(
                "segment_bytes must be between {} and {}, got {}",
                Self::MIN_SEGMENT_BYTES,
                u32::MAX,
                self.segment_bytes
            )));
        }
        if self.max_batch_bytes == 0 {
            return Err(WalError::Config("max_batch_bytes must be at least 1".into()));
        }
        Ok(())
    }

    /// `<dir>/archive`.
    pub fn archive_dir(&self) -> PathBuf {
        self.dir.join(ARCHIVE_DIR)
    }

    /// `<dir>/wal-<number>.log`.
    pub fn segment_path(&self, number: u32) -> PathBuf {
        self.dir.join(segment_file_name(number))
    }

    /// `<dir>/archive/wal-<number>.log`.
    pub fn archived_segment_path(&self, number: u32) -> PathBuf {
        self.archive_dir().join(segment_file_name(number))
    }
}

/// The parent to sync so that `dir` itself is durable, if there is one to name.
pub(crate) fn parent_dir(dir: &Path) -> Option<&Path> {
    dir.parent()
        .map(|p| if p.as_os_str().is_empty() { Path::new(".") } else { p })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_paths() {
        let c = WalConfig::new("/w");
        assert_eq!(c.segment_bytes, 64 << 20);
        assert_eq!(c.max_batch_bytes, 4 << 20);
        assert!(c.validate().is_ok());
        assert_eq!(c.segment_path(7), PathBuf::from("/w/wal-0000000007.log"));
        assert_eq!(
            c.archived_segment_path(7),
            PathBuf::from("/w/archive/wal-0000000007.log")
        );
    }

    #[test]
    fn rejects_unusable_sizes() {
        let c = WalConfig::new("/w");
        assert!(c.clone().with_segment_bytes(10).validate().is_err());
        assert!(
            c.clone()
                .with_segment_bytes(u64::from(u32::MAX) + 1)
                .validate()
                .is_err()
        );
        assert!(c.clone().with_max_batch_bytes(0).validate().is_err());
        assert!(c.with_segment_bytes(44).validate().is_ok());
    }

    #[test]
    fn parent_of_relative_dir_is_cwd() {
        assert_eq!(parent_dir(Path::new("wal")), Some(Path::new(".")));
        assert_eq!(parent_dir(Path::new("/a/wal")), Some(Path::new("/a")));
        assert_eq!(parent_dir(Path::new("/")), None);
    }
}
