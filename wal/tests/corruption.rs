//! Corruption: damage that a crash cannot explain (an invalid record with valid records after
//! it, gaps or repeats in sequence numbers, a broken segment chain) stops recovery with an
//! error naming the file and the exact frame offset, and nothing is modified.

mod common;

use std::path::PathBuf;
use std::sync::Arc;

use common::{Outcome, append_and_wait, recover_all, start_writer};
use walletd_wal::{RecordLoc, Recovered, SimStorage, Storage, WalConfig, WalError};

const RECORDS: u64 = 30;

/// 30 records of 40 bytes in 512-byte segments (8 per segment, 4 segments).
fn build() -> (SimStorage, WalConfig, Vec<RecordLoc>) {
    let config = WalConfig::new("/wal").with_segment_bytes(512);
    let sim = SimStorage::new();
    let (writer, _) = start_writer(Arc::new(sim.clone()), &config, &Recovered::default(), None);
    let locs = (0..RECORDS)
        .map(|i| match append_and_wait(&writer, vec![i as u8; 40]) {
            Outcome::Durable(_, loc) => loc,
            other => panic!("{other:?}"),
        })
        .collect::<Vec<_>>();
    writer.shutdown();
    assert_eq!(locs.last().unwrap().segment, 4);
    (sim, config, locs)
}

/// Snapshot of every file, to check that a refused recovery changed nothing.
fn contents(sim: &SimStorage) -> Vec<(PathBuf, Vec<u8>)> {
    sim.file_names()
        .into_iter()
        .map(|p| (p.clone(), sim.read(&p).unwrap()))
        .collect()
}

fn expect_corruption(sim: &SimStorage, config: &WalConfig, file: PathBuf, offset: u64) -> String {
    let before = contents(sim);
    let err = recover_all(Arc::new(sim.clone()), config, 1).expect_err("must be corruption");
    let WalError::Corruption {
        file: ref f,
        offset: o,
        ref reason,
    } = err
    else {
        panic!("expected corruption, got {err:?}");
    };
    assert_eq!((f, o), (&file, offset), "{reason}");
    assert_eq!(
        err.to_string(),
        format!("WAL corruption in {} at byte offset {offset}: {reason}", file.display())
    );
    assert_eq!(contents(sim), before, "a refused recovery modifies nothing");
    reason.clone()
}

/// Flips a bit in each field of the frame at `locs[index]`.
fn flip_each_field(index: usize) {
    for (field, at, mask) in [
        ("len", 0, 0x01),
        ("len", 3, 0x80),
        ("crc", 5, 0x01),
        ("seq", 8, 0x01),
        ("payload", 30, 0x10),
    ] {
        let (sim, config, locs) = build();
        let loc = locs[index];
        let file = config.segment_path(loc.segment);
        sim.xor_byte(&file, u64::from(loc.offset) + at, mask).unwrap();
        let reason = expect_corruption(&sim, &config, file, u64::from(loc.offset));
        assert!(reason.contains("valid record follows"), "{field}: {reason}");
        if at == 3 {
            assert!(reason.contains("impossible record length"), "{reason}");
        } else if at == 0 {
            // One more byte than written: past the segment's end if the record was its last.
            assert!(
                reason.contains("crc mismatch") || reason.contains("runs past the end"),
                "{reason}"
            );
        } else {
            assert!(reason.contains("crc mismatch"), "{field}: {reason}");
        }
    }
}

#[test]
fn flipped_bit_mid_log_in_the_newest_segment() {
    // Record 27 of 30: segment 4, followed by valid records in the same segment.
    flip_each_field(26);
}

#[test]
fn flipped_bit_mid_segment_in_an_older_segment() {
    flip_each_field(10);
}

#[test]
fn flipped_bit_in_the_last_record_of_an_older_segment() {
    // Nothing valid follows in its own segment, but later segments hold records.
    let (_, _, locs) = build();
    let index = locs.iter().rposition(|l| l.segment == 2).unwrap();
    flip_each_field(index);
}

#[test]
fn missing_record_is_a_sequence_gap() {
    let (sim, config, locs) = build();
    let loc = locs[12];
    let path = config.segment_path(loc.segment);
    let mut bytes = sim.read(&path).unwrap();
    let start = loc.offset as usize;
    bytes.drain(start..start + 16 + 40);
    let mut f = sim.create(&path).unwrap();
    f.append(&bytes).unwrap();
    let reason = expect_corruption(&sim, &config, path, u64::from(loc.offset));
    assert!(reason.contains("expected seq 13, found 14"), "{reason}");
}

#[test]
fn repeated_record_is_corruption() {
    let (sim, config, locs) = build();
    let loc = locs[12];
    let path = config.segment_path(loc.segment);
    let mut bytes = sim.read(&path).unwrap();
    let start = loc.offset as usize;
    let frame = bytes[start..start + 56].to_vec();
    bytes.splice(start + 56..start + 56, frame);
    let mut f = sim.create(&path).unwrap();
    f.append(&bytes).unwrap();
    let reason = expect_corruption(&sim, &config, path, u64::from(loc.offset) + 56);
    assert!(reason.contains("repeats"), "{reason}");
}

#[test]
fn segment_not_continuing_its_predecessor_is_corruption() {
    // The last record of segment 1 disappears (cut): segment 2 starts at a seq that does not follow.
    let (sim, config, locs) = build();
    let index = locs.iter().rposition(|l| l.segment == 1).unwrap();
    sim.truncate(&config.segment_path(1), u64::from(locs[index].offset))
        .unwrap();
    let reason = expect_corruption(&sim, &config, config.segment_path(2), 0);
    assert!(reason.contains("previous segment ends at seq"), "{reason}");
}

#[test]
fn missing_segment_is_corruption() {
    let (sim, config, _) = build();
    sim.remove(&config.segment_path(2)).unwrap();
    let reason = expect_corruption(&sim, &config, config.segment_path(3), 0);
    assert!(reason.contains("segment 2 is missing"), "{reason}");
}

#[test]
fn damaged_header_of_an_older_segment_is_corruption() {
    let (sim, config, _) = build();
    sim.corrupt_byte(&config.segment_path(3), 17).unwrap();
    let reason = expect_corruption(&sim, &config, config.segment_path(3), 0);
    assert!(reason.contains("header crc mismatch"), "{reason}");
}

#[test]
fn snapshot_ahead_of_the_log_is_corruption() {
    let (sim, config, _) = build();
    let last = config.segment_path(4);
    let len = sim.len(&last).unwrap();
    let reason = expect_corruption_from(&sim, &config, RECORDS + 5, last, len);
    assert!(reason.contains("records 31..=34 are missing"), "{reason}");
    // One past the end is fine: the snapshot covers every record.
    assert!(recover_all(Arc::new(sim), &config, RECORDS + 1).is_ok());
}

fn expect_corruption_from(sim: &SimStorage, config: &WalConfig, from: u64, file: PathBuf, offset: u64) -> String {
    match recover_all(Arc::new(sim.clone()), config, from) {
        Err(WalError::Corruption {
            file: f,
            offset: o,
            reason,
        }) => {
            assert_eq!((f, o), (file, offset));
            reason
        }
        other => panic!("expected corruption, got {other:?}"),
    }
}
