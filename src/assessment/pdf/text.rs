//! Text preparation: what the faces can print, accents composed, widths, fitting into a
//! box, wrapping, and how scores and positions read.

use std::mem;

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::decompose_canonical;
pub(super) use unicode_normalization::char::is_combining_mark;

use super::font::Face;
use crate::assessment::card::{format_score, ordinal};

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
pub(super) fn printable(c: char) -> bool {
    if (' '..='~').contains(&c) {
        return true;
    }
    if Face::ALL.iter().any(|face| face.font().is_none()) {
        return false;
    }
    // Beyond the BMP the faces hold only emoticons, card symbols and mathematical letters;
    // on a report card those stay `?`, as they always have.
    c <= '\u{FFFF}'
        && Face::ALL
            .iter()
            .all(|face| face.font().is_some_and(|font| font.glyph(c).is_some()))
}

/// More accents than this on one letter are dropped (they would stack up into the line
/// above); Yoruba needs two at most, a dot below and a tone mark.
const MAX_MARKS: usize = 3;

/// Makes `text` safe to set: letters stay as they are (Yoruba "ẹ ọ ṣ", Igbo "ị ụ ṅ",
/// Hausa "ɓ ɗ ƙ ƴ", "₦"), a letter followed by a combining accent becomes the precomposed
/// letter where Unicode has one ("e\u{301}" → "é"; "ọ\u{301}" stays two characters), odd
/// spaces become spaces, invisible and control characters vanish, and anything the font
/// cannot show becomes `?`.
pub fn pdf_text(text: &str) -> String {
    // Most of a card (figures, labels, English comments) is plain ASCII: nothing to do.
    if text.bytes().all(|b| (b' '..=b'~').contains(&b)) {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    // NFC after the clean-up, so an invisible character between a letter and its accent
    // does not keep them apart.
    for c in text.chars().filter_map(visible).nfc() {
        if is_combining_mark(c) {
            push_mark(&mut out, c);
        } else if printable(c) {
            out.push(c);
        } else {
            push_decomposed(&mut out, c);
        }
    }
    out
}

/// What an input character becomes before composition: odd spaces a space, invisible
/// and control characters nothing.
fn visible(c: char) -> Option<char> {
    match c {
        '\u{AD}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' => None,
        '\u{2060}'..='\u{2064}' | '\u{FEFF}' => None,
        c if c.is_whitespace() => Some(' '),
        c if c.is_control() => None,
        c => Some(c),
    }
}

/// A combining mark NFC left on its own (no precomposed letter has it): kept after its
/// letter for the painter to place, dropped with nothing to sit on, past [`MAX_MARKS`] or
/// when the faces lack it.
fn push_mark(out: &mut String, mark: char) {
    if out.chars().last().is_none_or(char::is_whitespace) {
        return;
    }
    let stacked = out
        .chars()
        .rev()
        .take_while(|c| is_combining_mark(*c))
        .count();
    if stacked < MAX_MARKS && printable(mark) {
        out.push(mark);
    }
}

/// A precomposed letter the faces lack, set as its letter and accents when they have those
/// (the painter then places the accents); `?` otherwise.
fn push_decomposed(out: &mut String, c: char) {
    let mut parts = Vec::new();
    decompose_canonical(c, |part| parts.push(part));
    match parts.split_first() {
        Some((base, marks)) if parts.len() > 1 && !is_combining_mark(*base) && printable(*base) => {
            out.push(*base);
            for mark in marks {
                push_mark(out, *mark);
            }
        }
        _ => out.push('?'),
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

pub(super) fn optional_score(value: Option<f64>) -> String {
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
