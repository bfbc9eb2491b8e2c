//! `walletd-bench`: a load generator against a running walletd over HTTP/1.1 keep-alive
//! (loopback only), and `walletd-bench gen-wal`, which writes a WAL in-process for the
//! recovery benchmark. See `benches/README.md`.
//!
//! Exit status: 0 when the run's checks hold, 1 when conservation (or the posting count)
//! fails, 2 on any other error (set-up refused, server unreachable, bad flags).

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[path = "../bench/mod.rs"]
mod bench;

use anyhow::{Context, bail};
use bench::http::{ClientKind, Target, login};
use bench::run::{Mode, RunConfig};
use bench::setup::{SetupArgs, leg_count, setup};
use bench::workload::{Plan, WorkloadArgs};
use clap::{Args, Parser, Subcommand};
use serde_json::json;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

#[derive(Parser, Debug)]
#[command(
    name = "walletd-bench",
    about = "Load generator for walletd",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    load: LoadArgs,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Write a WAL of N postings in-process (no HTTP), for the recovery benchmark.
    GenWal(bench::genwal::GenWalArgs),
}

#[derive(Args, Debug)]
struct LoadArgs {
    /// walletd's address: plain http://, loopback only.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    #[arg(long, default_value = "admin")]
    username: String,
    #[arg(long, env = "WALLETD_ADMIN_PASSWORD", hide_env_values = true)]
    password: Option<String>,
    #[command(flatten)]
    workload: WorkloadArgs,
    /// One posting per request, or `--batch-size` postings per POST /api/v1/transactions/batch.
    #[arg(long, value_enum, default_value_t = Mode::Single)]
    mode: Mode,
    /// Postings per batch request (`--mode batch`; the server takes up to 10000).
    #[arg(long, default_value_t = 1000)]
    batch_size: usize,
    /// Batches are all-or-nothing (`--mode batch`).
    #[arg(long)]
    atomic: bool,
    /// Concurrent keep-alive connections, each with one request in flight.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// How long to run (30s, 500ms, 2m); ignored with --count.
    #[arg(long, default_value = "30s", value_parser = bench::parse_duration)]
    duration: Duration,
    /// Send exactly this many postings instead of running for --duration.
    #[arg(long)]
    count: Option<u64>,
    /// Print one JSON object with every figure instead of the text report.
    #[arg(long)]
    json: bool,
    /// HTTP client: raw (a lean hand-written HTTP/1.1 client, one owned connection per
    /// worker), hyper (one owned connection per worker) or reqwest (pooled).
    #[arg(long, value_enum, default_value_t = ClientKind::Raw)]
    client: ClientKind,
    /// Runtime threads of the generator (it shares the machine with the server).
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Requests in flight during set-up.
    #[arg(long, default_value_t = 64)]
    setup_in_flight: usize,
    /// Skip the conservation check at the end (it pages through every account).
    #[arg(long)]
    skip_check: bool,
    /// No progress bars.
    #[arg(long)]
    quiet: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let threads = match &cli.command {
        Some(_) => std::thread::available_parallelism().map_or(2, |n| n.get()),
        None => cli.load.threads.max(1),
    };
    let rt = match threads {
        1 => tokio::runtime::Builder::new_current_thread().enable_all().build(),
        n => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(n)
            .enable_all()
            .build(),
    };
    let rt = match rt {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("walletd-bench: runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let outcome = rt.block_on(async move {
        match cli.command {
            Some(Command::GenWal(args)) => bench::genwal::gen_wal(args).await.map(|()| true),
            None => load(cli.load).await,
        }
    });
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("walletd-bench: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Set-up, load, report, check. `Ok(false)`: a check failed.
async fn load(args: LoadArgs) -> anyhow::Result<bool> {
    let Some(password) = args.password.clone() else {
        bail!("no password: pass --password or set WALLETD_ADMIN_PASSWORD");
    };
    if args.mode == Mode::Batch && !(1..=10_000).contains(&args.batch_size) {
        bail!("--batch-size must be 1 to 10000");
    }
    let plan = Plan::new(&args.workload)?;
    let target = Target::new(&args.url, args.client, args.connections)?;
    let mut conn = target.conn();
    let health = conn
        .send(hyper::Method::GET, "/health", None, false)
        .await
        .with_context(|| format!("{}/health", args.url))?;
    if health.status != 200 {
        bail!(
            "{}/health answers {}: {}",
            args.url,
            health.status,
            String::from_utf8_lossy(&health.body)
        );
    }
    let ttl = login(&mut conn, &target, &args.username, &password).await?;
    // Tokens expire: log in again at half their lifetime.
    let refresher = {
        let (target, username, password) = (target.clone(), args.username.clone(), password.clone());
        tokio::spawn(async move {
            let mut conn = target.conn();
            loop {
                tokio::time::sleep(Duration::from_secs((ttl / 2).max(30))).await;
                if let Err(e) = login(&mut conn, &target, &username, &password).await {
                    eprintln!("walletd-bench: token refresh failed: {e:#}");
                }
            }
        })
    };
    let progress = !args.quiet;
    if progress {
        eprintln!(
            "walletd-bench: setting up 1 client, 1 service and {} funded wallets ...",
            args.workload.wallets
        );
    }
    let world = setup(
        &target,
        &mut conn,
        SetupArgs {
            wallets: args.workload.wallets,
            fund: args.workload.fund,
            amount: args.workload.amount,
            in_flight: args.setup_in_flight,
            progress,
        },
    )
    .await
    .context("set-up")?;
    if args.mode == Mode::Batch && !world.batch_endpoint {
        bail!("--mode batch: the server has no POST /api/v1/transactions/batch");
    }
    let legs_before = leg_count(&mut conn, &world.client_code).await?;
    let world = Arc::new(world);
    let cfg = RunConfig {
        mode: args.mode,
        batch_size: args.batch_size,
        atomic: args.atomic,
        connections: args.connections,
        duration: args.duration,
        count: args.count,
        progress,
    };
    let cpu0 = bench::cpu_seconds();
    let result = bench::run::run(&target, world.clone(), plan, &cfg).await;
    let cpu = cpu0.zip(bench::cpu_seconds()).map(|(a, b)| b - a);
    let check = if args.skip_check {
        None
    } else {
        Some(
            bench::check::check(&mut conn, &world, legs_before, &result.stats)
                .await
                .context("conservation check")?,
        )
    };
    refresher.abort();
    let config = json!({
        "url": args.url,
        "mode": match args.mode { Mode::Single => "single", Mode::Batch => "batch" },
        "batch_size": args.batch_size,
        "atomic": args.atomic,
        "connections": args.connections,
        "duration_secs": args.duration.as_secs_f64(),
        "count": args.count,
        "workload": format!("{:?}", args.workload.workload).to_lowercase(),
        "zipf_s": args.workload.zipf_s,
        "mix": args.workload.mix.to_string(),
        "amount": args.workload.amount.to_string(),
        "wallets": args.workload.wallets,
        "fund": args.workload.fund.to_string(),
        "seed": args.workload.seed,
        "client": format!("{:?}", args.client).to_lowercase(),
        "threads": args.threads,
        "client_code": world.client_code,
        "funded_by_batch": world.batch_endpoint,
    });
    let summary = bench::report::Summary {
        config,
        setup_secs: world.setup_secs,
        result: &result,
        check: check.as_ref(),
        client_cpu_secs: cpu,
    };
    if args.json {
        println!("{}", summary.json());
    } else {
        summary.print();
    }
    Ok(check.as_ref().is_none_or(|c| c.ok()))
}
