//! Snapshots: recovering from the newest snapshot plus the WAL suffix gives exactly the state
//! that replaying the whole log gives, and a corrupt newest snapshot falls back to the one
//! before it.

mod common;

use common::*;
use rust_decimal::Decimal;
use std::path::Path;
use walletd_engine::views::*;
use walletd_wal::Storage;
use walletd_wal::sim::SimStorage;

/// Every observable of the ledger that recovery must reproduce: balances, statuses and every
/// leg with its running balances.
async fn fingerprint(ledger: &walletd_engine::Ledger) -> Vec<String> {
    let mut out = Vec::new();
    let accounts = ledger
        .list_accounts(&admin(), PageRequest { page: 1, limit: 1000 })
        .await
        .unwrap();
    for a in &accounts.records {
        out.push(format!(
            "{} {} {:?}",
            a.meta.account_number, a.live.balance, a.live.status
        ));
    }
    let legs = ledger
        .list_transactions(
            &admin(),
            TransactionFilter::default(),
            PageRequest {
                page: 1,
                limit: 100_000,
            },
        )
        .await
        .unwrap();
    // The same legs through the per-client list (rebuilt from the index after a snapshot).
    let client = ledger
        .list_clients(&admin(), PageRequest { page: 1, limit: 10 })
        .records[0]
        .data
        .client_code
        .clone();
    let filter = TransactionFilter {
        client_code: Some(client),
        ..Default::default()
    };
    let by_client = ledger
        .list_transactions(
            &admin(),
            filter,
            PageRequest {
                page: 1,
                limit: 100_000,
            },
        )
        .await
        .unwrap();
    let ids = |p: &Page<TransactionView>| p.records.iter().map(|l| l.transaction_id).collect::<Vec<_>>();
    assert_eq!(ids(&by_client), ids(&legs), "per-client list and full scan agree");
    for l in &legs.records {
        out.push(format!(
            "{} {} {} {} {} {}",
            l.transaction_id, l.account_number, l.transaction_type, l.amount, l.previous_balance, l.current_balance
        ));
    }
    out
}

async fn busy_ledger(storage: &SimStorage, snapshot_every: u64) -> (walletd_engine::Ledger, World) {
    let ledger = open(storage, snapshot_every).await;
    let world = setup(&ledger, "0.5", &[("0", false), ("10", false), ("0", true)]).await;
    let svc = world.service_code.clone();
    for i in 0..120u32 {
        let w = &world.wallets;
        let kind = match i % 3 {
            0 => PostingInputKind::Credit {
                account_number: w[(i as usize / 3) % 3].clone(),
            },
            1 => PostingInputKind::Transfer {
                source_account_number: w[0].clone(),
                destination_account_number: w[2].clone(),
            },
            _ => PostingInputKind::Debit {
                account_number: w[2].clone(),
            },
        };
        let _ = ledger
            .post(
                &admin(),
                posting(kind, &svc, Decimal::new(100 + i as i64 * 7, 1), &format!("p{i}")),
            )
            .await;
    }
    let some = ledger
        .list_transactions(
            &admin(),
            TransactionFilter::default(),
            PageRequest { page: 1, limit: 5 },
        )
        .await
        .unwrap();
    let _ = ledger.reverse(&admin(), some.records[2].transaction_id).await;
    (ledger, world)
}

fn snapshot_files(storage: &SimStorage) -> Vec<std::path::PathBuf> {
    storage
        .file_names()
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "snap"))
        .collect()
}

async fn wait_for_snapshots(storage: &SimStorage, n: usize) {
    for _ in 0..200 {
        if snapshot_files(storage).len() >= n {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("no snapshot was written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_plus_suffix_equals_the_full_log() {
    let storage = SimStorage::new();
    let (ledger, _) = busy_ledger(&storage, 40).await;
    wait_for_snapshots(&storage, 2).await;
    let live = fingerprint(&ledger).await;
    ledger.shutdown();
    drop(ledger);

    let with_snapshot = open(&storage.fork(), 0).await;
    assert_eq!(fingerprint(&with_snapshot).await, live, "snapshot + suffix");
    with_snapshot.shutdown();

    let full = storage.fork();
    for p in snapshot_files(&full) {
        full.remove(&p).unwrap();
    }
    let from_log = open(&full, 0).await;
    assert_eq!(fingerprint(&from_log).await, live, "whole log");
    from_log.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_newest_snapshot_falls_back_to_the_previous_one() {
    let storage = SimStorage::new();
    let (ledger, _) = busy_ledger(&storage, 40).await;
    wait_for_snapshots(&storage, 2).await;
    let live = fingerprint(&ledger).await;
    ledger.shutdown();
    drop(ledger);
    let damaged = storage.fork();
    let mut snaps = snapshot_files(&damaged);
    snaps.sort();
    let newest = snaps.last().unwrap().clone();
    let len = damaged.len(Path::new(&newest)).unwrap();
    damaged.corrupt_byte(&newest, len / 2).unwrap();
    let (recovered, report) = walletd_engine::Ledger::open(config(&damaged, 0)).await.unwrap();
    assert_eq!(report.skipped_snapshots.len(), 1, "the corrupt snapshot is reported");
    assert!(report.snapshot_seq.is_some(), "the previous snapshot is used");
    assert_eq!(fingerprint(&recovered).await, live);
    recovered.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotency_keys_in_a_snapshot_still_answer() {
    let storage = SimStorage::new();
    let (ledger, world) = busy_ledger(&storage, 40).await;
    wait_for_snapshots(&storage, 2).await;
    // The first posting's request again: its key is old enough to be in every snapshot.
    let first = PostingInputKind::Credit {
        account_number: world.wallets[0].clone(),
    };
    let again = || posting(first.clone(), &world.service_code, Decimal::new(100, 1), "p0");
    let live = ledger.post(&admin(), again()).await.unwrap();
    assert!(live.replayed);
    ledger.shutdown();
    drop(ledger);

    let (recovered, report) = walletd_engine::Ledger::open(config(&storage.fork(), 0)).await.unwrap();
    assert!(report.snapshot_seq.is_some(), "recovered from a snapshot");
    let replay = recovered.post(&admin(), again()).await.unwrap();
    assert!(replay.replayed, "the same request is answered as a replay");
    assert_eq!(replay.source.transaction_id, live.source.transaction_id);
    assert_eq!(replay.destination.transaction_id, live.destination.transaction_id);
    let other = posting(first.clone(), &world.service_code, Decimal::new(101, 1), "p0");
    assert!(
        matches!(
            recovered.post(&admin(), other).await,
            Err(walletd_engine::EngineError::Conflict(_))
        ),
        "another request under the key is a conflict"
    );
    recovered.shutdown();
}
