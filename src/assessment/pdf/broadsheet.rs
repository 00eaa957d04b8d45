//! The broadsheet on landscape pages: every pupil of a class against every subject
//! (abbreviated), their totals, averages, grades and positions, the subject statistics
//! under the table, then the results meeting's summary on a page of its own.
//!
//! A4 landscape while the subjects fit it at a readable width, A3 landscape beyond that
//! (or whichever the caller asks for). The table's head repeats on every page.

use std::mem;

use printpdf::{Mm, PdfPage};

use super::font::Face;
use super::paint::{ACCENT, Align, INK, MUTED, Painter, RULE, Rgb3, SHADE, Style};
use super::text::{measure, wrap};
use crate::assessment::broadsheet::{Broadsheet, Distribution, Paper, cell_text, position_text};
use crate::assessment::card::{format_score, ordinal};

/// A landscape sheet: size in points, and in millimetres for the page.
#[derive(Debug, Clone, Copy)]
struct Sheet {
    w: f32,
    h: f32,
    mm: (f32, f32),
}

const A4: Sheet = Sheet {
    w: 841.89,
    h: 595.28,
    mm: (297.0, 210.0),
};
const A3: Sheet = Sheet {
    w: 1190.55,
    h: 841.89,
    mm: (420.0, 297.0),
};

const MARGIN: f32 = 24.0;
/// Body text of the table.
const FONT: f32 = 7.5;
const ROW_H: f32 = 11.5;
/// The head: subject codes (and the fixed columns' names), then "Score | Gr." under each.
const HEAD1_H: f32 = 13.0;
const HEAD2_H: f32 = 10.0;
/// Padding inside a cell.
const PAD: f32 = 2.5;
/// Space kept free at the bottom of each page for its footer.
const FOOTER_H: f32 = 30.0;
/// A subject's score and grade columns: the least that still reads at 7.5 pt, and the
/// most worth giving them.
const PAIR_MIN: f32 = 38.0;
const PAIR_MAX: f32 = 56.0;

const ZEBRA: Rgb3 = Rgb3(0.965, 0.965, 0.975);
const OUTSTANDING: Rgb3 = Rgb3(1.0, 0.94, 0.78);

const REGULAR: Style = Style::new(Face::Regular, FONT, INK);
const BOLD: Style = Style::new(Face::Bold, FONT, INK);
const SMALL_MUTED: Style = Style::new(Face::Regular, 6.0, MUTED);

/// Column widths of the table.
#[derive(Debug, Clone)]
struct Columns {
    sn: f32,
    name: f32,
    adm: f32,
    score: f32,
    grade: f32,
    /// Total, average, grade, position (and the cumulative ones), with their heads.
    tail: Vec<(&'static str, f32)>,
    subjects: usize,
}

impl Columns {
    fn fixed(&self) -> f32 {
        self.sn + self.name + self.adm
    }

    fn pair(&self) -> f32 {
        self.score + self.grade
    }

    fn width(&self) -> f32 {
        self.fixed()
            + self.pair() * self.subjects as f32
            + self.tail.iter().map(|(_, w)| w).sum::<f32>()
    }

    /// Left edge of subject `i`'s pair.
    fn subject_x(&self, left: f32, i: usize) -> f32 {
        left + self.fixed() + self.pair() * i as f32
    }

    fn tail_x(&self, left: f32) -> f32 {
        self.subject_x(left, self.subjects)
    }
}

/// Chooses the paper and the column widths: the subjects' pairs as wide as the page allows
/// (within `PAIR_MIN..PAIR_MAX`), A3 only when A4 would squeeze them below the minimum.
fn plan(b: &Broadsheet, paper: Option<Paper>) -> (Sheet, Columns) {
    let r = &b.results;
    let widest = |texts: &mut dyn Iterator<Item = &str>| {
        texts
            .map(|t| measure(&super::text::pdf_text(t), Face::Regular, FONT))
            .fold(0.0_f32, f32::max)
            + 2.0 * PAD
    };
    let name = widest(&mut r.pupils.iter().map(|p| p.full_name.as_str())).clamp(80.0, 150.0);
    let adm = widest(&mut r.pupils.iter().map(|p| p.admission_no.as_str())).clamp(40.0, 80.0);
    let mut tail = vec![
        ("Total", 32.0),
        ("Average", 34.0),
        ("Grade", 26.0),
        ("Pos.", 26.0),
    ];
    if b.has_cumulative() {
        tail.extend([("Cum. avg", 34.0), ("Cum. gr.", 28.0), ("Cum. pos.", 30.0)]);
    }
    let mut cols = Columns {
        sn: 16.0,
        name,
        adm,
        score: 0.0,
        grade: 0.0,
        tail,
        subjects: r.subjects.len(),
    };
    let fixed = cols.width();
    let n = r.subjects.len().max(1) as f32;
    let room = |sheet: &Sheet| sheet.w - 2.0 * MARGIN - fixed;
    let sheet = match paper {
        Some(Paper::A4) => A4,
        Some(Paper::A3) => A3,
        None if room(&A4) / n >= PAIR_MIN => A4,
        None => A3,
    };
    // Below the minimum (many subjects, or A4 asked for) the text shrinks to fit.
    let pair = (room(&sheet) / n).clamp(20.0, PAIR_MAX);
    cols.score = pair * 0.58;
    cols.grade = pair - cols.score;
    // What is left widens the name column.
    let spare = sheet.w - 2.0 * MARGIN - cols.width();
    if spare > 0.0 {
        cols.name += spare.min(170.0 - cols.name).max(0.0);
    }
    (sheet, cols)
}

pub(super) fn layout_broadsheet(b: &Broadsheet, paper: Option<Paper>) -> Vec<PdfPage> {
    let (sheet, cols) = plan(b, paper);
    let mut l = Layout {
        b,
        sheet,
        cols,
        done: Vec::new(),
        page: Painter::with_height(sheet.h),
        y: 0.0,
        table_top: 0.0,
        stats_top: None,
    };
    let title = format!("Broadsheet · {}", b.title());
    l.start_page(&title);
    l.table_head();
    for (i, pupil) in b.results.pupils.iter().enumerate() {
        if l.y + ROW_H > l.bottom() {
            l.close_table();
            l.break_page(&title);
            l.table_head();
        }
        l.pupil_row(i, pupil);
    }
    l.stats_rows(&title);
    l.close_table();
    l.legend(&title);
    l.break_page(&format!("Results meeting summary · {}", b.title()));
    l.summary();
    l.finish()
}

/// The pages while they are being laid out.
struct Layout<'a> {
    b: &'a Broadsheet,
    sheet: Sheet,
    cols: Columns,
    done: Vec<Painter>,
    page: Painter,
    /// Cursor: top of the next thing to draw.
    y: f32,
    /// Top of the table's head on this page (for its vertical rules).
    table_top: f32,
    /// Top of the subject statistics, once drawn: the rules inside the fixed columns and
    /// between score and grade stop there, the figures below spanning both.
    stats_top: Option<f32>,
}

impl Layout<'_> {
    fn left(&self) -> f32 {
        MARGIN
    }

    fn right(&self) -> f32 {
        self.sheet.w - MARGIN
    }

    fn content_w(&self) -> f32 {
        self.sheet.w - 2.0 * MARGIN
    }

    fn bottom(&self) -> f32 {
        self.sheet.h - FOOTER_H
    }

    /// Baseline of `size`-point text centred in a band from `top`, `height` tall.
    fn baseline(top: f32, height: f32, size: f32) -> f32 {
        top + height / 2.0 + size * 0.36
    }

    /// The page's heading: the school, what the page is, the class's key figures.
    fn start_page(&mut self, title: &str) {
        let (left, w) = (self.left(), self.content_w());
        let top = MARGIN;
        self.page.text_box(
            &self.b.school,
            (left, w * 0.6),
            top + 11.0,
            Align::Left,
            Style::new(Face::Bold, 13.0, INK),
        );
        self.page.text_box(
            title,
            (left, w * 0.62),
            top + 24.0,
            Align::Left,
            Style::new(Face::Regular, 9.5, INK),
        );
        let s = &self.b.summary;
        let mut facts = vec![
            format!("Pupils {}", s.pupils),
            format!("Class average {}", format_score(s.class_average)),
        ];
        let pass = self.b.pass_mark_text();
        if !pass.is_empty() {
            facts.push(pass);
        }
        self.page.text_box(
            &facts.join(" · "),
            (left + w * 0.62, w * 0.38),
            top + 24.0,
            Align::Right,
            Style::new(Face::Regular, 8.0, MUTED),
        );
        self.page.hline(left, self.right(), top + 30.0, 0.8, ACCENT);
        self.y = top + 38.0;
    }

    fn break_page(&mut self, title: &str) {
        let finished = mem::replace(&mut self.page, Painter::with_height(self.sheet.h));
        self.done.push(finished);
        self.start_page(title);
    }

    fn table_head(&mut self) {
        let (x0, c) = (self.left(), self.cols.clone());
        let top = self.y;
        let h = HEAD1_H + HEAD2_H;
        self.table_top = top;
        self.stats_top = None;
        self.page.fill_rect((x0, top, c.width(), h), SHADE);
        let both = Self::baseline(top, h, FONT);
        let mut x = x0;
        for (text, w, align) in [
            ("S/N", c.sn, Align::Center),
            ("Name", c.name, Align::Left),
            ("Adm. No.", c.adm, Align::Left),
        ] {
            self.page
                .text_box(text, (x + PAD, w - 2.0 * PAD), both, align, BOLD);
            x += w;
        }
        for (i, code) in self.b.codes.iter().enumerate() {
            let x = c.subject_x(x0, i);
            self.page.text_box(
                code,
                (x + PAD, c.pair() - 2.0 * PAD),
                Self::baseline(top, HEAD1_H, FONT),
                Align::Center,
                BOLD,
            );
            let low = Self::baseline(top + HEAD1_H, HEAD2_H, SMALL_MUTED.size);
            self.page.text_box(
                "Score",
                (x + 1.0, c.score - 2.0),
                low,
                Align::Center,
                SMALL_MUTED,
            );
            self.page.text_box(
                "Gr.",
                (x + c.score + 1.0, c.grade - 2.0),
                low,
                Align::Center,
                SMALL_MUTED,
            );
            self.page
                .hline(x + 2.0, x + c.pair() - 2.0, top + HEAD1_H, 0.3, RULE);
        }
        let mut x = c.tail_x(x0);
        for (text, w) in &c.tail {
            self.page
                .text_box(text, (x + 1.0, w - 2.0), both, Align::Center, BOLD);
            x += w;
        }
        self.y = top + h;
        self.page.hline(x0, x0 + c.width(), self.y, 0.6, INK);
    }

    fn pupil_row(&mut self, i: usize, p: &crate::assessment::results::PupilResult) {
        let (x0, c) = (self.left(), self.cols.clone());
        let top = self.y;
        if i % 2 == 1 {
            self.page.fill_rect((x0, top, c.width(), ROW_H), ZEBRA);
        }
        let base = Self::baseline(top, ROW_H, FONT);
        let mut x = x0;
        self.page.text_box(
            &(i + 1).to_string(),
            (x + PAD, c.sn - 2.0 * PAD),
            base,
            Align::Right,
            Style::new(Face::Regular, FONT, MUTED),
        );
        x += c.sn;
        self.page.text_box(
            &p.full_name,
            (x + PAD, c.name - 2.0 * PAD),
            base,
            Align::Left,
            REGULAR,
        );
        x += c.name;
        self.page.text_box(
            &p.admission_no,
            (x + PAD, c.adm - 2.0 * PAD),
            base,
            Align::Left,
            Style::new(Face::Regular, FONT - 0.5, INK),
        );
        for (k, s) in self.b.results.subjects.iter().enumerate() {
            let x = c.subject_x(x0, k);
            let outstanding = p
                .subjects
                .iter()
                .any(|l| l.exam_id == s.exam_id && l.status.is_outstanding());
            if outstanding {
                self.page.fill_rect(
                    (x + 0.5, top + 0.5, c.pair() - 1.0, ROW_H - 1.0),
                    OUTSTANDING,
                );
            }
            let (score, grade) = cell_text(p, s.exam_id);
            self.page.text_box(
                &score,
                (x + 1.0, c.score - 2.0),
                base,
                Align::Center,
                REGULAR,
            );
            if let Some(g) = grade {
                self.page.text_box(
                    &g,
                    (x + c.score + 0.5, c.grade - 1.0),
                    base,
                    Align::Center,
                    Style::new(Face::Regular, FONT - 0.5, MUTED),
                );
            }
        }
        let optional = |v: Option<f64>| v.map(format_score).unwrap_or_else(|| "–".into());
        let mut cells = vec![
            (format_score(p.total), REGULAR),
            (optional(p.average), BOLD),
            (p.grade.clone().unwrap_or_default(), REGULAR),
            (position_text(p), BOLD),
        ];
        if self.b.has_cumulative() {
            cells.extend([
                (optional(p.cumulative_average), REGULAR),
                (p.cumulative_grade.clone().unwrap_or_default(), REGULAR),
                (
                    p.cumulative_position
                        .map(ordinal)
                        .unwrap_or_else(|| "–".into()),
                    REGULAR,
                ),
            ]);
        }
        let mut x = c.tail_x(x0);
        for ((text, style), (_, w)) in cells.iter().zip(&c.tail) {
            self.page
                .text_box(text, (x + 1.0, w - 2.0), base, Align::Center, *style);
            x += w;
        }
        self.y += ROW_H;
    }

    /// The subject statistics under the pupils, kept together (with the head repeated on a
    /// new page when they do not fit under the last pupil).
    fn stats_rows(&mut self, title: &str) {
        let b = self.b;
        let r = &b.results;
        let rows: Vec<(&str, Vec<String>)> = vec![
            (
                "With a mark",
                r.subjects.iter().map(|s| s.pupils.to_string()).collect(),
            ),
            (
                "Average",
                r.subjects.iter().map(|s| opt(s.average)).collect(),
            ),
            (
                "Highest",
                r.subjects.iter().map(|s| opt(s.highest)).collect(),
            ),
            ("Lowest", r.subjects.iter().map(|s| opt(s.lowest)).collect()),
            (
                "Passed",
                b.summary
                    .subjects
                    .iter()
                    .map(|s| s.distribution.passed.to_string())
                    .collect(),
            ),
            (
                "Pass rate",
                b.summary
                    .subjects
                    .iter()
                    .map(|s| rate(&s.distribution))
                    .collect(),
            ),
        ];
        if self.y + ROW_H * rows.len() as f32 > self.bottom() {
            self.close_table();
            self.break_page(title);
            self.table_head();
        }
        let (x0, c) = (self.left(), self.cols.clone());
        self.page.hline(x0, x0 + c.width(), self.y, 0.8, INK);
        self.stats_top = Some(self.y);
        for (label, figures) in rows {
            let top = self.y;
            self.page.fill_rect((x0, top, c.width(), ROW_H), ZEBRA);
            let base = Self::baseline(top, ROW_H, FONT);
            self.page.text_box(
                label,
                (x0 + PAD, c.fixed() - 2.0 * PAD),
                base,
                Align::Right,
                BOLD,
            );
            for (k, figure) in figures.iter().enumerate() {
                let x = c.subject_x(x0, k);
                self.page.text_box(
                    figure,
                    (x + 1.0, c.pair() - 2.0),
                    base,
                    Align::Center,
                    REGULAR,
                );
            }
            if label == "Average" {
                let x = c.tail_x(x0) + c.tail.first().map_or(0.0, |t| t.1);
                let w = c.tail.get(1).map_or(0.0, |t| t.1);
                self.page.text_box(
                    &format_score(r.class_average),
                    (x + 1.0, w - 2.0),
                    base,
                    Align::Center,
                    BOLD,
                );
            }
            self.y += ROW_H;
        }
    }

    /// The table's frame and column rules on this page, from its head to the cursor.
    fn close_table(&mut self) {
        let (x0, c) = (self.left(), self.cols.clone());
        let (top, bottom) = (self.table_top, self.y);
        let inner = self.stats_top.unwrap_or(bottom);
        let mut x = x0;
        for w in [c.sn, c.name] {
            x += w;
            self.page.vline(x, top, inner, 0.3, RULE);
        }
        x += c.adm;
        self.page.vline(x, top, bottom, 0.3, RULE);
        for i in 0..c.subjects {
            let left = c.subject_x(x0, i);
            self.page
                .vline(left + c.score, top + HEAD1_H, inner, 0.2, RULE);
            self.page.vline(left + c.pair(), top, bottom, 0.6, RULE);
        }
        let mut x = c.tail_x(x0);
        for (_, w) in &c.tail {
            x += w;
            self.page.vline(x, top, bottom, 0.3, RULE);
        }
        self.page
            .stroke_rect((x0, top, c.width(), bottom - top), 0.8, INK);
    }

    /// What the cells mean, and the subjects' abbreviations.
    fn legend(&mut self, title: &str) {
        let b = self.b;
        let key = b
            .summary
            .subjects
            .iter()
            .map(|s| format!("{} {}", s.code, s.subject_name))
            .collect::<Vec<_>>()
            .join(" · ");
        let text = format!(
            "Scores are subject totals out of 100 with their grade. ABS: absent from the exam · 75*: some components still empty (shaded) · –: no mark yet · blank: subject not taken · w/h: position withheld while marks are outstanding. {}\nSubjects: {key}",
            b.ranking_text()
        );
        let style = Style::new(Face::Regular, 7.0, MUTED);
        let lines = wrap(&text, style.face, style.size, self.content_w());
        let needed = 6.0 + 9.0 * lines.len() as f32;
        if self.y + needed > self.bottom() {
            self.break_page(title);
        }
        self.y += 6.0;
        for line in lines {
            self.y += 9.0;
            self.page.text(&line, self.left(), self.y, style);
        }
    }

    /// Starts a new page unless `height` still fits under the cursor.
    fn ensure(&mut self, height: f32, title: &str) {
        if self.y + height > self.bottom() {
            self.break_page(title);
        }
    }

    /// The meeting's page: facts, each subject's pass rate and grade spread, top pupils.
    fn summary(&mut self) {
        let b = self.b;
        let s = &b.summary;
        let title = format!("Results meeting summary · {}", b.title());
        let (x0, w) = (self.left(), self.content_w());
        let mut facts = vec![
            format!("Pupils: {}", s.pupils),
            format!("Class average: {}", format_score(s.class_average)),
        ];
        let pass = b.pass_mark_text();
        if !pass.is_empty() {
            facts.push(pass);
        }
        facts.push(format!("Positions withheld: {}", s.positions_withheld));
        self.y += 4.0;
        self.page.text_box(
            &facts.join("   ·   "),
            (x0, w),
            self.y + 9.0,
            Align::Left,
            Style::new(Face::Regular, 9.0, INK),
        );
        self.y += 20.0;
        self.heading("By subject");

        // Code, subject, with a mark, ABS, outstanding, average, highest, lowest, passed,
        // pass rate, then one column per grade.
        let numbers = [
            ("With a mark", 44.0),
            ("ABS", 30.0),
            ("Outst.", 34.0),
            ("Average", 40.0),
            ("Highest", 40.0),
            ("Lowest", 40.0),
            ("Passed", 38.0),
            ("Pass rate", 44.0),
        ];
        let (code_w, subject_w) = (38.0, 150.0);
        let fixed: f32 = code_w + subject_w + numbers.iter().map(|n| n.1).sum::<f32>();
        let grade_w = ((w - fixed) / s.grades.len().max(1) as f32).clamp(12.0, 28.0);
        let row_h = ROW_H + 1.0;
        let head = |l: &mut Self| {
            let top = l.y;
            let width = fixed + grade_w * s.grades.len() as f32;
            l.page.fill_rect((x0, top, width, HEAD1_H), SHADE);
            let base = Self::baseline(top, HEAD1_H, FONT);
            let mut x = x0;
            l.page.text_box(
                "Code",
                (x + PAD, code_w - 2.0 * PAD),
                base,
                Align::Left,
                BOLD,
            );
            x += code_w;
            l.page.text_box(
                "Subject",
                (x + PAD, subject_w - 2.0 * PAD),
                base,
                Align::Left,
                BOLD,
            );
            x += subject_w;
            for (text, cw) in numbers {
                l.page
                    .text_box(text, (x + 1.0, cw - 2.0), base, Align::Center, BOLD);
                x += cw;
            }
            for g in &s.grades {
                l.page
                    .text_box(g, (x + 1.0, grade_w - 2.0), base, Align::Center, BOLD);
                x += grade_w;
            }
            l.y = top + HEAD1_H;
            l.page.hline(x0, x0 + width, l.y, 0.6, INK);
        };
        self.ensure(HEAD1_H + 2.0 * row_h, &title);
        head(self);
        let row = |l: &mut Self,
                   k: usize,
                   code: &str,
                   name: &str,
                   figures: [String; 8],
                   d: &Distribution,
                   style: Style| {
            let top = l.y;
            let width = fixed + grade_w * s.grades.len() as f32;
            if k % 2 == 1 {
                l.page.fill_rect((x0, top, width, row_h), ZEBRA);
            }
            let base = Self::baseline(top, row_h, FONT);
            let mut x = x0;
            l.page.text_box(
                code,
                (x + PAD, code_w - 2.0 * PAD),
                base,
                Align::Left,
                style,
            );
            x += code_w;
            l.page.text_box(
                name,
                (x + PAD, subject_w - 2.0 * PAD),
                base,
                Align::Left,
                style,
            );
            x += subject_w;
            for (text, (_, cw)) in figures.iter().zip(numbers) {
                l.page
                    .text_box(text, (x + 1.0, cw - 2.0), base, Align::Center, style);
                x += cw;
            }
            for g in &d.grades {
                let text = if g.count == 0 {
                    "·".to_owned()
                } else {
                    g.count.to_string()
                };
                l.page
                    .text_box(&text, (x + 1.0, grade_w - 2.0), base, Align::Center, style);
                x += grade_w;
            }
            l.y += row_h;
        };
        for (k, subject) in s.subjects.iter().enumerate() {
            if self.y + row_h > self.bottom() {
                self.break_page(&title);
                head(self);
            }
            let d = &subject.distribution;
            row(
                self,
                k,
                &subject.code,
                &subject.subject_name,
                [
                    d.counted.to_string(),
                    subject.absent.to_string(),
                    subject.outstanding.to_string(),
                    opt(subject.average),
                    opt(subject.highest),
                    opt(subject.lowest),
                    d.passed.to_string(),
                    rate(d),
                ],
                d,
                REGULAR,
            );
        }
        self.ensure(row_h, &title);
        let width = fixed + grade_w * s.grades.len() as f32;
        self.page.hline(x0, x0 + width, self.y, 0.6, INK);
        row(
            self,
            0,
            "All",
            "Pupils' averages",
            [
                s.overall.counted.to_string(),
                String::new(),
                String::new(),
                format_score(s.class_average),
                String::new(),
                String::new(),
                s.overall.passed.to_string(),
                rate(&s.overall),
            ],
            &s.overall,
            BOLD,
        );
        self.page.hline(x0, x0 + width, self.y, 0.6, INK);
        self.y += 14.0;

        self.ensure(20.0 + HEAD1_H + row_h * 3.0, &title);
        self.heading("Top pupils");
        let cols = [
            ("Position", 52.0, Align::Center),
            ("Name", 190.0, Align::Left),
            ("Adm. No.", 90.0, Align::Left),
            ("Total", 50.0, Align::Center),
            ("Average", 50.0, Align::Center),
            ("Grade", 44.0, Align::Center),
        ];
        let width: f32 = cols.iter().map(|c| c.1).sum();
        let top = self.y;
        self.page.fill_rect((x0, top, width, HEAD1_H), SHADE);
        let mut x = x0;
        for (text, cw, align) in cols {
            self.page.text_box(
                text,
                (x + PAD, cw - 2.0 * PAD),
                Self::baseline(top, HEAD1_H, FONT),
                align,
                BOLD,
            );
            x += cw;
        }
        self.y = top + HEAD1_H;
        self.page.hline(x0, x0 + width, self.y, 0.6, INK);
        if s.top_pupils.is_empty() {
            self.y += 4.0;
            self.page.text(
                "No positions yet: every pupil has marks outstanding, or none are entered.",
                x0 + PAD,
                self.y + 8.0,
                Style::new(Face::Italic, 8.0, MUTED),
            );
            self.y += 12.0;
        }
        for (k, p) in s.top_pupils.iter().enumerate() {
            self.ensure(row_h, &title);
            let top = self.y;
            if k % 2 == 1 {
                self.page.fill_rect((x0, top, width, row_h), ZEBRA);
            }
            let base = Self::baseline(top, row_h, FONT);
            let texts = [
                ordinal(p.position),
                p.full_name.clone(),
                p.admission_no.clone(),
                format_score(p.total),
                opt(p.average),
                p.grade.clone().unwrap_or_default(),
            ];
            let mut x = x0;
            for (text, (_, cw, align)) in texts.iter().zip(cols) {
                self.page
                    .text_box(text, (x + PAD, cw - 2.0 * PAD), base, align, REGULAR);
                x += cw;
            }
            self.y += row_h;
        }
        if s.positions_withheld > 0 {
            self.ensure(16.0, &title);
            self.y += 12.0;
            let n = s.positions_withheld;
            self.page.text(
                &format!(
                    "Positions are withheld for {n} pupil{} with outstanding marks until the marks are entered or the head confirms the results.",
                    if n == 1 { "" } else { "s" }
                ),
                x0,
                self.y,
                Style::new(Face::Italic, 8.0, MUTED),
            );
        }
    }

    fn heading(&mut self, text: &str) {
        self.page.text(
            text,
            self.left(),
            self.y + 10.0,
            Style::new(Face::Bold, 10.0, ACCENT),
        );
        self.y += 16.0;
    }

    /// Adds the footers ("Page n of m") and hands the pages over.
    fn finish(mut self) -> Vec<PdfPage> {
        let last = mem::take(&mut self.page);
        self.done.push(last);
        let total = self.done.len();
        let (left, right, w) = (self.left(), self.right(), self.content_w());
        let small = Style::new(Face::Regular, 7.0, MUTED);
        let baseline = self.sheet.h - 14.0;
        let generated = format!(
            "Generated by Schoolyard on {}",
            self.b.generated_at.format("%-d %B %Y, %H:%M %Z")
        );
        let title = self.b.title();
        let sheet = self.sheet;
        self.done
            .into_iter()
            .enumerate()
            .map(|(i, mut page)| {
                page.hline(left, right, sheet.h - 23.0, 0.4, RULE);
                page.text(&generated, left, baseline, small);
                page.text_box(
                    &title,
                    (left + w * 0.3, w * 0.4),
                    baseline,
                    Align::Center,
                    small,
                );
                page.text_box(
                    &format!("Page {} of {total}", i + 1),
                    (right - 80.0, 80.0),
                    baseline,
                    Align::Right,
                    small,
                );
                PdfPage::new(Mm(sheet.mm.0), Mm(sheet.mm.1), page.ops)
            })
            .collect()
    }
}

fn opt(v: Option<f64>) -> String {
    v.map(format_score).unwrap_or_else(|| "–".into())
}

fn rate(d: &Distribution) -> String {
    d.pass_rate
        .map(|r| format!("{}%", format_score(r)))
        .unwrap_or_else(|| "–".into())
}
