//! The one place that knows the payload encoding of WAL records and snapshots (bincode 2.0.1,
//! pinned: 3.0.0 is a placeholder and the project is unmaintained). Swapping the codec means
//! changing this module only.
//!
//! bincode's serde mode cannot decode `Decimal` (`AnyNotSupported`, found only at recovery), so
//! every type here uses bincode's own `Encode`/`Decode`, with money as mantissa and scale.

use crate::money::Currency;
use crate::record::{LegRecord, PostingKind, PostingRecord, Record};
use bincode::de::{BorrowDecoder, Decoder};
use bincode::enc::Encoder;
use bincode::error::{DecodeError, EncodeError};
use bincode::{BorrowDecode, Decode, Encode};
use rust_decimal::Decimal;
use std::sync::OnceLock;

fn config() -> bincode::config::Configuration {
    bincode::config::standard()
}

/// Appends the encoding of `value` to `out` (no intermediate buffer).
pub fn encode_into<T: Encode>(value: &T, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    bincode::encode_into_std_write(value, out, config()).map(|_| ())
}

pub fn encode_to_vec<T: Encode>(value: &T) -> Result<Vec<u8>, EncodeError> {
    bincode::encode_to_vec(value, config())
}

/// Hands the encoding of `value` to `sink` piece by piece, without building it in memory
/// (for hashing it).
pub fn encode_to_sink<T: Encode>(value: &T, sink: impl FnMut(&[u8])) -> Result<(), EncodeError> {
    struct Sink<F>(F);
    impl<F: FnMut(&[u8])> bincode::enc::write::Writer for Sink<F> {
        fn write(&mut self, bytes: &[u8]) -> Result<(), EncodeError> {
            (self.0)(bytes);
            Ok(())
        }
    }
    bincode::encode_into_writer(value, Sink(sink), config())
}

/// Decodes a whole payload; trailing bytes are an error (a record is exactly one value).
pub fn decode<T: Decode<()>>(bytes: &[u8]) -> Result<T, DecodeError> {
    let (value, used) = bincode::decode_from_slice(bytes, config())?;
    if used != bytes.len() {
        return Err(DecodeError::OtherString(format!(
            "{} trailing bytes after the value",
            bytes.len() - used
        )));
    }
    Ok(value)
}

/// Where the last search of one batch record found its posting. Searching the same record
/// again from there, for a later leg (a statement's rows come in transaction order), steps
/// over each posting once for all the rows in that record rather than once per row.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct BatchPlace {
    /// Byte offset of the posting found last (0: none yet).
    offset: usize,
    /// Postings of the batch before it.
    index: u64,
}

/// The posting of a WAL record that holds leg `txn_id`, or `None` if the record holds no such
/// posting. In a batch, the postings before it are stepped over without being decoded in full
/// (no allocation): a batch of 10,000 took 11 ms to decode whole, and a statement reads one
/// posting per row. The search starts at `place` (from an earlier search of the same
/// `payload`, kept by the caller with it; `BatchPlace::default()` for the start) and updates
/// it; a leg before `place` is looked for from the start.
pub(crate) fn posting_holding(
    payload: &[u8],
    txn_id: u64,
    place: &mut BatchPlace,
) -> Result<Option<PostingRecord>, DecodeError> {
    let holds = |first: u64, legs: u64| txn_id >= first && txn_id - first < legs;
    let (tag, at) = bincode::decode_from_slice::<u32, _>(payload, config())?;
    if tag != batch_tag() {
        return Ok(match decode::<Record>(payload)? {
            Record::Posting(p) if holds(p.first_txn_id, p.legs.len() as u64) => Some(p),
            _ => None,
        });
    }
    let (count, used) = bincode::decode_from_slice::<u64, _>(&payload[at..], config())?;
    let start = BatchPlace {
        offset: at + used,
        index: 0,
    };
    let resume = if place.offset >= start.offset && place.offset < payload.len() {
        *place
    } else {
        start
    };
    for from in [resume, start] {
        let (mut at, mut index) = (from.offset, from.index);
        while index < count {
            let rest = &payload[at..];
            let (span, used) = bincode::borrow_decode_from_slice::<PostingSpan, _>(rest, config())?;
            if holds(span.first_txn_id, span.legs) {
                *place = BatchPlace { offset: at, index };
                return Ok(Some(bincode::decode_from_slice::<PostingRecord, _>(rest, config())?.0));
            }
            if span.first_txn_id > txn_id {
                // Postings are in transaction order: it lies before where this search began.
                break;
            }
            at += used;
            index += 1;
        }
        if from.offset == start.offset {
            break;
        }
    }
    Ok(None)
}

/// The variant number bincode gives `Record::Batch` (what a record's encoding starts with).
fn batch_tag() -> u32 {
    static TAG: OnceLock<u32> = OnceLock::new();
    *TAG.get_or_init(|| {
        encode_to_vec(&Record::Batch(Vec::new()))
            .ok()
            .and_then(|bytes| bincode::decode_from_slice::<u32, _>(&bytes, config()).ok())
            .map_or(u32::MAX, |(tag, _)| tag)
    })
}

/// What locating a leg needs of an encoded `PostingRecord`, read field by field in its order
/// (a test checks the two agree), the text borrowed and dropped rather than copied.
struct PostingSpan {
    first_txn_id: u64,
    legs: u64,
}

impl<'de, C> BorrowDecode<'de, C> for PostingSpan {
    fn borrow_decode<D: BorrowDecoder<'de, Context = C>>(d: &mut D) -> Result<Self, DecodeError> {
        PostingKind::borrow_decode(d)?;
        u64::borrow_decode(d)?; // client_id
        u64::borrow_decode(d)?; // service_id
        Currency::borrow_decode(d)?;
        let first_txn_id = u64::borrow_decode(d)?;
        i64::borrow_decode(d)?; // posted_at_ms
        Money::borrow_decode(d)?; // amount
        let legs = u64::borrow_decode(d)?;
        for _ in 0..legs {
            LegRecord::borrow_decode(d)?;
        }
        <&[u8]>::borrow_decode(d)?; // transaction_source
        <&[u8]>::borrow_decode(d)?; // source_transaction_id
        Option::<&[u8]>::borrow_decode(d)?; // source_transaction_data
        Option::<&[u8]>::borrow_decode(d)?; // narration
        Option::<i64>::borrow_decode(d)?; // transaction_date_ms
        u64::borrow_decode(d)?; // fingerprint
        Ok(PostingSpan { first_txn_id, legs })
    }
}

/// A decimal encoded as its 96-bit mantissa and its scale.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Money(pub Decimal);

impl Encode for Money {
    fn encode<E: Encoder>(&self, encoder: &mut E) -> Result<(), EncodeError> {
        self.0.mantissa().encode(encoder)?;
        self.0.scale().encode(encoder)
    }
}

impl<Context> Decode<Context> for Money {
    fn decode<D: Decoder<Context = Context>>(decoder: &mut D) -> Result<Self, DecodeError> {
        let mantissa = i128::decode(decoder)?;
        let scale = u32::decode(decoder)?;
        Decimal::try_from_i128_with_scale(mantissa, scale)
            .map(Money)
            .map_err(|e| DecodeError::OtherString(format!("bad decimal: {e}")))
    }
}
bincode::impl_borrow_decode!(Money);

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn money_round_trips_exactly() {
        for s in [
            "0",
            "0.1000",
            "-12.3456",
            "1000000000000.0000",
            "79228162514264337593543950335",
        ] {
            let m = Money(Decimal::from_str(s).unwrap());
            let bytes = encode_to_vec(&m).unwrap();
            let back: Money = decode(&bytes).unwrap();
            assert_eq!(back, m);
            assert_eq!(back.0.to_string(), m.0.to_string(), "scale kept");
        }
    }

    #[test]
    fn trailing_bytes_are_refused() {
        let mut bytes = encode_to_vec(&7u64).unwrap();
        bytes.push(0);
        assert!(decode::<u64>(&bytes).is_err());
    }

    fn posting(i: u64, first_txn_id: u64, legs: u64) -> PostingRecord {
        use crate::record::LegRole;
        PostingRecord {
            kind: [
                PostingKind::Credit,
                PostingKind::Debit,
                PostingKind::Transfer,
                PostingKind::Reversal { original: i * 77 + 1 },
            ][i as usize % 4],
            client_id: i * 1_000_003,
            service_id: i + 7,
            currency: Currency::parse(if i.is_multiple_of(2) { "KES" } else { "USD" }).unwrap(),
            first_txn_id,
            posted_at_ms: 1_700_000_000_000 + i as i64,
            amount: Money(Decimal::new(-(i as i64) * 12_345 - 1, (i % 5) as u32)),
            legs: (0..legs)
                .map(|l| LegRecord {
                    account_id: u64::MAX - i - l,
                    delta: Money(Decimal::new(i as i64 * 99 - l as i64, 4)),
                    role: if l.is_multiple_of(2) {
                        LegRole::Source
                    } else {
                        LegRole::Destination
                    },
                    other_party: l * 300,
                })
                .collect(),
            transaction_source: "EXTERNAL".repeat(i as usize % 3),
            source_transaction_id: format!("k-{i}-é"),
            source_transaction_data: i
                .is_multiple_of(2)
                .then(|| format!(r#"{{"n":{i},"s":"ü{}"}}"#, "x".repeat(i as usize * 40))),
            narration: i.is_multiple_of(3).then(|| "naïve".repeat(i as usize)),
            transaction_date_ms: i.is_multiple_of(4).then_some(-(i as i64)),
            fingerprint: i.wrapping_mul(0x9E37_79B9_7F4A_7C15),
        }
    }

    #[test]
    fn the_posting_holding_a_leg_is_found_in_any_record_without_decoding_the_rest() {
        let fresh = |payload: &[u8], txn_id| posting_holding(payload, txn_id, &mut BatchPlace::default());
        let mut postings = Vec::new();
        let mut next = 1;
        for i in 0..40 {
            let legs = 1 + i % 3;
            postings.push(posting(i, next, legs));
            next += legs;
        }
        let batch = encode_to_vec(&Record::Batch(postings.clone())).unwrap();
        for p in &postings {
            for txn_id in p.first_txn_id..p.first_txn_id + p.legs.len() as u64 {
                assert_eq!(fresh(&batch, txn_id).unwrap().as_ref(), Some(p), "leg {txn_id}");
            }
        }
        assert!(fresh(&batch, 0).unwrap().is_none());
        assert!(fresh(&batch, next).unwrap().is_none());
        // A record of one posting, and a record that holds none.
        let single = encode_to_vec(&Record::Posting(postings[5].clone())).unwrap();
        let first = postings[5].first_txn_id;
        assert_eq!(fresh(&single, first).unwrap().as_ref(), Some(&postings[5]));
        assert!(fresh(&single, first - 1).unwrap().is_none());
        let other = encode_to_vec(&Record::DeleteUser { username: "u".into() }).unwrap();
        assert!(fresh(&other, 1).unwrap().is_none());
        // Cut short: an error, not a posting.
        assert!(fresh(&batch[..batch.len() / 2], next - 1).is_err());
        // Searched from where the last search stopped: every leg in order, then back to the
        // start for an earlier one, then a leg the record does not hold.
        let mut place = BatchPlace::default();
        for p in &postings {
            for txn_id in p.first_txn_id..p.first_txn_id + p.legs.len() as u64 {
                let found = posting_holding(&batch, txn_id, &mut place).unwrap();
                assert_eq!(found.as_ref(), Some(p), "leg {txn_id}");
            }
        }
        for txn_id in [3, 1, next - 1, 2] {
            let found = posting_holding(&batch, txn_id, &mut place).unwrap();
            assert_eq!(found, fresh(&batch, txn_id).unwrap(), "leg {txn_id}");
            assert!(found.is_some());
        }
        assert!(posting_holding(&batch, next, &mut place).unwrap().is_none());
        assert!(posting_holding(&batch, 0, &mut place).unwrap().is_none());
    }
}
