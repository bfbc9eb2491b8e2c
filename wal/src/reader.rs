//! Random reads of single records, and archiving of sealed segments.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::config::WalConfig;
use crate::error::WalError;
use crate::format::{
    FRAME_HEADER_LEN, MAX_PAYLOAD, RecordLoc, SEGMENT_HEADER_LEN, check_frame, segment_file_name, u32_at,
};
use crate::segments;
use crate::storage::Storage;

/// Reads single records by location, from the log directory or its archive.
#[derive(Debug, Clone)]
pub struct WalReader {
    storage: Arc<dyn Storage>,
    config: WalConfig,
}

impl WalReader {
    pub fn new(storage: Arc<dyn Storage>, config: WalConfig) -> Self {
        WalReader { storage, config }
    }

    /// The record whose frame starts at `loc`: its seq and payload, crc checked.
    pub fn read(&self, loc: RecordLoc) -> Result<(u64, Vec<u8>), WalError> {
        if (loc.offset as usize) < SEGMENT_HEADER_LEN {
            return Err(WalError::corruption(
                &self.config.segment_path(loc.segment),
                u64::from(loc.offset),
                "record location inside the segment header",
            ));
        }
        // The log directory first; a segment archived meanwhile (even between our two reads)
        // is then found in the archive.
        for path in [
            self.config.segment_path(loc.segment),
            self.config.archived_segment_path(loc.segment),
        ] {
            match self.read_in(&path, loc) {
                Err(WalError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {}
                other => return other,
            }
        }
        Err(WalError::NotFound { loc })
    }

    fn read_in(&self, path: &Path, loc: RecordLoc) -> Result<(u64, Vec<u8>), WalError> {
        let offset = u64::from(loc.offset);
        let mut frame = vec![0u8; FRAME_HEADER_LEN];
        self.read_exact(path, offset, &mut frame)?;
        let len = u32_at(&frame, 0) as usize;
        if len > MAX_PAYLOAD {
            return Err(WalError::corruption(
                path,
                offset,
                format!("impossible record length {len}"),
            ));
        }
        frame.resize(FRAME_HEADER_LEN + len, 0);
        self.read_exact(path, offset + FRAME_HEADER_LEN as u64, &mut frame[FRAME_HEADER_LEN..])?;
        let seq = check_frame(&frame, 0)
            .map_err(|why| WalError::corruption(path, offset, why))?
            .seq;
        frame.drain(..FRAME_HEADER_LEN);
        Ok((seq, frame))
    }

    fn read_exact(&self, path: &Path, offset: u64, buf: &mut [u8]) -> Result<(), WalError> {
        self.storage.read_at(path, offset, buf).map_err(|e| match e.kind() {
            io::ErrorKind::UnexpectedEof => {
                WalError::corruption(path, offset, "record runs past the end of the segment file")
            }
            _ => WalError::io("read", path)(e),
        })
    }
}

/// Moves the segments whose records all have seq < `below_seq` into `<dir>/archive/`, oldest
/// first, stopping at the first one that does not qualify; the newest segment always stays.
/// Nothing is deleted. Returns the new paths. Safe while the writer runs: it never touches
/// a segment once a newer one exists.
pub fn archive_sealed(storage: Arc<dyn Storage>, config: &WalConfig, below_seq: u64) -> Result<Vec<PathBuf>, WalError> {
    config.validate()?;
    let storage = &*storage;
    let numbers = segments::numbers_in(storage, &config.dir)?;
    let archive = config.archive_dir();
    let already = segments::numbers_in(storage, &archive)?;
    let mut chosen = Vec::new();
    for (i, &number) in numbers.iter().enumerate() {
        let Some(&next) = numbers.get(i + 1) else {
            break; // the newest segment
        };
        if next != number + 1 {
            break; // a hole: leave the rest to recovery to report
        }
        if last_seq_below(storage, config, number, next, numbers.len() - 1 == i + 1)? >= below_seq {
            break;
        }
        if already.contains(&number) {
            return Err(WalError::State(format!(
                "segment {number} is already in {}; refusing to overwrite it",
                archive.display()
            )));
        }
        chosen.push(number);
    }
    if chosen.is_empty() {
        return Ok(Vec::new());
    }
    storage
        .create_dir_all(&archive)
        .map_err(WalError::io("create_dir_all", &archive))?;
    // The archive's own directory entry lives in the log directory.
    storage
        .sync_dir(&config.dir)
        .map_err(WalError::io("sync_dir", &config.dir))?;
    let mut moved = Vec::new();
    for number in chosen {
        let from = config.segment_path(number);
        let to = config.archived_segment_path(number);
        storage.rename(&from, &to).map_err(WalError::io("rename", &from))?;
        tracing::info!(from = %from.display(), to = %to.display(), "WAL segment archived");
        moved.push(to);
    }
    storage.sync_dir(&archive).map_err(WalError::io("sync_dir", &archive))?;
    storage
        .sync_dir(&config.dir)
        .map_err(WalError::io("sync_dir", &config.dir))?;
    Ok(moved)
}

/// One past the last seq in sealed segment `number`, i.e. the seq its successor starts at.
fn last_seq_below(
    storage: &dyn Storage,
    config: &WalConfig,
    number: u32,
    next: u32,
    next_is_newest: bool,
) -> Result<u64, WalError> {
    if !next_is_newest {
        // A segment with a successor was complete and synced before that successor was
        // created, so its header is trustworthy.
        let path = config.segment_path(next);
        return match segments::read_header(storage, &path)? {
            Ok(h) => Ok(h.first_seq),
            Err(e) => Err(WalError::corruption(&path, 0, e.to_string())),
        };
    }
    // The newest segment's header may still be in flight: count the records instead.
    let path = config.segment_path(number);
    let data = storage.read(&path).map_err(WalError::io("read", &path))?;
    let header = match segments::read_header(storage, &path)? {
        Ok(h) => h,
        Err(e) => return Err(WalError::corruption(&path, 0, e.to_string())),
    };
    let mut end = header.first_seq;
    let mut pos = SEGMENT_HEADER_LEN;
    while pos < data.len() {
        let frame = check_frame(&data, pos).map_err(|why| {
            WalError::corruption(
                &path,
                pos as u64,
                format!("{why} in sealed segment {}", segment_file_name(number)),
            )
        })?;
        end = frame.seq + 1;
        pos += frame.len();
    }
    Ok(end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recover::tests::{collect, write_segment};
    use crate::sim::SimStorage;

    fn setup() -> (SimStorage, WalConfig, Vec<Vec<u64>>) {
        let sim = SimStorage::new();
        let c = WalConfig::new("/w");
        let offs = vec![
            write_segment(&sim, &c, 1, 1, &[1, 2]),
            write_segment(&sim, &c, 2, 3, &[3, 4]),
            write_segment(&sim, &c, 3, 5, &[5, 6]),
            write_segment(&sim, &c, 4, 7, &[7]),
        ];
        (sim, c, offs)
    }

    #[test]
    fn reads_records_by_location() {
        let (sim, c, offs) = setup();
        let r = WalReader::new(Arc::new(sim.clone()), c.clone());
        let (seq, payload) = r
            .read(RecordLoc {
                segment: 2,
                offset: offs[1][1] as u32,
            })
            .unwrap();
        assert_eq!((seq, payload.as_slice()), (4, &b"record 4"[..]));
        let err = r.read(RecordLoc { segment: 9, offset: 28 }).unwrap_err();
        assert!(matches!(err, WalError::NotFound { .. }), "{err}");
        let err = r.read(RecordLoc { segment: 2, offset: 3 }).unwrap_err();
        assert!(matches!(err, WalError::Corruption { .. }), "{err}");
        let err = r.read(RecordLoc { segment: 2, offset: 29 }).unwrap_err();
        assert!(matches!(err, WalError::Corruption { .. }), "{err}");
        sim.corrupt_byte(&c.segment_path(2), offs[1][1] + 18).unwrap();
        let err = r
            .read(RecordLoc {
                segment: 2,
                offset: offs[1][1] as u32,
            })
            .unwrap_err();
        assert!(err.to_string().contains("crc mismatch"), "{err}");
    }

    #[test]
    fn archives_only_whole_segments_below_the_seq() {
        let (sim, c, offs) = setup();
        let storage: Arc<dyn Storage> = Arc::new(sim.clone());
        // Segment 2 holds 3 and 4: not all below 4.
        let moved = archive_sealed(storage.clone(), &c, 4).unwrap();
        assert_eq!(moved, vec![c.archived_segment_path(1)]);
        let moved = archive_sealed(storage.clone(), &c, 100).unwrap();
        assert_eq!(moved, vec![c.archived_segment_path(2), c.archived_segment_path(3)]);
        assert!(archive_sealed(storage.clone(), &c, 100).unwrap().is_empty());
        // The newest stays; nothing is gone; the moves are durable.
        let crashed = sim.crash(5);
        assert_eq!(crashed.file_names(), sim.file_names());
        assert_eq!(sim.list(&c.dir).unwrap(), vec!["wal-0000000004.log"]);
        // Records are still readable, and recovery still sees the whole log.
        let r = WalReader::new(storage, c.clone());
        let (seq, _) = r
            .read(RecordLoc {
                segment: 1,
                offset: offs[0][0] as u32,
            })
            .unwrap();
        assert_eq!(seq, 1);
        let (rec, got) = collect(&sim, &c, 1).unwrap();
        assert_eq!((rec.next_seq, got.len()), (8, 7));
    }

    #[test]
    fn archive_refuses_to_overwrite() {
        let (sim, c, _) = setup();
        sim.create_dir_all(&c.archive_dir()).unwrap();
        sim.create(&c.archived_segment_path(1)).unwrap();
        let err = archive_sealed(Arc::new(sim), &c, 100).unwrap_err();
        assert!(matches!(err, WalError::State(_)), "{err}");
    }
}
