//! Which subjects a pupil takes. A pupil takes every core subject of their class unless
//! exempted (with a reason), and an elective only when registered for it. Choices are kept
//! per student and academic session, so they follow a pupil who moves arm. The average on a
//! report card is over the subjects taken, and a subject taken without marks is outstanding.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::{FromRow, PgConnection};
use utoipa::ToSchema;

use crate::{
    context::SchoolCtx,
    error::{AppError, AppResult, FieldErrors},
    students::names::LIST_NAME,
};

/// SQL: whether the pupil of registration `r` takes the class subject `acs`. Holding marks
/// (or ABS) in it counts as taking it: a subject made elective after marks were entered stays
/// taken by those pupils, so nothing entered is dropped or left uncounted.
pub const TAKES: &str = "(CASE WHEN acs.is_elective
      THEN EXISTS (SELECT 1 FROM subject_choices sc
                    WHERE sc.student_id = r.student_id AND sc.session_id = r.session_id
                      AND sc.subject_id = acs.subject_id AND sc.choice = 'takes')
        OR EXISTS (SELECT 1 FROM exams he
                    WHERE he.academic_class_id = r.academic_class_id AND he.subject_id = acs.subject_id
                      AND (EXISTS (SELECT 1 FROM marks hm WHERE hm.exam_id = he.id AND hm.registration_id = r.id)
                           OR EXISTS (SELECT 1 FROM exam_absences ha
                                       WHERE ha.exam_id = he.id AND ha.registration_id = r.id)))
      ELSE NOT EXISTS (SELECT 1 FROM subject_choices sc
                        WHERE sc.student_id = r.student_id AND sc.session_id = r.session_id
                          AND sc.subject_id = acs.subject_id AND sc.choice = 'exempt')
 END)";

#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct PupilSubject {
    pub subject_id: i64,
    #[schema(example = "Mathematics")]
    pub subject_name: String,
    /// Taken only by the pupils registered for it.
    pub is_elective: bool,
    pub takes: bool,
    /// Why the pupil is excused from this core subject.
    pub exempt_reason: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PupilSubjects {
    pub registration: i64,
    pub student_id: i64,
    pub full_name: String,
    pub academic_class_id: i64,
    pub class_name: String,
    /// Every subject the class offers, with whether this pupil takes it.
    pub subjects: Vec<PupilSubject>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Exemption {
    pub subject_id: i64,
    #[schema(example = "Medical exemption")]
    pub reason: String,
}

/// Replaces the pupil's choices among the class's subjects.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PupilSubjectsInput {
    /// Electives of the class the pupil takes; the class's other electives are not taken.
    #[serde(default)]
    pub electives: Vec<i64>,
    /// Core subjects the pupil is excused from, each with its reason.
    #[serde(default)]
    pub exemptions: Vec<Exemption>,
}

#[derive(FromRow)]
struct Header {
    student_id: i64,
    session_id: i64,
    full_name: String,
    class_name: String,
    is_current: bool,
}

async fn header(
    conn: &mut PgConnection,
    academic_class_id: i64,
    registration: i64,
) -> AppResult<Header> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT r.student_id, r.session_id, {LIST_NAME} AS full_name, c.name AS class_name, r.is_current
           FROM registrations r JOIN students s ON s.id = r.student_id
           JOIN academic_classes ac ON ac.id = r.academic_class_id
           JOIN classes c ON c.id = ac.class_id
          WHERE r.id = $1 AND r.academic_class_id = $2"
    )))
    .bind(registration)
    .bind(academic_class_id)
    .fetch_optional(conn)
    .await?
    .ok_or_else(|| AppError::NotFound("This pupil is not registered in this class.".into()))
}

/// The class's subjects with whether the pupil of `registration` takes each.
pub async fn pupil_subjects(
    conn: &mut PgConnection,
    academic_class_id: i64,
    registration: i64,
) -> AppResult<PupilSubjects> {
    let h = header(conn, academic_class_id, registration).await?;
    let subjects = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT acs.subject_id, s.name AS subject_name, acs.is_elective, {TAKES} AS takes,
                (SELECT sc.reason FROM subject_choices sc
                  WHERE sc.student_id = r.student_id AND sc.session_id = r.session_id
                    AND sc.subject_id = acs.subject_id AND sc.choice = 'exempt') AS exempt_reason
           FROM registrations r
           JOIN academic_class_subjects acs ON acs.academic_class_id = r.academic_class_id
           JOIN subjects s ON s.id = acs.subject_id
          WHERE r.id = $1
          ORDER BY acs.is_elective, lower(s.name)"
    )))
    .bind(registration)
    .fetch_all(conn)
    .await?;
    Ok(PupilSubjects {
        registration,
        student_id: h.student_id,
        full_name: h.full_name,
        academic_class_id,
        class_name: h.class_name,
        subjects,
    })
}

/// Saves the pupil's electives and exemptions among the class's subjects. A subject the
/// pupil would stop taking while it holds their marks (or ABS) in this session is refused:
/// marks are never dropped silently.
pub async fn save(
    ctx: &mut SchoolCtx,
    academic_class_id: i64,
    registration: i64,
    input: &PupilSubjectsInput,
) -> AppResult<PupilSubjects> {
    let h = header(&mut ctx.tx, academic_class_id, registration).await?;
    if !h.is_current {
        return Err(AppError::Conflict(format!(
            "{} has left this class; set their subjects in the class they are in now.",
            h.full_name
        )));
    }
    let before = pupil_subjects(&mut ctx.tx, academic_class_id, registration).await?;
    let offered: HashMap<i64, &PupilSubject> =
        before.subjects.iter().map(|s| (s.subject_id, s)).collect();

    let mut errors = FieldErrors::new();
    let mut add = |field: String, msg: String| errors.entry(field).or_default().push(msg);
    let mut electives = HashSet::new();
    for (i, id) in input.electives.iter().enumerate() {
        match offered.get(id) {
            None => add(
                format!("electives[{i}]"),
                format!("{} does not offer this subject.", h.class_name),
            ),
            Some(s) if !s.is_elective => add(
                format!("electives[{i}]"),
                format!(
                    "{} is a core subject of {}: every pupil takes it unless exempted.",
                    s.subject_name, h.class_name
                ),
            ),
            Some(_) if !electives.insert(*id) => {
                add(format!("electives[{i}]"), "Listed twice.".into())
            }
            Some(_) => {}
        }
    }
    let mut exempt: HashMap<i64, String> = HashMap::new();
    for (i, e) in input.exemptions.iter().enumerate() {
        let reason = e.reason.trim();
        match offered.get(&e.subject_id) {
            None => add(
                format!("exemptions[{i}].subject_id"),
                format!("{} does not offer this subject.", h.class_name),
            ),
            Some(s) if s.is_elective => add(
                format!("exemptions[{i}].subject_id"),
                format!(
                    "{} is an elective: leave it out of the pupil's electives instead.",
                    s.subject_name
                ),
            ),
            Some(_) if exempt.contains_key(&e.subject_id) => add(
                format!("exemptions[{i}].subject_id"),
                "Listed twice.".into(),
            ),
            Some(s) if reason.is_empty() || reason.chars().count() > 200 => add(
                format!("exemptions[{i}].reason"),
                format!(
                    "Give the reason {} is excused from {} (at most 200 characters).",
                    h.full_name, s.subject_name
                ),
            ),
            Some(_) => {
                exempt.insert(e.subject_id, reason.to_owned());
            }
        }
    }
    if !errors.is_empty() {
        return Err(AppError::Validation {
            detail: "The subjects were not saved.".into(),
            errors,
        });
    }
    let takes_after = |s: &PupilSubject| {
        if s.is_elective {
            electives.contains(&s.subject_id)
        } else {
            !exempt.contains_key(&s.subject_id)
        }
    };
    let dropped: Vec<i64> = before
        .subjects
        .iter()
        .filter(|s| s.takes && !takes_after(s))
        .map(|s| s.subject_id)
        .collect();
    if !dropped.is_empty() {
        // Marks or ABS of this pupil (any arm of the session) in a subject dropped.
        let held: Vec<(String, String)> = sqlx::query_as(
            "SELECT DISTINCT s.name, es.name
               FROM exams e
               JOIN exam_sessions es ON es.id = e.exam_session_id
               JOIN subjects s ON s.id = e.subject_id
               JOIN registrations r ON r.student_id = $1 AND r.session_id = $2
              WHERE e.subject_id = ANY($3) AND es.session_id = $2
                AND (EXISTS (SELECT 1 FROM marks m WHERE m.exam_id = e.id AND m.registration_id = r.id)
                     OR EXISTS (SELECT 1 FROM exam_absences a WHERE a.exam_id = e.id AND a.registration_id = r.id))
              ORDER BY 1, 2",
        )
        .bind(h.student_id)
        .bind(h.session_id)
        .bind(&dropped)
        .fetch_all(&mut *ctx.tx)
        .await?;
        if !held.is_empty() {
            let list: Vec<String> = held
                .iter()
                .map(|(subject, session)| format!("{subject} ({session})"))
                .collect();
            return Err(AppError::Conflict(format!(
                "{} already has marks in {}; clear them on the mark sheet before changing the subjects taken.",
                h.full_name,
                list.join(", ")
            )));
        }
    }

    let class_subjects: Vec<i64> = before.subjects.iter().map(|s| s.subject_id).collect();
    sqlx::query(
        "DELETE FROM subject_choices WHERE student_id = $1 AND session_id = $2 AND subject_id = ANY($3)",
    )
    .bind(h.student_id)
    .bind(h.session_id)
    .bind(&class_subjects)
    .execute(&mut *ctx.tx)
    .await?;
    let mut subject_ids: Vec<i64> = electives.iter().copied().collect();
    let mut choices: Vec<&str> = vec!["takes"; subject_ids.len()];
    let mut reasons: Vec<&str> = vec![""; subject_ids.len()];
    for (id, reason) in &exempt {
        subject_ids.push(*id);
        choices.push("exempt");
        reasons.push(reason);
    }
    sqlx::query(
        "INSERT INTO subject_choices (student_id, session_id, subject_id, choice, reason, updated_by, updated_at)
         SELECT $1, $2, s, c, r, $6, $7 FROM UNNEST($3::bigint[], $4::text[], $5::text[]) AS x(s, c, r)",
    )
    .bind(h.student_id)
    .bind(h.session_id)
    .bind(&subject_ids)
    .bind(&choices)
    .bind(&reasons)
    .bind(ctx.user.id)
    .bind(ctx.now)
    .execute(&mut *ctx.tx)
    .await?;
    let after = pupil_subjects(&mut ctx.tx, academic_class_id, registration).await?;
    let summary = |p: &PupilSubjects| {
        json!(
            p.subjects
                .iter()
                .filter(|s| s.takes)
                .map(|s| s.subject_name.as_str())
                .collect::<Vec<_>>()
        )
    };
    let exemptions: Vec<_> = after
        .subjects
        .iter()
        .filter_map(|s| {
            s.exempt_reason
                .as_ref()
                .map(|r| json!({"subject": s.subject_name, "reason": r}))
        })
        .collect();
    ctx.audit(
        "update",
        "subjects_taken",
        h.student_id,
        json!({"class": h.class_name, "takes": {"from": summary(&before), "to": summary(&after)},
               "exemptions": exemptions}),
    )
    .await?;
    Ok(after)
}
