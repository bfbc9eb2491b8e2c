//! Fail-stop: the first failed write or sync stops the writer for good. The failed batch and
//! everything queued or appended later get `failed`, never `durable`; `append` refuses at
//! once; after a crash, recovery finds exactly the acknowledged records.

mod common;

use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use common::{Entry, Journal, Outcome, append_and_wait, recover_all, start_writer};
use walletd_wal::{Recovered, SimStorage, WalConfig, WalWriter};

enum Fault {
    Sync(u64),
    Write(u64),
}

/// Result of hammering a writer until it fails.
struct Run {
    sim: SimStorage,
    config: WalConfig,
    journal: Arc<Mutex<Journal>>,
    /// Payloads acknowledged durable, in seq order.
    durable: Vec<Vec<u8>>,
}

/// Three threads append 40 entries each without waiting while `fault` strikes.
fn run_until_failure(fault: Fault, segment_bytes: u64) -> Run {
    let sim = SimStorage::new();
    sim.set_sync_delay(Duration::from_micros(200));
    let config = WalConfig::new("/wal").with_segment_bytes(segment_bytes);
    let (writer, journal) = start_writer(Arc::new(sim.clone()), &config, &Recovered::default(), None);
    match fault {
        Fault::Sync(n) => sim.fail_sync_after(n),
        Fault::Write(n) => sim.fail_writes_after(n),
    }
    let writer = Arc::new(writer);
    let handles: Vec<_> = (0..3u8)
        .map(|t| {
            let writer = writer.clone();
            thread::spawn(move || {
                let mut waiting = Vec::new();
                let mut refused = 0;
                for i in 0..40u8 {
                    let (entry, rx) = Entry::with_ack(vec![t, i, 0xAB, 0xCD, 0xEF]);
                    match writer.append(entry) {
                        Ok(()) => waiting.push(rx),
                        Err(_) => refused += 1,
                    }
                    if i % 8 == 7 {
                        thread::sleep(Duration::from_micros(300));
                    }
                }
                let outcomes: Vec<Outcome> = waiting.iter().map(|rx| rx.recv().unwrap()).collect();
                (outcomes, refused)
            })
        })
        .collect();
    let mut durable_seqs = Vec::new();
    let (mut failed, mut refused) = (0, 0);
    for h in handles {
        let (outcomes, r) = h.join().unwrap();
        refused += r;
        for o in outcomes {
            match o {
                Outcome::Durable(seq, _) => durable_seqs.push(seq),
                Outcome::Failed(msg) => {
                    assert!(msg.contains("injected"), "{msg}");
                    failed += 1;
                }
            }
        }
    }
    // If the fault has not struck yet (few large batches), keep appending until it does.
    let mut extra = 0u8;
    while !writer.is_failed() {
        extra += 1;
        assert!(extra < 100, "the fault never struck");
        match append_and_wait(&writer, vec![9, extra, 0xAB, 0xCD, 0xEF]) {
            Outcome::Durable(seq, _) => durable_seqs.push(seq),
            Outcome::Failed(_) => failed += 1,
        }
    }
    assert_eq!(
        durable_seqs.len() + failed + refused,
        120 + usize::from(extra),
        "every entry has one outcome"
    );
    assert!(writer.is_failed());
    assert!(writer.failure().is_some());
    // Refused at once from now on.
    assert!(writer.append(Entry::new(b"late".to_vec())).is_err());
    assert!(failed >= 1, "the failed batch gets `failed`");

    durable_seqs.sort_unstable();
    let d = durable_seqs.len() as u64;
    assert_eq!(
        durable_seqs,
        (1..=d).collect::<Vec<_>>(),
        "durable records are a prefix"
    );
    assert_eq!(writer.stats().records.load(Ordering::Relaxed), d);

    let j = journal.lock().unwrap();
    let durable: Vec<Vec<u8>> = j.durable.iter().map(|a| a.payload.clone()).collect();
    let failed_payloads: BTreeSet<&Vec<u8>> = j.failed.iter().map(|(p, _)| p).collect();
    assert!(durable.iter().all(|p| !failed_payloads.contains(p)), "never both");
    // Every entry of the failed batch (encoded, never acknowledged) was reported failed.
    for (seq, payload) in &j.encoded {
        if *seq > d {
            assert!(
                failed_payloads.contains(payload),
                "seq {seq} was neither durable nor failed"
            );
        }
    }
    drop(j);
    writer.shutdown();
    Run {
        sim,
        config,
        journal,
        durable,
    }
}

/// After a crash, recovery finds exactly what was acknowledged, and a new writer continues.
fn check_crash_recovery(run: &Run) {
    let d = run.durable.len() as u64;
    for seed in 0..16 {
        let crashed = run.sim.crash(seed);
        let (r, replayed) =
            recover_all(Arc::new(crashed.clone()), &run.config, 1).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        let got: Vec<Vec<u8>> = replayed.into_iter().map(|r| r.payload).collect();
        assert_eq!(got, run.durable, "seed {seed}");
        assert_eq!(r.next_seq, d + 1);

        let (writer, _) = start_writer(Arc::new(crashed.clone()), &run.config, &r, None);
        assert!(matches!(append_and_wait(&writer, b"again".to_vec()), Outcome::Durable(s, _) if s == d + 1));
        drop(writer);
        let (_, replayed) = recover_all(Arc::new(crashed), &run.config, 1).unwrap();
        assert_eq!(replayed.len() as u64, d + 1);
    }
    assert_eq!(run.journal.lock().unwrap().durable.len() as u64, d);
}

#[test]
fn failed_sync_stops_the_log() {
    for n in [0, 1, 2, 5, 9] {
        eprintln!("fail_sync_after({n})");
        let run = run_until_failure(Fault::Sync(n), 1 << 20);
        check_crash_recovery(&run);
    }
}

#[test]
fn failed_write_stops_the_log() {
    for n in [0, 1, 4] {
        eprintln!("fail_writes_after({n})");
        let run = run_until_failure(Fault::Write(n), 1 << 20);
        check_crash_recovery(&run);
    }
}

#[test]
fn failure_while_rotating_segments() {
    // 64-byte segments hold one record each, so the writer rotates all the time and faults
    // hit header writes, file syncs and directory syncs of new segments too.
    for n in 0..14 {
        eprintln!("fail_sync_after({n}) with rotation");
        let run = run_until_failure(Fault::Sync(n), 64);
        check_crash_recovery(&run);
    }
    for n in 0..6 {
        eprintln!("fail_writes_after({n}) with rotation");
        let run = run_until_failure(Fault::Write(n), 64);
        check_crash_recovery(&run);
    }
}

#[test]
fn sequential_appends_fail_exactly_at_the_fault() {
    let sim = SimStorage::new();
    let config = WalConfig::new("/wal");
    let (writer, journal): (WalWriter<Entry>, _) =
        start_writer(Arc::new(sim.clone()), &config, &Recovered::default(), None);
    sim.fail_sync_after(3);
    let outcomes: Vec<Outcome> = (0..6).map(|i| append_and_wait(&writer, vec![i])).collect();
    assert!(matches!(outcomes[2], Outcome::Durable(3, _)));
    assert!(matches!(&outcomes[3], Outcome::Failed(m) if m.contains("EIO")));
    assert!(matches!(&outcomes[4], Outcome::Failed(m) if m == "append refused"));
    assert_eq!(journal.lock().unwrap().durable.len(), 3);
    assert_eq!(journal.lock().unwrap().failed.len(), 1);
    for seed in 0..8 {
        let (r, _) = recover_all(Arc::new(sim.crash(seed)), &config, 1).unwrap();
        assert_eq!(r.next_seq, 4, "seed {seed}");
    }
}
