//! Writing JSON answers straight into a byte buffer, for the posting answers only: they are
//! the hot path (a batch answer is ~1 KiB per posting), and serde_json's general serializer
//! escapes every key byte by byte and formats money and dates through `fmt`. Every writer
//! here produces exactly the bytes serde_json would; the tests compare them.

use rust_decimal::Decimal;
use serde::Serialize;

/// An answer being written.
pub struct JsonOut {
    pub buf: Vec<u8>,
}

impl JsonOut {
    pub fn with_capacity(capacity: usize) -> Self {
        JsonOut {
            buf: Vec::with_capacity(capacity),
        }
    }

    /// Bytes that are already JSON (punctuation and keys known at compile time).
    #[inline]
    pub fn raw(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// A JSON string. Text with nothing to escape (the usual case) is copied as it is; the
    /// rest goes through serde_json, so escapes are always spelled its way.
    pub fn str(&mut self, s: &str) {
        if !needs_escape(s.as_bytes()) {
            self.buf.reserve(s.len() + 2);
            self.buf.push(b'"');
            self.buf.extend_from_slice(s.as_bytes());
            self.buf.push(b'"');
        } else {
            self.serde(s);
        }
    }

    pub fn opt_str(&mut self, s: Option<&str>) {
        match s {
            Some(s) => self.str(s),
            None => self.raw(b"null"),
        }
    }

    /// An unsigned integer as a JSON string (ids are strings in the documents).
    pub fn u64_text(&mut self, n: u64) {
        self.buf.push(b'"');
        self.buf.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
        self.buf.push(b'"');
    }

    pub fn u64(&mut self, n: u64) {
        self.buf.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
    }

    /// Money with exactly 4 decimals, as a JSON string (`"96.0000"`), as
    /// `walletd_engine::money::to_scale` and `Decimal`'s `Display` spell it.
    pub fn money(&mut self, d: Decimal) {
        let d = walletd_engine::money::to_scale(d);
        let m = d.mantissa();
        if d.scale() != 4 || m == 0 {
            // Zero (whose sign `Display` may show) and anything unexpected: the general way.
            self.display(&d);
            return;
        }
        let abs = m.unsigned_abs();
        self.buf.push(b'"');
        if m < 0 {
            self.buf.push(b'-');
        }
        // The whole units fit a u64 for any amount walletd holds; u128 digits cost thrice.
        let units = abs / 10_000;
        let mut digits = itoa::Buffer::new();
        let units = match u64::try_from(units) {
            Ok(u) => digits.format(u),
            Err(_) => digits.format(units),
        };
        self.buf.extend_from_slice(units.as_bytes());
        self.buf.push(b'.');
        self.buf.extend_from_slice(&four_digits((abs % 10_000) as u32));
        self.buf.push(b'"');
    }

    /// A time in milliseconds as [`crate::routes::timestamp`] spells it
    /// (`"2024-09-05T17:14:04.734Z"`).
    pub fn timestamp(&mut self, ms: i64) {
        let start = self.buf.len();
        self.buf.push(b'"');
        if write_timestamp(&mut self.buf, ms) {
            self.buf.push(b'"');
        } else {
            self.buf.truncate(start);
            self.str(&crate::routes::timestamp(ms));
        }
    }

    /// A value's `Display` text as a JSON string.
    pub fn display(&mut self, v: &impl std::fmt::Display) {
        self.serde(&Displayed(v));
    }

    /// Anything serde can write, written by serde_json.
    pub fn serde<T: Serialize + ?Sized>(&mut self, v: &T) {
        if serde_json::to_writer(&mut self.buf, v).is_err() {
            // Writing into a Vec fails only for a value that cannot be JSON (a map with
            // non-string keys): none is written here, so null rather than a broken answer.
            self.buf.extend_from_slice(b"null");
        }
    }
}

/// Serializes a value as the text its `Display` writes, without building a `String`.
struct Displayed<'a, T: std::fmt::Display>(&'a T);

impl<T: std::fmt::Display> Serialize for Displayed<'_, T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self.0)
    }
}

/// Writes `2024-09-05T17:14:04.734Z` (UTC, milliseconds) digit by digit, for the years
/// 0..=9999; answers false, writing nothing, for the others.
pub fn write_timestamp(buf: &mut Vec<u8>, ms: i64) -> bool {
    use chrono::{DateTime, Datelike, Timelike, Utc};
    let t = DateTime::<Utc>::from_timestamp_millis(ms).unwrap_or_default();
    let Ok(year @ 0..=9999) = u32::try_from(t.year()) else {
        return false;
    };
    let two = |n: u32| [b'0' + (n / 10) as u8, b'0' + (n % 10) as u8];
    buf.extend_from_slice(&four_digits(year));
    for (sep, n) in [
        (b'-', t.month()),
        (b'-', t.day()),
        (b'T', t.hour()),
        (b':', t.minute()),
        (b':', t.second()),
    ] {
        buf.push(sep);
        buf.extend_from_slice(&two(n));
    }
    let millis = four_digits(t.timestamp_subsec_millis().min(999));
    buf.extend_from_slice(&[b'.', millis[1], millis[2], millis[3], b'Z']);
    true
}

/// `n` (< 10,000) as four ASCII digits, zero-padded.
fn four_digits(n: u32) -> [u8; 4] {
    [
        b'0' + (n / 1000 % 10) as u8,
        b'0' + (n / 100 % 10) as u8,
        b'0' + (n / 10 % 10) as u8,
        b'0' + (n % 10) as u8,
    ]
}

/// True if JSON needs any of these bytes escaped (a control character, `"` or `\\`). Judged
/// eight bytes at a time: most strings here are ids and codes of 8 to 20 bytes.
fn needs_escape(bytes: &[u8]) -> bool {
    let mut words = bytes.chunks_exact(8);
    for word in &mut words {
        let mut w = [0u8; 8];
        w.copy_from_slice(word);
        if word_needs_escape(u64::from_le_bytes(w)) {
            return true;
        }
    }
    // The tail, padded with a byte that needs no escape.
    let tail = words.remainder();
    let mut w = [b'a'; 8];
    w[..tail.len()].copy_from_slice(tail);
    word_needs_escape(u64::from_le_bytes(w))
}

/// Whether any byte of `w` is below 0x20, `"` or `\\`. `(x - 0x01..) & !x & 0x80..` is non-zero
/// exactly when some byte of `x` is zero, and with `0x20..` subtracted, when some byte is
/// below 0x20 (bytes of 0x80 and above are masked out by `!x`).
fn word_needs_escape(w: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero_byte = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    let control = w.wrapping_sub(ONES * 0x20) & !w & HIGH;
    (control | zero_byte(w ^ (ONES * u64::from(b'"'))) | zero_byte(w ^ (ONES * u64::from(b'\\')))) != 0
}

#[cfg(test)]
pub(crate) fn written(write: impl FnOnce(&mut JsonOut)) -> String {
    let mut out = JsonOut::with_capacity(8);
    write(&mut out);
    String::from_utf8(out.buf).unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped_as_serde_json_escapes_them() {
        for s in [
            "",
            "plain",
            "quote \" here",
            "back\\slash",
            "tab\tnl\n",
            "\u{1f}\u{7f}",
            "é € 😀",
            "</script>",
        ] {
            assert_eq!(written(|o| o.str(s)), serde_json::to_string(s).unwrap(), "{s:?}");
        }
        assert_eq!(written(|o| o.opt_str(None)), "null");
    }

    #[test]
    fn the_word_test_agrees_with_the_byte_rule_for_every_byte_place_and_neighbour() {
        for b in 0..=255u8 {
            for at in 0..8 {
                for filler in [b'a', b' ', b'!', b'#', b'[', b']', 0x80, 0xff] {
                    let mut w = [filler; 8];
                    w[at] = b;
                    let expected = b < 0x20 || b == b'"' || b == b'\\';
                    assert_eq!(word_needs_escape(u64::from_le_bytes(w)), expected, "{w:?}");
                }
            }
        }
    }

    #[test]
    fn an_escape_is_found_in_any_chunk_and_in_the_remainder() {
        for len in [15, 16, 17, 31, 32, 40] {
            for at in 0..len {
                for c in ['"', '\\', '\n', '\u{0}', '\u{1f}', ' ', '\u{7f}', 'é'] {
                    let s: String = (0..len).map(|i| if i == at { c } else { 'a' }).collect();
                    assert_eq!(written(|o| o.str(&s)), serde_json::to_string(&s).unwrap(), "{s:?}");
                }
            }
        }
    }

    #[test]
    fn money_is_written_as_decimal_displays_it_at_four_places() {
        for s in [
            "0",
            "-0",
            "0.0000",
            "1",
            "-1",
            "0.0001",
            "-0.0001",
            "96",
            "100.5",
            "12345678901234.1234",
            "-99999999999999999.9999",
            "0.00005",
            "0.00015",
            "2.71828",
            "79228162514264337593543950335",
        ] {
            let d: Decimal = s.parse().unwrap();
            let expected = serde_json::to_string(&walletd_engine::money::to_scale(d).to_string()).unwrap();
            assert_eq!(written(|o| o.money(d)), expected, "{s}");
        }
    }

    #[test]
    fn timestamps_are_written_as_the_answers_spell_them() {
        for ms in [
            0,
            1,
            999,
            1_764_000_000_123,
            -1,
            -62_198_755_200_000,
            253_402_300_799_999,
            253_402_300_800_000,
            i64::MAX,
        ] {
            // strftime's spelling, which the answers have always used.
            let strftime = chrono::DateTime::<chrono::Utc>::from_timestamp_millis(ms)
                .unwrap_or_default()
                .format("%Y-%m-%dT%H:%M:%S%.3fZ")
                .to_string();
            assert_eq!(
                written(|o| o.timestamp(ms)),
                serde_json::to_string(&strftime).unwrap(),
                "{ms}"
            );
        }
    }

    #[test]
    fn integers() {
        assert_eq!(written(|o| o.u64_text(0)), "\"0\"");
        assert_eq!(written(|o| o.u64_text(u64::MAX)), format!("\"{}\"", u64::MAX));
        assert_eq!(written(|o| o.u64(42)), "42");
    }
}
