//! Crash at every storage operation of a snapshot write, on an in-memory storage that loses what
//! was not synced: afterwards `load_latest` returns the new snapshot intact or the previous one
//! intact, never garbage; and once `write` has returned Ok, always the new one.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use walletd_snapshots::SnapshotStore;
use walletd_wal::{Storage, StorageFile};

/// What survives of unsynced state at the crash.
#[derive(Debug, Clone, Copy)]
struct CrashMode {
    /// Unsynced creations, renames and removals persist (`true`) or are lost (`false`).
    names_survive: bool,
    data: DataFate,
}

/// What becomes of bytes appended after a file's last sync.
#[derive(Debug, Clone, Copy)]
enum DataFate {
    Lost,
    Kept,
    /// The first half reaches the disk.
    Torn,
    /// The right length reaches the disk, with the wrong content.
    Garbled,
}

const MODES: [CrashMode; 8] = {
    let fates = [DataFate::Lost, DataFate::Kept, DataFate::Torn, DataFate::Garbled];
    let mut modes = [CrashMode {
        names_survive: false,
        data: DataFate::Lost,
    }; 8];
    let mut i = 0;
    while i < 8 {
        modes[i] = CrashMode {
            names_survive: i % 2 == 1,
            data: fates[i / 2],
        };
        i += 1;
    }
    modes
};

#[derive(Debug, Default)]
struct Inode {
    data: Vec<u8>,
    /// The prefix of `data` that a sync made durable (files only grow here).
    synced: usize,
}

/// Directory entries as the running system sees them (`live`) and as they are on disk.
#[derive(Debug, Default, Clone)]
struct Namespace {
    dirs: BTreeSet<PathBuf>,
    files: BTreeMap<PathBuf, usize>,
}

#[derive(Debug, Default)]
struct State {
    inodes: Vec<Inode>,
    live: Namespace,
    durable: Namespace,
    /// Mutating operations since the last arm.
    ops: usize,
    crash_at: Option<usize>,
    crashed: bool,
}

impl State {
    /// Counts a mutating operation; fails it, and every later one, from the armed point on, as
    /// if the process had died there.
    fn op(&mut self) -> io::Result<()> {
        if self.crash_at == Some(self.ops) {
            self.crashed = true;
        }
        self.ops += 1;
        if self.crashed {
            return Err(io::Error::other("simulated crash"));
        }
        Ok(())
    }
}

fn not_found(path: &Path) -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, path.display().to_string())
}

#[derive(Debug, Default)]
struct SimStorage(Arc<Mutex<State>>);

struct SimFile {
    state: Arc<Mutex<State>>,
    inode: usize,
}

impl StorageFile for SimFile {
    fn append(&mut self, buf: &[u8]) -> io::Result<()> {
        let mut s = self.state.lock().unwrap();
        s.op()?;
        s.inodes[self.inode].data.extend_from_slice(buf);
        Ok(())
    }
    fn sync(&mut self) -> io::Result<()> {
        let mut s = self.state.lock().unwrap();
        s.op()?;
        let inode = &mut s.inodes[self.inode];
        inode.synced = inode.data.len();
        Ok(())
    }
}

impl SimStorage {
    fn new() -> Self {
        let sim = SimStorage::default();
        let root = PathBuf::from("/");
        let mut s = sim.0.lock().unwrap();
        s.live.dirs.insert(root.clone());
        s.durable.dirs.insert(root);
        drop(s);
        sim
    }

    /// Makes the `n`-th mutating operation from now (0-based) the crash point.
    fn arm(&self, n: usize) {
        let mut s = self.0.lock().unwrap();
        s.ops = 0;
        s.crash_at = Some(n);
    }

    fn crash_point_reached(&self) -> bool {
        self.0.lock().unwrap().crashed
    }

    /// Power loss and reboot: only what was synced is certain, the rest per `mode`.
    fn crash(&self, mode: CrashMode) {
        let mut s = self.0.lock().unwrap();
        for inode in &mut s.inodes {
            let tail = inode.data.len() - inode.synced;
            match mode.data {
                DataFate::Lost => inode.data.truncate(inode.synced),
                DataFate::Kept => {}
                DataFate::Torn => inode.data.truncate(inode.synced + tail / 2),
                DataFate::Garbled => inode.data[inode.synced..].iter_mut().for_each(|b| *b ^= 0x5a),
            }
            inode.synced = inode.data.len();
        }
        let mut ns = if mode.names_survive {
            s.live.clone()
        } else {
            s.durable.clone()
        };
        // Entries of a directory that itself did not survive are gone with it.
        let dirs = ns.dirs.clone();
        ns.dirs.retain(|d| d.parent().is_none_or(|p| dirs.contains(p)));
        let dirs = ns.dirs.clone();
        ns.files.retain(|f, _| f.parent().is_some_and(|p| dirs.contains(p)));
        s.live = ns.clone();
        s.durable = ns;
        s.crash_at = None;
        s.crashed = false;
    }

    fn file_names(&self) -> Vec<PathBuf> {
        self.0.lock().unwrap().live.files.keys().cloned().collect()
    }
}

impl Storage for SimStorage {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        let mut s = self.0.lock().unwrap();
        s.op()?;
        for d in dir.ancestors() {
            s.live.dirs.insert(d.to_path_buf());
        }
        Ok(())
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let s = self.0.lock().unwrap();
        Ok(s.live
            .files
            .keys()
            .filter(|f| f.parent() == Some(dir))
            .map(|f| f.file_name().unwrap().to_str().unwrap().to_owned())
            .collect())
    }

    fn open_append(&self, _: &Path) -> io::Result<Box<dyn StorageFile>> {
        unreachable!("snapshots never append to an existing file")
    }

    fn create(&self, path: &Path) -> io::Result<Box<dyn StorageFile>> {
        let mut s = self.0.lock().unwrap();
        s.op()?;
        if !path.parent().is_some_and(|p| s.live.dirs.contains(p)) {
            return Err(not_found(path));
        }
        s.inodes.push(Inode::default());
        let inode = s.inodes.len() - 1;
        s.live.files.insert(path.to_path_buf(), inode);
        Ok(Box::new(SimFile {
            state: self.0.clone(),
            inode,
        }))
    }

    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        let s = self.0.lock().unwrap();
        let inode = *s.live.files.get(path).ok_or_else(|| not_found(path))?;
        Ok(s.inodes[inode].data.clone())
    }

    fn read_at(&self, path: &Path, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        let data = self.read(path)?;
        let start = usize::try_from(offset).unwrap();
        let slice = data
            .get(start..start + buf.len())
            .ok_or_else(|| io::Error::from(io::ErrorKind::UnexpectedEof))?;
        buf.copy_from_slice(slice);
        Ok(())
    }

    fn len(&self, path: &Path) -> io::Result<u64> {
        Ok(self.read(path)?.len() as u64)
    }

    fn truncate(&self, _: &Path, _: u64) -> io::Result<()> {
        unreachable!("snapshots never truncate")
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let mut s = self.0.lock().unwrap();
        s.op()?;
        let inode = s.live.files.remove(from).ok_or_else(|| not_found(from))?;
        s.live.files.insert(to.to_path_buf(), inode);
        Ok(())
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        let mut s = self.0.lock().unwrap();
        s.op()?;
        s.live.files.remove(path).map(drop).ok_or_else(|| not_found(path))
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        let mut s = self.0.lock().unwrap();
        s.op()?;
        let in_dir = |p: &Path| p.parent() == Some(dir);
        let State { live, durable, .. } = &mut *s;
        durable.files.retain(|f, _| !in_dir(f));
        durable.files.extend(
            live.files
                .iter()
                .filter(|(f, _)| in_dir(f))
                .map(|(f, i)| (f.clone(), *i)),
        );
        durable.dirs.retain(|d| !in_dir(d));
        durable.dirs.extend(live.dirs.iter().filter(|d| in_dir(d)).cloned());
        Ok(())
    }
}

fn payload(seq: u64, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u64 ^ seq.wrapping_mul(0x9e37_79b9)) as u8)
        .collect()
}

const DIR: &str = "/data/snapshots";

/// Writes `previous` snapshots, then snapshot `new` with a crash at each operation in turn
/// (and finally none), under every crash mode, checking what a restarted store loads.
fn crash_everywhere(previous: &[u64], new: u64, len: usize) {
    for mode in MODES {
        for crash_at in 0.. {
            let ctx = format!("previous={previous:?} len={len} mode={mode:?} crash_at={crash_at}");
            let sim = Arc::new(SimStorage::new());
            let store = SnapshotStore::new(sim.clone(), DIR.into(), 2);
            for &seq in previous {
                store.write(seq, &payload(seq, len)).unwrap();
            }

            sim.arm(crash_at);
            let result = store.write(new, &payload(new, len));
            let reached = sim.crash_point_reached();
            assert!(reached || result.is_ok(), "{ctx}: {result:?}");
            sim.crash(mode);

            let store = SnapshotStore::new(sim.clone(), DIR.into(), 2);
            let loaded = store.load_latest().unwrap();
            // The protocol never exposes a partly written file under a snapshot name.
            let loaded_seq = loaded.as_ref().map(|l| {
                assert!(l.skipped.is_empty(), "{ctx}: {:?}", l.skipped);
                assert_eq!(l.payload, payload(l.seq, len), "{ctx}: garbage payload");
                l.seq
            });
            let before = previous.last().copied();
            if result.is_ok() {
                assert_eq!(loaded_seq, Some(new), "{ctx}: write returned Ok but was lost");
            } else {
                assert!(
                    loaded_seq == Some(new) || loaded_seq == before,
                    "{ctx}: loaded {loaded_seq:?}"
                );
            }

            // Life goes on: the next write succeeds and leaves no temp file behind.
            store.write(new + 1, &payload(new + 1, len)).unwrap();
            assert_eq!(store.load_latest().unwrap().unwrap().seq, new + 1, "{ctx}");
            let leftovers: Vec<_> = sim
                .file_names()
                .into_iter()
                .filter(|f| f.to_str().unwrap().ends_with(".tmp"))
                .collect();
            assert!(leftovers.is_empty(), "{ctx}: {leftovers:?}");

            if !reached {
                break; // the write finished before the crash point: every point was covered
            }
        }
    }
}

#[test]
fn crash_during_first_write_loads_nothing_or_the_new_snapshot() {
    crash_everywhere(&[], 10, 100);
}

#[test]
fn crash_during_write_loads_the_previous_or_the_new_snapshot() {
    // Two previous snapshots with keep=2, so the write also prunes.
    crash_everywhere(&[10, 20], 30, 100);
}

#[test]
fn crash_during_a_multi_append_write_loads_the_previous_or_the_new_snapshot() {
    // Larger than the writer's 64 KiB buffer: the payload takes several appends, so crashes
    // fall between them.
    crash_everywhere(&[10, 20], 30, 70_000);
}

#[test]
fn the_crash_model_does_lose_unsynced_writes() {
    // Guards the test itself: without syncs, nothing written survives a crash.
    let sim = SimStorage::new();
    sim.create_dir_all(Path::new("/d")).unwrap();
    let mut f = sim.create(Path::new("/d/f")).unwrap();
    f.append(b"abc").unwrap();
    sim.crash(CrashMode {
        names_survive: true,
        data: DataFate::Lost,
    });
    assert_eq!(sim.read(Path::new("/d/f")).unwrap(), b"");

    // A synced file in a directory whose own entry was never synced is lost with it.
    let sim = SimStorage::new();
    sim.create_dir_all(Path::new("/d")).unwrap();
    let mut f = sim.create(Path::new("/d/f")).unwrap();
    f.append(b"abc").unwrap();
    f.sync().unwrap();
    sim.sync_dir(Path::new("/d")).unwrap();
    sim.crash(CrashMode {
        names_survive: false,
        data: DataFate::Kept,
    });
    assert!(sim.file_names().is_empty());
}
