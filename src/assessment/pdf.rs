//! STUB — replaced by the PDF renderer.
use super::card::ReportCard;
#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    #[error("pdf: {0}")]
    Render(String),
}
pub fn render_cards(_cards: &[ReportCard]) -> Result<Vec<u8>, PdfError> {
    Err(PdfError::Render("not yet".into()))
}
