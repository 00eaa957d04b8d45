//! The report card's layout: header, pupil block, subject table, summary, ratings,
//! comments, signatures and grading key, flowing over as many pages as the pupil needs.

use std::mem;

use printpdf::{Mm, PdfPage};

use super::font::Face;
use super::paint::{
    ACCENT, Align, INK, MIN_FONT, MUTED, PAGE_H, PAGE_W, Painter, Pictures, RULE, SHADE, Style,
    WHITE,
};
use super::text::{fit, measure, optional_score, pdf_text, position_text, score_text, wrap};
use crate::assessment::card::{
    CommentLine, CumulativeSummary, GradeKey, RatingGroup, ReportCard, SubjectLine, ordinal,
};

/// Page margins: 12 mm.
const MARGIN: f32 = 34.0;
const LEFT: f32 = MARGIN;
const RIGHT: f32 = PAGE_W - MARGIN;
const CONTENT_W: f32 = RIGHT - LEFT;
const TOP: f32 = MARGIN;
/// Lowest point content may reach; the footer rule and text sit below it.
const BOTTOM: f32 = PAGE_H - 32.0;
/// Horizontal padding inside table cells.
const PAD: f32 = 3.0;

#[derive(Debug, Clone)]
struct Column {
    /// Header lines, drawn centred (left-aligned for text columns).
    head: Vec<String>,
    width: f32,
    align: Align,
    /// Long text wraps onto more lines (the row grows) instead of shrinking.
    wrap: bool,
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
        self.head_h + self.rows.iter().map(|r| self.row_height(r)).sum::<f32>()
    }

    /// A wrapping cell's lines and font size: whole at the table's font where four lines
    /// hold it, else a little smaller (the last resort), still whole.
    fn wrapped(&self, column: &Column, cell: &Cell) -> (Vec<String>, f32) {
        let width = column.width - 2.0 * PAD;
        let lines = wrap(&cell.text, cell.face, self.font, width);
        if lines.len() <= 4 {
            return (lines, self.font);
        }
        let smaller = self.font * 0.85;
        (wrap(&cell.text, cell.face, smaller, width), smaller)
    }

    /// A row is as tall as its longest wrapped cell, and never less than `row_h`.
    fn row_height(&self, row: &[Cell]) -> f32 {
        self.columns
            .iter()
            .zip(row)
            .filter(|(column, _)| column.wrap)
            .map(|(column, cell)| {
                let (lines, size) = self.wrapped(column, cell);
                lines.len() as f32 * (size + 1.5) + 4.0
            })
            .fold(self.row_h, f32::max)
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

pub(super) fn layout_card(card: &ReportCard, pictures: &Pictures) -> Vec<PdfPage> {
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
        let block_h = self.header_pictures();
        // Keep the school name centred on the page whether or not pictures flank it.
        let side = if self.pictures.logo.is_some() || self.pictures.photo.is_some() {
            HEADER_PHOTO_W + 10.0
        } else {
            0.0
        };
        let band = (LEFT + side, CONTENT_W - 2.0 * side);
        let lines = school_lines(self.card, band.1);
        let text_h = lines.iter().map(|(_, _, advance)| advance).sum::<f32>() + 4.0;
        // Beside a logo or photo the text block is centred on them vertically.
        let mut baseline = TOP + ((block_h - text_h) / 2.0).max(0.0);
        for (text, style, advance) in &lines {
            baseline += advance;
            self.page
                .text_box(text, band, baseline, Align::Center, *style);
        }
        self.y = TOP + block_h.max(text_h) + 6.0;
        self.title_bar();
        self.gap();
    }

    /// The school's logo at the left and the pupil's framed photo at the right; returns
    /// the height they take.
    fn header_pictures(&mut self) -> f32 {
        const LOGO: f32 = 60.0;
        const PHOTO_H: f32 = 70.0;
        let mut block_h: f32 = 0.0;
        if let Some(logo) = &self.pictures.logo {
            self.page.picture(logo, (LEFT, TOP, LOGO, LOGO));
            block_h = block_h.max(LOGO);
        }
        if let Some(photo) = &self.pictures.photo {
            let frame = (RIGHT - HEADER_PHOTO_W, TOP, HEADER_PHOTO_W, PHOTO_H);
            self.page.picture(
                photo,
                (
                    frame.0 + 2.0,
                    frame.1 + 2.0,
                    HEADER_PHOTO_W - 4.0,
                    PHOTO_H - 4.0,
                ),
            );
            self.page.stroke_rect(frame, 0.6, RULE);
            block_h = block_h.max(PHOTO_H);
        }
        block_h
    }

    /// The report's title on the left, the exam session on the right.
    fn title_bar(&mut self) {
        const BAR_H: f32 = 18.0;
        let period = &self.card.period;
        let baseline = self.y + 12.4;
        self.page
            .fill_rect((LEFT, self.y, CONTENT_W, BAR_H), ACCENT);
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
        self.y += BAR_H;
    }

    // -- 2. Pupil block ----------------------------------------------------------------

    fn pupil_block(&mut self) {
        const ROW: f32 = 12.5;
        const NAME_ROW: f32 = 20.0;
        let pupil = &self.card.pupil;
        let (left, right) = pupil_facts(self.card);
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
        let keep = table.head_h
            + table
                .rows
                .iter()
                .take(3)
                .map(|r| table.row_height(r))
                .sum::<f32>();
        self.ensure(keep);
        let mut segment_top = self.y;
        self.table_head(table);
        for row in &table.rows {
            if self.y + table.row_height(row) > BOTTOM {
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
        let height = table.row_height(row);
        let baseline = self.y + height / 2.0 + table.font * 0.36;
        let mut x = table.x;
        for (column, cell) in table.columns.iter().zip(row) {
            let boxed = (x + PAD, column.width - 2.0 * PAD);
            if column.wrap {
                let (lines, size) = table.wrapped(column, cell);
                let line_h = size + 1.5;
                let first = self.y + (height - lines.len() as f32 * line_h) / 2.0 + size * 0.85;
                for (i, line) in lines.iter().enumerate() {
                    let style = Style::new(cell.face, size, INK);
                    self.page
                        .text_box(line, boxed, first + line_h * i as f32, column.align, style);
                }
            } else {
                let style = Style::new(cell.face, table.font, INK);
                self.page
                    .text_box(&cell.text, boxed, baseline, column.align, style);
            }
            x += column.width;
        }
        self.y += height;
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
        let card = self.card;
        let items = summary_items(card);
        let grid_rows = items.len().div_ceil(SUMMARY_COLS);
        let cumulative_h = if card.cumulative.is_some() {
            SUMMARY_CELL_H
        } else {
            0.0
        };
        let height = SUMMARY_TITLE_H + SUMMARY_CELL_H * grid_rows as f32 + cumulative_h;
        self.ensure(height);
        let top = self.y;
        self.page
            .fill_rect((LEFT, top, CONTENT_W, SUMMARY_TITLE_H), SHADE);
        self.page.text(
            "SUMMARY OF PERFORMANCE",
            LEFT + 6.0,
            top + 10.0,
            Style::new(Face::Bold, 8.0, INK),
        );
        self.summary_grid(&items, top + SUMMARY_TITLE_H);
        if let Some(cumulative) = &card.cumulative {
            let y = top + SUMMARY_TITLE_H + SUMMARY_CELL_H * grid_rows as f32;
            self.cumulative_line(cumulative, y);
        }
        self.page
            .stroke_rect((LEFT, top, CONTENT_W, height), 0.7, RULE);
        self.y = top + height;
        self.gap();
    }

    /// The figures in rows of [`SUMMARY_COLS`] labelled cells from `top` down.
    fn summary_grid(&mut self, items: &[(&str, String)], top: f32) {
        let grid_rows = items.len().div_ceil(SUMMARY_COLS);
        let cell_w = CONTENT_W / SUMMARY_COLS as f32;
        let label = Style::new(Face::Regular, 7.5, MUTED);
        let value = Style::new(Face::Bold, 10.5, INK);
        for (i, (l, v)) in items.iter().enumerate() {
            let x = LEFT + cell_w * (i % SUMMARY_COLS) as f32;
            let y = top + SUMMARY_CELL_H * (i / SUMMARY_COLS) as f32;
            self.page.text(l, x + 6.0, y + 9.5, label);
            self.page
                .text_box(v, (x + 6.0, cell_w - 12.0), y + 21.0, Align::Left, value);
        }
        for c in 1..SUMMARY_COLS {
            let x = LEFT + cell_w * c as f32;
            self.page
                .vline(x, top, top + SUMMARY_CELL_H * grid_rows as f32, 0.35, RULE);
        }
        self.page.hline(LEFT, RIGHT, top, 0.5, RULE);
    }

    /// The third-term line under the grid: cumulative average, grade and position.
    fn cumulative_line(&mut self, cumulative: &CumulativeSummary, y: f32) {
        let card = self.card;
        let overall = &card.overall;
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
            Style::new(Face::Regular, 7.5, MUTED),
        );
        let mut parts = vec![format!("Average {}", score_text(cumulative.average))];
        if !cumulative.grade.trim().is_empty() {
            parts.push(format!("Grade {}", cumulative.grade.trim()));
        }
        if card.settings.show_position {
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

/// Width of the photo frame; the header keeps this much clear on both sides of the
/// school's name when there is a picture.
const HEADER_PHOTO_W: f32 = 58.0;

/// The school's name, address (two lines at most) and motto as (text, style, distance from
/// the previous baseline), to be centred as a block in `width`.
fn school_lines(card: &ReportCard, width: f32) -> Vec<(String, Style, f32)> {
    let school = &card.school;
    let mut lines: Vec<(String, Style, f32)> = Vec::new();
    let (name, size) = fit(&school.name, Face::Bold, 18.0, 11.0, width);
    if !name.is_empty() {
        lines.push((name, Style::new(Face::Bold, size, ACCENT), size * 0.95));
    }
    let small = Style::new(Face::Regular, 8.5, INK);
    let mut address = wrap(&school.address, Face::Regular, 8.5, width);
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
    lines
}

/// One column of the pupil block: (label, value).
type Facts = Vec<(&'static str, String)>;

/// The pupil block's two columns: who the pupil is, then the term's dates and attendance.
fn pupil_facts(card: &ReportCard) -> (Facts, Facts) {
    let pupil = &card.pupil;
    let period = &card.period;
    let date = |d: chrono::NaiveDate| d.format("%-d %b %Y").to_string();
    let left: Facts = vec![
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
    let mut right: Facts = vec![
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
    (left, right)
}

const SUMMARY_TITLE_H: f32 = 14.0;
const SUMMARY_CELL_H: f32 = 25.0;
const SUMMARY_COLS: usize = 3;

/// The term's overall figures as (label, value), position only where the school shows it.
fn summary_items(card: &ReportCard) -> Vec<(&'static str, String)> {
    let overall = &card.overall;
    let mut items: Vec<(&str, String)> = vec![
        ("Total", score_text(overall.total)),
        ("Average", score_text(overall.average)),
    ];
    if card.settings.show_position {
        let position = if overall.position_withheld {
            "Withheld: marks outstanding".to_owned()
        } else {
            position_text(overall.position, overall.out_of, card.pupil.class_size)
        };
        items.push(("Position", position));
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
    items
}

// ---------------------------------------------------------------------------------------
// Table builders
// ---------------------------------------------------------------------------------------

/// One column before widths are settled.
struct ColumnSpec {
    head: Vec<String>,
    align: Align,
    cells: Vec<Cell>,
    wrap: bool,
}

impl ColumnSpec {
    fn numeric(head: &[&str], cells: Vec<Cell>) -> Self {
        Self {
            head: head.iter().map(|h| (*h).to_owned()).collect(),
            align: Align::Center,
            cells,
            wrap: false,
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
    const FONT: f32 = 8.0;
    const HEAD_FONT: f32 = 7.0;
    let mut specs = score_columns(card);
    specs.extend(standing_columns(card));
    let mut widths: Vec<f32> = specs
        .iter()
        .map(|s| {
            s.natural_width(FONT, HEAD_FONT)
                .clamp(MIN_NUMBER_W, MAX_NUMBER_W)
        })
        .collect();
    let remark = remark_column(card);
    // Long teachers' remarks get a wider column (they wrap within it).
    let widest_remark = if remark.cells.iter().any(|c| c.text.chars().count() > 60) {
        150.0
    } else {
        84.0
    };
    widths.push(
        remark
            .natural_width(FONT, HEAD_FONT)
            .clamp(52.0, widest_remark),
    );
    specs.push(remark);
    let subject_w = squeeze_beside_subject(&mut widths);

    let mut columns = vec![Column {
        head: vec!["Subject".to_owned()],
        width: subject_w,
        align: Align::Left,
        wrap: false,
    }];
    columns.extend(specs.iter().zip(&widths).map(|(spec, width)| Column {
        head: spec.head.clone(),
        width: *width,
        align: spec.align,
        wrap: spec.wrap,
    }));
    let head_lines = columns.iter().map(|c| c.head.len()).max().unwrap_or(1);
    Table {
        x: LEFT,
        columns,
        rows: subject_rows(card, &specs),
        font: FONT,
        head_font: HEAD_FONT,
        row_h,
        head_h: head_lines as f32 * (HEAD_FONT + 1.5) + 7.0,
    }
}

/// One cell per subject, made by `cell`.
fn per_subject(card: &ReportCard, cell: impl Fn(&SubjectLine) -> Cell) -> Vec<Cell> {
    card.subjects.iter().map(cell).collect()
}

/// The components' marks ("CA1 (20)" …), the total, and on a third-term card each term's
/// total and the cumulative figure.
fn score_columns(card: &ReportCard) -> Vec<ColumnSpec> {
    let mut specs: Vec<ColumnSpec> = Vec::new();
    for (i, component) in card.components.iter().enumerate() {
        let max = score_text(component.max_score);
        let head = [component.name.trim().to_owned(), format!("({max})")];
        let head: Vec<&str> = head.iter().map(String::as_str).collect();
        specs.push(ColumnSpec::numeric(
            &head,
            per_subject(card, |s| {
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
        per_subject(card, |s| Cell::new(s.total_text(), Face::Bold)),
    ));
    if card.cumulative.is_some() {
        // Two grades on a third-term card, each headed with what it grades.
        specs.push(ColumnSpec::numeric(
            &["Term", "grade"],
            per_subject(card, |s| Cell::new(s.grade.clone(), Face::Bold)),
        ));
        for (term, label) in ["1st", "2nd", "3rd"].into_iter().enumerate() {
            specs.push(ColumnSpec::numeric(
                &[label, "term"],
                per_subject(card, |s| {
                    let value = s.term_totals.and_then(|t| t.get(term).copied().flatten());
                    Cell::new(optional_score(value), Face::Regular)
                }),
            ));
        }
        specs.push(ColumnSpec::numeric(
            &["Cum."],
            per_subject(card, |s| {
                Cell::new(optional_score(s.cumulative), Face::Bold)
            }),
        ));
        specs.push(ColumnSpec::numeric(
            &["Cum.", "grade"],
            per_subject(card, |s| {
                Cell::new(s.cumulative_grade.clone().unwrap_or_default(), Face::Bold)
            }),
        ));
    }
    specs
}

/// A per-subject class figure: average, highest or lowest.
type SubjectFigure = fn(&SubjectLine) -> f64;

/// Grade, and as the school's settings ask, position and the class's figures.
fn standing_columns(card: &ReportCard) -> Vec<ColumnSpec> {
    // A third-term card has its grades beside the figures they grade (`score_columns`).
    let mut specs = Vec::new();
    if card.cumulative.is_none() {
        specs.push(ColumnSpec::numeric(
            &["Grade"],
            per_subject(card, |s| Cell::new(s.grade.clone(), Face::Bold)),
        ));
    }
    if card.settings.show_position {
        specs.push(ColumnSpec::numeric(
            &["Pos."],
            per_subject(card, |s| {
                let text = s
                    .position
                    .filter(|p| *p > 0)
                    .map_or_else(|| "–".to_owned(), ordinal);
                Cell::new(text, Face::Regular)
            }),
        ));
    }
    if card.settings.show_class_stats {
        let stats: [(&[&str], SubjectFigure); 3] = [
            (&["Class", "avg"], |s| s.class_average),
            (&["Highest"], |s| s.highest),
            (&["Lowest"], |s| s.lowest),
        ];
        for (head, figure) in stats {
            specs.push(ColumnSpec::numeric(
                head,
                per_subject(card, |s| Cell::new(score_text(figure(s)), Face::Regular)),
            ));
        }
    }
    specs
}

/// The grade's remark, with the subject teacher's own remark after it.
fn remark_column(card: &ReportCard) -> ColumnSpec {
    ColumnSpec {
        head: vec!["Remark".to_owned()],
        align: Align::Left,
        // A teacher's remark prints whole: it wraps rather than shrinks.
        wrap: true,
        cells: per_subject(card, |s| {
            let text = match s.teacher_remark.as_deref().map(str::trim) {
                Some(t) if !t.is_empty() && s.remark.trim().is_empty() => t.to_owned(),
                Some(t) if !t.is_empty() => format!("{}; {t}", s.remark.trim()),
                _ => s.remark.trim().to_owned(),
            };
            Cell::new(text, Face::Regular)
        }),
    }
}

/// Shrinks the fixed columns together when many components crowd a card, never the
/// subject below [`MIN_SUBJECT_W`]; returns the subject column's width.
fn squeeze_beside_subject(widths: &mut [f32]) -> f32 {
    let fixed: f32 = widths.iter().sum();
    let room = CONTENT_W - MIN_SUBJECT_W;
    if fixed > room {
        let factor = room / fixed;
        for w in widths.iter_mut() {
            *w *= factor;
        }
    }
    CONTENT_W - widths.iter().sum::<f32>()
}

/// Each subject's name followed by its cells from `specs`.
fn subject_rows(card: &ReportCard, specs: &[ColumnSpec]) -> Vec<Vec<Cell>> {
    card.subjects
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
        .collect()
}

/// Trait | 5 | 4 | 3 | 2 | 1 with an "X" under the rating given.
fn rating_table(group: &RatingGroup, x: f32, width: f32, row_h: f32) -> Table {
    const MARK_W: f32 = 17.0;
    let mut columns = vec![Column {
        head: vec![group.title.clone()],
        width: width - MARK_W * 5.0,
        align: Align::Left,
        wrap: false,
    }];
    columns.extend((1..=5).rev().map(|n| Column {
        head: vec![n.to_string()],
        width: MARK_W,
        align: Align::Center,
        wrap: false,
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
