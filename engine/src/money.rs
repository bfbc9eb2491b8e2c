//! Money: amounts are `rust_decimal` values with exactly 4 decimal places, parsed from their
//! decimal text (never through `f64`), and ISO 4217 currency codes.

use rust_decimal::Decimal;
use std::fmt;
use std::str::FromStr;

/// Scale of every amount and balance in the ledger.
pub const SCALE: u32 = 4;

/// Largest amount a single request may carry (a trillion units): larger is refused as absurd,
/// which also keeps every sum of balances far from `Decimal`'s range.
pub fn max_amount() -> Decimal {
    Decimal::new(1_000_000_000_000, 0)
}

/// Why an amount's text was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AmountError {
    NotANumber,
    Exponent,
    TooManyDecimals,
    NotPositive,
    TooLarge,
    Negative,
}

impl fmt::Display for AmountError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AmountError::NotANumber => "must be a decimal number",
            AmountError::Exponent => "must be written in plain decimal notation",
            AmountError::TooManyDecimals => "must have at most 4 decimal places",
            AmountError::NotPositive => "must be greater than 0",
            AmountError::TooLarge => "must not exceed 1000000000000",
            AmountError::Negative => "must not be negative",
        })
    }
}

/// Parses plain decimal text (`"100"`, `"100.50"`, `"-3.5"`) into a scale-4 decimal.
/// Exponents, more than 4 decimals, and anything that is not a plain number are refused.
pub fn parse_decimal(text: &str) -> Result<Decimal, AmountError> {
    let t = text.trim();
    if t.is_empty() {
        return Err(AmountError::NotANumber);
    }
    if t.contains(['e', 'E']) {
        return Err(AmountError::Exponent);
    }
    let digits = t.strip_prefix('-').or_else(|| t.strip_prefix('+')).unwrap_or(t);
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if int.is_empty() && frac.is_empty()
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(AmountError::NotANumber);
    }
    if frac.len() > SCALE as usize {
        return Err(AmountError::TooManyDecimals);
    }
    if int.len() > 15 {
        return Err(AmountError::TooLarge);
    }
    let mut d = Decimal::from_str(t).map_err(|_| AmountError::NotANumber)?;
    d.rescale(SCALE);
    Ok(d)
}

/// A transaction amount: strictly positive, at most [`max_amount`].
pub fn parse_amount(text: &str) -> Result<Decimal, AmountError> {
    let d = parse_decimal(text)?;
    if d <= Decimal::ZERO {
        return Err(AmountError::NotPositive);
    }
    if d > max_amount() {
        return Err(AmountError::TooLarge);
    }
    Ok(d)
}

/// A limit or minimum balance: zero or positive, at most [`max_amount`].
pub fn parse_non_negative(text: &str) -> Result<Decimal, AmountError> {
    let d = parse_decimal(text)?;
    if d < Decimal::ZERO {
        return Err(AmountError::Negative);
    }
    if d > max_amount() {
        return Err(AmountError::TooLarge);
    }
    Ok(d)
}

/// `-d`, except that zero stays +0. rust_decimal keeps a sign on zero: a negated zero leg
/// would print as "-0.0000", read as a debit (`is_sign_negative`), and come back from the WAL,
/// which keeps no sign for zero, as a credit.
pub fn negate(d: Decimal) -> Decimal {
    if d.is_zero() { Decimal::ZERO } else { -d }
}

/// Normalises a decimal to scale 4 (half-even rounding past it).
pub fn to_scale(d: Decimal) -> Decimal {
    let mut r = d.round_dp_with_strategy(SCALE, rust_decimal::RoundingStrategy::MidpointNearestEven);
    r.rescale(SCALE);
    r
}

/// `"96.0000"`: the text form of money in every answer.
pub fn format_money(d: Decimal) -> String {
    to_scale(d).to_string()
}

/// An ISO 4217 currency code, stored as its three ASCII letters.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, bincode::Encode, bincode::Decode)]
pub struct Currency([u8; 3]);

impl Currency {
    /// Accepts only the active codes of the ISO 4217 list.
    pub fn parse(code: &str) -> Option<Currency> {
        let b = code.as_bytes();
        if b.len() != 3 || !b.iter().all(u8::is_ascii_uppercase) {
            return None;
        }
        ISO_4217
            .split(' ')
            .any(|c| c == code)
            .then(|| Currency([b[0], b[1], b[2]]))
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("XXX")
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

const ISO_4217: &str = "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BOV BRL \
BSD BTN BWP BYN BZD CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB \
EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR \
KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN \
NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE \
SLL SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD USN UYI UYU UYW UZS VED VES \
VND VUV WST XAF XAG XAU XBA XBB XBC XBD XCD XCG XDR XOF XPD XPF XPT XSU XTS XUA XXX YER ZAR ZMW ZWG ZWL";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_plain_decimals_exactly() {
        assert_eq!(parse_amount("0.1").unwrap().to_string(), "0.1000");
        assert_eq!(parse_amount("100.50").unwrap().to_string(), "100.5000");
        assert_eq!(format_money(parse_amount("96").unwrap()), "96.0000");
        assert_eq!(parse_decimal("-3.5").unwrap().to_string(), "-3.5000");
    }

    #[test]
    fn refuses_what_is_not_plain_money() {
        assert_eq!(parse_amount("1e2"), Err(AmountError::Exponent));
        assert_eq!(parse_amount("1.00001"), Err(AmountError::TooManyDecimals));
        assert_eq!(parse_amount("0"), Err(AmountError::NotPositive));
        assert_eq!(parse_amount("-5"), Err(AmountError::NotPositive));
        assert_eq!(parse_amount("NaN"), Err(AmountError::NotANumber));
        assert_eq!(parse_amount("."), Err(AmountError::NotANumber));
        assert_eq!(parse_amount("1000000000000.0001"), Err(AmountError::TooLarge));
        assert_eq!(parse_amount("99999999999999999999999"), Err(AmountError::TooLarge));
    }

    #[test]
    fn currencies_come_from_the_iso_list() {
        assert_eq!(Currency::parse("KES").unwrap().as_str(), "KES");
        assert!(Currency::parse("kes").is_none());
        assert!(Currency::parse("ABC").is_none());
        assert!(Currency::parse("KESS").is_none());
    }

    #[test]
    fn rounding_is_half_even() {
        let d = Decimal::from_str("2.00005").unwrap();
        assert_eq!(to_scale(d).to_string(), "2.0000");
        let d = Decimal::from_str("2.00015").unwrap();
        assert_eq!(to_scale(d).to_string(), "2.0002");
    }

    #[test]
    fn a_negated_zero_has_no_sign() {
        let four = Decimal::from_str("4.0000").unwrap();
        // A CREDIT whose fee is the whole amount leaves the wallet a zero leg.
        let zero_leg = four - four;
        assert!(!zero_leg.is_sign_negative());
        // Plain negation keeps a sign on zero; `negate` does not.
        assert!((-zero_leg).is_sign_negative());
        assert!(!negate(zero_leg).is_sign_negative());
        assert_eq!(to_scale(negate(zero_leg)).to_string(), "0.0000");
        assert_eq!(negate(four).to_string(), "-4.0000");
    }
}
