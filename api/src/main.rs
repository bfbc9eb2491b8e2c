//! The `walletd` server binary. Start-up order matters and is:
//! 1. create the data directory and take its exclusive lock (`walletd.lock`), so two
//!    processes never write the same WAL;
//! 2. load or create the JWT secret;
//! 3. bind the listener and log `listening on <ip:port>` (the real port: `--listen
//!    127.0.0.1:0` works), then serve at once: until recovery finishes, `/health` answers 503
//!    `{"status":"recovering"}` and every other route 503;
//! 4. recover the ledger (snapshot + WAL replay) and log what recovery did; a corrupt WAL
//!    stops start-up with a non-zero exit and the error (file and offset) on stderr;
//! 5. create the `admin` user on an empty ledger, then hand the ledger to the routes.
//!
//! SIGTERM or Ctrl-C stops accepting connections, lets in-flight requests finish, then shuts
//! the ledger down (which makes everything queued in the WAL durable).

use anyhow::Context;
use axum::serve::ListenerExt;
use clap::{Args, Parser, Subcommand};
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;
use tokio::sync::watch;
use tracing::{error, info, warn};
use tracing_subscriber::EnvFilter;
use walletd_api::{ApiConfig, AppState, app};
use walletd_engine::{Ledger, LedgerConfig, RecoveryReport, SnapshotPolicy};

// glibc's malloc spent a quarter of the engine's time under load (contention across the
// runtime's threads); mimalloc cut it to a few percent (see BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser, Debug)]
#[command(name = "walletd", version, about = "walletd: a wallet ledger with a REST API")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the server (the default).
    Serve,
    /// Operator command, with walletd stopped: move WAL segments that the newest snapshot fully
    /// covers into `<data-dir>/wal/archive/` (still read for statements; nothing is deleted).
    ArchiveWal,
}

#[derive(Args, Debug, Clone)]
struct ServeArgs {
    /// Address and port to listen on (port 0 picks a free one; the log says which).
    #[arg(
        long,
        global = true,
        env = "WALLETD_LISTEN",
        default_value = "127.0.0.1:8080",
        value_name = "ADDR:PORT"
    )]
    listen: SocketAddr,
    /// Directory holding the WAL, snapshots, the JWT secret and the lock file.
    #[arg(
        long,
        global = true,
        env = "WALLETD_DATA_DIR",
        default_value = "./data",
        value_name = "DIR"
    )]
    data_dir: PathBuf,
    /// Take a snapshot after this many WAL records (0: never by count).
    #[arg(long, global = true, default_value_t = 1_000_000, value_name = "N")]
    snapshot_every_records: u64,
    /// Take a snapshot after this many seconds with new records (0: never by time).
    #[arg(long, global = true, default_value_t = 300, value_name = "S")]
    snapshot_every_secs: u64,
    /// Transfer coordinator actors, by default one per core (postings are spread over them;
    /// each gathers the single postings that arrive together into one unit). 1 to 256.
    #[arg(
        long,
        global = true,
        env = "WALLETD_COORDINATORS",
        default_value_t = u16::try_from(walletd_engine::default_coordinators()).unwrap_or(8),
        value_parser = clap::value_parser!(u16).range(1..=256),
        value_name = "N"
    )]
    coordinators: u16,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let args = cli.serve;
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        // Colours only for a person at a terminal: log files and tests read plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => return fatal(&format!("cannot start the async runtime: {e}")),
    };
    if let Some(Command::ArchiveWal) = cli.command {
        return match archive(&args.data_dir) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fatal(&format!("{e:#}")),
        };
    }
    match runtime.block_on(serve(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fatal(&format!("{e:#}")),
    }
}

/// `walletd archive-wal`: under the data directory's lock, so never while a server runs.
fn archive(dir: &Path) -> anyhow::Result<()> {
    let _lock = lock_data_dir(dir)?;
    let moved =
        walletd_engine::archive_wal(&LedgerConfig::new(dir)).map_err(|e| anyhow::anyhow!("archive failed: {e}"))?;
    for path in &moved {
        info!("archived {}", path.display());
    }
    info!("{} segment(s) archived", moved.len());
    Ok(())
}

/// Logs the reason and also prints it plainly, so it reaches stderr even with logging off.
fn fatal(message: &str) -> ExitCode {
    error!("{message}");
    eprintln!("walletd: {message}");
    ExitCode::FAILURE
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let dir = &args.data_dir;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create data directory {}", dir.display()))?;
    // Held until the process exits: the OS releases the lock even after a crash.
    let _lock = lock_data_dir(dir)?;
    let secret = jwt_secret(dir)?;

    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let bound = listener.local_addr().context("cannot read the bound address")?;
    info!("listening on {bound}");
    // Answers are small single writes that a client waits for: never hold one back for Nagle.
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!("cannot set TCP_NODELAY: {e}");
        }
    });

    let state = AppState::recovering(ApiConfig::new(secret));
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = stop_tx.send(true);
    });
    let mut server_stop = stop_rx.clone();
    let server = tokio::spawn(
        axum::serve(
            listener,
            app(state.clone()).into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            let _ = server_stop.wait_for(|stop| *stop).await;
        })
        .into_future(),
    );

    let mut config = LedgerConfig::new(dir.clone());
    config.coordinators = usize::from(args.coordinators);
    config.snapshot = SnapshotPolicy {
        every_records: args.snapshot_every_records,
        every: (args.snapshot_every_secs > 0).then(|| Duration::from_secs(args.snapshot_every_secs)),
    };
    info!(data_dir = %dir.display(), "recovering the ledger");
    // Recovery reads and replays files synchronously: run it on a blocking thread (inside the
    // runtime's context, which the engine's actors need) so that the async workers stay free
    // to answer 503 meanwhile, even on a single core.
    let handle = tokio::runtime::Handle::current();
    let (ledger, report) = tokio::task::spawn_blocking(move || handle.block_on(Ledger::open(config)))
        .await
        .map_err(|e| anyhow::anyhow!("recovery failed: {e}"))?
        .map_err(|e| anyhow::anyhow!("recovery failed: {e}"))?;
    log_recovery(&report);
    if *stop_rx.borrow() {
        // Asked to stop while recovering: nothing was served, just close the ledger cleanly.
        stop_ledger(ledger).await;
        info!("stopped");
        return Ok(());
    }

    let admin_password = std::env::var("WALLETD_ADMIN_PASSWORD").ok().filter(|p| !p.is_empty());
    match ledger.bootstrap_admin(admin_password).await {
        Ok(Some(generated)) => {
            warn!(
                "created user admin with the generated password {generated} (shown only once; set WALLETD_ADMIN_PASSWORD to choose it)"
            )
        }
        Ok(None) => {}
        Err(e) => {
            stop_ledger(ledger).await;
            anyhow::bail!("cannot create the admin user: {e}");
        }
    }
    state.set_ledger(ledger.clone());
    info!("ready");
    tokio::spawn(log_group_commit(ledger.clone()));

    let served = server.await;
    stop_ledger(ledger).await;
    match served {
        Ok(Ok(())) => {
            info!("stopped");
            Ok(())
        }
        Ok(Err(e)) => Err(anyhow::anyhow!("server error: {e}")),
        Err(e) => Err(anyhow::anyhow!("server task failed: {e}")),
    }
}

/// Group commit at work: every minute with new records, how many records each fsync carried.
async fn log_group_commit(ledger: Ledger) {
    let mut last = ledger.wal_stats();
    let mut every = tokio::time::interval(Duration::from_secs(60));
    every.tick().await;
    loop {
        every.tick().await;
        let now = ledger.wal_stats();
        let (records, fsyncs) = (now.0 - last.0, now.1 - last.1);
        if records > 0 {
            info!(
                records,
                fsyncs,
                "wal: {:.1} records per fsync over the last minute",
                records as f64 / fsyncs.max(1) as f64
            );
        }
        last = now;
    }
}

/// Flushes the WAL and stops the actors; blocking work, so off the async threads.
async fn stop_ledger(ledger: Ledger) {
    if let Err(e) = tokio::task::spawn_blocking(move || ledger.shutdown()).await {
        error!("ledger shutdown failed: {e}");
    }
}

fn log_recovery(r: &RecoveryReport) {
    match (&r.snapshot_seq, &r.snapshot_path) {
        (Some(seq), Some(path)) => info!("recovery: snapshot at seq {seq} from {}", path.display()),
        (Some(seq), None) => info!("recovery: snapshot at seq {seq}"),
        _ => info!("recovery: no snapshot used"),
    }
    for (path, reason) in &r.skipped_snapshots {
        warn!("recovery: skipped snapshot {}: {reason}", path.display());
    }
    info!(
        "recovery: {} records replayed, last seq {}, {} accounts",
        r.records_replayed, r.last_seq, r.accounts
    );
    if r.truncated_bytes > 0 {
        warn!(
            "recovery: truncated {} bytes of a torn record at the WAL's tail",
            r.truncated_bytes
        );
    } else {
        info!("recovery: truncated 0 bytes");
    }
    info!("recovery took {} ms", r.elapsed.as_millis());
}

/// Takes the exclusive lock on `<dir>/walletd.lock`, or explains who holds it.
fn lock_data_dir(dir: &Path) -> anyhow::Result<File> {
    let path = dir.join("walletd.lock");
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => {
            anyhow::bail!("another walletd is already using data directory {}", dir.display())
        }
        Err(std::fs::TryLockError::Error(e)) => Err(e).with_context(|| format!("cannot lock {}", path.display())),
    }
}

/// `WALLETD_JWT_SECRET`, else `<dir>/jwt-secret`: 32 random bytes in hex, created on first
/// start with mode 0600 (written to a temporary file and renamed, so a crash never leaves a
/// half-written secret) and reused afterwards.
fn jwt_secret(dir: &Path) -> anyhow::Result<Vec<u8>> {
    if let Some(s) = std::env::var("WALLETD_JWT_SECRET").ok().filter(|s| !s.is_empty()) {
        return Ok(s.into_bytes());
    }
    let path = dir.join("jwt-secret");
    if path.exists() {
        let mut text = String::new();
        File::open(&path)
            .and_then(|mut f| f.read_to_string(&mut text))
            .with_context(|| format!("cannot read {}", path.display()))?;
        let text = text.trim();
        anyhow::ensure!(
            text.len() >= 32,
            "{} is too short to be a secret; remove it to generate a new one",
            path.display()
        );
        return Ok(text.as_bytes().to_vec());
    }
    let bytes: [u8; 32] = rand::random();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let tmp = dir.join("jwt-secret.tmp");
    let mut file = OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("cannot create {}", tmp.display()))?;
    file.write_all(hex.as_bytes())
        .and_then(|_| file.sync_all())
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, &path).with_context(|| format!("cannot create {}", path.display()))?;
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    info!("created JWT secret {}", path.display());
    Ok(hex.into_bytes())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => info!("Ctrl-C: shutting down"),
        _ = term => info!("SIGTERM: shutting down"),
    }
}
