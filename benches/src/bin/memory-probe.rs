//! Memory per wallet and per posting, measured: `cargo run --release -p walletd-benches --bin
//! memory-probe -- [wallets] [postings]`. Reads the resident set size (RSS) from
//! /proc/self/statm before and after creating passive wallets, after activating them (one
//! posting each), and after a run of postings. `memory-probe idle [wallets]` measures wallets
//! that were created and never posted to, live and again after recovery.

use rust_decimal::Decimal;
use walletd_benches::{SplitMix64, admin, posting, world};
use walletd_engine::views::PostingInputKind;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn main() {
    let raw: Vec<String> = std::env::args().collect();
    if raw.get(1).map(String::as_str) == Some("reopen") {
        return reopen(std::path::Path::new(&raw[2]), raw[3].parse().unwrap_or(1));
    }
    if raw.get(1).map(String::as_str) == Some("idle") {
        return idle(raw.get(2).and_then(|n| n.parse().ok()).unwrap_or(1_000_000));
    }
    let args: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let wallets = args.first().copied().unwrap_or(100_000);
    let postings = args.get(1).copied().unwrap_or(500_000);
    let rt = runtime();
    let dir = std::env::temp_dir().join(format!("walletd-memory-probe-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    rt.block_on(async {
        let base = rss_bytes();
        // Funding credits activate every wallet (and give each one leg of history).
        let w = world(&dir, wallets, Decimal::new(1_000_000, 0)).await;
        let after_wallets = rss_bytes();
        println!(
            "{wallets} wallets (active, one leg each): {:.0} bytes per wallet (RSS {} MiB -> {} MiB)",
            (after_wallets - base) as f64 / wallets as f64,
            base >> 20,
            after_wallets >> 20
        );
        let mut rng = SplitMix64::new(1);
        for c in 0..postings / 1000 {
            let batch = (0..1000)
                .map(|i| {
                    let a = rng.below(wallets);
                    let b = (a + 1 + rng.below(wallets - 1)) % wallets;
                    let kind = PostingInputKind::Transfer {
                        source_account_number: w.wallets[a].clone(),
                        destination_account_number: w.wallets[b].clone(),
                    };
                    posting(kind, &w.service, Decimal::new(1, 2), format!("m{c}-{i}"))
                })
                .collect();
            for r in w.ledger.post_batch(&admin(), batch, false).await {
                r.expect("posting");
            }
        }
        let after_postings = rss_bytes();
        println!(
            "{postings} postings: {:.0} bytes per posting (RSS {} MiB)",
            (after_postings.saturating_sub(after_wallets)) as f64 / postings as f64,
            after_postings >> 20
        );
        w.ledger.shutdown();
    });
    reopen_in_fresh_process(&dir, wallets);
    if std::env::var_os("WALLETD_PROBE_KEEP").is_some() {
        println!("kept {}", dir.display());
    } else {
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// Wallets created and never used: what a platform's long tail of wallets costs.
fn idle(wallets: usize) {
    let rt = runtime();
    let dir = std::env::temp_dir().join(format!("walletd-memory-idle-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    rt.block_on(async {
        let base = rss_bytes();
        let w = world(&dir, wallets, Decimal::ZERO).await;
        let after = rss_bytes();
        println!(
            "{wallets} idle wallets (created, never posted to): {:.0} bytes per wallet (RSS {} MiB -> {} MiB)",
            (after - base) as f64 / wallets as f64,
            base >> 20,
            after >> 20
        );
        w.ledger.shutdown();
    });
    reopen_in_fresh_process(&dir, wallets);
    let _ = std::fs::remove_dir_all(&dir);
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// Passive wallets and recovery time, in a fresh process: it recovers the ledger from the log
/// and keeps every wallet as plain data until it is used.
fn reopen_in_fresh_process(dir: &std::path::Path, wallets: usize) {
    let out = std::process::Command::new(std::env::current_exe().expect("own path"))
        .arg("reopen")
        .arg(dir)
        .arg(wallets.to_string())
        .output()
        .expect("run the reopen step");
    print!("{}", String::from_utf8_lossy(&out.stdout));
}

fn reopen(dir: &std::path::Path, wallets: usize) {
    let rt = runtime();
    rt.block_on(async {
        let before = rss_bytes();
        let mut config = walletd_engine::LedgerConfig::new(dir);
        config.snapshot = walletd_engine::SnapshotPolicy { every_records: 0, every: None };
        let (ledger, report) = walletd_engine::Ledger::open(config).await.expect("reopen");
        let after = rss_bytes();
        println!(
            "recovered {} WAL records ({} wallets) in {} ms; passive state: {:.0} bytes per wallet incl. its leg index (RSS {} MiB)",
            report.records_replayed,
            report.accounts,
            report.elapsed.as_millis(),
            after.saturating_sub(before) as f64 / wallets as f64,
            after >> 20
        );
        ledger.shutdown();
    });
}
