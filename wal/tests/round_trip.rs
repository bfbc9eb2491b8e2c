//! Round trip: records of many sizes over many segments come back with the same seq, location
//! and payload from recovery and from the reader, on the simulated and the real file system.

mod common;

use std::sync::Arc;

use common::{Entry, Outcome, append_and_wait, payload, recover_all, start_writer};
use rand::{Rng, SeedableRng, rngs::StdRng};
use walletd_wal::{FsStorage, Recovered, SimStorage, Storage, WalConfig, WalReader};

/// Appends `n` records (bursts of non-blocking appends, then a wait), shuts down, and checks
/// recovery and random reads against what the writer acknowledged.
fn round_trip(storage: Arc<dyn Storage>, config: &WalConfig, n: u64, seed: u64) {
    eprintln!("seed={seed}");
    let mut rng = StdRng::seed_from_u64(seed);
    let (writer, journal) = start_writer(storage.clone(), config, &Recovered::default(), None);
    let mut id = 0;
    while id < n {
        let burst = rng.random_range(1..=8).min(n - id);
        let mut rxs = Vec::new();
        for _ in 0..burst {
            let (entry, rx) = Entry::with_ack(payload(&mut rng, id, 1500));
            writer.append(entry).ok().expect("writer accepts");
            rxs.push(rx);
            id += 1;
        }
        for rx in rxs {
            assert!(matches!(rx.recv().unwrap(), Outcome::Durable(..)));
        }
    }
    // A record larger than a segment gets a segment of its own.
    let big = vec![0xB5; config.segment_bytes as usize * 2];
    assert!(matches!(append_and_wait(&writer, big.clone()), Outcome::Durable(..)));
    writer.shutdown();

    let journal = journal.lock().unwrap();
    assert_eq!(journal.durable.len() as u64, n + 1);
    assert!(journal.failed.is_empty());
    let (recovered, replayed) = recover_all(storage.clone(), config, 1).unwrap();
    assert_eq!(recovered.next_seq, n + 2);
    assert_eq!(recovered.truncated_bytes, 0);
    assert!(recovered.last_segment >= 3, "several segments: {recovered:?}");
    assert_eq!(replayed.len(), journal.durable.len());
    let reader = WalReader::new(storage, config.clone());
    for (i, (got, acked)) in replayed.iter().zip(&journal.durable).enumerate() {
        assert_eq!(got.seq, i as u64 + 1);
        assert_eq!((got.seq, got.loc), (acked.seq, acked.loc));
        assert_eq!(got.payload, acked.payload, "seq {}", got.seq);
        assert_eq!(reader.read(acked.loc).unwrap(), (acked.seq, acked.payload.clone()));
    }
    assert_eq!(replayed.last().unwrap().payload, big);
}

#[test]
fn round_trip_in_simulated_storage() {
    for seed in 0..4 {
        let sim = SimStorage::new();
        let config = WalConfig::new("/wal").with_segment_bytes(4096);
        round_trip(Arc::new(sim.clone()), &config, 300, seed);
        // After a clean shutdown everything is durable: any crash recovers the same log.
        let before = recover_all(Arc::new(sim.clone()), &config, 1).unwrap().1;
        let after = recover_all(Arc::new(sim.crash(seed)), &config, 1).unwrap().1;
        assert_eq!(before, after);
    }
}

#[test]
fn round_trip_on_the_real_file_system() {
    let dir = tempfile::tempdir().unwrap();
    let config = WalConfig::new(dir.path().join("wal")).with_segment_bytes(16 << 10);
    round_trip(Arc::new(FsStorage), &config, 200, 42);

    // Reopen, continue, and read everything back again.
    let storage: Arc<dyn Storage> = Arc::new(FsStorage);
    let (recovered, before) = recover_all(storage.clone(), &config, 1).unwrap();
    let (writer, _) = start_writer(storage.clone(), &config, &recovered, None);
    for i in 0..20 {
        match append_and_wait(&writer, format!("more {i}").into_bytes()) {
            Outcome::Durable(seq, _) => assert_eq!(seq, recovered.next_seq + i),
            other => panic!("{other:?}"),
        }
    }
    drop(writer);
    let (r, after) = recover_all(storage, &config, 1).unwrap();
    assert_eq!(r.next_seq, recovered.next_seq + 20);
    assert_eq!(&after[..before.len()], &before[..]);
    assert_eq!(after.last().unwrap().payload, b"more 19");
}

#[test]
fn segment_files_are_named_and_numbered_consecutively() {
    let sim = SimStorage::new();
    let config = WalConfig::new("/wal").with_segment_bytes(256);
    round_trip(Arc::new(sim.clone()), &config, 40, 7);
    let names = sim.list(&config.dir).unwrap();
    assert!(names.len() >= 3);
    for (i, name) in names.iter().enumerate() {
        assert_eq!(name, &format!("wal-{:010}.log", i + 1));
    }
}
