//! The figures a promotion is decided on, taken from assessment's own results (never
//! recomputed here): each pupil's cumulative average of the session and the subjects failed,
//! from the third term's results of the class they were in.

use std::collections::HashMap;

use sqlx::PgConnection;

use crate::{
    assessment::{config, exams, results},
    error::AppResult,
};

/// One subject of one pupil: its figure for the session (the cumulative figure, or the third
/// term's total) and whether it is a fail (graded in the scale's lowest band).
#[derive(Debug, Clone)]
pub struct SubjectFigure {
    pub subject_id: i64,
    pub subject_name: String,
    pub figure: Option<f64>,
    pub failed: bool,
}

#[derive(Debug, Clone, Default)]
pub struct Figures {
    pub cumulative_average: Option<f64>,
    /// Every subject the pupil takes.
    pub subjects: Vec<SubjectFigure>,
}

/// Figures of a session, keyed by (academic class, student). Empty when the session has no
/// third-term exam session.
pub struct SessionFigures {
    pub has_third_term: bool,
    pub by_pupil: HashMap<(i64, i64), Figures>,
}

pub async fn of_session(conn: &mut PgConnection, session_id: i64) -> AppResult<SessionFigures> {
    let es_id: Option<i64> = sqlx::query_scalar(
        "SELECT es.id FROM exam_sessions es JOIN terms t ON t.id = es.term_id
          WHERE es.session_id = $1 AND t.ordinal = 3
          ORDER BY es.id LIMIT 1",
    )
    .bind(session_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(es_id) = es_id else {
        return Ok(SessionFigures {
            has_third_term: false,
            by_pupil: HashMap::new(),
        });
    };
    let es = exams::exam_session(conn, es_id).await?;
    let (scale, mut settings) = config::for_exam_session(conn, es.id).await?;
    // A school that prints no cumulative column still promotes on the session's figure:
    // the mean of the terms.
    if settings.cumulative_method == "none" {
        settings.cumulative_method = "average".into();
    }
    // The fail grade is the scale's lowest band (as on the broadsheet); a one-band scale
    // fails nobody.
    let fail_grade = (scale.bands.len() > 1)
        .then(|| scale.bands.last().map(|b| b.grade.clone()))
        .flatten();
    let classes: Vec<i64> = sqlx::query_scalar(
        "SELECT DISTINCT academic_class_id FROM exams WHERE exam_session_id = $1",
    )
    .bind(es.id)
    .fetch_all(&mut *conn)
    .await?;
    let mut by_pupil = HashMap::new();
    for class in classes {
        let data = results::fetch(conn, &es, class, true).await?;
        let computed = results::compute(&data, &scale, &settings);
        let names: HashMap<i64, String> = computed
            .subjects
            .iter()
            .map(|s| (s.subject_id, s.subject_name.clone()))
            .collect();
        for pupil in &computed.pupils {
            let subjects = pupil
                .subjects
                .iter()
                .map(|s| {
                    let figure = s.cumulative.or(s.total);
                    let grade = if s.cumulative.is_some() {
                        s.cumulative_grade.clone()
                    } else {
                        s.grade.clone()
                    };
                    SubjectFigure {
                        subject_id: s.subject_id,
                        subject_name: names.get(&s.subject_id).cloned().unwrap_or_default(),
                        figure,
                        failed: figure.is_some()
                            && fail_grade.is_some()
                            && grade.is_some()
                            && grade == fail_grade,
                    }
                })
                .collect();
            by_pupil.insert(
                (class, pupil.student_id),
                Figures {
                    cumulative_average: pupil.cumulative_average,
                    subjects,
                },
            );
        }
    }
    Ok(SessionFigures {
        has_third_term: true,
        by_pupil,
    })
}
