//! Results of one class in one exam session: per subject per pupil the total, grade, remark
//! and position; per subject the class average, highest and lowest; per pupil the overall
//! total, average, position and (third term) cumulative figures.
//!
//! Three queries fetch the class's totals (summed in SQL); `compute` then makes one pass in
//! memory. Never a query per pupil.

use std::collections::HashMap;

use serde::Serialize;
use sqlx::{FromRow, PgConnection};
use utoipa::ToSchema;

use super::{
    config::{self, GradingScale, ReportSettings},
    exams::ExamSession,
    marks::LIST_NAME,
};

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ClassResults {
    pub exam_session_id: i64,
    pub academic_class_id: i64,
    pub class_name: String,
    /// `average` or `total`: what the class position ranks by.
    pub rank_by: String,
    /// `none`, `average` or `weighted`; cumulative figures appear on third-term results only.
    pub cumulative_method: String,
    pub subjects: Vec<SubjectStats>,
    pub pupils: Vec<PupilResult>,
    /// Pupils with at least one mark: the N of "position out of N".
    pub out_of: i64,
    /// Average of the pupils' averages.
    pub class_average: f64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SubjectStats {
    pub exam_id: i64,
    pub subject_id: i64,
    pub subject_name: String,
    /// Pupils with a mark in this subject (the others are not counted).
    pub pupils: i64,
    pub average: Option<f64>,
    pub highest: Option<f64>,
    pub lowest: Option<f64>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PupilResult {
    pub registration: i64,
    pub student_id: i64,
    pub admission_no: String,
    pub full_name: String,
    /// Subjects with at least one mark, in the order of `ClassResults::subjects`.
    pub subjects: Vec<SubjectResult>,
    pub total: f64,
    pub subjects_taken: i64,
    /// Over the subjects taken; null with none.
    pub average: Option<f64>,
    /// Competition ranking (1, 1, 3); null for a pupil without marks.
    pub position: Option<i64>,
    pub grade: Option<String>,
    pub remark: Option<String>,
    pub cumulative_average: Option<f64>,
    pub cumulative_position: Option<i64>,
    pub cumulative_grade: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SubjectResult {
    pub exam_id: i64,
    pub subject_id: i64,
    pub total: f64,
    pub grade: String,
    pub remark: String,
    pub position: i64,
    /// Third term: the pupil's totals in the first, second and third terms.
    pub term_totals: Option<[Option<f64>; 3]>,
    pub cumulative: Option<f64>,
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
    /// (exam id, registration, total of the components entered)
    pub totals: Vec<(i64, i64, f64)>,
    /// Earlier terms of the same academic session: (term ordinal, student, subject, total).
    pub earlier_terms: Vec<(i16, i64, i64, f64)>,
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
        "SELECT e.id AS exam_id, e.subject_id, s.name AS subject_name
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
          ORDER BY lower(s.last_name), lower(s.first_name), s.id"
    )))
    .bind(academic_class_id)
    .bind(es.id)
    .fetch_all(&mut *conn)
    .await?;
    let totals: Vec<(i64, i64, f64)> = sqlx::query_as(
        "SELECT m.exam_id, m.registration_id, sum(m.score)::float8
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
        totals,
        earlier_terms,
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

pub fn compute(data: &ClassData, scale: &GradingScale, settings: &ReportSettings) -> ClassResults {
    let in_class: HashMap<i64, usize> = data
        .pupils
        .iter()
        .enumerate()
        .map(|(i, p)| (p.registration, i))
        .collect();
    // exam id → [(registration, total)] of pupils still in the class.
    let mut by_exam: HashMap<i64, Vec<(i64, f64)>> = HashMap::new();
    for (exam, registration, total) in &data.totals {
        if in_class.contains_key(registration) {
            by_exam
                .entry(*exam)
                .or_default()
                .push((*registration, *total));
        }
    }
    let with_cumulative = data.term_ordinal == 3 && settings.cumulative_method != "none";
    let mut earlier: HashMap<(i64, i64), [Option<f64>; 3]> = HashMap::new();
    for (term, student, subject, total) in &data.earlier_terms {
        if (1..=2).contains(term) {
            earlier.entry((*student, *subject)).or_default()[(*term - 1) as usize] = Some(*total);
        }
    }

    let mut subjects = Vec::with_capacity(data.subjects.len());
    let mut per_pupil: Vec<Vec<SubjectResult>> = vec![Vec::new(); data.pupils.len()];
    for subject in &data.subjects {
        let marks = by_exam
            .get(&subject.exam_id)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let ranks = competition_ranks(marks);
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
        for (registration, total) in marks {
            let Some(&i) = in_class.get(registration) else {
                continue;
            };
            let (grade, remark) = scale.grade(*total);
            let (term_totals, cum) = if with_cumulative {
                let student = data.pupils[i].student_id;
                let mut terms = earlier
                    .get(&(student, subject.subject_id))
                    .copied()
                    .unwrap_or_default();
                terms[2] = Some(*total);
                (Some(terms), cumulative(&terms, settings).map(round2))
            } else {
                (None, None)
            };
            per_pupil[i].push(SubjectResult {
                exam_id: subject.exam_id,
                subject_id: subject.subject_id,
                total: *total,
                grade,
                remark,
                position: ranks.get(registration).copied().unwrap_or_default(),
                term_totals,
                cumulative: cum,
            });
        }
    }

    let rank_by_total = settings.rank_by == "total";
    let mut standing = Vec::new();
    let mut cumulative_standing = Vec::new();
    let mut pupils: Vec<PupilResult> = data
        .pupils
        .iter()
        .zip(per_pupil)
        .map(|(p, results)| {
            let taken = results.len() as i64;
            // An empty float sum is -0.
            let total: f64 = results.iter().map(|r| r.total).sum::<f64>() + 0.0;
            let average = (taken > 0).then(|| total / taken as f64);
            if let Some(avg) = average {
                standing.push((p.registration, if rank_by_total { total } else { avg }));
            }
            let cumulative_average = if with_cumulative && taken > 0 {
                let cums: Vec<f64> = results.iter().filter_map(|r| r.cumulative).collect();
                (!cums.is_empty()).then(|| cums.iter().sum::<f64>() / cums.len() as f64)
            } else {
                None
            };
            if let Some(c) = cumulative_average {
                cumulative_standing.push((p.registration, c));
            }
            // Graded on the average as printed (2 places), so the two never disagree.
            let (grade, remark) = match average {
                Some(a) => {
                    let (g, r) = scale.grade(round2(a));
                    (Some(g), Some(r))
                }
                None => (None, None),
            };
            PupilResult {
                registration: p.registration,
                student_id: p.student_id,
                admission_no: p.admission_no.clone(),
                full_name: p.full_name.clone(),
                subjects: results,
                total,
                subjects_taken: taken,
                average: average.map(round2),
                position: None,
                grade,
                remark,
                cumulative_grade: cumulative_average.map(|c| scale.grade(round2(c)).0),
                cumulative_average: cumulative_average.map(round2),
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
    let averages: Vec<f64> = pupils
        .iter()
        .filter(|p| p.subjects_taken > 0)
        .map(|p| p.total / p.subjects_taken as f64)
        .collect();
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
        subjects,
        out_of: standing.len() as i64,
        class_average: if averages.is_empty() {
            0.0
        } else {
            round2(averages.iter().sum::<f64>() / averages.len() as f64)
        },
        pupils,
    }
}

/// Two decimal places, as printed.
pub fn round2(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}
