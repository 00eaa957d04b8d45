//! Proactive messages: a recorded absence, and "results are out" when an exam session is
//! published — one per linked parent per pupil (the outbox's purpose says so), as the
//! school's approved template outside the 24-hour window and as plain text inside it.

use serde_json::{Value, json};
use sqlx::{FromRow, PgConnection, PgPool};

use super::{
    linking::STILL_VALID,
    numbers,
    outbox::{self, Outgoing},
};
use crate::{
    config::WhatsAppConfig,
    db,
    jobs::queue::{AlertJob, ParentAlert},
};

#[derive(Debug, FromRow)]
struct Templates {
    absence_template: String,
    results_template: String,
    template_language: String,
}

fn template(name: &str, language: &str, params: &[&str]) -> Value {
    let parameters: Vec<Value> = params
        .iter()
        .map(|p| json!({"type": "text", "text": p}))
        .collect();
    json!({
        "type": "template",
        "template": {
            "name": name,
            "language": {"code": language},
            "components": [{"type": "body", "parameters": parameters}]
        }
    })
}

#[derive(Debug, FromRow)]
struct Due {
    student_id: i64,
    key: String,
    wa_phone: String,
    pupil: String,
    label: String,
}

pub async fn run_job(pool: &PgPool, config: &WhatsAppConfig, job: &AlertJob) -> anyhow::Result<()> {
    let mut tx = db::begin_platform(pool).await?;
    let Some(school) = numbers::school_by_schema(&mut tx, &job.schema).await? else {
        anyhow::bail!("alert job for unknown school schema {:?}", job.schema);
    };
    let Some(number) = numbers::sending_number(&mut tx, config, school.id).await? else {
        // No number to send from: nothing to do (the school has not set WhatsApp up).
        return Ok(());
    };
    if !school.is_active {
        return Ok(());
    }
    super::conversation::enter(&mut tx, &school.schema_name).await?;
    let templates: Templates = sqlx::query_as(
        "SELECT absence_template, results_template, template_language FROM chatbot_settings WHERE id = 1",
    )
    .fetch_one(&mut *tx)
    .await?;
    let queued = match &job.alert {
        ParentAlert::Absences => {
            absences(&mut tx, &job.schema, &school.name, &number, &templates).await?
        }
        ParentAlert::ResultsOut { exam_session_id } => {
            results_out(
                &mut tx,
                &job.schema,
                &school.name,
                &number,
                &templates,
                *exam_session_id,
            )
            .await?
        }
    };
    tx.commit().await?;
    tracing::debug!(schema = %job.schema, queued, "parent alerts queued");
    Ok(())
}

/// Recorded absences of the last two days, to each linked parent.
async fn absences(
    conn: &mut PgConnection,
    schema: &str,
    school_name: &str,
    number: &str,
    templates: &Templates,
) -> anyhow::Result<usize> {
    let due: Vec<Due> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT e.student_id, e.day::text AS key, l.wa_phone,
                s.first_name || ' ' || s.last_name AS pupil,
                to_char(e.day, 'FMDay DD Mon YYYY') AS label
           FROM absence_events e
           JOIN chatbot_links l ON l.student_id = e.student_id AND l.ended_at IS NULL
           JOIN students s ON s.id = e.student_id
          WHERE e.status = 'recorded' AND e.recorded_at > now() - interval '2 days'
            AND {STILL_VALID}
          ORDER BY e.id, l.id"
    )))
    .fetch_all(&mut *conn)
    .await?;
    let mut outs = Vec::with_capacity(due.len());
    for d in &due {
        let text = format!(
            "{school_name}: {} was marked absent on {} and the school has no reason on record. \
             Please contact the school if this is unexpected. (Send STOP to stop messages.)",
            d.pupil, d.label
        );
        let out = Outgoing {
            purpose: format!("absence:{}:{}:{}", d.student_id, d.key, d.wa_phone),
            recipient: d.wa_phone.clone(),
            phone_number_id: number.to_owned(),
            message: Some(outbox::text(&text)),
            template: Some(template(
                &templates.absence_template,
                &templates.template_language,
                &[&d.pupil, &d.label, school_name],
            )),
            student_id: Some(d.student_id),
            summary: format!("Absence alert: {} on {}", d.pupil, d.label),
        };
        outs.push(out);
    }
    queue_and_focus(conn, schema, number, &outs).await
}

/// Queues the alerts in a few statements, and turns each parent's chat to the pupil and
/// school the alert is about (their reply most likely is). Returns how many were new.
async fn queue_and_focus(
    conn: &mut PgConnection,
    schema: &str,
    number: &str,
    outs: &[Outgoing],
) -> anyhow::Result<usize> {
    let queued = outbox::queue_all(conn, schema, outs).await?;
    let phones: Vec<&str> = queued
        .iter()
        .map(|&(_, i)| outs[i].recipient.as_str())
        .collect();
    let students: Vec<Option<i64>> = queued.iter().map(|&(_, i)| outs[i].student_id).collect();
    // A parent of two pupils alerted at once looks at the last one.
    sqlx::query(
        "INSERT INTO chatbot_conversations (wa_phone, current_student_id, updated_at)
         SELECT DISTINCT ON (phone) phone, student_id, now()
           FROM unnest($1::text[], $2::bigint[]) WITH ORDINALITY AS t(phone, student_id, n)
          ORDER BY phone, n DESC
         ON CONFLICT (wa_phone) DO UPDATE
            SET current_student_id = excluded.current_student_id, updated_at = now()",
    )
    .bind(&phones)
    .bind(&students)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "UPDATE public.whatsapp_chats c SET chosen_school_id = cl.id
           FROM public.clients cl
          WHERE cl.schema_name = current_schema() AND c.phone_number_id = $1
            AND c.wa_phone = ANY($2)",
    )
    .bind(number)
    .bind(&phones)
    .execute(conn)
    .await?;
    Ok(queued.len())
}

/// "Results are out" for every linked parent of a pupil in a published exam session.
async fn results_out(
    conn: &mut PgConnection,
    schema: &str,
    school_name: &str,
    number: &str,
    templates: &Templates,
    exam_session_id: i64,
) -> anyhow::Result<usize> {
    let es: Option<(String, String, String)> = sqlx::query_as(
        "SELECT es.name, t.name, se.name FROM exam_sessions es
           JOIN terms t ON t.id = es.term_id JOIN academic_sessions se ON se.id = es.session_id
          WHERE es.id = $1 AND es.status = 'published'",
    )
    .bind(exam_session_id)
    .fetch_optional(&mut *conn)
    .await?;
    // Unpublished again before the job ran: nothing goes out.
    let Some((es_name, term, session)) = es else {
        return Ok(0);
    };
    let due: Vec<Due> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT DISTINCT ON (l.student_id, l.wa_phone) l.student_id, $1::text AS key, l.wa_phone,
                s.first_name || ' ' || s.last_name AS pupil, '' AS label
           FROM chatbot_links l
           JOIN students s ON s.id = l.student_id
           JOIN registrations r ON r.student_id = l.student_id
           JOIN exam_sessions es ON es.id = $1 AND r.session_id = es.session_id
          WHERE l.ended_at IS NULL AND {STILL_VALID}
            AND (r.is_current OR EXISTS (SELECT 1 FROM marks m JOIN exams e ON e.id = m.exam_id
                                          WHERE m.registration_id = r.id AND e.exam_session_id = es.id))
          ORDER BY l.student_id, l.wa_phone"
    )))
    .bind(exam_session_id)
    .fetch_all(&mut *conn)
    .await?;
    let period = format!("{term} {session}");
    let mut outs = Vec::with_capacity(due.len());
    for d in &due {
        let text = format!(
            "{school_name}: the results of {es_name} ({period}) are out for {}. Send RESULTS to \
             see them or CARD for the report card.",
            d.pupil
        );
        let out = Outgoing {
            purpose: format!("results:{exam_session_id}:{}:{}", d.student_id, d.wa_phone),
            recipient: d.wa_phone.clone(),
            phone_number_id: number.to_owned(),
            message: Some(outbox::text(&text)),
            template: Some(template(
                &templates.results_template,
                &templates.template_language,
                &[&d.pupil, &es_name, school_name],
            )),
            student_id: Some(d.student_id),
            summary: format!("Results are out: {} ({es_name})", d.pupil),
        };
        outs.push(out);
    }
    queue_and_focus(conn, schema, number, &outs).await
}
