//! Segmented append-only write-ahead log. Records are opaque bytes: this crate knows nothing of money.
//!
//! - [`WalWriter`] appends with group commit (one thread, one append and one fdatasync per
//!   batch) and stops for good on the first I/O error (fail-stop);
//! - [`recover()`] replays the log and tells a torn tail (cut) from corruption (refused);
//! - [`WalReader`] reads single records by [`RecordLoc`]; [`archive_sealed`] moves old segments
//!   aside;
//! - all I/O goes through [`Storage`]; [`sim::SimStorage`] simulates power loss for tests.
//!
//! The byte layout is in `FORMAT.md`.

pub mod config;
pub mod error;
pub mod format;
pub mod reader;
pub mod recover;
mod segments;
pub mod sim;
pub mod storage;
pub mod writer;

pub use config::WalConfig;
pub use error::WalError;
pub use format::{MAX_PAYLOAD, RecordLoc};
pub use reader::{WalReader, archive_sealed};
pub use recover::{Recovered, recover};
pub use sim::SimStorage;
pub use storage::{FsStorage, Storage, StorageFile};
pub use writer::{Sequencer, WalStats, WalWriter};
