//! Report comments (class teacher, head teacher, subject teacher), the comment bank, and
//! affective/psychomotor ratings, each filled for a whole class at once.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::{FromRow, PgConnection};
use utoipa::ToSchema;

use super::{exams::ExamSession, results::IN_EXAM_SESSION};
use crate::students::names::LIST_NAME;
use crate::{
    context::SchoolCtx,
    error::{AppError, AppResult, FieldErrors, Validator},
};

#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct BankComment {
    pub id: i64,
    /// `class_teacher`, `head_teacher` or `subject`.
    pub kind: String,
    pub text: String,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BankCommentInput {
    #[schema(pattern = "^(class_teacher|head_teacher|subject)$")]
    pub kind: String,
    #[schema(min_length = 2, max_length = 300)]
    pub text: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, FromRow, ToSchema)]
pub struct RatingTrait {
    pub id: i64,
    /// `affective` or `psychomotor`.
    pub kind: String,
    pub name: String,
}

/// One pupil's comments and ratings in an exam session.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct PupilComments {
    pub registration: i64,
    pub admission_no: String,
    pub full_name: String,
    pub class_teacher_comment: String,
    pub head_teacher_comment: String,
    /// Trait name → rating 1–5.
    #[sqlx(json)]
    #[schema(value_type = Option<HashMap<String, Option<i16>>>)]
    pub ratings: BTreeMap<String, i16>,
}

/// Saves what is given for each pupil; fields left out are unchanged.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PupilCommentsInput {
    pub registration: i64,
    pub class_teacher_comment: Option<String>,
    pub head_teacher_comment: Option<String>,
    /// Trait name → rating 1–5, or null to clear.
    #[schema(value_type = Object)]
    pub ratings: Option<BTreeMap<String, Option<i16>>>,
}

pub async fn bank(conn: &mut PgConnection) -> Result<Vec<BankComment>, sqlx::Error> {
    sqlx::query_as("SELECT id, kind, text FROM comment_bank ORDER BY kind, lower(text)")
        .fetch_all(conn)
        .await
}

pub async fn add_to_bank(ctx: &mut SchoolCtx, input: &BankCommentInput) -> AppResult<BankComment> {
    let mut v = Validator::new();
    if !matches!(
        input.kind.as_str(),
        "class_teacher" | "head_teacher" | "subject"
    ) {
        v.add("kind", "Choose class_teacher, head_teacher or subject.");
    }
    v.text("text", &input.text, 2, 300);
    v.finish()?;
    let c: BankComment = sqlx::query_as(
        "INSERT INTO comment_bank (kind, text, created_at) VALUES ($1, $2, $3) RETURNING id, kind, text",
    )
    .bind(&input.kind)
    .bind(input.text.trim())
    .bind(ctx.now)
    .fetch_one(&mut *ctx.tx)
    .await
    .map_err(|e| {
        AppError::from(e).on_constraint(
            "comment_bank_text_key",
            "text",
            "This comment is already in the bank.",
        )
    })?;
    ctx.audit_created("comment_bank", c.id, &c).await?;
    Ok(c)
}

pub async fn traits(conn: &mut PgConnection) -> Result<Vec<RatingTrait>, sqlx::Error> {
    sqlx::query_as("SELECT id, kind, name FROM rating_traits ORDER BY kind, ordinal, id")
        .fetch_all(conn)
        .await
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RatingTraitInput {
    /// `affective` or `psychomotor`.
    #[schema(pattern = "^(affective|psychomotor)$")]
    pub kind: String,
    #[schema(min_length = 1, max_length = 40)]
    pub name: String,
}

/// Replaces the list of rated traits, in the order given. Traits kept keep their ratings;
/// a trait that already has ratings cannot be dropped (its ratings would go with it).
pub async fn save_traits(
    conn: &mut PgConnection,
    list: &[RatingTraitInput],
) -> AppResult<Vec<RatingTrait>> {
    let mut v = Validator::new();
    let mut seen = HashSet::new();
    if list.len() > 30 {
        v.add("traits", "At most 30 traits.");
    }
    for (i, t) in list.iter().enumerate() {
        if !matches!(t.kind.as_str(), "affective" | "psychomotor") {
            v.add(
                &format!("traits[{i}].kind"),
                "Choose affective or psychomotor.",
            );
        }
        v.text(&format!("traits[{i}].name"), &t.name, 1, 40);
        if !seen.insert(t.name.trim().to_lowercase()) {
            v.add(
                &format!("traits[{i}].name"),
                "Each trait must be different.",
            );
        }
    }
    v.finish()?;
    let names: Vec<&str> = list.iter().map(|t| t.name.trim()).collect();
    let kinds: Vec<&str> = list.iter().map(|t| t.kind.as_str()).collect();
    let rated: Vec<String> = sqlx::query_scalar(
        "SELECT t.name FROM rating_traits t
          WHERE lower(t.name) <> ALL(SELECT lower(x) FROM unnest($1::text[]) x)
            AND EXISTS (SELECT 1 FROM ratings r WHERE r.trait_id = t.id)",
    )
    .bind(&names)
    .fetch_all(&mut *conn)
    .await?;
    if !rated.is_empty() {
        return Err(AppError::field(
            "traits",
            format!(
                "{} already {} ratings; keep {}.",
                rated.join(", "),
                if rated.len() == 1 { "has" } else { "have" },
                if rated.len() == 1 { "it" } else { "them" }
            ),
        ));
    }
    sqlx::query(
        "DELETE FROM rating_traits WHERE lower(name) <> ALL(SELECT lower(x) FROM unnest($1::text[]) x)",
    )
    .bind(&names)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO rating_traits (kind, name, ordinal)
         SELECT k, n, o FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS x(n, k, o)
         ON CONFLICT (lower(name)) DO UPDATE SET kind = EXCLUDED.kind, name = EXCLUDED.name, ordinal = EXCLUDED.ordinal",
    )
    .bind(&names)
    .bind(&kinds)
    .execute(&mut *conn)
    .await?;
    Ok(traits(conn).await?)
}

/// Replaces the comment bank with these texts (nothing refers to bank entries).
pub async fn save_bank(
    conn: &mut PgConnection,
    list: &[BankCommentInput],
    now: chrono::DateTime<chrono::Utc>,
) -> AppResult<Vec<BankComment>> {
    let mut v = Validator::new();
    for (i, c) in list.iter().enumerate() {
        if !matches!(
            c.kind.as_str(),
            "class_teacher" | "head_teacher" | "subject"
        ) {
            v.add(
                &format!("bank[{i}].kind"),
                "Choose class_teacher, head_teacher or subject.",
            );
        }
        v.text(&format!("bank[{i}].text"), &c.text, 2, 300);
    }
    v.finish()?;
    sqlx::query("DELETE FROM comment_bank")
        .execute(&mut *conn)
        .await?;
    let kinds: Vec<&str> = list.iter().map(|c| c.kind.as_str()).collect();
    let texts: Vec<&str> = list.iter().map(|c| c.text.trim()).collect();
    sqlx::query(
        "INSERT INTO comment_bank (kind, text, created_at)
         SELECT k, t, $3 FROM unnest($1::text[], $2::text[]) AS x(k, t)
         ON CONFLICT (kind, lower(text)) DO NOTHING",
    )
    .bind(&kinds)
    .bind(&texts)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(bank(conn).await?)
}

pub async fn class_comments(
    conn: &mut PgConnection,
    exam_session_id: i64,
    academic_class_id: i64,
) -> Result<Vec<PupilComments>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT r.id AS registration, s.admission_no, {LIST_NAME} AS full_name,
                COALESCE(rc.class_teacher_comment, '') AS class_teacher_comment,
                COALESCE(rc.head_teacher_comment, '') AS head_teacher_comment,
                COALESCE((SELECT json_object_agg(t.name, rt.value) FROM ratings rt
                            JOIN rating_traits t ON t.id = rt.trait_id
                           WHERE rt.exam_session_id = $1 AND rt.registration_id = r.id), '{{}}'::json) AS ratings
           FROM registrations r JOIN students s ON s.id = r.student_id
           LEFT JOIN report_comments rc ON rc.exam_session_id = $1 AND rc.registration_id = r.id
          WHERE r.academic_class_id = $3 AND {IN_EXAM_SESSION}
          ORDER BY s.last_name_key, s.first_name_key, s.id"
    )))
    .bind(exam_session_id)
    .bind(exam_session_id)
    .bind(academic_class_id)
    .fetch_all(conn)
    .await
}

/// Saves comments and ratings for pupils of one class, all or nothing. The class teacher
/// writes class-teacher comments and ratings; the head teacher comment needs change_results
/// (which also allows everything else here).
pub async fn save_class_comments(
    ctx: &mut SchoolCtx,
    es: &ExamSession,
    academic_class_id: i64,
    rows: &[PupilCommentsInput],
) -> AppResult<usize> {
    let class_teacher: Option<Option<i64>> =
        sqlx::query_scalar("SELECT class_teacher_id FROM academic_classes WHERE id = $1")
            .bind(academic_class_id)
            .fetch_optional(&mut *ctx.tx)
            .await?;
    let Some(class_teacher) = class_teacher else {
        return Err(AppError::NotFound("No such class.".into()));
    };
    let is_head = ctx.perms.has("change_results");
    let is_class_teacher = class_teacher == Some(ctx.user.id) || is_head;
    // FOR SHARE: publishing waits for this save (and the other way round).
    let status: String =
        sqlx::query_scalar("SELECT status FROM exam_sessions WHERE id = $1 FOR SHARE")
            .bind(es.id)
            .fetch_one(&mut *ctx.tx)
            .await?;
    if status == "published" {
        return Err(AppError::Conflict(
            "Results of this exam session are published; unpublish them to change comments.".into(),
        ));
    }
    let in_class: HashSet<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT r.id FROM registrations r WHERE r.academic_class_id = $1 AND {IN_EXAM_SESSION}"
    )))
    .bind(academic_class_id)
    .bind(es.id)
    .fetch_all(&mut *ctx.tx)
    .await?
    .into_iter()
    .collect();
    let traits: HashMap<String, i64> = traits(&mut ctx.tx)
        .await?
        .into_iter()
        .map(|t| (t.name.to_lowercase(), t.id))
        .collect();

    let mut errors = FieldErrors::new();
    let mut add = |f: String, m: String| errors.entry(f).or_default().push(m);
    let mut forbidden = None;
    let mut seen_pupils = HashSet::new();
    for (i, row) in rows.iter().enumerate() {
        let label = format!("Row {}", i + 1);
        if !in_class.contains(&row.registration) {
            add(
                format!("rows[{i}].registration"),
                format!("{label}: this pupil is not registered in this class."),
            );
        } else if !seen_pupils.insert(row.registration) {
            add(
                format!("rows[{i}].registration"),
                format!("{label}: this pupil appears twice."),
            );
        }
        if row.head_teacher_comment.is_some() && !is_head {
            forbidden = Some("Only the head teacher writes the head teacher's comment.");
        }
        if (row.class_teacher_comment.is_some() || row.ratings.is_some()) && !is_class_teacher {
            forbidden = Some("Only the class teacher writes this class's comments and ratings.");
        }
        for (field, text) in [
            ("class_teacher_comment", &row.class_teacher_comment),
            ("head_teacher_comment", &row.head_teacher_comment),
        ] {
            if text
                .as_ref()
                .is_some_and(|t| t.trim().chars().count() > 500)
            {
                add(
                    format!("rows[{i}].{field}"),
                    format!("{label}: at most 500 characters."),
                );
            }
            if text.as_ref().is_some_and(|t| t.contains('\0')) {
                add(
                    format!("rows[{i}].{field}"),
                    format!("{label}: the text contains a character that cannot be saved."),
                );
            }
        }
        let mut seen_traits = HashSet::new();
        for (name, value) in row.ratings.iter().flatten() {
            if !seen_traits.insert(name.trim().to_lowercase()) {
                add(
                    format!("rows[{i}].ratings.{name}"),
                    format!("{label}: {name:?} is given twice."),
                );
            }
            if !traits.contains_key(&name.trim().to_lowercase()) {
                add(
                    format!("rows[{i}].ratings.{name}"),
                    format!("{label}: unknown trait {name:?}."),
                );
            }
            if value.is_some_and(|v| !(1..=5).contains(&v)) {
                add(
                    format!("rows[{i}].ratings.{name}"),
                    format!("{label}: a rating is from 1 to 5."),
                );
            }
        }
    }
    if let Some(msg) = forbidden {
        return Err(AppError::Forbidden(msg.into()));
    }
    if !errors.is_empty() {
        return Err(AppError::Validation {
            detail: "Some rows are not valid; nothing was saved.".into(),
            errors,
        });
    }
    // Two statements for the whole class: comments, then ratings.
    let with_comments: Vec<&PupilCommentsInput> = rows
        .iter()
        .filter(|r| r.class_teacher_comment.is_some() || r.head_teacher_comment.is_some())
        .collect();
    if !with_comments.is_empty() {
        let regs: Vec<i64> = with_comments.iter().map(|r| r.registration).collect();
        let class_teacher: Vec<Option<&str>> = with_comments
            .iter()
            .map(|r| r.class_teacher_comment.as_deref().map(str::trim))
            .collect();
        let head: Vec<Option<&str>> = with_comments
            .iter()
            .map(|r| r.head_teacher_comment.as_deref().map(str::trim))
            .collect();
        // A comment given carries its writer (`*_by`); one left out carries none, and the
        // stored one stays. The writer changes only when the text does.
        sqlx::query(
            "INSERT INTO report_comments (exam_session_id, registration_id, class_teacher_comment,
                    class_teacher_by, head_teacher_comment, head_teacher_by, updated_at)
             SELECT $1, x.r, COALESCE(x.ct, ''), CASE WHEN x.ct IS NOT NULL THEN $5::bigint END,
                    COALESCE(x.ht, ''), CASE WHEN x.ht IS NOT NULL THEN $5::bigint END, $6
               FROM UNNEST($2::bigint[], $3::text[], $4::text[]) AS x(r, ct, ht)
             ON CONFLICT (exam_session_id, registration_id) DO UPDATE SET
                class_teacher_comment = CASE WHEN EXCLUDED.class_teacher_by IS NULL
                                             THEN report_comments.class_teacher_comment
                                             ELSE EXCLUDED.class_teacher_comment END,
                class_teacher_by = CASE WHEN EXCLUDED.class_teacher_by IS NOT NULL
                                         AND EXCLUDED.class_teacher_comment IS DISTINCT FROM report_comments.class_teacher_comment
                                        THEN EXCLUDED.class_teacher_by ELSE report_comments.class_teacher_by END,
                head_teacher_comment = CASE WHEN EXCLUDED.head_teacher_by IS NULL
                                            THEN report_comments.head_teacher_comment
                                            ELSE EXCLUDED.head_teacher_comment END,
                head_teacher_by = CASE WHEN EXCLUDED.head_teacher_by IS NOT NULL
                                        AND EXCLUDED.head_teacher_comment IS DISTINCT FROM report_comments.head_teacher_comment
                                       THEN EXCLUDED.head_teacher_by ELSE report_comments.head_teacher_by END,
                updated_at = EXCLUDED.updated_at",
        )
        .bind(es.id)
        .bind(&regs)
        .bind(&class_teacher)
        .bind(&head)
        .bind(ctx.user.id)
        .bind(ctx.now)
        .execute(&mut *ctx.tx)
        .await?;
    }
    let mut rated: (Vec<i64>, Vec<i64>, Vec<Option<i16>>) = Default::default();
    for row in rows {
        for (name, value) in row.ratings.iter().flatten() {
            if let Some(id) = traits.get(&name.trim().to_lowercase()) {
                rated.0.push(row.registration);
                rated.1.push(*id);
                rated.2.push(*value);
            }
        }
    }
    if !rated.0.is_empty() {
        sqlx::query(
            "WITH given AS (SELECT * FROM UNNEST($2::bigint[], $3::bigint[], $4::smallint[]) AS g(registration_id, trait_id, value)),
                  cleared AS (DELETE FROM ratings r USING given g
                               WHERE g.value IS NULL AND r.exam_session_id = $1
                                 AND r.registration_id = g.registration_id AND r.trait_id = g.trait_id)
             INSERT INTO ratings (exam_session_id, registration_id, trait_id, value)
             SELECT $1, registration_id, trait_id, value FROM given WHERE value IS NOT NULL
             ON CONFLICT (exam_session_id, registration_id, trait_id) DO UPDATE SET value = EXCLUDED.value",
        )
        .bind(es.id)
        .bind(&rated.0)
        .bind(&rated.1)
        .bind(&rated.2)
        .execute(&mut *ctx.tx)
        .await?;
    }
    let ids: Vec<i64> = rows.iter().map(|r| r.registration).collect();
    ctx.audit(
        "update",
        "report_comments",
        es.id,
        json!({"academic_class_id": academic_class_id, "registrations": ids}),
    )
    .await?;
    Ok(rows.len())
}
