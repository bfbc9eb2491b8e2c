//! Recovery: replays the log from a sequence number, cuts a torn tail, refuses corruption.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::config::{WalConfig, parent_dir};
use crate::error::WalError;
use crate::format::{
    FRAME_HEADER_LEN, HeaderError, MAX_PAYLOAD, RecordLoc, SEGMENT_HEADER_LEN, SegmentHeader, check_frame,
    find_valid_frame,
};
use crate::segments::{self, SegmentFile};
use crate::storage::Storage;

/// What recovery found: where the writer continues. `Default` is an empty log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recovered {
    /// Sequence number the next record gets (1 for an empty log).
    pub next_seq: u64,
    /// Records passed to `apply` (those with seq >= `from_seq`).
    pub records_applied: u64,
    /// Records read and checked, applied or not.
    pub records_checked: u64,
    /// Newest segment number, 0 if there is none.
    pub last_segment: u32,
    /// Length of the newest segment after recovery: where the writer appends.
    pub last_segment_len: u64,
    /// Bytes of torn tail cut off (a rewritten torn segment header counts its whole file).
    pub truncated_bytes: u64,
    /// Segments wholly before `from_seq`, whose records were not read.
    pub segments_skipped: u32,
}

impl Default for Recovered {
    fn default() -> Self {
        Recovered {
            next_seq: 1,
            records_applied: 0,
            records_checked: 0,
            last_segment: 0,
            last_segment_len: 0,
            truncated_bytes: 0,
            segments_skipped: 0,
        }
    }
}

/// An invalid region at the end of a segment, cut once the whole log has been checked.
struct TornTail {
    path: PathBuf,
    offset: u64,
    cut: u64,
    why: String,
}

/// Replays the log into `apply`, from `from_seq` on (0 is taken as 1), and repairs a torn tail.
///
/// Rules (see FORMAT.md): invalid bytes that no valid record follows, anywhere later in the
/// log, are what a crash leaves and are cut off; invalid bytes a valid record follows, a gap
/// or repeat in sequence numbers, or a segment not continuing its predecessor are
/// [`WalError::Corruption`]. Nothing is modified on storage unless the whole log checked out,
/// but `apply` has been called by then: on any error the caller must discard what it built.
pub fn recover(
    storage: Arc<dyn Storage>,
    config: &WalConfig,
    from_seq: u64,
    mut apply: impl FnMut(u64, RecordLoc, &[u8]) -> Result<(), String>,
) -> Result<Recovered, WalError> {
    config.validate()?;
    let storage = &*storage;
    let from_seq = from_seq.max(1);
    let segs = segments::list_all(storage, config)?;
    let Some(last) = segs.last() else {
        if from_seq > 1 {
            return Err(WalError::corruption(
                &config.dir,
                0,
                format!(
                    "recovery must start at seq {from_seq}, but the log is empty: records 1..={} are missing",
                    from_seq - 1
                ),
            ));
        }
        return Ok(Recovered::default());
    };
    if let Some(w) = segs.windows(2).find(|w| w[1].number != w[0].number + 1) {
        return Err(WalError::corruption(
            &w[1].path,
            0,
            format!(
                "segment {} is missing (segment {} follows segment {})",
                w[0].number + 1,
                w[1].number,
                w[0].number
            ),
        ));
    }
    let headers = read_headers(storage, &segs)?;

    // Skip segments wholly before `from_seq`: those whose successor starts at or before it.
    let mut start = 0;
    while start + 1 < segs.len() {
        let (Some(cur), Some(next)) = (headers[start], headers[start + 1]) else {
            break;
        };
        if next.first_seq < cur.first_seq {
            return Err(WalError::corruption(
                &segs[start + 1].path,
                0,
                format!(
                    "segment starts at seq {}, before its predecessor (seq {})",
                    next.first_seq, cur.first_seq
                ),
            ));
        }
        if next.first_seq > from_seq {
            break;
        }
        start += 1;
    }
    if let Some(h) = headers[start]
        && h.first_seq > from_seq
    {
        return Err(WalError::corruption(
            &segs[start].path,
            0,
            format!(
                "recovery must start at seq {from_seq}, but the oldest segment starts at seq {}: records {from_seq}..={} are missing",
                h.first_seq,
                h.first_seq - 1
            ),
        ));
    }

    let mut expected = headers[start].map_or(1, |h| h.first_seq);
    let mut out = Recovered {
        last_segment: last.number,
        segments_skipped: start as u32,
        ..Recovered::default()
    };
    let mut torn: Vec<TornTail> = Vec::new();
    let mut rewrite_torn_header = None;
    let mut window = Window::default();
    for (seg, header) in segs.iter().zip(&headers).skip(start) {
        let file_len = storage.len(&seg.path).map_err(WalError::io("read", &seg.path))?;
        let whole = || storage.read(&seg.path).map_err(WalError::io("read", &seg.path));
        // An earlier invalid region is only a torn tail if nothing valid comes after it.
        if let Some(t) = torn.first()
            && let Some(pos) = find_valid_frame(&whole()?, SEGMENT_HEADER_LEN)
        {
            return Err(WalError::corruption(
                &t.path,
                t.offset,
                format!(
                    "{}, but a valid record follows in {} at byte offset {pos}",
                    t.why,
                    seg.path.display()
                ),
            ));
        }
        let Some(header) = header else {
            // The newest segment, with an incomplete or failing header: a crash while it was
            // being created (its header is synced before any record goes in), unless records
            // follow.
            if let Some(pos) = find_valid_frame(&whole()?, SEGMENT_HEADER_LEN) {
                return Err(WalError::corruption(
                    &seg.path,
                    0,
                    format!("bad segment header, but a valid record follows at byte offset {pos}"),
                ));
            }
            rewrite_torn_header = Some((seg, file_len));
            out.last_segment_len = SEGMENT_HEADER_LEN as u64;
            break;
        };
        if seg.number != segs[start].number && header.first_seq != expected {
            return Err(WalError::corruption(
                &seg.path,
                0,
                format!(
                    "segment starts at seq {}, but the previous segment ends at seq {}",
                    header.first_seq,
                    expected - 1
                ),
            ));
        }
        let file_len = usize::try_from(file_len)
            .map_err(|_| WalError::corruption(&seg.path, 0, "segment larger than memory can address"))?;
        window.start_segment();
        let mut pos = SEGMENT_HEADER_LEN;
        while pos < file_len {
            let frame = match window.frame_at(storage, &seg.path, file_len, pos)? {
                Ok(frame) => frame,
                Err(why) => {
                    // Rare (a crash's torn tail, or corruption): judged on the whole segment.
                    if let Some(next) = find_valid_frame(&whole()?, pos + 1) {
                        return Err(WalError::corruption(
                            &seg.path,
                            pos as u64,
                            format!("{why}, but a valid record follows at byte offset {next}"),
                        ));
                    }
                    torn.push(TornTail {
                        path: seg.path.clone(),
                        offset: pos as u64,
                        cut: (file_len - pos) as u64,
                        why,
                    });
                    break;
                }
            };
            if frame.seq != expected {
                let reason = if frame.seq < expected {
                    format!(
                        "sequence number {} repeats or goes back (expected {expected})",
                        frame.seq
                    )
                } else {
                    format!("sequence gap: expected seq {expected}, found {}", frame.seq)
                };
                return Err(WalError::corruption(&seg.path, pos as u64, reason));
            }
            let offset = u32::try_from(pos)
                .map_err(|_| WalError::corruption(&seg.path, pos as u64, "record offset exceeds 32 bits"))?;
            if frame.seq >= from_seq {
                let loc = RecordLoc {
                    segment: seg.number,
                    offset,
                };
                apply(frame.seq, loc, frame.payload).map_err(|message| WalError::Apply {
                    seq: frame.seq,
                    message,
                })?;
                out.records_applied += 1;
            }
            out.records_checked += 1;
            expected += 1;
            pos += frame.len();
        }
        out.last_segment_len = pos as u64;
    }
    out.next_seq = expected;
    if from_seq > out.next_seq {
        return Err(WalError::corruption(
            &last.path,
            out.last_segment_len,
            format!(
                "recovery must start at seq {from_seq} (the snapshot covers everything before it), but the log ends at seq {}: records {}..={} are missing",
                out.next_seq - 1,
                out.next_seq,
                from_seq - 1
            ),
        ));
    }

    // The whole log checked out: now repair.
    for t in &torn {
        storage
            .truncate(&t.path, t.offset)
            .map_err(WalError::io("truncate", &t.path))?;
        tracing::warn!(
            file = %t.path.display(),
            offset = t.offset,
            bytes_cut = t.cut,
            reason = %t.why,
            "WAL torn tail cut off"
        );
        out.truncated_bytes += t.cut;
    }
    if let Some((seg, old_len)) = rewrite_torn_header {
        rewrite_header(storage, seg, out.next_seq)?;
        tracing::warn!(
            file = %seg.path.display(),
            bytes_discarded = old_len,
            first_seq = out.next_seq,
            "WAL segment with a torn header rewritten as an empty segment"
        );
        out.truncated_bytes += old_len;
    }
    Ok(out)
}

/// Part of a segment in memory. Replay reads segments through it in chunks rather than whole:
/// a whole 64 MiB segment per read cost the kernel's page zeroing on every segment, and the
/// freed buffers stayed in the allocator after recovery (~60 MiB of RSS).
struct Window {
    buf: Vec<u8>,
    /// Segment offset of `buf[0]`; `buf` is empty when nothing of the segment is loaded.
    start: usize,
    /// Bytes read at a time (more when one frame is larger).
    chunk: usize,
}

impl Default for Window {
    fn default() -> Self {
        Window {
            buf: Vec::new(),
            start: 0,
            chunk: 4 << 20,
        }
    }
}

impl Window {
    fn start_segment(&mut self) {
        self.buf.clear();
        self.start = 0;
    }

    /// The frame at segment offset `pos`, as `check_frame` judges it on the segment's bytes
    /// from `pos` on (all of them up to the frame's end, or to the end of the file).
    fn frame_at(
        &mut self,
        storage: &dyn Storage,
        path: &Path,
        file_len: usize,
        pos: usize,
    ) -> Result<Result<crate::format::Frame<'_>, String>, WalError> {
        let left = file_len - pos;
        self.load(storage, path, file_len, pos, FRAME_HEADER_LEN.min(left))?;
        if left >= FRAME_HEADER_LEN {
            let at = pos - self.start;
            let len = crate::format::u32_at(&self.buf, at) as usize;
            if len <= MAX_PAYLOAD {
                self.load(storage, path, file_len, pos, (FRAME_HEADER_LEN + len).min(left))?;
            }
        }
        // Only the bytes up to the file's end count, whatever the buffer holds beyond.
        let end = file_len - self.start;
        Ok(check_frame(&self.buf[..end.min(self.buf.len())], pos - self.start))
    }

    /// Makes `need` bytes from segment offset `pos` available, reading a chunk when they are not.
    fn load(
        &mut self,
        storage: &dyn Storage,
        path: &Path,
        file_len: usize,
        pos: usize,
        need: usize,
    ) -> Result<(), WalError> {
        let loaded = !self.buf.is_empty() && pos >= self.start && pos + need <= self.start + self.buf.len();
        if loaded {
            return Ok(());
        }
        let len = need.max(self.chunk).min(file_len - pos);
        self.buf.resize(len, 0);
        storage
            .read_at(path, pos as u64, &mut self.buf)
            .map_err(WalError::io("read", path))?;
        self.start = pos;
        Ok(())
    }
}

/// Headers of all segments; `None` only for a newest segment whose header is torn.
fn read_headers(storage: &dyn Storage, segs: &[SegmentFile]) -> Result<Vec<Option<SegmentHeader>>, WalError> {
    let newest = segs.len() - 1;
    let mut headers = Vec::with_capacity(segs.len());
    for (i, seg) in segs.iter().enumerate() {
        match segments::read_header(storage, &seg.path)? {
            Ok(h) if h.segment != seg.number => {
                return Err(WalError::corruption(
                    &seg.path,
                    0,
                    format!(
                        "segment header names segment {}, but the file is segment {}",
                        h.segment, seg.number
                    ),
                ));
            }
            Ok(h) if h.first_seq == 0 => {
                return Err(WalError::corruption(
                    &seg.path,
                    0,
                    "segment header says the log starts at seq 0",
                ));
            }
            Ok(h) => headers.push(Some(h)),
            Err(HeaderError::Torn(_)) if i == newest => headers.push(None),
            Err(e) => return Err(WalError::corruption(&seg.path, 0, e.to_string())),
        }
    }
    Ok(headers)
}

/// Replaces a torn newest segment by an empty one that starts at `first_seq`, durably.
fn rewrite_header(storage: &dyn Storage, seg: &SegmentFile, first_seq: u64) -> Result<(), WalError> {
    let path = &seg.path;
    let header = SegmentHeader {
        segment: seg.number,
        first_seq,
    };
    let mut file = storage.create(path).map_err(WalError::io("create", path))?;
    file.append(&header.encode()).map_err(WalError::io("append", path))?;
    file.sync().map_err(WalError::io("sync", path))?;
    sync_parent(storage, path)
}

fn sync_parent(storage: &dyn Storage, path: &Path) -> Result<(), WalError> {
    let dir = parent_dir(path).unwrap_or(Path::new("."));
    storage.sync_dir(dir).map_err(WalError::io("sync_dir", dir))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::format::encode_frame;
    use crate::sim::SimStorage;

    #[test]
    fn a_window_reads_frames_across_chunk_edges_as_the_whole_segment_would() {
        let sim = SimStorage::new();
        let config = WalConfig::new("/wal");
        let seqs: Vec<u64> = (1..=200).collect();
        write_segment(&sim, &config, 1, 1, &seqs);
        let path = config.segment_path(1);
        let mut torn = sim.open_append(&path).unwrap();
        // A torn tail: a frame header promising more bytes than the file has.
        let mut tail = Vec::new();
        encode_frame(201, b"never finished", &mut tail);
        torn.append(&tail[..20]).unwrap();
        torn.sync().unwrap();
        let whole = sim.read(&path).unwrap();
        for chunk in [1, 7, 16, 17, 64, 1000, 1 << 20] {
            let mut window = Window {
                chunk,
                ..Window::default()
            };
            let mut pos = SEGMENT_HEADER_LEN;
            while pos < whole.len() {
                let expected = check_frame(&whole, pos);
                let got = window.frame_at(&sim, &path, whole.len(), pos).unwrap();
                assert_eq!(got, expected, "chunk {chunk}, offset {pos}");
                match got {
                    Ok(frame) => pos += frame.len(),
                    Err(_) => break,
                }
            }
            assert_eq!(pos, whole.len() - 20, "chunk {chunk} stops at the torn tail");
        }
    }

    /// Writes segment `number` holding `seqs` (payload = seq as text), durably.
    /// Returns each frame's offset.
    pub(crate) fn write_segment(
        sim: &SimStorage,
        config: &WalConfig,
        number: u32,
        first_seq: u64,
        seqs: &[u64],
    ) -> Vec<u64> {
        sim.create_dir_all(&config.dir).unwrap();
        let mut buf = SegmentHeader {
            segment: number,
            first_seq,
        }
        .encode()
        .to_vec();
        let mut offsets = Vec::new();
        for &seq in seqs {
            offsets.push(buf.len() as u64);
            encode_frame(seq, format!("record {seq}").as_bytes(), &mut buf);
        }
        let path = config.segment_path(number);
        let mut f = sim.create(&path).unwrap();
        f.append(&buf).unwrap();
        f.sync().unwrap();
        sim.sync_dir(&config.dir).unwrap();
        offsets
    }

    /// What `apply` was given: seq, location, payload.
    pub(crate) type Applied = Vec<(u64, RecordLoc, Vec<u8>)>;

    pub(crate) fn collect(
        sim: &SimStorage,
        config: &WalConfig,
        from_seq: u64,
    ) -> Result<(Recovered, Applied), WalError> {
        let mut got = Vec::new();
        let r = recover(Arc::new(sim.clone()), config, from_seq, |seq, loc, p| {
            got.push((seq, loc, p.to_vec()));
            Ok(())
        })?;
        Ok((r, got))
    }

    fn corruption(err: WalError) -> (PathBuf, u64, String) {
        match err {
            WalError::Corruption { file, offset, reason } => (file, offset, reason),
            other => panic!("expected corruption, got {other:?}"),
        }
    }

    fn config() -> WalConfig {
        WalConfig::new("/w")
    }

    #[test]
    fn empty_log() {
        let sim = SimStorage::new();
        let (r, got) = collect(&sim, &config(), 0).unwrap();
        assert_eq!(r.next_seq, 1);
        assert_eq!(r.last_segment, 0);
        assert!(got.is_empty());
        let (_, _, reason) = corruption(collect(&sim, &config(), 5).unwrap_err());
        assert!(reason.contains("records 1..=4 are missing"), "{reason}");
    }

    #[test]
    fn replays_in_order_with_locations() {
        let sim = SimStorage::new();
        let c = config();
        let o1 = write_segment(&sim, &c, 1, 1, &[1, 2, 3]);
        let o2 = write_segment(&sim, &c, 2, 4, &[4, 5]);
        let (r, got) = collect(&sim, &c, 1).unwrap();
        assert_eq!(r.next_seq, 6);
        assert_eq!(r.records_applied, 5);
        assert_eq!(r.last_segment, 2);
        assert_eq!(r.last_segment_len, sim.len(&c.segment_path(2)).unwrap());
        assert_eq!(r.truncated_bytes, 0);
        let seqs: Vec<u64> = got.iter().map(|g| g.0).collect();
        assert_eq!(seqs, [1, 2, 3, 4, 5]);
        assert_eq!(
            got[2].1,
            RecordLoc {
                segment: 1,
                offset: o1[2] as u32
            }
        );
        assert_eq!(
            got[4].1,
            RecordLoc {
                segment: 2,
                offset: o2[1] as u32
            }
        );
        assert_eq!(got[4].2, b"record 5");
    }

    #[test]
    fn from_seq_skips_whole_segments_and_checks_the_rest() {
        let sim = SimStorage::new();
        let c = config();
        write_segment(&sim, &c, 1, 1, &[1, 2, 3]);
        write_segment(&sim, &c, 2, 4, &[4, 5, 6]);
        write_segment(&sim, &c, 3, 7, &[7]);
        // Damage in a skipped segment's records is not seen (they are not read).
        sim.corrupt_byte(&c.segment_path(1), 40).unwrap();
        let (r, got) = collect(&sim, &c, 5).unwrap();
        assert_eq!(r.segments_skipped, 1);
        assert_eq!(r.records_checked, 4);
        assert_eq!(r.records_applied, 3);
        assert_eq!(got.iter().map(|g| g.0).collect::<Vec<_>>(), [5, 6, 7]);
        // from_seq at a segment boundary skips the segment before it.
        let (r, _) = collect(&sim, &c, 7).unwrap();
        assert_eq!(r.segments_skipped, 2);
        // Exactly next_seq: nothing to apply, not an error.
        let (r, got) = collect(&sim, &c, 8).unwrap();
        assert_eq!((r.next_seq, got.len()), (8, 0));
        let (_, _, reason) = corruption(collect(&sim, &c, 9).unwrap_err());
        assert!(reason.contains("records 8..=8 are missing"), "{reason}");
    }

    #[test]
    fn oldest_segment_after_from_seq_is_corruption() {
        let sim = SimStorage::new();
        let c = config();
        write_segment(&sim, &c, 4, 10, &[10, 11]);
        let (file, offset, reason) = corruption(collect(&sim, &c, 3).unwrap_err());
        assert_eq!((file, offset), (c.segment_path(4), 0));
        assert!(reason.contains("records 3..=9 are missing"), "{reason}");
        assert_eq!(collect(&sim, &c, 10).unwrap().0.next_seq, 12);
    }

    #[test]
    fn torn_tail_is_cut_durably() {
        let sim = SimStorage::new();
        let c = config();
        write_segment(&sim, &c, 1, 1, &[1, 2]);
        let path = c.segment_path(1);
        let good = sim.len(&path).unwrap();
        let mut f = sim.open_append(&path).unwrap();
        let mut frame = Vec::new();
        encode_frame(3, b"never synced", &mut frame);
        f.append(&frame[..frame.len() - 3]).unwrap();
        let (r, got) = collect(&sim, &c, 1).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(r.next_seq, 3);
        assert_eq!(r.truncated_bytes, frame.len() as u64 - 3);
        assert_eq!(r.last_segment_len, good);
        assert_eq!(sim.crash(9).len(&path).unwrap(), good, "the cut is durable");
    }

    #[test]
    fn bad_record_followed_by_valid_one_is_corruption() {
        let sim = SimStorage::new();
        let c = config();
        let offs = write_segment(&sim, &c, 1, 1, &[1, 2, 3]);
        sim.corrupt_byte(&c.segment_path(1), offs[1] + 17).unwrap();
        let (file, offset, reason) = corruption(collect(&sim, &c, 1).unwrap_err());
        assert_eq!((file, offset), (c.segment_path(1), offs[1]));
        assert!(reason.contains("crc mismatch"), "{reason}");
        assert!(reason.contains(&format!("valid record follows at byte offset {}", offs[2])));
        // Nothing was cut.
        assert_eq!(sim.len(&c.segment_path(1)).unwrap(), offs[2] + 16 + 8);
    }

    #[test]
    fn torn_tail_followed_by_valid_segment_is_corruption() {
        let sim = SimStorage::new();
        let c = config();
        let offs = write_segment(&sim, &c, 1, 1, &[1, 2]);
        write_segment(&sim, &c, 2, 3, &[3]);
        sim.corrupt_byte(&c.segment_path(1), offs[1] + 20).unwrap();
        let (file, offset, reason) = corruption(collect(&sim, &c, 1).unwrap_err());
        assert_eq!((file, offset), (c.segment_path(1), offs[1]));
        assert!(reason.contains("wal-0000000002.log at byte offset 28"), "{reason}");
    }

    #[test]
    fn sequence_gaps_and_repeats_are_corruption() {
        let sim = SimStorage::new();
        let c = config();
        let offs = write_segment(&sim, &c, 1, 1, &[1, 2, 4]);
        let (_, offset, reason) = corruption(collect(&sim, &c, 1).unwrap_err());
        assert_eq!(offset, offs[2]);
        assert!(reason.contains("expected seq 3, found 4"), "{reason}");

        let sim = SimStorage::new();
        let offs = write_segment(&sim, &c, 1, 1, &[1, 2, 2]);
        let (_, offset, reason) = corruption(collect(&sim, &c, 1).unwrap_err());
        assert_eq!(offset, offs[2]);
        assert!(reason.contains("repeats"), "{reason}");

        // First record must match the header's first seq.
        let sim = SimStorage::new();
        write_segment(&sim, &c, 1, 1, &[2]);
        assert!(collect(&sim, &c, 1).is_err());
    }

    #[test]
    fn segment_chain_breaks_are_corruption() {
        let c = config();
        // Next segment does not continue the previous one.
        let sim = SimStorage::new();
        write_segment(&sim, &c, 1, 1, &[1, 2]);
        write_segment(&sim, &c, 2, 4, &[4]);
        let (file, offset, reason) = corruption(collect(&sim, &c, 1).unwrap_err());
        assert_eq!((file, offset), (c.segment_path(2), 0));
        assert!(reason.contains("previous segment ends at seq 2"), "{reason}");
        // A missing segment number.
        let sim = SimStorage::new();
        write_segment(&sim, &c, 1, 1, &[1]);
        write_segment(&sim, &c, 3, 2, &[2]);
        let (_, _, reason) = corruption(collect(&sim, &c, 1).unwrap_err());
        assert!(reason.contains("segment 2 is missing"), "{reason}");
        // A header naming another segment.
        let sim = SimStorage::new();
        write_segment(&sim, &c, 1, 1, &[1]);
        sim.rename(&c.segment_path(1), &c.segment_path(2)).unwrap();
        let (_, _, reason) = corruption(collect(&sim, &c, 1).unwrap_err());
        assert!(reason.contains("names segment 1"), "{reason}");
    }

    #[test]
    fn seq_zero_is_corruption() {
        let sim = SimStorage::new();
        let c = config();
        write_segment(&sim, &c, 1, 0, &[0, 1]);
        let (_, offset, reason) = corruption(collect(&sim, &c, 1).unwrap_err());
        assert_eq!(offset, 0);
        assert!(reason.contains("seq 0"), "{reason}");
    }

    #[test]
    fn bad_header_in_older_segment_is_corruption() {
        let sim = SimStorage::new();
        let c = config();
        write_segment(&sim, &c, 1, 1, &[1]);
        write_segment(&sim, &c, 2, 2, &[2]);
        sim.corrupt_byte(&c.segment_path(1), 3).unwrap();
        let (file, offset, _) = corruption(collect(&sim, &c, 1).unwrap_err());
        assert_eq!((file, offset), (c.segment_path(1), 0));
    }

    #[test]
    fn torn_newest_header_is_rewritten() {
        let c = config();
        let header = SegmentHeader {
            segment: 2,
            first_seq: 3,
        }
        .encode();
        for len in 0..=SEGMENT_HEADER_LEN {
            let sim = SimStorage::new();
            write_segment(&sim, &c, 1, 1, &[1, 2]);
            let mut f = sim.create(&c.segment_path(2)).unwrap();
            let mut bytes = header[..len].to_vec();
            if len == SEGMENT_HEADER_LEN {
                bytes[20] ^= 0xFF; // complete but failing its crc
            }
            f.append(&bytes).unwrap();
            let (r, got) = collect(&sim, &c, 1).unwrap();
            assert_eq!((r.next_seq, got.len(), r.last_segment), (3, 2, 2), "len {len}");
            assert_eq!(r.last_segment_len, SEGMENT_HEADER_LEN as u64);
            assert_eq!(r.truncated_bytes, len as u64);
            // The rewritten segment is durable and valid.
            let crashed = sim.crash(len as u64);
            assert_eq!(crashed.read(&c.segment_path(2)).unwrap(), header);
            assert_eq!(
                collect(&crashed, &c, 1).unwrap().0,
                Recovered {
                    truncated_bytes: 0,
                    ..r
                }
            );
        }
    }

    #[test]
    fn bad_newest_header_with_records_after_it_is_corruption() {
        let sim = SimStorage::new();
        let c = config();
        write_segment(&sim, &c, 1, 1, &[1, 2]);
        write_segment(&sim, &c, 2, 3, &[3]);
        sim.corrupt_byte(&c.segment_path(2), 0).unwrap();
        let (file, offset, reason) = corruption(collect(&sim, &c, 1).unwrap_err());
        assert_eq!((file, offset), (c.segment_path(2), 0));
        assert!(reason.contains("valid record follows at byte offset 28"), "{reason}");
    }

    #[test]
    fn unsupported_version_is_corruption_even_in_newest_segment() {
        let sim = SimStorage::new();
        let c = config();
        sim.create_dir_all(&c.dir).unwrap();
        let mut h = SegmentHeader {
            segment: 1,
            first_seq: 1,
        }
        .encode();
        h[8] = 9;
        let crc = crc32fast::hash(&h[..24]);
        h[24..].copy_from_slice(&crc.to_le_bytes());
        sim.create(&c.segment_path(1)).unwrap().append(&h).unwrap();
        let (_, _, reason) = corruption(collect(&sim, &c, 1).unwrap_err());
        assert!(reason.contains("version 9"), "{reason}");
    }

    #[test]
    fn apply_error_stops_recovery() {
        let sim = SimStorage::new();
        let c = config();
        write_segment(&sim, &c, 1, 1, &[1, 2, 3]);
        let mut seen = Vec::new();
        let err = recover(Arc::new(sim.clone()), &c, 1, |seq, _, _| {
            seen.push(seq);
            if seq == 2 { Err("no such wallet".into()) } else { Ok(()) }
        })
        .unwrap_err();
        assert_eq!(seen, [1, 2]);
        assert!(matches!(err, WalError::Apply { seq: 2, ref message } if message == "no such wallet"));
        assert_eq!(err.to_string(), "applying WAL record 2 failed: no such wallet");
    }

    #[test]
    fn corruption_display() {
        let e = WalError::corruption(Path::new("/w/wal-0000000001.log"), 44, "bad");
        assert_eq!(
            e.to_string(),
            "WAL corruption in /w/wal-0000000001.log at byte offset 44: bad"
        );
    }
}
