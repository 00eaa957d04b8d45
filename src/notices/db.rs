//! The notices' SQL: one notice as its readers see it, the list with its filters, and the
//! audience rules as SQL (who may read a notice, which notices reach a pupil's parents).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{FromRow, PgConnection};
use utoipa::ToSchema;

use crate::error::{AppError, AppResult};

crate::text_enum::text_enum! {
    /// `draft` (editable, seen by those who manage notices only), `published` (seen by its
    /// audience from `publish_at` until `expires_at`; never edited), `withdrawn`.
    pub enum NoticeStatus {
        Draft = "draft",
        Published = "published",
        Withdrawn = "withdrawn",
    }
}

crate::text_enum::text_enum! {
    /// Who the notice is about: the whole school, a class level (`form_id`), a class arm of a
    /// session (`academic_class_id`) or chosen pupils (`student_ids`).
    pub enum NoticeScope {
        School = "school",
        Form = "form",
        Arm = "arm",
        Pupils = "pupils",
    }
}

crate::text_enum::text_enum! {
    /// Who reads it: parents, staff.
    pub enum NoticeAudience {
        Parents = "parents",
        Staff = "staff",
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct NoticePupil {
    pub id: i64,
    pub full_name: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AttachmentInfo {
    pub filename: String,
    /// `application/pdf`, `image/jpeg`, `image/png` or `image/webp` (read from the content).
    pub content_type: String,
    pub size: i64,
}

/// A notice as its reader may see it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Notice {
    pub id: i64,
    pub title: String,
    /// Plain text; line breaks are kept.
    pub body: String,
    #[schema(value_type = NoticeStatus)]
    pub status: String,
    #[schema(value_type = NoticeScope)]
    pub scope: String,
    pub form_id: Option<i64>,
    pub form_name: Option<String>,
    pub academic_class_id: Option<i64>,
    pub class_name: Option<String>,
    /// The chosen pupils (`scope` `pupils`), else empty.
    pub pupils: Vec<NoticePupil>,
    pub for_parents: bool,
    pub for_staff: bool,
    pub pinned: bool,
    /// Staff are asked to acknowledge it.
    pub needs_ack: bool,
    /// Seen from this moment (set when published if left empty).
    pub publish_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    /// The notice this one was re-issued from.
    pub reissued_from: Option<i64>,
    pub author_id: Option<i64>,
    pub author_name: Option<String>,
    pub published_at: Option<DateTime<Utc>>,
    pub withdrawn_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub attachment: Option<AttachmentInfo>,
    /// Whether the signed-in user has acknowledged it.
    pub acknowledged: bool,
    /// How many staff acknowledged it: shown to its author and to those who may change
    /// notices, else null.
    pub acknowledgements: Option<i64>,
}

#[derive(FromRow)]
struct NoticeRow {
    id: i64,
    title: String,
    body: String,
    status: String,
    scope: String,
    form_id: Option<i64>,
    form_name: Option<String>,
    academic_class_id: Option<i64>,
    class_name: Option<String>,
    #[sqlx(json)]
    pupils: Vec<NoticePupil>,
    for_parents: bool,
    for_staff: bool,
    pinned: bool,
    needs_ack: bool,
    publish_at: Option<DateTime<Utc>>,
    expires_at: Option<DateTime<Utc>>,
    reissued_from: Option<i64>,
    author_id: Option<i64>,
    author_name: Option<String>,
    published_at: Option<DateTime<Utc>>,
    withdrawn_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    attachment_filename: Option<String>,
    attachment_type: Option<String>,
    attachment_size: Option<i64>,
    acknowledged: bool,
    acknowledgements: i64,
}

impl NoticeRow {
    fn into_notice(self, reader: &Reader) -> Notice {
        let sees_count = reader.may_change || self.author_id == Some(reader.user_id);
        let attachment = match (self.attachment_filename, self.attachment_type) {
            (Some(filename), Some(content_type)) => Some(AttachmentInfo {
                filename,
                content_type,
                size: self.attachment_size.unwrap_or_default(),
            }),
            _ => None,
        };
        Notice {
            id: self.id,
            title: self.title,
            body: self.body,
            status: self.status,
            scope: self.scope,
            form_id: self.form_id,
            form_name: self.form_name,
            academic_class_id: self.academic_class_id,
            class_name: self.class_name,
            pupils: self.pupils,
            for_parents: self.for_parents,
            for_staff: self.for_staff,
            pinned: self.pinned,
            needs_ack: self.needs_ack,
            publish_at: self.publish_at,
            expires_at: self.expires_at,
            reissued_from: self.reissued_from,
            author_id: self.author_id,
            author_name: self.author_name,
            published_at: self.published_at,
            withdrawn_at: self.withdrawn_at,
            created_at: self.created_at,
            updated_at: self.updated_at,
            attachment,
            acknowledged: self.acknowledged,
            acknowledgements: sees_count.then_some(self.acknowledgements),
        }
    }
}

/// Who is reading, and so which notices they may see.
#[derive(Debug, Clone, Copy)]
pub struct Reader {
    pub user_id: i64,
    /// Holds `add_notices` or `change_notices`: reads every notice, drafts included.
    pub manages: bool,
    /// Holds `change_notices`: sees acknowledgement counts of every notice.
    pub may_change: bool,
    pub now: DateTime<Utc>,
}

/// `$1` is the reader's user id, `$2` the moment.
const COLUMNS: &str = "n.id, n.title, n.body, n.status, n.scope, n.form_id, f.name AS form_name,
    n.academic_class_id, c.name AS class_name,
    COALESCE((SELECT json_agg(json_build_object('id', s.id,
                  'full_name', s.first_name || ' ' || s.last_name) ORDER BY s.last_name, s.first_name, s.id)
                FROM notice_pupils np JOIN students s ON s.id = np.student_id
               WHERE np.notice_id = n.id), '[]'::json) AS pupils,
    n.for_parents, n.for_staff, n.pinned, n.needs_ack, n.publish_at, n.expires_at,
    n.reissued_from, n.author_id, u.full_name AS author_name, n.published_at, n.withdrawn_at,
    n.created_at, n.updated_at,
    a.filename AS attachment_filename, a.content_type AS attachment_type,
    octet_length(a.bytes)::bigint AS attachment_size,
    EXISTS (SELECT 1 FROM notice_acknowledgements k WHERE k.notice_id = n.id AND k.user_id = $1) AS acknowledged,
    (SELECT count(*) FROM notice_acknowledgements k WHERE k.notice_id = n.id) AS acknowledgements";

const FROM: &str = "FROM notices n
    LEFT JOIN forms f ON f.id = n.form_id
    LEFT JOIN academic_classes ac0 ON ac0.id = n.academic_class_id
    LEFT JOIN classes c ON c.id = ac0.class_id
    LEFT JOIN public.users u ON u.id = n.author_id
    LEFT JOIN notice_attachments a ON a.notice_id = n.id";

/// Live: published and between its publish time and its expiry (`$2` is now).
pub const LIVE: &str = "n.status = 'published' AND n.publish_at <= $2
    AND (n.expires_at IS NULL OR n.expires_at > $2)";

/// The arm `ac` is taught by user `$1` (class teacher or a subject's teacher).
const TEACHES: &str =
    "(ac.class_teacher_id = $1 OR EXISTS (SELECT 1 FROM academic_class_subjects acs
    WHERE acs.academic_class_id = ac.id AND acs.teacher_id = $1))";

/// The staff audience of notice `n` holds user `$1`: everyone for a whole-school notice;
/// for a class level, an arm or chosen pupils, the staff who teach there this session (the
/// class teacher or a subject teacher of the arm, of an arm of the level, or of a chosen
/// pupil's arm).
fn staff_audience() -> String {
    format!(
        "n.for_staff AND (n.scope = 'school'
        OR (n.scope = 'form' AND EXISTS (SELECT 1 FROM academic_classes ac
              JOIN classes cl ON cl.id = ac.class_id
              JOIN academic_sessions se ON se.id = ac.session_id AND se.is_current
             WHERE cl.form_id = n.form_id AND {TEACHES}))
        OR (n.scope = 'arm' AND EXISTS (SELECT 1 FROM academic_classes ac
             WHERE ac.id = n.academic_class_id AND {TEACHES}))
        OR (n.scope = 'pupils' AND EXISTS (SELECT 1 FROM notice_pupils np
              JOIN registrations r ON r.student_id = np.student_id AND r.is_current
              JOIN academic_classes ac ON ac.id = r.academic_class_id
              JOIN academic_sessions se ON se.id = ac.session_id AND se.is_current
             WHERE np.notice_id = n.id AND {TEACHES})))"
    )
}

/// What a reader who does not manage notices may read: live notices whose staff audience
/// holds them.
fn readable_by_staff() -> String {
    format!("{LIVE} AND {}", staff_audience())
}

/// One notice as `reader` may see it; 404 when it does not exist or is not theirs to read
/// (the same answer, so ids do not leak).
pub async fn get(conn: &mut PgConnection, reader: &Reader, id: i64) -> AppResult<Notice> {
    let visible = if reader.manages {
        "TRUE".to_owned()
    } else {
        readable_by_staff()
    };
    let row: Option<NoticeRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} {FROM} WHERE n.id = $3 AND {visible}"
    )))
    .bind(reader.user_id)
    .bind(reader.now)
    .bind(id)
    .fetch_optional(conn)
    .await?;
    row.map(|r| r.into_notice(reader))
        .ok_or_else(AppError::not_found)
}

/// Whether user `$1` is in the staff audience of live notice `id` (may acknowledge it).
pub async fn in_staff_audience(
    conn: &mut PgConnection,
    user_id: i64,
    now: DateTime<Utc>,
    id: i64,
) -> sqlx::Result<bool> {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT EXISTS (SELECT 1 FROM notices n WHERE n.id = $3 AND {})",
        readable_by_staff()
    )))
    .bind(user_id)
    .bind(now)
    .bind(id)
    .fetch_one(conn)
    .await
}

/// Filters of the list.
#[derive(Debug, Default, Clone, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NoticeFilter {
    /// `draft`, `published` or `withdrawn`.
    #[param(value_type = Option<NoticeStatus>)]
    pub status: Option<String>,
    /// `parents` or `staff`: notices addressed to them.
    #[param(value_type = Option<NoticeAudience>)]
    pub audience: Option<String>,
    /// `school`, `form`, `arm` or `pupils`.
    #[param(value_type = Option<NoticeScope>)]
    pub scope: Option<String>,
    /// Only notices seen now (published, past their publish time, not expired).
    pub live: Option<bool>,
}

/// The list's default order: drafts first, then pinned, then newest.
pub const DEFAULT_ORDER: &str = "(n.status = 'draft') DESC, n.pinned DESC, COALESCE(n.publish_at, n.created_at) DESC, n.id DESC";

/// `?ordering=` names the list accepts.
pub const ORDERINGS: &[(&str, &[&str])] = &[
    ("publish_at", &["n.publish_at", "n.id"]),
    ("created_at", &["n.created_at", "n.id"]),
    ("title", &["lower(n.title)", "n.id"]),
];

/// A page of the notices `reader` may read, pinned first, newest first; and the count.
pub async fn list(
    conn: &mut PgConnection,
    reader: &Reader,
    filter: &NoticeFilter,
    search: Option<&str>,
    order: &str,
    limit: i64,
    offset: i64,
) -> AppResult<(Vec<Notice>, i64)> {
    let mut conditions: Vec<String> = Vec::new();
    if !reader.manages {
        conditions.push(readable_by_staff());
    }
    // $1 user, $2 now; then the filters' own parameters.
    let mut next = 3;
    let mut status = None;
    if let Some(s) = filter.status.as_deref().filter(|s| !s.is_empty()) {
        let parsed = NoticeStatus::parse(s)
            .ok_or_else(|| AppError::field("status", "Use draft, published or withdrawn."))?;
        conditions.push(format!("n.status = ${next}"));
        next += 1;
        status = Some(parsed.as_str());
    }
    let mut scope = None;
    if let Some(s) = filter.scope.as_deref().filter(|s| !s.is_empty()) {
        let parsed = NoticeScope::parse(s)
            .ok_or_else(|| AppError::field("scope", "Use school, form, arm or pupils."))?;
        conditions.push(format!("n.scope = ${next}"));
        next += 1;
        scope = Some(parsed.as_str());
    }
    match filter.audience.as_deref().filter(|s| !s.is_empty()) {
        None => {}
        Some(a) => match NoticeAudience::parse(a) {
            Some(NoticeAudience::Parents) => conditions.push("n.for_parents".into()),
            Some(NoticeAudience::Staff) => conditions.push("n.for_staff".into()),
            None => return Err(AppError::field("audience", "Use parents or staff.")),
        },
    }
    if filter.live == Some(true) {
        conditions.push(LIVE.to_owned());
    }
    if search.is_some() {
        conditions.push(format!("(n.title ILIKE ${next} OR n.body ILIKE ${next})"));
        next += 1;
    }
    let where_sql = if conditions.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", conditions.join(" AND "))
    };
    // Both statements bind $1 and $2 (typed by the client), used or not.
    let count_sql = format!("SELECT count(*) FROM notices n {where_sql}");
    let rows_sql = format!(
        "SELECT {COLUMNS} {FROM} {where_sql} ORDER BY {order} LIMIT ${next} OFFSET ${}",
        next + 1
    );
    let mut count_q = sqlx::query_scalar(sqlx::AssertSqlSafe(count_sql))
        .bind(reader.user_id)
        .bind(reader.now);
    let mut rows_q = sqlx::query_as::<_, NoticeRow>(sqlx::AssertSqlSafe(rows_sql))
        .bind(reader.user_id)
        .bind(reader.now);
    for value in [status, scope].into_iter().flatten() {
        count_q = count_q.bind(value);
        rows_q = rows_q.bind(value);
    }
    if let Some(pattern) = search {
        count_q = count_q.bind(pattern.to_owned());
        rows_q = rows_q.bind(pattern.to_owned());
    }
    let count: i64 = count_q.fetch_one(&mut *conn).await?;
    let rows = rows_q
        .bind(limit)
        .bind(offset)
        .fetch_all(&mut *conn)
        .await?;
    Ok((
        rows.into_iter().map(|r| r.into_notice(reader)).collect(),
        count,
    ))
}

/// A notice as a pupil's parents receive it.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct ParentNotice {
    pub id: i64,
    pub title: String,
    /// Plain text; line breaks are kept.
    pub body: String,
    pub pinned: bool,
    pub publish_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    /// Whom it addresses: the whole school, the pupil's class level or arm, or the pupil
    /// by name (`school`, `form`, `arm`, `pupils`).
    #[schema(value_type = NoticeScope)]
    pub scope: String,
    pub has_attachment: bool,
}

/// The live notices addressed to the parents of `student_id`: whole school, the pupil's
/// class level or arm in the current session (by their current registration), or the pupil
/// chosen by name. Pinned first, newest first.
pub async fn for_pupil_parents(
    conn: &mut PgConnection,
    student_id: i64,
    now: DateTime<Utc>,
) -> sqlx::Result<Vec<ParentNotice>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "WITH reg AS (
            SELECT r.academic_class_id, cl.form_id FROM registrations r
              JOIN academic_classes ac ON ac.id = r.academic_class_id
              JOIN academic_sessions se ON se.id = ac.session_id AND se.is_current
              JOIN classes cl ON cl.id = ac.class_id
             WHERE r.student_id = $1 AND r.is_current)
         SELECT n.id, n.title, n.body, n.pinned, n.publish_at, n.expires_at, n.scope,
                EXISTS (SELECT 1 FROM notice_attachments a WHERE a.notice_id = n.id) AS has_attachment
           FROM notices n
          WHERE {LIVE} AND n.for_parents AND (n.scope = 'school'
             OR (n.scope = 'form' AND n.form_id IN (SELECT form_id FROM reg))
             OR (n.scope = 'arm' AND n.academic_class_id IN (SELECT academic_class_id FROM reg))
             OR (n.scope = 'pupils' AND EXISTS (SELECT 1 FROM notice_pupils np
                   WHERE np.notice_id = n.id AND np.student_id = $1)))
          ORDER BY n.pinned DESC, n.publish_at DESC, n.id DESC"
    )))
    .bind(student_id)
    .bind(now)
    .fetch_all(conn)
    .await
}

/// Who acknowledged a notice and when, earliest first.
pub async fn acknowledgers(
    conn: &mut PgConnection,
    id: i64,
) -> sqlx::Result<Vec<(String, DateTime<Utc>)>> {
    sqlx::query_as(
        "SELECT COALESCE(u.full_name, 'A former account'), k.acknowledged_at
           FROM notice_acknowledgements k LEFT JOIN public.users u ON u.id = k.user_id
          WHERE k.notice_id = $1 ORDER BY k.acknowledged_at, k.user_id",
    )
    .bind(id)
    .fetch_all(conn)
    .await
}

/// The class levels (id, name) for the audience chooser.
pub async fn form_options(conn: &mut PgConnection) -> sqlx::Result<Vec<(i64, String)>> {
    sqlx::query_as("SELECT id, name FROM forms ORDER BY ordinal, lower(name), id")
        .fetch_all(conn)
        .await
}
