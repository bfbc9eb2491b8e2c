//! The engine's side of the WAL writer thread: gives each posting its transaction ids and
//! posting time in log order (`encode`), then, once its batch is fsynced, applies it and
//! hands the commits to the account actors (`durable`). Because this one thread sends every
//! commit, each account receives its commits in log order, which is what makes replay exact.

use crate::account::{AccountMsg, AccountView, CommitLeg, LegReply, send_by_account};
use crate::catalog::Applied;
use crate::codec;
use crate::coordinator::ParkedUnit;
use crate::error::{EngineError, Result};
use crate::record::{AccountStatus, Record};
use crate::snapshot::SnapshotScheduler;
use crate::state::LedgerState;
use ractor::ActorRef;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use tokio::sync::oneshot;
use walletd_wal::{RecordLoc, Sequencer, WalError};

/// What waits in the WAL writer's queue.
pub enum WalEntry {
    Catalog {
        record: Record,
        reply: oneshot::Sender<Result<Applied>>,
    },
    Status {
        account_id: u64,
        status: AccountStatus,
        at_ms: i64,
        actor: ActorRef<AccountMsg>,
        reply: oneshot::Sender<AccountView>,
    },
    /// One posting (`Record::Posting`) or several made durable together (`Record::Batch`);
    /// every leg's account has its actor already (the commits borrow it from the directory).
    Postings {
        record: Record,
        /// The unit, parked in its answers (where its accounts answer their commits) until
        /// this entry is handed over as durable or failed.
        unit: ParkedUnit,
    },
}

pub struct LedgerSequencer {
    pub state: Arc<LedgerState>,
    pub snapshots: Option<SnapshotScheduler>,
    next_txn_id: u64,
    last_posted_at_ms: i64,
}

impl LedgerSequencer {
    pub fn new(state: Arc<LedgerState>, snapshots: Option<SnapshotScheduler>) -> Self {
        let next_txn_id = state.last_txn_id.load(Ordering::Acquire) + 1;
        let last_posted_at_ms = state.last_posted_at_ms.load(Ordering::Acquire);
        LedgerSequencer {
            state,
            snapshots,
            next_txn_id,
            last_posted_at_ms,
        }
    }
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl Sequencer for LedgerSequencer {
    type Entry = WalEntry;

    fn encode(&mut self, _seq: u64, entry: &mut WalEntry, out: &mut Vec<u8>) {
        if let WalEntry::Postings { record, .. } = entry {
            // Posting times never go back in log order, so a date range is a txn id range.
            self.last_posted_at_ms = self.last_posted_at_ms.max(now_ms());
            let postings = match record {
                Record::Posting(p) => std::slice::from_mut(p),
                Record::Batch(ps) => ps.as_mut_slice(),
                _ => &mut [],
            };
            for p in postings {
                p.first_txn_id = self.next_txn_id;
                self.next_txn_id += p.legs.len() as u64;
                p.posted_at_ms = self.last_posted_at_ms;
            }
        }
        let result = match entry {
            WalEntry::Catalog { record, .. } | WalEntry::Postings { record, .. } => codec::encode_into(record, out),
            WalEntry::Status {
                account_id,
                status,
                at_ms,
                ..
            } => codec::encode_into(
                &Record::SetAccountStatus {
                    account_id: *account_id,
                    status: *status,
                    at_ms: *at_ms,
                },
                out,
            ),
        };
        if let Err(e) = result {
            // Encoding into a Vec has no failure mode for these types; say so loudly if it ever does.
            tracing::error!(error = %e, "record encoding failed");
        }
    }

    fn durable(&mut self, seq: u64, loc: RecordLoc, entry: WalEntry) {
        match entry {
            WalEntry::Catalog { record, reply } => {
                let result = self.state.apply_catalog(&record);
                let _ = reply.send(result);
            }
            WalEntry::Status {
                status,
                at_ms,
                actor,
                reply,
                ..
            } => {
                let _ = actor.cast(AccountMsg::CommitStatus {
                    status,
                    at_ms,
                    reply: Some(reply),
                });
            }
            WalEntry::Postings { record, unit } => {
                let answers = unit.answers();
                let postings = match record {
                    Record::Posting(p) => vec![p],
                    Record::Batch(ps) => ps,
                    _ => Vec::new(),
                };
                // Commits first: a reader that finds a leg in the index (published next) asks
                // its account after the Commit is already in that account's mailbox.
                // Each account gets its legs of the entry in one message, in log order.
                let flat = || {
                    postings
                        .iter()
                        .flat_map(|p| p.legs.iter().enumerate().map(move |(i, l)| (p, i, l)))
                };
                let directory = &self.state.accounts;
                let legs = flat().enumerate().map(|(k, (p, i, l))| {
                    // Without its account, the leg is dropped and its reply answers for itself.
                    let commit = CommitLeg {
                        txn_id: p.first_txn_id + i as u64,
                        delta: l.delta.0,
                        reply: LegReply::commit(answers.clone(), k as u32),
                    };
                    (l.account_id, directory.live(l.account_id), commit)
                });
                send_by_account(flat().map(|(_, _, l)| l.account_id), legs, AccountMsg::Commit);
                for p in &postings {
                    self.state.record_posting(loc.to_u64(), p);
                }
                // Counts as one more commit answer: the unit is answered once this and every
                // leg's commit are in.
                unit.durable(postings);
            }
        }
        self.state.last_seq.store(seq, Ordering::Release);
    }

    fn failed(&mut self, entry: WalEntry, error: &WalError) {
        let msg = format!("the write-ahead log has stopped: {error}");
        match entry {
            WalEntry::Catalog { reply, .. } => {
                let _ = reply.send(Err(EngineError::Unavailable(msg)));
            }
            WalEntry::Status { actor, .. } => {
                let _ = actor.cast(AccountMsg::AbortStatus);
            }
            WalEntry::Postings { unit, record } => {
                // A record refused for its size was given ids that no record holds: give them
                // back, so transaction ids stay dense (the index relies on it).
                if matches!(error, WalError::RecordTooLarge { .. }) {
                    let first = match &record {
                        Record::Posting(p) => Some(p.first_txn_id),
                        Record::Batch(ps) => ps.first().map(|p| p.first_txn_id),
                        _ => None,
                    };
                    if let Some(first) = first.filter(|f| *f > 0) {
                        self.next_txn_id = first;
                    }
                }
                unit.failed(msg);
            }
        }
    }

    fn batch_done(&mut self, records: usize) {
        if let Some(s) = self.snapshots.as_mut() {
            s.after_batch(&self.state, records);
        }
    }
}
