//! A4 PDF report cards, set in DejaVu Sans Condensed embedded in the document.
//!
//! The standard-14 PDF fonts stop at WinAnsi, which has no Yoruba "ẹ ọ ṣ", Igbo "ị ụ ṅ",
//! Hausa "ɓ ɗ ƙ ƴ" or "₦", so the cards carry their own font (static/fonts/, Bitstream
//! Vera licence). The condensed cut was chosen because its widths are within a few per
//! cent of Helvetica's, which the layout was drawn for. Each document embeds only the
//! glyphs it shows (see [`embed_fonts`]), so a card stays a few tens of kilobytes.
//!
//! Coordinates inside this module are points measured from the *top* of the page; the
//! `Painter` flips them to PDF's bottom-up space when it emits operations.

use std::collections::BTreeSet;
use std::mem;
use std::sync::OnceLock;

use printpdf::{
    BuiltinFont, Color, FontId, Line, LinePoint, Mm, Op, PaintMode, ParsedFont, PdfDocument,
    PdfFont, PdfFontHandle, PdfPage, PdfSaveOptions, Point, Pt, RawImage, Rect, Rgb, TextItem,
    WindingOrder, XObjectId, XObjectTransform,
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
    let title = match cards {
        [only] => format!("Report card — {}", only.pupil.full_name.trim()),
        _ => document_title(first),
    };
    let mut doc = PdfDocument::new(&title);
    doc.metadata.info.creator = "Schoolyard".to_owned();
    doc.metadata.info.producer = "Schoolyard".to_owned();
    // printpdf dates documents 1970 unless told.
    if let Ok(now) = printpdf::OffsetDateTime::from_unix_timestamp(chrono::Utc::now().timestamp()) {
        doc.metadata.info.creation_date = now;
        doc.metadata.info.modification_date = now;
        doc.metadata.info.metadata_date = now;
    }

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
    embed_fonts(&mut doc, &mut pages);

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
// Fonts: the embedded faces, metrics, text clean-up, fitting and wrapping
// ---------------------------------------------------------------------------------------

/// The faces the cards use: DejaVu Sans Condensed regular, bold and oblique.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Face {
    Regular,
    Bold,
    Italic,
}

static REGULAR_TTF: &[u8] = include_bytes!("../../static/fonts/DejaVuSansCondensed.ttf");
static BOLD_TTF: &[u8] = include_bytes!("../../static/fonts/DejaVuSansCondensed-Bold.ttf");
static ITALIC_TTF: &[u8] = include_bytes!("../../static/fonts/DejaVuSansCondensed-Oblique.ttf");

/// Each face is parsed once per process, on first use.
static FACES: [OnceLock<Option<FaceFont>>; 3] = [const { OnceLock::new() }; 3];

impl Face {
    const ALL: [Face; 3] = [Face::Regular, Face::Bold, Face::Italic];

    fn index(self) -> usize {
        match self {
            Face::Regular => 0,
            Face::Bold => 1,
            Face::Italic => 2,
        }
    }

    fn program(self) -> &'static [u8] {
        match self {
            Face::Regular => REGULAR_TTF,
            Face::Bold => BOLD_TTF,
            Face::Italic => ITALIC_TTF,
        }
    }

    /// PostScript name, which the embedded subset is called by (after its tag).
    fn postscript_name(self) -> &'static str {
        match self {
            Face::Regular => "DejaVuSansCondensed",
            Face::Bold => "DejaVuSansCondensed-Bold",
            Face::Italic => "DejaVuSansCondensed-Oblique",
        }
    }

    /// The id page operations name the face by while pages are laid out; [`embed_fonts`]
    /// then binds it to the document's subset of the face.
    fn layout_id(self) -> FontId {
        FontId(format!("schoolyard-face-{}", self.index()))
    }

    fn from_layout_id(id: &FontId) -> Option<Face> {
        Face::ALL.into_iter().find(|face| face.layout_id() == *id)
    }

    /// Only used should a bundled font fail to parse; text is then kept to ASCII.
    fn builtin(self) -> BuiltinFont {
        match self {
            Face::Regular => BuiltinFont::Helvetica,
            Face::Bold => BuiltinFont::HelveticaBold,
            Face::Italic => BuiltinFont::HelveticaOblique,
        }
    }

    fn font(self) -> Option<&'static FaceFont> {
        FACES
            .get(self.index())?
            .get_or_init(|| FaceFont::parse(self.program()))
            .as_ref()
    }
}

/// One parsed face: printpdf's view (cmap and advance widths) and the raw tables the
/// subsetter copies glyphs out of.
#[derive(Debug)]
struct FaceFont {
    parsed: ParsedFont,
    sfnt: Sfnt<'static>,
    glyphs: Glyphs<'static>,
}

impl FaceFont {
    fn parse(program: &'static [u8]) -> Option<Self> {
        let sfnt = Sfnt::parse(program)?;
        let glyphs = Glyphs::new(&sfnt)?;
        let parsed = ParsedFont::from_bytes(program, 0, &mut Vec::new())?;
        Some(Self {
            parsed,
            sfnt,
            glyphs,
        })
    }

    /// The glyph for `c`, if the face has one (glyph 0 is the "missing" box).
    fn glyph(&self, c: char) -> Option<u16> {
        self.parsed
            .lookup_glyph_index(u32::from(c))
            .filter(|gid| *gid != 0)
    }

    /// Advance of `gid` in 1/1000 em, truncated exactly as printpdf truncates the `/W`
    /// widths it writes, so that measured text lines up with what viewers draw.
    fn advance(&self, gid: u16) -> u32 {
        let units_per_em = f32::from(self.parsed.units_per_em.max(1));
        let width = f32::from(self.parsed.get_glyph_width(gid).unwrap_or(0));
        (width * 1000.0 / units_per_em) as u32
    }

    /// A font holding just the glyphs `chars` need, parsed back for printpdf; `None` if
    /// the face cannot be cut (printpdf then embeds it whole).
    fn subset(&self, chars: &BTreeSet<char>) -> Option<ParsedFont> {
        let mapped: Vec<(char, u16)> = chars
            .iter()
            .filter_map(|c| Some((*c, self.glyph(*c)?)))
            .collect();
        let bytes = cut_subset(&self.sfnt, &self.glyphs, &mapped)?;
        ParsedFont::from_bytes(&bytes, 0, &mut Vec::new())
    }
}

/// Width assumed for a character no face can show (only reachable through [`measure`] on
/// text that did not pass through [`pdf_text`], or if the bundled fonts failed to load).
const DEFAULT_GLYPH_WIDTH: u32 = 556;

fn glyph_width(c: char, face: Face) -> u32 {
    face.font()
        .and_then(|font| Some(font.advance(font.glyph(c)?)))
        .unwrap_or(DEFAULT_GLYPH_WIDTH)
}

/// Width of text that is already clean (see [`pdf_text`]).
pub fn measure(text: &str, face: Face, size: f32) -> f32 {
    let units: u32 = text.chars().map(|c| glyph_width(c, face)).sum();
    units as f32 * size / 1000.0
}

/// Width in points of `text` set in `face` at `size` pt, from the embedded font's own
/// advance widths (no kerning: the renderer emits none). Characters the font cannot show
/// are measured as the substitute the renderer prints for them.
pub fn text_width(text: &str, face: Face, size: f32) -> f32 {
    measure(&pdf_text(text), face, size)
}

/// Whether every face can show `c` (so a name looks the same in bold and in italics).
fn printable(c: char) -> bool {
    if (' '..='~').contains(&c) {
        return true;
    }
    if Face::ALL.iter().any(|face| face.font().is_none()) {
        return false;
    }
    // The subset's cmap is a format 4 table, which stops at U+FFFF.
    c <= '\u{FFFF}'
        && Face::ALL
            .iter()
            .all(|face| face.font().is_some_and(|font| font.glyph(c).is_some()))
}

fn is_combining_mark(c: char) -> bool {
    ('\u{300}'..='\u{36F}').contains(&c)
}

/// Makes `text` safe to set: letters stay as they are (Yoruba "ẹ ọ ṣ", Igbo "ị ụ ṅ",
/// Hausa "ɓ ɗ ƙ ƴ", "₦"), a letter followed by a combining accent becomes the precomposed
/// letter where Unicode has one ("e\u{301}" → "é"; "ọ\u{301}" stays two characters), odd
/// spaces become spaces, invisible and control characters vanish, and anything the font
/// cannot show becomes `?`.
pub fn pdf_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\u{AD}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' => {}
            '\u{2060}'..='\u{2064}' | '\u{FEFF}' => {}
            c if c.is_whitespace() => out.push(' '),
            c if c.is_control() => {}
            c if is_combining_mark(c) => compose_into(&mut out, c),
            c if printable(c) => out.push(c),
            _ => out.push('?'),
        }
    }
    out
}

/// Precomposed letters for a letter plus one combining mark: (mark, bases, composed).
/// Generated from the Unicode decompositions of U+00C0..=U+024F and U+1E00..=U+1EFF,
/// restricted to letters all three faces have.
#[rustfmt::skip]
const COMPOSE: [(char, &str, &str); 14] = [
    ('\u{300}', "AEINOUWYaeinouwyÂÊÔÜâêôüĂăĒēŌōƠơƯư", "ÀÈÌǸÒÙẀỲàèìǹòùẁỳẦỀỒǛầềồǜẰằḔḕṐṑỜờỪừ"),
    ('\u{301}', "ACEGIKLMNOPRSUWYZacegiklmnoprsuwyzÂÅÆÇÊÏÔÕØÜâåæçêïôõøüĂăĒēŌōŨũƠơƯư", "ÁĆÉǴÍḰĹḾŃÓṔŔŚÚẂÝŹáćéǵíḱĺḿńóṕŕśúẃýźẤǺǼḈẾḮỐṌǾǗấǻǽḉếḯốṍǿǘẮắḖḗṒṓṸṹỚớỨứ"),
    ('\u{302}', "ACEGHIJOSUWYZaceghijosuwyzẠạẸẹỌọ", "ÂĈÊĜĤÎĴÔŜÛŴŶẐâĉêĝĥîĵôŝûŵŷẑẬậỆệỘộ"),
    ('\u{303}', "AEINOUVYaeinouvyÂÊÔâêôĂăƠơƯư", "ÃẼĨÑÕŨṼỸãẽĩñõũṽỹẪỄỖẫễỗẴẵỠỡỮữ"),
    ('\u{304}', "AEGIOUYaegiouyÄÆÕÖÜäæõöüǪǫȦȧȮȯḶḷṚṛ", "ĀĒḠĪŌŪȲāēḡīōūȳǞǢȬȪǕǟǣȭȫǖǬǭǠǡȰȱḸḹṜṝ"),
    ('\u{306}', "AEGIOUaegiouȨȩẠạ", "ĂĔĞĬŎŬăĕğĭŏŭḜḝẶặ"),
    ('\u{307}', "ABCDEFGHIMNOPRSTWXYZabcdefghmnoprstwxyzŚśŠšſṢṣ", "ȦḂĊḊĖḞĠḢİṀṄȮṖṘṠṪẆẊẎŻȧḃċḋėḟġḣṁṅȯṗṙṡṫẇẋẏżṤṥṦṧẛṨṩ"),
    ('\u{308}', "AEHIOUWXYaehiotuwxyÕõŪū", "ÄËḦÏÖÜẄẌŸäëḧïöẗüẅẍÿṎṏṺṻ"),
    ('\u{30A}', "AUauwy", "ÅŮåůẘẙ"),
    ('\u{30B}', "OUou", "ŐŰőű"),
    ('\u{30C}', "ACDEGHIKLNORSTUZacdeghijklnorstuzÜüƷʒ", "ǍČĎĚǦȞǏǨĽŇǑŘŠŤǓŽǎčďěǧȟǐǰǩľňǒřšťǔžǙǚǮǯ"),
    ('\u{323}', "ABDEHIKLMNORSTUVWYZabdehiklmnorstuvwyzƠơƯư", "ẠḄḌẸḤỊḲḶṂṆỌṚṢṬỤṾẈỴẒạḅḍẹḥịḳḷṃṇọṛṣṭụṿẉỵẓỢợỰự"),
    ('\u{327}', "CDEGHKLNRSTcdeghklnrst", "ÇḐȨĢḨĶĻŅŖŞŢçḑȩģḩķļņŗşţ"),
    ('\u{328}', "AEIOUaeiou", "ĄĘĮǪŲąęįǫų"),
];

/// More accents than this on one letter are dropped (they would stack up into the line
/// above); Yoruba needs two at most, a dot below and a tone mark.
const MAX_MARKS: usize = 3;

/// Appends a combining mark: merged into the previous letter when there is a precomposed
/// form, kept as a mark after a letter otherwise, dropped when there is nothing to sit on.
fn compose_into(out: &mut String, mark: char) {
    let Some(base) = out.chars().last().filter(|b| !b.is_whitespace()) else {
        return;
    };
    let composed = COMPOSE
        .iter()
        .find(|(m, _, _)| *m == mark)
        .and_then(|(_, bases, composed)| {
            let i = bases.chars().position(|b| b == base)?;
            composed.chars().nth(i)
        });
    match composed {
        Some(letter) => {
            out.pop();
            out.push(letter);
        }
        None => {
            let stacked = out
                .chars()
                .rev()
                .take_while(|c| is_combining_mark(*c))
                .count();
            if stacked < MAX_MARKS && printable(mark) {
                out.push(mark);
            }
        }
    }
}

/// Shrinks `text` from `size` towards `min_size` until it fits `max_width`, then cuts it
/// with "…". Returns the cleaned text (see [`pdf_text`]) and the size to set it at.
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
// Font embedding: a subset of each face per document
// ---------------------------------------------------------------------------------------

/// Puts the faces the pages use into `doc` and binds the pages' layout font ids
/// to them.
///
/// printpdf 0.12 without its `text_layout` feature embeds an external font program whole
/// (600–700 KB a face here), so each face is first cut down to the glyphs these pages
/// show. printpdf still writes the `/W` widths and the `/ToUnicode` map (from the
/// characters shown), which keeps the text searchable and extractable.
fn embed_fonts(doc: &mut PdfDocument, pages: &mut [PdfPage]) {
    let mut used: [BTreeSet<char>; 3] = Default::default();
    for page in pages.iter() {
        let mut current: Option<Face> = None;
        for op in &page.ops {
            match op {
                Op::SetFont {
                    font: PdfFontHandle::External(id),
                    ..
                } => current = Face::from_layout_id(id),
                Op::ShowText { items } => {
                    let Some(chars) = current.and_then(|face| used.get_mut(face.index())) else {
                        continue;
                    };
                    for item in items {
                        if let TextItem::Text(text) = item {
                            chars.extend(text.chars());
                        }
                    }
                }
                _ => {}
            }
        }
    }

    let handles: Vec<(FontId, PdfFontHandle)> = Face::ALL
        .into_iter()
        .zip(&used)
        .filter(|(_, chars)| !chars.is_empty())
        .map(|(face, chars)| (face.layout_id(), font_handle(doc, face, chars)))
        .collect();
    for op in pages.iter_mut().flat_map(|page| page.ops.iter_mut()) {
        let Op::SetFont { font, .. } = op else {
            continue;
        };
        let PdfFontHandle::External(id) = font else {
            continue;
        };
        if let Some((_, handle)) = handles.iter().find(|(layout_id, _)| layout_id == id) {
            *font = handle.clone();
        }
    }
}

/// Adds `face`, cut down to `chars`, to the document.
fn font_handle(doc: &mut PdfDocument, face: Face, chars: &BTreeSet<char>) -> PdfFontHandle {
    let Some(font) = face.font() else {
        return PdfFontHandle::Builtin(face.builtin());
    };
    match font.subset(chars) {
        Some(subset) => {
            // "ABCDEF+Name" marks a subset (ISO 32000-1, 9.6.4); printpdf uses the resource
            // name as the font's /BaseFont.
            let id = FontId(format!(
                "{}+{}",
                subset_tag(face, chars),
                face.postscript_name()
            ));
            doc.resources
                .fonts
                .map
                .insert(id.clone(), PdfFont::new(subset));
            PdfFontHandle::External(id)
        }
        None => PdfFontHandle::External(doc.add_font(&font.parsed)),
    }
}

/// Six capital letters that differ between different subsets of a face.
fn subset_tag(face: Face, chars: &BTreeSet<char>) -> String {
    // FNV-1a over the face and its characters.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let bytes = face
        .postscript_name()
        .bytes()
        .chain(chars.iter().flat_map(|c| u32::from(*c).to_le_bytes()));
    for byte in bytes {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    (0..6)
        .map(|_| {
            let letter = b'A' + (hash % 26) as u8;
            hash /= 26;
            char::from(letter)
        })
        .collect()
}

fn read_u16(data: &[u8], at: usize) -> Option<u16> {
    let bytes = data.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes(bytes.try_into().ok()?))
}

fn read_u32(data: &[u8], at: usize) -> Option<u32> {
    let bytes = data.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes(bytes.try_into().ok()?))
}

fn read_offset(data: &[u8], at: usize) -> Option<usize> {
    usize::try_from(read_u32(data, at)?).ok()
}

fn write_u16(data: &mut [u8], at: usize, value: u16) -> Option<()> {
    data.get_mut(at..at.checked_add(2)?)?
        .copy_from_slice(&value.to_be_bytes());
    Some(())
}

fn write_u32(data: &mut [u8], at: usize, value: u32) -> Option<()> {
    data.get_mut(at..at.checked_add(4)?)?
        .copy_from_slice(&value.to_be_bytes());
    Some(())
}

/// The table directory of a TrueType font.
#[derive(Debug)]
struct Sfnt<'a> {
    tables: Vec<([u8; 4], &'a [u8])>,
}

impl<'a> Sfnt<'a> {
    fn parse(data: &'a [u8]) -> Option<Self> {
        // TrueType outlines only: `glyf`, not CFF.
        if read_u32(data, 0)? != 0x0001_0000 {
            return None;
        }
        let count = usize::from(read_u16(data, 4)?);
        let tables = (0..count)
            .map(|i| {
                let record = 12 + 16 * i;
                let tag = data.get(record..record + 4)?.try_into().ok()?;
                let offset = read_offset(data, record + 8)?;
                let length = read_offset(data, record + 12)?;
                Some((tag, data.get(offset..offset.checked_add(length)?)?))
            })
            .collect::<Option<Vec<_>>>()?;
        Some(Self { tables })
    }

    fn table(&self, tag: &[u8; 4]) -> Option<&'a [u8]> {
        self.tables
            .iter()
            .find(|(t, _)| t == tag)
            .map(|(_, data)| *data)
    }
}

/// Glyph outlines and advances of a face, by glyph id.
#[derive(Debug)]
struct Glyphs<'a> {
    glyf: &'a [u8],
    loca: &'a [u8],
    long_offsets: bool,
    count: u16,
    hmtx: &'a [u8],
    long_metrics: u16,
    /// Horizontal run per unit of rise of the caret: 0 upright, about 0.2 oblique.
    slant: f32,
}

impl<'a> Glyphs<'a> {
    fn new(sfnt: &Sfnt<'a>) -> Option<Self> {
        let head = sfnt.table(b"head")?;
        let hhea = sfnt.table(b"hhea")?;
        Some(Self {
            glyf: sfnt.table(b"glyf")?,
            loca: sfnt.table(b"loca")?,
            long_offsets: read_u16(head, 50)? == 1,
            count: read_u16(sfnt.table(b"maxp")?, 4)?,
            hmtx: sfnt.table(b"hmtx")?,
            long_metrics: read_u16(hhea, 34)?.max(1),
            slant: {
                let rise = f32::from(read_u16(hhea, 18)? as i16);
                let run = f32::from(read_u16(hhea, 20)? as i16);
                if rise > 0.0 { run / rise } else { 0.0 }
            },
        })
    }

    /// The outline of `gid`; empty for blank glyphs such as the space.
    fn outline(&self, gid: u16) -> Option<&'a [u8]> {
        if gid >= self.count {
            return None;
        }
        let i = usize::from(gid);
        let (start, end) = if self.long_offsets {
            (
                read_offset(self.loca, i * 4)?,
                read_offset(self.loca, i * 4 + 4)?,
            )
        } else {
            (
                usize::from(read_u16(self.loca, i * 2)?) * 2,
                usize::from(read_u16(self.loca, i * 2 + 2)?) * 2,
            )
        };
        self.glyf.get(start..end)
    }

    /// (advance width, left side bearing) in font units.
    fn metrics(&self, gid: u16) -> Option<(u16, u16)> {
        let long = usize::from(self.long_metrics);
        let i = usize::from(gid);
        if i < long {
            Some((read_u16(self.hmtx, i * 4)?, read_u16(self.hmtx, i * 4 + 2)?))
        } else {
            let advance = read_u16(self.hmtx, (long - 1) * 4)?;
            Some((advance, read_u16(self.hmtx, long * 4 + (i - long) * 2)?))
        }
    }
}

/// Where a composite glyph names its components: the byte offsets of their glyph ids.
fn component_slots(outline: &[u8]) -> Vec<usize> {
    const ARGS_ARE_WORDS: u16 = 0x0001;
    const HAVE_SCALE: u16 = 0x0008;
    const MORE_COMPONENTS: u16 = 0x0020;
    const HAVE_XY_SCALE: u16 = 0x0040;
    const HAVE_TWO_BY_TWO: u16 = 0x0080;
    let mut slots = Vec::new();
    // A negative contour count marks a composite glyph.
    if read_u16(outline, 0).is_none_or(|contours| contours & 0x8000 == 0) {
        return slots;
    }
    let mut at = 10;
    while let (Some(flags), Some(_)) = (read_u16(outline, at), read_u16(outline, at + 2)) {
        slots.push(at + 2);
        at += if flags & ARGS_ARE_WORDS != 0 { 8 } else { 6 };
        at += if flags & HAVE_SCALE != 0 {
            2
        } else if flags & HAVE_XY_SCALE != 0 {
            4
        } else if flags & HAVE_TWO_BY_TWO != 0 {
            8
        } else {
            0
        };
        if flags & MORE_COMPONENTS == 0 {
            break;
        }
    }
    slots
}

/// A TrueType font holding `chars` (with their glyphs in the original face) and nothing
/// else: glyphs renumbered from 0, composites' components included, layout tables dropped,
/// hinting kept, a format 4 `cmap` for the characters.
fn cut_subset(sfnt: &Sfnt, glyphs: &Glyphs, chars: &[(char, u16)]) -> Option<Vec<u8>> {
    // Glyph 0 (.notdef) must stay first; components join the glyphs that use them.
    let mut keep: BTreeSet<u16> = BTreeSet::new();
    let mut pending: Vec<u16> = vec![0];
    pending.extend(chars.iter().map(|(_, gid)| *gid));
    while let Some(gid) = pending.pop() {
        if gid >= glyphs.count || !keep.insert(gid) {
            continue;
        }
        let outline = glyphs.outline(gid)?;
        for slot in component_slots(outline) {
            let component = read_u16(outline, slot)?;
            if !keep.contains(&component) {
                pending.push(component);
            }
        }
    }
    let order: Vec<u16> = keep.into_iter().collect();
    let renumber =
        |gid: u16| -> Option<u16> { u16::try_from(order.binary_search(&gid).ok()?).ok() };
    let count = u16::try_from(order.len()).ok()?;

    let mut glyf = Vec::new();
    let mut loca = Vec::with_capacity(order.len() * 4 + 4);
    let mut hmtx = Vec::with_capacity(order.len() * 4);
    for gid in &order {
        loca.extend(u32::try_from(glyf.len()).ok()?.to_be_bytes());
        let mut outline = glyphs.outline(*gid)?.to_vec();
        for slot in component_slots(&outline) {
            let component = renumber(read_u16(&outline, slot)?)?;
            write_u16(&mut outline, slot, component)?;
        }
        glyf.extend(outline);
        glyf.resize(glyf.len().next_multiple_of(4), 0);
        let (advance, bearing) = glyphs.metrics(*gid)?;
        hmtx.extend(advance.to_be_bytes());
        hmtx.extend(bearing.to_be_bytes());
    }
    loca.extend(u32::try_from(glyf.len()).ok()?.to_be_bytes());

    let mut head = sfnt.table(b"head")?.to_vec();
    write_u32(&mut head, 8, 0)?; // checkSumAdjustment, set once the font is assembled
    write_u16(&mut head, 50, 1)?; // long loca offsets
    let mut hhea = sfnt.table(b"hhea")?.to_vec();
    write_u16(&mut hhea, 34, count)?;
    let mut maxp = sfnt.table(b"maxp")?.to_vec();
    write_u16(&mut maxp, 4, count)?;
    // post version 3: no glyph names.
    let mut post = sfnt.table(b"post")?.get(..32)?.to_vec();
    write_u32(&mut post, 0, 0x0003_0000)?;

    let mapped = chars
        .iter()
        .map(|(c, gid)| Some((u16::try_from(u32::from(*c)).ok()?, renumber(*gid)?)))
        .collect::<Option<Vec<_>>>()?;
    let mut tables: Vec<([u8; 4], Vec<u8>)> = vec![
        (*b"cmap", cmap_table(&mapped)?),
        (*b"glyf", glyf),
        (*b"head", head),
        (*b"hhea", hhea),
        (*b"hmtx", hmtx),
        (*b"loca", loca),
        (*b"maxp", maxp),
        (*b"name", name_table(sfnt.table(b"name")?)?),
        (*b"post", post),
    ];
    for tag in [b"OS/2", b"cvt ", b"fpgm", b"prep", b"gasp"] {
        if let Some(table) = sfnt.table(tag) {
            tables.push((*tag, table.to_vec()));
        }
    }
    assemble_sfnt(tables)
}

/// A Windows Unicode BMP `cmap` (format 4) with one segment per character, which is all
/// a subset of a few hundred characters needs. `chars` must be sorted by character.
fn cmap_table(chars: &[(u16, u16)]) -> Option<Vec<u8>> {
    let mut segments: Vec<(u16, u16)> = chars
        .iter()
        .filter(|(c, _)| *c != 0xFFFF)
        .map(|(c, gid)| (*c, gid.wrapping_sub(*c)))
        .collect();
    segments.push((0xFFFF, 1)); // the required final segment, mapping to glyph 0
    let seg_count = u16::try_from(segments.len()).ok()?;
    let length = u16::try_from(16 + 8 * segments.len()).ok()?;
    let entry_selector = 15 - seg_count.leading_zeros() as u16;
    let search_range = 2u16.checked_shl(u32::from(entry_selector))?;
    let mut sub = Vec::with_capacity(usize::from(length));
    for value in [
        4,
        length,
        0,
        seg_count * 2,
        search_range,
        entry_selector,
        (seg_count * 2).checked_sub(search_range)?,
    ] {
        sub.extend(value.to_be_bytes());
    }
    sub.extend(segments.iter().flat_map(|(c, _)| c.to_be_bytes()));
    sub.extend([0, 0]);
    sub.extend(segments.iter().flat_map(|(c, _)| c.to_be_bytes()));
    sub.extend(segments.iter().flat_map(|(_, delta)| delta.to_be_bytes()));
    sub.extend(segments.iter().flat_map(|_| [0, 0]));

    // Version 0, one subtable: platform 3 (Windows), encoding 1 (Unicode BMP), offset 12.
    let mut table = vec![0, 0, 0, 1, 0, 3, 0, 1, 0, 0, 0, 12];
    table.extend(sub);
    Some(table)
}

/// The font's Windows names 0–6 (copyright, family, style, id, full name, version,
/// PostScript name), without the long licence text the full face carries.
fn name_table(name: &[u8]) -> Option<Vec<u8>> {
    let count = usize::from(read_u16(name, 2)?);
    let storage = usize::from(read_u16(name, 4)?);
    let mut records: Vec<[u16; 6]> = Vec::new();
    let mut strings = Vec::new();
    for i in 0..count {
        let record = 6 + 12 * i;
        let field = |n: usize| read_u16(name, record + 2 * n);
        let (platform, encoding, language, id) = (field(0)?, field(1)?, field(2)?, field(3)?);
        if platform != 3 || id > 6 {
            continue;
        }
        let (length, offset) = (field(4)?, usize::from(field(5)?));
        let start = storage + offset;
        let text = name.get(start..start + usize::from(length))?;
        let new_offset = u16::try_from(strings.len()).ok()?;
        records.push([platform, encoding, language, id, length, new_offset]);
        strings.extend_from_slice(text);
    }
    let n = u16::try_from(records.len()).ok()?;
    let mut table = Vec::new();
    for value in [0, n, 6 + 12 * n] {
        table.extend(value.to_be_bytes());
    }
    table.extend(records.iter().flatten().flat_map(|v| v.to_be_bytes()));
    table.extend(strings);
    Some(table)
}

fn table_checksum(data: &[u8]) -> u32 {
    data.chunks(4).fold(0u32, |sum, chunk| {
        let mut word = [0u8; 4];
        word.iter_mut().zip(chunk).for_each(|(w, b)| *w = *b);
        sum.wrapping_add(u32::from_be_bytes(word))
    })
}

/// Writes the tables out as one TrueType file, with directory and checksums.
fn assemble_sfnt(mut tables: Vec<([u8; 4], Vec<u8>)>) -> Option<Vec<u8>> {
    tables.sort_by_key(|(tag, _)| *tag);
    let count = u16::try_from(tables.len()).ok()?;
    let entry_selector = 15 - count.leading_zeros() as u16;
    let search_range = 16u16.checked_shl(u32::from(entry_selector))?;
    let mut font = Vec::new();
    font.extend(0x0001_0000u32.to_be_bytes());
    for value in [
        count,
        search_range,
        entry_selector,
        (count * 16).checked_sub(search_range)?,
    ] {
        font.extend(value.to_be_bytes());
    }
    let mut offset = 12 + 16 * tables.len();
    let mut head_at = None;
    for (tag, data) in &tables {
        if tag == b"head" {
            head_at = Some(offset);
        }
        font.extend(tag);
        font.extend(table_checksum(data).to_be_bytes());
        font.extend(u32::try_from(offset).ok()?.to_be_bytes());
        font.extend(u32::try_from(data.len()).ok()?.to_be_bytes());
        offset += data.len().next_multiple_of(4);
    }
    for (_, data) in &tables {
        font.extend(data);
        font.resize(font.len().next_multiple_of(4), 0);
    }
    let adjustment = 0xB1B0_AFBAu32.wrapping_sub(table_checksum(&font));
    write_u32(&mut font, head_at? + 8, adjustment)?;
    Some(font)
}

// ---------------------------------------------------------------------------------------
// Combining accents
// ---------------------------------------------------------------------------------------

/// Part of a line set with one character spacing (`Tc`, added after every glyph) and one
/// text rise (`Ts`), both in points.
#[derive(Debug, Clone, PartialEq)]
struct Run {
    text: String,
    spacing: f32,
    rise: f32,
}

/// Splits a cleaned line into runs that put combining accents where they belong.
///
/// Yoruba tone marks over "ẹ ọ" ("ọ́", "ẹ̀") have no precomposed letters, and printpdf
/// does no OpenType mark positioning, so a bare accent would sit where the font's
/// zero-width mark happens to be drawn: off-centre on most letters and into the top of
/// capitals. Instead each accent is centred on its letter's outline and raised clear of
/// it. The pen is moved with character spacing rather than `TJ` offsets so that every
/// run stays one plain `Tj` string, which text extraction reads without gaps; the pen
/// ends where it would have without the accents, so measuring is unaffected.
fn place_marks(text: &str, face: Face, size: f32) -> Vec<Run> {
    let plain = |text: String| Run {
        text,
        spacing: 0.0,
        rise: 0.0,
    };
    let Some(font) = face.font().filter(|_| text.chars().any(is_combining_mark)) else {
        return vec![plain(text.to_owned())];
    };
    let scale = size / f32::from(font.parsed.units_per_em.max(1));
    let advance = |gid: u16| font.advance(gid) as f32 * size / 1000.0;
    let chars: Vec<char> = text.chars().collect();
    let mut runs = Vec::new();
    let mut pending = String::new();
    let mut i = 0;
    while let Some(&base) = chars.get(i) {
        let marks_end = chars
            .iter()
            .skip(i + 1)
            .position(|c| !is_combining_mark(*c))
            .map_or(chars.len(), |n| i + 1 + n);
        let marks = chars.get(i + 1..marks_end).unwrap_or_default();
        i = marks_end;
        let placed = (!marks.is_empty())
            .then(|| font.mark_positions(base, marks))
            .flatten();
        let (Some(placed), Some(base_gid)) = (placed, font.glyph(base)) else {
            pending.push(base);
            pending.extend(marks);
            continue;
        };
        if !pending.is_empty() {
            runs.push(plain(mem::take(&mut pending)));
        }
        // Pen positions relative to the base's origin, in points: each mark's origin,
        // then the end of the base again.
        let base_end = advance(base_gid);
        let stops: Vec<f32> = placed
            .iter()
            .map(|(_, x, _)| x * scale)
            .chain([base_end])
            .collect();
        let first = stops.first().copied().unwrap_or(base_end);
        runs.push(Run {
            text: base.to_string(),
            spacing: first - base_end,
            rise: 0.0,
        });
        for (k, (mark_gid, _, rise)) in placed.iter().enumerate() {
            let here = stops.get(k).copied().unwrap_or(base_end);
            let next = stops.get(k + 1).copied().unwrap_or(base_end);
            let mark = marks.get(k).copied().unwrap_or_default();
            runs.push(Run {
                text: mark.to_string(),
                spacing: next - here - advance(*mark_gid),
                rise: rise * scale,
            });
        }
    }
    if !pending.is_empty() {
        runs.push(plain(pending));
    }
    runs
}

/// A glyph's outline box in font units.
#[derive(Debug, Clone, Copy)]
struct GlyphBox {
    x_min: f32,
    y_min: f32,
    x_max: f32,
    y_max: f32,
}

impl GlyphBox {
    fn center_x(self) -> f32 {
        (self.x_min + self.x_max) / 2.0
    }

    fn center_y(self) -> f32 {
        (self.y_min + self.y_max) / 2.0
    }
}

impl FaceFont {
    fn glyph_box(&self, gid: u16) -> Option<GlyphBox> {
        let outline = self.glyphs.outline(gid)?;
        let value = |at| read_u16(outline, at).map(|v| f32::from(v as i16));
        Some(GlyphBox {
            x_min: value(2)?,
            y_min: value(4)?,
            x_max: value(6)?,
            y_max: value(8)?,
        })
    }

    /// For each of `marks` following `base`: its glyph, where its origin goes relative
    /// to the base's origin, and how far it is raised (negative: lowered), in font units.
    /// Marks above are centred over the base and lifted so they clear it as they clear
    /// an "o"; marks below likewise under it. `None` when a glyph is missing.
    fn mark_positions(&self, base: char, marks: &[char]) -> Option<Vec<(u16, f32, f32)>> {
        let base_box = self.glyph_box(self.glyph(base)?)?;
        let o = self.glyph_box(self.glyph('o')?)?;
        // Between stacked marks, where the font's own spacing no longer applies.
        let gap = f32::from(self.parsed.units_per_em) * 0.04;
        let (mut top, mut bottom) = (base_box.y_max, base_box.y_min);
        marks
            .iter()
            .map(|mark| {
                let gid = self.glyph(*mark)?;
                let mark_box = self.glyph_box(gid)?;
                let rise = if mark_box.center_y() > 0.0 {
                    let rise = (top - o.y_max).max(0.0);
                    top = mark_box.y_max + rise + gap;
                    rise
                } else {
                    let rise = (bottom - o.y_min).min(0.0);
                    bottom = mark_box.y_min + rise - gap;
                    rise
                };
                // On a slanted face the base's middle moves right as it goes up.
                let lean = self.glyphs.slant * (mark_box.center_y() + rise - base_box.center_y());
                let x = base_box.center_x() + lean - mark_box.center_x();
                Some((gid, x, rise))
            })
            .collect()
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
        let text = if text.bytes().all(|b| (b' '..=b'~').contains(&b)) {
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
                font: PdfFontHandle::External(style.face.layout_id()),
                size: Pt(style.size),
            },
            Op::SetTextCursor {
                pos: Point {
                    x: Pt(x),
                    y: Pt(PAGE_H - baseline),
                },
            },
        ]);
        // Tc and Ts belong to the graphics state and outlive ET: leave them at zero.
        let (mut spacing, mut rise) = (0.0_f32, 0.0_f32);
        for run in place_marks(&text, style.face, style.size) {
            if (run.spacing - spacing).abs() > f32::EPSILON {
                spacing = run.spacing;
                self.ops.push(Op::SetCharacterSpacing {
                    multiplier: spacing,
                });
            }
            if (run.rise - rise).abs() > f32::EPSILON {
                rise = run.rise;
                self.ops.push(Op::SetLineOffset { multiplier: rise });
            }
            self.ops.push(Op::ShowText {
                items: vec![TextItem::Text(run.text)],
            });
        }
        if spacing != 0.0 {
            self.ops.push(Op::SetCharacterSpacing { multiplier: 0.0 });
        }
        if rise != 0.0 {
            self.ops.push(Op::SetLineOffset { multiplier: 0.0 });
        }
        self.ops.push(Op::EndTextSection);
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
