//! The EXCEL statement: a real .xlsx written with `rust_xlsxwriter`. A header block (account,
//! currency, period, opening balance), one row per leg, then the closing balance. Money cells
//! are text with 4 decimals, exactly as the JSON answers show them: a spreadsheet number is
//! an `f64`, and no amount in walletd passes through one.

use crate::error::ApiError;
use crate::routes::statements::StatementDoc;
use rust_xlsxwriter::{Format, Workbook, XlsxError};

/// Row (0-based) of the column titles; the legs follow it.
pub const HEADER_ROW: u32 = 8;

fn build(doc: &StatementDoc) -> Result<Vec<u8>, XlsxError> {
    let mut workbook = Workbook::new();
    let bold = Format::new().set_bold();
    let sheet = workbook.add_worksheet();
    sheet.set_name("Statement")?;
    sheet.write_string(0, 0, "Account statement", &bold)?;
    let block = [
        ("Account number", doc.account_number.as_str()),
        ("Account name", &doc.account_name),
        ("Currency", &doc.currency),
        ("Period start", &doc.period_start),
        ("Period end", &doc.period_end),
        ("Opening balance", &doc.opening_balance),
    ];
    for (i, (label, value)) in block.iter().enumerate() {
        let row = 1 + i as u32;
        sheet.write_string(row, 0, label, &bold)?;
        sheet.write_string_only(row, 1, value)?;
    }
    for (col, title) in StatementDoc::COLUMNS.iter().enumerate() {
        sheet.write_string(HEADER_ROW, col as u16, title, &bold)?;
    }
    let mut row = HEADER_ROW;
    for r in &doc.rows {
        row += 1;
        for (col, cell) in r.cells().iter().enumerate() {
            sheet.write_string_only(row, col as u16, cell)?;
        }
    }
    row += 2;
    sheet.write_string(row, 0, "Closing balance", &bold)?;
    sheet.write_string_only(row, 1, &doc.closing_balance)?;
    for (col, width) in [26.0, 16.0, 8.0, 40.0, 18.0, 18.0, 18.0].into_iter().enumerate() {
        sheet.set_column_width(col as u16, width)?;
    }
    workbook.save_to_buffer()
}

/// The .xlsx file's bytes.
pub fn render(doc: &StatementDoc) -> Result<Vec<u8>, ApiError> {
    build(doc).map_err(|e| ApiError::Internal(format!("xlsx statement: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routes::statements::StatementRow;
    use calamine::{Data, Reader, Xlsx};
    use std::io::Cursor;

    pub(crate) fn sample(rows: usize) -> StatementDoc {
        StatementDoc {
            account_number: "10000001".into(),
            account_name: "Collection (KES)".into(),
            currency: "KES".into(),
            period_start: "2024-09-01T00:00:00.000Z".into(),
            period_end: "2024-09-30T23:59:59.999Z".into(),
            opening_balance: "0.0000".into(),
            closing_balance: format!("{}.0000", rows * 10),
            rows: (0..rows)
                .map(|i| StatementRow {
                    date: "2024-09-05T17:14:04.734Z".into(),
                    transaction_id: (7607 + i).to_string(),
                    transaction_type: "CREDIT".into(),
                    narration: format!("payment ({i})"),
                    amount: "10.0000".into(),
                    previous_balance: format!("{}.0000", i * 10),
                    current_balance: format!("{}.0000", (i + 1) * 10),
                })
                .collect(),
        }
    }

    #[test]
    fn rows_read_back() {
        let bytes = render(&sample(3)).unwrap();
        let mut book: Xlsx<_> = Xlsx::new(Cursor::new(bytes)).unwrap();
        let range = book.worksheet_range("Statement").unwrap();
        let cell = |r: u32, c: u32| match range.get_value((r, c)) {
            Some(Data::String(s)) => s.clone(),
            other => panic!("({r},{c}): {other:?}"),
        };
        assert_eq!(cell(1, 1), "10000001");
        assert_eq!(cell(6, 0), "Opening balance");
        assert_eq!(cell(HEADER_ROW, 1), "Transaction ID");
        assert_eq!(cell(HEADER_ROW + 1, 1), "7607");
        assert_eq!(cell(HEADER_ROW + 3, 6), "30.0000");
        assert_eq!(cell(HEADER_ROW + 5, 0), "Closing balance");
        assert_eq!(cell(HEADER_ROW + 5, 1), "30.0000");
    }
}
