//! The writer: one thread owns the open segment and turns queued entries into group commits.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::thread::{self, JoinHandle};

use crate::config::{WalConfig, parent_dir};
use crate::error::WalError;
use crate::format::{FRAME_HEADER_LEN, MAX_PAYLOAD, RecordLoc, SEGMENT_HEADER_LEN, SegmentHeader, seal_frame};
use crate::recover::Recovered;
use crate::segments;
use crate::storage::{Storage, StorageFile};

/// The caller's side of the writer: numbers, encodes and acknowledges entries. Every method
/// runs on the writer thread, in log order.
pub trait Sequencer: Send + 'static {
    type Entry: Send + 'static;
    /// Called on the writer thread in log order: append the record payload for `entry`
    /// (which now has number `seq`) to `out`.
    fn encode(&mut self, seq: u64, entry: &mut Self::Entry, out: &mut Vec<u8>);
    /// Called on the writer thread in log order, after the batch holding `seq` was written
    /// and fdatasync'd.
    fn durable(&mut self, seq: u64, loc: RecordLoc, entry: Self::Entry);
    /// Called for every entry that will never be durable because the log failed (fail-stop)
    /// or shut down. Also for an entry whose payload exceeds [`MAX_PAYLOAD`]
    /// ([`WalError::RecordTooLarge`]); its seq is then given to the next entry.
    ///
    /// "Never acknowledged" is not "absent": bytes whose fdatasync failed may still have
    /// reached the disk, or be read back from the page cache by a restart without power loss,
    /// and recovery replays any valid record it finds.
    fn failed(&mut self, entry: Self::Entry, error: &WalError);
    /// Called after each durable batch (records in it); default does nothing.
    fn batch_done(&mut self, _records: usize) {}
}

/// Counters of the writer; read them any time.
#[derive(Debug, Default)]
pub struct WalStats {
    /// Records made durable.
    pub records: AtomicU64,
    /// Durable batches, i.e. fdatasyncs of record data.
    pub batches: AtomicU64,
    /// Record bytes (frames) made durable.
    pub bytes: AtomicU64,
    /// Segments created by the writer.
    pub segments_created: AtomicU64,
}

impl WalStats {
    /// Average records per fdatasync: the group commit factor (0 before the first batch).
    pub fn records_per_fsync(&self) -> f64 {
        let batches = self.batches.load(Ordering::Relaxed);
        if batches == 0 {
            return 0.0;
        }
        self.records.load(Ordering::Relaxed) as f64 / batches as f64
    }
}

/// State shared by the handle and the thread.
struct Shared<E> {
    /// The only sender; `None` once stopped, so no entry can slip into a queue nobody drains.
    tx: RwLock<Option<Sender<E>>>,
    failed: AtomicBool,
    failure: Mutex<Option<String>>,
}

impl<E> Shared<E> {
    fn close(&self) {
        self.tx.write().unwrap_or_else(PoisonError::into_inner).take();
    }
}

/// Handle on the writer thread. `Send + Sync`: share it (e.g. in an `Arc`) among producers.
pub struct WalWriter<E> {
    shared: Arc<Shared<E>>,
    stats: Arc<WalStats>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl<E: Send + 'static> WalWriter<E> {
    /// Opens the newest segment where `recovered` left it (or creates segment 1 in an empty
    /// directory, creating the directory) and starts the `wal-writer` thread.
    pub fn start<S: Sequencer<Entry = E>>(
        storage: Arc<dyn Storage>,
        config: WalConfig,
        recovered: &Recovered,
        sequencer: S,
    ) -> Result<Self, WalError> {
        config.validate()?;
        let (file, segment, seg_len) = open_segment(&*storage, &config, recovered)?;
        let (tx, rx) = mpsc::channel();
        let shared = Arc::new(Shared {
            tx: RwLock::new(Some(tx)),
            failed: AtomicBool::new(false),
            failure: Mutex::new(None),
        });
        let stats = Arc::new(WalStats::default());
        let writer = Writer {
            storage,
            config,
            sequencer,
            file,
            segment,
            seg_len,
            dirty: false,
            next_seq: recovered.next_seq,
            batch: Vec::new(),
            pending: VecDeque::new(),
            stats: stats.clone(),
            shared: shared.clone(),
        };
        let guard = PanicGuard(shared.clone());
        let handle = thread::Builder::new()
            .name("wal-writer".into())
            .spawn(move || {
                writer.run(rx);
                drop(guard);
            })
            .map_err(|source| WalError::Io {
                op: "spawn",
                path: "wal-writer".into(),
                source,
            })?;
        Ok(WalWriter {
            shared,
            stats,
            thread: Mutex::new(Some(handle)),
        })
    }

    /// Queues `entry` without blocking; `Err(entry)` once the writer failed or was shut down.
    /// An accepted entry later gets exactly one of `durable` or `failed`.
    pub fn append(&self, entry: E) -> Result<(), E> {
        if self.is_failed() {
            return Err(entry);
        }
        let tx = self.shared.tx.read().unwrap_or_else(PoisonError::into_inner);
        match tx.as_ref() {
            Some(tx) => tx.send(entry).map_err(|e| e.0),
            None => Err(entry),
        }
    }

    pub fn stats(&self) -> &WalStats {
        &self.stats
    }

    /// A handle on the counters that outlives the writer.
    pub fn stats_handle(&self) -> Arc<WalStats> {
        self.stats.clone()
    }

    /// Whether a write or sync failed (fail-stop): nothing more will be made durable.
    pub fn is_failed(&self) -> bool {
        self.shared.failed.load(Ordering::Acquire)
    }

    /// What made the writer fail, if it did.
    pub fn failure(&self) -> Option<String> {
        self.shared
            .failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Stops taking entries, makes everything already queued durable, stops the thread and
    /// joins it. Idempotent; also done on drop.
    pub fn shutdown(&self) {
        self.shared.close();
        let handle = self.thread.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(handle) = handle {
            // From a Sequencer callback the thread would wait for itself; it ends on its own.
            if handle.thread().id() == thread::current().id() {
                return;
            }
            if handle.join().is_err() {
                tracing::error!("WAL writer thread panicked");
            }
        }
    }
}

impl<E> std::fmt::Debug for WalWriter<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WalWriter")
            .field("failed", &self.shared.failed.load(Ordering::Acquire))
            .field("stats", &self.stats)
            .finish()
    }
}

impl<E> Drop for WalWriter<E> {
    fn drop(&mut self) {
        self.shared.close();
        let handle = self.thread.get_mut().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(handle) = handle
            && handle.thread().id() != thread::current().id()
        {
            let _ = handle.join();
        }
    }
}

/// Opens (or creates) the segment the writer appends to, and makes sure what recovery read
/// in it is durable: a previous process may have died before its last fdatasync.
fn open_segment(
    storage: &dyn Storage,
    config: &WalConfig,
    recovered: &Recovered,
) -> Result<(Box<dyn StorageFile>, u32, u64), WalError> {
    if recovered.next_seq == 0 {
        return Err(WalError::State("next_seq 0: sequence numbers start at 1".into()));
    }
    let in_dir = segments::numbers_in(storage, &config.dir)?;
    let archived = segments::numbers_in(storage, &config.archive_dir())?;
    let newest = in_dir.last().copied().max(archived.last().copied()).unwrap_or(0);
    if newest != recovered.last_segment {
        return Err(WalError::State(format!(
            "the newest segment on storage is {newest}, but recovery ended in segment {}: recover again before starting the writer",
            recovered.last_segment
        )));
    }
    if recovered.last_segment == 0 {
        storage
            .create_dir_all(&config.dir)
            .map_err(WalError::io("create_dir_all", &config.dir))?;
        // The directory entry of a new log directory must be durable as well.
        if let Some(parent) = parent_dir(&config.dir) {
            storage.sync_dir(parent).map_err(WalError::io("sync_dir", parent))?;
        }
        let file = create_segment(storage, config, 1, recovered.next_seq)?;
        return Ok((file, 1, SEGMENT_HEADER_LEN as u64));
    }
    let number = recovered.last_segment;
    if in_dir.last() != Some(&number) {
        // The newest segment was archived by hand: leave it sealed, continue in a new one.
        let next = number.checked_add(1).ok_or_else(segment_numbers_exhausted)?;
        let file = create_segment(storage, config, next, recovered.next_seq)?;
        return Ok((file, next, SEGMENT_HEADER_LEN as u64));
    }
    let path = config.segment_path(number);
    let len = storage.len(&path).map_err(WalError::io("len", &path))?;
    if len != recovered.last_segment_len {
        return Err(WalError::State(format!(
            "{} is {len} bytes, but recovery left it at {}: recover again before starting the writer",
            path.display(),
            recovered.last_segment_len
        )));
    }
    let mut file = storage.open_append(&path).map_err(WalError::io("open_append", &path))?;
    file.sync().map_err(WalError::io("sync", &path))?;
    storage
        .sync_dir(&config.dir)
        .map_err(WalError::io("sync_dir", &config.dir))?;
    Ok((file, number, len))
}

/// Creates segment `number` durably: header written and synced, then the directory synced,
/// before any record goes in (recovery relies on it to treat a bad newest header as torn).
fn create_segment(
    storage: &dyn Storage,
    config: &WalConfig,
    number: u32,
    first_seq: u64,
) -> Result<Box<dyn StorageFile>, WalError> {
    let path = config.segment_path(number);
    let mut file = storage.create(&path).map_err(WalError::io("create", &path))?;
    let header = SegmentHeader {
        segment: number,
        first_seq,
    };
    file.append(&header.encode()).map_err(WalError::io("append", &path))?;
    file.sync().map_err(WalError::io("sync", &path))?;
    storage
        .sync_dir(&config.dir)
        .map_err(WalError::io("sync_dir", &config.dir))?;
    tracing::info!(file = %path.display(), first_seq, "WAL segment created");
    Ok(file)
}

fn segment_numbers_exhausted() -> WalError {
    WalError::State("segment numbers exhausted".into())
}

/// Marks the writer failed if its thread unwinds (a panicking `Sequencer`): `append` then
/// refuses at once. Entries in flight are dropped without callbacks, as the sequencer that
/// would receive them just panicked.
struct PanicGuard<E>(Arc<Shared<E>>);

impl<E> Drop for PanicGuard<E> {
    fn drop(&mut self) {
        if thread::panicking() {
            tracing::error!("WAL writer thread panicked: the log stops");
            *self.0.failure.lock().unwrap_or_else(PoisonError::into_inner) =
                Some("the WAL writer thread panicked".into());
            self.0.failed.store(true, Ordering::Release);
            self.0.close();
        }
    }
}

/// An entry encoded into the batch, waiting for its sync.
struct Pending<E> {
    seq: u64,
    /// Offset of its frame in the batch buffer.
    start: usize,
    entry: E,
}

/// Everything the writer thread owns.
struct Writer<S: Sequencer> {
    storage: Arc<dyn Storage>,
    config: WalConfig,
    sequencer: S,
    file: Box<dyn StorageFile>,
    segment: u32,
    /// Bytes in the open segment, all of them synced unless `dirty`.
    seg_len: u64,
    dirty: bool,
    next_seq: u64,
    /// The one reusable batch buffer: frames are encoded straight into it.
    batch: Vec<u8>,
    pending: VecDeque<Pending<S::Entry>>,
    stats: Arc<WalStats>,
    shared: Arc<Shared<S::Entry>>,
}

impl<S: Sequencer> Writer<S> {
    fn run(mut self, rx: Receiver<S::Entry>) {
        // Blocks for the first entry; ends once the handle closed the channel and the queue
        // is drained.
        while let Ok(first) = rx.recv() {
            self.add(first);
            // Everything that queued up meanwhile (e.g. during the last fsync) joins the batch.
            while self.batch.len() < self.config.max_batch_bytes {
                match rx.try_recv() {
                    Ok(entry) => self.add(entry),
                    Err(_) => break,
                }
            }
            if let Err(error) = self.flush() {
                self.fail(&error, &rx);
                return;
            }
        }
    }

    /// Numbers and encodes one entry into the batch.
    fn add(&mut self, mut entry: S::Entry) {
        let start = self.batch.len();
        self.batch.extend_from_slice(&[0u8; FRAME_HEADER_LEN]);
        self.sequencer.encode(self.next_seq, &mut entry, &mut self.batch);
        let len = self.batch.len() - start - FRAME_HEADER_LEN;
        if len > MAX_PAYLOAD {
            self.batch.truncate(start);
            let error = WalError::RecordTooLarge { len, max: MAX_PAYLOAD };
            tracing::warn!(seq = self.next_seq, len, "WAL entry rejected: payload too large");
            self.sequencer.failed(entry, &error);
            return;
        }
        seal_frame(&mut self.batch[start..], self.next_seq);
        self.pending.push_back(Pending {
            seq: self.next_seq,
            start,
            entry,
        });
        self.next_seq += 1;
    }

    /// Writes and syncs the batch (split where a segment must be rotated), then acknowledges.
    fn flush(&mut self) -> Result<(), WalError> {
        let mut written = 0;
        while !self.pending.is_empty() {
            // How many of the pending frames fit in the open segment.
            let mut count = 0;
            let mut end = written;
            for k in 0..self.pending.len() {
                let frame_end = self.pending.get(k + 1).map_or(self.batch.len(), |p| p.start);
                let fits = self.seg_len + (frame_end - written) as u64 <= self.config.segment_bytes;
                // A record too big for any segment still goes alone into a fresh one.
                let fresh = count == 0 && self.seg_len == SEGMENT_HEADER_LEN as u64;
                if !fits && !fresh {
                    break;
                }
                count += 1;
                end = frame_end;
            }
            if count == 0 {
                self.rotate()?;
                continue;
            }
            self.write_piece(written, end, count)?;
            written = end;
        }
        self.batch.clear();
        Ok(())
    }

    /// One append and one sync for `batch[from..to]` (`count` frames), then the callbacks.
    fn write_piece(&mut self, from: usize, to: usize, count: usize) -> Result<(), WalError> {
        let path = self.config.segment_path(self.segment);
        self.dirty = true;
        self.file
            .append(&self.batch[from..to])
            .map_err(WalError::io("append", &path))?;
        self.file.sync().map_err(WalError::io("sync", &path))?;
        self.dirty = false;
        let base = self.seg_len;
        self.seg_len += (to - from) as u64;
        self.stats.records.fetch_add(count as u64, Ordering::Relaxed);
        self.stats.batches.fetch_add(1, Ordering::Relaxed);
        self.stats.bytes.fetch_add((to - from) as u64, Ordering::Relaxed);
        for _ in 0..count {
            let p = self.pending.pop_front().expect("counted above");
            let loc = RecordLoc {
                segment: self.segment,
                // Fits: frames start below segment_bytes <= u32::MAX (checked by validate).
                offset: (base + (p.start - from) as u64) as u32,
            };
            self.sequencer.durable(p.seq, loc, p.entry);
        }
        self.sequencer.batch_done(count);
        tracing::debug!(
            records = count,
            bytes = to - from,
            records_per_fsync = self.stats.records_per_fsync(),
            "WAL batch durable"
        );
        Ok(())
    }

    /// Seals the open segment and continues in a new one.
    fn rotate(&mut self) -> Result<(), WalError> {
        if self.dirty {
            let path = self.config.segment_path(self.segment);
            self.file.sync().map_err(WalError::io("sync", &path))?;
            self.dirty = false;
        }
        let number = self.segment.checked_add(1).ok_or_else(segment_numbers_exhausted)?;
        let first_seq = self.pending.front().map_or(self.next_seq, |p| p.seq);
        self.file = create_segment(&*self.storage, &self.config, number, first_seq)?;
        self.segment = number;
        self.seg_len = SEGMENT_HEADER_LEN as u64;
        self.stats.segments_created.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Fail-stop: no retry, no further writes; every entry not yet durable gets `failed`.
    fn fail(&mut self, error: &WalError, rx: &Receiver<S::Entry>) {
        tracing::error!(%error, "WAL write failed: the log stops (fail-stop)");
        *self.shared.failure.lock().unwrap_or_else(PoisonError::into_inner) = Some(error.to_string());
        self.shared.failed.store(true, Ordering::Release);
        // After this no append can enqueue, so draining the queue reaches every entry.
        self.shared.close();
        for p in self.pending.drain(..) {
            self.sequencer.failed(p.entry, error);
        }
        while let Ok(entry) = rx.recv() {
            self.sequencer.failed(entry, error);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recover::tests::collect;
    use crate::sim::SimStorage;
    use std::sync::mpsc::Receiver;

    #[derive(Debug, PartialEq, Eq)]
    enum Outcome {
        Durable(u64, RecordLoc),
        Failed(String),
    }

    /// Entry: payload bytes and where to report the outcome.
    type Entry = (Vec<u8>, mpsc::Sender<Outcome>);

    struct Seq {
        batches: Arc<Mutex<Vec<usize>>>,
    }

    impl Sequencer for Seq {
        type Entry = Entry;
        fn encode(&mut self, _seq: u64, entry: &mut Entry, out: &mut Vec<u8>) {
            out.extend_from_slice(&entry.0);
        }
        fn durable(&mut self, seq: u64, loc: RecordLoc, entry: Entry) {
            entry.1.send(Outcome::Durable(seq, loc)).unwrap();
        }
        fn failed(&mut self, entry: Entry, error: &WalError) {
            entry.1.send(Outcome::Failed(error.to_string())).unwrap();
        }
        fn batch_done(&mut self, records: usize) {
            self.batches.lock().unwrap().push(records);
        }
    }

    fn start(sim: &SimStorage, config: &WalConfig) -> (WalWriter<Entry>, Arc<Mutex<Vec<usize>>>) {
        let (r, _) = collect(sim, config, 1).unwrap();
        let batches = Arc::new(Mutex::new(Vec::new()));
        let w = WalWriter::start(
            Arc::new(sim.clone()),
            config.clone(),
            &r,
            Seq {
                batches: batches.clone(),
            },
        )
        .unwrap();
        (w, batches)
    }

    fn append(w: &WalWriter<Entry>, payload: &[u8]) -> Receiver<Outcome> {
        let (tx, rx) = mpsc::channel();
        w.append((payload.to_vec(), tx)).unwrap();
        rx
    }

    #[test]
    fn writer_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<WalWriter<Entry>>();
    }

    #[test]
    fn creates_first_segment_and_acknowledges_in_order() {
        let sim = SimStorage::new();
        let config = WalConfig::new("/w");
        let (w, batches) = start(&sim, &config);
        assert_eq!(sim.file_names(), vec![config.segment_path(1)]);
        let a = append(&w, b"one");
        let b = append(&w, b"two");
        assert_eq!(
            a.recv().unwrap(),
            Outcome::Durable(1, RecordLoc { segment: 1, offset: 28 })
        );
        assert_eq!(
            b.recv().unwrap(),
            Outcome::Durable(
                2,
                RecordLoc {
                    segment: 1,
                    offset: 28 + 19
                }
            )
        );
        w.shutdown();
        w.shutdown();
        assert_eq!(batches.lock().unwrap().iter().sum::<usize>(), 2);
        assert_eq!(w.stats().records.load(Ordering::Relaxed), 2);
        assert_eq!(w.stats().bytes.load(Ordering::Relaxed), 38);
        let (r, got) = collect(&sim.crash(3), &config, 1).unwrap();
        assert_eq!(r.next_seq, 3);
        assert_eq!(got[1].2, b"two");
    }

    #[test]
    fn shutdown_drains_the_queue_and_later_appends_fail() {
        let sim = SimStorage::new();
        let config = WalConfig::new("/w");
        let (w, _) = start(&sim, &config);
        let rxs: Vec<_> = (0..50).map(|i| append(&w, &[i as u8; 10])).collect();
        w.shutdown();
        for (i, rx) in rxs.iter().enumerate() {
            assert!(matches!(rx.try_recv().unwrap(), Outcome::Durable(s, _) if s == i as u64 + 1));
        }
        let (tx, _rx) = mpsc::channel();
        assert!(w.append((vec![1], tx)).is_err());
        assert!(!w.is_failed());
    }

    #[test]
    fn rotates_segments_and_splits_batches_at_the_boundary() {
        let sim = SimStorage::new();
        // Header 28 + room for exactly two 36-byte frames.
        let config = WalConfig::new("/w").with_segment_bytes(28 + 72);
        let (w, _) = start(&sim, &config);
        let rxs: Vec<_> = (0..5).map(|_| append(&w, &[7u8; 20])).collect();
        let locs: Vec<RecordLoc> = rxs
            .iter()
            .map(|rx| match rx.recv().unwrap() {
                Outcome::Durable(_, loc) => loc,
                other => panic!("{other:?}"),
            })
            .collect();
        let want = [(1, 28), (1, 64), (2, 28), (2, 64), (3, 28)];
        let got: Vec<(u32, u32)> = locs.iter().map(|l| (l.segment, l.offset)).collect();
        assert_eq!(got, want);
        w.shutdown();
        assert_eq!(w.stats().segments_created.load(Ordering::Relaxed), 2);
        for n in 1..=2 {
            assert_eq!(sim.len(&config.segment_path(n)).unwrap(), 100);
        }
        let (r, got) = collect(&sim, &config, 1).unwrap();
        assert_eq!((r.next_seq, r.last_segment, got.len()), (6, 3, 5));
    }

    #[test]
    fn oversized_record_gets_its_own_segment() {
        let sim = SimStorage::new();
        let config = WalConfig::new("/w").with_segment_bytes(64);
        let (w, _) = start(&sim, &config);
        let small = append(&w, b"s");
        let big = append(&w, &[1u8; 500]);
        let after = append(&w, b"t");
        assert!(matches!(
            small.recv().unwrap(),
            Outcome::Durable(1, RecordLoc { segment: 1, .. })
        ));
        assert_eq!(
            big.recv().unwrap(),
            Outcome::Durable(2, RecordLoc { segment: 2, offset: 28 })
        );
        assert!(matches!(
            after.recv().unwrap(),
            Outcome::Durable(3, RecordLoc { segment: 3, .. })
        ));
        w.shutdown();
        assert_eq!(collect(&sim, &config, 1).unwrap().0.next_seq, 4);
    }

    #[test]
    fn payload_over_the_limit_fails_only_that_entry() {
        let sim = SimStorage::new();
        let config = WalConfig::new("/w");
        let (w, _) = start(&sim, &config);
        let big = append(&w, &vec![0u8; MAX_PAYLOAD + 1]);
        let ok = append(&w, b"fine");
        assert!(matches!(big.recv().unwrap(), Outcome::Failed(m) if m.contains("exceeds")));
        assert!(matches!(ok.recv().unwrap(), Outcome::Durable(1, _)));
        assert!(!w.is_failed());
    }

    #[test]
    fn continues_the_recovered_segment() {
        let sim = SimStorage::new();
        let config = WalConfig::new("/w");
        let (w, _) = start(&sim, &config);
        append(&w, b"a").recv().unwrap();
        drop(w);
        let (w, _) = start(&sim, &config);
        assert_eq!(
            append(&w, b"b").recv().unwrap(),
            Outcome::Durable(
                2,
                RecordLoc {
                    segment: 1,
                    offset: 28 + 17
                }
            )
        );
        assert_eq!(sim.file_names().len(), 1);
    }

    #[test]
    fn stale_recovered_state_is_refused() {
        let sim = SimStorage::new();
        let config = WalConfig::new("/w");
        let (w, _) = start(&sim, &config);
        append(&w, b"a").recv().unwrap();
        drop(w);
        let batches = Arc::new(Mutex::new(Vec::new()));
        let err = WalWriter::start(
            Arc::new(sim.clone()),
            config,
            &Recovered {
                next_seq: 1,
                ..Recovered::default()
            },
            Seq { batches },
        )
        .err()
        .unwrap();
        assert!(matches!(err, WalError::State(_)), "{err}");
    }

    #[test]
    fn continues_in_a_new_segment_if_the_newest_was_archived() {
        let sim = SimStorage::new();
        let config = WalConfig::new("/w");
        let (w, _) = start(&sim, &config);
        append(&w, b"a").recv().unwrap();
        drop(w);
        sim.create_dir_all(&config.archive_dir()).unwrap();
        sim.rename(&config.segment_path(1), &config.archived_segment_path(1))
            .unwrap();
        let (w, _) = start(&sim, &config);
        assert_eq!(
            append(&w, b"b").recv().unwrap(),
            Outcome::Durable(2, RecordLoc { segment: 2, offset: 28 })
        );
        drop(w);
        let (r, got) = collect(&sim, &config, 1).unwrap();
        assert_eq!((r.next_seq, got.len(), r.last_segment), (3, 2, 2));
    }

    #[test]
    fn panicking_sequencer_marks_the_writer_failed() {
        struct Boom;
        impl Sequencer for Boom {
            type Entry = u8;
            fn encode(&mut self, _: u64, _: &mut u8, _: &mut Vec<u8>) {
                panic!("encode exploded");
            }
            fn durable(&mut self, _: u64, _: RecordLoc, _: u8) {}
            fn failed(&mut self, _: u8, _: &WalError) {}
        }
        let sim = SimStorage::new();
        let config = WalConfig::new("/w");
        let w = WalWriter::start(Arc::new(sim), config, &Recovered::default(), Boom).unwrap();
        w.append(1).unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !w.is_failed() {
            assert!(std::time::Instant::now() < deadline);
            thread::yield_now();
        }
        assert_eq!(w.append(2), Err(2));
        assert!(w.failure().unwrap().contains("panicked"));
        w.shutdown();
    }

    #[test]
    fn failed_sync_stops_everything() {
        let sim = SimStorage::new();
        let config = WalConfig::new("/w");
        let (w, _) = start(&sim, &config);
        sim.fail_sync_after(1);
        assert!(matches!(append(&w, b"a").recv().unwrap(), Outcome::Durable(1, _)));
        assert!(matches!(append(&w, b"b").recv().unwrap(), Outcome::Failed(m) if m.contains("EIO")));
        assert!(w.is_failed());
        assert!(w.failure().unwrap().contains("sync"));
        let (tx, _rx) = mpsc::channel();
        assert!(w.append((b"c".to_vec(), tx)).is_err());
        assert_eq!(w.stats().records.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn records_per_fsync() {
        let s = WalStats::default();
        assert_eq!(s.records_per_fsync(), 0.0);
        s.records.store(10, Ordering::Relaxed);
        s.batches.store(4, Ordering::Relaxed);
        assert_eq!(s.records_per_fsync(), 2.5);
    }
}
