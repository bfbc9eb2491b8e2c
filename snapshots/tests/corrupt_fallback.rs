//! Corrupt snapshots are skipped, newest first, with their reason reported in `skipped` and
//! logged with `warn!`; the newest valid one loads, and none valid is `Ok(None)`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};
use walletd_snapshots::{LoadedSnapshot, SnapshotStore, format};
use walletd_wal::FsStorage;

/// Collects the fields of every `warn!` event, to check that skipped files are logged.
#[derive(Clone, Default)]
struct Warnings(Arc<Mutex<Vec<String>>>);

struct Fields(String);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, "{}={:?} ", field.name(), value);
    }
}

impl Subscriber for Warnings {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        if *event.metadata().level() == Level::WARN {
            let mut fields = Fields(String::new());
            event.record(&mut fields);
            self.0.lock().unwrap().push(fields.0);
        }
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

/// `load_latest` with the warnings it logged.
fn load(store: &SnapshotStore) -> (Option<LoadedSnapshot>, Vec<String>) {
    let warnings = Warnings::default();
    let loaded = tracing::subscriber::with_default(warnings.clone(), || store.load_latest().unwrap());
    let logged = warnings.0.lock().unwrap().clone();
    (loaded, logged)
}

/// A store holding valid snapshots 1, 2 and 3.
fn three_snapshots() -> (tempfile::TempDir, SnapshotStore) {
    let tmp = tempfile::tempdir().unwrap();
    let store = SnapshotStore::new(Arc::new(FsStorage), tmp.path().join("snaps"), 5);
    for seq in 1..=3 {
        store.write(seq, &payload(seq)).unwrap();
    }
    (tmp, store)
}

fn payload(seq: u64) -> Vec<u8> {
    format!("engine state as of record {seq}").into_bytes()
}

fn path_of(store: &SnapshotStore, seq: u64) -> PathBuf {
    store.dir().join(format::file_name(seq))
}

fn edit(path: &Path, f: impl FnOnce(&mut Vec<u8>)) {
    let mut bytes = std::fs::read(path).unwrap();
    f(&mut bytes);
    std::fs::write(path, bytes).unwrap();
}

/// Corrupts snapshot 3 with `corrupt`, then expects snapshot 2 to load and 3 to be reported
/// with a reason containing `reason`.
fn falls_back_from_newest(corrupt: impl FnOnce(&SnapshotStore, &Path), reason: &str) {
    let (_tmp, store) = three_snapshots();
    let newest = path_of(&store, 3);
    corrupt(&store, &newest);

    let (loaded, warnings) = load(&store);
    let loaded = loaded.expect("the previous snapshot is valid");
    assert_eq!(loaded.seq, 2);
    assert_eq!(loaded.payload, payload(2));
    assert_eq!(loaded.path, path_of(&store, 2));
    assert_eq!(loaded.skipped.len(), 1, "{:?}", loaded.skipped);
    assert_eq!(loaded.skipped[0].0, newest);
    assert!(
        loaded.skipped[0].1.contains(reason),
        "reason {:?} should mention {reason:?}",
        loaded.skipped[0].1
    );
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains(&newest.display().to_string()), "{warnings:?}");
    // Skipping is not deleting: the file stays for inspection.
    assert!(newest.exists());
}

#[test]
fn flipped_payload_byte_falls_back() {
    falls_back_from_newest(|_, path| edit(path, |b| b[format::HEADER_LEN + 3] ^= 0x10), "crc");
}

#[test]
fn flipped_crc_byte_falls_back() {
    falls_back_from_newest(|_, path| edit(path, |b| *b.last_mut().unwrap() ^= 0x01), "crc");
}

#[test]
fn truncated_snapshot_falls_back() {
    falls_back_from_newest(|_, path| edit(path, |b| b.truncate(b.len() - 5)), "length");
}

#[test]
fn snapshot_truncated_inside_the_header_falls_back() {
    falls_back_from_newest(|_, path| edit(path, |b| b.truncate(10)), "truncated");
}

#[test]
fn empty_snapshot_file_falls_back() {
    falls_back_from_newest(|_, path| edit(path, |b| b.clear()), "truncated");
}

#[test]
fn wrong_magic_falls_back() {
    falls_back_from_newest(
        |_, path| edit(path, |b| b[..8].copy_from_slice(b"WDSNAP\0\x01")),
        "magic",
    );
}

#[test]
fn unknown_format_version_falls_back() {
    falls_back_from_newest(|_, path| edit(path, |b| b[8] = 9), "version 9");
}

#[test]
fn header_seq_not_matching_the_name_falls_back() {
    // A complete, checksummed snapshot of record 1 under the name of record 3, as a hand copy
    // would leave it: only the seq check can catch it.
    falls_back_from_newest(
        |store, path| std::fs::copy(path_of(store, 1), path).map(drop).unwrap(),
        "seq",
    );
}

#[test]
fn falls_back_past_several_corrupt_snapshots_newest_first() {
    let (_tmp, store) = three_snapshots();
    edit(&path_of(&store, 3), |b| b.truncate(b.len() / 2));
    edit(&path_of(&store, 2), |b| b[0] = 0);

    let (loaded, warnings) = load(&store);
    let loaded = loaded.unwrap();
    assert_eq!((loaded.seq, loaded.payload), (1, payload(1)));
    let skipped: Vec<&Path> = loaded.skipped.iter().map(|(p, _)| p.as_path()).collect();
    assert_eq!(skipped, vec![path_of(&store, 3), path_of(&store, 2)]);
    assert_eq!(warnings.len(), 2);
}

#[test]
fn all_corrupt_is_none_with_every_file_skipped_and_kept() {
    let (_tmp, store) = three_snapshots();
    for seq in 1..=3 {
        edit(&path_of(&store, seq), |b| b[format::HEADER_LEN] ^= 0xff);
    }
    let (loaded, warnings) = load(&store);
    assert_eq!(loaded, None);
    // Every file was examined and logged, newest first...
    assert_eq!(warnings.len(), 3, "{warnings:?}");
    for (warning, seq) in warnings.iter().zip([3, 2, 1]) {
        assert!(warning.contains(&format::file_name(seq)), "{warning}");
        assert!(warning.contains("crc"), "{warning}");
    }
    // ...and is still listed, which is how a caller tells "all corrupt" from "none written".
    assert_eq!(store.list().unwrap().len(), 3);

    // A new snapshot after that loads normally and reports nothing skipped.
    store.write(4, &payload(4)).unwrap();
    let (loaded, _) = load(&store);
    let loaded = loaded.unwrap();
    assert_eq!((loaded.seq, loaded.skipped.len()), (4, 0));
}
