//! When and how the engine takes snapshots: every N records or T seconds, the WAL writer takes
//! a cut (cheap, on its thread) and a background task gathers the accounts' states at the cut,
//! encodes the image and writes it through the `snapshots` crate. Postings go on meanwhile.

use crate::codec;
use crate::error::{EngineError, Result};
use crate::state::{LedgerState, StateImage};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use walletd_snapshots::SnapshotStore;

#[derive(Clone, Debug)]
pub struct SnapshotPolicy {
    /// Take a snapshot after this many records (0: never by count).
    pub every_records: u64,
    /// ... or after this long with at least one new record (None: never by time).
    pub every: Option<Duration>,
}

impl Default for SnapshotPolicy {
    fn default() -> Self {
        SnapshotPolicy {
            every_records: 1_000_000,
            every: Some(Duration::from_secs(300)),
        }
    }
}

/// Lives on the WAL writer thread.
pub struct SnapshotScheduler {
    policy: SnapshotPolicy,
    store: Arc<SnapshotStore>,
    runtime: tokio::runtime::Handle,
    state_ref: Arc<LedgerState>,
    records_since: u64,
    last: Instant,
    running: Arc<AtomicBool>,
}

impl SnapshotScheduler {
    pub fn new(
        policy: SnapshotPolicy,
        store: Arc<SnapshotStore>,
        runtime: tokio::runtime::Handle,
        state: Arc<LedgerState>,
    ) -> Self {
        SnapshotScheduler {
            policy,
            store,
            runtime,
            state_ref: state,
            records_since: 0,
            last: Instant::now(),
            running: Arc::new(AtomicBool::new(false)),
        }
    }

    pub fn after_batch(&mut self, state: &LedgerState, records: usize) {
        self.records_since += records as u64;
        let by_count = self.policy.every_records > 0 && self.records_since >= self.policy.every_records;
        let by_time = self.policy.every.is_some_and(|t| self.last.elapsed() >= t) && self.records_since > 0;
        if !(by_count || by_time) || self.running.swap(true, Ordering::AcqRel) {
            return;
        }
        self.records_since = 0;
        self.last = Instant::now();
        let seq = state.last_seq.load(Ordering::Acquire);
        let cut = state.cut(seq);
        let (store, running, st) = (self.store.clone(), self.running.clone(), self.state_ref.clone());
        self.runtime.spawn(async move {
            let started = Instant::now();
            match write_snapshot(&st, cut, store).await {
                Ok(bytes) => tracing::info!(
                    seq,
                    bytes,
                    ms = started.elapsed().as_millis() as u64,
                    "snapshot written"
                ),
                Err(e) => tracing::error!(seq, error = %e, "snapshot failed; the WAL still holds everything"),
            }
            running.store(false, Ordering::Release);
        });
    }
}

async fn write_snapshot(state: &LedgerState, cut: crate::state::Cut, store: Arc<SnapshotStore>) -> Result<usize> {
    let seq = cut.seq;
    let image = state.image(cut).await?;
    tokio::task::spawn_blocking(move || {
        let bytes = encode_image(&image)?;
        store
            .write(seq, &bytes)
            .map_err(|e| EngineError::Internal(format!("snapshot write: {e}")))?;
        Ok(bytes.len())
    })
    .await
    .map_err(|e| EngineError::Internal(format!("snapshot task: {e}")))?
}

pub fn encode_image(image: &StateImage) -> Result<Vec<u8>> {
    codec::encode_to_vec(image).map_err(|e| EngineError::Internal(format!("snapshot encode: {e}")))
}

pub fn decode_image(bytes: &[u8]) -> Result<StateImage> {
    codec::decode(bytes).map_err(|e| EngineError::Corruption(format!("snapshot does not decode: {e}")))
}
