//! How far mark entry has come in an exam session: per exam, the current pupils who take
//! its subject, how many are complete, absent (ABS) or outstanding; per class, the same
//! summed. Closing and publishing name what is outstanding before going ahead.

use std::collections::HashMap;

use serde::Serialize;
use sqlx::{FromRow, PgConnection};
use utoipa::ToSchema;

use super::taking::TAKES;
use crate::students::names::LIST_NAME;

/// Mark entry of one exam (a subject of a class), over the class's current pupils who take
/// the subject.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct ExamProgress {
    pub exam_id: i64,
    pub academic_class_id: i64,
    pub class_name: String,
    pub subject_name: String,
    pub teacher_id: Option<i64>,
    pub teacher_name: Option<String>,
    /// Current pupils of the class who take the subject.
    pub pupils: i64,
    /// Pupils with a score in every component.
    pub complete: i64,
    /// Pupils marked absent from the exam.
    pub absent: i64,
    /// Pupils with scores missing (none or some components).
    pub outstanding: i64,
    /// The outstanding pupils' names, surname first.
    pub outstanding_names: Vec<String>,
    /// Reopened for corrections while the exam session is closed.
    pub reopened: bool,
}

/// One class's mark entry, summed over its exams.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ClassProgress {
    pub academic_class_id: i64,
    pub class_name: String,
    /// Current pupils.
    pub pupils: i64,
    pub exams: Vec<ExamProgress>,
    /// Pupil-subject marks expected (each current pupil in each subject they take).
    pub expected: i64,
    pub complete: i64,
    pub absent: i64,
    pub outstanding: i64,
    /// Subjects the class offers that have no exam in this session yet.
    pub subjects_without_exam: i64,
}

/// Every exam of the session (or of one teacher's subjects) with its progress, by class
/// then subject. One query, whatever the school's size.
pub async fn exams(
    conn: &mut PgConnection,
    exam_session_id: i64,
    teacher_id: Option<i64>,
) -> Result<Vec<ExamProgress>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "WITH scored AS (
             SELECT m.exam_id, m.registration_id, count(*) AS n
               FROM marks m JOIN exams e ON e.id = m.exam_id
              WHERE e.exam_session_id = $1
              GROUP BY m.exam_id, m.registration_id),
         components AS (
             SELECT ec.exam_id, count(*) AS n
               FROM exam_components ec JOIN exams e ON e.id = ec.exam_id
              WHERE e.exam_session_id = $1
              GROUP BY ec.exam_id),
         cells AS (
             SELECT e.id AS exam_id, r.id AS registration, {LIST_NAME} AS full_name,
                    s.last_name_key AS last_key, s.first_name_key AS first_key,
                    a.registration_id IS NOT NULL AS absent,
                    COALESCE(sc.n, 0) >= COALESCE(c.n, 0) AS complete
               FROM exams e
               JOIN academic_class_subjects acs
                 ON acs.academic_class_id = e.academic_class_id AND acs.subject_id = e.subject_id
               JOIN registrations r ON r.academic_class_id = e.academic_class_id AND r.is_current
               JOIN students s ON s.id = r.student_id
               LEFT JOIN components c ON c.exam_id = e.id
               LEFT JOIN scored sc ON sc.exam_id = e.id AND sc.registration_id = r.id
               LEFT JOIN exam_absences a ON a.exam_id = e.id AND a.registration_id = r.id
              WHERE e.exam_session_id = $1 AND {TAKES})
         SELECT e.id AS exam_id, e.academic_class_id, cl.name AS class_name, sub.name AS subject_name,
                acs.teacher_id, t.full_name AS teacher_name,
                count(x.registration) AS pupils,
                count(x.registration) FILTER (WHERE x.complete AND NOT x.absent) AS complete,
                count(x.registration) FILTER (WHERE x.absent) AS absent,
                count(x.registration) FILTER (WHERE NOT x.complete AND NOT x.absent) AS outstanding,
                COALESCE(array_agg(x.full_name ORDER BY x.last_key, x.first_key, x.registration)
                             FILTER (WHERE NOT x.complete AND NOT x.absent), '{{}}') AS outstanding_names,
                e.reopened_at IS NOT NULL AS reopened
           FROM exams e
           JOIN academic_classes ac ON ac.id = e.academic_class_id
           JOIN classes cl ON cl.id = ac.class_id
           JOIN forms f ON f.id = cl.form_id
           JOIN subjects sub ON sub.id = e.subject_id
           JOIN academic_class_subjects acs
             ON acs.academic_class_id = e.academic_class_id AND acs.subject_id = e.subject_id
           LEFT JOIN public.users t ON t.id = acs.teacher_id
           LEFT JOIN cells x ON x.exam_id = e.id
          WHERE e.exam_session_id = $1 AND ($2::bigint IS NULL OR acs.teacher_id = $2)
          GROUP BY e.id, e.academic_class_id, cl.name, sub.name, acs.teacher_id, t.full_name, f.ordinal,
                   e.reopened_at
          ORDER BY f.ordinal, lower(cl.name), lower(sub.name)"
    )))
    .bind(exam_session_id)
    .bind(teacher_id)
    .fetch_all(conn)
    .await
}

/// Every class of the exam session's academic session with its progress, in level order.
pub async fn classes(
    conn: &mut PgConnection,
    exam_session_id: i64,
    session_id: i64,
) -> Result<Vec<ClassProgress>, sqlx::Error> {
    let rows: Vec<(i64, String, i64, i64)> = sqlx::query_as(
        "SELECT ac.id, c.name,
                (SELECT count(*) FROM registrations r WHERE r.academic_class_id = ac.id AND r.is_current),
                (SELECT count(*) FROM academic_class_subjects acs
                  WHERE acs.academic_class_id = ac.id
                    AND NOT EXISTS (SELECT 1 FROM exams e WHERE e.exam_session_id = $2
                                       AND e.academic_class_id = ac.id AND e.subject_id = acs.subject_id))
           FROM academic_classes ac JOIN classes c ON c.id = ac.class_id JOIN forms f ON f.id = c.form_id
          WHERE ac.session_id = $1
          ORDER BY f.ordinal, lower(c.name)",
    )
    .bind(session_id)
    .bind(exam_session_id)
    .fetch_all(&mut *conn)
    .await?;
    let mut by_class: HashMap<i64, Vec<ExamProgress>> = HashMap::new();
    for e in exams(conn, exam_session_id, None).await? {
        by_class.entry(e.academic_class_id).or_default().push(e);
    }
    Ok(rows
        .into_iter()
        .map(|(id, class_name, pupils, subjects_without_exam)| {
            let exams = by_class.remove(&id).unwrap_or_default();
            let sum = |f: fn(&ExamProgress) -> i64| exams.iter().map(f).sum();
            ClassProgress {
                academic_class_id: id,
                class_name,
                pupils,
                expected: sum(|e| e.pupils),
                complete: sum(|e| e.complete),
                absent: sum(|e| e.absent),
                outstanding: sum(|e| e.outstanding),
                subjects_without_exam,
                exams,
            }
        })
        .collect())
}

/// "JSS 1A Mathematics (3 pupils), JSS 1B English Language (1 pupil)": what is outstanding,
/// for a confirmation or a refusal.
pub fn describe(outstanding: &[&ExamProgress]) -> String {
    let marks: i64 = outstanding.iter().map(|e| e.outstanding).sum();
    let mut parts: Vec<String> = outstanding
        .iter()
        .take(8)
        .map(|e| {
            let pupils = if e.outstanding == 1 {
                "pupil"
            } else {
                "pupils"
            };
            format!(
                "{} {} ({} {pupils})",
                e.class_name, e.subject_name, e.outstanding
            )
        })
        .collect();
    if outstanding.len() > 8 {
        parts.push(format!("and {} more subjects", outstanding.len() - 8));
    }
    let noun = if marks == 1 { "mark is" } else { "marks are" };
    format!("{marks} {noun} outstanding: {}.", parts.join(", "))
}
