//! Recovery from a snapshot's sequence number skips whole segments before it, and sealed
//! segments can be archived (moved, never deleted) while the writer runs, staying readable.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::{Acked, Journal, Outcome, append_and_wait, payload, recover_all, start_writer};
use rand::{SeedableRng, rngs::StdRng};
use walletd_wal::{FsStorage, Recovered, SimStorage, Storage, WalConfig, WalError, WalReader, archive_sealed};

/// A durable log of `n` records in small segments.
fn build(storage: Arc<dyn Storage>, config: &WalConfig, n: u64, seed: u64) -> Vec<Acked> {
    eprintln!("seed={seed}");
    let mut rng = StdRng::seed_from_u64(seed);
    let (writer, journal) = start_writer(storage, config, &Recovered::default(), None);
    for id in 0..n {
        assert!(matches!(
            append_and_wait(&writer, payload(&mut rng, id, 300)),
            Outcome::Durable(..)
        ));
    }
    writer.shutdown();
    let j = journal.lock().unwrap();
    j.durable.clone()
}

/// First seq of each segment, from where the records landed.
fn first_seqs(acked: &[Acked]) -> BTreeMap<u32, u64> {
    let mut firsts = BTreeMap::new();
    for a in acked {
        firsts.entry(a.loc.segment).or_insert(a.seq);
    }
    firsts
}

#[test]
fn from_seq_replays_exactly_the_records_from_it_and_skips_whole_segments() {
    let sim = SimStorage::new();
    let config = WalConfig::new("/wal").with_segment_bytes(1024);
    let acked = build(Arc::new(sim.clone()), &config, 200, 1);
    let firsts = first_seqs(&acked);
    assert!(firsts.len() > 10);
    let mut from_seqs: Vec<u64> = vec![1, 2, 100, 199, 200, 201];
    for &f in firsts.values() {
        from_seqs.extend([f - 1, f, f + 1]);
    }
    for from in from_seqs.into_iter().filter(|&f| f >= 1) {
        let (r, replayed) = recover_all(Arc::new(sim.clone()), &config, from).unwrap();
        let seqs: Vec<u64> = replayed.iter().map(|x| x.seq).collect();
        assert_eq!(seqs, (from..=200).collect::<Vec<_>>(), "from {from}");
        for x in &replayed {
            let a = &acked[x.seq as usize - 1];
            assert_eq!((x.loc, &x.payload), (a.loc, &a.payload));
        }
        // Skipped: segments whose successor starts at or before `from`.
        let starts: Vec<u64> = firsts.values().copied().collect();
        let skipped = starts.windows(2).filter(|w| w[1] <= from).count() as u32;
        assert_eq!(r.segments_skipped, skipped, "from {from}");
        let first_read = starts[skipped as usize];
        assert_eq!(r.records_checked, 201 - first_read, "from {from}");
        assert_eq!(r.records_applied, 201 - from);
        assert_eq!(r.next_seq, 201);
    }
}

#[test]
fn skipped_segments_are_not_read() {
    let sim = SimStorage::new();
    let config = WalConfig::new("/wal").with_segment_bytes(1024);
    let acked = build(Arc::new(sim.clone()), &config, 100, 2);
    let firsts = first_seqs(&acked);
    // Damage a record in the middle of segment 1.
    let victim = &acked[1];
    assert_eq!(victim.loc.segment, 1);
    sim.corrupt_byte(&config.segment_path(1), u64::from(victim.loc.offset) + 9)
        .unwrap();
    let second = firsts[&2];
    let third = firsts[&3];
    // Replaying from segment 3 never reads segment 1.
    let (r, _) = recover_all(Arc::new(sim.clone()), &config, third).unwrap();
    assert_eq!(r.segments_skipped, 2);
    // From segment 2's first seq, segment 1 is skipped too.
    assert!(recover_all(Arc::new(sim.clone()), &config, second).is_ok());
    // From seq 1 the damage is found.
    match recover_all(Arc::new(sim.clone()), &config, 1) {
        Err(WalError::Corruption { file, offset, .. }) => {
            assert_eq!((file, offset), (config.segment_path(1), u64::from(victim.loc.offset)));
        }
        other => panic!("expected corruption, got {other:?}"),
    }
}

/// Archives while a writer appends, then checks nothing was lost and all stays readable.
fn archive_while_writing(storage: Arc<dyn Storage>, config: &WalConfig) -> Vec<PathBuf> {
    let (writer, journal) = start_writer(storage.clone(), config, &Recovered::default(), None);
    let writer = Arc::new(writer);
    let stop = Arc::new(AtomicBool::new(false));
    let producer = {
        let (writer, stop) = (writer.clone(), stop.clone());
        thread::spawn(move || {
            let mut i = 0u32;
            while !stop.load(Ordering::Relaxed) {
                let p = format!("record {i} {}", "x".repeat(i as usize % 90)).into_bytes();
                assert!(matches!(append_and_wait(&writer, p), Outcome::Durable(..)));
                i += 1;
            }
        })
    };
    let mut moved_all = Vec::new();
    let mut moved_below: Vec<(PathBuf, u64)> = Vec::new();
    // Archive repeatedly while records keep coming, until enough were written.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let acked_now = journal.lock().unwrap().durable.len() as u64;
        let below = acked_now.saturating_sub(10).max(1);
        let moved = archive_sealed(storage.clone(), config, below).unwrap();
        moved_below.extend(moved.iter().map(|p| (p.clone(), below)));
        moved_all.extend(moved);
        if acked_now >= 150 && !moved_all.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "writer too slow");
        thread::sleep(Duration::from_millis(2));
    }
    stop.store(true, Ordering::Relaxed);
    producer.join().unwrap();
    writer.shutdown();
    assert!(!moved_all.is_empty(), "something was archived");
    check_archive(&storage, config, &journal, &moved_below);
    moved_all
}

fn check_archive(
    storage: &Arc<dyn Storage>,
    config: &WalConfig,
    journal: &Arc<Mutex<Journal>>,
    moved_below: &[(PathBuf, u64)],
) {
    let journal = journal.lock().unwrap();
    let total = journal.durable.len() as u64;
    // Only whole segments below the limit given at that time went to the archive.
    for (path, below) in moved_below {
        assert_eq!(path.parent().unwrap(), config.archive_dir());
        let name = path.file_name().unwrap().to_str().unwrap();
        let number: u32 = name[4..14].parse().unwrap();
        let seqs: Vec<u64> = journal
            .durable
            .iter()
            .filter(|a| a.loc.segment == number)
            .map(|a| a.seq)
            .collect();
        assert!(seqs.iter().all(|s| s < below), "{name}: {seqs:?} not all below {below}");
    }
    // The newest segment stayed; the log directory and archive together hold every segment.
    let in_dir = storage.list(&config.dir).unwrap();
    let archived = storage.list(&config.archive_dir()).unwrap();
    assert!(!in_dir.is_empty());
    assert_eq!(archived.len(), moved_below.len());
    let all: BTreeSet<&String> = in_dir.iter().chain(&archived).collect();
    assert_eq!(all.len(), in_dir.len() + archived.len());
    let newest = journal.durable.last().unwrap().loc.segment;
    assert!(in_dir.contains(&format!("wal-{newest:010}.log")));

    // Every record is still readable by location, and recovery still sees the whole log.
    let reader = WalReader::new(storage.clone(), config.clone());
    for a in &journal.durable {
        assert_eq!(reader.read(a.loc).unwrap(), (a.seq, a.payload.clone()));
    }
    let (r, replayed) = recover_all(storage.clone(), config, 1).unwrap();
    assert_eq!((r.next_seq, replayed.len() as u64), (total + 1, total));
    // From a recent seq, the archived segments are skipped.
    let (r, _) = recover_all(storage.clone(), config, total).unwrap();
    assert!(r.segments_skipped as usize >= archived.len());

    // The writer continues after a restart.
    let (r, _) = recover_all(storage.clone(), config, 1).unwrap();
    let (writer, _) = start_writer(storage.clone(), config, &r, None);
    assert!(matches!(append_and_wait(&writer, b"after archive".to_vec()), Outcome::Durable(s, _) if s == total + 1));
}

#[test]
fn archive_sealed_while_writing_simulated() {
    let sim = SimStorage::new();
    let config = WalConfig::new("/wal").with_segment_bytes(600);
    archive_while_writing(Arc::new(sim.clone()), &config);
    // The moves are durable: a crash keeps them.
    for seed in 0..5 {
        assert_eq!(sim.crash(seed).file_names(), sim.file_names());
    }
}

#[test]
fn archive_sealed_on_the_real_file_system() {
    let dir = tempfile::tempdir().unwrap();
    let config = WalConfig::new(dir.path().join("wal")).with_segment_bytes(600);
    let moved = archive_while_writing(Arc::new(FsStorage), &config);
    assert!(moved.iter().all(|p| p.exists()));
}

#[test]
fn archive_never_takes_the_newest_segment() {
    let sim = SimStorage::new();
    let config = WalConfig::new("/wal").with_segment_bytes(1024);
    build(Arc::new(sim.clone()), &config, 50, 3);
    let segments = sim.list(&config.dir).unwrap().len();
    let moved = archive_sealed(Arc::new(sim.clone()), &config, u64::MAX).unwrap();
    assert_eq!(moved.len(), segments - 1);
    assert_eq!(sim.list(&config.dir).unwrap().len(), 1);
    assert!(
        archive_sealed(Arc::new(sim.clone()), &config, u64::MAX)
            .unwrap()
            .is_empty()
    );
    // Nothing below seq 1 exists, so nothing is archived.
    let fresh = SimStorage::new();
    build(Arc::new(fresh.clone()), &config, 50, 3);
    assert!(archive_sealed(Arc::new(fresh), &config, 1).unwrap().is_empty());
}
