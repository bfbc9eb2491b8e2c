//! Replaying the WAL at open, on two threads: the caller's reads, checks, decodes and applies
//! the records to the state (which it holds alone), a second settles their idempotency keys.

use crate::codec;
use crate::error::{EngineError, Result};
use crate::record::Record;
use crate::state::{LedgerState, Replay, SettledKey, settle_keys};
use std::sync::Arc;
use std::sync::mpsc::sync_channel;
use walletd_wal::{Recovered, Storage, WalConfig};

const KEYS_PER_CHUNK: usize = 4096;

/// Replays the log from `from_seq` into `state` (fresh, or loaded from a snapshot).
///
/// Inserting idempotency keys (and growing their map) was a fifth of replay time, and nothing
/// in replay reads them: they go to their map on a second thread, which holds the map meanwhile.
/// Decoding on a third thread was tried and lost (more CPU in all, no faster: two cores).
/// On any error the caller must discard `state`, as after [`walletd_wal::recover`].
pub fn replay_log(
    state: &mut LedgerState,
    storage: Arc<dyn Storage>,
    config: &WalConfig,
    from_seq: u64,
) -> Result<Recovered> {
    let (keys_tx, keys_rx) = sync_channel::<Vec<SettledKey>>(16);
    let idempotency = std::mem::take(&mut state.idempotency);
    let mut replay = Replay::new(state);
    let (read, settled) = std::thread::scope(|scope| {
        let settler = std::thread::Builder::new()
            .name("replay-keys".into())
            .spawn_scoped(scope, move || {
                keys_rx.iter().for_each(|chunk| settle_keys(&idempotency, chunk));
                idempotency
            })
            .map_err(|e| EngineError::Internal(format!("cannot start the replay's key thread: {e}")))?;
        let mut keys = Vec::with_capacity(KEYS_PER_CHUNK);
        let read = walletd_wal::recover(storage, config, from_seq, |seq, loc, payload| {
            let record: Record = codec::decode(payload).map_err(|e| format!("record {seq} does not decode: {e}"))?;
            replay
                .record(seq, loc.to_u64(), record, &mut keys)
                .map_err(|e| e.to_string())?;
            if keys.len() >= KEYS_PER_CHUNK {
                // Fails only if the settler panicked, which its join reports.
                let _ = keys_tx.send(std::mem::replace(&mut keys, Vec::with_capacity(KEYS_PER_CHUNK)));
            }
            Ok(())
        });
        let _ = keys_tx.send(keys);
        drop(keys_tx);
        Ok((read, settler.join()))
    })?;
    let recovered = read.map_err(|e| EngineError::Corruption(e.to_string()))?;
    state.idempotency = settled.map_err(|_| {
        EngineError::Internal("the replay's key thread panicked while settling idempotency keys".into())
    })?;
    Ok(recovered)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::account::AccountState;
    use crate::codec::{Money, encode_to_vec};
    use crate::money::Currency;
    use crate::record::{AccountStatus, LegRecord, LegRole, PostingKind, PostingRecord};
    use crate::state::{IdempotencyEntry, IdempotencyKey};
    use rust_decimal::Decimal;
    use walletd_wal::format::{SegmentHeader, encode_frame};
    use walletd_wal::sim::SimStorage;

    fn account(id: u64) -> AccountState {
        AccountState {
            account_id: id,
            balance: Money::default(),
            status: AccountStatus::Active,
            minimum_balance: Money::default(),
            can_overdraw: true,
            updated_at_ms: 0,
            history: Vec::new(),
        }
    }

    /// A transfer of `amount` from account `from` to account `to` with key `key`.
    fn transfer(first_txn_id: u64, from: u64, to: u64, amount: i64, key: &str) -> PostingRecord {
        let leg = |account_id, delta, role, other_party| LegRecord {
            account_id,
            delta: Money(Decimal::new(delta, 0)),
            role,
            other_party,
        };
        PostingRecord {
            kind: PostingKind::Transfer,
            client_id: 1,
            service_id: 1,
            currency: Currency::parse("KES").unwrap(),
            first_txn_id,
            posted_at_ms: first_txn_id as i64,
            amount: Money(Decimal::new(amount, 0)),
            legs: vec![
                leg(from, -amount, LegRole::Source, to),
                leg(to, amount, LegRole::Destination, from),
            ],
            transaction_source: "test".into(),
            source_transaction_id: key.into(),
            source_transaction_data: None,
            narration: None,
            transaction_date_ms: None,
            fingerprint: first_txn_id,
        }
    }

    /// A one-segment log holding `records` from seq 1.
    fn log(records: &[Record]) -> (SimStorage, WalConfig) {
        let storage = SimStorage::new();
        let config = WalConfig::new("/wal");
        storage.create_dir_all(&config.dir).unwrap();
        let mut bytes = SegmentHeader {
            segment: 1,
            first_seq: 1,
        }
        .encode()
        .to_vec();
        for (i, r) in records.iter().enumerate() {
            encode_frame(i as u64 + 1, &encode_to_vec(r).unwrap(), &mut bytes);
        }
        let mut file = storage.create(&config.segment_path(1)).unwrap();
        file.append(&bytes).unwrap();
        file.sync().unwrap();
        (storage, config)
    }

    fn state_with_accounts(ids: &[u64]) -> LedgerState {
        let state = LedgerState::default();
        for id in ids {
            state.accounts.insert(account(*id));
        }
        state
    }

    fn balance(state: &mut LedgerState, id: u64) -> Decimal {
        state.accounts.passive_mut(id).unwrap().balance.0
    }

    #[test]
    fn replay_applies_every_posting_and_settles_every_key() {
        let (storage, config) = log(&[
            Record::Posting(transfer(1, 1, 2, 30, "a")),
            Record::Batch(vec![transfer(3, 2, 3, 10, "b"), transfer(5, 3, 1, 4, "c")]),
        ]);
        let mut state = state_with_accounts(&[1, 2, 3]);
        let recovered = replay_log(&mut state, Arc::new(storage), &config, 1).unwrap();
        assert_eq!((recovered.records_applied, recovered.next_seq), (2, 3));
        let balances: Vec<Decimal> = [1, 2, 3].iter().map(|id| balance(&mut state, *id)).collect();
        assert_eq!(balances, [-26, 20, 6].map(|b| Decimal::new(b, 0)));
        assert_eq!(state.txindex.len(), 6);
        assert_eq!(state.last_seq.load(std::sync::atomic::Ordering::Acquire), 2);
        for (key, first) in [("a", 1), ("b", 3), ("c", 5)] {
            let entry = state.idempotency.get(&(1u64, key) as &dyn IdempotencyKey);
            assert!(
                matches!(entry.as_deref(), Some(IdempotencyEntry::Done { first_txn_id, .. }) if *first_txn_id == first),
                "key {key}"
            );
        }
    }

    #[test]
    fn a_record_that_cannot_be_applied_is_corruption_naming_it() {
        // Record 2 moves money into account 9, which no record created.
        let (storage, config) = log(&[
            Record::Posting(transfer(1, 1, 2, 30, "a")),
            Record::Posting(transfer(3, 1, 9, 5, "b")),
            Record::Posting(transfer(5, 2, 1, 1, "c")),
        ]);
        let mut state = state_with_accounts(&[1, 2]);
        match replay_log(&mut state, Arc::new(storage), &config, 1) {
            Err(EngineError::Corruption(why)) => assert!(why.contains("record 2"), "{why}"),
            other => panic!("expected corruption, got {other:?}"),
        }
    }
}
