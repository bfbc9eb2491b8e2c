//! The snapshot directory: crash-safe writes, retention, and loading the newest valid snapshot.
//!
//! Write protocol (the order is what makes it crash-safe):
//! 1. write header, payload and crc to `snapshot-<seq>.snap.tmp` (never read by `load`/`list`);
//! 2. sync the temp file, so its content is durable before any name points at it;
//! 3. rename it to `snapshot-<seq>.snap`, atomic: readers see the old set or the new file whole;
//! 4. sync the directory, so the rename itself survives a power loss;
//! 5. only then prune old snapshots and leftover temp files: the new snapshot is already durable,
//!    so a crash while pruning cannot leave fewer valid snapshots than before the write.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use walletd_wal::{Storage, StorageFile};

use crate::error::SnapshotError;
use crate::format;

/// Appends are batched up to this size so a caller streaming small pieces (an encoder writing
/// field by field) does not cost one storage call per piece.
const BUF_CAP: usize = 64 * 1024;

/// The newest valid snapshot found by [`SnapshotStore::load_latest`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadedSnapshot {
    /// The snapshot covers WAL records `1..=seq`; replay resumes at `seq + 1`.
    pub seq: u64,
    pub payload: Vec<u8>,
    pub path: PathBuf,
    /// Newer snapshot files that failed validation, newest first, with the reason.
    pub skipped: Vec<(PathBuf, String)>,
}

/// A directory of snapshot files, see the module documentation for the write protocol.
#[derive(Debug)]
pub struct SnapshotStore {
    storage: Arc<dyn Storage>,
    dir: PathBuf,
    keep: usize,
    /// Serialises writers: pruning and temp-file cleanup assume no other write is in flight.
    write_state: Mutex<WriteState>,
}

#[derive(Debug, Default)]
struct WriteState {
    /// The directory has been created and its entry synced in the parent by this store.
    dir_ready: bool,
}

impl SnapshotStore {
    /// A store over `dir`, which is created on the first write. `keep` (at least 2, so a
    /// snapshot that rots on disk still leaves a valid older one) is how many of the newest
    /// snapshots survive pruning.
    pub fn new(storage: Arc<dyn Storage>, dir: PathBuf, keep: usize) -> Self {
        SnapshotStore {
            storage,
            dir,
            keep: keep.max(2),
            write_state: Mutex::new(WriteState::default()),
        }
    }

    /// The snapshot directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// How many snapshots pruning keeps (after clamping to at least 2).
    pub fn keep(&self) -> usize {
        self.keep
    }

    /// Durably writes a snapshot covering WAL records `1..=seq` and returns its path.
    ///
    /// When this returns Ok the snapshot survives a crash. Afterwards the oldest snapshots
    /// beyond `keep` (never the one just written) and leftover temp files are removed; that
    /// clean-up is best effort and only logged on failure, since the snapshot itself is safe.
    /// Writing an existing `seq` again atomically replaces that snapshot.
    pub fn write(&self, seq: u64, payload: &[u8]) -> Result<PathBuf, SnapshotError> {
        let mut writer = self.writer(seq, payload.len() as u64)?;
        writer.write_all(payload)?;
        writer.finish()
    }

    /// Starts a streamed snapshot of exactly `payload_len` bytes covering `1..=seq` (the
    /// length comes first because the header carries it). Feed it with
    /// [`SnapshotWriter::write_all`] or [`std::io::Write`], then call [`SnapshotWriter::finish`],
    /// which does what [`SnapshotStore::write`] does after the payload. Dropping the writer
    /// unfinished abandons the snapshot and removes its temp file.
    ///
    /// The writer holds the store's write lock until it is finished or dropped.
    pub fn writer(&self, seq: u64, payload_len: u64) -> Result<SnapshotWriter<'_>, SnapshotError> {
        // The guarded state is one flag that a panicking writer cannot leave half-updated, and
        // files it may have left are handled like any crash leftover: ignore poisoning.
        let mut state = self.write_state.lock().unwrap_or_else(|p| p.into_inner());
        if !state.dir_ready {
            self.prepare_dir()?;
            state.dir_ready = true;
        }
        let tmp = self.dir.join(format::tmp_file_name(seq));
        let file = self.storage.create(&tmp).map_err(SnapshotError::io("create", &tmp))?;
        let header = format::header(seq, payload_len);
        let mut hasher = crc32fast::Hasher::new();
        hasher.update(&header);
        let mut buf = Vec::with_capacity(BUF_CAP);
        buf.extend_from_slice(&header);
        Ok(SnapshotWriter {
            store: self,
            _lock: state,
            seq,
            tmp,
            file,
            hasher,
            buf,
            declared: payload_len,
            written: 0,
            failed: false,
            tmp_gone: false,
        })
    }

    /// Creates the directory and syncs its ancestors, so the directory entries `create_dir_all`
    /// may have added are durable before the first snapshot's durability is claimed.
    ///
    /// Which levels were new is unknown, so every ancestor is synced (once per store). Only
    /// the immediate parent must succeed: a directory further up that cannot even be opened
    /// (no read permission) was not created by us, so the walk stops there.
    fn prepare_dir(&self) -> Result<(), SnapshotError> {
        self.storage
            .create_dir_all(&self.dir)
            .map_err(SnapshotError::io("create_dir_all", &self.dir))?;
        for (level, ancestor) in self.dir.ancestors().skip(1).enumerate() {
            // A relative `dir` ends in "": that is the working directory, and the walk ends
            // there rather than syncing directories outside the path we were given.
            let (ancestor, last) = if ancestor.as_os_str().is_empty() {
                (Path::new("."), true)
            } else {
                (ancestor, false)
            };
            match self.storage.sync_dir(ancestor) {
                Ok(()) => {}
                Err(e) if level == 0 => return Err(SnapshotError::io("sync_dir", ancestor)(e)),
                Err(e) => {
                    tracing::debug!(dir = %ancestor.display(), error = %e, "stopped syncing ancestors of the snapshot directory");
                    break;
                }
            }
            if last {
                break;
            }
        }
        Ok(())
    }

    /// Finished snapshot files, oldest first. Temp files and foreign names are ignored; the
    /// files are not validated.
    pub fn list(&self) -> Result<Vec<(u64, PathBuf)>, SnapshotError> {
        let names = self
            .storage
            .list(&self.dir)
            .map_err(SnapshotError::io("list", &self.dir))?;
        let mut snapshots: Vec<(u64, PathBuf)> = names
            .iter()
            .filter_map(|name| format::parse_file_name(name).map(|seq| (seq, self.dir.join(name))))
            .collect();
        snapshots.sort_by_key(|(seq, _)| *seq);
        Ok(snapshots)
    }

    /// The newest snapshot that validates, falling back past invalid ones (each is logged with
    /// `warn!` and reported in [`LoadedSnapshot::skipped`]).
    ///
    /// `Ok(None)` means no snapshot validates. If [`SnapshotStore::list`] is not empty at that
    /// point, every snapshot was corrupt (and logged), which a caller whose WAL was truncated
    /// behind a snapshot must not mistake for "start from an empty state".
    /// Read errors other than a file vanishing are returned rather than skipped: an I/O error
    /// says nothing about the file being bad, and silently loading an older snapshot would
    /// hide it.
    pub fn load_latest(&self) -> Result<Option<LoadedSnapshot>, SnapshotError> {
        let mut skipped = Vec::new();
        for (seq, path) in self.list()?.into_iter().rev() {
            let mut bytes = match self.storage.read(&path) {
                Ok(bytes) => bytes,
                // Pruned by a concurrent write between `list` and `read`.
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    skip(&mut skipped, path, "removed while loading".to_owned());
                    continue;
                }
                Err(e) => return Err(SnapshotError::io("read", path)(e)),
            };
            match format::validate(seq, &bytes) {
                Ok(range) => {
                    // In place, to avoid holding a second copy of a large payload.
                    bytes.truncate(range.end);
                    bytes.drain(..range.start);
                    return Ok(Some(LoadedSnapshot {
                        seq,
                        payload: bytes,
                        path,
                        skipped,
                    }));
                }
                Err(reason) => skip(&mut skipped, path, reason),
            }
        }
        Ok(None)
    }

    /// Removes the oldest snapshots beyond `keep` (sparing `just_written` even if it is older
    /// than the rest) and every leftover temp file. Runs under the write lock, so no temp file
    /// belongs to a write in flight. Not followed by a directory sync: a removal lost in a crash
    /// only leaves an extra file that the next write prunes again.
    fn prune(&self, just_written: u64) {
        let names = match self.storage.list(&self.dir) {
            Ok(names) => names,
            Err(e) => {
                tracing::warn!(dir = %self.dir.display(), error = %e, "cannot list snapshots to prune");
                return;
            }
        };
        let mut seqs: Vec<u64> = names.iter().filter_map(|n| format::parse_file_name(n)).collect();
        seqs.sort_unstable();
        let excess = seqs.len().saturating_sub(self.keep);
        let old = seqs[..excess]
            .iter()
            .filter(|&&seq| seq != just_written)
            .map(|&seq| format::file_name(seq));
        let tmps = names
            .iter()
            .filter(|n| format::parse_tmp_file_name(n).is_some())
            .cloned();
        for name in old.chain(tmps) {
            let path = self.dir.join(&name);
            match self.storage.remove(&path) {
                Ok(()) => tracing::debug!(path = %path.display(), "removed old snapshot file"),
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "cannot remove old snapshot file")
                }
            }
        }
    }
}

fn skip(skipped: &mut Vec<(PathBuf, String)>, path: PathBuf, reason: String) {
    tracing::warn!(path = %path.display(), %reason, "skipping invalid snapshot");
    skipped.push((path, reason));
}

/// A snapshot being streamed to its temp file; see [`SnapshotStore::writer`].
///
/// Any failed call poisons the writer: a later `finish` fails instead of renaming a file whose
/// content is not what its checksum covers.
pub struct SnapshotWriter<'a> {
    store: &'a SnapshotStore,
    _lock: MutexGuard<'a, WriteState>,
    seq: u64,
    tmp: PathBuf,
    file: Box<dyn StorageFile>,
    hasher: crc32fast::Hasher,
    buf: Vec<u8>,
    declared: u64,
    written: u64,
    failed: bool,
    /// The temp file was renamed into place, so `Drop` has nothing to clean up.
    tmp_gone: bool,
}

impl std::fmt::Debug for SnapshotWriter<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnapshotWriter")
            .field("seq", &self.seq)
            .field("tmp", &self.tmp)
            .field("declared", &self.declared)
            .field("written", &self.written)
            .field("failed", &self.failed)
            .finish_non_exhaustive()
    }
}

impl SnapshotWriter<'_> {
    /// Appends the next piece of the payload.
    pub fn write_all(&mut self, data: &[u8]) -> Result<(), SnapshotError> {
        let result = self.push(data);
        self.failed |= result.is_err();
        result
    }

    fn push(&mut self, data: &[u8]) -> Result<(), SnapshotError> {
        self.check_usable()?;
        let written = self.written + data.len() as u64;
        if written > self.declared {
            return Err(self.length_mismatch(written));
        }
        self.hasher.update(data);
        self.written = written;
        if self.buf.len() + data.len() > BUF_CAP {
            self.flush_buf()?;
            if data.len() >= BUF_CAP {
                return self.append(data);
            }
        }
        self.buf.extend_from_slice(data);
        Ok(())
    }

    /// Completes the snapshot: crc, sync, rename, directory sync, then pruning; see
    /// [`SnapshotStore::write`].
    pub fn finish(mut self) -> Result<PathBuf, SnapshotError> {
        let result = self.finish_inner();
        self.failed |= result.is_err();
        result
    }

    fn finish_inner(&mut self) -> Result<PathBuf, SnapshotError> {
        self.check_usable()?;
        if self.written != self.declared {
            return Err(self.length_mismatch(self.written));
        }
        let crc = self.hasher.clone().finalize();
        self.buf.extend_from_slice(&crc.to_le_bytes());
        self.flush_buf()?;
        self.file.sync().map_err(SnapshotError::io("sync", &self.tmp))?;

        let store = self.store;
        let path = store.dir.join(format::file_name(self.seq));
        store
            .storage
            .rename(&self.tmp, &path)
            .map_err(SnapshotError::io("rename", &self.tmp))?;
        self.tmp_gone = true;
        store
            .storage
            .sync_dir(&store.dir)
            .map_err(SnapshotError::io("sync_dir", &store.dir))?;
        tracing::info!(seq = self.seq, path = %path.display(), bytes = self.written, "snapshot written");
        store.prune(self.seq);
        Ok(path)
    }

    fn check_usable(&self) -> Result<(), SnapshotError> {
        if self.failed {
            return Err(SnapshotError::Aborted { seq: self.seq });
        }
        Ok(())
    }

    fn length_mismatch(&self, written: u64) -> SnapshotError {
        SnapshotError::LengthMismatch {
            seq: self.seq,
            declared: self.declared,
            written,
        }
    }

    fn flush_buf(&mut self) -> Result<(), SnapshotError> {
        if !self.buf.is_empty() {
            let buf = std::mem::take(&mut self.buf);
            let result = self.append(&buf);
            self.buf = buf;
            self.buf.clear();
            result?;
        }
        Ok(())
    }

    fn append(&mut self, data: &[u8]) -> Result<(), SnapshotError> {
        self.file.append(data).map_err(SnapshotError::io("append", &self.tmp))
    }
}

impl io::Write for SnapshotWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_all(buf).map_err(io::Error::other)?;
        Ok(buf.len())
    }

    /// Durability comes from [`SnapshotWriter::finish`] only; there is nothing to do here.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for SnapshotWriter<'_> {
    fn drop(&mut self) {
        // An abandoned or failed write: remove its temp file now rather than at the next write.
        if !self.tmp_gone
            && let Err(e) = self.store.storage.remove(&self.tmp)
        {
            tracing::debug!(path = %self.tmp.display(), error = %e, "cannot remove abandoned snapshot temp file");
        }
    }
}
