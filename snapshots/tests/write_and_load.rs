//! Round trips on the real file system: what is written is what loads, retention keeps exactly
//! the newest `keep` snapshots, and the streaming writer matches `write`.

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;

use walletd_snapshots::{SnapshotError, SnapshotStore, format};
use walletd_wal::FsStorage;

fn store(keep: usize) -> (tempfile::TempDir, PathBuf, SnapshotStore) {
    let tmp = tempfile::tempdir().unwrap();
    // Nested and missing: the store must create it on the first write.
    let dir = tmp.path().join("state").join("snapshots");
    let store = SnapshotStore::new(Arc::new(FsStorage), dir.clone(), keep);
    (tmp, dir, store)
}

fn seqs(store: &SnapshotStore) -> Vec<u64> {
    store.list().unwrap().into_iter().map(|(seq, _)| seq).collect()
}

#[test]
fn write_then_load_returns_the_same_seq_and_payload() {
    let (_tmp, dir, store) = store(3);
    assert_eq!(store.load_latest().unwrap(), None, "missing dir loads nothing");
    assert!(store.list().unwrap().is_empty());

    let payload: Vec<u8> = (0..10_000u32).map(|i| (i * 7) as u8).collect();
    let path = store.write(42, &payload).unwrap();
    assert_eq!(path, dir.join("snapshot-00000000000000000042.snap"));
    assert_eq!(
        std::fs::read(&path).unwrap(),
        format::encode(42, &payload),
        "file bytes are exactly the documented format"
    );

    let loaded = store.load_latest().unwrap().unwrap();
    assert_eq!(loaded.seq, 42);
    assert_eq!(loaded.payload, payload);
    assert_eq!(loaded.path, path);
    assert!(loaded.skipped.is_empty());

    // A fresh store over the same directory (a restart) sees the same thing.
    let reopened = SnapshotStore::new(Arc::new(FsStorage), dir, 3);
    assert_eq!(reopened.load_latest().unwrap().unwrap(), loaded);
}

#[test]
fn empty_payload_round_trips() {
    let (_tmp, _dir, store) = store(2);
    store.write(0, b"").unwrap();
    let loaded = store.load_latest().unwrap().unwrap();
    assert_eq!((loaded.seq, loaded.payload), (0, Vec::new()));
}

#[test]
fn keep_two_keeps_exactly_the_two_newest_after_five_writes() {
    let (_tmp, dir, store) = store(2);
    for seq in [10, 20, 30, 40, 50] {
        store.write(seq, format!("state@{seq}").as_bytes()).unwrap();
    }
    assert_eq!(seqs(&store), vec![40, 50]);
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, vec![format::file_name(40), format::file_name(50)]);
    let loaded = store.load_latest().unwrap().unwrap();
    assert_eq!((loaded.seq, loaded.payload), (50, b"state@50".to_vec()));
}

#[test]
fn keep_is_clamped_to_two() {
    for keep in [0, 1] {
        let (_tmp, _dir, store) = store(keep);
        assert_eq!(store.keep(), 2);
        for seq in 1..=4 {
            store.write(seq, b"x").unwrap();
        }
        assert_eq!(seqs(&store), vec![3, 4], "keep={keep}");
    }
}

#[test]
fn newest_seq_wins_and_the_just_written_one_is_never_pruned() {
    let (_tmp, _dir, store) = store(2);
    store.write(50, b"fifty").unwrap();
    store.write(60, b"sixty").unwrap();
    // Older than everything present: kept anyway, because pruning never removes it.
    store.write(5, b"five").unwrap();
    assert_eq!(seqs(&store), vec![5, 50, 60]);
    assert_eq!(store.load_latest().unwrap().unwrap().seq, 60);
    // Next write prunes normally again.
    store.write(70, b"seventy").unwrap();
    assert_eq!(seqs(&store), vec![60, 70]);
}

#[test]
fn rewriting_a_seq_replaces_it() {
    let (_tmp, _dir, store) = store(2);
    store.write(7, b"first").unwrap();
    store.write(7, b"second").unwrap();
    assert_eq!(seqs(&store), vec![7]);
    assert_eq!(store.load_latest().unwrap().unwrap().payload, b"second");
}

#[test]
fn foreign_files_are_ignored_and_never_pruned() {
    let (_tmp, dir, store) = store(2);
    store.write(1, b"a").unwrap();
    for name in ["README", "snapshot-1.snap", "snapshot-00000000000000000009.snap.bak"] {
        std::fs::write(dir.join(name), b"not a snapshot").unwrap();
    }
    store.write(2, b"b").unwrap();
    store.write(3, b"c").unwrap();
    assert_eq!(seqs(&store), vec![2, 3]);
    for name in ["README", "snapshot-1.snap", "snapshot-00000000000000000009.snap.bak"] {
        assert!(dir.join(name).exists(), "{name} must be left alone");
    }
    let loaded = store.load_latest().unwrap().unwrap();
    assert_eq!(loaded.seq, 3);
    assert!(loaded.skipped.is_empty());
}

#[test]
fn streaming_writer_produces_the_same_file_as_write() {
    let (_tmp, _dir, store) = store(2);
    // Larger than the writer's internal buffer and fed in uneven pieces, so buffered,
    // flushed and direct appends are all exercised.
    let payload: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let mut writer = store.writer(9, payload.len() as u64).unwrap();
    let mut rest = &payload[..];
    for size in [1, 10, 70_000, 3, 65_536, 100].into_iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (piece, tail) = rest.split_at(size.min(rest.len()));
        writer.write_all(piece).unwrap();
        rest = tail;
    }
    let path = writer.finish().unwrap();
    assert_eq!(std::fs::read(path).unwrap(), format::encode(9, &payload));

    // The `std::io::Write` adapter, as an encoder would use it.
    let mut writer = store.writer(10, 11).unwrap();
    let who = "world";
    write!(writer, "hello {who}").unwrap();
    writer.finish().unwrap();
    assert_eq!(store.load_latest().unwrap().unwrap().payload, b"hello world");
}

#[test]
fn wrong_length_is_rejected_and_leaves_nothing_behind() {
    let (_tmp, dir, store) = store(2);
    store.write(1, b"keep me").unwrap();

    let mut short = store.writer(2, 10).unwrap();
    short.write_all(b"12345").unwrap();
    assert!(matches!(
        short.finish(),
        Err(SnapshotError::LengthMismatch {
            seq: 2,
            declared: 10,
            written: 5
        })
    ));

    let mut long = store.writer(3, 4).unwrap();
    assert!(matches!(
        long.write_all(b"12345"),
        Err(SnapshotError::LengthMismatch {
            seq: 3,
            declared: 4,
            written: 5
        })
    ));
    // Poisoned: even a now-consistent finish is refused.
    assert!(matches!(long.finish(), Err(SnapshotError::Aborted { seq: 3 })));

    let names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from(format::file_name(1))]);
    assert_eq!(store.load_latest().unwrap().unwrap().payload, b"keep me");
}
