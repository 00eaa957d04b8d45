//! The report-card PDF renderer's text handling and layout, on odd input.

use schoolyard::assessment::{card::*, pdf::*};

#[test]
fn widths_follow_the_afm_tables() {
    // "Hello" in Helvetica: H 722 + e 556 + l 222 + l 222 + o 556 = 2278 units.
    let w = text_width("Hello", Face::Regular, 10.0);
    assert!((w - 22.78).abs() < 1e-3, "{w}");
    // Bold is wider, and accents measure like their base letter.
    assert!(text_width("Hello", Face::Bold, 10.0) > w);
    assert!(
        (text_width("é", Face::Regular, 10.0) - text_width("e", Face::Regular, 10.0)).abs() < 1e-6
    );
    assert!(text_width("", Face::Bold, 12.0).abs() < f32::EPSILON);
}

#[test]
fn non_win_ansi_letters_degrade_to_base_letters() {
    assert_eq!(pdf_text("Adéọlá"), "Adéolá");
    assert_eq!(pdf_text("Ṣẹ\u{301}gun"), "Ségun");
    assert_eq!(pdf_text("Ọlọ́run"), "Olórun");
    assert_eq!(pdf_text("ɓ ɗ ƙ ƴ"), "b d k y");
    assert_eq!(pdf_text("日本"), "??");
    assert_eq!(pdf_text("a\u{200B}b\u{2003}c"), "ab c");
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
                total: f64::NAN,
                grade: String::new(),
                remark: String::new(),
                position: Some(0),
                class_average: f64::INFINITY,
                highest: 0.0,
                lowest: 0.0,
                term_totals: None,
                cumulative: None,
                teacher_remark: None,
            })
            .collect(),
        overall: Overall {
            total: 0.0,
            average: f64::NAN,
            subjects_taken: 0,
            position: None,
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
