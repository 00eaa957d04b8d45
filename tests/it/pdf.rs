//! The report-card PDF renderer's text handling and layout, on odd input.

use crate::helpers::internals::{card::*, pdf::*};

#[test]
fn widths_follow_the_embedded_font() {
    // "Hello" in DejaVu Sans Condensed, 1/1000 em: H 676 + e 553 + l 250 + l 250 + o 550.
    let w = text_width("Hello", Face::Regular, 10.0);
    assert!((w - 22.79).abs() < 1e-3, "{w}");
    // Bold is wider, italic is not; accents, dots below and combining tone marks measure
    // like their base letter.
    assert!(text_width("Hello", Face::Bold, 10.0) > w);
    assert!((text_width("Hello", Face::Italic, 10.0) - w).abs() < 1e-3);
    let e = text_width("e", Face::Regular, 10.0);
    for letter in ["é", "ẹ", "ẹ\u{301}", "e\u{301}"] {
        let width = text_width(letter, Face::Regular, 10.0);
        assert!((width - e).abs() < 1e-6, "{letter}: {width} vs {e}");
    }
    assert!(text_width("₦", Face::Bold, 10.0) > 0.0);
    assert!(text_width("", Face::Bold, 12.0).abs() < f32::EPSILON);
}

#[test]
fn nigerian_letters_and_the_naira_sign_are_kept() {
    assert_eq!(pdf_text("Adéọlá"), "Adéọlá");
    assert_eq!(pdf_text("Ṣẹ\u{301}gun"), "Ṣẹ\u{301}gun");
    assert_eq!(pdf_text("Ọlọ\u{301}run"), "Ọlọ\u{301}run");
    assert_eq!(pdf_text("ịhụnanya ṅụọ"), "ịhụnanya ṅụọ");
    assert_eq!(pdf_text("ɓ ɗ ƙ ƴ Ɓ Ɗ Ƙ Ƴ"), "ɓ ɗ ƙ ƴ Ɓ Ɗ Ƙ Ƴ");
    assert_eq!(pdf_text("₦500"), "₦500");
    // Decomposed input is composed where Unicode has the letter.
    assert_eq!(pdf_text("Ade\u{301}s\u{323}o\u{323}la\u{301}"), "Adéṣọlá");
    assert_eq!(pdf_text("e\u{323}\u{301}"), "ẹ\u{301}");
    // A stray accent with no letter under it goes, and so do accents piled up past three.
    assert_eq!(pdf_text("\u{301}Ada \u{300}Obi"), "Ada Obi");
    let piled = pdf_text(&format!("x{}", "\u{301}".repeat(20)));
    assert_eq!(piled, format!("x{}", "\u{301}".repeat(3)));
    // What the font cannot show still falls back, and invisible characters vanish.
    assert_eq!(pdf_text("日本"), "??");
    assert_eq!(pdf_text("a😀b"), "a?b");
    assert_eq!(pdf_text("a\u{200B}b\u{2003}c\u{0}\u{AD}d"), "ab cd");
}

#[test]
fn fit_shrinks_then_truncates() {
    let name = "Oluwadamilare Chukwuemeka Adebayo-Williamson Babatunde";
    let (text, size) = fit(name, Face::Bold, 10.0, 8.0, 1000.0);
    assert_eq!((text.as_str(), size), (name, 10.0));
    let natural = measure(name, Face::Bold, 10.0);
    let (text, size) = fit(name, Face::Bold, 10.0, 8.0, natural * 0.9);
    assert_eq!(text, name);
    assert!((8.0..10.0).contains(&size));
    let (text, size) = fit(name, Face::Bold, 10.0, 8.0, 100.0);
    assert!(text.ends_with('…'));
    assert!(measure(&text, Face::Bold, size) <= 100.0);
    assert_eq!(fit(name, Face::Bold, 10.0, 8.0, 0.0).0, "");
    assert_eq!(fit(name, Face::Bold, 10.0, 8.0, 1.0).0, "");
}

#[test]
fn wrap_keeps_lines_within_width() {
    let text = "A diligent pupil who contributes in class. Keep it up!\n\nAnother paragraph with a Supercalifragilisticexpialidocious word.";
    let lines = wrap(text, Face::Regular, 9.0, 80.0);
    assert!(lines.len() > 3);
    assert!(lines.iter().all(|l| measure(l, Face::Regular, 9.0) <= 80.0));
    assert!(wrap("   ", Face::Regular, 9.0, 80.0).is_empty());
    // A width narrower than any glyph still terminates, one glyph per line.
    assert_eq!(wrap("abc", Face::Regular, 9.0, 0.5).len(), 3);
}

#[test]
fn positions_and_scores_read_naturally() {
    assert_eq!(position_text(Some(3), 41, 40), "3rd out of 41");
    assert_eq!(position_text(Some(3), 0, 40), "3rd out of 40");
    assert_eq!(position_text(Some(1), 0, 0), "1st");
    assert_eq!(position_text(None, 41, 41), "–");
    assert_eq!(score_text(f64::NAN), "–");
    assert_eq!(score_text(74.5), "74.5");
}

#[test]
fn empty_batch_is_an_error() {
    assert!(matches!(render_cards(&[]), Err(PdfError::NoCards)));
}

fn card(subjects: usize) -> ReportCard {
    let day = chrono::NaiveDate::default();
    ReportCard {
        school: SchoolHeader {
            name: "Test School".into(),
            address: "1 Road".into(),
            motto: String::new(),
            logo: None,
        },
        pupil: PupilHeader {
            full_name: "Ada Obi".into(),
            admission_no: "A/1".into(),
            class_name: "JSS 1".into(),
            sex: "Female".into(),
            age: None,
            photo: None,
            class_size: 0,
        },
        period: Period {
            session: "2025/2026".into(),
            term: "First Term".into(),
            term_starts: day,
            term_ends: day,
            next_term_begins: None,
            exam_session: String::new(),
        },
        attendance: None,
        components: vec![ComponentHeader {
            name: "Exam".into(),
            max_score: 100.0,
        }],
        subjects: (0..subjects)
            .map(|i| SubjectLine {
                subject: format!("Subject {i}"),
                scores: vec![],
                status: SubjectStatus::Complete,
                total: Some(f64::NAN),
                grade: String::new(),
                remark: String::new(),
                position: Some(0),
                class_average: f64::INFINITY,
                highest: 0.0,
                lowest: 0.0,
                term_totals: None,
                cumulative: None,
                cumulative_grade: None,
                teacher_remark: None,
            })
            .collect(),
        overall: Overall {
            total: 0.0,
            average: f64::NAN,
            subjects_taken: 0,
            outstanding: 0,
            position: None,
            position_withheld: false,
            out_of: 0,
            grade: String::new(),
            remark: String::new(),
            class_average: 0.0,
        },
        cumulative: None,
        ratings: vec![],
        comments: vec![],
        grading_key: vec![],
        settings: CardSettings {
            show_position: true,
            show_class_stats: true,
        },
    }
}

#[test]
fn odd_cards_render_without_failing() -> Result<(), PdfError> {
    let mut broken = card(0);
    broken.school.logo = Some(b"\x89PNG\r\n\x1a\nnot a png".to_vec());
    broken.pupil.photo = Some(vec![0xFF, 0xD8, 0xFF]);
    broken.pupil.full_name = "Ọlọ́run 日本 \u{0} \t".into();
    broken.school.motto = "\u{301}a\u{301}\u{302}\u{303}\u{304}\u{323}\u{324} \u{301}😀".into();
    let bytes = render_cards(&[broken, card(3)])?;
    assert!(bytes.starts_with(b"%PDF"));
    Ok(())
}

#[test]
fn long_tables_continue_on_later_pages() {
    let pages = |card: ReportCard| {
        let bytes = render_cards(&[card]).unwrap();
        lopdf::Document::load_mem(&bytes).unwrap().get_pages().len()
    };
    assert_eq!(pages(card(15)), 1);
    assert!(pages(card(80)) >= 2);
}

#[test]
fn yoruba_names_and_naira_amounts_render_and_extract() {
    let mut yoruba = card(3);
    yoruba.pupil.full_name = "Adéṣọlá Ọlọ\u{301}rùnfẹ\u{301}mi".into();
    yoruba.comments = vec![CommentLine {
        title: "Class teacher's comment".into(),
        text: "Adéṣọlá owes ₦500 for the excursion; Ìbàdàn, Ẹ\u{300}kọ\u{301}, ɓaƙo.".into(),
        by: Some("Mrs. Ògúnlẹ\u{300}yẹ".into()),
    }];
    let bytes = render_cards(&[yoruba]).unwrap();
    // Only the glyphs used are embedded: the three faces whole would be ~2 MB.
    assert!(bytes.len() < 100_000, "{} bytes", bytes.len());
    let doc = lopdf::Document::load_mem(&bytes).unwrap();
    let text = doc.extract_text(&[1]).unwrap();
    for expected in [
        "Adéṣọlá Ọlọ\u{301}rùnfẹ\u{301}mi",
        "₦500",
        "Ẹ\u{300}kọ\u{301}",
        "Ògúnlẹ\u{300}yẹ",
        "ɓaƙo",
    ] {
        assert!(text.contains(expected), "{expected} not in {text}");
    }
    assert!(!text.contains('?'), "{text}");
}

#[test]
fn tone_marked_names_print_in_a_subset_of_the_font() {
    let names = ["Adéṣọlá Ọlọ́rùnfẹ́mi", "Chukwuemeka Ọ̀kọ̀", "Ɗanjuma Ƙabir"];
    let cards: Vec<ReportCard> = names
        .iter()
        .map(|name| {
            let mut card = card(3);
            card.pupil.full_name = (*name).into();
            card.comments = vec![CommentLine {
                title: "Bursar".into(),
                text: format!("{name} owes ₦1,500."),
                by: None,
            }];
            card
        })
        .collect();
    let bytes = render_cards(&cards).unwrap();
    let doc = lopdf::Document::load_mem(&bytes).unwrap();
    let pages: Vec<u32> = doc.get_pages().keys().copied().collect();
    assert_eq!(pages.len(), 3);
    for (page, name) in pages.iter().zip(names) {
        let text = doc.extract_text(&[*page]).unwrap();
        // Extraction reads back the composed form the card printed.
        let printed = pdf_text(name);
        assert!(
            text.contains(&printed),
            "{printed} not on page {page}: {text}"
        );
        assert!(text.contains(&format!("{printed} owes ₦1,500.")), "{text}");
    }

    // Each face is embedded once, cut down to the glyphs used: far smaller than the
    // bundled font file (the smallest of the three is about 600 KB).
    let full = std::fs::metadata("static/fonts/DejaVuSansCondensed-Oblique.ttf")
        .unwrap()
        .len();
    let programs: Vec<usize> = doc
        .objects
        .values()
        .filter_map(|object| {
            let dict = object.as_dict().ok()?;
            let file = dict.get(b"FontFile2").ok()?.as_reference().ok()?;
            let stream = doc.get_object(file).ok()?.as_stream().ok()?;
            Some(
                stream
                    .decompressed_content()
                    .unwrap_or_else(|_| stream.content.clone())
                    .len(),
            )
        })
        .collect();
    assert!(!programs.is_empty());
    assert!(programs.len() <= 3, "{programs:?}");
    for size in programs {
        assert!(
            size > 0 && (size as u64) < full / 10,
            "{size} of {full} bytes"
        );
    }
}
