//! Group commit: many threads appending at once, each waiting for its record to be durable,
//! share fsyncs; every record is durable exactly once, in a valid order.

mod common;

use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use common::{Outcome, append_and_wait, recover_all, start_writer};
use walletd_wal::{Recovered, SimStorage, WalConfig};

const THREADS: u64 = 8;
const PER_THREAD: u64 = 60;

#[test]
fn concurrent_appenders_share_fsyncs() {
    let sim = SimStorage::new();
    // Each fsync takes a while, as on a disk: entries arriving meanwhile form the next batch.
    sim.set_sync_delay(Duration::from_millis(1));
    let config = WalConfig::new("/wal").with_segment_bytes(8 << 10);
    let (writer, journal) = start_writer(Arc::new(sim.clone()), &config, &Recovered::default(), None);
    let writer = Arc::new(writer);
    let barrier = Arc::new(Barrier::new(THREADS as usize));
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let writer = writer.clone();
            let barrier = barrier.clone();
            thread::spawn(move || {
                barrier.wait();
                let mut seqs = Vec::new();
                for i in 0..PER_THREAD {
                    let payload = format!("thread {t} record {i}").into_bytes();
                    match append_and_wait(&writer, payload) {
                        Outcome::Durable(seq, _) => seqs.push(seq),
                        other => panic!("{other:?}"),
                    }
                }
                seqs
            })
        })
        .collect();
    let per_thread: Vec<Vec<u64>> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    writer.shutdown();

    // Each thread waited for each record, so its records are in its own order.
    for seqs in &per_thread {
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    }
    let all: BTreeSet<u64> = per_thread.iter().flatten().copied().collect();
    let total = THREADS * PER_THREAD;
    assert_eq!(all, (1..=total).collect::<BTreeSet<u64>>(), "every seq exactly once");

    let journal = journal.lock().unwrap();
    let stats = writer.stats();
    assert_eq!(stats.records.load(Ordering::Relaxed), total);
    assert_eq!(journal.batches.len() as u64, stats.batches.load(Ordering::Relaxed));
    assert_eq!(journal.batches.iter().sum::<usize>() as u64, total);
    let ratio = stats.records_per_fsync();
    eprintln!("records per fsync: {ratio:.2} over {} batches", journal.batches.len());
    assert!(ratio > 1.0, "group commit must batch: {ratio}");
    assert!(journal.batches.iter().any(|&b| b >= 2));

    // Durable callbacks came in log order, and the log holds exactly them.
    let seqs: Vec<u64> = journal.durable.iter().map(|a| a.seq).collect();
    assert_eq!(seqs, (1..=total).collect::<Vec<_>>());
    let (r, replayed) = recover_all(Arc::new(sim), &config, 1).unwrap();
    assert_eq!(r.next_seq, total + 1);
    assert!(r.last_segment > 1, "rotated under concurrency");
    for (got, acked) in replayed.iter().zip(&journal.durable) {
        assert_eq!((got.seq, got.loc, &got.payload), (acked.seq, acked.loc, &acked.payload));
    }
    assert_eq!(replayed.len() as u64, total);
}

#[test]
fn batches_respect_max_batch_bytes() {
    let sim = SimStorage::new();
    sim.set_sync_delay(Duration::from_millis(1));
    let config = WalConfig::new("/wal").with_max_batch_bytes(1000);
    let (writer, journal) = start_writer(Arc::new(sim.clone()), &config, &Recovered::default(), None);
    // 200 records of 116 bytes queued at once: at most ceil(1000 / 116) = 9 per batch.
    let rxs: Vec<_> = (0..200)
        .map(|i| {
            let (entry, rx) = common::Entry::with_ack(vec![i as u8; 100]);
            writer.append(entry).ok().unwrap();
            rx
        })
        .collect();
    for rx in rxs {
        assert!(matches!(rx.recv().unwrap(), Outcome::Durable(..)));
    }
    writer.shutdown();
    let journal = journal.lock().unwrap();
    assert!(journal.batches.iter().all(|&b| b <= 9), "{:?}", journal.batches);
    assert!(journal.batches.iter().any(|&b| b > 1), "{:?}", journal.batches);
    assert_eq!(recover_all(Arc::new(sim), &config, 1).unwrap().0.next_seq, 201);
}
