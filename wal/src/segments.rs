//! Finding segment files in the log directory and its archive, and reading their headers.

use std::path::{Path, PathBuf};

use crate::config::WalConfig;
use crate::error::WalError;
use crate::format::{HeaderError, SEGMENT_HEADER_LEN, SegmentHeader, parse_segment_file_name};
use crate::storage::Storage;

/// One segment file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SegmentFile {
    pub number: u32,
    pub path: PathBuf,
    pub archived: bool,
}

/// Segment numbers in `dir`, ascending. Other files are ignored.
pub(crate) fn numbers_in(storage: &dyn Storage, dir: &Path) -> Result<Vec<u32>, WalError> {
    let names = storage.list(dir).map_err(WalError::io("list", dir))?;
    let mut numbers: Vec<u32> = names.iter().filter_map(|n| parse_segment_file_name(n)).collect();
    numbers.sort_unstable();
    Ok(numbers)
}

/// Every segment of the log, from the log directory and the archive, ascending.
pub(crate) fn list_all(storage: &dyn Storage, config: &WalConfig) -> Result<Vec<SegmentFile>, WalError> {
    let mut all: Vec<SegmentFile> = numbers_in(storage, &config.dir)?
        .into_iter()
        .map(|number| SegmentFile {
            number,
            path: config.segment_path(number),
            archived: false,
        })
        .collect();
    all.extend(
        numbers_in(storage, &config.archive_dir())?
            .into_iter()
            .map(|number| SegmentFile {
                number,
                path: config.archived_segment_path(number),
                archived: true,
            }),
    );
    all.sort_by_key(|s| (s.number, s.archived));
    if let Some(w) = all.windows(2).find(|w| w[0].number == w[1].number) {
        // A rename is atomic, so one file in two places was copied by hand: which copy holds
        // the acknowledged records is not ours to guess.
        return Err(WalError::corruption(
            &w[1].path,
            0,
            format!(
                "segment {} exists both in the log directory and in the archive",
                w[0].number
            ),
        ));
    }
    Ok(all)
}

/// Reads and decodes the header of a segment file; the inner `Err` is a bad header.
pub(crate) fn read_header(storage: &dyn Storage, path: &Path) -> Result<Result<SegmentHeader, HeaderError>, WalError> {
    let len = storage.len(path).map_err(WalError::io("len", path))?;
    let mut buf = [0u8; SEGMENT_HEADER_LEN];
    let have = (len.min(SEGMENT_HEADER_LEN as u64)) as usize;
    storage
        .read_at(path, 0, &mut buf[..have])
        .map_err(WalError::io("read", path))?;
    Ok(SegmentHeader::decode(&buf[..have]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::SimStorage;

    #[test]
    fn lists_log_and_archive_and_ignores_other_files() {
        let sim = SimStorage::new();
        let config = WalConfig::new("/w");
        sim.create_dir_all(&config.archive_dir()).unwrap();
        for path in [
            config.archived_segment_path(1),
            config.segment_path(2),
            config.segment_path(3),
            PathBuf::from("/w/notes.txt"),
            PathBuf::from("/w/wal-3.log"),
        ] {
            sim.create(&path).unwrap();
        }
        let all = list_all(&sim, &config).unwrap();
        let got: Vec<(u32, bool)> = all.iter().map(|s| (s.number, s.archived)).collect();
        assert_eq!(got, vec![(1, true), (2, false), (3, false)]);
        assert_eq!(all[0].path, PathBuf::from("/w/archive/wal-0000000001.log"));
    }

    #[test]
    fn same_segment_in_both_places_is_corruption() {
        let sim = SimStorage::new();
        let config = WalConfig::new("/w");
        sim.create_dir_all(&config.archive_dir()).unwrap();
        sim.create(&config.segment_path(1)).unwrap();
        sim.create(&config.archived_segment_path(1)).unwrap();
        let err = list_all(&sim, &config).unwrap_err();
        assert!(err.to_string().contains("both"), "{err}");
    }

    #[test]
    fn short_header_is_torn() {
        let sim = SimStorage::new();
        sim.create_dir_all(Path::new("/w")).unwrap();
        let path = PathBuf::from("/w/wal-0000000001.log");
        let mut f = sim.create(&path).unwrap();
        let header = SegmentHeader {
            segment: 1,
            first_seq: 1,
        }
        .encode();
        f.append(&header[..10]).unwrap();
        assert!(matches!(read_header(&sim, &path).unwrap(), Err(HeaderError::Torn(_))));
        f.append(&header[10..]).unwrap();
        assert_eq!(
            read_header(&sim, &path).unwrap(),
            Ok(SegmentHeader {
                segment: 1,
                first_seq: 1
            })
        );
    }
}
