//! Reading requests: JSON bodies (parsed whatever the Content-Type says), query strings, and
//! field-by-field validation that collects every problem into one 400 answer in the
//! documents' (class-validator) style: `"client_name should not be empty"`.
//!
//! Bodies are first parsed into a `serde_json::Value` and then judged field by field, rather
//! than deserialized into typed structs: serde stops at the first problem and words it its own
//! way, while clients of this API expect one sentence per problem. Amounts are read from the
//! JSON number's own text (serde_json's `arbitrary_precision`), never through `f64`.

use crate::error::ApiError;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use chrono::{DateTime, NaiveDate, NaiveDateTime};
use rust_decimal::Decimal;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use walletd_engine::money::{self, AmountError};
use walletd_engine::views::PageRequest;

/// Largest `limit` a list answers with; larger values are clamped to it.
pub const MAX_LIMIT: u64 = 100;
/// `limit` when the request gives none.
pub const DEFAULT_LIMIT: u64 = 10;

/// The request body as a JSON object. An empty body reads as `{}` so that a missing body
/// answers with the missing fields, one sentence each.
#[derive(Debug, Default)]
pub struct JsonBody(pub Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let RawJson(bytes) = RawJson::from_request(req, state).await?;
        parse_object(&bytes).map(JsonBody)
    }
}

/// The request body's bytes, unparsed: the posting routes read plainly valid bodies without
/// a JSON tree (`crate::posting_body`) and call [`parse_object`] only for the others.
#[derive(Debug)]
pub struct RawJson(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for RawJson {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        Bytes::from_request(req, state)
            .await
            .map(RawJson)
            .map_err(body_rejection)
    }
}

fn body_rejection(e: BytesRejection) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge("Request body is too large".into())
    } else {
        ApiError::invalid("request body could not be read")
    }
}

/// Parses a body into a JSON object; empty (or blank) is `{}`.
pub fn parse_object(bytes: &[u8]) -> Result<Map<String, Value>, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    // Checked as UTF-8 in one pass (word at a time for ASCII), so that the parser need not
    // check every string it reads on its own.
    let Ok(text) = std::str::from_utf8(bytes) else {
        return Err(ApiError::invalid(
            "request body must be valid JSON (it is not valid UTF-8)",
        ));
    };
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::invalid("request body must be a JSON object")),
        Err(e) => Err(ApiError::invalid(format!("request body must be valid JSON ({e})"))),
    }
}

/// The query string as a JSON object of strings (the last of repeated keys wins).
#[derive(Debug, Default)]
pub struct QueryMap(pub Map<String, Value>);

impl<S: Send + Sync> FromRequestParts<S> for QueryMap {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        query_map(parts).map(QueryMap)
    }
}

fn query_map(parts: &Parts) -> Result<Map<String, Value>, ApiError> {
    let Query(pairs) = Query::<Vec<(String, String)>>::try_from_uri(&parts.uri)
        .map_err(|_| ApiError::invalid("query string could not be parsed"))?;
    Ok(pairs.into_iter().map(|(k, v)| (k, Value::String(v))).collect())
}

/// A path parameter; a malformed one (bad percent-encoding) answers 400 in our shape.
#[derive(Debug)]
pub struct PathParam<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for PathParam<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(v)| PathParam(v))
            .map_err(|e| ApiError::invalid(e.body_text()))
    }
}

/// Query string and JSON body together, for GETs whose parameters the documents send in a
/// body (`{"page":1,"limit":10}`): a key in the query string wins over the body's.
#[derive(Debug, Default)]
pub struct Params(pub Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for Params {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let (parts, body) = req.into_parts();
        let query = query_map(&parts)?;
        let req = Request::from_parts(parts, body);
        let JsonBody(mut map) = JsonBody::from_request(req, state).await?;
        map.extend(query);
        Ok(Params(map))
    }
}

/// Whether a date without a time means the start or the end of its day.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DayBound {
    Start,
    End,
}

/// ISO 8601 with or without time and zone, as milliseconds since the epoch, UTC. A time
/// without a zone is UTC; a date alone is the start (00:00:00.000) or end (23:59:59.999) of
/// that day.
pub fn parse_date(text: &str, bound: DayBound) -> Option<i64> {
    let t = text.trim();
    if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
        return Some(dt.timestamp_millis());
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%d %H:%M:%S%.f%z"] {
        if let Ok(dt) = DateTime::parse_from_str(t, fmt) {
            return Some(dt.timestamp_millis());
        }
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(n) = NaiveDateTime::parse_from_str(t, fmt) {
            return Some(n.and_utc().timestamp_millis());
        }
    }
    let day = NaiveDate::parse_from_str(t, "%Y-%m-%d").ok()?;
    let at = match bound {
        DayBound::Start => day.and_hms_milli_opt(0, 0, 0, 0)?,
        DayBound::End => day.and_hms_milli_opt(23, 59, 59, 999)?,
    };
    Some(at.and_utc().timestamp_millis())
}

/// The exact text of a JSON number (or of a decimal string), for money parsing.
fn number_text(v: &Value) -> Option<&str> {
    match v {
        Value::Number(n) => Some(n.as_str()),
        Value::String(s) => Some(s.as_str()),
        _ => None,
    }
}

/// The longest text a field may hold. Names, addresses, narrations and the like are short;
/// without a bound, one request could store 64 KiB in a name, echoed into every answer and
/// every leg that carries it.
pub const TEXT_MAX_CHARS: usize = 4096;

/// True when `s` has more than [`TEXT_MAX_CHARS`] characters (counted only past that many bytes).
pub fn too_long(s: &str) -> bool {
    s.len() > TEXT_MAX_CHARS && s.chars().count() > TEXT_MAX_CHARS
}

/// Judges the fields of one JSON object, collecting one sentence per problem. Getters return
/// a placeholder when the field is bad; call [`Fields::finish`] before using the values.
#[derive(Debug)]
pub struct Fields<'a> {
    map: &'a Map<String, Value>,
    /// For an array item, the array's name and the item's index, which prefix the names in
    /// its problems. Spelled only when a problem needs it: a batch has thousands of items.
    item: Option<(&'static str, usize)>,
    problems: Vec<String>,
}

impl<'a> Fields<'a> {
    pub fn new(map: &'a Map<String, Value>) -> Self {
        Fields {
            map,
            item: None,
            problems: Vec::new(),
        }
    }

    /// For item `index` of the array `array`: problems are named `array.index.field`.
    pub fn item(map: &'a Map<String, Value>, array: &'static str, index: usize) -> Self {
        Fields {
            map,
            item: Some((array, index)),
            problems: Vec::new(),
        }
    }

    /// The field's name as problems spell it; only called once there is a problem.
    fn name(&self, field: &str) -> String {
        match self.item {
            Some((array, index)) => format!("{array}.{index}.{field}"),
            None => field.to_owned(),
        }
    }

    /// The value, with `null` read as absent.
    pub fn get(&self, field: &str) -> Option<&'a Value> {
        self.map.get(field).filter(|v| !v.is_null())
    }

    pub fn has(&self, field: &str) -> bool {
        self.get(field).is_some()
    }

    pub fn problem(&mut self, sentence: impl Into<String>) {
        self.problems.push(sentence.into());
    }

    /// Takes over the problems of a nested object's fields.
    pub fn absorb(&mut self, other: Fields<'_>) {
        self.problems.extend(other.problems);
    }

    fn too_long_problem(&mut self, field: &str) {
        let name = self.name(field);
        self.problem(format!("{name} must be at most {TEXT_MAX_CHARS} characters long"));
    }

    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }

    pub fn finish(self) -> Result<(), ApiError> {
        if self.problems.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Validation(self.problems))
        }
    }

    /// A non-empty string.
    pub fn required_str(&mut self, field: &str) -> String {
        match self.get(field) {
            None => {
                let name = self.name(field);
                self.problem(format!("{name} should not be empty"));
                self.problem(format!("{name} must be a string"));
                String::new()
            }
            Some(Value::String(s)) if s.is_empty() => {
                let name = self.name(field);
                self.problem(format!("{name} should not be empty"));
                String::new()
            }
            Some(Value::String(s)) if too_long(s) => {
                self.too_long_problem(field);
                String::new()
            }
            Some(Value::String(s)) => s.clone(),
            Some(_) => {
                let name = self.name(field);
                self.problem(format!("{name} must be a string"));
                String::new()
            }
        }
    }

    /// A non-empty string, or an integer given as a JSON number (phone numbers and reference
    /// ids, which clients sometimes send unquoted).
    pub fn required_text(&mut self, field: &str) -> String {
        match self.get(field) {
            Some(Value::Number(n)) if n.as_str().bytes().all(|b| b.is_ascii_digit()) && !too_long(n.as_str()) => {
                n.as_str().to_owned()
            }
            _ => self.required_str(field),
        }
    }

    pub fn optional_str(&mut self, field: &str) -> Option<String> {
        match self.get(field) {
            None => None,
            Some(Value::String(s)) if too_long(s) => {
                self.too_long_problem(field);
                None
            }
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => {
                let name = self.name(field);
                self.problem(format!("{name} must be a string"));
                None
            }
        }
    }

    /// A 0/1 flag given as a number or a string (`1` or `"1"`); `default` when absent, or a
    /// problem if there is none.
    pub fn flag(&mut self, field: &str, default: Option<bool>) -> bool {
        let value = match self.get(field) {
            None => match default {
                Some(d) => return d,
                None => {
                    let name = self.name(field);
                    self.problem(format!("{name} should not be empty"));
                    None
                }
            },
            Some(Value::Number(n)) => match n.as_str() {
                "1" => Some(true),
                "0" => Some(false),
                _ => None,
            },
            Some(Value::String(s)) => match s.as_str() {
                "1" => Some(true),
                "0" => Some(false),
                _ => None,
            },
            Some(Value::Bool(b)) => Some(*b),
            Some(_) => None,
        };
        value.unwrap_or_else(|| {
            let name = self.name(field);
            self.problem(format!("{name} must be one of the following values: 0, 1"));
            false
        })
    }

    /// A JSON boolean; `default` when absent, or a problem if there is none.
    pub fn boolean(&mut self, field: &str, default: Option<bool>) -> bool {
        match (self.get(field), default) {
            (Some(Value::Bool(b)), _) => *b,
            (None, Some(d)) => d,
            _ => {
                let name = self.name(field);
                self.problem(format!("{name} must be a boolean value"));
                false
            }
        }
    }

    /// One of `allowed`, spelled exactly; `None` when absent and not required.
    pub fn one_of(&mut self, field: &str, allowed: &[&'static str], required: bool) -> Option<&'static str> {
        let found = match self.get(field) {
            None if !required => return None,
            Some(Value::String(s)) => allowed.iter().copied().find(|a| a == s),
            _ => None,
        };
        if found.is_none() {
            let name = self.name(field);
            self.problem(format!(
                "{name} must be one of the following values: {}",
                allowed.join(", ")
            ));
        }
        found
    }

    fn amount_problem(&mut self, field: &str, e: AmountError) {
        let name = self.name(field);
        let sentence = match e {
            AmountError::NotPositive => format!("{name} must be a positive number"),
            AmountError::Negative => format!("{name} must not be less than 0"),
            AmountError::NotANumber => format!("{name} must be a number"),
            other => format!("{name} {other}"),
        };
        self.problem(sentence);
    }

    fn money_with(
        &mut self,
        field: &str,
        default: Option<Decimal>,
        parse: fn(&str) -> Result<Decimal, AmountError>,
    ) -> Decimal {
        match self.get(field) {
            None => match default {
                Some(d) => d,
                None => {
                    let name = self.name(field);
                    self.problem(format!("{name} should not be empty"));
                    Decimal::ZERO
                }
            },
            Some(v) => match number_text(v).ok_or(AmountError::NotANumber).and_then(parse) {
                Ok(d) => d,
                Err(e) => {
                    self.amount_problem(field, e);
                    Decimal::ZERO
                }
            },
        }
    }

    /// A transaction amount: a JSON number or decimal string, plain notation, at most 4
    /// decimals, greater than zero.
    pub fn amount(&mut self, field: &str) -> Decimal {
        self.money_with(field, None, money::parse_amount)
    }

    /// A limit, fee or minimum balance: like [`Fields::amount`] but zero is allowed.
    pub fn non_negative(&mut self, field: &str, default: Option<Decimal>) -> Decimal {
        self.money_with(field, default, money::parse_non_negative)
    }

    /// An ISO 8601 date, as epoch milliseconds.
    pub fn date(&mut self, field: &str, bound: DayBound, required: bool) -> Option<i64> {
        match self.get(field) {
            None => {
                if required {
                    let name = self.name(field);
                    self.problem(format!("{name} should not be empty"));
                }
                None
            }
            Some(v) => {
                let parsed = v.as_str().and_then(|s| parse_date(s, bound));
                if parsed.is_none() {
                    let name = self.name(field);
                    self.problem(format!("{name} must be a valid ISO 8601 date string"));
                }
                parsed
            }
        }
    }

    /// An integer of at least 1, as a JSON number or a string of digits.
    pub fn positive_int(&mut self, field: &str, default: Option<u64>) -> u64 {
        let parsed = match self.get(field) {
            None => match default {
                Some(d) => return d,
                None => None,
            },
            Some(Value::Number(n)) => n.as_u64(),
            Some(Value::String(s)) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => s.parse::<u64>().ok(),
            Some(_) => None,
        };
        match parsed {
            Some(n) if n >= 1 => n,
            _ => {
                let name = self.name(field);
                self.problem(format!("{name} must be a positive integer"));
                1
            }
        }
    }

    /// A JSON object (e.g. `source_transaction_data`), kept as given.
    pub fn optional_object(&mut self, field: &str) -> Option<&'a Map<String, Value>> {
        match self.get(field) {
            None => None,
            Some(Value::Object(m)) => Some(m),
            Some(_) => {
                let name = self.name(field);
                self.problem(format!("{name} must be an object"));
                None
            }
        }
    }

    /// A JSON array (e.g. fee tiers); empty when absent.
    pub fn optional_array(&mut self, field: &str) -> &'a [Value] {
        match self.get(field) {
            None => &[],
            Some(Value::Array(items)) => items,
            Some(_) => {
                let name = self.name(field);
                self.problem(format!("{name} must be an array"));
                &[]
            }
        }
    }
}

/// `page` and `limit` from a request's parameters: both at least 1, `limit` clamped to
/// [`MAX_LIMIT`]; defaults 1 and [`DEFAULT_LIMIT`].
pub fn page_request(map: &Map<String, Value>) -> Result<PageRequest, ApiError> {
    let mut f = Fields::new(map);
    let page = f.positive_int("page", Some(1));
    let limit = f.positive_int("limit", Some(DEFAULT_LIMIT)).min(MAX_LIMIT);
    f.finish()?;
    Ok(PageRequest { page, limit })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => panic!("not an object"),
        }
    }

    fn problems(r: Result<(), ApiError>) -> Vec<String> {
        match r {
            Err(ApiError::Validation(p)) => p,
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn amounts_come_from_the_numbers_text() {
        // Parsed with arbitrary_precision: the text is kept, so no f64 rounding can happen.
        let m = obj(serde_json::from_str(r#"{"a": 100.1, "b": "0.0001", "c": 12345678901.1234, "d": 100}"#).unwrap());
        let mut f = Fields::new(&m);
        assert_eq!(f.amount("a").to_string(), "100.1000");
        assert_eq!(f.amount("b").to_string(), "0.0001");
        assert_eq!(f.amount("c").to_string(), "12345678901.1234");
        assert_eq!(f.amount("d").to_string(), "100.0000");
        assert!(f.finish().is_ok());
    }

    #[test]
    fn bad_amounts_are_named() {
        let m = obj(serde_json::from_str(
            r#"{"a": 1e2, "b": 1.00001, "c": 0, "d": -5, "e": true, "f": "abc", "g": 10000000000000}"#,
        )
        .unwrap());
        let mut f = Fields::new(&m);
        for k in ["a", "b", "c", "d", "e", "f", "g", "missing"] {
            f.amount(k);
        }
        assert_eq!(
            problems(f.finish()),
            vec![
                "a must be written in plain decimal notation",
                "b must have at most 4 decimal places",
                "c must be a positive number",
                "d must be a positive number",
                "e must be a number",
                "f must be a number",
                "g must not exceed 1000000000000",
                "missing should not be empty",
            ]
        );
    }

    #[test]
    fn non_negative_allows_zero_and_defaults() {
        let m = obj(json!({"fee": 0, "neg": "-1"}));
        let mut f = Fields::new(&m);
        assert!(f.non_negative("fee", None).is_zero());
        assert!(f.non_negative("absent", Some(Decimal::ZERO)).is_zero());
        f.non_negative("neg", None);
        assert_eq!(problems(f.finish()), vec!["neg must not be less than 0"]);
    }

    #[test]
    fn flags_accept_numbers_and_strings() {
        let m = obj(json!({"a": 1, "b": "0", "c": "1", "d": 2, "e": "yes"}));
        let mut f = Fields::new(&m);
        assert!(f.flag("a", None));
        assert!(!f.flag("b", None));
        assert!(f.flag("c", None));
        assert!(f.flag("absent", Some(true)));
        f.flag("d", None);
        f.flag("e", None);
        f.flag("missing", None);
        assert_eq!(
            problems(f.finish()),
            vec![
                "d must be one of the following values: 0, 1",
                "e must be one of the following values: 0, 1",
                "missing should not be empty",
                "missing must be one of the following values: 0, 1",
            ]
        );
    }

    #[test]
    fn strings_enums_and_booleans() {
        let m = obj(json!({"name": "", "n": 5, "s": "ACTIVE", "bad": "OPEN", "b": "true", "phone": 254712345678u64}));
        let mut f = Fields::new(&m);
        f.required_str("name");
        f.required_str("n");
        f.required_str("client_name");
        assert_eq!(f.one_of("s", &["ACTIVE", "CLOSED"], true), Some("ACTIVE"));
        f.one_of("bad", &["ACTIVE", "CLOSED"], true);
        assert_eq!(f.one_of("absent", &["X"], false), None);
        f.boolean("b", None);
        assert!(!f.boolean("absent", Some(false)));
        assert_eq!(f.required_text("phone"), "254712345678");
        assert_eq!(
            problems(f.finish()),
            vec![
                "name should not be empty",
                "n must be a string",
                "client_name should not be empty",
                "client_name must be a string",
                "bad must be one of the following values: ACTIVE, CLOSED",
                "b must be a boolean value",
            ]
        );
    }

    #[test]
    fn dates_with_and_without_time() {
        let ms = |s: &str, b| parse_date(s, b);
        assert_eq!(ms("2024-07-29T12:34:56Z", DayBound::Start), Some(1_722_256_496_000));
        assert_eq!(ms("2024-07-29T12:34:56.5Z", DayBound::Start), Some(1_722_256_496_500));
        assert_eq!(
            ms("2024-08-27T13:31:08.69012Z", DayBound::Start),
            Some(1_724_765_468_690)
        );
        assert_eq!(
            ms("2024-07-29T15:34:56+03:00", DayBound::Start),
            Some(1_722_256_496_000)
        );
        assert_eq!(ms("2024-07-29T12:34:56", DayBound::Start), Some(1_722_256_496_000));
        assert_eq!(ms("2024-07-29 12:34:56", DayBound::Start), Some(1_722_256_496_000));
        assert_eq!(ms("2024-07-29", DayBound::Start), Some(1_722_211_200_000));
        assert_eq!(
            ms("2024-07-29", DayBound::End),
            Some(1_722_211_200_000 + 86_400_000 - 1)
        );
        for bad in [
            "",
            "yesterday",
            "2024-13-01",
            "2024-02-30",
            "29/07/2024",
            "2024-07-29T25:00:00Z",
        ] {
            assert_eq!(ms(bad, DayBound::Start), None, "{bad}");
        }
    }

    #[test]
    fn pages_and_limits() {
        let p = |v: Value| page_request(&obj(v));
        assert_eq!(p(json!({})).unwrap(), PageRequest { page: 1, limit: 10 });
        assert_eq!(
            p(json!({"page": 2, "limit": 500})).unwrap(),
            PageRequest { page: 2, limit: 100 }
        );
        assert_eq!(
            p(json!({"page": "3", "limit": "7"})).unwrap(),
            PageRequest { page: 3, limit: 7 }
        );
        for bad in [
            json!({"page": 0}),
            json!({"limit": -1}),
            json!({"page": "x"}),
            json!({"limit": 1.5}),
            json!({"page": ""}),
        ] {
            assert!(matches!(p(bad.clone()), Err(ApiError::Validation(_))), "{bad}");
        }
        assert_eq!(
            problems(p(json!({"page": 0, "limit": "ten"})).map(|_| ())),
            vec!["page must be a positive integer", "limit must be a positive integer"]
        );
    }

    #[test]
    fn bodies_must_be_json_objects() {
        assert!(parse_object(b"").unwrap().is_empty());
        assert!(parse_object(b"  \n").unwrap().is_empty());
        assert_eq!(parse_object(br#"{"a":1}"#).unwrap()["a"], json!(1));
        assert!(matches!(parse_object(b"[1,2]"), Err(ApiError::Validation(_))));
        assert!(matches!(parse_object(b"{not json"), Err(ApiError::Validation(_))));
        // Not UTF-8, in a string and outside one: refused as before, not read lossily.
        assert!(matches!(
            parse_object(b"{\"a\":\"\xff\"}"),
            Err(ApiError::Validation(_))
        ));
        assert!(matches!(parse_object(b"{\"a\":1}\xc3"), Err(ApiError::Validation(_))));
        assert_eq!(parse_object("{\"a\":\"é\"}".as_bytes()).unwrap()["a"], json!("é"));
    }

    #[test]
    fn nested_fields_are_named_with_their_path() {
        let m = obj(json!({"min_amount": "x"}));
        let mut outer_map = Map::new();
        outer_map.insert("k".into(), json!(1));
        let mut outer = Fields::new(&outer_map);
        let mut inner = Fields::item(&m, "transaction_fee_tiers", 0);
        inner.non_negative("min_amount", None);
        outer.absorb(inner);
        assert_eq!(
            problems(outer.finish()),
            vec!["transaction_fee_tiers.0.min_amount must be a number"]
        );
    }
}
