//! A crash between writing the temp file and renaming it leaves `snapshot-<seq>.snap.tmp`
//! behind: loading must ignore it and the next write must remove it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use walletd_snapshots::{SnapshotStore, format};
use walletd_wal::FsStorage;

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

fn setup() -> (tempfile::TempDir, PathBuf, SnapshotStore) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("snaps");
    let store = SnapshotStore::new(Arc::new(FsStorage), dir.clone(), 2);
    store.write(10, b"ten").unwrap();
    (tmp, dir, store)
}

#[test]
fn leftover_tmp_is_ignored_by_load_and_list_and_cleaned_by_the_next_write() {
    let (_tmp, dir, store) = setup();
    // Newer than the real snapshot: a complete one (crash right before the rename) and a torn
    // one (crash mid-write). Neither was renamed, so neither may load.
    std::fs::write(dir.join(format::tmp_file_name(20)), format::encode(20, b"twenty")).unwrap();
    std::fs::write(
        dir.join(format::tmp_file_name(30)),
        &format::encode(30, b"thirty")[..15],
    )
    .unwrap();

    let loaded = store.load_latest().unwrap().unwrap();
    assert_eq!((loaded.seq, loaded.payload.as_slice()), (10, &b"ten"[..]));
    assert!(loaded.skipped.is_empty(), "temp files are not even candidates");
    assert_eq!(store.list().unwrap(), vec![(10, dir.join(format::file_name(10)))]);

    // Same seq as a leftover: the write recreates that temp file and renames it.
    store.write(20, b"twenty, again").unwrap();
    assert_eq!(names(&dir), vec![format::file_name(10), format::file_name(20)]);
    assert_eq!(store.load_latest().unwrap().unwrap().payload, b"twenty, again");
}

#[test]
fn leftover_tmp_of_another_seq_is_cleaned_too() {
    let (_tmp, dir, store) = setup();
    std::fs::write(dir.join(format::tmp_file_name(99)), b"garbage").unwrap();
    store.write(11, b"eleven").unwrap();
    assert_eq!(names(&dir), vec![format::file_name(10), format::file_name(11)]);
}

#[test]
fn abandoned_writer_removes_its_tmp() {
    let (_tmp, dir, store) = setup();
    let mut writer = store.writer(12, 100).unwrap();
    writer.write_all(&[7; 50]).unwrap();
    assert!(dir.join(format::tmp_file_name(12)).exists());
    drop(writer);
    assert_eq!(names(&dir), vec![format::file_name(10)]);
    assert_eq!(store.load_latest().unwrap().unwrap().seq, 10);
}
