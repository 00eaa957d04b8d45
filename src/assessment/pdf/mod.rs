//! A4 PDF report cards, set in DejaVu Sans Condensed embedded in the document.
//!
//! The standard-14 PDF fonts stop at WinAnsi, which has no Yoruba "ẹ ọ ṣ", Igbo "ị ụ ṅ",
//! Hausa "ɓ ɗ ƙ ƴ" or "₦", so the cards carry their own font (static/fonts/, Bitstream
//! Vera licence). The condensed cut was chosen because its widths are within a few per
//! cent of Helvetica's, which the layout was drawn for. Each document embeds only the
//! glyphs it shows (see `font::embed_fonts`), so a card stays a few tens of kilobytes.
//!
//! Coordinates inside this module are points measured from the *top* of the page; the
//! `Painter` flips them to PDF's bottom-up space when it emits operations.
//!
//! Five rooms, each only using the ones listed before it:
//! - [`font`]: the faces, glyph lookup and metrics, embedding a subset per document;
//! - [`text`]: making text printable (accents composed), measuring, fitting, wrapping;
//! - [`paint`]: drawing primitives on one page (text runs, lines, rectangles, pictures);
//! - [`layout`]: the report card itself (header, pupil block, tables, pages);
//! - [`broadsheet`]: a class's broadsheet and meeting summary on landscape pages.

mod broadsheet;
mod font;
mod layout;
mod paint;
mod text;

use printpdf::{PdfDocument, PdfPage, PdfSaveOptions};

use super::broadsheet::{Broadsheet, Paper};
use super::card::ReportCard;
pub use font::Face;
use paint::{LogoCache, Pictures, load_picture};
pub use text::{fit, measure, pdf_text, position_text, score_text, text_width, wrap};

/// Why a batch of cards could not be turned into a PDF.
#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    /// A PDF needs at least one page; callers should not ask for an empty class.
    #[error("no report cards to render")]
    NoCards,
    /// printpdf swallows writer failures; we notice by the missing `%PDF` header.
    #[error("the PDF writer produced no document: {0}")]
    Serialize(String),
}

/// Renders cards as one PDF, one or more A4 pages per pupil (a card never shares a page with
/// another pupil's).
pub fn render_cards(cards: &[ReportCard]) -> Result<Vec<u8>, PdfError> {
    let first = cards.first().ok_or(PdfError::NoCards)?;
    let title = match cards {
        [only] => format!("Report card — {}", only.pupil.full_name.trim()),
        _ => document_title(first),
    };
    let mut doc = new_document(&title);
    let mut logos = LogoCache::default();
    let mut pages = Vec::new();
    for card in cards {
        let pictures = Pictures {
            logo: card
                .school
                .logo
                .as_deref()
                .and_then(|bytes| logos.get(&mut doc, bytes)),
            photo: card
                .pupil
                .photo
                .as_deref()
                .and_then(|bytes| load_picture(&mut doc, bytes)),
        };
        pages.extend(layout::layout_card(card, &pictures));
    }
    save(doc, pages)
}

/// A class's broadsheet (landscape, A4 unless the subjects need A3 or `paper` says) with the
/// results meeting's summary on its last page.
pub fn render_broadsheet(sheet: &Broadsheet, paper: Option<Paper>) -> Result<Vec<u8>, PdfError> {
    let doc = new_document(&format!("Broadsheet — {}", sheet.title()));
    let pages = broadsheet::layout_broadsheet(sheet, paper);
    save(doc, pages)
}

fn new_document(title: &str) -> PdfDocument {
    let mut doc = PdfDocument::new(title);
    doc.metadata.info.creator = "Schoolyard".to_owned();
    doc.metadata.info.producer = "Schoolyard".to_owned();
    // printpdf dates documents 1970 unless told.
    if let Ok(now) = printpdf::OffsetDateTime::from_unix_timestamp(chrono::Utc::now().timestamp()) {
        doc.metadata.info.creation_date = now;
        doc.metadata.info.modification_date = now;
        doc.metadata.info.metadata_date = now;
    }
    doc
}

/// Embeds the subset of the faces the pages use and writes the document.
fn save(mut doc: PdfDocument, mut pages: Vec<PdfPage>) -> Result<Vec<u8>, PdfError> {
    font::embed_fonts(&mut doc, &mut pages);
    let mut warnings = Vec::new();
    let bytes = doc
        .with_pages(pages)
        .save(&PdfSaveOptions::default(), &mut warnings);
    if bytes.starts_with(b"%PDF") {
        Ok(bytes)
    } else {
        let detail = warnings
            .iter()
            .map(|w| w.msg.as_str())
            .collect::<Vec<_>>()
            .join("; ");
        Err(PdfError::Serialize(detail))
    }
}

fn document_title(card: &ReportCard) -> String {
    let parts = [
        card.pupil.class_name.as_str(),
        card.period.term.as_str(),
        card.period.session.as_str(),
    ];
    let detail = parts
        .iter()
        .map(|p| p.trim())
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    if detail.is_empty() {
        "Report cards".to_owned()
    } else {
        format!("Report cards — {detail}")
    }
}
