//! The ceiling the issue measures walletd's REST figures against: a bare axum handler that
//! parses a ~300-byte JSON body and answers ~400 bytes, with walletd's runtime and allocator
//! and nothing else. `cargo run --release -p walletd-benches --bin bare-axum -- [ADDR]`, then
//! `wrk -t1 -c64 -d10s -s benches/bare-axum.lua http://ADDR/echo` (BENCHMARKS.md).

use axum::Router;
use axum::body::Bytes;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Parses the body as JSON (exact numbers, as walletd does) and answers a posting-sized object
/// that repeats two of its fields.
async fn echo(body: Bytes) -> Response {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(&body) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let field = |name: &str| value.get(name).cloned().unwrap_or(serde_json::Value::Null);
    let answer = serde_json::json!({
        "transaction_id": "1000001",
        "account_number": field("source_account_number"),
        "client_service_code": field("client_service_code"),
        "transaction_type": "DEBIT",
        "currency": "KES",
        "amount": field("transaction_amount"),
        "previous_balance": "1000000.0000",
        "current_balance": "999987.6600",
        "other_party_account": field("destination_account_number"),
        "transaction_source": field("transaction_source"),
        "source_transaction_id": field("source_transaction_id"),
        "narration": field("narration"),
        "transaction_date": "2026-11-26T04:00:00.000Z",
    });
    match serde_json::to_vec(&answer) {
        Ok(bytes) => ([(header::CONTENT_TYPE, "application/json")], bytes).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

fn main() -> anyhow::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:18090".into());
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(&addr).await?;
        println!("bare-axum listening on {}", listener.local_addr()?);
        axum::serve(listener, Router::new().route("/echo", post(echo))).await?;
        Ok(())
    })
}
