//! Statements: `GET /api/v1/account-statements/doc?account_number&start_date&end_date&doc_type=EXCEL|PDF`
//! answers the file itself. The engine gives the opening balance, every leg of the period
//! with its running balance, and the closing balance; this module formats them once into a
//! [`StatementDoc`] that both renderers draw.

use super::{money, timestamp};
use crate::auth::AuthUser;
use crate::error::{ApiError, ErrorBody};
use crate::json::{DayBound, Fields, Params};
use crate::{statement_pdf, statement_xlsx};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use walletd_engine::views::Statement;

pub const XLSX_CONTENT_TYPE: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
pub const PDF_CONTENT_TYPE: &str = "application/pdf";

/// One row of a statement, already formatted.
#[derive(Clone, Debug, PartialEq)]
pub struct StatementRow {
    pub date: String,
    pub transaction_id: String,
    pub transaction_type: String,
    pub narration: String,
    pub amount: String,
    pub previous_balance: String,
    pub current_balance: String,
}

/// A statement as both file formats show it: text only, money with 4 decimals.
#[derive(Clone, Debug, PartialEq)]
pub struct StatementDoc {
    pub account_number: String,
    pub account_name: String,
    pub currency: String,
    pub period_start: String,
    pub period_end: String,
    pub opening_balance: String,
    pub closing_balance: String,
    pub rows: Vec<StatementRow>,
}

impl StatementDoc {
    pub fn of(s: &Statement) -> Self {
        StatementDoc {
            account_number: s.account.meta.account_number.clone(),
            account_name: s.account.meta.data.account_name.clone(),
            currency: s.account.meta.data.currency.to_string(),
            period_start: timestamp(s.start_ms),
            period_end: timestamp(s.end_ms),
            opening_balance: money(s.opening_balance),
            closing_balance: money(s.closing_balance),
            rows: s
                .rows
                .iter()
                .map(|t| StatementRow {
                    // The posting time: statements select by it, so the rows are in order.
                    date: timestamp(t.posted_at_ms),
                    transaction_id: t.transaction_id.to_string(),
                    transaction_type: t.transaction_type.to_owned(),
                    narration: t.narration.clone().unwrap_or_default(),
                    amount: money(t.amount),
                    previous_balance: money(t.previous_balance),
                    current_balance: money(t.current_balance),
                })
                .collect(),
        }
    }

    /// The column titles, in order.
    pub const COLUMNS: [&'static str; 7] = [
        "Date",
        "Transaction ID",
        "Type",
        "Narration",
        "Amount",
        "Previous balance",
        "Current balance",
    ];
}

impl StatementRow {
    pub fn cells(&self) -> [&str; 7] {
        [
            &self.date,
            &self.transaction_id,
            &self.transaction_type,
            &self.narration,
            &self.amount,
            &self.previous_balance,
            &self.current_balance,
        ]
    }
}

fn day(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format("%Y%m%d")
        .to_string()
}

#[utoipa::path(
    get,
    path = "/api/v1/account-statements/doc",
    tag = "statements",
    security(("bearer" = [])),
    params(
        ("account_number" = String, Query, description = "The wallet"),
        ("start_date" = String, Query, description = "ISO 8601; a date alone is its start"),
        ("end_date" = String, Query, description = "ISO 8601, inclusive; a date alone is its end"),
        ("doc_type" = String, Query, description = "EXCEL or PDF"),
    ),
    responses(
        (status = 200, description = "The statement file (attachment)", content(
            (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
            (Vec<u8> = "application/pdf"),
        )),
        (status = 400, description = "Bad dates, range or doc_type", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "Account not found, or no transactions within period", body = ErrorBody),
    )
)]
pub async fn document(auth: AuthUser, Params(params): Params) -> Result<Response, ApiError> {
    let mut f = Fields::new(&params);
    let account_number = f.required_str("account_number");
    let start = f.date("start_date", DayBound::Start, true);
    let end = f.date("end_date", DayBound::End, true);
    let doc_type = f.one_of("doc_type", &["EXCEL", "PDF"], true);
    if let (Some(s), Some(e)) = (start, end)
        && s > e
    {
        f.problem("start_date must not be after end_date");
    }
    f.finish()?;
    let (Some(start), Some(end)) = (start, end) else {
        return Err(ApiError::invalid("start_date and end_date are required"));
    };
    let statement = auth.ledger.statement(&auth.caller, &account_number, start, end).await?;
    let doc = StatementDoc::of(&statement);
    let pdf = doc_type == Some("PDF");
    // Rendering is CPU work proportional to the statement's length: keep it off the async
    // worker threads.
    let bytes = tokio::task::spawn_blocking(move || {
        if pdf {
            Ok(statement_pdf::render(&doc))
        } else {
            statement_xlsx::render(&doc)
        }
    })
    .await
    .map_err(|e| ApiError::Internal(format!("statement rendering panicked: {e}")))??;
    let (content_type, ext) = if pdf {
        (PDF_CONTENT_TYPE, "pdf")
    } else {
        (XLSX_CONTENT_TYPE, "xlsx")
    };
    let filename = format!("statement-{}-{}-{}.{ext}", account_number, day(start), day(end));
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\""))
        .map_err(|_| ApiError::invalid("account_number must be printable"))?;
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        bytes,
    )
        .into_response())
}
