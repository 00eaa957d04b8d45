//! Report cards: the figures of `results` plus the pupil's details, component scores,
//! comments and ratings, gathered for a whole class in a fixed number of queries.

use std::collections::HashMap;

use chrono::{Datelike, NaiveDate};
use sqlx::{FromRow, PgConnection};

use super::{
    card::*,
    config,
    exams::ExamSession,
    results::{self, ClassResults, IN_EXAM_SESSION},
};
use crate::error::{AppError, AppResult};

#[derive(FromRow)]
struct PupilDetails {
    registration: i64,
    student_id: i64,
    display_name: String,
    sex: String,
    date_of_birth: Option<NaiveDate>,
    has_photo: bool,
}

#[derive(FromRow)]
struct TermDates {
    starts_on: NaiveDate,
    ends_on: NaiveDate,
    next_term_begins: Option<NaiveDate>,
}

#[derive(FromRow)]
struct Comments {
    registration_id: i64,
    class_teacher_comment: String,
    class_teacher_name: Option<String>,
    head_teacher_comment: String,
    head_teacher_name: Option<String>,
}

/// Age in whole years on `on`.
pub fn age_on(born: NaiveDate, on: NaiveDate) -> i32 {
    let mut age = on.year() - born.year();
    if (on.month(), on.day()) < (born.month(), born.day()) {
        age -= 1;
    }
    age
}

/// The report cards of a class (or of the one pupil `only`), in class-list order.
/// `with_images` loads the logo and photos (PDF); the HTML page links to them instead.
pub async fn class_cards(
    conn: &mut PgConnection,
    school_name: &str,
    es: &ExamSession,
    academic_class_id: i64,
    only: Option<i64>,
    with_images: bool,
) -> AppResult<(ClassResults, Vec<ReportCard>)> {
    let (scale, settings) = config::for_exam_session(conn, es.id).await?;
    let data = results::fetch(
        conn,
        es,
        academic_class_id,
        settings.cumulative_method != "none",
    )
    .await?;
    let results = results::compute(&data, &scale, &settings);
    if let Some(r) = only
        && !results.pupils.iter().any(|p| p.registration == r)
    {
        return Err(AppError::NotFound(
            "This pupil is not registered in this class.".into(),
        ));
    }
    let wanted = |registration: i64| only.is_none_or(|r| r == registration);

    let general = crate::settings::db::load(conn).await?;
    let logo: Option<Vec<u8>> = if with_images {
        sqlx::query_scalar("SELECT content FROM school_logo WHERE id = 1")
            .fetch_optional(&mut *conn)
            .await?
    } else {
        None
    };
    // Counted up to the school's today: a card printed before the term's last day says so
    // far, not days still to come.
    let today = chrono::Utc::now()
        .with_timezone(
            &general
                .time_zone
                .parse::<chrono_tz::Tz>()
                .unwrap_or(crate::tenancy::scope::DEFAULT_TIME_ZONE),
        )
        .date_naive();
    let attendance =
        crate::attendance::reports::class_pupils_term(conn, academic_class_id, es.term_id, today)
            .await?;
    let term: TermDates =
        sqlx::query_as("SELECT starts_on, ends_on, next_term_begins FROM terms WHERE id = $1")
            .bind(es.term_id)
            .fetch_one(&mut *conn)
            .await?;
    let details: Vec<PupilDetails> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT r.id AS registration, s.id AS student_id,
                s.first_name || CASE WHEN s.other_names <> '' THEN ' ' || s.other_names ELSE '' END || ' ' || s.last_name AS display_name,
                s.sex, s.date_of_birth, s.has_photo
           FROM registrations r JOIN students s ON s.id = r.student_id
          WHERE r.academic_class_id = $1 AND {IN_EXAM_SESSION} AND ($3::bigint IS NULL OR r.id = $3)"
    )))
    .bind(academic_class_id)
    .bind(es.id)
    .bind(only)
    .fetch_all(&mut *conn)
    .await?;
    let details: HashMap<i64, PupilDetails> =
        details.into_iter().map(|d| (d.registration, d)).collect();
    let mut photos: HashMap<i64, Vec<u8>> = if with_images {
        let ids: Vec<i64> = details
            .values()
            .filter(|d| d.has_photo)
            .map(|d| d.student_id)
            .collect();
        sqlx::query_as::<_, (i64, Vec<u8>)>(
            "SELECT student_id, bytes FROM student_photos WHERE student_id = ANY($1)",
        )
        .bind(&ids)
        .fetch_all(&mut *conn)
        .await?
        .into_iter()
        .collect()
    } else {
        HashMap::new()
    };

    // Component columns: every component name used by the class's exams, in order.
    let component_rows: Vec<(i64, String, f64)> = sqlx::query_as(
        "SELECT ec.exam_id, ec.name, ec.max_score::float8
           FROM exam_components ec JOIN exams e ON e.id = ec.exam_id
          WHERE e.exam_session_id = $1 AND e.academic_class_id = $2
          ORDER BY ec.ordinal, ec.id",
    )
    .bind(es.id)
    .bind(academic_class_id)
    .fetch_all(&mut *conn)
    .await?;
    let mut components: Vec<ComponentHeader> = Vec::new();
    for (_, name, max) in &component_rows {
        if !components.iter().any(|c| c.name.eq_ignore_ascii_case(name)) {
            components.push(ComponentHeader {
                name: name.clone(),
                max_score: *max,
            });
        }
    }
    let column = |name: &str| {
        components
            .iter()
            .position(|c| c.name.eq_ignore_ascii_case(name))
    };
    // (registration, exam) → scores by column.
    let score_rows: Vec<(i64, i64, String, f64)> = sqlx::query_as(
        "SELECT m.registration_id, m.exam_id, ec.name, m.score::float8
           FROM marks m JOIN exam_components ec ON ec.id = m.component_id JOIN exams e ON e.id = m.exam_id
          WHERE e.exam_session_id = $1 AND e.academic_class_id = $2
            AND ($3::bigint IS NULL OR m.registration_id = $3)",
    )
    .bind(es.id)
    .bind(academic_class_id)
    .bind(only)
    .fetch_all(&mut *conn)
    .await?;
    let mut scores: HashMap<(i64, i64), Vec<Option<f64>>> = HashMap::new();
    for (registration, exam, name, score) in score_rows {
        if let Some(col) = column(&name) {
            scores
                .entry((registration, exam))
                .or_insert_with(|| vec![None; components.len()])[col] = Some(score);
        }
    }
    let remarks: HashMap<(i64, i64), String> = sqlx::query_as::<_, (i64, i64, String)>(
        "SELECT sr.registration_id, sr.exam_id, sr.remark FROM subject_remarks sr JOIN exams e ON e.id = sr.exam_id
          WHERE e.exam_session_id = $1 AND e.academic_class_id = $2 AND sr.remark <> ''",
    )
    .bind(es.id)
    .bind(academic_class_id)
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|(r, e, t)| ((r, e), t))
    .collect();
    let comments: HashMap<i64, Comments> = sqlx::query_as::<_, Comments>(
        "SELECT rc.registration_id, rc.class_teacher_comment, ct.full_name AS class_teacher_name,
                rc.head_teacher_comment, ht.full_name AS head_teacher_name
           FROM report_comments rc
           JOIN registrations r ON r.id = rc.registration_id
           LEFT JOIN public.users ct ON ct.id = rc.class_teacher_by
           LEFT JOIN public.users ht ON ht.id = rc.head_teacher_by
          WHERE rc.exam_session_id = $1 AND r.academic_class_id = $2",
    )
    .bind(es.id)
    .bind(academic_class_id)
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|c| (c.registration_id, c))
    .collect();
    let traits: Vec<(i64, String, String)> =
        sqlx::query_as("SELECT id, kind, name FROM rating_traits ORDER BY kind, ordinal, id")
            .fetch_all(&mut *conn)
            .await?;
    let ratings: HashMap<(i64, i64), i16> = sqlx::query_as::<_, (i64, i64, i16)>(
        "SELECT rt.registration_id, rt.trait_id, rt.value FROM ratings rt
           JOIN registrations r ON r.id = rt.registration_id
          WHERE rt.exam_session_id = $1 AND r.academic_class_id = $2",
    )
    .bind(es.id)
    .bind(academic_class_id)
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|(r, t, v)| ((r, t), v))
    .collect();

    let stats: HashMap<i64, &results::SubjectStats> =
        results.subjects.iter().map(|s| (s.exam_id, s)).collect();
    let grading_key: Vec<GradeKey> = scale
        .key()
        .into_iter()
        .map(|(b, upper)| GradeKey {
            grade: b.grade,
            min_score: b.min_score,
            max_score: upper,
            remark: b.remark,
        })
        .collect();
    let school = SchoolHeader {
        name: school_name.to_owned(),
        address: general.address.clone(),
        motto: general.motto.clone(),
        logo,
    };
    let period = Period {
        session: es.session_name.clone(),
        term: es.term_name.clone(),
        term_starts: term.starts_on,
        term_ends: term.ends_on,
        next_term_begins: term.next_term_begins,
        exam_session: es.name.clone(),
    };
    let cumulative_label = match settings.cumulative_method.as_str() {
        "weighted" => format!(
            "Weighted {}/{}/{}",
            settings.first_term_weight, settings.second_term_weight, settings.third_term_weight
        ),
        _ => "Average of the terms taken".to_owned(),
    };

    let mut cards = Vec::new();
    for pupil in results.pupils.iter().filter(|p| wanted(p.registration)) {
        let Some(d) = details.get(&pupil.registration) else {
            continue;
        };
        let subjects = pupil
            .subjects
            .iter()
            .filter_map(|s| {
                let st = stats.get(&s.exam_id)?;
                Some(SubjectLine {
                    subject: st.subject_name.clone(),
                    scores: scores
                        .get(&(pupil.registration, s.exam_id))
                        .cloned()
                        .unwrap_or_else(|| vec![None; components.len()]),
                    status: s.status,
                    total: s.total,
                    grade: s.grade.clone().unwrap_or_default(),
                    remark: s.remark.clone().unwrap_or_default(),
                    position: s.position,
                    class_average: st.average.unwrap_or_default(),
                    highest: st.highest.unwrap_or_default(),
                    lowest: st.lowest.unwrap_or_default(),
                    term_totals: s.term_totals,
                    cumulative: s.cumulative,
                    cumulative_grade: s.cumulative_grade.clone(),
                    teacher_remark: remarks.get(&(pupil.registration, s.exam_id)).cloned(),
                })
            })
            .collect();
        let c = comments.get(&pupil.registration);
        let comment =
            |title: &str, text: Option<&String>, by: Option<&Option<String>>| CommentLine {
                title: title.to_owned(),
                text: text.cloned().unwrap_or_default(),
                by: by.cloned().flatten(),
            };
        let ratings = ["affective", "psychomotor"]
            .iter()
            .map(|kind| RatingGroup {
                title: if *kind == "affective" {
                    "Affective traits".into()
                } else {
                    "Psychomotor skills".into()
                },
                items: traits
                    .iter()
                    .filter(|(_, k, _)| k == kind)
                    .map(|(id, _, name)| {
                        (
                            name.clone(),
                            ratings.get(&(pupil.registration, *id)).copied(),
                        )
                    })
                    .collect(),
            })
            .filter(|g| !g.items.is_empty())
            .collect();
        cards.push(ReportCard {
            school: school.clone(),
            pupil: PupilHeader {
                full_name: d.display_name.clone(),
                admission_no: pupil.admission_no.clone(),
                class_name: results.class_name.clone(),
                sex: capitalise(&d.sex),
                age: d.date_of_birth.map(|b| age_on(b, term.ends_on)),
                photo: photos.remove(&d.student_id),
                class_size: results.pupils.len() as i64,
            },
            period: period.clone(),
            // From the registers; a pupil with no register taken that term shows "not
            // recorded", never an invented number.
            attendance: attendance
                .get(&d.student_id)
                .filter(|t| t.any_marked())
                .map(|t| Attendance {
                    times_opened: t.times_opened,
                    present: t.present,
                    absent: t.absent,
                }),
            components: components.clone(),
            subjects,
            overall: Overall {
                total: pupil.total,
                average: pupil.average.unwrap_or_default(),
                subjects_taken: pupil.subjects_taken,
                outstanding: pupil.outstanding,
                position: pupil.position,
                position_withheld: pupil.position_withheld,
                out_of: results.out_of,
                grade: pupil.grade.clone().unwrap_or_default(),
                remark: pupil.remark.clone().unwrap_or_default(),
                class_average: results.class_average,
            },
            cumulative: pupil.cumulative_average.map(|avg| CumulativeSummary {
                method: cumulative_label.clone(),
                average: avg,
                position: pupil.cumulative_position,
                grade: pupil.cumulative_grade.clone().unwrap_or_default(),
            }),
            ratings,
            comments: vec![
                comment(
                    "Class teacher's comment",
                    c.map(|c| &c.class_teacher_comment),
                    c.map(|c| &c.class_teacher_name),
                ),
                comment(
                    "Head teacher's comment",
                    c.map(|c| &c.head_teacher_comment),
                    c.map(|c| &c.head_teacher_name),
                ),
            ],
            grading_key: grading_key.clone(),
            settings: CardSettings {
                show_position: settings.show_position,
                show_class_stats: settings.show_class_stats,
            },
        });
    }
    Ok((results, cards))
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}
