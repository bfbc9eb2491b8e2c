//! Simulated power cuts at random points, over many seeds: every record whose `durable` ran
//! before the cut is recovered exactly once, in order, with nothing after a missing one; and
//! the log keeps going across repeated crash and recovery cycles.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use common::{Entry, Journal, Outcome, Replayed, payload, recover_all, start_writer};
use rand::{Rng, SeedableRng, rngs::StdRng};
use walletd_wal::{Recovered, SimStorage, WalConfig, WalWriter};

/// Appends `n` entries: one at a time, or in bursts of non-blocking appends.
fn append_some(writer: &WalWriter<Entry>, rng: &mut StdRng, next_id: &mut u64, n: u64, max: usize) {
    let sequential = rng.random_bool(0.4);
    let mut left = n;
    while left > 0 {
        let burst = if sequential {
            1
        } else {
            rng.random_range(1..=10).min(left)
        };
        let mut rxs = Vec::new();
        for _ in 0..burst {
            let (entry, rx) = Entry::with_ack(payload(rng, *next_id, max));
            *next_id += 1;
            writer.append(entry).ok().expect("no fault injected");
            rxs.push(rx);
        }
        for rx in rxs {
            assert!(matches!(rx.recv().unwrap(), Outcome::Durable(..)));
        }
        left -= burst;
    }
}

/// Checks a recovered log against what came before the crash.
fn check(seed: u64, replayed: &[Replayed], previous: &[Replayed], journal: &Journal, acked_only_before_freeze: bool) {
    // Whatever an earlier recovery found was durable (recovery and the writer's start sync it).
    assert!(replayed.len() >= previous.len(), "seed {seed}: lost recovered records");
    assert_eq!(&replayed[..previous.len()], previous, "seed {seed}");
    // Anything newer is a record this round encoded, under the seq it was given.
    for r in &replayed[previous.len()..] {
        assert_eq!(
            journal.encoded.get(&r.seq),
            Some(&r.payload),
            "seed {seed}: seq {}",
            r.seq
        );
    }
    // Every acknowledged record is there, at its location.
    for a in journal
        .durable
        .iter()
        .filter(|a| a.before_freeze || !acked_only_before_freeze)
    {
        let r = replayed.get(a.seq as usize - 1).unwrap_or_else(|| {
            panic!(
                "seed {seed}: acknowledged seq {} lost ({} recovered)",
                a.seq,
                replayed.len()
            )
        });
        assert_eq!((r.seq, r.loc, &r.payload), (a.seq, a.loc, &a.payload), "seed {seed}");
    }
}

/// Three rounds of: writer on the (crashed) storage, appends, a power cut at a random
/// storage operation, recovery.
fn crash_rounds(seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    let config = WalConfig::new("/wal").with_segment_bytes(rng.random_range(96..3000));
    let max_payload = rng.random_range(1..600);
    let mut storage = SimStorage::new();
    let mut recovered = Recovered::default();
    let mut previous: Vec<Replayed> = Vec::new();
    let mut next_id = 0;
    for _round in 0..3 {
        let n = rng.random_range(5..40);
        storage.freeze_after_ops(rng.random_range(0..n * 3 + 8));
        let (writer, journal) = start_writer(Arc::new(storage.clone()), &config, &recovered, Some(storage.clone()));
        append_some(&writer, &mut rng, &mut next_id, n, max_payload);
        writer.shutdown();
        // Not reached: the cut comes after a clean shutdown.
        let image = storage.frozen().unwrap_or_else(|| storage.fork());
        let crashed = image.crash(rng.random());
        let (r, replayed) = recover_all(Arc::new(crashed.clone()), &config, 1)
            .unwrap_or_else(|e| panic!("seed {seed}: recovery failed: {e}"));
        assert_eq!(r.next_seq, replayed.len() as u64 + 1, "seed {seed}");
        check(seed, &replayed, &previous, &journal.lock().unwrap(), true);
        previous = replayed;
        recovered = r;
        storage = crashed;
    }
    // A last clean recovery sees the same log again.
    let (_, replayed) = recover_all(Arc::new(storage), &config, 1).unwrap();
    assert_eq!(replayed, previous, "seed {seed}");
}

#[test]
fn power_cut_at_random_operations_over_many_seeds() {
    let base: u64 = std::env::var("WAL_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let seeds = if base == 0 { 0..300 } else { base..base + 1 };
    for seed in seeds {
        eprintln!("seed={seed}");
        crash_rounds(seed);
    }
}

#[test]
fn power_cut_while_the_writer_runs() {
    for seed in 0..25u64 {
        eprintln!("seed={seed}");
        let mut rng = StdRng::seed_from_u64(seed);
        let sim = SimStorage::new();
        sim.set_sync_delay(Duration::from_micros(100));
        let config = WalConfig::new("/wal").with_segment_bytes(rng.random_range(200..2000));
        let (writer, journal) = start_writer(Arc::new(sim.clone()), &config, &Recovered::default(), None);
        let writer = Arc::new(writer);
        let stop = Arc::new(AtomicBool::new(false));
        let producers: Vec<_> = (0..3u64)
            .map(|t| {
                let (writer, stop) = (writer.clone(), stop.clone());
                thread::spawn(move || {
                    let mut rng = StdRng::seed_from_u64(seed * 10 + t);
                    let mut id = t << 32;
                    while !stop.load(Ordering::Relaxed) {
                        append_some(&writer, &mut rng, &mut id, 3, 300);
                    }
                })
            })
            .collect();
        thread::sleep(Duration::from_micros(rng.random_range(0..4000)));
        // Acknowledged before the cut, hence durable in it.
        let acked = journal.lock().unwrap().durable.len();
        let crashed = sim.crash(seed);
        stop.store(true, Ordering::Relaxed);
        for p in producers {
            p.join().unwrap();
        }
        writer.shutdown();
        let (_, replayed) =
            recover_all(Arc::new(crashed), &config, 1).unwrap_or_else(|e| panic!("seed {seed}: recovery failed: {e}"));
        let mut journal = journal.lock().unwrap();
        journal.durable.truncate(acked);
        check(seed, &replayed, &[], &journal, false);
    }
}
