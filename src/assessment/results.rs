//! Results of one class in one exam session: per subject per pupil the total, grade, remark
//! and position; per subject the class average, highest and lowest; per pupil the overall
//! total, average, position and (third term) cumulative figures.
//!
//! Three queries fetch the class's totals (summed in SQL); `compute` then makes one pass in
//! memory. Never a query per pupil.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use sqlx::{FromRow, PgConnection};
use utoipa::ToSchema;

use crate::students::names::LIST_NAME;

use super::card::SubjectStatus;
use super::{
    config::{self, GradeBand, GradingScale, ReportSettings},
    exams::ExamSession,
    taking::TAKES,
};

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ClassResults {
    pub exam_session_id: i64,
    pub academic_class_id: i64,
    pub class_name: String,
    /// `average` or `total`: what the class position ranks by.
    pub rank_by: String,
    /// `none`, `average` or `weighted`; cumulative figures appear on third-term results only.
    pub cumulative_method: String,
    /// The grading scale of these results, highest band first: each grade's remark is here
    /// once rather than on every pupil's every subject.
    pub grading: Vec<GradeBand>,
    pub subjects: Vec<SubjectStats>,
    pub pupils: Vec<PupilResult>,
    /// The pupils of these results: the N of "position out of N" and of "No. in class".
    pub out_of: i64,
    /// Average of the pupils' averages.
    pub class_average: f64,
    /// Pupils whose position is withheld because marks are outstanding.
    pub positions_withheld: i64,
    /// The head confirmed the results as they stand: outstanding marks no longer withhold
    /// positions (cleared when the session is reopened).
    pub outstanding_confirmed: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SubjectStats {
    pub exam_id: i64,
    pub subject_id: i64,
    pub subject_name: String,
    /// Pupils with complete marks in this subject (the others are not counted).
    pub pupils: i64,
    pub average: Option<f64>,
    pub highest: Option<f64>,
    pub lowest: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PupilResult {
    pub registration: i64,
    pub student_id: i64,
    pub admission_no: String,
    pub full_name: String,
    /// Every subject the pupil takes, in the order of `ClassResults::subjects`.
    pub subjects: Vec<SubjectResult>,
    /// Sum of the subject totals counted in the average.
    pub total: f64,
    /// Subjects the pupil takes (core subjects not exempted, electives registered for).
    pub subjects_taken: i64,
    /// Subjects with a figure in the average: marked ones, and ABS when the school counts it
    /// as 0.
    pub subjects_counted: i64,
    /// Subjects taken whose marks are missing or partly entered.
    pub outstanding: i64,
    /// Over the subjects counted, rounded to 2 places once; null with none.
    pub average: Option<f64>,
    /// Competition ranking (1, 1, 3) on the figure printed; null while withheld or without
    /// marks.
    pub position: Option<i64>,
    /// No position because marks are outstanding and the head has not confirmed.
    pub position_withheld: bool,
    pub grade: Option<String>,
    pub remark: Option<String>,
    /// Third term: the mean of the exact subject cumulatives, rounded once. The cumulative
    /// fields are left out of other terms' results.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cumulative_average: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cumulative_position: Option<i64>,
    /// The grade of the cumulative average.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cumulative_grade: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SubjectResult {
    pub exam_id: i64,
    /// Not in the JSON: the subject of `exam_id` is in `ClassResults::subjects` (figures read
    /// back from storage have 0 here).
    #[serde(skip)]
    pub subject_id: i64,
    pub status: SubjectStatus,
    /// Sum of the components entered; null when absent or nothing is entered.
    pub total: Option<f64>,
    /// The grade of the term's total (its remark is in `ClassResults::grading`).
    pub grade: Option<String>,
    /// Not in the JSON: the grade's remark is in `ClassResults::grading`, and `status` says
    /// when marks are partly entered (figures read back from storage have none here).
    #[serde(skip)]
    pub remark: Option<String>,
    /// Among the pupils with a mark in the subject.
    pub position: Option<i64>,
    /// Third term: the pupil's totals in the first, second and third terms. The third-term
    /// fields are left out of other terms' results.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub term_totals: Option<[Option<f64>; 3]>,
    /// Third term: the subject's cumulative figure (2 places).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cumulative: Option<f64>,
    /// The grade of the cumulative figure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cumulative_grade: Option<String>,
}

/// Whether registration `r` belongs to its class's results in exam session `$2`: registered
/// there now, or holding marks of that session (a pupil who moved arm or left afterwards
/// keeps their place in past results).
pub const IN_EXAM_SESSION: &str =
    "(r.is_current OR EXISTS (SELECT 1 FROM marks m JOIN exams e ON e.id = m.exam_id
                                   WHERE m.registration_id = r.id AND e.exam_session_id = $2))";

/// A subject (exam) of the class.
#[derive(Debug, Clone, FromRow)]
pub struct ExamSubject {
    pub exam_id: i64,
    pub subject_id: i64,
    pub subject_name: String,
    /// Components of the exam: a pupil with fewer scores is outstanding.
    pub components: i64,
}

#[derive(Debug, Clone, FromRow)]
pub struct Pupil {
    pub registration: i64,
    pub student_id: i64,
    pub admission_no: String,
    pub full_name: String,
}

/// Everything `compute` needs, as fetched from the database (or built by a test).
pub struct ClassData {
    pub exam_session_id: i64,
    pub term_ordinal: i16,
    pub academic_class_id: i64,
    pub class_name: String,
    pub subjects: Vec<ExamSubject>,
    pub pupils: Vec<Pupil>,
    /// (exam id, registration) of each subject each pupil takes.
    pub taken: Vec<(i64, i64)>,
    /// (exam id, registration) of each pupil absent from an exam.
    pub absent: Vec<(i64, i64)>,
    /// (exam id, registration, total of the components entered, components entered)
    pub totals: Vec<(i64, i64, f64, i64)>,
    /// Earlier terms of the same academic session: (term ordinal, student, subject, total).
    pub earlier_terms: Vec<(i16, i64, i64, f64)>,
    pub outstanding_confirmed: bool,
}

pub async fn fetch(
    conn: &mut PgConnection,
    es: &ExamSession,
    academic_class_id: i64,
    with_earlier_terms: bool,
) -> Result<ClassData, sqlx::Error> {
    let class_name: String = sqlx::query_scalar(
        "SELECT c.name FROM academic_classes ac JOIN classes c ON c.id = ac.class_id WHERE ac.id = $1",
    )
    .bind(academic_class_id)
    .fetch_optional(&mut *conn)
    .await?
    .unwrap_or_default();
    let subjects: Vec<ExamSubject> = sqlx::query_as(
        "SELECT e.id AS exam_id, e.subject_id, s.name AS subject_name,
                (SELECT count(*) FROM exam_components ec WHERE ec.exam_id = e.id) AS components
           FROM exams e JOIN subjects s ON s.id = e.subject_id
          WHERE e.exam_session_id = $1 AND e.academic_class_id = $2
          ORDER BY lower(s.name)",
    )
    .bind(es.id)
    .bind(academic_class_id)
    .fetch_all(&mut *conn)
    .await?;
    let pupils: Vec<Pupil> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT r.id AS registration, s.id AS student_id, s.admission_no, {LIST_NAME} AS full_name
           FROM registrations r JOIN students s ON s.id = r.student_id
          WHERE r.academic_class_id = $1 AND {IN_EXAM_SESSION}
          ORDER BY s.last_name_key, s.first_name_key, s.id"
    )))
    .bind(academic_class_id)
    .bind(es.id)
    .fetch_all(&mut *conn)
    .await?;
    let taken: Vec<(i64, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT e.id, r.id
           FROM exams e
           JOIN academic_class_subjects acs
             ON acs.academic_class_id = e.academic_class_id AND acs.subject_id = e.subject_id
           JOIN registrations r ON r.academic_class_id = e.academic_class_id
          WHERE e.exam_session_id = $1 AND e.academic_class_id = $2 AND {TAKES}"
    )))
    .bind(es.id)
    .bind(academic_class_id)
    .fetch_all(&mut *conn)
    .await?;
    let absent: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT a.exam_id, a.registration_id FROM exam_absences a JOIN exams e ON e.id = a.exam_id
          WHERE e.exam_session_id = $1 AND e.academic_class_id = $2",
    )
    .bind(es.id)
    .bind(academic_class_id)
    .fetch_all(&mut *conn)
    .await?;
    let totals: Vec<(i64, i64, f64, i64)> = sqlx::query_as(
        "SELECT m.exam_id, m.registration_id, sum(m.score)::float8, count(*)
           FROM marks m JOIN exams e ON e.id = m.exam_id
          WHERE e.exam_session_id = $1 AND e.academic_class_id = $2
          GROUP BY m.exam_id, m.registration_id",
    )
    .bind(es.id)
    .bind(academic_class_id)
    .fetch_all(&mut *conn)
    .await?;
    // Earlier terms by student and subject: a pupil may have changed class arm since.
    let earlier_terms = if with_earlier_terms && es.term_ordinal == 3 {
        sqlx::query_as(
            // A subject's total per registration, then the larger one per student: a pupil
            // who changed arm within a term is not counted twice.
            "SELECT ordinal, student_id, subject_id, max(total)
               FROM (SELECT t.ordinal, r.student_id, e.subject_id, sum(m.score)::float8 AS total
                       FROM exam_sessions es
                       JOIN terms t ON t.id = es.term_id
                       JOIN exams e ON e.exam_session_id = es.id
                       JOIN marks m ON m.exam_id = e.id
                       JOIN registrations r ON r.id = m.registration_id
                      WHERE es.session_id = $1 AND t.ordinal < $2
                        AND r.student_id IN (SELECT student_id FROM registrations
                                              WHERE academic_class_id = $3)
                      GROUP BY t.ordinal, r.id, r.student_id, e.subject_id) per_registration
              GROUP BY ordinal, student_id, subject_id",
        )
        .bind(es.session_id)
        .bind(es.term_ordinal)
        .bind(academic_class_id)
        .fetch_all(&mut *conn)
        .await?
    } else {
        Vec::new()
    };
    Ok(ClassData {
        exam_session_id: es.id,
        term_ordinal: es.term_ordinal,
        academic_class_id,
        class_name,
        subjects,
        pupils,
        taken,
        absent,
        totals,
        earlier_terms,
        outstanding_confirmed: es.outstanding_confirmed_at.is_some(),
    })
}

/// Loads and computes a class's results.
pub async fn class_results(
    conn: &mut PgConnection,
    es: &ExamSession,
    academic_class_id: i64,
) -> Result<ClassResults, sqlx::Error> {
    let (scale, settings) = config::for_exam_session(conn, es.id).await?;
    let data = fetch(
        conn,
        es,
        academic_class_id,
        settings.cumulative_method != "none",
    )
    .await?;
    Ok(compute(&data, &scale, &settings))
}

/// Figures compared at a millionth of a mark, so 200/3 ties with 200/3 however it was summed.
fn rank_key(value: f64) -> i64 {
    (value * 1_000_000.0).round() as i64
}

/// Competition ranking (1, 1, 3) of `values`, highest first: key → position.
pub fn competition_ranks<K: Copy + Eq + std::hash::Hash>(values: &[(K, f64)]) -> HashMap<K, i64> {
    let mut sorted: Vec<(K, i64)> = values.iter().map(|(k, v)| (*k, rank_key(*v))).collect();
    sorted.sort_by_key(|(_, v)| std::cmp::Reverse(*v));
    let mut ranks = HashMap::with_capacity(sorted.len());
    let mut previous: Option<(i64, i64)> = None;
    for (i, (k, v)) in sorted.into_iter().enumerate() {
        let rank = match previous {
            Some((pv, pr)) if pv == v => pr,
            _ => i as i64 + 1,
        };
        previous = Some((v, rank));
        ranks.insert(k, rank);
    }
    ranks
}

/// The cumulative figure of one subject from the terms' totals (missing terms left out;
/// weights of the terms present are scaled up to 100%).
pub fn cumulative(totals: &[Option<f64>; 3], settings: &ReportSettings) -> Option<f64> {
    let weights = [
        f64::from(settings.first_term_weight),
        f64::from(settings.second_term_weight),
        f64::from(settings.third_term_weight),
    ];
    let present: Vec<(f64, f64)> = totals
        .iter()
        .zip(weights)
        .filter_map(|(t, w)| t.map(|t| (t, w)))
        .collect();
    if present.is_empty() {
        return None;
    }
    match settings.cumulative_method.as_str() {
        "weighted" => {
            let weight: f64 = present.iter().map(|(_, w)| w).sum();
            (weight > 0.0).then(|| present.iter().map(|(t, w)| t * w).sum::<f64>() / weight)
        }
        "average" => Some(present.iter().map(|(t, _)| t).sum::<f64>() / present.len() as f64),
        _ => None,
    }
}

/// One subject of one pupil while computing: the exact figures, rounded only for output.
struct Line {
    exam_id: i64,
    subject_id: i64,
    status: SubjectStatus,
    total: Option<f64>,
    term_totals: Option<[Option<f64>; 3]>,
    cumulative: Option<f64>,
}

pub fn compute(data: &ClassData, scale: &GradingScale, settings: &ReportSettings) -> ClassResults {
    use std::collections::HashSet;
    let taken: HashSet<(i64, i64)> = data.taken.iter().copied().collect();
    let absent: HashSet<(i64, i64)> = data.absent.iter().copied().collect();
    let totals: HashMap<(i64, i64), (f64, i64)> = data
        .totals
        .iter()
        .map(|(e, r, t, n)| ((*e, *r), (*t, *n)))
        .collect();
    let with_cumulative = data.term_ordinal == 3 && settings.cumulative_method != "none";
    let absent_is_zero = settings.absent_counts_as != "left_out";
    let mut earlier: HashMap<(i64, i64), [Option<f64>; 3]> = HashMap::new();
    for (term, student, subject, total) in &data.earlier_terms {
        if (1..=2).contains(term) {
            earlier.entry((*student, *subject)).or_default()[(*term - 1) as usize] = Some(*total);
        }
    }

    // Each pupil's subjects: those taken, plus any holding marks or ABS (nothing entered
    // ever disappears from a card, whatever the choices say now).
    let lines: Vec<Vec<Line>> = data
        .pupils
        .iter()
        .map(|p| {
            data.subjects
                .iter()
                .filter_map(|subject| {
                    let key = (subject.exam_id, p.registration);
                    let scored = totals.get(&key).copied();
                    let status = match scored {
                        Some((_, n)) if n >= subject.components => SubjectStatus::Complete,
                        Some(_) => SubjectStatus::Partial,
                        None if absent.contains(&key) => SubjectStatus::Absent,
                        None if taken.contains(&key) => SubjectStatus::Missing,
                        None => return None,
                    };
                    let total = scored.map(|(t, _)| t);
                    let (term_totals, cumulative) = if with_cumulative {
                        let mut terms = earlier
                            .get(&(p.student_id, subject.subject_id))
                            .copied()
                            .unwrap_or_default();
                        terms[2] = match status {
                            SubjectStatus::Absent if absent_is_zero => Some(0.0),
                            _ => total,
                        };
                        (Some(terms), self::cumulative(&terms, settings))
                    } else {
                        (None, None)
                    };
                    Some(Line {
                        exam_id: subject.exam_id,
                        subject_id: subject.subject_id,
                        status,
                        total,
                        term_totals,
                        cumulative,
                    })
                })
                .collect()
        })
        .collect();

    // Subject figures over the pupils with a mark; ABS and missing pupils are not counted.
    let mut subjects = Vec::with_capacity(data.subjects.len());
    let mut subject_ranks: HashMap<i64, HashMap<i64, i64>> = HashMap::new();
    for subject in &data.subjects {
        let marks: Vec<(i64, f64)> = data
            .pupils
            .iter()
            .zip(&lines)
            .filter_map(|(p, ls)| {
                // Complete marks only: a partly entered total is not a result yet.
                ls.iter()
                    .find(|l| l.exam_id == subject.exam_id && l.status == SubjectStatus::Complete)
                    .and_then(|l| l.total)
                    .map(|t| (p.registration, t))
            })
            .collect();
        let n = marks.len();
        let sum: f64 = marks.iter().map(|(_, t)| t).sum();
        subjects.push(SubjectStats {
            exam_id: subject.exam_id,
            subject_id: subject.subject_id,
            subject_name: subject.subject_name.clone(),
            pupils: n as i64,
            average: (n > 0).then(|| round2(sum / n as f64)),
            highest: marks.iter().map(|(_, t)| *t).reduce(f64::max),
            lowest: marks.iter().map(|(_, t)| *t).reduce(f64::min),
        });
        subject_ranks.insert(subject.exam_id, competition_ranks(&marks));
    }

    let rank_by_total = settings.rank_by == "total";
    let mut standing = Vec::new();
    let mut cumulative_standing = Vec::new();
    let mut exact_averages = Vec::new();
    let mut positions_withheld = 0;
    let mut pupils: Vec<PupilResult> = data
        .pupils
        .iter()
        .zip(lines)
        .map(|(p, lines)| {
            let counted: Vec<f64> = lines
                .iter()
                .filter_map(|l| match l.status {
                    SubjectStatus::Absent if absent_is_zero => Some(0.0),
                    _ => l.total,
                })
                .collect();
            let outstanding = lines.iter().filter(|l| l.status.is_outstanding()).count() as i64;
            // `+ 0.0`: an empty float sum is -0.
            let total: f64 = counted.iter().sum::<f64>() + 0.0;
            let exact_average = (!counted.is_empty()).then(|| total / counted.len() as f64);
            let average = exact_average.map(round2);
            let withheld = outstanding > 0 && !data.outstanding_confirmed;
            if withheld {
                positions_withheld += 1;
            }
            exact_averages.extend(exact_average);
            // Ranked on the figure printed: two pupils shown 60.44 share a position.
            if let Some(avg) = average
                && !withheld
            {
                standing.push((
                    p.registration,
                    if rank_by_total { round2(total) } else { avg },
                ));
            }
            let cumulatives: Vec<f64> = lines.iter().filter_map(|l| l.cumulative).collect();
            let cumulative_average = (with_cumulative && !cumulatives.is_empty())
                .then(|| round2(cumulatives.iter().sum::<f64>() / cumulatives.len() as f64));
            if let Some(c) = cumulative_average
                && !withheld
            {
                cumulative_standing.push((p.registration, c));
            }
            let (grade, remark) = match average {
                Some(a) => {
                    let (g, r) = scale.grade(a);
                    (Some(g), Some(r))
                }
                None => (None, None),
            };
            let subjects = lines
                .iter()
                .map(|l| {
                    // Graded and placed only when complete; a partial total is shown as such.
                    let complete = l.status == SubjectStatus::Complete;
                    let graded = l.total.filter(|_| complete).map(|t| scale.grade(round2(t)));
                    SubjectResult {
                        exam_id: l.exam_id,
                        subject_id: l.subject_id,
                        status: l.status,
                        total: l.total,
                        grade: graded.as_ref().map(|g| g.0.clone()),
                        remark: match l.status {
                            SubjectStatus::Partial => Some("Incomplete: marks missing".into()),
                            _ => graded.map(|g| g.1),
                        },
                        position: l.total.filter(|_| complete).and_then(|_| {
                            subject_ranks
                                .get(&l.exam_id)
                                .and_then(|r| r.get(&p.registration))
                                .copied()
                        }),
                        term_totals: l.term_totals,
                        cumulative: l.cumulative.map(round2),
                        cumulative_grade: l.cumulative.map(|c| scale.grade(round2(c)).0),
                    }
                })
                .collect();
            PupilResult {
                registration: p.registration,
                student_id: p.student_id,
                admission_no: p.admission_no.clone(),
                full_name: p.full_name.clone(),
                subjects_taken: lines.len() as i64,
                subjects_counted: counted.len() as i64,
                subjects,
                outstanding,
                total,
                average,
                position: None,
                position_withheld: withheld,
                grade,
                remark,
                cumulative_grade: cumulative_average.map(|c| scale.grade(c).0),
                cumulative_average,
                cumulative_position: None,
            }
        })
        .collect();
    let positions = competition_ranks(&standing);
    let cumulative_positions = competition_ranks(&cumulative_standing);
    for p in &mut pupils {
        p.position = positions.get(&p.registration).copied();
        p.cumulative_position = cumulative_positions.get(&p.registration).copied();
    }
    ClassResults {
        exam_session_id: data.exam_session_id,
        academic_class_id: data.academic_class_id,
        class_name: data.class_name.clone(),
        rank_by: settings.rank_by.clone(),
        cumulative_method: if data.term_ordinal == 3 {
            settings.cumulative_method.clone()
        } else {
            "none".into()
        },
        grading: scale.bands.clone(),
        subjects,
        out_of: pupils.len() as i64,
        class_average: if exact_averages.is_empty() {
            0.0
        } else {
            round2(exact_averages.iter().sum::<f64>() / exact_averages.len() as f64)
        },
        positions_withheld,
        outstanding_confirmed: data.outstanding_confirmed,
        pupils,
    }
}

/// Two decimal places, as printed.
pub fn round2(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}
