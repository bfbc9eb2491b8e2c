//! walletd's ledger engine: wallets as `ractor` actors owning their balances, postings run
//! two-phase by a pool of coordinators, every change appended to the WAL before it is
//! acknowledged, snapshots to bound recovery, and exact replay.
//!
//! Layout:
//! - `money`, `codec`, `record`: amounts, the one codec module, the WAL record types;
//! - `catalog`, `state`: the in-memory state and the deterministic apply of records;
//! - `recovery`: replaying the WAL at open;
//! - `account`, `coordinator`, `sequencer`: the actors and the WAL writer's side;
//! - `snapshot`: when and how snapshots are taken;
//! - `ledger`, `views`: the public handle and what it takes and gives.

pub mod account;
pub mod catalog;
pub mod codec;
pub mod coordinator;
pub mod error;
pub mod fees;
pub mod ledger;
pub mod money;
pub mod record;
pub mod recovery;
pub mod sequencer;
pub mod snapshot;
pub mod state;
pub mod views;

pub use error::{EngineError, Result};
pub use ledger::{Ledger, LedgerConfig, RecoveryReport, archive_wal, default_coordinators};
pub use snapshot::SnapshotPolicy;
