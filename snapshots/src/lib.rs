//! Crash-safe snapshot files for walletd.
//!
//! A snapshot is the engine's whole state as of WAL sequence number `seq`, encoded by the engine
//! and treated here as opaque bytes. This crate only makes sure that, whatever happens mid-write,
//! recovery finds either the new snapshot intact or an older one intact, never garbage: each file
//! is written under a temporary name, checksummed, fsynced, renamed into place and made durable
//! with a directory fsync (see `FORMAT.md` for the byte layout).
//!
//! All I/O goes through [`walletd_wal::Storage`], so tests can run the store on top of a storage
//! that forgets whatever was not synced.

mod error;
pub mod format;
mod store;

pub use error::SnapshotError;
pub use store::{LoadedSnapshot, SnapshotStore, SnapshotWriter};
