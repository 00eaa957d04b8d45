//! What a linked parent can ask for, answered from the school's own data: results and the
//! report card of published exam sessions only, this term's attendance, live notices.

use chrono::{NaiveDate, Utc};
use serde_json::json;
use sqlx::PgConnection;

use super::{
    numbers::School,
    replies::{Replier, clip},
};
use crate::{
    assessment::{card::SubjectStatus, exams, results::ClassResults, stored},
    attendance::reports,
    error::AppResult,
    notices,
};

/// Who is asking about which child.
pub struct Asked<'a> {
    pub school: &'a School,
    pub student_id: i64,
    pub child: &'a str,
    pub number: &'a str,
    pub purpose_base: String,
    pub recipient: String,
}

/// A pupil's place in a published exam session.
#[derive(Debug, Clone, Copy, sqlx::FromRow)]
pub struct Published {
    pub exam_session_id: i64,
    pub registration: i64,
    pub academic_class_id: i64,
}

/// The latest published exam session the pupil sat (their registration and class in it).
/// Sessions that are not published are never considered.
pub async fn latest_published(
    conn: &mut PgConnection,
    student_id: i64,
) -> sqlx::Result<Option<Published>> {
    sqlx::query_as(
        "SELECT es.id AS exam_session_id, r.id AS registration, r.academic_class_id
           FROM exam_sessions es
           JOIN registrations r ON r.session_id = es.session_id AND r.student_id = $1
          WHERE es.status = 'published'
            AND (r.is_current OR EXISTS (SELECT 1 FROM marks m JOIN exams e ON e.id = m.exam_id
                                          WHERE m.registration_id = r.id AND e.exam_session_id = es.id))
          ORDER BY es.published_at DESC NULLS LAST, es.id DESC, r.is_current DESC
          LIMIT 1",
    )
    .bind(student_id)
    .fetch_optional(conn)
    .await
}

/// The figures of the pupil's class in a published exam session: those publishing stored
/// (every reader gets the same), with the session.
pub async fn published_results(
    conn: &mut PgConnection,
    at: Published,
) -> AppResult<Option<(exams::ExamSession, ClassResults)>> {
    let es = exams::exam_session(conn, at.exam_session_id).await?;
    if es.status != exams::ExamSessionStatus::Published {
        return Ok(None);
    }
    let results = stored::class_results(conn, &es, at.academic_class_id, Utc::now()).await?;
    Ok(Some((es, results)))
}

/// The pupil's report card PDF in a published exam session, as stored (rendered and stored
/// on the first request), with their admission number.
pub async fn card_pdf(
    conn: &mut PgConnection,
    school_name: &str,
    at: Published,
) -> AppResult<Option<stored::CardPdf>> {
    let es = exams::exam_session(conn, at.exam_session_id).await?;
    if es.status != exams::ExamSessionStatus::Published {
        return Ok(None);
    }
    let today = school_today(conn).await?;
    let pdf = stored::card_pdf(
        conn,
        school_name,
        &es,
        at.academic_class_id,
        at.registration,
        today,
        Utc::now(),
    )
    .await?;
    Ok(Some(pdf))
}

/// The term summary: average, position out of N, each subject's total and grade, as the
/// card prints them. `None` when the pupil is not in the results.
pub fn summary_text(
    child: &str,
    school: &str,
    es: &exams::ExamSession,
    results: &ClassResults,
    registration: i64,
) -> Option<String> {
    let pupil = results
        .pupils
        .iter()
        .find(|p| p.registration == registration)?;
    let position = match pupil.position {
        Some(p) if !pupil.position_withheld => format!(
            "{} out of {}",
            crate::assessment::card::ordinal(p),
            results.out_of
        ),
        _ => "not given".to_owned(),
    };
    let mut out = format!(
        "*{child}* ({school}): {}, {} {}\nAverage: {} · Position: {position}",
        es.name,
        es.term_name,
        es.session_name,
        crate::assessment::card::format_score(pupil.average.unwrap_or_default()),
    );
    for s in &pupil.subjects {
        let Some(subject) = results.subjects.iter().find(|x| x.exam_id == s.exam_id) else {
            continue;
        };
        let line = match (s.status, s.total) {
            (SubjectStatus::Missing, _) | (_, None) => "no mark entered yet".to_owned(),
            _ => format!(
                "{} {}",
                crate::assessment::card::total_text(s.status, s.total),
                s.grade.as_deref().unwrap_or_default()
            ),
        };
        out.push_str(&format!("\n{}: {}", subject.subject_name, line.trim()));
    }
    out.push_str("\n\nSend CARD for the report card as a PDF.");
    Some(clip(&out, 4000))
}

pub async fn results(
    conn: &mut PgConnection,
    reply: &mut Replier,
    asked: &Asked<'_>,
) -> AppResult<()> {
    let found = match latest_published(conn, asked.student_id).await? {
        Some(at) => published_results(conn, at)
            .await?
            .and_then(|(es, results)| {
                summary_text(
                    asked.child,
                    &asked.school.name,
                    &es,
                    &results,
                    at.registration,
                )
                .map(|text| (es, text))
            }),
        None => None,
    };
    match found {
        Some((es, text)) => {
            reply
                .say(
                    conn,
                    super::outbox::text(&text),
                    &format!("Results: {}", es.name),
                    Some(asked.student_id),
                )
                .await
        }
        None => {
            reply
                .text(
                    conn,
                    &format!("No results have been published for {} yet.", asked.child),
                )
                .await
        }
    }
}

/// The report card goes as a document: the sender renders it, uploads it once and reuses
/// its media id (the `card` part of the message says which).
pub async fn card(
    conn: &mut PgConnection,
    reply: &mut Replier,
    asked: &Asked<'_>,
) -> AppResult<()> {
    let Some(at) = latest_published(conn, asked.student_id).await? else {
        return reply
            .text(
                conn,
                &format!("No report card has been published for {} yet.", asked.child),
            )
            .await;
    };
    let es = exams::exam_session(conn, at.exam_session_id).await?;
    let admission_no: String =
        sqlx::query_scalar("SELECT admission_no FROM students WHERE id = $1")
            .bind(asked.student_id)
            .fetch_one(&mut *conn)
            .await?;
    let file_name = format!(
        "{}-{}-{}.pdf",
        admission_no.replace(['/', '\\', '"', ' '], "-"),
        es.term_name.replace(' ', "-"),
        es.session_name.replace(['/', ' '], "-"),
    );
    let message = json!({
        "type": "document",
        "document": {
            "filename": file_name,
            "caption": format!("{}: report card, {} {}", asked.child, es.term_name, es.session_name),
        },
        "card": {
            "exam_session_id": at.exam_session_id,
            "registration": at.registration,
            "academic_class_id": at.academic_class_id,
            "student_id": asked.student_id,
        }
    });
    reply
        .say(
            conn,
            message,
            &format!("Report card: {}", es.name),
            Some(asked.student_id),
        )
        .await
}

/// The school's today in its time zone.
async fn school_today(conn: &mut PgConnection) -> AppResult<NaiveDate> {
    let general = crate::settings::db::load(conn).await?;
    let tz = general
        .time_zone
        .parse::<chrono_tz::Tz>()
        .unwrap_or(crate::tenancy::scope::DEFAULT_TIME_ZONE);
    Ok(Utc::now().with_timezone(&tz).date_naive())
}

pub async fn attendance(
    conn: &mut PgConnection,
    reply: &mut Replier,
    asked: &Asked<'_>,
) -> AppResult<()> {
    let today = school_today(conn).await?;
    let term: Option<(i64, String)> = sqlx::query_as(
        "SELECT id, name FROM terms WHERE is_current
         UNION ALL
         (SELECT id, name FROM terms WHERE starts_on <= $1 ORDER BY starts_on DESC LIMIT 1)
         LIMIT 1",
    )
    .bind(today)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((term_id, term_name)) = term else {
        return reply.text(conn, "No term has started yet.").await;
    };
    let summary = reports::pupil_term(conn, asked.student_id, term_id, today).await?;
    let t = &summary.tally;
    // Out of the registers actually taken: one the school did not take is not an absence.
    let marked = t.present + t.absent;
    let mut out = if t.any_marked() {
        let mut line = format!(
            "*{}* ({}): attendance, {term_name}\nPresent {} of {marked} registers taken ({:.0}%) · Absent: {}",
            asked.child,
            asked.school.name,
            t.present,
            if marked > 0 {
                100.0 * t.present as f64 / marked as f64
            } else {
                0.0
            },
            t.absent,
        );
        if t.late > 0 {
            line.push_str(&format!(" · Late: {}", t.late));
        }
        if t.excused > 0 {
            line.push_str(&format!(" · Excused: {}", t.excused));
        }
        line
    } else {
        format!(
            "*{}*: no attendance has been recorded this term yet.",
            asked.child
        )
    };
    let absences = crate::attendance::absences::of_pupil(conn, asked.student_id).await?;
    let recorded: Vec<String> = absences
        .iter()
        .filter(|a| a.status == crate::attendance::absences::AbsenceStatus::Recorded)
        .take(5)
        .map(|a| a.day.format("%a %d %b %Y").to_string())
        .collect();
    if !recorded.is_empty() {
        out.push_str(&format!("\nLatest absences: {}", recorded.join(", ")));
    }
    reply
        .say(
            conn,
            super::outbox::text(&out),
            "Attendance",
            Some(asked.student_id),
        )
        .await
}

pub async fn notices(
    conn: &mut PgConnection,
    reply: &mut Replier,
    asked: &Asked<'_>,
) -> AppResult<()> {
    let live = notices::db::for_pupil_parents(conn, asked.student_id, Utc::now()).await?;
    if live.is_empty() {
        return reply
            .text(
                conn,
                &format!(
                    "There are no notices for {}'s parents at the moment.",
                    asked.child
                ),
            )
            .await;
    }
    let mut out = format!("Notices for {}'s parents:", asked.child);
    for n in live.iter().take(5) {
        out.push_str(&format!("\n\n*{}*\n{}", n.title, clip(&n.body, 600)));
    }
    if live.len() > 5 {
        out.push_str(&format!("\n\n…and {} more at the school.", live.len() - 5));
    }
    reply
        .say(
            conn,
            super::outbox::text(&clip(&out, 4000)),
            "Notices",
            Some(asked.student_id),
        )
        .await
}
