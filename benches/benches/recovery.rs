//! Recovery: replay rate of the WAL (records/s, no snapshot), recovery from a snapshot, and
//! snapshot write and load of the resulting state.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rust_decimal::Decimal;
use std::sync::Arc;
use std::time::{Duration, Instant};
use walletd_benches::{SplitMix64, admin, posting, world};
use walletd_engine::views::PostingInputKind;
use walletd_engine::{Ledger, LedgerConfig, SnapshotPolicy};
use walletd_snapshots::SnapshotStore;
use walletd_wal::FsStorage;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const WALLETS: usize = 10_000;
const POSTINGS: usize = 200_000;

/// A data directory holding `POSTINGS` transfers (in batch records of 1000).
fn build(dir: &std::path::Path, rt: &tokio::runtime::Runtime) -> u64 {
    rt.block_on(async {
        let w = world(dir, WALLETS, Decimal::new(1_000_000, 0)).await;
        let mut rng = SplitMix64::new(7);
        for c in 0..POSTINGS / 1000 {
            let batch = (0..1000)
                .map(|i| {
                    let a = rng.below(WALLETS);
                    let b = (a + 1 + rng.below(WALLETS - 1)) % WALLETS;
                    let kind = PostingInputKind::Transfer {
                        source_account_number: w.wallets[a].clone(),
                        destination_account_number: w.wallets[b].clone(),
                    };
                    posting(kind, &w.service, Decimal::new(1, 2), format!("g{c}-{i}"))
                })
                .collect();
            for r in w.ledger.post_batch(&admin(), batch, false).await {
                r.expect("posting");
            }
        }
        let (records, _) = w.ledger.wal_stats();
        w.ledger.shutdown();
        records
    })
}

fn config(dir: &std::path::Path, snapshot: bool) -> LedgerConfig {
    let mut c = LedgerConfig::new(dir);
    c.snapshot = SnapshotPolicy {
        every_records: if snapshot { 1 } else { 0 },
        every: None,
    };
    c
}

fn recovery(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    build(dir.path(), &rt);
    let mut group = c.benchmark_group("recovery");
    group.sample_size(10).measurement_time(Duration::from_secs(10));
    // Legs replayed are what costs; count postings (each a transfer of two legs).
    group.throughput(Throughput::Elements((POSTINGS + WALLETS) as u64));
    group.bench_function("replay_whole_wal_postings", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let started = Instant::now();
                let (ledger, report) = rt.block_on(Ledger::open(config(dir.path(), false))).expect("open");
                total += started.elapsed();
                assert!(report.snapshot_seq.is_none());
                ledger.shutdown();
            }
            total
        })
    });
    group.finish();

    // One snapshot of the whole state, then its write and load on their own.
    let snap_dir = tempfile::tempdir().expect("temp dir");
    let image = rt.block_on(async {
        let (ledger, _) = Ledger::open(config(dir.path(), false)).await.expect("open");
        let state = ledger.state();
        let seq = state.last_seq.load(std::sync::atomic::Ordering::Acquire);
        let cut = state.cut(seq);
        let image = state.image(cut).await.expect("image");
        let bytes = walletd_engine::snapshot::encode_image(&image).expect("encode");
        ledger.shutdown();
        bytes
    });
    let store = SnapshotStore::new(Arc::new(FsStorage), snap_dir.path().to_path_buf(), 2);
    let mut group = c.benchmark_group("snapshot");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(image.len() as u64));
    let mut seq = 0;
    group.bench_function("write", |b| {
        b.iter(|| {
            seq += 1;
            store.write(seq, &image).expect("write")
        })
    });
    group.bench_function("load_and_decode", |b| {
        b.iter(|| {
            let loaded = store.load_latest().expect("load").expect("a snapshot");
            walletd_engine::snapshot::decode_image(&loaded.payload).expect("decode")
        })
    });
    group.finish();
    println!(
        "snapshot of {WALLETS} wallets and {POSTINGS} postings: {} bytes",
        image.len()
    );
}

criterion_group!(benches, recovery);
criterion_main!(benches);
