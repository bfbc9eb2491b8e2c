//! On-disk layout: segment file names, the segment header and the record frame (see FORMAT.md).

use std::fmt;

/// First 8 bytes of every segment file.
pub const SEGMENT_MAGIC: [u8; 8] = *b"WDWAL\0\0\0";
/// Version written into, and accepted from, segment headers.
pub const FORMAT_VERSION: u32 = 1;
/// magic 8 + version 4 + segment 4 + first seq 8 + crc 4.
pub const SEGMENT_HEADER_LEN: usize = 28;
/// length 4 + crc 4 + seq 8.
pub const FRAME_HEADER_LEN: usize = 16;
/// Largest record payload.
pub const MAX_PAYLOAD: usize = 64 << 20;

/// Where a record's frame starts: segment number and byte offset in that segment file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RecordLoc {
    pub segment: u32,
    pub offset: u32,
}

impl RecordLoc {
    /// `segment << 32 | offset`: compact, and ordered like the log.
    pub fn to_u64(self) -> u64 {
        (u64::from(self.segment) << 32) | u64::from(self.offset)
    }

    pub fn from_u64(v: u64) -> Self {
        RecordLoc {
            segment: (v >> 32) as u32,
            offset: v as u32,
        }
    }
}

impl fmt::Display for RecordLoc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "segment {} offset {}", self.segment, self.offset)
    }
}

/// `wal-<number, 10 digits>.log`.
pub fn segment_file_name(number: u32) -> String {
    format!("wal-{number:010}.log")
}

/// The segment number of a segment file name; `None` for any other file.
pub fn parse_segment_file_name(name: &str) -> Option<u32> {
    let digits = name.strip_prefix("wal-")?.strip_suffix(".log")?;
    if digits.len() != 10 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // Segment numbers start at 1; ten digits can exceed u32, which no writer produced.
    digits.parse::<u32>().ok().filter(|&n| n != 0)
}

/// The fixed-size header every segment file starts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentHeader {
    pub segment: u32,
    /// Sequence number of the first record in the segment (the next seq if it has none yet).
    pub first_seq: u64,
}

impl SegmentHeader {
    pub fn encode(&self) -> [u8; SEGMENT_HEADER_LEN] {
        let mut buf = [0u8; SEGMENT_HEADER_LEN];
        buf[..8].copy_from_slice(&SEGMENT_MAGIC);
        buf[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
        buf[12..16].copy_from_slice(&self.segment.to_le_bytes());
        buf[16..24].copy_from_slice(&self.first_seq.to_le_bytes());
        let crc = crc32fast::hash(&buf[..24]);
        buf[24..28].copy_from_slice(&crc.to_le_bytes());
        buf
    }

    /// Decodes the first [`SEGMENT_HEADER_LEN`] bytes of `buf`.
    pub fn decode(buf: &[u8]) -> Result<Self, HeaderError> {
        if buf.len() < SEGMENT_HEADER_LEN {
            return Err(HeaderError::Torn(format!(
                "segment header is incomplete ({} of {SEGMENT_HEADER_LEN} bytes)",
                buf.len()
            )));
        }
        if buf[..8] != SEGMENT_MAGIC {
            return Err(HeaderError::Torn("bad segment magic".into()));
        }
        let stored = u32_at(buf, 24);
        let crc = crc32fast::hash(&buf[..24]);
        if stored != crc {
            return Err(HeaderError::Torn(format!(
                "segment header crc mismatch (stored {stored:#010x}, computed {crc:#010x})"
            )));
        }
        // Checked after the crc: a version we do not know in an intact header is not a torn
        // write, it is a log this build cannot read.
        let version = u32_at(buf, 8);
        if version != FORMAT_VERSION {
            return Err(HeaderError::Invalid(format!(
                "unsupported segment format version {version} (this build reads {FORMAT_VERSION})"
            )));
        }
        Ok(SegmentHeader {
            segment: u32_at(buf, 12),
            first_seq: u64_at(buf, 16),
        })
    }
}

/// Why a segment header was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderError {
    /// Incomplete or failing its checksum: what a crash while creating the segment leaves.
    Torn(String),
    /// Intact but unusable.
    Invalid(String),
}

impl fmt::Display for HeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeaderError::Torn(s) | HeaderError::Invalid(s) => f.write_str(s),
        }
    }
}

/// crc32 of a frame: the length, the seq and the payload (every field but the crc itself).
pub fn frame_crc(seq: u64, payload: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&(payload.len() as u32).to_le_bytes());
    h.update(&seq.to_le_bytes());
    h.update(payload);
    h.finalize()
}

/// Appends one frame to `out`.
///
/// # Panics
/// If `payload` is longer than [`MAX_PAYLOAD`].
pub fn encode_frame(seq: u64, payload: &[u8], out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(&[0u8; FRAME_HEADER_LEN]);
    out.extend_from_slice(payload);
    seal_frame(&mut out[start..], seq);
}

/// Fills in the header of a frame whose payload is already in place after
/// [`FRAME_HEADER_LEN`] reserved bytes (the writer encodes payloads straight into its batch).
pub(crate) fn seal_frame(frame: &mut [u8], seq: u64) {
    let (head, payload) = frame.split_at_mut(FRAME_HEADER_LEN);
    assert!(payload.len() <= MAX_PAYLOAD, "WAL payload too large");
    let crc = frame_crc(seq, payload);
    head[..4].copy_from_slice(&(payload.len() as u32).to_le_bytes());
    head[4..8].copy_from_slice(&crc.to_le_bytes());
    head[8..16].copy_from_slice(&seq.to_le_bytes());
}

/// A frame that passed its checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Frame<'a> {
    pub seq: u64,
    pub payload: &'a [u8],
}

impl Frame<'_> {
    pub fn len(&self) -> usize {
        FRAME_HEADER_LEN + self.payload.len()
    }
}

/// Checks the frame starting at `pos`; `Err` says why it is not a valid frame.
pub(crate) fn check_frame(data: &[u8], pos: usize) -> Result<Frame<'_>, String> {
    let avail = data.len().saturating_sub(pos);
    if avail < FRAME_HEADER_LEN {
        return Err(format!(
            "incomplete record header ({avail} of {FRAME_HEADER_LEN} bytes)"
        ));
    }
    let len = u32_at(data, pos) as usize;
    if len > MAX_PAYLOAD {
        return Err(format!("impossible record length {len} (maximum {MAX_PAYLOAD})"));
    }
    if len > avail - FRAME_HEADER_LEN {
        return Err(format!(
            "record length {len} runs past the end of the file ({} bytes left)",
            avail - FRAME_HEADER_LEN
        ));
    }
    let stored = u32_at(data, pos + 4);
    let seq = u64_at(data, pos + 8);
    let payload = &data[pos + FRAME_HEADER_LEN..pos + FRAME_HEADER_LEN + len];
    let crc = frame_crc(seq, payload);
    if crc != stored {
        return Err(format!(
            "record crc mismatch (stored {stored:#010x}, computed {crc:#010x})"
        ));
    }
    Ok(Frame { seq, payload })
}

/// The first offset at or after `from` where a frame whose crc checks starts, scanning byte
/// by byte: used to tell a torn tail (nothing valid follows) from corruption.
pub(crate) fn find_valid_frame(data: &[u8], from: usize) -> Option<usize> {
    let last = data.len().checked_sub(FRAME_HEADER_LEN)?;
    (from..=last).find(|&pos| {
        // Cheap length test first, so garbage only costs a crc when its length field fits.
        let len = u32_at(data, pos) as usize;
        len <= MAX_PAYLOAD && len <= last - pos && check_frame(data, pos).is_ok()
    })
}

pub(crate) fn u32_at(data: &[u8], pos: usize) -> u32 {
    u32::from_le_bytes(data[pos..pos + 4].try_into().expect("4 bytes"))
}

pub(crate) fn u64_at(data: &[u8], pos: usize) -> u64 {
    u64::from_le_bytes(data[pos..pos + 8].try_into().expect("8 bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loc_round_trips_through_u64() {
        let loc = RecordLoc {
            segment: 0xdead_beef,
            offset: 0x1234_5678,
        };
        assert_eq!(loc.to_u64(), 0xdead_beef_1234_5678);
        assert_eq!(RecordLoc::from_u64(loc.to_u64()), loc);
        let a = RecordLoc {
            segment: 1,
            offset: u32::MAX,
        };
        let b = RecordLoc { segment: 2, offset: 28 };
        assert!(a.to_u64() < b.to_u64(), "u64 form keeps log order");
    }

    #[test]
    fn segment_names() {
        assert_eq!(segment_file_name(1), "wal-0000000001.log");
        assert_eq!(segment_file_name(u32::MAX), "wal-4294967295.log");
        assert_eq!(parse_segment_file_name("wal-0000000001.log"), Some(1));
        assert_eq!(parse_segment_file_name("wal-4294967295.log"), Some(u32::MAX));
        for bad in [
            "wal-0000000000.log",
            "wal-9999999999.log",
            "wal-000000001.log",
            "wal-00000000001.log",
            "wal-000000000a.log",
            "wal-0000000001.log.tmp",
            "snap-0000000001.log",
            "wal-+000000001.log",
        ] {
            assert_eq!(parse_segment_file_name(bad), None, "{bad}");
        }
    }

    #[test]
    fn header_layout_and_round_trip() {
        let h = SegmentHeader {
            segment: 3,
            first_seq: 0x0102_0304_0506_0708,
        };
        let buf = h.encode();
        assert_eq!(&buf[..8], b"WDWAL\0\0\0");
        assert_eq!(&buf[8..12], &1u32.to_le_bytes());
        assert_eq!(&buf[12..16], &3u32.to_le_bytes());
        assert_eq!(&buf[16..24], &0x0102_0304_0506_0708u64.to_le_bytes());
        assert_eq!(&buf[24..28], &crc32fast::hash(&buf[..24]).to_le_bytes());
        assert_eq!(SegmentHeader::decode(&buf), Ok(h));
    }

    #[test]
    fn header_rejections() {
        let buf = SegmentHeader {
            segment: 1,
            first_seq: 1,
        }
        .encode();
        assert!(matches!(SegmentHeader::decode(&buf[..27]), Err(HeaderError::Torn(_))));
        for i in 0..SEGMENT_HEADER_LEN {
            let mut b = buf;
            b[i] ^= 0x10;
            assert!(
                matches!(SegmentHeader::decode(&b), Err(HeaderError::Torn(_))),
                "flip at {i}"
            );
        }
        // A correctly checksummed header of another version is not torn.
        let mut b = buf;
        b[8..12].copy_from_slice(&2u32.to_le_bytes());
        let crc = crc32fast::hash(&b[..24]);
        b[24..28].copy_from_slice(&crc.to_le_bytes());
        assert!(matches!(SegmentHeader::decode(&b), Err(HeaderError::Invalid(_))));
    }

    #[test]
    fn frame_layout_and_check() {
        let mut out = vec![0xAA; 3];
        encode_frame(42, b"hello", &mut out);
        let f = &out[3..];
        assert_eq!(f.len(), FRAME_HEADER_LEN + 5);
        assert_eq!(&f[..4], &5u32.to_le_bytes());
        let mut h = crc32fast::Hasher::new();
        h.update(&5u32.to_le_bytes());
        h.update(&42u64.to_le_bytes());
        h.update(b"hello");
        assert_eq!(&f[4..8], &h.finalize().to_le_bytes());
        assert_eq!(&f[8..16], &42u64.to_le_bytes());
        assert_eq!(&f[16..], b"hello");
        let frame = check_frame(&out, 3).unwrap();
        assert_eq!((frame.seq, frame.payload, frame.len()), (42, &b"hello"[..], 21));
    }

    #[test]
    fn every_bit_flip_in_a_frame_is_detected() {
        let mut out = Vec::new();
        encode_frame(7, b"payload bytes", &mut out);
        for byte in 0..out.len() {
            for bit in 0..8 {
                let mut b = out.clone();
                b[byte] ^= 1 << bit;
                assert!(check_frame(&b, 0).is_err(), "byte {byte} bit {bit}");
            }
        }
    }

    #[test]
    fn truncated_and_oversized_frames_are_invalid() {
        let mut out = Vec::new();
        encode_frame(1, &[9; 40], &mut out);
        for len in 0..out.len() {
            assert!(check_frame(&out[..len], 0).is_err(), "len {len}");
        }
        let mut big = out.clone();
        big[..4].copy_from_slice(&((MAX_PAYLOAD + 1) as u32).to_le_bytes());
        assert!(check_frame(&big, 0).unwrap_err().contains("impossible"));
    }

    #[test]
    fn zero_filled_bytes_are_not_a_frame() {
        // A zero-filled tail must read as torn: an all-zero frame header must fail its crc.
        let zeros = vec![0u8; 256];
        assert!(check_frame(&zeros, 0).is_err());
        assert_eq!(find_valid_frame(&zeros, 0), None);
    }

    #[test]
    fn scan_finds_the_next_valid_frame() {
        let mut out = Vec::new();
        encode_frame(1, b"first", &mut out);
        let second = out.len();
        encode_frame(2, b"second", &mut out);
        out[5] ^= 1;
        assert_eq!(find_valid_frame(&out, 0), Some(second));
        assert_eq!(find_valid_frame(&out, second + 1), None);
        assert_eq!(find_valid_frame(&out[..10], 0), None);
    }
}
