//! Quick in-process throughput probe: `cargo run --release -p walletd-benches --bin engine-load
//! -- [wallets] [submitters] [postings] [hot 0|1] [batch]` prints postings/s through
//! `Ledger::post` (batch 1) or `Ledger::post_batch` (durable, fsynced), records per fsync and
//! postings per record.

use rust_decimal::Decimal;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::time::Instant;
use walletd_benches::*;
use walletd_engine::views::PostingInputKind;

fn main() {
    let args: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let wallets = args.first().copied().unwrap_or(10_000);
    let submitters = args.get(1).copied().unwrap_or(256);
    let postings = args.get(2).copied().unwrap_or(200_000);
    let hot = args.get(3).copied().unwrap_or(0) == 1;
    let batch = args.get(4).copied().unwrap_or(1).max(1);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let dir = tempfile_dir();
        let w = world(&dir, wallets, Decimal::new(1_000_000, 0)).await;
        let (r0, b0) = w.ledger.wal_stats();
        let started = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for s in 0..submitters {
            let (ledger, service, wallets) = (w.ledger.clone(), w.service.clone(), w.wallets.clone());
            let per = postings / submitters;
            tasks.spawn(async move {
                let mut rng = SplitMix64::new(s as u64 + 1);
                let mut pending = Vec::with_capacity(batch);
                for i in 0..per {
                    let a = if hot { 0 } else { rng.below(wallets.len()) };
                    let b = (a + 1 + rng.below(wallets.len() - 1)) % wallets.len();
                    let kind = PostingInputKind::Transfer {
                        source_account_number: wallets[a].clone(),
                        destination_account_number: wallets[b].clone(),
                    };
                    pending.push(posting(kind, &service, Decimal::new(1, 2), format!("s{s}-{i}")));
                    if pending.len() == batch || i + 1 == per {
                        if batch == 1 {
                            let p = pending.pop().expect("one");
                            ledger.post(&admin(), p).await.expect("posting");
                        } else {
                            for r in ledger
                                .post_batch(
                                    &admin(),
                                    std::mem::replace(&mut pending, Vec::with_capacity(batch)),
                                    false,
                                )
                                .await
                            {
                                r.expect("posting");
                            }
                        }
                    }
                }
            });
        }
        while let Some(r) = tasks.join_next().await {
            r.expect("task");
        }
        let secs = started.elapsed().as_secs_f64();
        let (r1, b1) = w.ledger.wal_stats();
        let done = (postings / submitters) * submitters;
        println!(
            "{done} postings in {secs:.2} s = {:.0} postings/s; {:.1} records per fsync, {:.1} postings per record",
            done as f64 / secs,
            (r1 - r0) as f64 / (b1 - b0).max(1) as f64,
            done as f64 / (r1 - r0).max(1) as f64
        );
        w.ledger.shutdown();
        let _ = std::fs::remove_dir_all(&dir);
    });
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("walletd-engine-load-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}
