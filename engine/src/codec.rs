//! The one place that knows the payload encoding of WAL records and snapshots (bincode 2.0.1,
//! pinned: 3.0.0 is a placeholder and the project is unmaintained). Swapping the codec means
//! changing this module only.
//!
//! bincode's serde mode cannot decode `Decimal` (`AnyNotSupported`, found only at recovery), so
//! every type here uses bincode's own `Encode`/`Decode`, with money as mantissa and scale.

use bincode::de::Decoder;
use bincode::enc::Encoder;
use bincode::error::{DecodeError, EncodeError};
use bincode::{Decode, Encode};
use rust_decimal::Decimal;

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
}
