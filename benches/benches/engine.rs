//! Engine postings through the public `Ledger` handle, durable (fsynced) on a real directory:
//! uniform and hot-wallet transfers, one and many concurrent submitters, single and batched.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rust_decimal::Decimal;
use std::time::{Duration, Instant};
use walletd_benches::{BenchWorld, SplitMix64, admin, posting, world};
use walletd_engine::views::PostingInputKind;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const WALLETS: usize = 10_000;

fn transfer(w: &BenchWorld, rng: &mut SplitMix64, hot: bool, key: String) -> walletd_engine::views::PostingInput {
    let n = w.wallets.len();
    let a = if hot { 0 } else { rng.below(n) };
    let b = (a + 1 + rng.below(n - 1)) % n;
    let kind = PostingInputKind::Transfer {
        source_account_number: w.wallets[a].clone(),
        destination_account_number: w.wallets[b].clone(),
    };
    posting(kind, &w.service, Decimal::new(1, 2), key)
}

/// Runs `total` postings from `submitters` concurrent tasks, `batch` per call.
async fn run(w: &BenchWorld, submitters: usize, total: usize, batch: usize, hot: bool, round: u64) -> Duration {
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for s in 0..submitters {
        let (ledger, w2) = (
            w.ledger.clone(),
            BenchWorld {
                ledger: w.ledger.clone(),
                service: w.service.clone(),
                wallets: w.wallets.clone(),
            },
        );
        let per = total / submitters;
        tasks.spawn(async move {
            let mut rng = SplitMix64::new(round * 1000 + s as u64 + 1);
            let mut i = 0;
            while i < per {
                let n = batch.min(per - i);
                let postings: Vec<_> = (0..n)
                    .map(|k| transfer(&w2, &mut rng, hot, format!("r{round}-s{s}-{}", i + k)))
                    .collect();
                if n == 1 {
                    let p = postings.into_iter().next().expect("one");
                    ledger.post(&admin(), p).await.expect("posting");
                } else {
                    for r in ledger.post_batch(&admin(), postings, false).await {
                        r.expect("posting");
                    }
                }
                i += n;
            }
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.expect("task");
    }
    started.elapsed()
}

fn postings(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let w = rt.block_on(world(dir.path(), WALLETS, Decimal::new(1_000_000_000, 0)));
    let mut group = c.benchmark_group("engine_postings");
    group.sample_size(10).measurement_time(Duration::from_secs(10));
    let mut round = 0u64;
    for (name, submitters, per_iter, batch, hot) in [
        ("uniform/1_submitter", 1, 200, 1, false),
        ("uniform/256_submitters", 256, 20_000, 1, false),
        ("hot/256_submitters", 256, 20_000, 1, true),
        ("uniform/batch_1000x8", 8, 40_000, 1000, false),
        ("hot/batch_1000x8", 8, 40_000, 1000, true),
    ] {
        group.throughput(Throughput::Elements(per_iter as u64));
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    round += 1;
                    total += rt.block_on(run(&w, submitters, per_iter, batch, hot, round));
                }
                total
            })
        });
    }
    group.finish();
    let (records, fsyncs) = w.ledger.wal_stats();
    println!(
        "WAL: {records} records in {fsyncs} fsyncs ({:.1} records per fsync)",
        records as f64 / fsyncs.max(1) as f64
    );
    w.ledger.shutdown();
}

criterion_group!(benches, postings);
criterion_main!(benches);
