//! The faces: DejaVu Sans Condensed parsed once per process, glyph lookup and metrics, and
//! each document's subset of the faces it uses.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use allsorts::binary::read::ReadScope;
use allsorts::font_data::FontData;
use allsorts::subset::{CmapTarget, SubsetProfile, subset};
use allsorts::tables::glyf::LocaGlyf;
use allsorts::tag;
use printpdf::{
    BuiltinFont, FontId, Op, ParsedFont, PdfDocument, PdfFont, PdfFontHandle, PdfPage, TextItem,
};

/// The faces the cards use: DejaVu Sans Condensed regular, bold and oblique.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Face {
    Regular,
    Bold,
    Italic,
}

static REGULAR_TTF: &[u8] = include_bytes!("../../../static/fonts/DejaVuSansCondensed.ttf");
static BOLD_TTF: &[u8] = include_bytes!("../../../static/fonts/DejaVuSansCondensed-Bold.ttf");
static ITALIC_TTF: &[u8] = include_bytes!("../../../static/fonts/DejaVuSansCondensed-Oblique.ttf");

/// Each face is parsed once per process, on first use.
static FACES: [OnceLock<Option<FaceFont>>; 3] = [const { OnceLock::new() }; 3];

impl Face {
    pub(super) const ALL: [Face; 3] = [Face::Regular, Face::Bold, Face::Italic];

    pub(super) fn index(self) -> usize {
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
    pub(super) fn layout_id(self) -> FontId {
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

    pub(super) fn font(self) -> Option<&'static FaceFont> {
        FACES
            .get(self.index())?
            .get_or_init(|| FaceFont::parse(self.program()))
            .as_ref()
    }
}

/// One parsed face: printpdf's view of it (cmap, advance widths, metrics) and its outlines,
/// read through allsorts for the boxes that accents are placed by.
pub(super) struct FaceFont {
    pub(super) parsed: ParsedFont,
    program: &'static [u8],
    /// allsorts parses a glyph on first use and keeps it, which needs `&mut`; only letters
    /// carrying an accent without a precomposed form are ever looked at.
    outlines: Mutex<LocaGlyf>,
    /// Horizontal run per unit of rise of the caret: 0 upright, about 0.2 oblique.
    slant: f32,
}

impl FaceFont {
    fn parse(program: &'static [u8]) -> Option<Self> {
        let parsed = ParsedFont::from_bytes(program, 0, &mut Vec::new())?;
        let font = ReadScope::new(program).read::<FontData<'_>>().ok()?;
        let provider = font.table_provider(0).ok()?;
        // Shared: the outlines stay in the bundled bytes instead of a second copy.
        let outlines = LocaGlyf::load_shared(&provider, Arc::new(program)).ok()?;
        let metrics = &parsed.pdf_font_metrics;
        let (rise, run) = (
            f32::from(metrics.caret_slope_rise),
            f32::from(metrics.caret_slope_run),
        );
        Some(Self {
            program,
            outlines: Mutex::new(outlines),
            slant: if rise > 0.0 { run / rise } else { 0.0 },
            parsed,
        })
    }

    /// The glyph for `c`, if the face has one (glyph 0 is the "missing" box).
    pub(super) fn glyph(&self, c: char) -> Option<u16> {
        self.parsed
            .lookup_glyph_index(u32::from(c))
            .filter(|gid| *gid != 0)
    }

    /// Advance of `gid` in 1/1000 em, truncated exactly as printpdf truncates the `/W`
    /// widths it writes, so that measured text lines up with what viewers draw.
    pub(super) fn advance(&self, gid: u16) -> u32 {
        let units_per_em = f32::from(self.parsed.units_per_em.max(1));
        let width = f32::from(self.parsed.get_glyph_width(gid).unwrap_or(0));
        (width * 1000.0 / units_per_em) as u32
    }

    /// The outline box of `gid`; `None` for blank glyphs such as the space.
    fn glyph_box(&self, gid: u16) -> Option<GlyphBox> {
        // A poisoned lock only means another card panicked mid-lookup; the cache is fine.
        let mut outlines = self.outlines.lock().unwrap_or_else(PoisonError::into_inner);
        let bounds = outlines.glyph(gid).ok()?.bounding_box()?;
        Some(GlyphBox {
            x_min: f32::from(bounds.x_min),
            y_min: f32::from(bounds.y_min),
            x_max: f32::from(bounds.x_max),
            y_max: f32::from(bounds.y_max),
        })
    }

    /// A font holding just the glyphs `chars` need, parsed back for printpdf; `None` if
    /// allsorts cannot cut the face (printpdf then embeds it whole).
    ///
    /// printpdf draws a character with the glyph its `ParsedFont` maps it to, so that map
    /// must name the subset's glyph ids. allsorts numbers the requested glyphs by their
    /// place in the list it is given (components of composite glyphs come after them), so
    /// the map is built from that order rather than read back from the subset's `cmap`.
    fn subset(&self, chars: &BTreeSet<char>) -> Option<ParsedFont> {
        let mapped: Vec<(char, u16)> = chars
            .iter()
            .filter_map(|c| Some((*c, self.glyph(*c)?)))
            .collect();
        // .notdef first, then each glyph once: allsorts requires both.
        let mut ids: Vec<u16> = mapped.iter().map(|(_, gid)| *gid).collect();
        ids.sort_unstable();
        ids.dedup();
        ids.insert(0, 0);

        let font = ReadScope::new(self.program).read::<FontData<'_>>().ok()?;
        let provider = font.table_provider(0).ok()?;
        let bytes = subset(&provider, &ids, &subset_profile(), CmapTarget::Unicode).ok()?;
        let mut subset = ParsedFont::from_bytes(&bytes, 0, &mut Vec::new())?;
        subset.codepoint_to_glyph = mapped
            .iter()
            .filter_map(|(c, gid)| {
                let new_gid = u16::try_from(ids.binary_search(gid).ok()?).ok()?;
                Some((u32::from(*c), new_gid))
            })
            .collect();
        Some(subset)
    }
}

/// allsorts' PDF profile (glyphs, metrics, hinting, names, cmap) plus `OS/2`, whose weight
/// printpdf reads for the font descriptor's `/StemV`.
fn subset_profile() -> SubsetProfile {
    SubsetProfile::Custom(vec![
        tag::CMAP,
        tag::HEAD,
        tag::CVT,
        tag::FPGM,
        tag::HHEA,
        tag::HMTX,
        tag::MAXP,
        tag::NAME,
        tag::OS_2,
        tag::POST,
        tag::PREP,
    ])
}

/// Puts the faces the pages use into `doc` and binds the pages' layout font ids
/// to them.
///
/// printpdf 0.12 without its `text_layout` feature embeds an external font program whole
/// (600–700 KB a face here), so each face is first cut down to the glyphs these pages
/// show, by allsorts as printpdf's own subsetting does (that feature would also pull in a
/// layout engine we do not use). Once per document, not per page: a class shares one
/// subset of each face. printpdf still writes the `/W` widths and the `/ToUnicode` map
/// (from the characters shown), which keeps the text searchable and extractable.
pub(super) fn embed_fonts(doc: &mut PdfDocument, pages: &mut [PdfPage]) {
    let used = used_chars(pages);
    let handles: Vec<(FontId, PdfFontHandle)> = Face::ALL
        .into_iter()
        .zip(&used)
        .filter(|(_, chars)| !chars.is_empty())
        .map(|(face, chars)| (face.layout_id(), font_handle(doc, face, chars)))
        .collect();
    bind_faces(pages, &handles);
}

/// The characters each face shows on `pages`, by [`Face::index`].
fn used_chars(pages: &[PdfPage]) -> [BTreeSet<char>; 3] {
    let mut used: [BTreeSet<char>; 3] = Default::default();
    for page in pages {
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
    used
}

/// Points every `SetFont` naming a face's layout id at the font embedded for it.
fn bind_faces(pages: &mut [PdfPage], handles: &[(FontId, PdfFontHandle)]) {
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
    /// For each of `marks` following `base`: its glyph, where its origin goes relative
    /// to the base's origin, and how far it is raised (negative: lowered), in font units.
    /// Marks above are centred over the base and lifted so they clear it as they clear
    /// an "o"; marks below likewise under it. `None` when a glyph is missing.
    pub(super) fn mark_positions(
        &self,
        base: char,
        marks: &[char],
    ) -> Option<Vec<(u16, f32, f32)>> {
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
                let lean = self.slant * (mark_box.center_y() + rise - base_box.center_y());
                let x = base_box.center_x() + lean - mark_box.center_x();
                Some((gid, x, rise))
            })
            .collect()
    }
}
