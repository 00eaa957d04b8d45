//! A4 PDF report cards, drawn with printpdf's built-in Helvetica faces.
//!
//! The standard-14 fonts need no embedding, so a class of 60 cards stays small and renders
//! fast. The price is that printpdf 0.12 exposes no metrics for them: we measure text with
//! the Adobe AFM advance widths below, and keep every string inside WinAnsi, the single-byte
//! encoding printpdf writes those fonts with (it prints `?` for anything else).
//!
//! Coordinates inside this module are points measured from the *top* of the page; the
//! `Painter` flips them to PDF's bottom-up space when it emits operations.

use std::mem;

use printpdf::{
    BuiltinFont, Color, Line, LinePoint, Mm, Op, PaintMode, PdfDocument, PdfFontHandle, PdfPage,
    PdfSaveOptions, Point, Pt, RawImage, Rect, Rgb, TextItem, WindingOrder, XObjectId,
    XObjectTransform,
};

use super::card::{
    CommentLine, GradeKey, RatingGroup, ReportCard, SubjectLine, format_score, ordinal,
};

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
    let mut doc = PdfDocument::new(&document_title(first));
    doc.metadata.info.creator = "Schoolyard".to_owned();
    doc.metadata.info.producer = "Schoolyard".to_owned();

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
        pages.extend(layout_card(card, &pictures));
    }

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

// ---------------------------------------------------------------------------------------
// Page geometry and colours
// ---------------------------------------------------------------------------------------

const PAGE_W: f32 = 595.28;
const PAGE_H: f32 = 841.89;
/// 12 mm.
const MARGIN: f32 = 34.0;
const LEFT: f32 = MARGIN;
const RIGHT: f32 = PAGE_W - MARGIN;
const CONTENT_W: f32 = RIGHT - LEFT;
const TOP: f32 = MARGIN;
/// Lowest point content may reach; the footer rule and text sit below it.
const BOTTOM: f32 = PAGE_H - 32.0;
/// Horizontal padding inside table cells.
const PAD: f32 = 3.0;
/// Smallest size a squeezed label may shrink to before it is cut with "…".
const MIN_FONT: f32 = 5.5;

#[derive(Debug, Clone, Copy)]
struct Rgb3(f32, f32, f32);

impl Rgb3 {
    fn color(self) -> Color {
        Color::Rgb(Rgb::new(self.0, self.1, self.2, None))
    }
}

const INK: Rgb3 = Rgb3(0.10, 0.10, 0.12);
const MUTED: Rgb3 = Rgb3(0.38, 0.38, 0.42);
const RULE: Rgb3 = Rgb3(0.62, 0.62, 0.66);
const SHADE: Rgb3 = Rgb3(0.90, 0.90, 0.92);
const ACCENT: Rgb3 = Rgb3(0.12, 0.23, 0.42);
const WHITE: Rgb3 = Rgb3(1.0, 1.0, 1.0);

// ---------------------------------------------------------------------------------------
// Fonts: metrics, encoding, fitting and wrapping
// ---------------------------------------------------------------------------------------

/// The built-in faces the cards use. Oblique shares the regular face's metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Face {
    Regular,
    Bold,
    Italic,
}

impl Face {
    fn builtin(self) -> BuiltinFont {
        match self {
            Face::Regular => BuiltinFont::Helvetica,
            Face::Bold => BuiltinFont::HelveticaBold,
            Face::Italic => BuiltinFont::HelveticaOblique,
        }
    }

    fn widths(self) -> &'static [u16; 224] {
        match self {
            Face::Bold => &HELVETICA_BOLD_WIDTHS,
            Face::Regular | Face::Italic => &HELVETICA_WIDTHS,
        }
    }
}

/// Helvetica advance widths (1/1000 em) for WinAnsi codes 32..=255, from Adobe's AFM;
/// 0 marks the codes WinAnsi leaves undefined.
#[rustfmt::skip]
const HELVETICA_WIDTHS: [u16; 224] = [
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278,
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556,
    1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778,
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556,
    333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556,
    556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584, 0,
    556, 0, 222, 556, 333, 1000, 556, 556, 333, 1000, 667, 333, 1000, 0, 611, 0,
    0, 222, 222, 333, 333, 350, 556, 1000, 333, 1000, 500, 333, 944, 0, 500, 667,
    278, 333, 556, 556, 556, 556, 260, 556, 333, 737, 370, 556, 584, 333, 737, 333,
    400, 584, 333, 333, 333, 578, 537, 278, 333, 333, 365, 556, 834, 834, 834, 611,
    667, 667, 667, 667, 667, 667, 1000, 722, 667, 667, 667, 667, 278, 278, 278, 278,
    722, 722, 778, 778, 778, 778, 778, 584, 778, 722, 722, 722, 722, 667, 667, 611,
    556, 556, 556, 556, 556, 556, 889, 500, 556, 556, 556, 556, 278, 278, 278, 278,
    556, 556, 556, 556, 556, 556, 556, 584, 611, 556, 556, 556, 556, 500, 556, 500,
];

/// Helvetica-Bold advance widths, laid out like [`HELVETICA_WIDTHS`].
#[rustfmt::skip]
const HELVETICA_BOLD_WIDTHS: [u16; 224] = [
    278, 333, 474, 556, 556, 889, 722, 238, 333, 333, 389, 584, 278, 333, 278, 278,
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 333, 333, 584, 584, 584, 611,
    975, 722, 722, 722, 722, 667, 611, 778, 722, 278, 556, 722, 611, 833, 722, 778,
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 333, 278, 333, 584, 556,
    333, 556, 611, 556, 611, 556, 333, 611, 611, 278, 278, 556, 278, 889, 611, 611,
    611, 611, 389, 556, 333, 611, 556, 778, 556, 556, 500, 389, 280, 389, 584, 0,
    556, 0, 278, 556, 500, 1000, 556, 556, 333, 1000, 667, 333, 1000, 0, 611, 0,
    0, 278, 278, 500, 500, 350, 556, 1000, 333, 1000, 556, 333, 944, 0, 500, 667,
    278, 333, 556, 556, 556, 556, 280, 556, 333, 737, 370, 556, 584, 333, 737, 333,
    400, 584, 333, 333, 333, 611, 556, 278, 333, 333, 365, 556, 834, 834, 834, 611,
    722, 722, 722, 722, 722, 722, 1000, 722, 667, 667, 667, 667, 278, 278, 278, 278,
    722, 722, 778, 778, 778, 778, 778, 584, 778, 722, 722, 722, 722, 667, 667, 611,
    611, 611, 611, 611, 611, 611, 889, 556, 556, 556, 556, 556, 278, 278, 278, 278,
    611, 611, 611, 611, 611, 611, 611, 584, 611, 611, 611, 611, 611, 556, 611, 556,
];

/// Width assumed for anything the tables do not cover.
const DEFAULT_GLYPH_WIDTH: u16 = 556;

/// WinAnsi's 0x80..=0x9F block, where it departs from Latin-1.
const WIN_ANSI_HIGH: [(char, u8); 27] = [
    ('€', 0x80),
    ('‚', 0x82),
    ('ƒ', 0x83),
    ('„', 0x84),
    ('…', 0x85),
    ('†', 0x86),
    ('‡', 0x87),
    ('ˆ', 0x88),
    ('‰', 0x89),
    ('Š', 0x8A),
    ('‹', 0x8B),
    ('Œ', 0x8C),
    ('Ž', 0x8E),
    ('‘', 0x91),
    ('’', 0x92),
    ('“', 0x93),
    ('”', 0x94),
    ('•', 0x95),
    ('–', 0x96),
    ('—', 0x97),
    ('˜', 0x98),
    ('™', 0x99),
    ('š', 0x9A),
    ('›', 0x9B),
    ('œ', 0x9C),
    ('ž', 0x9E),
    ('Ÿ', 0x9F),
];

/// Base letters for U+0100..=U+024F (Latin Extended-A/B); `?` where there is none.
const FOLD_LATIN_EXT: &str = concat!(
    "AaAaAaCcCcCcCcDdDdEeEeEeEeEeGgGgGgGgHhHhIiIiIiIiIiIiJjKkkLlLlLlL",
    "lLlNnNnNnnNnOoOoOoŒœRrRrRrSsSsSsSsTtTt??UuUuUuUuUuUuWwYyYZzZzZzs",
    "bBBb??????DDd????FƒG???IKkl??Nn?Oo??Pp?????tTtTUu?VYyZz?????????",
    "?????????????AaIiOoUuUuUuUuUu?AaAaÆæGgGgKkOoOo??j???Gg??NnAaÆæØø",
    "AaAaEeEeIiIiOoOoRrRrUuUuSsTt??Hh?d????AaEeOoOoOoOoYylntj??ACcLTs",
    "z??BU?EeJjQqRrYy",
);

/// Base letters for U+1E00..=U+1EFF (Latin Extended Additional: Yoruba ẹ ọ ṣ, Igbo ị ụ, …).
const FOLD_LATIN_ADDITIONAL: &str = concat!(
    "AaBbBbBbCcDdDdDdDdDdEeEeEeEeEeFfGgHhHhHhHhHhIiIiKkKkKkLlLlLlLlMm",
    "MmMmNnNnNnNnOoOoOoOoPpPpRrRrRrRrSsSsSsSsSsTtTtTtTtUuUuUuUuUuVvVv",
    "WwWwWwWwWwXxXxYyZzZzZzhtwy??ssßdAaAaAaAaAaAaAaAaAaAaAaAaEeEeEeEe",
    "EeEeEeEeIiIiOoOoOoOoOoOoOoOoOoOoOoOoUuUuUuUuUuUuUuYyYyYyYy??????",
);

/// Combining marks that have a precomposed Latin-1 form: (mark, bases, composed).
const COMPOSE: [(char, &str, &str); 7] = [
    ('\u{300}', "AEIOUaeiou", "ÀÈÌÒÙàèìòù"),
    ('\u{301}', "AEIOUYaeiouy", "ÁÉÍÓÚÝáéíóúý"),
    ('\u{302}', "AEIOUaeiou", "ÂÊÎÔÛâêîôû"),
    ('\u{303}', "ANOano", "ÃÑÕãñõ"),
    ('\u{308}', "AEIOUaeiouy", "ÄËÏÖÜäëïöüÿ"),
    ('\u{30A}', "Aa", "Åå"),
    ('\u{327}', "Cc", "Çç"),
];

fn win_ansi_code(c: char) -> Option<u8> {
    match u32::from(c) {
        cp @ (0x20..=0x7E | 0xA0..=0xFF) => u8::try_from(cp).ok(),
        _ => WIN_ANSI_HIGH
            .iter()
            .find(|(ch, _)| *ch == c)
            .map(|(_, code)| *code),
    }
}

fn glyph_width(c: char, face: Face) -> u16 {
    win_ansi_code(c)
        .and_then(|code| face.widths().get(usize::from(code).checked_sub(32)?))
        .copied()
        .filter(|w| *w > 0)
        .unwrap_or(DEFAULT_GLYPH_WIDTH)
}

/// Width of text that is already WinAnsi-clean (see [`pdf_text`]).
pub fn measure(text: &str, face: Face, size: f32) -> f32 {
    let units: u32 = text.chars().map(|c| u32::from(glyph_width(c, face))).sum();
    units as f32 * size / 1000.0
}

/// Width in points of `text` set in `face` at `size` pt, using the Adobe AFM advance widths
/// of Helvetica / Helvetica-Bold (no kerning, as printpdf emits none for built-in fonts).
/// Characters outside WinAnsi are measured as the substitute the renderer prints for them.
pub fn text_width(text: &str, face: Face, size: f32) -> f32 {
    measure(&pdf_text(text), face, size)
}

/// Rewrites `text` into characters the WinAnsi-encoded built-in fonts can show: decomposed
/// accents are recomposed where Latin-1 has the letter ("e\u{301}" → "é"), letters such as
/// Yoruba "ọ" / "ẹ" / "ṣ" lose the dot below, odd spaces become spaces, invisible characters
/// vanish, and anything else becomes `?` (what printpdf would print anyway, but measured).
pub fn pdf_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if ('\u{300}'..='\u{36F}').contains(&c) {
            compose_into(&mut out, c);
        } else if let Some(mapped) = to_win_ansi(c) {
            out.push(mapped);
        }
    }
    out
}

fn to_win_ansi(c: char) -> Option<char> {
    if win_ansi_code(c).is_some() {
        return Some(c);
    }
    let mapped = match c {
        '\u{200B}'..='\u{200F}' | '\u{2060}' | '\u{FEFF}' => return None,
        c if c.is_whitespace() => ' ',
        c if c.is_control() => return None,
        '\u{2010}'..='\u{2012}' | '\u{2212}' => '-',
        '\u{2015}' => '—',
        '\u{02BB}' | '\u{02BC}' | '\u{2032}' | '\u{201B}' => '’',
        '\u{201F}' | '\u{2033}' => '”',
        '\u{0186}' => 'O',
        '\u{0190}' => 'E',
        '\u{0253}' => 'b',
        '\u{0254}' => 'o',
        '\u{0257}' => 'd',
        '\u{025B}' => 'e',
        '\u{0100}'..='\u{024F}' => fold(FOLD_LATIN_EXT, c, 0x100),
        '\u{1E00}'..='\u{1EFF}' => fold(FOLD_LATIN_ADDITIONAL, c, 0x1E00),
        _ => '?',
    };
    Some(mapped)
}

fn fold(table: &str, c: char, first: u32) -> char {
    u32::from(c)
        .checked_sub(first)
        .and_then(|i| table.chars().nth(usize::try_from(i).ok()?))
        .unwrap_or('?')
}

/// Merges a combining mark into the previous letter when Latin-1 has the result; marks
/// with no such letter (dot below, macron, …) are dropped.
fn compose_into(out: &mut String, mark: char) {
    let Some((_, bases, composed)) = COMPOSE.iter().find(|(m, _, _)| *m == mark) else {
        return;
    };
    let Some(base) = out.chars().last() else {
        return;
    };
    let replacement = bases
        .chars()
        .position(|b| b == base)
        .and_then(|i| composed.chars().nth(i));
    if let Some(letter) = replacement {
        out.pop();
        out.push(letter);
    }
}

/// Shrinks `text` from `size` towards `min_size` until it fits `max_width`, then cuts it
/// with "…". Returns the WinAnsi-clean text and the size to set it at.
pub fn fit(text: &str, face: Face, size: f32, min_size: f32, max_width: f32) -> (String, f32) {
    let clean = pdf_text(text);
    let clean = clean.trim();
    if clean.is_empty() || max_width <= 0.0 {
        return (String::new(), size);
    }
    let natural = measure(clean, face, size);
    if natural <= max_width {
        return (clean.to_owned(), size);
    }
    // Round down to a tenth of a point so float noise cannot push the text over the edge.
    let shrunk = (size * max_width / natural * 10.0).floor() / 10.0;
    let min_size = min_size.min(size);
    if shrunk >= min_size {
        return (clean.to_owned(), shrunk);
    }
    (truncate(clean, face, min_size, max_width), min_size)
}

/// The longest prefix of `text` that fits `max_width` together with a trailing "…".
fn truncate(text: &str, face: Face, size: f32, max_width: f32) -> String {
    let budget = max_width - measure("…", face, size);
    if budget < 0.0 {
        return String::new();
    }
    let mut used = 0.0;
    let mut end = 0;
    for (i, c) in text.char_indices() {
        let w = measure(c.encode_utf8(&mut [0; 4]), face, size);
        if used + w > budget {
            break;
        }
        used += w;
        end = i + c.len_utf8();
    }
    let head = text.get(..end).unwrap_or_default().trim_end();
    format!("{head}…")
}

/// Greedy word wrap to `max_width`; a word longer than a whole line is broken between
/// characters. Line breaks in `text` start new lines; blank lines are dropped.
pub fn wrap(text: &str, face: Face, size: f32, max_width: f32) -> Vec<String> {
    let space = measure(" ", face, size);
    let mut lines = Vec::new();
    for paragraph in text.lines() {
        let paragraph = pdf_text(paragraph);
        let mut line = String::new();
        let mut line_w = 0.0;
        for word in paragraph.split_whitespace() {
            let word_w = measure(word, face, size);
            if !line.is_empty() && line_w + space + word_w <= max_width {
                line.push(' ');
                line.push_str(word);
                line_w += space + word_w;
                continue;
            }
            if !line.is_empty() {
                lines.push(mem::take(&mut line));
            }
            if word_w <= max_width {
                line.push_str(word);
                line_w = word_w;
                continue;
            }
            line_w = 0.0;
            for c in word.chars() {
                let w = measure(c.encode_utf8(&mut [0; 4]), face, size);
                if !line.is_empty() && line_w + w > max_width {
                    lines.push(mem::take(&mut line));
                    line_w = 0.0;
                }
                line.push(c);
                line_w += w;
            }
        }
        if !line.is_empty() {
            lines.push(line);
        }
    }
    lines
}

/// A mark for the card, or a dash when the figure is missing or not a number.
pub fn score_text(value: f64) -> String {
    if value.is_finite() {
        format_score(value)
    } else {
        "–".to_owned()
    }
}

fn optional_score(value: Option<f64>) -> String {
    value.map_or_else(|| "–".to_owned(), score_text)
}

/// "3rd out of 41"; the class size stands in when the ranking did not record one.
pub fn position_text(position: Option<i64>, out_of: i64, class_size: i64) -> String {
    match position.filter(|p| *p > 0) {
        None => "–".to_owned(),
        Some(p) => {
            let of = if out_of > 0 { out_of } else { class_size };
            if of > 0 {
                format!("{} out of {of}", ordinal(p))
            } else {
                ordinal(p)
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Pictures
// ---------------------------------------------------------------------------------------

/// A decoded image registered with the document, with its pixel size for aspect fitting.
#[derive(Debug, Clone)]
struct Picture {
    id: XObjectId,
    width: f32,
    height: f32,
}

#[derive(Debug, Default)]
struct Pictures {
    logo: Option<Picture>,
    photo: Option<Picture>,
}

/// Uploads bigger than this are not a logo or passport photo; skip rather than decode.
const MAX_IMAGE_FILE_BYTES: usize = 16 * 1024 * 1024;
/// Decoded size kept per picture: ample for a 25 mm photo in print, and it bounds the
/// memory a class of 60 phone-camera photos holds until the document is saved.
const MAX_DECODED_BYTES: usize = 512 * 1024;

/// Decodes PNG/JPEG/WebP bytes; anything unreadable yields `None` so the card goes
/// without the picture instead of failing.
fn load_picture(doc: &mut PdfDocument, bytes: &[u8]) -> Option<Picture> {
    if bytes.is_empty() || bytes.len() > MAX_IMAGE_FILE_BYTES {
        return None;
    }
    let mut warnings = Vec::new();
    let mut image = RawImage::decode_from_bytes(bytes, &mut warnings).ok()?;
    if image.width == 0 || image.height == 0 {
        return None;
    }
    // Best effort: printpdf cannot resample 16-bit images, which then stay full size.
    let _ = image.resize_to_fit_size(MAX_DECODED_BYTES);
    let (width, height) = (image.width as f32, image.height as f32);
    let id = doc.add_image(&image);
    Some(Picture { id, width, height })
}

/// Every card of a class carries the same school logo: decode and embed it once.
#[derive(Debug, Default)]
struct LogoCache {
    seen: Vec<(Vec<u8>, Option<Picture>)>,
}

impl LogoCache {
    fn get(&mut self, doc: &mut PdfDocument, bytes: &[u8]) -> Option<Picture> {
        if let Some((_, picture)) = self.seen.iter().find(|(b, _)| b.as_slice() == bytes) {
            return picture.clone();
        }
        let picture = load_picture(doc, bytes);
        self.seen.push((bytes.to_vec(), picture.clone()));
        picture
    }
}

// ---------------------------------------------------------------------------------------
// Painter: drawing primitives on one page
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Align {
    Left,
    Center,
    Right,
}

#[derive(Debug, Clone, Copy)]
struct Style {
    face: Face,
    size: f32,
    color: Rgb3,
}

impl Style {
    const fn new(face: Face, size: f32, color: Rgb3) -> Self {
        Self { face, size, color }
    }
}

fn point(x: f32, y: f32) -> LinePoint {
    LinePoint {
        p: Point {
            x: Pt(x),
            y: Pt(PAGE_H - y),
        },
        bezier: false,
    }
}

/// Collects the operations of one page, taking top-down coordinates.
#[derive(Debug, Default)]
struct Painter {
    ops: Vec<Op>,
}

impl Painter {
    /// Text with its baseline at `baseline`. Each run gets its own BT/ET because printpdf's
    /// `SetTextCursor` is `Td`, which moves relative to the previous line inside a section.
    fn text(&mut self, text: &str, x: f32, baseline: f32, style: Style) {
        if text.is_empty() {
            return;
        }
        let text = if text.is_ascii() {
            text.to_owned()
        } else {
            pdf_text(text)
        };
        self.ops.extend([
            Op::SetFillColor {
                col: style.color.color(),
            },
            Op::StartTextSection,
            Op::SetFont {
                font: PdfFontHandle::Builtin(style.face.builtin()),
                size: Pt(style.size),
            },
            Op::SetTextCursor {
                pos: Point {
                    x: Pt(x),
                    y: Pt(PAGE_H - baseline),
                },
            },
            Op::ShowText {
                items: vec![TextItem::Text(text)],
            },
            Op::EndTextSection,
        ]);
    }

    /// Text fitted into `[x, x + width]` (shrunk, then cut with "…") and aligned there.
    fn text_box(
        &mut self,
        text: &str,
        (x, width): (f32, f32),
        baseline: f32,
        align: Align,
        style: Style,
    ) {
        let floor = (style.size * 0.75).max(MIN_FONT);
        let (text, size) = fit(text, style.face, style.size, floor, width);
        let used = measure(&text, style.face, size);
        let left = match align {
            Align::Left => x,
            Align::Center => x + (width - used) / 2.0,
            Align::Right => x + width - used,
        };
        self.text(&text, left, baseline, Style { size, ..style });
    }

    fn line(&mut self, from: (f32, f32), to: (f32, f32), thickness: f32, color: Rgb3) {
        self.ops.extend([
            Op::SetOutlineColor { col: color.color() },
            Op::SetOutlineThickness { pt: Pt(thickness) },
            Op::DrawLine {
                line: Line {
                    points: vec![point(from.0, from.1), point(to.0, to.1)],
                    is_closed: false,
                },
            },
        ]);
    }

    fn hline(&mut self, x1: f32, x2: f32, y: f32, thickness: f32, color: Rgb3) {
        self.line((x1, y), (x2, y), thickness, color);
    }

    fn vline(&mut self, x: f32, y1: f32, y2: f32, thickness: f32, color: Rgb3) {
        self.line((x, y1), (x, y2), thickness, color);
    }

    fn rect((x, y, w, h): (f32, f32, f32, f32), mode: PaintMode) -> Op {
        Op::DrawRectangle {
            rectangle: Rect {
                x: Pt(x),
                y: Pt(PAGE_H - y - h),
                width: Pt(w),
                height: Pt(h),
                mode: Some(mode),
                winding_order: Some(WindingOrder::NonZero),
            },
        }
    }

    fn fill_rect(&mut self, area: (f32, f32, f32, f32), color: Rgb3) {
        let rect = Self::rect(area, PaintMode::Fill);
        self.ops.push(Op::SetFillColor { col: color.color() });
        self.ops.push(rect);
    }

    fn stroke_rect(&mut self, area: (f32, f32, f32, f32), thickness: f32, color: Rgb3) {
        let rect = Self::rect(area, PaintMode::Stroke);
        self.ops.extend([
            Op::SetOutlineColor { col: color.color() },
            Op::SetOutlineThickness { pt: Pt(thickness) },
            rect,
        ]);
    }

    /// Draws `picture` as large as fits the box, centred, keeping its aspect ratio.
    fn picture(&mut self, picture: &Picture, (x, y, w, h): (f32, f32, f32, f32)) {
        let scale = (w / picture.width).min(h / picture.height);
        if !scale.is_finite() || scale <= 0.0 {
            return;
        }
        let (drawn_w, drawn_h) = (picture.width * scale, picture.height * scale);
        let left = x + (w - drawn_w) / 2.0;
        let top = y + (h - drawn_h) / 2.0;
        // At 72 dpi printpdf sizes the image at one point per pixel, so `scale` is exact.
        self.ops.push(Op::UseXobject {
            id: picture.id.clone(),
            transform: XObjectTransform {
                translate_x: Some(Pt(left)),
                translate_y: Some(Pt(PAGE_H - top - drawn_h)),
                scale_x: Some(scale),
                scale_y: Some(scale),
                dpi: Some(72.0),
                ..XObjectTransform::default()
            },
        });
    }
}

// ---------------------------------------------------------------------------------------
// Tables
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Column {
    /// Header lines, drawn centred (left-aligned for text columns).
    head: Vec<String>,
    width: f32,
    align: Align,
}

#[derive(Debug, Clone)]
struct Cell {
    text: String,
    face: Face,
}

impl Cell {
    fn new(text: impl Into<String>, face: Face) -> Self {
        Self {
            text: text.into(),
            face,
        }
    }
}

#[derive(Debug, Clone)]
struct Table {
    x: f32,
    columns: Vec<Column>,
    rows: Vec<Vec<Cell>>,
    font: f32,
    head_font: f32,
    row_h: f32,
    head_h: f32,
}

impl Table {
    fn width(&self) -> f32 {
        self.columns.iter().map(|c| c.width).sum()
    }

    fn height(&self) -> f32 {
        self.head_h + self.row_h * self.rows.len() as f32
    }
}

// ---------------------------------------------------------------------------------------
// Card layout
// ---------------------------------------------------------------------------------------

/// Vertical rhythm of a card; the roomiest one that keeps the card on one page wins.
#[derive(Debug, Clone, Copy)]
struct Density {
    /// Subject table rows.
    row_h: f32,
    /// Space between sections.
    gap: f32,
    /// Rating table rows.
    rating_h: f32,
    /// Lines of comment text.
    line_h: f32,
}

const ROOMY: Density = Density {
    row_h: 14.0,
    gap: 10.0,
    rating_h: 11.0,
    line_h: 11.5,
};
const NORMAL: Density = Density {
    row_h: 13.0,
    gap: 8.0,
    rating_h: 11.0,
    line_h: 11.5,
};
const TIGHT: Density = Density {
    row_h: 12.0,
    gap: 6.0,
    rating_h: 10.5,
    line_h: 11.0,
};
const COMPACT: Density = Density {
    row_h: 11.5,
    gap: 4.5,
    rating_h: 10.0,
    line_h: 10.5,
};

fn layout_card(card: &ReportCard, pictures: &Pictures) -> Vec<PdfPage> {
    let sheet = [ROOMY, NORMAL, TIGHT, COMPACT]
        .into_iter()
        .map(|density| Sheet::layout(card, pictures, density))
        .find(|sheet| sheet.done.is_empty())
        .unwrap_or_else(|| Sheet::layout(card, pictures, NORMAL));
    sheet.finish()
}

/// One pupil's pages while they are being laid out.
struct Sheet<'a> {
    card: &'a ReportCard,
    pictures: &'a Pictures,
    density: Density,
    /// Finished pages of this card.
    done: Vec<Painter>,
    page: Painter,
    /// Cursor: top of the next thing to draw.
    y: f32,
    /// Where content starts on the current page (below any continuation header).
    page_top: f32,
}

impl<'a> Sheet<'a> {
    fn layout(card: &'a ReportCard, pictures: &'a Pictures, density: Density) -> Self {
        let mut sheet = Self {
            card,
            pictures,
            density,
            done: Vec::new(),
            page: Painter::default(),
            y: TOP,
            page_top: TOP,
        };
        sheet.header();
        sheet.pupil_block();
        sheet.subjects();
        sheet.summary();
        sheet.ratings();
        sheet.comments();
        sheet.signatures();
        sheet.grading_key();
        sheet
    }

    /// Starts a new page unless `height` still fits. A fresh page never breaks again, so
    /// an oversized block overflows instead of looping.
    fn ensure(&mut self, height: f32) {
        if self.y + height > BOTTOM && self.y > self.page_top + 0.5 {
            self.break_page();
        }
    }

    fn break_page(&mut self) {
        let finished = mem::take(&mut self.page);
        self.done.push(finished);
        self.continuation_header();
    }

    fn gap(&mut self) {
        self.y += self.density.gap;
    }

    /// Adds footers ("Page n of m" counts this pupil's pages) and hands the pages over.
    fn finish(mut self) -> Vec<PdfPage> {
        let last = mem::take(&mut self.page);
        self.done.push(last);
        let total = self.done.len();
        let pupil = &self.card.pupil;
        let who = [pupil.full_name.trim(), pupil.admission_no.trim()]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" · ");
        let small = Style::new(Face::Regular, 7.0, MUTED);
        let baseline = PAGE_H - 17.0;
        self.done
            .into_iter()
            .enumerate()
            .map(|(i, mut page)| {
                page.hline(LEFT, RIGHT, PAGE_H - 26.0, 0.4, RULE);
                page.text("Generated by Schoolyard", LEFT, baseline, small);
                page.text_box(
                    &who,
                    (LEFT + CONTENT_W * 0.25, CONTENT_W * 0.5),
                    baseline,
                    Align::Center,
                    small,
                );
                page.text_box(
                    &format!("Page {} of {total}", i + 1),
                    (RIGHT - 80.0, 80.0),
                    baseline,
                    Align::Right,
                    small,
                );
                PdfPage::new(Mm(210.0), Mm(297.0), page.ops)
            })
            .collect()
    }

    /// The top of every page after the first: who the page belongs to, and that it goes on.
    fn continuation_header(&mut self) {
        let card = self.card;
        let name_w = CONTENT_W * 0.62;
        self.page.text_box(
            &card.pupil.full_name,
            (LEFT, name_w),
            TOP + 10.0,
            Align::Left,
            Style::new(Face::Bold, 10.5, INK),
        );
        let detail = format!("{} — (continued)", card.school.name.trim());
        self.page.text_box(
            &detail,
            (LEFT + name_w + 8.0, CONTENT_W - name_w - 8.0),
            TOP + 10.0,
            Align::Right,
            Style::new(Face::Italic, 8.5, MUTED),
        );
        self.page.hline(LEFT, RIGHT, TOP + 16.0, 0.8, ACCENT);
        self.y = TOP + 26.0;
        self.page_top = self.y;
    }

    // -- 1. Header ---------------------------------------------------------------------

    fn header(&mut self) {
        const LOGO: f32 = 60.0;
        const PHOTO_W: f32 = 58.0;
        const PHOTO_H: f32 = 70.0;
        let school = &self.card.school;
        let period = &self.card.period;
        let mut block_h: f32 = 0.0;

        if let Some(logo) = &self.pictures.logo {
            self.page.picture(logo, (LEFT, TOP, LOGO, LOGO));
            block_h = block_h.max(LOGO);
        }
        if let Some(photo) = &self.pictures.photo {
            let frame = (RIGHT - PHOTO_W, TOP, PHOTO_W, PHOTO_H);
            self.page.picture(
                photo,
                (frame.0 + 2.0, frame.1 + 2.0, PHOTO_W - 4.0, PHOTO_H - 4.0),
            );
            self.page.stroke_rect(frame, 0.6, RULE);
            block_h = block_h.max(PHOTO_H);
        }
        // Keep the school name centred on the page whether or not pictures flank it.
        let side = if self.pictures.logo.is_some() || self.pictures.photo.is_some() {
            PHOTO_W + 10.0
        } else {
            0.0
        };
        let band = (LEFT + side, CONTENT_W - 2.0 * side);

        // (text, style, distance from the previous baseline), centred as a block.
        let mut lines: Vec<(String, Style, f32)> = Vec::new();
        let (name, size) = fit(&school.name, Face::Bold, 18.0, 11.0, band.1);
        if !name.is_empty() {
            lines.push((name, Style::new(Face::Bold, size, ACCENT), size * 0.95));
        }
        let small = Style::new(Face::Regular, 8.5, INK);
        let mut address = wrap(&school.address, Face::Regular, 8.5, band.1);
        if address.len() > 2 {
            // A third line would crowd the title bar: fold the rest into the second.
            let rest = address.split_off(1).join(" ");
            address.push(rest);
        }
        lines.extend(address.into_iter().map(|line| (line, small, 11.5)));
        if !school.motto.trim().is_empty() {
            let motto = format!("“{}”", school.motto.trim());
            lines.push((motto, Style::new(Face::Italic, 8.5, MUTED), 11.5));
        }
        let text_h = lines.iter().map(|(_, _, advance)| advance).sum::<f32>() + 4.0;
        // Beside a logo or photo the text block is centred on them vertically.
        let mut baseline = TOP + ((block_h - text_h) / 2.0).max(0.0);
        for (text, style, advance) in &lines {
            baseline += advance;
            self.page
                .text_box(text, band, baseline, Align::Center, *style);
        }
        block_h = block_h.max(text_h);
        self.y = TOP + block_h + 6.0;

        // Title bar: the report's title on the left, the exam session on the right.
        let bar_h = 18.0;
        let baseline = self.y + 12.4;
        self.page
            .fill_rect((LEFT, self.y, CONTENT_W, bar_h), ACCENT);
        let exam = pdf_text(period.exam_session.trim());
        let exam_w = measure(&exam, Face::Regular, 8.5).min(CONTENT_W * 0.4);
        if exam_w > 0.0 {
            self.page.text_box(
                &exam,
                (RIGHT - 8.0 - exam_w, exam_w),
                baseline,
                Align::Right,
                Style::new(Face::Regular, 8.5, WHITE),
            );
        }
        let title = ["REPORT CARD —", period.term.trim(), period.session.trim()]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        self.page.text_box(
            &title,
            (LEFT + 8.0, CONTENT_W - 16.0 - exam_w - 12.0),
            baseline,
            Align::Left,
            Style::new(Face::Bold, 11.0, WHITE),
        );
        self.y += bar_h;
        self.gap();
    }

    // -- 2. Pupil block ----------------------------------------------------------------

    fn pupil_block(&mut self) {
        const ROW: f32 = 12.5;
        const NAME_ROW: f32 = 20.0;
        let card = self.card;
        let pupil = &card.pupil;
        let period = &card.period;
        let date = |d: chrono::NaiveDate| d.format("%-d %b %Y").to_string();

        let left: Vec<(&str, String)> = vec![
            ("Admission No.:", pupil.admission_no.clone()),
            ("Class:", pupil.class_name.clone()),
            ("Sex:", pupil.sex.clone()),
            (
                "Age:",
                pupil
                    .age
                    .filter(|a| *a > 0)
                    .map_or_else(|| "–".to_owned(), |a| format!("{a} years")),
            ),
            (
                "No. in class:",
                if pupil.class_size > 0 {
                    pupil.class_size.to_string()
                } else {
                    "–".to_owned()
                },
            ),
        ];
        let mut right: Vec<(&str, String)> = vec![
            ("Term begins:", date(period.term_starts)),
            ("Term ends:", date(period.term_ends)),
            (
                "Next term begins:",
                period
                    .next_term_begins
                    .map_or_else(|| "To be announced".to_owned(), date),
            ),
        ];
        match &card.attendance {
            Some(a) => right.extend([
                ("Times school opened:", a.times_opened.to_string()),
                ("Times present:", a.present.to_string()),
                ("Times absent:", a.absent.to_string()),
            ]),
            None => right.push(("Attendance:", "not recorded".to_owned())),
        }

        let rows = left.len().max(right.len());
        let height = NAME_ROW + ROW * rows as f32 + 6.0;
        self.ensure(height);
        let top = self.y;
        let label = Style::new(Face::Bold, 8.0, MUTED);
        let value = Style::new(Face::Regular, 8.5, INK);

        self.page.fill_rect((LEFT, top, CONTENT_W, NAME_ROW), SHADE);
        let name_label_w = measure("Name:", Face::Bold, 8.0) + 8.0;
        self.page.text("Name:", LEFT + 6.0, top + 13.5, label);
        self.page.text_box(
            &pupil.full_name,
            (LEFT + 6.0 + name_label_w, CONTENT_W - 12.0 - name_label_w),
            top + 14.0,
            Align::Left,
            Style::new(Face::Bold, 11.5, INK),
        );

        let col_w = CONTENT_W / 2.0;
        for (c, items) in [left, right].iter().enumerate() {
            let x = LEFT + 6.0 + col_w * c as f32;
            let label_w = items
                .iter()
                .map(|(l, _)| measure(l, Face::Bold, 8.0))
                .fold(0.0, f32::max)
                + 6.0;
            for (r, (l, v)) in items.iter().enumerate() {
                let baseline = top + NAME_ROW + ROW * r as f32 + 10.5;
                self.page.text(l, x, baseline, label);
                self.page.text_box(
                    v,
                    (x + label_w, col_w - label_w - 12.0),
                    baseline,
                    Align::Left,
                    value,
                );
            }
        }
        self.page.vline(
            LEFT + col_w,
            top + NAME_ROW + 3.0,
            top + height - 3.0,
            0.4,
            RULE,
        );
        self.page.hline(LEFT, RIGHT, top + NAME_ROW, 0.4, RULE);
        self.page
            .stroke_rect((LEFT, top, CONTENT_W, height), 0.7, RULE);
        self.y = top + height;
        self.gap();
    }

    // -- 3. Subjects table -------------------------------------------------------------

    fn subjects(&mut self) {
        if self.card.subjects.is_empty() {
            self.ensure(14.0);
            self.page.text(
                "No subject results have been recorded for this term.",
                LEFT,
                self.y + 9.0,
                Style::new(Face::Italic, 9.0, MUTED),
            );
            self.y += 14.0;
            self.gap();
            return;
        }
        let table = subject_table(self.card, self.density.row_h);
        self.draw_table(&table);
        self.gap();
    }

    /// Draws `table` at the cursor, breaking between rows and repeating the header on
    /// the next page. Keeps the header with at least a few rows.
    fn draw_table(&mut self, table: &Table) {
        let keep = table.head_h + table.row_h * table.rows.len().min(3) as f32;
        self.ensure(keep);
        let mut segment_top = self.y;
        self.table_head(table);
        for row in &table.rows {
            if self.y + table.row_h > BOTTOM {
                self.table_rules(table, segment_top);
                self.break_page();
                segment_top = self.y;
                self.table_head(table);
            }
            self.table_row(table, row);
        }
        self.table_rules(table, segment_top);
    }

    fn table_head(&mut self, table: &Table) {
        let top = self.y;
        self.page
            .fill_rect((table.x, top, table.width(), table.head_h), SHADE);
        let line_h = table.head_font + 1.5;
        let mut x = table.x;
        for column in &table.columns {
            let lines = column.head.len() as f32;
            let first = top + (table.head_h - lines * line_h) / 2.0 + table.head_font * 0.85;
            let align = if column.align == Align::Left {
                Align::Left
            } else {
                Align::Center
            };
            for (i, text) in column.head.iter().enumerate() {
                self.page.text_box(
                    text,
                    (x + PAD, column.width - 2.0 * PAD),
                    first + line_h * i as f32,
                    align,
                    Style::new(Face::Bold, table.head_font, INK),
                );
            }
            x += column.width;
        }
        self.y += table.head_h;
        self.page
            .hline(table.x, table.x + table.width(), self.y, 0.7, RULE);
    }

    fn table_row(&mut self, table: &Table, row: &[Cell]) {
        let baseline = self.y + table.row_h / 2.0 + table.font * 0.36;
        let mut x = table.x;
        for (column, cell) in table.columns.iter().zip(row) {
            self.page.text_box(
                &cell.text,
                (x + PAD, column.width - 2.0 * PAD),
                baseline,
                column.align,
                Style::new(cell.face, table.font, INK),
            );
            x += column.width;
        }
        self.y += table.row_h;
        self.page
            .hline(table.x, table.x + table.width(), self.y, 0.35, RULE);
    }

    /// Column rules and the outer frame of the part of `table` on this page.
    fn table_rules(&mut self, table: &Table, top: f32) {
        let mut x = table.x;
        for column in table
            .columns
            .iter()
            .take(table.columns.len().saturating_sub(1))
        {
            x += column.width;
            self.page.vline(x, top, self.y, 0.35, RULE);
        }
        self.page
            .stroke_rect((table.x, top, table.width(), self.y - top), 0.7, RULE);
    }

    // -- 4. Summary --------------------------------------------------------------------

    fn summary(&mut self) {
        const TITLE_H: f32 = 14.0;
        const CELL_H: f32 = 25.0;
        const COLS: usize = 3;
        let card = self.card;
        let overall = &card.overall;
        let show_position = card.settings.show_position;

        let mut items: Vec<(&str, String)> = vec![
            ("Total", score_text(overall.total)),
            ("Average", score_text(overall.average)),
        ];
        if show_position {
            items.push((
                "Position",
                position_text(overall.position, overall.out_of, card.pupil.class_size),
            ));
        }
        let grade = match (overall.grade.trim(), overall.remark.trim()) {
            ("", "") => "–".to_owned(),
            (g, "") => g.to_owned(),
            ("", r) => r.to_owned(),
            (g, r) => format!("{g} ({r})"),
        };
        items.push(("Final grade", grade));
        items.push(("Class average", score_text(overall.class_average)));
        items.push(("Subjects taken", overall.subjects_taken.max(0).to_string()));

        let grid_rows = items.len().div_ceil(COLS);
        let cumulative_h = if card.cumulative.is_some() {
            CELL_H
        } else {
            0.0
        };
        let height = TITLE_H + CELL_H * grid_rows as f32 + cumulative_h;
        self.ensure(height);
        let top = self.y;
        self.page.fill_rect((LEFT, top, CONTENT_W, TITLE_H), SHADE);
        self.page.text(
            "SUMMARY OF PERFORMANCE",
            LEFT + 6.0,
            top + 10.0,
            Style::new(Face::Bold, 8.0, INK),
        );

        let cell_w = CONTENT_W / COLS as f32;
        let label = Style::new(Face::Regular, 7.5, MUTED);
        let value = Style::new(Face::Bold, 10.5, INK);
        for (i, (l, v)) in items.iter().enumerate() {
            let x = LEFT + cell_w * (i % COLS) as f32;
            let y = top + TITLE_H + CELL_H * (i / COLS) as f32;
            self.page.text(l, x + 6.0, y + 9.5, label);
            self.page
                .text_box(v, (x + 6.0, cell_w - 12.0), y + 21.0, Align::Left, value);
        }
        for c in 1..COLS {
            let x = LEFT + cell_w * c as f32;
            let y1 = top + TITLE_H;
            self.page
                .vline(x, y1, y1 + CELL_H * grid_rows as f32, 0.35, RULE);
        }
        self.page.hline(LEFT, RIGHT, top + TITLE_H, 0.5, RULE);

        if let Some(cumulative) = &card.cumulative {
            let y = top + TITLE_H + CELL_H * grid_rows as f32;
            self.page.hline(LEFT, RIGHT, y, 0.35, RULE);
            let method = cumulative.method.trim();
            let caption = if method.is_empty() {
                "Cumulative result".to_owned()
            } else {
                format!("Cumulative result ({method})")
            };
            self.page.text_box(
                &caption,
                (LEFT + 6.0, CONTENT_W - 12.0),
                y + 9.5,
                Align::Left,
                label,
            );
            let mut parts = vec![format!("Average {}", score_text(cumulative.average))];
            if !cumulative.grade.trim().is_empty() {
                parts.push(format!("Grade {}", cumulative.grade.trim()));
            }
            if show_position {
                parts.push(format!(
                    "Position {}",
                    position_text(cumulative.position, overall.out_of, card.pupil.class_size)
                ));
            }
            self.page.text_box(
                &parts.join("     "),
                (LEFT + 6.0, CONTENT_W - 12.0),
                y + 21.0,
                Align::Left,
                Style::new(Face::Bold, 9.5, INK),
            );
        }
        self.page
            .stroke_rect((LEFT, top, CONTENT_W, height), 0.7, RULE);
        self.y = top + height;
        self.gap();
    }

    // -- 5. Ratings --------------------------------------------------------------------

    fn ratings(&mut self) {
        const GUTTER: f32 = 14.0;
        const KEY_H: f32 = 10.0;
        let groups: Vec<&RatingGroup> = self
            .card
            .ratings
            .iter()
            .filter(|g| !g.items.is_empty())
            .collect();
        if groups.is_empty() {
            return;
        }
        let table_w = (CONTENT_W - GUTTER) / 2.0;
        let pairs = groups.chunks(2).count();
        for (p, pair) in groups.chunks(2).enumerate() {
            let tables: Vec<Table> = pair
                .iter()
                .enumerate()
                .map(|(i, group)| {
                    let x = LEFT + (table_w + GUTTER) * i as f32;
                    rating_table(group, x, table_w, self.density.rating_h)
                })
                .collect();
            let tallest = tables.iter().map(Table::height).fold(0.0, f32::max);
            // The last pair takes the key line along to its page.
            let key_h = if p + 1 == pairs { KEY_H } else { 0.0 };
            self.ensure(tallest + 4.0 + key_h);
            if self.y + tallest <= BOTTOM {
                let top = self.y;
                for table in &tables {
                    self.y = top;
                    self.draw_table(table);
                }
                self.y = top + tallest;
            } else {
                // Longer than a page (unlikely): one after the other, breaking rows.
                for mut table in tables {
                    table.x = LEFT;
                    self.draw_table(&table);
                    self.y += 4.0;
                }
            }
            self.y += 4.0;
        }
        self.ensure(KEY_H);
        self.page.text(
            "Key: 5 Excellent, 4 Very good, 3 Good, 2 Fair, 1 Poor",
            LEFT,
            self.y + 7.0,
            Style::new(Face::Italic, 7.5, MUTED),
        );
        self.y += KEY_H;
        self.gap();
    }

    // -- 6. Comments and signatures ----------------------------------------------------

    fn comments(&mut self) {
        for comment in &self.card.comments {
            self.comment(comment);
        }
    }

    fn comment(&mut self, comment: &CommentLine) {
        let line_h = self.density.line_h;
        let text_style = Style::new(Face::Regular, 9.0, INK);
        let lines = wrap(&comment.text, Face::Regular, 9.0, CONTENT_W);
        let by = comment
            .by
            .as_deref()
            .map(str::trim)
            .filter(|b| !b.is_empty());
        // Title plus the first two lines (or the writing line) stay together.
        self.ensure(12.0 + line_h * 2.0);
        self.page.text_box(
            &comment.title,
            (LEFT, CONTENT_W),
            self.y + 8.5,
            Align::Left,
            Style::new(Face::Bold, 8.5, ACCENT),
        );
        self.y += 12.0;
        if lines.is_empty() {
            // Nothing typed in: leave a ruled line to write on by hand.
            self.page
                .hline(LEFT, RIGHT, self.y + line_h + 2.0, 0.5, RULE);
            self.y += line_h + 6.0;
        }
        for line in &lines {
            self.ensure(line_h);
            self.page.text(line, LEFT, self.y + 8.5, text_style);
            self.y += line_h;
        }
        if let Some(by) = by {
            self.ensure(line_h);
            self.page.text_box(
                &format!("— {by}"),
                (LEFT, CONTENT_W),
                self.y + 8.0,
                Align::Right,
                Style::new(Face::Italic, 8.0, MUTED),
            );
            self.y += line_h;
        }
        self.y += 5.0;
    }

    fn signatures(&mut self) {
        const HEIGHT: f32 = 26.0;
        self.ensure(HEIGHT);
        let baseline = self.y + 20.0;
        let style = Style::new(Face::Regular, 8.5, INK);
        let segments = [
            ("Class teacher's signature", 0.38),
            ("Head teacher's signature", 0.38),
            ("Date", 0.24),
        ];
        let mut x = LEFT;
        for (label, share) in segments {
            let width = CONTENT_W * share;
            self.page.text(label, x, baseline, style);
            let line_start = x + measure(label, Face::Regular, 8.5) + 4.0;
            let line_end = x + width - 12.0;
            if line_end > line_start {
                self.page
                    .hline(line_start, line_end, baseline + 1.5, 0.6, INK);
            }
            x += width;
        }
        self.y += HEIGHT;
        self.gap();
    }

    // -- 7. Grading key ----------------------------------------------------------------

    /// A compact key of the grade bands, pushed to the bottom of the last page.
    fn grading_key(&mut self) {
        const LABEL_W: f32 = 40.0;
        const CELL_H: f32 = 23.0;
        let key: &[GradeKey] = &self.card.grading_key;
        if key.is_empty() {
            return;
        }
        let rows = key.len().div_ceil(10);
        let per_row = key.len().div_ceil(rows);
        let cell_w = (CONTENT_W - LABEL_W) / per_row as f32;
        let height = CELL_H * rows as f32;
        self.ensure(height);
        let top = (BOTTOM - height).max(self.y);

        let label = Style::new(Face::Bold, 7.0, MUTED);
        self.page.fill_rect((LEFT, top, LABEL_W, height), SHADE);
        self.page
            .stroke_rect((LEFT, top, LABEL_W, height), 0.4, RULE);
        let middle = top + height / 2.0;
        for (text, baseline) in [("GRADING", middle - 1.0), ("KEY", middle + 7.0)] {
            self.page
                .text_box(text, (LEFT, LABEL_W), baseline, Align::Center, label);
        }
        for (i, band) in key.iter().enumerate() {
            let x = LEFT + LABEL_W + cell_w * (i % per_row) as f32;
            let y = top + CELL_H * (i / per_row) as f32;
            self.page.fill_rect((x, y, cell_w, 11.0), SHADE);
            self.page.stroke_rect((x, y, cell_w, CELL_H), 0.4, RULE);
            let range = format!(
                "{}–{}",
                score_text(band.min_score),
                score_text(band.max_score)
            );
            self.grade_pair(&band.grade, &range, (x + PAD, cell_w - 2.0 * PAD), y + 8.2);
            self.page.text_box(
                &band.remark,
                (x + PAD, cell_w - 2.0 * PAD),
                y + 19.5,
                Align::Center,
                Style::new(Face::Italic, 7.0, INK),
            );
        }
        self.y = top + height;
    }

    /// "A1  75–100": grade in bold and range in regular, centred together and shrunk
    /// together when the cell is narrow.
    fn grade_pair(&mut self, grade: &str, range: &str, (x, width): (f32, f32), baseline: f32) {
        let (grade, range) = (pdf_text(grade.trim()), pdf_text(range));
        let mut size: f32 = 8.0;
        let natural = measure(&grade, Face::Bold, size)
            + measure("  ", Face::Regular, size)
            + measure(&range, Face::Regular, size);
        if natural > width {
            size = (size * width / natural * 10.0).floor() / 10.0;
        }
        if size < MIN_FONT {
            let both = format!("{grade} {range}");
            self.page.text_box(
                &both,
                (x, width),
                baseline,
                Align::Center,
                Style::new(Face::Bold, 8.0, INK),
            );
            return;
        }
        let grade_w = measure(&grade, Face::Bold, size) + measure("  ", Face::Regular, size);
        let used = grade_w + measure(&range, Face::Regular, size);
        let left = x + (width - used) / 2.0;
        self.page
            .text(&grade, left, baseline, Style::new(Face::Bold, size, INK));
        self.page.text(
            &range,
            left + grade_w,
            baseline,
            Style::new(Face::Regular, size, INK),
        );
    }
}

// ---------------------------------------------------------------------------------------
// Table builders
// ---------------------------------------------------------------------------------------

/// One column before widths are settled.
struct ColumnSpec {
    head: Vec<String>,
    align: Align,
    cells: Vec<Cell>,
}

impl ColumnSpec {
    fn numeric(head: &[&str], cells: Vec<Cell>) -> Self {
        Self {
            head: head.iter().map(|h| (*h).to_owned()).collect(),
            align: Align::Center,
            cells,
        }
    }

    /// Widest header line or cell, padded.
    fn natural_width(&self, font: f32, head_font: f32) -> f32 {
        let head = self
            .head
            .iter()
            .map(|h| measure(&pdf_text(h), Face::Bold, head_font));
        let cells = self
            .cells
            .iter()
            .map(|c| measure(&pdf_text(&c.text), c.face, font));
        head.chain(cells).fold(0.0, f32::max) + 2.0 * PAD
    }
}

const MIN_SUBJECT_W: f32 = 92.0;
const MIN_NUMBER_W: f32 = 21.0;
const MAX_NUMBER_W: f32 = 46.0;

/// Subject | components… | Total | [term totals, Cum.] | Grade | [Pos.] | [stats] | Remark,
/// with the subject column taking whatever the others leave of the content width.
fn subject_table(card: &ReportCard, row_h: f32) -> Table {
    let font = 8.0;
    let head_font = 7.0;
    let subjects = &card.subjects;
    let column = |f: &dyn Fn(&SubjectLine) -> Cell| subjects.iter().map(f).collect::<Vec<_>>();
    let mut specs: Vec<ColumnSpec> = Vec::new();

    for (i, component) in card.components.iter().enumerate() {
        let max = score_text(component.max_score);
        let head = [component.name.trim().to_owned(), format!("({max})")];
        let head: Vec<&str> = head.iter().map(String::as_str).collect();
        specs.push(ColumnSpec::numeric(
            &head,
            column(&|s| {
                Cell::new(
                    optional_score(s.scores.get(i).copied().flatten()),
                    Face::Regular,
                )
            }),
        ));
    }
    let max_total: f64 = card
        .components
        .iter()
        .map(|c| c.max_score)
        .filter(|m| m.is_finite() && *m > 0.0)
        .sum();
    let total_max = format!("({})", score_text(max_total));
    let total_head: Vec<&str> = if max_total > 0.0 {
        vec!["Total", &total_max]
    } else {
        vec!["Total"]
    };
    specs.push(ColumnSpec::numeric(
        &total_head,
        column(&|s| Cell::new(score_text(s.total), Face::Bold)),
    ));
    if card.cumulative.is_some() {
        for (term, label) in ["1st", "2nd", "3rd"].into_iter().enumerate() {
            specs.push(ColumnSpec::numeric(
                &[label, "term"],
                column(&|s| {
                    let value = s.term_totals.and_then(|t| t.get(term).copied().flatten());
                    Cell::new(optional_score(value), Face::Regular)
                }),
            ));
        }
        specs.push(ColumnSpec::numeric(
            &["Cum."],
            column(&|s| Cell::new(optional_score(s.cumulative), Face::Bold)),
        ));
    }
    specs.push(ColumnSpec::numeric(
        &["Grade"],
        column(&|s| Cell::new(s.grade.clone(), Face::Bold)),
    ));
    if card.settings.show_position {
        specs.push(ColumnSpec::numeric(
            &["Pos."],
            column(&|s| {
                let text = s
                    .position
                    .filter(|p| *p > 0)
                    .map_or_else(|| "–".to_owned(), ordinal);
                Cell::new(text, Face::Regular)
            }),
        ));
    }
    if card.settings.show_class_stats {
        specs.push(ColumnSpec::numeric(
            &["Class", "avg"],
            column(&|s| Cell::new(score_text(s.class_average), Face::Regular)),
        ));
        specs.push(ColumnSpec::numeric(
            &["Highest"],
            column(&|s| Cell::new(score_text(s.highest), Face::Regular)),
        ));
        specs.push(ColumnSpec::numeric(
            &["Lowest"],
            column(&|s| Cell::new(score_text(s.lowest), Face::Regular)),
        ));
    }
    let remark = ColumnSpec {
        head: vec!["Remark".to_owned()],
        align: Align::Left,
        cells: column(&|s| {
            let text = match s.teacher_remark.as_deref().map(str::trim) {
                Some(t) if !t.is_empty() && s.remark.trim().is_empty() => t.to_owned(),
                Some(t) if !t.is_empty() => format!("{}; {t}", s.remark.trim()),
                _ => s.remark.trim().to_owned(),
            };
            Cell::new(text, Face::Regular)
        }),
    };

    let mut widths: Vec<f32> = specs
        .iter()
        .map(|s| {
            s.natural_width(font, head_font)
                .clamp(MIN_NUMBER_W, MAX_NUMBER_W)
        })
        .collect();
    // A teacher's remark may be long; it shrinks into the cell rather than starve the subject.
    widths.push(remark.natural_width(font, head_font).clamp(52.0, 84.0));
    specs.push(remark);

    // Many components on a wide card: squeeze the fixed columns, never the subject.
    let fixed: f32 = widths.iter().sum();
    let room = CONTENT_W - MIN_SUBJECT_W;
    if fixed > room {
        let factor = room / fixed;
        for w in &mut widths {
            *w *= factor;
        }
    }
    let subject_w = CONTENT_W - widths.iter().sum::<f32>();

    let mut columns = vec![Column {
        head: vec!["Subject".to_owned()],
        width: subject_w,
        align: Align::Left,
    }];
    columns.extend(specs.iter().zip(&widths).map(|(spec, width)| Column {
        head: spec.head.clone(),
        width: *width,
        align: spec.align,
    }));
    let head_lines = columns.iter().map(|c| c.head.len()).max().unwrap_or(1);

    let rows = subjects
        .iter()
        .enumerate()
        .map(|(r, subject)| {
            let mut row = vec![Cell::new(subject.subject.clone(), Face::Regular)];
            row.extend(specs.iter().map(|spec| {
                spec.cells
                    .get(r)
                    .cloned()
                    .unwrap_or_else(|| Cell::new("", Face::Regular))
            }));
            row
        })
        .collect();

    Table {
        x: LEFT,
        columns,
        rows,
        font,
        head_font,
        row_h,
        head_h: head_lines as f32 * (head_font + 1.5) + 7.0,
    }
}

/// Trait | 5 | 4 | 3 | 2 | 1 with an "X" under the rating given.
fn rating_table(group: &RatingGroup, x: f32, width: f32, row_h: f32) -> Table {
    const MARK_W: f32 = 17.0;
    let mut columns = vec![Column {
        head: vec![group.title.clone()],
        width: width - MARK_W * 5.0,
        align: Align::Left,
    }];
    columns.extend((1..=5).rev().map(|n| Column {
        head: vec![n.to_string()],
        width: MARK_W,
        align: Align::Center,
    }));
    let rows = group
        .items
        .iter()
        .map(|(name, rating)| {
            let mut row = vec![Cell::new(name.clone(), Face::Regular)];
            row.extend((1..=5).rev().map(|n| {
                let mark = if *rating == Some(n) { "X" } else { "" };
                Cell::new(mark, Face::Bold)
            }));
            row
        })
        .collect();
    Table {
        x,
        columns,
        rows,
        font: 7.5,
        head_font: 7.5,
        row_h,
        head_h: row_h + 2.0,
    }
}
