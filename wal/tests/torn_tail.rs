//! Torn tails: whatever a crash leaves after the last complete record (a prefix of a frame, a
//! zero-filled or garbage tail) is cut, the prefix is recovered exactly, and the log goes on.

mod common;

use std::sync::Arc;

use common::{Outcome, Replayed, append_and_wait, recover_all, start_writer};
use rand::{Rng, SeedableRng, rngs::StdRng};
use walletd_wal::{RecordLoc, Recovered, SimStorage, Storage, WalConfig};

/// A durable log of `n` records; returns the storage and the location of the last record.
fn build(config: &WalConfig, sizes: &[usize]) -> (SimStorage, Vec<RecordLoc>) {
    let sim = SimStorage::new();
    let (writer, _) = start_writer(Arc::new(sim.clone()), config, &Recovered::default(), None);
    let mut locs = Vec::new();
    for (i, &size) in sizes.iter().enumerate() {
        match append_and_wait(&writer, vec![i as u8; size]) {
            Outcome::Durable(seq, loc) => {
                assert_eq!(seq, i as u64 + 1);
                locs.push(loc);
            }
            other => panic!("{other:?}"),
        }
    }
    writer.shutdown();
    (sim, locs)
}

/// Recovers `sim` after its newest segment was damaged past `good_len`, and checks that
/// exactly the first `n - 1` records come back and that appends continue at seq `n`.
fn check_recovers_prefix(sim: &SimStorage, config: &WalConfig, sizes: &[usize], last: RecordLoc, cut: u64) {
    let storage: Arc<dyn Storage> = Arc::new(sim.clone());
    let n = sizes.len() as u64;
    let (r, replayed) = recover_all(storage.clone(), config, 1).unwrap_or_else(|e| panic!("cut {cut}: {e}"));
    assert_eq!(replayed.len() as u64, n - 1, "cut {cut}");
    for (i, rec) in replayed.iter().enumerate() {
        assert_eq!(rec.payload, vec![i as u8; sizes[i]]);
    }
    assert_eq!(r.next_seq, n);
    assert_eq!(r.truncated_bytes, cut, "bytes cut");
    assert_eq!(r.last_segment, last.segment);
    assert_eq!(r.last_segment_len, u64::from(last.offset));
    let path = config.segment_path(last.segment);
    assert_eq!(sim.len(&path).unwrap(), u64::from(last.offset));
    // The cut is durable: a crash now changes nothing.
    assert_eq!(sim.crash(cut).len(&path).unwrap(), u64::from(last.offset));

    let (writer, _) = start_writer(storage.clone(), config, &r, None);
    assert_eq!(
        append_and_wait(&writer, b"after the tear".to_vec()),
        Outcome::Durable(n, last)
    );
    writer.shutdown();
    let (r2, again) = recover_all(storage, config, 1).unwrap();
    assert_eq!(r2.next_seq, n + 1);
    assert_eq!(&again[..replayed.len()], &replayed[..]);
    assert_eq!(
        again.last().unwrap(),
        &Replayed {
            seq: n,
            loc: last,
            payload: b"after the tear".to_vec()
        }
    );
}

#[test]
fn torn_at_every_byte_of_the_last_record() {
    let config = WalConfig::new("/wal").with_segment_bytes(1024);
    let sizes = [10, 300, 0, 250, 77];
    let (base, locs) = build(&config, &sizes);
    let last = *locs.last().unwrap();
    assert_eq!(last.segment, 1, "last record shares its segment with earlier ones");
    let path = config.segment_path(last.segment);
    let full = base.len(&path).unwrap();
    for len in u64::from(last.offset)..full {
        let sim = base.fork();
        sim.truncate(&path, len).unwrap();
        check_recovers_prefix(&sim, &config, &sizes, last, len - u64::from(last.offset));
    }
}

#[test]
fn torn_at_every_byte_of_a_record_that_opened_a_segment() {
    let config = WalConfig::new("/wal").with_segment_bytes(256);
    let sizes = [100, 100, 200];
    let (base, locs) = build(&config, &sizes);
    let last = *locs.last().unwrap();
    assert_eq!((last.segment, last.offset), (3, 28));
    let path = config.segment_path(last.segment);
    let full = base.len(&path).unwrap();
    for len in 28..full {
        let sim = base.fork();
        sim.truncate(&path, len).unwrap();
        check_recovers_prefix(&sim, &config, &sizes, last, len - 28);
    }
}

#[test]
fn torn_segment_header_is_rewritten_and_the_log_goes_on() {
    let config = WalConfig::new("/wal").with_segment_bytes(256);
    let sizes = [100, 100, 200];
    let (base, locs) = build(&config, &sizes);
    let last = *locs.last().unwrap();
    let path = config.segment_path(last.segment);
    for len in 0..28 {
        let sim = base.fork();
        sim.truncate(&path, len).unwrap();
        // The whole segment (header included) counts as cut: `len` bytes were discarded.
        check_recovers_prefix(&sim, &config, &sizes, last, len);
    }
}

#[test]
fn zero_filled_tail_is_torn_not_corruption() {
    let config = WalConfig::new("/wal").with_segment_bytes(4096);
    let sizes = [5, 40, 33];
    let (base, locs) = build(&config, &sizes);
    let path = config.segment_path(1);
    let full = base.len(&path).unwrap();
    for zeros in [1usize, 15, 16, 17, 100, 3000] {
        // After the last record: nothing lost.
        let sim = base.fork();
        let mut f = sim.open_append(&path).unwrap();
        f.append(&vec![0; zeros]).unwrap();
        f.sync().unwrap();
        let (r, replayed) = recover_all(Arc::new(sim.clone()), &config, 1).unwrap();
        assert_eq!((replayed.len(), r.truncated_bytes), (3, zeros as u64));
        assert_eq!(sim.len(&path).unwrap(), full);

        // In place of the end of the last record: that record is torn.
        let sim = base.fork();
        let last = locs[2];
        sim.truncate(&path, u64::from(last.offset) + 20).unwrap();
        let mut f = sim.open_append(&path).unwrap();
        f.append(&vec![0; zeros]).unwrap();
        check_recovers_prefix(&sim, &config, &sizes, last, 20 + zeros as u64);
    }
}

#[test]
fn garbage_tail_is_torn() {
    let seed = 0x7a11;
    eprintln!("seed={seed}");
    let mut rng = StdRng::seed_from_u64(seed);
    let config = WalConfig::new("/wal");
    let sizes = [5, 40, 33];
    let (base, _) = build(&config, &sizes);
    let path = config.segment_path(1);
    for _ in 0..50 {
        let sim = base.fork();
        let len = rng.random_range(1..2000);
        let garbage: Vec<u8> = (0..len).map(|_| rng.random()).collect();
        sim.open_append(&path).unwrap().append(&garbage).unwrap();
        let (r, replayed) = recover_all(Arc::new(sim), &config, 1).unwrap();
        assert_eq!((replayed.len(), r.truncated_bytes), (3, len as u64));
    }
}

#[test]
fn flipped_bit_in_the_very_last_record_is_indistinguishable_from_a_torn_write() {
    // Documented limitation (FORMAT.md): with nothing valid after it, a damaged last record
    // looks exactly like a crash mid-write, so it is cut.
    let config = WalConfig::new("/wal");
    let sizes = [5, 40, 33];
    let (sim, locs) = build(&config, &sizes);
    let last = locs[2];
    sim.corrupt_byte(&config.segment_path(1), u64::from(last.offset) + 30)
        .unwrap();
    check_recovers_prefix(&sim, &config, &sizes, last, 16 + 33);
}
