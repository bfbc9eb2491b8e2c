//! The byte layout and file naming of one snapshot file; `FORMAT.md` is the normative description.
//!
//! ```text
//! offset  size  field
//! 0       8     magic  b"WDSNAP\0\0"
//! 8       4     format version, u32 LE (1)
//! 12      8     covered WAL seq, u64 LE
//! 20      8     payload length N, u64 LE
//! 28      N     payload (opaque, encoded by the engine)
//! 28+N    4     crc32 (IEEE, crc32fast) u32 LE of bytes 0..28+N
//! ```

/// First eight bytes of every snapshot file.
pub const MAGIC: [u8; 8] = *b"WDSNAP\0\0";
/// The only format version this crate writes and reads.
pub const FORMAT_VERSION: u32 = 1;
/// Bytes before the payload: magic, version, seq, payload length.
pub const HEADER_LEN: usize = 8 + 4 + 8 + 8;
/// Bytes after the payload: the crc32.
pub const TRAILER_LEN: usize = 4;

const PREFIX: &str = "snapshot-";
const SUFFIX: &str = ".snap";
const TMP_SUFFIX: &str = ".snap.tmp";
/// `u64::MAX` has 20 decimal digits, so zero-padding to 20 makes names sort like their seqs.
const SEQ_DIGITS: usize = 20;

/// `snapshot-<seq, 20 digits>.snap`.
pub fn file_name(seq: u64) -> String {
    format!("{PREFIX}{seq:020}{SUFFIX}")
}

/// `snapshot-<seq, 20 digits>.snap.tmp`: the name a snapshot is written under before the rename.
pub fn tmp_file_name(seq: u64) -> String {
    format!("{PREFIX}{seq:020}{TMP_SUFFIX}")
}

/// The seq of a finished snapshot's file name, `None` for any other name (temp files included).
pub fn parse_file_name(name: &str) -> Option<u64> {
    parse_seq(name.strip_suffix(SUFFIX)?)
}

/// The seq of a temporary snapshot file name, `None` for any other name.
pub fn parse_tmp_file_name(name: &str) -> Option<u64> {
    parse_seq(name.strip_suffix(TMP_SUFFIX)?)
}

fn parse_seq(stem: &str) -> Option<u64> {
    let digits = stem.strip_prefix(PREFIX)?;
    // Strict: exactly 20 ASCII digits, so `parse` cannot accept a sign and two names cannot
    // denote the same seq.
    if digits.len() != SEQ_DIGITS || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The header of a snapshot covering `seq` with a payload of `payload_len` bytes.
pub fn header(seq: u64, payload_len: u64) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[0..8].copy_from_slice(&MAGIC);
    h[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    h[12..20].copy_from_slice(&seq.to_le_bytes());
    h[20..28].copy_from_slice(&payload_len.to_le_bytes());
    h
}

/// The complete file content of a snapshot covering `seq`.
pub fn encode(seq: u64, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len() + TRAILER_LEN);
    out.extend_from_slice(&header(seq, payload.len() as u64));
    out.extend_from_slice(payload);
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// Validates the content of the file named for `name_seq` and returns the payload's byte range.
///
/// Checks, in this order: magic, version, seq against the name (a file copied or renamed by
/// hand must not pass for another point in the log), payload length against the file size, crc.
/// The error is a human-readable reason, meant for logs and [`crate::LoadedSnapshot::skipped`].
pub fn validate(name_seq: u64, bytes: &[u8]) -> Result<std::ops::Range<usize>, String> {
    let size = bytes.len();
    if size < HEADER_LEN + TRAILER_LEN {
        return Err(format!(
            "truncated: {size} bytes, shorter than the {} bytes of header and checksum",
            HEADER_LEN + TRAILER_LEN
        ));
    }
    if bytes[0..8] != MAGIC {
        return Err(format!("bad magic {:02x?}", &bytes[0..8]));
    }
    let version = u32::from_le_bytes(le_bytes(&bytes[8..12]));
    if version != FORMAT_VERSION {
        return Err(format!("unsupported format version {version}"));
    }
    let seq = u64::from_le_bytes(le_bytes(&bytes[12..20]));
    if seq != name_seq {
        return Err(format!("header seq {seq} does not match file name seq {name_seq}"));
    }
    let declared = u64::from_le_bytes(le_bytes(&bytes[20..28]));
    // Checked: a garbled length near u64::MAX must be a mismatch, not an overflow.
    let expected_size = declared.checked_add((HEADER_LEN + TRAILER_LEN) as u64);
    if expected_size != Some(size as u64) {
        return Err(format!(
            "payload length {declared} does not match file size {size} (truncated or extended)"
        ));
    }
    let body_end = size - TRAILER_LEN;
    let stored = u32::from_le_bytes(le_bytes(&bytes[body_end..]));
    let computed = crc32fast::hash(&bytes[..body_end]);
    if stored != computed {
        return Err(format!("crc mismatch: stored {stored:08x}, computed {computed:08x}"));
    }
    Ok(HEADER_LEN..body_end)
}

fn le_bytes<const N: usize>(slice: &[u8]) -> [u8; N] {
    let mut a = [0u8; N];
    a.copy_from_slice(slice);
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_sort_by_seq() {
        for seq in [0, 1, 42, u64::MAX] {
            assert_eq!(parse_file_name(&file_name(seq)), Some(seq));
            assert_eq!(parse_tmp_file_name(&tmp_file_name(seq)), Some(seq));
            assert_eq!(parse_file_name(&tmp_file_name(seq)), None);
            assert_eq!(parse_tmp_file_name(&file_name(seq)), None);
        }
        assert_eq!(file_name(7), "snapshot-00000000000000000007.snap");
        assert!(file_name(9) < file_name(10));
        assert!(file_name(u64::MAX - 1) < file_name(u64::MAX));
    }

    #[test]
    fn foreign_names_are_rejected() {
        for name in [
            "snapshot-7.snap",
            "snapshot-+0000000000000000007.snap",
            "snapshot-0000000000000000000a.snap",
            "snapshot-000000000000000000007.snap",
            "snapshot-99999999999999999999.snap", // > u64::MAX
            "snap-00000000000000000007.snap",
            "snapshot-00000000000000000007.snap.bak",
            "wal-00000000000000000007.log",
        ] {
            assert_eq!(parse_file_name(name), None, "{name}");
        }
    }

    #[test]
    fn encode_then_validate_returns_the_payload() {
        let bytes = encode(5, b"hello");
        assert_eq!(bytes.len(), HEADER_LEN + 5 + TRAILER_LEN);
        assert_eq!(&bytes[..8], b"WDSNAP\0\0");
        let range = validate(5, &bytes).unwrap();
        assert_eq!(&bytes[range], b"hello");
        let empty = encode(0, b"");
        assert_eq!(validate(0, &empty).unwrap(), HEADER_LEN..HEADER_LEN);
    }

    /// Re-seals `bytes` with a correct crc so only the check under test can reject it.
    fn reseal(mut bytes: Vec<u8>) -> Vec<u8> {
        let end = bytes.len() - TRAILER_LEN;
        let crc = crc32fast::hash(&bytes[..end]);
        bytes[end..].copy_from_slice(&crc.to_le_bytes());
        bytes
    }

    #[test]
    fn each_check_rejects_with_its_own_reason() {
        let good = encode(5, b"payload");

        let mut magic = good.clone();
        magic[0] = b'X';
        assert!(validate(5, &reseal(magic)).unwrap_err().contains("magic"));

        let mut version = good.clone();
        version[8] = 2;
        assert!(validate(5, &reseal(version)).unwrap_err().contains("version 2"));

        assert!(validate(6, &good).unwrap_err().contains("seq"));

        let mut length = good.clone();
        length[20] = 6;
        assert!(validate(5, &reseal(length)).unwrap_err().contains("length"));
        let mut huge = good.clone();
        huge[20..28].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(validate(5, &reseal(huge)).unwrap_err().contains("length"));

        let mut flipped = good.clone();
        flipped[HEADER_LEN + 2] ^= 0x01;
        assert!(validate(5, &flipped).unwrap_err().contains("crc"));

        assert!(validate(5, &good[..20]).unwrap_err().contains("truncated"));
        assert!(validate(5, &good[..good.len() - 1]).unwrap_err().contains("length"));
    }
}
