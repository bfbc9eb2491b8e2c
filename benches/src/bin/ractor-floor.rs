//! The floor under walletd's posting path: what one ractor message to a wallet actor costs on
//! this machine, with no ledger work at all. `cargo run --release -p walletd-benches --bin
//! ractor-floor -- [actors] [in_flight] [seconds]` keeps `in_flight` round trips going, each a
//! cast to a random one of `actors` actors and a cast back to a collector actor, the pattern of
//! a Prepare (or Commit) and its answer. It prints round trips per second and CPU per round trip.
//! A transfer makes four such round trips (two legs, two phases), so this bounds postings/s.

use ractor::{Actor, ActorProcessingErr, ActorRef};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use walletd_benches::SplitMix64;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A wallet stand-in: keeps a balance and answers every message.
struct Wallet;

struct Ping {
    token: u32,
    delta: i64,
    reply: ActorRef<Pong>,
}

struct Pong {
    token: u32,
}

impl Actor for Wallet {
    type Msg = Ping;
    type State = i64;
    type Arguments = ();

    async fn pre_start(&self, _: ActorRef<Ping>, _: ()) -> Result<i64, ActorProcessingErr> {
        Ok(0)
    }

    async fn handle(&self, _: ActorRef<Ping>, msg: Ping, balance: &mut i64) -> Result<(), ActorProcessingErr> {
        *balance += msg.delta;
        let _ = msg.reply.cast(Pong { token: msg.token });
        Ok(())
    }
}

/// Answers come back here; each starts the next round trip of its token.
struct Collector {
    wallets: Arc<Vec<ActorRef<Ping>>>,
    done: Arc<AtomicU64>,
}

impl Actor for Collector {
    type Msg = Pong;
    type State = SplitMix64;
    type Arguments = ();

    async fn pre_start(&self, _: ActorRef<Pong>, _: ()) -> Result<SplitMix64, ActorProcessingErr> {
        Ok(SplitMix64::new(7))
    }

    async fn handle(&self, me: ActorRef<Pong>, msg: Pong, rng: &mut SplitMix64) -> Result<(), ActorProcessingErr> {
        self.done.fetch_add(1, Ordering::Relaxed);
        let to = &self.wallets[rng.below(self.wallets.len())];
        let _ = to.cast(Ping {
            token: msg.token,
            delta: 1,
            reply: me,
        });
        Ok(())
    }
}

fn cpu_seconds() -> f64 {
    // utime + stime of this process, in clock ticks (100 per second on Linux).
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after_name = stat.rsplit_once(')').map(|(_, s)| s).unwrap_or("");
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

fn main() {
    let args: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let actors = args.first().copied().unwrap_or(10_000).max(1);
    let in_flight = args.get(1).copied().unwrap_or(64).max(1);
    let seconds = args.get(2).copied().unwrap_or(5).max(1) as u64;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let mut wallets = Vec::with_capacity(actors);
        for _ in 0..actors {
            let (a, _) = Actor::spawn(None, Wallet, ()).await.expect("spawn wallet");
            wallets.push(a);
        }
        let wallets = Arc::new(wallets);
        let done = Arc::new(AtomicU64::new(0));
        // Several collectors, as walletd runs several coordinators.
        let mut collectors = Vec::new();
        for _ in 0..4 {
            let c = Collector {
                wallets: wallets.clone(),
                done: done.clone(),
            };
            collectors.push(Actor::spawn(None, c, ()).await.expect("spawn collector").0);
        }
        let mut rng = SplitMix64::new(1);
        for token in 0..in_flight {
            let c = collectors[token % collectors.len()].clone();
            let _ = wallets[rng.below(actors)].cast(Ping {
                token: token as u32,
                delta: 1,
                reply: c,
            });
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let (n0, c0, t0) = (done.load(Ordering::Relaxed), cpu_seconds(), Instant::now());
        tokio::time::sleep(Duration::from_secs(seconds)).await;
        let (n1, c1, secs) = (done.load(Ordering::Relaxed), cpu_seconds(), t0.elapsed().as_secs_f64());
        let trips = (n1 - n0) as f64;
        println!(
            "{actors} actors, {in_flight} in flight: {:.0} round trips/s, {:.2} us CPU per round trip \
             (two ractor messages); a transfer needs four",
            trips / secs,
            (c1 - c0) * 1e6 / trips.max(1.0)
        );
        std::process::exit(0);
    });
}
