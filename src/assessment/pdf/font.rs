//! The faces: DejaVu Sans Condensed parsed once per process, glyph lookup and metrics, and
//! each document's subset of the faces it uses.

use std::collections::BTreeSet;
use std::sync::OnceLock;

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

/// One parsed face: printpdf's view (cmap and advance widths) and the raw tables the
/// subsetter copies glyphs out of.
#[derive(Debug)]
pub(super) struct FaceFont {
    pub(super) parsed: ParsedFont,
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

/// Puts the faces the pages use into `doc` and binds the pages' layout font ids
/// to them.
///
/// printpdf 0.12 without its `text_layout` feature embeds an external font program whole
/// (600–700 KB a face here), so each face is first cut down to the glyphs these pages
/// show. printpdf still writes the `/W` widths and the `/ToUnicode` map (from the
/// characters shown), which keeps the text searchable and extractable.
pub(super) fn embed_fonts(doc: &mut PdfDocument, pages: &mut [PdfPage]) {
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
                let lean = self.glyphs.slant * (mark_box.center_y() + rise - base_box.center_y());
                let x = base_box.center_x() + lean - mark_box.center_x();
                Some((gid, x, rise))
            })
            .collect()
    }
}
