//! Posting bodies read straight into a [`PostingInput`], without a JSON tree. The credit,
//! debit, transfer and batch routes are walletd's hot path, and a `serde_json::Value` of one
//! posting costs a dozen allocations and most of the request's parsing time.
//!
//! Only plainly valid bodies are read here. Anything else (a missing, empty or null field, a
//! wrong type, a duplicate key, a bad amount or date) gives `None`, and the route reads the
//! body through [`crate::json::Fields`] instead, which words every problem. The tests hold the
//! two readings equal.

use crate::json::{DayBound, parse_date, too_long};
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::Value;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;
use walletd_engine::money;
use walletd_engine::views::{PostingInput, PostingInputKind};

/// The fields a posting may carry, each as its raw JSON text (a null reads as absent).
///
/// Any other field makes the body go to the full parse: serde_json checks a value it skips
/// for syntax but not for lone surrogates (`"\ud800"`) or depth, which the full parse
/// refuses. For the same reason a field of the struct that a route does not read must be
/// absent ([`unread`]).
#[derive(serde::Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct PostingFields<'a> {
    #[serde(borrow)]
    command: Option<&'a RawValue>,
    #[serde(borrow)]
    account_number: Option<&'a RawValue>,
    #[serde(borrow)]
    source_account_number: Option<&'a RawValue>,
    #[serde(borrow)]
    destination_account_number: Option<&'a RawValue>,
    #[serde(borrow)]
    client_service_code: Option<&'a RawValue>,
    #[serde(borrow)]
    transaction_amount: Option<&'a RawValue>,
    #[serde(borrow)]
    transaction_source: Option<&'a RawValue>,
    #[serde(borrow)]
    source_transaction_id: Option<&'a RawValue>,
    #[serde(borrow)]
    source_transaction_data: Option<&'a RawValue>,
    #[serde(borrow)]
    transaction_narration: Option<&'a RawValue>,
    #[serde(borrow)]
    transaction_date: Option<&'a RawValue>,
}

#[derive(serde::Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct BatchFields<'a> {
    #[serde(borrow)]
    atomic: Option<&'a RawValue>,
    #[serde(borrow)]
    postings: Option<Vec<Object<PostingFields<'a>>>>,
}

/// A JSON object's fields. Serde would also read a struct from a JSON array, field by field
/// in order; the routes take objects only.
struct Object<T>(T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ObjectVisitor<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjectVisitor<T> {
            type Value = T;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(serde::de::value::MapAccessDeserializer::new(map))
            }
        }
        d.deserialize_map(ObjectVisitor(PhantomData)).map(Object)
    }
}

fn object<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Option<T> {
    let text = std::str::from_utf8(body).ok()?;
    serde_json::from_str::<Object<T>>(text).ok().map(|o| o.0)
}

/// `POST /api/v1/account-transfers`.
pub fn transfer(body: &[u8]) -> Option<PostingInput> {
    let f: PostingFields = object(body)?;
    unread(&[f.command])?;
    posting_input(&f, "TRANSFER")
}

/// `POST /api/v1/transactions?command=CREDIT|DEBIT`: the body's posting, for `debit` or not.
pub fn credit_or_debit(body: &[u8], debit: bool) -> Option<PostingInput> {
    let f: PostingFields = object(body)?;
    unread(&[f.command])?;
    posting_input(&f, if debit { "DEBIT" } else { "CREDIT" })
}

/// A batch read whole: `atomic`, and each posting with its command.
pub struct Batch {
    pub atomic: bool,
    pub postings: Vec<(&'static str, PostingInput)>,
}

/// `POST /api/v1/transactions/batch`, if every posting in it is plainly valid.
pub fn batch(body: &[u8], max: usize) -> Option<Batch> {
    let b: BatchFields = object(body)?;
    let atomic = match b.atomic.map(RawValue::get) {
        None => false,
        Some("true") => true,
        Some("false") => false,
        Some(_) => return None,
    };
    let items = b.postings?;
    if items.is_empty() || items.len() > max {
        return None;
    }
    let mut postings = Vec::with_capacity(items.len());
    for Object(f) in &items {
        let command = ["CREDIT", "DEBIT", "TRANSFER"]
            .into_iter()
            .find(|c| string(f.command).is_some_and(|s| s == *c))?;
        postings.push((command, posting_input(f, command)?));
    }
    Some(Batch { atomic, postings })
}

/// A `command` posting (CREDIT, DEBIT or TRANSFER), its accounts and the fields every posting
/// shares, as `routes::transactions` reads them. The account fields of the other commands
/// must be absent.
fn posting_input(f: &PostingFields<'_>, command: &str) -> Option<PostingInput> {
    let kind = match command {
        "TRANSFER" => {
            unread(&[f.account_number])?;
            PostingInputKind::Transfer {
                source_account_number: text(f.source_account_number)?,
                destination_account_number: text(f.destination_account_number)?,
            }
        }
        _ => {
            unread(&[f.source_account_number, f.destination_account_number])?;
            let account_number = text(f.account_number)?;
            if command == "DEBIT" {
                PostingInputKind::Debit { account_number }
            } else {
                PostingInputKind::Credit { account_number }
            }
        }
    };
    Some(PostingInput {
        kind,
        client_service_code: required_str(f.client_service_code)?,
        amount: amount(f.transaction_amount?)?,
        transaction_source: required_str(f.transaction_source)?,
        source_transaction_id: text(f.source_transaction_id)?,
        source_transaction_data: match f.source_transaction_data {
            None => None,
            Some(raw) => Some(object_text(raw)?),
        },
        narration: match f.transaction_narration {
            None => None,
            Some(raw) => Some(string(Some(raw))?.into_owned()),
        },
        transaction_date_ms: match f.transaction_date {
            None => None,
            Some(raw) => Some(parse_date(&string(Some(raw))?, DayBound::Start)?),
        },
    })
}

/// A JSON string's text: borrowed from the body unless it has escapes to decode. Past
/// [`crate::json::TEXT_MAX_CHARS`] it is left to the fields, which word the problem.
fn string(raw: Option<&RawValue>) -> Option<Cow<'_, str>> {
    let t = raw?.get().trim_ascii();
    let inner = t.strip_prefix('"')?.strip_suffix('"')?;
    let text = if inner.contains('\\') {
        Cow::Owned(serde_json::from_str::<String>(t).ok()?)
    } else {
        Cow::Borrowed(inner)
    };
    (!too_long(&text)).then_some(text)
}

/// `Fields::required_str`: a non-empty string.
fn required_str(raw: Option<&RawValue>) -> Option<String> {
    string(raw).filter(|s| !s.is_empty()).map(Cow::into_owned)
}

/// `Fields::required_text`: a non-empty string, or a JSON number of digits only.
fn text(raw: Option<&RawValue>) -> Option<String> {
    let t = raw?.get().trim_ascii();
    if t.bytes().next().is_some_and(|b| b.is_ascii_digit()) {
        return (t.bytes().all(|b| b.is_ascii_digit()) && !too_long(t)).then(|| t.to_owned());
    }
    required_str(raw)
}

/// `Fields::amount`: the exact text of a JSON number, or a string.
fn amount(raw: &RawValue) -> Option<rust_decimal::Decimal> {
    let t = raw.get().trim_ascii();
    let number = t.bytes().next().is_some_and(|b| b == b'-' || b.is_ascii_digit());
    let text = if number { Cow::Borrowed(t) } else { string(Some(raw))? };
    money::parse_amount(&text).ok()
}

/// `source_transaction_data`: an object, kept as canonical JSON text (keys sorted, no spaces).
fn object_text(raw: &RawValue) -> Option<String> {
    // Parsed again here with a fresh depth budget, where the full parse counts from the
    // body's root: deep data is left to it.
    if depth(raw.get()) > MAX_DATA_DEPTH {
        return None;
    }
    match serde_json::from_str::<Value>(raw.get()).ok()? {
        v @ Value::Object(_) => Some(v.to_string()),
        _ => None,
    }
}

/// `Some` when none of the fields is given: fields a route does not read are left to the full
/// parse, which checks them (see [`PostingFields`]).
fn unread(fields: &[Option<&RawValue>]) -> Option<()> {
    fields.iter().all(Option::is_none).then_some(())
}

/// Deepest `source_transaction_data` read here; the full parse refuses a body nested past 128.
const MAX_DATA_DEPTH: usize = 100;

/// How deeply a JSON text nests objects and arrays (brackets inside strings not counted).
fn depth(text: &str) -> usize {
    let (mut depth, mut deepest, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for b in text.bytes() {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::{Fields, parse_object};
    use crate::routes::transactions::{credit_or_debit_input, judge_batch, transfer_input};
    use serde_json::{Map, json};

    /// Values each field is tried with: valid and invalid spellings of every JSON type.
    fn variants() -> Vec<Value> {
        vec![
            Value::Null,
            json!(""),
            json!("  x  "),
            json!("a\"b\\\\c\u{e9}\n"),
            json!("12345"),
            json!("100.50"),
            json!("1e2"),
            json!("-1"),
            json!("abc"),
            json!("2024-02-29"),
            json!("2024-02-29T10:11:12Z"),
            json!("2024-02-30"),
            json!(12345),
            json!(-5),
            json!(0),
            json!(true),
            json!({"b": 1, "a": [1, "x"]}),
            json!({}),
            json!([1]),
            serde_json::from_str("100.5").unwrap(),
            serde_json::from_str("1E2").unwrap(),
            serde_json::from_str("0.00001").unwrap(),
            serde_json::from_str("12345678901234567890123").unwrap(),
        ]
    }

    fn transfer_body() -> Map<String, Value> {
        let Value::Object(m) = json!({
            "client_service_code": "SVC1",
            "source_account_number": "1000000001",
            "destination_account_number": 1000000002u64,
            "transaction_amount": "100.50",
            "transaction_source": "MOBILE",
            "source_transaction_id": "tx-1",
            "source_transaction_data": {"z": 1, "a": {"y": "é", "b": null}},
            "transaction_narration": "rent \"March\"",
            "transaction_date": "2024-03-01T08:00:00+03:00",
        }) else {
            unreachable!()
        };
        m
    }

    /// Every body the slow reading accepts, the fast one reads the same or leaves to it;
    /// every body it refuses, the fast one leaves to it.
    fn agree<T: PartialEq + fmt::Debug>(text: &str, fast: Option<T>, slow: Result<T, crate::error::ApiError>) {
        match (fast, slow) {
            (Some(f), Ok(s)) => assert_eq!(f, s, "{text}"),
            (Some(f), Err(e)) => panic!("fast reading accepted what the fields refuse: {text}: {f:?} vs {e:?}"),
            (None, _) => {}
        }
    }

    fn slow_transfer(text: &str) -> Result<PostingInput, crate::error::ApiError> {
        transfer_input(&parse_object(text.as_bytes())?)
    }

    fn slow_credit_or_debit(text: &str, debit: bool) -> Result<PostingInput, crate::error::ApiError> {
        let body = parse_object(text.as_bytes())?;
        let mut f = Fields::new(&body);
        let input = credit_or_debit_input(&mut f, debit);
        f.finish().map(|()| input)
    }

    #[test]
    fn plain_bodies_are_read_fast_and_as_the_fields_read_them() {
        let text = Value::Object(transfer_body()).to_string();
        let fast = transfer(text.as_bytes()).expect("a plain transfer is read fast");
        assert_eq!(fast, slow_transfer(&text).unwrap());
        assert_eq!(
            fast.source_transaction_data.as_deref(),
            Some(r#"{"a":{"b":null,"y":"é"},"z":1}"#)
        );
        assert_eq!(fast.narration.as_deref(), Some("rent \"March\""));
        let mut credit = transfer_body();
        credit.remove("source_account_number");
        credit.remove("destination_account_number");
        credit.insert("account_number".into(), json!("1000000003"));
        let text = Value::Object(credit).to_string();
        for debit in [false, true] {
            let fast = credit_or_debit(text.as_bytes(), debit).expect("a plain credit is read fast");
            assert_eq!(fast, slow_credit_or_debit(&text, debit).unwrap());
        }
    }

    #[test]
    fn every_field_in_every_spelling_reads_the_same_both_ways() {
        let fields = [
            "client_service_code",
            "source_account_number",
            "destination_account_number",
            "account_number",
            "transaction_amount",
            "transaction_source",
            "source_transaction_id",
            "source_transaction_data",
            "transaction_narration",
            "transaction_date",
        ];
        let mut fast_reads = 0;
        for field in fields {
            for v in variants() {
                // A transfer's body, and a credit's or debit's (its account instead of the two).
                let mut body = transfer_body();
                let mut account = transfer_body();
                account.remove("source_account_number");
                account.remove("destination_account_number");
                account.insert("account_number".into(), json!("1000000003"));
                body.insert(field.into(), v.clone());
                account.insert(field.into(), v.clone());
                let text = Value::Object(body.clone()).to_string();
                let fast = transfer(text.as_bytes());
                fast_reads += usize::from(fast.is_some());
                agree(&text, fast, slow_transfer(&text));
                let credit = Value::Object(account.clone()).to_string();
                let fast = credit_or_debit(credit.as_bytes(), true);
                fast_reads += usize::from(fast.is_some());
                agree(&credit, fast, slow_credit_or_debit(&credit, true));
                body.remove(field);
                account.remove(field);
                let text = Value::Object(body).to_string();
                agree(&text, transfer(text.as_bytes()), slow_transfer(&text));
                let credit = Value::Object(account).to_string();
                agree(
                    &credit,
                    credit_or_debit(credit.as_bytes(), false),
                    slow_credit_or_debit(&credit, false),
                );
            }
        }
        // The fast reading is not a reading that refuses everything.
        assert!(fast_reads > 40, "{fast_reads}");
    }

    #[test]
    fn odd_texts_are_left_to_the_fields() {
        let plain = Value::Object(transfer_body()).to_string();
        let texts = [
            String::new(),
            "  ".into(),
            "null".into(),
            "[]".into(),
            // A struct from an array, field by field, is what serde alone would read.
            r#"["SVC1","1","2","5","M","t"]"#.into(),
            plain.replacen('{', r#"{"client_service_code":"OTHER","#, 1),
            plain.replacen("\"client_service_code\"", "\"client\\u005fservice_code\"", 1),
            format!("{plain} x"),
            format!("\n{plain}\n"),
            plain.replacen("\"MOBILE\"", "\"MOB\\u0049LE\"", 1),
        ];
        for text in &texts {
            agree(text, transfer(text.as_bytes()), slow_transfer(text));
        }
        // What serde_json skips without checking: lone surrogates and depth, in fields the
        // fast reading does not read (or reads separately).
        let deep = |n: usize| format!("{}1{}", "[".repeat(n), "]".repeat(n));
        let deep_data = |n: usize| format!("{}1{}", r#"{"a":"#.repeat(n), "}".repeat(n));
        let odd = [
            plain.replacen('{', r#"{"x":"\ud800","#, 1),
            plain.replacen('{', r#"{"account_number":"\ud800","#, 1),
            plain.replacen('{', &format!(r#"{{"x":{},"#, deep(200)), 1),
            plain.replacen('{', &format!(r#"{{"x":{},"#, deep(127)), 1),
            {
                let mut body = transfer_body();
                body.insert(
                    "source_transaction_data".into(),
                    serde_json::from_str(&deep_data(127)).unwrap(),
                );
                Value::Object(body).to_string()
            },
        ];
        for text in &odd {
            assert!(transfer(text.as_bytes()).is_none(), "{text}");
            assert!(slow_transfer(text).is_err(), "the fields refuse it too: {text}");
        }
        // Data nested 60 deep is read fast; an unknown field, or a field the route does not
        // read, sends a body that the fields accept to the full parse.
        let mut body = transfer_body();
        body.insert(
            "source_transaction_data".into(),
            serde_json::from_str(&deep_data(60)).unwrap(),
        );
        let data60 = Value::Object(body).to_string();
        assert_eq!(
            transfer(data60.as_bytes()),
            Some(slow_transfer(&data60).unwrap()),
            "{data60}"
        );
        for extra in [
            r#"{"unknown":[1,2],"#,
            r#"{"account_number":"1","#,
            r#"{"command":"CREDIT","#,
        ] {
            let text = plain.replacen('{', extra, 1);
            assert!(transfer(text.as_bytes()).is_none(), "{text}");
            assert!(slow_transfer(&text).is_ok(), "{text}");
        }
        let mut not_utf8 = plain.clone().into_bytes();
        not_utf8.insert(plain.find("MOBILE").unwrap(), 0xff);
        assert!(transfer(&not_utf8).is_none());
    }

    #[test]
    fn batches_read_the_same_both_ways() {
        // Each command with its own account fields (a TRANSFER with an `account_number`, say,
        // is left to the full parse).
        let item = |command: Value| {
            let mut m = transfer_body();
            if command != json!("TRANSFER") {
                m.remove("source_account_number");
                m.remove("destination_account_number");
                m.insert("account_number".into(), json!("1000000003"));
            }
            m.insert("command".into(), command);
            Value::Object(m)
        };
        let mut cases = vec![
            json!({"postings": [item(json!("TRANSFER")), item(json!("CREDIT")), item(json!("DEBIT"))]}),
            json!({"atomic": true, "postings": [item(json!("TRANSFER"))]}),
            json!({"atomic": false, "postings": [item(json!("DEBIT"))]}),
            json!({"atomic": null, "postings": [item(json!("CREDIT"))]}),
            json!({"atomic": 1, "postings": [item(json!("CREDIT"))]}),
            json!({"atomic": "true", "postings": [item(json!("CREDIT"))]}),
            json!({"postings": []}),
            json!({"postings": {}}),
            json!({"postings": [[1]]}),
            json!({"postings": [item(json!("transfer"))]}),
            json!({"postings": [item(Value::Null)]}),
            json!({"postings": [item(json!("CREDIT")), {"command": "DEBIT"}]}),
            json!({}),
        ];
        for v in variants() {
            let mut bad = item(json!("TRANSFER"));
            bad["transaction_amount"] = v;
            cases.push(json!({"postings": [item(json!("CREDIT")), bad]}));
        }
        let mut fast_reads = 0;
        for case in cases {
            let text = case.to_string();
            let fast = batch(text.as_bytes(), 3);
            fast_reads += usize::from(fast.is_some());
            let slow = parse_object(text.as_bytes()).and_then(|m| judge_batch(&m));
            match (fast, slow) {
                (Some(f), Ok(s)) => {
                    assert!(s.results.iter().all(Option::is_none), "{text}");
                    assert_eq!(f.atomic, s.atomic, "{text}");
                    assert_eq!(s.slots, (0..f.postings.len()).collect::<Vec<_>>(), "{text}");
                    let (commands, inputs): (Vec<_>, Vec<_>) =
                        f.postings.into_iter().map(|(c, i)| (Some(c), i)).unzip();
                    assert_eq!(commands, s.commands, "{text}");
                    assert_eq!(inputs, s.inputs, "{text}");
                }
                (Some(_), Err(e)) => panic!("fast reading accepted what the fields refuse: {text}: {e:?}"),
                (None, _) => {}
            }
        }
        assert!(fast_reads >= 4, "{fast_reads}");
        let four = json!({"postings": [item(json!("CREDIT")), item(json!("CREDIT")), item(json!("CREDIT")), item(json!("CREDIT"))]});
        assert!(
            batch(four.to_string().as_bytes(), 3).is_none(),
            "more than the most a batch holds"
        );
    }
}
