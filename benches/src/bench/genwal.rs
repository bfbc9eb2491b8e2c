//! `walletd-bench gen-wal`: writes a WAL of N postings through the engine in-process (no
//! HTTP), for the recovery benchmark: start `walletd --data-dir DIR` on it afterwards (or
//! point the criterion recovery bench at it) and time the replay.

use super::workload::{Kind, Plan, SCALE, WorkloadArgs};
use anyhow::{Context, bail};
use clap::Args;
use rust_decimal::Decimal;
use std::path::{Path, PathBuf};
use std::time::Instant;
use walletd_benches::{admin, posting, world};
use walletd_engine::views::PostingInputKind;

#[derive(Args, Debug)]
pub struct GenWalArgs {
    /// Postings to write (after the set-up's one funding CREDIT per wallet).
    #[arg(long, default_value_t = 1_000_000)]
    pub postings: u64,
    /// Data directory to create (must not hold a WAL yet).
    #[arg(long)]
    pub data_dir: PathBuf,
    /// Postings per `Ledger::post_batch` call (one WAL record each).
    #[arg(long, default_value_t = 1000)]
    pub batch_size: usize,
    /// Batches in flight at once.
    #[arg(long, default_value_t = 4)]
    pub in_flight: usize,
    #[command(flatten)]
    pub workload: WorkloadArgs,
}

fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| e.metadata().ok())
                .filter(|m| m.is_file())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

pub async fn gen_wal(args: GenWalArgs) -> anyhow::Result<()> {
    let wal_dir = args.data_dir.join("wal");
    if std::fs::read_dir(&wal_dir).is_ok_and(|mut d| d.next().is_some()) {
        bail!(
            "{} already holds a WAL; give gen-wal a new directory",
            wal_dir.display()
        );
    }
    std::fs::create_dir_all(&args.data_dir).with_context(|| format!("create {}", args.data_dir.display()))?;
    let plan = Plan::new(&args.workload)?;
    let started = Instant::now();
    eprintln!(
        "gen-wal: creating {} wallets funded with {} each ...",
        args.workload.wallets, args.workload.fund
    );
    let w = world(&args.data_dir, args.workload.wallets, args.workload.fund).await;
    let setup_secs = started.elapsed().as_secs_f64();
    let batch = args.batch_size.max(1) as u64;
    let batches = args.postings.div_ceil(batch);
    let in_flight = args.in_flight.max(1) as u64;
    let posting_started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for t in 0..in_flight.min(batches.max(1)) {
        let (ledger, service, wallets) = (w.ledger.clone(), w.service.clone(), w.wallets.clone());
        let mut generator = plan.generator(t);
        let total = args.postings;
        tasks.spawn(async move {
            let (mut ok, mut failed, mut first_error) = (0u64, 0u64, None);
            let mut b = t;
            while b < batches {
                let n = (total - b * batch).min(batch);
                let inputs = (0..n)
                    .map(|k| {
                        let op = generator.next_op();
                        let kind = match op.kind {
                            Kind::Transfer => PostingInputKind::Transfer {
                                source_account_number: wallets[op.a].clone(),
                                destination_account_number: wallets[op.b].clone(),
                            },
                            Kind::Credit => PostingInputKind::Credit {
                                account_number: wallets[op.a].clone(),
                            },
                            Kind::Debit => PostingInputKind::Debit {
                                account_number: wallets[op.a].clone(),
                            },
                        };
                        posting(kind, &service, Decimal::new(op.units, SCALE), format!("gen-{b}-{k}"))
                    })
                    .collect();
                for r in ledger.post_batch(&admin(), inputs, false).await {
                    match r {
                        Ok(_) => ok += 1,
                        Err(e) => {
                            failed += 1;
                            first_error.get_or_insert(e.to_string());
                        }
                    }
                }
                b += in_flight;
            }
            (ok, failed, first_error)
        });
    }
    let (mut ok, mut failed) = (0u64, 0u64);
    while let Some(r) = tasks.join_next().await {
        let (o, f, e) = r.context("gen-wal task")?;
        ok += o;
        failed += f;
        if let Some(e) = e {
            eprintln!("gen-wal: a posting failed: {e}");
        }
    }
    let posting_secs = posting_started.elapsed().as_secs_f64();
    let (records, fsyncs) = w.ledger.wal_stats();
    w.ledger.shutdown();
    let total_secs = started.elapsed().as_secs_f64();
    println!(
        "gen-wal: {ok} postings written ({failed} failed) to {}: {records} WAL records in {fsyncs} fsyncs, {:.1} MiB of WAL; \
         set-up {setup_secs:.1} s, postings {posting_secs:.1} s ({:.0} postings/s), total {total_secs:.1} s",
        args.data_dir.display(),
        dir_bytes(&wal_dir) as f64 / (1024.0 * 1024.0),
        ok as f64 / posting_secs.max(1e-9),
    );
    if failed > 0 {
        bail!("{failed} postings failed");
    }
    Ok(())
}
