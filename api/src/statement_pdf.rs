//! The PDF statement, written with `pdf-writer` in the builtin Helvetica (no embedded font, no
//! system library): the same header block, columns and balances as the spreadsheet, paginated.
//! Content streams are left uncompressed, so the text (transaction ids, amounts) can be found
//! in the file's bytes.

use crate::routes::statements::StatementDoc;
use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str};

const PAGE_WIDTH: f32 = 842.0; // A4 landscape: seven columns fit.
const PAGE_HEIGHT: f32 = 595.0;
const MARGIN: f32 = 36.0;
const LINE: f32 = 14.0;
const FONT_SIZE: f32 = 9.0;
/// Left edge of each column.
const COLUMN_X: [f32; 7] = [36.0, 166.0, 246.0, 296.0, 536.0, 631.0, 726.0];
/// Longest narration shown (in characters); longer ones are cut with "...".
const NARRATION_CHARS: usize = 48;

/// The fonts use WinAnsiEncoding, which matches Latin-1 for printable ASCII and U+00A0..U+00FF;
/// anything else is shown as `?`.
fn pdf_text(s: &str) -> Vec<u8> {
    s.chars()
        .map(|c| match c as u32 {
            0x20..=0x7e | 0xa0..=0xff => c as u8,
            _ => b'?',
        })
        .collect()
}

fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        format!("{}...", s.chars().take(max - 3).collect::<String>())
    }
}

/// One page's text, drawn line by line from the top.
struct PageText {
    content: Content,
    y: f32,
}

impl PageText {
    fn new() -> Self {
        PageText {
            content: Content::new(),
            y: PAGE_HEIGHT - MARGIN,
        }
    }

    fn text(&mut self, x: f32, font: Name<'_>, size: f32, s: &str) {
        self.content.begin_text();
        self.content.set_font(font, size);
        self.content.next_line(x, self.y);
        self.content.show(Str(&pdf_text(s)));
        self.content.end_text();
    }

    fn room_for(&self, lines: f32) -> bool {
        self.y - lines * LINE >= MARGIN
    }
}

/// The PDF file's bytes.
pub fn render(doc: &StatementDoc) -> Vec<u8> {
    let regular = Name(b"F1");
    let bold = Name(b"F2");
    let mut pages: Vec<PageText> = Vec::new();
    let mut page = PageText::new();

    page.text(MARGIN, bold, 14.0, "Account statement");
    page.y -= LINE * 1.6;
    for (label, value) in [
        ("Account number", doc.account_number.as_str()),
        ("Account name", &doc.account_name),
        ("Currency", &doc.currency),
        ("Period", &format!("{} to {}", doc.period_start, doc.period_end)),
        ("Opening balance", &doc.opening_balance),
    ] {
        page.text(MARGIN, bold, FONT_SIZE, label);
        page.text(MARGIN + 100.0, regular, FONT_SIZE, value);
        page.y -= LINE;
    }
    page.y -= LINE;

    let header = |page: &mut PageText| {
        for (x, title) in COLUMN_X.iter().zip(StatementDoc::COLUMNS) {
            page.text(*x, bold, FONT_SIZE, title);
        }
        page.y -= LINE;
    };
    header(&mut page);
    for row in &doc.rows {
        if !page.room_for(1.0) {
            pages.push(std::mem::replace(&mut page, PageText::new()));
            header(&mut page);
        }
        let narration = shorten(&row.narration, NARRATION_CHARS);
        let cells = row.cells();
        for (i, (x, cell)) in COLUMN_X.iter().zip(cells).enumerate() {
            page.text(*x, regular, FONT_SIZE, if i == 3 { &narration } else { cell });
        }
        page.y -= LINE;
    }
    if !page.room_for(2.0) {
        pages.push(std::mem::replace(&mut page, PageText::new()));
    }
    page.y -= LINE;
    page.text(MARGIN, bold, FONT_SIZE, "Closing balance");
    page.text(MARGIN + 100.0, regular, FONT_SIZE, &doc.closing_balance);
    pages.push(page);

    // Object ids: catalog 1, page tree 2, fonts 3 and 4, then a page and its content per page.
    let catalog_id = Ref::new(1);
    let tree_id = Ref::new(2);
    let regular_id = Ref::new(3);
    let bold_id = Ref::new(4);
    let page_ids: Vec<Ref> = (0..pages.len()).map(|i| Ref::new(5 + 2 * i as i32)).collect();
    let mut pdf = Pdf::new();
    pdf.catalog(catalog_id).pages(tree_id);
    pdf.pages(tree_id)
        .kids(page_ids.iter().copied())
        .count(pages.len() as i32);
    let encoding = Name(b"WinAnsiEncoding");
    pdf.type1_font(regular_id)
        .base_font(Name(b"Helvetica"))
        .encoding_predefined(encoding);
    pdf.type1_font(bold_id)
        .base_font(Name(b"Helvetica-Bold"))
        .encoding_predefined(encoding);
    for (page_text, page_id) in pages.into_iter().zip(&page_ids) {
        let content_id = Ref::new(page_id.get() + 1);
        let mut p = pdf.page(*page_id);
        p.media_box(Rect::new(0.0, 0.0, PAGE_WIDTH, PAGE_HEIGHT));
        p.parent(tree_id);
        p.contents(content_id);
        let mut resources = p.resources();
        let mut fonts = resources.fonts();
        fonts.pair(regular, regular_id);
        fonts.pair(bold, bold_id);
        fonts.finish();
        resources.finish();
        p.finish();
        let data = page_text.content.finish();
        pdf.stream(content_id, &data);
    }
    pdf.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routes::statements::StatementRow;

    fn doc(rows: usize) -> StatementDoc {
        StatementDoc {
            account_number: "10000001".into(),
            account_name: "Float".into(),
            currency: "KES".into(),
            period_start: "2024-09-01T00:00:00.000Z".into(),
            period_end: "2024-09-30T23:59:59.999Z".into(),
            opening_balance: "0.0000".into(),
            closing_balance: "42.0000".into(),
            rows: (0..rows)
                .map(|i| StatementRow {
                    date: "2024-09-05T17:14:04.734Z".into(),
                    transaction_id: (9000 + i).to_string(),
                    transaction_type: "DEBIT".into(),
                    narration: "caf\u{e9} \u{20ac}5 (test)".into(),
                    amount: "1.0000".into(),
                    previous_balance: "2.0000".into(),
                    current_balance: "1.0000".into(),
                })
                .collect(),
        }
    }

    fn contains(hay: &[u8], needle: &str) -> bool {
        hay.windows(needle.len()).any(|w| w == needle.as_bytes())
    }

    #[test]
    fn text_is_findable_in_the_file() {
        let bytes = render(&doc(2));
        assert!(bytes.starts_with(b"%PDF-"));
        assert!(contains(&bytes, "(9000) Tj"));
        assert!(contains(&bytes, "(9001) Tj"));
        assert!(contains(&bytes, "(42.0000) Tj"));
        assert!(contains(&bytes, "Helvetica"));
        // Latin-1 survives (as its WinAnsi byte, in a hex string); other characters become '?'.
        let hex: String = b"caf\xe9 ?5 (test)".iter().map(|b| format!("{b:02x}")).collect();
        let text = String::from_utf8_lossy(&bytes).to_lowercase();
        assert!(text.contains(&format!("<{hex}> tj")), "{hex}");
    }

    #[test]
    fn long_statements_get_more_pages() {
        let bytes = render(&doc(200));
        let pages = bytes
            .windows(b"/Type /Page\n".len())
            .filter(|w| *w == b"/Type /Page\n")
            .count();
        assert!(contains(&bytes, "(9199) Tj"));
        assert!(contains(&bytes, "/Count "));
        assert!(pages > 1 || !contains(&bytes, "/Count 1\n"), "expected several pages");
    }
}
