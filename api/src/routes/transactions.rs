//! Postings and their tracking: `POST /api/v1/transactions?command=CREDIT|DEBIT`,
//! `POST /api/v1/account-transfers`, `POST /api/v1/transactions/{transaction_id}?command=REVERSE`,
//! `GET /api/v1/transactions` (filters) and `GET /api/v1/transactions/{transaction_id}`.
//!
//! Postings answer 200 the first time and on every idempotent replay, with the same body; a
//! replay adds `Idempotent-Replayed: true`.

use super::{ListResponse, json_bytes, money, timestamp};
use crate::auth::AuthUser;
use crate::error::{ApiError, ErrorBody};
use crate::json::{DayBound, Fields, Params, PathParam, QueryMap, RawJson, page_request, parse_object};
use crate::json_out::JsonOut;
use crate::posting_body;
use axum::Json;
use axum::http::HeaderValue;
use axum::response::Response;
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;
use walletd_engine::views::{PostingInput, PostingInputKind, PostingOutcome, TransactionFilter, TransactionView};

/// The header a replayed posting's answer carries.
pub const REPLAYED_HEADER: &str = "idempotent-replayed";

/// One leg, as the documents show a transaction.
#[derive(Debug, Serialize, ToSchema)]
pub struct TransactionJson {
    pub transaction_id: String,
    /// The account number of this leg.
    pub account: String,
    /// The client service code.
    pub client_service: String,
    /// CREDIT or DEBIT: the direction of this leg.
    pub transaction_type: &'static str,
    pub currency: String,
    /// This leg's amount (a credit of 100 with a fee of 4 answers 96.0000).
    pub transaction_amount: String,
    pub previous_balance: String,
    pub current_balance: String,
    pub other_party_account: String,
    /// Always `N/A`.
    pub other_party_transaction_hash: &'static str,
    pub transaction_source: String,
    pub source_transaction_id: String,
    /// As the request gave it; `null` when it gave none. (Fix found by the end-to-end tests:
    /// documented as a non-null object before.)
    #[schema(value_type = Option<Object>)]
    pub source_transaction_data: Value,
    pub transaction_narration: Option<String>,
    pub transaction_date: String,
}

impl TransactionJson {
    pub fn of(t: &TransactionView) -> Self {
        TransactionJson {
            transaction_id: t.transaction_id.to_string(),
            account: t.account_number.clone(),
            client_service: t.client_service_code.clone(),
            transaction_type: t.transaction_type,
            currency: t.currency.to_string(),
            transaction_amount: money(t.amount),
            previous_balance: money(t.previous_balance),
            current_balance: money(t.current_balance),
            other_party_account: t.other_party_account.clone(),
            other_party_transaction_hash: "N/A",
            transaction_source: t.transaction_source.clone(),
            source_transaction_id: t.source_transaction_id.clone(),
            source_transaction_data: stored_json(t.source_transaction_data.as_deref()),
            transaction_narration: t.narration.clone(),
            transaction_date: timestamp(t.transaction_date_ms),
        }
    }
}

/// The stored JSON text back as JSON (numbers keep their exact text).
fn stored_json(text: Option<&str>) -> Value {
    match text {
        None => Value::Null,
        Some(t) => serde_json::from_str(t).unwrap_or_else(|_| Value::String(t.to_owned())),
    }
}

/// The JSON of [`TransactionJson`], written straight from the engine's view into the answer's
/// buffer: posting answers are the hot path, and building `TransactionJson` first cost a dozen
/// strings per leg, serde_json's general serializer another ~2 us per leg. A test checks that
/// both write the same bytes.
pub struct LegJson<'a>(pub &'a TransactionView);

impl LegJson<'_> {
    pub fn write(&self, o: &mut JsonOut) {
        let t = self.0;
        o.raw(b"{\"transaction_id\":");
        o.u64_text(t.transaction_id);
        o.raw(b",\"account\":");
        o.str(&t.account_number);
        o.raw(b",\"client_service\":");
        o.str(&t.client_service_code);
        o.raw(b",\"transaction_type\":");
        o.str(t.transaction_type);
        o.raw(b",\"currency\":");
        o.str(t.currency.as_str());
        o.raw(b",\"transaction_amount\":");
        o.money(t.amount);
        o.raw(b",\"previous_balance\":");
        o.money(t.previous_balance);
        o.raw(b",\"current_balance\":");
        o.money(t.current_balance);
        o.raw(b",\"other_party_account\":");
        o.str(&t.other_party_account);
        o.raw(b",\"other_party_transaction_hash\":\"N/A\",\"transaction_source\":");
        o.str(&t.transaction_source);
        o.raw(b",\"source_transaction_id\":");
        o.str(&t.source_transaction_id);
        o.raw(b",\"source_transaction_data\":");
        match t.source_transaction_data.as_deref() {
            None => o.raw(b"null"),
            text => o.serde(&stored_json(text)),
        }
        o.raw(b",\"transaction_narration\":");
        o.opt_str(t.narration.as_deref());
        o.raw(b",\"transaction_date\":");
        o.timestamp(t.transaction_date_ms);
        o.raw(b"}");
    }
}

/// The JSON of [`PostingJson`], written straight from the engine's outcome.
pub struct PostingAnswer<'a>(pub &'a PostingOutcome);

impl PostingAnswer<'_> {
    pub fn write(&self, o: &mut JsonOut) {
        let p = self.0;
        o.raw(b"{\"source_transaction\":");
        LegJson(&p.source).write(o);
        o.raw(b",\"destination_transaction\":");
        LegJson(&p.destination).write(o);
        if let Some(fee) = &p.fee {
            o.raw(b",\"fee_transaction\":");
            LegJson(fee).write(o);
        }
        o.raw(b"}");
    }
}

/// Bytes a posting answer takes, about: buffers are sized once.
const LEG_JSON_BYTES: usize = 560;

/// A transfer or reversal: its legs by role.
#[derive(Debug, Serialize, ToSchema)]
pub struct PostingJson {
    pub source_transaction: TransactionJson,
    pub destination_transaction: TransactionJson,
    /// Present when the posting carried a fee (on the client's commission account).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fee_transaction: Option<TransactionJson>,
}

/// The owned answer, kept as the reference `PostingAnswer` is tested against.
#[cfg(test)]
impl PostingJson {
    pub fn of(o: &PostingOutcome) -> Self {
        PostingJson {
            source_transaction: TransactionJson::of(&o.source),
            destination_transaction: TransactionJson::of(&o.destination),
            fee_transaction: o.fee.as_ref().map(TransactionJson::of),
        }
    }
}

/// `POST /api/v1/transactions?command=CREDIT|DEBIT` body.
#[derive(Debug, ToSchema)]
pub struct CreditDebitRequest {
    pub account_number: String,
    pub client_service_code: String,
    /// Recorded as given (e.g. EXTERNAL, INTERNAL).
    pub transaction_source: String,
    /// JSON number or decimal string, plain notation, at most 4 decimals, > 0.
    #[schema(value_type = String)]
    pub transaction_amount: String,
    /// Idempotency key, unique per client.
    pub source_transaction_id: String,
    #[schema(value_type = Option<Object>)]
    pub source_transaction_data: Option<Value>,
    pub transaction_narration: Option<String>,
    /// ISO 8601; the server's time when absent.
    pub transaction_date: Option<String>,
}

/// `POST /api/v1/account-transfers` body.
#[derive(Debug, ToSchema)]
pub struct TransferRequest {
    pub source_account_number: String,
    pub destination_account_number: String,
    pub client_service_code: String,
    pub transaction_source: String,
    #[schema(value_type = String)]
    pub transaction_amount: String,
    pub source_transaction_id: String,
    #[schema(value_type = Option<Object>)]
    pub source_transaction_data: Option<Value>,
    pub transaction_narration: Option<String>,
    pub transaction_date: Option<String>,
}

/// The fields every posting request shares; `kind` is filled in by the caller.
fn posting_input(f: &mut Fields<'_>, kind: PostingInputKind) -> PostingInput {
    PostingInput {
        kind,
        client_service_code: f.required_str("client_service_code"),
        amount: f.amount("transaction_amount"),
        transaction_source: f.required_str("transaction_source"),
        source_transaction_id: f.required_text("source_transaction_id"),
        // Kept as canonical JSON text (keys sorted, no spaces), so that a replay of the same
        // data compares equal whatever its formatting.
        source_transaction_data: f
            .optional_object("source_transaction_data")
            .map(|m| Value::Object(m.clone()).to_string()),
        narration: f.optional_str("transaction_narration"),
        transaction_date_ms: f.date("transaction_date", DayBound::Start, false),
    }
}

fn answer(write: impl FnOnce(&mut JsonOut), legs: usize, replayed: bool) -> Response {
    let mut out = JsonOut::with_capacity(legs * LEG_JSON_BYTES);
    write(&mut out);
    let mut response = json_bytes(out.buf);
    if replayed {
        response
            .headers_mut()
            .insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
    }
    response
}

#[utoipa::path(
    post,
    path = "/api/v1/transactions",
    tag = "transactions",
    request_body = CreditDebitRequest,
    security(("bearer" = [])),
    params(("command" = String, Query, description = "CREDIT or DEBIT")),
    responses(
        (status = 200, description = "The wallet's leg (also on an idempotent replay, with Idempotent-Replayed: true)", body = TransactionJson),
        (status = 400, description = "Invalid request", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "Account or client service not found", body = ErrorBody),
        (status = 409, description = "source_transaction_id reused with another payload", body = ErrorBody),
        (status = 422, description = "Refused by the ledger's rules (funds, wallet state, limits)", body = ErrorBody),
    )
)]
pub async fn credit_or_debit(
    auth: AuthUser,
    QueryMap(query): QueryMap,
    RawJson(body): RawJson,
) -> Result<Response, ApiError> {
    let mut q = Fields::new(&query);
    let command = q.one_of("command", &["CREDIT", "DEBIT"], true);
    let debit = command == Some("DEBIT");
    let fast = q.is_ok().then(|| posting_body::credit_or_debit(&body, debit)).flatten();
    let input = match fast {
        Some(input) => input,
        None => {
            let body = parse_object(&body)?;
            let mut f = Fields::new(&body);
            let input = credit_or_debit_input(&mut f, debit);
            q.absorb(f);
            q.finish()?;
            input
        }
    };
    let outcome = auth.ledger.post(&auth.caller, input).await?;
    Ok(answer(|o| LegJson(outcome.wallet_leg()).write(o), 1, outcome.replayed))
}

/// A CREDIT's or DEBIT's body read field by field, every problem worded into `f`.
pub(crate) fn credit_or_debit_input(f: &mut Fields<'_>, debit: bool) -> PostingInput {
    let account_number = f.required_text("account_number");
    let kind = if debit {
        PostingInputKind::Debit { account_number }
    } else {
        PostingInputKind::Credit { account_number }
    };
    posting_input(f, kind)
}

#[utoipa::path(
    post,
    path = "/api/v1/account-transfers",
    tag = "transactions",
    request_body = TransferRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The transfer's legs (also on an idempotent replay)", body = PostingJson),
        (status = 400, description = "Invalid request", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "Account or client service not found", body = ErrorBody),
        (status = 409, description = "source_transaction_id reused with another payload", body = ErrorBody),
        (status = 422, description = "Refused by the ledger's rules", body = ErrorBody),
    )
)]
pub async fn transfer(auth: AuthUser, RawJson(body): RawJson) -> Result<Response, ApiError> {
    let input = match posting_body::transfer(&body) {
        Some(input) => input,
        None => transfer_input(&parse_object(&body)?)?,
    };
    let outcome = auth.ledger.post(&auth.caller, input).await?;
    Ok(answer(|o| PostingAnswer(&outcome).write(o), 3, outcome.replayed))
}

/// A transfer's body read field by field, every problem worded.
pub(crate) fn transfer_input(body: &Map<String, Value>) -> Result<PostingInput, ApiError> {
    let mut f = Fields::new(body);
    let kind = PostingInputKind::Transfer {
        source_account_number: f.required_text("source_account_number"),
        destination_account_number: f.required_text("destination_account_number"),
    };
    let input = posting_input(&mut f, kind);
    f.finish()?;
    Ok(input)
}

/// Transaction ids are decimal integers; anything else names no transaction.
fn transaction_id(text: &str) -> Result<u64, ApiError> {
    text.parse::<u64>()
        .map_err(|_| ApiError::NotFound("Transaction not found".into()))
}

#[utoipa::path(
    post,
    path = "/api/v1/transactions/{transaction_id}",
    tag = "transactions",
    security(("bearer" = [])),
    params(
        ("transaction_id" = String, Path, description = "Any leg of the posting to reverse"),
        ("command" = String, Query, description = "REVERSE"),
    ),
    responses(
        (status = 200, description = "The reversal's legs", body = PostingJson),
        (status = 400, description = "Bad command", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "Transaction not found", body = ErrorBody),
        (status = 409, description = "Already reversed", body = ErrorBody),
        (status = 422, description = "Refused by the ledger's rules", body = ErrorBody),
    )
)]
pub async fn reverse(
    auth: AuthUser,
    PathParam(id): PathParam<String>,
    QueryMap(query): QueryMap,
    // Read, not used: a body over the limit is refused (413) as on every route, rather than
    // the reversal run with it ignored.
    _body: RawJson,
) -> Result<Response, ApiError> {
    let mut q = Fields::new(&query);
    q.one_of("command", &["REVERSE"], true);
    q.finish()?;
    let outcome = auth.ledger.reverse(&auth.caller, transaction_id(&id)?).await?;
    Ok(answer(|o| PostingAnswer(&outcome).write(o), 3, false))
}

#[utoipa::path(
    get,
    path = "/api/v1/transactions/{transaction_id}",
    tag = "transactions",
    security(("bearer" = [])),
    params(("transaction_id" = String, Path, description = "The leg's transaction id")),
    responses(
        (status = 200, description = "One leg", body = TransactionJson),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "Transaction not found", body = ErrorBody),
    )
)]
pub async fn get(auth: AuthUser, PathParam(id): PathParam<String>) -> Result<Response, ApiError> {
    let leg = auth.ledger.get_transaction(&auth.caller, transaction_id(&id)?).await?;
    Ok(answer(|o| LegJson(&leg).write(o), 1, false))
}

#[utoipa::path(
    get,
    path = "/api/v1/transactions",
    tag = "transactions",
    security(("bearer" = [])),
    params(
        ("account_number" = Option<String>, Query, description = "Legs of this wallet"),
        ("start_date" = Option<String>, Query, description = "Posted at or after (ISO 8601; a date alone is its start)"),
        ("end_date" = Option<String>, Query, description = "Posted at or before (inclusive; a date alone is its end)"),
        ("transaction_type" = Option<String>, Query, description = "CREDIT or DEBIT"),
        ("source_transaction_id" = Option<String>, Query, description = "The legs of one posting (and of its reversal)"),
        ("client_code" = Option<String>, Query, description = "ADMIN: one client's transactions"),
        ("page" = Option<u64>, Query, description = "Page, from 1"),
        ("limit" = Option<u64>, Query, description = "Records per page, at most 100"),
    ),
    responses(
        (status = 200, description = "Matching legs, newest first", body = ListResponse<TransactionJson>),
        (status = 400, description = "Bad filter, page or limit", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "Account or client not found", body = ErrorBody),
    )
)]
pub async fn list(auth: AuthUser, Params(params): Params) -> Result<Json<ListResponse<TransactionJson>>, ApiError> {
    let mut f = Fields::new(&params);
    let filter = TransactionFilter {
        account_number: f.optional_str("account_number"),
        start_ms: f.date("start_date", DayBound::Start, false),
        end_ms: f.date("end_date", DayBound::End, false),
        transaction_type: f.one_of("transaction_type", &["CREDIT", "DEBIT"], false),
        source_transaction_id: f.optional_str("source_transaction_id"),
        client_code: f.optional_str("client_code"),
    };
    if let (Some(s), Some(e)) = (filter.start_ms, filter.end_ms)
        && s > e
    {
        f.problem("start_date must not be after end_date");
    }
    f.finish()?;
    let page = page_request(&params)?;
    let legs = auth.ledger.list_transactions(&auth.caller, filter, page).await?;
    Ok(Json(ListResponse::from_page(legs, |t| TransactionJson::of(&t))))
}

/// Postings one batch may carry.
pub const BATCH_MAX: usize = 10_000;

/// `POST /api/v1/transactions/batch` body.
#[derive(Debug, ToSchema)]
pub struct BatchRequest {
    /// All postings applied or none (default false: each on its own).
    pub atomic: Option<bool>,
    /// 1 to 10000 postings: each the body of the single endpoint plus
    /// `"command": "CREDIT" | "DEBIT" | "TRANSFER"`.
    #[schema(value_type = Vec<BatchPosting>)]
    pub postings: Vec<Value>,
}

/// One posting of a batch, as the OpenAPI document describes it: the single endpoint's body
/// and its command. CREDIT and DEBIT name `account_number`; TRANSFER names
/// `source_account_number` and `destination_account_number`.
#[derive(Debug, ToSchema)]
pub struct BatchPosting {
    pub command: BatchCommand,
    pub account_number: Option<String>,
    pub source_account_number: Option<String>,
    pub destination_account_number: Option<String>,
    pub client_service_code: String,
    /// Recorded as given (e.g. EXTERNAL, INTERNAL).
    pub transaction_source: String,
    /// JSON number or decimal string, plain notation, at most 4 decimals, > 0.
    #[schema(value_type = String)]
    pub transaction_amount: String,
    /// Idempotency key, unique per client, shared with the single endpoints.
    pub source_transaction_id: String,
    #[schema(value_type = Option<Object>)]
    pub source_transaction_data: Option<Value>,
    pub transaction_narration: Option<String>,
    /// ISO 8601; the server's time when absent.
    pub transaction_date: Option<String>,
}

/// What a batch posting does.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum BatchCommand {
    Credit,
    Debit,
    Transfer,
}

/// One result of a batch, as the OpenAPI document describes it: what the posting's single
/// endpoint answers (the legs of a TRANSFER, the wallet's leg of a CREDIT or DEBIT), or the
/// error body.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
// Never built: it only describes the answer, which `BatchResult` writes.
#[allow(clippy::large_enum_variant)]
pub enum BatchResultSchema {
    Transfer(PostingJson),
    Transaction(TransactionJson),
    Error(ErrorBody),
}

/// The batch's answer: one result per posting, in order.
#[derive(Debug, ToSchema)]
pub struct BatchResponse {
    pub atomic: bool,
    pub succeeded: u64,
    pub failed: u64,
    /// Each posting's answer as its single endpoint gives it (a transaction for CREDIT and
    /// DEBIT, source/destination legs for TRANSFER), or the error body
    /// `{"status","message","code":"HttpException"}`.
    #[schema(value_type = Vec<BatchResultSchema>)]
    pub results: Vec<BatchResult>,
}

/// One posting's answer in a batch, serialized straight from the engine's outcome as exactly
/// the body its single endpoint answers: building `serde_json::Value`s first cost a map and a
/// string per field (half of the batch route's time), and owned answer structs a dozen strings
/// per leg.
#[derive(Debug)]
pub enum BatchResult {
    /// Answers are boxed so that a batch's results are a vector of small items.
    Transfer(Box<PostingOutcome>),
    /// A credit or debit: its wallet's leg.
    Transaction(Box<PostingOutcome>),
    Error(ErrorBody),
}

impl BatchResult {
    fn outcome(&self) -> Option<&PostingOutcome> {
        match self {
            BatchResult::Transfer(p) | BatchResult::Transaction(p) => Some(p),
            BatchResult::Error(_) => None,
        }
    }

    fn write(&self, o: &mut JsonOut) {
        match self {
            BatchResult::Transfer(p) => PostingAnswer(p).write(o),
            BatchResult::Transaction(p) => LegJson(p.wallet_leg()).write(o),
            BatchResult::Error(e) => o.serde(e),
        }
    }
}

impl BatchResponse {
    /// The fields in their declared order, as `#[derive(Serialize)]` would write them.
    fn write(&self, o: &mut JsonOut) {
        o.raw(if self.atomic {
            b"{\"atomic\":true,\"succeeded\":"
        } else {
            b"{\"atomic\":false,\"succeeded\":"
        });
        o.u64(self.succeeded);
        o.raw(b",\"failed\":");
        o.u64(self.failed);
        o.raw(b",\"results\":[");
        for (i, r) in self.results.iter().enumerate() {
            if i > 0 {
                o.raw(b",");
            }
            r.write(o);
        }
        o.raw(b"]}");
    }
}

/// The ledger's validation sentences name a field of the posting; in a batch they say which
/// posting too, as the route's own sentences do (`postings.3.transaction_amount ...`).
fn in_batch(e: walletd_engine::EngineError, slot: usize) -> ApiError {
    match e {
        walletd_engine::EngineError::Invalid(problems) => {
            ApiError::Validation(problems.into_iter().map(|p| format!("postings.{slot}.{p}")).collect())
        }
        other => other.into(),
    }
}

/// A posting in a batch is held to what one posting's own request may carry (`BODY_LIMIT`):
/// an 8 MiB batch body would otherwise let one posting keep megabytes of narration, which
/// every read of it would then return. The text fields are counted, the JSON around them not.
fn within_single_limit(
    inputs: Vec<PostingInput>,
    slots: Vec<usize>,
    commands: Vec<Option<&'static str>>,
    results: &mut [Option<BatchResult>],
) -> (Vec<PostingInput>, Vec<usize>, Vec<Option<&'static str>>) {
    let text_len = |p: &PostingInput| {
        let accounts = match &p.kind {
            PostingInputKind::Credit { account_number } | PostingInputKind::Debit { account_number } => {
                account_number.len()
            }
            PostingInputKind::Transfer {
                source_account_number,
                destination_account_number,
            } => source_account_number.len() + destination_account_number.len(),
        };
        accounts
            + p.client_service_code.len()
            + p.transaction_source.len()
            + p.source_transaction_id.len()
            + p.source_transaction_data.as_ref().map_or(0, String::len)
            + p.narration.as_ref().map_or(0, String::len)
    };
    if inputs.iter().all(|p| text_len(p) <= crate::BODY_LIMIT) {
        return (inputs, slots, commands);
    }
    let mut kept = (Vec::new(), Vec::new(), Vec::new());
    for ((input, slot), command) in inputs.into_iter().zip(slots).zip(commands) {
        if text_len(&input) > crate::BODY_LIMIT {
            results[slot] = Some(error_result(ApiError::Validation(vec![format!(
                "postings.{slot} must be at most {} bytes, as one posting's own request",
                crate::BODY_LIMIT
            )])));
        } else {
            kept.0.push(input);
            kept.1.push(slot);
            kept.2.push(command);
        }
    }
    kept
}

fn error_result(e: ApiError) -> BatchResult {
    BatchResult::Error(ErrorBody {
        status: e.status().as_u16(),
        message: e.message(),
        code: "HttpException",
    })
}

/// A batch's postings judged for shape: the well-formed ones go to the ledger (`inputs`, with
/// their places in `slots`), the others already have their error in `results`.
pub(crate) struct JudgedBatch {
    pub(crate) atomic: bool,
    pub(crate) results: Vec<Option<BatchResult>>,
    pub(crate) inputs: Vec<PostingInput>,
    pub(crate) slots: Vec<usize>,
    pub(crate) commands: Vec<Option<&'static str>>,
}

/// A batch's body read field by field, every problem worded (per posting where it can be).
pub(crate) fn judge_batch(body: &Map<String, Value>) -> Result<JudgedBatch, ApiError> {
    let mut f = Fields::new(body);
    let atomic = f.boolean("atomic", Some(false));
    let items = match body.get("postings") {
        Some(Value::Array(items)) if !items.is_empty() && items.len() <= BATCH_MAX => items,
        _ => {
            f.problem(format!("postings must be an array of 1 to {BATCH_MAX} postings"));
            &Vec::new()
        }
    };
    f.finish()?;
    let mut results: Vec<Option<BatchResult>> = (0..items.len()).map(|_| None).collect();
    let mut inputs = Vec::with_capacity(items.len());
    let mut slots = Vec::with_capacity(items.len());
    let mut commands = Vec::with_capacity(items.len());
    let empty = serde_json::Map::new();
    for (i, item) in items.iter().enumerate() {
        let obj = match item {
            Value::Object(o) => o,
            _ => &empty,
        };
        let mut p = Fields::item(obj, "postings", i);
        if !item.is_object() {
            p.problem(format!("postings.{i} must be an object"));
        }
        let command = p.one_of("command", &["CREDIT", "DEBIT", "TRANSFER"], true);
        let kind = match command {
            Some("TRANSFER") => PostingInputKind::Transfer {
                source_account_number: p.required_text("source_account_number"),
                destination_account_number: p.required_text("destination_account_number"),
            },
            Some("DEBIT") => PostingInputKind::Debit {
                account_number: p.required_text("account_number"),
            },
            _ => PostingInputKind::Credit {
                account_number: p.required_text("account_number"),
            },
        };
        let input = posting_input(&mut p, kind);
        match p.finish() {
            Ok(()) => {
                inputs.push(input);
                slots.push(i);
                commands.push(command);
            }
            Err(e) => results[i] = Some(error_result(e)),
        }
    }
    Ok(JudgedBatch {
        atomic,
        results,
        inputs,
        slots,
        commands,
    })
}

#[utoipa::path(
    post,
    path = "/api/v1/transactions/batch",
    tag = "transactions",
    request_body = BatchRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "One result per posting (body limit 8 MiB); Idempotent-Replayed: true when the batch posted nothing new and replayed at least one posting", body = BatchResponse),
        (status = 400, description = "Not a batch (postings missing, empty or over 10000)", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 413, description = "Body over 8 MiB", body = ErrorBody),
    )
)]
pub async fn batch(auth: AuthUser, RawJson(body): RawJson) -> Result<Response, ApiError> {
    let JudgedBatch {
        atomic,
        mut results,
        inputs,
        slots,
        commands,
    } = match posting_body::batch(&body, BATCH_MAX) {
        Some(b) => {
            let n = b.postings.len();
            let (commands, inputs) = b.postings.into_iter().map(|(c, i)| (Some(c), i)).unzip();
            JudgedBatch {
                atomic: b.atomic,
                results: (0..n).map(|_| None).collect(),
                inputs,
                slots: (0..n).collect(),
                commands,
            }
        }
        None => judge_batch(&parse_object(&body)?)?,
    };
    let (inputs, slots, commands) = within_single_limit(inputs, slots, commands, &mut results);
    let malformed = results.iter().any(Option::is_some);
    if atomic && malformed {
        let not_applied = || {
            error_result(ApiError::Refused(
                "Not applied: another posting of this atomic batch failed".into(),
            ))
        };
        for r in results.iter_mut().filter(|r| r.is_none()) {
            *r = Some(not_applied());
        }
    } else {
        let outcomes = auth.ledger.post_batch(&auth.caller, inputs, atomic).await;
        for ((slot, command), outcome) in slots.into_iter().zip(commands).zip(outcomes) {
            results[slot] = Some(match outcome {
                Ok(o) if command == Some("TRANSFER") => BatchResult::Transfer(o),
                Ok(o) => BatchResult::Transaction(o),
                Err(e) => error_result(in_batch(e, slot)),
            });
        }
    }
    let results: Vec<BatchResult> = results
        .into_iter()
        .map(|r| r.unwrap_or_else(|| error_result(ApiError::Internal("posting without an answer".into()))))
        .collect();
    let failed = results.iter().filter(|r| matches!(r, BatchResult::Error(_))).count() as u64;
    // The batch is a replay when it posted nothing new: each posting was replayed or refused
    // again (a refusal uses no key), and at least one was replayed.
    let mut outcomes = results.iter().filter_map(BatchResult::outcome).peekable();
    let replayed = outcomes.peek().is_some() && outcomes.all(|o| o.replayed);
    // Enough for a batch of transfers, but not reserved blindly for the largest batches.
    let capacity = (results.len() * 2 * LEG_JSON_BYTES + 64).min(1 << 20);
    let answer = BatchResponse {
        atomic,
        succeeded: results.len() as u64 - failed,
        failed,
        results,
    };
    let mut out = JsonOut::with_capacity(capacity);
    answer.write(&mut out);
    let mut response = json_bytes(out.buf);
    if replayed {
        response
            .headers_mut()
            .insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json_out::written;
    use walletd_engine::money::Currency;
    use walletd_engine::record::{LegRole, PostingKind};

    fn d(s: &str) -> rust_decimal::Decimal {
        s.parse().unwrap()
    }

    fn view(
        id: u64,
        amount: &str,
        before: &str,
        after: &str,
        data: Option<&str>,
        narration: Option<&str>,
    ) -> TransactionView {
        TransactionView {
            transaction_id: id,
            account_number: "1000000042".into(),
            client_service_code: "SVC \"quoted\" \u{e9}".into(),
            transaction_type: "DEBIT",
            currency: Currency::parse("KES").unwrap(),
            amount: d(amount),
            previous_balance: d(before),
            current_balance: d(after),
            other_party_account: "1000000043".into(),
            transaction_source: "INTERNAL".into(),
            source_transaction_id: "c1-9\n".into(),
            source_transaction_data: data.map(str::to_owned),
            narration: narration.map(str::to_owned),
            transaction_date_ms: 1_764_000_000_123,
            posted_at_ms: 1_764_000_000_456,
            role: LegRole::Source,
            posting_kind: PostingKind::Transfer,
        }
    }

    #[test]
    fn leg_and_posting_answers_write_the_bytes_of_the_owned_answer_structs() {
        let legs = [
            view(7, "100.5", "0", "-100.5", None, None),
            view(
                u64::MAX,
                "0.0001",
                "12345678901234.1234",
                "12345678901234.1235",
                Some(r#"{"b":1.10,"a":[true,null]}"#),
                Some("rent"),
            ),
            view(1, "3", "-1", "2", Some("not json"), Some("")),
            view(
                2,
                "0.00005",
                "-0",
                "0.00015",
                Some(r#"{"x":"\u0001"}"#),
                Some("tab\there \"q\" é"),
            ),
        ];
        for leg in &legs {
            let owned = serde_json::to_string(&TransactionJson::of(leg)).unwrap();
            assert_eq!(written(|o| LegJson(leg).write(o)), owned);
        }
        let mut far = view(2, "1", "0", "1", None, None);
        far.transaction_date_ms = -62_198_755_200_000; // year -1: strftime's spelling
        assert_eq!(
            written(|o| LegJson(&far).write(o)),
            serde_json::to_string(&TransactionJson::of(&far)).unwrap()
        );
        for fee in [None, Some(legs[2].clone())] {
            let outcome = PostingOutcome {
                kind: PostingKind::Transfer,
                source: legs[0].clone(),
                destination: legs[1].clone(),
                fee,
                replayed: false,
            };
            let owned = serde_json::to_string(&PostingJson::of(&outcome)).unwrap();
            assert_eq!(written(|o| PostingAnswer(&outcome).write(o)), owned);
            let one = BatchResult::Transfer(Box::new(outcome.clone()));
            assert_eq!(written(|o| one.write(o)), owned);
        }
    }

    #[test]
    fn the_batch_answer_is_the_json_of_its_fields_in_order() {
        let leg = view(7, "100.5", "0", "100.5", None, None);
        let outcome = PostingOutcome {
            kind: PostingKind::Credit,
            source: leg.clone(),
            destination: leg.clone(),
            fee: None,
            replayed: false,
        };
        let refused = ErrorBody {
            status: 422,
            message: Value::String("Insufficient funds".into()),
            code: "HttpException",
        };
        let answer = BatchResponse {
            atomic: false,
            succeeded: 1,
            failed: 1,
            results: vec![
                BatchResult::Transaction(Box::new(outcome.clone())),
                BatchResult::Error(refused),
            ],
        };
        // The derived JSON of the same answer, as the owned structs would write it.
        #[derive(Serialize)]
        struct Reference {
            atomic: bool,
            succeeded: u64,
            failed: u64,
            results: (TransactionJson, ErrorBody),
        }
        let reference = Reference {
            atomic: false,
            succeeded: 1,
            failed: 1,
            results: (
                TransactionJson::of(outcome.wallet_leg()),
                ErrorBody {
                    status: 422,
                    message: Value::String("Insufficient funds".into()),
                    code: "HttpException",
                },
            ),
        };
        assert_eq!(written(|o| answer.write(o)), serde_json::to_string(&reference).unwrap());
    }
}
