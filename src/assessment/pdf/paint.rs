//! Drawing primitives on one page: text runs (with accents placed over their letters),
//! lines, rectangles and pictures. Takes top-down coordinates and flips them for PDF.

use std::mem;

use printpdf::{
    Color, Line, LinePoint, Op, PaintMode, PdfDocument, PdfFontHandle, Point, Pt, RawImage, Rect,
    Rgb, TextItem, WindingOrder, XObjectId, XObjectTransform,
};

use super::font::{Face, FaceFont};
use super::text::{fit, is_combining_mark, measure, pdf_text};

/// A4 in points.
pub(super) const PAGE_W: f32 = 595.28;
pub(super) const PAGE_H: f32 = 841.89;
/// Smallest size a squeezed label may shrink to before it is cut with "…".
pub(super) const MIN_FONT: f32 = 5.5;

#[derive(Debug, Clone, Copy)]
pub(super) struct Rgb3(pub(super) f32, pub(super) f32, pub(super) f32);

impl Rgb3 {
    fn color(self) -> Color {
        Color::Rgb(Rgb::new(self.0, self.1, self.2, None))
    }
}

pub(super) const INK: Rgb3 = Rgb3(0.10, 0.10, 0.12);
pub(super) const MUTED: Rgb3 = Rgb3(0.38, 0.38, 0.42);
pub(super) const RULE: Rgb3 = Rgb3(0.62, 0.62, 0.66);
pub(super) const SHADE: Rgb3 = Rgb3(0.90, 0.90, 0.92);
pub(super) const ACCENT: Rgb3 = Rgb3(0.12, 0.23, 0.42);
pub(super) const WHITE: Rgb3 = Rgb3(1.0, 1.0, 1.0);

/// A decoded image registered with the document, with its pixel size for aspect fitting.
#[derive(Debug, Clone)]
pub(super) struct Picture {
    id: XObjectId,
    width: f32,
    height: f32,
}

#[derive(Debug, Default)]
pub(super) struct Pictures {
    pub(super) logo: Option<Picture>,
    pub(super) photo: Option<Picture>,
}

/// Uploads bigger than this are not a logo or passport photo; skip rather than decode.
const MAX_IMAGE_FILE_BYTES: usize = 16 * 1024 * 1024;
/// Decoded size kept per picture: ample for a 25 mm photo in print, and it bounds the
/// memory a class of 60 phone-camera photos holds until the document is saved.
const MAX_DECODED_BYTES: usize = 512 * 1024;

/// Decodes PNG/JPEG/WebP bytes; anything unreadable yields `None` so the card goes
/// without the picture instead of failing.
pub(super) fn load_picture(doc: &mut PdfDocument, bytes: &[u8]) -> Option<Picture> {
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
pub(super) struct LogoCache {
    seen: Vec<(Vec<u8>, Option<Picture>)>,
}

impl LogoCache {
    pub(super) fn get(&mut self, doc: &mut PdfDocument, bytes: &[u8]) -> Option<Picture> {
        if let Some((_, picture)) = self.seen.iter().find(|(b, _)| b.as_slice() == bytes) {
            return picture.clone();
        }
        let picture = load_picture(doc, bytes);
        self.seen.push((bytes.to_vec(), picture.clone()));
        picture
    }
}

/// Part of a line set with one character spacing (`Tc`, added after every glyph) and one
/// text rise (`Ts`), both in points.
#[derive(Debug, Clone, PartialEq)]
struct Run {
    text: String,
    spacing: f32,
    rise: f32,
}

impl Run {
    fn plain(text: String) -> Self {
        Self {
            text,
            spacing: 0.0,
            rise: 0.0,
        }
    }
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
    let Some(font) = face.font().filter(|_| text.chars().any(is_combining_mark)) else {
        return vec![Run::plain(text.to_owned())];
    };
    let chars: Vec<char> = text.chars().collect();
    let mut runs = Vec::new();
    let mut pending = String::new();
    for (base, marks) in clusters(&chars) {
        match placed_runs(font, base, marks, size) {
            Some(placed) => {
                if !pending.is_empty() {
                    runs.push(Run::plain(mem::take(&mut pending)));
                }
                runs.extend(placed);
            }
            // No accent, or one the font cannot place: set as it comes.
            None => {
                pending.push(base);
                pending.extend(marks);
            }
        }
    }
    if !pending.is_empty() {
        runs.push(Run::plain(pending));
    }
    runs
}

/// Each character with the combining marks that follow it.
fn clusters(chars: &[char]) -> impl Iterator<Item = (char, &[char])> {
    let mut rest = chars;
    std::iter::from_fn(move || {
        let (&base, tail) = rest.split_first()?;
        let n = tail
            .iter()
            .position(|c| !is_combining_mark(*c))
            .unwrap_or(tail.len());
        let (marks, after) = tail.split_at(n);
        rest = after;
        Some((base, marks))
    })
}

/// The base letter and its marks as runs, each mark moved over (or under) the letter;
/// `None` when there are no marks or a glyph is missing.
fn placed_runs(font: &FaceFont, base: char, marks: &[char], size: f32) -> Option<Vec<Run>> {
    if marks.is_empty() {
        return None;
    }
    let placed = font.mark_positions(base, marks)?;
    let base_gid = font.glyph(base)?;
    let scale = size / f32::from(font.parsed.units_per_em.max(1));
    let advance = |gid: u16| font.advance(gid) as f32 * size / 1000.0;
    // Pen positions relative to the base's origin, in points: each mark's origin, then
    // the end of the base again.
    let base_end = advance(base_gid);
    let stops: Vec<f32> = placed
        .iter()
        .map(|(_, x, _)| x * scale)
        .chain([base_end])
        .collect();
    let first = stops.first().copied().unwrap_or(base_end);
    let mut runs = vec![Run {
        text: base.to_string(),
        spacing: first - base_end,
        rise: 0.0,
    }];
    for (k, ((mark_gid, _, rise), mark)) in placed.iter().zip(marks).enumerate() {
        let here = stops.get(k).copied().unwrap_or(base_end);
        let next = stops.get(k + 1).copied().unwrap_or(base_end);
        runs.push(Run {
            text: mark.to_string(),
            spacing: next - here - advance(*mark_gid),
            rise: rise * scale,
        });
    }
    Some(runs)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Align {
    Left,
    Center,
    Right,
}

#[derive(Debug, Clone, Copy)]
pub(super) struct Style {
    pub(super) face: Face,
    pub(super) size: f32,
    pub(super) color: Rgb3,
}

impl Style {
    pub(super) const fn new(face: Face, size: f32, color: Rgb3) -> Self {
        Self { face, size, color }
    }
}

/// Collects the operations of one page, taking top-down coordinates.
#[derive(Debug)]
pub(super) struct Painter {
    pub(super) ops: Vec<Op>,
    /// The page's height in points, to flip top-down coordinates into PDF's bottom-up ones.
    height: f32,
}

/// An A4 portrait page (the report card's).
impl Default for Painter {
    fn default() -> Self {
        Self::with_height(PAGE_H)
    }
}

impl Painter {
    /// A page `height` points tall (e.g. a landscape broadsheet's).
    pub(super) fn with_height(height: f32) -> Self {
        Self {
            ops: Vec::new(),
            height,
        }
    }

    fn point(&self, x: f32, y: f32) -> LinePoint {
        LinePoint {
            p: Point {
                x: Pt(x),
                y: Pt(self.height - y),
            },
            bezier: false,
        }
    }

    /// Text with its baseline at `baseline`. Each run gets its own BT/ET because printpdf's
    /// `SetTextCursor` is `Td`, which moves relative to the previous line inside a section.
    pub(super) fn text(&mut self, text: &str, x: f32, baseline: f32, style: Style) {
        if text.is_empty() {
            return;
        }
        let text = pdf_text(text);
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
                    y: Pt(self.height - baseline),
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
    pub(super) fn text_box(
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
                    points: vec![self.point(from.0, from.1), self.point(to.0, to.1)],
                    is_closed: false,
                },
            },
        ]);
    }

    pub(super) fn hline(&mut self, x1: f32, x2: f32, y: f32, thickness: f32, color: Rgb3) {
        self.line((x1, y), (x2, y), thickness, color);
    }

    pub(super) fn vline(&mut self, x: f32, y1: f32, y2: f32, thickness: f32, color: Rgb3) {
        self.line((x, y1), (x, y2), thickness, color);
    }

    fn rect(&self, (x, y, w, h): (f32, f32, f32, f32), mode: PaintMode) -> Op {
        Op::DrawRectangle {
            rectangle: Rect {
                x: Pt(x),
                y: Pt(self.height - y - h),
                width: Pt(w),
                height: Pt(h),
                mode: Some(mode),
                winding_order: Some(WindingOrder::NonZero),
            },
        }
    }

    pub(super) fn fill_rect(&mut self, area: (f32, f32, f32, f32), color: Rgb3) {
        let rect = self.rect(area, PaintMode::Fill);
        self.ops.push(Op::SetFillColor { col: color.color() });
        self.ops.push(rect);
    }

    pub(super) fn stroke_rect(&mut self, area: (f32, f32, f32, f32), thickness: f32, color: Rgb3) {
        let rect = self.rect(area, PaintMode::Stroke);
        self.ops.extend([
            Op::SetOutlineColor { col: color.color() },
            Op::SetOutlineThickness { pt: Pt(thickness) },
            rect,
        ]);
    }

    /// Draws `picture` as large as fits the box, centred, keeping its aspect ratio.
    pub(super) fn picture(&mut self, picture: &Picture, (x, y, w, h): (f32, f32, f32, f32)) {
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
                translate_y: Some(Pt(self.height - top - drawn_h)),
                scale_x: Some(scale),
                scale_y: Some(scale),
                dpi: Some(72.0),
                ..XObjectTransform::default()
            },
        });
    }
}
