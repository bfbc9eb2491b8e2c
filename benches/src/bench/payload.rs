//! The load loop's JSON, cheaply: posting bodies pasted from pieces rendered once into a
//! reused buffer (no `format!`, no allocation), and batch answers scanned once for the
//! verdict of each posting, with only the refused items handed to serde.

use super::setup::World;
use super::wire::push_decimal;
use super::workload::{Kind, Op, push_amount};
use std::ops::Range;

/// The fixed parts of the posting bodies of one run, rendered once: the account numbers
/// packed in one buffer (10,000 wallets take 80 KB, so picking random wallets stays in
/// cache) and the text around them that includes the service code.
pub struct Bodies {
    numbers: Vec<u8>,
    /// Wallet `i`'s number is `numbers[ends[i - 1]..ends[i]]` (from 0 for the first).
    ends: Vec<usize>,
    /// `","client_service_code":"SVC","transaction_amount":`, after a transfer's destination.
    transfer_tail: Vec<u8>,
    /// `","client_service_code":"SVC","transaction_source":"EXTERNAL","transaction_amount":`.
    single_tail: Vec<u8>,
}

impl Bodies {
    pub fn new(w: &World) -> Bodies {
        let mut numbers = Vec::new();
        let ends = w
            .wallets
            .iter()
            .map(|n| {
                numbers.extend_from_slice(n.as_bytes());
                numbers.len()
            })
            .collect();
        let service = format!(r#"","client_service_code":"{}","#, w.service);
        Bodies {
            numbers,
            ends,
            transfer_tail: format!(r#"{service}"transaction_amount":"#).into_bytes(),
            single_tail: format!(r#"{service}"transaction_source":"EXTERNAL","transaction_amount":"#).into_bytes(),
        }
    }

    fn number(&self, wallet: usize) -> &[u8] {
        let start = if wallet == 0 { 0 } else { self.ends[wallet - 1] };
        &self.numbers[start..self.ends[wallet]]
    }

    /// Appends one posting's fields, without the braces, as the single endpoints take them;
    /// its `source_transaction_id` is `c{connection}-{seq}`.
    pub fn push_posting(&self, out: &mut Vec<u8>, op: &Op, connection: usize, seq: u64) {
        match op.kind {
            Kind::Transfer => {
                out.extend_from_slice(br#""source_account_number":""#);
                out.extend_from_slice(self.number(op.a));
                out.extend_from_slice(br#"","destination_account_number":""#);
                out.extend_from_slice(self.number(op.b));
                out.extend_from_slice(&self.transfer_tail);
            }
            Kind::Credit | Kind::Debit => {
                out.extend_from_slice(br#""account_number":""#);
                out.extend_from_slice(self.number(op.a));
                out.extend_from_slice(&self.single_tail);
            }
        }
        push_amount(out, op.units);
        out.extend_from_slice(br#","source_transaction_id":"c"#);
        push_decimal(out, connection as u64);
        out.push(b'-');
        push_decimal(out, seq);
        out.push(b'"');
        if op.kind == Kind::Transfer {
            out.extend_from_slice(br#","transaction_source":"INTERNAL""#);
        }
    }
}

/// Reads a batch answer `{"results":[...], ...}`: for each item of `results`, in order, None
/// when it was applied (an object without a top-level `code` or `status`) or the item's
/// bytes when it was refused. This checks the structure it walks through (the answer's
/// object, the `results` array, each item's keys) and matches brackets and strings below
/// that; it is not a full JSON validator.
pub fn scan_batch(body: &[u8], verdicts: &mut Vec<Option<Range<usize>>>) -> Result<(), String> {
    verdicts.clear();
    let mut s = Scan { b: body, i: 0 };
    let mut seen_results = false;
    s.expect(b'{')?;
    if s.peek() == Some(b'}') {
        return Err("the answer is an empty object".into());
    }
    loop {
        let key = s.string()?;
        s.expect(b':')?;
        if &body[key] == b"results" {
            seen_results = true;
            s.items(verdicts)?;
        } else {
            s.skip_value()?;
        }
        if s.list_end(b'}')? {
            break;
        }
    }
    s.ws();
    if s.i != body.len() {
        return Err(format!("bytes after the answer at {}", s.i));
    }
    if !seen_results {
        return Err("no `results`".into());
    }
    Ok(())
}

struct Scan<'a> {
    b: &'a [u8],
    i: usize,
}

impl Scan<'_> {
    fn ws(&mut self) {
        while self.b.get(self.i).is_some_and(|c| c.is_ascii_whitespace()) {
            self.i += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.b.get(self.i).copied()
    }

    fn expect(&mut self, c: u8) -> Result<(), String> {
        if self.peek() != Some(c) {
            return Err(format!("expected `{}` at {}", char::from(c), self.i));
        }
        self.i += 1;
        Ok(())
    }

    /// After an item of an object or array: true at its closing `close`, false at a comma.
    fn list_end(&mut self, close: u8) -> Result<bool, String> {
        match self.peek() {
            Some(b',') => {
                self.i += 1;
                Ok(false)
            }
            Some(c) if c == close => {
                self.i += 1;
                Ok(true)
            }
            _ => Err(format!("expected `,` or `{}` at {}", char::from(close), self.i)),
        }
    }

    /// A string; its raw contents (escapes left as they are).
    fn string(&mut self) -> Result<Range<usize>, String> {
        self.expect(b'"')?;
        let start = self.i;
        self.i = skip_string_body(self.b, start).ok_or("unterminated string")?;
        Ok(start..self.i - 1)
    }

    /// The `results` array: one verdict per item.
    fn items(&mut self, verdicts: &mut Vec<Option<Range<usize>>>) -> Result<(), String> {
        self.expect(b'[')?;
        if self.peek() == Some(b']') {
            self.i += 1;
            return Ok(());
        }
        loop {
            if self.peek() != Some(b'{') {
                return Err(format!("results[{}] is not an object", verdicts.len()));
            }
            let start = self.i;
            self.i += 1;
            let mut refused = false;
            if self.peek() == Some(b'}') {
                self.i += 1;
            } else {
                loop {
                    let key = self.string()?;
                    refused |= matches!(&self.b[key], b"code" | b"status");
                    self.expect(b':')?;
                    self.skip_value()?;
                    if self.list_end(b'}')? {
                        break;
                    }
                }
            }
            verdicts.push(refused.then_some(start..self.i));
            if self.list_end(b']')? {
                return Ok(());
            }
        }
    }

    /// Any value: a string, an object or array (brackets counted, strings skipped), or a
    /// number or literal.
    fn skip_value(&mut self) -> Result<(), String> {
        match self.peek() {
            Some(b'"') => self.string().map(drop),
            Some(b'{' | b'[') => {
                let mut depth = 0usize;
                while let Some(&c) = self.b.get(self.i) {
                    self.i += 1;
                    match c {
                        b'"' => self.i = skip_string_body(self.b, self.i).ok_or("unterminated string")?,
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => {
                            depth -= 1;
                            if depth == 0 {
                                return Ok(());
                            }
                        }
                        _ => {}
                    }
                }
                Err("unterminated object or array".into())
            }
            _ => {
                let start = self.i;
                while self
                    .b
                    .get(self.i)
                    .is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'))
                {
                    self.i += 1;
                }
                if self.i == start {
                    return Err(format!("expected a value at {start}"));
                }
                Ok(())
            }
        }
    }
}

/// From just after an opening quote: the position just after the closing one. Eight bytes
/// at a time while no quote or backslash is among them (answers are mostly strings).
fn skip_string_body(b: &[u8], mut i: usize) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    while let Some(chunk) = b.get(i..i + 8) {
        let x = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
        let (q, s) = (x ^ (ONES * u64::from(b'"')), x ^ (ONES * u64::from(b'\\')));
        // The high bit of the first byte that is zero in q or s (exact for the first one).
        let hits = ((q.wrapping_sub(ONES) & !q) | (s.wrapping_sub(ONES) & !s)) & HIGHS;
        if hits == 0 {
            i += 8;
            continue;
        }
        i += (hits.trailing_zeros() / 8) as usize;
        if b[i] == b'"' {
            return Some(i + 1);
        }
        i += 2;
    }
    loop {
        match b.get(i)? {
            b'"' => return Some(i + 1),
            b'\\' => i += 2,
            _ => i += 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::Decimal;

    fn world() -> World {
        World {
            client_code: "C1".into(),
            service: "SVC9".into(),
            wallets: vec!["10001".into(), "10002".into()],
            fund: Decimal::ONE,
            batch_endpoint: true,
            setup_secs: 0.0,
        }
    }

    #[test]
    fn posting_bodies() {
        let bodies = Bodies::new(&world());
        let mut out = Vec::new();
        let op = |kind, a, b, units| Op { kind, a, b, units };
        bodies.push_posting(&mut out, &op(Kind::Transfer, 0, 1, 12_300), 3, 41);
        assert_eq!(
            String::from_utf8(out.clone()).unwrap(),
            r#""source_account_number":"10001","destination_account_number":"10002","client_service_code":"SVC9","transaction_amount":1.23,"source_transaction_id":"c3-41","transaction_source":"INTERNAL""#
        );
        out.clear();
        bodies.push_posting(&mut out, &op(Kind::Debit, 1, 1, 5), 0, 0);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#""account_number":"10002","client_service_code":"SVC9","transaction_source":"EXTERNAL","transaction_amount":0.0005,"source_transaction_id":"c0-0""#
        );
    }

    #[test]
    fn strings_end_at_their_unescaped_quote() {
        for len in 0..20 {
            for escape_at in 0..=len {
                // `len` letters with `\"` or `\\` inserted at `escape_at`, then the closing quote.
                for escape in [&br#"\""#[..], br"\\"] {
                    let mut text = vec![b'x'; len];
                    text.splice(escape_at..escape_at, escape.iter().copied());
                    let end = text.len() + 1;
                    text.extend_from_slice(br#"",{"#);
                    assert_eq!(
                        skip_string_body(&text, 0),
                        Some(end),
                        "{}",
                        String::from_utf8_lossy(&text)
                    );
                }
            }
            assert_eq!(skip_string_body(&vec![b'y'; len], 0), None);
        }
    }

    #[test]
    fn batch_answers() {
        let body = br#"{"atomic":false,"succeeded":2,"failed":2,"results":[
            {"source_transaction":{"transaction_id":"a\"}]","x":[1,{"status":2}]},"n":-1.5e3},
            {"status":409,"message":"Insufficient funds","code":"HttpException"},
            {},
            {"message":["a","b"],"code":"HttpException"}
        ]}"#;
        let mut v = Vec::new();
        scan_batch(body, &mut v).unwrap();
        assert_eq!(v.len(), 4);
        assert!(v[0].is_none() && v[2].is_none());
        let item = |r: &Option<Range<usize>>| String::from_utf8(body[r.clone().unwrap()].to_vec()).unwrap();
        assert_eq!(
            item(&v[1]),
            r#"{"status":409,"message":"Insufficient funds","code":"HttpException"}"#
        );
        assert_eq!(item(&v[3]), r#"{"message":["a","b"],"code":"HttpException"}"#);

        scan_batch(br#"{"results":[]}"#, &mut v).unwrap();
        assert!(v.is_empty());
        for bad in [
            &br#"{"results":[null]}"#[..],
            br#"{"results":[{"a":1}"#,
            br#"{"results":[{"a":"x}]}"#,
            br#"{"results":[{"a":1}]} x"#,
            br#"{"succeeded":1}"#,
            br#"[]"#,
            br#"{"results":[{"a":}]}"#,
        ] {
            assert!(scan_batch(bad, &mut v).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }
}
