//! The rules of notices: a draft is written, changed, deleted or published; a published
//! notice is never edited, only withdrawn or re-issued as a new draft; its staff audience
//! acknowledges it when asked. Every change is audited in the request's transaction.

use chrono::{DateTime, Datelike, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::{Postgres, Row, postgres::PgArguments, query::Query};
use utoipa::ToSchema;

use super::{
    attachment::Upload,
    db::{self, Notice, NoticeScope, Reader},
};
use crate::{
    context::SchoolCtx,
    error::{AppError, AppResult, Validator},
};

pub const MAX_TITLE: usize = 200;
pub const MAX_BODY: usize = 20_000;
pub const MAX_PUPILS: usize = 500;

/// A draft notice, to create or to replace one (every field is sent; absent optional ones
/// are cleared).
#[derive(Debug, Default, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoticeInput {
    #[schema(min_length = 1, max_length = 200)]
    pub title: Option<String>,
    /// Plain text; line breaks are kept.
    #[schema(min_length = 1, max_length = 20000)]
    pub body: Option<String>,
    #[schema(value_type = Option<db::NoticeScope>)]
    pub scope: Option<String>,
    /// The class level, for `scope` `form`.
    pub form_id: Option<i64>,
    /// The class arm of a session, for `scope` `arm`.
    pub academic_class_id: Option<i64>,
    /// The pupils, for `scope` `pupils`.
    #[schema(max_items = 500)]
    pub student_ids: Option<Vec<i64>>,
    /// Addressed to the pupils' parents.
    pub for_parents: Option<bool>,
    /// Addressed to staff.
    pub for_staff: Option<bool>,
    pub pinned: Option<bool>,
    /// Ask staff to acknowledge it (staff notices only).
    pub needs_ack: Option<bool>,
    /// Seen from this moment; empty means from when it is published.
    pub publish_at: Option<DateTime<Utc>>,
    /// No longer seen from this moment; empty means never.
    pub expires_at: Option<DateTime<Utc>>,
}

/// A checked input.
struct Valid {
    title: String,
    body: String,
    scope: NoticeScope,
    form_id: Option<i64>,
    academic_class_id: Option<i64>,
    student_ids: Vec<i64>,
    for_parents: bool,
    for_staff: bool,
    pinned: bool,
    needs_ack: bool,
    publish_at: Option<DateTime<Utc>>,
    expires_at: Option<DateTime<Utc>>,
}

/// One notice as this request's user may read it.
pub async fn fetch(ctx: &mut SchoolCtx, id: i64) -> AppResult<Notice> {
    let reader = reader(ctx);
    db::get(&mut ctx.tx, &reader, id).await
}

/// Who reads in this request.
pub fn reader(ctx: &SchoolCtx) -> Reader {
    Reader {
        user_id: ctx.user.id,
        // Whoever may write or remove notices reads drafts too (a deleter must find the
        // draft they delete).
        manages: ctx.perms.has("add_notices")
            || ctx.perms.has("change_notices")
            || ctx.perms.has("delete_notices"),
        may_change: ctx.perms.has("change_notices"),
        now: ctx.now,
    }
}

fn sane_moment(v: &mut Validator, field: &str, at: Option<DateTime<Utc>>) {
    if let Some(at) = at
        && !(2000..=2200).contains(&at.year())
    {
        v.add(field, "Use a date between the years 2000 and 2200.");
    }
}

async fn validate(ctx: &mut SchoolCtx, input: &NoticeInput) -> AppResult<Valid> {
    let mut v = Validator::new();
    let title = input.title.as_deref().unwrap_or_default().trim().to_owned();
    v.text("title", &title, 1, MAX_TITLE);
    let body = input
        .body
        .as_deref()
        .unwrap_or_default()
        .replace("\r\n", "\n")
        .trim()
        .to_owned();
    v.text("body", &body, 1, MAX_BODY);
    let scope = match input.scope.as_deref() {
        None | Some("") => {
            v.add("scope", "This field is required.");
            None
        }
        Some(s) => {
            let parsed = NoticeScope::parse(s);
            if parsed.is_none() {
                v.add("scope", "Choose school, form, arm or pupils.");
            }
            parsed
        }
    };
    let is = |s: NoticeScope| scope == Some(s);
    let mut student_ids = input.student_ids.clone().unwrap_or_default();
    student_ids.sort_unstable();
    student_ids.dedup();
    if !is(NoticeScope::Form) && input.form_id.is_some() {
        v.add("form_id", "Only a notice to a class level names one.");
    }
    if !is(NoticeScope::Arm) && input.academic_class_id.is_some() {
        v.add(
            "academic_class_id",
            "Only a notice to a class arm names one.",
        );
    }
    if !is(NoticeScope::Pupils) && !student_ids.is_empty() {
        v.add("student_ids", "Only a notice to chosen pupils names them.");
    }
    if is(NoticeScope::Form) {
        match input.form_id {
            None => v.add("form_id", "Choose the class level."),
            Some(id) => {
                let found: bool =
                    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM forms WHERE id = $1)")
                        .bind(id)
                        .fetch_one(&mut *ctx.tx)
                        .await?;
                if !found {
                    v.add("form_id", "There is no such class level.");
                }
            }
        }
    }
    if is(NoticeScope::Arm) {
        match input.academic_class_id {
            None => v.add("academic_class_id", "Choose the class arm."),
            Some(id) => {
                let found: bool = sqlx::query_scalar(
                    "SELECT EXISTS (SELECT 1 FROM academic_classes WHERE id = $1)",
                )
                .bind(id)
                .fetch_one(&mut *ctx.tx)
                .await?;
                if !found {
                    v.add("academic_class_id", "There is no such class arm.");
                }
            }
        }
    }
    if is(NoticeScope::Pupils) {
        if student_ids.is_empty() {
            v.add("student_ids", "Choose at least one pupil.");
        } else if student_ids.len() > MAX_PUPILS {
            v.add(
                "student_ids",
                format!("Choose at most {MAX_PUPILS} pupils; use a class for more."),
            );
        } else {
            let found: i64 = sqlx::query_scalar("SELECT count(*) FROM students WHERE id = ANY($1)")
                .bind(&student_ids)
                .fetch_one(&mut *ctx.tx)
                .await?;
            if usize::try_from(found).unwrap_or_default() != student_ids.len() {
                v.add(
                    "student_ids",
                    "Some of these pupils are not in this school.",
                );
            }
        }
    }
    let for_parents = input.for_parents.unwrap_or(false);
    let for_staff = input.for_staff.unwrap_or(false);
    if !for_parents && !for_staff {
        v.add("for_parents", "Choose parents, staff or both.");
    }
    let needs_ack = input.needs_ack.unwrap_or(false);
    if needs_ack && !for_staff {
        v.add(
            "needs_ack",
            "Only staff acknowledge a notice: address it to staff too.",
        );
    }
    sane_moment(&mut v, "publish_at", input.publish_at);
    sane_moment(&mut v, "expires_at", input.expires_at);
    if let Some(expires) = input.expires_at
        && !v.has("expires_at")
    {
        if input.publish_at.is_some_and(|p| expires <= p) {
            v.add("expires_at", "Must be after the publish time.");
        } else if expires <= ctx.now {
            v.add("expires_at", "Must be in the future.");
        }
    }
    v.finish()?;
    let Some(scope) = scope else {
        return Err(AppError::field("scope", "This field is required."));
    };
    Ok(Valid {
        title,
        body,
        scope,
        form_id: input.form_id.filter(|_| is(NoticeScope::Form)),
        academic_class_id: input.academic_class_id.filter(|_| is(NoticeScope::Arm)),
        student_ids,
        for_parents,
        for_staff,
        pinned: input.pinned.unwrap_or(false),
        needs_ack,
        publish_at: input.publish_at,
        expires_at: input.expires_at,
    })
}

/// Checks an input without writing anything (a page collecting all its form's errors).
pub async fn check(ctx: &mut SchoolCtx, input: &NoticeInput) -> AppResult<()> {
    validate(ctx, input).await.map(|_| ())
}

/// A notice as its audit rows record it (without what depends on who reads).
fn snapshot(n: &Notice) -> Value {
    let mut value = serde_json::to_value(n).unwrap_or_default();
    if let Some(o) = value.as_object_mut() {
        for key in [
            "acknowledged",
            "acknowledgements",
            "updated_at",
            "author_name",
        ] {
            o.remove(key);
        }
    }
    value
}

async fn set_pupils(ctx: &mut SchoolCtx, id: i64, pupils: &[i64]) -> AppResult<()> {
    sqlx::query("DELETE FROM notice_pupils WHERE notice_id = $1")
        .bind(id)
        .execute(&mut *ctx.tx)
        .await?;
    if !pupils.is_empty() {
        sqlx::query(
            "INSERT INTO notice_pupils (notice_id, student_id) SELECT $1, unnest($2::bigint[])",
        )
        .bind(id)
        .bind(pupils)
        .execute(&mut *ctx.tx)
        .await?;
    }
    Ok(())
}

/// Writes a new draft.
pub async fn create(ctx: &mut SchoolCtx, input: &NoticeInput) -> AppResult<Notice> {
    let v = validate(ctx, input).await?;
    let id: i64 = bind_written(
        sqlx::query(
            "INSERT INTO notices (title, body, scope, form_id, academic_class_id, for_parents,
                for_staff, pinned, needs_ack, publish_at, expires_at, author_id, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13) RETURNING id",
        ),
        &v,
    )
    .bind(ctx.user.id)
    .bind(ctx.now)
    .fetch_one(&mut *ctx.tx)
    .await?
    .try_get("id")?;
    set_pupils(ctx, id, &v.student_ids).await?;
    audit_created(ctx, id).await
}

/// Binds the columns a draft's form writes (title … expires_at), in the order `create` and
/// `update` list them.
fn bind_written<'q>(
    query: Query<'q, Postgres, PgArguments>,
    v: &Valid,
) -> Query<'q, Postgres, PgArguments> {
    query
        .bind(&v.title)
        .bind(&v.body)
        .bind(v.scope.as_str())
        .bind(v.form_id)
        .bind(v.academic_class_id)
        .bind(v.for_parents)
        .bind(v.for_staff)
        .bind(v.pinned)
        .bind(v.needs_ack)
        .bind(v.publish_at)
        .bind(v.expires_at)
}

/// Reads back a notice just inserted and audits its creation.
async fn audit_created(ctx: &mut SchoolCtx, id: i64) -> AppResult<Notice> {
    let notice = fetch(ctx, id).await?;
    ctx.audit(
        "create",
        "notice",
        id,
        crate::audit::trail::created(&snapshot(&notice)),
    )
    .await?;
    Ok(notice)
}

/// Locks the notice's row for this change; 404 when it does not exist.
async fn lock(ctx: &mut SchoolCtx, id: i64) -> AppResult<db::NoticeStatus> {
    let status: Option<String> =
        sqlx::query_scalar("SELECT status FROM notices WHERE id = $1 FOR UPDATE")
            .bind(id)
            .fetch_optional(&mut *ctx.tx)
            .await?;
    let status = status.ok_or_else(AppError::not_found)?;
    db::NoticeStatus::parse(&status)
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("notice {id} has status {status}")))
}

/// Locks a draft; a published or withdrawn notice is a 409.
async fn lock_draft(ctx: &mut SchoolCtx, id: i64) -> AppResult<()> {
    match lock(ctx, id).await? {
        db::NoticeStatus::Draft => Ok(()),
        db::NoticeStatus::Published => Err(AppError::Conflict(
            "A published notice is never edited: withdraw it, or re-issue it as a new draft."
                .into(),
        )),
        db::NoticeStatus::Withdrawn => Err(AppError::Conflict(
            "A withdrawn notice is never edited: re-issue it as a new draft.".into(),
        )),
    }
}

/// Replaces a draft.
pub async fn update(ctx: &mut SchoolCtx, id: i64, input: &NoticeInput) -> AppResult<Notice> {
    lock_draft(ctx, id).await?;
    let before = fetch(ctx, id).await?;
    let v = validate(ctx, input).await?;
    bind_written(
        sqlx::query(
            "UPDATE notices SET title = $2, body = $3, scope = $4, form_id = $5,
                academic_class_id = $6, for_parents = $7, for_staff = $8, pinned = $9,
                needs_ack = $10, publish_at = $11, expires_at = $12, updated_at = $13
          WHERE id = $1 AND status = 'draft'",
        )
        .bind(id),
        &v,
    )
    .bind(ctx.now)
    .execute(&mut *ctx.tx)
    .await?;
    set_pupils(ctx, id, &v.student_ids).await?;
    let after = fetch(ctx, id).await?;
    ctx.audit(
        "update",
        "notice",
        id,
        crate::audit::trail::diff(&snapshot(&before), &snapshot(&after)),
    )
    .await?;
    Ok(after)
}

/// Deletes a draft (its pupils and attachment with it).
pub async fn delete(ctx: &mut SchoolCtx, id: i64) -> AppResult<()> {
    lock_draft(ctx, id).await?;
    let notice = fetch(ctx, id).await?;
    sqlx::query("DELETE FROM notices WHERE id = $1")
        .bind(id)
        .execute(&mut *ctx.tx)
        .await?;
    ctx.audit(
        "delete",
        "notice",
        id,
        json!({"deleted": snapshot(&notice)}),
    )
    .await
}

/// Publishes a draft: seen by its audience from its publish time (now, if that is empty or
/// past) until its expiry.
pub async fn publish(ctx: &mut SchoolCtx, id: i64) -> AppResult<Notice> {
    match lock(ctx, id).await? {
        db::NoticeStatus::Draft => {}
        _ => {
            return Err(AppError::Conflict(
                "Only a draft is published; this notice already was.".into(),
            ));
        }
    }
    let before = fetch(ctx, id).await?;
    let publish_at = before
        .publish_at
        .filter(|p| *p > ctx.now)
        .unwrap_or(ctx.now);
    if before.expires_at.is_some_and(|e| e <= publish_at) {
        return Err(AppError::field(
            "expires_at",
            "This notice would expire before it is seen: change its expiry first.",
        ));
    }
    if before.scope == NoticeScope::Pupils.as_str() && before.pupils.is_empty() {
        return Err(AppError::field(
            "student_ids",
            "None of its pupils is on the register any more: choose pupils first.",
        ));
    }
    sqlx::query(
        "UPDATE notices SET status = 'published', publish_at = $2, published_at = $3,
                published_by = $4, updated_at = $3
          WHERE id = $1 AND status = 'draft'",
    )
    .bind(id)
    .bind(publish_at)
    .bind(ctx.now)
    .bind(ctx.user.id)
    .execute(&mut *ctx.tx)
    .await?;
    ctx.audit(
        "publish",
        "notice",
        id,
        json!({"status": {"from": "draft", "to": "published"},
               "publish_at": {"from": before.publish_at, "to": publish_at}}),
    )
    .await?;
    fetch(ctx, id).await
}

/// Withdraws a published notice: nobody in its audience sees it any more.
pub async fn withdraw(ctx: &mut SchoolCtx, id: i64) -> AppResult<Notice> {
    match lock(ctx, id).await? {
        db::NoticeStatus::Published => {}
        db::NoticeStatus::Draft => {
            return Err(AppError::Conflict(
                "Only a published notice is withdrawn; delete a draft instead.".into(),
            ));
        }
        db::NoticeStatus::Withdrawn => {
            return Err(AppError::Conflict(
                "This notice has already been withdrawn.".into(),
            ));
        }
    }
    sqlx::query(
        "UPDATE notices SET status = 'withdrawn', withdrawn_at = $2, withdrawn_by = $3,
                updated_at = $2
          WHERE id = $1 AND status = 'published'",
    )
    .bind(id)
    .bind(ctx.now)
    .bind(ctx.user.id)
    .execute(&mut *ctx.tx)
    .await?;
    ctx.audit(
        "withdraw",
        "notice",
        id,
        json!({"status": {"from": "published", "to": "withdrawn"}}),
    )
    .await?;
    fetch(ctx, id).await
}

/// A new draft copied from a published or withdrawn notice (its audience, text, flags,
/// pupils and attachment; its publish time is left empty, its expiry kept only while still
/// ahead).
pub async fn reissue(ctx: &mut SchoolCtx, id: i64) -> AppResult<Notice> {
    if lock(ctx, id).await? == db::NoticeStatus::Draft {
        return Err(AppError::Conflict(
            "This notice is still a draft: edit it instead of re-issuing it.".into(),
        ));
    }
    let new_id: i64 = sqlx::query_scalar(
        "INSERT INTO notices (title, body, scope, form_id, academic_class_id, for_parents,
                for_staff, pinned, needs_ack, publish_at, expires_at, reissued_from, author_id,
                created_at, updated_at)
         SELECT title, body, scope, form_id, academic_class_id, for_parents, for_staff, pinned,
                needs_ack, NULL, CASE WHEN expires_at > $3 THEN expires_at END, id, $2, $3, $3
           FROM notices WHERE id = $1
         RETURNING id",
    )
    .bind(id)
    .bind(ctx.user.id)
    .bind(ctx.now)
    .fetch_one(&mut *ctx.tx)
    .await?;
    sqlx::query(
        "INSERT INTO notice_pupils (notice_id, student_id)
         SELECT $2, student_id FROM notice_pupils WHERE notice_id = $1",
    )
    .bind(id)
    .bind(new_id)
    .execute(&mut *ctx.tx)
    .await?;
    sqlx::query(
        "INSERT INTO notice_attachments (notice_id, filename, content_type, bytes, uploaded_at)
         SELECT $2, filename, content_type, bytes, $3 FROM notice_attachments WHERE notice_id = $1",
    )
    .bind(id)
    .bind(new_id)
    .bind(ctx.now)
    .execute(&mut *ctx.tx)
    .await?;
    audit_created(ctx, new_id).await
}

/// "I have read this": by a member of a live notice's staff audience, when it asks for it.
/// Twice counts once.
pub async fn acknowledge(ctx: &mut SchoolCtx, id: i64) -> AppResult<Notice> {
    let reader = reader(ctx);
    let notice = db::get(&mut ctx.tx, &reader, id).await?;
    if !db::in_staff_audience(&mut ctx.tx, ctx.user.id, ctx.now, id).await? {
        return Err(AppError::Conflict(
            "Only the staff a published notice is addressed to acknowledge it.".into(),
        ));
    }
    if !notice.needs_ack {
        return Err(AppError::Conflict(
            "This notice does not ask to be acknowledged.".into(),
        ));
    }
    sqlx::query(
        "INSERT INTO notice_acknowledgements (notice_id, user_id, acknowledged_at)
         VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
    )
    .bind(id)
    .bind(ctx.user.id)
    .bind(ctx.now)
    .execute(&mut *ctx.tx)
    .await?;
    db::get(&mut ctx.tx, &reader, id).await
}

/// Attaches a checked file to a draft, replacing any before it.
pub async fn attach(ctx: &mut SchoolCtx, id: i64, upload: Upload) -> AppResult<Notice> {
    lock_draft(ctx, id).await?;
    let size = upload.bytes.len();
    sqlx::query(
        "INSERT INTO notice_attachments (notice_id, filename, content_type, bytes, uploaded_at)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (notice_id) DO UPDATE
            SET filename = $2, content_type = $3, bytes = $4, uploaded_at = $5",
    )
    .bind(id)
    .bind(&upload.filename)
    .bind(upload.content_type)
    .bind(upload.bytes)
    .bind(ctx.now)
    .execute(&mut *ctx.tx)
    .await?;
    ctx.audit(
        "attach",
        "notice",
        id,
        json!({"attachment": {"filename": upload.filename, "content_type": upload.content_type, "size": size}}),
    )
    .await?;
    fetch(ctx, id).await
}

/// Removes a draft's attachment.
pub async fn detach(ctx: &mut SchoolCtx, id: i64) -> AppResult<Notice> {
    lock_draft(ctx, id).await?;
    let removed: Option<String> = sqlx::query_scalar(
        "DELETE FROM notice_attachments WHERE notice_id = $1 RETURNING filename",
    )
    .bind(id)
    .fetch_optional(&mut *ctx.tx)
    .await?;
    let filename =
        removed.ok_or_else(|| AppError::NotFound("This notice has no attachment.".into()))?;
    ctx.audit(
        "detach",
        "notice",
        id,
        json!({"attachment": {"from": filename, "to": null}}),
    )
    .await?;
    fetch(ctx, id).await
}

/// The attachment of a notice the user may read: (file name, type, bytes).
pub async fn attachment(ctx: &mut SchoolCtx, id: i64) -> AppResult<(String, String, Vec<u8>)> {
    fetch(ctx, id).await?;
    stored_attachment(ctx, id).await
}

/// The attachment of a notice addressed to a pupil's parents (for the parents' channel).
pub async fn pupil_attachment(
    ctx: &mut SchoolCtx,
    student_id: i64,
    id: i64,
) -> AppResult<(String, String, Vec<u8>)> {
    if !for_pupil(ctx, student_id).await?.iter().any(|n| n.id == id) {
        return Err(AppError::not_found());
    }
    stored_attachment(ctx, id).await
}

async fn stored_attachment(ctx: &mut SchoolCtx, id: i64) -> AppResult<(String, String, Vec<u8>)> {
    let row: Option<(String, String, Vec<u8>)> = sqlx::query_as(
        "SELECT filename, content_type, bytes FROM notice_attachments WHERE notice_id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *ctx.tx)
    .await?;
    row.ok_or_else(|| AppError::NotFound("This notice has no attachment.".into()))
}

/// The live notices for a pupil's parents; 404 for a pupil not in this school. Reading
/// them takes `view_students` as well as `view_notices`.
pub async fn for_pupil(ctx: &mut SchoolCtx, student_id: i64) -> AppResult<Vec<db::ParentNotice>> {
    if !ctx.perms.has("view_students") {
        return Err(AppError::Forbidden(
            "Your role does not allow you to view students (permission view_students). Ask an administrator if you need it.".into(),
        ));
    }
    crate::students::db::get(&mut ctx.tx, student_id).await?;
    Ok(db::for_pupil_parents(&mut ctx.tx, student_id, ctx.now).await?)
}

/// The live notices addressed to this user as staff (pinned first, newest first), at most
/// `limit`; none without `view_notices`. Whoever manages notices sees here only those
/// addressed to them.
pub async fn staff_notices(ctx: &mut SchoolCtx, limit: i64) -> AppResult<Vec<Notice>> {
    if !ctx.perms.has("view_notices") {
        return Ok(Vec::new());
    }
    let reader = Reader {
        manages: false,
        ..reader(ctx)
    };
    let (rows, _) = db::list(
        &mut ctx.tx,
        &reader,
        &db::NoticeFilter::default(),
        None,
        db::DEFAULT_ORDER,
        limit,
        0,
    )
    .await?;
    Ok(rows)
}
