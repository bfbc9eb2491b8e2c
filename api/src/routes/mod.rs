//! The handlers, one module per resource, and the small pieces of answer shape they share:
//! timestamps (`"2024-09-05T17:14:04.734Z"`), money (`"96.0000"`), 0/1 flags, and the list
//! envelope `{"metadata","statistics","records"}`.

pub mod account_types;
pub mod accounts;
pub mod clients;
pub mod facade;
pub mod health;
pub mod profiles;
pub mod services;
pub mod statements;
pub mod transactions;
pub mod users;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Serialize;
use utoipa::ToSchema;
use walletd_engine::catalog::Client;
use walletd_engine::money::format_money;
use walletd_engine::views::Page;

/// ISO 8601 UTC with milliseconds. Every posting answer carries dates, so they are written
/// digit by digit (`crate::json_out`); strftime spells the years outside four digits.
pub fn timestamp(ms: i64) -> String {
    let mut buf = Vec::with_capacity(24);
    if crate::json_out::write_timestamp(&mut buf, ms) {
        return String::from_utf8(buf).unwrap_or_default();
    }
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

/// A JSON answer from bytes already written (the posting answers, see `crate::json_out`).
pub fn json_bytes(body: Vec<u8>) -> axum::response::Response {
    use axum::response::IntoResponse;
    (
        [(
            axum::http::header::CONTENT_TYPE,
            axum::http::HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}

/// Money as a string with exactly 4 decimals.
pub fn money(d: Decimal) -> String {
    format_money(d)
}

/// A flag as the documents write it: 1 or 0.
pub fn flag(b: bool) -> u8 {
    u8::from(b)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Metadata {
    pub page: u64,
    /// Records in this page.
    pub per_page: u64,
    pub total_count: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Statistic {
    pub name: String,
    pub count: u64,
}

/// Every list answers in this envelope.
#[derive(Debug, Serialize, ToSchema)]
pub struct ListResponse<T: ToSchema> {
    pub metadata: Metadata,
    pub statistics: Vec<Statistic>,
    pub records: Vec<T>,
}

impl<T: ToSchema> ListResponse<T> {
    pub fn from_page<U>(page: Page<U>, view: impl FnMut(U) -> T) -> Self {
        let records: Vec<T> = page.records.into_iter().map(view).collect();
        ListResponse {
            metadata: Metadata {
                page: page.page,
                per_page: records.len() as u64,
                total_count: page.total_count,
            },
            statistics: page
                .statistics
                .into_iter()
                .map(|(name, count)| Statistic { name, count })
                .collect(),
            records,
        }
    }
}

/// A client as embedded in other objects.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClientRef {
    pub client_id: String,
    pub client_name: String,
    pub client_code: String,
}

impl ClientRef {
    pub fn of(c: &Client) -> Self {
        ClientRef {
            client_id: c.client_id.to_string(),
            client_name: c.data.client_name.clone(),
            client_code: c.data.client_code.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn timestamps_have_milliseconds_and_z() {
        assert_eq!(timestamp(1_725_556_444_734), "2024-09-05T17:14:04.734Z");
        assert_eq!(timestamp(1_725_556_444_000), "2024-09-05T17:14:04.000Z");
    }

    #[test]
    fn money_has_four_decimals() {
        assert_eq!(money(Decimal::from_str("96").unwrap()), "96.0000");
        assert_eq!(money(Decimal::from_str("0.1").unwrap()), "0.1000");
    }

    #[test]
    fn timestamps_match_the_strftime_spelling() {
        let strftime = |ms: i64| {
            DateTime::<Utc>::from_timestamp_millis(ms)
                .unwrap_or_default()
                .format("%Y-%m-%dT%H:%M:%S%.3fZ")
                .to_string()
        };
        for ms in [
            0,
            1,
            999,
            1_000,
            1_764_000_000_123,
            951_782_400_000,
            -1,
            -86_400_001,
            253_402_300_799_999,
        ] {
            assert_eq!(timestamp(ms), strftime(ms), "{ms}");
        }
        assert_eq!(timestamp(1_764_000_000_123), "2025-11-24T16:00:00.123Z");
        // Outside four-digit years the slow path keeps strftime's spelling.
        assert_eq!(timestamp(253_402_300_800_000), strftime(253_402_300_800_000));
    }
}
